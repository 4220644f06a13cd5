#!/usr/bin/env python3
"""Stories whose copies are only joined through a bridge: two items of one
story more than 8 bits apart (too far to join each other) and the feeds of
the items near both. Storing such a story's far copies first and its bridge
later must merge two stories into one (migration 0013, `story_merges`).

    scripts/story_bridges.py DB                       # list them
    scripts/story_bridges.py DB --without CONFIG OUT  # CONFIG minus the bridge feeds

With --without, OUT is CONFIG with every bridging [[feed]] left out: run
`run --once` with OUT, then with CONFIG on the same database, and check with
scripts/story_quality.py (BENCHMARKS.md, "Bridged stories").
"""
import collections, itertools, sqlite3, sys

DISTANCE = 8  # dedup::NEAR_DUPLICATE_DISTANCE


def distance(a, b):
    return bin((a ^ b) & (2**64 - 1)).count("1")


db = sys.argv[1]
rows = sqlite3.connect(db).execute(
    "SELECT i.id, i.story_id, i.fingerprint, f.url FROM items i JOIN feeds f ON f.id = i.feed_id "
    "WHERE i.fingerprint IS NOT NULL").fetchall()
stories = collections.defaultdict(list)
for row in rows:
    stories[row[1]].append(row)
bridges = set()
for story, items in sorted(stories.items()):
    for a, c in itertools.combinations(items, 2):
        if distance(a[2], c[2]) <= DISTANCE:
            continue
        near = [b[3] for b in items
                if b not in (a, c) and distance(a[2], b[2]) <= DISTANCE and distance(c[2], b[2]) <= DISTANCE]
        print(f"story {story}: {a[3]} and {c[3]} are {distance(a[2], c[2])} bits apart; bridged by {', '.join(near) or 'none'}")
        bridges.update(near)

if len(sys.argv) == 5 and sys.argv[2] == "--without":
    text = open(sys.argv[3], encoding="utf-8").read()
    head, *feeds = text.split("\n[[feed]]\n")
    keep = [f for f in feeds if not any(f'"{url}"' in f for url in bridges)]
    with open(sys.argv[4], "w", encoding="utf-8") as out:
        out.write(head + "".join("\n[[feed]]\n" + f for f in keep))
    print(f"{sys.argv[4]}: {len(keep)} of {len(feeds)} feeds (without {len(feeds) - len(keep)} bridging feeds)")
