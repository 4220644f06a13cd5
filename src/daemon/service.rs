//! The daemon as one unit: its components (the polling loop, alert
//! delivery, the HTTP listener, the backfill of new or changed topics,
//! which never holds up polling) built from one configuration, started
//! together, reloaded together on SIGHUP and stopped together, each awaited.
//! `cli/run.rs` only opens the store and hands over the shutdown signal.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::alerts::Alerts;
use crate::api;
use crate::archive::ArchiveError;
use crate::config::Config;
use crate::deliver::DeliverError;
use crate::fetch::hosts::HostLimiter;
use crate::fetch::{FetchError, FetchSettings, Fetcher};
use crate::metrics::Metrics;
use crate::notify;
use crate::pipeline::Pipeline;
use crate::scheduler::Schedules;
use crate::store::{Store, StoreError};

/// How long [`Daemon::stop`] waits for alert delivery (a delivery in
/// progress) before abandoning it.
const ALERTS_STOP_TIMEOUT: Duration = Duration::from_secs(10);

/// Why the daemon could not start, or stopped.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error("cannot set up the HTTP client")]
    Fetcher(#[source] FetchError),
    #[error("cannot set up alert delivery")]
    Alerts(#[source] DeliverError),
    #[error("stories.window is too large")]
    StoryWindow,
    #[error("http.listen: cannot listen on {addr}")]
    Listen {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    /// A topic's `feed:` filter names no feed (said as the config file).
    #[error("{}: {error}", path.display())]
    Topics {
        path: std::path::PathBuf,
        error: ArchiveError,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the HTTP listener failed")]
    Http(#[source] std::io::Error),
    #[error("the {0} panicked: {1}")]
    Panicked(&'static str, String),
    #[error("the polling loop stopped unexpectedly")]
    PollingStopped,
    #[error("cannot listen for SIGHUP")]
    Signal(#[source] std::io::Error),
}

/// The pipeline and alerts built from one configuration. New or changed
/// topics are not backfilled yet ([`Pipeline::backfill`]).
pub async fn build(config: &Config, store: &Store) -> Result<(Pipeline, Alerts), DaemonError> {
    let fetcher = Fetcher::new(FetchSettings::from_config(&config.fetch)).map_err(DaemonError::Fetcher)?;
    // Tags of feeds added with `feeds add` too, so a backfill matches
    // `feed:` as ingest does.
    let feed_tags = crate::archive::feed_tags(config, store).await?;
    let story_window =
        chrono::Duration::from_std(config.stories.window).map_err(|_| DaemonError::StoryWindow)?;
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
    )
    .with_full_text(
        config.fetch.full_text,
        config
            .feeds
            .iter()
            .filter_map(|f| Some((f.url.clone(), f.full_text?)))
            .collect(),
    );
    store.sync_feeds(&config.feeds).await?;
    crate::archive::check_topic_feeds(config, &pipeline.topics(), Some(store))
        .await
        .map_err(|error| DaemonError::Topics {
            path: config.path.clone(),
            error,
        })?;
    let alerts = Alerts::new(config, store.clone(), pipeline.topics()).map_err(DaemonError::Alerts)?;
    alerts.register(store.clock().now()).await?;
    Ok((pipeline, alerts))
}

/// The running components of one configuration, stopped together by their
/// own token (a child of the shutdown one).
pub struct Daemon {
    stop: CancellationToken,
    poller: JoinHandle<()>,
    alerts: JoinHandle<()>,
    http: Option<JoinHandle<std::io::Result<()>>>,
    /// The backfill of new or changed topics, beside polling.
    backfill: JoinHandle<()>,
    /// Its database writer is closed (and awaited) last.
    pipeline: Pipeline,
}

impl Daemon {
    /// Builds and starts the components of `config`.
    pub async fn start(
        config: &Config,
        store: &Store,
        metrics: &Arc<Metrics>,
        shutdown: &CancellationToken,
    ) -> Result<Self, DaemonError> {
        let (pipeline, alerts) = build(config, store).await?;
        let stop = shutdown.child_token();
        let http = match config.http.listen {
            Some(addr) => {
                let listener = tokio::net::TcpListener::bind(addr)
                    .await
                    .map_err(|source| DaemonError::Listen { addr, source })?;
                tracing::info!(%addr, "HTTP listener: /healthz, /readyz, /metrics, /api/*");
                let router = api::router(store.clone(), Arc::new(config.clone()), Arc::clone(metrics));
                let limits = api::ListenerLimits::from_config(&config.http);
                Some(tokio::spawn(api::serve(listener, router, limits, stop.clone())))
            }
            None => None,
        };
        let writer = pipeline.clone();
        let backfill = {
            let (pipeline, stop) = (pipeline.clone(), stop.clone());
            tokio::spawn(async move {
                // A failure leaves the topics stale: the next start retries.
                if let Err(error) = pipeline.backfill(&stop).await {
                    tracing::error!(error = %crate::error_chain(&error), "backfilling topics failed; it is tried again at the next start or reload");
                }
            })
        };
        let poller = {
            let (config, store, stop, metrics) =
                (config.clone(), store.clone(), stop.clone(), Arc::clone(metrics));
            tokio::spawn(async move {
                super::run(&config, &store, &pipeline, &metrics, &stop).await;
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
            backfill,
            pipeline: writer,
        })
    }

    /// Stops every component and awaits it: started database writes finish
    /// first (the polling loop waits for them), a delivery in progress gets
    /// [`ALERTS_STOP_TIMEOUT`], and the database writer ends last, after
    /// committing what was queued.
    pub async fn stop(self) -> Result<(), DaemonError> {
        self.stop.cancel();
        if tokio::time::timeout(ALERTS_STOP_TIMEOUT, self.alerts)
            .await
            .is_err()
        {
            tracing::warn!("alert delivery did not stop within {ALERTS_STOP_TIMEOUT:?}");
        }
        if let Some(http) = self.http {
            http.await
                .map_err(|e| DaemonError::Panicked("HTTP listener", crate::pipeline::panic_message(e)))?
                .map_err(DaemonError::Http)?;
        }
        self.poller
            .await
            .map_err(|e| DaemonError::Panicked("polling loop", crate::pipeline::panic_message(e)))?;
        self.backfill
            .await
            .map_err(|e| DaemonError::Panicked("topic backfill", crate::pipeline::panic_message(e)))?;
        self.pipeline.close().await;
        Ok(())
    }
}

/// The daemon: runs until `shutdown`; SIGHUP reloads the config (feeds,
/// topics, term sets, alerts, channels). A new config that does not
/// validate is rejected with the reason logged, and the old one keeps
/// running. Returns an error (the process must exit non-zero, so that
/// systemd restarts it) when the polling loop ends on its own.
pub async fn serve(
    mut config: Config,
    store: &Store,
    shutdown: &CancellationToken,
) -> Result<(), DaemonError> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut hangup = signal(SignalKind::hangup()).map_err(DaemonError::Signal)?;
    let metrics = Arc::new(Metrics::for_instance(
        store.clock(),
        instance_name(&config, store).as_deref(),
    ));
    let mut running = Daemon::start(&config, store, &metrics, shutdown).await?;
    notify::ready(&format!(
        "polling {}",
        crate::count(config.feeds.len() as u64, "feed", "feeds")
    ));
    tracing::info!("ready");
    loop {
        tokio::select! {
            // Shutdown first: it also ends the polling loop.
            biased;
            _ = shutdown.cancelled() => break,
            ended = &mut running.poller => {
                // The polling loop never ends on its own: a panic or a bug.
                metrics.polling_stopped();
                running.stop.cancel();
                notify::stopping();
                return Err(match ended {
                    Err(error) => DaemonError::Panicked("polling loop", crate::pipeline::panic_message(error)),
                    Ok(()) => DaemonError::PollingStopped,
                });
            }
            _ = hangup.recv() => {
                notify::reloading();
                tracing::info!(config = %config.path.display(), "SIGHUP received, reloading the configuration");
                match Config::load(&config.path) {
                    Err(error) => {
                        tracing::error!(error = %crate::error_chain(&error), "new configuration rejected; the running one stays");
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
                        running = Daemon::start(&new, store, &metrics, shutdown).await?;
                        config = new;
                        tracing::info!(feeds = config.feeds.len(), topics = config.topics.len(), "configuration reloaded");
                    }
                }
                notify::ready(&format!("polling {}", crate::count(config.feeds.len() as u64, "feed", "feeds")));
            }
        }
    }
    notify::stopping();
    running.stop().await
}

/// The instance's name on `/metrics`: `[http] instance`, else on a shared
/// (PostgreSQL) store the host name; none for a SQLite store's one instance.
fn instance_name(config: &Config, store: &Store) -> Option<String> {
    config
        .http
        .instance
        .clone()
        .or_else(|| store.is_shared().then(crate::host_name))
}
