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
    /// The authority of the certificate the server presents for TLS; why
    /// there is none (the server is someone else's, or no `openssl`).
    certificate: Result<PathBuf, String>,
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
    // A server that accepts TCP connections may still be starting up.
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut admin = loop {
        match sqlx::PgConnection::connect(&format!("{}/postgres", server.base)).await {
            Ok(connection) => break connection,
            Err(error) if Instant::now() < deadline => {
                tracing::debug!(%error, "the test PostgreSQL server is not ready yet");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(error) => panic!("cannot connect to the test PostgreSQL server: {error}"),
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
        return Server {
            base,
            certificate: Err("FEEDWATCH_TEST_POSTGRES names a server set up by someone else".into()),
            _watcher: None,
        };
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
    let tls = tls(&data, &run_as);
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
        "-c".into(),
        format!("ssl={}", if tls.is_ok() { "on" } else { "off" }),
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
    let base = format!("postgres://postgres@127.0.0.1:{port}");
    if tls.is_ok() {
        admin_sql(&base, &format!("CREATE ROLE {TLS_ROLE} LOGIN CREATEDB"));
    }
    Server {
        base,
        certificate: tls,
        _watcher: Some(Mutex::new(watcher)),
    }
}

/// The role that may connect only over TLS (`hostssl` in `pg_hba.conf`).
pub const TLS_ROLE: &str = "fw_tls";

/// A new empty database owned by [`TLS_ROLE`], which the server admits
/// over TLS only; its URL (without TLS options) and the certificate of the
/// authority that signed the server's (for 127.0.0.1). `Err`: why the
/// server has no TLS set up by the tests.
pub async fn tls_database() -> Result<(String, PathBuf), String> {
    let server = SERVER.get_or_init(start);
    let certificate = server.certificate.clone()?;
    let name = format!(
        "fw_{}_{}",
        std::process::id(),
        DATABASES.fetch_add(1, Ordering::Relaxed)
    );
    let base = server.base.clone();
    let owner = format!("CREATE DATABASE {name} OWNER {TLS_ROLE}");
    tokio::task::spawn_blocking(move || admin_sql(&base, &owner))
        .await
        .unwrap();
    let port = server.base.rsplit(':').next().unwrap();
    Ok((
        format!("postgres://{TLS_ROLE}@127.0.0.1:{port}/{name}"),
        certificate,
    ))
}

/// Runs `sql` on the server's `postgres` database as the admin, waiting
/// for a server that is still starting; on a thread of its own, so that
/// callers inside a runtime may block on it.
fn admin_sql(base: &str, sql: &str) {
    let (base, sql) = (base.to_string(), sql.to_string());
    std::thread::spawn(move || admin_sql_here(&base, &sql))
        .join()
        .expect("admin statement on the test server");
}

fn admin_sql_here(base: &str, sql: &str) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut admin = loop {
            match sqlx::PgConnection::connect(&format!("{base}/postgres")).await {
                Ok(connection) => break connection,
                Err(_) if Instant::now() < deadline => tokio::time::sleep(Duration::from_millis(100)).await,
                Err(error) => panic!("cannot connect to the test PostgreSQL server: {error}"),
            }
        };
        sqlx::query(sql).execute(&mut admin).await.unwrap();
        admin.close().await.ok();
    });
}

/// Sets the cluster in `data` up for TLS: a certificate for 127.0.0.1
/// signed by a throwaway authority (made with the `openssl` command, which
/// Debian's `postgresql` package pulls in), and [`TLS_ROLE`] admitted over
/// TLS only. The authority's certificate; without `openssl`, why not (only
/// the TLS test fails, saying so).
fn tls(data: &std::path::Path, run_as: &dyn Fn(PathBuf) -> Command) -> Result<PathBuf, String> {
    // An authority and the server's certificate signed by it (rustls
    // refuses a self-signed certificate as the server's own).
    let script = "set -e
        openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=feedwatch-test-authority \\
            -keyout authority.key -out authority.crt
        openssl req -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 -keyout server.key -out server.csr
        printf 'subjectAltName=IP:127.0.0.1\\nbasicConstraints=CA:FALSE\\n' > server.ext
        openssl x509 -req -in server.csr -CA authority.crt -CAkey authority.key -CAcreateserial \\
            -days 2 -extfile server.ext -out server.crt
        chmod 600 server.key";
    if let Err(error) = Command::new("openssl").arg("version").output() {
        return Err(format!(
            "the TLS test needs the openssl command (Debian: openssl) to make certificates: {error}"
        ));
    }
    let made = run_as(PathBuf::from("sh"))
        .args(["-c", script])
        .current_dir(data)
        .output()
        .unwrap();
    assert!(
        made.status.success(),
        "openssl could not make the test server's certificate: {}",
        String::from_utf8_lossy(&made.stderr)
    );
    let hba = data.join("pg_hba.conf");
    let rules = std::fs::read_to_string(&hba).unwrap();
    std::fs::write(
        &hba,
        format!(
            "hostssl all {TLS_ROLE} 127.0.0.1/32 trust\nhost all {TLS_ROLE} 127.0.0.1/32 reject\nlocal all {TLS_ROLE} reject\n{rules}"
        ),
    )
    .unwrap();
    Ok(data.join("authority.crt"))
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
