//! The HTTP listener of the real daemon: health, metrics, auth, and API
//! results that agree with the CLI.

mod common;

use std::time::Duration;

use common::{rss, FeedServer, Route, Workspace};

async fn json<T: serde::de::DeserializeOwned>(response: reqwest::Response) -> T {
    serde_json::from_str(&response.text().await.unwrap()).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn api_serves_health_metrics_and_items_like_search() {
    let server = FeedServer::start().await;
    server.set(
        "/a.xml",
        Route::Feed {
            body: rss(&[
                ("a1", "Kurdistan referendum", "Erbil votes."),
                ("a2", "Weather", "Sunny."),
            ]),
            content_type: "application/rss+xml",
        },
    );
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("token"), "t0ken\n").unwrap();
    let extra = format!(
        "[http]\nlisten = \"127.0.0.1:{port}\"\ntoken_file = \"{}\"\n",
        dir.path().join("token").display()
    );
    let ws = Workspace::new(&[(&server.url("/a.xml"), "A")], &[("k", "Kurdistan")], &extra);
    let mut daemon = tokio::process::Command::new(env!("CARGO_BIN_EXE_feedwatch"))
        .arg("--config")
        .arg(ws.config_path())
        .arg("run")
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    let get = |path: &str, token: bool| {
        let mut request = http.get(format!("{base}{path}"));
        if token {
            request = request.bearer_auth("t0ken");
        }
        request.send()
    };
    // Wait for the listener and the first poll.
    let mut up = false;
    for _ in 0..100 {
        if let Ok(r) = get("/metrics", true).await {
            if r.text()
                .await
                .unwrap()
                .contains("feedwatch_polls_total{outcome=\"ok\"} 1")
            {
                up = true;
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(up, "the daemon serves /metrics and counts its first poll");

    assert_eq!(get("/healthz", false).await.unwrap().status(), 200);
    assert_eq!(
        get("/metrics", false).await.unwrap().status(),
        401,
        "the token is required"
    );
    assert_eq!(get("/api/items", false).await.unwrap().status(), 401);
    assert_eq!(get("/readyz", true).await.unwrap().status(), 200);

    let metrics = get("/metrics", true).await.unwrap().text().await.unwrap();
    for line in [
        "# TYPE feedwatch_polls counter",
        "feedwatch_items_ingested_total 2",
        "feedwatch_matches_total 1",
        "feedwatch_items 2",
        "feedwatch_topic_matches{topic=\"k\"} 1",
        "feedwatch_feeds{state=\"healthy\"} 1",
        "feedwatch_poll_duration_seconds_count 1",
    ] {
        assert!(
            metrics.lines().any(|l| l == line),
            "missing {line:?} in\n{metrics}"
        );
    }
    assert_eq!(metrics.matches("# EOF").count(), 1);
    assert!(metrics.trim_end().ends_with("# EOF"));
    // Every sample line is `name{labels} value` with a numeric value.
    for line in metrics.lines().filter(|l| !l.starts_with('#')) {
        let value = line.rsplit(' ').next().unwrap();
        assert!(value.parse::<f64>().is_ok(), "not a sample: {line}");
    }

    // /api/items agrees with `search`.
    let api: Vec<serde_json::Value> = json(get("/api/items?topic=k", true).await.unwrap()).await;
    let cli = ws.search(&["--topic", "k"]).await;
    assert_eq!(api, cli);
    let api: Vec<serde_json::Value> = json(get("/api/items?q=weather", true).await.unwrap()).await;
    assert_eq!(api, ws.search(&["weather"]).await);
    let bad = get("/api/items?q=(Kurdistan", true).await.unwrap();
    assert_eq!(bad.status(), 400);
    let error: serde_json::Value = json(bad).await;
    assert!(error["error"].as_str().unwrap().contains("column 11"), "{error}");
    // Issue 20: 1,600 nested parentheses overflowed the stack of the worker
    // parsing them and aborted the daemon. A 400 now, and it goes on serving.
    let deep = format!("{}a{}", "(".repeat(1600), ")".repeat(1600));
    let bad = get(&format!("/api/items?q={deep}"), true).await.unwrap();
    assert_eq!(bad.status(), 400);
    let error: serde_json::Value = json(bad).await;
    assert_eq!(
        error["error"],
        "query: column 65: the query nests deeper than 64 levels \
         (parentheses, NOT, field scopes and AND, OR and NEAR groups count)"
    );
    assert_eq!(get("/healthz", false).await.unwrap().status(), 200);
    let feeds: Vec<serde_json::Value> = json(get("/api/feeds", true).await.unwrap()).await;
    assert_eq!(feeds[0]["url"], server.url("/a.xml"));
    let topics: Vec<serde_json::Value> = json(get("/api/topics", true).await.unwrap()).await;
    assert_eq!(
        (topics[0]["name"].as_str(), topics[0]["total"].as_i64()),
        (Some("k"), Some(1))
    );
    assert_eq!(
        get("/api/stories?since=2000-01-01", true).await.unwrap().status(),
        200
    );
    assert_eq!(get("/api/digests", true).await.unwrap().status(), 200);

    std::process::Command::new("kill")
        .args(["-TERM", &daemon.id().unwrap().to_string()])
        .status()
        .unwrap();
    assert_eq!(daemon.wait().await.unwrap().code(), Some(0));
}

#[tokio::test(flavor = "multi_thread")]
async fn listener_is_loopback_only_unless_allowed() {
    let ws = Workspace::with_config("[http]\nlisten = \"0.0.0.0:9187\"\n");
    let out = ws.run(&["check"]).await;
    assert_ne!(out.code, 0);
    assert!(
        out.stderr
            .contains("http.listen: 0.0.0.0:9187 is not a loopback address; set http.allow_remote = true"),
        "{}",
        out.stderr
    );
    let ws = Workspace::with_config(
        "[http]\nlisten = \"0.0.0.0:9187\"\nallow_remote = true\n[[topic]]\nname = \"k\"\nquery = \"a\"\n",
    );
    assert_eq!(ws.run(&["check"]).await.code, 0);
}
