-- feedwatch schema, version 1.
-- Timestamps are UTC text in the fixed form YYYY-MM-DDTHH:MM:SSZ, so text
-- order is time order and they read well in sqlite3.

-- One row per configured feed; fetch state and the last error live here.
CREATE TABLE feeds (
    id              INTEGER PRIMARY KEY,
    url             TEXT NOT NULL UNIQUE,
    name            TEXT,                      -- from the config
    title           TEXT,                      -- from the feed document
    site_url        TEXT,
    etag            TEXT,
    last_modified   TEXT,
    last_fetch_at   TEXT,
    last_success_at TEXT,
    last_status     INTEGER,                   -- HTTP status of the last fetch (200 for files)
    last_error      TEXT,                      -- NULL when the last fetch succeeded
    error_count     INTEGER NOT NULL DEFAULT 0, -- consecutive failures
    created_at      TEXT NOT NULL
);

-- One row per article per feed. item_key is the identity within the feed:
-- 'guid:<guid>', else 'url:<link>', else 'hash:<hash of title and text>'.
CREATE TABLE items (
    id            INTEGER PRIMARY KEY,
    feed_id       INTEGER NOT NULL REFERENCES feeds(id) ON DELETE CASCADE,
    item_key      TEXT NOT NULL,
    guid          TEXT,
    url           TEXT,
    title         TEXT NOT NULL,
    text          TEXT NOT NULL,
    author        TEXT,
    lang          TEXT,
    published     TEXT,                         -- as given by the feed
    updated       TEXT,
    sort_at       TEXT NOT NULL,                -- published, else first seen
    fetched_at    TEXT NOT NULL,                -- last time its content changed
    first_seen_at TEXT NOT NULL,
    content_hash  TEXT NOT NULL,
    version       INTEGER NOT NULL DEFAULT 1,   -- bumped on every in-place update
    UNIQUE (feed_id, item_key)
);
CREATE INDEX items_sort_at ON items (sort_at DESC, id DESC);

CREATE TABLE topics (
    id    INTEGER PRIMARY KEY,
    name  TEXT NOT NULL UNIQUE,
    query TEXT NOT NULL
);

-- Which items matched which topics, and when.
CREATE TABLE item_topics (
    item_id    INTEGER NOT NULL REFERENCES items(id) ON DELETE CASCADE,
    topic_id   INTEGER NOT NULL REFERENCES topics(id) ON DELETE CASCADE,
    matched_at TEXT NOT NULL,
    PRIMARY KEY (item_id, topic_id)
);
CREATE INDEX item_topics_topic ON item_topics (topic_id, item_id);
