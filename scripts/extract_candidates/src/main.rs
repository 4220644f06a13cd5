//! Runs candidate article extractors over the ScrapingHub benchmark.
//!
//! `extract_candidates BENCH_DIR OUT_DIR [NAME...]` writes, for every
//! candidate, `OUT_DIR/NAME.json` in the benchmark's prediction format
//! (`{"version": …, "output": {id: {"articleBody": …}}}`, so the
//! benchmark's own evaluate.py can score it) and `OUT_DIR/NAME.times.json`
//! (`{id: seconds}`), which `examples/extract_eval.rs` reads.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde_json::{json, Value};

type Extractor = fn(&str, &str) -> Result<String, String>;

const CANDIDATES: &[(&str, &str, Extractor)] = &[
    ("rs_trafilatura", "0.2.2", rs_trafilatura_default),
    ("rs_trafilatura_precision", "0.2.2", rs_trafilatura_precision),
    ("trafilatura", "0.6.0", trafilatura_default),
    ("trafilatura_fallback", "0.6.0", trafilatura_fallback),
    ("dom_smoothie", "0.19.0", dom_smoothie_raw),
    ("dom_smoothie_formatted", "0.19.0", dom_smoothie_formatted),
    ("readability", "0.3.0", readability_rs),
];

fn rs_trafilatura_default(html: &str, url: &str) -> Result<String, String> {
    let options = rs_trafilatura::Options {
        url: Some(url.to_owned()),
        ..rs_trafilatura::Options::default()
    };
    rs_trafilatura::extract_with_options(html, &options)
        .map(|r| r.content_text)
        .map_err(|e| e.to_string())
}

fn rs_trafilatura_precision(html: &str, url: &str) -> Result<String, String> {
    let options = rs_trafilatura::Options {
        url: Some(url.to_owned()),
        favor_precision: true,
        ..rs_trafilatura::Options::default()
    };
    rs_trafilatura::extract_with_options(html, &options)
        .map(|r| r.content_text)
        .map_err(|e| e.to_string())
}

fn trafilatura_with(html: &str, url: &str, fallback: bool) -> Result<String, String> {
    let mut options = trafilatura::Options::default()
        .with_fallback(fallback)
        .with_exclude_comments(true);
    if let Ok(url) = url::Url::parse(url) {
        options = options.with_url(url);
    }
    trafilatura::extract(html, &options)
        .map(|r| r.content_text)
        .map_err(|e| e.to_string())
}

fn trafilatura_default(html: &str, url: &str) -> Result<String, String> {
    trafilatura_with(html, url, false)
}

fn trafilatura_fallback(html: &str, url: &str) -> Result<String, String> {
    trafilatura_with(html, url, true)
}

fn dom_smoothie_with(html: &str, url: &str, mode: dom_smoothie::TextMode) -> Result<String, String> {
    let config = dom_smoothie::Config {
        text_mode: mode,
        ..dom_smoothie::Config::default()
    };
    let mut readability =
        dom_smoothie::Readability::new(html, Some(url), Some(config)).map_err(|e| e.to_string())?;
    readability
        .parse()
        .map(|a| a.text_content.to_string())
        .map_err(|e| e.to_string())
}

fn dom_smoothie_raw(html: &str, url: &str) -> Result<String, String> {
    dom_smoothie_with(html, url, dom_smoothie::TextMode::Raw)
}

fn dom_smoothie_formatted(html: &str, url: &str) -> Result<String, String> {
    dom_smoothie_with(html, url, dom_smoothie::TextMode::Formatted)
}

fn readability_rs(html: &str, url: &str) -> Result<String, String> {
    let url = url::Url::parse(url).map_err(|e| e.to_string())?;
    readability::extractor::extract(&mut html.as_bytes(), &url)
        .map(|p| p.text)
        .map_err(|e| e.to_string())
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 2 {
        eprintln!("usage: extract_candidates BENCH_DIR OUT_DIR [NAME...]");
        std::process::exit(2);
    }
    let bench = PathBuf::from(&args[0]);
    let out = PathBuf::from(&args[1]);
    let wanted = &args[2..];
    std::fs::create_dir_all(&out).expect("create OUT_DIR");
    let truth: BTreeMap<String, Value> = serde_json::from_slice(
        &std::fs::read(bench.join("ground-truth.json")).expect("read ground-truth.json"),
    )
    .expect("parse ground-truth.json");
    let pages: Vec<(String, String, String)> = truth
        .iter()
        .map(|(id, item)| {
            let url = item["url"].as_str().unwrap_or("https://example.com/").to_owned();
            (id.clone(), url, read_page(&bench, id))
        })
        .collect();
    for &(name, version, extractor) in CANDIDATES {
        if !wanted.is_empty() && !wanted.iter().any(|w| w == name) {
            continue;
        }
        let mut output = serde_json::Map::new();
        let mut times = serde_json::Map::new();
        let mut failures = 0;
        for (id, url, html) in &pages {
            let start = Instant::now();
            let result = extractor(html, url);
            times.insert(id.clone(), json!(start.elapsed().as_secs_f64()));
            let body = result.unwrap_or_else(|_| {
                failures += 1;
                String::new()
            });
            output.insert(id.clone(), json!({ "articleBody": body }));
        }
        let prediction = json!({ "version": version, "output": output });
        std::fs::write(out.join(format!("{name}.json")), prediction.to_string()).expect("write");
        std::fs::write(
            out.join(format!("{name}.times.json")),
            Value::Object(times).to_string(),
        )
        .expect("write");
        eprintln!("{name}: {} pages, {failures} errors", pages.len());
    }
}

fn read_page(bench: &Path, id: &str) -> String {
    let path = bench.join("html").join(format!("{id}.html.gz"));
    let file = std::fs::File::open(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut html = String::new();
    flate2::read::GzDecoder::new(file)
        .read_to_string(&mut html)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    html
}
