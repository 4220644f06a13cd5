//! End to end through the real binary: polling, conditional GET, updates in
//! place, and failures that stay on their own feed.

use crate::common;

use crate::common::{rss, FeedServer, Route, Workspace};

const TOPIC: (&str, &str) = ("kurdistan-referendum", "(Kurdistan OR KRG) AND referendum");

fn titles(items: &[serde_json::Value]) -> Vec<&str> {
    let mut t: Vec<&str> = items.iter().map(|i| i["title"].as_str().unwrap()).collect();
    t.sort();
    t
}

#[tokio::test(flavor = "multi_thread")]
async fn first_poll_stores_and_matches_then_304_stores_nothing() {
    let server = FeedServer::start().await;
    let body = rss(&[
        (
            "a1",
            "Kurdistan referendum: reactions",
            "Iran and Turkey oppose it.",
        ),
        ("a2", "Weather in Erbil", "Sunny."),
        (
            "a3",
            "KRG statement",
            "The &lt;b&gt;referendum&lt;/b&gt; will go ahead.",
        ),
    ]);
    server.set(
        "/a.xml",
        Route::Feed {
            body,
            content_type: "application/rss+xml",
        },
    );
    let ws = Workspace::new(&[(&server.url("/a.xml"), "A")], &[TOPIC], "");

    let out = ws.run(&["run", "--once"]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains("3 new items"), "{}", out.stdout);
    let items = ws.search(&[]).await;
    assert_eq!(items.len(), 3);
    let matched = ws.search(&["--topic", "kurdistan-referendum"]).await;
    assert_eq!(
        titles(&matched),
        ["KRG statement", "Kurdistan referendum: reactions"]
    );
    for item in &matched {
        assert_eq!(item["topics"], serde_json::json!(["kurdistan-referendum"]));
        assert_eq!(item["feed_url"], server.url("/a.xml"));
        assert!(item["published"].as_str().unwrap().starts_with("2017-09-23T"));
    }
    let first_ids: Vec<i64> = items.iter().map(|i| i["id"].as_i64().unwrap()).collect();

    // Second poll: validators are sent, the server answers 304, nothing changes.
    let out = ws.run(&["run", "--once"]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let seen = server.seen("/a.xml");
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[0].if_none_match, None);
    assert!(
        seen[1].if_none_match.is_some(),
        "second poll must send If-None-Match"
    );
    assert_eq!(seen[1].status, 304);
    assert!(
        out.stdout.contains("0 new items") && out.stdout.contains("1 not modified"),
        "{}",
        out.stdout
    );
    let again = ws.search(&[]).await;
    let again_ids: Vec<i64> = again.iter().map(|i| i["id"].as_i64().unwrap()).collect();
    assert_eq!(again_ids, first_ids);
    assert_eq!(ws.feeds().await[&server.url("/a.xml")]["last_status"], 304);
}

#[tokio::test(flavor = "multi_thread")]
async fn changed_feed_adds_new_items_and_updates_edited_ones_in_place() {
    let server = FeedServer::start().await;
    let path = "/b.xml";
    let v1 = rss(&[
        ("b1", "Talks in Baghdad", "Officials met."),
        ("b2", "Oil exports", "Steady."),
    ]);
    server.set(
        path,
        Route::Feed {
            body: v1,
            content_type: "application/rss+xml",
        },
    );
    let ws = Workspace::new(&[(&server.url(path), "B")], &[TOPIC], "");
    assert_eq!(ws.run(&["run", "--once"]).await.code, 0);
    let before = ws.search(&[]).await;
    let id_of = |items: &[serde_json::Value], guid: &str| {
        items
            .iter()
            .find(|i| i["guid"] == guid)
            .map(|i| i["id"].as_i64().unwrap())
            .unwrap()
    };

    // b1 is edited (same GUID, new wording that now matches the topic), b3 is new.
    let v2 = rss(&[
        (
            "b1",
            "Talks in Baghdad on the Kurdistan referendum",
            "Officials met.",
        ),
        ("b2", "Oil exports", "Steady."),
        ("b3", "New item", "Fresh."),
    ]);
    server.set(
        path,
        Route::Feed {
            body: v2,
            content_type: "application/rss+xml",
        },
    );
    let out = ws.run(&["run", "--once"]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains("1 new item, 1 updated"), "{}", out.stdout);
    let after = ws.search(&[]).await;
    assert_eq!(after.len(), 3);
    assert_eq!(
        id_of(&after, "b1"),
        id_of(&before, "b1"),
        "edited item keeps its id"
    );
    assert_eq!(id_of(&after, "b2"), id_of(&before, "b2"));
    let b1 = after.iter().find(|i| i["guid"] == "b1").unwrap();
    assert_eq!(b1["title"], "Talks in Baghdad on the Kurdistan referendum");
    assert_eq!(b1["topics"], serde_json::json!(["kurdistan-referendum"]));

    // Edited back: the match no longer holds and is removed.
    let v3 = rss(&[
        ("b1", "Talks in Baghdad", "Officials met."),
        ("b2", "Oil exports", "Steady."),
        ("b3", "New item", "Fresh."),
    ]);
    server.set(
        path,
        Route::Feed {
            body: v3,
            content_type: "application/rss+xml",
        },
    );
    assert_eq!(ws.run(&["run", "--once"]).await.code, 0);
    assert!(ws.search(&["--topic", "kurdistan-referendum"]).await.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn items_without_guid_are_keyed_by_link_then_by_content() {
    let server = FeedServer::start().await;
    let body = "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>t</title><link>https://n.example/</link>\
        <description>d</description>\
        <item><title>Linked</title><link>https://n.example/1</link><description>one</description></item>\
        <item><title>Bare</title><description>no guid, no link</description></item>\
        <item><title>Repeat</title><guid>dup</guid><description>first copy</description></item>\
        <item><title>Repeat</title><guid>dup</guid><description>second copy</description></item>\
        </channel></rss>";
    // No validators: every poll downloads and re-parses the whole feed.
    server.set(
        "/n.xml",
        Route::NoValidators {
            body: body.to_string(),
        },
    );
    let ws = Workspace::new(&[(&server.url("/n.xml"), "N")], &[], "");
    for _ in 0..3 {
        let out = ws.run(&["run", "--once"]).await;
        assert_eq!(out.code, 0, "{}", out.stderr);
    }
    let items = ws.search(&[]).await;
    assert_eq!(
        titles(&items),
        ["Bare", "Linked", "Repeat"],
        "each item stored once"
    );
    assert_eq!(server.seen("/n.xml").len(), 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn failing_feeds_record_errors_and_leave_other_feeds_alone() {
    let server = FeedServer::start().await;
    let good = rss(&[
        ("g1", "Kurdistan referendum", "Good feed."),
        ("g2", "Other", "Good feed."),
    ]);
    server.set(
        "/good.xml",
        Route::Feed {
            body: good,
            content_type: "application/rss+xml",
        },
    );
    server.set("/500.xml", Route::Status(500));
    server.set("/404.xml", Route::Status(404));
    server.set(
        "/garbage.xml",
        Route::Raw {
            body: b"\x00\x01 this is not a feed \xff".to_vec(),
            content_type: "application/rss+xml",
        },
    );
    server.set(
        "/page.html",
        Route::Raw {
            body: b"<!DOCTYPE html><html><head><link rel=\"alternate\" type=\"application/rss+xml\" href=\"/news/rss.xml\"></head><body>Hi</body></html>".to_vec(),
            content_type: "text/html",
        },
    );
    let mut huge = rss(&[("h1", "big", "x")]).into_bytes();
    huge.extend(std::iter::repeat_n(b' ', 2 * 1024 * 1024));
    server.set(
        "/huge.xml",
        Route::Raw {
            body: huge,
            content_type: "application/rss+xml",
        },
    );
    server.set("/stall.xml", Route::Stall);
    // A port that refuses connections: bind, note the port, close.
    let refused = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}/feed.xml", l.local_addr().unwrap())
    };
    let urls = [
        server.url("/good.xml"),
        server.url("/500.xml"),
        server.url("/404.xml"),
        server.url("/garbage.xml"),
        server.url("/page.html"),
        server.url("/huge.xml"),
        server.url("/stall.xml"),
        refused.clone(),
    ];
    let feeds: Vec<(&str, &str)> = urls.iter().map(|u| (u.as_str(), "f")).collect();
    let ws = Workspace::new(
        &feeds,
        &[TOPIC],
        "[fetch]\ntimeout = \"2s\"\nmax_body_size = \"1 MiB\"\n",
    );

    let started = std::time::Instant::now();
    let out = ws.run(&["run", "--once"]).await;
    assert_eq!(
        out.code, 0,
        "a cycle with failing feeds still succeeds: {}",
        out.stderr
    );
    assert!(
        started.elapsed() < std::time::Duration::from_secs(20),
        "the stalled feed is cut off by the timeout"
    );
    assert!(out.stdout.contains("7 failed"), "{}", out.stdout);

    let items = ws.search(&[]).await;
    assert_eq!(titles(&items), ["Kurdistan referendum", "Other"]);
    assert_eq!(ws.search(&["--topic", "kurdistan-referendum"]).await.len(), 1);

    let feeds = ws.feeds().await;
    let error = |url: &str| feeds[url]["last_error"].as_str().unwrap_or("").to_string();
    assert_eq!(
        feeds[&server.url("/good.xml")]["last_error"],
        serde_json::Value::Null
    );
    assert_eq!(feeds[&server.url("/good.xml")]["item_count"], 2);
    assert_eq!(error(&server.url("/500.xml")), "HTTP 500 Internal Server Error");
    assert_eq!(feeds[&server.url("/500.xml")]["last_status"], 500);
    assert_eq!(error(&server.url("/404.xml")), "HTTP 404 Not Found");
    assert!(
        error(&server.url("/garbage.xml")).starts_with("not a valid RSS, Atom or JSON feed"),
        "{}",
        error(&server.url("/garbage.xml"))
    );
    // Issue 21 (15): a web page says which feed it announces.
    assert_eq!(
        error(&server.url("/page.html")),
        format!(
            "not a feed: the document is an HTML page; it links to the feed {} (use that URL)",
            server.url("/news/rss.xml")
        )
    );
    assert_eq!(
        error(&server.url("/huge.xml")),
        "body larger than the 1.0 MiB limit"
    );
    assert_eq!(error(&server.url("/stall.xml")), "timed out after 2s");
    // Issue 21 (15): one sentence naming the host and the cause, not
    // reqwest's chain ("error sending request for url (…): client error
    // (Connect): tcp connect error: …").
    let port = url::Url::parse(&refused).unwrap().port().unwrap();
    assert_eq!(error(&refused), format!("connection refused by 127.0.0.1:{port}"));
    for url in &urls[1..] {
        assert_eq!(feeds[url]["error_count"], 1, "{url}");
    }
}

/// An RSS document with `(guid, pubDate)` items.
fn dated_rss(items: &[(&str, &str)]) -> String {
    let mut out = String::from(
        "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>Dates</title>\
         <link>https://d.example/</link><description>d</description>",
    );
    for (guid, date) in items {
        out.push_str(&format!(
            "<item><guid>{guid}</guid><title>Item {guid}</title><link>https://d.example/{guid}</link>\
             <pubDate>{date}</pubDate><description>text of {guid}</description></item>"
        ));
    }
    out.push_str("</channel></rss>");
    out
}

/// Issue 21: a `pubDate` in 2099 sat at the top of every newest-first list
/// for good, and dates that could not be read became the fetch time without
/// a word. Now a date more than a day ahead of the fetch is not believed,
/// an unreadable one is said so on the feed, and both items sort by their
/// first-seen time.
#[tokio::test(flavor = "multi_thread")]
async fn future_and_unreadable_dates_sort_by_first_seen_and_warn_on_the_feed() {
    let server = FeedServer::start().await;
    let first = [
        ("future", "Thu, 01 Jan 2099 00:00:00 +0000"),
        ("unreadable", "25:61:00"),
        ("sept", "Sept 25th, 2017"),
        ("slash", "25/09/2017 10:00"),
        ("old", "Sat, 23 Sep 2017 12:00:00 +0000"),
    ];
    server.set(
        "/d.xml",
        Route::Feed {
            body: dated_rss(&first),
            content_type: "application/rss+xml",
        },
    );
    let ws = Workspace::new(&[(&server.url("/d.xml"), "Dates")], &[], "");
    let out = ws.run(&["run", "--once"]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);

    // An hour ahead is believed (clocks and zone labels are often off):
    // this item is newer than everything first seen in the first poll.
    let soon = (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc2822();
    let mut second = first.to_vec();
    second.push(("fresh", &soon));
    server.set(
        "/d.xml",
        Route::Feed {
            body: dated_rss(&second),
            content_type: "application/rss+xml",
        },
    );
    let out = ws.run(&["run", "--once"]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);

    let items = ws.search(&[]).await;
    let order: Vec<&str> = items.iter().map(|i| i["guid"].as_str().unwrap()).collect();
    let published = |guid: &str| {
        items.iter().find(|i| i["guid"] == guid).unwrap()["published"]
            .as_str()
            .map(str::to_string)
    };
    // Newest first: the fresh item, then the two first seen in the first
    // poll (newest id first), then the dated 2017 ones.
    assert_eq!(order, ["fresh", "unreadable", "future", "slash", "sept", "old"]);
    assert_eq!(
        published("future"),
        None,
        "a claim of 2099 is not a publication time"
    );
    assert_eq!(published("unreadable"), None);
    assert_eq!(published("sept").as_deref(), Some("2017-09-25T00:00:00Z"));
    assert_eq!(published("slash").as_deref(), Some("2017-09-25T10:00:00Z"));
    assert!(published("fresh").is_some());

    let feeds = ws.feeds().await;
    let warning = feeds[&server.url("/d.xml")]["warning"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert_eq!(
        warning,
        "1 item has a date that cannot be read (\"25:61:00\"); its first-seen time is used. \
         1 item is dated 2099-01-01T00:00:00Z, more than 1 day after it was fetched; \
         its first-seen time is used"
    );
    // The table says it too.
    let out = ws.run(&["feeds", "status"]).await;
    assert!(out.stdout.contains("cannot be read"), "{}", out.stdout);
}

/// Issue 21, item 9: a Reuters-style feed tags every link with the feed it
/// came from (`feedType=RSS&feedName=worldNews`); the same article from a
/// feed without the tags is the same item.
#[tokio::test]
async fn feed_origin_parameters_do_not_split_an_article() {
    let server = FeedServer::start().await;
    let feed = |link: &str| {
        format!(
            "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>t</title><link>https://www.reuters.com/</link>\
             <description>d</description><item><title>Iraqi Kurds vote</title><link>{link}</link>\
             <description>Erbil voted on independence.</description></item></channel></rss>"
        )
    };
    let article = "https://www.reuters.com/article/us-mideast-crisis-kurds-referendum-idUSKCN1C00Q0";
    server.set(
        "/world.xml",
        Route::Feed {
            body: feed(&format!("{article}?feedType=RSS&amp;feedName=worldNews")),
            content_type: "application/rss+xml",
        },
    );
    server.set(
        "/top.xml",
        Route::Feed {
            body: feed(article),
            content_type: "application/rss+xml",
        },
    );
    let ws = Workspace::new(
        &[
            (&server.url("/world.xml"), "Reuters World"),
            (&server.url("/top.xml"), "Reuters Top"),
        ],
        &[("k", "Erbil")],
        "",
    );
    assert_eq!(ws.run(&["run", "--once"]).await.code, 0);
    let items = ws.search(&[]).await;
    assert_eq!(items.len(), 1, "one article, one item: {items:?}");
    assert_eq!(items[0]["canonical_url"], article);
    assert_eq!(items[0]["feeds"].as_array().unwrap().len(), 2);
}

/// Issue 21, item 15: `feeds list` is sorted by the name shown, not by URL.
#[tokio::test]
async fn feeds_list_is_sorted_by_name() {
    let server = FeedServer::start().await;
    for path in ["/a.xml", "/b.xml", "/c.xml"] {
        server.set(
            path,
            Route::Feed {
                body: rss(&[]),
                content_type: "application/rss+xml",
            },
        );
    }
    let ws = Workspace::new(
        &[
            (&server.url("/a.xml"), "Zaman"),
            (&server.url("/b.xml"), "al-Monitor"),
            (&server.url("/c.xml"), "Kurdistan 24"),
        ],
        &[("k", "Erbil")],
        "",
    );
    assert_eq!(ws.run(&["run", "--once"]).await.code, 0);
    let out = ws.run(&["feeds", "list", "--format", "jsonl"]).await;
    let names: Vec<String> = common::jsonl(&out.stdout)
        .iter()
        .map(|f| f["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names, ["al-Monitor", "Kurdistan 24", "Zaman"]);
}
