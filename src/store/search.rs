//! Reading items back: filters, newest first, with their topics.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sqlx::{FromRow, QueryBuilder, Sqlite};

use super::{ts, Result, Store};
use crate::topics::{Expr, Field, Pattern};

const ITEM_COLUMNS: &str = "SELECT i.id, f.url AS feed_url, coalesce(f.name, f.title) AS feed_name, i.guid, \
     i.url, i.title, i.published, i.fetched_at, i.lang, i.author, i.text, i.canonical_url, i.story_id, \
     i.sort_at";
const SELECT_ITEM: &str = "SELECT i.id, f.url AS feed_url, coalesce(f.name, f.title) AS feed_name, i.guid, \
     i.url, i.title, i.published, i.fetched_at, i.lang, i.author, i.text, i.canonical_url, i.story_id, \
     i.sort_at FROM items i JOIN feeds f ON f.id = i.feed_id";

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
    /// Only items whose language is this primary tag (`fa` takes `fa-IR`),
    /// case-insensitive.
    pub lang: Option<String>,
    /// An FTS5 expression over `items_fts` (see [`fts_query`]): only items
    /// it matches. Narrows candidates; it is not the topic semantics.
    pub fts: Option<String>,
    /// Result order; [`SearchSort::Relevance`] needs `fts`.
    pub sort: SearchSort,
    /// Newest first only: items strictly after this position.
    pub after: Option<Cursor>,
    /// Rows to skip (relevance order pages within one command).
    pub offset: u32,
}

/// Result order of [`Store::search`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum SearchSort {
    /// By publication time (else first seen), newest first, then id.
    #[default]
    Newest,
    /// By FTS5 BM25 rank of the `fts` expression (title weighs 3×), then id.
    Relevance,
}

/// A position in newest-first order: an item's `sort_at` and id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    pub sort_at: String,
    pub id: i64,
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
    /// Publication time, else first seen (stored form); the sort key.
    pub sort_at: String,
    #[sqlx(skip)]
    pub topics: Vec<String>,
    /// URLs of every feed listing the item, first feed first (set by
    /// [`Store::attach_topics`]).
    #[sqlx(skip)]
    pub feeds: Vec<String>,
}

impl Store {
    /// Items matching the filter, newest first (by publication time, else
    /// first-seen time), ties broken by id, or by relevance; with their
    /// topics and feeds.
    pub async fn search(&self, filter: &SearchFilter) -> Result<Vec<ItemRow>> {
        let mut rows = self.search_page(filter).await?;
        self.attach_topics(&mut rows).await?;
        Ok(rows)
    }

    /// Like [`Store::search`] without topics and feeds (cheaper, for
    /// candidates that are still to be confirmed).
    pub async fn search_page(&self, filter: &SearchFilter) -> Result<Vec<ItemRow>> {
        let relevance = filter.sort == SearchSort::Relevance && filter.fts.is_some();
        if let (Some(fts), false) = (&filter.fts, relevance) {
            return self.newest_matching(filter, fts).await;
        }
        let mut q: QueryBuilder<Sqlite> = QueryBuilder::new(ITEM_COLUMNS);
        if relevance {
            q.push(
                " FROM items_fts JOIN items i ON i.id = items_fts.rowid JOIN feeds f ON f.id = i.feed_id \
                 WHERE items_fts MATCH ",
            )
            .push_bind(filter.fts.clone().unwrap_or_default());
        } else {
            q.push(" FROM items i JOIN feeds f ON f.id = i.feed_id WHERE 1 = 1");
        }
        push_item_filters(&mut q, filter);
        if relevance {
            let mut window = filter.clone();
            window.after = None;
            push_time_filters(&mut q, &window, "i");
            q.push(" ORDER BY bm25(items_fts, 3.0, 1.0), i.id");
        } else {
            push_time_filters(&mut q, filter, "i");
            q.push(" ORDER BY i.sort_at DESC, i.id DESC");
        }
        q.push(" LIMIT ")
            .push_bind(i64::from(filter.limit))
            .push(" OFFSET ")
            .push_bind(i64::from(filter.offset));
        Ok(q.build_query_as().fetch_all(&self.read).await?)
    }

    /// [`Store::search_page`] newest first with a full-text expression, in
    /// two steps: the ids of the page, then their rows. Ids come from one of
    /// two exact plans:
    /// - every full-text match, with `sort_at` read from the covering index
    ///   `items_by_id` (migration 0009) rather than from the item rows (whose
    ///   text comes first), sorted: the cost follows the number of matches,
    ///   small for the names and rare words topics are made of;
    /// - when the expression matches at least [`DENSE`] items (counted up to
    ///   there, which is cheap) and only the time window and cursor filter:
    ///   first walk the newest-first index and ask the full-text index about
    ///   each item (`EXISTS … rowid =`, about 20 µs a plain word), at most
    ///   [`PROBE_SCAN`] entries; kept when it fills the page, which a common
    ///   word does in a few milliseconds.
    async fn newest_matching(&self, filter: &SearchFilter, fts: &str) -> Result<Vec<ItemRow>> {
        let window_only = filter.text.is_none()
            && filter.topic.is_none()
            && filter.feed.is_none()
            && filter.story.is_none()
            && filter.lang.is_none();
        let wanted = filter.limit as usize;
        let mut ids: Option<Vec<i64>> = None;
        let dense = window_only && filter.limit > 0 && {
            let n: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM (SELECT rowid FROM items_fts WHERE items_fts MATCH ? LIMIT ?)",
            )
            .bind(fts)
            .bind(DENSE)
            .fetch_one(&self.read)
            .await?;
            n >= DENSE
        };
        if dense {
            // The newest items first, down to the PROBE_SCAN-th of the
            // window (no row there: a small window, left to the other plan).
            let mut q: QueryBuilder<Sqlite> = QueryBuilder::new("SELECT i.id FROM items i WHERE 1 = 1");
            push_time_filters(&mut q, filter, "i");
            q.push(" AND (i.sort_at, i.id) >= (SELECT b.sort_at, b.id FROM items b WHERE 1 = 1");
            push_time_filters(&mut q, filter, "b");
            q.push(" ORDER BY b.sort_at DESC, b.id DESC LIMIT 1 OFFSET ")
                .push_bind(PROBE_SCAN - 1)
                .push(") AND EXISTS (SELECT 1 FROM items_fts WHERE items_fts MATCH ")
                .push_bind(fts.to_string())
                .push(" AND items_fts.rowid = i.id) ORDER BY i.sort_at DESC, i.id DESC LIMIT ")
                .push_bind(i64::from(filter.limit))
                .push(" OFFSET ")
                .push_bind(i64::from(filter.offset));
            let found: Vec<i64> = q.build_query_scalar().fetch_all(&self.read).await?;
            if found.len() == wanted {
                ids = Some(found);
            }
        }
        let ids = match ids {
            Some(ids) => ids,
            None => {
                let mut q: QueryBuilder<Sqlite> = QueryBuilder::new(if window_only {
                    "SELECT c.id FROM items c INDEXED BY items_by_id"
                } else {
                    "SELECT c.id FROM items c INDEXED BY items_by_id JOIN items i ON i.id = c.id"
                });
                q.push(" WHERE c.id IN (SELECT rowid FROM items_fts WHERE items_fts MATCH ")
                    .push_bind(fts.to_string())
                    .push(")");
                push_item_filters(&mut q, filter);
                push_time_filters(&mut q, filter, "c");
                q.push(" ORDER BY c.sort_at DESC, c.id DESC LIMIT ")
                    .push_bind(i64::from(filter.limit))
                    .push(" OFFSET ")
                    .push_bind(i64::from(filter.offset));
                q.build_query_scalar().fetch_all(&self.read).await?
            }
        };
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut rows = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(500) {
            let mut q: QueryBuilder<Sqlite> = QueryBuilder::new(SELECT_ITEM);
            q.push(" WHERE i.id IN (");
            let mut list = q.separated(", ");
            for id in chunk {
                list.push_bind(*id);
            }
            q.push(")");
            let part: Vec<ItemRow> = q.build_query_as().fetch_all(&self.read).await?;
            rows.extend(part);
        }
        rows.sort_by(|a: &ItemRow, b: &ItemRow| (&b.sort_at, b.id).cmp(&(&a.sort_at, a.id)));
        Ok(rows)
    }

    /// Where item `id` stands in newest-first order, if it exists.
    pub async fn cursor_of(&self, id: i64) -> Result<Option<Cursor>> {
        let sort_at: Option<String> = sqlx::query_scalar("SELECT sort_at FROM items WHERE id = ?")
            .bind(id)
            .fetch_optional(&self.read)
            .await?;
        Ok(sort_at.map(|sort_at| Cursor { sort_at, id }))
    }

    /// Brings the full-text index up to date with items stored before it
    /// existed (migration 0007 lists them), in batches. Run at open.
    pub(super) async fn backfill_search_index(&self) -> Result<u64> {
        self.drain_backfill("items_fts_backfill", "i.title, i.text", async |tx, rows| {
            let mut search = SearchRows::default();
            for (id, title, text) in rows {
                if let (Some(title), Some(text)) = (title, text) {
                    search.add(*id, &SearchText::new(title, text), true);
                }
            }
            search.write(tx).await
        })
        .await
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
        let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
        let mut by_item = self
            .strings_by_item(
                "SELECT it.item_id, t.name FROM item_topics it JOIN topics t ON t.id = it.topic_id \
                 WHERE it.item_id IN (",
                ") ORDER BY t.name",
                &ids,
            )
            .await?;
        let mut feeds = self
            .strings_by_item(
                "SELECT s.item_id, f.url FROM item_sources s JOIN feeds f ON f.id = s.feed_id \
                 WHERE s.item_id IN (",
                ") ORDER BY s.first_seen_at, s.rowid",
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

    /// Runs `head` + the ids + `tail` (a query yielding `(item_id, text)`)
    /// over `ids` in chunks (SQLite limits bound variables per statement)
    /// and groups the texts by item, in query order.
    async fn strings_by_item(
        &self,
        head: &str,
        tail: &str,
        ids: &[i64],
    ) -> Result<HashMap<i64, Vec<String>>> {
        const CHUNK: usize = 500;
        let mut by_item: HashMap<i64, Vec<String>> = HashMap::new();
        for chunk in ids.chunks(CHUNK) {
            let mut q: QueryBuilder<Sqlite> = QueryBuilder::new(head);
            let mut separated = q.separated(", ");
            for id in chunk {
                separated.push_bind(*id);
            }
            q.push(tail);
            let pairs: Vec<(i64, String)> = q.build_query_as().fetch_all(&self.read).await?;
            for (id, text) in pairs {
                by_item.entry(id).or_default().push(text);
            }
        }
        Ok(by_item)
    }

    /// Names of the stored topics.
    pub async fn topic_names(&self) -> Result<Vec<String>> {
        Ok(sqlx::query_scalar("SELECT name FROM topics ORDER BY name")
            .fetch_all(&self.read)
            .await?)
    }
}

/// Full-text matches from which a newest-first search first probes the
/// newest items one by one ([`Store::search_page`]).
const DENSE: i64 = 50_000;
/// Index entries probed before giving up on that and sorting every match.
const PROBE_SCAN: i64 = 4000;

/// The filters on `items i` other than time and full text: substring,
/// topic, feed, story, language.
fn push_item_filters(q: &mut QueryBuilder<Sqlite>, filter: &SearchFilter) {
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
    if let Some(lang) = &filter.lang {
        let lang = lang.to_ascii_lowercase();
        q.push(" AND (lower(i.lang) = ")
            .push_bind(lang.clone())
            .push(" OR lower(i.lang) LIKE ")
            .push_bind(format!("{}-%", escape_like(&lang)))
            .push(" ESCAPE '\\')");
    }
}

/// The time window and the newest-first cursor, on items aliased `alias`.
fn push_time_filters(q: &mut QueryBuilder<Sqlite>, filter: &SearchFilter, alias: &str) {
    if let Some(since) = filter.since {
        q.push(format!(" AND {alias}.sort_at >= ")).push_bind(ts(since));
    }
    if let Some(until) = filter.until {
        q.push(format!(" AND {alias}.sort_at < ")).push_bind(ts(until));
    }
    if let Some(after) = &filter.after {
        q.push(format!(" AND ({alias}.sort_at, {alias}.id) < ("))
            .push_bind(after.sort_at.clone())
            .push(", ")
            .push_bind(after.id)
            .push(")");
    }
}

fn escape_like(s: &str) -> String {
    s.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")
}

/// What `items_fts` holds of an item: the folded words
/// ([`crate::text::words`]) of its title and of its text, joined by spaces.
/// Computed where the words are already at hand (the pipeline's parallel
/// stage), not in the single writer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SearchText {
    title: String,
    text: String,
}

impl SearchText {
    pub fn new(title: &str, text: &str) -> SearchText {
        SearchText::from_words(&crate::text::words(title), &crate::text::words(text))
    }

    /// From the folded words of the title and of the text.
    pub fn from_words(title: &[String], text: &[String]) -> SearchText {
        SearchText {
            title: title.join(" "),
            text: text.join(" "),
        }
    }
}

/// Items to index (or re-index) in `items_fts` ([`SearchText`]). Written at
/// the end of a write transaction in a few large statements: FTS5 flushes
/// its pending terms to a new segment whenever a later statement of the
/// transaction opens a statement journal, so indexing item by item between
/// other writes makes thousands of tiny segments to merge. The one
/// full-text write path; deletes follow by trigger.
#[derive(Debug, Default)]
pub(super) struct SearchRows {
    /// Item id → its row in `rows` (an item written twice keeps the last).
    by_id: HashMap<i64, usize>,
    rows: Vec<(i64, String, String)>,
    /// Items that may be indexed already.
    replace: Vec<i64>,
}

impl SearchRows {
    /// Rows per `INSERT` (three parameters each, far below SQLite's limit).
    const CHUNK: usize = 1000;

    /// Queues an item; `replace` when it may be indexed already (an edit).
    pub fn add(&mut self, item_id: i64, text: &SearchText, replace: bool) {
        let row = (item_id, text.title.clone(), text.text.clone());
        if replace {
            self.replace.push(item_id);
        }
        match self.by_id.get(&item_id) {
            Some(&i) => self.rows[i] = row,
            None => {
                self.by_id.insert(item_id, self.rows.len());
                self.rows.push(row);
            }
        }
    }

    /// Writes the queued rows.
    pub async fn write(self, tx: &mut sqlx::SqliteConnection) -> Result<()> {
        for ids in self.replace.chunks(Self::CHUNK) {
            let mut q: QueryBuilder<Sqlite> = QueryBuilder::new("DELETE FROM items_fts WHERE rowid IN (");
            let mut list = q.separated(", ");
            for id in ids {
                list.push_bind(*id);
            }
            q.push(")");
            q.build().execute(&mut *tx).await?;
        }
        for rows in self.rows.chunks(Self::CHUNK) {
            let mut q: QueryBuilder<Sqlite> =
                QueryBuilder::new("INSERT INTO items_fts (rowid, title, text) ");
            q.push_values(rows, |mut row, (id, title, text)| {
                row.push_bind(*id).push_bind(title).push_bind(text);
            });
            q.build().execute(&mut *tx).await?;
        }
        Ok(())
    }
}

/// An FTS5 expression over `items_fts` that every item the query matches
/// also matches (a superset: the topic evaluator confirms), or `None` when
/// the query gives no such narrowing. Phrases and field scopes map to FTS5
/// phrases and column filters (the index holds folded words, one token
/// each); `NEAR` to `AND` of its sides; `NOT`, `lang:` and `feed:` narrow
/// nothing here.
pub fn fts_query(expr: &Expr) -> Option<String> {
    match expr {
        Expr::Match { field, words } => {
            let phrase = words
                .iter()
                .map(|p| match p {
                    Pattern::Word(w) => quote(w),
                    Pattern::Prefix(w) => format!("{} *", quote(w)),
                })
                .collect::<Vec<_>>()
                .join(" + ");
            if phrase.is_empty() {
                return None;
            }
            Some(match field {
                Field::Any => format!("({phrase})"),
                Field::Title => format!("({{title}} : ({phrase}))"),
                Field::Text => format!("({{text}} : ({phrase}))"),
            })
        }
        Expr::Near { left, right, .. } => match (fts_query(left), fts_query(right)) {
            (Some(l), Some(r)) => Some(format!("({l} AND {r})")),
            (one, other) => one.or(other),
        },
        Expr::And(children) => {
            let parts: Vec<String> = children.iter().filter_map(fts_query).collect();
            (!parts.is_empty()).then(|| format!("({})", parts.join(" AND ")))
        }
        Expr::Or(children) => {
            let parts: Option<Vec<String>> = children.iter().map(fts_query).collect();
            parts
                .filter(|p| !p.is_empty())
                .map(|p| format!("({})", p.join(" OR ")))
        }
        Expr::Not(_) | Expr::Lang(_) | Expr::Feed(_) => None,
    }
}

fn quote(word: &str) -> String {
    format!("\"{}\"", word.replace('"', "\"\""))
}
