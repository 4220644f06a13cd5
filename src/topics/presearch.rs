//! The presearcher (the Lucene Monitor / Luwak idea): for every topic, a set
//! of *anchor* patterns such that any document the topic matches contains at
//! least one of them. The anchors of all topics are indexed, words in a hash
//! table and wildcard prefixes in a trie; a document looks up each of its
//! distinct words, and walks it down the trie to find the prefixes it
//! starts with, and only the topics found that way are evaluated in full.
//!
//! Anchor rules: a phrase is anchored by its most selective word; `A AND B`
//! by the cheaper of its children's anchor sets; `A OR B` by the union (and
//! is unanchorable if one side is); `NEAR` like `AND`; `NOT` and filters
//! anchor nothing. Topics without anchors — impossible for queries accepted
//! by the parser, which requires a positive term — would be evaluated for
//! every document.
//!
//! What an anchor costs is the share of documents it lets through. With
//! word statistics ([`WordStats`]: document frequencies of recent
//! articles) that share is measured. Without them — a new database, whose
//! first cycle is the largest — it is guessed: longer words are rarer, and
//! a word that many topics use is a common word (`government`,
//! `minister`), not the name one brief is about. Guessing by length alone
//! anchored `government AND (Rofumo35 OR …)` on `government`, and 10,000
//! such briefs evaluated thousands of topics per article (issue 27).

use rustc_hash::FxHashMap;

use super::{Document, Expr, Pattern, WordStats};

#[derive(Debug, Clone, Default)]
pub(super) struct Index {
    /// Anchor word → range of `postings`.
    exact: FxHashMap<Box<str>, (u32, u32)>,
    /// Anchor prefixes.
    prefixes: PrefixTrie,
    /// Topics, grouped by anchor.
    postings: Vec<u32>,
    /// Topics evaluated for every document.
    always: Vec<u32>,
}

/// Prefixes as a trie of their UTF-8 bytes: a word walks down it byte by
/// byte and meets every indexed prefix it starts with, in as many steps as
/// its longest shared start (so a word that starts no prefix costs one or
/// two lookups, however many prefixes there are).
#[derive(Debug, Clone, Default)]
struct PrefixTrie {
    /// (node, next byte) → child node; the root is node 0.
    edges: FxHashMap<(u32, u8), u32>,
    /// Node → range of `Index::postings` of the prefix ending there.
    ends: FxHashMap<u32, (u32, u32)>,
    nodes: u32,
}

impl PrefixTrie {
    /// The node of `prefix`, created with its path if new.
    fn insert(&mut self, prefix: &str) -> u32 {
        let mut node = 0;
        for &byte in prefix.as_bytes() {
            let next = self.nodes + 1;
            node = *self.edges.entry((node, byte)).or_insert(next);
            if node == next {
                self.nodes = next;
            }
        }
        node
    }

    /// Calls `found` with the postings of every indexed prefix of `word`.
    fn walk(&self, word: &str, mut found: impl FnMut((u32, u32))) {
        let mut node = 0;
        for &byte in word.as_bytes() {
            match self.edges.get(&(node, byte)) {
                Some(&next) => node = next,
                None => return,
            }
            if let Some(&range) = self.ends.get(&node) {
                found(range);
            }
        }
    }
}

impl Index {
    pub(super) fn build<'a>(exprs: impl Iterator<Item = &'a Expr> + Clone, stats: &WordStats) -> Self {
        let cost = Cost::new(exprs.clone(), stats);
        // (pattern, topic) pairs, grouped by pattern below.
        let mut pairs: Vec<(Pattern, u32)> = Vec::new();
        let mut index = Index::default();
        for (i, expr) in exprs.enumerate() {
            let topic = i as u32;
            match anchors(expr, &cost) {
                None => index.always.push(topic),
                Some(patterns) => pairs.extend(patterns.into_iter().map(|p| (p, topic))),
            }
        }
        pairs.sort_unstable();
        let mut start = 0;
        while start < pairs.len() {
            let pattern = &pairs[start].0;
            let end = start + pairs[start..].partition_point(|(p, _)| p == pattern);
            let range = (
                index.postings.len() as u32,
                (index.postings.len() + end - start) as u32,
            );
            index.postings.extend(pairs[start..end].iter().map(|&(_, t)| t));
            match pattern {
                Pattern::Word(w) => {
                    index.exact.insert(w.as_str().into(), range);
                }
                Pattern::Prefix(p) => {
                    let node = index.prefixes.insert(p);
                    index.prefixes.ends.insert(node, range);
                }
            }
            start = end;
        }
        index.exact.shrink_to_fit();
        index.postings.shrink_to_fit();
        index
    }

    /// Topics that may match `doc`, each once, ascending.
    pub(super) fn candidates(&self, doc: &Document) -> Vec<usize> {
        let mut out: Vec<u32> = self.always.clone();
        let mut add =
            |(from, to): (u32, u32)| out.extend_from_slice(&self.postings[from as usize..to as usize]);
        let probe_prefixes = !self.prefixes.ends.is_empty();
        for word in doc.distinct_words() {
            if let Some(&range) = self.exact.get(word) {
                add(range);
            }
            if probe_prefixes {
                self.prefixes.walk(word, &mut add);
            }
        }
        out.sort_unstable();
        out.dedup();
        out.into_iter().map(|t| t as usize).collect()
    }
}

/// What anchoring on a pattern costs: the share of documents it lets
/// through, measured by `stats` when it has documents, else guessed from
/// the pattern's length and how many topics use it.
struct Cost<'s> {
    stats: &'s WordStats,
    /// Pattern → number of topics that use it (only without statistics).
    topics_using: FxHashMap<&'s Pattern, u32>,
}

impl<'s> Cost<'s> {
    fn new<'a: 's>(exprs: impl Iterator<Item = &'a Expr>, stats: &'s WordStats) -> Self {
        let mut topics_using: FxHashMap<&Pattern, u32> = FxHashMap::default();
        if stats.documents() == 0 {
            let mut patterns = Vec::new();
            for expr in exprs {
                patterns.clear();
                collect_patterns(expr, &mut patterns);
                patterns.sort_unstable();
                patterns.dedup();
                for &p in &patterns {
                    *topics_using.entry(p).or_default() += 1;
                }
            }
        }
        Self { stats, topics_using }
    }

    fn of(&self, pattern: &Pattern) -> f64 {
        let share = self.stats.cost(pattern);
        match self.topics_using.get(pattern) {
            Some(&n) => share * f64::from(n),
            None => share,
        }
    }
}

/// Every pattern of `expr`'s matches.
fn collect_patterns<'a>(expr: &'a Expr, out: &mut Vec<&'a Pattern>) {
    match expr {
        Expr::Match { words, .. } => out.extend(words),
        Expr::Near { left, right, .. } => {
            collect_patterns(left, out);
            collect_patterns(right, out);
        }
        Expr::And(children) | Expr::Or(children) => children.iter().for_each(|c| collect_patterns(c, out)),
        Expr::Not(child) => collect_patterns(child, out),
        Expr::Lang(_) | Expr::Feed(_) => {}
    }
}

/// A set of patterns one of which every match of `expr` contains, or `None`
/// when there is no such set.
fn anchors(expr: &Expr, cost: &Cost) -> Option<Vec<Pattern>> {
    match expr {
        Expr::Match { words, .. } => words
            .iter()
            .min_by(|a, b| cost.of(a).total_cmp(&cost.of(b)))
            .map(|p| vec![p.clone()]),
        Expr::Near { left, right, .. } => cheapest([anchors(left, cost), anchors(right, cost)], cost),
        Expr::And(children) => cheapest(children.iter().map(|c| anchors(c, cost)), cost),
        Expr::Or(children) => {
            let mut all = Vec::new();
            for child in children {
                all.extend(anchors(child, cost)?);
            }
            all.sort_unstable();
            all.dedup();
            Some(all)
        }
        Expr::Not(_) | Expr::Lang(_) | Expr::Feed(_) => None,
    }
}

fn cheapest(sets: impl IntoIterator<Item = Option<Vec<Pattern>>>, cost: &Cost) -> Option<Vec<Pattern>> {
    let set_cost = |set: &Vec<Pattern>| set.iter().map(|p| cost.of(p)).sum::<f64>();
    sets.into_iter()
        .flatten()
        .min_by(|a, b| set_cost(a).total_cmp(&set_cost(b)))
}

#[cfg(test)]
mod tests {
    use super::super::query::{parse_with, TermSets};
    use super::*;

    fn anchor_strings(query: &str) -> Option<Vec<String>> {
        anchor_strings_with(query, &WordStats::default())
    }

    fn anchor_strings_with(query: &str, stats: &WordStats) -> Option<Vec<String>> {
        let expr = parse_with(query, &TermSets::new()).unwrap();
        anchors(&expr, &Cost::new(std::iter::once(&expr), stats)).map(|set| {
            set.into_iter()
                .map(|p| match p {
                    Pattern::Word(w) => w,
                    Pattern::Prefix(p) => format!("{p}*"),
                })
                .collect()
        })
    }

    #[test]
    fn picks_selective_anchors() {
        assert_eq!(anchor_strings("referendum").unwrap(), ["referendum"]);
        assert_eq!(anchor_strings("\"in the referendum\"").unwrap(), ["referendum"]);
        assert_eq!(
            anchor_strings("(Kurdistan OR KRG) AND referendum").unwrap(),
            ["referendum"]
        );
        assert_eq!(anchor_strings("KRG OR Kurdistan").unwrap(), ["krg", "kurdistan"]);
        assert_eq!(anchor_strings("referendum NOT football").unwrap(), ["referendum"]);
        assert_eq!(anchor_strings("Baqeri NEAR/10 Akar").unwrap(), ["baqeri"]);
        assert_eq!(anchor_strings("referend* lang:fa").unwrap(), ["referend*"]);
    }

    fn index(queries: &[&str], stats: &WordStats) -> (Vec<Expr>, Index) {
        let exprs: Vec<Expr> = queries
            .iter()
            .map(|q| parse_with(q, &TermSets::new()).unwrap())
            .collect();
        let index = Index::build(exprs.iter(), stats);
        (exprs, index)
    }

    fn candidates(index: &Index, title: &str, text: &str) -> Vec<usize> {
        index.candidates(&Document::new(title, text, super::super::Meta::default()))
    }

    /// Issue 27: without statistics (a new database), `government` looked
    /// rarer than `rofumo35` (it is longer), so every brief of this shape
    /// was evaluated for every article about the government. A word many
    /// topics use is a common word; the briefs' names anchor them.
    #[test]
    fn without_statistics_words_many_topics_use_are_common() {
        let queries: Vec<String> = (0..50)
            .map(|i| format!("government AND (Rofumo{i} OR Kalite{i} OR Bazuno{i})"))
            .chain(["Zebari NEAR/5 government".into(), "\"government Rofumo7\"".into()])
            .collect();
        let queries: Vec<&str> = queries.iter().map(String::as_str).collect();
        let (_, index) = index(&queries, &WordStats::default());
        assert!(candidates(&index, "", "the government said").is_empty());
        assert_eq!(candidates(&index, "", "the government of Kalite3"), [3]);
        assert_eq!(candidates(&index, "Zebari and Rofumo7", ""), [7, 50, 51]);
        // One topic alone has nothing to compare with: length decides.
        assert_eq!(anchor_strings("government AND Rofumo7").unwrap(), ["government"]);
        // Statistics, when there are any, decide instead.
        let mut stats = WordStats::default();
        stats.add_document("Rofumo7", "");
        stats.add_document("Rofumo7", "government");
        assert_eq!(
            anchor_strings_with("government AND Rofumo7", &stats).unwrap(),
            ["government"]
        );
    }

    /// A document word finds every indexed prefix it starts with, nested
    /// ones and those of several bytes per letter, and no other.
    #[test]
    fn words_find_the_prefixes_they_start_with() {
        let (_, index) = index(
            &[
                "ka*",
                "kal*",
                "kalite*",
                "kalitean*",
                "کرد*",
                "Rofumo35*",
                "bo* OR ka*",
            ],
            &WordStats::default(),
        );
        assert_eq!(candidates(&index, "", "Kalitean"), [0, 1, 2, 3, 6]);
        assert_eq!(candidates(&index, "", "kalite"), [0, 1, 2, 6]);
        assert_eq!(candidates(&index, "", "kaz"), [0, 6]);
        assert_eq!(candidates(&index, "", "k kit"), Vec::<usize>::new());
        assert_eq!(candidates(&index, "", "کردستان"), [4]);
        assert_eq!(candidates(&index, "", "کر"), Vec::<usize>::new());
        assert_eq!(candidates(&index, "Rofumo356", "Rofumo3"), [5]);
        assert_eq!(candidates(&index, "bob", "kazan"), [0, 6]);
    }

    #[test]
    fn document_frequencies_beat_word_length() {
        let mut stats = WordStats::default();
        for _ in 0..50 {
            stats.add_document("Negotiations continue", "the negotiations on security went on");
        }
        stats.add_document("Kara visits", "Kara said");
        // Without statistics the longer word looks rarer.
        assert_eq!(anchor_strings("negotiations AND Kara").unwrap(), ["negotiations"]);
        // With them, the name seen once wins over the word seen in every article.
        assert_eq!(
            anchor_strings_with("negotiations AND Kara", &stats).unwrap(),
            ["kara"]
        );
        // A word never seen is rarer still.
        assert_eq!(
            anchor_strings_with("Kara AND Zebari", &stats).unwrap(),
            ["zebari"]
        );
        // Prefixes cost what the words they cover cost.
        assert_eq!(anchor_strings_with("negot* AND Kar*", &stats).unwrap(), ["kar*"]);
    }
}
