//! Rendering a [`Digest`]: subject, plain text, HTML, Slack message and
//! e-mail. Every string from a feed is escaped for the target format; links
//! were already restricted to `http(s)` when the digest was built.

use std::fmt::Write as _;

use chrono::DateTime;
use lettre::message::{header::ContentType, Mailbox, MultiPart, SinglePart};

use super::health::{HealthKind, HealthNotice};
use super::{BreakingNotice, Counted, Digest, Entry, SpikeNotice, TopicSection};
use crate::bidi::{self, truncate};
use crate::triggers::{span_words, window_words};

/// `feedwatch: ALERT — N articles, N stories, N outlets (published FROM –
/// TO ZONE)`: the publication times of the articles listed, or the period
/// of the digest when none is dated.
pub fn subject(d: &Digest) -> String {
    let mut news: Vec<String> = d
        .spikes
        .iter()
        .map(|s| {
            format!(
                "spike in {}: {} {}",
                s.topic,
                s.count,
                plural(s.count as usize, "item", "items")
            )
        })
        .collect();
    news.extend(d.breaking.iter().map(|b| {
        format!(
            "breaking: {} ({} outlets)",
            truncate(&b.headline, 80),
            b.outlet_count
        )
    }));
    if !news.is_empty() {
        let matches = if d.counts.articles > 0 {
            format!(
                "; {} {}",
                d.counts.articles,
                plural(d.counts.articles, "article", "articles")
            )
        } else {
            String::new()
        };
        return format!("feedwatch: {} — {}{matches}", d.alert, news.join("; "));
    }
    format!(
        "feedwatch: {} — {} {}, {} {}, {} {} ({})",
        d.alert,
        d.counts.articles,
        plural(d.counts.articles, "article", "articles"),
        d.counts.stories,
        plural(d.counts.stories, "story", "stories"),
        d.counts.outlets,
        plural(d.counts.outlets, "outlet", "outlets"),
        period(d)
    )
}

fn plural<'a>(n: usize, one: &'a str, many: &'a str) -> &'a str {
    if n == 1 {
        one
    } else {
        many
    }
}

/// `published 2017-09-22 08:00 – 2017-09-23 08:00 Asia/Baghdad`, or the
/// digest's period (`2017-09-22 08:00 – …`) when no article is dated.
fn period(d: &Digest) -> String {
    let (from, to, what) = match (&d.published_from, &d.published_to) {
        (Some(from), Some(to)) => (from, to, "published "),
        _ => (&d.period_start, &d.period_end, ""),
    };
    if short_time(from) == short_time(to) {
        return format!("{what}{} {}", short_time(from), d.timezone);
    }
    format!("{what}{} – {} {}", short_time(from), short_time(to), d.timezone)
}

/// The command that lists a section's stories left out of the digest.
fn more_command(d: &Digest, section: &TopicSection) -> String {
    let since = d.published_from.as_deref().unwrap_or(&d.period_start);
    let since = DateTime::parse_from_rfc3339(since)
        .map(|t| {
            t.with_timezone(&chrono::Utc)
                .format("%Y-%m-%dT%H:%MZ")
                .to_string()
        })
        .unwrap_or_else(|_| since.to_string());
    let topic = &section.topic;
    let topic = if topic.chars().all(|c| c.is_alphanumeric() || "-_.".contains(c)) {
        topic.clone()
    } else {
        format!("'{}'", topic.replace('\'', "'\\''"))
    };
    format!("feedwatch search --stories --topic {topic} --since {since}")
}

/// `and N more stories — search: COMMAND`.
fn more_line(d: &Digest, section: &TopicSection) -> Option<String> {
    (section.more > 0).then(|| {
        format!(
            "and {} more {} — search: {}",
            section.more,
            plural(section.more, "story", "stories"),
            more_command(d, section)
        )
    })
}

fn short_time(rfc3339: &str) -> String {
    DateTime::parse_from_rfc3339(rfc3339)
        .map(|t| t.format("%Y-%m-%d %H:%M").to_string())
        .unwrap_or_else(|_| rfc3339.to_string())
}

/// Outlets, article count, language, time and the entry's other topics,
/// each piece of feed text passed through `feed_text` (isolation for the
/// target format).
fn byline(e: &Entry, feed_text: impl Fn(&str) -> String) -> String {
    let mut parts = vec![e
        .outlets
        .iter()
        .map(|o| feed_text(o))
        .collect::<Vec<_>>()
        .join(", ")];
    if e.items > 1 {
        parts.push(format!("{} articles", e.items));
    }
    parts.extend(e.lang.clone());
    parts.extend(e.published.as_deref().map(short_time));
    if !e.also_topics.is_empty() {
        let topics: Vec<String> = e.also_topics.iter().map(|t| feed_text(t)).collect();
        parts.push(format!("also {}", topics.join(", ")));
    }
    parts.join(" · ")
}

fn isolated(s: &str) -> String {
    bidi::isolate(s).into_owned()
}

/// Feed text for HTML: escaped and isolated (`<bdi>`), so a right-to-left
/// name cannot reorder the text around it.
fn bdi(s: &str) -> String {
    format!("<bdi>{}</bdi>", escape_html(s))
}

fn section_count(section: &TopicSection) -> usize {
    section.entries.len() + section.more
}

/// A spike's numbers in one sentence: `12 items, 9 stories in the last
/// hour (13:00 – 14:00); usual 0.04 ± 0.20 per hour over 14 days (a spike
/// from 5); 300.0× usual`. `topic` is the topic's name as the format shows it.
fn spike_sentence(s: &SpikeNotice, topic: &str) -> String {
    let window = window_words(std::time::Duration::from_secs(s.window_seconds));
    let ratio = match s.ratio {
        Some(r) => format!("{r:.1}× usual"),
        None => "none usual".to_string(),
    };
    format!(
        "{topic}: {} {}, {} {} in the last {window} ({} – {}); usual {:.2} ± {:.2} per {window} over {} (a spike from {}); {ratio}",
        s.count,
        plural(s.count as usize, "item", "items"),
        s.stories,
        plural(s.stories as usize, "story", "stories"),
        short_time(&s.window_start),
        short_time(&s.window_end),
        s.baseline_mean,
        s.baseline_stdev,
        span_words(s.baseline_seconds as i64),
        s.threshold.ceil(),
    )
}

/// `Rudaw 5, AP 4`, each name through `feed_text`.
fn counted(list: &[Counted], feed_text: impl Fn(&str) -> String) -> String {
    list.iter()
        .map(|c| format!("{} {}", feed_text(&c.name), c.items))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A spike's detail lines: the baseline's sparkline, outlets, languages,
/// stories.
fn spike_details(s: &SpikeNotice, feed_text: impl Fn(&str) -> String) -> Vec<String> {
    let mut lines = Vec::new();
    if !s.baseline_counts.is_empty() {
        let counts: Vec<i64> = s.baseline_counts.iter().map(|&c| c as i64).collect();
        lines.push(format!(
            "baseline {} (oldest first)",
            crate::archive::stats::sparkline(&counts)
        ));
    }
    if !s.top_outlets.is_empty() {
        lines.push(format!("outlets: {}", counted(&s.top_outlets, &feed_text)));
    }
    if !s.languages.is_empty() {
        lines.push(format!("languages: {}", counted(&s.languages, |l| l.to_string())));
    }
    if !s.top_stories.is_empty() {
        let stories: Vec<String> = s
            .top_stories
            .iter()
            .map(|t| format!("{} ({})", feed_text(&t.headline), t.items))
            .collect();
        lines.push(format!("stories: {}", stories.join("; ")));
    }
    lines
}

/// `breaking — carried by 4 outlets in 38 minutes: AP, Rudaw, … (first AP,
/// 2017-09-25 10:00)`.
fn breaking_sentence(b: &BreakingNotice, feed_text: impl Fn(&str) -> String) -> String {
    let outlets: Vec<String> = b.outlets.iter().map(|o| feed_text(o)).collect();
    format!(
        "breaking — carried by {} outlets in {}: {} (first {}, {})",
        b.outlet_count,
        span_words(b.within_seconds),
        outlets.join(", "),
        outlets.first().cloned().unwrap_or_default(),
        short_time(&b.first_seen)
    )
}

/// Whether the digest has anything besides matches to say.
fn has_news(d: &Digest) -> bool {
    !d.spikes.is_empty() || !d.breaking.is_empty()
}

/// Plain text; highlighted words are wrapped in `*`.
pub fn text(d: &Digest) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{}\n", subject(d));
    if !d.spikes.is_empty() {
        let _ = writeln!(out, "== Spikes ({}) ==\n", d.spikes.len());
        for s in &d.spikes {
            let _ = writeln!(out, "* {}", spike_sentence(s, &isolated(&s.topic)));
            for line in spike_details(s, isolated) {
                let _ = writeln!(out, "  {line}");
            }
            out.push('\n');
        }
    }
    if !d.breaking.is_empty() {
        let _ = writeln!(out, "== Breaking ({}) ==\n", d.breaking.len());
        for b in &d.breaking {
            let _ = writeln!(out, "* {}", isolated(&b.headline));
            let _ = writeln!(out, "  {}\n", breaking_sentence(b, isolated));
        }
    }
    if d.topics.is_empty() && !has_news(d) {
        let _ = writeln!(out, "Nothing matched in this period.");
    }
    for section in &d.topics {
        let _ = writeln!(
            out,
            "== {} ({}) ==\n",
            isolated(&section.topic),
            section_count(section)
        );
        for e in &section.entries {
            let _ = writeln!(out, "* {}", isolated(&e.title));
            let _ = writeln!(out, "  {}", byline(e, isolated));
            if let Some(url) = &e.url {
                let _ = writeln!(out, "  {url}");
            }
            let snippet: String = e
                .snippet
                .iter()
                .map(|s| {
                    if s.highlight {
                        format!("*{}*", s.text)
                    } else {
                        s.text.clone()
                    }
                })
                .collect();
            if !snippet.is_empty() {
                let _ = writeln!(out, "  {}", isolated(&snippet));
            }
            out.push('\n');
        }
        if let Some(more) = more_line(d, section) {
            let _ = writeln!(out, "{more}\n");
        }
    }
    if !d.health.is_empty() {
        let _ = writeln!(out, "== Feed health ({}) ==\n", d.health.len());
        for n in &d.health {
            let _ = writeln!(
                out,
                "* {} <{}>: {}",
                isolated(&n.feed_name),
                n.feed_url,
                health_label(n)
            );
            let _ = writeln!(out, "  {}\n", isolated(&n.detail));
        }
    }
    let _ = writeln!(out, "-- \nfeedwatch digest {}", d.id);
    out
}

fn health_label(n: &HealthNotice) -> &'static str {
    match n.kind {
        HealthKind::Failing => "failing",
        HealthKind::Silent => "silent",
        HealthKind::Disabled => "disabled",
    }
}

/// Escapes text for HTML element content and attribute values.
pub fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A self-contained HTML document (inline styles only, nothing fetched).
pub fn html(d: &Digest) -> String {
    let e = escape_html;
    let mut out = String::new();
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{}</title></head>\n\
         <body style=\"font-family:sans-serif;max-width:48em\">\n<h1 style=\"font-size:1.2em\">{}</h1>\n",
        e(&subject(d)),
        e(&subject(d))
    );
    if !d.spikes.is_empty() {
        let _ = writeln!(
            out,
            "<h2 style=\"font-size:1.1em\">Spikes ({})</h2>",
            d.spikes.len()
        );
        for s in &d.spikes {
            let _ = write!(
                out,
                "<div style=\"margin-bottom:1em\"><div dir=\"auto\"><b>{}</b></div><small style=\"color:#555\">",
                e(&spike_sentence(s, &s.topic))
            );
            let details: Vec<String> = spike_details(s, |t| t.to_string()).iter().map(|l| e(l)).collect();
            let _ = writeln!(out, "{}</small></div>", details.join("<br>"));
        }
    }
    if !d.breaking.is_empty() {
        let _ = writeln!(
            out,
            "<h2 style=\"font-size:1.1em\">Breaking ({})</h2>",
            d.breaking.len()
        );
        for b in &d.breaking {
            let _ = writeln!(
                out,
                "<div style=\"margin-bottom:1em\"><div dir=\"auto\"><b>{}</b></div><small style=\"color:#555\">{}</small></div>",
                e(&b.headline),
                breaking_sentence(b, bdi)
            );
        }
    }
    if d.topics.is_empty() && !has_news(d) {
        out.push_str("<p>Nothing matched in this period.</p>\n");
    }
    for section in &d.topics {
        let _ = writeln!(
            out,
            "<h2 style=\"font-size:1.1em\">{} ({})</h2>",
            bdi(&section.topic),
            section_count(section)
        );
        for entry in &section.entries {
            out.push_str("<div style=\"margin-bottom:1em\"><div dir=\"auto\">");
            match &entry.url {
                Some(url) => {
                    let _ = write!(out, "<a href=\"{}\"><b>{}</b></a>", e(url), e(&entry.title));
                }
                None => {
                    let _ = write!(out, "<b>{}</b>", e(&entry.title));
                }
            }
            let _ = write!(
                out,
                "</div><small style=\"color:#555\">{}</small><div dir=\"auto\">",
                byline(entry, bdi)
            );
            for s in &entry.snippet {
                if s.highlight {
                    let _ = write!(out, "<mark>{}</mark>", e(&s.text));
                } else {
                    out.push_str(&e(&s.text));
                }
            }
            out.push_str("</div></div>\n");
        }
        if let Some(more) = more_line(d, section) {
            let _ = writeln!(out, "<p><i>{}</i></p>", e(&more));
        }
    }
    if !d.health.is_empty() {
        let _ = writeln!(
            out,
            "<h2 style=\"font-size:1.1em\">Feed health ({})</h2>",
            d.health.len()
        );
        for n in &d.health {
            let _ = writeln!(
                out,
                "<div style=\"margin-bottom:1em\"><b>{}</b> &lt;{}&gt;: {}<br><small dir=\"auto\">{}</small></div>",
                bdi(&n.feed_name),
                e(&n.feed_url),
                health_label(n),
                e(&n.detail)
            );
        }
    }
    let _ = write!(
        out,
        "<p><small>feedwatch digest {}</small></p>\n</body></html>\n",
        e(&d.id)
    );
    out
}

/// Escapes text for Slack `mrkdwn`.
fn escape_slack(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// A Slack-compatible message (`text` fallback plus Block Kit sections).
pub fn slack(d: &Digest) -> serde_json::Value {
    let mut blocks = vec![serde_json::json!({
        "type": "header",
        "text": {"type": "plain_text", "text": truncate(&format!("feedwatch: {}", d.alert), 150)},
    })];
    blocks.push(serde_json::json!({"type": "context", "elements": [{"type": "mrkdwn", "text": escape_slack(&subject(d))}]}));
    for s in &d.spikes {
        let mut text = format!(
            "*Spike* {}",
            escape_slack(&spike_sentence(s, &isolated(&s.topic)))
        );
        for line in spike_details(s, isolated) {
            text.push('\n');
            text.push_str(&escape_slack(&line));
        }
        blocks.push(
            serde_json::json!({"type": "section", "text": {"type": "mrkdwn", "text": truncate(&text, 2900)}}),
        );
    }
    for b in &d.breaking {
        let text = format!(
            "*Breaking* {}\n{}",
            escape_slack(&isolated(&b.headline)),
            escape_slack(&breaking_sentence(b, isolated))
        );
        blocks.push(
            serde_json::json!({"type": "section", "text": {"type": "mrkdwn", "text": truncate(&text, 2900)}}),
        );
    }
    for section in &d.topics {
        blocks.push(serde_json::json!({
            "type": "section",
            "text": {"type": "mrkdwn", "text": format!("*{}* ({})", escape_slack(&isolated(&section.topic)), section_count(section))},
        }));
        for entry in &section.entries {
            let title = escape_slack(&isolated(&entry.title));
            let link = match &entry.url {
                // `|` and `>` end a Slack link; they cannot appear in the URL.
                Some(url) => format!("<{}|{}>", url.replace('|', "%7C").replace('>', "%3E"), title),
                None => title,
            };
            let snippet: String = entry
                .snippet
                .iter()
                .map(|s| {
                    let t = escape_slack(&s.text);
                    if s.highlight {
                        format!("*{}*", t.trim())
                    } else {
                        t
                    }
                })
                .collect();
            let text = format!(
                "{link}\n{}\n>{}",
                escape_slack(&byline(entry, isolated)),
                isolated(&snippet)
            );
            blocks.push(serde_json::json!({"type": "section", "text": {"type": "mrkdwn", "text": truncate(&text, 2900)}}));
        }
        if let Some(more) = more_line(d, section) {
            blocks.push(serde_json::json!({"type": "context", "elements": [{"type": "mrkdwn", "text": escape_slack(&more)}]}));
        }
    }
    for n in &d.health {
        let text = format!(
            "*{}* {}: {}\n{}",
            escape_slack(&n.feed_name),
            escape_slack(&n.feed_url),
            health_label(n),
            escape_slack(&n.detail)
        );
        blocks.push(
            serde_json::json!({"type": "section", "text": {"type": "mrkdwn", "text": truncate(&text, 2900)}}),
        );
    }
    serde_json::json!({"text": escape_slack(&subject(d)), "blocks": blocks})
}

/// A multipart (plain text + HTML) e-mail whose Message-ID is the digest id.
pub fn email(d: &Digest, from: &str, to: &[String]) -> Result<lettre::Message, lettre::error::Error> {
    let mut builder = lettre::Message::builder()
        .from(
            from.parse::<Mailbox>()
                .map_err(|_| lettre::error::Error::MissingFrom)?,
        )
        .subject(subject(d))
        .message_id(Some(format!("<{}@feedwatch>", d.id)));
    for address in to {
        builder = builder.to(address
            .parse::<Mailbox>()
            .map_err(|_| lettre::error::Error::MissingTo)?);
    }
    builder.multipart(
        MultiPart::alternative()
            .singlepart(
                SinglePart::builder()
                    .header(ContentType::TEXT_PLAIN)
                    .body(text(d)),
            )
            .singlepart(SinglePart::builder().header(ContentType::TEXT_HTML).body(html(d))),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::digest::{Counts, Segment, TopicSection};

    fn digest() -> Digest {
        Digest {
            id: "fw-0123".into(),
            alert: "referendum-daily".into(),
            channel: "desk".into(),
            period_start: "2017-09-22T08:00:00+03:00".into(),
            period_end: "2017-09-23T08:00:00+03:00".into(),
            timezone: "Asia/Baghdad".into(),
            published_from: Some("2017-09-23T12:00:00+03:00".into()),
            published_to: Some("2017-09-23T12:00:00+03:00".into()),
            counts: Counts {
                articles: 1,
                stories: 1,
                outlets: 1,
            },
            topics: vec![TopicSection {
                topic: "kurdistan-referendum".into(),
                entries: vec![Entry {
                    item_id: 7,
                    story_id: Some(3),
                    items: 1,
                    title: "<script>alert('t')</script> Kurdistan & the vote".into(),
                    url: Some("https://x.example/a?b=1&c=\"2\"".into()),
                    outlets: vec!["Mehr <News>".into()],
                    lang: Some("en".into()),
                    published: Some("2017-09-23T12:00:00+03:00".into()),
                    also_topics: Vec::new(),
                    matches: Vec::new(),
                    snippet: vec![
                        Segment {
                            text: "The ".into(),
                            highlight: false,
                        },
                        Segment {
                            text: "referendum".into(),
                            highlight: true,
                        },
                        Segment {
                            text: " <img src=x onerror=alert(1)> in Erbil".into(),
                            highlight: false,
                        },
                    ],
                }],
                more: 0,
            }],
            health: Vec::new(),
            spikes: Vec::new(),
            breaking: Vec::new(),
        }
    }

    #[test]
    fn text_snapshot() {
        let expected = "\
feedwatch: referendum-daily — 1 article, 1 story, 1 outlet (published 2017-09-23 12:00 Asia/Baghdad)

== kurdistan-referendum (1) ==

* <script>alert('t')</script> Kurdistan & the vote
  Mehr <News> · en · 2017-09-23 12:00
  https://x.example/a?b=1&c=\"2\"
  The *referendum* <img src=x onerror=alert(1)> in Erbil

-- 
feedwatch digest fw-0123
";
        assert_eq!(text(&digest()), expected);
    }

    #[test]
    fn html_escapes_everything_from_feeds() {
        let html = html(&digest());
        assert!(!html.contains("<script"), "{html}");
        assert!(!html.contains("<img"), "{html}");
        assert!(html.contains("&lt;script&gt;alert(&#39;t&#39;)&lt;/script&gt; Kurdistan &amp; the vote"));
        assert!(html.contains("<a href=\"https://x.example/a?b=1&amp;c=&quot;2&quot;\">"));
        assert!(html.contains("<mark>referendum</mark> &lt;img src=x onerror=alert(1)&gt; in Erbil"));
        assert!(html.contains("Mehr &lt;News&gt;"));
    }

    #[test]
    fn slack_escapes_and_links() {
        let msg = slack(&digest()).to_string();
        assert!(!msg.contains("<script"), "{msg}");
        assert!(msg.contains("&lt;script&gt;"));
        assert!(
            msg.contains("<https://x.example/a?b=1&c=\\\"2\\\"|&lt;script&gt;"),
            "{msg}"
        );
        assert!(msg.contains("*referendum*"));
    }

    fn with_news() -> Digest {
        use crate::digest::{BreakingNotice, Counted, SpikeNotice, StoryCount};
        let mut d = digest();
        d.spikes = vec![SpikeNotice {
            topic: "kurdistan-referendum".into(),
            window_start: "2017-09-25T13:00:00+03:00".into(),
            window_end: "2017-09-25T14:00:00+03:00".into(),
            count: 12,
            stories: 9,
            baseline_mean: 0.04,
            baseline_stdev: 0.2,
            ratio: Some(300.0),
            top_outlets: vec![Counted {
                name: "<b>Rudaw</b>".into(),
                items: 5,
            }],
            top_stories: vec![StoryCount {
                story_id: 3,
                headline: "Vote & count".into(),
                items: 4,
            }],
            threshold: 10.0,
            window_seconds: 3600,
            baseline_seconds: 14 * 86_400,
            baseline_counts: vec![0, 1, 0, 2],
            languages: vec![Counted {
                name: "en".into(),
                items: 12,
            }],
        }];
        d.breaking = vec![BreakingNotice {
            story_id: 57,
            headline: "<script>x</script> talks".into(),
            outlets: vec![
                "AP".into(),
                "Rudaw".into(),
                "Al Jazeera".into(),
                "Kurdistan24".into(),
            ],
            first_seen: "2017-09-25T10:00:00+03:00".into(),
            outlet_count: 4,
            within_seconds: 38 * 60,
        }];
        d
    }

    /// Issue 25: notices explain themselves, above the match list, in
    /// every format, escaped.
    #[test]
    fn spikes_and_breaking_stories_come_first_and_explain_themselves() {
        let d = with_news();
        let text = text(&d);
        let spike = text.find("== Spikes (1) ==").expect("spikes section");
        let breaking = text.find("== Breaking (1) ==").expect("breaking section");
        let matches = text.find("== kurdistan-referendum (1) ==").expect("matches");
        assert!(spike < breaking && breaking < matches, "{text}");
        assert!(text.contains(
            "* kurdistan-referendum: 12 items, 9 stories in the last hour (2017-09-25 13:00 – 2017-09-25 14:00); \
             usual 0.04 ± 0.20 per hour over 14 days (a spike from 10); 300.0× usual"
        ), "{text}");
        assert!(text.contains("  baseline ·▅·█ (oldest first)"), "{text}");
        assert!(text.contains(
            "breaking — carried by 4 outlets in 38 minutes: AP, Rudaw, Al Jazeera, Kurdistan24 (first AP, 2017-09-25 10:00)"
        ), "{text}");
        assert!(subject(&d).starts_with(
            "feedwatch: referendum-daily — spike in kurdistan-referendum: 12 items; breaking: "
        ));
        let html = html(&d);
        assert!(!html.contains("<script") && !html.contains("<b>Rudaw"), "{html}");
        assert!(
            html.contains("&lt;b&gt;Rudaw&lt;/b&gt; 5") && html.contains("Vote &amp; count (4)"),
            "{html}"
        );
        let spikes = html.find("Spikes (1)").expect("spikes");
        let matches = html.find("<bdi>kurdistan-referendum</bdi> (1)").expect("matches");
        assert!(spikes < matches, "{html}");
        let slack = slack(&d).to_string();
        assert!(
            !slack.contains("<script") && slack.contains("*Breaking* &lt;script&gt;"),
            "{slack}"
        );
        assert!(
            slack.contains("*Spike* kurdistan-referendum: 12 items"),
            "{slack}"
        );
    }

    #[test]
    fn email_is_multipart_with_stable_message_id() {
        let message = email(
            &digest(),
            "feedwatch <alerts@example.org>",
            &["desk@example.org".into()],
        )
        .unwrap();
        let raw = String::from_utf8(message.formatted()).unwrap();
        assert!(raw.contains("Message-ID: <fw-0123@feedwatch>"), "{raw}");
        assert!(raw.contains("multipart/alternative"));
        assert!(raw.contains("text/plain") && raw.contains("text/html"));
    }
}
