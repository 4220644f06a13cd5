//! What spike and story alerts read and record: a topic's volume per
//! window (a range of `item_topics_volume` per topic, never a scan of its
//! matches), the copies of recent stories, and spike episodes.

use chrono::{DateTime, Utc};
use sqlx::{QueryBuilder, Sqlite};

use super::{parse_ts, time_column, ts, Result, SqliteStore};
use crate::triggers::Buckets;

/// One outlet's copy of a story among a topic's matches
/// ([`SqliteStore::story_copies`]).
#[derive(Debug, Clone, PartialEq)]
pub struct StoryCopy {
    pub story_id: i64,
    pub headline: String,
    pub outlet: String,
    pub at: DateTime<Utc>,
}

impl<'r> sqlx::FromRow<'r, sqlx::sqlite::SqliteRow> for StoryCopy {
    fn from_row(row: &'r sqlx::sqlite::SqliteRow) -> sqlx::Result<Self> {
        use sqlx::Row;
        Ok(StoryCopy {
            story_id: row.try_get("story_id")?,
            headline: row.try_get("headline")?,
            outlet: row.try_get("outlet")?,
            at: time_column(row, "at")?.ok_or_else(|| sqlx::Error::ColumnDecode {
                index: "at".into(),
                source: "not a time".into(),
            })?,
        })
    }
}

/// A spike episode as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct SpikeEpisode {
    pub id: i64,
    pub alert: String,
    pub topic: String,
    pub started_at: DateTime<Utc>,
    /// The last verdict at or above the threshold.
    pub last_spike_at: DateTime<Utc>,
    /// `None` while it lasts.
    pub ended_at: Option<DateTime<Utc>>,
    /// The highest count of a window while it lasted.
    pub peak: i64,
    /// The notice as first reported (JSON).
    pub notice: String,
}

impl<'r> sqlx::FromRow<'r, sqlx::sqlite::SqliteRow> for SpikeEpisode {
    fn from_row(row: &'r sqlx::sqlite::SqliteRow) -> sqlx::Result<Self> {
        use sqlx::Row;
        let started: String = row.try_get("started_at")?;
        Ok(SpikeEpisode {
            id: row.try_get("id")?,
            alert: row.try_get("alert")?,
            topic: row.try_get("topic")?,
            started_at: parse_ts(&started).ok_or_else(|| sqlx::Error::ColumnDecode {
                index: "started_at".into(),
                source: format!("not a time: {started:?}").into(),
            })?,
            last_spike_at: time_column(row, "last_spike_at")?.ok_or_else(|| sqlx::Error::ColumnDecode {
                index: "last_spike_at".into(),
                source: "not a time".into(),
            })?,
            ended_at: time_column(row, "ended_at")?,
            peak: row.try_get("peak")?,
            notice: row.try_get("notice")?,
        })
    }
}

const EPISODE_COLUMNS: &str = "id, alert, topic, started_at, last_spike_at, ended_at, peak, notice";

impl SqliteStore {
    /// Per topic of `topics`: its matched items `d` whole seconds old at
    /// `now` (`0 <= d`, by `sort_at`) with `d % step < window`, counted by
    /// window `d / step` (0: the current one) back to `buckets.windows - 1`.
    /// Rows `(topic, window, count)`; empty windows are absent. One range
    /// of `item_topics_volume` per topic and window (windows with gaps
    /// between them: an hour on each of 14 days), or per topic (windows
    /// back to back).
    pub async fn topic_volume(
        &self,
        topics: &[String],
        now: DateTime<Utc>,
        buckets: Buckets,
    ) -> Result<Vec<(String, i64, i64)>> {
        if topics.is_empty() {
            return Ok(Vec::new());
        }
        let mut q: QueryBuilder<Sqlite> = if buckets.contiguous() {
            let mut q = QueryBuilder::new("SELECT t.name, (");
            q.push_bind(now.timestamp())
                .push(" - unixepoch(it.sort_at)) / ")
                .push_bind(buckets.step_secs as i64)
                .push(
                    " AS bucket, count(*) FROM topics t \
                     JOIN item_topics it INDEXED BY item_topics_volume ON it.topic_id = t.id \
                     AND it.sort_at > ",
                )
                .push_bind(ts(buckets.since(now)))
                .push(" AND it.sort_at <= ")
                .push_bind(ts(now))
                .push(" WHERE t.name IN (");
            q
        } else {
            let mut q = QueryBuilder::new("WITH w (k, after, up_to) AS (VALUES ");
            let mut rows = q.separated(", ");
            for (k, after, up_to) in buckets.ranges(now) {
                rows.push("(")
                    .push_bind_unseparated(k)
                    .push_unseparated(", ")
                    .push_bind_unseparated(ts(after))
                    .push_unseparated(", ")
                    .push_bind_unseparated(ts(up_to))
                    .push_unseparated(")");
            }
            q.push(
                ") SELECT t.name, w.k AS bucket, count(*) FROM topics t CROSS JOIN w \
                 JOIN item_topics it INDEXED BY item_topics_volume ON it.topic_id = t.id \
                 AND it.sort_at > w.after AND it.sort_at <= w.up_to WHERE t.name IN (",
            );
            q
        };
        let mut names = q.separated(", ");
        for topic in topics {
            names.push_bind(topic.as_str());
        }
        q.push(") GROUP BY t.name, bucket");
        Ok(q.build_query_as().fetch_all(&self.read).await?)
    }

    /// Every outlet's copy of the stories of items matching `topics` whose
    /// time (`sort_at`) is at or after `since`, of matches made at or after
    /// `matched_since` and not by a backfill. A copy's time is the item's
    /// for its first feed, and when another feed first listed it (not
    /// before the item's time) for that feed.
    pub async fn story_copies(
        &self,
        topics: &[String],
        since: DateTime<Utc>,
        matched_since: DateTime<Utc>,
    ) -> Result<Vec<StoryCopy>> {
        if topics.is_empty() {
            return Ok(Vec::new());
        }
        let mut q: QueryBuilder<Sqlite> = QueryBuilder::new(
            "SELECT DISTINCT i.story_id, s.headline, coalesce(f.name, f.title, f.url) AS outlet, \
             CASE WHEN src.feed_id = i.feed_id THEN i.sort_at ELSE max(i.sort_at, src.first_seen_at) END AS at \
             FROM topics t JOIN item_topics it INDEXED BY item_topics_volume ON it.topic_id = t.id \
             JOIN items i ON i.id = it.item_id JOIN stories s ON s.id = i.story_id \
             JOIN item_sources src ON src.item_id = i.id JOIN feeds f ON f.id = src.feed_id \
             WHERE it.backfilled = 0 AND t.name IN (",
        );
        let mut names = q.separated(", ");
        for topic in topics {
            names.push_bind(topic.as_str());
        }
        q.push(") AND it.sort_at >= ")
            .push_bind(ts(since))
            .push(" AND it.matched_at >= ")
            .push_bind(ts(matched_since));
        Ok(q.build_query_as().fetch_all(&self.read).await?)
    }

    /// The episodes of `alert` still open.
    pub async fn open_spikes(&self, alert: &str) -> Result<Vec<SpikeEpisode>> {
        Ok(sqlx::query_as(&format!(
            "SELECT {EPISODE_COLUMNS} FROM spike_episodes WHERE alert = ? AND ended_at IS NULL ORDER BY id"
        ))
        .bind(alert)
        .fetch_all(&self.read)
        .await?)
    }

    /// Opens an episode of (`alert`, `topic`) at `at` unless one is open;
    /// whether this call opened it.
    pub async fn open_spike(
        &self,
        alert: &str,
        topic: &str,
        at: DateTime<Utc>,
        peak: i64,
        notice: &str,
    ) -> Result<bool> {
        let done = sqlx::query(
            "INSERT INTO spike_episodes (alert, topic, started_at, last_spike_at, peak, notice) VALUES (?1, ?2, ?3, ?3, ?4, ?5) \
             ON CONFLICT DO NOTHING",
        )
        .bind(alert)
        .bind(topic)
        .bind(ts(at))
        .bind(peak)
        .bind(notice)
        .execute(&self.write)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// The open episode `id` goes on with a window of `count`, spiking at
    /// `spiking_at` when it is, or ends at `ended_at`.
    pub async fn advance_spike(
        &self,
        id: i64,
        count: i64,
        spiking_at: Option<DateTime<Utc>>,
        ended_at: Option<DateTime<Utc>>,
    ) -> Result<()> {
        sqlx::query(
            "UPDATE spike_episodes SET peak = max(peak, ?), last_spike_at = coalesce(?, last_spike_at), \
             ended_at = ? WHERE id = ? AND ended_at IS NULL",
        )
        .bind(count)
        .bind(spiking_at.map(ts))
        .bind(ended_at.map(ts))
        .bind(id)
        .execute(&self.write)
        .await?;
        Ok(())
    }

    /// Episodes begun at or after `since`, of `alert` and of `topic` when
    /// given, oldest first.
    pub async fn spike_episodes(
        &self,
        alert: Option<&str>,
        topic: Option<&str>,
        since: DateTime<Utc>,
    ) -> Result<Vec<SpikeEpisode>> {
        Ok(sqlx::query_as(&format!(
            "SELECT {EPISODE_COLUMNS} FROM spike_episodes WHERE started_at >= ?1 \
             AND (?2 IS NULL OR alert = ?2) AND (?3 IS NULL OR topic = ?3) ORDER BY started_at, id"
        ))
        .bind(ts(since))
        .bind(alert)
        .bind(topic)
        .fetch_all(&self.read)
        .await?)
    }
}
