//! The feed path of the pipeline: bytes and a Content-Type → decode →
//! `parse_feed_as` → items, then what `pipeline::prepare` computes from each
//! item (keys, content hash, words, fingerprint, canonical URL).
//!
//! The first input byte picks the Content-Type; the rest is the body.
//! Asserted: no panics; titles, texts, authors and the feed title are one
//! line of plain text as `parse::html::to_text` documents (no control
//! characters, whitespace collapsed to single spaces, none at the ends);
//! GUIDs are trimmed and non-empty; links are absolute URLs.
#![no_main]

use feedwatch::{model, parse, stories, text};
use libfuzzer_sys::fuzz_target;

const CONTENT_TYPES: &[Option<&str>] = &[
    None,
    Some("application/rss+xml"),
    Some("application/atom+xml; charset=utf-8"),
    Some("application/feed+json"),
    Some("text/xml; charset=windows-1252"),
    Some("text/xml; charset=iso-8859-1"),
    Some("application/xml; charset=utf-16"),
    Some("text/xml; charset=\"windows-1256\""),
    Some("text/html; charset=utf-8"),
    Some("text/plain; charset=bogus"),
];

const BASE: &str = "https://example.com/news/feed.xml";

fn check_line(what: &str, s: &str) {
    assert!(
        !s.chars().any(|c| c.is_control()),
        "{what} {s:?} has a control character"
    );
    assert!(
        !s.chars().any(|c| c.is_whitespace() && c != ' '),
        "{what} {s:?} has whitespace other than a space"
    );
    assert!(!s.contains("  "), "{what} {s:?} has a run of spaces");
    assert!(
        !s.starts_with(' ') && !s.ends_with(' '),
        "{what} {s:?} has a space at an end"
    );
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    let content_type = CONTENT_TYPES[usize::from(selector) % CONTENT_TYPES.len()];
    let Ok(feed) = parse::parse_feed_as(body, content_type, BASE) else {
        return;
    };
    if let Some(title) = &feed.title {
        check_line("feed title", title);
    }
    for item in &feed.items {
        check_line("title", &item.title);
        check_line("text", &item.text);
        if let Some(author) = &item.author {
            check_line("author", author);
        }
        if let Some(guid) = &item.guid {
            assert!(!guid.is_empty() && guid.trim() == guid, "guid {guid:?}");
        }
        if let Some(link) = &item.url {
            assert!(url::Url::parse(link).is_ok(), "link {link:?} is not absolute");
        }
        // What the pipeline computes for each item.
        let _ = item.key();
        let _ = item.content_hash();
        let mut words = text::words(&item.title);
        words.extend(text::words(&item.text));
        if stories::fingerprint_words(&words).is_some() {
            let _ = stories::sketch(&words);
        }
        if let Some(link) = &item.url {
            let _ = stories::canonical_url(link);
        }
    }
    let keys = model::item_keys(&feed.items);
    assert_eq!(keys.len(), feed.items.len());
});
