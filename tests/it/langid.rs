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
    assert!(header.ends_with(",declared_lang"), "{header}");
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
