//! Topic rows: the configured topics, by name.

use std::collections::HashMap;

use super::{Result, Store};
use crate::topics::TopicSet;

impl Store {
    /// Makes sure every topic of the set has a row with its current query;
    /// returns the row id of each topic, in the set's order.
    pub async fn sync_topics(&self, topics: &TopicSet) -> Result<Vec<i64>> {
        let mut tx = self.write.begin_with("BEGIN IMMEDIATE").await?;
        let mut ids = Vec::with_capacity(topics.topics().len());
        for topic in topics.topics() {
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO topics (name, query) VALUES (?, ?) \
                 ON CONFLICT (name) DO UPDATE SET query = excluded.query RETURNING id",
            )
            .bind(&topic.name)
            .bind(&topic.query)
            .fetch_one(&mut *tx)
            .await?;
            ids.push(id);
        }
        tx.commit().await?;
        Ok(ids)
    }

    /// Topic name → number of matched items, for every stored topic.
    pub async fn topic_counts(&self) -> Result<HashMap<String, i64>> {
        let rows: Vec<(String, i64)> = sqlx::query_as(
            "SELECT t.name, count(it.item_id) FROM topics t \
             LEFT JOIN item_topics it ON it.topic_id = t.id GROUP BY t.id",
        )
        .fetch_all(&self.read)
        .await?;
        Ok(rows.into_iter().collect())
    }
}
