#!/usr/bin/env python3
"""The farm's cold cycle on SQLite and on PostgreSQL, with 1..N instances.

Measures, in one run on one machine:
  - `run --once` into a fresh SQLite file (the baseline);
  - `run --once` into a fresh PostgreSQL database (one instance);
  - N daemons (`run`) started together on a fresh PostgreSQL database,
    until every feed has been polled once: wall time, feedwatch CPU (all
    instances), PostgreSQL server CPU, polls per instance (the work split),
    the sum of polls (= feeds: nothing fetched twice), items stored and
    duplicates (none).

Needs PostgreSQL's server binaries (Debian: postgresql) and psql; starts a
throwaway server in a temp directory (as the `postgres` user when run as
root). The farm must be served already (../shared/feedfarm/serve.sh).

  python3 scripts/pg_instances.py --farm /tmp/farm300 --port 18090 \
      --feedwatch target/release/feedwatch --instances 1,2,3 --runs 3
"""
import argparse
import glob
import os
import shutil
import signal
import socket
import statistics
import subprocess
import tempfile
import time
import urllib.request

HZ = os.sysconf("SC_CLK_TCK")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pg_bin():
    for d in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if os.path.exists(os.path.join(d, "initdb")):
            return d
    path = shutil.which("initdb")
    if path:
        return os.path.dirname(path)
    raise SystemExit("PostgreSQL's server binaries are needed (apt-get install postgresql)")


class Server:
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="fw-bench-pg-")
        self.port = free_port()
        root = os.geteuid() == 0
        self.prefix = ["runuser", "-u", "postgres", "--"] if root else []
        if root:
            subprocess.run(["chown", "-R", "postgres:postgres", self.dir], check=True)
        data = os.path.join(self.dir, "data")
        b = pg_bin()
        subprocess.run(self.prefix + [f"{b}/initdb", "-D", data, "-U", "postgres", "--auth=trust",
                                      "--encoding=UTF8", "--locale=C.UTF-8"],
                       check=True, stdout=subprocess.DEVNULL)
        self.proc = subprocess.Popen(self.prefix + [f"{b}/postgres", "-D", data, "-p", str(self.port),
                                                    "-k", self.dir, "-c", "listen_addresses=127.0.0.1",
                                                    "-c", "max_connections=200"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(200):
            if subprocess.run(["psql", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres",
                               "-At", "-c", "SELECT 1"], capture_output=True).returncode == 0:
                return
            time.sleep(0.1)
        raise SystemExit("the PostgreSQL server did not start")

    def sql(self, db, query):
        out = subprocess.run(["psql", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres",
                              "-d", db, "-At", "-c", query], capture_output=True, text=True, check=True)
        return out.stdout.strip()

    def fresh(self, name):
        self.sql("postgres", f"DROP DATABASE IF EXISTS {name}")
        self.sql("postgres", f"CREATE DATABASE {name}")
        return f"postgres://postgres@127.0.0.1:{self.port}/{name}"

    def cpu(self):
        """CPU seconds used so far by the server: the postmaster, the
        backends it has reaped (its children's times) and those alive."""
        pid = int(open(os.path.join(self.dir, "data", "postmaster.pid")).readline())
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        total = sum(int(x) for x in fields[11:15]) / HZ
        for child in os.listdir("/proc"):
            if not child.isdigit():
                continue
            try:
                with open(f"/proc/{child}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                if int(fields[1]) == pid:
                    total += (int(fields[11]) + int(fields[12])) / HZ
            except OSError:
                pass
        return total

    def stop(self):
        # runuser does not pass SIGINT on: signal the postmaster itself.
        pid = int(open(os.path.join(self.dir, "data", "postmaster.pid")).readline())
        os.kill(pid, signal.SIGINT)
        self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


def config(store, farm, port, http_port=None, name=None):
    lines = [f"[store]\n{store}\n",
             "[poll]\ninterval = \"1h\"\nconcurrency = 64\nper_host_concurrency = 64\n"
             "per_host_spacing = \"0s\"\nunconditional_every = 1000000\n",
             "[fetch]\nallow_private_networks = true\n"]
    if http_port:
        lines.append(f"[http]\nlisten = \"127.0.0.1:{http_port}\"\ninstance = \"{name}\"\n")
    for p in open(os.path.join(farm, "paths.txt")):
        lines.append(f"[[feed]]\nurl = \"http://127.0.0.1:{port}{p.strip()}\"\n")
    lines.append("[[topic]]\nname = \"k\"\nquery = 'Kurdistan NEAR/3 referend*'\n")
    return "".join(lines)


def timed(cmd):
    before = os.times()
    t0 = time.monotonic()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    after = os.times()
    return time.monotonic() - t0, (after.children_user - before.children_user) + (after.children_system - before.children_system)


def proc_cpu(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / HZ


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--farm", required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--feedwatch", default="target/release/feedwatch")
    ap.add_argument("--instances", default="1,2,3")
    ap.add_argument("--runs", type=int, default=3)
    a = ap.parse_args()
    paths = [line.strip() for line in open(os.path.join(a.farm, "paths.txt")) if line.strip()]
    feeds = len(paths)
    try:
        urllib.request.urlopen(f"http://127.0.0.1:{a.port}/{paths[0].lstrip('/')}", timeout=5).read(1)
    except OSError as e:
        raise SystemExit(f"the farm is not served on port {a.port} ({e}): "
                         f"../shared/feedfarm/serve.sh {a.farm} {a.port}")
    work = tempfile.mkdtemp(prefix="fw-bench-")
    server = Server()
    rows = {}
    try:
        for run in range(a.runs):
            # SQLite baseline.
            db = os.path.join(work, "s.db")
            for f in glob.glob(db + "*"):
                os.remove(f)
            cfg = os.path.join(work, "s.toml")
            open(cfg, "w").write(config(f'path = "{db}"', a.farm, a.port))
            wall, cpu = timed([a.feedwatch, "--config", cfg, "run", "--once"])
            items = int(subprocess.run(["sqlite3", db, "SELECT count(*) FROM items"], capture_output=True,
                                       text=True).stdout.strip() or 0)
            rows.setdefault("sqlite, run --once", []).append((wall, cpu, 0.0, items, [feeds]))
            # PostgreSQL, one instance, run --once.
            url = server.fresh("once")
            cfg = os.path.join(work, "p.toml")
            open(cfg, "w").write(config(f'url = "{url}"', a.farm, a.port))
            pg0 = server.cpu()
            wall, cpu = timed([a.feedwatch, "--config", cfg, "run", "--once"])
            items = int(server.sql("once", "SELECT count(*) FROM items"))
            rows.setdefault("postgres, run --once", []).append((wall, cpu, server.cpu() - pg0, items, [feeds]))
            # PostgreSQL, N daemons together.
            for n in [int(x) for x in a.instances.split(",")]:
                url = server.fresh(f"n{n}")
                procs = []
                pg0 = server.cpu()
                t0 = time.monotonic()
                for i in range(n):
                    cfg = os.path.join(work, f"n{n}-{i}.toml")
                    open(cfg, "w").write(config(f'url = "{url}"', a.farm, a.port, free_port(), f"i{i}"))
                    procs.append(subprocess.Popen([a.feedwatch, "--config", cfg, "run"],
                                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
                while True:
                    time.sleep(0.2)
                    try:
                        left = int(server.sql(f"n{n}", "SELECT count(*) FROM feeds WHERE poll_count = 0 "
                                                       "OR lease_owner IS NOT NULL"))
                        total = int(server.sql(f"n{n}", "SELECT count(*) FROM feeds"))
                    except subprocess.CalledProcessError:
                        continue
                    if total == feeds and left == 0:
                        break
                wall = time.monotonic() - t0
                cpu = sum(proc_cpu(p.pid) for p in procs)
                pg = server.cpu() - pg0
                per = server.sql(f"n{n}", "SELECT string_agg(n::text, ',') FROM (SELECT sum(poll_count) n FROM feeds "
                                          "GROUP BY split_part(coalesce(lease_owner, ''), ':', 1)) x")
                polls = int(server.sql(f"n{n}", "SELECT sum(poll_count) FROM feeds"))
                items = int(server.sql(f"n{n}", "SELECT count(*) FROM items"))
                dups = int(server.sql(f"n{n}", "SELECT count(*) FROM (SELECT canonical_url FROM items WHERE "
                                               "canonical_url IS NOT NULL GROUP BY canonical_url HAVING count(*) > 1) d"))
                for p in procs:
                    p.send_signal(signal.SIGTERM)
                for p in procs:
                    p.wait()
                rows.setdefault(f"postgres, {n} daemon(s)", []).append((wall, cpu, pg, items, [polls, dups]))
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)
    print(f"{feeds} feeds, medians of {a.runs} runs")
    print("| store | wall s | feedwatch CPU s | PostgreSQL CPU s | items | items/s | CPU ms/item (both) | polls, duplicates |")
    print("|---|---|---|---|---|---|---|---|")
    for name, rs in rows.items():
        wall = statistics.median(r[0] for r in rs)
        cpu = statistics.median(r[1] for r in rs)
        pg = statistics.median(r[2] for r in rs)
        items = statistics.median(r[3] for r in rs)
        print(f"| {name} | {wall:.2f} | {cpu:.2f} | {pg:.2f} | {items:.0f} | {items / wall:.0f} | "
              f"{1000 * (cpu + pg) / max(items, 1):.3f} | {rs[-1][4]} |")


if __name__ == "__main__":
    main()
