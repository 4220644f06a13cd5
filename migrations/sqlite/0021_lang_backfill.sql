-- Items whose content was last written before language identification
-- (migration 0018; `fetched_at` is when an item's content last changed,
-- and every write since identifies it) still have their feed's declared
-- tag as `lang` (`en-us`, or `en` for Persian copy in an English feed), so
-- `lang:` topics, `--lang`, stats and reports treat them unlike newer
-- items. They are listed here for the next writer to identify when it
-- opens the database (`SqliteStore::backfill_languages`, in batches, with
-- the same `langid::identify` the pipeline runs; emptied as it goes).
-- Items written since 0018 are not listed: they were identified, or given
-- their feed's `[[feed]] lang`, which the store cannot know.
CREATE TABLE items_lang_backfill (item_id INTEGER PRIMARY KEY);
INSERT INTO items_lang_backfill (item_id)
    SELECT id FROM items
    WHERE coalesce(unixepoch(fetched_at), 0)
        < (SELECT unixepoch(installed_on) FROM _sqlx_migrations WHERE version = 18);
