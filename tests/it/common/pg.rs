//! A throwaway PostgreSQL server for the tests: one per test process, one
//! fresh database per test.
//!
//! `FEEDWATCH_TEST_POSTGRES` (a URL of a role that may create databases)
//! points the tests at a running server. Without it the first test that
//! needs PostgreSQL starts one: `initdb` into a temp directory and
//! `postgres` on a free loopback port, from the server binaries on `PATH`
//! or in `/usr/lib/postgresql/<version>/bin` (Debian's `postgresql`
//! package; `.ci/run` installs it). As root, the server runs as the
//! `postgres` user (PostgreSQL refuses root). It stops, and its directory
//! is removed, when the test process exits (it watches the test process's
//! end of a pipe). Without either, the tests that need it fail and say so.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use sqlx::Connection;

struct Server {
    /// The admin URL (database `postgres`), without a trailing slash path.
    base: String,
    /// The watcher holding the server; its stdin closes with this process.
    _watcher: Option<Mutex<Child>>,
}

static SERVER: OnceLock<Server> = OnceLock::new();
static DATABASES: AtomicU32 = AtomicU32::new(0);

/// A new empty database on the test server, as a `[store] url`.
pub async fn database() -> String {
    let server = SERVER.get_or_init(start);
    let name = format!(
        "fw_{}_{}",
        std::process::id(),
        DATABASES.fetch_add(1, Ordering::Relaxed)
    );
    // The server accepts connections before it can serve them ("the
    // database system is starting up"): retry those for a while.
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut admin = loop {
        match sqlx::PgConnection::connect(&format!("{}/postgres", server.base)).await {
            Err(sqlx::Error::Database(e))
                if e.code().as_deref() == Some("57P03") && Instant::now() < deadline =>
            {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            connected => break connected.expect("connect to the test PostgreSQL server"),
        }
    };
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .await
        .expect("create a test database");
    admin.close().await.ok();
    format!("{}/{name}", server.base)
}

fn start() -> Server {
    if let Ok(url) = std::env::var("FEEDWATCH_TEST_POSTGRES") {
        let base = match url.rfind('/') {
            Some(i) if i > "postgres://".len() => url[..i].to_string(),
            _ => url.trim_end_matches('/').to_string(),
        };
        return Server { base, _watcher: None };
    }
    let bin = server_binaries().unwrap_or_else(|| {
        panic!(
            "the PostgreSQL tests need PostgreSQL's server binaries (initdb, postgres: \
             Debian's `postgresql` package, which .ci/run installs) or \
             FEEDWATCH_TEST_POSTGRES=postgres://user@host:port/db naming a server where \
             that user may create databases"
        )
    });
    let dir = tempfile::Builder::new()
        .prefix("feedwatch-pg-")
        .tempdir()
        .unwrap()
        .keep();
    let data = dir.join("data");
    std::fs::create_dir(&data).unwrap();
    let as_root = unsafe { libc::geteuid() } == 0;
    if as_root {
        let status = Command::new("chown")
            .args(["-R", "postgres:postgres"])
            .arg(&dir)
            .status()
            .unwrap();
        assert!(status.success(), "chown the test cluster's directory to postgres");
    }
    let run_as = |program: PathBuf| {
        if as_root {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(program);
            command
        } else {
            Command::new(program)
        }
    };
    let init = run_as(bin.join("initdb"))
        .args(["-D"])
        .arg(&data)
        .args([
            "-U",
            "postgres",
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C.UTF-8",
            "-N",
        ])
        .output()
        .expect("run initdb");
    assert!(
        init.status.success(),
        "initdb failed: {}",
        String::from_utf8_lossy(&init.stderr)
    );
    let port = super::free_port();
    // The watcher: starts the server, waits for its stdin to close (this
    // process ending), then stops the server fast and removes the cluster.
    // As root it runs as `postgres` as a whole, so that the pid it signals
    // is the server's.
    let postgres = shell_words(&[
        bin.join("postgres").to_string_lossy().into_owned(),
        "-D".into(),
        data.to_string_lossy().into_owned(),
        "-p".into(),
        port.to_string(),
        "-k".into(),
        dir.to_string_lossy().into_owned(),
        "-c".into(),
        "listen_addresses=127.0.0.1".into(),
        "-c".into(),
        "max_connections=400".into(),
        "-c".into(),
        "fsync=off".into(),
        "-c".into(),
        "synchronous_commit=off".into(),
        "-c".into(),
        "full_page_writes=off".into(),
    ]);
    let script = format!(
        "{postgres} & pid=$!; read _; kill -INT $pid; wait $pid; rm -rf '{}'",
        dir.display()
    );
    let log_path = dir.join("server.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let mut watcher = run_as(PathBuf::from("sh"))
        .args(["-c", &script])
        .stdin(Stdio::piped())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .expect("start the test PostgreSQL server");
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "the test PostgreSQL server did not start (see {})",
            log_path.display()
        );
        if let Ok(Some(status)) = watcher.try_wait() {
            panic!("the test PostgreSQL server exited: {status}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    // Keep the pipe open (never written) for as long as this process runs.
    let _ = watcher.stdin.as_mut().map(|s| s.flush());
    Server {
        base: format!("postgres://postgres@127.0.0.1:{port}"),
        _watcher: Some(Mutex::new(watcher)),
    }
}

fn shell_words(words: &[String]) -> String {
    words
        .iter()
        .map(|w| format!("'{}'", w.replace('\'', r"'\''")))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The directory holding `initdb` and `postgres`.
fn server_binaries() -> Option<PathBuf> {
    let on_path = std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .find(|dir| dir.join("initdb").is_file() && dir.join("postgres").is_file())
    });
    on_path.or_else(|| {
        let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
            .ok()?
            .filter_map(|e| Some(e.ok()?.path().join("bin")))
            .filter(|bin| bin.join("initdb").is_file())
            .collect();
        versions.sort();
        versions.pop()
    })
}
