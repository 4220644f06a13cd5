//! The digest outbox on PostgreSQL: digests built (with the matches and
//! notices they cover) in one transaction per alert, then delivered with
//! their attempts tracked, as on SQLite. Several instances share it: an
//! alert's digests are created under a lock of that alert (so a match
//! reaches each channel in one digest only), and a digest is claimed by the
//! instance delivering it (so no two deliver it at once; a claim its holder
//! did not end, because it died, expires and the digest is retried).

use sqlx::postgres::PgRow;
use sqlx::{FromRow, PgConnection, Row};

use super::*;

/// How long a claim of [`PgStore::due_digests`] keeps other instances off
/// the digests it returned: longer than their delivery (one channel's
/// digests, one after another, each bounded by `fetch.timeout`) takes.
const DIGEST_CLAIM: chrono::Duration = chrono::Duration::minutes(10);

/// The columns of a [`DigestRecord`], as SQLite gives them (times as text).
const DIGEST_COLUMNS: &str = "id, alert, channel, fw_ts(period_start) AS period_start, \
     fw_ts(period_end) AS period_end, fw_ts(created_at) AS created_at, status, attempts::bigint AS attempts, \
     fw_ts(next_attempt_at) AS next_attempt_at, last_error, fw_ts(delivered_at) AS delivered_at, \
     item_count::bigint AS item_count, content";

/// Matches of topics `$5` not yet in a digest of (`$1`, `$2`), matched from
/// `$3` (whole seconds) to before `$4` (the cut's next second, so that the
/// cut's whole second is in, as in SQLite's comparison of stored text), by
/// topic name (bytes, as SQLite's `BINARY`), newest first.
const PENDING: &str =
    "SELECT it.item_id, it.topic_id, t.name AS topic, it.matched_at, i.title, i.text, i.url, \
     i.lang, i.published, coalesce(f.name, f.title, f.url) AS outlet, f.url AS feed_url, i.story_id \
     FROM item_topics it JOIN topics t ON t.id = it.topic_id JOIN items i ON i.id = it.item_id \
     JOIN feeds f ON f.id = i.feed_id \
     WHERE NOT it.backfilled AND it.matched_at >= $3 AND it.matched_at < $4 AND t.name = ANY($5) \
     AND NOT EXISTS (SELECT 1 FROM digest_items d WHERE d.alert = $1 AND d.channel = $2 \
         AND d.item_id = it.item_id AND d.topic_id = it.topic_id) \
     ORDER BY t.name COLLATE \"C\", date_trunc('second', i.sort_at) DESC, i.id DESC";

impl<'r> FromRow<'r, PgRow> for PendingMatch {
    fn from_row(row: &'r PgRow) -> sqlx::Result<Self> {
        let matched_at: DateTime<Utc> = row.try_get("matched_at")?;
        let published: Option<DateTime<Utc>> = row.try_get("published")?;
        Ok(PendingMatch {
            item_id: row.try_get("item_id")?,
            topic_id: row.try_get("topic_id")?,
            topic: row.try_get("topic")?,
            matched_at: whole_seconds(matched_at),
            title: row.try_get("title")?,
            text: row.try_get("text")?,
            url: row.try_get("url")?,
            lang: row.try_get("lang")?,
            published: published.map(whole_seconds),
            outlet: row.try_get("outlet")?,
            feed_url: row.try_get("feed_url")?,
            story_id: row.try_get("story_id")?,
        })
    }
}

/// The pending matches of (`alert`, `channel`) (see [`PENDING`]).
async fn pending(
    conn: &mut PgConnection,
    alert: &str,
    channel: &str,
    topics: &[String],
    since: DateTime<Utc>,
    cut: DateTime<Utc>,
) -> Result<Vec<PendingMatch>> {
    if topics.is_empty() {
        return Ok(Vec::new());
    }
    Ok(sqlx::query_as(PENDING)
        .bind(alert)
        .bind(channel)
        .bind(whole_seconds(since))
        .bind(whole_seconds(cut) + chrono::Duration::seconds(1))
        .bind(topics)
        .fetch_all(conn)
        .await?)
}

/// The keys of the notices already sent to (`alert`, `channel`).
async fn sent(conn: &mut PgConnection, alert: &str, channel: &str) -> Result<HashSet<String>> {
    Ok(
        sqlx::query_scalar("SELECT key FROM digest_notices WHERE alert = $1 AND channel = $2")
            .bind(alert)
            .bind(channel)
            .fetch_all(conn)
            .await?
            .into_iter()
            .collect(),
    )
}

fn alert_state_of((created, cut): (DateTime<Utc>, DateTime<Utc>)) -> AlertState {
    AlertState {
        created_at: whole_seconds(created),
        last_cut: whole_seconds(cut),
    }
}

impl PgStore {
    /// The alert's state, created at `now` on first sight (so matches from
    /// before an alert existed are never sent).
    pub async fn alert_state(&self, alert: &str, now: DateTime<Utc>) -> Result<AlertState> {
        let stored: (DateTime<Utc>, DateTime<Utc>) = sqlx::query_as(
            "INSERT INTO alert_state (alert, created_at, last_cut) VALUES ($1, $2, $2) \
             ON CONFLICT (alert) DO UPDATE SET alert = excluded.alert RETURNING created_at, last_cut",
        )
        .bind(alert)
        .bind(whole_seconds(now))
        .fetch_one(&self.pool)
        .await?;
        Ok(alert_state_of(stored))
    }

    /// The alert's state as stored, without recording it: an alert not seen
    /// yet is taken as created at `now`, as [`PgStore::alert_state`] would
    /// record it. For previews, which must not write.
    pub async fn peek_alert_state(&self, alert: &str, now: DateTime<Utc>) -> Result<AlertState> {
        let stored: Option<(DateTime<Utc>, DateTime<Utc>)> =
            sqlx::query_as("SELECT created_at, last_cut FROM alert_state WHERE alert = $1")
                .bind(alert)
                .fetch_optional(&self.pool)
                .await?;
        Ok(alert_state_of(stored.unwrap_or((now, now))))
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
        let mut conn = self.pool.acquire().await?;
        pending(&mut conn, alert, channel, topics, since, cut).await
    }

    /// The keys of the notices already sent to (`alert`, `channel`).
    pub async fn sent_notices(&self, alert: &str, channel: &str) -> Result<HashSet<String>> {
        let mut conn = self.pool.acquire().await?;
        sent(&mut conn, alert, channel).await
    }

    /// Creates, in one transaction, one digest per channel from its pending
    /// matches and the notices (by key: `notices`) not yet sent to it, as
    /// built by `build` (given the indices of those notices), records the
    /// matches and notices each covers and moves the alert's cut to `cut`.
    /// `build` returns `None` to skip a channel (e.g. nothing to send).
    /// Returns the ids of the digests created.
    ///
    /// Instances creating the same alert's digests take turns (an advisory
    /// lock of the alert, held by the transaction), so a match or notice
    /// goes into one digest per channel (the unique keys of `digest_items`
    /// and `digest_notices` stand behind that). When the alert's stored cut
    /// is no longer `batch.state`'s, another instance has cut the period
    /// since the caller read it: nothing is created (not even an empty
    /// digest for the same period).
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
        let now = whole_seconds(now);
        let mut tx = self.pool.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock($1, hashtext($2))")
            .bind(super::locks::ALERTS)
            .bind(alert)
            .execute(&mut *tx)
            .await?;
        let stored: Option<DateTime<Utc>> =
            sqlx::query_scalar("SELECT last_cut FROM alert_state WHERE alert = $1")
                .bind(alert)
                .fetch_optional(&mut *tx)
                .await?;
        if stored.is_some_and(|stored| whole_seconds(stored) != whole_seconds(state.last_cut)) {
            tx.rollback().await?;
            return Ok(Vec::new());
        }
        let mut created = Vec::new();
        for channel in channels {
            let pending = pending(&mut tx, alert, channel, topics, state.created_at, cut).await?;
            let sent = sent(&mut tx, alert, channel).await?;
            let fresh: Vec<usize> = (0..notices.len())
                .filter(|&i| !sent.contains(&notices[i]))
                .collect();
            let Some(digest) = build(channel, &pending, &fresh) else {
                continue;
            };
            let items = pending.iter().map(|p| p.item_id).collect::<HashSet<_>>().len();
            sqlx::query(
                "INSERT INTO digests (id, alert, channel, period_start, period_end, created_at, next_attempt_at, \
                 item_count, content) VALUES ($1, $2, $3, $4, $5, $6, $6, $7, $8)",
            )
            .bind(&digest.id)
            .bind(alert)
            .bind(channel)
            .bind(whole_seconds(state.last_cut))
            .bind(whole_seconds(cut))
            .bind(now)
            .bind(i32::try_from(items).unwrap_or(i32::MAX))
            .bind(&digest.content)
            .execute(&mut *tx)
            .await?;
            let (item_ids, topic_ids): (Vec<i64>, Vec<i64>) =
                pending.iter().map(|p| (p.item_id, p.topic_id)).unzip();
            sqlx::query(
                "INSERT INTO digest_items (digest_id, alert, channel, item_id, topic_id) \
                 SELECT $1, $2, $3, v.item_id, v.topic_id FROM unnest($4::bigint[], $5::bigint[]) AS v (item_id, topic_id)",
            )
            .bind(&digest.id)
            .bind(alert)
            .bind(channel)
            .bind(&item_ids)
            .bind(&topic_ids)
            .execute(&mut *tx)
            .await?;
            let keys: Vec<&str> = fresh.iter().map(|&i| notices[i].as_str()).collect();
            sqlx::query(
                "INSERT INTO digest_notices (digest_id, alert, channel, key) \
                 SELECT $1, $2, $3, v.key FROM unnest($4::text[]) AS v (key)",
            )
            .bind(&digest.id)
            .bind(alert)
            .bind(channel)
            .bind(&keys)
            .execute(&mut *tx)
            .await?;
            created.push(digest.id);
        }
        sqlx::query("UPDATE alert_state SET last_cut = $1 WHERE alert = $2")
            .bind(whole_seconds(cut))
            .bind(alert)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(created)
    }

    /// Pending digests whose next attempt is due (at `now`, which may be a
    /// later horizon than the clock's now), oldest first, claimed by this
    /// instance for [`DIGEST_CLAIM`] from the clock's now: digests another
    /// instance has claimed and not yet marked are left out (it is
    /// delivering them) until that claim ends; rows another instance is
    /// claiming at the same moment are skipped. [`PgStore::mark_delivered`]
    /// and [`PgStore::mark_attempt_failed`] end the claim.
    pub async fn due_digests(&self, now: DateTime<Utc>, alert: Option<&str>) -> Result<Vec<DigestRecord>> {
        let clock = self.clock.now();
        Ok(sqlx::query_as(&format!(
            "WITH due AS MATERIALIZED ( \
                 SELECT id FROM digests \
                 WHERE status = 'pending' AND next_attempt_at <= $1 \
                   AND (claimed_until IS NULL OR claimed_until < $2) AND ($5::text IS NULL OR alert = $5) \
                 ORDER BY created_at, id COLLATE \"C\" \
                 FOR UPDATE SKIP LOCKED), \
             claimed AS ( \
                 UPDATE digests d SET claimed_by = $3, claimed_until = $4 FROM due WHERE d.id = due.id \
                 RETURNING d.*) \
             SELECT {DIGEST_COLUMNS} FROM claimed ORDER BY created_at, id COLLATE \"C\""
        ))
        .bind(whole_seconds(now))
        .bind(clock)
        .bind(&*self.instance)
        .bind(clock + DIGEST_CLAIM)
        .bind(alert)
        .fetch_all(&self.pool)
        .await?)
    }

    /// The channel accepted the digest; its claim ends.
    pub async fn mark_delivered(&self, id: &str, at: DateTime<Utc>) -> Result<()> {
        sqlx::query(
            "UPDATE digests SET status = 'delivered', delivered_at = $1, attempts = attempts + 1, \
             last_error = NULL, claimed_by = NULL, claimed_until = NULL WHERE id = $2",
        )
        .bind(whole_seconds(at))
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// An attempt failed: retry at `retry_at`, or give up (`failed`); its
    /// claim ends.
    pub async fn mark_attempt_failed(
        &self,
        id: &str,
        error: &str,
        retry_at: DateTime<Utc>,
        failed: bool,
    ) -> Result<()> {
        sqlx::query(
            "UPDATE digests SET attempts = attempts + 1, last_error = $1, next_attempt_at = $2, \
             status = CASE WHEN $3 THEN 'failed' ELSE status END, claimed_by = NULL, claimed_until = NULL \
             WHERE id = $4",
        )
        .bind(error)
        .bind(whole_seconds(retry_at))
        .bind(failed)
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Digests, newest first; only failed ones with `failed_only`.
    pub async fn list_digests(&self, failed_only: bool, limit: u32) -> Result<Vec<DigestRecord>> {
        Ok(sqlx::query_as(&format!(
            "SELECT {DIGEST_COLUMNS} FROM digests WHERE status = 'failed' OR NOT $1 \
             ORDER BY created_at DESC, id COLLATE \"C\" DESC LIMIT $2"
        ))
        .bind(failed_only)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?)
    }

    /// (channel, status, number of digests), for metrics.
    pub async fn digest_counts(&self) -> Result<Vec<(String, String, i64)>> {
        Ok(sqlx::query_as(
            "SELECT channel, status, count(*) FROM digests GROUP BY channel, status \
             ORDER BY channel COLLATE \"C\", status COLLATE \"C\"",
        )
        .fetch_all(&self.pool)
        .await?)
    }

    /// Requeues a failed digest for delivery now; false if there is no
    /// failed digest with that id.
    pub async fn retry_digest(&self, id: &str, now: DateTime<Utc>) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE digests SET status = 'pending', attempts = 0, next_attempt_at = $1, \
             claimed_by = NULL, claimed_until = NULL WHERE id = $2 AND status = 'failed'",
        )
        .bind(whole_seconds(now))
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }
}
