//! Feeds on PostgreSQL.

#![allow(unused_variables)]

use super::*;

impl PgStore {
    pub async fn sync_feeds(&self, feeds: &[FeedConfig]) -> Result<Vec<FeedRow>> {
        let _ = feeds;
        Err(unsupported("sync_feeds"))
    }
    pub async fn feeds_in(&self, urls: &[String]) -> Result<Vec<FeedRow>> {
        let _ = urls;
        Err(unsupported("feeds_in"))
    }
    pub async fn feed_labels(&self) -> Result<Vec<(String, Option<String>, Vec<String>)>> {
        Err(unsupported("feed_labels"))
    }
    pub async fn list_feeds(&self) -> Result<Vec<FeedRow>> {
        Err(unsupported("list_feeds"))
    }
    pub async fn probe_write(&self) -> Result<()> {
        Err(unsupported("probe_write"))
    }
    pub async fn queue(&self) -> Result<Vec<QueueEntry>> {
        Err(unsupported("queue"))
    }
    pub async fn feeds_by_id(&self, ids: &[i64]) -> Result<Vec<FeedRow>> {
        let _ = ids;
        Err(unsupported("feeds_by_id"))
    }
    pub async fn enable_feed(&self, url: &str) -> std::result::Result<(), FeedChangeError> {
        let _ = url;
        Err(unsupported("enable_feed"))
    }
    pub async fn add_feed(
        &self,
        url: &str,
        name: Option<&str>,
        tags: &[String],
    ) -> std::result::Result<(), FeedChangeError> {
        let _ = url;
        let _ = name;
        let _ = tags;
        Err(unsupported("add_feed"))
    }
    pub async fn remove_feed(&self, url: &str) -> std::result::Result<(), FeedChangeError> {
        let _ = url;
        Err(unsupported("remove_feed"))
    }
    /// Total number of stored items.
    pub async fn item_count(&self) -> Result<i64> {
        Ok(sqlx::query_scalar("SELECT count(*) FROM items")
            .fetch_one(&self.pool)
            .await?)
    }
    pub async fn feed_health(&self) -> Result<Vec<FeedHealthRow>> {
        Err(unsupported("feed_health"))
    }
}
