//! Measures SimHash Hamming distances on a feedfarm and on hand-made variants
//! of a real article, to choose the shingle size and the near-duplicate
//! threshold of `feedwatch::dedup` (the results are in that module's docs).
//!
//! ```sh
//! python3 ../shared/feedfarm/generate.py --out /tmp/farm-dedup-2000 --feeds 2000 --syndicated-share 0.2
//! cargo run --release --example simhash_threshold -- /tmp/farm-dedup-2000
//! ```
//!
//! That farm (60 000 items, 1.8 billion pairs) takes about 45 s of CPU; 300
//! feeds take 1.5 s and give the same picture with fewer pairs. Keep
//! `--syndicated-share` up: at the default 2 %, 300 feeds hold only 19
//! same-story pairs.
//!
//! Pair classes on the farm (all pairs, no sampling):
//! - `same story`: items sharing a `story` in `truth.jsonl` (wire copies);
//! - `edited copy`: each wire copy against itself with another item's
//!   headline, a byline header and a "Read more" footer (a harsher edit than
//!   the farm plants);
//! - `different`: every pair of items that are not the same story;
//! - `diff, same lang, en`: those in English (the farm's English vocabulary
//!   is 80 words);
//! - `diff, same lang, fa/ar/tr/ckb`: those in one of the other languages
//!   (vocabularies of 12 to 15 words, so word pairs repeat across items);
//! - `diff, same topic`: those in one language sharing a planted topic.

use std::collections::HashMap;
use std::path::Path;

use feedwatch::stories::fingerprint::simhash_shingles;
use feedwatch::stories::{article_words, hamming};

type Error = Box<dyn std::error::Error>;

/// Largest threshold tabulated.
const MAX_K: usize = 12;

struct Item {
    lang: String,
    topics: Vec<String>,
    story: Option<String>,
    feed: u64,
    title: String,
    text: String,
}

/// Histogram of distances 0..=64.
struct Histogram {
    counts: [u64; 65],
}

impl Histogram {
    fn new() -> Self {
        Histogram { counts: [0; 65] }
    }

    fn add(&mut self, distance: u32) {
        self.counts[distance as usize] += 1;
    }

    fn total(&self) -> u64 {
        self.counts.iter().sum()
    }

    fn at_most(&self, k: usize) -> u64 {
        self.counts[..=k].iter().sum()
    }

    /// Smallest distance d with at least `share` of pairs at or below it.
    fn quantile(&self, share: f64) -> usize {
        let need = (share * self.total() as f64).ceil().max(1.0) as u64;
        (0..=64).find(|&d| self.at_most(d) >= need).unwrap_or(64)
    }

    fn min(&self) -> usize {
        (0..=64).find(|&d| self.counts[d] > 0).unwrap_or(64)
    }

    fn max(&self) -> usize {
        (0..=64).rev().find(|&d| self.counts[d] > 0).unwrap_or(0)
    }
}

fn main() -> Result<(), Error> {
    let farm = std::env::args()
        .nth(1)
        .ok_or("usage: simhash_threshold FARM_DIR")?;
    let items = load_farm(Path::new(&farm))?;
    let stories = items.iter().filter(|i| i.story.is_some()).count();
    println!(
        "farm {farm}: {} items, {stories} wire copies in {} stories\n",
        items.len(),
        items
            .iter()
            .filter_map(|i| i.story.as_ref())
            .collect::<std::collections::HashSet<_>>()
            .len()
    );

    println!("## Farm: Hamming distance per pair class\n");
    print!("| shingle | class | pairs | min | p1 | p50 | p99 | max |");
    for k in 0..=MAX_K {
        print!(" ≤{k} |");
    }
    println!();
    println!("|{}", "---|".repeat(8 + MAX_K + 1));
    for size in 1..=3 {
        for (class, histogram) in farm_histograms(&items, size) {
            let h = &histogram;
            print!(
                "| {size} | {class} | {} | {} | {} | {} | {} | {} |",
                h.total(),
                h.min(),
                h.quantile(0.01),
                h.quantile(0.5),
                h.quantile(0.99),
                h.max()
            );
            for k in 0..=MAX_K {
                let n = h.at_most(k);
                if class.starts_with("diff") {
                    print!(" {n} |");
                } else {
                    print!(" {:.1}% |", 100.0 * n as f64 / h.total().max(1) as f64);
                }
            }
            println!();
        }
    }

    println!("\n## Real article (Mehr News sample) against variants\n");
    let variants = mehr_variants()?;
    println!("Each cell: measured distance (expected distance 64·θ/π over random hash functions,");
    println!("θ the angle between the two shingle-count vectors).\n");
    println!("| variant | words | shingle 1 | shingle 2 | shingle 3 |\n|---|---|---|---|---|");
    let (_, base) = &variants[0];
    for (name, text) in &variants[1..] {
        print!("| {name} | {} |", text.len());
        for size in 1..=3 {
            let d = hamming(simhash_shingles(base, size), simhash_shingles(text, size));
            print!(" {d} ({:.1}) |", expected_distance(base, text, size));
        }
        println!();
    }
    Ok(())
}

/// SimHash's expected Hamming distance between two texts: each bit is a
/// random hyperplane, which separates two vectors at angle θ with
/// probability θ/π (Charikar 2002).
fn expected_distance(a: &[String], b: &[String], size: usize) -> f64 {
    let counts = |words: &[String]| {
        let mut counts: HashMap<String, f64> = HashMap::new();
        for shingle in words.windows(size.min(words.len())) {
            *counts.entry(shingle.join(" ")).or_default() += 1.0;
        }
        counts
    };
    let (a, b) = (counts(a), counts(b));
    let dot: f64 = a.iter().map(|(s, x)| x * b.get(s).unwrap_or(&0.0)).sum();
    let norm = |c: &HashMap<String, f64>| c.values().map(|x| x * x).sum::<f64>().sqrt();
    let cosine = (dot / (norm(&a) * norm(&b))).clamp(-1.0, 1.0);
    64.0 * cosine.acos() / std::f64::consts::PI
}

/// Items of the farm with their ground truth.
fn load_farm(dir: &Path) -> Result<Vec<Item>, Error> {
    let mut truth: HashMap<String, serde_json::Value> = HashMap::new();
    for line in std::fs::read_to_string(dir.join("truth.jsonl"))?.lines() {
        let row: serde_json::Value = serde_json::from_str(line)?;
        truth.insert(row["guid"].as_str().unwrap_or_default().to_string(), row);
    }
    let mut items = Vec::new();
    for path in std::fs::read_to_string(dir.join("paths.txt"))?.lines() {
        let bytes = std::fs::read(dir.join(path.trim_start_matches('/')))?;
        let feed = feedwatch::parse::parse_feed(&bytes, &format!("https://farm.example{path}"))?;
        for item in feed.items {
            // RSS 1.0 items have no GUID; their link names feed and sequence.
            let guid = item
                .guid
                .or_else(|| item.url.as_deref().and_then(guid_from_link))
                .ok_or("farm item without guid or link")?;
            let row = truth.get(&guid).ok_or("item missing from truth.jsonl")?;
            items.push(Item {
                lang: row["lang"].as_str().unwrap_or_default().to_string(),
                topics: row["topics"]
                    .as_array()
                    .map(|t| t.iter().filter_map(|t| t.as_str().map(String::from)).collect())
                    .unwrap_or_default(),
                story: row["story"].as_str().map(String::from),
                feed: row["feed"].as_u64().unwrap_or_default(),
                title: item.title,
                text: item.text,
            });
        }
    }
    Ok(items)
}

/// `https://outlet7.example/en/news/9990?…` → `urn:farm:7:9990`.
fn guid_from_link(link: &str) -> Option<String> {
    let rest = link.strip_prefix("https://outlet")?;
    let (feed, path) = rest.split_once(".example/")?;
    let seq = path.split('/').nth(2)?.split('?').next()?;
    Some(format!("urn:farm:{feed}:{seq}"))
}

fn farm_histograms(items: &[Item], size: usize) -> Vec<(&'static str, Histogram)> {
    let fps: Vec<u64> = items
        .iter()
        .map(|i| simhash_shingles(&article_words(&i.title, &i.text), size))
        .collect();
    let (mut same, mut edited) = (Histogram::new(), Histogram::new());
    let (mut diff, mut diff_en, mut diff_small, mut diff_topic) = (
        Histogram::new(),
        Histogram::new(),
        Histogram::new(),
        Histogram::new(),
    );
    for (i, a) in items.iter().enumerate() {
        if a.story.is_some() {
            // Another item's headline, an outlet byline and footer.
            let title = &items[(i + 1) % items.len()].title;
            let text = format!(
                "By Staff Writer, Outlet {} — {} Read more at outlet{}.example.",
                a.feed, a.text, a.feed
            );
            let copy = simhash_shingles(&article_words(title, &text), size);
            edited.add(hamming(fps[i], copy));
        }
        for (j, b) in items.iter().enumerate().skip(i + 1) {
            let d = hamming(fps[i], fps[j]);
            if a.story.is_some() && a.story == b.story {
                same.add(d);
                continue;
            }
            diff.add(d);
            if a.lang == b.lang {
                if a.lang == "en" {
                    diff_en.add(d);
                } else {
                    diff_small.add(d);
                }
                if a.topics.iter().any(|t| b.topics.contains(t)) {
                    diff_topic.add(d);
                }
            }
        }
    }
    vec![
        ("same story", same),
        ("edited copy", edited),
        ("different", diff),
        ("diff, same lang, en", diff_en),
        ("diff, same lang, fa/ar/tr/ckb", diff_small),
        ("diff, same topic", diff_topic),
    ]
}

/// The sample article's last sentence (before its licence line).
const LAST_SENTENCE: &str = " The reciprocal visits by the military chiefs are the first of their \
    kinds between Iran and Turkey, a NATO member, since the victory of the Islamic Revolution in \
    Iran in 1979.";

/// The Mehr News sample article (words of title and text) first, then named
/// variants: the wire copies of `tests/fixtures/dedup/wire-copies.txt`, which
/// must stay within the threshold, harder edits, and different articles about
/// the same event, which must not.
fn mehr_variants() -> Result<Vec<(String, Vec<String>)>, Error> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let fixtures = root.join("tests/fixtures/dedup");
    let sample = std::fs::read(root.join("config/samples/mehr-news-en.xml"))?;
    let feed = feedwatch::parse::parse_feed(&sample, "https://en.mehrnews.com/")?;
    let (title, text) = (&feed.items[0].title, &feed.items[0].text);
    let mut variants = vec![("original".to_string(), article_words(title, text))];

    for line in std::fs::read_to_string(fixtures.join("wire-copies.txt"))?.lines() {
        if let Some((name, template)) = line.split_once('\t').filter(|_| !line.starts_with('#')) {
            let copy = template.replace("{text}", text);
            variants.push((name.to_string(), article_words(title, &copy)));
        }
    }

    let retitled = "Iran and Turkey military chiefs say Kurdish independence vote unacceptable";
    let unlicensed = text
        .split(" PA/PA")
        .next()
        .unwrap_or(text)
        .replace("TEHRAN – ", "");
    let ap = format!(
        "TEHRAN, Iran (AP) — {unlicensed} Copyright 2017 The Associated Press. All rights \
         reserved. This material may not be published, broadcast, rewritten or redistributed."
    );
    let copy_edited = unlicensed
        .replace("Baqeri", "Bagheri")
        .replace("Bageri", "Bagheri")
        .replace("ISIL", "ISIS")
        .replace("on Saturday", "on Sept. 23")
        .replace(LAST_SENTENCE, "");
    let lead = text.split_whitespace().take(60).collect::<Vec<_>>().join(" ");
    variants.extend([
        (
            "wire: new headline, TEHRAN (AP) dateline, no licence line, copyright footer".into(),
            article_words(retitled, &ap),
        ),
        (
            "copy-edited: spellings unified, ISIS, date, last sentence cut, new headline".into(),
            article_words(retitled, &copy_edited),
        ),
        (
            "lead only: first 60 words (summary feed)".into(),
            article_words(title, &lead),
        ),
    ]);

    for (name, file) in [
        ("Akar visit", "same-event-akar-visit.txt"),
        ("Shamkhani meeting", "same-event-shamkhani.txt"),
    ] {
        let body = std::fs::read_to_string(fixtures.join(file))?;
        let (other_title, other_text) = body.split_once('\n').unwrap_or((&body, ""));
        variants.push((
            format!("different article, same event: {name}"),
            article_words(other_title, other_text),
        ));
    }
    Ok(variants)
}
