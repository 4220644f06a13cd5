#!/usr/bin/env python3
"""What story clustering adds to a cold cycle: the same binary, alternating
a config with clustering (as given) and the same config with
`[stories] cluster = false` (no fingerprints, lookups or story keys; every
item its own story), each run on an empty database.

    scripts/cluster_cost.py BIN CONFIG [--rounds N]

CONFIG is a farm config as in BENCHMARKS.md "Setup" (its [store] path is
deleted before every run; the run without clustering uses PATH-nocluster).
Prints every run, then per-round ratios (with / without) of wall time and
user+sys CPU and their medians: on a shared machine the ratio within a
round is what to trust, not single times.
"""
import argparse, os, re, statistics, subprocess, tempfile, tomllib

parser = argparse.ArgumentParser()
parser.add_argument("binary")
parser.add_argument("config")
parser.add_argument("--rounds", type=int, default=4)
args = parser.parse_args()

text = open(args.config, encoding="utf-8").read()
config = tomllib.loads(text)
if "stories" in config:
    raise SystemExit("the config has a [stories] table; remove it (the script adds one)")
db = config["store"]["path"]
off_db = db + "-nocluster"
off_text = text.replace(f'"{db}"', f'"{off_db}"', 1) + "\n[stories]\ncluster = false\n"
if tomllib.loads(off_text)["store"]["path"] != off_db:
    raise SystemExit("could not rewrite [store] path")
off = tempfile.NamedTemporaryFile("w", suffix=".toml", delete=False)
off.write(off_text)
off.close()


def run(cfg, path):
    for suffix in ("", "-wal", "-shm"):
        try:
            os.remove(path + suffix)
        except FileNotFoundError:
            pass
    p = subprocess.run(
        ["/usr/bin/time", "-f", "wall=%e user=%U sys=%S maxrss=%M",
         args.binary, "--config", cfg, "run", "--once"],
        capture_output=True, text=True)
    m = re.search(r"wall=(\S+) user=(\S+) sys=(\S+) maxrss=(\d+)", p.stderr)
    if p.returncode != 0 or not m:
        raise SystemExit(f"run failed ({p.returncode}): {p.stderr[-2000:]}")
    return float(m[1]), float(m[2]) + float(m[3]), int(m[4]) // 1024


results = {"with": [], "without": []}
try:
    for r in range(args.rounds):
        for label, cfg, path in (("with", args.config, db), ("without", off.name, off_db)):
            wall, cpu, rss = run(cfg, path)
            results[label].append((wall, cpu, rss))
            print(f"round {r + 1} {label:7}: wall {wall:.2f} s, cpu {cpu:.2f} s, peak {rss} MB", flush=True)
finally:
    os.remove(off.name)

for label, rows in results.items():
    print(f"{label:7}: wall median {statistics.median(r[0] for r in rows):.2f} s, "
          f"cpu median {statistics.median(r[1] for r in rows):.2f} s, "
          f"peak {min(r[2] for r in rows)}-{max(r[2] for r in rows)} MB")
for i, what in ((0, "wall"), (1, "cpu")):
    ratios = [a[i] / b[i] for a, b in zip(results["with"], results["without"])]
    print(f"{what} with/without per round: {', '.join(f'{x:.3f}' for x in ratios)}; "
          f"median {statistics.median(ratios):.3f}")
