//! `feedwatch db prune|backup|check|vacuum`: upkeep of the database.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::bail;
use chrono::Utc;
use clap::Subcommand;
use feedwatch::config::Config;
use feedwatch::daemon::apply_retention;
use feedwatch::store::Store;

#[derive(Debug, Subcommand)]
pub enum DbCommand {
    /// Apply [retention] now: unmatched items, matched items and tombstones
    /// past their windows (the daemon does this after every cycle).
    Prune,
    /// Write a consistent copy of the database to PATH (VACUUM INTO), safe
    /// while the daemon runs. PATH must not exist.
    Backup { path: PathBuf },
    /// Run SQLite's integrity and foreign-key checks and the full-text
    /// index check; exits 1 when something is wrong.
    Check,
    /// Rebuild the file to reclaim space from pruned items (waits for the
    /// daemon's writes; needs free disk space about the size of the file).
    Vacuum,
}

pub async fn db(config: &Config, command: DbCommand) -> anyhow::Result<ExitCode> {
    // `check` and `backup` only read (VACUUM INTO reads the database and
    // writes the copy): they never wait for the daemon's write lock.
    let store = match command {
        DbCommand::Check | DbCommand::Backup { .. } => Store::open_read_only(config.store.location()).await?,
        DbCommand::Prune | DbCommand::Vacuum => Store::open_existing(config.store.location()).await?,
    };
    let result = run(config, &store, command).await;
    store.close().await;
    result
}

async fn run(config: &Config, store: &Store, command: DbCommand) -> anyhow::Result<ExitCode> {
    match command {
        DbCommand::Prune => {
            let pruned = apply_retention(config, store, Utc::now()).await?;
            let postponed = store.tidy().await?;
            writeln!(
                std::io::stdout(),
                "pruned {} unmatched items, {} matched items, {} tombstones{}",
                pruned.unmatched,
                pruned.matched,
                pruned.tombstones,
                postponed.map(|why| format!(" ({why})")).unwrap_or_default()
            )?;
        }
        DbCommand::Backup { path } => {
            if path.exists() {
                bail!(
                    "{} already exists; a backup never overwrites a file",
                    path.display()
                );
            }
            store.backup(&path).await?;
            let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
            writeln!(
                std::io::stdout(),
                "backed up to {} ({})",
                path.display(),
                bytesize::ByteSize(size)
            )?;
        }
        DbCommand::Check => {
            let report = store.check().await?;
            for line in report.integrity.iter().filter(|l| *l != "ok") {
                writeln!(std::io::stdout(), "integrity: {line}")?;
            }
            for line in &report.foreign_keys {
                writeln!(std::io::stdout(), "foreign key: {line}")?;
            }
            if !report.search_index_ok {
                writeln!(
                    std::io::stdout(),
                    "full-text index: inconsistent (run `feedwatch db vacuum`, or rebuild items_fts)"
                )?;
            }
            if !report.is_ok() {
                return Ok(ExitCode::FAILURE);
            }
            writeln!(std::io::stdout(), "ok")?;
        }
        DbCommand::Vacuum => {
            let size = store.vacuum().await?;
            writeln!(
                std::io::stdout(),
                "vacuumed {}: {} → {}",
                config.store.location(),
                bytesize::ByteSize(size.before),
                bytesize::ByteSize(size.after)
            )?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
