//! The store: the only module that speaks SQL.
//!
//! [`Store`] is the seam between feedwatch and a database: the roles a
//! backend implements ([`Feeds`], [`Items`], [`Stories`], [`Archive`],
//! [`Outbox`], [`Triggers`], [`Maintenance`]), declared once below with the [`Store`]
//! methods that dispatch to the backend a [`Location`] names. Each backend
//! lives in a folder of its own with its own migrations
//! (`migrations/<backend>/`, only ever added to): `sqlite/` (the embedded
//! default). Everything outside `store` names the store by its location in
//! the config (`[store] path` or `url`), never by its engine; rows leave it
//! as the plain types re-exported here.

mod copy;
mod error;
mod location;
mod pages;
mod postgres;
mod sqlite;

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::clock::Clock;
use crate::model::{FeedConfig, FullText};
use crate::topics::{Expr, TopicSet};

pub use copy::CopyProgress;
pub use error::{Result, StoreError};
pub use location::{Location, PgTarget};
pub use pages::{PageCounts, PageJob, PageOutcome, PageText, PageWrite, MAX_PAGE_ATTEMPTS};
pub use sqlite::{
    parse_ts, AlertState, Bucket, BuildDigest, CheckReport, Compacted, Cursor, DigestBatch, DigestRecord,
    FeedChangeError, FeedFailure, FeedHealthRow, FeedRow, FeedUpdate, FeedWrite, IngestCounts, InstanceLock,
    ItemRow, ItemWrite, Known, LockError, NewDigest, NextCheck, PendingMatch, QueueEntry, ReportItem,
    ReportStory, RetiredTopic, SearchFilter, SearchSort, SearchText, SpikeEpisode, Split, StoryCopy,
    StoryFilter, StoryRow, TopicRow, TopicStats, VolumeQuery, VolumeRow, Words,
};

/// The log target of the database driver the backends use (its slow
/// statements are logged at WARN with their SQL).
pub const DRIVER_LOG_TARGET: &str = "sqlx";

/// Handle to the store. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Store(Backend);

#[derive(Debug, Clone)]
enum Backend {
    Sqlite(sqlite::SqliteStore),
    Postgres(postgres::PgStore),
}

/// Declares each role as a trait of `async` methods (futures that are
/// `Send`), implements it for every backend by its methods of the same
/// name, and gives [`Store`] the same methods, dispatched to its backend.
macro_rules! roles {
    ($(
        $(#[$role_meta:meta])*
        trait $role:ident {
            $(
                $(#[$meta:meta])*
                async fn $name:ident(&self $(, $arg:ident: $ty:ty)*) -> $ret:ty;
            )*
        }
    )*) => {
        $(
            $(#[$role_meta])*
            pub trait $role {
                $(
                    $(#[$meta])*
                    fn $name(&self $(, $arg: $ty)*) -> impl Future<Output = $ret> + Send;
                )*
            }

            impl $role for sqlite::SqliteStore {
                $(
                    fn $name(&self $(, $arg: $ty)*) -> impl Future<Output = $ret> + Send {
                        sqlite::SqliteStore::$name(self $(, $arg)*)
                    }
                )*
            }

            impl $role for postgres::PgStore {
                $(
                    fn $name(&self $(, $arg: $ty)*) -> impl Future<Output = $ret> + Send {
                        postgres::PgStore::$name(self $(, $arg)*)
                    }
                )*
            }

            impl Store {
                $(
                    $(#[$meta])*
                    pub async fn $name(&self $(, $arg: $ty)*) -> $ret {
                        match &self.0 {
                            Backend::Sqlite(store) => $role::$name(store $(, $arg)*).await,
                            Backend::Postgres(store) => $role::$name(store $(, $arg)*).await,
                        }
                    }
                )*
            }
        )*
    };
}

roles! {
    /// The feed queue: configured and added feeds, their fetch state and when each is due; a feed's health.
    trait Feeds {
        /// Makes sure every configured feed has a row (matched by URL) and its
        /// configured name is current; returns the rows in config order.
        async fn sync_feeds(&self, feeds: &[FeedConfig]) -> Result<Vec<FeedRow>>;
        /// The stored rows of the given feed URLs, in the given order; URLs
        /// without a row are left out.
        async fn feeds_in(&self, urls: &[String]) -> Result<Vec<FeedRow>>;
        /// Every stored feed's URL, name and tags (of an added feed; configured
        /// feeds keep theirs in the config): what `feed:` filters need, without
        /// the per-feed item counts of [`Store::list_feeds`].
        async fn feed_labels(&self) -> Result<Vec<(String, Option<String>, Vec<String>)>>;
        /// All stored feeds, by name as shown (configured name, else the
        /// feed's title, else its URL; case-insensitive), then URL.
        async fn list_feeds(&self) -> Result<Vec<FeedRow>>;
        /// Whether the database can be written again after a failure: one
        /// small real write (a feed row rewritten unchanged, in its own
        /// transaction), so that a full disk or an unwritable file is noticed
        /// without fetching a feed to find out.
        async fn probe_write(&self) -> Result<()>;
        /// The scheduling state of every enabled feed.
        async fn queue(&self) -> Result<Vec<QueueEntry>>;
        /// The rows of the given feed ids.
        async fn feeds_by_id(&self, ids: &[i64]) -> Result<Vec<FeedRow>>;
        /// Polls a disabled feed again, from now on.
        async fn enable_feed(&self, url: &str) -> std::result::Result<(), FeedChangeError>;
        /// Adds a feed outside the config file (`feeds add`, `opml import`).
        async fn add_feed(&self, url: &str, name: Option<&str>, tags: &[String], full_text: Option<FullText>) -> std::result::Result<(), FeedChangeError>;
        /// Removes an added feed and its items.
        async fn remove_feed(&self, url: &str) -> std::result::Result<(), FeedChangeError>;
        /// Total number of stored items.
        async fn item_count(&self) -> Result<i64>;
        /// The state of every enabled feed, and of feeds disabled for a reason
        /// (410 Gone), for feed-health notices.
        async fn feed_health(&self) -> Result<Vec<FeedHealthRow>>;
    }

    /// The item writer: a feed's result applied atomically (items, matches, story links, the feed's new state), and the topics whose matches it records.
    trait Items {
        /// The item keys a feed has had: stored (with content hash) or pruned.
        /// The pipeline uses it to skip unchanged and pruned items before
        /// matching.
        async fn known_items(&self, feed_id: i64) -> Result<HashMap<String, Known>>;
        /// Applies a successful fetch in one transaction:
        /// - an edit of an item the feed already lists updates it in place (it
        ///   keeps its id and story; its fingerprint and lookup keys follow);
        /// - an item whose canonical URL is already stored (from another feed, or
        ///   under another key) becomes one more source of that item, and gains
        ///   the topics this feed's copy matches;
        /// - any other item is inserted and joins the story of a near-duplicate
        ///   within the window, else starts one;
        ///
        /// then brings topic matches up to date and clears the feed's error.
        ///
        /// Several updates are best applied together
        /// ([`Store::apply_feed_writes`]).
        async fn apply_feed_update(&self, update: FeedUpdate) -> Result<IngestCounts>;
        /// Applies `writes` in one transaction; if that fails,
        /// applies each in its own, so that a write that cannot be applied fails
        /// alone. One result per write, in order (all-zero counts for writes
        /// other than updates).
        async fn apply_feed_writes(&self, writes: Vec<FeedWrite>) -> Vec<Result<IngestCounts>>;
        /// Makes sure every topic of the set has a row with its current query;
        /// returns the rows in the set's order.
        /// Topics stored but absent from the set are retired (kept with their
        /// matches, `retired_at` set); a topic of the set is active again.
        async fn sync_topics(&self, topics: &TopicSet, now: DateTime<Utc>) -> Result<Vec<TopicRow>>;
        /// Replaces a topic's matches by `matched` (a backfill's scan, begun
        /// at `scan.0`, of the items up to id `scan.1`): matches that still
        /// hold keep their time and flag, new ones are marked backfilled, the
        /// rest are removed, except those recorded since the scan began or of
        /// items after it (ingest beside the scan: new and edited items,
        /// matched with the new query); then records `compiled` as the query
        /// the matches are now computed with. One transaction.
        async fn replace_topic_matches(&self, topics: &[TopicMatches<'_>], scan: (DateTime<Utc>, i64), at: DateTime<Utc>) -> Result<Vec<(u64, u64)>>;
    }

    /// The article-page queue (`full_text`): items waiting for their page, and what fetching it gave.
    trait Pages {
        /// Claims up to `limit` items whose page is due at `now`, oldest
        /// first, for `lease` (not claimed again meanwhile; on PostgreSQL
        /// not by another instance either).
        async fn claim_pages(&self, now: DateTime<Utc>, limit: u32, lease: Duration) -> Result<Vec<PageJob>>;
        /// Records what the pages gave, in one transaction: an article's
        /// text (the teaser kept as `summary`, the full-text index and new
        /// matches following, matched at `at`), filled metadata, or why
        /// it failed. Items no longer waiting (edited, removed) are left
        /// alone. Returns the number of new matches.
        async fn apply_pages(&self, writes: &[PageWrite], at: DateTime<Utc>) -> Result<u64>;
        /// Per feed with any: pages fetched, given up and waiting.
        async fn page_counts(&self) -> Result<Vec<PageCounts>>;
    }

    /// Stories as stored: the lookups the writer owes, and stories read back.
    trait Stories {
        /// Writes the story lookup entries this process owes (see `story_index`),
        /// if any: when the writer is idle, and on close.
        async fn settle_story_keys(&self) -> Result<()>;
        /// Stories matching the filter, most recently seen first, ties broken
        /// by id.
        async fn stories(&self, filter: &StoryFilter) -> Result<Vec<StoryRow>>;
        /// The stories with these ids, in the order given (ids of no story are
        /// left out).
        async fn stories_by_id(&self, ids: &[i64]) -> Result<Vec<StoryRow>>;
    }

    /// Reading the archive: searches (candidates for a query's syntax tree, confirmed by `topics`), items, volume, outlets, languages and topic counts.
    trait Archive {
        /// Items matching the filter, newest first (by publication time, else
        /// first-seen time), ties broken by id, or by relevance; with their
        /// topics and feeds.
        async fn search(&self, filter: &SearchFilter) -> Result<Vec<ItemRow>>;
        /// Like [`Store::search`] without topics and feeds (cheaper, for
        /// candidates that are still to be confirmed).
        async fn search_page(&self, filter: &SearchFilter) -> Result<Vec<ItemRow>>;
        /// Where item `id` stands in newest-first order, if it exists.
        async fn cursor_of(&self, id: i64) -> Result<Option<Cursor>>;
        /// Items in id order after `after_id` (keyset pagination), optionally
        /// only those published (else first seen) at or after `since`. For
        /// evaluating queries over the stored archive.
        async fn scan_items(&self, since: Option<DateTime<Utc>>, after_id: i64, limit: u32) -> Result<Vec<ItemRow>>;
        /// One item by id, with its topics and feeds.
        async fn item(&self, id: i64) -> Result<Option<ItemRow>>;
        /// The `limit` most recently stored items.
        async fn recent_items(&self, limit: u32) -> Result<Vec<ItemRow>>;
        /// Attaches topic names and source feeds to already-fetched rows.
        async fn attach_topics(&self, rows: &mut [ItemRow]) -> Result<()>;
        /// Names of the stored topics.
        async fn topic_names(&self) -> Result<Vec<String>>;
        /// Item counts per bucket (and split key), oldest bucket first. Empty
        /// buckets are absent.
        async fn volume(&self, query: &VolumeQuery) -> Result<Vec<VolumeRow>>;
        /// Feeds carrying the most items (any feed listing an item counts),
        /// with their item counts.
        async fn top_outlets(&self, topics: &[String], since: DateTime<Utc>, until: Option<DateTime<Utc>>, limit: u32) -> Result<Vec<(String, i64)>>;
        /// Primary languages of the items (`en` for `en-US`; `''` when
        /// unknown), most items first.
        async fn languages(&self, topics: &[String], since: DateTime<Utc>, until: Option<DateTime<Utc>>) -> Result<Vec<(String, i64)>>;
        /// Stories with the most topic items in the window.
        async fn top_stories(&self, topics: &[String], since: DateTime<Utc>, until: Option<DateTime<Utc>>, limit: u32) -> Result<Vec<ReportStory>>;
        /// The newest items in the window, with their first feed and the
        /// number of feeds listing them.
        async fn latest_items(&self, topics: &[String], since: DateTime<Utc>, until: Option<DateTime<Utc>>, limit: u32) -> Result<Vec<ReportItem>>;
        /// When the newest item was published (else first seen), if any.
        async fn newest_item_at(&self) -> Result<Option<DateTime<Utc>>>;
        /// Whether a topic of this name is stored.
        async fn has_topic(&self, name: &str) -> Result<bool>;
        /// Stored topics other than `active` (those that left the config):
        /// name, the last query stored for it, and when `feedwatch run` retired
        /// it (`None` when no run has seen the config without it yet). By name.
        async fn retired_topics(&self, active: &[&str]) -> Result<Vec<RetiredTopic>>;
        /// Topic name → number of matched items, for every active stored topic.
        async fn topic_counts(&self) -> Result<Vec<(String, i64)>>;
        /// Match counts of the named topics (by item publication time), in the
        /// given order; topics without a row count zero.
        async fn topic_stats(&self, names: &[(String, String)], now: DateTime<Utc>) -> Result<Vec<TopicStats>>;
    }

    /// The digest outbox: alert cuts, pending matches, digests created once and delivered once.
    trait Outbox {
        /// The alert's state, created at `now` on first sight (so matches from
        /// before an alert existed are never sent).
        async fn alert_state(&self, alert: &str, now: DateTime<Utc>) -> Result<AlertState>;
        /// The alert's state as stored, without recording it: an alert not seen
        /// yet is taken as created at `now`, as [`Store::alert_state`] would
        /// record it. For previews, which must not write.
        async fn peek_alert_state(&self, alert: &str, now: DateTime<Utc>) -> Result<AlertState>;
        /// Matches of `topics` not yet in a digest of (`alert`, `channel`),
        /// matched from `since` to `cut` (inclusive; timestamps are whole
        /// seconds), newest first per topic.
        async fn pending_matches(&self, alert: &str, channel: &str, topics: &[String], since: DateTime<Utc>, cut: DateTime<Utc>) -> Result<Vec<PendingMatch>>;
        /// The keys of the notices already sent to (`alert`, `channel`).
        async fn sent_notices(&self, alert: &str, channel: &str) -> Result<HashSet<String>>;
        /// Creates, in one transaction, one digest per channel from its pending
        /// matches and the notices (by key: `notices`) not yet sent to it, as
        /// built by `build` (given the indices of those notices), records the
        /// matches and notices each covers and moves the alert's cut to `cut`.
        /// `build` returns `None` to skip a channel (e.g. nothing to send).
        /// Returns the ids of the digests created.
        async fn create_digests(&self, batch: &DigestBatch<'_>, build: BuildDigest<'_>) -> Result<Vec<String>>;
        /// Pending digests whose next attempt is due, of `alert` only if
        /// given (on PostgreSQL claimed for delivery by this instance).
        async fn due_digests(&self, now: DateTime<Utc>, alert: Option<&str>) -> Result<Vec<DigestRecord>>;
        /// The channel accepted the digest.
        async fn mark_delivered(&self, id: &str, at: DateTime<Utc>) -> Result<()>;
        /// An attempt failed: retry at `retry_at`, or give up (`failed`).
        async fn mark_attempt_failed(&self, id: &str, error: &str, retry_at: DateTime<Utc>, failed: bool) -> Result<()>;
        /// Digests, newest first; only failed ones with `failed_only`.
        async fn list_digests(&self, failed_only: bool, limit: u32) -> Result<Vec<DigestRecord>>;
        /// (channel, status, number of digests), for metrics.
        async fn digest_counts(&self) -> Result<Vec<(String, String, i64)>>;
        /// Requeues a failed digest for delivery now; false if there is no
        /// failed digest with that id.
        async fn retry_digest(&self, id: &str, now: DateTime<Utc>) -> Result<bool>;
    }

    /// What spike and story alerts read and record: topic volume per window (an indexed count), story copies, spike episodes.
    trait Triggers {
        /// Per topic of `topics`: its matched items `d` whole seconds old at
        /// `now` (`0 <= d`, by `sort_at`) with `d % step < window`, counted by
        /// window `d / step` (0: the current one) back to `buckets.windows - 1`:
        /// rows `(topic, window, count)`, empty windows absent. A range of
        /// the index `item_topics_volume` per topic and window (an hour on
        /// each of 14 days), or per topic (windows back to back).
        async fn topic_volume(&self, topics: &[String], now: DateTime<Utc>, buckets: crate::triggers::Buckets) -> Result<Vec<(String, i64, i64)>>;
        /// Every outlet's copy of the stories of items matching `topics`
        /// whose time is at or after `since`, of matches made at or after
        /// `matched_since` and not by a backfill. A copy's time is the item's
        /// for its first feed, and when another feed first listed it for that
        /// feed.
        async fn story_copies(&self, topics: &[String], since: DateTime<Utc>, matched_since: DateTime<Utc>) -> Result<Vec<StoryCopy>>;
        /// The spike episodes of `alert` still open.
        async fn open_spikes(&self, alert: &str) -> Result<Vec<SpikeEpisode>>;
        /// Opens an episode of (`alert`, `topic`) at `at` unless one is open
        /// (on PostgreSQL, another instance's too); whether this call opened it.
        async fn open_spike(&self, alert: &str, topic: &str, at: DateTime<Utc>, peak: i64, notice: &str) -> Result<bool>;
        /// The open episode `id` goes on with a window of `count`, spiking at
        /// `spiking_at` when it is, or ends at `ended_at`.
        async fn advance_spike(&self, id: i64, count: i64, spiking_at: Option<DateTime<Utc>>, ended_at: Option<DateTime<Utc>>) -> Result<()>;
        /// Spike episodes begun at or after `since`, of `alert` and `topic`
        /// when given, oldest first.
        async fn spike_episodes(&self, alert: Option<&str>, topic: Option<&str>, since: DateTime<Utc>) -> Result<Vec<SpikeEpisode>>;
    }

    /// Retention, backups, checks and the backend's own housekeeping.
    trait Maintenance {
        /// Deletes items first seen before `cutoff` that match no topic, leaving
        /// a tombstone for each feed that listed one (their stories' counts
        /// follow by trigger). Returns the number pruned.
        async fn prune_unmatched(&self, cutoff: DateTime<Utc>, at: DateTime<Utc>) -> Result<u64>;
        /// Deletes items matched by a topic first seen before `cutoff`
        /// (retention of matched items), leaving tombstones like
        /// [`Store::prune_unmatched`]. Returns the number pruned.
        async fn prune_matched(&self, cutoff: DateTime<Utc>, at: DateTime<Utc>) -> Result<u64>;
        /// Forgets tombstones made before `cutoff`: a feed still listing such an
        /// item brings it back as new. Returns the number removed.
        async fn prune_tombstones(&self, cutoff: DateTime<Utc>) -> Result<u64>;
        /// Writes a consistent copy of the archive to the file `path` while
        /// the daemon keeps writing (a read-only store can back up). `path`
        /// must not exist; the copy is private to the owner (or shares the
        /// database's group mode), never readable by others.
        async fn backup(&self, path: &Path) -> Result<()>;
        /// Checks the stored data's integrity, its references and the
        /// full-text index, read-only.
        async fn check(&self) -> Result<CheckReport>;
        /// Rebuilds the store to reclaim the space of pruned items (waits for
        /// the writer) and optimises the full-text index; says the size
        /// before and after.
        async fn vacuum(&self) -> Result<Compacted>;
        /// Housekeeping the daemon asks for every minute or so, and `db prune`
        /// after pruning (SQLite: truncating the write-ahead log).
        /// `Ok(Some(why))` when it had to wait for next time (not an error).
        async fn tidy(&self) -> Result<Option<&'static str>>;
    }
}

impl Store {
    /// Opens the store, creating it if missing (a SQLite file; a PostgreSQL
    /// database must exist, its tables are created), and applies pending
    /// migrations: for the daemon and `run --once`.
    pub async fn open(location: impl Into<Location>) -> Result<Store> {
        Ok(Store(match location.into() {
            Location::Sqlite(path) => Backend::Sqlite(sqlite::SqliteStore::open(path).await?),
            Location::Postgres(target) => Backend::Postgres(postgres::PgStore::open(&target).await?),
        }))
    }

    /// Opens an existing store and migrates it, for commands that write to
    /// it (`feeds remove`, `db prune`, ...): a missing store is an error
    /// instead of a new empty one.
    pub async fn open_existing(location: impl Into<Location>) -> Result<Store> {
        Ok(Store(match location.into() {
            Location::Sqlite(path) => Backend::Sqlite(sqlite::SqliteStore::open_existing(path).await?),
            Location::Postgres(target) => Backend::Postgres(postgres::PgStore::open_existing(&target).await?),
        }))
    }

    /// Opens an existing store for reading only (the query commands): no
    /// migration, never waiting for a writer; a store a newer or older
    /// feedwatch migrated is an error that says which.
    pub async fn open_read_only(location: impl Into<Location>) -> Result<Store> {
        Ok(Store(match location.into() {
            Location::Sqlite(path) => Backend::Sqlite(sqlite::SqliteStore::open_read_only(path).await?),
            Location::Postgres(target) => {
                Backend::Postgres(postgres::PgStore::open_read_only(&target).await?)
            }
        }))
    }

    /// Closes the connections (after the writer has drained).
    pub async fn close(&self) {
        match &self.0 {
            Backend::Sqlite(store) => store.close().await,
            Backend::Postgres(store) => store.close().await,
        }
    }

    /// A handle whose search reads stop once `limit` has passed (from now),
    /// or when the handle's last clone is dropped (a client gone): then
    /// they fail with [`StoreError::OverBudget`].
    pub fn bounded(&self, limit: Duration) -> Store {
        Store(match &self.0 {
            Backend::Sqlite(store) => Backend::Sqlite(store.bounded(limit)),
            Backend::Postgres(store) => Backend::Postgres(store.bounded(limit)),
        })
    }

    /// A handle whose search reads use `connections` connections of their
    /// own: searches served to others (the API) can never take the
    /// connections the daemon's work needs.
    pub fn with_search_pool(&self, connections: u32) -> Store {
        Store(match &self.0 {
            Backend::Sqlite(store) => Backend::Sqlite(store.with_search_pool(connections)),
            Backend::Postgres(store) => Backend::Postgres(store.with_search_pool(connections)),
        })
    }

    /// Whether this handle's budget ([`Store::bounded`]) is spent.
    pub fn over_budget(&self) -> Option<Duration> {
        match &self.0 {
            Backend::Sqlite(store) => store.over_budget(),
            Backend::Postgres(store) => store.over_budget(),
        }
    }

    /// Whether the store can rank items by relevance to `query`
    /// ([`SearchSort::Relevance`]): its words narrow candidates (a query of
    /// only `NOT`, `lang:` or `feed:` gives nothing to rank by).
    pub fn ranks(&self, query: &Expr) -> bool {
        match &self.0 {
            Backend::Sqlite(store) => store.ranks(query),
            Backend::Postgres(store) => store.ranks(query),
        }
    }

    /// This handle with `clock` as "now" (the one injected clock: the
    /// pipeline, alerts and daemon built on this store read it too). Set it
    /// before the handle is used.
    pub fn with_clock(self, clock: Clock) -> Store {
        Store(match self.0 {
            Backend::Sqlite(store) => Backend::Sqlite(store.with_clock(clock)),
            Backend::Postgres(store) => Backend::Postgres(store.with_clock(clock)),
        })
    }

    /// Where "now" comes from.
    pub fn clock(&self) -> Clock {
        match &self.0 {
            Backend::Sqlite(store) => store.clock(),
            Backend::Postgres(store) => store.clock(),
        }
    }

    /// Copies this archive (SQLite) into the PostgreSQL database `target`
    /// (`db migrate-to`): migrated here if needed, and empty, or holding an
    /// interrupted copy, which resumes. Ids, times, stories, matches and
    /// the digest outbox are kept as they are. `progress` is told after
    /// every batch.
    pub async fn migrate_to(&self, target: &Location, progress: &mut dyn FnMut(CopyProgress)) -> Result<()> {
        let (Backend::Sqlite(from), Location::Postgres(to)) = (&self.0, target) else {
            return Err(StoreError::Unsupported(
                "copying other than from SQLite into PostgreSQL",
            ));
        };
        let to = postgres::PgStore::open(to).await?;
        let copied = copy::sqlite_to_postgres(from, &to, progress).await;
        to.close().await;
        copied
    }

    /// Whether several instances may share this store (PostgreSQL): then
    /// feeds are claimed with leases, and an instance claims only what it
    /// can start soon.
    pub fn is_shared(&self) -> bool {
        matches!(self.0, Backend::Postgres(_))
    }

    /// Starts the writer every feed's result goes through (group commit),
    /// on the current tokio runtime.
    pub fn write_queue(&self) -> WriteQueue {
        WriteQueue(match &self.0 {
            Backend::Sqlite(store) => Writer::Sqlite(sqlite::WriteQueue::start(store.clone())),
            Backend::Postgres(store) => Writer::Postgres(postgres::WriteQueue::start(store.clone())),
        })
    }
}

/// Sharing the work between instances (PostgreSQL; on SQLite there is one).
/// A topic's matches found by a backfill ([`Store::replace_topic_matches`]).
#[derive(Debug, Clone, Copy)]
pub struct TopicMatches<'a> {
    pub topic_id: i64,
    /// The query the matches were computed with, as stored.
    pub compiled: &'a str,
    /// The matching items' ids.
    pub matched: &'a [i64],
}

impl TopicMatches<'_> {
    /// What a backfill changes, given the topic's stored matches (item id,
    /// and whether ingest recorded it beside the scan: those stay): the
    /// items to add as backfilled matches and the items whose matches go.
    /// The rule of both backends' `replace_topic_matches`.
    pub(crate) fn changes(&self, stored: Vec<(i64, bool)>) -> (Vec<i64>, Vec<i64>) {
        let (mut recent, mut existing) = (HashSet::new(), HashSet::new());
        for (id, is_recent) in stored {
            if is_recent {
                recent.insert(id);
            } else {
                existing.insert(id);
            }
        }
        let wanted: HashSet<i64> = self.matched.iter().copied().collect();
        let new = wanted
            .difference(&existing)
            .filter(|id| !recent.contains(id))
            .copied()
            .collect();
        let gone = existing.difference(&wanted).copied().collect();
        (new, gone)
    }
}

/// A request slot of a host, held until dropped ([`Store::try_host_slot`]).
#[derive(Debug)]
pub struct HostSlot {
    /// Unlocked when dropped.
    _held: Option<postgres::PgHostSlot>,
}

impl Store {
    /// Takes feeds among `ids` (due feeds, as [`Store::queue`] said) for
    /// this instance to poll now: the enabled and due ones, in the order of
    /// `ids`, at most `limit`; their rows. On SQLite (one instance) that is
    /// all of them. On PostgreSQL each is leased to this instance until
    /// `now + lease`; feeds another instance holds or polled meanwhile are
    /// skipped, so instances asking at once split the feeds between them.
    /// Writing a feed's result ends its lease.
    pub async fn claim_feeds(
        &self,
        ids: &[i64],
        limit: u32,
        now: DateTime<Utc>,
        lease: Duration,
    ) -> Result<Vec<FeedRow>> {
        match &self.0 {
            Backend::Sqlite(store) => store.due_feeds(ids, limit, now).await,
            Backend::Postgres(store) => store.claim_feeds(ids, limit, now, lease).await,
        }
    }

    /// Takes the feeds `ids` for this instance to poll now, due or not
    /// (`run --once`), in the order of `ids`: on PostgreSQL each is leased
    /// until `now + lease` unless another instance holds it (those are left
    /// out); on SQLite, all of them.
    pub async fn take_feeds(&self, ids: &[i64], now: DateTime<Utc>, lease: Duration) -> Result<Vec<FeedRow>> {
        match &self.0 {
            Backend::Sqlite(store) => {
                let mut rows = store.feeds_by_id(ids).await?;
                rows.sort_by_key(|f| ids.iter().position(|&id| id == f.id));
                Ok(rows)
            }
            Backend::Postgres(store) => store.take_feeds(ids, now, lease).await,
        }
    }

    /// Renews this instance's lease on feed `id` until `now + lease`, just
    /// before it is fetched: `false` when the lease is no longer this
    /// instance's (it ran out while the feed waited for a slot, and
    /// another instance took the feed), and the feed must not be fetched.
    /// Always `true` on SQLite.
    pub async fn renew_lease(&self, id: i64, now: DateTime<Utc>, lease: Duration) -> Result<bool> {
        match &self.0 {
            Backend::Sqlite(_) => Ok(true),
            Backend::Postgres(store) => store.renew_lease(id, now, lease).await,
        }
    }

    /// Gives back this instance's leases on `ids` (claimed, not polled: it
    /// is stopping).
    pub async fn release_feeds(&self, ids: &[i64]) -> Result<()> {
        match &self.0 {
            Backend::Sqlite(_) => Ok(()),
            Backend::Postgres(store) => store.release_feeds(ids).await,
        }
    }

    /// Reserves this instance's next request to `host` (a
    /// `fetch::HostLimiter` key) among every instance's: when it may start
    /// (`now`, or `spacing` after the last reserved start). `None` on a
    /// backend with one instance, whose `HostLimiter` spaces them alone.
    pub async fn reserve_host(
        &self,
        host: &str,
        spacing: Duration,
        now: DateTime<Utc>,
    ) -> Result<Option<DateTime<Utc>>> {
        match &self.0 {
            Backend::Sqlite(_) => Ok(None),
            Backend::Postgres(store) => store.reserve_host(host, spacing, now).await.map(Some),
        }
    }

    /// One of the `slots` request slots of `host` that no instance sharing
    /// the store holds, until the returned slot is dropped; `None` when all
    /// are held (wait and ask again). One instance alone (SQLite) always
    /// gets one: its own limiter is the limit.
    pub async fn try_host_slot(&self, host: &str, slots: usize) -> Result<Option<HostSlot>> {
        match &self.0 {
            Backend::Sqlite(_) => Ok(Some(HostSlot { _held: None })),
            Backend::Postgres(store) => Ok(store
                .try_host_slot(host, slots)
                .await?
                .map(|slot| HostSlot { _held: Some(slot) })),
        }
    }
}

/// The writer of feed results (see [`Store::write_queue`]). Cheap to
/// clone; the writer ends at [`WriteQueue::close`] or when the last clone is
/// dropped, after writing what was queued.
#[derive(Debug, Clone)]
pub struct WriteQueue(Writer);

#[derive(Debug, Clone)]
enum Writer {
    Sqlite(sqlite::WriteQueue),
    Postgres(postgres::WriteQueue),
}

impl WriteQueue {
    /// Stops the writer: what is queued is written, later writes fail with
    /// [`StoreError::WriterStopped`]; returns once the writer has ended.
    pub async fn close(&self) {
        match &self.0 {
            Writer::Sqlite(queue) => queue.close().await,
            Writer::Postgres(queue) => queue.close().await,
        }
    }

    /// Queues a result and waits until it is committed (or failed).
    pub async fn write(&self, write: FeedWrite) -> Result<IngestCounts> {
        match &self.0 {
            Writer::Sqlite(queue) => queue.write(write).await,
            Writer::Postgres(queue) => queue.write(write).await,
        }
    }
}
