//! `feedwatch search`: stored items, newest first, as a table, JSON Lines
//! or CSV.

use std::io::Write;
use std::process::ExitCode;

use anyhow::{bail, Context};
use chrono::Utc;
use clap::Args;
use feedwatch::config::Config;
use feedwatch::store::{SearchFilter, Store};

use super::{output, parse_time, Format};

#[derive(Debug, Args)]
pub struct SearchArgs {
    /// Case-insensitive text to look for in titles and text.
    pub text: Option<String>,
    /// Only items matched by this topic.
    #[arg(long)]
    pub topic: Option<String>,
    /// Only items listed by this feed (URL or configured name).
    #[arg(long)]
    pub feed: Option<String>,
    /// Only items of this story (see `feedwatch stories`).
    #[arg(long, value_name = "ID")]
    pub story: Option<i64>,
    /// Only items published at or after: RFC 3339, a date, or an age like 24h or 7d.
    #[arg(long)]
    pub since: Option<String>,
    /// Only items published before: RFC 3339, a date, or an age like 24h or 7d.
    #[arg(long)]
    pub until: Option<String>,
    /// At most this many items.
    #[arg(long, default_value_t = 50)]
    pub limit: u32,
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

pub async fn search(config: &Config, args: SearchArgs) -> anyhow::Result<ExitCode> {
    let now = Utc::now();
    let since = args
        .since
        .as_deref()
        .map(|s| parse_time(s, now))
        .transpose()
        .context("--since")?;
    let until = args
        .until
        .as_deref()
        .map(|s| parse_time(s, now))
        .transpose()
        .context("--until")?;
    let store = Store::open_existing(&config.store.path).await?;
    if let Some(topic) = &args.topic {
        let names = store.topic_names().await?;
        if !names.contains(topic) {
            bail!("--topic: no topic named {topic:?} (known: {})", names.join(", "));
        }
    }
    let rows = store
        .search(&SearchFilter {
            text: args.text.filter(|t| !t.trim().is_empty()),
            topic: args.topic,
            feed: args.feed,
            story: args.story,
            since,
            until,
            limit: args.limit,
        })
        .await?;
    store.close().await;
    let mut out = std::io::stdout().lock();
    output::write_items(&mut out, &rows, args.format)?;
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}
