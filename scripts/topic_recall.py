#!/usr/bin/env python3
"""Topic matches of a feedwatch database against a feedfarm's truth.jsonl:
planted (item, topic) pairs found, missed and extra.

    scripts/topic_recall.py DB FARM/truth.jsonl

Items are matched as in story_quality.py: by (feed number, GUID), RSS 1.0
items by link (/news/N -> urn:farm:F:N).
"""
import json, sqlite3, sys

from farmkeys import truth_key

db, truth_path = sys.argv[1], sys.argv[2]
truth = {}
for line in open(truth_path, encoding="utf-8"):
    t = json.loads(line)
    truth[(t["feed"], t["guid"])] = set(t.get("topics") or [])

con = sqlite3.connect(db)
found = {}
rows = con.execute(
    "SELECT f.url, src.item_key, (SELECT group_concat(t.name, char(31)) FROM item_topics it "
    "JOIN topics t ON t.id = it.topic_id WHERE it.item_id = src.item_id) "
    "FROM item_sources src JOIN feeds f ON f.id = src.feed_id")
for url, key, topics in rows:
    item = truth_key(url, key)
    if item is None:
        continue
    found[item] = set(topics.split("\x1f")) if topics else set()

planted = {(item, t) for item, ts in truth.items() for t in ts}
got = {(item, t) for item, ts in found.items() if item in truth for t in ts}
print(f"items matched to truth: {sum(1 for i in found if i in truth)} of {len(truth)}")
print(f"planted pairs: {len(planted)}, found: {len(planted & got)}, "
      f"missed: {len(planted - got)}, extra: {len(got - planted)}")
