#!/usr/bin/env python3
"""End-to-end benchmark: feedwatch against the feedfarm, beside its baselines.

Runs, against one farm served on loopback, in the same session:
  - feedwatch `run --once`: cold (empty database), warm (every feed 304),
    churn (`generate.py --cycle K+1`: ~10% of feeds gain items);
  - the fetch-only limit: curl --parallel --parallel-max 32, compressed;
  - newsboat `-x reload` with `reload-threads 32` (cold and warm), if installed
    and `--newsboat` is given (it is slow: minutes per run).
and prints a Markdown table of medians (wall, user+sys CPU, peak RSS, items/s)
and ratios against the baselines.

  python3 scripts/bench_e2e.py --farm /tmp/farm --port 18080 --feeds 2000 \
      --feedwatch target/release/feedwatch --runs 3 [--newsboat]

The farm directory is (re)generated at cycle 0 with --feeds feeds and served
with ../shared/feedfarm/serve.sh on --port; it is left at cycle 0.
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

TOPICS = '''[terms]
baqeri = ["Baqeri", "Bagheri", "Bakeri", "باقری"]
akar = ["Akar", "آکار", "وأكار", "ئاکار"]
kurdistan = ["Kurdistan", "Kurdish", "IKBY", "کردستان", "کوردستان"]
referendum = ["referend*", "referand*", "همه پرسی", "استفتاء", "الاستفتاء", "ڕیفراندۆم*"]
[[topic]]
name = "kurdistan-referendum"
query = '@kurdistan NEAR/3 @referendum'
[[topic]]
name = "iran-turkey-military"
query = '@baqeri NEAR/5 @akar'
'''


def timed(cmd, **kw):
    """Runs cmd; returns (wall s, user+sys s, peak RSS MB, stdout)."""
    start = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, **kw)
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.monotonic() - start
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"failed: {' '.join(cmd)}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, out.decode()


def generate(farm_gen, farm, feeds, cycle):
    subprocess.run([sys.executable, farm_gen, "--out", farm, "--feeds", str(feeds), "--cycle", str(cycle)],
                   check=True, stdout=subprocess.DEVNULL)


def items_in(farm):
    with open(os.path.join(farm, "truth.jsonl")) as f:
        return sum(1 for _ in f)


def median_row(runs):
    return tuple(statistics.median(r[i] for r in runs) for i in range(3))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--farm", required=True)
    ap.add_argument("--port", type=int, default=18080)
    ap.add_argument("--feeds", type=int, default=2000)
    ap.add_argument("--feedwatch", default="target/release/feedwatch")
    ap.add_argument("--shared", default=os.path.join(os.path.dirname(__file__), "..", "..", "shared"))
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--newsboat", action="store_true")
    ap.add_argument("--newsboat-cold-only", action="store_true",
                    help="skip newsboat's warm run (it re-parses every feed: ~70 ms per feed)")
    ap.add_argument("--skip-generate", action="store_true")
    args = ap.parse_args()

    farm_gen = os.path.join(args.shared, "feedfarm", "generate.py")
    serve = os.path.join(args.shared, "feedfarm", "serve.sh")
    feedwatch = os.path.abspath(args.feedwatch)
    if not args.skip_generate:
        generate(farm_gen, args.farm, args.feeds, 0)
    subprocess.run([serve, "--stop", args.farm], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    subprocess.run([serve, args.farm, str(args.port)], check=True, stdout=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{args.port}"
    with open(os.path.join(args.farm, "paths.txt")) as f:
        urls = [base + p.strip() for p in f if p.strip()]
    items = items_in(args.farm)

    work = tempfile.mkdtemp(prefix="bench-e2e-")
    db = os.path.join(work, "farm.db")
    config = os.path.join(work, "farm.toml")
    with open(config, "w") as f:
        # unconditional_every: the warm cycle is "every feed 304"; by default
        # a tenth of the feeds would be refetched without validators.
        f.write(f'[store]\npath = "{db}"\n[poll]\nconcurrency = 64\nper_host_concurrency = 64\n'
                'per_host_spacing = "0s"\nunconditional_every = 1000000\n[fetch]\nallow_private_networks = true\n\n')
        for u in urls:
            f.write(f'[[feed]]\nurl = "{u}"\n\n')
        f.write(TOPICS)
    curl_cfg = os.path.join(work, "urls.cfg")
    with open(curl_cfg, "w") as f:
        for u in urls:
            f.write(f'url = "{u}"\noutput = "/dev/null"\n')

    results = {"cold": [], "warm": [], "churn": [], "curl": []}
    churn_items = 0
    for run in range(args.runs):
        for p in (db, db + "-wal", db + "-shm"):
            if os.path.exists(p):
                os.remove(p)
        cmd = [feedwatch, "--config", config, "--log-level", "warn", "run", "--once"]
        results["cold"].append(timed(cmd)[:3])
        results["warm"].append(timed(cmd)[:3])
        generate(farm_gen, args.farm, args.feeds, 1)
        out = timed(cmd)
        results["churn"].append(out[:3])
        churn_items = int(out[3].split(": ")[1].split(" new")[0]) if ": " in out[3] else 0
        generate(farm_gen, args.farm, args.feeds, 0)
        results["curl"].append(timed(["curl", "--silent", "--compressed", "--parallel", "--parallel-max", "32",
                                      "-K", curl_cfg])[:3])
        print(f"run {run + 1}: cold {results['cold'][-1][0]:.2f} s, warm {results['warm'][-1][0]:.2f} s, "
              f"churn {results['churn'][-1][0]:.2f} s, curl {results['curl'][-1][0]:.2f} s", file=sys.stderr)

    if args.newsboat and shutil.which("newsboat"):
        nb = os.path.join(work, "newsboat")
        os.makedirs(nb)
        with open(os.path.join(nb, "urls"), "w") as f:
            f.write("\n".join(urls) + "\n")
        with open(os.path.join(nb, "config"), "w") as f:
            f.write("reload-threads 32\n")
        cmd = ["newsboat", "-x", "reload", "-u", os.path.join(nb, "urls"), "-c", os.path.join(nb, "cache.db"),
               "-C", os.path.join(nb, "config")]
        env = dict(os.environ, HOME=nb)
        results["newsboat cold"] = [timed(cmd, env=env)[:3]]
        print(f"newsboat: cold {results['newsboat cold'][0][0]:.1f} s", file=sys.stderr)
        if not args.newsboat_cold_only:
            results["newsboat warm"] = [timed(cmd, env=env)[:3]]
            print(f"newsboat: warm {results['newsboat warm'][0][0]:.1f} s", file=sys.stderr)

    rows = {k: median_row(v) for k, v in results.items() if v}
    print(f"\n{args.feeds} feeds, {items} items; medians of {args.runs} "
          f"(newsboat: 1 run); churn = {churn_items} new items\n")
    print("| run | wall | user+sys CPU | peak RSS | items/s |")
    print("|---|---|---|---|---|")
    for name, (wall, cpu, rss) in rows.items():
        n = {"cold": items, "churn": churn_items, "newsboat cold": items}.get(name)
        rate = f"{n / wall:,.0f}" if n else "–"
        print(f"| {name} | {wall:.2f} s | {cpu:.2f} s | {rss:.0f} MB | {rate} |")
    print()
    curl = rows["curl"][0]
    print(f"- feedwatch cold / fetch-only (curl): {rows['cold'][0] / curl:.1f}×; "
          f"warm / fetch-only: {rows['warm'][0] / curl:.1f}×")
    if "newsboat cold" in rows:
        print(f"- newsboat cold / feedwatch cold: {rows['newsboat cold'][0] / rows['cold'][0]:.1f}×")
    if "newsboat warm" in rows:
        print(f"- newsboat warm / feedwatch warm: {rows['newsboat warm'][0] / rows['warm'][0]:.0f}×")
    shutil.rmtree(work)


if __name__ == "__main__":
    main()
