//! The store: the only module that speaks SQL.
//!
//! Each backend lives in a folder of its own with its own migrations
//! (`migrations/<backend>/`, only ever added to): `sqlite/` (the embedded
//! default). Everything outside `store` names the store by its location
//! in the config (`[store] path` or `url`), never by its engine.

mod sqlite;

pub use sqlite::*;
