//! Outbox on PostgreSQL.

#![allow(unused_variables)]

use super::*;

impl PgStore {
    pub async fn alert_state(&self, alert: &str, now: DateTime<Utc>) -> Result<AlertState> {
        let _ = alert;
        let _ = now;
        Err(unsupported("alert_state"))
    }
    pub async fn peek_alert_state(&self, alert: &str, now: DateTime<Utc>) -> Result<AlertState> {
        let _ = alert;
        let _ = now;
        Err(unsupported("peek_alert_state"))
    }
    pub async fn pending_matches(
        &self,
        alert: &str,
        channel: &str,
        topics: &[String],
        since: DateTime<Utc>,
        cut: DateTime<Utc>,
    ) -> Result<Vec<PendingMatch>> {
        let _ = alert;
        let _ = channel;
        let _ = topics;
        let _ = since;
        let _ = cut;
        Err(unsupported("pending_matches"))
    }
    pub async fn sent_notices(&self, alert: &str, channel: &str) -> Result<HashSet<String>> {
        let _ = alert;
        let _ = channel;
        Err(unsupported("sent_notices"))
    }
    pub async fn create_digests(
        &self,
        batch: &DigestBatch<'_>,
        build: BuildDigest<'_>,
    ) -> Result<Vec<String>> {
        let _ = batch;
        let _ = build;
        Err(unsupported("create_digests"))
    }
    pub async fn due_digests(&self, now: DateTime<Utc>) -> Result<Vec<DigestRecord>> {
        let _ = now;
        Err(unsupported("due_digests"))
    }
    pub async fn mark_delivered(&self, id: &str, at: DateTime<Utc>) -> Result<()> {
        let _ = id;
        let _ = at;
        Err(unsupported("mark_delivered"))
    }
    pub async fn mark_attempt_failed(
        &self,
        id: &str,
        error: &str,
        retry_at: DateTime<Utc>,
        failed: bool,
    ) -> Result<()> {
        let _ = id;
        let _ = error;
        let _ = retry_at;
        let _ = failed;
        Err(unsupported("mark_attempt_failed"))
    }
    pub async fn list_digests(&self, failed_only: bool, limit: u32) -> Result<Vec<DigestRecord>> {
        let _ = failed_only;
        let _ = limit;
        Err(unsupported("list_digests"))
    }
    pub async fn digest_counts(&self) -> Result<Vec<(String, String, i64)>> {
        Err(unsupported("digest_counts"))
    }
    pub async fn retry_digest(&self, id: &str, now: DateTime<Utc>) -> Result<bool> {
        let _ = id;
        let _ = now;
        Err(unsupported("retry_digest"))
    }
}
