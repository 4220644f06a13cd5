//! Stories: near-duplicate items grouped across outlets, read back for
//! listing. They are written with the items (`items.rs`).

use chrono::{DateTime, Utc};
use sqlx::{FromRow, QueryBuilder, Sqlite};

use super::{ts, Result, SqliteStore};

/// Which stories to list.
#[derive(Debug, Clone, Default)]
pub struct StoryFilter {
    /// Only stories with an item matched by this topic (by name).
    pub topic: Option<String>,
    /// Only stories last seen at or after this time.
    pub since: Option<DateTime<Utc>>,
    pub limit: u32,
}

/// A story as returned to users.
#[derive(Debug, Clone, FromRow, serde::Serialize)]
pub struct StoryRow {
    pub id: i64,
    /// Title of the story's first item.
    pub headline: String,
    pub first_seen: String,
    pub last_seen: String,
    pub item_count: i64,
    /// Names (else titles, else URLs) of the feeds carrying its items.
    #[sqlx(skip)]
    pub outlets: Vec<String>,
    /// Primary languages of its items (`en` for `en-US`), once each.
    #[sqlx(skip)]
    pub languages: Vec<String>,
}

impl SqliteStore {
    /// Stories matching the filter, most recently seen first, ties broken
    /// by id.
    pub async fn stories(&self, filter: &StoryFilter) -> Result<Vec<StoryRow>> {
        let mut q: QueryBuilder<Sqlite> = QueryBuilder::new(
            "SELECT s.id, s.headline, s.first_seen, s.last_seen, s.item_count FROM stories s WHERE 1 = 1",
        );
        if let Some(since) = filter.since {
            q.push(" AND s.last_seen >= ").push_bind(ts(since));
        }
        if let Some(topic) = &filter.topic {
            q.push(
                " AND EXISTS (SELECT 1 FROM items i JOIN item_topics it ON it.item_id = i.id \
                 JOIN topics t ON t.id = it.topic_id WHERE i.story_id = s.id AND t.name = ",
            )
            .push_bind(topic.clone())
            .push(")");
        }
        q.push(" ORDER BY s.last_seen DESC, s.id DESC LIMIT ")
            .push_bind(i64::from(filter.limit));
        let mut rows: Vec<StoryRow> = q.build_query_as().fetch_all(&self.read).await?;
        self.story_details(&mut rows).await?;
        Ok(rows)
    }

    /// The stories with these ids, in the order given (ids of no story are
    /// left out).
    pub async fn stories_by_id(&self, ids: &[i64]) -> Result<Vec<StoryRow>> {
        let mut rows = Vec::with_capacity(ids.len());
        for &id in ids {
            let row: Option<StoryRow> = sqlx::query_as(
                "SELECT s.id, s.headline, s.first_seen, s.last_seen, s.item_count FROM stories s WHERE s.id = ?",
            )
            .bind(id)
            .fetch_optional(&self.read)
            .await?;
            rows.extend(row);
        }
        self.story_details(&mut rows).await?;
        Ok(rows)
    }

    /// Fills in the outlets and languages of each story.
    async fn story_details(&self, rows: &mut [StoryRow]) -> Result<()> {
        for row in rows {
            row.outlets = sqlx::query_scalar(
                "SELECT DISTINCT coalesce(f.name, f.title, f.url) AS outlet FROM items i \
                 JOIN item_sources src ON src.item_id = i.id JOIN feeds f ON f.id = src.feed_id \
                 WHERE i.story_id = ? ORDER BY outlet",
            )
            .bind(row.id)
            .fetch_all(&self.read)
            .await?;
            row.languages = sqlx::query_scalar(&format!(
                "SELECT DISTINCT lang FROM (SELECT {} AS lang FROM items WHERE story_id = ?) \
                 WHERE lang <> '' ORDER BY lang",
                super::lang::primary_sql("lang")
            ))
            .bind(row.id)
            .fetch_all(&self.read)
            .await?;
        }
        Ok(())
    }
}
