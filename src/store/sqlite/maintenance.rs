//! Upkeep (the `Maintenance` role): retention of matched items and
//! tombstones, backup, integrity check, vacuum and WAL checkpoints.

use std::path::Path;

use chrono::{DateTime, Utc};

use super::{ts, Result, SqliteStore, StoreError};

/// What [`SqliteStore::check`] found.
#[derive(Debug, Clone)]
pub struct CheckReport {
    /// `PRAGMA integrity_check` lines; `["ok"]` when sound.
    pub integrity: Vec<String>,
    /// `PRAGMA foreign_key_check` violations as `table rowid → parent`.
    pub foreign_keys: Vec<String>,
    /// The FTS5 index agrees with its content (no integrity line about
    /// `items_fts`).
    pub search_index_ok: bool,
}

impl CheckReport {
    pub fn is_ok(&self) -> bool {
        self.integrity == ["ok"] && self.foreign_keys.is_empty() && self.search_index_ok
    }
}

/// Rows of a WAL checkpoint: `(busy, wal frames, frames checkpointed)`.
pub type Checkpoint = (i64, i64, i64);

/// What [`SqliteStore::vacuum`] did to the database's size, in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Compacted {
    pub before: u64,
    pub after: u64,
}

impl SqliteStore {
    /// Deletes items matched by a topic first seen before `cutoff`
    /// (retention of matched items), leaving tombstones like
    /// [`SqliteStore::prune_unmatched`]. Returns the number pruned.
    pub async fn prune_matched(&self, cutoff: DateTime<Utc>, at: DateTime<Utc>) -> Result<u64> {
        const MATCHED: &str =
            "items.first_seen_at < ? AND EXISTS (SELECT 1 FROM item_topics it WHERE it.item_id = items.id)";
        let cutoff = ts(cutoff);
        let mut tx = self.write.begin_with("BEGIN IMMEDIATE").await?;
        sqlx::query(&format!(
            "INSERT INTO tombstones (feed_id, item_key, pruned_at) \
             SELECT s.feed_id, s.item_key, ? FROM item_sources s JOIN items ON items.id = s.item_id \
             WHERE {MATCHED} ON CONFLICT (feed_id, item_key) DO NOTHING"
        ))
        .bind(ts(at))
        .bind(&cutoff)
        .execute(&mut *tx)
        .await?;
        let pruned = sqlx::query(&format!("DELETE FROM items WHERE {MATCHED}"))
            .bind(&cutoff)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        Ok(pruned)
    }

    /// Forgets tombstones made before `cutoff`: a feed still listing such an
    /// item brings it back as new. Returns the number removed.
    pub async fn prune_tombstones(&self, cutoff: DateTime<Utc>) -> Result<u64> {
        let mut tx = self.write.begin_with("BEGIN IMMEDIATE").await?;
        let removed = sqlx::query("DELETE FROM tombstones WHERE pruned_at < ?")
            .bind(ts(cutoff))
            .execute(&mut *tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        Ok(removed)
    }

    /// Writes a consistent copy of the database to `path` (`VACUUM INTO`,
    /// from a read transaction: the daemon keeps writing meanwhile; a
    /// read-only store can back up). `path` must not exist.
    ///
    /// The file is created first, empty and 0600, then filled by SQLite. A
    /// database shared with a group (0640, say) gives a backup with the same
    /// mode and group, when the group can be given to the file (the caller
    /// belongs to it); else the backup stays 0600. Others never get access.
    pub async fn backup(&self, path: &Path) -> Result<()> {
        use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
        let file_error = |source| StoreError::BackupFile {
            path: path.to_path_buf(),
            source,
        };
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
            .map_err(file_error)?;
        let shared = std::fs::metadata(self.read.connect_options().get_filename())
            .ok()
            .filter(|db| db.mode() & 0o060 != 0);
        if let Some(db) = shared {
            let ours = file.metadata().map_err(file_error)?;
            if ours.gid() == db.gid() || std::os::unix::fs::fchown(&file, None, Some(db.gid())).is_ok() {
                let mode = (db.mode() & 0o660) | 0o600;
                file.set_permissions(std::fs::Permissions::from_mode(mode))
                    .map_err(file_error)?;
            }
        }
        drop(file);
        let copied = sqlx::query("VACUUM INTO ?")
            .bind(path.to_string_lossy().into_owned())
            .execute(&self.read)
            .await;
        if let Err(error) = copied {
            // Ours (created above): no half-written backup stays behind.
            let _ = std::fs::remove_file(path);
            return Err(error.into());
        }
        Ok(())
    }

    /// Runs SQLite's integrity and foreign-key checks, read-only.
    /// `PRAGMA integrity_check` includes the full-text index's own check
    /// (FTS5's `integrity-check` command, which is an INSERT and so needs
    /// the write lock, runs the same check; SQLite 3.44+ runs it from the
    /// pragma, and sqlx bundles a newer SQLite).
    pub async fn check(&self) -> Result<CheckReport> {
        let integrity: Vec<String> = sqlx::query_scalar("PRAGMA integrity_check")
            .fetch_all(&self.read)
            .await?;
        let foreign_keys: Vec<(String, Option<i64>, String)> =
            sqlx::query_as("SELECT \"table\", rowid, parent FROM pragma_foreign_key_check")
                .fetch_all(&self.read)
                .await?;
        let search_index_ok = !integrity.iter().any(|line| line.contains(".items_fts"));
        Ok(CheckReport {
            integrity,
            foreign_keys: foreign_keys
                .into_iter()
                .map(|(table, rowid, parent)| {
                    format!(
                        "{table} row {} → {parent}",
                        rowid.map(|r| r.to_string()).unwrap_or_default()
                    )
                })
                .collect(),
            search_index_ok,
        })
    }

    /// Rebuilds the database file to reclaim free pages (`VACUUM`; waits for
    /// the writer), then optimises the full-text index.
    pub async fn vacuum(&self) -> Result<Compacted> {
        let before = self.file_size();
        sqlx::query("INSERT INTO items_fts (items_fts) VALUES ('optimize')")
            .execute(&self.write)
            .await?;
        sqlx::query("VACUUM").execute(&self.write).await?;
        self.checkpoint().await?;
        Ok(Compacted {
            before,
            after: self.file_size(),
        })
    }

    /// The database file's size in bytes (0 when it cannot be read).
    fn file_size(&self) -> u64 {
        std::fs::metadata(self.path.as_path())
            .map(|m| m.len())
            .unwrap_or(0)
    }

    /// Housekeeping the daemon asks for every minute or so, and `db prune`
    /// after pruning: truncates the write-ahead log ([`SqliteStore::checkpoint`]),
    /// which SQLite's automatic checkpoints keep from growing past ~40 MB
    /// but never shrink. `Ok(Some(why))` when readers made it wait for next
    /// time (not an error).
    pub async fn tidy(&self) -> Result<Option<&'static str>> {
        let (busy, _, _) = self.checkpoint().await?;
        Ok((busy != 0).then_some("WAL checkpoint postponed: readers busy"))
    }

    /// Copies the WAL into the database and truncates it when no reader
    /// needs it (`PRAGMA wal_checkpoint(TRUNCATE)`); a busy checkpoint is
    /// not an error (`busy = 1`) and is retried next time. Runs on the
    /// checkpointer's connection: while it waits for the writer (SQLite's
    /// busy handler) it holds no connection a writer needs, and it never
    /// contends with the checkpointer's own checkpoints.
    pub(super) async fn checkpoint(&self) -> Result<Checkpoint> {
        Ok(sqlx::query_as("PRAGMA wal_checkpoint(TRUNCATE)")
            .fetch_one(&self.checkpoints)
            .await?)
    }

    /// Copies what it can of the WAL into the database without waiting for
    /// the writer or readers (`PRAGMA wal_checkpoint(PASSIVE)`), on the
    /// checkpointer's own connection.
    pub(super) async fn passive_checkpoint(&self) -> Result<Checkpoint> {
        Ok(sqlx::query_as("PRAGMA wal_checkpoint(PASSIVE)")
            .fetch_one(&self.checkpoints)
            .await?)
    }

    /// Turns SQLite's automatic checkpoints of the write connection on
    /// (every [`super::WAL_AUTOCHECKPOINT`] pages) or off (while a
    /// [`super::WriteQueue`]'s checkpointer does them).
    pub(super) async fn automatic_checkpoints(&self, on: bool) -> Result<()> {
        let pages = if on { super::WAL_AUTOCHECKPOINT } else { 0 };
        sqlx::query(&format!("PRAGMA wal_autocheckpoint = {pages}"))
            .execute(&self.write)
            .await?;
        Ok(())
    }
}
