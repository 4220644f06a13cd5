//! `feedwatch stories`: stories (one article carried by one or more
//! outlets), most recently seen first, as a table or JSON Lines.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Context;
use chrono::Utc;
use clap::{Args, ValueEnum};
use feedwatch::bidi;
use feedwatch::config::Config;
use feedwatch::store::{Store, StoryFilter, StoryRow};

use super::{parse_time, truncate, window};

#[derive(Debug, Args)]
pub struct StoriesArgs {
    /// Only stories with an item matched by this topic.
    #[arg(long)]
    pub topic: Option<String>,
    /// Only stories last seen at or after: RFC 3339, a date, or an age like
    /// 24h or 7d. Default: the 7 days before now, or before the newest item
    /// when the archive has nothing that recent.
    #[arg(long)]
    pub since: Option<String>,
    /// Only stories carried by at least this many outlets.
    #[arg(long, default_value_t = 1)]
    pub min_outlets: usize,
    /// At most this many stories.
    #[arg(long, default_value_t = 50)]
    pub limit: u32,
    #[arg(long, value_enum, default_value_t = StoryFormat::Table)]
    pub format: StoryFormat,
}

/// Output formats of `stories`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StoryFormat {
    /// Aligned columns for people.
    Table,
    /// One JSON object per line.
    Jsonl,
    /// The fields of `jsonl` as CSV with a header (outlets and languages
    /// joined by `;`).
    Csv,
}

pub async fn stories(config: &Config, args: StoriesArgs) -> anyhow::Result<ExitCode> {
    let now = Utc::now();
    let since = args
        .since
        .as_deref()
        .map(|s| parse_time(s, now).context("--since"))
        .transpose()?;
    let store = Store::open_read_only(config.store.location()).await?;
    let (since, _) = window(&store, (since, None), 7, now).await?;
    if let Some(topic) = &args.topic {
        super::check_topic(&store, config, topic).await?;
    }
    let mut rows = store
        .stories(&StoryFilter {
            topic: args.topic,
            since: Some(since),
            limit: if args.min_outlets > 1 {
                u32::MAX
            } else {
                args.limit
            },
        })
        .await?;
    store.close().await;
    rows.retain(|r| r.outlets.len() >= args.min_outlets);
    rows.truncate(args.limit as usize);
    let mut out = std::io::stdout().lock();
    match args.format {
        StoryFormat::Jsonl => write_jsonl(&mut out, &rows)?,
        StoryFormat::Table => write_table(&mut out, &rows)?,
        StoryFormat::Csv => write_csv(&mut out, &rows)?,
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// The `--format jsonl` record. Field names are a public interface: add
/// fields, never rename or remove them.
#[derive(serde::Serialize)]
struct JsonStory<'a> {
    id: i64,
    headline: &'a str,
    first_seen: &'a str,
    last_seen: &'a str,
    item_count: i64,
    outlet_count: usize,
    outlets: &'a [String],
    languages: &'a [String],
}

pub(super) fn write_jsonl(out: &mut impl Write, rows: &[StoryRow]) -> anyhow::Result<()> {
    for row in rows {
        let story = JsonStory {
            id: row.id,
            headline: &row.headline,
            first_seen: &row.first_seen,
            last_seen: &row.last_seen,
            item_count: row.item_count,
            outlet_count: row.outlets.len(),
            outlets: &row.outlets,
            languages: &row.languages,
        };
        serde_json::to_writer(&mut *out, &story)?;
        out.write_all(b"\n")?;
    }
    Ok(())
}

pub(super) fn write_table(out: &mut impl Write, rows: &[StoryRow]) -> anyhow::Result<()> {
    if rows.is_empty() {
        writeln!(out, "no stories")?;
        return Ok(());
    }
    writeln!(
        out,
        "{:>8}  {:<16}  {:<16}  {:>5}  {:>7}  {:<8}  {:<50}  OUTLETS",
        "STORY", "FIRST SEEN", "LAST SEEN", "ITEMS", "OUTLETS", "LANG", "HEADLINE"
    )?;
    let short = |t: &str| t.replace('T', " ").chars().take(16).collect::<String>();
    for row in rows {
        writeln!(
            out,
            "{:>8}  {:<16}  {:<16}  {:>5}  {:>7}  {:<8}  {}  {}",
            row.id,
            short(&row.first_seen),
            short(&row.last_seen),
            row.item_count,
            row.outlets.len(),
            truncate(&row.languages.join(","), 8),
            bidi::cell(&row.headline, 50),
            bidi::isolate(&truncate(&row.outlets.join(", "), 60)),
        )?;
    }
    Ok(())
}

/// CSV (RFC 4180, header row) with the fields of the JSON Lines record;
/// outlets and languages joined by `;`.
pub(super) fn write_csv(out: &mut impl Write, rows: &[StoryRow]) -> anyhow::Result<()> {
    let mut csv = csv::Writer::from_writer(out);
    csv.write_record([
        "id",
        "headline",
        "first_seen",
        "last_seen",
        "item_count",
        "outlet_count",
        "outlets",
        "languages",
    ])?;
    for row in rows {
        csv.write_record([
            row.id.to_string(),
            row.headline.clone(),
            row.first_seen.clone(),
            row.last_seen.clone(),
            row.item_count.to_string(),
            row.outlets.len().to_string(),
            row.outlets.join(";"),
            row.languages.join(";"),
        ])?;
    }
    csv.flush()?;
    Ok(())
}
