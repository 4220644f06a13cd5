//! Publication dates. feed-rs reads RFC 2822, RFC 3339 and RFC 1123 with a
//! few repairs ([`feed_rs_lenient`] does the same); for the rest,
//! [`parse_fallback`] reads zone abbreviations (`IRST`, `EEST`), naive
//! `2025-05-05 10:00:00` (taken as UTC), RFC 850, epoch seconds, a wrong
//! weekday, `Sept 25th, 2017`, and day-first `25/09/2017` or `25.09.2017`
//! (a slashed date only when it cannot be read the other way round), and
//! the forms of feedparser's own date tests ([`other_forms`],
//! [`two_digit_iso`]: asctime, `Thu Aug 30 2012 17:26:16 +0200`, no time,
//! `2003-12`, `03-12-31` as 2003, US zones without season).
//! [`normalize`] rewrites such dates in the document to RFC 2822 (RSS) or
//! RFC 3339 (Atom, Dublin Core) before feed-rs sees it, and [`read`] is the
//! timestamp parser feed-rs is given.
//!
//! A date that no rule reads leaves the item undated: it keeps its
//! first-seen time, and the feed gets a warning ([`crate::parse`]). So does
//! a date more than [`MAX_FUTURE_SKEW`] after the feed was fetched
//! ([`distrust_future`]): no publisher can know it, and it would sit at the
//! top of every newest-first list for years.

use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, NaiveDateTime, TimeDelta, TimeZone, Utc};

use crate::model::NewItem;

/// How far after the fetch a publication time is still believed (clocks
/// and zone labels are sometimes hours off); beyond it the item is taken as
/// undated.
pub const MAX_FUTURE_SKEW: TimeDelta = TimeDelta::days(1);

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
    // US zones without the season, as feedparser reads them.
    ("AT", -240),
    ("ET", -300),
    ("CT", -360),
    ("MT", -420),
    ("PT", -480),
    ("MET", 60),
    ("MEST", 120),
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
    // Two-digit-year ISO forms feedparser reads (`03-12-31`, `031231`,
    // `-03-12`): never the year 3.
    if let Some(d) = two_digit_iso(s) {
        return Some(d);
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
    with_zone(s)
        .or_else(|| numeric_date(s))
        .or_else(|| named_month(s))
        .or_else(|| other_forms(s))
}

/// `03-12-31`, `031231`, `-03-12`, `-0312`.
fn two_digit_iso(s: &str) -> Option<DateTime<Utc>> {
    let digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
    let date = match s.len() {
        8 if s.as_bytes()[2] == b'-' && s.as_bytes()[5] == b'-' => {
            NaiveDate::parse_from_str(s, "%y-%m-%d").ok()
        }
        6 if digits(s) => NaiveDate::parse_from_str(s, "%y%m%d").ok(),
        6 | 5 if s.starts_with('-') => {
            let rest = s[1..].replace('-', "");
            (rest.len() == 4 && digits(&rest))
                .then(|| NaiveDate::parse_from_str(&format!("{rest}01"), "%y%m%d").ok())
                .flatten()
        }
        _ => None,
    }?;
    Some(date.and_hms_opt(0, 0, 0)?.and_utc())
}

/// The rest of feedparser's date tests: asctime (`Sun Jan  4 16:29:06
/// 2004`, also with a zone before the year), month before day with the
/// year before the time (`Thu Aug 30 2012 17:26:16 +0200`), a comma after
/// the month, no time at all (`Thu, 01 Jan 2004`), `Etc/GMT`, fractional
/// seconds without a zone, `2003-12` and `2003`.
fn other_forms(s: &str) -> Option<DateTime<Utc>> {
    let words: Vec<&str> = s.split_whitespace().collect();
    let joined = words.join(" ");
    for format in ["%a %b %d %H:%M:%S %Y", "%a %b %d %Y %H:%M:%S"] {
        if let Ok(n) = NaiveDateTime::parse_from_str(&joined, format) {
            return Some(n.and_utc());
        }
    }
    for format in ["%a %b %d %H:%M:%S %z %Y", "%a %b %d %Y %H:%M:%S %z"] {
        if let Ok(d) = DateTime::parse_from_str(&joined, format) {
            return Some(d.to_utc());
        }
    }
    if let Ok(n) = NaiveDateTime::parse_from_str(&joined, "%Y-%m-%d %H:%M:%S%.f") {
        return Some(n.and_utc());
    }
    let without_weekday = match joined.split_once(',') {
        Some((day, rest)) if day.chars().all(char::is_alphabetic) => rest.trim(),
        _ => joined.as_str(),
    };
    if without_weekday.contains(',') || without_weekday.contains("Etc/") {
        let cleaned = without_weekday.replace(',', "").replace("Etc/", "");
        return with_zone(&cleaned)
            .or_else(|| DateTime::parse_from_rfc2822(&cleaned).ok().map(|d| d.to_utc()));
    }
    if let Ok(d) = NaiveDate::parse_from_str(without_weekday, "%d %b %Y") {
        return Some(d.and_hms_opt(0, 0, 0)?.and_utc());
    }
    let b = s.as_bytes();
    if b.len() == 7 && b[4] == b'-' && s[..4].bytes().chain(s[5..].bytes()).all(|c| c.is_ascii_digit()) {
        return NaiveDate::parse_from_str(&format!("{s}-01"), "%Y-%m-%d")
            .ok()?
            .and_hms_opt(0, 0, 0)
            .map(|d| d.and_utc());
    }
    if b.len() == 4 && b.iter().all(u8::is_ascii_digit) {
        return NaiveDate::from_ymd_opt(s.parse().ok()?, 1, 1)?
            .and_hms_opt(0, 0, 0)
            .map(|d| d.and_utc());
    }
    None
}

/// `Mon, 05 May 2025 13:30:00 IRST`: the weekday (possibly wrong, or RFC
/// 850's full name) split off, a zone at the end.
fn with_zone(s: &str) -> Option<DateTime<Utc>> {
    let without_weekday = match s.split_once(',') {
        Some((day, rest)) if day.chars().all(|c| c.is_alphabetic()) => rest.trim(),
        _ => s,
    };
    let (body, zone) = without_weekday.rsplit_once(' ')?;
    let offset = zone_offset(zone.trim())?;
    for format in [
        "%d %b %Y %H:%M:%S",
        "%d %b %Y %H:%M",
        "%d-%b-%y %H:%M:%S",
        "%d-%b-%Y %H:%M:%S",
        "%d %B %Y %H:%M:%S",
        "%Y-%m-%d %H:%M:%S",
        "%Y/%m/%d %H:%M:%S",
    ] {
        if let Ok(n) = NaiveDateTime::parse_from_str(body.trim(), format) {
            return offset.from_local_datetime(&n).single().map(|d| d.to_utc());
        }
    }
    None
}

/// `25.09.2017` (always day first) and `25/09/2017` or `09/25/2017`, with
/// an optional time and zone (else UTC). A slashed date is read only when
/// one of its first two numbers is over 12: `05/09/2017` is May 9 in one
/// country and September 5 in the next, and a wrong guess is worse than
/// none.
fn numeric_date(s: &str) -> Option<DateTime<Utc>> {
    let mut tokens = s.split_whitespace();
    let date = tokens.next()?;
    let separator = if date.contains('.') { '.' } else { '/' };
    let parts: Vec<&str> = date.split(separator).collect();
    let [a, b, year] = parts[..] else {
        return None;
    };
    let number = |t: &str| {
        (!t.is_empty() && t.len() <= 2 && t.bytes().all(|c| c.is_ascii_digit()))
            .then(|| t.parse::<u32>().ok())
            .flatten()
    };
    let (a, b) = (number(a)?, number(b)?);
    if year.len() != 4 || !year.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let (day, month) = match separator {
        '.' => (a, b),
        _ if a > 12 && b <= 12 => (a, b),
        _ if b > 12 && a <= 12 => (b, a),
        _ => return None,
    };
    let date = NaiveDate::from_ymd_opt(year.parse().ok()?, month, day)?;
    at_time(date, &tokens.collect::<Vec<_>>())
}

/// `Sept 25th, 2017`, `September 25, 2017 10:00 AM`, `25th September 2017`:
/// an English month name (abbreviated to at least three letters), a day
/// (with its ordinal suffix) and a year, then an optional time and zone
/// (else UTC). A leading weekday name is ignored.
fn named_month(s: &str) -> Option<DateTime<Utc>> {
    const MONTHS: [&str; 12] = [
        "january",
        "february",
        "march",
        "april",
        "may",
        "june",
        "july",
        "august",
        "september",
        "october",
        "november",
        "december",
    ];
    let month_of = |t: &str| {
        let t = t.trim_end_matches('.').to_ascii_lowercase();
        (t.len() >= 3)
            .then(|| MONTHS.iter().position(|m| m.starts_with(&t)))
            .flatten()
            .map(|i| i as u32 + 1)
    };
    let day_of = |t: &str| {
        let lower = t.to_ascii_lowercase();
        let digits = ["st", "nd", "rd", "th"]
            .iter()
            .find_map(|suffix| lower.strip_suffix(suffix))
            .unwrap_or(&lower);
        (!digits.is_empty() && digits.len() <= 2 && digits.bytes().all(|c| c.is_ascii_digit()))
            .then(|| digits.parse::<u32>().ok())
            .flatten()
    };
    let year_of = |t: &str| {
        (t.len() == 4 && t.bytes().all(|c| c.is_ascii_digit()))
            .then(|| t.parse::<i32>().ok())
            .flatten()
    };
    let cleaned = s.replace(',', " ");
    let mut tokens: Vec<&str> = cleaned.split_whitespace().collect();
    let weekday = |t: &str| {
        t.len() >= 3
            && [
                "monday",
                "tuesday",
                "wednesday",
                "thursday",
                "friday",
                "saturday",
                "sunday",
            ]
            .iter()
            .any(|d| d.starts_with(&t.trim_end_matches('.').to_ascii_lowercase()))
    };
    if tokens.first().is_some_and(|t| weekday(t)) {
        tokens.remove(0);
    }
    let [first, second, third, rest @ ..] = &tokens[..] else {
        return None;
    };
    let (month, day) = match (month_of(first), month_of(second)) {
        (Some(month), None) => (month, day_of(second)?),
        (None, Some(month)) => (month, day_of(first)?),
        _ => return None,
    };
    let date = NaiveDate::from_ymd_opt(year_of(third)?, month, day)?;
    at_time(date, rest)
}

/// `date` at the time in `rest`: nothing (midnight), `10:00`, `10:00:00`,
/// either followed by `AM`/`PM`, then an optional zone (else UTC). Anything
/// else is not a date.
fn at_time(date: NaiveDate, rest: &[&str]) -> Option<DateTime<Utc>> {
    let (time, rest) = match rest {
        [] => return Some(date.and_hms_opt(0, 0, 0)?.and_utc()),
        [time, rest @ ..] => (*time, rest),
    };
    let (meridiem, rest) = match rest {
        [m, rest @ ..] if m.eq_ignore_ascii_case("am") || m.eq_ignore_ascii_case("pm") => {
            (Some(m.to_ascii_lowercase()), rest)
        }
        _ => (None, rest),
    };
    let offset = match rest {
        [] => FixedOffset::east_opt(0)?,
        [zone] => zone_offset(zone)?,
        _ => return None,
    };
    let time = ["%H:%M:%S", "%H:%M"]
        .iter()
        .find_map(|f| chrono::NaiveTime::parse_from_str(time, f).ok())?;
    let time = match meridiem.as_deref() {
        None => time,
        Some(m) => {
            let hour = chrono::Timelike::hour(&time);
            if !(1..=12).contains(&hour) {
                return None;
            }
            let hour = hour % 12 + if m == "pm" { 12 } else { 0 };
            chrono::Timelike::with_hour(&time, hour)?
        }
    };
    offset
        .from_local_datetime(&date.and_time(time))
        .single()
        .map(|d| d.to_utc())
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

/// The timestamp parser feed-rs is given: what feed-rs reads by itself
/// ([`feed_rs_lenient`]), else [`parse_fallback`]. (feed-rs takes one
/// parser instead of its own; [`crate::parse`] wraps this one to notice
/// dates that neither reads.)
pub fn read(raw: &str) -> Option<DateTime<Utc>> {
    feed_rs_lenient(raw).or_else(|| parse_fallback(raw))
}

/// feed-rs 2's own timestamp parser (`parser::util::parse_timestamp_lenient`,
/// which it does not export), rule for rule: RFC 3339 with a missing zone
/// colon or time, then RFC 2822 with `UTC`/`-0000`, any weekday, long month
/// names, hour 24 and one-digit hours repaired, then RFC 1123. Each repair
/// applies to its first occurrence only, as feed-rs's `Regex::replace`
/// does. `lenient_parser_agrees_with_feed_rs` checks it against feed-rs.
pub fn feed_rs_lenient(raw: &str) -> Option<DateTime<Utc>> {
    rfc3339_lenient(raw)
        .or_else(|| rfc2822_lenient(raw))
        .or_else(|| rfc1123_lenient(raw))
}

fn rfc3339_lenient(raw: &str) -> Option<DateTime<Utc>> {
    let mut s = raw.trim().to_string();
    // `(\+|-)(\d{2})(\d{2})` → `$1$2:$3`
    let bytes = s.as_bytes();
    if let Some(at) = (0..bytes.len().saturating_sub(4))
        .find(|&i| matches!(bytes[i], b'+' | b'-') && bytes[i + 1..i + 5].iter().all(u8::is_ascii_digit))
    {
        s.insert(at + 3, ':');
    }
    // `-\d{2}$` → `${0}T00:00:00+00:00`
    let b = s.as_bytes();
    if b.len() >= 3 && b[b.len() - 3] == b'-' && b[b.len() - 2..].iter().all(u8::is_ascii_digit) {
        s.push_str("T00:00:00+00:00");
    }
    DateTime::parse_from_rfc3339(s.trim()).ok().map(|d| d.to_utc())
}

fn rfc2822_lenient(raw: &str) -> Option<DateTime<Utc>> {
    const DAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let lower_run =
        |s: &str, from: usize| from + s[from..].bytes().take_while(u8::is_ascii_lowercase).count();
    let mut s = raw.trim().to_string();
    // `(UTC|-0000$)` → `+0000`: the leftmost of the two.
    let utc = s.find("UTC");
    let zeros = s.ends_with("-0000").then(|| s.len() - 5);
    match (utc, zeros) {
        (Some(u), z) if z.is_none_or(|z| u < z) => s.replace_range(u..u + 3, "+0000"),
        (_, Some(z)) => s.replace_range(z.., "+0000"),
        _ => {}
    }
    // `(Sun|Mon|Tue|Wed|Thu|Fri|Sat)[a-z]*, ` → ``
    let weekday = (0..s.len()).filter(|&i| s.is_char_boundary(i)).find_map(|i| {
        DAYS.iter().any(|d| s[i..].starts_with(d)).then(|| {
            let end = lower_run(&s, i + 3);
            s[end..].starts_with(", ").then_some((i, end + 2))
        })?
    });
    if let Some((from, to)) = weekday {
        s.replace_range(from..to, "");
    }
    // `(Jan|…|Dec)[a-z]*` → `$1`
    let month = (0..s.len())
        .filter(|&i| s.is_char_boundary(i))
        .find(|&i| MONTHS.iter().any(|m| s[i..].starts_with(m)));
    if let Some(at) = month {
        let end = lower_run(&s, at + 3);
        s.replace_range(at + 3..end, "");
    }
    // ` 24:` → ` 00:`
    if let Some(at) = s.find(" 24:") {
        s.replace_range(at..at + 4, " 00:");
    }
    // ` ([0-9]):` → ` 0$1:`
    let b = s.as_bytes();
    if let Some(at) = (0..b.len().saturating_sub(2))
        .find(|&i| b[i] == b' ' && b[i + 1].is_ascii_digit() && b[i + 2] == b':')
    {
        s.insert(at + 1, '0');
    }
    DateTime::parse_from_rfc2822(&s).ok().map(|d| d.to_utc())
}

fn rfc1123_lenient(raw: &str) -> Option<DateTime<Utc>> {
    let mut s = raw.trim().to_string();
    // ` Z$` → ` +0000`
    if s.ends_with(" Z") {
        s.truncate(s.len() - 1);
        s.push_str("+0000");
    }
    // `^[[:alpha:]]{3}, ` → ``
    let b = s.as_bytes();
    if b.len() >= 5 && b[..3].iter().all(u8::is_ascii_alphabetic) && &b[3..5] == b", " {
        s.replace_range(..5, "");
    }
    DateTime::parse_from_str(&s, "%d %b %Y %H:%M:%S %z")
        .ok()
        .map(|d| d.to_utc())
}

/// Items published (by their own account) more than [`MAX_FUTURE_SKEW`]
/// after `fetched_at` are taken as undated: they sort by first-seen time.
/// (`updated` is kept as given: nothing is ordered by it.) Returns the
/// feed's warning about them, if any.
pub fn distrust_future(items: &mut [NewItem], fetched_at: DateTime<Utc>) -> Option<String> {
    let limit = fetched_at + MAX_FUTURE_SKEW;
    let mut count = 0;
    let mut example = None;
    for item in items {
        if let Some(published) = item.published.take_if(|d| *d > limit) {
            example = example.or(Some(published));
            count += 1;
        }
    }
    let example = example?.format("%Y-%m-%dT%H:%M:%SZ");
    let skew = skew_text();
    Some(if count == 1 {
        format!(
            "1 item is dated {example}, more than {skew} after it was fetched; its first-seen time is used"
        )
    } else {
        format!(
            "{count} items are dated more than {skew} after they were fetched (e.g. {example}); their first-seen time is used"
        )
    })
}

/// [`MAX_FUTURE_SKEW`] in words: `1 day`, `36 hours`.
pub fn skew_text() -> String {
    let hours = MAX_FUTURE_SKEW.num_hours();
    match (hours % 24, hours / 24) {
        (0, 1) => "1 day".to_string(),
        (0, days) => format!("{days} days"),
        _ => format!("{hours} hours"),
    }
}

/// The feed's warning about items whose date was present but could not be
/// read, if any: how many, and the first such date as written.
pub fn unreadable_warning(count: usize, example: &str) -> Option<String> {
    const SHOWN: usize = 40;
    let shown: String = if example.chars().count() > SHOWN {
        example.chars().take(SHOWN - 1).chain(['…']).collect()
    } else {
        example.to_string()
    };
    match count {
        0 => None,
        1 => Some(format!(
            "1 item has a date that cannot be read ({shown:?}); its first-seen time is used"
        )),
        n => Some(format!(
            "{n} items have dates that cannot be read (e.g. {shown:?}); their first-seen time is used"
        )),
    }
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
            // Issue 21: day first when the day is over 12, else ambiguous.
            ("25/09/2017 10:00", Some("2017-09-25T10:00:00+00:00")),
            ("09/25/2017 10:00:00", Some("2017-09-25T10:00:00+00:00")),
            ("25/09/2017", Some("2017-09-25T00:00:00+00:00")),
            ("25/09/2017 13:30 +0330", Some("2017-09-25T10:00:00+00:00")),
            ("05/09/2017 10:00", None),
            ("32/09/2017 10:00", None),
            ("25/13/2017", None),
            ("25/09/17 10:00", None),
            // Dotted dates are day first everywhere they are written.
            ("05.09.2017 10:00", Some("2017-09-05T10:00:00+00:00")),
            ("25.09.2017", Some("2017-09-25T00:00:00+00:00")),
            // Month names: `Sept`, ordinal suffixes, commas, a weekday.
            ("Sept 25th, 2017", Some("2017-09-25T00:00:00+00:00")),
            ("September 25, 2017 10:00 PM", Some("2017-09-25T22:00:00+00:00")),
            (
                "Monday, Sep 25, 2017, 12:15 am",
                Some("2017-09-25T00:15:00+00:00"),
            ),
            ("25th September 2017", Some("2017-09-25T00:00:00+00:00")),
            ("Sept 31st, 2017", None),
            ("Sept 25th, 2017 at noon", None),
            ("Se 25, 2017", None),
            // A time alone, and an impossible one, are no date.
            ("25:61:00", None),
            ("10:00", None),
            ("25/09/2017 25:61", None),
        ] {
            assert_eq!(
                parse_fallback(raw).map(|d| d.to_rfc3339()).as_deref(),
                expected,
                "{raw}"
            );
        }
    }

    /// feedparser 6.0.11's own date tests (`tests/runtests.py`,
    /// `date_tests`) for the formats feeds use: RFC 822 and its variants,
    /// asctime, W3C-DTF, ISO 8601 with two-digit years, MSSQL. (Greek,
    /// Hungarian, Korean and Google's three-digit month are left out.)
    #[test]
    fn feedparser_date_cases() {
        for (raw, expected) in [
            ("Thu, 30 Apr 2015 08:57:00 MET", Some("2015-04-30T07:57:00+00:00")),
            (
                "Thu, 30 Apr 2015 08:57:00 MEST",
                Some("2015-04-30T06:57:00+00:00"),
            ),
            ("Thu, 01 Jan 04 19:48:21 GMT", Some("2004-01-01T19:48:21+00:00")),
            ("Thu, 01 Jan 2004 19:48:21 GMT", Some("2004-01-01T19:48:21+00:00")),
            ("Thu,  5 Apr 2012 10:00:00 GMT", Some("2012-04-05T10:00:00+00:00")),
            (
                "Wed, 19 Aug 2009 18:28:00 Etc/GMT",
                Some("2009-08-19T18:28:00+00:00"),
            ),
            (
                "Wed, 19 Feb 2012 22:40:00 GMT-01:01",
                Some("2012-02-19T23:41:00+00:00"),
            ),
            (
                "Wed, 19 Feb 2012 22:40:00 -01:01",
                Some("2012-02-19T23:41:00+00:00"),
            ),
            (
                "Mon, 13 Feb, 2012 06:28:00 UTC",
                Some("2012-02-13T06:28:00+00:00"),
            ),
            ("Thu, 01 Jan 2004 00:00 GMT", Some("2004-01-01T00:00:00+00:00")),
            ("Thu, 01 Jan 2004", Some("2004-01-01T00:00:00+00:00")),
            (
                "Mon, 26 January 2004 16:31:00 AT",
                Some("2004-01-26T20:31:00+00:00"),
            ),
            (
                "Mon, 26 January 2004 16:31:00 ET",
                Some("2004-01-26T21:31:00+00:00"),
            ),
            (
                "Mon, 26 January 2004 16:31:00 CT",
                Some("2004-01-26T22:31:00+00:00"),
            ),
            (
                "Mon, 26 January 2004 16:31:00 MT",
                Some("2004-01-26T23:31:00+00:00"),
            ),
            (
                "Mon, 26 January 2004 16:31:00 PT",
                Some("2004-01-27T00:31:00+00:00"),
            ),
            (
                "Thu Aug 30 2012 17:26:16 +0200",
                Some("2012-08-30T15:26:16+00:00"),
            ),
            ("Sun, 16 Dec 2012 1:2:3:4 GMT", None),
            ("Sun, 16 zzz 2012 11:47:32 GMT", None),
            ("Sun, Dec x 2012 11:47:32 GMT", None),
            ("Sun, 16 Dec zz 11:47:32 GMT", None),
            ("Sun, 16 Dec 2012 11:47:32 +zz:00", None),
            ("Sun, 16 Dec 2012 11:47:32 +00:zz", None),
            ("Sun, 99 Jun 2009 12:00:00 GMT", None),
            ("Sun Jan  4 16:29:06 2004", Some("2004-01-04T16:29:06+00:00")),
            (
                "Sun Jul 15 01:16:00 +0000 2012",
                Some("2012-07-15T01:16:00+00:00"),
            ),
            ("Fri, 2006/09/15 08:19:53 EDT", Some("2006-09-15T12:19:53+00:00")),
            ("2003-12-31T10:14:55Z", Some("2003-12-31T10:14:55+00:00")),
            ("2003-12-31T10:14:55-08:00", Some("2003-12-31T18:14:55+00:00")),
            (
                "2007-04-23T23:25:47.538+10:00",
                Some("2007-04-23T13:25:47.538+00:00"),
            ),
            ("2003-12-31", Some("2003-12-31T00:00:00+00:00")),
            ("2003-12", Some("2003-12-01T00:00:00+00:00")),
            ("2003", Some("2003-01-01T00:00:00+00:00")),
            ("2004-02-28T18:14:55-08:00", Some("2004-02-29T02:14:55+00:00")),
            ("2003-12-31T25:14:55Z", None),
            ("2003-12-31T10:61:55Z", None),
            ("2003-12-31T10:14:61Z", None),
            ("22013", None),
            ("013", None),
            ("2013-01-27-01", None),
            ("2013-01-28T11:30:00-06:00Textra", None),
            ("2013-xx-27", None),
            ("2013-01-28T09:xx:00Z", None),
            ("2004-07-08 23:56:58 -00:20", Some("2004-07-09T00:16:58+00:00")),
            ("2004-07-08 23:56:58", Some("2004-07-08T23:56:58+00:00")),
            ("2004-07-08 23:56:58.0", Some("2004-07-08T23:56:58+00:00")),
            ("-0312", Some("2003-12-01T00:00:00+00:00")),
            ("031231", Some("2003-12-31T00:00:00+00:00")),
            ("03-12-31", Some("2003-12-31T00:00:00+00:00")),
            ("-03-12", Some("2003-12-01T00:00:00+00:00")),
            // `03335` (year and ordinal day) is not read: `22013` would be
            // read the same way, and feedparser refuses that one.
            ("03335", None),
            (
                "2003-12-31T10:14:55.1234Z",
                Some("2003-12-31T10:14:55.123400+00:00"),
            ),
        ] {
            assert_eq!(read(raw).map(|d| d.to_rfc3339()).as_deref(), expected, "{raw:?}");
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

    /// feed-rs's own parser, through a one-item document.
    fn feed_rs_reads(raw: &str) -> Option<DateTime<Utc>> {
        let doc = format!(
            "<rss version=\"2.0\"><channel><item><pubDate>{}</pubDate></item></channel></rss>",
            quick_xml::escape::escape(raw)
        );
        feed_rs::parser::parse(doc.as_bytes())
            .ok()?
            .entries
            .first()?
            .published
    }

    /// [`feed_rs_lenient`] replaces feed-rs's parser: it must read what
    /// feed-rs reads (dates would silently go), and nothing else wrongly.
    #[test]
    fn lenient_parser_agrees_with_feed_rs() {
        for raw in [
            "Sat, 23 Sep 2017 12:00:00 +0000",
            "Sat, 23 Sep 2017 12:00:00 GMT",
            "Sat, 23 Sep 2017 12:00:00 UTC",
            "Wed, 22 Jan 2020 10:58:02 -0000",
            "Wed, 25 Aug 2012 03:25:42 GMT",
            "Thurs, 13 Jul 2011 07:38:00 GMT",
            "26 August 2019 10:00:00 +0000",
            "2 September 2019 20:00:00 +0000",
            "24 Sep 2013 1:27 PDT",
            "5 Jun 2017 24:05 PDT",
            "Tue, 15 Nov 2022 20:15:04 Z",
            "mer, 16 nov 2022 00:38:15 +0100",
            "2016-10-01T00:00:00+10:00",
            "2014-12-29T14:53:35+0200",
            "2014-12-29T14:53:35Z",
            "2014-12-29T14:53:35.123-05:00",
            "2014-12-29",
            "  Sat, 23 Sep 2017 12:00:00 +0000  ",
            "Mon, 01 Jan 0001 00:00:00 UTC",
            "Sat, 23 Sep 2017 12:00:00 IRST",
            "23 Sep 2017",
            "25/09/2017 10:00",
            "Sept 25th, 2017",
            "25:61:00",
            "Sat, 23 September 2017 12:00:00 +0000",
            "Saturday, 23 Sep 2017 12:00:00 +0000",
            "Sat, 23 Sep 2017 9:05:00 +0300",
            "1506168000",
            "",
            "garbage",
        ] {
            assert_eq!(feed_rs_lenient(raw), feed_rs_reads(raw), "{raw:?}");
        }
    }

    #[test]
    fn read_takes_feed_rs_rules_then_the_fallbacks() {
        let read = |raw| read(raw).map(|d| d.to_rfc3339());
        assert_eq!(
            read("5 Jun 2017 24:05 PDT").as_deref(),
            Some("2017-06-05T07:05:00+00:00")
        );
        assert_eq!(
            read("Sept 25th, 2017").as_deref(),
            Some("2017-09-25T00:00:00+00:00")
        );
        assert_eq!(read("25:61:00"), None);
    }

    #[test]
    fn dates_far_ahead_of_the_fetch_are_not_believed() {
        let fetched = DateTime::parse_from_rfc3339("2017-09-25T12:00:00Z")
            .unwrap()
            .to_utc();
        let at = |s: &str| Some(DateTime::parse_from_rfc3339(s).unwrap().to_utc());
        let item = |published, updated| NewItem {
            published,
            updated,
            ..NewItem::default()
        };
        let mut items = vec![
            item(at("2017-09-25T10:00:00Z"), None),
            // Within a day ahead: a clock or a zone label off by hours.
            item(at("2017-09-26T12:00:00Z"), None),
            item(at("2099-01-01T00:00:00Z"), at("2099-01-01T00:00:00Z")),
            item(at("2017-09-26T12:00:01Z"), None),
            item(at("2017-09-25T10:00:00Z"), at("2030-01-01T00:00:00Z")),
        ];
        let warning = distrust_future(&mut items, fetched).unwrap();
        assert_eq!(
            warning,
            "2 items are dated more than 1 day after they were fetched (e.g. 2099-01-01T00:00:00Z); \
             their first-seen time is used"
        );
        let published: Vec<_> = items.iter().map(|i| i.published).collect();
        assert_eq!(
            published,
            [
                at("2017-09-25T10:00:00Z"),
                at("2017-09-26T12:00:00Z"),
                None,
                None,
                at("2017-09-25T10:00:00Z")
            ]
        );
        assert_eq!(items[4].updated, at("2030-01-01T00:00:00Z"), "kept as given");

        let mut one = vec![item(at("2099-01-01T00:00:00Z"), None)];
        assert_eq!(
            distrust_future(&mut one, fetched).unwrap(),
            "1 item is dated 2099-01-01T00:00:00Z, more than 1 day after it was fetched; \
             its first-seen time is used"
        );
        assert_eq!(
            distrust_future(&mut items, fetched),
            None,
            "nothing left to distrust"
        );
    }

    #[test]
    fn unreadable_warning_quotes_one_example() {
        assert_eq!(unreadable_warning(0, "x"), None);
        assert_eq!(
            unreadable_warning(3, "25:61:00").unwrap(),
            "3 items have dates that cannot be read (e.g. \"25:61:00\"); their first-seen time is used"
        );
        let long = unreadable_warning(1, &"9".repeat(100)).unwrap();
        assert!(long.contains(&format!("\"{}…\"", "9".repeat(39))), "{long}");
    }
}
