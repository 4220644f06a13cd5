//! The same feeds, polled into SQLite and into PostgreSQL, read back the
//! same through every query command: the backends differ in engine only.

use crate::common::{Backend, FeedServer, Route, Workspace};

/// An RSS document with these items (guid, title, text, link), an hour apart.
fn rss(items: &[(&str, &str, &str, &str)]) -> String {
    let mut body = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><rss version=\"2.0\"><channel><title>t</title><link>https://x.example/</link><description>d</description>",
    );
    for (i, (guid, title, text, link)) in items.iter().enumerate() {
        body.push_str(&format!(
            "<item><guid>{guid}</guid><title>{title}</title><link>{}</link><pubDate>Mon, 25 Sep 2017 {:02}:00:00 +0000</pubDate><description>{text}</description></item>",
            link.replace('&', "&amp;"),
            10 + i
        ));
    }
    body.push_str("</channel></rss>");
    body
}

/// Feeds with what the stores must agree on: wire copies (one item, many
/// outlets), near-duplicate rewrites (one story), several languages,
/// topics with phrases, NEAR, prefixes, fields and NOT. Each feed's
/// document, by path.
fn feeds() -> Vec<(&'static str, String)> {
    let wire = "Iraqi Kurdistan held its independence referendum on Monday despite warnings from Baghdad, \
                Tehran and Ankara. Turnout was high in Erbil and Sulaimaniyah, officials said, as the \
                regional government prepared to count the votes in the disputed areas too.";
    let rewrite =
        "Iraqi Kurdistan held its independence referendum on Monday despite warnings from Baghdad, \
                   Tehran and Ankara. Turnout was high in Erbil and Sulaimaniyah, officials said, while the \
                   regional government prepared to count the votes in the disputed areas too.";
    let feeds = [
        ("/ap.xml", vec![
            ("ap-1", "Kurdistan referendum goes ahead", wire, "https://wire.example/ref"),
            ("ap-2", "Baqeri meets Akar in Ankara", "Iran's chief of staff Mohammad Baqeri met General Hulusi Akar on border security.", "https://ap.example/2"),
            ("ap-3", "Oil prices rise", "Brent crude rose on Tuesday.", "https://ap.example/3"),
        ]),
        ("/rudaw.xml", vec![
            ("r-1", "Kurdistan referendum goes ahead", wire, "https://wire.example/ref?utm_source=rss"),
            ("r-2", "Kurdistan votes in independence referendum", rewrite, "https://rudaw.example/2"),
            ("r-3", "همه‌پرسی استقلال کردستان برگزار شد", "مردم اقلیم کردستان در همه‌پرسی استقلال شرکت کردند و باقری هشدار داد.", "https://rudaw.example/3"),
        ]),
        ("/aa.xml", vec![
            ("aa-1", "Kuzey Irak'taki referandum", "Türkiye, IKBY'nin bağımsızlık referandumunu tanımadığını açıkladı. Akar ve Bakeri görüştü.", "https://aa.example/1"),
            ("aa-2", "الاستفتاء في كردستان العراق", "أجري الاستفتاء على استقلال إقليم كردستان رغم تحذيرات بغداد.", "https://aa.example/2"),
        ]),
    ];
    feeds.iter().map(|(path, items)| (*path, rss(items))).collect()
}

const TOPICS: &[(&str, &str)] = &[
    ("referendum", "Kurdistan NEAR/3 referend*"),
    ("military", "(Baqeri OR Bakeri OR باقری) AND Akar"),
    ("titles", "title:Kurdistan -oil"),
    ("phrase", "\"independence referendum\""),
];

/// `feedwatch ARGS` on `ws`, which must succeed; its standard output.
async fn stdout(ws: &Workspace, args: &[&str]) -> String {
    let out = ws.run(args).await;
    assert_eq!(out.code, 0, "{args:?}: {}", out.stderr);
    out.stdout
}

/// What must not differ between two stores polled a few seconds apart:
/// every field but the times of polling itself.
fn stable(mut value: serde_json::Value) -> serde_json::Value {
    if let Some(object) = value.as_object_mut() {
        for key in [
            "first_seen_at",
            "fetched_at",
            "last_fetch_at",
            "last_success_at",
            "next_check_at",
            "matched_at",
            "created_at",
        ] {
            object.remove(key);
        }
        for v in object.values_mut() {
            *v = stable(v.take());
        }
    } else if let Some(array) = value.as_array_mut() {
        for v in array.iter_mut() {
            *v = stable(v.take());
        }
    }
    value
}

fn jsonl(s: &str) -> Vec<serde_json::Value> {
    crate::common::jsonl(s).into_iter().map(stable).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_same_feeds_read_back_the_same_from_sqlite_and_postgres() {
    let documents = feeds();
    let server = FeedServer::start().await;
    let mut answers = Vec::new();
    for backend in Backend::ALL {
        // Which outlet ran a story first, and so item and story ids, follow
        // the order items arrive in; concurrent polls of one `run --once`
        // have none. So the feeds publish one at a time, one poll each.
        let empty = rss(&[]);
        let mut names = Vec::new();
        for (path, _) in &documents {
            server.set(path, Route::NoValidators { body: empty.clone() });
            names.push((
                server.url(path),
                path.trim_start_matches('/').trim_end_matches(".xml"),
            ));
        }
        let names: Vec<(&str, &str)> = names.iter().map(|(u, n)| (u.as_str(), *n)).collect();
        let ws = Workspace::on(backend, &names, TOPICS, "").await;
        for (path, body) in &documents {
            server.set(
                path,
                Route::Feed {
                    body: body.clone(),
                    content_type: "application/rss+xml",
                },
            );
            stdout(&ws, &["run", "--once"]).await;
        }
        let mut answer = Vec::new();
        for query in [
            "Kurdistan",
            "referend*",
            "title:Kurdistan",
            "Baqeri NEAR/5 Akar",
            "کردستان",
            "\"independence referendum\" -oil",
            "referandum lang:tr",
        ] {
            answer.push((
                query.to_string(),
                jsonl(&stdout(&ws, &["search", query, "--format", "jsonl"]).await),
            ));
        }
        for topic in ["referendum", "military", "titles", "phrase"] {
            answer.push((
                format!("--topic {topic}"),
                jsonl(&stdout(&ws, &["search", "--topic", topic, "--format", "jsonl"]).await),
            ));
        }
        answer.push((
            "stories".into(),
            jsonl(&stdout(&ws, &["stories", "--format", "jsonl"]).await),
        ));
        answer.push((
            "stats".into(),
            jsonl(
                &stdout(
                    &ws,
                    &[
                        "stats",
                        "--topic",
                        "referendum",
                        "--since",
                        "2017-09-01",
                        "--format",
                        "jsonl",
                    ],
                )
                .await,
            ),
        ));
        answer.push((
            "topics".into(),
            vec![serde_json::Value::String(stdout(&ws, &["topics", "list"]).await)],
        ));
        answer.push((
            "topics test".into(),
            vec![serde_json::Value::String(
                stdout(&ws, &["topics", "test", "Kurdistan AND (Baghdad OR بغداد)"]).await,
            )],
        ));
        answers.push(answer);
    }
    let (sqlite, postgres) = (&answers[0], &answers[1]);
    assert!(
        sqlite.iter().any(|(_, rows)| rows.len() > 3),
        "the queries find something: {sqlite:?}"
    );
    for ((what, on_sqlite), (_, on_postgres)) in sqlite.iter().zip(postgres) {
        assert_eq!(on_sqlite, on_postgres, "{what}: SQLite and PostgreSQL differ");
    }
}
