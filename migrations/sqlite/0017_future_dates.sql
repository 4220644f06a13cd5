-- Publication dates more than a day after the fetch (`2099-01-01`) are not
-- believed since the parse stage checks them (parse::dates::MAX_FUTURE_SKEW):
-- such an item is undated and sorts by its first-seen time. Items stored
-- before that check kept the date and sat at the top of every listing;
-- this applies the rule to them. (Story index entries follow `sort_at`
-- through the triggers of migration 0014.)
UPDATE items SET published = NULL, sort_at = first_seen_at
 WHERE published > strftime('%Y-%m-%dT%H:%M:%SZ', fetched_at, '+1 day');
