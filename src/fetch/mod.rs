//! Fetching feed documents: HTTP(S) with conditional GET, compression,
//! timeouts (connect, read, total), a cap on the decompressed body, at most
//! [`MAX_REDIRECTS`] redirects with loop detection, the SSRF guard on every
//! hop ([`guard`]) and per-host politeness ([`hosts`]); `file://` from disk.
//!
//! gzip and deflate are decoded here rather than by reqwest, so that what
//! servers really send is read: deflate as zlib or raw (as some IIS
//! servers send it), and a body declared compressed that is not. The cap
//! holds for the decoded body all the same.
//!
//! The fetcher returns bytes, validators and what the server said about
//! caching; it knows nothing of parsing, scheduling or storage.

pub mod guard;
pub mod hosts;

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::header::{self, HeaderMap, HeaderValue};
use reqwest::StatusCode;
use url::Url;

use crate::clock::Clock;

pub use guard::Blocked;

/// Redirects followed before giving up.
pub const MAX_REDIRECTS: usize = 10;

/// HTTP validators remembered from the last successful fetch.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Validators {
    pub etag: Option<String>,
    pub last_modified: Option<String>,
}

/// What the server said beyond the body: caching and where the feed moved.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResponseMeta {
    /// Where a chain of only permanent redirects (301/308) led, if anywhere.
    pub moved_to: Option<String>,
    /// `Cache-Control: max-age`.
    pub max_age: Option<Duration>,
    /// `Expires`.
    pub expires: Option<DateTime<Utc>>,
}

/// A fetched document.
#[derive(Debug)]
pub struct Fetched {
    /// HTTP status (200 for files).
    pub status: u16,
    /// URL after redirects.
    pub final_url: String,
    /// `Content-Location`, absolute: the document's own URL, which
    /// relative links in it are relative to.
    pub content_location: Option<String>,
    pub content_type: Option<String>,
    pub validators: Validators,
    pub meta: ResponseMeta,
    pub body: Vec<u8>,
}

impl Fetched {
    /// The URL relative links of the document resolve against:
    /// `Content-Location`, else the URL it was fetched from.
    pub fn base_url(&self) -> &str {
        self.content_location.as_deref().unwrap_or(&self.final_url)
    }
}

/// What a fetch produced.
#[derive(Debug)]
pub enum FetchOutcome {
    /// 304: the document did not change since the validators were issued.
    NotModified(ResponseMeta),
    Fetched(Fetched),
}

/// Why a fetch failed. Every variant ends up as the feed's `last_error`, so
/// URLs in it have their password masked ([`crate::redact::url`]; reqwest
/// takes `user:password@` out of the URLs its own errors name).
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// The URL could not be parsed or has an unsupported scheme.
    #[error("unsupported URL {url:?}: {reason}")]
    BadUrl { url: String, reason: String },
    /// The server answered with a non-success status; `retry_after` is its
    /// `Retry-After` (on 429 and 503).
    #[error("HTTP {status}")]
    Status {
        status: StatusCode,
        retry_after: Option<Duration>,
    },
    /// The SSRF guard refused the address (of any hop).
    #[error(transparent)]
    Blocked(Blocked),
    /// The connection could not be made (DNS, refused, TLS): one sentence
    /// with the cause (see [`transport_sentence`]).
    #[error("{0}")]
    Connect(String),
    /// The request did not complete within the configured timeout.
    #[error("timed out after {}", humantime::format_duration(*.0))]
    Timeout(Duration),
    /// The body (after decompression) exceeded the configured cap.
    #[error("body larger than the {limit} limit")]
    TooLarge { limit: bytesize::ByteSize },
    /// A redirect led back to a URL already visited.
    #[error("redirect loop at {url}")]
    RedirectLoop { url: String },
    /// More than [`MAX_REDIRECTS`] redirects.
    #[error("more than {MAX_REDIRECTS} redirects")]
    TooManyRedirects,
    /// A redirect without a usable `Location`.
    #[error("redirect ({status}) without a usable Location header")]
    BadRedirect { status: StatusCode },
    /// Any other transport or decoding error, as one sentence.
    #[error("{0}")]
    Http(String),
    /// A body declared gzip or deflate and compressed could not be decoded.
    #[error("cannot decode the {encoding} body")]
    Decode {
        encoding: &'static str,
        #[source]
        source: std::io::Error,
    },
    /// Reading a `file://` feed failed.
    #[error("cannot read {}", path.display())]
    File {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl FetchError {
    /// The HTTP status, when the failure was a status.
    pub fn status(&self) -> Option<u16> {
        match self {
            FetchError::Status { status, .. } => Some(status.as_u16()),
            _ => None,
        }
    }

    /// The server's `Retry-After`, if it sent one.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            FetchError::Status { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// A short stable name of the failure, for `feeds list`.
    pub fn kind(&self) -> &'static str {
        match self {
            FetchError::BadUrl { .. } => "bad_url",
            FetchError::Status { .. } => "http_status",
            FetchError::Blocked(_) => "blocked",
            FetchError::Connect(_) => "connect",
            FetchError::Timeout(_) => "timeout",
            FetchError::TooLarge { .. } => "too_large",
            FetchError::RedirectLoop { .. }
            | FetchError::TooManyRedirects
            | FetchError::BadRedirect { .. } => "redirect",
            FetchError::Http(_) | FetchError::Decode { .. } => "http",
            FetchError::File { .. } => "file",
        }
    }
}

/// Fetcher settings.
#[derive(Debug, Clone)]
pub struct FetchSettings {
    pub connect_timeout: Duration,
    /// Longest wait for the next bytes.
    pub read_timeout: Duration,
    /// Total time for one fetch: every hop and the whole body.
    pub timeout: Duration,
    pub max_body: u64,
    pub user_agent: String,
    /// Turns the SSRF guard off.
    pub allow_private_networks: bool,
}

impl FetchSettings {
    /// The settings of the `[fetch]` table.
    pub fn from_config(config: &crate::config::FetchConfig) -> Self {
        Self {
            connect_timeout: config.connect_timeout,
            read_timeout: config.read_timeout,
            timeout: config.timeout,
            max_body: config.max_body_size.as_u64(),
            user_agent: config.user_agent.clone(),
            allow_private_networks: config.allow_private_networks,
        }
    }
}

/// A shared HTTP client plus limits. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Fetcher {
    client: reqwest::Client,
    settings: FetchSettings,
    /// "Now", for a `Retry-After` given as a date.
    clock: Clock,
}

impl Fetcher {
    pub fn new(settings: FetchSettings) -> Result<Self, FetchError> {
        let mut builder = reqwest::Client::builder()
            .user_agent(&settings.user_agent)
            .connect_timeout(settings.connect_timeout)
            .read_timeout(settings.read_timeout)
            .timeout(settings.timeout)
            .gzip(false)
            .deflate(false)
            .redirect(reqwest::redirect::Policy::none());
        if !settings.allow_private_networks {
            builder = builder.dns_resolver(Arc::new(guard::GuardedResolver));
        }
        let client = builder
            .build()
            .map_err(|e| FetchError::Http(format!("cannot set up the HTTP client: {}", root_cause(&e))))?;
        Ok(Self {
            client,
            settings,
            clock: Clock::System,
        })
    }

    /// This fetcher with `clock` as "now" (the pipeline gives it its own).
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// Fetches `url`, sending the validators as a conditional GET.
    pub async fn fetch(&self, url: &str, validators: &Validators) -> Result<FetchOutcome, FetchError> {
        let parsed = Url::parse(url).map_err(|e| FetchError::BadUrl {
            url: crate::redact::url(url).into_owned(),
            reason: e.to_string(),
        })?;
        match parsed.scheme() {
            "http" | "https" => {
                let total = self.settings.timeout;
                tokio::time::timeout(total, self.fetch_http(parsed, validators))
                    .await
                    .unwrap_or(Err(FetchError::Timeout(total)))
            }
            "file" => self.fetch_file(&parsed).await,
            other => Err(FetchError::BadUrl {
                url: crate::redact::url(url).into_owned(),
                reason: format!("scheme {other:?} is not http, https or file"),
            }),
        }
    }

    async fn fetch_http(&self, start: Url, validators: &Validators) -> Result<FetchOutcome, FetchError> {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::ACCEPT,
            HeaderValue::from_static(
                "application/rss+xml, application/atom+xml, application/feed+json, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.8",
            ),
        );
        // reqwest still decodes br and zstd; gzip and deflate are ours.
        headers.insert(
            header::ACCEPT_ENCODING,
            HeaderValue::from_static("gzip, deflate, br, zstd"),
        );
        if let Some(value) = validators
            .etag
            .as_deref()
            .and_then(|v| HeaderValue::from_str(v).ok())
        {
            headers.insert(header::IF_NONE_MATCH, value);
        }
        if let Some(value) = validators
            .last_modified
            .as_deref()
            .and_then(|v| HeaderValue::from_str(v).ok())
        {
            headers.insert(header::IF_MODIFIED_SINCE, value);
        }
        let mut url = start;
        let mut visited: HashSet<Url> = HashSet::from([url.clone()]);
        let mut moved_to: Option<Url> = None;
        let mut all_permanent = true;
        let mut response = loop {
            if !self.settings.allow_private_networks {
                guard::check_host(url.host()).map_err(FetchError::Blocked)?;
            }
            let response = self
                .client
                .get(url.clone())
                .headers(headers.clone())
                .send()
                .await
                .map_err(|e| self.classify(e))?;
            let status = response.status();
            if !status.is_redirection() || status == StatusCode::NOT_MODIFIED {
                break response;
            }
            let next = response
                .headers()
                .get(header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|loc| url.join(loc).ok())
                .filter(|u| matches!(u.scheme(), "http" | "https"))
                .ok_or(FetchError::BadRedirect { status })?;
            if !visited.insert(next.clone()) {
                return Err(FetchError::RedirectLoop {
                    url: crate::redact::url(next.as_str()).into_owned(),
                });
            }
            if visited.len() > MAX_REDIRECTS + 1 {
                return Err(FetchError::TooManyRedirects);
            }
            if all_permanent
                && matches!(
                    status,
                    StatusCode::MOVED_PERMANENTLY | StatusCode::PERMANENT_REDIRECT
                )
            {
                moved_to = Some(next.clone());
            } else {
                all_permanent = false;
            }
            url = next;
        };
        let status = response.status();
        let header_str = |name: header::HeaderName| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let meta = ResponseMeta {
            moved_to: moved_to.map(|u| u.to_string()),
            max_age: header_str(header::CACHE_CONTROL).and_then(|v| max_age(&v)),
            expires: header_str(header::EXPIRES).and_then(|v| http_date(&v)),
        };
        if status == StatusCode::NOT_MODIFIED {
            return Ok(FetchOutcome::NotModified(meta));
        }
        if !status.is_success() {
            let retry_after = header_str(header::RETRY_AFTER).and_then(|v| retry_after(&v, self.clock.now()));
            return Err(FetchError::Status { status, retry_after });
        }
        let content_type = header_str(header::CONTENT_TYPE);
        let validators = Validators {
            etag: header_str(header::ETAG),
            last_modified: header_str(header::LAST_MODIFIED),
        };
        let final_url = response.url().to_string();
        let content_location = header_str(header::CONTENT_LOCATION)
            .and_then(|loc| response.url().join(loc.trim()).ok())
            .filter(|u| matches!(u.scheme(), "http" | "https"))
            .map(String::from);
        let encoding = header_str(header::CONTENT_ENCODING).map(|e| e.trim().to_ascii_lowercase());
        let limit = self.settings.max_body;
        // Content-Length is of the encoded body; the cap is on the decoded one,
        // so this is only a shortcut for bodies that are too large either way.
        if response.content_length().is_some_and(|n| n > limit) {
            return Err(self.too_large());
        }
        // Chunks arrive decompressed: a gzip bomb stops at the cap.
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| self.classify(e))? {
            if body.len() as u64 + chunk.len() as u64 > limit {
                return Err(self.too_large());
            }
            body.extend_from_slice(&chunk);
        }
        let body = match encoding.as_deref() {
            Some("gzip" | "x-gzip") => self.decompress(body, "gzip")?,
            Some("deflate") => self.decompress(body, "deflate")?,
            _ => body,
        };
        Ok(FetchOutcome::Fetched(Fetched {
            status: status.as_u16(),
            final_url,
            content_location,
            content_type,
            validators,
            meta,
            body,
        }))
    }

    async fn fetch_file(&self, url: &Url) -> Result<FetchOutcome, FetchError> {
        let path = url.to_file_path().map_err(|()| FetchError::BadUrl {
            url: url.to_string(),
            reason: "not a local file path".into(),
        })?;
        let file_error = |source| FetchError::File {
            path: path.clone(),
            source,
        };
        let size = tokio::fs::metadata(&path).await.map_err(file_error)?.len();
        if size > self.settings.max_body {
            return Err(self.too_large());
        }
        let body = tokio::fs::read(&path).await.map_err(file_error)?;
        Ok(FetchOutcome::Fetched(Fetched {
            status: 200,
            final_url: url.to_string(),
            content_location: None,
            content_type: None,
            validators: Validators::default(),
            meta: ResponseMeta::default(),
            body,
        }))
    }

    /// Decodes a gzip or deflate body (deflate as zlib or raw), at most
    /// the body cap of it. A body that is not compressed at all (no gzip
    /// magic, no deflate stream) is returned as it is.
    fn decompress(&self, body: Vec<u8>, encoding: &'static str) -> Result<Vec<u8>, FetchError> {
        use std::io::Read;
        let limit = self.settings.max_body;
        let read = |mut reader: Box<dyn Read + '_>| -> std::io::Result<Vec<u8>> {
            let mut out = Vec::new();
            (&mut reader).take(limit + 1).read_to_end(&mut out)?;
            Ok(out)
        };
        // Declared compressed, sent as it is.
        if !body.starts_with(&[0x1f, 0x8b]) && body.trim_ascii_start().starts_with(b"<") {
            return Ok(body);
        }
        let decoded = match encoding {
            "gzip" if body.starts_with(&[0x1f, 0x8b]) => {
                read(Box::new(flate2::read::MultiGzDecoder::new(&body[..])))
            }
            "gzip" => return Ok(body),
            _ => {
                let zlib = body.len() >= 2
                    && body[0] & 0x0f == 8
                    && (u16::from(body[0]) << 8 | u16::from(body[1])) % 31 == 0;
                if zlib {
                    read(Box::new(flate2::read::ZlibDecoder::new(&body[..])))
                } else {
                    read(Box::new(flate2::read::DeflateDecoder::new(&body[..])))
                }
            }
        };
        let decoded = decoded.map_err(|source| FetchError::Decode { encoding, source })?;
        if decoded.len() as u64 > limit {
            return Err(self.too_large());
        }
        Ok(decoded)
    }

    fn too_large(&self) -> FetchError {
        FetchError::TooLarge {
            limit: bytesize::ByteSize(self.settings.max_body),
        }
    }

    fn classify(&self, error: reqwest::Error) -> FetchError {
        let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&error);
        while let Some(cause) = source {
            if let Some(blocked) = cause.downcast_ref::<Blocked>() {
                return FetchError::Blocked(blocked.clone());
            }
            source = cause.source();
        }
        if error.is_timeout() {
            FetchError::Timeout(self.settings.timeout)
        } else if error.is_connect() {
            FetchError::Connect(transport_sentence(&error))
        } else {
            FetchError::Http(transport_sentence(&error))
        }
    }
}

/// The innermost cause of an error: what actually went wrong, without
/// reqwest's and hyper's wrappers ("error sending request for url (…):
/// client error (Connect): …").
fn root_cause<'e>(error: &'e (dyn std::error::Error + 'static)) -> &'e (dyn std::error::Error + 'static) {
    let mut cause = error;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause
}

/// A transport failure as one sentence naming the host and the cause:
/// "cannot resolve news.example: Name or service not known", "connection
/// refused by 127.0.0.1:8080", "TLS handshake with news.example failed:
/// invalid peer certificate: Expired".
pub(crate) fn transport_sentence(error: &reqwest::Error) -> String {
    let host = error
        .url()
        .map(|u| match (u.host_str(), u.port()) {
            (Some(host), Some(port)) => format!("{host}:{port}"),
            (Some(host), None) => host.to_string(),
            _ => u.to_string(),
        })
        .unwrap_or_else(|| "the server".into());
    let root = root_cause(error);
    let chain = crate::error_chain(error).to_lowercase();
    let io = root.downcast_ref::<std::io::Error>().map(std::io::Error::kind);
    let reason = root.to_string();
    let reason = reason
        .strip_prefix("failed to lookup address information: ")
        .unwrap_or(&reason);
    use std::io::ErrorKind;
    match io {
        Some(ErrorKind::ConnectionRefused) => return format!("connection refused by {host}"),
        Some(ErrorKind::ConnectionReset) => return format!("connection reset by {host}"),
        Some(ErrorKind::ConnectionAborted) => return format!("connection aborted by {host}"),
        Some(ErrorKind::UnexpectedEof) => return format!("{host} closed the connection early"),
        _ => {}
    }
    let host_only = host.rsplit_once(':').map_or(host.as_str(), |(h, _)| h);
    if chain.contains("dns error") {
        format!("cannot resolve {host_only}: {reason}")
    } else if chain.contains("certificate") || chain.contains("tls") || chain.contains("handshake") {
        format!("TLS handshake with {host} failed: {reason}")
    } else if error.is_connect() {
        format!("cannot connect to {host}: {reason}")
    } else if error.is_decode() || error.is_body() {
        format!("reading the response from {host} failed: {reason}")
    } else {
        format!("request to {host} failed: {reason}")
    }
}

/// `max-age` of a `Cache-Control` value, unless caching is forbidden.
fn max_age(value: &str) -> Option<Duration> {
    let mut age = None;
    for directive in value.split(',').map(str::trim) {
        let lower = directive.to_ascii_lowercase();
        if lower == "no-cache" || lower == "no-store" {
            return None;
        }
        if let Some(secs) = lower.strip_prefix("max-age=") {
            age = secs
                .trim_matches('"')
                .parse::<u64>()
                .ok()
                .map(Duration::from_secs);
        }
    }
    age
}

/// An HTTP date (IMF-fixdate; RFC 850 and asctime are obsolete but legal).
fn http_date(value: &str) -> Option<DateTime<Utc>> {
    let value = value.trim();
    DateTime::parse_from_rfc2822(value)
        .map(|d| d.to_utc())
        .ok()
        .or_else(|| {
            chrono::NaiveDateTime::parse_from_str(value, "%A, %d-%b-%y %H:%M:%S GMT")
                .ok()
                .map(|n| n.and_utc())
        })
        .or_else(|| {
            chrono::NaiveDateTime::parse_from_str(value, "%a %b %e %H:%M:%S %Y")
                .ok()
                .map(|n| n.and_utc())
        })
}

/// `Retry-After`: delay-seconds or an HTTP date.
fn retry_after(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    http_date(value).map(|at| (at - now).to_std().unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_cache_headers() {
        assert_eq!(max_age("public, max-age=600"), Some(Duration::from_secs(600)));
        assert_eq!(max_age("max-age=600, no-cache"), None);
        assert_eq!(max_age("private"), None);
        let now = http_date("Sun, 06 Nov 1994 08:49:37 GMT").unwrap();
        assert_eq!(now.to_rfc3339(), "1994-11-06T08:49:37+00:00");
        assert_eq!(http_date("Sunday, 06-Nov-94 08:49:37 GMT"), Some(now));
        assert_eq!(http_date("Sun Nov  6 08:49:37 1994"), Some(now));
        assert_eq!(retry_after("120", now), Some(Duration::from_secs(120)));
        assert_eq!(
            retry_after("Sun, 06 Nov 1994 08:59:37 GMT", now),
            Some(Duration::from_secs(600))
        );
        assert_eq!(retry_after("soon", now), None);
    }
}
