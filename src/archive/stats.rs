//! Volume over time: bucket labels, zero-filled series and sparklines
//! (pure; the counts come from [`crate::store::Store::volume`]).

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, Duration, DurationRound, NaiveTime, Utc};

use crate::store::{Bucket, VolumeRow};

/// The most buckets [`bucket_labels`] makes: a finer range is refused
/// rather than cut short (a cut range would drop its later items from every
/// total).
pub const MAX_BUCKETS: u64 = 100_000;

/// A range with more than [`MAX_BUCKETS`] buckets.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{} buckets, more than the {} drawn at most", thousands(*.buckets), thousands(MAX_BUCKETS))]
pub struct TooManyBuckets {
    pub buckets: u64,
}

/// `235000` → `235,000`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The label of the bucket holding `at`, as the store writes it.
pub fn bucket_label(at: DateTime<Utc>, bucket: Bucket) -> String {
    let start = bucket_start(at, bucket);
    match bucket {
        Bucket::Hour => start.format("%Y-%m-%dT%H:00:00Z").to_string(),
        Bucket::Day | Bucket::Week | Bucket::Month => start.format("%Y-%m-%d").to_string(),
    }
}

/// The start of the bucket holding `at`: its hour, its day, the Monday of
/// its week or the first of its month (UTC).
fn bucket_start(at: DateTime<Utc>, bucket: Bucket) -> DateTime<Utc> {
    let day = at.date_naive().and_time(NaiveTime::MIN).and_utc();
    match bucket {
        Bucket::Hour => at.duration_trunc(Duration::hours(1)).unwrap_or(at),
        Bucket::Day => day,
        Bucket::Week => day - Duration::days(i64::from(at.weekday().num_days_from_monday())),
        Bucket::Month => day - Duration::days(i64::from(at.day0())),
    }
}

/// The start of the `n`th bucket after the one starting at `first`.
fn nth_bucket(first: DateTime<Utc>, bucket: Bucket, n: u64) -> DateTime<Utc> {
    let n32 = u32::try_from(n).unwrap_or(u32::MAX);
    match bucket {
        Bucket::Hour => first + Duration::hours(n as i64),
        Bucket::Day => first + Duration::days(n as i64),
        Bucket::Week => first + Duration::weeks(n as i64),
        Bucket::Month => first
            .checked_add_months(chrono::Months::new(n32))
            .unwrap_or(first),
    }
}

/// How many buckets hold `since` up to (not including) `until`.
pub fn bucket_count(since: DateTime<Utc>, until: DateTime<Utc>, bucket: Bucket) -> u64 {
    if until <= since {
        return 0;
    }
    let first = bucket_start(since, bucket);
    let last = bucket_start(until - Duration::nanoseconds(1), bucket);
    if bucket == Bucket::Month {
        let months = |t: DateTime<Utc>| i64::from(t.year()) * 12 + i64::from(t.month0());
        return u64::try_from(months(last) - months(first)).unwrap_or(0) + 1;
    }
    let step = match bucket {
        Bucket::Hour => Duration::hours(1),
        Bucket::Day => Duration::days(1),
        _ => Duration::weeks(1),
    };
    let steps = (last - first).num_seconds() / step.num_seconds();
    u64::try_from(steps).unwrap_or(0) + 1
}

/// Every bucket label from `since` to `until`, in order; an error, not a
/// shorter list, when there would be more than [`MAX_BUCKETS`].
pub fn bucket_labels(
    since: DateTime<Utc>,
    until: DateTime<Utc>,
    bucket: Bucket,
) -> Result<Vec<String>, TooManyBuckets> {
    let buckets = bucket_count(since, until, bucket);
    if buckets > MAX_BUCKETS {
        return Err(TooManyBuckets { buckets });
    }
    let first = bucket_start(since, bucket);
    Ok((0..buckets)
        .map(|i| bucket_label(nth_bucket(first, bucket, i), bucket))
        .collect())
}

/// One series: a split key (`""` without a split) and a count per label.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Series {
    pub key: String,
    pub counts: Vec<i64>,
}

impl Series {
    pub fn total(&self) -> i64 {
        self.counts.iter().sum()
    }
}

/// Spreads volume rows over `labels`, one zero-filled series per split
/// key, biggest total first.
pub fn series(rows: &[VolumeRow], labels: &[String]) -> Vec<Series> {
    let index: BTreeMap<&str, usize> = labels.iter().enumerate().map(|(i, l)| (l.as_str(), i)).collect();
    let mut by_key: BTreeMap<&str, Vec<i64>> = BTreeMap::new();
    for (label, key, n) in rows {
        let counts = by_key.entry(key).or_insert_with(|| vec![0; labels.len()]);
        let i = index.get(label.as_str());
        debug_assert!(i.is_some(), "bucket {label} is outside the labels");
        if let Some(&i) = i {
            counts[i] += n;
        }
    }
    let mut out: Vec<Series> = by_key
        .into_iter()
        .map(|(key, counts)| Series {
            key: key.to_string(),
            counts,
        })
        .collect();
    out.sort_by(|a, b| b.total().cmp(&a.total()).then(a.key.cmp(&b.key)));
    out
}

/// Drops the buckets after the one holding `now` that no series has items
/// in: a window left open reaches [`crate::parse::dates::MAX_FUTURE_SKEW`]
/// past `now` (items may be dated that far ahead), but shows only as much
/// of that as holds items.
pub fn trim_future(labels: &mut Vec<String>, series: &mut [&mut Series], now: DateTime<Utc>, bucket: Bucket) {
    let current = bucket_label(now, bucket);
    let keep = labels
        .iter()
        .enumerate()
        .rev()
        .find(|(i, label)| **label <= current || series.iter().any(|s| s.counts[*i] != 0))
        .map_or(0, |(i, _)| i + 1);
    labels.truncate(keep);
    for s in series.iter_mut() {
        s.counts.truncate(keep);
    }
}

/// A one-line chart: one of `▁▂▃▄▅▆▇█` per count, scaled to the maximum;
/// an empty bucket is `·` so gaps show.
pub fn sparkline(counts: &[i64]) -> String {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let max = counts.iter().copied().max().unwrap_or(0).max(1);
    counts
        .iter()
        .map(|&n| {
            if n <= 0 {
                '·'
            } else {
                BARS[((n * 7 + max - 1) / max).clamp(0, 7) as usize]
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn labels_match_the_store_buckets() {
        let t = at("2017-09-27T13:45:00Z"); // a Wednesday
        assert_eq!(bucket_label(t, Bucket::Hour), "2017-09-27T13:00:00Z");
        assert_eq!(bucket_label(t, Bucket::Day), "2017-09-27");
        assert_eq!(bucket_label(t, Bucket::Week), "2017-09-25");
        assert_eq!(
            bucket_labels(
                at("2017-09-24T22:30:00Z"),
                at("2017-09-26T01:00:00Z"),
                Bucket::Day
            )
            .unwrap(),
            ["2017-09-24", "2017-09-25", "2017-09-26"]
        );
        assert_eq!(
            bucket_labels(
                at("2017-09-24T00:00:00Z"),
                at("2017-10-03T00:00:00Z"),
                Bucket::Week
            )
            .unwrap(),
            ["2017-09-18", "2017-09-25", "2017-10-02"]
        );
    }

    #[test]
    fn zero_fills_and_draws() {
        let labels: Vec<String> = ["a", "b", "c"].map(String::from).to_vec();
        let rows = vec![
            ("a".to_string(), "x".to_string(), 2),
            ("c".to_string(), "x".to_string(), 8),
            ("b".to_string(), "y".to_string(), 1),
        ];
        let s = series(&rows, &labels);
        assert_eq!(
            s[0],
            Series {
                key: "x".into(),
                counts: vec![2, 0, 8]
            }
        );
        assert_eq!(s[1].counts, [0, 1, 0]);
        assert_eq!(sparkline(&[2, 0, 8]), "▃·█");
    }

    /// Issue 21: labels stopped at 100,000 and the later buckets' items
    /// vanished from every total. Too many buckets is an error now.
    #[test]
    fn too_many_buckets_is_an_error_not_a_shorter_list() {
        let since = at("2000-01-01T00:00:00Z");
        let until = at("2026-12-07T14:30:00Z");
        let hours = bucket_count(since, until, Bucket::Hour);
        assert_eq!(hours, 9837 * 24 + 15);
        assert_eq!(
            bucket_labels(since, until, Bucket::Hour),
            Err(TooManyBuckets { buckets: hours })
        );
        let days = bucket_labels(since, until, Bucket::Day).unwrap();
        assert_eq!(days.len() as u64, bucket_count(since, until, Bucket::Day));
        assert_eq!(
            (days[0].as_str(), days.last().unwrap().as_str()),
            ("2000-01-01", "2026-12-07")
        );
        // Exactly the cap is drawn.
        let end = since + Duration::hours(MAX_BUCKETS as i64);
        assert_eq!(
            bucket_labels(since, end, Bucket::Hour).unwrap().len() as u64,
            MAX_BUCKETS
        );
        assert!(bucket_labels(since, end + Duration::seconds(1), Bucket::Hour).is_err());
        assert_eq!(bucket_count(until, since, Bucket::Day), 0);
        assert_eq!(thousands(236_127), "236,127");
        assert_eq!(thousands(100), "100");
        assert_eq!(thousands(1_000_000), "1,000,000");
    }

    #[test]
    fn every_stored_bucket_has_its_label() {
        // What the store writes for items anywhere in the window.
        let since = at("2017-09-24T22:30:00Z");
        let until = at("2017-12-09T00:00:00Z");
        for bucket in [Bucket::Hour, Bucket::Day, Bucket::Week, Bucket::Month] {
            let labels = bucket_labels(since, until, bucket).unwrap();
            let mut t = since;
            while t < until {
                assert!(labels.contains(&bucket_label(t, bucket)), "{t} {bucket:?}");
                t += Duration::minutes(37);
            }
        }
    }

    #[test]
    fn months_are_calendar_months() {
        let labels = bucket_labels(
            at("2017-01-31T10:00:00Z"),
            at("2017-04-01T00:00:00Z"),
            Bucket::Month,
        )
        .unwrap();
        assert_eq!(labels, ["2017-01-01", "2017-02-01", "2017-03-01"]);
        assert_eq!(
            bucket_label(at("2016-02-29T23:00:00Z"), Bucket::Month),
            "2016-02-01"
        );
        assert_eq!(
            bucket_count(
                at("2000-01-01T00:00:00Z"),
                at("2026-12-07T00:00:00Z"),
                Bucket::Month
            ),
            324
        );
    }

    #[test]
    fn trims_only_empty_buckets_after_now() {
        let now = at("2017-09-25T12:00:00Z");
        let mut labels =
            bucket_labels(at("2017-09-24T00:00:00Z"), now + Duration::days(1), Bucket::Day).unwrap();
        assert_eq!(labels, ["2017-09-24", "2017-09-25", "2017-09-26"]);
        let mut s = Series {
            key: String::new(),
            counts: vec![0, 0, 0],
        };
        trim_future(&mut labels, &mut [&mut s], now, Bucket::Day);
        assert_eq!(labels, ["2017-09-24", "2017-09-25"], "today stays, empty or not");
        let mut labels =
            bucket_labels(at("2017-09-24T00:00:00Z"), now + Duration::days(1), Bucket::Day).unwrap();
        let mut s = Series {
            key: String::new(),
            counts: vec![0, 0, 2],
        };
        trim_future(&mut labels, &mut [&mut s], now, Bucket::Day);
        assert_eq!(labels.len(), 3, "an item dated tomorrow shows");
        assert_eq!(s.counts, [0, 0, 2]);
    }
}
