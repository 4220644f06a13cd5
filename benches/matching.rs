//! Stage benchmarks for text and matching, over the feedfarm's real items.
//!
//! Needs a generated farm (see BENCHMARKS.md):
//!   python3 ../shared/feedfarm/generate.py --out /tmp/farm --feeds 2000
//!   FEEDFARM_DIR=/tmp/farm cargo bench --bench matching
//!
//! - `fold_tokenize`: `text::words` over title + text, throughput in bytes.
//! - `match/N`: building the `Document` (folding included) and matching it
//!   against N generated topics, throughput in items.

use std::path::PathBuf;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use feedwatch::model::NewItem;
use feedwatch::topics::{Document, Meta, TermSets, TopicSet, WordStats};

/// Items of the first `max_feeds` farm feeds.
fn farm_items(max_feeds: usize) -> Vec<NewItem> {
    let dir = PathBuf::from(std::env::var("FEEDFARM_DIR").unwrap_or_else(|_| "/tmp/farm".into()));
    let paths = std::fs::read_to_string(dir.join("paths.txt")).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; generate a farm first (see BENCHMARKS.md)",
            dir.display()
        )
    });
    let mut items = Vec::new();
    for path in paths.lines().take(max_feeds) {
        let body = std::fs::read(dir.join(path.trim_start_matches('/'))).unwrap();
        let url = format!("http://127.0.0.1{path}");
        items.extend(feedwatch::parse::parse_feed(&body, &url).unwrap().items);
    }
    items
}

/// Deterministic xorshift, so every run benchmarks the same topics.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn pick<'a>(&mut self, items: &'a [String]) -> &'a str {
        &items[(self.next() % items.len() as u64) as usize]
    }
}

/// Word statistics over a sample of the corpus, as the pipeline computes
/// them from recent stored items.
fn stats(items: &[NewItem]) -> WordStats {
    let mut stats = WordStats::default();
    for item in items.iter().take(5000) {
        stats.add_document(&item.title, &item.text);
    }
    stats
}

/// `n` realistic standing topics. Each names at least one entity (as
/// monitoring topics do): ORs of name variants, phrases with a name, NEARs
/// between names, wildcards; common words of the farm appear inside them.
/// Some entities are the farm's planted ones, most are synthetic names.
fn topics(n: usize, stats: &WordStats) -> TopicSet {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let syllables = [
        "ka", "ra", "mi", "zo", "bel", "tar", "qan", "dis", "hu", "len", "gor", "shi", "va", "ne",
    ];
    let mut names: Vec<String> = (0..4000)
        .map(|_| {
            let k = 2 + rng.next() % 3;
            let mut s: String = (0..k)
                .map(|_| syllables[(rng.next() % syllables.len() as u64) as usize])
                .collect();
            s[..1].make_ascii_uppercase();
            s
        })
        .collect();
    for real in [
        "Baqeri",
        "Bagheri",
        "Akar",
        "Kurdistan",
        "IKBY",
        "کردستان",
        "باقری",
        "Erbil",
        "Shamkhani",
    ] {
        names.push(real.to_string());
    }
    let common: Vec<String> = "government officials minister security border military cooperation trade \
        agreement parliament election president visit meeting forces conflict negotiations oil energy"
        .split_whitespace()
        .map(String::from)
        .collect();
    let queries: Vec<String> = (0..n)
        .map(|i| match i % 5 {
            0 => format!(
                "{} OR {} OR {}",
                rng.pick(&names),
                rng.pick(&names),
                rng.pick(&names)
            ),
            1 => format!(
                "\"{} {}\" AND {}",
                rng.pick(&common),
                rng.pick(&common),
                rng.pick(&names)
            ),
            2 => format!(
                "{} NEAR/10 ({} OR {})",
                rng.pick(&names),
                rng.pick(&names),
                rng.pick(&names)
            ),
            3 => format!(
                "title:{} AND ({} OR {}*)",
                rng.pick(&names),
                rng.pick(&common),
                rng.pick(&names).chars().take(3).collect::<String>()
            ),
            _ => format!(
                "({} OR {}) {} -{}",
                rng.pick(&names),
                rng.pick(&names),
                rng.pick(&common),
                rng.pick(&common)
            ),
        })
        .collect();
    let names: Vec<String> = (0..n).map(|i| format!("t{i}")).collect();
    TopicSet::compile_with_stats(
        names
            .iter()
            .map(String::as_str)
            .zip(queries.iter().map(String::as_str)),
        &TermSets::new(),
        stats,
    )
    .expect("generated queries parse")
}

fn bench(c: &mut Criterion) {
    let items = farm_items(300);
    let bytes: usize = items.iter().map(|i| i.title.len() + i.text.len()).sum();

    let mut group = c.benchmark_group("fold_tokenize");
    group.throughput(Throughput::Bytes(bytes as u64));
    group.bench_function("words", |b| {
        b.iter(|| {
            items
                .iter()
                .map(|i| feedwatch::text::words(&i.title).len() + feedwatch::text::words(&i.text).len())
                .sum::<usize>()
        })
    });
    group.finish();

    let mut group = c.benchmark_group("match");
    group.throughput(Throughput::Elements(items.len() as u64));
    group.sample_size(10);
    // Statistics from other feeds than the measured ones.
    let stats = stats(&farm_items(600)[items.len()..]);
    for n in [10, 1_000, 10_000] {
        let set = topics(n, &stats);
        group.bench_with_input(BenchmarkId::from_parameter(n), &set, |b, set| {
            b.iter(|| {
                items
                    .iter()
                    .map(|i| {
                        let meta = Meta {
                            lang: i.language.as_deref(),
                            ..Meta::default()
                        };
                        set.matches(&Document::new(&i.title, &i.text, meta)).len()
                    })
                    .sum::<usize>()
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
