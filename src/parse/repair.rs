//! Repairs for ill-formed feeds that feed-rs rejects whole: a bare `&`,
//! HTML entities XML does not define, `<rss>` without `version`, a body
//! cut short. Each repair only escapes, closes or drops; none invents
//! content. [`salvage`] is the last resort: every item read on its own,
//! keeping those that parse.

/// A repaired document and what was done to it.
#[derive(Debug)]
pub struct Repaired {
    pub doc: String,
    pub fixes: Vec<&'static str>,
}

/// The closing tags of the document's root, by its kind.
fn closers(doc: &str) -> Option<(&'static str, &'static str)> {
    if doc.contains("<rss") {
        Some(("</item>", "</channel></rss>"))
    } else if doc.contains("<rdf:RDF") {
        Some(("</item>", "</rdf:RDF>"))
    } else if doc.contains("<feed") {
        Some(("</entry>", "</feed>"))
    } else {
        None
    }
}

/// Applies the textual repairs. `fixes` is empty when nothing changed.
pub fn repair(doc: &str) -> Repaired {
    let mut fixes = Vec::new();
    let (escaped, changed) = escape_ampersands(doc);
    if changed {
        fixes.push("escaped bare '&' and HTML entities");
    }
    let mut doc = escaped;
    if let Some(at) = doc.find("<rss") {
        let tag_end = doc[at..].find('>').map(|e| at + e).unwrap_or(doc.len());
        if !doc[at..tag_end].contains("version") {
            doc.insert_str(at + 4, " version=\"2.0\"");
            fixes.push("added the missing rss version");
        }
    }
    if let Some((item_close, root_close)) = closers(&doc) {
        let root_tag = root_close.rsplit("</").next().unwrap_or("");
        if !doc.trim_end().ends_with(&format!("</{root_tag}")) {
            let unfinished_end = doc
                .rfind("</")
                .is_some_and(|at| root_close.ends_with(&format!("{}>", doc[at..].trim_end())));
            let cut = doc.rfind(item_close).map(|i| i + item_close.len());
            if unfinished_end {
                // Only the root's closing `>` is missing (`</feed`):
                // nothing was lost.
                let end = doc.trim_end().len();
                doc.truncate(end);
                doc.push('>');
                fixes.push("closed the root's unfinished end tag");
            } else if let Some(cut) = cut {
                doc.truncate(cut);
                doc.push_str(root_close);
                fixes.push("closed a truncated document after its last complete item");
            }
            // A document cut before any complete item stays an error, to
            // be fetched again whole.
        }
    }
    Repaired { doc, fixes }
}

/// Escapes `&` that does not start a character or entity reference XML
/// knows, turning HTML named entities into numeric references.
fn escape_ampersands(doc: &str) -> (String, bool) {
    match rewrite_ampersands(doc, true) {
        Some(out) => (out, true),
        None => (doc.to_string(), false),
    }
}

/// `doc` with HTML named entities (`&nbsp;`, `&scedil;`) as numeric
/// references XML reads, or `None` when it has none. Not a repair: feeds
/// use them everywhere, and feedwatch has always read them.
pub fn html_entities_to_numeric(doc: &str) -> Option<String> {
    rewrite_ampersands(doc, false)
}

/// HTML named entities become numeric references; with `bare`, every
/// other `&` that XML would reject is escaped too. `None`: nothing changed.
fn rewrite_ampersands(doc: &str, bare: bool) -> Option<String> {
    if !doc.contains('&') {
        return None;
    }
    let mut out = String::new();
    let mut changed = false;
    let mut copied = 0;
    let mut from = 0;
    while let Some(at) = doc[from..].find('&') {
        let at = from + at;
        from = at + 1;
        let after = &doc[at + 1..];
        let name_len = after
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '#'))
            .unwrap_or(after.len());
        let name = &after[..name_len];
        let terminated = after[name_len..].starts_with(';');
        let replacement = if terminated && !name.is_empty() {
            let known = matches!(name, "amp" | "lt" | "gt" | "quot" | "apos")
                || (name.starts_with('#') && name.len() > 1);
            if known {
                continue;
            } else if let Some(text) = super::html::entity(name) {
                from = at + 1 + name_len + 1;
                text.chars()
                    .map(|c| format!("&#{};", c as u32))
                    .collect::<String>()
            } else if bare {
                "&amp;".to_string()
            } else {
                continue;
            }
        } else if bare {
            "&amp;".to_string()
        } else {
            continue;
        };
        if !changed {
            out.reserve(doc.len() + 64);
            changed = true;
        }
        out.push_str(&doc[copied..at]);
        out.push_str(&replacement);
        copied = if replacement == "&amp;" { at + 1 } else { from };
    }
    if !changed {
        return None;
    }
    out.push_str(&doc[copied..]);
    Some(out)
}

/// Reads each item on its own inside the document's head and keeps those
/// that `parses` accepts. Returns the rebuilt document and the number of
/// items dropped, or `None` when no item survives.
pub fn salvage(doc: &str, parses: impl Fn(&str) -> bool) -> Option<(String, usize)> {
    let (item_close, root_close) = closers(doc)?;
    let item_open = if item_close == "</entry>" {
        "<entry"
    } else {
        "<item"
    };
    let first = find_tag(doc, item_open)?;
    let head = &doc[..first];
    let mut kept = Vec::new();
    let mut dropped = 0;
    let mut rest = &doc[first..];
    while let Some(start) = find_tag(rest, item_open) {
        let after = &rest[start..];
        let next = find_tag(&after[1..], item_open).map(|n| n + 1);
        let end = match after.find(item_close) {
            Some(e) if next.is_none_or(|n| e < n) => e + item_close.len(),
            _ => next.unwrap_or(after.len()),
        };
        let item = &after[..end];
        if parses(&format!("{head}{item}{root_close}")) {
            kept.push(item);
        } else {
            dropped += 1;
        }
        rest = &after[end..];
    }
    if kept.is_empty() {
        return None;
    }
    Some((format!("{head}{}{root_close}", kept.concat()), dropped))
}

/// `doc` without the numeric character references XML forbids (`&#0;`, a
/// surrogate, beyond U+10FFFF), or `None` when it has none. feed-rs
/// drops the whole text holding one: a single `&#0;` emptied a title.
pub fn drop_bad_char_refs(doc: &str) -> Option<String> {
    if !doc.contains("&#") {
        return None;
    }
    let mut out = String::with_capacity(doc.len());
    let mut rest = doc;
    let mut changed = false;
    while let Some(at) = rest.find("&#") {
        out.push_str(&rest[..at]);
        let after = &rest[at + 2..];
        let (digits, radix) = match after.strip_prefix(['x', 'X']) {
            Some(hex) => (hex, 16),
            None => (after, 10),
        };
        let len = digits.find(|c: char| !c.is_digit(radix)).unwrap_or(digits.len());
        let forbidden = len > 0
            && digits[len..].starts_with(';')
            && u32::from_str_radix(&digits[..len], radix)
                .ok()
                .and_then(char::from_u32)
                .is_none_or(|c| c == '\0');
        if forbidden {
            changed = true;
            rest = &digits[len + 1..];
        } else {
            out.push_str("&#");
            rest = after;
        }
    }
    out.push_str(rest);
    changed.then_some(out)
}

/// The position of the first `<item` or `<entry` tag.
pub fn find_item(doc: &str) -> Option<usize> {
    match (find_tag(doc, "<item"), find_tag(doc, "<entry")) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// The position of `<item` or `<entry` as a whole tag name.
fn find_tag(doc: &str, open: &str) -> Option<usize> {
    let mut from = 0;
    while let Some(at) = doc[from..].find(open) {
        let pos = from + at;
        match doc[pos + open.len()..].chars().next() {
            Some('>' | ' ' | '\t' | '\n' | '\r' | '/') => return Some(pos),
            _ => from = pos + open.len(),
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_only_what_xml_would_reject() {
        let (out, changed) = escape_ampersands("A & B &amp; C &#1575; &nbsp;D &eacute; &bogus; &");
        assert!(changed);
        assert_eq!(out, "A &amp; B &amp; C &#1575; &#160;D &#233; &amp;bogus; &amp;");
        assert_eq!(escape_ampersands("a &lt; b").0, "a &lt; b");
    }

    #[test]
    fn adds_version_and_closes_truncated_documents() {
        let r = repair("<rss><channel><title>t</title><item><title>1</title></item><item><title>2</ti");
        assert_eq!(
            r.doc,
            "<rss version=\"2.0\"><channel><title>t</title><item><title>1</title></item></channel></rss>"
        );
        assert_eq!(r.fixes.len(), 2);
        let ok = repair("<rss version=\"2.0\"><channel></channel></rss>\n");
        assert!(ok.fixes.is_empty());
        // No item complete: left as it is (an error, fetched again whole).
        let r = repair("<rss version=\"2.0\"><channel><title>t</title><item><title><![CD");
        assert!(r.fixes.is_empty());
        // Cut inside the root's closing tag: only its `>` is missing.
        let r = repair("<feed xmlns=\"http://www.w3.org/2005/Atom\"><title>t</title></feed\n");
        assert_eq!(
            r.doc,
            "<feed xmlns=\"http://www.w3.org/2005/Atom\"><title>t</title></feed>"
        );
        let r = repair("<feed xmlns=\"http://www.w3.org/2005/Atom\"><title>t</ti");
        assert!(r.fixes.is_empty());
    }

    #[test]
    fn drops_only_forbidden_character_references() {
        assert_eq!(
            drop_bad_char_refs("a&#0;b&#x0;c&#xD800;d&#1114112;e&#99999999999;f&#65;g&#x1F600;h&#;i&#12")
                .as_deref(),
            Some("abcdef&#65;g&#x1F600;h&#;i&#12")
        );
        assert_eq!(drop_bad_char_refs("a &#65; &amp; b"), None);
        assert_eq!(drop_bad_char_refs("plain"), None);
    }

    #[test]
    fn salvage_keeps_the_items_that_parse() {
        let doc = "<rss><channel><item><b>ok</b></item><item><b>bad</c></item><item><b>ok2</b></item></channel></rss>";
        let (out, dropped) = salvage(doc, |d| !d.contains("</c>")).unwrap();
        assert_eq!(dropped, 1);
        assert_eq!(
            out,
            "<rss><channel><item><b>ok</b></item><item><b>ok2</b></item></channel></rss>"
        );
        assert!(salvage(doc, |_| false).is_none());
    }
}
