//! What makes a `spike` or `story` alert fire, as pure functions of counts
//! and copies the store hands over (no IO, no clock: `now` is an argument).
//!
//! **Spike.** A topic's items (by `sort_at`: publication time, else first
//! seen) in the window `(now - window, now]` against the same window in
//! the baseline: the windows ending `k` steps before now, `k = 1..=n`. The
//! step is one day when the window is at most a day and the baseline spans
//! at least two days (so an hour is compared with the same hour of the
//! previous days, and a topic's daily rhythm is not a spike), else the
//! window itself (back-to-back windows); `n = baseline / step`. A spike is
//! a count at or above `min_items`, `mean + sigma × stdev` and `factor ×
//! mean`, where the standard deviation is at least `√mean` (the Poisson
//! noise of a count with that mean; a baseline of few windows
//! underestimates it). A spike episode begins with a count at or above the
//! threshold and ends once the count has stayed under it for a whole
//! window; it is reported once. The defaults (10 items, 5σ, 3×) are tuned
//! by `examples/spike_eval.rs` (BENCHMARKS.md, "Spike alerts"): steady
//! topics of any volume give under one false spike per topic per month,
//! and a burst of five times a topic's usual hour is caught within the
//! window once it is at least `min_items`.
//!
//! **Story.** A story whose copies (among items matching the alert's
//! topics) reach `min_outlets` distinct outlets within `within` of its
//! first copy.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};

/// A `trigger = "spike"` alert's settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SpikeRule {
    pub window: Duration,
    pub baseline: Duration,
    pub min_items: u32,
    pub sigma: f64,
    pub factor: f64,
}

impl Default for SpikeRule {
    fn default() -> Self {
        SpikeRule {
            window: Duration::from_secs(3600),
            baseline: Duration::from_secs(14 * 86_400),
            min_items: 10,
            sigma: 5.0,
            factor: 3.0,
        }
    }
}

const DAY: u64 = 86_400;

impl SpikeRule {
    /// Seconds between the ends of consecutive baseline windows.
    pub fn step_secs(&self) -> u64 {
        let window = self.window.as_secs().max(1);
        if window <= DAY && self.baseline.as_secs() >= 2 * DAY {
            DAY
        } else {
            window
        }
    }

    /// Number of baseline windows.
    pub fn baseline_windows(&self) -> u64 {
        self.baseline.as_secs() / self.step_secs()
    }

    /// What the store counts: per topic, items `d` seconds old (`now -
    /// sort_at`, `0 <= d`) with `d % step < window`, grouped by `d / step`
    /// (0: the current window), for `d / step <= baseline_windows`.
    pub fn buckets(&self) -> Buckets {
        Buckets {
            window_secs: self.window.as_secs().max(1),
            step_secs: self.step_secs(),
            windows: self.baseline_windows() + 1,
        }
    }
}

/// The windows a spike evaluation counts (see [`SpikeRule::buckets`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Buckets {
    pub window_secs: u64,
    pub step_secs: u64,
    /// The current window and the baseline's.
    pub windows: u64,
}

impl Buckets {
    /// Whether the windows follow one another without gaps (then one
    /// range of times covers them all).
    pub fn contiguous(&self) -> bool {
        self.step_secs <= self.window_secs
    }

    /// The windows as time ranges `(k, after, up_to)`: window `k` holds
    /// the items of times in `(after, up_to]`.
    pub fn ranges(&self, now: DateTime<Utc>) -> Vec<(i64, DateTime<Utc>, DateTime<Utc>)> {
        (0..self.windows as i64)
            .map(|k| {
                let end = now - chrono::Duration::seconds(k * self.step_secs as i64);
                (k, end - chrono::Duration::seconds(self.window_secs as i64), end)
            })
            .collect()
    }

    /// The oldest time counted: the start of the oldest window.
    pub fn since(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        let back = (self.windows - 1) * self.step_secs + self.window_secs;
        now - chrono::Duration::seconds(back as i64)
    }
}

/// A `trigger = "story"` alert's settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StoryRule {
    pub min_outlets: u32,
    pub within: Duration,
}

impl Default for StoryRule {
    fn default() -> Self {
        StoryRule {
            min_outlets: 3,
            within: Duration::from_secs(2 * 3600),
        }
    }
}

/// A story first copied longer ago than this is not breaking news, however
/// many outlets carried it (copies older than this are not looked at).
pub const STORY_HORIZON: Duration = Duration::from_secs(86_400);

/// One topic's verdict for the current window.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    pub count: u64,
    pub mean: f64,
    pub stdev: f64,
    /// The count at or above which the window is a spike.
    pub threshold: f64,
    /// `count / mean`; `None` when the baseline is empty.
    pub ratio: Option<f64>,
    pub spiking: bool,
}

/// Judges `current` against the baseline windows' counts (`baseline[0]`
/// the most recent).
pub fn judge(rule: &SpikeRule, current: u64, baseline: &[u64]) -> Verdict {
    let n = baseline.len().max(1) as f64;
    let mean = baseline.iter().sum::<u64>() as f64 / n;
    let variance = baseline.iter().map(|&c| (c as f64 - mean).powi(2)).sum::<f64>() / n;
    let stdev = variance.sqrt();
    let noise = stdev.max(mean.sqrt());
    let threshold = f64::from(rule.min_items)
        .max(mean + rule.sigma * noise)
        .max(rule.factor * mean);
    Verdict {
        count: current,
        mean,
        stdev,
        threshold,
        ratio: (mean > 0.0).then(|| current as f64 / mean),
        spiking: current as f64 >= threshold,
    }
}

/// Counts per window (index 0 the current window, then the baseline's,
/// most recent first) from the store's `(bucket, count)` rows.
pub fn series(buckets: &Buckets, rows: &[(i64, i64)]) -> Vec<u64> {
    let mut out = vec![0u64; buckets.windows as usize];
    for &(bucket, count) in rows {
        if let Some(slot) = usize::try_from(bucket).ok().and_then(|b| out.get_mut(b)) {
            *slot += count.max(0) as u64;
        }
    }
    out
}

/// Judges a topic from its [`series`].
pub fn judge_series(rule: &SpikeRule, series: &[u64]) -> Verdict {
    let (current, baseline) = series.split_first().map_or((0, &[][..]), |(c, b)| (*c, b));
    judge(rule, current, baseline)
}

/// What an episode does after a verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EpisodeStep {
    /// A new episode begins (to be reported).
    Open,
    /// The open episode is still at or above the threshold (already
    /// reported).
    Continue,
    /// The open episode is under the threshold, not yet for a whole window.
    Hold,
    /// The volume has stayed under the threshold for a whole window: the
    /// episode ends.
    Close,
    /// Nothing happening.
    Quiet,
}

/// The episode rule: `last_spike` is when the open episode (if any) was
/// last at or above the threshold; it ends once `quiet` (the window) has
/// passed since without a spiking verdict, so a count wavering around the
/// threshold is one episode, not many.
pub fn episode_step(
    last_spike: Option<DateTime<Utc>>,
    spiking: bool,
    now: DateTime<Utc>,
    quiet: Duration,
) -> EpisodeStep {
    let quiet = chrono::Duration::from_std(quiet).unwrap_or(chrono::Duration::MAX);
    match (last_spike, spiking) {
        (None, true) => EpisodeStep::Open,
        (None, false) => EpisodeStep::Quiet,
        (Some(_), true) => EpisodeStep::Continue,
        (Some(last), false) if now - last >= quiet => EpisodeStep::Close,
        (Some(_), false) => EpisodeStep::Hold,
    }
}

/// One outlet carrying one copy of a story, as the store lists them.
#[derive(Debug, Clone, PartialEq)]
pub struct Copy {
    pub story_id: i64,
    pub headline: String,
    pub outlet: String,
    /// When the outlet carried it: the item's publication time (else first
    /// seen) for its first feed, when another feed first listed it for
    /// that feed.
    pub at: DateTime<Utc>,
}

/// A story that broke: carried by enough outlets soon enough.
#[derive(Debug, Clone, PartialEq)]
pub struct Breaking {
    pub story_id: i64,
    pub headline: String,
    /// The outlets within `within` of the first copy, in the order they
    /// carried it (the first outlet first).
    pub outlets: Vec<String>,
    pub first_seen: DateTime<Utc>,
    /// From the first copy to the last outlet counted.
    pub within_seconds: i64,
}

/// The stories among `copies` that reached `min_outlets` outlets within
/// `within` of their first copy, by first copy.
pub fn breaking(rule: &StoryRule, copies: &[Copy]) -> Vec<Breaking> {
    let mut by_story: BTreeMap<i64, Vec<&Copy>> = BTreeMap::new();
    for copy in copies {
        by_story.entry(copy.story_id).or_default().push(copy);
    }
    let within = chrono::Duration::from_std(rule.within).unwrap_or(chrono::Duration::MAX);
    let mut out = Vec::new();
    for (story_id, mut copies) in by_story {
        copies.sort_by(|a, b| (a.at, &a.outlet).cmp(&(b.at, &b.outlet)));
        let first = copies[0].at;
        let mut outlets: Vec<String> = Vec::new();
        let mut last = first;
        for copy in copies.iter().take_while(|c| c.at - first <= within) {
            if !outlets.contains(&copy.outlet) {
                outlets.push(copy.outlet.clone());
                last = copy.at;
            }
        }
        if outlets.len() >= rule.min_outlets as usize {
            out.push(Breaking {
                story_id,
                headline: copies[0].headline.clone(),
                outlets,
                first_seen: first,
                within_seconds: (last - first).num_seconds(),
            });
        }
    }
    out.sort_by_key(|b| (b.first_seen, b.story_id));
    out
}

/// "38 minutes", "2 hours 5 minutes", "45 seconds": a span for people.
pub fn span_words(seconds: i64) -> String {
    let s = seconds.max(0);
    let plural = |n: i64, one: &str| format!("{n} {one}{}", if n == 1 { "" } else { "s" });
    if s < 60 {
        return plural(s, "second");
    }
    if s % 86_400 == 0 {
        return plural(s / 86_400, "day");
    }
    let (h, m) = (s / 3600, (s % 3600) / 60);
    match (h, m) {
        (0, m) => plural(m, "minute"),
        (h, 0) => plural(h, "hour"),
        (h, m) => format!("{} {}", plural(h, "hour"), plural(m, "minute")),
    }
}

/// A window's length for people: "hour", "day", "30 minutes".
pub fn window_words(window: Duration) -> String {
    match window.as_secs() {
        3600 => "hour".into(),
        86_400 => "day".into(),
        604_800 => "week".into(),
        s => span_words(s as i64),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn thresholds_follow_the_strictest_rule() {
        let rule = SpikeRule {
            min_items: 5,
            sigma: 3.0,
            factor: 3.0,
            ..SpikeRule::default()
        };
        // Empty baseline: min_items decides.
        let v = judge(&rule, 4, &[0; 14]);
        assert_eq!((v.threshold, v.spiking, v.ratio), (5.0, false, None));
        assert!(judge(&rule, 5, &[0; 14]).spiking);
        // Busy topic: factor × mean decides (3 × 10 = 30 > 10 + 3 × √10).
        let v = judge(&rule, 29, &[10; 14]);
        assert_eq!((v.threshold, v.spiking), (30.0, false));
        let v = judge(&rule, 30, &[10; 14]);
        assert!(v.spiking);
        assert_eq!(v.ratio, Some(3.0));
        // Erratic topic: mean + sigma × stdev decides.
        let erratic = [0, 20, 0, 20, 0, 20, 0, 20];
        let v = judge(&rule, 39, &erratic);
        assert_eq!(
            (v.mean, v.stdev, v.threshold, v.spiking),
            (10.0, 10.0, 40.0, false)
        );
        assert!(judge(&rule, 40, &erratic).spiking);
        // A quiet baseline's sample deviation is not trusted below √mean.
        let v = judge(&rule, 4, &[1; 14]);
        assert_eq!((v.stdev, v.threshold), (0.0, 5.0));
    }

    #[test]
    fn hourly_windows_compare_with_the_same_hour_of_previous_days() {
        let rule = SpikeRule::default();
        assert_eq!((rule.min_items, rule.sigma, rule.factor), (10, 5.0, 3.0));
        assert_eq!((rule.step_secs(), rule.baseline_windows()), (86_400, 14));
        let short = SpikeRule {
            baseline: Duration::from_secs(12 * 3600),
            ..rule
        };
        assert_eq!((short.step_secs(), short.baseline_windows()), (3600, 12));
        let daily = SpikeRule {
            window: Duration::from_secs(86_400),
            ..rule
        };
        assert_eq!((daily.step_secs(), daily.baseline_windows()), (86_400, 14));
        let b = rule.buckets();
        let now = at("2017-09-25T12:00:00Z");
        assert_eq!(b.since(now), at("2017-09-11T11:00:00Z"));
        assert!(!b.contiguous() && short.buckets().contiguous());
        let ranges = b.ranges(now);
        assert_eq!(ranges.len(), 15);
        assert_eq!(ranges[0], (0, at("2017-09-25T11:00:00Z"), now));
        assert_eq!(
            ranges[14],
            (14, at("2017-09-11T11:00:00Z"), at("2017-09-11T12:00:00Z"))
        );
        assert_eq!(
            series(&b, &[(0, 7), (3, 2), (15, 9), (-1, 4)])
                .iter()
                .sum::<u64>(),
            9
        );
        let s = series(&b, &[(0, 12), (3, 2)]);
        assert_eq!((s.len(), s[0], s[3]), (15, 12, 2));
        assert!(judge_series(&rule, &s).spiking);
    }

    #[test]
    fn episodes_open_once_and_close_after_a_quiet_window() {
        let start = at("2017-09-25T10:00:00Z");
        let hour = Duration::from_secs(3600);
        // Verdicts every 20 minutes.
        let verdicts = [false, true, false, true, false, false, false, true];
        let mut last_spike = None;
        let mut steps = Vec::new();
        for (i, &spiking) in verdicts.iter().enumerate() {
            let now = start + chrono::Duration::minutes(20 * i as i64);
            let step = episode_step(last_spike, spiking, now, hour);
            match step {
                EpisodeStep::Open | EpisodeStep::Continue => last_spike = Some(now),
                EpisodeStep::Close => last_spike = None,
                EpisodeStep::Hold | EpisodeStep::Quiet => {}
            }
            steps.push(step);
        }
        use EpisodeStep::*;
        assert_eq!(steps, [Quiet, Open, Hold, Continue, Hold, Hold, Close, Open]);
    }

    fn copy(story: i64, outlet: &str, when: &str) -> Copy {
        Copy {
            story_id: story,
            headline: format!("story {story}"),
            outlet: outlet.into(),
            at: at(when),
        }
    }

    #[test]
    fn a_story_breaks_when_enough_outlets_carry_it_soon_enough() {
        let rule = StoryRule::default();
        let copies = [
            copy(1, "Rudaw", "2017-09-25T10:05:00Z"),
            copy(1, "AP", "2017-09-25T10:00:00Z"),
            copy(1, "AP", "2017-09-25T10:01:00Z"),
            copy(1, "Al Jazeera", "2017-09-25T10:20:00Z"),
            copy(1, "Kurdistan24", "2017-09-25T10:38:00Z"),
            copy(1, "Late", "2017-09-25T12:01:00Z"),
            // Two outlets only.
            copy(2, "AP", "2017-09-25T10:00:00Z"),
            copy(2, "Rudaw", "2017-09-25T10:10:00Z"),
            // Three outlets, but the third too late.
            copy(3, "AP", "2017-09-25T08:00:00Z"),
            copy(3, "Rudaw", "2017-09-25T08:10:00Z"),
            copy(3, "Mehr", "2017-09-25T10:00:01Z"),
        ];
        let out = breaking(&rule, &copies);
        assert_eq!(out.len(), 1, "{out:?}");
        let b = &out[0];
        assert_eq!(b.story_id, 1);
        assert_eq!(b.outlets, ["AP", "Rudaw", "Al Jazeera", "Kurdistan24"]);
        assert_eq!(b.first_seen, at("2017-09-25T10:00:00Z"));
        assert_eq!(b.within_seconds, 38 * 60);
        assert_eq!(span_words(b.within_seconds), "38 minutes");
        let strict = StoryRule {
            min_outlets: 5,
            ..rule
        };
        assert!(breaking(&strict, &copies).is_empty());
    }

    #[test]
    fn spans_read_naturally() {
        assert_eq!(span_words(45), "45 seconds");
        assert_eq!(span_words(3600), "1 hour");
        assert_eq!(span_words(7500), "2 hours 5 minutes");
        assert_eq!(span_words(14 * 86_400), "14 days");
        assert_eq!(window_words(Duration::from_secs(3600)), "hour");
        assert_eq!(window_words(Duration::from_secs(1800)), "30 minutes");
    }
}
