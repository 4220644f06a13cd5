//! Feed rows on PostgreSQL: configured and added feeds, their fetch state,
//! and the shared job queue: due feeds leased to one instance at a time
//! (`FOR UPDATE SKIP LOCKED`, a lease that expires with its holder). The
//! per-host politeness every instance keeps is in `hosts.rs`.

use std::collections::HashMap;

use sqlx::postgres::PgRow;
use sqlx::{FromRow, Row};

use super::*;

/// The columns of a [`FeedRow`] of the feed `f`, as SQLite gives them: times
/// as `YYYY-MM-DDTHH:MM:SSZ` text, tags as a JSON array.
pub(super) const FEED_COLUMNS: &str = "f.id, f.url, f.name, f.title, f.site_url, f.etag, f.last_modified, \
     fw_ts(f.last_fetch_at) AS last_fetch_at, fw_ts(f.last_success_at) AS last_success_at, \
     f.last_status::bigint AS last_status, f.last_error, f.error_count::bigint AS error_count, \
     (SELECT count(*) FROM item_sources s WHERE s.feed_id = f.id) AS item_count, \
     f.enabled, f.disabled_reason, f.fetch_url, fw_ts(f.next_check_at) AS next_check_at, f.check_interval, \
     f.items_per_week, f.poll_count, f.error_kind, f.warning, f.source, to_json(f.tags)::text AS tags, \
     f.full_text";

/// SQLite's `COLLATE NOCASE` (ASCII letters folded, then bytes compared)
/// of `coalesce(f.name, f.title, f.url)`, whatever the database's locale.
const NAME_NOCASE: &str = "translate(coalesce(f.name, f.title, f.url), 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', \
     'abcdefghijklmnopqrstuvwxyz') COLLATE \"C\"";

impl<'r> FromRow<'r, PgRow> for QueueEntry {
    fn from_row(row: &'r PgRow) -> sqlx::Result<Self> {
        let next_check_at: Option<DateTime<Utc>> = row.try_get("next_check_at")?;
        Ok(QueueEntry {
            id: row.try_get("id")?,
            url: row.try_get("url")?,
            source: row.try_get("source")?,
            next_check_at: next_check_at.map(whole_seconds),
            fetch_url: row.try_get("fetch_url")?,
        })
    }
}

impl<'r> FromRow<'r, PgRow> for FeedHealthRow {
    fn from_row(row: &'r PgRow) -> sqlx::Result<Self> {
        let time = |column: &str| -> sqlx::Result<Option<DateTime<Utc>>> {
            Ok(row
                .try_get::<Option<DateTime<Utc>>, _>(column)?
                .map(whole_seconds))
        };
        Ok(FeedHealthRow {
            feed_id: row.try_get("feed_id")?,
            url: row.try_get("url")?,
            name: row.try_get("name")?,
            error_count: row.try_get("error_count")?,
            last_error: row.try_get("last_error")?,
            failing_since: time("failing_since")?,
            items_per_week: row.try_get("items_per_week")?,
            last_item_at: time("last_item_at")?,
            disabled_reason: row.try_get("disabled_reason")?,
            disabled_at: time("disabled_at")?,
        })
    }
}

impl PgStore {
    /// Makes sure every configured feed has a row (matched by URL) and its
    /// configured name is current; returns the rows in config order.
    ///
    /// Every instance runs it at start-up: they take turns (an advisory
    /// lock held by the transaction), so instances starting together
    /// neither duplicate a row nor fail on the URL's uniqueness, and a
    /// feed id is drawn only for a row that is inserted.
    pub async fn sync_feeds(&self, feeds: &[FeedConfig]) -> Result<Vec<FeedRow>> {
        // A URL listed twice takes its last name, as upserts in order would.
        let mut urls: Vec<String> = Vec::with_capacity(feeds.len());
        let mut names: HashMap<&str, Option<&str>> = HashMap::with_capacity(feeds.len());
        for feed in feeds {
            if names.insert(&feed.url, feed.name.as_deref()).is_none() {
                urls.push(feed.url.clone());
            }
        }
        let names: Vec<Option<&str>> = urls.iter().map(|u| names[u.as_str()]).collect();
        let now = whole_seconds(self.clock.now());
        let mut tx = self.pool.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock($1, $2)")
            .bind(super::locks::SYNC_FEEDS)
            .bind(0)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO feeds (url, name, created_at) \
             SELECT v.url, v.name, $3 FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS v (url, name, n) \
             WHERE NOT EXISTS (SELECT 1 FROM feeds f WHERE f.url = v.url) ORDER BY v.n \
             ON CONFLICT (url) DO NOTHING",
        )
        .bind(&urls)
        .bind(&names)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE feeds f SET name = v.name FROM unnest($1::text[], $2::text[]) AS v (url, name) \
             WHERE f.url = v.url AND f.name IS DISTINCT FROM v.name",
        )
        .bind(&urls)
        .bind(&names)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        let urls: Vec<String> = feeds.iter().map(|f| f.url.clone()).collect();
        self.feeds_in(&urls).await
    }

    /// The stored rows of the given feed URLs, in the given order; URLs
    /// without a row are left out.
    pub async fn feeds_in(&self, urls: &[String]) -> Result<Vec<FeedRow>> {
        if urls.is_empty() {
            return Ok(Vec::new());
        }
        let rows: Vec<FeedRow> = sqlx::query_as(&format!(
            "SELECT {FEED_COLUMNS} FROM feeds f WHERE f.url = ANY($1)"
        ))
        .bind(urls)
        .fetch_all(&self.pool)
        .await?;
        let mut by_url: HashMap<String, FeedRow> = rows.into_iter().map(|f| (f.url.clone(), f)).collect();
        Ok(urls.iter().filter_map(|u| by_url.remove(u)).collect())
    }

    /// Every stored feed's URL, name and tags (of an added feed; configured
    /// feeds keep theirs in the config): what `feed:` filters need, without
    /// the per-feed item counts of [`PgStore::list_feeds`]. By id.
    pub async fn feed_labels(&self) -> Result<Vec<(String, Option<String>, Vec<String>)>> {
        Ok(sqlx::query_as("SELECT url, name, tags FROM feeds ORDER BY id")
            .fetch_all(&self.pool)
            .await?)
    }

    /// All stored feeds, by name as shown (configured name, else the
    /// feed's title, else its URL; ASCII letters case-insensitive, as
    /// SQLite's `NOCASE`), then URL.
    pub async fn list_feeds(&self) -> Result<Vec<FeedRow>> {
        Ok(sqlx::query_as(&format!(
            "SELECT {FEED_COLUMNS} FROM feeds f ORDER BY {NAME_NOCASE}, f.url COLLATE \"C\""
        ))
        .fetch_all(&self.pool)
        .await?)
    }

    /// Whether the database can be written again after a failure: one
    /// small real write (a feed row rewritten unchanged, in its own
    /// transaction), so that a lost or read-only server is noticed without
    /// fetching a feed to find out.
    pub async fn probe_write(&self) -> Result<()> {
        sqlx::query("UPDATE feeds SET next_check_at = next_check_at WHERE id = (SELECT min(id) FROM feeds)")
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The scheduling state of every enabled feed, in the order SQLite's
    /// index gives them: never checked first, then by when due, then by id.
    pub async fn queue(&self) -> Result<Vec<QueueEntry>> {
        Ok(sqlx::query_as(
            "SELECT id, url, source, next_check_at, fetch_url FROM feeds WHERE enabled \
             ORDER BY next_check_at NULLS FIRST, id",
        )
        .fetch_all(&self.pool)
        .await?)
    }

    /// The rows of the given feed ids, by id.
    pub async fn feeds_by_id(&self, ids: &[i64]) -> Result<Vec<FeedRow>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        Ok(sqlx::query_as(&format!(
            "SELECT {FEED_COLUMNS} FROM feeds f WHERE f.id = ANY($1) ORDER BY f.id"
        ))
        .bind(ids)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Polls a disabled feed again, from now on.
    pub async fn enable_feed(&self, url: &str) -> std::result::Result<(), FeedChangeError> {
        let done = sqlx::query(
            "UPDATE feeds SET enabled = true, disabled_reason = NULL, next_check_at = NULL, error_count = 0, \
             error_kind = NULL, last_error = NULL WHERE url = $1",
        )
        .bind(url)
        .execute(&self.pool)
        .await
        .map_err(StoreError::from)?;
        if done.rows_affected() == 0 {
            return Err(FeedChangeError::Unknown(url.to_string()));
        }
        Ok(())
    }

    /// Adds a feed outside the config file (`feeds add`, `opml import`).
    pub async fn add_feed(
        &self,
        url: &str,
        name: Option<&str>,
        tags: &[String],
        full_text: Option<FullText>,
    ) -> std::result::Result<(), FeedChangeError> {
        // `NOT EXISTS` first: a present feed draws no id.
        let done = sqlx::query(
            "INSERT INTO feeds (url, name, created_at, source, tags, full_text) \
             SELECT $1, $2, $3, 'added', $4, $5 WHERE NOT EXISTS (SELECT 1 FROM feeds WHERE url = $1) \
             ON CONFLICT (url) DO NOTHING",
        )
        .bind(url)
        .bind(name)
        .bind(whole_seconds(self.clock.now()))
        .bind(tags)
        .bind(full_text.map(FullText::as_str))
        .execute(&self.pool)
        .await
        .map_err(StoreError::from)?;
        if done.rows_affected() == 0 {
            return Err(FeedChangeError::Exists(url.to_string()));
        }
        Ok(())
    }

    /// Removes an added feed and its items.
    pub async fn remove_feed(&self, url: &str) -> std::result::Result<(), FeedChangeError> {
        let source: Option<String> = sqlx::query_scalar("SELECT source FROM feeds WHERE url = $1")
            .bind(url)
            .fetch_optional(&self.pool)
            .await
            .map_err(StoreError::from)?;
        match source.as_deref() {
            None => Err(FeedChangeError::Unknown(url.to_string())),
            Some("added") => {
                sqlx::query("DELETE FROM feeds WHERE url = $1 AND source = 'added'")
                    .bind(url)
                    .execute(&self.pool)
                    .await
                    .map_err(StoreError::from)?;
                Ok(())
            }
            Some(_) => Err(FeedChangeError::FromConfig(url.to_string())),
        }
    }

    /// Total number of stored items.
    pub async fn item_count(&self) -> Result<i64> {
        Ok(sqlx::query_scalar("SELECT count(*) FROM items")
            .fetch_one(&self.pool)
            .await?)
    }

    /// The state of every enabled feed, and of feeds disabled for a reason
    /// (410 Gone), for feed-health notices.
    pub async fn feed_health(&self) -> Result<Vec<FeedHealthRow>> {
        Ok(sqlx::query_as(
            "SELECT f.id AS feed_id, f.url, coalesce(f.name, f.title, f.url) AS name, \
             f.error_count::bigint AS error_count, f.last_error, \
             CASE WHEN f.error_count > 0 THEN coalesce(f.last_success_at, f.created_at) END AS failing_since, \
             f.items_per_week, (SELECT max(s.first_seen_at) FROM item_sources s WHERE s.feed_id = f.id) AS last_item_at, \
             CASE WHEN NOT f.enabled THEN f.disabled_reason END AS disabled_reason, \
             CASE WHEN NOT f.enabled THEN coalesce(f.last_fetch_at, f.created_at) END AS disabled_at \
             FROM feeds f WHERE f.enabled OR f.disabled_reason IS NOT NULL ORDER BY f.url COLLATE \"C\"",
        )
        .fetch_all(&self.pool)
        .await?)
    }

    /// Leases due feeds among `ids` to this instance: those enabled, due
    /// (`next_check_at` unset or at most `now`) and held by nobody (no
    /// lease, or one that ended before `now`: its holder died), in the
    /// order of `ids`, at most `limit`, each held until `now + lease`. One
    /// statement: rows another instance is claiming at the same moment are
    /// skipped (`FOR UPDATE SKIP LOCKED`), so no feed is ever leased to two
    /// instances, and two instances asking for the same feeds split them.
    /// The writer ends a lease with the feed's result;
    /// [`PgStore::release_feeds`] gives back the rest.
    pub async fn claim_feeds(
        &self,
        ids: &[i64],
        limit: u32,
        now: DateTime<Utc>,
        lease: Duration,
    ) -> Result<Vec<FeedRow>> {
        if ids.is_empty() || limit == 0 {
            return Ok(Vec::new());
        }
        let until = lease_end(now, lease);
        Ok(sqlx::query_as(&format!(
            "WITH due AS MATERIALIZED ( \
                 SELECT id FROM feeds \
                 WHERE id = ANY($5) AND enabled AND (next_check_at IS NULL OR next_check_at <= $1) \
                   AND (lease_until IS NULL OR lease_until < $1) \
                 ORDER BY array_position($5, id) LIMIT $2 \
                 FOR UPDATE SKIP LOCKED), \
             claimed AS ( \
                 UPDATE feeds SET lease_owner = $3, lease_until = $4 FROM due WHERE feeds.id = due.id \
                 RETURNING feeds.*) \
             SELECT {FEED_COLUMNS} FROM claimed f ORDER BY array_position($5, f.id)"
        ))
        .bind(now)
        .bind(i64::from(limit))
        .bind(&*self.instance)
        .bind(until)
        .bind(ids)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Leases the feeds `ids` that no other instance holds to this one
    /// until `now + lease`, due or not (`run --once`); their rows, in the
    /// order of `ids`.
    pub async fn take_feeds(&self, ids: &[i64], now: DateTime<Utc>, lease: Duration) -> Result<Vec<FeedRow>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let until = lease_end(now, lease);
        Ok(sqlx::query_as(&format!(
            "WITH free AS MATERIALIZED ( \
                 SELECT id FROM feeds \
                 WHERE id = ANY($4) AND (lease_until IS NULL OR lease_until < $1 OR lease_owner = $2) \
                 FOR UPDATE SKIP LOCKED), \
             taken AS ( \
                 UPDATE feeds SET lease_owner = $2, lease_until = $3 FROM free WHERE feeds.id = free.id \
                 RETURNING feeds.*) \
             SELECT {FEED_COLUMNS} FROM taken f ORDER BY array_position($4, f.id)"
        ))
        .bind(now)
        .bind(&*self.instance)
        .bind(until)
        .bind(ids)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Extends this instance's lease on feed `id` to `now + lease`; `false`
    /// when it holds none (its lease ran out and another instance took the
    /// feed, or the feed's result was written).
    pub async fn renew_lease(&self, id: i64, now: DateTime<Utc>, lease: Duration) -> Result<bool> {
        let until = lease_end(now, lease);
        let renewed = sqlx::query("UPDATE feeds SET lease_until = $1 WHERE id = $2 AND lease_owner = $3")
            .bind(until)
            .bind(id)
            .bind(&*self.instance)
            .execute(&self.pool)
            .await?;
        Ok(renewed.rows_affected() == 1)
    }

    /// Gives back the leases this instance holds on `ids` (feeds it claimed
    /// but will not poll: it is stopping). Leases of other instances are
    /// left alone.
    pub async fn release_feeds(&self, ids: &[i64]) -> Result<()> {
        if ids.is_empty() {
            return Ok(());
        }
        sqlx::query(
            "UPDATE feeds SET lease_owner = NULL, lease_until = NULL WHERE id = ANY($1) AND lease_owner = $2",
        )
        .bind(ids)
        .bind(&*self.instance)
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}

/// When a lease taken at `now` for `lease` ends (the end of time if that
/// overflows).
fn lease_end(now: DateTime<Utc>, lease: Duration) -> DateTime<Utc> {
    chrono::Duration::from_std(lease)
        .ok()
        .and_then(|lease| now.checked_add_signed(lease))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}
