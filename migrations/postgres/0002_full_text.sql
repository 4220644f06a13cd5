-- Full text for summary-only feeds (issue 24); the same columns as SQLite's
-- 0022_full_text.sql, which says what each holds.
ALTER TABLE feeds ADD COLUMN full_text text CHECK (full_text IN ('never', 'auto', 'always'));
ALTER TABLE items ADD COLUMN text_source text NOT NULL DEFAULT 'feed' CHECK (text_source IN ('feed', 'page'));
ALTER TABLE items ADD COLUMN summary text;
ALTER TABLE items ADD COLUMN page_state text CHECK (page_state IN ('pending', 'done', 'failed'));
ALTER TABLE items ADD COLUMN page_error text;
ALTER TABLE items ADD COLUMN page_attempts integer NOT NULL DEFAULT 0;
ALTER TABLE items ADD COLUMN page_due timestamptz;
CREATE INDEX items_page_queue ON items (page_due, id) WHERE page_state = 'pending';
CREATE INDEX items_page_feed ON items (feed_id, page_state) WHERE page_state IS NOT NULL;
