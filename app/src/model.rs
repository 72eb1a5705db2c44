//! Records the pages show.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Note {
    pub id: String,
    pub title: String,
    pub body: String,
    pub created_at: String,
    pub updated_at: String,
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

/// `2026-11-22T07:34:42.582Z` → `2026-11-22 07:34 UTC`, for people (the JSON API keeps RFC 3339).
pub fn when(rfc3339: &str) -> String {
    match (rfc3339.get(..10), rfc3339.get(11..16)) {
        (Some(day), Some(time)) => format!("{day} {time} UTC"),
        _ => rfc3339.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_read_as_day_and_minute() {
        assert_eq!(when("2026-11-22T07:34:42.582Z"), "2026-11-22 07:34 UTC");
        assert_eq!(when("garbage"), "garbage");
    }

    #[test]
    fn notes_need_a_title_of_at_most_200_characters() {
        assert_eq!(
            validate_note("  ", "").unwrap_err().field.as_deref(),
            Some("title")
        );
        assert!(validate_note(&"t".repeat(201), "").is_err());
        assert!(validate_note("ok", &"b".repeat(20_000)).is_ok());
        assert!(validate_note("ok", &"b".repeat(20_001)).is_err());
    }
}
