//! Several feedwatch instances on one PostgreSQL database: the due feeds
//! are split between them (leases), an instance killed mid-cycle loses its
//! feeds to the others when its leases end, every item is stored once and
//! every match reaches the channel in one digest.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use sqlx::Connection;

use crate::common::{jsonl, kill, pg, rss, FeedServer, Route};

/// More than two instances claim at once (4 × poll.concurrency each), so
/// the third has feeds to take whenever it starts.
const FEEDS: usize = 48;

/// The config of one instance: the shared store, feeds, topic and alert,
/// and its own `[http]` listener and name.
fn config(url: &str, server: &FeedServer, out: &std::path::Path, name: &str, port: u16) -> String {
    let mut config = format!(
        "[store]\nurl = {url:?}\n\
         [fetch]\nallow_private_networks = true\ntimeout = \"2s\"\n\
         [poll]\ninterval = \"1h\"\nconcurrency = 3\nper_host_concurrency = 4\nper_host_spacing = \"150ms\"\nlease = \"3s\"\n\
         [http]\nlisten = \"127.0.0.1:{port}\"\ninstance = {name:?}\n\
         [[topic]]\nname = \"k\"\nquery = \"Kurdistan\"\n\
         [[channel]]\nname = \"jl\"\nkind = \"file\"\npath = {:?}\n\
         [[alert]]\nname = \"now\"\ntopics = [\"k\"]\nschedule = \"immediate\"\nchannels = [\"jl\"]\nmax_per_topic = 0\n",
        out.join("digests.jsonl").display().to_string()
    );
    for i in 0..FEEDS {
        config.push_str(&format!(
            "[[feed]]\nurl = {:?}\nname = \"Outlet {i}\"\n",
            server.url(&format!("/f{i}.xml"))
        ));
    }
    config
}

/// Starts `feedwatch run` with `config`; its log goes beside the config.
fn start(config: &std::path::Path) -> tokio::process::Child {
    let log = std::fs::File::create(config.with_extension("log")).unwrap();
    tokio::process::Command::new(env!("CARGO_BIN_EXE_feedwatch"))
        .arg("--config")
        .arg(config)
        .arg("run")
        .env("FEEDWATCH_LOG", "feedwatch=info")
        .stdout(std::process::Stdio::null())
        .stderr(log)
        .kill_on_drop(true)
        .spawn()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn instances_share_the_feeds_survive_a_killed_one_and_store_and_send_everything_once() {
    let server = FeedServer::start().await;
    // Each outlet: two articles of its own and the same wire story (one
    // URL, so one item with many sources).
    for i in 0..FEEDS {
        server.set(
            &format!("/f{i}.xml"),
            Route::Feed {
                body: rss(&[
                    (&format!("own-{i}-a"), &format!("Kurdistan report {i}"), "Erbil."),
                    (&format!("own-{i}-b"), &format!("Weather {i}"), "Sunny."),
                    ("wire", "Kurdistan referendum: the wire story", "Voters in Erbil."),
                ]),
                content_type: "application/rss+xml",
            },
        );
    }
    let url = pg::database().await;
    let dir = tempfile::tempdir().unwrap();
    let mut configs = Vec::new();
    let mut ports = Vec::new();
    for name in ["a", "b", "c"] {
        let port = crate::common::free_port();
        let path = dir.path().join(format!("{name}.toml"));
        std::fs::write(&path, config(&url, &server, dir.path(), name, port)).unwrap();
        configs.push(path);
        ports.push(port);
    }
    // The alert exists before the first poll (matches from before an alert
    // existed are never sent), a second before (times are whole seconds).
    let out =
        crate::common::run_with_config(&configs[0], &["digest", "send", "--alert", "now", "--now"]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let mut daemons: Vec<_> = configs.iter().map(|c| start(c)).collect();
    let mut db = sqlx::PgConnection::connect(&url).await.unwrap();

    // Kill c (SIGKILL: no cleanup) as soon as it holds leases.
    let c_pid = daemons[2].id().unwrap();
    // Lease owners are `host:pid:n`.
    let owner = format!("%:{c_pid}:%");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let held: i64 = sqlx::query_scalar("SELECT count(*) FROM feeds WHERE lease_owner LIKE $1")
            .bind(&owner)
            .fetch_one(&mut db)
            .await
            .unwrap_or(0);
        if held > 0 {
            break;
        }
        assert!(Instant::now() < deadline, "instance c never claimed a feed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    kill(c_pid, "-KILL");
    let _ = daemons[2].wait().await;
    let orphaned: Vec<i64> = sqlx::query_scalar("SELECT id FROM feeds WHERE lease_owner LIKE $1")
        .bind(&owner)
        .fetch_all(&mut db)
        .await
        .unwrap();
    assert!(!orphaned.is_empty(), "c died holding leases");

    // The others take c's feeds once its leases end; every feed is polled.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let unpolled: i64 = sqlx::query_scalar("SELECT count(*) FROM feeds WHERE poll_count = 0")
            .fetch_one(&mut db)
            .await
            .unwrap();
        if unpolled == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{unpolled} feeds never polled after c died"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Each feed polled once for its due time: once in the database; one
    // request to the server, or two for a feed c was fetching when killed.
    let polls: Vec<(i64, i64)> = sqlx::query_as("SELECT id, poll_count FROM feeds ORDER BY id")
        .fetch_all(&mut db)
        .await
        .unwrap();
    assert_eq!(polls.len(), FEEDS);
    assert!(polls.iter().all(|(_, n)| *n == 1), "poll counts: {polls:?}");
    let ids: HashMap<String, i64> = sqlx::query_as("SELECT url, id FROM feeds")
        .fetch_all(&mut db)
        .await
        .unwrap()
        .into_iter()
        .collect();
    let mut requests = 0;
    for i in 0..FEEDS {
        let path = format!("/f{i}.xml");
        let seen = server.seen(&path).len();
        let id = ids[&server.url(&path)];
        let allowed = if orphaned.contains(&id) { 1..=2 } else { 1..=1 };
        assert!(allowed.contains(&seen), "{path} requested {seen} times");
        requests += seen;
    }
    assert!(requests <= FEEDS + orphaned.len());

    // Every item once: 2 own items per outlet and one wire item.
    let items: i64 = sqlx::query_scalar("SELECT count(*) FROM items")
        .fetch_one(&mut db)
        .await
        .unwrap();
    assert_eq!(items, (2 * FEEDS + 1) as i64);
    let wire_sources: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM item_sources s JOIN items i ON i.id = s.item_id WHERE i.guid = 'wire'",
    )
    .fetch_one(&mut db)
    .await
    .unwrap();
    assert_eq!(
        wire_sources, FEEDS as i64,
        "the wire story has every outlet as a source"
    );

    // Every match in exactly one delivered digest: 1 + FEEDS matching items.
    // The daemons send "immediate" digests a minute after the first match;
    // a `digest send` now races them for the same matches.
    let out =
        crate::common::run_with_config(&configs[1], &["digest", "send", "--alert", "now", "--now"]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let matched = FEEDS + 1;
    let deadline = Instant::now() + Duration::from_secs(60);
    let entries = loop {
        let lines = jsonl(&std::fs::read_to_string(dir.path().join("digests.jsonl")).unwrap_or_default());
        let entries: Vec<String> = lines
            .iter()
            .flat_map(|d| d["topics"].as_array().cloned().unwrap_or_default())
            .flat_map(|t| t["entries"].as_array().cloned().unwrap_or_default())
            .map(|e| e["url"].as_str().unwrap_or_default().to_string())
            .collect();
        if entries.len() >= matched || Instant::now() > deadline {
            break entries;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let distinct: HashSet<&String> = entries.iter().collect();
    assert_eq!(distinct.len(), matched, "every match delivered: {entries:?}");
    assert_eq!(entries.len(), matched, "no match in two digests: {entries:?}");

    // Each instance's metrics carry its name.
    let metrics = reqwest::get(format!("http://127.0.0.1:{}/metrics", ports[0]))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("feedwatch_items{instance_name=\"a\"}"),
        "{metrics}"
    );

    // The survivors stop cleanly.
    for daemon in &mut daemons[..2] {
        kill(daemon.id().unwrap(), "-TERM");
        let status = tokio::time::timeout(Duration::from_secs(30), daemon.wait())
            .await
            .expect("stops within 30 s")
            .unwrap();
        assert!(status.success(), "{status}");
    }
}
