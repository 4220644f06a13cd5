//! Plain data passed between pipeline stages. No IO.

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

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
    /// Repairs needed to read an ill-formed document; `None` when it was
    /// well-formed.
    pub warning: Option<String>,
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
    /// The item's identity within its feed: its GUID, else its link, else a
    /// hash of its title and text.
    pub fn key(&self) -> String {
        if let Some(guid) = &self.guid {
            format!("guid:{guid}")
        } else if let Some(url) = &self.url {
            format!("url:{url}")
        } else {
            format!("hash:{}", hash_fields(&[&self.title, &self.text]))
        }
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
}
