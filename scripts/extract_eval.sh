#!/usr/bin/env bash
# Article extraction on the ScrapingHub article-extraction benchmark
# (issue 24; BENCHMARKS.md "Article extraction (issue 24)").
#
#   scripts/extract_eval.sh [BENCH_DIR]
#
# BENCH_DIR is a copy of github.com/scrapinghub/article-extraction-benchmark
# (ground-truth.json, html/*.html.gz); without it the repository is cloned
# into target/article-extraction-benchmark. Nothing of it is committed.
#
# 1. scripts/extract_candidates (a crate of its own, so feedwatch does not
#    depend on the crates it did not choose) runs each candidate over the
#    181 pages: target/extract_eval/NAME.json (the benchmark's format) and
#    NAME.times.json (seconds per page).
# 2. examples/extract_eval runs feedwatch::extract over the same pages and
#    scores everything with the benchmark's metric: a Markdown table.
# Both are release builds, run one page at a time on one core; use nice on
# a shared machine and compare times from one run only.
set -euo pipefail
cd "$(dirname "$0")/.."

bench=${1:-target/article-extraction-benchmark}
if [[ ! -f $bench/ground-truth.json ]]; then
    git clone --depth 1 https://github.com/scrapinghub/article-extraction-benchmark "$bench"
fi
out=target/extract_eval
mkdir -p "$out"

CARGO_TARGET_DIR=target/extract_candidates cargo run --release --quiet \
    --manifest-path scripts/extract_candidates/Cargo.toml -- "$bench" "$out"
predictions=()
for f in "$out"/*.json; do
    [[ $f == *.times.json ]] || predictions+=("$f")
done
cargo run --release --quiet --example extract_eval -- "$bench" "${predictions[@]}" \
    --chain "$out/trafilatura.json+$out/dom_smoothie_formatted.json" \
    --chain "$out/dom_smoothie_formatted.json+$out/trafilatura.json"
