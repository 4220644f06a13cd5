//! False spikes on steady volume, and planted bursts caught (issue 25):
//! `feedwatch::triggers` (the rule the daemon applies) over synthetic
//! topics whose items arrive as a Poisson process with a daily rhythm.
//!
//! Each topic has a mean rate (items per hour) modulated by a daily
//! rhythm, `rate × (1 + a × sin(2π (h − 8) / 24))`, busiest at 14:00 UTC,
//! quietest at 02:00 (a = 0.8), and on weekends at 60%. 45 days are
//! simulated minute by minute: 15 before, then 30 measured, judged
//! every minute (the daemon judges every 15 s; a minute between two
//! evaluations changes little) with the sliding window `(now − 1h, now]`
//! against the same hour of the previous 14 days, as `trigger = "spike"`
//! does. An episode (notice) begins with a spiking verdict when none is
//! open and ends after a whole window without one (as the daemon's
//! episodes do), or at once (for comparison). Reported: episodes per topic per week on steady
//! volume. Then a burst of 5× the topic's usual hourly volume is planted
//! (spread over 20 minutes, at a random time in the measured days) and
//! the time until a verdict spikes is reported.
//!
//! ```sh
//! cargo run --release --example spike_eval [TOPICS_PER_RATE] [SEED]
//! ```

use feedwatch::triggers::{judge, SpikeRule};

const MINUTES_PER_DAY: usize = 1440;
/// Days before the measured ones: the 14 of the baseline and one more.
const BASELINE_DAYS: usize = 15;
const MEASURED_DAYS: usize = 30;
const AMPLITUDE: f64 = 0.8;
const WEEKEND: f64 = 0.6;

/// Items per minute of a topic with mean `rate` items per hour, at minute
/// `m` of the simulation (day 0 a Monday).
fn intensity(rate: f64, m: usize) -> f64 {
    let day = m / MINUTES_PER_DAY;
    let hour = (m % MINUTES_PER_DAY) as f64 / 60.0;
    let rhythm = 1.0 + AMPLITUDE * (2.0 * std::f64::consts::PI * (hour - 8.0) / 24.0).sin();
    let week = if day % 7 >= 5 { WEEKEND } else { 1.0 };
    rate / 60.0 * rhythm * week
}

/// A Poisson draw (Knuth's method; the means here are small).
fn poisson(lambda: f64, rng: &mut fastrand::Rng) -> u64 {
    let limit = (-lambda).exp();
    let (mut k, mut p) = (0, 1.0);
    loop {
        p *= rng.f64();
        if p <= limit {
            return k;
        }
        k += 1;
    }
}

/// Items per minute over the whole simulation.
fn minutes(rate: f64, rng: &mut fastrand::Rng) -> Vec<u64> {
    let total = (BASELINE_DAYS + MEASURED_DAYS) * MINUTES_PER_DAY;
    (0..total).map(|m| poisson(intensity(rate, m), rng)).collect()
}

/// The verdicts at the ends of minutes `from..to`: whether each spikes.
/// With `every` > 1, only every `every`th minute is judged (aligned to
/// multiples of it), the others repeat the last verdict.
fn verdicts(rule: &SpikeRule, counts: &[u64], from: usize, to: usize, every: usize) -> Vec<bool> {
    let window = (rule.window.as_secs() / 60) as usize;
    let step = (rule.step_secs() / 60) as usize;
    let n = rule.baseline_windows() as usize;
    // prefix[m] = items in minutes 0..m.
    let mut prefix = vec![0u64; counts.len() + 1];
    for (m, c) in counts.iter().enumerate() {
        prefix[m + 1] = prefix[m] + c;
    }
    // The window ending with minute `end` (exclusive) holds minutes end-window..end.
    let in_window = |end: usize| prefix[end] - prefix[end - window];
    let mut last = false;
    (from..to)
        .map(|end| {
            let end = end + 1;
            if end % every == 0 {
                let baseline: Vec<u64> = (1..=n).map(|k| in_window(end - k * step)).collect();
                last = judge(rule, in_window(end), &baseline).spiking;
            }
            last
        })
        .collect()
}

/// Episodes among a minute's verdicts: one begins with a spiking verdict
/// when none is open; it ends once `quiet` minutes have passed without one.
fn episodes(verdicts: &[bool], quiet: usize) -> usize {
    let mut last_spike: Option<usize> = None;
    let mut count = 0;
    for (m, &v) in verdicts.iter().enumerate() {
        let open = last_spike.is_some_and(|l| m - l <= quiet);
        if v {
            if !open {
                count += 1;
            }
            last_spike = Some(m);
        }
    }
    count
}

fn main() {
    let mut args = std::env::args().skip(1);
    let per_rate: usize = args.next().map_or(20, |s| s.parse().expect("TOPICS_PER_RATE"));
    let seed: u64 = args.next().map_or(25, |s| s.parse().expect("SEED"));
    let mut rng = fastrand::Rng::with_seed(seed);
    let defaults = SpikeRule::default();
    let with = |min_items: u32, sigma: f64, factor: f64| SpikeRule {
        min_items,
        sigma,
        factor,
        ..defaults
    };
    let rules = [
        (
            "the issue's proposal (min 5, 3σ, 3×), an episode ending as soon as a verdict is under",
            with(5, 3.0, 3.0),
            1,
            1,
        ),
        (
            "min 5, 3σ, 3×, an episode ending after a quiet window",
            with(5, 3.0, 3.0),
            1,
            60,
        ),
        ("min 8, 4σ, 3×, quiet window", with(8, 4.0, 3.0), 1, 60),
        ("min 8, 5σ, 3×, quiet window", with(8, 5.0, 3.0), 1, 60),
        ("the defaults (min 10, 5σ, 3×, quiet window)", defaults, 1, 60),
    ];
    let weeks = MEASURED_DAYS as f64 / 7.0;
    println!(
        "{per_rate} topics per rate, {MEASURED_DAYS} measured days after {BASELINE_DAYS} of baseline, \
         daily rhythm ±{:.0}%, weekends {:.0}%, judged every minute, seed {seed}\n",
        AMPLITUDE * 100.0,
        WEEKEND * 100.0
    );
    for (label, rule, every, quiet) in rules {
        println!("rule: {label}\n");
        println!("| mean items/hour | false notices per topic per week | topics with any | 5× burst caught | median minutes to catch |");
        println!("|---:|---:|---:|---:|---:|");
        for rate in [0.05, 0.2, 1.0, 2.0, 5.0, 20.0, 100.0] {
            let mut false_episodes = 0;
            let mut noisy = 0;
            let mut caught = 0;
            let mut delays = Vec::new();
            for _ in 0..per_rate {
                let mut counts = minutes(rate, &mut rng);
                let measured = BASELINE_DAYS * MINUTES_PER_DAY;
                let found = episodes(&verdicts(&rule, &counts, measured, counts.len(), every), quiet);
                false_episodes += found;
                noisy += usize::from(found > 0);
                // Plant a burst: 5× the topic's usual volume of the hour,
                // over 20 minutes, at a random minute of the measured days.
                let start =
                    BASELINE_DAYS * MINUTES_PER_DAY + rng.usize(0..(MEASURED_DAYS - 1) * MINUTES_PER_DAY);
                let usual: f64 = (0..60).map(|m| intensity(rate, start + m)).sum();
                let burst = (5.0 * usual).round().max(1.0) as u64;
                for i in 0..burst {
                    counts[start + (i as usize * 20 / burst as usize)] += 1;
                }
                let after = verdicts(&rule, &counts, start, start + 120, every);
                if let Some(m) = after.iter().position(|&v| v) {
                    if m <= 60 {
                        caught += 1;
                        delays.push(m);
                    }
                }
            }
            delays.sort_unstable();
            let median = delays
                .get(delays.len() / 2)
                .map_or("-".to_string(), |m| m.to_string());
            println!(
                "| {rate} | {:.3} | {noisy}/{per_rate} | {caught}/{per_rate} | {median} |",
                false_episodes as f64 / per_rate as f64 / weeks
            );
        }
        println!();
    }
}
