//! Upkeep on PostgreSQL (the `Maintenance` role): retention of items and
//! tombstones, the consistency check, `VACUUM (ANALYZE)`; backups are
//! `pg_dump`'s.
//!
//! Several instances may prune at once, beside writers: an item is pruned
//! only once it is locked (`FOR UPDATE SKIP LOCKED`: one being written or
//! matched now waits for the next round) and still qualifies when its
//! delete runs, and its tombstones are written by the same statement that
//! deletes it.

use std::collections::BTreeSet;

use sqlx::Row;

use super::*;

/// feedwatch's tables (`migrations/postgres/`): what `vacuum` vacuums and
/// measures (the database may hold other applications' tables).
const TABLES: &[&str] = &[
    "feeds",
    "hosts",
    "stories",
    "story_merges",
    "items",
    "item_sources",
    "story_keys",
    "topics",
    "item_topics",
    "tombstones",
    "alert_state",
    "digests",
    "digest_items",
    "digest_notices",
];

/// Items read per round trip by [`PgStore::check`].
const CHECK_BATCH: i64 = 1000;

/// Problems of one kind listed by [`PgStore::check`] (the rest counted).
const LISTED: usize = 20;

/// Which items a retention rule prunes.
#[derive(Debug, Clone, Copy)]
enum Retention {
    /// Items no topic matches.
    Unmatched,
    /// Items some topic matches.
    Matched,
}

impl Retention {
    /// The condition on `items` (first seen before `$1`).
    fn condition(self) -> &'static str {
        match self {
            Retention::Unmatched => {
                "items.first_seen_at < $1 AND NOT EXISTS (SELECT 1 FROM item_topics it WHERE it.item_id = items.id)"
            }
            Retention::Matched => {
                "items.first_seen_at < $1 AND EXISTS (SELECT 1 FROM item_topics it WHERE it.item_id = items.id)"
            }
        }
    }
}

impl PgStore {
    /// Deletes items first seen before `cutoff` that match no topic, leaving
    /// a tombstone for each feed that listed one (their stories' counts
    /// follow by trigger). Returns the number pruned.
    pub async fn prune_unmatched(&self, cutoff: DateTime<Utc>, at: DateTime<Utc>) -> Result<u64> {
        self.prune(Retention::Unmatched, cutoff, at).await
    }

    /// Deletes items matched by a topic first seen before `cutoff`
    /// (retention of matched items), leaving tombstones like
    /// [`PgStore::prune_unmatched`]. Returns the number pruned.
    pub async fn prune_matched(&self, cutoff: DateTime<Utc>, at: DateTime<Utc>) -> Result<u64> {
        self.prune(Retention::Matched, cutoff, at).await
    }

    /// One transaction: locks the items `rule` prunes (skipping those
    /// another transaction holds: a writer's, another instance's prune),
    /// then, in one statement with a fresh snapshot, deletes those that
    /// still qualify (a match recorded meanwhile keeps an unmatched item)
    /// and tombstones each feed listing them.
    async fn prune(&self, rule: Retention, cutoff: DateTime<Utc>, at: DateTime<Utc>) -> Result<u64> {
        let condition = rule.condition();
        let mut tx = self.pool.begin().await?;
        let ids: Vec<i64> = sqlx::query_scalar(&format!(
            "SELECT id FROM items WHERE {condition} ORDER BY id FOR UPDATE SKIP LOCKED"
        ))
        .bind(cutoff)
        .fetch_all(&mut *tx)
        .await?;
        if ids.is_empty() {
            tx.commit().await?;
            return Ok(0);
        }
        let pruned: i64 = sqlx::query_scalar(&format!(
            "WITH gone AS (DELETE FROM items WHERE id = ANY($2) AND {condition} RETURNING id), \
             buried AS (INSERT INTO tombstones (feed_id, item_key, pruned_at) \
               SELECT s.feed_id, s.item_key, $3 FROM item_sources s JOIN gone ON gone.id = s.item_id \
               ON CONFLICT (feed_id, item_key) DO NOTHING) \
             SELECT count(*) FROM gone"
        ))
        .bind(cutoff)
        .bind(&ids)
        .bind(at)
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(pruned as u64)
    }

    /// Forgets tombstones made before `cutoff`: a feed still listing such an
    /// item brings it back as new. Returns the number removed.
    pub async fn prune_tombstones(&self, cutoff: DateTime<Utc>) -> Result<u64> {
        Ok(sqlx::query("DELETE FROM tombstones WHERE pruned_at < $1")
            .bind(cutoff)
            .execute(&self.pool)
            .await?
            .rows_affected())
    }

    /// Not feedwatch's to do on PostgreSQL: the error names the database
    /// and the `pg_dump` command that backs it up (a consistent copy while
    /// the instances keep writing). feedwatch does not run `pg_dump`
    /// itself: it would need a client of the server's major version on the
    /// daemon's host, and the database's credentials on a command line.
    pub async fn backup(&self, path: &Path) -> Result<()> {
        Err(StoreError::BackupWithPgDump {
            store: Location::Postgres((*self.target).clone()),
            path: path.to_path_buf(),
        })
    }

    /// Checks what PostgreSQL does not enforce, read-only: every item has a
    /// story; stories' counts agree with their items (no story without
    /// items); merged stories lead to a story; every fingerprinted item has
    /// exactly its lookup keys in `story_keys` ([`crate::stories::lookup_keys`])
    /// and other items none; each item's `words` are its folded title and
    /// text words ([`crate::text::words_in`] in its language). References
    /// between tables are foreign keys, enforced by PostgreSQL: the
    /// report's `foreign_keys` lists the constraints not validated.
    /// `integrity` is `["ok"]` when all is sound.
    pub async fn check(&self) -> Result<CheckReport> {
        let mut problems: Vec<String> = Vec::new();
        let mut list = |kind: &str, found: Vec<String>| {
            let more = found.len().saturating_sub(LISTED);
            problems.extend(found.into_iter().take(LISTED).map(|f| format!("{kind}: {f}")));
            if more > 0 {
                problems.push(format!("{kind}: and {more} more"));
            }
        };
        let orphans: Vec<i64> = sqlx::query_scalar("SELECT id FROM items WHERE story_id IS NULL ORDER BY id")
            .fetch_all(&self.pool)
            .await?;
        list(
            "items",
            orphans
                .iter()
                .map(|id| format!("item {id} has no story"))
                .collect(),
        );
        let counts: Vec<(i64, i64, i64)> = sqlx::query_as(
            "SELECT s.id, s.item_count::bigint, count(i.id) FROM stories s LEFT JOIN items i ON i.story_id = s.id \
             GROUP BY s.id HAVING s.item_count <> count(i.id) OR count(i.id) = 0 ORDER BY s.id",
        )
        .fetch_all(&self.pool)
        .await?;
        list(
            "stories",
            counts
                .iter()
                .map(|(id, stored, real)| format!("story {id} counts {stored} items, has {real}"))
                .collect(),
        );
        let dangling: Vec<(i64, i64)> = sqlx::query_as(
            "SELECT m.story_id, m.merged_into FROM story_merges m \
             WHERE NOT EXISTS (SELECT 1 FROM stories s WHERE s.id = m.merged_into) \
               AND NOT EXISTS (SELECT 1 FROM story_merges n WHERE n.story_id = m.merged_into) \
             ORDER BY m.story_id",
        )
        .fetch_all(&self.pool)
        .await?;
        list(
            "story_merges",
            dangling
                .iter()
                .map(|(id, into)| format!("story {id} was merged into {into}, which is gone"))
                .collect(),
        );
        let (keys, words) = self.check_items().await?;
        list("story_keys", keys);
        let search_index_ok = words.is_empty();
        list("items.words", words);
        let foreign_keys: Vec<String> = sqlx::query_scalar(
            "SELECT conrelid::regclass::text || ' ' || conname FROM pg_constraint \
             WHERE contype = 'f' AND NOT convalidated AND connamespace = current_schema()::regnamespace \
             ORDER BY 1",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(CheckReport {
            integrity: if problems.is_empty() {
                vec!["ok".into()]
            } else {
                problems
            },
            foreign_keys: foreign_keys
                .into_iter()
                .map(|c| format!("{c} is not validated"))
                .collect(),
            search_index_ok,
        })
    }

    /// Every item's lookup keys and search words against what they should
    /// be, in id order: (items with wrong keys, items with wrong words).
    async fn check_items(&self) -> Result<(Vec<String>, Vec<String>)> {
        let (mut keys, mut words) = (Vec::new(), Vec::new());
        let mut after = 0i64;
        loop {
            let rows = sqlx::query(
                "SELECT i.id, i.title, i.text, i.lang, i.fingerprint, tsvector_to_array(i.words) AS lexemes, \
                 coalesce((SELECT array_agg(k.lookup_key ORDER BY k.lookup_key) FROM story_keys k \
                   WHERE k.item_id = i.id), '{}') AS keys \
                 FROM items i WHERE i.id > $1 ORDER BY i.id LIMIT $2",
            )
            .bind(after)
            .bind(CHECK_BATCH)
            .fetch_all(&self.pool)
            .await?;
            let Some(last) = rows.last() else {
                break;
            };
            after = last.try_get("id")?;
            for row in &rows {
                let id: i64 = row.try_get("id")?;
                let fingerprint: Option<i64> = row.try_get("fingerprint")?;
                let stored: Vec<i64> = row.try_get("keys")?;
                let expected: Vec<i64> = match fingerprint {
                    Some(fp) => {
                        let mut k = crate::stories::lookup_keys(fp as u64).to_vec();
                        k.sort_unstable();
                        k.dedup();
                        k
                    }
                    None => Vec::new(),
                };
                if stored != expected {
                    keys.push(format!(
                        "item {id} has {} lookup keys of its {}",
                        stored.iter().filter(|k| expected.contains(k)).count(),
                        expected.len()
                    ));
                }
                let title: String = row.try_get("title")?;
                let text: String = row.try_get("text")?;
                let lang: Option<String> = row.try_get("lang")?;
                let mut lexemes: Vec<String> = row.try_get("lexemes")?;
                lexemes.sort_unstable();
                if lexemes != search_lexemes(&title, &text, lang.as_deref()) {
                    words.push(format!("item {id}'s search words are not its title and text"));
                }
            }
        }
        Ok((keys, words))
    }

    /// `VACUUM (ANALYZE)` of feedwatch's tables: the space of pruned items
    /// becomes free for new ones (PostgreSQL returns to the system only
    /// empty pages at a table's end; `VACUUM FULL` would lock every
    /// instance out), the planner's statistics are fresh. The sizes are
    /// those of the tables with their indexes and TOAST
    /// (`pg_total_relation_size`).
    pub async fn vacuum(&self) -> Result<Compacted> {
        let before = self.tables_size().await?;
        sqlx::query(&format!("VACUUM (ANALYZE) {}", TABLES.join(", ")))
            .execute(&self.pool)
            .await?;
        Ok(Compacted {
            before,
            after: self.tables_size().await?,
        })
    }

    async fn tables_size(&self) -> Result<u64> {
        let size: i64 = sqlx::query_scalar(
            "SELECT coalesce(sum(pg_total_relation_size(to_regclass(t))), 0)::bigint FROM unnest($1::text[]) t",
        )
        .bind(TABLES)
        .fetch_one(&self.pool)
        .await?;
        Ok(size.max(0) as u64)
    }

    /// Nothing to do on PostgreSQL: the server checkpoints and autovacuums.
    pub async fn tidy(&self) -> Result<Option<&'static str>> {
        Ok(None)
    }
}

/// The lexemes `items.words` holds for an item (`fw_words` of its folded
/// words, as `tsvector_to_array` lists them): distinct, sorted bytewise,
/// those PostgreSQL can hold.
fn search_lexemes(title: &str, text: &str, lang: Option<&str>) -> Vec<String> {
    let words: BTreeSet<String> = crate::text::words_in(title, lang)
        .into_iter()
        .chain(crate::text::words_in(text, lang))
        .filter(|w| !w.is_empty() && w.len() <= 2047)
        .collect();
    words.into_iter().collect()
}
