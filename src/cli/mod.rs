//! Command-line interface: one file per command group.

mod check;
mod db;
mod digest;
mod feeds;
mod opml;
mod output;
mod parse;
mod report;
mod run;
mod search;
mod show;
mod stats;
mod stories;
mod topics;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use chrono::{DateTime, Utc};
use clap::{Parser, Subcommand, ValueEnum};
use feedwatch::bidi::truncate;
use feedwatch::config::{self, Config};

/// feedwatch: polls news feeds, matches standing topic queries, stores the
/// articles in SQLite and answers queries about them.
#[derive(Debug, Parser)]
#[command(name = "feedwatch", version, about)]
pub struct Args {
    /// Configuration file.
    #[arg(long, global = true, env = "FEEDWATCH_CONFIG", default_value = config::DEFAULT_PATH)]
    pub config: PathBuf,
    /// Log filter, e.g. `debug` or `feedwatch=debug,info` (FEEDWATCH_LOG overrides).
    #[arg(long, global = true)]
    pub log_level: Option<String>,
    /// Log format: auto (journald under systemd, else text), text, json or journald.
    #[arg(long, global = true, value_enum)]
    pub log_format: Option<LogFormat>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Poll feeds: each when due until SIGINT/SIGTERM, or all once with --once.
    ///
    /// A feed is due at its own interval: adaptive (its publishing rate and
    /// cache hints, within poll.min_interval..poll.max_interval, backing off
    /// while it fails) unless poll.interval or the feed's interval fixes it.
    Run(run::RunArgs),
    /// Search stored items, newest first.
    Search(search::SearchArgs),
    /// Show one stored article in full: outlets, dates, story, topics with
    /// what matched, and its text.
    Show(show::ShowArgs),
    /// List stories: the same article carried by several outlets, most recent first.
    Stories(stories::StoriesArgs),
    /// Items per hour, day or week, per topic, with a sparkline; CSV or JSON Lines.
    Stats(stats::StatsArgs),
    /// Write a self-contained HTML report of a topic: volume, outlets, languages, stories.
    Report(report::ReportArgs),
    /// Database upkeep: prune by retention, backup, integrity check, vacuum.
    #[command(subcommand)]
    Db(db::DbCommand),
    /// Validate the configuration and print a summary.
    Check,
    /// Inspect, add and remove feeds.
    #[command(subcommand)]
    Feeds(feeds::FeedsCommand),
    /// Fetch feeds (URLs or files) and print what feedwatch reads from them; stores nothing.
    Parse(parse::ParseArgs),
    /// Import or export feeds as OPML.
    #[command(subcommand)]
    Opml(opml::OpmlCommand),
    /// List topics with match counts, or try a query against stored items.
    #[command(subcommand)]
    Topics(topics::TopicsCommand),
    /// Preview or send an alert's digest.
    #[command(subcommand)]
    Digest(digest::DigestCommand),
    /// List digests and their delivery state; retry failed ones.
    #[command(subcommand)]
    Digests(digest::DigestsCommand),
}

impl Command {
    /// Long-running commands log progress; query commands only problems.
    pub fn default_log_level(&self) -> &'static str {
        match self {
            Command::Run(_) => "info",
            _ => "warn",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Auto,
    Text,
    Json,
    Journald,
}

impl LogFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            LogFormat::Auto => "auto",
            LogFormat::Text => "text",
            LogFormat::Json => "json",
            LogFormat::Journald => "journald",
        }
    }
}

/// Output formats of listing commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Aligned columns for people.
    Table,
    /// One JSON object per line.
    Jsonl,
    /// RFC 4180 CSV with a header row.
    Csv,
}

pub async fn dispatch(args: Args, config: Config) -> anyhow::Result<ExitCode> {
    match args.command {
        Command::Run(run) => run::run(&config, run).await,
        Command::Search(search) => search::search(&config, search).await,
        Command::Show(show) => show::show(&config, show).await,
        Command::Stories(stories) => stories::stories(&config, stories).await,
        Command::Stats(stats) => stats::stats(&config, stats).await,
        Command::Report(report) => report::report(&config, report).await,
        Command::Db(command) => db::db(&config, command).await,
        Command::Check => check::check(&config).await,
        Command::Feeds(feeds) => feeds::feeds(&config, feeds).await,
        Command::Parse(parse) => parse::parse(&config, parse).await,
        Command::Opml(command) => opml::opml(&config, command).await,
        Command::Topics(topics) => topics::topics(&config, topics).await,
        Command::Digest(command) => digest::digest(&config, command).await,
        Command::Digests(command) => digest::digests(&config, command).await,
    }
}

/// Parses a point in time: RFC 3339 (`2017-09-25T08:00:00Z`), a date
/// (`2017-09-25`, midnight UTC) or an age before now (`24h`, `7d`, `90m`).
pub fn parse_time(input: &str, now: DateTime<Utc>) -> anyhow::Result<DateTime<Utc>> {
    Ok(feedwatch::model::parse_time(input, now)?)
}

/// An optional time flag (`--until`, ...), its errors naming the flag.
pub fn time_flag(
    value: Option<&str>,
    flag: &str,
    now: DateTime<Utc>,
) -> anyhow::Result<Option<DateTime<Utc>>> {
    value
        .map(|s| parse_time(s, now).with_context(|| flag.to_string()))
        .transpose()
}

/// A time range from the command line; a missing bound is open.
pub type TimeRange = (Option<DateTime<Utc>>, Option<DateTime<Utc>>);

/// `--since` and `--until`, parsed, and checked to make a range that can
/// hold anything (the one check: `feedwatch::model::check_range`).
pub fn time_range(since: Option<&str>, until: Option<&str>, now: DateTime<Utc>) -> anyhow::Result<TimeRange> {
    let since = time_flag(since, "--since", now)?;
    let until = time_flag(until, "--until", now)?;
    feedwatch::model::check_range(since, until, ("--since", "--until"))?;
    Ok((since, until))
}

/// The window of `stats`, `stories` and `report` from their `--since`
/// and `--until`: as given; `days` before `--until` when only it is
/// given; and when neither is, the `days` before now — or, when the
/// archive's newest item is older than that (an archive of 2017), the
/// `days` up to and including its newest item, said on stderr, so the
/// command shows data rather than nothing. Returns `(since, until)`;
/// `until` is `None` for the window ending now.
async fn window(
    store: &feedwatch::store::Store,
    (since, until): TimeRange,
    days: i64,
    now: DateTime<Utc>,
) -> anyhow::Result<(DateTime<Utc>, Option<DateTime<Utc>>)> {
    match (since, until) {
        (Some(since), until) => return Ok((since, until)),
        (None, Some(until)) => return Ok((until - chrono::Duration::days(days), Some(until))),
        (None, None) => {}
    }
    let window = feedwatch::archive::default_window(store, days, now).await?;
    if let Some(newest) = window.moved_to {
        eprintln!(
            "note: nothing is dated in the last {days} days; showing the {days} days up to the newest item ({}); \
             --since and --until choose another window",
            newest.format("%Y-%m-%d %H:%M UTC")
        );
    }
    Ok((window.since, window.until))
}

/// Checks a `--topic`: a configured topic, or a retired one (stored with
/// its matches but no longer in the config: renamed or removed), which is
/// said on stderr; anything else is an error listing the configured
/// topics.
async fn check_topic(store: &feedwatch::store::Store, config: &Config, name: &str) -> anyhow::Result<()> {
    let active: Vec<&str> = config.topics.iter().map(|t| t.name.as_str()).collect();
    if active.contains(&name) {
        return Ok(());
    }
    let retired = store.retired_topics(&active).await?;
    if let Some(topic) = retired.iter().find(|t| t.name == name) {
        let since = topic
            .retired_at
            .as_deref()
            .map(|t| format!(" since {}", &t[..t.len().min(10)]))
            .unwrap_or_default();
        eprintln!(
            "note: topic {name:?} is retired: no longer in the config{since}; these are its matches from before"
        );
        return Ok(());
    }
    let known = if active.is_empty() {
        "none configured".to_string()
    } else {
        format!("known: {}", active.join(", "))
    };
    anyhow::bail!("--topic: no topic named {name:?} ({known})")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_times() {
        let now = DateTime::parse_from_rfc3339("2017-09-25T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let t = |s| parse_time(s, now).unwrap().to_rfc3339();
        assert_eq!(t("2017-09-23T08:30:00+03:00"), "2017-09-23T05:30:00+00:00");
        assert_eq!(t("2017-09-23"), "2017-09-23T00:00:00+00:00");
        assert_eq!(t("24h"), "2017-09-24T12:00:00+00:00");
        assert_eq!(t("7d"), "2017-09-18T12:00:00+00:00");
        assert!(parse_time("yesterday-ish", now)
            .unwrap_err()
            .to_string()
            .contains("is not a time"));
    }

    #[test]
    fn truncates_by_characters() {
        assert_eq!(truncate("abc", 3), "abc");
        assert_eq!(truncate("abcd", 3), "ab…");
        assert_eq!(truncate("همه‌پرسی", 3), "هم…");
    }
}
