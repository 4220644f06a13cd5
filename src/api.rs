//! The optional HTTP listener (`[http] listen`, off by default): health
//! probes, Prometheus metrics and a read-only JSON API. Documented in
//! docs/api.md. It binds loopback addresses only unless
//! `[http] allow_remote = true`; with `token_file`, every route but
//! `/healthz` needs `Authorization: Bearer TOKEN` (or the web desk's
//! session cookie, given for the token). With `[http] ui` the web desk's
//! pages are merged in (`crate::desk`).

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{FromRequestParts, Request, State};
use axum::http::{header, request::Parts, Method, StatusCode, Uri};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use tokio_util::sync::CancellationToken;

use crate::archive::{self, Highlighter, ItemRecord, Search};
use crate::config::Config;
use crate::error_chain;
use crate::metrics::Metrics;
use crate::model::{check_range, parse_time};
use crate::store::{FeedRow, SearchFilter, SearchSort, Store, StoreError, StoryFilter, StoryRow};

/// The scheduler must have passed within this many seconds for `/readyz`.
const READY_TICK_SECS: i64 = 180;

/// What every route shares (the web desk's too: `crate::desk`).
#[derive(Clone)]
pub(crate) struct Api {
    pub(crate) store: Store,
    /// The store with a pool of its own for searches (`http.max_searches`
    /// connections): searches can never take the daemon's connections.
    searches: Store,
    /// Searches running at once (`http.max_searches`).
    search_slots: Arc<tokio::sync::Semaphore>,
    pub(crate) config: Arc<Config>,
    metrics: Arc<Metrics>,
    /// The web desk's cache of aggregates.
    pub(crate) desk: Arc<crate::desk::Cache>,
}

impl Api {
    /// A search slot and the store to search with, bounded by `[search]
    /// timeout` from now (dropped with the request: a client that leaves
    /// stops its SQL). Waits [`SEARCH_QUEUE_WAIT`] at most for a slot;
    /// then the error says why, for a 503.
    pub(crate) async fn search_slot(&self) -> Result<(tokio::sync::SemaphorePermit<'_>, Store), String> {
        let slot = tokio::time::timeout(SEARCH_QUEUE_WAIT, self.search_slots.acquire())
            .await
            .map_err(|_| {
                format!(
                    "{} searches are running (http.max_searches); try again shortly",
                    self.config.http.max_searches
                )
            })?
            .expect("the search semaphore is never closed");
        let store = match self.config.search.timeout {
            limit if limit.is_zero() => self.searches.clone(),
            limit => self.searches.bounded(limit),
        };
        Ok((slot, store))
    }

    /// Whether a request may use the protected routes: no token is
    /// configured, or it brings the token (`Authorization: Bearer`) or a
    /// session of the web desk (its cookie, given for the token).
    pub(crate) fn authorized(&self, headers: &axum::http::HeaderMap) -> bool {
        let Some(token) = &self.config.http.token else {
            return true;
        };
        let given = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        // Constant time: the comparison does not tell how much of a guess was right.
        if given.is_some_and(|g| crate::redact::constant_time_eq(g.as_bytes(), token.expose().as_bytes())) {
            return true;
        }
        self.config.http.ui && crate::desk::has_session(headers, token.expose(), self.store.clock().now())
    }
}

/// How long a search waits for a free slot before it gets 503.
pub(crate) const SEARCH_QUEUE_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// An API error: a status and one sentence, as `{"error": "..."}`.
#[derive(Debug)]
struct ApiError(StatusCode, String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, Json(serde_json::json!({ "error": self.1 }))).into_response()
    }
}

fn internal(error: &dyn std::error::Error) -> ApiError {
    ApiError(StatusCode::INTERNAL_SERVER_ERROR, error_chain(error))
}

fn bad_request(message: impl Into<String>) -> ApiError {
    ApiError(StatusCode::BAD_REQUEST, message.into())
}

/// The routes, for serving and for tests.
pub fn router(store: Store, config: Arc<Config>, metrics: Arc<Metrics>) -> Router {
    let api = Api {
        searches: store.with_search_pool(config.http.max_searches),
        search_slots: Arc::new(tokio::sync::Semaphore::new(config.http.max_searches as usize)),
        desk: Arc::new(crate::desk::Cache::new(store.clock())),
        store,
        config,
        metrics,
    };
    let protected = Router::new()
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics_text))
        .route("/api/items", get(items))
        .route("/api/topics", get(topics))
        .route("/api/feeds", get(feeds))
        .route("/api/stories", get(stories))
        .route("/api/digests", get(digests))
        .route_layer(middleware::from_fn_with_state(api.clone(), authorize));
    let mut router = Router::new().route("/healthz", get(healthz)).merge(protected);
    if api.config.http.ui {
        router = router.merge(crate::desk::routes(api.clone()));
    }
    router
        .fallback(no_route)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(api)
}

/// Any path that is not a route: 404 with the usual error body; a page of
/// the web desk for a browser (asking for HTML) outside `/api/`.
async fn no_route(State(api): State<Api>, request: Request) -> Response {
    let path = request.uri().path().to_string();
    let browser = request
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/html"));
    if api.config.http.ui && browser && !path.starts_with("/api/") {
        return crate::desk::not_found(&api, request.headers(), &path);
    }
    ApiError(StatusCode::NOT_FOUND, format!("no route {path}; see docs/api.md")).into_response()
}

/// A route asked with another method than GET (or HEAD): 405, with the
/// `Allow` header axum adds.
async fn method_not_allowed(method: Method, uri: Uri) -> ApiError {
    ApiError(
        StatusCode::METHOD_NOT_ALLOWED,
        format!(
            "{} answers GET only, not {method}; the API is read-only",
            uri.path()
        ),
    )
}

/// Largest `limit` of a listing route.
const MAX_LIMIT: u32 = 1000;

/// Query parameters of type `T`, rejected as a JSON [`ApiError`] that names
/// the parameter: unknown names (listing the known ones), names given twice,
/// and values that do not parse (saying what the parameter takes).
struct Params<T>(T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Params<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        parse_params(parts.uri.path(), parts.uri.query().unwrap_or_default()).map(Params)
    }
}

/// Query parameters of a web desk page, checked as the API checks its own:
/// the error's sentence when they do not parse.
pub(crate) fn page_params<T: DeserializeOwned>(uri: &Uri) -> Result<T, String> {
    parse_params(uri.path(), uri.query().unwrap_or_default()).map_err(|e| e.1)
}

fn parse_params<T: DeserializeOwned>(path: &str, query: &str) -> Result<T, ApiError> {
    let known = field_names::<T>();
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    let mut unknown: Vec<String> = Vec::new();
    for (name, _) in &pairs {
        let quoted = format!("{name:?}");
        if !known.contains(&name.as_str()) && !unknown.contains(&quoted) {
            unknown.push(quoted);
        }
    }
    if !unknown.is_empty() {
        let s = if unknown.len() == 1 { "" } else { "s" };
        let unknown = unknown.join(", ");
        return Err(bad_request(if known.is_empty() {
            format!("unknown parameter{s} {unknown}: {path} takes no parameters")
        } else {
            format!("unknown parameter{s} {unknown} (known: {})", known.join(", "))
        }));
    }
    for name in known {
        let times = pairs.iter().filter(|(n, _)| n == name).count();
        if times > 1 {
            return Err(bad_request(format!(
                "parameter {name:?} is given {times} times; give it once"
            )));
        }
    }
    let deserializer = serde_urlencoded::Deserializer::new(url::form_urlencoded::parse(query.as_bytes()));
    serde_path_to_error::deserialize(deserializer).map_err(|error| {
        let name = error.path().to_string();
        match pairs.iter().find(|(n, _)| *n == name) {
            Some((_, value)) => invalid(&name, value),
            // Not a parameter's value (should not happen: names are checked).
            None => bad_request(format!("{name}: {}", error.inner())),
        }
    })
}

/// What a parameter that has to parse takes, for error messages (same
/// meaning on every route, as in docs/openapi.json).
fn expected(name: &str) -> String {
    match name {
        "limit" => format!("a whole number from 1 to {MAX_LIMIT}"),
        "story" => "a story id (a whole number)".into(),
        "after" => "an item id (a whole number)".into(),
        "failed" => "true or false".into(),
        _ => "another value".into(),
    }
}

/// `name: expected …, got "value"`, the value shortened if long.
fn invalid(name: &str, value: &str) -> ApiError {
    let mut shown: String = value.chars().take(40).collect();
    if shown.len() < value.len() {
        shown.push('…');
    }
    bad_request(format!("{name}: expected {}, got {shown:?}", expected(name)))
}

/// `limit`, default 50, from 1 to [`MAX_LIMIT`].
fn page_limit(limit: Option<u32>) -> Result<u32, ApiError> {
    match limit {
        None => Ok(50),
        Some(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
        Some(n) => Err(invalid("limit", &n.to_string())),
    }
}

/// The field names serde passes to `deserialize_struct` for `T`: a query
/// struct's parameter names, from its own `Deserialize`.
fn field_names<T: DeserializeOwned>() -> &'static [&'static str] {
    use serde::de::{self, Visitor};
    struct Names<'a>(&'a mut &'static [&'static str]);
    impl<'de> de::Deserializer<'de> for Names<'_> {
        type Error = de::value::Error;
        fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Self::Error> {
            Err(de::Error::custom("not a struct"))
        }
        fn deserialize_struct<V: Visitor<'de>>(
            self,
            _: &'static str,
            fields: &'static [&'static str],
            _: V,
        ) -> Result<V::Value, Self::Error> {
            *self.0 = fields;
            Err(de::Error::custom("only the field names are read"))
        }
        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
            bytes byte_buf option unit unit_struct newtype_struct seq tuple
            tuple_struct map enum identifier ignored_any
        }
    }
    let mut fields: &'static [&'static str] = &[];
    let _ = T::deserialize(Names(&mut fields));
    fields
}

/// Routes that take no parameters.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NoParams {}

/// What one client may hold of the listener (`[http]`).
#[derive(Debug, Clone, Copy)]
pub struct ListenerLimits {
    /// Open client connections; more wait in the kernel's listen backlog
    /// (holding no descriptor of ours), so idle clients can never use up
    /// the descriptors feed fetches need.
    pub max_connections: usize,
    /// Time to send a request's headers (slowloris).
    pub header_timeout: Duration,
    /// A connection with no traffic for this long is closed.
    pub idle_timeout: Duration,
}

impl ListenerLimits {
    pub fn from_config(http: &crate::config::HttpConfig) -> Self {
        Self {
            max_connections: http.max_connections,
            header_timeout: http.header_timeout,
            idle_timeout: http.idle_timeout,
        }
    }
}

/// How long shutdown waits for requests in progress.
const DRAIN: Duration = Duration::from_secs(5);

/// Serves until `shutdown`: HTTP/1.1 with the limits, one task per
/// connection. A failing `accept` (out of descriptors) is retried after a
/// pause; it never ends the listener.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    limits: ListenerLimits,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let slots = Arc::new(tokio::sync::Semaphore::new(limits.max_connections.max(1)));
    let connections = tokio_util::task::TaskTracker::new();
    let mut accept_failing = false;
    loop {
        let slot = tokio::select! {
            _ = shutdown.cancelled() => break,
            slot = Arc::clone(&slots).acquire_owned() => slot.expect("the connection semaphore is never closed"),
        };
        let stream = tokio::select! {
            _ = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    accept_failing = false;
                    stream
                }
                Err(error) => {
                    // EMFILE and friends: wait for descriptors to come back.
                    if !accept_failing {
                        tracing::warn!(%error, "HTTP listener cannot accept connections; retrying");
                    }
                    accept_failing = true;
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    continue;
                }
            },
        };
        let router = router.clone();
        let shutdown = shutdown.clone();
        connections.spawn(async move {
            let _slot = slot;
            serve_connection(stream, router, limits, shutdown).await;
        });
    }
    connections.close();
    if tokio::time::timeout(DRAIN, connections.wait()).await.is_err() {
        tracing::debug!("HTTP connections still open at shutdown; closing them");
    }
    Ok(())
}

/// One client connection, until it closes, idles past the limit, or
/// shutdown (requests in progress finish).
async fn serve_connection(
    stream: tokio::net::TcpStream,
    router: Router,
    limits: ListenerLimits,
    shutdown: CancellationToken,
) {
    use hyper_util::rt::{TokioIo, TokioTimer};
    let activity = Activity::default();
    let io = TokioIo::new(Watched {
        inner: stream,
        activity: activity.clone(),
    });
    let service = hyper_util::service::TowerToHyperService::new(router);
    let connection = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .serve_connection(io, service);
    tokio::pin!(connection);
    let check = (limits.idle_timeout / 4).max(Duration::from_millis(100));
    loop {
        tokio::select! {
            _ = connection.as_mut() => return,
            _ = shutdown.cancelled() => {
                connection.as_mut().graceful_shutdown();
                let _ = tokio::time::timeout(DRAIN, connection.as_mut()).await;
                return;
            }
            _ = tokio::time::sleep(check) => {
                if activity.idle() >= limits.idle_timeout {
                    // Dropping the connection closes the socket.
                    return;
                }
            }
        }
    }
}

/// When a connection last moved a byte.
#[derive(Clone)]
struct Activity(Arc<std::sync::Mutex<std::time::Instant>>);

impl Default for Activity {
    fn default() -> Self {
        Self(Arc::new(std::sync::Mutex::new(std::time::Instant::now())))
    }
}

impl Activity {
    fn touch(&self) {
        *self.0.lock().expect("not poisoned") = std::time::Instant::now();
    }

    fn idle(&self) -> Duration {
        self.0.lock().expect("not poisoned").elapsed()
    }
}

/// A stream that records its traffic in an [`Activity`].
struct Watched {
    inner: tokio::net::TcpStream,
    activity: Activity,
}

impl tokio::io::AsyncRead for Watched {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = std::pin::Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.activity.touch();
        }
        polled
    }
}

impl tokio::io::AsyncWrite for Watched {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        data: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        let polled = std::pin::Pin::new(&mut self.inner).poll_write(cx, data);
        if matches!(polled, std::task::Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        polled
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

async fn authorize(State(api): State<Api>, request: Request, next: Next) -> Response {
    if !api.authorized(request.headers()) {
        return ApiError(
            StatusCode::UNAUTHORIZED,
            "a valid bearer token is required".into(),
        )
        .into_response();
    }
    next.run(request).await
}

/// Liveness: the polling loop runs and passes (systemd and load balancers
/// restart or route around a daemon that answers 503 here).
async fn healthz(State(api): State<Api>, _: Params<NoParams>) -> Result<&'static str, ApiError> {
    api.metrics
        .liveness(crate::daemon::STALLED_AFTER.as_secs() as i64)
        .map_err(|why| ApiError(StatusCode::SERVICE_UNAVAILABLE, why))?;
    Ok("ok\n")
}

async fn readyz(State(api): State<Api>, _: Params<NoParams>) -> Result<&'static str, ApiError> {
    if api.metrics.store_failing() {
        return Err(ApiError(
            StatusCode::SERVICE_UNAVAILABLE,
            "database writes are failing (see the log and feedwatch_store_errors_total)".into(),
        ));
    }
    api.store.item_count().await.map_err(|e| {
        ApiError(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("database: {}", error_chain(&e)),
        )
    })?;
    match api.metrics.since_tick() {
        Some(age) if age <= READY_TICK_SECS => Ok("ready\n"),
        Some(age) => Err(ApiError(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("the scheduler last ran {age} s ago"),
        )),
        None => Err(ApiError(
            StatusCode::SERVICE_UNAVAILABLE,
            "the scheduler has not run yet".into(),
        )),
    }
}

async fn metrics_text(State(api): State<Api>, _: Params<NoParams>) -> Result<Response, ApiError> {
    let body = api
        .metrics
        .render(&api.store, api.config.poll.failure_threshold)
        .await
        .map_err(|e| internal(&e))?;
    Ok((
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        body,
    )
        .into_response())
}

/// `/api/items` parameters: those of `feedwatch search`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ItemsQuery {
    q: Option<String>,
    topic: Option<String>,
    feed: Option<String>,
    story: Option<i64>,
    lang: Option<String>,
    since: Option<String>,
    until: Option<String>,
    after: Option<i64>,
    limit: Option<u32>,
}

async fn items(
    State(api): State<Api>,
    Params(q): Params<ItemsQuery>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let now = api.store.clock().now();
    let time = |s: &Option<String>, name: &str| {
        s.as_deref()
            .map(|s| parse_time(s, now).map_err(|e| bad_request(format!("{name}: {e}"))))
            .transpose()
    };
    let (since, until) = (time(&q.since, "since")?, time(&q.until, "until")?);
    check_range(since, until, ("since", "until")).map_err(|e| bad_request(e.to_string()))?;
    let search = Search {
        query: q.q.filter(|s| !s.trim().is_empty()),
        filter: SearchFilter {
            topic: q.topic,
            feed: q.feed,
            story: q.story,
            lang: q.lang,
            since,
            until,
            sort: SearchSort::Newest,
            ..SearchFilter::default()
        },
        after_id: q.after,
        limit: page_limit(q.limit)?,
    };
    let (_slot, store) = api
        .search_slot()
        .await
        .map_err(|busy| ApiError(StatusCode::SERVICE_UNAVAILABLE, busy))?;
    if let Some(topic) = &search.filter.topic {
        check_topic(&store, topic).await?;
    }
    if let Some(feed) = &search.filter.feed {
        archive::check_feed(&store, &api.config, feed)
            .await
            .map_err(search_error)?;
    }
    let (rows, _) = archive::search(&store, &api.config, &search, false)
        .await
        .map_err(search_error)?;
    let highlighter = Highlighter::new(&api.config, &store, search.query.as_deref(), &rows)
        .await
        .map_err(search_error)?;
    let records: Vec<ItemRecord> = rows
        .iter()
        .map(|row| ItemRecord::new(row, &highlighter))
        .collect();
    Ok(Json(serde_json::to_value(records).expect("records serialise")))
}

/// A failed search as an answer: 503 when stopped at its time budget.
fn search_error(error: archive::ArchiveError) -> ApiError {
    match error {
        archive::ArchiveError::Store(e @ StoreError::OverBudget(_)) => {
            ApiError(StatusCode::SERVICE_UNAVAILABLE, error_chain(&e))
        }
        archive::ArchiveError::Store(e) => internal(&e),
        e @ archive::ArchiveError::UnknownFeed { .. } => bad_request(format!("feed: {e}")),
        other => bad_request(error_chain(&other)),
    }
}

/// A `topic` parameter must name a topic (as `--topic` must).
async fn check_topic(store: &Store, topic: &str) -> Result<(), ApiError> {
    let names = store.topic_names().await.map_err(|e| search_error(e.into()))?;
    if names.iter().any(|n| n == topic) {
        return Ok(());
    }
    Err(bad_request(format!(
        "topic: no topic named {topic:?} (known: {})",
        names.join(", ")
    )))
}

async fn topics(State(api): State<Api>, _: Params<NoParams>) -> Result<Json<serde_json::Value>, ApiError> {
    let names: Vec<(String, String)> = api
        .config
        .topics
        .iter()
        .map(|t| (t.name.clone(), t.query.clone()))
        .collect();
    let stats = api
        .store
        .topic_stats(&names, api.store.clock().now())
        .await
        .map_err(|e| internal(&e))?;
    Ok(Json(serde_json::to_value(stats).expect("stats serialise")))
}

async fn feeds(State(api): State<Api>, _: Params<NoParams>) -> Result<Json<serde_json::Value>, ApiError> {
    let mut feeds = api.store.list_feeds().await.map_err(|e| internal(&e))?;
    crate::daemon::describe_feeds(&api.config, &api.store, &mut feeds)
        .await
        .map_err(|e| internal(&e))?;
    let threshold = i64::from(api.config.poll.failure_threshold);
    let records: Vec<FeedRecord> = feeds
        .iter()
        .map(|row| FeedRecord {
            row,
            consecutive_failures: row.error_count,
            unhealthy: row.error_count >= threshold,
        })
        .collect();
    Ok(Json(serde_json::to_value(records).expect("feeds serialise")))
}

/// A feed as `feeds list --format jsonl` prints it: the stored fields plus
/// derived ones.
#[derive(serde::Serialize)]
struct FeedRecord<'a> {
    #[serde(flatten)]
    row: &'a FeedRow,
    /// Same as `error_count`.
    consecutive_failures: i64,
    /// `poll.failure_threshold` consecutive failures or more.
    unhealthy: bool,
}

/// A story as `stories --format jsonl` prints it.
#[derive(serde::Serialize)]
struct StoryRecord<'a> {
    #[serde(flatten)]
    row: &'a StoryRow,
    outlet_count: usize,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StoriesQuery {
    topic: Option<String>,
    since: Option<String>,
    limit: Option<u32>,
}

async fn stories(
    State(api): State<Api>,
    Params(q): Params<StoriesQuery>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let since = q
        .since
        .as_deref()
        .map(|s| parse_time(s, api.store.clock().now()).map_err(|e| bad_request(format!("since: {e}"))))
        .transpose()?;
    if let Some(topic) = &q.topic {
        check_topic(&api.store, topic).await?;
    }
    let filter = StoryFilter {
        topic: q.topic,
        since,
        limit: page_limit(q.limit)?,
    };
    let stories = api.store.stories(&filter).await.map_err(|e| internal(&e))?;
    let records: Vec<StoryRecord> = stories
        .iter()
        .map(|row| StoryRecord {
            row,
            outlet_count: row.outlets.len(),
        })
        .collect();
    Ok(Json(serde_json::to_value(records).expect("stories serialise")))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DigestsQuery {
    #[serde(default)]
    failed: bool,
    limit: Option<u32>,
}

async fn digests(
    State(api): State<Api>,
    Params(q): Params<DigestsQuery>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let digests = api
        .store
        .list_digests(q.failed, page_limit(q.limit)?)
        .await
        .map_err(|e| internal(&e))?;
    Ok(Json(serde_json::to_value(digests).expect("digests serialise")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error<T: DeserializeOwned + std::fmt::Debug>(query: &str) -> (StatusCode, String) {
        let e = parse_params::<T>("/api/items", query).unwrap_err();
        (e.0, e.1)
    }

    #[test]
    fn query_structs_name_their_parameters() {
        assert_eq!(
            field_names::<ItemsQuery>(),
            ["q", "topic", "feed", "story", "lang", "since", "until", "after", "limit"]
        );
        assert_eq!(field_names::<DigestsQuery>(), ["failed", "limit"]);
        assert!(field_names::<NoParams>().is_empty());
    }

    #[test]
    fn parameter_errors_are_one_sentence_naming_the_parameter() {
        let bad = |s: &str| (StatusCode::BAD_REQUEST, s.to_string());
        assert_eq!(
            error::<ItemsQuery>("limit=-1"),
            bad("limit: expected a whole number from 1 to 1000, got \"-1\"")
        );
        assert_eq!(
            error::<ItemsQuery>("topics=kirkuk"),
            bad("unknown parameter \"topics\" (known: q, topic, feed, story, lang, since, until, after, limit)")
        );
        assert_eq!(
            error::<ItemsQuery>("x=1&y=2&x=3"),
            bad("unknown parameters \"x\", \"y\" (known: q, topic, feed, story, lang, since, until, after, limit)")
        );
        assert_eq!(
            error::<NoParams>("x=1"),
            bad("unknown parameter \"x\": /api/items takes no parameters")
        );
        assert_eq!(
            error::<ItemsQuery>("topic=a&topic=b"),
            bad("parameter \"topic\" is given 2 times; give it once")
        );
        assert_eq!(
            error::<ItemsQuery>("story=abc"),
            bad("story: expected a story id (a whole number), got \"abc\"")
        );
        assert_eq!(
            error::<DigestsQuery>("failed=yes"),
            bad("failed: expected true or false, got \"yes\"")
        );
        assert_eq!(
            error::<ItemsQuery>(&format!("after=%20{}", "9".repeat(100))).1,
            format!(
                "after: expected an item id (a whole number), got \" {}…\"",
                "9".repeat(39)
            )
        );
        let ok: ItemsQuery = parse_params("/api/items", "q=a%20b&limit=5&since=7d").unwrap();
        assert_eq!((ok.q.as_deref(), ok.limit), (Some("a b"), Some(5)));
        assert!(parse_params::<NoParams>("/healthz", "").is_ok());
    }

    #[test]
    fn limits_are_bounded() {
        assert_eq!(page_limit(None).ok(), Some(50));
        assert_eq!(page_limit(Some(1000)).ok(), Some(1000));
        for n in [0, 1001] {
            assert_eq!(
                page_limit(Some(n)).err().map(|e| e.1),
                Some(format!(
                    "limit: expected a whole number from 1 to 1000, got \"{n}\""
                ))
            );
        }
    }
}
