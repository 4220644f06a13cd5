//! `feedwatch check`: validate the config and summarise it.

use std::io::Write;
use std::process::ExitCode;

use anyhow::bail;
use feedwatch::config::{ChannelKind, Config};
use feedwatch::redact;
use feedwatch::store::Store;

pub async fn check(config: &Config) -> anyhow::Result<ExitCode> {
    if config.feeds.is_empty() && config.topics.is_empty() && !has_added_feeds(config).await {
        // Feeds may live in the database (`feeds add`, `opml import`), and
        // topics alone are fine then; with neither, a daemon would poll
        // nothing and match nothing.
        bail!(
            "{}: nothing to do: no [[feed]] and no [[topic]] (and no feeds added to {} with `feeds add` or `opml import`)",
            config.path.display(),
            config.store.location()
        );
    }
    check_feed_filters(config).await?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "config ok: {}", config.path.display())?;
    writeln!(out, "store:  {}", config.store.location())?;
    writeln!(out, "feeds:  {}", config.feeds.len())?;
    for feed in &config.feeds {
        let url = redact::url(&feed.url);
        match &feed.name {
            Some(name) => writeln!(out, "  {name} <{url}>")?,
            None => writeln!(out, "  {url}")?,
        }
    }
    writeln!(out, "topics: {}", config.topics.len())?;
    for topic in &config.topics {
        writeln!(out, "  {}: {}", topic.name, topic.query)?;
    }
    if !config.channels.is_empty() {
        writeln!(out, "channels: {}", config.channels.len())?;
        for channel in &config.channels {
            let target = match &channel.kind {
                ChannelKind::Smtp { host, port, to, .. } => {
                    format!("smtp {host}:{port} to {}", to.join(", "))
                }
                ChannelKind::Webhook { url, .. } => format!("webhook {url}"),
                ChannelKind::JsonLines { path } => format!("file {}", path.display()),
                ChannelKind::EmlDir { dir } => format!("file {}/", dir.display()),
            };
            writeln!(out, "  {}: {target}", channel.name)?;
        }
    }
    match config.poll.interval {
        Some(interval) => writeln!(out, "poll interval: {}", humantime::format_duration(interval))?,
        None => writeln!(
            out,
            "poll interval: adaptive, {} to {}",
            humantime::format_duration(config.poll.min_interval),
            humantime::format_duration(config.poll.max_interval)
        )?,
    }
    Ok(ExitCode::SUCCESS)
}

/// Whether the database exists and holds feeds added with `feeds add` or
/// `opml import` (the daemon polls those too); never creates it.
async fn has_added_feeds(config: &Config) -> bool {
    let Ok(store) = Store::open_read_only(config.store.location()).await else {
        return false;
    };
    let feeds = store.list_feeds().await;
    store.close().await;
    feeds.is_ok_and(|feeds| feeds.iter().any(|f| f.source == "added"))
}

/// Topics' `feed:` filters must name a configured feed, or one stored in the
/// database (when it exists), by name or tag.
async fn check_feed_filters(config: &Config) -> anyhow::Result<()> {
    let store = Store::open_read_only(config.store.location()).await.ok();
    let result = feedwatch::archive::check_topic_feeds(config, &config.topic_set(), store.as_ref()).await;
    if let Some(store) = store {
        store.close().await;
    }
    result.map_err(|e| anyhow::anyhow!("{}: {e}", config.path.display()))
}
