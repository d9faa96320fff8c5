//! Meetings for the people who run them: the Head of Year's (and the SENDCO's, and SLT's)
//! overdue, due and booked meetings, and one meeting's page, where it is booked or moved,
//! cancelled, or recorded as held (in the six parts of a coaching conversation) or missed.

use actix_web::http::StatusCode;
use actix_web::web;
use chrono::{NaiveDate, TimeDelta, TimeZone, Utc};
use maud::{html, Markup};

use super::form::{
    field_problem, local, local_input_value, parse_local_time, problem_summary, Fields, Form,
    Problem,
};
use super::form_page::{FormPage, PageResult, Visit};
use super::layout::{csrf_field, level_chip};
use crate::db::meetings::{
    self, Booking, GuestRole, MeetingFilter, MeetingView, NewGuest, Outcome,
};
use crate::db::models::MeetingGuestRow;
use crate::db::staff::{self, StaffMember};
use crate::db::{evaluation, from_db_time, programmes, DbConnection};
use crate::domain::calendar::SchoolCalendar;
use crate::domain::Level;
use crate::error::{Error, Result};
use crate::web::auth::{require_role, CsrfForm};

/// Roles that run meetings (each sees only the meetings they run): the people who decide
/// suggestions.
pub const MEETING_ROLES: [crate::domain::Role; 3] = crate::db::inbox::INBOX_ROLES;

/// The six parts of a meeting record: field, label, hint.
const RECORD_PARTS: [(&str, &str, &str); 6] = [
    (
        "follow_up",
        "Follow-up on the previous steps",
        "What was agreed last time, and what happened.",
    ),
    (
        "successes",
        "Successes and their impact",
        "What went well, and what it changed.",
    ),
    (
        "challenges",
        "Challenges and steps already taken",
        "What is still hard, and what has been tried.",
    ),
    (
        "focus",
        "The one focus agreed",
        "One thing, agreed together.",
    ),
    (
        "action_steps",
        "Action steps",
        "Small, clear, measurable steps, each with who and by when.",
    ),
    (
        "next_step",
        "Next step and reflection",
        "When to meet again, and a reflection on the meeting.",
    ),
];

fn level_of(meeting_level: i16) -> Level {
    Level::from_number(i64::from(meeting_level)).unwrap_or(Level::None)
}

fn meeting_name(view: &MeetingView) -> String {
    match level_of(view.meeting.level) {
        Level::Programme => "Coaching Programme block review".to_string(),
        Level::Provision if view.meeting.purpose == "planning" => {
            "Bespoke Provision Map planning session".to_string()
        }
        Level::Provision => "Bespoke Provision Map team meeting".to_string(),
        level => format!("{} meeting", level.title()),
    }
}

fn due_text(due_on: NaiveDate) -> String {
    due_on.format("%a %-d %b %Y").to_string()
}

fn meeting_row(view: &MeetingView, today: NaiveDate) -> Markup {
    let meeting = &view.meeting;
    html! {
        li.card {
            a href={ "/meetings/" (meeting.id) } {
                strong { (view.pupil.given_name) " " (view.pupil.family_name) }
            }
            " · Year " (view.year) " · " (level_chip(level_of(meeting.level)))
            br;
            (meeting_name(view)) " · due " (due_text(meeting.due_on))
            @if let Some(starts) = meeting.starts_at {
                " · booked for " (local(from_db_time(starts)))
            }
            @if view.is_overdue(today) { " " span.tag.warn { "overdue" } }
        }
    }
}

/// `GET /meetings`: the meetings the viewer runs, overdue first, then due, then booked.
pub async fn list(visit: Visit) -> PageResult {
    require_role(&visit.member, &MEETING_ROLES)?;
    let today = SchoolCalendar::local_date(Utc::now());
    let viewer = visit.member.clone();
    let open = visit
        .state
        .db
        .transaction(move |conn| {
            let mut open = Vec::new();
            for status in ["due", "scheduled"] {
                let filter = MeetingFilter {
                    status: Some(status.into()),
                    pupil_id: None,
                };
                open.extend(meetings::list_for(conn, &viewer, &filter, today)?);
            }
            Ok(open)
        })
        .await?;
    let (overdue, waiting): (Vec<_>, Vec<_>) = open.into_iter().partition(|v| v.is_overdue(today));
    let (due, booked): (Vec<_>, Vec<_>) =
        waiting.into_iter().partition(|v| v.meeting.status == "due");
    Ok(visit.page("Meetings", StatusCode::OK, |_| {
        html! {
                h1 { "Meetings" }
                p.muted { "The meetings you run: overdue first, then those to book, then those booked." }
                @for (title, views, empty) in [
                    ("Overdue", &overdue, "Nothing overdue."),
                    ("Due: to book", &due, "Nothing waiting to be booked."),
                    ("Booked", &booked, "Nothing booked."),
                ] {
                    h2 { (title) " (" (views.len()) ")" }
                    @if views.is_empty() { p.muted { (empty) } }
                    ul.cards { @for view in views { (meeting_row(view, today)) } }
                }
        }
    }))
}

/// What the meeting page shows.
struct MeetingPage {
    view: MeetingView,
    participants: Vec<i64>,
    guests: Vec<MeetingGuestRow>,
    staff: Vec<StaffMember>,
    /// For a block review: the block it reviews, still running, whose review is recorded on
    /// the programme page with its fidelity and decision.
    block_to_review: Option<i64>,
}

fn load_page(conn: &mut DbConnection, member: &StaffMember, id: i64) -> Result<MeetingPage> {
    let view = meetings::load_for(conn, member, id)?;
    let block_to_review = if view.meeting.level == Level::Programme.number() {
        let today = SchoolCalendar::local_date(Utc::now());
        programmes::running_block(conn, view.pupil.id, today)?.map(|b| b.block.id)
    } else {
        None
    };
    Ok(MeetingPage {
        block_to_review,
        participants: meetings::participants(conn, id)?,
        guests: meetings::guests(conn, id)?,
        staff: staff::list(conn, member.school_id, None)?,
        view,
    })
}

fn meeting_id(path: &str) -> Result<i64> {
    path.parse().map_err(|_| Error::NotFound("meeting"))
}

/// The values a fresh booking form starts with: the people already invited, or else the
/// viewer; a time on the next school day at 08:30.
fn booking_defaults(data: &MeetingPage, member: &StaffMember) -> Fields {
    let meeting = &data.view.meeting;
    let starts = meeting.starts_at.map(from_db_time).unwrap_or_else(|| {
        let tomorrow = SchoolCalendar::local_date(Utc::now()) + TimeDelta::days(1);
        let at = tomorrow.and_hms_opt(8, 30, 0).unwrap_or_default();
        crate::domain::calendar::SCHOOL_TZ
            .from_local_datetime(&at)
            .earliest()
            .map_or_else(Utc::now, |t| t.with_timezone(&Utc))
    });
    let mut values = vec![
        ("starts_at", local_input_value(starts)),
        (
            "duration_minutes",
            meeting.duration_minutes.unwrap_or(30).to_string(),
        ),
        ("location", meeting.location.clone().unwrap_or_default()),
        ("held_at", local_input_value(Utc::now())),
    ];
    if meeting.parent_invited {
        values.push(("parent_invited", "on".into()));
    }
    let invited = if data.participants.is_empty() {
        vec![member.id]
    } else {
        data.participants.clone()
    };
    values.extend(
        invited
            .into_iter()
            .map(|id| ("participant_ids", id.to_string())),
    );
    for guest in &data.guests {
        if let Some((_, name, email)) = GUEST_FIELDS
            .iter()
            .find(|(role, ..)| role.as_str() == guest.role)
        {
            values.push((name, guest.name.clone()));
            values.push((email, guest.email.clone().unwrap_or_default()));
        }
    }
    Fields::from_pairs(values)
}

fn render(data: &MeetingPage, form: &Form, notice: Option<&str>, csrf: &str) -> Markup {
    let (values, problem) = (&form.values, form.problem());
    let view = &data.view;
    let meeting = &view.meeting;
    let open = ["due", "scheduled"].contains(&meeting.status.as_str());
    let invited = values.ids_lenient("participant_ids");
    let today = SchoolCalendar::local_date(Utc::now());
    let name_of = |id: &i64| {
        data.staff
            .iter()
            .find(|s| s.id == *id)
            .map_or_else(|| format!("staff {id}"), |s| s.name.clone())
    };
    html! {
        h1 { (meeting_name(view)) }
        p {
            a href={ "/pupils/" (view.pupil.id) } { (view.pupil.given_name) " " (view.pupil.family_name) }
            " · Year " (view.year) " · " (level_chip(level_of(meeting.level)))
        }
        @if let Some(notice) = notice { p.notice role="status" { (notice) } }
        dl.facts {
            dt { "Status" } dd { (meeting.status) @if view.is_overdue(today) { " " span.tag.warn { "overdue" } } }
            dt { "Due by" } dd { (due_text(meeting.due_on)) }
            @if let Some(starts) = meeting.starts_at {
                dt { "When" } dd { (local(from_db_time(starts))) @if let Some(minutes) = meeting.duration_minutes { " for " (minutes) " minutes" } }
            }
            @if let Some(place) = &meeting.location { dt { "Where" } dd { (place) } }
            @if !data.participants.is_empty() {
                dt { "Staff invited" }
                dd { @for (i, id) in data.participants.iter().enumerate() { @if i > 0 { ", " } (name_of(id)) } }
            }
            @if !data.guests.is_empty() {
                dt { "Guests" }
                dd { @for guest in &data.guests {
                    (guest.name) " (" (GuestRole::parse(&guest.role).map_or("Guest", GuestRole::title)) ") "
                } }
            }
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
        (problem_summary(problem, &["starts_at", "duration_minutes", "location", "participant_ids", "guests", "parent_name", "parent_email", "external_name", "external_email", "social_worker_name", "social_worker_email", "reason", "held_at", "summary", "follow_up", "successes", "challenges", "focus", "action_steps", "next_step"]))
        @if open {
            h2 { @if meeting.status == "scheduled" { "Move the meeting" } @else { "Book the meeting" } }
            form.stack method="post" action={ "/meetings/" (meeting.id) "/schedule" } {
                (csrf_field(csrf))
                label for="starts_at" { "When (London time)" }
                input #starts_at type="datetime-local" name="starts_at" required value=(values.raw("starts_at"));
                (field_problem(problem, "starts_at"))
                label for="duration_minutes" { "Length in minutes" }
                input #duration_minutes type="number" name="duration_minutes" min="5" max=(meetings::MAX_DURATION_MINUTES) required value=(values.raw("duration_minutes"));
                (field_problem(problem, "duration_minutes"))
                label for="location" { "Where" }
                input #location type="text" name="location" maxlength="200" required value=(values.raw("location"));
                (field_problem(problem, "location"))
                fieldset {
                    legend { "Staff taking part" }
                    @for member in &data.staff {
                        label.choice {
                            input type="checkbox" name="participant_ids" value=(member.id) checked[invited.contains(&member.id)];
                            " " (member.name)
                            @if !member.roles.is_empty() {
                                span.muted { " · " @for (i, role) in member.roles.iter().enumerate() { @if i > 0 { ", " } (role.title()) } }
                            }
                        }
                    }
                    (field_problem(problem, "participant_ids"))
                }
                fieldset {
                    legend { "Guests (optional)" }
                    label.choice {
                        input type="checkbox" name="parent_invited" checked[values.get("parent_invited").is_some()];
                        " A parent or carer is invited"
                    }
                    label for="parent_name" { "Parent or carer's name" }
                    input #parent_name type="text" name="parent_name" maxlength="100" value=(values.raw("parent_name"));
                    (field_problem(problem, "parent_name"))
                    label for="parent_email" { "Their email, for the invitation" }
                    input #parent_email type="email" name="parent_email" maxlength="254" value=(values.raw("parent_email"));
                    (field_problem(problem, "parent_email"))
                    label for="external_name" { "External professional's name" }
                    input #external_name type="text" name="external_name" maxlength="100" value=(values.raw("external_name"));
                    (field_problem(problem, "external_name"))
                    label for="external_email" { "Their email" }
                    input #external_email type="email" name="external_email" maxlength="254" value=(values.raw("external_email"));
                    (field_problem(problem, "external_email"))
                    @if meeting.level == Level::Provision.number() {
                        label for="social_worker_name" { "Social worker's name" }
                        input #social_worker_name type="text" name="social_worker_name" maxlength="100" value=(values.raw("social_worker_name"));
                        (field_problem(problem, "social_worker_name"))
                        label for="social_worker_email" { "Their email" }
                        input #social_worker_email type="email" name="social_worker_email" maxlength="254" value=(values.raw("social_worker_email"));
                        (field_problem(problem, "social_worker_email"))
                    }
                    (field_problem(problem, "guests"))
                }
                button.primary type="submit" {
                    @if meeting.status == "scheduled" { "Move it and send updates" } @else { "Book it and send invitations" }
                }
            }
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
                form.stack method="post" action={ "/meetings/" (meeting.id) "/outcome" } {
                    (csrf_field(csrf))
                    label for="held_at" { "When it was held (London time)" }
                    input #held_at type="datetime-local" name="held_at" required value=(values.raw("held_at"));
                    (field_problem(problem, "held_at"))
                    label for="summary" { "Summary" }
                    textarea #summary name="summary" rows="2" maxlength="500" required { (values.raw("summary")) }
                    (field_problem(problem, "summary"))
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
                        (field_problem(problem, field))
                    }
                    button.primary type="submit" { "Save the record" }
                }
            }
            h2 { "It did not happen" }
            form.stack method="post" action={ "/meetings/" (meeting.id) "/missed" } {
                (csrf_field(csrf))
                p.hint { "A new meeting becomes due in its place, and the Head of Year is told." }
                button type="submit" { "Record as missed" }
            }
            form.stack method="post" action={ "/meetings/" (meeting.id) "/cancel" } {
                (csrf_field(csrf))
                label for="reason" { "Cancel it: why?" }
                input #reason type="text" name="reason" maxlength="500" value=(values.raw("reason"));
                (field_problem(problem, "reason"))
                button type="submit" { "Cancel the meeting" }
            }
        }
        p { a href="/meetings" { "All meetings" } }
    }
}

fn record_part<'a>(meeting: &'a crate::db::models::MeetingRow, field: &str) -> Option<&'a str> {
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

/// What a redirect after a change says on the page.
fn notice_for(done: &str) -> Option<&'static str> {
    match done {
        "booked" => Some("Booked. Everyone taking part is being emailed an invitation."),
        "cancelled" => Some("Cancelled. Everyone invited is being told."),
        "missed" => Some("Recorded as missed. A new meeting is due in its place."),
        "held" => Some("The meeting's record is saved."),
        _ => None,
    }
}

impl FormPage for MeetingPage {
    type Key = i64;
    const TITLE: &'static str = "Meeting";

    fn load(conn: &mut DbConnection, member: &StaffMember, id: i64) -> Result<MeetingPage> {
        load_page(conn, member, id)
    }

    fn first_values(&self, member: &StaffMember, _query: &Fields) -> Fields {
        booking_defaults(self, member)
    }

    fn notice(query: &Fields) -> Option<String> {
        query.get("done").and_then(notice_for).map(String::from)
    }

    fn render(&self, form: &Form, notice: Option<&str>, csrf: &str) -> Markup {
        render(self, form, notice, csrf)
    }
}

/// `GET /meetings/{id}`: one meeting, with its forms while it is open.
pub async fn show(visit: Visit, path: web::Path<String>) -> PageResult {
    visit.show::<MeetingPage>(meeting_id(&path)?).await
}

/// The guests a meeting form names, one of each kind: role, name field and email field (the
/// social worker is asked for at Bespoke Provision Map meetings only).
const GUEST_FIELDS: [(GuestRole, &str, &str); 3] = [
    (GuestRole::ParentCarer, "parent_name", "parent_email"),
    (GuestRole::External, "external_name", "external_email"),
    (
        GuestRole::SocialWorker,
        "social_worker_name",
        "social_worker_email",
    ),
];

/// A refusal of a booking's `guests[i].name` or `guests[i].email` moved to the field of this
/// form it is about: the name or email field of that guest's kind.
fn at_guest_field(error: Error, guests: &[GuestRole]) -> Error {
    let Error::Invalid {
        field: Some(field), ..
    } = &error
    else {
        return error;
    };
    let on_form = field
        .strip_prefix("guests[")
        .and_then(|rest| rest.split_once("]."))
        .and_then(|(index, part)| {
            let role = guests.get(index.parse::<usize>().ok()?)?;
            let (_, name, email) = GUEST_FIELDS.iter().find(|(kind, ..)| kind == role)?;
            match part {
                "name" => Some(*name),
                "email" => Some(*email),
                _ => None,
            }
        });
    match on_form {
        Some(field) => Error::invalid(field, error.to_string()),
        None => error,
    }
}

fn guests_of(fields: &Fields) -> Vec<NewGuest> {
    GUEST_FIELDS
        .into_iter()
        .filter_map(|(role, name, email)| {
            let name = fields.get(name)?.trim();
            (!name.is_empty()).then(|| NewGuest {
                name: name.to_string(),
                email: fields.get(email).map(str::to_string),
                role,
            })
        })
        .collect()
}

fn booking_of(fields: &Fields) -> std::result::Result<Booking, Problem> {
    let starts_at = parse_local_time("starts_at", fields.get("starts_at"))?
        .ok_or_else(|| Problem::at("starts_at", "say when the meeting starts"))?;
    let duration_minutes = fields
        .get("duration_minutes")
        .map(str::trim)
        .unwrap_or_default()
        .parse()
        .map_err(|_| Problem::at("duration_minutes", "the length is a number of minutes"))?;
    Ok(Booking {
        starts_at,
        duration_minutes,
        location: fields.raw("location").to_string(),
        participant_ids: fields.ids("participant_ids", "participant_ids")?,
        parent_invited: fields.get("parent_invited").is_some(),
        guests: guests_of(fields),
    })
}

/// `POST /meetings/{id}/schedule`: books or moves the meeting; invitations go out.
pub async fn schedule(visit: Visit, path: web::Path<String>, form: CsrfForm<Fields>) -> PageResult {
    let id = meeting_id(&path)?;
    let booking = booking_of(&form.0);
    visit
        .submit::<MeetingPage, _, _>(id, form.0, booking, move |conn, by, context, booking| {
            let kinds: Vec<GuestRole> = booking.guests.iter().map(|guest| guest.role).collect();
            meetings::schedule(conn, by, context, id, &booking, Utc::now())
                .map_err(|error| at_guest_field(error, &kinds))?;
            Ok(format!("/meetings/{id}?done=booked"))
        })
        .await
}

/// `POST /meetings/{id}/cancel`: cancels the meeting with a reason.
pub async fn cancel(visit: Visit, path: web::Path<String>, form: CsrfForm<Fields>) -> PageResult {
    let id = meeting_id(&path)?;
    let reason = form.0.raw("reason").to_string();
    visit
        .submit::<MeetingPage, _, _>(id, form.0, Ok(reason), move |conn, by, context, reason| {
            meetings::cancel(conn, by, context, id, &reason, Utc::now())?;
            Ok(format!("/meetings/{id}?done=cancelled"))
        })
        .await
}

/// `POST /meetings/{id}/missed`: records that it did not happen; a new one becomes due.
pub async fn missed(visit: Visit, path: web::Path<String>, form: CsrfForm<Fields>) -> PageResult {
    let id = meeting_id(&path)?;
    visit
        .submit::<MeetingPage, _, _>(id, form.0, Ok(()), move |conn, by, context, ()| {
            let rules = evaluation::load_rules(conn, by.school_id)?;
            let (_, again) = meetings::record_missed(conn, by, context, id, &rules, Utc::now())?;
            Ok(format!("/meetings/{}?done=missed", again.id))
        })
        .await
}

/// The record of a held meeting as typed; the record itself is checked by the domain.
struct HeldForm {
    held_at: chrono::DateTime<Utc>,
    goals_met: Option<bool>,
    typed: Fields,
}

fn held_of(fields: &Fields) -> std::result::Result<HeldForm, Problem> {
    Ok(HeldForm {
        held_at: parse_local_time("held_at", fields.get("held_at"))?.unwrap_or_else(Utc::now),
        goals_met: match fields.raw("goals_met") {
            "yes" => Some(true),
            "no" => Some(false),
            _ => None,
        },
        typed: fields.clone(),
    })
}

/// `POST /meetings/{id}/outcome`: records the meeting as held.
pub async fn outcome(visit: Visit, path: web::Path<String>, form: CsrfForm<Fields>) -> PageResult {
    let id = meeting_id(&path)?;
    let held = held_of(&form.0);
    visit
        .submit::<MeetingPage, _, _>(id, form.0, held, move |conn, by, context, held| {
            let rules = evaluation::load_rules(conn, by.school_id)?;
            let typed = &held.typed;
            let outcome = Outcome {
                held_at: held.held_at,
                summary: typed.raw("summary"),
                goals_met: held.goals_met,
                follow_up: typed.get("follow_up"),
                successes: typed.get("successes"),
                challenges: typed.get("challenges"),
                focus: typed.get("focus"),
                action_steps: typed.get("action_steps"),
                next_step: typed.get("next_step"),
            };
            meetings::record_outcome(conn, by, context, id, &outcome, &rules, Utc::now())?;
            Ok(format!("/meetings/{id}?done=held"))
        })
        .await
}
