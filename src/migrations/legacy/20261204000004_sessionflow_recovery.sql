-- Accounts that can be recovered (docs/protocol.md, "Account recovery"): whether the address is
-- confirmed, one-time links, and the mail outbox. The new tables carry the engine's prefix, so
-- they never meet an app's own tables of the same name.

-- When the address was confirmed (a verification link, or a password reset); NULL until then.
ALTER TABLE users ADD COLUMN email_verified_at BIGINT;

-- One-time links, stored only as SHA-256 hex of the token. `purpose`: `reset` (single use:
-- `used_at`, void once a newer one is issued or the password changes) or `verify` (idempotent
-- until it expires).
CREATE TABLE sessionflow_account_tokens (
    hash TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    purpose TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT
);
CREATE INDEX sessionflow_account_tokens_user ON sessionflow_account_tokens (user_id, purpose);

-- Mail waiting to leave, written in the transaction that creates the token it carries and
-- delivered by a worker (docs/operations.md, "Mail"). `kind`: `message` (ready to send) or
-- `reset_request` (a forgot-password request, resolved by the worker into a message or into
-- nothing when no account has the address). A worker claims a row by moving `locked_until`
-- past now; `done_at` ends it (`outcome`: sent, failed, no_account) and the bodies, which hold
-- a link, are erased then.
CREATE TABLE sessionflow_outbox (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    recipient TEXT NOT NULL,
    subject TEXT NOT NULL,
    text_body TEXT NOT NULL,
    html_body TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    attempts BIGINT NOT NULL,
    next_attempt_at BIGINT NOT NULL,
    locked_until BIGINT NOT NULL,
    done_at BIGINT,
    outcome TEXT,
    last_error TEXT
);
CREATE INDEX sessionflow_outbox_due ON sessionflow_outbox (done_at, next_attempt_at);
