//! Query commands open the database read-only (issue 20 items 7 and 8):
//! a writer's transaction never holds them up, they never migrate, and
//! the files feedwatch creates are private to their owner.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::common::{jsonl, rss, FeedServer, Output, Route, Workspace};
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::ConnectOptions;

const ALERT: &str = "[[channel]]\nname = \"jsonl\"\nkind = \"file\"\npath = \"out/digests.jsonl\"\n\
                     [[alert]]\nname = \"k-alert\"\ntopics = [\"k\"]\nschedule = \"immediate\"\nchannels = [\"jsonl\"]\n";

/// A workspace with one feed of two items, one matching topic `k`.
async fn workspace(server: &FeedServer) -> Workspace {
    server.set(
        "/r.xml",
        Route::Feed {
            body: rss(&[
                ("r1", "Kurdistan referendum in Erbil", "Text one."),
                ("r2", "Erbil market", "Text two."),
            ]),
            content_type: "application/rss+xml",
        },
    );
    Workspace::new(
        &[(&server.url("/r.xml"), "Readers feed")],
        &[("k", "Kurdistan AND referendum")],
        ALERT,
    )
}

/// A connection that may write, as another feedwatch (or sqlite3) has.
async fn writer(db: &Path) -> sqlx::SqliteConnection {
    SqliteConnectOptions::new().filename(db).connect().await.unwrap()
}

/// The output of a command that prints one value (`--count`, `db check`).
fn one_line(out: &Output) -> &str {
    out.stdout.trim()
}

/// What a command's output must show.
type Check = Box<dyn Fn(&Output)>;

#[tokio::test(flavor = "multi_thread")]
async fn readers_are_not_held_up_by_a_write_transaction() {
    let server = FeedServer::start().await;
    let ws = workspace(&server).await;
    let out = ws.run(&["run", "--once"]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let out = ws.run(&["digest", "send", "--alert", "k-alert", "--now"]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);

    // Another process takes the write lock and keeps it (a long `db
    // vacuum`, a prune, the daemon's group commit) while the readers run.
    let mut held = writer(&ws.db_path()).await;
    sqlx::query("BEGIN IMMEDIATE").execute(&mut held).await.unwrap();
    sqlx::query("UPDATE feeds SET name = 'uncommitted'")
        .execute(&mut held)
        .await
        .unwrap();

    let backup = ws.dir.path().join("backup.db");
    let report = ws.dir.path().join("report.html");
    let commands: Vec<(Vec<&str>, Check)> = vec![
        (
            vec!["search", "referendum", "--format", "jsonl"],
            Box::new(|out| {
                let items = jsonl(&out.stdout);
                assert_eq!(items.len(), 1, "{}", out.stdout);
                assert_eq!(items[0]["title"], "Kurdistan referendum in Erbil");
            }),
        ),
        (
            vec!["search", "--count"],
            Box::new(|out| assert_eq!(one_line(out), "2")),
        ),
        (
            vec!["stories", "--since", "2017-01-01", "--format", "jsonl"],
            Box::new(|out| assert_eq!(jsonl(&out.stdout).len(), 2, "{}", out.stdout)),
        ),
        (
            vec!["feeds", "list", "--format", "jsonl"],
            Box::new(|out| {
                let feeds = jsonl(&out.stdout);
                assert_eq!(feeds.len(), 1, "{}", out.stdout);
                assert_eq!(feeds[0]["name"], "Readers feed", "the last commit");
                assert_eq!(feeds[0]["item_count"], 2);
            }),
        ),
        (
            vec!["feeds", "status", "--format", "jsonl"],
            Box::new(|out| assert_eq!(jsonl(&out.stdout).len(), 1, "{}", out.stdout)),
        ),
        (
            vec!["topics", "list", "--format", "jsonl"],
            Box::new(|out| {
                let topics = jsonl(&out.stdout);
                assert_eq!(topics.len(), 1, "{}", out.stdout);
                assert_eq!(
                    (&topics[0]["name"], &topics[0]["total"]),
                    (&"k".into(), &1.into())
                );
            }),
        ),
        (
            vec![
                "topics",
                "test",
                "Erbil",
                "--since",
                "2017-01-01",
                "--format",
                "jsonl",
            ],
            Box::new(|out| assert_eq!(jsonl(&out.stdout).len(), 2, "{}", out.stdout)),
        ),
        (
            vec![
                "stats",
                "--since",
                "2017-09-20",
                "--until",
                "2017-09-27",
                "--format",
                "jsonl",
            ],
            Box::new(|out| {
                let items: i64 = jsonl(&out.stdout)
                    .iter()
                    .map(|r| r["items"].as_i64().unwrap())
                    .sum();
                assert_eq!(items, 2, "{}", out.stdout);
            }),
        ),
        (
            vec![
                "report",
                "--topic",
                "k",
                "--since",
                "2017-09-20",
                "--until",
                "2017-09-27",
                "--out",
                report.to_str().unwrap(),
            ],
            Box::new(|out| assert!(out.stdout.starts_with("wrote "), "{}", out.stdout)),
        ),
        (
            vec!["digest", "preview", "--format", "json"],
            Box::new(|out| assert_eq!(jsonl(&out.stdout).len(), 1, "{}", out.stdout)),
        ),
        (
            vec!["digests", "list", "--format", "jsonl"],
            Box::new(|out| assert_eq!(jsonl(&out.stdout).len(), 1, "{}", out.stdout)),
        ),
        (
            vec!["opml", "export"],
            Box::new(|out| assert!(out.stdout.contains("/r.xml"), "{}", out.stdout)),
        ),
        (
            vec!["db", "check"],
            Box::new(|out| assert_eq!(one_line(out), "ok")),
        ),
        (
            vec!["db", "backup", backup.to_str().unwrap()],
            Box::new(|out| assert!(out.stdout.starts_with("backed up to "), "{}", out.stdout)),
        ),
    ];
    for (args, check) in &commands {
        let started = Instant::now();
        let out = ws.run(args).await;
        let took = started.elapsed();
        assert_eq!(out.code, 0, "{args:?}: {}", out.stderr);
        assert_eq!(out.stderr, "", "{args:?}");
        check(&out);
        // Not a speed check: a command that needed the write lock would
        // wait out the 10 s busy timeout (and fail).
        assert!(took < Duration::from_secs(5), "{args:?} took {took:?}");
    }
    sqlx::query("ROLLBACK").execute(&mut held).await.unwrap();

    let mut copy = SqliteConnectOptions::new()
        .filename(&backup)
        .read_only(true)
        .connect()
        .await
        .unwrap();
    let items: i64 = sqlx::query_scalar("SELECT count(*) FROM items")
        .fetch_one(&mut copy)
        .await
        .unwrap();
    assert_eq!(items, 2, "the backup holds the last commit");
}

/// A copy of `migrations/` without the newest migration.
fn migrations_but_the_last() -> (tempfile::TempDir, i64) {
    let dir = tempfile::tempdir().unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("migrations")
        .join("sqlite");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    let last = files.pop().unwrap();
    for file in &files {
        std::fs::copy(file, dir.path().join(file.file_name().unwrap())).unwrap();
    }
    let version = last.file_name().unwrap().to_str().unwrap()[..4].parse().unwrap();
    (dir, version)
}

async fn migrations(db: &Path) -> Vec<i64> {
    let mut conn = writer(db).await;
    sqlx::query_scalar("SELECT version FROM _sqlx_migrations ORDER BY version")
        .fetch_all(&mut conn)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn readers_refuse_an_older_schema_and_run_upgrades_it() {
    let server = FeedServer::start().await;
    let ws = workspace(&server).await;
    // The database as the previous feedwatch left it: every migration but
    // the newest applied.
    let (old, newest) = migrations_but_the_last();
    std::fs::create_dir_all(ws.db_path().parent().unwrap()).unwrap();
    {
        let mut conn = SqliteConnectOptions::new()
            .filename(ws.db_path())
            .create_if_missing(true)
            .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
            .connect()
            .await
            .unwrap();
        let migrator = sqlx::migrate::Migrator::new(old.path()).await.unwrap();
        migrator.run(&mut conn).await.unwrap();
    }
    let before = migrations(&ws.db_path()).await;
    assert!(!before.contains(&newest));

    let backup = ws.dir.path().join("backup.db");
    for args in [
        &["search", "referendum"][..],
        &["feeds", "list"],
        &["db", "backup", backup.to_str().unwrap()],
    ] {
        let out = ws.run(args).await;
        assert_eq!(out.code, 1, "{args:?}: {}", out.stdout);
        assert_eq!(
            out.stderr.trim(),
            format!(
                "feedwatch: database {} was written by an older feedwatch: run `feedwatch run --once` (or restart the daemon) to upgrade it",
                ws.db_path().display()
            ),
            "{args:?}"
        );
    }
    assert_eq!(migrations(&ws.db_path()).await, before, "readers migrate nothing");
    assert!(!backup.exists());

    let out = ws.run(&["run", "--once"]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(migrations(&ws.db_path()).await.contains(&newest));
    let items = ws.search(&["referendum"]).await;
    assert_eq!(items.len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn readers_refuse_a_newer_schema() {
    let server = FeedServer::start().await;
    let ws = workspace(&server).await;
    let out = ws.run(&["run", "--once"]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let mut conn = writer(&ws.db_path()).await;
    sqlx::query(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
         SELECT 9999, 'from the future', 1, checksum, 0 FROM _sqlx_migrations ORDER BY version DESC LIMIT 1",
    )
    .execute(&mut conn)
    .await
    .unwrap();

    let out = ws.run(&["search", "referendum"]).await;
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains(&format!(
            "database {} was written by a newer feedwatch (schema migration 9999; this one knows up to ",
            ws.db_path().display()
        )),
        "{}",
        out.stderr
    );
    assert_eq!(out.stderr.lines().count(), 1, "{}", out.stderr);
}

/// A text search of items a writer has not put in the full-text index yet
/// (an interrupted backfill) warns on stderr.
#[tokio::test(flavor = "multi_thread")]
async fn readers_warn_of_items_not_yet_in_the_full_text_index() {
    let server = FeedServer::start().await;
    let ws = workspace(&server).await;
    let out = ws.run(&["run", "--once"]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let mut conn = writer(&ws.db_path()).await;
    sqlx::query("INSERT INTO items_fts_backfill (item_id) SELECT id FROM items")
        .execute(&mut conn)
        .await
        .unwrap();
    let out = ws.run(&["search", "--count"]).await;
    assert_eq!((out.code, one_line(&out)), (0, "2"), "{}", out.stderr);
    assert!(
        out.stderr
            .contains("2 items of ")
            && out.stderr.contains(
                "are not in the full-text index yet: text searches miss them until `feedwatch run --once` (or the daemon) indexes them"
            ),
        "{}",
        out.stderr
    );
    let out = ws.run(&["run", "--once"]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let out = ws.run(&["search", "--count"]).await;
    assert_eq!((out.code, out.stderr.as_str()), (0, ""));
}

/// Runs the binary under `umask 022`, as a careless service manager might.
fn run_with_umask(config: &Path, args: &[&str]) -> Output {
    let output = std::process::Command::new("sh")
        .arg("-c")
        .arg("umask 022; exec \"$0\" \"$@\"")
        .arg(env!("CARGO_BIN_EXE_feedwatch"))
        .arg("--config")
        .arg(config)
        .args(args)
        .env_remove("FEEDWATCH_LOG")
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    Output {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8(output.stdout).unwrap(),
        stderr: String::from_utf8(output.stderr).unwrap(),
    }
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

fn beside(db: &Path, suffix: &str) -> PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

#[tokio::test(flavor = "multi_thread")]
async fn created_files_are_private_and_backups_follow_the_database() {
    let server = FeedServer::start().await;
    let ws = workspace(&server).await;
    let config = ws.config_path();
    let db = ws.db_path();
    let out = run_with_umask(&config, &["run", "--once"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    // A reader opens it too (and creates the WAL and its index if the
    // writer's close removed them).
    let out = run_with_umask(&config, &["search", "--count"]);
    assert_eq!((out.code, one_line(&out)), (0, "2"), "{}", out.stderr);
    assert_eq!(mode(db.parent().unwrap()), 0o700, "the directory it created");
    for suffix in ["", "-wal", "-shm", ".lock", ".migrate-lock"] {
        assert_eq!(mode(&beside(&db, suffix)), 0o600, "feedwatch.db{suffix}");
    }

    let backup = ws.dir.path().join("backup.db");
    let out = run_with_umask(&config, &["db", "backup", backup.to_str().unwrap()]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(mode(&backup), 0o600);

    // An operator shares the database with a reading group: backups too.
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o640)).unwrap();
    let shared = ws.dir.path().join("shared.db");
    let out = run_with_umask(&config, &["db", "backup", shared.to_str().unwrap()]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(mode(&shared), 0o640);
    // And the database keeps the mode it was given.
    let out = run_with_umask(&config, &["run", "--once"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(mode(&db), 0o640);
}

/// Issue 19: a change of the folding rules re-indexes stored items for text
/// search (migration 0019 lists them; the next writer indexes them), so an
/// old item indexed under the old rules (`łodz`, `ab` split at a ZWJ) is
/// found by the new ones.
#[tokio::test(flavor = "multi_thread")]
async fn a_folding_change_reindexes_stored_items() {
    let server = FeedServer::start().await;
    server.set(
        "/l.xml",
        Route::Feed {
            body: rss(&[("l1", "Łódź and Kurdi\u{200D}stan", "Text.")]),
            content_type: "application/rss+xml",
        },
    );
    let ws = Workspace::new(&[(&server.url("/l.xml"), "L")], &[], "");
    assert_eq!(ws.run(&["run", "--once"]).await.code, 0);
    let count = |out: Output| (out.code, out.stdout.trim().to_string());
    assert_eq!(
        count(ws.run(&["search", "--count", "Lodz"]).await),
        (0, "1".into())
    );
    // As a database written before migration 0019: the index holds the old
    // folding and the migration is not recorded.
    {
        let mut conn = SqliteConnectOptions::new()
            .filename(ws.db_path())
            .connect()
            .await
            .unwrap();
        sqlx::query("UPDATE items_fts SET title = 'łodz and kurdi stan'")
            .execute(&mut conn)
            .await
            .unwrap();
        sqlx::query("DELETE FROM _sqlx_migrations WHERE version = 19")
            .execute(&mut conn)
            .await
            .unwrap();
    }
    assert_eq!(
        count(ws.run(&["search", "--count", "Lodz"]).await).0,
        1,
        "readers ask for the upgrade"
    );
    let out = ws.run(&["run", "--once"]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stderr.contains("indexing items for text search"),
        "{}",
        out.stderr
    );
    assert_eq!(
        count(ws.run(&["search", "--count", "Lodz"]).await),
        (0, "1".into())
    );
    assert_eq!(
        count(ws.run(&["search", "--count", "Kurdistan"]).await),
        (0, "1".into())
    );
}
