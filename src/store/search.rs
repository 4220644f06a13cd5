//! Reading items back: filters, newest first, with their topics.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sqlx::{FromRow, QueryBuilder, Sqlite};

use super::{ts, Result, Store};

const SELECT_ITEM: &str = "SELECT i.id, f.url AS feed_url, coalesce(f.name, f.title) AS feed_name, i.guid, \
     i.url, i.title, i.published, i.fetched_at, i.lang, i.author, i.text, i.canonical_url, i.story_id \
     FROM items i JOIN feeds f ON f.id = i.feed_id";

/// Which items to return.
#[derive(Debug, Clone, Default)]
pub struct SearchFilter {
    /// Case-insensitive substring of title or text.
    pub text: Option<String>,
    /// Only items matched by this topic (by name).
    pub topic: Option<String>,
    /// Only items listed by this feed (by URL or configured name), first or
    /// not.
    pub feed: Option<String>,
    /// Only items of this story.
    pub story: Option<i64>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    pub limit: u32,
}

/// An item as returned to users.
#[derive(Debug, Clone, FromRow, serde::Serialize)]
pub struct ItemRow {
    pub id: i64,
    pub feed_url: String,
    pub feed_name: Option<String>,
    pub guid: Option<String>,
    pub url: Option<String>,
    pub title: String,
    pub published: Option<String>,
    pub fetched_at: String,
    pub lang: Option<String>,
    pub author: Option<String>,
    pub text: String,
    /// [`crate::dedup::canonical_url`] of `url`.
    pub canonical_url: Option<String>,
    pub story_id: Option<i64>,
    #[sqlx(skip)]
    pub topics: Vec<String>,
    /// URLs of every feed listing the item, first feed first (set by
    /// [`Store::attach_topics`]).
    #[sqlx(skip)]
    pub feeds: Vec<String>,
}

impl Store {
    /// Items matching the filter, newest first (by publication time, else
    /// first-seen time), ties broken by id.
    pub async fn search(&self, filter: &SearchFilter) -> Result<Vec<ItemRow>> {
        let mut q: QueryBuilder<Sqlite> = QueryBuilder::new(SELECT_ITEM);
        q.push(" WHERE 1 = 1");
        if let Some(text) = &filter.text {
            let pattern = format!("%{}%", escape_like(text));
            q.push(" AND (i.title LIKE ")
                .push_bind(pattern.clone())
                .push(" ESCAPE '\\' OR i.text LIKE ")
                .push_bind(pattern)
                .push(" ESCAPE '\\')");
        }
        if let Some(topic) = &filter.topic {
            q.push(
                " AND EXISTS (SELECT 1 FROM item_topics it JOIN topics t ON t.id = it.topic_id \
                 WHERE it.item_id = i.id AND t.name = ",
            )
            .push_bind(topic.clone())
            .push(")");
        }
        if let Some(feed) = &filter.feed {
            q.push(
                " AND EXISTS (SELECT 1 FROM item_sources s JOIN feeds sf ON sf.id = s.feed_id \
                 WHERE s.item_id = i.id AND (sf.url = ",
            )
            .push_bind(feed.clone())
            .push(" OR sf.name = ")
            .push_bind(feed.clone())
            .push("))");
        }
        if let Some(story) = filter.story {
            q.push(" AND i.story_id = ").push_bind(story);
        }
        if let Some(since) = filter.since {
            q.push(" AND i.sort_at >= ").push_bind(ts(since));
        }
        if let Some(until) = filter.until {
            q.push(" AND i.sort_at < ").push_bind(ts(until));
        }
        q.push(" ORDER BY i.sort_at DESC, i.id DESC LIMIT ")
            .push_bind(i64::from(filter.limit));
        let mut rows: Vec<ItemRow> = q.build_query_as().fetch_all(&self.read).await?;
        self.attach_topics(&mut rows).await?;
        Ok(rows)
    }

    /// Items in id order after `after_id` (keyset pagination), optionally
    /// only those published (else first seen) at or after `since`. For
    /// evaluating queries over the stored archive.
    pub async fn scan_items(
        &self,
        since: Option<DateTime<Utc>>,
        after_id: i64,
        limit: u32,
    ) -> Result<Vec<ItemRow>> {
        let mut q: QueryBuilder<Sqlite> = QueryBuilder::new(SELECT_ITEM);
        q.push(" WHERE i.id > ").push_bind(after_id);
        if let Some(since) = since {
            q.push(" AND i.sort_at >= ").push_bind(ts(since));
        }
        q.push(" ORDER BY i.id LIMIT ").push_bind(i64::from(limit));
        Ok(q.build_query_as().fetch_all(&self.read).await?)
    }

    /// The `limit` most recently stored items.
    pub async fn recent_items(&self, limit: u32) -> Result<Vec<ItemRow>> {
        let mut q: QueryBuilder<Sqlite> = QueryBuilder::new(SELECT_ITEM);
        q.push(" ORDER BY i.id DESC LIMIT ").push_bind(i64::from(limit));
        Ok(q.build_query_as().fetch_all(&self.read).await?)
    }

    /// Attaches topic names and source feeds to already-fetched rows.
    pub async fn attach_topics(&self, rows: &mut [ItemRow]) -> Result<()> {
        // SQLite limits bound variables per statement; look topics up in chunks.
        const CHUNK: usize = 500;
        let mut by_item: HashMap<i64, Vec<String>> = HashMap::new();
        for chunk in rows.chunks(CHUNK) {
            let mut q: QueryBuilder<Sqlite> = QueryBuilder::new(
                "SELECT it.item_id, t.name FROM item_topics it JOIN topics t ON t.id = it.topic_id \
                 WHERE it.item_id IN (",
            );
            let mut ids = q.separated(", ");
            for row in chunk {
                ids.push_bind(row.id);
            }
            q.push(") ORDER BY t.name");
            let pairs: Vec<(i64, String)> = q.build_query_as().fetch_all(&self.read).await?;
            for (id, name) in pairs {
                by_item.entry(id).or_default().push(name);
            }
        }
        let mut feeds: HashMap<i64, Vec<String>> = HashMap::new();
        for chunk in rows.chunks(CHUNK) {
            let mut q: QueryBuilder<Sqlite> = QueryBuilder::new(
                "SELECT s.item_id, f.url FROM item_sources s JOIN feeds f ON f.id = s.feed_id \
                 WHERE s.item_id IN (",
            );
            let mut ids = q.separated(", ");
            for row in chunk {
                ids.push_bind(row.id);
            }
            q.push(") ORDER BY s.first_seen_at, s.rowid");
            let pairs: Vec<(i64, String)> = q.build_query_as().fetch_all(&self.read).await?;
            for (id, url) in pairs {
                let urls = feeds.entry(id).or_default();
                if !urls.contains(&url) {
                    urls.push(url);
                }
            }
        }
        for row in rows {
            row.topics = by_item.remove(&row.id).unwrap_or_default();
            let mut urls = feeds.remove(&row.id).unwrap_or_default();
            // The first feed first.
            if let Some(pos) = urls.iter().position(|u| *u == row.feed_url) {
                let first = urls.remove(pos);
                urls.insert(0, first);
            }
            row.feeds = urls;
        }
        Ok(())
    }

    /// Names of the stored topics.
    pub async fn topic_names(&self) -> Result<Vec<String>> {
        Ok(sqlx::query_scalar("SELECT name FROM topics ORDER BY name")
            .fetch_all(&self.read)
            .await?)
    }
}

fn escape_like(s: &str) -> String {
    s.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")
}
