-- Items whose story_keys rows are not written yet. A cold cycle used to
-- write each group commit's rows into story_keys at once; their keys are
-- random, so every one of a cycle's ~70 commits rewrote pages all over the
-- table. The store now records only the item ids here (they append) while
-- its in-memory copy of the index serves lookups, and writes the rows of
-- all of them at once, in key order, when the writer is idle, when the debt
-- grows past the size of the index, before lookups that read story_keys,
-- and on close. Rows left by a process that stopped are written by the
-- next one before it reads story_keys.
CREATE TABLE story_keys_pending (
    item_id INTEGER PRIMARY KEY     -- items.id
);

DROP TRIGGER items_story_keys_delete;
CREATE TRIGGER items_story_keys_delete AFTER DELETE ON items BEGIN
    DELETE FROM story_keys_pending WHERE item_id = old.id;
    DELETE FROM story_keys WHERE old.fingerprint IS NOT NULL AND item_id = old.id AND lookup_key IN (
        old.fingerprint & 8191,
        (1 << 56) | ((old.fingerprint >> 13) & 8191),
        (2 << 56) | ((old.fingerprint >> 26) & 8191),
        (3 << 56) | ((old.fingerprint >> 39) & 8191),
        (4 << 56) | ((old.fingerprint >> 52) & 4095));
END;
