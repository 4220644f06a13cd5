//! The desk's pages: each handler reads what it shows from the store's
//! roles and the archive (as the API and the CLI do) and renders it with
//! maud, which escapes every value. Feed text, queries and names are
//! isolated for right-to-left scripts (`dir="auto"`, `<bdi>`) and carry
//! their language (`lang`) where it is known; links leave the desk only
//! to http(s) URLs ([`crate::digest::safe_link`]).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{StatusCode, Uri};
use axum::response::Response;
use chrono::{DateTime, Utc};
use maud::{html, Markup, PreEscaped};
use serde::Deserialize;

use super::{charts, layout, respond, see_other, DeskError, Nav};
use crate::api::Api;
use crate::archive::report::chart;
use crate::archive::stats::{bucket_labels, series, thousands, trim_future, Series};
use crate::archive::{self, Highlighter, Search};
use crate::digest::health::{self, HealthKind, HealthSettings};
use crate::digest::safe_link;
use crate::model::{check_range, parse_time};
use crate::parse::dates::MAX_FUTURE_SKEW;
use crate::store::{Bucket, ItemRow, SearchFilter, SearchSort, Split, Store, VolumeQuery};
use crate::topics::highlight::MatchSpan;

/// Days of volume the desk and a topic page show by default.
const DAYS: i64 = 30;
/// Hours of volume a topic page shows per hour (`?by=hour`).
const HOUR_DAYS: i64 = 2;
/// Topics per page of the desk.
const TOPICS_PER_PAGE: usize = 100;
/// Items per page of a topic or a search.
const ITEMS_PER_PAGE: u32 = 20;
/// Items of a story's timeline, at most.
const STORY_ITEMS: u32 = 1000;
/// Feeds per page of `/feeds`.
const FEEDS_PER_PAGE: usize = 100;
/// Hits a search counts per day, at most (newest first).
const DAY_COUNT_CAP: u64 = 2_000;
/// Characters of context each side of a match in a snippet.
const KWIC_CONTEXT: usize = 80;

fn params<T: serde::de::DeserializeOwned>(uri: &Uri) -> Result<T, DeskError> {
    crate::api::page_params(uri).map_err(DeskError::BadRequest)
}

fn logout(api: &Api) -> bool {
    api.config.http.token.is_some()
}

fn page(api: &Api, title: &str, nav: Nav, body: Markup) -> Response {
    respond(StatusCode::OK, layout(title, nav, logout(api), body))
}

// ---------------------------------------------------------------------------
// Pieces

/// `2017-09-25T08:00:00Z` → `2017-09-25 08:00`.
fn short(t: &str) -> String {
    t.replace('T', " ").chars().take(16).collect()
}

fn short_time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M").to_string()
}

/// A language tag fit for a `lang` attribute (letters, digits, hyphens).
fn lang_tag(lang: Option<&str>) -> Option<&str> {
    lang.filter(|l| {
        !l.is_empty() && l.len() <= 35 && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    })
}

/// A path segment, percent-encoded (a topic's name in `/topics/NAME`).
fn segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `key=value&…`, form-encoded.
fn query_string(pairs: &[(&str, &str)]) -> String {
    let mut s = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        if !v.is_empty() {
            s.append_pair(k, v);
        }
    }
    s.finish()
}

fn topic_href(name: &str) -> String {
    format!("/topics/{}", segment(name))
}

/// `text` with the character ranges `spans` (sorted or not, overlapping
/// or not) in `<mark>`.
fn marked(text: &str, spans: &[(usize, usize)]) -> Markup {
    let mut spans = spans.to_vec();
    spans.sort_unstable();
    let mut merged: Vec<(usize, usize)> = Vec::new();
    for (start, end) in spans {
        match merged.last_mut() {
            Some(last) if start <= last.1 => last.1 = last.1.max(end),
            _ => merged.push((start, end)),
        }
    }
    let chars: Vec<char> = text.chars().collect();
    let piece =
        |a: usize, b: usize| -> String { chars[a.min(chars.len())..b.min(chars.len())].iter().collect() };
    // (text, marked) pieces in order.
    let mut pieces: Vec<(String, bool)> = Vec::new();
    let mut at = 0;
    for (start, end) in merged {
        pieces.push((piece(at, start), false));
        pieces.push((piece(start, end), true));
        at = end;
    }
    pieces.push((piece(at, chars.len()), false));
    html! {
        @for (text, mark) in pieces.iter().filter(|(t, _)| !t.is_empty()) {
            @if *mark { mark { (text) } } @else { (text) }
        }
    }
}

/// A keyword-in-context snippet of `text` around its first span:
/// [`KWIC_CONTEXT`] characters each side, the spans inside marked; the
/// start of the text when no span is in it.
fn kwic(text: &str, spans: &[(usize, usize)]) -> Markup {
    let len = text.chars().count();
    let first = spans.iter().map(|s| s.0).min();
    let (from, to) = match first {
        Some(start) => (
            start.saturating_sub(KWIC_CONTEXT),
            (start + KWIC_CONTEXT * 2).min(len),
        ),
        None => (0, (KWIC_CONTEXT * 2).min(len)),
    };
    let inside: String = text.chars().skip(from).take(to - from).collect();
    let shifted: Vec<(usize, usize)> = spans
        .iter()
        .filter(|(s, e)| *s >= from && *e <= to)
        .map(|(s, e)| (s - from, e - from))
        .collect();
    html! {
        @if from > 0 { "… " }
        (marked(&inside, &shifted))
        @if to < len { " …" }
    }
}

/// The spans of `field` among `matches` that `want` keeps.
fn spans_of(matches: &[MatchSpan], field: &str, want: &dyn Fn(&MatchSpan) -> bool) -> Vec<(usize, usize)> {
    matches
        .iter()
        .filter(|m| m.field == field && want(m))
        .map(|m| (m.start, m.end))
        .collect()
}

/// Feed URL → name as shown (name, else title, else the URL with its
/// password masked) for every feed listing one of `rows`.
async fn outlet_names(store: &Store, rows: &[ItemRow]) -> Result<HashMap<String, String>, DeskError> {
    let mut urls: Vec<String> = rows.iter().flat_map(|r| r.feeds.iter().cloned()).collect();
    urls.extend(rows.iter().map(|r| r.feed_url.clone()));
    urls.sort();
    urls.dedup();
    let feeds = store.feeds_in(&urls).await?;
    Ok(feeds
        .iter()
        .map(|f| (f.url.clone(), f.display_name().into_owned()))
        .collect())
}

fn outlet<'a>(names: &'a HashMap<String, String>, url: &'a str) -> std::borrow::Cow<'a, str> {
    names
        .get(url)
        .map_or_else(|| crate::redact::url(url), |n| n.as_str().into())
}

/// An item's feeds, first feed first.
fn feeds_of(row: &ItemRow) -> Vec<&str> {
    if row.feeds.is_empty() {
        vec![row.feed_url.as_str()]
    } else {
        row.feeds.iter().map(String::as_str).collect()
    }
}

/// A list of items: title (matches marked) linking to the item, outlets,
/// time, language, topics, and a snippet around the first match.
fn item_list(
    rows: &[ItemRow],
    highlighter: &Highlighter,
    names: &HashMap<String, String>,
    want: &dyn Fn(&MatchSpan) -> bool,
) -> Markup {
    html! {
        ol.items {
            @for row in rows {
                @let matches = highlighter.matches(row);
                @let lang = lang_tag(row.lang.as_deref());
                li.item {
                    h3 dir="auto" lang=[lang] {
                        a href={ "/items/" (row.id) } { (marked(&row.title, &spans_of(&matches, "title", want))) }
                    }
                    p.meta {
                        @for (i, url) in feeds_of(row).iter().enumerate() {
                            @if i > 0 { ", " }
                            bdi { (outlet(names, url)) }
                        }
                        " · " time datetime=(row.sort_at) { (short(&row.sort_at)) }
                        @if let Some(lang) = &row.lang { " · " span.lang { (lang) } }
                        @for topic in &row.topics {
                            " · " a.topic href=(topic_href(topic)) { bdi { (topic) } }
                        }
                    }
                    p.kwic dir="auto" lang=[lang] { (kwic(&row.text, &spans_of(&matches, "text", want))) }
                }
            }
        }
    }
}

/// A table of names and counts (outlets, languages).
fn pairs_table(caption: &str, what: &str, rows: &[(String, i64)]) -> Markup {
    html! {
        @if rows.is_empty() {
            p { "None in this window." }
        } @else {
            table {
                caption { (caption) }
                thead { tr { th scope="col" { (what) } th.n scope="col" { "Items" } } }
                tbody {
                    @for (name, n) in rows {
                        tr {
                            td { bdi { @if name.is_empty() { "unknown" } @else { (name) } } }
                            td.n { (thousands(*n as u64)) }
                        }
                    }
                }
            }
        }
    }
}

/// The window's description: `2017-08-24 12:19 to 2017-09-23 12:19 UTC`,
/// and why it ends where it does.
fn window_note(window: &archive::DefaultWindow, now: DateTime<Utc>) -> Markup {
    let end = window.until.unwrap_or(now);
    html! {
        p.window {
            (short_time(window.since)) " to " (short_time(end)) " UTC"
            @if let Some(newest) = window.moved_to {
                " — nothing is dated in the last days, so the window ends at the newest item ("
                (short_time(newest)) ")"
            }
            ". Counts and charts are refreshed at most once a minute."
        }
    }
}

/// The volume of `topics` per bucket over the window, zero-filled, with
/// the labels; buckets ahead of now are dropped unless they hold items.
async fn volumes(
    store: &Store,
    topics: &[String],
    window: &archive::DefaultWindow,
    bucket: Bucket,
    now: DateTime<Utc>,
) -> Result<(Vec<String>, Vec<Vec<i64>>), DeskError> {
    let end = window.until.unwrap_or(now + MAX_FUTURE_SKEW);
    let mut labels =
        bucket_labels(window.since, end, bucket).map_err(|e| DeskError::BadRequest(e.to_string()))?;
    let mut all: Vec<Series> = Vec::new();
    for topic in topics {
        let rows = store
            .volume(&VolumeQuery {
                topics: vec![topic.clone()],
                since: window.since,
                until: Some(end),
                bucket,
                split: Split::None,
            })
            .await?;
        all.push(
            series(&rows, &labels)
                .into_iter()
                .next()
                .unwrap_or_else(|| Series {
                    key: String::new(),
                    counts: vec![0; labels.len()],
                }),
        );
    }
    if window.until.is_none() {
        let mut refs: Vec<&mut Series> = all.iter_mut().collect();
        trim_future(&mut labels, &mut refs, now, bucket);
    }
    Ok((labels, all.into_iter().map(|s| s.counts).collect()))
}

// ---------------------------------------------------------------------------
// The desk

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct DeskQuery {
    page: Option<usize>,
}

/// `/`: every topic (a page of them) with its 30-day sparkline and counts,
/// the latest stories of the busiest ones, and feeds needing attention.
pub(super) async fn desk(State(api): State<Api>, uri: Uri) -> Result<Response, DeskError> {
    let q: DeskQuery = params(&uri)?;
    let now = api.store.clock().now();
    let page_no = q.page.unwrap_or(1).max(1);
    let topics = &api.config.topics;
    let pages = topics.len().div_ceil(TOPICS_PER_PAGE).max(1);
    let shown: Vec<(String, String)> = topics
        .iter()
        .skip((page_no - 1) * TOPICS_PER_PAGE)
        .take(TOPICS_PER_PAGE)
        .map(|t| (t.name.clone(), t.query.clone()))
        .collect();
    let view = {
        let store = api.store.clone();
        api.desk
            .get(format!("desk:{page_no}"), move || desk_view(store, shown))
            .await?
    };
    let health = feeds_view(&api).await?;
    let DeskView {
        window,
        stats,
        labels,
        volumes,
        stories,
    } = &*view;
    let count_of = |kind: HealthKind| health.notices.iter().filter(|n| n.kind == kind).count();
    let (failing, silent, disabled) = (
        count_of(HealthKind::Failing),
        count_of(HealthKind::Silent),
        count_of(HealthKind::Disabled),
    );
    let span = format!("{} days", labels.len());
    let body = html! {
        h1 { "Desk" }
        (window_note(window, now))
        section aria-labelledby="attention" {
            h2 id="attention" { "Feeds needing attention" }
            @if failing + silent + disabled == 0 {
                p { "None: every feed is fetched and publishing as usual. " a href="/feeds" { "All feeds" } }
            } @else {
                p.attention {
                    a href="/feeds" {
                        (crate::count((failing + silent + disabled) as u64, "feed needs", "feeds need")) " attention"
                    }
                    ": " (failing) " failing, " (silent) " silent, " (disabled) " disabled."
                }
            }
        }
        section aria-labelledby="topics" {
            h2 id="topics" { "Topics" }
            @if stats.is_empty() {
                p { "No topics are configured ([[topic]] in the config)." }
            } @else {
                table.topics {
                    caption { "Matched items per topic; the sparkline is items per day over " (span) "." }
                    thead {
                        tr {
                            th scope="col" { "Topic" }
                            th scope="col" { "Volume, " (span) }
                            th.n scope="col" { "24 h" }
                            th.n scope="col" { "7 days" }
                            th.n scope="col" { "All" }
                        }
                    }
                    tbody {
                        @for (s, counts) in stats.iter().zip(volumes) {
                            tr {
                                th scope="row" { a href=(topic_href(&s.name)) { bdi { (s.name) } } }
                                td { (PreEscaped(charts::sparkline(counts, &span))) }
                                td.n { (thousands(s.last_24h as u64)) }
                                td.n { (thousands(s.last_7d as u64)) }
                                td.n { (thousands(s.total as u64)) }
                            }
                        }
                    }
                }
                @if pages > 1 {
                    nav.pages aria-label="Topic pages" {
                        "Page " (page_no) " of " (pages) ": "
                        @if page_no > 1 { a href={ "/?page=" (page_no - 1) } { "previous" } " " }
                        @if page_no < pages { a href={ "/?page=" (page_no + 1) } { "next" } }
                    }
                }
            }
        }
        section aria-labelledby="stories" {
            h2 id="stories" { "Latest stories" }
            @if stories.is_empty() {
                p { "No stories of these topics in this window." }
            } @else {
                table {
                    caption { "Stories of the busiest topics, most recently seen first." }
                    thead { tr {
                        th scope="col" { "Story" } th scope="col" { "Topics" } th.n scope="col" { "Items" }
                        th.n scope="col" { "Outlets" } th scope="col" { "First seen" } th scope="col" { "Last seen" }
                    } }
                    tbody {
                        @for (story, topics) in stories {
                            tr {
                                td dir="auto" { a href={ "/stories/" (story.id) } { (story.headline) } }
                                td { @for (i, t) in topics.iter().enumerate() { @if i > 0 { ", " } bdi { (t) } } }
                                td.n { (story.item_count) }
                                td.n { (story.outlet_count) }
                                td { (short(&story.first_seen)) }
                                td { (short(&story.last_seen)) }
                            }
                        }
                    }
                }
            }
        }
    };
    Ok(page(&api, "Desk", Nav::Desk, body))
}

/// The desk's figures for a page of topics (cached: [`super::cache`]).
struct DeskView {
    window: archive::DefaultWindow,
    stats: Vec<crate::store::TopicStats>,
    labels: Vec<String>,
    volumes: Vec<Vec<i64>>,
    /// The latest stories of the busiest topics, with those topics.
    stories: Vec<(crate::store::ReportStory, Vec<String>)>,
}

async fn desk_view(store: Store, shown: Vec<(String, String)>) -> Result<DeskView, DeskError> {
    let now = store.clock().now();
    let window = archive::default_window(&store, DAYS, now).await?;
    let at = window.until.unwrap_or(now);
    let stats = store.topic_stats(&shown, at).await?;
    let names: Vec<String> = shown.iter().map(|(n, _)| n.clone()).collect();
    let (labels, volumes) = volumes(&store, &names, &window, Bucket::Day, now).await?;
    // The latest stories of the busiest topics shown.
    let mut busiest: Vec<&crate::store::TopicStats> = stats.iter().filter(|s| s.last_7d > 0).collect();
    busiest.sort_by(|a, b| b.last_7d.cmp(&a.last_7d).then(a.name.cmp(&b.name)));
    let end = window.until.unwrap_or(now + MAX_FUTURE_SKEW);
    let mut stories: BTreeMap<i64, (crate::store::ReportStory, Vec<String>)> = BTreeMap::new();
    for topic in busiest.iter().take(10) {
        for story in store
            .top_stories(std::slice::from_ref(&topic.name), window.since, Some(end), 5)
            .await?
        {
            stories
                .entry(story.id)
                .or_insert_with(|| (story, Vec::new()))
                .1
                .push(topic.name.clone());
        }
    }
    let mut stories: Vec<_> = stories.into_values().collect();
    stories.sort_by(|a, b| b.0.last_seen.cmp(&a.0.last_seen).then(b.0.id.cmp(&a.0.id)));
    stories.truncate(12);
    Ok(DeskView {
        window,
        stats,
        labels,
        volumes,
        stories,
    })
}

/// Every feed and the health notices due (cached).
struct FeedsView {
    feeds: Vec<crate::store::FeedRow>,
    notices: Vec<crate::digest::health::HealthNotice>,
}

async fn feeds_view(api: &Api) -> Result<Arc<FeedsView>, DeskError> {
    let store = api.store.clone();
    let settings = HealthSettings::from_config(&api.config.health);
    api.desk
        .get("feeds".into(), move || async move {
            let feeds = store.list_feeds().await?;
            let notices = health::notices(&store.feed_health().await?, store.clock().now(), &settings);
            Ok(FeedsView { feeds, notices })
        })
        .await
}

// ---------------------------------------------------------------------------
// A topic

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct TopicQuery {
    by: Option<String>,
    after: Option<i64>,
}

/// `/topics/NAME`: volume with its baseline band, outlets, languages,
/// stories and the items, newest first, matches marked.
pub(super) async fn topic(
    State(api): State<Api>,
    Path(name): Path<String>,
    uri: Uri,
) -> Result<Response, DeskError> {
    let q: TopicQuery = params(&uri)?;
    let store = &api.store;
    let configured = api.config.topics.iter().find(|t| t.name == name);
    if configured.is_none() && !store.has_topic(&name).await? {
        return Err(DeskError::NotFound(format!("There is no topic named {name:?}.")));
    }
    let (bucket, days, per) = match q.by.as_deref() {
        None | Some("day") => (Bucket::Day, DAYS, "day"),
        Some("hour") => (Bucket::Hour, HOUR_DAYS, "hour"),
        Some(other) => {
            return Err(DeskError::BadRequest(format!(
                "by: expected day or hour, got {other:?}"
            )))
        }
    };
    let now = store.clock().now();
    let view = {
        let (store, name) = (store.clone(), name.clone());
        api.desk
            .get(format!("topic:{per}:{name}"), move || {
                topic_view(store, name, bucket, days)
            })
            .await?
    };
    let TopicView {
        window,
        labels,
        counts,
        outlets,
        languages,
        stories,
    } = &*view;
    let band = charts::baseline(counts);
    let (rows, highlighter) = {
        let (_slot, searches) = api.search_slot().await.map_err(DeskError::Unavailable)?;
        let search = Search {
            query: None,
            filter: SearchFilter {
                topic: Some(name.clone()),
                sort: SearchSort::Newest,
                ..SearchFilter::default()
            },
            after_id: q.after,
            limit: ITEMS_PER_PAGE,
        };
        let (rows, _) = archive::search(&searches, &api.config, &search, false).await?;
        let highlighter = Highlighter::new(&api.config, &searches, None, &rows).await?;
        (rows, highlighter)
    };
    let names = outlet_names(store, &rows).await?;
    let total: i64 = counts.iter().sum();
    let by_link = |b: &str| format!("{}?by={b}", topic_href(&name));
    let export = query_string(&[("topic", &name), ("limit", "1000")]);
    let stories_export = query_string(&[("topic", &name)]);
    let body = html! {
        h1 { "Topic " bdi { (name) } }
        @match configured {
            Some(t) => p { "Query: " code dir="ltr" { (PreEscaped(crate::bidi::html_ltr_words(&t.query, crate::digest::render::escape_html))) } },
            None => p { "No longer configured: its stored matches are shown." },
        }
        (window_note(window, now))
        section aria-labelledby="volume" {
            h2 id="volume" { "Volume per " (per) }
            p {
                (thousands(total as u64)) " matched items. "
                @if let Some(b) = band {
                    "Usual range (the middle half of the " (per) "s, shaded): " (format!("{:.0}", b.low)) " to " (format!("{:.0}", b.high))
                    ", median " (format!("{:.0}", b.middle)) " (dashed). "
                }
                "Per " a href=(by_link("day")) aria-current=[(per == "day").then_some("true")] { "day" }
                " or " a href=(by_link("hour")) aria-current=[(per == "hour").then_some("true")] { "hour" } "."
            }
            figure.chart { (PreEscaped(chart(labels, counts, per, band))) }
        }
        div.columns {
            section aria-labelledby="outlets" {
                h2 id="outlets" { "Top outlets" }
                (pairs_table("Outlets carrying the most matched items", "Outlet", outlets))
            }
            section aria-labelledby="languages" {
                h2 id="languages" { "Languages" }
                (pairs_table("Matched items per language", "Language", languages))
            }
        }
        section aria-labelledby="stories" {
            h2 id="stories" { "Stories" }
            @if stories.is_empty() {
                p { "No stories in this window." }
            } @else {
                table {
                    caption { "Stories with the most matched items; a story's page shows who ran it first." }
                    thead { tr {
                        th scope="col" { "Story" } th.n scope="col" { "Matched" } th.n scope="col" { "Items" }
                        th.n scope="col" { "Outlets" } th scope="col" { "First seen" }
                    } }
                    tbody {
                        @for s in stories {
                            tr {
                                td dir="auto" { a href={ "/stories/" (s.id) } { (s.headline) } }
                                td.n { (s.topic_items) } td.n { (s.item_count) } td.n { (s.outlet_count) }
                                td { (short(&s.first_seen)) }
                            }
                        }
                    }
                }
            }
        }
        section aria-labelledby="items" {
            h2 id="items" { "Items, newest first" }
            p.export {
                "Export (JSON, the API): "
                a href={ "/api/items?" (export) } { "items" } ", "
                a href={ "/api/stories?" (stories_export) } { "stories" } "."
            }
            @if rows.is_empty() {
                p { "No items." }
            } @else {
                (item_list(&rows, &highlighter, &names, &|m: &MatchSpan| m.topic.as_deref() == Some(name.as_str())))
                @if rows.len() == ITEMS_PER_PAGE as usize {
                    @let last = rows.last().map_or(0, |r| r.id);
                    nav.pages aria-label="Item pages" {
                        a href={ (topic_href(&name)) "?" (query_string(&[("by", if per == "hour" { "hour" } else { "" }), ("after", &last.to_string())])) } { "Older items →" }
                    }
                }
            }
        }
    };
    Ok(page(&api, &format!("Topic {name}"), Nav::Desk, body))
}

/// A topic's figures over its window (cached).
struct TopicView {
    window: archive::DefaultWindow,
    labels: Vec<String>,
    counts: Vec<i64>,
    outlets: Vec<(String, i64)>,
    languages: Vec<(String, i64)>,
    stories: Vec<crate::store::ReportStory>,
}

async fn topic_view(store: Store, name: String, bucket: Bucket, days: i64) -> Result<TopicView, DeskError> {
    let now = store.clock().now();
    let window = archive::default_window(&store, days, now).await?;
    let end = window.until.unwrap_or(now + MAX_FUTURE_SKEW);
    let topics = vec![name];
    let (labels, counts) = volumes(&store, &topics, &window, bucket, now).await?;
    Ok(TopicView {
        window,
        labels,
        counts: counts.into_iter().next().unwrap_or_default(),
        outlets: store.top_outlets(&topics, window.since, Some(end), 10).await?,
        languages: store.languages(&topics, window.since, Some(end)).await?,
        stories: store.top_stories(&topics, window.since, Some(end), 10).await?,
    })
}

// ---------------------------------------------------------------------------
// A story

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct StoryQuery {
    merged: Option<i64>,
}

/// `/stories/ID`: every copy of the story, oldest first, with its outlets,
/// time and language; the first outlet marked. A merged story's id leads to
/// the story it was merged into.
pub(super) async fn story(
    State(api): State<Api>,
    Path(id): Path<String>,
    uri: Uri,
) -> Result<Response, DeskError> {
    let q: StoryQuery = params(&uri)?;
    let not_found = || DeskError::NotFound(format!("There is no story {id:?}."));
    let id: i64 = id.parse().map_err(|_| not_found())?;
    let store = &api.store;
    let (slot, searches) = api.search_slot().await.map_err(DeskError::Unavailable)?;
    let search = |limit| Search {
        query: None,
        filter: SearchFilter {
            story: Some(id),
            sort: SearchSort::Newest,
            ..SearchFilter::default()
        },
        after_id: None,
        limit,
    };
    let Some(story) = store.stories_by_id(&[id]).await?.pop() else {
        // A merged story: its items are under the story it went into.
        let (rows, _) = archive::search(&searches, &api.config, &search(1), false).await?;
        return match rows.first().and_then(|r| r.story_id) {
            Some(into) if into != id => Ok(see_other(&format!("/stories/{into}?merged={id}"), None)),
            _ => Err(not_found()),
        };
    };
    let (mut rows, _) = archive::search(&searches, &api.config, &search(STORY_ITEMS), false).await?;
    drop(slot);
    rows.reverse();
    let names = outlet_names(store, &rows).await?;
    let first_outlet = rows.first().map(|r| outlet(&names, feeds_of(r)[0]).into_owned());
    let lang = story.languages.first().map(String::as_str);
    let body = html! {
        h1 dir="auto" lang=[lang_tag(lang)] { (story.headline) }
        @if let Some(merged) = q.merged {
            p.note { "Story " (merged) " was merged into this one (story " (story.id) ")." }
        }
        dl.facts {
            dt { "Story" } dd { (story.id) }
            dt { "First seen" } dd { (short(&story.first_seen)) }
            dt { "Last seen" } dd { (short(&story.last_seen)) }
            dt { "Items" } dd { (story.item_count) }
            dt { "Outlets" } dd { (story.outlets.len()) }
            dt { "Languages" } dd { (story.languages.join(", ")) }
            @if let Some(first) = &first_outlet {
                dt { "Ran it first" } dd { bdi { (first) } }
            }
        }
        h2 { "Timeline" }
        @if rows.len() == STORY_ITEMS as usize {
            p.note { "The first " (STORY_ITEMS) " items only." }
        }
        table.timeline {
            caption { "Each copy of the story, oldest first, with the outlets that carried it." }
            thead { tr {
                th scope="col" { "Time (UTC)" } th scope="col" { "Outlets" } th scope="col" { "Language" } th scope="col" { "Title" }
            } }
            tbody {
                @for (i, row) in rows.iter().enumerate() {
                    tr.first[i == 0] {
                        td { time datetime=(row.sort_at) { (short(&row.sort_at)) } }
                        td {
                            @for (j, url) in feeds_of(row).iter().enumerate() {
                                @if j > 0 { ", " }
                                bdi { (outlet(&names, url)) }
                            }
                            @if i == 0 { " " strong.badge { "first" } }
                        }
                        td { (row.lang.as_deref().unwrap_or("")) }
                        td dir="auto" lang=[lang_tag(row.lang.as_deref())] { a href={ "/items/" (row.id) } { (row.title) } }
                    }
                }
            }
        }
        p.export { "Export (JSON, the API): " a href={ "/api/items?story=" (story.id) "&limit=1000" } { "items" } "." }
    };
    Ok(page(&api, &format!("Story {}", story.id), Nav::Desk, body))
}

// ---------------------------------------------------------------------------
// Search

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct SearchQuery {
    q: Option<String>,
    lang: Option<String>,
    feed: Option<String>,
    since: Option<String>,
    until: Option<String>,
    after: Option<i64>,
}

/// A search's failure shown on its page: a message, and for a query that
/// does not parse, the column it points at.
struct SearchProblem {
    message: String,
    column: Option<usize>,
    status: StatusCode,
}

impl From<DeskError> for SearchProblem {
    fn from(error: DeskError) -> Self {
        SearchProblem {
            status: error.status(),
            message: error.to_string(),
            column: None,
        }
    }
}

impl From<archive::ArchiveError> for SearchProblem {
    fn from(error: archive::ArchiveError) -> Self {
        match error {
            archive::ArchiveError::Query(e) => SearchProblem {
                message: format!("The query does not parse: column {}: {}", e.column, e.message),
                column: Some(e.column),
                status: StatusCode::BAD_REQUEST,
            },
            other => DeskError::from(other).into(),
        }
    }
}

/// What a search found.
struct Found {
    rows: Vec<ItemRow>,
    highlighter: Highlighter,
    names: HashMap<String, String>,
    days: BTreeMap<String, u64>,
    counted: u64,
    complete: bool,
}

/// `/search?q=`: the topic query language over the archive, the same
/// results as `feedwatch search`, hits per day, filters; a query that does
/// not parse shows where.
pub(super) async fn search(State(api): State<Api>, uri: Uri) -> Result<Response, DeskError> {
    let q: SearchQuery = params(&uri)?;
    let query = q.q.clone().filter(|s| !s.trim().is_empty());
    let filtering =
        query.is_some() || q.lang.is_some() || q.feed.is_some() || q.since.is_some() || q.until.is_some();
    let result = if filtering {
        Some(run_search(&api, &q, query.clone()).await)
    } else {
        None
    };
    let status = match &result {
        Some(Err(problem)) => problem.status,
        _ => StatusCode::OK,
    };
    let text = |s: &Option<String>| s.clone().unwrap_or_default();
    let body = html! {
        h1 { "Search" }
        form.search role="search" action="/search" method="get" {
            p {
                label for="q" { "Query" }
                input id="q" type="search" name="q" dir="auto" value=(text(&q.q)) size="60"
                    aria-describedby="q-help";
                button type="submit" { "Search" }
            }
            p id="q-help" .help {
                "The topic query language: " code { "Kurdistan AND referend*" } ", " code { "\"Masoud Barzani\"" } ", "
                code { "Baqeri NEAR/10 Akar" } ", " code { "title:Kirkuk -Erbil" } ", " code { "lang:fa" } ", " code { "@set" } "."
            }
            fieldset.filters {
                legend { "Filters" }
                label for="lang" { "Language" } input id="lang" name="lang" value=(text(&q.lang)) size="6" placeholder="fa";
                label for="feed" { "Feed" } input id="feed" name="feed" dir="auto" value=(text(&q.feed)) size="20" placeholder="name or URL";
                label for="since" { "Since" } input id="since" name="since" value=(text(&q.since)) size="12" placeholder="7d or 2017-09-25";
                label for="until" { "Until" } input id="until" name="until" value=(text(&q.until)) size="12";
            }
        }
        @match &result {
            None => {}
            Some(Err(problem)) => {
                div.error role="alert" {
                    p { (problem.message) }
                    @if let (Some(column), Some(query)) = (problem.column, &query) {
                        // The query with a caret under the column (1-based, in characters).
                        pre.caret dir="ltr" { (query) "\n" (" ".repeat(column.saturating_sub(1))) "^" }
                    }
                }
            }
            Some(Ok(found)) => {
                @if let Some(query) = &query {
                    section aria-labelledby="per-day" {
                        h2 id="per-day" { "Hits per day" }
                        p {
                            @if found.complete {
                                (thousands(found.counted)) " hits for " code dir="auto" { (query) } "."
                            } @else {
                                "More than " (thousands(found.counted)) " hits for " code dir="auto" { (query) }
                                "; the days of the newest " (thousands(found.counted)) " are counted."
                            }
                        }
                        @if !found.days.is_empty() {
                            @let (labels, counts) = day_series(&found.days);
                            figure.chart { (PreEscaped(chart(&labels, &counts, "day", None))) }
                        }
                    }
                }
                section aria-labelledby="results" {
                    h2 id="results" { "Items, newest first" }
                    @if found.rows.is_empty() {
                        p { "No items match." }
                    } @else {
                        (item_list(&found.rows, &found.highlighter, &found.names, &|m: &MatchSpan| m.topic.is_none()))
                        @if found.rows.len() == ITEMS_PER_PAGE as usize {
                            @let last = found.rows.last().map_or(0, |r| r.id).to_string();
                            nav.pages aria-label="Result pages" {
                                a href={ "/search?" (query_string(&[
                                    ("q", &text(&q.q)), ("lang", &text(&q.lang)), ("feed", &text(&q.feed)),
                                    ("since", &text(&q.since)), ("until", &text(&q.until)), ("after", &last),
                                ])) } { "Older items →" }
                            }
                        }
                    }
                }
            }
        }
    };
    let title = match &query {
        Some(query) => format!("Search: {query}"),
        None => "Search".into(),
    };
    Ok(respond(status, layout(&title, Nav::Search, logout(&api), body)))
}

async fn run_search(api: &Api, q: &SearchQuery, query: Option<String>) -> Result<Found, SearchProblem> {
    let now = api.store.clock().now();
    let time = |s: &Option<String>, name: &str| {
        s.as_deref()
            .filter(|s| !s.trim().is_empty())
            .map(|s| parse_time(s, now).map_err(|e| DeskError::BadRequest(format!("{name}: {e}"))))
            .transpose()
    };
    let (since, until) = (time(&q.since, "since")?, time(&q.until, "until")?);
    check_range(since, until, ("since", "until")).map_err(|e| DeskError::BadRequest(e.to_string()))?;
    let nonempty = |s: &Option<String>| s.clone().filter(|s| !s.trim().is_empty());
    let search = Search {
        query,
        filter: SearchFilter {
            feed: nonempty(&q.feed),
            lang: nonempty(&q.lang),
            since,
            until,
            sort: SearchSort::Newest,
            ..SearchFilter::default()
        },
        after_id: q.after,
        limit: ITEMS_PER_PAGE,
    };
    let (_slot, store) = api.search_slot().await.map_err(DeskError::Unavailable)?;
    if let Some(feed) = &search.filter.feed {
        archive::check_feed(&store, &api.config, feed).await?;
    }
    let (rows, _) = archive::search(&store, &api.config, &search, false).await?;
    let highlighter = Highlighter::new(&api.config, &store, search.query.as_deref(), &rows).await?;
    let (days, counted, complete) = if search.query.is_some() {
        // The same days for a minute: paging through results (and coming
        // back) does not count them again.
        let key = format!("days:{:?}", (&search.query, &q.lang, &q.feed, &q.since, &q.until));
        let counted = api
            .desk
            .get_fresh(key, || async {
                archive::search_days(&store, &api.config, &search, DAY_COUNT_CAP)
                    .await
                    .map_err(SearchProblem::from)
            })
            .await;
        let counted: Arc<(BTreeMap<String, u64>, u64, bool)> = counted?;
        (*counted).clone()
    } else {
        (BTreeMap::new(), 0, true)
    };
    let names = outlet_names(&api.store, &rows).await?;
    Ok(Found {
        rows,
        highlighter,
        names,
        days,
        counted,
        complete,
    })
}

/// Every day from the first to the last of `days`, zero-filled.
fn day_series(days: &BTreeMap<String, u64>) -> (Vec<String>, Vec<i64>) {
    let parse = |d: &str| {
        chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d")
            .ok()
            .map(|d| d.and_time(chrono::NaiveTime::MIN).and_utc())
    };
    let (Some(first), Some(last)) = (
        days.keys().next().and_then(|d| parse(d)),
        days.keys().next_back().and_then(|d| parse(d)),
    ) else {
        return (Vec::new(), Vec::new());
    };
    let labels = bucket_labels(first, last + chrono::Duration::days(1), Bucket::Day).unwrap_or_default();
    let counts = labels
        .iter()
        .map(|l| days.get(l).copied().unwrap_or(0) as i64)
        .collect();
    (labels, counts)
}

// ---------------------------------------------------------------------------
// An item

/// `/items/ID`: one article: title, outlets, dates, language, story,
/// topics with what matched, its text with the matches marked, the link.
pub(super) async fn item(
    State(api): State<Api>,
    Path(id): Path<String>,
    uri: Uri,
) -> Result<Response, DeskError> {
    let _: NoQuery = params(&uri)?;
    let not_found = || DeskError::NotFound(format!("There is no item {id:?}."));
    let id: i64 = id.parse().map_err(|_| not_found())?;
    let store = &api.store;
    let Some(row) = store.item(id).await? else {
        return Err(not_found());
    };
    let highlighter = Highlighter::new(&api.config, store, None, std::slice::from_ref(&row)).await?;
    let story = match row.story_id {
        Some(id) => store.stories_by_id(&[id]).await?.pop(),
        None => None,
    };
    let names = outlet_names(store, std::slice::from_ref(&row)).await?;
    let matches = highlighter.matches(&row);
    let all = |_: &MatchSpan| true;
    let lang = lang_tag(row.lang.as_deref());
    let text_spans = spans_of(&matches, "text", &all);
    let body = html! {
        article {
            h1 dir="auto" lang=[lang] { (marked(&row.title, &spans_of(&matches, "title", &all))) }
            dl.facts {
                dt { "Outlets" }
                dd { @for (i, url) in feeds_of(&row).iter().enumerate() { @if i > 0 { ", " } bdi { (outlet(&names, url)) } } }
                dt { "Published" }
                dd { @match &row.published { Some(p) => time datetime=(p) { (short(p)) " UTC" }, None => "undated" } }
                dt { "First seen" } dd { time datetime=(row.fetched_at) { (short(&row.fetched_at)) " UTC" } }
                dt { "Language" } dd { (row.lang.as_deref().unwrap_or("unknown")) }
                @if let Some(author) = &row.author { dt { "Author" } dd dir="auto" { (author) } }
                @if let Some(story) = &story {
                    dt { "Story" }
                    dd {
                        a href={ "/stories/" (story.id) } { "story " (story.id) }
                        ": " (crate::count(story.item_count.max(0) as u64, "item", "items")) ", "
                        (crate::count(story.outlets.len() as u64, "outlet", "outlets"))
                    }
                }
                dt { "Topics" }
                dd {
                    @if row.topics.is_empty() { "none" }
                    @for (i, topic) in row.topics.iter().enumerate() {
                        @if i > 0 { "; " }
                        a href=(topic_href(topic)) { bdi { (topic) } }
                        @let why = matched_words(&row, &matches, topic);
                        @if !why.is_empty() {
                            " (" @for (j, w) in why.iter().enumerate() { @if j > 0 { ", " } bdi { (w) } } ")"
                        }
                    }
                }
                @if let Some(link) = row.url.as_deref().and_then(safe_link) {
                    dt { "Original" } dd { a href=(link) rel="noopener noreferrer nofollow" { (crate::redact::url(&link)) } }
                }
                @if row.text_source == "page" {
                    dt { "Text" } dd { "from the article's page (the feed gave a teaser)" }
                }
            }
            div.text dir="auto" lang=[lang] {
                @for paragraph in paragraphs(&row.text, &text_spans) {
                    p { (paragraph) }
                }
            }
        }
    };
    Ok(page(&api, &row.title, Nav::None, body))
}

/// What made `row` match `topic`: the matched stretches of its title and
/// text, once each, in order.
fn matched_words(row: &ItemRow, matches: &[MatchSpan], topic: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for m in matches.iter().filter(|m| m.topic.as_deref() == Some(topic)) {
        let source = if m.field == "title" { &row.title } else { &row.text };
        let words: String = source.chars().skip(m.start).take(m.end - m.start).collect();
        if !out.contains(&words) {
            out.push(words);
        }
    }
    out
}

/// The text's paragraphs (split at line breaks), each with its spans
/// marked.
fn paragraphs(text: &str, spans: &[(usize, usize)]) -> Vec<Markup> {
    let mut out = Vec::new();
    let mut offset = 0;
    for line in text.split('\n') {
        let len = line.chars().count();
        let inside: Vec<(usize, usize)> = spans
            .iter()
            .filter(|(s, e)| *s >= offset && *e <= offset + len)
            .map(|(s, e)| (s - offset, e - offset))
            .collect();
        if !line.trim().is_empty() {
            out.push(marked(line, &inside));
        }
        offset += len + 1;
    }
    out
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NoQuery {}

// ---------------------------------------------------------------------------
// Feeds

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FeedsQuery {
    page: Option<usize>,
}

/// `/feeds`: feed health, those needing attention first: state, last
/// error, interval, items per week, next check.
pub(super) async fn feeds(State(api): State<Api>, uri: Uri) -> Result<Response, DeskError> {
    let q: FeedsQuery = params(&uri)?;
    let view = feeds_view(&api).await?;
    let notices = &view.notices;
    let mut feeds: Vec<&crate::store::FeedRow> = view.feeds.iter().collect();
    let threshold = i64::from(api.config.poll.failure_threshold);
    let notice_of: HashMap<&str, HealthKind> =
        notices.iter().map(|n| (n.feed_url.as_str(), n.kind)).collect();
    // State, and its rank in the list (needing attention first).
    let state = |f: &crate::store::FeedRow| -> (&'static str, u8) {
        if !f.enabled {
            return ("disabled", 0);
        }
        match notice_of.get(crate::redact::url(&f.url).as_ref()) {
            Some(HealthKind::Failing) => return ("failing", 1),
            Some(HealthKind::Silent) => return ("silent", 3),
            _ => {}
        }
        if f.error_count >= threshold {
            ("unhealthy", 1)
        } else if f.error_count > 0 {
            ("erring", 2)
        } else if f.last_fetch_at.is_none() {
            ("not fetched yet", 4)
        } else {
            ("ok", 5)
        }
    };
    feeds.sort_by_cached_key(|f| (state(f).1, f.display_name().to_lowercase()));
    let attention = feeds.iter().filter(|f| state(f).1 <= 3).count();
    let pages = feeds.len().div_ceil(FEEDS_PER_PAGE).max(1);
    let page_no = q.page.unwrap_or(1).clamp(1, pages);
    let shown = feeds
        .iter()
        .skip((page_no - 1) * FEEDS_PER_PAGE)
        .take(FEEDS_PER_PAGE);
    let body = html! {
        h1 { "Feeds" }
        p {
            (crate::count(feeds.len() as u64, "feed", "feeds")) "; "
            (crate::count(attention as u64, "needs", "need")) " attention (disabled, failing, erring or silent), listed first."
        }
        table.feeds {
            caption { "Feed health: failing " (threshold) " times in a row makes a feed unhealthy." }
            thead { tr {
                th scope="col" { "Feed" } th scope="col" { "State" } th scope="col" { "Last error" }
                th.n scope="col" { "Interval" } th.n scope="col" { "Items/week" } th scope="col" { "Next check" } th.n scope="col" { "Items" }
            } }
            tbody {
                @for f in shown {
                    @let (label, rank) = state(f);
                    tr {
                        td { bdi { (f.display_name()) } br; small.url { (crate::redact::url(&f.url)) } }
                        td { span class={ "state s" (rank) } { (label) } }
                        td dir="auto" {
                            @if let Some(reason) = f.disabled_reason.as_deref().filter(|_| !f.enabled) { (one_sentence(reason)) }
                            @else if let Some(error) = &f.last_error { (one_sentence(error)) }
                        }
                        td.n { (f.check_interval.map(interval).unwrap_or_default()) }
                        td.n { (f.items_per_week.map(|n| format!("{n:.1}")).unwrap_or_default()) }
                        td { (f.next_check_at.as_deref().map(short).unwrap_or_default()) }
                        td.n { (thousands(f.item_count.max(0) as u64)) }
                    }
                }
            }
        }
        @if pages > 1 {
            nav.pages aria-label="Feed pages" {
                "Page " (page_no) " of " (pages) ": "
                @if page_no > 1 { a href={ "/feeds?page=" (page_no - 1) } { "previous" } " " }
                @if page_no < pages { a href={ "/feeds?page=" (page_no + 1) } { "next" } }
            }
        }
    };
    Ok(page(&api, "Feeds", Nav::Feeds, body))
}

/// An error's first sentence or line, at most 200 characters.
fn one_sentence(s: &str) -> String {
    let line = s.lines().next().unwrap_or_default();
    let end = line.find(". ").map_or(line.len(), |i| i + 1);
    let mut out: String = line[..end].chars().take(200).collect();
    if out.len() < line[..end].len() {
        out.push('…');
    }
    out
}

/// Seconds as `15 min`, `2 h`, `1.5 d`.
fn interval(seconds: i64) -> String {
    match seconds {
        s if s < 120 => format!("{s} s"),
        s if s < 7200 => format!("{} min", s / 60),
        s if s < 172_800 => format!("{:.0} h", s as f64 / 3600.0),
        s => format!("{:.1} d", s as f64 / 86400.0),
    }
}

// ---------------------------------------------------------------------------
// Digests

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct DigestsQuery {
    #[serde(default)]
    failed: bool,
}

/// `/digests`: the outbox, newest first. Read-only: a failed digest is
/// retried with `feedwatch digests retry ID`.
pub(super) async fn digests(State(api): State<Api>, uri: Uri) -> Result<Response, DeskError> {
    let q: DigestsQuery = params(&uri)?;
    let digests = api.store.list_digests(q.failed, 200).await?;
    let body = html! {
        h1 { "Digests" }
        p {
            "The outbox, newest first (200 at most). "
            @if q.failed { a href="/digests" { "All digests" } } @else { a href="/digests?failed=true" { "Failed only" } }
            ". The desk is read-only: retry a failed digest with " code { "feedwatch digests retry ID" } "."
        }
        @if digests.is_empty() {
            p { "No digests." }
        } @else {
            table.digests {
                caption { "Digests and their delivery" }
                thead { tr {
                    th scope="col" { "Created" } th scope="col" { "Alert" } th scope="col" { "Channel" } th scope="col" { "Status" }
                    th.n scope="col" { "Items" } th.n scope="col" { "Attempts" } th scope="col" { "Next attempt / delivered" } th scope="col" { "Last error" }
                } }
                tbody {
                    @for d in &digests {
                        tr {
                            td { (short(&d.created_at)) }
                            td { bdi { (d.alert) } }
                            td { bdi { (d.channel) } }
                            td { span class={ "status " (d.status) } { (d.status) } }
                            td.n { (d.item_count) }
                            td.n { (d.attempts) }
                            td { @match &d.delivered_at { Some(at) => (short(at)), None => (short(&d.next_attempt_at)) } }
                            td dir="auto" { (d.last_error.as_deref().map(one_sentence).unwrap_or_default()) }
                        }
                    }
                }
            }
        }
    };
    Ok(page(&api, "Digests", Nav::Digests, body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_merge_and_stay_inside_the_text() {
        let html = |text: &str, spans: &[(usize, usize)]| marked(text, spans).into_string();
        assert_eq!(html("a <b> c", &[(2, 5)]), "a <mark>&lt;b&gt;</mark> c");
        assert_eq!(html("abcdef", &[(3, 5), (1, 2), (2, 4)]), "a<mark>bcde</mark>f");
        assert_eq!(html("کردستان و عراق", &[(0, 7)]), "<mark>کردستان</mark> و عراق");
        assert_eq!(html("ab", &[(1, 9)]), "a<mark>b</mark>");
    }

    #[test]
    fn snippets_centre_on_the_first_match() {
        let text = format!("{}Kirkuk{}", "x".repeat(200), "y".repeat(200));
        let html = kwic(&text, &[(200, 206)]).into_string();
        assert!(html.starts_with("… "), "{html}");
        assert!(html.ends_with(" …"), "{html}");
        assert!(html.contains("<mark>Kirkuk</mark>"), "{html}");
        assert_eq!(kwic("short", &[]).into_string(), "short");
    }

    #[test]
    fn paths_languages_and_errors_are_safe() {
        assert_eq!(segment("iran/turkey ok"), "iran%2Fturkey%20ok");
        assert_eq!(segment("کرد"), "%DA%A9%D8%B1%D8%AF");
        assert_eq!(lang_tag(Some("fa-IR")), Some("fa-IR"));
        assert_eq!(lang_tag(Some("x\" onload=\"")), None);
        assert_eq!(one_sentence("HTTP 503. Retry later.\nmore"), "HTTP 503.");
        assert_eq!(interval(900), "15 min");
        assert_eq!(interval(86_400), "24 h");
    }

    #[test]
    fn paragraphs_keep_their_marks() {
        let html: Vec<String> = paragraphs("one Erbil\n\ntwo Erbil", &[(4, 9), (15, 20)])
            .into_iter()
            .map(Markup::into_string)
            .collect();
        assert_eq!(html, ["one <mark>Erbil</mark>", "two <mark>Erbil</mark>"]);
    }

    #[test]
    fn search_days_fill_the_gaps() {
        let days: BTreeMap<String, u64> =
            [("2017-09-23".to_string(), 2), ("2017-09-25".to_string(), 1)].into();
        assert_eq!(
            day_series(&days),
            (
                vec!["2017-09-23".into(), "2017-09-24".into(), "2017-09-25".into()],
                vec![2, 0, 1]
            )
        );
    }
}
