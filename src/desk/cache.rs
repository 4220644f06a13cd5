//! The desk's cache of aggregates (a topic's volume, outlets, languages
//! and stories; the desk's topic table; feed health): on a
//! 1,000,000-item archive each costs 0.2–2 s of reads, too slow for a
//! page. A value is computed when first asked for; once older than
//! [`FRESH`] the page gets it as it is while one refresh runs in the
//! background (stale-while-revalidate), so only a first view waits. Ages
//! come from the store's clock.

use std::any::Any;
use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};

use super::DeskError;
use crate::clock::Clock;

/// How long a value is served without a refresh.
pub const FRESH: chrono::Duration = chrono::Duration::seconds(60);

/// Entries kept at most; past that the cache starts again empty.
const MAX_ENTRIES: usize = 1000;

type Value = Arc<dyn Any + Send + Sync>;

struct Entry {
    at: DateTime<Utc>,
    value: Value,
    refreshing: bool,
}

/// Shared by every desk request of one listener.
pub struct Cache {
    clock: Clock,
    entries: Mutex<HashMap<String, Entry>>,
}

impl Cache {
    pub fn new(clock: Clock) -> Self {
        Self {
            clock,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// The value under `key` (which must name its type: one key, one
    /// type), computed by `compute` if there is none; if it is stale,
    /// `compute` refreshes it in the background (once at a time) and the
    /// stale value is returned. A failed refresh keeps the old value.
    pub async fn get<T, Fut>(
        self: &Arc<Self>,
        key: String,
        compute: impl FnOnce() -> Fut,
    ) -> Result<Arc<T>, DeskError>
    where
        T: Send + Sync + 'static,
        Fut: Future<Output = Result<T, DeskError>> + Send + 'static,
    {
        let now = self.clock.now();
        let cached = {
            let mut entries = self.entries.lock().expect("not poisoned");
            entries.get_mut(&key).map(|entry| {
                let refresh = now - entry.at >= FRESH && !entry.refreshing;
                entry.refreshing |= refresh;
                (Arc::clone(&entry.value), refresh)
            })
        };
        match cached {
            Some((value, refresh)) => {
                if refresh {
                    let cache = Arc::clone(self);
                    let computing = compute();
                    let key = key.clone();
                    tokio::spawn(async move {
                        match computing.await {
                            Ok(value) => cache.put(key, Arc::new(value)),
                            Err(error) => {
                                tracing::debug!(%error, key, "refreshing a desk aggregate failed; the old one stays");
                                if let Some(entry) = cache.entries.lock().expect("not poisoned").get_mut(&key)
                                {
                                    entry.refreshing = false;
                                }
                            }
                        }
                    });
                }
                Ok(value.downcast::<T>().expect("one key, one type"))
            }
            None => {
                let value = Arc::new(compute().await?);
                self.put(key, Arc::clone(&value) as Value);
                Ok(value)
            }
        }
    }

    /// Like [`Cache::get`], but a stale value is computed again before it
    /// is returned, by the request (for searches: within its search slot
    /// and time budget, never behind them).
    pub async fn get_fresh<T, E, Fut>(&self, key: String, compute: impl FnOnce() -> Fut) -> Result<Arc<T>, E>
    where
        T: Send + Sync + 'static,
        Fut: Future<Output = Result<T, E>>,
    {
        let now = self.clock.now();
        let cached = {
            let entries = self.entries.lock().expect("not poisoned");
            entries
                .get(&key)
                .filter(|entry| now - entry.at < FRESH)
                .map(|entry| Arc::clone(&entry.value))
        };
        if let Some(value) = cached {
            return Ok(value.downcast::<T>().expect("one key, one type"));
        }
        let value = Arc::new(compute().await?);
        self.put(key, Arc::clone(&value) as Value);
        Ok(value)
    }

    fn put(&self, key: String, value: Value) {
        let mut entries = self.entries.lock().expect("not poisoned");
        if entries.len() >= MAX_ENTRIES && !entries.contains_key(&key) {
            entries.clear();
        }
        entries.insert(
            key,
            Entry {
                at: self.clock.now(),
                value,
                refreshing: false,
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test(start_paused = true)]
    async fn fresh_values_are_reused_and_stale_ones_refreshed_behind() {
        let cache = Arc::new(Cache::new(Clock::tokio("2017-09-25T08:00:00Z".parse().unwrap())));
        let calls = Arc::new(AtomicUsize::new(0));
        let get = |cache: Arc<Cache>, calls: Arc<AtomicUsize>| async move {
            cache
                .get("n".into(), move || async move {
                    Ok::<_, DeskError>(calls.fetch_add(1, Ordering::SeqCst))
                })
                .await
                .unwrap()
        };
        assert_eq!(*get(Arc::clone(&cache), Arc::clone(&calls)).await, 0);
        assert_eq!(*get(Arc::clone(&cache), Arc::clone(&calls)).await, 0, "fresh");
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        tokio::time::advance(std::time::Duration::from_secs(61)).await;
        // Stale: the old value now, the new one computed behind.
        assert_eq!(*get(Arc::clone(&cache), Arc::clone(&calls)).await, 0);
        tokio::task::yield_now().await;
        assert_eq!(calls.load(Ordering::SeqCst), 2);
        assert_eq!(*get(Arc::clone(&cache), Arc::clone(&calls)).await, 1);
        // get_fresh: the cached value while fresh, a new one computed in
        // the request once stale.
        let fresh = |n: u8| cache.get_fresh("f".into(), move || async move { Ok::<_, DeskError>(n) });
        assert_eq!(*fresh(1).await.unwrap(), 1);
        assert_eq!(*fresh(2).await.unwrap(), 1);
        tokio::time::advance(std::time::Duration::from_secs(61)).await;
        assert_eq!(*fresh(3).await.unwrap(), 3);
        // A failure is an error when nothing is cached, and keeps an old value.
        let failing = cache
            .get("e".into(), || async {
                Err::<u8, _>(DeskError::Internal("db".into()))
            })
            .await;
        assert!(failing.is_err());
    }
}
