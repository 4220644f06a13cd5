//! Standing topic queries: compile once, match every new article.
//!
//! Matching is pure computation on already-extracted text: no IO, no clock.
//! A [`TopicSet`] is built from the configured topics and rebuilt when they
//! change; [`TopicSet::matches`] returns the indexes of the topics an item
//! matches.

pub mod query;

use std::collections::HashMap;

pub use query::{Expr, QueryError};

use crate::text;

/// A query that failed to compile, naming its topic.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("topic {name:?}: {source}")]
pub struct TopicError {
    pub name: String,
    #[source]
    pub source: QueryError,
}

/// One compiled topic.
#[derive(Debug, Clone)]
pub struct Topic {
    pub name: String,
    pub query: String,
    pub expr: Expr,
}

/// All topics, compiled.
#[derive(Debug, Clone, Default)]
pub struct TopicSet {
    topics: Vec<Topic>,
}

impl TopicSet {
    /// Compiles `(name, query)` pairs; the first query that does not parse
    /// is reported with its topic name.
    pub fn compile<'a>(
        defs: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Self, TopicError> {
        let topics = defs
            .into_iter()
            .map(|(name, query)| {
                let expr = query::parse(query).map_err(|source| TopicError {
                    name: name.to_string(),
                    source,
                })?;
                Ok(Topic {
                    name: name.to_string(),
                    query: query.to_string(),
                    expr,
                })
            })
            .collect::<Result<_, TopicError>>()?;
        Ok(Self { topics })
    }

    pub fn topics(&self) -> &[Topic] {
        &self.topics
    }

    pub fn is_empty(&self) -> bool {
        self.topics.is_empty()
    }

    /// Indexes (into [`TopicSet::topics`]) of the topics `doc` matches.
    pub fn matches(&self, doc: &Document) -> Vec<usize> {
        self.topics
            .iter()
            .enumerate()
            .filter(|(_, topic)| doc.satisfies(&topic.expr))
            .map(|(i, _)| i)
            .collect()
    }
}

/// An article prepared for matching: folded words of title and text.
#[derive(Debug, Default)]
pub struct Document {
    fields: [Field; 2],
}

#[derive(Debug, Default)]
struct Field {
    /// Word → positions of that word, ascending.
    positions: HashMap<String, Vec<u32>>,
}

impl Field {
    fn new(raw: &str) -> Self {
        let mut positions: HashMap<String, Vec<u32>> = HashMap::new();
        for (i, word) in text::words(raw).into_iter().enumerate() {
            positions.entry(word).or_default().push(i as u32);
        }
        Self { positions }
    }

    fn contains_phrase(&self, words: &[String]) -> bool {
        let Some(starts) = self.positions.get(&words[0]) else {
            return false;
        };
        let rest: Option<Vec<&Vec<u32>>> =
            words[1..].iter().map(|w| self.positions.get(w)).collect();
        let Some(rest) = rest else {
            return false;
        };
        starts.iter().any(|&start| {
            rest.iter().enumerate().all(|(offset, positions)| {
                positions
                    .binary_search(&(start + offset as u32 + 1))
                    .is_ok()
            })
        })
    }
}

impl Document {
    pub fn new(title: &str, text: &str) -> Self {
        Self {
            fields: [Field::new(title), Field::new(text)],
        }
    }

    fn satisfies(&self, expr: &Expr) -> bool {
        match expr {
            Expr::Phrase(words) => self.fields.iter().any(|f| f.contains_phrase(words)),
            Expr::And(children) => children.iter().all(|c| self.satisfies(c)),
            Expr::Or(children) => children.iter().any(|c| self.satisfies(c)),
            Expr::Not(child) => !self.satisfies(child),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matches(query: &str, title: &str, text: &str) -> bool {
        let set = TopicSet::compile([("t", query)]).unwrap();
        !set.matches(&Document::new(title, text)).is_empty()
    }

    #[test]
    fn terms_are_whole_words_case_insensitive() {
        assert!(matches("referendum", "", "The REFERENDUM was held"));
        assert!(!matches("referendum", "", "referendums were held"));
        assert!(!matches("Kurdistan", "", "Kurds voted"));
        assert!(matches("Kurdistan", "Kurdistan's vote", ""));
    }

    #[test]
    fn queries_and_text_are_folded_alike() {
        assert!(matches(
            "Kurdistan",
            "",
            "Kürdistan bağımsızlık referandumu"
        ));
        assert!(matches("Kürdistan", "", "KURDISTAN"));
        assert!(matches("\"Hulusi Akar\"", "HULUSİ AKAR", ""));
        assert!(matches("IKBY", "", "IKBY'nin referandumu"));
        assert!(matches(
            "\"همه پرسی\"",
            "",
            "همه\u{200C}پرسی استقلال کردستان"
        ));
        assert!(matches("همه\u{200C}پرسی", "", "همه پرسی کردستان"));
        assert!(matches("استفتاء", "", "اسْتِفْتَاء كردستان"));
        assert!(matches("کردستان", "", "استفتاء استقلال كردستان"));
        assert!(matches("باقری", "باقري وأكار", ""));
        assert!(matches(
            "ڕیفراندۆم OR ڕیفراندۆمی",
            "",
            "ڕیفراندۆمی سەربەخۆیی"
        ));
        assert!(!matches("سەربەخۆیی", "", "سهربهخۆیی"));
        assert!(!matches("referendum", "", "referendums"));
    }

    #[test]
    fn phrases_need_adjacent_words_within_one_field() {
        let q = "\"Hulusi Akar\"";
        assert!(matches(q, "", "General Hulusi Akar arrived"));
        assert!(!matches(q, "", "Akar Hulusi"));
        assert!(!matches(q, "", "Hulusi met Akar"));
        assert!(!matches(q, "Hulusi", "Akar"));
        assert!(matches(
            "\"independence referendum\"",
            "",
            "an independence independence referendum"
        ));
    }

    #[test]
    fn boolean_operators() {
        let q = "(Kurdistan OR KRG) AND referendum";
        assert!(matches(q, "KRG referendum", ""));
        assert!(matches(q, "Kurdistan", "the referendum"));
        assert!(!matches(q, "Kurdistan", "the vote"));
        assert!(!matches(q, "Iraq referendum", ""));
        let q = "referendum NOT football";
        assert!(matches(q, "referendum", ""));
        assert!(!matches(q, "referendum", "football"));
    }

    #[test]
    fn reports_topic_name_on_error() {
        let err = TopicSet::compile([("ok", "a"), ("bad", "(a OR b")]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "topic \"bad\": column 8: expected ')' to close '(' at column 1"
        );
    }

    #[test]
    fn returns_indexes_of_matching_topics() {
        let set = TopicSet::compile([("a", "alpha"), ("b", "beta"), ("c", "alpha beta")]).unwrap();
        assert_eq!(set.matches(&Document::new("alpha beta", "")), vec![0, 1, 2]);
        assert_eq!(set.matches(&Document::new("", "beta")), vec![1]);
    }
}
