//! `stories::canonical_url`: no panics; the result is an absolute http(s) URL
//! without a fragment (except a `#!` route), and canonicalisation is
//! idempotent: a canonical URL is its own canonical form.
#![no_main]

use feedwatch::stories::canonical_url;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(input) = std::str::from_utf8(data) else {
        return;
    };
    let Some(canonical) = canonical_url(input) else {
        return;
    };
    let url = url::Url::parse(&canonical)
        .unwrap_or_else(|e| panic!("{input:?} → {canonical:?}, which does not parse: {e}"));
    assert!(
        matches!(url.scheme(), "http" | "https"),
        "{input:?} → {canonical:?}"
    );
    assert!(
        url.fragment().is_none_or(|f| f.starts_with('!')),
        "{input:?} → {canonical:?} keeps a fragment"
    );
    let again = canonical_url(&canonical);
    assert_eq!(
        again.as_deref(),
        Some(canonical.as_str()),
        "not idempotent: {input:?} → {canonical:?} → {again:?}"
    );
});
