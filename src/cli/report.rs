//! `feedwatch report --topic T --out report.html`: a self-contained HTML
//! page about one topic.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{bail, Context};
use chrono::{DateTime, Utc};
use clap::Args;
use feedwatch::archive::report::{chart_bucket, render, ReportData};
use feedwatch::archive::stats::{
    bucket_count, bucket_labels, series, thousands, trim_future, Series, MAX_BUCKETS,
};
use feedwatch::config::Config;
use feedwatch::parse::dates::MAX_FUTURE_SKEW;
use feedwatch::store::{Bucket, Split, Store, VolumeQuery};

use super::{time_range, window};

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// A topic to report on (repeat for several: their items, each counted
    /// once); all items when absent.
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
    /// Where to write the HTML file.
    #[arg(long)]
    pub out: std::path::PathBuf,
}

/// Days a report covers by default.
const DEFAULT_DAYS: i64 = 30;

pub async fn report(config: &Config, args: ReportArgs) -> anyhow::Result<ExitCode> {
    refuse_symlink(&args.out)?;
    let now = Utc::now();
    let (since, until) = time_range(args.since.as_deref(), args.until.as_deref(), now)?;
    let store = Store::open_read_only(config.store.location()).await?;
    let result = gather(config, &store, &args, (since, until), now).await;
    store.close().await;
    let data = result?;
    let html = render(&data);
    write_replacing(&args.out, html.as_bytes())
        .with_context(|| format!("cannot write {}", args.out.display()))?;
    writeln!(std::io::stdout(), "wrote {}", args.out.display())?;
    Ok(ExitCode::SUCCESS)
}

async fn gather(
    config: &Config,
    store: &Store,
    args: &ReportArgs,
    (since, until): (Option<DateTime<Utc>>, Option<DateTime<Utc>>),
    now: DateTime<Utc>,
) -> anyhow::Result<ReportData> {
    for topic in &args.topic {
        super::check_topic(store, config, topic).await?;
    }
    let (since, until) = window(store, (since, until), DEFAULT_DAYS, now).await?;
    // As in `stats`: the chart and the tables cover one window, which,
    // left open, takes in items dated up to MAX_FUTURE_SKEW ahead.
    let end = until.unwrap_or(now + MAX_FUTURE_SKEW);
    let bucket = chart_bucket(bucket_count(since, end, Bucket::Day));
    let mut labels = bucket_labels(since, end, bucket).map_err(|e| {
        anyhow::anyhow!(
            "the window from {} makes {} buckets, more than the {} a report draws; use a later --since",
            since.format("%Y-%m-%d"),
            thousands(e.buckets),
            thousands(MAX_BUCKETS)
        )
    })?;
    let volume_of = |topics: Vec<String>| VolumeQuery {
        topics,
        since,
        until: Some(end),
        bucket,
        split: Split::None,
    };
    let rows = store.volume(&volume_of(args.topic.clone())).await?;
    let mut volume = series(&rows, &labels)
        .into_iter()
        .next()
        .unwrap_or_else(|| Series {
            key: String::new(),
            counts: vec![0; labels.len()],
        });
    if until.is_none() {
        trim_future(&mut labels, &mut [&mut volume], now, bucket);
    }
    let mut topics = Vec::new();
    for name in &args.topic {
        let rows = store.volume(&volume_of(vec![name.clone()])).await?;
        let query = config
            .topics
            .iter()
            .find(|t| t.name == *name)
            .map(|t| t.query.clone())
            .unwrap_or_else(|| "(no longer configured)".into());
        topics.push((name.clone(), query, rows.iter().map(|(_, _, n)| n).sum()));
    }
    Ok(ReportData {
        topics,
        since: since.format("%Y-%m-%d %H:%M UTC").to_string(),
        until: until.unwrap_or(now).format("%Y-%m-%d %H:%M UTC").to_string(),
        generated_at: now.format("%Y-%m-%d %H:%M UTC").to_string(),
        bucket: Some(bucket),
        days: labels,
        counts: volume.counts,
        outlets: store.top_outlets(&args.topic, since, Some(end), 15).await?,
        languages: store.languages(&args.topic, since, Some(end)).await?,
        stories: store.top_stories(&args.topic, since, Some(end), 20).await?,
        items: store.latest_items(&args.topic, since, Some(end), 30).await?,
    })
}

/// `--out` must not be a symbolic link: writing through one would overwrite
/// whatever it points to.
fn refuse_symlink(path: &Path) -> anyhow::Result<()> {
    if std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink()) {
        bail!(
            "--out: {} is a symbolic link; not writing through it (remove the link or choose another path)",
            path.display()
        );
    }
    Ok(())
}

/// Writes `contents` to a new file beside `path`, then renames it over
/// `path`: readers see the old file or the whole new one, never a part,
/// and a link put at `path` meanwhile is replaced, not followed. A file
/// replaced keeps its permissions.
fn write_replacing(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a file name"))?;
    let permissions = std::fs::metadata(path).ok().map(|m| m.permissions());
    let (tmp, mut file) = loop {
        let mut tmp_name = std::ffi::OsString::from(".");
        tmp_name.push(name);
        tmp_name.push(format!(".{:016x}.tmp", fastrand::u64(..)));
        let tmp = dir.join(tmp_name);
        // create_new: never an existing file, nor a link, at the temporary path.
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)
        {
            Ok(file) => break (tmp, file),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    };
    let written = (|| {
        file.write_all(contents)?;
        if let Some(permissions) = permissions {
            file.set_permissions(permissions)?;
        }
        file.sync_all()?;
        drop(file);
        std::fs::rename(&tmp, path)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}
