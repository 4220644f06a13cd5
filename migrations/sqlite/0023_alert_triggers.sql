-- Alert triggers (issue 25): spike and breaking-story alerts.

-- A topic's volume in a window is a range of one index, not a scan of its
-- matches: each match carries its item's `sort_at` (publication time, else
-- first seen), kept by the triggers below.
ALTER TABLE item_topics ADD COLUMN sort_at TEXT;
UPDATE item_topics SET sort_at = (SELECT i.sort_at FROM items i WHERE i.id = item_topics.item_id);
CREATE INDEX item_topics_volume ON item_topics (topic_id, sort_at);

CREATE TRIGGER item_topics_sort_at AFTER INSERT ON item_topics BEGIN
    UPDATE item_topics SET sort_at = (SELECT i.sort_at FROM items i WHERE i.id = new.item_id)
        WHERE item_id = new.item_id AND topic_id = new.topic_id;
END;
CREATE TRIGGER items_topics_sort_at AFTER UPDATE OF sort_at ON items BEGIN
    UPDATE item_topics SET sort_at = new.sort_at WHERE item_id = new.id;
END;

-- Spike episodes of `trigger = "spike"` alerts: one row per (alert, topic)
-- episode, from a window at or above the threshold until the count has
-- stayed under it for a whole window (`last_spike_at`: the last verdict at
-- or above it); `ended_at` is null while it lasts (one open episode per
-- alert and topic). `notice` is the episode's notice as first reported
-- (JSON: count, baseline, outlets, stories...); `peak` the highest count
-- seen while it lasted. Digests report each
-- episode once per channel (`digest_notices` key `spike:<id>`).
CREATE TABLE spike_episodes (
    id         INTEGER PRIMARY KEY,
    alert      TEXT NOT NULL,
    topic      TEXT NOT NULL,
    started_at TEXT NOT NULL,
    last_spike_at TEXT NOT NULL,
    ended_at   TEXT,
    peak       INTEGER NOT NULL,
    notice     TEXT NOT NULL
);
CREATE UNIQUE INDEX spike_episodes_open ON spike_episodes (alert, topic) WHERE ended_at IS NULL;
CREATE INDEX spike_episodes_alert ON spike_episodes (alert, started_at);
CREATE INDEX spike_episodes_topic ON spike_episodes (topic, started_at);
