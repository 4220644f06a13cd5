//! Delivering a rendered digest to a channel: one file per channel kind.
//! A delivery either is accepted by the channel (`Ok`) or fails with a
//! [`DeliverError`]; the caller records the outcome and retries later.
//! Every attempt for a digest sends the same content and idempotency key.

mod file;
mod smtp;
mod webhook;

use std::time::Duration;

use crate::config::{ChannelConfig, ChannelKind};
use crate::digest::Digest;

/// Why a channel did not accept a digest.
#[derive(Debug, thiserror::Error)]
pub enum DeliverError {
    /// The SMTP server refused the connection, the login or the message.
    #[error("SMTP delivery failed")]
    Smtp(#[source] lettre::transport::smtp::Error),
    /// The SMTP conversation did not finish within the timeout.
    #[error("SMTP server did not answer within {}", humantime::format_duration(*.0))]
    SmtpTimeout(Duration),
    /// The e-mail could not be built (an address that does not parse).
    #[error("cannot build the e-mail")]
    Email(#[source] lettre::error::Error),
    /// The webhook could not be reached or did not answer. The error
    /// carries no URL (`reqwest::Error::without_url`): a webhook URL is a
    /// credential, and this message is logged and stored.
    #[error("webhook request failed")]
    Http(#[source] reqwest::Error),
    /// The webhook answered with a non-success status.
    #[error("webhook answered HTTP {0}")]
    Status(reqwest::StatusCode),
    /// Writing the digest to a file failed.
    #[error("cannot write {path}")]
    File {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// Sends digests; holds the shared HTTP client. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Deliverer {
    http: reqwest::Client,
    timeout: Duration,
}

impl Deliverer {
    pub fn new(user_agent: &str, timeout: Duration) -> Result<Self, DeliverError> {
        let http = reqwest::Client::builder()
            .user_agent(user_agent)
            .timeout(timeout)
            .build()
            .map_err(DeliverError::Http)?;
        Ok(Self { http, timeout })
    }

    /// Delivers `digest` to `channel`.
    pub async fn deliver(&self, channel: &ChannelConfig, digest: &Digest) -> Result<(), DeliverError> {
        match &channel.kind {
            ChannelKind::Smtp { .. } => smtp::send(&channel.kind, digest, self.timeout).await,
            ChannelKind::Webhook { url, format, secret } => {
                webhook::send(&self.http, url, *format, secret.as_ref(), digest).await
            }
            ChannelKind::JsonLines { path } => file::append_jsonl(path, digest).await,
            ChannelKind::EmlDir { dir } => file::write_eml(dir, digest).await,
        }
    }
}
