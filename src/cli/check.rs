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
    println!(
        "poll interval: {}",
        humantime::format_duration(config.poll.interval)
    );
    Ok(ExitCode::SUCCESS)
}
