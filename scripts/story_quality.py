#!/usr/bin/env python3
"""Pairwise precision and recall of feedwatch's stories against a feedfarm's
truth.jsonl (items sharing a `story` key are copies of one wire story).

    scripts/story_quality.py DB FARM/truth.jsonl [--list]

With --list, every split and wrongly merged pair is printed too.

A pair of items is *predicted* when both have the same story_id, *true* when
both have the same truth `story`. Items are matched by (feed number, GUID);
the feed number is read from the feed URL (/feeds/00042.xml -> 42).
"""
import collections, json, sqlite3, sys
from itertools import combinations

from farmkeys import truth_key

db, truth_path = sys.argv[1], sys.argv[2]
truth = {}
for line in open(truth_path, encoding="utf-8"):
    t = json.loads(line)
    truth[(t["feed"], t["guid"])] = t.get("story")

con = sqlite3.connect(db)
rows = con.execute(
    "SELECT f.url, src.item_key, i.story_id FROM item_sources src "
    "JOIN items i ON i.id = src.item_id JOIN feeds f ON f.id = src.feed_id")
pred, true = collections.defaultdict(list), collections.defaultdict(list)
seen = 0
for url, key, story_id in rows:
    item = truth_key(url, key)
    if item is None or item not in truth:
        continue
    seen += 1
    pred[story_id].append(item)
    if truth[item] is not None:
        true[truth[item]].append(item)

def pairs(groups):
    return {tuple(sorted(p)) for g in groups.values() for p in combinations(g, 2)}

p, t = pairs(pred), pairs(true)
tp = len(p & t)
precision = tp / len(p) if p else 1.0
recall = tp / len(t) if t else 1.0
multi = sum(1 for g in pred.values() if len(g) > 1)
print(f"items matched to truth: {seen} of {len(truth)}; stories with >1 item: {multi}")
print(f"true pairs: {len(t)}, predicted pairs: {len(p)}, kept together: {tp}, "
      f"wrongly merged: {len(p) - tp}, split: {len(t) - tp}")
print(f"pairwise precision: {precision:.4f}  recall: {recall:.4f}")
if "--list" in sys.argv[3:]:
    story_of = {item: story for story, items in pred.items() for item in items}
    for a, b in sorted(t - p):
        print(f"split: {a} (story {story_of[a]}) / {b} (story {story_of[b]})")
    for a, b in sorted(p - t):
        print(f"merged: {a} / {b} (story {story_of[a]})")
