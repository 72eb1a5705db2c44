//! The engine's root: [`Auth`] composes the parts (docs/architecture.md, "Modules"), each with
//! one owner: [`Sessions`] (rotation rules, flights, liveness, keys) and [`Accounts`] (sign-in,
//! registration, limits), each holding the store traits it owns (handed out of [`Stores`]). The
//! HTTP side (`http/`) holds an `Auth` and asks it; nothing here knows about HTTP.

use crate::server::{
    accounts::{Accounts, ClientInfo},
    config::{AuthConfig, MailTransport, IDEMPOTENCY_KEEP},
    db,
    error::{Error, RefreshFailure},
    mail::{self, Outbox},
    metrics::RefreshPath,
    sessions::{tokens::Keys, Principal, Sessions, TokenPair},
    store::{self, Database, IdempotencyStore, Stores},
};
use crate::types::{Device, Email, Password, User};
use std::{
    sync::{atomic::AtomicBool, Arc},
    time::Duration,
};

/// The auth engine: the database, keys and settings. Cheap to clone.
#[derive(Clone)]
pub struct Auth(Arc<Inner>);

struct Inner {
    stores: Stores,
    sessions: Sessions,
    accounts: Accounts,
    /// The mail worker's side of the outbox; its worker runs while this lives.
    outbox: Arc<Outbox>,
    config: AuthConfig,
    /// Dropped with the engine, which stops the revocation listener (and its connection).
    listener_stop: std::sync::Mutex<Option<tokio::sync::oneshot::Sender<()>>>,
    /// The periodic sweep starts once per engine, however many routers it is installed on.
    sweeper: std::sync::Once,
    /// Said once: requests arrive without the client address (see `Auth::client_ip`).
    warned_no_peer: AtomicBool,
    /// Turns to render a page: `page_concurrency` of them (docs/limits.md, "Pages in flight").
    page_turns: Arc<tokio::sync::Semaphore>,
}

impl Auth {
    /// Applies the engine's own migrations (users, sessions, refresh tokens, idempotency
    /// records, rate limits) and returns the engine. `db` is a database URL (`sqlite://…`,
    /// `postgres://…`: the engine opens its own pool) or the app's pool: an `sqlx::AnyPool`
    /// (the engine opens a native pool on its connect options, as large) or a native
    /// `SqlitePool` or `PgPool` (used as it is). The app's own tables and migrations stay the
    /// app's: both migrators share sqlx's bookkeeping table and ignore each other's versions.
    ///
    /// # Errors
    ///
    /// [`Error::UnsupportedDatabase`] for a URL or pool that is neither SQLite nor PostgreSQL
    /// (or a URL that does not parse); [`Error::Migrate`] when the migrations fail (the database
    /// is unreachable, or its schema is newer than this engine).
    pub async fn connect(db: impl Into<Database>, config: AuthConfig) -> Result<Self, Error> {
        let stores = db
            .into()
            .into_stores()
            .map_err(Error::UnsupportedDatabase)?;
        stores.root.migrate().await?;
        let auth = Self::with_stores(stores, config);
        auth.follow_revocations();
        auth.0.outbox.start();
        match &auth.0.config.recovery.transport {
            MailTransport::Off => tracing::warn!(
                "mail is off (no SMTP_URL): password reset and address confirmation by email are not available"
            ),
            MailTransport::DevOutbox(dir) => tracing::info!(
                "mail goes to the development outbox (no SMTP_URL): logged, and written to {}",
                dir.display()
            ),
            _ => {}
        }
        Ok(auth)
    }

    /// Forgets the sessions other instances revoke, as they announce them (PostgreSQL).
    fn follow_revocations(&self) {
        if self.0.config.liveness_ttl.is_zero() {
            return;
        }
        let Ok(handle) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let weak = Arc::downgrade(&self.0);
        let on: store::OnAnnouncement = Box::new(move |payload| {
            let Some(inner) = weak.upgrade() else {
                return false;
            };
            inner.sessions.forget_announced(payload);
            true
        });
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        *self.0.listener_stop.lock().expect("listener slot") = Some(stop);
        let announcements = self.0.stores.announcements.clone();
        handle.spawn(async move { announcements.follow_announcements(on, stopped).await });
    }

    fn with_stores(stores: Stores, config: AuthConfig) -> Self {
        use secrecy::ExposeSecret;
        let shared_limits = stores.root.backend() == store::Backend::Postgres;
        let mailer = mail::mailer(&config.recovery.transport).unwrap_or_else(|e| {
            tracing::error!(error = %e, "mail is off: its transport could not be built");
            None
        });
        let outbox = Arc::new(Outbox::new(
            stores.accounts.clone(),
            stores.recovery.clone(),
            mailer,
            config.clone(),
        ));
        let keys = Keys::new(
            config.secret.expose_secret(),
            config.accepted_secrets.iter().map(|s| s.expose_secret()),
            &config.tokens,
        );
        Self(Arc::new(Inner {
            sessions: Sessions::new(
                stores.sessions.clone(),
                stores.announcements.clone(),
                keys,
                config.tokens.clone(),
                config.liveness_ttl,
            ),
            accounts: Accounts::new(
                stores.accounts.clone(),
                stores.recovery.clone(),
                &config,
                shared_limits,
                outbox.clone(),
            ),
            outbox,
            listener_stop: std::sync::Mutex::new(None),
            sweeper: std::sync::Once::new(),
            warned_no_peer: AtomicBool::new(false),
            page_turns: Arc::new(tokio::sync::Semaphore::new(config.limits.page_concurrency)),
            stores,
            config,
        }))
    }

    /// The configuration the engine runs with.
    pub fn config(&self) -> &AuthConfig {
        &self.0.config
    }

    /// Waits for a turn to render a page (first come, first served); the turn ends when the
    /// permit is dropped.
    pub(crate) async fn page_turn(&self) -> tokio::sync::OwnedSemaphorePermit {
        self.0
            .page_turns
            .clone()
            .acquire_owned()
            .await
            .expect("the engine never closes its page turns")
    }

    /// The idempotency records (owner: `http/idempotency.rs`).
    pub(crate) fn idempotency_keys(&self) -> &dyn IdempotencyStore {
        &*self.0.stores.idempotency
    }

    pub(crate) fn sessions(&self) -> &Sessions {
        &self.0.sessions
    }

    /// Whether the database can take the writes signing in needs. PostgreSQL: it answers.
    /// SQLite: it grants the write lock for an instant (a reader always gets through, WAL), which
    /// fails after the busy timeout while another process holds it.
    pub async fn health(&self) -> Result<(), Error> {
        Ok(self.0.stores.root.health().await?)
    }

    /// Starts the periodic sweep on the current tokio runtime, once per engine.
    pub(crate) fn start_sweeping(&self, every: Duration) {
        if tokio::runtime::Handle::try_current().is_err() {
            return;
        }
        self.0.sweeper.call_once(|| {
            let auth = self.clone();
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(every);
                loop {
                    tick.tick().await;
                    if let Err(e) = auth.sweep().await {
                        tracing::warn!(error = %e, "session sweep failed");
                    }
                    auth.0.sessions.prune();
                    auth.0.accounts.prune();
                }
            });
        });
    }

    /// `true` the first time only: a request arrived without the client address.
    pub(crate) fn first_request_without_peer(&self) -> bool {
        !self
            .0
            .warned_no_peer
            .swap(true, std::sync::atomic::Ordering::Relaxed)
    }

    /// Deletes expired sessions, revoked ones after a day, spent tokens after a day (reuse of
    /// a token older than that is answered as unknown rather than revoking), old idempotency
    /// records and full rate-limit buckets.
    pub(crate) async fn sweep(&self) -> Result<(), sqlx::Error> {
        let now = db::now_ms();
        let day = 24 * 3600 * 1000;
        let stores = &self.0.stores;
        stores.sessions.sweep_sessions(now, now - day).await?;
        stores
            .idempotency
            .sweep_keys(now - IDEMPOTENCY_KEEP.as_millis() as i64)
            .await?;
        stores.accounts.sweep_buckets(now).await
    }

    // Sessions (docs/protocol.md): the rules are in `sessions/mod.rs`.

    /// Opens a session for `user` and issues its first pair.
    pub(crate) async fn start_session(
        &self,
        user: User,
        user_agent: Option<&str>,
    ) -> Result<TokenPair, sqlx::Error> {
        self.0.sessions.start_session(user, user_agent).await
    }

    /// Rotates a refresh token: one rotation per token per process, one spend per token overall,
    /// the same successor for a replay inside the grace window, the successor once more for a
    /// late replay whose answer was lost, family revocation for anything else. `path` says
    /// where the refresh was asked for (it is counted, nothing else).
    pub(crate) async fn refresh(
        &self,
        token: &str,
        path: RefreshPath,
    ) -> Result<TokenPair, RefreshFailure> {
        self.0.sessions.refresh(token, path).await
    }

    /// Signs out (every path: the JSON logout and the app's sign-out): revokes the session the
    /// refresh token belongs to, and the access token's session if that is another one.
    pub async fn sign_out(
        &self,
        refresh: Option<&str>,
        access_session: Option<&str>,
    ) -> Result<(), Error> {
        Ok(self.0.sessions.sign_out(refresh, access_session).await?)
    }

    /// Revokes one session of `user_id`; `false` when it is not theirs (or does not exist).
    pub async fn revoke_session(&self, user_id: &str, sid: &str) -> Result<bool, Error> {
        Ok(self.0.sessions.revoke_session(user_id, sid).await?)
    }

    /// Revokes every session of a user ("sign out everywhere"); returns how many were live.
    pub async fn revoke_all(&self, user_id: &str) -> Result<u64, Error> {
        Ok(self.0.sessions.revoke_all(user_id).await?)
    }

    /// How many live sessions the user has, counting at most `cap` (a page that shows the
    /// number need not read every row of an account with thousands).
    pub async fn count_sessions(&self, user_id: &str, cap: u32) -> Result<u64, Error> {
        Ok(self.0.sessions.count_sessions(user_id, cap).await?)
    }

    /// The user's live sessions, most recently used first.
    pub async fn list_sessions(&self, who: &Principal) -> Result<Vec<Device>, Error> {
        Ok(self.0.sessions.list_sessions(who).await?)
    }

    // Accounts (docs/limits.md): the rules are in `accounts/`.

    /// Creates an account and signs it in. `conflict` if the email is taken.
    pub async fn register(
        &self,
        email: Email,
        password: Password,
        who: ClientInfo<'_>,
    ) -> Result<TokenPair, Error> {
        let sessions = &self.0.sessions;
        self.0
            .accounts
            .register(sessions, email, password, who)
            .await
    }

    /// Signs in. `invalid_credentials` for an unknown email or a wrong password alike;
    /// `rate_limited` (with the seconds to wait) after repeated attempts from one address.
    pub async fn login(
        &self,
        email: Email,
        password: Password,
        who: ClientInfo<'_>,
    ) -> Result<TokenPair, Error> {
        self.0
            .accounts
            .login(&self.0.sessions, email, password, who)
            .await
    }

    // Account recovery (docs/protocol.md, "Account recovery"): the rules are in
    // `accounts/recovery.rs`.

    /// Whether messages leave at all (SMTP or the development outbox); without mail, pages say
    /// that reset by email is not available.
    pub fn mail_enabled(&self) -> bool {
        self.0.accounts.mail_enabled()
    }

    /// Forgot-password: queues a reset request for `email` and answers the same, after the same
    /// work, whether or not an account has it. `validation` for a malformed address,
    /// `rate_limited` past the limits, `unavailable` when mail is off.
    pub async fn forgot_password(&self, email: &str, who: ClientInfo<'_>) -> Result<(), Error> {
        self.0.accounts.forgot_password(email, who).await
    }

    /// Uses a reset link: sets the password, confirms the address, revokes every session of the
    /// account on every instance and opens a new one (its pair is returned). `invalid_link` for
    /// a link that is unknown, used, expired, superseded or malformed.
    pub async fn reset_password(
        &self,
        token: &str,
        password: Password,
        who: ClientInfo<'_>,
    ) -> Result<TokenPair, Error> {
        self.0
            .accounts
            .reset_password(&self.0.sessions, token, password, who)
            .await
    }

    /// Whether a reset link can still be used (the reset page asks, to offer a new one).
    pub async fn reset_link_usable(&self, token: &str) -> Result<bool, Error> {
        self.0.accounts.reset_link_usable(token).await
    }

    /// Changes the caller's password (checked against the current one): every other session is
    /// revoked on every instance; this one continues with a new access token (the returned pair
    /// has no refresh token: the session keeps its own).
    pub async fn change_password(
        &self,
        caller: &Principal,
        current: &str,
        new: Password,
        who: ClientInfo<'_>,
    ) -> Result<TokenPair, Error> {
        self.0
            .accounts
            .change_password(&self.0.sessions, caller, current, new, who)
            .await
    }

    /// Confirms the address a verification link belongs to (idempotent until the link expires).
    pub async fn verify_email(&self, token: &str) -> Result<User, Error> {
        self.0.accounts.verify_email(&self.0.sessions, token).await
    }

    /// Sends the caller a new verification link (nothing when the address is confirmed).
    pub async fn resend_verification(
        &self,
        caller: &Principal,
        who: ClientInfo<'_>,
    ) -> Result<(), Error> {
        self.0.accounts.resend_verification(caller, who).await
    }

    /// A new verification link for an account whose owner cannot sign in until the address is
    /// confirmed: the password proves it is theirs (checked and limited like a sign-in).
    pub async fn resend_unverified(
        &self,
        email: &str,
        password: &str,
        who: ClientInfo<'_>,
    ) -> Result<(), Error> {
        self.0
            .accounts
            .resend_unverified(email, password, who)
            .await
    }

    /// Delivers what is due in the outbox now (the worker does this by itself; tests and tools
    /// may call it to not wait for the next poll). How many messages it handled.
    pub async fn deliver_mail(&self) -> Result<usize, Error> {
        Ok(self.0.outbox.deliver_due().await?)
    }
}
