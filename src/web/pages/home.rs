//! The home page: what each role needs first, one section per role the member holds.

use std::collections::HashMap;

use actix_session::Session;
use actix_web::{http::header, web, HttpResponse};
use chrono::Utc;
use maud::{html, Markup};

use super::layout::{level_badge, page, public_page};
use super::with_counted_viewer;
use crate::db::houses;
use crate::db::inbox;
use crate::db::models::{IncidentRow, MeetingRow};
use crate::db::overview::{self, MeetingCounts, Scope};
use crate::db::pastoral::Led;
use crate::db::pupils::{self, PupilView};
use crate::db::staff::StaffMember;
use crate::db::{schools, DbConnection};
use crate::domain::calendar::SchoolCalendar;
use crate::domain::visibility::Record;
use crate::domain::words::{level_of, MeetingKind};
use crate::domain::{Level, Role};
use crate::error::Result;
use crate::web::auth::SignedIn;
use crate::web::error::PageError;
use crate::web::AppState;

/// Everything the home page shows, gathered in one transaction.
struct HomeData {
    school_name: String,
    sections: Vec<Section>,
    pupils: HashMap<i64, PupilView>,
    /// Open suggestions waiting for the member, for members with an inbox.
    decisions: Option<i64>,
}

/// One block of the home page.
enum Section {
    /// Pupils needing support in some year groups and houses (a Head of Year's or House's),
    /// or the whole school.
    Overview {
        heading: String,
        levels: [i64; 7],
        meetings: MeetingCounts,
        open_suggestions: i64,
        upcoming: Vec<MeetingRow>,
        highest: Vec<i64>,
    },
    /// What a member of staff logged lately.
    MyIncidents(Vec<(IncidentRow, Vec<i64>)>),
}

/// `GET /`: the signed-in member's home page; the getting-started page on an empty deployment.
pub async fn home(
    user: Option<SignedIn>,
    session: Session,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let Some(SignedIn(member)) = user else {
        if super::second_factor::must_enrol(&session) {
            return Ok(super::form::see_other(super::second_factor::SECURITY_PAGE));
        }
        let schools = state.db.transaction(schools::count).await?;
        if schools > 0 {
            return Ok(HttpResponse::SeeOther()
                .insert_header((header::LOCATION, "/login"))
                .finish());
        }
        return Ok(html(getting_started()));
    };
    let for_member = member.clone();
    let data = state
        .db
        .transaction(move |conn| gather(conn, &for_member))
        .await?;
    let progress = super::setup::progress_for(&state, &member).await?;
    let markup = with_counted_viewer(&member, &session, data.decisions, |viewer| {
        let checklist = progress.map(|p| super::setup::checklist(&p, viewer.csrf));
        page(
            "Home",
            viewer,
            html! { (checklist.unwrap_or_default()) (render(&member, &data)) },
        )
    });
    Ok(html(markup))
}

fn html(markup: Markup) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(markup.into_string())
}

/// How many pupils the section lists at the highest levels.
const HIGHEST_SHOWN: usize = 12;

/// Builds the overview of one scope.
fn overview_section(
    conn: &mut DbConnection,
    member: &StaffMember,
    heading: String,
    scope: Scope,
) -> Result<Section> {
    let today = SchoolCalendar::local_date(Utc::now());
    let led = scope.led.as_ref();
    let min_level = scope.min_level.unwrap_or(Level::Conversation);
    let (levels, highest) = match &scope.pupils {
        Some(ids) => named_pupils_by_level(conn, member.school_id, ids)?,
        None => (
            pupils::count_by_level(conn, member.school_id, led)?,
            pupils::at_levels(conn, member.school_id, min_level, led, HIGHEST_SHOWN as i64)?
                .into_iter()
                .map(|p| p.id)
                .collect(),
        ),
    };
    Ok(Section::Overview {
        heading,
        levels,
        meetings: overview::meeting_counts(conn, member.school_id, &scope, today)?,
        open_suggestions: overview::open_suggestion_count(conn, member.school_id, &scope)?,
        upcoming: overview::open_meetings(conn, member.school_id, &scope, 8)?,
        highest,
    })
}

/// The named pupils (still at the school) counted by level, and the highest of them.
fn named_pupils_by_level(
    conn: &mut DbConnection,
    school_id: i64,
    ids: &[i64],
) -> Result<([i64; 7], Vec<i64>)> {
    let mut named: Vec<PupilView> = pupils::by_ids(conn, school_id, ids)?
        .into_values()
        .filter(|p| p.left_on.is_none())
        .collect();
    let mut levels = [0; 7];
    for pupil in &named {
        levels[pupil.level.number() as usize] += 1;
    }
    named.sort_by_key(|p| (std::cmp::Reverse(p.level), p.level_since, p.id));
    let highest = named.iter().take(HIGHEST_SHOWN).map(|p| p.id).collect();
    Ok((levels, highest))
}

/// The pupils whose Coaching Programme sessions the member delivers and may read, by id.
fn programme_pupils(conn: &mut DbConnection, member: &StaffMember) -> Result<Vec<i64>> {
    let ids = overview::programme_pupils_of(conn, member.school_id, member.id)?;
    Ok(pupils::by_ids(conn, member.school_id, &ids)?
        .into_values()
        .filter(|p| member.may_read_of_programme(p.place(), Record::Session, Some(member.id)))
        .map(|p| p.id)
        .collect())
}

fn gather(conn: &mut DbConnection, member: &StaffMember) -> Result<HomeData> {
    let school = schools::get(conn, member.school_id)?;
    let mut sections = Vec::new();
    if member.leads_anyone() {
        let led = Led::of(member);
        let mut parts = Vec::new();
        if !led.years.is_empty() {
            let years: Vec<String> = led.years.iter().map(|y| y.to_string()).collect();
            parts.push(format!("Your year groups: {}", years.join(", ")));
        }
        if !led.houses.is_empty() {
            let names = houses::names(conn, member.school_id)?;
            let mut houses: Vec<&str> = led
                .houses
                .iter()
                .filter_map(|id| names.get(id).map(String::as_str))
                .collect();
            houses.sort_unstable();
            let label = if parts.is_empty() {
                "Your houses"
            } else {
                "your houses"
            };
            parts.push(format!("{label}: {}", houses.join(", ")));
        }
        let scope = Scope {
            led: Some(led),
            ..Scope::default()
        };
        sections.push(overview_section(conn, member, parts.join("; "), scope)?);
    }
    if member.has_role(Role::Sendco) {
        let scope = Scope {
            min_level: Some(Level::Plan),
            ..Scope::default()
        };
        sections.push(overview_section(
            conn,
            member,
            "Plans, programmes and provision maps".into(),
            scope,
        )?);
    }
    if member.has_role(Role::Specialist) {
        let scope = Scope {
            pupils: Some(programme_pupils(conn, member)?),
            ..Scope::default()
        };
        sections.push(overview_section(
            conn,
            member,
            "Your Coaching Programme pupils".into(),
            scope,
        )?);
    }
    if member.has_any_role(&[Role::Slt, Role::Admin]) {
        sections.push(overview_section(
            conn,
            member,
            "The whole school".into(),
            Scope::default(),
        )?);
    }
    if member.has_any_role(&[Role::ClassStaff, Role::Hod, Role::PastoralLead])
        || sections.is_empty()
    {
        sections.push(Section::MyIncidents(overview::recent_incidents_by(
            conn,
            member.school_id,
            member.id,
            10,
        )?));
    }
    let mut ids: Vec<i64> = Vec::new();
    for section in &sections {
        match section {
            Section::Overview {
                upcoming, highest, ..
            } => {
                ids.extend(upcoming.iter().map(|m| m.pupil_id));
                ids.extend(highest);
            }
            Section::MyIncidents(incidents) => {
                ids.extend(incidents.iter().flat_map(|(_, p)| p.iter().copied()));
            }
        }
    }
    ids.sort_unstable();
    ids.dedup();
    let pupils = pupils::by_ids(conn, member.school_id, &ids)?;
    let today = SchoolCalendar::local_date(Utc::now());
    Ok(HomeData {
        school_name: school.name,
        sections,
        pupils,
        decisions: inbox::count_for_nav(conn, member, today)?,
    })
}

fn pupil_link(pupils: &HashMap<i64, PupilView>, id: i64) -> Markup {
    match pupils.get(&id) {
        Some(p) => {
            html! { a href={ "/pupils/" (p.id) } { (p.full_name()) } " " span.muted { (p.form) } }
        }
        None => html! { span.muted { "pupil " (id) } },
    }
}

fn render(member: &StaffMember, data: &HomeData) -> Markup {
    let today = SchoolCalendar::local_date(Utc::now());
    html! {
        h1 { (data.school_name) }
        p.muted { "Signed in as " (member.name) " · "
            @for (i, role) in member.roles.iter().enumerate() {
                @if i > 0 { ", " } (role.title())
            }
        }
        @if member.has_any_role(&[Role::ClassStaff, Role::Hod, Role::PastoralLead]) {
            p.first-action {
                a.button.primary.big #log-first href="/log" { "Log a prompt or incident" }
            }
        }
        form.search method="get" action="/pupils" role="search" {
            label for="q" { "Find a pupil" }
            div.row {
                input #q type="search" name="q" placeholder="Name or UPN" autocomplete="off";
                button type="submit" { "Search" }
            }
        }
        @for section in &data.sections {
            @match section {
                Section::Overview { heading, levels, meetings, open_suggestions, upcoming, highest } => {
                    section.card {
                        h2 { (heading) }
                        div.stats {
                            @if data.decisions.is_some() {
                                a.stat.decisions href="/inbox" { strong { (open_suggestions) } span { "suggestions to decide" } }
                            } @else {
                                div.stat { strong { (open_suggestions) } span { "suggestions to decide" } }
                            }
                            div.stat { strong { (meetings.due) } span { "meetings due" } }
                            div.stat.alert[meetings.overdue > 0] { strong { (meetings.overdue) } span { "meetings overdue" } }
                            div.stat { strong { (meetings.scheduled) } span { "meetings booked" } }
                        }
                        table.levels {
                            thead { tr { th { "Level" } th.num { "Pupils" } } }
                            tbody {
                                @for level in Level::ALL {
                                    tr { td { (level_badge(level)) } td.num { (levels[level.number() as usize]) } }
                                }
                            }
                        }
                        @if !upcoming.is_empty() {
                            h3 { "Meetings waiting" }
                            ul.list {
                                @for meeting in upcoming {
                                    li {
                                        (pupil_link(&data.pupils, meeting.pupil_id)) " · "
                                        (MeetingKind::of_stored(level_of(meeting.level), &meeting.purpose).name())
                                        " · "
                                        @let state = meeting.state(today);
                                        span class=(state.tag_class()) { (state.phrase()) }
                                    }
                                }
                            }
                        }
                        @if !highest.is_empty() {
                            h3 { "Highest levels of support" }
                            ul.list {
                                @for id in highest {
                                    @if let Some(p) = data.pupils.get(id) {
                                        li { (pupil_link(&data.pupils, *id)) " " (level_badge(p.level)) }
                                    }
                                }
                            }
                        }
                    }
                }
                Section::MyIncidents(incidents) => {
                    section.card {
                        h2 { "What you logged lately" }
                        @if incidents.is_empty() {
                            p.muted { "Nothing yet. Find a pupil to see their support so far." }
                        } @else {
                            ul.list {
                                @for (incident, pupil_ids) in incidents {
                                    li {
                                        (incident.occurred_at.and_utc().with_timezone(&crate::domain::calendar::SCHOOL_TZ).format("%a %-d %b %H:%M"))
                                        " · " (incident.behaviour) " · "
                                        @for (i, id) in pupil_ids.iter().enumerate() {
                                            @if i > 0 { ", " } (pupil_link(&data.pupils, *id))
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// What an empty deployment shows: how to begin.
fn getting_started() -> Markup {
    public_page(
        "Getting started",
        html! {
            h1 { "Welcome to Steadfast" }
            p { "This Steadfast has no school yet." }
            h2 { "Set up your school" }
            p { "Open the set-up link " code { "steadfast serve" } " printed when it started: it creates your school and your administrator account, then walks you through bringing in staff, pupils, the calendar and the timetable from the files your MIS exports." }
            h2 { "Or try it with the demo school" }
            pre { code { "steadfast demo" } }
            p { "This loads a realistic school of about 1,000 pupils with a term of records, and prints the demo logins." }
        },
    )
}
