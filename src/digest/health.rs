//! Feed-health notices for alerts subscribed to `feed-health`: a feed that
//! has failed for `[health] failing_after`, or that has gone silent for
//! `silent_factor` times its usual publishing interval (at least
//! `silent_min`). Pure: the store supplies each feed's state.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::store::FeedHealthRow;

/// What `[health]` configures.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HealthSettings {
    pub failing_after: Duration,
    pub silent_factor: f64,
    pub silent_min: Duration,
}

impl HealthSettings {
    /// The settings of `[health]`.
    pub fn from_config(health: &crate::config::HealthConfig) -> Self {
        Self {
            failing_after: health.failing_after,
            silent_factor: health.silent_factor,
            silent_min: health.silent_min,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HealthKind {
    Failing,
    Silent,
    /// Polling stopped (410 Gone); `feeds enable` resumes it.
    Disabled,
}

/// One notice. `key` names the episode: the same failure or silence is
/// reported once per channel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HealthNotice {
    pub key: String,
    pub kind: HealthKind,
    /// Its password masked ([`crate::redact::url`]): digests are for people.
    pub feed_url: String,
    pub feed_name: String,
    /// When the episode began (RFC 3339, UTC; digests show it in their zone).
    pub since: String,
    pub detail: String,
}

/// The notices due at `now`.
pub fn notices(rows: &[FeedHealthRow], now: DateTime<Utc>, settings: &HealthSettings) -> Vec<HealthNotice> {
    let mut out = Vec::new();
    let ago = |d: Duration| now - chrono::Duration::from_std(d).unwrap_or_default();
    for row in rows {
        if let Some(reason) = &row.disabled_reason {
            // Definitive (the publisher removed the feed): reported at once.
            let since = row.disabled_at.unwrap_or(now);
            out.push(HealthNotice {
                key: format!("disabled:{}:{}", row.feed_id, since.timestamp()),
                kind: HealthKind::Disabled,
                feed_url: crate::redact::url(&row.url).into_owned(),
                feed_name: row.name.clone(),
                since: since.to_rfc3339(),
                detail: format!(
                    "{}; no longer polled (`feedwatch feeds enable URL` polls it again)",
                    reason.chars().take(200).collect::<String>()
                ),
            });
            continue;
        }
        if let Some(since) = row.failing_since {
            if since <= ago(settings.failing_after) {
                let error: String = row
                    .last_error
                    .as_deref()
                    .unwrap_or("")
                    .chars()
                    .take(200)
                    .collect();
                out.push(HealthNotice {
                    key: format!("failing:{}:{}", row.feed_id, since.timestamp()),
                    kind: HealthKind::Failing,
                    feed_url: crate::redact::url(&row.url).into_owned(),
                    feed_name: row.name.clone(),
                    since: since.to_rfc3339(),
                    detail: format!(
                        "{} failed polls since {}; last error: {error}",
                        row.error_count,
                        since.format("%Y-%m-%d %H:%M UTC")
                    ),
                });
                continue;
            }
        }
        let (Some(per_week), Some(last)) = (row.items_per_week, row.last_item_at) else {
            continue;
        };
        if per_week <= 0.0 {
            continue;
        }
        let usual = Duration::from_secs_f64(7.0 * 86_400.0 / per_week);
        let threshold = usual.mul_f64(settings.silent_factor).max(settings.silent_min);
        if last <= ago(threshold) {
            out.push(HealthNotice {
                key: format!("silent:{}:{}", row.feed_id, last.timestamp()),
                kind: HealthKind::Silent,
                feed_url: crate::redact::url(&row.url).into_owned(),
                feed_name: row.name.clone(),
                since: last.to_rfc3339(),
                detail: format!(
                    "no new item since {} (usually one every {})",
                    last.format("%Y-%m-%d %H:%M UTC"),
                    humantime::format_duration(Duration::from_secs(usual.as_secs()))
                ),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::parse_ts;

    fn row(failing_since: Option<&str>, per_week: Option<f64>, last_item: Option<&str>) -> FeedHealthRow {
        FeedHealthRow {
            feed_id: 7,
            url: "https://x.example/rss".into(),
            name: "X".into(),
            error_count: 3,
            last_error: Some("HTTP 500".into()),
            failing_since: failing_since.and_then(parse_ts),
            items_per_week: per_week,
            last_item_at: last_item.and_then(parse_ts),
            disabled_reason: None,
            disabled_at: None,
        }
    }

    #[test]
    fn failing_and_silent_feeds() {
        let now: DateTime<Utc> = "2017-09-25T12:00:00Z".parse().unwrap();
        let settings = HealthSettings {
            failing_after: Duration::from_secs(6 * 3600),
            silent_factor: 4.0,
            silent_min: Duration::from_secs(24 * 3600),
        };
        let check = |r: FeedHealthRow| notices(&[r], now, &settings);
        // Failing for 7 h: reported; for 5 h: not yet.
        let n = check(row(Some("2017-09-25T05:00:00Z"), None, None));
        assert_eq!(
            (n[0].kind, n[0].key.as_str()),
            (HealthKind::Failing, "failing:7:1506315600")
        );
        assert!(n[0].detail.contains("HTTP 500"));
        assert!(check(row(Some("2017-09-25T07:00:00Z"), None, None)).is_empty());
        // 7 items a week = one a day; silent after max(4 days, 1 day).
        assert_eq!(
            check(row(None, Some(7.0), Some("2017-09-21T11:00:00Z")))[0].kind,
            HealthKind::Silent
        );
        assert!(check(row(None, Some(7.0), Some("2017-09-21T13:00:00Z"))).is_empty());
        // 700 a week: 4 × 14.4 min is below the 24 h floor.
        assert!(check(row(None, Some(700.0), Some("2017-09-24T13:00:00Z"))).is_empty());
        assert_eq!(
            check(row(None, Some(700.0), Some("2017-09-24T11:00:00Z"))).len(),
            1
        );
        // Unknown publishing rate: never "silent".
        assert!(check(row(None, None, Some("2017-01-01T00:00:00Z"))).is_empty());
        // Disabled (410 Gone): reported at once, whatever else is true.
        let gone = FeedHealthRow {
            disabled_reason: Some("HTTP 410 Gone: the publisher removed the feed; disabled".into()),
            disabled_at: parse_ts("2017-09-25T11:59:00Z"),
            ..row(
                Some("2017-09-25T11:00:00Z"),
                Some(7.0),
                Some("2017-09-01T00:00:00Z"),
            )
        };
        let n = check(gone);
        assert_eq!(n.len(), 1);
        assert_eq!(
            (n[0].kind, n[0].key.as_str()),
            (HealthKind::Disabled, "disabled:7:1506340740")
        );
        assert!(
            n[0].detail.contains("410 Gone") && n[0].detail.contains("feeds enable"),
            "{}",
            n[0].detail
        );
    }
}
