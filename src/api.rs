//! The optional HTTP listener (`[http] listen`, off by default): health
//! probes, Prometheus metrics and a read-only JSON API. Documented in
//! docs/api.md. It binds loopback addresses only unless
//! `[http] allow_remote = true`; with `token_file`, every route but
//! `/healthz` needs `Authorization: Bearer TOKEN`.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Query, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use chrono::Utc;
use serde::Deserialize;
use tokio_util::sync::CancellationToken;

use crate::archive::{self, ItemRecord, Search};
use crate::config::Config;
use crate::error_chain;
use crate::metrics::Metrics;
use crate::model::parse_time;
use crate::store::{SearchFilter, SearchSort, Store, StoreError, StoryFilter};

/// The scheduler must have passed within this many seconds for `/readyz`.
const READY_TICK_SECS: i64 = 180;

#[derive(Clone)]
struct Api {
    store: Store,
    /// The store with a pool of its own for searches (`http.max_searches`
    /// connections): searches can never take the daemon's connections.
    searches: Store,
    /// Searches running at once (`http.max_searches`).
    search_slots: Arc<tokio::sync::Semaphore>,
    config: Arc<Config>,
    metrics: Arc<Metrics>,
}

/// How long a search waits for a free slot before it gets 503.
const SEARCH_QUEUE_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// An API error: a status and one sentence, as `{"error": "..."}`.
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
    Router::new()
        .route("/healthz", get(healthz))
        .merge(protected)
        .with_state(api)
}

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
    if let Some(token) = &api.config.http.token {
        let given = request
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        // Constant time: the comparison does not tell how much of a guess was right.
        if !given.is_some_and(|g| crate::redact::constant_time_eq(g.as_bytes(), token.expose().as_bytes())) {
            return ApiError(
                StatusCode::UNAUTHORIZED,
                "a valid bearer token is required".into(),
            )
            .into_response();
        }
    }
    next.run(request).await
}

/// Liveness: the polling loop runs and passes (systemd and load balancers
/// restart or route around a daemon that answers 503 here).
async fn healthz(State(api): State<Api>) -> Result<&'static str, ApiError> {
    api.metrics
        .liveness(crate::daemon::STALLED_AFTER.as_secs() as i64)
        .map_err(|why| ApiError(StatusCode::SERVICE_UNAVAILABLE, why))?;
    Ok("ok\n")
}

async fn readyz(State(api): State<Api>) -> Result<&'static str, ApiError> {
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

async fn metrics_text(State(api): State<Api>) -> Result<Response, ApiError> {
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
    Query(q): Query<ItemsQuery>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let now = Utc::now();
    let time = |s: &Option<String>, name: &str| {
        s.as_deref()
            .map(|s| parse_time(s, now).map_err(|e| bad_request(format!("{name}: {e}"))))
            .transpose()
    };
    let search = Search {
        query: q.q.filter(|s| !s.trim().is_empty()),
        filter: SearchFilter {
            topic: q.topic,
            feed: q.feed,
            story: q.story,
            lang: q.lang,
            since: time(&q.since, "since")?,
            until: time(&q.until, "until")?,
            sort: SearchSort::Newest,
            ..SearchFilter::default()
        },
        after_id: q.after,
        limit: q.limit.unwrap_or(50).min(1000),
    };
    let _slot = tokio::time::timeout(SEARCH_QUEUE_WAIT, api.search_slots.acquire())
        .await
        .map_err(|_| {
            ApiError(
                StatusCode::SERVICE_UNAVAILABLE,
                format!(
                    "{} searches are running (http.max_searches); try again shortly",
                    api.config.http.max_searches
                ),
            )
        })?
        .expect("the search semaphore is never closed");
    // Dropped with the request: a client that leaves stops its SQL.
    let store = match api.config.search.timeout {
        limit if limit.is_zero() => api.searches.clone(),
        limit => api.searches.bounded(limit),
    };
    let (rows, _) = archive::search(&store, &api.config, &search, false)
        .await
        .map_err(|e| match e {
            archive::ArchiveError::Store(e @ StoreError::OverBudget(_)) => {
                ApiError(StatusCode::SERVICE_UNAVAILABLE, error_chain(&e))
            }
            archive::ArchiveError::Store(e) => internal(&e),
            other => bad_request(error_chain(&other)),
        })?;
    let records: Vec<ItemRecord> = rows.iter().map(ItemRecord::from).collect();
    Ok(Json(serde_json::to_value(records).expect("records serialise")))
}

async fn topics(State(api): State<Api>) -> Result<Json<serde_json::Value>, ApiError> {
    let names: Vec<(String, String)> = api
        .config
        .topics
        .iter()
        .map(|t| (t.name.clone(), t.query.clone()))
        .collect();
    let stats = api
        .store
        .topic_stats(&names, Utc::now())
        .await
        .map_err(|e| internal(&e))?;
    Ok(Json(serde_json::to_value(stats).expect("stats serialise")))
}

async fn feeds(State(api): State<Api>) -> Result<Json<serde_json::Value>, ApiError> {
    let feeds = api.store.list_feeds().await.map_err(|e| internal(&e))?;
    Ok(Json(serde_json::to_value(feeds).expect("feeds serialise")))
}

#[derive(Debug, Deserialize)]
struct StoriesQuery {
    topic: Option<String>,
    since: Option<String>,
    limit: Option<u32>,
}

async fn stories(
    State(api): State<Api>,
    Query(q): Query<StoriesQuery>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let since = q
        .since
        .as_deref()
        .map(|s| parse_time(s, Utc::now()).map_err(|e| bad_request(format!("since: {e}"))))
        .transpose()?;
    let filter = StoryFilter {
        topic: q.topic,
        since,
        limit: q.limit.unwrap_or(50).min(1000),
    };
    let stories = api.store.stories(&filter).await.map_err(|e| internal(&e))?;
    Ok(Json(serde_json::to_value(stories).expect("stories serialise")))
}

#[derive(Debug, Deserialize)]
struct DigestsQuery {
    #[serde(default)]
    failed: bool,
    limit: Option<u32>,
}

async fn digests(
    State(api): State<Api>,
    Query(q): Query<DigestsQuery>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let digests = api
        .store
        .list_digests(q.failed, q.limit.unwrap_or(50).min(1000))
        .await
        .map_err(|e| internal(&e))?;
    Ok(Json(serde_json::to_value(digests).expect("digests serialise")))
}
