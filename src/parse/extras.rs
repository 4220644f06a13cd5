//! What feed-rs does not keep of each item, read from the document's text:
//! RSS 1.0's `rdf:about` (the item's identifier), whether an RSS `<guid>`
//! is a permalink, `xml:lang` on items and on their content, `dc:title`,
//! `dc:description`, `dc:author`/`dc:creator` (or `itunes:author`) in RSS 2.0 and
//! `dcterms:issued`/`dcterms:modified`. [`crate::parse`] uses a fact only
//! where feed-rs left the field empty, and only when the document has as
//! many items as feed-rs returned entries (they pair by position).
//!
//! A light scan, not a second XML parse, and only for the kinds of facts
//! some entry lacks ([`Wants`]): each item's text is walked once, tag by
//! tag; values are unescaped like XML text.

use std::borrow::Cow;

/// The facts of one `<item>` or `<entry>`, in document order.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Extras {
    pub about: Option<String>,
    /// A `<guid>` without `isPermaLink="false"`.
    pub permalink_guid: bool,
    /// `xml:lang` of the item's content, summary or title, else of the item.
    pub language: Option<String>,
    pub title: Option<String>,
    pub description: Option<String>,
    /// `<body>`, `<xhtml:body>` or `<fullitem>`: the item's content.
    pub body: Option<String>,
    pub author: Option<String>,
    pub issued: Option<String>,
    pub modified: Option<String>,
}

/// Which facts to look for: each only where feed-rs left a gap and the
/// document may hold it, so a feed that needs none is not scanned at all.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Wants {
    pub about: bool,
    pub guid: bool,
    pub language: bool,
    pub dublin_core: bool,
    pub dcterms: bool,
    pub body: bool,
}

impl Wants {
    /// What `doc` may hold of what is wanted (`gaps`: the kinds of facts
    /// some entry lacks).
    pub fn of(doc: &str, gaps: Wants) -> Wants {
        Wants {
            about: gaps.about && doc.contains("rdf:about"),
            guid: gaps.guid && doc.contains("<guid"),
            language: gaps.language && doc.contains("xml:lang"),
            dublin_core: gaps.dublin_core && (doc.contains("<dc:") || doc.contains("<itunes:author")),
            dcterms: gaps.dcterms && doc.contains("<dcterms:"),
            body: gaps.body
                && (doc.contains("<body") || doc.contains("<xhtml:body") || doc.contains("<fullitem")),
        }
    }

    pub fn any(self) -> bool {
        self != Wants::default()
    }
}

/// `xml:lang` of the root element.
pub fn root_language(doc: &str) -> Option<String> {
    let start = doc.find(['<'])?;
    let mut at = start;
    // Skip the declaration, comments and doctype.
    while doc[at..].starts_with("<?") || doc[at..].starts_with("<!") {
        at += doc[at..].find('>')? + 1;
        at += doc[at..].find('<')?;
    }
    let tag = &doc[at..at + doc[at..].find('>')?];
    attr(tag, "xml:lang").filter(|l| !l.trim().is_empty())
}

/// The text of the first `<name>` element in `head` (the document before
/// its first item): the channel's `dc:title` or `dc:language` where it has
/// no `<title>` or `<language>`.
pub fn head_text(head: &str, name: &str) -> Option<String> {
    let open = format!("<{name}");
    let at = find_tag(head, &open, 0)?;
    let tag_len = head[at..].find('>')?;
    let tag = &head[at + 1..at + tag_len];
    element_text(&head[at + tag_len + 1..], name, tag)
}

/// The facts of every item (in document order), looking only for what
/// `wants` names; each item's text is walked once, tag by tag.
pub fn scan(doc: &str, wants: Wants) -> Vec<Extras> {
    let open = if find_tag(doc, "<item", 0).is_some() {
        "<item"
    } else {
        "<entry"
    };
    let close = if open == "<item" { "</item>" } else { "</entry>" };
    let close = memchr::memmem::Finder::new(close);
    let mut out = Vec::new();
    // Each item's start is found once: the search for the end of one item
    // finds the start of the next.
    let mut next_start = find_tag(doc, open, 0);
    while let Some(start) = next_start {
        let Some(tag_len) = memchr::memchr(b'>', &doc.as_bytes()[start..]) else {
            break;
        };
        let tag = &doc[start..start + tag_len];
        let body_start = start + tag_len + 1;
        next_start = find_tag(doc, open, body_start);
        let next = next_start.unwrap_or(doc.len());
        let end = close
            .find(&doc.as_bytes()[body_start..next])
            .map_or(next, |e| body_start + e);
        let mut extras = Extras {
            about: wants
                .about
                .then(|| attr(tag, "rdf:about"))
                .flatten()
                .filter(|a| !a.trim().is_empty()),
            ..Extras::default()
        };
        if wants.any() {
            read_item(&doc[body_start..end], wants, &mut extras);
        }
        if wants.language && extras.language.is_none() {
            extras.language = attr(tag, "xml:lang");
        }
        out.push(extras);
    }
    out
}

/// One walk over an item's tags, filling what `wants` asks for.
fn read_item(body: &str, wants: Wants, extras: &mut Extras) {
    // Language by the element it is on: content, then summary, then title.
    let mut language_rank = u8::MAX;
    let mut guid_seen = false;
    let mut at = 0;
    while let Some(lt) = body[at..].find('<') {
        let tag_start = at + lt;
        at = tag_start + 1;
        let rest = &body[tag_start + 1..];
        let name_len = rest
            .find(|c: char| c.is_whitespace() || c == '>' || c == '/')
            .unwrap_or(rest.len());
        let name = &rest[..name_len];
        if name.is_empty() || name.starts_with(['/', '!', '?']) {
            continue;
        }
        let Some(tag_len) = rest.find('>') else {
            break;
        };
        let tag = &rest[..tag_len];
        let text = || element_text(&body[tag_start + 1 + tag_len + 1..], name, tag);
        match name {
            "guid" if wants.guid && !guid_seen => {
                guid_seen = true;
                extras.permalink_guid = attr(tag, "isPermaLink").is_none_or(|v| v.trim() != "false");
            }
            "dc:title" if wants.dublin_core && extras.title.is_none() => extras.title = text(),
            "dc:description" if wants.dublin_core && extras.description.is_none() => {
                extras.description = text()
            }
            "dc:creator" | "dc:author" | "itunes:author" if wants.dublin_core && extras.author.is_none() => {
                extras.author = text()
            }
            "dcterms:issued" | "dcterms:created" if wants.dcterms && extras.issued.is_none() => {
                extras.issued = text()
            }
            "dcterms:modified" if wants.dcterms && extras.modified.is_none() => extras.modified = text(),
            "xhtml:body" | "body" | "fullitem" if wants.body && extras.body.is_none() => extras.body = text(),
            _ => {}
        }
        if wants.language {
            let rank = match name {
                "content:encoded" | "content" | "body" | "xhtml:body" | "fullitem" => 0,
                "description" | "summary" => 1,
                "title" => 2,
                _ => u8::MAX,
            };
            if rank < language_rank {
                match attr(tag, "xml:lang") {
                    Some(lang) => {
                        language_rank = rank;
                        extras.language = Some(lang);
                    }
                    // The content (the text kept) without its own
                    // `xml:lang` is in the item's language, whatever the
                    // summary's says.
                    None if rank == 0 => {
                        language_rank = 0;
                        extras.language = None;
                    }
                    None => {}
                }
            }
        }
    }
}

/// The position of `open` (`<item`) as a whole tag name, from `from`.
fn find_tag(doc: &str, open: &str, from: usize) -> Option<usize> {
    let mut from = from;
    let finder = memchr::memmem::Finder::new(open);
    while let Some(at) = finder.find(doc.as_bytes().get(from..)?) {
        let pos = from + at;
        match doc[pos + open.len()..].chars().next() {
            Some('>' | ' ' | '\t' | '\n' | '\r' | '/') => return Some(pos),
            _ => from = pos + open.len(),
        }
    }
    None
}

/// The text of the element `name` whose start tag is `tag` and whose
/// content starts `after` it: unescaped (or CDATA), trimmed.
fn element_text(after: &str, name: &str, tag: &str) -> Option<String> {
    if tag.ends_with('/') {
        return None;
    }
    let close = format!("</{name}>");
    let len = after.find(&close)?;
    let raw = after[..len].trim();
    let text: Cow<str> = match raw.strip_prefix("<![CDATA[").and_then(|r| r.strip_suffix("]]>")) {
        Some(cdata) => Cow::Borrowed(cdata),
        None => quick_xml::escape::unescape(raw).unwrap_or(Cow::Borrowed(raw)),
    };
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_string())
}

/// The unescaped value of attribute `name` in a start tag.
fn attr(tag: &str, name: &str) -> Option<String> {
    let mut from = 0;
    while let Some(at) = tag[from..].find(name) {
        let at = from + at;
        from = at + name.len();
        if !tag[..at].ends_with(char::is_whitespace) {
            continue;
        }
        let Some(rest) = tag[from..].trim_start().strip_prefix('=') else {
            continue;
        };
        let rest = rest.trim_start();
        let quote = rest.chars().next().filter(|q| *q == '"' || *q == '\'')?;
        let len = rest[1..].find(quote)?;
        let raw = &rest[1..1 + len];
        return Some(
            quick_xml::escape::unescape(raw)
                .map(Cow::into_owned)
                .unwrap_or_else(|_| raw.to_string()),
        );
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_feed_rs_drops() {
        let doc = r#"<rdf:RDF xml:lang="de"><item rdf:about="http://e.example/1?a=1&amp;b=2" xml:lang="fr">
<guid isPermaLink="false">x</guid><dc:title>T &amp; U</dc:title><dc:creator><![CDATA[Ann]]></dc:creator>
<description xml:lang="en">d</description><dcterms:modified>2004-01-01</dcterms:modified></item>
<item><guid>http://e.example/2</guid><dc:author>Bob</dc:author><dcterms:issued>2004</dcterms:issued></item></rdf:RDF>"#;
        let all = Wants {
            about: true,
            guid: true,
            language: true,
            dublin_core: true,
            dcterms: true,
            body: true,
        };
        assert_eq!(Wants::of(doc, all), Wants { body: false, ..all });
        assert!(!Wants::of("<rss><item><title>t</title></item></rss>", all).any());
        assert_eq!(root_language(doc).as_deref(), Some("de"));
        let items = scan(doc, all);
        assert_eq!(items.len(), 2);
        assert_eq!(items[0].about.as_deref(), Some("http://e.example/1?a=1&b=2"));
        assert!(!items[0].permalink_guid);
        assert_eq!(items[0].language.as_deref(), Some("en"));
        assert_eq!(items[0].title.as_deref(), Some("T & U"));
        assert_eq!(items[0].author.as_deref(), Some("Ann"));
        assert_eq!(items[0].modified.as_deref(), Some("2004-01-01"));
        assert!(items[1].permalink_guid);
        assert_eq!(items[1].author.as_deref(), Some("Bob"));
        assert_eq!(items[1].issued.as_deref(), Some("2004"));
        assert_eq!(items[1].language, None);
        // The content's language (its own, else inherited) wins over the
        // summary's; `<body>` and `<fullitem>` are content.
        let doc = r#"<feed xml:lang="en"><entry><summary xml:lang="fr">s</summary><content>c</content></entry>
<entry><summary xml:lang="fr">s</summary></entry></feed>"#;
        let langs: Vec<_> = scan(doc, all).into_iter().map(|e| e.language).collect();
        assert_eq!(langs, [None, Some("fr".to_string())]);
        let doc = r#"<rss><item><fullitem xml:lang="de">x</fullitem><description xml:lang="fr">d</description></item></rss>"#;
        assert_eq!(scan(doc, all)[0].language.as_deref(), Some("de"));
    }

    #[test]
    fn channel_text_from_the_head() {
        let head = "<rss><channel><dc:titles>no</dc:titles><dc:title>A &amp; B</dc:title><dc:language/>";
        assert_eq!(head_text(head, "dc:title").as_deref(), Some("A & B"));
        assert_eq!(head_text(head, "dc:language"), None);
    }
}
