//! The web desk's session: with `[http] token_file` set, the login form
//! takes the token once and the browser keeps a cookie instead of it.
//!
//! The cookie is `EXPIRY.MAC`: when it expires (Unix seconds) and an
//! HMAC-SHA256 of that time keyed by the token. Nothing is stored on the
//! server: a session survives restarts and reloads, ends when it expires,
//! and every session ends when the token changes. The token itself never
//! reaches the browser's storage.

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The cookie's name.
pub const COOKIE: &str = "feedwatch_desk";

/// How long a session lasts.
pub const LIFETIME: chrono::Duration = chrono::Duration::hours(12);

/// What the MAC covers besides the expiry, so that the value means nothing
/// elsewhere.
const CONTEXT: &str = "feedwatch desk session v1 ";

fn mac(token: &str, expiry: i64) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(token.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(CONTEXT.as_bytes());
    mac.update(expiry.to_string().as_bytes());
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A new session's cookie value, valid for [`LIFETIME`] from `now`.
pub fn issue(token: &str, now: DateTime<Utc>) -> String {
    let expiry = (now + LIFETIME).timestamp();
    format!("{expiry}.{}", mac(token, expiry))
}

/// Whether `value` is a session issued for `token` that has not expired at
/// `now`. The MAC is compared in constant time.
pub fn valid(value: &str, token: &str, now: DateTime<Utc>) -> bool {
    let Some((expiry, given)) = value.split_once('.') else {
        return false;
    };
    let Ok(expiry) = expiry.parse::<i64>() else {
        return false;
    };
    expiry > now.timestamp()
        && crate::redact::constant_time_eq(given.as_bytes(), mac(token, expiry).as_bytes())
}

/// The value of cookie `name` in a `Cookie` request header, if present.
pub fn cookie<'a>(header: &'a str, name: &str) -> Option<&'a str> {
    header.split(';').find_map(|pair| {
        let (key, value) = pair.trim().split_once('=')?;
        (key == name).then_some(value)
    })
}

/// Whether the request's headers carry a valid session for `token`.
pub fn has_session(headers: &axum::http::HeaderMap, token: &str, now: DateTime<Utc>) -> bool {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| cookie(v, COOKIE))
        .any(|value| valid(value, token, now))
}

/// The `Set-Cookie` value that starts a session: not readable by scripts,
/// never sent with a request from another site.
pub fn set_cookie(value: &str) -> String {
    format!(
        "{COOKIE}={value}; Path=/; Max-Age={}; HttpOnly; SameSite=Strict",
        LIFETIME.num_seconds()
    )
}

/// The `Set-Cookie` value that ends a session.
pub fn clear_cookie() -> String {
    format!("{COOKIE}=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn a_session_is_valid_for_its_token_until_it_expires() {
        let now = at("2017-09-25T08:00:00Z");
        let value = issue("t0ken", now);
        assert!(valid(&value, "t0ken", now));
        assert!(valid(
            &value,
            "t0ken",
            now + LIFETIME - chrono::Duration::seconds(1)
        ));
        assert!(!valid(&value, "t0ken", now + LIFETIME), "expired");
        assert!(!valid(&value, "another token", now), "the token changed");
        // A later expiry cannot be forged without the token.
        let (_, mac) = value.split_once('.').unwrap();
        let later = format!("{}.{mac}", (now + LIFETIME * 10).timestamp());
        assert!(!valid(&later, "t0ken", now));
        for junk in ["", ".", "abc", "1.", ".ff", "99999999999999999999.00"] {
            assert!(!valid(junk, "t0ken", now), "{junk:?}");
        }
    }

    #[test]
    fn cookies_are_found_by_name() {
        assert_eq!(cookie("a=1; feedwatch_desk=x.y; b=2", COOKIE), Some("x.y"));
        assert_eq!(cookie("feedwatch_desk_old=1", COOKIE), None);
        assert_eq!(cookie("", COOKIE), None);
        let set = set_cookie("v");
        assert!(
            set.contains("HttpOnly") && set.contains("SameSite=Strict"),
            "{set}"
        );
        assert!(clear_cookie().contains("Max-Age=0"));
    }
}
