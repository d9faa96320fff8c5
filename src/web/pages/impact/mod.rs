//! Two insight reports beside the pattern reports: the ladder at a glance (how many pupils are
//! on each level now, the three tiers against the usual 80/15/5, and how pupils moved week by
//! week) and whether each step works (incidents per pupil per school day in the school days
//! before a pupil entered a level against the same number after), each with its CSV.
//!
//! SLT, the SENDCO and Heads of Department see the whole school; a Head of Year their year
//! groups, a Head of House their houses. Every figure about impact comes with the number of pupils behind it.
//!
//! Here is what both read (the pupils and dates chosen) and the pieces both show; the pages
//! are in `ladder` and `steps`.

mod ladder;
mod steps;

/// What the reports read, for the API's figures.
pub(crate) use ladder::load_ladder;
pub use ladder::{ladder, ladder_csv};
pub use steps::{impact, impact_csv};
pub(crate) use steps::{load_impact, GroupRow};

use std::collections::{BTreeMap, HashMap};

use chrono::{Days, Months, NaiveDate, Utc};
use maud::{html, Markup};

use super::charts::{Bar, Pair, Point};
use super::form::{
    csv_bytes, csv_response, field_problem, problem_summary, text_cell, Fields, Problem,
};
use super::form_page::{PageResult, Visit};
use super::provision::years_of;
use super::report_scope::{read_report_ask, shown_value, ReportAsk, ReportRules, ScopeKind};
use crate::db::evaluation;
use crate::db::insight::{self, Entry, Reach, Scope};
use crate::db::staff::StaffMember;
use crate::db::{houses, DbConnection};
use crate::domain::calendar::SchoolCalendar;
use crate::domain::insight::{week_start, weekly_flow, ImpactSummary, Tier, WeekFlow};
use crate::domain::Level;
use crate::error::{Error, Result};
use crate::web::AppState;

/// The longest date range a report covers, in days (about three school years).
const MAX_RANGE_DAYS: i64 = 3 * 366;

/// Weeks of flow shown when no range is chosen.
const DEFAULT_WEEKS: u64 = 12;

fn today() -> NaiveDate {
    SchoolCalendar::local_date(Utc::now())
}

// ---------------------------------------------------------------------------------------------
// What was asked for
// ---------------------------------------------------------------------------------------------

/// Which report a request is for: they differ in their default range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Report {
    Ladder,
    Impact,
}

impl Report {
    fn path(self) -> &'static str {
        match self {
            Report::Ladder => "/insight/ladder",
            Report::Impact => "/insight/impact",
        }
    }

    /// The scopes and ranges the report accepts: the whole school, a year group or a house;
    /// when no range is chosen, the last twelve weeks for the ladder's flow, the last year
    /// for impact.
    fn rules(self) -> ReportRules {
        const SCOPES: &[ScopeKind] = &[ScopeKind::School, ScopeKind::Year, ScopeKind::House];
        ReportRules {
            scopes: SCOPES,
            default_from: match self {
                Report::Ladder => |to| week_start(to) - Days::new(7 * (DEFAULT_WEEKS - 1)),
                Report::Impact => {
                    |to: NaiveDate| to.checked_sub_months(Months::new(12)).unwrap_or(to)
                }
            },
            max_days: MAX_RANGE_DAYS,
        }
    }
}

/// A report's pupils and dates, as chosen.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Choice {
    pub(crate) scope: Scope,
    pub(crate) from: NaiveDate,
    pub(crate) to: NaiveDate,
    /// The level the impact report's year groups are compared on; `None` is all levels.
    pub(crate) level: Option<Level>,
}

impl Choice {
    fn year(&self) -> Option<i16> {
        match self.scope {
            Scope::Year(year) => Some(year),
            _ => None,
        }
    }

    fn house(&self) -> Option<i64> {
        match self.scope {
            Scope::House(house) => Some(house),
            _ => None,
        }
    }

    /// Whose pupils the choice covers, for who may see it.
    fn reach(&self) -> Reach {
        match (self.year(), self.house()) {
            (Some(year), _) => Reach::Year(year),
            (None, Some(house)) => Reach::House(house),
            (None, None) => Reach::School,
        }
    }

    /// The query string that asks for this choice again (for links and the CSV).
    fn query(&self, level: Option<Level>) -> String {
        let ask = ReportAsk {
            scope: self.scope,
            from: self.from,
            to: self.to,
        };
        let mut pairs = ask.query_pairs();
        if let Some(level) = level {
            pairs.push(("level", level.number().to_string()));
        }
        serde_urlencoded::to_string(&pairs).unwrap_or_default()
    }

    /// Words for the pupils covered: "the whole school", "Year 9" or "house Red".
    fn who(&self, groups: &Groups) -> String {
        match (self.year(), self.house()) {
            (Some(year), _) => format!("Year {year}"),
            (None, Some(house)) => format!("house {}", groups.house_name(house)),
            (None, None) => "the whole school".into(),
        }
    }

    /// A part of a file name: "school", "year-9" or "house-3".
    fn file_part(&self) -> String {
        match (self.year(), self.house()) {
            (Some(year), _) => format!("year-{year}"),
            (None, Some(house)) => format!("house-{house}"),
            (None, None) => "school".into(),
        }
    }
}

/// The year groups and houses a member may choose between.
#[derive(Debug, Clone, Default)]
pub(crate) struct Groups {
    years: Vec<i16>,
    /// Houses by name.
    houses: Vec<(i64, String)>,
}

impl Groups {
    fn house_name(&self, id: i64) -> &str {
        self.houses
            .iter()
            .find(|(h, _)| *h == id)
            .map_or("", |(_, name)| name.as_str())
    }
}

/// Whether the member sees the whole school's reports.
fn sees_school(member: &StaffMember) -> bool {
    insight::may_see(member, Reach::School)
}

/// The fields of the chooser, in the order a problem with them is looked for.
const CHOOSER_FIELDS: [&str; 6] = ["scope", "year", "house", "from", "to", "level"];

/// Reads the choice from the query (the scope and range by [`read_report_ask`]), with its
/// defaults, and checks the member may see it. A part refused is read as its default and
/// comes back as the problem, for the page to show at its field.
fn read_choice(
    member: &StaffMember,
    query: &Fields,
    report: Report,
    today: NaiveDate,
) -> Result<(Choice, Option<Problem>)> {
    let (ask, mut problem) = read_report_ask(member, query, &report.rules(), today);
    let ReportAsk { scope, from, to } = ask;
    let asked_level = query.get("level").filter(|_| report == Report::Impact);
    let level = match asked_level {
        None | Some("all") => None,
        Some(raw) => {
            let level = raw
                .parse::<i64>()
                .ok()
                .filter(|n| (1..=6).contains(n))
                .and_then(|n| Level::from_number(n).ok());
            if level.is_none() {
                problem.get_or_insert(Problem::at("level", "choose a level from 1 to 6"));
            }
            level
        }
    };
    let choice = Choice {
        scope,
        from,
        to,
        level,
    };
    if !insight::may_see(member, choice.reach()) {
        return Err(Error::Forbidden(match choice.reach() {
            Reach::School => "the whole school's reports are for the SENDCO, heads of department and SLT".into(),
            Reach::House(_) => "this house's reports are for its Head of House, the SENDCO, heads of department and SLT".into(),
            _ => "this year group's reports are for its Head of Year, the SENDCO, heads of department and SLT".into(),
        }));
    }
    Ok((choice, problem))
}

/// The choice for a download: refused whole when any part of it is.
pub(crate) fn read_download_choice(
    member: &StaffMember,
    query: &Fields,
    report: Report,
    today: NaiveDate,
) -> Result<Choice> {
    match read_choice(member, query, report, today)? {
        (_, Some(problem)) => Err(Error::from(&problem)),
        (choice, None) => Ok(choice),
    }
}

/// What the chooser shows besides the choice read: what was typed and the problem with it,
/// and whether the whole school may be chosen.
struct Chosen<'a> {
    typed: &'a Fields,
    problem: Option<&'a Problem>,
    can_see_school: bool,
}

/// The year groups and houses of the school the member may choose between, read in the
/// caller's transaction.
fn choosable(conn: &mut DbConnection, member: &StaffMember) -> Result<Groups> {
    let years = years_of(conn, member.school_id)?
        .into_iter()
        .filter(|y| insight::may_see(member, Reach::Year(*y)))
        .collect();
    let mut houses: Vec<(i64, String)> = houses::names(conn, member.school_id)?
        .into_iter()
        .filter(|(id, _)| insight::may_see(member, Reach::House(*id)))
        .collect();
    houses.sort_by(|a, b| a.1.cmp(&b.1).then(a.0.cmp(&b.0)));
    Ok(Groups { years, houses })
}

// ---------------------------------------------------------------------------------------------
// Shared pieces of the pages
// ---------------------------------------------------------------------------------------------

/// Links between the three insight reports, the current one marked.
fn subnav(current: &str) -> Markup {
    let links = [
        ("/insight", "Patterns of incidents"),
        ("/insight/ladder", "The ladder at a glance"),
        ("/insight/impact", "Does each step work?"),
    ];
    html! {
        nav.subnav aria-label="Insight reports" {
            ul {
                @for (href, text) in links {
                    li { a href=(href) aria-current=[(href == current).then_some("page")] { (text) } }
                }
            }
        }
    }
}

/// The form that chooses the pupils and dates (and, for impact, the level by year group).
fn chooser(report: Report, choice: &Choice, groups: &Groups, chosen: &Chosen) -> Markup {
    let can_see_school = chosen.can_see_school;
    let shown = |name: &str, read: String| shown_value(chosen.typed, chosen.problem, name, read);
    html! {
        form.filters method="get" action=(report.path()) {
            (problem_summary(chosen.problem, &CHOOSER_FIELDS))
            div.row {
                label for="scope" { "Pupils" }
                select #scope name="scope" {
                    @if can_see_school {
                        option value="school" selected[choice.reach() == Reach::School] { "Whole school" }
                    }
                    @if !groups.years.is_empty() || groups.houses.is_empty() {
                        option value="year" selected[choice.year().is_some()] { "One year group" }
                    }
                    @if !groups.houses.is_empty() {
                        option value="house" selected[choice.house().is_some()] { "One house" }
                    }
                }
                label for="year" { "Year group" }
                select #year name="year" {
                    @for year in &groups.years {
                        option value=(year) selected[choice.year() == Some(*year)] { "Year " (year) }
                    }
                }
                @if !groups.houses.is_empty() {
                    label for="house" { "House" }
                    select #house name="house" {
                        @for (id, name) in &groups.houses {
                            option value=(id) selected[choice.house() == Some(*id)] { (name) }
                        }
                    }
                }
                label for="from" { "From" }
                input #from type="date" name="from" value=(shown("from", choice.from.to_string()));
                label for="to" { "To" }
                input #to type="date" name="to" value=(shown("to", choice.to.to_string()));
                @if report == Report::Impact {
                    label for="level" { "Year groups compared on" }
                    select #level name="level" {
                        option value="all" selected[choice.level.is_none()] { "All levels together" }
                        @for level in &Level::ALL[1..] {
                            option value=(level.number()) selected[choice.level == Some(*level)] {
                                "Level " (level.number()) ": " (level.title())
                            }
                        }
                    }
                }
                button type="submit" { "Show" }
            }
            @for field in CHOOSER_FIELDS { (field_problem(chosen.problem, field)) }
        }
    }
}

fn percent(n: u32, total: u32) -> Option<f64> {
    (total > 0).then(|| f64::from(n) * 100.0 / f64::from(total))
}

fn whole_percent(value: Option<f64>) -> String {
    value.map_or_else(|| "-".into(), |v| format!("{v:.0}%"))
}

fn csv_number(value: Option<f64>, places: usize) -> String {
    value.map_or_else(String::new, |v| format!("{v:.places$}"))
}

fn pupils_text(n: u32) -> String {
    if n == 1 {
        "1 pupil".into()
    } else {
        format!("{n} pupils")
    }
}

fn level_label(level: Level) -> String {
    if level == Level::None {
        "No level".into()
    } else {
        format!("Level {}: {}", level.number(), level.title())
    }
}
