-- Items carry the language identified from their text (`items.lang`, a
-- BCP 47 primary subtag: `en`, `fa`, `ckb`; see src/langid.rs) and, beside
-- it, the tag their feed declared (`declared_lang`, as the feed wrote it,
-- lower case: `en-us`). Items stored before identification have only the
-- declared tag: it is both, until the item is next updated.
ALTER TABLE items ADD COLUMN declared_lang TEXT;
UPDATE items SET declared_lang = lang;
