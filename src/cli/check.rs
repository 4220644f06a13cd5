//! `feedwatch check`: validate the config and summarise it.

use std::process::ExitCode;

use feedwatch::config::Config;

pub async fn check(config: &Config) -> anyhow::Result<ExitCode> {
    println!("config ok: {}", config.path.display());
    println!("store:  {}", config.store.path.display());
    println!("feeds:  {}", config.feeds.len());
    for feed in &config.feeds {
        match &feed.name {
            Some(name) => println!("  {name} <{}>", feed.url),
            None => println!("  {}", feed.url),
        }
    }
    println!("topics: {}", config.topics.len());
    for topic in &config.topics {
        println!("  {}: {}", topic.name, topic.query);
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
