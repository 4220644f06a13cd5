//! Stage benchmarks for the stages `benches/matching.rs` does not cover:
//! parsing, fingerprinting, storing and full-text search (issue 10).
//!
//! Over the feedfarm (see BENCHMARKS.md):
//!   python3 ../shared/feedfarm/generate.py --out /tmp/farm --feeds 2000
//!   FEEDFARM_DIR=/tmp/farm cargo bench --bench stages
//! Without `FEEDFARM_DIR` it runs on the two committed sample feeds in
//! `config/samples` (their items copied under new keys for the store and
//! search groups), so that `cargo bench` works on a fresh clone; those
//! numbers are a smoke test, not a measurement.
//!
//! - `parse_extract/*`: [`parse::parse_feed`] (decoding, date repair,
//!   feed-rs, HTML → plain text, link resolution) over documents as served,
//!   throughput in input bytes; one thread. `all` is every 10th farm feed
//!   (the farm's mix of formats), the others the first 50 feeds of one
//!   format.
//! - `fingerprint/*`: the per-item dedup work of the pipeline's `prepare`:
//!   folding title and text ([`stories::article_words`]), SimHash and the
//!   MinHash sketch ([`stories::fingerprint_and_sketch`]); the same without
//!   the folding (the pipeline folds once for matching, search and dedup);
//!   and [`stories::canonical_url`] of the item links.
//! - `store_insert/*`: [`Store::apply_feed_writes`] (the writer's group
//!   commit: one `BEGIN IMMEDIATE` transaction) of the items of 64 feeds,
//!   prepared as the pipeline prepares them (keys, content hashes,
//!   canonical URLs, fingerprints, sketches, full-text words, matches of the
//!   farm's two topics), into a fresh database file. Each measured write
//!   follows an unmeasured 48-feed write in the same process, so the story
//!   index copy is loaded as in a running daemon. `empty_db`: nothing else
//!   stored; `prefilled_db`: a copy of a database holding the items of the
//!   farm's first feeds (about 50,000). Throughput in items.
//! - `fts_search/*`: [`archive::search`] as `feedwatch search QUERY` makes it
//!   (newest first, limit 50, topics and feeds attached) on a database of
//!   every farm item (60,000), opened once.

use std::cell::OnceCell;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use chrono::Utc;
use criterion::{criterion_group, criterion_main, Criterion, SamplingMode, Throughput};
use feedwatch::archive::{self, Search};
use feedwatch::config::{Config, FeedConfig};
use feedwatch::fetch::Validators;
use feedwatch::model::{item_keys, NewItem};
use feedwatch::parse;
use feedwatch::store::{FeedUpdate, FeedWrite, ItemWrite, NextCheck, SearchText, Store};
use feedwatch::stories;
use feedwatch::text;
use feedwatch::topics::{Document, Meta, TopicSet};
use tokio::runtime::Runtime;

/// A feed document as served.
struct Doc {
    url: String,
    /// File extension in the farm: `xml` (RSS 2.0), `rdf`, `atom`, `json`.
    ext: String,
    body: Vec<u8>,
}

/// The documents to run on, and whether they are the farm's.
fn corpus() -> (Vec<Doc>, bool) {
    let Ok(dir) = std::env::var("FEEDFARM_DIR") else {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/samples");
        let docs = ["mehr-news-en.xml", "desk-notes.atom"]
            .iter()
            .map(|name| Doc {
                url: format!("https://samples.example/{name}"),
                ext: name.rsplit('.').next().unwrap().to_string(),
                body: std::fs::read(dir.join(name)).unwrap(),
            })
            .collect();
        eprintln!("FEEDFARM_DIR is not set: running on config/samples (a smoke test, not a measurement)");
        return (docs, false);
    };
    let dir = PathBuf::from(dir);
    let paths = std::fs::read_to_string(dir.join("paths.txt")).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; generate a farm first (see BENCHMARKS.md)",
            dir.display()
        )
    });
    let docs = paths
        .lines()
        .map(|path| Doc {
            url: format!("http://127.0.0.1{path}"),
            ext: path.rsplit('.').next().unwrap_or_default().to_string(),
            body: std::fs::read(dir.join(path.trim_start_matches('/'))).unwrap(),
        })
        .collect();
    (docs, true)
}

fn parse_extract(c: &mut Criterion) {
    let (docs, farm) = corpus();
    let mut sets: Vec<(&str, Vec<&Doc>)> =
        vec![("all", docs.iter().step_by(if farm { 10 } else { 1 }).collect())];
    for (name, ext) in [
        ("rss2", "xml"),
        ("rss1_rdf", "rdf"),
        ("atom", "atom"),
        ("json", "json"),
    ] {
        let set: Vec<&Doc> = docs.iter().filter(|d| d.ext == ext).take(50).collect();
        if !set.is_empty() {
            sets.push((name, set));
        }
    }
    let mut group = c.benchmark_group("parse_extract");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(15));
    for (name, set) in &sets {
        let bytes: usize = set.iter().map(|d| d.body.len()).sum();
        let items: usize = set
            .iter()
            .map(|d| parse::parse_feed(&d.body, &d.url).unwrap().items.len())
            .sum();
        eprintln!(
            "parse_extract/{name}: {} documents, {bytes} bytes, {items} items",
            set.len()
        );
        group.throughput(Throughput::Bytes(bytes as u64));
        group.bench_function(*name, |b| {
            b.iter(|| {
                set.iter()
                    .map(|d| parse::parse_feed(&d.body, &d.url).unwrap().items.len())
                    .sum::<usize>()
            })
        });
    }
    group.finish();
}

fn fingerprint(c: &mut Criterion) {
    let (docs, farm) = corpus();
    let items: Vec<NewItem> = docs
        .iter()
        .step_by(if farm { 10 } else { 1 })
        .flat_map(|d| parse::parse_feed(&d.body, &d.url).unwrap().items)
        .collect();
    let bytes: usize = items.iter().map(|i| i.title.len() + i.text.len()).sum();
    let words: Vec<Vec<String>> = items
        .iter()
        .map(|i| stories::article_words(&i.title, &i.text))
        .collect();
    let urls: Vec<&str> = items.iter().filter_map(|i| i.url.as_deref()).collect();
    eprintln!(
        "fingerprint: {} items, {bytes} bytes of title + text, {} links",
        items.len(),
        urls.len()
    );

    let mut group = c.benchmark_group("fingerprint");
    group.sample_size(20);
    group.measurement_time(Duration::from_secs(8));
    group.throughput(Throughput::Bytes(bytes as u64));
    group.bench_function("words_simhash_sketch", |b| {
        b.iter(|| {
            items
                .iter()
                .map(|i| {
                    // As `pipeline::prepare`: title and text folded apart.
                    let (title, text) = (text::words(&i.title), text::words(&i.text));
                    stories::fingerprint_and_sketch_of(&title, &text).map_or(0, |(_, sketch)| sketch.len())
                })
                .sum::<usize>()
        })
    });
    group.bench_function("simhash_sketch", |b| {
        b.iter(|| {
            words
                .iter()
                .map(|w| stories::fingerprint_and_sketch(w).map_or(0, |(_, sketch)| sketch.len()))
                .sum::<usize>()
        })
    });
    group.throughput(Throughput::Elements(urls.len() as u64));
    group.bench_function("canonical_url", |b| {
        b.iter(|| {
            urls.iter()
                .filter_map(|u| stories::canonical_url(u))
                .map(|u| u.len())
                .sum::<usize>()
        })
    });
    group.finish();
}

/// The farm config's term sets and topics (BENCHMARKS.md).
const FARM_CONFIG: &str = r#"
[terms]
baqeri = ["Baqeri", "Bagheri", "Bakeri", "باقری"]
akar = ["Akar", "آکار", "وأكار", "ئاکار"]
kurdistan = ["Kurdistan", "Kurdish", "IKBY", "کردستان", "کوردستان"]
referendum = ["referend*", "referand*", "همه پرسی", "استفتاء", "الاستفتاء", "ڕیفراندۆم*"]
[[topic]]
name = "kurdistan-referendum"
query = '@kurdistan NEAR/3 @referendum'
[[topic]]
name = "iran-turkey-military"
query = '@baqeri NEAR/5 @akar'
"#;

/// An item as the pipeline's `prepare` leaves it for the writer.
struct Prepared {
    item: NewItem,
    key: String,
    content_hash: String,
    canonical_url: Option<String>,
    fingerprint: Option<u64>,
    sketch: Option<Vec<u32>>,
    /// Indexes into the topic set.
    topics: Vec<usize>,
    search: SearchText,
}

struct FeedData {
    url: String,
    title: Option<String>,
    site_url: Option<String>,
    items: Vec<Prepared>,
}

/// Feeds to store: the farm's, or (without the farm) the samples copied
/// into 500 feeds whose items have their own keys.
fn feed_count(docs: &[Doc], farm: bool) -> usize {
    if farm {
        docs.len()
    } else {
        500
    }
}

/// Parses feed `i` and prepares its items as `pipeline::prepare` does for
/// a feed with nothing stored yet.
fn prepare_feed(docs: &[Doc], farm: bool, i: usize, topics: &TopicSet) -> FeedData {
    let doc = &docs[i % docs.len()];
    let copy = i / docs.len();
    let mut parsed = parse::parse_feed(&doc.body, &doc.url).unwrap();
    let url = if farm {
        doc.url.clone()
    } else {
        for item in &mut parsed.items {
            item.guid = item.guid.as_ref().map(|g| format!("{g}/{copy}"));
            item.url = item.url.as_ref().map(|u| format!("{u}/{copy}"));
        }
        format!("{}/{copy}", doc.url)
    };
    let mut seen = std::collections::HashSet::new();
    let keys = item_keys(&parsed.items);
    let mut items = Vec::new();
    for (item, key) in parsed.items.into_iter().zip(keys) {
        if !seen.insert(key.clone()) {
            continue;
        }
        let meta = Meta {
            lang: item.language.as_deref(),
            feed_name: parsed.title.as_deref(),
            feed_tags: &[],
        };
        let doc = Document::from_words(
            feedwatch::text::words(&item.title),
            feedwatch::text::words(&item.text),
            meta,
        );
        let matched = topics.matches(&doc);
        let (title_words, text_words) = doc.into_words();
        let search = SearchText::from_words(&title_words, &text_words);
        let mut words = title_words;
        words.extend(text_words);
        let (fingerprint, sketch) = stories::fingerprint_and_sketch(&words).unzip();
        items.push(Prepared {
            key,
            content_hash: item.content_hash(),
            canonical_url: item.url.as_deref().and_then(stories::canonical_url),
            fingerprint,
            sketch,
            topics: matched,
            search,
            item,
        });
    }
    FeedData {
        url,
        title: parsed.title,
        site_url: parsed.site_url,
        items,
    }
}

/// The writes of these feeds, as the pipeline hands them to the writer.
fn writes(feeds: &[FeedData], ids: &[(String, i64)], topic_ids: &[i64]) -> Vec<FeedWrite> {
    let ids: std::collections::HashMap<&str, i64> = ids.iter().map(|(u, id)| (u.as_str(), *id)).collect();
    let at = Utc::now();
    feeds
        .iter()
        .map(|feed| {
            FeedWrite::Update(FeedUpdate {
                feed_id: ids[feed.url.as_str()],
                at,
                status: 200,
                validators: Validators::default(),
                title: feed.title.clone(),
                site_url: feed.site_url.clone(),
                items: feed
                    .items
                    .iter()
                    .map(|p| ItemWrite {
                        item: p.item.clone(),
                        declared_lang: p.item.language.clone(),
                        key: p.key.clone(),
                        content_hash: p.content_hash.clone(),
                        stored: false,
                        canonical_url: p.canonical_url.clone(),
                        fingerprint: p.fingerprint,
                        sketch: p.sketch.clone(),
                        topic_ids: p.topics.iter().map(|&t| topic_ids[t]).collect(),
                        search: p.search.clone(),
                        page: false,
                    })
                    .collect(),
                story_window: chrono::Duration::days(7),
                next: NextCheck {
                    at,
                    interval: Duration::from_secs(600),
                    moved_to: None,
                },
                items_per_week: None,
                warning: None,
            })
        })
        .collect()
}

/// Feeds per group-commit transaction (the farm config polls 64 at a time).
const BATCH_FEEDS: usize = 64;
/// Feeds of the unmeasured write before each measured one.
const WARM_FEEDS: usize = 48;
/// Feeds whose items the prefilled database holds: 50,000 items on the
/// farm (30 items a feed).
const PREFILL_FEEDS: usize = 1_667;

/// A store with every feed and topic registered; returns the feed ids.
async fn open(path: &Path, feeds: &[FeedData], topics: &TopicSet) -> (Store, Vec<(String, i64)>, Vec<i64>) {
    let store = Store::open(path).await.unwrap();
    let configs: Vec<FeedConfig> = feeds
        .iter()
        .map(|f| FeedConfig {
            url: f.url.clone(),
            name: None,
            tags: Vec::new(),
            interval: None,
            min_interval: None,
            max_interval: None,
            lang: None,
            full_text: None,
        })
        .collect();
    let rows = store.sync_feeds(&configs).await.unwrap();
    let ids = rows.into_iter().map(|r| (r.url, r.id)).collect();
    let topic_ids = store
        .sync_topics(topics, chrono::Utc::now())
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.id)
        .collect();
    (store, ids, topic_ids)
}

/// Copies a closed database, with its write-ahead log if it kept one.
fn copy_db(from: &Path, to: &Path) {
    std::fs::copy(from, to).unwrap();
    let wal = |p: &Path| PathBuf::from(format!("{}-wal", p.display()));
    if wal(from).exists() {
        std::fs::copy(wal(from), wal(to)).unwrap();
    }
}

/// Writes these feeds in group commits of [`BATCH_FEEDS`].
async fn fill(store: &Store, feeds: &[FeedData], ids: &[(String, i64)], topic_ids: &[i64]) {
    for chunk in feeds.chunks(BATCH_FEEDS) {
        for result in store.apply_feed_writes(writes(chunk, ids, topic_ids)).await {
            result.unwrap();
        }
    }
}

fn store_and_search(c: &mut Criterion) {
    let rt = Runtime::new().unwrap();
    let (docs, farm) = corpus();
    let config = Config::parse(Path::new("/nonexistent/stages.toml"), FARM_CONFIG).unwrap();
    let topics = config.topic_set();
    let work = tempfile::tempdir().unwrap();
    // Feeds: [prefill | warm-up | measured | rest].
    let n = feed_count(&docs, farm);
    let warm = PREFILL_FEEDS.min(n - WARM_FEEDS - BATCH_FEEDS);
    let prefill = warm;
    let measured = warm + WARM_FEEDS;
    let end = measured + BATCH_FEEDS;
    // Everything is prepared (and the databases built) only when a
    // benchmark that needs it is selected.
    let data_cell: OnceCell<Vec<FeedData>> = OnceCell::new();
    let data = || {
        data_cell.get_or_init(|| {
            let started = Instant::now();
            let feeds: Vec<FeedData> = (0..n).map(|i| prepare_feed(&docs, farm, i, &topics)).collect();
            let items: usize = feeds.iter().map(|f| f.items.len()).sum();
            eprintln!("prepared {n} feeds, {items} items in {:.1?}", started.elapsed());
            feeds
        })
    };
    let template_cell: OnceCell<PathBuf> = OnceCell::new();
    let template = || {
        template_cell.get_or_init(|| {
            let feeds = data();
            let path = work.path().join("template.db");
            let started = Instant::now();
            rt.block_on(async {
                let (store, ids, topic_ids) = open(&path, feeds, &topics).await;
                fill(&store, &feeds[..prefill], &ids, &topic_ids).await;
                eprintln!(
                    "prefilled database: {} items from {prefill} feeds in {:.1?}",
                    store.item_count().await.unwrap(),
                    started.elapsed()
                );
                store.close().await;
            });
            let size = |p: &Path| std::fs::metadata(p).map_or(0, |m| m.len()) >> 20;
            eprintln!(
                "  {} MiB, {} MiB of write-ahead log (copied with it)",
                size(&path),
                size(&PathBuf::from(format!("{}-wal", path.display())))
            );
            path
        })
    };

    // Each measured write costs a database copy and a warm-up write besides:
    // few of them, 10 samples of one or two writes.
    let mut group = c.benchmark_group("store_insert");
    group.sample_size(10);
    group.sampling_mode(SamplingMode::Flat);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(2));
    let items: usize = (measured..end)
        .map(|i| prepare_feed(&docs, farm, i, &topics).items.len())
        .sum();
    eprintln!("store_insert: {items} items of {BATCH_FEEDS} feeds per transaction, after {WARM_FEEDS} feeds");
    group.throughput(Throughput::Elements(items as u64));
    for prefilled in [false, true] {
        let name = if prefilled { "prefilled_db" } else { "empty_db" };
        group.bench_function(name, |b| {
            let feeds = data();
            let template = prefilled.then(&template);
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let dir = tempfile::tempdir_in(work.path()).unwrap();
                    let path = dir.path().join("bench.db");
                    if let Some(template) = template {
                        copy_db(template, &path);
                    }
                    total += rt.block_on(async {
                        let (store, ids, topic_ids) = open(&path, feeds, &topics).await;
                        fill(&store, &feeds[warm..measured], &ids, &topic_ids).await;
                        let batch = writes(&feeds[measured..end], &ids, &topic_ids);
                        let started = Instant::now();
                        let results = store.apply_feed_writes(batch).await;
                        let elapsed = started.elapsed();
                        for result in results {
                            result.unwrap();
                        }
                        store.close().await;
                        elapsed
                    });
                }
                total
            })
        });
    }
    group.finish();

    let search_cell: OnceCell<Store> = OnceCell::new();
    let searched = || {
        search_cell.get_or_init(|| {
            let feeds = data();
            let path = work.path().join("search.db");
            copy_db(template(), &path);
            rt.block_on(async {
                let (store, ids, topic_ids) = open(&path, feeds, &topics).await;
                fill(&store, &feeds[prefill..], &ids, &topic_ids).await;
                eprintln!("search database: {} items", store.item_count().await.unwrap());
                store.close().await;
                Store::open_existing(&path).await.unwrap()
            })
        })
    };
    let mut group = c.benchmark_group("fts_search");
    group.sample_size(20);
    for (name, query) in [
        ("word_common", "security"),
        ("word_rare", "IKBY"),
        ("phrase", "\"independence referendum\""),
        ("and", "Baqeri AND Akar"),
        ("near", "kurdistan NEAR/3 referendum"),
        ("prefix", "referend*"),
    ] {
        let search = Search {
            query: Some(query.to_string()),
            limit: 50,
            ..Search::default()
        };
        let mut printed = false;
        group.bench_function(name, |b| {
            let store = searched();
            let run = || {
                rt.block_on(archive::search(store, &config, &search, false))
                    .unwrap()
                    .0
                    .len()
            };
            if !printed {
                eprintln!("fts_search/{name}: {query} -> {} hits (limit 50)", run());
                printed = true;
            }
            b.iter(run)
        });
    }
    group.finish();
    if let Some(store) = search_cell.get() {
        rt.block_on(store.close());
    }
}

criterion_group!(benches, parse_extract, fingerprint, store_and_search);
criterion_main!(benches);
