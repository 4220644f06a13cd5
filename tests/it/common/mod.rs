//! Test helpers: an in-process HTTP server on 127.0.0.1 serving feed bytes,
//! and a runner for the real `feedwatch` binary against a temp config.
#![allow(dead_code)]

pub mod pg;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};

/// What the server answers on a path.
#[derive(Clone)]
pub enum Route {
    /// A feed with a strong ETag; answers 304 to a matching If-None-Match.
    Feed {
        body: String,
        content_type: &'static str,
    },
    /// A feed without validators: always 200 with the full body.
    NoValidators { body: String },
    /// A bare status.
    Status(u16),
    /// Arbitrary bytes with a content type.
    Raw {
        body: Vec<u8>,
        content_type: &'static str,
    },
    /// Accepts the request and never answers.
    Stall,
    /// A server that changes the body but never its ETag: 304 whenever the
    /// request carries that ETag.
    StaleValidators { body: String },
    /// A redirect with this status to `to` (a path or URL).
    Redirect { status: u16, to: String },
    /// Bytes with arbitrary headers (content type, encoding, cache…).
    WithHeaders {
        status: u16,
        headers: Vec<(&'static str, String)>,
        body: Vec<u8>,
    },
    /// A 200 whose body comes one byte every `every`.
    Drip { body: Vec<u8>, every: Duration },
    /// A 200 whose body never ends: `head`, then `chunk` forever, as fast
    /// as the client reads (chunked, no length).
    Endless { head: Vec<u8>, chunk: Vec<u8> },
    /// A 200 declaring `Content-Length: len` and streaming that many bytes
    /// of `chunk` repeated (nothing that large is held in memory).
    Huge { chunk: Vec<u8>, len: u64 },
}

/// One request the server saw.
#[derive(Clone, Debug)]
pub struct Seen {
    pub path: String,
    pub if_none_match: Option<String>,
    pub status: u16,
    /// When the request arrived.
    pub at: std::time::Instant,
}

#[derive(Clone, Default)]
struct Shared {
    routes: Arc<Mutex<HashMap<String, Route>>>,
    log: Arc<Mutex<Vec<Seen>>>,
}

/// An HTTP server on 127.0.0.1 with routes that tests can change.
pub struct FeedServer {
    pub base: String,
    shared: Shared,
}

impl FeedServer {
    pub async fn start() -> FeedServer {
        let shared = Shared::default();
        let app = axum::Router::new().fallback(handle).with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        FeedServer { base, shared }
    }

    pub fn set(&self, path: &str, route: Route) {
        self.shared.routes.lock().unwrap().insert(path.to_string(), route);
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// Requests seen on `path`, oldest first.
    pub fn seen(&self, path: &str) -> Vec<Seen> {
        self.shared
            .log
            .lock()
            .unwrap()
            .iter()
            .filter(|s| s.path == path)
            .cloned()
            .collect()
    }
}

async fn handle(State(shared): State<Shared>, uri: Uri, headers: HeaderMap) -> Response {
    let path = uri.path().to_string();
    let if_none_match = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let route = shared.routes.lock().unwrap().get(&path).cloned();
    let response = match route {
        None => StatusCode::NOT_FOUND.into_response(),
        Some(Route::Feed { body, content_type }) => {
            let etag = format!("\"{:016x}\"", fxhash(body.as_bytes()));
            if if_none_match.as_deref() == Some(etag.as_str()) {
                (StatusCode::NOT_MODIFIED, [(header::ETAG, etag)]).into_response()
            } else {
                (
                    [
                        (header::CONTENT_TYPE, content_type.to_string()),
                        (header::ETAG, etag),
                    ],
                    body,
                )
                    .into_response()
            }
        }
        Some(Route::NoValidators { body }) => {
            ([(header::CONTENT_TYPE, "application/rss+xml")], body).into_response()
        }
        Some(Route::Status(code)) => StatusCode::from_u16(code).unwrap().into_response(),
        Some(Route::Raw { body, content_type }) => {
            ([(header::CONTENT_TYPE, content_type)], Body::from(body)).into_response()
        }
        Some(Route::StaleValidators { body }) => {
            let etag = "\"never-changes\"".to_string();
            if if_none_match.as_deref() == Some(etag.as_str()) {
                (StatusCode::NOT_MODIFIED, [(header::ETAG, etag)]).into_response()
            } else {
                (
                    [
                        (header::CONTENT_TYPE, "application/rss+xml".to_string()),
                        (header::ETAG, etag),
                    ],
                    body,
                )
                    .into_response()
            }
        }
        Some(Route::Redirect { status, to }) => {
            (StatusCode::from_u16(status).unwrap(), [(header::LOCATION, to)]).into_response()
        }
        Some(Route::WithHeaders {
            status,
            headers,
            body,
        }) => {
            let mut response = Response::new(Body::from(body));
            *response.status_mut() = StatusCode::from_u16(status).unwrap();
            for (name, value) in headers {
                response.headers_mut().insert(name, value.parse().unwrap());
            }
            response
        }
        Some(Route::Drip { body, every }) => {
            let stream = futures_util::stream::unfold(0usize, move |at| {
                let body = body.clone();
                async move {
                    if at >= body.len() {
                        return None;
                    }
                    if at > 0 {
                        tokio::time::sleep(every).await;
                    }
                    let byte = axum::body::Bytes::copy_from_slice(&body[at..=at]);
                    Some((Ok::<_, std::io::Error>(byte), at + 1))
                }
            });
            (
                [(header::CONTENT_TYPE, "application/rss+xml")],
                Body::from_stream(stream),
            )
                .into_response()
        }
        Some(Route::Endless { head, chunk }) => {
            let chunk = axum::body::Bytes::from(chunk);
            let stream = futures_util::stream::unfold(Some(head), move |head| {
                let next = match head {
                    Some(head) => axum::body::Bytes::from(head),
                    None => chunk.clone(),
                };
                async move { Some((Ok::<_, std::io::Error>(next), None)) }
            });
            (
                [(header::CONTENT_TYPE, "application/rss+xml")],
                Body::from_stream(stream),
            )
                .into_response()
        }
        Some(Route::Huge { chunk, len }) => {
            let chunk = axum::body::Bytes::from(chunk);
            let stream = futures_util::stream::unfold(len, move |left| {
                let chunk = chunk.clone();
                async move {
                    if left == 0 {
                        return None;
                    }
                    let n = chunk.len().min(usize::try_from(left).unwrap_or(usize::MAX));
                    Some((Ok::<_, std::io::Error>(chunk.slice(..n)), left - n as u64))
                }
            });
            (
                [
                    (header::CONTENT_TYPE, "application/rss+xml".to_string()),
                    (header::CONTENT_LENGTH, len.to_string()),
                ],
                Body::from_stream(stream),
            )
                .into_response()
        }
        Some(Route::Stall) => {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            StatusCode::OK.into_response()
        }
    };
    shared.log.lock().unwrap().push(Seen {
        path,
        if_none_match,
        status: response.status().as_u16(),
        at: std::time::Instant::now(),
    });
    response
}

fn fxhash(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// An RSS 2.0 document with the given `(guid, title, description)` items.
pub fn rss(items: &[(&str, &str, &str)]) -> String {
    let mut out = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><rss version=\"2.0\"><channel><title>Test feed</title>\
         <link>https://test.example/</link><description>d</description>",
    );
    for (i, (guid, title, text)) in items.iter().enumerate() {
        out.push_str(&format!(
            "<item><guid>{guid}</guid><title>{title}</title><link>https://test.example/{guid}</link>\
             <pubDate>Sat, 23 Sep 2017 {:02}:00:00 +0000</pubDate><description>{text}</description></item>",
            i % 24
        ));
    }
    out.push_str("</channel></rss>");
    out
}

/// Where a test's store is: the tests that hold for both backends run on
/// each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub const ALL: [Backend; 2] = [Backend::Sqlite, Backend::Postgres];

    /// A new empty store's `Location` on this backend (`dir` holds a SQLite file).
    pub async fn location(self, dir: &Path) -> feedwatch::store::Location {
        match self {
            Backend::Sqlite => feedwatch::store::Location::Sqlite(dir.join("feedwatch.db")),
            Backend::Postgres => feedwatch::store::Location::from_url(&pg::database().await).unwrap(),
        }
    }
}

/// A temp directory with a config file; runs the real binary against it.
pub struct Workspace {
    pub dir: tempfile::TempDir,
}

pub struct Output {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Workspace {
    /// `feeds` are `(url, name)`; `topics` are `(name, query)`; `extra` is
    /// added to the config (e.g. a `[fetch]` table). The SSRF guard is off
    /// (`[fetch] allow_private_networks = true`): the test server is on
    /// 127.0.0.1.
    pub fn new(feeds: &[(&str, &str)], topics: &[(&str, &str)], extra: &str) -> Workspace {
        let dir = tempfile::tempdir().unwrap();
        let mut tables: toml::Table = extra.parse().expect("extra config is TOML");
        tables
            .entry("fetch")
            .or_insert_with(|| toml::Value::Table(toml::Table::new()))
            .as_table_mut()
            .expect("[fetch] is a table")
            .entry("allow_private_networks")
            .or_insert(toml::Value::Boolean(true));
        let mut config = format!("{tables}\n[store]\npath = \"data/feedwatch.db\"\n");
        for (url, name) in feeds {
            config.push_str(&format!("[[feed]]\nurl = {url:?}\nname = {name:?}\n"));
        }
        for (name, query) in topics {
            config.push_str(&format!("[[topic]]\nname = {name:?}\nquery = '{query}'\n"));
        }
        std::fs::write(dir.path().join("feedwatch.toml"), config).unwrap();
        Workspace { dir }
    }

    /// As [`Workspace::new`], with the store on `backend` (a fresh
    /// database on the test PostgreSQL server for [`Backend::Postgres`]).
    pub async fn on(
        backend: Backend,
        feeds: &[(&str, &str)],
        topics: &[(&str, &str)],
        extra: &str,
    ) -> Workspace {
        let workspace = Workspace::new(feeds, topics, extra);
        if backend == Backend::Postgres {
            let url = pg::database().await;
            let path = workspace.config_path();
            let config = std::fs::read_to_string(&path).unwrap().replace(
                "[store]\npath = \"data/feedwatch.db\"\n",
                &format!("[store]\nurl = {url:?}\n"),
            );
            std::fs::write(&path, config).unwrap();
        }
        workspace
    }

    pub fn with_config(config: &str) -> Workspace {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("feedwatch.toml"), config).unwrap();
        Workspace { dir }
    }

    pub fn config_path(&self) -> PathBuf {
        self.dir.path().join("feedwatch.toml")
    }

    pub fn db_path(&self) -> PathBuf {
        self.dir.path().join("data/feedwatch.db")
    }

    /// Runs `feedwatch --config <this config> args…`.
    pub async fn run(&self, args: &[&str]) -> Output {
        run_with_config(&self.config_path(), args).await
    }

    /// `search --format jsonl` plus extra args, parsed.
    pub async fn search(&self, extra: &[&str]) -> Vec<serde_json::Value> {
        let mut args = vec!["search", "--format", "jsonl"];
        if !extra.contains(&"--limit") {
            args.extend(["--limit", "1000"]);
        }
        args.extend_from_slice(extra);
        let out = self.run(&args).await;
        assert_eq!(out.code, 0, "search {args:?} failed: {}", out.stderr);
        jsonl(&out.stdout)
    }

    /// `feeds list --format jsonl`, by URL.
    pub async fn feeds(&self) -> HashMap<String, serde_json::Value> {
        let out = self.run(&["feeds", "list", "--format", "jsonl"]).await;
        assert_eq!(out.code, 0, "feeds list failed: {}", out.stderr);
        jsonl(&out.stdout)
            .into_iter()
            .map(|v| (v["url"].as_str().unwrap().to_string(), v))
            .collect()
    }

    /// Runs `feedwatch --config <this config> args…` with every plain-HTTP
    /// request going through the HTTP proxy at `proxy` (the test server):
    /// made-up host names reach it with the SSRF guard on.
    pub async fn run_through_proxy(&self, proxy: &str, args: &[&str]) -> Output {
        let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_feedwatch"));
        command.arg("--config").arg(self.config_path()).args(args);
        command.env("http_proxy", proxy).env("HTTP_PROXY", proxy);
        for unset in [
            "https_proxy",
            "HTTPS_PROXY",
            "all_proxy",
            "ALL_PROXY",
            "no_proxy",
            "NO_PROXY",
        ] {
            command.env_remove(unset);
        }
        output(command).await
    }
}

pub async fn run_with_config(config: &Path, args: &[&str]) -> Output {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_feedwatch"));
    command.arg("--config").arg(config).args(args);
    output(command).await
}

/// Runs `command` (logging as configured, not as the environment says)
/// to its end.
async fn output(mut command: tokio::process::Command) -> Output {
    let output = command
        .env_remove("FEEDWATCH_LOG")
        .env_remove("RUST_LOG")
        .output()
        .await
        .unwrap();
    Output {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8(output.stdout).unwrap(),
        stderr: String::from_utf8(output.stderr).unwrap(),
    }
}

pub fn jsonl(s: &str) -> Vec<serde_json::Value> {
    s.lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

/// A loopback port free at the time of asking (nothing listens on it).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Sends `signal` (e.g. `-TERM`) to process `pid`.
pub fn kill(pid: u32, signal: &str) {
    assert!(std::process::Command::new("kill")
        .args([signal, &pid.to_string()])
        .status()
        .unwrap()
        .success());
}

/// The value of a Prometheus sample line `name value` in `metrics`.
pub fn metric(metrics: &str, name: &str) -> Option<f64> {
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
}
