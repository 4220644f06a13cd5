//! E-mail over SMTP (STARTTLS, implicit TLS, or plain for local relays).

use std::time::Duration;

use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

use super::DeliverError;
use crate::config::{ChannelKind, SmtpTls};
use crate::digest::{render, Digest};

pub(super) async fn send(kind: &ChannelKind, digest: &Digest, timeout: Duration) -> Result<(), DeliverError> {
    let ChannelKind::Smtp {
        host,
        port,
        tls,
        username,
        password,
        from,
        to,
    } = kind
    else {
        unreachable!("called for SMTP channels only");
    };
    let message = render::email(digest, from, to).map_err(DeliverError::Email)?;
    let mut builder = match tls {
        SmtpTls::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(host).map_err(DeliverError::Smtp)?,
        SmtpTls::Starttls => {
            AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(host).map_err(DeliverError::Smtp)?
        }
        SmtpTls::None => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host),
    }
    .port(*port)
    .timeout(Some(timeout));
    if let (Some(user), Some(password)) = (username, password) {
        builder = builder.credentials(Credentials::new(user.clone(), password.expose().to_string()));
    }
    // lettre's async transport bounds only the connect with its timeout; a
    // server that accepts and then stops answering would hold the channel's
    // delivery (and the alert loop waiting for it) for good.
    tokio::time::timeout(timeout, builder.build().send(message))
        .await
        .map_err(|_| DeliverError::SmtpTimeout(timeout))?
        .map_err(DeliverError::Smtp)?;
    Ok(())
}
