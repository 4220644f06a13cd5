//! Reading items back on PostgreSQL: searches (full-text candidates from
//! `items.words`, see `tsquery.rs`), items by id, recent items, their
//! topics and feeds; and the time budget of search reads.
//!
//! Results are those of the SQLite backend (`sqlite/search.rs`): the same
//! rows in the same order. Texts sort by code point (`COLLATE "C"`, as
//! SQLite compares them), whatever the database's collation.

use std::collections::HashMap;

use sqlx::{Postgres, QueryBuilder, Transaction};

use super::tsquery::tsquery;
use super::*;
use crate::store::{SearchSort, Words};

const ITEM_COLUMNS: &str = "SELECT i.id, f.url AS feed_url, coalesce(f.name, f.title) AS feed_name, i.guid, \
     i.url, i.title, fw_ts(i.published) AS published, fw_ts(i.fetched_at) AS fetched_at, i.lang, \
     i.declared_lang, i.author, i.text, i.canonical_url, i.story_id, i.text_source, i.summary, i.page_error, \
     fw_ts(i.sort_at) AS sort_at";
const SELECT_ITEM: &str = "SELECT i.id, f.url AS feed_url, coalesce(f.name, f.title) AS feed_name, i.guid, \
     i.url, i.title, fw_ts(i.published) AS published, fw_ts(i.fetched_at) AS fetched_at, i.lang, \
     i.declared_lang, i.author, i.text, i.canonical_url, i.story_id, i.text_source, i.summary, i.page_error, \
     fw_ts(i.sort_at) AS sort_at FROM items i JOIN feeds f ON f.id = i.feed_id";

/// `ts_rank`'s weights of `{D, C, B, A}`: a title word (A) counts three
/// times a text word (B), as SQLite's `bm25(items_fts, 3.0, 1.0)` weighs
/// them (PostgreSQL takes weights up to 1).
const RANK_WEIGHTS: &str = "'{0.1, 0.1, 0.33333334, 1.0}'";

/// SQLSTATE `query_canceled`: `statement_timeout` stopped the statement.
const QUERY_CANCELED: &str = "57014";

impl PgStore {
    /// Items matching the filter, newest first (by publication time, else
    /// first-seen time), ties broken by id, or by relevance; with their
    /// topics and feeds.
    pub async fn search(&self, filter: &SearchFilter) -> Result<Vec<ItemRow>> {
        let mut rows = self.search_page(filter).await?;
        self.attach_topics(&mut rows).await?;
        Ok(rows)
    }

    /// Like [`PgStore::search`] without topics and feeds (cheaper, for
    /// candidates that are still to be confirmed). Newest first, the
    /// planner chooses between the GIN index of `items.words` (then sorting
    /// the matches) and walking `items_newest` testing each item; by
    /// relevance, every match is ranked (`ts_rank`, title words 3×), then
    /// id.
    pub async fn search_page(&self, filter: &SearchFilter) -> Result<Vec<ItemRow>> {
        let words = filter.words.as_ref().and_then(|w: &Words| tsquery(&w.query));
        let relevance = filter.sort == SearchSort::Relevance && words.is_some();
        let mut q: QueryBuilder<Postgres> = QueryBuilder::new(ITEM_COLUMNS);
        q.push(" FROM items i JOIN feeds f ON f.id = i.feed_id WHERE true");
        if let Some(words) = &words {
            q.push(" AND i.words @@ ")
                .push_bind(words.clone())
                .push("::tsquery");
        }
        push_item_filters(&mut q, filter);
        if relevance {
            let mut window = filter.clone();
            window.after = None;
            push_time_filters(&mut q, &window)?;
            q.push(format!(" ORDER BY ts_rank({RANK_WEIGHTS}, i.words, "))
                .push_bind(words.unwrap_or_default())
                .push("::tsquery) DESC, i.id");
        } else {
            push_time_filters(&mut q, filter)?;
            q.push(" ORDER BY i.sort_at DESC, i.id DESC");
        }
        q.push(" LIMIT ")
            .push_bind(i64::from(filter.limit))
            .push(" OFFSET ")
            .push_bind(i64::from(filter.offset));
        let mut tx = self.reader().await?;
        let rows = q
            .build_query_as()
            .fetch_all(&mut *tx)
            .await
            .map_err(|e| self.budgeted(e))?;
        tx.commit().await?;
        Ok(rows)
    }

    /// Where item `id` stands in newest-first order, if it exists.
    pub async fn cursor_of(&self, id: i64) -> Result<Option<Cursor>> {
        let mut tx = self.reader().await?;
        let sort_at: Option<String> = sqlx::query_scalar("SELECT fw_ts(sort_at) FROM items WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await
            .map_err(|e| self.budgeted(e))?;
        tx.commit().await?;
        Ok(sort_at.map(|sort_at| Cursor { sort_at, id }))
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
        let mut q: QueryBuilder<Postgres> = QueryBuilder::new(SELECT_ITEM);
        q.push(" WHERE i.id > ").push_bind(after_id);
        if let Some(since) = since {
            q.push(" AND i.sort_at >= ").push_bind(since);
        }
        q.push(" ORDER BY i.id LIMIT ").push_bind(i64::from(limit));
        Ok(q.build_query_as().fetch_all(&self.pool).await?)
    }

    /// One item by id, with its topics and feeds.
    pub async fn item(&self, id: i64) -> Result<Option<ItemRow>> {
        let mut q: QueryBuilder<Postgres> = QueryBuilder::new(SELECT_ITEM);
        q.push(" WHERE i.id = ").push_bind(id);
        let mut rows: Vec<ItemRow> = q.build_query_as().fetch_all(&self.pool).await?;
        self.attach_topics(&mut rows).await?;
        Ok(rows.pop())
    }

    /// The `limit` most recently stored items.
    pub async fn recent_items(&self, limit: u32) -> Result<Vec<ItemRow>> {
        let mut q: QueryBuilder<Postgres> = QueryBuilder::new(SELECT_ITEM);
        q.push(" ORDER BY i.id DESC LIMIT ").push_bind(i64::from(limit));
        Ok(q.build_query_as().fetch_all(&self.pool).await?)
    }

    /// Attaches topic names and source feeds to already-fetched rows: the
    /// feeds in the order they first listed the item (`item_sources.seq`
    /// breaks ties of the same second, as SQLite's rowid does), the first
    /// feed first.
    pub async fn attach_topics(&self, rows: &mut [ItemRow]) -> Result<()> {
        if rows.is_empty() {
            return Ok(());
        }
        let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
        let mut by_item = self
            .strings_by_item(
                "SELECT it.item_id, t.name FROM item_topics it JOIN topics t ON t.id = it.topic_id \
                 WHERE it.item_id = ANY($1) ORDER BY t.name COLLATE \"C\"",
                &ids,
            )
            .await?;
        let mut feeds = self
            .strings_by_item(
                "SELECT s.item_id, f.url FROM item_sources s JOIN feeds f ON f.id = s.feed_id \
                 WHERE s.item_id = ANY($1) ORDER BY s.first_seen_at, s.seq",
                &ids,
            )
            .await?;
        for row in rows {
            row.topics = by_item.remove(&row.id).unwrap_or_default();
            let mut urls = feeds.remove(&row.id).unwrap_or_default();
            let mut seen = std::collections::HashSet::new();
            urls.retain(|u| seen.insert(u.clone()));
            // The first feed first.
            if let Some(pos) = urls.iter().position(|u| *u == row.feed_url) {
                let first = urls.remove(pos);
                urls.insert(0, first);
            }
            row.feeds = urls;
        }
        Ok(())
    }

    /// Runs `sql` (yielding `(item_id, text)` for the items `$1`, a search
    /// read) and groups the texts by item, in query order.
    async fn strings_by_item(&self, sql: &str, ids: &[i64]) -> Result<HashMap<i64, Vec<String>>> {
        let mut tx = self.reader().await?;
        let pairs: Vec<(i64, String)> = sqlx::query_as(sql)
            .bind(ids)
            .fetch_all(&mut *tx)
            .await
            .map_err(|e| self.budgeted(e))?;
        tx.commit().await?;
        let mut by_item: HashMap<i64, Vec<String>> = HashMap::new();
        for (id, text) in pairs {
            by_item.entry(id).or_default().push(text);
        }
        Ok(by_item)
    }

    /// Names of the stored topics.
    pub async fn topic_names(&self) -> Result<Vec<String>> {
        Ok(
            sqlx::query_scalar("SELECT name FROM topics ORDER BY name COLLATE \"C\"")
                .fetch_all(&self.pool)
                .await?,
        )
    }

    /// A transaction for a search read (`search_page`, `cursor_of`,
    /// `attach_topics`), on the search pool if this handle has one, its
    /// statements stopped by `statement_timeout` when this handle's budget
    /// runs out ([`PgStore::bounded`]): each statement may take the time
    /// left when the transaction began.
    async fn reader(&self) -> Result<Transaction<'static, Postgres>> {
        if let Some(limit) = self.over_budget() {
            return Err(StoreError::OverBudget(limit));
        }
        let mut tx = self.search.as_ref().unwrap_or(&self.pool).begin().await?;
        if let Some(budget) = &self.budget {
            let left = budget.deadline.saturating_duration_since(Instant::now());
            // `0` would mean no limit.
            let ms = left.as_millis().max(1);
            sqlx::query("SELECT set_config('statement_timeout', $1, true)")
                .bind(format!("{ms}ms"))
                .execute(&mut *tx)
                .await?;
        }
        Ok(tx)
    }

    /// `error` as the budget's end when `statement_timeout` stopped the
    /// statement of a budgeted read.
    fn budgeted(&self, error: sqlx::Error) -> StoreError {
        let canceled =
            matches!(&error, sqlx::Error::Database(e) if e.code().as_deref() == Some(QUERY_CANCELED));
        match (&self.budget, canceled) {
            (Some(budget), true) => StoreError::OverBudget(budget.limit),
            _ => StoreError::Sql(error),
        }
    }
}

/// Whether a search for `query` can be ranked by relevance: its words
/// narrow the candidates.
pub(super) fn ranks(query: &Expr) -> bool {
    tsquery(query).is_some()
}

/// `lower()` of ASCII letters only, as SQLite's `lower()` and `LIKE` fold
/// case (PostgreSQL's follow the collation's locale).
fn ascii_lower(column: &str) -> String {
    format!("translate({column}, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz')")
}

/// The filters on `items i` other than time and full text: substring
/// (ASCII case-insensitive, as SQLite's `LIKE`), topic, feed, story,
/// language.
fn push_item_filters(q: &mut QueryBuilder<Postgres>, filter: &SearchFilter) {
    if let Some(text) = &filter.text {
        let pattern = format!("%{}%", escape_like(&text.to_ascii_lowercase()));
        q.push(format!(" AND ({} LIKE ", ascii_lower("i.title")))
            .push_bind(pattern.clone())
            .push(format!(" ESCAPE '\\' OR {} LIKE ", ascii_lower("i.text")))
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
        // A merged story's id finds the story it was merged into (each
        // merge goes to a lower id, so the chain ends).
        q.push(" AND i.story_id = (WITH RECURSIVE chain(id, depth) AS (SELECT ")
            .push_bind(story)
            .push(
                "::bigint, 0 UNION ALL SELECT m.merged_into, c.depth + 1 FROM story_merges m \
             JOIN chain c ON m.story_id = c.id) SELECT id FROM chain ORDER BY depth DESC LIMIT 1)",
            );
    }
    if let Some(lang) = &filter.lang {
        let lang = lang.to_ascii_lowercase();
        let column = ascii_lower("i.lang");
        q.push(format!(" AND ({column} = "))
            .push_bind(lang.clone())
            .push(format!(" OR {column} LIKE "))
            .push_bind(format!("{}-%", escape_like(&lang)))
            .push(" ESCAPE '\\')");
    }
}

/// The time window and the newest-first cursor.
fn push_time_filters(q: &mut QueryBuilder<Postgres>, filter: &SearchFilter) -> Result<()> {
    if let Some(since) = filter.since {
        q.push(" AND i.sort_at >= ").push_bind(since);
    }
    if let Some(until) = filter.until {
        q.push(" AND i.sort_at < ").push_bind(until);
    }
    if let Some(after) = &filter.after {
        let sort_at = crate::store::parse_ts(&after.sort_at).ok_or_else(|| StoreError::Malformed {
            table: "items",
            row: format!("cursor {} at {:?}", after.id, after.sort_at),
        })?;
        q.push(" AND (i.sort_at, i.id) < (")
            .push_bind(sort_at)
            .push(", ")
            .push_bind(after.id)
            .push(")");
    }
    Ok(())
}

fn escape_like(s: &str) -> String {
    s.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")
}
