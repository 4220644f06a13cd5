//! Language identification end to end through the real binary: an item's
//! `lang` is the language of its text (`lang:` topics, `search --lang`),
//! the feed's declaration is kept as `declared_lang`, `[[feed]] lang`
//! overrides, and short titles fall back to the declaration.

use crate::common::{FeedServer, Route, Workspace};

/// A channel whose `<language>` is `lang` with `(guid, title, text)` items.
fn rss_in(lang: &str, items: &[(&str, &str, &str)]) -> String {
    let mut out = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><rss version=\"2.0\"><channel><title>Outlet</title>\
         <link>https://outlet.example/</link><language>{lang}</language><description>d</description>"
    );
    for (i, (guid, title, text)) in items.iter().enumerate() {
        out.push_str(&format!(
            "<item><guid>{guid}</guid><title>{title}</title><link>https://outlet.example/{guid}</link>\
             <pubDate>Sat, 23 Sep 2017 {:02}:00:00 +0000</pubDate><description>{text}</description></item>",
            i % 24
        ));
    }
    out.push_str("</channel></rss>");
    out
}

fn serve(server: &FeedServer, path: &str, body: String) {
    server.set(
        path,
        Route::Feed {
            body,
            content_type: "application/rss+xml",
        },
    );
}

/// (title, text) of a fixture: first line title, the rest text.
fn article(fixture: &str) -> (&str, &str) {
    let (title, text) = fixture.split_once('\n').unwrap();
    (title, text.trim())
}

const FA_WIRE: &str = include_str!("../fixtures/dedup/wire-copy-fa.txt");
const AKAR: &str = include_str!("../fixtures/dedup/same-event-akar-visit.txt");
/// Written for this test (Sorani): "The chiefs of staff of Iran and Turkey
/// met in Tehran and opposed the Kurdistan independence referendum."
const SORANI: &str = "سەرۆکی ئەرکانی سوپای ئێران و هاوتا تورکەکەی لە تاران کۆبوونەوە و دژایەتی \
                      خۆیان بۆ ڕیفراندۆمی سەربەخۆیی هەرێمی کوردستان ڕاگەیاند";

fn by_guid<'a>(items: &'a [serde_json::Value], guid: &str) -> &'a serde_json::Value {
    items
        .iter()
        .find(|i| i["guid"] == guid)
        .unwrap_or_else(|| panic!("no item {guid} in {items:?}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn items_get_the_language_of_their_text_and_keep_the_declared_one() {
    let server = FeedServer::start().await;
    let (fa_title, fa_text) = article(FA_WIRE);
    let (en_title, en_text) = article(AKAR);
    // An English-language feed that also carries Persian and Sorani copy.
    serve(
        &server,
        "/en.xml",
        rss_in(
            "en-US",
            &[
                ("en-1", en_title, en_text),
                ("fa-1", fa_title, fa_text),
                ("ckb-1", "ڕیفراندۆمی سەربەخۆیی کوردستان", SORANI),
            ],
        ),
    );
    // Short titles alone: a Sorani feed's headline without Sorani letters,
    // and a Turkish feed's one-word headline, keep their feed's language.
    serve(
        &server,
        "/ckb.xml",
        rss_in("ckb", &[("ckb-short", "کوردستان و تورکیا", "")]),
    );
    serve(&server, "/tr.xml", rss_in("tr", &[("tr-short", "Ankara", "")]));
    // A feed declared Persian whose items are in English, told by config.
    serve(
        &server,
        "/mislabelled.xml",
        rss_in(
            "fa",
            &[("cfg-1", "Talks in Tehran", "Officials met in Tehran on Saturday.")],
        ),
    );
    let config = format!(
        "[fetch]\nallow_private_networks = true\n[store]\npath = \"data/feedwatch.db\"\n\
         [[feed]]\nurl = {:?}\n[[feed]]\nurl = {:?}\n[[feed]]\nurl = {:?}\n\
         [[feed]]\nurl = {:?}\nlang = \"en-GB\"\n\
         [[topic]]\nname = \"persian-referendum\"\nquery = 'همه‌پرسی lang:fa'\n\
         [[topic]]\nname = \"any-referendum\"\nquery = 'همه‌پرسی OR ڕیفراندۆمی OR referendum'\n",
        server.url("/en.xml"),
        server.url("/ckb.xml"),
        server.url("/tr.xml"),
        server.url("/mislabelled.xml"),
    );
    let ws = Workspace::with_config(&config);
    let out = ws.run(&["run", "--once"]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);

    let items = ws.search(&[]).await;
    let lang = |guid: &str| by_guid(&items, guid)["lang"].as_str().unwrap_or("").to_string();
    let declared = |guid: &str| by_guid(&items, guid)["declared_lang"].clone();
    assert_eq!(lang("en-1"), "en");
    assert_eq!(lang("fa-1"), "fa");
    assert_eq!(declared("fa-1"), "en-us");
    assert_eq!(lang("ckb-1"), "ckb", "Sorani is not Persian");
    assert_eq!(declared("ckb-1"), "en-us");
    assert_eq!(lang("ckb-short"), "ckb");
    assert_eq!(lang("tr-short"), "tr");
    assert_eq!(lang("cfg-1"), "en", "[[feed]] lang wins");
    assert_eq!(declared("cfg-1"), "fa");

    // `lang:fa` topics see the Persian item of the English feed.
    assert_eq!(
        by_guid(&items, "fa-1")["topics"],
        serde_json::json!(["any-referendum", "persian-referendum"])
    );
    assert_eq!(
        by_guid(&items, "ckb-1")["topics"],
        serde_json::json!(["any-referendum"])
    );
    let persian = ws.search(&["--topic", "persian-referendum"]).await;
    assert_eq!(persian.len(), 1, "{persian:?}");
    assert_eq!(persian[0]["guid"], "fa-1");

    // `search --lang` and `lang:` in a search query use it too.
    let fa: Vec<_> = ws.search(&["--lang", "fa"]).await;
    assert_eq!(fa.iter().map(|i| i["guid"].clone()).collect::<Vec<_>>(), ["fa-1"]);
    let ckb = ws.search(&["--lang", "ckb"]).await;
    let mut guids: Vec<_> = ckb
        .iter()
        .map(|i| i["guid"].as_str().unwrap().to_string())
        .collect();
    guids.sort();
    assert_eq!(guids, ["ckb-1", "ckb-short"]);
    let ckb = ws.search(&["ڕیفراندۆمی lang:ckb"]).await;
    assert_eq!(
        ckb.iter().map(|i| i["guid"].clone()).collect::<Vec<_>>(),
        ["ckb-1"]
    );
    assert!(ws.search(&["ڕیفراندۆمی lang:fa"]).await.is_empty());

    // And the csv export carries both.
    let out = ws
        .run(&["search", "--format", "csv", "--lang", "ckb", "--limit", "1"])
        .await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let header = out.stdout.lines().next().unwrap();
    assert!(
        header.ends_with(",declared_lang,text_source,summary,page_error"),
        "{header}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_feed_lang_that_is_not_a_language_tag_is_a_config_error() {
    let ws = Workspace::with_config(
        "[store]\npath = \"data/feedwatch.db\"\n[[feed]]\nurl = \"https://a.example/rss\"\nlang = \"Farsi!\"\n",
    );
    let out = ws.run(&["check"]).await;
    assert_ne!(out.code, 0);
    assert!(
        out.stderr
            .contains("line 5: feed[0].lang: \"Farsi!\" is not a language tag"),
        "{}",
        out.stderr
    );
}

/// A copy of the SQLite migrations up to `version`.
fn migrations_up_to(version: u32) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("migrations")
        .join("sqlite");
    for entry in std::fs::read_dir(&root).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_string();
        if name[..4].parse::<u32>().unwrap() <= version {
            std::fs::copy(&path, dir.path().join(name)).unwrap();
        }
    }
    dir
}

/// Issue 19: items stored before language identification (migration 0018)
/// have their feed's declared tag as `lang`. Migration 0021 lists them and
/// the next writer identifies them as the pipeline does: `lang` follows
/// the text, `declared_lang` stays, `lang:` topics are evaluated again, a
/// Sorani item is indexed with the Sorani spellings. An item written since
/// 0018 keeps its language (it may be a `[[feed]] lang` override). A
/// reader during an unfinished drain works and says so.
#[tokio::test(flavor = "multi_thread")]
async fn items_stored_before_identification_are_identified_by_the_next_writer() {
    use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode};
    use sqlx::ConnectOptions;

    let server = FeedServer::start().await;
    serve(
        &server,
        "/old.xml",
        rss_in(
            "en",
            &[(
                "new-1",
                "Parliament debates the budget",
                "The parliament met on Monday.",
            )],
        ),
    );
    const TOPIC: &str = "همه‌پرسی lang:fa";
    let config = format!(
        "[fetch]\nallow_private_networks = true\n[store]\npath = \"data/feedwatch.db\"\n\
         [[feed]]\nurl = {:?}\n\
         [[topic]]\nname = \"persian-referendum\"\nquery = '{TOPIC}'\n",
        server.url("/old.xml"),
    );
    let ws = Workspace::with_config(&config);
    let db = ws.db_path();
    std::fs::create_dir_all(db.parent().unwrap()).unwrap();
    let connect = || async {
        SqliteConnectOptions::new()
            .filename(&db)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .connect()
            .await
            .unwrap()
    };
    let (fa_title, fa_text) = article(FA_WIRE);
    let (en_title, en_text) = article(AKAR);
    let sorani_title = "ڕیفراندۆمی سەربەخۆیی لە هه‌ولێر";
    {
        // The database as feedwatch left it before migration 0018: `lang`
        // is the feed's tag, verbatim.
        let mut conn = connect().await;
        let old = migrations_up_to(17);
        sqlx::migrate::Migrator::new(old.path())
            .await
            .unwrap()
            .run(&mut conn)
            .await
            .unwrap();
        sqlx::query("INSERT INTO feeds (id, url, created_at) VALUES (1, ?, '2017-09-20T00:00:00Z')")
            .bind(server.url("/old.xml"))
            .execute(&mut conn)
            .await
            .unwrap();
        let item = |guid: &'static str, title: &'static str, text: &'static str, lang: &'static str| {
            sqlx::query(
                "INSERT INTO items (feed_id, item_key, guid, title, text, lang, sort_at, fetched_at, \
                 first_seen_at, content_hash) VALUES (1, 'guid:' || ?1, ?1, ?2, ?3, ?4, \
                 strftime('%Y-%m-%dT%H:%M:%SZ', 'now', '-2 days'), \
                 strftime('%Y-%m-%dT%H:%M:%SZ', 'now', '-2 days'), \
                 strftime('%Y-%m-%dT%H:%M:%SZ', 'now', '-2 days'), 'h-' || ?1)",
            )
            .bind(guid)
            .bind(title)
            .bind(text)
            .bind(lang)
        };
        item("old-fa", fa_title, fa_text, "en")
            .execute(&mut conn)
            .await
            .unwrap();
        item("old-en", en_title, en_text, "en-US")
            .execute(&mut conn)
            .await
            .unwrap();
        item("old-ckb", sorani_title, SORANI, "en")
            .execute(&mut conn)
            .await
            .unwrap();
        // The topic's matches were computed with its current query.
        let compiled =
            feedwatch::topics::TopicSet::compile([("persian-referendum", TOPIC)], &Default::default())
                .unwrap()
                .topics()[0]
                .expr
                .to_string();
        sqlx::query("INSERT INTO topics (name, query, compiled) VALUES ('persian-referendum', ?, ?)")
            .bind(TOPIC)
            .bind(compiled)
            .execute(&mut conn)
            .await
            .unwrap();
        // Then a feedwatch with migrations 0018–0020, which identified
        // what it wrote: an item of a feed whose `[[feed]] lang` said `ar`.
        let later = migrations_up_to(20);
        sqlx::migrate::Migrator::new(later.path())
            .await
            .unwrap()
            .run(&mut conn)
            .await
            .unwrap();
        // (Within the retention window: `run` prunes older unmatched items.)
        sqlx::query(
            "UPDATE _sqlx_migrations SET installed_on = datetime('now', '-1 day') WHERE version = 18",
        )
        .execute(&mut conn)
        .await
        .unwrap();
        // It indexed the old items for text search (0019) with the folding
        // of their `lang`: the Sorani item as English.
        sqlx::query("DELETE FROM items_fts_backfill")
            .execute(&mut conn)
            .await
            .unwrap();
        let rows: Vec<(i64, String, String)> = sqlx::query_as("SELECT id, title, text FROM items")
            .fetch_all(&mut conn)
            .await
            .unwrap();
        for (id, title, text) in rows {
            let folded = |s: &str| feedwatch::text::words_in(s, Some("en")).join(" ");
            sqlx::query("INSERT INTO items_fts (rowid, title, text) VALUES (?, ?, ?)")
                .bind(id)
                .bind(folded(&title))
                .bind(folded(&text))
                .execute(&mut conn)
                .await
                .unwrap();
        }
        sqlx::query(
            "INSERT INTO items (feed_id, item_key, guid, title, text, lang, declared_lang, sort_at, \
             fetched_at, first_seen_at, content_hash) \
             SELECT 1, 'guid:over-ar', 'over-ar', ?, ?, 'ar', 'en', at, at, at, 'h-over' \
             FROM (SELECT strftime('%Y-%m-%dT%H:%M:%SZ', 'now', '-1 hour') AS at)",
        )
        .bind(fa_title)
        .bind(fa_text)
        .execute(&mut conn)
        .await
        .unwrap();
    }
    // Readers do not migrate.
    assert_eq!(ws.run(&["search", "--lang", "fa"]).await.code, 1);

    let out = ws.run(&["run", "--once"]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("identifying the language of items stored before language identification"),
        "{}",
        out.stderr
    );
    let items = ws.search(&[]).await;
    let lang = |guid: &str| by_guid(&items, guid)["lang"].as_str().unwrap_or("").to_string();
    let declared = |guid: &str| by_guid(&items, guid)["declared_lang"].clone();
    assert_eq!(lang("old-fa"), "fa");
    assert_eq!(declared("old-fa"), "en");
    assert_eq!(lang("old-en"), "en", "a primary subtag");
    assert_eq!(declared("old-en"), "en-US");
    assert_eq!(lang("old-ckb"), "ckb");
    assert_eq!(lang("over-ar"), "ar", "written after 0018: kept");
    assert_eq!(lang("new-1"), "en");
    // The `lang:fa` topic was evaluated again over the stored items.
    assert_eq!(
        by_guid(&items, "old-fa")["topics"],
        serde_json::json!(["persian-referendum"])
    );
    let fa = ws.search(&["--lang", "fa"]).await;
    assert_eq!(
        fa.iter().map(|i| i["guid"].clone()).collect::<Vec<_>>(),
        ["old-fa"]
    );
    // Indexed again with Sorani's spellings: `هه‌ولێر` is `هەولێر`.
    let count = |out: crate::common::Output| (out.code, out.stdout.trim().to_string(), out.stderr);
    assert_eq!(
        count(ws.run(&["search", "--count", "هەولێر"]).await),
        (0, "1".into(), String::new())
    );

    // A drain the writer did not finish: readers work, and say so.
    {
        let mut conn = connect().await;
        sqlx::query("UPDATE items SET lang = 'en' WHERE guid = 'old-fa'")
            .execute(&mut conn)
            .await
            .unwrap();
        sqlx::query("INSERT INTO items_lang_backfill (item_id) SELECT id FROM items WHERE guid = 'old-fa'")
            .execute(&mut conn)
            .await
            .unwrap();
    }
    let (code, n, stderr) = count(ws.run(&["search", "--count", "--lang", "fa"]).await);
    assert_eq!((code, n.as_str()), (0, "0"), "{stderr}");
    assert!(
        stderr.contains("1 items of ")
            && stderr
                .contains("have their feed's declared language, not yet the one identified from their text"),
        "{stderr}"
    );
    assert_eq!(ws.run(&["run", "--once"]).await.code, 0);
    assert_eq!(
        count(ws.run(&["search", "--count", "--lang", "fa"]).await),
        (0, "1".into(), String::new())
    );
}
