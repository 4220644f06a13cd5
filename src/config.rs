//! The configuration file: types, loading and validation.
//!
//! Every error names the file, the line (where known) and the key, in one
//! sentence. Relative paths — `[store] path` and `file://` feed URLs without
//! a leading `/` — are resolved against the directory of the config file.

use std::collections::HashMap;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use bytesize::ByteSize;
use serde::Deserialize;
use toml::Spanned;
use url::Url;

use crate::store::Location;
use crate::topics::{query, TermSets, TopicError, TopicSet};

mod alerts;

pub use alerts::{
    AlertConfig, ChannelConfig, ChannelKind, Secret, SmtpTls, Trigger, WebhookFormat, WebhookUrl,
    FEED_HEALTH, IMMEDIATE_WINDOW,
};

/// The default location of the config file.
pub const DEFAULT_PATH: &str = "/etc/feedwatch/feedwatch.toml";

/// The largest config file read: beyond any real one (a config with
/// 10,000 feeds is about 1 MiB; an agency's 100,000 standing queries about
/// 7 MiB, issue 27), and a bound on what `--config /dev/zero` or a wrong
/// path reads before saying so.
pub const MAX_SIZE: ByteSize = ByteSize::mib(32);

/// A config file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("config file {} is larger than the {MAX_SIZE} limit", path.display())]
    TooLarge { path: PathBuf },
    /// A syntax error, an unknown key, a wrong type or a failed validation.
    #[error("{}: {}{}{message}", path.display(), line.map(|l| format!("line {l}: ")).unwrap_or_default(), if key.is_empty() { String::new() } else { format!("{key}: ") })]
    Invalid {
        path: PathBuf,
        line: Option<usize>,
        key: String,
        message: String,
    },
}

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where the config was read from.
    pub path: PathBuf,
    pub store: StoreConfig,
    pub fetch: FetchConfig,
    pub poll: PollConfig,
    pub retention: RetentionConfig,
    pub stories: StoriesConfig,
    pub search: SearchConfig,
    pub feeds: Vec<FeedConfig>,
    pub topics: Vec<TopicConfig>,
    /// Named term sets, usable in queries as `@name`.
    pub terms: TermSets,
    /// Where digests go.
    pub channels: Vec<ChannelConfig>,
    /// Which topics are sent where, and when.
    pub alerts: Vec<AlertConfig>,
    pub log: LogConfig,
    pub http: HttpConfig,
    pub health: HealthConfig,
}

/// `[health]`: when alerts subscribed to `feed-health` report a feed.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HealthConfig {
    /// A feed failing this long is reported.
    #[serde(with = "humantime_serde")]
    pub failing_after: Duration,
    /// A feed with no new item for this many times its usual publishing
    /// interval is reported as silent...
    pub silent_factor: f64,
    /// ...but never before this long.
    #[serde(with = "humantime_serde")]
    pub silent_min: Duration,
}

impl Default for HealthConfig {
    fn default() -> Self {
        Self {
            failing_after: Duration::from_secs(6 * 3600),
            silent_factor: 4.0,
            silent_min: Duration::from_secs(24 * 3600),
        }
    }
}

/// `[http]`: the optional listener for health, metrics and the JSON API.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpConfig {
    /// Address to listen on, e.g. `127.0.0.1:9187`; off when unset.
    pub listen: Option<std::net::SocketAddr>,
    /// A file holding the bearer token every route but `/healthz` requires.
    pub token_file: Option<PathBuf>,
    /// Allow a non-loopback `listen` address.
    pub allow_remote: bool,
    /// Serve the web desk (`/`, `/topics/NAME`, `/search`, …: src/desk/)
    /// on the listener beside the API.
    pub ui: bool,
    /// Searches (`/api/items?q=`) running at once; more wait briefly, then
    /// get 503. Each has its own read connection, apart from the daemon's.
    pub max_searches: u32,
    /// Open client connections; further clients wait in the listen backlog.
    pub max_connections: usize,
    /// Time a client has to send a request's headers.
    #[serde(with = "humantime_serde")]
    pub header_timeout: Duration,
    /// An idle keep-alive connection is closed after this long.
    #[serde(with = "humantime_serde")]
    pub idle_timeout: Duration,
    /// The token read from `token_file`.
    #[serde(skip)]
    pub token: Option<Secret>,
    /// This instance's name, the `instance_name` label of every metric on
    /// `/metrics`, for several instances sharing a PostgreSQL store. Unset:
    /// the host name on PostgreSQL, no label on SQLite (one instance).
    pub instance: Option<String>,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            listen: None,
            token_file: None,
            instance: None,
            allow_remote: false,
            ui: true,
            max_searches: 2,
            max_connections: 256,
            header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            token: None,
        }
    }
}

/// `[search]`: searches of the archive by users (`feedwatch search`,
/// `topics test`, `/api/items`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SearchConfig {
    /// A search still running after this long is stopped with an error
    /// (its SQL interrupted); `0s` for no limit.
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
}

impl Default for SearchConfig {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(10),
        }
    }
}

/// `[log]`: defaults for `--log-level` and `--log-format`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// A tracing filter such as `info` or `feedwatch=debug,info`.
    pub level: Option<String>,
    /// `auto` (journald under systemd, else text), `text`, `json` or `journald`.
    pub format: Option<String>,
}

/// Where the archive is kept: `[store] path` (a SQLite file) or `[store]
/// url` (`sqlite:///var/lib/feedwatch/feedwatch.db`, `sqlite:data/fw.db`,
/// `postgres://feedwatch@db/feedwatch`, `host=/var/run/postgresql
/// dbname=feedwatch`), with `[store] password_file` for PostgreSQL.
#[derive(Debug, Clone)]
pub struct StoreConfig {
    /// Where the store is; a file path is absolute (relative to the config
    /// file's directory as written).
    location: Location,
}

impl StoreConfig {
    /// The store's location, as [`crate::store::Store`] opens it.
    pub fn location(&self) -> Location {
        self.location.clone()
    }
}

/// `[store]` as written: `path` or `url`, not both.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStore {
    path: Option<PathBuf>,
    url: Option<Spanned<String>>,
    /// The PostgreSQL password, in a file of its own (like other secrets).
    password_file: Option<PathBuf>,
}

fn default_store_path() -> PathBuf {
    PathBuf::from("/var/lib/feedwatch/feedwatch.db")
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FetchConfig {
    /// Total time for one request, body included.
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
    #[serde(with = "humantime_serde")]
    pub connect_timeout: Duration,
    /// Cap on the decompressed body.
    pub max_body_size: ByteSize,
    /// Longest wait for the next bytes of a response.
    #[serde(with = "humantime_serde")]
    pub read_timeout: Duration,
    pub user_agent: String,
    /// Allow loopback, private, link-local and other non-public addresses
    /// (off by default: the SSRF guard refuses them).
    pub allow_private_networks: bool,
    /// When items' article pages are fetched for their text, for feeds
    /// without `[[feed]] full_text`.
    pub full_text: FullText,
    /// Article pages fetched at once (beside feed polling, which they
    /// never starve).
    pub page_concurrency: usize,
    /// Article pages fetched per pass (a cycle of `run --once`; the daemon
    /// runs a pass whenever pages wait): the oldest first, the rest wait.
    pub pages_per_cycle: usize,
}

impl Default for FetchConfig {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            max_body_size: ByteSize::mib(16),
            read_timeout: Duration::from_secs(15),
            allow_private_networks: false,
            full_text: FullText::Never,
            page_concurrency: 2,
            pages_per_cycle: 200,
            user_agent: concat!("feedwatch/", env!("CARGO_PKG_VERSION")).to_string(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PollConfig {
    /// A fixed interval for every feed; when unset, each feed's interval
    /// adapts to its publishing rate within `min_interval`..`max_interval`.
    #[serde(with = "humantime_serde")]
    pub interval: Option<Duration>,
    /// Bounds of the adaptive interval (and of failure backoff).
    #[serde(with = "humantime_serde")]
    pub min_interval: Duration,
    #[serde(with = "humantime_serde")]
    pub max_interval: Duration,
    /// Feeds fetched at the same time.
    pub concurrency: usize,
    /// Requests to one host at the same time.
    pub per_host_concurrency: usize,
    /// Minimum time between the starts of two requests to one host.
    #[serde(with = "humantime_serde")]
    pub per_host_spacing: Duration,
    /// Consecutive failures after which a feed is unhealthy (still retried
    /// at `max_interval`).
    pub failure_threshold: u32,
    /// Every Nth poll of a feed is unconditional (no ETag/Last-Modified),
    /// so a server that changes the body but not its validators is noticed.
    pub unconditional_every: u32,
    /// On a PostgreSQL store shared by several instances: how long a feed
    /// an instance has claimed stays its own. Writing the feed's result
    /// ends the lease; an instance that dies holding it loses the feed to
    /// another after this long. Longer than a poll can take.
    #[serde(with = "humantime_serde")]
    pub lease: Duration,
}

impl Default for PollConfig {
    fn default() -> Self {
        Self {
            interval: None,
            min_interval: Duration::from_secs(5 * 60),
            max_interval: Duration::from_secs(24 * 3600),
            concurrency: 64,
            per_host_concurrency: 2,
            per_host_spacing: Duration::from_millis(500),
            failure_threshold: 10,
            unconditional_every: 10,
            lease: Duration::from_secs(10 * 60),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetentionConfig {
    /// How long items that match no topic are kept (for `topics test` and
    /// backfilling new topics); matched items are kept.
    #[serde(with = "humantime_serde")]
    pub unmatched: Duration,
    /// How long items matched by a topic are kept (by first-seen time);
    /// `None` (the default): forever.
    #[serde(with = "humantime_serde")]
    pub matched: Option<Duration>,
    /// How long the tombstones of pruned items are kept; `None` (the
    /// default): forever. A feed still listing an item whose tombstone is
    /// gone brings it back as new.
    #[serde(with = "humantime_serde")]
    pub tombstones: Option<Duration>,
}

impl Default for RetentionConfig {
    fn default() -> Self {
        Self {
            unmatched: Duration::from_secs(7 * 24 * 3600),
            matched: None,
            tombstones: None,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StoriesConfig {
    /// A new item joins the story of a near-duplicate whose time (published,
    /// else first seen) is at most this far from its own.
    #[serde(with = "humantime_serde")]
    pub window: Duration,
    /// Whether new items are fingerprinted and join stories at all; `false`
    /// makes every item its own story (and saves the fingerprinting and
    /// lookups: about a fifth of a cold cycle, BENCHMARKS.md).
    pub cluster: bool,
}

impl Default for StoriesConfig {
    fn default() -> Self {
        Self {
            window: Duration::from_secs(7 * 24 * 3600),
            cluster: true,
        }
    }
}

pub use crate::model::{FeedConfig, FullText};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicConfig {
    pub name: String,
    pub query: String,
}

/// The file as written, with spans for error messages.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    store: RawStore,
    #[serde(default)]
    fetch: FetchConfig,
    #[serde(default)]
    poll: PollConfig,
    #[serde(default)]
    retention: RetentionConfig,
    #[serde(default)]
    stories: StoriesConfig,
    #[serde(default)]
    search: SearchConfig,
    #[serde(default, rename = "feed")]
    feeds: Vec<RawFeed>,
    #[serde(default, rename = "topic")]
    topics: Vec<RawTopic>,
    #[serde(default)]
    terms: HashMap<String, Vec<Spanned<String>>>,
    #[serde(default, rename = "channel")]
    channels: Vec<alerts::RawChannel>,
    #[serde(default, rename = "alert")]
    alerts: Vec<alerts::RawAlert>,
    #[serde(default)]
    log: Option<Spanned<LogConfig>>,
    #[serde(default)]
    http: HttpConfig,
    #[serde(default)]
    health: HealthConfig,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFeed {
    url: Spanned<String>,
    name: Option<String>,
    #[serde(default)]
    tags: Vec<String>,
    #[serde(default, with = "humantime_serde")]
    interval: Option<Duration>,
    #[serde(default, with = "humantime_serde")]
    min_interval: Option<Duration>,
    #[serde(default, with = "humantime_serde")]
    max_interval: Option<Duration>,
    lang: Option<Spanned<String>>,
    full_text: Option<FullText>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTopic {
    name: Spanned<String>,
    query: Spanned<String>,
}

/// The primary subtag (lower case) of a well-formed BCP 47 language tag:
/// a primary subtag of 2–3 letters (an ISO 639 code), then subtags of 1–8 letters or
/// digits, separated by `-` (`_` accepted). `None` for anything else.
fn language_tag(tag: &str) -> Option<String> {
    let mut subtags = tag.trim().split(['-', '_']);
    let primary = subtags.next()?;
    let primary_ok = matches!(primary.len(), 2 | 3) && primary.chars().all(|c| c.is_ascii_alphabetic());
    let rest_ok = subtags.all(|s| (1..=8).contains(&s.len()) && s.chars().all(|c| c.is_ascii_alphanumeric()));
    (primary_ok && rest_ok).then(|| primary.to_ascii_lowercase())
}

impl Config {
    /// The `full_text` of the feed at `url`: its `[[feed]] full_text`, else
    /// `stored` (given to `feeds add`), else `[fetch] full_text`.
    pub fn full_text_of(&self, url: &str, stored: Option<&str>) -> FullText {
        FullText::of_feed(
            self.feeds.iter().find(|f| f.url == url).and_then(|f| f.full_text),
            stored,
            self.fetch.full_text,
        )
    }

    /// Reads, parses and validates the config file at `path`.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        use std::io::Read;
        let read_error = |source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        };
        // One byte past the cap tells a file at the cap from a larger one.
        let mut bytes = Vec::new();
        std::fs::File::open(path)
            .map_err(read_error)?
            .take(MAX_SIZE.as_u64() + 1)
            .read_to_end(&mut bytes)
            .map_err(read_error)?;
        if bytes.len() as u64 > MAX_SIZE.as_u64() {
            return Err(ConfigError::TooLarge {
                path: path.to_path_buf(),
            });
        }
        let source = String::from_utf8(bytes)
            .map_err(|e| read_error(std::io::Error::new(std::io::ErrorKind::InvalidData, e)))?;
        Self::parse(path, &source)
    }

    /// Parses and validates `source` as if read from `path`.
    pub fn parse(path: &Path, source: &str) -> Result<Config, ConfigError> {
        let invalid = |span: Option<Range<usize>>, key: String, message: String| ConfigError::Invalid {
            path: path.to_path_buf(),
            line: span.map(|s| line_of(source, s.start)),
            key,
            message,
        };
        let raw: RawConfig =
            serde_path_to_error::deserialize(toml::Deserializer::new(source)).map_err(|e| {
                let key = e.path().to_string();
                let inner = e.into_inner();
                let key = if key == "." { String::new() } else { key };
                invalid(inner.span(), key, inner.message().trim().to_string())
            })?;
        let base = std::path::absolute(path)
            .ok()
            .and_then(|p| p.parent().map(Path::to_path_buf))
            .map(|dir| std::fs::canonicalize(&dir).unwrap_or(dir))
            .unwrap_or_default();

        let location = match (raw.store.path, raw.store.url) {
            (Some(_), Some(url)) => {
                return Err(invalid(
                    Some(url.span()),
                    "store.url".into(),
                    "set either store.path or store.url, not both".into(),
                ))
            }
            (Some(path), None) => Location::from(path),
            (None, Some(url)) => Location::from_url(url.get_ref())
                .map_err(|m| invalid(Some(url.span()), "store.url".into(), m))?,
            (None, None) => Location::from(default_store_path()),
        };
        let location = match (location, raw.store.password_file) {
            (location, None) => location,
            (Location::Postgres(target), Some(file)) => {
                let file = base.join(file);
                let password = std::fs::read_to_string(&file).map_err(|e| {
                    invalid(
                        None,
                        "store.password_file".into(),
                        format!("cannot read {}: {e}", file.display()),
                    )
                })?;
                Location::Postgres(target.with_password(password.trim_end_matches(['\r', '\n']).to_string()))
            }
            (Location::Sqlite(_), Some(_)) => {
                return Err(invalid(
                    None,
                    "store.password_file".into(),
                    "applies only to a PostgreSQL store.url".into(),
                ))
            }
        };
        let store = StoreConfig {
            location: location.relative_to(&base),
        };
        for (key, value) in [
            ("poll.concurrency", raw.poll.concurrency),
            ("fetch.page_concurrency", raw.fetch.page_concurrency),
        ] {
            if value == 0 {
                return Err(invalid(None, key.into(), "must be at least 1".into()));
            }
        }
        if chrono::Duration::from_std(raw.stories.window).is_err() {
            return Err(invalid(None, "stories.window".into(), "is too large".into()));
        }
        let at_least_1s = [
            ("poll.interval", raw.poll.interval),
            ("poll.min_interval", Some(raw.poll.min_interval)),
            ("poll.max_interval", Some(raw.poll.max_interval)),
            ("poll.lease", Some(raw.poll.lease)),
        ];
        for (key, value) in at_least_1s {
            if value.is_some_and(|v| v < Duration::from_secs(1)) {
                return Err(invalid(None, key.into(), "must be at least 1s".into()));
            }
        }
        if raw.poll.lease <= raw.fetch.timeout {
            return Err(invalid(
                None,
                "poll.lease".into(),
                format!(
                    "must be longer than fetch.timeout ({}): a lease that can end during a fetch lets another instance poll the feed too",
                    humantime::format_duration(raw.fetch.timeout)
                ),
            ));
        }
        if raw.poll.min_interval > raw.poll.max_interval {
            return Err(invalid(
                None,
                "poll.min_interval".into(),
                "must not be longer than poll.max_interval".into(),
            ));
        }
        for (key, value) in [
            ("poll.per_host_concurrency", raw.poll.per_host_concurrency as u64),
            (
                "poll.unconditional_every",
                u64::from(raw.poll.unconditional_every),
            ),
            ("poll.failure_threshold", u64::from(raw.poll.failure_threshold)),
        ] {
            if value == 0 {
                return Err(invalid(None, key.into(), "must be at least 1".into()));
            }
        }

        let mut feeds = Vec::with_capacity(raw.feeds.len());
        let mut seen_urls: HashMap<String, usize> = HashMap::new();
        for (i, feed) in raw.feeds.into_iter().enumerate() {
            let key = format!("feed[{i}].url");
            let url = resolve_feed_url(&base, feed.url.get_ref())
                .map_err(|m| invalid(Some(feed.url.span()), key.clone(), m))?;
            // Offsets, not lines: counting lines for every feed is quadratic.
            if let Some(first) = seen_urls.insert(url.clone(), feed.url.span().start) {
                let first = line_of(source, first);
                return Err(invalid(
                    Some(feed.url.span()),
                    key,
                    format!(
                        "duplicate feed URL {:?} (first listed on line {first})",
                        crate::redact::url(&url)
                    ),
                ));
            }
            for (field, value) in [
                ("interval", feed.interval),
                ("min_interval", feed.min_interval),
                ("max_interval", feed.max_interval),
            ] {
                if value.is_some_and(|v| v < Duration::from_secs(1)) {
                    return Err(invalid(
                        Some(feed.url.span()),
                        format!("feed[{i}].{field}"),
                        "must be at least 1s".into(),
                    ));
                }
            }
            if let (Some(min), Some(max)) = (feed.min_interval, feed.max_interval) {
                if min > max {
                    return Err(invalid(
                        Some(feed.url.span()),
                        format!("feed[{i}].min_interval"),
                        "must not be longer than max_interval".into(),
                    ));
                }
            }
            let lang = match &feed.lang {
                Some(lang) => Some(language_tag(lang.get_ref()).ok_or_else(|| {
                    invalid(
                        Some(lang.span()),
                        format!("feed[{i}].lang"),
                        format!(
                            "{:?} is not a language tag: use a BCP 47 tag such as \"fa\", \"ckb\" or \"en-US\"",
                            lang.get_ref()
                        ),
                    )
                })?),
                None => None,
            };
            feeds.push(FeedConfig {
                url,
                name: feed.name,
                tags: feed.tags,
                interval: feed.interval,
                min_interval: feed.min_interval,
                max_interval: feed.max_interval,
                lang,
                full_text: feed.full_text,
            });
        }

        let mut terms = TermSets::new();
        let mut set_names: Vec<&String> = raw.terms.keys().collect();
        set_names.sort();
        for name in set_names {
            let entries = &raw.terms[name];
            if name.is_empty() || !name.chars().all(|c| c.is_alphanumeric() || c == '-' || c == '_') {
                return Err(invalid(
                    entries.first().map(|e| e.span()),
                    format!("terms.{name}"),
                    "a term set name may only contain letters, digits, '-' and '_'".into(),
                ));
            }
            for (i, entry) in entries.iter().enumerate() {
                query::parse_term(entry.get_ref())
                    .map_err(|e| invalid(Some(entry.span()), format!("terms.{name}[{i}]"), e.message))?;
            }
            terms.insert(
                name.clone(),
                entries.iter().map(|e| e.get_ref().clone()).collect(),
            );
        }

        let mut topics = Vec::with_capacity(raw.topics.len());
        let mut seen_names: HashMap<String, usize> = HashMap::new();
        for (i, topic) in raw.topics.into_iter().enumerate() {
            let name = topic.name.get_ref().trim().to_string();
            if name.is_empty() {
                return Err(invalid(
                    Some(topic.name.span()),
                    format!("topic[{i}].name"),
                    "must not be empty".into(),
                ));
            }
            // Offsets, not lines: counting lines for every topic is
            // quadratic (3.2 s for a config of 10,000 topics).
            if let Some(first) = seen_names.insert(name.clone(), topic.name.span().start) {
                let first = line_of(source, first);
                return Err(invalid(
                    Some(topic.name.span()),
                    format!("topic[{i}].name"),
                    format!("duplicate topic name {name:?} (first defined on line {first})"),
                ));
            }
            let query = topic.query.get_ref().clone();
            // Parsed only: `topic_set` compiles them all at once.
            if let Err(source) = query::parse_with(&query, &terms) {
                return Err(invalid(
                    Some(topic.query.span()),
                    format!("topic[{i}].query"),
                    TopicError { name, source }.to_string(),
                ));
            }
            topics.push(TopicConfig { name, query });
        }

        let channels = alerts::channels(raw.channels, &base)
            .map_err(|(span, key, message)| invalid(span, key, message))?;
        let topic_names: std::collections::HashSet<&str> = topics.iter().map(|t| t.name.as_str()).collect();
        let alerts = alerts::alerts(raw.alerts, &topic_names, &channels)
            .map_err(|(span, key, message)| invalid(span, key, message))?;

        let (log_span, log) = match raw.log {
            Some(log) => (Some(log.span()), log.into_inner()),
            None => (None, LogConfig::default()),
        };
        if let Some(format) = &log.format {
            if !matches!(format.as_str(), "auto" | "text" | "json" | "journald") {
                return Err(invalid(
                    log_span,
                    "log.format".into(),
                    format!("{format:?} is not auto, text, json or journald"),
                ));
            }
        }
        if let Some(level) = &log.level {
            if let Err(e) = tracing_subscriber::EnvFilter::try_new(level) {
                return Err(invalid(
                    log_span,
                    "log.level".into(),
                    format!("{level:?} is not a log filter ({e})"),
                ));
            }
        }

        if raw.health.silent_factor.is_nan() || raw.health.silent_factor <= 0.0 {
            return Err(invalid(
                None,
                "health.silent_factor".into(),
                "must be a positive number".into(),
            ));
        }
        let mut http = raw.http;
        if let Some(addr) = http.listen {
            if !addr.ip().is_loopback() && !http.allow_remote {
                return Err(invalid(
                    None,
                    "http.listen".into(),
                    format!("{addr} is not a loopback address; set http.allow_remote = true to listen on it"),
                ));
            }
        }
        if http.max_searches == 0 || http.max_connections == 0 {
            let key = if http.max_searches == 0 {
                "http.max_searches"
            } else {
                "http.max_connections"
            };
            return Err(invalid(None, key.into(), "must be at least 1".into()));
        }
        if let Some(file) = &http.token_file {
            let file = base.join(file);
            let token = std::fs::read_to_string(&file).map_err(|e| {
                invalid(
                    None,
                    "http.token_file".into(),
                    format!("cannot read {}: {e}", file.display()),
                )
            })?;
            let token = token.trim().to_string();
            if token.is_empty() {
                return Err(invalid(
                    None,
                    "http.token_file".into(),
                    format!("{} is empty", file.display()),
                ));
            }
            http.token = Some(Secret::new(token));
        }

        Ok(Config {
            path: path.to_path_buf(),
            store,
            fetch: raw.fetch,
            poll: raw.poll,
            retention: raw.retention,
            stories: raw.stories,
            search: raw.search,
            feeds,
            topics,
            terms,
            channels,
            alerts,
            log,
            http,
            health: raw.health,
        })
    }

    /// The compiled topic set. Queries were validated by [`Config::parse`].
    pub fn topic_set(&self) -> TopicSet {
        TopicSet::compile(
            self.topics.iter().map(|t| (t.name.as_str(), t.query.as_str())),
            &self.terms,
        )
        .expect("queries are validated when the config is loaded")
    }
}

fn line_of(source: &str, offset: usize) -> usize {
    source.as_bytes()[..offset.min(source.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// Checks a feed URL and makes `file://relative/path` absolute against the
/// config directory.
fn resolve_feed_url(base: &Path, raw: &str) -> Result<String, String> {
    let raw = raw.trim();
    if let Some(rest) = raw.strip_prefix("file://") {
        if !rest.starts_with('/') {
            let path = base.join(rest);
            return Url::from_file_path(&path)
                .map(|u| u.to_string())
                .map_err(|()| format!("cannot turn {} into a file URL", path.display()));
        }
    }
    let shown = crate::redact::url(raw);
    let url = Url::parse(raw).map_err(|e| format!("{shown:?} is not a valid URL ({e})"))?;
    match url.scheme() {
        "http" | "https" | "file" => Ok(url.to_string()),
        other => Err(format!("{shown:?} has scheme {other:?}; use http, https or file")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(source: &str) -> Result<Config, ConfigError> {
        Config::parse(Path::new("/etc/fw/feedwatch.toml"), source)
    }

    fn error(source: &str) -> String {
        parse(source).expect_err("config should be rejected").to_string()
    }

    #[test]
    fn store_url_names_a_sqlite_file_or_a_postgres_database_or_says_why_not() {
        let at = |source: &str| parse(source).unwrap().store.location();
        assert_eq!(
            at("[store]\nurl = \"sqlite:///var/lib/fw/fw.db\"\n"),
            Location::Sqlite("/var/lib/fw/fw.db".into())
        );
        assert_eq!(
            at("[store]\nurl = \"sqlite:data/fw.db\"\n"),
            Location::Sqlite("/etc/fw/data/fw.db".into())
        );
        assert_eq!(at(""), Location::Sqlite("/var/lib/feedwatch/feedwatch.db".into()));
        let both = error("[store]\npath = \"a.db\"\nurl = \"sqlite:b.db\"\n");
        assert!(
            both.contains("line 3: store.url: set either store.path or store.url"),
            "{both}"
        );
        let Location::Postgres(pg) = at("[store]\nurl = \"postgres://fw@db/fw\"\n") else {
            panic!("a PostgreSQL URL names a PostgreSQL store");
        };
        assert_eq!(pg.to_string(), "postgres://fw@db/fw");
        let conninfo = error("[store]\nurl = \"host=/run/postgresql dbnme=fw\"\n");
        assert!(
            conninfo.contains("line 2: store.url: \"dbnme\" is not a connection setting"),
            "{conninfo}"
        );
        let password = error("[store]\npath = \"fw.db\"\npassword_file = \"pw\"\n");
        assert!(
            password.contains("store.password_file: applies only to a PostgreSQL store.url"),
            "{password}"
        );
        let other = error("[store]\nurl = \"mysql://db/fw\"\n");
        assert!(
            other.contains("store.url: \"mysql://db/fw\" is not a store URL: it must start with sqlite://"),
            "{other}"
        );
        let options = error("[store]\nurl = \"sqlite:fw.db?mode=ro\"\n");
        assert!(options.contains("store.url: takes a file path only"), "{options}");
    }

    #[test]
    fn parses_and_resolves_relative_paths() {
        let config = parse(
            r#"
[store]
path = "data/fw.db"
[poll]
interval = "5m"
[fetch]
max_body_size = "1 MiB"
[[feed]]
url = "file://samples/a.xml"
[[feed]]
url = "https://news.example/rss"
name = "News"
tags = ["wire", "iran"]
[terms]
baqeri = ["Baqeri", "Bagheri", "باقری"]
[[topic]]
name = "t"
query = "a OR @baqeri"
"#,
        )
        .unwrap();
        assert_eq!(
            config.store.location(),
            Location::from(Path::new("/etc/fw/data/fw.db"))
        );
        assert_eq!(config.poll.interval, Some(Duration::from_secs(300)));
        assert_eq!(config.poll.max_interval, Duration::from_secs(24 * 3600));
        assert_eq!(config.fetch.max_body_size, ByteSize::mib(1));
        assert_eq!(config.feeds[0].url, "file:///etc/fw/samples/a.xml");
        assert_eq!(config.feeds[1].name.as_deref(), Some("News"));
        assert_eq!(config.feeds[1].tags, ["wire", "iran"]);
        assert_eq!(config.terms["baqeri"].len(), 3);
        assert_eq!(
            config.topic_set().topics()[0].expr.to_string(),
            "(a OR baqeri OR bagheri OR باقری)"
        );
    }

    #[test]
    fn debug_and_errors_hide_webhook_urls_and_feed_passwords() {
        let config = parse(
            "[[feed]]\nurl = \"https://user:s3cret@feeds.example/rss\"\n\
             [[channel]]\nname = \"slack\"\nkind = \"webhook\"\nformat = \"slack\"\n\
             url = \"https://hooks.slack.com/services/T000/B000/SECRETXYZ\"\n",
        )
        .unwrap();
        let debug = format!("{config:?}");
        assert!(debug.contains("https://user:***@feeds.example/rss"), "{debug}");
        assert!(debug.contains("https://hooks.slack.com/…"), "{debug}");
        assert!(
            !debug.contains("s3cret") && !debug.contains("SECRETXYZ"),
            "{debug}"
        );
        assert_eq!(config.feeds[0].url, "https://user:s3cret@feeds.example/rss");
        let ChannelKind::Webhook { url, .. } = &config.channels[0].kind else {
            panic!("a webhook channel");
        };
        assert_eq!(
            url.expose(),
            "https://hooks.slack.com/services/T000/B000/SECRETXYZ"
        );

        assert_eq!(
            error("[[channel]]\nname = \"c\"\nkind = \"webhook\"\nurl = \"ftp://hooks.example/SECRETXYZ\"\n"),
            "/etc/fw/feedwatch.toml: line 3: channel[0].url: ftp://hooks.example/… is not an http(s) URL"
        );
        assert_eq!(
            error("[[feed]]\nurl = \"https://u:s3cret@a.example/\"\n[[feed]]\nurl = \"https://u:s3cret@a.example/\"\n"),
            "/etc/fw/feedwatch.toml: line 4: feed[1].url: duplicate feed URL \"https://u:***@a.example/\" (first listed on line 2)"
        );
        assert_eq!(
            error("[[feed]]\nurl = \"gopher://u:s3cret@a.example/\"\n"),
            "/etc/fw/feedwatch.toml: line 2: feed[0].url: \"gopher://u:***@a.example/\" has scheme \"gopher\"; use http, https or file"
        );
    }

    #[test]
    fn feed_lang_is_a_language_tag_kept_as_its_primary_subtag() {
        for (tag, primary) in [
            ("fa", Some("fa")),
            ("fa-IR", Some("fa")),
            ("en_us", Some("en")),
            ("CKB", Some("ckb")),
            ("zh-Hant-TW", Some("zh")),
            ("", None),
            ("f", None),
            ("Persian", None),
            ("fa-", None),
            ("e1", None),
        ] {
            assert_eq!(language_tag(tag).as_deref(), primary, "{tag:?}");
        }
    }

    #[test]
    fn errors_name_key_and_line() {
        assert_eq!(
            error("[[feed]]\nurl = \"https://a.example/\"\n[[feed]]\nurll = \"x\"\n"),
            "/etc/fw/feedwatch.toml: line 4: feed[1].urll: unknown field `urll`, expected one of `url`, `name`, `tags`, `interval`, `min_interval`, `max_interval`, `lang`, `full_text`"
        );
        assert_eq!(
            error("[[feed]]\nurl = \"https://a.example/\"\nfull_text = \"sometimes\"\n"),
            "/etc/fw/feedwatch.toml: line 3: feed[0].full_text: unknown variant `sometimes`, expected one of `never`, `auto`, `always`"
        );
        assert_eq!(
            error("[fetch]\npage_concurrency = 0\n"),
            "/etc/fw/feedwatch.toml: fetch.page_concurrency: must be at least 1"
        );
        assert_eq!(
            error("[[feed]]\nurl = \"https://a.example/\"\nlang = \"Persian\"\n"),
            "/etc/fw/feedwatch.toml: line 3: feed[0].lang: \"Persian\" is not a language tag: use a BCP 47 tag such as \"fa\", \"ckb\" or \"en-US\""
        );
        assert_eq!(
            error("[poll]\nconcurrency = \"many\"\n"),
            "/etc/fw/feedwatch.toml: line 2: poll.concurrency: invalid type: string \"many\", expected usize"
        );
        assert_eq!(
            error("[[topic]]\nname = \"t\"\nquery = \"a\"\n[[topic]]\nname = \"t\"\nquery = \"b\"\n"),
            "/etc/fw/feedwatch.toml: line 5: topic[1].name: duplicate topic name \"t\" (first defined on line 2)"
        );
        assert_eq!(
            error("[[topic]]\nname = \"t\"\nquery = \"(a OR b\"\n"),
            "/etc/fw/feedwatch.toml: line 3: topic[0].query: topic \"t\": column 8: expected ')' to close '(' at column 1"
        );
        assert_eq!(
            error("[[feed]]\nurl = \"ftp://x.example/\"\n"),
            "/etc/fw/feedwatch.toml: line 2: feed[0].url: \"ftp://x.example/\" has scheme \"ftp\"; use http, https or file"
        );
        assert_eq!(
            error("[terms]\nx = [\"ok\", \"...\"]\n"),
            "/etc/fw/feedwatch.toml: line 2: terms.x[1]: the term \"...\" contains no letters or digits"
        );
        assert_eq!(
            error("[[topic]]\nname = \"t\"\nquery = \"@nope\"\n"),
            "/etc/fw/feedwatch.toml: line 3: topic[0].query: topic \"t\": column 1: unknown term set @nope (none are defined in [terms])"
        );
        // The query limits hold for topics too, with the topic named.
        let stems: Vec<String> = (0..17).map(|i| format!("\"ab{i}*\"")).collect();
        assert_eq!(
            error(&format!(
                "[terms]\nstems = [{}]\n[[topic]]\nname = \"t\"\nquery = \"x @stems\"\n",
                stems.join(", ")
            )),
            "/etc/fw/feedwatch.toml: line 5: topic[0].query: topic \"t\": column 3: the query has more than 16 wildcards (those of term sets count)"
        );
        assert_eq!(
            error(&format!(
                "[[topic]]\nname = \"t\"\nquery = \"{}a{}\"\n",
                "(".repeat(65),
                ")".repeat(65)
            )),
            "/etc/fw/feedwatch.toml: line 3: topic[0].query: topic \"t\": column 65: the query nests deeper than 64 levels (parentheses, NOT, field scopes and AND, OR and NEAR groups count)"
        );
        let syntax = error("[store\npath = 1\n");
        assert!(syntax.starts_with("/etc/fw/feedwatch.toml: line 1: "), "{syntax}");
        assert!(error("[[topic]]\nname = \"t\"\n").contains("topic[0]: missing field `query`"));
    }
}
