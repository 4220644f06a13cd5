//! `feedwatch show ID`: one stored article in full — title, outlets,
//! dates, language, story, the topics it matched with the spans that made
//! them match, and its text wrapped to the terminal.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use anyhow::bail;
use clap::Args;
use feedwatch::archive::{Highlighter, ItemRecord};
use feedwatch::bidi;
use feedwatch::config::Config;
use feedwatch::store::Store;
use feedwatch::topics::highlight::MatchSpan;

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// The item's id (the `id` of `search --format jsonl`, the API and
    /// digests' `item_id`).
    pub id: i64,
    /// `text` for people; `jsonl` prints the record of `search --format
    /// jsonl`, with `matches`.
    #[arg(long, value_enum, default_value_t = ShowFormat::Text)]
    pub format: ShowFormat,
    /// Wrap the text at this many columns (default: the terminal's width,
    /// else 80; 0: no wrapping).
    #[arg(long)]
    pub width: Option<usize>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ShowFormat {
    Text,
    Jsonl,
}

pub async fn show(config: &Config, args: ShowArgs) -> anyhow::Result<ExitCode> {
    let store = Store::open_read_only(config.store.location()).await?;
    let result = async {
        let Some(row) = store.item(args.id).await? else {
            return Ok(None);
        };
        let highlighter = Highlighter::new(config, &store, None, std::slice::from_ref(&row)).await?;
        let story = match row.story_id {
            Some(id) => store.stories_by_id(&[id]).await?.pop(),
            None => None,
        };
        let names = store.list_feeds().await?;
        anyhow::Ok(Some((row, highlighter, story, names)))
    }
    .await;
    store.close().await;
    let Some((row, highlighter, story, feeds)) = result? else {
        bail!(
            "no item with id {} (ids are in `feedwatch search --format jsonl`)",
            args.id
        );
    };
    let mut out = std::io::stdout().lock();
    if args.format == ShowFormat::Jsonl {
        serde_json::to_writer(&mut out, &ItemRecord::new(&row, &highlighter))?;
        out.write_all(b"\n")?;
        return Ok(ExitCode::SUCCESS);
    }
    let terminal = std::io::stdout().is_terminal();
    let width = args.width.unwrap_or_else(|| terminal_width().unwrap_or(80));
    let matches = highlighter.matches(&row);
    let outlets: Vec<String> = row
        .feeds
        .iter()
        .map(|url| {
            feeds.iter().find(|f| f.url == *url).map_or_else(
                || feedwatch::redact::url(url).into_owned(),
                |f| f.display_name().into_owned(),
            )
        })
        .collect();
    let marks = if terminal && std::env::var_os("NO_COLOR").is_none() {
        ("\x1b[1;4m", "\x1b[0m")
    } else {
        ("*", "*")
    };
    writeln!(
        out,
        "{}",
        bidi::isolate(&marked(&row.title, &matches, "title", marks))
    )?;
    writeln!(out)?;
    let field = |out: &mut std::io::StdoutLock, name: &str, value: &str| writeln!(out, "{name:<11}{value}");
    field(&mut out, "Item", &row.id.to_string())?;
    field(
        &mut out,
        "Outlets",
        &outlets
            .iter()
            .map(|o| bidi::isolate(o).into_owned())
            .collect::<Vec<_>>()
            .join(", "),
    )?;
    if let Some(published) = &row.published {
        field(&mut out, "Published", &short(published))?;
    } else {
        field(&mut out, "Published", "(undated)")?;
    }
    field(&mut out, "Fetched", &short(&row.fetched_at))?;
    if let Some(lang) = &row.lang {
        field(&mut out, "Language", lang)?;
    }
    if let Some(author) = &row.author {
        field(&mut out, "Author", &bidi::isolate(author))?;
    }
    if let Some(url) = &row.url {
        field(&mut out, "Link", url)?;
    }
    if let Some(story) = &story {
        field(
            &mut out,
            "Story",
            &format!(
                "{} — {}, {} ({})",
                story.id,
                feedwatch::count(story.item_count.max(0) as u64, "article", "articles"),
                feedwatch::count(story.outlets.len() as u64, "outlet", "outlets"),
                bidi::isolate(&story.outlets.join(", "))
            ),
        )?;
    }
    for (i, topic) in row.topics.iter().enumerate() {
        let spans: Vec<String> = matches
            .iter()
            .filter(|m| m.topic.as_deref() == Some(topic))
            .map(|m| {
                let source = if m.field == "title" { &row.title } else { &row.text };
                let text: String = source.chars().skip(m.start).take(m.end - m.start).collect();
                format!("{} ({})", bidi::isolate(&text), m.field)
            })
            .collect();
        let label = if i == 0 { "Topics" } else { "" };
        let why = if spans.is_empty() {
            "(no longer configured)".to_string()
        } else {
            spans.join(", ")
        };
        field(&mut out, label, &format!("{topic}: {why}"))?;
    }
    if row.topics.is_empty() {
        field(&mut out, "Topics", "(none)")?;
    }
    writeln!(out)?;
    for paragraph in marked(&row.text, &matches, "text", marks).split('\n') {
        for line in wrap(paragraph.trim(), width) {
            writeln!(out, "{}", bidi::isolate(&line))?;
        }
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// `2017-09-23T08:30:00Z` → `2017-09-23 08:30 UTC`.
fn short(stored: &str) -> String {
    let t: String = stored.replace('T', " ").chars().take(16).collect();
    format!("{t} UTC")
}

/// `text` with the spans of `field` (merged across topics) between
/// `marks`.
fn marked(text: &str, matches: &[MatchSpan], field: &str, (open, close): (&str, &str)) -> String {
    let mut spans: Vec<(usize, usize)> = matches
        .iter()
        .filter(|m| m.field == field)
        .map(|m| (m.start, m.end))
        .collect();
    spans.sort_unstable();
    let mut merged: Vec<(usize, usize)> = Vec::new();
    for (start, end) in spans {
        match merged.last_mut() {
            Some(last) if start <= last.1 => last.1 = last.1.max(end),
            _ => merged.push((start, end)),
        }
    }
    let mut out = String::with_capacity(text.len() + merged.len() * 8);
    let mut next = merged.iter().peekable();
    for (i, c) in text.chars().enumerate() {
        if next.peek().is_some_and(|(start, _)| *start == i) {
            out.push_str(open);
        }
        out.push(c);
        if next.peek().is_some_and(|(_, end)| *end == i + 1) {
            out.push_str(close);
            next.next();
        }
    }
    out
}

/// Lines of at most `width` characters, broken at spaces (a longer word
/// gets a line of its own); `width` 0 does not wrap.
fn wrap(text: &str, width: usize) -> Vec<String> {
    if width == 0 {
        return vec![text.to_string()];
    }
    let mut lines = Vec::new();
    let mut line = String::new();
    let mut len = 0;
    for word in text.split_whitespace() {
        let n = word.chars().count();
        if len > 0 && len + 1 + n > width {
            lines.push(std::mem::take(&mut line));
            len = 0;
        }
        if len > 0 {
            line.push(' ');
            len += 1;
        }
        line.push_str(word);
        len += n;
    }
    lines.push(line);
    lines
}

/// The terminal's width in columns, when stdout is one.
fn terminal_width() -> Option<usize> {
    if let Some(columns) = std::env::var("COLUMNS").ok().and_then(|c| c.parse().ok()) {
        return Some(columns);
    }
    // SAFETY: TIOCGWINSZ fills a `winsize` for a terminal file descriptor
    // and fails, touching nothing, for anything else.
    let mut size: libc::winsize = unsafe { std::mem::zeroed() };
    let ok = unsafe { libc::ioctl(libc::STDOUT_FILENO, libc::TIOCGWINSZ, &mut size) } == 0;
    (ok && size.ws_col > 0).then_some(usize::from(size.ws_col))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wraps_at_spaces_by_characters() {
        assert_eq!(wrap("aa bb cc", 5), ["aa bb", "cc"]);
        assert_eq!(wrap("همه پرسی کردستان", 8), ["همه پرسی", "کردستان"]);
        assert_eq!(wrap("averylongword x", 4), ["averylongword", "x"]);
        assert_eq!(wrap("a b", 0), ["a b"]);
    }

    #[test]
    fn marks_merged_spans() {
        let span = |start, end| MatchSpan {
            topic: None,
            field: "text".into(),
            start,
            end,
        };
        assert_eq!(
            marked(
                "کردستان vote now",
                &[span(0, 7), span(8, 12), span(8, 12)],
                "text",
                ("[", "]")
            ),
            "[کردستان] [vote] now"
        );
    }
}
