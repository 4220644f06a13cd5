"""How a feedwatch item (its feed URL and item key) maps to the feedfarm's
truth.jsonl key (feed number, GUID). Shared by story_quality.py and
topic_recall.py."""
import re


def truth_key(feed_url, item_key):
    """(feed number, GUID) of a stored item, or None if it is not a farm item.
    Items with a GUID are keyed `guid:GUID`; RSS 1.0 items have no GUID and
    are keyed by link: .../news/N -> urn:farm:F:N."""
    m = re.search(r"/feeds/(\d+)\.", feed_url)
    if not m:
        return None
    feed = int(m.group(1))
    if item_key.startswith("guid:"):
        return feed, item_key[len("guid:"):]
    link = re.search(r"/news/(\d+)$", item_key) if item_key.startswith("url:") else None
    return (feed, f"urn:farm:{feed}:{link.group(1)}") if link else None
