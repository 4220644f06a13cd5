//! `feedwatch feeds`: list feeds with their fetch and schedule state, show
//! their health, add and remove feeds kept in the database.

use std::io::Write;
use std::process::ExitCode;

use anyhow::{bail, Context};
use clap::Subcommand;
use feedwatch::bidi;
use feedwatch::config::{Config, FullText};
use feedwatch::fetch::{FetchOutcome, FetchSettings, Fetcher, Validators};
use feedwatch::parse::{discover_feeds, parse_feed_as, ParseError};
use feedwatch::redact;
use feedwatch::store::{FeedRow, Store};

use super::Format;

#[derive(Debug, Subcommand)]
pub enum FeedsCommand {
    /// List feeds: status, item count, last fetch and last error.
    List {
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Feed health: failures, next check, interval, warnings.
    Status {
        /// Only feeds that are unhealthy (poll.failure_threshold failures in
        /// a row) or disabled.
        #[arg(long)]
        unhealthy: bool,
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Add a feed to the database (http or https). A web page that links to
    /// feeds is not added; its feeds are listed instead.
    Add {
        url: String,
        #[arg(long)]
        name: Option<String>,
        /// A tag usable in queries as feed:TAG (repeatable).
        #[arg(long = "tag")]
        tags: Vec<String>,
        /// Add it even if it cannot be fetched or read as a feed now.
        #[arg(long)]
        force: bool,
        /// When its items' article pages are fetched for their text:
        /// never, auto (when the feed gives a teaser of under 60 words) or
        /// always. Default: [fetch] full_text.
        #[arg(long = "full-text", value_parser = ["never", "auto", "always"])]
        full_text: Option<String>,
    },
    /// Remove a feed added with `feeds add` or `opml import`, and its items.
    Remove { url: String },
    /// Poll a disabled feed (e.g. after 410 Gone) again.
    Enable { url: String },
}

/// The `--format jsonl` record of `feeds list` and `feeds status`: every
/// stored field plus derived ones. Add fields, never rename them.
#[derive(serde::Serialize)]
struct JsonFeed<'a> {
    #[serde(flatten)]
    row: &'a FeedRow,
    /// Same as `error_count`.
    consecutive_failures: i64,
    unhealthy: bool,
}

pub async fn feeds(config: &Config, command: FeedsCommand) -> anyhow::Result<ExitCode> {
    match command {
        FeedsCommand::List { format } => list(config, format, false, false).await,
        FeedsCommand::Status { unhealthy, format } => list(config, format, unhealthy, true).await,
        FeedsCommand::Add {
            url,
            name,
            tags,
            force,
            full_text,
        } => {
            let full_text = full_text.as_deref().and_then(FullText::parse);
            add(config, &url, name.as_deref(), &tags, full_text, force).await
        }
        FeedsCommand::Enable { url } => {
            let store = Store::open_existing(config.store.location()).await?;
            let result = store.enable_feed(url.trim()).await;
            store.close().await;
            result?;
            writeln!(std::io::stdout(), "enabled {}", redact::url(&url))?;
            Ok(ExitCode::SUCCESS)
        }
        FeedsCommand::Remove { url } => {
            let store = Store::open_existing(config.store.location()).await?;
            let result = store.remove_feed(url.trim()).await;
            store.close().await;
            result?;
            writeln!(std::io::stdout(), "removed {}", redact::url(&url))?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn is_unhealthy(config: &Config, feed: &FeedRow) -> bool {
    feed.error_count >= i64::from(config.poll.failure_threshold)
}

async fn list(
    config: &Config,
    format: Format,
    only_unhealthy: bool,
    status: bool,
) -> anyhow::Result<ExitCode> {
    let store = Store::open_read_only(config.store.location()).await?;
    let mut feeds = store.list_feeds().await?;
    feedwatch::daemon::describe_feeds(config, &store, &mut feeds).await?;
    store.close().await;
    if only_unhealthy {
        feeds.retain(|f| !f.enabled || is_unhealthy(config, f));
    }
    let mut out = std::io::stdout().lock();
    match format {
        Format::Jsonl => {
            for feed in &feeds {
                let json = JsonFeed {
                    row: feed,
                    consecutive_failures: feed.error_count,
                    unhealthy: is_unhealthy(config, feed),
                };
                serde_json::to_writer(&mut out, &json)?;
                out.write_all(b"\n")?;
            }
        }
        Format::Csv => {
            let mut csv = csv::Writer::from_writer(&mut out);
            csv.write_record([
                "url",
                "name",
                "title",
                "last_status",
                "last_fetch_at",
                "item_count",
                "last_error",
                "enabled",
                "consecutive_failures",
                "next_check_at",
                "items_per_week",
            ])?;
            for f in &feeds {
                csv.write_record([
                    &redact::url(&f.url),
                    f.name.as_deref().unwrap_or(""),
                    f.title.as_deref().unwrap_or(""),
                    &f.last_status.map(|s| s.to_string()).unwrap_or_default(),
                    f.last_fetch_at.as_deref().unwrap_or(""),
                    &f.item_count.to_string(),
                    f.last_error.as_deref().unwrap_or(""),
                    &f.enabled.to_string(),
                    &f.error_count.to_string(),
                    f.next_check_at.as_deref().unwrap_or(""),
                    &f.items_per_week.map(|r| format!("{r:.1}")).unwrap_or_default(),
                ])?;
            }
            csv.flush()?;
        }
        Format::Table if status => {
            writeln!(
                out,
                "{:<9}  {:>5}  {:<20}  {:>8}  {:<30}  ERROR / WARNING",
                "HEALTH", "FAILS", "NEXT CHECK", "INTERVAL", "FEED"
            )?;
            for f in &feeds {
                let health = if !f.enabled {
                    "disabled"
                } else if is_unhealthy(config, f) {
                    "unhealthy"
                } else if f.last_error.is_some() {
                    "failing"
                } else if f.last_status.is_none() {
                    "new"
                } else {
                    "ok"
                };
                let interval = f
                    .check_interval
                    .map(|s| humantime::format_duration(std::time::Duration::from_secs(s as u64)).to_string())
                    .unwrap_or_default();
                let note = f
                    .disabled_reason
                    .as_deref()
                    .or(f.last_error.as_deref())
                    .or(f.warning.as_deref())
                    .unwrap_or("");
                writeln!(
                    out,
                    "{health:<9}  {:>5}  {:<20}  {:>8}  {}  {note}",
                    f.error_count,
                    f.next_check_at.as_deref().unwrap_or("now"),
                    interval,
                    bidi::cell(&f.display_name(), 30),
                )?;
            }
        }
        Format::Table => {
            writeln!(
                out,
                "{:<6}  {:>6}  {:<6}  {:>5}  {:<30}  ERROR",
                "STATUS", "ITEMS", "FULL", "PAGES", "FEED"
            )?;
            for f in &feeds {
                let status = match (f.last_status, &f.last_error) {
                    (_, Some(_)) => "error".to_string(),
                    (Some(s), None) => s.to_string(),
                    (None, None) => "new".to_string(),
                };
                // Pages fetched, and given up if any: `12`, `12/3✗`.
                let pages = match (f.pages_fetched, f.pages_failed) {
                    (0, 0) => String::new(),
                    (n, 0) => n.to_string(),
                    (n, failed) => format!("{n}/{failed}✗"),
                };
                writeln!(
                    out,
                    "{status:<6}  {:>6}  {:<6}  {pages:>5}  {}  {}",
                    f.item_count,
                    f.full_text.as_deref().unwrap_or(""),
                    bidi::cell(&f.display_name(), 30),
                    f.last_error.as_deref().unwrap_or("")
                )?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Checks that `url` is an http(s) URL; `file://` feeds belong in the
/// config file.
pub fn check_added_url(url: &str) -> anyhow::Result<String> {
    let shown = redact::url(url);
    let parsed = url::Url::parse(url.trim()).with_context(|| format!("{shown:?} is not a valid URL"))?;
    match parsed.scheme() {
        "http" | "https" => Ok(parsed.to_string()),
        "file" => bail!("file:// feeds are allowed only in the config file"),
        other => bail!("{shown:?} has scheme {other:?}; use http or https"),
    }
}

async fn add(
    config: &Config,
    url: &str,
    name: Option<&str>,
    tags: &[String],
    full_text: Option<FullText>,
    force: bool,
) -> anyhow::Result<ExitCode> {
    let url = check_added_url(url)?;
    // What messages show: the password masked.
    let shown = redact::url(&url).into_owned();
    if config.feeds.iter().any(|f| f.url == url) {
        bail!("feed {shown} is already in the config file");
    }
    // Look before adding: a web page is not a feed, but may link to some.
    let fetcher =
        Fetcher::new(FetchSettings::from_config(&config.fetch)).context("cannot set up the HTTP client")?;
    let mut title = None;
    match fetcher.fetch(&url, &Validators::default()).await {
        Ok(FetchOutcome::Fetched(fetched)) => {
            match parse_feed_as(&fetched.body, fetched.content_type.as_deref(), fetched.base_url()) {
                Ok(feed) => title = feed.title.map(|t| format!("{t:?}, {} items", feed.items.len())),
                Err(ParseError::Html) => {
                    let found = discover_feeds(&fetched.body, fetched.base_url());
                    if found.is_empty() {
                        bail!("{shown} is an HTML page, not a feed, and it links to no feed");
                    }
                    bail!(
                        "{shown} is an HTML page, not a feed; it links to these feeds (add one of them):\n  {}",
                        found.join("\n  ")
                    );
                }
                Err(error) if force => eprintln!(
                    "feedwatch: warning: {shown} does not read as a feed yet ({}); adding it anyway",
                    feedwatch::error_chain(&error)
                ),
                Err(error) => bail!(
                    "{shown} does not read as a feed ({}); not added (--force adds it anyway)",
                    feedwatch::error_chain(&error)
                ),
            }
        }
        Ok(FetchOutcome::NotModified(_)) => {}
        Err(error) if force => eprintln!(
            "feedwatch: warning: cannot fetch {shown} now ({}); adding it anyway",
            feedwatch::error_chain(&error)
        ),
        Err(error) => bail!(
            "cannot fetch {shown} ({}); not added (--force adds it anyway)",
            feedwatch::error_chain(&error)
        ),
    }
    let store = Store::open(config.store.location()).await?;
    let result = store.add_feed(&url, name, tags, full_text).await;
    store.close().await;
    result?;
    match title {
        Some(title) => writeln!(std::io::stdout(), "added {shown} ({title})")?,
        None => writeln!(std::io::stdout(), "added {shown}")?,
    }
    Ok(ExitCode::SUCCESS)
}
