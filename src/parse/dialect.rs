//! Feed dialects feed-rs does not read, renamed into ones it does before it
//! sees the document (feed-rs returns no items, or fails the whole feed, on
//! each of them):
//!
//! - Atom 0.3 (`http://purl.org/atom/ns#`): the Atom 1.0 namespace;
//!   `issued` → `published`, `modified` → `updated`, `tagline` →
//!   `subtitle`, `copyright` → `rights`.
//! - `<feed>` under a namespace that is not Atom's (drafts of Atom used
//!   several): Atom 1.0's.
//! - Atom entries written `<item>`: `<entry>`.
//! - Atom text constructs typed other than `text`, `html`, `xhtml` (`""`,
//!   `TEXT`, `text/plain`, `application/xhtml+xml`, Atom 0.3's
//!   `mode="escaped"`): the Atom 1.0 name of that type; base64 bodies
//!   (Atom 0.3's `mode="base64"`, Atom 1.0 content of a type neither
//!   text nor XML): the text they encode, as `html` if it was not typed
//!   text; the character references of XHTML constructs: escaped once
//!   more (feed-rs writes XHTML back out with its text unescaped).
//! - RSS 0.90 (`http://my.netscape.com/rdf/simple/0.9/`): RSS 1.0's
//!   namespace; RSS 1.0 items without `<link>`, which feed-rs drops: their
//!   `rdf:about` as the link (an item with neither gets a link no one
//!   keeps, `about:invalid`).
//! - RSS 2.0 under a default namespace of its own (Userland's, Harvard's):
//!   none; RSS 2.0 and 1.0 elements written with a prefix (`<r:item>`,
//!   `<rss:item>`): without it; `<rss>` with a version feed-rs does not
//!   know (`2.00`, `0.93`, `0.94`, none): `2.0`; `<rss>` without
//!   `<channel>`: one around its content.
//! - iTunes's namespace as Apple first spelt it (`…/DTDs/Podcast-1.0.dtd`):
//!   as it is spelt now.
//!
//! Like [`super::repair`], each rewrite renames, wraps, decodes or
//! escapes; none invents text. A document that needs none is not copied.

use std::borrow::Cow;
use std::ops::Range;

const ATOM_03: &str = "http://purl.org/atom/ns#";
const ATOM_10: &str = "http://www.w3.org/2005/Atom";
const RSS_090: &str = "http://my.netscape.com/rdf/simple/0.9/";
const RSS_10: &str = "http://purl.org/rss/1.0/";
const ITUNES: &str = "http://www.itunes.com/dtds/podcast-1.0.dtd";
const ITUNES_2005: &str = "http://www.itunes.com/DTDs/Podcast-1.0.dtd";

/// The document rewritten, or `None` when feed-rs reads it as it is.
pub fn normalize(doc: &str) -> Option<String> {
    let unprefixed = unprefix_rss(doc);
    let doc_now = unprefixed.as_deref().unwrap_or(doc);
    let (name, tag) = root(doc_now)?;
    let local = name.rsplit(':').next().unwrap_or(name);
    let rewritten = match local {
        "feed" => {
            let renamed = (name == "feed").then(|| atom_namespace(doc_now, tag)).flatten();
            atom(renamed.as_deref().unwrap_or(doc_now)).or(renamed)
        }
        "rss" => rss(doc_now, tag),
        "RDF" => rdf(doc_now),
        _ => None,
    };
    let rewritten = rewritten.or(unprefixed);
    // Apple's first podcast spec (2005) spelt its namespace with capitals;
    // feed-rs knows only the lower-case one.
    let current = rewritten.as_deref().unwrap_or(doc);
    memchr::memmem::find(current.as_bytes(), b"www.itunes.com/DTDs/")
        .and_then(|_| replace_namespace(current, ITUNES_2005, ITUNES))
        .or(rewritten)
}

/// RSS written with a namespace prefix on every element (`<r:rss>`,
/// `<rss:item>` under `<rdf:RDF>`), which feed-rs does not read as RSS
/// (RSS 2.0: no items; RSS 1.0: items, but the item scan for `rdf:about`
/// and Dublin Core finds none): the elements without the prefix.
fn unprefix_rss(doc: &str) -> Option<String> {
    let (name, tag) = root(doc)?;
    let prefix = match name.split_once(':') {
        Some((prefix, "rss")) => prefix,
        Some((_, "RDF")) => {
            let start = &doc[tag];
            [RSS_10, RSS_090].iter().find_map(|ns| {
                let at = start
                    .find(&format!("=\"{ns}\""))
                    .or_else(|| start.find(&format!("='{ns}'")))?;
                let decl = start[..at].trim_end().rsplit(char::is_whitespace).next()?;
                decl.strip_prefix("xmlns:")
            })?
        }
        _ => return None,
    };
    let open = format!("<{prefix}:");
    let close = format!("</{prefix}:");
    if !doc.contains(&open) {
        return None;
    }
    Some(doc.replace(&open, "<").replace(&close, "</"))
}

/// The root element's name and the range of its start tag.
fn root(doc: &str) -> Option<(&str, Range<usize>)> {
    let mut from = 0;
    loop {
        let at = from + doc[from..].find('<')?;
        let rest = &doc[at..];
        if rest.starts_with("<?") {
            from = at + rest.find("?>")? + 2;
        } else if rest.starts_with("<!--") {
            from = at + rest.find("-->")? + 3;
        } else if rest.starts_with("<!") {
            from = at + rest.find('>')? + 1;
        } else {
            let end = at + rest.find('>')? + 1;
            let name_len = rest[1..]
                .find(|c: char| c.is_whitespace() || c == '>' || c == '/')
                .unwrap_or(0);
            return Some((&rest[1..1 + name_len], at..end));
        }
    }
}

/// Replaces `from` (as a quoted attribute value) with `to` everywhere.
fn replace_namespace(doc: &str, from: &str, to: &str) -> Option<String> {
    let double = format!("\"{from}\"");
    let single = format!("'{from}'");
    (doc.contains(&double) || doc.contains(&single)).then(|| {
        doc.replace(&double, &format!("\"{to}\""))
            .replace(&single, &format!("'{to}'"))
    })
}

/// A `<feed>` root whose default namespace is neither Atom 1.0's nor
/// 0.3's (drafts of Atom went by `purl.org/pie/`, `example.com/necho`...):
/// Atom 1.0's, as feedparser reads any `<feed>` as Atom (feed-rs reads
/// none of its elements).
fn atom_namespace(doc: &str, tag: Range<usize>) -> Option<String> {
    let (at, ns) = attr_value(&doc[tag.clone()], "xmlns")?;
    if ns == ATOM_10 || ns == ATOM_03 {
        return None;
    }
    let start = tag.start + at;
    Some(format!("{}{ATOM_10}{}", &doc[..start], &doc[start + ns.len()..]))
}

fn atom(doc: &str) -> Option<String> {
    let mut out = replace_namespace(doc, ATOM_03, ATOM_10);
    if let Some(text) = &mut out {
        for (old, new) in [
            ("issued", "published"),
            ("modified", "updated"),
            ("tagline", "subtitle"),
            ("copyright", "rights"),
        ] {
            if text.contains(&format!("<{old}")) {
                *text = rename_element(text, old, new);
            }
        }
    }
    // Entries written as RSS items.
    let current = out.as_deref().unwrap_or(doc);
    if !current.contains("<entry") && current.contains("<item") {
        out = Some(rename_element(current, "item", "entry"));
    }
    let typed = atom_types(out.as_deref().unwrap_or(doc));
    typed.or(out)
}

/// `<old>`/`<old …>`/`</old>` → `new` (unprefixed only).
fn rename_element(doc: &str, old: &str, new: &str) -> String {
    let mut out = String::with_capacity(doc.len() + 16);
    let mut rest = doc;
    while let Some(at) = rest.find('<') {
        out.push_str(&rest[..at]);
        let tag = &rest[at + 1..];
        let (slash, name) = match tag.strip_prefix('/') {
            Some(name) => ("/", name),
            None => ("", tag),
        };
        let matches = name.starts_with(old)
            && name[old.len()..].starts_with(|c: char| c == '>' || c == '/' || c.is_whitespace());
        if matches {
            out.push('<');
            out.push_str(slash);
            out.push_str(new);
            rest = &name[old.len()..];
        } else {
            out.push('<');
            rest = tag;
        }
    }
    out.push_str(rest);
    out
}

/// Rewrites the `type` of Atom text constructs and content to `text`,
/// `html` or `xhtml` where feed-rs would refuse the value, and decodes
/// base64 bodies (Atom 0.3's `mode="base64"`; Atom 1.0 content whose
/// `type` is neither text nor XML, RFC 4287 4.1.3.3) into escaped text:
/// feed-rs would keep the base64 itself as the text. The text of XHTML
/// constructs is escaped once more (see below).
fn atom_types(doc: &str) -> Option<String> {
    // Every start tag holding a `type=` or a `base64`, once each.
    let mut tags: Vec<usize> = memchr::memmem::find_iter(doc.as_bytes(), "type=")
        .chain(memchr::memmem::find_iter(doc.as_bytes(), "base64"))
        .filter_map(|at| {
            // A start tag is short: look back a little, not to the start of
            // a long text full of `base64` data URIs.
            let from = at.saturating_sub(4096);
            let open = from + doc.as_bytes()[from..at].iter().rposition(|&b| b == b'<')?;
            (!doc[open..at].contains('>')).then_some(open)
        })
        .collect();
    tags.sort_unstable();
    tags.dedup();
    let mut edits: Vec<(Range<usize>, Cow<'static, str>)> = Vec::new();
    // The end of the last body rewritten: tags inside it are its text.
    let mut covered = 0;
    for open in tags {
        if open < covered {
            continue;
        }
        let Some(tag_len) = doc[open..].find('>') else {
            continue;
        };
        let tag_end = open + tag_len;
        let tag = &doc[open..tag_end];
        let name = tag[1..]
            .split(|c: char| c.is_whitespace() || c == '/')
            .next()
            .unwrap_or("");
        let local = name.rsplit(':').next().unwrap_or(name);
        let is_text = matches!(local, "title" | "subtitle" | "summary" | "rights");
        if !is_text && local != "content" {
            continue;
        }
        let mode = attr_value(tag, "mode").map(|(_, m)| m.trim().to_ascii_lowercase());
        let escaped = mode.as_deref() == Some("escaped");
        let typed = attr_value(tag, "type");
        let lower = typed.map(|(_, v)| v.trim().to_ascii_lowercase());
        let has_src = attr_value(tag, "src").is_some();
        let binary = !has_src
            && lower.as_deref().is_some_and(|t| {
                !matches!(t, "" | "text" | "html" | "xhtml")
                    && !t.starts_with("text/")
                    && !t.ends_with("+xml")
                    && !t.ends_with("/xml")
            });
        let base64 = mode.as_deref() == Some("base64") || binary;
        let wanted = match lower.as_deref() {
            None => None,
            Some(_) if binary => Some("html"),
            Some("" | "text" | "text/plain") => Some("text"),
            Some("html" | "text/html") => Some("html"),
            Some("xhtml" | "application/xhtml+xml") if escaped || base64 => Some("html"),
            Some("xhtml" | "application/xhtml+xml") => Some("xhtml"),
            Some(_) if is_text => Some("text"),
            Some(_) => None,
        };
        if let (Some((at, value)), Some(wanted)) = (typed, wanted) {
            if value != wanted {
                let start = open + at;
                edits.push((start..start + value.len(), Cow::Borrowed(wanted)));
            }
        }
        // feed-rs writes XHTML back out without escaping its text again:
        // `&lt;blink&gt;` would come back as a `<blink>` tag (and vanish
        // from the text). Escaped once more here, it comes back escaped.
        // (feed-rs/feed-rs#274 proposes the fix upstream; when a release
        // has it, `escaped_markup_in_xhtml_stays_text` fails: drop this.)
        let xhtml = !base64 && wanted == Some("xhtml");
        if (base64 || xhtml) && !tag.ends_with('/') && !has_src {
            let body_start = tag_end + 1;
            let close = format!("</{name}");
            let Some(len) = doc[body_start..].find(&close) else {
                continue;
            };
            let body = &doc[body_start..body_start + len];
            covered = body_start + len;
            if base64 {
                let decoded = base64_text(body).unwrap_or_default();
                edits.push((body_start..covered, Cow::Owned(escape_text(&decoded))));
            } else if body.contains('&') {
                edits.push((body_start..covered, Cow::Owned(body.replace('&', "&amp;"))));
            }
        }
    }
    if edits.is_empty() {
        return None;
    }
    let mut out = String::with_capacity(doc.len());
    let mut last = 0;
    for (range, value) in edits {
        out.push_str(&doc[last..range.start]);
        out.push_str(&value);
        last = range.end;
    }
    out.push_str(&doc[last..]);
    Some(out)
}

/// The value of attribute `name` in a start tag, with its offset there.
fn attr_value<'a>(tag: &'a str, name: &str) -> Option<(usize, &'a str)> {
    let at = find_attr(tag, name)?;
    let rest = &tag[at + name.len()..];
    let open = rest.find(['"', '\''])?;
    let quote = rest.as_bytes()[open] as char;
    let len = rest[open + 1..].find(quote)?;
    let start = at + name.len() + open + 1;
    Some((start, &tag[start..start + len]))
}

/// The text a base64 body encodes: `None` when it is not base64 or not
/// UTF-8 text (an image has no words to keep).
fn base64_text(body: &str) -> Option<String> {
    let body = body.trim();
    let body = body
        .strip_prefix("<![CDATA[")
        .and_then(|b| b.strip_suffix("]]>"))
        .unwrap_or(body);
    let mut bytes = Vec::with_capacity(body.len() / 4 * 3);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in body.bytes() {
        let value = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            b'=' => break,
            c if c.is_ascii_whitespace() => continue,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(value);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            bytes.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    String::from_utf8(bytes).ok()
}

/// `text` as XML character data.
fn escape_text(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn rss(doc: &str, tag: Range<usize>) -> Option<String> {
    let start = &doc[tag.clone()];
    let mut new_tag = start.to_string();
    // A default namespace of its own puts every element outside RSS.
    if let Some(at) = find_attr(&new_tag, "xmlns") {
        new_tag.replace_range(at..at + "xmlns".len(), "xmlns:rss-default");
    }
    match find_attr(&new_tag, "version") {
        Some(at) => {
            let value_at = at + "version".len();
            let rest = &new_tag[value_at..];
            let quote_at = rest.find(['"', '\''])?;
            let quote = rest.as_bytes()[quote_at] as char;
            let value_start = value_at + quote_at + 1;
            let len = new_tag[value_start..].find(quote)?;
            let version = &new_tag[value_start..value_start + len];
            if !matches!(version, "2.0" | "0.91" | "0.92") {
                new_tag.replace_range(value_start..value_start + len, "2.0");
            }
        }
        None => new_tag.insert_str(4, " version=\"2.0\""),
    }
    let has_channel = doc.contains("<channel");
    if new_tag == start && has_channel {
        return None;
    }
    let mut out = String::with_capacity(doc.len() + 32);
    out.push_str(&doc[..tag.start]);
    out.push_str(&new_tag);
    let body = &doc[tag.end..];
    if has_channel {
        out.push_str(body);
    } else {
        out.push_str("<channel>");
        match body.rfind("</rss") {
            Some(close) => {
                out.push_str(&body[..close]);
                out.push_str("</channel>");
                out.push_str(&body[close..]);
            }
            None => out.push_str(body),
        }
    }
    Some(out)
}

/// The offset of attribute `name` (followed by `=`) in a start tag.
fn find_attr(tag: &str, name: &str) -> Option<usize> {
    let mut from = 0;
    while let Some(at) = tag[from..].find(name) {
        let at = from + at;
        let before = tag[..at].chars().next_back();
        let after = tag[at + name.len()..].trim_start();
        if before.is_some_and(char::is_whitespace) && after.starts_with('=') {
            return Some(at);
        }
        from = at + name.len();
    }
    None
}

fn rdf(doc: &str) -> Option<String> {
    let renamed = replace_namespace(doc, RSS_090, RSS_10);
    let text = renamed.as_deref().unwrap_or(doc);
    linkless_items(text).or(renamed)
}

/// RSS 1.0 items without `<link>` get their `rdf:about` as one.
fn linkless_items(doc: &str) -> Option<String> {
    let mut out = String::new();
    let mut last = 0;
    let mut from = 0;
    while let Some(at) = doc[from..].find("<item") {
        let start = from + at;
        from = start + 5;
        if !doc[from..].starts_with(|c: char| c.is_whitespace() || c == '>') {
            continue;
        }
        let Some(tag_len) = doc[start..].find('>') else {
            break;
        };
        let tag_end = start + tag_len + 1;
        let end = doc[tag_end..].find("</item>").map_or(doc.len(), |e| tag_end + e);
        if doc[tag_end..end].contains("<link") {
            continue;
        }
        let tag = &doc[start..tag_end];
        let about = find_attr(tag, "rdf:about").and_then(|a| {
            let rest = &tag[a + "rdf:about".len()..];
            let open = rest.find(['"', '\''])?;
            let quote = rest.as_bytes()[open] as char;
            let close = rest[open + 1..].find(quote)?;
            Some(&rest[open + 1..open + 1 + close])
        });
        out.push_str(&doc[last..tag_end]);
        out.push_str("<link>");
        out.push_str(about.filter(|a| !a.trim().is_empty()).unwrap_or("about:invalid"));
        out.push_str("</link>");
        last = tag_end;
    }
    if last == 0 {
        return None;
    }
    out.push_str(&doc[last..]);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atom_03_becomes_atom_10() {
        let doc = r#"<?xml version="1.0"?><feed version="0.3" xmlns="http://purl.org/atom/ns#"><tagline>t</tagline>
<entry><title type="text/plain" mode="escaped">a</title><issued>2004-01-01T00:00:00Z</issued><modified>2004-01-02T00:00:00Z</modified>
<content type="application/xhtml+xml" mode="xml"><div/></content><summary type="text/html" mode="escaped">&lt;b&gt;s&lt;/b&gt;</summary></entry></feed>"#;
        let out = normalize(doc).unwrap();
        assert!(out.contains(r#"xmlns="http://www.w3.org/2005/Atom""#), "{out}");
        assert!(
            out.contains(
                "<published>2004-01-01T00:00:00Z</published><updated>2004-01-02T00:00:00Z</updated>"
            ),
            "{out}"
        );
        assert!(out.contains("<subtitle>t</subtitle>"), "{out}");
        assert!(out.contains(r#"<title type="text" mode="escaped">"#), "{out}");
        assert!(out.contains(r#"<content type="xhtml" mode="xml">"#), "{out}");
        assert!(out.contains(r#"<summary type="html""#), "{out}");
    }

    #[test]
    fn atom_types_feed_rs_refuses() {
        let doc = r#"<feed xmlns="http://www.w3.org/2005/Atom"><title type="">a</title><entry><title type="TEXT">b</title>
<link type="text/html" href="x"/><content type="text/plain">c</content></entry></feed>"#;
        let out = normalize(doc).unwrap();
        assert!(
            out.contains(r#"<title type="text">a"#) && out.contains(r#"<title type="text">b"#),
            "{out}"
        );
        assert!(
            out.contains(r#"<link type="text/html""#),
            "links keep their media type: {out}"
        );
        assert!(out.contains(r#"<content type="text">c"#), "{out}");
        assert_eq!(
            normalize(r#"<feed xmlns="http://www.w3.org/2005/Atom"><title type="html">x</title></feed>"#),
            None
        );
    }

    #[test]
    fn rss_versions_namespaces_and_channels() {
        assert_eq!(
            normalize(r#"<rss version="2.00"><channel></channel></rss>"#).as_deref(),
            Some(r#"<rss version="2.0"><channel></channel></rss>"#)
        );
        assert_eq!(
            normalize(r#"<rss><channel></channel></rss>"#).as_deref(),
            Some(r#"<rss version="2.0"><channel></channel></rss>"#)
        );
        assert_eq!(
            normalize(
                r#"<rss version="2.0" xmlns="http://backend.userland.com/rss2"><channel></channel></rss>"#
            )
            .as_deref(),
            Some(
                r#"<rss version="2.0" xmlns:rss-default="http://backend.userland.com/rss2"><channel></channel></rss>"#
            )
        );
        assert_eq!(
            normalize(r#"<rss version="2.0"><item><title>a</title></item></rss>"#).as_deref(),
            Some(r#"<rss version="2.0"><channel><item><title>a</title></item></channel></rss>"#)
        );
        assert_eq!(
            normalize(r#"<rss version="0.91"><channel></channel></rss>"#),
            None
        );
    }

    #[test]
    fn rss_090_and_linkless_rss_10_items() {
        let doc = r#"<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://my.netscape.com/rdf/simple/0.9/">
<item rdf:about="http://e.example/1"><title>a</title></item><item><title>b</title></item><item><link>http://e.example/3</link></item></rdf:RDF>"#;
        let out = normalize(doc).unwrap();
        assert!(out.contains(r#"xmlns="http://purl.org/rss/1.0/""#), "{out}");
        assert!(
            out.contains(r#"<item rdf:about="http://e.example/1"><link>http://e.example/1</link><title>a"#),
            "{out}"
        );
        assert!(out.contains("<item><link>about:invalid</link><title>b"), "{out}");
        assert!(
            out.contains("<item><link>http://e.example/3</link></item>"),
            "{out}"
        );
    }

    #[test]
    fn base64_bodies_are_decoded() {
        // "a <b>c</b>" and "x & y".
        let doc = r#"<feed xmlns="http://purl.org/atom/ns#"><title mode="base64"> eCAmIHk= </title>
<entry><content type="text/html" mode="base64">YSA8Yj5jPC9iPg==</content>
<summary type="application/octet-stream">YSA8Yj5jPC9iPg==</summary>
<content type="image/png" src="https://x.example/a.png"/><title>base64</title></entry></feed>"#;
        let out = normalize(doc).unwrap();
        assert!(out.contains(r#"<title mode="base64">x &amp; y</title>"#), "{out}");
        assert!(
            out.contains(r#"<content type="html" mode="base64">a &lt;b&gt;c&lt;/b&gt;</content>"#),
            "{out}"
        );
        assert!(
            out.contains(r#"<summary type="html">a &lt;b&gt;c&lt;/b&gt;</summary>"#),
            "{out}"
        );
        assert!(
            out.contains(r#"<content type="image/png" src="https://x.example/a.png"/><title>base64</title>"#),
            "{out}"
        );
        assert_eq!(base64_text("not base64!"), None);
        assert_eq!(base64_text("/w=="), None, "not UTF-8");
    }

    #[test]
    fn prefixed_rss_elements_lose_their_prefix() {
        assert_eq!(
            normalize(r#"<r:rss version="2.0" xmlns:r="urn:x"><r:channel><r:item><dc:title>t</dc:title></r:item></r:channel></r:rss>"#)
                .as_deref(),
            Some(r#"<rss version="2.0" xmlns:r="urn:x"><channel><item><dc:title>t</dc:title></item></channel></rss>"#)
        );
        let rdf = r#"<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns:rss='http://purl.org/rss/1.0/'><rss:item rdf:about="a"><rss:link>a</rss:link></rss:item></rdf:RDF>"#;
        assert_eq!(
            normalize(rdf).as_deref(),
            Some(
                r#"<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns:rss='http://purl.org/rss/1.0/'><item rdf:about="a"><link>a</link></item></rdf:RDF>"#
            )
        );
    }

    #[test]
    fn xhtml_text_is_escaped_once_more() {
        let doc = r#"<feed xmlns="http://www.w3.org/2005/Atom"><entry><title type="xhtml"><div>a &lt;b&gt; &amp;amp; <i>c</i></div></title>
<content type="xhtml"><div><title type="html">&amp;</title></div></content><summary type="html">&lt;b&gt;</summary></entry></feed>"#;
        let out = normalize(doc).unwrap();
        assert!(
            out.contains(
                r#"<title type="xhtml"><div>a &amp;lt;b&amp;gt; &amp;amp;amp; <i>c</i></div></title>"#
            ),
            "{out}"
        );
        assert!(
            out.contains(
                r#"<content type="xhtml"><div><title type="html">&amp;amp;</title></div></content>"#
            ),
            "an element inside XHTML is its text: {out}"
        );
        assert!(
            out.contains(r#"<summary type="html">&lt;b&gt;</summary>"#),
            "{out}"
        );
    }

    #[test]
    fn itunes_2005_namespace() {
        assert_eq!(
            normalize(r#"<rss version="2.0" xmlns:itunes="http://www.itunes.com/DTDs/Podcast-1.0.dtd"><channel/></rss>"#)
                .as_deref(),
            Some(r#"<rss version="2.0" xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd"><channel/></rss>"#)
        );
    }

    #[test]
    fn feed_under_another_namespace_is_atom() {
        assert_eq!(
            normalize(r#"<feed version="0.3" xmlns="http://purl.org/pie/"><title>t</title></feed>"#)
                .as_deref(),
            Some(r#"<feed version="0.3" xmlns="http://www.w3.org/2005/Atom"><title>t</title></feed>"#)
        );
        assert_eq!(
            normalize(r#"<feed xmlns="http://www.w3.org/2005/Atom"><title>t</title></feed>"#),
            None
        );
        assert_eq!(
            normalize(r#"<a:feed xmlns:a="urn:x" xmlns="urn:y"><a:title>t</a:title></a:feed>"#),
            None
        );
    }
}
