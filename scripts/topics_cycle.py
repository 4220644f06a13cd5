#!/usr/bin/env python3
"""Standing queries at scale, end to end (issue 27): the farm's cold cycle
(`run --once` into a new SQLite file) with N topics mixed like real briefs,
against the same cycle with 2 topics, in one run (alternated, medians).

The mix is examples/topics_bench's (20 % each): a phrase (`"name name"` or
`"common name"`), `common AND (name OR name OR name)`, `name NEAR/5
common`, `title:name OR "common name"`, `(name OR stem*) AND NOT common`;
names like `Rofumo35`, stems like `Kalite*`, the issue's ten common words.
The farm's articles mention none of the names: every topic is a brief
that does not match, which is what most standing queries are for most
articles, and the presearcher must keep them cheap.

Reports per N: CPU seconds (user + sys) and wall of the cycle, peak RSS,
items stored and topic matches, and the CPU ratio to the 2-topic cycle.
With `--baseline OTHER_BINARY`, each cycle also runs with that binary
(alternated, same configs) and the CPU ratios are against its 2-topic
cycle: a change measured against the code before it, in one run.

  ../shared/feedfarm/serve.sh /tmp/farm2k 18091
  python3 scripts/topics_cycle.py --farm /tmp/farm2k --port 18091 \\
      --feedwatch target/release/feedwatch --topics 2,10000,100000 --runs 3 \\
      [--baseline /tmp/feedwatch-before]
"""

import argparse
import os
import re
import statistics
import subprocess
import tempfile
import urllib.request

COMMON = ["government", "minister", "security", "border", "military", "trade",
          "parliament", "election", "president", "oil"]


class Rng:
    """Deterministic xorshift: the same topics on every run."""

    def __init__(self):
        self.state = 0x2545F4914F6CDD1D

    def next(self):
        s = self.state
        s ^= (s << 13) & 0xFFFFFFFFFFFFFFFF
        s ^= s >> 7
        s ^= (s << 17) & 0xFFFFFFFFFFFFFFFF
        self.state = s
        return s

    def below(self, n):
        return self.next() % n

    def pick(self, items):
        return items[self.below(len(items))]


def stem(rng):
    consonants, vowels = "bcdfghjklmnprstvz", "aeiou"
    s = "".join(consonants[rng.below(len(consonants))] + vowels[rng.below(len(vowels))] for _ in range(3))
    return s[0].upper() + s[1:]


def name(rng):
    return f"{stem(rng)}{1 + rng.below(99)}"


def briefs(n):
    rng = Rng()
    out = []
    for i in range(n):
        common = rng.pick(COMMON)
        kind = i % 5
        if kind == 0:
            a, b = name(rng), name(rng)
            out.append(f'"{a} {b}"' if rng.below(2) == 0 else f'"{common} {a}"')
        elif kind == 1:
            names = [name(rng), name(rng), name(rng)]
            out.append(f"{common} AND ({names[0]} OR {names[1]} OR {names[2]})")
        elif kind == 2:
            out.append(f"{name(rng)} NEAR/5 {common}")
        elif kind == 3:
            a, b = name(rng), name(rng)
            out.append(f'title:{a} OR "{common} {b}"')
        else:
            a, s = name(rng), stem(rng)
            rng.below(5)  # the bench's suffix choice, kept for the same sequence
            out.append(f"({a} OR {s}*) AND NOT {rng.pick(COMMON)}")
    return out


def config(db, farm, port, topics):
    lines = [f'[store]\npath = "{db}"\n',
             "[poll]\ninterval = \"1h\"\nconcurrency = 64\nper_host_concurrency = 64\n"
             "per_host_spacing = \"0s\"\nunconditional_every = 1000000\n",
             "[fetch]\nallow_private_networks = true\n"]
    for p in open(os.path.join(farm, "paths.txt")):
        lines.append(f'[[feed]]\nurl = "http://127.0.0.1:{port}{p.strip()}"\n')
    for i, query in enumerate(topics):
        lines.append(f"[[topic]]\nname = \"t{i}\"\nquery = '{query}'\n")
    return "".join(lines)


def cycle(feedwatch, cfg, db):
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(db + suffix):
            os.remove(db + suffix)
    out = subprocess.run(["/usr/bin/time", "-f", "TIME %e %U %S %M", feedwatch, "--config", cfg, "run", "--once"],
                         capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"run --once failed: {out.stderr[-2000:]}")
    wall, user, sys_, rss = re.search(r"TIME (\S+) (\S+) (\S+) (\S+)", out.stderr).groups()
    summary = re.search(r"(\d+) new items, \d+ updated, (\d+) topic matches", out.stdout + out.stderr)
    return float(wall), float(user) + float(sys_), int(rss) // 1024, int(summary.group(1)), int(summary.group(2))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--farm", required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--feedwatch", default="target/release/feedwatch")
    ap.add_argument("--topics", default="2,10000")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--baseline", help="another feedwatch binary, run alternately with the same configs")
    a = ap.parse_args()
    first = open(os.path.join(a.farm, "paths.txt")).readline().strip()
    try:
        urllib.request.urlopen(f"http://127.0.0.1:{a.port}{first}", timeout=5).read(1)
    except OSError as e:
        raise SystemExit(f"the farm is not served on port {a.port} ({e}): ../shared/feedfarm/serve.sh {a.farm} {a.port}")
    work = tempfile.mkdtemp(prefix="fw-topics-")
    db = os.path.join(work, "fw.db")
    sizes = [int(n) for n in a.topics.split(",")]
    configs = {}
    for n in sizes:
        configs[n] = os.path.join(work, f"t{n}.toml")
        open(configs[n], "w").write(config(db, a.farm, a.port, briefs(n)))
    binaries = [a.feedwatch] + ([a.baseline] if a.baseline else [])
    results = {(b, n): [] for b in binaries for n in sizes}
    for _ in range(a.runs):
        for n in sizes:  # alternated: each run sees the same machine state
            for b in binaries:
                results[(b, n)].append(cycle(b, configs[n], db))
    reference = binaries[-1]
    base = statistics.median(r[1] for r in results[(reference, sizes[0])])
    print(f"{a.runs} runs each, medians; CPU ratio against {sizes[0]} topics of {reference}")
    print("| binary | topics | wall s | CPU s | CPU ratio | peak RSS MB | items | matches |")
    print("|---|---|---|---|---|---|---|---|")
    for n in sizes:
        for b in binaries:
            rows = results[(b, n)]
            cpu = statistics.median(r[1] for r in rows)
            print(f"| {b} | {n:,} | {statistics.median(r[0] for r in rows):.1f} | {cpu:.1f} | {cpu / base:.2f} "
                  f"| {statistics.median(r[2] for r in rows)} | {rows[0][3]:,} | {rows[0][4]:,} |")


if __name__ == "__main__":
    main()
