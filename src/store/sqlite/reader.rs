//! Reads with a time budget: the SQL of a user's search (API or CLI) stops
//! when its budget is spent or its client has gone, instead of holding a
//! connection and a core for minutes.
//!
//! A budgeted [`SqliteStore`] handle ([`SqliteStore::bounded`]) installs a SQLite
//! progress handler on every connection it reads with ([`SqliteStore::reader`]):
//! every [`CHECK_EVERY`] virtual-machine steps it checks the deadline and
//! whether the handle was dropped (the request future cancelled), and
//! interrupts the statement (`SQLITE_INTERRUPT`) if so. An unbudgeted read
//! removes any handler a previous budgeted read left on its connection.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use sqlx::pool::PoolConnection;
use sqlx::sqlite::SqlitePoolOptions;
use sqlx::Sqlite;

use super::{Result, SqliteStore, StoreError};

/// Virtual-machine steps between two looks at the clock (about a
/// millisecond of SQLite's work).
const CHECK_EVERY: i32 = 10_000;

/// The time budget of one search, shared by the clones of its handle.
#[derive(Debug)]
pub(super) struct Budget {
    pub(super) limit: Duration,
    deadline: Instant,
    /// Set when the last handle is dropped: a statement still running for
    /// it is interrupted.
    abandoned: Arc<AtomicBool>,
}

impl Drop for Budget {
    fn drop(&mut self) {
        self.abandoned.store(true, Ordering::Relaxed);
    }
}

impl SqliteStore {
    /// A handle whose search reads (`search_page`, `cursor_of`,
    /// `attach_topics`) stop with [`StoreError::OverBudget`] once `limit`
    /// has passed, or as soon as every clone of the handle is dropped.
    pub fn bounded(&self, limit: Duration) -> SqliteStore {
        let mut store = self.clone();
        store.budget = Some(Arc::new(Budget {
            limit,
            deadline: Instant::now() + limit,
            abandoned: Arc::new(AtomicBool::new(false)),
        }));
        store
    }

    /// A handle whose search reads use a pool of their own, of
    /// `connections` read-only connections: searches served to others (the
    /// API) can never take the connections the daemon's work needs.
    pub fn with_search_pool(&self, connections: u32) -> SqliteStore {
        let options = (*self.read.connect_options()).clone();
        let pool = SqlitePoolOptions::new()
            .max_connections(connections.max(1))
            .connect_lazy_with(options.read_only(true));
        let mut store = self.clone();
        store.search = Some(pool);
        store
    }

    /// Whether this handle's budget is spent.
    pub fn over_budget(&self) -> Option<Duration> {
        self.budget
            .as_ref()
            .filter(|b| Instant::now() >= b.deadline)
            .map(|b| b.limit)
    }

    /// A read connection for a search, with this handle's budget (or none)
    /// installed.
    pub(super) async fn reader(&self) -> Result<PoolConnection<Sqlite>> {
        if let Some(limit) = self.over_budget() {
            return Err(StoreError::OverBudget(limit));
        }
        let mut conn = self.search.as_ref().unwrap_or(&self.read).acquire().await?;
        let mut handle = conn.lock_handle().await?;
        match &self.budget {
            Some(budget) => {
                let deadline = budget.deadline;
                let abandoned = Arc::clone(&budget.abandoned);
                handle.set_progress_handler(CHECK_EVERY, move || {
                    !abandoned.load(Ordering::Relaxed) && Instant::now() < deadline
                });
            }
            None => handle.remove_progress_handler(),
        }
        drop(handle);
        Ok(conn)
    }

    /// `error` as the budget's end when the progress handler interrupted
    /// the statement.
    pub(super) fn budgeted(&self, error: sqlx::Error) -> StoreError {
        let interrupted = matches!(&error, sqlx::Error::Database(e) if e.code().as_deref() == Some("9"));
        match (&self.budget, interrupted) {
            (Some(budget), true) => StoreError::OverBudget(budget.limit),
            _ => StoreError::Sql(error),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A statement that runs for minutes: counting to ten billion.
    const ENDLESS: &str =
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 10000000000) SELECT count(*) FROM n";

    async fn store() -> (tempfile::TempDir, SqliteStore) {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("t.db")).await.unwrap();
        (dir, store)
    }

    #[tokio::test]
    async fn a_budgeted_read_is_interrupted_at_its_deadline() {
        let (_dir, store) = store().await;
        let bounded = store.with_search_pool(1).bounded(Duration::from_millis(300));
        let started = Instant::now();
        let mut conn = bounded.reader().await.unwrap();
        let result: std::result::Result<i64, _> = sqlx::query_scalar(ENDLESS).fetch_one(&mut *conn).await;
        let error = bounded.budgeted(result.unwrap_err());
        assert!(
            matches!(error, StoreError::OverBudget(d) if d == Duration::from_millis(300)),
            "{error:?}"
        );
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );
        drop(conn);
        // The connection serves the next (unbudgeted) read normally.
        let plain = SqliteStore {
            budget: None,
            ..bounded.clone()
        };
        let mut conn = plain.reader().await.unwrap();
        let one: i64 = sqlx::query_scalar("SELECT 1")
            .fetch_one(&mut *conn)
            .await
            .unwrap();
        assert_eq!(one, 1);
        assert!(matches!(bounded.reader().await, Err(StoreError::OverBudget(_))));
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn searches_never_take_the_daemons_connections() {
        let (_dir, store) = store().await;
        let searches = store.with_search_pool(2);
        // Five slow searches at once (the audit's probe took every read
        // connection for ~160 s and the poller's read timed out).
        let mut slow = tokio::task::JoinSet::new();
        for _ in 0..5 {
            let bounded = searches.bounded(Duration::from_secs(3));
            slow.spawn(async move {
                let mut conn = bounded.reader().await?;
                let result: std::result::Result<i64, _> =
                    sqlx::query_scalar(ENDLESS).fetch_one(&mut *conn).await;
                result.map_err(|e| bounded.budgeted(e))
            });
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        // The daemon's reads go through at once meanwhile.
        for _ in 0..10 {
            let started = Instant::now();
            store.queue().await.unwrap();
            store.item_count().await.unwrap();
            assert!(
                started.elapsed() < Duration::from_secs(1),
                "{:?}",
                started.elapsed()
            );
        }
        // Every slow search ended by its budget, queued ones included.
        while let Some(result) = slow.join_next().await {
            assert!(matches!(result.unwrap(), Err(StoreError::OverBudget(_))));
        }
    }

    #[tokio::test]
    async fn a_dropped_search_stops_its_sql() {
        let (_dir, store) = store().await;
        let searches = store.with_search_pool(1);
        let bounded = searches.bounded(Duration::from_secs(3600));
        let task = tokio::spawn(async move {
            let mut conn = bounded.reader().await.unwrap();
            let _: std::result::Result<i64, _> = sqlx::query_scalar(ENDLESS).fetch_one(&mut *conn).await;
        });
        tokio::time::sleep(Duration::from_millis(200)).await;
        // The client leaves: the request future (and its handle) is dropped.
        task.abort();
        let _ = task.await;
        // The pool's only connection is free again within moments, not
        // after the statement's minutes.
        let started = Instant::now();
        let mut conn = tokio::time::timeout(Duration::from_secs(5), searches.reader())
            .await
            .expect("the abandoned statement was interrupted")
            .unwrap();
        let one: i64 = sqlx::query_scalar("SELECT 1")
            .fetch_one(&mut *conn)
            .await
            .unwrap();
        assert_eq!(one, 1);
        assert!(started.elapsed() < Duration::from_secs(5));
    }
}
