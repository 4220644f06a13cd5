//! Feed rows: configured feeds, their fetch state and last error.

use chrono::{DateTime, Utc};
use sqlx::FromRow;

use super::{ts, Result, Store};
use crate::config::FeedConfig;
use crate::fetch::Validators;

/// A feed as stored, with its fetch state.
#[derive(Debug, Clone, FromRow, serde::Serialize)]
pub struct FeedRow {
    pub id: i64,
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
}

impl FeedRow {
    pub fn validators(&self) -> Validators {
        Validators {
            etag: self.etag.clone(),
            last_modified: self.last_modified.clone(),
        }
    }

    /// The configured name, else the feed's own title, else its URL.
    pub fn display_name(&self) -> &str {
        self.name
            .as_deref()
            .or(self.title.as_deref())
            .unwrap_or(&self.url)
    }
}

const SELECT_FEED: &str = "SELECT f.id, f.url, f.name, f.title, f.site_url, f.etag, f.last_modified, \
     f.last_fetch_at, f.last_success_at, f.last_status, f.last_error, f.error_count, \
     (SELECT count(*) FROM item_sources s WHERE s.feed_id = f.id) AS item_count FROM feeds f";

impl Store {
    /// Makes sure every configured feed has a row (matched by URL) and its
    /// configured name is current; returns the rows in config order.
    pub async fn sync_feeds(&self, feeds: &[FeedConfig]) -> Result<Vec<FeedRow>> {
        let now = ts(Utc::now());
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
        let mut by_url: std::collections::HashMap<String, FeedRow> = self
            .list_feeds()
            .await?
            .into_iter()
            .map(|f| (f.url.clone(), f))
            .collect();
        Ok(urls.iter().filter_map(|u| by_url.remove(u)).collect())
    }

    /// All stored feeds, by URL.
    pub async fn list_feeds(&self) -> Result<Vec<FeedRow>> {
        Ok(
            sqlx::query_as::<_, FeedRow>(&format!("{SELECT_FEED} ORDER BY f.url"))
                .fetch_all(&self.read)
                .await?,
        )
    }

    /// Records a 304: the feed is healthy and unchanged.
    pub async fn record_not_modified(&self, feed_id: i64, at: DateTime<Utc>) -> Result<()> {
        let at = ts(at);
        sqlx::query(
            "UPDATE feeds SET last_fetch_at = ?, last_success_at = ?, last_status = 304, \
             last_error = NULL, error_count = 0 WHERE id = ?",
        )
        .bind(&at)
        .bind(&at)
        .bind(feed_id)
        .execute(&self.write)
        .await?;
        Ok(())
    }

    /// Records a failed fetch or parse on the feed's row.
    pub async fn record_failure(
        &self,
        feed_id: i64,
        status: Option<u16>,
        error: &str,
        at: DateTime<Utc>,
    ) -> Result<()> {
        sqlx::query(
            "UPDATE feeds SET last_fetch_at = ?, last_status = ?, last_error = ?, \
             error_count = error_count + 1 WHERE id = ?",
        )
        .bind(ts(at))
        .bind(status.map(i64::from))
        .bind(error)
        .bind(feed_id)
        .execute(&self.write)
        .await?;
        Ok(())
    }

    /// Total number of stored items.
    pub async fn item_count(&self) -> Result<i64> {
        Ok(sqlx::query_scalar("SELECT count(*) FROM items")
            .fetch_one(&self.read)
            .await?)
    }
}
