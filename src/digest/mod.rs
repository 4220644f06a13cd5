//! Building and rendering alert digests. Pure: the store hands over the
//! pending matches, this module turns them into a [`Digest`] and renders it
//! as text, HTML, JSON or a Slack message.
//!
//! Feed text is untrusted. Digests carry plain text only (the parse stage
//! already removed markup); renderers escape it for their format, and links
//! are kept only if they are `http(s)` URLs.

pub mod health;
pub mod render;
pub mod schedule;

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use crate::store::PendingMatch;
use crate::text;
use crate::topics::highlight::{self, MatchSpan};
use crate::topics::{Field, Meta, TopicSet};

/// One digest for one channel. Serialised as the webhook `json` format and
/// the `file` channel's JSON Lines (see docs/digests.md).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Digest {
    /// Idempotency key: the same on every delivery attempt.
    pub id: String,
    pub alert: String,
    pub channel: String,
    /// The period covered (when the matches were made), RFC 3339 in the
    /// alert's time zone.
    pub period_start: String,
    pub period_end: String,
    pub timezone: String,
    /// Publication times of the articles listed, oldest and newest (RFC
    /// 3339 in the alert's zone); null when none is dated.
    #[serde(default)]
    pub published_from: Option<String>,
    #[serde(default)]
    pub published_to: Option<String>,
    pub counts: Counts,
    pub topics: Vec<TopicSection>,
    /// Feed-health notices, for alerts subscribed to `feed-health`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub health: Vec<health::HealthNotice>,
    /// Volume spikes (`trigger = "spike"` alerts), each episode once.
    #[serde(default)]
    pub spikes: Vec<SpikeNotice>,
    /// Breaking stories (`trigger = "story"` alerts), each story once.
    #[serde(default)]
    pub breaking: Vec<BreakingNotice>,
}

/// A topic's volume far above its baseline (see [`crate::triggers`]):
/// what the analyst needs to judge it without opening anything else.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpikeNotice {
    pub topic: String,
    /// The window counted (RFC 3339 in the alert's zone): items published
    /// after `window_start`, up to `window_end`.
    pub window_start: String,
    pub window_end: String,
    /// Items of the topic in the window, and the stories they belong to.
    pub count: u64,
    pub stories: u64,
    /// Items per window over the baseline.
    pub baseline_mean: f64,
    pub baseline_stdev: f64,
    /// `count / baseline_mean`; null when the baseline had no items.
    pub ratio: Option<f64>,
    pub top_outlets: Vec<Counted>,
    pub top_stories: Vec<StoryCount>,
    /// The count at or above which the window is a spike.
    #[serde(default)]
    pub threshold: f64,
    /// The window's and the baseline's lengths, in seconds.
    #[serde(default)]
    pub window_seconds: u64,
    #[serde(default)]
    pub baseline_seconds: u64,
    /// The baseline windows' counts, oldest first (the sparkline's data).
    #[serde(default)]
    pub baseline_counts: Vec<u64>,
    /// Primary language subtags of the window's items, most items first.
    #[serde(default)]
    pub languages: Vec<Counted>,
}

/// A name (outlet, language) and its items.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counted {
    pub name: String,
    pub items: u64,
}

/// A story and its items in a spike's window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoryCount {
    pub story_id: i64,
    pub headline: String,
    pub items: u64,
}

/// A story carried by `outlet_count` outlets within `within_seconds` of
/// its first copy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BreakingNotice {
    pub story_id: i64,
    pub headline: String,
    /// In the order they carried it: the first outlet first.
    pub outlets: Vec<String>,
    /// The first copy (RFC 3339 in the alert's zone).
    pub first_seen: String,
    pub outlet_count: usize,
    /// From the first copy to the last outlet counted.
    pub within_seconds: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    pub articles: usize,
    pub stories: usize,
    pub outlets: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TopicSection {
    pub topic: String,
    pub entries: Vec<Entry>,
    /// Stories of this section left out by the alert's `max_per_topic`.
    #[serde(default)]
    pub more: usize,
}

/// One story in a topic section: its newest article, and every outlet that
/// carried it in the digest's period.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    /// The article shown (the story's newest in this digest).
    pub item_id: i64,
    /// The story, when the article has one.
    #[serde(default)]
    pub story_id: Option<i64>,
    /// Articles of the story in this digest (1 for a lone article).
    #[serde(default = "one")]
    pub items: usize,
    pub title: String,
    /// An `http(s)` link, or none.
    pub url: Option<String>,
    pub outlets: Vec<String>,
    /// The article's primary language subtag (`en` for `en-US`), if known.
    pub lang: Option<String>,
    /// Publication time, RFC 3339 in the alert's time zone.
    pub published: Option<String>,
    /// Other topics of this alert the story matched (it is listed once,
    /// under the first of its topics in the alert's order).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub also_topics: Vec<String>,
    /// Text around the match; `highlight` marks matched words.
    pub snippet: Vec<Segment>,
    /// Why the shown article matched: its spans for each of the entry's
    /// topics, as in `search --format jsonl` (offsets in characters of its
    /// title and stored text).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub matches: Vec<MatchSpan>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Segment {
    pub text: String,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub highlight: bool,
}

fn one() -> usize {
    1
}

/// Words of context before and after the first matched word in a snippet.
const SNIPPET_BEFORE: usize = 12;
const SNIPPET_AFTER: usize = 24;

/// A digest id, unique per (alert, channel, period end, creation time).
pub fn digest_id(alert: &str, channel: &str, period_end: DateTime<Utc>, created: DateTime<Utc>) -> String {
    let mut hash = Sha256::new();
    for part in [alert, channel, &period_end.to_rfc3339(), &created.to_rfc3339()] {
        hash.update((part.len() as u64).to_le_bytes());
        hash.update(part.as_bytes());
    }
    let hex: String = hash.finalize()[..12].iter().map(|b| format!("{b:02x}")).collect();
    format!("fw-{hex}")
}

/// What [`build`] needs besides the matches.
pub struct BuildContext<'a> {
    pub id: String,
    pub alert: &'a str,
    pub channel: &'a str,
    pub period_start: DateTime<Utc>,
    pub period_end: DateTime<Utc>,
    pub tz: Tz,
    /// For highlighting: the compiled topics, looked up by name.
    pub topics: &'a TopicSet,
    /// The alert's topics, in its order: the order of the sections.
    pub topic_order: &'a [String],
    /// Most entries per section (0: no limit).
    pub max_per_topic: usize,
}

/// The matches of one story (or of a lone article) in a digest.
struct Group<'m> {
    /// Its topics, in the order first met.
    topics: Vec<&'m str>,
    items: HashSet<i64>,
    outlets: Vec<&'m str>,
    /// The newest article: the entry shown.
    shown: &'m PendingMatch,
}

/// When an article counts as published for ordering: its publication time,
/// else when it was matched.
fn when(m: &PendingMatch) -> DateTime<Utc> {
    m.published.unwrap_or(m.matched_at)
}

/// Groups pending matches by story: each story (or article without one) is
/// one entry, listed once, under the first of its topics in the alert's
/// order and naming the others; its newest article is shown, with every
/// outlet that carried the story. Sections follow the alert's topic order;
/// entries are newest first by publication time, at most
/// `max_per_topic` of them.
pub fn build(ctx: &BuildContext, matches: &[PendingMatch]) -> Digest {
    let local = |t: DateTime<Utc>| t.with_timezone(&ctx.tz).to_rfc3339();
    let mut groups: Vec<Group> = Vec::new();
    let mut by_story: HashMap<(bool, i64), usize> = HashMap::new();
    let mut outlets = HashSet::new();
    let mut published: Vec<DateTime<Utc>> = Vec::new();
    let mut articles = HashSet::new();
    for m in matches {
        outlets.insert(m.outlet.as_str());
        if articles.insert(m.item_id) {
            published.extend(m.published);
        }
        // An item without a story stands for itself.
        let key = m.story_id.map_or((false, m.item_id), |s| (true, s));
        let index = *by_story.entry(key).or_insert_with(|| {
            groups.push(Group {
                topics: Vec::new(),
                items: HashSet::new(),
                outlets: Vec::new(),
                shown: m,
            });
            groups.len() - 1
        });
        let group = &mut groups[index];
        if !group.topics.contains(&m.topic.as_str()) {
            group.topics.push(&m.topic);
        }
        group.items.insert(m.item_id);
        if !group.outlets.contains(&m.outlet.as_str()) {
            group.outlets.push(&m.outlet);
        }
        if (when(m), m.item_id) > (when(group.shown), group.shown.item_id) {
            group.shown = m;
        }
    }
    // Topics in the alert's order; any other (a topic the alert no longer
    // lists) after them, by name.
    let rank = |topic: &str| {
        ctx.topic_order
            .iter()
            .position(|t| t == topic)
            .map_or((1, topic.to_string()), |i| (0, format!("{i:08}")))
    };
    let mut sections: BTreeMap<(u8, String), (String, Vec<&Group>)> = BTreeMap::new();
    for group in &groups {
        let first = group
            .topics
            .iter()
            .min_by_key(|t| rank(t))
            .expect("a group has a topic");
        sections
            .entry(rank(first))
            .or_insert_with(|| (first.to_string(), Vec::new()))
            .1
            .push(group);
    }
    let topics = sections
        .into_values()
        .map(|(topic, mut groups)| {
            groups.sort_by_key(|g| std::cmp::Reverse((when(g.shown), g.shown.item_id)));
            let cap = if ctx.max_per_topic == 0 {
                usize::MAX
            } else {
                ctx.max_per_topic
            };
            let more = groups.len().saturating_sub(cap);
            let entries = groups
                .into_iter()
                .take(cap)
                .map(|g| entry(ctx, g, &topic, &local))
                .collect();
            TopicSection { topic, entries, more }
        })
        .collect();
    Digest {
        id: ctx.id.clone(),
        alert: ctx.alert.to_string(),
        channel: ctx.channel.to_string(),
        period_start: local(ctx.period_start),
        period_end: local(ctx.period_end),
        timezone: ctx.tz.to_string(),
        published_from: published.iter().min().copied().map(local),
        published_to: published.iter().max().copied().map(local),
        counts: Counts {
            articles: articles.len(),
            stories: groups.len(),
            outlets: outlets.len(),
        },
        topics,
        health: Vec::new(),
        spikes: Vec::new(),
        breaking: Vec::new(),
    }
}

fn entry(
    ctx: &BuildContext,
    group: &Group,
    section: &str,
    local: &impl Fn(DateTime<Utc>) -> String,
) -> Entry {
    let m = group.shown;
    let text = strip_boilerplate(&m.text);
    let meta = Meta {
        lang: m.lang.as_deref(),
        feed_name: Some(m.outlet.as_str()),
        feed_tags: &[],
    };
    let mut matches = Vec::new();
    let mut marked: Vec<std::ops::Range<usize>> = Vec::new();
    for name in &group.topics {
        let Some(topic) = ctx.topics.topics().iter().find(|t| t.name == *name) else {
            continue;
        };
        for span in highlight::spans(&topic.expr, &m.title, text, meta).unwrap_or_default() {
            if span.field == Field::Text {
                marked.push(span.range.clone());
            }
            matches.push(MatchSpan::new(Some(name.to_string()), &span, &m.title, text));
        }
    }
    marked.sort_by_key(|r| (r.start, r.end));
    Entry {
        item_id: m.item_id,
        story_id: m.story_id,
        items: group.items.len(),
        title: m.title.clone(),
        url: m.url.as_deref().and_then(safe_link),
        outlets: group.outlets.iter().map(|o| o.to_string()).collect(),
        lang: m
            .lang
            .as_deref()
            .map(crate::model::primary_language)
            .filter(|l| !l.is_empty()),
        published: m.published.map(local),
        also_topics: group
            .topics
            .iter()
            .filter(|t| **t != section)
            .map(|t| t.to_string())
            .collect(),
        snippet: snippet(text, &marked),
        matches,
    }
}

/// The link if it is an absolute `http(s)` URL, normalised; anything else
/// (`javascript:`, `data:`, relative, malformed) is dropped.
pub fn safe_link(raw: &str) -> Option<String> {
    let url = url::Url::parse(raw.trim()).ok()?;
    matches!(url.scheme(), "http" | "https").then(|| url.to_string())
}

/// Link and sharing boilerplate that feeds append to their text ("Read
/// more | Share"), compared in lower case at the end of the text.
const BOILERPLATE: &[&str] = &[
    "read more",
    "read more here",
    "read the full story",
    "read the full article",
    "read full article",
    "read full story",
    "continue reading",
    "full story",
    "click here to read more",
    "click here",
    "share",
    "share this",
    "share this article",
    "share on facebook",
    "share on twitter",
    "tweet",
    "email",
    "print",
    "comments",
    "view comments",
    "ادامه مطلب",
    "اقرأ المزيد",
    "devamını oku",
    "haberin devamı",
];

/// Characters that join boilerplate pieces (`Read more | Share »`).
fn is_joiner(c: char) -> bool {
    is_separator(c) || "()[]/".contains(c)
}

/// Joiners left out of a snippet's end (brackets stay: "(AFP)").
fn is_separator(c: char) -> bool {
    c.is_whitespace() || "|•·»›→←«‹-–—:".contains(c)
}

/// `text` without the link and sharing boilerplate at its end ("Read more |
/// Share", "Continue reading →", WordPress's "The post … appeared first on
/// …"). A phrase counts only where it stands apart: after the end of a
/// sentence, a separator (`|`, `•`), a line break or other boilerplate, so
/// "They will share" keeps its verb. The stored text keeps all of it; this
/// is for snippets.
pub fn strip_boilerplate(text: &str) -> &str {
    // Walk back over a run of boilerplate, then keep the longest stretch of
    // it that stands apart from the text before it.
    let mut rest = text;
    let mut kept = text;
    loop {
        let trimmed = rest.trim_end_matches(is_joiner);
        if let Some(at) = trimmed.rfind("The post ") {
            if at > 0 && trimmed[at..].contains(" appeared first on ") {
                rest = &trimmed[..at];
                kept = rest.trim_end_matches(is_separator);
                continue;
            }
        }
        let lower = trimmed.to_lowercase();
        // `to_lowercase` keeps these phrases' byte lengths; elsewhere it
        // may not, and then nothing is cut.
        let same = lower.len() == trimmed.len();
        let cut = BOILERPLATE.iter().find_map(|phrase| {
            let at = lower.strip_suffix(phrase).map(str::len)?;
            let word_start = trimmed[..at].chars().next_back().is_some_and(is_joiner);
            (same && at > 0 && word_start).then_some(at)
        });
        let Some(at) = cut else { return kept };
        rest = &trimmed[..at];
        if stands_apart(rest) {
            kept = rest.trim_end_matches(is_separator);
        }
    }
}

/// Whether what precedes a boilerplate phrase ends a sentence or a piece:
/// sentence punctuation, a separator or a line break before it.
fn stands_apart(before: &str) -> bool {
    let gap = &before[before.trim_end().len()..];
    gap.contains('\n')
        || before
            .trim_end()
            .chars()
            .next_back()
            .is_some_and(|c| ".!?…\"'”»|•·)]".contains(c))
}

/// A window of `text` around its first matched span, split into plain and
/// highlighted segments of the original text. `marked` are byte ranges of
/// `text`, sorted.
fn snippet(text: &str, marked: &[std::ops::Range<usize>]) -> Vec<Segment> {
    let spans = text::word_spans(text);
    if spans.is_empty() {
        return Vec::new();
    }
    let first = marked
        .first()
        .and_then(|m| spans.iter().position(|(r, _)| r.end > m.start))
        .unwrap_or(0);
    let from = first.saturating_sub(SNIPPET_BEFORE);
    let to = (first + SNIPPET_AFTER).min(spans.len() - 1);
    // To the end of the text (its final punctuation) when the window
    // reaches the last word.
    let end = if to + 1 == spans.len() {
        text.len()
    } else {
        spans[to].0.end
    };
    let start = spans[from].0.start;
    let mut segments = Vec::new();
    let mut push = |text: &str, highlight: bool| {
        if !text.is_empty() {
            segments.push(Segment {
                text: text.to_string(),
                highlight,
            });
        }
    };
    if from > 0 {
        push("… ", false);
    }
    let mut cursor = start;
    for range in marked {
        let (a, b) = (range.start.max(cursor), range.end.min(end));
        if a >= b {
            continue;
        }
        push(&text[cursor..a], false);
        push(&text[a..b], true);
        cursor = b;
    }
    push(&text[cursor..end], false);
    if to + 1 < spans.len() {
        push(" …", false);
    }
    segments
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::topics::TermSets;

    fn pending(item_id: i64, topic: &str, title: &str, text: &str, url: &str, outlet: &str) -> PendingMatch {
        PendingMatch {
            item_id,
            topic_id: 1,
            topic: topic.into(),
            matched_at: "2017-09-23T10:00:00Z".parse().unwrap(),
            title: title.into(),
            text: text.into(),
            url: Some(url.into()),
            lang: Some("en".into()),
            published: Some("2017-09-23T09:00:00Z".parse().unwrap()),
            outlet: outlet.into(),
            feed_url: "https://x.example/rss".into(),
            story_id: Some(item_id),
        }
    }

    #[test]
    fn builds_sections_counts_and_highlights() {
        let topics = TopicSet::compile(
            [("generals", "(Baqeri OR Bagheri) NEAR/20 Akar NOT football")],
            &TermSets::new(),
        )
        .unwrap();
        let ctx = BuildContext {
            id: "fw-1".into(),
            alert: "daily",
            channel: "desk",
            period_start: "2017-09-22T05:00:00Z".parse().unwrap(),
            period_end: "2017-09-23T05:00:00Z".parse().unwrap(),
            tz: "Asia/Baghdad".parse().unwrap(),
            topics: &topics,
            topic_order: &[],
            max_per_topic: 20,
        };
        let text = "TEHRAN – The top military commanders met. Chief of Staff Mohammad Baqeri and his Turkish counterpart \
                    General Hulusi Akar spoke at a joint press conference about border security and the Kurdistan referendum \
                    and many other things that go on and on for a while longer.";
        let digest = build(
            &ctx,
            &[
                pending(
                    1,
                    "generals",
                    "Iran, Turkey chiefs meet",
                    text,
                    "https://en.mehrnews.com/x",
                    "Mehr",
                ),
                pending(
                    2,
                    "generals",
                    "Second",
                    "Bagheri met Akar.",
                    "javascript:alert(1)",
                    "Wire",
                ),
            ],
        );
        assert_eq!(
            digest.counts,
            Counts {
                articles: 2,
                stories: 2,
                outlets: 2
            }
        );
        assert_eq!(digest.period_end, "2017-09-23T08:00:00+03:00");
        let mut entries = digest.topics[0].entries.clone();
        entries.sort_by_key(|e| e.item_id);
        assert_eq!(entries[0].published.as_deref(), Some("2017-09-23T12:00:00+03:00"));
        assert_eq!(entries[1].url, None, "javascript: links are dropped");
        let highlighted: Vec<&str> = entries[0]
            .snippet
            .iter()
            .filter(|s| s.highlight)
            .map(|s| s.text.as_str())
            .collect();
        assert_eq!(highlighted, ["Baqeri", "Akar"]);
        let joined: String = entries[0].snippet.iter().map(|s| s.text.as_str()).collect();
        assert!(joined.starts_with("TEHRAN"), "{joined}");
        assert!(joined.ends_with(" …"), "long text is cut: {joined}");
        assert!(!joined.contains("football"));
    }

    #[test]
    fn one_entry_per_story_listing_every_outlet() {
        let topics = TopicSet::compile([("k", "referendum")], &TermSets::new()).unwrap();
        let ctx = BuildContext {
            id: "fw-2".into(),
            alert: "a",
            channel: "c",
            period_start: "2017-09-22T00:00:00Z".parse().unwrap(),
            period_end: "2017-09-23T00:00:00Z".parse().unwrap(),
            tz: chrono_tz::Tz::UTC,
            topics: &topics,
            topic_order: &[],
            max_per_topic: 20,
        };
        let wire = |id, outlet: &str| PendingMatch {
            story_id: Some(100),
            ..pending(
                id,
                "k",
                "Wire: referendum",
                "The referendum text.",
                "https://w.example/1",
                outlet,
            )
        };
        let digest = build(
            &ctx,
            &[
                wire(1, "Reuters"),
                wire(2, "Mehr"),
                wire(3, "Reuters"),
                pending(
                    4,
                    "k",
                    "Own story",
                    "A referendum analysis.",
                    "https://o.example/4",
                    "Mehr",
                ),
            ],
        );
        let entries = &digest.topics[0].entries;
        assert_eq!(entries.len(), 2);
        // Equal publication times: the higher id is the newer article.
        assert_eq!((entries[0].item_id, entries[0].items), (4, 1));
        assert_eq!((entries[1].item_id, entries[1].items), (3, 3));
        assert_eq!(entries[1].outlets, ["Reuters", "Mehr"]);
        assert_eq!(
            digest.counts,
            Counts {
                articles: 4,
                stories: 2,
                outlets: 2
            }
        );
    }

    fn ctx<'a>(topics: &'a TopicSet, order: &'a [String], cap: usize) -> BuildContext<'a> {
        BuildContext {
            id: "fw-3".into(),
            alert: "a",
            channel: "c",
            period_start: "2017-09-22T00:00:00Z".parse().unwrap(),
            period_end: "2017-09-26T00:00:00Z".parse().unwrap(),
            tz: chrono_tz::Tz::UTC,
            topics,
            topic_order: order,
            max_per_topic: cap,
        }
    }

    /// Issue 21, first digest: each story once (under its first topic in
    /// the alert's order, naming the others), newest publication first,
    /// undated last, capped per topic with the rest counted, and the
    /// publication range stated.
    #[test]
    fn each_story_once_in_alert_order_newest_first_capped() {
        let topics = TopicSet::compile(
            [("zeta", "referendum"), ("alpha", "Kirkuk"), ("beta", "Erbil")],
            &TermSets::new(),
        )
        .unwrap();
        let order = ["zeta".to_string(), "alpha".to_string(), "beta".to_string()];
        let at = |id, topic: &str, published: Option<&str>, story: i64| PendingMatch {
            published: published.map(|p| p.parse().unwrap()),
            story_id: Some(story),
            ..pending(
                id,
                topic,
                &format!("Story {story}"),
                "Kirkuk and Erbil: the referendum.",
                "https://x.example/",
                "Out",
            )
        };
        let matches = [
            // Story 10 matched all three topics.
            at(1, "alpha", Some("2017-09-24T10:00:00Z"), 10),
            at(1, "beta", Some("2017-09-24T10:00:00Z"), 10),
            at(1, "zeta", Some("2017-09-24T10:00:00Z"), 10),
            at(2, "alpha", None, 20),
            at(3, "alpha", Some("2017-09-22T10:00:00Z"), 30),
            at(4, "alpha", Some("2017-09-25T10:00:00Z"), 40),
            at(5, "alpha", Some("2017-09-23T10:00:00Z"), 50),
        ];
        let digest = build(&ctx(&topics, &order, 2), &matches);
        let names: Vec<&str> = digest.topics.iter().map(|s| s.topic.as_str()).collect();
        assert_eq!(
            names,
            ["zeta", "alpha"],
            "alert order; beta's only story is under zeta"
        );
        assert_eq!(digest.topics[0].entries[0].also_topics, ["alpha", "beta"]);
        let alpha = &digest.topics[1];
        let shown: Vec<i64> = alpha.entries.iter().map(|e| e.item_id).collect();
        assert_eq!(shown, [4, 5], "newest publication first, capped at 2");
        assert_eq!(alpha.more, 2);
        assert_eq!(digest.counts.stories, 5);
        assert_eq!(
            digest.published_from.as_deref(),
            Some("2017-09-22T10:00:00+00:00")
        );
        assert_eq!(digest.published_to.as_deref(), Some("2017-09-25T10:00:00+00:00"));
        let all = build(&ctx(&topics, &order, 0), &matches);
        let shown: Vec<i64> = all.topics[1].entries.iter().map(|e| e.item_id).collect();
        // Item 2 is undated: placed by when it was matched (2017-09-23T10:00,
        // as item 5 was published; the higher id first).
        assert_eq!(shown, [4, 5, 2, 3]);
    }

    /// Issue 21 (4): a digest highlights the phrase, not its words alone,
    /// and says which spans matched.
    #[test]
    fn highlights_only_what_matched() {
        let topics = TopicSet::compile([("vote", "\"independence vote\"")], &TermSets::new()).unwrap();
        let text = "Independence was on every lip before the independence vote. Read more | Share";
        let digest = build(
            &ctx(&topics, &[], 20),
            &[pending(
                1,
                "vote",
                "Independence vote",
                text,
                "https://x.example/",
                "Out",
            )],
        );
        let entry = &digest.topics[0].entries[0];
        let marked: Vec<&str> = entry
            .snippet
            .iter()
            .filter(|s| s.highlight)
            .map(|s| s.text.as_str())
            .collect();
        assert_eq!(marked, ["independence vote"]);
        let joined: String = entry.snippet.iter().map(|s| s.text.as_str()).collect();
        assert_eq!(
            joined,
            "Independence was on every lip before the independence vote."
        );
        let spans: Vec<(&str, usize, usize)> = entry
            .matches
            .iter()
            .map(|m| (m.field.as_str(), m.start, m.end))
            .collect();
        assert_eq!(spans, [("title", 0, 17), ("text", 41, 58)]);
    }

    #[test]
    fn boilerplate_is_stripped_from_the_end_only() {
        for (text, want) in [
            ("The vote was held. Read more | Share", "The vote was held."),
            ("The vote was held. Continue reading →", "The vote was held."),
            (
                "The vote. The post Kurds vote appeared first on Rudaw.",
                "The vote.",
            ),
            ("The vote. ادامه مطلب", "The vote."),
            ("The vote was held\nShare  Tweet  Email", "The vote was held"),
            ("He urged people to read more", "He urged people to read more"),
            ("Erbil voted (AFP) Read more", "Erbil voted (AFP)"),
            ("Share prices fell.", "Share prices fell."),
            ("They will share", "They will share"),
            ("Read more", "Read more"),
            (
                "Analysts said to read more into it",
                "Analysts said to read more into it",
            ),
        ] {
            assert_eq!(strip_boilerplate(text), want, "{text}");
        }
    }

    #[test]
    fn safe_links_only() {
        assert_eq!(
            safe_link(" https://x.example/a?b=1 ").as_deref(),
            Some("https://x.example/a?b=1")
        );
        for bad in [
            "javascript:alert(1)",
            "JaVaScRiPt:alert(1)",
            "data:text/html,<script>",
            "/relative",
            "vbscript:x",
            "",
        ] {
            assert_eq!(safe_link(bad), None, "{bad}");
        }
    }
}
