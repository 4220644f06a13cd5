//! `feedwatch stats`: items per hour, day or week, per topic, optionally
//! split by feed or language, with a sparkline (or bars) in the terminal.

use std::io::Write;
use std::process::ExitCode;

use chrono::Utc;
use clap::{Args, ValueEnum};
use feedwatch::archive::stats::{
    bucket_labels, series, sparkline, thousands, trim_future, Series, TooManyBuckets, MAX_BUCKETS,
};
use feedwatch::config::Config;
use feedwatch::parse::dates::MAX_FUTURE_SKEW;
use feedwatch::store::{Bucket, Split, Store, VolumeQuery};

use super::{time_range, truncate, window};

/// Days `stats` covers by default.
const DEFAULT_DAYS: i64 = 30;

#[derive(Debug, Args)]
pub struct StatsArgs {
    /// Count items matched by this topic (repeat for several series); all
    /// items when absent.
    #[arg(long)]
    pub topic: Vec<String>,
    /// Items published at or after: RFC 3339, a date, or an age like 30d.
    /// Default: the 30 days before now, or before the newest item when the
    /// archive has nothing that recent.
    #[arg(long)]
    pub since: Option<String>,
    /// Items published before (default: now, and items dated up to a day
    /// ahead, which feedwatch believes, count too).
    #[arg(long)]
    pub until: Option<String>,
    /// Bucket width.
    #[arg(long, value_enum, default_value_t = By::Day)]
    pub by: By,
    /// Split each series by the item's (first) feed or primary language
    /// (`en-US` counts as `en`).
    #[arg(long, value_enum)]
    pub split: Option<SplitBy>,
    #[arg(long, value_enum, default_value_t = StatsFormat::Table)]
    pub format: StatsFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum By {
    Hour,
    Day,
    Week,
    Month,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SplitBy {
    Feed,
    Lang,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StatsFormat {
    /// Totals with a sparkline per series (bars for a single series).
    Table,
    /// `bucket,topic,split,items` with a header row, zero buckets included.
    Csv,
    /// One object per bucket and series: `bucket`, `topic`, `split`, `items`.
    Jsonl,
}

#[derive(serde::Serialize)]
struct Record<'a> {
    bucket: &'a str,
    /// null: all items.
    topic: Option<&'a str>,
    /// The feed or language; null without `--split`.
    split: Option<&'a str>,
    items: i64,
}

pub async fn stats(config: &Config, args: StatsArgs) -> anyhow::Result<ExitCode> {
    let now = Utc::now();
    let (since, until) = time_range(args.since.as_deref(), args.until.as_deref(), now)?;
    let bucket = match args.by {
        By::Hour => Bucket::Hour,
        By::Day => Bucket::Day,
        By::Week => Bucket::Week,
        By::Month => Bucket::Month,
    };
    let split = match args.split {
        None => Split::None,
        Some(SplitBy::Feed) => Split::Feed,
        Some(SplitBy::Lang) => Split::Lang,
    };
    // The window the counts and the buckets both cover: every item counted
    // falls in a bucket shown, so the totals are the window's.
    let store = Store::open_read_only(config.store.location()).await?;
    let (since, until) = window(&store, (since, until), DEFAULT_DAYS, now).await?;
    let end = until.unwrap_or(now + MAX_FUTURE_SKEW);
    let mut labels = match bucket_labels(since, end, bucket) {
        Ok(labels) => labels,
        Err(e) => {
            store.close().await;
            return Err(too_fine(&args, e));
        }
    };
    let topics: Vec<Option<String>> = if args.topic.is_empty() {
        vec![None]
    } else {
        args.topic.iter().cloned().map(Some).collect()
    };
    let mut all = Vec::new();
    for topic in &topics {
        if let Some(name) = topic {
            if let Err(e) = super::check_topic(&store, config, name).await {
                store.close().await;
                return Err(e);
            }
        }
        let rows = store
            .volume(&VolumeQuery {
                topics: topic.iter().cloned().collect(),
                since,
                until: Some(end),
                bucket,
                split,
            })
            .await?;
        all.push((topic.clone(), series(&rows, &labels)));
    }
    store.close().await;
    if until.is_none() {
        let mut series: Vec<&mut Series> = all.iter_mut().flat_map(|(_, list)| list.iter_mut()).collect();
        trim_future(&mut labels, &mut series, now, bucket);
    }

    let mut out = std::io::stdout().lock();
    let split_key = |key: &str| (split != Split::None).then(|| key.to_string());
    match args.format {
        StatsFormat::Csv => {
            let mut csv = csv::Writer::from_writer(&mut out);
            csv.write_record(["bucket", "topic", "split", "items"])?;
            for (topic, list) in &all {
                for s in list {
                    for (label, n) in labels.iter().zip(&s.counts) {
                        csv.write_record([
                            label.as_str(),
                            topic.as_deref().unwrap_or(""),
                            split_key(&s.key).as_deref().unwrap_or(""),
                            &n.to_string(),
                        ])?;
                    }
                }
            }
            csv.flush()?;
        }
        StatsFormat::Jsonl => {
            for (topic, list) in &all {
                for s in list {
                    let key = split_key(&s.key);
                    for (label, n) in labels.iter().zip(&s.counts) {
                        serde_json::to_writer(
                            &mut out,
                            &Record {
                                bucket: label,
                                topic: topic.as_deref(),
                                split: key.as_deref(),
                                items: *n,
                            },
                        )?;
                        out.write_all(b"\n")?;
                    }
                }
            }
        }
        StatsFormat::Table => {
            writeln!(
                out,
                "{} to {}, by {}: {} buckets",
                labels.first().map(String::as_str).unwrap_or("-"),
                labels.last().map(String::as_str).unwrap_or("-"),
                format!("{:?}", args.by).to_lowercase(),
                labels.len()
            )?;
            for (topic, list) in &all {
                let name = topic.as_deref().unwrap_or("(all items)");
                if list.is_empty() {
                    writeln!(out, "{:<28}  {:>7}", truncate(name, 28), 0)?;
                }
                for s in list {
                    let label = if split == Split::None {
                        name.to_string()
                    } else {
                        format!("{name} / {}", if s.key.is_empty() { "?" } else { &s.key })
                    };
                    writeln!(
                        out,
                        "{:<28}  {:>7}  {}",
                        truncate(&label, 28),
                        s.total(),
                        sparkline(&s.counts)
                    )?;
                }
            }
            // One series: a bar per bucket as well.
            if let [(_, list)] = all.as_slice() {
                if let [s] = list.as_slice() {
                    let peak = s.counts.iter().copied().max().unwrap_or(0).max(1);
                    writeln!(out)?;
                    for (label, n) in labels.iter().zip(&s.counts) {
                        let bar = "█".repeat(((n * 40 + peak - 1) / peak) as usize);
                        writeln!(out, "  {label:<20}  {n:>6}  {bar}")?;
                    }
                }
            }
        }
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// The error for a range with too many buckets: what made it, and what to
/// change.
fn too_fine(args: &StatsArgs, error: TooManyBuckets) -> anyhow::Error {
    let since = args.since.as_deref().unwrap_or("(30 days)");
    let range = match &args.until {
        Some(until) => format!("--since {since} --until {until}"),
        None => format!("--since {since}"),
    };
    let by = format!("{:?}", args.by).to_lowercase();
    let coarser = match args.by {
        By::Hour => "--by day or ",
        By::Day => "--by week or ",
        By::Week => "--by month or ",
        By::Month => "",
    };
    let shorter = if args.until.is_some() {
        "a shorter range"
    } else {
        "a later --since"
    };
    anyhow::anyhow!(
        "{range} --by {by} makes {} buckets, more than the {} `stats` draws; use {coarser}{shorter}",
        thousands(error.buckets),
        thousands(MAX_BUCKETS)
    )
}
