//! An in-memory copy of the story lookup index (`story_keys`, with each
//! item's story and sketch), so that finding the story of a new item costs
//! no statement.
//!
//! `story_keys` stays the source of truth (for `sqlite3` users and other
//! backends); this copy is the store's private cache of it. It is loaded
//! lazily: the first lookups of a process go to SQL, and only a process that
//! makes many (a cold cycle, a large churn) reads the index once. Every
//! write goes through the store's single write connection while the copy's
//! lock is held, so the copy follows each write; writes of another process
//! are noticed through `PRAGMA data_version` and drop the copy.
//!
//! The copy holds the recent part of the index only: items from two story
//! windows before the newest item (its *horizon*) on, plus every item
//! written since it was read. A lookup whose window reaches past the horizon
//! (an old article arriving late) also asks `story_keys` for the older part.
//! As time moves on the copy is read again, a window later, so a daemon's
//! copy stays at two to three windows of items however large the archive
//! grows.
//!
//! While the copy is loaded, lookups need no `story_keys` rows, so a new
//! item's rows are owed instead of written: its id goes to
//! `story_keys_pending`, and [`StoryIndex::settle`] writes the rows of every
//! owed item at once, in key order. Rows written per group commit went to
//! random places of the table, so each of a cold cycle's ~70 commits
//! rewrote pages all over it. The debt is settled when it outgrows the
//! copy, when the writer is idle, on close, and before anything reads
//! `story_keys` (a load, or a lookup without the copy; a process that
//! stopped owing leaves its ids for the next one).

use std::sync::OnceLock;

use chrono::Utc;
use rustc_hash::FxHashMap;

use sqlx::SqliteConnection;

use super::Result;
use crate::dedup;

/// SQL lookups a process makes before it loads the whole index.
const LOOKUPS_BEFORE_LOAD: u32 = 1000;

/// Owed items below which a write leaves the debt for later (see
/// [`StoryIndex::should_settle`]).
const SETTLE_AT: u64 = 100_000;

/// Writes the `story_keys` rows of the items in `story_keys_pending`:
/// [`dedup::lookup_keys`] computed in SQL from [`dedup::lookup_layout`] (as
/// the triggers of migrations 0011 and 0012 do), sorted by the table's key
/// so that each page is written once.
fn settle_sql() -> &'static str {
    static SQL: OnceLock<String> = OnceLock::new();
    SQL.get_or_init(|| {
        let blocks: Vec<String> = dedup::lookup_layout()
            .enumerate()
            .map(|(block, (shift, mask))| {
                format!(
                    "SELECT ({block} << {}) | ((fp >> {shift}) & {mask}), lang, sort_at, id, fp FROM owed",
                    dedup::LOOKUP_KEY_BLOCK_SHIFT
                )
            })
            .collect();
        format!(
            "WITH owed AS MATERIALIZED ( \
                 SELECT i.id, i.fingerprint AS fp, coalesce(i.lang, '') AS lang, i.sort_at \
                 FROM story_keys_pending p JOIN items i ON i.id = p.item_id WHERE i.fingerprint IS NOT NULL) \
             INSERT INTO story_keys (lookup_key, lang, sort_at, item_id, fingerprint) \
             SELECT * FROM ({}) WHERE true ORDER BY 1, 2, 3, 4 \
             ON CONFLICT DO NOTHING",
            blocks.join(" UNION ALL ")
        )
    })
}

/// A row of the index as read: item id, fingerprint, language, sort_at,
/// story, sketch.
type IndexRow = (i64, i64, String, String, Option<i64>, Option<Vec<u8>>);

/// Values of a [`dedup::lookup_keys`] block: the widest block's bits.
const BLOCK_VALUES: usize = 1 << 64_u32.div_ceil(dedup::LOOKUP_BLOCKS);

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

/// An item under one lookup key: its fingerprint and language beside its
/// index in `entries`, so that the many candidates of a probe that are too
/// far or of another language are rejected without touching their entry.
#[derive(Debug, Clone, Copy)]
struct Keyed {
    fingerprint: u64,
    slot: u32,
    lang: u16,
}

/// A candidate the copy found: within the distance, of the language and time.
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
    /// Replaces [`SETTLE_AT`].
    #[cfg(test)]
    pub settle_at: Option<u64>,
    /// Items of this process in `story_keys_pending` (see the module
    /// documentation); `None` when unknown: at start, and after the copy
    /// was dropped (a failed write, another process).
    owed: Option<u64>,
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
    langs: FxHashMap<String, u16>,
    entries: Vec<Entry>,
    sketches: Vec<u32>,
    /// Item id → index in `entries`.
    by_id: FxHashMap<i64, u32>,
    /// The items with each [`dedup::lookup_keys`] entry, at `block ·
    /// BLOCK_VALUES + value`: a probe is an array index, not a hash lookup.
    /// Empty until the first item.
    keys: Vec<Vec<Keyed>>,
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
            settle_at: self.settle_at,
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
        if self.loaded {
            let version: i64 = sqlx::query_scalar("PRAGMA data_version")
                .fetch_one(&mut *tx)
                .await?;
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

    /// Records that `items` more items are in `story_keys_pending`.
    pub fn owe(&mut self, items: u64) {
        self.owed = Some(self.owed.unwrap_or(0) + items);
    }

    /// Whether this process knows it owes rows (a known debt; one left by
    /// another process is settled before `story_keys` is read).
    pub fn owes(&self) -> bool {
        self.owed.is_some_and(|owed| owed > 0)
    }

    /// Whether the debt has grown past [`SETTLE_AT`] and the settled part
    /// of the copy: each settling rewrites about the whole table, so the
    /// debt may grow with it (the pages are rewritten a logarithmic number
    /// of times as a large cold cycle fills the table, not once a commit).
    pub fn should_settle(&self) -> bool {
        #[cfg(test)]
        let at = self.settle_at.unwrap_or(SETTLE_AT);
        #[cfg(not(test))]
        let at = SETTLE_AT;
        let owed = self.owed.unwrap_or(0);
        let settled = (self.by_id.len() as u64).saturating_sub(owed);
        owed > 0 && owed >= at.max(settled)
    }

    /// Writes the `story_keys` rows of every item in `story_keys_pending`
    /// (unless it is known to be empty), inside the write transaction `tx`.
    pub async fn settle(&mut self, tx: &mut SqliteConnection) -> Result<()> {
        if self.owed == Some(0) {
            return Ok(());
        }
        let started = std::time::Instant::now();
        let rows = sqlx::query(settle_sql()).execute(&mut *tx).await?.rows_affected();
        let inserted = started.elapsed();
        sqlx::query("DELETE FROM story_keys_pending")
            .execute(&mut *tx)
            .await?;
        tracing::debug!(owed = self.owed, rows, ?inserted, elapsed = ?started.elapsed(), "settled story keys");
        self.owed = Some(0);
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

    /// The horizon as a stored timestamp, if a lookup from `from` reaches
    /// past it: candidates older than it must come from `story_keys`.
    pub fn horizon_after(&self, from: &str) -> Option<String> {
        (self.loaded && self.horizon != i64::MIN && time(from) < self.horizon)
            .then(|| chrono::DateTime::from_timestamp(self.horizon, 0).map(super::ts))
            .flatten()
    }

    /// Whether lookups should use the copy, loading it first if this
    /// process has made enough lookups to pay for reading it. `window` is
    /// the story window (see the module documentation).
    pub async fn ready(&mut self, tx: &mut SqliteConnection, window: chrono::Duration) -> Result<bool> {
        if self.loaded {
            return Ok(true);
        }
        #[cfg(test)]
        let eager = self.load_at_once;
        #[cfg(not(test))]
        let eager = false;
        if self.sql_lookups < LOOKUPS_BEFORE_LOAD && !eager {
            self.sql_lookups += 1;
            // The lookup reads `story_keys`.
            self.settle(tx).await?;
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
        self.settle(tx).await?;
        let newest: Option<String> = sqlx::query_scalar("SELECT max(sort_at) FROM items")
            .fetch_one(&mut *tx)
            .await?;
        self.newest = newest
            .as_deref()
            .map_or(i64::MIN, time)
            .min(Utc::now().timestamp());
        self.horizon = if self.newest == i64::MIN {
            i64::MIN
        } else {
            self.newest.saturating_sub(2 * self.window)
        };
        let horizon = chrono::DateTime::from_timestamp(self.horizon, 0).map_or_else(String::new, super::ts);
        // One row per item: block 0 of its lookup keys (block number in the
        // top byte).
        let rows: Vec<IndexRow> = sqlx::query_as(
            "SELECT k.item_id, k.fingerprint, k.lang, k.sort_at, i.story_id, i.sketch \
             FROM story_keys k JOIN items i ON i.id = k.item_id WHERE k.lookup_key < ? AND k.sort_at >= ?",
        )
        .bind(1i64 << dedup::LOOKUP_KEY_BLOCK_SHIFT)
        .bind(horizon)
        .fetch_all(&mut *tx)
        .await?;
        for (id, fingerprint, lang, sort_at, story, sketch) in rows {
            let sketch = sketch.map(|b| dedup::sketch_from_bytes(&b));
            self.put(id, fingerprint as u64, &lang, &sort_at, story, sketch.as_deref());
        }
        self.data_version = Some(
            sqlx::query_scalar("PRAGMA data_version")
                .fetch_one(&mut *tx)
                .await?,
        );
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
        let lang = match self.langs.get(lang) {
            Some(&lang) => lang,
            None => {
                let next = self.langs.len() as u16;
                self.langs.insert(lang.to_string(), next);
                next
            }
        };
        let slot = self.entries.len() as u32;
        if self.keys.is_empty() {
            self.keys
                .resize_with(dedup::LOOKUP_BLOCKS as usize * BLOCK_VALUES, Vec::new);
        }
        for key in dedup::lookup_keys(fingerprint) {
            self.keys[bucket(key)].push(Keyed {
                fingerprint,
                slot,
                lang,
            });
        }
        self.by_id.insert(id, slot);
        let time = time(sort_at);
        self.newest = self.newest.max(time.min(Utc::now().timestamp()));
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
                let sketch = &sketch[..sketch.len().min(dedup::SKETCH_SIZE)];
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
        for key in dedup::lookup_keys(entry.fingerprint) {
            self.keys[bucket(key)].retain(|k| k.slot != slot);
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
    /// ([`dedup::same_story_sketch`]); `None` if the copy has no sketch of
    /// it.
    pub fn same_story(&self, id: i64, sketch: &[u32]) -> Option<bool> {
        let entry = &self.entries[*self.by_id.get(&id)? as usize];
        if entry.sketch_len == NO_SKETCH {
            return None;
        }
        let at = entry.sketch_at as usize;
        let stored = &self.sketches[at..at + entry.sketch_len as usize];
        Some(dedup::same_story_sketch(sketch, stored))
    }

    /// Items of language `lang` whose time is within `[from, to]` and whose
    /// fingerprint is within [`dedup::NEAR_DUPLICATE_DISTANCE`] of `fp`,
    /// nearest first, then oldest (the order of the SQL lookup).
    pub fn near(&self, fp: u64, lang: &str, from: &str, to: &str) -> Vec<Near> {
        let Some(&lang) = self.langs.get(lang) else {
            return Vec::new();
        };
        if self.keys.is_empty() {
            return Vec::new();
        }
        let (from, to) = (time(from), time(to));
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
        let probes = dedup::probe_keys(fp, dedup::NEAR_DUPLICATE_DISTANCE);
        // The probes hit ~70 of the 40,960 buckets at random: waiting for
        // each bucket and its first items in turn, one cache miss after
        // the other, was most of a lookup (perf annotate: 90 % of the
        // samples on the loads). Asking for all of them first lets the
        // misses overlap.
        for &key in &probes {
            prefetch(&self.keys[bucket(key)]);
        }
        // A bucket holds ~10 items (a few cache lines; crowded ones more):
        // ask for its lines up to a bound, not only the first.
        const LINE: usize = 64 / std::mem::size_of::<Keyed>();
        for &key in &probes {
            for keyed in self.keys[bucket(key)].iter().step_by(LINE).take(8) {
                prefetch(keyed);
            }
        }
        let mut found: Vec<(u32, i64, u32)> = Vec::new();
        for key in probes {
            for keyed in &self.keys[bucket(key)] {
                let d = dedup::hamming(fp, keyed.fingerprint);
                if d > dedup::NEAR_DUPLICATE_DISTANCE || keyed.lang != lang {
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

/// Where a [`dedup::lookup_keys`] entry's items are in `StoryIndex::keys`.
fn bucket(key: i64) -> usize {
    let shift = dedup::LOOKUP_KEY_BLOCK_SHIFT;
    let (block, value) = ((key >> shift) as usize, (key & ((1 << shift) - 1)) as usize);
    debug_assert!(value < BLOCK_VALUES);
    block * BLOCK_VALUES + value
}

/// A stored timestamp as seconds since the epoch (`i64::MIN` if unreadable,
/// which compares like the empty string in SQL).
fn time(ts: &str) -> i64 {
    super::parse_ts(ts).map_or(i64::MIN, |t| t.timestamp())
}

#[cfg(test)]
mod tests {
    use super::*;

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
