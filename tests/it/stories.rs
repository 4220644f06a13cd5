//! Global deduplication and stories, end to end through the real binary:
//! one article from several feeds, wire copies across outlets, different
//! articles on one event, and the story window.

use crate::common;

use crate::common::{FeedServer, Route, Workspace};

/// An RSS item: (guid, link, title, text, pubDate).
type Item<'a> = (&'a str, &'a str, &'a str, &'a str, &'a str);

fn rss(items: &[Item]) -> String {
    rss_in("en", items)
}

/// [`rss`] of a channel whose `<language>` is `lang`.
fn rss_in(lang: &str, items: &[Item]) -> String {
    let mut out = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><rss version=\"2.0\"><channel><title>Outlet</title>\
         <link>https://outlet.example/</link><language>{lang}</language><description>d</description>"
    );
    for (guid, link, title, text, date) in items {
        out.push_str(&format!(
            "<item><guid>{guid}</guid><title>{title}</title><link>{}</link><pubDate>{date}</pubDate>\
             <description>{text}</description></item>",
            link.replace('&', "&amp;")
        ));
    }
    out.push_str("</channel></rss>");
    out
}

fn serve(server: &FeedServer, path: &str, items: &[Item]) {
    server.set(
        path,
        Route::Feed {
            body: rss(items),
            content_type: "application/rss+xml",
        },
    );
}

/// (title, text) of a fixture: first line title, the rest text.
fn article(fixture: &str) -> (&str, &str) {
    let (title, text) = fixture.split_once('\n').unwrap();
    (title, text.trim())
}

const AKAR: &str = include_str!("../fixtures/dedup/same-event-akar-visit.txt");
const SHAMKHANI: &str = include_str!("../fixtures/dedup/same-event-shamkhani.txt");
const FA_WIRE: &str = include_str!("../fixtures/dedup/wire-copy-fa.txt");
const DAY1: &str = "Sat, 23 Sep 2017 10:00:00 +0000";

fn story_of<'a>(items: &'a [serde_json::Value], guid: &str) -> &'a serde_json::Value {
    &items.iter().find(|i| i["guid"] == guid).unwrap()["story_id"]
}

#[tokio::test(flavor = "multi_thread")]
async fn same_canonical_url_from_two_feeds_is_one_item_listed_under_both() {
    let server = FeedServer::start().await;
    let text = "Officials met in Erbil.";
    serve(
        &server,
        "/a.xml",
        &[(
            "a-1",
            "https://news.example/2017/09/talks?utm_source=rss&utm_medium=feed",
            "Talks",
            text,
            DAY1,
        )],
    );
    // Another feed of the same outlet: its AMP page, with a click id.
    serve(
        &server,
        "/b.xml",
        &[
            (
                "b-9",
                "https://amp.news.example/2017/09/talks/amp/?fbclid=x1",
                "Talks",
                text,
                DAY1,
            ),
            (
                "b-10",
                "https://news.example/2017/09/other",
                "Other",
                "Different.",
                DAY1,
            ),
        ],
    );
    let (a, b) = (server.url("/a.xml"), server.url("/b.xml"));
    let ws = Workspace::new(&[(&a, "A"), (&b, "B")], &[("talks", "talks")], "");
    let out = ws.run(&["run", "--once"]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains("2 new items"), "{}", out.stdout);
    assert!(
        out.stdout.contains("1 already stored from another feed"),
        "{}",
        out.stdout
    );

    let items = ws.search(&[]).await;
    assert_eq!(items.len(), 2, "{items:#?}");
    let talks = items.iter().find(|i| i["title"] == "Talks").unwrap();
    assert_eq!(talks["canonical_url"], "https://news.example/2017/09/talks");
    let mut feeds: Vec<&str> = talks["feeds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap())
        .collect();
    assert_eq!(feeds[0], talks["feed_url"], "first feed first");
    feeds.sort();
    assert_eq!(feeds, [a.as_str(), b.as_str()]);
    assert_eq!(talks["topics"], serde_json::json!(["talks"]));
    // Listed under both feeds.
    for feed in ["A", "B"] {
        let listed = ws.search(&["--feed", feed]).await;
        assert!(listed.iter().any(|i| i["id"] == talks["id"]), "under {feed}");
    }
    assert_eq!(ws.search(&["--feed", "B"]).await.len(), 2);
    let counts = ws.feeds().await;
    assert_eq!(counts[&a]["item_count"], 1);
    assert_eq!(counts[&b]["item_count"], 2);

    // Polled again (304s): nothing new, still one item.
    let out = ws.run(&["run", "--once"]).await;
    assert!(out.stdout.contains("0 new items"), "{}", out.stdout);
    assert_eq!(ws.search(&[]).await.len(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn wire_copies_across_three_outlets_are_one_story_and_another_article_is_not() {
    let server = FeedServer::start().await;
    let (title, text) = article(AKAR);
    let copies = [
        format!("By Parisa Hafezi. Reuters. {text} Read more at reuters.example/world."),
        format!("Posted by admin on 23 September 2017. Source: Anadolu. {text} Share this: Facebook Twitter Email."),
        format!("ANKARA (AP). {text} Copyright 2017 The Associated Press. All rights reserved."),
    ];
    let (other_title, other_text) = article(SHAMKHANI);
    for (i, copy) in copies.iter().enumerate() {
        let guid = format!("w{i}");
        let link = format!("https://outlet{i}.example/world/akar-tehran");
        let mut items: Vec<Item> = vec![(&guid, &link, title, copy, DAY1)];
        if i == 0 {
            items.push((
                "s0",
                "https://outlet0.example/world/shamkhani",
                other_title,
                other_text,
                DAY1,
            ));
        }
        serve(&server, &format!("/w{i}.xml"), &items);
    }
    let urls: Vec<String> = (0..3).map(|i| server.url(&format!("/w{i}.xml"))).collect();
    let names = ["Outlet 0", "Outlet 1", "Outlet 2"];
    let feeds: Vec<(&str, &str)> = urls.iter().map(String::as_str).zip(names).collect();
    let ws = Workspace::new(&feeds, &[], "");
    let out = ws.run(&["run", "--once"]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains("4 new items"), "{}", out.stdout);
    assert!(out.stdout.contains("2 joined a story"), "{}", out.stdout);

    let items = ws.search(&[]).await;
    assert_eq!(items.len(), 4);
    let story = story_of(&items, "w0");
    assert!(story.is_i64());
    assert_eq!(story_of(&items, "w1"), story);
    assert_eq!(story_of(&items, "w2"), story);
    assert_ne!(
        story_of(&items, "s0"),
        story,
        "a different article on the same event"
    );

    let out = ws
        .run(&["stories", "--since", "2017-01-01", "--format", "jsonl"])
        .await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let stories = common::jsonl(&out.stdout);
    assert_eq!(stories.len(), 2, "{stories:#?}");
    let wire = stories.iter().find(|s| s["id"] == *story).unwrap();
    assert_eq!(wire["item_count"], 3);
    assert_eq!(wire["outlet_count"], 3);
    assert_eq!(wire["outlets"], serde_json::json!(names));
    assert_eq!(wire["languages"], serde_json::json!(["en"]));
    assert_eq!(wire["headline"], title);
    assert_eq!(wire["first_seen"], "2017-09-23T10:00:00Z");
    let out = ws
        .run(&[
            "stories",
            "--since",
            "2017-01-01",
            "--min-outlets",
            "2",
            "--format",
            "jsonl",
        ])
        .await;
    assert_eq!(common::jsonl(&out.stdout).len(), 1);
    let out = ws
        .run(&["stories", "--since", "2017-01-01", "--format", "csv"])
        .await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let mut csv = csv::Reader::from_reader(out.stdout.as_bytes());
    let rows: Vec<csv::StringRecord> = csv.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 2);
    let id = story.as_i64().unwrap().to_string();
    let row = rows.iter().find(|r| &r[0] == id.as_str()).unwrap();
    assert_eq!((&row[1], &row[4], &row[5]), (title, "3", "3"));
    let out = ws.run(&["stories", "--since", "2017-01-01"]).await;
    assert!(out.stdout.starts_with("   STORY"), "{}", out.stdout);
    assert!(
        out.stdout.contains("Outlet 0, Outlet 1, Outlet 2"),
        "{}",
        out.stdout
    );

    let members = ws.search(&["--story", &story.to_string()]).await;
    assert_eq!(members.len(), 3);

    // `search --stories`: one row per story among the matches.
    let out = ws
        .run(&["search", "title:Akar", "--stories", "--format", "jsonl"])
        .await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let found = common::jsonl(&out.stdout);
    assert_eq!(found.len(), 1, "three matching copies, one story: {found:#?}");
    assert_eq!(found[0]["id"], *story);
    assert_eq!(found[0]["item_count"], 3);
    assert_eq!(found[0]["outlets"], serde_json::json!(names));
    assert_eq!(found[0]["headline"], title);
    assert_eq!(found[0]["first_seen"], "2017-09-23T10:00:00Z");
    let out = ws.run(&["search", "--stories", "--format", "jsonl"]).await;
    let all = common::jsonl(&out.stdout);
    assert_eq!(all.len(), 2, "{all:#?}");
    let out = ws.run(&["search", "--stories", "--count"]).await;
    assert_eq!(out.stdout.trim(), "2", "{}", out.stderr);
    let out = ws
        .run(&["search", "--stories", "--limit", "1", "--format", "jsonl"])
        .await;
    assert_eq!(common::jsonl(&out.stdout).len(), 1);
    let out = ws
        .run(&["search", "title:Akar", "--stories", "--format", "csv"])
        .await;
    let mut lines = out.stdout.lines();
    assert_eq!(
        lines.next(),
        Some("id,headline,first_seen,last_seen,item_count,outlet_count,outlets,languages")
    );
    assert!(
        lines
            .next()
            .unwrap()
            .ends_with(",3,3,Outlet 0;Outlet 1;Outlet 2,en"),
        "{}",
        out.stdout
    );
    let out = ws.run(&["search", "title:Akar", "--stories"]).await;
    assert!(out.stdout.starts_with("   STORY"), "{}", out.stdout);
    let out = ws.run(&["search", "--stories", "--after", "1"]).await;
    assert_ne!(out.code, 0, "--after pages items, not stories");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_copy_joins_only_within_the_story_window() {
    let server = FeedServer::start().await;
    let (title, text) = article(AKAR);
    let copy = format!("{text} Reported by Outlet 1.");
    serve(
        &server,
        "/a.xml",
        &[("a", "https://a.example/1", title, text, DAY1)],
    );
    serve(
        &server,
        "/b.xml",
        &[
            // 47 hours later: inside a 2-day window.
            (
                "near",
                "https://b.example/1",
                title,
                &copy,
                "Mon, 25 Sep 2017 09:00:00 +0000",
            ),
            // 49 hours later: outside it.
            (
                "far",
                "https://b.example/2",
                title,
                &copy,
                "Mon, 25 Sep 2017 11:00:00 +0000",
            ),
        ],
    );
    let ws = Workspace::new(
        &[(&server.url("/a.xml"), "A"), (&server.url("/b.xml"), "B")],
        &[],
        "[stories]\nwindow = \"2d\"\n",
    );
    let out = ws.run(&["run", "--once"]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let items = ws.search(&[]).await;
    let first = story_of(&items, "a");
    // The far copy may still join the near one's story (it is within 2 days
    // of it), so only the window around the first item is checked when the
    // near copy is absent: see below.
    assert_eq!(story_of(&items, "near"), first);

    // Without the near copy, the far one starts its own story.
    let ws2 = Workspace::new(
        &[(&server.url("/a.xml"), "A"), (&server.url("/c.xml"), "C")],
        &[],
        "[stories]\nwindow = \"2d\"\n",
    );
    serve(
        &server,
        "/c.xml",
        &[(
            "far",
            "https://c.example/2",
            title,
            &copy,
            "Mon, 25 Sep 2017 11:00:00 +0000",
        )],
    );
    assert_eq!(ws2.run(&["run", "--once"]).await.code, 0);
    let items = ws2.search(&[]).await;
    assert_ne!(story_of(&items, "far"), story_of(&items, "a"));
}

/// `[stories] cluster = false`: copies are stored, but each is its own
/// story.
#[tokio::test]
async fn without_clustering_every_item_is_its_own_story() {
    let server = FeedServer::start().await;
    let (title, text) = article(AKAR);
    serve(
        &server,
        "/a.xml",
        &[("a", "https://a.example/1", title, text, DAY1)],
    );
    let copy = format!("{text} Reported by Outlet 2.");
    serve(
        &server,
        "/b.xml",
        &[("b", "https://b.example/1", title, &copy, DAY1)],
    );
    let feeds = [(server.url("/a.xml"), "A"), (server.url("/b.xml"), "B")];
    let feeds: Vec<(&str, &str)> = feeds.iter().map(|(u, n)| (u.as_str(), *n)).collect();
    for (cluster, together) in [("true", true), ("false", false)] {
        let ws = Workspace::new(&feeds, &[], &format!("[stories]\ncluster = {cluster}\n"));
        let out = ws.run(&["run", "--once"]).await;
        assert_eq!(out.code, 0, "{}", out.stderr);
        let items = ws.search(&[]).await;
        assert_eq!(items.len(), 2);
        assert_eq!(
            story_of(&items, "a") == story_of(&items, "b"),
            together,
            "cluster = {cluster}"
        );
    }
}

/// Wire copies from feeds tagged `en` and `en-US` (and `fa` and `fa-IR`)
/// are one story per language: stories, `stats --split lang`, the report
/// and the digest compare and group by the primary language subtag, while
/// each item keeps its full tag.
#[tokio::test(flavor = "multi_thread")]
async fn copies_tagged_with_regional_variants_are_one_story() {
    let server = FeedServer::start().await;
    let (title, text) = article(AKAR);
    let (fa_title, fa_text) = article(FA_WIRE);
    let copies = [
        (
            "en",
            "Wire EN",
            title,
            format!("By Parisa Hafezi. Reuters. {text} Read more at reuters.example/world."),
        ),
        (
            "en-US",
            "Wire US",
            title,
            format!("ANKARA (AP). {text} Copyright 2017 The Associated Press."),
        ),
        (
            "fa",
            "Wire FA",
            fa_title,
            format!("به گزارش خبرگزاری، {fa_text} انتهای پیام."),
        ),
        (
            "fa-IR",
            "Wire IR",
            fa_title,
            format!("{fa_text} خبرهای بیشتر را در سایت ما بخوانید."),
        ),
    ];
    let mut feeds = Vec::new();
    for (i, (lang, name, title, text)) in copies.iter().enumerate() {
        let (guid, link) = (format!("g{i}"), format!("https://outlet{i}.example/akar"));
        let path = format!("/{i}.xml");
        server.set(
            &path,
            Route::Feed {
                body: rss_in(lang, &[(&guid, &link, title, text, DAY1)]),
                content_type: "application/rss+xml",
            },
        );
        feeds.push((server.url(&path), *name));
    }
    let feeds: Vec<(&str, &str)> = feeds.iter().map(|(u, n)| (u.as_str(), *n)).collect();
    let alert = "[[channel]]\nname = \"jl\"\nkind = \"file\"\npath = \"out/digests.jsonl\"\n\
                 [[alert]]\nname = \"daily\"\ntopics = [\"visit\"]\nschedule = \"daily 08:00 UTC\"\nchannels = [\"jl\"]\n";
    let ws = Workspace::new(&feeds, &[("visit", "Akar OR آکار")], alert);
    let out = ws.run(&["run", "--once"]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains("4 new items"), "{}", out.stdout);

    // Each item's language is identified from its text (a primary
    // subtag); it keeps its feed's full tag as `declared_lang`.
    let items = ws.search(&[]).await;
    let mut langs: Vec<&str> = items.iter().map(|i| i["lang"].as_str().unwrap()).collect();
    langs.sort();
    assert_eq!(langs, ["en", "en", "fa", "fa"]);
    let mut declared: Vec<&str> = items
        .iter()
        .map(|i| i["declared_lang"].as_str().unwrap())
        .collect();
    declared.sort();
    assert_eq!(declared, ["en", "en-us", "fa", "fa-ir"]);
    assert_eq!(story_of(&items, "g0"), story_of(&items, "g1"), "en and en-US");
    assert_eq!(story_of(&items, "g2"), story_of(&items, "g3"), "fa and fa-IR");

    let out = ws
        .run(&["stories", "--since", "2017-01-01", "--format", "jsonl"])
        .await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let mut stories = common::jsonl(&out.stdout);
    stories.sort_by_key(|s| s["languages"].to_string());
    let summary: Vec<(i64, i64, &serde_json::Value)> = stories
        .iter()
        .map(|s| {
            (
                s["item_count"].as_i64().unwrap(),
                s["outlet_count"].as_i64().unwrap(),
                &s["languages"],
            )
        })
        .collect();
    let (en, fa) = (serde_json::json!(["en"]), serde_json::json!(["fa"]));
    assert_eq!(summary, [(2, 2, &en), (2, 2, &fa)], "{stories:#?}");

    // One series per primary language.
    let window = ["--since", "2017-09-22", "--until", "2017-09-25"];
    let out = ws
        .run(&[&["stats", "--split", "lang", "--format", "csv"][..], &window[..]].concat())
        .await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let counted: Vec<&str> = out
        .stdout
        .lines()
        .filter(|l| l.starts_with("2017-09-23,"))
        .collect();
    assert_eq!(
        counted,
        ["2017-09-23,,en,2", "2017-09-23,,fa,2"],
        "{}",
        out.stdout
    );

    // The report lists each language and each story once.
    let report = ws.dir.path().join("report.html");
    let out = ws
        .run(
            &[
                &["report", "--topic", "visit", "--out", report.to_str().unwrap()][..],
                &window[..],
            ]
            .concat(),
        )
        .await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let html = std::fs::read_to_string(&report).unwrap();
    let languages = html
        .split("<h2>Languages</h2>")
        .nth(1)
        .and_then(|rest| rest.split("</table>").next())
        .unwrap();
    assert_eq!(
        languages.matches("<tr><td>").count(),
        2,
        "two languages: {languages}"
    );
    assert!(
        languages.contains("<tr><td><bdi>en</bdi></td><td class=\"n\">2</td></tr>"),
        "{languages}"
    );
    assert!(
        languages.contains("<tr><td><bdi>fa</bdi></td><td class=\"n\">2</td></tr>"),
        "{languages}"
    );
    let top = html
        .split("<h2>Top stories</h2>")
        .nth(1)
        .and_then(|rest| rest.split("</table>").next())
        .unwrap();
    assert_eq!(top.matches("<tr><td").count(), 2, "two stories: {top}");

    // The digest: one entry per story, in its primary language.
    let out = ws.run(&["digest", "send", "--alert", "daily", "--now"]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let digests = common::jsonl(&std::fs::read_to_string(ws.dir.path().join("out/digests.jsonl")).unwrap());
    assert_eq!(digests.len(), 1);
    assert_eq!(digests[0]["counts"]["articles"], 4);
    assert_eq!(digests[0]["counts"]["stories"], 2, "{:#}", digests[0]);
    let entries = digests[0]["topics"][0]["entries"].as_array().unwrap();
    let mut entries: Vec<(&str, i64, usize)> = entries
        .iter()
        .map(|e| {
            (
                e["lang"].as_str().unwrap(),
                e["items"].as_i64().unwrap(),
                e["outlets"].as_array().unwrap().len(),
            )
        })
        .collect();
    entries.sort();
    assert_eq!(entries, [("en", 2, 2), ("fa", 2, 2)], "{:#}", digests[0]);
}
