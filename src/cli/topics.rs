//! `feedwatch topics list` and `feedwatch topics test QUERY`.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::Write;
use std::process::ExitCode;

use anyhow::Context;
use chrono::Utc;
use clap::Subcommand;
use feedwatch::archive::Highlighter;
use feedwatch::bidi;
use feedwatch::config::Config;
use feedwatch::pipeline::match_rows;
use feedwatch::store::{ItemRow, Store};
use feedwatch::topics::TopicSet;

use super::{output, parse_time, Format};

#[derive(Debug, Subcommand)]
pub enum TopicsCommand {
    /// Configured topics with match counts: total, last 24 hours, last 7 days.
    List {
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Run an ad-hoc query against stored items and print the hits and hits
    /// per day, to tune a query before it alerts.
    Test {
        /// A query in the topic language (see docs/queries.md).
        query: String,
        /// Only items published at or after: RFC 3339, a date, or an age like 7d.
        #[arg(long, default_value = "7d")]
        since: String,
        /// Print at most this many hits (all are counted).
        #[arg(long, default_value_t = 50)]
        limit: usize,
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
}

pub async fn topics(config: &Config, command: TopicsCommand) -> anyhow::Result<ExitCode> {
    match command {
        TopicsCommand::List { format } => list(config, format).await,
        TopicsCommand::Test {
            query,
            since,
            limit,
            format,
        } => test(config, &query, &since, limit, format).await,
    }
}

async fn list(config: &Config, format: Format) -> anyhow::Result<ExitCode> {
    let store = Store::open_read_only(&config.store.path).await?;
    let names: Vec<(String, String)> = config
        .topics
        .iter()
        .map(|t| (t.name.clone(), t.query.clone()))
        .collect();
    let stats = store.topic_stats(&names, Utc::now()).await?;
    store.close().await;
    let mut out = std::io::stdout().lock();
    match format {
        Format::Jsonl => {
            for s in &stats {
                serde_json::to_writer(&mut out, s)?;
                out.write_all(b"\n")?;
            }
        }
        Format::Csv => {
            let mut csv = csv::Writer::from_writer(&mut out);
            csv.write_record(["name", "total", "last_24h", "last_7d", "query"])?;
            for s in &stats {
                csv.write_record([
                    s.name.as_str(),
                    &s.total.to_string(),
                    &s.last_24h.to_string(),
                    &s.last_7d.to_string(),
                    &s.query,
                ])?;
            }
            csv.flush()?;
        }
        Format::Table => {
            writeln!(
                out,
                "{:<28}  {:>7}  {:>5}  {:>5}  QUERY",
                "TOPIC", "TOTAL", "24H", "7D"
            )?;
            for s in &stats {
                writeln!(
                    out,
                    "{}  {:>7}  {:>5}  {:>5}  {}",
                    bidi::cell(&s.name, 28),
                    s.total,
                    s.last_24h,
                    s.last_7d,
                    bidi::isolate(&s.query)
                )?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn test(
    config: &Config,
    query: &str,
    since: &str,
    limit: usize,
    format: Format,
) -> anyhow::Result<ExitCode> {
    let topics = TopicSet::compile([("query", query)], &config.terms)
        .map_err(|e| anyhow::anyhow!("query: {}", e.source))?;
    let since = parse_time(since, Utc::now()).context("--since")?;
    let store = Store::open_read_only(&config.store.path).await?;
    let tags: HashMap<String, Vec<String>> = config
        .feeds
        .iter()
        .map(|f| (f.url.clone(), f.tags.clone()))
        .collect();
    let mut hits: Vec<ItemRow> = Vec::new();
    let mut scanned = 0usize;
    let mut after_id = 0;
    loop {
        let rows = store.scan_items(Some(since), after_id, 2000).await?;
        let Some(last) = rows.last() else { break };
        after_id = last.id;
        scanned += rows.len();
        let matched: HashSet<i64> = match_rows(&topics, &rows, &tags)
            .into_iter()
            .map(|(id, _)| id)
            .collect();
        hits.extend(rows.into_iter().filter(|r| matched.contains(&r.id)));
    }
    hits.sort_by(|a, b| sort_key(b).cmp(sort_key(a)).then(b.id.cmp(&a.id)));
    let mut per_day: BTreeMap<String, usize> = BTreeMap::new();
    for hit in &hits {
        *per_day
            .entry(sort_key(hit).chars().take(10).collect())
            .or_default() += 1;
    }
    let total = hits.len();
    hits.truncate(limit);
    store.attach_topics(&mut hits).await?;
    let highlighter = Highlighter::new(config, &store, Some(query)).await;
    store.close().await;
    let highlighter = highlighter.map_err(|e| anyhow::anyhow!("{e}"))?;

    let mut out = std::io::stdout().lock();
    if format == Format::Table {
        writeln!(
            out,
            "{total} hits among {scanned} items since {}",
            since.format("%Y-%m-%d %H:%M UTC")
        )?;
        let peak = per_day.values().copied().max().unwrap_or(0).max(1);
        for (day, n) in &per_day {
            let bar = "█".repeat((n * 40).div_ceil(peak));
            writeln!(out, "  {day}  {n:>6}  {bar}")?;
        }
        if total > 0 {
            writeln!(out)?;
        }
    }
    output::write_items(&mut out, &hits, format, &highlighter)?;
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

fn sort_key(row: &ItemRow) -> &str {
    row.published.as_deref().unwrap_or(&row.fetched_at)
}
