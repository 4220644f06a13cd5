//! Fetching feed documents: HTTP(S) with conditional GET, compression,
//! timeouts and a cap on the decompressed body; `file://` from disk.
//!
//! The fetcher returns bytes and validators; it knows nothing of parsing or
//! storage.

use std::path::PathBuf;
use std::time::Duration;

use reqwest::header::{self, HeaderMap, HeaderValue};
use reqwest::StatusCode;
use url::Url;

/// HTTP validators remembered from the last successful fetch.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Validators {
    pub etag: Option<String>,
    pub last_modified: Option<String>,
}

/// A fetched document.
#[derive(Debug)]
pub struct Fetched {
    /// HTTP status (200 for files).
    pub status: u16,
    /// URL after redirects.
    pub final_url: String,
    pub content_type: Option<String>,
    pub validators: Validators,
    pub body: Vec<u8>,
}

/// What a fetch produced.
#[derive(Debug)]
pub enum FetchOutcome {
    /// 304: the document did not change since the validators were issued.
    NotModified,
    Fetched(Fetched),
}

/// Why a fetch failed. Every variant ends up as the feed's `last_error`.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// The URL could not be parsed or has an unsupported scheme.
    #[error("unsupported URL {url:?}: {reason}")]
    BadUrl { url: String, reason: String },
    /// The server answered with a non-success status.
    #[error("HTTP {status}")]
    Status { status: StatusCode },
    /// The connection could not be made (DNS, refused, TLS).
    #[error("connection failed")]
    Connect(#[source] reqwest::Error),
    /// The request did not complete within the configured timeout.
    #[error("timed out after {}", humantime::format_duration(*.0))]
    Timeout(Duration),
    /// The body (after decompression) exceeded the configured cap.
    #[error("body larger than the {limit} limit")]
    TooLarge { limit: bytesize::ByteSize },
    /// Any other transport or decoding error.
    #[error("request failed")]
    Http(#[source] reqwest::Error),
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
            FetchError::Status { status } => Some(status.as_u16()),
            _ => None,
        }
    }
}

/// Fetcher settings.
#[derive(Debug, Clone)]
pub struct FetchSettings {
    pub connect_timeout: Duration,
    pub timeout: Duration,
    pub max_body: u64,
    pub user_agent: String,
}

/// A shared HTTP client plus limits. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Fetcher {
    client: reqwest::Client,
    settings: FetchSettings,
}

impl Fetcher {
    pub fn new(settings: FetchSettings) -> Result<Self, FetchError> {
        let client = reqwest::Client::builder()
            .user_agent(&settings.user_agent)
            .connect_timeout(settings.connect_timeout)
            .timeout(settings.timeout)
            .redirect(reqwest::redirect::Policy::limited(10))
            .build()
            .map_err(FetchError::Http)?;
        Ok(Self { client, settings })
    }

    /// Fetches `url`, sending the validators as a conditional GET.
    pub async fn fetch(&self, url: &str, validators: &Validators) -> Result<FetchOutcome, FetchError> {
        let parsed = Url::parse(url).map_err(|e| FetchError::BadUrl {
            url: url.to_string(),
            reason: e.to_string(),
        })?;
        match parsed.scheme() {
            "http" | "https" => self.fetch_http(parsed, validators).await,
            "file" => self.fetch_file(&parsed).await,
            other => Err(FetchError::BadUrl {
                url: url.to_string(),
                reason: format!("scheme {other:?} is not http, https or file"),
            }),
        }
    }

    async fn fetch_http(&self, url: Url, validators: &Validators) -> Result<FetchOutcome, FetchError> {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::ACCEPT,
            HeaderValue::from_static(
                "application/rss+xml, application/atom+xml, application/feed+json, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.8",
            ),
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
        let mut response = self
            .client
            .get(url)
            .headers(headers)
            .send()
            .await
            .map_err(|e| self.classify(e))?;
        let status = response.status();
        if status == StatusCode::NOT_MODIFIED {
            return Ok(FetchOutcome::NotModified);
        }
        if !status.is_success() {
            return Err(FetchError::Status { status });
        }
        let header_str = |name: header::HeaderName| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let content_type = header_str(header::CONTENT_TYPE);
        let validators = Validators {
            etag: header_str(header::ETAG),
            last_modified: header_str(header::LAST_MODIFIED),
        };
        let final_url = response.url().to_string();
        let limit = self.settings.max_body;
        // Content-Length is of the encoded body; the cap is on the decoded one,
        // so this is only a shortcut for bodies that are too large either way.
        if response.content_length().is_some_and(|n| n > limit) {
            return Err(self.too_large());
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| self.classify(e))? {
            if body.len() as u64 + chunk.len() as u64 > limit {
                return Err(self.too_large());
            }
            body.extend_from_slice(&chunk);
        }
        Ok(FetchOutcome::Fetched(Fetched {
            status: status.as_u16(),
            final_url,
            content_type,
            validators,
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
            content_type: None,
            validators: Validators::default(),
            body,
        }))
    }

    fn too_large(&self) -> FetchError {
        FetchError::TooLarge {
            limit: bytesize::ByteSize(self.settings.max_body),
        }
    }

    fn classify(&self, error: reqwest::Error) -> FetchError {
        if error.is_timeout() {
            FetchError::Timeout(self.settings.timeout)
        } else if error.is_connect() {
            FetchError::Connect(error)
        } else {
            FetchError::Http(error)
        }
    }
}
