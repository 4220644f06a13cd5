//! `feedwatch digest preview|send` and `feedwatch digests list|retry`.

use std::io::Write;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{bail, Context};
use chrono::Utc;
use clap::{Subcommand, ValueEnum};
use feedwatch::alerts::Alerts;
use feedwatch::config::{AlertConfig, Config};
use feedwatch::digest::render;
use feedwatch::store::Store;

use super::truncate;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PreviewFormat {
    Text,
    Html,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum DigestCommand {
    /// Show what each alert would send now; sends and records nothing.
    Preview {
        /// Only this alert.
        #[arg(long)]
        alert: Option<String>,
        #[arg(long, value_enum, default_value_t = PreviewFormat::Text)]
        format: PreviewFormat,
    },
    /// Build the alert's digest if it is due (or now, with --now) and deliver
    /// its pending digests.
    Send {
        #[arg(long)]
        alert: String,
        /// Cut the digest now instead of waiting for the schedule.
        #[arg(long)]
        now: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum DigestsCommand {
    /// Digests, newest first, with delivery state.
    List {
        /// Only digests that failed for good.
        #[arg(long)]
        failed: bool,
        #[arg(long, default_value_t = 50)]
        limit: u32,
        #[arg(long, value_enum, default_value_t = ListFormat::Table)]
        format: ListFormat,
    },
    /// Requeue a failed digest for delivery.
    Retry { id: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ListFormat {
    Table,
    Jsonl,
}

fn find<'a>(config: &'a Config, name: &str) -> anyhow::Result<&'a AlertConfig> {
    config.alerts.iter().find(|a| a.name == name).with_context(|| {
        let known: Vec<&str> = config.alerts.iter().map(|a| a.name.as_str()).collect();
        format!("--alert: no alert named {name:?} (known: {})", known.join(", "))
    })
}

/// The alerts over the database: read-only for a preview (it writes
/// nothing), migrating for a send.
async fn open(config: &Config, read_only: bool) -> anyhow::Result<Alerts> {
    let store = if read_only {
        Store::open_read_only(config.store.location()).await?
    } else {
        Store::open_existing(config.store.location()).await?
    };
    Ok(Alerts::new(config, store, Arc::new(config.topic_set()))?)
}

pub async fn digest(config: &Config, command: DigestCommand) -> anyhow::Result<ExitCode> {
    match command {
        DigestCommand::Preview { alert, format } => {
            let alerts = open(config, true).await?;
            let selected: Vec<&AlertConfig> = match &alert {
                Some(name) => vec![find(config, name)?],
                None => config.alerts.iter().collect(),
            };
            if selected.is_empty() {
                bail!("no [[alert]] is configured");
            }
            let mut out = std::io::stdout().lock();
            for alert in selected {
                for digest in alerts.preview(alert, Utc::now()).await? {
                    match format {
                        PreviewFormat::Text => writeln!(
                            out,
                            "=== {} → {} ===\n{}",
                            digest.alert,
                            digest.channel,
                            render::text(&digest)
                        )?,
                        PreviewFormat::Html => write!(out, "{}", render::html(&digest))?,
                        PreviewFormat::Json => writeln!(out, "{}", serde_json::to_string(&digest)?)?,
                    }
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        DigestCommand::Send { alert, now } => {
            let alert = find(config, &alert)?;
            let alerts = open(config, false).await?;
            let at = Utc::now();
            let built = if now {
                alerts.build_now(alert, at).await?
            } else {
                alerts.build_due(at).await?
            };
            let stats = alerts.deliver_due(at, Some(&alert.name)).await?;
            writeln!(
                std::io::stdout(),
                "{} built; {} delivered, {} will be retried, {} failed",
                feedwatch::count(built.len() as u64, "digest", "digests"),
                stats.delivered,
                stats.retrying,
                stats.failed
            )?;
            Ok(if stats.retrying + stats.failed > 0 {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            })
        }
    }
}

pub async fn digests(config: &Config, command: DigestsCommand) -> anyhow::Result<ExitCode> {
    match command {
        DigestsCommand::List {
            failed,
            limit,
            format,
        } => {
            let store = Store::open_read_only(config.store.location()).await?;
            let records = store.list_digests(failed, limit).await;
            store.close().await;
            let records = records?;
            let mut out = std::io::stdout().lock();
            match format {
                ListFormat::Jsonl => {
                    for r in &records {
                        serde_json::to_writer(&mut out, r)?;
                        out.write_all(b"\n")?;
                    }
                }
                ListFormat::Table => {
                    writeln!(
                        out,
                        "{:<28}  {:<20}  {:<14}  {:<9}  {:>5}  {:>8}  LAST ERROR",
                        "ID", "ALERT", "CHANNEL", "STATUS", "ITEMS", "ATTEMPTS"
                    )?;
                    for r in &records {
                        writeln!(
                            out,
                            "{:<28}  {:<20}  {:<14}  {:<9}  {:>5}  {:>8}  {}",
                            r.id,
                            truncate(&r.alert, 20),
                            truncate(&r.channel, 14),
                            r.status,
                            r.item_count,
                            r.attempts,
                            r.last_error.as_deref().unwrap_or("")
                        )?;
                    }
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        DigestsCommand::Retry { id } => {
            let store = Store::open_existing(config.store.location()).await?;
            let retried = store.retry_digest(&id, Utc::now()).await;
            store.close().await;
            if !retried? {
                bail!("no failed digest with id {id:?} (see `feedwatch digests list --failed`)");
            }
            writeln!(
                std::io::stdout(),
                "digest {id} requeued; it is delivered on the next daemon tick or `digest send`"
            )?;
            Ok(ExitCode::SUCCESS)
        }
    }
}
