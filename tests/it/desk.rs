//! The web desk (issue 26) of the real daemon, over loopback HTTP on both
//! backends: the login and its session cookie, every page with its
//! content, escaping of hostile feed text, right-to-left markup, the
//! Content-Security-Policy, query errors at their column and 404 pages;
//! then in a real headless Chromium driven over WebDriver (Debian's
//! `chromium` and `chromium-driver`; `.ci/run` installs them): clicking
//! from the desk to a topic, a story and an item, a search with a syntax
//! error, right-to-left titles laid out right to left, no request leaving
//! the origin, and a screenshot of each page in `target/desk-screenshots/`.

use std::time::Duration;

use crate::common::{free_port, Backend, FeedServer, Route, Workspace};
use serde_json::Value;

const TOKEN: &str = "t0ken-desk";

/// A feed with English, Persian and Arabic copies about the Kurdistan
/// referendum, a hostile item (markup in its title, a `javascript:` link)
/// and an unrelated one.
fn multilingual_feed() -> String {
    let item = |guid: &str, title: &str, link: &str, hour: u32, text: &str| {
        format!(
            "<item><guid>{guid}</guid><title>{title}</title><link>{link}</link>\
             <pubDate>Sat, 23 Sep 2017 {hour:02}:00:00 +0000</pubDate><description>{text}</description></item>"
        )
    };
    let items = [
        item(
            "en1",
            "Kurdistan referendum: Erbil prepares to vote",
            "https://news.example/en1",
            8,
            "Officials in Erbil said the Kurdistan independence referendum will go ahead on Monday despite pressure from Baghdad.",
        ),
        item(
            "fa1",
            "همه‌پرسی استقلال کردستان در اربیل برگزار می‌شود",
            "https://news.example/fa1",
            9,
            "مقام‌های اقلیم کردستان گفتند همه‌پرسی استقلال روز دوشنبه برگزار می‌شود و فشار بغداد تأثیری ندارد.",
        ),
        item(
            "ar1",
            "استفتاء كردستان: أربيل تستعد للتصويت",
            "https://news.example/ar1",
            10,
            "قال مسؤولون في أربيل إن استفتاء استقلال كردستان سيجري يوم الاثنين رغم ضغوط بغداد.",
        ),
        item(
            "evil",
            // Escaped twice: the feed's HTML is read as text, so this is the
            // title `<script>alert(1)</script> Kurdistan <img …>` as text.
            "&amp;lt;script&amp;gt;alert(1)&amp;lt;/script&amp;gt; Kurdistan &amp;lt;img src=https://evil.example/x.png&amp;gt;",
            "javascript:alert(1)",
            11,
            "Kurdistan &amp;lt;iframe src=https://evil.example/&amp;gt;&amp;lt;/iframe&amp;gt; text.",
        ),
        item(
            "wx",
            "Weather in Basra",
            "https://news.example/wx",
            12,
            "Sunny and hot.",
        ),
    ];
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><rss version=\"2.0\"><channel><title>Test feed</title>\
         <link>https://news.example/</link><description>d</description>{}</channel></rss>",
        items.concat()
    )
}

/// A workspace on `backend` whose daemon will listen on `port` with the
/// token, one feed `Rudaw` (the multilingual items) and a topic
/// `kurdistan`; polled once.
async fn desk_workspace(backend: Backend, server: &FeedServer, port: u16) -> (Workspace, tempfile::TempDir) {
    server.set(
        "/m.xml",
        Route::Feed {
            body: multilingual_feed(),
            content_type: "application/rss+xml",
        },
    );
    let secrets = tempfile::tempdir().unwrap();
    std::fs::write(secrets.path().join("token"), format!("{TOKEN}\n")).unwrap();
    let extra = format!(
        "[http]\nlisten = \"127.0.0.1:{port}\"\ntoken_file = \"{}\"\n",
        secrets.path().join("token").display()
    );
    let ws = Workspace::on(
        backend,
        &[(&server.url("/m.xml"), "Rudaw")],
        &[("kurdistan", "Kurdistan OR کردستان OR كردستان")],
        &extra,
    )
    .await;
    let out = ws.run(&["run", "--once"]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    (ws, secrets)
}

/// The real daemon of a workspace, ready.
struct Daemon {
    child: tokio::process::Child,
    base: String,
    http: reqwest::Client,
}

impl Daemon {
    async fn start(ws: &Workspace, port: u16) -> Daemon {
        let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_feedwatch"))
            .arg("--config")
            .arg(ws.config_path())
            .arg("run")
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let daemon = Daemon {
            child,
            base: format!("http://127.0.0.1:{port}"),
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
        };
        for _ in 0..150 {
            let ready = daemon
                .http
                .get(format!("{}/readyz", daemon.base))
                .bearer_auth(TOKEN)
                .send()
                .await;
            if ready.is_ok_and(|r| r.status() == 200) {
                return daemon;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the daemon did not become ready");
    }

    /// GET `path` as a browser: asking for HTML, with `cookie` if given.
    async fn page(&self, path: &str, cookie: Option<&str>) -> reqwest::Response {
        let mut request = self
            .http
            .get(format!("{}{path}", self.base))
            .header("Accept", "text/html,application/xhtml+xml");
        if let Some(cookie) = cookie {
            request = request.header("Cookie", cookie);
        }
        request.send().await.unwrap()
    }

    async fn api(&self, path: &str) -> Value {
        let response = self
            .http
            .get(format!("{}{path}", self.base))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{path}");
        serde_json::from_str(&response.text().await.unwrap()).unwrap()
    }

    async fn stop(mut self) {
        crate::common::kill(self.child.id().unwrap(), "-TERM");
        assert_eq!(self.child.wait().await.unwrap().code(), Some(0));
    }
}

/// Logs in with the form as a browser would; returns the `Cookie` header
/// value of the session.
async fn log_in(daemon: &Daemon) -> String {
    let post = |token: &str| {
        daemon
            .http
            .post(format!("{}/login", daemon.base))
            .header("Origin", &daemon.base)
            .form(&[("token", token), ("next", "/topics/kurdistan")])
            .send()
    };
    let wrong = post("guess").await.unwrap();
    assert_eq!(wrong.status(), 401);
    assert!(wrong.headers().get("set-cookie").is_none());
    assert!(wrong.text().await.unwrap().contains("That is not the token"));
    let cross = daemon
        .http
        .post(format!("{}/login", daemon.base))
        .header("Origin", "http://evil.example")
        .form(&[("token", TOKEN)])
        .send()
        .await
        .unwrap();
    assert_eq!(cross.status(), 400, "a login posted from another site");
    let ok = post(TOKEN).await.unwrap();
    assert_eq!(ok.status(), 303);
    assert_eq!(ok.headers()["location"], "/topics/kurdistan");
    let set = ok.headers()["set-cookie"].to_str().unwrap().to_string();
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(set.contains(attribute), "{set}");
    }
    assert!(!set.contains(TOKEN), "the cookie is not the token: {set}");
    set.split(';').next().unwrap().to_string()
}

/// A page's status and body; every desk page carries the policy.
async fn html(response: reqwest::Response) -> (u16, String) {
    let status = response.status().as_u16();
    assert_eq!(
        response.headers()["content-security-policy"],
        "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    );
    assert_eq!(response.headers()["x-content-type-options"], "nosniff");
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    (status, response.text().await.unwrap())
}

/// No feed markup came through: the hostile title is text, and nothing
/// links or loads from outside but the outlets' http(s) links.
fn assert_escaped(body: &str, page: &str) {
    assert!(!body.contains("<script"), "{page}: a script element\n{body}");
    assert!(!body.contains("<img"), "{page}: an image element");
    assert!(!body.contains("<iframe"), "{page}: a frame");
    assert!(!body.contains("javascript:"), "{page}: a javascript: link");
    assert!(
        !body.contains(" style="),
        "{page}: an inline style (the policy forbids them)"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn desk_pages_on_both_backends() {
    for backend in Backend::ALL {
        desk_pages(backend).await;
    }
}

async fn desk_pages(backend: Backend) {
    let server = FeedServer::start().await;
    let port = free_port();
    let (ws, _secrets) = desk_workspace(backend, &server, port).await;
    let daemon = Daemon::start(&ws, port).await;
    let items = daemon.api("/api/items?limit=100").await;
    let item = |guid: &str| {
        items
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["guid"] == guid)
            .unwrap_or_else(|| panic!("{backend:?}: no item {guid}"))
            .clone()
    };
    let (en, fa, evil) = (item("en1"), item("fa1"), item("evil"));

    // Without a session: sent to the login form, which comes back.
    let response = daemon.page("/topics/kurdistan", None).await;
    assert_eq!(response.status(), 303);
    assert_eq!(
        response.headers()["location"],
        "/login?next=%2Ftopics%2Fkurdistan"
    );
    let (status, body) = html(daemon.page("/login?next=%2Ftopics%2Fkurdistan", None).await).await;
    assert_eq!(status, 200);
    assert!(body.contains("<label for=\"token\">"), "{body}");
    assert!(body.contains("value=\"/topics/kurdistan\""), "{body}");
    // The API stays JSON and needs the token.
    let response = daemon.page("/api/items", None).await;
    assert_eq!(response.status(), 401);
    let cookie = log_in(&daemon).await;
    // The session also opens the API (the export links).
    let response = daemon.page("/api/items?topic=kurdistan", Some(&cookie)).await;
    assert_eq!(response.status(), 200, "{backend:?}: export with the session");
    let exported: Value = serde_json::from_str(&response.text().await.unwrap()).unwrap();
    assert_eq!(exported.as_array().unwrap().len(), 4, "{backend:?}");
    // A forged session is no session.
    let forged = format!("feedwatch_desk={}.{}", i64::MAX, "0".repeat(64));
    assert_eq!(daemon.page("/", Some(&forged)).await.status(), 303);

    let get = |path: String| {
        let cookie = cookie.clone();
        let daemon = &daemon;
        async move {
            let (status, body) = html(daemon.page(&path, Some(&cookie)).await).await;
            assert_escaped(&body, &path);
            (status, body)
        }
    };

    // The desk: the topic, its sparkline and counts, its stories.
    let (status, body) = get("/".into()).await;
    assert_eq!(status, 200, "{backend:?}: {body}");
    assert!(
        body.contains("<a href=\"/topics/kurdistan\"><bdi>kurdistan</bdi></a>"),
        "{body}"
    );
    assert!(body.contains("<svg class=\"spark\""), "{body}");
    assert!(body.contains("4 items in"), "the sparkline's label: {body}");
    assert!(body.contains("href=\"/stories/"), "latest stories: {body}");
    assert!(body.contains("href=\"/desk.css\""));

    // A topic: chart, outlets, languages, stories, items with marks.
    let (status, body) = get("/topics/kurdistan".into()).await;
    assert_eq!(status, 200, "{backend:?}: {body}");
    assert!(
        body.contains("aria-label=\"items per day\""),
        "the volume chart: {body}"
    );
    assert!(body.contains("<bdi>Rudaw</bdi>"), "top outlets: {body}");
    for lang in ["en", "fa", "ar"] {
        assert!(
            body.contains(&format!("<td><bdi>{lang}</bdi></td>")),
            "languages: {lang}"
        );
    }
    assert!(
        body.contains("<h3 dir=\"auto\" lang=\"fa\">"),
        "a Persian title is isolated, with its language: {body}"
    );
    assert!(body.contains("<mark>Kurdistan</mark>"), "{body}");
    assert!(body.contains("<mark>کردستان</mark>"), "{body}");
    assert!(
        body.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "the hostile title is shown as text: {body}"
    );
    assert!(
        body.contains("href=\"/api/items?topic=kurdistan&amp;limit=1000\""),
        "export: {body}"
    );
    let (status, body) = get("/topics/kurdistan?by=hour".into()).await;
    assert_eq!(status, 200);
    assert!(body.contains("aria-label=\"items per hour\""));

    // A story and an item.
    let story = en["story_id"].as_i64().unwrap();
    let (status, body) = get(format!("/stories/{story}")).await;
    assert_eq!(status, 200, "{backend:?}: {body}");
    assert!(
        body.contains("Kurdistan referendum: Erbil prepares to vote"),
        "{body}"
    );
    assert!(body.contains("<strong class=\"badge\">first</strong>"), "{body}");
    assert!(
        body.contains("<dt>Ran it first</dt><dd><bdi>Rudaw</bdi></dd>"),
        "{body}"
    );

    let (status, body) = get(format!("/items/{}", fa["id"])).await;
    assert_eq!(status, 200, "{backend:?}: {body}");
    assert!(body.contains("<h1 dir=\"auto\" lang=\"fa\">"), "{body}");
    assert!(
        body.contains("<div class=\"text\" dir=\"auto\" lang=\"fa\">"),
        "{body}"
    );
    assert!(body.contains("href=\"https://news.example/fa1\""), "{body}");
    assert!(body.contains("rel=\"noopener noreferrer nofollow\""), "{body}");
    let (status, body) = get(format!("/items/{}", evil["id"])).await;
    assert_eq!(status, 200);
    assert!(!body.contains("<dt>Original</dt>"), "no javascript: link: {body}");
    assert!(
        body.contains("&lt;iframe src=https://evil.example/&gt;"),
        "{body}"
    );

    // Search: the same results as `feedwatch search`, hits per day.
    let (status, body) = get("/search?q=Erbil+OR+%D8%A7%D8%B1%D8%A8%DB%8C%D9%84".into()).await;
    assert_eq!(status, 200, "{backend:?}: {body}");
    let cli = ws.search(&["Erbil OR اربیل"]).await;
    assert!(cli.len() >= 2, "{cli:?}");
    assert!(body.contains(&format!("{} hits for", cli.len())), "{body}");
    for hit in &cli {
        assert!(body.contains(&format!("href=\"/items/{}\"", hit["id"])), "{body}");
    }
    assert!(!body.contains(&format!("href=\"/items/{}\"", evil["id"])));
    assert!(
        body.contains("aria-label=\"items per day\""),
        "hits per day: {body}"
    );
    let ar = item("ar1");
    let (status, body) = get("/search?q=%DA%A9%D8%B1%D8%AF%D8%B3%D8%AA%D8%A7%D9%86&lang=fa".into()).await;
    assert_eq!(status, 200);
    assert!(body.contains(&format!("href=\"/items/{}\"", fa["id"])), "{body}");
    assert!(
        !body.contains(&format!("href=\"/items/{}\"", ar["id"])),
        "lang=fa: {body}"
    );
    // A query that does not parse: the error at its column.
    let (status, body) = get("/search?q=Kurdistan+AND+%28Erbil".into()).await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("role=\"alert\""), "{body}");
    assert!(
        body.contains("column 21: expected &#39;)&#39; to close &#39;(&#39; at column 15")
            || body.contains("column 21: expected ')' to close '(' at column 15"),
        "{body}"
    );
    assert!(
        body.contains(&format!(
            "<pre class=\"caret\" dir=\"ltr\">Kurdistan AND (Erbil\n{}^</pre>",
            " ".repeat(20)
        )),
        "{body}"
    );
    let (status, body) = get("/search?q=%3Cscript%3E".into()).await;
    assert!(status == 200 || status == 400, "{body}");
    assert!(
        body.contains("value=\"&lt;script&gt;\""),
        "the query is escaped: {body}"
    );
    let (status, body) = get("/search?q=x&feed=nowhere".into()).await;
    assert_eq!(status, 400);
    assert!(body.contains("no feed named"), "{body}");

    // Feed health and the outbox.
    let (status, body) = get("/feeds".into()).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("<bdi>Rudaw</bdi>"), "{body}");
    assert!(body.contains(">ok</span>"), "{body}");
    let (status, body) = get("/digests".into()).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("No digests."), "{body}");

    // Unknown things: 404 pages.
    for path in [
        "/topics/nope",
        "/topics/%3Cscript%3E",
        "/stories/999999",
        "/stories/abc",
        "/items/999999",
        "/items/abc",
        "/no-such-page",
    ] {
        let (status, body) = get(path.into()).await;
        assert_eq!(status, 404, "{backend:?} {path}: {body}");
        assert!(body.contains("<h1>Not found</h1>"), "{path}: {body}");
    }
    let (status, body) = get("/topics/kurdistan?bogus=1".into()).await;
    assert_eq!(status, 400);
    assert!(body.contains("unknown parameter"), "{body}");

    // The stylesheet, and logging out.
    let css = daemon.page("/desk.css", None).await;
    assert_eq!(css.status(), 200);
    assert_eq!(css.headers()["content-type"], "text/css; charset=utf-8");
    let out = daemon
        .http
        .post(format!("{}/logout", daemon.base))
        .header("Cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), 303);
    assert!(out.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .contains("Max-Age=0"));
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn desk_is_off_with_ui_false_and_open_without_a_token() {
    let server = FeedServer::start().await;
    server.set(
        "/m.xml",
        Route::Feed {
            body: multilingual_feed(),
            content_type: "application/rss+xml",
        },
    );
    // No token: the pages are open (loopback), and /login leads home.
    let port = free_port();
    let ws = Workspace::new(
        &[(&server.url("/m.xml"), "Rudaw")],
        &[("kurdistan", "Kurdistan")],
        &format!("[http]\nlisten = \"127.0.0.1:{port}\"\n"),
    );
    let daemon = Daemon::start(&ws, port).await;
    let (status, body) = html(daemon.page("/", None).await).await;
    assert_eq!(status, 200);
    assert!(!body.contains("Log out"), "{body}");
    assert_eq!(daemon.page("/login", None).await.headers()["location"], "/");
    daemon.stop().await;

    // ui = false: the API alone, its JSON 404 for `/`.
    let port = free_port();
    let ws = Workspace::new(
        &[(&server.url("/m.xml"), "Rudaw")],
        &[("kurdistan", "Kurdistan")],
        &format!("[http]\nlisten = \"127.0.0.1:{port}\"\nui = false\n"),
    );
    let daemon = Daemon::start(&ws, port).await;
    for path in ["/", "/topics/kurdistan", "/desk.css", "/login"] {
        let response = daemon.page(path, None).await;
        assert_eq!(response.status(), 404, "{path}");
        assert_eq!(response.headers()["content-type"], "application/json");
    }
    daemon.stop().await;
}

/// The desk in a real browser (headless Chromium over WebDriver).
#[tokio::test(flavor = "multi_thread")]
async fn desk_in_a_real_browser() {
    use fantoccini::ClientBuilder;

    let Some(driver) = chromedriver() else {
        return;
    };
    let server = FeedServer::start().await;
    let port = free_port();
    let (ws, _secrets) = desk_workspace(Backend::Sqlite, &server, port).await;
    let daemon = Daemon::start(&ws, port).await;
    let origin = daemon.base.clone();

    let driver_port = free_port();
    let _driver = tokio::process::Command::new(&driver)
        .arg(format!("--port={driver_port}"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("chromedriver starts");
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        serde_json::json!({
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--window-size=1200,1000", "--lang=en-US"],
        }),
    );
    let mut client = None;
    for _ in 0..100 {
        match ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps.clone())
            .connect(&format!("http://127.0.0.1:{driver_port}"))
            .await
        {
            Ok(c) => {
                client = Some(c);
                break;
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
    let browser = client.expect("a WebDriver session with chromedriver");
    let rtl = daemon.api("/api/items?q=%D8%A7%D8%B1%D8%A8%DB%8C%D9%84").await;
    let fa_id = rtl[0]["id"].as_i64().unwrap();
    // The steps run in a task of their own: whether they pass or panic, the
    // session is closed after (chromedriver then ends its Chromium).
    let steps = tokio::spawn(browse(browser.clone(), origin, fa_id));
    let outcome = steps.await;
    let _ = browser.close().await;
    daemon.stop().await;
    if let Err(error) = outcome {
        std::panic::resume_unwind(error.into_panic());
    }
}

/// Clicks through the desk in `browser` (a WebDriver session), logged out
/// at first; `fa_id` is a right-to-left item.
async fn browse(browser: fantoccini::Client, origin: String, fa_id: i64) {
    use fantoccini::Locator;
    let shots = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/desk-screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    let shot = |name: &'static str| {
        let browser = browser.clone();
        let path = shots.join(format!("{name}.png"));
        async move {
            let png = browser.screenshot().await.unwrap();
            std::fs::write(path, png).unwrap();
        }
    };
    // Every resource the page loaded came from the desk itself.
    let same_origin = |page: &'static str| {
        let browser = browser.clone();
        let origin = origin.clone();
        async move {
            let names = browser
                .execute(
                    "return performance.getEntriesByType('navigation')\
                     .concat(performance.getEntriesByType('resource')).map(e => e.name)",
                    vec![],
                )
                .await
                .unwrap();
            let names: Vec<String> = serde_json::from_value(names).unwrap();
            assert!(!names.is_empty(), "{page}: no performance entries");
            for name in names {
                assert!(
                    name.starts_with(&format!("{origin}/")),
                    "{page}: a request left the origin: {name}"
                );
            }
        }
    };
    let direction = |selector: &'static str| {
        let browser = browser.clone();
        async move {
            browser
                .execute(
                    "return getComputedStyle(document.querySelector(arguments[0])).direction",
                    vec![Value::String(selector.into())],
                )
                .await
                .unwrap()
        }
    };

    // Log in once.
    browser.goto(&format!("{origin}/")).await.unwrap();
    assert!(browser.current_url().await.unwrap().path().ends_with("/login"));
    shot("login").await;
    browser
        .find(Locator::Id("token"))
        .await
        .unwrap()
        .send_keys(TOKEN)
        .await
        .unwrap();
    browser
        .find(Locator::Css("form.login button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let at = browser.current_url().await.unwrap();
    assert_eq!(at.path(), "/", "{}", browser.source().await.unwrap());
    // The stylesheet applied (not blocked by the policy).
    let background = browser
        .execute(
            "return getComputedStyle(document.querySelector('header.top')).backgroundColor",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(background, "rgb(22, 50, 79)", "desk.css is applied");
    same_origin("desk").await;
    shot("desk").await;

    // Desk → topic.
    browser
        .find(Locator::Css("a[href='/topics/kurdistan']"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    assert_eq!(browser.current_url().await.unwrap().path(), "/topics/kurdistan");
    assert_eq!(direction("h3[lang='fa']").await, "rtl", "a Persian title");
    assert_eq!(direction("h3[lang='ar']").await, "rtl", "an Arabic title");
    assert_eq!(direction("h3[lang='en']").await, "ltr", "an English title");
    assert_eq!(direction("p.kwic[lang='fa']").await, "rtl", "a Persian snippet");
    // A hostile title stayed text: no element came from it.
    let injected = browser
        .execute(
            "return document.querySelectorAll('main script, main img, main iframe').length",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(injected, 0);
    same_origin("topic").await;
    shot("topic").await;

    // Topic → story → item.
    browser
        .find(Locator::Css(
            "section[aria-labelledby='stories'] a[href^='/stories/']",
        ))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    assert!(browser
        .current_url()
        .await
        .unwrap()
        .path()
        .starts_with("/stories/"));
    let first = browser.find(Locator::Css("tr.first .badge")).await.unwrap();
    assert_eq!(first.text().await.unwrap(), "first");
    same_origin("story").await;
    shot("story").await;
    browser
        .find(Locator::Css("table.timeline a[href^='/items/']"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    assert!(browser.current_url().await.unwrap().path().starts_with("/items/"));
    let marks = browser.find_all(Locator::Css("article mark")).await.unwrap();
    assert!(!marks.is_empty(), "the matches are marked");
    same_origin("item").await;
    shot("item").await;

    // A right-to-left item (the Persian spelling finds the Arabic one too,
    // letter variants folded) reads right to left.
    browser.goto(&format!("{origin}/items/{fa_id}")).await.unwrap();
    assert_eq!(direction("article h1").await, "rtl");
    assert_eq!(direction("div.text").await, "rtl");
    shot("item-rtl").await;

    // A search with a syntax error, typed into the search box.
    browser.goto(&format!("{origin}/search")).await.unwrap();
    browser
        .find(Locator::Id("q"))
        .await
        .unwrap()
        .send_keys("Kurdistan AND (Erbil")
        .await
        .unwrap();
    browser
        .find(Locator::Css("form.search button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let error = browser.find(Locator::Css(".error")).await.unwrap();
    let text = error.text().await.unwrap();
    assert!(text.contains("column 21"), "{text}");
    let caret = browser.find(Locator::Css("pre.caret")).await.unwrap();
    assert!(caret.text().await.unwrap().ends_with('^'));
    shot("search-error").await;

    // A search that works, and the feeds.
    browser
        .goto(&format!("{origin}/search?q=Kurdistan"))
        .await
        .unwrap();
    assert_eq!(
        browser.find_all(Locator::Css("ol.items li")).await.unwrap().len(),
        2,
        "the English copy and the hostile item"
    );
    same_origin("search").await;
    shot("search").await;
    browser.goto(&format!("{origin}/feeds")).await.unwrap();
    same_origin("feeds").await;
    shot("feeds").await;
    browser.goto(&format!("{origin}/digests")).await.unwrap();
    shot("digests").await;
}

/// chromedriver's path; `None` (the test skips, saying why) only when it
/// is missing and `FEEDWATCH_TEST_NO_BROWSER` is set. Otherwise a missing
/// driver fails the test: CI must run it (`.ci/run` installs it).
fn chromedriver() -> Option<std::path::PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("chromedriver"))
            .find(|path| path.is_file())
    });
    match found {
        Some(path) => Some(path),
        None if std::env::var_os("FEEDWATCH_TEST_NO_BROWSER").is_some() => {
            eprintln!(
                "SKIPPED desk_in_a_real_browser: chromedriver is not installed and FEEDWATCH_TEST_NO_BROWSER is set \
                 (apt-get install chromium chromium-driver)"
            );
            None
        }
        None => panic!(
            "the browser test needs chromedriver and chromium (Debian: apt-get install chromium chromium-driver; \
             .ci/run installs them); set FEEDWATCH_TEST_NO_BROWSER=1 to skip it"
        ),
    }
}
