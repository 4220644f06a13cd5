"""Truncated-download recovery (issue 18 "must not regress"): each farm feed cut at 5 points between its
first item and its end; count cut documents from which at least one item is
read, and items read, per binary."""
import json, os, subprocess, sys
# usage: truncation_recovery.py FARM/feeds BINARY... (each binary a feedwatch)
farm, out = sys.argv[1], "/tmp/trunc/docs"
os.makedirs(out, exist_ok=True)
docs = []
for name in sorted(os.listdir(farm)):
    body = open(os.path.join(farm, name), "rb").read()
    if not body.lstrip().startswith(b"<"):
        continue
    first = min([i for i in (body.find(b"<item"), body.find(b"<entry")) if i >= 0] or [-1])
    if first < 0:
        continue
    for k in range(1, 6):
        cut = first + (len(body) - first) * k // 6
        path = os.path.join(out, f"{name}.{k}")
        open(path, "wb").write(body[:cut])
        docs.append(path)
os.makedirs("/tmp/trunc", exist_ok=True)
cfg = "/tmp/trunc/empty.toml"
open(cfg, "w").write("[store]\npath = \"/tmp/trunc/x.db\"\n")
for binary in sys.argv[2:]:
    recovered = items = errors = 0
    for i in range(0, len(docs), 200):
        chunk = docs[i:i + 200]
        res = subprocess.run([binary, "--config", cfg, "parse", "--format", "jsonl", *chunk], capture_output=True, text=True)
        for line in res.stdout.splitlines():
            rec = json.loads(line)
            n = len(rec.get("items") or [])
            items += n
            recovered += n > 0
            errors += bool(rec.get("error"))
    print(f"{binary}: {len(docs)} cut documents, {recovered} with items, {items} items, {errors} errors")
