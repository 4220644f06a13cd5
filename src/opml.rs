//! OPML subscription lists: read (any version, or none; nested outlines
//! become tags) and write (OPML 2.0). Pure: strings in, strings out.

use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;

/// One feed of an OPML file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpmlFeed {
    pub url: String,
    pub name: Option<String>,
    pub site_url: Option<String>,
    pub tags: Vec<String>,
}

/// An OPML document that cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum OpmlError {
    #[error("not well-formed XML at byte {position}")]
    Xml {
        position: u64,
        #[source]
        source: quick_xml::Error,
    },
    #[error("not an OPML document (no <opml> element)")]
    NotOpml,
}

fn attr(tag: &BytesStart<'_>, name: &str) -> Option<String> {
    tag.attributes().flatten().find_map(|a| {
        a.key
            .as_ref()
            .eq_ignore_ascii_case(name.as_bytes())
            .then(|| {
                a.normalized_value(quick_xml::XmlVersion::Implicit1_0)
                    .ok()
                    .map(|v| v.trim().to_string())
            })
            .flatten()
            .filter(|v| !v.is_empty())
    })
}

/// The feeds of an OPML document, in document order. Outlines without
/// `xmlUrl` are folders: their `text` (or `title`) is a tag of every feed
/// inside; a feed's `category` attribute adds tags too.
pub fn parse(doc: &str) -> Result<Vec<OpmlFeed>, OpmlError> {
    let mut reader = Reader::from_str(doc);
    let mut folders: Vec<Option<String>> = Vec::new();
    let mut feeds = Vec::new();
    let mut saw_opml = false;
    loop {
        let event = reader.read_event().map_err(|source| OpmlError::Xml {
            position: reader.buffer_position(),
            source,
        })?;
        match event {
            Event::Start(tag) | Event::Empty(tag) if tag.name().as_ref().eq_ignore_ascii_case(b"opml") => {
                saw_opml = true;
            }
            Event::Start(ref tag) | Event::Empty(ref tag)
                if tag.name().as_ref().eq_ignore_ascii_case(b"outline") =>
            {
                let is_start = matches!(event, Event::Start(_));
                if let Some(url) = attr(tag, "xmlUrl") {
                    let mut tags: Vec<String> = folders.iter().flatten().cloned().collect();
                    if let Some(categories) = attr(tag, "category") {
                        for c in categories.split(',') {
                            let c = c.trim().trim_start_matches('/').to_string();
                            if !c.is_empty() && !tags.contains(&c) {
                                tags.push(c);
                            }
                        }
                    }
                    feeds.push(OpmlFeed {
                        url,
                        name: attr(tag, "title").or_else(|| attr(tag, "text")),
                        site_url: attr(tag, "htmlUrl"),
                        tags,
                    });
                    if is_start {
                        folders.push(None);
                    }
                } else if is_start {
                    folders.push(attr(tag, "text").or_else(|| attr(tag, "title")));
                }
            }
            Event::End(tag) if tag.name().as_ref().eq_ignore_ascii_case(b"outline") => {
                folders.pop();
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if !saw_opml {
        return Err(OpmlError::NotOpml);
    }
    Ok(feeds)
}

/// An OPML 2.0 document listing `feeds`; tags go in `category`.
pub fn render(title: &str, feeds: &[OpmlFeed]) -> String {
    use quick_xml::escape::escape;
    let mut out = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<opml version=\"2.0\">\n  <head><title>{}</title></head>\n  <body>\n",
        escape(title)
    );
    for feed in feeds {
        let name = feed.name.as_deref().unwrap_or(&feed.url);
        out.push_str(&format!(
            "    <outline type=\"rss\" text=\"{}\" title=\"{}\" xmlUrl=\"{}\"",
            escape(name),
            escape(name),
            escape(feed.url.as_str())
        ));
        if let Some(site) = &feed.site_url {
            out.push_str(&format!(" htmlUrl=\"{}\"", escape(site.as_str())));
        }
        if !feed.tags.is_empty() {
            out.push_str(&format!(" category=\"{}\"", escape(feed.tags.join(",").as_str())));
        }
        out.push_str("/>\n");
    }
    out.push_str("  </body>\n</opml>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_outlines_become_tags_and_version_is_optional() {
        let doc = r#"<?xml version="1.0"?><opml><head/><body>
            <outline text="Iran"><outline text="Wires">
              <outline text="Mehr" xmlUrl="https://en.mehrnews.com/rss" htmlUrl="https://en.mehrnews.com/"/>
            </outline>
            <outline title="IRNA &amp; co" xmlUrl="https://irna.example/rss" category="/wire,fa"/></outline>
            <outline text="Loose" xmlUrl="https://loose.example/feed"/>
        </body></opml>"#;
        let feeds = parse(doc).unwrap();
        assert_eq!(feeds.len(), 3);
        assert_eq!(feeds[0].tags, ["Iran", "Wires"]);
        assert_eq!(feeds[0].name.as_deref(), Some("Mehr"));
        assert_eq!(feeds[1].tags, ["Iran", "wire", "fa"]);
        assert_eq!(feeds[1].name.as_deref(), Some("IRNA & co"));
        assert!(feeds[2].tags.is_empty());
        assert!(matches!(parse("<rss/>"), Err(OpmlError::NotOpml)));
    }

    #[test]
    fn render_round_trips() {
        let feeds = vec![OpmlFeed {
            url: "https://a.example/rss?x=1&y=2".into(),
            name: Some("A \"quoted\"".into()),
            site_url: None,
            tags: vec!["wire".into(), "iran".into()],
        }];
        assert_eq!(parse(&render("feedwatch", &feeds)).unwrap(), feeds);
    }
}
