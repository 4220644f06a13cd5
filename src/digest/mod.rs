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

use std::collections::{BTreeMap, HashSet};

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use crate::store::PendingMatch;
use crate::text;
use crate::topics::{Expr, Pattern, TopicSet};

/// One digest for one channel. Serialised as the webhook `json` format and
/// the `file` channel's JSON Lines (see docs/digests.md).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Digest {
    /// Idempotency key: the same on every delivery attempt.
    pub id: String,
    pub alert: String,
    pub channel: String,
    /// The period covered, RFC 3339 in the alert's time zone.
    pub period_start: String,
    pub period_end: String,
    pub timezone: String,
    pub counts: Counts,
    pub topics: Vec<TopicSection>,
    /// Feed-health notices, for alerts subscribed to `feed-health`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub health: Vec<health::HealthNotice>,
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
    /// Text around the match; `highlight` marks matched words.
    pub snippet: Vec<Segment>,
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
}

/// Groups pending matches by topic (in the order given), then by story:
/// the newest article of a story (the store sorts newest first) is its
/// entry, listing every outlet that carried the story in this digest.
pub fn build(ctx: &BuildContext, matches: &[PendingMatch]) -> Digest {
    let local = |t: DateTime<Utc>| t.with_timezone(&ctx.tz).to_rfc3339();
    let mut sections: BTreeMap<&str, Vec<Entry>> = BTreeMap::new();
    let mut articles = HashSet::new();
    let mut stories = HashSet::new();
    let mut outlets = HashSet::new();
    for m in matches {
        articles.insert(m.item_id);
        // An item without a story stands for itself.
        stories.insert(m.story_id.map_or((false, m.item_id), |s| (true, s)));
        outlets.insert(m.outlet.as_str());
        let entries = sections.entry(m.topic.as_str()).or_default();
        if let Some(entry) = entries
            .iter_mut()
            .find(|e| e.story_id.is_some() && e.story_id == m.story_id)
        {
            if !entry.outlets.contains(&m.outlet) {
                entry.outlets.push(m.outlet.clone());
            }
            entry.items += 1;
            continue;
        }
        let expr = ctx
            .topics
            .topics()
            .iter()
            .find(|t| t.name == m.topic)
            .map(|t| &t.expr);
        let patterns = expr.map(positive_patterns).unwrap_or_default();
        entries.push(Entry {
            item_id: m.item_id,
            story_id: m.story_id,
            items: 1,
            title: m.title.clone(),
            url: m.url.as_deref().and_then(safe_link),
            outlets: vec![m.outlet.clone()],
            lang: m
                .lang
                .as_deref()
                .map(crate::model::primary_language)
                .filter(|l| !l.is_empty()),
            published: m.published.as_deref().and_then(crate::store::parse_ts).map(local),
            snippet: snippet(&m.text, &patterns),
        });
    }
    Digest {
        id: ctx.id.clone(),
        alert: ctx.alert.to_string(),
        channel: ctx.channel.to_string(),
        period_start: local(ctx.period_start),
        period_end: local(ctx.period_end),
        timezone: ctx.tz.to_string(),
        counts: Counts {
            articles: articles.len(),
            stories: stories.len(),
            outlets: outlets.len(),
        },
        topics: sections
            .into_iter()
            .map(|(topic, entries)| TopicSection {
                topic: topic.to_string(),
                entries,
            })
            .collect(),
        health: Vec::new(),
    }
}

/// The link if it is an absolute `http(s)` URL, normalised; anything else
/// (`javascript:`, `data:`, relative, malformed) is dropped.
pub fn safe_link(raw: &str) -> Option<String> {
    let url = url::Url::parse(raw.trim()).ok()?;
    matches!(url.scheme(), "http" | "https").then(|| url.to_string())
}

/// Patterns that make a topic match (those not under NOT).
fn positive_patterns(expr: &Expr) -> Vec<Pattern> {
    let mut out = Vec::new();
    fn walk(expr: &Expr, out: &mut Vec<Pattern>) {
        match expr {
            Expr::Match { words, .. } => out.extend(words.iter().cloned()),
            Expr::Near { left, right, .. } => {
                walk(left, out);
                walk(right, out);
            }
            Expr::And(children) | Expr::Or(children) => children.iter().for_each(|c| walk(c, out)),
            Expr::Not(_) | Expr::Lang(_) | Expr::Feed(_) => {}
        }
    }
    walk(expr, &mut out);
    out
}

/// A window of `text` around its first matched word, split into plain and
/// highlighted segments of the original text.
fn snippet(text: &str, patterns: &[Pattern]) -> Vec<Segment> {
    let spans = text::word_spans(text);
    if spans.is_empty() {
        return Vec::new();
    }
    let hit = |word: &str| patterns.iter().any(|p| p.matches(word));
    let first = spans.iter().position(|(_, w)| hit(w)).unwrap_or(0);
    let from = first.saturating_sub(SNIPPET_BEFORE);
    let to = (first + SNIPPET_AFTER).min(spans.len() - 1);
    let (start, end) = (spans[from].0.start, spans[to].0.end);
    let mut segments = Vec::new();
    if from > 0 {
        segments.push(Segment {
            text: "… ".into(),
            highlight: false,
        });
    }
    let mut cursor = start;
    for (range, word) in &spans[from..=to] {
        if hit(word) {
            if range.start > cursor {
                segments.push(Segment {
                    text: text[cursor..range.start].to_string(),
                    highlight: false,
                });
            }
            segments.push(Segment {
                text: text[range.clone()].to_string(),
                highlight: true,
            });
            cursor = range.end;
        }
    }
    if end > cursor {
        segments.push(Segment {
            text: text[cursor..end].to_string(),
            highlight: false,
        });
    }
    if to + 1 < spans.len() {
        segments.push(Segment {
            text: " …".into(),
            highlight: false,
        });
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
            matched_at: "2017-09-23T10:00:00Z".into(),
            title: title.into(),
            text: text.into(),
            url: Some(url.into()),
            lang: Some("en".into()),
            published: Some("2017-09-23T09:00:00Z".into()),
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
        let entries = &digest.topics[0].entries;
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
        assert_eq!((entries[0].item_id, entries[0].items), (1, 3));
        assert_eq!(entries[0].outlets, ["Reuters", "Mehr"]);
        assert_eq!(
            digest.counts,
            Counts {
                articles: 4,
                stories: 2,
                outlets: 2
            }
        );
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
