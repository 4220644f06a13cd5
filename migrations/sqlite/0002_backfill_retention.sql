-- Topic backfill and retention of unmatched items.

-- Matches found when a new or changed topic was evaluated against stored
-- items; they never trigger alerts for old items.
ALTER TABLE item_topics ADD COLUMN backfilled INTEGER NOT NULL DEFAULT 0;

-- The canonical form of the query (term sets expanded) that the topic's
-- matches were last computed with; a difference triggers a backfill.
ALTER TABLE topics ADD COLUMN compiled TEXT NOT NULL DEFAULT '';

-- Items removed by retention. A feed that still lists one does not bring it
-- back as new.
CREATE TABLE tombstones (
    feed_id   INTEGER NOT NULL REFERENCES feeds(id) ON DELETE CASCADE,
    item_key  TEXT NOT NULL,
    pruned_at TEXT NOT NULL,
    PRIMARY KEY (feed_id, item_key)
);

CREATE INDEX items_first_seen ON items (first_seen_at);
