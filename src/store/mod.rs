//! The store: the only module that speaks SQL.
//!
//! Each backend lives in a folder of its own with its own migrations
//! (`migrations/<backend>/`, only ever added to): `sqlite/` (the embedded
//! default). Everything outside `store` names the store by its location
//! in the config (`[store] path` or `url`), never by its engine.

mod sqlite;

pub use sqlite::*;

use std::path::PathBuf;

/// Where a store lives, as the config names it (`[store] path` or `url`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// A SQLite database file.
    Sqlite(PathBuf),
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Location::Sqlite(path) => write!(f, "{}", path.display()),
        }
    }
}

/// A bare path is a SQLite database file (as `[store] path` says).
impl From<&std::path::Path> for Location {
    fn from(path: &std::path::Path) -> Location {
        Location::Sqlite(path.to_path_buf())
    }
}

impl From<&PathBuf> for Location {
    fn from(path: &PathBuf) -> Location {
        Location::Sqlite(path.clone())
    }
}

impl From<PathBuf> for Location {
    fn from(path: PathBuf) -> Location {
        Location::Sqlite(path)
    }
}

impl From<&Location> for Location {
    fn from(location: &Location) -> Location {
        location.clone()
    }
}
