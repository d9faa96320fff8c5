//! The logging pages, for class staff on a phone between two sentences of a lesson: find the
//! pupil (the forms they tutor first, the pupils they logged for lately next, or a search),
//! log a Coaching Prompt with one tap, or an incident with its details; then a clear
//! confirmation, with undo and edit for the author within the author's window.
//!
//! Every form works without JavaScript. `static/log.js` adds results as you type, adding a
//! pupil to the incident form in place, and a queue on the device: it sends the same forms
//! with `Accept: application/json`, and the logging routes then answer JSON instead of
//! redirecting ([`finish_logging`], the one place that answers either way). Each submission
//! carries an idempotency key, so a double tap, a resubmitted form or a replay from the queue
//! never logs twice. `static/sw.js` keeps the list page for opening with no network.
//!
//! - `list.rs`: the list of pupils (`/log`) and the as-you-type search;
//! - `prompt.rs`: the one-tap Coaching Prompt;
//! - `details.rs`: the incident form (`/log/new`);
//! - `confirmation.rs`: what the author sees after logging;
//! - `edit.rs`: undo and edit within the author's window.

mod confirmation;
mod details;
mod edit;
mod list;
mod prompt;

pub use confirmation::{confirmation, render_confirmation, suggestion_sentence, Confirmation};
pub use details::{details_form, details_submit};
pub use edit::{edit_form, edit_submit, undo};
pub use list::{pupils_json, show, LogQuery, PupilChoice};
pub use prompt::{prompt, prompt_form, PromptForm, QUICK_PROMPT_BEHAVIOUR};

use actix_web::HttpResponse;
use chrono::{DateTime, Utc};
use maud::{html, Markup};
use serde::Serialize;

use super::form::{json_error, see_other, Form};
use super::form_page::{PageResult, Visit};
use crate::db::idempotency::{self, IdempotencyKey};
use crate::db::logging::Caller;
use crate::db::pupils::{self, PupilSearch, PupilView};
use crate::db::DbConnection;
use crate::domain::details::DetailError;
use crate::domain::incident::NewIncident;
use crate::error::{Error, Result};
use crate::web::api::incidents::{log_once, IncidentCreated};
use crate::web::auth::csrf_token;
use crate::web::error::PageError;

/// Most pupils a search on a page lists.
const SEARCH_LIMIT: i64 = 30;

fn detail_error(error: DetailError) -> Error {
    Error::invalid(error.field, error.message)
}

/// The pupils of the school with these ids, in the order given (others left out).
fn pupils_in_order(conn: &mut DbConnection, school_id: i64, ids: &[i64]) -> Result<Vec<PupilView>> {
    let found = pupils::by_ids(conn, school_id, ids)?;
    Ok(ids.iter().filter_map(|id| found.get(id).cloned()).collect())
}

/// The school's pupils on roll matching a name or UPN, the name typed first; none for blank
/// text.
fn find_pupils(
    conn: &mut DbConnection,
    school_id: i64,
    text: &str,
    limit: i64,
) -> Result<Vec<PupilView>> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(Vec::new());
    }
    let search = PupilSearch {
        text: Some(text.to_string()),
        year: None,
        form: None,
        limit,
        include_left: false,
    };
    pupils::search(conn, school_id, &search)
}

/// "Coaching Prompt", "Coaching Conversation" or "incident": what a response is called.
fn what_was_logged(response: &str) -> &'static str {
    match response {
        "prompt" => "Coaching Prompt",
        "conversation" => "Coaching Conversation",
        _ => "incident",
    }
}

/// Where, in which lesson, and a note: the optional fields of an incident, on the incident
/// form and the author's correction form alike.
fn place_and_note(form: &Form) -> Markup {
    let values = &form.values;
    html! {
        label for="location" { "Where (optional)" }
        input #location type="text" name="location" maxlength="100" value=(values.raw("location")) placeholder="Room, corridor, field…";
        (form.problem_at("location"))
        label for="lesson" { "Lesson or subject (optional)" }
        input #lesson type="text" name="lesson" maxlength="100" value=(values.raw("lesson"));
        (form.problem_at("lesson"))
        label for="note" { "A short note (optional)" }
        textarea #note name="note" rows="3" maxlength="1000" { (values.raw("note")) }
        (form.problem_at("note"))
    }
}

fn names(pupils: &[PupilView]) -> String {
    pupils
        .iter()
        .map(PupilView::full_name)
        .collect::<Vec<_>>()
        .join(", ")
}

// ---------------------------------------------------------------------------------------
// Logging, for the one-tap prompt and the incident form alike

/// The JSON answer to the page's script after logging.
#[derive(Debug, Serialize)]
pub struct Logged {
    pub id: i64,
    /// The confirmation card, rendered (and escaped) here so the script need not.
    pub confirmation_html: String,
}

/// A fingerprint of what was submitted, to tell a true repeat from a key used again for
/// something else. A one-tap prompt's time is left out: a replay from the device's queue
/// says how long ago the tap was, which changes between tries.
fn fingerprint(new: &NewIncident, explicit_time: Option<DateTime<Utc>>) -> String {
    let canonical = serde_json::json!({
        "page": "log",
        "pupil_ids": new.pupil_ids,
        "behaviour": new.behaviour,
        "severity": new.severity.as_str(),
        "response": new.response.as_str(),
        "occurred_at": explicit_time.map(|t| t.to_rfc3339()),
        "location": new.location,
        "lesson": new.lesson,
        "note": new.note,
    });
    idempotency::request_hash(canonical.to_string().as_bytes())
}

/// A logging form as read: its key, the incident, and the time given (none for "now").
type ReadIncident = (IdempotencyKey, NewIncident, Option<DateTime<Utc>>);

/// Logs a form as read through `log_once` with the form's key; answers the incident's id.
async fn log(visit: &Visit, read: Result<ReadIncident>) -> Result<i64> {
    let (key, new, explicit_time) = read?;
    let hash = fingerprint(&new, explicit_time);
    let member = &visit.member;
    let caller = Caller::Member {
        school_id: member.school_id,
        staff_id: member.id,
    };
    let answer = log_once(&visit.state.db, caller, Some(key), hash.clone(), new).await?;
    if answer.request_hash != hash {
        return Err(Error::unprocessable(
            "this form was already sent with other details: reload the page and log again",
        ));
    }
    let created: IncidentCreated = serde_json::from_str(&answer.body)
        .map_err(|e| Error::Internal(format!("a stored answer could not be read: {e}")))?;
    Ok(created.id)
}

/// Answers a logging form: JSON for the page's script (the confirmation, or the refusal),
/// a redirect to the confirmation for a plain form. A plain form's refusal is the caller's
/// to show.
async fn finish_logging(visit: &Visit, json: bool, outcome: Result<i64>) -> PageResult {
    match outcome {
        Ok(id) if json => {
            let for_member = visit.member.clone();
            let shown = visit
                .state
                .db
                .transaction(move |conn| confirmation(conn, &for_member, id, Utc::now()))
                .await;
            let shown = match shown {
                Ok(shown) => shown,
                Err(error) => return Ok(json_error(&error)),
            };
            let csrf = csrf_token(&visit.session);
            let confirmation_html = shown
                .map(|c| render_confirmation(&c, &csrf).into_string())
                .unwrap_or_default();
            Ok(HttpResponse::Created().json(Logged {
                id,
                confirmation_html,
            }))
        }
        Ok(id) => Ok(see_other(&format!("/log?logged={id}"))),
        Err(error) if json => Ok(json_error(&error)),
        Err(error) => Err(PageError(error)),
    }
}

#[cfg(test)]
mod tests {
    use super::prompt::parse_prompt;
    use super::*;
    use chrono::TimeDelta;

    #[test]
    fn the_fingerprint_ignores_a_prompts_time_but_not_a_chosen_one() {
        let now = Utc::now();
        let key = "0123456789abcdef";
        let prompt = |age: &str| {
            parse_prompt(
                &PromptForm {
                    idempotency_key: key.into(),
                    pupil_id: "7".into(),
                    age_seconds: age.into(),
                },
                now,
            )
            .unwrap()
            .1
        };
        assert_eq!(
            fingerprint(&prompt("1"), None),
            fingerprint(&prompt("9"), None)
        );
        let at = now - TimeDelta::minutes(3);
        assert_ne!(
            fingerprint(&prompt("1"), Some(at)),
            fingerprint(&prompt("1"), None)
        );
    }
}
