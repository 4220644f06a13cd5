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

/// A feed item with its publication time: `(guid, title, text, published)`.
type Dated = (String, String, String, chrono::DateTime<chrono::Utc>);

/// An RSS document whose items carry their own publication times.
fn dated_rss(items: &[Dated]) -> Route {
    let mut body = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><rss version=\"2.0\"><channel><title>Test feed</title>\
         <link>https://test.example/</link><description>d</description>",
    );
    for (guid, title, text, published) in items {
        body.push_str(&format!(
            "<item><guid>{guid}</guid><title>{title}</title><link>https://test.example/{guid}</link>\
             <pubDate>{}</pubDate><description>{text}</description></item>",
            published.to_rfc2822()
        ));
    }
    body.push_str("</channel></rss>");
    Route::Feed {
        body,
        content_type: "application/rss+xml",
    }
}

/// Every notice of `field` (`spikes`, `breaking`) in the digests written
/// to `path`.
fn notices(ws: &Workspace, path: &str, field: &str) -> Vec<serde_json::Value> {
    digest_lines(ws, path)
        .iter()
        .flat_map(|d| d[field].as_array().cloned().unwrap_or_default())
        .collect()
}

/// Issue 25's scenario, through the real binary on both backends: items
/// over 15 days (times relative to now) on four outlets. `burst` trickles,
/// then bursts in the last hour; `steady` never changes pace; one wire
/// story is carried by four outlets within the hour, another by two. A
/// spike alert sends exactly one spike notice (burst), a story alert one
/// breaking notice (the four-outlet story), each to each channel once, and
/// a second run sends nothing.
#[tokio::test(flavor = "multi_thread")]
async fn spike_and_story_alerts_fire_once_each() {
    for backend in crate::common::Backend::ALL {
        spike_and_story_scenario(backend).await;
    }
}

async fn spike_and_story_scenario(backend: crate::common::Backend) {
    let receiver = Receiver::default();
    let app = axum::Router::new()
        .route("/hook", axum::routing::post(receive))
        .with_state(receiver.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hook = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let now = chrono::Utc::now();
    let ago = |minutes: i64| now - chrono::Duration::minutes(minutes);
    let outlets = ["AP", "Rudaw", "Al Jazeera", "Kurdistan24"];
    let mut items: Vec<Vec<Dated>> = vec![Vec::new(); 4];
    let mut n = 0;
    let mut add = |outlet: usize, title: String, text: String, at| {
        n += 1;
        items[outlet].push((format!("i{n}"), title, text, at));
    };
    // Short texts (under 20 words): each item is a story of its own.
    for day in 1..=15i64 {
        add(
            (day % 4) as usize,
            format!("Erbil council note {day}"),
            format!("Erbil routine item number{day} alpha{day}."),
            ago(day * 1440 + 360),
        );
        add(
            ((day + 1) % 4) as usize,
            format!("Kirkuk morning {day}"),
            format!("Kirkuk steady item morning{day}."),
            ago(day * 1440 + 20),
        );
        add(
            ((day + 2) % 4) as usize,
            format!("Kirkuk evening {day}"),
            format!("Kirkuk steady item evening{day}."),
            ago(day * 1440 + 720),
        );
    }
    // The same hour on two earlier days: a baseline that is not all zero.
    for day in [3i64, 9] {
        add(
            0,
            format!("Erbil hour note {day}"),
            format!("Erbil same hour beta{day}."),
            ago(day * 1440 + 30),
        );
    }
    add(
        1,
        "Kirkuk now".into(),
        "Kirkuk steady item today.".into(),
        ago(20),
    );
    for k in 0..12i64 {
        add(
            (k % 4) as usize,
            format!("Erbil burst {k}"),
            format!("Erbil sudden development gamma{k}."),
            ago(3 + 4 * k),
        );
    }
    let wire = |words: &str| {
        format!(
            "Baghdad officials said on Monday that {words} talks with the regional government would resume next week \
             after a pause of several months, according to a statement read on state television"
        )
    };
    for (outlet, minutes) in [(0, 55), (1, 40), (2, 25), (3, 10)] {
        add(
            outlet,
            "Baghdad and the region to resume talks".into(),
            wire("oil revenue"),
            ago(minutes),
        );
    }
    for (outlet, minutes) in [(1, 50), (3, 35)] {
        add(
            outlet,
            "Baghdad budget dispute".into(),
            wire("budget and salary"),
            ago(minutes),
        );
    }
    let server = FeedServer::start().await;
    let mut feeds = Vec::new();
    for (i, outlet) in outlets.iter().enumerate() {
        let path = format!("/{i}.xml");
        server.set(&path, dated_rss(&items[i]));
        feeds.push((server.url(&path), *outlet));
    }
    let feeds: Vec<(&str, &str)> = feeds.iter().map(|(u, n)| (u.as_str(), *n)).collect();
    let extra = format!(
        "[[channel]]\nname = \"jl\"\nkind = \"file\"\npath = \"out/alerts.jsonl\"\n\
         [[channel]]\nname = \"eml\"\nkind = \"file\"\ndir = \"out/eml\"\n\
         [[channel]]\nname = \"slack\"\nkind = \"webhook\"\nurl = \"{hook}\"\nformat = \"slack\"\n\
         [[alert]]\nname = \"spikes\"\ntopics = [\"burst\", \"steady\"]\nschedule = \"immediate\"\n\
         channels = [\"jl\", \"eml\", \"slack\"]\ntrigger = \"spike\"\n\
         [[alert]]\nname = \"breaking\"\ntopics = [\"wire\"]\nschedule = \"immediate\"\nchannels = [\"jl\"]\n\
         trigger = \"story\"\nmin_outlets = 3\nwithin = \"2h\"\n\
         [[alert]]\nname = \"spikes-weekly\"\ntopics = [\"burst\", \"steady\"]\nschedule = \"weekly mon 03:00\"\n\
         channels = [\"jl\"]\ntrigger = \"spike\"\nwindow = \"1h\"\nbaseline = \"14d\"\n"
    );
    let topics = [("burst", "Erbil"), ("steady", "Kirkuk"), ("wire", "Baghdad")];
    let ws = Workspace::on(backend, &feeds, &topics, &extra).await;

    let out = ws.run(&["run", "--once"]).await;
    assert_eq!(out.code, 0, "{backend:?}: {}", out.stderr);
    assert!(
        out.stdout.contains("alerts: 4 digests built; 4 delivered"),
        "{backend:?}: one digest per channel of the spike alert (3) and of the story alert (1): {}",
        out.stdout
    );

    let spikes = notices(&ws, "out/alerts.jsonl", "spikes");
    assert_eq!(spikes.len(), 1, "{backend:?}: {spikes:?}");
    let spike = &spikes[0];
    assert_eq!(spike["topic"], "burst", "{backend:?}");
    assert_eq!(spike["count"], 12, "{backend:?}: {spike}");
    assert_eq!(spike["stories"], 12, "{backend:?}: {spike}");
    let mean = spike["baseline_mean"].as_f64().unwrap();
    assert!(
        (mean - 2.0 / 14.0).abs() < 1e-9,
        "{backend:?}: the same hour on 2 of 14 days: {spike}"
    );
    assert!(spike["baseline_stdev"].as_f64().unwrap() > 0.0, "{spike}");
    assert!(
        (spike["ratio"].as_f64().unwrap() - 12.0 / mean).abs() < 1e-6,
        "{spike}"
    );
    assert_eq!(spike["top_outlets"].as_array().unwrap().len(), 3, "{spike}");
    assert_eq!(spike["top_outlets"][0]["items"], 3, "{spike}");
    assert_eq!(spike["top_stories"].as_array().unwrap().len(), 3, "{spike}");
    assert_eq!(spike["languages"][0]["items"], 12, "{spike}");
    assert_eq!(spike["baseline_counts"].as_array().unwrap().len(), 14, "{spike}");
    for field in ["window_start", "window_end"] {
        assert!(spike[field].as_str().is_some(), "{field}: {spike}");
    }

    let breaking = notices(&ws, "out/alerts.jsonl", "breaking");
    assert_eq!(breaking.len(), 1, "{backend:?}: {breaking:?}");
    let story = &breaking[0];
    assert_eq!(
        story["headline"], "Baghdad and the region to resume talks",
        "{story}"
    );
    assert_eq!(story["outlet_count"], 4, "{story}");
    assert_eq!(story["outlets"][0], "AP", "the first outlet first: {story}");
    assert_eq!(story["within_seconds"], 45 * 60, "{story}");
    assert!(story["story_id"].as_i64().is_some() && story["first_seen"].as_str().is_some());

    // Spike and story alerts send their notices, not the matches.
    for d in digest_lines(&ws, "out/alerts.jsonl") {
        assert!(d["topics"].as_array().unwrap().is_empty(), "{d}");
    }
    // The e-mail and Slack renderings explain the spike.
    let emls: Vec<_> = std::fs::read_dir(ws.dir.path().join("out/eml"))
        .unwrap()
        .collect();
    assert_eq!(emls.len(), 1);
    let eml = std::fs::read_to_string(emls[0].as_ref().unwrap().path()).unwrap();
    // Quoted-printable: soft line breaks joined.
    let eml = eml.replace("=\r\n", "").replace("=\n", "");
    assert!(eml.contains("Spikes (1)"), "{eml}");
    assert!(
        eml.contains("burst: 12 items, 12 stories in the last hour"),
        "{eml}"
    );
    let seen = receiver.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1, "{backend:?}");
    let slack: serde_json::Value = serde_json::from_slice(&seen[0].1).unwrap();
    let blocks = slack["blocks"].to_string();
    assert!(blocks.contains("*Spike* burst: 12 items"), "{blocks}");
    assert!(
        slack["text"]
            .as_str()
            .unwrap()
            .contains("spike in burst: 12 items"),
        "{slack}"
    );

    // The weekly alert saw the same spike and holds it for its schedule:
    // a preview shows it; the immediate alert has nothing left to show.
    let preview = |alert: &'static str| {
        let ws = &ws;
        async move {
            let out = ws
                .run(&["digest", "preview", "--alert", alert, "--format", "json"])
                .await;
            assert_eq!(out.code, 0, "{}", out.stderr);
            jsonl(&out.stdout)
        }
    };
    let weekly = preview("spikes-weekly").await;
    assert_eq!(weekly.len(), 1);
    assert_eq!(
        weekly[0]["spikes"][0]["topic"], "burst",
        "{backend:?}: {}",
        weekly[0]
    );
    assert!(preview("spikes")
        .await
        .iter()
        .all(|d| d["spikes"].as_array().unwrap().is_empty()));
    let out = ws.run(&["digest", "preview", "--alert", "spikes-weekly"]).await;
    assert!(out.stdout.contains("== Spikes (1) =="), "{}", out.stdout);

    // Past episodes: one per spike alert, still going on.
    let out = ws
        .run(&["topics", "spikes", "--topic", "burst", "--format", "jsonl"])
        .await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let episodes = jsonl(&out.stdout);
    assert_eq!(episodes.len(), 2, "{backend:?}: {episodes:?}");
    assert!(episodes
        .iter()
        .all(|e| e["ended_at"].is_null() && e["peak"] == 12));
    let out = ws.run(&["topics", "spikes", "--topic", "steady"]).await;
    assert!(out.stdout.contains("no spike episodes"), "{}", out.stdout);

    // Two processes sending the weekly alert at once (two instances on
    // PostgreSQL): one digest is built, with the spike. (Two deliverers on
    // SQLite may both send it: the same id, which receivers drop.)
    let send = ["digest", "send", "--alert", "spikes-weekly", "--now"];
    let (a, b) = tokio::join!(ws.run(&send), ws.run(&send));
    assert_eq!((a.code, b.code), (0, 0), "{} {}", a.stderr, b.stderr);
    let built = [&a, &b]
        .iter()
        .filter(|o| o.stdout.contains("1 digest built"))
        .count();
    assert_eq!(built, 1, "{backend:?}: {} / {}", a.stdout, b.stdout);
    let weekly: std::collections::HashSet<String> = digest_lines(&ws, "out/alerts.jsonl")
        .iter()
        .filter(|d| d["alert"] == "spikes-weekly")
        .map(|d| {
            assert_eq!(d["spikes"][0]["topic"], "burst", "{d}");
            d["id"].as_str().unwrap().to_string()
        })
        .collect();
    assert_eq!(weekly.len(), 1, "{backend:?}: {} / {}", a.stdout, b.stdout);

    // A second run: nothing new to say.
    let out = ws.run(&["run", "--once"]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout.contains("alerts: 0 digests built"),
        "{backend:?}: {}",
        out.stdout
    );
    let spikes = notices(&ws, "out/alerts.jsonl", "spikes");
    assert!((2..=3).contains(&spikes.len()), "{spikes:?}");
    assert_eq!(notices(&ws, "out/alerts.jsonl", "breaking").len(), 1);
    assert_eq!(receiver.seen.lock().unwrap().len(), 1);
}

/// A spike or story alert's mistakes: one sentence naming the key and its
/// line, and a non-zero exit.
#[tokio::test(flavor = "multi_thread")]
async fn trigger_config_errors_name_the_key_and_line() {
    let base = "[[topic]]\nname = \"k\"\nquery = \"a\"\n[[channel]]\nname = \"c\"\nkind = \"file\"\npath = \"x.jsonl\"\n\
                [[alert]]\nname = \"a\"\ntopics = [\"k\"]\nschedule = \"immediate\"\nchannels = [\"c\"]\n";
    for (extra, expected) in [
        ("trigger = \"surge\"\n", "line 13: alert[0].trigger: \"surge\" is not matches, spike or story"),
        (
            "trigger = \"spike\"\nwithin = \"2h\"\n",
            "line 14: alert[0].within: `within` applies to trigger = \"story\" alerts, not to a spike alert",
        ),
        (
            "window = \"1h\"\n",
            "line 13: alert[0].window: `window` applies to trigger = \"spike\" alerts, not to a matches alert",
        ),
        (
            "trigger = \"spike\"\nwindow = \"an hour\"\n",
            "line 14: alert[0].window: \"an hour\" is not a duration",
        ),
        (
            "trigger = \"spike\"\nsigma = -1\n",
            "line 14: alert[0].sigma: must be a number from 0 to 1000",
        ),
        (
            "trigger = \"spike\"\nwindow = \"1d\"\nbaseline = \"1d\"\n",
            "line 15: alert[0].baseline: must hold at least two windows",
        ),
        (
            "trigger = \"story\"\nmin_outlets = 1\n",
            "line 14: alert[0].min_outlets: must be a whole number of at least 2",
        ),
    ] {
        let ws = Workspace::with_config(&format!("{base}{extra}"));
        let out = ws.run(&["check"]).await;
        assert_ne!(out.code, 0, "{extra}");
        assert!(out.stderr.contains(expected), "{extra}: {}", out.stderr);
        assert_eq!(out.stderr.trim().lines().count(), 1, "one sentence: {}", out.stderr);
    }
    let ws = Workspace::with_config(&base.replace("[\"k\"]", "[\"feed-health\"]").replace(
        "channels = [\"c\"]\n",
        "channels = [\"c\"]\ntrigger = \"story\"\n",
    ));
    let out = ws.run(&["check"]).await;
    assert!(
        out.stderr
            .contains("alert[0].topics: a story alert needs at least one [[topic]]"),
        "{}",
        out.stderr
    );
    let ok = Workspace::with_config(&format!(
        "{base}trigger = \"spike\"\nwindow = \"30m\"\nbaseline = \"7d\"\nmin_items = 4\nsigma = 2.5\nfactor = 2\n"
    ));
    let out = ok.run(&["check"]).await;
    assert!(!out.stderr.contains("alert[0]"), "{}", out.stderr);
}
