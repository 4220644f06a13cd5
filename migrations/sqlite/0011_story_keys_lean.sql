-- story_keys without its foreign key to items and its index by item_id.
-- Its rows go to random places of the table (the key is bits of a hash), so
-- every group commit rewrote pages all over it and over the item_id index,
-- and checked each row's foreign key: 1.5-2 s of a 10 s cold cycle of the
-- 2,000-feed farm (BENCHMARKS.md). An item's rows are found by their keys
-- instead, which SQL computes from the item's fingerprint exactly as
-- dedup::lookup_keys does: block b (13, 13, 13, 13 and 12 bits from the low
-- end) in the low bits, b in the top byte. Triggers remove an item's rows
-- when it is deleted or its fingerprint, language or time changes (the
-- store then writes the new ones).
CREATE TABLE story_keys_lean (
    lookup_key  INTEGER NOT NULL,
    lang        TEXT NOT NULL,                -- items.lang, '' when unknown
    sort_at     TEXT NOT NULL,                -- items.sort_at
    item_id     INTEGER NOT NULL,             -- items.id
    fingerprint INTEGER NOT NULL,
    PRIMARY KEY (lookup_key, lang, sort_at, item_id)
) WITHOUT ROWID;
INSERT INTO story_keys_lean (lookup_key, lang, sort_at, item_id, fingerprint)
    SELECT lookup_key, lang, sort_at, item_id, fingerprint FROM story_keys;
DROP TABLE story_keys;
ALTER TABLE story_keys_lean RENAME TO story_keys;

CREATE TRIGGER items_story_keys_delete AFTER DELETE ON items
WHEN old.fingerprint IS NOT NULL BEGIN
    DELETE FROM story_keys WHERE item_id = old.id AND lookup_key IN (
        old.fingerprint & 8191,
        (1 << 56) | ((old.fingerprint >> 13) & 8191),
        (2 << 56) | ((old.fingerprint >> 26) & 8191),
        (3 << 56) | ((old.fingerprint >> 39) & 8191),
        (4 << 56) | ((old.fingerprint >> 52) & 4095));
END;

CREATE TRIGGER items_story_keys_update AFTER UPDATE OF fingerprint, lang, sort_at ON items
WHEN old.fingerprint IS NOT NULL BEGIN
    DELETE FROM story_keys WHERE item_id = old.id AND lookup_key IN (
        old.fingerprint & 8191,
        (1 << 56) | ((old.fingerprint >> 13) & 8191),
        (2 << 56) | ((old.fingerprint >> 26) & 8191),
        (3 << 56) | ((old.fingerprint >> 39) & 8191),
        (4 << 56) | ((old.fingerprint >> 52) & 4095));
END;
