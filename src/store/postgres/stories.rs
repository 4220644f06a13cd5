//! Stories on PostgreSQL.

#![allow(unused_variables)]

use super::*;

impl PgStore {
    /// Nothing is ever owed on PostgreSQL: story keys are written with their items.
    pub async fn settle_story_keys(&self) -> Result<()> {
        Ok(())
    }
    pub async fn stories(&self, filter: &StoryFilter) -> Result<Vec<StoryRow>> {
        let _ = filter;
        Err(unsupported("stories"))
    }
    pub async fn stories_by_id(&self, ids: &[i64]) -> Result<Vec<StoryRow>> {
        let _ = ids;
        Err(unsupported("stories_by_id"))
    }
}
