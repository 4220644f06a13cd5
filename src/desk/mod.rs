//! The web desk (`[http] ui`, on by default with `[http] listen`): pages
//! for analysts served by the daemon's HTTP listener beside the API —
//! the desk (`/`), a topic (`/topics/NAME`), a story (`/stories/ID`),
//! search (`/search?q=`), an item (`/items/ID`), feed health (`/feeds`)
//! and the digest outbox (`/digests`).
//!
//! Server-rendered HTML (maud templates, compiled in and escaping every
//! value), one stylesheet served from `/desk.css`, no scripts and no
//! external resources: every page carries a Content-Security-Policy that
//! allows only the stylesheet. Read-only: the only form that changes
//! anything is the login, which exists only with `[http] token_file`
//! (the token once, then an `HttpOnly; SameSite=Strict` session cookie:
//! [`session`]). The data comes from the store's roles and the archive
//! (`crate::archive`) exactly as the API and the CLI read them; searches
//! take the API's search slots and time budget; aggregates are cached for
//! a minute and refreshed behind ([`cache`]).

mod cache;
mod charts;
mod pages;
mod session;

use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use maud::{html, Markup, DOCTYPE};

use crate::api::Api;

pub(crate) use cache::Cache;
pub(crate) use session::has_session;

/// Every desk page's policy: nothing but the desk's own stylesheet (and
/// forms posting to the desk itself).
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; style-src 'self'; img-src 'self'; \
     form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

const STYLE: &str = include_str!("style.css");

/// The desk's routes, merged into the API's router when `[http] ui`.
pub(crate) fn routes(api: Api) -> Router<Api> {
    let pages = Router::new()
        .route("/", get(pages::desk))
        .route("/topics/{name}", get(pages::topic))
        .route("/stories/{id}", get(pages::story))
        .route("/search", get(pages::search))
        .route("/items/{id}", get(pages::item))
        .route("/feeds", get(pages::feeds))
        .route("/digests", get(pages::digests))
        .route_layer(middleware::from_fn_with_state(api, require_session));
    Router::new()
        .route("/desk.css", get(stylesheet))
        .route("/login", get(login_form).post(login))
        .route("/logout", post(logout))
        .merge(pages)
}

/// A page that needs the token (when one is set): without the token or a
/// session, the browser is sent to the login form, which brings it back.
async fn require_session(State(api): State<Api>, request: Request, next: Next) -> Response {
    if api.authorized(request.headers()) {
        return next.run(request).await;
    }
    let back = request
        .uri()
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_string();
    let to: String = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("next", &back)
        .finish();
    see_other(&format!("/login?{to}"), None)
}

/// `303 See Other` to `location` (a path of the desk), with a cookie to set.
fn see_other(location: &str, cookie: Option<String>) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(location) {
        headers.insert(header::LOCATION, value);
    }
    if let Some(value) = cookie.and_then(|c| HeaderValue::from_str(&c).ok()) {
        headers.insert(header::SET_COOKIE, value);
    }
    secure(headers);
    response
}

/// The headers of every desk answer: the policy, no sniffing, no framing,
/// no referrer to the outlets an analyst follows a link to (only to the
/// desk itself), and no caching of pages that hold the archive.
fn secure(headers: &mut HeaderMap) {
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    headers
        .entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
}

/// An HTML page with `status` and the desk's headers.
fn respond(status: StatusCode, page: Markup) -> Response {
    let mut response = (status, page.into_string()).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    secure(headers);
    response
}

async fn stylesheet() -> Response {
    let mut response = STYLE.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/css; charset=utf-8"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("max-age=300"));
    secure(headers);
    response
}

/// The 404 page of a path that is no route (asked for by a browser).
pub(crate) fn not_found(api: &Api, headers: &HeaderMap, path: &str) -> Response {
    if !api.authorized(headers) {
        return see_other("/login", None);
    }
    DeskError::NotFound(format!("There is no page {path}.")).into_response()
}

/// Why a page could not be shown.
#[derive(Debug, thiserror::Error)]
pub enum DeskError {
    /// No such topic, story, item or page.
    #[error("{0}")]
    NotFound(String),
    /// A parameter that does not parse or names nothing.
    #[error("{0}")]
    BadRequest(String),
    /// Searches are busy, or one ran out of time (`[search] timeout`).
    #[error("{0}")]
    Unavailable(String),
    /// The database failed.
    #[error("{0}")]
    Internal(String),
}

impl From<crate::store::StoreError> for DeskError {
    fn from(error: crate::store::StoreError) -> Self {
        match error {
            e @ crate::store::StoreError::OverBudget(_) => DeskError::Unavailable(crate::error_chain(&e)),
            e => DeskError::Internal(crate::error_chain(&e)),
        }
    }
}

impl From<crate::archive::ArchiveError> for DeskError {
    fn from(error: crate::archive::ArchiveError) -> Self {
        match error {
            crate::archive::ArchiveError::Store(e) => e.into(),
            other => DeskError::BadRequest(crate::error_chain(&other)),
        }
    }
}

impl DeskError {
    fn status(&self) -> StatusCode {
        match self {
            DeskError::NotFound(_) => StatusCode::NOT_FOUND,
            DeskError::BadRequest(_) => StatusCode::BAD_REQUEST,
            DeskError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            DeskError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for DeskError {
    fn into_response(self) -> Response {
        let status = self.status();
        let heading = match &self {
            DeskError::NotFound(_) => "Not found",
            DeskError::BadRequest(_) => "Cannot show this page",
            DeskError::Unavailable(_) => "Try again shortly",
            DeskError::Internal(_) => "The database failed",
        };
        let body = html! {
            h1 { (heading) }
            p.error role="alert" { (self.to_string()) }
            p { a href="/" { "Back to the desk" } }
        };
        respond(status, layout(heading, Nav::None, false, body))
    }
}

/// The section a page belongs to, highlighted in the navigation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Nav {
    Desk,
    Search,
    Feeds,
    Digests,
    None,
}

/// A whole page: head, navigation (with a search box and, with a token, a
/// log-out button), `body`.
fn layout(title: &str, nav: Nav, logout: bool, body: Markup) -> Markup {
    let item = |target: Nav, href: &'static str, label: &'static str| {
        html! {
            li { a href=(href) aria-current=[(nav == target).then_some("page")] { (label) } }
        }
    };
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · feedwatch" }
                link rel="stylesheet" href="/desk.css";
            }
            body {
                header.top {
                    nav aria-label="Sections" {
                        ul {
                            li.brand { a href="/" { "feedwatch" } }
                            (item(Nav::Desk, "/", "Desk"))
                            (item(Nav::Search, "/search", "Search"))
                            (item(Nav::Feeds, "/feeds", "Feeds"))
                            (item(Nav::Digests, "/digests", "Digests"))
                        }
                    }
                    form.quick role="search" action="/search" method="get" {
                        label for="quick-q" class="hidden" { "Search the archive" }
                        input id="quick-q" type="search" name="q" dir="auto" placeholder="Search (topic query language)";
                        button type="submit" { "Search" }
                    }
                    @if logout {
                        form.logout action="/logout" method="post" {
                            button type="submit" { "Log out" }
                        }
                    }
                }
                main { (body) }
            }
        }
    }
}

/// The login form: `next` is where to go after.
async fn login_form(State(api): State<Api>, request: Request) -> Response {
    let next = request
        .uri()
        .query()
        .and_then(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .find(|(k, _)| k == "next")
                .map(|(_, v)| v.into_owned())
        })
        .unwrap_or_else(|| "/".into());
    if api.config.http.token.is_none() {
        return see_other(&local_path(&next), None);
    }
    login_page(StatusCode::OK, &local_path(&next), None)
}

fn login_page(status: StatusCode, next: &str, error: Option<&str>) -> Response {
    let body = html! {
        h1 { "Log in" }
        p { "This desk needs the API token (the contents of " code { "[http] token_file" } "). It is asked once; the browser then keeps a session cookie for 12 hours." }
        @if let Some(error) = error {
            p.error role="alert" { (error) }
        }
        form.login action="/login" method="post" {
            input type="hidden" name="next" value=(next);
            label for="token" { "Token" }
            input id="token" type="password" name="token" autocomplete="current-password" required autofocus;
            button type="submit" { "Log in" }
        }
    };
    respond(status, layout("Log in", Nav::None, false, body))
}

/// `next` if it is a path of this site, else `/` (no open redirect).
fn local_path(next: &str) -> String {
    if next.starts_with('/') && !next.starts_with("//") && !next.contains('\\') {
        next.to_string()
    } else {
        "/".into()
    }
}

/// Whether a form post comes from a page of this site: browsers say so in
/// `Sec-Fetch-Site`, or send `Origin`, which must then name the host the
/// request went to. (Clients that send neither are not browsers: no
/// cross-site forgery to fear.)
fn same_origin(headers: &HeaderMap) -> bool {
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        return site == "same-origin";
    }
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return true;
    };
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    let origin_host = origin.split_once("://").map(|(_, rest)| rest);
    matches!((origin_host, host), (Some(o), Some(h)) if o == h)
}

async fn login(State(api): State<Api>, headers: HeaderMap, body: Bytes) -> Response {
    let Some(token) = &api.config.http.token else {
        return see_other("/", None);
    };
    if !same_origin(&headers) {
        return DeskError::BadRequest("The login form was posted from another site.".into()).into_response();
    }
    let mut given = String::new();
    let mut next = "/".to_string();
    for (key, value) in url::form_urlencoded::parse(&body) {
        match &*key {
            "token" => given = value.trim().to_string(),
            "next" => next = local_path(&value),
            _ => {}
        }
    }
    if !crate::redact::constant_time_eq(given.as_bytes(), token.expose().as_bytes()) {
        return login_page(
            StatusCode::UNAUTHORIZED,
            &next,
            Some("That is not the token. It is the contents of the file [http] token_file names."),
        );
    }
    let value = session::issue(token.expose(), api.store.clock().now());
    see_other(&next, Some(session::set_cookie(&value)))
}

async fn logout(headers: HeaderMap) -> Response {
    if !same_origin(&headers) {
        return DeskError::BadRequest("The log-out form was posted from another site.".into())
            .into_response();
    }
    see_other("/login", Some(session::clear_cookie()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_local_paths_are_followed_after_login() {
        assert_eq!(local_path("/topics/a?b=1"), "/topics/a?b=1");
        for bad in [
            "//evil.example/",
            "https://evil.example/",
            "/\\evil.example",
            "",
            "topics",
        ] {
            assert_eq!(local_path(bad), "/", "{bad}");
        }
    }

    #[test]
    fn posts_from_other_sites_are_refused() {
        let headers = |origin: Option<&str>| {
            let mut h = HeaderMap::new();
            h.insert(header::HOST, HeaderValue::from_static("127.0.0.1:9187"));
            if let Some(o) = origin {
                h.insert(header::ORIGIN, HeaderValue::from_str(o).unwrap());
            }
            h
        };
        assert!(same_origin(&headers(None)));
        assert!(same_origin(&headers(Some("http://127.0.0.1:9187"))));
        assert!(!same_origin(&headers(Some("http://evil.example"))));
        assert!(!same_origin(&headers(Some("null"))));
        let mut fetched = headers(Some("null"));
        fetched.insert("sec-fetch-site", HeaderValue::from_static("same-origin"));
        assert!(same_origin(&fetched));
        fetched.insert("sec-fetch-site", HeaderValue::from_static("cross-site"));
        assert!(!same_origin(&fetched));
    }

    #[test]
    fn errors_are_pages_with_their_status_and_escaped() {
        let response = DeskError::NotFound("no topic \"<script>\"".into()).into_response();
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        assert_eq!(
            response.headers()[header::CONTENT_SECURITY_POLICY],
            CONTENT_SECURITY_POLICY
        );
    }
}
