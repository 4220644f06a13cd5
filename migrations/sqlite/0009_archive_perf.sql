-- Archive queries at a million items (issue 8, "Performance").
--
-- An item row holds its text before `sort_at`, `lang` and `feed_id` come
-- (columns in 0001's order), so reading those three from the row walks
-- the text's overflow pages. Two covering indexes keep archive queries off
-- the rows:
--
-- * by id: the full-text candidates of a newest-first search are ordered by
--   `sort_at` read from here (Store::search_page, `INDEXED BY items_by_id`);
-- * newest first, with language and first feed: replaces items_sort_at
--   (same leading columns, so every query using it still can) and also
--   covers `stats` split by language or feed.
CREATE INDEX items_by_id ON items (id, sort_at, lang, feed_id);
CREATE INDEX items_newest ON items (sort_at DESC, id DESC, lang, feed_id);
DROP INDEX items_sort_at;
