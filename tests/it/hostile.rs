//! Hostile and broken input (issue #9): the corpus of
//! `tests/fixtures/hostile/` (see its README) plus generated cases (gzip
//! bomb, bodies over the cap or without end, stalls, drips, redirect loops
//! and chains, redirects to private addresses, entity bombs, deep nesting,
//! huge fields, 100,000 items), every one a feed of the same config, all in
//! ONE polling cycle of the real binary over loopback HTTP.
//!
//! The SSRF guard stays on (`allow_private_networks = false`, the default):
//! the daemon reaches the test server as an HTTP proxy (`http_proxy`), each
//! feed on its own made-up host name, so redirects to literal private
//! addresses (169.254.169.254, 127.0.0.1, ::ffff:127.0.0.1, 2130706433) are
//! refused by the guard in the same cycle.
//!
//! Proven: `run --once` exits normally; the child's peak RSS stays under
//! 200 MB; each hostile feed's row carries the expected error (kind and
//! message) or warning; the good feeds are unaffected; nothing executable
//! reaches a digest (HTML preview, e-mail file, JSON file), the report page
//! or stored/searchable data as a link.

use crate::common;

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::common::{jsonl, rss, FeedServer, Route, Workspace};

const CAP: &str = "8 MiB";
const PEAK_RSS_LIMIT_KB: u64 = 200 * 1024;

fn fixture(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/hostile")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn raw(body: impl Into<Vec<u8>>, content_type: &'static str) -> Route {
    Route::Raw {
        body: body.into(),
        content_type,
    }
}

fn xml(body: impl Into<Vec<u8>>) -> Route {
    raw(body, "application/rss+xml")
}

fn redirect(to: impl Into<String>) -> Route {
    Route::Redirect {
        status: 302,
        to: to.into(),
    }
}

/// A gzip stream that inflates to `len` zero bytes (a multiple of 258, plus
/// one), written by hand so the test does not spend a minute compressing a
/// gigabyte: one fixed-Huffman deflate block holding a literal 0 and then
/// <length 258, distance 1> copies, 13 bits each. The trailer's CRC is not
/// computed (the reader must stop at its cap long before it gets there).
fn gzip_bomb(len: u64) -> Vec<u8> {
    struct Bits {
        out: Vec<u8>,
        acc: u64,
        n: u32,
    }
    impl Bits {
        /// `count` bits of `value`, least significant first.
        fn put(&mut self, value: u64, count: u32) {
            self.acc |= value << self.n;
            self.n += count;
            while self.n >= 8 {
                self.out.push(self.acc as u8);
                self.acc >>= 8;
                self.n -= 8;
            }
        }
        /// A Huffman code: most significant bit first.
        fn code(&mut self, code: u64, count: u32) {
            let reversed = (0..count).fold(0, |r, i| (r << 1) | ((code >> i) & 1));
            self.put(reversed, count);
        }
    }
    let copies = (len - 1) / 258;
    let mut bits = Bits {
        out: vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255],
        acc: 0,
        n: 0,
    };
    bits.put(1, 1); // BFINAL
    bits.put(1, 2); // BTYPE = fixed Huffman
    bits.code(0x30, 8); // literal 0
    for _ in 0..copies {
        bits.code(0b1100_0101, 8); // length code 285: 258
        bits.code(0, 5); // distance code 0: 1
    }
    bits.code(0, 7); // end of block
    if bits.n > 0 {
        bits.put(0, 8 - bits.n);
    }
    let mut out = bits.out;
    out.extend_from_slice(&[0, 0, 0, 0]); // CRC-32 (not computed)
    out.extend_from_slice(&((1 + copies * 258) as u32).to_le_bytes());
    out
}

/// What a feed's row must show after the cycle.
enum Expect {
    /// Failed: `error_kind` and a fragment of `last_error`.
    Error(&'static str, &'static str),
    /// Read: at least this many items stored, and the warning (if any
    /// fragment is given) mentions it.
    Items(i64, Option<&'static str>),
}

struct Case {
    name: &'static str,
    route: Route,
    expect: Expect,
}

fn case(name: &'static str, route: Route, expect: Expect) -> Case {
    Case { name, route, expect }
}

fn many_items(n: usize) -> String {
    let mut doc = String::from(
        "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>Many</title>\
         <link>https://many.example/</link><description>d</description>",
    );
    for i in 0..n {
        doc.push_str(&format!("<item><guid>m{i}</guid><title>Item {i}</title></item>"));
    }
    doc.push_str("</channel></rss>");
    doc
}

fn cases(server: &FeedServer) -> Vec<Case> {
    use Expect::{Error, Items};
    let host = server.base.trim_start_matches("http://").to_string();
    let port = host.rsplit(':').next().unwrap().to_string();

    let quadratic = format!(
        "<?xml version=\"1.0\"?><!DOCTYPE rss [<!ENTITY a \"{}\">]><rss version=\"2.0\"><channel><title>q</title>\
         <item><guid>q1</guid><title>quadratic</title><description>{}</description></item></channel></rss>",
        "a".repeat(100_000),
        "&a;".repeat(10_000) // 1 GB if expanded
    );
    let deep = format!(
        "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>t</title><item><guid>d1</guid><title>deep</title>\
         <description>x</description>{}{}</item></channel></rss>",
        "<a>".repeat(10_000),
        "</a>".repeat(10_000)
    );
    let huge_title = "Kurdistan ".repeat(100_000); // 1 MB
    let drip_body = rss(&[("dr1", "Kurdistan referendum by drip", "slow")]).into_bytes();
    let xxe = String::from_utf8(fixture("xxe.xml"))
        .unwrap()
        .replace("HOSTILE_BASE", &host);

    let mut cases = vec![
        // Good feeds, directly and at the end of a 10-hop redirect chain.
        case(
            "good",
            Route::Feed {
                body: rss(&[("g1", "Kurdistan referendum: good feed", "Voters in Erbil.")]),
                content_type: "application/rss+xml",
            },
            Items(1, None),
        ),
        case("chain10-0", redirect("/chain10-1"), Items(1, None)),
        // Static corpus.
        case(
            "empty",
            xml(fixture("empty.xml")),
            Error("parse", "empty document"),
        ),
        case(
            "whitespace",
            xml(fixture("whitespace.xml")),
            Error("parse", "empty document"),
        ),
        case(
            "truncated",
            xml(fixture("truncated.xml")),
            Items(1, Some("closed a truncated document")),
        ),
        case(
            "html-page",
            raw(fixture("html-page.html"), "text/html; charset=utf-8"),
            Error("parse", "not a feed: the document is an HTML page"),
        ),
        case(
            "not-jsonfeed",
            raw(fixture("not-jsonfeed.json"), "application/json"),
            Error("parse", "not a valid RSS, Atom or JSON feed"),
        ),
        case("invalid-utf8", xml(fixture("invalid-utf8.xml")), Items(1, None)),
        case(
            "windows-1256",
            raw(
                fixture("windows-1256-declared-utf8.xml"),
                "application/rss+xml; charset=utf-8",
            ),
            Items(1, None),
        ),
        case(
            "iso-8859-9",
            raw(fixture("iso-8859-9-undeclared.xml"), "application/rss+xml"),
            Items(1, None),
        ),
        case("utf16", xml(fixture("utf16le-bom.xml")), Items(1, None)),
        case(
            "billion-laughs",
            xml(fixture("billion-laughs.xml")),
            Items(1, None),
        ),
        case("quadratic", xml(quadratic), Items(1, None)),
        case("xxe", xml(xxe), Items(1, None)),
        case(
            "script-rss",
            xml(fixture("script-payloads.rss.xml")),
            Items(3, None),
        ),
        case(
            "script-atom",
            raw(fixture("script-payloads.atom.xml"), "application/atom+xml"),
            Items(1, None),
        ),
        // Generated: size and shape.
        case("deep", xml(deep), Items(1, None)),
        case(
            "huge-title",
            xml(rss(&[("h1", &huge_title, "x")])),
            Items(1, None),
        ),
        case("many", xml(many_items(100_000)), Items(100_000, None)),
        case(
            "control",
            xml(rss(&[(
                "c1",
                "bell\u{7}null&#0;esc\u{1b}[31m",
                "tab\tand\u{8}backspace",
            )])),
            Items(1, Some("dropped character references XML forbids (such as &#0;)")),
        ),
        // Generated: transport.
        case(
            "gzip-bomb",
            Route::WithHeaders {
                status: 200,
                headers: vec![
                    ("content-type", "application/rss+xml".to_string()),
                    ("content-encoding", "gzip".to_string()),
                ],
                body: gzip_bomb(1 << 30),
            },
            Error("too_large", "body larger than the 8.0 MiB limit"),
        ),
        case(
            "over-cap",
            Route::Huge {
                chunk: vec![b' '; 64 * 1024],
                len: 1 << 30,
            },
            Error("too_large", "body larger than the 8.0 MiB limit"),
        ),
        case(
            "endless",
            Route::Endless {
                head: b"<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>endless</title>".to_vec(),
                chunk: b"<item><title>again</title></item>".repeat(2000),
            },
            Error("too_large", "body larger than the 8.0 MiB limit"),
        ),
        case("stall", Route::Stall, Error("timeout", "timed out")),
        case(
            "drip",
            Route::Drip {
                body: drip_body,
                every: Duration::from_secs(1),
            },
            Error("timeout", "timed out after 5s"),
        ),
        case(
            "loop-a",
            redirect("/loop-b"),
            Error("redirect", "redirect loop at"),
        ),
        case("self", redirect("/self"), Error("redirect", "redirect loop at")),
        case(
            "chain12-0",
            redirect("/chain12-1"),
            Error("redirect", "more than 10 redirects"),
        ),
        case(
            "to-metadata",
            redirect("http://169.254.169.254/latest/meta-data/"),
            Error("blocked", "refused to connect to 169.254.169.254"),
        ),
        case(
            "to-loopback",
            redirect(format!("http://127.0.0.1:{port}/private-target")),
            Error("blocked", "refused to connect to 127.0.0.1"),
        ),
        case(
            "to-mapped",
            redirect(format!("http://[::ffff:127.0.0.1]:{port}/private-target")),
            Error("blocked", "refused to connect to ::ffff:127.0.0.1"),
        ),
        case(
            "to-decimal",
            redirect(format!("http://2130706433:{port}/private-target")),
            Error("blocked", "refused to connect to 127.0.0.1"),
        ),
    ];
    // The rest of the chains and the loop.
    for i in 1..10 {
        server.set(&format!("/chain10-{i}"), redirect(format!("/chain10-{}", i + 1)));
    }
    server.set(
        "/chain10-10",
        xml(rss(&[("ch1", "Kurdistan referendum after ten hops", "x")])),
    );
    for i in 1..12 {
        server.set(&format!("/chain12-{i}"), redirect(format!("/chain12-{}", i + 1)));
    }
    server.set("/chain12-12", xml(rss(&[("cz1", "never reached", "x")])));
    server.set("/loop-b", redirect("/loop-a"));
    server.set("/private-target", xml(rss(&[("p1", "private", "x")])));
    for c in &mut cases {
        server.set(&format!("/{}", c.name), c.route.clone());
    }
    cases
}

/// Each feed on its own host name; the daemon reaches them all through the
/// test server acting as its HTTP proxy.
fn feed_url(name: &str) -> String {
    format!("http://{name}.hostile.test/{name}")
}

fn config(cases: &[Case]) -> String {
    let mut config = format!(
        "[fetch]\ntimeout = \"5s\"\nread_timeout = \"3s\"\nconnect_timeout = \"2s\"\nmax_body_size = \"{CAP}\"\n\
         allow_private_networks = false\n\
         [store]\npath = \"data/feedwatch.db\"\n\
         [[topic]]\nname = \"k\"\nquery = \"Kurdistan AND referendum\"\n\
         [[topic]]\nname = \"ar\"\nquery = \"كردستان\"\n\
         [[topic]]\nname = \"tr\"\nquery = \"bağımsızlık\"\n\
         [[channel]]\nname = \"jl\"\nkind = \"file\"\npath = \"out/digests.jsonl\"\n\
         [[channel]]\nname = \"eml\"\nkind = \"file\"\ndir = \"out/eml\"\n\
         [[alert]]\nname = \"daily\"\ntopics = [\"k\"]\nschedule = \"daily 08:00 UTC\"\nchannels = [\"jl\", \"eml\"]\n"
    );
    for c in cases {
        config.push_str(&format!("[[feed]]\nurl = {:?}\n", feed_url(c.name)));
        // The script feeds keep their (hostile) document titles as names.
        if !c.name.starts_with("script-") {
            config.push_str(&format!("name = {:?}\n", c.name));
        }
    }
    config
}

/// Runs `feedwatch run --once` through the proxy; returns its output, peak
/// RSS in KiB (GNU time's `%M`, else the last `VmHWM` sampled from /proc)
/// and wall time.
async fn run_cycle(ws: &Workspace, proxy: &str) -> (common::Output, u64, Duration) {
    let time = Path::new("/usr/bin/time");
    let rss_file: PathBuf = ws.dir.path().join("peak-rss");
    let mut command = if time.exists() {
        let mut c = tokio::process::Command::new(time);
        c.arg("-f")
            .arg("%M")
            .arg("-o")
            .arg(&rss_file)
            .arg(env!("CARGO_BIN_EXE_feedwatch"));
        c
    } else {
        tokio::process::Command::new(env!("CARGO_BIN_EXE_feedwatch"))
    };
    command
        .arg("--config")
        .arg(ws.config_path())
        .args(["run", "--once"])
        .env_remove("FEEDWATCH_LOG")
        .env_remove("RUST_LOG")
        .env("http_proxy", proxy)
        .env("HTTP_PROXY", proxy)
        .env_remove("https_proxy")
        .env_remove("HTTPS_PROXY")
        .env_remove("all_proxy")
        .env_remove("ALL_PROXY")
        .env_remove("no_proxy")
        .env_remove("NO_PROXY")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let started = Instant::now();
    let child = command.spawn().unwrap();
    let sampler = (!time.exists()).then(|| {
        let pid = child.id().unwrap();
        tokio::spawn(async move {
            let mut peak = 0;
            while let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) {
                if let Some(kb) = status
                    .lines()
                    .find_map(|l| l.strip_prefix("VmHWM:"))
                    .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
                {
                    peak = peak.max(kb);
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            peak
        })
    });
    let output = child.wait_with_output().await.unwrap();
    let wall = started.elapsed();
    let peak = match sampler {
        Some(sampler) => sampler.await.unwrap(),
        None => std::fs::read_to_string(&rss_file)
            .unwrap()
            .lines()
            .last()
            .unwrap()
            .trim()
            .parse()
            .unwrap(),
    };
    let out = common::Output {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    };
    (out, peak, wall)
}

/// Decodes quoted-printable text (soft line breaks, `=XX`).
fn quoted_printable(s: &str) -> String {
    let s = s.replace("=\r\n", "").replace("=\n", "");
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'=', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The start tags of an HTML document, lowercased: `<name attrs…>`.
fn start_tags(html: &str) -> Vec<String> {
    let mut tags = Vec::new();
    let mut rest = html;
    while let Some(at) = rest.find('<') {
        rest = &rest[at + 1..];
        let end = rest.find('>').unwrap_or(rest.len());
        let tag = &rest[..end];
        if !tag.starts_with('/') && !tag.starts_with('!') {
            tags.push(tag.to_lowercase());
        }
        rest = &rest[end..];
    }
    tags
}

/// No script element, no event handler attribute, no link or source that
/// is not http(s) (or a fragment), in any tag of `html`.
fn assert_inert(what: &str, html: &str) {
    for tag in start_tags(html) {
        let name = tag
            .split(|c: char| c.is_whitespace() || c == '/')
            .next()
            .unwrap_or("");
        assert!(
            !["script", "iframe", "object", "embed", "img", "base", "form"].contains(&name),
            "{what}: <{tag}> reached the page"
        );
        let attrs = &tag[name.len()..];
        for attr in attrs.split_whitespace() {
            let key = attr.split('=').next().unwrap_or("");
            assert!(!key.starts_with("on"), "{what}: event handler in <{tag}>");
            if let Some(value) = ["href=", "src=", "action=", "xlink:href="]
                .iter()
                .find_map(|k| attr.strip_prefix(k))
            {
                let value = value.trim_matches(['"', '\'']);
                assert!(
                    value.starts_with("http://") || value.starts_with("https://") || value.starts_with('#'),
                    "{what}: link {value:?} in <{tag}>"
                );
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn hostile_corpus_in_one_cycle() {
    let test_started = Instant::now();
    let server = FeedServer::start().await;
    let mut cases = cases(&server);
    // HOSTILE_ONLY=name,name… runs a subset (for finding what costs memory).
    if let Ok(only) = std::env::var("HOSTILE_ONLY") {
        let only: Vec<&str> = only.split(',').collect();
        cases.retain(|c| only.contains(&c.name));
    }
    let ws = Workspace::with_config(&config(&cases));

    let (out, peak_kb, wall) = run_cycle(&ws, &server.base).await;
    eprintln!(
        "hostile cycle: {} feeds, exit {}, peak RSS {} KiB ({:.1} MiB), wall {:.1}s\n{}",
        cases.len(),
        out.code,
        peak_kb,
        peak_kb as f64 / 1024.0,
        wall.as_secs_f64(),
        out.stdout
    );
    assert_eq!(out.code, 0, "the cycle survives: {}\n{}", out.stdout, out.stderr);

    // Every feed's row: the expected error, or items (and a warning).
    let feeds = ws.feeds().await;
    let mut report = String::new();
    for c in &cases {
        let row = &feeds[&feed_url(c.name)];
        report.push_str(&format!(
            "{:<15} status={} kind={} items={} error={} warning={}\n",
            c.name,
            row["last_status"],
            row["error_kind"],
            row["item_count"],
            row["last_error"],
            row["warning"]
        ));
    }
    eprintln!("{report}");
    assert!(
        peak_kb > 0 && peak_kb <= PEAK_RSS_LIMIT_KB,
        "peak RSS {peak_kb} KiB is over {PEAK_RSS_LIMIT_KB} KiB"
    );
    for c in &cases {
        let row = &feeds[&feed_url(c.name)];
        match c.expect {
            Expect::Error(kind, message) => {
                assert_eq!(row["error_kind"], kind, "{}: {row}", c.name);
                let error = row["last_error"].as_str().unwrap_or("");
                assert!(error.contains(message), "{}: {error:?} lacks {message:?}", c.name);
                assert_eq!(row["item_count"], 0, "{}: {row}", c.name);
            }
            Expect::Items(n, warning) => {
                assert!(row["last_error"].is_null(), "{}: {row}", c.name);
                assert_eq!(row["last_status"], 200, "{}: {row}", c.name);
                assert!(row["item_count"].as_i64().unwrap() >= n, "{}: {row}", c.name);
                if let Some(fragment) = warning {
                    let w = row["warning"].as_str().unwrap_or("");
                    assert!(
                        w.contains(fragment),
                        "{}: warning {w:?} lacks {fragment:?}",
                        c.name
                    );
                }
            }
        }
    }
    // The guard refused before connecting: nothing reached the target.
    assert!(server.seen("/private-target").is_empty());
    // External DTDs and parameter entities are never fetched.
    assert!(server.seen("/evil.dtd").is_empty() && server.seen("/evil-param.dtd").is_empty());

    let items = ws
        .search(&["--limit", "200000"])
        .await
        .into_iter()
        .map(|i| (i["feed_url"].as_str().unwrap().to_string(), i))
        .fold(
            HashMap::<String, Vec<serde_json::Value>>::new(),
            |mut m, (f, i)| {
                m.entry(f).or_default().push(i);
                m
            },
        );
    let of = |name: &str| items.get(&feed_url(name)).cloned().unwrap_or_default();

    // The good feeds are unaffected: stored and matched.
    for (name, title) in [
        ("good", "Kurdistan referendum: good feed"),
        ("chain10-0", "Kurdistan referendum after ten hops"),
    ] {
        let stored = of(name);
        assert_eq!(stored.len(), 1, "{name}");
        assert_eq!(stored[0]["title"], title);
        assert_eq!(stored[0]["topics"], serde_json::json!(["k"]), "{name}");
    }
    // Mislabelled and undeclared charsets are read as what they are.
    let arabic = of("windows-1256");
    assert_eq!(arabic[0]["title"], "استفتاء استقلال إقليم كردستان العراق");
    assert!(
        arabic[0]["topics"].to_string().contains("\"ar\""),
        "{}",
        arabic[0]
    );
    let turkish = of("iso-8859-9");
    assert_eq!(
        turkish[0]["title"],
        "Kürdistan'da bağımsızlık referandumu: Irak ve Türkiye tepki gösterdi"
    );
    assert!(turkish[0]["text"].as_str().unwrap().contains("Şırnak ve Iğdır"));
    assert!(
        turkish[0]["topics"].to_string().contains("\"tr\""),
        "{}",
        turkish[0]
    );
    let utf16 = of("utf16");
    assert_eq!(utf16[0]["title"], "Kurdistan referendum — «UTF-16» 库尔德斯坦");
    // Invalid UTF-8: the item is kept, the valid text intact.
    let broken = of("invalid-utf8");
    assert!(broken[0]["title"]
        .as_str()
        .unwrap()
        .starts_with("Kurdistan referendum"));
    assert!(broken[0]["text"]
        .as_str()
        .unwrap()
        .starts_with("Voters in Erbil."));
    // Entities declared in a DTD are never expanded: the reference stays as
    // text; external ones are neither read nor fetched.
    assert_eq!(of("billion-laughs")[0]["title"], "&lol9;");
    let quadratic = of("quadratic");
    assert_eq!(quadratic[0]["text"].as_str().unwrap(), "&a;".repeat(10_000));
    assert_eq!(of("xxe")[0]["title"], "Kurdistan referendum leak &xxe; end");
    // Deep nesting and a 1 MB title are stored; control characters are
    // dropped, and a &#0; no longer costs the whole title.
    assert_eq!(of("deep")[0]["title"], "deep");
    assert_eq!(of("huge-title")[0]["title"].as_str().unwrap().len(), 999_999);
    assert_eq!(of("control")[0]["title"], "bellnullesc[31m");
    assert_eq!(of("control")[0]["text"], "tab andbackspace");
    // Nothing from /etc/passwd and no expanded entity bomb is stored.
    let everything: Vec<&serde_json::Value> = items.values().flatten().collect();
    let all_text: String = everything.iter().map(|i| i.to_string()).collect();
    assert!(!all_text.contains("root:"), "no local file content is stored");
    assert!(
        !all_text.contains(&"lol".repeat(1000)),
        "entities are not expanded into a bomb"
    );
    assert!(
        !all_text.contains(&"a".repeat(200_000)),
        "entities are not expanded quadratically"
    );
    // No control characters reach stored text.
    for item in &everything {
        for field in ["title", "text", "author"] {
            let s = item[field].as_str().unwrap_or("");
            assert!(
                !s.chars().any(|c| c.is_control()),
                "control character in {field}: {s:?}"
            );
        }
    }
    // Stored links are http(s) only: no javascript: URL is handed to API or
    // search consumers as a link.
    for item in &everything {
        if let Some(url) = item["url"].as_str() {
            assert!(
                url.starts_with("http://") || url.starts_with("https://"),
                "{item}"
            );
        }
    }
    assert_eq!(of("script-rss").len(), 3);
    assert_eq!(of("script-atom").len(), 1);

    // Digests: HTML preview, the e-mail file, the JSON file.
    let preview = ws
        .run(&["digest", "preview", "--alert", "daily", "--format", "html"])
        .await;
    assert_eq!(preview.code, 0, "{}", preview.stderr);
    assert!(preview.stdout.contains("good feed"), "{}", preview.stdout);
    assert_inert("digest preview", &preview.stdout);
    // Markup that survives as text (double-escaped in the feed) is shown
    // escaped, in titles, snippets and the outlet (feed title).
    for shown in [
        "&lt;script&gt;alert(&#39;text title&#39;)&lt;/script&gt; Kurdistan referendum",
        "&lt;img src=x onerror=alert(&#39;text description&#39;)&gt;",
        "Evil &lt;script&gt;alert(&#39;feed title&#39;)&lt;/script&gt; Wire",
    ] {
        assert!(preview.stdout.contains(shown), "{shown} in {}", preview.stdout);
    }
    let sent = ws.run(&["digest", "send", "--alert", "daily", "--now"]).await;
    assert_eq!(sent.code, 0, "{} {}", sent.stdout, sent.stderr);
    let emls: Vec<PathBuf> = std::fs::read_dir(ws.dir.path().join("out/eml"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(emls.len(), 1);
    let eml = std::fs::read_to_string(&emls[0]).unwrap();
    let html_part = eml.split("Content-Type: text/html").nth(1).expect("an HTML part");
    let html_part = if html_part.contains("quoted-printable") {
        quoted_printable(html_part)
    } else {
        html_part.to_string()
    };
    assert!(html_part.contains("good feed"), "{html_part}");
    assert_inert("e-mail digest", &html_part);
    let digests = jsonl(&std::fs::read_to_string(ws.dir.path().join("out/digests.jsonl")).unwrap());
    assert_eq!(digests.len(), 1);
    let entries: Vec<&serde_json::Value> = digests[0]["topics"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|t| t["entries"].as_array().unwrap())
        .collect();
    assert!(
        entries.len() >= 4,
        "good, ten hops and the script feeds: {entries:?}"
    );
    for entry in &entries {
        let url = &entry["url"];
        assert!(
            url.is_null() || url.as_str().unwrap().starts_with("http"),
            "{entry}"
        );
    }

    // The report page.
    let report_path = ws.dir.path().join("report.html");
    let out = ws
        .run(&[
            "report",
            "--topic",
            "k",
            "--since",
            "2000-01-01",
            "--out",
            report_path.to_str().unwrap(),
        ])
        .await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let page = std::fs::read_to_string(&report_path).unwrap();
    assert!(page.contains("good feed"), "{page}");
    assert_inert("report", &page);
    assert!(page.contains("&lt;script&gt;alert(&#39;"), "{page}");

    eprintln!(
        "hostile test: peak RSS of the cycle {:.1} MiB, cycle {:.1}s, test {:.1}s",
        peak_kb as f64 / 1024.0,
        wall.as_secs_f64(),
        test_started.elapsed().as_secs_f64()
    );
}

/// The hand-written gzip bomb is a valid deflate stream of zeros.
#[test]
fn gzip_bomb_inflates_to_zeros() {
    let bomb = gzip_bomb(1 + 258 * 4000);
    let mut out = Vec::new();
    let mut decoder = flate2::read::GzDecoder::new(&bomb[..]);
    let _ = decoder.read_to_end(&mut out); // the CRC is left out on purpose
    assert_eq!(out.len(), 1 + 258 * 4000);
    assert!(out.iter().all(|&b| b == 0));
    let gigabyte = gzip_bomb(1 << 30);
    assert!(gigabyte.len() < 8 << 20, "{}", gigabyte.len());
}
