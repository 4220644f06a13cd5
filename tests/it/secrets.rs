//! Credentials stay out of logs, errors and output (issue 20 item 5): a
//! webhook URL (for Slack-style hooks, the URL is the credential), an SMTP
//! password, and the password of a feed URL with `user:password@`. Real
//! peers on 127.0.0.1 fail; every place the CLI, the daemon and the API
//! show is searched for the secret.

use crate::common;

use std::time::Duration;

use crate::common::{jsonl, rss, FeedServer, Route, Workspace};
use axum::http::StatusCode;

const TOPIC: (&str, &str) = ("k", "Kurdistan AND referendum");

/// The secret parts: webhook paths, the SMTP password, the feed password.
const SECRETS: [&str; 4] = ["SECRETXYZ", "SECRETABC", "SMTPPASS77", "s3cret"];

fn assert_no_secret(place: &str, text: &str) {
    for secret in SECRETS.iter().chain(&["/hooks/"]) {
        assert!(!text.contains(secret), "{secret} in {place}:\n{text}");
    }
}

/// A port nothing listens on (connection refused).
fn closed_port() -> u16 {
    common::free_port()
}

#[tokio::test(flavor = "multi_thread")]
async fn webhook_urls_and_smtp_passwords_appear_in_no_log_error_list_or_api() {
    // A hook that answers 500, one nobody listens on, an SMTP server that is down.
    let app = axum::Router::new().route(
        "/hooks/T000/B000/SECRETXYZ",
        axum::routing::post(|| async { StatusCode::INTERNAL_SERVER_ERROR }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hook_addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let failing = format!("http://{hook_addr}/hooks/T000/B000/SECRETXYZ");
    let refused = format!("http://127.0.0.1:{}/hooks/T111/B111/SECRETABC", closed_port());

    let server = FeedServer::start().await;
    server.set(
        "/f.xml",
        Route::Feed {
            body: rss(&[("f1", "Kurdistan referendum held", "Voters in Erbil.")]),
            content_type: "application/rss+xml",
        },
    );
    // The feed itself has a password: items and feeds listed carry its URL.
    let feed_url = server.url("/f.xml").replace("http://", "http://user:s3cret@");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("smtp-password"), "SMTPPASS77\n").unwrap();
    let http_port = closed_port();
    let extra = format!(
        "[http]\nlisten = \"127.0.0.1:{http_port}\"\n\
         [[channel]]\nname = \"failing\"\nkind = \"webhook\"\nurl = \"{failing}\"\nformat = \"slack\"\n\
         [[channel]]\nname = \"refused\"\nkind = \"webhook\"\nurl = \"{refused}\"\n\
         [[channel]]\nname = \"mail\"\nkind = \"smtp\"\nhost = \"127.0.0.1\"\nport = {}\ntls = \"none\"\n\
         username = \"desk\"\npassword_file = \"{}\"\nfrom = \"fw@example.org\"\nto = [\"desk@example.org\"]\n\
         [[alert]]\nname = \"now\"\ntopics = [\"k\"]\nschedule = \"immediate 1s\"\nchannels = [\"failing\", \"refused\", \"mail\"]\n",
        closed_port(),
        dir.path().join("smtp-password").display()
    );
    let ws = Workspace::new(&[(&feed_url, "Wire")], &[TOPIC], &extra);

    let mut seen: Vec<(String, String)> = Vec::new();
    let check = ws.run(&["check"]).await;
    assert_eq!(check.code, 0, "{}", check.stderr);
    assert!(
        check
            .stdout
            .contains(&format!("failing: webhook http://{hook_addr}/…")),
        "a webhook is shown by its host: {}",
        check.stdout
    );
    seen.push(("check".into(), check.stdout + &check.stderr));

    // The daemon's code path: the match, then (after the window) the digests
    // built and their delivery failing, logged at info.
    let first = ws.run(&["run", "--once"]).await;
    assert_eq!(first.code, 0, "{}", first.stderr);
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let second = ws.run(&["run", "--once"]).await;
    assert!(
        second
            .stdout
            .contains("alerts: 3 digests built; 0 delivered, 3 will be retried"),
        "{}\n{}",
        second.stdout,
        second.stderr
    );
    assert!(
        second.stderr.contains("digest delivery failed; will retry"),
        "failures are logged: {}",
        second.stderr
    );
    seen.push((
        "run --once".into(),
        first.stderr + &second.stdout + &second.stderr,
    ));
    // `digest send` retries them all now.
    let send = ws.run(&["digest", "send", "--alert", "now"]).await;
    assert_ne!(send.code, 0);
    assert!(
        send.stderr.matches("digest delivery failed").count() == 3,
        "{}",
        send.stderr
    );
    seen.push(("digest send".into(), send.stdout + &send.stderr));

    let list = ws.run(&["digests", "list", "--format", "jsonl"]).await;
    let records = jsonl(&list.stdout);
    assert_eq!(records.len(), 3);
    let error_of = |channel: &str| {
        records
            .iter()
            .find(|r| r["channel"] == channel)
            .and_then(|r| r["last_error"].as_str())
            .unwrap_or_default()
            .to_string()
    };
    assert_eq!(
        error_of("failing"),
        "webhook answered HTTP 500 Internal Server Error"
    );
    assert!(
        error_of("refused").starts_with("webhook request failed: "),
        "{}",
        error_of("refused")
    );
    assert!(
        error_of("mail").starts_with("SMTP delivery failed"),
        "{}",
        error_of("mail")
    );
    seen.push(("digests list --format jsonl".into(), list.stdout));
    for args in [
        &["digests", "list"][..],
        &["digest", "preview", "--format", "json"],
        &["digest", "preview"],
        &["feeds", "list", "--format", "jsonl"],
        &["feeds", "status"],
        &["search", "--format", "jsonl"],
        &["search", "--format", "csv"],
    ] {
        let out = ws.run(args).await;
        assert_eq!(out.code, 0, "{args:?}: {}", out.stderr);
        seen.push((args.join(" "), out.stdout + &out.stderr));
    }

    // The API serves the same lists, from the daemon.
    let daemon = tokio::process::Command::new(env!("CARGO_BIN_EXE_feedwatch"))
        .arg("--config")
        .arg(ws.config_path())
        .arg("run")
        .env_remove("FEEDWATCH_LOG")
        .env_remove("RUST_LOG")
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{http_port}");
    let mut digests = None;
    for _ in 0..100 {
        if let Ok(r) = reqwest::get(format!("{base}/api/digests")).await {
            digests = Some(r.text().await.unwrap());
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let digests = digests.expect("the daemon serves /api/digests");
    let served: Vec<serde_json::Value> = serde_json::from_str(&digests).unwrap();
    assert_eq!(served.len(), 3, "{digests}");
    seen.push(("/api/digests".into(), digests));
    for path in ["/api/feeds", "/api/items"] {
        let body = reqwest::get(format!("{base}{path}"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(body.contains("user:***@"), "{path}: {body}");
        seen.push((path.into(), body));
    }
    std::process::Command::new("kill")
        .args(["-TERM", &daemon.id().unwrap().to_string()])
        .status()
        .unwrap();
    let stopped = daemon.wait_with_output().await.unwrap();
    let stderr = String::from_utf8(stopped.stderr).unwrap();
    assert_eq!(stopped.status.code(), Some(0), "{stderr}");
    seen.push(("the daemon's log".into(), stderr));

    for (place, text) in &seen {
        assert_no_secret(place, text);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn feed_url_passwords_appear_in_no_log_or_listing() {
    let server = FeedServer::start().await;
    server.set("/down.xml", Route::Status(500));
    // A permanent move: the new URL keeps the user part, and is logged and stored.
    server.set(
        "/old.xml",
        Route::Redirect {
            status: 301,
            to: "/moved.xml".into(),
        },
    );
    server.set(
        "/moved.xml",
        Route::Feed {
            body: rss(&[("m1", "Moved", "Here now.")]),
            content_type: "application/rss+xml",
        },
    );
    server.set("/added.xml", Route::Status(503));
    let with_password = |path: &str| server.url(path).replace("http://", "http://user:s3cret@");
    let refused = format!("http://bob:s3cret@127.0.0.1:{}/feed.xml", closed_port());
    let ws = Workspace::new(
        &[
            (&with_password("/down.xml"), "Down"),
            (&with_password("/old.xml"), "Old"),
            (&refused, "Refused"),
        ],
        &[("m", "moved")],
        "",
    );

    let mut seen: Vec<(String, String)> = Vec::new();
    let out = ws.run(&["run", "--once"]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stderr.contains("fetch failed"), "{}", out.stderr);
    assert!(out.stderr.contains("feed moved permanently"), "{}", out.stderr);
    assert!(
        out.stderr.contains(&format!(
            "feed_url={}",
            server.url("/down.xml").replace("http://", "http://user:***@")
        )),
        "the log names the feed, password masked: {}",
        out.stderr
    );
    seen.push(("run --once".into(), out.stdout + &out.stderr));

    let add = ws
        .run(&["feeds", "add", "--force", &with_password("/added.xml")])
        .await;
    assert_eq!(add.code, 0, "{}", add.stderr);
    assert!(add.stderr.contains("cannot fetch"), "{}", add.stderr);
    seen.push(("feeds add".into(), add.stdout + &add.stderr));
    let again = ws
        .run(&["feeds", "add", "--force", &with_password("/added.xml")])
        .await;
    assert_ne!(again.code, 0);
    assert!(again.stderr.contains("already present"), "{}", again.stderr);
    seen.push(("feeds add (again)".into(), again.stdout + &again.stderr));

    let feeds = ws.feeds().await;
    let down = &feeds[&server.url("/down.xml").replace("http://", "http://user:***@")];
    assert!(
        down["last_error"].as_str().unwrap().contains("HTTP 500"),
        "{down}"
    );
    let old = &feeds[&server.url("/old.xml").replace("http://", "http://user:***@")];
    assert_eq!(
        old["fetch_url"],
        server.url("/moved.xml").replace("http://", "http://user:***@")
    );
    for args in [
        &["feeds", "list"][..],
        &["feeds", "list", "--format", "jsonl"],
        &["feeds", "list", "--format", "csv"],
        &["feeds", "status"],
        &["feeds", "status", "--format", "jsonl"],
        &["search"],
        &["search", "--format", "jsonl"],
        &["search", "--format", "csv"],
        &["check"],
    ] {
        let out = ws.run(args).await;
        assert_eq!(out.code, 0, "{args:?}: {}", out.stderr);
        seen.push((args.join(" "), out.stdout + &out.stderr));
    }
    let remove = ws.run(&["feeds", "remove", &with_password("/added.xml")]).await;
    assert_eq!(remove.code, 0, "{}", remove.stderr);
    seen.push(("feeds remove".into(), remove.stdout + &remove.stderr));

    for (place, text) in &seen {
        assert_no_secret(place, text);
    }
    // The config, the database and OPML exports keep the real URL: it is
    // needed to fetch, and an export is a backup.
    let opml = ws.run(&["opml", "export"]).await;
    assert!(opml.stdout.contains("user:s3cret@"), "{}", opml.stdout);
}
