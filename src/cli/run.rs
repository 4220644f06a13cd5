//! `feedwatch run [--once]`: the daemon, or a single polling cycle.

use std::io::Write;
use std::process::ExitCode;

use clap::Args;
use feedwatch::alerts::Alerts;

use feedwatch::config::Config;
use feedwatch::count;
use feedwatch::daemon::{self, service};
use feedwatch::pipeline::Pipeline;
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
    let _lock = InstanceLock::acquire(config.store.location())?;
    let store = Store::open(config.store.location()).await?;
    let shutdown = CancellationToken::new();
    daemon::cancel_on_signals(shutdown.clone());
    let code = if args.once {
        let (pipeline, alerts) = service::build(config, &store).await?;
        // Once: the history of new topics first, as a later search expects.
        pipeline.backfill(&shutdown).await?;
        let code = once(config, &store, &pipeline, &alerts, &shutdown).await?;
        pipeline.close().await;
        code
    } else {
        raise_open_file_limit();
        service::serve(config.clone(), &store, &shutdown).await?;
        ExitCode::SUCCESS
    };
    store.close().await;
    Ok(code)
}

async fn once(
    config: &Config,
    store: &Store,
    pipeline: &Pipeline,
    alerts: &Alerts,
    shutdown: &CancellationToken,
) -> anyhow::Result<ExitCode> {
    let stats = daemon::run_once(config, store, pipeline, shutdown).await?;
    writeln!(
        std::io::stdout(),
        "polled {} in {:.2}s: {}, {} updated, {}, {} already stored from another feed, {} joined a story; {} not modified, {} failed{}",
        count(stats.feeds as u64, "feed", "feeds"),
        stats.elapsed.as_secs_f64(),
        count(stats.new_items, "new item", "new items"),
        stats.updated_items,
        count(stats.matches, "topic match", "topic matches"),
        stats.duplicates,
        stats.joined_stories,
        stats.not_modified,
        stats.failed,
        if stats.store_errors > 0 {
            format!(" ({} could not be stored in the database: see the log)", stats.store_errors)
        } else if stats.failed > 0 {
            " (see `feedwatch feeds list`)".to_string()
        } else {
            String::new()
        },
    )?;
    let pages = daemon::fetch_pages(config, pipeline, shutdown).await?;
    if pages.items > 0 {
        writeln!(
            std::io::stdout(),
            "pages: {} fetched for {}: {} with the article's text, {} kept the feed's text, {} failed; {}",
            pages.fetched,
            count(pages.items as u64, "item", "items"),
            pages.extracted,
            pages.teaser,
            pages.failed,
            count(pages.matches, "new topic match", "new topic matches"),
        )?;
    }
    if !alerts.is_empty() {
        let now = store.clock().now();
        let built = alerts.build_due(now).await?;
        let delivered = alerts.deliver_due(now, None).await?;
        writeln!(
            std::io::stdout(),
            "alerts: {} built; {} delivered, {} will be retried, {} failed",
            count(built.len() as u64, "digest", "digests"),
            delivered.delivered,
            delivered.retrying,
            delivered.failed
        )?;
    }
    if stats.store_errors > 0 {
        eprintln!(
            "feedwatch: {} could not be stored; see the log",
            count(stats.store_errors as u64, "feed", "feeds")
        );
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}

/// Raises the soft limit on open files to the hard one (as systemd's
/// `LimitNOFILE` does): fetches, the database and API clients share them,
/// and a shell's default soft limit (often 1024) is too tight for a large
/// desk. Best effort: a refusal leaves the limit as it was.
fn raise_open_file_limit() {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit only read and write `limit`.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 && limit.rlim_cur < limit.rlim_max {
            let before = limit.rlim_cur;
            limit.rlim_cur = limit.rlim_max;
            if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) == 0 {
                tracing::debug!(from = before, to = limit.rlim_cur, "raised the open-file limit");
            }
        }
    }
}
