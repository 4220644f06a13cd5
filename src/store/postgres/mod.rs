//! The PostgreSQL backend: several feedwatch instances on one database.
//!
//! Its schema is in `migrations/postgres/` (applied by writers, under the
//! advisory lock sqlx's migrator takes, so instances starting together take
//! turns). PostgreSQL's own locks are the coordination between instances:
//! feeds are leased with `FOR UPDATE SKIP LOCKED` (`feeds.rs`), stories are
//! joined under a transaction-scoped advisory lock per lookup key
//! (`items.rs`), digests are claimed before delivery (`digests.rs`).

mod archive;
mod batch;
mod digests;
mod feed_state;
mod feeds;
mod hosts;
mod import;
mod items;
mod locks;
mod maintenance;
mod pages;
mod reports;
mod stories;
mod triggers;
mod tsquery;

use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::ConnectOptions;

use super::{
    AlertState, BuildDigest, CheckReport, Compacted, Cursor, DigestBatch, DigestRecord, FeedChangeError,
    FeedHealthRow, FeedRow, FeedUpdate, FeedWrite, IngestCounts, ItemRow, Known, Location, PendingMatch,
    PgTarget, QueueEntry, ReportItem, ReportStory, Result, RetiredTopic, SearchFilter, StoreError,
    StoryFilter, StoryRow, TopicRow, TopicStats, VolumeQuery, VolumeRow,
};
use crate::clock::Clock;
use crate::model::{FeedConfig, FullText};
use crate::topics::{Expr, TopicSet};

pub use batch::WriteQueue;
pub use hosts::HostSlot as PgHostSlot;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// Connections of an instance's pool: the writer, the poller's claims,
/// alert delivery and a few reads at once.
const CONNECTIONS: u32 = 8;

/// Stores this process has opened: the last part of an instance's name.
static OPENED: AtomicU64 = AtomicU64::new(0);

/// Handle to a PostgreSQL store. Cheap to clone.
#[derive(Debug, Clone)]
pub struct PgStore {
    pool: PgPool,
    /// The pool of search reads, when they have their own
    /// ([`PgStore::with_search_pool`]); else `pool`.
    search: Option<PgPool>,
    /// The time budget of this handle's search reads ([`PgStore::bounded`]).
    budget: Option<Arc<Budget>>,
    /// Where the store is (for messages).
    target: Arc<PgTarget>,
    /// This instance's name in leases and claims: host name, process id
    /// and which of the process's opened stores it is (two stores opened by
    /// one process are two instances).
    instance: Arc<str>,
    /// Where "now" comes from (see [`PgStore::with_clock`]).
    clock: Clock,
    /// The connection holding this instance's host slots.
    host_slots: hosts::HostSlots,
}

/// Makes ring rustls's process-wide crypto provider, unless one is set.
/// sqlx's TLS (`sslmode=verify-ca`/`verify-full`) asks rustls for that
/// provider, and rustls cannot choose one by itself when both of its
/// providers are compiled in (a dependency's default features: the test
/// SMTP server's pull in aws-lc-rs): it panicked. ring is what the HTTP and
/// SMTP clients use already.
fn install_crypto_provider() {
    // Err: one is set already (by this function or by anyone else).
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// The time budget of one search, shared by the clones of its handle.
#[derive(Debug)]
struct Budget {
    limit: Duration,
    deadline: Instant,
    abandoned: Arc<AtomicBool>,
}

impl Drop for Budget {
    fn drop(&mut self) {
        self.abandoned.store(true, Ordering::Relaxed);
    }
}

impl PgStore {
    /// Connects and applies pending migrations (the daemon, `run --once`):
    /// the database must exist (created by its administrator, as for any
    /// PostgreSQL application); its tables are created here.
    pub async fn open(target: &PgTarget) -> Result<PgStore> {
        let store = Self::connect(target, CONNECTIONS).await?;
        MIGRATOR
            .run(&store.pool)
            .await
            .map_err(|source| StoreError::Migrate {
                store: Location::Postgres(target.clone()),
                source,
            })?;
        Ok(store)
    }

    /// As [`PgStore::open`]: a PostgreSQL database always exists before
    /// feedwatch connects.
    pub async fn open_existing(target: &PgTarget) -> Result<PgStore> {
        Self::open(target).await
    }

    /// Connects without migrating; a database without feedwatch's tables,
    /// or migrated by an older or newer feedwatch, is an error that says
    /// which. Read-only commands never write, so their connections are
    /// read-only transactions by default.
    pub async fn open_read_only(target: &PgTarget) -> Result<PgStore> {
        let store = Self::connect_with(target, 4, true).await?;
        check_schema(&store.pool, target).await?;
        Ok(store)
    }

    async fn connect(target: &PgTarget, connections: u32) -> Result<PgStore> {
        Self::connect_with(target, connections, false).await
    }

    async fn connect_with(target: &PgTarget, connections: u32, read_only: bool) -> Result<PgStore> {
        install_crypto_provider();
        let location = || Location::Postgres(target.clone());
        let options = target
            .connect_options()
            .map_err(|message| StoreError::Open {
                store: location(),
                source: sqlx::Error::Configuration(message.into()),
            })?
            .log_slow_statements(log::LevelFilter::Debug, Duration::from_secs(1));
        // Custom plans for every statement: the tables of a new database
        // grow from empty inside the writer's first transactions, and a
        // generic plan made while they looked empty (a sequential scan per
        // story lookup) stays in the statement cache long after they are
        // not (a cold cycle's story lookups took seconds each).
        let options = options.options([("plan_cache_mode", "force_custom_plan")]);
        let options = if read_only {
            options.options([("default_transaction_read_only", "on")])
        } else {
            options
        };
        let pool = PgPoolOptions::new()
            .max_connections(connections)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(options)
            .await
            .map_err(|source| StoreError::Open {
                store: location(),
                source,
            })?;
        let host = crate::host_name();
        Ok(PgStore {
            pool,
            search: None,
            budget: None,
            target: Arc::new(target.clone()),
            instance: format!(
                "{host}:{}:{}",
                std::process::id(),
                OPENED.fetch_add(1, Ordering::Relaxed)
            )
            .into(),
            clock: Clock::System,
            host_slots: hosts::HostSlots::default(),
        })
    }

    /// This handle with `clock` as "now". Set it before the handle is used.
    pub fn with_clock(mut self, clock: Clock) -> PgStore {
        self.clock = clock;
        self
    }

    /// Where "now" comes from.
    pub fn clock(&self) -> Clock {
        self.clock
    }

    /// Waits for in-flight queries and closes all connections (the host
    /// slots' too: the slots this instance holds are free).
    pub async fn close(&self) {
        if let Some(search) = &self.search {
            search.close().await;
        }
        self.host_slots.close().await;
        self.pool.close().await;
    }

    /// A handle whose search reads stop with [`StoreError::OverBudget`]
    /// once `limit` has passed (PostgreSQL's `statement_timeout`, set per
    /// transaction), or when every clone of the handle is dropped.
    pub fn bounded(&self, limit: Duration) -> PgStore {
        let mut store = self.clone();
        store.budget = Some(Arc::new(Budget {
            limit,
            deadline: Instant::now() + limit,
            abandoned: Arc::new(AtomicBool::new(false)),
        }));
        store
    }

    /// A handle whose search reads use a pool of their own.
    pub fn with_search_pool(&self, connections: u32) -> PgStore {
        let options = (*self.pool.connect_options()).clone();
        let pool = PgPoolOptions::new()
            .max_connections(connections.max(1))
            .connect_lazy_with(options);
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

    /// Whether the store can rank items by relevance to `query`.
    pub fn ranks(&self, query: &Expr) -> bool {
        archive::ranks(query)
    }
}

/// `at` in whole seconds, as SQLite stores times (`YYYY-MM-DDTHH:MM:SSZ`):
/// what this backend writes and returns, so that both give the same times.
pub(super) fn whole_seconds(at: DateTime<Utc>) -> DateTime<Utc> {
    use chrono::SubsecRound;
    at.trunc_subsecs(0)
}

/// Compares the migrations applied to the database with this binary's
/// (see [`PgStore::open_read_only`]).
async fn check_schema(pool: &PgPool, target: &PgTarget) -> Result<()> {
    let location = || Location::Postgres(target.clone());
    let has_table: bool = sqlx::query_scalar("SELECT to_regclass('_sqlx_migrations') IS NOT NULL")
        .fetch_one(pool)
        .await
        .map_err(|source| StoreError::Open {
            store: location(),
            source,
        })?;
    let applied: HashSet<i64> = if has_table {
        sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success")
            .fetch_all(pool)
            .await?
            .into_iter()
            .collect()
    } else {
        HashSet::new()
    };
    let known: BTreeSet<i64> = MIGRATOR
        .iter()
        .filter(|m| !m.migration_type.is_down_migration())
        .map(|m| m.version)
        .collect();
    if applied.is_empty() {
        return Err(StoreError::Missing { store: location() });
    }
    if let Some(&version) = applied.iter().filter(|v| !known.contains(v)).max() {
        return Err(StoreError::Newer {
            store: location(),
            version,
            known: known.last().copied().unwrap_or(0),
        });
    }
    if let Some(&pending) = known.iter().find(|v| !applied.contains(v)) {
        return Err(StoreError::Outdated {
            store: location(),
            pending,
        });
    }
    Ok(())
}
