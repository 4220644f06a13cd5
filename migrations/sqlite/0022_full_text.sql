-- Full text for summary-only feeds (issue 24): an item's article page is
-- fetched when its feed gives only a teaser (`full_text`).
--
-- feeds.full_text: the setting of a feed added at run time (`feeds add
--   --full-text`); NULL takes `[fetch] full_text` (a configured feed's
--   setting lives in the config).
-- items.text_source: where `text` came from, 'feed' or 'page';
-- items.summary: the feed's own text (the teaser) once `text` is the page's;
-- items.page_state: NULL (no page wanted), 'pending' (to fetch at or after
--   page_due), 'done' (fetched and extracted), 'failed' (given up: the
--   reason is page_error);
-- items.page_error: why the last attempt failed (kept when it is retried);
-- items.page_attempts: failed attempts so far.
ALTER TABLE feeds ADD COLUMN full_text TEXT;
ALTER TABLE items ADD COLUMN text_source TEXT NOT NULL DEFAULT 'feed';
ALTER TABLE items ADD COLUMN summary TEXT;
ALTER TABLE items ADD COLUMN page_state TEXT;
ALTER TABLE items ADD COLUMN page_error TEXT;
ALTER TABLE items ADD COLUMN page_attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE items ADD COLUMN page_due TEXT;
-- The page queue, oldest first; and per feed, its pages (`feeds list`).
CREATE INDEX items_page_queue ON items (page_due, id) WHERE page_state = 'pending';
CREATE INDEX items_page_feed ON items (feed_id, page_state) WHERE page_state IS NOT NULL;
