//! `feedwatch report --topic T --out report.html`: a self-contained HTML
//! page about one topic.

use std::io::Write;
use std::process::ExitCode;

use anyhow::{bail, Context};
use chrono::Utc;
use clap::Args;
use feedwatch::archive::report::{render, ReportData};
use feedwatch::archive::stats::{bucket_labels, series};
use feedwatch::config::Config;
use feedwatch::store::{Bucket, Split, Store, VolumeQuery};

use super::{parse_time, time_flag};

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// The topic to report on.
    #[arg(long)]
    pub topic: String,
    /// Items published at or after: RFC 3339, a date, or an age like 30d.
    #[arg(long, default_value = "30d")]
    pub since: String,
    /// Items published before (default: now).
    #[arg(long)]
    pub until: Option<String>,
    /// Where to write the HTML file.
    #[arg(long)]
    pub out: std::path::PathBuf,
}

pub async fn report(config: &Config, args: ReportArgs) -> anyhow::Result<ExitCode> {
    let now = Utc::now();
    let since = parse_time(&args.since, now).context("--since")?;
    let until = time_flag(args.until.as_deref(), "--until", now)?;
    let store = Store::open_existing(&config.store.path).await?;
    if !store.has_topic(&args.topic).await? {
        store.close().await;
        bail!("--topic: no topic named {:?}", args.topic);
    }
    let topic = Some(args.topic.as_str());
    let days = bucket_labels(since, until.unwrap_or(now), Bucket::Day);
    let rows = store
        .volume(&VolumeQuery {
            topic: Some(args.topic.clone()),
            since,
            until,
            bucket: Bucket::Day,
            split: Split::None,
        })
        .await?;
    let counts = series(&rows, &days)
        .into_iter()
        .next()
        .map(|s| s.counts)
        .unwrap_or_else(|| vec![0; days.len()]);
    let data = ReportData {
        topic: args.topic.clone(),
        query: config
            .topics
            .iter()
            .find(|t| t.name == args.topic)
            .map(|t| t.query.clone())
            .unwrap_or_default(),
        since: since.format("%Y-%m-%d %H:%M UTC").to_string(),
        until: until.unwrap_or(now).format("%Y-%m-%d %H:%M UTC").to_string(),
        generated_at: now.format("%Y-%m-%d %H:%M UTC").to_string(),
        days,
        counts,
        outlets: store.top_outlets(topic, since, until, 15).await?,
        languages: store.languages(topic, since, until).await?,
        stories: store.top_stories(topic, since, until, 20).await?,
    };
    store.close().await;
    std::fs::write(&args.out, render(&data))
        .with_context(|| format!("cannot write {}", args.out.display()))?;
    writeln!(std::io::stdout(), "wrote {}", args.out.display())?;
    Ok(ExitCode::SUCCESS)
}
