-- Feed-health notices sent by alerts subscribed to "feed-health": each
-- episode (a feed failing since a time, or silent since its last new item)
-- is reported once per (alert, channel).
CREATE TABLE digest_notices (
    digest_id TEXT NOT NULL REFERENCES digests(id) ON DELETE CASCADE,
    alert     TEXT NOT NULL,
    channel   TEXT NOT NULL,
    key       TEXT NOT NULL,
    UNIQUE (alert, channel, key)
);
