//! The article-page queue on SQLite (see `store::pages`).

use std::collections::HashSet;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::{QueryBuilder, Sqlite};

use super::items::write_matches;
use super::search::SearchRows;
use super::{ts, Result, SqliteStore};
use crate::store::{PageCounts, PageJob, PageOutcome, PageWrite};

impl SqliteStore {
    pub async fn claim_pages(&self, now: DateTime<Utc>, limit: u32, lease: Duration) -> Result<Vec<PageJob>> {
        let until = now + chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::MAX);
        let ids: Vec<i64> = sqlx::query_scalar(
            "UPDATE items SET page_due = ?1 WHERE id IN (SELECT id FROM items \
             WHERE page_state = 'pending' AND page_due <= ?2 ORDER BY page_due, id LIMIT ?3) RETURNING id",
        )
        .bind(ts(until))
        .bind(ts(now))
        .bind(i64::from(limit))
        .fetch_all(&self.write)
        .await?;
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut q: QueryBuilder<Sqlite> = QueryBuilder::new(
            "SELECT i.id AS item_id, i.url, i.canonical_url, i.title, i.text, i.lang, i.declared_lang, i.author, \
             i.page_attempts AS attempts, f.url AS feed_url, coalesce(f.name, f.title) AS feed_name, \
             f.tags AS feed_tags FROM items i JOIN feeds f ON f.id = i.feed_id \
             WHERE i.url IS NOT NULL AND i.id IN (",
        );
        let mut list = q.separated(", ");
        for id in &ids {
            list.push_bind(*id);
        }
        q.push(") ORDER BY i.id");
        Ok(q.build_query_as().fetch_all(&self.write).await?)
    }

    pub async fn apply_pages(&self, writes: &[PageWrite], at: DateTime<Utc>) -> Result<u64> {
        let at = ts(at);
        let mut tx = self.write.begin_with("BEGIN IMMEDIATE").await?;
        let mut search = SearchRows::default();
        let mut added = 0;
        for write in writes {
            match &write.outcome {
                PageOutcome::Extracted {
                    text,
                    author,
                    declared_lang,
                } => {
                    let updated = sqlx::query(
                        "UPDATE items SET summary = CASE WHEN ?2 IS NOT NULL THEN text END, \
                         text = coalesce(?2, text), text_source = CASE WHEN ?2 IS NOT NULL THEN 'page' ELSE 'feed' END, \
                         author = coalesce(author, ?3), declared_lang = coalesce(declared_lang, ?4), \
                         page_state = 'done', page_error = NULL, page_due = NULL, \
                         version = version + (?2 IS NOT NULL) \
                         WHERE id = ?1 AND page_state = 'pending'",
                    )
                    .bind(write.item_id)
                    .bind(text.as_ref().map(|t| &t.text))
                    .bind(author)
                    .bind(declared_lang)
                    .execute(&mut *tx)
                    .await?;
                    let (Some(text), 1) = (text, updated.rows_affected()) else {
                        continue;
                    };
                    search.add(write.item_id, &text.search, true);
                    let held: HashSet<i64> =
                        sqlx::query_scalar("SELECT topic_id FROM item_topics WHERE item_id = ?")
                            .bind(write.item_id)
                            .fetch_all(&mut *tx)
                            .await?
                            .into_iter()
                            .collect();
                    let new: Vec<i64> = text
                        .topic_ids
                        .iter()
                        .copied()
                        .filter(|t| !held.contains(t))
                        .collect();
                    added += write_matches(&mut tx, write.item_id, &new, HashSet::new(), &at).await?;
                }
                PageOutcome::Failed { error, retry_at } => {
                    sqlx::query(
                        "UPDATE items SET page_error = ?2, page_attempts = page_attempts + 1, \
                         page_state = CASE WHEN ?3 IS NULL THEN 'failed' ELSE 'pending' END, page_due = ?3 \
                         WHERE id = ?1 AND page_state = 'pending'",
                    )
                    .bind(write.item_id)
                    .bind(error)
                    .bind(retry_at.map(ts))
                    .execute(&mut *tx)
                    .await?;
                }
            }
        }
        search.write(&mut tx).await?;
        tx.commit().await?;
        Ok(added)
    }

    pub async fn page_counts(&self) -> Result<Vec<PageCounts>> {
        Ok(sqlx::query_as(
            "SELECT feed_id, sum(text_source = 'page') AS fetched, sum(page_state = 'failed') AS failed, \
             sum(page_state = 'pending') AS pending FROM items WHERE page_state IS NOT NULL GROUP BY feed_id",
        )
        .fetch_all(&self.read)
        .await?)
    }
}
