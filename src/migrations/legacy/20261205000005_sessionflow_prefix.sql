-- Databases created before the prefix: every table and index of the engine gets the
-- `sessionflow_` prefix, in place. The rows, and the foreign keys that point at the tables (the
-- app's included), stay as they are. Constraint names on PostgreSQL follow in
-- `postgres/20261205000006_*`; the current schema is `../20261205000007_*`.

ALTER TABLE users RENAME TO sessionflow_users;
ALTER TABLE sessions RENAME TO sessionflow_sessions;
ALTER TABLE refresh_tokens RENAME TO sessionflow_refresh_tokens;
ALTER TABLE idempotency_keys RENAME TO sessionflow_idempotency_keys;
ALTER TABLE rate_limits RENAME TO sessionflow_rate_limits;

-- SQLite cannot rename an index: each is made again under its new name.
DROP INDEX sessions_user_id;
CREATE INDEX sessionflow_sessions_user_id ON sessionflow_sessions (user_id);
DROP INDEX refresh_tokens_session_id;
CREATE INDEX sessionflow_refresh_tokens_session_id ON sessionflow_refresh_tokens (session_id);
DROP INDEX idempotency_keys_created;
CREATE INDEX sessionflow_idempotency_keys_created ON sessionflow_idempotency_keys (created_at);
