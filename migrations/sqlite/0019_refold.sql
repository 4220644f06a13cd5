-- The folding rules changed (issue 19: Latin letters without a
-- decomposition, ZWJ/word joiner/BOM dropped inside words, Urdu letters),
-- so the full-text index, which holds folded words, is rebuilt: every item
-- is listed for the writer to index again when it next opens the database
-- (`Store::backfill_search_index`, in batches; readers say how many are
-- pending). Until then a text search may miss the changed words of old
-- items; searches by topic, feed or time are unaffected.
INSERT OR IGNORE INTO items_fts_backfill (item_id) SELECT id FROM items;
