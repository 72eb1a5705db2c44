//! `GET/POST /api/notes` for API clients (the pages use server functions instead).

use axum::{
    extract::State,
    http::{HeaderMap, StatusCode},
    Json,
};
use sessionflow::{
    server::{api::ApiJson, request::CurrentUser, Auth},
    ApiError,
};

#[derive(serde::Deserialize)]
pub struct NewNote {
    title: String,
    #[serde(default)]
    body: String,
}

pub async fn list(
    State(auth): State<Auth>,
    CurrentUser(who): CurrentUser,
) -> Result<Json<Vec<app::model::Note>>, ApiError> {
    Ok(Json(app::notes::list(auth.db(), &who.user.id).await?))
}

/// 201 with the note. The same `Idempotency-Key` again answers exactly as the first call did
/// (201, the same note) and creates nothing.
pub async fn create(
    State(auth): State<Auth>,
    CurrentUser(who): CurrentUser,
    headers: HeaderMap,
    ApiJson(new): ApiJson<NewNote>,
) -> Result<(StatusCode, Json<app::model::Note>), ApiError> {
    let key = headers.get("idempotency-key").and_then(|v| v.to_str().ok());
    let note = app::notes::create(auth.db(), &who.user.id, &new.title, &new.body, key).await?;
    Ok((StatusCode::CREATED, Json(note)))
}
