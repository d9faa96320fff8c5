//! Insight pages. The pattern report: a scope's incidents over any date range grouped by
//! lesson period (the school's own timetable), place, behaviour, day of the week, subject, pupil and member of staff, each
//! group with its rate per 100 pupils per school day, every bar leading to the incidents
//! behind it; the same figures as CSV. On the pupil page, a pupil's weekly incidents with
//! their level changes marked, and whether each step up helped.
//!
//! Here is what the pattern report reads and counts; the pages are in `report` (the
//! report), `drill` (the incidents behind a bar), `csv` and `pupil` (the pupil page's part).

mod csv;
mod drill;
mod pupil;
mod report;

pub use csv::csv;
pub use drill::incidents;
pub use pupil::pupil_section;
pub use report::show;

use std::collections::{BTreeSet, HashMap};

use actix_web::http::StatusCode;
use chrono::{NaiveDate, TimeDelta, Utc};
use diesel::prelude::*;
use maud::{html, Markup};

use super::charts::{bar_chart, line_chart, Bar, Marker, Point};
use super::form::{
    csv_bytes, csv_response, field_problem, local, problem_summary, text_cell, Fields, Problem,
};
use super::form_page::{PageResult, Visit};
use super::report_scope::{read_report_ask, ReportAsk, ReportRules, ScopeKind};
use crate::db::insight::{self, may_see, Reach, Scope};
use crate::db::pupils::PupilView;
use crate::db::schema::{forms, year_groups};
use crate::db::staff::StaffMember;
use crate::db::{evaluation, from_db_time, houses, timetable, DbConnection};
use crate::domain::calendar::SchoolCalendar;
use crate::domain::insight::{
    group_of, rate_per_100, school_days_in, weekly, Dimension, IncidentFact, StepImpact, ERASED,
    ERASED_PUPILS,
};
use crate::error::{Error, Result};

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
pub(crate) fn read_ask(
    member: &StaffMember,
    query: &Fields,
    today: NaiveDate,
) -> (Ask, Option<Problem>) {
    read_report_ask(member, query, &RULES, today)
}

/// Checks the member may see the scope's reports (another school's form, house or pupil is
/// not found).
pub(crate) fn permit(conn: &mut DbConnection, member: &StaffMember, scope: Scope) -> Result<()> {
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
pub(crate) struct Row {
    pub(crate) key: String,
    pub(crate) label: String,
    pub(crate) incidents: u32,
    pub(crate) rate: Option<f64>,
    /// The pupil the group is, for the pupil dimension.
    pub(crate) pupil: Option<i64>,
}

impl Row {
    /// "12 (3.4 per 100 pupils a day)", or "12 incidents" in a report without rates.
    fn display(&self, rated: bool) -> String {
        if rated {
            format!("{} ({})", self.incidents, rate_text(self.rate))
        } else {
            incidents_text(self.incidents)
        }
    }
}

/// "1 incident", "12 incidents".
fn incidents_text(n: u32) -> String {
    if n == 1 {
        "1 incident".into()
    } else {
        format!("{n} incidents")
    }
}

/// A rate as people read it: "3.4 per 100 pupils a day", or "0.04 ..." below 1, so a small
/// rate never reads as none.
fn rate_text(rate: Option<f64>) -> String {
    match rate {
        Some(rate) => format!("{} per 100 pupils a day", rate_number(rate)),
        None => "no school days to rate".to_string(),
    }
}

/// A rate's number: one decimal, two below 1.
fn rate_number(rate: f64) -> String {
    if rate > 0.0 && rate < 1.0 {
        format!("{rate:.2}")
    } else {
        format!("{rate:.1}")
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
pub(crate) struct Report {
    pub(crate) ask: Ask,
    /// What the scope is called: "the whole school", "Year 9", "form 9B", a pupil's name.
    pub(crate) scope_name: String,
    pub(crate) pupils: u64,
    pub(crate) school_days: u32,
    pub(crate) total: u64,
    /// Whether rates per 100 pupils are given: not for one pupil, where only counts mean
    /// anything.
    pub(crate) rated: bool,
    pub(crate) dimensions: Vec<(Dimension, Vec<Row>, usize)>,
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
pub(crate) fn build_report(
    conn: &mut DbConnection,
    school_id: i64,
    ask: Ask,
    all: bool,
) -> Result<Report> {
    let calendar = evaluation::load_rules(conn, school_id)?.calendar;
    let timetable = timetable::load(conn, school_id)?;
    let pupils = insight::pupils_in(conn, school_id, ask.scope)?.len() as u64;
    let school_days = school_days_in(&calendar, ask.from, ask.to);
    // The whole school's figures come from the daily groupings kept with each incident.
    let patterns = insight::patterns(conn, school_id, ask.scope, (ask.from, ask.to), &timetable)?;
    let rated = !matches!(ask.scope, Scope::Pupil(_));
    let mut dimensions = Vec::new();
    let mut pupil_ids = BTreeSet::new();
    let mut staff_ids = BTreeSet::new();
    for (dimension, mut groups) in patterns.dimensions {
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
                        rate: rate_per_100(u64::from(group.incidents), pupils, school_days)
                            .filter(|_| rated),
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
        total: patterns.total,
        rated,
        dimensions,
    })
}
