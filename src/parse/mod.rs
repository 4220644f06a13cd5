//! Feed bytes → [`ParsedFeed`]: feed-rs for RSS 0.9x/1.0/2.0, Atom and JSON
//! Feed, then plain-text extraction and link resolution.
//!
//! Before feed-rs, the bytes are decoded to UTF-8 ([`decode`]), dates it
//! cannot read are rewritten ([`dates`]) and dialects it does not read
//! (Atom 0.3, RSS 0.90, odd RSS versions and namespaces) renamed into ones
//! it does ([`dialect`]); a document it rejects goes through [`repair`]
//! and, failing that, item-by-item salvage, with a warning. After it,
//! [`extras`] fills what feed-rs does not keep (RSS 1.0's `rdf:about` as
//! the GUID, permalink GUIDs as links, `xml:lang`, Dublin Core titles,
//! descriptions, authors and dates). Relative links of RSS items resolve
//! against the channel's `<link>` (the site), as Miniflux does, unless
//! `xml:base` says otherwise; Atom's against `xml:base` or the document.
//! A document with `<item>`s or `<entry>`s that yields none says so in
//! the feed's warning. feed-rs would invent an id for entries without one; we register
//! an empty generator instead, so a missing GUID stays missing and the
//! store's identity rule (GUID, else link, else content hash) applies.

mod charsets;
pub mod dates;
pub mod decode;
pub mod dialect;
pub mod extras;
pub mod html;
pub mod repair;

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use chrono::{DateTime, Datelike, TimeDelta, Utc};
use url::Url;

use crate::model::{FeedHints, NewItem, ParsedFeed};

/// Why a body could not be read as a feed.
#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    /// The body is empty or only whitespace.
    #[error("empty document")]
    Empty,
    /// The body is HTML, not a feed (a common misconfiguration: the feed URL
    /// points at a web page).
    #[error("not a feed: the document is an HTML page")]
    Html,
    /// feed-rs rejected the document.
    #[error("not a valid RSS, Atom or JSON feed")]
    Invalid(#[source] feed_rs::parser::ParseFeedError),
}

/// Parses a feed document. `base_url` (the URL it was fetched from) resolves
/// relative links where the document gives no `xml:base`.
pub fn parse_feed(body: &[u8], base_url: &str) -> Result<ParsedFeed, ParseError> {
    parse_feed_as(body, None, base_url)
}

/// [`parse_feed`] with the HTTP `Content-Type`, whose charset (if any) is
/// evidence for decoding.
pub fn parse_feed_as(
    body: &[u8],
    content_type: Option<&str>,
    base_url: &str,
) -> Result<ParsedFeed, ParseError> {
    let decoded = decode::to_utf8(body, content_type.and_then(decode::http_charset));
    let body: &[u8] = &decoded.bytes;
    let trimmed = body.trim_ascii_start();
    if trimmed.is_empty() {
        return Err(ParseError::Empty);
    }
    if looks_like_html(trimmed) {
        return Err(ParseError::Html);
    }
    // Dates no rule reads are noted (the feed gets a warning) and stand in
    // feed-rs's model as a marker, so each item can tell whether it had one.
    let unreadable: Rc<RefCell<Vec<String>>> = Rc::default();
    let noted = Rc::clone(&unreadable);
    let text = std::str::from_utf8(body).ok();
    let mut warnings: Vec<String> = decoded.note.into_iter().collect();
    let normalized = text.and_then(dates::normalize);
    let normalized = match normalized
        .as_deref()
        .or(text)
        .and_then(repair::drop_bad_char_refs)
    {
        Some(cleaned) => {
            warnings.push("dropped character references XML forbids (such as &#0;)".into());
            Some(cleaned)
        }
        None => normalized,
    };
    let normalized = normalized
        .as_deref()
        .or(text)
        .and_then(repair::html_entities_to_numeric)
        .or(normalized);
    let normalized = normalized
        .as_deref()
        .or(text)
        .and_then(dialect::normalize)
        .or(normalized);
    // From here on, the document as feed-rs reads it: the item scans
    // (extras, the channel's link) see the same items.
    let text = normalized.as_deref().or(text);
    // Where the first item starts (the end of the document's head).
    let first_item = text.and_then(repair::find_item);
    let document_base = Url::parse(base_url).ok();
    // RSS items resolve against the site (the channel's link), not the
    // document: a feed served from a CDN or an aggregator would otherwise
    // point every article at the wrong host.
    let item_base = text
        .and_then(|t| channel_link(&t[..first_item.unwrap_or(t.len())]))
        .and_then(|link| resolve(&link, None, document_base.as_ref()))
        .unwrap_or_else(|| base_url.to_string());
    let parser = feed_rs::parser::Builder::new()
        .base_uri(Some(&item_base))
        .id_generator(|_, _, _| String::new())
        .timestamp_parser(move |raw| {
            dates::read(raw).or_else(|| {
                let raw = raw.trim();
                if raw.is_empty() {
                    return None;
                }
                let mut noted = noted.borrow_mut();
                noted.push(raw.to_string());
                Some(unreadable_marker(noted.len() - 1))
            })
        })
        .build();
    let body: &[u8] = normalized.as_deref().map_or(body, str::as_bytes);
    let mut repaired_doc = false;
    let feed = match parser.parse(body) {
        Ok(feed) => feed,
        Err(error) => {
            repaired_doc = true;
            let Some(text) = std::str::from_utf8(body)
                .ok()
                .filter(|t| t.trim_start().starts_with('<'))
            else {
                return Err(ParseError::Invalid(error));
            };
            let repaired = repair::repair(text);
            let attempt = if repaired.fixes.is_empty() {
                Err(error)
            } else {
                parser.parse(repaired.doc.as_bytes())
            };
            match attempt {
                Ok(feed) => {
                    warnings.extend(repaired.fixes.iter().map(|f| f.to_string()));
                    feed
                }
                Err(error) => {
                    let salvaged = repair::salvage(&repaired.doc, |d| parser.parse(d.as_bytes()).is_ok());
                    let Some((doc, dropped)) = salvaged else {
                        return Err(ParseError::Invalid(error));
                    };
                    let feed = parser.parse(doc.as_bytes()).map_err(ParseError::Invalid)?;
                    warnings.extend(repaired.fixes.iter().map(|f| f.to_string()));
                    warnings.push(format!("dropped {dropped} unreadable items"));
                    feed
                }
            }
        }
    };
    let hints = text.map(feed_hints).unwrap_or_default();

    let head = text.map(|t| &t[..first_item.unwrap_or(t.len())]);
    let language = feed
        .language
        .clone()
        .or_else(|| text.and_then(extras::root_language))
        .or_else(|| head.and_then(|h| extras::head_text(h, "dc:language")))
        .as_deref()
        .map(normalize_language);
    let is_atom = feed.feed_type == feed_rs::model::FeedType::Atom;
    // An Atom feed's id, when it is an http URL, is its site if it links
    // to none.
    let site_url = pick_link(&feed.links)
        .and_then(|href| resolve(&href, None, document_base.as_ref()))
        .or_else(|| {
            Some(feed.id.trim())
                .filter(|id| is_atom && id.starts_with("http"))
                .and_then(|id| resolve(id, None, None))
        });
    let item_base = Url::parse(&item_base).ok();
    let text_of = |t: &feed_rs::model::Text| {
        if is_atom && t.content_type.subty() == "plain" {
            html::plain_text(&t.content)
        } else {
            html::to_text(&t.content)
        }
    };
    let has_items = first_item.is_some();
    let gaps = feed
        .entries
        .iter()
        .fold(extras::Wants::default(), |w, e| extras::Wants {
            about: w.about || e.id.trim().is_empty(),
            guid: w.guid || e.links.is_empty(),
            language: w.language || e.language.is_none(),
            dublin_core: w.dublin_core || e.title.is_none() || e.summary.is_none() || e.authors.is_empty(),
            dcterms: w.dcterms || e.published.is_none() || e.updated.is_none(),
            body: w.body || (e.content.is_none() && e.summary.is_none()),
        });
    let wants = text
        .filter(|_| gaps.any() && has_items)
        .map(|t| extras::Wants::of(t, gaps))
        .unwrap_or_default();
    let extras = match text {
        Some(text) if has_items && wants.any() => extras::scan(text, wants),
        _ => Vec::new(),
    };
    let extras = (extras.len() == feed.entries.len()).then_some(extras);
    let entry_count = feed.entries.len();
    // Not `collect()`: collecting `Vec<Entry>` into `Vec<NewItem>` happens
    // in place, and the result keeps the whole allocation of the entries
    // (an `Entry` is several times a `NewItem`) for as long as the items
    // live: 90 MB held through matching and storing a 100,000-item feed.
    let mut items = Vec::with_capacity(feed.entries.len());
    let mut undated = 0;
    let mut undated_example: Option<usize> = None;
    items.extend(feed.entries.into_iter().enumerate().map(|(index, entry)| {
        let extra = extras.as_ref().map(|e| &e[index]);
        let extra = extra.cloned().unwrap_or_default();
        let entry_base = entry.base.as_deref().and_then(|b| Url::parse(b).ok());
        let guid = Some(entry.id.trim().to_string())
            .filter(|g| !g.is_empty())
            .or(extra.about.clone());
        // A permalink GUID (an Atom id that is an http URL) is the
        // article's link when there is no other.
        let guid_link = guid
            .as_deref()
            .filter(|g| {
                (extra.permalink_guid || is_atom)
                    && Url::parse(g).is_ok_and(|u| matches!(u.scheme(), "http" | "https"))
            })
            .map(str::to_string);
        let url = pick_link(&entry.links)
            .and_then(|href| resolve(&href, entry_base.as_ref(), item_base.as_ref()))
            .or(guid_link);
        let content = entry
            .content
            .as_ref()
            .filter(|c| c.body.as_deref().is_some_and(|b| !b.trim().is_empty()));
        let text = match (content, &entry.summary) {
            (Some(c), _) if is_atom && c.content_type.subty() == "plain" => {
                html::plain_text(c.body.as_deref().unwrap_or(""))
            }
            (Some(c), _) => html::to_text(c.body.as_deref().unwrap_or("")),
            (None, _) if extra.body.is_some() => extra.body.as_deref().map(html::to_text).unwrap_or_default(),
            (None, Some(summary)) => text_of(summary),
            (None, None) => extra
                .description
                .as_deref()
                .map(html::to_text)
                .or_else(|| media_text(&entry.media, |m| m.description.as_ref()).map(&text_of))
                .unwrap_or_default(),
        };
        let dated = |raw: &Option<String>| raw.as_deref().and_then(dates::read);
        let published = readable(entry.published)
            .or(dated(&extra.issued))
            .or(readable(entry.updated))
            .or(dated(&extra.modified));
        if published.is_none() {
            if let Some(noted) = entry
                .published
                .and_then(marker_index)
                .or(entry.updated.and_then(marker_index))
            {
                undated += 1;
                undated_example.get_or_insert(noted);
            }
        }
        NewItem {
            guid,
            url,
            title: entry
                .title
                .as_ref()
                .map(text_of)
                .filter(|t| !t.is_empty())
                .or_else(|| extra.title.as_deref().map(html::to_text))
                .or_else(|| media_text(&entry.media, |m| m.title.as_ref()).map(&text_of))
                .unwrap_or_default(),
            text,
            published,
            updated: readable(entry.updated).or(dated(&extra.modified)),
            language: extra
                .language
                .as_deref()
                .or(entry.language.as_deref())
                .map(normalize_language)
                .or_else(|| language.clone()),
            author: entry
                .authors
                .first()
                .map(author_name)
                .filter(|a| !a.is_empty())
                .or_else(|| extra.author.as_deref().map(html::to_text)),
        }
    }));

    let mut parsed = ParsedFeed {
        title: feed
            .title
            .as_ref()
            .map(text_of)
            .filter(|t| !t.is_empty())
            .or_else(|| {
                head.and_then(|h| extras::head_text(h, "dc:title"))
                    .map(|t| html::to_text(&t))
            }),
        site_url,
        language,
        items,
        hints,
        repaired: repaired_doc,
        warning: (!warnings.is_empty())
            .then(|| format!("ill-formed feed read anyway: {}", warnings.join("; "))),
    };
    if entry_count == 0 && has_items {
        parsed.add_warning("the document has items (<item> or <entry>), but none could be read".into());
    }
    if let Some(noted) = undated_example {
        let example = &unreadable.borrow()[noted];
        if let Some(warning) = dates::unreadable_warning(undated, example) {
            parsed.add_warning(warning);
        }
    }
    Ok(parsed)
}

/// The first non-empty text of a Media RSS or iTunes field (`media:title`,
/// `media:description`, `itunes:summary`, in `media:group` or not): the
/// title or text of an item that has no other (podcasts, YouTube).
fn media_text(
    media: &[feed_rs::model::MediaObject],
    field: impl Fn(&feed_rs::model::MediaObject) -> Option<&feed_rs::model::Text>,
) -> Option<&feed_rs::model::Text> {
    media
        .iter()
        .filter_map(field)
        .find(|t| !t.content.trim().is_empty())
}

/// The first [`unreadable_marker`]: markers are far before any date a rule
/// reads (those are in the years 0 to 9999).
const MARKERS_FROM: DateTime<Utc> = DateTime::<Utc>::MIN_UTC;

/// The stand-in for the `index`th date that could not be read.
fn unreadable_marker(index: usize) -> DateTime<Utc> {
    MARKERS_FROM + TimeDelta::seconds(i64::try_from(index).unwrap_or(i64::MAX).min(1 << 40))
}

/// The index of the unreadable date `at` stands in for, if it is a marker.
fn marker_index(at: DateTime<Utc>) -> Option<usize> {
    (at.year() < -100_000).then(|| usize::try_from((at - MARKERS_FROM).num_seconds()).ok())?
}

/// A time feed-rs read, unless it is a marker.
fn readable(at: Option<DateTime<Utc>>) -> Option<DateTime<Utc>> {
    at.filter(|at| marker_index(*at).is_none())
}

/// The text of an RSS channel's `<link>`, if `head` (the document before
/// its first item) is RSS.
fn channel_link(head: &str) -> Option<String> {
    if !(head.contains("<rss") || head.contains("<rdf:RDF") || head.contains("<RDF")) {
        return None;
    }
    let channel = head.find("<channel")?;
    let from = channel + head[channel..].find("<link>")? + "<link>".len();
    let len = head[from..].find("</link>")?;
    let raw = head[from..from + len].trim();
    let link = quick_xml::escape::unescape(raw).ok()?;
    (!link.is_empty()).then(|| link.into_owned())
}

/// `<ttl>`, `sy:updatePeriod`/`sy:updateFrequency`, `skipHours` and
/// `skipDays` from the document's head (before its first item).
fn feed_hints(doc: &str) -> FeedHints {
    let head_end = ["<item", "<entry"]
        .iter()
        .filter_map(|t| doc.find(t))
        .min()
        .unwrap_or(doc.len());
    let head = &doc[..head_end];
    let values = |tag: &str| -> Vec<&str> {
        let (open, close) = (format!("<{tag}>"), format!("</{tag}>"));
        let mut out = Vec::new();
        let mut rest = head;
        while let Some(at) = rest.find(&open) {
            let from = at + open.len();
            let Some(len) = rest[from..].find(&close) else {
                break;
            };
            out.push(rest[from..from + len].trim());
            rest = &rest[from + len..];
        }
        out
    };
    let first = |tag: &str| values(tag).first().copied();
    let ttl = first("ttl")
        .and_then(|v| v.parse::<u64>().ok())
        .map(|m| Duration::from_secs(m * 60));
    let period = first("sy:updatePeriod").map(|p| match p {
        "hourly" => 3600,
        "daily" => 86_400,
        "weekly" => 7 * 86_400,
        "monthly" => 30 * 86_400,
        "yearly" => 365 * 86_400,
        _ => 86_400,
    });
    let frequency = first("sy:updateFrequency")
        .and_then(|f| f.parse::<u64>().ok())
        .filter(|f| *f > 0)
        .unwrap_or(1);
    let skip_hours = values("hour")
        .iter()
        .filter_map(|h| h.parse::<u32>().ok())
        .filter(|h| *h < 24)
        .collect();
    let skip_days = values("day")
        .iter()
        .filter_map(|d| d.parse::<chrono::Weekday>().ok())
        .collect();
    FeedHints {
        ttl,
        update_period: period.map(|p| Duration::from_secs(p / frequency)),
        skip_hours,
        skip_days,
    }
}

/// Feed links an HTML page announces (`<link rel="alternate"
/// type="application/rss+xml" href="…">`, also Atom and JSON Feed),
/// absolute against `base_url`.
pub fn discover_feeds(html: &[u8], base_url: &str) -> Vec<String> {
    let text = String::from_utf8_lossy(html);
    let base = Url::parse(base_url).ok();
    let lower = text.to_ascii_lowercase();
    let mut found = Vec::new();
    let mut from = 0;
    while let Some(at) = lower[from..].find("<link") {
        let start = from + at;
        let end = lower[start..].find('>').map_or(lower.len(), |e| start + e);
        let tag = &lower[start..end];
        from = end;
        let is_feed = tag.contains("alternate")
            && [
                "application/rss+xml",
                "application/atom+xml",
                "application/feed+json",
            ]
            .iter()
            .any(|t| tag.contains(t));
        if !is_feed {
            continue;
        }
        let original = &text[start..end];
        let Some(h) = tag.find("href=") else { continue };
        let value = &original[h + 5..];
        let href = match value.chars().next() {
            Some(q @ ('"' | '\'')) => value[1..].split(q).next().unwrap_or(""),
            _ => value.split([' ', '/', '>']).next().unwrap_or(""),
        };
        let href = quick_xml::escape::unescape(href)
            .map(|c| c.into_owned())
            .unwrap_or(href.to_string());
        if let Some(url) = resolve(&href, None, base.as_ref()) {
            if !found.contains(&url) {
                found.push(url);
            }
        }
    }
    found
}

/// feed-rs stores RSS `<author>` text as the e-mail of a person named
/// "author" (the element's role); other formats give a real name.
fn author_name(person: &feed_rs::model::Person) -> String {
    match (&person.email, person.name.as_str()) {
        (Some(email), "author" | "managingEditor" | "webMaster") => html::to_text(email),
        _ => html::to_text(&person.name),
    }
}

/// `en-US` → `en-us`, `fa_IR` → `fa-ir`.
fn normalize_language(lang: &str) -> String {
    lang.trim().replace('_', "-").to_ascii_lowercase()
}

fn looks_like_html(body: &[u8]) -> bool {
    let head = &body[..body.len().min(512)];
    let lower: Vec<u8> = head.iter().map(u8::to_ascii_lowercase).collect();
    let has = |needle: &[u8]| lower.windows(needle.len()).any(|w| w == needle);
    (lower.starts_with(b"<!doctype html") || lower.starts_with(b"<html") || has(b"<html"))
        && !has(b"<rss")
        && !has(b"<feed")
        && !has(b"<rdf")
}

/// The article link: the first `alternate` (or rel-less) link, else the first.
fn pick_link(links: &[feed_rs::model::Link]) -> Option<String> {
    links
        .iter()
        .find(|l| matches!(l.rel.as_deref(), None | Some("alternate")))
        .or(links.first())
        .map(|l| l.href.trim().to_string())
        .filter(|h| !h.is_empty())
}

/// Makes `href` absolute against the entry's `xml:base`, else the document
/// URL. Links that cannot be made absolute are dropped rather than stored
/// half-formed, and so are absolute links that are not http(s)
/// (`javascript:`, `data:`, `vbscript:`…): they would reach every consumer
/// of the API and of `search` as the article's link.
fn resolve(href: &str, entry_base: Option<&Url>, document_base: Option<&Url>) -> Option<String> {
    match Url::parse(href) {
        Ok(url) => matches!(url.scheme(), "http" | "https").then(|| url.to_string()),
        Err(url::ParseError::RelativeUrlWithoutBase) => entry_base
            .or(document_base)
            .and_then(|base| base.join(href).ok())
            .map(|u| u.to_string()),
        Err(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RSS: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>Desk &amp; Wire</title><link>https://news.example/</link>
<language>en-US</language>
<item><title>Kurdistan &lt;b&gt;referendum&lt;/b&gt;</title><link>/2017/09/vote.html</link>
<guid isPermaLink="false">item-1</guid><pubDate>Sat, 23 Sep 2017 12:00:00 +0000</pubDate>
<description>&lt;p&gt;Iran&amp;nbsp;and Turkey&lt;/p&gt;&lt;p&gt;oppose it&lt;/p&gt;</description></item>
<item><title>No guid</title><link>https://news.example/2</link><author>desk@news.example (Desk)</author></item>
<item><title>Nothing but text</title><description>body</description></item>
</channel></rss>"#;

    #[test]
    fn extracts_plain_text_and_resolves_links() {
        let feed = parse_feed(RSS.as_bytes(), "https://news.example/feeds/rss.xml").unwrap();
        assert_eq!(feed.title.as_deref(), Some("Desk & Wire"));
        assert_eq!(feed.language.as_deref(), Some("en-us"));
        let first = &feed.items[0];
        assert_eq!(first.guid.as_deref(), Some("item-1"));
        assert_eq!(first.title, "Kurdistan referendum");
        assert_eq!(first.text, "Iran and Turkey oppose it");
        assert_eq!(
            first.url.as_deref(),
            Some("https://news.example/2017/09/vote.html")
        );
        assert_eq!(first.published.unwrap().to_rfc3339(), "2017-09-23T12:00:00+00:00");
        assert_eq!(first.language.as_deref(), Some("en-us"));
        // Missing GUIDs stay missing; the store keys those by link or hash.
        assert_eq!(feed.items[1].guid, None);
        assert_eq!(feed.items[1].key(), "url:https://news.example/2");
        assert_eq!(feed.items[1].author.as_deref(), Some("desk@news.example (Desk)"));
        assert!(feed.items[2].key().starts_with("hash:"));
    }

    #[test]
    fn parses_atom_with_xml_base_and_json_feed() {
        let atom = r#"<feed xmlns="http://www.w3.org/2005/Atom" xml:base="https://atom.example/base/">
<title type="html">A &amp;amp; B</title><id>urn:f</id><updated>2017-09-23T00:00:00Z</updated>
<entry><id>urn:e1</id><title>t</title><updated>2017-09-24T00:00:00Z</updated>
<link href="e1.html"/><content type="html">&lt;p&gt;x&lt;/p&gt;</content></entry></feed>"#;
        let feed = parse_feed(atom.as_bytes(), "https://elsewhere.example/atom.xml").unwrap();
        assert_eq!(
            feed.items[0].url.as_deref(),
            Some("https://atom.example/base/e1.html")
        );
        assert_eq!(feed.items[0].text, "x");
        assert_eq!(
            feed.items[0].published.unwrap().to_rfc3339(),
            "2017-09-24T00:00:00+00:00"
        );

        let json = r#"{"version":"https://jsonfeed.org/version/1.1","title":"J","items":[
            {"id":"1","url":"https://j.example/1","title":"Hello","content_html":"<p>a&nbsp;b</p>"}]}"#;
        let feed = parse_feed(json.as_bytes(), "https://j.example/feed.json").unwrap();
        assert_eq!(feed.items[0].text, "a b");
        assert_eq!(feed.items[0].guid.as_deref(), Some("1"));
    }

    #[test]
    fn rejects_non_feeds_clearly() {
        assert!(matches!(
            parse_feed(b"  \n ", "https://x.example/"),
            Err(ParseError::Empty)
        ));
        assert!(matches!(
            parse_feed(
                b"<!DOCTYPE html><html><body>hi</body></html>",
                "https://x.example/"
            ),
            Err(ParseError::Html)
        ));
        assert!(matches!(
            parse_feed(b"garbage \x00\xff", "https://x.example/"),
            Err(ParseError::Invalid(_))
        ));
        assert!(matches!(
            parse_feed(b"<rss><channel><item>", "https://x.example/"),
            Err(ParseError::Invalid(_))
        ));
    }

    #[test]
    fn items_do_not_keep_the_entries_allocation() {
        let mut doc = String::from("<rss version=\"2.0\"><channel><title>t</title>");
        for i in 0..1000 {
            doc.push_str(&format!("<item><guid>g{i}</guid><title>Item {i}</title></item>"));
        }
        doc.push_str("</channel></rss>");
        let feed = parse_feed(doc.as_bytes(), "https://x.example/").unwrap();
        assert_eq!(feed.items.len(), 1000);
        assert_eq!(
            feed.items.capacity(),
            1000,
            "no spare room left over from the entries"
        );
    }

    #[test]
    fn drops_links_that_are_not_http() {
        let doc = "<rss version=\"2.0\"><channel><title>t</title><link>javascript:alert(1)</link>\
            <item><guid>a</guid><title>a</title><link>javascript:alert(1)</link></item>\
            <item><guid>b</guid><title>b</title><link>  JaVaScRiPt:alert(2)</link></item>\
            <item><guid>c</guid><title>c</title><link>data:text/html,&lt;script&gt;x&lt;/script&gt;</link></item>\
            <item><guid>d</guid><title>d</title><link>/ok</link></item></channel></rss>";
        let feed = parse_feed(doc.as_bytes(), "https://x.example/feed").unwrap();
        assert_eq!(feed.site_url, None);
        let urls: Vec<Option<&str>> = feed.items.iter().map(|i| i.url.as_deref()).collect();
        assert_eq!(urls, [None, None, None, Some("https://x.example/ok")]);
    }

    #[test]
    fn a_forbidden_character_reference_does_not_empty_the_text() {
        let doc = "<rss version=\"2.0\"><channel><title>t</title><item><guid>a</guid>\
            <title>null&#0;byte &#65;</title><description>x&#xD800;y</description></item></channel></rss>";
        let feed = parse_feed(doc.as_bytes(), "https://x.example/").unwrap();
        assert_eq!(feed.items[0].title, "nullbyte A");
        assert_eq!(feed.items[0].text, "xy");
        assert!(feed.warning.unwrap().contains("&#0;"));
    }

    /// Issue 21: a date that is there but cannot be read leaves the item
    /// undated (first-seen time), and the feed says so.
    #[test]
    fn unreadable_dates_are_counted_on_the_feed() {
        let item =
            |guid: &str, dates: &str| format!("<item><guid>{guid}</guid><title>{guid}</title>{dates}</item>");
        let doc = format!(
            "<rss version=\"2.0\"><channel><title>t</title><lastBuildDate>someday</lastBuildDate>{}</channel></rss>",
            [
                item("slash", "<pubDate>25/09/2017 10:00</pubDate>"),
                item("sept", "<pubDate>Sept 25th, 2017</pubDate>"),
                item("bad", "<pubDate>25:61:00</pubDate>"),
                item("ambiguous", "<pubDate>05/09/2017 10:00</pubDate>"),
                item("empty", "<pubDate> </pubDate>"),
                item("none", ""),
                item(
                    "updated",
                    "<pubDate>later</pubDate><dc:date xmlns:dc=\"http://purl.org/dc/elements/1.1/\">2017-09-25T10:00:00Z</dc:date>"
                ),
                item("good", "<pubDate>Mon, 25 Sep 2017 10:00:00 +0000</pubDate>"),
            ]
            .concat()
        );
        let feed = parse_feed(doc.as_bytes(), "https://x.example/").unwrap();
        let dates: Vec<(&str, Option<String>)> = feed
            .items
            .iter()
            .map(|i| (i.guid.as_deref().unwrap(), i.published.map(|d| d.to_rfc3339())))
            .collect();
        let at = |s: &str| Some(s.to_string());
        assert_eq!(
            dates,
            [
                ("slash", at("2017-09-25T10:00:00+00:00")),
                ("sept", at("2017-09-25T00:00:00+00:00")),
                ("bad", None),
                ("ambiguous", None),
                ("empty", None),
                ("none", None),
                ("updated", at("2017-09-25T10:00:00+00:00")),
                ("good", at("2017-09-25T10:00:00+00:00")),
            ]
        );
        assert_eq!(
            feed.warning.as_deref(),
            Some("2 items have dates that cannot be read (e.g. \"25:61:00\"); their first-seen time is used")
        );
        assert!(
            feed.items.iter().all(|i| i.updated.is_none_or(|d| d.year() > 0)),
            "no marker escapes"
        );

        // With a repair: both said, one after the other.
        let feed = parse_feed(
            doc.replace("<title>t</title>", "<title>A&#0;B</title>")
                .as_bytes(),
            "https://x.example/",
        )
        .unwrap();
        assert_eq!(
            feed.warning.as_deref(),
            Some(
                "ill-formed feed read anyway: dropped character references XML forbids (such as &#0;). \
                 2 items have dates that cannot be read (e.g. \"25:61:00\"); their first-seen time is used"
            )
        );
    }
}
