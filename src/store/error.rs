//! What a store operation can fail with, whichever the backend.

use std::path::PathBuf;
use std::time::Duration;

use super::Location;
#[cfg(doc)]
use super::Store;

/// A store operation that failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database file could not be opened or created.
    #[error("cannot open database {store}")]
    Open {
        store: Location,
        #[source]
        source: sqlx::Error,
    },
    /// A read-only command was pointed at a database that does not exist.
    #[error("database {store} does not exist yet (run `feedwatch run --once` first)")]
    Missing { store: Location },
    /// A read-only command was pointed at a database that lacks migrations
    /// this feedwatch has (only writers migrate; see
    /// [`Store::open_read_only`]).
    #[error("database {store} was written by an older feedwatch: run `feedwatch run --once` (or restart the daemon) to upgrade it")]
    Outdated {
        store: Location,
        /// The first migration it lacks.
        pending: i64,
    },
    /// A read-only command was pointed at a database migrated by a newer
    /// feedwatch (a migration this one does not know is applied).
    #[error("database {store} was written by a newer feedwatch (schema migration {version}; this one knows up to {known}): read it with that version")]
    Newer {
        store: Location,
        version: i64,
        known: i64,
    },
    /// The file a backup goes to could not be created.
    #[error("cannot create the backup file {}", path.display())]
    BackupFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A backup of a PostgreSQL database was asked for: that is
    /// `pg_dump`'s work (feedwatch copies SQLite files).
    #[error("feedwatch backs up SQLite files; back up the PostgreSQL database {store} with pg_dump (a consistent copy while feedwatch keeps writing): pg_dump --format=custom --file={} '{store}'", path.display())]
    BackupWithPgDump { store: Location, path: PathBuf },
    /// Applying the schema migrations failed.
    #[error("cannot migrate database {store}")]
    Migrate {
        store: Location,
        #[source]
        source: sqlx::migrate::MigrateError,
    },
    /// A query failed.
    #[error("database error")]
    Sql(#[from] sqlx::Error),
    /// A search read was stopped: its time budget ([`Store::bounded`]) is
    /// spent, or its client has gone.
    #[error("the search was stopped after its time limit of {} (search.timeout): narrow the query or its time window", humantime::format_duration(*.0))]
    OverBudget(Duration),
    /// A row the store wrote does not read back (the database was edited
    /// by hand, or is damaged).
    #[error("malformed row in {table}: {row}")]
    Malformed { table: &'static str, row: String },
    /// The writer task is gone (the process is shutting down).
    #[error("the database writer has stopped")]
    WriterStopped,
    /// A copy (`db migrate-to`) was pointed at a database that already
    /// holds an archive of its own.
    #[error("database {store} already holds a feedwatch archive: migrate-to copies into an empty database (or resumes its own interrupted copy)")]
    NotEmpty { store: Location },
    /// What this backend cannot do (yet).
    #[error("{0} is not available on this store's backend yet")]
    Unsupported(&'static str),
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;
