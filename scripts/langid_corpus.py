#!/usr/bin/env python3
"""Items with their true language, as JSON Lines, for measuring language
identification (examples/langid_eval.rs).

  scripts/langid_corpus.py farm DIR           # a feedfarm: its feed files + truth.jsonl
  scripts/langid_corpus.py lines LANG FILE    # one sentence per line, all in LANG

Each output line: {"lang", "title", "text", "source"}. For the farm, `title`
and `text` are read from the generated feed files (RSS 2.0, Atom, RSS 1.0,
JSON Feed) as a reader would see them (markup removed); the feed's declared
language is not written, so an evaluation cannot use it. For `lines`, each
sentence is an item's text and its first 8 words its title.
"""
import html, json, os, re, sys
import xml.etree.ElementTree as ET

TAG = re.compile(r"<[^>]+>")

def plain(s):
    return html.unescape(TAG.sub(" ", s or "")).strip()

def local(tag):
    return tag.rsplit("}", 1)[-1]

def farm_items(path):
    """(title, text) of each item of one feed file, in document order (the
    order of truth.jsonl; RSS 1.0 items have no GUID to join on)."""
    out = []
    if path.endswith(".json"):
        doc = json.load(open(path, encoding="utf-8"))
        for it in doc["items"]:
            out.append((it.get("title", ""), plain(it.get("content_html", it.get("content_text", "")))))
        return out
    root = ET.parse(path).getroot()
    for el in root.iter():
        name = local(el.tag)
        if name not in ("item", "entry"):
            continue
        fields = {local(c.tag): c for c in el}
        title = fields["title"].text if "title" in fields else ""
        body = None
        for key in ("encoded", "content", "description", "summary"):
            if key in fields and fields[key].text:
                body = fields[key].text
                break
        out.append((plain(title), plain(body)))
    return out

def farm(d):
    paths = [p.strip() for p in open(os.path.join(d, "paths.txt")) if p.strip()]
    by_feed, position = {}, {}
    for line in open(os.path.join(d, "truth.jsonl"), encoding="utf-8"):
        t = json.loads(line)
        if t["feed"] not in by_feed:
            by_feed[t["feed"]] = farm_items(os.path.join(d, paths[t["feed"]].lstrip("/")))
            position[t["feed"]] = 0
        title, text = by_feed[t["feed"]][position[t["feed"]]]
        position[t["feed"]] += 1
        yield {"lang": t["lang"], "title": title, "text": text, "source": "farm"}

def lines(lang, path):
    for line in open(path, encoding="utf-8"):
        line = line.strip()
        if line:
            yield {"lang": lang, "title": " ".join(line.split()[:8]), "text": line, "source": os.path.basename(path)}

if __name__ == "__main__":
    kind = sys.argv[1]
    rows = farm(sys.argv[2]) if kind == "farm" else lines(sys.argv[2], sys.argv[3])
    for row in rows:
        sys.stdout.write(json.dumps(row, ensure_ascii=False) + "\n")
