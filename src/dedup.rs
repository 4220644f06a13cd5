//! Building blocks of global deduplication and story clustering: canonical
//! article URLs, near-duplicate text fingerprints (SimHash) and an index that
//! finds fingerprints within a Hamming distance without a scan.
//!
//! This module owns the rules of "same article" (URL) and "same text, lightly
//! edited" (fingerprint), and the band layout the store persists to look
//! fingerprints up in SQL. It does no IO and keeps no state beyond
//! [`SimIndex`]; deciding what to merge and storing it is the store's and the
//! pipeline's business.
//!
//! # Shingle size and threshold: measured
//!
//! [`SHINGLE_WORDS`] = 2 and [`NEAR_DUPLICATE_DISTANCE`] = 8 come from
//! `examples/simhash_threshold.rs`, run on a feedfarm with more wire copies
//! than the default (at the default 2 %, 300 feeds give only 19 same-story
//! pairs):
//!
//! ```text
//! python3 ../shared/feedfarm/generate.py --out /tmp/farm-dedup-2000 --feeds 2000 --syndicated-share 0.2
//! cargo run --release --example simhash_threshold -- /tmp/farm-dedup-2000
//! ```
//!
//! Share (same story, edited copy) or number (the rest) of pairs within
//! distance k. 60 000 items; *same story*: 130 707 pairs of wire copies
//! sharing a `story` in `truth.jsonl`; *edited copy*: each of the 12 080
//! wire copies against itself with another item's headline, a byline header
//! and a "Read more" footer; *different, en*: 543 M pairs of different
//! English items; *different, tiny vocab*: 98 M pairs of different items in
//! Persian, Arabic, Turkish or Sorani; *same topic*: 620 597 different
//! items of one language sharing a planted topic.
//!
//! | shingle | pairs | p99 | ≤3 | ≤6 | ≤7 | ≤8 | ≤9 | ≤10 |
//! |---|---|---|---|---|---|---|---|---|
//! | 1 | same story | 5 | 93.8 % | 99.9 % | 100 % | 100 % | 100 % | 100 % |
//! | 1 | edited copy | 13 | 43.4 % | 76.3 % | 83.5 % | 88.9 % | 92.5 % | 95.4 % |
//! | 1 | different, en | — | 133 | 23 501 | 84 262 | 265 474 | 745 754 | 1 867 567 |
//! | 1 | different, tiny vocab | — | 4 788 381 | 25 971 657 | 36 263 797 | 47 034 317 | 57 522 997 | 67 109 394 |
//! | 1 | same topic | — | 0 | 55 | 134 | 375 | 988 | 2 458 |
//! | 2 | same story | 8 | 65.6 % | 96.1 % | 98.5 % | **99.5 %** | 99.9 % | 100 % |
//! | 2 | edited copy | 16 | 10.0 % | 41.7 % | 54.1 % | 65.5 % | 75.6 % | 83.4 % |
//! | 2 | different, en | — | 0 | 0 | 0 | **0** | 2 | 23 |
//! | 2 | different, tiny vocab | — | 24 | 4 419 | 16 018 | 49 913 | 138 082 | 342 671 |
//! | 2 | same topic | — | 0 | 0 | 0 | **0** | 0 | 0 |
//! | 3 | same story | 8 | 64.2 % | 95.6 % | 98.2 % | 99.3 % | 99.7 % | 99.9 % |
//! | 3 | edited copy | 17 | 3.5 % | 26.2 % | 38.4 % | 51.1 % | 63.2 % | 73.9 % |
//! | 3 | different, en | — | 0 | 0 | 0 | 0 | 3 | 13 |
//! | 3 | different, tiny vocab | — | 0 | 0 | 0 | 0 | 3 | 16 |
//! | 3 | same topic | — | 0 | 0 | 0 | 0 | 0 | 0 |
//!
//! The farm is unrealistic both ways. Its wire copies are too easy in
//! content (the same text plus one "Reported by Outlet N." sentence) but
//! short (60 to 300 words), and SimHash is noisy on short texts: five added
//! words already give a median distance of 3, so k = 3 keeps only two thirds
//! of them. Its different articles are too hard for short shingles: outside
//! English each language has a vocabulary of 12 to 15 words, so word pairs
//! repeat across unrelated items, which real languages do not do; English
//! (80 words) is closer.
//!
//! So a real article checks the farm's verdict: the Mehr News sample
//! (`config/samples/mehr-news-en.xml`, about 480 words) against copies of it
//! and against two different articles about the same event
//! (`tests/fixtures/dedup/`). Measured distance with this module's hash, and
//! in brackets the expected distance over random hash functions, 64·θ/π for
//! the angle θ between the shingle-count vectors (the spread around it is
//! close to binomial: a single pair can land several bits either side).
//!
//! | variant of the sample | shingle 1 | shingle 2 | shingle 3 |
//! |---|---|---|---|
//! | wire: Reuters header, bylines, "Read more" footer | 3 (1.8) | 3 (3.9) | 7 (4.6) |
//! | aggregator: "Posted by" header, share and related-links footer | 2 (2.1) | 2 (4.9) | 11 (5.9) |
//! | wire: new headline, "TEHRAN, Iran (AP) —", no licence line, copyright footer | 2 (2.2) | 6 (5.4) | 15 (6.5) |
//! | copy-edited: spellings unified, ISIS, date, last sentence cut, new headline | 2 (3.3) | 9 (7.2) | 11 (9.1) |
//! | lead only: first 60 words (a summary feed) | 16 (14.1) | 23 (22.3) | 30 (23.4) |
//! | different article, same event (Akar's visit) | 14 (13.1) | 27 (28.3) | 34 (31.5) |
//! | different article, same event (Shamkhani) | 13 (14.1) | 24 (27.8) | 36 (30.7) |
//!
//! Choice:
//! - **Word pairs** (shingle 2). Single words give false merges at distance
//!   0 on the farm, and on real text different articles about one event sit
//!   only 13 to 14 bits apart (P(d ≤ 8) ≈ 4 to 7 %). Word triples push real
//!   copies further out than pairs (expected 4.6 to 6.5 against 3.9 to 5.4;
//!   with this hash the aggregator and AP copies land at 11 and 15) for no
//!   gain on English or same-topic pairs; their edge is only on the tiny
//!   vocabularies.
//! - **k = 8**: the smallest k that keeps ≥ 99 % of same-story pairs with
//!   word pairs (99.5 %), with no false merge among 543 M different English
//!   pairs and 620 597 same-topic pairs. The real-text copies stay within it
//!   (3, 2, 6; by their expected distances, such copies stay within 8 with
//!   probability 91 to 98.5 %), and different articles on the same event are
//!   three times as far (24, 27).
//! - What k = 8 costs: two unrelated (random) fingerprints fall within 8 with
//!   probability 2.8·10⁻¹⁰, about 1.4 spurious pairs among 100 000 items of
//!   one language; and [`bands`] for k = 8 are 7 to 8 bits wide, so a lookup
//!   reads about 7 % of the indexed fingerprints (see [`bands`]).
//! - Out of reach at any safe k: heavy rewrites, a rewritten headline on a
//!   short summary (the "edited copy" class), and a summary against the full
//!   article (containment, not similarity).
//!
//! The first two copies (`tests/fixtures/dedup/wire-copies.txt`) and the two
//! different articles are also a unit test. The numbers were measured with
//! the `text::words` folding of this commit; a change to folding re-draws
//! every distance a little, so re-run the example after one.

use std::collections::HashMap;

use url::Url;

// ---------------------------------------------------------------------------
// Canonical URLs
// ---------------------------------------------------------------------------

/// Query parameters that only say how a reader arrived at an article, never
/// which article it is; [`canonical_url`] removes them (compared ASCII
/// case-insensitively). Parameters that can identify an article (`id`, `p`,
/// `story`, `article`, `page`, `s`, `v`, …) are deliberately absent.
pub const TRACKING_PARAMS: &[&str] = &[
    // Ad-network click identifiers, unique per click.
    "fbclid",  // Facebook
    "gclid",   // Google Ads
    "dclid",   // Google Display / DoubleClick
    "gclsrc",  // Google Ads, source of the gclid
    "gbraid",  // Google Ads, iOS app-to-web
    "wbraid",  // Google Ads, web-to-app
    "msclkid", // Microsoft Advertising
    "yclid",   // Yandex Direct
    "igshid",  // Instagram share id
    "igsh",    // Instagram share id (newer name)
    // Newsletter and marketing-automation tags.
    "mc_cid",  // Mailchimp campaign
    "mc_eid",  // Mailchimp subscriber
    "_hsenc",  // HubSpot e-mail
    "_hsmi",   // HubSpot e-mail
    "mkt_tok", // Marketo e-mail
    // Analytics and campaign tags used by news sites.
    "_ga",         // Google Analytics cross-domain linker
    "_gl",         // Google Analytics 4 cross-domain linker
    "cmpid",       // campaign id (Washington Post, Le Figaro, …)
    "cmp",         // campaign (The Guardian's `CMP=share_btn_tw`)
    "icid",        // internal-campaign id (CNN, Politico, …)
    "ocid",        // MSN / Microsoft Start origin campaign
    "smid",        // New York Times social-media id (`smid=tw-share`)
    "xtor",        // AT Internet (XiTi) source tag, common on French sites
    "ns_mchannel", // comScore tags (BBC)
    "ns_source",
    "ns_campaign",
    "ns_linkname",
    "ns_fee",
    "spm",     // Alibaba "super position model" click path
    "ref",     // referrer tag (`ref=rss`, `ref=hp`)
    "ref_src", // Twitter/X referrer
    "ref_url", // Twitter/X referrer
    "share",   // share-button marker
    "rss",     // `rss=1` appended to links in feeds
    // Feed-origin tags appended by outlets' own feeds.
    "feedtype",      // Reuters (`feedType=RSS`)
    "feedname",      // Reuters (`feedName=worldNews`)
    "ncid",          // Yahoo News, HuffPost (`ncid=rss`)
    "soc_src",       // Yahoo social source
    "soc_trk",       // Yahoo social tracking
    "guccounter",    // Yahoo consent redirect counter
    "guce_referrer", // Yahoo consent redirect referrer
    "guce_referrer_sig",
    "sr_share", // New York Times share source
    // AMP markers (`?amp`, `?amp=1`); `outputType=amp` is handled apart
    // because `outputType` alone can select a real variant.
    "amp",
    "usqp", // AMP cache request parameter
];

/// Prefixes of whole families of tracking parameters (ASCII
/// case-insensitive).
pub const TRACKING_PREFIXES: &[&str] = &[
    "utm_", // Google Analytics campaign tags: utm_source, utm_medium, utm_campaign, …
    "at_",  // AT Internet / Piano Analytics campaign tags: at_medium, at_campaign, … (BBC)
    "amp_", // AMP cache and viewer parameters: amp_js_v, amp_gsa, amp_r, …
];

/// The canonical form of an article URL, so that links differing only in
/// tracking, AMP or cosmetic variation compare equal. `None` for text that is
/// not an absolute `http`/`https` URL.
///
/// Rules, in order:
/// - the `url` crate parses and serialises: scheme and host lower-cased,
///   IDNA host to punycode, default port (80/443) dropped, dot segments
///   resolved, percent-encoding normalised;
/// - AMP cache and viewer wrappers (`*.cdn.ampproject.org/c/s/HOST/PATH`,
///   `www.google.com/amp/s/HOST/PATH`) are unwrapped to the publisher's URL;
/// - the fragment is dropped, unless it is a `#!` route (old single-page
///   sites name the article there), and so is a trailing dot of the host;
/// - an `amp.` host prefix is dropped when at least two labels remain
///   (`amp.example.com` → `example.com`, but `amp.dev` stays);
/// - `www.` is kept: it is a different host that may serve different pages,
///   and a false merge loses an article while a missed one only shows a
///   duplicate, which the content fingerprint still catches. `http` and
///   `https` stay distinct for the same reason;
/// - query parameters in [`TRACKING_PARAMS`] or starting with a
///   [`TRACKING_PREFIXES`] entry are removed, and `outputType=amp`; the rest
///   are sorted by key, then value, and re-encoded as
///   `application/x-www-form-urlencoded` (a parameter with an empty value is
///   written as its bare key); an empty query leaves no `?`;
/// - in the path, a final `index.html`, `index.htm` or `index.php` is
///   dropped, then a trailing slash (`/a/` = `/a` = `/a/index.html`; the
///   root stays `/`);
/// - AMP paths map to the article: a last segment `amp` is dropped
///   (`/story/1/amp/` → `/story/1`), so is a first segment `amp`
///   (`/amp/story/1` → `/story/1`), and a file suffix `.amp.html` becomes
///   `.html` and `.amp` is dropped (`/a.amp.html` → `/a.html`, `/a.amp` →
///   `/a`): publishers name the AMP page after the article page.
///
/// Unwrapping, the `amp.` host rule and the path rules repeat until none
/// applies, so a canonical URL is its own canonical form (`/a//` → `/a`).
pub fn canonical_url(raw: &str) -> Option<String> {
    let mut url = Url::parse(raw.trim()).ok()?;
    if !matches!(url.scheme(), "http" | "https") {
        return None;
    }
    // A wrapper may wrap a wrapper; each unwrapping shortens the URL.
    while let Some(unwrapped) = unwrap_amp_cache(&url) {
        url = unwrapped;
    }
    if !url.fragment().is_some_and(|f| f.starts_with('!')) {
        url.set_fragment(None);
    }

    let mut host = url.host_str()?.trim_end_matches('.');
    while let Some(rest) = host.strip_prefix("amp.").filter(|rest| rest.contains('.')) {
        host = rest;
    }
    let host = host.to_string();
    if url.host_str() != Some(host.as_str()) {
        url.set_host(Some(&host)).ok()?;
    }

    // Setting the path resolves dot segments, which can leave a trailing
    // slash for the path rules (`/a/..amp/` → `/a/.` → `/a/`).
    loop {
        let before = url.path().to_string();
        let path = canonical_path(&before);
        if path == before {
            break;
        }
        url.set_path(&path);
        if url.path() == before {
            break;
        }
    }

    let query = canonical_query(&url);
    url.set_query(query.as_deref());
    Some(url.into())
}

/// The publisher's URL inside an AMP cache or viewer URL:
/// `https://www-example-com.cdn.ampproject.org/c/s/www.example.com/a` and
/// `https://www.google.com/amp/s/www.example.com/a` → `https://www.example.com/a`
/// (without the `s/` the article is served over `http`).
fn unwrap_amp_cache(url: &Url) -> Option<Url> {
    let host = url.host_str()?;
    let inner = if host.ends_with(".cdn.ampproject.org") {
        url.path()
            .strip_prefix("/c/")
            .or_else(|| url.path().strip_prefix("/v/"))?
    } else if matches!(host, "www.google.com" | "google.com") {
        url.path().strip_prefix("/amp/")?
    } else {
        return None;
    };
    let (scheme, rest) = match inner.strip_prefix("s/") {
        Some(rest) => ("https", rest),
        // `/c/s` is the `s/` marker with nothing after it, not host `s`.
        None if inner == "s" => return None,
        None => ("http", inner),
    };
    let mut unwrapped = Url::parse(&format!("{scheme}://{rest}")).ok()?;
    unwrapped.set_query(url.query());
    unwrapped.host_str()?;
    Some(unwrapped)
}

/// Applies the path rules of [`canonical_url`] to a parsed (absolute) path,
/// until none applies: one round can leave work for another (`/a//`,
/// `/a/amp/amp`, `/a/amp/index.html/`), and a canonical URL must be its own
/// canonical form.
fn canonical_path(path: &str) -> String {
    let mut path = canonical_path_once(path);
    loop {
        // Every rule shortens the path, so this ends.
        let next = canonical_path_once(&path);
        if next == path {
            return path;
        }
        path = next;
    }
}

fn canonical_path_once(path: &str) -> String {
    let mut path = path.strip_suffix('/').unwrap_or(path);
    for index in ["/index.html", "/index.htm", "/index.php"] {
        if let Some(dir) = path.strip_suffix(index) {
            path = dir.strip_suffix('/').unwrap_or(dir);
            break;
        }
    }
    if let Some(article) = path.strip_suffix("/amp") {
        path = article;
    } else if path == "/amp" {
        path = "";
    }
    if path.starts_with("/amp/") {
        // Keep the slash that starts the article's path.
        path = &path["/amp".len()..];
    }
    let mut path = path.to_string();
    if let Some(stem) = path.strip_suffix(".amp.html") {
        path = format!("{stem}.html");
    } else if let Some(stem) = path.strip_suffix(".amp") {
        path = stem.to_string();
    }
    if path.is_empty() {
        path.push('/');
    }
    path
}

/// The query of `url` without tracking parameters, sorted and re-encoded;
/// `None` when nothing remains.
fn canonical_query(url: &Url) -> Option<String> {
    url.query()?;
    let mut pairs: Vec<(String, String)> = url
        .query_pairs()
        // A bare `=` (or `?=&=`) is no parameter: it would print as an empty
        // query, which the next canonicalisation drops.
        .filter(|(key, value)| !(key.is_empty() && value.is_empty() || is_tracking_param(key, value)))
        .map(|(key, value)| (key.into_owned(), value.into_owned()))
        .collect();
    if pairs.is_empty() {
        return None;
    }
    pairs.sort();
    let encode = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    let encoded: Vec<String> = pairs
        .iter()
        .map(|(key, value)| match value.as_str() {
            "" => encode(key),
            _ => format!("{}={}", encode(key), encode(value)),
        })
        .collect();
    Some(encoded.join("&"))
}

fn is_tracking_param(key: &str, value: &str) -> bool {
    let key = key.to_ascii_lowercase();
    TRACKING_PARAMS.contains(&key.as_str())
        || TRACKING_PREFIXES.iter().any(|p| key.starts_with(p))
        || (key == "outputtype" && value.eq_ignore_ascii_case("amp"))
}

// ---------------------------------------------------------------------------
// Near-duplicate fingerprints
// ---------------------------------------------------------------------------

/// Words per shingle in [`simhash`]. Chosen by measurement (module docs).
pub const SHINGLE_WORDS: usize = 2;

/// Hamming distance at or below which two fingerprints are the same text,
/// lightly edited. Chosen by measurement (module docs).
pub const NEAR_DUPLICATE_DISTANCE: u32 = 8;

/// Texts with fewer words get no [`fingerprint`]: their fingerprint is
/// dominated by the headline, and different articles under one recurring
/// headline ("Morning briefing", "Live updates") would merge.
pub const MIN_FINGERPRINT_WORDS: usize = 20;

/// The near-duplicate fingerprint of an article: [`simhash`] over the words
/// of its title followed by its text (as [`crate::text::words`] folds them).
/// `None` when there are fewer than [`MIN_FINGERPRINT_WORDS`] words.
///
/// Stored fingerprints depend on `text::words` folding, the shingle size and
/// the hash; a change to any of them means recomputing them.
pub fn fingerprint(title: &str, text: &str) -> Option<u64> {
    fingerprint_words(&article_words(title, text))
}

/// [`fingerprint`] of an article given as [`article_words`].
pub fn fingerprint_words(words: &[String]) -> Option<u64> {
    (words.len() >= MIN_FINGERPRINT_WORDS).then(|| simhash(words))
}

/// The words [`fingerprint`] hashes: the title's, then the text's.
pub fn article_words(title: &str, text: &str) -> Vec<String> {
    let mut words = crate::text::words(title);
    words.extend(crate::text::words(text));
    words
}

/// 64-bit SimHash of folded words over shingles of [`SHINGLE_WORDS`] words.
/// See [`simhash_shingles`].
pub fn simhash(words: &[String]) -> u64 {
    simhash_shingles(words, SHINGLE_WORDS)
}

/// 64-bit SimHash (Charikar) over shingles of `size` consecutive words: each
/// shingle's 64-bit hash votes +1 for its set bits and −1 for its clear bits
/// (a shingle occurring twice votes twice); bit `i` of the result is set when
/// the vote for bit `i` is positive. Texts with fewer than `size` words are
/// one shingle; no words gives 0.
///
/// The shingle hash is fixed and platform-independent, because fingerprints
/// are stored: FNV-1a over each word's bytes, the words of a shingle chained
/// with a rotate-xor-multiply step, and the murmur3 64-bit finaliser
/// (`fmix64`) so that every output bit depends on every input bit (plain
/// FNV-1a mixes its high bits poorly on short words, and SimHash uses all 64).
///
/// # Panics
/// If `size` is 0.
pub fn simhash_shingles(words: &[String], size: usize) -> u64 {
    assert!(size > 0, "shingle size must be at least one word");
    simhash_hashes(&word_hashes(words), size)
}

/// [`simhash_shingles`] of the words' [`word_hashes`].
fn simhash_hashes(hashes: &[u64], size: usize) -> u64 {
    if hashes.is_empty() {
        return 0;
    }
    let mut votes = SimHashVotes::default();
    for shingle in hashes.windows(size.min(hashes.len())) {
        votes.add(shingle_hash(shingle));
    }
    votes.fingerprint()
}

/// The votes of SimHash's shingle hashes. The vote for bit i is
/// (set − clear) = 2·set − shingles, so only the set bits are counted:
/// byte j of a hash adds `SPREAD[byte]` to `lanes[j]`, whose byte i then
/// counts bit 8j + i (eight counters in one addition; they are emptied into
/// `set` before a byte can overflow).
struct SimHashVotes {
    set: [u32; 64],
    lanes: [u64; 8],
    in_lanes: u32,
    shingles: u32,
}

impl Default for SimHashVotes {
    fn default() -> Self {
        SimHashVotes {
            set: [0; 64],
            lanes: [0; 8],
            in_lanes: 0,
            shingles: 0,
        }
    }
}

impl SimHashVotes {
    fn add(&mut self, hash: u64) {
        for (j, lane) in self.lanes.iter_mut().enumerate() {
            *lane += SPREAD[(hash >> (8 * j)) as u8 as usize];
        }
        self.shingles += 1;
        self.in_lanes += 1;
        if self.in_lanes == u32::from(u8::MAX) {
            self.empty_lanes();
        }
    }

    /// Adds the byte-wide counters to `set` and zeroes them.
    fn empty_lanes(&mut self) {
        for (j, lane) in self.lanes.iter_mut().enumerate() {
            for (i, count) in self.set[8 * j..8 * j + 8].iter_mut().enumerate() {
                *count += (*lane >> (8 * i) & 0xff) as u32;
            }
            *lane = 0;
        }
        self.in_lanes = 0;
    }

    /// Bit i set where the vote for bit i is positive.
    fn fingerprint(mut self) -> u64 {
        self.empty_lanes();
        self.set
            .iter()
            .enumerate()
            .filter(|(_, &count)| 2 * count > self.shingles)
            .fold(0, |fp, (bit, _)| fp | 1 << bit)
    }
}

/// `SPREAD[b]` has bit i of `b` as byte i: adding it to a `u64` counts the
/// set bits of `b` in eight byte-wide counters at once.
static SPREAD: [u64; 256] = {
    let mut table = [0u64; 256];
    let mut byte = 0;
    while byte < 256 {
        let mut bit = 0;
        while bit < 8 {
            table[byte] |= ((byte as u64 >> bit) & 1) << (8 * bit);
            bit += 1;
        }
        byte += 1;
    }
    table
};

/// Each word's FNV-1a hash: what shingle hashes are made of.
fn word_hashes(words: &[String]) -> Vec<u64> {
    words.iter().map(|w| fnv1a(w.as_bytes())).collect()
}

/// [`fingerprint_words`] and [`sketch`] of the same words at once (the
/// words are hashed once): `None` when the text is too short to have a
/// fingerprint.
pub fn fingerprint_and_sketch(words: &[String]) -> Option<(u64, Vec<u32>)> {
    fingerprint_and_sketch_of(words, &[])
}

/// [`fingerprint_and_sketch`] of the words of `title` followed by those of
/// `text` (as [`article_words`] joins them), without joining them.
///
/// One pass over the words and no allocation but the sketch's: every new
/// item of a cycle goes through here.
pub fn fingerprint_and_sketch_of(title: &[String], text: &[String]) -> Option<(u64, Vec<u32>)> {
    const _: () = assert!(SHINGLE_WORDS == 2 && RESEMBLANCE_SHINGLE_WORDS == 3);
    // With at least this many words, every shingle has its full size.
    const _: () = assert!(MIN_FINGERPRINT_WORDS >= RESEMBLANCE_SHINGLE_WORDS);
    if title.len() + text.len() < MIN_FINGERPRINT_WORDS {
        return None;
    }
    let mut votes = SimHashVotes::default();
    let mut sketch = BottomK::default();
    let (mut before, mut last) = (0, 0);
    for (i, word) in title.iter().chain(text).enumerate() {
        let hash = fnv1a(word.as_bytes());
        if i >= 1 {
            votes.add(shingle_hash(&[last, hash]));
        }
        if i >= 2 {
            sketch.add((shingle_hash(&[before, last, hash]) >> 32) as u32);
        }
        (before, last) = (last, hash);
    }
    Some((votes.fingerprint(), sketch.finish()))
}

/// Number of differing bits.
pub fn hamming(a: u64, b: u64) -> u32 {
    (a ^ b).count_ones()
}

fn fnv1a(bytes: &[u8]) -> u64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    bytes
        .iter()
        .fold(OFFSET, |hash, &b| (hash ^ u64::from(b)).wrapping_mul(PRIME))
}

fn shingle_hash(word_hashes: &[u64]) -> u64 {
    let chained = word_hashes.iter().fold(0, |hash: u64, &word| {
        (hash.rotate_left(23) ^ word).wrapping_mul(0x9e37_79b9_7f4a_7c15)
    });
    fmix64(chained)
}

/// The murmur3 64-bit finaliser.
fn fmix64(mut h: u64) -> u64 {
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

// ---------------------------------------------------------------------------
// Lookup within a distance: bands
// ---------------------------------------------------------------------------

/// The bands of `fp` for lookups within distance `k`: the 64 bits split into
/// `k + 1` contiguous blocks (the first `64 % (k + 1)` one bit wider), each
/// returned as (band number `0..=k`, the block's bits shifted down to bit 0).
///
/// Two fingerprints within distance `k` differ in at most `k` blocks, so by
/// the pigeonhole principle they agree exactly on at least one (band, key)
/// pair: storing every fingerprint's bands in an indexed table and looking up
/// the query's bands finds all of them, plus candidates to check with
/// [`hamming`]. Keys are below `2^(64 / (k + 1) + 1)`, so for `k ≥ 1` they fit
/// an SQLite INTEGER without sign tricks.
///
/// A lookup reads about `(k + 1) · n / 2^(64 / (k + 1))` candidates among `n`
/// random fingerprints: 4 · n / 65 536 for k = 3, but 9 · n / 2^7 (≈ 7 % of
/// `n`) for [`NEAR_DUPLICATE_DISTANCE`] = 8. Keep the indexed set to a recent
/// window of one language; a larger set needs more, wider bands (e.g. every
/// pair of `k + 2` blocks: 45 bands of 12 to 13 bits for k = 8).
///
/// # Panics
/// If `k ≥ 64`.
pub fn bands(fp: u64, k: u32) -> Vec<(u8, u64)> {
    band_layout(k)
        .map(|(band, shift, mask)| (band, fp >> shift & mask))
        .collect()
}

/// (band, shift, mask) of each band for distance `k`.
fn band_layout(k: u32) -> impl Iterator<Item = (u8, u32, u64)> {
    assert!(k < 64, "a 64-bit fingerprint has at most 64 bands (k < 64)");
    let count = k + 1;
    let (base, wider) = (64 / count, 64 % count);
    (0..count).scan(0u32, move |shift, band| {
        let width = base + u32::from(band < wider);
        let mask = u64::MAX >> (64 - width);
        let start = *shift;
        *shift += width;
        Some((band as u8, start, mask))
    })
}

/// In-memory index of fingerprints by id, answering "which fingerprints are
/// within distance k of this one" through the [`bands`] tables instead of a
/// scan. The store keeps the same bands in SQL; this is the same scheme for
/// in-process use (a cycle's batch, tests, measurements).
#[derive(Debug, Clone)]
pub struct SimIndex {
    k: u32,
    /// Band layout, computed once: (shift, mask) per band.
    layout: Vec<(u32, u64)>,
    fingerprints: HashMap<i64, u64>,
    /// One table per band: block value → ids.
    tables: Vec<HashMap<u64, Vec<i64>>>,
}

impl SimIndex {
    /// An empty index answering queries within distance `k`.
    ///
    /// # Panics
    /// If `k ≥ 64`.
    pub fn new(k: u32) -> Self {
        let layout: Vec<(u32, u64)> = band_layout(k).map(|(_, s, m)| (s, m)).collect();
        let tables = vec![HashMap::new(); layout.len()];
        SimIndex {
            k,
            layout,
            fingerprints: HashMap::new(),
            tables,
        }
    }

    /// The distance queries answer within.
    pub fn k(&self) -> u32 {
        self.k
    }

    /// Number of ids indexed.
    pub fn len(&self) -> usize {
        self.fingerprints.len()
    }

    /// Whether no id is indexed.
    pub fn is_empty(&self) -> bool {
        self.fingerprints.is_empty()
    }

    /// Indexes `fp` under `id`, replacing the id's previous fingerprint (an
    /// edited article); returns that previous fingerprint.
    pub fn insert(&mut self, id: i64, fp: u64) -> Option<u64> {
        let previous = self.remove(id);
        for (table, &(shift, mask)) in self.tables.iter_mut().zip(&self.layout) {
            table.entry(fp >> shift & mask).or_default().push(id);
        }
        self.fingerprints.insert(id, fp);
        previous
    }

    /// Removes `id`; returns its fingerprint if it was indexed.
    pub fn remove(&mut self, id: i64) -> Option<u64> {
        let fp = self.fingerprints.remove(&id)?;
        for (table, &(shift, mask)) in self.tables.iter_mut().zip(&self.layout) {
            let key = fp >> shift & mask;
            if let Some(ids) = table.get_mut(&key) {
                ids.retain(|&other| other != id);
                if ids.is_empty() {
                    table.remove(&key);
                }
            }
        }
        Some(fp)
    }

    /// Ids whose fingerprint is within distance k of `fp`, with their
    /// distance, nearest first (ties by id). Includes an id indexed with `fp`
    /// itself (distance 0).
    pub fn query(&self, fp: u64) -> Vec<(i64, u32)> {
        let mut found = Vec::new();
        for (band, (table, &(shift, mask))) in self.tables.iter().zip(&self.layout).enumerate() {
            let Some(ids) = table.get(&(fp >> shift & mask)) else {
                continue;
            };
            for &id in ids {
                let diff = fp ^ self.fingerprints[&id];
                let distance = diff.count_ones();
                // A candidate agreeing on several bands is reported from the
                // first one only.
                let first_band = self
                    .layout
                    .iter()
                    .position(|&(shift, mask)| diff >> shift & mask == 0);
                if distance <= self.k && first_band == Some(band) {
                    found.push((id, distance));
                }
            }
        }
        found.sort_by_key(|&(id, distance)| (distance, id));
        found
    }
}

// ---------------------------------------------------------------------------
// Stories: persistent lookup keys and the check of a near candidate
// ---------------------------------------------------------------------------

/// Blocks of a fingerprint the store indexes for story lookups (multi-index
/// hashing). Two fingerprints within distance k differ in at most
/// `k / LOOKUP_BLOCKS` bits of at least one block (pigeonhole), so the store
/// keeps [`LOOKUP_BLOCKS`] rows per item ([`lookup_keys`]) and probes each
/// block's value and its neighbours within that radius ([`probe_keys`]).
///
/// With k = 8: five blocks of 12 to 13 bits, radius 1, so 5 stored rows and
/// 5 · (1 + 13) = 69 probes per lookup, each reading about `n / 2^13` random
/// candidates: about `n / 120` per lookup, against `n / 14` for the
/// `k + 1` [`bands`] (9 rows, 7 to 8 bits wide) and `n / 160` for every pair
/// of `k + 2` blocks (45 rows per item).
pub const LOOKUP_BLOCKS: u32 = 5;

/// (shift, mask) of each lookup block: [`LOOKUP_BLOCKS`] contiguous blocks,
/// the first `64 % LOOKUP_BLOCKS` one bit wider. Block `b` of a fingerprint
/// is `fp >> shift & mask`; the store computes [`lookup_keys`] in SQL from
/// this layout.
pub fn lookup_layout() -> impl Iterator<Item = (u32, u64)> {
    band_layout(LOOKUP_BLOCKS - 1).map(|(_, shift, mask)| (shift, mask))
}

/// Where a lookup key keeps its block number: the top byte.
pub const LOOKUP_KEY_BLOCK_SHIFT: u32 = 56;

/// The key of block `block` with value `value`: the block number in the
/// top byte, so one indexed integer column holds every block.
fn lookup_key(block: usize, value: u64) -> i64 {
    ((block as i64) << LOOKUP_KEY_BLOCK_SHIFT) | value as i64
}

/// The keys the store indexes for `fp`: one per lookup block.
pub fn lookup_keys(fp: u64) -> [i64; LOOKUP_BLOCKS as usize] {
    let mut keys = [0; LOOKUP_BLOCKS as usize];
    for (block, (shift, mask)) in lookup_layout().enumerate() {
        keys[block] = lookup_key(block, fp >> shift & mask);
    }
    keys
}

/// The keys to probe for fingerprints within distance `k` of `fp`: for each
/// block, its value and every value within `k / LOOKUP_BLOCKS` bits of it.
/// Every fingerprint within `k` has at least one [`lookup_keys`] entry among
/// them; candidates are then checked with [`hamming`].
pub fn probe_keys(fp: u64, k: u32) -> Vec<i64> {
    let radius = k / LOOKUP_BLOCKS;
    // Every lookup makes these (69 for k = 8): one allocation, no stack.
    let mut keys = Vec::with_capacity(probe_count(radius));
    for (block, (shift, mask)) in lookup_layout().enumerate() {
        push_within(&mut keys, block, fp >> shift & mask, mask.count_ones(), 0, radius);
    }
    keys
}

/// Pushes the keys of `value` and of every value that differs from it in
/// at most `radius` of the bits `from..width`.
fn push_within(keys: &mut Vec<i64>, block: usize, value: u64, width: u32, from: u32, radius: u32) {
    keys.push(lookup_key(block, value));
    if radius > 0 {
        for bit in from..width {
            push_within(keys, block, value ^ 1 << bit, width, bit + 1, radius - 1);
        }
    }
}

/// How many keys [`probe_keys`] makes for `radius`: per block, the values
/// within `radius` bits of its width.
fn probe_count(radius: u32) -> usize {
    lookup_layout()
        .map(|(_, mask)| {
            let width = mask.count_ones() as usize;
            // Sum of binomial(width, r) for r ≤ radius.
            (0..=radius as usize)
                .scan(1usize, |choose, r| {
                    let value = *choose;
                    *choose = *choose * width.saturating_sub(r) / (r + 1);
                    Some(value)
                })
                .sum::<usize>()
        })
        .sum()
}

/// Words per shingle of [`resemblance`]: triples, because word pairs repeat
/// across unrelated texts of a small vocabulary (module docs' table).
pub const RESEMBLANCE_SHINGLE_WORDS: usize = 3;

/// The [`resemblance`] at or above which two articles within
/// [`NEAR_DUPLICATE_DISTANCE`] are the same story.
///
/// SimHash alone merges unrelated texts of a tiny vocabulary (the farm's
/// non-English items: 49 913 of 98 M pairs within distance 8), and such
/// false pairs chain whole clusters together. The exact Jaccard similarity
/// of word triples tells them apart: wire copies share most triples (a
/// header and footer of 40 words on 480 adds 40 of 520), unrelated texts
/// almost none. Checked by the unit test on the real article and by
/// `scripts/story_quality.py` on the farm (BENCHMARKS.md).
pub const MIN_RESEMBLANCE: f64 = 0.5;

/// Jaccard similarity of the sets of [`RESEMBLANCE_SHINGLE_WORDS`]-word
/// shingles of two word lists (as [`article_words`] gives them); 0 when
/// both are empty.
pub fn resemblance(a: &[String], b: &[String]) -> f64 {
    let (a, b) = (shingle_set(a), shingle_set(b));
    let shared = a.iter().filter(|h| b.contains(h)).count();
    let union = a.len() + b.len() - shared;
    if union == 0 {
        0.0
    } else {
        shared as f64 / union as f64
    }
}

fn shingle_set(words: &[String]) -> std::collections::HashSet<u64> {
    let hashes = word_hashes(words);
    if hashes.is_empty() {
        return Default::default();
    }
    hashes
        .windows(RESEMBLANCE_SHINGLE_WORDS.min(hashes.len()))
        .map(shingle_hash)
        .collect()
}

/// Whether two articles, given as [`article_words`], are the same story:
/// fingerprints within [`NEAR_DUPLICATE_DISTANCE`] and [`resemblance`] at
/// least [`MIN_RESEMBLANCE`]. The caller has found the candidate by
/// fingerprint; this is the final check.
pub fn same_story(a: &[String], b: &[String]) -> bool {
    resemblance(a, b) >= MIN_RESEMBLANCE
}

/// Values kept by [`sketch`]: 64 values of 4 bytes, 256 bytes per item.
pub const SKETCH_SIZE: usize = 64;

/// A bottom-k MinHash sketch of an article's [`RESEMBLANCE_SHINGLE_WORDS`]-word
/// shingles (as [`article_words`] gives the words): the [`SKETCH_SIZE`]
/// smallest distinct 32-bit shingle hashes (the top half of the same hash
/// [`resemblance`] uses), ascending. A text with fewer shingles keeps them
/// all, so [`sketch_resemblance`] is then exact (up to 32-bit collisions).
///
/// The store keeps one per item so that confirming a story match
/// ([`same_story_sketch`]) needs neither the candidate's text nor folding it
/// again. Stored sketches depend on `text::words` folding and the hash, like
/// fingerprints.
pub fn sketch(words: &[String]) -> Vec<u32> {
    sketch_hashes(&word_hashes(words))
}

/// [`sketch`] of the words' [`word_hashes`].
fn sketch_hashes(hashes: &[u64]) -> Vec<u32> {
    if hashes.is_empty() {
        return Vec::new();
    }
    let mut sketch = BottomK::default();
    for shingle in hashes.windows(RESEMBLANCE_SHINGLE_WORDS.min(hashes.len())) {
        sketch.add((shingle_hash(shingle) >> 32) as u32);
    }
    sketch.finish()
}

/// The [`SKETCH_SIZE`] smallest distinct values of a stream, kept in a
/// buffer of four times that on the stack: when it fills, it keeps only the
/// smallest (selecting before sorting), and once [`SKETCH_SIZE`] distinct
/// values are known, larger ones are not kept at all. An article of a few
/// hundred shingles is selected from once, at the end.
struct BottomK {
    buffer: [u32; 4 * SKETCH_SIZE],
    len: usize,
    /// The largest of [`SKETCH_SIZE`] distinct values known, if as many
    /// are: no value at or above it can be among the smallest.
    bound: Option<u32>,
}

impl Default for BottomK {
    fn default() -> Self {
        BottomK {
            buffer: [0; 4 * SKETCH_SIZE],
            len: 0,
            bound: None,
        }
    }
}

impl BottomK {
    fn add(&mut self, value: u32) {
        if self.bound.is_some_and(|bound| value >= bound) {
            return;
        }
        self.buffer[self.len] = value;
        self.len += 1;
        if self.len == self.buffer.len() {
            self.keep_smallest();
        }
    }

    /// Leaves the smallest distinct values, ascending, in `buffer[..len]`.
    fn keep_smallest(&mut self) {
        let (k, values) = (SKETCH_SIZE, &mut self.buffer[..self.len]);
        if values.len() > k {
            values.select_nth_unstable(k);
            let smallest = &mut values[..k];
            smallest.sort_unstable();
            if smallest.windows(2).all(|pair| pair[0] != pair[1]) {
                self.len = k;
                self.bound = Some(smallest[k - 1]);
                return;
            }
        }
        // Repeated values among the smallest (or few values): all of them.
        values.sort_unstable();
        let mut distinct = 0;
        for i in 0..values.len() {
            if i == 0 || values[i] != values[distinct - 1] {
                values[distinct] = values[i];
                distinct += 1;
            }
        }
        self.len = distinct.min(k);
        if self.len == k {
            self.bound = Some(values[k - 1]);
        }
    }

    fn finish(mut self) -> Vec<u32> {
        self.keep_smallest();
        self.buffer[..self.len].to_vec()
    }
}

/// The [`SKETCH_SIZE`] smallest distinct values, ascending ([`BottomK`]).
#[cfg(test)]
fn bottom_k(values: Vec<u32>) -> Vec<u32> {
    let mut smallest = BottomK::default();
    for value in values {
        smallest.add(value);
    }
    smallest.finish()
}

/// The bottom-k estimate of [`resemblance`] from two [`sketch`]es: of the
/// [`SKETCH_SIZE`] smallest values of their union, the share present in
/// both. Exact when both texts have at most [`SKETCH_SIZE`] shingles; else
/// its standard error is `sqrt(J (1 − J) / SKETCH_SIZE)`, 0.06 at the
/// threshold [`MIN_RESEMBLANCE`] (wire copies sit near 0.9, unrelated texts
/// near 0: `scripts/story_quality.py`, BENCHMARKS.md). 0 when both are empty.
pub fn sketch_resemblance(a: &[u32], b: &[u32]) -> f64 {
    let (shared, union) = union_walk(a, b, |_, _| false);
    if union == 0 {
        0.0
    } else {
        shared as f64 / union as f64
    }
}

/// Walks the [`SKETCH_SIZE`] smallest values of the union of two sketches
/// (ascending) until `stop(shared, union)` says so; returns how many values
/// were in both and how many were walked.
fn union_walk(a: &[u32], b: &[u32], mut stop: impl FnMut(usize, usize) -> bool) -> (usize, usize) {
    let (mut i, mut j) = (0, 0);
    let (mut union, mut shared) = (0usize, 0usize);
    while union < SKETCH_SIZE && (i < a.len() || j < b.len()) && !stop(shared, union) {
        match (a.get(i), b.get(j)) {
            (Some(x), Some(y)) if x == y => {
                shared += 1;
                i += 1;
                j += 1;
            }
            (Some(x), Some(y)) if x < y => i += 1,
            (Some(_), None) => i += 1,
            _ => j += 1,
        }
        union += 1;
    }
    (shared, union)
}

/// [`same_story`] on [`sketch`]es: [`sketch_resemblance`] at least
/// [`MIN_RESEMBLANCE`].
///
/// Stops as soon as the answer is certain: a story lookup compares many
/// unrelated candidates (whose sketches share nothing) and a few copies.
/// With `shared` of `union` values seen, the final share is at least
/// `shared / SKETCH_SIZE` and at most `(shared + SKETCH_SIZE − union) /
/// SKETCH_SIZE`.
pub fn same_story_sketch(a: &[u32], b: &[u32]) -> bool {
    let need = MIN_RESEMBLANCE * SKETCH_SIZE as f64;
    let certain_yes = |shared: usize| shared as f64 >= need;
    let certain_no = |shared: usize, union: usize| ((shared + SKETCH_SIZE - union) as f64) < need;
    let (shared, union) = union_walk(a, b, |s, u| certain_yes(s) || certain_no(s, u));
    if certain_yes(shared) {
        true
    } else if certain_no(shared, union) {
        false
    } else {
        union > 0 && shared as f64 / union as f64 >= MIN_RESEMBLANCE
    }
}

/// A [`sketch`] as stored: its values as 4-byte little-endian integers.
pub fn sketch_bytes(sketch: &[u32]) -> Vec<u8> {
    sketch.iter().flat_map(|v| v.to_le_bytes()).collect()
}

/// The [`sketch`] stored as [`sketch_bytes`].
pub fn sketch_from_bytes(bytes: &[u8]) -> Vec<u32> {
    bytes
        .chunks_exact(4)
        .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, expected: Option<&str>) {
        assert_eq!(
            canonical_url(input).as_deref(),
            expected,
            "canonical_url({input:?})"
        );
    }

    #[test]
    fn normalises_scheme_host_port_and_fragment() {
        let cases = [
            ("HTTPS://News.Example.COM/a", "https://news.example.com/a"),
            ("https://news.example:443/a", "https://news.example/a"),
            ("http://news.example:80/a", "http://news.example/a"),
            ("https://news.example:8443/a", "https://news.example:8443/a"),
            ("http://news.example:443/a", "http://news.example:443/a"),
            ("https://news.example/a#comments", "https://news.example/a"),
            (
                "https://news.example/#!/story/1",
                "https://news.example/#!/story/1",
            ),
            ("https://news.example./a", "https://news.example/a"),
            ("  https://news.example/a  ", "https://news.example/a"),
            ("https://news.example/a/../b/./c", "https://news.example/b/c"),
            ("https://news.example", "https://news.example/"),
            // www is a different host and stays; so does the scheme.
            ("https://www.news.example/a", "https://www.news.example/a"),
            ("http://news.example/a", "http://news.example/a"),
        ];
        for (input, expected) in cases {
            check(input, Some(expected));
        }
    }

    #[test]
    fn normalises_percent_encoding_via_url_crate() {
        check(
            "https://news.example/a b/é",
            Some("https://news.example/a%20b/%C3%A9"),
        );
        check(
            "https://xn--nws-bma.example/x",
            Some("https://xn--nws-bma.example/x"),
        );
        check("https://néws.example/x", Some("https://xn--nws-bma.example/x"));
        // Query values are decoded and re-encoded one way.
        check(
            "https://news.example/s?q=a%20b&t=%7E",
            Some("https://news.example/s?q=a+b&t=%7E"),
        );
        check(
            "https://news.example/s?t=~&q=a+b",
            Some("https://news.example/s?q=a+b&t=%7E"),
        );
    }

    #[test]
    fn rejects_what_is_not_an_http_url() {
        for input in [
            "",
            "not a url",
            "/relative/path",
            "news.example/a",
            "ftp://news.example/a",
            "mailto:desk@news.example",
            "file:///etc/passwd",
            "javascript:alert(1)",
            "https://",
        ] {
            check(input, None);
        }
    }

    #[test]
    fn removes_tracking_parameters() {
        let cases = [
            // Reuters feeds tag every link with the feed it came from.
            (
                "https://www.reuters.com/article/us-mideast-crisis-kurds-referendum-idUSKCN1C00Q0?feedType=RSS&feedName=worldNews",
                "https://www.reuters.com/article/us-mideast-crisis-kurds-referendum-idUSKCN1C00Q0",
            ),
            (
                "https://news.yahoo.com/iraq-kurds-vote-123.html?ncid=rss&soc_src=social-sh&guccounter=1",
                "https://news.yahoo.com/iraq-kurds-vote-123.html",
            ),
            (
                "https://news.example/a?utm_source=rss&utm_medium=feed&utm_campaign=x&UTM_Content=y",
                "https://news.example/a",
            ),
            ("https://news.example/a?fbclid=IwAR0abc", "https://news.example/a"),
            (
                "https://news.example/a?gclid=1&dclid=2&gclsrc=aw.ds&gbraid=3&wbraid=4&msclkid=5&yclid=6",
                "https://news.example/a",
            ),
            (
                "https://news.example/a?mc_cid=1&mc_eid=2&_hsenc=3&_hsmi=4&mkt_tok=5",
                "https://news.example/a",
            ),
            (
                "https://news.example/a?ref=rss&ref_src=twsrc%5Etfw&ref_url=x",
                "https://news.example/a",
            ),
            (
                "https://news.example/a?cmpid=1&CMP=share_btn_tw&icid=2&ocid=3&smid=tw-share",
                "https://news.example/a",
            ),
            (
                "https://news.example/a?at_medium=custom7&at_campaign=64&ns_mchannel=social&ns_source=twitter&ns_campaign=bbc&ns_linkname=x&ns_fee=0",
                "https://news.example/a",
            ),
            (
                "https://news.example/a?_ga=2.1&_gl=1*abc&igshid=x&igsh=y&spm=a2c.b&share=1&rss=1&xtor=RSS-3208",
                "https://news.example/a",
            ),
            // An empty query, or only separators, leaves no `?`.
            ("https://news.example/a?", "https://news.example/a"),
            ("https://news.example/a?&&", "https://news.example/a"),
            (
                "https://outlet0.example/en/news/10000?utm_source=rss&utm_medium=feed",
                "https://outlet0.example/en/news/10000",
            ),
        ];
        for (input, expected) in cases {
            check(input, Some(expected));
        }
    }

    #[test]
    fn keeps_parameters_that_identify_articles() {
        let cases = [
            (
                "https://news.example/?p=123&utm_source=rss",
                "https://news.example/?p=123",
            ),
            (
                "https://news.example/view.php?id=42&story=7&article=9",
                "https://news.example/view.php?article=9&id=42&story=7",
            ),
            (
                "https://news.example/a?page=2&s=kurdistan&v=3&referrer=x&shared=1&camp=1",
                "https://news.example/a?camp=1&page=2&referrer=x&s=kurdistan&shared=1&v=3",
            ),
            (
                "https://news.example/a?outputType=print",
                "https://news.example/a?outputType=print",
            ),
            // A valueless parameter keeps its bare key.
            ("https://news.example/a?print", "https://news.example/a?print"),
            ("https://news.example/a?print=", "https://news.example/a?print"),
        ];
        for (input, expected) in cases {
            check(input, Some(expected));
        }
    }

    #[test]
    fn sorts_remaining_parameters_by_key_then_value() {
        check(
            "https://news.example/a?b=2&a=9&b=1&utm_source=x&a=1",
            Some("https://news.example/a?a=1&a=9&b=1&b=2"),
        );
    }

    #[test]
    fn unifies_index_files_and_trailing_slashes() {
        let same = [
            "https://news.example/a",
            "https://news.example/a/",
            "https://news.example/a/index.html",
            "https://news.example/a/index.htm",
            "https://news.example/a/index.php",
        ];
        for input in same {
            check(input, Some("https://news.example/a"));
        }
        for root in [
            "https://news.example",
            "https://news.example/",
            "https://news.example/index.html",
            "https://news.example/index.php?utm_source=x",
        ] {
            check(root, Some("https://news.example/"));
        }
        check(
            "https://news.example/a/b.html",
            Some("https://news.example/a/b.html"),
        );
        // Only a whole final segment named index.* goes.
        check(
            "https://news.example/a/myindex.html",
            Some("https://news.example/a/myindex.html"),
        );
        check(
            "https://news.example/a/index.html/b",
            Some("https://news.example/a/index.html/b"),
        );
    }

    #[test]
    fn maps_amp_variants_to_the_article() {
        let to_story = [
            "https://news.example/story/1/amp",
            "https://news.example/story/1/amp/",
            "https://news.example/amp/story/1",
            "https://news.example/amp/story/1/",
            "https://news.example/story/1?amp",
            "https://news.example/story/1?amp=1",
            "https://news.example/story/1?outputType=amp",
            "https://news.example/story/1?outputType=AMP&utm_source=x",
            "https://amp.news.example/story/1",
            "https://news.example/story/1.amp",
            "https://news-example.cdn.ampproject.org/c/s/news.example/story/1",
            "https://news-example.cdn.ampproject.org/v/s/news.example/story/1/amp?amp_js_v=0.1",
            "https://www.google.com/amp/s/news.example/story/1",
        ];
        for input in to_story {
            check(input, Some("https://news.example/story/1"));
        }
        check(
            "https://news.example/2017/09/story.amp.html",
            Some("https://news.example/2017/09/story.html"),
        );
        check(
            "https://news-example.cdn.ampproject.org/c/news.example/story/1",
            Some("http://news.example/story/1"),
        );
        check("https://news.example/amp", Some("https://news.example/"));
        check("https://amp.news.example/", Some("https://news.example/"));
    }

    #[test]
    fn keeps_what_only_looks_like_amp() {
        let cases = [
            // The AMP project's own site: dropping `amp.` would leave a TLD.
            ("https://amp.dev/documentation", "https://amp.dev/documentation"),
            ("https://news.example/ampere/1", "https://news.example/ampere/1"),
            (
                "https://news.example/story/amped",
                "https://news.example/story/amped",
            ),
            ("https://news.example/a/amp/b", "https://news.example/a/amp/b"),
            ("https://news.example/camp.html", "https://news.example/camp.html"),
            ("https://ampnews.example/a", "https://ampnews.example/a"),
            (
                "https://www.google.com/search?q=amp",
                "https://www.google.com/search?q=amp",
            ),
            (
                "https://cdn.ampproject.org/v0.js",
                "https://cdn.ampproject.org/v0.js",
            ),
        ];
        for (input, expected) in cases {
            check(input, Some(expected));
        }
    }

    #[test]
    fn different_articles_stay_different() {
        let urls = [
            "https://news.example/story/1",
            "https://news.example/story/2",
            "https://news.example/story/1/comments",
            "https://news.example/Story/1",
            "https://news.example/?p=1",
            "https://news.example/?p=2",
            "https://news.example/view?id=1",
            "https://news.example/view?id=1&page=2",
            "https://www.news.example/story/1",
            "https://other.example/story/1",
            "http://news.example/story/1",
            "https://news.example:8443/story/1",
            "https://news.example/#!/story/1",
            "https://news.example/#!/story/2",
        ];
        let canonical: Vec<String> = urls.iter().map(|u| canonical_url(u).unwrap()).collect();
        for (i, a) in canonical.iter().enumerate() {
            for b in &canonical[i + 1..] {
                assert_ne!(a, b);
            }
        }
    }

    #[test]
    fn canonical_urls_are_fixed_points() {
        for input in [
            "https://News.example/amp/a/index.html?utm_source=x&b=2&a=1#top",
            "https://news.example/s?q=a%20b&t=~",
            "https://news-example.cdn.ampproject.org/c/s/news.example/story/1",
            // Found by fuzzing (tests/fuzz, target `canonical_url`): one
            // round of the path rules left a trailing slash.
            "\u{1}\u{11}\0\0https:https//://",
            "https://news.example/a//",
            "https://news.example/story/1/amp/amp/",
            "https://news.example/amp/amp/story/1",
            "https://news.example/a/index.html/amp",
            "https://news.example/a.amp.amp",
            "https://amp.amp.news.example/a",
            "https://www.google.com/amp/s/www.google.com/amp/s/news.example/a",
            "https://news.example/a?=",
            "https://news.example/a?=&=&b",
            // Found by fuzzing: `/c/s/` stayed wrapped (nothing to unwrap),
            // but its canonical `/c/s` was then unwrapped to `http://s/`.
            "https://news-example.cdn.ampproject.org/c/s/",
            "https://www.google.com/amp/s/",
            // Found by fuzzing: `.amp` dropped from `..amp` left a dot
            // segment, resolved to a trailing slash only by `set_path`.
            "https://news.example/a/..amp/",
        ] {
            let once = canonical_url(input).unwrap();
            assert_eq!(canonical_url(&once).as_deref(), Some(once.as_str()));
        }
    }

    // ---- fingerprints ----

    fn words(text: &str) -> Vec<String> {
        crate::text::words(text)
    }

    /// Deterministic splitmix64 stream for property tests.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
            fmix64(self.0)
        }

        /// `fp` with `n` distinct random bits flipped.
        fn flip(&mut self, fp: u64, n: u32) -> u64 {
            let mut mask = 0u64;
            while mask.count_ones() < n {
                mask |= 1 << (self.next() % 64);
            }
            fp ^ mask
        }
    }

    #[test]
    fn hamming_counts_differing_bits() {
        assert_eq!(hamming(0, 0), 0);
        assert_eq!(hamming(0, u64::MAX), 64);
        assert_eq!(hamming(0b1011, 0b0110), 3);
        assert_eq!(hamming(1 << 63, 1), 2);
    }

    #[test]
    fn bottom_k_is_the_k_smallest_distinct_values() {
        let mut seed = 7u64;
        for len in [0, 1, 5, 63, 64, 65, 100, 255, 256, 257, 300, 1000, 5000] {
            for range in [4u32, 50, 70, 1 << 20, u32::MAX] {
                let values: Vec<u32> = (0..len)
                    .map(|_| {
                        seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                        (seed >> 33) as u32 % range
                    })
                    .collect();
                let mut naive = values.clone();
                naive.sort_unstable();
                naive.dedup();
                naive.truncate(SKETCH_SIZE);
                assert_eq!(bottom_k(values), naive, "{len} values below {range}");
            }
        }
    }

    #[test]
    fn fingerprint_and_sketch_are_fingerprint_words_and_sketch() {
        for text in [
            "",
            "one two",
            "the ministers met in the capital on monday to discuss the border crossings",
            "وزير الخارجية التركي يلتقي نظيره الإيراني في أنقرة لبحث الاستفتاء في إقليم كردستان",
        ] {
            let w = words(text);
            let both = fingerprint_and_sketch(&w);
            assert_eq!(both.as_ref().map(|(fp, _)| *fp), fingerprint_words(&w), "{text}");
            if let Some((_, s)) = both {
                assert_eq!(s, sketch(&w), "{text}");
            }
        }
        // Long texts of few distinct words: the streaming pass keeps the
        // buffer and lanes of the slice functions' results.
        let mut rng = Rng(3);
        for len in [20, 300, 1000, 3000] {
            let w: Vec<String> = (0..len).map(|_| format!("w{}", rng.next() % 40)).collect();
            let (title, text) = w.split_at(7);
            assert_eq!(
                fingerprint_and_sketch_of(title, text),
                Some((fingerprint_words(&w).unwrap(), sketch(&w))),
                "{len} words"
            );
        }
        // Title and text apart: as if joined by `article_words`.
        let text = "The top military commanders of Iran and Turkey on Saturday voiced strong \
            opposition to the independence referendum in Iraqi Kurdistan after a meeting in Ankara";
        for title in [
            "",
            "Iran and Turkey",
            "A title of many words, more than twenty of them: one two \
            three four five six seven eight nine ten eleven twelve thirteen fourteen",
        ] {
            for text in ["", "short", text] {
                let joined = article_words(title, text);
                assert_eq!(
                    fingerprint_and_sketch_of(&words(title), &words(text)),
                    fingerprint_and_sketch(&joined),
                    "{title} / {text}"
                );
            }
        }
    }

    #[test]
    fn simhash_is_stable_and_order_sensitive() {
        let text = words("Iran and Turkey oppose the Kurdistan independence referendum");
        assert_eq!(simhash(&text), simhash(&text.clone()));
        // Pinned: stored fingerprints must not change silently.
        assert_eq!(simhash(&text), 0x49fc_29df_4844_848b);
        assert_eq!(simhash_shingles(&text, 3), 0xa605_af66_0122_2f17);
        assert_eq!(simhash(&[]), 0);
        let mut reversed = text.clone();
        reversed.reverse();
        assert_ne!(simhash(&text), simhash(&reversed));
        // Unigrams ignore order; shingles of two or more do not.
        assert_eq!(simhash_shingles(&text, 1), simhash_shingles(&reversed, 1));
        // Fewer words than a shingle: one shingle of all of them.
        assert_eq!(
            simhash_shingles(&words("two words"), 3),
            simhash_shingles(&words("two words"), 2)
        );
    }

    /// The byte-lane counting of `simhash_hashes` is the plain vote,
    /// including texts long enough to empty the lanes several times.
    #[test]
    fn simhash_counts_votes_like_the_plain_definition() {
        fn plain(hashes: &[u64], size: usize) -> u64 {
            let mut votes = [0i64; 64];
            for shingle in hashes.windows(size.min(hashes.len())) {
                let hash = shingle_hash(shingle);
                for (bit, vote) in votes.iter_mut().enumerate() {
                    *vote += if hash >> bit & 1 == 1 { 1 } else { -1 };
                }
            }
            (0..64)
                .filter(|&bit| votes[bit] > 0)
                .fold(0, |fp, bit| fp | 1 << bit)
        }
        let mut rng = Rng(7);
        for len in [1, 2, 3, 254, 255, 256, 257, 510, 511, 2000] {
            // Few distinct words, so that votes are close and lanes fill up
            // with the same bits.
            let words: Vec<String> = (0..len).map(|_| format!("w{}", rng.next() % 5)).collect();
            let hashes = word_hashes(&words);
            for size in [1, 2, 3] {
                assert_eq!(
                    simhash_hashes(&hashes, size),
                    plain(&hashes, size),
                    "{len} words, {size}"
                );
            }
        }
    }

    #[test]
    fn small_edits_move_few_bits_and_other_texts_many() {
        let base = "The top military commanders of Iran and Turkey on Saturday voiced strong \
            opposition to the independence referendum in Iraqi Kurdistan after a meeting in \
            Tehran between the Iranian chief of staff and his Turkish counterpart, saying \
            military cooperation between the two countries will increase and that border \
            security was discussed at length during the visit";
        let edited = base.replace("Saturday", "Sunday");
        let other = "Shares in European banks fell sharply on Monday after the central bank \
            signalled that interest rates would stay low for longer than markets had expected, \
            while oil prices rose on reports of supply disruptions in the Gulf and the euro \
            weakened against the dollar in thin trading ahead of a holiday in the United States";
        let (a, b, c) = (
            simhash(&words(base)),
            simhash(&words(&edited)),
            simhash(&words(other)),
        );
        assert!(
            hamming(a, b) < hamming(a, c),
            "{} vs {}",
            hamming(a, b),
            hamming(a, c)
        );
        assert!(hamming(a, c) > 16, "{}", hamming(a, c));
    }

    /// The module docs' realistic case: a real article carried by other
    /// outlets with their own header, byline and footer stays within the
    /// threshold; different articles about the same event do not.
    #[test]
    fn wire_copies_of_a_real_article_stay_near_and_other_articles_far() {
        let sample = include_bytes!("../config/samples/mehr-news-en.xml");
        let feed = crate::parse::parse_feed(sample, "https://en.mehrnews.com/").unwrap();
        let (title, text) = (&feed.items[0].title, &feed.items[0].text);
        let original = fingerprint(title, text).unwrap();
        let copies = include_str!("../tests/fixtures/dedup/wire-copies.txt")
            .lines()
            .filter(|line| !line.starts_with('#'))
            .map(|line| line.split_once('\t').unwrap());
        for (name, template) in copies {
            let copy = template.replace("{text}", text);
            let distance = hamming(original, fingerprint(title, &copy).unwrap());
            assert!(distance <= NEAR_DUPLICATE_DISTANCE, "{distance}: {name}");
        }
        let others = [
            include_str!("../tests/fixtures/dedup/same-event-akar-visit.txt"),
            include_str!("../tests/fixtures/dedup/same-event-shamkhani.txt"),
        ];
        for other in others {
            let (other_title, other_text) = other.split_once('\n').unwrap();
            let distance = hamming(original, fingerprint(other_title, other_text).unwrap());
            assert!(
                distance > 2 * NEAR_DUPLICATE_DISTANCE,
                "{distance}: {other_title}"
            );
        }
    }

    #[test]
    fn fingerprint_needs_enough_words() {
        assert_eq!(fingerprint("Morning briefing", "Five things to know"), None);
        let text = "word ".repeat(MIN_FINGERPRINT_WORDS - 1);
        assert_eq!(fingerprint("", &text), None);
        assert_eq!(
            fingerprint("one", &text),
            Some(simhash(&article_words("one", &text)))
        );
    }

    #[test]
    fn bands_partition_the_bits() {
        for k in 0..64 {
            let layout: Vec<_> = band_layout(k).collect();
            assert_eq!(layout.len(), k as usize + 1);
            let mut covered = 0u64;
            for (i, &(band, shift, mask)) in layout.iter().enumerate() {
                assert_eq!(band as usize, i);
                assert_eq!(covered & (mask << shift), 0, "k={k}: bands overlap");
                covered |= mask << shift;
                let width = mask.count_ones();
                assert!(width == 64 / (k + 1) || width == 64 / (k + 1) + 1);
            }
            assert_eq!(covered, u64::MAX, "k={k}: bands miss bits");
        }
        assert_eq!(
            bands(0x1234_5678_9abc_def0, 3),
            vec![(0, 0xdef0), (1, 0x9abc), (2, 0x5678), (3, 0x1234)]
        );
        // 64 = 5·12 + 4: the first four of five bands are 13 bits wide.
        let widths: Vec<u32> = band_layout(4).map(|(_, _, m)| m.count_ones()).collect();
        assert_eq!(widths, [13, 13, 13, 13, 12]);
        assert_eq!(bands(u64::MAX, 0), vec![(0, u64::MAX)]);
    }

    #[test]
    fn near_fingerprints_share_a_band() {
        let mut rng = Rng(7);
        for k in [1, 3, NEAR_DUPLICATE_DISTANCE] {
            for _ in 0..500 {
                let a = rng.next();
                let b = rng.flip(a, k);
                let shared = bands(a, k)
                    .iter()
                    .zip(bands(b, k))
                    .filter(|(x, y)| **x == *y)
                    .count();
                assert!(shared >= 1, "k={k}: {a:#x} and {b:#x} share no band");
            }
        }
    }

    #[test]
    fn index_finds_exactly_the_fingerprints_within_k() {
        let mut rng = Rng(42);
        for k in [0, 1, 3, NEAR_DUPLICATE_DISTANCE, 12] {
            let mut index = SimIndex::new(k);
            let mut all = Vec::new();
            // Clusters around a few centres, at every distance up to k + 3,
            // plus random fingerprints.
            let centres: Vec<u64> = (0..20).map(|_| rng.next()).collect();
            for (i, &centre) in centres.iter().enumerate() {
                for d in 0..=k + 3 {
                    let fp = rng.flip(centre, d);
                    all.push((i as i64 * 100 + i64::from(d), fp));
                }
            }
            for id in 10_000..12_000 {
                all.push((id, rng.next()));
            }
            for &(id, fp) in &all {
                assert_eq!(index.insert(id, fp), None);
            }
            assert_eq!(index.len(), all.len());
            let queries = centres.iter().copied().chain((0..50).map(|_| rng.next()));
            for query in queries {
                let mut expected: Vec<(i64, u32)> = all
                    .iter()
                    .map(|&(id, fp)| (id, hamming(query, fp)))
                    .filter(|&(_, d)| d <= k)
                    .collect();
                expected.sort_by_key(|&(id, d)| (d, id));
                assert_eq!(index.query(query), expected, "k={k} query={query:#x}");
            }
        }
    }

    #[test]
    fn index_replaces_and_removes() {
        let mut index = SimIndex::new(3);
        assert!(index.is_empty());
        assert_eq!(index.insert(1, 0), None);
        assert_eq!(index.insert(2, 0b111), None);
        assert_eq!(index.insert(3, 0b1111), None);
        assert_eq!(index.query(0), vec![(1, 0), (2, 3)]);
        // An edited article: its new fingerprint replaces the old one.
        assert_eq!(index.insert(1, u64::MAX), Some(0));
        assert_eq!(index.query(0), vec![(2, 3)]);
        assert_eq!(index.query(u64::MAX), vec![(1, 0)]);
        assert_eq!(index.remove(2), Some(0b111));
        assert_eq!(index.remove(2), None);
        assert_eq!(index.query(0), vec![]);
        assert_eq!(index.query(0b1111), vec![(3, 0)]);
        assert_eq!(index.len(), 2);
        assert_eq!(index.k(), 3);
    }

    // ---- stories ----

    #[test]
    fn probes_find_every_fingerprint_within_k() {
        let mut rng = Rng(99);
        for _ in 0..300 {
            let a = rng.next();
            let probes: std::collections::HashSet<i64> =
                probe_keys(a, NEAR_DUPLICATE_DISTANCE).into_iter().collect();
            assert_eq!(probes.len(), 5 + 64, "distinct probes");
            for d in 0..=NEAR_DUPLICATE_DISTANCE {
                let b = rng.flip(a, d);
                assert!(
                    lookup_keys(b).iter().any(|k| probes.contains(k)),
                    "{a:#x} and {b:#x} (distance {d}) share no probe"
                );
            }
        }
        assert_eq!(lookup_keys(0).len(), LOOKUP_BLOCKS as usize);
        assert_eq!(lookup_keys(u64::MAX)[4], (4 << 56) | 0xfff);
        // Other radii: every key once, as many as counted, and every
        // fingerprint within k found.
        for k in [0, 4, 5, 12, 15] {
            let a = rng.next();
            let keys = probe_keys(a, k);
            let probes: std::collections::HashSet<i64> = keys.iter().copied().collect();
            assert_eq!(probes.len(), keys.len(), "k = {k}");
            assert_eq!(keys.len(), probe_count(k / LOOKUP_BLOCKS), "k = {k}");
            for d in 0..=k {
                let b = rng.flip(a, d);
                assert!(
                    lookup_keys(b).iter().any(|key| probes.contains(key)),
                    "k = {k}, d = {d}"
                );
            }
        }
        assert_eq!(probe_count(2), 5 + (4 * 13 + 12) + (4 * 78 + 66));
    }

    /// The early answers of `same_story_sketch` are those of the whole
    /// estimate, for sketches of every overlap and of short texts.
    #[test]
    fn same_story_sketch_is_the_estimate_against_the_threshold() {
        let mut rng = Rng(11);
        for _ in 0..3000 {
            let (len_a, len_b) = (rng.next() % 80, rng.next() % 80);
            let range = 1 + rng.next() % 200;
            let mut a: Vec<u32> = (0..len_a).map(|_| (rng.next() % range) as u32).collect();
            let mut b: Vec<u32> = (0..len_b).map(|_| (rng.next() % range) as u32).collect();
            for s in [&mut a, &mut b] {
                s.sort_unstable();
                s.dedup();
                s.truncate(SKETCH_SIZE);
            }
            assert_eq!(
                same_story_sketch(&a, &b),
                sketch_resemblance(&a, &b) >= MIN_RESEMBLANCE,
                "{a:?} {b:?}"
            );
        }
    }

    #[test]
    fn sketches_estimate_resemblance() {
        let sample = include_bytes!("../config/samples/mehr-news-en.xml");
        let feed = crate::parse::parse_feed(sample, "https://en.mehrnews.com/").unwrap();
        let (title, text) = (&feed.items[0].title, &feed.items[0].text);
        let original = article_words(title, text);
        let s = sketch(&original);
        assert_eq!(s.len(), SKETCH_SIZE);
        assert!(s.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(sketch_from_bytes(&sketch_bytes(&s)), s);
        assert_eq!(sketch_resemblance(&s, &s), 1.0);
        let copies = include_str!("../tests/fixtures/dedup/wire-copies.txt")
            .lines()
            .filter(|line| !line.starts_with('#'))
            .map(|line| line.split_once('\t').unwrap());
        for (name, template) in copies {
            let copy = article_words(title, &template.replace("{text}", text));
            let (exact, estimate) = (
                resemblance(&original, &copy),
                sketch_resemblance(&s, &sketch(&copy)),
            );
            assert!((exact - estimate).abs() < 0.15, "{exact} {estimate}: {name}");
            assert!(same_story_sketch(&s, &sketch(&copy)), "{name}");
        }
        for other in [
            include_str!("../tests/fixtures/dedup/same-event-akar-visit.txt"),
            include_str!("../tests/fixtures/dedup/same-event-shamkhani.txt"),
        ] {
            let (other_title, other_text) = other.split_once('\n').unwrap();
            let r = sketch_resemblance(&s, &sketch(&article_words(other_title, other_text)));
            assert!(r < 0.1, "{r}: {other_title}");
        }
        // Short texts keep every shingle: the estimate is the exact value.
        let (a, b) = (words("a b c d e f g h"), words("a b c d e f g x"));
        assert_eq!(sketch_resemblance(&sketch(&a), &sketch(&b)), resemblance(&a, &b));
        assert_eq!(sketch_resemblance(&[], &[]), 0.0);
    }

    #[test]
    fn resemblance_keeps_real_wire_copies_and_parts_same_event_articles() {
        let sample = include_bytes!("../config/samples/mehr-news-en.xml");
        let feed = crate::parse::parse_feed(sample, "https://en.mehrnews.com/").unwrap();
        let (title, text) = (&feed.items[0].title, &feed.items[0].text);
        let original = article_words(title, text);
        assert_eq!(resemblance(&original, &original), 1.0);
        let copies = include_str!("../tests/fixtures/dedup/wire-copies.txt")
            .lines()
            .filter(|line| !line.starts_with('#'))
            .map(|line| line.split_once('\t').unwrap());
        for (name, template) in copies {
            let copy = article_words(title, &template.replace("{text}", text));
            let r = resemblance(&original, &copy);
            assert!(r >= MIN_RESEMBLANCE + 0.2, "{r}: {name}");
            assert!(same_story(&original, &copy));
        }
        for other in [
            include_str!("../tests/fixtures/dedup/same-event-akar-visit.txt"),
            include_str!("../tests/fixtures/dedup/same-event-shamkhani.txt"),
        ] {
            let (other_title, other_text) = other.split_once('\n').unwrap();
            let r = resemblance(&original, &article_words(other_title, other_text));
            assert!(r < 0.1, "{r}: {other_title}");
        }
        assert_eq!(resemblance(&[], &[]), 0.0);
    }
}
