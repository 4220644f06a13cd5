//! The feed rows' side of a poll result on PostgreSQL: what a fetch
//! changes on its feed (validators, title, schedule, counters, error),
//! written in the transaction of the result (see `batch.rs`).
//!
//! Every write here also ends the feed's lease (`lease_owner`,
//! `lease_until`: see `feeds.rs`): once its result is written, the feed is
//! free for the next instance whose turn it is. The SQLite reference is
//! `update_feed_rows` in `sqlite/items.rs` and `record_not_modified`,
//! `record_failure` and `disable_feed` in `sqlite/feeds.rs`; each statement
//! here sets the same columns to the same values.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use super::whole_seconds;
use super::Result;
use crate::store::{FeedFailure, FeedUpdate, NextCheck};

/// Records each successful fetch on its feed's row (validators, title and
/// site, schedule, publishing rate, warning, a permanent redirect; error
/// cleared, poll counted, lease ended), for all updates in one statement.
pub(super) async fn record_updates(conn: &mut PgConnection, updates: &[&FeedUpdate]) -> Result<()> {
    if updates.is_empty() {
        return Ok(());
    }
    let column = |f: fn(&FeedUpdate) -> Option<String>| updates.iter().map(|u| f(u)).collect::<Vec<_>>();
    let ids: Vec<i64> = updates.iter().map(|u| u.feed_id).collect();
    let at: Vec<DateTime<Utc>> = updates.iter().map(|u| whole_seconds(u.at)).collect();
    let status: Vec<i32> = updates.iter().map(|u| i32::from(u.status)).collect();
    let next_at: Vec<DateTime<Utc>> = updates.iter().map(|u| whole_seconds(u.next.at)).collect();
    let interval: Vec<i64> = updates.iter().map(|u| interval_secs(&u.next)).collect();
    let per_week: Vec<Option<f64>> = updates.iter().map(|u| u.items_per_week).collect();
    sqlx::query(
        "UPDATE feeds SET title = coalesce(v.title, feeds.title), site_url = coalesce(v.site_url, feeds.site_url), \
         etag = v.etag, last_modified = v.last_modified, last_fetch_at = v.at, last_success_at = v.at, \
         last_status = v.status, last_error = NULL, error_count = 0, error_kind = NULL, \
         next_check_at = v.next_check_at, check_interval = v.check_interval, \
         items_per_week = coalesce(v.items_per_week, feeds.items_per_week), poll_count = poll_count + 1, \
         warning = v.warning, fetch_url = coalesce(v.moved_to, feeds.fetch_url), \
         lease_owner = NULL, lease_until = NULL \
         FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::timestamptz[], \
                     $7::integer[], $8::timestamptz[], $9::bigint[], $10::float8[], $11::text[], $12::text[]) \
              AS v (id, title, site_url, etag, last_modified, at, status, next_check_at, check_interval, \
                    items_per_week, warning, moved_to) \
         WHERE feeds.id = v.id",
    )
    .bind(ids)
    .bind(column(|u| u.title.clone()))
    .bind(column(|u| u.site_url.clone()))
    .bind(column(|u| u.validators.etag.clone()))
    .bind(column(|u| u.validators.last_modified.clone()))
    .bind(at)
    .bind(status)
    .bind(next_at)
    .bind(interval)
    .bind(per_week)
    .bind(column(|u| u.warning.clone()))
    .bind(column(|u| u.next.moved_to.clone()))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Records 304s (feed id, time, next check): fetched and unchanged, error
/// cleared, lease ended. One statement for all of them.
pub(super) async fn record_not_modified(
    conn: &mut PgConnection,
    feeds: &[(i64, DateTime<Utc>, &NextCheck)],
) -> Result<()> {
    if feeds.is_empty() {
        return Ok(());
    }
    let ids: Vec<i64> = feeds.iter().map(|f| f.0).collect();
    let at: Vec<DateTime<Utc>> = feeds.iter().map(|f| whole_seconds(f.1)).collect();
    let next_at: Vec<DateTime<Utc>> = feeds.iter().map(|f| whole_seconds(f.2.at)).collect();
    let interval: Vec<i64> = feeds.iter().map(|f| interval_secs(f.2)).collect();
    let moved_to: Vec<Option<String>> = feeds.iter().map(|f| f.2.moved_to.clone()).collect();
    sqlx::query(
        "UPDATE feeds SET last_fetch_at = v.at, last_success_at = v.at, last_status = 304, \
         last_error = NULL, error_kind = NULL, error_count = 0, next_check_at = v.next_check_at, \
         check_interval = v.check_interval, poll_count = poll_count + 1, \
         fetch_url = coalesce(v.moved_to, feeds.fetch_url), lease_owner = NULL, lease_until = NULL \
         FROM unnest($1::bigint[], $2::timestamptz[], $3::timestamptz[], $4::bigint[], $5::text[]) \
              AS v (id, at, next_check_at, check_interval, moved_to) \
         WHERE feeds.id = v.id",
    )
    .bind(ids)
    .bind(at)
    .bind(next_at)
    .bind(interval)
    .bind(moved_to)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Records a failed fetch or parse: the error and its kind, one more
/// consecutive failure, the next check (backed off by the caller), lease
/// ended.
pub(super) async fn record_failure(conn: &mut PgConnection, failure: &FeedFailure) -> Result<()> {
    sqlx::query(
        "UPDATE feeds SET last_fetch_at = $1, last_status = $2, last_error = $3, error_kind = $4, \
         error_count = error_count + 1, next_check_at = $5, check_interval = $6, poll_count = poll_count + 1, \
         fetch_url = coalesce($7, fetch_url), lease_owner = NULL, lease_until = NULL WHERE id = $8",
    )
    .bind(whole_seconds(failure.at))
    .bind(failure.status.map(i32::from))
    .bind(&failure.error)
    .bind(&failure.kind)
    .bind(whole_seconds(failure.next.at))
    .bind(interval_secs(&failure.next))
    .bind(&failure.next.moved_to)
    .bind(failure.feed_id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Disables a feed that is gone (410, or a permanent failure): no next
/// check until it is enabled again, the reason kept as its error, lease
/// ended.
pub(super) async fn disable_feed(
    conn: &mut PgConnection,
    feed_id: i64,
    status: Option<u16>,
    reason: &str,
    at: DateTime<Utc>,
) -> Result<()> {
    sqlx::query(
        "UPDATE feeds SET enabled = false, disabled_reason = $1, last_fetch_at = $2, last_status = $3, \
         last_error = $1, error_kind = 'disabled', error_count = error_count + 1, next_check_at = NULL, \
         poll_count = poll_count + 1, lease_owner = NULL, lease_until = NULL WHERE id = $4",
    )
    .bind(reason)
    .bind(whole_seconds(at))
    .bind(status.map(i32::from))
    .bind(feed_id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The chosen interval in whole seconds, as `check_interval` stores it.
fn interval_secs(next: &NextCheck) -> i64 {
    i64::try_from(next.interval.as_secs()).unwrap_or(i64::MAX)
}
