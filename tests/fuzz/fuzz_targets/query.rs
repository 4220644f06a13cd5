//! The topic query parser: any input either parses or is refused with an
//! error; a query that parses prints (`Display`) to text that parses back to
//! the same tree, and printing is stable.
#![no_main]

use std::sync::OnceLock;

use feedwatch::topics::query::{parse, parse_term, parse_with, TermSets};
use libfuzzer_sys::fuzz_target;

fn sets() -> &'static TermSets {
    static SETS: OnceLock<TermSets> = OnceLock::new();
    SETS.get_or_init(|| {
        let mut sets = TermSets::new();
        sets.insert(
            "names".into(),
            vec![
                "Baqeri".into(),
                "Hulusi Akar".into(),
                "باقری".into(),
                "referend*".into(),
            ],
        );
        sets
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(input) = std::str::from_utf8(data) else {
        return;
    };
    // A term-set entry is parsed on its own when the config is loaded.
    let _ = parse_term(input);
    let Ok(expr) = parse_with(input, sets()) else {
        return;
    };
    let printed = expr.to_string();
    match parse(&printed) {
        Ok(reparsed) => {
            assert_eq!(
                reparsed, expr,
                "{input:?} printed as {printed:?} reparses differently"
            );
            assert_eq!(
                reparsed.to_string(),
                printed,
                "printing is not stable for {input:?}"
            );
        }
        Err(error) => panic!("{input:?} printed as {printed:?} does not parse: {error}"),
    }
});
