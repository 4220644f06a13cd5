//! `feedwatch db migrate-to URL`: an archive copied from SQLite into
//! PostgreSQL, table by table, in batches: what each table holds and how
//! its columns map (SQLite's text times become timestamptz, its 0/1 flags
//! booleans, its JSON tag lists arrays). The SQLite backend reads the
//! batches (`sqlite/export.rs`), the PostgreSQL one writes them
//! (`postgres/import.rs`), recording after each batch how far it got, so an
//! interrupted copy resumes where it stopped.

/// How a column's values travel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Int,
    Real,
    Text,
    Blob,
    /// SQLite 0/1 → boolean.
    Bool,
    /// SQLite `YYYY-MM-DDTHH:MM:SSZ` text → timestamptz.
    Time,
    /// SQLite JSON list of strings → text[].
    Tags,
}

/// One value of a row in transit.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Value {
    Null,
    Int(i64),
    Real(f64),
    Text(String),
    Blob(Vec<u8>),
    Bool(bool),
    Time(chrono::DateTime<chrono::Utc>),
    Tags(Vec<String>),
}

/// A table copied as it is, in rowid order, parents before children.
#[derive(Debug)]
pub(super) struct Table {
    pub name: &'static str,
    pub columns: &'static [(&'static str, Kind)],
}

use Kind::*;

/// Every table of the archive, in an order that satisfies the foreign keys.
/// SQLite's own bookkeeping (the full-text index, the story lookup buckets,
/// the backfill lists) is not copied: PostgreSQL keeps its own, computed
/// from the rows as they arrive.
pub(super) const TABLES: &[Table] = &[
    Table {
        name: "feeds",
        columns: &[
            ("id", Int),
            ("url", Text),
            ("name", Text),
            ("title", Text),
            ("site_url", Text),
            ("etag", Text),
            ("last_modified", Text),
            ("last_fetch_at", Time),
            ("last_success_at", Time),
            ("last_status", Int),
            ("last_error", Text),
            ("error_count", Int),
            ("created_at", Time),
            ("next_check_at", Time),
            ("check_interval", Int),
            ("items_per_week", Real),
            ("poll_count", Int),
            ("enabled", Bool),
            ("disabled_reason", Text),
            ("fetch_url", Text),
            ("error_kind", Text),
            ("warning", Text),
            ("source", Text),
            ("tags", Tags),
            ("full_text", Text),
        ],
    },
    Table {
        name: "topics",
        columns: &[
            ("id", Int),
            ("name", Text),
            ("query", Text),
            ("compiled", Text),
            ("retired_at", Time),
        ],
    },
    Table {
        name: "stories",
        columns: &[
            ("id", Int),
            ("headline", Text),
            ("first_seen", Time),
            ("last_seen", Time),
            ("item_count", Int),
        ],
    },
    Table {
        name: "story_merges",
        columns: &[("story_id", Int), ("merged_into", Int), ("merged_at", Time)],
    },
    Table {
        name: "items",
        columns: &[
            ("id", Int),
            ("feed_id", Int),
            ("item_key", Text),
            ("guid", Text),
            ("url", Text),
            ("title", Text),
            ("text", Text),
            ("author", Text),
            ("lang", Text),
            ("declared_lang", Text),
            ("published", Time),
            ("updated", Time),
            ("sort_at", Time),
            ("fetched_at", Time),
            ("first_seen_at", Time),
            ("content_hash", Text),
            ("version", Int),
            ("canonical_url", Text),
            ("fingerprint", Int),
            ("sketch", Blob),
            ("story_id", Int),
            ("text_source", Text),
            ("summary", Text),
            ("page_state", Text),
            ("page_error", Text),
            ("page_attempts", Int),
            ("page_due", Time),
        ],
    },
    Table {
        name: "item_sources",
        columns: &[
            ("feed_id", Int),
            ("item_key", Text),
            ("item_id", Int),
            ("content_hash", Text),
            ("first_seen_at", Time),
        ],
    },
    Table {
        name: "item_topics",
        columns: &[
            ("item_id", Int),
            ("topic_id", Int),
            ("matched_at", Time),
            ("backfilled", Bool),
        ],
    },
    Table {
        name: "tombstones",
        columns: &[("feed_id", Int), ("item_key", Text), ("pruned_at", Time)],
    },
    Table {
        name: "alert_state",
        columns: &[("alert", Text), ("created_at", Time), ("last_cut", Time)],
    },
    Table {
        name: "digests",
        columns: &[
            ("id", Text),
            ("alert", Text),
            ("channel", Text),
            ("period_start", Time),
            ("period_end", Time),
            ("created_at", Time),
            ("status", Text),
            ("attempts", Int),
            ("next_attempt_at", Time),
            ("last_error", Text),
            ("delivered_at", Time),
            ("item_count", Int),
            ("content", Text),
        ],
    },
    Table {
        name: "digest_items",
        columns: &[
            ("digest_id", Text),
            ("alert", Text),
            ("channel", Text),
            ("item_id", Int),
            ("topic_id", Int),
        ],
    },
    Table {
        name: "digest_notices",
        columns: &[
            ("digest_id", Text),
            ("alert", Text),
            ("channel", Text),
            ("key", Text),
        ],
    },
    Table {
        name: "spike_episodes",
        columns: &[
            ("id", Int),
            ("alert", Text),
            ("topic", Text),
            ("started_at", Time),
            ("last_spike_at", Time),
            ("ended_at", Time),
            ("peak", Int),
            ("notice", Text),
        ],
    },
];

/// Rows per batch (one transaction on each side).
pub(super) const BATCH: u32 = 1000;

/// How far a copy is, for its progress bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CopyProgress {
    /// The table being copied.
    pub table: &'static str,
    /// Its rows copied so far (resumed copies count what was copied before).
    pub done: u64,
    /// Its rows in the source.
    pub total: u64,
}

/// A column's value, for the importer's special cases.
pub(super) fn column<'a>(table: &Table, row: &'a [Value], name: &str) -> Option<&'a Value> {
    table
        .columns
        .iter()
        .position(|(c, _)| *c == name)
        .and_then(|i| row.get(i))
}

/// Copies the SQLite archive `from` into the PostgreSQL database `to`
/// (migrated, empty or holding an unfinished copy from here), telling
/// `progress` after every batch.
pub(super) async fn sqlite_to_postgres(
    from: &super::sqlite::SqliteStore,
    to: &super::postgres::PgStore,
    progress: &mut dyn FnMut(CopyProgress),
) -> super::Result<()> {
    let resumed = to.import_begin().await?;
    for table in TABLES {
        let total = from.export_count(table).await?;
        let mut after = resumed.get(table.name).copied().unwrap_or(0);
        let mut done = if after > 0 {
            from.export_count_upto(table, after).await?
        } else {
            0
        };
        progress(CopyProgress {
            table: table.name,
            done,
            total,
        });
        loop {
            let rows = from.export_rows(table, after, BATCH).await?;
            let Some((last, _)) = rows.last() else { break };
            after = *last;
            to.import_rows(table, &rows).await?;
            done += rows.len() as u64;
            progress(CopyProgress {
                table: table.name,
                done,
                total,
            });
        }
    }
    to.import_finish().await
}
