//! `feedwatch check`: validate the config and summarise it.

use std::process::ExitCode;

use feedwatch::config::{ChannelKind, Config};
use feedwatch::redact;

pub async fn check(config: &Config) -> anyhow::Result<ExitCode> {
    println!("config ok: {}", config.path.display());
    println!("store:  {}", config.store.path.display());
    println!("feeds:  {}", config.feeds.len());
    for feed in &config.feeds {
        let url = redact::url(&feed.url);
        match &feed.name {
            Some(name) => println!("  {name} <{url}>"),
            None => println!("  {url}"),
        }
    }
    println!("topics: {}", config.topics.len());
    for topic in &config.topics {
        println!("  {}: {}", topic.name, topic.query);
    }
    if !config.channels.is_empty() {
        println!("channels: {}", config.channels.len());
        for channel in &config.channels {
            let target = match &channel.kind {
                ChannelKind::Smtp { host, port, to, .. } => {
                    format!("smtp {host}:{port} to {}", to.join(", "))
                }
                ChannelKind::Webhook { url, .. } => format!("webhook {url}"),
                ChannelKind::JsonLines { path } => format!("file {}", path.display()),
                ChannelKind::EmlDir { dir } => format!("file {}/", dir.display()),
            };
            println!("  {}: {target}", channel.name);
        }
    }
    match config.poll.interval {
        Some(interval) => println!("poll interval: {}", humantime::format_duration(interval)),
        None => println!(
            "poll interval: adaptive, {} to {}",
            humantime::format_duration(config.poll.min_interval),
            humantime::format_duration(config.poll.max_interval)
        ),
    }
    Ok(ExitCode::SUCCESS)
}
