//! systemd service notifications (`sd_notify`): readiness, status, watchdog
//! pings, reload and stop. Every function is a no-op when the process was
//! not started by systemd (no `NOTIFY_SOCKET`), and a failure to notify is
//! logged, never fatal.

use std::time::Duration;

use sd_notify::NotifyState;

/// Whether systemd listens (`NOTIFY_SOCKET` is set).
pub fn enabled() -> bool {
    std::env::var_os("NOTIFY_SOCKET").is_some()
}

fn send(states: &[NotifyState]) {
    if !enabled() {
        return;
    }
    if let Err(error) = sd_notify::notify(false, states) {
        tracing::warn!(%error, "cannot notify systemd");
    }
}

/// `READY=1`: configuration loaded, database migrated, work starting.
pub fn ready(status: &str) {
    send(&[NotifyState::Ready, NotifyState::Status(status)]);
}

/// `STATUS=…`: a one-line summary shown by `systemctl status`.
pub fn status(status: &str) {
    send(&[NotifyState::Status(status)]);
}

/// `WATCHDOG=1`: the scheduler loop is alive.
pub fn watchdog() {
    send(&[NotifyState::Watchdog]);
}

/// `RELOADING=1`: a configuration reload began (`ready` ends it).
pub fn reloading() {
    let mut states = vec![NotifyState::Reloading];
    if let Ok(now) = NotifyState::monotonic_usec_now() {
        states.push(now);
    }
    send(&states);
}

/// `STOPPING=1`: shutdown began.
pub fn stopping() {
    send(&[NotifyState::Stopping]);
}

/// How often to ping the watchdog: half of `WatchdogSec=`, if enabled.
pub fn watchdog_interval() -> Option<Duration> {
    let mut usec = 0;
    sd_notify::watchdog_enabled(false, &mut usec).then(|| Duration::from_micros(usec) / 2)
}
