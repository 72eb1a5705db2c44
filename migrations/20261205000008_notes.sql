-- The notes app's own table. A note belongs to one of the engine's users, so the engine's
-- migrations run first (server/src/db.rs). Portable between SQLite and PostgreSQL.
--
-- IF NOT EXISTS: databases created before the engine prefixed its tables have this table from
-- the app's first migration (which also made the engine's tables, from before the engine had
-- migrations of its own); its foreign key followed `users` when the engine renamed it.

CREATE TABLE IF NOT EXISTS notes (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES sessionflow_users (id) ON DELETE CASCADE,
    title TEXT NOT NULL,
    body TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    idempotency_key TEXT,
    UNIQUE (user_id, idempotency_key)
);
CREATE INDEX IF NOT EXISTS notes_user_created ON notes (user_id, created_at);
