//! `feedwatch run [--once]`: the daemon, or a single polling cycle.

use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use feedwatch::config::Config;
use feedwatch::daemon;
use feedwatch::fetch::hosts::HostLimiter;
use feedwatch::fetch::{FetchSettings, Fetcher};
use feedwatch::pipeline::Pipeline;
use feedwatch::scheduler::Schedules;
use feedwatch::store::Store;
use tokio_util::sync::CancellationToken;

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Poll every feed once, then exit.
    #[arg(long)]
    pub once: bool,
}

pub async fn run(config: &Config, args: RunArgs) -> anyhow::Result<ExitCode> {
    let store = Store::open(&config.store.path).await?;
    let fetcher =
        Fetcher::new(FetchSettings::from_config(&config.fetch)).context("cannot set up the HTTP client")?;
    let feed_tags = config
        .feeds
        .iter()
        .map(|f| (f.url.clone(), f.tags.clone()))
        .collect();
    let hosts = HostLimiter::new(config.poll.per_host_concurrency, config.poll.per_host_spacing);
    let pipeline = Pipeline::new(
        store.clone(),
        fetcher,
        config.topic_set(),
        feed_tags,
        Schedules::from_config(config),
        hosts,
    )
    .await?;
    store.sync_feeds(&config.feeds).await?;

    let shutdown = CancellationToken::new();
    daemon::cancel_on_signals(shutdown.clone());
    let code = if args.once {
        let stats = daemon::run_once(config, &store, &pipeline, &shutdown).await?;
        println!(
            "polled {} feeds in {:.2}s: {} new items, {} updated, {} topic matches; {} not modified, {} failed{}",
            stats.feeds,
            stats.elapsed.as_secs_f64(),
            stats.new_items,
            stats.updated_items,
            stats.matches,
            stats.not_modified,
            stats.failed,
            if stats.failed > 0 { " (see `feedwatch feeds list`)" } else { "" },
        );
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
        daemon::run(config, &store, &pipeline, &shutdown).await?;
        ExitCode::SUCCESS
    };
    store.close().await;
    Ok(code)
}
