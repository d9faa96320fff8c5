//! Changing a pupil's level by hand from the pupil page: step up (to the suggested level,
//! accepting the suggestion, when one waits), step down or close with a reason, and for SLT
//! and the SENDCO an override to any level.

use actix_web::web;
use maud::{html, Markup};

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
use crate::web::pages::form::{see_other, Fields, Form, Problem};
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

/// The name on the page of the form that steps up, steps down or closes.
const MOVE_FORM: &str = "level";
/// The name on the page of the SLT or SENDCO override form.
const OVERRIDE_FORM: &str = "override";

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

pub(super) fn render_level_forms(
    pupil: &PupilView,
    open: &[SuggestionRow],
    member: &StaffMember,
    form: &Form,
    csrf: &str,
) -> Markup {
    let choices = level_choices(member, pupil, open);
    let up_is_suggested = choices.up.is_some() && choices.up == suggested_up(pupil, open);
    let nothing = choices.up.is_none()
        && choices.down.is_none()
        && !choices.close
        && choices.override_to.is_empty();
    let action = format!("/pupils/{}/level", pupil.id);
    let refused = form
        .problem()
        .filter(|p| !p.is_about("reason"))
        .map(|p| format!("Nothing was changed: {}.", p.message));
    let override_to = form.value_in(OVERRIDE_FORM, "to", "");
    html! {
        @if !nothing {
            section.card.change-level #level {
                h2 { "Change level" }
                @if let Some(refused) = refused {
                    p.error #level-refused role="alert" { (refused) }
                }
                @if choices.up.is_some() || choices.down.is_some() || choices.close {
                    form.stack method="post" action=(action) {
                        (csrf_field(csrf))
                        label for="level-reason" { "Why? (required)" }
                        textarea #level-reason name="reason" rows="2" required maxlength=(MAX_REASON_CHARS)
                            aria-describedby={ "error-" (MOVE_FORM) "-reason" } {
                            (form.value_in(MOVE_FORM, "reason", ""))
                        }
                        (form.problem_in(MOVE_FORM, "reason"))
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
                    details.override open[form.is_sent(OVERRIDE_FORM)] {
                        summary { "Override the sequence (SLT or SENDCO)" }
                        form.stack method="post" action=(action) {
                            (csrf_field(csrf))
                            input type="hidden" name="override" value="1";
                            label for="override-to" { "Move to" }
                            select #override-to name="to" {
                                @for level in &choices.override_to {
                                    option value=(level.number())
                                        selected[override_to == level.number().to_string()] {
                                        (level.number()) " · " (level.title())
                                    }
                                }
                            }
                            label for="override-reason" { "Why? (required)" }
                            textarea #override-reason name="reason" rows="2" required maxlength=(MAX_REASON_CHARS)
                                aria-describedby={ "error-" (OVERRIDE_FORM) "-reason" } {
                                (form.value_in(OVERRIDE_FORM, "reason", ""))
                            }
                            (form.problem_in(OVERRIDE_FORM, "reason"))
                            p.hint { "An override moves the pupil outside the usual order; it is recorded as your decision." }
                            button type="submit" { "Override" }
                        }
                    }
                }
            }
        }
    }
}

/// `POST /pupils/{id}/level`: moves the pupil by hand, with a reason: `to` is the level
/// (0-6); with `override=1`, an SLT or SENDCO override. A move the sequence does not allow
/// shows the page again with why (422), and nothing is changed.
pub async fn change_level(
    visit: Visit,
    path: web::Path<String>,
    CsrfForm(typed): CsrfForm<Fields>,
) -> PageResult {
    let pupil_id: i64 = path.parse().map_err(|_| Error::NotFound("pupil"))?;
    let override_gates = typed.get("override").is_some();
    let to = typed
        .get("to")
        .and_then(|n| n.parse::<i64>().ok())
        .and_then(|n| Level::from_number(n).ok());
    let outcome = match to {
        Some(to) => {
            let (by, reason) = (visit.member.clone(), typed.raw("reason").to_string());
            let context = NoticeContext::from_settings(&visit.state.settings);
            visit
                .state
                .db
                .write(move |conn| {
                    let rules = evaluation::load_rules(conn, by.school_id)?;
                    let now = chrono::Utc::now();
                    let suggested = if override_gates {
                        None
                    } else {
                        decisions::open_suggestion_to(conn, by.school_id, pupil_id, to)?
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
                                override_gates,
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
        Err(error) => error,
    };
    let (status, problem) = Problem::of_refusal(error)?;
    let sent = if override_gates {
        OVERRIDE_FORM
    } else {
        MOVE_FORM
    };
    let form = Form::again(typed, problem).sent_as(Some(sent.to_string()));
    let filters = read_filters(pupil_id, &Fields::default());
    let (filter, page) = (filters.filter.clone(), filters.page.clone());
    let for_member = visit.member.clone();
    let data = visit
        .state
        .db
        .transaction(move |conn| gather(conn, &for_member, pupil_id, (&filter, &page), None))
        .await?;
    Ok(pupil_response(
        &visit, status, &data, &filters, false, &form,
    ))
}
