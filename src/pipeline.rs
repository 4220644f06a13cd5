//! One feed's trip through the pipeline — fetch → parse → match → store —
//! and a cycle that runs it over many feeds with bounded concurrency.
//!
//! A feed that fails is data: the error goes on its row and into the log,
//! and the other feeds carry on.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::error_chain;
use crate::fetch::{FetchOutcome, Fetched, Fetcher};
use crate::model::ParsedFeed;
use crate::parse::parse_feed;
use crate::store::{FeedRow, FeedUpdate, IngestCounts, ItemWrite, Store, StoreError};
use crate::topics::{Document, TopicSet};

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
    pub failed: usize,
    pub cancelled: usize,
    /// Feeds whose result could not be written to the database.
    pub store_errors: usize,
    pub items_seen: usize,
    pub new_items: u64,
    pub updated_items: u64,
    pub matches: u64,
    pub elapsed: Duration,
}

/// The pipeline's shared parts. Cheap to clone.
#[derive(Clone)]
pub struct Pipeline {
    store: Store,
    fetcher: Fetcher,
    topics: Arc<TopicSet>,
    /// Row id of each topic, in `topics` order.
    topic_ids: Arc<Vec<i64>>,
}

impl Pipeline {
    /// Builds the pipeline; records the topics in the store.
    pub async fn new(store: Store, fetcher: Fetcher, topics: TopicSet) -> Result<Self, StoreError> {
        let topic_ids = store.sync_topics(&topics).await?;
        Ok(Self {
            store,
            fetcher,
            topics: Arc::new(topics),
            topic_ids: Arc::new(topic_ids),
        })
    }

    /// Polls one feed. Errors of the feed itself are recorded on its row and
    /// returned as [`PollResult::Failed`]; only a database failure is `Err`.
    pub async fn poll_feed(
        &self,
        feed: &FeedRow,
        cancel: &CancellationToken,
    ) -> Result<PollResult, StoreError> {
        let started = Utc::now();
        let validators = feed.validators();
        let outcome = tokio::select! {
            _ = cancel.cancelled() => return Ok(PollResult::Cancelled),
            outcome = self.fetcher.fetch(&feed.url, &validators) => outcome,
        };
        let fetched = match outcome {
            Ok(FetchOutcome::NotModified) => {
                self.store.record_not_modified(feed.id, started).await?;
                tracing::debug!(feed = %feed.url, "not modified");
                return Ok(PollResult::NotModified);
            }
            Ok(FetchOutcome::Fetched(fetched)) => fetched,
            Err(error) => {
                let message = error_chain(&error);
                tracing::warn!(feed = %feed.url, error = %message, "fetch failed");
                self.store
                    .record_failure(feed.id, error.status(), &message, started)
                    .await?;
                return Ok(PollResult::Failed(message));
            }
        };

        let known = self.store.item_hashes(feed.id).await?;
        let status = fetched.status;
        let validators = fetched.validators.clone();
        let topics = Arc::clone(&self.topics);
        let prepared = tokio::task::spawn_blocking(move || prepare(fetched, &known, &topics))
            .await
            .expect("parsing and matching do not panic");
        let (parsed, pending) = match prepared {
            Ok(prepared) => prepared,
            Err(message) => {
                tracing::warn!(feed = %feed.url, error = %message, "parse failed");
                self.store
                    .record_failure(feed.id, Some(status), &message, started)
                    .await?;
                return Ok(PollResult::Failed(message));
            }
        };

        let items = pending
            .into_iter()
            .map(|p| ItemWrite {
                item: &parsed.items[p.index],
                key: p.key,
                content_hash: p.content_hash,
                topic_ids: p.topics.iter().map(|&t| self.topic_ids[t]).collect(),
            })
            .collect();
        let update = FeedUpdate {
            feed_id: feed.id,
            at: started,
            status,
            validators,
            title: parsed.title.as_deref(),
            site_url: parsed.site_url.as_deref(),
            items,
        };
        let counts = self.store.apply_feed_update(&update).await?;
        tracing::debug!(feed = %feed.url, new = counts.new, updated = counts.updated, "ingested");
        Ok(PollResult::Ingested {
            seen: parsed.items.len(),
            counts,
        })
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
        let semaphore = Arc::new(Semaphore::new(concurrency.max(1)));
        let mut tasks = JoinSet::new();
        let mut stats = CycleStats {
            feeds: feeds.len(),
            ..CycleStats::default()
        };
        for feed in feeds {
            let pipeline = self.clone();
            let semaphore = Arc::clone(&semaphore);
            let cancel = cancel.clone();
            tasks.spawn(async move {
                let _permit = tokio::select! {
                    _ = cancel.cancelled() => return (feed.url, Ok(PollResult::Cancelled)),
                    permit = semaphore.acquire_owned() => permit.expect("semaphore is never closed"),
                };
                let result = pipeline.poll_feed(&feed, &cancel).await;
                (feed.url, result)
            });
        }
        while let Some(joined) = tasks.join_next().await {
            let (url, result) = joined.expect("feed tasks do not panic");
            match result {
                Ok(PollResult::NotModified) => stats.not_modified += 1,
                Ok(PollResult::Failed(_)) => stats.failed += 1,
                Ok(PollResult::Cancelled) => stats.cancelled += 1,
                Ok(PollResult::Ingested { seen, counts }) => {
                    stats.items_seen += seen;
                    stats.new_items += counts.new;
                    stats.updated_items += counts.updated;
                    stats.matches += counts.matches;
                }
                Err(error) => {
                    stats.store_errors += 1;
                    tracing::error!(feed = %url, error = %error_chain(&error), "cannot store feed result");
                }
            }
        }
        stats.elapsed = started.elapsed();
        stats
    }
}

/// An item of the parsed feed that is new or changed, with its matches.
struct Pending {
    index: usize,
    key: String,
    content_hash: String,
    /// Indexes into the topic set.
    topics: Vec<usize>,
}

/// Parses the document, drops items that are stored unchanged (and repeats
/// of a key within the document) and matches the rest. Pure CPU work.
fn prepare(
    fetched: Fetched,
    known: &HashMap<String, String>,
    topics: &TopicSet,
) -> Result<(ParsedFeed, Vec<Pending>), String> {
    let parsed = parse_feed(&fetched.body, &fetched.final_url).map_err(|e| error_chain(&e))?;
    let mut seen = HashSet::new();
    let pending = parsed
        .items
        .iter()
        .enumerate()
        .filter_map(|(index, item)| {
            let key = item.key();
            if !seen.insert(key.clone()) {
                return None;
            }
            let content_hash = item.content_hash();
            if known.get(&key) == Some(&content_hash) {
                return None;
            }
            let topics = if topics.is_empty() {
                Vec::new()
            } else {
                topics.matches(&Document::new(&item.title, &item.text))
            };
            Some(Pending {
                index,
                key,
                content_hash,
                topics,
            })
        })
        .collect();
    Ok((parsed, pending))
}
