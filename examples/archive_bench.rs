//! Archive query latency on a stored database (issue 8, "Performance").
//!
//! Run with `cargo run --release --example archive_bench -- DB [RUNS]`
//! (DB: a SQLite file, or a PostgreSQL URL `postgres://…`)
//! (default 25 timed runs per query, after 3 warm-up runs). It opens the
//! database once, as `feedwatch search` and `feedwatch stats` do, and times
//! the library calls those commands make: [`archive::search`] (topic-language
//! query, newest first, limit 50: full-text candidates confirmed by the topic
//! evaluator, topics and feeds attached) and [`Store::volume`] with the same
//! bucket labels and zero-filled series as `stats --by day`. Nothing here
//! speaks SQL.
//!
//! The queries are written for the feedfarm (`/work/shared/feedfarm`) and
//! use its term sets (the `[terms]` of the farm config in BENCHMARKS.md,
//! built in below). The stats window is the 30 days before the newest
//! item's publication time (the farm's items are from 2017, so "now" would
//! find nothing). Prints one Markdown table row per query: hits returned,
//! median and p95 in ms; then the overall p95 of every timed search.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use chrono::Duration as Span;
use feedwatch::archive::stats::{bucket_labels, series};
use feedwatch::archive::{self, Search};
use feedwatch::config::Config;
use feedwatch::store::{parse_ts, Bucket, SearchFilter, Split, Store, VolumeQuery};

/// Topic-style queries an analyst would run against the farm archive.
const QUERIES: &[(&str, &str)] = &[
    ("NEAR + wildcard", "kurdistan NEAR/3 referend*"),
    ("phrase", "\"independence referendum\""),
    ("OR group AND name", "(Baqeri OR Bagheri) AND Akar"),
    ("title scope", "title:kurdistan"),
    ("lang filter, Persian", "lang:fa کردستان"),
    ("topic 1 (term sets)", "@kurdistan NEAR/3 @referendum"),
    ("topic 2 (term sets)", "@baqeri NEAR/5 @akar"),
    ("common word", "security"),
    ("two common words", "security cooperation"),
    ("uncommon word (0.15% of items)", "IKBY"),
    ("rare token (1 item)", "10004"),
    ("no hits", "Zanzibar"),
    ("NEAR with a common word", "referendum NEAR/1 football"),
];

const WARMUP: usize = 3;
const LIMIT: u32 = 50;

/// The farm config's term sets (BENCHMARKS.md, "Setup: the feed farm").
const TERMS: &str = r#"
[terms]
baqeri = ["Baqeri", "Bagheri", "Bakeri", "باقری"]
akar = ["Akar", "آکار", "وأكار", "ئاکار"]
kurdistan = ["Kurdistan", "Kurdish", "IKBY", "کردستان", "کوردستان"]
referendum = ["referend*", "referand*", "همه پرسی", "استفتاء", "الاستفتاء", "ڕیفراندۆم*"]
"#;

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Nearest-rank percentile (`p` in 0..=100) of unsorted samples, in ms.
fn percentile(samples: &[Duration], p: f64) -> f64 {
    let mut sorted: Vec<Duration> = samples.to_vec();
    sorted.sort();
    let rank = ((p / 100.0) * sorted.len() as f64).ceil().max(1.0) as usize;
    ms(sorted[rank.min(sorted.len()) - 1])
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let db = args.next().ok_or("usage: archive_bench DB|URL [RUNS]")?;
    let runs: usize = args.next().map(|s| s.parse()).transpose()?.unwrap_or(25);
    let (source, shown) = if db.starts_with("postgres") {
        (
            format!("[store]\nurl = {db:?}\n{TERMS}"),
            "a PostgreSQL database".to_string(),
        )
    } else {
        let path = std::path::absolute(PathBuf::from(&db))?;
        let size = std::fs::metadata(&path)?.len() as f64 / 1e6;
        (
            format!("[store]\npath = {:?}\n{TERMS}", path.to_string_lossy()),
            format!("{} ({size:.1} MB)", path.display()),
        )
    };
    let config = Config::parse(&std::env::temp_dir().join("archive_bench.toml"), &source)?;
    let store = Store::open_existing(config.store.location()).await?;

    println!(
        "database {shown}, {WARMUP} warm-up + {runs} timed runs per query, limit {LIMIT}, newest first\n"
    );
    println!("| query | hits | median ms | p95 ms |");
    println!("|---|---:|---:|---:|");
    let mut all: Vec<Duration> = Vec::new();
    for (label, query) in QUERIES {
        let request = Search {
            query: Some(query.to_string()),
            filter: SearchFilter::default(),
            after_id: None,
            limit: LIMIT,
        };
        let mut times = Vec::with_capacity(runs);
        let mut hits = 0;
        for run in 0..WARMUP + runs {
            let start = Instant::now();
            let (rows, _) = archive::search(&store, &config, &request, false).await?;
            let took = start.elapsed();
            hits = rows.len();
            if run >= WARMUP {
                times.push(took);
            }
        }
        println!(
            "| {label}: `{query}` | {hits} | {:.1} | {:.1} |",
            percentile(&times, 50.0),
            percentile(&times, 95.0)
        );
        all.extend(times);
    }
    println!(
        "\noverall: {} searches, median {:.1} ms, p95 {:.1} ms\n",
        all.len(),
        percentile(&all, 50.0),
        percentile(&all, 95.0)
    );

    // Stats: 30 days up to the newest item (an empty search: newest first).
    let newest = archive::search(
        &store,
        &config,
        &Search {
            limit: 1,
            ..Search::default()
        },
        false,
    )
    .await?
    .0;
    let newest = newest
        .first()
        .and_then(|r| parse_ts(&r.sort_at))
        .ok_or("the database has no items")?;
    let until = newest + Span::seconds(1);
    let since = until - Span::days(30);
    println!("stats --by day from {since} to {until} (30 days up to the newest item)\n");
    println!("| stats | series | items | median ms | p95 ms |");
    println!("|---|---:|---:|---:|---:|");
    let cases: [(&str, Option<&str>, Split); 5] = [
        ("all items", None, Split::None),
        ("all items, split by feed", None, Split::Feed),
        ("all items, split by lang", None, Split::Lang),
        (
            "topic kurdistan-referendum",
            Some("kurdistan-referendum"),
            Split::None,
        ),
        (
            "topic kurdistan-referendum, split by lang",
            Some("kurdistan-referendum"),
            Split::Lang,
        ),
    ];
    for (label, topic, split) in cases {
        let query = VolumeQuery {
            topics: topic.map(String::from).into_iter().collect(),
            since,
            until: Some(until),
            bucket: Bucket::Day,
            split,
        };
        let mut times = Vec::with_capacity(runs);
        let mut shape = (0, 0);
        for run in 0..WARMUP + runs {
            let start = Instant::now();
            let labels = bucket_labels(since, until, Bucket::Day)?;
            let rows = store.volume(&query).await?;
            let list = series(&rows, &labels);
            let took = start.elapsed();
            shape = (list.len(), list.iter().map(|s| s.total()).sum::<i64>());
            if run >= WARMUP {
                times.push(took);
            }
        }
        println!(
            "| {label} | {} | {} | {:.1} | {:.1} |",
            shape.0,
            shape.1,
            percentile(&times, 50.0),
            percentile(&times, 95.0)
        );
    }
    store.close().await;
    Ok(())
}
