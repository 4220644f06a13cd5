-- Alert digests: an outbox of digests per channel, and which matches each
-- covers (every match reaches each channel of its alert in one digest).

-- Per alert: when it was first configured (older matches are never sent)
-- and where its last digest period ended.
CREATE TABLE alert_state (
    alert      TEXT PRIMARY KEY,
    created_at TEXT NOT NULL,
    last_cut   TEXT NOT NULL
);

-- One digest for one channel. `id` is the idempotency key sent with every
-- attempt (e-mail Message-ID, webhook X-Feedwatch-Digest-Id); `content` is
-- the digest as JSON, built once, so every attempt sends the same digest.
CREATE TABLE digests (
    id              TEXT PRIMARY KEY,
    alert           TEXT NOT NULL,
    channel         TEXT NOT NULL,
    period_start    TEXT NOT NULL,
    period_end      TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    status          TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    last_error      TEXT,
    delivered_at    TEXT,
    item_count      INTEGER NOT NULL,
    content         TEXT NOT NULL
);
CREATE INDEX digests_due ON digests (status, next_attempt_at);

CREATE TABLE digest_items (
    digest_id TEXT NOT NULL REFERENCES digests(id) ON DELETE CASCADE,
    alert     TEXT NOT NULL,
    channel   TEXT NOT NULL,
    item_id   INTEGER NOT NULL REFERENCES items(id) ON DELETE CASCADE,
    topic_id  INTEGER NOT NULL REFERENCES topics(id) ON DELETE CASCADE,
    UNIQUE (alert, channel, item_id, topic_id)
);
CREATE INDEX digest_items_digest ON digest_items (digest_id);
