//! Changing a pupil's level by hand from the pupil page: step up (to the suggested level,
//! accepting the suggestion, when one waits), step down or close with a reason, and for SLT
//! and the SENDCO an override to any level.

use actix_web::http::StatusCode;
use actix_web::web;
use maud::{html, Markup};
use serde::Deserialize;

use super::page::{gather, pupil_response, read_filters};
use crate::db::decisions::{self, ManualMove, MAX_REASON_CHARS};
use crate::db::evaluation;
use crate::db::inbox::Outcome;
use crate::db::models::SuggestionRow;
use crate::db::notices::NoticeContext;
use crate::db::pupils::PupilView;
use crate::db::staff::StaffMember;
use crate::domain::words::level_of;
use crate::domain::{Level, Move, Role};
use crate::error::Error;
use crate::web::auth::CsrfForm;
use crate::web::error::PageError;
use crate::web::pages::form::{see_other, Fields};
use crate::web::pages::form_page::{PageResult, Visit};
use crate::web::pages::inbox::{meeting_sentence, move_sentence};
use crate::web::pages::layout::csrf_field;

// ---------------------------------------------------------------------------------------
// Changing the level by hand

/// The level an open suggestion would step the pupil up to from where they are now: the
/// level the step-up button then names (and pressing it accepts the suggestion).
fn suggested_up(pupil: &PupilView, open: &[SuggestionRow]) -> Option<Level> {
    open.iter()
        .map(|row| (level_of(row.from_level), level_of(row.to_level)))
        .find(|(from, to)| *from == pupil.level && *to > pupil.level)
        .map(|(_, to)| to)
}

/// The moves `member` may offer for a pupil at their current level.
struct LevelChoices {
    up: Option<Level>,
    down: Option<Level>,
    close: bool,
    /// Levels an SLT or SENDCO override may move the pupil to.
    override_to: Vec<Level>,
}

fn level_choices(member: &StaffMember, pupil: &PupilView, open: &[SuggestionRow]) -> LevelChoices {
    let (place, at) = (pupil.place(), pupil.level);
    let may = |to: Level| decisions::may_decide(member, place, at, to);
    LevelChoices {
        up: suggested_up(pupil, open)
            .or_else(|| at.next())
            .filter(|to| may(*to)),
        down: at.previous().filter(|to| *to != Level::None && may(*to)),
        close: at != Level::None && may(Level::None),
        override_to: if member.has_any_role(&[Role::Slt, Role::Sendco]) {
            Level::ALL
                .into_iter()
                .filter(|to| *to != at && may(*to))
                .collect()
        } else {
            Vec::new()
        },
    }
}

/// Which of the two level forms was sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum LevelFormKind {
    /// Step up, step down or close.
    #[default]
    Move,
    /// An SLT or SENDCO override.
    Override,
}

/// The level forms after a refused move: the problem, and what was typed.
#[derive(Debug, Clone, Default)]
pub(super) struct LevelForm {
    kind: LevelFormKind,
    /// The field at fault when it is the reason, else `None` (shown above the forms).
    reason_problem: Option<String>,
    /// Why the move was refused, when it is not the reason's fault.
    refused: Option<String>,
    reason: String,
    to: Option<Level>,
}

pub(super) fn moved_sentences(outcome: &Outcome) -> Vec<String> {
    let mut said = Vec::new();
    if let Some(change) = &outcome.change {
        said.push(move_sentence(&outcome.pupil.full_name(), change));
    }
    if let Some(meeting) = &outcome.meeting {
        said.push(meeting_sentence(meeting));
    }
    said
}

fn reason_problem(message: Option<&str>, id: &str) -> Markup {
    html! {
        p.field-error id={ "error-" (id) } role="alert" hidden[message.is_none()] {
            @if let Some(message) = message { (message) }
        }
    }
}

pub(super) fn render_level_forms(
    pupil: &PupilView,
    open: &[SuggestionRow],
    member: &StaffMember,
    form: &LevelForm,
    csrf: &str,
) -> Markup {
    let choices = level_choices(member, pupil, open);
    let up_is_suggested = choices.up.is_some() && choices.up == suggested_up(pupil, open);
    let nothing = choices.up.is_none()
        && choices.down.is_none()
        && !choices.close
        && choices.override_to.is_empty();
    let action = format!("/pupils/{}/level", pupil.id);
    let for_kind = |kind: LevelFormKind| (form.kind == kind).then_some(form);
    let moving = for_kind(LevelFormKind::Move);
    let overriding = for_kind(LevelFormKind::Override);
    html! {
        @if !nothing {
            section.card.change-level #level {
                h2 { "Change level" }
                @if let Some(refused) = &form.refused {
                    p.error #level-refused role="alert" { (refused) }
                }
                @if choices.up.is_some() || choices.down.is_some() || choices.close {
                    form.stack method="post" action=(action) {
                        (csrf_field(csrf))
                        label for="level-reason" { "Why? (required)" }
                        textarea #level-reason name="reason" rows="2" required maxlength=(MAX_REASON_CHARS)
                            aria-describedby="error-level-reason" {
                            (moving.map(|f| f.reason.as_str()).unwrap_or_default())
                        }
                        (reason_problem(moving.and_then(|f| f.reason_problem.as_deref()), "level-reason"))
                        @if up_is_suggested {
                            p.hint { "Stepping up accepts the suggestion waiting for a decision." }
                        }
                        div.actions {
                            @if let Some(up) = choices.up {
                                button type="submit" name="to" value=(up.number()) { (Move::between(pupil.level, up).action()) }
                            }
                            @if let Some(down) = choices.down {
                                button type="submit" name="to" value=(down.number()) { (Move::between(pupil.level, down).action()) }
                            }
                            @if choices.close {
                                button type="submit" name="to" value=(Level::None.number()) { "Close support" }
                            }
                        }
                    }
                }
                @if !choices.override_to.is_empty() {
                    details.override open[overriding.is_some()] {
                        summary { "Override the sequence (SLT or SENDCO)" }
                        form.stack method="post" action=(action) {
                            (csrf_field(csrf))
                            input type="hidden" name="override" value="1";
                            label for="override-to" { "Move to" }
                            select #override-to name="to" {
                                @for level in &choices.override_to {
                                    option value=(level.number())
                                        selected[overriding.and_then(|f| f.to) == Some(*level)] {
                                        (level.number()) " · " (level.title())
                                    }
                                }
                            }
                            label for="override-reason" { "Why? (required)" }
                            textarea #override-reason name="reason" rows="2" required maxlength=(MAX_REASON_CHARS)
                                aria-describedby="error-override-reason" {
                                (overriding.map(|f| f.reason.as_str()).unwrap_or_default())
                            }
                            (reason_problem(overriding.and_then(|f| f.reason_problem.as_deref()), "override-reason"))
                            p.hint { "An override moves the pupil outside the usual order; it is recorded as your decision." }
                            button type="submit" { "Override" }
                        }
                    }
                }
            }
        }
    }
}

/// The fields of the level forms.
#[derive(Debug, Deserialize)]
pub struct LevelFields {
    #[serde(default)]
    to: String,
    #[serde(default)]
    reason: String,
    /// Present ("1") on the override form.
    #[serde(default, rename = "override")]
    override_gates: String,
}

/// `POST /pupils/{id}/level`: moves the pupil by hand, with a reason: `to` is the level
/// (0-6); with `override=1`, an SLT or SENDCO override. A move the sequence does not allow
/// shows the page again with why (422), and nothing is changed.
pub async fn change_level(
    visit: Visit,
    path: web::Path<String>,
    CsrfForm(fields): CsrfForm<LevelFields>,
) -> PageResult {
    let pupil_id: i64 = path.parse().map_err(|_| Error::NotFound("pupil"))?;
    let kind = if fields.override_gates.trim().is_empty() {
        LevelFormKind::Move
    } else {
        LevelFormKind::Override
    };
    let to = fields
        .to
        .trim()
        .parse::<i64>()
        .ok()
        .and_then(|n| Level::from_number(n).ok());
    let outcome = match to {
        Some(to) => {
            let (by, reason) = (visit.member.clone(), fields.reason.clone());
            let context = NoticeContext::from_settings(&visit.state.settings);
            visit
                .state
                .db
                .write(move |conn| {
                    let rules = evaluation::load_rules(conn, by.school_id)?;
                    let now = chrono::Utc::now();
                    let suggested = match kind {
                        LevelFormKind::Move => {
                            decisions::open_suggestion_to(conn, by.school_id, pupil_id, to)?
                        }
                        LevelFormKind::Override => None,
                    };
                    let decision = match suggested {
                        Some(id) => {
                            let note = decisions::checked_reason("reason", &reason)?;
                            decisions::accept(conn, &by, id, Some(&note), &rules, &context, now)?
                        }
                        None => {
                            let request = ManualMove {
                                pupil_id,
                                to,
                                reason: &reason,
                                override_gates: kind == LevelFormKind::Override,
                            };
                            decisions::move_pupil(conn, &by, &request, &rules, &context, now)?
                        }
                    };
                    Ok((
                        decision.level_change.map(|c| c.id),
                        decision.meeting.map(|m| m.id),
                    ))
                })
                .await
        }
        None => Err(Error::invalid("to", "choose the level to move to")),
    };
    let error = match outcome {
        Ok((change, meeting)) => {
            let mut to = format!("/pupils/{pupil_id}");
            if let Some(change) = change {
                to.push_str(&format!("?moved={change}"));
                if let Some(meeting) = meeting {
                    to.push_str(&format!("&meeting={meeting}"));
                }
            }
            to.push_str("#level");
            return Ok(see_other(&to));
        }
        Err(error @ (Error::Invalid { .. } | Error::Conflict { .. })) => error,
        Err(other) => return Err(PageError(other)),
    };
    let status = StatusCode::from_u16(error.status()).unwrap_or(StatusCode::BAD_REQUEST);
    let about_reason = error.field() == Some("reason");
    let form = LevelForm {
        kind,
        reason_problem: about_reason.then(|| error.to_string()),
        refused: (!about_reason).then(|| format!("Nothing was changed: {error}.")),
        reason: fields.reason,
        to,
    };
    let filters = read_filters(&Fields::default());
    let filter = filters.filter.clone();
    let for_member = visit.member.clone();
    let data = visit
        .state
        .db
        .transaction(move |conn| gather(conn, &for_member, pupil_id, &filter, None))
        .await?;
    Ok(pupil_response(
        &visit, status, &data, &filters, false, &form,
    ))
}
