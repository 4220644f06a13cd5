//! Standing topic queries: compile once, match every new article.
//!
//! Matching is pure computation on already-extracted text: no IO, no clock.
//! A [`TopicSet`] is built from the configured topics and term sets and
//! rebuilt when they change; [`TopicSet::matches`] returns the indexes of
//! the topics a [`Document`] matches. A presearcher (see [`presearch`])
//! indexes the words each topic needs, so an article only fully evaluates
//! the topics whose words it contains.

pub mod highlight;
mod presearch;
pub mod query;

use std::collections::HashMap;

pub use query::{Expr, Field, Pattern, QueryError, TermSets};

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

/// All topics, compiled, with their presearch index.
#[derive(Debug, Clone, Default)]
pub struct TopicSet {
    topics: Vec<Topic>,
    index: presearch::Index,
}

impl TopicSet {
    /// Compiles `(name, query)` pairs; the first query that does not parse
    /// is reported with its topic name.
    pub fn compile<'a>(
        defs: impl IntoIterator<Item = (&'a str, &'a str)>,
        sets: &TermSets,
    ) -> Result<Self, TopicError> {
        Self::compile_with_stats(defs, sets, &WordStats::default())
    }

    /// Like [`TopicSet::compile`], choosing presearch anchors by how common
    /// words are in `stats` (rare words make better anchors).
    pub fn compile_with_stats<'a>(
        defs: impl IntoIterator<Item = (&'a str, &'a str)>,
        sets: &TermSets,
        stats: &WordStats,
    ) -> Result<Self, TopicError> {
        let topics: Vec<Topic> = defs
            .into_iter()
            .map(|(name, query)| {
                let expr = query::parse_with(query, sets).map_err(|source| TopicError {
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
        let index = presearch::Index::build(topics.iter().map(|t| &t.expr), stats);
        Ok(Self { topics, index })
    }

    /// A set of some of these topics (by index), with its own index.
    pub fn subset(&self, indexes: &[usize], stats: &WordStats) -> TopicSet {
        let topics: Vec<Topic> = indexes.iter().map(|&i| self.topics[i].clone()).collect();
        let index = presearch::Index::build(topics.iter().map(|t| &t.expr), stats);
        TopicSet { topics, index }
    }

    /// Rebuilds the presearch index, choosing anchors by `stats`.
    pub fn reindex(&mut self, stats: &WordStats) {
        self.index = presearch::Index::build(self.topics.iter().map(|t| &t.expr), stats);
    }

    pub fn topics(&self) -> &[Topic] {
        &self.topics
    }

    pub fn is_empty(&self) -> bool {
        self.topics.is_empty()
    }

    /// Indexes (into [`TopicSet::topics`]) of the topics `doc` matches,
    /// ascending.
    pub fn matches(&self, doc: &Document) -> Vec<usize> {
        // Candidates come ascending.
        self.index
            .candidates(doc)
            .into_iter()
            .filter(|&i| doc.satisfies(&self.topics[i].expr))
            .collect()
    }

    /// How many topics the presearcher has `doc` evaluate in full (for
    /// benchmarks: it should be a handful, whatever the number of topics).
    pub fn candidate_count(&self, doc: &Document) -> usize {
        self.index.candidates(doc).len()
    }

    /// Evaluates every topic without the presearcher (for tests and checks).
    pub fn matches_exhaustive(&self, doc: &Document) -> Vec<usize> {
        (0..self.topics.len())
            .filter(|&i| doc.satisfies(&self.topics[i].expr))
            .collect()
    }
}

/// How common words are: document frequencies over a sample of articles.
/// The presearcher anchors each topic on its rarest words; without
/// statistics it assumes longer words are rarer.
#[derive(Debug, Default)]
pub struct WordStats {
    docs: u32,
    /// Folded word → number of sampled documents containing it.
    df: HashMap<String, u32>,
    /// `df` sorted by word, for prefix ranges; built on first use.
    sorted: std::sync::OnceLock<Vec<(String, u32)>>,
}

impl WordStats {
    /// Adds the counts of another sample.
    pub fn merge(&mut self, other: WordStats) {
        self.docs += other.docs;
        for (word, n) in other.df {
            *self.df.entry(word).or_default() += n;
        }
        self.sorted = std::sync::OnceLock::new();
    }

    /// Counts the distinct words of one document.
    pub fn add_document(&mut self, title: &str, text: &str) {
        self.docs += 1;
        let mut words = text::words(title);
        words.extend(text::words(text));
        words.sort_unstable();
        words.dedup();
        for word in words {
            *self.df.entry(word).or_default() += 1;
        }
        self.sorted = std::sync::OnceLock::new();
    }

    /// Number of sampled documents.
    pub fn documents(&self) -> u32 {
        self.docs
    }

    /// Expected share of documents a pattern lets through.
    fn cost(&self, pattern: &Pattern) -> f64 {
        let (Pattern::Word(w) | Pattern::Prefix(w)) = pattern;
        let len = w.chars().count().max(1) as f64;
        if self.docs == 0 {
            return match pattern {
                Pattern::Word(_) => 1.0 / (len + 1.0),
                Pattern::Prefix(_) => 3.0 / (len + 1.0),
            };
        }
        let df: u32 = match pattern {
            Pattern::Word(w) => self.df.get(w).copied().unwrap_or(0),
            Pattern::Prefix(p) => {
                let sorted = self.sorted.get_or_init(|| {
                    let mut v: Vec<(String, u32)> = self.df.iter().map(|(w, n)| (w.clone(), *n)).collect();
                    v.sort_unstable();
                    v
                });
                let start = sorted.partition_point(|(w, _)| w.as_str() < p.as_str());
                sorted[start..]
                    .iter()
                    .take_while(|(w, _)| w.starts_with(p.as_str()))
                    .map(|(_, n)| n)
                    .sum()
            }
        };
        // Unseen words are rare but not free; longer ones rarer still.
        (f64::from(df) + 0.5 / len) / f64::from(self.docs + 1)
    }
}

/// What a document says about itself besides its text, for `lang:` and
/// `feed:` filters.
#[derive(Debug, Clone, Copy, Default)]
pub struct Meta<'a> {
    /// The item's language, else its feed's (e.g. `fa`, `en-us`).
    pub lang: Option<&'a str>,
    /// The feed's configured name, else its title.
    pub feed_name: Option<&'a str>,
    /// The feed's configured tags.
    pub feed_tags: &'a [String],
}

/// One occurrence that made a query match: words `first..=last` (word
/// positions, as [`text::words`] numbers them) of the title or the text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Hit {
    pub field: Field,
    pub first: u32,
    pub last: u32,
}

fn field_of(index: usize) -> Field {
    if index == 0 {
        Field::Title
    } else {
        Field::Text
    }
}

/// An article prepared for matching: folded words of title and text.
#[derive(Debug, Default)]
pub struct Document<'a> {
    fields: [FieldText; 2],
    meta: Meta<'a>,
}

#[derive(Debug, Default)]
struct FieldText {
    words: Vec<String>,
    /// Positions of `words` sorted by word, then position: the positions
    /// of one word are a run, ascending. (A map from word to positions
    /// cloned every word and allocated a list per distinct word: a third
    /// of the CPU of preparing an article for the store.)
    order: Vec<u32>,
    /// The forms of words without their Arabic proclitics
    /// ([`text::proclitic_forms`]: `والعراق` is also `العراق` and `عراق`),
    /// with their positions, sorted by form, then position. A query word
    /// matches a word as written or one of its forms; a query word's own
    /// proclitics are alternatives of the query ([`text::query_stem`]).
    forms: Vec<(String, u32)>,
    /// `(position, index into forms)`, sorted: the forms at a position.
    forms_at: Vec<(u32, u32)>,
}

impl FieldText {
    fn new(words: Vec<String>) -> Self {
        let mut order: Vec<u32> = (0..words.len() as u32).collect();
        order.sort_unstable_by(|&a, &b| words[a as usize].cmp(&words[b as usize]).then(a.cmp(&b)));
        let mut forms: Vec<(String, u32)> = Vec::new();
        for (i, word) in words.iter().enumerate() {
            forms.extend(text::proclitic_forms(word).into_iter().map(|f| (f, i as u32)));
        }
        forms.sort_unstable();
        let mut forms_at: Vec<(u32, u32)> = forms
            .iter()
            .enumerate()
            .map(|(i, (_, p))| (*p, i as u32))
            .collect();
        forms_at.sort_unstable();
        Self {
            words,
            order,
            forms,
            forms_at,
        }
    }

    fn word(&self, position: u32) -> &str {
        &self.words[position as usize]
    }

    /// Positions of `word` as written or as a form, ascending.
    fn positions<'s>(&'s self, word: &'s str) -> impl Iterator<Item = u32> + 's {
        let first = self.order.partition_point(|&p| self.word(p) < word);
        let written = self.order[first..]
            .iter()
            .copied()
            .take_while(move |&p| self.word(p) == word);
        let first = self.forms.partition_point(|(f, _)| f.as_str() < word);
        let forms = self.forms[first..]
            .iter()
            .take_while(move |(f, _)| f == word)
            .map(|&(_, p)| p);
        merge_ascending(written, forms)
    }

    fn contains(&self, word: &str) -> bool {
        self.positions(word).next().is_some()
    }

    /// Whether `pattern` matches the word at `position`: a whole word as
    /// written or as one of its forms, a prefix as written.
    fn matches_at(&self, position: usize, pattern: &Pattern) -> bool {
        let Some(word) = self.words.get(position) else {
            return false;
        };
        let Pattern::Word(w) = pattern else {
            return pattern.matches(word);
        };
        if w == word {
            return true;
        }
        let position = position as u32;
        let first = self.forms_at.partition_point(|&(p, _)| p < position);
        self.forms_at[first..]
            .iter()
            .take_while(|&&(p, _)| p == position)
            .any(|&(_, i)| self.forms[i as usize].0 == *w)
    }

    /// Distinct words and forms, in sorted order.
    fn distinct(&self) -> impl Iterator<Item = &str> {
        let mut previous: Option<&str> = None;
        let written = self.order.iter().map(|&p| self.word(p));
        let forms = self.forms.iter().map(|(f, _)| f.as_str());
        merge_ascending(written, forms).filter(move |&word| {
            let new = previous != Some(word);
            previous = Some(word);
            new
        })
    }

    /// Start positions of the phrase `pattern` in this field.
    fn occurrences<'s>(&'s self, pattern: &'s [Pattern]) -> impl Iterator<Item = u32> + 's {
        let starts: Box<dyn Iterator<Item = u32> + 's> = match &pattern[0] {
            Pattern::Word(w) => Box::new(self.positions(w)),
            Pattern::Prefix(p) => Box::new(
                self.words
                    .iter()
                    .enumerate()
                    .filter(move |(_, w)| w.starts_with(p.as_str()))
                    .map(|(i, _)| i as u32),
            ),
        };
        starts.filter(move |&start| {
            pattern[1..]
                .iter()
                .enumerate()
                .all(|(k, pat)| self.matches_at(start as usize + k + 1, pat))
        })
    }
}

/// Two ascending sequences as one (ties: `a` first).
fn merge_ascending<T: PartialOrd, A: Iterator<Item = T>, B: Iterator<Item = T>>(
    a: A,
    b: B,
) -> impl Iterator<Item = T> {
    let (mut a, mut b) = (a.peekable(), b.peekable());
    std::iter::from_fn(move || match (a.peek(), b.peek()) {
        (Some(x), Some(y)) if y < x => b.next(),
        (Some(_), _) => a.next(),
        (None, _) => b.next(),
    })
}

impl<'a> Document<'a> {
    pub fn new(title: &str, text: &str, meta: Meta<'a>) -> Self {
        Self::from_words(
            text::words_in(title, meta.lang),
            text::words_in(text, meta.lang),
            meta,
        )
    }

    /// A document from the folded words ([`text::words`]) of its title and
    /// text, for callers that need the words for more than matching
    /// (they get them back from [`Document::into_words`]).
    pub fn from_words(title: Vec<String>, text: Vec<String>, meta: Meta<'a>) -> Self {
        Self {
            fields: [FieldText::new(title), FieldText::new(text)],
            meta,
        }
    }

    /// The folded words of title and text.
    pub fn into_words(self) -> (Vec<String>, Vec<String>) {
        let [title, text] = self.fields;
        (title.words, text.words)
    }

    /// Distinct folded words of title and text.
    fn distinct_words(&self) -> impl Iterator<Item = &str> {
        let title = self.fields[0].distinct();
        let text = self.fields[1].distinct().filter(|w| !self.fields[0].contains(w));
        title.chain(text)
    }

    fn satisfies(&self, expr: &Expr) -> bool {
        match expr {
            Expr::Match { field, words } => self
                .fields
                .iter()
                .enumerate()
                .any(|(i, f)| field.allows(i) && f.occurrences(words).next().is_some()),
            Expr::Near {
                left,
                right,
                distance,
            } => (0..2).any(|i| self.near_in_field(i, left, right, *distance)),
            Expr::Lang(code) => self.meta.lang.is_some_and(|lang| {
                let lang = lang.to_ascii_lowercase();
                lang == *code || lang.starts_with(&format!("{code}-"))
            }),
            Expr::Feed(name) => {
                self.meta.feed_name.is_some_and(|n| n.eq_ignore_ascii_case(name))
                    || self.meta.feed_tags.iter().any(|t| t.eq_ignore_ascii_case(name))
            }
            Expr::And(children) => children.iter().all(|c| self.satisfies(c)),
            Expr::Or(children) => children.iter().any(|c| self.satisfies(c)),
            Expr::Not(child) => !self.satisfies(child),
        }
    }

    /// Spans `(first, last)` word positions of a NEAR operand in field `i`.
    fn spans(&self, i: usize, operand: &Expr) -> Vec<(u32, u32)> {
        let mut out = Vec::new();
        let mut add = |e: &Expr| {
            if let Expr::Match { field, words } = e {
                if field.allows(i) {
                    let len = words.len() as u32;
                    out.extend(self.fields[i].occurrences(words).map(|s| (s, s + len - 1)));
                }
            }
        };
        match operand {
            Expr::Or(children) => children.iter().for_each(&mut add),
            other => add(other),
        }
        out
    }

    /// Why `expr` matches this document: the occurrences that satisfy it,
    /// or `None` when it does not match. A phrase is one hit from its first
    /// word to its last; a `NEAR` contributes both of its ends, and only
    /// pairs within its window; an `AND` the hits of all its parts, an `OR`
    /// those of the parts that match; `NOT` and filters contribute nothing.
    pub fn explain(&self, expr: &Expr) -> Option<Vec<Hit>> {
        let mut hits = Vec::new();
        if !self.collect_hits(expr, &mut hits) {
            return None;
        }
        hits.sort_unstable();
        hits.dedup();
        Some(hits)
    }

    /// Adds the hits of `expr` to `out` and says whether it is satisfied
    /// (when it is not, what it added is removed again).
    fn collect_hits(&self, expr: &Expr, out: &mut Vec<Hit>) -> bool {
        let mark = out.len();
        let satisfied = match expr {
            Expr::Match { field, words } => {
                let len = words.len() as u32;
                for (i, f) in self.fields.iter().enumerate() {
                    if field.allows(i) {
                        out.extend(f.occurrences(words).map(|start| Hit {
                            field: field_of(i),
                            first: start,
                            last: start + len - 1,
                        }));
                    }
                }
                out.len() > mark
            }
            Expr::Near {
                left,
                right,
                distance,
            } => {
                for i in 0..2 {
                    let left = self.spans(i, left);
                    let right = self.spans(i, right);
                    let near = |a: (u32, u32), b: (u32, u32)| {
                        (a.1 < b.0 && b.0 - a.1 <= *distance) || (b.1 < a.0 && a.0 - b.1 <= *distance)
                    };
                    for &l in &left {
                        for &r in &right {
                            if near(l, r) {
                                for (first, last) in [l, r] {
                                    out.push(Hit {
                                        field: field_of(i),
                                        first,
                                        last,
                                    });
                                }
                            }
                        }
                    }
                }
                out.len() > mark
            }
            Expr::And(children) => children.iter().all(|c| self.collect_hits(c, out)),
            // Every part that matches contributes: no short circuit.
            Expr::Or(children) => {
                children
                    .iter()
                    .map(|c| self.collect_hits(c, out))
                    .filter(|&hit| hit)
                    .count()
                    > 0
            }
            Expr::Not(_) | Expr::Lang(_) | Expr::Feed(_) => self.satisfies(expr),
        };
        if !satisfied {
            out.truncate(mark);
        }
        satisfied
    }

    fn near_in_field(&self, i: usize, left: &Expr, right: &Expr, distance: u32) -> bool {
        let left = self.spans(i, left);
        if left.is_empty() {
            return false;
        }
        let right = self.spans(i, right);
        left.iter().any(|&(ls, le)| {
            right.iter().any(|&(rs, re)| {
                if le < rs {
                    rs - le <= distance
                } else if re < ls {
                    ls - re <= distance
                } else {
                    false // overlapping spans are one mention, not two
                }
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sets() -> TermSets {
        let mut sets = TermSets::new();
        sets.insert(
            "baqeri".into(),
            vec!["Baqeri".into(), "Bagheri".into(), "باقری".into()],
        );
        sets
    }

    fn hit(query: &str, title: &str, text: &str) -> bool {
        hit_meta(query, title, text, Meta::default())
    }

    fn hit_meta(query: &str, title: &str, text: &str, meta: Meta) -> bool {
        let set = TopicSet::compile([("t", query)], &sets()).unwrap();
        let doc = Document::new(title, text, meta);
        let fast = !set.matches(&doc).is_empty();
        assert_eq!(
            fast,
            !set.matches_exhaustive(&doc).is_empty(),
            "presearch agrees for {query:?}"
        );
        assert_eq!(
            fast,
            doc.explain(&set.topics()[0].expr).is_some(),
            "explain agrees for {query:?}"
        );
        fast
    }

    #[test]
    fn terms_are_whole_words_case_insensitive() {
        assert!(hit("referendum", "", "The REFERENDUM was held"));
        assert!(!hit("referendum", "", "referendums were held"));
        assert!(!hit("Kurdistan", "", "Kurds voted"));
        assert!(hit("Kurdistan", "Kurdistan's vote", ""));
    }

    #[test]
    fn queries_and_text_are_folded_alike() {
        assert!(hit("Kurdistan", "", "Kürdistan bağımsızlık referandumu"));
        assert!(hit("Kürdistan", "", "KURDISTAN"));
        assert!(hit("\"Hulusi Akar\"", "HULUSİ AKAR", ""));
        assert!(hit("IKBY", "", "IKBY'nin referandumu"));
        assert!(hit("\"همه پرسی\"", "", "همه\u{200C}پرسی استقلال کردستان"));
        assert!(hit("همه\u{200C}پرسی", "", "همه پرسی کردستان"));
        assert!(hit("استفتاء", "", "اسْتِفْتَاء كردستان"));
        assert!(hit("کردستان", "", "استفتاء استقلال كردستان"));
        assert!(hit("باقری", "باقري وأكار", ""));
        assert!(hit("ڕیفراندۆم OR ڕیفراندۆمی", "", "ڕیفراندۆمی سەربەخۆیی"));
        assert!(!hit("سەربەخۆیی", "", "سهربهخۆیی"));
        assert!(!hit("referendum", "", "referendums"));
    }

    #[test]
    fn phrases_need_adjacent_words_within_one_field() {
        let q = "\"Hulusi Akar\"";
        assert!(hit(q, "", "General Hulusi Akar arrived"));
        assert!(!hit(q, "", "Akar Hulusi"));
        assert!(!hit(q, "", "Hulusi met Akar"));
        assert!(!hit(q, "Hulusi", "Akar"));
        assert!(hit(
            "\"independence referendum\"",
            "",
            "an independence independence referendum"
        ));
    }

    #[test]
    fn boolean_operators() {
        let q = "(Kurdistan OR KRG) AND referendum";
        assert!(hit(q, "KRG referendum", ""));
        assert!(hit(q, "Kurdistan", "the referendum"));
        assert!(!hit(q, "Kurdistan", "the vote"));
        assert!(!hit(q, "Iraq referendum", ""));
        let q = "referendum NOT football";
        assert!(hit(q, "referendum", ""));
        assert!(!hit(q, "referendum", "football"));
    }

    #[test]
    fn wildcards_match_word_prefixes() {
        assert!(hit("referend*", "", "referendums"));
        assert!(hit("referend*", "", "the referendum"));
        assert!(!hit("referend*", "", "a referee"));
        assert!(!hit("referend*", "", "nonreferendum"));
        assert!(hit(
            "\"independence referend*\"",
            "",
            "independence referendums held"
        ));
        assert!(!hit(
            "\"independence referend*\"",
            "",
            "independence was a referendum"
        ));
        assert!(hit(
            "\"referend* in\" Kurdistan",
            "",
            "referendum in Iraqi Kurdistan"
        ));
    }

    #[test]
    fn near_counts_word_distance_in_either_order() {
        let text = "Baqeri met the Turkish general Hulusi Akar"; // Baqeri=0, Akar=6
        assert!(hit("Baqeri NEAR/6 Akar", "", text), "distance exactly n");
        assert!(!hit("Baqeri NEAR/5 Akar", "", text), "n+1 is too far");
        assert!(hit("Akar NEAR/6 Baqeri", "", text), "either order");
        assert!(
            hit("Baqeri NEAR/1 met", "", text),
            "adjacent words are at distance 1"
        );
        // A phrase's distance is from its nearest end.
        assert!(hit("Baqeri NEAR/5 \"Hulusi Akar\"", "", text));
        assert!(!hit("Baqeri NEAR/4 \"Hulusi Akar\"", "", text));
        // OR-groups and term sets on either side.
        assert!(hit("(Bagheri OR Baqeri) NEAR/10 Akar", "", text));
        assert!(hit("@baqeri NEAR/10 Akar", "", "باقری و Akar"));
        // Both sides must be in the same field.
        assert!(!hit("Baqeri NEAR/10 Akar", "Baqeri", "Akar"));
        // One mention is not two.
        assert!(!hit("Akar NEAR/3 Akar", "", "Akar arrived"));
        assert!(hit("Akar NEAR/3 Akar", "", "Akar and Akar"));
    }

    #[test]
    fn field_scopes() {
        assert!(hit("title:referendum", "Referendum day", "nothing"));
        assert!(!hit("title:referendum", "Nothing", "the referendum"));
        assert!(hit("text:referendum", "Nothing", "the referendum"));
        assert!(!hit("text:referendum", "Referendum", "nothing"));
        assert!(hit(
            "title:(Kurdistan OR KRG) referendum",
            "KRG statement",
            "on the referendum"
        ));
        assert!(!hit(
            "title:(Kurdistan OR KRG) referendum",
            "Statement",
            "KRG on the referendum"
        ));
        assert!(hit("title:(Baqeri NEAR/3 Akar)", "Baqeri meets Akar", ""));
        assert!(!hit("title:(Baqeri NEAR/3 Akar)", "", "Baqeri meets Akar"));
    }

    #[test]
    fn filters_use_item_metadata() {
        let tags = vec!["Iran".to_string(), "wire".to_string()];
        let meta = Meta {
            lang: Some("fa-IR"),
            feed_name: Some("Mehr News (fa)"),
            feed_tags: &tags,
        };
        assert!(hit_meta("referendum lang:fa", "referendum", "", meta));
        assert!(!hit_meta("referendum lang:ar", "referendum", "", meta));
        assert!(!hit_meta("referendum lang:f", "referendum", "", meta));
        assert!(hit_meta(
            "referendum feed:\"mehr news (fa)\"",
            "referendum",
            "",
            meta
        ));
        assert!(hit_meta("referendum feed:wire", "referendum", "", meta));
        assert!(!hit_meta("referendum feed:reuters", "referendum", "", meta));
        assert!(hit_meta("referendum -lang:ar", "referendum", "", meta));
        assert!(!hit_meta("referendum lang:fa", "referendum", "", Meta::default()));
    }

    /// The deepest queries the parser accepts ([`query::MAX_DEPTH`]) are
    /// evaluated, with and without the presearcher, and printed and read
    /// back on a test thread's stack (2 MiB, a tokio worker's size).
    #[test]
    fn queries_nested_to_the_limit_evaluate_and_print_back() {
        let depth = query::MAX_DEPTH;
        let parens = format!("{}referendum{}", "(".repeat(depth), ")".repeat(depth));
        let nots = format!("referendum {}football", "NOT ".repeat(depth - 1));
        let scopes = format!(
            "{}referendum{}",
            "title:(".repeat(depth / 2),
            ")".repeat(depth / 2)
        );
        // `w31 OR v31 (w30 OR v30 (… (z)))`: 64 levels as printed.
        let groups = query::implied_groups(depth / 2);
        let v_from = |from: usize| (from..depth / 2).map(|k| format!("v{k} ")).collect::<String>();
        for (query, title, text, matches) in [
            (&parens, "", "the referendum", true),
            (&parens, "", "the vote", false),
            (&nots, "referendum", "", true),
            (&nots, "referendum", "football", false),
            (&scopes, "referendum", "", true),
            (&scopes, "", "referendum", false),
            (&groups, "", "w31", true),
            (&groups, "", "w20", false),
            (&groups, "", &format!("{}w20", v_from(21)), true),
            (&groups, "", &format!("{}z", v_from(0)), true),
            (&groups, "", &format!("{}z", v_from(1)), false),
        ] {
            assert_eq!(
                hit(query, title, text),
                matches,
                "{query:?} on {title:?} / {text:?}"
            );
            let expr = query::parse(query).unwrap();
            assert_eq!(query::parse(&expr.to_string()), Ok(expr), "{query:?} prints back");
        }
    }

    #[test]
    fn reports_topic_name_on_error() {
        let err = TopicSet::compile([("ok", "a"), ("bad", "(a OR b")], &TermSets::new()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "topic \"bad\": column 8: expected ')' to close '(' at column 1"
        );
    }

    #[test]
    fn returns_indexes_of_matching_topics() {
        let set = TopicSet::compile(
            [("a", "alpha"), ("b", "beta"), ("c", "alpha beta"), ("d", "al*")],
            &TermSets::new(),
        )
        .unwrap();
        assert_eq!(
            set.matches(&Document::new("alpha beta", "", Meta::default())),
            vec![0, 1, 2, 3]
        );
        assert_eq!(set.matches(&Document::new("", "beta", Meta::default())), vec![1]);
    }
}
