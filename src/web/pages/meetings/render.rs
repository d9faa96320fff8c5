//! One meeting's page, in steps: book it (when, where, who), then record it (held or missed).
//! Only the step the meeting is at is shown as a form; the steps already done are summarised
//! above it. A booked meeting can be moved (its booking step shown again on asking) or
//! cancelled at any step.

use chrono::Utc;
use maud::{html, Markup};

use super::people::{guest_fieldsets, staff_picker};
use super::{due_text, level_of, meeting_name, MeetingPage, RECORD_PARTS};
use crate::db::from_db_time;
use crate::db::meetings;
use crate::db::models::MeetingRow;
use crate::domain::calendar::SchoolCalendar;
use crate::domain::meeting::MeetingStep;
use crate::domain::words::MeetingStatus;
use crate::domain::Level;
use crate::web::pages::form::{local, problem_summary, Form};
use crate::web::pages::layout::{csrf_field, level_chip};

/// Every field of the page's forms, for the summary of a problem with none of them.
const FIELDS: [&str; 21] = [
    "starts_at",
    "duration_minutes",
    "location",
    "participant_ids",
    "guests",
    "parent_name",
    "parent_email",
    "external_name",
    "external_email",
    "social_worker_name",
    "social_worker_email",
    "reason",
    "held_at",
    "summary",
    "follow_up",
    "successes",
    "challenges",
    "focus",
    "action_steps",
    "next_step",
    "missed",
];

/// The step shown as a form: the meeting's own, or booking again when a booked meeting is
/// being moved (asked for with `?step=book`, or its booking refused).
fn step_shown(data: &MeetingPage, form: &Form) -> Option<MeetingStep> {
    let step = MeetingStep::of(MeetingStatus::parse(&data.view.meeting.status).ok()?)?;
    let moving = form.values.raw("step") == "book" || form.is_sent("book");
    Some(if moving { MeetingStep::Book } else { step })
}

pub fn render(data: &MeetingPage, form: &Form, notice: Option<&str>, csrf: &str) -> Markup {
    let view = &data.view;
    let meeting = &view.meeting;
    let today = SchoolCalendar::local_date(Utc::now());
    let step = step_shown(data, form);
    html! {
        h1 { (meeting_name(view)) }
        p {
            a href={ "/pupils/" (view.pupil.id) } { (view.pupil.given_name) " " (view.pupil.family_name) }
            " · Year " (view.year) " · " (level_chip(level_of(meeting.level)))
        }
        @if let Some(notice) = notice { p.notice role="status" { (notice) } }
        @if let Some(step) = step { (progress(step)) }
        dl.facts #summary {
            dt { "Status" } dd { @let state = view.state(today); span class=(state.tag_class()) { (state.word()) } }
            dt { "Due by" } dd { (due_text(meeting.due_on)) }
            (booking_facts(data, csrf))
            @if let Some(reason) = &meeting.cancel_reason { dt { "Cancelled because" } dd { (reason) } }
            @if let Some(summary) = &meeting.summary { dt { "Summary" } dd { (summary) } }
        }
        @if meeting.status == "held" {
            @for (field, label, _) in RECORD_PARTS {
                @if let Some(text) = record_part(meeting, field) {
                    h3 { (label) } p.prewrap { (text) }
                }
            }
        }
        (problem_summary(form.problem(), &FIELDS))
        @match step {
            Some(MeetingStep::Book) => (book_step(data, form, csrf)),
            Some(MeetingStep::Record) => (record_step(data, form, csrf)),
            None => {},
        }
        @if step.is_some() { (cancel_part(meeting.id, form, csrf)) }
        p { a href="/meetings" { "All meetings" } }
    }
}

/// The two steps, the one shown marked as current.
fn progress(step: MeetingStep) -> Markup {
    html! {
        ol.steps aria-label="Steps" {
            @for (this, label) in [(MeetingStep::Book, "Book it: when, where, who"), (MeetingStep::Record, "Record it: held or missed")] {
                li aria-current=[(this == step).then_some("step")] { (label) }
            }
        }
    }
}

/// The booking, once made: when, where, who.
fn booking_facts(data: &MeetingPage, csrf: &str) -> Markup {
    let meeting = &data.view.meeting;
    let name_of = |id: &i64| {
        data.staff
            .iter()
            .find(|s| s.id == *id)
            .map_or_else(|| format!("staff {id}"), |s| s.name.clone())
    };
    html! {
        @if let Some(starts) = meeting.starts_at {
            dt { "When" } dd { (local(from_db_time(starts))) @if let Some(minutes) = meeting.duration_minutes { " for " (minutes) " minutes" } }
        }
        @if let Some(place) = &meeting.location { dt { "Where" } dd { (place) } }
        @if !data.participants.is_empty() {
            dt { "Staff invited" }
            dd { @for (i, id) in data.participants.iter().enumerate() { @if i > 0 { ", " } (name_of(id)) } }
        }
        @if !data.guests.is_empty() { (super::guests::guest_list(data, csrf)) }
    }
}

/// Step 1: when, where and who.
fn book_step(data: &MeetingPage, form: &Form, csrf: &str) -> Markup {
    let meeting = &data.view.meeting;
    let values = &form.values;
    let moving = meeting.status == "scheduled";
    html! {
        h2 { @if moving { "Move the meeting" } @else { "Book the meeting" } }
        form.stack #book method="post" action={ "/meetings/" (meeting.id) "/schedule" } {
            (csrf_field(csrf))
            label for="starts_at" { "When (London time)" }
            input #starts_at type="datetime-local" name="starts_at" required value=(values.raw("starts_at"));
            (form.problem_at("starts_at"))
            label for="duration_minutes" { "Length in minutes" }
            input #duration_minutes type="number" name="duration_minutes" min="5" max=(meetings::MAX_DURATION_MINUTES) required value=(values.raw("duration_minutes"));
            (form.problem_at("duration_minutes"))
            label for="location" { "Where" }
            input #location type="text" name="location" maxlength="200" required value=(values.raw("location"));
            (form.problem_at("location"))
            (staff_picker(data, form))
            (guest_fieldsets(data, form))
            button.primary type="submit" {
                @if moving { "Move it and send updates" } @else { "Book it and send invitations" }
            }
        }
        @if moving { p { a href={ "/meetings/" (meeting.id) } { "Keep the booking as it is" } } }
    }
}

/// Step 2: what happened. Held (in the six parts, or on the programme page for a block
/// review), or missed, confirmed.
fn record_step(data: &MeetingPage, form: &Form, csrf: &str) -> Markup {
    let view = &data.view;
    let meeting = &view.meeting;
    let values = &form.values;
    html! {
        p { a href={ "/meetings/" (meeting.id) "?step=book" } { "Move the meeting or change who is invited" } }
        @if meeting.level == Level::Plan.number() {
            h2 { "The Coaching Plan" }
            p { "Agree the plan with the pupil and their parent or carer in this meeting: "
                a href={ "/pupils/" (view.pupil.id) "/plan?meeting=" (meeting.id) } { "write the Coaching Plan" } "." }
        }
        @if data.block_to_review.is_some() {
            h2 { "Record the block review" }
            p { "The review is recorded on the "
                a href={ "/pupils/" (view.pupil.id) "/programme" } { "programme page" }
                ", with the block's fidelity and the decision: goals met, the next block, or a Bespoke Provision Map." }
        } @else {
            h2 { "Record the meeting" }
            form.stack #held method="post" action={ "/meetings/" (meeting.id) "/outcome" } {
                (csrf_field(csrf))
                label for="held_at" { "When it was held (London time)" }
                input #held_at type="datetime-local" name="held_at" required value=(values.raw("held_at"));
                (form.problem_at("held_at"))
                label for="summary" { "Summary" }
                textarea #summary name="summary" rows="2" maxlength="500" required { (values.raw("summary")) }
                (form.problem_at("summary"))
                fieldset {
                    legend { "Were the goals under review met?" }
                    @for (value, label) in [("yes", "Yes"), ("no", "No"), ("", "No goals were reviewed")] {
                        label.choice {
                            input type="radio" name="goals_met" value=(value) checked[values.raw("goals_met") == value];
                            " " (label)
                        }
                    }
                }
                @for (field, label, hint) in RECORD_PARTS {
                    label for=(field) { (label) " (optional)" }
                    p.hint { (hint) }
                    textarea id=(field) name=(field) rows="3" maxlength="4000" { (values.raw(field)) }
                    (form.problem_at(field))
                }
                button.primary type="submit" { "Save the record" }
            }
        }
        details.review-form #missed-part open[form.is_sent("missed")] {
            summary { "It did not happen" }
            form.stack method="post" action={ "/meetings/" (meeting.id) "/missed" } {
                (csrf_field(csrf))
                p.hint { "A new meeting becomes due in its place, and the Head of Year is told." }
                label.choice {
                    input #missed type="checkbox" name="missed" value="confirmed" required;
                    " Yes, this meeting did not happen"
                }
                (form.problem_at("missed"))
                button type="submit" { "Record as missed" }
            }
        }
    }
}

/// Cancelling, at any step, folded away until wanted.
fn cancel_part(meeting_id: i64, form: &Form, csrf: &str) -> Markup {
    html! {
        details.review-form #cancel-part open[form.is_sent("cancel")] {
            summary { "Cancel the meeting" }
            form.stack method="post" action={ "/meetings/" (meeting_id) "/cancel" } {
                (csrf_field(csrf))
                label for="reason" { "Why is it cancelled?" }
                input #reason type="text" name="reason" maxlength="500" value=(form.values.raw("reason"));
                (form.problem_at("reason"))
                button type="submit" { "Cancel the meeting" }
            }
        }
    }
}

fn record_part<'a>(meeting: &'a MeetingRow, field: &str) -> Option<&'a str> {
    match field {
        "follow_up" => meeting.follow_up.as_deref(),
        "successes" => meeting.successes.as_deref(),
        "challenges" => meeting.challenges.as_deref(),
        "focus" => meeting.focus.as_deref(),
        "action_steps" => meeting.action_steps.as_deref(),
        "next_step" => meeting.next_step.as_deref(),
        _ => None,
    }
}
