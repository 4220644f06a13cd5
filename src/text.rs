//! Text normalisation shared by matching and search.
//!
//! One function folds article text and query terms alike, so a query word
//! matches exactly the words it was written to match. This module does no IO.
//!
//! Folding today: lower-casing (with the Turkish dotted/dotless `I` folded
//! together) and word splitting on anything that is not a letter, digit or
//! combining mark. Joiners (ZWNJ) and apostrophes therefore split words.

/// Folds one character sequence for comparison: lower case, Turkish `İ`/`ı`
/// folded to `i`.
pub fn fold(input: &str) -> String {
    let mut out = String::with_capacity(input.len());
    for c in input.chars() {
        push_folded(&mut out, c);
    }
    out
}

fn push_folded(out: &mut String, c: char) {
    match c {
        'İ' | 'I' | 'ı' => out.push('i'),
        c if c.is_ascii() => out.push(c.to_ascii_lowercase()),
        c => out.extend(c.to_lowercase()),
    }
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || is_combining_mark(c)
}

/// Combining marks that can sit inside a word (Latin diacritics in NFD form,
/// Arabic tashkeel). Kept inside words so they never split one.
fn is_combining_mark(c: char) -> bool {
    matches!(c,
        '\u{0300}'..='\u{036F}'
        | '\u{0610}'..='\u{061A}'
        | '\u{064B}'..='\u{065F}'
        | '\u{0670}'
        | '\u{06D6}'..='\u{06ED}')
}

/// Splits text into folded words, in order.
pub fn words(input: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut current = String::new();
    for c in input.chars() {
        if is_word_char(c) {
            push_folded(&mut current, c);
        } else if !current.is_empty() {
            words.push(std::mem::take(&mut current));
        }
    }
    if !current.is_empty() {
        words.push(current);
    }
    words
}

/// Folded words with the byte range of each word in `input`.
pub fn word_spans(input: &str) -> Vec<(std::ops::Range<usize>, String)> {
    let mut spans = Vec::new();
    let mut start = None;
    let mut current = String::new();
    for (i, c) in input.char_indices() {
        if is_word_char(c) {
            start.get_or_insert(i);
            push_folded(&mut current, c);
        } else if let Some(s) = start.take() {
            spans.push((s..i, std::mem::take(&mut current)));
        }
    }
    if let Some(s) = start {
        spans.push((s..input.len(), current));
    }
    spans
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, expected: &[&str]) {
        assert_eq!(words(input), expected, "words({input:?})");
    }

    #[test]
    fn splits_and_folds_words() {
        check("Kurdistan referendum", &["kurdistan", "referendum"]);
        check("  KRG, Erbil; (Iraq)! ", &["krg", "erbil", "iraq"]);
        check("Kurdistan's vote", &["kurdistan", "s", "vote"]);
        check("Kurdistan’s vote", &["kurdistan", "s", "vote"]);
        check("IKBY'nin", &["ikby", "nin"]);
        check("İSTANBUL Irak ılık", &["istanbul", "irak", "ilik"]);
        check("2017-09-25", &["2017", "09", "25"]);
        check("", &[]);
        check("...", &[]);
    }

    #[test]
    fn keeps_non_latin_scripts_whole() {
        check("همه‌پرسی استقلال", &["همه", "پرسی", "استقلال"]);
        check("اسْتِفْتَاء كردستان", &["اسْتِفْتَاء", "كردستان"]);
        check("ڕیفراندۆمی سەربەخۆیی", &["ڕیفراندۆمی", "سەربەخۆیی"]);
    }

    #[test]
    fn fold_matches_word_folding() {
        assert_eq!(fold("Hulusi AKAR"), "hulusi akar");
        assert_eq!(fold("İzmir"), words("İzmir")[0]);
    }
}
