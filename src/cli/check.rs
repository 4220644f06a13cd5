//! `feedwatch check`: validate the config and summarise it.

use std::io::Write;
use std::process::ExitCode;

use feedwatch::config::{ChannelKind, Config};
use feedwatch::redact;

pub async fn check(config: &Config) -> anyhow::Result<ExitCode> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "config ok: {}", config.path.display())?;
    writeln!(out, "store:  {}", config.store.path.display())?;
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
