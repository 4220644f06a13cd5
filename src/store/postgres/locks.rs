//! The advisory locks of the PostgreSQL backend, in one place so that no
//! two uses share a key: each is the pair form `(class, key)`, one class
//! per use. Transaction-scoped (`pg_advisory_xact_lock`) unless said.

/// Story lookup key slots (key: the slot), taken by the writer in sorted
/// order with [`CANONICAL_URLS`].
pub(super) const STORY_KEYS: i32 = 0x6677_0001;
/// Canonical URL slots (key: the slot).
pub(super) const CANONICAL_URLS: i32 = 0x6677_0002;
/// `sync_topics` (key 0).
pub(super) const TOPICS: i32 = 0x6677_0003;
/// `sync_feeds` (key 0).
pub(super) const SYNC_FEEDS: i32 = 0x6677_0004;
/// The creation of an alert's digests (key: a hash of its name).
pub(super) const ALERTS: i32 = 0x6677_0005;
/// Requests in flight to a host, across instances (key: a hash of the
/// host and the slot): session-scoped, held on a connection of their own.
pub(super) const HOST_SLOTS: i32 = 0x6677_0006;

#[cfg(test)]
mod tests {
    #[test]
    fn every_use_has_its_own_class() {
        let mut classes = [
            super::STORY_KEYS,
            super::CANONICAL_URLS,
            super::TOPICS,
            super::SYNC_FEEDS,
            super::ALERTS,
            super::HOST_SLOTS,
        ];
        classes.sort_unstable();
        let before = classes.len();
        let mut unique = classes.to_vec();
        unique.dedup();
        assert_eq!(unique.len(), before);
    }
}
