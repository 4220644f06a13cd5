//! Querying the stored archive: search with topic semantics, volume
//! statistics and HTML reports.
//!
//! `search` narrows candidates with the full-text index (`items_fts`, the
//! folded words of every item: the store reads the query's tree, see
//! [`crate::store::Words`]) and confirms
//! each with the topic evaluator, so a query finds exactly the items a topic
//! with that query matches (evaluated with the item's first feed's name and
//! tags).

pub mod report;
pub mod stats;

use std::collections::{BTreeMap, HashMap, HashSet};

use crate::config::Config;
use crate::directory::FeedDirectory;
use crate::store::{ItemRow, SearchFilter, SearchSort, Store, StoreError, Words};
use crate::topics::highlight::{self, MatchSpan};
use crate::topics::{Expr, QueryError, TopicSet};

/// An archive query that failed.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    /// The search query does not parse.
    #[error("query: {0}")]
    Query(#[source] QueryError),
    /// `--sort relevance` without a query to rank by.
    #[error("sorting by relevance needs a query")]
    RelevanceWithoutQuery,
    /// A feed filter (`--feed`, `feed=`) that is no feed's URL or name.
    #[error("no feed named {given:?} (known: {known})")]
    UnknownFeed { given: String, known: String },
    /// A `feed:` filter (in a topic or a search query) that is no feed's
    /// name or tag: it would silently match nothing.
    #[error("{context}feed:{filter} is no feed's name or tag (known: {known})")]
    UnknownFeedFilter {
        /// Where: `query: ` or `topic[2].query (topic "x"): `.
        context: String,
        filter: String,
        known: String,
    },
    /// `--after` names an item that does not exist.
    #[error("no item with id {0} (--after takes the id of the last item of the previous page)")]
    UnknownItem(i64),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A search: a query in the topic language (optional), SQL filters, order,
/// position and size.
#[derive(Debug, Clone, Default)]
pub struct Search {
    pub query: Option<String>,
    /// Filters other than the query (`fts`, `limit`, `offset` and `after`
    /// are set by [`search`]).
    pub filter: SearchFilter,
    /// Continue after this item (the last id of the previous page).
    pub after_id: Option<i64>,
    pub limit: u32,
}

/// The default window of a view of the archive over `days` days (`stats`,
/// `report`, `stories`, the web desk): the `days` before `now`, or, when
/// the archive's newest item is older than that (an archive of 2017), the
/// `days` up to and including its newest item, so the view shows data
/// rather than nothing. `(since, until, newest)`: `until` is `None` for the
/// window ending now; `newest` is set when the window was moved to it.
pub async fn default_window(
    store: &Store,
    days: i64,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<DefaultWindow, StoreError> {
    let since = now - chrono::Duration::days(days);
    Ok(match store.newest_item_at().await? {
        Some(newest) if newest < since => {
            let until = newest + chrono::Duration::seconds(1);
            DefaultWindow {
                since: until - chrono::Duration::days(days),
                until: Some(until),
                moved_to: Some(newest),
            }
        }
        _ => DefaultWindow {
            since,
            until: None,
            moved_to: None,
        },
    })
}

/// See [`default_window`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DefaultWindow {
    pub since: chrono::DateTime<chrono::Utc>,
    /// `None`: the window ends now.
    pub until: Option<chrono::DateTime<chrono::Utc>>,
    /// The newest item's time, when the window ends there instead of now.
    pub moved_to: Option<chrono::DateTime<chrono::Utc>>,
}

/// Candidates fetched per round trip when a query must be confirmed.
const BATCH: u32 = 1000;
/// Candidates fetched by the first round trip of a page (at least).
const FIRST_BATCH: u32 = 100;

/// Feed URL → tags, as the pipeline uses them for `feed:` filters: the
/// configured tags, else those of a feed added with `feeds add`.
pub async fn feed_tags(config: &Config, store: &Store) -> Result<HashMap<String, Vec<String>>, StoreError> {
    Ok(FeedDirectory::load(config, store).await?.tags())
}

/// Feed names listed in an [`ArchiveError::UnknownFeed`], at most.
const KNOWN_FEEDS_SHOWN: usize = 20;

/// Checks that a feed filter (`search --feed`, `/api/items?feed=`) is the
/// URL or name of a stored or configured feed, as the filter compares them;
/// else the error lists the known feeds (names, else URLs).
pub async fn check_feed(store: &Store, config: &Config, feed: &str) -> Result<(), ArchiveError> {
    let stored = store.list_feeds().await?;
    let feeds = stored
        .iter()
        .map(|f| (f.url.as_str(), f.name.as_deref()))
        .chain(config.feeds.iter().map(|f| (f.url.as_str(), f.name.as_deref())));
    let mut known = Vec::new();
    for (url, name) in feeds {
        if url == feed || name == Some(feed) {
            return Ok(());
        }
        known.push(name.map_or_else(|| crate::redact::url(url).into_owned(), str::to_string));
    }
    known.sort();
    known.dedup();
    let more = known.len().saturating_sub(KNOWN_FEEDS_SHOWN);
    known.truncate(KNOWN_FEEDS_SHOWN);
    let mut known = known.join(", ");
    if known.is_empty() {
        known = "none".into();
    }
    if more > 0 {
        known.push_str(&format!(" and {more} more; see `feedwatch feeds list`"));
    }
    Err(ArchiveError::UnknownFeed {
        given: crate::redact::url(feed).into_owned(),
        known,
    })
}

/// Every name and tag a `feed:` filter can name: those of configured and
/// of stored feeds (added with `feeds add`; none without a store), sorted,
/// once each.
pub async fn feed_labels(config: &Config, store: Option<&Store>) -> Result<Vec<String>, StoreError> {
    Ok(match store {
        Some(store) => FeedDirectory::load(config, store).await?.labels(),
        None => FeedDirectory::from_config(config).labels(),
    })
}

/// The `feed:` filters of `expr` that name nothing in `labels` (compared
/// as the evaluator compares them, ignoring ASCII case).
pub fn unknown_feed_filters(expr: &Expr, labels: &[String]) -> Vec<String> {
    fn walk(expr: &Expr, labels: &[String], out: &mut Vec<String>) {
        match expr {
            Expr::Feed(name) => {
                if !labels.iter().any(|l| l.eq_ignore_ascii_case(name)) && !out.contains(name) {
                    out.push(name.clone());
                }
            }
            Expr::Match { .. } | Expr::Lang(_) => {}
            Expr::Near { left, right, .. } => {
                walk(left, labels, out);
                walk(right, labels, out);
            }
            Expr::And(children) | Expr::Or(children) => children.iter().for_each(|c| walk(c, labels, out)),
            Expr::Not(child) => walk(child, labels, out),
        }
    }
    let mut out = Vec::new();
    walk(expr, labels, &mut out);
    out
}

/// The error for the first unknown `feed:` filter of `expr`, if any.
fn check_feed_filters(expr: &Expr, labels: &[String], context: String) -> Result<(), ArchiveError> {
    match unknown_feed_filters(expr, labels).into_iter().next() {
        None => Ok(()),
        Some(filter) => Err(ArchiveError::UnknownFeedFilter {
            context,
            filter,
            known: if labels.is_empty() {
                "none".into()
            } else {
                labels.join(", ")
            },
        }),
    }
}

/// Checks that every configured topic's `feed:` filters name a feed or a
/// tag (of the config or the store): a typo (`feed:wires` for `wire`)
/// would match nothing, forever, without a word. `topics` is the
/// config's compiled set (compiling 100,000 topics again takes a second).
pub async fn check_topic_feeds(
    config: &Config,
    topics: &TopicSet,
    store: Option<&Store>,
) -> Result<(), ArchiveError> {
    if !topics.topics().iter().any(|t| uses_feed(&t.expr)) {
        return Ok(());
    }
    let labels = feed_labels(config, store).await?;
    for (i, topic) in topics.topics().iter().enumerate() {
        check_feed_filters(
            &topic.expr,
            &labels,
            format!("topic[{i}].query (topic {:?}): ", topic.name),
        )?;
    }
    Ok(())
}

/// Compiles a search query like a topic (term sets expanded).
pub fn compile_query(query: &str, config: &Config) -> Result<TopicSet, ArchiveError> {
    TopicSet::compile([("query", query)], &config.terms).map_err(|e| ArchiveError::Query(e.source))
}

/// Whether a query has a `feed:` filter (the only part that reads feed tags).
fn uses_feed(expr: &Expr) -> bool {
    match expr {
        Expr::Feed(_) => true,
        Expr::Match { .. } | Expr::Lang(_) => false,
        Expr::Near { left, right, .. } => uses_feed(left) || uses_feed(right),
        Expr::And(children) | Expr::Or(children) => children.iter().any(uses_feed),
        Expr::Not(child) => uses_feed(child),
    }
}

/// `(item id, topic index)` for every stored row a topic matches.
pub fn match_rows(
    topics: &TopicSet,
    rows: &[ItemRow],
    feed_tags: &HashMap<String, Vec<String>>,
) -> Vec<(i64, usize)> {
    let mut hits = Vec::new();
    for row in rows {
        let meta = crate::topics::Meta {
            lang: row.lang.as_deref(),
            feed_name: row.feed_name.as_deref(),
            feed_tags: feed_tags
                .get(&row.feed_url)
                .map(Vec::as_slice)
                .unwrap_or_default(),
        };
        let doc = crate::topics::Document::new(&row.title, &row.text, meta);
        hits.extend(topics.matches(&doc).into_iter().map(|t| (row.id, t)));
    }
    hits
}

/// Runs a search: one page of results (`count == false`) or the number of
/// all results (`count == true`, rows empty). Rows carry topics and feeds.
pub async fn search(
    store: &Store,
    config: &Config,
    search: &Search,
    count: bool,
) -> Result<(Vec<ItemRow>, u64), ArchiveError> {
    run_search(store, config, search, count, None).await
}

/// Hits of a search per day (`YYYY-MM-DD` of publication, else first-seen
/// time, UTC), newest first through the same loop as [`search`], counting
/// at most `cap` hits: the days, the hits counted and whether that is all
/// of them (`false`: the oldest days are missing or short).
pub async fn search_days(
    store: &Store,
    config: &Config,
    search: &Search,
    cap: u64,
) -> Result<(BTreeMap<String, u64>, u64, bool), ArchiveError> {
    let mut days = DayCounts {
        days: BTreeMap::new(),
        cap,
    };
    let search = Search {
        filter: SearchFilter {
            sort: SearchSort::Newest,
            ..search.filter.clone()
        },
        after_id: None,
        ..search.clone()
    };
    let (_, total) = run_search(store, config, &search, true, Some(&mut days)).await?;
    Ok((days.days, total, total < cap))
}

/// Where [`search_days`] counts.
struct DayCounts {
    days: BTreeMap<String, u64>,
    cap: u64,
}

async fn run_search(
    store: &Store,
    config: &Config,
    search: &Search,
    count: bool,
    mut days: Option<&mut DayCounts>,
) -> Result<(Vec<ItemRow>, u64), ArchiveError> {
    let topics = search
        .query
        .as_deref()
        .map(|q| compile_query(q, config))
        .transpose()?;
    // Tags only matter to `feed:` filters, which must name something.
    let tags = match &topics {
        Some(t) if uses_feed(&t.topics()[0].expr) => {
            let directory = FeedDirectory::load(config, store).await?;
            check_feed_filters(&t.topics()[0].expr, &directory.labels(), "query: ".into())?;
            directory.tags()
        }
        _ => HashMap::new(),
    };
    let mut filter = search.filter.clone();
    let expr = topics.as_ref().map(|t| &t.topics()[0].expr);
    if filter.sort == SearchSort::Relevance && !expr.is_some_and(|e| store.ranks(e)) {
        return Err(ArchiveError::RelevanceWithoutQuery);
    }
    let relevance = filter.sort == SearchSort::Relevance;
    // Newest first, any superset of the matches can narrow each round (the
    // cursor, not an offset, says where the next one starts): the cheaper
    // loose expression first, the tight one once it lets through mostly
    // items the evaluator rejects. Relevance pages by offset: one
    // expression throughout.
    let query = expr.map(|e| std::sync::Arc::new(e.clone()));
    filter.words = query.clone().map(|query| Words {
        query,
        strict: relevance,
    });
    let mut skip_until = None;
    if let Some(id) = search.after_id {
        if relevance {
            skip_until = Some(id);
        } else {
            filter.after = Some(store.cursor_of(id).await?.ok_or(ArchiveError::UnknownItem(id))?);
        }
    }
    let want = if count { usize::MAX } else { search.limit as usize };
    // Candidates to confirm: a few pages' worth first (most candidates of a
    // topic-style query confirm; each costs its text and an evaluation),
    // more each round after that.
    filter.limit = if topics.is_none() && skip_until.is_none() && !count {
        search.limit
    } else if count || skip_until.is_some() {
        BATCH
    } else {
        search.limit.saturating_mul(2).clamp(FIRST_BATCH, BATCH)
    };
    filter.offset = 0;
    let first_limit = filter.limit;
    let mut hits: Vec<ItemRow> = Vec::new();
    let mut total = 0u64;
    while hits.len() < want {
        // The evaluator's work between two reads counts against the budget
        // too (the reads themselves are interrupted by the store).
        if let Some(limit) = store.over_budget() {
            return Err(StoreError::OverBudget(limit).into());
        }
        let rows = store.search_page(&filter).await?;
        let fetched = rows.len();
        if let Some(last) = rows.last() {
            filter.offset += fetched as u32;
            if !relevance {
                filter.offset = 0;
                filter.after = Some(crate::store::Cursor {
                    sort_at: last.sort_at.clone(),
                    id: last.id,
                });
            }
        }
        let confirmed: Vec<ItemRow> = match &topics {
            Some(topics) => {
                let matched: std::collections::HashSet<i64> = match_rows(topics, &rows, &tags)
                    .into_iter()
                    .map(|(id, _)| id)
                    .collect();
                rows.into_iter().filter(|r| matched.contains(&r.id)).collect()
            }
            None => rows,
        };
        let tighten = confirmed.len() * 2 < fetched && filter.words.as_ref().is_some_and(Words::can_tighten);
        for row in confirmed {
            if let Some(after) = skip_until {
                if row.id == after {
                    skip_until = None;
                }
                continue;
            }
            total += 1;
            if !count && hits.len() < want {
                hits.push(row);
            } else if let Some(days) = days.as_deref_mut() {
                let day: String = row.sort_at.chars().take(10).collect();
                *days.days.entry(day).or_default() += 1;
            }
        }
        if fetched < filter.limit as usize || days.as_ref().is_some_and(|d| total >= d.cap) {
            break;
        }
        if tighten {
            // Its candidates mostly confirm: rounds start small again (a
            // dense expression is probed item by item, newest first, and
            // that plan gives up beyond a few thousand probes).
            if let Some(words) = &mut filter.words {
                words.strict = true;
            }
            filter.limit = first_limit;
        } else if topics.is_some() {
            filter.limit = filter.limit.saturating_mul(4).min(BATCH);
        }
    }
    store.attach_topics(&mut hits).await?;
    Ok((hits, total))
}

/// The `search --format jsonl` record, also served by `/api/items`. Field names are a public interface: add
/// fields, never rename or remove them.
#[derive(serde::Serialize)]
pub struct ItemRecord<'a> {
    pub id: i64,
    #[serde(serialize_with = "crate::redact::serialize_url")]
    pub feed_url: &'a str,
    pub feed_name: Option<&'a str>,
    pub guid: Option<&'a str>,
    pub url: Option<&'a str>,
    pub title: &'a str,
    pub published: Option<String>,
    pub fetched_at: String,
    /// The item's language: identified from its text (`fa`, `ckb`), or the
    /// feed's `[[feed]] lang`.
    pub lang: Option<&'a str>,
    pub author: Option<&'a str>,
    pub topics: &'a [String],
    pub text: &'a str,
    /// Added with stories: the canonical article URL, the story and every
    /// feed listing the item (first feed first).
    pub canonical_url: Option<&'a str>,
    pub story_id: Option<i64>,
    #[serde(serialize_with = "crate::redact::serialize_urls")]
    pub feeds: &'a [String],
    /// Added with highlighting: why the item matched (see [`MatchSpan`]).
    pub matches: Vec<MatchSpan>,
    /// Added with language identification: the language tag the feed
    /// declared for the item (`en-us`), as the feed wrote it.
    pub declared_lang: Option<&'a str>,
    /// Added with full text: where `text` came from, `feed` or `page`
    /// (the article's page, for feeds with `full_text`); the feed's own
    /// text when `text` is the page's; why the page could not be fetched
    /// or extracted, if it failed.
    pub text_source: &'a str,
    pub summary: Option<&'a str>,
    pub page_error: Option<&'a str>,
}

impl<'a> ItemRecord<'a> {
    /// The record of `row`, with its matched spans.
    pub fn new(row: &'a ItemRow, highlighter: &Highlighter) -> Self {
        ItemRecord {
            matches: highlighter.matches(row),
            ..ItemRecord::without_matches(row)
        }
    }

    fn without_matches(row: &'a ItemRow) -> Self {
        ItemRecord {
            id: row.id,
            feed_url: &row.feed_url,
            feed_name: row.feed_name.as_deref(),
            guid: row.guid.as_deref(),
            url: row.url.as_deref(),
            title: &row.title,
            published: row.published.as_deref().map(rfc3339),
            fetched_at: rfc3339(&row.fetched_at),
            lang: row.lang.as_deref(),
            declared_lang: row.declared_lang.as_deref(),
            author: row.author.as_deref(),
            topics: &row.topics,
            text: &row.text,
            canonical_url: row.canonical_url.as_deref(),
            story_id: row.story_id,
            feeds: &row.feeds,
            matches: Vec::new(),
            text_source: &row.text_source,
            summary: row.summary.as_deref(),
            page_error: row.page_error.as_deref(),
        }
    }
}

/// Finds the [`MatchSpan`]s of items: those of each configured topic an
/// item matched and, in a search, those of the query.
#[derive(Debug, Default)]
pub struct Highlighter {
    topics: TopicSet,
    query: Option<TopicSet>,
    tags: HashMap<String, Vec<String>>,
}

impl Highlighter {
    /// For `rows`: the configured topics they matched (only those are
    /// compiled: a page of results needs a few of a desk's thousands) and
    /// the query of a search, if any.
    pub async fn new(
        config: &Config,
        store: &Store,
        query: Option<&str>,
        rows: &[ItemRow],
    ) -> Result<Self, ArchiveError> {
        let matched: HashSet<&str> = rows
            .iter()
            .flat_map(|r| r.topics.iter().map(String::as_str))
            .collect();
        let topics = TopicSet::compile(
            config
                .topics
                .iter()
                .filter(|t| matched.contains(t.name.as_str()))
                .map(|t| (t.name.as_str(), t.query.as_str())),
            &config.terms,
        )
        .expect("queries are validated when the config is loaded");
        let query = query.map(|q| compile_query(q, config)).transpose()?;
        let needs_tags = topics
            .topics()
            .iter()
            .chain(query.iter().flat_map(|q| q.topics()))
            .any(|t| uses_feed(&t.expr));
        let tags = if needs_tags {
            feed_tags(config, store).await?
        } else {
            HashMap::new()
        };
        Ok(Self { topics, query, tags })
    }

    /// The spans of `row`: the query's first, then each of its topics'
    /// (those it is recorded as matching that are still configured), each
    /// in title-then-text order.
    pub fn matches(&self, row: &ItemRow) -> Vec<MatchSpan> {
        let meta = crate::topics::Meta {
            lang: row.lang.as_deref(),
            feed_name: row.feed_name.as_deref(),
            feed_tags: self
                .tags
                .get(&row.feed_url)
                .map(Vec::as_slice)
                .unwrap_or_default(),
        };
        let query = self.query.iter().map(|q| (None, &q.topics()[0]));
        let topics = self
            .topics
            .topics()
            .iter()
            .filter(|t| row.topics.contains(&t.name))
            .map(|t| (Some(&t.name), t));
        let mut out = Vec::new();
        for (name, topic) in query.chain(topics) {
            let spans = highlight::spans(&topic.expr, &row.title, &row.text, meta).unwrap_or_default();
            out.extend(
                spans
                    .iter()
                    .map(|span| MatchSpan::new(name.cloned(), span, &row.title, &row.text)),
            );
        }
        out
    }
}

/// Stored timestamps are already RFC 3339 (UTC, `Z`); re-render defensively.
fn rfc3339(stored: &str) -> String {
    crate::store::parse_ts(stored)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_else(|| stored.to_string())
}
