//! Real-world feed conformance (issue 18), on small fixtures of our own
//! (`tests/fixtures/conformance/`), so CI checks what
//! `scripts/feed_conformance.py` measures on feedparser's corpus: the
//! parser through the library, a `file://` feed through `feedwatch parse`,
//! and HTTP oddities (raw deflate, gzip declared but not compressed,
//! `Content-Location`) through the real binary over loopback.

use crate::common::{jsonl, FeedServer, Route, Workspace};
use feedwatch::parse::parse_feed;

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/tests/fixtures/conformance/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

#[test]
fn rss_10_items_carry_rdf_about_as_guid_and_link_less_items_are_kept() {
    let feed = parse_feed(&fixture("rss10-rdf-about.xml"), "https://feeds.example/rss").unwrap();
    assert_eq!(feed.items.len(), 2, "the item without <link> is not dropped");
    assert_eq!(
        feed.items[0].guid.as_deref(),
        Some("https://news.example/2017/09/vote.html")
    );
    assert_eq!(
        feed.items[1].guid.as_deref(),
        Some("https://news.example/2017/09/no-link.html")
    );
    assert_eq!(
        feed.items[1].url.as_deref(),
        Some("https://news.example/2017/09/no-link.html")
    );
    assert_eq!(feed.items[1].text, "An item without a link");
}

#[test]
fn entities_and_windows_1252_references_keep_the_words() {
    let feed = parse_feed(&fixture("turkish-entities.xml"), "https://haber.example/rss").unwrap();
    let item = &feed.items[0];
    assert_eq!(item.title, "Başbakan Erdoğan, İstanbul'da");
    assert_eq!(item.text, "Iran’s reply — α ı");
    assert_eq!(feed.warning, None, "HTML entities are no repair");
}

#[test]
fn atom_03_is_read() {
    let feed = parse_feed(&fixture("atom03.xml"), "https://wire.example/atom").unwrap();
    assert_eq!(feed.title.as_deref(), Some("Wire & Desk"));
    assert_eq!(feed.language.as_deref(), Some("en"));
    let item = &feed.items[0];
    assert_eq!(
        item.title, "Literal <blink> stays",
        "type=text keeps markup as text"
    );
    assert_eq!(item.url.as_deref(), Some("https://wire.example/1"));
    assert_eq!(item.guid.as_deref(), Some("tag:wire.example,2004:1"));
    assert_eq!(item.text, "Le texte");
    assert_eq!(item.language.as_deref(), Some("fr"));
    assert_eq!(item.published.unwrap().to_rfc3339(), "2004-01-02T03:04:05+00:00");
    assert_eq!(item.updated.unwrap().to_rfc3339(), "2004-01-03T03:04:05+00:00");
}

#[test]
fn odd_rss_versions_namespaces_and_dublin_core() {
    let feed = parse_feed(&fixture("rss-oddities.xml"), "https://cdn.example/feeds/odd.xml").unwrap();
    assert_eq!(feed.title.as_deref(), Some("Odd"));
    let [first, second] = &feed.items[..] else {
        panic!("two items: {:?}", feed.items)
    };
    assert_eq!(first.title, "From Dublin Core");
    assert_eq!(first.text, "dc body");
    assert_eq!(first.author.as_deref(), Some("Ann"));
    assert_eq!(
        first.url.as_deref(),
        Some("https://site.example/permalink"),
        "permalink GUID"
    );
    assert_eq!(first.published.unwrap().to_rfc3339(), "2004-05-06T07:08:09+00:00");
    // Relative to the site (the channel's link), not to the CDN serving the feed.
    assert_eq!(
        second.url.as_deref(),
        Some("https://site.example/2004/relative.html")
    );
    assert_eq!(second.guid.as_deref(), Some("x-2"));
    assert_eq!(second.language.as_deref(), Some("de"));
}

/// (The fixture's items stand outside its `<channel>`; it used to be a
/// `<feed>` under a foreign namespace, which is now read as Atom.)
#[test]
fn a_document_with_items_that_yields_none_says_so() {
    let feed = parse_feed(&fixture("items-unreadable.xml"), "https://x.example/").unwrap();
    assert!(feed.items.is_empty());
    let warning = feed.warning.unwrap();
    assert!(warning.contains("none could be read"), "{warning}");
}

/// `feedwatch parse` on a file: relative links resolve against the
/// channel's link (a `file://` URL makes no article link).
#[tokio::test]
async fn parse_command_reads_files_with_relative_links() {
    let ws = Workspace::new(&[], &[], "");
    let path = format!(
        "{}/tests/fixtures/conformance/rss-oddities.xml",
        env!("CARGO_MANIFEST_DIR")
    );
    let out = ws.run(&["parse", "--format", "jsonl", &path]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let records = jsonl(&out.stdout);
    assert_eq!(
        records[0]["items"][1]["url"],
        "https://site.example/2004/relative.html"
    );
    assert_eq!(records[0]["error"], serde_json::Value::Null);
}

#[tokio::test]
async fn raw_deflate_uncompressed_gzip_and_content_location() {
    use std::io::Write;
    let server = FeedServer::start().await;
    let doc = |title: &str| {
        format!(
            "<rss version=\"2.0\"><channel><title>{title}</title><item><guid>a</guid><title>x</title>\
             <link>item</link></item></channel></rss>"
        )
    };
    let mut raw = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
    raw.write_all(doc("raw deflate").as_bytes()).unwrap();
    server.set(
        "/deflate",
        Route::WithHeaders {
            status: 200,
            headers: vec![("content-encoding", "deflate".into())],
            body: raw.finish().unwrap(),
        },
    );
    server.set(
        "/plain-gzip",
        Route::WithHeaders {
            status: 200,
            headers: vec![("content-encoding", "gzip".into())],
            body: doc("not compressed").into_bytes(),
        },
    );
    server.set(
        "/located",
        Route::WithHeaders {
            status: 200,
            headers: vec![("content-location", "https://origin.example/feeds/".into())],
            body: doc("located").into_bytes(),
        },
    );
    let ws = Workspace::new(&[], &[], "");
    let out = ws
        .run(&[
            "parse",
            "--format",
            "jsonl",
            &server.url("/deflate"),
            &server.url("/plain-gzip"),
            &server.url("/located"),
        ])
        .await;
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let records = jsonl(&out.stdout);
    assert_eq!(records[0]["title"], "raw deflate");
    assert_eq!(records[1]["title"], "not compressed");
    assert_eq!(records[2]["items"][0]["url"], "https://origin.example/feeds/item");
}

/// Atom 0.3's `mode="base64"` and Atom 1.0 content typed neither text nor
/// XML carry base64: the text it encodes is kept, not the base64.
#[test]
fn base64_text_is_decoded() {
    let feed = parse_feed(&fixture("atom03-base64.xml"), "https://haber.example/atom").unwrap();
    assert_eq!(feed.title.as_deref(), Some("Haber & Yorum"));
    let item = &feed.items[0];
    assert_eq!(
        item.title, "Şırnak <sınır> kapısı",
        "untyped is text/plain in Atom 0.3"
    );
    assert_eq!(
        item.text, "Erdoğan’ın açıklaması",
        "text/html: markup and script dropped"
    );

    let feed = parse_feed(&fixture("atom10-base64.xml"), "https://x.example/atom").unwrap();
    assert_eq!(feed.items.len(), 2);
    assert_eq!(feed.items[0].text, "Tahran & Ankara");
    assert_eq!(feed.items[1].text, "", "a PNG has no words to keep");
}

/// Single-byte charsets encoding_rs does not know, by Python's names:
/// EBCDIC (the declaration itself in EBCDIC) and the Mac pages.
#[test]
fn ebcdic_and_mac_code_pages_are_read() {
    let feed = parse_feed(&fixture("ebcdic-cp500.xml"), "https://boerse.example/rss").unwrap();
    assert_eq!(feed.title.as_deref(), Some("Zürcher Börse"));
    assert_eq!(feed.warning, None);
    let item = &feed.items[0];
    assert_eq!(
        item.title, "Aktien [SMI] legen zu!",
        "cp500, not cp037: [ ] ! differ"
    );
    assert_eq!(item.text, "Grüße aus Zürich | 5 %");
    assert_eq!(item.url.as_deref(), Some("https://boerse.example/1"));

    let feed = parse_feed(&fixture("mac-turkish.xml"), "https://haber.example/rss").unwrap();
    assert_eq!(feed.items[0].title, "Doğu Karadeniz'de sağanak");
    assert_eq!(feed.warning, None, "declared and read, not guessed");
}

/// RSS whose every element carries a namespace prefix (`<n:item>`,
/// `<r1:item>`) is RSS: its items, and what the item scan reads of them
/// (`rdf:about`, `dcterms:`), are kept.
#[test]
fn prefixed_rss_elements_are_read() {
    let feed = parse_feed(&fixture("rss20-prefixed.xml"), "https://cdn.example/wire.xml").unwrap();
    assert_eq!(feed.title.as_deref(), Some("Prefixed wire"));
    assert_eq!(feed.site_url.as_deref(), Some("https://wire.example/"));
    assert_eq!(feed.language.as_deref(), Some("tr"));
    let [item] = &feed.items[..] else {
        panic!("one item: {:?}", feed.items)
    };
    assert_eq!(item.title, "Ankara ve Erbil");
    assert_eq!(
        item.url.as_deref(),
        Some("https://wire.example/2017/09/erbil.html")
    );
    assert_eq!(item.text, "Every element carries the n: prefix.");
    assert_eq!(item.published.unwrap().to_rfc3339(), "2017-09-25T10:00:00+00:00");

    let feed = parse_feed(&fixture("rss10-prefixed.xml"), "https://wire.example/rss").unwrap();
    assert_eq!(feed.title.as_deref(), Some("Prefixed RSS 1.0"));
    let item = &feed.items[0];
    assert_eq!(item.guid.as_deref(), Some("https://wire.example/2017/09/kirkuk"));
    assert_eq!(item.published.unwrap().to_rfc3339(), "2017-09-26T08:00:00+00:00");
}

/// Escaped markup in XHTML text is text: `&lt;blink&gt;` is the word
/// `<blink>`, not a tag to drop (feed-rs writes XHTML back unescaped).
#[test]
fn escaped_markup_in_xhtml_stays_text() {
    let feed = parse_feed(&fixture("atom10-xhtml-escaped.xml"), "https://notes.example/atom").unwrap();
    assert_eq!(feed.title.as_deref(), Some("Notes on <script>"));
    let item = &feed.items[0];
    assert_eq!(item.title, "Why <blink> died");
    assert_eq!(item.text, "Write a && b, not &amp;.");
}

/// Podcasts and video feeds carry an item's words in iTunes and Media RSS
/// fields (`itunes:summary`, `media:description` in a YouTube-style
/// `media:group`): they are its text when it has no other; a channel's
/// `dc:title`/`dc:language` are its title and language.
#[test]
fn itunes_media_rss_and_channel_dublin_core() {
    let feed = parse_feed(&fixture("rss-itunes-media.xml"), "https://radio.example/rss").unwrap();
    assert_eq!(feed.title.as_deref(), Some("Radio Desk"));
    assert_eq!(feed.language.as_deref(), Some("fa"));
    let [episode, clip] = &feed.items[..] else {
        panic!("two items: {:?}", feed.items)
    };
    assert_eq!(episode.text, "Tehran talks about the referendum in Erbil.");
    assert_eq!(episode.author.as_deref(), Some("Leyla Ahmadi"));
    assert_eq!(clip.title, "Clip: the vote count");
    assert_eq!(clip.text, "Counting in Kirkuk goes on into the night.");

    let feed = parse_feed(&fixture("atom-media-group.xml"), "https://video.example/feed").unwrap();
    assert_eq!(
        feed.items[0].text,
        "Streets of Erbil on the morning after the independence referendum."
    );
}

/// A document whose root's end tag lacks only its `>` (`</feed`) is read
/// whole, with a warning (before: the whole document failed). One cut
/// before any item is complete stays an error: fetched again, not stored
/// as a feed without items.
#[test]
fn only_the_roots_closing_bracket_missing_is_repaired() {
    let feed = parse_feed(&fixture("unfinished-end-tag.xml"), "https://cut.example/atom").unwrap();
    assert_eq!(feed.title.as_deref(), Some("Cut at the very end"));
    assert_eq!(feed.site_url.as_deref(), Some("https://cut.example/?a=1&b=2"));
    assert_eq!(feed.items.len(), 1);
    let warning = feed.warning.unwrap();
    assert!(warning.contains("unfinished end tag"), "{warning}");

    assert!(matches!(
        parse_feed(&fixture("truncated-first-item.xml"), "https://cut.example/rss"),
        Err(feedwatch::parse::ParseError::Invalid(_))
    ));
}

/// A `<feed>` under a draft-Atom namespace (`purl.org/pie/`) is Atom
/// (before: no title, no entries, "none could be read").
#[test]
fn feed_under_a_draft_atom_namespace_is_read() {
    let feed = parse_feed(&fixture("atom-draft-namespace.xml"), "https://pie.example/atom").unwrap();
    assert_eq!(feed.title.as_deref(), Some("Pie-era weblog"));
    let [item] = &feed.items[..] else {
        panic!("one item: {:?}", feed.items)
    };
    assert_eq!(item.title, "Before Atom had its name");
    assert_eq!(item.url.as_deref(), Some("https://pie.example/2003/07/1"));
    assert_eq!(item.text, "Drafts of Atom used other namespaces.");
    assert_eq!(feed.warning, None);
}

/// An item's language is its content's (the text kept), inherited when
/// the content has no `xml:lang` of its own, not the summary's.
#[test]
fn the_language_is_the_contents() {
    let feed = parse_feed(&fixture("content-language.xml"), "https://dil.example/atom").unwrap();
    assert_eq!(feed.items[0].text, "Türkçe metin");
    assert_eq!(feed.items[0].language.as_deref(), Some("tr"));
}
