//! The writer of feed results on PostgreSQL: group commit, as on SQLite,
//! without a checkpointer.

use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use super::{FeedWrite, IngestCounts, PgStore, Result, StoreError};

/// Results queued before the writer stops taking more into a transaction.
const MAX_WRITES: usize = 256;
/// Results that may wait for the writer before senders wait too.
const QUEUE: usize = 1024;

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

async fn write_loop(store: PgStore, mut receiver: mpsc::Receiver<Job>, closing: CancellationToken) {
    let mut closed = false;
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
        let mut jobs = vec![first];
        while jobs.len() < MAX_WRITES {
            let Ok(job) = receiver.try_recv() else { break };
            jobs.push(job);
        }
        let (writes, replies): (Vec<_>, Vec<_>) = jobs.into_iter().map(|j| (j.write, j.reply)).unzip();
        let results = store.apply_feed_writes(writes).await;
        for (reply, result) in replies.into_iter().zip(results) {
            let _ = reply.send(result);
        }
    }
}
