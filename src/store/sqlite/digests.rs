//! The digest outbox: building digests (with the matches they cover) in one
//! transaction, then tracking delivery attempts per digest.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use sqlx::{QueryBuilder, Sqlite};

use super::{parse_ts, time_column, ts, Result, SqliteStore};

/// A match not yet sent to a channel, with what a digest shows of it.
#[derive(Debug, Clone)]
pub struct PendingMatch {
    pub item_id: i64,
    pub topic_id: i64,
    pub topic: String,
    pub matched_at: DateTime<Utc>,
    pub title: String,
    pub text: String,
    pub url: Option<String>,
    pub lang: Option<String>,
    /// Its publication time, when it has a believable one.
    pub published: Option<DateTime<Utc>>,
    pub outlet: String,
    pub feed_url: String,
    /// The item's story; matches of one story form one digest entry.
    pub story_id: Option<i64>,
}

impl<'r> sqlx::FromRow<'r, sqlx::sqlite::SqliteRow> for PendingMatch {
    fn from_row(row: &'r sqlx::sqlite::SqliteRow) -> sqlx::Result<Self> {
        use sqlx::Row;
        let matched_at: String = row.try_get("matched_at")?;
        Ok(PendingMatch {
            item_id: row.try_get("item_id")?,
            topic_id: row.try_get("topic_id")?,
            topic: row.try_get("topic")?,
            matched_at: parse_ts(&matched_at).ok_or_else(|| sqlx::Error::ColumnDecode {
                index: "matched_at".into(),
                source: format!("not a time: {matched_at:?}").into(),
            })?,
            title: row.try_get("title")?,
            text: row.try_get("text")?,
            url: row.try_get("url")?,
            lang: row.try_get("lang")?,
            published: time_column(row, "published")?,
            outlet: row.try_get("outlet")?,
            feed_url: row.try_get("feed_url")?,
            story_id: row.try_get("story_id")?,
        })
    }
}

/// A feed's state as feed-health notices need it.
#[derive(Debug, Clone)]
pub struct FeedHealthRow {
    pub feed_id: i64,
    pub url: String,
    pub name: String,
    pub error_count: i64,
    pub last_error: Option<String>,
    /// Set while the feed is failing: its last success (or creation).
    pub failing_since: Option<DateTime<Utc>>,
    pub items_per_week: Option<f64>,
    /// When the feed last brought a new item.
    pub last_item_at: Option<DateTime<Utc>>,
    /// Set when the feed was disabled (410 Gone): why.
    pub disabled_reason: Option<String>,
    /// Set when the feed was disabled: its last fetch (when it was).
    pub disabled_at: Option<DateTime<Utc>>,
}

impl<'r> sqlx::FromRow<'r, sqlx::sqlite::SqliteRow> for FeedHealthRow {
    fn from_row(row: &'r sqlx::sqlite::SqliteRow) -> sqlx::Result<Self> {
        use sqlx::Row;
        Ok(FeedHealthRow {
            feed_id: row.try_get("feed_id")?,
            url: row.try_get("url")?,
            name: row.try_get("name")?,
            error_count: row.try_get("error_count")?,
            last_error: row.try_get("last_error")?,
            failing_since: time_column(row, "failing_since")?,
            items_per_week: row.try_get("items_per_week")?,
            last_item_at: time_column(row, "last_item_at")?,
            disabled_reason: row.try_get("disabled_reason")?,
            disabled_at: time_column(row, "disabled_at")?,
        })
    }
}

/// What the caller builds from the pending matches of one channel.
#[derive(Debug, Clone)]
pub struct NewDigest {
    pub id: String,
    /// The digest as JSON.
    pub content: String,
}

/// One alert's digests to create ([`SqliteStore::create_digests`]): one per
/// channel, from the matches of `topics` pending up to `cut` and the
/// notices (by key) not yet sent to it.
#[derive(Debug, Clone, Copy)]
pub struct DigestBatch<'a> {
    pub alert: &'a str,
    pub channels: &'a [String],
    pub topics: &'a [String],
    pub notices: &'a [String],
    pub state: AlertState,
    pub cut: DateTime<Utc>,
    /// When the digests are created.
    pub now: DateTime<Utc>,
}

/// Builds one channel's digest from its pending matches and the indices of
/// its unsent notices; `None` skips the channel.
pub type BuildDigest<'a> = &'a mut (dyn FnMut(&str, &[PendingMatch], &[usize]) -> Option<NewDigest> + Send);

/// A stored digest.
#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize)]
pub struct DigestRecord {
    pub id: String,
    pub alert: String,
    pub channel: String,
    pub period_start: String,
    pub period_end: String,
    pub created_at: String,
    pub status: String,
    pub attempts: i64,
    pub next_attempt_at: String,
    pub last_error: Option<String>,
    pub delivered_at: Option<String>,
    pub item_count: i64,
    #[serde(skip)]
    pub content: String,
}

/// Where an alert stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AlertState {
    pub created_at: DateTime<Utc>,
    pub last_cut: DateTime<Utc>,
}

const PENDING: &str =
    "SELECT it.item_id, it.topic_id, t.name AS topic, it.matched_at, i.title, i.text, i.url, \
     i.lang, i.published, coalesce(f.name, f.title, f.url) AS outlet, f.url AS feed_url, i.story_id \
     FROM item_topics it JOIN topics t ON t.id = it.topic_id JOIN items i ON i.id = it.item_id \
     JOIN feeds f ON f.id = i.feed_id \
     WHERE it.backfilled = 0";

impl SqliteStore {
    /// The alert's state, created at `now` on first sight (so matches from
    /// before an alert existed are never sent).
    pub async fn alert_state(&self, alert: &str, now: DateTime<Utc>) -> Result<AlertState> {
        let (created, cut): (String, String) = sqlx::query_as(
            "INSERT INTO alert_state (alert, created_at, last_cut) VALUES (?1, ?2, ?2) \
             ON CONFLICT (alert) DO UPDATE SET alert = excluded.alert RETURNING created_at, last_cut",
        )
        .bind(alert)
        .bind(ts(now))
        .fetch_one(&self.write)
        .await?;
        Ok(AlertState {
            created_at: parse_ts(&created).unwrap_or(now),
            last_cut: parse_ts(&cut).unwrap_or(now),
        })
    }

    /// The alert's state as stored, without recording it: an alert not seen
    /// yet is taken as created at `now`, as [`SqliteStore::alert_state`] would
    /// record it. For previews, which must not write.
    pub async fn peek_alert_state(&self, alert: &str, now: DateTime<Utc>) -> Result<AlertState> {
        let stored: Option<(String, String)> =
            sqlx::query_as("SELECT created_at, last_cut FROM alert_state WHERE alert = ?")
                .bind(alert)
                .fetch_optional(&self.read)
                .await?;
        let (created, cut) = stored.unwrap_or_else(|| (ts(now), ts(now)));
        Ok(AlertState {
            created_at: parse_ts(&created).unwrap_or(now),
            last_cut: parse_ts(&cut).unwrap_or(now),
        })
    }

    /// Matches of `topics` not yet in a digest of (`alert`, `channel`),
    /// matched from `since` to `cut` (inclusive; timestamps are whole
    /// seconds), newest first per topic.
    pub async fn pending_matches(
        &self,
        alert: &str,
        channel: &str,
        topics: &[String],
        since: DateTime<Utc>,
        cut: DateTime<Utc>,
    ) -> Result<Vec<PendingMatch>> {
        if topics.is_empty() {
            return Ok(Vec::new());
        }
        let mut q = pending_query(alert, channel, topics, since, cut);
        Ok(q.build_query_as().fetch_all(&self.read).await?)
    }

    /// The keys of the notices already sent to (`alert`, `channel`).
    pub async fn sent_notices(&self, alert: &str, channel: &str) -> Result<HashSet<String>> {
        Ok(
            sqlx::query_scalar("SELECT key FROM digest_notices WHERE alert = ? AND channel = ?")
                .bind(alert)
                .bind(channel)
                .fetch_all(&self.read)
                .await?
                .into_iter()
                .collect(),
        )
    }

    /// Creates, in one transaction, one digest per channel from its pending
    /// matches and the notices (by key: `notices`) not yet sent to it, as
    /// built by `build` (given the indices of those notices),
    /// records the matches and notices each covers and moves the alert's
    /// cut to `cut`. `build` returns `None` to skip a channel (e.g. nothing
    /// to send). Returns the digests created.
    pub async fn create_digests(
        &self,
        batch: &DigestBatch<'_>,
        build: BuildDigest<'_>,
    ) -> Result<Vec<String>> {
        let DigestBatch {
            alert,
            channels,
            topics,
            notices,
            state,
            cut,
            now,
        } = *batch;
        let now = ts(now);
        let mut tx = self.write.begin_with("BEGIN IMMEDIATE").await?;
        let mut created = Vec::new();
        for channel in channels {
            let pending: Vec<PendingMatch> = if topics.is_empty() {
                Vec::new()
            } else {
                let mut q = pending_query(alert, channel, topics, state.created_at, cut);
                q.build_query_as().fetch_all(&mut *tx).await?
            };
            let sent: std::collections::HashSet<String> =
                sqlx::query_scalar("SELECT key FROM digest_notices WHERE alert = ? AND channel = ?")
                    .bind(alert)
                    .bind(channel)
                    .fetch_all(&mut *tx)
                    .await?
                    .into_iter()
                    .collect();
            let fresh: Vec<usize> = (0..notices.len())
                .filter(|&i| !sent.contains(&notices[i]))
                .collect();
            let Some(digest) = build(channel, &pending, &fresh) else {
                continue;
            };
            let items = pending
                .iter()
                .map(|p| p.item_id)
                .collect::<std::collections::HashSet<_>>()
                .len();
            sqlx::query(
                "INSERT INTO digests (id, alert, channel, period_start, period_end, created_at, next_attempt_at, \
                 item_count, content) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            )
            .bind(&digest.id)
            .bind(alert)
            .bind(channel)
            .bind(ts(state.last_cut))
            .bind(ts(cut))
            .bind(&now)
            .bind(&now)
            .bind(items as i64)
            .bind(&digest.content)
            .execute(&mut *tx)
            .await?;
            for p in &pending {
                sqlx::query(
                    "INSERT INTO digest_items (digest_id, alert, channel, item_id, topic_id) VALUES (?, ?, ?, ?, ?)",
                )
                .bind(&digest.id)
                .bind(alert)
                .bind(channel)
                .bind(p.item_id)
                .bind(p.topic_id)
                .execute(&mut *tx)
                .await?;
            }
            for &notice in &fresh {
                sqlx::query(
                    "INSERT INTO digest_notices (digest_id, alert, channel, key) VALUES (?, ?, ?, ?)",
                )
                .bind(&digest.id)
                .bind(alert)
                .bind(channel)
                .bind(&notices[notice])
                .execute(&mut *tx)
                .await?;
            }
            created.push(digest.id);
        }
        sqlx::query("UPDATE alert_state SET last_cut = ? WHERE alert = ?")
            .bind(ts(cut))
            .bind(alert)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(created)
    }

    /// The state of every enabled feed, and of feeds disabled for a reason
    /// (410 Gone), for feed-health notices.
    pub async fn feed_health(&self) -> Result<Vec<FeedHealthRow>> {
        Ok(sqlx::query_as(
            "SELECT f.id AS feed_id, f.url, coalesce(f.name, f.title, f.url) AS name, f.error_count, f.last_error, \
             CASE WHEN f.error_count > 0 THEN coalesce(f.last_success_at, f.created_at) END AS failing_since, \
             f.items_per_week, (SELECT max(s.first_seen_at) FROM item_sources s WHERE s.feed_id = f.id) AS last_item_at, \
             CASE WHEN f.enabled = 0 THEN f.disabled_reason END AS disabled_reason, \
             CASE WHEN f.enabled = 0 THEN coalesce(f.last_fetch_at, f.created_at) END AS disabled_at \
             FROM feeds f WHERE f.enabled = 1 OR f.disabled_reason IS NOT NULL ORDER BY f.url",
        )
        .fetch_all(&self.read)
        .await?)
    }

    /// Pending digests whose next attempt is due.
    pub async fn due_digests(&self, now: DateTime<Utc>, alert: Option<&str>) -> Result<Vec<DigestRecord>> {
        Ok(sqlx::query_as(
            "SELECT * FROM digests WHERE status = 'pending' AND next_attempt_at <= ? \
             AND (? IS NULL OR alert = ?) ORDER BY created_at, id",
        )
        .bind(ts(now))
        .bind(alert)
        .bind(alert)
        .fetch_all(&self.read)
        .await?)
    }

    /// The channel accepted the digest.
    pub async fn mark_delivered(&self, id: &str, at: DateTime<Utc>) -> Result<()> {
        sqlx::query(
            "UPDATE digests SET status = 'delivered', delivered_at = ?, attempts = attempts + 1, \
             last_error = NULL WHERE id = ?",
        )
        .bind(ts(at))
        .bind(id)
        .execute(&self.write)
        .await?;
        Ok(())
    }

    /// An attempt failed: retry at `retry_at`, or give up (`failed`).
    pub async fn mark_attempt_failed(
        &self,
        id: &str,
        error: &str,
        retry_at: DateTime<Utc>,
        failed: bool,
    ) -> Result<()> {
        sqlx::query(
            "UPDATE digests SET attempts = attempts + 1, last_error = ?, next_attempt_at = ?, \
             status = CASE WHEN ? THEN 'failed' ELSE status END WHERE id = ?",
        )
        .bind(error)
        .bind(ts(retry_at))
        .bind(failed)
        .bind(id)
        .execute(&self.write)
        .await?;
        Ok(())
    }

    /// Digests, newest first; only failed ones with `failed_only`.
    pub async fn list_digests(&self, failed_only: bool, limit: u32) -> Result<Vec<DigestRecord>> {
        let mut q: QueryBuilder<Sqlite> = QueryBuilder::new("SELECT * FROM digests");
        if failed_only {
            q.push(" WHERE status = 'failed'");
        }
        q.push(" ORDER BY created_at DESC, id DESC LIMIT ")
            .push_bind(i64::from(limit));
        Ok(q.build_query_as().fetch_all(&self.read).await?)
    }

    /// (channel, status, number of digests), for metrics.
    pub async fn digest_counts(&self) -> Result<Vec<(String, String, i64)>> {
        Ok(sqlx::query_as(
            "SELECT channel, status, count(*) FROM digests GROUP BY channel, status ORDER BY 1, 2",
        )
        .fetch_all(&self.read)
        .await?)
    }

    /// Requeues a failed digest for delivery now; false if there is no
    /// failed digest with that id.
    pub async fn retry_digest(&self, id: &str, now: DateTime<Utc>) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE digests SET status = 'pending', attempts = 0, next_attempt_at = ? \
             WHERE id = ? AND status = 'failed'",
        )
        .bind(ts(now))
        .bind(id)
        .execute(&self.write)
        .await?;
        Ok(done.rows_affected() == 1)
    }
}

fn pending_query<'a>(
    alert: &'a str,
    channel: &'a str,
    topics: &'a [String],
    since: DateTime<Utc>,
    cut: DateTime<Utc>,
) -> QueryBuilder<'a, Sqlite> {
    let mut q: QueryBuilder<Sqlite> = QueryBuilder::new(PENDING);
    q.push(" AND it.matched_at >= ").push_bind(ts(since));
    q.push(" AND it.matched_at <= ").push_bind(ts(cut));
    q.push(" AND t.name IN (");
    let mut names = q.separated(", ");
    for topic in topics {
        names.push_bind(topic.as_str());
    }
    q.push(
        ") AND NOT EXISTS (SELECT 1 FROM digest_items d WHERE d.alert = ",
    )
    .push_bind(alert)
    .push(" AND d.channel = ")
    .push_bind(channel)
    .push(" AND d.item_id = it.item_id AND d.topic_id = it.topic_id) ORDER BY t.name, i.sort_at DESC, i.id DESC");
    q
}
