//! The feed queue and the digest outbox, on every backend: the `Feeds` and
//! `Outbox` roles give the same rows, order, counts and errors on SQLite
//! and PostgreSQL; and on PostgreSQL, two stores opened on one database
//! (two instances) never lease the same feed, never space one host's
//! requests closer than asked, never put a match into two digests and never
//! deliver one digest at once.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use feedwatch::clock::Clock;
use feedwatch::model::FeedConfig;
use feedwatch::store::{AlertState, DigestBatch, FeedChangeError, Location, NewDigest, PendingMatch, Store};

use crate::common::{pg, Backend};

fn at(h: u32, m: u32, s: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 5, 1, h, m, s).unwrap()
}

fn feed(url: &str, name: Option<&str>) -> FeedConfig {
    FeedConfig {
        url: url.into(),
        name: name.map(Into::into),
        tags: Vec::new(),
        interval: None,
        min_interval: None,
        max_interval: None,
        lang: None,
        full_text: None,
    }
}

/// A value for [`Db::exec`]: times are text on SQLite, `timestamptz` on
/// PostgreSQL.
#[derive(Clone)]
enum Arg {
    Int(i64),
    Text(&'static str),
    Time(DateTime<Utc>),
    Bool(bool),
    Null,
}

/// A plain connection to a test store, for setting up rows the roles under
/// test do not write (items, matches, a feed's fetch state).
enum Db {
    Sqlite(sqlx::SqlitePool),
    Pg(sqlx::PgPool),
}

impl Db {
    async fn exec(&self, sql: &str, args: &[Arg]) {
        match self {
            Db::Sqlite(pool) => {
                let mut q = sqlx::query(sql);
                for arg in args {
                    q = match arg.clone() {
                        Arg::Int(v) => q.bind(v),
                        Arg::Text(v) => q.bind(v),
                        Arg::Time(v) => q.bind(v.format("%Y-%m-%dT%H:%M:%SZ").to_string()),
                        Arg::Bool(v) => q.bind(v),
                        Arg::Null => q.bind(None::<String>),
                    };
                }
                q.execute(pool).await.unwrap();
            }
            Db::Pg(pool) => {
                let mut q = sqlx::query(sql);
                for arg in args {
                    q = match arg.clone() {
                        Arg::Int(v) => q.bind(v),
                        Arg::Text(v) => q.bind(v),
                        Arg::Time(v) => q.bind(v),
                        Arg::Bool(v) => q.bind(v),
                        Arg::Null => q.bind(None::<DateTime<Utc>>),
                    };
                }
                q.execute(pool).await.unwrap();
            }
        }
    }
}

/// A migrated store on `backend` (its clock at `now`), and a plain
/// connection to the same database.
async fn open(backend: Backend, dir: &std::path::Path, now: DateTime<Utc>) -> (Store, Db, Location) {
    let (location, db) = match backend {
        Backend::Sqlite => {
            let path = dir.join("feedwatch.db");
            (Location::Sqlite(path.clone()), None)
        }
        Backend::Postgres => {
            let url = pg::database().await;
            (Location::from_url(&url).unwrap(), Some(url))
        }
    };
    let store = Store::open(&location)
        .await
        .unwrap()
        .with_clock(Clock::tokio(now));
    let db = match db {
        None => Db::Sqlite(
            sqlx::SqlitePool::connect(&format!("sqlite://{}", dir.join("feedwatch.db").display()))
                .await
                .unwrap(),
        ),
        Some(url) => Db::Pg(sqlx::PgPool::connect(&url).await.unwrap()),
    };
    (store, db, location)
}

/// A second instance on the same database, its clock at `now`.
async fn instance(location: &Location, now: DateTime<Utc>) -> Store {
    Store::open(location).await.unwrap().with_clock(Clock::tokio(now))
}

fn urls(rows: &[feedwatch::store::FeedRow]) -> Vec<&str> {
    rows.iter().map(|r| r.url.as_str()).collect()
}

#[tokio::test]
async fn feeds_are_synced_listed_added_and_removed_alike_on_every_backend() {
    let mut seen = Vec::new();
    for backend in Backend::ALL {
        let dir = tempfile::tempdir().unwrap();
        let (store, db, _) = open(backend, dir.path(), at(12, 0, 0)).await;
        let config = [
            feed("https://b.example/feed", Some("beta")),
            feed("https://a.example/feed", None),
            feed("https://c.example/feed", Some("Alpha")),
            // Listed twice: one row, the last name.
            feed("https://b.example/feed", Some("Beta")),
        ];
        let synced = store.sync_feeds(&config).await.unwrap();
        assert_eq!(
            urls(&synced),
            [
                "https://b.example/feed",
                "https://a.example/feed",
                "https://c.example/feed"
            ],
            "{backend:?}"
        );
        assert_eq!(synced[0].name.as_deref(), Some("Beta"), "{backend:?}");
        assert!(synced
            .iter()
            .all(|f| f.enabled && f.source == "config" && f.tags == "[]"));
        // A renamed feed keeps its row; a second sync adds nothing.
        let renamed = [
            feed("https://b.example/feed", Some("Bravo")),
            feed("https://a.example/feed", None),
            feed("https://c.example/feed", Some("Alpha")),
        ];
        let again = store.sync_feeds(&renamed).await.unwrap();
        assert_eq!(
            again.iter().map(|f| f.id).collect::<Vec<_>>(),
            synced.iter().map(|f| f.id).collect::<Vec<_>>(),
            "{backend:?}"
        );
        assert_eq!(again[0].name.as_deref(), Some("Bravo"), "{backend:?}");

        let tags = vec!["world".to_string(), "été".to_string()];
        store
            .add_feed("https://d.example/feed", Some("delta"), &tags, None)
            .await
            .unwrap();
        let exists = store
            .add_feed("https://a.example/feed", None, &[], None)
            .await
            .unwrap_err();
        assert!(
            matches!(exists, FeedChangeError::Exists(_)),
            "{backend:?}: {exists}"
        );
        store
            .add_feed("https://e.example/feed", None, &[], None)
            .await
            .unwrap();
        // The feed added after a refused one gets the next id.
        let added = store
            .feeds_in(&["https://e.example/feed".into(), "https://d.example/feed".into()])
            .await
            .unwrap();
        assert_eq!(added[1].id + 1, added[0].id, "{backend:?}");
        assert_eq!(added[1].id, synced[2].id + 1, "{backend:?}");
        assert_eq!(added[1].tag_list(), tags, "{backend:?}");
        assert_eq!(added[1].source, "added", "{backend:?}");

        // Fetch state as the writer leaves it: times read back as text.
        db.exec(
            "UPDATE feeds SET last_fetch_at = $1, last_success_at = $2, last_status = 500, \
             last_error = 'boom', error_count = 2, next_check_at = $3, check_interval = 900, \
             items_per_week = 3.5, poll_count = 7, error_kind = 'http_status' WHERE url = 'https://a.example/feed'",
            &[Arg::Time(at(11, 0, 5)), Arg::Time(at(10, 0, 0)), Arg::Time(at(11, 15, 5))],
        )
        .await;
        // The title shows for a feed without a configured name.
        db.exec(
            "UPDATE feeds SET title = 'charlie' WHERE url = 'https://e.example/feed'",
            &[],
        )
        .await;
        db.exec(
            "UPDATE feeds SET enabled = $1, disabled_reason = '410 Gone', last_fetch_at = $2 \
             WHERE url = 'https://d.example/feed'",
            &[Arg::Bool(false), Arg::Time(at(9, 30, 0))],
        )
        .await;

        let listed = store.list_feeds().await.unwrap();
        // By name as shown (configured, else title, else URL), ASCII
        // letters folded: "Alpha" before "Bravo" before "charlie".
        assert_eq!(
            listed
                .iter()
                .map(|f| f.display_name().into_owned())
                .collect::<Vec<_>>(),
            ["Alpha", "Bravo", "charlie", "delta", "https://a.example/feed"],
            "{backend:?}"
        );
        let a = listed.iter().find(|f| f.url == "https://a.example/feed").unwrap();
        assert_eq!(
            a.last_fetch_at.as_deref(),
            Some("2024-05-01T11:00:05Z"),
            "{backend:?}"
        );
        assert_eq!(
            a.next_check_at.as_deref(),
            Some("2024-05-01T11:15:05Z"),
            "{backend:?}"
        );
        assert_eq!((a.last_status, a.error_count, a.poll_count), (Some(500), 2, 7));
        assert_eq!(a.items_per_week, Some(3.5));
        assert_eq!(a.item_count, 0);

        let labels = store.feed_labels().await.unwrap();
        assert_eq!(labels.len(), 5, "{backend:?}");
        assert_eq!(labels[0].0, "https://b.example/feed", "{backend:?}");
        assert_eq!(
            labels[3],
            (
                "https://d.example/feed".into(),
                Some("delta".into()),
                tags.clone()
            )
        );

        let queue = store.queue().await.unwrap();
        let queued: Vec<(&str, Option<DateTime<Utc>>)> =
            queue.iter().map(|q| (q.url.as_str(), q.next_check_at)).collect();
        assert_eq!(
            queued,
            [
                ("https://b.example/feed", None),
                ("https://c.example/feed", None),
                ("https://e.example/feed", None),
                ("https://a.example/feed", Some(at(11, 15, 5))),
            ],
            "{backend:?}"
        );
        let ids: Vec<i64> = vec![added[0].id, synced[0].id, 9999];
        let by_id = store.feeds_by_id(&ids).await.unwrap();
        assert_eq!(
            urls(&by_id),
            ["https://b.example/feed", "https://e.example/feed"],
            "{backend:?}"
        );
        assert!(store.feeds_by_id(&[]).await.unwrap().is_empty());

        let health = store.feed_health().await.unwrap();
        let rows: Vec<_> = health
            .iter()
            .map(|h| {
                (
                    h.url.as_str(),
                    h.name.as_str(),
                    h.error_count,
                    h.failing_since,
                    h.disabled_reason.as_deref(),
                    h.disabled_at,
                    h.last_item_at,
                )
            })
            .collect();
        assert_eq!(
            rows,
            [
                (
                    "https://a.example/feed",
                    "https://a.example/feed",
                    2,
                    Some(at(10, 0, 0)),
                    None,
                    None,
                    None
                ),
                ("https://b.example/feed", "Bravo", 0, None, None, None, None),
                ("https://c.example/feed", "Alpha", 0, None, None, None, None),
                (
                    "https://d.example/feed",
                    "delta",
                    0,
                    None,
                    Some("410 Gone"),
                    Some(at(9, 30, 0)),
                    None
                ),
                ("https://e.example/feed", "charlie", 0, None, None, None, None),
            ],
            "{backend:?}"
        );

        store.probe_write().await.unwrap();
        store.enable_feed("https://d.example/feed").await.unwrap();
        let unknown = store.enable_feed("https://x.example/feed").await.unwrap_err();
        assert!(matches!(unknown, FeedChangeError::Unknown(_)), "{backend:?}");
        assert_eq!(store.queue().await.unwrap().len(), 5, "{backend:?}");

        let config_feed = store.remove_feed("https://a.example/feed").await.unwrap_err();
        assert!(
            matches!(config_feed, FeedChangeError::FromConfig(_)),
            "{backend:?}"
        );
        let unknown = store.remove_feed("https://x.example/feed").await.unwrap_err();
        assert!(matches!(unknown, FeedChangeError::Unknown(_)), "{backend:?}");
        store.remove_feed("https://d.example/feed").await.unwrap();
        let after = store.list_feeds().await.unwrap();
        assert_eq!(after.len(), 4, "{backend:?}");
        assert!(store
            .feeds_in(&["https://d.example/feed".into()])
            .await
            .unwrap()
            .is_empty());

        // Everything both backends said, to compare them with each other.
        let listed: Vec<serde_json::Value> = after.iter().map(|f| serde_json::to_value(f).unwrap()).collect();
        seen.push((backend, listed));
        store.close().await;
    }
    assert_eq!(seen[0].1, seen[1].1, "SQLite and PostgreSQL list different feeds");
}

#[tokio::test]
async fn due_feeds_come_oldest_first_on_every_backend() {
    for backend in Backend::ALL {
        let dir = tempfile::tempdir().unwrap();
        let now = at(12, 0, 0);
        let (store, db, _) = open(backend, dir.path(), now).await;
        let config: Vec<FeedConfig> = (1..=6)
            .map(|i| feed(&format!("https://f{i}.example/feed"), None))
            .collect();
        store.sync_feeds(&config).await.unwrap();
        let set = |url: &'static str, next: Arg| {
            let db = &db;
            async move {
                db.exec(
                    "UPDATE feeds SET next_check_at = $1 WHERE url = $2",
                    &[next, Arg::Text(url)],
                )
                .await
            }
        };
        // f1 never checked; f2 due at noon; f3 due earlier; f4 later; f5
        // due but disabled; f6 due long ago.
        set("https://f2.example/feed", Arg::Time(now)).await;
        set("https://f3.example/feed", Arg::Time(at(11, 0, 0))).await;
        set("https://f4.example/feed", Arg::Time(at(12, 0, 1))).await;
        set("https://f5.example/feed", Arg::Time(at(8, 0, 0))).await;
        set("https://f6.example/feed", Arg::Time(at(9, 0, 0))).await;
        set("https://f1.example/feed", Arg::Null).await;
        db.exec(
            "UPDATE feeds SET enabled = $1 WHERE url = 'https://f5.example/feed'",
            &[Arg::Bool(false)],
        )
        .await;
        // The daemon asks for the due feeds in queue order.
        let queue: Vec<i64> = store.queue().await.unwrap().iter().map(|e| e.id).collect();
        let due = store
            .claim_feeds(&queue, 10, now, Duration::from_secs(60))
            .await
            .unwrap();
        assert_eq!(
            urls(&due),
            [
                "https://f1.example/feed",
                "https://f6.example/feed",
                "https://f3.example/feed",
                "https://f2.example/feed"
            ],
            "{backend:?}"
        );
        assert_eq!(due[1].next_check_at.as_deref(), Some("2024-05-01T09:00:00Z"));
        // Once every due feed is checked, the poller sleeps until f4.
        for url in [
            "https://f1.example/feed",
            "https://f6.example/feed",
            "https://f3.example/feed",
            "https://f2.example/feed",
        ] {
            set(url, Arg::Time(at(13, 0, 0))).await;
        }
        if backend == Backend::Postgres {
            // As the writer does with their results.
            db.exec("UPDATE feeds SET lease_owner = NULL, lease_until = NULL", &[])
                .await;
        }
        assert!(store
            .claim_feeds(&queue, 10, now, Duration::from_secs(60))
            .await
            .unwrap()
            .is_empty());
        let later = store
            .claim_feeds(&queue, 1, at(12, 0, 1), Duration::from_secs(60))
            .await
            .unwrap();
        assert_eq!(urls(&later), ["https://f4.example/feed"], "{backend:?}");
        store.release_feeds(&[later[0].id]).await.unwrap();
        store.close().await;
    }
}

#[tokio::test]
async fn two_instances_never_lease_the_same_feed_and_a_dead_ones_leases_expire() {
    let dir = tempfile::tempdir().unwrap();
    let now = at(12, 0, 0);
    let (a, db, location) = open(Backend::Postgres, dir.path(), now).await;
    let b = instance(&location, now).await;
    let config: Vec<FeedConfig> = (0..60)
        .map(|i| feed(&format!("https://f{i}.example/feed"), None))
        .collect();
    // Both instances sync the same config at start-up at once.
    let (sa, sb) = tokio::join!(a.sync_feeds(&config), b.sync_feeds(&config));
    assert_eq!(sa.unwrap().len(), 60);
    assert_eq!(sb.unwrap().len(), 60);
    assert_eq!(a.list_feeds().await.unwrap().len(), 60);

    let lease = Duration::from_secs(300);
    let ids: Vec<i64> = a.queue().await.unwrap().iter().map(|e| e.id).collect();
    let mut owner: HashMap<i64, usize> = HashMap::new();
    // Rounds of racing claims until nothing is left.
    loop {
        let (ca, cb) = tokio::join!(
            a.claim_feeds(&ids, 7, now, lease),
            b.claim_feeds(&ids, 7, now, lease)
        );
        let (ca, cb) = (ca.unwrap(), cb.unwrap());
        if ca.is_empty() && cb.is_empty() {
            break;
        }
        assert!(ca.len() <= 7 && cb.len() <= 7);
        for (i, claimed) in [ca, cb].into_iter().enumerate() {
            for f in claimed {
                assert_eq!(owner.insert(f.id, i), None, "feed {} leased twice", f.id);
            }
        }
    }
    assert_eq!(owner.len(), 60);
    let taken: Vec<HashSet<i64>> = (0..2)
        .map(|i| {
            owner
                .iter()
                .filter(|(_, o)| **o == i)
                .map(|(id, _)| *id)
                .collect()
        })
        .collect();
    assert!(taken[0].len() >= 5, "{taken:?}");
    // Leased feeds are taken until their lease ends.
    assert!(a.claim_feeds(&ids, 100, now, lease).await.unwrap().is_empty());

    // `a` stops and gives back five of its leases: `b` may take them now.
    let given: Vec<i64> = taken[0].iter().copied().take(5).collect();
    // A lease is given back by its holder only.
    b.release_feeds(&given).await.unwrap();
    assert!(b.claim_feeds(&ids, 100, now, lease).await.unwrap().is_empty());
    a.release_feeds(&given).await.unwrap();
    let retaken = b
        .claim_feeds(&ids, 100, now + chrono::Duration::seconds(100), lease)
        .await
        .unwrap();
    let retaken: HashSet<i64> = retaken.iter().map(|f| f.id).collect();
    assert_eq!(retaken, given.iter().copied().collect());

    // `a` dies: once its leases have ended, a third instance takes its
    // feeds (and `b`'s first ones, whose leases have ended too), but not
    // those `b` leased later.
    a.close().await;
    let later = now + chrono::Duration::seconds(301);
    let c = instance(&location, later).await;
    let rest = c.claim_feeds(&ids, 100, later, lease).await.unwrap();
    let rest: HashSet<i64> = rest.iter().map(|f| f.id).collect();
    let expected: HashSet<i64> = taken[0]
        .iter()
        .chain(taken[1].iter())
        .copied()
        .filter(|id| !given.contains(id))
        .collect();
    assert_eq!(rest, expected);
    // The writer ending a lease (with the feed's result) frees it.
    db.exec(
        "UPDATE feeds SET lease_owner = NULL, lease_until = NULL, next_check_at = $1",
        &[Arg::Time(later)],
    )
    .await;
    assert_eq!(c.claim_feeds(&ids, 100, later, lease).await.unwrap().len(), 60);
    for store in [b, c] {
        store.close().await;
    }
}

#[tokio::test]
async fn host_reservations_space_requests_across_instances() {
    let dir = tempfile::tempdir().unwrap();
    let now = at(12, 0, 0);
    let (a, _db, location) = open(Backend::Postgres, dir.path(), now).await;
    let b = instance(&location, now).await;
    let spacing = Duration::from_millis(1500);
    let reserve = |store: Store, host: &'static str| {
        tokio::spawn(async move { store.reserve_host(host, spacing, now).await.unwrap().unwrap() })
    };
    let tasks: Vec<_> = (0..20)
        .map(|i| reserve(if i % 2 == 0 { a.clone() } else { b.clone() }, "news.example:443"))
        .collect();
    let mut starts = Vec::new();
    for task in tasks {
        starts.push(task.await.unwrap());
    }
    starts.sort();
    let expected: Vec<DateTime<Utc>> = (0..20)
        .map(|k| now + chrono::Duration::milliseconds(1500 * k))
        .collect();
    assert_eq!(starts, expected, "20 starts, each 1.5 s after the one before");
    // Another host is not held back.
    assert_eq!(
        b.reserve_host("other.example:443", spacing, now).await.unwrap(),
        Some(now)
    );
    // Long after the last reservation, the next request starts at once.
    let later = now + chrono::Duration::hours(1);
    assert_eq!(
        a.reserve_host("news.example:443", spacing, later).await.unwrap(),
        Some(later)
    );
    assert_eq!(
        b.reserve_host("news.example:443", spacing, later).await.unwrap(),
        Some(later + chrono::Duration::milliseconds(1500))
    );
    for store in [a, b] {
        store.close().await;
    }
}

/// A slot of `host` (of 2) for `store` once a dropped one is unlocked (on
/// its connection, soon after the drop).
async fn slot_once_freed(store: &Store, host: &str) -> feedwatch::store::HostSlot {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(slot) = store.try_host_slot(host, 2).await.unwrap() {
            return slot;
        }
        assert!(std::time::Instant::now() < deadline, "a dropped slot is freed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// PostgreSQL: requests in flight to a host are limited across instances:
/// with 2 slots, a third is refused whichever instance asks; a dropped slot
/// is free again; another host is not held back; a stopped instance's
/// slots go with it. SQLite (one instance) always grants one.
#[tokio::test]
async fn host_slots_are_shared_by_instances() {
    let dir = tempfile::tempdir().unwrap();
    let now = at(12, 0, 0);
    let (alone, _db, _) = open(Backend::Sqlite, dir.path(), now).await;
    let mut held = Vec::new();
    for _ in 0..5 {
        held.push(alone.try_host_slot("news.example:443", 1).await.unwrap());
    }
    assert!(
        held.iter().all(Option::is_some),
        "one instance alone is its own limit"
    );
    alone.close().await;

    let dir = tempfile::tempdir().unwrap();
    let (a, _db, location) = open(Backend::Postgres, dir.path(), now).await;
    let b = instance(&location, now).await;
    let host = "news.example:443";
    let first = a.try_host_slot(host, 2).await.unwrap().expect("a free slot");
    // Not the one `a` holds again (a session may retake its own locks).
    let spare = a.try_host_slot(host, 2).await.unwrap().expect("the other slot");
    assert!(b.try_host_slot(host, 2).await.unwrap().is_none(), "a holds both");
    drop(spare);
    let second = slot_once_freed(&b, host).await;
    assert!(
        a.try_host_slot(host, 2).await.unwrap().is_none(),
        "both slots held"
    );
    assert!(
        b.try_host_slot(host, 2).await.unwrap().is_none(),
        "both slots held"
    );
    assert!(b.try_host_slot("other.example:443", 2).await.unwrap().is_some());
    // A dropped slot is unlocked on its connection soon after.
    drop(first);
    let third = slot_once_freed(&b, host).await;
    // An instance that ends without unlocking (killed: here its slots are
    // never dropped) frees them with its connection.
    assert!(a.try_host_slot(host, 2).await.unwrap().is_none(), "b holds both");
    std::mem::forget((second, third));
    b.close().await;
    let freed = a.try_host_slot(host, 2).await.unwrap();
    assert!(freed.is_some(), "a closed instance's slots are free");
    a.close().await;
}

/// Two feeds, topics `alpha` and `beta`, items 1..=4 and their matches.
async fn seed_matches(store: &Store, db: &Db) {
    store
        .sync_feeds(&[
            feed("https://one.example/feed", Some("One")),
            feed("https://two.example/feed", None),
        ])
        .await
        .unwrap();
    db.exec(
        "INSERT INTO topics (id, name, query) VALUES (1, 'beta', 'b'), (2, 'alpha', 'a'), (3, 'Zeta', 'z')",
        &[],
    )
    .await;
    // (id, feed, sort_at/published, matched topics, matched at, backfilled)
    type Seed = (i64, i64, DateTime<Utc>, &'static [i64], DateTime<Utc>, bool);
    let items: [Seed; 5] = [
        (1, 1, at(9, 0, 0), &[1, 2], at(10, 0, 0), false),
        (2, 2, at(9, 30, 0), &[2], at(10, 30, 0), false),
        (3, 1, at(9, 30, 0), &[2, 3], at(11, 0, 0), false),
        (4, 2, at(8, 0, 0), &[1], at(11, 59, 59), false),
        (5, 1, at(8, 0, 0), &[2], at(10, 0, 0), true),
    ];
    for (id, feed_id, sort_at, topics, matched_at, backfilled) in items {
        db.exec(
            "INSERT INTO items (id, feed_id, item_key, url, title, text, lang, published, sort_at, fetched_at, \
             first_seen_at, content_hash) VALUES ($1, $2, $3, $4, $5, 'text', 'en', $6, $6, $6, $6, 'h')",
            &[
                Arg::Int(id),
                Arg::Int(feed_id),
                Arg::Text(["k1", "k2", "k3", "k4", "k5"][id as usize - 1]),
                Arg::Text(["https://x/1", "https://x/2", "https://x/3", "https://x/4", "https://x/5"][id as usize - 1]),
                Arg::Text(["one", "two", "three", "four", "five"][id as usize - 1]),
                Arg::Time(sort_at),
            ],
        )
        .await;
        for &topic in topics {
            db.exec(
                "INSERT INTO item_topics (item_id, topic_id, matched_at, backfilled) VALUES ($1, $2, $3, $4)",
                &[
                    Arg::Int(id),
                    Arg::Int(topic),
                    Arg::Time(matched_at),
                    Arg::Bool(backfilled),
                ],
            )
            .await;
        }
    }
}

/// Item, topic, matched, published, outlet.
type Pending = (i64, String, DateTime<Utc>, Option<DateTime<Utc>>, String);

fn summary(pending: &[PendingMatch]) -> Vec<Pending> {
    pending
        .iter()
        .map(|p| {
            (
                p.item_id,
                p.topic.clone(),
                p.matched_at,
                p.published,
                p.outlet.clone(),
            )
        })
        .collect()
}

#[tokio::test]
async fn the_outbox_builds_and_tracks_digests_alike_on_every_backend() {
    let mut seen = Vec::new();
    for backend in Backend::ALL {
        let dir = tempfile::tempdir().unwrap();
        let created = at(9, 59, 0);
        let (store, db, _) = open(backend, dir.path(), created).await;
        seed_matches(&store, &db).await;

        // First sight records the alert; a peek does not.
        let peek = store.peek_alert_state("morning", at(9, 0, 0)).await.unwrap();
        assert_eq!(
            peek,
            AlertState {
                created_at: at(9, 0, 0),
                last_cut: at(9, 0, 0)
            }
        );
        let state = store.alert_state("morning", created).await.unwrap();
        assert_eq!(
            state,
            AlertState {
                created_at: created,
                last_cut: created
            }
        );
        let state = store.alert_state("morning", at(10, 0, 0)).await.unwrap();
        assert_eq!(state.created_at, created, "{backend:?}");
        assert_eq!(
            store.peek_alert_state("morning", at(10, 0, 0)).await.unwrap(),
            state
        );

        let topics = vec!["alpha".to_string(), "beta".to_string(), "Zeta".to_string()];
        let pending = store
            .pending_matches("morning", "mail", &topics, created, at(11, 0, 0))
            .await
            .unwrap();
        // By topic name (bytes: "Zeta" first), newest first; the cut's
        // second included, backfilled matches and later ones left out.
        let t = |s: &str| s.to_string();
        assert_eq!(
            summary(&pending),
            [
                (3, t("Zeta"), at(11, 0, 0), Some(at(9, 30, 0)), t("One")),
                (3, t("alpha"), at(11, 0, 0), Some(at(9, 30, 0)), t("One")),
                (
                    2,
                    t("alpha"),
                    at(10, 30, 0),
                    Some(at(9, 30, 0)),
                    t("https://two.example/feed")
                ),
                (1, t("alpha"), at(10, 0, 0), Some(at(9, 0, 0)), t("One")),
                (1, t("beta"), at(10, 0, 0), Some(at(9, 0, 0)), t("One")),
            ],
            "{backend:?}"
        );
        assert!(store
            .pending_matches("morning", "mail", &[], created, at(11, 0, 0))
            .await
            .unwrap()
            .is_empty());

        let notices = vec!["gone:1".to_string(), "failing:2".to_string()];
        let cut = at(11, 0, 0);
        let mut built = Vec::new();
        let mut build = |channel: &str, pending: &[PendingMatch], fresh: &[usize]| {
            built.push((channel.to_string(), pending.len(), fresh.to_vec()));
            (channel != "skip").then(|| NewDigest {
                id: format!("morning-{channel}-1"),
                content: format!("{{\"items\":{}}}", pending.len()),
            })
        };
        let ids = store
            .create_digests(
                &DigestBatch {
                    alert: "morning",
                    channels: &["mail".into(), "skip".into(), "hook".into()],
                    topics: &topics,
                    notices: &notices,
                    state,
                    cut,
                    now: at(11, 0, 30),
                },
                &mut build,
            )
            .await
            .unwrap();
        assert_eq!(ids, ["morning-mail-1", "morning-hook-1"], "{backend:?}");
        assert_eq!(
            built,
            [
                (t("mail"), 5, vec![0, 1]),
                (t("skip"), 5, vec![0, 1]),
                (t("hook"), 5, vec![0, 1])
            ],
            "{backend:?}"
        );
        let state = store.alert_state("morning", at(12, 0, 0)).await.unwrap();
        assert_eq!(
            state,
            AlertState {
                created_at: created,
                last_cut: cut
            },
            "{backend:?}"
        );
        // Sent matches and notices are no longer pending for their channel.
        assert_eq!(
            summary(
                &store
                    .pending_matches("morning", "mail", &topics, created, at(12, 0, 0))
                    .await
                    .unwrap()
            ),
            [(
                4,
                t("beta"),
                at(11, 59, 59),
                Some(at(8, 0, 0)),
                t("https://two.example/feed")
            )],
            "{backend:?}"
        );
        assert_eq!(
            store
                .pending_matches("morning", "skip", &topics, created, at(11, 0, 0))
                .await
                .unwrap()
                .len(),
            5
        );
        assert_eq!(
            store.sent_notices("morning", "hook").await.unwrap(),
            notices.iter().cloned().collect::<HashSet<_>>()
        );
        assert!(store.sent_notices("morning", "skip").await.unwrap().is_empty());

        // Delivery: hook fails once and retries, mail is delivered, hook
        // fails for good, is retried by hand and then delivered. Another
        // alert's due digests are not these (nor claimed for it).
        assert!(store
            .due_digests(at(11, 0, 30), Some("evening"))
            .await
            .unwrap()
            .is_empty());
        let due = store.due_digests(at(11, 0, 30), Some("morning")).await.unwrap();
        assert_eq!(
            due.iter().map(|d| d.id.as_str()).collect::<Vec<_>>(),
            ["morning-hook-1", "morning-mail-1"],
            "{backend:?}"
        );
        assert_eq!(due[1].item_count, 3);
        assert_eq!(due[1].content, "{\"items\":5}");
        assert_eq!(due[1].period_start, "2024-05-01T09:59:00Z");
        assert_eq!(due[1].period_end, "2024-05-01T11:00:00Z");
        assert_eq!(due[1].next_attempt_at, "2024-05-01T11:00:30Z");
        store
            .mark_attempt_failed("morning-hook-1", "503", at(11, 5, 0), false)
            .await
            .unwrap();
        store
            .mark_delivered("morning-mail-1", at(11, 1, 0))
            .await
            .unwrap();
        assert!(store.due_digests(at(11, 4, 59), None).await.unwrap().is_empty());
        let due = store.due_digests(at(11, 5, 0), None).await.unwrap();
        assert_eq!(due.len(), 1);
        assert_eq!((due[0].attempts, due[0].last_error.as_deref()), (1, Some("503")));
        store
            .mark_attempt_failed("morning-hook-1", "410", at(11, 30, 0), true)
            .await
            .unwrap();
        assert!(store.due_digests(at(23, 0, 0), None).await.unwrap().is_empty());
        assert_eq!(
            store.digest_counts().await.unwrap(),
            [(t("hook"), t("failed"), 1), (t("mail"), t("delivered"), 1)],
            "{backend:?}"
        );
        let failed = store.list_digests(true, 10).await.unwrap();
        assert_eq!(failed.len(), 1);
        assert_eq!(failed[0].attempts, 2);
        assert!(!store.retry_digest("morning-mail-1", at(12, 0, 0)).await.unwrap());
        assert!(!store.retry_digest("nothing", at(12, 0, 0)).await.unwrap());
        assert!(store.retry_digest("morning-hook-1", at(12, 0, 0)).await.unwrap());
        let due = store.due_digests(at(12, 0, 0), None).await.unwrap();
        assert_eq!((due.len(), due[0].attempts), (1, 0), "{backend:?}");
        store
            .mark_delivered("morning-hook-1", at(12, 0, 5))
            .await
            .unwrap();
        let all = store.list_digests(false, 10).await.unwrap();
        assert_eq!(
            all.iter().map(|d| d.id.as_str()).collect::<Vec<_>>(),
            ["morning-mail-1", "morning-hook-1"],
            "{backend:?}"
        );
        assert_eq!(all[1].delivered_at.as_deref(), Some("2024-05-01T12:00:05Z"));
        assert_eq!(store.list_digests(false, 1).await.unwrap().len(), 1);
        let health = store.feed_health().await.unwrap();
        assert_eq!(health[0].last_item_at, Some(at(9, 30, 0)), "{backend:?}");
        seen.push(
            all.iter()
                .map(|d| serde_json::to_value(d).unwrap())
                .collect::<Vec<_>>(),
        );
        store.close().await;
    }
    assert_eq!(seen[0], seen[1], "SQLite and PostgreSQL store different digests");
}

#[tokio::test]
async fn two_instances_put_each_match_into_one_digest_and_deliver_it_once() {
    let dir = tempfile::tempdir().unwrap();
    let created = at(9, 59, 0);
    let (a, db, location) = open(Backend::Postgres, dir.path(), at(12, 0, 0)).await;
    let b = instance(&location, at(12, 0, 0)).await;
    seed_matches(&a, &db).await;
    let topics = vec!["alpha".to_string(), "beta".to_string()];
    let channels = vec!["mail".to_string(), "hook".to_string()];
    let notices = vec!["gone:1".to_string()];
    // Both read the alert's state, then cut the same period at once, with
    // a builder that sends even an empty digest.
    let (sa, sb) = tokio::join!(
        a.alert_state("morning", created),
        b.alert_state("morning", created)
    );
    let (sa, sb) = (sa.unwrap(), sb.unwrap());
    assert_eq!(sa, sb);
    let batch = |state| DigestBatch {
        alert: "morning",
        channels: &channels,
        topics: &topics,
        notices: &notices,
        state,
        cut: at(12, 0, 0),
        now: at(12, 0, 0),
    };
    let builder = |who: &'static str| {
        move |channel: &str, pending: &[PendingMatch], fresh: &[usize]| {
            Some(NewDigest {
                id: format!("{who}-{channel}"),
                content: format!("{}:{}", pending.len(), fresh.len()),
            })
        }
    };
    let (mut build_a, mut build_b) = (builder("a"), builder("b"));
    let (batch_a, batch_b) = (batch(sa), batch(sb));
    let (ca, cb) = tokio::join!(
        a.create_digests(&batch_a, &mut build_a),
        b.create_digests(&batch_b, &mut build_b)
    );
    let (ca, cb) = (ca.unwrap(), cb.unwrap());
    assert_eq!(
        ca.len() + cb.len(),
        2,
        "one digest per channel in all: {ca:?} {cb:?}"
    );
    assert!(ca.is_empty() || cb.is_empty(), "{ca:?} {cb:?}");
    let digests = a.list_digests(false, 10).await.unwrap();
    assert_eq!(digests.len(), 2);
    // Every match of the period, in the one digest of each channel.
    for d in &digests {
        assert_eq!(d.content, "5:1", "{}", d.id);
    }
    // Nothing is pending any more for either instance.
    for store in [&a, &b] {
        for channel in &channels {
            assert!(store
                .pending_matches("morning", channel, &topics, created, at(12, 0, 0))
                .await
                .unwrap()
                .is_empty());
        }
    }

    // Delivery: two instances asking at once share the digests out.
    let (da, db_) = tokio::join!(
        a.due_digests(at(12, 0, 0), None),
        b.due_digests(at(12, 0, 0), None)
    );
    let (da, db_) = (da.unwrap(), db_.unwrap());
    assert_eq!(da.len() + db_.len(), 2, "{da:?} {db_:?}");
    let ids_a: HashSet<&str> = da.iter().map(|d| d.id.as_str()).collect();
    assert!(db_.iter().all(|d| !ids_a.contains(d.id.as_str())));
    // Claimed digests are not handed out again while claimed.
    assert!(a.due_digests(at(12, 0, 0), None).await.unwrap().is_empty());
    assert!(b.due_digests(at(12, 0, 0), None).await.unwrap().is_empty());
    // One digest is delivered; the instance holding the other dies
    // mid-delivery (its claim is never ended). Once that claim has run out
    // (10 minutes), another instance retries that digest, and only that
    // one.
    let (first, second) = if da.is_empty() {
        (&db_[0], &db_[1])
    } else if db_.is_empty() {
        (&da[0], &da[1])
    } else {
        (&da[0], &db_[0])
    };
    a.mark_delivered(&first.id, at(12, 0, 5)).await.unwrap();
    b.close().await;
    let c = instance(&location, at(12, 9, 0)).await;
    assert!(c.due_digests(at(12, 9, 0), None).await.unwrap().is_empty());
    let d = instance(&location, at(12, 10, 30)).await;
    let retried = d.due_digests(at(12, 10, 30), None).await.unwrap();
    assert_eq!(
        retried.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
        [second.id.as_str()]
    );
    d.mark_attempt_failed(&second.id, "503", at(12, 10, 31), false)
        .await
        .unwrap();
    // A failed attempt ends the claim: it is due again at its retry time.
    assert_eq!(c.due_digests(at(12, 10, 31), None).await.unwrap().len(), 1);
    for store in [a, c, d] {
        store.close().await;
    }
}
