//! Folding and word splitting (`feedwatch::text`): no panics, and the
//! properties the module documentation and its callers rely on.
#![no_main]

use feedwatch::text::{fold, word_spans, words};
use libfuzzer_sys::fuzz_target;
use unicode_normalization::char::is_combining_mark;

/// Whether `words(&fold(s)) == words(s)` is promised for `s` (module docs:
/// "when the letters of `s` are Latin, Greek, Cyrillic, Armenian, Hebrew or
/// Arabic script"). Conservative: every non-ASCII letter, digit or mark must
/// lie in a block of those scripts.
fn fold_promise_applies(s: &str) -> bool {
    s.chars().all(|c| {
        c.is_ascii()
            || !(c.is_alphanumeric() || is_combining_mark(c))
            || matches!(c as u32,
                0x00C0..=0x06FF      // Latin-1 … Arabic
                | 0x0750..=0x077F    // Arabic Supplement
                | 0x08A0..=0x08FF    // Arabic Extended-A
                | 0x1E00..=0x1FFF    // Latin Extended Additional, Greek Extended
                | 0xFB1D..=0xFDFF    // Hebrew and Arabic presentation forms A
                | 0xFE70..=0xFEFF) // Arabic presentation forms B
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(input) = std::str::from_utf8(data) else {
        return;
    };
    let words = words(input);
    let spans = word_spans(input);

    // `word_spans` gives the words of `words`, with ranges that slice the
    // input at character boundaries, in order.
    assert_eq!(
        spans.iter().map(|(_, w)| w.as_str()).collect::<Vec<_>>(),
        words.iter().map(String::as_str).collect::<Vec<_>>(),
        "word_spans and words disagree on {input:?}"
    );
    let mut last_start = 0;
    for (range, word) in &spans {
        let original = input
            .get(range.clone())
            .unwrap_or_else(|| panic!("{input:?}: range {range:?} is not on char boundaries"));
        assert!(!original.is_empty(), "{input:?}: empty range for {word:?}");
        assert!(range.start >= last_start, "{input:?}: ranges out of order");
        last_start = range.start;
        // The original text of a word folds to (among others) that word.
        assert!(
            words_of(original).contains(word),
            "{input:?}: {range:?} = {original:?} does not fold to {word:?}"
        );
    }

    for word in &words {
        // "A word counts only if it contains a letter or digit after folding."
        assert!(
            word.chars().any(char::is_alphanumeric),
            "{input:?}: word {word:?} has no letter or digit"
        );
        // A folded word is a fixed point: the query printer writes folded
        // words back out and relies on them folding to themselves.
        assert_eq!(
            words_of(word),
            [word.clone()],
            "{input:?}: folded word {word:?} folds again differently"
        );
    }

    let folded = fold(input);
    if fold_promise_applies(input) {
        assert_eq!(
            words_of(&folded),
            words,
            "words(fold({input:?})) != words({input:?})"
        );
    }
});

fn words_of(s: &str) -> Vec<String> {
    words(s)
}
