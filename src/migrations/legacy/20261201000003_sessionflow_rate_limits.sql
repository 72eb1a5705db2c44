-- Sign-in and registration buckets shared by every instance on one PostgreSQL database
-- (docs/limits.md). One row per bucket: `bucket` is a SHA-256 of its name (the client address,
-- and the account for per-account buckets, never stored in clear); `tat` is the GCRA's
-- theoretical arrival time in unix milliseconds. Rows whose `tat` has passed are full buckets
-- and are swept. SQLite deployments (one instance) keep their buckets in memory.
CREATE TABLE rate_limits (
    bucket TEXT PRIMARY KEY,
    tat BIGINT NOT NULL
);
