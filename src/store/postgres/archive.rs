//! Archive on PostgreSQL.

#![allow(unused_variables)]

use super::*;

impl PgStore {
    pub async fn search(&self, filter: &SearchFilter) -> Result<Vec<ItemRow>> {
        let _ = filter;
        Err(unsupported("search"))
    }
    pub async fn search_page(&self, filter: &SearchFilter) -> Result<Vec<ItemRow>> {
        let _ = filter;
        Err(unsupported("search_page"))
    }
    pub async fn cursor_of(&self, id: i64) -> Result<Option<Cursor>> {
        let _ = id;
        Err(unsupported("cursor_of"))
    }
    pub async fn scan_items(
        &self,
        since: Option<DateTime<Utc>>,
        after_id: i64,
        limit: u32,
    ) -> Result<Vec<ItemRow>> {
        let _ = since;
        let _ = after_id;
        let _ = limit;
        Err(unsupported("scan_items"))
    }
    pub async fn item(&self, id: i64) -> Result<Option<ItemRow>> {
        let _ = id;
        Err(unsupported("item"))
    }
    pub async fn recent_items(&self, limit: u32) -> Result<Vec<ItemRow>> {
        let _ = limit;
        Err(unsupported("recent_items"))
    }
    pub async fn attach_topics(&self, rows: &mut [ItemRow]) -> Result<()> {
        let _ = rows;
        Err(unsupported("attach_topics"))
    }
    pub async fn topic_names(&self) -> Result<Vec<String>> {
        Err(unsupported("topic_names"))
    }
    pub async fn volume(&self, query: &VolumeQuery) -> Result<Vec<VolumeRow>> {
        let _ = query;
        Err(unsupported("volume"))
    }
    pub async fn top_outlets(
        &self,
        topics: &[String],
        since: DateTime<Utc>,
        until: Option<DateTime<Utc>>,
        limit: u32,
    ) -> Result<Vec<(String, i64)>> {
        let _ = topics;
        let _ = since;
        let _ = until;
        let _ = limit;
        Err(unsupported("top_outlets"))
    }
    pub async fn languages(
        &self,
        topics: &[String],
        since: DateTime<Utc>,
        until: Option<DateTime<Utc>>,
    ) -> Result<Vec<(String, i64)>> {
        let _ = topics;
        let _ = since;
        let _ = until;
        Err(unsupported("languages"))
    }
    pub async fn top_stories(
        &self,
        topics: &[String],
        since: DateTime<Utc>,
        until: Option<DateTime<Utc>>,
        limit: u32,
    ) -> Result<Vec<ReportStory>> {
        let _ = topics;
        let _ = since;
        let _ = until;
        let _ = limit;
        Err(unsupported("top_stories"))
    }
    pub async fn latest_items(
        &self,
        topics: &[String],
        since: DateTime<Utc>,
        until: Option<DateTime<Utc>>,
        limit: u32,
    ) -> Result<Vec<ReportItem>> {
        let _ = topics;
        let _ = since;
        let _ = until;
        let _ = limit;
        Err(unsupported("latest_items"))
    }
    pub async fn newest_item_at(&self) -> Result<Option<DateTime<Utc>>> {
        Err(unsupported("newest_item_at"))
    }
    pub async fn has_topic(&self, name: &str) -> Result<bool> {
        let _ = name;
        Err(unsupported("has_topic"))
    }
    pub async fn retired_topics(&self, active: &[&str]) -> Result<Vec<RetiredTopic>> {
        let _ = active;
        Err(unsupported("retired_topics"))
    }
    pub async fn topic_counts(&self) -> Result<Vec<(String, i64)>> {
        Err(unsupported("topic_counts"))
    }
    pub async fn topic_stats(
        &self,
        names: &[(String, String)],
        now: DateTime<Utc>,
    ) -> Result<Vec<TopicStats>> {
        let _ = names;
        let _ = now;
        Err(unsupported("topic_stats"))
    }
}

/// Whether a search for `query` can be ranked by relevance: its words
/// narrow the candidates.
pub(super) fn ranks(query: &Expr) -> bool {
    let _ = query;
    false
}
