//! `feedwatch topics list`, `feedwatch topics test QUERY` and `feedwatch
//! topics spikes`.

use std::collections::{BTreeMap, HashSet};
use std::io::Write;
use std::process::ExitCode;

use anyhow::Context;
use chrono::Utc;
use clap::Subcommand;
use feedwatch::archive::match_rows;
use feedwatch::archive::Highlighter;
use feedwatch::bidi;
use feedwatch::config::Config;
use feedwatch::store::{ItemRow, Store, TopicStats};
use feedwatch::topics::TopicSet;

use super::{output, parse_time, Format};

#[derive(Debug, Subcommand)]
pub enum TopicsCommand {
    /// Configured topics with match counts: total, last 24 hours, last 7 days.
    List {
        /// Also retired topics: stored with their matches but no longer in
        /// the config (renamed or removed).
        #[arg(long)]
        all: bool,
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
    /// Past spike episodes of `trigger = "spike"` alerts, oldest first: the
    /// evidence for tuning their thresholds.
    Spikes {
        /// Only this topic's.
        #[arg(long)]
        topic: Option<String>,
        /// Only episodes begun at or after: RFC 3339, a date, or an age like 7d.
        #[arg(long, default_value = "7d")]
        since: String,
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
}

pub async fn topics(config: &Config, command: TopicsCommand) -> anyhow::Result<ExitCode> {
    match command {
        TopicsCommand::List { all, format } => list(config, all, format).await,
        TopicsCommand::Test {
            query,
            since,
            limit,
            format,
        } => test(config, &query, &since, limit, format).await,
        TopicsCommand::Spikes { topic, since, format } => {
            spikes(config, topic.as_deref(), &since, format).await
        }
    }
}

/// A `topics spikes` record: the episode and its notice as first reported.
#[derive(serde::Serialize)]
struct SpikeRecord {
    id: i64,
    alert: String,
    topic: String,
    started_at: String,
    /// Null while it lasts.
    ended_at: Option<String>,
    /// The highest window count while it lasted.
    peak: i64,
    /// The notice as reported (see docs/digests.md, `spikes`).
    notice: serde_json::Value,
}

async fn spikes(
    config: &Config,
    topic: Option<&str>,
    since: &str,
    format: Format,
) -> anyhow::Result<ExitCode> {
    if let Some(topic) = topic {
        if !config.topics.iter().any(|t| t.name == topic) {
            let known: Vec<&str> = config.topics.iter().map(|t| t.name.as_str()).collect();
            anyhow::bail!("--topic: no topic named {topic:?} (known: {})", known.join(", "));
        }
    }
    let since = parse_time(since, Utc::now()).context("--since")?;
    let store = Store::open_read_only(config.store.location()).await?;
    let episodes = store.spike_episodes(None, topic, since).await;
    store.close().await;
    let records: Vec<SpikeRecord> = episodes?
        .into_iter()
        .map(|e| SpikeRecord {
            id: e.id,
            alert: e.alert,
            topic: e.topic,
            started_at: e.started_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            ended_at: e
                .ended_at
                .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
            peak: e.peak,
            notice: serde_json::from_str(&e.notice).unwrap_or(serde_json::Value::Null),
        })
        .collect();
    let number = |r: &SpikeRecord, key: &str| {
        r.notice
            .get(key)
            .and_then(serde_json::Value::as_f64)
            .unwrap_or(0.0)
    };
    let mut out = std::io::stdout().lock();
    match format {
        Format::Jsonl => {
            for record in &records {
                serde_json::to_writer(&mut out, record)?;
                out.write_all(b"\n")?;
            }
        }
        Format::Csv => {
            let mut csv = csv::Writer::from_writer(&mut out);
            csv.write_record([
                "id",
                "alert",
                "topic",
                "started_at",
                "ended_at",
                "count",
                "peak",
                "baseline_mean",
                "baseline_stdev",
                "threshold",
            ])?;
            for r in &records {
                csv.write_record([
                    r.id.to_string(),
                    r.alert.clone(),
                    r.topic.clone(),
                    r.started_at.clone(),
                    r.ended_at.clone().unwrap_or_default(),
                    number(r, "count").to_string(),
                    r.peak.to_string(),
                    format!("{:.3}", number(r, "baseline_mean")),
                    format!("{:.3}", number(r, "baseline_stdev")),
                    format!("{:.1}", number(r, "threshold")),
                ])?;
            }
            csv.flush()?;
        }
        Format::Table => {
            writeln!(
                out,
                "{:<20}  {:<20}  {:<20}  {:>5}  {:>5}  {:>13}  ALERT",
                "STARTED", "ENDED", "TOPIC", "COUNT", "PEAK", "USUAL"
            )?;
            for r in &records {
                writeln!(
                    out,
                    "{:<20}  {:<20}  {:<20}  {:>5}  {:>5}  {:>13}  {}",
                    r.started_at,
                    r.ended_at.as_deref().unwrap_or("(ongoing)"),
                    bidi::isolate(&r.topic),
                    number(r, "count"),
                    r.peak,
                    format!(
                        "{:.2} ± {:.2}",
                        number(r, "baseline_mean"),
                        number(r, "baseline_stdev")
                    ),
                    bidi::isolate(&r.alert),
                )?;
            }
            if records.is_empty() {
                writeln!(
                    out,
                    "(no spike episodes since {})",
                    since.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                )?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// A `topics list` record: the counts, and for a retired topic when it
/// was retired.
#[derive(serde::Serialize)]
struct ListRecord<'a> {
    #[serde(flatten)]
    stats: &'a TopicStats,
    /// Added with retirement: null for a configured topic; for a retired
    /// one (`--all`), when `feedwatch run` found it gone from the config
    /// (`"pending"` until a run has).
    #[serde(skip_serializing_if = "Option::is_none")]
    retired: Option<String>,
}

async fn list(config: &Config, all: bool, format: Format) -> anyhow::Result<ExitCode> {
    let store = Store::open_read_only(config.store.location()).await?;
    let mut names: Vec<(String, String)> = config
        .topics
        .iter()
        .map(|t| (t.name.clone(), t.query.clone()))
        .collect();
    let active: Vec<&str> = config.topics.iter().map(|t| t.name.as_str()).collect();
    let mut retired = store.retired_topics(&active).await?;
    let hidden = if all {
        0
    } else {
        std::mem::take(&mut retired).len()
    };
    names.extend(retired.iter().map(|t| (t.name.clone(), t.query.clone())));
    let stats = store.topic_stats(&names, Utc::now()).await;
    store.close().await;
    let stats = stats?;
    let retired_at = |name: &str| {
        retired
            .iter()
            .find(|t| t.name == name)
            .map(|t| t.retired_at.clone().unwrap_or_else(|| "pending".into()))
    };
    let records: Vec<ListRecord> = stats
        .iter()
        .map(|s| ListRecord {
            stats: s,
            retired: retired_at(&s.name),
        })
        .collect();
    let mut out = std::io::stdout().lock();
    match format {
        Format::Jsonl => {
            for record in &records {
                serde_json::to_writer(&mut out, record)?;
                out.write_all(b"\n")?;
            }
        }
        Format::Csv => {
            let mut csv = csv::Writer::from_writer(&mut out);
            let mut header = vec!["name", "total", "last_24h", "last_7d", "query"];
            if all {
                header.push("retired");
            }
            csv.write_record(&header)?;
            for r in &records {
                let s = r.stats;
                let mut row = vec![
                    s.name.clone(),
                    s.total.to_string(),
                    s.last_24h.to_string(),
                    s.last_7d.to_string(),
                    s.query.clone(),
                ];
                if all {
                    row.push(r.retired.clone().unwrap_or_default());
                }
                csv.write_record(&row)?;
            }
            csv.flush()?;
        }
        Format::Table => {
            writeln!(
                out,
                "{:<28}  {:>7}  {:>5}  {:>5}  QUERY",
                "TOPIC", "TOTAL", "24H", "7D"
            )?;
            for r in &records {
                let s = r.stats;
                let retired = match &r.retired {
                    Some(at) => format!("  (retired {})", &at[..at.len().min(10)]),
                    None => String::new(),
                };
                writeln!(
                    out,
                    "{}  {:>7}  {:>5}  {:>5}  {}{retired}",
                    bidi::cell(&s.name, 28),
                    s.total,
                    s.last_24h,
                    s.last_7d,
                    bidi::isolate(&s.query)
                )?;
            }
            if hidden > 0 {
                writeln!(
                    out,
                    "({} no longer in the config; --all lists them)",
                    feedwatch::count(hidden as u64, "retired topic", "retired topics")
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
    let store = Store::open_read_only(config.store.location()).await?;
    // Tags of added feeds too, as ingest and search see them.
    let tags = feedwatch::archive::feed_tags(config, &store).await?;
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
    let highlighter = Highlighter::new(config, &store, Some(query), &hits).await;
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
