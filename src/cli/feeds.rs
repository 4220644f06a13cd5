//! `feedwatch feeds list`: every feed with its fetch state and last error.

use std::io::Write;
use std::process::ExitCode;

use clap::Subcommand;
use feedwatch::config::Config;
use feedwatch::store::Store;

use super::{truncate, Format};

#[derive(Debug, Subcommand)]
pub enum FeedsCommand {
    /// List feeds: status, item count, last fetch and last error.
    List {
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
}

pub async fn feeds(config: &Config, command: FeedsCommand) -> anyhow::Result<ExitCode> {
    let FeedsCommand::List { format } = command;
    let store = Store::open_existing(&config.store.path).await?;
    let feeds = store.list_feeds().await?;
    store.close().await;
    let mut out = std::io::stdout().lock();
    match format {
        Format::Jsonl => {
            for feed in &feeds {
                serde_json::to_writer(&mut out, feed)?;
                out.write_all(b"\n")?;
            }
        }
        Format::Csv => {
            let mut csv = csv::Writer::from_writer(&mut out);
            csv.write_record([
                "url",
                "name",
                "title",
                "last_status",
                "last_fetch_at",
                "item_count",
                "last_error",
            ])?;
            for f in &feeds {
                csv.write_record([
                    f.url.as_str(),
                    f.name.as_deref().unwrap_or(""),
                    f.title.as_deref().unwrap_or(""),
                    &f.last_status.map(|s| s.to_string()).unwrap_or_default(),
                    f.last_fetch_at.as_deref().unwrap_or(""),
                    &f.item_count.to_string(),
                    f.last_error.as_deref().unwrap_or(""),
                ])?;
            }
            csv.flush()?;
        }
        Format::Table => {
            writeln!(out, "{:<6}  {:>6}  {:<30}  ERROR", "STATUS", "ITEMS", "FEED")?;
            for f in &feeds {
                let status = match (f.last_status, &f.last_error) {
                    (_, Some(_)) => "error".to_string(),
                    (Some(s), None) => s.to_string(),
                    (None, None) => "new".to_string(),
                };
                writeln!(
                    out,
                    "{status:<6}  {:>6}  {:<30}  {}",
                    f.item_count,
                    truncate(f.display_name(), 30),
                    f.last_error.as_deref().unwrap_or("")
                )?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
