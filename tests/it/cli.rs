//! The command line: config errors, the shipped example, output formats and
//! the daemon's shutdown.

use crate::common;

use std::path::Path;
use std::time::Duration;

use crate::common::{rss, run_with_config, FeedServer, Route, Workspace};

#[tokio::test(flavor = "multi_thread")]
async fn bad_config_names_the_key_and_line_and_opens_no_database() {
    let ws =
        Workspace::with_config("[store]\npath = \"data/x.db\"\n[[feed]]\nurll = \"https://x.example/\"\n");
    let out = ws.run(&["run", "--once"]).await;
    assert_ne!(out.code, 0);
    assert_eq!(out.stderr.lines().count(), 1, "one line: {}", out.stderr);
    assert!(
        out.stderr.contains("line 4: feed[0].urll: unknown field `urll`"),
        "{}",
        out.stderr
    );
    assert!(
        !ws.dir.path().join("data/x.db").exists(),
        "no database before the config is valid"
    );

    let ws = Workspace::with_config("[poll]\ninterval = 15\n");
    let out = ws.run(&["check"]).await;
    assert_ne!(out.code, 0);
    assert!(out.stderr.contains("line 2: poll.interval: "), "{}", out.stderr);

    let ws =
        Workspace::with_config("[[topic]]\nname = \"k\"\nquery = \"(Kurdistan OR KRG AND referendum\"\n");
    let out = ws.run(&["check"]).await;
    assert_ne!(out.code, 0);
    assert!(
        out.stderr.contains(
            "line 3: topic[0].query: topic \"k\": column 33: expected ')' to close '(' at column 1"
        ),
        "{}",
        out.stderr
    );

    let out = run_with_config(Path::new("/nonexistent/feedwatch.toml"), &["check"]).await;
    assert_ne!(out.code, 0);
    assert!(
        out.stderr
            .contains("cannot read config file /nonexistent/feedwatch.toml"),
        "{}",
        out.stderr
    );
}

/// Copies the shipped example (config and sample feeds) so the test writes
/// its database into a temp dir, not the checkout.
fn example_workspace() -> Workspace {
    let dir = tempfile::tempdir().unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    std::fs::create_dir_all(dir.path().join("config/samples")).unwrap();
    std::fs::copy(
        root.join("config/feedwatch.toml"),
        dir.path().join("config/feedwatch.toml"),
    )
    .unwrap();
    for entry in std::fs::read_dir(root.join("config/samples")).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(
            entry.path(),
            dir.path().join("config/samples").join(entry.file_name()),
        )
        .unwrap();
    }
    Workspace { dir }
}

#[tokio::test(flavor = "multi_thread")]
async fn example_config_finds_the_sample_article_under_kurdistan_referendum() {
    let ws = example_workspace();
    let config = ws.dir.path().join("config/feedwatch.toml");
    let out = run_with_config(&config, &["check"]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains("kurdistan-referendum"), "{}", out.stdout);

    let out = run_with_config(&config, &["run", "--once"]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        ws.dir.path().join("data/feedwatch.db").exists(),
        "store path is relative to the config file"
    );

    let out = run_with_config(
        &config,
        &["search", "--topic", "kurdistan-referendum", "--format", "jsonl"],
    )
    .await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let items = common::jsonl(&out.stdout);
    let mehr = items
        .iter()
        .find(|i| i["guid"] == "sample:mehr-2017-09-23-iran-turkey-referendum")
        .expect("the Mehr News sample article matches kurdistan-referendum");
    assert_eq!(mehr["feed_name"], "Mehr News (en)");
    assert_eq!(mehr["published"], "2017-09-23T08:30:00Z");
    assert_eq!(mehr["lang"], "en");
    assert!(mehr["topics"]
        .as_array()
        .unwrap()
        .iter()
        .any(|t| t == "iran-turkey-military"));
    assert!(mehr["text"]
        .as_str()
        .unwrap()
        .contains("Creative Commons Attribution 4.0"));
    // The Persian sample item matches through the Persian clause, across the ZWNJ.
    assert!(items.iter().any(|i| i["lang"] == "fa"), "{items:?}");
    // Non-matching sample items are stored but not under the topic.
    let out = run_with_config(&config, &["search", "Football", "--format", "jsonl"]).await;
    let football = common::jsonl(&out.stdout);
    assert_eq!(football.len(), 1);
    assert_eq!(football[0]["topics"], serde_json::json!([]));
}

/// Issue 21 (4): `matches` holds only the spans that satisfied the query
/// and the topics: a phrase as a whole (not its words elsewhere), both ends
/// of a NEAR within its window, nothing under NOT; offsets in characters.
#[tokio::test(flavor = "multi_thread")]
async fn search_results_say_which_spans_matched() {
    let server = FeedServer::start().await;
    let text = "The independence vote in the Kurdish region. Independence was the word; \
                Baqeri spoke. Many words later, far away from anything, Baqeri met Akar. \
                کردستان";
    server.set(
        "/m.xml",
        Route::Feed {
            body: rss(&[("m1", "Kuzey Irak: independence vote", text)]),
            content_type: "application/rss+xml",
        },
    );
    let ws = Workspace::new(
        &[(&server.url("/m.xml"), "Spans")],
        &[
            ("vote", "\"independence vote\" NOT football"),
            ("generals", "Baqeri NEAR/3 Akar"),
        ],
        "",
    );
    assert_eq!(ws.run(&["run", "--once"]).await.code, 0);
    let found = ws.search(&["\"Kuzey Irak\" OR کردستان"]).await;
    assert_eq!(found.len(), 1);
    let item = &found[0];
    let marked: Vec<(String, String, String)> = item["matches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            let source = item[m["field"].as_str().unwrap()].as_str().unwrap();
            let (start, end) = (
                m["start"].as_u64().unwrap() as usize,
                m["end"].as_u64().unwrap() as usize,
            );
            let span: String = source.chars().skip(start).take(end - start).collect();
            (
                m["topic"].as_str().unwrap_or("(query)").to_string(),
                m["field"].as_str().unwrap().to_string(),
                span,
            )
        })
        .collect();
    let expect =
        |topic: &str, field: &str, span: &str| (topic.to_string(), field.to_string(), span.to_string());
    assert_eq!(
        marked,
        [
            expect("(query)", "title", "Kuzey Irak"),
            expect("(query)", "text", "کردستان"),
            expect("vote", "title", "independence vote"),
            expect("vote", "text", "independence vote"),
            expect("generals", "text", "Baqeri"),
            expect("generals", "text", "Akar"),
        ],
        "{item}"
    );

    // Issue 21 (14): `show ID` prints the whole article with what matched.
    let id = item["id"].as_i64().unwrap().to_string();
    let out = ws.run(&["show", &id, "--width", "40"]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines[0], "Kuzey Irak: *independence vote*", "{}", out.stdout);
    assert!(out.stdout.contains("Outlets    Spans\n"), "{}", out.stdout);
    assert!(
        out.stdout.contains("Published  2017-09-23 00:00 UTC"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("vote: independence vote (title), independence vote (text)\n"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("Topics     generals: Baqeri (text), Akar (text)\n"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("*Baqeri* met *Akar*."), "{}", out.stdout);
    assert!(
        out.stdout.contains("The *independence vote* in the Kurdish"),
        "{}",
        out.stdout
    );
    let body = out.stdout.split("\n\n").nth(2).unwrap();
    assert!(
        body.lines().all(|l| l
            .chars()
            .filter(|c| !matches!(c, '\u{2068}' | '\u{2069}'))
            .count()
            <= 40),
        "{body}"
    );
    let out = ws.run(&["show", &id, "--format", "jsonl"]).await;
    assert_eq!(
        common::jsonl(&out.stdout)[0]["matches"].as_array().unwrap().len(),
        4,
        "{}",
        out.stdout
    );
    let out = ws.run(&["show", "999999"]).await;
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("no item with id 999999"), "{}", out.stderr);
}

/// Issue 21 (7): a topic renamed or removed in the config is retired: kept
/// with its matches for history, hidden from `topics list` unless `--all`,
/// still searchable with a note; an unknown name lists the configured ones.
#[tokio::test(flavor = "multi_thread")]
async fn topics_that_leave_the_config_are_retired() {
    let server = FeedServer::start().await;
    server.set(
        "/r.xml",
        Route::Feed {
            body: rss(&[("r1", "Kirkuk tension", "Kirkuk after the referendum.")]),
            content_type: "application/rss+xml",
        },
    );
    let feed = server.url("/r.xml");
    let ws = Workspace::new(
        &[(&feed, "Feed")],
        &[("kirkuk", "Kirkuk"), ("vote", "referendum")],
        "",
    );
    assert_eq!(ws.run(&["run", "--once"]).await.code, 0);
    // Rename `kirkuk` to `kirkuk-crisis`.
    let config = std::fs::read_to_string(ws.config_path()).unwrap();
    std::fs::write(
        ws.config_path(),
        config.replace("\"kirkuk\"", "\"kirkuk-crisis\""),
    )
    .unwrap();
    let listed = |out: &common::Output| -> Vec<(String, Option<String>)> {
        common::jsonl(&out.stdout)
            .iter()
            .map(|t| {
                (
                    t["name"].as_str().unwrap().to_string(),
                    t["retired"].as_str().map(|r| r[..r.len().min(7)].to_string()),
                )
            })
            .collect()
    };
    let out = ws.run(&["topics", "list", "--format", "jsonl"]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        listed(&out),
        [("kirkuk-crisis".into(), None), ("vote".into(), None)]
    );
    let out = ws.run(&["topics", "list"]).await;
    assert!(
        out.stdout
            .contains("(1 retired topic no longer in the config; --all lists them)"),
        "{}",
        out.stdout
    );
    let out = ws.run(&["topics", "list", "--all", "--format", "jsonl"]).await;
    assert_eq!(
        listed(&out),
        [
            ("kirkuk-crisis".into(), None),
            ("vote".into(), None),
            ("kirkuk".into(), Some("pending".into()))
        ],
        "known as retired before a run has seen the new config"
    );
    assert_eq!(ws.run(&["run", "--once"]).await.code, 0);
    let out = ws.run(&["topics", "list", "--all", "--format", "jsonl"]).await;
    let year = chrono::Utc::now().format("%Y-").to_string();
    let records = common::jsonl(&out.stdout);
    let old = records.iter().find(|t| t["name"] == "kirkuk").unwrap();
    assert!(old["retired"].as_str().unwrap().starts_with(&year), "{old}");
    assert_eq!(old["total"], 1, "its matches are kept");
    let new = records.iter().find(|t| t["name"] == "kirkuk-crisis").unwrap();
    assert_eq!(new["total"], 1, "the renamed topic is backfilled");
    // Searching the old name still answers, saying it is retired.
    let out = ws
        .run(&["search", "--topic", "kirkuk", "--format", "jsonl"])
        .await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(common::jsonl(&out.stdout).len(), 1);
    assert!(
        out.stderr
            .contains("topic \"kirkuk\" is retired: no longer in the config since"),
        "{}",
        out.stderr
    );
    let out = ws.run(&["search", "--topic", "kirkук"]).await;
    assert_eq!(out.code, 1);
    assert!(
        out.stderr
            .contains("no topic named \"kirkук\" (known: kirkuk-crisis, vote)"),
        "{}",
        out.stderr
    );
    // Back in the config: active again.
    std::fs::write(ws.config_path(), config).unwrap();
    assert_eq!(ws.run(&["run", "--once"]).await.code, 0);
    let out = ws.run(&["topics", "list", "--all", "--format", "jsonl"]).await;
    let names: Vec<(String, Option<String>)> = listed(&out);
    assert!(names.contains(&("kirkuk".into(), None)), "{names:?}");
    assert!(
        names.iter().any(|(n, r)| n == "kirkuk-crisis" && r.is_some()),
        "{names:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn search_filters_and_formats() {
    let server = FeedServer::start().await;
    let body = rss(&[
        ("s1", "Kurdistan referendum, \"quoted\", title", "Text one."),
        ("s2", "Erbil market", "Text two."),
    ]);
    server.set(
        "/s.xml",
        Route::Feed {
            body,
            content_type: "application/rss+xml",
        },
    );
    let ws = Workspace::new(
        &[(&server.url("/s.xml"), "Search feed")],
        &[("k", "Kurdistan AND referendum")],
        "",
    );
    assert_eq!(ws.run(&["run", "--once"]).await.code, 0);

    // Newest first: s2 was published an hour after s1.
    let all = ws.search(&[]).await;
    assert_eq!(
        all.iter()
            .map(|i| i["guid"].as_str().unwrap())
            .collect::<Vec<_>>(),
        ["s2", "s1"]
    );
    for field in ["id", "feed_url", "guid", "url", "title", "published", "topics"] {
        assert!(all[0].get(field).is_some(), "jsonl has {field}");
    }
    assert_eq!(ws.search(&["--limit", "1"]).await.len(), 1);
    assert_eq!(
        ws.search(&["erbil"]).await.len(),
        1,
        "text search is case-insensitive"
    );
    assert_eq!(ws.search(&["--feed", "Search feed"]).await.len(), 2);
    assert_eq!(ws.search(&["--feed", &server.url("/s.xml")]).await.len(), 2);
    assert_eq!(ws.search(&["--since", "2017-09-23T00:30:00Z"]).await.len(), 1);
    assert_eq!(ws.search(&["--until", "2017-09-23T00:30:00Z"]).await.len(), 1);
    assert_eq!(ws.search(&["--since", "7d"]).await.len(), 0);

    let out = ws.run(&["search", "--format", "csv"]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let mut lines = out.stdout.lines();
    assert!(lines
        .next()
        .unwrap()
        .starts_with("id,feed_url,feed_name,guid,url,title,published"));
    assert!(
        out.stdout
            .contains("\"Kurdistan referendum, \"\"quoted\"\", title\""),
        "RFC 4180 quoting: {}",
        out.stdout
    );

    let out = ws.run(&["search"]).await;
    assert!(out.stdout.starts_with("PUBLISHED"), "{}", out.stdout);
    assert!(out.stdout.contains("Erbil market"));

    let out = ws.run(&["search", "--topic", "nope"]).await;
    assert_ne!(out.code, 0);
    assert!(
        out.stderr.contains("no topic named \"nope\" (known: k)"),
        "{}",
        out.stderr
    );
    // Issue 21 (11): filters that would silently match nothing are errors.
    let out = ws.run(&["search", "referendum feed:wires"]).await;
    assert_eq!(out.code, 1);
    assert!(
        out.stderr
            .contains("query: feed:wires is no feed's name or tag (known: Search feed)"),
        "{}",
        out.stderr
    );
    assert_eq!(ws.search(&["referendum feed:\"search FEED\""]).await.len(), 1);
    let out = ws.run(&["search", "site:rudaw.net"]).await;
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains("column 1: unsupported field \"site:\""),
        "{}",
        out.stderr
    );
    let typo = Workspace::new(
        &[(&server.url("/s.xml"), "Search feed")],
        &[("k", "Kurdistan"), ("wires", "referendum feed:wires")],
        "",
    );
    for command in [&["check"][..], &["run", "--once"]] {
        let out = typo.run(command).await;
        assert_eq!(out.code, 1, "{command:?}: {}", out.stdout);
        assert!(
            out.stderr.contains(
                "topic[1].query (topic \"wires\"): feed:wires is no feed's name or tag (known: Search feed)"
            ),
            "{command:?}: {}",
            out.stderr
        );
    }
    let out = ws.run(&["search", "--since", "last tuesday"]).await;
    assert_ne!(out.code, 0);
    assert!(
        out.stderr.contains("--since: \"last tuesday\" is not a time"),
        "{}",
        out.stderr
    );
}

/// Issue 21 (11): `search --feed nonexistent` printed "no items" while
/// `--topic nonexistent` listed the known topics. An unknown feed is an
/// error listing the known ones (configured and stored), names else URLs.
#[tokio::test(flavor = "multi_thread")]
async fn unknown_feed_filters_are_errors_listing_the_known_feeds() {
    let server = FeedServer::start().await;
    server.set(
        "/w.xml",
        Route::Feed {
            body: rss(&[("w1", "Kurdistan referendum", "Erbil.")]),
            content_type: "application/rss+xml",
        },
    );
    server.set("/r.xml", Route::Status(404));
    let ws = Workspace::new(
        &[(&server.url("/w.xml"), "Wires"), (&server.url("/r.xml"), "Rudaw")],
        &[("k", "Kurdistan")],
        "",
    );
    ws.run(&["run", "--once"]).await;
    let known = "(known: Rudaw, Wires)";
    for args in [
        vec!["search", "--feed", "wires"],
        vec!["search", "--feed", "nonexistent", "--count"],
        vec!["search", "--feed", "nonexistent", "--stories"],
        vec!["search", "Kurdistan", "--feed", "https://wires.example/rss"],
    ] {
        let out = ws.run(&args).await;
        let feed = args[args.iter().position(|a| *a == "--feed").unwrap() + 1];
        assert_eq!(
            (out.code, out.stderr.as_str(), out.stdout.as_str()),
            (
                1,
                format!("feedwatch: --feed: no feed named {feed:?} {known}\n").as_str(),
                ""
            ),
            "{args:?}"
        );
    }
    // By name or URL, as before.
    assert_eq!(ws.search(&["--feed", "Wires"]).await.len(), 1);
    assert_eq!(ws.search(&["--feed", &server.url("/w.xml")]).await.len(), 1);
    assert_eq!(
        ws.search(&["--feed", "Rudaw"]).await.len(),
        0,
        "a known feed without items"
    );
}

/// Issue 21 (12): `--since 2017-09-01 --until 2017-08-01` was accepted and
/// printed nothing. Every command taking both refuses an empty range in one
/// line naming both flags, before it opens the database.
#[tokio::test(flavor = "multi_thread")]
async fn inverted_time_ranges_are_refused_naming_both_flags() {
    let ws = Workspace::new(&[], &[("k", "Kurdistan")], "");
    assert_eq!(ws.run(&["run", "--once"]).await.code, 0);
    let out_file = ws.dir.path().join("report.html");
    let out_file = out_file.to_str().unwrap();
    let inverted = "feedwatch: --until must be later than --since \
                    (--since 2017-09-01T00:00:00Z, --until 2017-08-01T00:00:00Z)\n";
    let range = ["--since", "2017-09-01", "--until", "2017-08-01"];
    let equal = ["--since", "2017-09-01", "--until", "2017-09-01T00:00:00Z"];
    for command in [
        vec!["search"],
        vec!["search", "--count"],
        vec!["search", "--stories"],
        vec!["stats"],
        vec!["stats", "--topic", "k", "--by", "hour"],
        vec!["report", "--topic", "k", "--out", out_file],
    ] {
        let out = ws.run(&[command.as_slice(), &range].concat()).await;
        let name = command.join(" ");
        assert_eq!(
            (out.code, out.stderr.as_str(), out.stdout.as_str()),
            (1, inverted, ""),
            "{name}"
        );
        assert!(!Path::new(out_file).exists(), "{name}: no report written");
        let out = ws.run(&[command.as_slice(), &equal].concat()).await;
        assert_eq!(out.code, 1, "{name}: an empty range [t, t): {}", out.stderr);
        assert!(
            out.stderr.contains("--until must be later than --since"),
            "{name}: {}",
            out.stderr
        );
        // A range that holds time is fine.
        let out = ws
            .run(
                &[
                    command.as_slice(),
                    &["--since", "2017-08-01", "--until", "2017-09-01"],
                ]
                .concat(),
            )
            .await;
        assert_eq!(out.code, 0, "{name}: {}", out.stderr);
    }
    // Ages are times before now: 30 days ago is before 7 days ago.
    let out = ws.run(&["search", "--since", "7d", "--until", "30d"]).await;
    assert_eq!(out.code, 1);
    assert!(
        out.stderr
            .contains("--until must be later than --since (--since 20"),
        "{}",
        out.stderr
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn search_before_any_run_says_so() {
    let ws = Workspace::new(&[], &[], "");
    let out = ws.run(&["search"]).await;
    assert_ne!(out.code, 0);
    assert!(
        out.stderr
            .contains("does not exist yet (run `feedwatch run --once` first)"),
        "{}",
        out.stderr
    );
    assert!(!ws.db_path().exists());
}

/// Issue 20: a query of a few thousand nested parentheses overflowed the
/// stack and aborted `search` and `topics test` (SIGABRT, no message).
/// Now it is refused in one line: too deep, or (30,000 levels) too long.
#[tokio::test(flavor = "multi_thread")]
async fn deeply_nested_queries_are_refused_in_one_line() {
    let ws = Workspace::new(&[], &[], "");
    assert_eq!(ws.run(&["run", "--once"]).await.code, 0);
    let nested = |n: usize| format!("{}a{}", "(".repeat(n), ")".repeat(n));
    let (deep, long) = (nested(8000), nested(30_000));
    let too_deep = "feedwatch: query: column 65: the query nests deeper than 64 levels \
                    (parentheses, NOT, field scopes and AND, OR and NEAR groups count)\n";
    let too_long = "feedwatch: query: column 16385: the query is longer than 16384 bytes\n";
    for (args, stderr) in [
        (vec!["search", &deep], too_deep),
        (vec!["topics", "test", &deep], too_deep),
        (vec!["search", &long], too_long),
        (vec!["topics", "test", &long], too_long),
    ] {
        let out = ws.run(&args).await;
        let (query, command) = args.split_last().unwrap();
        let name = format!("{} ({} bytes)", command.join(" "), query.len());
        assert_eq!((out.code, out.stderr.as_str()), (1, stderr), "{name}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn daemon_polls_repeatedly_and_exits_cleanly_on_sigterm() {
    let server = FeedServer::start().await;
    server.set(
        "/d.xml",
        Route::Feed {
            body: rss(&[("d1", "t", "x")]),
            content_type: "application/rss+xml",
        },
    );
    let ws = Workspace::new(
        &[(&server.url("/d.xml"), "D")],
        &[],
        "[poll]\ninterval = \"1s\"\n",
    );
    let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_feedwatch"))
        .arg("--config")
        .arg(ws.config_path())
        .arg("run")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Wait for at least two polls.
    for _ in 0..100 {
        if server.seen("/d.xml").len() >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        server.seen("/d.xml").len() >= 2,
        "the daemon polls every interval"
    );
    let pid = child.id().unwrap().to_string();
    let status = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(status.success());
    let output = tokio::time::timeout(Duration::from_secs(10), child.wait_with_output())
        .await
        .expect("exits within 10 s of SIGTERM")
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("SIGTERM received"), "{stderr}");
    assert_eq!(ws.search(&[]).await.len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn logs_as_json_for_collectors() {
    let server = FeedServer::start().await;
    server.set(
        "/j.xml",
        Route::Feed {
            body: rss(&[("j1", "t", "x")]),
            content_type: "application/rss+xml",
        },
    );
    server.set("/broken.xml", Route::Status(503));
    let ws = Workspace::new(
        &[(&server.url("/j.xml"), "J"), (&server.url("/broken.xml"), "B")],
        &[],
        "",
    );
    let out = ws.run(&["--log-format", "json", "run", "--once"]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let lines: Vec<serde_json::Value> = out
        .stderr
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let failed = lines
        .iter()
        .find(|l| l["fields"]["message"] == "fetch failed")
        .expect("a fetch failure is logged");
    assert_eq!(failed["level"], "WARN");
    assert_eq!(failed["fields"]["error"], "HTTP 503 Service Unavailable");
    assert_eq!(
        failed["fields"]["feed_url"],
        server.url("/broken.xml"),
        "structured feed_url field"
    );
    assert!(lines.iter().any(|l| l["fields"]["message"] == "cycle done"));

    let out = ws.run(&["--log-level", "error", "run", "--once"]).await;
    assert!(
        !out.stderr.contains("cycle done"),
        "--log-level filters: {}",
        out.stderr
    );

    let ws = Workspace::with_config("[log]\nformat = \"xml\"\n");
    let out = ws.run(&["check"]).await;
    assert_ne!(out.code, 0);
    assert!(
        out.stderr
            .contains("log.format: \"xml\" is not auto, text, json or journald"),
        "{}",
        out.stderr
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_second_instance_is_refused_while_read_commands_work() {
    let server = FeedServer::start().await;
    server.set(
        "/l.xml",
        Route::Feed {
            body: rss(&[("l1", "t", "x")]),
            content_type: "application/rss+xml",
        },
    );
    let ws = Workspace::new(
        &[(&server.url("/l.xml"), "L")],
        &[],
        "[poll]\ninterval = \"1h\"\n",
    );
    let mut daemon = tokio::process::Command::new(env!("CARGO_BIN_EXE_feedwatch"))
        .arg("--config")
        .arg(ws.config_path())
        .arg("run")
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    for _ in 0..100 {
        if !server.seen("/l.xml").is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let out = ws.run(&["run", "--once"]).await;
    assert_ne!(out.code, 0);
    let pid = daemon.id().unwrap();
    assert!(
        out.stderr.contains(&format!(
            "another feedwatch is already running on {}",
            ws.db_path().display()
        )) && out.stderr.contains(&format!("held by pid {pid}")),
        "{}",
        out.stderr
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        ws.search(&[]).await.len(),
        1,
        "read commands work while the daemon runs"
    );
    std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    assert_eq!(daemon.wait().await.unwrap().code(), Some(0));
    // Once it is gone, the lock is free again.
    assert_eq!(ws.run(&["run", "--once"]).await.code, 0);
}

/// Runs the real binary with stdout a pipe whose reader reads `lines`
/// lines (none: closes it at once), then closes it, as `| head -n` does.
/// Returns the exit status and stderr.
fn run_into_closed_pipe(config: &Path, args: &[&str], lines: usize) -> (std::process::ExitStatus, String) {
    use std::io::{BufRead, Read};
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_feedwatch"))
        .arg("--config")
        .arg(config)
        .args(args)
        .env_remove("FEEDWATCH_LOG")
        .env_remove("RUST_LOG")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    for _ in 0..lines {
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        assert!(!line.is_empty(), "the command printed fewer than {lines} lines");
    }
    drop(stdout);
    let mut stderr = String::new();
    child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
    (child.wait().unwrap(), stderr)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_closed_output_pipe_is_a_normal_end() {
    let server = FeedServer::start().await;
    // Far more output than a pipe holds (64 KiB), so writes after the
    // reader left fail for certain.
    let long = "word ".repeat(100);
    let items: Vec<(String, String)> = (0..400).map(|i| (format!("p{i}"), format!("Item {i}"))).collect();
    let items: Vec<(&str, &str, &str)> = items
        .iter()
        .map(|(guid, title)| (guid.as_str(), title.as_str(), long.as_str()))
        .collect();
    server.set(
        "/p.xml",
        Route::Feed {
            body: rss(&items),
            content_type: "application/rss+xml",
        },
    );
    let ws = Workspace::new(&[(&server.url("/p.xml"), "P")], &[("k", "word")], "");
    assert_eq!(ws.run(&["run", "--once"]).await.code, 0);

    for (args, lines) in [
        (&["check"][..], 0),
        (&["check"], 1),
        (&["search", "--limit", "1000"], 1),
        (&["search", "--limit", "1000", "--format", "jsonl"], 1),
        (&["search", "--limit", "1000", "--format", "csv"], 1),
        (&["feeds", "list", "--format", "jsonl"], 0),
    ] {
        let (status, stderr) = run_into_closed_pipe(&ws.config_path(), args, lines);
        assert!(
            status.success(),
            "{args:?} | head -{lines}: {status}, stderr: {stderr}"
        );
        assert_eq!(stderr, "", "{args:?} | head -{lines}: nothing on stderr");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn config_size_is_capped() {
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_feedwatch"))
        .args(["--config", "/dev/zero", "check"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let status = tokio::time::timeout(Duration::from_secs(20), child.wait())
        .await
        .expect("--config /dev/zero stops reading")
        .unwrap();
    let out = child.wait_with_output().await.unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(!status.success());
    assert_eq!(
        stderr,
        "feedwatch: config file /dev/zero is larger than the 32.0 MiB limit\n"
    );

    // A real file over the cap, all comments.
    let ws = Workspace::with_config("");
    let comment = format!("# {}\n", "x".repeat(1021));
    std::fs::write(ws.config_path(), comment.repeat(32 * 1024 + 1)).unwrap();
    let out = ws.run(&["check"]).await;
    assert_ne!(out.code, 0);
    assert!(
        out.stderr.contains(&format!(
            "config file {} is larger than the 32.0 MiB limit",
            ws.config_path().display()
        )),
        "{}",
        out.stderr
    );
    // Just under it: read and used.
    let mut config = comment.repeat(32 * 1024 - 1);
    config.push_str("[[topic]]\nname = \"k\"\nquery = \"a\"\n");
    std::fs::write(ws.config_path(), config).unwrap();
    let out = ws.run(&["check"]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
}

#[tokio::test(flavor = "multi_thread")]
async fn check_says_when_there_is_nothing_to_do() {
    for config in ["", "# nothing yet\n", "[poll]\ninterval = \"1h\"\n"] {
        let ws = Workspace::with_config(config);
        let out = ws.run(&["check"]).await;
        assert_ne!(out.code, 0, "{config:?}: {}", out.stdout);
        assert_eq!(out.stderr.lines().count(), 1, "{}", out.stderr);
        assert!(
            out.stderr.starts_with(&format!(
                "feedwatch: {}: nothing to do: no [[feed]] and no [[topic]]",
                ws.config_path().display()
            )),
            "{}",
            out.stderr
        );
    }
    // Topics without feeds: feeds may be added to the database later.
    let ws = Workspace::with_config("[[topic]]\nname = \"k\"\nquery = \"a\"\n");
    assert_eq!(ws.run(&["check"]).await.code, 0);
    // Feeds added to the database, nothing in the config: they are polled.
    let server = FeedServer::start().await;
    server.set(
        "/a.xml",
        Route::Feed {
            body: rss(&[("a1", "t", "x")]),
            content_type: "application/rss+xml",
        },
    );
    let ws =
        Workspace::with_config("[store]\npath = \"data/fw.db\"\n[fetch]\nallow_private_networks = true\n");
    assert_ne!(ws.run(&["check"]).await.code, 0);
    let out = ws.run(&["feeds", "add", &server.url("/a.xml")]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let out = ws.run(&["check"]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
}

#[tokio::test(flavor = "multi_thread")]
async fn report_out_refuses_symlinks_and_replaces_the_file_whole() {
    use std::os::unix::fs::PermissionsExt;
    let server = FeedServer::start().await;
    server.set(
        "/r.xml",
        Route::Feed {
            body: rss(&[("r1", "Kurdistan referendum", "Erbil.")]),
            content_type: "application/rss+xml",
        },
    );
    let ws = Workspace::new(&[(&server.url("/r.xml"), "R")], &[("k", "Kurdistan")], "");
    assert_eq!(ws.run(&["run", "--once"]).await.code, 0);
    let dir = ws.dir.path();
    let report = |out: &Path| {
        let out = out.to_str().unwrap().to_string();
        let ws = &ws;
        async move {
            ws.run(&["report", "--topic", "k", "--since", "2000-01-01", "--out", &out])
                .await
        }
    };

    // A link to a file: refused, the file untouched.
    std::fs::write(dir.join("precious.txt"), "precious").unwrap();
    std::os::unix::fs::symlink(dir.join("precious.txt"), dir.join("link.html")).unwrap();
    let out = report(&dir.join("link.html")).await;
    assert_ne!(out.code, 0);
    assert!(
        out.stderr.contains(&format!(
            "--out: {} is a symbolic link",
            dir.join("link.html").display()
        )),
        "{}",
        out.stderr
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("precious.txt")).unwrap(),
        "precious"
    );
    assert!(std::fs::symlink_metadata(dir.join("link.html"))
        .unwrap()
        .file_type()
        .is_symlink());
    // A dangling link: refused, nothing created where it points.
    std::os::unix::fs::symlink(dir.join("elsewhere.html"), dir.join("dangling.html")).unwrap();
    assert_ne!(report(&dir.join("dangling.html")).await.code, 0);
    assert!(!dir.join("elsewhere.html").exists());

    // A file: replaced whole, its permissions kept, no temporary file left.
    let target = dir.join("report.html");
    std::fs::write(&target, "old").unwrap();
    std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o640)).unwrap();
    let out = report(&target).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let html = std::fs::read_to_string(&target).unwrap();
    assert!(html.contains("Kurdistan referendum"), "{html}");
    assert_eq!(
        std::fs::metadata(&target).unwrap().permissions().mode() & 0o777,
        0o640
    );
    let left: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".tmp"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}
