//! Alert digests with real peers on 127.0.0.1: files, a webhook receiver
//! (outage, uncertain send, recovery), a real SMTP server, hostile input.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::common::{jsonl, rss, FeedServer, Route, Workspace};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use hmac::{Hmac, Mac};

const TOPIC: (&str, &str) = ("k", "Kurdistan AND referendum");

fn feed(items: &[(&str, &str, &str)]) -> Route {
    Route::Feed {
        body: rss(items),
        content_type: "application/rss+xml",
    }
}

fn digest_lines(ws: &Workspace, path: &str) -> Vec<serde_json::Value> {
    jsonl(&std::fs::read_to_string(ws.dir.path().join(path)).unwrap_or_default())
}

#[tokio::test(flavor = "multi_thread")]
async fn file_channels_receive_each_match_once() {
    let server = FeedServer::start().await;
    server.set(
        "/f.xml",
        feed(&[
            ("f1", "Kurdistan referendum held", "Voters in Erbil."),
            ("f2", "Weather", "Sunny."),
        ]),
    );
    let alert = "[[channel]]\nname = \"jl\"\nkind = \"file\"\npath = \"out/digests.jsonl\"\n\
                 [[channel]]\nname = \"mail-dir\"\nkind = \"file\"\ndir = \"out/eml\"\n\
                 [[alert]]\nname = \"daily\"\ntopics = [\"k\"]\nschedule = \"daily 08:00 Asia/Baghdad\"\nchannels = [\"jl\", \"mail-dir\"]\n";
    let ws = Workspace::new(&[(&server.url("/f.xml"), "Wire")], &[TOPIC], alert);
    let out = ws.run(&["run", "--once"]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout.contains("alerts: 0 digests built"),
        "not due before 08:00 comes round: {}",
        out.stdout
    );

    let out = ws.run(&["digest", "send", "--alert", "daily", "--now"]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout.contains("2 digests built; 2 delivered"),
        "{}",
        out.stdout
    );
    let lines = digest_lines(&ws, "out/digests.jsonl");
    assert_eq!(lines.len(), 1);
    let d = &lines[0];
    assert_eq!(d["alert"], "daily");
    assert_eq!(d["timezone"], "Asia/Baghdad");
    assert_eq!(d["counts"]["articles"], 1);
    assert_eq!(d["topics"][0]["topic"], "k");
    assert_eq!(d["topics"][0]["entries"][0]["title"], "Kurdistan referendum held");
    assert_eq!(d["topics"][0]["entries"][0]["url"], "https://test.example/f1");
    assert!(d["period_end"].as_str().unwrap().ends_with("+03:00"));
    let emls: Vec<_> = std::fs::read_dir(ws.dir.path().join("out/eml"))
        .unwrap()
        .collect();
    assert_eq!(emls.len(), 1);
    let eml = std::fs::read_to_string(emls[0].as_ref().unwrap().path()).unwrap();
    assert!(eml.contains("multipart/alternative"), "{eml}");

    // Nothing new: nothing sent (empty digests are off by default).
    let out = ws.run(&["digest", "send", "--alert", "daily", "--now"]).await;
    assert!(out.stdout.contains("0 digests built"), "{}", out.stdout);
    assert_eq!(digest_lines(&ws, "out/digests.jsonl").len(), 1);

    // A new match goes into the next digest, alone.
    server.set(
        "/f.xml",
        feed(&[
            ("f1", "Kurdistan referendum held", "Voters in Erbil."),
            ("f2", "Weather", "Sunny."),
            ("f3", "Referendum in Kurdistan: results", "Counted."),
        ]),
    );
    assert_eq!(ws.run(&["run", "--once"]).await.code, 0);
    assert_eq!(
        ws.run(&["digest", "send", "--alert", "daily", "--now"])
            .await
            .code,
        0
    );
    let lines = digest_lines(&ws, "out/digests.jsonl");
    assert_eq!(lines.len(), 2);
    assert_ne!(lines[0]["id"], lines[1]["id"]);
    let titles: Vec<&str> = lines[1]["topics"][0]["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["title"].as_str().unwrap())
        .collect();
    assert_eq!(titles, ["Referendum in Kurdistan: results"]);
}

/// Headers and body of one request a receiver got.
type Request = (HeaderMap, Vec<u8>);

/// One received e-mail: envelope recipients and the raw message.
type Mail = (Vec<String>, String);

/// A webhook receiver that answers from a script of behaviours.
#[derive(Clone, Default)]
struct Receiver {
    script: Arc<Mutex<VecDeque<Behaviour>>>,
    seen: Arc<Mutex<Vec<Request>>>,
}

#[derive(Clone, Copy)]
enum Behaviour {
    Fail,
    /// Accept the body, then answer after the client gave up.
    Slow,
    Accept,
}

async fn receive(State(r): State<Receiver>, headers: HeaderMap, body: axum::body::Bytes) -> StatusCode {
    r.seen.lock().unwrap().push((headers, body.to_vec()));
    let behaviour = r.script.lock().unwrap().pop_front().unwrap_or(Behaviour::Accept);
    match behaviour {
        Behaviour::Fail => StatusCode::INTERNAL_SERVER_ERROR,
        Behaviour::Slow => {
            tokio::time::sleep(Duration::from_secs(4)).await;
            StatusCode::OK
        }
        Behaviour::Accept => StatusCode::OK,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn webhook_outage_and_uncertain_send_deliver_the_same_digest_once() {
    let receiver = Receiver::default();
    receiver
        .script
        .lock()
        .unwrap()
        .extend([Behaviour::Fail, Behaviour::Slow, Behaviour::Accept]);
    let app = axum::Router::new()
        .route("/hook", axum::routing::post(receive))
        .with_state(receiver.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hook = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let server = FeedServer::start().await;
    server.set("/w.xml", feed(&[("w1", "Kurdistan referendum", "Erbil.")]));
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("hook-secret"), "s3cret\n").unwrap();
    let extra = format!(
        "[fetch]\ntimeout = \"1s\"\n[[channel]]\nname = \"hook\"\nkind = \"webhook\"\nurl = \"{hook}\"\nsecret_file = \"{}\"\n\
         [[alert]]\nname = \"now\"\ntopics = [\"k\"]\nschedule = \"immediate\"\nchannels = [\"hook\"]\n",
        dir.path().join("hook-secret").display()
    );
    let ws = Workspace::new(&[(&server.url("/w.xml"), "Wire")], &[TOPIC], &extra);
    assert_eq!(ws.run(&["run", "--once"]).await.code, 0);

    // 1: the receiver is down.
    let out = ws.run(&["digest", "send", "--alert", "now", "--now"]).await;
    assert_ne!(out.code, 0, "a failed delivery is reported: {}", out.stdout);
    assert!(
        out.stdout
            .contains("1 digest built; 0 delivered, 1 will be retried"),
        "{}",
        out.stdout
    );
    let list = jsonl(&ws.run(&["digests", "list", "--format", "jsonl"]).await.stdout);
    assert_eq!(
        (list[0]["status"].as_str(), list[0]["attempts"].as_i64()),
        (Some("pending"), Some(1))
    );
    assert_eq!(
        list[0]["last_error"],
        "webhook answered HTTP 500 Internal Server Error"
    );
    // 2: the receiver takes the body but answers too late: an uncertain send.
    let out = ws.run(&["digest", "send", "--alert", "now"]).await;
    assert!(
        out.stdout
            .contains("0 digests built; 0 delivered, 1 will be retried"),
        "{}",
        out.stdout
    );
    // 3: recovery.
    let out = ws.run(&["digest", "send", "--alert", "now"]).await;
    assert_eq!(out.code, 0, "{}", out.stdout);
    assert!(
        out.stdout.contains("0 digests built; 1 delivered"),
        "{}",
        out.stdout
    );
    let list = jsonl(&ws.run(&["digests", "list", "--format", "jsonl"]).await.stdout);
    assert_eq!(list.len(), 1);
    assert_eq!(
        (list[0]["status"].as_str(), list[0]["attempts"].as_i64()),
        (Some("delivered"), Some(3))
    );

    let seen = receiver.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 3);
    let id = seen[0].0["x-feedwatch-digest-id"].to_str().unwrap().to_string();
    for (headers, body) in &seen {
        assert_eq!(
            headers["x-feedwatch-digest-id"],
            id.as_str(),
            "every attempt carries the same idempotency key"
        );
        assert_eq!(body, &seen[0].1, "every attempt sends the same digest");
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(b"s3cret").unwrap();
        mac.update(body);
        let expected: String = mac
            .finalize()
            .into_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(
            headers["x-feedwatch-signature"],
            format!("sha256={expected}").as_str()
        );
    }
    let body: serde_json::Value = serde_json::from_slice(&seen[0].1).unwrap();
    assert_eq!(body["id"], id.as_str());
    assert_eq!(body["topics"][0]["entries"][0]["title"], "Kurdistan referendum");

    // Nothing new: no further request.
    ws.run(&["digest", "send", "--alert", "now", "--now"]).await;
    assert_eq!(receiver.seen.lock().unwrap().len(), 3);
}

#[derive(Clone, Default)]
struct Smtp {
    current: Vec<u8>,
    received: Arc<Mutex<Vec<Mail>>>,
    to: Vec<String>,
}

impl mailin_embedded::Handler for Smtp {
    fn data_start(
        &mut self,
        _domain: &str,
        _from: &str,
        _is8bit: bool,
        to: &[String],
    ) -> mailin_embedded::Response {
        self.current.clear();
        self.to = to.to_vec();
        mailin_embedded::response::OK
    }
    fn data(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.current.extend_from_slice(buf);
        Ok(())
    }
    fn data_end(&mut self) -> mailin_embedded::Response {
        let message = String::from_utf8_lossy(&self.current).to_string();
        self.received.lock().unwrap().push((self.to.clone(), message));
        mailin_embedded::response::OK
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn smtp_channel_speaks_real_smtp_and_escapes_hostile_feed_text() {
    let handler = Smtp::default();
    let received = handler.received.clone();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let mut smtp = mailin_embedded::Server::new(handler);
    smtp.with_name("test.invalid")
        .with_ssl(mailin_embedded::SslConfig::None)
        .unwrap()
        .with_tcp_listener(listener);
    std::thread::spawn(move || {
        let _ = smtp.serve();
    });

    let server = FeedServer::start().await;
    // Feed text that looks like markup once decoded: it must reach digests as text.
    let hostile = "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>t</title><link>https://h.example/</link>\
        <description>d</description><item><guid>h1</guid>\
        <title>&amp;lt;script&amp;gt;alert(1)&amp;lt;/script&amp;gt; Kurdistan referendum</title>\
        <link>javascript:alert(document.cookie)</link>\
        <description>&amp;lt;img src=x onerror=alert(1)&amp;gt; The referendum in Kurdistan &amp;lt;a href=\"javascript:x\"&amp;gt;</description>\
        </item></channel></rss>";
    server.set(
        "/h.xml",
        Route::Feed {
            body: hostile.to_string(),
            content_type: "application/rss+xml",
        },
    );
    let extra = format!(
        "[[channel]]\nname = \"mail\"\nkind = \"smtp\"\nhost = \"127.0.0.1\"\nport = {port}\ntls = \"none\"\n\
         from = \"feedwatch <alerts@example.org>\"\nto = [\"desk@example.org\", \"chief@example.org\"]\n\
         [[alert]]\nname = \"mail\"\ntopics = [\"k\"]\nschedule = \"hourly\"\nchannels = [\"mail\"]\n"
    );
    let ws = Workspace::new(&[(&server.url("/h.xml"), "Hostile")], &[TOPIC], &extra);
    assert_eq!(ws.run(&["run", "--once"]).await.code, 0);

    let preview = ws
        .run(&["digest", "preview", "--alert", "mail", "--format", "html"])
        .await;
    assert_eq!(preview.code, 0, "{}", preview.stderr);
    let html = preview.stdout;
    assert!(
        html.contains("&lt;script&gt;alert(1)&lt;/script&gt; Kurdistan referendum"),
        "{html}"
    );
    for forbidden in ["<script", "<img", "<a href=\"javascript", "href=\"javascript"] {
        assert!(
            !html.contains(forbidden),
            "{forbidden} reached the digest: {html}"
        );
    }
    // Every link in the page is an http(s) link; the javascript: one was dropped.
    let hrefs: Vec<&str> = html.split("href=\"").skip(1).collect();
    assert!(
        hrefs
            .iter()
            .all(|h| h.starts_with("http://") || h.starts_with("https://")),
        "{html}"
    );
    assert!(
        html.contains("&lt;a href=&quot;javascript:x"),
        "hostile text is shown as text: {html}"
    );
    assert!(received.lock().unwrap().is_empty(), "preview sends nothing");

    let out = ws.run(&["digest", "send", "--alert", "mail", "--now"]).await;
    assert_eq!(out.code, 0, "{} {}", out.stdout, out.stderr);
    let messages = received.lock().unwrap().clone();
    assert_eq!(messages.len(), 1);
    let (to, raw) = &messages[0];
    assert_eq!(to, &["desk@example.org", "chief@example.org"]);
    let id = jsonl(&ws.run(&["digests", "list", "--format", "jsonl"]).await.stdout)[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(raw.contains(&format!("Message-ID: <{id}@feedwatch>")), "{raw}");
    assert!(
        raw.contains("multipart/alternative") && raw.contains("text/plain") && raw.contains("text/html"),
        "{raw}"
    );
    assert!(raw.contains("Subject: "), "{raw}");
    // The plain-text part shows the title as text; the HTML part escapes it.
    let html_part = raw.split("Content-Type: text/html").nth(1).expect("an HTML part");
    assert!(!html_part.contains("<script"), "{html_part}");
    assert!(html_part.contains("&lt;script&gt;"), "{html_part}");
}

#[tokio::test(flavor = "multi_thread")]
async fn alert_config_errors_name_the_key() {
    let ws = Workspace::with_config(
        "[[topic]]\nname = \"k\"\nquery = \"a\"\n[[channel]]\nname = \"c\"\nkind = \"file\"\npath = \"x.jsonl\"\n\
         [[alert]]\nname = \"a\"\ntopics = [\"k\"]\nschedule = \"daily 08:00\"\nchannels = [\"nope\"]\n",
    );
    let out = ws.run(&["check"]).await;
    assert_ne!(out.code, 0);
    assert!(
        out.stderr
            .contains("alert[0].channels: no channel named \"nope\""),
        "{}",
        out.stderr
    );
    let ws = Workspace::with_config(
        "[[topic]]\nname = \"k\"\nquery = \"a\"\n[[channel]]\nname = \"c\"\nkind = \"file\"\npath = \"x.jsonl\"\n\
         [[alert]]\nname = \"a\"\ntopics = [\"k\"]\nschedule = \"daily 8am\"\nchannels = [\"c\"]\n",
    );
    let out = ws.run(&["check"]).await;
    assert!(
        out.stderr
            .contains("line 11: alert[0].schedule: \"daily 8am\" is not a schedule"),
        "{}",
        out.stderr
    );
    let ws =
        Workspace::with_config("[[channel]]\nname = \"c\"\nkind = \"smtp\"\nhost = \"h\"\nurl = \"x\"\n");
    let out = ws.run(&["check"]).await;
    assert!(
        out.stderr
            .contains("channel[0].url: `url` does not apply to a smtp channel"),
        "{}",
        out.stderr
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn immediate_alerts_wait_out_the_coalescing_window() {
    let server = FeedServer::start().await;
    server.set("/i.xml", feed(&[("i1", "Kurdistan referendum", "Erbil.")]));
    let alert = "[[channel]]\nname = \"jl\"\nkind = \"file\"\npath = \"out/d.jsonl\"\n\
                 [[alert]]\nname = \"fast\"\ntopics = [\"k\"]\nschedule = \"immediate 2s\"\nchannels = [\"jl\"]\n";
    let ws = Workspace::new(&[(&server.url("/i.xml"), "Wire")], &[TOPIC], alert);
    let out = ws.run(&["run", "--once"]).await;
    assert!(
        out.stdout.contains("alerts: 0 digests built"),
        "the first match waits for the window: {}",
        out.stdout
    );
    // A second match arrives within the window; both go out together.
    server.set(
        "/i.xml",
        feed(&[
            ("i1", "Kurdistan referendum", "Erbil."),
            ("i2", "Referendum in Kurdistan", "Duhok."),
        ]),
    );
    ws.run(&["run", "--once"]).await;
    assert!(digest_lines(&ws, "out/d.jsonl").is_empty());
    tokio::time::sleep(Duration::from_millis(2200)).await;
    let out = ws.run(&["run", "--once"]).await;
    assert!(
        out.stdout.contains("alerts: 1 digest built; 1 delivered"),
        "{}",
        out.stdout
    );
    let lines = digest_lines(&ws, "out/d.jsonl");
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["counts"]["articles"], 2, "coalesced into one digest");
}

#[tokio::test(flavor = "multi_thread")]
async fn feed_health_alerts_report_each_failure_episode_once() {
    let server = FeedServer::start().await;
    server.set("/ok.xml", feed(&[("o1", "Kurdistan referendum", "Erbil.")]));
    server.set("/down.xml", Route::Status(500));
    let alert = "[health]\nfailing_after = \"1s\"\n\
                 [[channel]]\nname = \"ops\"\nkind = \"file\"\npath = \"out/health.jsonl\"\n\
                 [[alert]]\nname = \"health\"\ntopics = [\"feed-health\"]\nschedule = \"hourly\"\nchannels = [\"ops\"]\n";
    let ws = Workspace::new(
        &[(&server.url("/ok.xml"), "OK"), (&server.url("/down.xml"), "Down")],
        &[TOPIC],
        alert,
    );
    assert_eq!(ws.run(&["run", "--once"]).await.code, 0);
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_eq!(ws.run(&["run", "--once"]).await.code, 0);

    let out = ws.run(&["digest", "send", "--alert", "health", "--now"]).await;
    assert_eq!(out.code, 0, "{} {}", out.stdout, out.stderr);
    let lines = digest_lines(&ws, "out/health.jsonl");
    assert_eq!(lines.len(), 1);
    let health = lines[0]["health"].as_array().unwrap();
    assert_eq!(health.len(), 1, "only the failing feed: {health:?}");
    assert_eq!(health[0]["kind"], "failing");
    assert_eq!(health[0]["feed_url"], server.url("/down.xml"));
    assert!(
        health[0]["detail"].as_str().unwrap().contains("HTTP 500"),
        "{}",
        health[0]
    );
    assert!(
        lines[0]["topics"].as_array().unwrap().is_empty(),
        "feed-health alone carries no topic matches"
    );

    // The same episode is not reported twice.
    let out = ws.run(&["digest", "send", "--alert", "health", "--now"]).await;
    assert!(out.stdout.contains("0 digests built"), "{}", out.stdout);

    // It recovers, then fails again: a new episode, reported again.
    server.set("/down.xml", feed(&[("d1", "Back", "Up.")]));
    assert_eq!(ws.run(&["run", "--once"]).await.code, 0);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    server.set("/down.xml", Route::Status(503));
    assert_eq!(ws.run(&["run", "--once"]).await.code, 0);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let out = ws.run(&["digest", "send", "--alert", "health", "--now"]).await;
    assert!(
        out.stdout.contains("1 digest built; 1 delivered"),
        "{}",
        out.stdout
    );
    let lines = digest_lines(&ws, "out/health.jsonl");
    assert_eq!(lines.len(), 2);
    assert!(lines[1]["health"][0]["detail"]
        .as_str()
        .unwrap()
        .contains("HTTP 503"));
}

/// Issue 21, item 8: a feed disabled after 410 Gone is reported by
/// feed-health alerts (once), and `feeds enable` leaves no stale error.
#[tokio::test(flavor = "multi_thread")]
async fn feed_health_reports_feeds_disabled_by_410_and_enable_clears_them() {
    let server = FeedServer::start().await;
    server.set("/ok.xml", feed(&[("o1", "Kurdistan referendum", "Erbil.")]));
    server.set("/gone.xml", Route::Status(410));
    let alert = "[[channel]]\nname = \"ops\"\nkind = \"file\"\npath = \"out/health.jsonl\"\n\
                 [[alert]]\nname = \"health\"\ntopics = [\"feed-health\"]\nschedule = \"hourly\"\nchannels = [\"ops\"]\n";
    let ws = Workspace::new(
        &[(&server.url("/ok.xml"), "OK"), (&server.url("/gone.xml"), "Gone")],
        &[TOPIC],
        alert,
    );
    assert_eq!(ws.run(&["run", "--once"]).await.code, 0);
    let out = ws.run(&["digest", "send", "--alert", "health", "--now"]).await;
    assert_eq!(out.code, 0, "{} {}", out.stdout, out.stderr);
    let lines = digest_lines(&ws, "out/health.jsonl");
    assert_eq!(lines.len(), 1, "{lines:?}");
    let health = lines[0]["health"].as_array().unwrap();
    assert_eq!(health.len(), 1, "only the gone feed: {health:?}");
    assert_eq!(health[0]["kind"], "disabled");
    assert_eq!(health[0]["feed_url"], server.url("/gone.xml"));
    assert!(
        health[0]["detail"].as_str().unwrap().contains("410"),
        "{}",
        health[0]
    );
    // Once per episode.
    let out = ws.run(&["digest", "send", "--alert", "health", "--now"]).await;
    assert!(out.stdout.contains("0 digests built"), "{}", out.stdout);

    // Enabled again: no stale error on its row.
    server.set("/gone.xml", feed(&[("g1", "Back", "Up.")]));
    let out = ws.run(&["feeds", "enable", &server.url("/gone.xml")]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let feeds = ws.feeds().await;
    let row = &feeds[&server.url("/gone.xml")];
    assert!(
        row["error_kind"].is_null() && row["last_error"].is_null(),
        "{row}"
    );
    assert_eq!(row["enabled"], true);
}
