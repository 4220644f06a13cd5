//! Prometheus metrics. Counters and the poll-duration histogram are
//! recorded by the daemon as it works; gauges that the database already
//! knows (items, matches per topic, digests per channel and state, feed
//! health) are read from the store when `/metrics` is scraped.

use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::time::Duration;

use prometheus_client::encoding::text::encode;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

use crate::clock::Clock;
use crate::pipeline::{PageStats, PollResult};
use crate::store::{Store, StoreError};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabel {
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TopicLabel {
    topic: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DigestLabel {
    channel: String,
    status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct FeedStateLabel {
    state: String,
}

/// What the daemon records while it runs.
#[derive(Debug)]
pub struct Metrics {
    clock: Clock,
    /// The `instance_name` label of every metric, if any.
    instance: Option<String>,
    registry: Registry,
    polls: Family<OutcomeLabel, Counter>,
    poll_seconds: Histogram,
    host_wait_seconds: Histogram,
    items: Counter,
    updated: Counter,
    matches: Counter,
    joined_stories: Counter,
    store_errors: Counter,
    pages: Family<OutcomeLabel, Counter>,
    page_bytes: Counter,
    page_matches: Counter,
    last_tick: AtomicI64,
    /// The database failed and has not worked since (see `store_failed`).
    store_failing: AtomicBool,
    /// The polling loop ended (it only should at shutdown).
    stopped: AtomicBool,
}

/// The registry of feedwatch's metrics, labelled with the instance's name
/// if it has one.
fn registry(instance: Option<&str>) -> Registry {
    match instance {
        Some(name) => Registry::with_prefix_and_labels(
            "feedwatch",
            [(
                std::borrow::Cow::Borrowed("instance_name"),
                std::borrow::Cow::Owned(name.to_string()),
            )]
            .into_iter(),
        ),
        None => Registry::with_prefix("feedwatch"),
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new(Clock::System)
    }
}

impl Metrics {
    /// Metrics whose times (the loop's last pass) come from `clock`.
    pub fn new(clock: Clock) -> Self {
        Self::for_instance(clock, None)
    }

    /// As [`Metrics::new`], every metric labelled `instance_name="<name>"`
    /// when `instance` is given (several instances on one store).
    pub fn for_instance(clock: Clock, instance: Option<&str>) -> Self {
        let mut registry = registry(instance);
        let polls = Family::<OutcomeLabel, Counter>::default();
        registry.register(
            "polls",
            "Feed polls by outcome (ok, not_modified, failed, cancelled)",
            polls.clone(),
        );
        let poll_seconds = Histogram::new(exponential_buckets(0.01, 2.0, 14));
        registry.register(
            "poll_duration_seconds",
            "Time to poll one feed: fetch, parse, match and store",
            poll_seconds.clone(),
        );
        let host_wait_seconds = Histogram::new(exponential_buckets(0.01, 2.0, 14));
        registry.register(
            "poll_host_wait_seconds",
            "Time a due feed waited for its host's politeness limits (per-host concurrency and spacing) before its poll began",
            host_wait_seconds.clone(),
        );
        let items = Counter::default();
        registry.register("items_ingested", "New items stored", items.clone());
        let updated = Counter::default();
        registry.register("items_updated", "Stored items updated in place", updated.clone());
        let matches = Counter::default();
        registry.register("matches", "New topic matches", matches.clone());
        let joined_stories = Counter::default();
        registry.register(
            "stories_joined",
            "New items that joined an existing story",
            joined_stories.clone(),
        );
        let pages = Family::<OutcomeLabel, Counter>::default();
        registry.register(
            "pages",
            "Items' article pages (full_text) by outcome (extracted: the item's text is the article's; teaser: kept the feed's longer text; failed: not fetched or not extracted)",
            pages.clone(),
        );
        let page_bytes = Counter::default();
        registry.register(
            "page_bytes",
            "Bytes of article pages received (decompressed)",
            page_bytes.clone(),
        );
        let page_matches = Counter::default();
        registry.register(
            "page_matches",
            "New topic matches found in articles' text (full_text)",
            page_matches.clone(),
        );
        let store_errors = Counter::default();
        registry.register(
            "store_errors",
            "Database operations of the polling loop that failed (disk full, unwritable file, busy pool)",
            store_errors.clone(),
        );
        Self {
            clock,
            instance: instance.map(str::to_string),
            registry,
            store_errors,
            store_failing: AtomicBool::new(false),
            stopped: AtomicBool::new(false),
            polls,
            poll_seconds,
            host_wait_seconds,
            items,
            updated,
            matches,
            joined_stories,
            pages,
            page_bytes,
            page_matches,
            last_tick: AtomicI64::new(0),
        }
    }

    /// Records a pass of the page stage.
    pub fn record_pages(&self, stats: &PageStats) {
        for (outcome, n) in [
            ("extracted", stats.extracted),
            ("teaser", stats.teaser),
            ("failed", stats.failed),
        ] {
            if n > 0 {
                self.pages
                    .get_or_create(&OutcomeLabel {
                        outcome: outcome.to_string(),
                    })
                    .inc_by(n as u64);
            }
        }
        self.page_bytes.inc_by(stats.bytes);
        self.page_matches.inc_by(stats.matches);
    }

    /// Records one feed's poll.
    pub fn record_poll(&self, result: &PollResult, elapsed: Duration) {
        let outcome = match result {
            PollResult::NotModified => "not_modified",
            PollResult::Ingested { counts, .. } => {
                self.items.inc_by(counts.new);
                self.updated.inc_by(counts.updated);
                self.matches.inc_by(counts.matches);
                self.joined_stories.inc_by(counts.joined);
                "ok"
            }
            PollResult::Failed(_) => "failed",
            PollResult::Cancelled => "cancelled",
        };
        self.polls
            .get_or_create(&OutcomeLabel {
                outcome: outcome.into(),
            })
            .inc();
        self.poll_seconds.observe(elapsed.as_secs_f64());
    }

    /// How long a feed waited for its host's limits before its poll.
    pub fn record_host_wait(&self, waited: Duration) {
        self.host_wait_seconds.observe(waited.as_secs_f64());
    }

    /// The scheduler loop passed; `/readyz` checks it is recent.
    pub fn tick(&self) {
        self.last_tick
            .store(self.clock.now().timestamp(), Ordering::Relaxed);
    }

    /// A database operation of the polling loop failed: counted, and the
    /// daemon is not ready until one succeeds.
    pub fn store_failed(&self) {
        self.store_errors.inc();
        self.store_failing.store(true, Ordering::Relaxed);
    }

    /// A database write succeeded after failures.
    pub fn store_recovered(&self) {
        self.store_failing.store(false, Ordering::Relaxed);
    }

    /// Whether the database has been failing since its last success.
    pub fn store_failing(&self) -> bool {
        self.store_failing.load(Ordering::Relaxed)
    }

    /// The polling loop ended; `/healthz` fails from now on.
    pub fn polling_stopped(&self) {
        self.stopped.store(true, Ordering::Relaxed);
    }

    /// Why the daemon is not alive (`/healthz`): the polling loop ended, or
    /// has not passed for `stalled_after` seconds.
    pub fn liveness(&self, stalled_after: i64) -> Result<(), String> {
        if self.stopped.load(Ordering::Relaxed) {
            return Err("the polling loop has stopped".into());
        }
        match self.since_tick() {
            Some(age) if age > stalled_after => Err(format!("the polling loop last passed {age} s ago")),
            _ => Ok(()),
        }
    }

    /// Seconds since the scheduler loop last passed (None: never).
    pub fn since_tick(&self) -> Option<i64> {
        match self.last_tick.load(Ordering::Relaxed) {
            0 => None,
            t => Some(self.clock.now().timestamp() - t),
        }
    }

    /// The Prometheus text exposition: recorded metrics plus gauges read
    /// from the store now. `unhealthy_after` is `poll.failure_threshold`.
    pub async fn render(&self, store: &Store, unhealthy_after: u32) -> Result<String, StoreError> {
        let mut scrape = registry(self.instance.as_deref());
        let items = Gauge::<i64>::default();
        items.set(store.item_count().await?);
        scrape.register("items", "Items stored", items);
        let topics = Family::<TopicLabel, Gauge>::default();
        for (topic, n) in store.topic_counts().await? {
            topics.get_or_create(&TopicLabel { topic }).set(n);
        }
        scrape.register("topic_matches", "Matched items per topic", topics);
        let digests = Family::<DigestLabel, Gauge>::default();
        let mut pending = 0;
        for (channel, status, n) in store.digest_counts().await? {
            if status == "pending" {
                pending += n;
            }
            digests.get_or_create(&DigestLabel { channel, status }).set(n);
        }
        scrape.register("digests", "Digests per channel and delivery state", digests);
        let outbox = Gauge::<i64>::default();
        outbox.set(pending);
        scrape.register("outbox_depth", "Digests waiting for delivery", outbox);
        let feeds = Family::<FeedStateLabel, Gauge>::default();
        for feed in store.list_feeds().await? {
            let state = if !feed.enabled {
                "disabled"
            } else if feed.error_count >= i64::from(unhealthy_after) {
                "unhealthy"
            } else {
                "healthy"
            };
            feeds.get_or_create(&FeedStateLabel { state: state.into() }).inc();
        }
        scrape.register("feeds", "Feeds by state", feeds);
        let last_tick = Gauge::<i64>::default();
        last_tick.set(self.last_tick.load(Ordering::Relaxed));
        scrape.register(
            "scheduler_last_tick_timestamp_seconds",
            "When the scheduler loop last passed (Unix time)",
            last_tick,
        );

        let mut out = String::new();
        encode(&mut out, &self.registry).expect("writing to a String cannot fail");
        let mut gauges = String::new();
        encode(&mut gauges, &scrape).expect("writing to a String cannot fail");
        // Both end with "# EOF"; keep one.
        out.truncate(out.trim_end().strip_suffix("# EOF").map_or(out.len(), str::len));
        out.push_str(&gauges);
        Ok(out)
    }
}
