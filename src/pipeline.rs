//! One feed's trip through the pipeline — fetch → parse → match → store —
//! and a cycle that runs it over many feeds with bounded concurrency.
//!
//! A feed that fails is data: the error goes on its row and into the log,
//! and the other feeds carry on.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::clock::Clock;
use crate::error_chain;
use crate::fetch::hosts::HostLimiter;
use crate::fetch::{FetchOutcome, Fetched, Fetcher, ResponseMeta, Validators};
use crate::langid;
use crate::model::{item_keys, FullText, ParsedFeed};
use crate::parse::{dates, parse_feed_as, ParseError};
use crate::scheduler::{self, Hints, Outcome, Schedules};
use crate::store::{
    FeedFailure, FeedRow, FeedUpdate, FeedWrite, IngestCounts, ItemWrite, Known, NextCheck, SearchText,
    Store, StoreError, TopicMatches, WriteQueue,
};
use crate::stories;
use crate::topics::{Document, Meta, TopicSet, WordStats};

mod pages;

pub use pages::PageStats;

/// Recent items sampled for word statistics at start-up.
const STATS_SAMPLE: u32 = 2000;

/// How one feed's poll ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PollResult {
    /// 304: nothing changed.
    NotModified,
    /// The document was fetched and parsed; `seen` items were in it.
    Ingested { seen: usize, counts: IngestCounts },
    /// The fetch or parse failed; the error is on the feed's row.
    Failed(String),
    /// Shutdown began before the fetch completed; nothing was written.
    Cancelled,
}

/// Totals over one cycle.
#[derive(Debug, Default, Clone)]
pub struct CycleStats {
    pub feeds: usize,
    pub not_modified: usize,
    /// Feeds that failed: fetch, parse or store (`store_errors`).
    pub failed: usize,
    pub cancelled: usize,
    /// Feeds whose result could not be written to the database (also
    /// counted in `failed`).
    pub store_errors: usize,
    pub items_seen: usize,
    pub new_items: u64,
    pub updated_items: u64,
    pub matches: u64,
    /// Items already stored from another feed.
    pub duplicates: u64,
    /// New items that joined an existing story.
    pub joined_stories: u64,
    pub elapsed: Duration,
}

/// The pipeline's shared parts. Cheap to clone.
#[derive(Clone)]
pub struct Pipeline {
    store: Store,
    /// Feed results go to the database through one writer (group commit).
    writer: WriteQueue,
    fetcher: Fetcher,
    topics: Arc<TopicSet>,
    /// Row id of each topic, in `topics` order.
    topic_ids: Arc<Vec<i64>>,
    /// Feed URL → configured tags, for `feed:` filters.
    feed_tags: Arc<HashMap<String, Vec<String>>>,
    /// Feed URL → the language configured for its items (`[[feed]] lang`),
    /// which wins over identification.
    feed_langs: Arc<HashMap<String, String>>,
    /// `full_text`: `[fetch]`'s, and each configured feed's own.
    full_text: Arc<(FullText, HashMap<String, FullText>)>,
    /// Told when a poll queues article pages ([`Pipeline::pages_queued`]).
    pages_queued: Arc<tokio::sync::Notify>,
    /// `stories.window`.
    story_window: chrono::Duration,
    /// `stories.cluster`.
    cluster_stories: bool,
    schedules: Arc<Schedules>,
    hosts: HostLimiter,
    clock: Clock,
    /// Topics (by index) whose stored matches predate their query, for
    /// [`Pipeline::backfill`], and the word statistics their anchors use.
    stale: Arc<(Vec<usize>, WordStats)>,
}

impl Pipeline {
    /// Builds the pipeline; records the topics in the store. New or changed
    /// topics have their history filled in by [`Pipeline::backfill`], which
    /// the caller runs (the daemon beside polling, `run --once` first).
    pub async fn new(
        store: Store,
        fetcher: Fetcher,
        mut topics: TopicSet,
        feed_tags: HashMap<String, Vec<String>>,
        story_window: chrono::Duration,
        schedules: Schedules,
        hosts: HostLimiter,
    ) -> Result<Self, StoreError> {
        // Anchor each topic on the words that are rare in recent articles.
        let sample = store.recent_items(STATS_SAMPLE).await?;
        let stats = tokio::task::spawn_blocking(move || {
            // One share of the sample per core: this runs at every start.
            let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
            let share = sample.len().div_ceil(threads).max(1);
            std::thread::scope(|scope| {
                let counts: Vec<_> = sample
                    .chunks(share)
                    .map(|rows| {
                        scope.spawn(move || {
                            let mut stats = WordStats::default();
                            for row in rows {
                                stats.add_document(&row.title, &row.text);
                            }
                            stats
                        })
                    })
                    .collect();
                let mut stats = WordStats::default();
                for count in counts {
                    stats.merge(count.join().expect("counting words does not panic"));
                }
                stats
            })
        })
        .await
        .expect("counting words does not panic");
        topics.reindex(&stats);
        let clock = store.clock();
        let rows = store.sync_topics(&topics, clock.now()).await?;
        let pipeline = Self {
            writer: store.write_queue(),
            store,
            fetcher: fetcher.with_clock(clock),
            topics: Arc::new(topics),
            topic_ids: Arc::new(rows.iter().map(|r| r.id).collect()),
            feed_tags: Arc::new(feed_tags),
            feed_langs: Arc::default(),
            full_text: Arc::default(),
            pages_queued: Arc::default(),
            story_window,
            cluster_stories: true,
            schedules: Arc::new(schedules),
            hosts,
            clock,
            stale: Arc::new((
                rows.iter()
                    .enumerate()
                    .filter(|(_, r)| r.needs_backfill)
                    .map(|(i, _)| i)
                    .collect(),
                stats,
            )),
        };
        Ok(pipeline)
    }

    /// Stops its database writer once what is queued is written, and waits
    /// for it (the writer is shared by the pipeline's clones: close after
    /// the last poll).
    pub async fn close(&self) {
        self.writer.close().await;
    }

    /// The compiled topics.
    pub fn topics(&self) -> Arc<TopicSet> {
        Arc::clone(&self.topics)
    }

    /// Whether new items are fingerprinted to join stories (`stories.cluster`,
    /// on by default); without, every new item starts its own story.
    pub fn with_story_clustering(mut self, on: bool) -> Self {
        self.cluster_stories = on;
        self
    }

    /// Gives the items of the feeds in `langs` (feed URL → language tag,
    /// `[[feed]] lang`) that language instead of the one identified from
    /// their text.
    pub fn with_feed_languages(mut self, langs: HashMap<String, String>) -> Self {
        self.feed_langs = Arc::new(langs);
        self
    }

    /// The pipeline's source of "now": its store's ([`Store::with_clock`]).
    /// When the article pages of items are fetched: `default` for feeds
    /// without their own `full_text` (configured, by URL, or given to
    /// `feeds add`).
    pub fn with_full_text(mut self, default: FullText, feeds: HashMap<String, FullText>) -> Self {
        self.full_text = Arc::new((default, feeds));
        self
    }

    /// Completes when a poll has queued article pages since the last call
    /// (the daemon's page stage waits on it between passes).
    pub async fn pages_queued(&self) {
        self.pages_queued.notified().await;
    }

    /// The `full_text` of a feed.
    fn full_text_of(&self, feed: &FeedRow) -> FullText {
        let (default, configured) = &*self.full_text;
        FullText::of_feed(
            configured.get(&feed.url).copied(),
            feed.full_text.as_deref(),
            *default,
        )
    }

    pub fn clock(&self) -> Clock {
        self.clock
    }

    /// Evaluates the new or changed topics against every stored item so
    /// their history starts populated: new matches are marked backfilled
    /// (they never alert); matches that no longer hold are removed, except
    /// those ingest recorded since the scan began (it matches new and edited
    /// items with the new query itself). Safe beside polling; logs its
    /// progress. Returns `false` when `cancel` stopped it (a reload or
    /// shutdown: the topics stay stale, and the next start does it again).
    pub async fn backfill(&self, cancel: &CancellationToken) -> Result<bool, StoreError> {
        const BATCH: u32 = 2000;
        const PROGRESS_EVERY: Duration = Duration::from_secs(10);
        let (topic_indexes, stats) = &*self.stale;
        if topic_indexes.is_empty() {
            return Ok(true);
        }
        let started = Instant::now();
        let began = self.clock.now();
        let total = self.store.item_count().await?;
        tracing::info!(
            topics = topic_indexes.len(),
            items = total,
            "backfilling new or changed topics"
        );
        let subset = Arc::new(self.topics.subset(topic_indexes, stats));
        let mut matched: Vec<Vec<i64>> = vec![Vec::new(); topic_indexes.len()];
        let mut after_id = 0;
        let mut scanned = 0;
        let mut said = Instant::now();
        loop {
            if cancel.is_cancelled() {
                tracing::info!(
                    scanned,
                    items = total,
                    "backfill stopped; it starts again next time"
                );
                return Ok(false);
            }
            let rows = self.store.scan_items(None, after_id, BATCH).await?;
            let Some(last) = rows.last() else { break };
            after_id = last.id;
            scanned += rows.len();
            let subset = Arc::clone(&subset);
            let tags = Arc::clone(&self.feed_tags);
            let hits = tokio::task::spawn_blocking(move || crate::archive::match_rows(&subset, &rows, &tags))
                .await
                .expect("matching does not panic");
            for (item_id, topic) in hits {
                matched[topic].push(item_id);
            }
            if said.elapsed() >= PROGRESS_EVERY {
                tracing::info!(scanned, items = total, "backfilling");
                said = Instant::now();
            }
        }
        // Topics per transaction: a first start with 100,000 topics wrote
        // one transaction each (53 s before its first poll).
        const TOPICS_PER_WRITE: usize = 1000;
        let now = self.clock.now();
        let compiled: Vec<String> = topic_indexes
            .iter()
            .map(|&i| self.topics.topics()[i].expr.to_string())
            .collect();
        let (mut added_total, mut removed_total) = (0, 0);
        for (chunk, indexes) in topic_indexes.chunks(TOPICS_PER_WRITE).enumerate() {
            let first = chunk * TOPICS_PER_WRITE;
            let batch: Vec<TopicMatches<'_>> = indexes
                .iter()
                .enumerate()
                .map(|(j, &i)| TopicMatches {
                    topic_id: self.topic_ids[i],
                    compiled: &compiled[first + j],
                    matched: &matched[first + j],
                })
                .collect();
            let counts = self
                .store
                .replace_topic_matches(&batch, (began, after_id), now)
                .await?;
            for (&i, (added, removed)) in indexes.iter().zip(counts) {
                added_total += added;
                removed_total += removed;
                // One line per topic whose matches changed (all of them on
                // an archive, none on a new database).
                if added > 0 || removed > 0 {
                    let topic = &self.topics.topics()[i];
                    tracing::info!(topic = %topic.name, scanned, added, removed, "backfilled topic");
                }
            }
        }
        tracing::info!(
            topics = topic_indexes.len(),
            scanned,
            added = added_total,
            removed = removed_total,
            elapsed = ?started.elapsed(),
            "backfill done"
        );
        Ok(true)
    }

    /// Polls one feed: waits for its host's politeness limits, fetches,
    /// parses, matches, stores, and schedules its next check. Errors of the
    /// feed itself are recorded on its row and returned as
    /// [`PollResult::Failed`]; only a database failure is `Err`. Also says
    /// how long the feed waited for its host's politeness limits (not part
    /// of the poll's own time).
    pub async fn poll_feed_timed(
        &self,
        feed: &FeedRow,
        cancel: &CancellationToken,
    ) -> (Result<PollResult, StoreError>, Duration) {
        let url = feed.request_url().to_string();
        let waiting = Instant::now();
        let _host = match self.admit_host(&HostLimiter::key(&url), cancel).await {
            Ok(Some(pass)) => pass,
            Ok(None) => return (Ok(PollResult::Cancelled), waiting.elapsed()),
            Err(error) => return (Err(error), waiting.elapsed()),
        };
        // A feed claimed from a shared queue may have waited past its lease
        // and been taken by another instance: then that one polls it.
        match self
            .store
            .renew_lease(feed.id, self.clock.now(), self.schedules.lease)
            .await
        {
            Ok(true) => {}
            Ok(false) => {
                tracing::debug!(feed_url = %crate::redact::url(&feed.url), "another instance took the feed while it waited");
                return (Ok(PollResult::Cancelled), waiting.elapsed());
            }
            Err(error) => return (Err(error), waiting.elapsed()),
        }
        let waited = waiting.elapsed();
        (self.poll_admitted(feed, cancel, url).await, waited)
    }

    /// Waits for the host's politeness limits: this process's, then those
    /// instances sharing the store keep between them (requests in flight,
    /// then the spacing of their starts). Feed polls and article pages of
    /// one host share them. `None` when cancelled meanwhile.
    async fn admit_host(
        &self,
        host: &str,
        cancel: &CancellationToken,
    ) -> Result<Option<HostPass>, StoreError> {
        let permit = tokio::select! {
            _ = cancel.cancelled() => return Ok(None),
            permit = self.hosts.acquire(host) => permit,
        };
        let mut slot = None;
        while !host.is_empty() && slot.is_none() {
            slot = self.store.try_host_slot(host, self.hosts.concurrency()).await?;
            if slot.is_none() {
                let wait = Duration::from_millis(100 + fastrand::u64(0..200));
                tokio::select! {
                    _ = cancel.cancelled() => return Ok(None),
                    _ = tokio::time::sleep(wait) => {}
                }
            }
        }
        if !host.is_empty() && !self.hosts.spacing().is_zero() {
            let now = self.clock.now();
            if let Some(start) = self.store.reserve_host(host, self.hosts.spacing(), now).await? {
                if let Ok(wait) = (start - now).to_std() {
                    tokio::select! {
                        _ = cancel.cancelled() => return Ok(None),
                        _ = tokio::time::sleep(wait) => {}
                    }
                }
            }
        }
        Ok(Some(HostPass {
            _permit: permit,
            _slot: slot,
        }))
    }

    /// The poll itself, once the host's limits let it start.
    async fn poll_admitted(
        &self,
        feed: &FeedRow,
        cancel: &CancellationToken,
        url: String,
    ) -> Result<PollResult, StoreError> {
        let started = self.clock.now();
        let bounds = self.schedules.bounds(&feed.url);
        let validators =
            if scheduler::unconditional(feed.poll_count, feed.id, self.schedules.unconditional_every) {
                Validators::default()
            } else {
                feed.validators()
            };
        let outcome = tokio::select! {
            _ = cancel.cancelled() => return Ok(PollResult::Cancelled),
            outcome = self.fetcher.fetch(&url, &validators) => outcome,
        };
        let schedule = |outcome: Outcome, hints: &Hints, moved_to: Option<String>| {
            let next = scheduler::next_check(started, &bounds, outcome, hints, fastrand::f64());
            if next.unhealthy && feed.error_count + 1 == i64::from(bounds.failure_threshold) {
                tracing::warn!(feed_url = %crate::redact::url(&feed.url), failures = feed.error_count + 1, "feed is unhealthy; retried at the longest interval");
            }
            NextCheck {
                at: next.at,
                interval: next.interval,
                moved_to,
            }
        };
        let moved = |meta: &ResponseMeta| {
            if let Some(to) = &meta.moved_to {
                tracing::info!(feed_url = %crate::redact::url(&feed.url), from = %crate::redact::url(&url), to = %crate::redact::url(to), "feed moved permanently; fetching the new URL from now on");
            }
            meta.moved_to.clone()
        };
        let fetched = match outcome {
            Ok(FetchOutcome::NotModified(meta)) => {
                let hints = http_hints(&meta);
                let success = Outcome::Success {
                    items_per_week: feed.items_per_week,
                };
                let next = schedule(success, &hints, moved(&meta));
                self.writer
                    .write(FeedWrite::NotModified {
                        feed_id: feed.id,
                        at: started,
                        next,
                    })
                    .await?;
                tracing::debug!(feed_url = %crate::redact::url(&feed.url), "not modified");
                return Ok(PollResult::NotModified);
            }
            Ok(FetchOutcome::Fetched(fetched)) => fetched,
            Err(error) => {
                let message = error_chain(&error);
                if error.status() == Some(410) {
                    let reason = format!("{message}: the publisher removed the feed; disabled");
                    tracing::warn!(feed_url = %crate::redact::url(&feed.url), "410 Gone: feed disabled");
                    self.writer
                        .write(FeedWrite::Disable {
                            feed_id: feed.id,
                            status: Some(410),
                            reason: reason.clone(),
                            at: started,
                        })
                        .await?;
                    return Ok(PollResult::Failed(reason));
                }
                tracing::warn!(feed_url = %crate::redact::url(&feed.url), error = %message, "fetch failed");
                let hints = Hints {
                    retry_after: error.retry_after(),
                    ..Hints::default()
                };
                let failure = Outcome::Failure {
                    consecutive: u32::try_from(feed.error_count + 1).unwrap_or(u32::MAX),
                };
                let next = schedule(failure, &hints, None);
                self.writer
                    .write(FeedWrite::Failure(FeedFailure {
                        feed_id: feed.id,
                        status: error.status(),
                        kind: error.kind().to_string(),
                        error: message.clone(),
                        at: started,
                        next,
                    }))
                    .await?;
                return Ok(PollResult::Failed(message));
            }
        };

        let known = self.store.known_items(feed.id).await?;
        let status = fetched.status;
        let validators = fetched.validators.clone();
        let meta = fetched.meta.clone();
        let topics = Arc::clone(&self.topics);
        let feed_tags = Arc::clone(&self.feed_tags);
        let feed_name = feed.name.clone().or_else(|| feed.title.clone());
        let feed_url = feed.url.clone();
        let added_tags = feed.tag_list();
        let lang_override = self.feed_langs.get(&feed.url).cloned();
        let cluster = self.cluster_stories;
        let full_text = self.full_text_of(feed);
        let prepared = tokio::task::spawn_blocking(move || {
            // Fault injection for the tests of debug builds (release
            // builds have none): a panic where a bug in parsing would.
            #[cfg(debug_assertions)]
            if std::env::var("FEEDWATCH_TEST_PANIC_ON").is_ok_and(|m| !m.is_empty() && feed_url.contains(&m))
            {
                panic!("injected by FEEDWATCH_TEST_PANIC_ON");
            }
            let tags = feed_tags.get(&feed_url).map(Vec::as_slice).unwrap_or(&added_tags);
            let feed = FeedContext {
                name: feed_name.as_deref(),
                tags,
                lang: lang_override.as_deref(),
                full_text,
            };
            prepare(fetched, started, &known, &topics, &feed, cluster)
        })
        .await;
        // A panic while reading this document (a bug some input reaches) is
        // this feed's error, like a parse error: it never takes the daemon
        // down.
        let prepared = match prepared {
            Ok(Ok(prepared)) => Ok(prepared),
            Ok(Err(message)) => Err(("parse", message)),
            Err(error) => Err((
                "internal",
                format!("internal error while reading the feed: {}", panic_message(error)),
            )),
        };
        let (parsed, pending) = match prepared {
            Ok(prepared) => prepared,
            Err((kind, message)) => {
                tracing::warn!(feed_url = %crate::redact::url(&feed.url), error = %message, "parse failed");
                let failure = Outcome::Failure {
                    consecutive: u32::try_from(feed.error_count + 1).unwrap_or(u32::MAX),
                };
                let next = schedule(failure, &http_hints(&meta), moved(&meta));
                self.writer
                    .write(FeedWrite::Failure(FeedFailure {
                        feed_id: feed.id,
                        status: Some(status),
                        kind: kind.to_string(),
                        error: message.clone(),
                        at: started,
                        next,
                    }))
                    .await?;
                return Ok(PollResult::Failed(message));
            }
        };
        if let Some(warning) = &parsed.warning {
            tracing::warn!(feed_url = %crate::redact::url(&feed.url), %warning, "feed read with a warning");
        }
        let dates: Vec<_> = parsed.items.iter().filter_map(|i| i.published).collect();
        let items_per_week = scheduler::items_per_week(&dates, started);
        let hints = Hints {
            ttl: parsed.hints.ttl,
            update_period: parsed.hints.update_period,
            skip_hours: parsed.hints.skip_hours.clone(),
            skip_days: parsed.hints.skip_days.clone(),
            ..http_hints(&meta)
        };
        let success = Outcome::Success {
            items_per_week: items_per_week.or(feed.items_per_week),
        };
        let next = schedule(success, &hints, moved(&meta));

        let seen = parsed.items.len();
        let mut parsed_items: Vec<Option<_>> = parsed.items.into_iter().map(Some).collect();
        // Exact capacity, and the emptied `parsed_items` freed before the
        // write: for a feed of 100,000 items these are tens of MB each.
        let mut items = Vec::with_capacity(pending.len());
        items.extend(pending.into_iter().filter_map(|p| {
            let mut item = parsed_items[p.index].take()?;
            let declared_lang = std::mem::replace(&mut item.language, p.lang);
            Some(ItemWrite {
                item,
                declared_lang,
                key: p.key,
                content_hash: p.content_hash,
                stored: p.stored,
                canonical_url: p.canonical_url,
                fingerprint: p.fingerprint,
                sketch: p.sketch,
                topic_ids: p.topics.iter().map(|&t| self.topic_ids[t]).collect(),
                search: p.search,
                page: p.page,
            })
        }));
        drop(parsed_items);
        let queues_pages = items.iter().any(|i| i.page);
        let update = FeedUpdate {
            feed_id: feed.id,
            at: started,
            status,
            // A repaired document may be cut short: no validators, so the
            // next fetch reads it whole rather than hearing "not modified".
            validators: if parsed.repaired {
                Validators::default()
            } else {
                validators
            },
            title: parsed.title,
            site_url: parsed.site_url,
            items,
            story_window: self.story_window,
            next,
            items_per_week,
            warning: parsed.warning,
        };
        let counts = self.writer.write(FeedWrite::Update(update)).await?;
        if queues_pages {
            self.pages_queued.notify_one();
        }
        tracing::debug!(feed_url = %crate::redact::url(&feed.url), new = counts.new, updated = counts.updated, "ingested");
        Ok(PollResult::Ingested { seen, counts })
    }

    /// Polls every feed once, at most `concurrency` at a time. Feeds not yet
    /// started when `cancel` fires are skipped; started database writes
    /// finish.
    pub async fn run_cycle(
        &self,
        feeds: Vec<FeedRow>,
        concurrency: usize,
        cancel: &CancellationToken,
    ) -> CycleStats {
        let started = Instant::now();
        let mut polls = Polls::new(concurrency);
        let mut stats = CycleStats {
            feeds: feeds.len(),
            ..CycleStats::default()
        };
        for feed in feeds {
            polls.start(self, feed, cancel);
        }
        while let Some(polled) = polls.next().await {
            match polled.outcome {
                Err(message) => {
                    // A bug one feed reached: that feed failed, the cycle goes on.
                    tracing::error!(feed_url = %crate::redact::url(&polled.url), error = %message, "polling the feed failed");
                    stats.failed += 1;
                }
                Ok(Ok(PollResult::NotModified)) => stats.not_modified += 1,
                Ok(Ok(PollResult::Failed(_))) => stats.failed += 1,
                Ok(Ok(PollResult::Cancelled)) => stats.cancelled += 1,
                Ok(Ok(PollResult::Ingested { seen, counts })) => {
                    stats.items_seen += seen;
                    stats.new_items += counts.new;
                    stats.updated_items += counts.updated;
                    stats.matches += counts.matches;
                    stats.duplicates += counts.duplicates;
                    stats.joined_stories += counts.joined;
                }
                Ok(Err(error)) => {
                    // Not the feed's fault, but the feed failed: counted in
                    // `failed` too. One log line, not one per feed (a full
                    // disk fails them all).
                    if stats.store_errors == 0 {
                        tracing::error!(feed_url = %crate::redact::url(&polled.url), error = %error_chain(&error), "cannot store feed result; further store errors of this cycle are counted, not logged");
                    }
                    stats.store_errors += 1;
                    stats.failed += 1;
                }
            }
        }
        stats.elapsed = started.elapsed();
        stats
    }
}

/// Feeds being polled, each in its own task, at most `concurrency` at once
/// (the rest wait for a permit): the one spawn loop of `run --once`
/// ([`Pipeline::run_cycle`]) and the daemon.
pub struct Polls {
    semaphore: Arc<Semaphore>,
    tasks: JoinSet<(Result<PollResult, StoreError>, Duration, Duration)>,
    running: HashMap<tokio::task::Id, (i64, String)>,
}

/// One finished poll: the feed, and its result, or what its task said
/// when it panicked.
pub struct Polled {
    pub feed_id: i64,
    pub url: String,
    /// The result; `Err` holds a panic's message (a bug this feed reached).
    pub outcome: Result<Result<PollResult, StoreError>, String>,
    /// Time spent polling, without the wait for the feed's host.
    pub elapsed: Duration,
    /// Time spent waiting for the feed's host (per-host limits).
    pub waited: Duration,
}

impl Polls {
    pub fn new(concurrency: usize) -> Polls {
        Polls {
            semaphore: Arc::new(Semaphore::new(concurrency.max(1))),
            tasks: JoinSet::new(),
            running: HashMap::new(),
        }
    }

    /// Starts polling `feed` once a permit is free; if `cancel` fires
    /// first, it ends as [`PollResult::Cancelled`] without a request.
    pub fn start(&mut self, pipeline: &Pipeline, feed: FeedRow, cancel: &CancellationToken) {
        let pipeline = pipeline.clone();
        let semaphore = Arc::clone(&self.semaphore);
        let cancel = cancel.clone();
        let (feed_id, url) = (feed.id, feed.url.clone());
        let task = self.tasks.spawn(async move {
            let _permit = tokio::select! {
                _ = cancel.cancelled() => return (Ok(PollResult::Cancelled), Duration::ZERO, Duration::ZERO),
                permit = semaphore.acquire_owned() => permit.expect("semaphore is never closed"),
            };
            let started = Instant::now();
            let (result, waited) = pipeline.poll_feed_timed(&feed, &cancel).await;
            (result, started.elapsed().saturating_sub(waited), waited)
        });
        self.running.insert(task.id(), (feed_id, url));
    }

    /// Feeds started and not yet returned by [`Polls::next`].
    pub fn len(&self) -> usize {
        self.running.len()
    }

    pub fn is_empty(&self) -> bool {
        self.running.is_empty()
    }

    /// Whether `feed_id` is being polled.
    pub fn contains(&self, feed_id: i64) -> bool {
        self.running.values().any(|(id, _)| *id == feed_id)
    }

    /// The feeds being polled now.
    pub fn feed_ids(&self) -> Vec<i64> {
        self.running.values().map(|(id, _)| *id).collect()
    }

    /// The next poll to finish; `None` when none is running.
    pub async fn next(&mut self) -> Option<Polled> {
        loop {
            let joined = self.tasks.join_next_with_id().await?;
            let (id, outcome, elapsed, waited) = match joined {
                Ok((id, (result, elapsed, waited))) => (id, Ok(result), elapsed, waited),
                Err(error) => (
                    error.id(),
                    Err(panic_message(error)),
                    Duration::ZERO,
                    Duration::ZERO,
                ),
            };
            let Some((feed_id, url)) = self.running.remove(&id) else {
                continue;
            };
            return Some(Polled {
                feed_id,
                url,
                outcome,
                elapsed,
                waited,
            });
        }
    }

    /// Waits up to `limit` for the started polls to finish (their database
    /// writes complete); returns whether they all did. The rest are
    /// abandoned (aborted when `self` is dropped).
    pub async fn finish(&mut self, limit: Duration) -> bool {
        let all = async { while self.next().await.is_some() {} };
        tokio::time::timeout(limit, all).await.is_ok()
    }
}

/// What a panicked (or cancelled) task said, for the feed's error.
pub fn panic_message(error: tokio::task::JoinError) -> String {
    if !error.is_panic() {
        return "the task was cancelled".to_string();
    }
    let payload = error.into_panic();
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .map_or_else(|| "a panic".to_string(), |m| format!("panic: {m}"))
}

/// A request to a host admitted by its politeness limits
/// ([`Pipeline::admit_host`]); they hold until it is dropped.
struct HostPass {
    _permit: crate::fetch::hosts::HostPermit,
    _slot: Option<crate::store::HostSlot>,
}

/// The scheduling hints of an HTTP response.
fn http_hints(meta: &ResponseMeta) -> Hints {
    Hints {
        max_age: meta.max_age,
        expires: meta.expires,
        ..Hints::default()
    }
}

/// An item of the parsed feed that is new or changed, with its matches.
struct Pending {
    index: usize,
    key: String,
    content_hash: String,
    /// The feed lists the key already: an edit.
    stored: bool,
    canonical_url: Option<String>,
    fingerprint: Option<u64>,
    /// [`stories::sketch`], with the fingerprint.
    sketch: Option<Vec<u32>>,
    /// Indexes into the topic set.
    topics: Vec<usize>,
    search: SearchText,
    /// The item's language: configured for the feed, else identified from
    /// its text with the declared tag as a prior ([`crate::langid`]).
    lang: Option<String>,
    /// Its article page is wanted ([`FullText::wants_page`]).
    page: bool,
}

/// What the configuration says of the feed being prepared.
struct FeedContext<'a> {
    /// Its name (else its stored title), for `feed:` filters.
    name: Option<&'a str>,
    /// Its tags, for `feed:` filters.
    tags: &'a [String],
    /// `[[feed]] lang`: the language of its items.
    lang: Option<&'a str>,
    /// When its items' pages are fetched.
    full_text: FullText,
}

/// Parses the document, takes items dated more than
/// [`dates::MAX_FUTURE_SKEW`] after `fetched_at` as undated, drops items
/// that are stored unchanged (and repeats of a key within the document),
/// identifies the language of the rest (unless the feed's configured
/// language says it), matches them and computes their
/// canonical URL and (if `cluster`) near-duplicate fingerprint. Pure CPU
/// work.
fn prepare(
    fetched: Fetched,
    fetched_at: DateTime<Utc>,
    known: &HashMap<String, Known>,
    topics: &TopicSet,
    feed: &FeedContext,
    cluster: bool,
) -> Result<(ParsedFeed, Vec<Pending>), String> {
    let base_url = fetched.base_url();
    let mut parsed =
        parse_feed_as(&fetched.body, fetched.content_type.as_deref(), base_url).map_err(|e| match e {
            // A web page configured as a feed: say which feeds it
            // announces, as `feeds add` does.
            ParseError::Html => {
                let feeds = crate::parse::discover_feeds(&fetched.body, base_url);
                match feeds.as_slice() {
                    [] => format!("{e}; it links to no feed"),
                    [one] => format!("{e}; it links to the feed {one} (use that URL)"),
                    many => format!("{e}; it links to the feeds {} (use one of them)", many.join(", ")),
                }
            }
            e => error_chain(&e),
        })?;
    if let Some(warning) = dates::distrust_future(&mut parsed.items, fetched_at) {
        parsed.add_warning(warning);
    }
    let mut seen = HashSet::new();
    let keys = item_keys(&parsed.items);
    let pending = parsed
        .items
        .iter()
        .zip(keys)
        .enumerate()
        .filter_map(|(index, (item, key))| {
            if !seen.insert(key.clone()) {
                return None;
            }
            let content_hash = item.content_hash();
            let stored = match known.get(&key) {
                Some(Known::Pruned) => return None,
                Some(Known::Stored(hash)) if *hash == content_hash => return None,
                Some(Known::Stored(_)) => true,
                None => false,
            };
            let lang = match feed.lang {
                Some(lang) => Some(lang.to_string()),
                None => langid::identify(&item.title, &item.text, item.language.as_deref()),
            };
            // Folded once: for matching, the full-text index and the
            // fingerprint.
            let title_words = crate::text::words_in(&item.title, lang.as_deref());
            let text_words = crate::text::words_in(&item.text, lang.as_deref());
            let (topics, title_words, text_words) = if topics.is_empty() {
                (Vec::new(), title_words, text_words)
            } else {
                let meta = Meta {
                    lang: lang.as_deref(),
                    feed_name: feed.name.or(parsed.title.as_deref()),
                    feed_tags: feed.tags,
                };
                let doc = Document::from_words(title_words, text_words, meta);
                let matched = topics.matches(&doc);
                let (title_words, text_words) = doc.into_words();
                (matched, title_words, text_words)
            };
            let search = SearchText::from_words(&title_words, &text_words);
            let (fingerprint, sketch) = if cluster {
                stories::fingerprint_and_sketch_of(&title_words, &text_words).unzip()
            } else {
                (None, None)
            };
            Some(Pending {
                index,
                key,
                content_hash,
                stored,
                canonical_url: item.url.as_deref().and_then(stories::canonical_url),
                fingerprint,
                sketch,
                topics,
                search,
                lang,
                page: item
                    .url
                    .as_deref()
                    .is_some_and(|u| u.starts_with("http://") || u.starts_with("https://"))
                    && feed.full_text.wants_page(&item.text),
            })
        })
        .collect();
    Ok((parsed, pending))
}
