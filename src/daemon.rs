//! The long-running service: polls all feeds every interval until a
//! shutdown signal, then lets in-flight database writes finish.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::pipeline::{CycleStats, Pipeline};
use crate::store::{Store, StoreError};

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

/// Runs one cycle over the configured feeds.
pub async fn run_once(
    config: &Config,
    store: &Store,
    pipeline: &Pipeline,
    shutdown: &CancellationToken,
) -> Result<CycleStats, StoreError> {
    let urls: Vec<String> = config.feeds.iter().map(|f| f.url.clone()).collect();
    let feeds = store.feeds_in(&urls).await?;
    let stats = pipeline.run_cycle(feeds, config.poll.concurrency, shutdown).await;
    log_cycle(&stats);
    let now = chrono::Utc::now();
    if let Ok(window) = chrono::Duration::from_std(config.retention.unmatched) {
        let pruned = store.prune_unmatched(now - window, now).await?;
        if pruned > 0 {
            tracing::info!(pruned, "pruned unmatched items past the retention window");
        }
    }
    Ok(stats)
}

/// Polls every `poll.interval` until `shutdown` is cancelled.
pub async fn run(
    config: &Config,
    store: &Store,
    pipeline: &Pipeline,
    shutdown: &CancellationToken,
) -> Result<(), StoreError> {
    let interval: Duration = config.poll.interval;
    tracing::info!(feeds = config.feeds.len(), interval = %humantime::format_duration(interval), "polling");
    while !shutdown.is_cancelled() {
        run_once(config, store, pipeline, shutdown).await?;
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = tokio::time::sleep(interval) => {}
        }
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
