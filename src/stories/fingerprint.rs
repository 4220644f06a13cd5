//! Near-duplicate text: SimHash fingerprints of word pairs, the lookup keys
//! that find fingerprints within [`NEAR_DUPLICATE_DISTANCE`] without a scan,
//! and bottom-k MinHash sketches that confirm a near candidate. Measured
//! choices (shingle size, distance, resemblance threshold): docs/stories.md.

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

/// (block, shift, mask) of each of the `k + 1` blocks the 64 bits are cut
/// into for lookups within distance `k` (by pigeonhole, two fingerprints
/// within `k` agree on at least one block).
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

/// Blocks of a fingerprint the store indexes for story lookups (multi-index
/// hashing). Two fingerprints within distance k differ in at most
/// `k / LOOKUP_BLOCKS` bits of at least one block (pigeonhole), so the store
/// keeps [`LOOKUP_BLOCKS`] rows per item ([`lookup_keys`]) and probes each
/// block's value and its neighbours within that radius ([`probe_keys`]).
///
/// With k = 8: five blocks of 12 to 13 bits, radius 1, so 5 stored rows and
/// 5 · (1 + 13) = 69 probes per lookup, each reading about `n / 2^13` random
/// candidates: about `n / 120` per lookup, against `n / 14` for the
/// `k + 1` bands (9 rows, 7 to 8 bits wide) and `n / 160` for every pair
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

/// Words per shingle of `resemblance`: triples, because word pairs repeat
/// across unrelated texts of a small vocabulary (docs/stories.md).
pub const RESEMBLANCE_SHINGLE_WORDS: usize = 3;

/// The `resemblance` at or above which two articles within
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
#[cfg(test)]
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

#[cfg(test)]
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
/// fingerprints within [`NEAR_DUPLICATE_DISTANCE`] and `resemblance` at
/// least [`MIN_RESEMBLANCE`]. The caller has found the candidate by
/// fingerprint; this is the final check.
#[cfg(test)]
pub fn same_story(a: &[String], b: &[String]) -> bool {
    resemblance(a, b) >= MIN_RESEMBLANCE
}

/// Values kept by [`sketch`]: 64 values of 4 bytes, 256 bytes per item.
pub const SKETCH_SIZE: usize = 64;

/// A bottom-k MinHash sketch of an article's [`RESEMBLANCE_SHINGLE_WORDS`]-word
/// shingles (as [`article_words`] gives the words): the [`SKETCH_SIZE`]
/// smallest distinct 32-bit shingle hashes (the top half of the same hash
/// `resemblance` uses), ascending. A text with fewer shingles keeps them
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

/// The bottom-k estimate of `resemblance` from two [`sketch`]es: of the
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

/// The resemblance test on [`sketch`]es: [`sketch_resemblance`] at least
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
        let sample = include_bytes!("../../config/samples/mehr-news-en.xml");
        let feed = crate::parse::parse_feed(sample, "https://en.mehrnews.com/").unwrap();
        let (title, text) = (&feed.items[0].title, &feed.items[0].text);
        let original = fingerprint(title, text).unwrap();
        let copies = include_str!("../../tests/fixtures/dedup/wire-copies.txt")
            .lines()
            .filter(|line| !line.starts_with('#'))
            .map(|line| line.split_once('\t').unwrap());
        for (name, template) in copies {
            let copy = template.replace("{text}", text);
            let distance = hamming(original, fingerprint(title, &copy).unwrap());
            assert!(distance <= NEAR_DUPLICATE_DISTANCE, "{distance}: {name}");
        }
        let others = [
            include_str!("../../tests/fixtures/dedup/same-event-akar-visit.txt"),
            include_str!("../../tests/fixtures/dedup/same-event-shamkhani.txt"),
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
        let sample = include_bytes!("../../config/samples/mehr-news-en.xml");
        let feed = crate::parse::parse_feed(sample, "https://en.mehrnews.com/").unwrap();
        let (title, text) = (&feed.items[0].title, &feed.items[0].text);
        let original = article_words(title, text);
        let s = sketch(&original);
        assert_eq!(s.len(), SKETCH_SIZE);
        assert!(s.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(sketch_from_bytes(&sketch_bytes(&s)), s);
        assert_eq!(sketch_resemblance(&s, &s), 1.0);
        let copies = include_str!("../../tests/fixtures/dedup/wire-copies.txt")
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
            include_str!("../../tests/fixtures/dedup/same-event-akar-visit.txt"),
            include_str!("../../tests/fixtures/dedup/same-event-shamkhani.txt"),
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
        let sample = include_bytes!("../../config/samples/mehr-news-en.xml");
        let feed = crate::parse::parse_feed(sample, "https://en.mehrnews.com/").unwrap();
        let (title, text) = (&feed.items[0].title, &feed.items[0].text);
        let original = article_words(title, text);
        assert_eq!(resemblance(&original, &original), 1.0);
        let copies = include_str!("../../tests/fixtures/dedup/wire-copies.txt")
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
            include_str!("../../tests/fixtures/dedup/same-event-akar-visit.txt"),
            include_str!("../../tests/fixtures/dedup/same-event-shamkhani.txt"),
        ] {
            let (other_title, other_text) = other.split_once('\n').unwrap();
            let r = resemblance(&original, &article_words(other_title, other_text));
            assert!(r < 0.1, "{r}: {other_title}");
        }
        assert_eq!(resemblance(&[], &[]), 0.0);
    }
}
