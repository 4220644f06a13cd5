-- The story lookup index as one row per lookup key (and 30-day period)
-- instead of one row per key and item. story_keys held 5 rows per
-- fingerprinted item (one per dedup::lookup_keys block); writing the 300,000 rows of a 60,000-item cold
-- cycle took 0.5 s, most of what the index added to it (BENCHMARKS.md). A
-- bucket row holds every item under its key whose time falls in one 30-day
-- period, packed in `entries` (item id, fingerprint, sort_at in seconds,
-- language; format in src/store/story_index.rs), so the same cycle writes
-- ~36,000 rows, and a lookup reads the periods its window overlaps.
--
-- New and changed items are owed in story_keys_pending, now with the values
-- their entries need (so settling and lookups never read the wide items
-- rows); lookups read the buckets and the owed items. A deleted item, or one
-- whose fingerprint, language or time changed, leaves its old entries in
-- the buckets until the next settle removes them, listed in
-- story_keys_stale; lookups check every bucket candidate against items.
CREATE TABLE story_buckets (
    lookup_key INTEGER PRIMARY KEY,   -- a dedup::lookup_keys block value and a 30-day period
    entries    BLOB NOT NULL          -- the items under it, packed
);

CREATE TABLE story_keys_stale (
    item_id     INTEGER NOT NULL,     -- items.id (the item may be gone)
    fingerprint INTEGER NOT NULL,     -- the fingerprint and time (seconds since
    at          INTEGER NOT NULL      -- the epoch) its entries were written for
);

DROP TRIGGER items_story_keys_delete;
DROP TRIGGER items_story_keys_update;
DROP TABLE story_keys;
DROP TABLE story_keys_pending;

CREATE TABLE story_keys_pending (
    item_id     INTEGER PRIMARY KEY,  -- items.id
    fingerprint INTEGER NOT NULL,     -- items.fingerprint
    lang        TEXT NOT NULL,        -- items.lang, '' when unknown
    at          INTEGER NOT NULL      -- items.sort_at, seconds since the epoch
);

-- Every fingerprinted item is owed once: the next settle writes the buckets.
INSERT INTO story_keys_pending (item_id, fingerprint, lang, at)
    SELECT id, fingerprint, coalesce(lang, ''), coalesce(unixepoch(sort_at), 0)
    FROM items WHERE fingerprint IS NOT NULL;

CREATE TRIGGER items_story_keys_delete AFTER DELETE ON items BEGIN
    DELETE FROM story_keys_pending WHERE item_id = old.id;
    INSERT INTO story_keys_stale (item_id, fingerprint, at)
        SELECT old.id, old.fingerprint, coalesce(unixepoch(old.sort_at), 0) WHERE old.fingerprint IS NOT NULL;
END;

-- The store owes the new entries itself; the trigger also covers writes
-- made outside it (sqlite3).
CREATE TRIGGER items_story_keys_update AFTER UPDATE OF fingerprint, lang, sort_at ON items BEGIN
    INSERT INTO story_keys_stale (item_id, fingerprint, at)
        SELECT old.id, old.fingerprint, coalesce(unixepoch(old.sort_at), 0) WHERE old.fingerprint IS NOT NULL;
    DELETE FROM story_keys_pending WHERE item_id = old.id AND new.fingerprint IS NULL;
    INSERT INTO story_keys_pending (item_id, fingerprint, lang, at)
        SELECT new.id, new.fingerprint, coalesce(new.lang, ''), coalesce(unixepoch(new.sort_at), 0)
        WHERE new.fingerprint IS NOT NULL
        ON CONFLICT (item_id) DO UPDATE SET
            fingerprint = excluded.fingerprint, lang = excluded.lang, at = excluded.at;
END;
