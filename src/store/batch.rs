//! Group commit: the results of many feeds written in one transaction.
//!
//! Each feed's result is atomic on its own, but committing each in its own
//! transaction writes every page it touches — the items table, its indexes,
//! the full-text index, the story keys — into the WAL once per feed. Pages
//! are shared between feeds (the index pages above all), so one transaction
//! for everything that is waiting writes each page once. [`WriteQueue`] is
//! the single writer the pipeline hands results to: it takes whatever has
//! queued up while the previous transaction ran, so batches grow with the
//! load and a lone result is written at once.

use std::slice;

use chrono::{DateTime, Utc};
use tokio::sync::{mpsc, oneshot};

use super::feeds::{self, FeedFailure};
use super::items::{self, FeedUpdate, IngestCounts};
use super::search::SearchRows;
use super::story_index::StoryIndex;
use super::{NextCheck, Result, Store, StoreError};

/// Results queued before the writer stops taking more into a transaction.
const MAX_WRITES: usize = 512;
/// Items queued before the writer stops taking more into a transaction.
const MAX_ITEMS: usize = 20_000;
/// Results that may wait for the writer before senders wait too.
const QUEUE: usize = 1024;

/// One feed's poll result, as the database records it.
#[derive(Debug)]
pub enum FeedWrite {
    /// A successful fetch ([`Store::apply_feed_update`]).
    Update(FeedUpdate),
    /// A 304 ([`Store::record_not_modified`]).
    NotModified {
        feed_id: i64,
        at: DateTime<Utc>,
        next: NextCheck,
    },
    /// A failed fetch or parse ([`Store::record_failure`]).
    Failure(FeedFailure),
    /// The feed is gone ([`Store::disable_feed`]).
    Disable {
        feed_id: i64,
        status: Option<u16>,
        reason: String,
        at: DateTime<Utc>,
    },
}

impl FeedWrite {
    fn items(&self) -> usize {
        match self {
            FeedWrite::Update(update) => update.items.len(),
            _ => 0,
        }
    }
}

impl Store {
    /// Applies `writes` in one `BEGIN IMMEDIATE` transaction; if that fails,
    /// applies each in its own, so that a write that cannot be applied fails
    /// alone. One result per write, in order (all-zero counts for writes
    /// other than updates).
    pub async fn apply_feed_writes(&self, writes: Vec<FeedWrite>) -> Vec<Result<IngestCounts>> {
        let mut index = self.stories.lock().await;
        if writes.len() > 1 {
            match self.transaction(&mut index, &writes).await {
                Ok(counts) => return counts.into_iter().map(Ok).collect(),
                Err(error) => tracing::warn!(
                    writes = writes.len(),
                    error = %crate::error_chain(&error),
                    "group commit failed; writing feed results one at a time"
                ),
            }
        }
        let mut results = Vec::with_capacity(writes.len());
        for write in &writes {
            let result = self.transaction(&mut index, slice::from_ref(write)).await;
            results.push(result.map(|counts| counts[0]));
        }
        results
    }

    async fn transaction(&self, index: &mut StoryIndex, writes: &[FeedWrite]) -> Result<Vec<IngestCounts>> {
        let mut tx = self.write.begin_with("BEGIN IMMEDIATE").await?;
        index.begin(&mut tx).await?;
        let mut search = SearchRows::default();
        let mut counts = Vec::with_capacity(writes.len());
        for write in writes {
            counts.push(match write {
                FeedWrite::Update(update) => items::apply_update(&mut tx, index, &mut search, update).await?,
                FeedWrite::NotModified { feed_id, at, next } => {
                    feeds::record_not_modified(&mut tx, *feed_id, *at, next).await?;
                    IngestCounts::default()
                }
                FeedWrite::Failure(failure) => {
                    feeds::record_failure(&mut tx, failure).await?;
                    IngestCounts::default()
                }
                FeedWrite::Disable {
                    feed_id,
                    status,
                    reason,
                    at,
                } => {
                    feeds::disable_feed(&mut tx, *feed_id, *status, reason, *at).await?;
                    IngestCounts::default()
                }
            });
        }
        search.write(&mut tx).await?;
        tx.commit().await?;
        index.committed();
        Ok(counts)
    }
}

struct Job {
    write: FeedWrite,
    reply: oneshot::Sender<Result<IngestCounts>>,
}

/// The single writer of feed results, with group commit. Cheap to clone;
/// the writer task ends when the last clone is dropped, after writing what
/// was queued.
#[derive(Debug, Clone)]
pub struct WriteQueue {
    sender: mpsc::Sender<Job>,
}

impl WriteQueue {
    /// Starts the writer task (on the current tokio runtime).
    pub fn start(store: Store) -> WriteQueue {
        let (sender, receiver) = mpsc::channel(QUEUE);
        tokio::spawn(write_loop(store, receiver));
        WriteQueue { sender }
    }

    /// Queues a result and waits until it is committed (or failed).
    pub async fn write(&self, write: FeedWrite) -> Result<IngestCounts> {
        let (reply, done) = oneshot::channel();
        self.sender
            .send(Job { write, reply })
            .await
            .map_err(|_| StoreError::WriterStopped)?;
        done.await.map_err(|_| StoreError::WriterStopped)?
    }
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Job").field("write", &self.write).finish()
    }
}

async fn write_loop(store: Store, mut receiver: mpsc::Receiver<Job>) {
    while let Some(first) = receiver.recv().await {
        let mut items = first.write.items();
        let mut jobs = vec![first];
        while jobs.len() < MAX_WRITES && items < MAX_ITEMS {
            let Ok(job) = receiver.try_recv() else { break };
            items += job.write.items();
            jobs.push(job);
        }
        let (writes, replies): (Vec<_>, Vec<_>) = jobs.into_iter().map(|j| (j.write, j.reply)).unzip();
        tracing::trace!(writes = writes.len(), items, "writing feed results");
        let results = store.apply_feed_writes(writes).await;
        for (reply, result) in replies.into_iter().zip(results) {
            // The poller may have gone (shutdown); the write stands.
            let _ = reply.send(result);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::config::FeedConfig;
    use crate::fetch::Validators;
    use crate::model::NewItem;
    use crate::store::ItemWrite;

    fn feed(url: &str) -> FeedConfig {
        FeedConfig {
            url: url.to_string(),
            name: None,
            tags: Vec::new(),
            interval: None,
            min_interval: None,
            max_interval: None,
        }
    }

    fn update(feed_id: i64, links: &[&str]) -> FeedWrite {
        let at = Utc::now();
        let items = links
            .iter()
            .map(|link| ItemWrite {
                item: NewItem {
                    guid: Some(link.to_string()),
                    url: Some(link.to_string()),
                    title: format!("Article at {link}"),
                    text: "Short text.".to_string(),
                    published: None,
                    updated: None,
                    language: Some("en".to_string()),
                    author: None,
                },
                key: format!("guid:{link}"),
                content_hash: link.to_string(),
                stored: false,
                canonical_url: crate::dedup::canonical_url(link),
                fingerprint: None,
                sketch: None,
                topic_ids: Vec::new(),
            })
            .collect();
        FeedWrite::Update(FeedUpdate {
            feed_id,
            at,
            status: 200,
            validators: Validators::default(),
            title: None,
            site_url: None,
            items,
            story_window: chrono::Duration::days(7),
            next: NextCheck {
                at,
                interval: Duration::from_secs(600),
                moved_to: None,
            },
            items_per_week: None,
            warning: None,
        })
    }

    /// One write that cannot be applied (its feed does not exist) fails
    /// alone; the others in its batch are committed.
    #[tokio::test]
    async fn a_failing_write_does_not_take_its_batch_down() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("t.db")).await.unwrap();
        let feeds = store
            .sync_feeds(&[feed("https://a.example/rss"), feed("https://b.example/rss")])
            .await
            .unwrap();
        let results = store
            .apply_feed_writes(vec![
                update(feeds[0].id, &["https://a.example/1", "https://a.example/2"]),
                update(feeds[1].id + 100, &["https://nowhere.example/1"]),
                update(feeds[1].id, &["https://b.example/1"]),
            ])
            .await;
        assert_eq!(results[0].as_ref().unwrap().new, 2);
        assert!(results[1].is_err(), "{:?}", results[1]);
        assert_eq!(results[2].as_ref().unwrap().new, 1);
        assert_eq!(store.item_count().await.unwrap(), 3);
    }

    /// Two feeds carrying one URL in the same batch store one item with two
    /// sources, and every item of the batch is in the full-text index.
    #[tokio::test]
    async fn one_batch_dedups_across_its_feeds_and_indexes_everything() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("t.db")).await.unwrap();
        let feeds = store
            .sync_feeds(&[feed("https://a.example/rss"), feed("https://b.example/rss")])
            .await
            .unwrap();
        let queue = WriteQueue::start(store.clone());
        let (a, b) = tokio::join!(
            queue.write(update(feeds[0].id, &["https://wire.example/story?utm_source=a", "https://a.example/own"])),
            queue.write(update(feeds[1].id, &["https://wire.example/story"])),
        );
        let (a, b) = (a.unwrap(), b.unwrap());
        assert_eq!((a.new + b.new, a.duplicates + b.duplicates), (2, 1));
        assert_eq!(store.item_count().await.unwrap(), 2);
        let indexed: i64 = sqlx::query_scalar("SELECT count(*) FROM items_fts WHERE items_fts MATCH 'article'")
            .fetch_one(&store.read)
            .await
            .unwrap();
        assert_eq!(indexed, 2);
    }
}
