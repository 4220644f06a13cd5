//! The item writer and stories (`Items`, `Stories`), on every backend: the
//! same feed results through `feedwatch::store::Store` give the same items,
//! sources, stories, merges, matches and feed rows on SQLite and on
//! PostgreSQL; and on PostgreSQL, two instances (two `Store`s on one
//! database, each with its own writer) writing copies of one article at
//! the same moment store each item once and make one story.

use std::time::Duration;

use chrono::{DateTime, Utc};
use feedwatch::fetch::Validators;
use feedwatch::model::NewItem;
use feedwatch::store::{
    FeedFailure, FeedUpdate, FeedWrite, IngestCounts, ItemWrite, Known, Location, NextCheck, SearchText,
    Store, StoryFilter, StoryRow, TopicMatches,
};
use feedwatch::topics::{TermSets, TopicSet};
use sqlx::Row;

use crate::common::{pg, Backend};

const WIRE: &str = "The foreign ministers of both countries met in the capital on Monday to discuss \
    the referendum, border crossings, trade routes and the security of pipelines running north \
    through the region, officials said after the talks ended late in the evening.";

const OTHER: &str = "Oil exports through the northern pipeline resumed on Friday after a week of \
    talks between the regional government and the federal ministry, officials said, adding \
    that the volumes would rise gradually over the coming month.";

/// 2017-09-25T10:00:00Z plus `minutes`.
fn at(minutes: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(1_506_333_600 + minutes * 60, 0).unwrap()
}

/// A new item of a feed, fingerprinted and indexed as the pipeline does.
fn item(link: &str, title: &str, text: &str) -> ItemWrite {
    ItemWrite {
        item: NewItem {
            guid: Some(link.to_string()),
            url: Some(link.to_string()),
            title: title.to_string(),
            text: text.to_string(),
            published: None,
            updated: None,
            language: Some("en".to_string()),
            author: None,
        },
        declared_lang: Some("en".to_string()),
        key: format!("guid:{link}"),
        content_hash: format!("{link}#{}", text.len()),
        stored: false,
        canonical_url: feedwatch::stories::canonical_url(link),
        fingerprint: feedwatch::stories::fingerprint(title, text),
        sketch: None,
        topic_ids: Vec::new(),
        search: SearchText::new(title, text, None),
        page: false,
    }
}

fn with_topics(mut write: ItemWrite, topics: &[i64]) -> ItemWrite {
    write.topic_ids = topics.to_vec();
    write
}

fn with_fingerprint(mut write: ItemWrite, fp: u64) -> ItemWrite {
    write.fingerprint = Some(fp);
    write
}

fn next(minutes: i64) -> NextCheck {
    NextCheck {
        at: at(minutes + 10),
        interval: Duration::from_secs(600),
        moved_to: None,
    }
}

/// A successful fetch of feed `feed_id` at `at(minutes)` with `items`.
fn update(feed_id: i64, minutes: i64, items: Vec<ItemWrite>) -> FeedUpdate {
    FeedUpdate {
        feed_id,
        at: at(minutes),
        status: 200,
        validators: Validators {
            etag: Some(format!("\"{minutes}\"")),
            last_modified: None,
        },
        title: Some(format!("Feed {feed_id}")),
        site_url: None,
        items,
        story_window: chrono::Duration::days(7),
        next: next(minutes),
        items_per_week: Some(3.5),
        warning: None,
    }
}

fn counts(new: u64, updated: u64, matches: u64, duplicates: u64, joined: u64) -> IngestCounts {
    IngestCounts {
        new,
        updated,
        matches,
        duplicates,
        joined,
    }
}

/// A store on one backend, and a plain connection to its database for
/// what the roles under test do not read back (the tests' own SQL).
struct Under {
    backend: Backend,
    store: Store,
    db: Db,
    /// The database's URL.
    url: String,
    _dir: tempfile::TempDir,
}

enum Db {
    Sqlite(sqlx::SqlitePool),
    Postgres(sqlx::PgPool),
}

/// A row as text (NULL as `None`).
type Rows = Vec<Vec<Option<String>>>;

impl Under {
    async fn new(backend: Backend) -> Under {
        let dir = tempfile::tempdir().unwrap();
        let (location, url) = match backend {
            Backend::Sqlite => {
                let path = dir.path().join("feedwatch.db");
                (
                    Location::Sqlite(path.clone()),
                    format!("sqlite://{}", path.display()),
                )
            }
            Backend::Postgres => {
                let url = pg::database().await;
                (Location::from_url(&url).unwrap(), url)
            }
        };
        let store = Store::open(&location).await.unwrap();
        let db = match backend {
            Backend::Sqlite => Db::Sqlite(sqlx::SqlitePool::connect(&url).await.unwrap()),
            Backend::Postgres => Db::Postgres(sqlx::PgPool::connect(&url).await.unwrap()),
        };
        Under {
            backend,
            store,
            db,
            url,
            _dir: dir,
        }
    }

    /// Adds feed rows (as `sync_feeds` would), returning their ids.
    async fn feeds(&self, urls: &[&str]) -> Vec<i64> {
        let mut ids = Vec::new();
        for url in urls {
            let id: i64 = match &self.db {
                Db::Sqlite(pool) => sqlx::query_scalar(
                    "INSERT INTO feeds (url, created_at) VALUES (?, '2017-09-25T00:00:00Z') RETURNING id",
                )
                .bind(url)
                .fetch_one(pool)
                .await
                .unwrap(),
                Db::Postgres(pool) => sqlx::query_scalar(
                    "INSERT INTO feeds (url, created_at) VALUES ($1, '2017-09-25T00:00:00Z') RETURNING id",
                )
                .bind(url)
                .fetch_one(pool)
                .await
                .unwrap(),
            };
            ids.push(id);
        }
        ids
    }

    /// Every row of a query, as text; `sqlite` and `postgres` are the same
    /// query in each dialect.
    async fn rows(&self, sqlite: &str, postgres: &str) -> Rows {
        fn text<R: Row>(row: &R) -> Vec<Option<String>>
        where
            usize: sqlx::ColumnIndex<R>,
            for<'r> Option<String>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
        {
            (0..row.len()).map(|i| row.try_get(i).unwrap()).collect()
        }
        match &self.db {
            Db::Sqlite(pool) => sqlx::query(sqlite)
                .fetch_all(pool)
                .await
                .unwrap()
                .iter()
                .map(text)
                .collect(),
            Db::Postgres(pool) => sqlx::query(postgres)
                .fetch_all(pool)
                .await
                .unwrap()
                .iter()
                .map(text)
                .collect(),
        }
    }

    /// The number a `SELECT count(*) ...` query gives.
    async fn count(&self, sql: &str) -> i64 {
        let sql = format!("SELECT CAST(({sql}) AS TEXT)");
        let rows = self.rows(&sql, &sql).await;
        rows[0][0].as_deref().unwrap().parse().unwrap()
    }

    /// What the writer stored, table by table (times as text; ids as
    /// numbers each backend gives in the same order).
    async fn snapshot(&self) -> Vec<(&'static str, Rows)> {
        let tables = [
            (
                "items",
                "SELECT CAST(id AS TEXT), CAST(feed_id AS TEXT), item_key, url, canonical_url, title, text, \
                 CAST(version AS TEXT), CAST(story_id AS TEXT), lang, declared_lang, published, sort_at, \
                 fetched_at, first_seen_at, content_hash, CAST(fingerprint AS TEXT), \
                 CASE WHEN sketch IS NULL THEN 'none' ELSE 'some' END FROM items ORDER BY id",
                "SELECT id::text, feed_id::text, item_key, url, canonical_url, title, text, version::text, \
                 story_id::text, lang, declared_lang, fw_ts(published), fw_ts(sort_at), fw_ts(fetched_at), \
                 fw_ts(first_seen_at), content_hash, fingerprint::text, \
                 CASE WHEN sketch IS NULL THEN 'none' ELSE 'some' END FROM items ORDER BY id",
            ),
            (
                "item_sources",
                "SELECT CAST(feed_id AS TEXT), item_key, CAST(item_id AS TEXT), content_hash, first_seen_at \
                 FROM item_sources ORDER BY feed_id, item_id",
                "SELECT feed_id::text, item_key, item_id::text, content_hash, fw_ts(first_seen_at) \
                 FROM item_sources ORDER BY feed_id, item_id",
            ),
            (
                "stories",
                "SELECT CAST(id AS TEXT), headline, first_seen, last_seen, CAST(item_count AS TEXT) \
                 FROM stories ORDER BY id",
                "SELECT id::text, headline, fw_ts(first_seen), fw_ts(last_seen), item_count::text \
                 FROM stories ORDER BY id",
            ),
            (
                "story_merges",
                "SELECT CAST(story_id AS TEXT), CAST(merged_into AS TEXT) FROM story_merges ORDER BY story_id",
                "SELECT story_id::text, merged_into::text FROM story_merges ORDER BY story_id",
            ),
            (
                "item_topics",
                "SELECT CAST(item_id AS TEXT), CAST(topic_id AS TEXT), matched_at, \
                 CASE WHEN backfilled THEN 'yes' ELSE 'no' END FROM item_topics ORDER BY item_id, topic_id",
                "SELECT item_id::text, topic_id::text, fw_ts(matched_at), \
                 CASE WHEN backfilled THEN 'yes' ELSE 'no' END FROM item_topics ORDER BY item_id, topic_id",
            ),
            (
                "feeds",
                "SELECT CAST(id AS TEXT), title, site_url, etag, last_modified, last_fetch_at, last_success_at, \
                 CAST(last_status AS TEXT), last_error, CAST(error_count AS TEXT), next_check_at, \
                 CAST(check_interval AS TEXT), CAST(items_per_week AS TEXT), CAST(poll_count AS TEXT), \
                 CASE WHEN enabled THEN 'yes' ELSE 'no' END, disabled_reason, fetch_url, error_kind, warning \
                 FROM feeds ORDER BY id",
                "SELECT id::text, title, site_url, etag, last_modified, fw_ts(last_fetch_at), \
                 fw_ts(last_success_at), last_status::text, last_error, error_count::text, \
                 fw_ts(next_check_at), check_interval::text, items_per_week::text, poll_count::text, \
                 CASE WHEN enabled THEN 'yes' ELSE 'no' END, disabled_reason, fetch_url, error_kind, warning \
                 FROM feeds ORDER BY id",
            ),
        ];
        let mut out = Vec::new();
        for (table, sqlite, postgres) in tables {
            out.push((table, self.rows(sqlite, postgres).await));
        }
        out
    }

    /// The story of the item with this link.
    async fn story_of(&self, url: &str) -> i64 {
        let sql = format!("SELECT CAST(story_id AS TEXT) FROM items WHERE url = '{url}'");
        let rows = self.rows(&sql, &sql).await;
        assert_eq!(rows.len(), 1, "{:?}: one item {url}", self.backend);
        rows[0][0].as_deref().unwrap().parse().unwrap()
    }

    async fn close(self) {
        match &self.db {
            Db::Sqlite(pool) => pool.close().await,
            Db::Postgres(pool) => pool.close().await,
        }
        self.store.close().await;
    }
}

/// A story as listed: id, headline, first and last seen, items, outlets,
/// languages.
type Listed = (i64, String, String, String, i64, Vec<String>, Vec<String>);

fn listed(rows: &[StoryRow]) -> Vec<Listed> {
    rows.iter()
        .map(|s| {
            (
                s.id,
                s.headline.clone(),
                s.first_seen.clone(),
                s.last_seen.clone(),
                s.item_count,
                s.outlets.clone(),
                s.languages.clone(),
            )
        })
        .collect()
}

/// What one backend did with the scenario of
/// [`the_same_feed_results_give_the_same_rows_on_every_backend`].
struct Outcome {
    counts: Vec<Vec<IngestCounts>>,
    snapshot: Vec<(&'static str, Rows)>,
    stories: Vec<Listed>,
    topic_stories: Vec<i64>,
    by_id: Vec<i64>,
}

async fn scenario(backend: Backend) -> Outcome {
    let under = Under::new(backend).await;
    let store = &under.store;
    let feeds = under
        .feeds(&[
            "https://a.example/rss",
            "https://b.example/rss",
            "https://c.example/rss",
            "https://d.example/rss",
        ])
        .await;
    let [a, b, c, d] = feeds[..] else { unreachable!() };
    let topics = TopicSet::compile([("wire", "ministers"), ("oil", "pipeline")], &TermSets::new()).unwrap();
    let rows = store.sync_topics(&topics, at(0)).await.unwrap();
    assert!(rows.iter().all(|r| r.needs_backfill), "{backend:?}: new topics");
    let (wire, oil) = (rows[0].id, rows[1].id);
    let mut counts = Vec::new();

    // One batch: a wire story from a (matching `wire`) and an item of its
    // own; b carries the same article under a tracking URL (a second
    // source, gaining `oil`) and a lightly edited copy (same story); c is
    // unchanged (304); d fails.
    let footer = format!("{WIRE} Subscribe to our newsletter.");
    let results = store
        .apply_feed_writes(vec![
            FeedWrite::Update(update(
                a,
                0,
                vec![
                    with_topics(item("https://a.example/wire", "Ministers meet", WIRE), &[wire]),
                    item("https://a.example/own", "Oil flows again", OTHER),
                ],
            )),
            FeedWrite::Update(update(
                b,
                0,
                vec![
                    with_topics(
                        item("https://a.example/wire?utm_source=b", "Ministers meet", WIRE),
                        &[wire, oil],
                    ),
                    with_topics(item("https://b.example/copy", "Ministers meet", &footer), &[wire]),
                ],
            )),
            FeedWrite::NotModified {
                feed_id: c,
                at: at(0),
                next: next(0),
            },
            FeedWrite::Failure(FeedFailure {
                feed_id: d,
                status: Some(503),
                kind: "http_status".to_string(),
                error: "503 Service Unavailable".to_string(),
                at: at(0),
                next: next(30),
            }),
        ])
        .await;
    counts.push(results.into_iter().map(|r| r.unwrap()).collect::<Vec<_>>());

    // An edit of a's own item (now about ministers, no longer a copy of
    // anything), one write at a time; d is gone.
    let mut edited = with_topics(
        item(
            "https://a.example/own",
            "Oil flows again",
            &format!("{OTHER} Ministers react."),
        ),
        &[wire],
    );
    edited.stored = true;
    let results = vec![
        store
            .apply_feed_update(update(a, 60, vec![edited]))
            .await
            .unwrap(),
        store
            .apply_feed_writes(vec![FeedWrite::Disable {
                feed_id: d,
                status: Some(410),
                reason: "410 Gone".to_string(),
                at: at(60),
            }])
            .await
            .remove(0)
            .unwrap(),
    ];
    counts.push(results);

    // Two copies too far apart to join each other start two stories; a
    // third near both merges them into the older one (published, so the
    // merged story's span follows).
    let far = 0u64;
    let results = store
        .apply_feed_writes(vec![FeedWrite::Update(update(
            c,
            120,
            vec![
                with_fingerprint(item("https://c.example/x", "Pipeline talks", OTHER), far),
                with_fingerprint(item("https://c.example/z", "Pipeline talks", OTHER), far ^ 0xffff),
            ],
        ))])
        .await;
    counts.push(results.into_iter().map(|r| r.unwrap()).collect());
    let mut bridge = with_fingerprint(
        item("https://d.example/y", "Pipeline talks (y)", OTHER),
        far ^ 0xff,
    );
    bridge.item.published = Some(at(90));
    let results = store
        .apply_feed_writes(vec![FeedWrite::Update(update(d, 180, vec![bridge]))])
        .await;
    counts.push(results.into_iter().map(|r| r.unwrap()).collect());

    let x = under.story_of("https://c.example/x").await;
    let z = under.story_of("https://c.example/z").await;
    let y = under.story_of("https://d.example/y").await;
    assert_eq!((x, z), (y, y), "{backend:?}: the bridge merged the two stories");
    assert_eq!(
        under.story_of("https://b.example/copy").await,
        under.story_of("https://a.example/wire").await,
        "{backend:?}: the copy joined the wire story"
    );

    let stories = store
        .stories(&StoryFilter {
            topic: None,
            since: None,
            limit: 10,
        })
        .await
        .unwrap();
    let topic_stories = store
        .stories(&StoryFilter {
            topic: Some("oil".to_string()),
            since: Some(at(0)),
            limit: 10,
        })
        .await
        .unwrap()
        .iter()
        .map(|s| s.id)
        .collect();
    let merged_away = 4;
    let by_id = store
        .stories_by_id(&[y, merged_away, 1, 99])
        .await
        .unwrap()
        .iter()
        .map(|s| s.id)
        .collect();
    let outcome = Outcome {
        counts,
        snapshot: under.snapshot().await,
        stories: listed(&stories),
        topic_stories,
        by_id,
    };
    if backend == Backend::Postgres {
        // Written with their items: five lookup keys per fingerprinted
        // item, and the folded words for search.
        assert_eq!(under.count("SELECT count(*) FROM story_keys").await, 5 * 6);
        assert_eq!(
            under
                .count("SELECT count(*) FROM items WHERE words @@ 'ministers'::tsquery")
                .await,
            3,
            "the wire item, its copy and the edited item"
        );
        assert_eq!(
            under
                .count("SELECT count(*) FROM feeds WHERE lease_owner IS NOT NULL OR lease_until IS NOT NULL")
                .await,
            0
        );
    }
    under.close().await;
    outcome
}

/// Items, sources, stories, merges, matches and feed rows: one scenario of
/// batched and single results (new items, a second source, a near copy, an
/// edit, a 304, a failure, a disabled feed, a merge) gives the expected
/// counts and rows on SQLite, and the same on PostgreSQL.
#[tokio::test]
async fn the_same_feed_results_give_the_same_rows_on_every_backend() {
    let sqlite = scenario(Backend::Sqlite).await;
    let postgres = scenario(Backend::Postgres).await;
    for outcome in [&sqlite, &postgres] {
        assert_eq!(
            outcome.counts,
            [
                vec![
                    counts(2, 0, 1, 0, 0),
                    counts(1, 0, 2, 1, 1),
                    IngestCounts::default(),
                    IngestCounts::default(),
                ],
                vec![counts(0, 1, 1, 0, 0), IngestCounts::default()],
                vec![counts(2, 0, 0, 0, 0)],
                vec![counts(1, 0, 0, 0, 1)],
            ]
        );
        let table = |name: &str| &outcome.snapshot.iter().find(|(t, _)| *t == name).unwrap().1;
        assert_eq!(table("items").len(), 6);
        assert_eq!(table("item_sources").len(), 7, "the wire item has two sources");
        assert_eq!(
            table("story_merges"),
            &vec![vec![Some("4".to_string()), Some("3".to_string())]]
        );
        assert_eq!(outcome.stories.len(), 3);
        assert_eq!(outcome.stories[0].0, 3, "the merged story, seen last");
        assert_eq!(outcome.stories[0].4, 3);
        assert_eq!(
            outcome.stories[0].2, "2017-09-25T11:30:00Z",
            "the bridge's publication"
        );
        assert_eq!(outcome.stories[0].5, ["Feed 3", "Feed 4"], "outlets, by title");
        assert_eq!(outcome.stories[0].6, ["en"]);
        assert_eq!(outcome.topic_stories, [1]);
        assert_eq!(outcome.by_id, [3, 1], "merged and unknown ids left out");
    }
    assert_eq!(sqlite.snapshot, postgres.snapshot);
    assert_eq!(sqlite.stories, postgres.stories);
}

/// One write that cannot be applied (its feed does not exist) fails alone;
/// the others in its batch are committed.
#[tokio::test]
async fn a_failing_write_does_not_take_its_batch_down() {
    for backend in Backend::ALL {
        let under = Under::new(backend).await;
        let feeds = under
            .feeds(&["https://a.example/rss", "https://b.example/rss"])
            .await;
        let results = under
            .store
            .apply_feed_writes(vec![
                FeedWrite::Update(update(
                    feeds[0],
                    0,
                    vec![
                        item("https://a.example/1", "One", "Short text."),
                        item("https://a.example/2", "Two", "Short text."),
                    ],
                )),
                FeedWrite::Update(update(
                    feeds[1] + 100,
                    0,
                    vec![item("https://nowhere.example/1", "Three", "Short text.")],
                )),
                FeedWrite::Update(update(
                    feeds[1],
                    0,
                    vec![item("https://b.example/1", "Four", "Short text.")],
                )),
            ])
            .await;
        assert_eq!(results[0].as_ref().unwrap().new, 2, "{backend:?}");
        assert!(results[1].is_err(), "{backend:?}: {:?}", results[1]);
        assert_eq!(results[2].as_ref().unwrap().new, 1, "{backend:?}");
        assert_eq!(under.store.item_count().await.unwrap(), 3, "{backend:?}");
        under.close().await;
    }
}

/// A feed's known items are its sources (with their content hashes) and
/// its tombstones; another feed's are not among them.
#[tokio::test]
async fn known_items_are_the_feeds_sources_and_tombstones() {
    for backend in Backend::ALL {
        let under = Under::new(backend).await;
        let feeds = under
            .feeds(&["https://a.example/rss", "https://b.example/rss"])
            .await;
        let results = under
            .store
            .apply_feed_writes(vec![
                FeedWrite::Update(update(
                    feeds[0],
                    0,
                    vec![item("https://wire.example/1", "One", WIRE)],
                )),
                FeedWrite::Update(update(
                    feeds[1],
                    0,
                    vec![
                        item("https://wire.example/1?utm_source=b", "One", WIRE),
                        item("https://b.example/2", "Two", OTHER),
                    ],
                )),
            ])
            .await;
        assert!(results.iter().all(Result::is_ok), "{backend:?}: {results:?}");
        let sql = format!(
            "INSERT INTO tombstones (feed_id, item_key, pruned_at) VALUES ({}, 'guid:gone', '2017-09-25T00:00:00Z')",
            feeds[1]
        );
        under.rows(&sql, &sql).await;
        let known = under.store.known_items(feeds[1]).await.unwrap();
        let mut known: Vec<(String, Known)> = known.into_iter().collect();
        known.sort_by(|a, b| a.0.cmp(&b.0));
        let hash = |link: &str, text: &str| Known::Stored(format!("{link}#{}", text.len()));
        assert_eq!(
            known,
            [
                ("guid:gone".to_string(), Known::Pruned),
                (
                    "guid:https://b.example/2".to_string(),
                    hash("https://b.example/2", OTHER)
                ),
                (
                    "guid:https://wire.example/1?utm_source=b".to_string(),
                    hash("https://wire.example/1?utm_source=b", WIRE)
                ),
            ],
            "{backend:?}"
        );
        assert_eq!(
            under.store.known_items(feeds[0]).await.unwrap().len(),
            1,
            "{backend:?}"
        );
        under.close().await;
    }
}

/// Topics: synced rows (new ones need a backfill, a changed query too,
/// one left out is retired and comes back), and a backfill's replacement
/// of matches that keeps what ingest recorded beside the scan.
#[tokio::test]
async fn topics_sync_and_backfilled_matches() {
    for backend in Backend::ALL {
        let under = Under::new(backend).await;
        let store = &under.store;
        let feeds = under.feeds(&["https://a.example/rss"]).await;
        let both = TopicSet::compile([("t", "akar"), ("u", "oil")], &TermSets::new()).unwrap();
        let rows = store.sync_topics(&both, at(0)).await.unwrap();
        let (t, u) = (rows[0].id, rows[1].id);
        assert!(rows.iter().all(|r| r.needs_backfill), "{backend:?}");
        let changed = TopicSet::compile([("t", "akar OR ankara")], &TermSets::new()).unwrap();
        let rows = store.sync_topics(&changed, at(1)).await.unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].id, t, "{backend:?}: the same row");
        let retired = "SELECT name, CASE WHEN retired_at IS NULL THEN 'active' ELSE 'retired' END, query \
                       FROM topics ORDER BY name";
        let text = |v: &[&str]| v.iter().map(|s| Some(s.to_string())).collect::<Vec<_>>();
        assert_eq!(
            under.rows(retired, retired).await,
            [
                text(&["t", "active", "akar OR ankara"]),
                text(&["u", "retired", "oil"])
            ],
            "{backend:?}"
        );
        let rows = store.sync_topics(&both, at(2)).await.unwrap();
        assert_eq!(
            rows.iter().map(|r| r.id).collect::<Vec<_>>(),
            [t, u],
            "{backend:?}"
        );
        assert_eq!(
            under.rows(retired, retired).await,
            [text(&["t", "active", "akar"]), text(&["u", "active", "oil"])],
            "{backend:?}"
        );

        let links = [
            "https://a.example/1",
            "https://a.example/2",
            "https://a.example/3",
        ];
        let results = store
            .apply_feed_writes(vec![FeedWrite::Update(update(
                feeds[0],
                0,
                links
                    .iter()
                    .map(|l| with_topics(item(l, "Akar", "Short text."), &[t]))
                    .collect(),
            ))])
            .await;
        assert_eq!(results[0].as_ref().unwrap().matches, 3, "{backend:?}");
        let ids: Vec<i64> = under
            .rows(
                "SELECT CAST(id AS TEXT) FROM items ORDER BY id",
                "SELECT id::text FROM items ORDER BY id",
            )
            .await
            .iter()
            .map(|r| r[0].as_deref().unwrap().parse().unwrap())
            .collect();
        let [a, b, c] = ids[..] else { panic!("{ids:?}") };
        // b's match was recorded after the scan began; c is past it.
        let later = at(60);
        let set_later =
            format!("UPDATE item_topics SET matched_at = '2017-09-25T11:01:00Z' WHERE item_id = {b}");
        under.rows(&set_later, &set_later).await;
        // The scan confirmed none of them; it adds a match of an item
        // outside the topic: a new match, backfilled.
        // Both topics in one call (one transaction), as a backfill writes them.
        let counts = store
            .replace_topic_matches(
                &[
                    TopicMatches {
                        topic_id: u,
                        compiled: "oil",
                        matched: &[a],
                    },
                    TopicMatches {
                        topic_id: t,
                        compiled: "akar",
                        matched: &[],
                    },
                ],
                (later, b),
                later,
            )
            .await
            .unwrap();
        assert_eq!(counts, [(1, 0), (0, 1)], "{backend:?}");
        let matches = under
            .rows(
                "SELECT CAST(item_id AS TEXT), CAST(topic_id AS TEXT), matched_at, \
                 CASE WHEN backfilled THEN 'yes' ELSE 'no' END FROM item_topics ORDER BY topic_id, item_id",
                "SELECT item_id::text, topic_id::text, fw_ts(matched_at), \
                 CASE WHEN backfilled THEN 'yes' ELSE 'no' END FROM item_topics ORDER BY topic_id, item_id",
            )
            .await;
        let row = |item: i64, topic: i64, time: &str, backfilled: &str| {
            text(&[&item.to_string(), &topic.to_string(), time, backfilled])
        };
        assert_eq!(
            matches,
            [
                row(b, t, "2017-09-25T11:01:00Z", "no"),
                row(c, t, "2017-09-25T10:00:00Z", "no"),
                row(a, u, "2017-09-25T11:00:00Z", "yes"),
            ],
            "{backend:?}: a removed from t; b (recorded later) and c (not scanned) kept"
        );
        let compiled = "SELECT compiled FROM topics ORDER BY name";
        assert_eq!(
            under.rows(compiled, compiled).await,
            [text(&["akar"]), text(&["oil"])],
            "{backend:?}"
        );
        under.close().await;
    }
}

/// Two instances on one PostgreSQL database.
async fn two_instances() -> (Store, Store, Under) {
    let under = Under::new(Backend::Postgres).await;
    let location = Location::from_url(&under.url).unwrap();
    let first = Store::open(&location).await.unwrap();
    let other = Store::open(&location).await.unwrap();
    (first, other, under)
}

/// Two instances, each with its own writer, write copies of one article at
/// the same moment, round after round: two feeds listing the same URL
/// (one under a tracking parameter), and two near-duplicate copies under
/// their own URLs. Every URL is stored once (with both sources), every
/// article makes one story, and every story counts its items.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_instances_writing_copies_at_once_store_each_once_in_one_story() {
    let (one, two, under) = two_instances().await;
    let feeds = under
        .feeds(&["https://a.example/rss", "https://b.example/rss"])
        .await;
    let (queue_one, queue_two) = (one.write_queue(), two.write_queue());
    const ROUNDS: usize = 12;
    // Fingerprints of the rounds' articles, far apart (random 64-bit
    // values are ~32 bits apart): each round is a story of its own.
    let mut rng = fastrand::Rng::with_seed(5);
    for round in 0..ROUNDS {
        let fp = rng.u64(..);
        let copy = |link: &str, flip: u64| with_fingerprint(item(link, "Talks", WIRE), fp ^ flip);
        let one_writes = FeedWrite::Update(update(
            feeds[0],
            round as i64,
            vec![
                copy(&format!("https://wire.example/{round}"), 0),
                copy(&format!("https://a.example/{round}"), 0b1),
            ],
        ));
        // The same URL under a tracking parameter, and a near copy.
        let two_writes = FeedWrite::Update(update(
            feeds[1],
            round as i64,
            vec![
                copy(&format!("https://wire.example/{round}?utm_source=b"), 0),
                copy(&format!("https://b.example/{round}"), 0b110),
            ],
        ));
        let (a, b) = tokio::join!(queue_one.write(one_writes), queue_two.write(two_writes));
        let (a, b) = (a.unwrap(), b.unwrap());
        assert_eq!(a.new + b.new, 3, "round {round}: {a:?} {b:?}");
        assert_eq!(a.duplicates + b.duplicates, 1, "round {round}: {a:?} {b:?}");
        assert_eq!(a.joined + b.joined, 2, "round {round}: {a:?} {b:?}");
    }
    assert_eq!(under.count("SELECT count(*) FROM items").await, 3 * ROUNDS as i64);
    assert_eq!(
        under
            .count("SELECT count(*) FROM (SELECT canonical_url FROM items GROUP BY 1 HAVING count(*) > 1) d")
            .await,
        0,
        "a canonical URL stored twice"
    );
    assert_eq!(
        under.count("SELECT count(*) FROM item_sources").await,
        4 * ROUNDS as i64
    );
    assert_eq!(
        under.count("SELECT count(*) FROM stories").await,
        ROUNDS as i64,
        "one story per round"
    );
    assert_eq!(
        under
            .count("SELECT count(*) FROM stories s WHERE item_count <> (SELECT count(*) FROM items WHERE story_id = s.id)")
            .await,
        0
    );
    assert_eq!(under.count("SELECT count(*) FROM story_merges").await, 0);
    queue_one.close().await;
    queue_two.close().await;
    one.close().await;
    two.close().await;
    under.close().await;
}

/// Two stories of copies too far apart to join each other; two instances
/// then write a bridging copy each at the same moment: the stories are
/// merged once (one merge recorded, counts right), and both bridges join
/// the story kept.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_bridges_written_at_once_merge_two_stories_once() {
    let (one, two, under) = two_instances().await;
    let feeds = under
        .feeds(&["https://a.example/rss", "https://b.example/rss"])
        .await;
    const ROUNDS: u64 = 8;
    let mut rng = fastrand::Rng::with_seed(9);
    for round in 0..ROUNDS {
        // Far from the other rounds'; x and z 16 bits apart, each bridge
        // 8 bits from both (and 16 from the other bridge).
        let fp = rng.u64(..);
        let text = OTHER;
        let results = one
            .apply_feed_writes(vec![FeedWrite::Update(update(
                feeds[0],
                0,
                vec![
                    with_fingerprint(item(&format!("https://a.example/x{round}"), "T", text), fp),
                    with_fingerprint(
                        item(&format!("https://a.example/z{round}"), "T", text),
                        fp ^ 0xffff,
                    ),
                ],
            ))])
            .await;
        assert_eq!(results[0].as_ref().unwrap().joined, 0, "{results:?}");
        let bridge = |feed: i64, link: String, flip: u64| {
            FeedWrite::Update(update(
                feed,
                1,
                vec![with_fingerprint(item(&link, "T", text), fp ^ flip)],
            ))
        };
        let (a, b) = tokio::join!(
            one.apply_feed_update(
                match bridge(feeds[0], format!("https://a.example/y{round}"), 0xff) {
                    FeedWrite::Update(u) => u,
                    _ => unreachable!(),
                }
            ),
            two.apply_feed_update(
                match bridge(feeds[1], format!("https://b.example/y{round}"), 0xff00) {
                    FeedWrite::Update(u) => u,
                    _ => unreachable!(),
                }
            ),
        );
        assert_eq!((a.unwrap().joined, b.unwrap().joined), (1, 1), "round {round}");
    }
    assert_eq!(under.count("SELECT count(*) FROM stories").await, ROUNDS as i64);
    assert_eq!(
        under.count("SELECT count(*) FROM story_merges").await,
        ROUNDS as i64,
        "merged once each"
    );
    assert_eq!(
        under
            .count("SELECT count(*) FROM stories s WHERE item_count <> (SELECT count(*) FROM items WHERE story_id = s.id)")
            .await,
        0
    );
    assert_eq!(
        under
            .count("SELECT count(*) FROM stories WHERE item_count = 4")
            .await,
        ROUNDS as i64
    );
    one.close().await;
    two.close().await;
    under.close().await;
}

/// Instances starting together sync the same topics at once: one row per
/// topic, the same ids for both.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn instances_syncing_topics_at_once_agree() {
    let (one, two, under) = two_instances().await;
    let names: Vec<String> = (0..10).map(|i| format!("t{i}")).collect();
    let topics = TopicSet::compile(names.iter().map(|n| (n.as_str(), "akar")), &TermSets::new()).unwrap();
    let (a, b) = tokio::join!(one.sync_topics(&topics, at(0)), two.sync_topics(&topics, at(0)));
    let ids = |rows: Vec<feedwatch::store::TopicRow>| rows.into_iter().map(|r| r.id).collect::<Vec<_>>();
    assert_eq!(ids(a.unwrap()), ids(b.unwrap()));
    assert_eq!(under.count("SELECT count(*) FROM topics").await, 10);
    one.close().await;
    two.close().await;
    under.close().await;
}
