//! The mail seam, a leaf every other part may name: a message ([`Mail`]) and where messages go
//! ([`Mailer`]). The shipped mailers and the outbox worker are in `mail.rs`.

/// A message to one recipient: plain text and simple HTML.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mail {
    /// The recipient's address.
    pub to: String,
    /// The subject line.
    pub subject: String,
    /// The plain-text body.
    pub text: String,
    /// The HTML body.
    pub html: String,
}

/// Why a message could not be delivered this time (it is retried).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct MailError(pub String);

/// Where messages go. The engine ships SMTP and the development outbox; an app can bring its
/// own (an HTTP mail API, say) with
/// [`MailTransport::Custom`](crate::server::config::MailTransport::Custom).
#[async_trait::async_trait]
pub trait Mailer: Send + Sync + 'static {
    /// Delivers one message from `from`; an error means "try again later".
    async fn send(&self, from: &str, mail: &Mail) -> Result<(), MailError>;
}
