//! The long-running service. The database is the job queue: every feed
//! row carries its `next_check_at`; the loop starts the due ones (at most
//! `poll.concurrency` at once, per-host limits in the pipeline), sleeps
//! until the next is due, and on a shutdown signal lets in-flight database
//! writes finish.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::error_chain;
use crate::metrics::Metrics;
use crate::notify;
use crate::pipeline::{CycleStats, Pipeline, PollResult};
use crate::store::{parse_ts, FeedRow, QueueEntry, Store, StoreError};

/// Longest sleep between two looks at the queue.
const MAX_IDLE: Duration = Duration::from_secs(60);
/// Shortest time between two looks at the queue.
const MIN_REQUERY: Duration = Duration::from_secs(1);
/// How often the daemon prunes unmatched items.
const PRUNE_EVERY: Duration = Duration::from_secs(3600);
/// How often the daemon truncates the WAL. SQLite's automatic checkpoints
/// keep it from growing past ~40 MB but never shrink the file.
const CHECKPOINT_EVERY: Duration = Duration::from_secs(60);
/// How long shutdown waits for started feeds to finish writing.
const STOP_TIMEOUT: Duration = Duration::from_secs(10);
/// How often the systemd status line is refreshed.
const STATUS_EVERY: Duration = Duration::from_secs(10);

/// Cancels `token` on SIGINT or SIGTERM.
pub fn cancel_on_signals(token: CancellationToken) {
    tokio::spawn(async move {
        let ctrl_c = tokio::signal::ctrl_c();
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            match signal(SignalKind::terminate()) {
                Ok(mut term) => {
                    tokio::select! {
                        _ = ctrl_c => tracing::info!("SIGINT received, shutting down"),
                        _ = term.recv() => tracing::info!("SIGTERM received, shutting down"),
                    }
                }
                Err(error) => {
                    tracing::warn!(%error, "cannot listen for SIGTERM");
                    let _ = ctrl_c.await;
                }
            }
        }
        #[cfg(not(unix))]
        {
            let _ = ctrl_c.await;
            tracing::info!("interrupt received, shutting down");
        }
        token.cancel();
    });
}

/// Whether a stored feed is polled: it is in the config file or was added
/// with `feeds add`/`opml import`.
fn is_active(config_urls: &HashSet<&str>, url: &str, source: &str) -> bool {
    source == "added" || config_urls.contains(url)
}

/// The enabled feeds to poll: configured and added ones.
pub async fn active_feeds(config: &Config, store: &Store) -> Result<Vec<FeedRow>, StoreError> {
    let urls: HashSet<&str> = config.feeds.iter().map(|f| f.url.as_str()).collect();
    Ok(store
        .list_feeds()
        .await?
        .into_iter()
        .filter(|f| f.enabled && is_active(&urls, &f.url, &f.source))
        .collect())
}

/// Runs one cycle over every enabled feed, due or not.
pub async fn run_once(
    config: &Config,
    store: &Store,
    pipeline: &Pipeline,
    shutdown: &CancellationToken,
) -> Result<CycleStats, StoreError> {
    let feeds = active_feeds(config, store).await?;
    let stats = pipeline.run_cycle(feeds, config.poll.concurrency, shutdown).await;
    log_cycle(&stats);
    prune(config, store).await?;
    Ok(stats)
}

async fn prune(config: &Config, store: &Store) -> Result<(), StoreError> {
    let pruned = apply_retention(config, store, chrono::Utc::now()).await?;
    if pruned.unmatched > 0 {
        tracing::info!(
            pruned = pruned.unmatched,
            "pruned unmatched items past the retention window"
        );
    }
    if pruned.matched > 0 {
        tracing::info!(
            pruned = pruned.matched,
            "pruned matched items past the retention window"
        );
    }
    if pruned.tombstones > 0 {
        tracing::info!(
            pruned = pruned.tombstones,
            "forgot tombstones past the retention window"
        );
    }
    // Housekeeping: a checkpoint that fails is retried next time.
    if let Err(error) = checkpoint(store).await {
        tracing::warn!(error = %error_chain(&error), "WAL checkpoint failed");
    }
    Ok(())
}

/// Truncates the WAL (busy readers just postpone it to the next time).
async fn checkpoint(store: &Store) -> Result<(), StoreError> {
    let (busy, _, _) = store.checkpoint().await?;
    if busy != 0 {
        tracing::debug!("WAL checkpoint postponed: readers busy");
    }
    Ok(())
}

/// What [`apply_retention`] removed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Pruned {
    pub unmatched: u64,
    pub matched: u64,
    pub tombstones: u64,
}

/// Applies `[retention]`: unmatched items, matched items (if configured),
/// then tombstones (if configured). `feedwatch db prune` and the daemon
/// (after every cycle) run it.
pub async fn apply_retention(
    config: &Config,
    store: &Store,
    now: chrono::DateTime<Utc>,
) -> Result<Pruned, StoreError> {
    let window = |d: std::time::Duration| chrono::Duration::from_std(d).ok();
    let mut pruned = Pruned::default();
    if let Some(w) = window(config.retention.unmatched) {
        pruned.unmatched = store.prune_unmatched(now - w, now).await?;
    }
    if let Some(w) = config.retention.matched.and_then(window) {
        pruned.matched = store.prune_matched(now - w, now).await?;
    }
    if let Some(w) = config.retention.tombstones.and_then(window) {
        pruned.tombstones = store.prune_tombstones(now - w).await?;
    }
    Ok(pruned)
}

/// Which queue entries are due at `now`, and when the next one is.
pub fn due(entries: &[QueueEntry], now: chrono::DateTime<Utc>) -> (Vec<i64>, Option<chrono::DateTime<Utc>>) {
    let mut due = Vec::new();
    let mut next = None;
    for entry in entries {
        match entry.next_check_at.as_deref().and_then(parse_ts) {
            Some(at) if at > now => next = Some(next.map_or(at, |n: chrono::DateTime<Utc>| n.min(at))),
            _ => due.push(entry.id),
        }
    }
    (due, next)
}

/// Polls due feeds until `shutdown` is cancelled.
pub async fn run(
    config: &Config,
    store: &Store,
    pipeline: &Pipeline,
    metrics: &Metrics,
    shutdown: &CancellationToken,
) -> Result<(), StoreError> {
    let config_urls: HashSet<&str> = config.feeds.iter().map(|f| f.url.as_str()).collect();
    let semaphore = Arc::new(Semaphore::new(config.poll.concurrency.max(1)));
    let mut in_flight: HashSet<i64> = HashSet::new();
    let mut tasks: JoinSet<(i64, String, Result<PollResult, StoreError>, Duration)> = JoinSet::new();
    let mut last_prune = tokio::time::Instant::now();
    let mut last_checkpoint = tokio::time::Instant::now();
    tracing::info!(feeds = config.feeds.len(), "polling; feeds are checked when due");
    prune(config, store).await?;
    // The watchdog is pinged from this loop, so a wedged scheduler (not just
    // a live process) gets the service restarted.
    let watchdog_every = notify::watchdog_interval();
    let mut next_ping = tokio::time::Instant::now();
    let mut next_status = tokio::time::Instant::now();
    while !shutdown.is_cancelled() {
        let looked = tokio::time::Instant::now();
        metrics.tick();
        if let Some(every) = watchdog_every {
            if looked >= next_ping {
                notify::watchdog();
                next_ping = looked + every;
            }
        }
        // The status line costs a query; build it only when systemd listens.
        if notify::enabled() && looked >= next_status {
            let items = store.item_count().await?;
            notify::status(&format!(
                "{} feeds, {} polling now, {items} items; last look at the queue {}",
                config_urls.len(),
                in_flight.len(),
                Utc::now().format("%H:%M:%S UTC")
            ));
            next_status = looked + STATUS_EVERY;
        }
        let now = pipeline.clock().now();
        let entries: Vec<QueueEntry> = store
            .queue()
            .await?
            .into_iter()
            .filter(|e| is_active(&config_urls, &e.url, &e.source) && !in_flight.contains(&e.id))
            .collect();
        let (due_ids, next) = due(&entries, now);
        for feed in store.feeds_by_id(&due_ids).await? {
            in_flight.insert(feed.id);
            let pipeline = pipeline.clone();
            let semaphore = Arc::clone(&semaphore);
            let cancel = shutdown.clone();
            tasks.spawn(async move {
                let _permit = tokio::select! {
                    _ = cancel.cancelled() => return (feed.id, feed.url, Ok(PollResult::Cancelled), Duration::ZERO),
                    permit = semaphore.acquire_owned() => permit.expect("semaphore is never closed"),
                };
                let started = std::time::Instant::now();
                let result = pipeline.poll_feed(&feed, &cancel).await;
                (feed.id, feed.url, result, started.elapsed())
            });
        }
        let until_next = next
            .and_then(|n| (n - now).to_std().ok())
            .unwrap_or(MAX_IDLE)
            .clamp(MIN_REQUERY, MAX_IDLE);
        let mut wake = looked + until_next;
        if watchdog_every.is_some() {
            wake = wake.min(next_ping);
        }
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = tokio::time::sleep_until(wake) => break,
                Some(joined) = tasks.join_next(), if !tasks.is_empty() => {
                    let (id, url, result, elapsed) = joined.expect("feed tasks do not panic");
                    in_flight.remove(&id);
                    match result {
                        Ok(result) => metrics.record_poll(&result, elapsed),
                        Err(error) => {
                            tracing::error!(feed_url = %crate::redact::url(&url), error = %error_chain(&error), "cannot store feed result");
                        }
                    }
                    // The feed has a new next_check_at: look again soon.
                    wake = wake.min(looked + MIN_REQUERY);
                }
            }
        }
        if last_prune.elapsed() >= PRUNE_EVERY {
            // A failure (a busy or unwritable database) is retried at the
            // next prune; it does not stop the polling.
            if let Err(error) = prune(config, store).await {
                tracing::warn!(error = %error_chain(&error), "pruning failed");
            }
            last_prune = tokio::time::Instant::now();
        }
        if last_checkpoint.elapsed() >= CHECKPOINT_EVERY {
            // A failure (disk full, unwritable file) is retried next time.
            if let Err(error) = checkpoint(store).await {
                tracing::warn!(error = %error_chain(&error), "WAL checkpoint failed");
            }
            last_checkpoint = tokio::time::Instant::now();
        }
    }
    if tokio::time::timeout(STOP_TIMEOUT, async { while tasks.join_next().await.is_some() {} })
        .await
        .is_err()
    {
        tracing::warn!("feeds still running after {STOP_TIMEOUT:?}; abandoning them");
    }
    Ok(())
}

fn log_cycle(stats: &CycleStats) {
    tracing::info!(
        feeds = stats.feeds,
        not_modified = stats.not_modified,
        failed = stats.failed,
        items = stats.items_seen,
        new = stats.new_items,
        updated = stats.updated_items,
        matches = stats.matches,
        duplicates = stats.duplicates,
        joined_stories = stats.joined_stories,
        elapsed = ?stats.elapsed,
        "cycle done"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn due_entries_and_next_wake() {
        let entry = |id, next: Option<&str>| QueueEntry {
            id,
            url: format!("https://f{id}.example/"),
            source: "config".into(),
            next_check_at: next.map(str::to_string),
        };
        let now = parse_ts("2025-05-05T10:00:00Z").unwrap();
        let entries = [
            entry(1, None),
            entry(2, Some("2025-05-05T09:59:59Z")),
            entry(3, Some("2025-05-05T10:00:00Z")),
            entry(4, Some("2025-05-05T10:05:00Z")),
            entry(5, Some("2025-05-05T10:01:00Z")),
        ];
        let (due_ids, next) = due(&entries, now);
        assert_eq!(due_ids, [1, 2, 3]);
        assert_eq!(next, parse_ts("2025-05-05T10:01:00Z"));
        assert_eq!(due(&[], now), (vec![], None));
    }
}
