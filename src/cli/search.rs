//! `feedwatch search`: stored items, newest first, as a table, JSON Lines
//! or CSV.

use std::collections::HashSet;
use std::io::Write;
use std::process::ExitCode;

use anyhow::bail;
use chrono::Utc;
use clap::Args;
use feedwatch::archive::{self, Highlighter, Search};
use feedwatch::config::Config;
use feedwatch::store::{SearchFilter, SearchSort, Store};

use super::{output, time_range, Format};

#[derive(Debug, Args)]
pub struct SearchArgs {
    /// A query in the topic language (docs/queries.md): words match whole
    /// words after folding; phrases, wildcards, NEAR, title:/text:, @sets,
    /// lang:, feed:. Finds exactly what a topic with this query matches.
    #[arg(value_name = "QUERY")]
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
    /// Only items in this language (`fa` takes `fa-IR`).
    #[arg(long)]
    pub lang: Option<String>,
    /// At most this many items (one page).
    #[arg(long, default_value_t = 50)]
    pub limit: u32,
    /// The next page: items after the item with this id (the last id of the
    /// previous page), in the same order.
    #[arg(long, value_name = "ID")]
    pub after: Option<i64>,
    /// Result order: newest first, or by relevance to QUERY.
    #[arg(long, value_enum, default_value_t = Sort::Newest)]
    pub sort: Sort,
    /// Print only the number of matching items (all pages).
    #[arg(long)]
    pub count: bool,
    /// One row per story among the matching items instead of one per item
    /// (headline of its first item, outlets, item count, first and last
    /// seen), in the order of each story's first matching item; `--limit`
    /// counts stories, `--count` prints the number of stories.
    #[arg(long, conflicts_with = "after")]
    pub stories: bool,
    /// Stop a search still running after this long (e.g. 30s, 5m; 0s: no
    /// limit). Default: [search] timeout, 10 s.
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub timeout: Option<std::time::Duration>,
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Sort {
    Newest,
    Relevance,
}

pub async fn search(config: &Config, args: SearchArgs) -> anyhow::Result<ExitCode> {
    let now = Utc::now();
    let (since, until) = time_range(args.since.as_deref(), args.until.as_deref(), now)?;
    let opened = Store::open_read_only(config.store.location()).await?;
    let store = match args.timeout.unwrap_or(config.search.timeout) {
        limit if limit.is_zero() => opened.clone(),
        limit => opened.bounded(limit),
    };
    if let Some(topic) = &args.topic {
        super::check_topic(&store, config, topic).await?;
    }
    if let Some(feed) = &args.feed {
        match archive::check_feed(&store, config, feed).await {
            Err(e @ archive::ArchiveError::UnknownFeed { .. }) => bail!("--feed: {e}"),
            other => other?,
        }
    }
    let request = Search {
        query: args.text.filter(|t| !t.trim().is_empty()),
        filter: SearchFilter {
            topic: args.topic,
            feed: args.feed,
            story: args.story,
            lang: args.lang,
            since,
            until,
            sort: match args.sort {
                Sort::Newest => SearchSort::Newest,
                Sort::Relevance => SearchSort::Relevance,
            },
            ..SearchFilter::default()
        },
        after_id: args.after,
        limit: args.limit,
    };
    if args.stories {
        let result = async {
            let ids = matching_stories(&store, config, request, args.count).await?;
            if args.count {
                return Ok((ids.len(), Vec::new()));
            }
            anyhow::Ok((ids.len(), store.stories_by_id(&ids).await?))
        }
        .await;
        store.close().await;
        let (count, rows) = result?;
        let mut out = std::io::stdout().lock();
        if args.count {
            writeln!(out, "{count}")?;
        } else {
            match args.format {
                Format::Table => super::stories::write_table(&mut out, &rows)?,
                Format::Jsonl => super::stories::write_jsonl(&mut out, &rows)?,
                Format::Csv => super::stories::write_csv(&mut out, &rows)?,
            }
        }
        out.flush()?;
        return Ok(ExitCode::SUCCESS);
    }
    let result = async {
        let found = archive::search(&store, config, &request, args.count).await?;
        let highlighter = match args.format {
            Format::Jsonl => Highlighter::new(config, &store, request.query.as_deref(), &found.0).await?,
            _ => Highlighter::default(),
        };
        anyhow::Ok((found, highlighter))
    }
    .await;
    store.close().await;
    let ((rows, total), highlighter) = result?;
    if args.count {
        writeln!(std::io::stdout(), "{total}")?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut out = std::io::stdout().lock();
    output::write_items(&mut out, &rows, args.format, &highlighter)?;
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// The ids of the stories of the items `request` finds, in the order of
/// each story's first item among them: `request.limit` stories, or all
/// with `all`. Walks the matching items page by page until it has enough.
async fn matching_stories(
    store: &Store,
    config: &Config,
    mut request: Search,
    all: bool,
) -> anyhow::Result<Vec<i64>> {
    const PAGE: u32 = 500;
    let want = request.limit as usize;
    request.limit = PAGE;
    let mut ids = Vec::new();
    let mut seen = HashSet::new();
    loop {
        let (rows, _) = archive::search(store, config, &request, false).await?;
        for story in rows.iter().filter_map(|row| row.story_id) {
            if seen.insert(story) {
                ids.push(story);
            }
        }
        if rows.len() < PAGE as usize || (!all && ids.len() >= want) {
            break;
        }
        request.after_id = rows.last().map(|row| row.id);
    }
    if !all {
        ids.truncate(want);
    }
    Ok(ids)
}
