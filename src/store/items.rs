//! Items and their topic matches, written one transaction per fetched feed.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};

use super::{ts, Result, Store};
use crate::fetch::Validators;
use crate::model::NewItem;

/// One item to insert or update, with the topics it matches now.
#[derive(Debug)]
pub struct ItemWrite<'a> {
    pub item: &'a NewItem,
    pub key: String,
    pub content_hash: String,
    pub topic_ids: Vec<i64>,
}

/// Everything a successful fetch changes, applied atomically.
#[derive(Debug)]
pub struct FeedUpdate<'a> {
    pub feed_id: i64,
    pub at: DateTime<Utc>,
    pub status: u16,
    pub validators: Validators,
    pub title: Option<&'a str>,
    pub site_url: Option<&'a str>,
    /// New or changed items only (see [`Store::known_items`]).
    pub items: Vec<ItemWrite<'a>>,
    pub next: super::NextCheck,
    /// The publishing rate seen in the document, if it dates its items.
    pub items_per_week: Option<f64>,
    /// A repair that was needed to read the document.
    pub warning: Option<String>,
}

/// What the store knows about an item key of a feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Known {
    /// Stored, with this content hash.
    Stored(String),
    /// Removed by retention; must not come back as new.
    Pruned,
}

/// What one feed update added.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct IngestCounts {
    pub new: u64,
    pub updated: u64,
    pub matches: u64,
}

impl Store {
    /// The item keys a feed has had: stored (with content hash) or pruned.
    /// The pipeline uses it to skip unchanged and pruned items before
    /// matching.
    pub async fn known_items(&self, feed_id: i64) -> Result<HashMap<String, Known>> {
        let rows: Vec<(String, Option<String>)> = sqlx::query_as(
            "SELECT item_key, content_hash FROM items WHERE feed_id = ?1 \
             UNION ALL SELECT item_key, NULL FROM tombstones WHERE feed_id = ?1",
        )
        .bind(feed_id)
        .fetch_all(&self.read)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(key, hash)| (key, hash.map_or(Known::Pruned, Known::Stored)))
            .collect())
    }

    /// Deletes items first seen before `cutoff` that match no topic, leaving
    /// a tombstone for each. Returns the number pruned.
    pub async fn prune_unmatched(&self, cutoff: DateTime<Utc>, at: DateTime<Utc>) -> Result<u64> {
        const UNMATCHED: &str =
            "first_seen_at < ? AND NOT EXISTS (SELECT 1 FROM item_topics it WHERE it.item_id = items.id)";
        let cutoff = ts(cutoff);
        let mut tx = self.write.begin_with("BEGIN IMMEDIATE").await?;
        sqlx::query(&format!(
            "INSERT INTO tombstones (feed_id, item_key, pruned_at) SELECT feed_id, item_key, ? FROM items \
             WHERE {UNMATCHED} ON CONFLICT (feed_id, item_key) DO NOTHING"
        ))
        .bind(ts(at))
        .bind(&cutoff)
        .execute(&mut *tx)
        .await?;
        let pruned = sqlx::query(&format!("DELETE FROM items WHERE {UNMATCHED}"))
            .bind(&cutoff)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        Ok(pruned)
    }

    /// Applies a successful fetch in one `BEGIN IMMEDIATE` transaction:
    /// upserts the items (an item whose content hash is unchanged is left
    /// alone; a changed one is updated in place and keeps its id), brings
    /// their topic matches up to date and clears the feed's error.
    pub async fn apply_feed_update(&self, update: &FeedUpdate<'_>) -> Result<IngestCounts> {
        let at = ts(update.at);
        let mut counts = IngestCounts::default();
        let mut tx = self.write.begin_with("BEGIN IMMEDIATE").await?;
        for write in &update.items {
            let item = write.item;
            let published = item.published.map(ts);
            let row: Option<(i64, i64)> = sqlx::query_as(
                "INSERT INTO items (feed_id, item_key, guid, url, title, text, author, lang, published, updated, \
                     sort_at, fetched_at, first_seen_at, content_hash) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, coalesce(?9, ?11), ?11, ?11, ?12) \
                 ON CONFLICT (feed_id, item_key) DO UPDATE SET \
                     guid = excluded.guid, url = excluded.url, title = excluded.title, text = excluded.text, \
                     author = excluded.author, lang = excluded.lang, published = excluded.published, \
                     updated = excluded.updated, sort_at = coalesce(excluded.published, items.sort_at), \
                     fetched_at = excluded.fetched_at, content_hash = excluded.content_hash, \
                     version = items.version + 1 \
                 WHERE items.content_hash <> excluded.content_hash \
                 RETURNING id, version",
            )
            .bind(update.feed_id)
            .bind(&write.key)
            .bind(&item.guid)
            .bind(&item.url)
            .bind(&item.title)
            .bind(&item.text)
            .bind(&item.author)
            .bind(&item.language)
            .bind(&published)
            .bind(item.updated.map(ts))
            .bind(&at)
            .bind(&write.content_hash)
            .fetch_optional(&mut *tx)
            .await?;
            let Some((item_id, version)) = row else {
                continue; // unchanged
            };
            let mut stale: HashSet<i64> = HashSet::new();
            if version == 1 {
                counts.new += 1;
            } else {
                counts.updated += 1;
                stale = sqlx::query_scalar("SELECT topic_id FROM item_topics WHERE item_id = ?")
                    .bind(item_id)
                    .fetch_all(&mut *tx)
                    .await?
                    .into_iter()
                    .collect();
            }
            for topic_id in &write.topic_ids {
                if !stale.remove(topic_id) {
                    sqlx::query("INSERT INTO item_topics (item_id, topic_id, matched_at) VALUES (?, ?, ?)")
                        .bind(item_id)
                        .bind(topic_id)
                        .bind(&at)
                        .execute(&mut *tx)
                        .await?;
                    counts.matches += 1;
                }
            }
            // Topics the edited item no longer matches.
            for topic_id in stale {
                sqlx::query("DELETE FROM item_topics WHERE item_id = ? AND topic_id = ?")
                    .bind(item_id)
                    .bind(topic_id)
                    .execute(&mut *tx)
                    .await?;
            }
        }
        sqlx::query(
            "UPDATE feeds SET title = coalesce(?, title), site_url = coalesce(?, site_url), etag = ?, \
             last_modified = ?, last_fetch_at = ?, last_success_at = ?, last_status = ?, last_error = NULL, \
             error_count = 0, error_kind = NULL, next_check_at = ?, check_interval = ?, \
             items_per_week = coalesce(?, items_per_week), poll_count = poll_count + 1, warning = ?, \
             fetch_url = coalesce(?, fetch_url) WHERE id = ?",
        )
        .bind(update.title)
        .bind(update.site_url)
        .bind(&update.validators.etag)
        .bind(&update.validators.last_modified)
        .bind(&at)
        .bind(&at)
        .bind(i64::from(update.status))
        .bind(ts(update.next.at))
        .bind(update.next.interval.as_secs() as i64)
        .bind(update.items_per_week)
        .bind(&update.warning)
        .bind(&update.next.moved_to)
        .bind(update.feed_id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(counts)
    }
}
