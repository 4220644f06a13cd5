//! Topics through the real binary: the full query language on real feeds,
//! backfill of new and changed topics, retention with tombstones, and the
//! `topics` commands.

use crate::common;

use crate::common::{rss, FeedServer, Route, Workspace};
use sqlx::sqlite::SqlitePool;

/// (item guid, topic, backfilled) rows straight from the database file.
async fn matches(ws: &Workspace) -> Vec<(String, String, i64)> {
    let pool = SqlitePool::connect(&format!("sqlite://{}?mode=ro", ws.db_path().display()))
        .await
        .unwrap();
    let rows = sqlx::query_as(
        "SELECT i.guid, t.name, it.backfilled FROM item_topics it JOIN items i ON i.id = it.item_id \
         JOIN topics t ON t.id = it.topic_id ORDER BY i.guid, t.name",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    pool.close().await;
    rows
}

fn feed() -> String {
    rss(&[
        ("m1", "Baqeri meets Hulusi Akar in Tehran", "The generals discussed the Kurdistan referendum."),
        ("m2", "Market report", "Bagheri, a trader, said prices rose; Akar was not mentioned until much later in this long and winding text."),
        ("m3", "Referendums elsewhere", "Scotland and Catalonia."),
    ])
}

#[tokio::test(flavor = "multi_thread")]
async fn query_language_works_end_to_end() {
    let server = FeedServer::start().await;
    server.set(
        "/m.xml",
        Route::Feed {
            body: feed(),
            content_type: "application/rss+xml",
        },
    );
    // `feed:` must name a feed (or tag) that exists: Reuters does, with
    // nothing about Akar.
    server.set(
        "/r.xml",
        Route::Feed {
            body: rss(&[("r1", "Oil prices", "Brent rose.")]),
            content_type: "application/rss+xml",
        },
    );
    let config_extra = "[terms]\nbaqeri = [\"Baqeri\", \"Bagheri\", \"باقری\"]\n";
    let ws = Workspace::new(
        &[
            (&server.url("/m.xml"), "Wire"),
            (&server.url("/r.xml"), "Reuters"),
        ],
        &[
            ("generals", "@baqeri NEAR/3 Akar"),
            ("referend-wild", "referend*"),
            ("referendum-exact", "referendum"),
            ("title-only", "title:Akar"),
            ("feed-filter", "Akar feed:wire"),
            ("other-feed", "Akar feed:reuters"),
        ],
        config_extra,
    );
    let out = ws.run(&["run", "--once"]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let got: Vec<(String, String)> = matches(&ws).await.into_iter().map(|(g, t, _)| (g, t)).collect();
    let want: Vec<(String, String)> = [
        ("m1", "feed-filter"),
        ("m1", "generals"),
        ("m1", "referend-wild"),
        ("m1", "referendum-exact"),
        ("m1", "title-only"),
        ("m2", "feed-filter"),
        ("m3", "referend-wild"),
    ]
    .iter()
    .map(|(g, t)| (g.to_string(), t.to_string()))
    .collect();
    assert_eq!(got, want);
}

#[tokio::test(flavor = "multi_thread")]
async fn new_and_changed_topics_are_backfilled_without_alerting_flags_on_live_matches() {
    let server = FeedServer::start().await;
    server.set(
        "/m.xml",
        Route::Feed {
            body: feed(),
            content_type: "application/rss+xml",
        },
    );
    let url = server.url("/m.xml");
    let ws = Workspace::new(&[(&url, "Wire")], &[("exact", "referendum")], "");
    assert_eq!(ws.run(&["run", "--once"]).await.code, 0);
    assert_eq!(
        matches(&ws).await,
        [("m1".to_string(), "exact".to_string(), 0)],
        "live match, not backfilled"
    );

    // A new topic and a changed query: both are evaluated against stored items.
    let ws2 = Workspace { dir: ws.dir };
    let config = std::fs::read_to_string(ws2.config_path()).unwrap();
    let config = config.replace("query = 'referendum'", "query = 'referend*'")
        + "[[topic]]\nname = \"akar\"\nquery = 'Akar'\n";
    std::fs::write(ws2.config_path(), config).unwrap();
    let out = ws2.run(&["run", "--once"]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stderr.contains("backfilled topic"), "{}", out.stderr);
    assert_eq!(
        matches(&ws2).await,
        [
            ("m1".to_string(), "akar".to_string(), 1),
            ("m1".to_string(), "exact".to_string(), 0), // still holds: keeps its time and flag
            ("m2".to_string(), "akar".to_string(), 1),
            ("m3".to_string(), "exact".to_string(), 1),
        ]
    );
    // Unchanged topics are not backfilled again.
    let out = ws2.run(&["run", "--once"]).await;
    assert!(!out.stderr.contains("backfilled topic"), "{}", out.stderr);

    // A narrower query removes matches that no longer hold.
    let config = std::fs::read_to_string(ws2.config_path())
        .unwrap()
        .replace("query = 'Akar'", "query = 'title:Akar'");
    std::fs::write(ws2.config_path(), config).unwrap();
    assert_eq!(ws2.run(&["run", "--once"]).await.code, 0);
    assert!(!matches(&ws2)
        .await
        .contains(&("m2".to_string(), "akar".to_string(), 1)));
}

#[tokio::test(flavor = "multi_thread")]
async fn unmatched_items_are_pruned_after_retention_and_do_not_come_back() {
    let server = FeedServer::start().await;
    // No validators: every poll re-reads the full feed, which still lists pruned items.
    server.set("/m.xml", Route::NoValidators { body: feed() });
    let ws = Workspace::new(
        &[(&server.url("/m.xml"), "Wire")],
        &[("exact", "referendum")],
        "[retention]\nunmatched = \"1s\"\n",
    );
    assert_eq!(ws.run(&["run", "--once"]).await.code, 0);
    assert_eq!(ws.search(&[]).await.len(), 3);
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let out = ws.run(&["run", "--once"]).await;
    assert!(out.stderr.contains("pruned=2"), "{}", out.stderr);
    let left = ws.search(&[]).await;
    assert_eq!(left.len(), 1, "only the matched item is kept");
    assert_eq!(left[0]["guid"], "m1");
    let out = ws.run(&["run", "--once"]).await;
    assert!(
        out.stdout.contains("0 new items"),
        "pruned items do not come back: {}",
        out.stdout
    );
    assert_eq!(ws.search(&[]).await.len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn topics_list_and_test() {
    let server = FeedServer::start().await;
    server.set(
        "/m.xml",
        Route::Feed {
            body: feed(),
            content_type: "application/rss+xml",
        },
    );
    let ws = Workspace::new(
        &[(&server.url("/m.xml"), "Wire")],
        &[("exact", "referendum"), ("none", "zzz")],
        "",
    );
    assert_eq!(ws.run(&["run", "--once"]).await.code, 0);

    let out = ws.run(&["topics", "list", "--format", "jsonl"]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let list = common::jsonl(&out.stdout);
    assert_eq!(list.len(), 2);
    assert_eq!(
        (list[0]["name"].as_str(), list[0]["total"].as_i64()),
        (Some("exact"), Some(1))
    );
    assert_eq!(list[0]["last_7d"], 0, "the items were published in 2017");
    assert_eq!(
        (list[1]["name"].as_str(), list[1]["total"].as_i64()),
        (Some("none"), Some(0))
    );

    let out = ws
        .run(&["topics", "test", "referend* OR Akar", "--since", "2017-01-01"])
        .await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout.starts_with("3 hits among 3 items since 2017-01-01"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("2017-09-23       3  "),
        "hits per day: {}",
        out.stdout
    );
    let out = ws
        .run(&[
            "topics",
            "test",
            "title:referend*",
            "--since",
            "2017-01-01",
            "--format",
            "jsonl",
        ])
        .await;
    let hits = common::jsonl(&out.stdout);
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0]["guid"], "m3");
    let out = ws.run(&["topics", "test", "referendum"]).await;
    assert!(
        out.stdout.starts_with("0 hits among 0 items"),
        "default window is 7 days: {}",
        out.stdout
    );
    let out = ws.run(&["topics", "test", "(Baqeri OR"]).await;
    assert_ne!(out.code, 0);
    assert!(
        out.stderr
            .contains("query: column 11: expected a term, a phrase or '(' after OR"),
        "{}",
        out.stderr
    );
}
