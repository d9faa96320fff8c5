//! The block review on the Coaching Programme page: its form, and recording it with its
//! decision (step down when the goals are met, the next block, or a Bespoke Provision Map).

use actix_web::web;
use chrono::Utc;
use maud::{html, Markup};

use super::blocks::ProgrammePage;
use super::day;
use crate::db::evaluation;
use crate::db::programmes::{self, BlockView, ReviewInput};
use crate::domain::level::ProgrammeBlock;
use crate::domain::programme::{ReviewDecision, MAX_NOTE_CHARS};
use crate::error::Error;
use crate::web::auth::CsrfForm;
use crate::web::pages::form::{field_problem, parse_local_time, Fields, Problem};
use crate::web::pages::form_page::{PageResult, Visit};
use crate::web::pages::layout::{csrf_field, fidelity_summary};

/// Fields of the block review form.
pub(super) const REVIEW_FIELDS: [&str; 4] = ["held_at", "decision", "summary", "reason"];

/// The form to review the running block, with what was typed and its problem.
pub(super) fn review_form(
    view: &BlockView,
    values: &Fields,
    problem: Option<&Problem>,
    csrf: &str,
) -> Markup {
    let block = &view.block;
    let last = view.programme_block().is_ok_and(ProgrammeBlock::is_last);
    let review_day = view.final_session().map(|s| s.on_date);
    html! {
        section.card #review {
            h2 { "Review the " (block.weeks) "-week block" }
            p {
                "Fidelity so far: " (fidelity_summary(view.fidelity.fidelity))
                @if let Some(on) = review_day { br; span.muted { "The review falls on the final session's day, " (day(on)) "." } }
            }
            ul.hint {
                li { "Moving on (to the next block or to a Bespoke Provision Map) when fewer than 80% of the planned sessions were delivered needs a reason: was the support actually given?" }
                li { "A Bespoke Provision Map before the 6-week block has been reviewed is an SLT or SENDCO decision, and needs a reason." }
                @if last { li { "The 6-week block is the last: after it, the goals are met or a Bespoke Provision Map follows." } }
            }
            form.stack method="post" action={ "/programme/blocks/" (block.id) "/review" } {
                (csrf_field(csrf))
                label for="held_at" { "When the review was held (London time)" }
                input #held_at type="datetime-local" name="held_at" value=(values.raw("held_at"));
                p.hint { "Left blank, it is now." }
                (field_problem(problem, "held_at"))
                fieldset {
                    legend { "What the review decided" }
                    @for decision in ReviewDecision::ALL {
                        @let unavailable = last && decision == ReviewDecision::NextBlock;
                        label.choice {
                            input type="radio" name="decision" value=(decision.as_str())
                                checked[values.raw("decision") == decision.as_str()] disabled[unavailable];
                            " " (decision.title())
                            @if unavailable { span.muted { " (not after the 6-week block)" } }
                        }
                    }
                    (field_problem(problem, "decision"))
                }
                label for="summary" { "Summary of the review" }
                textarea #summary name="summary" rows="3" maxlength="500" required { (values.raw("summary")) }
                (field_problem(problem, "summary"))
                label for="reason" { "Reason (needed to move on with fidelity under 80%, or for an early provision map)" }
                textarea #reason name="reason" rows="3" maxlength=(MAX_NOTE_CHARS) { (values.raw("reason")) }
                (field_problem(problem, "reason"))
                button.primary type="submit" { "Record the review" }
            }
        }
    }
}

/// A block review as typed: when it was held, checked here; the decision, summary and
/// reason are checked by the domain.
struct ReviewForm {
    held_at: chrono::DateTime<Utc>,
    typed: Fields,
}

fn read_review(fields: &Fields) -> std::result::Result<ReviewForm, Problem> {
    let held_at = parse_local_time("held_at", fields.get("held_at"))?;
    if fields.get("decision").is_none() {
        return Err(Problem::at("decision", "choose what the review decided"));
    }
    if fields.get("summary").is_none() {
        return Err(Problem::at(
            "summary",
            "write a short summary of the review",
        ));
    }
    Ok(ReviewForm {
        held_at: held_at.unwrap_or_else(Utc::now),
        typed: fields.clone(),
    })
}

/// `POST /programme/blocks/{id}/review`: records the block review and carries out its
/// decision: step down when the goals are met, the next block, or a Bespoke Provision Map.
pub async fn review_block(
    visit: Visit,
    path: web::Path<String>,
    form: CsrfForm<Fields>,
) -> PageResult {
    let block_id: i64 = path
        .parse()
        .map_err(|_| Error::NotFound("programme block"))?;
    let school_id = visit.member.school_id;
    let pupil_id = visit
        .state
        .db
        .transaction(move |conn| programmes::pupil_of_block(conn, school_id, block_id))
        .await?;
    let review = read_review(&form.0);
    visit
        .submit::<ProgrammePage, _, _>(
            pupil_id,
            form.0,
            review,
            move |conn, by, context, review| {
                let rules = evaluation::load_rules(conn, by.school_id)?;
                let input = ReviewInput {
                    decision: review.typed.raw("decision"),
                    reason: review.typed.get("reason"),
                    summary: review.typed.raw("summary"),
                    held_at: review.held_at,
                };
                let result = programmes::review_block(
                    conn,
                    by,
                    context,
                    block_id,
                    &input,
                    &rules,
                    Utc::now(),
                )?;
                Ok(format!(
                    "/pupils/{}/programme?done={}",
                    result.block.pupil_id,
                    result.decision.as_str()
                ))
            },
        )
        .await
}
