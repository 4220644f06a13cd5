//! `feedwatch db prune|backup|check|vacuum`: upkeep of the database.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::bail;
use chrono::Utc;
use clap::Subcommand;
use feedwatch::config::Config;
use feedwatch::daemon::apply_retention;
use feedwatch::store::{CopyProgress, Location, Store};

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
    /// Copy this SQLite archive into the PostgreSQL database URL (a
    /// `postgres://` URL or a libpq `key=value` string): every feed, item,
    /// story, match and digest, ids kept. The database must exist and be
    /// empty; its tables are created. An interrupted copy resumes when run
    /// again. Stop the daemon first, then point `[store] url` at URL.
    MigrateTo {
        url: String,
        /// A file holding the PostgreSQL password.
        #[arg(long)]
        password_file: Option<PathBuf>,
    },
}

pub async fn db(config: &Config, command: DbCommand) -> anyhow::Result<ExitCode> {
    // `check` and `backup` only read (VACUUM INTO reads the database and
    // writes the copy): they never wait for the daemon's write lock.
    let store = match command {
        DbCommand::Check | DbCommand::Backup { .. } => Store::open_read_only(config.store.location()).await?,
        DbCommand::Prune | DbCommand::Vacuum => Store::open_existing(config.store.location()).await?,
        // A copy reads a quiet archive: the daemon is stopped first.
        DbCommand::MigrateTo { .. } => Store::open_read_only(config.store.location()).await?,
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
        DbCommand::MigrateTo { url, password_file } => {
            let target = match Location::from_url(&url) {
                Ok(Location::Postgres(target)) => target,
                Ok(Location::Sqlite(_)) => {
                    bail!("migrate-to copies into PostgreSQL: {url:?} is not a PostgreSQL URL")
                }
                Err(message) => bail!("{message}"),
            };
            let target = match password_file {
                Some(file) => {
                    let password = std::fs::read_to_string(&file)
                        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", file.display()))?;
                    target.with_password(password.trim_end_matches(['\r', '\n']).to_string())
                }
                None => target,
            };
            if !matches!(config.store.location(), Location::Sqlite(_)) {
                bail!("migrate-to copies a SQLite archive: this config's store is already PostgreSQL");
            }
            let target = Location::Postgres(target);
            let mut bar = ProgressBar::new();
            store.migrate_to(&target, &mut |p| bar.show(p)).await?;
            bar.finish();
            writeln!(
                std::io::stdout(),
                "copied {} into {target}; set [store] url to it and start feedwatch",
                config.store.location()
            )?;
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

/// The copy's progress on stderr: a bar redrawn in place on a terminal,
/// else one line per table.
struct ProgressBar {
    terminal: bool,
    current: Option<CopyProgress>,
}

impl ProgressBar {
    fn new() -> ProgressBar {
        use std::io::IsTerminal;
        ProgressBar {
            terminal: std::io::stderr().is_terminal(),
            current: None,
        }
    }

    fn show(&mut self, progress: CopyProgress) {
        let table_changed = self.current.is_some_and(|c| c.table != progress.table);
        if table_changed {
            self.end_line();
        }
        self.current = Some(progress);
        if self.terminal {
            const WIDTH: u64 = 30;
            let filled = (progress.done * WIDTH)
                .checked_div(progress.total)
                .unwrap_or(WIDTH) as usize;
            eprint!(
                "\r{:<14} [{}{}] {}/{}",
                progress.table,
                "#".repeat(filled),
                "-".repeat(WIDTH as usize - filled.min(WIDTH as usize)),
                progress.done,
                progress.total
            );
        }
    }

    fn end_line(&mut self) {
        if let Some(done) = self.current.take() {
            if self.terminal {
                eprintln!();
            } else {
                eprintln!("{:<14} {}/{} rows", done.table, done.done, done.total);
            }
        }
    }

    fn finish(mut self) {
        self.end_line();
    }
}
