//! The Coaching Programme page: a pupil's blocks with their sessions and fidelity, the form to
//! plan the current block, and the block review (its form and handler in `review.rs`).

use std::collections::HashMap;

use actix_web::web;
use chrono::{NaiveDate, NaiveTime, Utc, Weekday};
use maud::{html, Markup};

use super::review::{review_form, REVIEW_FIELDS};
use super::{
    date_in, day, name_in, number_in, place_title, pupil_id_of, pupil_seen_by, radio, runner,
    session_status, short_day, staff_names,
};
use crate::db::audit::Read;
use crate::db::plans::{self, PlanVersion};
use crate::db::programmes::{self, BlockRequest, BlockView};
use crate::db::pupils::PupilView;
use crate::db::staff::StaffMember;
use crate::db::{evaluation, from_db_time, DbConnection};
use crate::domain::calendar::SchoolCalendar;
use crate::domain::level::ProgrammeBlock;
use crate::domain::plan::MAX_NAME_CHARS;
use crate::domain::programme::{
    Fidelity, ReviewDecision, SessionLead, SessionPlace, MAX_SESSIONS_PER_WEEK,
    MAX_SESSION_MINUTES, MIN_SESSION_MINUTES,
};
use crate::domain::visibility::Record;
use crate::domain::Level;
use crate::error::Result;
use crate::web::auth::CsrfForm;
use crate::web::pages::form::{
    field_problem, local, local_input_value, problem_summary, Fields, Form, Problem,
};
use crate::web::pages::form_page::{FormPage, PageResult, Visit};
use crate::web::pages::layout::{csrf_field, fidelity_summary, level_chip};

// ---------------------------------------------------------------------------------------------
// The Coaching Programme
// ---------------------------------------------------------------------------------------------

/// Fields of the form that plans a block.
const BLOCK_FIELDS: [&str; 9] = [
    "starts_on",
    "sessions_per_week",
    "weekdays",
    "minutes",
    "time",
    "place",
    "led_by",
    "practitioner_id",
    "practitioner_name",
];

/// The weekdays sessions may fall on, with their stored names.
const WEEKDAYS: [(Weekday, &str, &str); 5] = [
    (Weekday::Mon, "mon", "Monday"),
    (Weekday::Tue, "tue", "Tuesday"),
    (Weekday::Wed, "wed", "Wednesday"),
    (Weekday::Thu, "thu", "Thursday"),
    (Weekday::Fri, "fri", "Friday"),
];

/// The days offered first when nothing was planned before: spread over the week.
const SPREAD_DAYS: [&str; 5] = ["mon", "wed", "fri", "tue", "thu"];

/// What the programme page shows.
pub(super) struct ProgrammePage {
    pupil: PupilView,
    /// Newest first.
    blocks: Vec<BlockView>,
    plan: Option<PlanVersion>,
    practitioners: Vec<StaffMember>,
    names: HashMap<i64, String>,
    /// The block to plan now: the pupil is on the programme with no block running.
    to_plan: Option<ProgrammeBlock>,
    /// The fewest sessions a week the school's policy asks for.
    min_per_week: u32,
    /// The first school day after today, where a new block starts unless changed.
    next_school_day: NaiveDate,
    today: NaiveDate,
    /// Who the running block, when delivered at home, was shared with through a family link.
    home_shares: Vec<crate::db::family::Share>,
}

impl ProgrammePage {
    fn running(&self) -> Option<&BlockView> {
        self.blocks.iter().find(|b| b.block.status == "running")
    }
}

fn load_programme_page(
    conn: &mut DbConnection,
    member: &StaffMember,
    id: i64,
) -> Result<ProgrammePage> {
    let pupil = pupil_seen_by(conn, member, id, Record::Programme)?;
    let today = SchoolCalendar::local_date(Utc::now());
    let blocks = programmes::blocks_for(conn, member.school_id, pupil.id, today)?;
    let running = blocks.iter().any(|b| b.block.status == "running");
    let home_shares = match blocks
        .iter()
        .find(|b| b.block.status == "running" && b.block.place == SessionPlace::AtHome.as_str())
    {
        Some(view) => crate::db::family::block_shares(conn, member.school_id, view.block.id)?,
        None => Vec::new(),
    };
    let to_plan = if pupil.level == Level::Programme && !running {
        programmes::block_due(conn, member.school_id, pupil.id)?
    } else {
        None
    };
    let rules = evaluation::load_rules(conn, member.school_id)?;
    let next_school_day = today
        .iter_days()
        .skip(1)
        .take(60)
        .find(|d| rules.calendar.is_school_day(*d))
        .unwrap_or(today);
    Ok(ProgrammePage {
        plan: plans::current(conn, member.school_id, pupil.id)?,
        practitioners: programmes::practitioners(conn, member.school_id)?,
        names: staff_names(conn, member.school_id)?,
        min_per_week: rules
            .policy
            .programme_sessions_per_week
            .clamp(1, MAX_SESSIONS_PER_WEEK),
        blocks,
        to_plan,
        next_school_day,
        today,
        home_shares,
        pupil,
    })
}

/// The forms filled for a first visit: the block planned like the one before (or three
/// sessions a week in school), and the review held now.
fn programme_values(data: &ProgrammePage) -> Fields {
    let previous = data.blocks.first().map(|b| &b.block);
    let per_week = previous.map_or(3_u32.max(data.min_per_week), |b| {
        u32::try_from(b.sessions_per_week).unwrap_or(3)
    });
    let mut pairs: Vec<(&str, String)> = vec![
        ("starts_on", data.next_school_day.to_string()),
        ("sessions_per_week", per_week.to_string()),
        (
            "minutes",
            previous.map_or(MIN_SESSION_MINUTES.to_string(), |b| b.minutes.to_string()),
        ),
        (
            "time",
            previous
                .and_then(|b| b.session_time.clone())
                .unwrap_or_default(),
        ),
        (
            "place",
            previous.map_or(SessionPlace::InSchool.as_str().to_string(), |b| {
                b.place.clone()
            }),
        ),
        (
            "led_by",
            previous.map_or(SessionLead::SpecialistStaff.as_str().to_string(), |b| {
                b.led_by.clone()
            }),
        ),
        (
            "practitioner_id",
            previous
                .and_then(|b| b.practitioner_id)
                .map(|id| id.to_string())
                .unwrap_or_default(),
        ),
        (
            "practitioner_name",
            previous
                .and_then(|b| b.practitioner_name.clone())
                .unwrap_or_default(),
        ),
        ("held_at", local_input_value(Utc::now())),
    ];
    match previous {
        Some(block) => pairs.extend(
            block
                .weekdays
                .split(',')
                .filter(|d| !d.is_empty())
                .map(|d| ("weekdays", d.to_string())),
        ),
        None => pairs.extend(
            SPREAD_DAYS
                .iter()
                .take(per_week as usize)
                .map(|d| ("weekdays", (*d).to_string())),
        ),
    }
    Fields::from_pairs(pairs)
}

fn decision_title(raw: &str) -> &str {
    ReviewDecision::parse(raw).map_or(raw, |v| v.title())
}

fn weekday_titles(stored: &str) -> String {
    stored
        .split(',')
        .filter_map(|d| WEEKDAYS.iter().find(|(_, short, _)| *short == d.trim()))
        .map(|(_, _, long)| *long)
        .collect::<Vec<_>>()
        .join(", ")
}

fn lost_days(stored: &str) -> Vec<NaiveDate> {
    stored
        .split(',')
        .filter_map(|d| NaiveDate::parse_from_str(d.trim(), "%Y-%m-%d").ok())
        .collect()
}

fn sessions_table(view: &BlockView, names: &HashMap<i64, String>, today: NaiveDate) -> Markup {
    let running = view.block.status == "running";
    html! {
        div.scroll tabindex="0" role="region" aria-label="Sessions" {
            table.sessions {
                thead {
                    tr { th { "Date" } th { "Time" } th { "What happened" } th.num { "Minutes" } th { "Who" } th { "Note or reason" } }
                }
                tbody {
                    @for session in &view.sessions {
                        @let overdue = session.outcome.is_none() && session.on_date < today;
                        tr class=[overdue.then_some("overdue")] id={ "session-" (session.id) } {
                            td {
                                @if running {
                                    a href={ "/sessions/" (session.id) } { (short_day(session.on_date)) }
                                } @else {
                                    (short_day(session.on_date))
                                }
                                @if session.is_final { " " span.tag { "final" } }
                            }
                            td { (session.session_time.as_deref().unwrap_or("")) }
                            td {
                                (session_status(session, today))
                                @if session.is_final {
                                    @match session.parent_attended {
                                        Some(true) => { br; span.small { "Parent or carer attended the end" } },
                                        Some(false) => { br; span.small { "Parent or carer did not attend" } },
                                        None => {},
                                    }
                                }
                            }
                            td.num { @if let Some(minutes) = session.minutes { (minutes) } }
                            td {
                                @if let Some(by) = &session.delivered_by { (by) }
                                @if session.recorded_by_family.is_some() { br; span.small { "recorded at home" } }
                                @else if let Some(id) = session.recorded_by { span.muted { "recorded by " (name_in(names, id)) } }
                            }
                            td.note {
                                @if let Some(note) = &session.note { (note) }
                                @if let Some(reason) = &session.reason {
                                    @if session.note.is_some() { br; }
                                    span.muted { "Reason: " } (reason)
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn block_card(view: &BlockView, data: &ProgrammePage) -> Markup {
    let block = &view.block;
    let counts = view.fidelity;
    let lost = lost_days(&block.lost_to_closures);
    let at_review = match (block.delivered_at_review, block.planned_at_review) {
        (Some(delivered), Some(planned)) => Some(Fidelity::new(
            u32::try_from(delivered).unwrap_or(0),
            u32::try_from(planned).unwrap_or(0),
        )),
        _ => None,
    };
    html! {
        section.card.block id={ "block-" (block.id) } {
            h2 {
                (block.weeks) "-week block "
                @match block.status.as_str() {
                    "running" => span.tag { "running" },
                    "reviewed" => span.tag { "reviewed" },
                    _ => span.tag { "ended without a review" },
                }
            }
            dl.facts {
                dt { "Dates" } dd { (day(block.starts_on)) " to " (day(block.ends_on)) }
                dt { "Sessions" }
                dd {
                    (block.sessions_per_week) " a week (" (weekday_titles(&block.weekdays)) "), "
                    (block.minutes) " minutes"
                    @if let Some(time) = &block.session_time { ", at " (time) }
                }
                dt { "Where" } dd { (place_title(&block.place)) }
                dt { "Run by" } dd { (runner(block, &data.names)) }
                dt { "Fidelity" }
                dd {
                    @match at_review {
                        Some(fidelity) => { (fidelity_summary(fidelity)) " at the review" },
                        None => { (fidelity_summary(counts.fidelity)) },
                    }
                    br;
                    span.small.counts {
                        "Pupil absent " (counts.pupil_absent)
                        " · not delivered " (counts.not_delivered)
                        " · not recorded " (counts.unrecorded)
                        " · upcoming " (counts.upcoming)
                    }
                }
                @if !lost.is_empty() {
                    dt { "Lost to closures" }
                    dd { @for (i, on) in lost.iter().enumerate() { @if i > 0 { ", " } (short_day(*on)) } }
                }
                @if let Some(decision) = &block.decision {
                    dt { "Review decision" }
                    dd {
                        strong { (decision_title(decision)) }
                        @if let Some(at) = block.reviewed_at { " on " (local(from_db_time(at))) }
                        @if let Some(by) = block.reviewed_by { " by " (name_in(&data.names, by)) }
                    }
                    @if let Some(reason) = &block.decision_reason {
                        dt { "Reason" } dd.note { (reason) }
                    }
                }
            }
            (sessions_table(view, &data.names, data.today))
        }
    }
}

fn plan_block_form(
    data: &ProgrammePage,
    block: ProgrammeBlock,
    values: &Fields,
    problem: Option<&Problem>,
    csrf: &str,
) -> Markup {
    let chosen_days: Vec<&str> = values.all("weekdays").collect();
    let chosen_practitioner = values.get("practitioner_id");
    html! {
        section.card #plan-block {
            h2 { "Plan the " (block.weeks()) "-week block" }
            @if data.plan.is_none() {
                p.error {
                    "Agree the Coaching Plan first: the programme works on its goals. "
                    a href={ "/pupils/" (data.pupil.id) "/plan" } { "Go to the Coaching Plan" }
                }
            } @else {
                p.hint {
                    "Sessions last " (MIN_SESSION_MINUTES) " to " (MAX_SESSION_MINUTES) " minutes, at least "
                    (data.min_per_week) " times a week (ideally three). A session on a day the school is closed is not moved: it is shown as lost."
                }
                form.stack method="post" action={ "/pupils/" (data.pupil.id) "/programme/blocks" } {
                    (csrf_field(csrf))
                    label for="starts_on" { "First day (a school day)" }
                    input #starts_on type="date" name="starts_on" required min=(data.today.to_string()) value=(values.raw("starts_on"));
                    (field_problem(problem, "starts_on"))
                    label for="sessions_per_week" { "Sessions a week" }
                    input #sessions_per_week type="number" name="sessions_per_week" required min=(data.min_per_week) max=(MAX_SESSIONS_PER_WEEK) value=(values.raw("sessions_per_week"));
                    (field_problem(problem, "sessions_per_week"))
                    fieldset {
                        legend { "On these days (one for each session)" }
                        @for (_, short, long) in WEEKDAYS {
                            label.choice {
                                input type="checkbox" name="weekdays" value=(short) checked[chosen_days.contains(&short)];
                                " " (long)
                            }
                        }
                        (field_problem(problem, "weekdays"))
                    }
                    label for="minutes" { "Minutes each session" }
                    input #minutes type="number" name="minutes" required min=(MIN_SESSION_MINUTES) max=(MAX_SESSION_MINUTES) value=(values.raw("minutes"));
                    (field_problem(problem, "minutes"))
                    label for="time" { "Start time (optional)" }
                    input #time type="time" name="time" value=(values.raw("time"));
                    (field_problem(problem, "time"))
                    fieldset {
                        legend { "Where" }
                        @for place in SessionPlace::ALL { (radio("place", place.as_str(), values, place.title())) }
                        (field_problem(problem, "place"))
                    }
                    fieldset {
                        legend { "Who runs the sessions" }
                        p.hint { "In school: a specialist practitioner on the staff or an outside professional. At home: a parent or carer, a coach or an outside professional." }
                        @for lead in SessionLead::ALL { (radio("led_by", lead.as_str(), values, lead.title())) }
                        (field_problem(problem, "led_by"))
                    }
                    label for="practitioner_id" { "The specialist practitioner (when one on the staff runs them)" }
                    select #practitioner_id name="practitioner_id" {
                        option value="" { "Choose" }
                        @for member in &data.practitioners {
                            @let id = member.id.to_string();
                            option value=(id) selected[chosen_practitioner == Some(id.as_str())] { (member.name) }
                        }
                    }
                    (field_problem(problem, "practitioner_id"))
                    label for="practitioner_name" { "Their name (when someone else runs them)" }
                    input #practitioner_name type="text" name="practitioner_name" maxlength=(MAX_NAME_CHARS) value=(values.raw("practitioner_name"));
                    (field_problem(problem, "practitioner_name"))
                    button.primary type="submit" { "Plan the block" }
                }
            }
        }
    }
}

fn render_programme(data: &ProgrammePage, form: &Form, notice: Option<&str>, csrf: &str) -> Markup {
    let (values, problem) = (&form.values, form.problem());
    let pupil = &data.pupil;
    let on_programme = pupil.level == Level::Programme;
    let on_form: &[&str] = match data.running() {
        Some(_) if on_programme => &REVIEW_FIELDS,
        None if on_programme && data.to_plan.is_some() => &BLOCK_FIELDS,
        _ => &[],
    };
    html! {
        h1 { "Coaching Programme" }
        p {
            a href={ "/pupils/" (pupil.id) } { (pupil.full_name()) }
            " · Year " (pupil.year) " · " (level_chip(pupil.level))
            " · " a href={ "/pupils/" (pupil.id) "/plan" } { "Coaching Plan" }
        }
        @if let Some(notice) = notice { p.notice role="status" { (notice) } }
        (problem_summary(problem, on_form))
        @if let Some(plan) = &data.plan {
            details.plan-goals {
                summary { "The plan's goals (version " (plan.row.version) ")" }
                ol { @for goal in &plan.goals { li { (goal.text) span.muted { " · " (goal.success_criterion) } } } }
            }
        }
        @if on_programme {
            @if let Some(running) = data.running() {
                (review_form(running, values, problem, csrf))
            } @else if let Some(block) = data.to_plan {
                (plan_block_form(data, block, values, problem, csrf))
            }
        } @else if data.blocks.is_empty() {
            p.muted {
                "A Coaching Programme follows the Coaching Plan meeting (level 5); "
                (pupil.full_name()) " is at " (pupil.level.title()) "."
            }
        }
        @if data.blocks.is_empty() {
            p.muted { "No block has been planned yet." }
        }
        @if let Some(running) = data.running().filter(|r| r.block.place == SessionPlace::AtHome.as_str()) {
            (home_share_part(data, running.block.id, form, csrf))
        }
        @for view in &data.blocks { (block_card(view, data)) }
    }
}

/// Sharing a running block delivered at home with whoever delivers it: who has a link, and
/// the form to send one.
fn home_share_part(data: &ProgrammePage, block_id: i64, form: &Form, csrf: &str) -> Markup {
    const NAME: &str = "share";
    html! {
        section.card #home-share {
            h2 { "Sessions recorded at home" }
            p.hint { "Whoever delivers the sessions at home gets an email with a link of their own to record each session (no account needed). It stops working once the block is reviewed." }
            @if !data.home_shares.is_empty() {
                ul.list {
                    @for share in &data.home_shares {
                        li { strong { (share.name) } @if let Some(email) = &share.email { " · " (email) } " · shared " (local(from_db_time(share.created_at))) }
                    }
                }
            }
            form.stack method="post" action={ "/pupils/" (data.pupil.id) "/programme/blocks/" (block_id) "/share" } {
                (csrf_field(csrf))
                label for="share-name" { "Name of the parent, carer or coach" }
                input #share-name type="text" name="name" maxlength="100" required value=(form.value_in(NAME, "name", ""));
                (form.problem_in(NAME, "name"))
                label for="share-email" { "Their email" }
                input #share-email type="email" name="email" maxlength="254" required value=(form.value_in(NAME, "email", ""));
                (form.problem_in(NAME, "email"))
                button type="submit" { "Share the sessions" }
            }
        }
    }
}

/// `POST /pupils/{id}/programme/blocks/{block_id}/share`: sends the person who delivers a
/// block at home a family link to record its sessions.
pub async fn share_block(
    visit: Visit,
    path: web::Path<(String, i64)>,
    form: CsrfForm<Fields>,
) -> PageResult {
    let (pupil, block_id) = path.into_inner();
    let pupil_id = pupil_id_of(&pupil)?;
    let typed = form.0.clone();
    visit
        .submit_to::<ProgrammePage, _, _>(
            pupil_id,
            Some("share".into()),
            form.0,
            Ok(typed),
            move |conn, by, context, typed| {
                crate::db::family::share_home_block(
                    conn,
                    by,
                    context,
                    block_id,
                    typed.raw("name"),
                    typed.raw("email"),
                    Utc::now(),
                )?;
                Ok(format!("/pupils/{pupil_id}/programme?done=shared"))
            },
        )
        .await
}

fn programme_notice(done: &str) -> Option<&'static str> {
    match done {
        "planned" => Some("The block is planned; its sessions are listed below."),
        "shared" => Some("The sessions are shared: an email with their link is on its way."),
        "goals_met" => {
            Some("The review is recorded: the goals are met, and the pupil steps down to the Coaching Plan.")
        }
        "next_block" => Some("The review is recorded: plan the next block below."),
        "provision_map" => Some(
            "The review is recorded: a Bespoke Provision Map follows, and its team meeting is due.",
        ),
        _ => None,
    }
}

impl FormPage for ProgrammePage {
    type Key = i64;
    const TITLE: &'static str = "Coaching Programme";
    const READ: Option<Read> = Some(Read::Programme);

    fn load(conn: &mut DbConnection, member: &StaffMember, pupil_id: i64) -> Result<Self> {
        load_programme_page(conn, member, pupil_id)
    }

    fn read_about(&self, pupil_id: i64) -> (Option<i64>, String) {
        (Some(pupil_id), String::new())
    }

    fn first_values(&self, _member: &StaffMember, _query: &Fields) -> Fields {
        programme_values(self)
    }

    fn notice(query: &Fields) -> Option<String> {
        query
            .get("done")
            .and_then(programme_notice)
            .map(String::from)
    }

    fn render(&self, form: &Form, notice: Option<&str>, csrf: &str) -> Markup {
        render_programme(self, form, notice, csrf)
    }
}

/// `GET /pupils/{id}/programme`: the pupil's programme blocks, newest first, with their
/// sessions and fidelity; the form to plan the current block, or to review the running one.
pub async fn show_programme(visit: Visit, path: web::Path<String>) -> PageResult {
    visit.show::<ProgrammePage>(pupil_id_of(&path)?).await
}

/// A block as asked for on the form, read but not yet checked.
struct BlockForm {
    starts_on: Option<NaiveDate>,
    sessions_per_week: u32,
    weekdays: Vec<Weekday>,
    minutes: u32,
    time: Option<NaiveTime>,
    place: String,
    led_by: String,
    practitioner_id: Option<i64>,
    practitioner_name: Option<String>,
}

fn read_block(fields: &Fields) -> std::result::Result<BlockForm, Problem> {
    let sessions_per_week = number_in("sessions_per_week", fields.get("sessions_per_week"))?
        .ok_or_else(|| Problem::at("sessions_per_week", "say how many sessions a week"))?;
    let weekdays = fields
        .all("weekdays")
        .map(|d| {
            programmes::parse_weekday(d)
                .map_err(|_| Problem::at("weekdays", "choose days from Monday to Friday"))
        })
        .collect::<std::result::Result<Vec<_>, _>>()?;
    let minutes = number_in("minutes", fields.get("minutes"))?
        .ok_or_else(|| Problem::at("minutes", "say how long each session lasts"))?;
    let time = fields
        .get("time")
        .map(|raw| {
            NaiveTime::parse_from_str(raw, "%H:%M")
                .or_else(|_| NaiveTime::parse_from_str(raw, "%H:%M:%S"))
                .map_err(|_| Problem::at("time", "must be a time of day, such as 10:30"))
        })
        .transpose()?;
    let practitioner_id = fields
        .get("practitioner_id")
        .map(|raw| {
            raw.parse::<i64>()
                .map_err(|_| Problem::at("practitioner_id", "choose a practitioner from the list"))
        })
        .transpose()?;
    Ok(BlockForm {
        starts_on: date_in("starts_on", fields.get("starts_on"))?,
        sessions_per_week,
        weekdays,
        minutes,
        time,
        place: fields.raw("place").to_string(),
        led_by: fields.raw("led_by").to_string(),
        practitioner_id,
        practitioner_name: fields.get("practitioner_name").map(str::to_string),
    })
}

/// `POST /pupils/{id}/programme/blocks`: plans the pupil's current block; its sessions are
/// laid out on school days and its review is due on the final session's day.
pub async fn plan_block(
    visit: Visit,
    path: web::Path<String>,
    form: CsrfForm<Fields>,
) -> PageResult {
    let pupil_id = pupil_id_of(&path)?;
    let asked = read_block(&form.0);
    visit
        .submit::<ProgrammePage, _, _>(pupil_id, form.0, asked, move |conn, by, _, asked| {
            let rules = evaluation::load_rules(conn, by.school_id)?;
            let request = BlockRequest {
                pupil_id,
                starts_on: asked.starts_on,
                sessions_per_week: asked.sessions_per_week,
                weekdays: &asked.weekdays,
                minutes: asked.minutes,
                time: asked.time,
                place: &asked.place,
                led_by: &asked.led_by,
                practitioner_id: asked.practitioner_id,
                practitioner_name: asked.practitioner_name.as_deref(),
            };
            programmes::plan_block(conn, by, &request, &rules, Utc::now())?;
            Ok(format!("/pupils/{pupil_id}/programme?done=planned"))
        })
        .await
}
