//! Volume over time: bucket labels, zero-filled series and sparklines
//! (pure; the counts come from [`crate::store::Store::volume`]).

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, Duration, DurationRound, Utc};

use crate::store::{Bucket, VolumeRow};

/// The label of the bucket holding `at`, as the store writes it.
pub fn bucket_label(at: DateTime<Utc>, bucket: Bucket) -> String {
    match bucket {
        Bucket::Hour => at.format("%Y-%m-%dT%H:00:00Z").to_string(),
        Bucket::Day => at.format("%Y-%m-%d").to_string(),
        Bucket::Week => {
            let monday = at.date_naive() - Duration::days(i64::from(at.weekday().num_days_from_monday()));
            monday.format("%Y-%m-%d").to_string()
        }
    }
}

/// Every bucket label from `since` to `until`, in order.
pub fn bucket_labels(since: DateTime<Utc>, until: DateTime<Utc>, bucket: Bucket) -> Vec<String> {
    let step = match bucket {
        Bucket::Hour => Duration::hours(1),
        Bucket::Day => Duration::days(1),
        Bucket::Week => Duration::weeks(1),
    };
    let mut at = since.duration_trunc(Duration::hours(1)).unwrap_or(since);
    let mut out: Vec<String> = Vec::new();
    while at < until && out.len() < 100_000 {
        let label = bucket_label(at, bucket);
        if out.last() != Some(&label) {
            out.push(label);
        }
        at += step;
    }
    let last = bucket_label(until - Duration::seconds(1), bucket);
    if until > since && out.last() != Some(&last) {
        out.push(last);
    }
    out
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
        if let Some(&i) = index.get(label.as_str()) {
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
            ),
            ["2017-09-24", "2017-09-25", "2017-09-26"]
        );
        assert_eq!(
            bucket_labels(
                at("2017-09-24T00:00:00Z"),
                at("2017-10-03T00:00:00Z"),
                Bucket::Week
            ),
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
}
