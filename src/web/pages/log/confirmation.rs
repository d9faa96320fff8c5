//! What the author sees after logging: what was logged, for whom, any suggestion it raised,
//! and until when it may be undone or edited. Shown on the list page after a plain form, and
//! sent as HTML to the page's script after it logs.

use chrono::{DateTime, Utc};
use maud::{html, Markup};

use super::{names, pupils_in_order, what_was_logged};
use crate::db::incidents::{self, AUTHOR_WINDOW};
use crate::db::models::{IncidentRow, SuggestionRow};
use crate::db::pupils::PupilView;
use crate::db::staff::StaffMember;
use crate::db::timeline::{self, EventDetail, EventKind, TimelineFilter};
use crate::db::{from_db_time, DbConnection};
use crate::domain::Move;
use crate::error::{Error, Result};
use crate::web::pages::form::local_clock;
use crate::web::pages::layout::csrf_field;

/// What the author sees after logging.
pub struct Confirmation {
    incident: IncidentRow,
    pupils: Vec<PupilView>,
    /// Open suggestions with this incident among their evidence, with their pupil.
    suggestions: Vec<(PupilView, SuggestionRow)>,
    /// The end of the author's window, while it is open and the incident stands.
    open_until: Option<DateTime<Utc>>,
}
/// The confirmation of an incident the member logged; `None` for anyone else's incident or
/// one of another school.
pub fn confirmation(
    conn: &mut DbConnection,
    member: &StaffMember,
    incident_id: i64,
    now: DateTime<Utc>,
) -> Result<Option<Confirmation>> {
    let (incident, pupil_ids) = match incidents::get(conn, member.school_id, incident_id) {
        Ok(found) => found,
        Err(Error::NotFound(_)) => return Ok(None),
        Err(other) => return Err(other),
    };
    if incident.reported_by != member.id {
        return Ok(None);
    }
    let pupils = pupils_in_order(conn, member.school_id, &pupil_ids)?;
    let mut suggestions = Vec::new();
    if incident.voided_at.is_none() {
        let filter = TimelineFilter {
            kinds: vec![EventKind::Suggestion],
            from: None,
            to: None,
            limit: 20,
            after: None,
        };
        for pupil in &pupils {
            for event in timeline::for_pupil(conn, member, pupil, &filter)? {
                if let EventDetail::Suggestion(row) = event.detail {
                    let evidence: Vec<i64> =
                        serde_json::from_str(&row.evidence).unwrap_or_default();
                    if row.status == "open" && evidence.contains(&incident.id) {
                        suggestions.push((pupil.clone(), row));
                    }
                }
            }
        }
    }
    let deadline = from_db_time(incident.created_at) + AUTHOR_WINDOW;
    let open_until = (incident.voided_at.is_none() && now < deadline).then_some(deadline);
    Ok(Some(Confirmation {
        incident,
        pupils,
        suggestions,
        open_until,
    }))
}

/// The sentence announcing a suggestion, e.g. "A Coaching Conversation is now suggested for Sam".
pub fn suggestion_sentence(row: &SuggestionRow, pupil: &PupilView) -> String {
    Move::between_numbers(row.from_level, row.to_level).suggested_for(&pupil.given_name)
}

/// The confirmation card; also sent as HTML to the page's script after it logs.
pub fn render_confirmation(shown: &Confirmation, csrf: &str) -> Markup {
    let incident = &shown.incident;
    let what = what_was_logged(&incident.response);
    html! {
        section.card.confirmation #confirmation-card data-incident=(incident.id) tabindex="-1" {
            @if incident.voided_at.is_some() {
                h2 { "Undone" }
                p { "The " (what) " for " strong { (names(&shown.pupils)) } " no longer counts." }
            } @else {
                h2 { "Logged" }
                p.logged-what {
                    strong { (what) } " for " strong { (names(&shown.pupils)) }
                    " at " (local_clock(from_db_time(incident.occurred_at)))
                }
                p.muted { (incident.behaviour) " · " (incident.severity) }
                @for (pupil, suggestion) in &shown.suggestions {
                    div.suggestion-note {
                        p { strong { (suggestion_sentence(suggestion, pupil)) "." } }
                        p.muted { (suggestion.reason) }
                    }
                }
                @if let Some(until) = shown.open_until {
                    div.actions {
                        form.inline method="post" action={ "/log/incidents/" (incident.id) "/undo" } {
                            (csrf_field(csrf))
                            button.undo type="submit" autofocus { "Undo" }
                        }
                        a.button href={ "/log/incidents/" (incident.id) "/edit" } { "Edit" }
                    }
                    p.muted.small { "You can undo or edit this until " (local_clock(until)) "." }
                }
                ul.links {
                    @for pupil in &shown.pupils {
                        li {
                            a href={ "/pupils/" (pupil.id) } { (pupil.given_name) "'s timeline" }
                            " · "
                            a href={ "/pupils/" (pupil.id) "/conversations/new?incident=" (incident.id) } {
                                "Record a Coaching Conversation"
                            }
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::web::pages::log::list::template_pupil;

    fn pupil() -> PupilView {
        PupilView {
            given_name: "Sam".into(),
            family_name: "Okafor".into(),
            ..template_pupil()
        }
    }

    fn suggestion(from: i16, to: i16) -> SuggestionRow {
        SuggestionRow {
            id: 1,
            school_id: 1,
            pupil_id: 0,
            from_level: from,
            to_level: to,
            rule: "r".into(),
            reason: "Three prompts in five school days.".into(),
            evidence: "[1,2,3]".into(),
            status: "open".into(),
            policy_version: 1,
            created_at: chrono::NaiveDateTime::default(),
            decided_by: None,
            decided_at: None,
            decision_note: None,
            snoozed_until: None,
        }
    }

    #[test]
    fn suggestions_are_announced_in_words() {
        assert_eq!(
            suggestion_sentence(&suggestion(1, 2), &pupil()),
            "A Coaching Conversation is now suggested for Sam"
        );
        assert_eq!(
            suggestion_sentence(&suggestion(2, 3), &pupil()),
            "Coaching Time is now suggested for Sam"
        );
        assert_eq!(
            suggestion_sentence(&suggestion(2, 1), &pupil()),
            "A step down to Coaching Prompt is now suggested for Sam"
        );
    }
}
