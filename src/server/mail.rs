//! Mail (docs/operations.md, "Mail"): the seam ([`Mailer`]), its two shipped implementations
//! (SMTP through lettre, and the development outbox), the messages the engine sends, and the
//! worker that delivers the outbox table.
//!
//! A request never talks to SMTP: it writes its message to the outbox in the transaction that
//! creates the link the message carries, and wakes the worker. The worker claims due rows with a
//! lease (on PostgreSQL `FOR UPDATE SKIP LOCKED`, so two instances never take one row), sends,
//! and marks them sent; a failed attempt is retried later, each wait twice the last (at most five
//! minutes), until the configured number of attempts. A restart or an SMTP outage loses nothing:
//! the rows wait in the database.

use crate::server::{
    config::{AuthConfig, MailTransport, MAIL_RETRY_CAP},
    db::now_ms,
    metrics,
    sessions::tokens,
    store::{
        recovery::{Claimed, NewToken, Outcome, Pending, Purpose},
        AccountStore, RecoveryStore,
    },
};
use crate::types::User;
use std::{path::PathBuf, sync::Arc, time::Duration};

pub use crate::server::mailer::{Mail, MailError, Mailer};

/// How long a claimed row is this worker's: a worker that dies mid-send releases it then.
const LEASE: Duration = Duration::from_secs(60);
/// Rows claimed at once.
const BATCH: i64 = 16;
/// How long one SMTP conversation may take (below the lease).
const SMTP_TIMEOUT: Duration = Duration::from_secs(20);

/// The mailer a transport setting names, or `None` when mail is off.
pub(crate) fn mailer(transport: &MailTransport) -> Result<Option<Arc<dyn Mailer>>, MailError> {
    use secrecy::ExposeSecret;
    Ok(match transport {
        MailTransport::Off => None,
        MailTransport::Smtp(url) => Some(Arc::new(Smtp::new(url.expose_secret())?)),
        MailTransport::DevOutbox(dir) => Some(Arc::new(DevOutbox { dir: dir.clone() })),
        MailTransport::Custom(m) => Some(m.clone()),
    })
}

/// Both bodies quoted-printable (lines of any length, links kept readable in the source).
fn message(from: &str, mail: &Mail) -> Result<lettre::Message, MailError> {
    use lettre::message::{
        header::{ContentTransferEncoding, ContentType},
        Mailbox, MultiPart, SinglePart,
    };
    let part = |kind: ContentType, body: &str| {
        SinglePart::builder()
            .header(kind)
            .header(ContentTransferEncoding::QuotedPrintable)
            .body(body.to_owned())
    };
    let bad = |what: &str, e: &dyn std::fmt::Display| MailError(format!("{what}: {e}"));
    let from: Mailbox = from.parse().map_err(|e| bad("sender", &e))?;
    let to: Mailbox = mail.to.parse().map_err(|e| bad("recipient", &e))?;
    lettre::Message::builder()
        .from(from)
        .to(to)
        .subject(mail.subject.clone())
        .multipart(
            MultiPart::alternative()
                .singlepart(part(ContentType::TEXT_PLAIN, &mail.text))
                .singlepart(part(ContentType::TEXT_HTML, &mail.html)),
        )
        .map_err(|e| bad("message", &e))
}

/// SMTP through lettre (tokio, rustls).
struct Smtp(lettre::AsyncSmtpTransport<lettre::Tokio1Executor>);

impl Smtp {
    fn new(url: &str) -> Result<Self, MailError> {
        let transport = lettre::AsyncSmtpTransport::<lettre::Tokio1Executor>::from_url(url)
            .map_err(|e| MailError(format!("SMTP_URL: {e}")))?
            .timeout(Some(SMTP_TIMEOUT))
            .build();
        Ok(Self(transport))
    }
}

#[async_trait::async_trait]
impl Mailer for Smtp {
    async fn send(&self, from: &str, mail: &Mail) -> Result<(), MailError> {
        use lettre::AsyncTransport;
        let message = message(from, mail)?;
        self.0
            .send(message)
            .await
            .map(drop)
            .map_err(|e| MailError(e.to_string()))
    }
}

/// Development: each message is logged with its link and written as an `.eml` file, so a
/// newcomer can follow a reset link without a mail server.
struct DevOutbox {
    dir: PathBuf,
}

#[async_trait::async_trait]
impl Mailer for DevOutbox {
    async fn send(&self, from: &str, mail: &Mail) -> Result<(), MailError> {
        let message = message(from, mail)?;
        tokio::fs::create_dir_all(&self.dir)
            .await
            .map_err(|e| MailError(format!("{}: {e}", self.dir.display())))?;
        let file = self.dir.join(format!(
            "{}-{}.eml",
            now_ms(),
            uuid::Uuid::new_v4().simple()
        ));
        tokio::fs::write(&file, message.formatted())
            .await
            .map_err(|e| MailError(format!("{}: {e}", file.display())))?;
        let link = mail
            .text
            .split_whitespace()
            .find(|w| w.contains("?token="))
            .unwrap_or("");
        tracing::info!(
            to = %mail.to,
            subject = %mail.subject,
            file = %file.display(),
            "development outbox (no SMTP_URL): {link}"
        );
        Ok(())
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn for_how_long(d: Duration) -> String {
    humantime::format_duration(Duration::from_secs(d.as_secs().max(60) / 60 * 60)).to_string()
}

/// A message with one link: a paragraph before it, one after.
fn with_link(to: &str, subject: String, before: &str, link: &str, after: &str) -> Mail {
    Mail {
        to: to.to_owned(),
        text: format!("{before}\n\n{link}\n\n{after}\n"),
        html: format!(
            "<!DOCTYPE html><html><body style=\"font-family:sans-serif\">\
             <p>{}</p><p><a href=\"{link}\">{}</a></p><p>{}</p></body></html>",
            escape(before),
            escape(&subject),
            escape(after),
            link = escape(link),
        ),
        subject,
    }
}

/// The verification message for `user`, with its link.
pub(crate) fn verification(config: &AuthConfig, user: &User, token: &str) -> Mail {
    let app = &config.recovery.app_name;
    let link = config.link(&config.recovery.verify_page, token);
    with_link(
        &user.email,
        format!("Confirm your address for {app}"),
        &format!(
            "Confirm that {} is your address for {app} by opening this link:",
            user.email
        ),
        &link,
        &format!(
            "The link works for {}. If you did not create an account, ignore this message.",
            for_how_long(config.recovery.verify_ttl)
        ),
    )
}

/// The password-reset message for `user`, with its link.
pub(crate) fn reset(config: &AuthConfig, user: &User, token: &str) -> Mail {
    let app = &config.recovery.app_name;
    let link = config.link(&config.recovery.reset_page, token);
    with_link(
        &user.email,
        format!("Reset your {app} password"),
        &format!(
            "Someone, hopefully you, asked to reset the password of {} on {app}. \
             Choose a new password here:",
            user.email
        ),
        &link,
        &format!(
            "The link works once, for {}, from any browser. If you did not ask, ignore this \
             message: your password stays as it is.",
            for_how_long(config.recovery.reset_ttl)
        ),
    )
}

/// The worker's side of the outbox: one per engine, running while the engine lives.
pub(crate) struct Outbox {
    /// Looks up the account a reset request names.
    accounts: Arc<dyn AccountStore>,
    recovery: Arc<dyn RecoveryStore>,
    mailer: Option<Arc<dyn Mailer>>,
    config: AuthConfig,
    wake: Arc<tokio::sync::Notify>,
}

impl Outbox {
    pub fn new(
        accounts: Arc<dyn AccountStore>,
        recovery: Arc<dyn RecoveryStore>,
        mailer: Option<Arc<dyn Mailer>>,
        config: AuthConfig,
    ) -> Self {
        Self {
            accounts,
            recovery,
            mailer,
            config,
            wake: Arc::default(),
        }
    }

    /// Whether messages leave at all.
    pub fn enabled(&self) -> bool {
        self.mailer.is_some()
    }

    /// Tells the worker there is something to send (it also looks every poll interval, for rows
    /// other instances queued or that are due again).
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Starts the worker on the current tokio runtime; it ends once the outbox is dropped.
    pub fn start(self: &Arc<Self>) {
        if !self.enabled() || tokio::runtime::Handle::try_current().is_err() {
            return;
        }
        let weak = Arc::downgrade(self);
        let wake = self.wake.clone();
        let poll = self.config.recovery.poll;
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = wake.notified() => {}
                    _ = tokio::time::sleep(poll) => {}
                }
                let Some(outbox) = weak.upgrade() else { break };
                // Keep going while a batch came back full.
                while let Ok(n) = outbox.deliver_due().await {
                    if n < BATCH as usize {
                        break;
                    }
                }
            }
        });
    }

    /// Claims and delivers what is due now; how many rows it claimed.
    pub async fn deliver_due(&self) -> Result<usize, sqlx::Error> {
        let Some(mailer) = &self.mailer else {
            return Ok(0);
        };
        let now = now_ms();
        let claimed = self
            .recovery
            .claim(now, now + LEASE.as_millis() as i64, BATCH)
            .await
            .inspect_err(|e| tracing::warn!(error = %e, "the mail outbox could not be read"))?;
        let n = claimed.len();
        if n == 0 {
            // Nothing changed since the last count: no query on an idle tick.
            return Ok(0);
        }
        for row in claimed {
            if let Err(e) = self.deliver(mailer.as_ref(), row).await {
                tracing::warn!(error = %e, "a message could not be recorded; it is retried after its lease");
            }
        }
        if let Ok(depth) = self.recovery.outbox_depth().await {
            metrics::outbox_depth(depth);
        }
        Ok(n)
    }

    async fn deliver(&self, mailer: &dyn Mailer, row: Claimed) -> Result<(), sqlx::Error> {
        let recovery = &self.recovery;
        let mail = match row.pending {
            Pending::Message(mail) => mail,
            Pending::ResetRequest(email) => {
                // The work that depends on whether the account exists happens here, never in
                // the request's answer.
                let Some((user, _)) = self.accounts.find_account(&email).await? else {
                    metrics::mail(Outcome::NoAccount.as_str());
                    return recovery.finish(&row.id, now_ms(), Outcome::NoAccount).await;
                };
                let token = tokens::random_refresh_token();
                let mail = reset(&self.config, &user, &token);
                let now = now_ms();
                let link = NewToken {
                    hash: &tokens::token_hash(&token),
                    user_id: &user.id,
                    purpose: Purpose::Reset,
                    now,
                    expires_at: now + self.config.recovery.reset_ttl.as_millis() as i64,
                };
                recovery.attach_reset(&row.id, link, &mail).await?;
                mail
            }
        };
        match mailer.send(&self.config.mail_from(), &mail).await {
            Ok(()) => {
                metrics::mail("sent");
                recovery.finish(&row.id, now_ms(), Outcome::Sent).await
            }
            Err(e) if row.attempts >= i64::from(self.config.recovery.max_attempts) => {
                tracing::error!(error = %e, attempts = row.attempts, "a message was given up");
                metrics::mail("failed");
                recovery.finish(&row.id, now_ms(), Outcome::Failed).await
            }
            Err(e) => {
                let wait = backoff(self.config.recovery.retry_base, row.attempts);
                tracing::warn!(error = %e, attempt = row.attempts, retry_in = ?wait, "mail delivery failed; retrying");
                metrics::mail("retried");
                let at = now_ms() + wait.as_millis() as i64;
                recovery.retry_at(&row.id, at, &e.to_string()).await
            }
        }
    }
}

/// The wait after attempt `n` (from 1): `base`, then twice as long each time, at most
/// [`MAIL_RETRY_CAP`].
fn backoff(base: Duration, n: i64) -> Duration {
    let doublings = u32::try_from(n.saturating_sub(1)).unwrap_or(0).min(20);
    base.saturating_mul(1 << doublings).min(MAIL_RETRY_CAP)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off_doubling_up_to_the_cap() {
        let base = Duration::from_secs(2);
        assert_eq!(backoff(base, 1), Duration::from_secs(2));
        assert_eq!(backoff(base, 2), Duration::from_secs(4));
        assert_eq!(backoff(base, 5), Duration::from_secs(32));
        assert_eq!(backoff(base, 40), MAIL_RETRY_CAP);
    }

    #[test]
    fn messages_escape_what_they_quote_into_html() {
        let config = AuthConfig::builder([7u8; 32])
            .public_origins(["https://notes.example.com"])
            .app_name("<Notes>")
            .build()
            .unwrap();
        let user = User {
            id: "u".into(),
            email: "ada@example.com".into(),
            email_verified: false,
        };
        let mail = reset(&config, &user, "abc");
        assert!(mail
            .text
            .contains("https://notes.example.com/reset-password?token=abc"));
        assert!(mail.html.contains("&lt;Notes&gt;"));
        assert!(!mail.html.contains("<Notes>"));
    }
}
