//! A self-contained HTML report of a topic over a time window: a volume
//! chart (inline SVG), top outlets, languages and top stories with links.
//! No scripts, stylesheets or images are fetched; all feed text is escaped
//! and links are kept only when they are http(s) ([`crate::digest::safe_link`]).

use std::fmt::Write;

use crate::bidi;
use crate::digest::render::escape_html;
use crate::digest::safe_link;
use crate::store::{Bucket, ReportItem, ReportStory};

/// Everything a report shows.
#[derive(Debug, Clone, Default)]
pub struct ReportData {
    /// The topics reported on, with their queries and items in the window;
    /// empty: all items.
    pub topics: Vec<(String, String, i64)>,
    /// Window, as printed (`YYYY-MM-DD HH:MM UTC`).
    pub since: String,
    pub until: String,
    pub generated_at: String,
    /// Bucket width of the chart (days, weeks or months, so bars stay
    /// readable over long windows).
    pub bucket: Option<Bucket>,
    /// Bucket labels (`YYYY-MM-DD`, a month's first day for months) and
    /// the items per bucket.
    pub days: Vec<String>,
    pub counts: Vec<i64>,
    pub outlets: Vec<(String, i64)>,
    pub languages: Vec<(String, i64)>,
    pub stories: Vec<ReportStory>,
    pub items: Vec<ReportItem>,
}

impl ReportData {
    /// `kurdistan-referendum`, `a, b` or `all items`.
    fn title(&self) -> String {
        if self.topics.is_empty() {
            "all items".into()
        } else {
            let names: Vec<&str> = self.topics.iter().map(|(n, _, _)| n.as_str()).collect();
            names.join(", ")
        }
    }
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
         <title>feedwatch report: {title}</title><style>\
         body{{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}}\
         table{{border-collapse:collapse;margin:.5rem 0 1.5rem}}td,th{{padding:.2rem .6rem;text-align:start;\
         border-bottom:1px solid #ddd}}td.n{{text-align:right}}code{{background:#f4f4f4;padding:0 .2rem}}\
         svg{{max-width:100%;height:auto}}</style></head><body>\n\
         <h1>Report: <bdi>{title}</bdi></h1>\n<p>{since} to {until}: \
         <strong>{total}</strong> matched items. Generated {generated}.</p>\n",
        title = e(&data.title()),
        since = e(&data.since),
        until = e(&data.until),
        generated = e(&data.generated_at),
    );
    if !data.topics.is_empty() {
        h.push_str("<table><tr><th>Topic</th><th>Query</th><th>Items</th></tr>\n");
        for (name, query, n) in &data.topics {
            let _ = writeln!(
                h,
                "<tr><td><bdi>{}</bdi></td><td><code dir=\"ltr\">{}</code></td><td class=\"n\">{n}</td></tr>",
                e(name),
                bidi::html_ltr_words(query, e)
            );
        }
        h.push_str("</table>\n");
    }
    let per = match data.bucket {
        Some(Bucket::Month) => "month",
        Some(Bucket::Week) => "week",
        Some(Bucket::Hour) => "hour",
        _ => "day",
    };
    let _ = writeln!(h, "<h2>Volume per {per}</h2>");
    h.push_str(&chart(&data.days, &data.counts, per, None));
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
            "<table><tr><th>Story</th><th>Matched items</th><th>Items</th><th>Outlets</th><th>First seen</th></tr>\n",
        );
        for s in &data.stories {
            let _ = writeln!(
                h,
                "<tr><td dir=\"auto\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td>{}</td></tr>",
                link(s.url.as_deref(), &s.headline),
                s.topic_items,
                s.item_count,
                s.outlet_count,
                e(&short_time(&s.first_seen))
            );
        }
        h.push_str("</table>\n");
    }
    h.push_str("<h2>Latest articles</h2>\n");
    if data.items.is_empty() {
        h.push_str("<p>No articles in this window.</p>\n");
    } else {
        h.push_str("<table><tr><th>Article</th><th>Outlet</th><th>Language</th><th>Published</th></tr>\n");
        for item in &data.items {
            let outlet = if item.outlet_count > 1 {
                format!("<bdi>{}</bdi> +{}", e(&item.outlet), item.outlet_count - 1)
            } else {
                format!("<bdi>{}</bdi>", e(&item.outlet))
            };
            let _ = writeln!(
                h,
                "<tr><td dir=\"auto\">{}</td><td>{outlet}</td><td>{}</td><td>{}</td></tr>",
                link(item.url.as_deref(), &item.title),
                e(item.lang.as_deref().unwrap_or("")),
                e(&item.published.as_deref().map(short_time).unwrap_or_default())
            );
        }
        h.push_str("</table>\n");
    }
    h.push_str(
        "<p><small>feedwatch: self-contained report, no external resources.</small></p>\n</body></html>\n",
    );
    h
}

/// A headline, linked when its URL is http(s).
fn link(url: Option<&str>, text: &str) -> String {
    match url.and_then(safe_link) {
        Some(url) => format!("<a href=\"{}\">{}</a>", escape_html(&url), escape_html(text)),
        None => escape_html(text),
    }
}

/// `2017-09-25T08:00:00Z` → `2017-09-25 08:00`.
fn short_time(t: &str) -> String {
    t.replace('T', " ").chars().take(16).collect()
}

fn pairs_table(what: &str, rows: &[(String, i64)]) -> String {
    if rows.is_empty() {
        return "<p>None.</p>\n".to_string();
    }
    let mut h = format!("<table><tr><th>{what}</th><th>Items</th></tr>\n");
    for (name, n) in rows {
        let _ = writeln!(
            h,
            "<tr><td><bdi>{}</bdi></td><td class=\"n\">{n}</td></tr>",
            escape_html(name)
        );
    }
    h.push_str("</table>\n");
    h
}

/// Narrowest bar drawn, in SVG units (the chart is 1 unit per CSS pixel at
/// its natural width).
pub const MIN_BAR_WIDTH: f64 = 2.0;
/// Width of the plot area at its natural size.
pub const PLOT_WIDTH: f64 = 740.0;

/// A band drawn behind a chart's bars: a usual range of counts (the web
/// desk's baseline) and a line at its middle.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Band {
    pub low: f64,
    pub middle: f64,
    pub high: f64,
}

/// A bar chart as inline SVG, one bar per bucket: a y-axis with ticks and
/// gridlines, dated x-axis labels, bars at least [`MIN_BAR_WIDTH`] wide
/// (the chart widens when it has more buckets than fit), and `band` shaded
/// behind the bars if given. No styles or scripts: presentation attributes
/// only, so it renders under a strict Content-Security-Policy.
pub fn chart(labels: &[String], counts: &[i64], per: &str, band: Option<Band>) -> String {
    const H: f64 = 220.0;
    const LEFT: f64 = 48.0;
    // Room for half the last date label.
    const RIGHT: f64 = 36.0;
    const TOP: f64 = 12.0;
    const BOTTOM: f64 = 28.0;
    let n = counts.len().max(1) as f64;
    let slot = (PLOT_WIDTH / n).max(MIN_BAR_WIDTH / 0.8);
    let plot_w = slot * n;
    let w = LEFT + plot_w + RIGHT;
    let band_top = band.map_or(0, |b| b.high.ceil() as i64);
    let peak = counts.iter().copied().max().unwrap_or(0).max(band_top).max(1);
    let step = nice_step(peak);
    let top = step * ((peak + step - 1) / step);
    let plot_h = H - TOP - BOTTOM;
    let y = |v: i64| TOP + plot_h - (v as f64 / top as f64) * plot_h;
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {w:.0} {H}\" width=\"{w:.0}\" height=\"{H}\" \
         role=\"img\" aria-label=\"items per {per}\" font-size=\"11\" font-family=\"sans-serif\">"
    );
    // The y-axis: gridlines and labels at round numbers.
    let mut tick = 0;
    while tick <= top {
        let _ = write!(
            svg,
            "<line x1=\"{LEFT}\" y1=\"{yy:.1}\" x2=\"{x2:.1}\" y2=\"{yy:.1}\" stroke=\"{color}\"/>\
             <text x=\"{lx}\" y=\"{ty:.1}\" text-anchor=\"end\">{tick}</text>",
            yy = y(tick),
            x2 = LEFT + plot_w,
            color = if tick == 0 { "#999" } else { "#eee" },
            lx = LEFT - 6.0,
            ty = y(tick) + 4.0,
        );
        tick += step;
    }
    let _ = write!(
        svg,
        "<text x=\"12\" y=\"{ty}\" transform=\"rotate(-90 12 {ty})\" text-anchor=\"middle\">items</text>",
        ty = TOP + plot_h / 2.0
    );
    if let Some(band) = band {
        let yf = |v: f64| TOP + plot_h - (v / top as f64) * plot_h;
        let _ = write!(
            svg,
            "<rect class=\"band\" x=\"{LEFT}\" y=\"{:.1}\" width=\"{plot_w:.1}\" height=\"{:.1}\" fill=\"#e8d9a8\" \
             fill-opacity=\"0.6\"><title>usual range: {:.0} to {:.0} items per {per}</title></rect>\
             <line class=\"baseline\" x1=\"{LEFT}\" y1=\"{ym:.1}\" x2=\"{x2:.1}\" y2=\"{ym:.1}\" stroke=\"#9a7b1c\" \
             stroke-dasharray=\"4 3\"/>",
            yf(band.high),
            (yf(band.low) - yf(band.high)).max(1.0),
            band.low,
            band.high,
            ym = yf(band.middle),
            x2 = LEFT + plot_w,
        );
    }
    for (i, (&c, label)) in counts.iter().zip(labels).enumerate() {
        if c == 0 {
            continue;
        }
        let _ = write!(
            svg,
            "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"#3b6ea5\"><title>{}: {c}</title></rect>",
            LEFT + i as f64 * slot + slot * 0.1,
            y(c),
            slot * 0.8,
            y(0) - y(c),
            escape_html(label)
        );
    }
    // The x-axis: about one date label per 120 units, at bucket starts.
    let every = ((120.0 / slot).ceil() as usize).max(1);
    for (i, label) in labels.iter().enumerate().step_by(every) {
        let x = LEFT + i as f64 * slot + slot / 2.0;
        let text = if per == "month" {
            &label[..label.len().min(7)]
        } else {
            label
        };
        let _ = write!(
            svg,
            "<line x1=\"{x:.1}\" y1=\"{y0:.1}\" x2=\"{x:.1}\" y2=\"{y1:.1}\" stroke=\"#999\"/>\
             <text x=\"{x:.1}\" y=\"{ty:.1}\" text-anchor=\"middle\">{}</text>",
            escape_html(text),
            y0 = y(0),
            y1 = y(0) + 4.0,
            ty = H - 10.0,
        );
    }
    svg.push_str("</svg>");
    svg
}

/// A round tick step giving about five ticks up to `peak`: 1, 2 or 5 times
/// a power of ten.
fn nice_step(peak: i64) -> i64 {
    let raw = (peak as f64 / 5.0).max(1.0);
    let power = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * power)
        .find(|&s| s >= raw)
        .unwrap_or(10.0 * power);
    step as i64
}

/// The bucket a report's chart uses over `days` days: days while there
/// is room for bars [`MIN_BAR_WIDTH`] wide at the chart's natural width,
/// else weeks, else months.
pub fn chart_bucket(days: u64) -> Bucket {
    let fits = (PLOT_WIDTH / (MIN_BAR_WIDTH / 0.8)) as u64;
    if days <= fits {
        Bucket::Day
    } else if days / 7 < fits {
        Bucket::Week
    } else {
        Bucket::Month
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_feed_text_and_drops_unsafe_links() {
        let data = ReportData {
            topics: vec![("t<1>".into(), "a \"b\" OR کردستان)".into(), 3)],
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
        assert!(
            html.contains("<code dir=\"ltr\">a &quot;b&quot; OR <bdi>کردستان</bdi>)</code>"),
            "{html}"
        );
    }

    #[test]
    fn long_windows_aggregate_and_bars_stay_readable() {
        assert_eq!(chart_bucket(30), Bucket::Day);
        assert_eq!(chart_bucket(3385), Bucket::Month);
        assert_eq!(chart_bucket(700), Bucket::Week);
        for n in [1, 30, 296, 2000] {
            let labels: Vec<String> = (0..n).map(|i| format!("2017-09-{i:02}")).collect();
            let counts: Vec<i64> = (0..n as i64).collect();
            let svg = chart(&labels, &counts, "day", None);
            for width in svg
                .split("width=\"")
                .skip(2)
                .map(|w| w.split('"').next().unwrap())
            {
                assert!(
                    width.parse::<f64>().unwrap() >= MIN_BAR_WIDTH,
                    "{n} buckets: bar {width}"
                );
            }
        }
        assert_eq!(nice_step(7), 2);
        assert_eq!(nice_step(172), 50);
        assert_eq!(nice_step(1), 1);
        let svg = chart(&["2017-09-25".into()], &[172], "day", None);
        assert!(
            svg.contains(">200</text>") && svg.contains(">0</text>"),
            "a y-axis: {svg}"
        );
    }
}
