//! Accuracy and cost of language identification (`feedwatch::langid`) on
//! items whose true language is known, with the feed's declaration
//! withheld (or given, with `--declared`).
//!
//! ```sh
//! python3 ../shared/feedfarm/generate.py --out /tmp/farm --feeds 300
//! scripts/langid_corpus.py farm /tmp/farm > /tmp/farm-items.jsonl
//! cargo run --release --example langid_eval -- /tmp/farm-items.jsonl
//! ```
//!
//! Input: JSON Lines `{"lang", "title", "text"}` (scripts/langid_corpus.py).
//! Output: per language, the share identified right from title and text
//! ("article") and from the title alone ("title"), what the misses were
//! identified as, and the time per item.

use std::collections::BTreeMap;
use std::io::BufRead;
use std::time::Instant;

use feedwatch::langid::identify;

fn main() {
    let mut args = std::env::args().skip(1);
    let path = args.next().expect("usage: langid_eval ITEMS.jsonl [--declared]");
    let declared = args.next().as_deref() == Some("--declared");
    let rows: Vec<(String, String, String)> =
        std::io::BufReader::new(std::fs::File::open(&path).expect("readable"))
            .lines()
            .map(|line| {
                let v: serde_json::Value = serde_json::from_str(&line.expect("readable")).expect("JSON");
                let field = |k: &str| v[k].as_str().unwrap_or("").to_string();
                (field("lang"), field("title"), field("text"))
            })
            .collect();
    for (what, title_only) in [("article", false), ("title", true)] {
        let mut by_lang: BTreeMap<&str, (u32, u32, BTreeMap<String, u32>)> = BTreeMap::new();
        let started = Instant::now();
        let got: Vec<String> = rows
            .iter()
            .map(|(lang, title, text)| {
                let text = if title_only { "" } else { text.as_str() };
                identify(title, text, declared.then_some(lang.as_str())).unwrap_or_else(|| "(none)".into())
            })
            .collect();
        let per_item = started.elapsed().as_secs_f64() * 1e6 / rows.len().max(1) as f64;
        for ((lang, _, _), got) in rows.iter().zip(got) {
            let entry = by_lang.entry(lang).or_default();
            entry.1 += 1;
            if got == *lang {
                entry.0 += 1;
            } else {
                *entry.2.entry(got).or_default() += 1;
            }
        }
        println!("{what}: {per_item:.1} µs/item");
        for (lang, (right, n, wrong)) in by_lang {
            let wrong: Vec<String> = wrong.iter().map(|(l, k)| format!("{l} {k}")).collect();
            println!(
                "  {lang:<4} {:>6.2} % ({right}/{n}){}",
                100.0 * f64::from(right) / f64::from(n),
                if wrong.is_empty() {
                    String::new()
                } else {
                    format!("; missed as {}", wrong.join(", "))
                }
            );
        }
    }
}
