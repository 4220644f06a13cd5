//! Stories: which stored copies an incoming article is the same story as,
//! and what it does then (join one, merge several, start a new one).
//!
//! One home for the rule, pure (no IO, no clock): [`url`] decides "same
//! article" (canonical URLs: one item with several sources), [`fingerprint`]
//! "same text, lightly edited" (SimHash fingerprints of word pairs, lookup
//! keys that find near fingerprints without a scan, MinHash sketches that
//! confirm them), and this module the story rule ([`same_story`]) and the
//! decision ([`decide`]). The store only persists: it keeps the lookup keys
//! and sketches, finds the candidates (its story index, with an
//! in-memory copy of the recent windows) and applies the decision in the
//! item's transaction. The measurements behind the constants are in
//! docs/stories.md.

pub mod fingerprint;
pub mod url;

pub use fingerprint::{
    article_words, fingerprint, fingerprint_and_sketch, fingerprint_and_sketch_of, fingerprint_words,
    hamming, lookup_keys, probe_keys, same_story_sketch, sketch, sketch_bytes, sketch_from_bytes,
    LOOKUP_BLOCKS, LOOKUP_KEY_BLOCK_SHIFT, NEAR_DUPLICATE_DISTANCE, SKETCH_SIZE,
};
pub use url::canonical_url;

/// A fingerprinted copy of an article, as the story rule sees it.
#[derive(Debug, Clone, Copy)]
pub struct Copy<'a> {
    pub fingerprint: u64,
    /// Its language tag (`en`, `en-US`; empty when unknown).
    pub lang: &'a str,
    /// Its [`sketch`], when it has one (copies stored before sketches
    /// have none until read).
    pub sketch: Option<&'a [u32]>,
}

/// The story rule: two copies are the same story when their fingerprints
/// are within [`NEAR_DUPLICATE_DISTANCE`], they are in the same language
/// (primary subtag: `en-US` is `en`; an unknown language only matches an
/// unknown one) and, when both have sketches, the sketches resemble
/// ([`same_story_sketch`]). The time window is the caller's: candidates
/// come from it.
pub fn same_story(a: &Copy<'_>, b: &Copy<'_>) -> bool {
    hamming(a.fingerprint, b.fingerprint) <= NEAR_DUPLICATE_DISTANCE
        && crate::model::same_language(a.lang, b.lang)
        && match (a.sketch, b.sketch) {
            (Some(x), Some(y)) => same_story_sketch(x, y),
            _ => true,
        }
}

/// What a new copy does, given the distinct stories of the stored copies it
/// is the same story as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// None: it starts a story of its own.
    New,
    /// It joins this story.
    Join(i64),
    /// It bridges copies that were too far apart to join each other: their
    /// stories are merged into `keep` (the oldest: lowest id), which it
    /// joins; `gone` are merged away.
    Merge { keep: i64, gone: Vec<i64> },
}

/// [`Decision`] for the stories a new copy matched (in any order, each
/// once).
pub fn decide(stories: &[i64]) -> Decision {
    let Some(&keep) = stories.iter().min() else {
        return Decision::New;
    };
    let gone: Vec<i64> = stories.iter().copied().filter(|&s| s != keep).collect();
    if gone.is_empty() {
        Decision::Join(keep)
    } else {
        Decision::Merge { keep, gone }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decide_joins_one_story_and_merges_several_into_the_oldest() {
        assert_eq!(decide(&[]), Decision::New);
        assert_eq!(decide(&[7]), Decision::Join(7));
        assert_eq!(
            decide(&[9, 4, 7]),
            Decision::Merge {
                keep: 4,
                gone: vec![9, 7]
            }
        );
    }

    #[test]
    fn same_story_needs_near_text_one_language_and_resembling_sketches() {
        let words = |t: &str| article_words("", t);
        let text = "Iran and Turkey discussed the Kurdistan referendum in Ankara on Monday, \
                    the chiefs of staff said after a meeting on border security and trade.";
        let a = words(text);
        let fp = fingerprint_words(&a).expect("enough words");
        let sk = sketch(&a);
        let copy = |lang, fingerprint, sketch| Copy {
            fingerprint,
            lang,
            sketch,
        };
        let original = copy("en", fp, Some(sk.as_slice()));
        assert!(same_story(&original, &copy("en-US", fp, Some(&sk))));
        assert!(
            same_story(&original, &copy("en", fp ^ 0xff, None)),
            "8 bits apart"
        );
        assert!(
            !same_story(&original, &copy("en", fp ^ 0x1ff, None)),
            "9 bits apart"
        );
        assert!(
            !same_story(&original, &copy("fa", fp, Some(&sk))),
            "another language"
        );
        let other = sketch(&words("A different article entirely, about oil prices and the parliament budget vote in Baghdad this week."));
        assert!(
            !same_story(&original, &copy("en", fp, Some(&other))),
            "near fingerprint, different text"
        );
    }
}
