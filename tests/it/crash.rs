//! Crash safety and outages (issue #9), with the real binary, real HTTP and
//! SMTP peers on 127.0.0.1 and a real SQLite file:
//!
//! - the daemon SIGKILLed at random moments while feeds change: nothing is
//!   lost, nothing stored twice, every match reaches every channel in
//!   exactly one digest (re-sends carry the same idempotency key);
//! - an SMTP server that is down, then refuses, then accepts: every match is
//!   delivered exactly once;
//! - the database made unwritable under the running daemon: a clear error,
//!   the daemon stays up, and it resumes without loss.
//!
//! `FEEDWATCH_CRASH_KILLS=50` runs the kill test with 50 kills (default 8);
//! `FEEDWATCH_CRASH_SEED=N` replays a run (the seed is printed).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::common::{jsonl, rss, FeedServer, Route, Workspace};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::Row;

const TOPIC: (&str, &str) = ("k", "kurdistan AND referendum");

// ---------------------------------------------------------------------------
// Peers: a webhook receiver and an SMTP server that record what they got.

/// A webhook receiver: records every POST (idempotency key, body) when it
/// arrives, then answers 200 after a random delay of up to `delay_ms`, so a
/// kill can land between "body received" and "delivery recorded".
/// One webhook request: its idempotency key and body.
type Sent = (String, Vec<u8>);

#[derive(Clone, Default)]
struct Hook {
    seen: Arc<Mutex<Vec<Sent>>>,
    delay_ms: Arc<AtomicU64>,
}

async fn hook(State(h): State<Hook>, headers: HeaderMap, body: axum::body::Bytes) -> StatusCode {
    let id = headers
        .get("x-feedwatch-digest-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    h.seen.lock().unwrap().push((id, body.to_vec()));
    let max = h.delay_ms.load(Ordering::Relaxed);
    if max > 0 {
        tokio::time::sleep(Duration::from_millis(fastrand::u64(0..=max))).await;
    }
    StatusCode::OK
}

impl Hook {
    async fn start(delay_ms: u64) -> (Hook, String) {
        let hook_state = Hook::default();
        hook_state.delay_ms.store(delay_ms, Ordering::Relaxed);
        let app = axum::Router::new()
            .route("/hook", axum::routing::post(hook))
            .with_state(hook_state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (hook_state, url)
    }
}

/// How the SMTP server answers the end of a message.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum SmtpMode {
    Accept,
    /// 451 to DATA: a temporary failure. (Not at the end of the data:
    /// mailin then stays in data mode and the session hangs.)
    Refuse,
}

/// A real SMTP server (mailin-embedded). Accepted messages are recorded,
/// refused ones counted; `delay_ms` delays the final answer.
#[derive(Clone)]
struct Smtp {
    current: Vec<u8>,
    accepted: Arc<Mutex<Vec<String>>>,
    refused: Arc<AtomicU64>,
    mode: Arc<Mutex<SmtpMode>>,
    delay_ms: u64,
}

impl mailin_embedded::Handler for Smtp {
    fn data_start(&mut self, _: &str, _: &str, _: bool, _: &[String]) -> mailin_embedded::Response {
        self.current.clear();
        if *self.mode.lock().unwrap() == SmtpMode::Refuse {
            self.refused.fetch_add(1, Ordering::Relaxed);
            return mailin_embedded::response::INTERNAL_ERROR;
        }
        mailin_embedded::response::OK
    }
    fn data(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.current.extend_from_slice(buf);
        Ok(())
    }
    fn data_end(&mut self) -> mailin_embedded::Response {
        let message = String::from_utf8_lossy(&self.current).to_string();
        self.accepted.lock().unwrap().push(message);
        if self.delay_ms > 0 {
            std::thread::sleep(Duration::from_millis(fastrand::u64(0..=self.delay_ms)));
        }
        mailin_embedded::response::OK
    }
}

struct SmtpServer {
    accepted: Arc<Mutex<Vec<String>>>,
    refused: Arc<AtomicU64>,
    mode: Arc<Mutex<SmtpMode>>,
}

impl SmtpServer {
    /// Serves on `listener` from a thread (mailin's server blocks).
    fn start(listener: std::net::TcpListener, delay_ms: u64) -> SmtpServer {
        let handler = Smtp {
            current: Vec::new(),
            accepted: Arc::default(),
            refused: Arc::default(),
            mode: Arc::new(Mutex::new(SmtpMode::Accept)),
            delay_ms,
        };
        let server = SmtpServer {
            accepted: handler.accepted.clone(),
            refused: handler.refused.clone(),
            mode: handler.mode.clone(),
        };
        let mut smtp = mailin_embedded::Server::new(handler);
        smtp.with_name("test.invalid")
            .with_ssl(mailin_embedded::SslConfig::None)
            .unwrap()
            .with_num_threads(8)
            .with_tcp_listener(listener);
        std::thread::spawn(move || {
            let _ = smtp.serve();
        });
        server
    }

    fn accepted(&self) -> Vec<String> {
        self.accepted.lock().unwrap().clone()
    }
}

/// The digest id in a message's `Message-ID: <ID@feedwatch>`.
fn message_id(raw: &str) -> String {
    let line = raw
        .lines()
        .find(|l| l.to_ascii_lowercase().starts_with("message-id:"))
        .unwrap_or_else(|| panic!("no Message-ID: {raw}"));
    let start = line.find('<').expect("<") + 1;
    let end = line.find("@feedwatch>").expect("@feedwatch>");
    line[start..end].to_string()
}

/// The message with quoted-printable soft line breaks removed, so links
/// can be found in it.
fn unfold_qp(raw: &str) -> String {
    raw.replace("=\r\n", "").replace("=\n", "")
}

// ---------------------------------------------------------------------------
// The feeds the server serves, as the test knows them.

/// One article the test put in a feed.
#[derive(Clone, Debug)]
struct Article {
    guid: String,
    title: String,
    text: String,
    matches: bool,
}

impl Article {
    fn url(&self) -> String {
        format!("https://test.example/{}", self.guid)
    }
}

/// Every feed's articles (feeds only ever grow, so the final documents
/// list everything the server ever served).
struct World {
    rng: fastrand::Rng,
    feeds: Vec<Vec<Article>>,
    next: usize,
}

impl World {
    fn new(seed: u64, feeds: usize) -> World {
        World {
            rng: fastrand::Rng::with_seed(seed),
            feeds: vec![Vec::new(); feeds],
            next: 0,
        }
    }

    /// Random words: no two articles share a run of words, and with under
    /// 20 words an article has no fingerprint, so each is its own story and
    /// its own digest entry.
    fn words(&mut self, n: usize) -> Vec<String> {
        (0..n)
            .map(|_| {
                let len = self.rng.usize(4..9);
                (0..len).map(|_| self.rng.lowercase()).collect()
            })
            .collect()
    }

    /// A new article; matching ones carry both topic words among random
    /// words, near misses only one of them.
    fn article(&mut self, feed: usize, kind: u8) -> Article {
        self.next += 1;
        let guid = format!("f{feed:02}i{:05}", self.next);
        let mut title = self.words(3);
        let mut text = self.words(6);
        let matches = kind == 0;
        match kind {
            0 => {
                title.insert(1, "Kurdistan".into());
                text.insert(3, "referendum".into());
            }
            1 => title.insert(1, "Kurdistan".into()),
            2 => text.insert(2, "referendum".into()),
            _ => {}
        }
        Article {
            guid,
            title: title.join(" "),
            text: text.join(" "),
            matches,
        }
    }

    fn add(&mut self, feed: usize, kind: u8) {
        let article = self.article(feed, kind);
        self.feeds[feed].push(article);
    }

    /// The same article (same GUID and link) in a second feed.
    fn reprint(&mut self, from: usize, to: usize) {
        if let Some(article) = self.feeds[from].last().cloned() {
            if !self.feeds[to].iter().any(|a| a.guid == article.guid) {
                self.feeds[to].push(article);
            }
        }
    }

    /// One round of news: new articles in a few random feeds, sometimes a
    /// reprint.
    fn round(&mut self) {
        let n = self.feeds.len();
        for _ in 0..self.rng.usize(1..=4) {
            let feed = self.rng.usize(..n);
            let kind = match self.rng.u8(0..10) {
                0..=2 => 0,
                3 => 1,
                4 => 2,
                _ => 3,
            };
            self.add(feed, kind);
        }
        if self.rng.u8(0..4) == 0 {
            let (from, to) = (self.rng.usize(..n), self.rng.usize(..n));
            if from != to {
                self.reprint(from, to);
            }
        }
    }

    fn publish(&self, server: &FeedServer) {
        for (i, articles) in self.feeds.iter().enumerate() {
            let items: Vec<(&str, &str, &str)> = articles
                .iter()
                .map(|a| (a.guid.as_str(), a.title.as_str(), a.text.as_str()))
                .collect();
            server.set(
                &feed_path(i),
                Route::Feed {
                    body: rss(&items),
                    content_type: "application/rss+xml",
                },
            );
        }
    }

    /// Every distinct article: url → (article, feeds listing it).
    fn articles(&self) -> BTreeMap<String, (Article, BTreeSet<usize>)> {
        let mut out: BTreeMap<String, (Article, BTreeSet<usize>)> = BTreeMap::new();
        for (i, articles) in self.feeds.iter().enumerate() {
            for a in articles {
                out.entry(a.url())
                    .or_insert_with(|| (a.clone(), BTreeSet::new()))
                    .1
                    .insert(i);
            }
        }
        out
    }

    fn matching_urls(&self) -> BTreeSet<String> {
        self.articles()
            .into_iter()
            .filter(|(_, (a, _))| a.matches)
            .map(|(url, _)| url)
            .collect()
    }
}

fn feed_path(i: usize) -> String {
    format!("/feed{i:02}.xml")
}

// ---------------------------------------------------------------------------
// Running the daemon and reading the database.

/// `feedwatch run` (the daemon) with its log appended to `log`.
fn spawn_daemon(ws: &Workspace, log: &Path) -> tokio::process::Child {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .unwrap();
    tokio::process::Command::new(env!("CARGO_BIN_EXE_feedwatch"))
        .arg("--config")
        .arg(ws.config_path())
        .arg("run")
        .env_remove("FEEDWATCH_LOG")
        .env_remove("RUST_LOG")
        .env_remove("JOURNAL_STREAM")
        .stdout(std::process::Stdio::null())
        .stderr(log)
        .kill_on_drop(true)
        .spawn()
        .unwrap()
}

fn tail(path: &Path, lines: usize) -> String {
    let log = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = log.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// A read-only connection to the test's database.
async fn db(ws: &Workspace) -> sqlx::SqliteConnection {
    use sqlx::ConnectOptions;
    SqliteConnectOptions::new()
        .filename(ws.db_path())
        .read_only(true)
        .connect()
        .await
        .unwrap()
}

/// `PRAGMA integrity_check` and `feedwatch db check` both say ok.
async fn assert_database_sound(ws: &Workspace) {
    let mut conn = db(ws).await;
    let integrity: Vec<String> = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_all(&mut conn)
        .await
        .unwrap();
    assert_eq!(integrity, ["ok"], "PRAGMA integrity_check");
    let fk: Vec<sqlx::sqlite::SqliteRow> = sqlx::query("PRAGMA foreign_key_check")
        .fetch_all(&mut conn)
        .await
        .unwrap();
    assert!(fk.is_empty(), "foreign key violations: {}", fk.len());
    let out = ws.run(&["db", "check"]).await;
    assert_eq!(
        (out.code, out.stdout.trim()),
        (0, "ok"),
        "feedwatch db check: {}",
        out.stderr
    );
}

/// Every article is stored exactly once, listed under exactly the feeds
/// that carry it; exactly the matching ones are in `item_topics` (live
/// matches, not backfilled ones, which would never alert).
async fn assert_items_stored_once(ws: &Workspace, server: &FeedServer, world: &World) {
    let expected = world.articles();
    let mut conn = db(ws).await;
    let rows = sqlx::query("SELECT url, count(*) AS n FROM items GROUP BY url")
        .fetch_all(&mut conn)
        .await
        .unwrap();
    let stored: BTreeMap<String, i64> = rows
        .iter()
        .map(|r| (r.get::<String, _>("url"), r.get::<i64, _>("n")))
        .collect();
    let twice: Vec<_> = stored.iter().filter(|(_, n)| **n != 1).collect();
    assert!(twice.is_empty(), "items stored more than once: {twice:?}");
    let stored: BTreeSet<String> = stored.into_keys().collect();
    let expected_urls: BTreeSet<String> = expected.keys().cloned().collect();
    assert_eq!(
        stored.difference(&expected_urls).collect::<Vec<_>>(),
        Vec::<&String>::new(),
        "stored items nobody served"
    );
    assert_eq!(
        expected_urls.difference(&stored).collect::<Vec<_>>(),
        Vec::<&String>::new(),
        "served items that were lost"
    );

    // The same through the CLI, with every feed listing each item.
    let items = ws.search(&["--limit", "100000"]).await;
    assert_eq!(items.len(), expected.len());
    for item in &items {
        let url = item["url"].as_str().unwrap();
        let (article, feeds) = &expected[url];
        assert_eq!(item["title"], article.title.as_str(), "{item}");
        let listed: BTreeSet<String> = item["feeds"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f.as_str().unwrap().to_string())
            .collect();
        let want: BTreeSet<String> = feeds.iter().map(|i| server.url(&feed_path(*i))).collect();
        assert_eq!(listed, want, "feeds listing {url}");
        let topics = item["topics"].as_array().unwrap();
        assert_eq!(!topics.is_empty(), article.matches, "topics of {url}: {item}");
    }

    let rows = sqlx::query(
        "SELECT i.url, it.backfilled FROM item_topics it JOIN items i ON i.id = it.item_id \
         JOIN topics t ON t.id = it.topic_id WHERE t.name = ?",
    )
    .bind(TOPIC.0)
    .fetch_all(&mut conn)
    .await
    .unwrap();
    let matched: Vec<String> = rows.iter().map(|r| r.get("url")).collect();
    let matched_set: BTreeSet<String> = matched.iter().cloned().collect();
    assert_eq!(matched.len(), matched_set.len(), "a match recorded twice");
    assert_eq!(matched_set, world.matching_urls(), "item_topics");
    let backfilled: Vec<String> = rows
        .iter()
        .filter(|r| r.get::<i64, _>("backfilled") != 0)
        .map(|r| r.get("url"))
        .collect();
    assert!(
        backfilled.is_empty(),
        "matches that will never alert: {backfilled:?}"
    );
}

/// Digest id → urls of the items it covers, for one channel (from
/// `digest_items`); every digest of the channel must be delivered.
async fn digests_in_db(ws: &Workspace, channel: &str) -> BTreeMap<String, BTreeSet<String>> {
    let mut conn = db(ws).await;
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let digests = sqlx::query("SELECT id, status FROM digests WHERE channel = ?")
        .bind(channel)
        .fetch_all(&mut conn)
        .await
        .unwrap();
    for d in &digests {
        assert_eq!(
            d.get::<String, _>("status"),
            "delivered",
            "digest {} for {channel}",
            d.get::<String, _>("id")
        );
        out.insert(d.get("id"), BTreeSet::new());
    }
    let rows = sqlx::query(
        "SELECT d.digest_id, i.url FROM digest_items d JOIN items i ON i.id = d.item_id WHERE d.channel = ?",
    )
    .bind(channel)
    .fetch_all(&mut conn)
    .await
    .unwrap();
    for r in &rows {
        let fresh = out
            .get_mut(&r.get::<String, _>("digest_id"))
            .expect("digest_items of a known digest")
            .insert(r.get("url"));
        assert!(fresh, "an item twice in one digest");
    }
    out
}

/// Checks that `received` (digest id → item urls, one entry per distinct
/// digest the channel got) covers every match exactly once and agrees with
/// the outbox.
fn assert_exactly_once(
    channel: &str,
    received: &BTreeMap<String, BTreeSet<String>>,
    outbox: &BTreeMap<String, BTreeSet<String>>,
    matching: &BTreeSet<String>,
) {
    assert_eq!(
        received.keys().collect::<Vec<_>>(),
        outbox.keys().collect::<Vec<_>>(),
        "{channel}: the digests received are the digests built"
    );
    for (id, urls) in received {
        assert_eq!(
            urls, &outbox[id],
            "{channel}: digest {id} carries what the outbox recorded"
        );
    }
    let mut count: BTreeMap<&String, usize> = BTreeMap::new();
    for urls in received.values() {
        for url in urls {
            *count.entry(url).or_default() += 1;
        }
    }
    let twice: Vec<_> = count.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "{channel}: matches in two digests: {twice:?}");
    let got: BTreeSet<String> = count.keys().map(|u| (*u).clone()).collect();
    assert_eq!(&got, matching, "{channel}: every match delivered");
}

/// Item urls of a JSON digest; every entry must stand for one article.
fn digest_urls(digest: &serde_json::Value) -> BTreeSet<String> {
    let mut urls = BTreeSet::new();
    for section in digest["topics"].as_array().unwrap() {
        for entry in section["entries"].as_array().unwrap() {
            assert_eq!(entry["items"], 1, "one article per story here: {entry}");
            assert!(urls.insert(entry["url"].as_str().unwrap().to_string()));
        }
    }
    assert_eq!(digest["counts"]["articles"].as_u64(), Some(urls.len() as u64));
    urls
}

/// Webhook requests by idempotency key: every attempt of a digest carries
/// the same key and the same body. Returns the distinct digests and the
/// number of repeated sends.
fn webhook_digests(seen: &[Sent]) -> (BTreeMap<String, BTreeSet<String>>, usize) {
    let mut bodies: HashMap<&str, &Vec<u8>> = HashMap::new();
    let mut repeats = 0;
    let mut out = BTreeMap::new();
    for (id, body) in seen {
        assert!(!id.is_empty(), "a webhook request without X-Feedwatch-Digest-Id");
        if let Some(first) = bodies.insert(id, body) {
            assert_eq!(first, body, "digest {id} re-sent with a different body");
            repeats += 1;
            continue;
        }
        let digest: serde_json::Value = serde_json::from_slice(body).unwrap();
        assert_eq!(digest["id"], id.as_str(), "the body's id is the header's");
        out.insert(id.clone(), digest_urls(&digest));
    }
    (out, repeats)
}

/// File channel lines: each digest written once.
fn file_digests(path: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let mut out = BTreeMap::new();
    for digest in jsonl(&std::fs::read_to_string(path).unwrap_or_default()) {
        let id = digest["id"].as_str().unwrap().to_string();
        let urls = digest_urls(&digest);
        assert!(
            out.insert(id.clone(), urls).is_none(),
            "digest {id} written twice"
        );
    }
    out
}

/// Accepted e-mails by Message-ID: repeats of one digest must be the same
/// message. Item links are found in the text.
fn mail_digests(
    messages: &[String],
    all_urls: &BTreeSet<String>,
) -> (BTreeMap<String, BTreeSet<String>>, usize) {
    let mut first_text: HashMap<String, String> = HashMap::new();
    let mut out = BTreeMap::new();
    let mut repeats = 0;
    for raw in messages {
        let id = message_id(raw);
        let text = unfold_qp(raw);
        // The links in a message, as a set.
        let urls: BTreeSet<String> = all_urls
            .iter()
            .filter(|u| text.contains(u.as_str()))
            .cloned()
            .collect();
        if let Some(previous) = first_text.get(&id) {
            let again: BTreeSet<String> = all_urls
                .iter()
                .filter(|u| previous.contains(u.as_str()))
                .cloned()
                .collect();
            assert_eq!(again, urls, "mail {id} re-sent with other items");
            repeats += 1;
            continue;
        }
        first_text.insert(id.clone(), text);
        out.insert(id, urls);
    }
    (out, repeats)
}

fn kills_wanted() -> usize {
    std::env::var("FEEDWATCH_CRASH_KILLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(8)
}

fn seed() -> u64 {
    std::env::var("FEEDWATCH_CRASH_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        })
}

// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn survives_sigkill_at_random_moments() {
    let started = Instant::now();
    let seed = seed();
    let kills = kills_wanted();
    println!("seed {seed} (FEEDWATCH_CRASH_SEED={seed} replays the feeds and kill times), {kills} kills");
    let mut rng = fastrand::Rng::with_seed(seed ^ 0x9e37_79b9_7f4a_7c15);

    let server = FeedServer::start().await;
    let mut world = World::new(seed, 20);
    // A first batch: matches in some feeds, near misses, and two reprints
    // of one link in two feeds (one of them a match).
    for feed in 0..20 {
        let kind = [0, 3, 1, 3, 2][feed % 5];
        world.add(feed, 3);
        world.add(feed, kind);
    }
    world.reprint(0, 1); // a match
    world.reprint(1, 2); // not a match
    world.publish(&server);

    let (hook, hook_url) = Hook::start(300).await;
    let smtp_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let smtp_port = smtp_listener.local_addr().unwrap().port();
    let smtp = SmtpServer::start(smtp_listener, 300);

    let extra = format!(
        "[poll]\ninterval = \"1s\"\nconcurrency = 32\nper_host_concurrency = 32\nper_host_spacing = \"0s\"\n\
         [fetch]\ntimeout = \"5s\"\n\
         [retention]\nunmatched = \"3650d\"\n\
         [[channel]]\nname = \"hook\"\nkind = \"webhook\"\nurl = \"{hook_url}\"\n\
         [[channel]]\nname = \"jsonl\"\nkind = \"file\"\npath = \"out/digests.jsonl\"\n\
         [[channel]]\nname = \"mail\"\nkind = \"smtp\"\nhost = \"127.0.0.1\"\nport = {smtp_port}\ntls = \"none\"\n\
         from = \"feedwatch <alerts@example.org>\"\nto = [\"desk@example.org\"]\n\
         [[alert]]\nname = \"crash\"\ntopics = [\"k\"]\nschedule = \"immediate 1s\"\nchannels = [\"hook\", \"jsonl\", \"mail\"]\n"
    );
    let feeds: Vec<(String, String)> = (0..20)
        .map(|i| (server.url(&feed_path(i)), format!("Feed {i:02}")))
        .collect();
    let feed_refs: Vec<(&str, &str)> = feeds.iter().map(|(u, n)| (u.as_str(), n.as_str())).collect();
    let ws = Workspace::new(&feed_refs, &[TOPIC], &extra);
    let log = ws.dir.path().join("daemon.log");

    let mut survived = 0;
    for round in 0..kills {
        let mut daemon = spawn_daemon(&ws, &log);
        let wait = rng.u64(50..=1500);
        tokio::time::sleep(Duration::from_millis(wait)).await;
        assert!(
            daemon.try_wait().unwrap().is_none(),
            "round {round}: the daemon exited on its own (seed {seed}); log:\n{}",
            tail(&log, 40)
        );
        daemon.start_kill().unwrap(); // SIGKILL
        let status = daemon.wait().await.unwrap();
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(status.signal(), Some(9), "round {round}: {status:?}");
        survived += 1;
        if rng.u8(0..5) != 0 {
            world.round();
            world.publish(&server);
        }
    }
    let killed_at = started.elapsed();
    // What the killed daemons got done (so the kills hit a working daemon,
    // not only start-ups).
    let out = ws.run(&["search", "--count"]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let stored_before: usize = out.stdout.trim().parse().unwrap();
    assert!(
        stored_before > 0,
        "the killed daemons stored nothing; log:\n{}",
        tail(&log, 40)
    );
    let digests_before = jsonl(
        &ws.run(&["digests", "list", "--format", "jsonl", "--limit", "100000"])
            .await
            .stdout,
    );
    let delivered_before = digests_before
        .iter()
        .filter(|d| d["status"] == "delivered")
        .count();

    // A clean finish: one cycle over every feed, then every pending match
    // cut into a digest and everything pending delivered.
    let out = ws.run(&["run", "--once"]).await;
    assert_eq!(out.code, 0, "run --once after {survived} kills: {}", out.stderr);
    let out = ws.run(&["digest", "send", "--alert", "crash", "--now"]).await;
    assert_eq!(out.code, 0, "digest send: {}\n{}", out.stdout, out.stderr);
    let preview = ws
        .run(&["digest", "preview", "--alert", "crash", "--format", "json"])
        .await;
    assert_eq!(preview.code, 0, "{}", preview.stderr);

    assert_database_sound(&ws).await;
    assert_items_stored_once(&ws, &server, &world).await;

    let matching = world.matching_urls();
    let all_urls: BTreeSet<String> = world.articles().into_keys().collect();
    let (hook_digests, hook_repeats) = webhook_digests(&hook.seen.lock().unwrap());
    assert_exactly_once(
        "hook",
        &hook_digests,
        &digests_in_db(&ws, "hook").await,
        &matching,
    );
    let file = file_digests(&ws.dir.path().join("out/digests.jsonl"));
    assert_exactly_once("jsonl", &file, &digests_in_db(&ws, "jsonl").await, &matching);
    let (mail, mail_repeats) = mail_digests(&smtp.accepted(), &all_urls);
    assert_exactly_once("mail", &mail, &digests_in_db(&ws, "mail").await, &matching);

    println!(
        "survived {survived} SIGKILLs (seed {seed}) in {:.1}s ({:.1}s total); before the clean finish \
         {stored_before} items stored, {} digests built, {delivered_before} delivered; in all {} items, \
         {} matches, {} reprints; digests per channel: {} webhook ({hook_repeats} repeated sends), \
         {} file, {} mail ({mail_repeats} repeated sends)",
        killed_at.as_secs_f64(),
        started.elapsed().as_secs_f64(),
        digests_before.len(),
        all_urls.len(),
        matching.len(),
        world.articles().values().filter(|(_, f)| f.len() > 1).count(),
        hook_digests.len(),
        file.len(),
        mail.len(),
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn smtp_outage_then_recovery_loses_and_duplicates_nothing() {
    let server = FeedServer::start().await;
    let mut world = World::new(7, 2);
    world.add(0, 0);
    world.add(0, 3);
    world.add(1, 0);
    world.publish(&server);

    // A port with nothing listening: connections are refused.
    let port = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        probe.local_addr().unwrap().port()
    };
    let extra = format!(
        "[fetch]\ntimeout = \"2s\"\n[retention]\nunmatched = \"3650d\"\n\
         [[channel]]\nname = \"mail\"\nkind = \"smtp\"\nhost = \"127.0.0.1\"\nport = {port}\ntls = \"none\"\n\
         from = \"feedwatch <alerts@example.org>\"\nto = [\"desk@example.org\"]\n\
         [[alert]]\nname = \"mail\"\ntopics = [\"k\"]\nschedule = \"hourly\"\nchannels = [\"mail\"]\n"
    );
    let ws = Workspace::new(
        &[
            (&server.url(&feed_path(0)), "Feed 00"),
            (&server.url(&feed_path(1)), "Feed 01"),
        ],
        &[TOPIC],
        &extra,
    );
    assert_eq!(ws.run(&["run", "--once"]).await.code, 0);

    // Down: three attempts, with a new match arriving between two of them
    // (it goes into a second digest).
    for attempt in 0..3 {
        if attempt == 1 {
            world.add(1, 0);
            world.add(0, 3);
            world.publish(&server);
            assert_eq!(ws.run(&["run", "--once"]).await.code, 0);
        }
        let out = ws.run(&["digest", "send", "--alert", "mail", "--now"]).await;
        assert_ne!(out.code, 0, "a failed delivery is reported: {}", out.stdout);
        assert!(out.stdout.contains("0 delivered"), "{}", out.stdout);
    }
    let list = jsonl(&ws.run(&["digests", "list", "--format", "jsonl"]).await.stdout);
    // Two digests with matches (the third --now found nothing new).
    assert_eq!(list.len(), 2, "{list:?}");
    for d in &list {
        assert_eq!(d["status"], "pending", "{d}");
        assert!(d["attempts"].as_i64().unwrap() >= 2, "{d}");
        let error = d["last_error"].as_str().unwrap();
        assert!(error.starts_with("SMTP delivery failed"), "{error}");
        assert!(error.to_lowercase().contains("refused"), "{error}");
    }

    // Up but stalled: the port accepts connections and nobody ever answers
    // (an overloaded or wedged relay). The attempt must give up after the
    // timeout instead of hanging the delivery for good.
    let stalled = std::net::TcpListener::bind(("127.0.0.1", port)).unwrap();
    let began = Instant::now();
    let out = tokio::time::timeout(
        Duration::from_secs(30),
        ws.run(&["digest", "send", "--alert", "mail"]),
    )
    .await
    .expect("a stalled SMTP server must not hang delivery");
    assert!(began.elapsed() < Duration::from_secs(20), "{:?}", began.elapsed());
    assert_ne!(out.code, 0, "{}", out.stdout);
    assert!(
        out.stdout.contains("0 delivered, 2 will be retried"),
        "{}",
        out.stdout
    );
    let list = jsonl(&ws.run(&["digests", "list", "--format", "jsonl"]).await.stdout);
    for d in &list {
        let error = d["last_error"].as_str().unwrap();
        assert!(error.contains("did not answer within 2s"), "{error}");
    }
    drop(stalled);

    // Up, but refusing messages with 451 to DATA: still not delivered.
    let listener = std::net::TcpListener::bind(("127.0.0.1", port)).unwrap();
    let smtp = SmtpServer::start(listener, 0);
    *smtp.mode.lock().unwrap() = SmtpMode::Refuse;
    let out = ws.run(&["digest", "send", "--alert", "mail"]).await;
    assert_ne!(out.code, 0, "{}", out.stdout);
    assert!(
        out.stdout.contains("0 delivered, 2 will be retried"),
        "{}",
        out.stdout
    );
    assert_eq!(smtp.refused.load(Ordering::Relaxed), 2);
    assert!(smtp.accepted().is_empty());

    // Recovery: both digests delivered, once.
    *smtp.mode.lock().unwrap() = SmtpMode::Accept;
    let out = ws.run(&["digest", "send", "--alert", "mail"]).await;
    assert_eq!(out.code, 0, "{} {}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains("0 digests built; 2 delivered"),
        "{}",
        out.stdout
    );
    // Nothing left: a further send sends nothing.
    let out = ws.run(&["digest", "send", "--alert", "mail", "--now"]).await;
    assert!(
        out.stdout.contains("0 digests built; 0 delivered"),
        "{}",
        out.stdout
    );
    let messages = smtp.accepted();
    assert_eq!(messages.len(), 2, "one e-mail per digest, none repeated");

    let all_urls: BTreeSet<String> = world.articles().into_keys().collect();
    let (mail, repeats) = mail_digests(&messages, &all_urls);
    assert_eq!(repeats, 0);
    let outbox = digests_in_db(&ws, "mail").await;
    assert_exactly_once("mail", &mail, &outbox, &world.matching_urls());
    let list = jsonl(&ws.run(&["digests", "list", "--format", "jsonl"]).await.stdout);
    for d in &list {
        assert_eq!(d["status"], "delivered", "{d}");
        assert!(d["last_error"].is_null(), "{d}");
    }
    assert_database_sound(&ws).await;
}

/// Makes files immutable (`chattr +i`) until dropped. Immutability holds
/// for root and for file descriptors already open, unlike `chmod`.
struct Immutable(Vec<PathBuf>);

impl Immutable {
    fn set(paths: Vec<PathBuf>) -> std::io::Result<Immutable> {
        let mut done = Immutable(Vec::new());
        for path in paths {
            let status = std::process::Command::new("chattr")
                .arg("+i")
                .arg(&path)
                .stderr(std::process::Stdio::null())
                .status()?;
            if !status.success() {
                return Err(std::io::Error::other(format!(
                    "chattr +i {} failed",
                    path.display()
                )));
            }
            done.0.push(path);
        }
        Ok(done)
    }
}

impl Drop for Immutable {
    fn drop(&mut self) {
        for path in &self.0 {
            let _ = std::process::Command::new("chattr").arg("-i").arg(path).status();
        }
    }
}

/// Polls `check` every 100 ms until it holds or `timeout` passes (then
/// fails, showing the end of the daemon's `log`).
async fn wait_for<F, Fut>(what: &str, timeout: Duration, log: &Path, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + timeout;
    while !check().await {
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}; daemon log:\n{}",
            tail(log, 30)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn read_only_database_is_reported_and_recovered() {
    let server = FeedServer::start().await;
    let mut world = World::new(11, 3);
    for feed in 0..3 {
        world.add(feed, 0);
        world.add(feed, 3);
    }
    world.publish(&server);
    let extra = "[poll]\ninterval = \"1s\"\nper_host_concurrency = 8\nper_host_spacing = \"0s\"\n\
                 [retention]\nunmatched = \"3650d\"\n\
                 [[channel]]\nname = \"jsonl\"\nkind = \"file\"\npath = \"out/digests.jsonl\"\n\
                 [[alert]]\nname = \"ro\"\ntopics = [\"k\"]\nschedule = \"immediate 1s\"\nchannels = [\"jsonl\"]\n";
    let feeds: Vec<(String, String)> = (0..3)
        .map(|i| (server.url(&feed_path(i)), format!("Feed {i:02}")))
        .collect();
    let feed_refs: Vec<(&str, &str)> = feeds.iter().map(|(u, n)| (u.as_str(), n.as_str())).collect();
    let ws = Workspace::new(&feed_refs, &[TOPIC], extra);
    let log = ws.dir.path().join("daemon.log");
    let mut daemon = spawn_daemon(&ws, &log);
    // `search --count` (a failure, e.g. before the database exists, is "not yet").
    let stored = |n: usize| {
        let ws = &ws;
        async move {
            let out = ws.run(&["search", "--count"]).await;
            out.code == 0 && out.stdout.trim() == n.to_string()
        }
    };
    wait_for("the first items", Duration::from_secs(20), &log, || stored(6)).await;

    // The database file and its WAL become unwritable under the daemon.
    let mut wal = ws.db_path().into_os_string();
    wal.push("-wal");
    let wal = PathBuf::from(wal);
    assert!(wal.exists(), "the daemon keeps its WAL open");
    let frozen = match Immutable::set(vec![ws.db_path(), wal]) {
        Ok(frozen) => frozen,
        Err(error) => {
            // chattr +i needs CAP_LINUX_IMMUTABLE and an ext2/3/4-like file
            // system; without it nothing here can make open files unwritable.
            eprintln!("SKIPPED read_only_database_is_reported_and_recovered: {error}");
            return;
        }
    };
    // News arrives while nothing can be written.
    for feed in 0..3 {
        world.add(feed, 0);
    }
    world.publish(&server);
    let logged = || {
        let log = &log;
        async move {
            std::fs::read_to_string(log)
                .unwrap_or_default()
                .contains("cannot store feed result")
        }
    };
    // A write that finds the connection lost may first wait out the write
    // pool's 30 s acquire timeout (sqlx retries the connect meanwhile), and
    // queue behind another task's wait (digests, the daemon's checkpoint)
    // that started before it: under load the first error came after 46 s.
    wait_for(
        "the store error in the log",
        Duration::from_secs(90),
        &log,
        logged,
    )
    .await;
    // It keeps trying for a while, and stays up; nothing half-written shows.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(
        daemon.try_wait().unwrap().is_none(),
        "the daemon died on a read-only database:\n{}",
        tail(&log, 30)
    );
    assert_eq!(ws.search(&[]).await.len(), 6, "nothing new could be stored");
    let log_text = std::fs::read_to_string(&log).unwrap();
    let error_line = log_text
        .lines()
        .find(|l| l.contains("cannot store feed result"))
        .unwrap();
    println!("logged while read-only: {error_line}");
    assert!(error_line.contains("ERROR"), "{error_line}");
    // One line for the episode, naming the feed whose result was lost
    // first (which of the three is a race).
    assert!(
        error_line.contains(&server.url("/feed")),
        "names the feed: {error_line}"
    );

    // Writable again: the daemon resumes by itself, nothing is lost.
    drop(frozen);
    wait_for(
        "the items fetched while read-only",
        Duration::from_secs(20),
        &log,
        || stored(9),
    )
    .await;
    world.add(2, 0);
    world.publish(&server);
    wait_for("an item after recovery", Duration::from_secs(20), &log, || {
        stored(10)
    })
    .await;
    assert!(daemon.try_wait().unwrap().is_none());

    assert!(std::process::Command::new("kill")
        .args(["-TERM", &daemon.id().unwrap().to_string()])
        .status()
        .unwrap()
        .success());
    let status = tokio::time::timeout(Duration::from_secs(15), daemon.wait())
        .await
        .expect("the daemon stops on SIGTERM")
        .unwrap();
    assert_eq!(status.code(), Some(0), "{}", tail(&log, 30));
    // For the record: what the daemon said while it could not write.
    let log_text = std::fs::read_to_string(&log).unwrap();
    let problems: Vec<&str> = log_text
        .lines()
        .filter(|l| l.contains(" ERROR ") || l.contains(" WARN "))
        .collect();
    println!("{} errors/warnings logged, first ones:", problems.len());
    for line in problems.iter().take(4) {
        println!("  {line}");
    }

    let out = ws.run(&["digest", "send", "--alert", "ro", "--now"]).await;
    assert_eq!(out.code, 0, "{} {}", out.stdout, out.stderr);
    assert_database_sound(&ws).await;
    assert_items_stored_once(&ws, &server, &world).await;
    let file = file_digests(&ws.dir.path().join("out/digests.jsonl"));
    assert_exactly_once(
        "jsonl",
        &file,
        &digests_in_db(&ws, "jsonl").await,
        &world.matching_urls(),
    );
}
