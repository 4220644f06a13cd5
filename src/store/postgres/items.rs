//! Items on PostgreSQL.

#![allow(unused_variables)]

use super::*;

impl PgStore {
    pub async fn known_items(&self, feed_id: i64) -> Result<HashMap<String, Known>> {
        let _ = feed_id;
        Err(unsupported("known_items"))
    }
    pub async fn apply_feed_update(&self, update: FeedUpdate) -> Result<IngestCounts> {
        let _ = update;
        Err(unsupported("apply_feed_update"))
    }
    pub async fn apply_feed_writes(&self, writes: Vec<FeedWrite>) -> Vec<Result<IngestCounts>> {
        writes
            .iter()
            .map(|_| Err(unsupported("apply_feed_writes")))
            .collect()
    }
    pub async fn sync_topics(&self, topics: &TopicSet, now: DateTime<Utc>) -> Result<Vec<TopicRow>> {
        let _ = topics;
        let _ = now;
        Err(unsupported("sync_topics"))
    }
    pub async fn replace_topic_matches(
        &self,
        topic_id: i64,
        compiled: &str,
        matched: &[i64],
        scan: (DateTime<Utc>, i64),
        at: DateTime<Utc>,
    ) -> Result<(u64, u64)> {
        let _ = topic_id;
        let _ = compiled;
        let _ = matched;
        let _ = scan;
        let _ = at;
        Err(unsupported("replace_topic_matches"))
    }
}
