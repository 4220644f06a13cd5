-- Global deduplication and stories (issue 5). See docs/schema.md.

-- A story: articles that are the same text, lightly edited (wire copies),
-- within the story window. Counters are kept up to date on every write;
-- outlets and languages are derived (story_summary below).
CREATE TABLE stories (
    id         INTEGER PRIMARY KEY AUTOINCREMENT, -- never reused
    headline   TEXT NOT NULL,               -- title of the story's first item
    first_seen TEXT NOT NULL,               -- earliest sort_at of its items
    last_seen  TEXT NOT NULL,               -- latest sort_at of its items
    item_count INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX stories_first_seen ON stories (first_seen DESC, id DESC);

-- The article's canonical URL (dedup::canonical_url; NULL without an http(s)
-- link), its SimHash fingerprint (a signed 64-bit integer; NULL under 20
-- words) and its story. Items stored before this migration have NULL here.
ALTER TABLE items ADD COLUMN canonical_url TEXT;
ALTER TABLE items ADD COLUMN fingerprint INTEGER;
ALTER TABLE items ADD COLUMN story_id INTEGER REFERENCES stories(id) ON DELETE SET NULL;
CREATE INDEX items_canonical_url ON items (canonical_url) WHERE canonical_url IS NOT NULL;
CREATE INDEX items_story ON items (story_id, sort_at);

-- Every feed that lists an item, under its key in that feed. The same
-- canonical URL from two feeds is one item with two rows here; items.feed_id
-- and items.item_key stay those of the first feed.
CREATE TABLE item_sources (
    feed_id       INTEGER NOT NULL REFERENCES feeds(id) ON DELETE CASCADE,
    item_key      TEXT NOT NULL,
    item_id       INTEGER NOT NULL REFERENCES items(id) ON DELETE CASCADE,
    content_hash  TEXT NOT NULL,              -- of this feed's version of the item
    first_seen_at TEXT NOT NULL,
    PRIMARY KEY (feed_id, item_key)
);
CREATE INDEX item_sources_item ON item_sources (item_id);
INSERT INTO item_sources (feed_id, item_key, item_id, content_hash, first_seen_at)
    SELECT feed_id, item_key, id, content_hash, first_seen_at FROM items;

-- Near-duplicate lookup: LOOKUP_BLOCKS rows per fingerprinted item, one per
-- block of its fingerprint (dedup::lookup_keys: block number in the top
-- byte, block value below). A lookup probes a few hundred keys of one
-- language and time range through the primary key; it never scans the window.
CREATE TABLE story_keys (
    lookup_key  INTEGER NOT NULL,
    lang        TEXT NOT NULL,                -- items.lang, '' when unknown
    sort_at     TEXT NOT NULL,                -- items.sort_at
    item_id     INTEGER NOT NULL REFERENCES items(id) ON DELETE CASCADE,
    fingerprint INTEGER NOT NULL,
    PRIMARY KEY (lookup_key, lang, sort_at, item_id)
) WITHOUT ROWID;
CREATE INDEX story_keys_item ON story_keys (item_id);

-- One row per story with its outlets (feeds carrying any of its items) and
-- languages, for sqlite3 users.
CREATE VIEW story_summary AS
SELECT s.id, s.headline, s.first_seen, s.last_seen, s.item_count,
       (SELECT count(DISTINCT src.feed_id) FROM items i JOIN item_sources src ON src.item_id = i.id
         WHERE i.story_id = s.id) AS outlet_count,
       (SELECT group_concat(name, '; ') FROM (
           SELECT DISTINCT coalesce(f.name, f.title, f.url) AS name
             FROM items i JOIN item_sources src ON src.item_id = i.id JOIN feeds f ON f.id = src.feed_id
            WHERE i.story_id = s.id ORDER BY name)) AS outlets,
       (SELECT group_concat(lang, ',') FROM (
           SELECT DISTINCT i.lang FROM items i WHERE i.story_id = s.id AND i.lang IS NOT NULL
            ORDER BY i.lang)) AS languages
  FROM stories s;

-- Every item has a story. Items stored before this migration each start
-- their own.
INSERT INTO stories (id, headline, first_seen, last_seen, item_count)
    SELECT id, title, sort_at, sort_at, 1 FROM items;
UPDATE items SET story_id = id;

-- Bookkeeping the store relies on, kept in SQL so that every write path
-- keeps it true: an item's first feed is a source; an item inserted without
-- a story starts one named after it; a story's counters follow its items.
CREATE TRIGGER items_first_source AFTER INSERT ON items
BEGIN
    INSERT INTO item_sources (feed_id, item_key, item_id, content_hash, first_seen_at)
        VALUES (new.feed_id, new.item_key, new.id, new.content_hash, new.first_seen_at);
END;

CREATE TRIGGER items_new_story AFTER INSERT ON items WHEN new.story_id IS NULL
BEGIN
    INSERT INTO stories (headline, first_seen, last_seen, item_count)
        VALUES (new.title, new.sort_at, new.sort_at, 1);
    UPDATE items SET story_id = last_insert_rowid() WHERE id = new.id;
END;

CREATE TRIGGER items_join_story AFTER INSERT ON items WHEN new.story_id IS NOT NULL
BEGIN
    UPDATE stories SET item_count = item_count + 1,
        first_seen = min(first_seen, new.sort_at), last_seen = max(last_seen, new.sort_at)
        WHERE id = new.story_id;
END;

CREATE TRIGGER items_story_span AFTER UPDATE OF sort_at ON items WHEN new.story_id IS NOT NULL
BEGIN
    UPDATE stories SET first_seen = min(first_seen, new.sort_at), last_seen = max(last_seen, new.sort_at)
        WHERE id = new.story_id;
END;

CREATE TRIGGER items_leave_story AFTER DELETE ON items WHEN old.story_id IS NOT NULL
BEGIN
    UPDATE stories SET item_count = item_count - 1 WHERE id = old.story_id;
    DELETE FROM stories WHERE id = old.story_id AND item_count <= 0;
END;
