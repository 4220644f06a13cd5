//! The story lookup index: its rows in SQL (`story_buckets`) and the
//! store's in-memory copy, so that finding the story of a new item costs no
//! statement.
//!
//! In SQL the index is one row per [`stories::lookup_keys`] value and 30-day
//! period of the items' time ([`bucket_key`]), its items packed in a blob
//! ([`KeyEntry`]): a cold cycle of 60,000 items writes ~36,000 rows instead
//! of 300,000 (one per key and item, as `story_keys` did until migration
//! 0014), and a lookup reads the periods its window overlaps. New and
//! changed items are not written to their buckets at once: they are
//! *owed*, listed with their entry's values in `story_keys_pending`, and
//! [`StoryIndex::settle`] rewrites the buckets they touch, all at once:
//! when the debt outgrows the copy, when the writer is idle, on close, and
//! before the copy is read. Deleted and changed items leave stale entries
//! until then (`story_keys_stale` lists them; lookups check every candidate
//! against `items`).
//!
//! Entries hold each item's full language tag (`items.lang`); lookups
//! compare languages by primary subtag ([`model::same_language`]: `en-US`
//! finds `en`), so the entries of every version, old databases included,
//! serve as they are.
//!
//! The copy is loaded lazily: the first lookups of a process go to SQL (the
//! buckets of the probe keys, and the owed items), and only a process that
//! makes many (a cold cycle, a large churn) reads the index once, from
//! `items`. Every write goes through the store's single write connection
//! while the copy's lock is held, so the copy follows each write; writes of
//! another process are noticed through `PRAGMA data_version` and drop the
//! copy.
//!
//! The copy holds the recent part of the index only: items from two story
//! windows before the newest item (its *horizon*) on, plus every item
//! written since it was read. A lookup whose window reaches past the horizon
//! (an old article arriving late) also asks the buckets for the older part:
//! the debt is settled before the copy is read, so every owed item is in the
//! copy. As time moves on the copy is read again, a window later, so a
//! daemon's copy stays at two to three windows of items however large the
//! archive grows.

use rustc_hash::{FxHashMap, FxHashSet};

use sqlx::{QueryBuilder, Sqlite, SqliteConnection};

use super::Result;
use crate::clock::Clock;
use crate::{model, stories};

/// SQL lookups a process makes before it loads the whole index.
const LOOKUPS_BEFORE_LOAD: u32 = 1000;

/// Owed items below which a write leaves the debt for later (see
/// [`StoryIndex::should_settle`]).
const SETTLE_AT: u64 = 100_000;

/// Owed items lookups without the copy scan (in memory, read once); a
/// larger debt left by another process is settled first.
const PENDING_SCAN_MAX: u64 = 5_000;

/// Bucket rows per statement when settling.
const BUCKETS_PER_STATEMENT: usize = 500;

/// One item under a lookup key, as packed in `story_buckets.entries`:
/// item id, fingerprint and time (seconds since the epoch), each 8 bytes
/// little-endian, then the language's length (2 bytes) and its bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct KeyEntry<'a> {
    pub id: i64,
    pub fingerprint: u64,
    pub time: i64,
    pub lang: &'a str,
}

impl KeyEntry<'_> {
    const FIXED: usize = 26;

    fn encode(&self, out: &mut Vec<u8>) {
        // Languages are short codes; a longer one is cut at a character
        // boundary (it still compares equal to itself, cut the same way).
        let lang = cut(self.lang);
        out.extend_from_slice(&self.id.to_le_bytes());
        out.extend_from_slice(&self.fingerprint.to_le_bytes());
        out.extend_from_slice(&self.time.to_le_bytes());
        out.extend_from_slice(&(lang.len() as u16).to_le_bytes());
        out.extend_from_slice(lang.as_bytes());
    }
}

/// A language as entries store it: at most `u16::MAX` bytes.
fn cut(lang: &str) -> &str {
    let mut end = lang.len().min(u16::MAX as usize);
    while !lang.is_char_boundary(end) {
        end -= 1;
    }
    &lang[..end]
}

/// The entries of a bucket blob; a malformed tail ends them.
pub(super) struct Entries<'a>(&'a [u8]);

impl<'a> Entries<'a> {
    pub fn new(blob: &'a [u8]) -> Self {
        Entries(blob)
    }
}

impl<'a> Iterator for Entries<'a> {
    /// The entry and its bytes in the blob.
    type Item = (KeyEntry<'a>, &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        let b = self.0;
        if b.len() < KeyEntry::FIXED {
            return None;
        }
        let word = |at: usize| u64::from_le_bytes(b[at..at + 8].try_into().expect("8 bytes"));
        let len = u16::from_le_bytes([b[24], b[25]]) as usize;
        let end = KeyEntry::FIXED + len;
        let lang = std::str::from_utf8(b.get(KeyEntry::FIXED..end)?).ok()?;
        let entry = KeyEntry {
            id: word(0) as i64,
            fingerprint: word(8),
            time: word(16) as i64,
            lang,
        };
        self.0 = &b[end..];
        Some((entry, &b[..end]))
    }
}

/// An owed item as `story_keys_pending` lists it: id, fingerprint,
/// language, time.
pub(super) type Owed = (i64, i64, String, i64);

/// An owed item as lookups without the copy scan it (primary language
/// interned).
#[derive(Debug, Clone, Copy)]
struct OwedItem {
    id: i64,
    fingerprint: u64,
    time: i64,
    lang: u16,
}

/// A row of the index as read: item id, fingerprint, language, sort_at,
/// story, sketch.
type IndexRow = (i64, i64, String, String, Option<i64>, Option<Vec<u8>>);

/// Values of a [`stories::lookup_keys`] block: the widest block's bits.
const BLOCK_VALUES: usize = 1 << 64_u32.div_ceil(stories::LOOKUP_BLOCKS);

/// [`Entry::sketch_len`] of an item stored before sketches.
const NO_SKETCH: u8 = u8::MAX;

/// One fingerprinted item.
#[derive(Debug)]
struct Entry {
    id: i64,
    fingerprint: u64,
    /// `sort_at`, as seconds since the epoch.
    time: i64,
    /// Its story; `None` until read.
    story: Option<i64>,
    /// Its sketch: `sketch_len` values of `StoryIndex::sketches` from
    /// `sketch_at` (one allocation for all sketches instead of one each);
    /// [`NO_SKETCH`] for items stored before sketches (their text is read).
    sketch_at: u32,
    sketch_len: u8,
}

/// An item under one lookup key, beside its fingerprint in
/// [`Buckets::fingerprints`]: its index in `entries` and its primary
/// language (interned), read only for a candidate within the distance.
#[derive(Debug, Clone, Copy, Default)]
struct Keyed {
    slot: u32,
    lang: u16,
}

/// Where a bucket's items are in the slabs of [`Buckets`], and their room.
#[derive(Debug, Clone, Copy, Default)]
struct Span {
    start: u32,
    len: u32,
    cap: u32,
}

impl Span {
    fn range(self) -> std::ops::Range<usize> {
        self.start as usize..(self.start + self.len) as usize
    }
}

/// The items with each [`stories::lookup_keys`] entry, in two slabs instead
/// of a `Vec` per key: 40,960 small vectors growing one item at a time made
/// as many reallocations, and left the writer's heap full of small holes
/// that slowed every later allocation on its threads. A bucket's items are
/// contiguous; a full bucket moves to the end of the slabs with twice the
/// room, so the holes it leaves add up to less than the room in use (the
/// slabs stay under twice it). A lookup scans only fingerprints (8 bytes an
/// item) and reads the rest of an item within the distance.
#[derive(Debug, Default)]
struct Buckets {
    spans: Vec<Span>,
    fingerprints: Vec<u64>,
    keyed: Vec<Keyed>,
    /// Room the spans hold (the rest of the slabs is holes left by moves).
    room: usize,
}

impl Buckets {
    /// Room a bucket gets at its first item.
    const FIRST: u32 = 4;

    fn new(buckets: usize) -> Self {
        Buckets {
            spans: vec![Span::default(); buckets],
            ..Buckets::default()
        }
    }

    fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    fn fingerprints(&self, bucket: usize) -> &[u64] {
        &self.fingerprints[self.spans[bucket].range()]
    }

    fn push(&mut self, bucket: usize, fingerprint: u64, keyed: Keyed) {
        let mut span = self.spans[bucket];
        if span.len == span.cap {
            let cap = (span.cap * 2).max(Self::FIRST);
            let start = self.fingerprints.len();
            self.fingerprints.extend_from_within(span.range());
            self.keyed.extend_from_within(span.range());
            self.fingerprints.resize(start + cap as usize, 0);
            self.keyed.resize(start + cap as usize, Keyed::default());
            self.room += (cap - span.cap) as usize;
            span = Span {
                start: u32::try_from(start).expect("fewer than 2^32 keyed items"),
                len: span.len,
                cap,
            };
        }
        let at = (span.start + span.len) as usize;
        self.fingerprints[at] = fingerprint;
        self.keyed[at] = keyed;
        span.len += 1;
        self.spans[bucket] = span;
    }

    /// Removes the bucket's items of entry `slot`.
    fn remove(&mut self, bucket: usize, slot: u32) {
        let mut span = self.spans[bucket];
        let mut kept = span.start as usize;
        for at in span.range() {
            if self.keyed[at].slot != slot {
                self.fingerprints[kept] = self.fingerprints[at];
                self.keyed[kept] = self.keyed[at];
                kept += 1;
            }
        }
        span.len = (kept - span.start as usize) as u32;
        self.spans[bucket] = span;
    }
}

/// A candidate the copy found: within the distance, of the (primary)
/// language and time.
#[derive(Debug)]
pub(super) struct Near {
    /// Hamming distance of its fingerprint to the probe's.
    pub distance: u32,
    pub id: i64,
    pub story: Option<i64>,
}

#[derive(Debug, Default)]
pub(super) struct StoryIndex {
    loaded: bool,
    /// Load at the first lookup instead of after [`LOOKUPS_BEFORE_LOAD`].
    #[cfg(test)]
    pub load_at_once: bool,
    /// Tests' lookups go to SQL in small databases too, unless this is set
    /// (see [`StoryIndex::ready`]).
    #[cfg(test)]
    pub load_small: bool,
    /// Replaces [`SETTLE_AT`].
    #[cfg(test)]
    pub settle_at: Option<u64>,
    /// Items of this process in `story_keys_pending` (see the module
    /// documentation); `None` when unknown: at start, and after the copy
    /// was dropped (a failed write, another process).
    owed: Option<u64>,
    /// Without the copy: the items in `story_keys_pending`, read at the
    /// first lookup and followed since, which lookups scan beside the
    /// buckets; `None` until read, and when dropped with the copy.
    owed_items: Option<Vec<OwedItem>>,
    /// A write transaction began and has not committed: if it is still set
    /// at the next one, that one failed and the copy may hold rolled-back
    /// items.
    open: bool,
    /// `PRAGMA data_version` of the write connection when last checked.
    data_version: Option<i64>,
    sql_lookups: u32,
    /// Items older than this (seconds since the epoch) were not read into
    /// the copy; `i64::MIN` when everything was.
    horizon: i64,
    /// The newest item time the copy has seen (not after the present).
    newest: i64,
    /// The story window the copy was read for, in seconds.
    window: i64,
    /// Primary language subtags ([`model::primary_language`]) → the number
    /// standing for each.
    langs: FxHashMap<String, u16>,
    entries: Vec<Entry>,
    sketches: Vec<u32>,
    /// Item id → index in `entries`.
    by_id: FxHashMap<i64, u32>,
    /// The items with each [`stories::lookup_keys`] entry, at `block ·
    /// BLOCK_VALUES + value`: a probe is an array index, not a hash lookup.
    /// Empty until the first item.
    keys: Buckets,
    /// The store's clock ("the present" that item times are clamped to).
    pub clock: Clock,
}

impl StoryIndex {
    /// Drops the copy (it is read again when next needed). The debt stays
    /// known: the process's own committed writes are what changed.
    pub fn invalidate(&mut self) {
        *self = StoryIndex {
            sql_lookups: self.sql_lookups,
            owed: self.owed,
            #[cfg(test)]
            load_at_once: self.load_at_once,
            #[cfg(test)]
            load_small: self.load_small,
            #[cfg(test)]
            settle_at: self.settle_at,
            clock: self.clock,
            ..StoryIndex::default()
        };
    }

    /// Drops the copy and what it knew of the debt: the database may have
    /// changed in ways this process did not see.
    pub fn forget(&mut self) {
        self.invalidate();
        self.owed = None;
    }

    /// Called after `BEGIN IMMEDIATE` of a write that may change items;
    /// drops the copy if the previous write failed or another connection
    /// has written since.
    pub async fn begin(&mut self, tx: &mut SqliteConnection) -> Result<()> {
        if self.open {
            tracing::debug!("story index copy dropped: the last write failed");
            self.forget();
        } else if self.stale() {
            tracing::debug!("story index copy dropped: a window past its horizon");
            self.invalidate();
        }
        self.open = true;
        if self.loaded || self.owed_items.is_some() {
            let version = data_version(tx).await?;
            if self.data_version.is_some_and(|v| v != version) {
                tracing::debug!("story index copy dropped: another connection wrote");
                self.forget();
                self.open = true;
            }
            self.data_version = Some(version);
        }
        Ok(())
    }

    /// Whether lookups use the copy (then a new item must be recorded in it
    /// with [`StoryIndex::insert`]).
    pub fn loaded(&self) -> bool {
        self.loaded
    }

    /// Whether the copy holds the item.
    #[cfg(test)]
    pub fn holds(&self, id: i64) -> bool {
        self.by_id.contains_key(&id)
    }

    /// Called after the write committed.
    pub fn committed(&mut self) {
        self.open = false;
    }

    /// The number standing for a language tag's primary subtag in the copy.
    fn lang(&mut self, lang: &str) -> u16 {
        let primary = model::primary_language(lang);
        match self.langs.get(&primary) {
            Some(&lang) => lang,
            None => {
                let next = self.langs.len() as u16;
                self.langs.insert(primary, next);
                next
            }
        }
    }

    /// The number standing for a language tag's primary subtag, if the copy
    /// has seen it.
    fn known_lang(&self, lang: &str) -> Option<u16> {
        self.langs.get(&model::primary_language(lang)).copied()
    }

    /// Records an item listed in `story_keys_pending` without the copy
    /// (with it, [`StoryIndex::insert`] tells the copy instead).
    pub fn owe_item(&mut self, id: i64, fingerprint: u64, lang: &str, time: i64) {
        self.owe(1);
        let lang = self.lang(lang);
        if let Some(items) = &mut self.owed_items {
            items.push(OwedItem {
                id,
                fingerprint,
                time,
                lang,
            });
        }
    }

    /// Candidates for a lookup without the copy: from the buckets of the
    /// probe keys ([`sql_near`]) and the owed items, nearest first, then
    /// by id. The caller checks each against `items` (a bucket entry may
    /// be stale, an owed item rolled back or listed twice).
    pub async fn near_without_copy(
        &self,
        tx: &mut SqliteConnection,
        fp: u64,
        lang: &str,
        (from, to): (i64, i64),
    ) -> Result<Vec<Near>> {
        let mut near = sql_near(tx, fp, lang, (from, to)).await?;
        if let (Some(items), Some(lang)) = (&self.owed_items, self.known_lang(lang)) {
            near.extend(
                items
                    .iter()
                    .filter(|item| item.lang == lang && (from..=to).contains(&item.time))
                    .filter_map(|item| {
                        let distance = stories::hamming(fp, item.fingerprint);
                        (distance <= stories::NEAR_DUPLICATE_DISTANCE).then_some(Near {
                            distance,
                            id: item.id,
                            story: None,
                        })
                    }),
            );
            near.sort_unstable_by_key(|n| (n.distance, n.id));
            let mut seen = FxHashSet::default();
            near.retain(|n| seen.insert(n.id));
        }
        Ok(near)
    }

    /// Records that `items` more items are in `story_keys_pending`.
    pub fn owe(&mut self, items: u64) {
        self.owed = Some(self.owed.unwrap_or(0) + items);
    }

    /// Whether this process knows it owes entries (a known debt; one left
    /// by another process is settled before the copy is read).
    pub fn owes(&self) -> bool {
        self.owed.is_some_and(|owed| owed > 0)
    }

    /// Whether the debt has grown past [`SETTLE_AT`] and the settled part
    /// of the copy: a settle of that size rewrites most buckets, so the
    /// debt may grow with the index (buckets are rewritten a logarithmic
    /// number of times as a large cold cycle fills them, not once a commit).
    pub fn should_settle(&self) -> bool {
        #[cfg(test)]
        let at = self.settle_at.unwrap_or(SETTLE_AT);
        #[cfg(not(test))]
        let at = SETTLE_AT;
        let owed = self.owed.unwrap_or(0);
        let settled = (self.by_id.len() as u64).saturating_sub(owed);
        owed > 0 && owed >= at.max(settled)
    }

    /// Writes the owed items into their buckets and removes stale entries
    /// (unless the debt is known to be empty), inside the write transaction
    /// `tx`: each touched bucket is read once and written once, in key
    /// order.
    pub async fn settle(&mut self, tx: &mut SqliteConnection) -> Result<()> {
        if self.owed == Some(0) {
            return Ok(());
        }
        let started = std::time::Instant::now();
        let owed = read_owed(tx).await?;
        let stale: Vec<(i64, i64, i64)> =
            sqlx::query_as("SELECT item_id, fingerprint, at FROM story_keys_stale")
                .fetch_all(&mut *tx)
                .await?;
        if owed.is_empty() && stale.is_empty() {
            self.owed = Some(0);
            self.owed_items = Some(Vec::new());
            return Ok(());
        }
        // Every entry of these items is dropped from the buckets touched;
        // the owed ones are written again with their present values.
        let gone: FxHashSet<i64> = stale
            .iter()
            .map(|s| s.0)
            .chain(owed.iter().map(|o| o.0))
            .collect();
        // (key, index in `owed`), sorted: each touched bucket's new entries
        // in one run. Stale items touch their old buckets with no entry.
        const NONE: u32 = u32::MAX;
        let mut pairs: Vec<(i64, u32)> =
            Vec::with_capacity((owed.len() + stale.len()) * stories::LOOKUP_BLOCKS as usize);
        for &(_, fp, at) in &stale {
            pairs.extend(stories::lookup_keys(fp as u64).map(|key| (bucket_key(key, period(at)), NONE)));
        }
        for (i, (_, fp, _, at)) in owed.iter().enumerate() {
            let period = period(*at);
            pairs.extend(stories::lookup_keys(*fp as u64).map(|key| (bucket_key(key, period), i as u32)));
        }
        pairs.sort_unstable();
        let runs: Vec<&[(i64, u32)]> = pairs.chunk_by(|a, b| a.0 == b.0).collect();
        let mut rows = 0;
        let mut removed = 0;
        for chunk in runs.chunks(BUCKETS_PER_STATEMENT) {
            let mut q: QueryBuilder<Sqlite> =
                QueryBuilder::new("SELECT lookup_key, entries FROM story_buckets WHERE lookup_key IN (");
            let mut list = q.separated(", ");
            for run in chunk.iter() {
                list.push_bind(run[0].0);
            }
            q.push(")");
            let existing: FxHashMap<i64, Vec<u8>> = q
                .build_query_as()
                .fetch_all(&mut *tx)
                .await?
                .into_iter()
                .collect();
            let mut buckets: Vec<(i64, Vec<u8>)> = Vec::with_capacity(chunk.len());
            let mut empty: Vec<i64> = Vec::new();
            for run in chunk.iter() {
                let key = run[0].0;
                let old = existing.get(&key);
                let mut blob =
                    Vec::with_capacity(old.map_or(0, Vec::len) + run.len() * (KeyEntry::FIXED + 2));
                for (entry, bytes) in Entries::new(old.map_or(&[][..], Vec::as_slice)) {
                    if gone.contains(&entry.id) {
                        removed += 1;
                    } else {
                        blob.extend_from_slice(bytes);
                    }
                }
                for &(_, i) in run.iter().filter(|p| p.1 != NONE) {
                    let (id, fp, lang, time) = &owed[i as usize];
                    KeyEntry {
                        id: *id,
                        fingerprint: *fp as u64,
                        time: *time,
                        lang,
                    }
                    .encode(&mut blob);
                }
                if !blob.is_empty() {
                    buckets.push((key, blob));
                } else if old.is_some() {
                    empty.push(key);
                }
            }
            if !buckets.is_empty() {
                rows += buckets.len();
                let mut q: QueryBuilder<Sqlite> =
                    QueryBuilder::new("INSERT INTO story_buckets (lookup_key, entries) ");
                q.push_values(&buckets, |mut row, (key, blob)| {
                    row.push_bind(key).push_bind(blob);
                });
                q.push(" ON CONFLICT (lookup_key) DO UPDATE SET entries = excluded.entries");
                q.build().execute(&mut *tx).await?;
            }
            if !empty.is_empty() {
                let mut q: QueryBuilder<Sqlite> =
                    QueryBuilder::new("DELETE FROM story_buckets WHERE lookup_key IN (");
                let mut list = q.separated(", ");
                for key in &empty {
                    list.push_bind(key);
                }
                q.push(")");
                q.build().execute(&mut *tx).await?;
            }
        }
        sqlx::query("DELETE FROM story_keys_pending")
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM story_keys_stale")
            .execute(&mut *tx)
            .await?;
        tracing::debug!(
            owed = owed.len(),
            stale = stale.len(),
            removed,
            rows,
            elapsed = ?started.elapsed(),
            "settled story keys"
        );
        self.owed = Some(0);
        self.owed_items = Some(Vec::new());
        Ok(())
    }

    /// Whether time has moved a whole window past the copy's horizon: then
    /// a window of it is older than any lookup of new articles needs, and
    /// reading it again drops that.
    fn stale(&self) -> bool {
        self.loaded
            && self.horizon != i64::MIN
            && self.newest.saturating_sub(2 * self.window) > self.horizon.saturating_add(self.window)
    }

    /// The horizon, if a lookup from `from` (seconds since the epoch)
    /// reaches past it: candidates older than it must come from the
    /// buckets ([`sql_near`] without the owed items, which the copy holds).
    pub fn horizon_after(&self, from: i64) -> Option<i64> {
        (self.loaded && self.horizon != i64::MIN && from < self.horizon).then_some(self.horizon)
    }

    /// Whether lookups should use the copy, loading it first if this
    /// process has made enough lookups to pay for reading it. `window` is
    /// the story window (see the module documentation). A database with
    /// fewer items than [`LOOKUPS_BEFORE_LOAD`] is read at the first lookup.
    /// Lookups without the copy read the buckets and scan the owed items,
    /// read once (a debt over [`PENDING_SCAN_MAX`] is settled instead).
    pub async fn ready(&mut self, tx: &mut SqliteConnection, window: chrono::Duration) -> Result<bool> {
        if self.loaded {
            return Ok(true);
        }
        #[cfg(test)]
        let (mut eager, small) = (self.load_at_once, self.load_small);
        #[cfg(not(test))]
        let (mut eager, small) = (false, true);
        if self.sql_lookups == 0 && small && !eager {
            // Reading the copy of a database with fewer items than the
            // lookups that pay for it costs less than those lookups: a
            // cold cycle reads its empty copy at once.
            let items: i64 = sqlx::query_scalar("SELECT coalesce(max(id), 0) FROM items")
                .fetch_one(&mut *tx)
                .await?;
            eager = items < i64::from(LOOKUPS_BEFORE_LOAD);
        }
        if self.sql_lookups < LOOKUPS_BEFORE_LOAD && !eager {
            self.sql_lookups += 1;
            if self.owed_items.is_none() {
                let count: i64 = sqlx::query_scalar("SELECT count(*) FROM story_keys_pending")
                    .fetch_one(&mut *tx)
                    .await?;
                if count as u64 > PENDING_SCAN_MAX {
                    self.settle(tx).await?;
                } else {
                    (self.owed, self.owed_items) = (Some(0), Some(Vec::new()));
                    for (id, fp, lang, time) in read_owed(tx).await? {
                        self.owe_item(id, fp as u64, &lang, time);
                    }
                }
                self.data_version = Some(data_version(tx).await?);
            }
            return Ok(false);
        }
        self.load(tx, window).await?;
        Ok(true)
    }

    async fn load(&mut self, tx: &mut SqliteConnection, window: chrono::Duration) -> Result<()> {
        let open = self.open;
        self.invalidate();
        self.open = open;
        self.window = window.num_seconds().max(1);
        // Then every owed item is one the copy is told of (`insert`), and
        // lookups past the horizon need only the buckets.
        self.settle(tx).await?;
        let newest: Option<String> = sqlx::query_scalar("SELECT max(sort_at) FROM items")
            .fetch_one(&mut *tx)
            .await?;
        self.newest = newest
            .as_deref()
            .map_or(i64::MIN, time)
            .min(self.clock.now().timestamp());
        self.horizon = if self.newest == i64::MIN {
            i64::MIN
        } else {
            self.newest.saturating_sub(2 * self.window)
        };
        let horizon = chrono::DateTime::from_timestamp(self.horizon, 0).map_or_else(String::new, super::ts);
        let rows: Vec<IndexRow> = sqlx::query_as(
            "SELECT id, fingerprint, coalesce(lang, ''), sort_at, story_id, sketch \
             FROM items WHERE sort_at >= ? AND fingerprint IS NOT NULL",
        )
        .bind(horizon)
        .fetch_all(&mut *tx)
        .await?;
        for (id, fingerprint, lang, sort_at, story, sketch) in rows {
            let sketch = sketch.map(|b| stories::sketch_from_bytes(&b));
            self.put(id, fingerprint as u64, &lang, &sort_at, story, sketch.as_deref());
        }
        self.data_version = Some(data_version(tx).await?);
        self.loaded = true;
        tracing::debug!(
            items = self.by_id.len(),
            horizon = self.horizon,
            "story index copy loaded"
        );
        Ok(())
    }

    /// Records an item's fingerprint (replacing what was known of it) if
    /// the copy is loaded.
    pub fn insert(
        &mut self,
        id: i64,
        fingerprint: u64,
        lang: &str,
        sort_at: &str,
        story: Option<i64>,
        sketch: &[u32],
    ) {
        if self.loaded {
            self.put(id, fingerprint, lang, sort_at, story, Some(sketch));
        }
    }

    fn put(
        &mut self,
        id: i64,
        fingerprint: u64,
        lang: &str,
        sort_at: &str,
        story: Option<i64>,
        sketch: Option<&[u32]>,
    ) {
        self.remove(id);
        let lang = self.lang(lang);
        let slot = self.entries.len() as u32;
        if self.keys.is_empty() {
            self.keys = Buckets::new(stories::LOOKUP_BLOCKS as usize * BLOCK_VALUES);
        }
        for key in stories::lookup_keys(fingerprint) {
            self.keys.push(bucket(key), fingerprint, Keyed { slot, lang });
        }
        self.by_id.insert(id, slot);
        let time = time(sort_at);
        self.newest = self.newest.max(time.min(self.clock.now().timestamp()));
        let (sketch_at, sketch_len) = self.push_sketch(sketch);
        self.entries.push(Entry {
            id,
            fingerprint,
            time,
            story,
            sketch_at,
            sketch_len,
        });
    }

    fn push_sketch(&mut self, sketch: Option<&[u32]>) -> (u32, u8) {
        let at = self.sketches.len() as u32;
        match sketch {
            Some(sketch) => {
                let sketch = &sketch[..sketch.len().min(stories::SKETCH_SIZE)];
                self.sketches.extend_from_slice(sketch);
                (at, sketch.len() as u8)
            }
            None => (at, NO_SKETCH),
        }
    }

    /// Forgets an item's fingerprint (an edit that removed or changed it).
    pub fn remove(&mut self, id: i64) {
        let Some(slot) = self.by_id.remove(&id) else {
            return;
        };
        let entry = &self.entries[slot as usize];
        for key in stories::lookup_keys(entry.fingerprint) {
            self.keys.remove(bucket(key), slot);
        }
        // The entry and its sketch stay, unreachable.
    }

    /// Records the story read for an item.
    pub fn set_story(&mut self, id: i64, story: Option<i64>) {
        if let Some(&slot) = self.by_id.get(&id) {
            self.entries[slot as usize].story = story;
        }
    }

    /// Records that the items of story `gone` are now in story `keep`.
    pub fn rename_story(&mut self, gone: i64, keep: i64) {
        for entry in &mut self.entries {
            if entry.story == Some(gone) {
                entry.story = Some(keep);
            }
        }
    }

    /// Records the sketch computed for an item stored without one.
    pub fn set_sketch(&mut self, id: i64, sketch: &[u32]) {
        if let Some(&slot) = self.by_id.get(&id) {
            let (at, len) = self.push_sketch(Some(sketch));
            let entry = &mut self.entries[slot as usize];
            (entry.sketch_at, entry.sketch_len) = (at, len);
        }
    }

    /// Whether the item's sketch says it is the same story as `sketch`
    /// ([`stories::same_story_sketch`]); `None` if the copy has no sketch of
    /// it.
    pub fn same_story(&self, id: i64, sketch: &[u32]) -> Option<bool> {
        let entry = &self.entries[*self.by_id.get(&id)? as usize];
        if entry.sketch_len == NO_SKETCH {
            return None;
        }
        let at = entry.sketch_at as usize;
        let stored = &self.sketches[at..at + entry.sketch_len as usize];
        Some(stories::same_story_sketch(sketch, stored))
    }

    /// Items of language `lang` (by primary subtag) whose time is within
    /// `from..=to` (seconds since the epoch) and whose fingerprint is
    /// within [`stories::NEAR_DUPLICATE_DISTANCE`] of `fp`, nearest first,
    /// then oldest (the order of the SQL lookup).
    pub fn near(&self, fp: u64, lang: &str, from: i64, to: i64) -> Vec<Near> {
        let Some(lang) = self.known_lang(lang) else {
            return Vec::new();
        };
        if self.keys.is_empty() {
            return Vec::new();
        }
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("popcnt") {
            // SAFETY: the CPU has the instruction.
            return unsafe { self.near_popcnt(fp, lang, from, to) };
        }
        self.near_in(fp, lang, from, to)
    }

    /// [`StoryIndex::near`] compiled with the `popcnt` instruction, which
    /// the baseline x86-64 target lacks: a lookup compares a few thousand
    /// fingerprints (the farm's non-English fingerprints crowd into few
    /// keys), and the Hamming distance is most of the comparison.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "popcnt")]
    fn near_popcnt(&self, fp: u64, lang: u16, from: i64, to: i64) -> Vec<Near> {
        self.near_in(fp, lang, from, to)
    }

    #[inline(always)]
    fn near_in(&self, fp: u64, lang: u16, from: i64, to: i64) -> Vec<Near> {
        let probes = stories::probe_keys(fp, stories::NEAR_DUPLICATE_DISTANCE);
        // The probes hit ~70 of the 40,960 buckets at random: waiting for
        // each bucket and its first items in turn, one cache miss after
        // the other, was most of a lookup (perf annotate: 90 % of the
        // samples on the loads). Asking for all of them first lets the
        // misses overlap.
        for &key in &probes {
            prefetch(&self.keys.spans[bucket(key)]);
        }
        // A bucket holds ~10 items (a few cache lines; crowded ones more):
        // ask for its lines up to a bound, not only the first.
        const LINE: usize = 64 / std::mem::size_of::<u64>();
        for &key in &probes {
            for fingerprint in self.keys.fingerprints(bucket(key)).iter().step_by(LINE).take(8) {
                prefetch(fingerprint);
            }
        }
        let mut found: Vec<(u32, i64, u32)> = Vec::new();
        for key in probes {
            let span = self.keys.spans[bucket(key)];
            for (at, &other) in self.keys.fingerprints[span.range()].iter().enumerate() {
                let d = stories::hamming(fp, other);
                if d > stories::NEAR_DUPLICATE_DISTANCE {
                    continue;
                }
                let keyed = self.keys.keyed[span.start as usize + at];
                if keyed.lang != lang {
                    continue;
                }
                let entry = &self.entries[keyed.slot as usize];
                if entry.time >= from && entry.time <= to {
                    found.push((d, entry.id, keyed.slot));
                }
            }
        }
        found.sort_unstable();
        found.dedup();
        found
            .into_iter()
            .map(|(distance, id, slot)| Near {
                distance,
                id,
                story: self.entries[slot as usize].story,
            })
            .collect()
    }
}

/// Seconds of time a bucket row covers: a key's items are split by their
/// time into rows of this span, so that a lookup reads the items of the
/// periods its window overlaps (two or three), not of the whole archive.
const BUCKET_PERIOD: i64 = 30 * 86_400;

/// The period of a time (seconds since the epoch), as bucket keys hold it.
fn period(time: i64) -> i64 {
    time.div_euclid(BUCKET_PERIOD).clamp(0, (1 << 40) - 1)
}

/// The `story_buckets` key of a [`stories::lookup_keys`] entry in a period:
/// the period from bit 16, the block number in bits 13–15, the block's
/// value in the 13 bits below.
fn bucket_key(lookup_key: i64, period: i64) -> i64 {
    let (block, value) = block_and_value(lookup_key);
    debug_assert!(block < 8 && value < 1 << 13);
    period << 16 | (block as i64) << 13 | value as i64
}

/// The SQL reading the buckets of `probes` probe keys.
pub(super) fn bucket_lookup_sql(probes: usize) -> String {
    format!(
        "SELECT entries FROM story_buckets WHERE lookup_key IN ({})",
        vec!["?"; probes].join(", ")
    )
}

/// Every row of `story_keys_pending`, read as one string: sqlx hands rows
/// over one at a time between threads, which took 0.1 s for the 60,000 of
/// a cold cycle, more than the rest of reading them.
async fn read_owed(tx: &mut SqliteConnection) -> Result<Vec<Owed>> {
    let all: Option<String> = sqlx::query_scalar(
        "SELECT group_concat(item_id || ' ' || fingerprint || ' ' || at || ' ' || hex(lang), ',') \
         FROM story_keys_pending",
    )
    .fetch_one(&mut *tx)
    .await?;
    let Some(all) = all else {
        return Ok(Vec::new());
    };
    let parse = |row: &str| -> Option<Owed> {
        let mut fields = row.split(' ');
        let id = fields.next()?.parse().ok()?;
        let fp = fields.next()?.parse().ok()?;
        let at = fields.next()?.parse().ok()?;
        let lang = unhex(fields.next()?)?;
        Some((id, fp, lang, at))
    };
    all.split(',')
        .map(|row| {
            parse(row).ok_or_else(|| super::StoreError::Malformed {
                table: "story_keys_pending",
                row: row.to_string(),
            })
        })
        .collect()
}

/// The text SQLite's `hex()` made.
fn unhex(hex: &str) -> Option<String> {
    if !hex.len().is_multiple_of(2) {
        return None;
    }
    let bytes: Option<Vec<u8>> = hex
        .as_bytes()
        .chunks(2)
        .map(|pair| u8::from_str_radix(std::str::from_utf8(pair).ok()?, 16).ok())
        .collect();
    String::from_utf8(bytes?).ok()
}

/// Candidates within [`stories::NEAR_DUPLICATE_DISTANCE`] of `fp`, of
/// language `lang` (by primary subtag: entries hold full tags) and time
/// within `from..=to` (seconds since the epoch), from the buckets of its
/// probe keys, nearest first, then by id. Entries may be stale (see the
/// module documentation): the caller checks each candidate against
/// `items`.
pub(super) async fn sql_near(
    tx: &mut SqliteConnection,
    fp: u64,
    lang: &str,
    (from, to): (i64, i64),
) -> Result<Vec<Near>> {
    let probes = stories::probe_keys(fp, stories::NEAR_DUPLICATE_DISTANCE);
    let periods = period(from)..=period(to);
    let sql = bucket_lookup_sql(probes.len() * periods.clone().count());
    let mut q = sqlx::query_scalar::<_, Vec<u8>>(&sql);
    for key in &probes {
        for period in periods.clone() {
            q = q.bind(bucket_key(*key, period));
        }
    }
    let lang = cut(lang);
    let mut near: Vec<(u32, i64)> = Vec::new();
    for blob in q.fetch_all(&mut *tx).await? {
        for (entry, _) in Entries::new(&blob) {
            if model::same_language(entry.lang, lang) && (from..=to).contains(&entry.time) {
                let distance = stories::hamming(fp, entry.fingerprint);
                if distance <= stories::NEAR_DUPLICATE_DISTANCE {
                    near.push((distance, entry.id));
                }
            }
        }
    }
    near.sort_unstable();
    let mut seen = FxHashSet::default();
    Ok(near
        .into_iter()
        .filter(|&(_, id)| seen.insert(id))
        .map(|(distance, id)| Near {
            distance,
            id,
            story: None,
        })
        .collect())
}

/// Asks the CPU to bring `value`'s cache line in, without waiting for it.
#[inline(always)]
fn prefetch<T>(value: &T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch never faults and reads nothing the program sees.
    unsafe {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        _mm_prefetch::<_MM_HINT_T0>(std::ptr::from_ref(value).cast());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = value;
}

/// Where a [`stories::lookup_keys`] entry's items are in `StoryIndex::keys`.
fn bucket(key: i64) -> usize {
    let (block, value) = block_and_value(key);
    debug_assert!(value < BLOCK_VALUES);
    block * BLOCK_VALUES + value
}

/// The block number and value a [`stories::lookup_keys`] entry holds.
fn block_and_value(key: i64) -> (usize, usize) {
    let shift = stories::LOOKUP_KEY_BLOCK_SHIFT;
    ((key >> shift) as usize, (key & ((1 << shift) - 1)) as usize)
}

/// `PRAGMA data_version` of the connection: it changes when another
/// connection commits.
async fn data_version(tx: &mut SqliteConnection) -> Result<i64> {
    Ok(sqlx::query_scalar("PRAGMA data_version")
        .fetch_one(&mut *tx)
        .await?)
}

/// A stored timestamp as seconds since the epoch (`i64::MIN` if unreadable,
/// which compares like the empty string in SQL).
pub(super) fn time(ts: &str) -> i64 {
    super::parse_ts(ts).map_or(i64::MIN, |t| t.timestamp())
}

/// Test helpers: the index as stored, and as it should be.
#[cfg(test)]
pub(super) mod check {
    use super::*;

    /// An entry as a row: key, item id, fingerprint, time, language.
    pub type Row = (i64, i64, i64, i64, String);

    /// Every entry in `story_buckets`, sorted.
    pub async fn stored(conn: &sqlx::SqlitePool) -> Vec<Row> {
        let buckets: Vec<(i64, Vec<u8>)> = sqlx::query_as("SELECT lookup_key, entries FROM story_buckets")
            .fetch_all(conn)
            .await
            .unwrap();
        let mut rows: Vec<Row> = buckets
            .iter()
            .flat_map(|(key, blob)| {
                let decoded: Vec<_> = Entries::new(blob).collect();
                let len: usize = decoded.iter().map(|(_, bytes)| bytes.len()).sum();
                assert_eq!(len, blob.len(), "bucket {key} decodes whole");
                decoded
                    .into_iter()
                    .map(|(e, _)| (*key, e.id, e.fingerprint as i64, e.time, e.lang.to_string()))
            })
            .collect();
        rows.sort();
        rows
    }

    /// The entries [`stories::lookup_keys`] gives for every fingerprinted
    /// item in `items`, sorted as [`stored`].
    pub async fn expected(conn: &sqlx::SqlitePool) -> Vec<Row> {
        let items: Vec<(i64, i64, Option<String>, String)> =
            sqlx::query_as("SELECT id, fingerprint, lang, sort_at FROM items WHERE fingerprint IS NOT NULL")
                .fetch_all(conn)
                .await
                .unwrap();
        let mut rows: Vec<Row> = items
            .into_iter()
            .flat_map(|(id, fp, lang, sort_at)| {
                let lang = lang.unwrap_or_default();
                let at = time(&sort_at);
                stories::lookup_keys(fp as u64)
                    .into_iter()
                    .map(move |key| (bucket_key(key, period(at)), id, fp, at, lang.clone()))
            })
            .collect();
        rows.sort();
        rows
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;

    /// Entries pack and unpack, with languages of any length (a longer one
    /// than a length field holds is cut at a character boundary); a
    /// truncated blob ends the entries.
    #[test]
    fn entries_round_trip() {
        let long = "ü".repeat(40_000);
        let entries = [
            KeyEntry {
                id: 1,
                fingerprint: u64::MAX,
                time: -5,
                lang: "",
            },
            KeyEntry {
                id: i64::MAX,
                fingerprint: 7,
                time: 1_506_000_000,
                lang: "fa-ir",
            },
            KeyEntry {
                id: 3,
                fingerprint: 1 << 63,
                time: i64::MIN,
                lang: &long,
            },
        ];
        let mut blob = Vec::new();
        for entry in &entries {
            entry.encode(&mut blob);
        }
        let decoded: Vec<KeyEntry> = Entries::new(&blob).map(|(e, _)| e).collect();
        assert_eq!(decoded[..2], entries[..2]);
        assert_eq!(decoded[2].lang, cut(&long));
        assert!(cut(&long).len() <= u16::MAX as usize && cut(&long).len() > 65_000);
        assert_eq!(Entries::new(&blob[..blob.len() - 1]).count(), 2);
        assert_eq!(Entries::new(&blob[..30]).count(), 1);
    }

    /// The slabs hold what a vector per bucket would, through moves and
    /// removals, in less than twice the room in use.
    #[test]
    fn buckets_hold_what_vectors_would() {
        let mut rng = fastrand::Rng::with_seed(3);
        let n = 64;
        let mut buckets = Buckets::new(n);
        let mut plain: Vec<Vec<(u64, u32)>> = vec![Vec::new(); n];
        for slot in 0..200_000u32 {
            // Crowded and sparse buckets, as the farm's fingerprints give.
            let bucket = if rng.bool() {
                rng.usize(..4)
            } else {
                rng.usize(..n)
            };
            let fp = rng.u64(..);
            buckets.push(bucket, fp, Keyed { slot, lang: 0 });
            plain[bucket].push((fp, slot));
            if slot % 7 == 0 {
                let (bucket, victim) = (rng.usize(..n), rng.u32(..=slot));
                buckets.remove(bucket, victim);
                plain[bucket].retain(|&(_, s)| s != victim);
            }
        }
        for (bucket, items) in plain.iter().enumerate() {
            let span = buckets.spans[bucket];
            let stored: Vec<(u64, u32)> = span
                .range()
                .map(|at| (buckets.fingerprints[at], buckets.keyed[at].slot))
                .collect();
            assert_eq!(&stored, items, "bucket {bucket}");
            assert_eq!(buckets.fingerprints(bucket).len(), items.len());
        }
        assert!(buckets.fingerprints.len() < 2 * buckets.room);
    }

    #[test]
    fn sqlite_hex_reads_back() {
        assert_eq!(unhex("").as_deref(), Some(""));
        assert_eq!(unhex("66612D6972").as_deref(), Some("fa-ir"));
        assert_eq!(unhex("C3BC").as_deref(), Some("ü"));
        assert_eq!(unhex("6"), None);
        assert_eq!(unhex("ZZ"), None);
    }

    /// Once the newest item is a whole window past what lookups of new
    /// articles need (two windows back), the copy is read again.
    #[test]
    fn the_copy_goes_stale_one_window_past_its_horizon() {
        let day = 86_400;
        let start = Utc::now().timestamp() - 100 * day;
        let at =
            |days: i64| super::super::ts(chrono::DateTime::from_timestamp(start + days * day, 0).unwrap());
        let mut index = StoryIndex {
            loaded: true,
            window: 7 * day,
            horizon: start,
            newest: start + 14 * day,
            ..StoryIndex::default()
        };
        index.put(1, 1, "en", &at(20), None, None);
        assert!(!index.stale());
        index.put(2, 2, "en", &at(22), None, None);
        assert!(index.stale());
        // Items dated in the future count as the present.
        index.newest = start + 14 * day;
        index.put(3, 3, "en", &at(200), None, None);
        assert!(index.newest <= Utc::now().timestamp());
        assert!(index.newest >= start + 99 * day);
    }
}
