//! `feedwatch parse`: fetch feeds (or read files) and print what feedwatch
//! reads from them, exactly as `run` would store it, storing nothing.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Context;
use chrono::Utc;
use clap::{Args, ValueEnum};
use feedwatch::config::Config;
use feedwatch::fetch::{FetchOutcome, FetchSettings, Fetcher, Validators};
use feedwatch::model::ParsedFeed;
use feedwatch::parse::{dates, parse_feed_as};
use feedwatch::redact;

use super::truncate;

#[derive(Debug, Args)]
pub struct ParseArgs {
    /// Feed URLs (http, https, file) or paths of local files.
    #[arg(required = true)]
    pub sources: Vec<String>,
    #[arg(long, value_enum, default_value_t = ParseFormat::Table)]
    pub format: ParseFormat,
}

/// Output formats of `parse`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ParseFormat {
    /// The feed and its items for people.
    Table,
    /// One JSON object per source: the feed, its warning or error, its items.
    Jsonl,
}

/// The `--format jsonl` record: one per source. Add fields, never rename them.
#[derive(serde::Serialize)]
struct JsonFeed<'a> {
    source: &'a str,
    final_url: Option<&'a str>,
    error: Option<String>,
    title: Option<&'a str>,
    site_url: Option<&'a str>,
    language: Option<&'a str>,
    warning: Option<&'a str>,
    items: Vec<JsonItem<'a>>,
}

#[derive(serde::Serialize)]
struct JsonItem<'a> {
    guid: Option<&'a str>,
    url: Option<&'a str>,
    title: &'a str,
    text: &'a str,
    published: Option<String>,
    updated: Option<String>,
    language: Option<&'a str>,
    author: Option<&'a str>,
}

/// A path without a scheme becomes a `file://` URL.
fn source_url(source: &str) -> anyhow::Result<String> {
    if url::Url::parse(source).is_ok_and(|u| u.scheme().len() > 1) {
        return Ok(source.to_string());
    }
    let path = std::path::absolute(source).with_context(|| format!("{source:?} is not a usable path"))?;
    url::Url::from_file_path(&path)
        .map(String::from)
        .map_err(|()| anyhow::anyhow!("{source:?} is not a usable path"))
}

/// What one source gave: the URL it was read from and the feed, or why not.
async fn read(fetcher: &Fetcher, source: &str) -> (Option<String>, Result<ParsedFeed, String>) {
    let url = match source_url(source) {
        Ok(url) => url,
        Err(error) => return (None, Err(format!("{error:#}"))),
    };
    match fetcher.fetch(&url, &Validators::default()).await {
        Ok(FetchOutcome::Fetched(fetched)) => {
            let parsed = parse_feed_as(&fetched.body, fetched.content_type.as_deref(), fetched.base_url())
                .map(|mut parsed| {
                    if let Some(warning) = dates::distrust_future(&mut parsed.items, Utc::now()) {
                        parsed.add_warning(warning);
                    }
                    parsed
                })
                .map_err(|e| feedwatch::error_chain(&e));
            (Some(fetched.final_url), parsed)
        }
        Ok(FetchOutcome::NotModified(_)) => (Some(url), Err("not modified (304)".into())),
        Err(error) => (Some(url), Err(feedwatch::error_chain(&error))),
    }
}

pub async fn parse(config: &Config, args: ParseArgs) -> anyhow::Result<ExitCode> {
    let fetcher =
        Fetcher::new(FetchSettings::from_config(&config.fetch)).context("cannot set up the HTTP client")?;
    let mut out = std::io::stdout().lock();
    let mut failed = false;
    for source in &args.sources {
        let (final_url, result) = read(&fetcher, source).await;
        failed |= result.is_err();
        match args.format {
            ParseFormat::Jsonl => {
                let feed = result.as_ref().ok();
                let record = JsonFeed {
                    source,
                    final_url: final_url.as_deref(),
                    error: result.as_ref().err().cloned(),
                    title: feed.and_then(|f| f.title.as_deref()),
                    site_url: feed.and_then(|f| f.site_url.as_deref()),
                    language: feed.and_then(|f| f.language.as_deref()),
                    warning: feed.and_then(|f| f.warning.as_deref()),
                    items: feed
                        .map(|f| {
                            f.items
                                .iter()
                                .map(|i| JsonItem {
                                    guid: i.guid.as_deref(),
                                    url: i.url.as_deref(),
                                    title: &i.title,
                                    text: &i.text,
                                    published: i.published.map(|d| d.to_rfc3339()),
                                    updated: i.updated.map(|d| d.to_rfc3339()),
                                    language: i.language.as_deref(),
                                    author: i.author.as_deref(),
                                })
                                .collect()
                        })
                        .unwrap_or_default(),
                };
                serde_json::to_writer(&mut out, &record)?;
                writeln!(out)?;
            }
            ParseFormat::Table => {
                let shown = redact::url(source);
                match &result {
                    Err(error) => writeln!(out, "{shown}: error: {error}")?,
                    Ok(feed) => {
                        writeln!(
                            out,
                            "{shown}: {:?}, {} items{}",
                            feed.title.as_deref().unwrap_or(""),
                            feed.items.len(),
                            feed.site_url
                                .as_deref()
                                .map(|s| format!(", site {s}"))
                                .unwrap_or_default()
                        )?;
                        if let Some(warning) = &feed.warning {
                            writeln!(out, "  warning: {warning}")?;
                        }
                        for item in &feed.items {
                            let date = item
                                .published
                                .map(|d| d.format("%Y-%m-%d %H:%M").to_string())
                                .unwrap_or_else(|| "undated".into());
                            writeln!(out, "  {date:16}  {}", truncate(&item.title, 70))?;
                            if let Some(url) = &item.url {
                                writeln!(out, "  {:16}  {url}", "")?;
                            }
                        }
                    }
                }
            }
        }
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
