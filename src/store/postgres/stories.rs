//! Stories on PostgreSQL: near-duplicate items grouped across outlets, read
//! back for listing, as `sqlite/stories.rs` lists them. They are written
//! with the items (`items.rs`).

use sqlx::{Postgres, QueryBuilder};

use super::whole_seconds;
use super::*;

/// The columns of a [`StoryRow`], times as SQLite's text.
const STORY_COLUMNS: &str = "SELECT s.id, s.headline, fw_ts(s.first_seen) AS first_seen, \
     fw_ts(s.last_seen) AS last_seen, s.item_count::bigint AS item_count FROM stories s";

/// The SQL expression of the primary subtag of the language in `column`
/// (`''` when NULL or empty), as [`crate::model::primary_language`] gives
/// it: blanks trimmed, up to the first `-` or `_`, ASCII lower case.
pub(super) fn primary_language_sql(column: &str) -> String {
    format!("lower(split_part(replace(btrim(coalesce({column}, ''), E' \\t\\n\\r'), '_', '-'), '-', 1) COLLATE \"C\")")
}

impl PgStore {
    /// Nothing is ever owed on PostgreSQL: story keys are written with their items.
    pub async fn settle_story_keys(&self) -> Result<()> {
        Ok(())
    }

    /// Stories matching the filter, most recently seen first, ties broken
    /// by id.
    pub async fn stories(&self, filter: &StoryFilter) -> Result<Vec<StoryRow>> {
        let mut q: QueryBuilder<Postgres> = QueryBuilder::new(STORY_COLUMNS);
        q.push(" WHERE true");
        if let Some(since) = filter.since {
            q.push(" AND s.last_seen >= ").push_bind(whole_seconds(since));
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
        let mut rows: Vec<StoryRow> = q.build_query_as().fetch_all(&self.pool).await?;
        self.story_details(&mut rows).await?;
        Ok(rows)
    }

    /// The stories with these ids, in the order given (ids of no story are
    /// left out).
    pub async fn stories_by_id(&self, ids: &[i64]) -> Result<Vec<StoryRow>> {
        let found: Vec<StoryRow> = sqlx::query_as(&format!("{STORY_COLUMNS} WHERE s.id = ANY($1)"))
            .bind(ids)
            .fetch_all(&self.pool)
            .await?;
        let by_id: HashMap<i64, StoryRow> = found.into_iter().map(|row| (row.id, row)).collect();
        // An id given twice is listed twice, as on SQLite.
        let mut rows: Vec<StoryRow> = ids.iter().filter_map(|id| by_id.get(id).cloned()).collect();
        self.story_details(&mut rows).await?;
        Ok(rows)
    }

    /// Fills in the outlets and languages of each story, sorted by byte
    /// value (SQLite's order, whatever the database's collation).
    async fn story_details(&self, rows: &mut [StoryRow]) -> Result<()> {
        if rows.is_empty() {
            return Ok(());
        }
        let ids: Vec<i64> = rows.iter().map(|row| row.id).collect();
        let outlets: Vec<(i64, String)> = sqlx::query_as(
            "SELECT DISTINCT i.story_id, coalesce(f.name, f.title, f.url) COLLATE \"C\" AS outlet FROM items i \
             JOIN item_sources src ON src.item_id = i.id JOIN feeds f ON f.id = src.feed_id \
             WHERE i.story_id = ANY($1) ORDER BY i.story_id, outlet",
        )
        .bind(&ids)
        .fetch_all(&self.pool)
        .await?;
        let languages: Vec<(i64, String)> = sqlx::query_as(&format!(
            "SELECT DISTINCT story_id, lang FROM (SELECT story_id, {} AS lang FROM items \
             WHERE story_id = ANY($1)) AS l WHERE lang <> '' ORDER BY story_id, lang",
            primary_language_sql("lang")
        ))
        .bind(&ids)
        .fetch_all(&self.pool)
        .await?;
        let mut details: HashMap<i64, (Vec<String>, Vec<String>)> = HashMap::new();
        for (story, outlet) in outlets {
            details.entry(story).or_default().0.push(outlet);
        }
        for (story, lang) in languages {
            details.entry(story).or_default().1.push(lang);
        }
        for row in rows {
            if let Some((outlets, languages)) = details.get(&row.id) {
                row.outlets = outlets.clone();
                row.languages = languages.clone();
            }
        }
        Ok(())
    }
}
