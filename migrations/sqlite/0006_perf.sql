-- Performance (issue 10). See docs/schema.md.

-- A bottom-k MinHash sketch of the item's word triples (dedup::sketch: up to
-- 64 4-byte little-endian values, ascending), so that confirming a story
-- match compares sketches instead of re-reading and re-folding the
-- candidate's text. NULL for items without a fingerprint and for items
-- stored before this migration (their text is read instead).
ALTER TABLE items ADD COLUMN sketch BLOB;
