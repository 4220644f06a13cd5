//! The article-page queue (`full_text`): items whose feed gives only a
//! teaser wait here for their page to be fetched and extracted
//! (`crate::pages`), and the result is written back. The rows and the
//! rules both backends share.

use chrono::{DateTime, Utc};

use super::SearchText;

/// Failed attempts after which an item's page is given up (`failed`).
pub const MAX_PAGE_ATTEMPTS: i64 = 3;

/// An item whose page is due, claimed by this instance for a while
/// ([`super::Store::claim_pages`]).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PageJob {
    pub item_id: i64,
    /// The item's link: the page to fetch.
    pub url: String,
    /// [`crate::stories::canonical_url`] of the link: one fetch per
    /// canonical URL.
    pub canonical_url: Option<String>,
    pub title: String,
    /// The feed's text for the item (the teaser).
    pub text: String,
    /// The identified language (or the feed's `lang`).
    pub lang: Option<String>,
    pub declared_lang: Option<String>,
    pub author: Option<String>,
    /// Failed attempts so far.
    pub attempts: i64,
    /// The item's first feed, for `feed:` filters: URL, name (else title)
    /// and tags of an added feed (a JSON array).
    pub feed_url: String,
    pub feed_name: Option<String>,
    pub feed_tags: String,
}

/// What fetching an item's page gave, to record on the item.
#[derive(Debug)]
pub struct PageWrite {
    pub item_id: i64,
    pub outcome: PageOutcome,
}

#[derive(Debug)]
pub enum PageOutcome {
    /// Extracted. `text` when the article is longer than the teaser (the
    /// item's text becomes it; the teaser is kept as its summary); the
    /// page's author and language tag fill what the feed left empty.
    Extracted {
        text: Option<PageText>,
        author: Option<String>,
        declared_lang: Option<String>,
    },
    /// Not fetched or not extracted: the teaser stays; the reason goes on
    /// the item; tried again at `retry_at`, or given up when `None`.
    Failed {
        error: String,
        retry_at: Option<DateTime<Utc>>,
    },
}

/// The article's text and what follows from it.
#[derive(Debug)]
pub struct PageText {
    pub text: String,
    /// What the full-text index holds of the item now.
    pub search: SearchText,
    /// Every topic the item matches with its article's text; those it did
    /// not match yet are recorded as new matches (alerted like any other).
    pub topic_ids: Vec<i64>,
}

/// Pages of one feed's items, for `feeds list`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, sqlx::FromRow)]
pub struct PageCounts {
    pub feed_id: i64,
    /// Items whose text is their page's.
    pub fetched: i64,
    /// Items whose page was given up.
    pub failed: i64,
    /// Items waiting for their page.
    pub pending: i64,
}
