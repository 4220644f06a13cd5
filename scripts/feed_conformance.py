#!/usr/bin/env python3
"""Field-by-field conformance of feedwatch against Python's Universal Feed
Parser (feedparser), on the test corpus feedparser ships in its source
package (issue 18).

feedparser's sdist (and sgmllib3k, which it needs) is downloaded from PyPI
into a cache directory outside the repository (never committed). Every test
file of `tests/{wellformed,entities,encoding,illformed,compression,http}` is
read by feedparser (in this process) and by feedwatch (`feedwatch parse
--format jsonl`, the real fetcher and parser), the way feedparser's own
test runner serves them: files whose path contains `http` (and the
compression files) over HTTP on 127.0.0.1:8097 with the headers their
`Header:` comment lines name, the others from disk (a `file://` URL).

A check is one field of one feed or entry for which feedparser returns a
value. It passes when feedwatch's value is the same after normalising:
feedwatch stores plain text, so feedparser's HTML (text/html and xhtml
fields; text/plain ones are taken as they are) is turned into text,
entities decoded, whitespace ignored (block boundaries are spaces in
feedwatch, nothing in a naive tag strip), control characters dropped,
NFC; dates compared as UTC instants; links as URLs (scheme and host
case-insensitive, an empty path as `/`); languages case-insensitively with
`_` as `-`; an author passes as the whole string, the name or the e-mail.
Not applicable (and counted apart): links feedparser leaves relative (it
has no base for a local file) or that are not http(s) (feedwatch keeps
only http(s) links, by design), and the fields feedwatch does not keep
(enclosures, categories, cloud, textinput, ...: never compared).

    python3 scripts/feed_conformance.py [--bin target/debug/feedwatch]
        [--cache ~/.cache/feedwatch-conformance] [--details FILE] [--json FILE]

Prints pass/different/missing per field category and per corpus directory,
and the number of documents that hold `<item`/`<entry` but gave no item
with neither a warning nor an error ("silently empty"; must be 0).
"""

import argparse
import calendar
import html
import html.parser
import http.server
import json
import os
import re
import subprocess
import sys
import tarfile
import tempfile
import threading
import unicodedata
import urllib.parse
from collections import defaultdict
from pathlib import Path

FEEDPARSER = "feedparser==6.0.11"
SGMLLIB = "sgmllib3k==1.0.0"
PORT = 8097  # the corpus's redirects name localhost:8097
DIRS = ["wellformed", "entities", "encoding", "illformed", "compression", "http"]
CATEGORIES = [
    "items",
    "title",
    "link",
    "guid",
    "content",
    "date",
    "author",
    "language",
    "feed_title",
    "feed_link",
    "feed_language",
]


def fetch_corpus(cache: Path) -> Path:
    cache.mkdir(parents=True, exist_ok=True)
    root = cache / "feedparser-6.0.11"
    sgml = cache / "sgmllib3k-1.0.0"
    if not root.is_dir() or not sgml.is_dir():
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
             FEEDPARSER, SGMLLIB, "-d", str(cache)],
            check=True, stdout=subprocess.DEVNULL,
        )
        for name in ("feedparser-6.0.11.tar.gz", "sgmllib3k-1.0.0.tar.gz"):
            with tarfile.open(cache / name) as tar:
                tar.extractall(cache, filter="data")
    sys.path[:0] = [str(root), str(sgml)]
    return root


class Handler(http.server.SimpleHTTPRequestHandler):
    """feedparser's own test handler (tests/runtests.py): headers from the
    file's `Header:` lines, Content-Encoding from the compression files'
    names."""

    headers_re = re.compile(rb"^Header:\s+([^:]+):(.+)$", re.MULTILINE)

    def send_head(self):
        path = self.translate_path(self.path)
        if not os.path.isfile(path):
            self.send_error(404)
            return None
        if self.path.startswith("/tests/compression"):
            headers = {"Content-Encoding": "gzip" if self.path.endswith("gz") else "deflate",
                       "Content-type": "application/xml"}
        else:
            blob = Path(path).read_bytes()
            headers = {k.decode().strip(): v.decode().strip() for k, v in self.headers_re.findall(blob)}
        status = 200
        if (self.headers.get("if-modified-since") == headers.get("Last-Modified", "nom")
                or self.headers.get("if-none-match") == headers.get("ETag", "nomatch")):
            status = 304
        headers.setdefault("Status", status)
        self.send_response(int(headers["Status"]))
        self.send_header("Content-type", headers.get("Content-type", self.guess_type(path)))
        self.send_header("Content-Length", str(os.stat(path).st_size))
        for k, v in headers.items():
            if k not in ("Status", "Content-type"):
                self.send_header(k, v)
        self.end_headers()
        return open(path, "rb")

    def log_message(self, *args):
        pass


def serve(root: Path):
    handler = lambda *a, **k: Handler(*a, directory=str(root), **k)  # noqa: E731
    server = http.server.ThreadingHTTPServer(("127.0.0.1", PORT), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def sources(root: Path):
    """(relative path, what to hand both parsers) for every corpus file."""
    out = []
    for d in DIRS:
        for path in sorted((root / "tests" / d).rglob("*")):
            if not path.is_file():
                continue
            rel = path.relative_to(root).as_posix()
            if d == "compression" or "http" in rel:
                out.append((rel, f"http://localhost:{PORT}/{rel}"))
            else:
                out.append((rel, str(path)))
    return out


# ---------- normalisation ----------

class _Text(html.parser.HTMLParser):
    SKIP = {"script", "style", "template", "noscript"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.out, self.skip = [], 0

    def handle_starttag(self, tag, attrs):
        if tag in self.SKIP:
            self.skip += 1
        self.out.append(" ")

    def handle_endtag(self, tag):
        if tag in self.SKIP and self.skip:
            self.skip -= 1
        self.out.append(" ")

    def handle_data(self, data):
        if not self.skip:
            self.out.append(data)


def html_text(value: str) -> str:
    p = _Text()
    p.feed(value)
    p.close()
    return "".join(p.out)


def squash(value: str) -> str:
    value = unicodedata.normalize("NFC", value)
    return "".join(c for c in value if not c.isspace() and unicodedata.category(c) != "Cc")


def fp_text(value, detail) -> str:
    if value is None:
        return ""
    kind = (detail or {}).get("type", "text/html")
    if kind == "text/plain":
        return squash(value)
    return squash(html_text(value))


def fw_text(value) -> str:
    return squash(value or "")


def same_url(a: str, b: str) -> bool:
    """Equal as URLs: scheme and host case-insensitive, an empty path as
    `/` (feedwatch stores links as the WHATWG URL parser writes them)."""
    def norm(u):
        p = urllib.parse.urlsplit(u.strip())
        return (p.scheme.lower(), p.netloc.lower(), p.path or "/", p.query, p.fragment)
    try:
        return norm(a) == norm(b)
    except ValueError:
        return a == b


def lang(value) -> str:
    return (value or "").strip().replace("_", "-").lower()


# ---------- comparison ----------

class Tally:
    def __init__(self):
        self.counts = defaultdict(lambda: defaultdict(int))  # key -> outcome -> n
        self.details = []

    def add(self, category, area, outcome, file, where, expected="", got=""):
        for key in (("cat", category), ("dir", area)):
            self.counts[key][outcome] += 1
        if outcome in ("different", "missing") or outcome.startswith("n/a"):
            self.details.append({"file": file, "category": category, "where": where,
                                 "outcome": outcome, "feedparser": expected, "feedwatch": got})


def compare(t: Tally, rel, fp, fw):
    area = rel.split("/")[1]

    def check(category, where, expected, got, equal=None):
        if not expected:
            return
        if not got:
            t.add(category, area, "missing", rel, where, expected, got)
        elif (equal(expected, got) if equal else expected == got):
            t.add(category, area, "pass", rel, where)
        else:
            t.add(category, area, "different", rel, where, expected, got)

    feed = fp.get("feed", {})
    check("feed_title", "feed", fp_text(feed.get("title"), feed.get("title_detail")),
          fw_text(fw.get("title")))
    link = feed.get("link") or ""
    if link and not urllib.parse.urlsplit(link).scheme:
        t.add("feed_link", area, "n/a: relative", rel, "feed", link)
    elif link and urllib.parse.urlsplit(link).scheme not in ("http", "https"):
        t.add("feed_link", area, "n/a: not http(s)", rel, "feed", link)
    else:
        check("feed_link", "feed", link, fw.get("site_url") or "", same_url)
    check("feed_language", "feed", lang(feed.get("language")), lang(fw.get("language")))

    items = fw.get("items") or []
    for i, entry in enumerate(fp.get("entries", [])):
        where = f"entry {i}"
        item = items[i] if i < len(items) else None
        if item is None:
            t.add("items", area, "missing", rel, where, entry.get("title", "")[:60])
            item = {}
        else:
            t.add("items", area, "pass", rel, where)
        check("title", where, fp_text(entry.get("title"), entry.get("title_detail")),
              fw_text(item.get("title")))
        link = entry.get("link") or ""
        scheme = urllib.parse.urlsplit(link).scheme if link else ""
        if link and not scheme:
            t.add("link", area, "n/a: relative", rel, where, link, item.get("url") or "")
        elif link and scheme not in ("http", "https"):
            t.add("link", area, "n/a: not http(s)", rel, where, link, item.get("url") or "")
        else:
            check("link", where, link, item.get("url") or "", same_url)
        check("guid", where, (entry.get("id") or "").strip(), (item.get("guid") or "").strip())
        if entry.get("content"):
            body = fp_text(entry["content"][0].get("value"), entry["content"][0])
        else:
            body = ""
        if not body:
            body = fp_text(entry.get("summary"), entry.get("summary_detail"))
        check("content", where, body, fw_text(item.get("text")))
        stamp = entry.get("published_parsed") or entry.get("updated_parsed")
        expected = str(calendar.timegm(stamp)) if stamp else ""
        got = item.get("published")
        if got:
            from datetime import datetime
            got = str(int(datetime.fromisoformat(got).timestamp()))
        check("date", where, expected, got or "")
        detail = entry.get("author_detail") or {}
        author = squash(entry.get("author") or "")
        check("author", where, author, fw_text(item.get("author")),
              lambda e, g: g in {e, squash(detail.get("name") or ""), squash(detail.get("email") or "")}
              or (detail.get("name") and squash(detail["name"]) in g))
        language = ""
        for d in ([entry["content"][0]] if entry.get("content") else []) + [
                entry.get("summary_detail"), entry.get("title_detail")]:
            if d and d.get("language"):
                language = lang(d["language"])
                break
        check("language", where, language, lang(item.get("language")))


def read_with_feedwatch(binary, batch, config):
    out = subprocess.run([binary, "--config", config, "parse", "--format", "jsonl", *batch],
                         capture_output=True, text=True)
    records = [json.loads(line) for line in out.stdout.splitlines() if line.strip()]
    if len(records) != len(batch):
        raise SystemExit(f"feedwatch parse gave {len(records)} records for {len(batch)} sources:\n{out.stderr}")
    return records


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bin", default="target/debug/feedwatch")
    ap.add_argument("--cache", default=os.path.expanduser("~/.cache/feedwatch-conformance"))
    ap.add_argument("--details", help="write every difference as JSON Lines to this file")
    ap.add_argument("--json", help="write the counts as JSON to this file")
    args = ap.parse_args()

    root = fetch_corpus(Path(args.cache))
    import warnings
    warnings.filterwarnings("ignore")
    import feedparser

    server = serve(root)
    files = sources(root)
    with tempfile.TemporaryDirectory() as tmp:
        config = os.path.join(tmp, "feedwatch.toml")
        Path(config).write_text(
            f'[store]\npath = "{tmp}/unused.db"\n[fetch]\nallow_private_networks = true\n'
        )
        fw = []
        for at in range(0, len(files), 200):
            fw += read_with_feedwatch(args.bin, [s for _, s in files[at:at + 200]], config)
    tally = Tally()
    silent = []
    fp_failed = []
    for (rel, source), record in zip(files, fw):
        try:
            fp = feedparser.parse(source)
        except Exception as e:  # feedparser's own crashes: nothing to compare with
            fp_failed.append(f"{rel}: {type(e).__name__}")
            continue
        compare(tally, rel, fp, record)
        raw = (root / rel).read_bytes()
        if (b"<item" in raw or b"<entry" in raw) and fp.get("entries") and not record.get("items") \
                and not record.get("warning") and not record.get("error"):
            silent.append(rel)
    server.shutdown()

    def table(kind, keys):
        print(f"{'':16} {'pass':>6} {'diff':>6} {'miss':>6} {'total':>6} {'pass %':>7}  n/a")
        total = defaultdict(int)
        for key in keys:
            c = tally.counts.get((kind, key), {})
            p, d, m = c.get("pass", 0), c.get("different", 0), c.get("missing", 0)
            na = sum(v for k, v in c.items() if k.startswith("n/a"))
            n = p + d + m
            for k, v in (("pass", p), ("different", d), ("missing", m), ("n/a", na)):
                total[k] += v
            if n or na:
                print(f"{key:16} {p:6} {d:6} {m:6} {n:6} {100 * p / max(n, 1):6.1f}%  {na}")
        n = total["pass"] + total["different"] + total["missing"]
        print(f"{'all':16} {total['pass']:6} {total['different']:6} {total['missing']:6} {n:6} "
              f"{100 * total['pass'] / max(n, 1):6.1f}%  {total['n/a']}")
        return total

    print(f"feedparser {feedparser.__version__} corpus, {len(files)} files; feedwatch: {args.bin}\n")
    print("By field:")
    total = table("cat", CATEGORIES)
    print("\nBy corpus directory:")
    table("dir", DIRS)
    print(f"\nfeedparser itself failed on {len(fp_failed)} files (not compared): {', '.join(fp_failed)}")
    print(f"silently empty (items in the document, none read, no warning or error): {len(silent)}")
    for rel in silent[:20]:
        print(f"  {rel}")
    if args.details:
        with open(args.details, "w") as f:
            for d in tally.details:
                f.write(json.dumps(d, ensure_ascii=False) + "\n")
    if args.json:
        Path(args.json).write_text(json.dumps(
            {f"{k[0]}:{k[1]}": dict(v) for k, v in tally.counts.items()} | {"silent": silent}, indent=1))
    return 0 if total["pass"] else 1


if __name__ == "__main__":
    sys.exit(main())
