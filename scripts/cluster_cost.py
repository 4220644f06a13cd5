#!/usr/bin/env python3
"""What story clustering adds to a cold cycle: the same binary, alternating
a config with clustering (as given) and the same config with
`[stories] cluster = false` (no fingerprints, lookups or story keys; every
item its own story), each run on an empty database.

    scripts/cluster_cost.py BIN CONFIG [--rounds N] [--daemon] [--against OLD_BIN]

CONFIG is a farm config as in BENCHMARKS.md "Setup" (its [store] path is
deleted before every run; the run without clustering uses PATH-nocluster).
Prints every run, then per-round ratios (with / without) of wall time and
user+sys CPU and their medians: on a shared machine the ratio within a
round is what to trust, not single times.

With --against, every round also runs OLD_BIN with and without clustering
(same databases, interleaved), so two builds' costs are compared under the
same load; the ratio of their per-round ratios is printed too.

`run --once` writes the owed story keys before it exits. With --daemon the
daemon (`run`) is timed instead, from its start until every feed's result
is committed (the writer's trace log), and stopped after it has written the
owed story keys in idle time (their time is printed; CPU is not measured).
"""
import argparse, os, re, signal, statistics, subprocess, tempfile, time, tomllib

parser = argparse.ArgumentParser()
parser.add_argument("binary")
parser.add_argument("config")
parser.add_argument("--rounds", type=int, default=4)
parser.add_argument("--daemon", action="store_true")
parser.add_argument("--against", help="a second binary, measured in the same rounds")
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


feeds = len(config.get("feed", []))


def clean(path):
    for suffix in ("", "-wal", "-shm"):
        try:
            os.remove(path + suffix)
        except FileNotFoundError:
            pass


def run_daemon(binary, cfg, path, clustering):
    """Seconds until every feed's result is committed; the settle's time."""
    clean(path)
    env = dict(os.environ, NO_COLOR="1",
               RUST_LOG="warn,feedwatch::store::batch=trace,feedwatch::store::story_index=debug")
    started = time.monotonic()
    p = subprocess.Popen([binary, "--config", cfg, "run"], stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, env=env, text=True)
    written, cycle, settle = 0, None, ""
    try:
        for line in p.stdout:
            m = re.search(r"wrote feed results writes=(\d+)", line)
            if m:
                written += int(m[1])
                if written >= feeds and cycle is None:
                    cycle = time.monotonic() - started
                    if not clustering:
                        break
            m = re.search(r"settled story keys .*rows=([1-9]\d*) .*elapsed=(\S+)", line)
            if m and cycle is not None:
                settle = f", then {m[1]} story keys in {m[2]} when idle"
                break
    finally:
        p.send_signal(signal.SIGTERM)
        p.wait()
    if cycle is None:
        raise SystemExit(f"the daemon stopped before all {feeds} feeds were written")
    return cycle, 0.0, 0, settle


def run(binary, cfg, path, clustering):
    if args.daemon:
        return run_daemon(binary, cfg, path, clustering)
    clean(path)
    p = subprocess.run(
        ["/usr/bin/time", "-f", "wall=%e user=%U sys=%S maxrss=%M",
         binary, "--config", cfg, "run", "--once"],
        capture_output=True, text=True)
    m = re.search(r"wall=(\S+) user=(\S+) sys=(\S+) maxrss=(\d+)", p.stderr)
    if p.returncode != 0 or not m:
        raise SystemExit(f"run failed ({p.returncode}): {p.stderr[-2000:]}")
    return float(m[1]), float(m[2]) + float(m[3]), int(m[4]) // 1024, ""


binaries = [("", args.binary)] + ([("old ", args.against)] if args.against else [])
results = {f"{tag}{label}": [] for tag, _ in binaries for label in ("with", "without")}
try:
    for r in range(args.rounds):
        # Alternate which build goes first, so neither always runs after the other.
        order = binaries if r % 2 == 0 else binaries[::-1]
        for tag, binary in order:
            for label, cfg, path in (("with", args.config, db), ("without", off.name, off_db)):
                wall, cpu, rss, note = run(binary, cfg, path, label == "with")
                results[f"{tag}{label}"].append((wall, cpu, rss))
                name = f"{tag}{label}"
                if args.daemon:
                    print(f"round {r + 1} {name:11}: all feeds written after {wall:.2f} s{note}", flush=True)
                else:
                    print(f"round {r + 1} {name:11}: wall {wall:.2f} s, cpu {cpu:.2f} s, peak {rss} MB", flush=True)
finally:
    os.remove(off.name)

for label, rows in results.items():
    line = f"{label:11}: wall median {statistics.median(r[0] for r in rows):.2f} s"
    if not args.daemon:
        line += (f", cpu median {statistics.median(r[1] for r in rows):.2f} s, "
                 f"peak {min(r[2] for r in rows)}-{max(r[2] for r in rows)} MB")
    print(line)
per_build = {}
for tag, binary in binaries:
    for i, what in ((0, "wall"),) if args.daemon else ((0, "wall"), (1, "cpu")):
        ratios = [a[i] / b[i] for a, b in zip(results[f"{tag}with"], results[f"{tag}without"])]
        per_build[(tag, what)] = ratios
        print(f"{tag}{what} with/without per round: {', '.join(f'{x:.3f}' for x in ratios)}; "
              f"median {statistics.median(ratios):.3f}")
if args.against:
    for what in ("wall",) if args.daemon else ("wall", "cpu"):
        rr = [a / b for a, b in zip(per_build[("", what)], per_build[("old ", what)])]
        print(f"{what} ratio, this build / old build, per round: {', '.join(f'{x:.3f}' for x in rr)}; "
              f"median {statistics.median(rr):.3f}")
