#!/usr/bin/env python3
"""The SQLite floor of a cold cycle: the same rows, written by SQLite alone.

Takes a database written by a cold `feedwatch run --once` and writes its
rows again into a new database with the same schema, pragmas and triggers,
in one transaction, with no Rust, no network, no parsing and no lookups:
the least work SQLite itself must do to store what the cycle stored. Each
part is timed on its own (in order: stories, items with their indexes and
triggers (item_sources, story counters), item_topics, the full-text index,
story_buckets, commit), so the total is a lower bound for the writer of a cold
cycle on this machine, and the parts show which rows cost what.

  python3 scripts/store_floor.py /tmp/farm.db [--runs 3] [--out /tmp/floor.db]

Prints one Markdown row per part with the median over the runs (and every
run's value), and the total. Uses Python's sqlite3 module (the system
SQLite, which may be a different version from the one bundled in
feedwatch: the script prints both versions it can see).
"""

import argparse
import os
import sqlite3
import statistics
import time

# FTS5 keeps its index in these; they are created with the virtual table.
SHADOW = ("items_fts_data", "items_fts_idx", "items_fts_content", "items_fts_docsize", "items_fts_config")


def schema(src):
    """CREATE statements of the source in creation order, shadow tables
    and SQLite's own tables left out."""
    rows = src.execute(
        "SELECT type, name, sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY rowid"
    ).fetchall()
    return [
        sql
        for kind, name, sql in rows
        if name not in SHADOW and not name.startswith("sqlite_") and name != "_sqlx_migrations"
    ]


def columns(db, table):
    return [r[1] for r in db.execute(f"PRAGMA table_info({table})")]


def one_run(source, out):
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(out + suffix):
            os.remove(out + suffix)
    db = sqlite3.connect(out, isolation_level=None)
    for pragma in ("journal_mode = WAL", "synchronous = NORMAL", "foreign_keys = ON",
                   "temp_store = memory", "cache_size = -16384"):
        db.execute(f"PRAGMA {pragma}")
    src = sqlite3.connect(source)
    for sql in schema(src):
        db.execute(sql)
    src.close()
    db.execute("ATTACH ? AS src", (source,))
    feed_cols = ", ".join(columns(db, "feeds"))
    db.execute(f"INSERT INTO feeds ({feed_cols}) SELECT {feed_cols} FROM src.feeds")
    topic_cols = ", ".join(columns(db, "topics"))
    db.execute(f"INSERT INTO topics ({topic_cols}) SELECT {topic_cols} FROM src.topics")
    item_cols = ", ".join(columns(db, "items"))
    parts = [
        ("stories (item_count 0; the items' trigger counts them)",
         "INSERT INTO stories (id, headline, first_seen, last_seen, item_count) "
         "SELECT id, headline, first_seen, last_seen, 0 FROM src.stories ORDER BY id"),
        ("items: 7 indexes; triggers write item_sources and story counters",
         f"INSERT INTO items ({item_cols}) SELECT {item_cols} FROM src.items ORDER BY id"),
        ("item_topics",
         "INSERT INTO item_topics SELECT * FROM src.item_topics ORDER BY item_id, topic_id"),
        ("full-text index (items_fts, folded title and text)",
         "INSERT INTO items_fts (rowid, title, text) SELECT rowid, title, text FROM src.items_fts ORDER BY rowid"),
        ("story_buckets (a row per lookup key, items packed)",
         "INSERT INTO story_buckets SELECT * FROM src.story_buckets ORDER BY lookup_key"),
    ]
    times = []
    db.execute("BEGIN IMMEDIATE")
    for name, sql in parts:
        start = time.perf_counter()
        db.execute(sql)
        times.append((name, time.perf_counter() - start))
    start = time.perf_counter()
    db.execute("COMMIT")
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    times.append(("commit and checkpoint", time.perf_counter() - start))
    db.close()
    return times


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("source", help="database of a cold feedwatch cycle")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--out", default="/tmp/store-floor.db")
    args = ap.parse_args()
    src = sqlite3.connect(args.source)
    items = src.execute("SELECT count(*) FROM items").fetchone()[0]
    src.close()
    print(f"SQLite {sqlite3.sqlite_version} (Python); {items:,} items from {args.source}")
    runs = [one_run(args.source, args.out) for _ in range(args.runs)]
    print("\n| part | median s | runs |\n|---|---:|---|")
    for i, (name, _) in enumerate(runs[0]):
        values = [run[i][1] for run in runs]
        print(f"| {name} | {statistics.median(values):.2f} | {', '.join(f'{v:.2f}' for v in values)} |")
    totals = [sum(t for _, t in run) for run in runs]
    print(f"| **total** | **{statistics.median(totals):.2f}** | {', '.join(f'{v:.2f}' for v in totals)} |")
    print(f"\nsize: {os.path.getsize(args.out):,} bytes")


if __name__ == "__main__":
    main()
