//! Records the pages show.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Note {
    pub id: String,
    pub title: String,
    pub body: String,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Device {
    pub id: String,
    pub created_at: String,
    pub last_used_at: String,
    pub user_agent: Option<String>,
    pub current: bool,
}

/// A title of 1–200 and a body of at most 20 000 characters.
pub fn validate_note(title: &str, body: &str) -> Result<(), sessionflow::ApiError> {
    let title = title.trim();
    if title.is_empty() {
        return Err(sessionflow::ApiError::validation(
            "title",
            "Give the note a title.",
        ));
    }
    if title.chars().count() > 200 {
        return Err(sessionflow::ApiError::validation(
            "title",
            "Keep the title under 200 characters.",
        ));
    }
    if body.chars().count() > 20_000 {
        return Err(sessionflow::ApiError::validation(
            "body",
            "Keep the note under 20 000 characters.",
        ));
    }
    Ok(())
}
