//! Property tests of the query language and the matcher.

use feedwatch::topics::query::{parse, parse_with, TermSets, MAX_DEPTH};
use feedwatch::topics::{Document, Meta, TopicSet, WordStats};
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

/// Queries nested by up to 140 wrappings of `z`, each adding one or two
/// levels (a group, a NOT, a scope, an AND or OR written with or without
/// parentheses), so many pass [`MAX_DEPTH`]; and the number of wrappings.
/// Mostly `x OR y (…)`, one level as written and two as printed.
fn deep_query() -> impl Strategy<Value = (String, usize)> {
    let op = prop::sample::select(vec![0u8, 1, 2, 3, 4, 4, 4, 4, 5, 6]);
    prop::collection::vec(op, 0..140).prop_map(|ops| {
        let query = ops
            .iter()
            .enumerate()
            .fold("z".to_string(), |inner, (k, op)| match op {
                0 => format!("({inner})"),
                1 => format!("x{k} -({inner})"),
                2 => format!("title:({inner})"),
                3 => format!("x{k} ({inner})"),
                4 => format!("x{k} OR y{k} ({inner})"),
                5 => format!("x{k} NOT y{k} OR ({inner})"),
                _ => format!("(x{k} OR @names) NEAR/{} y{k} ({inner})", k + 1),
            });
        (query, ops.len())
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

/// Names of the briefs mix (issue 27), few enough that topics share them,
/// and wildcard stems nested in each other and in the names.
const NAMES: &[&str] = &["Rofumo35", "Kalite12", "Kalite7", "Bazuno", "باقری", "Kurdistan"];
const STEMS: &[&str] = &["Rofumo", "Kalite", "Kal", "ka", "Rofumo35", "کرد", "باق"];
const COMMON: &[&str] = &["government", "minister", "security", "border", "oil"];

/// A topic of one of the five shapes of issue 27's mix.
fn brief() -> impl Strategy<Value = String> {
    let name = || prop::sample::select(NAMES);
    let common = || prop::sample::select(COMMON);
    let any = || prop::sample::select([NAMES, COMMON].concat());
    prop_oneof![
        (any(), any()).prop_map(|(a, b)| format!("\"{a} {b}\"")),
        (common(), name(), name(), name()).prop_map(|(c, a, b, d)| format!("{c} AND ({a} OR {b} OR {d})")),
        (name(), 1u32..6, common()).prop_map(|(a, n, c)| format!("{a} NEAR/{n} {c}")),
        (name(), common(), name()).prop_map(|(a, c, b)| format!("title:{a} OR \"{c} {b}\"")),
        (name(), prop::sample::select(STEMS), common())
            .prop_map(|(a, s, c)| format!("({a} OR {s}*) AND NOT {c}")),
    ]
}

/// Text of the mix's words: names, common words, words that extend the
/// stems (or fall one letter short of them) and filler.
fn brief_text() -> impl Strategy<Value = String> {
    let extra = [
        "Rofumo",
        "Rofumo35s",
        "Rofumo356",
        "Kalitean",
        "Kali",
        "Kalite",
        "kaz",
        "k",
        "کردستان",
        "کرد",
        "باقري",
        "the",
        "and",
    ];
    prop::collection::vec(prop::sample::select([NAMES, COMMON, &extra].concat()), 0..20)
        .prop_map(|w| w.join(" "))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// The presearcher agrees with evaluating every topic on many topics of
    /// the briefs mix (shared names and common words, nested prefixes),
    /// whether anchors are chosen by word statistics or, as on a new
    /// database, without them.
    #[test]
    fn presearcher_never_drops_a_match_of_the_briefs_mix(
        queries in prop::collection::vec(brief(), 1..120),
        docs in prop::collection::vec((brief_text(), brief_text()), 1..8),
        sample in prop::collection::vec((brief_text(), brief_text()), 0..6),
    ) {
        let names: Vec<String> = (0..queries.len()).map(|i| format!("t{i}")).collect();
        let defs = || names.iter().map(String::as_str).zip(queries.iter().map(String::as_str));
        let mut stats = WordStats::default();
        for (title, text) in &sample {
            stats.add_document(title, text);
        }
        let set = TopicSet::compile_with_stats(defs(), &TermSets::new(), &stats).unwrap();
        for (title, text) in &docs {
            let doc = Document::new(title, text, Meta::default());
            prop_assert_eq!(set.matches(&doc), set.matches_exhaustive(&doc), "title {:?} text {:?}", title, text);
        }
    }

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

    /// A deep query parses and prints back like any other, or is refused as
    /// too deep, never with fewer than `MAX_DEPTH / 2` wrappings (each adds
    /// at most two levels, written or printed; the first at most three),
    /// and without overflowing this thread's 2 MiB stack either way.
    #[test]
    fn deep_queries_print_back_or_are_refused_as_too_deep((q, wrappings) in deep_query()) {
        match parse_with(&q, &sets()) {
            Ok(expr) => {
                let printed = expr.to_string();
                let reparsed = parse(&printed);
                prop_assert_eq!(reparsed.as_ref(), Ok(&expr), "printed as {}", printed);
            }
            Err(e) => {
                prop_assert!(e.message.contains("nests deeper than"), "{}: {}", q, e);
                prop_assert!(wrappings >= MAX_DEPTH / 2, "{}: {}", q, e);
            }
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
            let matched = set.matches_exhaustive(&doc);
            prop_assert_eq!(set.matches(&doc), matched.clone(), "title {:?} text {:?}", title, text);
            // Explaining a match agrees with matching: hits exactly for the
            // topics that match, and every hit inside its field.
            for (i, topic) in set.topics().iter().enumerate() {
                let hits = doc.explain(&topic.expr);
                prop_assert_eq!(hits.is_some(), matched.contains(&i), "explain {} on {:?} / {:?}", topic.query, title, text);
                let spans = feedwatch::topics::highlight::spans(&topic.expr, title, text, Meta { lang: *lang, feed_name: Some("Feed"), feed_tags: &tags });
                prop_assert_eq!(spans.is_some(), matched.contains(&i));
                for span in spans.unwrap_or_default() {
                    let source = if span.field == feedwatch::topics::Field::Title { title } else { text };
                    prop_assert!(span.range.end <= source.len() && source.is_char_boundary(span.range.start) && source.is_char_boundary(span.range.end));
                }
            }
        }
    }
}
