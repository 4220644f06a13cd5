//! Items and their topic matches on PostgreSQL, written one transaction per
//! batch of feed results (`batch.rs`), with the same results as the SQLite
//! writer (`sqlite/items.rs`, the reference).
//!
//! Several instances write at once, each with its own writer, so what the
//! SQLite writer gets from being the only one is taken here from
//! PostgreSQL's locks. A transaction first takes, in one statement and in
//! sorted order, a transaction-scoped advisory lock on a slot of each
//! canonical URL its items carry and of each story lookup key a new item
//! probes ([`lock_for`]): two copies of one article, or two near-duplicate
//! copies, written by two instances at once therefore take turns, and the
//! second sees the first (an item is stored once; a story is started once).
//! A story a new item joins or merges is then locked as a row and checked
//! to be still there ([`find_story`]): a story another instance merged away
//! meanwhile is looked up again instead of being joined or merged twice.
//!
//! There is no in-memory copy of the story index: the lookup keys of an
//! item are written with it (`story_keys`), and candidates are read by SQL
//! (another instance may have written since).

use std::borrow::Cow;
use std::collections::{BTreeSet, HashMap, HashSet};

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use super::locks;
use super::*;
use crate::store::{ItemWrite, TopicMatches};
use crate::stories;

/// Slots story lookup keys are spread over: a transaction holds at most
/// this many story locks (PostgreSQL's lock table is shared and finite),
/// and two keys of one slot are serialised as if they were one.
const STORY_KEY_SLOTS: u64 = 512;
/// Slots canonical URLs are spread over.
const CANONICAL_URL_SLOTS: u64 = 256;
/// Times a join or merge looks its stories up again when one was merged
/// away by another instance meanwhile.
const STORY_LOOKUPS: usize = 8;

/// The `items.words` expression of the title words (`$title`) and text
/// words (`$text`), both `text[]` of `SearchText::words` (folded
/// already: no parsing or stemming by PostgreSQL).
fn words_sql(title: usize, text: usize) -> String {
    format!("fw_words(${title}::text[], ${text}::text[])")
}

impl PgStore {
    /// The item keys a feed has had: stored (with content hash) or pruned.
    /// The pipeline uses it to skip unchanged and pruned items before
    /// matching.
    pub async fn known_items(&self, feed_id: i64) -> Result<HashMap<String, Known>> {
        let rows: Vec<(String, Option<String>)> = sqlx::query_as(
            "SELECT item_key, content_hash FROM item_sources WHERE feed_id = $1 \
             UNION ALL SELECT item_key, NULL FROM tombstones WHERE feed_id = $1",
        )
        .bind(feed_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(key, hash)| (key, hash.map_or(Known::Pruned, Known::Stored)))
            .collect())
    }

    /// Applies a successful fetch in one transaction (see
    /// [`PgStore::apply_feed_writes`], which applies several together):
    /// - an edit of an item the feed already lists updates it in place (it
    ///   keeps its id and story; its fingerprint and lookup keys follow);
    /// - an item whose canonical URL is already stored (from another feed, or
    ///   under another key, by any instance) becomes one more source of that
    ///   item, and gains the topics this feed's copy matches;
    /// - any other item is inserted and joins the story of a near-duplicate
    ///   within the window ([`find_story`]), else starts one;
    ///
    /// then brings topic matches up to date, clears the feed's error and
    /// ends its lease.
    pub async fn apply_feed_update(&self, update: FeedUpdate) -> Result<IngestCounts> {
        let mut results = self.apply_feed_writes(vec![FeedWrite::Update(update)]).await;
        results.pop().unwrap_or(Err(StoreError::WriterStopped))
    }

    /// Makes sure every topic of the set has a row with its current query;
    /// returns the rows in the set's order.
    /// Topics stored but absent from the set are retired (kept with their
    /// matches, `retired_at` set); a topic of the set is active again.
    /// Instances starting together take turns (an advisory lock).
    pub async fn sync_topics(&self, topics: &TopicSet, now: DateTime<Utc>) -> Result<Vec<TopicRow>> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock($1, 0)")
            .bind(locks::TOPICS)
            .execute(&mut *tx)
            .await?;
        let active: HashSet<&str> = topics.topics().iter().map(|t| t.name.as_str()).collect();
        let stored: Vec<(String, bool)> =
            sqlx::query_as("SELECT name, retired_at IS NOT NULL FROM topics ORDER BY name")
                .fetch_all(&mut *tx)
                .await?;
        let now = whole_seconds(now);
        for (name, retired) in stored {
            if !retired && !active.contains(name.as_str()) {
                sqlx::query("UPDATE topics SET retired_at = $1 WHERE name = $2")
                    .bind(now)
                    .bind(&name)
                    .execute(&mut *tx)
                    .await?;
                tracing::info!(topic = %name, "topic retired: it is no longer in the config (its matches are kept)");
            }
        }
        // One statement for all (a desk's 100,000 topics took 100,000).
        let (names, queries): (Vec<&str>, Vec<&str>) = topics
            .topics()
            .iter()
            .map(|t| (t.name.as_str(), t.query.as_str()))
            .unzip();
        let rows: Vec<(String, i64, String)> = sqlx::query_as(
            "INSERT INTO topics (name, query) SELECT * FROM unnest($1::text[], $2::text[]) \
             ON CONFLICT (name) DO UPDATE SET query = excluded.query, retired_at = NULL \
             RETURNING name, id, compiled",
        )
        .bind(&names)
        .bind(&queries)
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        let stored: HashMap<String, (i64, String)> = rows
            .into_iter()
            .map(|(name, id, compiled)| (name, (id, compiled)))
            .collect();
        Ok(topics
            .topics()
            .iter()
            .map(|topic| {
                let (id, compiled) = &stored[&topic.name];
                TopicRow {
                    id: *id,
                    needs_backfill: *compiled != topic.expr.to_string(),
                }
            })
            .collect())
    }

    /// Replaces each topic's matches by its `matched` (a backfill's scan,
    /// begun at `scanned_since`, of the items up to id `scanned_upto`):
    /// matches that still hold keep their time and flag, new ones are marked
    /// backfilled, the rest are removed, except those recorded since
    /// `scanned_since` or of items after `scanned_upto` (ingest beside the
    /// scan, by any instance); then records `compiled` as the query the
    /// matches are now computed with. One transaction for all of `topics`;
    /// (added, removed) per topic, in order.
    pub async fn replace_topic_matches(
        &self,
        topics: &[TopicMatches<'_>],
        (scanned_since, scanned_upto): (DateTime<Utc>, i64),
        at: DateTime<Utc>,
    ) -> Result<Vec<(u64, u64)>> {
        let mut tx = self.pool.begin().await?;
        let mut counts = Vec::with_capacity(topics.len());
        // Matches recorded after the scan began, and of items it did not
        // reach, are ingest's: they stay. Times are whole seconds, as on
        // SQLite: one recorded in the second the scan began counts as older.
        // One read for all the topics (most have no match to change).
        let ids: Vec<i64> = topics.iter().map(|t| t.topic_id).collect();
        let mut held: HashMap<i64, Vec<(i64, bool)>> = HashMap::new();
        let rows: Vec<(i64, i64, bool)> = sqlx::query_as(
            "SELECT topic_id, item_id, matched_at > $1 OR item_id > $2 FROM item_topics \
             WHERE topic_id = ANY($3)",
        )
        .bind(whole_seconds(scanned_since))
        .bind(scanned_upto)
        .bind(&ids)
        .fetch_all(&mut *tx)
        .await?;
        for (topic_id, item_id, recent) in rows {
            held.entry(topic_id).or_default().push((item_id, recent));
        }
        for topic in topics {
            let topic_id = topic.topic_id;
            let (new, gone) = topic.changes(held.remove(&topic_id).unwrap_or_default());
            let (mut added, mut removed) = (0, 0);
            if !new.is_empty() {
                // Ingest of another instance may record one of `new`
                // meanwhile: its match stands.
                added = sqlx::query(
                    "INSERT INTO item_topics (item_id, topic_id, matched_at, backfilled) \
                     SELECT id, $2, $3, true FROM unnest($1::bigint[]) AS id ON CONFLICT DO NOTHING",
                )
                .bind(&new)
                .bind(topic_id)
                .bind(whole_seconds(at))
                .execute(&mut *tx)
                .await?
                .rows_affected();
            }
            if !gone.is_empty() {
                removed = sqlx::query("DELETE FROM item_topics WHERE topic_id = $1 AND item_id = ANY($2)")
                    .bind(topic_id)
                    .bind(&gone)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
            }
            counts.push((added, removed));
        }
        let compiled: Vec<&str> = topics.iter().map(|t| t.compiled).collect();
        sqlx::query(
            "UPDATE topics SET compiled = v.compiled FROM unnest($1::bigint[], $2::text[]) AS v (id, compiled) \
             WHERE topics.id = v.id",
        )
        .bind(&ids)
        .bind(&compiled)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(counts)
    }
}

/// Takes the advisory locks a transaction writing `updates` needs, in one
/// statement, in sorted order (two transactions never wait for each other
/// in a cycle over them): the slot of each canonical URL of its items (of
/// edits too: an edit may give an item a URL), and the slots of every
/// lookup key each new fingerprinted item probes
/// ([`stories::probe_keys`]). Two near-duplicate copies (within
/// [`stories::NEAR_DUPLICATE_DISTANCE`]) have a lookup key of one among
/// the probes of both, so they share a slot. Call it first in the
/// transaction, before any row is locked.
pub(super) async fn lock_for(tx: &mut PgConnection, updates: &[&FeedUpdate]) -> Result<()> {
    let mut wanted: BTreeSet<(i32, i32)> = BTreeSet::new();
    for write in updates.iter().flat_map(|u| &u.items) {
        if let Some(url) = &write.canonical_url {
            wanted.insert((
                locks::CANONICAL_URLS,
                slot(fnv1a(url.as_bytes()), CANONICAL_URL_SLOTS),
            ));
        }
        if let (false, Some(fp)) = (write.stored, write.fingerprint) {
            for key in stories::probe_keys(fp, stories::NEAR_DUPLICATE_DISTANCE) {
                wanted.insert((locks::STORY_KEYS, slot(key as u64, STORY_KEY_SLOTS)));
            }
        }
    }
    if wanted.is_empty() {
        return Ok(());
    }
    let (classes, slots): (Vec<i32>, Vec<i32>) = wanted.into_iter().unzip();
    // unnest yields the arrays' order: the locks are taken sorted.
    sqlx::query(
        "SELECT count(pg_advisory_xact_lock(c, s)) FROM unnest($1::integer[], $2::integer[]) AS l (c, s)",
    )
    .bind(classes)
    .bind(slots)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// The slot of `key` among `slots` (a power of two): its top bits after a
/// multiplicative mix, the same in every instance and version.
fn slot(key: u64, slots: u64) -> i32 {
    let mixed = key.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    (mixed >> (64 - slots.trailing_zeros())) as i32
}

/// 64-bit FNV-1a: a hash that every instance computes alike.
pub(super) fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &b| {
        (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// [`PgStore::apply_feed_update`] of several feeds inside a transaction
/// that holds [`lock_for`] their items. One count per update.
pub(super) async fn apply_updates(
    tx: &mut PgConnection,
    clock: Clock,
    updates: &[&FeedUpdate],
) -> Result<Vec<IngestCounts>> {
    let mut counts = vec![IngestCounts::default(); updates.len()];
    // Items already stored under the canonical URLs of the new items (the
    // oldest, if several), kept up to date as new items are inserted. The
    // URL locks keep it true: no other instance stores these URLs now.
    let mut by_url = stored_canonical_urls(tx, updates).await?;
    for (u, update) in updates.iter().enumerate() {
        let at = whole_seconds(update.at);
        for write in &update.items {
            let item = &write.item;
            let sketch: Option<Cow<'_, [u32]>> = write.fingerprint.map(|_| match &write.sketch {
                Some(sketch) => Cow::Borrowed(sketch.as_slice()),
                None => Cow::Owned(stories::sketch(&stories::article_words(&item.title, &item.text))),
            });
            let sketch_bytes = sketch.as_deref().map(stories::sketch_bytes);

            if write.stored {
                let Some(item_id) = edit_item(tx, update, write, sketch_bytes).await? else {
                    continue; // deleted meanwhile
                };
                counts[u].updated += 1;
                let stale: HashSet<i64> =
                    sqlx::query_scalar("SELECT topic_id FROM item_topics WHERE item_id = $1")
                        .bind(item_id)
                        .fetch_all(&mut *tx)
                        .await?
                        .into_iter()
                        .collect();
                counts[u].matches += write_matches(tx, item_id, &write.topic_ids, stale, at).await?;
                continue;
            }

            if let Some(&item_id) = write.canonical_url.as_ref().and_then(|c| by_url.get(c)) {
                counts[u].duplicates += 1;
                counts[u].matches += add_source(tx, update, write, item_id, at).await?;
                continue;
            }

            let published = item.published.map(whole_seconds);
            let sort_at = published.unwrap_or(at);
            let story = match (write.fingerprint, &sketch) {
                (Some(fp), Some(sketch)) => {
                    let probe = Probe {
                        fp,
                        sketch,
                        lang: item.language.as_deref().unwrap_or(""),
                    };
                    find_story(tx, clock, &probe, sort_at, update.story_window).await?
                }
                _ => None,
            };
            let (title_words, text_words) = write.search.words();
            let inserted: Option<i64> = sqlx::query_scalar(&format!(
                "INSERT INTO items (feed_id, item_key, guid, url, title, text, author, lang, published, updated, \
                 sort_at, fetched_at, first_seen_at, content_hash, canonical_url, fingerprint, story_id, sketch, \
                 declared_lang, words, page_state, page_due) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12, $13, $14, $15, $16, $17, $18, {}, \
                 CASE WHEN $21 THEN 'pending' END, CASE WHEN $21 THEN $12 END) \
                 ON CONFLICT (feed_id, item_key) DO NOTHING RETURNING id",
                words_sql(19, 20)
            ))
            .bind(update.feed_id)
            .bind(&write.key)
            .bind(&item.guid)
            .bind(&item.url)
            .bind(&item.title)
            .bind(&item.text)
            .bind(&item.author)
            .bind(&item.language)
            .bind(published)
            .bind(item.updated.map(whole_seconds))
            .bind(sort_at)
            .bind(at)
            .bind(&write.content_hash)
            .bind(&write.canonical_url)
            .bind(write.fingerprint.map(|fp| fp as i64))
            .bind(story)
            .bind(&sketch_bytes)
            .bind(&write.declared_lang)
            .bind(title_words)
            .bind(text_words)
            .bind(write.page)
            .fetch_optional(&mut *tx)
            .await?;
            // Another instance stored this feed's item under this key
            // meanwhile (its lease ran out): it is stored once, by it.
            let Some(item_id) = inserted else { continue };
            if let Some(canonical) = &write.canonical_url {
                by_url.entry(canonical.clone()).or_insert(item_id);
            }
            counts[u].new += 1;
            if story.is_some() {
                counts[u].joined += 1;
            }
            if let Some(fp) = write.fingerprint {
                write_story_keys(tx, item_id, fp).await?;
            }
            if !write.topic_ids.is_empty() {
                counts[u].matches += write_matches(tx, item_id, &write.topic_ids, HashSet::new(), at).await?;
            }
        }
    }
    super::feed_state::record_updates(tx, updates).await?;
    Ok(counts)
}

/// Updates in place the item the update's feed lists under `write.key`
/// (version bumped, search words, source hash and lookup keys following);
/// its id, or `None` if it is gone.
async fn edit_item(
    tx: &mut PgConnection,
    update: &FeedUpdate,
    write: &ItemWrite,
    sketch_bytes: Option<Vec<u8>>,
) -> Result<Option<i64>> {
    let item = &write.item;
    let (title_words, text_words) = write.search.words();
    let item_id: Option<i64> = sqlx::query_scalar(&format!(
        "UPDATE items SET guid = $3, url = $4, title = $5, text = $6, author = $7, lang = $8, \
         published = $9, updated = $10, sort_at = coalesce($9, first_seen_at), fetched_at = $11, \
         content_hash = $12, canonical_url = $13, fingerprint = $14, sketch = $15, \
         declared_lang = $16, version = version + 1, words = {}, text_source = 'feed', summary = NULL, \
         page_state = CASE WHEN $19 THEN 'pending' END, page_due = CASE WHEN $19 THEN $11 END, \
         page_error = NULL, page_attempts = 0 \
         WHERE id = (SELECT item_id FROM item_sources WHERE feed_id = $1 AND item_key = $2) \
         RETURNING id",
        words_sql(17, 18)
    ))
    .bind(update.feed_id)
    .bind(&write.key)
    .bind(&item.guid)
    .bind(&item.url)
    .bind(&item.title)
    .bind(&item.text)
    .bind(&item.author)
    .bind(&item.language)
    .bind(item.published.map(whole_seconds))
    .bind(item.updated.map(whole_seconds))
    .bind(whole_seconds(update.at))
    .bind(&write.content_hash)
    .bind(&write.canonical_url)
    .bind(write.fingerprint.map(|fp| fp as i64))
    .bind(&sketch_bytes)
    .bind(&write.declared_lang)
    .bind(title_words)
    .bind(text_words)
    .bind(write.page)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(item_id) = item_id else {
        return Ok(None);
    };
    sqlx::query("UPDATE item_sources SET content_hash = $1 WHERE feed_id = $2 AND item_key = $3")
        .bind(&write.content_hash)
        .bind(update.feed_id)
        .bind(&write.key)
        .execute(&mut *tx)
        .await?;
    sqlx::query("DELETE FROM story_keys WHERE item_id = $1")
        .bind(item_id)
        .execute(&mut *tx)
        .await?;
    if let Some(fp) = write.fingerprint {
        write_story_keys(tx, item_id, fp).await?;
    }
    Ok(Some(item_id))
}

/// Writes the [`stories::lookup_keys`] of an item's fingerprint.
async fn write_story_keys(tx: &mut PgConnection, item_id: i64, fp: u64) -> Result<()> {
    write_story_keys_of(tx, &[(item_id, fp)]).await
}

/// Writes the [`stories::lookup_keys`] of items' fingerprints, in one
/// statement (the writer's items one by one, `db migrate-to`'s batches).
pub(super) async fn write_story_keys_of(tx: &mut PgConnection, items: &[(i64, u64)]) -> Result<()> {
    let (mut keys, mut ids) = (Vec::new(), Vec::new());
    for &(item_id, fp) in items {
        for key in stories::lookup_keys(fp) {
            keys.push(key);
            ids.push(item_id);
        }
    }
    if keys.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO story_keys (lookup_key, item_id) SELECT * FROM unnest($1::bigint[], $2::bigint[]) \
         ON CONFLICT DO NOTHING",
    )
    .bind(keys)
    .bind(ids)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Records the update's feed as one more source of the stored `item_id`
/// (same canonical URL). Matches of this feed's copy add to the item's;
/// none is removed. Returns the number of new matches.
async fn add_source(
    tx: &mut PgConnection,
    update: &FeedUpdate,
    write: &ItemWrite,
    item_id: i64,
    at: DateTime<Utc>,
) -> Result<u64> {
    sqlx::query(
        "INSERT INTO item_sources (feed_id, item_key, item_id, content_hash, first_seen_at) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (feed_id, item_key) DO NOTHING",
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
            "UPDATE items SET page_state = 'pending', page_due = $1 WHERE id = $2 AND page_state IS NULL",
        )
        .bind(at)
        .bind(item_id)
        .execute(&mut *tx)
        .await?;
    }
    let held: HashSet<i64> = sqlx::query_scalar("SELECT topic_id FROM item_topics WHERE item_id = $1")
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

/// The stored item (the oldest, if several) of each canonical URL of the
/// updates' new items, in one statement.
async fn stored_canonical_urls(
    tx: &mut PgConnection,
    updates: &[&FeedUpdate],
) -> Result<HashMap<String, i64>> {
    let urls: Vec<&str> = updates
        .iter()
        .flat_map(|u| &u.items)
        .filter(|w| !w.stored)
        .filter_map(|w| w.canonical_url.as_deref())
        .collect();
    if urls.is_empty() {
        return Ok(HashMap::new());
    }
    let rows: Vec<(String, i64)> = sqlx::query_as(
        "SELECT canonical_url, min(id) FROM items WHERE canonical_url = ANY($1) GROUP BY canonical_url",
    )
    .bind(urls)
    .fetch_all(&mut *tx)
    .await?;
    Ok(rows.into_iter().collect())
}

/// Records `topic_ids` as matched by the item (those already in `stale`
/// are kept as they are), then removes the matches left in `stale`. Returns
/// the number of new matches.
pub(super) async fn write_matches(
    tx: &mut PgConnection,
    item_id: i64,
    topic_ids: &[i64],
    mut stale: HashSet<i64>,
    at: DateTime<Utc>,
) -> Result<u64> {
    let new: Vec<i64> = topic_ids.iter().copied().filter(|t| !stale.remove(t)).collect();
    let mut added = 0;
    if !new.is_empty() {
        added = sqlx::query(
            "INSERT INTO item_topics (item_id, topic_id, matched_at) \
             SELECT $1, t, $3 FROM unnest($2::bigint[]) AS t ON CONFLICT DO NOTHING",
        )
        .bind(item_id)
        .bind(&new)
        .bind(at)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    }
    // Topics the edited item no longer matches.
    if !stale.is_empty() {
        let stale: Vec<i64> = stale.into_iter().collect();
        sqlx::query("DELETE FROM item_topics WHERE item_id = $1 AND topic_id = ANY($2)")
            .bind(item_id)
            .bind(&stale)
            .execute(&mut *tx)
            .await?;
    }
    Ok(added)
}

/// A new item looking for its story.
struct Probe<'a> {
    fp: u64,
    sketch: &'a [u32],
    /// Its full language tag (`""` when missing); compared by primary
    /// subtag.
    lang: &'a str,
}

/// A candidate's row as [`find_story`] reads it: id, story, sketch, (title
/// and text if it has no sketch), fingerprint, language.
type Candidate = (
    i64,
    Option<i64>,
    Option<Vec<u8>>,
    String,
    String,
    Option<i64>,
    String,
);

/// The story a new item joins: that of the stored items in the same
/// language (primary subtag, [`crate::model::same_language`]), whose time
/// is within the window of its time, whose fingerprint is within
/// [`stories::NEAR_DUPLICATE_DISTANCE`] and whose sketch passes
/// [`stories::same_story_sketch`]; `None`: it starts one. If such items are
/// in several stories, the stories are merged into the one with the lowest
/// id ([`merge_stories`]), which the item joins ([`stories::decide`]).
///
/// Candidates are the items under the probe keys ([`stories::probe_keys`])
/// in `story_keys`, as SQLite's lookup without its in-memory copy reads
/// them. The stories found are locked (`FOR UPDATE`); if another instance
/// merged one away meanwhile, the lookup is made again.
async fn find_story(
    tx: &mut PgConnection,
    clock: Clock,
    probe: &Probe<'_>,
    sort_at: DateTime<Utc>,
    window: chrono::Duration,
) -> Result<Option<i64>> {
    let whole = |t: DateTime<Utc>| DateTime::from_timestamp(t.timestamp(), 0).unwrap_or(t);
    let (from, to) = (whole(sort_at - window), whole(sort_at + window));
    let probes = stories::probe_keys(probe.fp, stories::NEAR_DUPLICATE_DISTANCE);
    let new = stories::Copy {
        fingerprint: probe.fp,
        lang: probe.lang,
        sketch: None,
    };
    for lookup in 1..=STORY_LOOKUPS {
        // The candidates' ids first (an array), then the items by primary
        // key: while a cold cycle's tables grow inside the writer's first
        // transactions the planner cannot tell that the window holds most
        // items, and a semi-join scanned them all for every lookup.
        let rows: Vec<Candidate> = sqlx::query_as(
            "SELECT i.id, i.story_id, i.sketch, CASE WHEN i.sketch IS NULL THEN i.title ELSE '' END, \
             CASE WHEN i.sketch IS NULL THEN i.text ELSE '' END, i.fingerprint, coalesce(i.lang, '') \
             FROM items i WHERE i.id = ANY(ARRAY(SELECT item_id FROM story_keys WHERE lookup_key = ANY($1))) \
             AND i.sort_at BETWEEN $2 AND $3",
        )
        .bind(&probes)
        .bind(from)
        .bind(to)
        .fetch_all(&mut *tx)
        .await?;
        // Near, same language (the window is the query's), nearest first,
        // then oldest: the order of SQLite's lookup.
        let mut near: Vec<(u32, Candidate)> = rows
            .into_iter()
            .filter_map(|row| {
                let stored = stories::Copy {
                    fingerprint: row.5? as u64,
                    lang: &row.6,
                    sketch: None,
                };
                stories::same_story(&new, &stored)
                    .then(|| (stories::hamming(probe.fp, stored.fingerprint), row))
            })
            .collect();
        near.sort_unstable_by_key(|(distance, row)| (*distance, row.0));
        // Distinct stories the item is the same story as.
        let mut found: Vec<i64> = Vec::new();
        for (_, (_, story, stored, title, text, _, _)) in near {
            let Some(story) = story else { continue };
            if found.contains(&story) {
                continue;
            }
            let sketch = match stored {
                Some(bytes) => stories::sketch_from_bytes(&bytes),
                // Stored before sketches.
                None => stories::sketch(&stories::article_words(&title, &text)),
            };
            if stories::same_story_sketch(probe.sketch, &sketch) {
                found.push(story);
            }
        }
        let (keep, gone) = match stories::decide(&found) {
            stories::Decision::New => return Ok(None),
            stories::Decision::Join(keep) => (keep, Vec::new()),
            stories::Decision::Merge { keep, gone } => (keep, gone),
        };
        // Locked, the stories stay until this transaction ends; one that
        // is no longer there was merged into another meanwhile (its items
        // moved): look again, unless that keeps happening.
        let locked: Vec<i64> =
            sqlx::query_scalar("SELECT id FROM stories WHERE id = ANY($1) ORDER BY id FOR UPDATE")
                .bind(&found)
                .fetch_all(&mut *tx)
                .await?;
        if locked.len() < found.len() && lookup < STORY_LOOKUPS {
            continue;
        }
        let (keep, gone) = if locked.len() < found.len() {
            match stories::decide(&locked) {
                stories::Decision::New => return Ok(None),
                stories::Decision::Join(keep) => (keep, Vec::new()),
                stories::Decision::Merge { keep, gone } => (keep, gone),
            }
        } else {
            (keep, gone)
        };
        for &gone in &gone {
            merge_stories(tx, keep, gone, whole_seconds(clock.now())).await?;
        }
        return Ok(Some(keep));
    }
    Ok(None)
}

/// Moves the items of story `gone` to story `keep`, which takes its span,
/// count and (if `gone` began earlier) headline; `gone` is deleted and
/// recorded in `story_merges`.
async fn merge_stories(tx: &mut PgConnection, keep: i64, gone: i64, at: DateTime<Utc>) -> Result<()> {
    tracing::debug!(keep, gone, "merging stories");
    sqlx::query(
        "UPDATE stories SET \
             headline = CASE WHEN g.first_seen < stories.first_seen THEN g.headline ELSE stories.headline END, \
             first_seen = least(stories.first_seen, g.first_seen), \
             last_seen = greatest(stories.last_seen, g.last_seen), \
             item_count = stories.item_count + g.item_count \
         FROM (SELECT headline, first_seen, last_seen, item_count FROM stories WHERE id = $2) AS g \
         WHERE stories.id = $1",
    )
    .bind(keep)
    .bind(gone)
    .execute(&mut *tx)
    .await?;
    sqlx::query("UPDATE items SET story_id = $1 WHERE story_id = $2")
        .bind(keep)
        .bind(gone)
        .execute(&mut *tx)
        .await?;
    sqlx::query("DELETE FROM stories WHERE id = $1")
        .bind(gone)
        .execute(&mut *tx)
        .await?;
    sqlx::query("INSERT INTO story_merges (story_id, merged_into, merged_at) VALUES ($1, $2, $3)")
        .bind(gone)
        .bind(keep)
        .bind(at)
        .execute(&mut *tx)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Slots are in range, and the same key always has the same slot.
    #[test]
    fn slots_are_stable_and_in_range() {
        for key in [0u64, 1, 42, u64::MAX, 0x0123_4567_89ab_cdef] {
            let s = slot(key, STORY_KEY_SLOTS);
            assert!((0..STORY_KEY_SLOTS as i32).contains(&s), "{key}: {s}");
            assert_eq!(s, slot(key, STORY_KEY_SLOTS));
        }
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
    }

    /// Two fingerprints within the near-duplicate distance always share a
    /// locked slot (one's lookup key is among the other's probes, and each
    /// item locks its probes), so their writers take turns.
    #[test]
    fn near_fingerprints_share_a_lock() {
        let mut rng = fastrand::Rng::with_seed(23);
        let slots = |fp: u64| -> HashSet<i32> {
            stories::probe_keys(fp, stories::NEAR_DUPLICATE_DISTANCE)
                .into_iter()
                .map(|k| slot(k as u64, STORY_KEY_SLOTS))
                .collect()
        };
        for _ in 0..2000 {
            let a = rng.u64(..);
            let mut b = a;
            for _ in 0..rng.u32(0..=stories::NEAR_DUPLICATE_DISTANCE) {
                b ^= 1 << rng.u32(0..64);
            }
            assert!(stories::hamming(a, b) <= stories::NEAR_DUPLICATE_DISTANCE);
            assert!(!slots(a).is_disjoint(&slots(b)), "{a:x} {b:x}");
        }
    }
}
