//! `feedwatch run [--once]`: the daemon, or a single polling cycle.

use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use feedwatch::alerts::Alerts;
use feedwatch::config::Config;
use feedwatch::daemon;
use feedwatch::fetch::hosts::HostLimiter;
use feedwatch::fetch::{FetchSettings, Fetcher};
use feedwatch::pipeline::Pipeline;
use feedwatch::scheduler::Schedules;
use feedwatch::store::{InstanceLock, Store};
use tokio_util::sync::CancellationToken;

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Poll every feed once, then exit.
    #[arg(long)]
    pub once: bool,
}

pub async fn run(config: &Config, args: RunArgs) -> anyhow::Result<ExitCode> {
    // One writer per database; search and other read commands don't lock.
    let _lock = InstanceLock::acquire(&config.store.path)?;
    let store = Store::open(&config.store.path).await?;
    let fetcher =
        Fetcher::new(FetchSettings::from_config(&config.fetch)).context("cannot set up the HTTP client")?;
    let feed_tags = config
        .feeds
        .iter()
        .map(|f| (f.url.clone(), f.tags.clone()))
        .collect();
    let story_window = chrono::Duration::from_std(config.stories.window).context("stories.window")?;
    let hosts = HostLimiter::new(config.poll.per_host_concurrency, config.poll.per_host_spacing);
    let pipeline = Pipeline::new(
        store.clone(),
        fetcher,
        config.topic_set(),
        feed_tags,
        story_window,
        Schedules::from_config(config),
        hosts,
    )
    .await?;
    store.sync_feeds(&config.feeds).await?;
    let alerts =
        Alerts::new(config, store.clone(), pipeline.topics()).context("cannot set up alert delivery")?;
    alerts.register(chrono::Utc::now()).await?;

    let shutdown = CancellationToken::new();
    daemon::cancel_on_signals(shutdown.clone());
    let code = if args.once {
        let stats = daemon::run_once(config, &store, &pipeline, &shutdown).await?;
        println!(
            "polled {} feeds in {:.2}s: {} new items, {} updated, {} topic matches, {} already stored from another feed, {} joined a story; {} not modified, {} failed{}",
            stats.feeds,
            stats.elapsed.as_secs_f64(),
            stats.new_items,
            stats.updated_items,
            stats.matches,
            stats.duplicates,
            stats.joined_stories,
            stats.not_modified,
            stats.failed,
            if stats.failed > 0 { " (see `feedwatch feeds list`)" } else { "" },
        );
        if !alerts.is_empty() {
            let now = chrono::Utc::now();
            let built = alerts.build_due(now).await?;
            let delivered = alerts.deliver_due(now, None).await?;
            println!(
                "alerts: {} digests built; {} delivered, {} will be retried, {} failed",
                built.len(),
                delivered.delivered,
                delivered.retrying,
                delivered.failed
            );
        }
        if stats.store_errors > 0 {
            eprintln!(
                "feedwatch: {} feeds could not be stored; see the log",
                stats.store_errors
            );
            ExitCode::FAILURE
        } else {
            ExitCode::SUCCESS
        }
    } else {
        let alert_loop = {
            let (alerts, shutdown) = (alerts.clone(), shutdown.clone());
            tokio::spawn(async move { alerts.run(&shutdown).await })
        };
        let polled = daemon::run(config, &store, &pipeline, &shutdown).await;
        shutdown.cancel();
        if tokio::time::timeout(std::time::Duration::from_secs(10), alert_loop)
            .await
            .is_err()
        {
            tracing::warn!("alert delivery did not stop within 10 s");
        }
        polled?;
        ExitCode::SUCCESS
    };
    store.close().await;
    Ok(code)
}
