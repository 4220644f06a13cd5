-- Languages are compared and grouped by their primary subtag: `en-US`,
-- `en_us` and `EN` are `en` (`model::primary_language`; in SQL
-- `store::lang::primary_sql`, whose expression this view spells out).
-- story_summary lists each primary language of a story once, as
-- `feedwatch stories` does; `items.lang` keeps every item's full tag.
DROP VIEW story_summary;
CREATE VIEW story_summary AS
SELECT s.id, s.headline, s.first_seen, s.last_seen, s.item_count,
       (SELECT count(DISTINCT src.feed_id) FROM items i JOIN item_sources src ON src.item_id = i.id
         WHERE i.story_id = s.id) AS outlet_count,
       (SELECT group_concat(name, '; ') FROM (
           SELECT DISTINCT coalesce(f.name, f.title, f.url) AS name
             FROM items i JOIN item_sources src ON src.item_id = i.id JOIN feeds f ON f.id = src.feed_id
            WHERE i.story_id = s.id ORDER BY name)) AS outlets,
       (SELECT group_concat(lang, ',') FROM (
           SELECT DISTINCT lang FROM (
               SELECT lower(substr(trim(coalesce(i.lang, ''), char(32, 9, 10, 13)), 1,
                          instr(replace(trim(coalesce(i.lang, ''), char(32, 9, 10, 13)), '_', '-') || '-', '-') - 1))
                      AS lang
                 FROM items i WHERE i.story_id = s.id)
            WHERE lang <> '' ORDER BY lang)) AS languages
  FROM stories s;
