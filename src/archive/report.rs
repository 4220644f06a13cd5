//! A self-contained HTML report of a topic over a time window: a volume
//! chart (inline SVG), top outlets, languages and top stories with links.
//! No scripts, stylesheets or images are fetched; all feed text is escaped
//! and links are kept only when they are http(s) ([`crate::digest::safe_link`]).

use std::fmt::Write;

use crate::digest::render::escape_html;
use crate::digest::safe_link;
use crate::store::ReportStory;

/// Everything a report shows.
#[derive(Debug, Clone, Default)]
pub struct ReportData {
    pub topic: String,
    pub query: String,
    /// Window, as printed (`YYYY-MM-DD HH:MM UTC`).
    pub since: String,
    pub until: String,
    pub generated_at: String,
    /// Day labels and the topic's items per day.
    pub days: Vec<String>,
    pub counts: Vec<i64>,
    pub outlets: Vec<(String, i64)>,
    pub languages: Vec<(String, i64)>,
    pub stories: Vec<ReportStory>,
}

/// The report as one HTML document.
pub fn render(data: &ReportData) -> String {
    let e = escape_html;
    let total: i64 = data.counts.iter().sum();
    let mut h = String::new();
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>feedwatch report: {topic}</title><style>\
         body{{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}}\
         table{{border-collapse:collapse;margin:.5rem 0 1.5rem}}td,th{{padding:.2rem .6rem;text-align:left;\
         border-bottom:1px solid #ddd}}td.n{{text-align:right}}code{{background:#f4f4f4;padding:0 .2rem}}\
         svg{{max-width:100%;height:auto}}</style></head><body>\n\
         <h1>Topic <code>{topic}</code></h1>\n<p>Query: <code>{query}</code><br>{since} to {until}: \
         <strong>{total}</strong> matched items. Generated {generated}.</p>\n",
        topic = e(&data.topic),
        query = e(&data.query),
        since = e(&data.since),
        until = e(&data.until),
        generated = e(&data.generated_at),
    );
    h.push_str("<h2>Volume per day</h2>\n");
    h.push_str(&chart(&data.days, &data.counts));
    h.push_str("\n<h2>Top outlets</h2>\n");
    h.push_str(&pairs_table("Outlet", &data.outlets));
    h.push_str("<h2>Languages</h2>\n");
    let languages: Vec<(String, i64)> = data
        .languages
        .iter()
        .map(|(l, n)| {
            (
                if l.is_empty() {
                    "unknown".to_string()
                } else {
                    l.clone()
                },
                *n,
            )
        })
        .collect();
    h.push_str(&pairs_table("Language", &languages));
    h.push_str("<h2>Top stories</h2>\n");
    if data.stories.is_empty() {
        h.push_str("<p>No stories in this window.</p>\n");
    } else {
        h.push_str(
            "<table><tr><th>Story</th><th>Topic items</th><th>Items</th><th>Outlets</th><th>First seen</th></tr>\n",
        );
        for s in &data.stories {
            let headline = match s.url.as_deref().and_then(safe_link) {
                Some(url) => format!("<a href=\"{}\">{}</a>", e(&url), e(&s.headline)),
                None => e(&s.headline),
            };
            let _ = writeln!(
                h,
                "<tr><td>{headline}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td>{}</td></tr>",
                s.topic_items,
                s.item_count,
                s.outlet_count,
                e(&s.first_seen)
            );
        }
        h.push_str("</table>\n");
    }
    h.push_str(
        "<p><small>feedwatch: self-contained report, no external resources.</small></p>\n</body></html>\n",
    );
    h
}

fn pairs_table(what: &str, rows: &[(String, i64)]) -> String {
    if rows.is_empty() {
        return "<p>None.</p>\n".to_string();
    }
    let mut h = format!("<table><tr><th>{what}</th><th>Items</th></tr>\n");
    for (name, n) in rows {
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td class=\"n\">{n}</td></tr>",
            escape_html(name)
        );
    }
    h.push_str("</table>\n");
    h
}

/// A bar chart as inline SVG, one bar per day, with the peak and the first
/// and last day labelled.
fn chart(days: &[String], counts: &[i64]) -> String {
    const W: f64 = 800.0;
    const H: f64 = 200.0;
    const PAD: f64 = 24.0;
    let n = counts.len().max(1) as f64;
    let peak = counts.iter().copied().max().unwrap_or(0).max(1) as f64;
    let bar = (W - 2.0 * PAD) / n;
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {W} {H}\" width=\"{W}\" height=\"{H}\" \
         role=\"img\" aria-label=\"items per day\">\
         <line x1=\"{PAD}\" y1=\"{y}\" x2=\"{x2}\" y2=\"{y}\" stroke=\"#999\"/>",
        y = H - PAD,
        x2 = W - PAD
    );
    for (i, (&c, day)) in counts.iter().zip(days).enumerate() {
        let height = (c as f64 / peak) * (H - 2.0 * PAD);
        let _ = write!(
            svg,
            "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"#3b6ea5\"><title>{}: {c}</title></rect>",
            PAD + i as f64 * bar + bar * 0.1,
            H - PAD - height,
            (bar * 0.8).max(0.5),
            height,
            escape_html(day)
        );
    }
    if let (Some(first), Some(last)) = (days.first(), days.last()) {
        let _ = write!(
            svg,
            "<text x=\"{PAD}\" y=\"{H}\" font-size=\"11\">{}</text>\
             <text x=\"{}\" y=\"{H}\" font-size=\"11\" text-anchor=\"end\">{}</text>\
             <text x=\"{PAD}\" y=\"14\" font-size=\"11\">peak {}</text>",
            escape_html(first),
            W - PAD,
            escape_html(last),
            peak as i64
        );
    }
    svg.push_str("</svg>");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_feed_text_and_drops_unsafe_links() {
        let data = ReportData {
            topic: "t<1>".into(),
            query: "a \"b\"".into(),
            days: vec!["2017-09-25".into(), "2017-09-26".into()],
            counts: vec![1, 3],
            outlets: vec![("<script>alert(1)</script>".into(), 2)],
            languages: vec![("".into(), 1)],
            stories: vec![
                ReportStory {
                    id: 1,
                    headline: "A & B <b>".into(),
                    topic_items: 2,
                    item_count: 3,
                    outlet_count: 2,
                    first_seen: "2017-09-25T00:00:00Z".into(),
                    last_seen: "2017-09-26T00:00:00Z".into(),
                    url: Some("javascript:alert(1)".into()),
                },
                ReportStory {
                    id: 2,
                    headline: "Safe".into(),
                    url: Some("https://example.org/a?x=1&y=2".into()),
                    ..Default::default()
                },
            ],
            ..Default::default()
        };
        let html = render(&data);
        assert!(html.contains("<svg"), "{html}");
        assert!(!html.contains("<script"), "{html}");
        assert!(!html.contains("javascript:"), "{html}");
        assert!(html.contains("A &amp; B &lt;b&gt;"));
        assert!(html.contains("href=\"https://example.org/a?x=1&amp;y=2\""));
        assert!(html.contains("t&lt;1&gt;"));
        assert!(!html.contains("http://") || html.contains("http://www.w3.org/2000/svg"));
    }
}
