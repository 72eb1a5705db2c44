//! `GET/POST /api/notes` for API clients (the pages use server functions instead).

use axum::{
    extract::State,
    http::{HeaderMap, StatusCode},
    Json,
};
use sessionflow::{
    server::{
        extract::{ApiJson, CurrentUser},
        Error,
    },
    ApiError,
};
use sqlx::AnyPool;

/// A note to create.
#[derive(serde::Deserialize, utoipa::ToSchema)]
pub struct NewNote {
    #[schema(min_length = 1, max_length = 200, example = "Remember the milk")]
    title: String,
    #[serde(default)]
    #[schema(max_length = 20000)]
    body: String,
}

#[utoipa::path(get, path = "/api/notes", tag = "notes",
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "The caller's notes, newest first", body = Vec<app::model::Note>),
        (status = 401, description = "`missing_token`, `token_expired` or `invalid_token`", body = ApiError),
        (status = 503, description = "Database unavailable", body = ApiError),
    ))]
pub async fn list(
    State(db): State<AnyPool>,
    CurrentUser(who): CurrentUser,
) -> Result<Json<Vec<app::model::Note>>, Error> {
    Ok(Json(app::notes::list(&db, &who.user.id).await?))
}

/// 201 with the note. The same `Idempotency-Key` again answers exactly as the first call did
/// (201, the same note) and creates nothing.
#[utoipa::path(post, path = "/api/notes", tag = "notes", request_body = NewNote,
    security(("bearer" = []), ("cookie" = [])),
    params(("Idempotency-Key" = Option<String>, Header, min_length = 1, max_length = 255, pattern = "^[!-~]+$",
        description = "1 to 255 visible ASCII characters; the same key again answers the first call's answer")),
    responses(
        (status = 201, description = "Created (or the replay of the first call with this key)", body = app::model::Note),
        (status = 400, description = "Malformed body, invalid note or key (`validation`)", body = ApiError),
        (status = 401, description = "`missing_token`, `token_expired` or `invalid_token`", body = ApiError),
        (status = 403, description = "Cross-site request (`csrf`)", body = ApiError),
        (status = 409, description = "The first call with this key is still running (`conflict`)", body = ApiError),
        (status = 413, description = "Body too large", body = ApiError),
        (status = 415, description = "Not a JSON body", body = ApiError),
        (status = 422, description = "The key was used with another body (`validation`)", body = ApiError),
        (status = 503, description = "Database unavailable", body = ApiError),
    ))]
pub async fn create(
    State(db): State<AnyPool>,
    CurrentUser(who): CurrentUser,
    headers: HeaderMap,
    ApiJson(new): ApiJson<NewNote>,
) -> Result<(StatusCode, Json<app::model::Note>), Error> {
    let key = headers.get("idempotency-key").and_then(|v| v.to_str().ok());
    let note = app::notes::create(&db, &who.user.id, &new.title, &new.body, key).await?;
    Ok((StatusCode::CREATED, Json(note)))
}
