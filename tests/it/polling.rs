//! The polling engine end to end against a loopback server: redirects, 410,
//! 429 with Retry-After, gzip bombs, slow drips, the SSRF guard, charsets,
//! ill-formed feeds, the persisted schedule, and managing feeds.

use crate::common;

use std::io::Write;
use std::time::Duration;

use crate::common::{rss, FeedServer, Route, Workspace};
use chrono::{DateTime, Utc};

fn feed(body: String) -> Route {
    Route::Feed {
        body,
        content_type: "application/rss+xml",
    }
}

fn ts(v: &serde_json::Value) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(v.as_str().unwrap_or_else(|| panic!("not a time: {v}")))
        .unwrap()
        .to_utc()
}

#[tokio::test(flavor = "multi_thread")]
async fn redirects_gone_and_rate_limits_shape_the_schedule() {
    let server = FeedServer::start().await;
    server.set("/new.xml", feed(rss(&[("n1", "Moved feed", "x")])));
    server.set("/new2.xml", feed(rss(&[("t1", "Temporarily elsewhere", "x")])));
    server.set(
        "/old.xml",
        Route::Redirect {
            status: 301,
            to: "/new.xml".into(),
        },
    );
    server.set(
        "/tmp.xml",
        Route::Redirect {
            status: 302,
            to: "/new2.xml".into(),
        },
    );
    server.set(
        "/loop-a",
        Route::Redirect {
            status: 302,
            to: "/loop-b".into(),
        },
    );
    server.set(
        "/loop-b",
        Route::Redirect {
            status: 302,
            to: "/loop-a".into(),
        },
    );
    server.set("/gone.xml", Route::Status(410));
    server.set(
        "/busy.xml",
        Route::WithHeaders {
            status: 429,
            headers: vec![("retry-after", "7200".into())],
            body: Vec::new(),
        },
    );
    server.set(
        "/cached.xml",
        Route::WithHeaders {
            status: 200,
            headers: vec![
                ("content-type", "application/rss+xml".into()),
                ("cache-control", "max-age=10800".into()),
            ],
            body: rss(&[("c1", "Cached", "x")]).into_bytes(),
        },
    );
    let paths = [
        "/old.xml",
        "/tmp.xml",
        "/loop-a",
        "/gone.xml",
        "/busy.xml",
        "/cached.xml",
    ];
    let urls: Vec<String> = paths.iter().map(|p| server.url(p)).collect();
    let feeds: Vec<(&str, &str)> = urls.iter().map(|u| (u.as_str(), "f")).collect();
    let ws = Workspace::new(&feeds, &[], "[poll]\nper_host_spacing = \"0s\"\n");

    let before = Utc::now();
    let out = ws.run(&["run", "--once"]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stderr.contains("feed moved permanently"), "{}", out.stderr);
    let rows = ws.feeds().await;
    let row = |p: &str| &rows[&server.url(p)];
    assert_eq!(row("/old.xml")["fetch_url"], server.url("/new.xml"));
    assert_eq!(row("/old.xml")["item_count"], 1);
    assert_eq!(row("/tmp.xml")["fetch_url"], serde_json::Value::Null);
    assert_eq!(row("/tmp.xml")["item_count"], 1);
    assert!(
        row("/loop-a")["last_error"]
            .as_str()
            .unwrap()
            .starts_with("redirect loop"),
        "{}",
        row("/loop-a")
    );
    assert_eq!(row("/gone.xml")["enabled"], false);
    assert!(row("/gone.xml")["disabled_reason"]
        .as_str()
        .unwrap()
        .contains("410"));
    assert_eq!(row("/busy.xml")["last_status"], 429);
    assert_eq!(row("/busy.xml")["consecutive_failures"], 1);
    assert!(ts(&row("/busy.xml")["next_check_at"]) >= before + chrono::Duration::seconds(7200 - 1));
    let cached_next = ts(&row("/cached.xml")["next_check_at"]);
    assert!(
        cached_next >= before + chrono::Duration::seconds(10800 - 1),
        "{cached_next}"
    );
    for path in paths {
        assert!(row(path).get("items_per_week").is_some());
    }

    // Second cycle: the moved feed is fetched at its new URL, the gone one not at all.
    let out = ws.run(&["run", "--once"]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(server.seen("/old.xml").len(), 1);
    assert_eq!(server.seen("/new.xml").len(), 2);
    assert_eq!(server.seen("/tmp.xml").len(), 2, "a 302 is not remembered");
    assert_eq!(server.seen("/gone.xml").len(), 1, "a disabled feed is not polled");
    let rows = ws.feeds().await;
    assert_eq!(rows[&server.url("/busy.xml")]["consecutive_failures"], 2);

    let out = ws
        .run(&["feeds", "status", "--unhealthy", "--format", "jsonl"])
        .await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let unhealthy = common::jsonl(&out.stdout);
    assert_eq!(unhealthy.len(), 1, "only the disabled feed: {unhealthy:?}");
    assert_eq!(unhealthy[0]["url"], server.url("/gone.xml"));

    // Re-enabled by hand, it is polled again.
    let out = ws.run(&["feeds", "enable", &server.url("/gone.xml")]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(ws.run(&["run", "--once"]).await.code, 0);
    assert_eq!(server.seen("/gone.xml").len(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn hostile_servers_are_cut_off() {
    let server = FeedServer::start().await;
    // 64 MiB of zeros, gzipped to a few dozen KiB.
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    let zeros = vec![b' '; 1024 * 1024];
    for _ in 0..64 {
        gz.write_all(&zeros).unwrap();
    }
    let bomb = gz.finish().unwrap();
    server.set(
        "/bomb.xml",
        Route::WithHeaders {
            status: 200,
            headers: vec![
                ("content-type", "application/rss+xml".into()),
                ("content-encoding", "gzip".into()),
            ],
            body: bomb,
        },
    );
    // A server that sends headers, then one byte every 100 ms, forever.
    let drip = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let drip_url = format!("http://{}/drip.xml", drip.local_addr().unwrap());
    tokio::spawn(async move {
        loop {
            let (mut socket, _) = drip.accept().await.unwrap();
            tokio::spawn(async move {
                use tokio::io::AsyncWriteExt;
                let mut buf = [0u8; 1024];
                let _ = tokio::io::AsyncReadExt::read(&mut socket, &mut buf).await;
                let head = "HTTP/1.1 200 OK\r\ncontent-type: application/rss+xml\r\ncontent-length: 100000\r\n\r\n<rss";
                if socket.write_all(head.as_bytes()).await.is_err() {
                    return;
                }
                loop {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    if socket.write_all(b" ").await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    let bomb_url = server.url("/bomb.xml");
    let ws = Workspace::new(
        &[(&bomb_url, "bomb"), (&drip_url, "drip")],
        &[],
        "[fetch]\ntimeout = \"2s\"\nmax_body_size = \"1 MiB\"\n",
    );
    let started = std::time::Instant::now();
    let out = ws.run(&["run", "--once"]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(started.elapsed() < Duration::from_secs(15));
    let rows = ws.feeds().await;
    assert_eq!(
        rows[&bomb_url]["last_error"],
        "body larger than the 1.0 MiB limit"
    );
    assert_eq!(rows[&bomb_url]["error_kind"], "too_large");
    assert_eq!(rows[&drip_url]["last_error"], "timed out after 2s");
}

#[tokio::test(flavor = "multi_thread")]
async fn ssrf_guard_refuses_private_addresses_unless_allowed() {
    let server = FeedServer::start().await;
    server.set("/a.xml", feed(rss(&[("a1", "Local", "x")])));
    let url = server.url("/a.xml");
    let localhost = url.replace("127.0.0.1", "localhost");
    let ws = Workspace::new(
        &[(&url, "literal"), (&localhost, "by name")],
        &[],
        "[fetch]\nallow_private_networks = false\n",
    );
    let out = ws.run(&["run", "--once"]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let rows = ws.feeds().await;
    for u in [&url, &localhost] {
        let error = rows[u]["last_error"].as_str().unwrap();
        assert!(error.starts_with("refused to connect to "), "{u}: {error}");
        assert!(error.contains("not a public address"), "{error}");
        assert_eq!(rows[u]["error_kind"], "blocked");
    }
    assert!(server.seen("/a.xml").is_empty(), "nothing reached the server");
}

#[tokio::test(flavor = "multi_thread")]
async fn charsets_broken_markup_and_odd_dates_come_out_right() {
    let server = FeedServer::start().await;
    let persian = "همه‌پرسي استقلال کردستان و واکنش ايران و ترکيه به برگزاري آن در روز دوشنبه";
    let doc = |decl: &str, title: &str| {
        format!(
            "<?xml version=\"1.0\"{decl}?><rss version=\"2.0\"><channel><title>t</title>\
             <item><guid>1</guid><title>{title}</title><description>{title}</description></item></channel></rss>"
        )
    };
    let encode = |label: &str, text: &str| {
        encoding_rs::Encoding::for_label(label.as_bytes())
            .unwrap()
            .encode(text)
            .0
            .into_owned()
    };
    let raw = |content_type: &str, body: Vec<u8>| Route::WithHeaders {
        status: 200,
        headers: vec![("content-type", content_type.to_string())],
        body,
    };
    // windows-1256 bytes served as UTF-8 by both the server and the document.
    server.set(
        "/fa.xml",
        raw(
            "application/rss+xml; charset=utf-8",
            encode("windows-1256", &doc(" encoding=\"UTF-8\"", persian)),
        ),
    );
    let russian = "Референдум в Иракском Курдистане: реакция Ирана и Турции";
    server.set(
        "/ru.xml",
        raw(
            "text/xml; charset=windows-1251",
            encode("windows-1251", &doc("", russian)),
        ),
    );
    let turkish = "Irak'taki referanduma Türkiye ve İran'ın tepkisi sürüyor";
    server.set(
        "/tr.xml",
        raw(
            "application/xml",
            encode("iso-8859-9", &doc(" encoding=\"ISO-8859-9\"", turkish)),
        ),
    );
    // Ill-formed: no version, a bare '&', an HTML entity, an IRST date, truncated.
    let broken = "<?xml version=\"1.0\"?><rss><channel><title>Broken & co</title>\
        <item><guid>b1</guid><title>Tom &amp; Jerry&nbsp;return</title><pubDate>Mon, 05 May 2025 13:30:00 IRST</pubDate></item>\
        <item><guid>b2</guid><title>Q & A</title><pubDate>2025-05-05 10:00:00</pubDate></item>\
        <item><guid>b3</guid><title>Cut";
    server.set(
        "/broken.xml",
        raw("application/rss+xml", broken.as_bytes().to_vec()),
    );
    let urls: Vec<String> = ["/fa.xml", "/ru.xml", "/tr.xml", "/broken.xml"]
        .iter()
        .map(|p| server.url(p))
        .collect();
    let feeds: Vec<(&str, &str)> = urls.iter().map(|u| (u.as_str(), "f")).collect();
    let ws = Workspace::new(&feeds, &[], "[poll]\nper_host_spacing = \"0s\"\n");
    let out = ws.run(&["run", "--once"]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let items = ws.search(&[]).await;
    let title_of = |feed: &str| -> Vec<String> {
        items
            .iter()
            .filter(|i| i["feed_url"] == server.url(feed))
            .map(|i| i["title"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(title_of("/fa.xml"), [persian]);
    assert_eq!(title_of("/ru.xml"), [russian]);
    assert_eq!(title_of("/tr.xml"), [turkish]);
    let mut broken_titles = title_of("/broken.xml");
    broken_titles.sort();
    assert_eq!(
        broken_titles,
        ["Q & A", "Tom & Jerry return"],
        "the cut item is not invented"
    );
    let b1 = items.iter().find(|i| i["guid"] == "b1").unwrap();
    assert_eq!(b1["published"], "2025-05-05T10:00:00Z");
    let b2 = items.iter().find(|i| i["guid"] == "b2").unwrap();
    assert_eq!(b2["published"], "2025-05-05T10:00:00Z");
    let rows = ws.feeds().await;
    let warning = rows[&server.url("/broken.xml")]["warning"].as_str().unwrap();
    assert!(warning.starts_with("ill-formed feed read anyway"), "{warning}");
    assert_eq!(
        rows[&server.url("/broken.xml")]["last_error"],
        serde_json::Value::Null
    );
    assert!(rows[&server.url("/fa.xml")]["warning"]
        .as_str()
        .unwrap()
        .contains("windows-1256"));
}

#[tokio::test(flavor = "multi_thread")]
async fn feeds_add_remove_and_opml() {
    let server = FeedServer::start().await;
    server.set("/added.xml", feed(rss(&[("x1", "Added feed item", "x")])));
    server.set(
        "/page.html",
        Route::WithHeaders {
            status: 200,
            headers: vec![("content-type", "text/html".into())],
            body: b"<!DOCTYPE html><html><head><link rel=\"alternate\" type=\"application/rss+xml\" href=\"/added.xml\"></head><body>x</body></html>".to_vec(),
        },
    );
    let ws = Workspace::new(&[], &[], "");
    let out = ws.run(&["feeds", "add", &server.url("/page.html")]).await;
    assert_ne!(out.code, 0);
    assert!(out.stderr.contains("is an HTML page"), "{}", out.stderr);
    assert!(out.stderr.contains(&server.url("/added.xml")), "{}", out.stderr);
    let out = ws.run(&["feeds", "add", "file:///etc/passwd"]).await;
    assert!(out.stderr.contains("only in the config file"), "{}", out.stderr);

    let url = server.url("/added.xml");
    let out = ws
        .run(&["feeds", "add", &url, "--name", "Added", "--tag", "wire"])
        .await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains("added"), "{}", out.stdout);
    let out = ws.run(&["feeds", "add", &url]).await;
    assert!(out.stderr.contains("already present"), "{}", out.stderr);

    assert_eq!(ws.run(&["run", "--once"]).await.code, 0);
    let rows = ws.feeds().await;
    assert_eq!(rows[&url]["item_count"], 1);
    assert_eq!(rows[&url]["tags"], serde_json::json!(["wire"]));
    assert_eq!(rows[&url]["source"], "added");
    let interval = rows[&url]["check_interval"].as_i64().unwrap();
    assert!((300..=86_400).contains(&interval), "{interval}");
    // Issue 22: an added feed's tags count everywhere `feed:` is read — a
    // search, `topics test`, and the backfill of a new topic.
    assert_eq!(ws.search(&["item feed:wire"]).await.len(), 1);
    let out = ws
        .run(&[
            "topics",
            "test",
            "item feed:wire",
            "--since",
            "2000-01-01",
            "--format",
            "jsonl",
        ])
        .await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(common::jsonl(&out.stdout).len(), 1, "{}", out.stdout);
    let config = std::fs::read_to_string(ws.config_path()).unwrap();
    std::fs::write(
        ws.config_path(),
        format!("{config}\n[[topic]]\nname = \"wired\"\nquery = \"item feed:wire\"\n"),
    )
    .unwrap();
    assert_eq!(ws.run(&["run", "--once"]).await.code, 0);
    assert_eq!(
        ws.search(&["--topic", "wired"]).await.len(),
        1,
        "backfilled with the added feed's tags"
    );

    let opml = ws.dir.path().join("subs.opml");
    std::fs::write(
        &opml,
        format!(
            "<opml><body><outline text=\"Iran\"><outline text=\"One\" xmlUrl=\"{}\"/>\
             <outline text=\"Two\" xmlUrl=\"https://two.example/rss\"/></outline></body></opml>",
            server.url("/one.xml")
        ),
    )
    .unwrap();
    let out = ws.run(&["opml", "import", opml.to_str().unwrap()]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.starts_with("2 feeds added"), "{}", out.stdout);
    let rows = ws.feeds().await;
    assert_eq!(
        rows["https://two.example/rss"]["tags"],
        serde_json::json!(["Iran"])
    );
    let out = ws.run(&["opml", "export"]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout.contains("xmlUrl=\"https://two.example/rss\""),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains(&format!("xmlUrl=\"{url}\"")));

    let out = ws.run(&["feeds", "remove", "https://two.example/rss"]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(!ws.feeds().await.contains_key("https://two.example/rss"));
}

#[tokio::test(flavor = "multi_thread")]
async fn every_nth_poll_ignores_validators_that_never_change() {
    let server = FeedServer::start().await;
    let path = "/stale.xml";
    server.set(
        path,
        Route::StaleValidators {
            body: rss(&[("s1", "First", "x")]),
        },
    );
    let ws = Workspace::new(
        &[(&server.url(path), "S")],
        &[],
        "[poll]\nunconditional_every = 3\n",
    );
    assert_eq!(ws.run(&["run", "--once"]).await.code, 0);
    // The body changes; the ETag does not.
    server.set(
        path,
        Route::StaleValidators {
            body: rss(&[("s1", "First", "x"), ("s2", "Second", "y")]),
        },
    );
    // Every 3rd poll, offset by the feed id (1: polls 3, 6, …, counting
    // from 1) so that feeds added together do not all refetch at once.
    assert_eq!(ws.run(&["run", "--once"]).await.code, 0);
    assert_eq!(ws.search(&[]).await.len(), 1, "poll 2 is conditional: 304");
    assert_eq!(ws.run(&["run", "--once"]).await.code, 0);
    let seen = server.seen(path);
    assert_eq!(seen.len(), 3);
    assert!(seen[1].if_none_match.is_some());
    assert_eq!(seen[1].status, 304);
    assert_eq!(seen[2].if_none_match, None, "the 3rd poll sends no validators");
    assert_eq!(seen[2].status, 200);
    assert_eq!(ws.search(&[]).await.len(), 2, "the change is found");
}

/// Issue 21, item 15: `feedwatch_poll_duration_seconds` is the poll's own
/// time; the wait for a host's politeness limits is
/// `feedwatch_poll_host_wait_seconds`. Two feeds of one host, 1.5 s apart.
#[tokio::test(flavor = "multi_thread")]
async fn host_waits_are_measured_apart_from_polls() {
    let server = FeedServer::start().await;
    server.set(
        "/p1.xml",
        Route::NoValidators {
            body: rss(&[("p1", "One", "a")]),
        },
    );
    server.set(
        "/p2.xml",
        Route::NoValidators {
            body: rss(&[("p2", "Two", "b")]),
        },
    );
    let port = common::free_port();
    let extra = format!(
        "[http]\nlisten = \"127.0.0.1:{port}\"\n[poll]\nper_host_concurrency = 1\nper_host_spacing = \"1500ms\"\n"
    );
    let ws = Workspace::new(
        &[(&server.url("/p1.xml"), "P1"), (&server.url("/p2.xml"), "P2")],
        &[("k", "One")],
        &extra,
    );
    let mut daemon = tokio::process::Command::new(env!("CARGO_BIN_EXE_feedwatch"))
        .arg("--config")
        .arg(ws.config_path())
        .arg("run")
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let sample = |text: &str, name: &str| common::metric(text, name).unwrap_or(0.0);
    let mut metrics = String::new();
    for _ in 0..100 {
        if let Ok(r) = reqwest::get(format!("http://127.0.0.1:{port}/metrics")).await {
            metrics = r.text().await.unwrap();
            if sample(&metrics, "feedwatch_poll_duration_seconds_count") >= 2.0 {
                break;
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    common::kill(daemon.id().unwrap(), "-TERM");
    daemon.wait().await.unwrap();
    let polls = sample(&metrics, "feedwatch_poll_duration_seconds_sum");
    let waits = sample(&metrics, "feedwatch_poll_host_wait_seconds_sum");
    assert_eq!(
        sample(&metrics, "feedwatch_poll_host_wait_seconds_count"),
        2.0,
        "{metrics}"
    );
    assert!(
        waits >= 1.0,
        "the second feed waited for the spacing: {waits} s\n{metrics}"
    );
    assert!(polls < 1.0, "poll time excludes the wait: {polls} s\n{metrics}");
}

/// Issue 21, item 6: a 301 onto another configured feed's URL makes the
/// moved feed a twin of that one: the document is fetched once per poll,
/// not twice, and `feeds list` says why the twin is not polled.
#[tokio::test]
async fn a_feed_moved_onto_another_feed_is_polled_once() {
    let server = FeedServer::start().await;
    server.set(
        "/new.xml",
        Route::NoValidators {
            body: rss(&[("n1", "Erbil", "Vote.")]),
        },
    );
    server.set(
        "/old.xml",
        Route::Redirect {
            status: 301,
            to: "/new.xml".into(),
        },
    );
    let ws = Workspace::new(
        &[
            (&server.url("/new.xml"), "Rudaw"),
            (&server.url("/old.xml"), "Rudaw (old)"),
        ],
        &[("k", "Erbil")],
        "[poll]\nper_host_spacing = \"0s\"\n",
    );
    assert_eq!(ws.run(&["run", "--once"]).await.code, 0);
    let before = server.seen("/new.xml").len();
    assert_eq!(before, 2, "the first cycle follows the redirect");
    let out = ws.run(&["run", "--once"]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.starts_with("polled 1 feed"), "{}", out.stdout);
    assert_eq!(
        server.seen("/new.xml").len() - before,
        1,
        "fetched once, not twice"
    );
    let feeds = ws.feeds().await;
    let warning = feeds[&server.url("/old.xml")]["warning"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(warning.contains(&server.url("/new.xml")), "{warning}");
    assert!(feeds[&server.url("/new.xml")]["warning"].is_null());
}

/// Issue 21, item 15: `feeds add` refuses a URL that answers 404 or refuses
/// connections, in one sentence; `--force` adds it anyway.
#[tokio::test]
async fn feeds_add_refuses_what_cannot_be_fetched_unless_forced() {
    let server = FeedServer::start().await;
    server.set("/gone.xml", Route::Status(404));
    let ws = Workspace::new(&[], &[("k", "Erbil")], "");
    let out = ws.run(&["feeds", "add", &server.url("/gone.xml")]).await;
    assert_ne!(out.code, 0, "{}", out.stdout);
    assert_eq!(out.stderr.lines().count(), 1, "{}", out.stderr);
    assert!(
        out.stderr.contains("not added (--force adds it anyway)") && out.stderr.contains("404"),
        "{}",
        out.stderr
    );
    // Nothing is listed.
    let listed = ws.run(&["feeds", "list", "--format", "jsonl"]).await;
    assert!(
        listed.code != 0 || listed.stdout.trim().is_empty(),
        "{}",
        listed.stdout
    );
    let out = ws
        .run(&["feeds", "add", "--force", &server.url("/gone.xml")])
        .await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stderr.contains("adding it anyway"), "{}", out.stderr);
    assert_eq!(ws.feeds().await.len(), 1);
}

/// A download cut short is read as far as it goes (repair), but its
/// validators are not kept: the next poll reads the document whole instead
/// of being told "not modified" by a server whose ETag did not change, so
/// the items after the cut are not lost.
#[tokio::test(flavor = "multi_thread")]
async fn a_repaired_document_is_fetched_whole_next_time() {
    let server = FeedServer::start().await;
    let full = rss(&[
        ("a", "First", "The first article."),
        ("b", "Second", "The second article."),
        ("c", "Third", "The third article."),
    ]);
    let cut = &full[..full.find("<item><guid>c").unwrap() + 30];
    server.set(
        "/cut.xml",
        Route::StaleValidators {
            body: cut.to_string(),
        },
    );
    let ws = Workspace::new(&[(&server.url("/cut.xml"), "Cut")], &[], "");
    let out = ws.run(&["run", "--once"]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let first: Vec<String> = ws
        .search(&[])
        .await
        .iter()
        .map(|r| r["guid"].to_string())
        .collect();
    assert!(
        first.len() == 2 && !first.contains(&"\"c\"".to_string()),
        "{first:?}"
    );

    server.set("/cut.xml", Route::StaleValidators { body: full.clone() });
    let out = ws.run(&["run", "--once"]).await;
    assert!(out.stdout.contains("1 new item"), "{}", out.stdout);
    assert_eq!(ws.search(&[]).await.len(), 3, "the items after the cut arrive");
}
