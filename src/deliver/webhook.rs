//! Webhooks: the digest as JSON (documented schema) or a Slack message,
//! POSTed with `X-Feedwatch-Digest-Id` (idempotency key) and, with a secret,
//! `X-Feedwatch-Signature: sha256=<hex HMAC-SHA256 of the body>`.

use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::DeliverError;
use crate::config::{Secret, WebhookFormat, WebhookUrl};
use crate::digest::{render, Digest};

/// The HMAC-SHA256 signature header value for `body`.
pub fn signature(secret: &Secret, body: &[u8]) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.expose().as_bytes()).expect("HMAC takes keys of any length");
    mac.update(body);
    let hex: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("sha256={hex}")
}

pub(super) async fn send(
    http: &reqwest::Client,
    url: &WebhookUrl,
    format: WebhookFormat,
    secret: Option<&Secret>,
    digest: &Digest,
) -> Result<(), DeliverError> {
    let body = match format {
        WebhookFormat::Json => serde_json::to_vec(digest),
        WebhookFormat::Slack => serde_json::to_vec(&render::slack(digest)),
    }
    .expect("digests serialise");
    let mut request = http
        .post(url.expose())
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header("X-Feedwatch-Digest-Id", &digest.id);
    if let Some(secret) = secret {
        request = request.header("X-Feedwatch-Signature", signature(secret, &body));
    }
    // reqwest's errors name the URL, which is the credential of the hook.
    let response = request
        .body(body)
        .send()
        .await
        .map_err(|e| DeliverError::Http(e.without_url()))?;
    if !response.status().is_success() {
        return Err(DeliverError::Status(response.status()));
    }
    Ok(())
}
