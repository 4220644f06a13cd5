//! Full text for summary-only feeds (issue 24), through the real binary on
//! each backend: teaser items get their article page fetched (once per
//! article, however many feeds list it), extracted and matched; a match
//! found only in the article alerts like any other; pages that cannot be
//! fetched or extracted keep the teaser and say why on the item.
//!
//! The SSRF guard stays on: the binary reaches the test server as its HTTP
//! proxy, each site on a made-up host name, so a redirect to a private
//! address is refused as it would be in production.

use std::path::Path;
use std::time::Duration;

use crate::common::{jsonl, Backend, FeedServer, Route, Workspace};

fn fixture(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/extract")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn html(body: impl Into<Vec<u8>>) -> Route {
    Route::Raw {
        body: body.into(),
        content_type: "text/html; charset=utf-8",
    }
}

/// An RSS document of `(link, title, description)` items.
fn feed(items: &[(&str, &str, &str)]) -> Route {
    let mut body = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><rss version=\"2.0\"><channel><title>Teasers</title>\
         <link>http://news.fulltext.test/</link><description>d</description>",
    );
    for (link, title, text) in items {
        body.push_str(&format!(
            "<item><guid>{link}</guid><title>{title}</title><link>{link}</link>\
             <description>{text}</description></item>"
        ));
    }
    body.push_str("</channel></rss>");
    Route::Feed {
        body,
        content_type: "application/rss+xml",
    }
}

const NEWS: &str = "http://news.fulltext.test";

#[tokio::test(flavor = "multi_thread")]
async fn teasers_get_their_article_text_once_and_failures_are_data() {
    for backend in Backend::ALL {
        teasers_on(backend).await;
    }
}

async fn teasers_on(backend: Backend) {
    let server = FeedServer::start().await;
    let long_text = "The referendum in the Kurdistan region of Iraq drew a large turnout. ".repeat(8);
    let link = |path: &str| format!("{NEWS}{path}");
    let (en, fa, ar, private, huge, front, long) = (
        link("/en"),
        link("/fa"),
        link("/ar"),
        link("/private"),
        link("/huge"),
        link("/front"),
        link("/long"),
    );
    server.set(
        "/feed.xml",
        feed(&[
            (
                &en,
                "Iran, Turkey military chiefs meet",
                "Iran's top general met his Turkish counterpart.",
            ),
            (&fa, "دیدار وزیران خارجه", "وزیران خارجه دیدار کردند."),
            (&ar, "اجتماع وزراء الزراعة", "اجتماع في العاصمة."),
            (&private, "A page that redirects inward", "Teaser."),
            (&huge, "A page too large", "Teaser."),
            (&front, "A section front", "Teaser."),
            (&long, "A long item", &long_text),
        ]),
    );
    // A wire feed on another host listing the same English article.
    server.set(
        "/wire.xml",
        feed(&[(
            &en,
            "Iran, Turkey military chiefs meet",
            "Generals met in Tehran.",
        )]),
    );
    server.set("/en", html(fixture("mehr_en.html")));
    server.set("/fa", html(fixture("fa.html")));
    // Arabic in windows-1256, declared nowhere (no header, no meta tag).
    let arabic = fixture("ar.html").replace("<meta charset=\"utf-8\">", "");
    server.set(
        "/ar",
        Route::Raw {
            body: encoding_rs::WINDOWS_1256.encode(&arabic).0.into_owned(),
            content_type: "text/html",
        },
    );
    server.set(
        "/private",
        Route::Redirect {
            status: 302,
            to: "http://169.254.169.254/latest/meta-data/".into(),
        },
    );
    server.set(
        "/huge",
        Route::Huge {
            chunk: b"<p>filler filler filler filler</p>".to_vec(),
            len: 8 << 20,
        },
    );
    server.set("/front", html(fixture("front_page.html")));
    server.set("/long", html(fixture("mehr_en.html")));

    let extra = "[fetch]\nallow_private_networks = false\nmax_body_size = \"1 MiB\"\nfull_text = \"auto\"\n\
                 [poll]\nper_host_spacing = \"50ms\"\n\
                 [[channel]]\nname = \"out\"\nkind = \"file\"\npath = \"out/digests.jsonl\"\n\
                 [[alert]]\nname = \"now\"\ntopics = [\"generals\"]\nschedule = \"immediate 1s\"\nchannels = [\"out\"]\n";
    let ws = Workspace::on(
        backend,
        &[
            (&link("/feed.xml"), "Teasers"),
            ("http://wire.fulltext.test/wire.xml", "Wire"),
        ],
        &[
            ("generals", "\"Hulusi Akar\""),
            ("smuggling", "قاچاق"),
            ("irrigation", "ترشيد"),
        ],
        extra,
    )
    .await;
    let proxy = &server.base;
    let first = ws.run_through_proxy(proxy, &["run", "--once"]).await;
    assert_eq!(first.code, 0, "{backend:?}: {}", first.stderr);
    assert!(
        first.stdout.contains("pages: 4 fetched for 6 items: 3 with the article's text, 0 kept the feed's text, 3 failed; 3 new topic matches"),
        "{backend:?}: {}",
        first.stdout
    );

    let items = jsonl(
        &ws.run(&["search", "--format", "jsonl", "--limit", "100"])
            .await
            .stdout,
    );
    let item = |url: &str| {
        items
            .iter()
            .find(|i| i["url"] == url)
            .unwrap_or_else(|| panic!("{backend:?}: no item {url}"))
            .clone()
    };
    // The article's text replaces the teaser, which is kept; the match is
    // found in the article only.
    let en_item = item(&en);
    assert_eq!(en_item["text_source"], "page", "{backend:?}: {en_item}");
    // The teaser of the feed that stored it first (the feeds are polled at
    // once).
    let summary = en_item["summary"].as_str().unwrap_or_default();
    assert!(
        [
            "Iran's top general met his Turkish counterpart.",
            "Generals met in Tehran."
        ]
        .contains(&summary),
        "{backend:?}: {summary}"
    );
    assert!(en_item["text"].as_str().unwrap().contains("General Hulusi Akar"));
    assert!(
        !en_item["text"].as_str().unwrap().contains("cookie"),
        "{backend:?}: boilerplate kept"
    );
    assert_eq!(en_item["topics"], serde_json::json!(["generals"]));
    assert_eq!(en_item["feeds"].as_array().unwrap().len(), 2);
    // Right-to-left pages, one of them in an undeclared legacy charset.
    let fa_item = item(&fa);
    assert_eq!(fa_item["text_source"], "page", "{backend:?}: {fa_item}");
    assert_eq!(fa_item["topics"], serde_json::json!(["smuggling"]));
    let ar_item = item(&ar);
    assert_eq!(ar_item["text_source"], "page", "{backend:?}: {ar_item}");
    assert!(
        ar_item["text"].as_str().unwrap().contains("ترشيد استهلاك المياه"),
        "{ar_item}"
    );
    assert_eq!(ar_item["topics"], serde_json::json!(["irrigation"]));
    // Failures keep the teaser and say why.
    for (url, why) in [
        (&private, "refused to connect to 169.254.169.254"),
        (&huge, "body larger than the 1.0 MiB limit"),
        (&front, "no article text on the page"),
    ] {
        let failed = item(url);
        assert_eq!(failed["text_source"], "feed", "{backend:?}: {failed}");
        assert_eq!(failed["text"], "Teaser.");
        let error = failed["page_error"].as_str().unwrap_or_default();
        assert!(error.contains(why), "{backend:?}: {url}: {error}");
    }
    // A long item is not a teaser: its page is never asked for.
    assert_eq!(item(&long)["text_source"], "feed");
    assert!(item(&long)["page_error"].is_null());
    assert!(server.seen("/long").is_empty(), "{backend:?}");
    assert_eq!(server.seen("/en").len(), 1, "{backend:?}: one fetch per article");

    // Feeds list the setting and their pages.
    let feeds = ws.feeds().await;
    let teasers = &feeds[&link("/feed.xml")];
    assert_eq!(teasers["full_text"], "auto");
    assert_eq!(feeds["http://wire.fulltext.test/wire.xml"]["full_text"], "auto");
    // An item's pages count for the feed that stored it first (the English
    // article: either feed).
    let total = |key: &str| feeds.values().map(|f| f[key].as_i64().unwrap()).sum::<i64>();
    assert_eq!(
        (
            total("pages_fetched"),
            total("pages_failed"),
            total("pages_pending")
        ),
        (3, 3, 0),
        "{backend:?}: {teasers}"
    );
    assert_eq!(teasers["pages_failed"], 3, "{backend:?}: {teasers}");

    // The article's match alerts like any other: after the alert's window,
    // the next run sends it. Pages done or given up are not fetched again.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let second = ws.run_through_proxy(proxy, &["run", "--once"]).await;
    assert_eq!(second.code, 0, "{backend:?}: {}", second.stderr);
    assert!(
        second.stdout.contains("alerts: 1 digest built"),
        "{backend:?}: {}",
        second.stdout
    );
    let sent = std::fs::read_to_string(ws.dir.path().join("out/digests.jsonl")).unwrap();
    assert!(
        sent.contains("Iran, Turkey military chiefs meet"),
        "{backend:?}: {sent}"
    );
    assert!(
        !second.stdout.contains("pages:"),
        "{backend:?}: {}",
        second.stdout
    );
    for path in ["/en", "/private", "/huge", "/front"] {
        assert_eq!(server.seen(path).len(), 1, "{backend:?}: {path} fetched again");
    }
}

/// Politeness: one host serving 50 teaser items in two feeds. Each page is
/// fetched once, and every request to the host (feeds and pages alike)
/// starts at least the per-host spacing after the one before.
#[tokio::test(flavor = "multi_thread")]
async fn article_pages_share_their_hosts_politeness_and_are_fetched_once() {
    let server = FeedServer::start().await;
    let links: Vec<String> = (0..50).map(|i| format!("{NEWS}/a{i}")).collect();
    let items: Vec<(&str, &str, &str)> = links
        .iter()
        .map(|l| (l.as_str(), "Iran, Turkey military chiefs meet", "A teaser."))
        .collect();
    server.set("/one.xml", feed(&items));
    server.set("/two.xml", feed(&items));
    for i in 0..50 {
        server.set(&format!("/a{i}"), html(fixture("mehr_en.html")));
    }
    let spacing = Duration::from_millis(200);
    let extra = format!(
        "[fetch]\nallow_private_networks = false\nfull_text = \"always\"\npage_concurrency = 4\n\
         [poll]\nper_host_spacing = \"{}ms\"\nper_host_concurrency = 4\n",
        spacing.as_millis()
    );
    let ws = Workspace::new(
        &[
            (&format!("{NEWS}/one.xml"), "One"),
            (&format!("{NEWS}/two.xml"), "Two"),
        ],
        &[("generals", "\"Hulusi Akar\"")],
        &extra,
    );
    let out = ws.run_through_proxy(&server.base, &["run", "--once"]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout
            .contains("pages: 50 fetched for 50 items: 50 with the article's text"),
        "{}",
        out.stdout
    );
    let mut starts = Vec::new();
    for i in 0..50 {
        let seen = server.seen(&format!("/a{i}"));
        assert_eq!(seen.len(), 1, "/a{i}");
        starts.push(seen[0].at);
    }
    starts.extend(
        server
            .seen("/one.xml")
            .iter()
            .chain(&server.seen("/two.xml"))
            .map(|s| s.at),
    );
    starts.sort();
    // Arrival times jitter around the start times the limiter spaces.
    let tolerance = Duration::from_millis(60);
    for pair in starts.windows(2) {
        let gap = pair[1] - pair[0];
        assert!(gap + tolerance >= spacing, "requests {gap:?} apart");
    }
}

/// The daemon's page stage: a teaser polled by `feedwatch run` gets its
/// article's text within seconds (the poll wakes the page stage), and the
/// pages are counted in `/metrics`.
#[tokio::test(flavor = "multi_thread")]
async fn the_daemon_fetches_pages_as_polls_queue_them() {
    let server = FeedServer::start().await;
    let page = server.url("/en");
    server.set(
        "/feed.xml",
        feed(&[(
            &page,
            "Iran, Turkey military chiefs meet",
            "Generals met in Tehran.",
        )]),
    );
    server.set("/en", html(fixture("mehr_en.html")));
    let port = crate::common::free_port();
    let extra = format!("[fetch]\nfull_text = \"auto\"\n[http]\nlisten = \"127.0.0.1:{port}\"\n");
    let ws = Workspace::new(
        &[(&server.url("/feed.xml"), "Teasers")],
        &[("generals", "\"Hulusi Akar\"")],
        &extra,
    );
    let mut daemon = tokio::process::Command::new(env!("CARGO_BIN_EXE_feedwatch"))
        .arg("--config")
        .arg(ws.config_path())
        .arg("run")
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let http = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{port}");
    let mut item = serde_json::Value::Null;
    // Well under the page stage's idle look (15 s): the poll wakes it.
    for _ in 0..80 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let Ok(response) = http.get(format!("{base}/api/items")).send().await else {
            continue;
        };
        let Ok(body) = response.text().await else { continue };
        let Ok(body) = serde_json::from_str::<serde_json::Value>(&body) else {
            continue;
        };
        if let Some(first) = body.as_array().and_then(|a| a.first()) {
            if first["text_source"] == "page" {
                item = first.clone();
                break;
            }
        }
    }
    assert_eq!(item["topics"], serde_json::json!(["generals"]), "{item}");
    let metrics = http
        .get(format!("{base}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(
        crate::common::metric(&metrics, "feedwatch_pages_total{outcome=\"extracted\"}"),
        Some(1.0),
        "{metrics}"
    );
    assert!(crate::common::metric(&metrics, "feedwatch_page_bytes_total").unwrap_or(0.0) > 5000.0);
    assert_eq!(
        crate::common::metric(&metrics, "feedwatch_page_matches_total"),
        Some(1.0)
    );
    crate::common::kill(daemon.id().unwrap(), "-TERM");
    assert_eq!(daemon.wait().await.unwrap().code(), Some(0));
}
