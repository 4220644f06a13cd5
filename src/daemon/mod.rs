//! The long-running service. The database is the job queue: every feed
//! row carries its `next_check_at`; the loop starts the due ones (at most
//! `poll.concurrency` at once, per-host limits in the pipeline), sleeps
//! until the next is due, and on a shutdown signal lets in-flight database
//! writes finish.

pub mod service;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::error_chain;
use crate::metrics::Metrics;
use crate::notify;
use crate::pipeline::{CycleStats, PageStats, Pipeline, PollResult, Polls};
use crate::store::{FeedRow, QueueEntry, Store, StoreError};

/// Longest sleep between two looks at the queue.
const MAX_IDLE: Duration = Duration::from_secs(60);
/// Shortest time between two looks at the queue.
const MIN_REQUERY: Duration = Duration::from_secs(1);
/// How soon the loop looks again when other instances held due feeds.
const HELD_REQUERY: Duration = Duration::from_secs(2);
/// On a store shared by several instances, feeds one claims at most: this
/// many times `poll.concurrency`, running or waiting for a slot.
const SHARED_QUEUE: usize = 4;
/// How often the daemon prunes unmatched items.
const PRUNE_EVERY: Duration = Duration::from_secs(3600);
/// How often the daemon asks the store for its housekeeping
/// ([`Store::tidy`]).
const TIDY_EVERY: Duration = Duration::from_secs(60);
/// How long shutdown waits for started feeds to finish writing.
const STOP_TIMEOUT: Duration = Duration::from_secs(10);
/// How often the systemd status line is refreshed.
const STATUS_EVERY: Duration = Duration::from_secs(10);
/// How often the page stage looks for due article pages when it found none.
const PAGES_IDLE: Duration = Duration::from_secs(15);

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

/// Feeds a permanent redirect moved onto another polled feed's URL (its
/// `url`, or the URL another feed of lower id was moved to): each is the
/// same document as that feed, so only the other one is polled. Maps the
/// twin's id to the URL of the feed polled instead. Input: `(id, url,
/// fetch_url)` of the feeds polled.
pub fn twins<'a>(feeds: impl IntoIterator<Item = (i64, &'a str, Option<&'a str>)>) -> HashMap<i64, String> {
    let mut feeds: Vec<_> = feeds.into_iter().collect();
    feeds.sort_by_key(|&(id, _, _)| id);
    let urls: HashSet<&str> = feeds.iter().map(|&(_, url, _)| url).collect();
    // Target URL → the URL of the first (lowest id) feed moved there.
    let mut moved_to: HashMap<&str, &str> = HashMap::new();
    let mut out = HashMap::new();
    for (id, url, fetch_url) in feeds {
        let Some(target) = fetch_url.filter(|&t| t != url) else {
            continue;
        };
        if urls.contains(target) {
            out.insert(id, target.to_string());
        } else if let Some(first) = moved_to.get(target) {
            out.insert(id, first.to_string());
        } else {
            moved_to.insert(target, url);
        }
    }
    out
}

/// Notes on each twin (see [`twins`]) that it is not polled, in its
/// `warning` (for `feeds list` and the API).
pub fn mark_twins(rows: &mut [FeedRow]) {
    let found = twins(
        rows.iter()
            .filter(|f| f.enabled)
            .map(|f| (f.id, f.url.as_str(), f.fetch_url.as_deref())),
    );
    for row in rows.iter_mut() {
        if let Some(other) = found.get(&row.id) {
            let note = format!(
                "a permanent redirect moved this feed to the same document as {}; only that one is polled",
                crate::redact::url(other)
            );
            row.warning = Some(match row.warning.take() {
                Some(w) if !w.is_empty() => format!("{note}; {w}"),
                _ => note,
            });
        }
    }
}

/// Completes stored feed rows for listing (`feeds list`, the API): twins
/// marked ([`mark_twins`]), each feed's `full_text` setting and its
/// article-page counts.
pub async fn describe_feeds(config: &Config, store: &Store, rows: &mut [FeedRow]) -> Result<(), StoreError> {
    mark_twins(rows);
    let pages: HashMap<i64, crate::store::PageCounts> = store
        .page_counts()
        .await?
        .into_iter()
        .map(|c| (c.feed_id, c))
        .collect();
    for row in rows.iter_mut() {
        row.full_text = Some(
            config
                .full_text_of(&row.url, row.full_text.as_deref())
                .as_str()
                .to_string(),
        );
        if let Some(counts) = pages.get(&row.id) {
            row.pages_fetched = counts.fetched;
            row.pages_failed = counts.failed;
            row.pages_pending = counts.pending;
        }
    }
    Ok(())
}

/// The enabled feeds to poll: configured and added ones, twins left out.
pub async fn active_feeds(config: &Config, store: &Store) -> Result<Vec<FeedRow>, StoreError> {
    let urls: HashSet<&str> = config.feeds.iter().map(|f| f.url.as_str()).collect();
    let feeds: Vec<FeedRow> = store
        .list_feeds()
        .await?
        .into_iter()
        .filter(|f| f.enabled && is_active(&urls, &f.url, &f.source))
        .collect();
    let skip = twins(
        feeds
            .iter()
            .map(|f| (f.id, f.url.as_str(), f.fetch_url.as_deref())),
    );
    Ok(feeds.into_iter().filter(|f| !skip.contains_key(&f.id)).collect())
}

/// Runs one cycle over every enabled feed, due or not.
pub async fn run_once(
    config: &Config,
    store: &Store,
    pipeline: &Pipeline,
    shutdown: &CancellationToken,
) -> Result<CycleStats, StoreError> {
    let active: Vec<i64> = active_feeds(config, store).await?.iter().map(|f| f.id).collect();
    // On a shared store, feeds another instance is polling are left to it.
    let feeds = store
        .take_feeds(&active, pipeline.clock().now(), config.poll.lease)
        .await?;
    let stats = pipeline.run_cycle(feeds, config.poll.concurrency, shutdown).await;
    log_cycle(&stats);
    prune(config, store, pipeline.clock().now()).await?;
    Ok(stats)
}

/// One pass over the article-page queue (`full_text`), as `run --once`
/// does after its cycle.
pub async fn fetch_pages(
    config: &Config,
    pipeline: &Pipeline,
    shutdown: &CancellationToken,
) -> Result<PageStats, StoreError> {
    let stats = pipeline
        .fetch_pages(
            config.fetch.pages_per_cycle,
            config.fetch.page_concurrency,
            shutdown,
        )
        .await?;
    if stats.items > 0 {
        tracing::info!(
            items = stats.items,
            fetched = stats.fetched,
            extracted = stats.extracted,
            failed = stats.failed,
            bytes = stats.bytes,
            matches = stats.matches,
            "article pages fetched"
        );
    }
    Ok(stats)
}

/// The daemon's page stage beside the polling loop: a pass over the
/// article-page queue whenever pages are due: at once after a poll queued
/// some, else a look every [`PAGES_IDLE`] (retries come due). A failure
/// is logged and retried; it never holds up polling.
async fn pages(config: Config, pipeline: Pipeline, metrics: Arc<Metrics>, shutdown: CancellationToken) {
    loop {
        let wait = match fetch_pages(&config, &pipeline, &shutdown).await {
            Ok(stats) => {
                metrics.record_pages(&stats);
                if stats.items == 0 {
                    PAGES_IDLE
                } else {
                    Duration::ZERO
                }
            }
            Err(error) => {
                tracing::warn!(error = %error_chain(&error), "cannot fetch article pages; trying again later");
                PAGES_IDLE
            }
        };
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(wait) => {}
            _ = pipeline.pages_queued() => {}
        }
    }
}

async fn prune(config: &Config, store: &Store, now: chrono::DateTime<chrono::Utc>) -> Result<(), StoreError> {
    let pruned = apply_retention(config, store, now).await?;
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
    // Housekeeping that fails is retried next time.
    tidy(store).await;
    Ok(())
}

/// The store's housekeeping ([`Store::tidy`]); postponed or failed, it is
/// tried again next time.
async fn tidy(store: &Store) {
    match store.tidy().await {
        Ok(None) => {}
        Ok(Some(why)) => tracing::debug!("{why}"),
        Err(error) => tracing::warn!(error = %error_chain(&error), "store housekeeping failed"),
    }
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
        match entry.next_check_at {
            Some(at) if at > now => next = Some(next.map_or(at, |n: chrono::DateTime<Utc>| n.min(at))),
            _ => due.push(entry.id),
        }
    }
    (due, next)
}

/// Pause of the dispatcher after a database failure, before a probe.
const STORE_BACKOFF_MIN: Duration = Duration::from_secs(1);
/// Longest pause between two probes of a failing database.
const STORE_BACKOFF_MAX: Duration = Duration::from_secs(10);
/// How often the loop passes while it backs off.
const BACKOFF_PASS: Duration = Duration::from_secs(5);

/// The database's health as the polling loop sees it. A failing store (disk
/// full, unwritable file, a pool that timed out) is not a feed's fault: the
/// dispatcher stops starting feeds (which would be fetched only to fail
/// again), the episode is logged once when it starts and once when it
/// ends, and a small write ([`Store::probe_write`]) tells, with backoff,
/// when writes work again.
#[derive(Debug, Default)]
struct StoreHealth {
    /// Failures since the last success.
    failures: u32,
    /// The next probe is not before this instant.
    retry_at: Option<tokio::time::Instant>,
    /// A probe write worked: one feed may go through the whole pipeline
    /// to confirm (a small write can fit where a feed's items do not).
    trial: bool,
}

impl StoreHealth {
    fn failed(&mut self, error: &StoreError, what: &str, feed_url: Option<&str>, metrics: &Metrics) {
        metrics.store_failed();
        let now = tokio::time::Instant::now();
        if self.retry_at.is_some_and(|at| now < at) {
            // Another feed of a batch that already failed: same attempt.
            return;
        }
        self.failures += 1;
        self.trial = false;
        let backoff = STORE_BACKOFF_MIN
            .saturating_mul(1 << (self.failures - 1).min(16))
            .min(STORE_BACKOFF_MAX);
        self.retry_at = Some(now + backoff);
        let feed_url = feed_url.map(crate::redact::url).unwrap_or_default();
        if self.failures == 1 {
            tracing::error!(
                %feed_url,
                error = %error_chain(error),
                "{what}; polling pauses until the database can be written again (further errors are counted in feedwatch_store_errors_total, not logged)"
            );
        } else {
            tracing::debug!(error = %error_chain(error), failures = self.failures, ?backoff, "{what}");
        }
    }

    fn succeeded(&mut self, metrics: &Metrics) {
        if self.failures > 0 {
            tracing::info!(
                failures = self.failures,
                "the database can be written again; polling resumes"
            );
            metrics.store_recovered();
        }
        self.failures = 0;
        self.retry_at = None;
        self.trial = false;
    }

    /// How many feeds the dispatcher may start: any when healthy; one, the
    /// trial, once a probe write worked and nothing else runs; else none.
    fn may_start(&mut self, in_flight: usize) -> usize {
        match (self.failures, self.trial) {
            (0, _) => usize::MAX,
            (_, true) if in_flight == 0 => {
                self.trial = false;
                1
            }
            _ => 0,
        }
    }

    /// Whether it is time to probe a failing database.
    fn probe_due(&self, now: tokio::time::Instant) -> bool {
        self.failures > 0 && !self.trial && self.retry_at.is_none_or(|at| now >= at)
    }
}

/// The daemon's upkeep beside the polling loop: retention every
/// [`PRUNE_EVERY`] (and at start), the store's housekeeping every
/// [`TIDY_EVERY`]. A failure is logged and retried next time; a long
/// prune never holds up the polling loop (or its watchdog).
async fn upkeep(config: Config, store: Store, clock: crate::clock::Clock, shutdown: CancellationToken) {
    let mut next_prune = tokio::time::Instant::now();
    let mut next_tidy = tokio::time::Instant::now() + TIDY_EVERY;
    loop {
        let wake = next_prune.min(next_tidy);
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep_until(wake) => {}
        }
        let now = tokio::time::Instant::now();
        if now >= next_prune {
            // A failure (a busy or unwritable database) is retried at the
            // next prune; it does not stop the polling.
            if let Err(error) = prune(&config, &store, clock.now()).await {
                tracing::warn!(error = %error_chain(&error), "pruning failed");
            }
            next_prune = tokio::time::Instant::now() + PRUNE_EVERY;
            next_tidy = tokio::time::Instant::now() + TIDY_EVERY;
        } else {
            tidy(&store).await;
            next_tidy = tokio::time::Instant::now() + TIDY_EVERY;
        }
    }
}

/// The polling loop is wedged when it has not passed for this long: it
/// passes at least every [`MAX_IDLE`] plus one look at the queue.
pub const STALLED_AFTER: Duration = Duration::from_secs(180);

/// Pings the systemd watchdog while the polling loop makes progress: from
/// its own task, so that a long step elsewhere (a prune, a big commit) does
/// not get the service restarted, while a loop that stopped passing does.
async fn watchdog(every: Duration, metrics: Arc<Metrics>, shutdown: CancellationToken) {
    let mut stalled = false;
    loop {
        match metrics.since_tick() {
            Some(age) if age <= STALLED_AFTER.as_secs() as i64 => {
                notify::watchdog();
                stalled = false;
            }
            age => {
                if !stalled {
                    tracing::error!(?age, "the polling loop has not passed for {STALLED_AFTER:?}; no longer pinging the watchdog");
                }
                stalled = true;
            }
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(every) => {}
        }
    }
}

/// Polls due feeds until `shutdown` is cancelled. Nothing but shutdown ends
/// it: a database error is logged, counted and retried with backoff.
pub async fn run(
    config: &Config,
    store: &Store,
    pipeline: &Pipeline,
    metrics: &Arc<Metrics>,
    shutdown: &CancellationToken,
) {
    let config_urls: HashSet<&str> = config.feeds.iter().map(|f| f.url.as_str()).collect();
    let mut polls = Polls::new(config.poll.concurrency);
    let mut health = StoreHealth::default();
    tracing::info!(feeds = config.feeds.len(), "polling; feeds are checked when due");
    let helpers = shutdown.child_token();
    let _stop_helpers = helpers.clone().drop_guard();
    tokio::spawn(upkeep(
        config.clone(),
        store.clone(),
        pipeline.clock(),
        helpers.clone(),
    ));
    if let Some(every) = notify::watchdog_interval() {
        tokio::spawn(watchdog(every, Arc::clone(metrics), helpers.clone()));
    }
    let page_stage = tokio::spawn(pages(
        config.clone(),
        pipeline.clone(),
        Arc::clone(metrics),
        helpers.clone(),
    ));
    let mut next_status = tokio::time::Instant::now();
    while !shutdown.is_cancelled() {
        let looked = tokio::time::Instant::now();
        metrics.tick();
        // Fault injection for the tests of debug builds (release builds
        // have none): the loop dies the way a bug would make it.
        #[cfg(debug_assertions)]
        if std::env::var_os("FEEDWATCH_TEST_PANIC_LOOP").is_some() {
            panic!("injected by FEEDWATCH_TEST_PANIC_LOOP");
        }
        let mut wake = looked + MAX_IDLE;
        if health.probe_due(looked) {
            match store.probe_write().await {
                Ok(()) => health.trial = true,
                Err(error) => health.failed(&error, "the database still cannot be written", None, metrics),
            }
        }
        match dispatch(
            store,
            pipeline,
            &config_urls,
            &mut health,
            &mut polls,
            &config.poll,
            shutdown,
        )
        .await
        {
            Ok(next) => {
                if let Some(next) = next {
                    wake = looked + next.clamp(MIN_REQUERY, MAX_IDLE);
                }
            }
            Err(error) => health.failed(&error, "cannot read the feed queue", None, metrics),
        }
        if let Some(retry_at) = health.retry_at {
            // Backing off: the loop still passes every few seconds (it is
            // alive, and says so to /healthz and the watchdog).
            wake = wake
                .min(retry_at.max(looked + MIN_REQUERY))
                .min(looked + BACKOFF_PASS);
        }
        // The status line costs a query; build it only when systemd listens.
        if notify::enabled() && looked >= next_status {
            let items = store
                .item_count()
                .await
                .map_or_else(|_| "?".to_string(), |n| n.to_string());
            notify::status(&format!(
                "{}, {} polling now, {items} items{}; last look at the queue {}",
                crate::count(config_urls.len() as u64, "feed", "feeds"),
                polls.len(),
                if health.failures > 0 {
                    ", database failing"
                } else {
                    ""
                },
                pipeline.clock().now().format("%H:%M:%S UTC")
            ));
            next_status = looked + STATUS_EVERY;
        }
        if notify::enabled() {
            wake = wake.min(next_status);
        }
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = tokio::time::sleep_until(wake) => break,
                Some(polled) = polls.next(), if !polls.is_empty() => {
                    match polled.outcome {
                        Ok(Ok(result)) => {
                            health.succeeded(metrics);
                            metrics.record_poll(&result, polled.elapsed);
                            metrics.record_host_wait(polled.waited);
                        }
                        Ok(Err(error)) => {
                            health.failed(&error, "cannot store feed result", Some(&polled.url), metrics);
                            metrics.record_poll(&PollResult::Failed(error_chain(&error)), polled.elapsed);
                        }
                        Err(message) => {
                            // A bug this feed reached: its error, not the daemon's end.
                            tracing::error!(feed_url = %crate::redact::url(&polled.url), error = %message, "polling the feed failed");
                            metrics.record_poll(&PollResult::Failed(message), Duration::ZERO);
                        }
                    }
                    // The feed has a new next_check_at: look again soon.
                    wake = wake.min(looked + MIN_REQUERY);
                    if let Some(retry_at) = health.retry_at {
                        wake = wake.max(retry_at).min(looked + BACKOFF_PASS);
                    }
                }
            }
        }
    }
    // Polls cut short by the stop write nothing: their leases (on a shared
    // store) are given back, for another instance to take at once.
    let stopping = polls.feed_ids();
    if !polls.finish(STOP_TIMEOUT).await {
        tracing::warn!("feeds still running after {STOP_TIMEOUT:?}; abandoning them");
    }
    if let Err(error) = store.release_feeds(&stopping).await {
        tracing::warn!(error = %error_chain(&error), "cannot give back the leases of the feeds cut short");
    }
    // The page stage writes what it has, then stops.
    helpers.cancel();
    if tokio::time::timeout(STOP_TIMEOUT, page_stage).await.is_err() {
        tracing::warn!("the page stage still running after {STOP_TIMEOUT:?}; abandoning it");
    }
}

/// Starts the due feeds the store's health allows; returns how long until
/// the next feed is due.
async fn dispatch(
    store: &Store,
    pipeline: &Pipeline,
    config_urls: &HashSet<&str>,
    health: &mut StoreHealth,
    polls: &mut Polls,
    poll: &crate::config::PollConfig,
    shutdown: &CancellationToken,
) -> Result<Option<Duration>, StoreError> {
    let mut allowed = health.may_start(polls.len());
    if store.is_shared() {
        // Feeds claimed but waiting for a slot are held from the other
        // instances (and their leases run): claim what can start soon.
        allowed = allowed.min((SHARED_QUEUE * poll.concurrency).saturating_sub(polls.len()));
    }
    if allowed == 0 {
        return Ok(None);
    }
    let now = pipeline.clock().now();
    let active: Vec<QueueEntry> = store
        .queue()
        .await?
        .into_iter()
        .filter(|e| is_active(config_urls, &e.url, &e.source))
        .collect();
    // A feed moved onto another's URL is polled as that one only.
    let skip = twins(
        active
            .iter()
            .map(|e| (e.id, e.url.as_str(), e.fetch_url.as_deref())),
    );
    let entries: Vec<QueueEntry> = active
        .into_iter()
        .filter(|e| !polls.contains(e.id) && !skip.contains_key(&e.id))
        .collect();
    let (due_ids, next) = due(&entries, now);
    if due_ids.is_empty() && allowed == 1 {
        // Nothing due for the trial yet: keep it for the next pass.
        health.trial = true;
    }
    // On a store shared by several instances, others take some at once:
    // this instance takes the first `allowed` of those left.
    let limit = u32::try_from(allowed).unwrap_or(u32::MAX);
    let claimed = store.claim_feeds(&due_ids, limit, now, poll.lease).await?;
    // Due feeds other instances hold: look again soon (they may let go,
    // or die and leave them when their leases end).
    let held = claimed.len() < due_ids.len().min(allowed);
    for feed in claimed {
        polls.start(pipeline, feed, shutdown);
    }
    let next = next.and_then(|n| (n - now).to_std().ok());
    Ok(if held {
        Some(next.map_or(HELD_REQUERY, |n| n.min(HELD_REQUERY)))
    } else {
        next
    })
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
    use crate::store::parse_ts;

    #[test]
    fn feeds_moved_onto_another_feed_are_twins() {
        let found = twins([
            (1, "https://a.example/rss", None),
            (2, "https://old.example/rss", Some("https://a.example/rss")),
            (3, "https://b.example/rss", Some("https://c.example/rss")),
            (4, "https://d.example/rss", Some("https://c.example/rss")),
            (5, "https://e.example/rss", Some("https://e.example/rss")),
        ]);
        assert_eq!(found.len(), 2, "{found:?}");
        assert_eq!(found[&2], "https://a.example/rss");
        assert_eq!(found[&4], "https://b.example/rss");
    }

    #[test]
    fn due_entries_and_next_wake() {
        let entry = |id, next: Option<&str>| QueueEntry {
            id,
            url: format!("https://f{id}.example/"),
            source: "config".into(),
            next_check_at: next.and_then(parse_ts),
            fetch_url: None,
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
