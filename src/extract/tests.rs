use chrono::TimeZone;

use super::*;

const MEHR_EN: &str = include_str!("../../tests/fixtures/extract/mehr_en.html");
const FA: &str = include_str!("../../tests/fixtures/extract/fa.html");
const AR: &str = include_str!("../../tests/fixtures/extract/ar.html");
const FRONT_PAGE: &str = include_str!("../../tests/fixtures/extract/front_page.html");

fn url(s: &str) -> Url {
    Url::parse(s).unwrap()
}

fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, s).unwrap()
}

/// Asserts `text` has every one of `wanted` and none of `unwanted`.
fn assert_text(text: &str, wanted: &[&str], unwanted: &[&str]) {
    for w in wanted {
        assert!(text.contains(w), "missing {w:?} in:\n{text}");
    }
    for u in unwanted {
        assert!(!text.contains(u), "boilerplate {u:?} in:\n{text}");
    }
}

/// Whitespace normalised as in every item's text: one line, single spaces.
#[track_caller]
fn assert_one_line(text: &str) {
    assert!(
        !text.contains(['\n', '\r', '\t']) && !text.contains("  "),
        "{text}"
    );
    assert_eq!(text.trim(), text);
}

#[test]
fn english_article_without_its_boilerplate() {
    let page_url = url("https://en.mehrnews.com/news/128236/Iran-Turkey");
    let got = extract(MEHR_EN, &page_url).unwrap();
    assert!(
        got.text.contains("TEHRAN – The top military commanders"),
        "{}",
        got.text
    );
    // The article's last line (the sample's own license line), not the footer's.
    assert!(got.text.ends_with("in Iran in 1979. PA/PA All Content by Mehr News Agency is licensed under a Creative Commons Attribution 4.0 International License."), "{}", got.text);
    assert_text(
        &got.text,
        &[
            "General Baqeri also expressed hope",
            "Bagheri added Iran and Turkey",
            "General Bageri also said he and General Akar",
        ],
        &[
            "We use cookies",
            "Politics",
            "Share on Twitter",
            "Related News",
            "Rouhani receives",
            "Great coverage",
            "Send comment",
            "All contents by",
            "About us",
            "dataLayer",
        ],
    );
    assert_one_line(&got.text);
    assert_eq!(
        got.title.as_deref(),
        Some("Iran, Turkey military chiefs oppose Kurdistan referendum")
    );
    assert_eq!(got.lang.as_deref(), Some("en"));
    assert_eq!(got.published, Some(utc(2017, 9, 23, 9, 55, 10)));
    assert_eq!(got.author.as_deref(), Some("Mehr News Agency"));
    // The relative `<link rel=canonical>` wins over `og:url`, resolved.
    assert_eq!(
        got.canonical_url.as_ref().map(Url::as_str),
        Some("https://en.mehrnews.com/news/128236/Iran-Turkey-military-chiefs-oppose-Kurdistan-referendum")
    );
}

#[test]
fn persian_article_keeps_its_zero_width_non_joiners() {
    let got = extract(FA, &url("https://example.ir/fa/news/5512/x?utm_source=rss")).unwrap();
    assert_text(
        &got.text,
        &[
            "وزیران خارجه دو کشور روز شنبه در تهران دیدار",
            "همکاری\u{200c}های منطقه\u{200c}ای گفت\u{200c}وگو کردند",
            "قرار است دور بعدی مذاکرات ماه آینده برگزار شود.",
        ],
        &[
            "کوکی",
            "صفحه اصلی",
            "اخبار مرتبط",
            "افزایش قیمت طلا",
            "تمامی حقوق",
            "_paq",
        ],
    );
    assert_one_line(&got.text);
    assert_eq!(
        got.title.as_deref(),
        Some("دیدار وزیران خارجه در تهران؛ تأکید بر گسترش همکاری\u{200c}های اقتصادی")
    );
    // `<html lang="fa_ir">` in BCP 47 form.
    assert_eq!(got.lang.as_deref(), Some("fa-IR"));
    assert_eq!(got.published, Some(utc(2024, 3, 16, 6, 0, 0)));
    // JSON-LD authors (objects and a string, one repeated) before the
    // `author` meta, which is a URL anyway.
    assert_eq!(got.author.as_deref(), Some("مریم احمدی, علی رضایی"));
    // No canonical link or og:url: the article's `mainEntityOfPage`.
    assert_eq!(
        got.canonical_url.as_ref().map(Url::as_str),
        Some("https://example.ir/fa/news/5512/")
    );
}

#[test]
fn arabic_article_with_yoast_style_graph() {
    let got = extract(
        AR,
        &url("https://example.com/ar/2024/05/drought-ministers/?amp=1"),
    )
    .unwrap();
    assert_text(
        &got.text,
        &[
            "عقد وزراء الزراعة في عدد من الدول العربية",
            "لمتابعة تنفيذ القرارات التي تم التوصل إليها.",
        ],
        &[
            "ملفات تعريف الارتباط",
            "الرئيسية",
            "اقرأ أيضا",
            "ارتفاع أسعار النفط",
            "مقال رائع",
            "جميع الحقوق",
        ],
    );
    assert_eq!(got.lang.as_deref(), Some("ar"));
    // No og:title: the JSON-LD headline, not the `<title>` with the site name.
    assert_eq!(
        got.title.as_deref(),
        Some("وزراء الزراعة العرب يبحثون مواجهة الجفاف")
    );
    // JSON-LD inside an HTML comment, with a raw newline in a string; the
    // author is an `@id` reference to a Person in the `@graph`.
    assert_eq!(got.published, Some(utc(2024, 5, 12, 8, 0, 0)));
    assert_eq!(got.author.as_deref(), Some("سارة & خالد"));
    assert_eq!(
        got.canonical_url.as_ref().map(Url::as_str),
        Some("https://example.com/ar/2024/05/drought-ministers/")
    );
}

#[test]
fn a_page_with_no_article_is_an_error() {
    let page_url = url("https://example.com/world");
    for page in [
        FRONT_PAGE,
        "",
        "<html><body><p>Subscribe to read.</p></body></html>",
    ] {
        match extract(page, &page_url) {
            Err(e @ ExtractError::NoArticle { .. }) => assert_eq!(e.kind(), "no_article"),
            other => panic!("{page:.40}: {other:?}"),
        }
    }
}

/// An article page with `head` in its `<head>` and plain prose as body.
fn page(head: &str) -> String {
    format!(
        "<html><head>{head}</head><body><article>\
         <p>The council voted on Tuesday to extend the city's tram line to the airport, \
         ending a debate that had lasted for more than a decade and divided residents.</p>\
         <p>Supporters said the extension would cut travel times and traffic, while \
         opponents questioned the cost and the disruption that construction would bring.</p>\
         <p>Work is expected to begin next spring, and the first trams should run on the \
         new section within four years, according to the transport department.</p>\
         </article></body></html>"
    )
}

fn json_ld(article: &str) -> String {
    page(&format!(
        r#"<script type="application/ld+json">{article}</script>"#
    ))
}

#[test]
fn json_ld_authors() {
    #[track_caller]
    fn check(author: &str, expected: Option<&str>) {
        let html = json_ld(&format!(
            r#"{{"@context": "https://schema.org", "@type": "NewsArticle", "author": {author}}}"#
        ));
        let got = extract(&html, &url("https://example.com/a")).unwrap();
        assert_eq!(got.author.as_deref(), expected, "author: {author}");
    }
    check(r#""Jane Doe""#, Some("Jane Doe"));
    check(r#"" Jane   Doe ""#, Some("Jane Doe"));
    check(r#"{"@type": "Person", "name": "Jane Doe"}"#, Some("Jane Doe"));
    check(
        r#"{"@type": "Organization", "name": "Example Wire"}"#,
        Some("Example Wire"),
    );
    check(
        r#"[{"@type": "Person", "name": "Jane Doe"}, {"@type": "Person", "name": "John Roe"}]"#,
        Some("Jane Doe, John Roe"),
    );
    check(
        r#"["Jane Doe", "John Roe", "Jane Doe"]"#,
        Some("Jane Doe, John Roe"),
    );
    check(r#"{"@type": "Person", "name": ["Jane Doe"]}"#, Some("Jane Doe"));
    check(
        r#"{"@type": "Person", "name": "Tom &amp; Ann"}"#,
        Some("Tom & Ann"),
    );
    check(r#""https://example.com/authors/jane""#, None);
    check(r#"[]"#, None);
    check(r#"{"@id": "https://example.com/#nobody"}"#, None);
}

#[test]
fn author_meta_when_json_ld_has_none() {
    let got = extract(
        &page(r#"<meta name="author" content="Jane Doe"><meta property="article:author" content="https://facebook.com/jane">"#),
        &url("https://example.com/a"),
    )
    .unwrap();
    assert_eq!(got.author.as_deref(), Some("Jane Doe"));
    let got = extract(
        &page(r#"<meta property="article:author" content="https://facebook.com/jane">"#),
        &url("https://example.com/a"),
    )
    .unwrap();
    assert_eq!(got.author, None);
}

#[test]
fn json_ld_article_object_is_found_in_arrays_and_graphs() {
    let expected = Some(utc(2024, 1, 2, 3, 4, 5));
    for article in [
        r#"{"@type": "NewsArticle", "datePublished": "2024-01-02T03:04:05Z"}"#,
        r#"[{"@type": "Organization", "name": "X"}, {"@type": ["ReportageNewsArticle"], "datePublished": "2024-01-02T03:04:05Z"}]"#,
        r#"{"@graph": [{"@type": "WebSite"}, {"@type": "BlogPosting", "datePublished": "2024-01-02T03:04:05Z"}]}"#,
        // No article type: the first object with a datePublished.
        r#"[{"@type": "Organization"}, {"@type": "WebPage", "datePublished": "2024-01-02T03:04:05Z"}]"#,
        r#"{"@type": "schema:NewsArticle", "datePublished": "2024-01-02T03:04:05+00:00"}"#,
        "<!--\n{\"@type\": \"NewsArticle\", \"datePublished\": \"2024-01-02T03:04:05Z\"}\n-->",
    ] {
        let got = extract(&json_ld(article), &url("https://example.com/a")).unwrap();
        assert_eq!(got.published, expected, "{article}");
    }
    // Invalid JSON-LD is skipped, not an error.
    let got = extract(
        &json_ld(r#"{"@type": "NewsArticle", "#),
        &url("https://example.com/a"),
    )
    .unwrap();
    assert_eq!(got.published, None);
}

#[test]
fn published_falls_back_through_the_meta_tags() {
    #[track_caller]
    fn check(head: &str, expected: Option<DateTime<Utc>>) {
        let got = extract(&page(head), &url("https://example.com/a")).unwrap();
        assert_eq!(got.published, expected, "{head}");
    }
    let t = Some(utc(2023, 6, 1, 12, 0, 0));
    check(
        r#"<meta property="article:published_time" content="2023-06-01T12:00:00Z">"#,
        t,
    );
    check(
        r#"<meta property="article:published_time" content="2023-06-01T14:00:00+02:00">"#,
        t,
    );
    check(
        r#"<meta itemprop="datePublished" content="2023-06-01T12:00:00Z">"#,
        t,
    );
    check(
        r#"<meta name="pubdate" content="Thu, 01 Jun 2023 12:00:00 GMT">"#,
        t,
    );
    // An unreadable date gives way to the next source.
    check(
        r#"<meta property="article:published_time" content="yesterday"><meta name="date" content="2023-06-01T12:00:00Z">"#,
        t,
    );
    // JSON-LD first.
    check(
        r#"<meta property="article:published_time" content="2020-01-01T00:00:00Z"><script type="application/ld+json">{"@type":"Article","datePublished":"2023-06-01T12:00:00Z"}</script>"#,
        t,
    );
    check("", None);
}

#[test]
fn canonical_url_sources() {
    #[track_caller]
    fn check(head: &str, expected: Option<&str>) {
        let got = extract(&page(head), &url("https://example.com/news/a?utm_source=rss")).unwrap();
        assert_eq!(got.canonical_url.as_ref().map(Url::as_str), expected, "{head}");
    }
    check(
        r#"<link rel="canonical" href="https://example.com/news/a">"#,
        Some("https://example.com/news/a"),
    );
    check(
        r#"<link rel="Canonical" href="/news/a">"#,
        Some("https://example.com/news/a"),
    );
    check(
        r#"<meta property="og:url" content="https://example.com/news/a">"#,
        Some("https://example.com/news/a"),
    );
    check(
        r#"<script type="application/ld+json">{"@type":"NewsArticle","url":"https://example.com/news/a"}</script>"#,
        Some("https://example.com/news/a"),
    );
    check(r#"<link rel="canonical" href="javascript:void(0)">"#, None);
    check(
        r#"<link rel="canonical" href="mailto:x@example.com"><meta property="og:url" content="https://example.com/news/a">"#,
        Some("https://example.com/news/a"),
    );
    check("", None);
}

#[test]
fn a_page_that_says_nothing_about_itself() {
    let got = extract(&page(""), &url("https://example.com/a")).unwrap();
    assert!(got.text.starts_with("The council voted on Tuesday"));
    assert_one_line(&got.text);
    assert_eq!(
        (got.title, got.lang, got.published, got.author, got.canonical_url),
        (None, None, None, None, None)
    );
}

#[test]
fn title_sources() {
    #[track_caller]
    fn check(head: &str, expected: Option<&str>) {
        let got = extract(&page(head), &url("https://example.com/a")).unwrap();
        assert_eq!(got.title.as_deref(), expected, "{head}");
    }
    check(
        "<title> Tram line\n extended | City News </title>",
        Some("Tram line extended | City News"),
    );
    check(
        r#"<title>Tram | City News</title><meta property="og:title" content="Tram line extended">"#,
        Some("Tram line extended"),
    );
    check(
        r#"<title>Tram | City News</title><script type="application/ld+json">{"@type":"NewsArticle","headline":"Tram line extended"}</script>"#,
        Some("Tram line extended"),
    );
}

#[test]
fn language_tags() {
    #[track_caller]
    fn check(raw: &str, expected: Option<&str>) {
        assert_eq!(language_tag(raw).as_deref(), expected, "{raw:?}");
    }
    check("en", Some("en"));
    check(" EN-us ", Some("en-US"));
    check("fa_IR", Some("fa-IR"));
    check("zh-hant-tw", Some("zh-Hant-TW"));
    check("ckb", Some("ckb"));
    check("", None);
    check("english", None);
    check("en,fr", None);
    check("en-", None);
}

#[test]
fn language_falls_back_to_metas() {
    #[track_caller]
    fn check(head: &str, expected: Option<&str>) {
        let got = extract(&page(head), &url("https://example.com/a")).unwrap();
        assert_eq!(got.lang.as_deref(), expected, "{head}");
    }
    check(r#"<meta http-equiv="Content-Language" content="tr">"#, Some("tr"));
    check(r#"<meta property="og:locale" content="ar_AR">"#, Some("ar-AR"));
    check(
        r#"<script type="application/ld+json">{"@type":"NewsArticle","inLanguage":"ku"}</script>"#,
        Some("ku"),
    );
}
