//! Scheduling policy: when a feed is next due.
//!
//! Pure functions of the feed's state and the facts of its last response;
//! the daemon stores the result as the feed's `next_check_at` and the
//! database is the job queue. The rule, after miniflux's
//! `ScheduleNextCheck`:
//!
//! - success: the average gap between items (one week / items per week),
//!   or a fixed interval when configured; clamped to the feed's bounds;
//! - raised to honour what the publisher asked for (`<ttl>`,
//!   `sy:updatePeriod`/`sy:updateFrequency`, `Cache-Control: max-age`,
//!   `Expires`, `Retry-After`), never past the upper bound;
//! - failure: exponential backoff from the lower bound, capped at the upper
//!   bound; unhealthy feeds are retried at the upper bound;
//! - a random extra of up to [`JITTER`] of the interval so feeds added
//!   together drift apart; then pushed out of `skipHours`/`skipDays`.

use std::time::Duration;

use chrono::{DateTime, Datelike, Timelike, Utc, Weekday};

/// Largest random extra, as a fraction of the interval.
pub const JITTER: f64 = 0.1;

const WEEK: f64 = 7.0 * 24.0 * 3600.0;

/// The schedule settings that apply to one feed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bounds {
    pub min: Duration,
    pub max: Duration,
    /// A fixed interval instead of the adaptive one.
    pub fixed: Option<Duration>,
    /// Consecutive failures after which the feed is unhealthy.
    pub failure_threshold: u32,
}

/// The bounds of every feed, from the config: `[poll]` with the per-feed
/// overrides of `[[feed]]`.
#[derive(Debug, Clone)]
pub struct Schedules {
    pub default: Bounds,
    pub per_feed: std::collections::HashMap<String, Bounds>,
    /// Every Nth poll sends no validators.
    pub unconditional_every: u32,
    /// How long a claimed feed stays this instance's (`poll.lease`; a
    /// store shared by several instances).
    pub lease: std::time::Duration,
}

impl Schedules {
    pub fn from_config(config: &crate::config::Config) -> Self {
        let poll = &config.poll;
        let default = Bounds {
            min: poll.min_interval,
            max: poll.max_interval,
            fixed: poll.interval,
            failure_threshold: poll.failure_threshold,
        };
        let per_feed = config
            .feeds
            .iter()
            .filter(|f| f.interval.is_some() || f.min_interval.is_some() || f.max_interval.is_some())
            .map(|f| {
                let min = f.min_interval.unwrap_or(default.min);
                let bounds = Bounds {
                    min,
                    max: f.max_interval.unwrap_or(default.max).max(min),
                    fixed: f.interval.or(default.fixed),
                    failure_threshold: default.failure_threshold,
                };
                (f.url.clone(), bounds)
            })
            .collect();
        Self {
            default,
            per_feed,
            unconditional_every: poll.unconditional_every,
            lease: poll.lease,
        }
    }

    /// The bounds of the feed stored under `url`.
    pub fn bounds(&self, url: &str) -> Bounds {
        self.per_feed.get(url).copied().unwrap_or(self.default)
    }
}

/// What the publisher said about how often to come back.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Hints {
    /// RSS `<ttl>`.
    pub ttl: Option<Duration>,
    /// `sy:updatePeriod` divided by `sy:updateFrequency`.
    pub update_period: Option<Duration>,
    /// `Cache-Control: max-age`.
    pub max_age: Option<Duration>,
    /// `Expires`.
    pub expires: Option<DateTime<Utc>>,
    /// `Retry-After` on 429/503.
    pub retry_after: Option<Duration>,
    /// RSS `skipHours` (0–23, UTC).
    pub skip_hours: Vec<u32>,
    /// RSS `skipDays`.
    pub skip_days: Vec<Weekday>,
}

/// How the check went.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Outcome {
    /// 200 or 304; `items_per_week` is the feed's known rate, if any.
    Success { items_per_week: Option<f64> },
    /// The `consecutive`-th failure in a row (1 for the first).
    Failure { consecutive: u32 },
}

/// The decision: when to check next and the interval that led there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Next {
    pub at: DateTime<Utc>,
    pub interval: Duration,
    /// Failures have reached the threshold.
    pub unhealthy: bool,
}

/// When to check next. `jitter` is a number in `[0, 1)` (random in
/// production, fixed in tests).
pub fn next_check(now: DateTime<Utc>, bounds: &Bounds, outcome: Outcome, hints: &Hints, jitter: f64) -> Next {
    let (min, max) = (bounds.min, bounds.max.max(bounds.min));
    let mut unhealthy = false;
    let base = match outcome {
        Outcome::Success { items_per_week } => match bounds.fixed {
            Some(fixed) => fixed,
            None => adaptive_interval(items_per_week, min, max),
        },
        Outcome::Failure { consecutive } => {
            if consecutive >= bounds.failure_threshold {
                unhealthy = true;
                max
            } else {
                let factor = 2f64.powi(consecutive.saturating_sub(1).min(30) as i32);
                let start = bounds.fixed.unwrap_or(min).min(min);
                Duration::from_secs_f64((start.as_secs_f64() * factor).min(max.as_secs_f64()))
            }
        }
    };
    let floor = publisher_floor(now, hints).min(max);
    let interval = base.max(floor);
    let jittered = interval.mul_f64(1.0 + JITTER * jitter.clamp(0.0, 1.0));
    // Jitter may not push past the upper bound, nor below what was asked.
    let jittered = if interval <= max {
        jittered.min(max).max(interval)
    } else {
        jittered
    };
    let at = now + chrono::Duration::from_std(jittered).unwrap_or(chrono::Duration::days(1));
    Next {
        at: skip(at, hints),
        interval: jittered,
        unhealthy,
    }
}

/// One week divided by the publishing rate, clamped; the upper bound when
/// the rate is unknown or zero.
pub fn adaptive_interval(items_per_week: Option<f64>, min: Duration, max: Duration) -> Duration {
    match items_per_week {
        Some(rate) if rate > 0.0 && rate.is_finite() => {
            Duration::from_secs_f64((WEEK / rate).clamp(min.as_secs_f64(), max.as_secs_f64()))
        }
        _ => max,
    }
}

/// The longest wait any publisher hint asks for.
fn publisher_floor(now: DateTime<Utc>, hints: &Hints) -> Duration {
    let expires = hints
        .expires
        .and_then(|e| (e - now).to_std().ok())
        .unwrap_or_default();
    [hints.ttl, hints.update_period, hints.max_age, hints.retry_after]
        .into_iter()
        .flatten()
        .chain([expires])
        .max()
        .unwrap_or_default()
}

/// Moves `at` to the start of the next hour that `skipHours`/`skipDays`
/// allow. All hours or all days skipped means the hints are ignored.
fn skip(at: DateTime<Utc>, hints: &Hints) -> DateTime<Utc> {
    if hints.skip_hours.is_empty() && hints.skip_days.is_empty() {
        return at;
    }
    let skipped =
        |t: DateTime<Utc>| hints.skip_hours.contains(&t.hour()) || hints.skip_days.contains(&t.weekday());
    let mut t = at;
    for _ in 0..(24 * 7) {
        if !skipped(t) {
            return t;
        }
        let next_hour = t
            .with_minute(0)
            .and_then(|t| t.with_second(0))
            .and_then(|t| t.with_nanosecond(0))
            .unwrap_or(t)
            + chrono::Duration::hours(1);
        t = next_hour;
    }
    at
}

/// The publishing rate seen in a document: items dated within the last four
/// weeks, over the time from the oldest of them to now (at least an hour).
/// `None` when no item carries a date.
pub fn items_per_week(dates: &[DateTime<Utc>], now: DateTime<Utc>) -> Option<f64> {
    if dates.is_empty() {
        return None;
    }
    let window = chrono::Duration::weeks(4);
    let recent: Vec<_> = dates
        .iter()
        .filter(|d| **d <= now && now - **d <= window)
        .collect();
    let Some(oldest) = recent.iter().min() else {
        return Some(0.0);
    };
    let span = (now - **oldest).num_seconds().max(3600) as f64;
    Some(recent.len() as f64 * WEEK / span)
}

/// Whether the `poll_count`-th poll (counting from 0) of feed `feed_id`
/// should skip the validators: every `every`-th poll, offset by the feed id
/// so that feeds added together do not all refetch in the same cycle. Never
/// the first poll.
pub fn unconditional(poll_count: i64, feed_id: i64, every: u32) -> bool {
    let every = i64::from(every);
    every > 0 && poll_count > 0 && (poll_count + feed_id).rem_euclid(every) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: Duration = Duration::from_secs(300);
    const MAX: Duration = Duration::from_secs(86_400);

    fn bounds() -> Bounds {
        Bounds {
            min: MIN,
            max: MAX,
            fixed: None,
            failure_threshold: 10,
        }
    }

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2025-05-05T10:00:00Z")
            .unwrap()
            .to_utc()
    }

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    fn ok(rate: Option<f64>) -> Outcome {
        Outcome::Success { items_per_week: rate }
    }

    #[test]
    fn interval_table() {
        let hours = |h: u64| secs(h * 3600);
        let fixed = Bounds {
            fixed: Some(secs(60)),
            ..bounds()
        };
        // (case, bounds, outcome, hints, expected interval without jitter)
        let cases: Vec<(&str, Bounds, Outcome, Hints, Duration, bool)> = vec![
            (
                "unknown rate → max",
                bounds(),
                ok(None),
                Hints::default(),
                MAX,
                false,
            ),
            (
                "zero rate → max",
                bounds(),
                ok(Some(0.0)),
                Hints::default(),
                MAX,
                false,
            ),
            (
                "one a day → 24h",
                bounds(),
                ok(Some(7.0)),
                Hints::default(),
                hours(24),
                false,
            ),
            (
                "one an hour",
                bounds(),
                ok(Some(168.0)),
                Hints::default(),
                hours(1),
                false,
            ),
            (
                "busy wire → min",
                bounds(),
                ok(Some(100_000.0)),
                Hints::default(),
                MIN,
                false,
            ),
            (
                "fixed wins over rate",
                fixed,
                ok(Some(1.0)),
                Hints::default(),
                secs(60),
                false,
            ),
            (
                "ttl raises",
                bounds(),
                ok(Some(168.0)),
                Hints {
                    ttl: Some(hours(2)),
                    ..Hints::default()
                },
                hours(2),
                false,
            ),
            (
                "ttl capped at max",
                bounds(),
                ok(Some(168.0)),
                Hints {
                    ttl: Some(hours(100)),
                    ..Hints::default()
                },
                MAX,
                false,
            ),
            (
                "max-age and sy:updatePeriod: the longest wins",
                bounds(),
                ok(Some(168.0)),
                Hints {
                    max_age: Some(hours(3)),
                    update_period: Some(hours(4)),
                    ..Hints::default()
                },
                hours(4),
                false,
            ),
            (
                "Expires raises",
                bounds(),
                ok(Some(168.0)),
                Hints {
                    expires: Some(now() + chrono::Duration::hours(5)),
                    ..Hints::default()
                },
                hours(5),
                false,
            ),
            (
                "Expires in the past is ignored",
                bounds(),
                ok(Some(168.0)),
                Hints {
                    expires: Some(now() - chrono::Duration::hours(5)),
                    ..Hints::default()
                },
                hours(1),
                false,
            ),
            (
                "first failure → min",
                bounds(),
                Outcome::Failure { consecutive: 1 },
                Hints::default(),
                MIN,
                false,
            ),
            (
                "third failure → 4×min",
                bounds(),
                Outcome::Failure { consecutive: 3 },
                Hints::default(),
                secs(1200),
                false,
            ),
            (
                "ninth failure → 256×min",
                bounds(),
                Outcome::Failure { consecutive: 9 },
                Hints::default(),
                secs(76_800),
                false,
            ),
            (
                "backoff capped at max",
                Bounds {
                    max: secs(3600),
                    ..bounds()
                },
                Outcome::Failure { consecutive: 5 },
                Hints::default(),
                secs(3600),
                false,
            ),
            (
                "unhealthy at threshold",
                bounds(),
                Outcome::Failure { consecutive: 10 },
                Hints::default(),
                MAX,
                true,
            ),
            (
                "Retry-After raises backoff",
                bounds(),
                Outcome::Failure { consecutive: 1 },
                Hints {
                    retry_after: Some(hours(1)),
                    ..Hints::default()
                },
                hours(1),
                false,
            ),
            (
                "fixed feed backs off from its interval",
                fixed,
                Outcome::Failure { consecutive: 2 },
                Hints::default(),
                secs(120),
                false,
            ),
        ];
        for (name, b, outcome, hints, expected, unhealthy) in cases {
            let next = next_check(now(), &b, outcome, &hints, 0.0);
            assert_eq!(next.interval, expected, "{name}");
            assert_eq!(next.unhealthy, unhealthy, "{name}");
            assert_eq!(
                next.at,
                now() + chrono::Duration::from_std(expected).unwrap(),
                "{name}"
            );
        }
    }

    #[test]
    fn jitter_adds_at_most_a_tenth_and_never_passes_max() {
        let next = next_check(now(), &bounds(), ok(Some(168.0)), &Hints::default(), 0.999);
        assert!(
            next.interval > secs(3600) && next.interval < secs(3960),
            "{:?}",
            next.interval
        );
        let next = next_check(now(), &bounds(), ok(None), &Hints::default(), 0.999);
        assert_eq!(next.interval, MAX);
        let a = next_check(now(), &bounds(), ok(Some(168.0)), &Hints::default(), 0.1);
        let b = next_check(now(), &bounds(), ok(Some(168.0)), &Hints::default(), 0.7);
        assert_ne!(a.at, b.at, "different draws spread feeds apart");
    }

    #[test]
    fn skip_hours_and_days_push_the_check_out() {
        // now is Monday 10:00 UTC; one hour later is 11:00.
        let hints = Hints {
            skip_hours: vec![11, 12],
            ..Hints::default()
        };
        let next = next_check(now(), &bounds(), ok(Some(168.0)), &hints, 0.0);
        assert_eq!(next.at.to_rfc3339(), "2025-05-05T13:00:00+00:00");
        let hints = Hints {
            skip_days: vec![Weekday::Mon, Weekday::Tue],
            ..Hints::default()
        };
        let next = next_check(now(), &bounds(), ok(Some(168.0)), &hints, 0.0);
        assert_eq!(next.at.to_rfc3339(), "2025-05-07T00:00:00+00:00");
        let all = Hints {
            skip_hours: (0..24).collect(),
            ..Hints::default()
        };
        let next = next_check(now(), &bounds(), ok(Some(168.0)), &all, 0.0);
        assert_eq!(
            next.at.to_rfc3339(),
            "2025-05-05T11:00:00+00:00",
            "all skipped: ignored"
        );
    }

    #[test]
    fn rate_from_item_dates() {
        let ago = |h: i64| now() - chrono::Duration::hours(h);
        assert_eq!(items_per_week(&[], now()), None);
        // 7 items over the last 7 days: one a day.
        let daily: Vec<_> = (1..=7).map(|d| ago(24 * d)).collect();
        assert!((items_per_week(&daily, now()).unwrap() - 7.0).abs() < 0.01);
        // Everything older than four weeks: dormant.
        assert_eq!(items_per_week(&[ago(24 * 60)], now()), Some(0.0));
        // 30 items in the last few minutes: the span is at least an hour.
        let burst = vec![now(); 30];
        assert!((items_per_week(&burst, now()).unwrap() - 30.0 * 168.0).abs() < 0.01);
    }

    #[test]
    fn every_nth_poll_is_unconditional() {
        let polls: Vec<bool> = (0..7).map(|n| unconditional(n, 0, 3)).collect();
        assert_eq!(polls, [false, false, false, true, false, false, true]);
        let polls: Vec<bool> = (0..7).map(|n| unconditional(n, 1, 3)).collect();
        assert_eq!(polls, [false, false, true, false, false, true, false]);
        // Feeds added together are spread over the cycles.
        let in_cycle_3 = (1..=300).filter(|&id| unconditional(3, id, 3)).count();
        assert_eq!(in_cycle_3, 100);
        assert!(!(1..=300).any(|id| unconditional(0, id, 3)));
    }
}
