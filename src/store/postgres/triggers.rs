//! What spike and story alerts read and record, on PostgreSQL: as on
//! SQLite (`store/sqlite/triggers.rs`). Instances observing the same spike
//! open one episode: at most one open episode per (alert, topic) is a
//! unique index, and opening is `INSERT … ON CONFLICT DO NOTHING`.

use sqlx::postgres::PgRow;
use sqlx::{FromRow, Row};

use super::*;
use crate::store::{SpikeEpisode, StoryCopy};
use crate::triggers::Buckets;

impl<'r> FromRow<'r, PgRow> for StoryCopy {
    fn from_row(row: &'r PgRow) -> sqlx::Result<Self> {
        let at: DateTime<Utc> = row.try_get("at")?;
        Ok(StoryCopy {
            story_id: row.try_get("story_id")?,
            headline: row.try_get("headline")?,
            outlet: row.try_get("outlet")?,
            at: whole_seconds(at),
        })
    }
}

impl<'r> FromRow<'r, PgRow> for SpikeEpisode {
    fn from_row(row: &'r PgRow) -> sqlx::Result<Self> {
        let started: DateTime<Utc> = row.try_get("started_at")?;
        let last: DateTime<Utc> = row.try_get("last_spike_at")?;
        let ended: Option<DateTime<Utc>> = row.try_get("ended_at")?;
        Ok(SpikeEpisode {
            id: row.try_get("id")?,
            alert: row.try_get("alert")?,
            topic: row.try_get("topic")?,
            started_at: whole_seconds(started),
            last_spike_at: whole_seconds(last),
            ended_at: ended.map(whole_seconds),
            peak: row.try_get("peak")?,
            notice: row.try_get("notice")?,
        })
    }
}

const EPISODE_COLUMNS: &str = "id, alert, topic, started_at, last_spike_at, ended_at, peak, notice";

impl PgStore {
    /// Per topic of `topics`: its matched items `d` whole seconds old at
    /// `now` (`0 <= d`, by `sort_at`) with `d % step < window`, counted by
    /// window `d / step` (0: the current one) back to `buckets.windows - 1`.
    /// Rows `(topic, window, count)`; empty windows are absent. One range
    /// of `item_topics_volume` per topic and window, or per topic (windows
    /// back to back), as on SQLite: the counts are LATERAL subqueries, so
    /// the planner cannot join the topics' matches by a sequential scan
    /// (which it chose for an alert of every topic: 1.2 s against 0.05 s).
    pub async fn topic_volume(
        &self,
        topics: &[String],
        now: DateTime<Utc>,
        buckets: Buckets,
    ) -> Result<Vec<(String, i64, i64)>> {
        if topics.is_empty() {
            return Ok(Vec::new());
        }
        let now = whole_seconds(now);
        if buckets.contiguous() {
            return Ok(sqlx::query_as(
                "SELECT t.name, c.bucket, c.n FROM topics t CROSS JOIN LATERAL ( \
                     SELECT floor(extract(epoch FROM $2 - it.sort_at))::bigint / $4 AS bucket, count(*) AS n \
                     FROM item_topics it WHERE it.topic_id = t.id AND it.sort_at > $3 AND it.sort_at <= $2 \
                     GROUP BY 1) c \
                 WHERE t.name = ANY($1)",
            )
            .bind(topics)
            .bind(now)
            .bind(buckets.since(now))
            .bind(buckets.step_secs as i64)
            .fetch_all(&self.pool)
            .await?);
        }
        let ranges = buckets.ranges(now);
        let ks: Vec<i64> = ranges.iter().map(|r| r.0).collect();
        let afters: Vec<DateTime<Utc>> = ranges.iter().map(|r| r.1).collect();
        let up_tos: Vec<DateTime<Utc>> = ranges.iter().map(|r| r.2).collect();
        Ok(sqlx::query_as(
            "SELECT t.name, w.k AS bucket, c.n \
             FROM topics t CROSS JOIN unnest($2::bigint[], $3::timestamptz[], $4::timestamptz[]) AS w (k, after, up_to) \
             CROSS JOIN LATERAL (SELECT count(*) AS n FROM item_topics it \
                 WHERE it.topic_id = t.id AND it.sort_at > w.after AND it.sort_at <= w.up_to) c \
             WHERE t.name = ANY($1) AND c.n > 0",
        )
        .bind(topics)
        .bind(&ks)
        .bind(&afters)
        .bind(&up_tos)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Every outlet's copy of the stories of items matching `topics` whose
    /// time (`sort_at`) is at or after `since`, of matches made at or after
    /// `matched_since` and not by a backfill (see the SQLite backend).
    pub async fn story_copies(
        &self,
        topics: &[String],
        since: DateTime<Utc>,
        matched_since: DateTime<Utc>,
    ) -> Result<Vec<StoryCopy>> {
        if topics.is_empty() {
            return Ok(Vec::new());
        }
        Ok(sqlx::query_as(
            "SELECT DISTINCT i.story_id, s.headline, coalesce(f.name, f.title, f.url) AS outlet, \
             CASE WHEN src.feed_id = i.feed_id THEN i.sort_at ELSE greatest(i.sort_at, src.first_seen_at) END AS at \
             FROM topics t JOIN item_topics it ON it.topic_id = t.id \
             JOIN items i ON i.id = it.item_id JOIN stories s ON s.id = i.story_id \
             JOIN item_sources src ON src.item_id = i.id JOIN feeds f ON f.id = src.feed_id \
             WHERE NOT it.backfilled AND t.name = ANY($1) AND it.sort_at >= $2 AND it.matched_at >= $3",
        )
        .bind(topics)
        .bind(whole_seconds(since))
        .bind(whole_seconds(matched_since))
        .fetch_all(&self.pool)
        .await?)
    }

    /// The episodes of `alert` still open.
    pub async fn open_spikes(&self, alert: &str) -> Result<Vec<SpikeEpisode>> {
        Ok(sqlx::query_as(&format!(
            "SELECT {EPISODE_COLUMNS} FROM spike_episodes WHERE alert = $1 AND ended_at IS NULL ORDER BY id"
        ))
        .bind(alert)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Opens an episode of (`alert`, `topic`) at `at` unless one is open
    /// (this instance's or another's); whether this call opened it.
    pub async fn open_spike(
        &self,
        alert: &str,
        topic: &str,
        at: DateTime<Utc>,
        peak: i64,
        notice: &str,
    ) -> Result<bool> {
        let done = sqlx::query(
            "INSERT INTO spike_episodes (alert, topic, started_at, last_spike_at, peak, notice) \
             VALUES ($1, $2, $3, $3, $4, $5) \
             ON CONFLICT DO NOTHING",
        )
        .bind(alert)
        .bind(topic)
        .bind(whole_seconds(at))
        .bind(peak)
        .bind(notice)
        .execute(&self.pool)
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
            "UPDATE spike_episodes SET peak = greatest(peak, $1), last_spike_at = coalesce($2, last_spike_at), \
             ended_at = $3 WHERE id = $4 AND ended_at IS NULL",
        )
        .bind(count)
        .bind(spiking_at.map(whole_seconds))
        .bind(ended_at.map(whole_seconds))
        .bind(id)
        .execute(&self.pool)
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
            "SELECT {EPISODE_COLUMNS} FROM spike_episodes WHERE started_at >= $1 \
             AND ($2::text IS NULL OR alert = $2) AND ($3::text IS NULL OR topic = $3) \
             ORDER BY started_at, id"
        ))
        .bind(whole_seconds(since))
        .bind(alert)
        .bind(topic)
        .fetch_all(&self.pool)
        .await?)
    }
}
