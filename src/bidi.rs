//! Keeping right-to-left text readable next to left-to-right text.
//!
//! A Persian title followed by `(Mehr)` or a date in the same line is
//! reordered by the Unicode bidirectional algorithm: parentheses mirror,
//! ellipses and numbers move to the wrong end. The fix is to isolate every
//! piece of feed text and every user query: `dir="auto"` or `<bdi>` in HTML
//! (see the renderers), and FIRST STRONG ISOLATE … POP DIRECTIONAL ISOLATE
//! around pieces of plain text that contain right-to-left letters.

use std::borrow::Cow;

/// U+2068 FIRST STRONG ISOLATE: the piece takes the direction of its first
/// strong letter, without affecting its surroundings.
pub const FSI: char = '\u{2068}';
/// U+2069 POP DIRECTIONAL ISOLATE: ends the isolate.
pub const PDI: char = '\u{2069}';

/// Whether `c` is a letter of a right-to-left script (Hebrew, Arabic,
/// Syriac, Thaana, N'Ko, Samaritan, Mandaic and their presentation forms).
pub fn is_rtl(c: char) -> bool {
    matches!(c,
        '\u{0590}'..='\u{08FF}'
        | '\u{FB1D}'..='\u{FDFF}'
        | '\u{FE70}'..='\u{FEFF}'
        | '\u{10800}'..='\u{10FFF}'
        | '\u{1E800}'..='\u{1EFFF}')
}

/// `s` between FSI and PDI when it contains right-to-left letters; as is
/// otherwise (isolates are invisible, but some terminals and mail clients
/// show them as boxes, so they are only used where they help).
pub fn isolate(s: &str) -> Cow<'_, str> {
    if s.chars().any(is_rtl) {
        Cow::Owned(format!("{FSI}{s}{PDI}"))
    } else {
        Cow::Borrowed(s)
    }
}

/// `s` cut to `width` characters (with `…`) and padded with spaces to
/// `width`, isolated when it contains right-to-left letters: a table cell
/// whose text cannot reorder its neighbours (the isolates take no room).
pub fn cell(s: &str, width: usize) -> String {
    let shown = truncate(s, width);
    let padding = width.saturating_sub(shown.chars().count());
    let mut out = isolate(&shown).into_owned();
    out.extend(std::iter::repeat_n(' ', padding));
    out
}

/// `s` shortened to at most `width` characters, the cut marked with `…`
/// (terminal tables, Slack's length limits).
pub fn truncate(s: &str, width: usize) -> String {
    if s.chars().count() <= width {
        s.to_string()
    } else {
        s.chars().take(width.saturating_sub(1)).chain(['…']).collect()
    }
}

/// A query (or other left-to-right syntax around right-to-left words) as
/// HTML: escaped with `escape`, each word holding right-to-left letters in
/// `<bdi>` without the brackets and quotes around it, so `(کردستان OR
/// Kurdistan)` keeps its parentheses in place inside a `dir="ltr"` element.
pub fn html_ltr_words(s: &str, escape: impl Fn(&str) -> String) -> String {
    let mut out = String::with_capacity(s.len() + 16);
    for piece in s.split_inclusive(char::is_whitespace) {
        let word = piece.trim_end();
        let space = &piece[word.len()..];
        if !word.chars().any(is_rtl) {
            out.push_str(&escape(piece));
            continue;
        }
        let syntax = |c: char| c.is_ascii_punctuation() && c != '*';
        let inner = word.trim_matches(syntax);
        let start = word.len() - word.trim_start_matches(syntax).len();
        out.push_str(&escape(&word[..start]));
        out.push_str("<bdi>");
        out.push_str(&escape(inner));
        out.push_str("</bdi>");
        out.push_str(&escape(&word[start + inner.len()..]));
        out.push_str(space);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_right_to_left_text_is_isolated() {
        assert_eq!(isolate("Kurdistan (Rudaw)"), "Kurdistan (Rudaw)");
        assert_eq!(isolate("کردستان)"), "\u{2068}کردستان)\u{2069}");
        assert_eq!(isolate("استفتاء"), "\u{2068}استفتاء\u{2069}");
        assert_eq!(isolate("ڕیفراندۆم"), "\u{2068}ڕیفراندۆم\u{2069}");
    }

    #[test]
    fn query_words_are_isolated_without_their_syntax() {
        let html = html_ltr_words(
            "(Kurdistan OR کردستان) NEAR/10 \"همه پرسی\" <x>",
            |s| s.replace('<', "&lt;"),
        );
        assert_eq!(
            html,
            "(Kurdistan OR <bdi>کردستان</bdi>) NEAR/10 \"<bdi>همه</bdi> <bdi>پرسی</bdi>\" &lt;x>"
        );
    }

    #[test]
    fn cells_are_cut_padded_and_isolated() {
        assert_eq!(cell("abc", 5), "abc  ");
        assert_eq!(cell("abcdef", 4), "abc…");
        assert_eq!(cell("کرد", 5), "\u{2068}کرد\u{2069}  ");
        assert_eq!(
            cell("همه پرسی کردستان", 6)
                .chars()
                .filter(|c| !matches!(*c, FSI | PDI))
                .count(),
            6
        );
    }
}
