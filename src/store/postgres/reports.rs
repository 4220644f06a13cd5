//! Reports over the archive on PostgreSQL: volume per time bucket, top
//! outlets, languages, stories and latest items of topics, and topic
//! counts (the `Archive` role's analytics; `stats`, `report`, `topics` and
//! the API read them). The same rows in the same order as SQLite's
//! (`sqlite/reports.rs`, `sqlite/topics.rs`): buckets are computed in UTC
//! and texts sort by code point (`COLLATE "C"`).

use sqlx::{Postgres, QueryBuilder};

use super::*;
use crate::store::{Bucket, Split};

/// The label (and start) of the bucket holding `i.sort_at`, in UTC, as
/// SQLite spells it: `YYYY-MM-DDTHH:00:00Z`, `YYYY-MM-DD` (a week's
/// Monday), `YYYY-MM-01`.
fn bucket_sql(bucket: Bucket) -> &'static str {
    match bucket {
        Bucket::Hour => "to_char(i.sort_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:00:00\"Z\"')",
        Bucket::Day => "to_char(i.sort_at AT TIME ZONE 'UTC', 'YYYY-MM-DD')",
        Bucket::Week => "to_char(date_trunc('week', i.sort_at AT TIME ZONE 'UTC'), 'YYYY-MM-DD')",
        Bucket::Month => "to_char(i.sort_at AT TIME ZONE 'UTC', 'YYYY-MM-01')",
    }
}

/// The SQL expression of the primary subtag of the language in `column`
/// (`''` when NULL or empty), as [`crate::model::primary_language`] gives
/// it (SQLite's `lang::primary_sql`): trimmed of spaces, tabs and line
/// ends, up to the first `-` or `_`, ASCII lowercase.
pub(super) fn primary_lang_sql(column: &str) -> String {
    format!(
        "translate(split_part(replace(btrim(coalesce({column}, ''), chr(32) || chr(9) || chr(10) || chr(13)), \
         '_', '-'), '-', 1), 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz')"
    )
}

impl PgStore {
    /// Item counts per bucket (and split key), oldest bucket first. Empty
    /// buckets are absent.
    pub async fn volume(&self, query: &VolumeQuery) -> Result<Vec<VolumeRow>> {
        let split = match query.split {
            Split::None => "''".to_string(),
            Split::Feed => "coalesce(f.name, f.title, f.url)".to_string(),
            Split::Lang => primary_lang_sql("i.lang"),
        };
        let mut q: QueryBuilder<Postgres> = QueryBuilder::new(format!(
            "SELECT {} COLLATE \"C\" AS bucket, {split} COLLATE \"C\" AS split, count(*) FROM ",
            bucket_sql(query.bucket)
        ));
        let join = if query.split == Split::Feed {
            " JOIN feeds f ON f.id = i.feed_id"
        } else {
            ""
        };
        push_window(&mut q, &query.topics, join, query.since, query.until);
        q.push(" GROUP BY 1, 2 ORDER BY bucket, split");
        Ok(q.build_query_as().fetch_all(&self.pool).await?)
    }

    /// Feeds carrying the most items (any feed listing an item counts),
    /// with their item counts.
    pub async fn top_outlets(
        &self,
        topics: &[String],
        since: DateTime<Utc>,
        until: Option<DateTime<Utc>>,
        limit: u32,
    ) -> Result<Vec<(String, i64)>> {
        let mut q: QueryBuilder<Postgres> = QueryBuilder::new(
            "SELECT coalesce(sf.name, sf.title, sf.url) COLLATE \"C\" AS outlet, count(DISTINCT i.id) AS n FROM ",
        );
        push_window(
            &mut q,
            topics,
            " JOIN item_sources s ON s.item_id = i.id JOIN feeds sf ON sf.id = s.feed_id",
            since,
            until,
        );
        q.push(" GROUP BY 1 ORDER BY n DESC, outlet LIMIT ")
            .push_bind(i64::from(limit));
        Ok(q.build_query_as().fetch_all(&self.pool).await?)
    }

    /// Primary languages of the items (`en` for `en-US`; `''` when
    /// unknown), most items first.
    pub async fn languages(
        &self,
        topics: &[String],
        since: DateTime<Utc>,
        until: Option<DateTime<Utc>>,
    ) -> Result<Vec<(String, i64)>> {
        let mut q: QueryBuilder<Postgres> = QueryBuilder::new(format!(
            "SELECT {} COLLATE \"C\" AS language, count(*) AS n FROM ",
            primary_lang_sql("i.lang")
        ));
        push_window(&mut q, topics, "", since, until);
        q.push(" GROUP BY 1 ORDER BY n DESC, language");
        Ok(q.build_query_as().fetch_all(&self.pool).await?)
    }

    /// Stories with the most topic items in the window.
    pub async fn top_stories(
        &self,
        topics: &[String],
        since: DateTime<Utc>,
        until: Option<DateTime<Utc>>,
        limit: u32,
    ) -> Result<Vec<ReportStory>> {
        let mut q: QueryBuilder<Postgres> = QueryBuilder::new(
            "SELECT st.id, st.headline, count(*) AS topic_items, st.item_count::bigint AS item_count, \
             (SELECT count(DISTINCT src.feed_id) FROM items si JOIN item_sources src ON src.item_id = si.id \
               WHERE si.story_id = st.id) AS outlet_count, fw_ts(st.first_seen) AS first_seen, \
             fw_ts(st.last_seen) AS last_seen, \
             (SELECT si.url FROM items si WHERE si.story_id = st.id ORDER BY si.sort_at, si.id LIMIT 1) AS url \
             FROM ",
        );
        push_window(
            &mut q,
            topics,
            " JOIN stories st ON st.id = i.story_id",
            since,
            until,
        );
        q.push(" GROUP BY st.id ORDER BY topic_items DESC, st.item_count DESC, st.id LIMIT ")
            .push_bind(i64::from(limit));
        Ok(q.build_query_as().fetch_all(&self.pool).await?)
    }

    /// The newest items in the window, with their first feed and the
    /// number of feeds listing them.
    pub async fn latest_items(
        &self,
        topics: &[String],
        since: DateTime<Utc>,
        until: Option<DateTime<Utc>>,
        limit: u32,
    ) -> Result<Vec<ReportItem>> {
        let mut q: QueryBuilder<Postgres> = QueryBuilder::new(
            "SELECT i.id, i.title, i.url, fw_ts(i.published) AS published, i.lang, \
             coalesce(f.name, f.title, f.url) AS outlet, \
             (SELECT count(*) FROM item_sources s WHERE s.item_id = i.id) AS outlet_count FROM ",
        );
        push_window(&mut q, topics, " JOIN feeds f ON f.id = i.feed_id", since, until);
        q.push(" ORDER BY i.sort_at DESC, i.id DESC LIMIT ")
            .push_bind(i64::from(limit));
        Ok(q.build_query_as().fetch_all(&self.pool).await?)
    }

    /// When the newest item was published (else first seen), if any.
    pub async fn newest_item_at(&self) -> Result<Option<DateTime<Utc>>> {
        Ok(sqlx::query_scalar("SELECT max(sort_at) FROM items")
            .fetch_one(&self.pool)
            .await?)
    }

    /// Whether a topic of this name is stored.
    pub async fn has_topic(&self, name: &str) -> Result<bool> {
        Ok(
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM topics WHERE name = $1)")
                .bind(name)
                .fetch_one(&self.pool)
                .await?,
        )
    }

    /// Stored topics other than `active` (those that left the config):
    /// name, the last query stored for it, and when `feedwatch run` retired
    /// it (`None` when no run has seen the config without it yet). By name.
    pub async fn retired_topics(&self, active: &[&str]) -> Result<Vec<RetiredTopic>> {
        let rows: Vec<RetiredTopic> = sqlx::query_as(
            "SELECT name, query, fw_ts(retired_at) AS retired_at FROM topics ORDER BY name COLLATE \"C\"",
        )
        .fetch_all(&self.pool)
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
             GROUP BY t.id ORDER BY t.name COLLATE \"C\"",
        )
        .fetch_all(&self.pool)
        .await?)
    }

    /// Match counts of the named topics (by item publication time), in the
    /// given order; topics without a row count zero.
    pub async fn topic_stats(
        &self,
        names: &[(String, String)],
        now: DateTime<Utc>,
    ) -> Result<Vec<TopicStats>> {
        let day = now - chrono::Duration::days(1);
        let week = now - chrono::Duration::days(7);
        let mut out = Vec::with_capacity(names.len());
        for (name, query) in names {
            let (total, last_24h, last_7d): (i64, i64, i64) = sqlx::query_as(
                "SELECT count(*), count(*) FILTER (WHERE i.sort_at >= $1), count(*) FILTER (WHERE i.sort_at >= $2) \
                 FROM item_topics it JOIN topics t ON t.id = it.topic_id JOIN items i ON i.id = it.item_id \
                 WHERE t.name = $3",
            )
            .bind(day)
            .bind(week)
            .bind(name)
            .fetch_one(&self.pool)
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

/// `items i <joins> WHERE <topics> AND <window>`. Several topics count an
/// item matched by more than one of them once.
fn push_window(
    q: &mut QueryBuilder<Postgres>,
    topics: &[String],
    joins: &str,
    since: DateTime<Utc>,
    until: Option<DateTime<Utc>>,
) {
    match topics {
        [] => {
            q.push("items i").push(joins).push(" WHERE true");
        }
        [topic] => {
            q.push("item_topics it JOIN items i ON i.id = it.item_id")
                .push(joins)
                .push(" WHERE it.topic_id = (SELECT id FROM topics WHERE name = ")
                .push_bind(topic.clone())
                .push(")");
        }
        several => {
            q.push("items i").push(joins).push(
                " WHERE EXISTS (SELECT 1 FROM item_topics it WHERE it.item_id = i.id \
                 AND it.topic_id IN (SELECT id FROM topics WHERE name = ANY(",
            );
            q.push_bind(several.to_vec()).push(")))");
        }
    }
    q.push(" AND i.sort_at >= ").push_bind(since);
    if let Some(until) = until {
        q.push(" AND i.sort_at < ").push_bind(until);
    }
}
