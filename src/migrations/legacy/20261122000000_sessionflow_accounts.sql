-- The engine's own schema: accounts, sessions (refresh families) and refresh tokens. Portable
-- between SQLite and PostgreSQL: TEXT ids and hashes, BIGINT unix-millisecond times.
--
-- IF NOT EXISTS: databases created before the engine had migrations of its own got these
-- tables from the app's first migration; there this changes nothing.

CREATE TABLE IF NOT EXISTS users (
    id TEXT PRIMARY KEY,
    email TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE IF NOT EXISTS sessions (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    last_used_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    user_agent TEXT,
    revoked_at BIGINT
);
CREATE INDEX IF NOT EXISTS sessions_user_id ON sessions (user_id);

-- Refresh tokens, stored only as SHA-256 hex of the token.
CREATE TABLE IF NOT EXISTS refresh_tokens (
    hash TEXT PRIMARY KEY,
    session_id TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    parent_hash TEXT,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    spent_at BIGINT
);
CREATE INDEX IF NOT EXISTS refresh_tokens_session_id ON refresh_tokens (session_id);
