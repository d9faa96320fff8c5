//! Suggestions in the API: the `SUGGESTION` shape.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::db::from_db_time;
use crate::db::models::SuggestionRow;

/// A move suggested by a rule (the `SUGGESTION` shape of the API).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SuggestionJson {
    pub id: i64,
    pub pupil_id: i64,
    /// Level 0-6 when the suggestion was made.
    pub from_level: i16,
    /// The suggested level; below `from_level` for a step down.
    pub to_level: i16,
    /// Why, in plain words.
    pub reason: String,
    /// The incidents behind the suggestion.
    pub evidence: Vec<i64>,
    /// open, accepted, declined or withdrawn.
    pub status: String,
    pub created_at: DateTime<Utc>,
}

impl From<SuggestionRow> for SuggestionJson {
    fn from(row: SuggestionRow) -> Self {
        SuggestionJson {
            id: row.id,
            pupil_id: row.pupil_id,
            from_level: row.from_level,
            to_level: row.to_level,
            reason: row.reason,
            evidence: serde_json::from_str(&row.evidence).unwrap_or_default(),
            status: row.status,
            created_at: from_db_time(row.created_at),
        }
    }
}
