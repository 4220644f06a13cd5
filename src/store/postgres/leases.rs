//! Feeds leased to the instance polling them.
//!
//! Every instance computes the due feeds from the shared queue, as on
//! SQLite, then claims them: one `UPDATE` over the rows it could lock
//! without waiting (`FOR UPDATE SKIP LOCKED`) that are still due and not
//! leased to another instance. Two instances claiming at once therefore
//! split the due feeds between them, never share one. The lease ends when
//! the feed's result is written (the writer clears it) or at its deadline,
//! after which a dead instance's feeds are free again.

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::{FeedRow, PgStore, Result};

impl PgStore {
    /// Leases the feeds `ids` that are due at `now` and not leased to
    /// another instance to this one until `now + lease`; their rows, in
    /// the order of `ids`.
    pub async fn claim_feeds(
        &self,
        ids: &[i64],
        now: DateTime<Utc>,
        lease: Duration,
    ) -> Result<Vec<FeedRow>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let until = now + chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::MAX);
        let claimed: Vec<i64> = sqlx::query_scalar(
            "UPDATE feeds SET lease_owner = $1, lease_until = $2 \
             WHERE id IN (\
                 SELECT id FROM feeds WHERE id = ANY($3) AND enabled \
                   AND (next_check_at IS NULL OR next_check_at <= $4) \
                   AND (lease_until IS NULL OR lease_until <= $4 OR lease_owner = $1) \
                 FOR UPDATE SKIP LOCKED) \
             RETURNING id",
        )
        .bind(&*self.instance)
        .bind(until)
        .bind(ids)
        .bind(now)
        .fetch_all(&self.pool)
        .await?;
        let mut rows = self.feeds_by_id(&claimed).await?;
        let position = |id: i64| ids.iter().position(|&i| i == id);
        rows.sort_by_key(|row| position(row.id));
        Ok(rows)
    }
}
