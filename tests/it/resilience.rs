//! The daemon under bad conditions (issue 20): a database that cannot be
//! written, pathological API searches, a panicking feed. Nothing may stop
//! the polling, and a failing store is reported, counted and backed off.

use std::os::unix::process::CommandExt;
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::common::{free_port, kill, metric, rss, FeedServer, Route, Workspace};
use tokio::io::AsyncReadExt;

/// Runs `command` with resource `resource` limited to `limit` (soft and
/// hard).
fn limit_resource(command: &mut std::process::Command, resource: libc::__rlimit_resource_t, limit: u64) {
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        command.pre_exec(move || {
            let rlimit = libc::rlimit {
                rlim_cur: limit,
                rlim_max: limit,
            };
            if libc::setrlimit(resource, &rlimit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

/// A full disk for `command`: files cannot grow past `limit` bytes, and a
/// write past it fails with `EFBIG` (`SIGXFSZ` ignored) like `ENOSPC`.
fn limit_files(command: &mut std::process::Command, limit: u64) {
    // SAFETY: signal() is async-signal-safe; the ignored disposition
    // survives exec.
    unsafe {
        command.pre_exec(|| {
            libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
            Ok(())
        });
    }
    limit_resource(command, libc::RLIMIT_FSIZE, limit);
}

/// A feed of `n` items with about 1 KB of distinct text each.
fn big_feed(tag: &str, n: usize) -> String {
    let texts: Vec<(String, String, String)> = (0..n)
        .map(|i| {
            let words: String = (0..150).map(|w| format!("w{tag}x{i}x{w} ")).collect();
            (format!("{tag}-{i}"), format!("Headline {tag} {i}"), words)
        })
        .collect();
    let items: Vec<(&str, &str, &str)> = texts
        .iter()
        .map(|(g, t, d)| (g.as_str(), t.as_str(), d.as_str()))
        .collect();
    rss(&items)
}

async fn get(url: &str) -> Option<(u16, String)> {
    let response = reqwest::Client::new()
        .get(url)
        .timeout(Duration::from_secs(5))
        .send()
        .await
        .ok()?;
    let status = response.status().as_u16();
    Some((status, response.text().await.ok()?))
}

/// A full disk, made with a file-size limit (`RLIMIT_FSIZE`, `SIGXFSZ`
/// ignored so writes past it fail with `EFBIG` like `ENOSPC`): the daemon
/// stays up, backs off the whole writer instead of re-fetching every feed,
/// logs the episode once, counts it and reports not-ready.
#[tokio::test(flavor = "multi_thread")]
async fn a_full_disk_backs_off_polling_and_is_reported() {
    const FEEDS: usize = 20;
    let server = FeedServer::start().await;
    let paths: Vec<String> = (0..FEEDS).map(|i| format!("/f{i}.xml")).collect();
    for path in &paths {
        server.set(path, Route::NoValidators { body: rss(&[]) });
    }
    let port = free_port();
    let urls: Vec<String> = paths.iter().map(|p| server.url(p)).collect();
    let feeds: Vec<(&str, &str)> = urls.iter().map(|u| (u.as_str(), "feed")).collect();
    let names: Vec<String> = (0..FEEDS).map(|i| format!("feed{i}")).collect();
    let feeds: Vec<(&str, &str)> = feeds
        .iter()
        .zip(&names)
        .map(|((u, _), n)| (*u, n.as_str()))
        .collect();
    let extra = format!("[http]\nlisten = \"127.0.0.1:{port}\"\n[poll]\nper_host_spacing = \"0s\"\nper_host_concurrency = 20\n");
    let ws = Workspace::new(&feeds, &[("k", "Headline")], &extra);
    // The database, created with room to spare; then the feeds grow.
    let once = ws.run(&["run", "--once"]).await;
    assert_eq!(once.code, 0, "{}", once.stderr);
    for (i, path) in paths.iter().enumerate() {
        server.set(
            path,
            Route::NoValidators {
                body: big_feed(&format!("f{i}"), 200),
            },
        );
    }
    // The size of an empty database of this config; the daemon creates
    // its own anew (feeds due at once), with room for a few feeds' items.
    let db_size = std::fs::metadata(ws.db_path()).unwrap().len();
    let limit = 4 * db_size + 1024 * 1024;
    for suffix in ["", "-wal", "-shm"] {
        let mut path = ws.db_path().into_os_string();
        path.push(suffix);
        let _ = std::fs::remove_file(path);
    }
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_feedwatch"));
    command
        .arg("--config")
        .arg(ws.config_path())
        .arg("run")
        .env_remove("FEEDWATCH_LOG")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    limit_files(&mut command, limit);
    let mut daemon = tokio::process::Command::from(command).spawn().unwrap();
    let base = format!("http://127.0.0.1:{port}");

    // Wait until the store fails and the daemon says so.
    let started = Instant::now();
    let mut not_ready = None;
    while started.elapsed() < Duration::from_secs(60) {
        if let Some((503, body)) = get(&format!("{base}/readyz")).await {
            if body.contains("database") {
                not_ready = Some(body);
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let Some(not_ready) = not_ready else {
        kill(daemon.id().unwrap(), "-KILL");
        let mut log = String::new();
        let _ = daemon.stderr.take().unwrap().read_to_string(&mut log).await;
        panic!(
            "/readyz did not report the failing database within 60 s (file size limit {limit}); log:\n{log}"
        );
    };
    assert!(not_ready.contains("database writes are failing"), "{not_ready}");

    // Let feeds already fetched finish, then count the GETs of 15 s.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let count = || paths.iter().map(|p| server.seen(p).len()).sum::<usize>();
    let before = count();
    let (_, metrics) = get(&format!("{base}/metrics")).await.unwrap();
    let tick_before = metric(&metrics, "feedwatch_scheduler_last_tick_timestamp_seconds").unwrap();
    tokio::time::sleep(Duration::from_secs(15)).await;
    let fetches = count() - before;
    println!("{fetches} GETs in 15 s of a full disk");
    // Unfixed, every unstored feed was due again at once and re-fetched
    // every few seconds (20 feeds: over 100 GETs in 15 s). Backed off, a
    // small probe write (which may fit) at most every 10 s, and one feed
    // through the pipeline after a probe that worked.
    assert!(
        fetches <= 5,
        "{fetches} GETs in 15 s while the database cannot be written"
    );

    let (status, _) = get(&format!("{base}/healthz")).await.unwrap();
    assert_eq!(status, 200, "the daemon is alive");
    let (_, metrics) = get(&format!("{base}/metrics")).await.unwrap();
    let errors = metric(&metrics, "feedwatch_store_errors_total").unwrap_or(0.0);
    assert!(errors >= 1.0, "store errors are counted:\n{metrics}");
    let tick_after = metric(&metrics, "feedwatch_scheduler_last_tick_timestamp_seconds").unwrap();
    assert!(tick_after > tick_before, "the polling loop keeps passing");

    kill(daemon.id().unwrap(), "-TERM");
    let status = tokio::time::timeout(Duration::from_secs(30), daemon.wait())
        .await
        .expect("the daemon stops on SIGTERM")
        .unwrap();
    let mut log = String::new();
    daemon
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut log)
        .await
        .unwrap();
    assert!(status.success(), "exit {status:?}\n{log}");
    // One error line for the episode, not one per feed and retry (the
    // group-commit fallback adds a warning per attempt at most).
    let errors = log.lines().filter(|l| l.contains("ERROR")).count();
    assert!(errors <= 3, "{errors} ERROR lines:\n{log}");
    let lines = log.lines().count();
    assert!(lines <= 40, "{lines} log lines in ~20 s of a full disk:\n{log}");
}

/// `run --once` with a database that cannot be written: the feeds whose
/// results were lost are counted as failed, and the exit is non-zero.
#[tokio::test(flavor = "multi_thread")]
async fn run_once_counts_unstored_feeds_as_failed() {
    let server = FeedServer::start().await;
    server.set("/a.xml", Route::NoValidators { body: rss(&[]) });
    let ws = Workspace::new(&[(&server.url("/a.xml"), "A")], &[], "");
    assert_eq!(ws.run(&["run", "--once"]).await.code, 0);
    server.set(
        "/a.xml",
        Route::NoValidators {
            body: big_feed("a", 400),
        },
    );
    let limit = std::fs::metadata(ws.db_path()).unwrap().len() + 64 * 1024;
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_feedwatch"));
    command
        .arg("--config")
        .arg(ws.config_path())
        .args(["run", "--once"])
        .env_remove("FEEDWATCH_LOG");
    limit_files(&mut command, limit);
    let output = tokio::process::Command::from(command).output().await.unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("1 failed (1 could not be stored in the database"),
        "{stdout}\n{stderr}"
    );
}

/// Idle clients of the API cannot use up the descriptors feed fetches
/// need: at most `http.max_connections` are held (the rest wait in the
/// listen backlog) and a client that sends no headers is dropped after
/// `http.header_timeout`. Run with a 128-descriptor limit, where 200 idle
/// connections used to make every fetch fail with EMFILE.
#[tokio::test(flavor = "multi_thread")]
async fn idle_api_clients_do_not_starve_fetching() {
    let server = FeedServer::start().await;
    // `Connection: close`: every fetch needs a new socket (a descriptor).
    server.set(
        "/a.xml",
        Route::WithHeaders {
            status: 200,
            headers: vec![
                ("content-type", "application/rss+xml".to_string()),
                ("connection", "close".to_string()),
            ],
            body: rss(&[("a1", "Erbil", "Vote.")]).into_bytes(),
        },
    );
    let port = free_port();
    let extra = format!(
        "[http]\nlisten = \"127.0.0.1:{port}\"\nmax_connections = 16\nheader_timeout = \"2s\"\n\
         [poll]\ninterval = \"1s\"\nper_host_spacing = \"0s\"\n"
    );
    let ws = Workspace::new(&[(&server.url("/a.xml"), "A")], &[("k", "Erbil")], &extra);
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_feedwatch"));
    command
        .arg("--config")
        .arg(ws.config_path())
        .arg("run")
        .env_remove("FEEDWATCH_LOG")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    limit_resource(&mut command, libc::RLIMIT_NOFILE, 128);
    let mut daemon = tokio::process::Command::from(command).spawn().unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let started = Instant::now();
    while server.seen("/a.xml").is_empty() || get(&format!("{base}/healthz")).await.is_none() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the daemon polls and listens"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // 200 clients connect and say nothing.
    let mut idle = Vec::new();
    for _ in 0..200 {
        idle.push(tokio::net::TcpStream::connect(("127.0.0.1", port)).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let polled = server.seen("/a.xml").len();
    tokio::time::sleep(Duration::from_secs(4)).await;
    let after = server.seen("/a.xml").len();
    assert!(
        after >= polled + 2,
        "the feed is still fetched ({polled} → {after} GETs in 4 s)"
    );
    let feeds = ws.feeds().await;
    let row = &feeds[&server.url("/a.xml")];
    assert!(row["last_error"].is_null(), "no fetch failed: {row}");

    // The first clients, which sent no headers, were dropped (read: EOF).
    let mut buf = [0u8; 64];
    let read = tokio::time::timeout(Duration::from_secs(5), idle[0].read(&mut buf))
        .await
        .expect("an idle client is dropped after the header timeout");
    assert!(matches!(read, Ok(0) | Err(_)), "{read:?}");
    // Slots free up: a real request is served while idle clients keep coming.
    let started = Instant::now();
    let mut served = false;
    while started.elapsed() < Duration::from_secs(20) {
        if let Some((200, _)) = get(&format!("{base}/healthz")).await {
            served = true;
            break;
        }
    }
    assert!(served, "/healthz is served once idle clients time out");
    drop(idle);

    kill(daemon.id().unwrap(), "-TERM");
    let status = tokio::time::timeout(Duration::from_secs(30), daemon.wait())
        .await
        .expect("the daemon stops on SIGTERM")
        .unwrap();
    let mut log = String::new();
    daemon
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut log)
        .await
        .unwrap();
    assert!(status.success(), "exit {status:?}\n{log}");
    assert!(!log.contains("Too many open files"), "{log}");
}

/// The acceptance probe: five clients hammer the API with
/// pathological searches (prefix wildcards over the whole archive) while
/// the daemon polls. Searches end by their budget (200 or a clear 503,
/// never a 500); the scheduler keeps passing and the feed keeps being
/// fetched.
#[tokio::test(flavor = "multi_thread")]
async fn pathological_searches_do_not_stop_polling() {
    let server = FeedServer::start().await;
    // The archive (an ETag: later polls are cheap 304s) and a small feed
    // whose polls show the scheduler at work.
    server.set(
        "/a.xml",
        Route::Feed {
            body: big_feed("a", 1500),
            content_type: "application/rss+xml",
        },
    );
    server.set(
        "/b.xml",
        Route::NoValidators {
            body: rss(&[("b1", "Erbil", "Vote.")]),
        },
    );
    let port = free_port();
    let extra = format!(
        "[http]\nlisten = \"127.0.0.1:{port}\"\n[search]\ntimeout = \"1s\"\n\
         [poll]\ninterval = \"1s\"\nper_host_spacing = \"0s\"\n"
    );
    let ws = Workspace::new(
        &[(&server.url("/a.xml"), "A"), (&server.url("/b.xml"), "B")],
        &[("k", "Headline")],
        &extra,
    );
    let mut daemon = tokio::process::Command::new(env!("CARGO_BIN_EXE_feedwatch"))
        .arg("--config")
        .arg(ws.config_path())
        .arg("run")
        .env_remove("FEEDWATCH_LOG")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let started = Instant::now();
    loop {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the archive is stored"
        );
        if let Some((200, body)) = get(&format!("{base}/api/items?q=Headline&limit=1")).await {
            if body.contains("Headline") {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let query: Vec<String> = (1..=9).map(|d| format!("wax{d}*")).collect();
    let query = query.join(" OR ") + " OR Headline";
    let url = format!(
        "{base}/api/items?limit=1000&q={}",
        url::form_urlencoded::byte_serialize(query.as_bytes()).collect::<String>()
    );
    let (_, metrics) = get(&format!("{base}/metrics")).await.unwrap();
    let tick_before = metric(&metrics, "feedwatch_scheduler_last_tick_timestamp_seconds").unwrap();
    let polled = server.seen("/b.xml").len();
    let hammer_until = Instant::now() + Duration::from_secs(10);
    let mut clients = tokio::task::JoinSet::new();
    for _ in 0..5 {
        let url = url.clone();
        clients.spawn(async move {
            let mut statuses = Vec::new();
            while Instant::now() < hammer_until {
                let response = reqwest::Client::new()
                    .get(&url)
                    .timeout(Duration::from_secs(30))
                    .send()
                    .await
                    .expect("the API answers");
                let status = response.status().as_u16();
                let body = response.text().await.unwrap_or_default();
                statuses.push((status, body.chars().take(200).collect::<String>()));
            }
            statuses
        });
    }
    let mut statuses = Vec::new();
    while let Some(result) = clients.join_next().await {
        statuses.extend(result.unwrap());
    }
    let (_, metrics) = get(&format!("{base}/metrics")).await.unwrap();
    let tick_after = metric(&metrics, "feedwatch_scheduler_last_tick_timestamp_seconds").unwrap();
    let fetched = server.seen("/b.xml").len() - polled;
    let ok = statuses.iter().filter(|(s, _)| *s == 200).count();
    let busy = statuses.iter().filter(|(s, _)| *s == 503).count();
    println!(
        "{} searches in 10 s: {ok} answered, {busy} refused (503); the scheduler passed {} s later; {fetched} GETs of the feed",
        statuses.len(),
        tick_after - tick_before
    );
    for (status, body) in &statuses {
        assert!(*status == 200 || *status == 503, "{status}: {body}");
        if *status == 503 {
            assert!(
                body.contains("time limit") || body.contains("searches are running"),
                "{body}"
            );
        }
    }
    assert!(tick_after - tick_before >= 5.0, "the scheduler kept passing");
    // Every second when idle; under a loaded test machine, fewer.
    assert!(fetched >= 3, "the feed kept being fetched ({fetched} GETs)");
    assert_eq!(get(&format!("{base}/healthz")).await.unwrap().0, 200);

    kill(daemon.id().unwrap(), "-TERM");
    let status = tokio::time::timeout(Duration::from_secs(30), daemon.wait())
        .await
        .expect("the daemon stops on SIGTERM")
        .unwrap();
    assert!(status.success());
}

/// A feed whose document makes the parser panic (a bug; injected here in
/// debug builds with `FEEDWATCH_TEST_PANIC_ON`) is that feed's error, on
/// its row: the daemon stays up and the other feeds are stored.
#[tokio::test(flavor = "multi_thread")]
async fn a_panicking_feed_is_that_feeds_error() {
    let server = FeedServer::start().await;
    server.set(
        "/good.xml",
        Route::NoValidators {
            body: rss(&[("g1", "Erbil", "Vote.")]),
        },
    );
    server.set(
        "/boom.xml",
        Route::NoValidators {
            body: rss(&[("b1", "Erbil", "Boom.")]),
        },
    );
    let port = free_port();
    let extra = format!(
        "[http]\nlisten = \"127.0.0.1:{port}\"\n[poll]\ninterval = \"1s\"\nper_host_spacing = \"0s\"\n"
    );
    let ws = Workspace::new(
        &[
            (&server.url("/good.xml"), "Good"),
            (&server.url("/boom.xml"), "Boom"),
        ],
        &[("k", "Erbil")],
        &extra,
    );
    let once = tokio::process::Command::new(env!("CARGO_BIN_EXE_feedwatch"))
        .arg("--config")
        .arg(ws.config_path())
        .args(["run", "--once"])
        .env("FEEDWATCH_TEST_PANIC_ON", "/boom.xml")
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&once.stdout);
    assert_eq!(
        once.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&once.stderr)
    );
    assert!(stdout.contains("1 failed"), "{stdout}");

    let mut daemon = tokio::process::Command::new(env!("CARGO_BIN_EXE_feedwatch"))
        .arg("--config")
        .arg(ws.config_path())
        .arg("run")
        .env("FEEDWATCH_TEST_PANIC_ON", "/boom.xml")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Several polls of the panicking feed later, the daemon is still up.
    let started = Instant::now();
    while server.seen("/boom.xml").len() < 4 {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the feed is polled again"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(
        daemon.try_wait().unwrap().is_none(),
        "the daemon is still running"
    );
    assert_eq!(
        get(&format!("http://127.0.0.1:{port}/healthz")).await.unwrap().0,
        200
    );
    let feeds = ws.feeds().await;
    let boom = &feeds[&server.url("/boom.xml")];
    assert_eq!(boom["error_kind"], "internal", "{boom}");
    assert!(boom["last_error"].as_str().unwrap().contains("panic"), "{boom}");
    assert!(feeds[&server.url("/good.xml")]["last_error"].is_null());
    assert_eq!(
        ws.search(&["--topic", "k"]).await.len(),
        1,
        "the good feed's item is stored"
    );
    kill(daemon.id().unwrap(), "-TERM");
    assert!(daemon.wait().await.unwrap().success());
}

/// If the polling loop ends other than by shutdown (a bug; injected here
/// in debug builds), the process ends non-zero so that systemd restarts
/// it, instead of staying up with nothing polled.
#[tokio::test(flavor = "multi_thread")]
async fn a_dead_polling_loop_ends_the_process() {
    let server = FeedServer::start().await;
    server.set("/a.xml", Route::NoValidators { body: rss(&[]) });
    let port = free_port();
    let ws = Workspace::new(
        &[(&server.url("/a.xml"), "A")],
        &[("k", "Erbil")],
        &format!("[http]\nlisten = \"127.0.0.1:{port}\"\n"),
    );
    let daemon = tokio::process::Command::new(env!("CARGO_BIN_EXE_feedwatch"))
        .arg("--config")
        .arg(ws.config_path())
        .arg("run")
        .env("FEEDWATCH_TEST_PANIC_LOOP", "1")
        .env_remove("FEEDWATCH_LOG")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let output = tokio::time::timeout(Duration::from_secs(30), daemon.wait_with_output())
        .await
        .expect("the daemon exits when its polling loop dies")
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    assert!(stderr.contains("the polling loop panicked"), "{stderr}");
}
