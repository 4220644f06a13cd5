//! `feedwatch run [--once]`: the daemon, or a single polling cycle.

use std::io::Write;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::Args;
use feedwatch::alerts::Alerts;
use feedwatch::api;

use feedwatch::config::Config;
use feedwatch::count;
use feedwatch::daemon;
use feedwatch::fetch::hosts::HostLimiter;
use feedwatch::fetch::{FetchSettings, Fetcher};
use feedwatch::metrics::Metrics;
use feedwatch::notify;
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

/// The pipeline and alerts built from one configuration.
async fn build(config: &Config, store: &Store) -> anyhow::Result<(Pipeline, Alerts)> {
    let fetcher =
        Fetcher::new(FetchSettings::from_config(&config.fetch)).context("cannot set up the HTTP client")?;
    // Tags of feeds added with `feeds add` too, so a backfill matches
    // `feed:` as ingest does.
    let feed_tags = feedwatch::archive::feed_tags(config, store).await?;
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
    .await?
    .with_story_clustering(config.stories.cluster)
    .with_feed_languages(
        config
            .feeds
            .iter()
            .filter_map(|f| Some((f.url.clone(), f.lang.clone()?)))
            .collect(),
    );
    store.sync_feeds(&config.feeds).await?;
    feedwatch::archive::check_topic_feeds(config, Some(store))
        .await
        .map_err(|e| anyhow::anyhow!("{}: {e}", config.path.display()))?;
    let alerts =
        Alerts::new(config, store.clone(), pipeline.topics()).context("cannot set up alert delivery")?;
    alerts.register(chrono::Utc::now()).await?;
    Ok((pipeline, alerts))
}

pub async fn run(config: &Config, args: RunArgs) -> anyhow::Result<ExitCode> {
    // One writer per database; search and other read commands don't lock.
    let _lock = InstanceLock::acquire(config.store.location())?;
    let store = Store::open(config.store.location()).await?;
    let shutdown = CancellationToken::new();
    daemon::cancel_on_signals(shutdown.clone());
    let code = if args.once {
        let (pipeline, alerts) = build(config, &store).await?;
        once(config, &store, &pipeline, &alerts, &shutdown).await?
    } else {
        serve(config.clone(), &store, &shutdown).await?;
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
    if !alerts.is_empty() {
        let now = chrono::Utc::now();
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

/// The running daemon of one configuration: the polling loop and the alert
/// loop, stopped together by their own token (a child of the shutdown one).
struct Components {
    stop: CancellationToken,
    poller: tokio::task::JoinHandle<()>,
    alerts: tokio::task::JoinHandle<()>,
    http: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

impl Components {
    async fn start(
        config: &Config,
        store: &Store,
        metrics: &Arc<Metrics>,
        shutdown: &CancellationToken,
    ) -> anyhow::Result<Self> {
        let (pipeline, alerts) = build(config, store).await?;
        let stop = shutdown.child_token();
        let http = match config.http.listen {
            Some(addr) => {
                let listener = tokio::net::TcpListener::bind(addr)
                    .await
                    .with_context(|| format!("http.listen: cannot listen on {addr}"))?;
                tracing::info!(%addr, "HTTP listener: /healthz, /readyz, /metrics, /api/*");
                let router = api::router(store.clone(), Arc::new(config.clone()), Arc::clone(metrics));
                let limits = api::ListenerLimits::from_config(&config.http);
                Some(tokio::spawn(api::serve(listener, router, limits, stop.clone())))
            }
            None => None,
        };
        let poller = {
            let (config, store, stop, metrics) =
                (config.clone(), store.clone(), stop.clone(), Arc::clone(metrics));
            tokio::spawn(async move {
                daemon::run(&config, &store, &pipeline, &metrics, &stop).await;
                // Only shutdown ends the loop; anything else must end the
                // process so that systemd restarts it (see `serve`).
                if !stop.is_cancelled() {
                    metrics.polling_stopped();
                }
            })
        };
        let alerts = {
            let stop = stop.clone();
            tokio::spawn(async move { alerts.run(&stop).await })
        };
        Ok(Self {
            stop,
            poller,
            alerts,
            http,
        })
    }

    /// Stops both loops; started database writes finish first.
    async fn stop(self) -> anyhow::Result<()> {
        self.stop.cancel();
        if tokio::time::timeout(std::time::Duration::from_secs(10), self.alerts)
            .await
            .is_err()
        {
            tracing::warn!("alert delivery did not stop within 10 s");
        }
        if let Some(http) = self.http {
            http.await.context("the HTTP listener panicked")??;
        }
        self.poller.await.context("the polling loop panicked")?;
        Ok(())
    }
}

/// The daemon: runs until SIGINT/SIGTERM; SIGHUP reloads the config
/// (feeds, topics, term sets, alerts, channels). A new config that does not
/// validate is rejected with the reason logged, and the old one keeps
/// running.
async fn serve(mut config: Config, store: &Store, shutdown: &CancellationToken) -> anyhow::Result<()> {
    raise_open_file_limit();
    use tokio::signal::unix::{signal, SignalKind};
    let mut hangup = signal(SignalKind::hangup()).context("cannot listen for SIGHUP")?;
    let metrics = Arc::new(Metrics::new(store.clock()));
    let mut running = Components::start(&config, store, &metrics, shutdown).await?;
    notify::ready(&format!(
        "polling {}",
        count(config.feeds.len() as u64, "feed", "feeds")
    ));
    tracing::info!("ready");
    loop {
        tokio::select! {
            // Shutdown first: it also ends the polling loop.
            biased;
            _ = shutdown.cancelled() => break,
            ended = &mut running.poller => {
                // The polling loop never ends on its own: a panic or a bug.
                // Exit non-zero so that systemd restarts the service.
                metrics.polling_stopped();
                running.stop.cancel();
                notify::stopping();
                return Err(match ended {
                    Err(error) => anyhow::anyhow!("the polling loop panicked: {}", feedwatch::pipeline::panic_message(error)),
                    Ok(()) => anyhow::anyhow!("the polling loop stopped unexpectedly"),
                });
            }
            _ = hangup.recv() => {
                notify::reloading();
                tracing::info!(config = %config.path.display(), "SIGHUP received, reloading the configuration");
                match Config::load(&config.path) {
                    Err(error) => {
                        tracing::error!(error = %feedwatch::error_chain(&error), "new configuration rejected; the running one stays");
                    }
                    Ok(mut new) => {
                        if new.store.location() != config.store.location() {
                            tracing::warn!(
                                running = %config.store.location(),
                                "[store] changes take effect on restart; keeping the running database"
                            );
                            new.store = config.store.clone();
                        }
                        running.stop().await?;
                        running = Components::start(&new, store, &metrics, shutdown).await?;
                        config = new;
                        tracing::info!(feeds = config.feeds.len(), topics = config.topics.len(), "configuration reloaded");
                    }
                }
                notify::ready(&format!("polling {}", count(config.feeds.len() as u64, "feed", "feeds")));
            }
        }
    }
    notify::stopping();
    running.stop().await
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
