//! Topic rows, topic statistics and backfilled matches.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use sqlx::{QueryBuilder, Sqlite};

use super::{ts, Result, SqliteStore};
use crate::store::TopicMatches;
use crate::topics::TopicSet;

/// Topics per statement when many are written at once (far below SQLite's
/// parameter limit).
const TOPIC_CHUNK: usize = 500;

/// A configured topic's row and whether its matches are out of date.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicRow {
    pub id: i64,
    /// The canonical query differs from the one the stored matches were
    /// computed with (or the topic is new): it needs a backfill.
    pub needs_backfill: bool,
}

/// Match counts of a topic.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow, serde::Serialize)]
pub struct TopicStats {
    pub name: String,
    pub query: String,
    pub total: i64,
    pub last_24h: i64,
    pub last_7d: i64,
}

/// A stored topic that is no longer configured.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct RetiredTopic {
    pub name: String,
    pub query: String,
    pub retired_at: Option<String>,
}

impl SqliteStore {
    /// Makes sure every topic of the set has a row with its current query;
    /// returns the rows in the set's order.
    /// Topics stored but absent from the set are retired (kept with their
    /// matches, `retired_at` set); a topic of the set is active again.
    pub async fn sync_topics(&self, topics: &TopicSet, now: DateTime<Utc>) -> Result<Vec<TopicRow>> {
        let mut tx = self.write.begin_with("BEGIN IMMEDIATE").await?;
        let active: HashSet<&str> = topics.topics().iter().map(|t| t.name.as_str()).collect();
        let stored: Vec<(String, Option<String>)> = sqlx::query_as("SELECT name, retired_at FROM topics")
            .fetch_all(&mut *tx)
            .await?;
        let now = ts(now);
        for (name, retired) in stored {
            if retired.is_none() && !active.contains(name.as_str()) {
                sqlx::query("UPDATE topics SET retired_at = ? WHERE name = ?")
                    .bind(&now)
                    .bind(&name)
                    .execute(&mut *tx)
                    .await?;
                tracing::info!(topic = %name, "topic retired: it is no longer in the config (its matches are kept)");
            }
        }
        // One statement per chunk: a desk's 100,000 topics took 100,000.
        let mut stored: HashMap<String, (i64, String)> = HashMap::with_capacity(topics.topics().len());
        for chunk in topics.topics().chunks(TOPIC_CHUNK) {
            let mut q: QueryBuilder<Sqlite> = QueryBuilder::new("INSERT INTO topics (name, query) ");
            q.push_values(chunk, |mut b, topic| {
                b.push_bind(&topic.name).push_bind(&topic.query);
            });
            q.push(
                " ON CONFLICT (name) DO UPDATE SET query = excluded.query, retired_at = NULL \
                 RETURNING name, id, compiled",
            );
            let rows: Vec<(String, i64, String)> = q.build_query_as().fetch_all(&mut *tx).await?;
            stored.extend(
                rows.into_iter()
                    .map(|(name, id, compiled)| (name, (id, compiled))),
            );
        }
        tx.commit().await?;
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
    /// scan); then records `compiled` as the query the matches are now
    /// computed with. One transaction for all of `topics` (a first start
    /// with 100,000 topics made 100,000 transactions), and a few
    /// statements per [`TOPIC_CHUNK`] topics besides the matches that
    /// change; (added, removed) per topic, in order.
    pub async fn replace_topic_matches(
        &self,
        topics: &[TopicMatches<'_>],
        (scanned_since, scanned_upto): (DateTime<Utc>, i64),
        at: DateTime<Utc>,
    ) -> Result<Vec<(u64, u64)>> {
        let at = ts(at);
        let mut tx = self.write.begin_with("BEGIN IMMEDIATE").await?;
        let mut counts = Vec::with_capacity(topics.len());
        for chunk in topics.chunks(TOPIC_CHUNK) {
            // Matches recorded after the scan began, and of items it did not
            // reach, are ingest's (new or edited items, matched with the new
            // query): they stay. (Times are whole seconds: one recorded in the
            // second the scan began counts as older, so that a backfill right
            // after another one can still remove what it added.)
            let mut q: QueryBuilder<Sqlite> = QueryBuilder::new("SELECT topic_id, item_id, matched_at > ");
            q.push_bind(ts(scanned_since))
                .push(" OR item_id > ")
                .push_bind(scanned_upto)
                .push(" FROM item_topics WHERE topic_id IN (");
            let mut list = q.separated(", ");
            for topic in chunk {
                list.push_bind(topic.topic_id);
            }
            q.push(")");
            let mut held: HashMap<i64, Vec<(i64, bool)>> = HashMap::new();
            for (topic_id, item_id, recent) in
                q.build_query_as::<(i64, i64, bool)>().fetch_all(&mut *tx).await?
            {
                held.entry(topic_id).or_default().push((item_id, recent));
            }
            for topic in chunk {
                let topic_id = topic.topic_id;
                let (new, gone) = topic.changes(held.remove(&topic_id).unwrap_or_default());
                let (mut added, mut removed) = (0, 0);
                for id in new {
                    sqlx::query(
                        "INSERT INTO item_topics (item_id, topic_id, matched_at, backfilled) VALUES (?, ?, ?, 1)",
                    )
                    .bind(id)
                    .bind(topic_id)
                    .bind(&at)
                    .execute(&mut *tx)
                    .await?;
                    added += 1;
                }
                for id in gone {
                    sqlx::query("DELETE FROM item_topics WHERE topic_id = ? AND item_id = ?")
                        .bind(topic_id)
                        .bind(id)
                        .execute(&mut *tx)
                        .await?;
                    removed += 1;
                }
                counts.push((added, removed));
            }
            let mut q: QueryBuilder<Sqlite> = QueryBuilder::new("WITH v (id, compiled) AS (");
            q.push_values(chunk, |mut b, topic| {
                b.push_bind(topic.topic_id).push_bind(topic.compiled);
            });
            q.push(") UPDATE topics SET compiled = v.compiled FROM v WHERE topics.id = v.id");
            q.build().execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(counts)
    }

    /// Stored topics other than `active` (those that left the config):
    /// name, the last query stored for it, and when `feedwatch run` retired
    /// it (`None` when no run has seen the config without it yet). By name.
    pub async fn retired_topics(&self, active: &[&str]) -> Result<Vec<RetiredTopic>> {
        let rows: Vec<RetiredTopic> =
            sqlx::query_as("SELECT name, query, retired_at FROM topics ORDER BY name")
                .fetch_all(&self.read)
                .await?;
        let active: HashSet<&str> = active.iter().copied().collect();
        Ok(rows
            .into_iter()
            .filter(|t| !active.contains(t.name.as_str()))
            .collect())
    }

    /// Topic name → number of matched items, for every active stored topic.
    pub async fn topic_counts(&self) -> Result<Vec<(String, i64)>> {
        Ok(sqlx::query_as(
            "SELECT t.name, count(it.item_id) FROM topics t \
             LEFT JOIN item_topics it ON it.topic_id = t.id WHERE t.retired_at IS NULL \
             GROUP BY t.id ORDER BY t.name",
        )
        .fetch_all(&self.read)
        .await?)
    }

    /// Match counts of the named topics (by item publication time), in the
    /// given order; topics without a row count zero.
    pub async fn topic_stats(
        &self,
        names: &[(String, String)],
        now: DateTime<Utc>,
    ) -> Result<Vec<TopicStats>> {
        let day = ts(now - chrono::Duration::days(1));
        let week = ts(now - chrono::Duration::days(7));
        let mut out = Vec::with_capacity(names.len());
        for (name, query) in names {
            let (total, last_24h, last_7d): (i64, i64, i64) = sqlx::query_as(
                "SELECT count(*), coalesce(sum(i.sort_at >= ?), 0), coalesce(sum(i.sort_at >= ?), 0) \
                 FROM item_topics it JOIN topics t ON t.id = it.topic_id JOIN items i ON i.id = it.item_id \
                 WHERE t.name = ?",
            )
            .bind(&day)
            .bind(&week)
            .bind(name)
            .fetch_one(&self.read)
            .await?;
            out.push(TopicStats {
                name: name.clone(),
                query: query.clone(),
                total,
                last_24h,
                last_7d,
            });
        }
        Ok(out)
    }
}
