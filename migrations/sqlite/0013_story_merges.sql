-- Stories merged into another. Two copies of a wire story can be further
-- apart than the near-duplicate threshold while a third copy is near both:
-- if the two far ones were stored first, each started a story, and the
-- third one (the bridge) then merges the two. The story with the lower id
-- keeps its id and takes the other's items; the other's id is recorded here
-- so that users holding it (`search --story`, scripts) still find them.
CREATE TABLE story_merges (
    story_id    INTEGER PRIMARY KEY,  -- the merged story's id (no longer in stories)
    merged_into INTEGER NOT NULL,     -- a lower story id; it may have been merged again
    merged_at   TEXT NOT NULL
);
