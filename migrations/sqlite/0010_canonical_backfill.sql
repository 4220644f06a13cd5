-- Items stored before migration 0004 have no canonical URL, so a later copy
-- of the same article from another feed was not recognised as the same
-- item. They are listed here and given one by the store when it next opens
-- the database (canonicalisation is Rust code, not SQL); emptied as it goes.
-- (0009 is left to the archive benchmark's indexes.)
CREATE TABLE items_canonical_backfill (item_id INTEGER PRIMARY KEY);
INSERT INTO items_canonical_backfill (item_id)
    SELECT id FROM items WHERE canonical_url IS NULL AND url IS NOT NULL;
