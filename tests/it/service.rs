//! The daemon as systemd runs it: sd_notify messages on a NOTIFY_SOCKET the
//! test binds, SIGHUP reload (good and broken configs), SIGTERM.

use std::time::Duration;

use crate::common::{kill, rss, FeedServer, Route, Workspace};
use tokio::net::UnixDatagram;

/// Waits for a notification containing `what`, returning it.
async fn expect(socket: &UnixDatagram, what: &str) -> String {
    let mut buf = vec![0u8; 4096];
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let n = tokio::time::timeout_at(deadline, socket.recv(&mut buf))
            .await
            .unwrap_or_else(|_| panic!("no {what:?} notification within 15 s"))
            .unwrap();
        let message = String::from_utf8_lossy(&buf[..n]).to_string();
        if message.lines().any(|l| l == what || l.starts_with(what)) {
            return message;
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn notifies_systemd_and_reloads_on_sighup() {
    let server = FeedServer::start().await;
    server.set(
        "/s.xml",
        Route::Feed {
            body: rss(&[("s1", "Kurdistan referendum", "Akar in Erbil.")]),
            content_type: "application/rss+xml",
        },
    );
    let ws = Workspace::new(&[(&server.url("/s.xml"), "S")], &[("k", "Kurdistan")], "");
    let socket_path = ws.dir.path().join("notify.sock");
    let socket = UnixDatagram::bind(&socket_path).unwrap();
    // systemd sets WATCHDOG_PID to the service's pid; `exec` keeps the shell's.
    let mut daemon = tokio::process::Command::new("sh")
        .args([
            "-c",
            "WATCHDOG_PID=$$ exec \"$0\" \"$@\"",
            env!("CARGO_BIN_EXE_feedwatch"),
            "--config",
        ])
        .arg(ws.config_path())
        .arg("run")
        .env("NOTIFY_SOCKET", &socket_path)
        .env("WATCHDOG_USEC", "1000000")
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pid = daemon.id().unwrap();

    let ready = expect(&socket, "READY=1").await;
    assert!(ready.contains("STATUS=polling 1 feed"), "{ready}");
    assert!(!ready.contains("1 feeds"), "{ready}");
    expect(&socket, "WATCHDOG=1").await;
    // Pings keep coming while the scheduler loop passes (WatchdogSec=1s → every 0.5 s).
    expect(&socket, "WATCHDOG=1").await;
    let status = expect(&socket, "STATUS=1 feed,").await;
    assert!(status.contains("items"), "{status}");

    // Reload with a new topic: it is backfilled over the stored item.
    for _ in 0..50 {
        if ws.search(&[]).await.len() == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let config = std::fs::read_to_string(ws.config_path()).unwrap();
    std::fs::write(
        ws.config_path(),
        format!("{config}[[topic]]\nname = \"akar\"\nquery = 'Akar'\n"),
    )
    .unwrap();
    kill(pid, "-HUP");
    expect(&socket, "RELOADING=1").await;
    expect(&socket, "READY=1").await;
    // The backfill runs beside polling, after the reload.
    let mut items = Vec::new();
    for _ in 0..100 {
        items = ws.search(&["--topic", "akar"]).await;
        if !items.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(items.len(), 1, "the new topic took effect");

    // A broken config is refused; the running one stays.
    std::fs::write(
        ws.config_path(),
        format!("{config}[[topic]]\nname = \"bad\"\nquery = '(Akar'\n"),
    )
    .unwrap();
    kill(pid, "-HUP");
    expect(&socket, "RELOADING=1").await;
    expect(&socket, "READY=1").await;
    expect(&socket, "WATCHDOG=1").await;
    assert!(daemon.try_wait().unwrap().is_none(), "still running");

    kill(pid, "-TERM");
    expect(&socket, "STOPPING=1").await;
    let output = tokio::time::timeout(Duration::from_secs(10), daemon.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("configuration reloaded"), "{stderr}");
    assert!(
        stderr.contains("new configuration rejected; the running one stays")
            && stderr.contains("topic \"bad\": column 6: expected ')' to close '(' at column 1"),
        "{stderr}"
    );
}
