-- The engine's schema. Every table and index carries the `sessionflow_` prefix, so an app may
-- have its own `users` or `sessions`. Portable between SQLite and PostgreSQL: TEXT ids and
-- hashes, BIGINT unix-millisecond times.
--
-- IF NOT EXISTS: a database created before the prefix already has these tables, brought here by
-- the migrations in `legacy/` (the last of which renames them); there this changes nothing. A new
-- database gets only this, and never an unprefixed table.

-- An account. `email_verified_at`: when the address was confirmed (a verification link, or a
-- password reset); NULL until then.
CREATE TABLE IF NOT EXISTS sessionflow_users (
    id TEXT PRIMARY KEY,
    email TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    email_verified_at BIGINT
);

-- One row per sign-in: the refresh-token family.
CREATE TABLE IF NOT EXISTS sessionflow_sessions (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES sessionflow_users (id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    last_used_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    user_agent TEXT,
    revoked_at BIGINT
);
CREATE INDEX IF NOT EXISTS sessionflow_sessions_user_id ON sessionflow_sessions (user_id);

-- Refresh tokens, stored only as SHA-256 hex of the token. Successors are derived (an HMAC of
-- the parent), never looked up by parent. `replayed_at`: a spent token replayed after the grace
-- window whose successor was never used gets that successor once (docs/protocol.md); this
-- records the once.
CREATE TABLE IF NOT EXISTS sessionflow_refresh_tokens (
    hash TEXT PRIMARY KEY,
    session_id TEXT NOT NULL REFERENCES sessionflow_sessions (id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    spent_at BIGINT,
    replayed_at BIGINT
);
CREATE INDEX IF NOT EXISTS sessionflow_refresh_tokens_session_id
    ON sessionflow_refresh_tokens (session_id);

-- Idempotency-Key records: one per (user, key), kept at least 24 hours. `status` is NULL while
-- the first request runs.
CREATE TABLE IF NOT EXISTS sessionflow_idempotency_keys (
    user_id TEXT NOT NULL REFERENCES sessionflow_users (id) ON DELETE CASCADE,
    key TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    status INTEGER,
    headers TEXT,
    body TEXT,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, key)
);
CREATE INDEX IF NOT EXISTS sessionflow_idempotency_keys_created
    ON sessionflow_idempotency_keys (created_at);

-- Sign-in and registration buckets shared by every instance on one PostgreSQL database
-- (docs/limits.md). One row per bucket: `bucket` is a SHA-256 of its name (the client address,
-- and the account for per-account buckets, never stored in clear); `tat` is the GCRA's
-- theoretical arrival time in unix milliseconds. Rows whose `tat` has passed are full buckets
-- and are swept. SQLite deployments (one instance) keep their buckets in memory.
CREATE TABLE IF NOT EXISTS sessionflow_rate_limits (
    bucket TEXT PRIMARY KEY,
    tat BIGINT NOT NULL
);

-- One-time links, stored only as SHA-256 hex of the token. `purpose`: `reset` (single use:
-- `used_at`, void once a newer one is issued or the password changes) or `verify` (idempotent
-- until it expires).
CREATE TABLE IF NOT EXISTS sessionflow_account_tokens (
    hash TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES sessionflow_users (id) ON DELETE CASCADE,
    purpose TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT
);
CREATE INDEX IF NOT EXISTS sessionflow_account_tokens_user
    ON sessionflow_account_tokens (user_id, purpose);

-- Mail waiting to leave, written in the transaction that creates the token it carries and
-- delivered by a worker (docs/operations.md, "Mail"). `kind`: `message` (ready to send) or
-- `reset_request` (a forgot-password request, resolved by the worker into a message or into
-- nothing when no account has the address). A worker claims a row by moving `locked_until`
-- past now; `done_at` ends it (`outcome`: sent, failed, no_account) and the bodies, which hold
-- a link, are erased then.
CREATE TABLE IF NOT EXISTS sessionflow_outbox (
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
CREATE INDEX IF NOT EXISTS sessionflow_outbox_due ON sessionflow_outbox (done_at, next_attempt_at);
