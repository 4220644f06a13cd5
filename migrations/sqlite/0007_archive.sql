-- Querying the archive (issue 8): full-text index, convenience views.

-- Full-text index of every item, for narrowing `feedwatch search`. The
-- columns hold the FOLDED words of the title and text (crate::text::words
-- joined by single spaces), written by the store on every insert and update
-- (Store::index_item_text), so Arabic/Persian letter variants, tashkeel and
-- Turkish dotless i are unified exactly as in topic matching. The tokenizer
-- splits on spaces (and control characters) only: one token per folded word.
-- rowid = items.id. It keeps its own copy of the folded text (not
-- contentless: contentless_delete needs SQLite 3.43, and older sqlite3
-- shells must still be able to delete items).
CREATE VIRTUAL TABLE items_fts USING fts5 (
    title, text,
    tokenize = "unicode61 remove_diacritics 0 categories 'L* M* N* P* S* Co Cf Cs Cn'"
);

CREATE TRIGGER items_fts_delete AFTER DELETE ON items
BEGIN
    DELETE FROM items_fts WHERE rowid = old.id;
END;

-- Items stored before this migration, indexed by the store when it next
-- opens the database (folding is Rust code, not SQL); emptied as it goes.
CREATE TABLE items_fts_backfill (item_id INTEGER PRIMARY KEY);
INSERT INTO items_fts_backfill (item_id) SELECT id FROM items;

-- Convenience views for sqlite3 users (docs/schema.md).

-- Every item with its first feed, topics (names joined by ', ') and story.
CREATE VIEW item_overview AS
SELECT i.id, i.sort_at, i.published, i.title, i.url, i.lang, i.author,
       f.url AS feed_url, coalesce(f.name, f.title, f.url) AS feed_name,
       (SELECT group_concat(name, ', ') FROM (
           SELECT t.name FROM item_topics it JOIN topics t ON t.id = it.topic_id
            WHERE it.item_id = i.id ORDER BY t.name)) AS topics,
       i.story_id, s.headline AS story_headline, s.item_count AS story_items
  FROM items i JOIN feeds f ON f.id = i.feed_id LEFT JOIN stories s ON s.id = i.story_id;

-- One row per (topic, matched item), with the item's time, feed and story.
CREATE VIEW topic_items AS
SELECT t.name AS topic, it.backfilled, it.matched_at, i.id AS item_id, i.sort_at, i.title, i.url,
       i.lang, coalesce(f.name, f.title, f.url) AS feed_name, i.story_id
  FROM item_topics it JOIN topics t ON t.id = it.topic_id JOIN items i ON i.id = it.item_id
  JOIN feeds f ON f.id = i.feed_id;

-- Matched items per topic and day (UTC, by publication time, else first seen).
CREATE VIEW topic_daily AS
SELECT t.name AS topic, substr(i.sort_at, 1, 10) AS day, count(*) AS items
  FROM item_topics it JOIN topics t ON t.id = it.topic_id JOIN items i ON i.id = it.item_id
 GROUP BY t.name, day;
