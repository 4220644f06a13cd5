//! The article-page queue on PostgreSQL (see `store::pages`): instances
//! claim due items with `FOR UPDATE SKIP LOCKED`, so each page is fetched
//! by one of them; a claim lapses after its lease.

use std::collections::HashSet;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::items::write_matches;
use super::*;
use crate::store::{PageCounts, PageJob, PageOutcome, PageWrite};

impl PgStore {
    pub async fn claim_pages(&self, now: DateTime<Utc>, limit: u32, lease: Duration) -> Result<Vec<PageJob>> {
        let until = now + chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::MAX);
        Ok(sqlx::query_as(
            "WITH claimed AS (UPDATE items SET page_due = $1 WHERE id IN (SELECT id FROM items \
             WHERE page_state = 'pending' AND page_due <= $2 ORDER BY page_due, id LIMIT $3 \
             FOR UPDATE SKIP LOCKED) RETURNING *) \
             SELECT i.id AS item_id, i.url, i.canonical_url, i.title, i.text, i.lang, i.declared_lang, i.author, \
             i.page_attempts::bigint AS attempts, f.url AS feed_url, coalesce(f.name, f.title) AS feed_name, \
             to_json(f.tags)::text AS feed_tags FROM claimed i JOIN feeds f ON f.id = i.feed_id \
             WHERE i.url IS NOT NULL ORDER BY i.id",
        )
        .bind(whole_seconds(until))
        .bind(now)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?)
    }

    pub async fn apply_pages(&self, writes: &[PageWrite], at: DateTime<Utc>) -> Result<u64> {
        let at = whole_seconds(at);
        let mut tx = self.pool.begin().await?;
        let mut added = 0;
        for write in writes {
            match &write.outcome {
                PageOutcome::Extracted {
                    text,
                    author,
                    declared_lang,
                } => {
                    let (title_words, text_words) = match text {
                        Some(text) => {
                            let (title, body) = text.search.words();
                            (Some(title), Some(body))
                        }
                        None => (None, None),
                    };
                    let updated = sqlx::query(
                        "UPDATE items SET summary = CASE WHEN $2::text IS NOT NULL THEN text END, \
                         text = coalesce($2, text), \
                         text_source = CASE WHEN $2::text IS NOT NULL THEN 'page' ELSE 'feed' END, \
                         author = coalesce(author, $3), declared_lang = coalesce(declared_lang, $4), \
                         page_state = 'done', page_error = NULL, page_due = NULL, \
                         version = version + CASE WHEN $2::text IS NOT NULL THEN 1 ELSE 0 END, \
                         words = CASE WHEN $2::text IS NOT NULL THEN fw_words($5::text[], $6::text[]) ELSE words END \
                         WHERE id = $1 AND page_state = 'pending'",
                    )
                    .bind(write.item_id)
                    .bind(text.as_ref().map(|t| &t.text))
                    .bind(author)
                    .bind(declared_lang)
                    .bind(title_words)
                    .bind(text_words)
                    .execute(&mut *tx)
                    .await?;
                    let (Some(text), 1) = (text, updated.rows_affected()) else {
                        continue;
                    };
                    let held: HashSet<i64> =
                        sqlx::query_scalar("SELECT topic_id FROM item_topics WHERE item_id = $1")
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
                    added += write_matches(&mut tx, write.item_id, &new, HashSet::new(), at).await?;
                }
                PageOutcome::Failed { error, retry_at } => {
                    sqlx::query(
                        "UPDATE items SET page_error = $2, page_attempts = page_attempts + 1, \
                         page_state = CASE WHEN $3::timestamptz IS NULL THEN 'failed' ELSE 'pending' END, \
                         page_due = $3 WHERE id = $1 AND page_state = 'pending'",
                    )
                    .bind(write.item_id)
                    .bind(error)
                    .bind(retry_at.map(whole_seconds))
                    .execute(&mut *tx)
                    .await?;
                }
            }
        }
        tx.commit().await?;
        Ok(added)
    }

    pub async fn page_counts(&self) -> Result<Vec<PageCounts>> {
        Ok(sqlx::query_as(
            "SELECT feed_id, count(*) FILTER (WHERE text_source = 'page') AS fetched, \
             count(*) FILTER (WHERE page_state = 'failed') AS failed, \
             count(*) FILTER (WHERE page_state = 'pending') AS pending \
             FROM items WHERE page_state IS NOT NULL GROUP BY feed_id",
        )
        .fetch_all(&self.pool)
        .await?)
    }
}
