//! The statements both backends run alike, written once. `store_impl!` expands to a backend's
//! whole `impl Store`: these methods, compiled against its native pool (`self.pool`), plus the
//! ones the backend writes its own way. Portable means: `$n` placeholders, `TEXT` ids and hashes,
//! `BIGINT` unix-millisecond timestamps, `CASE` rather than `GREATEST`/`MAX`.
//!
//! Each store also has `writer()`: on SQLite the turn of its one writer (queueing writers in
//! the process is far cheaper than SQLite's sleeping busy handler), on PostgreSQL nothing.

macro_rules! store_impl {
    ($store:ty, { $($own:tt)* }) => {
        #[async_trait::async_trait]
        impl $crate::server::store::Store for $store {
            $($own)*

            async fn find_account(
                &self,
                email: &str,
            ) -> Result<Option<(User, String)>, sqlx::Error> {
                let row = sqlx::query(
                    "SELECT id, email, email_verified_at, password_hash FROM sessionflow_users WHERE email = $1",
                )
                    .bind(email)
                    .fetch_optional(&self.pool)
                    .await?;
                row.map(|r| Ok((user_of(&r)?, r.try_get("password_hash")?)))
                .transpose()
            }

            async fn create_account(
                &self,
                account: NewAccount<'_>,
                session: &NewSession,
            ) -> Result<(), sqlx::Error> {
                let _turn = self.writer().await;
                let mut tx = self.pool.begin().await?;
                sqlx::query(
                    "INSERT INTO sessionflow_users (id, email, password_hash, created_at) \
                     VALUES ($1, $2, $3, $4)",
                )
                .bind(&account.user.id)
                .bind(&account.user.email)
                .bind(account.password_hash)
                .bind(account.now)
                .execute(&mut *tx)
                .await?;
                insert_session(&mut tx, session).await?;
                tx.commit().await
            }

            async fn create_session(&self, session: &NewSession) -> Result<(), sqlx::Error> {
                let _turn = self.writer().await;
                let mut tx = self.pool.begin().await?;
                insert_session(&mut tx, session).await?;
                tx.commit().await
            }

            async fn replay(&self, hash: &str) -> Result<Option<Replay>, sqlx::Error> {
                let row = sqlx::query(
                    "SELECT t.session_id, t.spent_at, s.user_id, s.revoked_at \
                     FROM sessionflow_refresh_tokens t JOIN sessionflow_sessions s ON s.id = t.session_id \
                     WHERE t.hash = $1",
                )
                .bind(hash)
                .fetch_optional(&self.pool)
                .await?;
                row.map(|r| {
                    Ok(Replay {
                        session_id: r.try_get("session_id")?,
                        user_id: r.try_get("user_id")?,
                        spent_at: r.try_get("spent_at")?,
                        session_revoked: r.try_get::<Option<i64>, _>("revoked_at")?.is_some(),
                    })
                })
                .transpose()
            }

            async fn token_in_session(
                &self,
                hash: &str,
                sid: &str,
            ) -> Result<Option<TokenState>, sqlx::Error> {
                let row = sqlx::query(
                    "SELECT spent_at, expires_at FROM sessionflow_refresh_tokens \
                     WHERE hash = $1 AND session_id = $2",
                )
                .bind(hash)
                .bind(sid)
                .fetch_optional(&self.pool)
                .await?;
                row.map(|r| {
                    Ok(TokenState { spent_at: r.try_get("spent_at")?, expires_at: r.try_get("expires_at")? })
                })
                .transpose()
            }

            async fn mark_lost_answer(
                &self,
                parent_hash: &str,
                child_hash: &str,
                sid: &str,
                now: i64,
            ) -> Result<bool, sqlx::Error> {
                let _turn = self.writer().await;
                let marked = sqlx::query(
                    "UPDATE sessionflow_refresh_tokens SET replayed_at = $1 \
                     WHERE hash = $2 AND replayed_at IS NULL AND EXISTS ( \
                       SELECT 1 FROM sessionflow_refresh_tokens c WHERE c.hash = $3 AND c.session_id = $4 \
                       AND c.spent_at IS NULL AND c.expires_at > $1)",
                )
                .bind(now)
                .bind(parent_hash)
                .bind(child_hash)
                .bind(sid)
                .execute(&self.pool)
                .await?;
                Ok(marked.rows_affected() == 1)
            }

            async fn live_session(
                &self,
                sid: &str,
                now: i64,
            ) -> Result<Option<(User, i64)>, sqlx::Error> {
                let row = sqlx::query(
                    "SELECT u.id, u.email, u.email_verified_at, s.expires_at FROM sessionflow_sessions s \
                     JOIN sessionflow_users u ON u.id = s.user_id \
                     WHERE s.id = $1 AND s.revoked_at IS NULL AND s.expires_at > $2",
                )
                .bind(sid)
                .bind(now)
                .fetch_optional(&self.pool)
                .await?;
                row.map(|r| Ok((user_of(&r)?, r.try_get("expires_at")?)))
                .transpose()
            }

            async fn session_live(
                &self,
                sid: &str,
                unspent: Option<&str>,
                now: i64,
            ) -> Result<bool, sqlx::Error> {
                let row = match unspent {
                    None => sqlx::query(
                        "SELECT 1 AS live FROM sessionflow_sessions \
                         WHERE id = $1 AND revoked_at IS NULL AND expires_at > $2",
                    )
                    .bind(sid)
                    .bind(now)
                    .fetch_optional(&self.pool)
                    .await?,
                    Some(hash) => sqlx::query(
                        "SELECT 1 AS live FROM sessionflow_sessions s \
                         JOIN sessionflow_refresh_tokens t ON t.session_id = s.id \
                         WHERE s.id = $1 AND s.revoked_at IS NULL AND s.expires_at > $2 \
                         AND t.hash = $3 AND t.spent_at IS NULL",
                    )
                    .bind(sid)
                    .bind(now)
                    .bind(hash)
                    .fetch_optional(&self.pool)
                    .await?,
                };
                Ok(row.is_some())
            }

            async fn session_of_token(&self, hash: &str) -> Result<Option<String>, sqlx::Error> {
                sqlx::query("SELECT session_id FROM sessionflow_refresh_tokens WHERE hash = $1")
                    .bind(hash)
                    .fetch_optional(&self.pool)
                    .await?
                    .map(|r| r.try_get("session_id"))
                    .transpose()
            }

            async fn revoke_session(
                &self,
                sid: &str,
                user_id: Option<&str>,
                now: i64,
            ) -> Result<bool, sqlx::Error> {
                let done = sqlx::query(
                    "UPDATE sessionflow_sessions SET revoked_at = $1 \
                     WHERE id = $2 AND ($3 IS NULL OR user_id = $3) AND revoked_at IS NULL",
                )
                .bind(now)
                .bind(sid)
                .bind(user_id)
                .execute(&self.pool)
                .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn revoke_user(&self, user_id: &str, now: i64) -> Result<u64, sqlx::Error> {
                let done = sqlx::query(
                    "UPDATE sessionflow_sessions SET revoked_at = $1 WHERE user_id = $2 AND revoked_at IS NULL",
                )
                .bind(now)
                .bind(user_id)
                .execute(&self.pool)
                .await?;
                Ok(done.rows_affected())
            }

            async fn count_sessions(
                &self,
                user_id: &str,
                now: i64,
                cap: u32,
            ) -> Result<u64, sqlx::Error> {
                let row = sqlx::query(
                    "SELECT COUNT(*) AS n FROM (SELECT 1 FROM sessionflow_sessions \
                     WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > $2 LIMIT $3) AS live",
                )
                .bind(user_id)
                .bind(now)
                .bind(i64::from(cap))
                .fetch_one(&self.pool)
                .await?;
                Ok(row.try_get::<i64, _>("n")?.max(0) as u64)
            }

            async fn list_sessions(
                &self,
                user_id: &str,
                now: i64,
            ) -> Result<Vec<StoredSession>, sqlx::Error> {
                let rows = sqlx::query(
                    "SELECT id, created_at, last_used_at, user_agent FROM sessionflow_sessions \
                     WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > $2 \
                     ORDER BY last_used_at DESC, created_at DESC",
                )
                .bind(user_id)
                .bind(now)
                .fetch_all(&self.pool)
                .await?;
                rows.into_iter()
                    .map(|r| {
                        Ok(StoredSession {
                            id: r.try_get("id")?,
                            created_at: r.try_get("created_at")?,
                            last_used_at: r.try_get("last_used_at")?,
                            user_agent: r.try_get("user_agent")?,
                        })
                    })
                    .collect()
            }

            async fn sweep(&self, cut: Sweep) -> Result<(), sqlx::Error> {
                sqlx::query("DELETE FROM sessionflow_sessions WHERE expires_at < $1 OR revoked_at < $2")
                    .bind(cut.now)
                    .bind(cut.spent_before)
                    .execute(&self.pool)
                    .await?;
                sqlx::query("DELETE FROM sessionflow_refresh_tokens WHERE expires_at < $1 OR spent_at < $2")
                    .bind(cut.now)
                    .bind(cut.spent_before)
                    .execute(&self.pool)
                    .await?;
                sqlx::query("DELETE FROM sessionflow_idempotency_keys WHERE created_at < $1")
                    .bind(cut.idempotency_before)
                    .execute(&self.pool)
                    .await?;
                // Buckets that are full again: nothing to remember.
                sqlx::query("DELETE FROM sessionflow_rate_limits WHERE tat < $1")
                    .bind(cut.now)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn claim_key(
                &self,
                user_id: &str,
                key: &str,
                fingerprint: &str,
                now: i64,
            ) -> Result<bool, sqlx::Error> {
                let inserted = sqlx::query(
                    "INSERT INTO sessionflow_idempotency_keys (user_id, key, fingerprint, created_at) \
                     VALUES ($1, $2, $3, $4) ON CONFLICT (user_id, key) DO NOTHING",
                )
                .bind(user_id)
                .bind(key)
                .bind(fingerprint)
                .bind(now)
                .execute(&self.pool)
                .await?;
                Ok(inserted.rows_affected() == 1)
            }

            async fn read_key(
                &self,
                user_id: &str,
                key: &str,
            ) -> Result<Option<IdempotencyRecord>, sqlx::Error> {
                let row = sqlx::query(
                    "SELECT fingerprint, status, headers, body, created_at FROM sessionflow_idempotency_keys \
                     WHERE user_id = $1 AND key = $2",
                )
                .bind(user_id)
                .bind(key)
                .fetch_optional(&self.pool)
                .await?;
                row.map(|r| {
                    Ok(IdempotencyRecord {
                        fingerprint: r.try_get("fingerprint")?,
                        status: r.try_get("status")?,
                        headers: r.try_get("headers")?,
                        body: r.try_get("body")?,
                        created_at: r.try_get("created_at")?,
                    })
                })
                .transpose()
            }

            async fn finish_key(
                &self,
                user_id: &str,
                key: &str,
                status: i32,
                headers: &str,
                body: &str,
            ) -> Result<(), sqlx::Error> {
                sqlx::query(
                    "UPDATE sessionflow_idempotency_keys SET status = $1, headers = $2, body = $3 \
                     WHERE user_id = $4 AND key = $5",
                )
                .bind(status)
                .bind(headers)
                .bind(body)
                .bind(user_id)
                .bind(key)
                .execute(&self.pool)
                .await
                .map(drop)
            }

            async fn release_key(&self, user_id: &str, key: &str) -> Result<(), sqlx::Error> {
                sqlx::query("DELETE FROM sessionflow_idempotency_keys WHERE user_id = $1 AND key = $2")
                    .bind(user_id)
                    .bind(key)
                    .execute(&self.pool)
                    .await
                    .map(drop)
            }

            async fn take_bucket(
                &self,
                bucket: &str,
                now: i64,
                t: i64,
                burst: i64,
            ) -> Result<Option<i64>, sqlx::Error> {
                // One conditional upsert: taken when `RETURNING` answers.
                let taken = sqlx::query(
                    "INSERT INTO sessionflow_rate_limits (bucket, tat) VALUES ($1, $2 + $3) \
                     ON CONFLICT (bucket) DO UPDATE SET tat = \
                       (CASE WHEN sessionflow_rate_limits.tat > $2 THEN sessionflow_rate_limits.tat ELSE $2 END) + $3 \
                     WHERE (CASE WHEN sessionflow_rate_limits.tat > $2 THEN sessionflow_rate_limits.tat ELSE $2 END) \
                       + $3 - $2 <= $4 \
                     RETURNING tat",
                )
                .bind(bucket)
                .bind(now)
                .bind(t)
                .bind(burst)
                .fetch_optional(&self.pool)
                .await?;
                if taken.is_some() {
                    return Ok(None);
                }
                let tat = sqlx::query("SELECT tat FROM sessionflow_rate_limits WHERE bucket = $1")
                    .bind(bucket)
                    .fetch_optional(&self.pool)
                    .await?
                    .map(|r| r.try_get::<i64, _>("tat"))
                    .transpose()?;
                Ok(Some(tat.unwrap_or(now)))
            }
        }
    };
}

/// Inserts a session and its first refresh token inside a transaction (generic over the
/// backend's connection type, for the two callers in `store_impl!`).
macro_rules! insert_session_fn {
    ($db:ty) => {
        async fn insert_session(
            conn: &mut <$db as sqlx::Database>::Connection,
            s: &NewSession,
        ) -> Result<(), sqlx::Error> {
            sqlx::query(
                "INSERT INTO sessionflow_sessions (id, user_id, created_at, last_used_at, expires_at, user_agent) \
                 VALUES ($1, $2, $3, $3, $4, $5)",
            )
            .bind(&s.id)
            .bind(&s.user_id)
            .bind(s.now)
            .bind(s.expires_at)
            .bind(&s.user_agent)
            .execute(&mut *conn)
            .await?;
            sqlx::query(
                "INSERT INTO sessionflow_refresh_tokens (hash, session_id, created_at, expires_at) \
                 VALUES ($1, $2, $3, $4)",
            )
            .bind(&s.refresh_hash)
            .bind(&s.id)
            .bind(s.now)
            .bind(s.expires_at)
            .execute(&mut *conn)
            .await
            .map(drop)
        }
    };
}
