//! Per-host politeness: at most `concurrency` requests to one host at a
//! time, and at least `spacing` between the starts of two of them.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

/// Limits shared by every fetch. Cheap to clone.
#[derive(Debug, Clone)]
pub struct HostLimiter {
    concurrency: usize,
    spacing: Duration,
    hosts: Arc<Mutex<HashMap<String, Arc<Host>>>>,
}

#[derive(Debug)]
struct Host {
    slots: Arc<Semaphore>,
    /// The earliest start of the next request.
    next_start: tokio::sync::Mutex<Instant>,
}

/// Held while a request to the host is in flight.
#[derive(Debug)]
pub struct HostPermit {
    _slot: Option<OwnedSemaphorePermit>,
}

impl HostLimiter {
    pub fn new(concurrency: usize, spacing: Duration) -> Self {
        Self {
            concurrency: concurrency.max(1),
            spacing,
            hosts: Arc::default(),
        }
    }

    /// The most requests to one host in flight at once.
    pub fn concurrency(&self) -> usize {
        self.concurrency
    }

    /// The minimum time between the starts of two requests to one host.
    pub fn spacing(&self) -> Duration {
        self.spacing
    }

    /// The key of a URL's host: host and port; empty for URLs without a
    /// host (`file://`), which no server needs protecting from.
    pub fn key(url: &str) -> String {
        match url::Url::parse(url) {
            Ok(u) => match u.host_str() {
                Some(host) if !host.is_empty() => {
                    format!("{host}:{}", u.port_or_known_default().unwrap_or(0))
                }
                _ => String::new(),
            },
            Err(_) => String::new(),
        }
    }

    /// Waits for a slot on `host` and for its spacing; an empty key (no
    /// host) is not limited.
    pub async fn acquire(&self, host: &str) -> HostPermit {
        if host.is_empty() {
            return HostPermit { _slot: None };
        }
        let state = {
            let mut hosts = self.hosts.lock().expect("host map lock is never poisoned");
            Arc::clone(hosts.entry(host.to_string()).or_insert_with(|| {
                Arc::new(Host {
                    slots: Arc::new(Semaphore::new(self.concurrency)),
                    next_start: tokio::sync::Mutex::new(Instant::now()),
                })
            }))
        };
        let slot = Arc::clone(&state.slots)
            .acquire_owned()
            .await
            .expect("host semaphores are never closed");
        if !self.spacing.is_zero() {
            let mut next = state.next_start.lock().await;
            let start = (*next).max(Instant::now());
            *next = start + self.spacing;
            drop(next);
            tokio::time::sleep_until(start).await;
        }
        HostPermit { _slot: Some(slot) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn spaces_and_bounds_requests_per_host() {
        let limiter = HostLimiter::new(2, Duration::from_secs(1));
        let t0 = Instant::now();
        let a = limiter.acquire("a:80").await;
        let b = limiter.acquire("a:80").await;
        assert_eq!(
            t0.elapsed(),
            Duration::from_secs(1),
            "second start waits for the spacing"
        );
        // Local files have no host and are not held back.
        assert_eq!(HostLimiter::key("file:///srv/feeds/a.xml"), "");
        let t_files = Instant::now();
        let _f1 = limiter.acquire("").await;
        let _f2 = limiter.acquire("").await;
        let _f3 = limiter.acquire("").await;
        assert_eq!(t_files.elapsed(), Duration::ZERO);
        // Another host is not held back.
        let t1 = Instant::now();
        let _c = limiter.acquire("b:80").await;
        assert_eq!(t1.elapsed(), Duration::ZERO);
        // A third request to a:80 waits for a slot.
        let limiter2 = limiter.clone();
        let third = tokio::spawn(async move {
            let _p = limiter2.acquire("a:80").await;
            Instant::now()
        });
        tokio::time::sleep(Duration::from_secs(5)).await;
        assert!(!third.is_finished(), "both slots are taken");
        drop(a);
        let started = third.await.unwrap();
        assert_eq!(started - t0, Duration::from_secs(6));
        drop(b);
    }
}
