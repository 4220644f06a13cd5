//! Items and their topic matches, written one transaction per fetched feed.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};

use sqlx::{QueryBuilder, Sqlite};

use super::search::{SearchRows, SearchText};
use super::story_index::{self, StoryIndex};
use super::{ts, Result, SqliteStore};
use crate::fetch::Validators;
use crate::model::NewItem;
use crate::stories;

/// One item to insert or update, with the topics it matches now.
#[derive(Debug)]
pub struct ItemWrite {
    /// The item; its `language` is the language identified from its text
    /// ([`crate::langid::identify`]), stored as `items.lang`.
    pub item: NewItem,
    /// The language tag its feed declared, stored as `items.declared_lang`.
    pub declared_lang: Option<String>,
    /// Identity within the feed ([`crate::model::item_keys`]).
    pub key: String,
    pub content_hash: String,
    /// The feed already lists an item under `key` (with another content
    /// hash): this is an edit of it.
    pub stored: bool,
    /// [`crate::stories::canonical_url`] of the item's link.
    pub canonical_url: Option<String>,
    /// [`crate::stories::fingerprint`] of its title and text.
    pub fingerprint: Option<u64>,
    /// [`crate::stories::sketch`] of its words, with the fingerprint
    /// (computed here when missing).
    pub sketch: Option<Vec<u32>>,
    pub topic_ids: Vec<i64>,
    /// What the full-text index holds of it.
    pub search: SearchText,
    /// Its article page is wanted for its text (its feed's `full_text`):
    /// queued for the page stage (`Store::claim_pages`). An edit queues the
    /// page again (or, without this, drops the page's text).
    pub page: bool,
}

/// Everything a successful fetch changes, applied atomically.
#[derive(Debug)]
pub struct FeedUpdate {
    pub feed_id: i64,
    pub at: DateTime<Utc>,
    pub status: u16,
    pub validators: Validators,
    pub title: Option<String>,
    pub site_url: Option<String>,
    /// New or changed items only (see [`SqliteStore::known_items`]).
    pub items: Vec<ItemWrite>,
    /// A new item joins a story with a near-duplicate item whose time
    /// (published, else first seen) is at most this far from its own.
    pub story_window: chrono::Duration,
    pub next: super::NextCheck,
    /// The publishing rate seen in the document, if it dates its items.
    pub items_per_week: Option<f64>,
    /// A repair that was needed to read the document.
    pub warning: Option<String>,
}

/// What the store knows about an item key of a feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Known {
    /// Stored, with this content hash.
    Stored(String),
    /// Removed by retention; must not come back as new.
    Pruned,
}

/// What one feed update added.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct IngestCounts {
    pub new: u64,
    pub updated: u64,
    pub matches: u64,
    /// Items already stored from another feed (same canonical URL): the
    /// feed was added to their sources.
    pub duplicates: u64,
    /// New items that joined an existing story.
    pub joined: u64,
}

impl SqliteStore {
    /// The item keys a feed has had: stored (with content hash) or pruned.
    /// The pipeline uses it to skip unchanged and pruned items before
    /// matching.
    pub async fn known_items(&self, feed_id: i64) -> Result<HashMap<String, Known>> {
        let rows: Vec<(String, Option<String>)> = sqlx::query_as(
            "SELECT item_key, content_hash FROM item_sources WHERE feed_id = ?1 \
             UNION ALL SELECT item_key, NULL FROM tombstones WHERE feed_id = ?1",
        )
        .bind(feed_id)
        .fetch_all(&self.read)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(key, hash)| (key, hash.map_or(Known::Pruned, Known::Stored)))
            .collect())
    }

    /// Gives items stored before canonical URLs existed (migration 0010
    /// lists them) their canonical URL, in batches. Run at open.
    pub(super) async fn backfill_canonical_urls(&self) -> Result<u64> {
        self.drain_backfill(
            "items_canonical_backfill",
            "i.url, NULL, NULL",
            async |tx, rows| {
                for (id, url, _, _) in rows {
                    if let Some(canonical) = url.as_deref().and_then(stories::canonical_url) {
                        sqlx::query("UPDATE items SET canonical_url = ? WHERE id = ?")
                            .bind(canonical)
                            .bind(id)
                            .execute(&mut *tx)
                            .await?;
                    }
                }
                Ok(())
            },
        )
        .await
    }

    /// Deletes items first seen before `cutoff` that match no topic, leaving
    /// a tombstone for each feed that listed one (their stories' counts
    /// follow by trigger). Returns the number pruned.
    pub async fn prune_unmatched(&self, cutoff: DateTime<Utc>, at: DateTime<Utc>) -> Result<u64> {
        const UNMATCHED: &str =
            "items.first_seen_at < ? AND NOT EXISTS (SELECT 1 FROM item_topics it WHERE it.item_id = items.id)";
        let cutoff = ts(cutoff);
        // Pruned items leave the story index copy.
        let mut stories = self.stories.lock().await;
        stories.invalidate();
        let mut tx = self.write.begin_with("BEGIN IMMEDIATE").await?;
        sqlx::query(&format!(
            "INSERT INTO tombstones (feed_id, item_key, pruned_at) \
             SELECT s.feed_id, s.item_key, ? FROM item_sources s JOIN items ON items.id = s.item_id \
             WHERE {UNMATCHED} ON CONFLICT (feed_id, item_key) DO NOTHING"
        ))
        .bind(ts(at))
        .bind(&cutoff)
        .execute(&mut *tx)
        .await?;
        let pruned = sqlx::query(&format!("DELETE FROM items WHERE {UNMATCHED}"))
            .bind(&cutoff)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        stories.invalidate();
        Ok(pruned)
    }

    /// Applies a successful fetch in one `BEGIN IMMEDIATE` transaction:
    /// - an edit of an item the feed already lists updates it in place (it
    ///   keeps its id and story; its fingerprint and lookup keys follow);
    /// - an item whose canonical URL is already stored (from another feed, or
    ///   under another key) becomes one more source of that item, and gains
    ///   the topics this feed's copy matches;
    /// - any other item is inserted and joins the story of a near-duplicate
    ///   within the window ([`SqliteStore::find_story`]), else starts one;
    ///
    /// then brings topic matches up to date and clears the feed's error.
    ///
    /// Several updates are best applied together
    /// ([`SqliteStore::apply_feed_writes`]): one transaction writes each touched
    /// page once.
    pub async fn apply_feed_update(&self, update: FeedUpdate) -> Result<IngestCounts> {
        let mut results = self
            .apply_feed_writes(vec![super::FeedWrite::Update(update)])
            .await;
        results.pop().expect("one result per write")
    }
}

/// [`SqliteStore::apply_feed_update`] of several feeds inside a write transaction
/// whose story index copy `index` has begun, in a few statements for all of
/// them: each statement is a hand-off to SQLite's thread, and on a busy
/// machine the hand-offs, not SQLite, set the pace. One count per update.
pub(super) async fn apply_updates(
    tx: &mut sqlx::SqliteConnection,
    index: &mut StoryIndex,
    deferred: &mut Deferred,
    updates: &[&FeedUpdate],
) -> Result<Vec<IngestCounts>> {
    let mut counts = vec![IngestCounts::default(); updates.len()];
    // Items already stored under the canonical URLs of the new items (the
    // oldest, if several), kept up to date as new items are inserted.
    let mut by_url = stored_canonical_urls(tx, updates).await?;
    // New items, inserted together.
    let mut pending = NewRows::default();
    for (u, update) in updates.iter().enumerate() {
        let at = ts(update.at);
        for write in &update.items {
            let item = &write.item;
            let published = item.published.map(ts);
            let fingerprint = write.fingerprint.map(|fp| fp as i64);
            let lang = item.language.as_deref().unwrap_or("");
            let sketch: Option<Cow<'_, [u32]>> = write.fingerprint.map(|_| match &write.sketch {
                Some(sketch) => Cow::Borrowed(sketch.as_slice()),
                None => Cow::Owned(stories::sketch(&stories::article_words(&item.title, &item.text))),
            });
            let sketch_bytes = sketch.as_deref().map(stories::sketch_bytes);

            if write.stored {
                let row: Option<(i64, String, Option<i64>)> = sqlx::query_as(
                    "UPDATE items SET guid = ?3, url = ?4, title = ?5, text = ?6, author = ?7, lang = ?8, \
                     published = ?9, updated = ?10, sort_at = coalesce(?9, first_seen_at), fetched_at = ?11, \
                     content_hash = ?12, canonical_url = ?13, fingerprint = ?14, sketch = ?15, \
                     declared_lang = ?16, version = version + 1, text_source = 'feed', summary = NULL, \
                     page_state = CASE WHEN ?17 THEN 'pending' END, page_due = CASE WHEN ?17 THEN ?11 END, \
                     page_error = NULL, page_attempts = 0 \
                 WHERE id = (SELECT item_id FROM item_sources WHERE feed_id = ?1 AND item_key = ?2) \
                 RETURNING id, sort_at, story_id",
                )
                .bind(update.feed_id)
                .bind(&write.key)
                .bind(&item.guid)
                .bind(&item.url)
                .bind(&item.title)
                .bind(&item.text)
                .bind(&item.author)
                .bind(&item.language)
                .bind(&published)
                .bind(item.updated.map(ts))
                .bind(&at)
                .bind(&write.content_hash)
                .bind(&write.canonical_url)
                .bind(fingerprint)
                .bind(&sketch_bytes)
                .bind(&write.declared_lang)
                .bind(write.page)
                .fetch_optional(&mut *tx)
                .await?;
                let Some((item_id, sort_at, story)) = row else {
                    continue; // deleted meanwhile
                };
                deferred.search.add(item_id, &write.search, true);
                sqlx::query("UPDATE item_sources SET content_hash = ? WHERE feed_id = ? AND item_key = ?")
                    .bind(&write.content_hash)
                    .bind(update.feed_id)
                    .bind(&write.key)
                    .execute(&mut *tx)
                    .await?;
                index.remove(item_id);
                if let (Some(fp), Some(sketch)) = (write.fingerprint, &sketch) {
                    deferred
                        .story_keys
                        .add(tx, index, item_id, fp, lang, &sort_at)
                        .await?;
                    index.insert(item_id, fp, lang, &sort_at, story, sketch);
                }
                counts[u].updated += 1;
                let stale: HashSet<i64> =
                    sqlx::query_scalar("SELECT topic_id FROM item_topics WHERE item_id = ?")
                        .bind(item_id)
                        .fetch_all(&mut *tx)
                        .await?
                        .into_iter()
                        .collect();
                counts[u].matches += write_matches(tx, item_id, &write.topic_ids, stale, &at).await?;
                continue;
            }

            if let Some(canonical) = &write.canonical_url {
                if let Some(&item_id) = by_url.get(canonical) {
                    counts[u].duplicates += 1;
                    counts[u].matches += add_source(tx, update, write, item_id, &at).await?;
                    continue;
                }
            }

            // An item that depends on one still waiting to be inserted (same
            // canonical URL, or possibly the same story) waits for it.
            if pending.depends_on(write, sketch.as_deref()) {
                pending
                    .flush(tx, index, deferred, updates, &mut by_url, &mut counts)
                    .await?;
                if let Some(&item_id) = write.canonical_url.as_ref().and_then(|c| by_url.get(c)) {
                    counts[u].duplicates += 1;
                    counts[u].matches += add_source(tx, update, write, item_id, &at).await?;
                    continue;
                }
            }
            let sort_at = published.clone().unwrap_or_else(|| at.clone());
            let story = match (write.fingerprint, &sketch) {
                (Some(fp), Some(sketch)) => {
                    let near = Probe { fp, sketch, lang };
                    let found = find_story(tx, index, &near, &sort_at, update.story_window).await?;
                    // Waiting rows of a merged story join the one kept (rare:
                    // skip the walk over the waiting rows when none merged).
                    if !found.merged.is_empty() {
                        for row in &mut pending.rows {
                            if row.story.is_some_and(|s| found.merged.contains(&s)) {
                                row.story = found.story;
                            }
                        }
                    }
                    found.story
                }
                _ => None,
            };
            pending.rows.push(NewRow {
                update: u,
                write,
                published,
                sort_at,
                story,
                sketch,
                sketch_bytes,
            });
            if pending.rows.len() == NewRows::CHUNK {
                pending
                    .flush(tx, index, deferred, updates, &mut by_url, &mut counts)
                    .await?;
            }
        }
    }
    pending
        .flush(tx, index, deferred, updates, &mut by_url, &mut counts)
        .await?;
    update_feed_rows(tx, updates).await?;
    Ok(counts)
}

/// A new item waiting to be inserted.
struct NewRow<'w> {
    /// Index of its update.
    update: usize,
    write: &'w ItemWrite,
    published: Option<String>,
    sort_at: String,
    /// The story it joins; `None` starts one.
    story: Option<i64>,
    sketch: Option<Cow<'w, [u32]>>,
    sketch_bytes: Option<Vec<u8>>,
}

/// New items of the updates of a transaction, inserted by multi-row
/// `INSERT`s: one statement (and one hand-off to SQLite's thread) for many
/// feeds instead of one per item.
#[derive(Default)]
struct NewRows<'w> {
    rows: Vec<NewRow<'w>>,
}

impl<'w> NewRows<'w> {
    /// Rows per `INSERT` (21 parameters each, below SQLite's limit).
    const CHUNK: usize = 500;

    /// Whether `write` (with its `sketch`) must see a waiting row stored
    /// first: it has the same canonical URL (it is a second source of that
    /// item), or the waiting row may be its story: a fingerprint near
    /// enough, in its language (primary subtag), and a sketch that passes
    /// ([`stories::same_story`]: `find_story` skips candidates that do
    /// not). Without the sketch test the farm's crowded non-English
    /// fingerprints split groups into many small inserts.
    fn depends_on(&self, write: &ItemWrite, sketch: Option<&[u32]>) -> bool {
        fn copy<'a>(write: &'a ItemWrite, sketch: Option<&'a [u32]>) -> Option<stories::Copy<'a>> {
            write.fingerprint.map(|fingerprint| stories::Copy {
                fingerprint,
                lang: write.item.language.as_deref().unwrap_or(""),
                sketch,
            })
        }
        let new = copy(write, sketch);
        self.rows.iter().any(|row| {
            (write.canonical_url.is_some() && row.write.canonical_url == write.canonical_url)
                || match (&new, copy(row.write, row.sketch.as_deref())) {
                    (Some(a), Some(b)) => stories::same_story(a, &b),
                    _ => false,
                }
        })
    }

    /// Inserts the waiting rows, then records what follows from each: its
    /// canonical URL, story keys, search text and topic matches.
    async fn flush(
        &mut self,
        tx: &mut sqlx::SqliteConnection,
        index: &mut StoryIndex,
        deferred: &mut Deferred,
        updates: &[&FeedUpdate],
        by_url: &mut HashMap<String, i64>,
        counts: &mut [IngestCounts],
    ) -> Result<()> {
        if self.rows.is_empty() {
            return Ok(());
        }
        // Stories the rows start, made here with their ids rather than by
        // the `items_new_story` trigger, which would rewrite each new row.
        let starting: Vec<usize> = (0..self.rows.len())
            .filter(|&i| self.rows[i].story.is_none())
            .collect();
        let mut stories = vec![None; self.rows.len()];
        if !starting.is_empty() {
            let first = deferred.story_ids(tx, starting.len()).await?;
            for (n, &i) in starting.iter().enumerate() {
                stories[i] = Some(first + n as i64);
            }
            for chunk in starting.chunks(Self::CHUNK) {
                let mut q: QueryBuilder<Sqlite> = QueryBuilder::new(
                    "INSERT INTO stories (id, headline, first_seen, last_seen, item_count) ",
                );
                // item_count 0: `items_join_story` counts the item in.
                q.push_values(chunk, |mut b, &i| {
                    let row = &self.rows[i];
                    b.push_bind(stories[i])
                        .push_bind(&row.write.item.title)
                        .push_bind(&row.sort_at)
                        .push_bind(&row.sort_at)
                        .push_bind(0);
                });
                q.build().execute(&mut *tx).await?;
            }
        }
        for (story, row) in stories.iter_mut().zip(&self.rows) {
            if story.is_none() {
                *story = row.story;
            }
        }
        let mut q: QueryBuilder<Sqlite> = QueryBuilder::new(
            "INSERT INTO items (feed_id, item_key, guid, url, title, text, author, lang, published, updated, \
             sort_at, fetched_at, first_seen_at, content_hash, canonical_url, fingerprint, story_id, sketch, \
             declared_lang, page_state, page_due) ",
        );
        q.push_values(self.rows.iter().zip(&stories), |mut b, (row, story)| {
            let item = &row.write.item;
            let update = updates[row.update];
            let at = ts(update.at);
            b.push_bind(update.feed_id)
                .push_bind(&row.write.key)
                .push_bind(&item.guid)
                .push_bind(&item.url)
                .push_bind(&item.title)
                .push_bind(&item.text)
                .push_bind(&item.author)
                .push_bind(&item.language)
                .push_bind(&row.published)
                .push_bind(item.updated.map(ts))
                .push_bind(&row.sort_at)
                .push_bind(at.clone())
                .push_bind(at)
                .push_bind(&row.write.content_hash)
                .push_bind(&row.write.canonical_url)
                .push_bind(row.write.fingerprint.map(|fp| fp as i64))
                .push_bind(*story)
                .push_bind(&row.sketch_bytes)
                .push_bind(&row.write.declared_lang)
                .push_bind(row.write.page.then_some("pending"))
                .push_bind(row.write.page.then(|| ts(update.at)));
        });
        q.push(" RETURNING id, feed_id, item_key");
        // RETURNING's row order is unspecified: match rows by key.
        let ids: HashMap<(i64, String), i64> = q
            .build_query_as::<(i64, i64, String)>()
            .fetch_all(&mut *tx)
            .await?
            .into_iter()
            .map(|(id, feed, key)| ((feed, key), id))
            .collect();
        for (row, story) in self.rows.drain(..).zip(stories) {
            let write = row.write;
            let update = updates[row.update];
            let at = ts(update.at);
            let counts = &mut counts[row.update];
            let item_id = ids[&(update.feed_id, write.key.clone())];
            deferred.search.add(item_id, &write.search, false);
            if let Some(canonical) = &write.canonical_url {
                by_url.entry(canonical.clone()).or_insert(item_id);
            }
            counts.new += 1;
            if row.story.is_some() {
                counts.joined += 1;
            }
            if let (Some(fp), Some(sketch)) = (write.fingerprint, &row.sketch) {
                let lang = write.item.language.as_deref().unwrap_or("");
                deferred
                    .story_keys
                    .add(tx, index, item_id, fp, lang, &row.sort_at)
                    .await?;
                index.insert(item_id, fp, lang, &row.sort_at, story, sketch);
            }
            if !write.topic_ids.is_empty() {
                counts.matches += write_matches(tx, item_id, &write.topic_ids, HashSet::new(), &at).await?;
            }
        }
        Ok(())
    }
}

/// Records the update's feed as one more source of the stored `item_id`
/// (same canonical URL). Matches of this feed's copy add to the item's;
/// none is removed. Returns the number of new matches.
async fn add_source(
    tx: &mut sqlx::SqliteConnection,
    update: &FeedUpdate,
    write: &ItemWrite,
    item_id: i64,
    at: &str,
) -> Result<u64> {
    sqlx::query(
        "INSERT INTO item_sources (feed_id, item_key, item_id, content_hash, first_seen_at) \
         VALUES (?, ?, ?, ?, ?) ON CONFLICT (feed_id, item_key) DO NOTHING",
    )
    .bind(update.feed_id)
    .bind(&write.key)
    .bind(item_id)
    .bind(&write.content_hash)
    .bind(at)
    .execute(&mut *tx)
    .await?;
    if write.page {
        // This feed wants the article's page, the first one did not.
        sqlx::query(
            "UPDATE items SET page_state = 'pending', page_due = ? WHERE id = ? AND page_state IS NULL",
        )
        .bind(at)
        .bind(item_id)
        .execute(&mut *tx)
        .await?;
    }
    let held: HashSet<i64> = sqlx::query_scalar("SELECT topic_id FROM item_topics WHERE item_id = ?")
        .bind(item_id)
        .fetch_all(&mut *tx)
        .await?
        .into_iter()
        .collect();
    let added: Vec<i64> = write
        .topic_ids
        .iter()
        .copied()
        .filter(|t| !held.contains(t))
        .collect();
    write_matches(tx, item_id, &added, HashSet::new(), at).await
}

/// Records each successful fetch on its feed's row (validators, schedule,
/// error cleared), for all updates in one statement per 500 feeds.
async fn update_feed_rows(tx: &mut sqlx::SqliteConnection, updates: &[&FeedUpdate]) -> Result<()> {
    for chunk in updates.chunks(500) {
        let mut q: QueryBuilder<Sqlite> = QueryBuilder::new(
            "WITH v (id, title, site_url, etag, last_modified, at, status, next_check_at, check_interval, \
             items_per_week, warning, moved_to) AS (",
        );
        q.push_values(chunk, |mut b, update| {
            let at = ts(update.at);
            b.push_bind(update.feed_id)
                .push_bind(&update.title)
                .push_bind(&update.site_url)
                .push_bind(&update.validators.etag)
                .push_bind(&update.validators.last_modified)
                .push_bind(at)
                .push_bind(i64::from(update.status))
                .push_bind(ts(update.next.at))
                .push_bind(update.next.interval.as_secs() as i64)
                .push_bind(update.items_per_week)
                .push_bind(&update.warning)
                .push_bind(&update.next.moved_to);
        });
        q.push(
            ") UPDATE feeds SET title = coalesce(v.title, feeds.title), site_url = coalesce(v.site_url, feeds.site_url), \
             etag = v.etag, last_modified = v.last_modified, last_fetch_at = v.at, last_success_at = v.at, \
             last_status = v.status, last_error = NULL, error_count = 0, error_kind = NULL, \
             next_check_at = v.next_check_at, check_interval = v.check_interval, \
             items_per_week = coalesce(v.items_per_week, feeds.items_per_week), poll_count = poll_count + 1, \
             warning = v.warning, fetch_url = coalesce(v.moved_to, feeds.fetch_url) FROM v WHERE feeds.id = v.id",
        );
        q.build().execute(&mut *tx).await?;
    }
    Ok(())
}

/// The stored item (the oldest, if several) of each canonical URL of the
/// updates' new items, in one statement (per 5,000 URLs).
async fn stored_canonical_urls(
    tx: &mut sqlx::SqliteConnection,
    updates: &[&FeedUpdate],
) -> Result<HashMap<String, i64>> {
    let urls: Vec<&str> = updates
        .iter()
        .flat_map(|u| &u.items)
        .filter(|w| !w.stored)
        .filter_map(|w| w.canonical_url.as_deref())
        .collect();
    let mut found = HashMap::new();
    // Well below SQLite's parameter limit per statement.
    for chunk in urls.chunks(5000) {
        let mut q: QueryBuilder<Sqlite> =
            QueryBuilder::new("SELECT canonical_url, min(id) FROM items WHERE canonical_url IN (");
        let mut list = q.separated(", ");
        for url in chunk {
            list.push_bind(*url);
        }
        q.push(") GROUP BY canonical_url");
        let rows: Vec<(String, i64)> = q.build_query_as().fetch_all(&mut *tx).await?;
        found.extend(rows);
    }
    Ok(found)
}

/// Records `topic_ids` as matched by the item (those already in `stale`
/// are kept as they are), then removes the matches left in `stale`. Returns
/// the number of new matches.
pub(super) async fn write_matches(
    tx: &mut sqlx::SqliteConnection,
    item_id: i64,
    topic_ids: &[i64],
    mut stale: HashSet<i64>,
    at: &str,
) -> Result<u64> {
    let mut added = 0;
    for topic_id in topic_ids {
        if !stale.remove(topic_id) {
            sqlx::query("INSERT INTO item_topics (item_id, topic_id, matched_at) VALUES (?, ?, ?)")
                .bind(item_id)
                .bind(topic_id)
                .bind(at)
                .execute(&mut *tx)
                .await?;
            added += 1;
        }
    }
    // Topics the edited item no longer matches.
    for topic_id in stale {
        sqlx::query("DELETE FROM item_topics WHERE item_id = ? AND topic_id = ?")
            .bind(item_id)
            .bind(topic_id)
            .execute(&mut *tx)
            .await?;
    }
    Ok(added)
}

/// Writes a transaction makes at its end, in a few large statements
/// instead of one or more per item.
#[derive(Debug, Default)]
pub(super) struct Deferred {
    pub search: SearchRows,
    story_keys: StoryKeyRows,
    /// The id the next story started in this transaction gets.
    next_story: Option<i64>,
}

impl Deferred {
    /// Ids for `n` new stories: the transaction holds the write lock, so
    /// they are the next `n` of the `AUTOINCREMENT` sequence.
    async fn story_ids(&mut self, tx: &mut sqlx::SqliteConnection, n: usize) -> Result<i64> {
        let first = match self.next_story {
            Some(next) => next,
            None => {
                sqlx::query_scalar(
                    "SELECT max(coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'stories'), 0), \
                     coalesce((SELECT max(id) FROM stories), 0)) + 1",
                )
                .fetch_one(&mut *tx)
                .await?
            }
        };
        self.next_story = Some(first + n as i64);
        Ok(first)
    }

    pub async fn write(self, tx: &mut sqlx::SqliteConnection, index: &mut StoryIndex) -> Result<()> {
        self.story_keys.write(tx, index).await?;
        self.search.write(tx).await
    }
}

/// Fingerprinted items whose story lookup entries are owed (see
/// `story_index`): listed in `story_keys_pending` with their entry's
/// values. With the in-memory copy of the index loaded, the copy serves
/// lookups, so the list is written at the end of the transaction; without
/// it, each item is listed at once, for the next lookup to find.
#[derive(Debug, Default)]
struct StoryKeyRows {
    /// Items owed: id, fingerprint, language, time (an item written twice
    /// is listed twice; the later values win).
    owed: Vec<story_index::Owed>,
}

impl StoryKeyRows {
    /// Items per `INSERT`.
    const CHUNK: usize = 5000;

    async fn add(
        &mut self,
        tx: &mut sqlx::SqliteConnection,
        index: &mut StoryIndex,
        item_id: i64,
        fp: u64,
        lang: &str,
        sort_at: &str,
    ) -> Result<()> {
        let time = story_index::time(sort_at);
        let owed = (item_id, fp as i64, lang.to_string(), time);
        if index.loaded() {
            self.owed.push(owed);
            return Ok(());
        }
        Self::insert(tx, std::slice::from_ref(&owed)).await?;
        index.owe_item(item_id, fp, lang, time);
        Ok(())
    }

    async fn insert(tx: &mut sqlx::SqliteConnection, owed: &[story_index::Owed]) -> Result<()> {
        let mut q: QueryBuilder<Sqlite> =
            QueryBuilder::new("INSERT INTO story_keys_pending (item_id, fingerprint, lang, at) ");
        q.push_values(owed, |mut row, (id, fp, lang, at)| {
            row.push_bind(id).push_bind(fp).push_bind(lang).push_bind(at);
        });
        q.push(
            " ON CONFLICT (item_id) DO UPDATE SET \
             fingerprint = excluded.fingerprint, lang = excluded.lang, at = excluded.at",
        );
        q.build().execute(&mut *tx).await?;
        Ok(())
    }

    /// Lists the owed items, and settles the debt once it is large.
    async fn write(self, tx: &mut sqlx::SqliteConnection, index: &mut StoryIndex) -> Result<()> {
        for chunk in self.owed.chunks(Self::CHUNK) {
            Self::insert(tx, chunk).await?;
        }
        index.owe(self.owed.len() as u64);
        if index.should_settle() {
            index.settle(tx).await?;
        }
        Ok(())
    }
}

/// A candidate's row as [`find_story`] reads it: story, sketch, (title and
/// text if it has no sketch), fingerprint, language, sort_at.
type ItemStory = (
    Option<i64>,
    Option<Vec<u8>>,
    String,
    String,
    Option<i64>,
    String,
    String,
);

/// A new item looking for its story.
struct Probe<'a> {
    fp: u64,
    sketch: &'a [u32],
    /// Its full language tag (`""` when missing); compared by primary
    /// subtag.
    lang: &'a str,
}

/// What [`find_story`] found.
#[derive(Debug, Default)]
struct Found {
    /// The story the item joins; `None`: it starts one.
    story: Option<i64>,
    /// Stories merged into `story` because the item is the same story as an
    /// item of each.
    merged: Vec<i64>,
}

/// The story a new item joins: that of the stored items in the same
/// language (primary subtag, [`model::same_language`]: `en-US` is `en`; a
/// missing language is only the same as a missing one), within the window
/// of its time, within
/// [`stories::NEAR_DUPLICATE_DISTANCE`] and passing
/// [`stories::same_story_sketch`]. If such items are in several stories (the
/// new item bridges copies that were too far apart to join each other),
/// the stories are merged into the one with the lowest id
/// ([`merge_stories`]), which the item joins.
///
/// Candidates come from the in-memory copy of the index once it is loaded,
/// else from the buckets and the owed items in SQL; a candidate's story and
/// sketch are read only when the copy does not have them (then its row also
/// confirms that a bucket entry is not stale), and its sketch is compared
/// only when its story is not one already found.
async fn find_story(
    tx: &mut sqlx::SqliteConnection,
    index: &mut StoryIndex,
    probe: &Probe<'_>,
    sort_at: &str,
    window: chrono::Duration,
) -> Result<Found> {
    let time = super::parse_ts(sort_at).unwrap_or_else(|| index.clock.now());
    let (from, to) = ((time - window).timestamp(), (time + window).timestamp());
    let near = if index.ready(tx, window).await? {
        let mut near = index.near(probe.fp, probe.lang, from, to);
        if let Some(horizon) = index.horizon_after(from) {
            // Older than the copy: from the buckets (the copy holds every
            // owed item, also the transaction's own).
            let older = story_index::sql_near(tx, probe.fp, probe.lang, (from, horizon)).await?;
            let known: HashSet<i64> = near.iter().map(|n| n.id).collect();
            near.extend(older.into_iter().filter(|n| !known.contains(&n.id)));
            near.sort_unstable_by_key(|n| (n.distance, n.id));
        }
        near
    } else {
        index
            .near_without_copy(tx, probe.fp, probe.lang, (from, to))
            .await?
    };
    // Distinct stories the item is the same story as.
    let mut found: Vec<i64> = Vec::new();
    for candidate in near {
        if let Some(story) = candidate.story {
            if found.contains(&story) {
                continue;
            }
            if let Some(same) = index.same_story(candidate.id, probe.sketch) {
                if same {
                    found.push(story);
                }
                continue;
            }
        }
        // A candidate from the buckets may be stale: the item deleted, or
        // its fingerprint, language or time changed since its entry was
        // written. What `items` holds decides.
        let row: Option<ItemStory> = sqlx::query_as(
            "SELECT story_id, sketch, CASE WHEN sketch IS NULL THEN title ELSE '' END, \
             CASE WHEN sketch IS NULL THEN text ELSE '' END, fingerprint, coalesce(lang, ''), sort_at \
             FROM items WHERE id = ?",
        )
        .bind(candidate.id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some((story, stored, title, text, fingerprint, lang, sort_at)) = row else {
            continue;
        };
        let at = story_index::time(&sort_at);
        let Some(fingerprint) = fingerprint else {
            continue;
        };
        let (new, stored_copy) = (
            stories::Copy {
                fingerprint: probe.fp,
                lang: probe.lang,
                sketch: None,
            },
            stories::Copy {
                fingerprint: fingerprint as u64,
                lang: &lang,
                sketch: None,
            },
        );
        // Near, same language, in the window; the sketches below.
        if !stories::same_story(&new, &stored_copy) || !(from..=to).contains(&at) {
            continue;
        }
        let sketch = match stored {
            Some(bytes) => stories::sketch_from_bytes(&bytes),
            // Stored before sketches.
            None => {
                let sketch = stories::sketch(&stories::article_words(&title, &text));
                index.set_sketch(candidate.id, &sketch);
                sketch
            }
        };
        index.set_story(candidate.id, story);
        if let Some(story) = story {
            if !found.contains(&story) && stories::same_story_sketch(probe.sketch, &sketch) {
                found.push(story);
            }
        }
    }
    let (keep, merged) = match stories::decide(&found) {
        stories::Decision::New => return Ok(Found::default()),
        stories::Decision::Join(keep) => (keep, Vec::new()),
        stories::Decision::Merge { keep, gone } => (keep, gone),
    };
    for &gone in &merged {
        merge_stories(tx, keep, gone, index.clock.now()).await?;
        index.rename_story(gone, keep);
    }
    Ok(Found {
        story: Some(keep),
        merged,
    })
}

/// Moves the items of story `gone` to story `keep`, which takes its span,
/// count and (if `gone` began earlier) headline; `gone` is deleted and
/// recorded in `story_merges`.
async fn merge_stories(
    tx: &mut sqlx::SqliteConnection,
    keep: i64,
    gone: i64,
    at: DateTime<Utc>,
) -> Result<()> {
    tracing::debug!(keep, gone, "merging stories");
    sqlx::query(
        "UPDATE stories SET \
             headline = CASE WHEN g.first_seen < stories.first_seen THEN g.headline ELSE stories.headline END, \
             first_seen = min(stories.first_seen, g.first_seen), \
             last_seen = max(stories.last_seen, g.last_seen), \
             item_count = stories.item_count + g.item_count \
         FROM (SELECT headline, first_seen, last_seen, item_count FROM stories WHERE id = ?2) AS g \
         WHERE stories.id = ?1",
    )
    .bind(keep)
    .bind(gone)
    .execute(&mut *tx)
    .await?;
    sqlx::query("UPDATE items SET story_id = ?1 WHERE story_id = ?2")
        .bind(keep)
        .bind(gone)
        .execute(&mut *tx)
        .await?;
    sqlx::query("DELETE FROM stories WHERE id = ?")
        .bind(gone)
        .execute(&mut *tx)
        .await?;
    sqlx::query("INSERT INTO story_merges (story_id, merged_into, merged_at) VALUES (?, ?, ?)")
        .bind(gone)
        .bind(keep)
        .bind(ts(at))
        .execute(&mut *tx)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A waiting row is a dependency when it may be the new item's story:
    /// near fingerprint, same language (primary subtag: `en-US` is `en`)
    /// and a resembling sketch. Near fingerprints of unrelated texts (as
    /// small vocabularies give) are not, nor are other languages; the same
    /// canonical URL always is.
    #[test]
    fn new_items_wait_only_for_rows_that_may_be_their_story() {
        let write = |url: &str, text: &str, lang: &str, fp: u64| {
            let words = stories::article_words("", text);
            ItemWrite {
                item: NewItem {
                    url: Some(url.to_string()),
                    text: text.to_string(),
                    language: Some(lang.to_string()),
                    ..NewItem::default()
                },
                declared_lang: Some(lang.to_string()),
                key: format!("url:{url}"),
                content_hash: String::new(),
                stored: false,
                canonical_url: stories::canonical_url(url),
                fingerprint: Some(fp),
                sketch: Some(stories::sketch(&words)),
                topic_ids: Vec::new(),
                search: SearchText::default(),
                page: false,
            }
        };
        let wire =
            "the ministers met in the capital on monday to discuss the border crossings and the trade \
                    routes that run north through the region, officials said after the talks ended";
        let waiting = write("https://a.example/1", wire, "en", 0b1011);
        let mut rows = NewRows::default();
        rows.rows.push(NewRow {
            update: 0,
            write: &waiting,
            published: None,
            sort_at: String::new(),
            story: None,
            sketch: waiting.sketch.as_deref().map(Cow::Borrowed),
            sketch_bytes: None,
        });
        let depends = |w: &ItemWrite| rows.depends_on(w, w.sketch.as_deref());
        let copy = write(
            "https://b.example/1",
            &format!("{wire} subscribe to our newsletter"),
            "en",
            0b1111,
        );
        assert!(depends(&copy), "a copy waits for the original");
        let unrelated = write(
            "https://b.example/2",
            "football results from the weekend with goals scored late in both halves of the derby",
            "en",
            0b1011,
        );
        assert!(!depends(&unrelated), "same fingerprint, unrelated text");
        let other_lang = write("https://b.example/3", wire, "tr", 0b1011);
        assert!(!depends(&other_lang), "another language");
        let regional = write("https://b.example/5", wire, "en-US", 0b1011);
        assert!(depends(&regional), "a regional variant of the language");
        let far = write("https://b.example/4", wire, "en", !0b1011);
        assert!(!depends(&far), "a distant fingerprint");
        let same_url = write("https://a.example/1?utm_source=rss", "anything", "en", !0);
        assert!(depends(&same_url), "a second source of the waiting item");
    }

    /// Items stored before canonical URLs existed get one when the store
    /// next opens the database, and a copy from another feed then joins them.
    #[tokio::test]
    async fn items_without_canonical_url_get_one_at_open() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let store = SqliteStore::open(&path).await.unwrap();
        sqlx::query(
            "INSERT INTO feeds (url, created_at) VALUES ('https://a.example/rss', '2017-09-25T00:00:00Z')",
        )
        .execute(&store.write)
        .await
        .unwrap();
        // As an item stored before migration 0004 looks.
        sqlx::query(
            "INSERT INTO items (feed_id, item_key, url, title, text, sort_at, fetched_at, first_seen_at, content_hash) \
             VALUES (1, 'guid:1', 'https://WIRE.example/story/?utm_source=rss#top', 't', 'x', \
             '2017-09-25T00:00:00Z', '2017-09-25T00:00:00Z', '2017-09-25T00:00:00Z', 'h')",
        )
        .execute(&store.write)
        .await
        .unwrap();
        sqlx::query("INSERT INTO items_canonical_backfill (item_id) SELECT id FROM items")
            .execute(&store.write)
            .await
            .unwrap();
        store.close().await;

        let store = SqliteStore::open(&path).await.unwrap();
        let (canonical, pending): (Option<String>, i64) = sqlx::query_as(
            "SELECT canonical_url, (SELECT count(*) FROM items_canonical_backfill) FROM items",
        )
        .fetch_one(&store.read)
        .await
        .unwrap();
        assert_eq!(canonical, stories::canonical_url("https://wire.example/story"));
        assert_eq!(pending, 0);
    }

    /// The story lookup reads the buckets of its probe keys through the
    /// primary key, never by a scan.
    #[tokio::test]
    async fn story_lookup_uses_the_primary_key() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("t.db")).await.unwrap();
        let probes = stories::probe_keys(0x0123_4567_89ab_cdef, stories::NEAR_DUPLICATE_DISTANCE);
        let sql = format!(
            "EXPLAIN QUERY PLAN {}",
            story_index::bucket_lookup_sql(probes.len())
        );
        let mut q = sqlx::query_as::<_, (i64, i64, i64, String)>(&sql);
        for key in &probes {
            q = q.bind(key);
        }
        let plan = q.fetch_all(&store.read).await.unwrap();
        let detail: Vec<&str> = plan.iter().map(|r| r.3.as_str()).collect();
        assert!(
            detail.contains(&"SEARCH story_buckets USING INTEGER PRIMARY KEY (rowid=?)"),
            "{detail:?}"
        );
        assert!(!detail.iter().any(|d| d.starts_with("SCAN")), "{detail:?}");
    }

    /// Settling writes every owed item into the buckets of its
    /// `stories::lookup_keys` (negative fingerprints, as SQLite stores the
    /// upper half of u64, too), and an item's entries follow it when it is
    /// deleted or its fingerprint, language or time is updated (the
    /// triggers list the old entries as stale and owe the new ones); other
    /// items' entries stay, and emptied buckets go.
    #[tokio::test]
    async fn bucket_entries_follow_their_item() {
        use super::story_index::check;
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("t.db")).await.unwrap();
        sqlx::query(
            "INSERT INTO feeds (url, created_at) VALUES ('https://a.example/rss', '2017-09-25T00:00:00Z')",
        )
        .execute(&store.write)
        .await
        .unwrap();
        let mut rng = fastrand::Rng::with_seed(7);
        let fingerprints: Vec<u64> = (0..40).map(|_| rng.u64(..)).collect();
        assert!(fingerprints.iter().any(|&fp| (fp as i64) < 0));
        assert!(fingerprints.iter().any(|&fp| (fp as i64) > 0));
        for (i, &fp) in fingerprints.iter().enumerate() {
            sqlx::query(
                "INSERT INTO items (feed_id, item_key, title, text, sort_at, fetched_at, first_seen_at, \
                 content_hash, lang, fingerprint) VALUES (1, ?, 't', 'x', '2017-09-25T00:00:00Z', \
                 '2017-09-25T00:00:00Z', '2017-09-25T00:00:00Z', 'h', 'en', ?)",
            )
            .bind(format!("guid:{i}"))
            .bind(fp as i64)
            .execute(&store.write)
            .await
            .unwrap();
        }
        // As the store owes new items.
        sqlx::query(
            "INSERT INTO story_keys_pending (item_id, fingerprint, lang, at) \
             SELECT id, fingerprint, lang, unixepoch(sort_at) FROM items",
        )
        .execute(&store.write)
        .await
        .unwrap();
        let settle = || async {
            let mut index = store.stories.lock().await;
            index.forget();
            let mut tx = store.write.begin().await.unwrap();
            index.settle(&mut tx).await.unwrap();
            tx.commit().await.unwrap();
        };
        let run = |sql: &'static str| {
            let store = store.clone();
            async move {
                sqlx::query(sql).execute(&store.write).await.unwrap();
            }
        };
        let count = |table: &'static str| {
            let store = store.clone();
            async move {
                sqlx::query_scalar::<_, i64>(&format!("SELECT count(*) FROM {table}"))
                    .fetch_one(&store.read)
                    .await
                    .unwrap()
            }
        };
        settle().await;
        let stored = check::stored(&store.read).await;
        assert_eq!(stored.len(), 200);
        assert_eq!(stored, check::expected(&store.read).await);

        run("UPDATE items SET fingerprint = 5 WHERE item_key IN ('guid:0', 'guid:1')").await;
        run("UPDATE items SET lang = 'fa' WHERE item_key = 'guid:2'").await;
        run("UPDATE items SET sort_at = '2017-09-26T00:00:00Z' WHERE item_key = 'guid:3'").await;
        run("UPDATE items SET fingerprint = NULL WHERE item_key = 'guid:4'").await;
        assert_eq!(count("story_keys_pending").await, 4);
        assert_eq!(count("story_keys_stale").await, 5);
        settle().await;
        let stored = check::stored(&store.read).await;
        assert_eq!(stored.len(), 195);
        assert_eq!(stored, check::expected(&store.read).await);
        assert_eq!(count("story_keys_pending").await, 0);
        assert_eq!(count("story_keys_stale").await, 0);

        // Migration 0017: a date more than a day after the fetch, stored
        // before dates were checked, is dropped; the item sorts by when it
        // was first seen, and its entries follow.
        run(
            "UPDATE items SET published = '2099-01-01T00:00:00Z', sort_at = '2099-01-01T00:00:00Z' \
             WHERE item_key IN ('guid:5', 'guid:6')",
        )
        .await;
        run(
            "UPDATE items SET published = '2017-09-25T12:00:00Z', sort_at = '2017-09-25T12:00:00Z' \
             WHERE item_key = 'guid:7'",
        )
        .await;
        settle().await;
        run(include_str!("../../../migrations/sqlite/0017_future_dates.sql")).await;
        let future: i64 = sqlx::query_scalar("SELECT count(*) FROM items WHERE sort_at > '2020'")
            .fetch_one(&store.read)
            .await
            .unwrap();
        assert_eq!(future, 0);
        let kept: Option<String> =
            sqlx::query_scalar("SELECT published FROM items WHERE item_key = 'guid:7'")
                .fetch_one(&store.read)
                .await
                .unwrap();
        assert_eq!(
            kept.as_deref(),
            Some("2017-09-25T12:00:00Z"),
            "a date within a day stays"
        );
        settle().await;
        assert_eq!(
            check::stored(&store.read).await,
            check::expected(&store.read).await
        );

        run("DELETE FROM items WHERE item_key NOT IN ('guid:3')").await;
        settle().await;
        assert_eq!(
            check::stored(&store.read).await,
            check::expected(&store.read).await
        );
        assert_eq!(count("story_buckets").await, 5);
        run("DELETE FROM items").await;
        settle().await;
        assert_eq!(count("story_buckets").await, 0);
    }
}
