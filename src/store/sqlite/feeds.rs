//! Feed rows: configured feeds, their fetch state and last error.

use chrono::{DateTime, Utc};
use sqlx::{FromRow, QueryBuilder, Sqlite, SqliteConnection};

use super::{ts, Result, SqliteStore};
use crate::fetch::Validators;
use crate::model::{FeedConfig, FullText};

/// A feed as stored, with its fetch state.
#[derive(Debug, Clone, FromRow, serde::Serialize)]
pub struct FeedRow {
    pub id: i64,
    /// The real URL (needed to fetch); serialised with its password masked.
    #[serde(serialize_with = "crate::redact::serialize_url")]
    pub url: String,
    pub name: Option<String>,
    pub title: Option<String>,
    pub site_url: Option<String>,
    #[serde(skip)]
    pub etag: Option<String>,
    #[serde(skip)]
    pub last_modified: Option<String>,
    pub last_fetch_at: Option<String>,
    pub last_success_at: Option<String>,
    pub last_status: Option<i64>,
    pub last_error: Option<String>,
    pub error_count: i64,
    pub item_count: i64,
    pub enabled: bool,
    pub disabled_reason: Option<String>,
    /// Where a permanent redirect moved the feed; fetched instead of `url`.
    #[serde(serialize_with = "crate::redact::serialize_opt_url")]
    pub fetch_url: Option<String>,
    pub next_check_at: Option<String>,
    /// Seconds; the interval chosen at the last check.
    pub check_interval: Option<i64>,
    pub items_per_week: Option<f64>,
    pub poll_count: i64,
    /// Kind of the last failure (`timeout`, `connect`, `http_status`, `parse`, …).
    pub error_kind: Option<String>,
    /// A problem that did not stop the feed, e.g. a repaired document.
    pub warning: Option<String>,
    /// `config` or `added` (`feeds add`, `opml import`).
    pub source: String,
    #[serde(serialize_with = "json_tags")]
    pub tags: String,
    /// `full_text`: as stored, that of a feed added with `feeds add
    /// --full-text` (`None`: the default); as listed, the feed's setting
    /// ([`crate::daemon::describe_feeds`]).
    pub full_text: Option<String>,
    /// Items whose text is their article page's, whose page was given up,
    /// and that wait for theirs (`full_text`; as listed).
    #[sqlx(skip)]
    pub pages_fetched: i64,
    #[sqlx(skip)]
    pub pages_failed: i64,
    #[sqlx(skip)]
    pub pages_pending: i64,
}

fn json_tags<S: serde::Serializer>(tags: &str, s: S) -> std::result::Result<S::Ok, S::Error> {
    use serde::Serialize;
    serde_json::from_str::<Vec<String>>(tags)
        .unwrap_or_default()
        .serialize(s)
}

/// The scheduling fields of a feed, for the daemon's queue.
#[derive(Debug, Clone)]
pub struct QueueEntry {
    pub id: i64,
    pub url: String,
    pub source: String,
    /// When it is due; `None` for now (never checked, or unreadable).
    pub next_check_at: Option<DateTime<Utc>>,
    /// Where a 301/308 moved the feed, if it did.
    pub fetch_url: Option<String>,
}

impl<'r> FromRow<'r, sqlx::sqlite::SqliteRow> for QueueEntry {
    fn from_row(row: &'r sqlx::sqlite::SqliteRow) -> sqlx::Result<Self> {
        use sqlx::Row;
        Ok(QueueEntry {
            id: row.try_get("id")?,
            url: row.try_get("url")?,
            source: row.try_get("source")?,
            next_check_at: super::time_column(row, "next_check_at")?,
            fetch_url: row.try_get("fetch_url")?,
        })
    }
}

/// What to remember about the next check, written with every result.
#[derive(Debug, Clone)]
pub struct NextCheck {
    pub at: DateTime<Utc>,
    pub interval: std::time::Duration,
    /// A permanent redirect's target, to fetch from now on.
    pub moved_to: Option<String>,
}

/// A feed that cannot be added or removed. Messages mask the URL's
/// password.
#[derive(Debug, thiserror::Error)]
pub enum FeedChangeError {
    #[error("feed {} is already present", crate::redact::url(.0))]
    Exists(String),
    #[error("no feed {}", crate::redact::url(.0))]
    Unknown(String),
    #[error("feed {} is defined in the config file; remove it there", crate::redact::url(.0))]
    FromConfig(String),
    #[error(transparent)]
    Store(#[from] super::StoreError),
}

impl FeedRow {
    pub fn validators(&self) -> Validators {
        Validators {
            etag: self.etag.clone(),
            last_modified: self.last_modified.clone(),
        }
    }

    /// The tags of an added feed.
    pub fn tag_list(&self) -> Vec<String> {
        serde_json::from_str(&self.tags).unwrap_or_default()
    }

    /// The URL to request: where a permanent redirect led, else `url`.
    pub fn request_url(&self) -> &str {
        self.fetch_url.as_deref().unwrap_or(&self.url)
    }

    /// The configured name, else the feed's own title, else its URL (the
    /// password masked).
    pub fn display_name(&self) -> std::borrow::Cow<'_, str> {
        match self.name.as_deref().or(self.title.as_deref()) {
            Some(name) => name.into(),
            None => crate::redact::url(&self.url),
        }
    }
}

const SELECT_FEED: &str = "SELECT f.id, f.url, f.name, f.title, f.site_url, f.etag, f.last_modified, \
     f.last_fetch_at, f.last_success_at, f.last_status, f.last_error, f.error_count, \
     (SELECT count(*) FROM item_sources s WHERE s.feed_id = f.id) AS item_count, \
     f.enabled, f.disabled_reason, f.fetch_url, f.next_check_at, f.check_interval, f.items_per_week, \
     f.poll_count, f.error_kind, f.warning, f.source, f.tags, f.full_text FROM feeds f";

impl SqliteStore {
    /// Makes sure every configured feed has a row (matched by URL) and its
    /// configured name is current; returns the rows in config order.
    pub async fn sync_feeds(&self, feeds: &[FeedConfig]) -> Result<Vec<FeedRow>> {
        let now = ts(self.clock.now());
        let mut tx = self.write.begin_with("BEGIN IMMEDIATE").await?;
        for feed in feeds {
            sqlx::query(
                "INSERT INTO feeds (url, name, created_at) VALUES (?, ?, ?) \
                 ON CONFLICT (url) DO UPDATE SET name = excluded.name WHERE name IS NOT excluded.name",
            )
            .bind(&feed.url)
            .bind(&feed.name)
            .bind(&now)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        let urls: Vec<String> = feeds.iter().map(|f| f.url.clone()).collect();
        self.feeds_in(&urls).await
    }

    /// The stored rows of the given feed URLs, in the given order; URLs
    /// without a row are left out.
    pub async fn feeds_in(&self, urls: &[String]) -> Result<Vec<FeedRow>> {
        // Only these rows: every feed's item count is a scan of item_sources
        // (0.4 s for 20,000 feeds of a 1,000,000-item archive), which a
        // page showing an article's outlets cannot pay.
        let mut by_url: std::collections::HashMap<String, FeedRow> = std::collections::HashMap::new();
        for chunk in urls.chunks(10_000) {
            let mut q: QueryBuilder<Sqlite> = QueryBuilder::new(format!("{SELECT_FEED} WHERE f.url IN ("));
            let mut list = q.separated(", ");
            for url in chunk {
                list.push_bind(url.clone());
            }
            q.push(")");
            let rows: Vec<FeedRow> = q.build_query_as().fetch_all(&self.read).await?;
            by_url.extend(rows.into_iter().map(|f| (f.url.clone(), f)));
        }
        Ok(urls.iter().filter_map(|u| by_url.remove(u)).collect())
    }

    /// Every stored feed's URL, name and tags (of an added feed; configured
    /// feeds keep theirs in the config): what `feed:` filters need, without
    /// the per-feed item counts of [`SqliteStore::list_feeds`].
    pub async fn feed_labels(&self) -> Result<Vec<(String, Option<String>, Vec<String>)>> {
        let rows: Vec<(String, Option<String>, String)> = sqlx::query_as("SELECT url, name, tags FROM feeds")
            .fetch_all(&self.read)
            .await?;
        Ok(rows
            .into_iter()
            .map(|(url, name, tags)| (url, name, serde_json::from_str(&tags).unwrap_or_default()))
            .collect())
    }

    /// All stored feeds, by name as shown (configured name, else the
    /// feed's title, else its URL; case-insensitive), then URL.
    pub async fn list_feeds(&self) -> Result<Vec<FeedRow>> {
        Ok(sqlx::query_as::<_, FeedRow>(&format!(
            "{SELECT_FEED} ORDER BY coalesce(f.name, f.title, f.url) COLLATE NOCASE, f.url"
        ))
        .fetch_all(&self.read)
        .await?)
    }

    /// Whether the database can be written again after a failure: one
    /// small real write (a feed row rewritten unchanged, in its own
    /// transaction), so that a full disk or an unwritable file is noticed
    /// without fetching a feed to find out.
    pub async fn probe_write(&self) -> Result<()> {
        let mut tx = self.write.begin_with("BEGIN IMMEDIATE").await?;
        sqlx::query("UPDATE feeds SET next_check_at = next_check_at WHERE id = (SELECT min(id) FROM feeds)")
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The scheduling state of every enabled feed.
    pub async fn queue(&self) -> Result<Vec<QueueEntry>> {
        Ok(sqlx::query_as::<_, QueueEntry>(
            "SELECT id, url, source, next_check_at, fetch_url FROM feeds WHERE enabled = 1",
        )
        .fetch_all(&self.read)
        .await?)
    }

    /// The rows of the given feed ids.
    pub async fn feeds_by_id(&self, ids: &[i64]) -> Result<Vec<FeedRow>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let list = ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",");
        Ok(
            sqlx::query_as::<_, FeedRow>(&format!("{SELECT_FEED} WHERE f.id IN ({list})"))
                .fetch_all(&self.read)
                .await?,
        )
    }

    /// Polls a disabled feed again, from now on.
    pub async fn enable_feed(&self, url: &str) -> std::result::Result<(), FeedChangeError> {
        let done = sqlx::query(
            "UPDATE feeds SET enabled = 1, disabled_reason = NULL, next_check_at = NULL, error_count = 0, \
             error_kind = NULL, last_error = NULL WHERE url = ?",
        )
        .bind(url)
        .execute(&self.write)
        .await
        .map_err(super::StoreError::from)?;
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
        let tags = serde_json::to_string(tags).expect("strings serialize");
        let done = sqlx::query(
            "INSERT INTO feeds (url, name, created_at, source, tags, full_text) VALUES (?, ?, ?, 'added', ?, ?) \
             ON CONFLICT (url) DO NOTHING",
        )
        .bind(url)
        .bind(name)
        .bind(ts(self.clock.now()))
        .bind(tags)
        .bind(full_text.map(FullText::as_str))
        .execute(&self.write)
        .await
        .map_err(super::StoreError::from)?;
        if done.rows_affected() == 0 {
            return Err(FeedChangeError::Exists(url.to_string()));
        }
        Ok(())
    }

    /// Removes an added feed and its items.
    pub async fn remove_feed(&self, url: &str) -> std::result::Result<(), FeedChangeError> {
        let source: Option<String> = sqlx::query_scalar("SELECT source FROM feeds WHERE url = ?")
            .bind(url)
            .fetch_optional(&self.write)
            .await
            .map_err(super::StoreError::from)?;
        match source.as_deref() {
            None => Err(FeedChangeError::Unknown(url.to_string())),
            Some("added") => {
                // Its items leave the story index copy.
                let mut stories = self.stories.lock().await;
                stories.invalidate();
                sqlx::query("DELETE FROM feeds WHERE url = ?")
                    .bind(url)
                    .execute(&self.write)
                    .await
                    .map_err(super::StoreError::from)?;
                stories.invalidate();
                Ok(())
            }
            Some(_) => Err(FeedChangeError::FromConfig(url.to_string())),
        }
    }

    /// The feeds among `ids` that are enabled and due (`next_check_at`
    /// unset or at most `now`), in the order of `ids`, at most `limit`
    /// (`Store::claim_feeds`: one instance leases nothing).
    pub async fn due_feeds(&self, ids: &[i64], limit: u32, now: DateTime<Utc>) -> Result<Vec<FeedRow>> {
        let now = ts(now);
        let mut due: Vec<FeedRow> = self
            .feeds_by_id(ids)
            .await?
            .into_iter()
            .filter(|f| f.enabled && f.next_check_at.as_deref().is_none_or(|next| *next <= *now))
            .collect();
        due.sort_by_key(|f| ids.iter().position(|&id| id == f.id));
        due.truncate(limit as usize);
        Ok(due)
    }

    /// Total number of stored items.
    pub async fn item_count(&self) -> Result<i64> {
        Ok(sqlx::query_scalar("SELECT count(*) FROM items")
            .fetch_one(&self.read)
            .await?)
    }
}

/// A failed fetch or parse, for the feed's row.
#[derive(Debug, Clone)]
pub struct FeedFailure {
    pub feed_id: i64,
    /// HTTP status, if the server answered.
    pub status: Option<u16>,
    /// Error kind (`timeout`, `http`, `parse`, …).
    pub kind: String,
    pub error: String,
    pub at: DateTime<Utc>,
    pub next: NextCheck,
}

/// Records 304s (feed id, time, next check), in one statement per 500 feeds.
pub(super) async fn record_not_modified(
    conn: &mut SqliteConnection,
    feeds: &[(i64, DateTime<Utc>, &NextCheck)],
) -> Result<()> {
    for chunk in feeds.chunks(500) {
        let mut q: QueryBuilder<Sqlite> =
            QueryBuilder::new("WITH v (id, at, next_check_at, check_interval, moved_to) AS (");
        q.push_values(chunk, |mut b, (feed_id, at, next)| {
            b.push_bind(*feed_id)
                .push_bind(ts(*at))
                .push_bind(ts(next.at))
                .push_bind(next.interval.as_secs() as i64)
                .push_bind(&next.moved_to);
        });
        q.push(
            ") UPDATE feeds SET last_fetch_at = v.at, last_success_at = v.at, last_status = 304, \
             last_error = NULL, error_kind = NULL, error_count = 0, next_check_at = v.next_check_at, \
             check_interval = v.check_interval, poll_count = poll_count + 1, \
             fetch_url = coalesce(v.moved_to, feeds.fetch_url) FROM v WHERE feeds.id = v.id",
        );
        q.build().execute(&mut *conn).await?;
    }
    Ok(())
}

pub(super) async fn record_failure(conn: &mut SqliteConnection, failure: &FeedFailure) -> Result<()> {
    sqlx::query(
        "UPDATE feeds SET last_fetch_at = ?, last_status = ?, last_error = ?, error_kind = ?, \
         error_count = error_count + 1, next_check_at = ?, check_interval = ?, poll_count = poll_count + 1, \
         fetch_url = coalesce(?, fetch_url) WHERE id = ?",
    )
    .bind(ts(failure.at))
    .bind(failure.status.map(i64::from))
    .bind(&failure.error)
    .bind(&failure.kind)
    .bind(ts(failure.next.at))
    .bind(failure.next.interval.as_secs() as i64)
    .bind(&failure.next.moved_to)
    .bind(failure.feed_id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub(super) async fn disable_feed(
    conn: &mut SqliteConnection,
    feed_id: i64,
    status: Option<u16>,
    reason: &str,
    at: DateTime<Utc>,
) -> Result<()> {
    sqlx::query(
        "UPDATE feeds SET enabled = 0, disabled_reason = ?, last_fetch_at = ?, last_status = ?, \
         last_error = ?, error_kind = 'disabled', error_count = error_count + 1, next_check_at = NULL, \
         poll_count = poll_count + 1 WHERE id = ?",
    )
    .bind(reason)
    .bind(ts(at))
    .bind(status.map(i64::from))
    .bind(reason)
    .bind(feed_id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}
