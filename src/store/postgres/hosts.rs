//! Per-host politeness across the instances sharing the database: the
//! spacing between request starts (a row per host in `hosts`) and the
//! number of requests in flight (session advisory locks, one per slot, on
//! a connection of the instance's own: they go when it goes, so a killed
//! instance holds none).

use std::collections::HashSet;
use std::time::Duration;

use sqlx::postgres::types::PgInterval;
use sqlx::{ConnectOptions, Connection, PgConnection};

use super::*;

/// A request slot of a host held by this instance, until dropped.
#[derive(Debug)]
pub struct HostSlot {
    /// The connection holding the lock, and the lock's key.
    held: Option<(HostSlots, i32)>,
}

/// The connection this instance's host slots are held on (connected on
/// first use, again after it broke), and the slots held on it. Cheap to
/// clone.
#[derive(Debug, Clone, Default)]
pub(super) struct HostSlots(Arc<tokio::sync::Mutex<Held>>);

#[derive(Debug, Default)]
pub(super) struct Held {
    connection: Option<PgConnection>,
    /// The keys locked on `connection`. A session may take an advisory
    /// lock it holds again (they count up), so the instance must skip its
    /// own slots itself, or its polls would share one.
    keys: HashSet<i32>,
}

impl Held {
    /// Forgets a connection that failed: its locks went with it.
    async fn reset(&mut self) {
        self.keys.clear();
        if let Some(broken) = self.connection.take() {
            let _ = broken.close().await;
        }
    }
}

impl HostSlots {
    /// Closes the connection: every slot held on it is free.
    pub(super) async fn close(&self) {
        self.0.lock().await.reset().await;
    }
}

impl Drop for HostSlot {
    fn drop(&mut self) {
        let Some((slots, key)) = self.held.take() else {
            return;
        };
        // Unlocked on its connection, after this poll; if the runtime is
        // stopping, the connection's end unlocks it.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                let mut held = slots.0.lock().await;
                if !held.keys.remove(&key) {
                    return; // its connection is gone, and the lock with it
                }
                let Some(connection) = held.connection.as_mut() else {
                    return;
                };
                let unlocked = sqlx::query("SELECT pg_advisory_unlock($1, $2)")
                    .bind(locks::HOST_SLOTS)
                    .bind(key)
                    .execute(&mut *connection)
                    .await;
                if unlocked.is_err() {
                    held.reset().await;
                }
            });
        }
    }
}

impl PgStore {
    /// Reserves this instance's next request to `host` (a
    /// `fetch::HostLimiter` key) and says when it may start: `now`, or
    /// later when another request to the host (from any instance) started
    /// less than `spacing` before. One upsert on the host's row, so the
    /// starts of all instances together are at least `spacing` apart.
    pub async fn reserve_host(
        &self,
        host: &str,
        spacing: Duration,
        now: DateTime<Utc>,
    ) -> Result<DateTime<Utc>> {
        let spacing = PgInterval {
            months: 0,
            days: 0,
            microseconds: i64::try_from(spacing.as_micros()).unwrap_or(i64::MAX),
        };
        Ok(sqlx::query_scalar(
            "INSERT INTO hosts AS h (host, next_fetch_at) VALUES ($1, $2 + $3) \
             ON CONFLICT (host) DO UPDATE SET next_fetch_at = greatest(h.next_fetch_at, $2) + $3 \
             RETURNING next_fetch_at - $3",
        )
        .bind(host)
        .bind(now)
        .bind(spacing)
        .fetch_one(&self.pool)
        .await?)
    }

    /// Takes one of the `slots` request slots of `host` (a
    /// `fetch::HostLimiter` key) that no instance holds, or `None` when all
    /// are held: then the caller waits and asks again. Together with each
    /// instance's own limit, at most `slots` requests to a host are in
    /// flight across all instances.
    pub async fn try_host_slot(&self, host: &str, slots: usize) -> Result<Option<HostSlot>> {
        let mut held = self.host_slots.0.lock().await;
        if held.connection.is_none() {
            let options = (*self.pool.connect_options()).clone();
            held.connection = Some(options.connect().await?);
        }
        let base = host_hash(host);
        for slot in 0..slots.max(1) {
            let key = base.wrapping_add(slot as i32);
            if held.keys.contains(&key) {
                continue;
            }
            let connection = held.connection.as_mut().expect("connected above");
            let taken: std::result::Result<bool, sqlx::Error> =
                sqlx::query_scalar("SELECT pg_try_advisory_lock($1, $2)")
                    .bind(locks::HOST_SLOTS)
                    .bind(key)
                    .fetch_one(&mut *connection)
                    .await;
            match taken {
                Ok(true) => {
                    held.keys.insert(key);
                    return Ok(Some(HostSlot {
                        held: Some((self.host_slots.clone(), key)),
                    }));
                }
                Ok(false) => {}
                Err(error) => {
                    held.reset().await;
                    return Err(error.into());
                }
            }
        }
        Ok(None)
    }
}

/// The first lock key of a host's slots: a hash every instance computes
/// alike, folded to 32 bits.
fn host_hash(host: &str) -> i32 {
    let hash = super::items::fnv1a(host.as_bytes());
    (hash ^ (hash >> 32)) as i32
}
