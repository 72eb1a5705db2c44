//! Notes storage (server only): every query is scoped to its owner.

use crate::{
    model::Note,
    time::{now_ms, rfc3339},
};
use sessionflow::{server::Error, ApiError};
use sqlx::{AnyPool, Row};

fn note(r: &sqlx::any::AnyRow) -> Result<Note, sqlx::Error> {
    Ok(Note {
        id: r.try_get("id")?,
        title: r.try_get("title")?,
        body: r.try_get("body")?,
        created_at: rfc3339(r.try_get("created_at")?),
        updated_at: rfc3339(r.try_get("updated_at")?),
    })
}

/// The user's notes, newest first.
pub async fn list(db: &AnyPool, user_id: &str) -> Result<Vec<Note>, Error> {
    let rows = sqlx::query(
        "SELECT id, title, body, created_at, updated_at FROM notes \
         WHERE user_id = $1 ORDER BY created_at DESC, id DESC",
    )
    .bind(user_id)
    .fetch_all(db)
    .await?;
    Ok(rows.iter().map(note).collect::<Result<_, _>>()?)
}

/// Creates a note. With an idempotency key, the same key again returns the first note and
/// creates nothing (`(user_id, idempotency_key)` is unique in the database).
pub async fn create(
    db: &AnyPool,
    user_id: &str,
    title: &str,
    body: &str,
    key: Option<&str>,
) -> Result<Note, Error> {
    crate::model::validate_note(title, body)?;
    let key = key
        .map(str::trim)
        .filter(|k| !k.is_empty() && k.len() <= 255);
    let now = now_ms();
    let id = uuid::Uuid::new_v4().to_string();
    let inserted = sqlx::query(
        "INSERT INTO notes (id, user_id, title, body, created_at, updated_at, idempotency_key) \
         VALUES ($1, $2, $3, $4, $5, $5, $6) ON CONFLICT (user_id, idempotency_key) DO NOTHING",
    )
    .bind(&id)
    .bind(user_id)
    .bind(title.trim())
    .bind(body)
    .bind(now)
    .bind(key)
    .execute(db)
    .await?;
    let row = if inserted.rows_affected() == 1 {
        sqlx::query("SELECT id, title, body, created_at, updated_at FROM notes WHERE id = $1")
            .bind(&id)
            .fetch_one(db)
            .await
    } else {
        sqlx::query(
            "SELECT id, title, body, created_at, updated_at FROM notes \
             WHERE user_id = $1 AND idempotency_key = $2",
        )
        .bind(user_id)
        .bind(key)
        .fetch_one(db)
        .await
    }?;
    Ok(note(&row)?)
}

/// Updates a note of the user; `not_found` otherwise. Re-sending the same update is harmless.
pub async fn update(
    db: &AnyPool,
    user_id: &str,
    id: &str,
    title: &str,
    body: &str,
) -> Result<(), Error> {
    crate::model::validate_note(title, body)?;
    let done = sqlx::query(
        "UPDATE notes SET title = $1, body = $2, updated_at = $3 WHERE id = $4 AND user_id = $5",
    )
    .bind(title.trim())
    .bind(body)
    .bind(now_ms())
    .bind(id)
    .bind(user_id)
    .execute(db)
    .await?;
    if done.rows_affected() == 0 {
        return Err(ApiError::not_found().into());
    }
    Ok(())
}

/// Deletes a note of the user. Deleting a note that is already gone succeeds (a re-sent delete
/// must not fail), so this never reveals whether another user's note exists.
pub async fn delete(db: &AnyPool, user_id: &str, id: &str) -> Result<(), Error> {
    sqlx::query("DELETE FROM notes WHERE id = $1 AND user_id = $2")
        .bind(id)
        .bind(user_id)
        .execute(db)
        .await?;
    Ok(())
}
