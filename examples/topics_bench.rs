//! Standing queries at agency scale (issue 27): compile N topics mixed like
//! real briefs, match a fixed corpus of farm articles against them, and
//! check every match against a brute-force evaluation of every topic.
//!
//! ```text
//! python3 ../shared/feedfarm/generate.py --out /tmp/farm2k --feeds 2000   # once
//! cargo run --release --example topics_bench -- [--farm /tmp/farm2k] \
//!     [--feeds 100] [--topics 2,10000,100000] [--stats none,farm] [--verify 300]
//! ```
//!
//! The topics (deterministic: the first N of one sequence) cycle through
//! the mix of issue 27: a phrase (`"name name"` or `"common name"`),
//! `common AND (name OR name OR name)`, `name NEAR/5 common`,
//! `title:name OR "common name"`, `(name OR stem*) AND NOT common`. A name
//! is three consonant-vowel pairs and a number (`Rofumo35`); a stem is such
//! a name's letters (`Kalite*`); the common words are government, minister,
//! security, border, military, trade, parliament, election, president, oil.
//!
//! The corpus is the items of the farm's first `--feeds` feeds; one item in
//! eight has one to three of the topics' names planted in it (with a common
//! word before it, half the time; a stem with a suffix for a wildcard), so
//! every kind of topic matches some items at every N.
//!
//! `--stats none` anchors topics as a cold cycle does (a new database: no
//! word statistics, so the presearcher guesses from word lengths); `farm`
//! with document frequencies of other farm items (feeds after the measured
//! ones), as the pipeline computes them from recent stored items.
//!
//! Per N and statistics it prints: compile time (CPU seconds); the memory
//! compiling allocated at its peak and what the compiled set keeps (a
//! counting allocator); matching throughput in items per CPU-second of this
//! thread (the `Document`s are built beforehand: folding is the same at
//! every N); topics evaluated per article (median, p99, max); matches in
//! the corpus; and the brute-force check over the first `--verify` items.
//! Then (unless `--config no`), per N, start-up as the daemon does it:
//! reading a config of N topics (each query validated), compiling the set
//! and choosing anchors again with word statistics. The corpus depends on
//! the largest N asked for (names are planted from its topics): compare
//! runs with the same `--topics`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use feedwatch::model::NewItem;
use feedwatch::topics::{Document, Meta, TermSets, TopicSet, WordStats};

/// The system allocator, counting the bytes allocated now and at the peak.
struct Counting;

static CURRENT: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let ptr = System.alloc(layout);
        if !ptr.is_null() {
            let now = CURRENT.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout);
        CURRENT.fetch_sub(layout.size(), Ordering::Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let new = System.realloc(ptr, layout, new_size);
        if !new.is_null() {
            if new_size >= layout.size() {
                let now =
                    CURRENT.fetch_add(new_size - layout.size(), Ordering::Relaxed) + new_size - layout.size();
                PEAK.fetch_max(now, Ordering::Relaxed);
            } else {
                CURRENT.fetch_sub(layout.size() - new_size, Ordering::Relaxed);
            }
        }
        new
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// CPU time of this thread, in seconds.
fn thread_cpu() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid timespec for the call to fill.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9
}

/// Deterministic xorshift, so every run measures the same topics and corpus.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a>(&mut self, items: &'a [&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

const COMMON: &[&str] = &[
    "government",
    "minister",
    "security",
    "border",
    "military",
    "trade",
    "parliament",
    "election",
    "president",
    "oil",
];

/// Three consonant-vowel pairs, capitalised (`Rofumo`).
fn stem(rng: &mut Rng) -> String {
    const CONSONANTS: &[u8] = b"bcdfghjklmnprstvz";
    const VOWELS: &[u8] = b"aeiou";
    let mut s = String::new();
    for _ in 0..3 {
        s.push(CONSONANTS[rng.below(CONSONANTS.len())] as char);
        s.push(VOWELS[rng.below(VOWELS.len())] as char);
    }
    s[..1].make_ascii_uppercase();
    s
}

/// A stem and a number (`Rofumo35`).
fn name(rng: &mut Rng) -> String {
    let stem = stem(rng);
    format!("{stem}{}", 1 + rng.below(99))
}

/// A generated topic: its query and what an article says to mention it.
struct Brief {
    query: String,
    /// Names as they occur in articles (for a wildcard, the stem with a
    /// suffix).
    mentions: Vec<String>,
}

/// The first `n` topics of the issue's mix.
fn briefs(n: usize) -> Vec<Brief> {
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    (0..n)
        .map(|i| {
            let common = rng.pick(COMMON);
            match i % 5 {
                0 => {
                    let (a, b) = (name(&mut rng), name(&mut rng));
                    if rng.below(2) == 0 {
                        Brief {
                            query: format!("\"{a} {b}\""),
                            mentions: vec![format!("{a} {b}")],
                        }
                    } else {
                        Brief {
                            query: format!("\"{common} {a}\""),
                            mentions: vec![a],
                        }
                    }
                }
                1 => {
                    let names = [name(&mut rng), name(&mut rng), name(&mut rng)];
                    Brief {
                        query: format!("{common} AND ({} OR {} OR {})", names[0], names[1], names[2]),
                        mentions: names.to_vec(),
                    }
                }
                2 => {
                    let a = name(&mut rng);
                    Brief {
                        query: format!("{a} NEAR/5 {common}"),
                        mentions: vec![a],
                    }
                }
                3 => {
                    let (a, b) = (name(&mut rng), name(&mut rng));
                    Brief {
                        query: format!("title:{a} OR \"{common} {b}\""),
                        mentions: vec![a, b],
                    }
                }
                _ => {
                    let a = name(&mut rng);
                    let s = stem(&mut rng);
                    let suffix = ["", "s", "an", "42", "ov"][rng.below(5)];
                    Brief {
                        query: format!("({a} OR {s}*) AND NOT {}", rng.pick(COMMON)),
                        mentions: vec![a, format!("{s}{suffix}")],
                    }
                }
            }
        })
        .collect()
}

/// Items of the farm's feeds `from..to`.
fn farm_items(dir: &Path, from: usize, to: usize) -> Vec<NewItem> {
    let paths = std::fs::read_to_string(dir.join("paths.txt")).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; generate a farm first (see shared/feedfarm/README.md)",
            dir.display()
        )
    });
    let mut items = Vec::new();
    for path in paths.lines().skip(from).take(to - from) {
        let body = std::fs::read(dir.join(path.trim_start_matches('/'))).unwrap();
        let url = format!("http://127.0.0.1{path}");
        items.extend(feedwatch::parse::parse_feed(&body, &url).unwrap().items);
    }
    items
}

/// Plants mentions of the topics' names into one item in eight: one to
/// three briefs each, chosen so that low-numbered briefs (present at every
/// N) are mentioned as often as the rest.
fn plant(items: &mut [NewItem], briefs: &[Brief]) {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for item in items.iter_mut() {
        if rng.below(8) != 0 {
            continue;
        }
        for _ in 0..1 + rng.below(3) {
            // A brief below 10^k for k in 1..=digits(len): as many mentions
            // of the first 10 as of the next 90, and so on.
            let scale = 10usize.pow(1 + rng.below(briefs.len().ilog10().max(1) as usize) as u32);
            let brief = &briefs[rng.below(scale.min(briefs.len()))];
            let mention = &brief.mentions[rng.below(brief.mentions.len())];
            let mention = if rng.below(2) == 0 {
                format!("{} {mention}", rng.pick(COMMON))
            } else {
                mention.clone()
            };
            let target = if rng.below(5) == 0 {
                &mut item.title
            } else {
                &mut item.text
            };
            let spaces: Vec<usize> = target.match_indices(' ').map(|(i, _)| i).collect();
            let at = if spaces.is_empty() {
                target.len()
            } else {
                spaces[rng.below(spaces.len())]
            };
            target.insert_str(at, &format!(" {mention}"));
        }
    }
}

fn mib(bytes: usize) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

fn vm_hwm_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

struct Args {
    farm: PathBuf,
    feeds: usize,
    topics: Vec<usize>,
    stats: Vec<String>,
    verify: usize,
    config: bool,
}

fn args() -> Args {
    let mut args = Args {
        farm: PathBuf::from("/tmp/farm2k"),
        feeds: 100,
        topics: vec![2, 10_000, 100_000],
        stats: vec!["none".into(), "farm".into()],
        verify: 300,
        config: true,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().unwrap_or_else(|| panic!("{flag} needs a value"));
        match flag.as_str() {
            "--farm" => args.farm = value.into(),
            "--feeds" => args.feeds = value.parse().expect("--feeds N"),
            "--topics" => {
                args.topics = value
                    .split(',')
                    .map(|n| n.parse().expect("--topics N,N,…"))
                    .collect()
            }
            "--stats" => args.stats = value.split(',').map(String::from).collect(),
            "--verify" => args.verify = value.parse().expect("--verify N"),
            "--config" => args.config = value == "yes",
            other => panic!("unknown flag {other}"),
        }
    }
    args
}

fn main() {
    let args = args();
    let max_n = args.topics.iter().copied().max().unwrap_or(2);
    let all_briefs = briefs(max_n);
    let mut items = farm_items(&args.farm, 0, args.feeds);
    plant(&mut items, &all_briefs);
    let docs: Vec<Document> = items
        .iter()
        .map(|i| {
            let meta = Meta {
                lang: i.language.as_deref(),
                ..Meta::default()
            };
            Document::new(&i.title, &i.text, meta)
        })
        .collect();
    println!(
        "corpus: {} items of {} feeds of {}; VmHWM {:.0} MiB before topics",
        docs.len(),
        args.feeds,
        args.farm.display(),
        vm_hwm_mib()
    );
    let mut farm_stats = WordStats::default();
    if args.stats.iter().any(|s| s == "farm") {
        for item in farm_items(&args.farm, args.feeds, args.feeds + 200) {
            farm_stats.add_document(&item.title, &item.text);
        }
    }
    let no_stats = WordStats::default();
    println!(
        "{:>7} {:>5} {:>11} {:>10} {:>9} {:>11} {:>9} {:>14} {:>8} {:>9}",
        "topics",
        "stats",
        "compile cpu",
        "peak MiB",
        "kept MiB",
        "items/cpu-s",
        "µs/item",
        "eval med/p99/max",
        "matches",
        "verified"
    );
    for &n in &args.topics {
        let names: Vec<String> = (0..n).map(|i| format!("t{i}")).collect();
        let defs = || {
            names
                .iter()
                .map(String::as_str)
                .zip(all_briefs[..n].iter().map(|b| b.query.as_str()))
        };
        for stats_kind in &args.stats {
            let stats = if stats_kind == "farm" {
                &farm_stats
            } else {
                &no_stats
            };
            let base = CURRENT.load(Ordering::Relaxed);
            PEAK.store(base, Ordering::Relaxed);
            let started = thread_cpu();
            let set = TopicSet::compile_with_stats(defs(), &TermSets::new(), stats)
                .expect("generated queries parse");
            let compile = thread_cpu() - started;
            let peak = PEAK.load(Ordering::Relaxed) - base;
            let kept = CURRENT.load(Ordering::Relaxed) - base;

            let cpu = thread_cpu();
            let matches: usize = docs.iter().map(|d| set.matches(d).len()).sum();
            let cpu = thread_cpu() - cpu;

            let mut evaluated: Vec<usize> = docs.iter().map(|d| set.candidate_count(d)).collect();
            evaluated.sort_unstable();
            let at = |q: f64| evaluated[((evaluated.len() - 1) as f64 * q) as usize];

            let sample = args.verify.min(docs.len());
            let mut wrong = 0;
            for doc in &docs[..sample] {
                if set.matches(doc) != set.matches_exhaustive(doc) {
                    wrong += 1;
                }
            }
            let verified = if wrong == 0 {
                format!("{sample} ok")
            } else {
                format!("{wrong}/{sample} DIFFER")
            };
            println!(
                "{:>7} {:>5} {:>10.2}s {:>10.1} {:>9.1} {:>11.0} {:>9.1} {:>14} {:>8} {:>9}",
                n,
                stats_kind,
                compile,
                mib(peak),
                mib(kept),
                docs.len() as f64 / cpu,
                cpu * 1e6 / docs.len() as f64,
                format!("{}/{}/{}", at(0.5), at(0.99), evaluated[evaluated.len() - 1]),
                matches,
                verified
            );
            assert_eq!(wrong, 0, "the presearcher dropped or added a match");
            drop(set);
        }
    }
    // Start-up as the daemon does it: the config (each query validated),
    // the compiled set, the anchors chosen again by word statistics.
    println!("VmHWM {:.0} MiB", vm_hwm_mib());
    if !args.config {
        return;
    }
    println!(
        "{:>7} {:>10} {:>10} {:>9} {:>9}   (CPU seconds)",
        "topics", "config KB", "parse", "compile", "reindex"
    );
    for &n in &args.topics {
        let mut source = String::from("[store]\npath = \"bench.db\"\n");
        for (i, brief) in all_briefs[..n].iter().enumerate() {
            source.push_str(&format!(
                "\n[[topic]]\nname = \"t{i}\"\nquery = '{}'\n",
                brief.query
            ));
        }
        let started = thread_cpu();
        let config = feedwatch::config::Config::parse(Path::new("bench.toml"), &source)
            .expect("the generated config is valid");
        let parse = thread_cpu() - started;
        let started = thread_cpu();
        let mut set = config.topic_set();
        let compile = thread_cpu() - started;
        let started = thread_cpu();
        set.reindex(&farm_stats);
        let reindex = thread_cpu() - started;
        println!(
            "{:>7} {:>10} {:>9.2}s {:>8.2}s {:>8.2}s",
            n,
            source.len() / 1024,
            parse,
            compile,
            reindex
        );
    }
}
