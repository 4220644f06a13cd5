//! Reports over the archive: volume per time bucket, top outlets,
//! languages, stories and latest items of topics (the `Archive` role's
//! analytics; `stats`, `report` and the API read them).

use chrono::{DateTime, Utc};
use sqlx::{QueryBuilder, Sqlite};

use super::{ts, Result, SqliteStore};

/// Width of a volume bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bucket {
    /// `YYYY-MM-DDTHH:00:00Z`.
    Hour,
    /// `YYYY-MM-DD`.
    Day,
    /// `YYYY-MM-DD` of the week's Monday.
    Week,
    /// `YYYY-MM-01`.
    Month,
}

impl Bucket {
    /// The label (and start) of the bucket holding the time string `at`.
    fn start_sql(self, at: &str) -> String {
        match self {
            Bucket::Hour => format!("strftime('%Y-%m-%dT%H:00:00Z', {at})"),
            Bucket::Day => format!("date({at})"),
            Bucket::Week => format!("date({at}, '-6 days', 'weekday 1')"),
            Bucket::Month => format!("date({at}, 'start of month')"),
        }
    }

    /// The start of the bucket after the one starting at `start`.
    fn next_sql(self, start: &str) -> String {
        match self {
            Bucket::Hour => format!("strftime('%Y-%m-%dT%H:00:00Z', {start}, '+1 hour')"),
            Bucket::Day => format!("date({start}, '+1 day')"),
            Bucket::Week => format!("date({start}, '+7 days')"),
            Bucket::Month => format!("date({start}, '+1 month')"),
        }
    }

    fn sql(self) -> &'static str {
        match self {
            Bucket::Hour => "substr(i.sort_at, 1, 13) || ':00:00Z'",
            Bucket::Day => "substr(i.sort_at, 1, 10)",
            Bucket::Week => "date(substr(i.sort_at, 1, 10), '-6 days', 'weekday 1')",
            Bucket::Month => "substr(i.sort_at, 1, 7) || '-01'",
        }
    }
}

/// What each volume count is split by, besides its bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Split {
    #[default]
    None,
    /// The item's first feed (name, else title, else URL).
    Feed,
    /// The item's primary language subtag (`en` for `en-US`; `''` when
    /// unknown).
    Lang,
}

/// Items per bucket (by publication time, else first seen).
#[derive(Debug, Clone)]
pub struct VolumeQuery {
    /// Only items matched by one of these topics (by name); all items when
    /// empty.
    pub topics: Vec<String>,
    pub since: DateTime<Utc>,
    pub until: Option<DateTime<Utc>>,
    pub bucket: Bucket,
    pub split: Split,
}

/// One count: `(bucket, split key, items)`; the split key is `""` without
/// a split.
pub type VolumeRow = (String, String, i64);

/// A story as listed in a topic report.
#[derive(Debug, Clone, Default, sqlx::FromRow, serde::Serialize)]
pub struct ReportStory {
    pub id: i64,
    pub headline: String,
    /// Items of the story matched by the topic in the window.
    pub topic_items: i64,
    pub item_count: i64,
    pub outlet_count: i64,
    pub first_seen: String,
    pub last_seen: String,
    /// Link of the story's first item.
    pub url: Option<String>,
}

/// An article as listed in a report.
#[derive(Debug, Clone, Default, sqlx::FromRow, serde::Serialize)]
pub struct ReportItem {
    pub id: i64,
    pub title: String,
    pub url: Option<String>,
    pub published: Option<String>,
    pub lang: Option<String>,
    /// Its first feed.
    pub outlet: String,
    /// Feeds listing it.
    pub outlet_count: i64,
}

impl SqliteStore {
    /// Item counts per bucket (and split key), oldest bucket first. Empty
    /// buckets are absent.
    pub async fn volume(&self, query: &VolumeQuery) -> Result<Vec<VolumeRow>> {
        if query.topics.is_empty() && query.split == Split::None {
            return self.volume_of_all(query).await;
        }
        let split = match query.split {
            Split::None => "''".to_string(),
            Split::Feed => "coalesce(f.name, f.title, f.url)".to_string(),
            Split::Lang => super::lang::primary_sql("i.lang"),
        };
        let mut q: QueryBuilder<Sqlite> = QueryBuilder::new(format!(
            "SELECT {} AS bucket, {split} AS split, count(*) FROM ",
            query.bucket.sql()
        ));
        let join = if query.split == Split::Feed {
            " JOIN feeds f ON f.id = i.feed_id"
        } else {
            ""
        };
        push_window(&mut q, &query.topics, join, query.since, query.until);
        q.push(" GROUP BY bucket, split ORDER BY bucket, split");
        Ok(q.build_query_as().fetch_all(&self.read).await?)
    }

    /// [`SqliteStore::volume`] of all items, unsplit: one range count per bucket
    /// on the newest-first index. Grouping by a bucket expression instead
    /// sorts every item of the window (0.3 s for a million).
    async fn volume_of_all(&self, query: &VolumeQuery) -> Result<Vec<VolumeRow>> {
        let bucket = query.bucket;
        // The end of the window: `until`, else just past the newest item.
        let end = match query.until {
            Some(until) => ts(until),
            None => {
                let newest: Option<String> = sqlx::query_scalar("SELECT max(sort_at) FROM items")
                    .fetch_one(&self.read)
                    .await?;
                match newest {
                    Some(newest) => format!("{newest}~"),
                    None => return Ok(Vec::new()),
                }
            }
        };
        let since = ts(query.since);
        let sql = format!(
            "WITH RECURSIVE b (lo) AS (SELECT {first} UNION ALL SELECT {next} FROM b WHERE {next} < ?2) \
             SELECT bucket, '' AS split, n FROM (SELECT lo AS bucket, (SELECT count(*) FROM items i \
               WHERE i.sort_at >= max(b.lo, ?1) AND i.sort_at < min({next}, ?2)) AS n FROM b) \
             WHERE n > 0 ORDER BY bucket",
            first = bucket.start_sql("?1"),
            next = bucket.next_sql("b.lo"),
        );
        if since >= end {
            return Ok(Vec::new());
        }
        Ok(sqlx::query_as(&sql)
            .bind(since)
            .bind(end)
            .fetch_all(&self.read)
            .await?)
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
        let mut q: QueryBuilder<Sqlite> = QueryBuilder::new(
            "SELECT coalesce(sf.name, sf.title, sf.url) AS outlet, count(DISTINCT i.id) AS n FROM ",
        );
        push_window(
            &mut q,
            topics,
            " JOIN item_sources s ON s.item_id = i.id JOIN feeds sf ON sf.id = s.feed_id",
            since,
            until,
        );
        q.push(" GROUP BY outlet ORDER BY n DESC, outlet LIMIT ")
            .push_bind(i64::from(limit));
        Ok(q.build_query_as().fetch_all(&self.read).await?)
    }

    /// Primary languages of the items (`en` for `en-US`; `''` when
    /// unknown), most items first.
    pub async fn languages(
        &self,
        topics: &[String],
        since: DateTime<Utc>,
        until: Option<DateTime<Utc>>,
    ) -> Result<Vec<(String, i64)>> {
        let mut q: QueryBuilder<Sqlite> = QueryBuilder::new(format!(
            "SELECT {} AS language, count(*) AS n FROM ",
            super::lang::primary_sql("i.lang")
        ));
        push_window(&mut q, topics, "", since, until);
        // Not `lang`: GROUP BY takes a column of that name (`i.lang`)
        // before an alias.
        q.push(" GROUP BY language ORDER BY n DESC, language");
        Ok(q.build_query_as().fetch_all(&self.read).await?)
    }

    /// Stories with the most topic items in the window.
    pub async fn top_stories(
        &self,
        topics: &[String],
        since: DateTime<Utc>,
        until: Option<DateTime<Utc>>,
        limit: u32,
    ) -> Result<Vec<ReportStory>> {
        let mut q: QueryBuilder<Sqlite> = QueryBuilder::new(
            "SELECT st.id, st.headline, count(*) AS topic_items, st.item_count, \
             (SELECT count(DISTINCT src.feed_id) FROM items si JOIN item_sources src ON src.item_id = si.id \
               WHERE si.story_id = st.id) AS outlet_count, st.first_seen, st.last_seen, \
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
        Ok(q.build_query_as().fetch_all(&self.read).await?)
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
        let mut q: QueryBuilder<Sqlite> = QueryBuilder::new(
            "SELECT i.id, i.title, i.url, i.published, i.lang, \
             coalesce(f.name, f.title, f.url) AS outlet, \
             (SELECT count(*) FROM item_sources s WHERE s.item_id = i.id) AS outlet_count FROM ",
        );
        push_window(&mut q, topics, " JOIN feeds f ON f.id = i.feed_id", since, until);
        q.push(" ORDER BY i.sort_at DESC, i.id DESC LIMIT ")
            .push_bind(i64::from(limit));
        Ok(q.build_query_as().fetch_all(&self.read).await?)
    }

    /// When the newest item was published (else first seen), if any.
    pub async fn newest_item_at(&self) -> Result<Option<DateTime<Utc>>> {
        let newest: Option<String> = sqlx::query_scalar("SELECT max(sort_at) FROM items")
            .fetch_one(&self.read)
            .await?;
        Ok(newest.as_deref().and_then(super::parse_ts))
    }

    /// Whether a topic of this name is stored.
    pub async fn has_topic(&self, name: &str) -> Result<bool> {
        Ok(
            sqlx::query_scalar::<_, i64>("SELECT count(*) FROM topics WHERE name = ?")
                .bind(name)
                .fetch_one(&self.read)
                .await?
                > 0,
        )
    }
}

/// `items i <joins> WHERE <topics> AND <window>`, binding the topic names
/// (if any), then `since`, then `until` (if any). Several topics count an
/// item matched by more than one of them once.
fn push_window(
    q: &mut QueryBuilder<Sqlite>,
    topics: &[String],
    joins: &str,
    since: DateTime<Utc>,
    until: Option<DateTime<Utc>>,
) {
    match topics {
        [] => {
            q.push("items i").push(joins).push(" WHERE 1 = 1");
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
                 AND it.topic_id IN (SELECT id FROM topics WHERE name IN (",
            );
            let mut names = q.separated(", ");
            for topic in several {
                names.push_bind(topic.clone());
            }
            q.push(")))");
        }
    }
    q.push(" AND i.sort_at >= ").push_bind(ts(since));
    if let Some(until) = until {
        q.push(" AND i.sort_at < ").push_bind(ts(until));
    }
}
