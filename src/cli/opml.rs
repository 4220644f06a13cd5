//! `feedwatch opml import FILE` and `feedwatch opml export`.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use anyhow::Context;
use clap::Subcommand;
use feedwatch::config::Config;
use feedwatch::opml::{self, OpmlFeed};
use feedwatch::store::{FeedChangeError, Store, StoreError};

use super::feeds::check_added_url;

#[derive(Debug, Subcommand)]
pub enum OpmlCommand {
    /// Add the feeds of an OPML file to the database; folders become tags.
    Import { file: std::path::PathBuf },
    /// Print every feed (config and database) as OPML 2.0.
    Export,
}

pub async fn opml(config: &Config, command: OpmlCommand) -> anyhow::Result<ExitCode> {
    match command {
        OpmlCommand::Import { file } => import(config, &file).await,
        OpmlCommand::Export => export(config).await,
    }
}

async fn import(config: &Config, file: &std::path::Path) -> anyhow::Result<ExitCode> {
    let text = std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    let feeds = opml::parse(&text).with_context(|| format!("{}", file.display()))?;
    let store = Store::open(config.store.location()).await?;
    let (mut added, mut present, mut refused) = (0, 0, 0);
    let progress = std::io::stderr().is_terminal() && feeds.len() >= 100;
    for (i, feed) in feeds.iter().enumerate() {
        let in_config = config.feeds.iter().any(|f| f.url == feed.url);
        match check_added_url(&feed.url) {
            Err(error) => {
                refused += 1;
                eprintln!(
                    "feedwatch: skipped {}: {error}",
                    feedwatch::redact::url(&feed.url)
                );
            }
            Ok(_) if in_config => present += 1,
            Ok(url) => match store.add_feed(&url, feed.name.as_deref(), &feed.tags, None).await {
                Ok(()) => added += 1,
                Err(FeedChangeError::Exists(_)) => present += 1,
                Err(error) => return Err(error.into()),
            },
        }
        if progress && (i % 50 == 49 || i + 1 == feeds.len()) {
            let width = 40;
            let done = (i + 1) * width / feeds.len();
            eprint!(
                "\r[{}{}] {}/{}",
                "#".repeat(done),
                " ".repeat(width - done),
                i + 1,
                feeds.len()
            );
        }
    }
    if progress {
        eprintln!();
    }
    store.close().await;
    writeln!(
        std::io::stdout(),
        "{} added, {present} already present, {refused} skipped",
        feedwatch::count(added as u64, "feed", "feeds")
    )?;
    Ok(ExitCode::SUCCESS)
}

async fn export(config: &Config) -> anyhow::Result<ExitCode> {
    let mut feeds: Vec<OpmlFeed> = Vec::new();
    let stored = match Store::open_read_only(config.store.location()).await {
        Ok(store) => {
            let rows = store.list_feeds().await;
            store.close().await;
            rows?
        }
        // Nothing added yet: the config's feeds are all there is.
        Err(StoreError::Missing { .. }) => Vec::new(),
        // Anything else would silently leave the added feeds out.
        Err(error) => return Err(error.into()),
    };
    for f in &config.feeds {
        let row = stored.iter().find(|r| r.url == f.url);
        feeds.push(OpmlFeed {
            url: f.url.clone(),
            name: f.name.clone().or_else(|| row.and_then(|r| r.title.clone())),
            site_url: row.and_then(|r| r.site_url.clone()),
            tags: f.tags.clone(),
        });
    }
    for row in stored.iter().filter(|r| r.source == "added") {
        feeds.push(OpmlFeed {
            url: row.url.clone(),
            name: row.name.clone().or_else(|| row.title.clone()),
            site_url: row.site_url.clone(),
            tags: row.tag_list(),
        });
    }
    let mut out = std::io::stdout().lock();
    out.write_all(opml::render("feedwatch feeds", &feeds).as_bytes())?;
    Ok(ExitCode::SUCCESS)
}
