//! Reading items back: filters, newest first, with their topics.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sqlx::{FromRow, QueryBuilder, Sqlite};

use super::{ts, Result, SqliteStore};
use crate::topics::{Expr, Field, Pattern};

const ITEM_COLUMNS: &str = "SELECT i.id, f.url AS feed_url, coalesce(f.name, f.title) AS feed_name, i.guid, \
     i.url, i.title, i.published, i.fetched_at, i.lang, i.declared_lang, i.author, i.text, i.canonical_url, \
     i.story_id, i.text_source, i.summary, i.page_error, \
     i.sort_at";
const SELECT_ITEM: &str = "SELECT i.id, f.url AS feed_url, coalesce(f.name, f.title) AS feed_name, i.guid, \
     i.url, i.title, i.published, i.fetched_at, i.lang, i.declared_lang, i.author, i.text, i.canonical_url, \
     i.story_id, i.text_source, i.summary, i.page_error, \
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
    /// Only items whose words could match this query (a superset: it
    /// narrows candidates, it is not the topic semantics, which
    /// [`crate::topics`] confirms).
    pub words: Option<Words>,
    /// Result order; [`SearchSort::Relevance`] needs `words` that narrow
    /// ([`SqliteStore::ranks`]).
    pub sort: SearchSort,
    /// Newest first only: items strictly after this position.
    pub after: Option<Cursor>,
    /// Rows to skip (relevance order pages within one command).
    pub offset: u32,
}

/// A query's words as a search's candidates: its syntax tree and how
/// strictly to read it. Loose candidates are cheaper to find but more of
/// them fail the evaluator (a `NEAR` of term sets read as the `AND` of its
/// sides); strict ones are the closest superset the index gives.
#[derive(Debug, Clone)]
pub struct Words {
    pub query: std::sync::Arc<Expr>,
    pub strict: bool,
}

impl Words {
    /// Whether reading these words strictly would give fewer candidates.
    pub fn can_tighten(&self) -> bool {
        !self.strict && fts_query_loose(&self.query) != fts_query(&self.query)
    }

    /// The FTS5 expression over `items_fts`, or `None` when the query gives
    /// no narrowing.
    fn fts(&self) -> Option<String> {
        if self.strict {
            fts_query(&self.query)
        } else {
            fts_query_loose(&self.query)
        }
    }
}

/// Result order of [`SqliteStore::search`].
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
    /// The language identified from the text (a primary subtag: `fa`), or
    /// for items stored before identification, the declared tag.
    pub lang: Option<String>,
    /// The language tag the feed declared (`en-us`).
    pub declared_lang: Option<String>,
    pub author: Option<String>,
    pub text: String,
    /// [`crate::stories::canonical_url`] of `url`.
    pub canonical_url: Option<String>,
    pub story_id: Option<i64>,
    /// Where `text` came from: `feed`, or `page` (the article's page,
    /// `full_text`).
    pub text_source: String,
    /// The feed's own text (its teaser) when `text` is the page's.
    pub summary: Option<String>,
    /// Why the article's page could not be fetched or extracted (the last
    /// attempt), if it failed.
    pub page_error: Option<String>,
    /// Publication time, else first seen (stored form); the sort key.
    pub sort_at: String,
    #[sqlx(skip)]
    pub topics: Vec<String>,
    /// URLs of every feed listing the item, first feed first (set by
    /// [`SqliteStore::attach_topics`]).
    #[sqlx(skip)]
    pub feeds: Vec<String>,
}

impl SqliteStore {
    /// Whether the store can rank items by relevance to `query`
    /// ([`SearchSort::Relevance`]): its words narrow candidates (a query of
    /// only `NOT`, `lang:` or `feed:` gives nothing to rank by).
    pub fn ranks(&self, query: &Expr) -> bool {
        fts_query(query).is_some()
    }

    /// Items matching the filter, newest first (by publication time, else
    /// first-seen time), ties broken by id, or by relevance; with their
    /// topics and feeds.
    pub async fn search(&self, filter: &SearchFilter) -> Result<Vec<ItemRow>> {
        let mut rows = self.search_page(filter).await?;
        self.attach_topics(&mut rows).await?;
        Ok(rows)
    }

    /// Like [`SqliteStore::search`] without topics and feeds (cheaper, for
    /// candidates that are still to be confirmed).
    pub async fn search_page(&self, filter: &SearchFilter) -> Result<Vec<ItemRow>> {
        let fts = filter.words.as_ref().and_then(Words::fts);
        let relevance = filter.sort == SearchSort::Relevance && fts.is_some();
        if let (Some(fts), false) = (&fts, relevance) {
            return self.newest_matching(filter, fts).await;
        }
        let mut conn = self.reader().await?;
        let mut q: QueryBuilder<Sqlite> = QueryBuilder::new(ITEM_COLUMNS);
        if relevance {
            q.push(
                " FROM items_fts JOIN items i ON i.id = items_fts.rowid JOIN feeds f ON f.id = i.feed_id \
                 WHERE items_fts MATCH ",
            )
            .push_bind(fts.unwrap_or_default());
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
        q.build_query_as()
            .fetch_all(&mut *conn)
            .await
            .map_err(|e| self.budgeted(e))
    }

    /// [`SqliteStore::search_page`] newest first with a full-text expression, in
    /// two steps: the ids of the page, then their rows. Ids come from one of
    /// three exact plans:
    /// - every full-text match, with `sort_at` read from the covering index
    ///   `items_by_id` (migration 0009) rather than from the item rows (whose
    ///   text comes first), sorted: the cost follows the number of matches,
    ///   small for the names and rare words topics are made of;
    /// - when the expression matches at least [`DENSE`] items (counted up to
    ///   there, which is cheap) and only the time window and cursor filter:
    ///   first walk the newest-first index and ask the full-text index about
    ///   each item (`EXISTS … rowid =`, about 20 µs a plain word), at most
    ///   [`PROBE_SCAN`] entries; kept when it fills the page, which a common
    ///   word does in a few milliseconds;
    /// - when it matches at least [`MIDDLING`] items (but fewer than
    ///   [`DENSE`]) and only the time window and cursor filter: first walk
    ///   the newest-first index and look each item up in the set of matches
    ///   (`IN`, built once), at most [`MEMBER_SCAN`] entries; kept when it
    ///   fills the page.
    async fn newest_matching(&self, filter: &SearchFilter, fts: &str) -> Result<Vec<ItemRow>> {
        let mut conn = self.reader().await?;
        let window_only = filter.text.is_none()
            && filter.topic.is_none()
            && filter.feed.is_none()
            && filter.story.is_none()
            && filter.lang.is_none();
        let wanted = filter.limit as usize;
        let mut ids: Option<Vec<i64>> = None;
        let matches: Option<i64> = if window_only && filter.limit > 0 {
            Some(
                sqlx::query_scalar(
                    "SELECT count(*) FROM (SELECT rowid FROM items_fts WHERE items_fts MATCH ? LIMIT ?)",
                )
                .bind(fts)
                .bind(DENSE)
                .fetch_one(&mut *conn)
                .await
                .map_err(|e| self.budgeted(e))?,
            )
        } else {
            None
        };
        if matches.is_some_and(|n| n >= DENSE) {
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
            let found: Vec<i64> = q
                .build_query_scalar()
                .fetch_all(&mut *conn)
                .await
                .map_err(|e| self.budgeted(e))?;
            if found.len() == wanted {
                ids = Some(found);
            }
        } else if matches.is_some_and(|n| n >= MIDDLING) {
            // The newest items first, down to the MEMBER_SCAN-th of the
            // window, each looked up in the matches (SQLite builds a set of
            // them once): kept when it fills the page.
            let mut q: QueryBuilder<Sqlite> = QueryBuilder::new(
                "SELECT i.id FROM items i INDEXED BY items_newest \
                 WHERE i.id IN (SELECT rowid FROM items_fts WHERE items_fts MATCH ",
            );
            q.push_bind(fts.to_string()).push(")");
            push_time_filters(&mut q, filter, "i");
            q.push(" AND (i.sort_at, i.id) >= (SELECT b.sort_at, b.id FROM items b WHERE 1 = 1");
            push_time_filters(&mut q, filter, "b");
            q.push(" ORDER BY b.sort_at DESC, b.id DESC LIMIT 1 OFFSET ")
                .push_bind(MEMBER_SCAN - 1)
                .push(") ORDER BY i.sort_at DESC, i.id DESC LIMIT ")
                .push_bind(i64::from(filter.limit))
                .push(" OFFSET ")
                .push_bind(i64::from(filter.offset));
            let found: Vec<i64> = q
                .build_query_scalar()
                .fetch_all(&mut *conn)
                .await
                .map_err(|e| self.budgeted(e))?;
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
                q.build_query_scalar()
                    .fetch_all(&mut *conn)
                    .await
                    .map_err(|e| self.budgeted(e))?
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
            let part: Vec<ItemRow> = q
                .build_query_as()
                .fetch_all(&mut *conn)
                .await
                .map_err(|e| self.budgeted(e))?;
            rows.extend(part);
        }
        rows.sort_by(|a: &ItemRow, b: &ItemRow| (&b.sort_at, b.id).cmp(&(&a.sort_at, a.id)));
        Ok(rows)
    }

    /// Where item `id` stands in newest-first order, if it exists.
    pub async fn cursor_of(&self, id: i64) -> Result<Option<Cursor>> {
        let mut conn = self.reader().await?;
        let sort_at: Option<String> = sqlx::query_scalar("SELECT sort_at FROM items WHERE id = ?")
            .bind(id)
            .fetch_optional(&mut *conn)
            .await
            .map_err(|e| self.budgeted(e))?;
        Ok(sort_at.map(|sort_at| Cursor { sort_at, id }))
    }

    /// Brings the full-text index up to date with items stored before it
    /// existed (migration 0007 lists them), in batches. Run at open.
    pub(super) async fn backfill_search_index(&self) -> Result<u64> {
        let pending: i64 = sqlx::query_scalar("SELECT count(*) FROM items_fts_backfill")
            .fetch_one(&self.write)
            .await?;
        if pending == 0 {
            return Ok(0);
        }
        let started = std::time::Instant::now();
        tracing::info!(
            items = pending,
            "indexing items for text search (after an upgrade)"
        );
        let done = self
            .drain_backfill(
                "items_fts_backfill",
                "i.title, i.text, i.lang",
                async |tx, rows| {
                    let mut search = SearchRows::default();
                    for (id, title, text, lang) in rows {
                        if let (Some(title), Some(text)) = (title, text) {
                            search.add(*id, &SearchText::new(title, text, lang.as_deref()), true);
                        }
                    }
                    search.write(tx).await
                },
            )
            .await?;
        tracing::info!(items = done, elapsed = ?started.elapsed(), "text search index up to date");
        Ok(done)
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

    /// One item by id, with its topics and feeds.
    pub async fn item(&self, id: i64) -> Result<Option<ItemRow>> {
        let mut q: QueryBuilder<Sqlite> = QueryBuilder::new(SELECT_ITEM);
        q.push(" WHERE i.id = ").push_bind(id);
        let mut rows: Vec<ItemRow> = q.build_query_as().fetch_all(&self.read).await?;
        self.attach_topics(&mut rows).await?;
        Ok(rows.pop())
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
        let mut conn = self.reader().await?;
        const CHUNK: usize = 500;
        let mut by_item: HashMap<i64, Vec<String>> = HashMap::new();
        for chunk in ids.chunks(CHUNK) {
            let mut q: QueryBuilder<Sqlite> = QueryBuilder::new(head);
            let mut separated = q.separated(", ");
            for id in chunk {
                separated.push_bind(*id);
            }
            q.push(tail);
            let pairs: Vec<(i64, String)> = q
                .build_query_as()
                .fetch_all(&mut *conn)
                .await
                .map_err(|e| self.budgeted(e))?;
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
/// newest items one by one ([`SqliteStore::search_page`]).
const DENSE: i64 = 50_000;
/// Index entries probed before giving up on that and sorting every match.
const PROBE_SCAN: i64 = 4000;
/// Full-text matches from which a newest-first search first walks the
/// newest items looking each up in the set of matches (below [`DENSE`]):
/// about 0.1 µs an entry against 0.6 µs a match to read `sort_at` and sort
/// (the farm's term-set topics, 25,000 matches: 8.5 ms instead of 22 ms).
const MIDDLING: i64 = 10_000;
/// Index entries walked so before giving up on that and sorting every
/// match (a few milliseconds). Smaller in unit tests, so that their
/// windows and later pages take this plan too.
const MEMBER_SCAN: i64 = if cfg!(test) { 5_000 } else { 50_000 };

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
        // A merged story's id finds the story it was merged into (each
        // merge goes to a lower id, so the chain ends).
        q.push(" AND i.story_id = (WITH RECURSIVE chain(id, depth) AS (SELECT ")
            .push_bind(story)
            .push(
                ", 0 UNION ALL SELECT m.merged_into, c.depth + 1 FROM story_merges m \
             JOIN chain c ON m.story_id = c.id) SELECT id FROM chain ORDER BY depth DESC LIMIT 1)",
            );
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
    /// The words of an item in language `lang` (its tag).
    pub fn new(title: &str, text: &str, lang: Option<&str>) -> SearchText {
        SearchText::from_words(
            &crate::text::words_in(title, lang),
            &crate::text::words_in(text, lang),
        )
    }

    /// From the folded words of the title and of the text.
    pub fn from_words(title: &[String], text: &[String]) -> SearchText {
        SearchText {
            title: title.join(" "),
            text: text.join(" "),
        }
    }

    /// The folded words of the title and of the text, as indexed.
    pub(in crate::store) fn words(&self) -> (Vec<&str>, Vec<&str>) {
        (
            self.title.split_ascii_whitespace().collect(),
            self.text.split_ascii_whitespace().collect(),
        )
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
/// each); `NEAR` to FTS5 `NEAR` groups ([`fts_near`]), else to `AND` of its
/// sides; `NOT`, `lang:` and `feed:` narrow nothing here. (BM25 relevance
/// ranks by the phrases of this expression: those of a NEAR count their
/// near occurrences only.)
fn fts_query(expr: &Expr) -> Option<String> {
    fts_expr(expr, NEAR_PAIRS)
}

/// [`fts_query`] with a `NEAR` of more than one pair of alternatives (a
/// term set on a side) as the `AND` of its sides: more candidates, but far
/// cheaper to evaluate when the sides are mostly near anyway (FTS5 reads
/// each alternative once per pair it is in: the farm's `@kurdistan NEAR/3
/// @referendum`, 30 pairs, takes 19 ms to count as NEAR groups and 6 ms as
/// an AND: the same 25,029 items). A search starts with this and tightens to
/// [`fts_query`] when the evaluator rejects most candidates.
fn fts_query_loose(expr: &Expr) -> Option<String> {
    fts_expr(expr, 1)
}

/// [`fts_query`] with NEARs of at most `max_pairs` pairs as NEAR groups.
fn fts_expr(expr: &Expr, max_pairs: usize) -> Option<String> {
    let fts_query = |e: &Expr| fts_expr(e, max_pairs);
    match expr {
        Expr::Match { field, words } => {
            let phrase = fts_phrase(words)?;
            Some(match field {
                Field::Any => format!("({phrase})"),
                Field::Title => format!("({{title}} : ({phrase}))"),
                Field::Text => format!("({{text}} : ({phrase}))"),
            })
        }
        Expr::Near {
            left,
            right,
            distance,
        } => fts_near(left, right, *distance, max_pairs).or_else(|| {
            match (fts_query(left), fts_query(right)) {
                (Some(l), Some(r)) => Some(format!("({l} AND {r})")),
                (one, other) => one.or(other),
            }
        }),
        Expr::And(children) => {
            let parts: Vec<String> = children.iter().filter_map(&fts_query).collect();
            (!parts.is_empty()).then(|| format!("({})", parts.join(" AND ")))
        }
        Expr::Or(children) => {
            let parts: Option<Vec<String>> = children.iter().map(&fts_query).collect();
            parts
                .filter(|p| !p.is_empty())
                .map(|p| format!("({})", p.join(" OR ")))
        }
        Expr::Not(_) | Expr::Lang(_) | Expr::Feed(_) => None,
    }
}

/// Pairs of alternatives (left × right) [`fts_near`] spells out; beyond
/// this a NEAR narrows by the `AND` of its sides. The farm's two term-set
/// topics need 30 and 16.
const NEAR_PAIRS: usize = 64;

/// A topic `NEAR/n` as FTS5 `NEAR` groups, or `None` when it cannot be one
/// (an operand other than a match or an OR of matches, more than
/// `max_pairs` pairs, or no pair that can match).
///
/// The evaluator ([`crate::topics`]) finds a NEAR when a left and a right
/// alternative occur in the same field (title or text, never across) with
/// at most `n - 1` words between the end of one and the start of the other,
/// in either order. FTS5 `NEAR(p q, N)` is that with `N = n - 1`: at most
/// `N` tokens between the phrases, in either order, within one column
/// (positions of different columns are never near). It is a superset: it
/// also accepts overlapping occurrences, which the evaluator does not count
/// as two mentions. The index holds one token per folded word (the
/// tokenizer of migration 0007 splits only at separators, Unicode Z*, and
/// controls, Cc, which no folded word contains), so token distance is word
/// distance.
///
/// FTS5 `NEAR` takes phrases only, so OR operands (term sets) are
/// distributed: one group per pair, in the column both alternatives allow;
/// a pair that allows none (`title:a` with `text:b`) can never match and is
/// left out.
fn fts_near(left: &Expr, right: &Expr, distance: u32, max_pairs: usize) -> Option<String> {
    let (left, right) = (near_alternatives(left)?, near_alternatives(right)?);
    if !left.iter().chain(&right).all(|(_, words)| is_fts_phrase(words)) {
        return None;
    }
    if left.len().saturating_mul(right.len()) > max_pairs {
        return None;
    }
    let between = distance.saturating_sub(1);
    let mut groups: Vec<String> = Vec::new();
    for (left_field, left_words) in &left {
        for (right_field, right_words) in &right {
            let field = match (left_field, right_field) {
                (Field::Any, field) | (field, Field::Any) => *field,
                (l, r) if l == r => *l,
                _ => continue,
            };
            let near = format!(
                "NEAR({} {}, {between})",
                fts_phrase(left_words)?,
                fts_phrase(right_words)?
            );
            let group = match field {
                Field::Any => near,
                Field::Title => format!("({{title}} : {near})"),
                Field::Text => format!("({{text}} : {near})"),
            };
            if !groups.contains(&group) {
                groups.push(group);
            }
        }
    }
    (!groups.is_empty()).then(|| format!("({})", groups.join(" OR ")))
}

/// The alternatives of a NEAR operand (a match or an OR of matches).
fn near_alternatives(operand: &Expr) -> Option<Vec<(Field, &[Pattern])>> {
    match operand {
        Expr::Or(children) => children.iter().map(near_alternative).collect(),
        other => near_alternative(other).map(|m| vec![m]),
    }
}

fn near_alternative(expr: &Expr) -> Option<(Field, &[Pattern])> {
    match expr {
        Expr::Match { field, words } => Some((*field, words.as_slice())),
        _ => None,
    }
}

/// An FTS5 phrase of folded words (`"a" + "b" *`), or `None` for none.
fn fts_phrase(words: &[Pattern]) -> Option<String> {
    // A word that Arabic proclitics may hide (`العراق` in `والعراق`,
    // `للعراق`) is any of its spellings: the index holds words as written.
    // FTS5 has no alternatives inside a phrase, so a phrase with such a
    // word narrows by the AND of its words (the evaluator checks the
    // order).
    let spelled: Vec<Vec<String>> = words
        .iter()
        .map(|p| match p {
            Pattern::Word(w) => std::iter::once(w.clone())
                .chain(crate::text::proclitic_spellings(w))
                .collect(),
            Pattern::Prefix(_) => Vec::new(),
        })
        .collect();
    if spelled.iter().any(|s| s.len() > 1) {
        let parts: Vec<String> = words
            .iter()
            .zip(&spelled)
            .map(|(p, spellings)| match p {
                Pattern::Prefix(w) => format!("{} *", quote(w)),
                Pattern::Word(_) if spellings.len() == 1 => quote(&spellings[0]),
                Pattern::Word(_) => {
                    let any: Vec<String> = spellings.iter().map(|s| quote(s)).collect();
                    format!("({})", any.join(" OR "))
                }
            })
            .collect();
        return (!parts.is_empty()).then(|| parts.join(" AND "));
    }
    let phrase = words
        .iter()
        .map(|p| match p {
            Pattern::Word(w) => quote(w),
            Pattern::Prefix(w) => format!("{} *", quote(w)),
        })
        .collect::<Vec<_>>()
        .join(" + ");
    (!phrase.is_empty()).then_some(phrase)
}

/// Whether `words` is an FTS5 phrase (not the AND of alternatives
/// [`fts_phrase`] makes of words with proclitic spellings): only a phrase
/// can be an operand of `NEAR`.
fn is_fts_phrase(words: &[Pattern]) -> bool {
    words.iter().all(|p| match p {
        Pattern::Word(w) => crate::text::proclitic_spellings(w).is_empty(),
        Pattern::Prefix(_) => true,
    })
}

fn quote(word: &str) -> String {
    format!("\"{}\"", word.replace('"', "\"\""))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::topics::query::parse_with;
    use crate::topics::{Document, Meta, TermSets, TopicSet};

    fn sets() -> TermSets {
        let mut sets = TermSets::new();
        sets.insert("s".into(), vec!["baq".into(), "mo zed".into(), "kara*".into()]);
        sets.insert("big".into(), (0..9).map(|i| format!("w{i}")).collect::<Vec<_>>());
        sets
    }

    fn fts(query: &str) -> String {
        let expr = parse_with(query, &sets()).unwrap_or_else(|e| panic!("{query:?}: {e}"));
        fts_query(&expr).unwrap_or_else(|| panic!("{query:?} narrows nothing"))
    }

    #[test]
    fn near_maps_to_fts5_near_with_n_minus_one_tokens_between() {
        assert_eq!(fts("Baqeri NEAR/1 Akar"), r#"(NEAR("baqeri" "akar", 0))"#);
        assert_eq!(fts("Baqeri NEAR/10 Akar"), r#"(NEAR("baqeri" "akar", 9))"#);
        assert_eq!(
            fts("\"Hulusi Akar\" NEAR/3 Tehr*"),
            r#"(NEAR("hulusi" + "akar" "tehr" *, 2))"#
        );
        assert_eq!(fts("title:a NEAR/2 b"), r#"(({title} : NEAR("a" "b", 1)))"#);
        assert_eq!(
            fts("x (a NEAR/2 b OR c)"),
            r#"(("x") AND ((NEAR("a" "b", 1)) OR ("c")))"#
        );
    }

    /// A query as deep as the parser accepts (`topics::query::MAX_DEPTH`
    /// levels as printed) maps like any other.
    #[test]
    fn a_query_nested_to_the_limit_maps_level_by_level() {
        let levels = crate::topics::query::MAX_DEPTH / 2;
        let query = crate::topics::query::implied_groups(levels);
        let expected = (0..levels).fold(r#"("z")"#.to_string(), |inner, k| {
            format!(r#"(("w{k}") OR (("v{k}") AND {inner}))"#)
        });
        assert_eq!(fts(&query), expected);
    }

    #[test]
    fn near_distributes_or_operands_into_one_group_per_pair_and_column() {
        assert_eq!(
            fts("@s NEAR/5 x"),
            r#"(NEAR("baq" "x", 4) OR NEAR("mo" + "zed" "x", 4) OR NEAR("kara" * "x", 4))"#
        );
        assert_eq!(
            fts("title:(a OR b) NEAR/2 (c OR a)"),
            r#"(({title} : NEAR("a" "c", 1)) OR ({title} : NEAR("a" "a", 1)) OR ({title} : NEAR("b" "c", 1)) OR ({title} : NEAR("b" "a", 1)))"#
        );
        // title:b with text:c can never be near: left out.
        assert_eq!(
            fts("(a OR title:b) NEAR/2 text:c"),
            r#"(({text} : NEAR("a" "c", 1)))"#
        );
        // The same pair twice is one group.
        assert_eq!(fts("(a OR a) NEAR/2 b"), r#"(NEAR("a" "b", 1))"#);
    }

    #[test]
    fn near_that_cannot_be_an_fts5_near_narrows_by_and() {
        // No pair shares a column: the AND of the sides (the evaluator
        // rejects every candidate).
        assert_eq!(
            fts("title:a NEAR/2 text:b"),
            r#"(({title} : ("a")) AND ({text} : ("b")))"#
        );
        // 9 × 8 = 72 pairs, more than NEAR_PAIRS.
        let many = fts("@big NEAR/2 (v0 OR v1 OR v2 OR v3 OR v4 OR v5 OR v6 OR v7)");
        assert!(!many.contains("NEAR("), "{many}");
        assert!(many.starts_with(r#"((("w0") OR ("w1")"#), "{many}");
        assert!(fts("@big NEAR/2 (v0 OR v1 OR v2 OR v3 OR v4 OR v5 OR v6)").contains("NEAR("));
    }

    #[test]
    fn loose_keeps_single_pair_nears_and_makes_term_set_nears_ands() {
        let loose = |query: &str| fts_query_loose(&parse_with(query, &sets()).unwrap()).unwrap();
        assert_eq!(loose("a NEAR/2 bc*"), r#"(NEAR("a" "bc" *, 1))"#);
        assert_eq!(
            loose("@s NEAR/5 x"),
            r#"((("baq") OR ("mo" + "zed") OR ("kara" *)) AND ("x"))"#
        );
        assert_eq!(
            loose("(a OR b) NEAR/5 x y NEAR/1 z"),
            r#"(((("a") OR ("b")) AND ("x")) AND (NEAR("y" "z", 0)))"#
        );
    }

    /// The newest-first plans (probing a dense word, walking the newest
    /// items for a middling one, sorting every match) return what sorting
    /// every match does (the reference: with a language filter, which only
    /// that plan serves): a word in every item, one in every 4th, one only
    /// in the oldest items (the walk cannot fill a page), a rare one; first
    /// and later pages, time windows.
    #[tokio::test]
    async fn newest_first_plans_agree_with_sorting_every_match() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("t.db")).await.unwrap();
        sqlx::query(
            "INSERT INTO feeds (url, created_at) VALUES ('https://a.example/rss', '2017-09-25T00:00:00Z')",
        )
        .execute(&store.write)
        .await
        .unwrap();
        // 75,000 items, 3 a second from 2017-09-01 (ties), ids shuffled
        // against time; the oldest hour holds "old".
        sqlx::query(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 75000) \
             INSERT INTO items (id, feed_id, item_key, title, text, lang, sort_at, fetched_at, first_seen_at, content_hash) \
             SELECT i, 1, 'k' || i, 't', 'x', 'en', \
             strftime('%Y-%m-%dT%H:%M:%SZ', '2017-09-01', '+' || ((i * 7919) % 75000 / 3) || ' seconds'), \
             '2017-09-25T00:00:00Z', '2017-09-25T00:00:00Z', 'h' FROM n",
        )
        .execute(&store.write)
        .await
        .unwrap();
        sqlx::query(
            "INSERT INTO items_fts (rowid, title, text) SELECT id, 'common', \
             iif(id % 4 = 0, 'often ', '') || iif(sort_at < '2017-09-01T01:00:00Z', 'old ', '') \
             || iif(id % 600 = 0, 'rare', '') FROM items",
        )
        .execute(&store.write)
        .await
        .unwrap();
        let at = |s: &str| Some(DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc));
        for word in ["common", "often", "old", "rare"] {
            let all = SearchFilter {
                words: Some(Words {
                    query: std::sync::Arc::new(Expr::Match {
                        field: Field::Any,
                        words: vec![Pattern::Word(word.into())],
                    }),
                    strict: true,
                }),
                limit: 100_000,
                lang: Some("en".into()),
                ..SearchFilter::default()
            };
            let reference = store.search_page(&all).await.unwrap();
            let n = reference.len();
            assert!(n >= 100, "{word}: {n}");
            let middle = &reference[n / 2];
            let cursor = Cursor {
                sort_at: middle.sort_at.clone(),
                id: middle.id,
            };
            let cases = [
                (None, None, None, 50),
                (None, None, None, 1),
                (None, None, Some(cursor.clone()), 50),
                (at("2017-09-01T02:00:00Z"), at("2017-09-01T04:00:00Z"), None, 50),
                (None, at("2017-09-01T05:00:00Z"), Some(cursor), 20),
            ];
            for (since, until, after, limit) in cases {
                let filter = SearchFilter {
                    words: all.words.clone(),
                    since,
                    until,
                    after,
                    limit,
                    ..SearchFilter::default()
                };
                let ids = |rows: Vec<ItemRow>| rows.into_iter().map(|r| r.id).collect::<Vec<_>>();
                let got = ids(store.search_page(&filter).await.unwrap());
                let want = ids(store
                    .search_page(&SearchFilter {
                        lang: Some("en".into()),
                        ..filter.clone()
                    })
                    .await
                    .unwrap());
                assert_eq!(got, want, "{word} {filter:?}");
                assert!(!want.is_empty() || until.is_some(), "{word} {filter:?}");
            }
        }
    }

    /// A store with one full-text row per `(title, text)`, rowid = index + 1.
    async fn indexed(docs: &[(String, String)]) -> (tempfile::TempDir, SqliteStore) {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("t.db")).await.unwrap();
        let mut rows = SearchRows::default();
        for (i, (title, text)) in docs.iter().enumerate() {
            rows.add(i as i64 + 1, &SearchText::new(title, text, None), false);
        }
        let mut tx = store.write.begin().await.unwrap();
        rows.write(&mut tx).await.unwrap();
        tx.commit().await.unwrap();
        (dir, store)
    }

    async fn fts_ids(store: &SqliteStore, fts: &str) -> Vec<i64> {
        sqlx::query_scalar("SELECT rowid FROM items_fts WHERE items_fts MATCH ? ORDER BY rowid")
            .bind(fts)
            .fetch_all(&store.read)
            .await
            .unwrap_or_else(|e| panic!("{fts}: {e}"))
    }

    /// Single-word alternatives only, none on both sides: no two
    /// occurrences can overlap, so FTS5 must find exactly the evaluator's
    /// items.
    fn exact(expr: &Expr) -> bool {
        let Expr::Near { left, right, .. } = expr else {
            return false;
        };
        let words = |side: &Expr| -> Option<Vec<String>> {
            near_alternatives(side)?
                .into_iter()
                .map(|(_, words)| match words {
                    [Pattern::Word(w)] => Some(w.clone()),
                    _ => None,
                })
                .collect()
        };
        match (words(left), words(right)) {
            (Some(l), Some(r)) => !l.iter().any(|w| r.contains(w)),
            _ => false,
        }
    }

    /// Every item the evaluator finds for a NEAR query, the FTS5 expression
    /// finds too (exactly those when occurrences cannot overlap): distances
    /// 1 to 4 words, either order, title and text apart, field scopes,
    /// phrases, prefixes and a term set, over pseudo-random documents.
    #[tokio::test]
    async fn fts_near_finds_every_item_the_evaluator_matches() {
        const VOCAB: &[&str] = &["kar", "kara", "karam", "baq", "zed", "mo"];
        let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = move |n: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % n as u64) as usize
        };
        let mut sentence = |max: usize| {
            let len = next(max + 1);
            (0..len)
                .map(|_| VOCAB[next(VOCAB.len())])
                .collect::<Vec<_>>()
                .join(" ")
        };
        let docs: Vec<(String, String)> = (0..400).map(|_| (sentence(5), sentence(12))).collect();
        let (_dir, store) = indexed(&docs).await;
        let sides = [
            "kar",
            "kar*",
            "baq",
            "\"mo zed\"",
            "(baq OR zed)",
            "title:zed",
            "text:(kar OR mo)",
            "@s",
        ];
        let (mut queries, mut matched, mut exact_queries) = (0, 0, 0);
        for left in sides {
            for right in sides {
                for distance in 1..=4 {
                    let query = format!("{left} NEAR/{distance} {right}");
                    let set = TopicSet::compile([("t", query.as_str())], &sets()).unwrap();
                    let expr = &set.topics()[0].expr;
                    let want: Vec<i64> = docs
                        .iter()
                        .enumerate()
                        .filter(|(_, (title, text))| {
                            !set.matches_exhaustive(&Document::new(title, text, Meta::default()))
                                .is_empty()
                        })
                        .map(|(i, _)| i as i64 + 1)
                        .collect();
                    let expression = fts_query(expr).unwrap();
                    // Only a NEAR whose sides share no column is an AND.
                    let scoped = |s: &str| s.starts_with("title:") || s.starts_with("text:");
                    let apart = scoped(left) && scoped(right);
                    assert!(
                        expression.contains("NEAR(") || want.is_empty() && apart,
                        "{query}: {expression}"
                    );
                    let got = fts_ids(&store, &expression).await;
                    let missing: Vec<&i64> = want.iter().filter(|id| !got.contains(id)).collect();
                    assert!(missing.is_empty(), "{query} ({expression}) misses {missing:?}");
                    if exact(expr) && expression.contains("NEAR(") {
                        assert_eq!(got, want, "{query} ({expression})");
                        exact_queries += 1;
                    }
                    queries += 1;
                    matched += want.len();
                }
            }
        }
        assert_eq!(queries, 256);
        assert!(exact_queries >= 40, "{exact_queries}");
        assert!(matched > 5_000, "the documents exercise the queries: {matched}");
    }

    /// Token distance is word distance: each folded word is one token of
    /// the index, so consecutive words are adjacent to FTS5, in scripts
    /// where folding splits, joins or drops characters.
    #[tokio::test]
    async fn every_folded_word_is_one_full_text_token() {
        let samples = [
            "Kürdistan'ın bağımsızlık referandumu IKBY'nin",
            "همه‌پرسی استقلال كردستان اسْتِفْتَاء ۲۰۱۷",
            "ڕیفراندۆمی سەربەخۆیی ھەولێر",
            "U.S. Kurdistanʼs al-Abadi CO₂ ½ ﬁnal ＫＲＧ snake_case refer\u{AD}endum",
            "東京都 ひらがな カタカナabc ไทยภาษา",
            "हिन्दी स्वतंत्रता ᠮᠣᠩᠭᠣᠯ\u{180E}ᠪᠢᠴᠢᠭ ʻokina",
        ];
        let docs: Vec<(String, String)> = samples.iter().map(|s| (String::new(), s.to_string())).collect();
        let (_dir, store) = indexed(&docs).await;
        for (i, sample) in samples.iter().enumerate() {
            let words = crate::text::words(sample);
            assert!(words.len() >= 3, "{sample}");
            for pair in words.windows(2) {
                let adjacent = format!("NEAR({} {}, 0)", quote(&pair[0]), quote(&pair[1]));
                assert!(
                    fts_ids(&store, &adjacent).await.contains(&(i as i64 + 1)),
                    "{pair:?} of {sample:?} are not adjacent tokens"
                );
            }
            let all = words.iter().map(|w| quote(w)).collect::<Vec<_>>().join(" + ");
            assert_eq!(fts_ids(&store, &all).await, [i as i64 + 1], "{words:?}");
        }
    }
}
