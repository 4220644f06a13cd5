//! The SQLite backend (the embedded default).
//!
//! SQLite through sqlx, opened in WAL mode with `synchronous=NORMAL`, foreign
//! keys on and a busy timeout; the schema lives in `migrations/sqlite/` and is
//! applied on open. Writes go through a single-connection pool and start
//! with `BEGIN IMMEDIATE`, so concurrent writers queue in the application
//! instead of failing with `SQLITE_BUSY`; reads use a separate pool and are
//! never blocked by the writer (WAL). Query commands open the store with
//! [`SqliteStore::open_read_only`]: read-only connections only, no migration, so
//! they never wait for the write lock.
//!
//! Files the store creates (the database, its directory, the lock files,
//! backups) are private to the owner (0600, a directory 0700); SQLite gives
//! the `-wal` and `-shm` files the database file's mode. An existing
//! database keeps its mode (an operator may make it 0640 for a reading
//! group), and a backup copies it (see [`SqliteStore::backup`]).

mod batch;
mod digests;
mod export;
mod feeds;
mod items;
mod lang;
mod maintenance;
mod pages;
mod reader;
mod reports;
mod search;
mod stories;
mod story_index;
mod topics;
mod triggers;

use std::collections::{BTreeSet, HashSet};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use super::{Location, Result, StoreError};
use crate::clock::Clock;
use chrono::{DateTime, Datelike, NaiveDateTime, Timelike, Utc};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{ConnectOptions, Connection};

pub use batch::{FeedWrite, WriteQueue};
pub use digests::{
    AlertState, BuildDigest, DigestBatch, DigestRecord, FeedHealthRow, NewDigest, PendingMatch,
};
pub use feeds::{FeedChangeError, FeedFailure, FeedRow, NextCheck, QueueEntry};
pub use items::{FeedUpdate, IngestCounts, ItemWrite, Known};
pub use maintenance::{CheckReport, Compacted};
pub use reports::{Bucket, ReportItem, ReportStory, Split, VolumeQuery, VolumeRow};
pub use search::{Cursor, ItemRow, SearchFilter, SearchSort, SearchText, Words};
pub use stories::{StoryFilter, StoryRow};
pub use topics::{RetiredTopic, TopicRow, TopicStats};
pub use triggers::{SpikeEpisode, StoryCopy};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// `PRAGMA wal_autocheckpoint`: checkpoint every ~40 MB of WAL instead of
/// ~4 MB, so a page rewritten by many feed transactions is copied back once
/// (cold farm cycle 35.2 s → 31–32 s, before group commit); the daemon
/// truncates the WAL every minute.
const WAL_AUTOCHECKPOINT: u32 = 10_000;

/// Handle to the database. Cheap to clone.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    write: SqlitePool,
    read: SqlitePool,
    /// The in-memory copy of the story lookup index; its lock is held for
    /// every write that may change items.
    stories: Arc<tokio::sync::Mutex<story_index::StoryIndex>>,
    /// Set when a write connection is opened (see `connect`).
    reopened: Arc<AtomicBool>,
    /// The WAL checkpointer's connection beside the writer (see
    /// [`WriteQueue`]); opened when first used.
    checkpoints: SqlitePool,
    /// The pool of search reads, when they have their own
    /// ([`SqliteStore::with_search_pool`]); else `read`.
    search: Option<SqlitePool>,
    /// The time budget of this handle's search reads ([`SqliteStore::bounded`]).
    budget: Option<Arc<reader::Budget>>,
    /// The database file.
    path: Arc<PathBuf>,
    /// Where "now" comes from (see [`SqliteStore::with_clock`]).
    clock: Clock,
}

impl SqliteStore {
    /// Opens the database, creating it (and its directory) if missing, and
    /// applies pending migrations.
    ///
    /// A new database file is created 0600 (its directory 0700) before
    /// SQLite opens it, so a permissive umask does not widen it; SQLite
    /// gives the `-wal` and `-shm` files the same mode. An existing file
    /// keeps its mode.
    pub async fn open(path: impl AsRef<Path>) -> Result<SqliteStore> {
        let path = path.as_ref();
        let io_error = |e| StoreError::Open {
            store: Location::Sqlite(path.to_path_buf()),
            source: sqlx::Error::Io(e),
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            create_private_dir(dir).map_err(io_error)?;
        }
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
        {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(io_error(e)),
        }
        Self::connect(path, true).await
    }

    /// Opens an existing database and migrates it, for commands that write
    /// to it (`feeds remove`, `db prune`, ...): a missing file is an error
    /// instead of a new empty database. Commands that only read use
    /// [`SqliteStore::open_read_only`].
    pub async fn open_existing(path: impl AsRef<Path>) -> Result<SqliteStore> {
        let path = path.as_ref();
        if !path.exists() {
            return Err(StoreError::Missing {
                store: Location::Sqlite(path.to_path_buf()),
            });
        }
        Self::connect(path, false).await
    }

    /// Opens an existing database for reading only: the query commands
    /// (`search`, `stories`, `stats`, `feeds list`, `db backup`, ...).
    ///
    /// Every connection is opened read-only, and nothing here migrates,
    /// backfills or begins a write transaction, so a reader never waits
    /// for the write lock: a long `db vacuum`, a prune or the daemon's
    /// group commit does not hold it up (WAL readers read the last commit).
    ///
    /// Instead of migrating, the applied migrations (`_sqlx_migrations`)
    /// are compared with this binary's:
    /// - one missing, or recorded as failed: [`StoreError::Outdated`]; a
    ///   writer (`run`, the daemon) migrates it.
    /// - one this binary does not know: [`StoreError::Newer`]. Reading
    ///   might work, but migrations move data as well as add it (0011 and
    ///   0014 replaced `story_keys`), so an older binary could answer from
    ///   a table a newer one no longer keeps up to date, or fail on one it
    ///   dropped. A writer refuses such a database too (sqlx: an applied
    ///   migration missing from the binary), so readers and writers agree.
    ///
    /// Backfills (the `*_backfill` tables, filled by a migration for items
    /// that predate a Rust-computed column) are drained by writers when
    /// they open the database, so one is pending only between a migration
    /// and the end of that writer's open, or after the writer was
    /// interrupted. Items listed in `items_fts_backfill` are not in the
    /// full-text index yet, so a text search cannot find them: a warning
    /// (once, at open) says how many. Searches by topic, feed or time and
    /// the other commands see them. Items listed in
    /// `items_canonical_backfill` only show no `canonical_url` yet (it
    /// matters to writers, which join copies of an article by it): nothing
    /// is said. Items listed in `items_lang_backfill` still have their
    /// feed's declared tag as `lang` (identification came later): a warning
    /// says how many, as `lang:` and `--lang` may miss them. None is an
    /// error: everything else is right, and the next writer completes them.
    ///
    /// The store's write pool is read-only too (and connects only if used):
    /// a write through it fails at once with SQLite's "attempt to write a
    /// readonly database" instead of waiting for the lock.
    pub async fn open_read_only(path: impl AsRef<Path>) -> Result<SqliteStore> {
        let path = path.as_ref();
        if !path.exists() {
            return Err(StoreError::Missing {
                store: Location::Sqlite(path.to_path_buf()),
            });
        }
        let open_error = |source| StoreError::Open {
            store: Location::Sqlite(path.to_path_buf()),
            source,
        };
        // No journal mode: a database a writer created is WAL already, and
        // setting it would be a write.
        let options = base_options(path).map_err(open_error)?.read_only(true);
        let read = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options.clone())
            .await
            .map_err(open_error)?;
        check_schema(&read, path).await?;
        // Backfills a writer still owes: what a reader misses meanwhile.
        let pending = [
            (
                "items_fts_backfill",
                "are not in the full-text index yet: text searches miss them until `feedwatch run --once` (or the daemon) indexes them",
            ),
            (
                "items_lang_backfill",
                "have their feed's declared language, not yet the one identified from their text: `lang:` and --lang may miss them until `feedwatch run --once` (or the daemon) identifies it",
            ),
        ];
        for (table, missing) in pending {
            let count: i64 = sqlx::query_scalar(&format!("SELECT count(*) FROM {table}"))
                .fetch_one(&read)
                .await?;
            if count > 0 {
                tracing::warn!("{count} items of {} {missing}", path.display());
            }
        }
        Ok(SqliteStore {
            write: SqlitePoolOptions::new()
                .max_connections(1)
                .connect_lazy_with(options.clone()),
            read,
            stories: Arc::default(),
            reopened: Arc::default(),
            checkpoints: SqlitePoolOptions::new()
                .max_connections(1)
                .connect_lazy_with(options),
            search: None,
            budget: None,
            path: Arc::new(path.to_path_buf()),
            clock: Clock::System,
        })
    }

    async fn connect(path: &Path, create: bool) -> Result<SqliteStore> {
        let open_error = |source| StoreError::Open {
            store: Location::Sqlite(path.to_path_buf()),
            source,
        };
        let options = base_options(path)
            .map_err(open_error)?
            .create_if_missing(create)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .pragma("wal_autocheckpoint", WAL_AUTOCHECKPOINT.to_string());
        // The write connection is kept open: the story index copy compares
        // its `PRAGMA data_version` across writes.
        // The writer commits many feeds per transaction (store::batch) and
        // gets a 16 MiB page cache (SQLite's default is 2 MiB). On the
        // 2,000-feed farm 32 and 64 MiB were no faster and peaked 5–10 MB
        // higher; 8 MiB read pages back more often (+5 % wall time).
        //
        // A write that fails in a way that makes SQLite end the transaction
        // itself (an I/O error at COMMIT, e.g. an unwritable file) leaves
        // sqlx counting it as open: its ROLLBACK fails and every later BEGIN
        // would fail with "non-zero transaction depth". Such a connection is
        // closed when released, and the next write opens a new one; a new
        // one must be able to write (SQLite silently opens a file it cannot
        // write read-only), so a writer retries until the database is
        // writable again. The story index copy is dropped after a reconnect.
        let reopened = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&reopened);
        // Writers opening one database take turns, from connecting to the
        // last migration. Two connections turning a new file to WAL at
        // once deadlock on its locks, and SQLite answers one of them
        // "database is locked" at once, without waiting out the busy
        // timeout. And sqlx checks which migrations are applied, then
        // applies the rest: two processes opening a database that needs a
        // migration (the daemon starting, a `search` beside it) would both
        // apply it, and the second fail.
        let turn = migration_turn(path);
        let write = SqlitePoolOptions::new()
            .max_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .after_connect(move |conn, _| {
                let flag = Arc::clone(&flag);
                Box::pin(async move {
                    if create {
                        sqlx::query("BEGIN IMMEDIATE").execute(&mut *conn).await?;
                        sqlx::query("ROLLBACK").execute(&mut *conn).await?;
                    }
                    flag.store(true, Ordering::Release);
                    Ok(())
                })
            })
            .after_release(|conn, _| {
                Box::pin(async move {
                    // Runs the rollback a dropped transaction queued.
                    conn.ping().await?;
                    if conn.is_in_transaction() {
                        tracing::warn!("the write connection lost its transaction; reopening it");
                        return Ok(false);
                    }
                    Ok(true)
                })
            })
            .connect_with(
                options
                    .clone()
                    .pragma("cache_size", "-16384")
                    // A group commit or the settling of owed story keys
                    // (hundreds of thousands of rows in a large cold
                    // cycle) takes seconds by design; sqlx would warn
                    // with the whole statement past 1 s.
                    .log_slow_statements(log::LevelFilter::Warn, Duration::from_secs(10)),
            )
            .await
            .map_err(open_error)?;
        MIGRATOR.run(&write).await.map_err(|source| StoreError::Migrate {
            store: Location::Sqlite(path.to_path_buf()),
            source,
        })?;
        drop(turn);
        let read = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options.clone().read_only(true))
            .await
            .map_err(open_error)?;
        let store = SqliteStore {
            write,
            read,
            stories: Arc::default(),
            reopened,
            checkpoints: SqlitePoolOptions::new()
                .max_connections(1)
                .connect_lazy_with(options),
            search: None,
            budget: None,
            path: Arc::new(path.to_path_buf()),
            clock: Clock::System,
        };
        // Languages first: an item whose language changes may be owed to
        // the full-text index.
        store.backfill_languages().await?;
        store.backfill_search_index().await?;
        store.backfill_canonical_urls().await?;
        Ok(store)
    }

    /// This handle with `clock` as "now" for what the store stamps (feed
    /// rows, merges) and the story index's present. Set it before the
    /// handle is used: the story index starts afresh (it is a copy of what
    /// SQL holds, read again when needed).
    pub fn with_clock(mut self, clock: Clock) -> SqliteStore {
        self.clock = clock;
        let mut index = story_index::StoryIndex::default();
        index.clock = clock;
        self.stories = Arc::new(tokio::sync::Mutex::new(index));
        self
    }

    /// Where "now" comes from.
    pub fn clock(&self) -> Clock {
        self.clock
    }

    /// Waits for in-flight queries and closes all connections.
    pub async fn close(&self) {
        if let Err(error) = self.settle_story_keys().await {
            tracing::warn!(error = %crate::error_chain(&error), "cannot write the owed story keys");
        }
        if self.checkpoints.size() > 0 {
            // The last connection to close checkpoints the WAL and deletes
            // it, unless another connection (the checkpointer) changed the
            // database file meanwhile: then it keeps the WAL, at the size a
            // cold cycle made it. Truncated here instead.
            if let Err(error) = self.checkpoint().await {
                tracing::debug!(error = %crate::error_chain(&error), "final WAL checkpoint failed");
            }
        }
        self.checkpoints.close().await;
        self.write.close().await;
        self.read.close().await;
    }
}

/// What every connection to the database at `path` has, reading or
/// writing: a busy timeout, statement journals in memory (not in temporary
/// files written page by page), and slow statements logged at debug (a
/// user's slow search is not a warning for their terminal; the writer sets
/// its own threshold).
fn base_options(path: &Path) -> std::result::Result<SqliteConnectOptions, sqlx::Error> {
    Ok(SqliteConnectOptions::from_str("sqlite:")?
        .filename(path)
        .busy_timeout(Duration::from_secs(10))
        .pragma("temp_store", "memory")
        .log_slow_statements(log::LevelFilter::Debug, Duration::from_secs(1)))
}

/// Exclusive right to write a database: one `feedwatch run` per database.
/// Held until dropped (or the process exits; the OS releases the lock).
#[derive(Debug)]
pub struct InstanceLock {
    _file: Option<std::fs::File>,
}

/// Another process holds the database's instance lock.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("another feedwatch is already running on {} (lock file {}{})", db.display(), lock.display(), holder.as_ref().map(|p| format!(", held by pid {p}")).unwrap_or_default())]
    Held {
        db: PathBuf,
        lock: PathBuf,
        holder: Option<String>,
    },
    #[error("cannot create the lock file {}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl InstanceLock {
    /// Takes `<db>.lock` without waiting. Read-only commands don't need it.
    /// On PostgreSQL several instances share the database by design:
    /// nothing is taken.
    pub fn acquire(location: impl Into<Location>) -> Result<InstanceLock, LockError> {
        let db = match location.into() {
            Location::Sqlite(db) => db,
            Location::Postgres(_) => return Ok(InstanceLock { _file: None }),
        };
        use std::io::{Read, Seek, Write};
        let mut name = db.as_os_str().to_owned();
        name.push(".lock");
        let path = PathBuf::from(name);
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            create_private_dir(dir).map_err(|source| LockError::Io {
                path: path.clone(),
                source,
            })?;
        }
        let io = |source| LockError::Io {
            path: path.clone(),
            source,
        };
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(&path)
            .map_err(io)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                let holder = Some(holder.trim().to_string()).filter(|h| !h.is_empty());
                return Err(LockError::Held {
                    db: db.to_path_buf(),
                    lock: path,
                    holder,
                });
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(io(e)),
        }
        file.set_len(0).map_err(io)?;
        file.rewind().map_err(io)?;
        write!(file, "{}", std::process::id()).map_err(io)?;
        Ok(InstanceLock { _file: Some(file) })
    }
}

/// A row of a backfill table's item: its id and two of its columns (NULL
/// when the item was deleted since it was listed).
type BackfillRow = (i64, Option<String>, Option<String>, Option<String>);

impl SqliteStore {
    /// Drains a backfill table (`item_id INTEGER PRIMARY KEY`, filled by a
    /// migration for items that predate a Rust-computed column) in batches:
    /// each batch reads `columns` (three expressions over `items i`) of the
    /// listed items, hands them to `apply` inside the transaction, and
    /// removes them from the table. Returns the number of rows drained.
    async fn drain_backfill(
        &self,
        table: &str,
        columns: &str,
        mut apply: impl AsyncFnMut(&mut sqlx::SqliteConnection, &[BackfillRow]) -> Result<()>,
    ) -> Result<u64> {
        const BATCH: i64 = 1000;
        let mut done = 0;
        loop {
            let mut tx = self.write.begin_with("BEGIN IMMEDIATE").await?;
            let rows: Vec<BackfillRow> = sqlx::query_as(&format!(
                "SELECT b.item_id, {columns} FROM {table} b \
                 LEFT JOIN items i ON i.id = b.item_id ORDER BY b.item_id LIMIT ?"
            ))
            .bind(BATCH)
            .fetch_all(&mut *tx)
            .await?;
            let Some(last) = rows.last().map(|r| r.0) else {
                tx.commit().await?;
                return Ok(done);
            };
            apply(&mut tx, &rows).await?;
            sqlx::query(&format!("DELETE FROM {table} WHERE item_id <= ?"))
                .bind(last)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            done += rows.len() as u64;
        }
    }

    /// Identifies the language of the items listed in `items_lang_backfill`
    /// (migration 0021: items whose content was last written before
    /// language identification, so their `lang` is their feed's declared
    /// tag) as the pipeline identifies new ones,
    /// [`crate::langid::identify`] over the title, the text and the
    /// declared tag (`declared_lang`), and writes `lang` where it differs.
    /// `declared_lang` is kept.
    ///
    /// A `[[feed]] lang` override is config the store does not see: these
    /// items get the identified language (the override did not exist when
    /// they were written; the pipeline applies it to items written since).
    ///
    /// What follows from an item's language, within each batch's
    /// transaction (so an interrupted drain leaves nothing owed):
    /// - the story index: the `items_story_keys_update` trigger (0014)
    ///   owes the item's entries again;
    /// - topics whose compiled query has a `lang:` filter get their
    ///   recorded query (`topics.compiled`) cleared, so the next pipeline
    ///   start backfills them over the stored items (their matches are
    ///   replaced: new ones marked backfilled, stale ones removed);
    /// - an item that becomes Sorani or stops being Sorani folds its words
    ///   differently (`text::words_in`): it is listed for the full-text
    ///   index again (drained next, by [`SqliteStore::backfill_search_index`]),
    ///   gets the fingerprint and sketch its words now give if it had one,
    ///   and every topic is backfilled, not only those with `lang:`.
    ///
    /// Progress is logged every 10,000 items.
    pub(super) async fn backfill_languages(&self) -> Result<u64> {
        const PROGRESS: u64 = 10_000;
        let pending: i64 = sqlx::query_scalar("SELECT count(*) FROM items_lang_backfill")
            .fetch_one(&self.write)
            .await?;
        if pending == 0 {
            return Ok(0);
        }
        let started = std::time::Instant::now();
        tracing::info!(
            items = pending,
            "identifying the language of items stored before language identification (after an upgrade)"
        );
        let (mut seen, mut changed, mut refolded) = (0u64, 0u64, 0u64);
        let done = self
            .drain_backfill(
                "items_lang_backfill",
                "i.title, i.text, i.declared_lang",
                async |tx, rows| {
                    let (Some(first), Some(last)) = (rows.first(), rows.last()) else {
                        return Ok(());
                    };
                    // The batch's current languages, and whether each item
                    // has a fingerprint.
                    let current: std::collections::HashMap<i64, (Option<String>, bool)> = sqlx::query_as(
                        "SELECT i.id, i.lang, i.fingerprint IS NOT NULL FROM items_lang_backfill b \
                         JOIN items i ON i.id = b.item_id WHERE b.item_id BETWEEN ? AND ?",
                    )
                    .bind(first.0)
                    .bind(last.0)
                    .fetch_all(&mut *tx)
                    .await?
                    .into_iter()
                    .map(|(id, lang, fingerprinted): (i64, Option<String>, bool)| (id, (lang, fingerprinted)))
                    .collect();
                    let (mut lang_changed, mut sorani_changed) = (false, false);
                    for (id, title, text, declared) in rows {
                        let (Some(title), Some(text), Some((old, fingerprinted))) =
                            (title, text, current.get(id))
                        else {
                            continue;
                        };
                        let lang = crate::langid::identify(title, text, declared.as_deref());
                        if lang == *old {
                            continue;
                        }
                        changed += 1;
                        lang_changed = true;
                        if is_sorani(old.as_deref()) == is_sorani(lang.as_deref()) {
                            sqlx::query("UPDATE items SET lang = ? WHERE id = ?")
                                .bind(&lang)
                                .bind(id)
                                .execute(&mut *tx)
                                .await?;
                            continue;
                        }
                        refolded += 1;
                        sorani_changed = true;
                        // One update, so the story index trigger owes the
                        // item once.
                        let (fingerprint, sketch) = if *fingerprinted {
                            let title_words = crate::text::words_in(title, lang.as_deref());
                            let text_words = crate::text::words_in(text, lang.as_deref());
                            crate::stories::fingerprint_and_sketch_of(&title_words, &text_words).unzip()
                        } else {
                            (None, None)
                        };
                        // (An item without a fingerprint has no sketch.)
                        sqlx::query("UPDATE items SET lang = ?, fingerprint = ?, sketch = ? WHERE id = ?")
                            .bind(&lang)
                            .bind(fingerprint.map(|fp| fp as i64))
                            .bind(sketch.as_deref().map(crate::stories::sketch_bytes))
                            .bind(id)
                            .execute(&mut *tx)
                            .await?;
                        sqlx::query("INSERT OR IGNORE INTO items_fts_backfill (item_id) VALUES (?)")
                            .bind(id)
                            .execute(&mut *tx)
                            .await?;
                    }
                    if sorani_changed {
                        sqlx::query("UPDATE topics SET compiled = ''")
                            .execute(&mut *tx)
                            .await?;
                    } else if lang_changed {
                        sqlx::query("UPDATE topics SET compiled = '' WHERE compiled LIKE '%lang:%'")
                            .execute(&mut *tx)
                            .await?;
                    }
                    let before = seen;
                    seen += rows.len() as u64;
                    if seen / PROGRESS > before / PROGRESS {
                        tracing::info!(done = seen, of = pending, "identifying languages");
                    }
                    Ok(())
                },
            )
            .await?;
        tracing::info!(
            items = done,
            changed,
            refolded,
            elapsed = ?started.elapsed(),
            "languages identified"
        );
        Ok(done)
    }
}

/// Whether a language tag is Sorani's, whose text folds with its own rules
/// (`text::words_in`).
fn is_sorani(lang: Option<&str>) -> bool {
    lang.is_some_and(|l| crate::model::primary_language(l) == "ckb")
}

/// An exclusive lock on `<db>.migrate-lock`, held while a writer connects and migrates; `None`
/// when the file cannot be created (a read-only directory: then nothing can
/// migrate there anyway).
fn migration_turn(db: &Path) -> Option<std::fs::File> {
    let mut name = db.as_os_str().to_owned();
    name.push(".migrate-lock");
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(PathBuf::from(name))
        .ok()?;
    file.lock().ok()?;
    Some(file)
}

/// Creates `dir` and its missing parents 0700 (an existing one keeps its
/// mode).
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)
}

/// Compares the migrations applied to the database behind `read` with
/// this binary's (see [`SqliteStore::open_read_only`]): a database without
/// `_sqlx_migrations` has none applied.
async fn check_schema(read: &SqlitePool, path: &Path) -> Result<()> {
    let open_error = |source| StoreError::Open {
        store: Location::Sqlite(path.to_path_buf()),
        source,
    };
    // The first read: a file that is not a database fails here.
    let has_table: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations')",
    )
    .fetch_one(read)
    .await
    .map_err(open_error)?;
    let applied: HashSet<i64> = if has_table {
        sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success")
            .fetch_all(read)
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
    if let Some(&version) = applied.iter().filter(|v| !known.contains(v)).max() {
        return Err(StoreError::Newer {
            store: Location::Sqlite(path.to_path_buf()),
            version,
            known: known.last().copied().unwrap_or(0),
        });
    }
    if let Some(&pending) = known.iter().find(|v| !applied.contains(v)) {
        return Err(StoreError::Outdated {
            store: Location::Sqlite(path.to_path_buf()),
            pending,
        });
    }
    Ok(())
}

/// Formats a timestamp the way the schema stores it.
///
/// Years 0 to 9999 are written digit by digit: chrono's `format` parses the
/// format string on every call, and the writer formats a few timestamps per
/// item (0.3 s of a cold farm cycle's critical path).
pub(crate) fn ts(at: DateTime<Utc>) -> String {
    let year = at.year();
    if !(0..=9999).contains(&year) {
        return at.format(TS_FORMAT).to_string();
    }
    let mut out = *b"0000-00-00T00:00:00Z";
    let mut put = |at: usize, width: usize, mut value: u32| {
        for i in (at..at + width).rev() {
            out[i] = b'0' + (value % 10) as u8;
            value /= 10;
        }
    };
    put(0, 4, year as u32);
    put(5, 2, at.month());
    put(8, 2, at.day());
    put(11, 2, at.hour());
    put(14, 2, at.minute());
    put(17, 2, at.second());
    out.iter().map(|&b| char::from(b)).collect()
}

const TS_FORMAT: &str = "%Y-%m-%dT%H:%M:%SZ";

/// A nullable timestamp column of `row`, as [`parse_ts`] reads it (`None`
/// when NULL or unreadable), for rows that decode to typed times.
pub(super) fn time_column(
    row: &sqlx::sqlite::SqliteRow,
    column: &str,
) -> sqlx::Result<Option<DateTime<Utc>>> {
    use sqlx::Row;
    let text: Option<String> = row.try_get(column)?;
    Ok(text.as_deref().and_then(parse_ts))
}

/// Parses a stored timestamp. The stored form (`YYYY-MM-DDTHH:MM:SSZ`) is
/// read digit by digit; anything else as chrono reads [`TS_FORMAT`].
pub fn parse_ts(s: &str) -> Option<DateTime<Utc>> {
    parse_ts_fast(s).or_else(|| {
        NaiveDateTime::parse_from_str(s, TS_FORMAT)
            .ok()
            .map(|n| n.and_utc())
    })
}

fn parse_ts_fast(s: &str) -> Option<DateTime<Utc>> {
    let b = s.as_bytes();
    if b.len() != 20
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b'T'
        || b[13] != b':'
        || b[16] != b':'
        || b[19] != b'Z'
    {
        return None;
    }
    let num = |from: usize, to: usize| {
        b[from..to].iter().try_fold(0u32, |n, &d| {
            d.is_ascii_digit().then(|| n * 10 + u32::from(d - b'0'))
        })
    };
    let date = chrono::NaiveDate::from_ymd_opt(num(0, 4)? as i32, num(5, 7)?, num(8, 10)?)?;
    let time = chrono::NaiveTime::from_hms_opt(num(11, 13)?, num(14, 16)?, num(17, 19)?)?;
    Some(date.and_time(time).and_utc())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A read-only store reads while another connection holds the write
    /// lock, and a write through it fails at once instead of waiting.
    #[tokio::test]
    async fn a_read_only_store_never_waits_for_the_write_lock() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let writer = SqliteStore::open(&path).await.unwrap();
        writer
            .add_feed("https://a.example/rss", None, &[], None)
            .await
            .unwrap();
        let mut held = writer.write.begin_with("BEGIN IMMEDIATE").await.unwrap();
        sqlx::query("UPDATE feeds SET name = 'uncommitted'")
            .execute(&mut *held)
            .await
            .unwrap();

        let started = std::time::Instant::now();
        let reader = SqliteStore::open_read_only(&path).await.unwrap();
        let feeds = reader.list_feeds().await.unwrap();
        assert_eq!(feeds.len(), 1);
        assert_eq!(feeds[0].name, None, "the last commit, not the open transaction");
        let written = reader.add_feed("https://b.example/rss", None, &[], None).await;
        assert!(
            format!("{written:?}").contains("readonly database"),
            "{written:?}"
        );
        let now = Utc::now();
        let state = reader.peek_alert_state("new alert", now).await.unwrap();
        assert_eq!(state.created_at, parse_ts(&ts(now)).unwrap());
        reader.close().await;
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "waited {:?}",
            started.elapsed()
        );

        held.rollback().await.unwrap();
        let states: i64 = sqlx::query_scalar("SELECT count(*) FROM alert_state")
            .fetch_one(&writer.read)
            .await
            .unwrap();
        assert_eq!(states, 0, "a peek records nothing");
        writer.close().await;
    }

    /// The read-only integrity check finds a full-text index that no
    /// longer agrees with its content (`PRAGMA integrity_check` runs FTS5's
    /// own check).
    #[tokio::test]
    async fn a_read_only_check_finds_a_damaged_full_text_index() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let writer = SqliteStore::open(&path).await.unwrap();
        sqlx::query("INSERT INTO items_fts (rowid, title, text) VALUES (1, 'kurdistan referendum', 'erbil')")
            .execute(&writer.write)
            .await
            .unwrap();
        let reader = SqliteStore::open_read_only(&path).await.unwrap();
        assert!(reader.check().await.unwrap().is_ok());
        // The content changes behind the index's back.
        sqlx::query("UPDATE items_fts_content SET c0 = 'something else' WHERE id = 1")
            .execute(&writer.write)
            .await
            .unwrap();
        let report = reader.check().await.unwrap();
        assert!(!report.search_index_ok, "{report:?}");
        assert!(!report.is_ok());
        reader.close().await;
        writer.close().await;
    }

    /// The digit-by-digit timestamp formatting and parsing agree with
    /// chrono's, over four centuries of seconds and on odd inputs.
    #[test]
    fn timestamps_read_and_write_as_chrono_does() {
        let chrono_parse = |s: &str| {
            NaiveDateTime::parse_from_str(s, TS_FORMAT)
                .ok()
                .map(|n| n.and_utc())
        };
        let mut t: i64 = -2_208_988_800; // 1900-01-01
        while t < 10_000_000_000 {
            let at = DateTime::from_timestamp(t, 0).unwrap();
            let written = ts(at);
            assert_eq!(written, at.format(TS_FORMAT).to_string());
            assert_eq!(parse_ts(&written), Some(at));
            t += 7_919_993; // about three months, a prime: every field varies
        }
        for odd in [
            "2017-02-30T00:00:00Z",
            "2017-13-01T00:00:00Z",
            "2017-09-25T24:00:00Z",
            "2016-12-31T23:59:60Z",
            "2017-9-25T08:00:00Z",
            "2017-09-25T08:00:00",
            "2017-09-25 08:00:00Z",
            "20x7-09-25T08:00:00Z",
            "+2017-09-25T08:00:00Z",
            "",
        ] {
            assert_eq!(parse_ts(odd), chrono_parse(odd), "{odd}");
        }
        let far = DateTime::from_timestamp(300_000_000_000, 0).unwrap();
        assert_eq!(ts(far), far.format(TS_FORMAT).to_string());
    }
}
