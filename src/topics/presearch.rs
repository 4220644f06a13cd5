//! The presearcher (the Lucene Monitor / Luwak idea): for every topic, a set
//! of *anchor* patterns such that any document the topic matches contains at
//! least one of them. The anchors of all topics are indexed by word (and by
//! prefix for wildcards); a document looks up its distinct words and only
//! the topics found that way are evaluated in full.
//!
//! Anchor rules: a phrase is anchored by its most selective word; `A AND B`
//! by the cheaper of its children's anchor sets; `A OR B` by the union (and
//! is unanchorable if one side is); `NEAR` like `AND`; `NOT` and filters
//! anchor nothing. Topics without anchors — impossible for queries accepted
//! by the parser, which requires a positive term — would be evaluated for
//! every document.

use std::collections::HashMap;

use super::{Document, Expr, Pattern, WordStats};

#[derive(Debug, Clone, Default)]
pub(super) struct Index {
    exact: HashMap<String, Vec<u32>>,
    prefix: HashMap<String, Vec<u32>>,
    /// Distinct prefix lengths in characters, ascending.
    prefix_lens: Vec<usize>,
    /// Topics evaluated for every document.
    always: Vec<u32>,
    topic_count: usize,
}

impl Index {
    pub(super) fn build<'a>(exprs: impl Iterator<Item = &'a Expr>, stats: &WordStats) -> Self {
        let mut index = Index::default();
        for (i, expr) in exprs.enumerate() {
            let topic = i as u32;
            index.topic_count += 1;
            match anchors(expr, stats) {
                None => index.always.push(topic),
                Some(patterns) => {
                    for pattern in patterns {
                        match pattern {
                            Pattern::Word(w) => index.exact.entry(w).or_default().push(topic),
                            Pattern::Prefix(p) => {
                                let len = p.chars().count();
                                if !index.prefix_lens.contains(&len) {
                                    index.prefix_lens.push(len);
                                }
                                index.prefix.entry(p).or_default().push(topic);
                            }
                        }
                    }
                }
            }
        }
        index.prefix_lens.sort_unstable();
        index
    }

    /// Topics that may match `doc`, each once, in no particular order.
    pub(super) fn candidates(&self, doc: &Document) -> Vec<usize> {
        let mut seen = vec![false; self.topic_count];
        let mut out: Vec<usize> = Vec::new();
        let mut add = |topics: &[u32]| {
            for &t in topics {
                if !std::mem::replace(&mut seen[t as usize], true) {
                    out.push(t as usize);
                }
            }
        };
        add(&self.always);
        for word in doc.distinct_words() {
            if let Some(topics) = self.exact.get(word) {
                add(topics);
            }
            if self.prefix_lens.is_empty() {
                continue;
            }
            let mut ends = word.char_indices().map(|(i, _)| i).skip(1).chain([word.len()]);
            let mut taken = 0;
            for &len in &self.prefix_lens {
                let Some(end) = ends.nth(len - taken - 1) else {
                    break;
                };
                taken = len;
                if let Some(topics) = self.prefix.get(&word[..end]) {
                    add(topics);
                }
            }
        }
        out
    }
}

/// A set of patterns one of which every match of `expr` contains, or `None`
/// when there is no such set.
fn anchors(expr: &Expr, stats: &WordStats) -> Option<Vec<Pattern>> {
    match expr {
        Expr::Match { words, .. } => words
            .iter()
            .min_by(|a, b| stats.cost(a).total_cmp(&stats.cost(b)))
            .map(|p| vec![p.clone()]),
        Expr::Near { left, right, .. } => cheapest([anchors(left, stats), anchors(right, stats)], stats),
        Expr::And(children) => cheapest(children.iter().map(|c| anchors(c, stats)), stats),
        Expr::Or(children) => {
            let mut all = Vec::new();
            for child in children {
                all.extend(anchors(child, stats)?);
            }
            all.sort_unstable();
            all.dedup();
            Some(all)
        }
        Expr::Not(_) | Expr::Lang(_) | Expr::Feed(_) => None,
    }
}

fn cheapest(sets: impl IntoIterator<Item = Option<Vec<Pattern>>>, stats: &WordStats) -> Option<Vec<Pattern>> {
    let set_cost = |set: &Vec<Pattern>| set.iter().map(|p| stats.cost(p)).sum::<f64>();
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
        anchors(&expr, stats).map(|set| {
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
