-- Sorani text is folded with its own spellings (issue 19: `هه‌ولێر` =
-- `هەولێر`, final `ه` = `ە`, initial `ر` = `ڕ`), so Sorani items are
-- indexed for text search again by the next writer (see 0019).
INSERT OR IGNORE INTO items_fts_backfill (item_id) SELECT id FROM items WHERE lang = 'ckb' OR lang LIKE 'ckb-%';
