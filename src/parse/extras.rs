//! What feed-rs does not keep of each item, read from the document's text:
//! RSS 1.0's `rdf:about` (the item's identifier), whether an RSS `<guid>`
//! is a permalink, `xml:lang` on items and on their content, `dc:title`,
//! `dc:description`, `dc:author`/`dc:creator` in RSS 2.0 and
//! `dcterms:issued`/`dcterms:modified`. [`crate::parse`] uses a fact only
//! where feed-rs left the field empty, and only when the document has as
//! many items as feed-rs returned entries (they pair by position).
//!
//! A light scan, not a second XML parse: each item's slice is searched for
//! the few tags above; values are unescaped like XML text.

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

/// Whether the document may hold anything [`scan`] reads.
pub fn worth_scanning(doc: &str) -> bool {
    [
        "rdf:about",
        "<guid",
        "xml:lang",
        "<dc:",
        "<dcterms:",
        "<body",
        "<xhtml:body",
        "<fullitem",
    ]
    .iter()
    .any(|needle| doc.contains(needle))
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

/// The facts of every item, or `None` when the document has no items.
pub fn scan(doc: &str) -> Vec<Extras> {
    let open = if find_tag(doc, "<item", 0).is_some() {
        "<item"
    } else {
        "<entry"
    };
    let close = if open == "<item" { "</item>" } else { "</entry>" };
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(start) = find_tag(doc, open, from) {
        let Some(tag_len) = doc[start..].find('>') else {
            break;
        };
        let tag = &doc[start..start + tag_len];
        let body_start = start + tag_len + 1;
        let next = find_tag(doc, open, body_start).unwrap_or(doc.len());
        let end = doc[body_start..next].find(close).map_or(next, |e| body_start + e);
        let body = &doc[body_start..end];
        from = end.max(body_start);
        out.push(Extras {
            about: attr(tag, "rdf:about").filter(|a| !a.trim().is_empty()),
            permalink_guid: start_tag(body, "guid")
                .is_some_and(|g| attr(g, "isPermaLink").is_none_or(|v| v.trim() != "false")),
            language: ["content:encoded", "content", "description", "summary", "title"]
                .iter()
                .filter_map(|name| start_tag(body, name))
                .find_map(|t| attr(t, "xml:lang"))
                .or_else(|| attr(tag, "xml:lang")),
            title: element_text(body, "dc:title"),
            description: element_text(body, "dc:description"),
            body: element_text(body, "xhtml:body")
                .or_else(|| element_text(body, "body"))
                .or_else(|| element_text(body, "fullitem")),
            author: element_text(body, "dc:creator").or_else(|| element_text(body, "dc:author")),
            issued: element_text(body, "dcterms:issued").or_else(|| element_text(body, "dcterms:created")),
            modified: element_text(body, "dcterms:modified"),
        });
    }
    out
}

/// The position of `open` (`<item`) as a whole tag name, from `from`.
fn find_tag(doc: &str, open: &str, from: usize) -> Option<usize> {
    let mut from = from;
    while let Some(at) = doc.get(from..)?.find(open) {
        let pos = from + at;
        match doc[pos + open.len()..].chars().next() {
            Some('>' | ' ' | '\t' | '\n' | '\r' | '/') => return Some(pos),
            _ => from = pos + open.len(),
        }
    }
    None
}

/// The start tag of the first `name` element in `body` (without `>`).
fn start_tag<'a>(body: &'a str, name: &str) -> Option<&'a str> {
    let open = format!("<{name}");
    let at = find_tag(body, &open, 0)?;
    let len = body[at..].find('>')?;
    Some(&body[at..at + len])
}

/// The text of the first `name` element in `body`, unescaped, trimmed.
fn element_text(body: &str, name: &str) -> Option<String> {
    let tag = start_tag(body, name)?;
    if tag.ends_with('/') {
        return None;
    }
    let from = body.find(tag)? + tag.len() + 1;
    let close = format!("</{name}>");
    let len = body[from..].find(&close)?;
    let raw = body[from..from + len].trim();
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
        assert!(worth_scanning(doc));
        assert_eq!(root_language(doc).as_deref(), Some("de"));
        let items = scan(doc);
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
    }
}
