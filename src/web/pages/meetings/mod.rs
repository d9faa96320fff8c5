//! Meetings for the people who run them: the Head of Year's (and the SENDCO's, and SLT's)
//! overdue, due and booked meetings, and one meeting's page, where it is booked or moved,
//! cancelled, or recorded as held (in the six parts of a coaching conversation) or missed.
//! The page is drawn in `render` (its steps) and `people` (who takes part); here are the list,
//! what the page loads and the handlers of its forms.

mod guests;
mod people;

pub use guests::revoke as revoke_guest_link;
mod render;

use actix_web::http::StatusCode;
use actix_web::web;
use chrono::{NaiveDate, TimeDelta, TimeZone, Utc};
use maud::{html, Markup};

use super::form::{local, local_input_value, parse_local_time, see_other, Fields, Form, Problem};
use super::form_page::{FormPage, PageResult, Visit};
use super::layout::level_chip;
use crate::db::meetings::{
    self, Booking, GuestRole, MeetingFilter, MeetingView, NewGuest, Outcome,
};
use crate::db::models::MeetingGuestRow;
use crate::db::staff::{self, StaffMember};
use crate::db::{evaluation, from_db_time, programmes, DbConnection};
use crate::domain::calendar::SchoolCalendar;
use crate::domain::meeting::{suggest_staff, Suggested};
use crate::domain::paging::PageRequest;
use crate::domain::words::MeetingKind;
use crate::domain::Level;
use crate::domain::MeetingState;
use crate::error::{Error, Result};
use crate::web::auth::{require_role, CsrfForm};
use people::{family_field, GUEST_FIELDS, MAX_FAMILY_GUESTS, STAFF_SEARCH};

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
    MeetingKind::of_stored(level_of(view.meeting.level), &view.meeting.purpose).name()
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
            @let state = view.state(today);
            @if state.is_overdue() || matches!(state, MeetingState::Booked { late: true, .. }) {
                " " span class=(state.tag_class()) { (state.phrase()) }
            }
        }
    }
}

/// How many open meetings the list shows at once, soonest due first; a link shows the rest.
const MEETINGS_PAGE: usize = 100;

/// `GET /meetings?cursor=`: the meetings the viewer runs, overdue first, then due, then
/// booked; a hundred at a time, soonest due first, with a link to later ones.
pub async fn list(visit: Visit) -> PageResult {
    require_role(&visit.member, &MEETING_ROLES)?;
    let today = SchoolCalendar::local_date(Utc::now());
    let viewer = visit.member.clone();
    let (request, lost) = match PageRequest::read("meetings-page", None, visit.query.get("cursor"))
    {
        Ok(request) => (
            PageRequest {
                limit: MEETINGS_PAGE,
                ..request
            },
            false,
        ),
        Err(_) => (PageRequest::first("meetings-page", MEETINGS_PAGE), true),
    };
    let later_page = request.after.is_some();
    let page = visit
        .state
        .db
        .transaction(move |conn| {
            let filter = MeetingFilter {
                status: None,
                pupil_id: None,
                open: true,
            };
            meetings::page_for(conn, &viewer, &filter, today, &request)
        })
        .await?;
    let (overdue, waiting): (Vec<_>, Vec<_>) =
        page.items.into_iter().partition(|v| v.is_overdue(today));
    let (due, booked): (Vec<_>, Vec<_>) =
        waiting.into_iter().partition(|v| v.meeting.status == "due");
    let later = page.next.map(|cursor| {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        query.append_pair("cursor", &cursor);
        format!("/meetings?{}", query.finish())
    });
    Ok(visit.page("Meetings", StatusCode::OK, |_| {
        html! {
                h1 { "Meetings" }
                p.muted { "The meetings you run: overdue first, then those to book, then those booked." }
                @if lost {
                    p.notice role="status" { "That link to later meetings no longer works: these are the soonest due." }
                }
                @if later_page {
                    p.muted { "Meetings due later. " a href="/meetings" { "Back to the soonest due" } }
                }
                @for (title, views, empty) in [
                    ("Overdue", &overdue, "Nothing overdue."),
                    ("Due: to book", &due, "Nothing waiting to be booked."),
                    ("Booked", &booked, "Nothing booked."),
                ] {
                    h2 { (title) " (" (views.len()) @if later.is_some() || later_page { " here" } ")" }
                    @if views.is_empty() { p.muted { (empty) } }
                    ul.cards { @for view in views { (meeting_row(view, today)) } }
                }
                @if let Some(later) = &later {
                    p.more { a href=(later) { "Show meetings due later" } }
                }
        }
    }))
}

/// What the meeting page shows.
struct MeetingPage {
    view: MeetingView,
    participants: Vec<i64>,
    guests: Vec<MeetingGuestRow>,
    /// The guests whose family link staff stopped.
    revoked_guests: Vec<i64>,
    staff: Vec<StaffMember>,
    /// The staff suggested for the pupil: their Head of Year, tutor, the SENDCO and those who
    /// logged most about them.
    suggested: Vec<Suggested>,
    /// For a block review: the block it reviews, still running, whose review is recorded on
    /// the programme page with its fidelity and decision.
    block_to_review: Option<i64>,
    /// The pupil's family contacts invited to their meetings, offered as guests on a fresh
    /// booking (none for a viewer who does not keep the pupil's contacts).
    family: Vec<crate::db::contacts::ContactRow>,
}

fn load_page(conn: &mut DbConnection, member: &StaffMember, id: i64) -> Result<MeetingPage> {
    let view = meetings::load_for(conn, member, id)?;
    let block_to_review = if view.meeting.level == Level::Programme.number() {
        let today = SchoolCalendar::local_date(Utc::now());
        programmes::running_block(conn, view.pupil.id, today)?.map(|b| b.block.id)
    } else {
        None
    };
    let staff = staff::list(conn, member.school_id, None)?;
    let suggested = suggest_staff(&meetings::closeness(conn, &view, &staff)?);
    let family = crate::db::contacts::invited_for(conn, member, &view.pupil, view.place())?;
    Ok(MeetingPage {
        family,
        block_to_review,
        participants: meetings::participants(conn, id)?,
        guests: meetings::guests(conn, id)?,
        revoked_guests: crate::db::family::revoked_guests(conn, id)?,
        staff,
        suggested,
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
    let mut pairs: Vec<(String, String)> = values
        .into_iter()
        .map(|(name, value)| (name.to_string(), value))
        .collect();
    // The first guest of each kind in its own fieldset; further parents and carers (and, on a
    // fresh booking, the pupil's invited contacts) each in a family fieldset.
    let mut family: Vec<(String, Option<String>)> = Vec::new();
    let mut filled: Vec<GuestRole> = Vec::new();
    for guest in &data.guests {
        match GUEST_FIELDS
            .iter()
            .find(|(role, ..)| role.as_str() == guest.role)
        {
            Some((role, name, email)) if !filled.contains(role) => {
                filled.push(*role);
                pairs.push((name.to_string(), guest.name.clone()));
                pairs.push((email.to_string(), guest.email.clone().unwrap_or_default()));
            }
            Some((GuestRole::ParentCarer, ..)) => {
                family.push((guest.name.clone(), guest.email.clone()));
            }
            _ => {}
        }
    }
    if meeting.starts_at.is_none() && data.guests.is_empty() {
        family.extend(
            data.family
                .iter()
                .map(|c| (c.name.clone(), c.email.clone())),
        );
        if !family.is_empty() && !meeting.parent_invited {
            pairs.push(("parent_invited".into(), "on".into()));
        }
    }
    for (i, (name, email)) in family.into_iter().take(MAX_FAMILY_GUESTS).enumerate() {
        pairs.push((family_field(i, "name"), name));
        pairs.push((family_field(i, "email"), email.unwrap_or_default()));
        pairs.push((family_field(i, "invited"), "on".into()));
    }
    Fields::new(pairs)
}

/// What a redirect after a change says on the page.
fn notice_for(done: &str) -> Option<&'static str> {
    match done {
        "booked" => Some("Booked. Everyone taking part is being emailed an invitation."),
        "cancelled" => Some("Cancelled. Everyone invited is being told."),
        "missed" => Some("Recorded as missed. A new meeting is due in its place."),
        "held" => Some("The meeting's record is saved."),
        "revoked" => Some("The guest's link no longer works."),
        _ => None,
    }
}

impl FormPage for MeetingPage {
    type Key = i64;
    const TITLE: &'static str = "Meeting";

    fn load(conn: &mut DbConnection, member: &StaffMember, id: i64) -> Result<MeetingPage> {
        load_page(conn, member, id)
    }

    /// The record's own values, or what was typed in the booking form when its search for
    /// staff sent it back here (a `GET` keeps what was typed).
    fn first_values(&self, member: &StaffMember, query: &Fields) -> Fields {
        if query.pairs().any(|(name, _)| name == STAFF_SEARCH) {
            query.clone()
        } else {
            let mut values = booking_defaults(self, member);
            if let Some(step) = query.get("step") {
                let step = ("step".to_string(), step.to_string());
                values = Fields::new(values.pairs().cloned().chain([step]).collect());
            }
            values
        }
    }

    fn notice(query: &Fields) -> Option<String> {
        query.get("done").and_then(notice_for).map(String::from)
    }

    fn render(&self, form: &Form, notice: Option<&str>, csrf: &str) -> Markup {
        render::render(self, form, notice, csrf)
    }
}

/// `GET /meetings/{id}`: one meeting, with the form of the step it is at while it is open.
/// The booking form's search for staff comes here with the form as typed; its CSRF token is
/// taken out of the address (sent on to the same page without it) so that it is not kept in
/// the browser's history.
pub async fn show(visit: Visit, path: web::Path<String>) -> PageResult {
    let id = meeting_id(&path)?;
    if visit.query.get("csrf_token").is_some() {
        let kept: Vec<&(String, String)> = visit
            .query
            .pairs()
            .filter(|(name, _)| name != "csrf_token")
            .collect();
        let query = serde_urlencoded::to_string(kept).unwrap_or_default();
        return Ok(see_other(&format!("/meetings/{id}?{query}")));
    }
    visit.show::<MeetingPage>(id).await
}

/// A refusal of a booking's `guests[i].name` or `guests[i].email` moved to the field of this
/// form it is about: the name or email field of that guest's kind.
fn at_guest_field(error: Error, guests: &[(String, String)]) -> Error {
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
            let (name, email) = guests.get(index.parse::<usize>().ok()?)?;
            match part {
                "name" => Some(name.clone()),
                "email" => Some(email.clone()),
                _ => None,
            }
        });
    match on_form {
        Some(field) => Error::invalid(&field, error.to_string()),
        None => error,
    }
}

/// The guests a booking form names, each with the form's fields of its name and email: the
/// family fieldsets ticked (parents and carers from the pupil's contacts), then one of each
/// kind.
fn guests_on_form(fields: &Fields) -> Vec<(NewGuest, String, String)> {
    let family = (0..MAX_FAMILY_GUESTS)
        .filter(|i| fields.get(&family_field(*i, "invited")).is_some())
        .map(|i| {
            (
                GuestRole::ParentCarer,
                family_field(i, "name"),
                family_field(i, "email"),
            )
        });
    let kinds = GUEST_FIELDS
        .into_iter()
        .map(|(role, name, email)| (role, name.to_string(), email.to_string()));
    family
        .chain(kinds)
        .filter_map(|(role, name_field, email_field)| {
            let name = fields.get(&name_field)?.trim();
            (!name.is_empty()).then(|| {
                let guest = NewGuest {
                    name: name.to_string(),
                    email: fields.get(&email_field).map(str::to_string),
                    role,
                };
                (guest, name_field, email_field)
            })
        })
        .collect()
}

fn guests_of(fields: &Fields) -> Vec<NewGuest> {
    guests_on_form(fields)
        .into_iter()
        .map(|(guest, ..)| guest)
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
    let slots: Vec<(String, String)> = guests_on_form(&form.0)
        .into_iter()
        .map(|(_, name, email)| (name, email))
        .collect();
    visit
        .submit_to::<MeetingPage, _, _>(
            id,
            Some("book".into()),
            form.0,
            booking,
            move |conn, by, context, booking| {
                meetings::schedule(conn, by, context, id, &booking, Utc::now())
                    .map_err(|error| at_guest_field(error, &slots))?;
                Ok(format!("/meetings/{id}?done=booked"))
            },
        )
        .await
}

/// `POST /meetings/{id}/cancel`: cancels the meeting with a reason.
pub async fn cancel(visit: Visit, path: web::Path<String>, form: CsrfForm<Fields>) -> PageResult {
    let id = meeting_id(&path)?;
    let reason = form.0.raw("reason").to_string();
    visit
        .submit_to::<MeetingPage, _, _>(
            id,
            Some("cancel".into()),
            form.0,
            Ok(reason),
            move |conn, by, context, reason| {
                meetings::cancel(conn, by, context, id, &reason, Utc::now())?;
                Ok(format!("/meetings/{id}?done=cancelled"))
            },
        )
        .await
}

/// `POST /meetings/{id}/missed`: records that it did not happen, once confirmed (the
/// `missed` box ticked); a new one becomes due. The domain refuses it before the meeting's
/// booked time.
pub async fn missed(visit: Visit, path: web::Path<String>, form: CsrfForm<Fields>) -> PageResult {
    let id = meeting_id(&path)?;
    let confirmed = match form.0.get("missed") {
        Some("confirmed") => Ok(()),
        _ => Err(Problem::at(
            "missed",
            "tick the box to confirm that the meeting did not happen",
        )),
    };
    visit
        .submit_to::<MeetingPage, _, _>(
            id,
            Some("missed".into()),
            form.0,
            confirmed,
            move |conn, by, context, ()| {
                let rules = evaluation::load_rules(conn, by.school_id)?;
                let (_, again) =
                    meetings::record_missed(conn, by, context, id, &rules, Utc::now())?;
                Ok(format!("/meetings/{}?done=missed", again.id))
            },
        )
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
        .submit_to::<MeetingPage, _, _>(
            id,
            Some("held".into()),
            form.0,
            held,
            move |conn, by, context, held| {
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
                    decision: None,
                    reason: None,
                };
                meetings::record_outcome(conn, by, context, id, &outcome, &rules, Utc::now())?;
                Ok(format!("/meetings/{id}?done=held"))
            },
        )
        .await
}
