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
//!
//! Committed pages reach the database file by WAL checkpoints. SQLite runs
//! them inside the commit that crosses `wal_autocheckpoint`, on the writer's
//! critical path (a fifth of the SQLite thread's time in a cold farm
//! cycle); while a [`WriteQueue`] runs, its own connection checkpoints
//! beside the writer instead ([`checkpoint_loop`]).

use std::slice;

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use super::feeds::{self, FeedFailure};
use super::items::{self, Deferred, FeedUpdate, IngestCounts};
use super::story_index::StoryIndex;
use super::{NextCheck, Result, SqliteStore, StoreError};

/// Results queued before the writer stops taking more into a transaction.
const MAX_WRITES: usize = 512;
/// Items queued before the writer stops taking more into a transaction.
const MAX_ITEMS: usize = 20_000;
/// Results that may wait for the writer before senders wait too.
const QUEUE: usize = 1024;
/// How long the writer waits for more results before it settles the
/// story lookup entries it owes (see `story_index`).
const SETTLE_IDLE: std::time::Duration = std::time::Duration::from_secs(2);
/// WAL frames (pages) above which the writer waits for a checkpoint of its
/// last commit before it begins the next transaction, so that the WAL file
/// starts over instead of growing: a writer that never pauses never finds
/// the WAL fully copied, SQLite's condition for reusing it. 16,384 pages
/// are 64 MiB.
const RESTART_FRAMES: i64 = 16_384;

/// One feed's poll result, as the database records it.
#[derive(Debug)]
pub enum FeedWrite {
    /// A successful fetch ([`SqliteStore::apply_feed_update`]).
    Update(FeedUpdate),
    /// A 304 (`feeds::record_not_modified`).
    NotModified {
        feed_id: i64,
        at: DateTime<Utc>,
        next: NextCheck,
    },
    /// A failed fetch or parse (`feeds::record_failure`).
    Failure(FeedFailure),
    /// The feed is gone (`feeds::disable_feed`).
    Disable {
        feed_id: i64,
        status: Option<u16>,
        reason: String,
        at: DateTime<Utc>,
    },
}

impl FeedWrite {
    pub(in crate::store) fn items(&self) -> usize {
        match self {
            FeedWrite::Update(update) => update.items.len(),
            _ => 0,
        }
    }
}

impl SqliteStore {
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

    /// Writes the story lookup entries this process owes (see `story_index`),
    /// if any: when the writer is idle, and on close.
    pub async fn settle_story_keys(&self) -> Result<()> {
        let mut index = self.stories.lock().await;
        if !index.owes() {
            return Ok(());
        }
        let mut tx = self.begin_items(&mut index).await?;
        index.settle(&mut tx).await?;
        tx.commit().await?;
        index.committed();
        Ok(())
    }

    /// `BEGIN IMMEDIATE` of a write that may change items, with the copy of
    /// the story index told.
    async fn begin_items(&self, index: &mut StoryIndex) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>> {
        let mut tx = self.write.begin_with("BEGIN IMMEDIATE").await?;
        if self.reopened.swap(false, std::sync::atomic::Ordering::AcqRel) {
            // Another connection: its data_version says nothing about the copy.
            index.forget();
        }
        index.begin(&mut tx).await?;
        Ok(tx)
    }

    async fn transaction(&self, index: &mut StoryIndex, writes: &[FeedWrite]) -> Result<Vec<IngestCounts>> {
        let mut tx = self.begin_items(index).await?;
        let mut deferred = Deferred::default();
        let mut counts = vec![IngestCounts::default(); writes.len()];
        let mut updates = Vec::new();
        let mut not_modified = Vec::new();
        for (i, write) in writes.iter().enumerate() {
            match write {
                FeedWrite::Update(update) => updates.push((i, update)),
                FeedWrite::NotModified { feed_id, at, next } => not_modified.push((*feed_id, *at, next)),
                FeedWrite::Failure(failure) => feeds::record_failure(&mut tx, failure).await?,
                FeedWrite::Disable {
                    feed_id,
                    status,
                    reason,
                    at,
                } => feeds::disable_feed(&mut tx, *feed_id, *status, reason, *at).await?,
            }
        }
        feeds::record_not_modified(&mut tx, &not_modified).await?;
        let (positions, updates): (Vec<usize>, Vec<&FeedUpdate>) = updates.into_iter().unzip();
        let applied = items::apply_updates(&mut tx, index, &mut deferred, &updates).await?;
        for (i, applied) in positions.into_iter().zip(applied) {
            counts[i] = applied;
        }
        deferred.write(&mut tx, index).await?;
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
/// the writer task ends at [`WriteQueue::close`] or when the last clone is
/// dropped, after writing what was queued.
#[derive(Debug, Clone)]
pub struct WriteQueue {
    sender: mpsc::Sender<Job>,
    /// Asks the writer to stop taking jobs (see [`WriteQueue::close`]).
    closing: CancellationToken,
    /// The writer and checkpointer tasks, awaited by the first `close`.
    tasks: Arc<std::sync::Mutex<Vec<tokio::task::JoinHandle<()>>>>,
}

impl WriteQueue {
    /// Starts the writer task (on the current tokio runtime).
    pub fn start(store: SqliteStore) -> WriteQueue {
        let (sender, receiver) = mpsc::channel(QUEUE);
        let (wake, woken) = mpsc::channel(1);
        let frames = Arc::new(AtomicI64::new(0));
        let closing = CancellationToken::new();
        let tasks = vec![
            tokio::spawn(checkpoint_loop(store.clone(), woken, Arc::clone(&frames))),
            tokio::spawn(write_loop(
                store,
                receiver,
                Checkpointer { wake, frames },
                closing.clone(),
            )),
        ];
        WriteQueue {
            sender,
            closing,
            tasks: Arc::new(std::sync::Mutex::new(tasks)),
        }
    }

    /// Stops the writer: what is queued is written (and its owed story keys
    /// settled), later writes fail with [`StoreError::WriterStopped`]; returns
    /// once the writer and its checkpointer have ended.
    pub async fn close(&self) {
        self.closing.cancel();
        let tasks = std::mem::take(&mut *self.tasks.lock().expect("never poisoned: no panics under it"));
        for task in tasks {
            if let Err(error) = task.await {
                tracing::error!(error = %error, "the database writer panicked");
            }
        }
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

/// The writer's side of [`checkpoint_loop`].
struct Checkpointer {
    /// Wakes the checkpointer; with a sender, it answers when done.
    wake: mpsc::Sender<Option<oneshot::Sender<()>>>,
    /// Frames in the WAL at the checkpointer's last checkpoint.
    frames: Arc<AtomicI64>,
}

impl Checkpointer {
    /// Called after each commit.
    async fn committed(&self) {
        if self.frames.load(Ordering::Relaxed) <= RESTART_FRAMES {
            // A wake-up already pending covers this commit too.
            let _ = self.wake.try_send(None);
            return;
        }
        let (done, checkpointed) = oneshot::channel();
        if self.wake.send(Some(done)).await.is_ok() {
            let _ = checkpointed.await;
        }
    }
}

async fn write_loop(
    store: SqliteStore,
    mut receiver: mpsc::Receiver<Job>,
    checkpointer: Checkpointer,
    closing: CancellationToken,
) {
    if let Err(error) = store.automatic_checkpoints(false).await {
        tracing::debug!(error = %crate::error_chain(&error), "cannot hand WAL checkpoints to the checkpointer");
    }
    let mut owes = false;
    let mut closed = false;
    loop {
        let first = tokio::select! {
            biased;
            _ = closing.cancelled(), if !closed => {
                // No new jobs; the queued ones are still written.
                receiver.close();
                closed = true;
                continue;
            }
            next = next_job(&mut receiver, owes) => match next {
                Some(first) => first,
                None => {
                    settle(&store).await;
                    owes = false;
                    continue;
                }
            },
        };
        let Some(first) = first else { break };
        let mut items = first.write.items();
        let mut jobs = vec![first];
        while jobs.len() < MAX_WRITES && items < MAX_ITEMS {
            let Ok(job) = receiver.try_recv() else { break };
            items += job.write.items();
            jobs.push(job);
        }
        let (writes, replies): (Vec<_>, Vec<_>) = jobs.into_iter().map(|j| (j.write, j.reply)).unzip();
        let (count, started) = (writes.len(), std::time::Instant::now());
        let results = store.apply_feed_writes(writes).await;
        tracing::trace!(writes = count, items, elapsed = ?started.elapsed(), "wrote feed results");
        for (reply, result) in replies.into_iter().zip(results) {
            // The poller may have gone (shutdown); the write stands.
            let _ = reply.send(result);
        }
        checkpointer.committed().await;
        owes |= items > 0;
    }
    settle(&store).await;
    if let Err(error) = store.automatic_checkpoints(true).await {
        tracing::debug!(error = %crate::error_chain(&error), "cannot restore automatic WAL checkpoints");
    }
}

/// The next job (`Some(None)` once the queue is closed and empty); while
/// the writer `owes` story keys, `None` after [`SETTLE_IDLE`] without one.
async fn next_job(receiver: &mut mpsc::Receiver<Job>, owes: bool) -> Option<Option<Job>> {
    if owes {
        tokio::time::timeout(SETTLE_IDLE, receiver.recv()).await.ok()
    } else {
        Some(receiver.recv().await)
    }
}

/// [`SqliteStore::settle_story_keys`]; a failure is logged (the debt stays in
/// `story_keys_pending`, where lookups find it, settled later).
async fn settle(store: &SqliteStore) {
    if let Err(error) = store.settle_story_keys().await {
        tracing::warn!(error = %crate::error_chain(&error), "cannot write the owed story keys");
    }
}

/// Copies committed WAL frames into the database file after the writer's
/// commits, on a connection of its own (`PASSIVE`: it never blocks the
/// writer), so that the copying runs beside the next transaction instead of
/// inside a commit. Ends when the writer does. A failure is logged, not
/// fatal: SQLite's own automatic checkpoints come back when the writer
/// ends, and the daemon truncates the WAL on its own schedule.
async fn checkpoint_loop(
    store: SqliteStore,
    mut woken: mpsc::Receiver<Option<oneshot::Sender<()>>>,
    frames: Arc<AtomicI64>,
) {
    while let Some(done) = woken.recv().await {
        match store.passive_checkpoint().await {
            Ok((_, wal, _)) => frames.store(wal, Ordering::Relaxed),
            Err(error) => {
                tracing::debug!(error = %crate::error_chain(&error), "WAL checkpoint failed");
                frames.store(0, Ordering::Relaxed);
            }
        }
        if let Some(done) = done {
            let _ = done.send(());
        }
    }
}

#[cfg(test)]
mod tests_support {
    use std::time::Duration;

    use super::*;
    use crate::fetch::Validators;
    use crate::model::FeedConfig;
    use crate::model::NewItem;
    use crate::store::ItemWrite;

    pub fn feed(url: &str) -> FeedConfig {
        FeedConfig {
            url: url.to_string(),
            name: None,
            tags: Vec::new(),
            interval: None,
            min_interval: None,
            max_interval: None,
            lang: None,
            full_text: None,
        }
    }

    pub fn update(feed_id: i64, links: &[&str]) -> FeedWrite {
        let items: Vec<_> = links.iter().map(|link| (*link, "Short text.")).collect();
        update_with(feed_id, &items)
    }

    /// An update of `(link, text)` items, fingerprinted as the pipeline does.
    pub fn update_with(feed_id: i64, items: &[(&str, &str)]) -> FeedWrite {
        let at = Utc::now();
        let items = items
            .iter()
            .map(|&(link, text)| ItemWrite {
                item: NewItem {
                    guid: Some(link.to_string()),
                    url: Some(link.to_string()),
                    title: "Article".to_string(),
                    text: text.to_string(),
                    published: None,
                    updated: None,
                    language: Some("en".to_string()),
                    author: None,
                },
                declared_lang: Some("en".to_string()),
                key: format!("guid:{link}"),
                content_hash: link.to_string(),
                stored: false,
                canonical_url: crate::stories::canonical_url(link),
                fingerprint: crate::stories::fingerprint("Article", text),
                sketch: None,
                topic_ids: Vec::new(),
                search: crate::store::SearchText::new("Article", text, None),
                page: false,
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
}

#[cfg(test)]
mod tests {
    use super::tests_support::*;
    use super::*;

    /// One write that cannot be applied (its feed does not exist) fails
    /// alone; the others in its batch are committed.
    #[tokio::test]
    async fn a_failing_write_does_not_take_its_batch_down() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("t.db")).await.unwrap();
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
        let store = SqliteStore::open(&dir.path().join("t.db")).await.unwrap();
        let feeds = store
            .sync_feeds(&[feed("https://a.example/rss"), feed("https://b.example/rss")])
            .await
            .unwrap();
        let queue = WriteQueue::start(store.clone());
        let (a, b) = tokio::join!(
            queue.write(update(
                feeds[0].id,
                &["https://wire.example/story?utm_source=a", "https://a.example/own"]
            )),
            queue.write(update(feeds[1].id, &["https://wire.example/story"])),
        );
        let (a, b) = (a.unwrap(), b.unwrap());
        assert_eq!((a.new + b.new, a.duplicates + b.duplicates), (2, 1));
        assert_eq!(store.item_count().await.unwrap(), 2);
        let indexed: i64 = sqlx::query_scalar("SELECT count(*) FROM items_fts WHERE items_fts MATCH 'short'")
            .fetch_one(&store.read)
            .await
            .unwrap();
        assert_eq!(indexed, 2);
    }

    /// While a queue writes, its checkpointer copies the commits into the
    /// database file (the writer's automatic checkpoints are off, and 40
    /// items are far below their threshold anyway), and closing the store
    /// leaves an empty WAL.
    #[tokio::test]
    async fn the_checkpointer_copies_commits_into_the_database_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let store = SqliteStore::open(&path).await.unwrap();
        let feeds = store.sync_feeds(&[feed("https://a.example/rss")]).await.unwrap();
        store.checkpoint().await.unwrap();
        let before = std::fs::metadata(&path).unwrap().len();
        let queue = WriteQueue::start(store.clone());
        for round in 0..4 {
            let links: Vec<String> = (0..10)
                .map(|i| format!("https://a.example/{round}/{i}"))
                .collect();
            let links: Vec<&str> = links.iter().map(String::as_str).collect();
            queue.write(update(feeds[0].id, &links)).await.unwrap();
        }
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while std::fs::metadata(&path).unwrap().len() == before {
            assert!(std::time::Instant::now() < deadline, "nothing was checkpointed");
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        drop(queue);
        store.close().await;
        let mut wal = path.clone().into_os_string();
        wal.push("-wal");
        assert_eq!(std::fs::metadata(&wal).map_or(0, |m| m.len()), 0);
        let store = SqliteStore::open_existing(&path).await.unwrap();
        assert_eq!(store.item_count().await.unwrap(), 40);
    }
}

#[cfg(test)]
mod story_tests {
    use super::super::story_index::check;
    use super::tests_support::*;
    use super::*;

    const WIRE: &str = "The foreign ministers of both countries met in the capital on Monday to discuss \
        the referendum, border crossings, trade routes and the security of pipelines running north \
        through the region, officials said after the talks ended late in the evening.";

    async fn story_of(store: &SqliteStore, url: &str) -> i64 {
        sqlx::query_scalar("SELECT story_id FROM items WHERE url = ?")
            .bind(url)
            .fetch_one(&store.read)
            .await
            .unwrap()
    }

    /// A store at `path` with feeds a and b, its story index set by `set`
    /// first, and the wire story stored from a (`https://a.example/1`).
    async fn wire_from_a(
        path: &std::path::Path,
        set: impl FnOnce(&mut StoryIndex),
    ) -> (SqliteStore, Vec<super::super::FeedRow>) {
        let store = SqliteStore::open(path).await.unwrap();
        set(&mut *store.stories.lock().await);
        let feeds = store
            .sync_feeds(&[feed("https://a.example/rss"), feed("https://b.example/rss")])
            .await
            .unwrap();
        let results = store
            .apply_feed_writes(vec![update_with(feeds[0].id, &[("https://a.example/1", WIRE)])])
            .await;
        assert!(results.iter().all(Result::is_ok), "{results:?}");
        (store, feeds)
    }

    /// The buckets split a key's items by 30-day period: a copy published
    /// just after a period boundary finds, through SQL, the original
    /// published just before it.
    #[tokio::test]
    async fn a_copy_across_a_bucket_period_boundary_finds_its_story() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let store = SqliteStore::open(&path).await.unwrap();
        let feeds = store
            .sync_feeds(&[feed("https://a.example/rss"), feed("https://b.example/rss")])
            .await
            .unwrap();
        let period = 30 * 86_400;
        let boundary = (Utc::now().timestamp() / period - 2) * period;
        let at = |offset: i64| DateTime::from_timestamp(boundary + offset, 0).unwrap();
        let results = store
            .apply_feed_writes(vec![published(
                update_with(feeds[0].id, &[("https://a.example/1", WIRE)]),
                at(-3600),
            )])
            .await;
        assert!(results.iter().all(Result::is_ok), "{results:?}");
        store.close().await;

        let store = SqliteStore::open(&path).await.unwrap();
        assert_eq!(count(&store, "story_keys_pending").await, 0, "in the buckets");
        let copy = format!("{WIRE} Subscribe to our newsletter.");
        let results = store
            .apply_feed_writes(vec![published(
                update_with(feeds[1].id, &[("https://b.example/1", &copy)]),
                at(3600),
            )])
            .await;
        assert_eq!(results[0].as_ref().unwrap().joined, 1, "{results:?}");
        assert!(!store.stories.lock().await.loaded(), "through SQL");
        assert_eq!(
            story_of(&store, "https://b.example/1").await,
            story_of(&store, "https://a.example/1").await
        );
    }

    /// Lookups without the copy scan the owed items they read once; items
    /// another connection owes meanwhile are read again before the next
    /// write, so a copy of one still finds its story.
    #[tokio::test]
    async fn owed_items_of_another_connection_are_seen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let a = SqliteStore::open(&path).await.unwrap();
        let feeds = a
            .sync_feeds(&[
                feed("https://a.example/rss"),
                feed("https://b.example/rss"),
                feed("https://c.example/rss"),
            ])
            .await
            .unwrap();
        let other = "Oil exports through the northern pipeline resumed on Friday after a week of \
            talks between the regional government and the federal ministry, officials said, adding \
            that the volumes would rise gradually over the coming month.";
        let results = a
            .apply_feed_writes(vec![update_with(feeds[0].id, &[("https://a.example/1", WIRE)])])
            .await;
        assert!(results.iter().all(Result::is_ok), "{results:?}");
        let b = SqliteStore::open(&path).await.unwrap();
        let results = b
            .apply_feed_writes(vec![update_with(feeds[1].id, &[("https://b.example/1", other)])])
            .await;
        assert!(results.iter().all(Result::is_ok), "{results:?}");
        let results = a
            .apply_feed_writes(vec![update_with(
                feeds[2].id,
                &[("https://c.example/1", &format!("{other} Read more."))],
            )])
            .await;
        assert_eq!(results[0].as_ref().unwrap().joined, 1, "{results:?}");
        assert_eq!(
            story_of(&a, "https://c.example/1").await,
            story_of(&a, "https://b.example/1").await
        );
        assert!(!a.stories.lock().await.loaded(), "through SQL");
    }

    /// A process reads the copy of the story index at its first lookup when
    /// the database holds fewer items than the lookups that would pay for
    /// reading it (a cold cycle), and looks up through SQL otherwise.
    #[tokio::test]
    async fn a_small_database_reads_the_copy_at_the_first_lookup() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let (store, feeds) = wire_from_a(&path, |index| index.load_small = true).await;
        assert!(store.stories.lock().await.loaded(), "an empty database");
        store.close().await;

        // A thousand more items (the count lookups pay for reading the copy).
        let store = SqliteStore::open(&path).await.unwrap();
        sqlx::query(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1000) \
             INSERT INTO items (feed_id, item_key, title, text, sort_at, fetched_at, first_seen_at, content_hash) \
             SELECT 2, 'guid:' || i, 't', 'x', '2017-09-25T00:00:00Z', '2017-09-25T00:00:00Z', \
             '2017-09-25T00:00:00Z', 'h' FROM n",
        )
        .execute(&store.write)
        .await
        .unwrap();
        store.close().await;
        let store = SqliteStore::open(&path).await.unwrap();
        store.stories.lock().await.load_small = true;
        let copy = format!("{WIRE} Subscribe to our newsletter.");
        let results = store
            .apply_feed_writes(vec![update_with(feeds[1].id, &[("https://b.example/1", &copy)])])
            .await;
        assert_eq!(results[0].as_ref().unwrap().joined, 1, "{results:?}");
        assert!(!store.stories.lock().await.loaded(), "1,001 items: through SQL");
    }

    /// With the in-memory copy of the story index loaded, bucket entries
    /// are owed (the items are listed in `story_keys_pending`) and written
    /// on close; they are the entries a later process finds stories by
    /// (through SQL, copy not loaded).
    #[tokio::test]
    async fn deferred_entries_serve_later_lookups() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let store = SqliteStore::open(&path).await.unwrap();
        store.stories.lock().await.load_at_once = true;
        let feeds = store
            .sync_feeds(&[feed("https://a.example/rss"), feed("https://b.example/rss")])
            .await
            .unwrap();
        let footer = format!("{WIRE} Subscribe to our newsletter.");
        let results = store
            .apply_feed_writes(vec![
                update_with(feeds[0].id, &[("https://a.example/1", WIRE)]),
                update_with(feeds[1].id, &[("https://b.example/1", &footer)]),
            ])
            .await;
        assert_eq!(results[1].as_ref().unwrap().joined, 1);
        assert_eq!(count(&store, "story_buckets").await, 0, "entries owed");
        assert_eq!(count(&store, "story_keys_pending").await, 2);
        let story = story_of(&store, "https://a.example/1").await;
        assert_eq!(story_of(&store, "https://b.example/1").await, story);
        store.close().await;
        let store = SqliteStore::open(&path).await.unwrap();
        assert_eq!(count(&store, "story_keys_pending").await, 0, "settled on close");
        let stored = check::stored(&store.read).await;
        assert_eq!(stored.len(), 2 * crate::stories::LOOKUP_BLOCKS as usize);
        assert_eq!(stored, check::expected(&store.read).await);
        store.close().await;

        let store = SqliteStore::open(&path).await.unwrap();
        let again = format!("{WIRE} Read more on our website.");
        let counts = store
            .apply_feed_update(
                match update_with(feeds[1].id, &[("https://b.example/2", &again)]) {
                    FeedWrite::Update(update) => update,
                    _ => unreachable!(),
                },
            )
            .await
            .unwrap();
        assert_eq!(counts.joined, 1);
        assert_eq!(story_of(&store, "https://b.example/2").await, story);
    }

    /// `write` with its items' fingerprints replaced (the texts stay, so
    /// their sketches are equal: only the fingerprints keep them apart).
    fn with_fingerprints(write: FeedWrite, fingerprints: &[u64]) -> FeedWrite {
        let FeedWrite::Update(mut update) = write else {
            unreachable!()
        };
        for (item, &fp) in update.items.iter_mut().zip(fingerprints) {
            item.fingerprint = Some(fp);
        }
        FeedWrite::Update(update)
    }

    /// Copies A and C are too far apart to join each other and start two
    /// stories; copy B, near both, merges them into the older one, which
    /// takes C's items (also one still waiting to be inserted) and counts;
    /// C's id still finds them. With the copy of the index and through SQL.
    #[tokio::test]
    async fn a_copy_near_two_stories_merges_them() {
        use crate::stories;
        for load_at_once in [true, false] {
            let dir = tempfile::tempdir().unwrap();
            let store = SqliteStore::open(&dir.path().join("t.db")).await.unwrap();
            store.stories.lock().await.load_at_once = load_at_once;
            let urls = [
                "https://a.example/1",
                "https://b.example/1",
                "https://c.example/1",
                "https://d.example/1",
            ];
            let feeds = store
                .sync_feeds(&urls.map(|u| feed(&u.replace("/1", "/rss"))))
                .await
                .unwrap();
            let (a, b, c) = (
                0x0123_4567_89ab_cdef_u64,
                0x0123_4567_89ab_cd10,
                0x0123_4567_89ab_3210,
            );
            let d = c ^ 1 << 40; // 1 bit from C, 9 from B, 17 from A
            assert_eq!((stories::hamming(a, b), stories::hamming(b, c)), (8, 8));
            assert!(stories::hamming(a, c) > stories::NEAR_DUPLICATE_DISTANCE);
            let results = store
                .apply_feed_writes(vec![
                    with_fingerprints(update_with(feeds[0].id, &[(urls[0], WIRE)]), &[a]),
                    with_fingerprints(update_with(feeds[2].id, &[(urls[2], WIRE)]), &[c]),
                ])
                .await;
            assert!(results.iter().all(|r| r.as_ref().unwrap().joined == 0));
            let (story_a, story_c) = (story_of(&store, urls[0]).await, story_of(&store, urls[2]).await);
            assert!(story_a < story_c);
            // D joins C's story and waits to be inserted while B merges C
            // into A.
            let results = store
                .apply_feed_writes(vec![
                    with_fingerprints(update_with(feeds[3].id, &[(urls[3], WIRE)]), &[d]),
                    with_fingerprints(update_with(feeds[1].id, &[(urls[1], WIRE)]), &[b]),
                ])
                .await;
            assert!(
                results.iter().all(|r| r.as_ref().unwrap().joined == 1),
                "{load_at_once}"
            );
            for url in urls {
                assert_eq!(story_of(&store, url).await, story_a, "{url}, {load_at_once}");
            }
            let stories: Vec<(i64, i64)> = sqlx::query_as("SELECT id, item_count FROM stories")
                .fetch_all(&store.read)
                .await
                .unwrap();
            assert_eq!(stories, [(story_a, 4)]);
            let merges: Vec<(i64, i64)> = sqlx::query_as("SELECT story_id, merged_into FROM story_merges")
                .fetch_all(&store.read)
                .await
                .unwrap();
            assert_eq!(merges, [(story_c, story_a)]);
            let found = store
                .search(&crate::store::SearchFilter {
                    story: Some(story_c),
                    limit: 10,
                    ..Default::default()
                })
                .await
                .unwrap();
            assert_eq!(found.len(), 4);
            // A later copy near C alone joins the kept story.
            let e = c ^ 1 << 50;
            let results = store
                .apply_feed_writes(vec![with_fingerprints(
                    update_with(feeds[2].id, &[("https://c.example/2", WIRE)]),
                    &[e],
                )])
                .await;
            assert_eq!(results[0].as_ref().unwrap().joined, 1);
            assert_eq!(story_of(&store, "https://c.example/2").await, story_a);
            store.close().await;
        }
    }

    async fn count(store: &SqliteStore, table: &str) -> i64 {
        sqlx::query_scalar(&format!("SELECT count(*) FROM {table}"))
            .fetch_one(&store.read)
            .await
            .unwrap()
    }

    /// Entries owed by a process that stopped without closing (killed) are
    /// found by the next one's lookups (they scan the owed items), so its
    /// copies still find their story; that process settles them on close.
    #[tokio::test]
    async fn owed_entries_of_a_killed_process_serve_the_next_ones_lookups() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let (store, feeds) = wire_from_a(&path, |index| index.load_at_once = true).await;
        assert_eq!(count(&store, "story_keys_pending").await, 1);
        let story = story_of(&store, "https://a.example/1").await;
        // No close: the debt stays in the database.
        drop(store);

        let store = SqliteStore::open(&path).await.unwrap();
        assert_eq!(count(&store, "story_buckets").await, 0);
        let copy = format!("{WIRE} Subscribe to our newsletter.");
        let results = store
            .apply_feed_writes(vec![update_with(feeds[1].id, &[("https://b.example/1", &copy)])])
            .await;
        assert_eq!(results[0].as_ref().unwrap().joined, 1, "{results:?}");
        assert_eq!(story_of(&store, "https://b.example/1").await, story);
        assert!(!store.stories.lock().await.loaded(), "the lookup went to SQL");
        assert_eq!(count(&store, "story_keys_pending").await, 2);
        store.close().await;

        let store = SqliteStore::open(&path).await.unwrap();
        assert_eq!(count(&store, "story_keys_pending").await, 0);
        assert_eq!(
            check::stored(&store.read).await,
            check::expected(&store.read).await
        );
    }

    /// `write` with its items tagged `lang`.
    fn in_language(mut write: FeedWrite, lang: &str) -> FeedWrite {
        if let FeedWrite::Update(update) = &mut write {
            for w in &mut update.items {
                w.item.language = Some(lang.to_string());
            }
        }
        write
    }

    /// Copies tagged with regional variants of the original's language
    /// (`en-US` stored, then `EN` and `en_gb` copies in one transaction,
    /// the second waiting for the first) join its story, and a copy in
    /// another language does not: through the copy of the index, through
    /// the buckets (written with full tags, as every earlier version wrote
    /// them: an old database needs no migration) and through the owed
    /// items of a process that was killed.
    #[tokio::test]
    async fn regional_variants_of_a_language_join_one_story() {
        for path_taken in ["copy", "buckets", "owed"] {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("t.db");
            let (store, feeds) = {
                let store = SqliteStore::open(&path).await.unwrap();
                store.stories.lock().await.load_at_once = path_taken == "copy";
                let feeds = store
                    .sync_feeds(&["a", "b", "c", "d"].map(|f| feed(&format!("https://{f}.example/rss"))))
                    .await
                    .unwrap();
                let results = store
                    .apply_feed_writes(vec![in_language(
                        update_with(feeds[0].id, &[("https://a.example/1", WIRE)]),
                        "en-US",
                    )])
                    .await;
                assert!(results.iter().all(Result::is_ok), "{results:?}");
                match path_taken {
                    "copy" => (store, feeds),
                    "buckets" => {
                        store.close().await;
                        (SqliteStore::open(&path).await.unwrap(), feeds)
                    }
                    _ => {
                        drop(store);
                        (SqliteStore::open(&path).await.unwrap(), feeds)
                    }
                }
            };
            if path_taken == "buckets" {
                assert_eq!(count(&store, "story_keys_pending").await, 0);
                let stored = check::stored(&store.read).await;
                assert!(stored.iter().all(|row| row.4 == "en-US"), "{stored:?}");
            }
            let results = store
                .apply_feed_writes(vec![
                    in_language(
                        update_with(
                            feeds[1].id,
                            &[("https://b.example/1", &format!("{WIRE} Subscribe now."))],
                        ),
                        "EN",
                    ),
                    in_language(
                        update_with(
                            feeds[2].id,
                            &[("https://c.example/1", &format!("{WIRE} Read more."))],
                        ),
                        "en_gb",
                    ),
                    in_language(update_with(feeds[3].id, &[("https://d.example/1", WIRE)]), "tr"),
                ])
                .await;
            let joined: Vec<u64> = results.iter().map(|r| r.as_ref().unwrap().joined).collect();
            assert_eq!(joined, [1, 1, 0], "{path_taken}");
            let story = story_of(&store, "https://a.example/1").await;
            assert_eq!(
                story_of(&store, "https://b.example/1").await,
                story,
                "{path_taken}"
            );
            assert_eq!(
                story_of(&store, "https://c.example/1").await,
                story,
                "{path_taken}"
            );
            assert_ne!(
                story_of(&store, "https://d.example/1").await,
                story,
                "{path_taken}"
            );
            assert_eq!(
                store.stories.lock().await.loaded(),
                path_taken == "copy",
                "{path_taken}"
            );
            let langs: Vec<String> = sqlx::query_scalar("SELECT lang FROM items ORDER BY id")
                .fetch_all(&store.read)
                .await
                .unwrap();
            assert_eq!(langs, ["en-US", "EN", "en_gb", "tr"], "full tags kept");
            store.close().await;
        }
    }

    fn published(mut write: FeedWrite, at: DateTime<Utc>) -> FeedWrite {
        if let FeedWrite::Update(update) = &mut write {
            for w in &mut update.items {
                w.item.published = Some(at);
            }
        }
        write
    }

    /// The copy holds items from two story windows before the newest one
    /// on. Copies of an old article arriving late still join its story: the
    /// first finds it in the buckets (older than the copy), the second,
    /// in the same transaction, finds the first in the copy (its entries
    /// are not written yet) and the original in the buckets.
    #[tokio::test]
    async fn late_copies_of_an_old_article_find_its_story_past_the_horizon() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let store = SqliteStore::open(&path).await.unwrap();
        let feeds = store
            .sync_feeds(&[
                feed("https://a.example/rss"),
                feed("https://b.example/rss"),
                feed("https://c.example/rss"),
            ])
            .await
            .unwrap();
        let old = Utc::now() - chrono::Duration::days(60);
        let results = store
            .apply_feed_writes(vec![
                published(update_with(feeds[0].id, &[("https://a.example/old", WIRE)]), old),
                update_with(
                    feeds[0].id,
                    &[("https://a.example/new", "Today's weather is fine.")],
                ),
            ])
            .await;
        assert!(results.iter().all(Result::is_ok), "{results:?}");
        let story = story_of(&store, "https://a.example/old").await;
        store.close().await;

        let store = SqliteStore::open(&path).await.unwrap();
        store.stories.lock().await.load_at_once = true;
        let hour = chrono::Duration::hours(1);
        let results = store
            .apply_feed_writes(vec![
                published(
                    update_with(
                        feeds[1].id,
                        &[("https://b.example/old", &format!("{WIRE} Subscribe now."))],
                    ),
                    old + hour,
                ),
                published(
                    update_with(
                        feeds[2].id,
                        &[("https://c.example/old", &format!("{WIRE} Read more."))],
                    ),
                    old + hour * 2,
                ),
            ])
            .await;
        assert!(results.iter().all(Result::is_ok), "{results:?}");
        assert_eq!(story_of(&store, "https://b.example/old").await, story);
        assert_eq!(story_of(&store, "https://c.example/old").await, story);
        let index = store.stories.lock().await;
        assert!(index.loaded(), "the lookups used the copy");
        let original: i64 = sqlx::query_scalar("SELECT id FROM items WHERE url = 'https://a.example/old'")
            .fetch_one(&store.read)
            .await
            .unwrap();
        assert!(!index.holds(original), "the copy read the old item");
    }
}

#[cfg(test)]
mod within_one_update {
    use super::tests_support::*;
    use super::*;

    const WIRE: &str = "Turkish and Iranian army chiefs met in Ankara on Tuesday and warned that the \
        vote on independence would destabilise the region, according to a joint statement issued \
        after a day of talks on border security and trade.";

    /// Items of one feed document that depend on each other — a wire copy
    /// and its variant, or one article under two tracking URLs — come out
    /// as one story and one item, though the document is inserted by one
    /// statement.
    #[tokio::test]
    async fn near_duplicates_and_url_variants_in_one_document() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("t.db")).await.unwrap();
        let feeds = store.sync_feeds(&[feed("https://a.example/rss")]).await.unwrap();
        let variant = format!("{WIRE} Follow us for more.");
        let counts = store
            .apply_feed_update(
                match update_with(
                    feeds[0].id,
                    &[
                        ("https://a.example/1", WIRE),
                        ("https://a.example/2", &variant),
                        ("https://a.example/3?utm_source=rss", "Other news entirely."),
                        ("https://a.example/3", "Other news entirely."),
                    ],
                ) {
                    FeedWrite::Update(update) => update,
                    _ => unreachable!(),
                },
            )
            .await
            .unwrap();
        assert_eq!((counts.new, counts.joined, counts.duplicates), (3, 1, 1));
        let stories: Vec<i64> = sqlx::query_scalar(
            "SELECT story_id FROM items WHERE url IN ('https://a.example/1', 'https://a.example/2')",
        )
        .fetch_all(&store.read)
        .await
        .unwrap();
        assert_eq!(stories.len(), 2);
        assert_eq!(stories[0], stories[1]);
    }
}

#[cfg(test)]
mod backfill_beside_ingest {
    use super::tests_support::*;
    use super::*;
    use crate::topics::{TermSets, TopicSet};

    /// A backfill's scan began at `since` and read the items up to `upto`:
    /// it removes the matches it did not confirm among those, and keeps the
    /// ones ingest recorded after it began or for items it never reached.
    #[tokio::test]
    async fn replacing_matches_keeps_what_ingest_recorded_beside_the_scan() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path().join("t.db")).await.unwrap();
        let feeds = store.sync_feeds(&[feed("https://a.example/rss")]).await.unwrap();
        let topics = TopicSet::compile([("t", "akar")], &TermSets::new()).unwrap();
        let topic = store.sync_topics(&topics, Utc::now()).await.unwrap()[0].id;
        let mut write = update(
            feeds[0].id,
            &[
                "https://a.example/1",
                "https://a.example/2",
                "https://a.example/3",
            ],
        );
        if let FeedWrite::Update(update) = &mut write {
            for item in &mut update.items {
                item.topic_ids = vec![topic];
            }
        }
        for result in store.apply_feed_writes(vec![write]).await {
            result.unwrap();
        }
        let ids: Vec<i64> = sqlx::query_scalar("SELECT id FROM items ORDER BY id")
            .fetch_all(&store.read)
            .await
            .unwrap();
        let [_, b, c] = ids[..] else { panic!("{ids:?}") };
        // Item b's match was recorded after the scan began; c is past it.
        let later = Utc::now() + chrono::Duration::hours(1);
        sqlx::query("UPDATE item_topics SET matched_at = ? WHERE item_id = ?")
            .bind(crate::store::sqlite::ts(later + chrono::Duration::minutes(1)))
            .bind(b)
            .execute(&store.write)
            .await
            .unwrap();
        // The scan confirmed none of them.
        let counts = store
            .replace_topic_matches(
                &[crate::store::TopicMatches {
                    topic_id: topic,
                    compiled: "akar",
                    matched: &[],
                }],
                (later, b),
                later,
            )
            .await
            .unwrap();
        assert_eq!(counts, [(0, 1)]);
        let left: Vec<i64> = sqlx::query_scalar("SELECT item_id FROM item_topics ORDER BY item_id")
            .fetch_all(&store.read)
            .await
            .unwrap();
        assert_eq!(
            left,
            [b, c],
            "a removed; b (recorded later) and c (not scanned) kept"
        );
    }
}

#[cfg(test)]
mod closing {
    use super::tests_support::*;
    use super::*;

    /// `close` returns once the writer has committed what was queued and
    /// ended; a write after it fails instead of waiting forever.
    #[tokio::test]
    async fn close_writes_what_was_queued_then_refuses() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path().join("t.db")).await.unwrap();
        let feeds = store.sync_feeds(&[feed("https://a.example/rss")]).await.unwrap();
        let queue = WriteQueue::start(store.clone());
        let writes: Vec<_> = (0..5)
            .map(|i| {
                let queue = queue.clone();
                let write = update(feeds[0].id, &[&format!("https://a.example/{i}")]);
                tokio::spawn(async move { queue.write(write).await })
            })
            .collect();
        for write in writes {
            write.await.unwrap().unwrap();
        }
        queue.close().await;
        let items: i64 = sqlx::query_scalar("SELECT count(*) FROM items")
            .fetch_one(&store.read)
            .await
            .unwrap();
        assert_eq!(items, 5);
        let late = queue
            .write(update(feeds[0].id, &["https://a.example/late"]))
            .await;
        assert!(matches!(late, Err(StoreError::WriterStopped)), "{late:?}");
        assert!(queue.tasks.lock().unwrap().is_empty(), "the tasks were awaited");
    }
}
