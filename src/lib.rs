//! feedwatch: a media-monitoring daemon. It polls feeds, matches articles
//! against standing topic queries and stores them in SQLite.
//!
//! Modules follow the pipeline: [`fetch`] → [`parse`] → [`topics`] (using
//! [`text`]) → [`store`]; [`pipeline`] runs one feed through them and
//! [`daemon`] repeats that on a schedule. See ARCHITECTURE.md.

pub mod alerts;
pub mod api;
pub mod archive;
pub mod bidi;
pub mod clock;
pub mod config;
pub mod daemon;
pub mod deliver;
pub mod desk;
pub mod digest;
pub mod directory;
pub mod extract;
pub mod fetch;
pub mod langid;
pub mod metrics;
pub mod model;
pub mod notify;
pub mod opml;
pub mod parse;
pub mod pipeline;
pub mod redact;
pub mod scheduler;
pub mod store;
pub mod stories;
pub mod text;
pub mod topics;
pub mod triggers;

/// Renders an error and its causes as one line: `outer: cause: root cause`.
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        // Some errors repeat their cause in their own message; skip repeats.
        if !message.ends_with(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        source = cause.source();
    }
    message
}

/// This machine's host name (`localhost` when it cannot be read): what
/// names an instance in leases and on `/metrics`.
pub fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "localhost".into())
}

/// `n` and a noun in the right number: `count(1, "feed", "feeds")` is
/// "1 feed", `count(2, "feed", "feeds")` "2 feeds".
pub fn count(n: impl Into<u64>, one: &str, many: &str) -> String {
    let n = n.into();
    format!("{n} {}", if n == 1 { one } else { many })
}

#[cfg(test)]
mod count_tests {
    #[test]
    fn numbers_agree() {
        assert_eq!(super::count(0u32, "feed", "feeds"), "0 feeds");
        assert_eq!(super::count(1u32, "feed", "feeds"), "1 feed");
        assert_eq!(
            super::count(2u64, "topic match", "topic matches"),
            "2 topic matches"
        );
    }
}
