//! Article extraction: a fetched article page → its main text and the
//! metadata a feed item may have left out (issue 24). Pure: no IO; the
//! caller fetches the page and decodes it to a `String`.
//!
//! The text comes from the `trafilatura` crate (a Rust port of
//! go-trafilatura) with its readability/jusText fallback on. It was chosen
//! by measurement on the ScrapingHub article-extraction benchmark against
//! `rs-trafilatura`, `dom_smoothie` and `readability`: BENCHMARKS.md,
//! "Article extraction (issue 24)", has the table and the commands
//! (`examples/extract_eval.rs` scores this function).
//!
//! The metadata is read here, from the same parsed document, in this order
//! of preference (the first non-empty value wins):
//!
//! | field | sources |
//! | --- | --- |
//! | `title` | `og:title`, JSON-LD `headline`/`name`, `twitter:title`, `<title>` |
//! | `lang` | `<html lang>`, `Content-Language` meta, `og:locale`, JSON-LD `inLanguage` |
//! | `published` | JSON-LD `datePublished`, `article:published_time`, `itemprop=datePublished`, `pubdate`/`date`/`dc.date` metas |
//! | `author` | JSON-LD `author` (a string, a `Person`/`Organization`, an `@id` reference, or an array of these), `author`, `article:author` (unless a URL), `dc.creator` |
//! | `canonical_url` | `<link rel=canonical>`, `og:url`, JSON-LD `url`/`mainEntityOfPage` |
//!
//! The JSON-LD object read is the page's article (an `@type` ending in
//! `Article`, `Posting` or `Report`, also inside `@graph` and arrays), else
//! the first object with a `datePublished`. Relative URLs are resolved
//! against the page URL; only `http`/`https` ones are kept.
//!
//! Whitespace is normalised as in every item's text ([`crate::parse::html`]):
//! one line, runs of whitespace collapsed to one space, control characters
//! dropped ([`crate::parse::html::plain_text`]); so are metadata values.

use chrono::{DateTime, Utc};
use serde_json::Value;
use trafilatura::dom::{Document, NodeId};
use url::Url;

use crate::parse::{dates, html};

/// Fewer characters of main text than this and the page is not an article
/// (a section front, a video page, a consent wall): the extractor's
/// last-resort pass returns whatever text a page has, so its length is the
/// test. Media Cloud keeps the first extractor result over 200 characters.
pub const MIN_TEXT_CHARS: usize = 200;

/// What [`extract`] found on an article page. Every metadata field is
/// `None` when the page does not say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Extracted {
    /// The article's main text (with its headline, where the page repeats
    /// it in the article), as one line like every item's text.
    pub text: String,
    /// The article's headline.
    pub title: Option<String>,
    /// The page's language tag as declared (`fa-IR`, `en`), normalised to
    /// BCP 47 case and separators; not identified from the text.
    pub lang: Option<String>,
    /// When the article was first published.
    pub published: Option<DateTime<Utc>>,
    /// The article's authors, joined by `, `.
    pub author: Option<String>,
    /// The URL the page names as its own.
    pub canonical_url: Option<Url>,
}

/// Why a page yielded no article. A failure is data: the caller keeps the
/// feed's teaser and records [`ExtractError::kind`] and the message.
#[derive(Debug, thiserror::Error)]
pub enum ExtractError {
    /// The page has no main text, or less than [`MIN_TEXT_CHARS`]
    /// characters of it.
    #[error("no article text on the page ({chars} characters of main text)")]
    NoArticle {
        /// How many characters of main text the extractor found.
        chars: usize,
    },
    /// The extractor gave up on the page for another reason.
    #[error("article extraction failed")]
    Extractor(#[source] trafilatura::TrafilaturaError),
}

impl ExtractError {
    /// A stable name for the failure, for metrics and stored rows.
    pub fn kind(&self) -> &'static str {
        match self {
            ExtractError::NoArticle { .. } => "no_article",
            ExtractError::Extractor(_) => "extractor",
        }
    }
}

/// Extracts the article from `page` (the page's HTML, already decoded),
/// fetched from `page_url` (which resolves relative URLs in it).
pub fn extract(page: &str, page_url: &Url) -> Result<Extracted, ExtractError> {
    let doc = Document::parse(page);
    let head = Head::read(&doc);
    let meta = head.metadata(page_url);

    let mut options = trafilatura::Options::default()
        .with_fallback(true)
        .with_exclude_comments(true)
        .with_url(page_url.clone());
    // Dates are read above; the extractor's own date pass would be wasted.
    options.html_date_mode = trafilatura::HtmlDateMode::Disabled;
    let result = match trafilatura::extract_document(doc, &options) {
        Ok(result) => result,
        Err(trafilatura::TrafilaturaError::InsufficientContent { text_len, .. }) => {
            return Err(ExtractError::NoArticle { chars: text_len })
        }
        Err(e) => return Err(ExtractError::Extractor(e)),
    };
    let text = html::plain_text(&result.content_text);
    let chars = text.chars().count();
    if chars < MIN_TEXT_CHARS {
        return Err(ExtractError::NoArticle { chars });
    }
    Ok(Extracted { text, ..meta })
}

/// What the page says about itself, gathered in one walk over its elements.
#[derive(Default)]
struct Head {
    html_lang: Option<String>,
    title_tag: Option<String>,
    /// `<link rel=canonical href>`.
    canonical: Option<String>,
    /// `(key, content)` of every `<meta>` with a content: the key is its
    /// `property`, `name`, `itemprop` or `http-equiv`, lowercased.
    metas: Vec<(String, String)>,
    /// Every object in the page's JSON-LD, flattened out of arrays and
    /// `@graph`s, in document order.
    json_ld: Vec<Value>,
}

impl Head {
    fn read(doc: &Document) -> Head {
        let root = doc.root();
        let mut head = Head {
            html_lang: doc
                .query_selector(root, "html")
                .and_then(|html| doc.get_attribute(html, "lang")),
            title_tag: doc
                .query_selector(root, "title")
                .map(|title| doc.text_content(title)),
            ..Head::default()
        };
        for id in doc.query_selector_all(root, "meta, link, script") {
            match doc.tag_name(id) {
                "meta" => head.meta(doc, id),
                "link" => {
                    let canonical = attr(doc, id, "rel").is_some_and(|rel| {
                        rel.split_ascii_whitespace()
                            .any(|r| r.eq_ignore_ascii_case("canonical"))
                    });
                    if canonical && head.canonical.is_none() {
                        head.canonical = attr(doc, id, "href");
                    }
                }
                _ => {
                    let json_ld =
                        attr(doc, id, "type").is_some_and(|t| t.eq_ignore_ascii_case("application/ld+json"));
                    if json_ld {
                        if let Some(value) = parse_json_ld(&doc.text_content(id)) {
                            flatten_json_ld(value, &mut head.json_ld, 0);
                        }
                    }
                }
            }
        }
        head
    }

    fn meta(&mut self, doc: &Document, id: NodeId) {
        let Some(content) = attr(doc, id, "content") else {
            return;
        };
        for key in ["property", "name", "itemprop", "http-equiv"] {
            if let Some(key) = attr(doc, id, key) {
                self.metas.push((key.to_ascii_lowercase(), content.clone()));
            }
        }
    }

    /// The first non-empty content of a meta with one of `keys`, in the
    /// order of `keys`.
    fn meta_value(&self, keys: &[&str]) -> Option<String> {
        keys.iter().find_map(|key| {
            self.metas
                .iter()
                .filter(|(k, _)| k == key)
                .map(|(_, v)| html::plain_text(v))
                .find(|v| !v.is_empty())
        })
    }

    /// The JSON-LD object that describes the article.
    fn article(&self) -> Option<&Value> {
        self.json_ld
            .iter()
            .find(|object| json_ld_types(object).any(is_article_type))
            .or_else(|| {
                self.json_ld
                    .iter()
                    .find(|object| object.get("datePublished").is_some())
            })
    }

    fn metadata(&self, page_url: &Url) -> Extracted {
        let article = self.article();
        let ld = |key: &str| article.and_then(|a| a.get(key)).and_then(json_text);

        let title = self
            .meta_value(&["og:title"])
            .or_else(|| ld("headline"))
            .or_else(|| ld("name"))
            .or_else(|| self.meta_value(&["twitter:title"]))
            .or_else(|| self.title_tag.as_deref().map(html::plain_text))
            .filter(|t| !t.is_empty());

        let lang = self
            .html_lang
            .as_deref()
            .and_then(language_tag)
            .or_else(|| {
                self.meta_value(&["content-language", "og:locale"])
                    .as_deref()
                    .and_then(language_tag)
            })
            .or_else(|| ld("inLanguage").as_deref().and_then(language_tag));

        let published = ld("datePublished")
            .into_iter()
            .chain(self.meta_value(&["article:published_time"]))
            .chain(self.meta_value(&["datepublished"]))
            .chain(self.meta_value(&[
                "og:published_time",
                "pubdate",
                "publishdate",
                "date",
                "dc.date",
                "dcterms.date",
            ]))
            .find_map(|raw| dates::read(&raw));

        let author = article
            .and_then(|a| a.get("author"))
            .and_then(|author| self.json_ld_names(author))
            .or_else(|| {
                self.meta_value(&["author", "article:author", "dc.creator"])
                    .filter(|a| !looks_like_url(a))
            });

        let canonical_url = self
            .canonical
            .clone()
            .into_iter()
            .chain(self.meta_value(&["og:url"]))
            .chain(ld("url"))
            .chain(article.and_then(|a| a.get("mainEntityOfPage")).and_then(|m| {
                json_text(m).or_else(|| m.get("@id").or_else(|| m.get("url")).and_then(json_text))
            }))
            .find_map(|raw| web_url(page_url, &raw));

        Extracted {
            text: String::new(),
            title,
            lang,
            published,
            author,
            canonical_url,
        }
    }

    /// The names in a JSON-LD `author`: a string, an object's `name` (or,
    /// for a bare `{"@id"}` reference, the `name` of the object with that
    /// `@id`), or an array of these; joined by `, `, repeats dropped.
    fn json_ld_names(&self, author: &Value) -> Option<String> {
        let mut names: Vec<String> = Vec::new();
        let mut add = |value: &Value| {
            let name = match value {
                Value::Object(object) => object.get("name").and_then(json_text).or_else(|| {
                    let id = object.get("@id")?.as_str()?;
                    self.json_ld
                        .iter()
                        .find(|o| o.get("@id").and_then(Value::as_str) == Some(id))
                        .and_then(|o| o.get("name"))
                        .and_then(json_text)
                }),
                other => json_text(other).filter(|name| !looks_like_url(name)),
            };
            if let Some(name) = name {
                if !names.contains(&name) {
                    names.push(name);
                }
            }
        };
        match author {
            Value::Array(items) => items.iter().for_each(&mut add),
            other => add(other),
        }
        (!names.is_empty()).then(|| names.join(", "))
    }
}

fn attr(doc: &Document, id: NodeId, name: &str) -> Option<String> {
    doc.get_attribute(id, name).filter(|v| !v.trim().is_empty())
}

/// A JSON-LD script's value. Pages wrap it in HTML comments or CDATA
/// markers and put raw newlines in its strings, which JSON forbids.
fn parse_json_ld(raw: &str) -> Option<Value> {
    let trimmed = raw.trim();
    if let Ok(value) = serde_json::from_str(trimmed) {
        return Some(value);
    }
    let mut cleaned = trimmed;
    for wrapper in ["<!--", "//<![CDATA[", "<![CDATA["] {
        cleaned = cleaned.strip_prefix(wrapper).unwrap_or(cleaned).trim();
    }
    for wrapper in ["-->", "//]]>", "]]>"] {
        cleaned = cleaned.strip_suffix(wrapper).unwrap_or(cleaned).trim();
    }
    let cleaned: String = cleaned
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    serde_json::from_str(&cleaned).ok()
}

/// Collects the objects of a JSON-LD value: itself, the items of arrays
/// and `@graph`s (nested at most a few levels, as real pages do).
fn flatten_json_ld(value: Value, out: &mut Vec<Value>, depth: usize) {
    if depth > 4 {
        return;
    }
    match value {
        Value::Array(items) => {
            for item in items {
                flatten_json_ld(item, out, depth + 1);
            }
        }
        Value::Object(mut object) => {
            if let Some(graph) = object.remove("@graph") {
                flatten_json_ld(graph, out, depth + 1);
            }
            if !object.is_empty() {
                out.push(Value::Object(object));
            }
        }
        _ => {}
    }
}

fn json_ld_types(object: &Value) -> impl Iterator<Item = &str> {
    let types = object.get("@type");
    let one = types.and_then(Value::as_str);
    let many = types
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str);
    one.into_iter().chain(many)
}

/// `NewsArticle`, `ReportageNewsArticle`, `BlogPosting`, `Report`, …
fn is_article_type(t: &str) -> bool {
    let t = t.rsplit(['/', ':']).next().unwrap_or(t);
    t.ends_with("Article") || t.ends_with("Posting") || t == "Report"
}

/// A JSON-LD string value as one line of plain text (JSON-LD strings often
/// carry HTML references such as `&amp;`); the first of an array of them.
fn json_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(html::to_text(s)).filter(|s| !s.is_empty()),
        Value::Array(items) => items.iter().find_map(json_text),
        _ => None,
    }
}

fn looks_like_url(s: &str) -> bool {
    s.starts_with("http://") || s.starts_with("https://") || s.starts_with("//")
}

/// `raw` resolved against the page URL, if it is an `http`/`https` URL.
fn web_url(page_url: &Url, raw: &str) -> Option<Url> {
    let url = page_url.join(raw.trim()).ok()?;
    matches!(url.scheme(), "http" | "https").then_some(url)
}

/// A declared language tag in BCP 47 form (`fa_ir` → `fa-IR`, `EN` →
/// `en`, `zh-hant-tw` → `zh-Hant-TW`), or `None` for what is not one.
fn language_tag(raw: &str) -> Option<String> {
    let raw = raw.trim();
    let mut out = String::with_capacity(raw.len());
    for (i, part) in raw.split(['-', '_']).enumerate() {
        let valid = if i == 0 {
            (2..=3).contains(&part.len()) && part.bytes().all(|b| b.is_ascii_alphabetic())
        } else {
            (1..=8).contains(&part.len()) && part.bytes().all(|b| b.is_ascii_alphanumeric())
        };
        if !valid {
            return None;
        }
        if i > 0 {
            out.push('-');
        }
        match part.len() {
            2 if i > 0 => out.push_str(&part.to_ascii_uppercase()),
            4 if i > 0 => {
                out.push_str(&part[..1].to_ascii_uppercase());
                out.push_str(&part[1..].to_ascii_lowercase());
            }
            _ => out.push_str(&part.to_ascii_lowercase()),
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests;
