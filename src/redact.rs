//! Keeping credentials out of logs, errors and output.
//!
//! A Slack-style webhook URL *is* the credential, so it is shown as scheme
//! and host only ([`webhook`]: `https://hooks.slack.com/…`). A feed URL may
//! carry `user:password@`; its password is masked ([`url`]:
//! `https://user:***@host/path`). The real values are used for requests and
//! kept where they are needed again: the config, the feeds table and OPML
//! exports (a backup format). Everything else — log lines, error messages
//! (and so `last_error` columns), command output, the JSON API, `Debug` —
//! goes through these functions.
//!
//! Also [`constant_time_eq`], for comparing a secret someone presents.

use std::borrow::Cow;

/// What stands in for a hidden part.
pub const MASK: &str = "***";

/// `url` with the password of its `user:password@` part masked, or the
/// whole user part if it has no password (`https://TOKEN@host/` carries a
/// token as its user). Textual, so it also works on strings that do not
/// parse as URLs; anything else in the string is left as it is.
pub fn url(url: &str) -> Cow<'_, str> {
    let Some(scheme_end) = url.find("://") else {
        return Cow::Borrowed(url);
    };
    let authority_start = scheme_end + 3;
    let rest = &url[authority_start..];
    let authority_len = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let Some(at) = rest[..authority_len].rfind('@') else {
        return Cow::Borrowed(url);
    };
    let userinfo = &rest[..at];
    let shown_user = match userinfo.find(':') {
        Some(colon) => format!("{}:{MASK}", &userinfo[..colon]),
        None if userinfo.is_empty() => return Cow::Borrowed(url),
        None => MASK.to_string(),
    };
    Cow::Owned(format!("{}{shown_user}{}", &url[..authority_start], &rest[at..]))
}

/// A webhook URL as it may be shown: scheme, host and port, then `…`
/// (`https://hooks.slack.com/…`). Path, query and any user part are the
/// secret and are never shown; a string that does not parse as a URL with
/// a host is shown as `…` alone.
pub fn webhook(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(parsed) if parsed.host_str().is_some() => {
            let host = parsed.host_str().unwrap_or_default();
            match parsed.port() {
                Some(port) => format!("{}://{host}:{port}/…", parsed.scheme()),
                None => format!("{}://{host}/…", parsed.scheme()),
            }
        }
        _ => "…".to_string(),
    }
}

/// Serialises a URL field through [`url`] (`#[serde(serialize_with)]`).
pub fn serialize_url<S: serde::Serializer>(value: &str, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&url(value))
}

/// [`serialize_url`] for an optional URL.
pub fn serialize_opt_url<S: serde::Serializer>(value: &Option<String>, s: S) -> Result<S::Ok, S::Error> {
    match value {
        Some(value) => s.serialize_some(&url(value)),
        None => s.serialize_none(),
    }
}

/// [`serialize_url`] for a list of URLs.
pub fn serialize_urls<S: serde::Serializer>(values: &[String], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(values.iter().map(|value| url(value)))
}

/// Whether `a` and `b` are equal, in time that depends on their lengths
/// but not on where they differ: for comparing a presented token with the
/// secret one (the length is not secret).
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    a.ct_eq(b).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_feed_url_passwords() {
        for (input, expected) in [
            (
                "https://user:s3cret@feeds.example/rss?x=1",
                "https://user:***@feeds.example/rss?x=1",
            ),
            (
                "http://user:s3cret@127.0.0.1:8080",
                "http://user:***@127.0.0.1:8080",
            ),
            ("https://TOKEN@feeds.example/rss", "https://***@feeds.example/rss"),
            ("https://user:@feeds.example/", "https://user:***@feeds.example/"),
            // The last `@` of the authority ends the user part.
            ("https://u:p@ss@feeds.example/", "https://u:***@feeds.example/"),
            // An `@` in the path or query is not a user part.
            (
                "https://feeds.example/@user/rss",
                "https://feeds.example/@user/rss",
            ),
            (
                "https://feeds.example/?from=a@b",
                "https://feeds.example/?from=a@b",
            ),
            ("https://feeds.example/rss", "https://feeds.example/rss"),
            ("file:///srv/feeds/a.xml", "file:///srv/feeds/a.xml"),
            ("not a url", "not a url"),
            // Not a URL, still masked.
            ("http://u:p w@bad host/", "http://u:***@bad host/"),
        ] {
            assert_eq!(url(input), expected, "{input}");
        }
        assert!(matches!(url("https://feeds.example/rss"), Cow::Borrowed(_)));
    }

    #[test]
    fn shows_webhooks_as_scheme_and_host() {
        for (input, expected) in [
            (
                "https://hooks.slack.com/services/T000/B000/SECRETXYZ",
                "https://hooks.slack.com/…",
            ),
            (
                "http://127.0.0.1:8080/hooks/SECRETXYZ?k=SECRET",
                "http://127.0.0.1:8080/…",
            ),
            ("https://user:SECRET@hooks.example/", "https://hooks.example/…"),
            ("https://[::1]:9/SECRET", "https://[::1]:9/…"),
            ("hooks.slack.com/services/SECRET", "…"),
            ("mailto:SECRET@example.org", "…"),
        ] {
            assert_eq!(webhook(input), expected, "{input}");
        }
    }

    #[test]
    fn compares_in_constant_time() {
        assert!(constant_time_eq(b"t0ken", b"t0ken"));
        assert!(constant_time_eq(b"", b""));
        assert!(!constant_time_eq(b"t0ken", b"t0kem"));
        assert!(!constant_time_eq(b"t0ken", b"t0ken2"));
        assert!(!constant_time_eq(b"t0ken", b""));
    }
}
