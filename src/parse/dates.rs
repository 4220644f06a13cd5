//! Dates feed-rs cannot read: zone abbreviations (`IRST`, `EEST`), naive
//! `2025-05-05 10:00:00` (taken as UTC), RFC 850, epoch seconds, a wrong
//! weekday. [`normalize`] rewrites such dates in the document to RFC 2822
//! (RSS) or RFC 3339 (Atom, Dublin Core) before feed-rs sees it; a date
//! that no rule reads is left alone and the item keeps its first-seen time.

use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, NaiveDateTime, TimeZone, Utc};

/// Zone abbreviations seen in news feeds, with their UTC offset in minutes.
const ZONES: &[(&str, i32)] = &[
    ("UT", 0),
    ("UTC", 0),
    ("GMT", 0),
    ("Z", 0),
    ("WET", 0),
    ("WEST", 60),
    ("BST", 60),
    ("CET", 60),
    ("CEST", 120),
    ("EET", 120),
    ("EEST", 180),
    ("MSK", 180),
    ("TRT", 180),
    ("AST", 180),
    ("IRST", 210),
    ("IRDT", 270),
    ("GST", 240),
    ("AFT", 270),
    ("PKT", 300),
    ("IST", 330),
    ("EST", -300),
    ("EDT", -240),
    ("CST", -360),
    ("CDT", -300),
    ("MST", -420),
    ("MDT", -360),
    ("PST", -480),
    ("PDT", -420),
];

/// Parses a date string that the strict RFC 2822 / RFC 3339 parsers reject.
/// Only years 0 to 9999 count: RFC 2822 and RFC 3339 cannot write others
/// (and `%Y` reads `Sep-2017` as the year -2017).
pub fn parse_fallback(raw: &str) -> Option<DateTime<Utc>> {
    read_fallback(raw).filter(|d| (0..=9999).contains(&d.year()))
}

fn read_fallback(raw: &str) -> Option<DateTime<Utc>> {
    let s = raw.trim();
    if s.is_empty() {
        return None;
    }
    if let Ok(d) = DateTime::parse_from_rfc2822(s) {
        return Some(d.to_utc());
    }
    if let Ok(d) = DateTime::parse_from_rfc3339(s) {
        return Some(d.to_utc());
    }
    // Epoch seconds.
    if s.len() >= 9 && s.len() <= 11 && s.bytes().all(|b| b.is_ascii_digit()) {
        return DateTime::from_timestamp(s.parse().ok()?, 0);
    }
    // Naive ISO forms, taken as UTC.
    for format in [
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%d %H:%M",
        "%Y/%m/%d %H:%M:%S",
    ] {
        if let Ok(n) = NaiveDateTime::parse_from_str(s, format) {
            return Some(n.and_utc());
        }
    }
    for format in ["%Y-%m-%d %H:%M:%S%:z", "%Y-%m-%d %H:%M:%S %z"] {
        if let Ok(d) = DateTime::parse_from_str(s, format) {
            return Some(d.to_utc());
        }
    }
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return Some(d.and_hms_opt(0, 0, 0)?.and_utc());
    }
    // Split off the weekday (possibly wrong, or RFC 850's full name) and
    // the zone, then read the rest.
    let without_weekday = match s.split_once(',') {
        Some((day, rest)) if day.chars().all(|c| c.is_alphabetic()) => rest.trim(),
        _ => s,
    };
    let (body, zone) = match without_weekday.rsplit_once(' ') {
        Some((body, zone)) => (body.trim(), zone.trim()),
        None => return None,
    };
    let offset = zone_offset(zone)?;
    for format in [
        "%d %b %Y %H:%M:%S",
        "%d %b %Y %H:%M",
        "%d-%b-%y %H:%M:%S",
        "%d-%b-%Y %H:%M:%S",
        "%d %B %Y %H:%M:%S",
        "%Y-%m-%d %H:%M:%S",
    ] {
        if let Ok(n) = NaiveDateTime::parse_from_str(body, format) {
            return offset.from_local_datetime(&n).single().map(|d| d.to_utc());
        }
    }
    None
}

/// `+0330`, `+03:30`, `GMT+3` or an abbreviation from [`ZONES`].
fn zone_offset(zone: &str) -> Option<FixedOffset> {
    let upper = zone.to_ascii_uppercase();
    if let Some((_, minutes)) = ZONES.iter().find(|(name, _)| *name == upper) {
        return FixedOffset::east_opt(minutes * 60);
    }
    let numeric = upper.trim_start_matches("GMT").trim_start_matches("UTC");
    let (sign, digits) = match numeric.as_bytes().first()? {
        b'+' => (1, &numeric[1..]),
        b'-' => (-1, &numeric[1..]),
        _ => return None,
    };
    let digits: String = digits.chars().filter(|c| *c != ':').collect();
    let (h, m) = match digits.len() {
        1 | 2 => (digits.parse::<i32>().ok()?, 0),
        3 => (digits[..1].parse::<i32>().ok()?, digits[1..].parse::<i32>().ok()?),
        4 => (digits[..2].parse::<i32>().ok()?, digits[2..].parse::<i32>().ok()?),
        _ => return None,
    };
    FixedOffset::east_opt(sign * (h * 3600 + m * 60))
}

/// Rewrites dates the strict parsers reject but [`parse_fallback`] reads.
/// Returns `None` when nothing needed rewriting (the common case: no copy).
pub fn normalize(doc: &str) -> Option<String> {
    const TAGS: &[(&str, bool)] = &[
        ("pubDate", true),
        ("lastBuildDate", true),
        ("published", false),
        ("updated", false),
        ("dc:date", false),
        ("dcterms:modified", false),
        ("dcterms:created", false),
    ];
    // (start, end, replacement) of every date to rewrite, in any order.
    let mut edits: Vec<(usize, usize, String)> = Vec::new();
    for (tag, rss) in TAGS {
        let open = format!("<{tag}>");
        let close = format!("</{tag}>");
        let mut from = 0;
        while let Some(at) = doc[from..].find(&open) {
            let start = from + at + open.len();
            let Some(len) = doc[start..].find(&close) else {
                break;
            };
            let raw = doc[start..start + len].trim();
            let strict_ok = if *rss {
                DateTime::parse_from_rfc2822(raw).is_ok()
            } else {
                DateTime::parse_from_rfc3339(raw).is_ok()
            };
            if !strict_ok {
                if let Some(date) = parse_fallback(raw) {
                    let text = if *rss {
                        date.to_rfc2822()
                    } else {
                        date.to_rfc3339()
                    };
                    edits.push((start, start + len, text));
                }
            }
            from = start + len;
        }
    }
    if edits.is_empty() {
        return None;
    }
    edits.sort_by_key(|e| e.0);
    let mut out = String::with_capacity(doc.len());
    let mut last = 0;
    for (start, end, text) in edits {
        if start < last {
            continue; // nested or overlapping: keep the first
        }
        out.push_str(&doc[last..start]);
        out.push_str(&text);
        last = end;
    }
    out.push_str(&doc[last..]);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Fuzzing (tests/fuzz, target `feed`): `Sep-2017` was read as the
    /// year -2017, and writing that as RFC 2822 panicked in `normalize`.
    #[test]
    fn years_rfc_2822_cannot_write_are_not_read() {
        assert_eq!(parse_fallback("Mon, 25 Sep-2017 10:00:00 +0300"), None);
        assert_eq!(parse_fallback("25 Sep 12017 10:00:00 GMT"), None);
        let doc =
            "<rss><channel><item><pubDate>Mon, 25 Sep-2017 10:00:00 +0300</pubDate></item></channel></rss>";
        assert_eq!(normalize(doc), None);
    }

    #[test]
    fn fallback_table() {
        for (raw, expected) in [
            (
                "Mon, 05 May 2025 13:30:00 IRST",
                Some("2025-05-05T10:00:00+00:00"),
            ),
            (
                "Mon, 05 May 2025 13:00:00 EEST",
                Some("2025-05-05T10:00:00+00:00"),
            ),
            ("05 May 2025 11:00:00 CET", Some("2025-05-05T10:00:00+00:00")),
            ("2025-05-05 10:00:00", Some("2025-05-05T10:00:00+00:00")),
            ("2025-05-05T10:00:00", Some("2025-05-05T10:00:00+00:00")),
            ("2025-05-05", Some("2025-05-05T00:00:00+00:00")),
            (
                "Monday, 05-May-25 10:00:00 GMT",
                Some("2025-05-05T10:00:00+00:00"),
            ),
            ("1746439200", Some("2025-05-05T10:00:00+00:00")),
            (
                "Sun, 05 May 2025 10:00:00 +0000",
                Some("2025-05-05T10:00:00+00:00"),
            ),
            (
                "Mon, 05 May 2025 13:30:00 GMT+3:30",
                Some("2025-05-05T10:00:00+00:00"),
            ),
            ("yesterday", None),
            ("", None),
        ] {
            assert_eq!(
                parse_fallback(raw).map(|d| d.to_rfc3339()).as_deref(),
                expected,
                "{raw}"
            );
        }
    }

    #[test]
    fn normalizes_only_what_feed_rs_would_drop() {
        let doc = "<item><pubDate>Mon, 05 May 2025 13:30:00 IRST</pubDate></item>\
                   <item><pubDate>Mon, 05 May 2025 10:00:00 +0000</pubDate></item>\
                   <entry><updated>2025-05-05 10:00:00</updated></entry>";
        let out = normalize(doc).unwrap();
        assert_eq!(
            out,
            "<item><pubDate>Mon, 5 May 2025 10:00:00 +0000</pubDate></item>\
             <item><pubDate>Mon, 05 May 2025 10:00:00 +0000</pubDate></item>\
             <entry><updated>2025-05-05T10:00:00+00:00</updated></entry>"
        );
        assert_eq!(
            normalize("<pubDate>Mon, 05 May 2025 10:00:00 +0000</pubDate>"),
            None
        );
    }
}
