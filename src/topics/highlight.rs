//! Where a query matched, in the text as written: the byte ranges of the
//! hits [`Document::explain`] finds, for highlighting and for the `matches`
//! of search results and digests.

use std::ops::Range;

use super::{Document, Expr, Field, Meta};
use crate::text;

/// A matched stretch of the title or the text: `&title[range]` or
/// `&text[range]` is what the reader sees highlighted (a phrase as a whole,
/// from its first word to its last).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Span {
    pub field: Field,
    pub range: Range<usize>,
}

/// The spans of `title` and `text` that make `expr` match, title first, in
/// order, overlapping ones merged; `None` when it does not match.
pub fn spans(expr: &Expr, title: &str, text: &str, meta: Meta) -> Option<Vec<Span>> {
    let title_words = text::word_spans_in(title, meta.lang);
    let text_words = text::word_spans_in(text, meta.lang);
    let words = |spans: &[(Range<usize>, String)]| spans.iter().map(|(_, w)| w.clone()).collect();
    let doc = Document::from_words(words(&title_words), words(&text_words), meta);
    let hits = doc.explain(expr)?;
    let mut out: Vec<Span> = Vec::with_capacity(hits.len());
    for hit in hits {
        let words = if hit.field == Field::Title {
            &title_words
        } else {
            &text_words
        };
        let range = words[hit.first as usize].0.start..words[hit.last as usize].0.end;
        match out.last_mut() {
            Some(last) if last.field == hit.field && range.start < last.range.end => {
                last.range.end = last.range.end.max(range.end);
            }
            _ => out.push(Span {
                field: hit.field,
                range,
            }),
        }
    }
    Some(out)
}

/// A stretch of an item's title or text that made a topic (or the search
/// query) match: the phrase as a whole, both ends of a `NEAR` within its
/// window, the words of the clauses that matched, never words under `NOT`.
/// `start..end` are offsets in characters (Unicode scalar values) of the
/// stored `title` or `text`, end exclusive.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct MatchSpan {
    /// The topic's name; `null` for the search query.
    pub topic: Option<String>,
    /// `title` or `text`.
    pub field: String,
    pub start: usize,
    pub end: usize,
}

impl MatchSpan {
    /// `span`, a stretch of `title` or `text`, as published for `topic`.
    pub fn new(topic: Option<String>, span: &Span, title: &str, text: &str) -> Self {
        let (field, source) = match span.field {
            Field::Title => ("title", title),
            _ => ("text", text),
        };
        let chars = char_range(source, &span.range);
        MatchSpan {
            topic,
            field: field.to_string(),
            start: chars.start,
            end: chars.end,
        }
    }
}

/// `range` of `text` as offsets in characters (Unicode scalar values), the
/// unit of the `start`/`end` fields of published matches.
pub fn char_range(text: &str, range: &Range<usize>) -> Range<usize> {
    let start = text[..range.start].chars().count();
    start..start + text[range.clone()].chars().count()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::topics::query;

    fn marked(query: &str, title: &str, text: &str) -> Option<Vec<(Field, String)>> {
        let expr = query::parse(query).unwrap();
        spans(&expr, title, text, Meta::default()).map(|spans| {
            spans
                .into_iter()
                .map(|s| {
                    let source = if s.field == Field::Title { title } else { text };
                    (s.field, source[s.range].to_string())
                })
                .collect()
        })
    }

    fn texts(query: &str, text: &str) -> Vec<String> {
        marked(query, "", text)
            .expect("matches")
            .into_iter()
            .map(|(_, s)| s)
            .collect()
    }

    #[test]
    fn a_phrase_is_marked_as_a_whole_and_its_words_alone_are_not() {
        let text = "The independence vote was held; independence was declared in the Kurdish region.";
        assert_eq!(texts("\"independence vote\"", text), ["independence vote"]);
        assert_eq!(
            texts("\"Kuzey Irak\"", "Kuzey Irak'ta referandum; Irak hükümeti"),
            ["Kuzey Irak"]
        );
    }

    #[test]
    fn near_marks_both_ends_only_within_its_window() {
        let text = "Baqeri spoke. Then a long pause of many words. Later Baqeri met Akar in Ankara.";
        assert_eq!(texts("Baqeri NEAR/3 Akar", text), ["Baqeri", "Akar"]);
        let offsets: Vec<_> = spans(
            &query::parse("Baqeri NEAR/3 Akar").unwrap(),
            "",
            text,
            Meta::default(),
        )
        .unwrap()
        .into_iter()
        .map(|s| s.range.start)
        .collect();
        assert_eq!(
            offsets,
            [text.rfind("Baqeri").unwrap(), text.find("Akar").unwrap()]
        );
    }

    #[test]
    fn only_the_clauses_that_matched_are_marked() {
        let text = "Erbil voted; Baghdad objected.";
        assert_eq!(texts("(Erbil AND Tehran) OR Baghdad", text), ["Baghdad"]);
        assert_eq!(texts("Erbil AND NOT Tehran", text), ["Erbil"]);
        assert_eq!(marked("Erbil AND Tehran", "", text), None);
    }

    #[test]
    fn title_and_text_are_told_apart_and_marked_as_written() {
        let got = marked(
            "kurdistan OR referandum*",
            "KÜRDİSTAN referandumu",
            "Kurdistan's vote",
        )
        .unwrap();
        assert_eq!(
            got,
            [
                (Field::Title, "KÜRDİSTAN".to_string()),
                (Field::Title, "referandumu".to_string()),
                (Field::Text, "Kurdistan".to_string()),
            ]
        );
        assert_eq!(
            marked("title:vote", "Kurdistan's vote", "vote"),
            Some(vec![(Field::Title, "vote".into())])
        );
    }

    #[test]
    fn offsets_in_characters() {
        let text = "همه‌پرسی استقلال کردستان";
        let expr = query::parse("کردستان").unwrap();
        let span = &spans(&expr, "", text, Meta::default()).unwrap()[0];
        let chars = char_range(text, &span.range);
        let got: String = text.chars().skip(chars.start).take(chars.len()).collect();
        assert_eq!(got, "کردستان");
    }
}
