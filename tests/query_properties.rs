//! Property tests of the query language and the matcher.

use feedwatch::topics::query::{parse, parse_with, TermSets};
use feedwatch::topics::{Document, Meta, TopicSet};
use proptest::prelude::*;

const WORDS: &[&str] = &[
    "Kurdistan",
    "KRG",
    "referendum",
    "Baqeri",
    "Bagheri",
    "Akar",
    "Iran",
    "Turkey",
    "independence",
    "vote",
    "همه‌پرسی",
    "کردستان",
    "استفتاء",
    "Kürdistan",
    "İstanbul",
    "ırak",
    "ڕیفراندۆمی",
];
const PREFIXES: &[&str] = &["referend*", "ba*", "kurd*", "همه*", "ir*"];

fn word() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::sample::select(WORDS).prop_map(String::from),
        1 => prop::sample::select(PREFIXES).prop_map(String::from),
    ]
}

fn leaf() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => word(),
        2 => (word(), word()).prop_map(|(a, b)| format!("\"{a} {b}\"")),
        1 => word().prop_map(|w| format!("title:{w}")),
        1 => word().prop_map(|w| format!("text:{w}")),
        1 => (word(), word()).prop_map(|(a, b)| format!("title:({a} OR {b})")),
        1 => Just("@names".to_string()),
    ]
}

/// Queries that are valid by construction (modulo all-negative ones).
fn query() -> impl Strategy<Value = String> {
    leaf().prop_recursive(4, 32, 4, |inner| {
        prop_oneof![
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a} OR {b})")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("{a} AND {b}")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("{a} {b}")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("{a} NOT {b}")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("{a} -({b})")),
            (leaf(), 1u32..6, leaf()).prop_map(|(a, n, b)| format!("{a} NEAR/{n} {b}")),
            (
                inner.clone(),
                prop::sample::select(vec!["lang:fa", "lang:en", "-lang:tr", "feed:wire"])
            )
                .prop_map(|(a, f)| format!("{a} {f}")),
        ]
    })
}

fn sets() -> TermSets {
    let mut sets = TermSets::new();
    sets.insert(
        "names".into(),
        vec![
            "Baqeri".into(),
            "Bagheri".into(),
            "Hulusi Akar".into(),
            "باقری".into(),
        ],
    );
    sets
}

fn text() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            6 => prop::sample::select(WORDS).prop_map(String::from),
            1 => prop::sample::select(vec!["referendums", "Bagherian", "kurds", "the", "and", "Hulusi", "irak's"])
                .prop_map(String::from),
        ],
        0..25,
    )
    .prop_map(|w| w.join(" "))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_input_never_panics(input in "\\PC{0,60}") {
        let _ = parse_with(&input, &sets());
    }

    #[test]
    fn arbitrary_operator_soup_never_panics(
        toks in prop::collection::vec(
            prop::sample::select(vec![
                "(", ")", "\"", "AND", "OR", "NOT", "-", "NEAR/3", "NEAR", "NEAR/x", "title:", "text:", "lang:",
                "feed:", "@names", "@nope", "*", "a*", "kurd", "همه‌پرسی", ":", "TITLE:", "feed:\"x", "-(",
            ]),
            0..12,
        )
    ) {
        let _ = parse_with(&toks.join(" "), &sets());
        let _ = parse_with(&toks.concat(), &sets());
    }

    #[test]
    fn printed_queries_reparse_to_the_same_tree(q in query()) {
        if let Ok(expr) = parse_with(&q, &sets()) {
            let printed = expr.to_string();
            let reparsed = parse(&printed);
            prop_assert_eq!(reparsed.as_ref(), Ok(&expr), "printed as {}", printed);
        }
    }

    #[test]
    fn presearcher_never_drops_a_match(
        queries in prop::collection::vec(query(), 1..20),
        docs in prop::collection::vec((text(), text(), prop::option::of(prop::sample::select(vec!["fa", "en-us", "tr"]))), 1..8),
    ) {
        let valid: Vec<(String, String)> = queries
            .iter()
            .enumerate()
            .filter(|(_, q)| parse_with(q, &sets()).is_ok())
            .map(|(i, q)| (format!("t{i}"), q.clone()))
            .collect();
        let set = TopicSet::compile(valid.iter().map(|(n, q)| (n.as_str(), q.as_str())), &sets()).unwrap();
        let tags = vec!["wire".to_string()];
        for (title, text, lang) in &docs {
            let doc = Document::new(title, text, Meta { lang: *lang, feed_name: Some("Feed"), feed_tags: &tags });
            prop_assert_eq!(set.matches(&doc), set.matches_exhaustive(&doc), "title {:?} text {:?}", title, text);
        }
    }
}
