//! Item output shared by `search` and `topics test`: an aligned table,
//! JSON Lines or RFC 4180 CSV.

use std::io::Write;

use feedwatch::archive::{Highlighter, ItemRecord};
use feedwatch::store::ItemRow;
use feedwatch::{bidi, redact};

use super::Format;

/// Writes items in the chosen format (JSON Lines with their matched spans).
pub fn write_items(
    out: &mut impl Write,
    rows: &[ItemRow],
    format: Format,
    highlighter: &Highlighter,
) -> anyhow::Result<()> {
    match format {
        Format::Table => write_table(out, rows),
        Format::Jsonl => write_jsonl(out, rows, highlighter),
        Format::Csv => write_csv(out, rows),
    }
}

fn write_jsonl(out: &mut impl Write, rows: &[ItemRow], highlighter: &Highlighter) -> anyhow::Result<()> {
    for row in rows {
        serde_json::to_writer(&mut *out, &ItemRecord::new(row, highlighter))?;
        out.write_all(b"\n")?;
    }
    Ok(())
}

fn write_csv(out: &mut impl Write, rows: &[ItemRow]) -> anyhow::Result<()> {
    let mut csv = csv::Writer::from_writer(out);
    csv.write_record([
        "id",
        "feed_url",
        "feed_name",
        "guid",
        "url",
        "title",
        "published",
        "fetched_at",
        "lang",
        "author",
        "topics",
        "text",
        "canonical_url",
        "story_id",
        "feeds",
        "declared_lang",
        "text_source",
        "summary",
        "page_error",
    ])?;
    for row in rows {
        let item = ItemRecord::new(row, &Highlighter::default());
        csv.write_record([
            item.id.to_string().as_str(),
            &redact::url(item.feed_url),
            item.feed_name.unwrap_or(""),
            item.guid.unwrap_or(""),
            item.url.unwrap_or(""),
            item.title,
            item.published.as_deref().unwrap_or(""),
            &item.fetched_at,
            item.lang.unwrap_or(""),
            item.author.unwrap_or(""),
            &item.topics.join(";"),
            item.text,
            item.canonical_url.unwrap_or(""),
            &item.story_id.map(|s| s.to_string()).unwrap_or_default(),
            &item
                .feeds
                .iter()
                .map(|f| redact::url(f))
                .collect::<Vec<_>>()
                .join(";"),
            item.declared_lang.unwrap_or(""),
            item.text_source,
            item.summary.unwrap_or(""),
            item.page_error.unwrap_or(""),
        ])?;
    }
    csv.flush()?;
    Ok(())
}

fn write_table(out: &mut impl Write, rows: &[ItemRow]) -> anyhow::Result<()> {
    if rows.is_empty() {
        writeln!(out, "no items")?;
        return Ok(());
    }
    writeln!(
        out,
        "{:<16}  {:<20}  {:<60}  TOPICS",
        "PUBLISHED", "FEED", "TITLE"
    )?;
    for row in rows {
        let when = row.published.as_deref().unwrap_or(&row.fetched_at);
        let when: String = when.replace('T', " ").chars().take(16).collect();
        let feed = match row.feed_name.as_deref() {
            Some(name) => bidi::cell(name, 20),
            None => bidi::cell(&redact::url(&row.feed_url), 20),
        };
        let title = bidi::cell(&row.title, 60);
        writeln!(out, "{when:<16}  {feed}  {title}  {}", row.topics.join(","))?;
    }
    Ok(())
}
