-- Polling engine: the feeds table is the scheduler's job queue.

-- When the feed is next due; NULL means now.
ALTER TABLE feeds ADD COLUMN next_check_at TEXT;
-- The interval chosen at the last check, in seconds.
ALTER TABLE feeds ADD COLUMN check_interval INTEGER;
-- Observed publishing rate, from the item dates of the last document.
ALTER TABLE feeds ADD COLUMN items_per_week REAL;
-- Polls so far; every poll.unconditional_every-th one sends no validators.
ALTER TABLE feeds ADD COLUMN poll_count INTEGER NOT NULL DEFAULT 0;
-- 0 after a 410 Gone (or by hand); disabled_reason says why.
ALTER TABLE feeds ADD COLUMN enabled INTEGER NOT NULL DEFAULT 1;
ALTER TABLE feeds ADD COLUMN disabled_reason TEXT;
-- Where a permanent redirect (301/308) moved the feed; fetched instead of url.
ALTER TABLE feeds ADD COLUMN fetch_url TEXT;
-- Kind of the last failure without an HTTP status: timeout, connect, ...
ALTER TABLE feeds ADD COLUMN error_kind TEXT;
-- A problem that did not stop the feed (e.g. an ill-formed document repaired).
ALTER TABLE feeds ADD COLUMN warning TEXT;
-- 'config' (the config file) or 'added' (feeds add, opml import).
ALTER TABLE feeds ADD COLUMN source TEXT NOT NULL DEFAULT 'config';
-- Tags of added feeds, as a JSON array (config feeds take theirs from the config).
ALTER TABLE feeds ADD COLUMN tags TEXT NOT NULL DEFAULT '[]';

CREATE INDEX feeds_due ON feeds (enabled, next_check_at);
