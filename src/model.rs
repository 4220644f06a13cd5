//! Plain data passed between pipeline stages, and item identity. No IO.

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

/// A time a user typed that is not a time.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a time: use RFC 3339 (2017-09-25T08:00:00Z), a date (2017-09-25) or an age (24h, 7d)")]
pub struct TimeError(String);

/// Parses a point in time: RFC 3339 (`2017-09-25T08:00:00Z`), a date
/// (`2017-09-25`, midnight UTC) or an age before `now` (`24h`, `7d`, `90m`).
pub fn parse_time(input: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, TimeError> {
    let input = input.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(input) {
        return Ok(t.with_timezone(&Utc));
    }
    if let Ok(date) = chrono::NaiveDate::parse_from_str(input, "%Y-%m-%d") {
        return Ok(date.and_hms_opt(0, 0, 0).expect("midnight exists").and_utc());
    }
    humantime::parse_duration(input)
        .ok()
        .and_then(|age| chrono::Duration::from_std(age).ok())
        .and_then(|age| now.checked_sub_signed(age))
        .ok_or_else(|| TimeError(input.to_string()))
}

/// A time range a user gave that holds no time: its end is not after its
/// start. Names the two bounds as the user gave them (`--since`/`--until`
/// on the command line, `since`/`until` in the API).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{until_name} must be later than {since_name} ({since_name} {since}, {until_name} {until})")]
pub struct RangeError {
    since_name: String,
    until_name: String,
    since: String,
    until: String,
}

/// Checks that a range from `since` (inclusive) to `until` (exclusive)
/// can hold anything; a missing bound is open. `names` are the two
/// bounds' names for the error, e.g. `("--since", "--until")`. The one
/// check for every command and API route taking both.
pub fn check_range(
    since: Option<DateTime<Utc>>,
    until: Option<DateTime<Utc>>,
    names: (&str, &str),
) -> Result<(), RangeError> {
    match (since, until) {
        (Some(since), Some(until)) if until <= since => {
            let show = |t: DateTime<Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
            Err(RangeError {
                since_name: names.0.to_string(),
                until_name: names.1.to_string(),
                since: show(since),
                until: show(until),
            })
        }
        _ => Ok(()),
    }
}

/// A feed document after parsing and text extraction.
#[derive(Debug, Clone, Default)]
pub struct ParsedFeed {
    pub title: Option<String>,
    /// The site the feed belongs to (the feed's alternate link).
    pub site_url: Option<String>,
    pub language: Option<String>,
    pub items: Vec<NewItem>,
    /// What the document says about how often to poll it.
    pub hints: FeedHints,
    /// What the feed's owner should know about the document, in sentences:
    /// repairs needed to read an ill-formed document, item dates that could
    /// not be read or lie in the future. `None` when there is nothing.
    pub warning: Option<String>,
    /// The document was ill-formed and read only after repair or salvage
    /// (it may be cut short): its validators are not kept, so the next
    /// fetch reads it whole instead of being told "not modified".
    pub repaired: bool,
}

impl ParsedFeed {
    /// Adds a sentence to [`ParsedFeed::warning`].
    pub fn add_warning(&mut self, sentence: String) {
        self.warning = Some(match self.warning.take() {
            Some(warning) => format!("{warning}. {sentence}"),
            None => sentence,
        });
    }
}

/// Polling hints found in a feed document.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FeedHints {
    /// RSS `<ttl>`.
    pub ttl: Option<std::time::Duration>,
    /// `sy:updatePeriod` / `sy:updateFrequency`.
    pub update_period: Option<std::time::Duration>,
    /// RSS `skipHours` (0–23).
    pub skip_hours: Vec<u32>,
    /// RSS `skipDays`.
    pub skip_days: Vec<chrono::Weekday>,
}

/// One entry of a feed, with plain-text title and text.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NewItem {
    pub guid: Option<String>,
    pub url: Option<String>,
    pub title: String,
    pub text: String,
    pub published: Option<DateTime<Utc>>,
    pub updated: Option<DateTime<Utc>>,
    pub language: Option<String>,
    pub author: Option<String>,
}

impl NewItem {
    /// The item's identity within its feed, without looking at the rest of
    /// the document: its GUID, else its link (canonical form, see
    /// [`crate::stories::canonical_url`]), else a hash of its folded title and
    /// text. See [`item_keys`] for the rule over a whole document.
    pub fn key(&self) -> String {
        if let Some(guid) = &self.guid {
            format!("guid:{guid}")
        } else if let Some(url) = self.link_key() {
            format!("url:{url}")
        } else {
            let title = crate::text::words(&self.title).join(" ");
            let text = crate::text::words(&self.text).join(" ");
            format!("hash:{}", hash_fields(&[&title, &text]))
        }
    }

    /// The link as it identifies the article: canonical when it is an
    /// http(s) URL, else as given.
    fn link_key(&self) -> Option<String> {
        let url = self.url.as_deref()?;
        Some(crate::stories::canonical_url(url).unwrap_or_else(|| url.to_string()))
    }

    /// A hash of everything stored about the item; a change means the item
    /// was edited and is updated in place.
    pub fn content_hash(&self) -> String {
        let date = |d: &Option<DateTime<Utc>>| d.map(|d| d.timestamp().to_string()).unwrap_or_default();
        hash_fields(&[
            self.url.as_deref().unwrap_or(""),
            &self.title,
            &self.text,
            &date(&self.published),
            &date(&self.updated),
            self.language.as_deref().unwrap_or(""),
            self.author.as_deref().unwrap_or(""),
        ])
    }
}

/// The identity of each item of one feed document, in order: [`NewItem::key`],
/// except that where the document gives one GUID to items with different
/// links (some feeds repeat a GUID for every item, or per section), those
/// items are keyed by GUID and link together.
pub fn item_keys(items: &[NewItem]) -> Vec<String> {
    let mut links_by_guid: std::collections::HashMap<&str, std::collections::HashSet<Option<String>>> =
        std::collections::HashMap::new();
    for item in items {
        if let Some(guid) = &item.guid {
            links_by_guid.entry(guid).or_default().insert(item.link_key());
        }
    }
    items
        .iter()
        .map(|item| match &item.guid {
            Some(guid) if links_by_guid[guid.as_str()].len() > 1 => {
                format!("guid+url:{guid} {}", item.link_key().unwrap_or_default())
            }
            _ => item.key(),
        })
        .collect()
}

/// Characters a language tag is trimmed of (as `store::lang` trims it in SQL).
const LANGUAGE_BLANKS: [char; 4] = [' ', '\t', '\n', '\r'];

/// The primary subtag of a language tag: `en-US`, `en_us`, `EN` and `en`
/// are `en`, `fa-IR` is `fa`; `""` for a missing or empty tag. Items are
/// compared and grouped by it (the story of a wire copy, the languages of
/// `stories`, `stats --split lang`, reports and digests), so that copies
/// tagged with regional variants of one language are one story; each item
/// keeps its full tag. The store's SQL uses the same rule
/// (`store::lang::primary_sql`).
pub fn primary_language(tag: &str) -> String {
    primary_subtag(tag).to_ascii_lowercase()
}

/// Whether two language tags have the same primary subtag
/// ([`primary_language`]), without allocating. Two missing tags are the
/// same language; a missing tag is no other.
pub fn same_language(a: &str, b: &str) -> bool {
    primary_subtag(a).eq_ignore_ascii_case(primary_subtag(b))
}

/// The tag up to its first `-` or `_`, trimmed, in its own case.
fn primary_subtag(tag: &str) -> &str {
    let tag = tag.trim_matches(LANGUAGE_BLANKS);
    tag.split(['-', '_']).next().unwrap_or(tag)
}

/// Hex SHA-256 (first 16 bytes) of the fields, separated unambiguously.
fn hash_fields(fields: &[&str]) -> String {
    let mut hasher = Sha256::new();
    for field in fields {
        hasher.update((field.len() as u64).to_le_bytes());
        hasher.update(field.as_bytes());
    }
    hasher.finalize()[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn languages_compare_by_primary_subtag() {
        for (tag, primary) in [
            ("en", "en"),
            ("en-US", "en"),
            ("en-us", "en"),
            ("en_us", "en"),
            ("EN", "en"),
            (" en-GB ", "en"),
            ("fa-IR", "fa"),
            ("zh-Hant-TW", "zh"),
            ("ckb", "ckb"),
            ("x-klingon", "x"),
            ("", ""),
            ("-us", ""),
        ] {
            assert_eq!(primary_language(tag), primary, "{tag:?}");
        }
        assert!(same_language("en", "en-US"));
        assert!(same_language("FA_ir", "fa"));
        assert!(same_language("", ""));
        assert!(!same_language("en", ""));
        assert!(!same_language("en", "eng"));
        assert!(!same_language("fa", "ar"));
    }

    #[test]
    fn a_range_must_end_after_it_starts() {
        let t = |s: &str| Some(parse_time(s, Utc::now()).unwrap());
        let names = ("--since", "--until");
        assert_eq!(check_range(t("2017-08-01"), t("2017-09-01"), names), Ok(()));
        assert_eq!(check_range(t("2017-09-01"), None, names), Ok(()));
        assert_eq!(check_range(None, t("2017-08-01"), names), Ok(()));
        assert_eq!(
            check_range(t("2017-09-01"), t("2017-08-01"), names)
                .unwrap_err()
                .to_string(),
            "--until must be later than --since \
             (--since 2017-09-01T00:00:00Z, --until 2017-08-01T00:00:00Z)"
        );
        // The end is exclusive: an equal end holds nothing either.
        assert!(check_range(t("2017-09-01"), t("2017-09-01"), ("since", "until")).is_err());
    }

    #[test]
    fn key_prefers_guid_then_url_then_hash() {
        let mut item = NewItem {
            guid: Some("g1".into()),
            url: Some("https://x.example/1".into()),
            title: "t".into(),
            ..Default::default()
        };
        assert_eq!(item.key(), "guid:g1");
        item.guid = None;
        assert_eq!(item.key(), "url:https://x.example/1");
        item.url = None;
        let hashed = item.key();
        assert!(hashed.starts_with("hash:") && hashed.len() == 5 + 32, "{hashed}");
        item.text = "changed".into();
        assert_ne!(item.key(), hashed);
    }

    #[test]
    fn content_hash_sees_every_field() {
        let base = NewItem {
            title: "ab".into(),
            text: "c".into(),
            ..Default::default()
        };
        let moved = NewItem {
            title: "a".into(),
            text: "bc".into(),
            ..Default::default()
        };
        assert_ne!(base.content_hash(), moved.content_hash());
        let dated = NewItem {
            published: Some(DateTime::from_timestamp(1_506_000_000, 0).unwrap()),
            ..base.clone()
        };
        assert_ne!(base.content_hash(), dated.content_hash());
    }

    #[test]
    fn keys_follow_guid_then_guid_and_link_then_link_then_folded_text() {
        let item = |guid: Option<&str>, url: Option<&str>, title: &str| NewItem {
            guid: guid.map(Into::into),
            url: url.map(Into::into),
            title: title.into(),
            ..Default::default()
        };
        let doc = [
            item(Some("g"), Some("https://x.example/1"), "a"),
            item(Some("g"), Some("https://x.example/2?utm_source=rss"), "b"),
            item(Some("h"), Some("https://x.example/3"), "c"),
            item(None, Some("https://x.example/4/?utm_medium=feed"), "d"),
            item(None, None, "Hello,   WORLD"),
        ];
        let keys = item_keys(&doc);
        assert_eq!(
            keys[..4],
            [
                "guid+url:g https://x.example/1",
                "guid+url:g https://x.example/2",
                "guid:h",
                "url:https://x.example/4",
            ]
        );
        // The text hash is over folded words: case and spacing do not count.
        assert_eq!(keys[4], item(None, None, "hello world").key());
        assert_ne!(keys[4], item(None, None, "hello there").key());
        // A GUID repeated with the same link is still one item.
        let same = [doc[2].clone(), doc[2].clone()];
        assert_eq!(item_keys(&same), ["guid:h", "guid:h"]);
    }
}

/// A feed as configured (`[[feed]]`): what `config` reads and the store
/// keeps in step (`Store::sync_feeds`).
#[derive(Clone, PartialEq, Eq)]
pub struct FeedConfig {
    /// Absolute `http(s)://` or `file://` URL; may carry `user:password@`
    /// (`Debug` masks the password).
    pub url: String,
    pub name: Option<String>,
    /// Labels usable in queries as `feed:TAG`.
    pub tags: Vec<String>,
    /// Per-feed schedule: a fixed interval, or bounds of the adaptive one.
    pub interval: Option<std::time::Duration>,
    pub min_interval: Option<std::time::Duration>,
    pub max_interval: Option<std::time::Duration>,
    /// `lang`: the language of every item of the feed (a BCP 47 primary
    /// subtag, lower case: `fa` for `fa-IR`), instead of the one identified
    /// from each item's text.
    pub lang: Option<String>,
    /// `full_text`: when to fetch its items' article pages; `None` takes
    /// `[fetch] full_text`.
    pub full_text: Option<FullText>,
}

/// When an item's article page is fetched for its text (`full_text`):
/// for feeds that give only a teaser and a link.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FullText {
    /// The feed's text is the item's text.
    #[default]
    Never,
    /// The page is fetched when the feed's text is shorter than
    /// [`FullText::TEASER_WORDS`] words: the common teaser.
    Auto,
    /// The page is fetched for every new item.
    Always,
}

impl FullText {
    /// Under this many words, an item's text is a teaser (`"auto"`).
    pub const TEASER_WORDS: usize = 60;

    pub fn as_str(self) -> &'static str {
        match self {
            FullText::Never => "never",
            FullText::Auto => "auto",
            FullText::Always => "always",
        }
    }

    /// The stored or typed name (`never`, `auto`, `always`).
    pub fn parse(name: &str) -> Option<FullText> {
        match name {
            "never" => Some(FullText::Never),
            "auto" => Some(FullText::Auto),
            "always" => Some(FullText::Always),
            _ => None,
        }
    }

    /// A feed's setting: `configured` (`[[feed]] full_text`), else
    /// `stored` (given to `feeds add`), else `default` (`[fetch]`).
    pub fn of_feed(configured: Option<FullText>, stored: Option<&str>, default: FullText) -> FullText {
        configured
            .or_else(|| stored.and_then(FullText::parse))
            .unwrap_or(default)
    }

    /// Whether an item with this `text` (and a link) wants its page.
    pub fn wants_page(self, text: &str) -> bool {
        match self {
            FullText::Never => false,
            FullText::Always => true,
            FullText::Auto => text.split_whitespace().nth(Self::TEASER_WORDS - 1).is_none(),
        }
    }
}

impl std::fmt::Debug for FeedConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FeedConfig")
            .field("url", &crate::redact::url(&self.url))
            .field("name", &self.name)
            .field("tags", &self.tags)
            .field("interval", &self.interval)
            .field("min_interval", &self.min_interval)
            .field("max_interval", &self.max_interval)
            .field("lang", &self.lang)
            .field("full_text", &self.full_text)
            .finish()
    }
}
