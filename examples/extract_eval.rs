//! Scores article extraction on the ScrapingHub article-extraction
//! benchmark (github.com/scrapinghub/article-extraction-benchmark; not
//! shipped here: `scripts/extract_eval.sh` fetches it).
//!
//! ```text
//! cargo run --release --example extract_eval -- BENCH_DIR [PREDICTIONS.json ...] [--chain A.json+B.json ...]
//! ```
//!
//! `BENCH_DIR` holds the benchmark's `ground-truth.json` and
//! `html/*.html.gz`. Every page goes through [`feedwatch::extract::extract`]
//! (a page it rejects counts as an empty prediction), timed one by one.
//! Each `PREDICTIONS.json` (the benchmark's `output/*.json` format, e.g.
//! written by `scripts/extract_candidates`) is scored the same way, with
//! its per-page times from `NAME.times.json` beside it if there is one.
//! `--chain A.json+B.json` scores A with B's text wherever A's has fewer
//! than 200 characters (Media Cloud's rule), its time A's plus B's there.
//!
//! The metric is the benchmark's `evaluate.py`, rule for rule: `\w+`
//! tokens, 4-token shingles counted as a multiset, each page's TP/FP/FN
//! normalised to sum 1, precision and recall the means over the pages where
//! they are defined, F1 from those means; accuracy is the share of pages
//! whose token sequence is exactly right. (`\w` here is
//! `char::is_alphanumeric` or `_`, Python's is `str.isalnum` or `_`; they
//! differ only on combining vowel signs, which Rust counts as alphabetic and
//! the English benchmark lacks.)
//! It prints a Markdown table: F1, precision, recall, accuracy, median and
//! p95 milliseconds per page, pages per second, empty predictions.

use std::collections::{BTreeMap, HashMap};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde_json::Value;

/// `(id, text)` predictions and per-page seconds of one extractor.
struct Run {
    name: String,
    version: String,
    texts: BTreeMap<String, String>,
    seconds: BTreeMap<String, f64>,
}

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(bench) = args.next().map(PathBuf::from) else {
        eprintln!("usage: extract_eval BENCH_DIR [PREDICTIONS.json ...] [--chain A.json+B.json ...]");
        std::process::exit(2);
    };
    let truth = ground_truth(&bench);
    let mut runs = vec![feedwatch_run(&bench, &truth)];
    while let Some(arg) = args.next() {
        if arg == "--chain" {
            let spec = args.next().expect("--chain A.json+B.json");
            let (a, b) = spec.split_once('+').expect("--chain A.json+B.json");
            runs.push(chain(&load(Path::new(a)), &load(Path::new(b))));
        } else {
            runs.push(load(Path::new(&arg)));
        }
    }
    println!(
        "| extractor | version | F1 | precision | recall | accuracy | median ms | p95 ms | pages/s | empty |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
    for run in &runs {
        let scores = score(&truth, run);
        let mut times: Vec<f64> = run.seconds.values().map(|s| s * 1000.0).collect();
        times.sort_by(f64::total_cmp);
        let (median, p95, rate) = if times.is_empty() {
            ("-".to_string(), "-".to_string(), "-".to_string())
        } else {
            let total: f64 = times.iter().sum();
            (
                format!("{:.1}", quantile(&times, 0.5)),
                format!("{:.1}", quantile(&times, 0.95)),
                format!("{:.0}", times.len() as f64 / (total / 1000.0)),
            )
        };
        let empty = run.texts.values().filter(|t| t.trim().is_empty()).count();
        println!(
            "| {} | {} | {:.3} | {:.3} | {:.3} | {:.3} | {median} | {p95} | {rate} | {empty} |",
            run.name, run.version, scores.f1, scores.precision, scores.recall, scores.accuracy
        );
    }
}

/// `id → (url, articleBody)`.
fn ground_truth(bench: &Path) -> BTreeMap<String, (String, String)> {
    let raw = std::fs::read(bench.join("ground-truth.json")).expect("read ground-truth.json");
    let items: BTreeMap<String, Value> = serde_json::from_slice(&raw).expect("ground-truth.json");
    items
        .into_iter()
        .map(|(id, item)| {
            let url = item["url"].as_str().unwrap_or("https://example.com/").to_string();
            let body = item["articleBody"].as_str().unwrap_or("").to_string();
            (id, (url, body))
        })
        .collect()
}

fn feedwatch_run(bench: &Path, truth: &BTreeMap<String, (String, String)>) -> Run {
    let mut run = Run {
        name: "feedwatch::extract".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        texts: BTreeMap::new(),
        seconds: BTreeMap::new(),
    };
    let mut rejected = BTreeMap::<&str, usize>::new();
    for (id, (url, _)) in truth {
        let path = bench.join("html").join(format!("{id}.html.gz"));
        let file = std::fs::File::open(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let mut page = String::new();
        flate2::read::GzDecoder::new(file)
            .read_to_string(&mut page)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let url = url::Url::parse(url).expect("page URL");
        let start = Instant::now();
        let result = feedwatch::extract::extract(&page, &url);
        run.seconds.insert(id.clone(), start.elapsed().as_secs_f64());
        let text = match result {
            Ok(extracted) => extracted.text,
            Err(e) => {
                *rejected.entry(e.kind()).or_default() += 1;
                String::new()
            }
        };
        run.texts.insert(id.clone(), text);
    }
    for (kind, n) in rejected {
        eprintln!("feedwatch::extract: {n} pages rejected as {kind}");
    }
    run
}

fn load(path: &Path) -> Run {
    let raw = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let data: Value = serde_json::from_slice(&raw).expect("predictions JSON");
    // evaluate.py's `load_prediction`: `{"version", "output"}` or bare.
    let (version, output) = match data.as_object() {
        Some(o) if o.len() == 2 && o.contains_key("version") && o["output"].is_object() => {
            (o["version"].as_str().unwrap_or("").to_string(), &o["output"])
        }
        _ => (String::new(), &data),
    };
    let texts = output
        .as_object()
        .expect("predictions: an object of ids")
        .iter()
        .map(|(id, item)| (id.clone(), item["articleBody"].as_str().unwrap_or("").to_string()))
        .collect();
    let stem = path
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("?")
        .to_string();
    let times_path = path.with_file_name(format!("{stem}.times.json"));
    let seconds = std::fs::read(&times_path)
        .ok()
        .and_then(|raw| serde_json::from_slice::<BTreeMap<String, f64>>(&raw).ok())
        .unwrap_or_default();
    Run {
        name: stem,
        version,
        texts,
        seconds,
    }
}

fn chain(a: &Run, b: &Run) -> Run {
    let mut run = Run {
        name: format!("{} → {}", a.name, b.name),
        version: String::new(),
        texts: BTreeMap::new(),
        seconds: BTreeMap::new(),
    };
    for (id, text) in &a.texts {
        let mut seconds = a.seconds.get(id).copied();
        let text = if text.trim().chars().count() < 200 {
            seconds = seconds.zip(b.seconds.get(id)).map(|(x, y)| x + y);
            b.texts.get(id).cloned().unwrap_or_default()
        } else {
            text.clone()
        };
        run.texts.insert(id.clone(), text);
        if let Some(s) = seconds {
            run.seconds.insert(id.clone(), s);
        }
    }
    run
}

struct Scores {
    f1: f64,
    precision: f64,
    recall: f64,
    accuracy: f64,
}

fn score(truth: &BTreeMap<String, (String, String)>, run: &Run) -> Scores {
    assert!(
        truth.keys().eq(run.texts.keys()),
        "{}: prediction keys do not match ground truth",
        run.name
    );
    let (mut precisions, mut recalls, mut exact) = (Vec::new(), Vec::new(), 0usize);
    for (id, (_, true_text)) in truth {
        let pred = &run.texts[id];
        let (tp, fp, fn_) = shingle_matching(true_text, pred);
        if tp + fp > 0.0 {
            precisions.push(precision_score(tp, fp, fn_));
        }
        if tp + fn_ > 0.0 {
            recalls.push(recall_score(tp, fp, fn_));
        }
        if tokens(true_text) == tokens(pred) {
            exact += 1;
        }
    }
    let precision = mean(&precisions);
    let recall = mean(&recalls);
    Scores {
        f1: 2.0 * precision * recall / (precision + recall),
        precision,
        recall,
        accuracy: exact as f64 / truth.len() as f64,
    }
}

fn precision_score(tp: f64, fp: f64, fn_: f64) -> f64 {
    if fp == 0.0 && fn_ == 0.0 {
        1.0
    } else if tp == 0.0 && fp == 0.0 {
        0.0
    } else {
        tp / (tp + fp)
    }
}

fn recall_score(tp: f64, fp: f64, fn_: f64) -> f64 {
    if fp == 0.0 && fn_ == 0.0 {
        1.0
    } else if tp == 0.0 && fn_ == 0.0 {
        0.0
    } else {
        tp / (tp + fn_)
    }
}

/// evaluate.py's `string_shingle_matching` with `ngram_n = 4`.
fn shingle_matching(true_text: &str, pred: &str) -> (f64, f64, f64) {
    let true_shingles = shingles(true_text);
    let pred_shingles = shingles(pred);
    let (mut tp, mut fp, mut fn_) = (0.0, 0.0, 0.0);
    for key in true_shingles
        .keys()
        .chain(pred_shingles.keys().filter(|k| !true_shingles.contains_key(*k)))
    {
        let t = *true_shingles.get(key).unwrap_or(&0) as f64;
        let p = *pred_shingles.get(key).unwrap_or(&0) as f64;
        tp += t.min(p);
        fp += (p - t).max(0.0);
        fn_ += (t - p).max(0.0);
    }
    let sum = tp + fp + fn_;
    if sum > 0.0 {
        (tp / sum, fp / sum, fn_ / sum)
    } else {
        (tp, fp, fn_)
    }
}

/// evaluate.py's `_ngrams`: every run of 4 tokens, or all the tokens as one
/// shingle when there are fewer; counted.
fn shingles(text: &str) -> HashMap<Vec<&str>, usize> {
    let tokens = tokens(text);
    let mut counts = HashMap::new();
    let n = 4;
    for i in 0..tokens.len().saturating_sub(n - 1).max(1) {
        let shingle = tokens[i.min(tokens.len())..(i + n).min(tokens.len())].to_vec();
        if !shingle.is_empty() {
            *counts.entry(shingle).or_insert(0) += 1;
        }
    }
    counts
}

/// evaluate.py's `_tokenize`: the matches of `\w+`.
fn tokens(text: &str) -> Vec<&str> {
    let word = |c: char| c.is_alphanumeric() || c == '_';
    text.split(|c: char| !word(c)).filter(|t| !t.is_empty()).collect()
}

fn mean(values: &[f64]) -> f64 {
    values.iter().sum::<f64>() / values.len() as f64
}

/// The `q` quantile of sorted `values` (nearest rank, as numpy's "lower").
fn quantile(sorted: &[f64], q: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * q) as usize]
}
