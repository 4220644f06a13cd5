//! The feeds a `feed:` filter can name: every feed's URL, name and tags,
//! from the config and from the store (feeds added with `feeds add` or
//! `opml import`), built once and passed to everything that evaluates or
//! checks `feed:` (ingest, backfill, search, `topics test`, highlights).
//! A configured feed's name and tags win over the stored ones.

use std::collections::HashMap;

use crate::config::Config;
use crate::store::{Store, StoreError};

/// A feed's name and tags, by URL.
#[derive(Debug, Clone, Default)]
pub struct FeedDirectory {
    feeds: HashMap<String, Entry>,
}

#[derive(Debug, Clone, Default)]
struct Entry {
    name: Option<String>,
    tags: Vec<String>,
}

impl FeedDirectory {
    /// The configured feeds only (nothing stored yet, or no store).
    pub fn from_config(config: &Config) -> Self {
        let mut directory = Self::default();
        for feed in &config.feeds {
            directory.feeds.insert(
                feed.url.clone(),
                Entry {
                    name: feed.name.clone(),
                    tags: feed.tags.clone(),
                },
            );
        }
        directory
    }

    /// The configured feeds and every stored one.
    pub async fn load(config: &Config, store: &Store) -> Result<Self, StoreError> {
        let mut directory = Self::default();
        for (url, name, tags) in store.feed_labels().await? {
            directory.feeds.insert(url, Entry { name, tags });
        }
        directory.feeds.extend(Self::from_config(config).feeds);
        Ok(directory)
    }

    /// URL → tags, as matching takes them.
    pub fn tags(&self) -> HashMap<String, Vec<String>> {
        self.feeds
            .iter()
            .map(|(url, e)| (url.clone(), e.tags.clone()))
            .collect()
    }

    /// Every name and tag, sorted case-insensitively, once each.
    pub fn labels(&self) -> Vec<String> {
        let mut labels: Vec<String> = self
            .feeds
            .values()
            .flat_map(|e| e.name.iter().chain(&e.tags).cloned())
            .collect();
        labels.sort_by_key(|l| l.to_lowercase());
        labels.dedup_by(|a, b| a.eq_ignore_ascii_case(b));
        labels
    }
}
