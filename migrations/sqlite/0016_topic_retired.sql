-- A topic that left the configuration (removed or renamed) is retired, not
-- deleted: its matches stay for history. `feedwatch run` sets retired_at
-- when it no longer finds the topic in the config and clears it when the
-- topic comes back. `topics list --all` shows retired topics.
ALTER TABLE topics ADD COLUMN retired_at TEXT;
