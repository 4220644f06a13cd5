//! `feedwatch db migrate-to`: a SQLite archive copied into PostgreSQL, all
//! of it, resumable.

use std::collections::BTreeMap;

use feedwatch::store::{Location, Store};
use sqlx::Connection;

use crate::common::{pg, rss, FeedServer, Route, Workspace};

/// Row counts of the copied tables, per table.
async fn counts_sqlite(path: &std::path::Path) -> BTreeMap<&'static str, i64> {
    let mut db = sqlx::SqliteConnection::connect(&format!("sqlite:{}", path.display()))
        .await
        .unwrap();
    let mut counts = BTreeMap::new();
    for table in TABLES {
        let n: i64 = sqlx::query_scalar(&format!("SELECT count(*) FROM {table}"))
            .fetch_one(&mut db)
            .await
            .unwrap();
        counts.insert(*table, n);
    }
    counts
}

async fn counts_postgres(url: &str) -> BTreeMap<&'static str, i64> {
    let mut db = sqlx::PgConnection::connect(url).await.unwrap();
    let mut counts = BTreeMap::new();
    for table in TABLES {
        let n: i64 = sqlx::query_scalar(&format!("SELECT count(*) FROM {table}"))
            .fetch_one(&mut db)
            .await
            .unwrap();
        counts.insert(*table, n);
    }
    counts
}

const TABLES: &[&str] = &[
    "feeds",
    "topics",
    "stories",
    "items",
    "item_sources",
    "item_topics",
    "digests",
    "digest_items",
];

#[tokio::test(flavor = "multi_thread")]
async fn a_sqlite_archive_is_copied_into_postgres_whole_and_an_interrupted_copy_resumes() {
    let server = FeedServer::start().await;
    // 2,600 items (three batches), a wire copy in two feeds, matches.
    let many: Vec<(String, String, String)> = (0..2600)
        .map(|i| {
            (
                format!("n{i}"),
                format!("Kurdistan bulletin number {i}"),
                format!("Erbil item {i} with words of its own: w{i}a w{i}b w{i}c."),
            )
        })
        .collect();
    let many: Vec<(&str, &str, &str)> = many
        .iter()
        .map(|(a, b, c)| (a.as_str(), b.as_str(), c.as_str()))
        .collect();
    let feed = |body| Route::Feed {
        body,
        content_type: "application/rss+xml",
    };
    server.set("/many.xml", feed(rss(&[])));
    server.set(
        "/other.xml",
        feed(rss(&[(
            "n1",
            "Kurdistan bulletin number 1",
            "Erbil item 1 with words of its own: w1a w1b w1c.",
        )])),
    );
    let ws = Workspace::new(
        &[
            (&server.url("/many.xml"), "Many"),
            (&server.url("/other.xml"), "Other"),
        ],
        &[("k", "Kurdistan")],
        "[[channel]]\nname = \"jl\"\nkind = \"file\"\npath = \"out/d.jsonl\"\n\
         [[alert]]\nname = \"now\"\ntopics = [\"k\"]\nschedule = \"immediate\"\nchannels = [\"jl\"]\n",
    );
    // The first run meets the alert (matches from before it are not sent),
    // the second brings the bulletins, and digests of them.
    let out = ws.run(&["run", "--once"]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    server.set("/many.xml", feed(rss(&many)));
    let out = ws.run(&["run", "--once"]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let out = ws.run(&["digest", "send", "--alert", "now", "--now"]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let source = counts_sqlite(&ws.db_path()).await;
    assert_eq!(source["items"], 2600, "{source:?}");
    assert!(source["digest_items"] > 0, "{source:?} {}", out.stdout);

    // A copy stopped after its first batch of items...
    let url = pg::database().await;
    let target = Location::from_url(&url).unwrap();
    let store = Store::open_read_only(ws.db_path()).await.unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let mut stop = Some(stop);
    let mut progress = |p: feedwatch::store::CopyProgress| {
        if p.table == "items" && p.done > 0 {
            if let Some(stop) = stop.take() {
                let _ = stop.send(());
            }
        }
    };
    let copy = store.migrate_to(&target, &mut progress);
    tokio::select! {
        result = copy => panic!("the copy should have been stopped: {result:?}"),
        _ = stopped => {}
    }
    let partial = counts_postgres(&url).await;
    assert!(partial["items"] > 0 && partial["items"] < 2600, "{partial:?}");

    // ... resumes from the command line, and the copy is whole.
    let out = ws.run(&["db", "migrate-to", &url]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains("copied "), "{}", out.stdout);
    assert_eq!(counts_postgres(&url).await, source);

    // The copy reads back as the original: the same search results, and
    // PostgreSQL's own invariants (story lookup keys, search words) hold.
    let pg_config = ws.dir.path().join("pg.toml");
    let config = std::fs::read_to_string(ws.config_path()).unwrap().replace(
        "[store]\npath = \"data/feedwatch.db\"\n",
        &format!("[store]\nurl = {url:?}\n"),
    );
    std::fs::write(&pg_config, config).unwrap();
    let check = crate::common::run_with_config(&pg_config, &["db", "check"]).await;
    assert_eq!(check.code, 0, "{}{}", check.stdout, check.stderr);
    let search = |config: std::path::PathBuf| async move {
        let out = crate::common::run_with_config(
            &config,
            &["search", "Erbil", "--format", "jsonl", "--limit", "5000"],
        )
        .await;
        assert_eq!(out.code, 0, "{}", out.stderr);
        crate::common::jsonl(&out.stdout)
    };
    let (on_sqlite, on_postgres) = (search(ws.config_path()).await, search(pg_config.clone()).await);
    assert_eq!(on_sqlite.len(), 2600);
    assert_eq!(on_sqlite, on_postgres);

    // New ids continue after the copied ones; a second copy is refused.
    let mut db = sqlx::PgConnection::connect(&url).await.unwrap();
    let next: i64 = sqlx::query_scalar("SELECT nextval(pg_get_serial_sequence('items', 'id'))")
        .fetch_one(&mut db)
        .await
        .unwrap();
    let max: i64 = sqlx::query_scalar("SELECT max(id) FROM items")
        .fetch_one(&mut db)
        .await
        .unwrap();
    assert!(next > max);
    let again = ws.run(&["db", "migrate-to", &url]).await;
    assert_eq!(again.code, 1);
    assert!(
        again.stderr.contains("already holds a feedwatch archive"),
        "{}",
        again.stderr
    );
    let not_pg = ws.run(&["db", "migrate-to", "sqlite:///tmp/x.db"]).await;
    assert!(
        not_pg.stderr.contains("is not a PostgreSQL URL"),
        "{}",
        not_pg.stderr
    );
}
