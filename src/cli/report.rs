//! `feedwatch report --topic T --out report.html`: a self-contained HTML
//! page about one topic.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{bail, Context};
use chrono::Utc;
use clap::Args;
use feedwatch::archive::report::{render, ReportData};
use feedwatch::archive::stats::{bucket_labels, series, thousands, trim_future, Series, MAX_BUCKETS};
use feedwatch::config::Config;
use feedwatch::parse::dates::MAX_FUTURE_SKEW;
use feedwatch::store::{Bucket, Split, Store, VolumeQuery};

use super::time_range;

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// The topic to report on.
    #[arg(long)]
    pub topic: String,
    /// Items published at or after: RFC 3339, a date, or an age like 30d.
    #[arg(long, default_value = "30d")]
    pub since: String,
    /// Items published before (default: now, and items dated up to a day
    /// ahead, which feedwatch believes, count too).
    #[arg(long)]
    pub until: Option<String>,
    /// Where to write the HTML file.
    #[arg(long)]
    pub out: std::path::PathBuf,
}

pub async fn report(config: &Config, args: ReportArgs) -> anyhow::Result<ExitCode> {
    refuse_symlink(&args.out)?;
    let now = Utc::now();
    let (since, until) = time_range(Some(&args.since), args.until.as_deref(), now)?;
    let since = since.expect("--since has a default");
    // As in `stats`: the chart and the tables cover one window, which,
    // left open, takes in items dated up to MAX_FUTURE_SKEW ahead.
    let end = until.unwrap_or(now + MAX_FUTURE_SKEW);
    let mut days = bucket_labels(since, end, Bucket::Day).map_err(|e| {
        anyhow::anyhow!(
            "--since {} makes {} days, more than the {} a report draws; use a later --since",
            args.since,
            thousands(e.buckets),
            thousands(MAX_BUCKETS)
        )
    })?;
    let store = Store::open_read_only(&config.store.path).await?;
    if !store.has_topic(&args.topic).await? {
        store.close().await;
        bail!("--topic: no topic named {:?}", args.topic);
    }
    let topic = Some(args.topic.as_str());
    let rows = store
        .volume(&VolumeQuery {
            topic: Some(args.topic.clone()),
            since,
            until: Some(end),
            bucket: Bucket::Day,
            split: Split::None,
        })
        .await?;
    let mut volume = series(&rows, &days).into_iter().next().unwrap_or_else(|| Series {
        key: String::new(),
        counts: vec![0; days.len()],
    });
    if until.is_none() {
        trim_future(&mut days, &mut [&mut volume], now, Bucket::Day);
    }
    let counts = volume.counts;
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
        outlets: store.top_outlets(topic, since, Some(end), 15).await?,
        languages: store.languages(topic, since, Some(end)).await?,
        stories: store.top_stories(topic, since, Some(end), 20).await?,
    };
    store.close().await;
    let html = render(&data);
    write_replacing(&args.out, html.as_bytes())
        .with_context(|| format!("cannot write {}", args.out.display()))?;
    writeln!(std::io::stdout(), "wrote {}", args.out.display())?;
    Ok(ExitCode::SUCCESS)
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
