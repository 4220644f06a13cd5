//! A query's syntax tree as a PostgreSQL `tsquery` over `items.words`.
//!
//! `items.words` holds an item's folded words ([`crate::text::words`]) as
//! lexemes (`fw_words` in the migration: title words weight A, text words
//! weight B, each at its word number), never parsed by PostgreSQL (no
//! stemming, no stop words). The `tsquery` is written from the same folded
//! words, each a quoted lexeme, so PostgreSQL does not parse them either.
//!
//! It is a superset: every item the query matches is a candidate (the topic
//! evaluator, [`crate::topics`], confirms). Phrases and `NEAR` narrow by
//! the `AND` of their words (their order and distance are the evaluator's
//! to check: the phrase operators of a `tsquery` are not used, a vector
//! written without positions would fail them); field scopes narrow by
//! weight (`title:` is `:A`, `text:` is `:B`); `NOT` narrows only where its
//! operand's `tsquery` finds nothing but matches (single words and
//! prefixes, unscoped), `lang:` and `feed:` narrow nothing here.

use crate::topics::{Expr, Field, Pattern};

/// The longest lexeme PostgreSQL keeps (bytes); `fw_words` leaves longer
/// words out of the vector, so a query word longer than this narrows
/// nothing.
const MAX_LEXEME: usize = 2047;

/// The `tsquery` (as text, for `$1::tsquery`) every item matching `expr`
/// satisfies, or `None` when the query gives no narrowing (only `NOT`,
/// `lang:` or `feed:`): then there is nothing to rank by either.
pub(super) fn tsquery(expr: &Expr) -> Option<String> {
    superset(expr).filter(|part| part.positive).map(|part| part.text)
}

/// A `tsquery` fragment, and whether it requires some lexeme (a fragment of
/// only negations matches by absence: it cannot narrow on its own).
#[derive(Debug)]
struct Part {
    text: String,
    positive: bool,
}

/// A fragment every item matching `expr` satisfies.
fn superset(expr: &Expr) -> Option<Part> {
    match expr {
        Expr::Match { field, words } => {
            let words: Vec<String> = words.iter().filter_map(|p| pattern(p, *field)).collect();
            (!words.is_empty()).then(|| Part {
                text: and(&words),
                positive: true,
            })
        }
        Expr::Near { left, right, .. } => {
            let parts: Vec<Part> = [left, right].into_iter().filter_map(|e| superset(e)).collect();
            combine(parts, " & ")
        }
        Expr::And(children) => combine(children.iter().filter_map(superset).collect(), " & "),
        Expr::Or(children) => {
            let parts: Option<Vec<Part>> = children.iter().map(superset).collect();
            // An alternative of only negations would make the OR match by
            // absence: it narrows nothing.
            parts
                .filter(|p| !p.is_empty() && p.iter().all(|p| p.positive))
                .and_then(|p| combine(p, " | "))
        }
        Expr::Not(child) => subset(child).map(|text| Part {
            text: format!("!{text}"),
            positive: false,
        }),
        Expr::Lang(_) | Expr::Feed(_) => None,
    }
}

/// A fragment only items matching `expr` satisfy (to negate: no item the
/// evaluator finds for `NOT expr` is dropped), or `None`. A word is any of
/// its spellings with Arabic proclitics (each of which the evaluator also
/// reads as the word); a prefix is a prefix of a word as written, as the
/// evaluator reads it. Field scopes are left out: a vector written without
/// positions has no weights, and `'w':A` would find the word anywhere.
fn subset(expr: &Expr) -> Option<String> {
    match expr {
        Expr::Match {
            field: Field::Any,
            words,
        } if words.len() == 1 => pattern(&words[0], Field::Any),
        Expr::Or(children) => {
            let parts: Option<Vec<String>> = children.iter().map(subset).collect();
            parts
                .filter(|p| !p.is_empty())
                .map(|p| format!("({})", p.join(" | ")))
        }
        Expr::And(children) => {
            let parts: Option<Vec<String>> = children.iter().map(subset).collect();
            parts.filter(|p| !p.is_empty()).map(|p| and(&p))
        }
        _ => None,
    }
}

/// The `AND` of several fragments (already parenthesised where needed).
fn and(parts: &[String]) -> String {
    if parts.len() == 1 {
        parts[0].clone()
    } else {
        format!("({})", parts.join(" & "))
    }
}

/// Fragments joined by `op`, parenthesised; positive when one of an `AND`'s
/// is, when all of an `OR`'s are.
fn combine(parts: Vec<Part>, op: &str) -> Option<Part> {
    match parts.len() {
        0 => None,
        1 => parts.into_iter().next(),
        _ => {
            let positive = if op == " | " {
                parts.iter().all(|p| p.positive)
            } else {
                parts.iter().any(|p| p.positive)
            };
            let texts: Vec<&str> = parts.iter().map(|p| p.text.as_str()).collect();
            Some(Part {
                text: format!("({})", texts.join(op)),
                positive,
            })
        }
    }
}

/// One query word as lexemes: a word and its spellings with Arabic
/// proclitics (the index holds words as written), or a prefix; restricted
/// to the field's weight. `None` for a word the vector cannot hold (empty,
/// or longer than [`MAX_LEXEME`]): it narrows nothing.
fn pattern(pattern: &Pattern, field: Field) -> Option<String> {
    let weight = match field {
        Field::Any => "",
        Field::Title => "A",
        Field::Text => "B",
    };
    let fits = |w: &str| !w.is_empty() && w.len() <= MAX_LEXEME;
    match pattern {
        Pattern::Prefix(p) => fits(p).then(|| format!("{}:*{weight}", lexeme(p))),
        Pattern::Word(w) => {
            if !fits(w) {
                return None;
            }
            let spellings: Vec<String> = std::iter::once(w.clone())
                .chain(crate::text::proclitic_spellings(w))
                .filter(|s| fits(s))
                .map(|s| {
                    if weight.is_empty() {
                        lexeme(&s)
                    } else {
                        format!("{}:{weight}", lexeme(&s))
                    }
                })
                .collect();
            Some(if spellings.len() == 1 {
                spellings[0].clone()
            } else {
                format!("({})", spellings.join(" | "))
            })
        }
    }
}

/// A quoted `tsquery` lexeme: taken as written (no parsing, no
/// normalisation), `'` doubled and `\` escaped.
fn lexeme(word: &str) -> String {
    format!("'{}'", word.replace('\\', "\\\\").replace('\'', "''"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::topics::query::parse_with;
    use crate::topics::TermSets;

    fn check(query: &str, expected: Option<&str>) {
        let mut sets = TermSets::new();
        sets.insert("s".into(), vec!["baq".into(), "mo zed".into(), "kara*".into()]);
        let expr = parse_with(query, &sets).unwrap_or_else(|e| panic!("{query:?}: {e}"));
        assert_eq!(tsquery(&expr).as_deref(), expected, "{query}");
    }

    #[test]
    fn words_phrases_and_fields_map_to_weighted_lexemes() {
        check("kurdistan", Some("'kurdistan'"));
        check("kurd*", Some("'kurd':*"));
        check("\"hulusi akar\"", Some("('hulusi' & 'akar')"));
        check("title:erbil", Some("'erbil':A"));
        check("text:(erbil OR kirk*)", Some("('erbil':B | 'kirk':*B)"));
        check("a b", Some("('a' & 'b')"));
        check("a OR \"b c\"", Some("('a' | ('b' & 'c'))"));
    }

    #[test]
    fn near_narrows_by_and_of_its_sides() {
        check("baqeri NEAR/1 akar", Some("('baqeri' & 'akar')"));
        check("@s NEAR/5 x", Some("(('baq' | ('mo' & 'zed') | 'kara':*) & 'x')"));
        check("title:a NEAR/2 text:b", Some("('a':A & 'b':B)"));
    }

    #[test]
    fn not_narrows_only_by_words_it_finds_exactly() {
        check("a NOT b", Some("('a' & !'b')"));
        check("a NOT (b OR cd*)", Some("('a' & !('b' | 'cd':*))"));
        // A phrase, a scope or a NEAR under NOT: their lexemes find more
        // than their matches, so their negation would drop matches.
        check("a NOT \"b c\"", Some("'a'"));
        check("a NOT title:b", Some("'a'"));
        check("a NOT (b NEAR/2 c)", Some("'a'"));
        check("a lang:en", Some("'a'"));
        // Nothing but negations and metadata (the parser refuses such
        // topics; the trees can still be built): no narrowing, nothing to
        // rank.
        let word = |w: &str| Expr::Match {
            field: Field::Any,
            words: vec![Pattern::Word(w.into())],
        };
        let not_b = Expr::Not(Box::new(word("b")));
        assert_eq!(tsquery(&not_b), None);
        assert_eq!(tsquery(&Expr::Lang("en".into())), None);
        assert_eq!(tsquery(&Expr::Or(vec![word("a"), not_b])), None);
        assert_eq!(tsquery(&Expr::Or(vec![word("a"), Expr::Lang("en".into())])), None);
    }

    #[test]
    fn lexemes_are_quoted_not_parsed() {
        assert_eq!(lexeme("it's"), "'it''s'");
        assert_eq!(lexeme("a\\b"), "'a\\\\b'");
        assert_eq!(lexeme("a & b:*"), "'a & b:*'");
        assert_eq!(
            pattern(&Pattern::Word("x".repeat(MAX_LEXEME + 1)), Field::Any),
            None
        );
        assert_eq!(pattern(&Pattern::Prefix(String::new()), Field::Any), None);
    }

    #[test]
    fn arabic_words_are_any_of_their_spellings_with_proclitics() {
        let word = crate::text::words("العراق").remove(0);
        let spellings = crate::text::proclitic_spellings(&word);
        assert!(!spellings.is_empty());
        let got = pattern(&Pattern::Word(word.clone()), Field::Title).unwrap();
        for s in std::iter::once(&word).chain(&spellings) {
            assert!(got.contains(&format!("{}:A", lexeme(s))), "{got}");
        }
    }
}
