//! Insight pages. The pattern report: a scope's incidents over any date range grouped by
//! lesson period (the school's own timetable), place, behaviour, day of the week, subject, pupil and member of staff, each
//! group with its rate per 100 pupils per school day, every bar leading to the incidents
//! behind it; the same figures as CSV. On the pupil page, a pupil's weekly incidents with
//! their level changes marked, and whether each step up helped.

use std::collections::{BTreeSet, HashMap};

use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{NaiveDate, TimeDelta, Utc};
use diesel::prelude::*;
use maud::{html, Markup};

use super::charts::{bar_chart, line_chart, Bar, Marker, Point};
use super::form::{
    csv_bytes, csv_response, field_problem, html_response, local, problem_summary, text_cell,
    Fields, Problem,
};
use super::layout::page;
use super::report_scope::{read_report_ask, ReportAsk, ReportRules, ScopeKind};
use super::with_viewer;
use crate::db::insight::{self, may_see, Reach, Scope};
use crate::db::pupils::PupilView;
use crate::db::schema::{forms, year_groups};
use crate::db::staff::StaffMember;
use crate::db::{evaluation, from_db_time, houses, timetable, DbConnection};
use crate::domain::calendar::SchoolCalendar;
use crate::domain::insight::{
    group_of, rate_per_100, school_days_in, tally, weekly, Dimension, IncidentFact, StepImpact,
    ERASED, ERASED_PUPILS,
};
use crate::error::{Error, Result};
use crate::web::auth::SignedIn;
use crate::web::error::PageError;
use crate::web::AppState;

/// The range a report covers when none is chosen: the last six weeks to today.
const DEFAULT_DAYS: i64 = 6 * 7 - 1;

/// The longest range a report covers, in days.
const MAX_RANGE_DAYS: i64 = 400;

/// Most groups shown for the pupil and staff dimensions.
const TOP_GROUPS: usize = 15;

/// Most incidents listed behind one bar.
const DRILL_LIMIT: usize = 500;

/// Weeks in the pupil page's trend line.
const TREND_WEEKS: i64 = 12;

/// How far back the pupil page looks for steps to judge, in days.
const STEPS_DAYS: i64 = 365;

/// The fields of the report's form.
const FORM_FIELDS: [&str; 7] = ["scope", "year", "form", "house", "pupil", "from", "to"];

fn today() -> NaiveDate {
    SchoolCalendar::local_date(Utc::now())
}

fn date(on: NaiveDate) -> String {
    on.format("%a %-d %b %Y").to_string()
}

// ---------------------------------------------------------------------------------------------
// The request: scope and range
// ---------------------------------------------------------------------------------------------

/// What a pattern report is asked for: whose incidents, and from when to when.
type Ask = ReportAsk;

/// The scopes and ranges the pattern report accepts.
const RULES: ReportRules = ReportRules {
    scopes: &[
        ScopeKind::School,
        ScopeKind::Year,
        ScopeKind::Form,
        ScopeKind::House,
        ScopeKind::Pupil,
    ],
    default_from: |to| to - TimeDelta::days(DEFAULT_DAYS),
    max_days: MAX_RANGE_DAYS,
};

impl ReportAsk {
    /// The link to the incidents behind one group.
    fn drill_link(&self, dimension: Dimension, key: &str) -> String {
        let extra = serde_urlencoded::to_string([("dimension", dimension.as_str()), ("key", key)])
            .unwrap_or_default();
        format!("/insight/incidents?{}&{extra}", self.query())
    }
}

/// Reads the scope and range, with the first problem in them (see [`read_report_ask`]).
fn read_ask(member: &StaffMember, query: &Fields, today: NaiveDate) -> (Ask, Option<Problem>) {
    read_report_ask(member, query, &RULES, today)
}

/// Checks the member may see the scope's reports (another school's form, house or pupil is
/// not found).
fn permit(conn: &mut DbConnection, member: &StaffMember, scope: Scope) -> Result<()> {
    let reach = insight::reach_of(conn, member.school_id, scope)?;
    if may_see(member, reach) {
        Ok(())
    } else {
        Err(Error::Forbidden(
            "these patterns are for the pupils' Head of Year or Head of House, heads of department, the SENDCO and SLT"
                .into(),
        ))
    }
}

// ---------------------------------------------------------------------------------------------
// The report
// ---------------------------------------------------------------------------------------------

/// One group of a dimension, named and rated.
struct Row {
    key: String,
    label: String,
    incidents: u32,
    rate: Option<f64>,
    /// The pupil the group is, for the pupil dimension.
    pupil: Option<i64>,
}

impl Row {
    /// "12 (3.4 per 100 pupils a day)".
    fn display(&self) -> String {
        format!("{} ({})", self.incidents, rate_text(self.rate))
    }
}

/// A rate as people read it: "3.4 per 100 pupils a day", or "0.04 ..." below 1, so a small
/// rate never reads as none.
fn rate_text(rate: Option<f64>) -> String {
    match rate {
        Some(rate) if rate > 0.0 && rate < 1.0 => format!("{rate:.2} per 100 pupils a day"),
        Some(rate) => format!("{rate:.1} per 100 pupils a day"),
        None => "no school days to rate".to_string(),
    }
}

/// A rate for the CSV: two decimals, blank when there is none.
fn rate_cell(rate: Option<f64>) -> String {
    rate.map(|r| format!("{r:.2}")).unwrap_or_default()
}

/// The choices of the report's form.
struct Choices {
    /// Whether the member may see the whole school.
    school: bool,
    years: Vec<i16>,
    forms: Vec<(i64, String, i16)>,
    /// The houses the member may see, by name.
    houses: Vec<(i64, String)>,
}

/// Everything a pattern report shows.
struct Report {
    ask: Ask,
    /// What the scope is called: "the whole school", "Year 9", "form 9B", a pupil's name.
    scope_name: String,
    pupils: u64,
    school_days: u32,
    total: u64,
    dimensions: Vec<(Dimension, Vec<Row>, usize)>,
}

fn scope_name(conn: &mut DbConnection, school_id: i64, scope: Scope) -> Result<String> {
    Ok(match scope {
        Scope::School => "the whole school".to_string(),
        Scope::Year(year) => format!("Year {year}"),
        Scope::Form(id) => {
            let name: Option<String> = forms::table
                .filter(forms::id.eq(id))
                .filter(forms::school_id.eq(school_id))
                .select(forms::name)
                .first(conn)
                .optional()?;
            format!("form {}", name.unwrap_or_default())
        }
        Scope::House(id) => {
            let names = houses::names(conn, school_id)?;
            format!("house {}", names.get(&id).cloned().unwrap_or_default())
        }
        Scope::Pupil(id) => {
            let (pupils, _) = insight::names(conn, school_id, &[id], &[])?;
            pupils.get(&id).cloned().unwrap_or_default()
        }
    })
}

fn choices(conn: &mut DbConnection, member: &StaffMember) -> Result<Choices> {
    let years: Vec<i16> = year_groups::table
        .filter(year_groups::school_id.eq(member.school_id))
        .select(year_groups::year)
        .order(year_groups::year)
        .load::<i16>(conn)?
        .into_iter()
        .filter(|y| may_see(member, Reach::Year(*y)))
        .collect();
    let forms: Vec<(i64, String, i16)> = forms::table
        .inner_join(year_groups::table)
        .filter(forms::school_id.eq(member.school_id))
        .select((forms::id, forms::name, year_groups::year))
        .order((year_groups::year, forms::name))
        .load::<(i64, String, i16)>(conn)?
        .into_iter()
        .filter(|(_, _, y)| may_see(member, Reach::Year(*y)))
        .collect();
    let mut houses: Vec<(i64, String)> = houses::names(conn, member.school_id)?
        .into_iter()
        .filter(|(id, _)| may_see(member, Reach::House(*id)))
        .collect();
    houses.sort_by(|a, b| a.1.cmp(&b.1).then(a.0.cmp(&b.0)));
    Ok(Choices {
        school: may_see(member, Reach::School),
        years,
        forms,
        houses,
    })
}

/// Reads and groups a scope's incidents; `all` keeps every group of the pupil and staff
/// dimensions (for the CSV), otherwise the top [`TOP_GROUPS`].
fn build_report(conn: &mut DbConnection, school_id: i64, ask: Ask, all: bool) -> Result<Report> {
    let calendar = evaluation::load_rules(conn, school_id)?.calendar;
    let timetable = timetable::load(conn, school_id)?;
    let pupils = insight::pupils_in(conn, school_id, ask.scope)?.len() as u64;
    let school_days = school_days_in(&calendar, ask.from, ask.to);
    let facts = insight::facts(conn, school_id, ask.scope, ask.from, ask.to)?;
    let mut dimensions = Vec::new();
    let mut pupil_ids = BTreeSet::new();
    let mut staff_ids = BTreeSet::new();
    for dimension in Dimension::ALL {
        let mut groups = tally(&facts, dimension, &timetable);
        let total_groups = groups.len();
        if !all && matches!(dimension, Dimension::Pupil | Dimension::Staff) {
            groups.truncate(TOP_GROUPS);
        }
        for group in &groups {
            if let Ok(id) = group.key.parse::<i64>() {
                match dimension {
                    Dimension::Pupil => {
                        pupil_ids.insert(id);
                    }
                    Dimension::Staff => {
                        staff_ids.insert(id);
                    }
                    _ => {}
                }
            }
        }
        dimensions.push((dimension, groups, total_groups));
    }
    let pupil_ids: Vec<i64> = pupil_ids.into_iter().collect();
    let staff_ids: Vec<i64> = staff_ids.into_iter().collect();
    let (pupil_names, staff_names) = insight::names(conn, school_id, &pupil_ids, &staff_ids)?;
    let dimensions = dimensions
        .into_iter()
        .map(|(dimension, groups, total_groups)| {
            let rows = groups
                .into_iter()
                .map(|group| {
                    let id = group.key.parse::<i64>().ok();
                    let named = |names: &HashMap<i64, String>| {
                        id.and_then(|id| names.get(&id).cloned())
                            .unwrap_or_else(|| "Unknown".to_string())
                    };
                    let label = match dimension {
                        Dimension::Pupil if id == Some(ERASED) => ERASED_PUPILS.to_string(),
                        Dimension::Pupil => named(&pupil_names),
                        Dimension::Staff => named(&staff_names),
                        _ => group.key.clone(),
                    };
                    Row {
                        rate: rate_per_100(u64::from(group.incidents), pupils, school_days),
                        pupil: id.filter(|id| dimension == Dimension::Pupil && *id != ERASED),
                        key: group.key,
                        label,
                        incidents: group.incidents,
                    }
                })
                .collect();
            (dimension, rows, total_groups)
        })
        .collect();
    Ok(Report {
        scope_name: scope_name(conn, school_id, ask.scope)?,
        ask,
        pupils,
        school_days,
        total: facts.len() as u64,
        dimensions,
    })
}

fn render_form(ask: &Ask, query: &Fields, problem: Option<&Problem>, choices: &Choices) -> Markup {
    let (scope, year, form, house) = match ask.scope {
        Scope::School => ("school", None, None, None),
        Scope::Year(y) => ("year", Some(y), None, None),
        Scope::Form(f) => ("form", None, Some(f), None),
        Scope::House(h) => ("house", None, None, Some(h)),
        Scope::Pupil(_) => ("pupil", None, None, None),
    };
    let shown = |name: &str, fallback: String| {
        if problem.is_some() && !query.raw(name).is_empty() {
            query.raw(name).to_string()
        } else {
            fallback
        }
    };
    html! {
        form.filters.insight-filters method="get" action="/insight" {
            (problem_summary(problem, &FORM_FIELDS))
            div.row {
                label for="scope" { "Whose incidents" }
                select #scope name="scope" {
                    @if choices.school { option value="school" selected[scope == "school"] { "The whole school" } }
                    option value="year" selected[scope == "year"] { "A year group" }
                    option value="form" selected[scope == "form"] { "A form" }
                    @if !choices.houses.is_empty() {
                        option value="house" selected[scope == "house"] { "A house" }
                    }
                    @if matches!(ask.scope, Scope::Pupil(_)) {
                        option value="pupil" selected { "This pupil" }
                    }
                }
                @if let Scope::Pupil(id) = ask.scope { input type="hidden" name="pupil" value=(id); }
                label for="year" { "Year group" }
                select #year name="year" {
                    @for y in &choices.years {
                        option value=(y) selected[year == Some(*y)] { "Year " (y) }
                    }
                }
                label for="form" { "Form" }
                select #form name="form" {
                    option value="" { "Choose a form" }
                    @for (id, name, _) in &choices.forms {
                        option value=(id) selected[form == Some(*id)] { (name) }
                    }
                }
                @if !choices.houses.is_empty() {
                    label for="house" { "House" }
                    select #house name="house" {
                        option value="" { "Choose a house" }
                        @for (id, name) in &choices.houses {
                            option value=(id) selected[house == Some(*id)] { (name) }
                        }
                    }
                }
                label for="from" { "From" }
                input #from type="date" name="from" value=(shown("from", ask.from.to_string()));
                label for="to" { "To" }
                input #to type="date" name="to" value=(shown("to", ask.to.to_string()));
                button type="submit" { "Show" }
            }
            @for field in FORM_FIELDS { (field_problem(problem, field)) }
        }
    }
}

fn render_report(report: &Report) -> Markup {
    let ask = &report.ask;
    let overall = rate_per_100(report.total, report.pupils, report.school_days);
    html! {
        section.card.insight-headline #headline {
            h2 { "Incidents for " (report.scope_name) }
            p.muted { (date(ask.from)) " to " (date(ask.to)) }
            dl.facts {
                dt { "Incidents" } dd #total { (report.total) }
                dt { "Pupils" } dd #pupils { (report.pupils) }
                dt { "School days" } dd #school-days { (report.school_days) }
                dt { "Rate" } dd #rate { (rate_text(overall)) }
            }
            p.small.muted {
                "An incident with several pupils counts once for each of them. "
                "Choose a bar to see the incidents behind it."
            }
            p { a.button href={ "/insight.csv?" (ask.query()) } { "Download these patterns (CSV)" } }
        }
        @for (dimension, rows, total_groups) in &report.dimensions {
            section.card.insight-dimension id={ "by-" (dimension.as_str()) } {
                @if rows.is_empty() {
                    h2 { (dimension.title()) }
                    p.muted { "No incidents." }
                } @else {
                    @let bars: Vec<Bar> = rows.iter().map(|row| Bar {
                        label: row.label.clone(),
                        value: f64::from(row.incidents),
                        display: row.display(),
                        href: Some(ask.drill_link(*dimension, &row.key)),
                    }).collect();
                    (bar_chart(&format!("chart-{}", dimension.as_str()), dimension.title(), "Incidents", &bars))
                    @if *total_groups > rows.len() {
                        p.small.muted { "The " (rows.len()) " with most incidents of " (total_groups) "." }
                    }
                    @if *dimension == Dimension::Pupil {
                        p.small.pupil-reports {
                            "Patterns for one pupil: "
                            @for (i, row) in rows.iter().enumerate() {
                                @if let Some(id) = row.pupil {
                                    @if i > 0 { ", " }
                                    a href={ "/insight?" (Ask { scope: Scope::Pupil(id), ..*ask }.query()) } { (row.label) }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// `GET /insight?scope=&year=&form=&pupil=&from=&to=`: the pattern report of a scope.
pub async fn show(
    SignedIn(member): SignedIn,
    session: Session,
    request: HttpRequest,
    state: web::Data<AppState>,
) -> std::result::Result<HttpResponse, PageError> {
    let query = Fields::from_query(request.query_string());
    let (ask, problem) = read_ask(&member, &query, today());
    let for_member = member.clone();
    let wanted = problem.is_none();
    let (choices, report) = state
        .db
        .transaction(move |conn| {
            permit(conn, &for_member, ask.scope)?;
            let choices = choices(conn, &for_member)?;
            let report = if wanted {
                Some(build_report(conn, for_member.school_id, ask, false)?)
            } else {
                None
            };
            Ok((choices, report))
        })
        .await?;
    let status = if problem.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    let body = html! {
        h1 { "Incident patterns" }
        p.muted {
            "Which lesson period, place and behaviour bring the most incidents, with rates per 100 pupils "
            "per school day so that groups and ranges of different sizes compare fairly."
        }
        (render_form(&ask, &query, problem.as_ref(), &choices))
        @if let Some(report) = &report { (render_report(report)) }
    };
    let markup = with_viewer(&member, &session, |viewer| {
        page("Incident patterns", viewer, body)
    });
    Ok(html_response(status, markup))
}

// ---------------------------------------------------------------------------------------------
// The incidents behind a bar
// ---------------------------------------------------------------------------------------------

/// The incidents behind one group.
struct Drill {
    scope_name: String,
    rows: Vec<(
        crate::db::models::IncidentRow,
        Vec<crate::db::models::PupilRow>,
    )>,
    staff: HashMap<i64, String>,
    total: usize,
    /// Incidents counted here whose records the retention schedule has erased.
    erased: usize,
    group: String,
}

fn build_drill(
    conn: &mut DbConnection,
    school_id: i64,
    ask: Ask,
    dimension: Dimension,
    key: &str,
) -> Result<Drill> {
    let facts = insight::facts(conn, school_id, ask.scope, ask.from, ask.to)?;
    let timetable = timetable::load(conn, school_id)?;
    let matching: Vec<&IncidentFact> = facts
        .iter()
        .filter(|fact| group_of(fact, dimension, &timetable) == key)
        .collect();
    // Facts come oldest first: keep the newest distinct incidents.
    let erased = matching
        .iter()
        .filter(|fact| fact.incident_id == ERASED)
        .count();
    let mut seen = BTreeSet::new();
    let mut ids = Vec::new();
    for fact in matching.iter().rev().filter(|f| f.incident_id != ERASED) {
        if seen.insert(fact.incident_id) && ids.len() < DRILL_LIMIT {
            ids.push(fact.incident_id);
        }
    }
    let rows = insight::incidents_by_id(conn, school_id, &ids)?;
    let mut staff_ids: Vec<i64> = rows.iter().map(|(row, _)| row.reported_by).collect();
    let key_id = key.parse::<i64>().ok();
    if let (Dimension::Staff, Some(id)) = (dimension, key_id) {
        staff_ids.push(id);
    }
    staff_ids.sort_unstable();
    staff_ids.dedup();
    let pupil_ids: Vec<i64> = key_id
        .filter(|_| dimension == Dimension::Pupil)
        .into_iter()
        .collect();
    let (pupil_names, staff) = insight::names(conn, school_id, &pupil_ids, &staff_ids)?;
    let group = match (dimension, key_id) {
        (Dimension::Pupil, Some(ERASED)) => ERASED_PUPILS.to_string(),
        (Dimension::Pupil, Some(id)) => pupil_names.get(&id).cloned().unwrap_or_default(),
        (Dimension::Staff, Some(id)) => staff.get(&id).cloned().unwrap_or_default(),
        _ => key.to_string(),
    };
    Ok(Drill {
        scope_name: scope_name(conn, school_id, ask.scope)?,
        rows,
        staff,
        total: seen.len(),
        erased,
        group,
    })
}

fn render_drill(ask: &Ask, dimension: Dimension, drill: &Drill) -> Markup {
    html! {
        h1 { "Incidents: " (drill.group) }
        p.muted {
            (dimension.title()) " · " (drill.scope_name) " · " (date(ask.from)) " to " (date(ask.to))
        }
        p { a href={ "/insight?" (ask.query()) } { "Back to the patterns" } }
        @if drill.total > drill.rows.len() {
            p.notice #more role="status" {
                "Showing the newest " (drill.rows.len()) " of " (drill.total) " incidents. Choose a shorter range to see them all."
            }
        }
        @if drill.erased > 0 {
            p.muted #erased {
                "The patterns also count " (drill.erased) " incident(s) of pupils whose records were erased under the school's retention schedule; they cannot be listed."
            }
        }
        @if drill.rows.is_empty() {
            p.muted { "No incidents." }
        } @else {
            div.scroll tabindex="0" role="region" aria-label="Incidents" {
                table.insight-incidents {
                    thead { tr {
                        th { "Date and time" } th { "Pupils" } th { "Behaviour" } th { "Place" } th { "Lesson" } th { "Logged by" }
                    } }
                    tbody {
                        @for (row, pupils) in &drill.rows {
                            tr data-incident=(row.id) {
                                td { (local(from_db_time(row.occurred_at))) }
                                td {
                                    @for (i, pupil) in pupils.iter().enumerate() {
                                        @if i > 0 { ", " }
                                        a href={ "/pupils/" (pupil.id) } { (pupil.given_name) " " (pupil.family_name) }
                                    }
                                }
                                td { (row.behaviour) }
                                td { (row.location.as_deref().unwrap_or("")) }
                                td { (row.lesson.as_deref().unwrap_or("")) }
                                td { (drill.staff.get(&row.reported_by).map_or("", String::as_str)) }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// `GET /insight/incidents?...&dimension=D&key=K`: the incidents behind one bar, newest
/// first.
pub async fn incidents(
    SignedIn(member): SignedIn,
    session: Session,
    request: HttpRequest,
    state: web::Data<AppState>,
) -> std::result::Result<HttpResponse, PageError> {
    let query = Fields::from_query(request.query_string());
    let (ask, problem) = read_ask(&member, &query, today());
    let dimension = query
        .get("dimension")
        .and_then(Dimension::parse)
        .ok_or_else(|| Error::invalid("dimension", "choose what the incidents are grouped by"))?;
    let key = query.raw("key").trim().to_string();
    if let Some(problem) = &problem {
        return Err(Error::from(problem).into());
    }
    let for_member = member.clone();
    let wanted = key.clone();
    let drill = state
        .db
        .transaction(move |conn| {
            permit(conn, &for_member, ask.scope)?;
            build_drill(conn, for_member.school_id, ask, dimension, &wanted)
        })
        .await?;
    let markup = with_viewer(&member, &session, |viewer| {
        page(
            "Incidents behind a pattern",
            viewer,
            render_drill(&ask, dimension, &drill),
        )
    });
    Ok(html_response(StatusCode::OK, markup))
}

// ---------------------------------------------------------------------------------------------
// CSV
// ---------------------------------------------------------------------------------------------

/// The columns of the patterns CSV.
const CSV_COLUMNS: [&str; 9] = [
    "Scope",
    "From",
    "To",
    "Pupils",
    "School days",
    "Dimension",
    "Group",
    "Incidents",
    "Rate per 100 pupils per school day",
];

fn csv_rows(report: &Report) -> Vec<Vec<String>> {
    let mut rows = vec![CSV_COLUMNS.iter().map(|c| (*c).to_string()).collect()];
    for (dimension, groups, _) in &report.dimensions {
        for row in groups {
            rows.push(vec![
                text_cell(&report.scope_name),
                report.ask.from.to_string(),
                report.ask.to.to_string(),
                report.pupils.to_string(),
                report.school_days.to_string(),
                dimension.as_str().to_string(),
                text_cell(&row.label),
                row.incidents.to_string(),
                rate_cell(row.rate),
            ]);
        }
    }
    rows
}

/// `GET /insight.csv?scope=&year=&form=&pupil=&from=&to=`: the pattern report as CSV, one
/// row per group of every dimension, each with the scope, range, pupils and school days.
pub async fn csv(
    SignedIn(member): SignedIn,
    request: HttpRequest,
    state: web::Data<AppState>,
) -> std::result::Result<HttpResponse, PageError> {
    let query = Fields::from_query(request.query_string());
    let (ask, problem) = read_ask(&member, &query, today());
    if let Some(problem) = &problem {
        return Err(Error::from(problem).into());
    }
    let body = state
        .db
        .transaction(move |conn| {
            permit(conn, &member, ask.scope)?;
            let report = build_report(conn, member.school_id, ask, true)?;
            csv_bytes(&csv_rows(&report))
        })
        .await?;
    Ok(csv_response(
        &format!("incident-patterns-{}-{}.csv", ask.from, ask.to),
        body,
    ))
}

// ---------------------------------------------------------------------------------------------
// On the pupil page
// ---------------------------------------------------------------------------------------------

/// A step's verdict: fewer, the same or more incidents after; too soon to tell while the
/// after window is open.
fn verdict(step: &StepImpact, today: NaiveDate) -> &'static str {
    if !step.is_complete(today) {
        "too soon to tell"
    } else if step.after < step.before {
        "fewer"
    } else if step.after == step.before {
        "the same"
    } else {
        "more"
    }
}

/// The pupil page's "Incidents over time" section: the pupil's weekly incidents over the last
/// twelve weeks with their level changes marked, a link to their patterns, and whether each
/// step up in the last year was followed by fewer incidents. Empty for members who may not
/// see the pupil's reports. Reads in the caller's transaction.
pub fn pupil_section(
    conn: &mut DbConnection,
    member: &StaffMember,
    pupil: &PupilView,
    today: NaiveDate,
) -> Result<Markup> {
    if !may_see(member, Reach::Pupil(pupil.place())) {
        return Ok(html! {});
    }
    let school_id = member.school_id;
    let scope = Scope::Pupil(pupil.id);
    let rules = evaluation::load_rules(conn, school_id)?;
    let from = today - TimeDelta::weeks(TREND_WEEKS) + TimeDelta::days(1);
    let days = insight::daily_counts(conn, school_id, scope, from, today)?;
    let weeks = weekly(&days, from, today);
    let moves = insight::level_moves(conn, school_id, scope, from, today)?;
    let points: Vec<Point> = weeks
        .iter()
        .map(|(monday, n)| Point {
            label: monday.format("%-d %b").to_string(),
            value: f64::from(*n),
            display: n.to_string(),
        })
        .collect();
    let markers: Vec<Marker> = moves
        .iter()
        .filter_map(|m| {
            let at_index = weeks.iter().rposition(|(monday, _)| *monday <= m.on)?;
            Some(Marker {
                at_index,
                label: format!("Level {} to {}", m.from.number(), m.to.number()),
            })
        })
        .collect();
    let n = rules.policy.impact_window_days;
    let entries = insight::entries(
        conn,
        school_id,
        scope,
        (today - TimeDelta::days(STEPS_DAYS), today),
        &rules.calendar,
        n,
    )?;
    let patterns = Ask {
        scope,
        from: today - TimeDelta::days(DEFAULT_DAYS),
        to: today,
    };
    Ok(html! {
        section.card #incidents-over-time {
            h2 { "Incidents over time" }
            (line_chart("pupil-trend", "Incidents a week, the last 12 weeks", "Incidents", &points, &markers))
            p { a href={ "/insight?" (patterns.query()) } { "Patterns for this pupil" } }
            h3 { "Did each step help?" }
            @if entries.is_empty() {
                p.muted { "No step up in the last year." }
            } @else {
                p.small.muted {
                    "Incidents in the " (n) " school days before each step against the " (n) " school days after it; the day of the step is in neither."
                }
                table.step-impact {
                    thead { tr {
                        th { "Level entered" } th { "Date" } th.num { "Before" } th.num { "After" } th { "Verdict" }
                    } }
                    tbody {
                        @for entry in entries.iter().rev() {
                            @let step = &entry.impact;
                            tr {
                                td { (step.level.number()) " · " (step.level.title()) }
                                td { (date(step.entered_on)) }
                                td.num { (step.before) }
                                td.num { (step.after) }
                                td.verdict { (verdict(step, today)) }
                            }
                        }
                    }
                }
            }
        }
    })
}
