-- A spent refresh token replayed after the grace window whose successor was never used gets
-- that successor once (CONTRACT §5); this records the once.
ALTER TABLE refresh_tokens ADD COLUMN replayed_at BIGINT;

-- Idempotency-Key records (CONTRACT §6): one per (user, key), kept at least 24 hours. `status`
-- is NULL while the first request runs.
CREATE TABLE idempotency_keys (
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    key TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    status INTEGER,
    headers TEXT,
    body TEXT,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, key)
);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);

-- Successors are derived (HMAC of the parent), never looked up by parent: the column was unused.
ALTER TABLE refresh_tokens DROP COLUMN parent_hash;
