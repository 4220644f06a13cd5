//! The writer of feed results on PostgreSQL: group commit, as on SQLite,
//! without a checkpointer. Each instance runs its own; PostgreSQL's locks
//! (see `items.rs`) keep their transactions from storing an item twice or
//! splitting a story, and a transaction PostgreSQL aborts for a deadlock or
//! a serialization failure is run again ([`RETRIES`]) rather than lost.

use std::slice;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use super::{feed_state, items, FeedUpdate, FeedWrite, IngestCounts, PgStore, Result, StoreError};

/// Results queued before the writer stops taking more into a transaction.
const MAX_WRITES: usize = 256;
/// Items queued before the writer stops taking more into a transaction
/// (its locks are held until it commits).
const MAX_ITEMS: usize = 5_000;
/// Times a transaction aborted by a deadlock or a serialization failure
/// is run again before its error is returned.
const RETRIES: u32 = 5;
/// Results that may wait for the writer before senders wait too.
const QUEUE: usize = 1024;
/// New items this writer stores before it has PostgreSQL's statistics of
/// the tables it writes brought up to date, at the least; after that, as
/// many as the items table held at the last update ([`Statistics`]).
const ANALYZE_AFTER: u64 = 1_000;

struct Job {
    write: FeedWrite,
    reply: oneshot::Sender<Result<IngestCounts>>,
}

/// The writer of this instance's feed results. Cheap to clone.
#[derive(Debug, Clone)]
pub struct WriteQueue {
    sender: mpsc::Sender<Job>,
    closing: CancellationToken,
    task: std::sync::Arc<std::sync::Mutex<Option<tokio::task::JoinHandle<()>>>>,
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Job").field("write", &self.write).finish()
    }
}

impl WriteQueue {
    /// Starts the writer task (on the current tokio runtime).
    pub fn start(store: PgStore) -> WriteQueue {
        let (sender, receiver) = mpsc::channel(QUEUE);
        let closing = CancellationToken::new();
        let task = tokio::spawn(write_loop(store, receiver, closing.clone()));
        WriteQueue {
            sender,
            closing,
            task: std::sync::Arc::new(std::sync::Mutex::new(Some(task))),
        }
    }

    /// Stops the writer: what is queued is written, later writes fail with
    /// [`StoreError::WriterStopped`]; returns once the writer has ended.
    pub async fn close(&self) {
        self.closing.cancel();
        let task = self.task.lock().expect("never poisoned").take();
        if let Some(task) = task {
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

/// When the writer has the planner's statistics of its tables refreshed.
///
/// The writer's statements are planned for every execution from these
/// statistics. While a new database fills (a first cold cycle, a
/// `migrate-to`), they describe far smaller tables than there are:
/// autovacuum analyzes a table once a minute at most, and only after 10 %
/// of it changed. Then the planner scans `story_keys` and the items of a
/// story lookup's window whole, for every new item (the cold cycle of 300
/// feeds: 4 ms per lookup instead of 0.5). So the writer runs `ANALYZE`
/// itself each time it has stored as many items as the table held at the
/// last run (at least [`ANALYZE_AFTER`]): a handful of times while a table
/// grows from nothing, never once it is large (autovacuum's job then).
#[derive(Debug, Default)]
struct Statistics {
    /// Items stored since the last `ANALYZE`.
    stored: u64,
    /// Rows in `items` at the last `ANALYZE` (its estimate).
    rows: u64,
}

impl Statistics {
    /// Counts `new` stored items; refreshes the statistics when due. A
    /// failure is logged: plans get slower, nothing is lost.
    async fn stored(&mut self, store: &PgStore, new: u64) {
        self.stored += new;
        if self.stored < self.rows.max(ANALYZE_AFTER) {
            return;
        }
        self.stored = 0;
        match store.analyze_written_tables().await {
            Ok(rows) => self.rows = rows,
            Err(error) => {
                tracing::warn!(error = %crate::error_chain(&error), "cannot update table statistics")
            }
        }
    }
}

async fn write_loop(store: PgStore, mut receiver: mpsc::Receiver<Job>, closing: CancellationToken) {
    let mut closed = false;
    let mut statistics = Statistics::default();
    loop {
        let first = tokio::select! {
            biased;
            _ = closing.cancelled(), if !closed => {
                receiver.close();
                closed = true;
                continue;
            }
            job = receiver.recv() => job,
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
        let results = store.apply_feed_writes(writes).await;
        let new: u64 = results.iter().flatten().map(|counts| counts.new).sum();
        for (reply, result) in replies.into_iter().zip(results) {
            // The poller may have gone (shutdown); the write stands.
            let _ = reply.send(result);
        }
        statistics.stored(&store, new).await;
    }
}

impl PgStore {
    /// Applies `writes` in one transaction; if that fails, applies each in
    /// its own, so that a write that cannot be applied fails alone. One
    /// result per write, in order (all-zero counts for writes other than
    /// updates).
    pub async fn apply_feed_writes(&self, writes: Vec<FeedWrite>) -> Vec<Result<IngestCounts>> {
        if writes.len() > 1 {
            match self.transaction(&writes).await {
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
            let result = self.transaction(slice::from_ref(write)).await;
            results.push(result.map(|counts| counts[0]));
        }
        results
    }

    /// Brings the planner's statistics of the tables the writer fills up to
    /// date ([`Statistics`]); the estimated rows of `items` after.
    async fn analyze_written_tables(&self) -> Result<u64> {
        sqlx::query("ANALYZE items, story_keys, item_sources, stories, item_topics")
            .execute(&self.pool)
            .await?;
        let rows: f32 = sqlx::query_scalar("SELECT reltuples FROM pg_class WHERE oid = 'items'::regclass")
            .fetch_one(&self.pool)
            .await?;
        Ok(rows.max(0.0) as u64)
    }

    /// [`PgStore::try_transaction`], run again when PostgreSQL aborted it
    /// for a deadlock or a serialization failure (another instance's
    /// transaction won), at most [`RETRIES`] times.
    async fn transaction(&self, writes: &[FeedWrite]) -> Result<Vec<IngestCounts>> {
        let mut retries = 0;
        loop {
            match self.try_transaction(writes).await {
                Err(error) if retries < RETRIES && retryable(&error) => {
                    retries += 1;
                    tracing::debug!(retries, error = %crate::error_chain(&error), "writing feed results again");
                    let jitter = fastrand::u64(0..20);
                    tokio::time::sleep(Duration::from_millis(10 * u64::from(retries) + jitter)).await;
                }
                result => return result,
            }
        }
    }

    /// Writes the results in one transaction: the locks their items need
    /// first, then failures and disabled feeds, 304s, and the updates with
    /// their feed rows last (the order of SQLite's writer, which decides a
    /// feed's row when a batch holds two of its results).
    async fn try_transaction(&self, writes: &[FeedWrite]) -> Result<Vec<IngestCounts>> {
        let mut tx = self.pool.begin().await?;
        let mut counts = vec![IngestCounts::default(); writes.len()];
        let mut updates: Vec<(usize, &FeedUpdate)> = Vec::new();
        let mut not_modified = Vec::new();
        for (i, write) in writes.iter().enumerate() {
            match write {
                FeedWrite::Update(update) => updates.push((i, update)),
                FeedWrite::NotModified { feed_id, at, next } => not_modified.push((*feed_id, *at, next)),
                FeedWrite::Failure(_) | FeedWrite::Disable { .. } => {}
            }
        }
        let (positions, updates): (Vec<usize>, Vec<&FeedUpdate>) = updates.into_iter().unzip();
        items::lock_for(&mut tx, &updates).await?;
        for write in writes {
            match write {
                FeedWrite::Failure(failure) => feed_state::record_failure(&mut tx, failure).await?,
                FeedWrite::Disable {
                    feed_id,
                    status,
                    reason,
                    at,
                } => feed_state::disable_feed(&mut tx, *feed_id, *status, reason, *at).await?,
                FeedWrite::Update(_) | FeedWrite::NotModified { .. } => {}
            }
        }
        feed_state::record_not_modified(&mut tx, &not_modified).await?;
        let applied = items::apply_updates(&mut tx, self.clock, &updates).await?;
        for (i, applied) in positions.into_iter().zip(applied) {
            counts[i] = applied;
        }
        tx.commit().await?;
        Ok(counts)
    }
}

/// Whether PostgreSQL aborted the transaction for a deadlock (40P01) or a
/// serialization failure (40001): running it again may succeed.
fn retryable(error: &StoreError) -> bool {
    match error {
        StoreError::Sql(sqlx::Error::Database(db)) => {
            matches!(db.code().as_deref(), Some("40001" | "40P01"))
        }
        _ => false,
    }
}
