//! Two insight reports beside the pattern reports: the ladder at a glance (how many pupils are
//! on each level now, the three tiers against the usual 80/15/5, and how pupils moved week by
//! week) and whether each step works (incidents per pupil per school day in the school days
//! before a pupil entered a level against the same number after), each with its CSV.
//!
//! SLT, the SENDCO and Heads of Department see the whole school; a Head of Year their year
//! groups, a Head of House their houses. Every figure about impact comes with the number of pupils behind it.

use std::collections::{BTreeMap, HashMap};

use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{Days, Months, NaiveDate, Utc};
use maud::{html, Markup};

use super::charts::{bar_chart, line_chart, paired_chart, Bar, Pair, Point};
use super::form::{csv_bytes, csv_response, text_cell};
use super::form::{html_response, Fields};
use super::layout::page;
use super::provision::years_of;
use super::report_scope::{read_report_ask, ReportAsk, ReportRules, ScopeKind};
use super::with_viewer;
use crate::db::evaluation;
use crate::db::insight::{self, Entry, Reach, Scope};
use crate::db::staff::StaffMember;
use crate::db::{houses, DbConnection};
use crate::domain::calendar::SchoolCalendar;
use crate::domain::insight::{week_start, weekly_flow, ImpactSummary, Tier, WeekFlow};
use crate::domain::Level;
use crate::error::{Error, Result};
use crate::web::auth::SignedIn;
use crate::web::error::PageError;
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
enum Report {
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
struct Choice {
    scope: Scope,
    from: NaiveDate,
    to: NaiveDate,
    /// The level the impact report's year groups are compared on; `None` is all levels.
    level: Option<Level>,
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
struct Groups {
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

/// Reads the choice from the query (the scope and range by [`read_report_ask`]), with its
/// defaults, and checks the member may see it.
fn read_choice(
    member: &StaffMember,
    query: &Fields,
    report: Report,
    today: NaiveDate,
) -> Result<Choice> {
    let (ask, problem) = read_report_ask(member, query, &report.rules(), today);
    if let Some(problem) = problem {
        return Err(Error::from(&problem));
    }
    let ReportAsk { scope, from, to } = ask;
    let level = match query.get("level") {
        None | Some("all") => None,
        Some(raw) => Some(
            raw.parse::<i64>()
                .ok()
                .filter(|n| (1..=6).contains(n))
                .and_then(|n| Level::from_number(n).ok())
                .ok_or_else(|| Error::invalid("level", "choose a level from 1 to 6"))?,
        ),
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
    Ok(choice)
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
fn chooser(report: Report, choice: &Choice, groups: &Groups, can_see_school: bool) -> Markup {
    html! {
        form.filters method="get" action=(report.path()) {
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
                input #from type="date" name="from" value=(choice.from.to_string());
                label for="to" { "To" }
                input #to type="date" name="to" value=(choice.to.to_string());
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

// ---------------------------------------------------------------------------------------------
// The ladder at a glance
// ---------------------------------------------------------------------------------------------

/// What the ladder page shows.
struct Ladder {
    counts: [u32; 7],
    flow: Vec<WeekFlow>,
    groups: Groups,
}

impl Ladder {
    fn total(&self) -> u32 {
        self.counts.iter().sum()
    }

    fn tier_count(&self, tier: Tier) -> u32 {
        Level::ALL
            .iter()
            .zip(self.counts)
            .filter(|(level, _)| Tier::of(**level) == tier)
            .map(|(_, n)| n)
            .sum()
    }

    /// The share of pupils above the universal tier, in percent.
    fn above_universal(&self) -> Option<f64> {
        percent(
            self.tier_count(Tier::Targeted) + self.tier_count(Tier::Specialist),
            self.total(),
        )
    }

    /// One sentence on the shape of the ladder.
    fn shape(&self) -> String {
        let usual = Tier::Targeted.usual_percent() + Tier::Specialist.usual_percent();
        match self.above_universal() {
            None => "There are no pupils here yet, so there is no shape to read.".into(),
            Some(above) if above > f64::from(usual) => format!(
                "Top-heavy: {above:.0}% of pupils have targeted or specialist support, more \
                 than the usual {usual}%."
            ),
            Some(above) => format!(
                "Not top-heavy: {above:.0}% of pupils have targeted or specialist support, \
                 within the usual {usual}%."
            ),
        }
    }
}

async fn load_ladder(state: &AppState, member: &StaffMember, choice: Choice) -> Result<Ladder> {
    let school_id = member.school_id;
    let for_member = member.clone();
    let (counts, flow, groups) = state
        .db
        .transaction(move |conn| {
            let counts = insight::pupils_per_level(conn, school_id, choice.scope)?;
            let changes: Vec<_> =
                insight::level_moves(conn, school_id, choice.scope, choice.from, choice.to)?
                    .into_iter()
                    .map(|m| (m.on, m.from, m.to))
                    .collect();
            let groups = choosable(conn, &for_member)?;
            Ok((
                counts,
                weekly_flow(&changes, choice.from, choice.to),
                groups,
            ))
        })
        .await?;
    Ok(Ladder {
        counts,
        flow,
        groups,
    })
}

fn render_ladder(ladder: &Ladder, choice: &Choice, can_see_school: bool) -> Markup {
    let total = ladder.total();
    let csv = format!("/insight/ladder.csv?{}", choice.query(None));
    html! {
        (subnav("/insight/ladder"))
        h1 { "The ladder at a glance" }
        p.hint { "Pupils of " (choice.who(&ladder.groups)) " on each level now, and how pupils moved from "
            (choice.from.format("%-d %B %Y").to_string()) " to " (choice.to.format("%-d %B %Y").to_string()) "." }
        (chooser(Report::Ladder, choice, &ladder.groups, can_see_school))
        p { a.button href=(csv) { "Download these figures (CSV)" } }

        section #levels {
            h2 { "Pupils on each level now" }
            p { (pupils_text(total)) " in all." }
            (bar_chart("levels-chart", "Pupils on each level now", "Pupils", &level_bars(ladder)))
            div.scroll tabindex="0" role="region" aria-label="Pupils on each level" {
                table.levels {
                    caption { "Pupils on each level now" }
                    thead { tr { th scope="col" { "Level" } th scope="col" { "Pupils" } th scope="col" { "Share" } } }
                    tbody {
                        @for (level, n) in Level::ALL.iter().zip(ladder.counts) {
                            tr id={ "level-" (level.number()) } {
                                th scope="row" { (level_label(*level)) }
                                td.count { (n) }
                                td.share { (whole_percent(percent(n, total))) }
                            }
                        }
                    }
                }
            }
        }

        section #tiers {
            h2 { "The three tiers against the usual shape" }
            p #shape { (ladder.shape()) }
            (paired_chart("tiers-chart", "Share of pupils in each tier: here and usually", "Share here", "Usual share", &tier_pairs(ladder)))
            div.scroll tabindex="0" role="region" aria-label="Tiers" {
                table.tiers {
                    caption { "Share of pupils in each tier, beside the usual share" }
                    thead { tr { th scope="col" { "Tier" } th scope="col" { "Pupils" } th scope="col" { "Share here" } th scope="col" { "Usual share" } } }
                    tbody {
                        @for tier in Tier::ALL {
                            @let n = ladder.tier_count(tier);
                            tr id={ "tier-" (tier_name(tier)) } {
                                th scope="row" { (tier.title()) }
                                td.count { (n) }
                                td.share { (whole_percent(percent(n, total))) }
                                td.usual { (tier.usual_percent()) "%" }
                            }
                        }
                    }
                }
            }
        }

        section #flow {
            h2 { "Movement week by week" }
            p.hint { "Escalations are moves up the ladder; step downs are moves to a lower level; closures are moves off the ladder altogether." }
            @for (id, caption, series) in FLOW_SERIES {
                (line_chart(id, caption, "Pupils", &flow_points(&ladder.flow, series), &[]))
            }
            div.scroll tabindex="0" role="region" aria-label="Level changes each week" {
                table.flow {
                    caption { "Level changes in each week (weeks start on Monday)" }
                    thead { tr { th scope="col" { "Week of" } th scope="col" { "Escalations" } th scope="col" { "Step downs" } th scope="col" { "Closures" } } }
                    tbody {
                        @for week in &ladder.flow {
                            @let monday = week.week.map(|d| d.to_string()).unwrap_or_default();
                            tr id={ "week-" (monday) } {
                                th scope="row" { (monday) }
                                td.escalations { (week.escalations) }
                                td.step-downs { (week.step_downs) }
                                td.closures { (week.closures) }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The weekly flow's three series: chart id, caption and which count.
/// Which count of a week a flow series shows.
type Series = fn(&WeekFlow) -> u32;

const FLOW_SERIES: [(&str, &str, Series); 3] = [
    ("escalations-chart", "Escalations each week", |w| {
        w.escalations
    }),
    ("step-downs-chart", "Step downs each week", |w| w.step_downs),
    ("closures-chart", "Closures each week", |w| w.closures),
];

fn level_bars(ladder: &Ladder) -> Vec<Bar> {
    let total = ladder.total();
    Level::ALL
        .iter()
        .zip(ladder.counts)
        .map(|(level, n)| Bar {
            label: level_label(*level),
            value: f64::from(n),
            display: format!("{n} ({})", whole_percent(percent(n, total))),
            href: None,
        })
        .collect()
}

fn tier_pairs(ladder: &Ladder) -> Vec<Pair> {
    let total = ladder.total();
    Tier::ALL
        .iter()
        .map(|tier| {
            let n = ladder.tier_count(*tier);
            let share = percent(n, total);
            Pair {
                label: tier.title().into(),
                before: share.unwrap_or(0.0),
                after: f64::from(tier.usual_percent()),
                before_display: whole_percent(share),
                after_display: format!("{}%", tier.usual_percent()),
                note: pupils_text(n),
                href: None,
            }
        })
        .collect()
}

fn flow_points(flow: &[WeekFlow], series: Series) -> Vec<Point> {
    flow.iter()
        .map(|week| {
            let n = series(week);
            Point {
                label: week
                    .week
                    .map(|d| d.format("%-d %b").to_string())
                    .unwrap_or_default(),
                value: f64::from(n),
                display: n.to_string(),
            }
        })
        .collect()
}

fn tier_name(tier: Tier) -> &'static str {
    match tier {
        Tier::Universal => "universal",
        Tier::Targeted => "targeted",
        Tier::Specialist => "specialist",
    }
}

/// `GET /insight/ladder?scope=school|year&year=&from=&to=`: pupils on each level now, the
/// tiers against the usual 80/15/5, and the weekly flow over the range (the last twelve weeks
/// unless chosen).
pub async fn ladder(
    SignedIn(member): SignedIn,
    session: Session,
    request: HttpRequest,
    state: web::Data<AppState>,
) -> std::result::Result<HttpResponse, PageError> {
    let query = Fields::from_query(request.query_string());
    let choice = read_choice(&member, &query, Report::Ladder, today())?;
    let ladder = load_ladder(&state, &member, choice).await?;
    let markup = with_viewer(&member, &session, |viewer| {
        page(
            "The ladder at a glance",
            viewer,
            render_ladder(&ladder, &choice, sees_school(&member)),
        )
    });
    Ok(html_response(StatusCode::OK, markup))
}

/// The columns of the ladder's CSV: one figure a row.
const LADDER_COLUMNS: [&str; 4] = ["Section", "Item", "Measure", "Value"];

fn ladder_csv_rows(ladder: &Ladder) -> Vec<Vec<String>> {
    let total = ladder.total();
    let row = |section: &str, item: String, measure: &str, value: String| {
        vec![section.to_string(), item, measure.to_string(), value]
    };
    let mut rows = vec![LADDER_COLUMNS.iter().map(|c| c.to_string()).collect()];
    for (level, n) in Level::ALL.iter().zip(ladder.counts) {
        rows.push(row("Level", level_label(*level), "Pupils", n.to_string()));
        rows.push(row(
            "Level",
            level_label(*level),
            "Share (%)",
            csv_number(percent(n, total), 1),
        ));
    }
    for tier in Tier::ALL {
        let n = ladder.tier_count(tier);
        rows.push(row("Tier", tier.title().into(), "Pupils", n.to_string()));
        rows.push(row(
            "Tier",
            tier.title().into(),
            "Share (%)",
            csv_number(percent(n, total), 1),
        ));
        rows.push(row(
            "Tier",
            tier.title().into(),
            "Usual share (%)",
            tier.usual_percent().to_string(),
        ));
    }
    for week in &ladder.flow {
        let monday = week.week.map(|d| d.to_string()).unwrap_or_default();
        rows.push(row(
            "Week",
            monday.clone(),
            "Escalations",
            week.escalations.to_string(),
        ));
        rows.push(row(
            "Week",
            monday.clone(),
            "Step downs",
            week.step_downs.to_string(),
        ));
        rows.push(row("Week", monday, "Closures", week.closures.to_string()));
    }
    rows
}

/// `GET /insight/ladder.csv`: the ladder's figures, one a row, for the same choice.
pub async fn ladder_csv(
    SignedIn(member): SignedIn,
    request: HttpRequest,
    state: web::Data<AppState>,
) -> std::result::Result<HttpResponse, PageError> {
    let query = Fields::from_query(request.query_string());
    let choice = read_choice(&member, &query, Report::Ladder, today())?;
    let ladder = load_ladder(&state, &member, choice).await?;
    let body = csv_bytes(&ladder_csv_rows(&ladder))?;
    Ok(csv_response(
        &format!(
            "ladder-{}-{}-{}.csv",
            choice.file_part(),
            choice.from,
            choice.to
        ),
        body,
    ))
}

// ---------------------------------------------------------------------------------------------
// Does each step work?
// ---------------------------------------------------------------------------------------------

/// One group of entries with its summary: a level, a year group or a member of staff.
struct GroupRow {
    /// A stable part of the row's id: "level-3", "year-9", "staff-12".
    key: String,
    label: String,
    summary: ImpactSummary,
    /// Entries of the group whose after window has not ended.
    waiting: u32,
    href: Option<String>,
}

/// What the impact page shows.
struct Impact {
    /// School days in each window.
    n: u32,
    by_level: Vec<GroupRow>,
    by_year: Vec<GroupRow>,
    by_staff: Vec<GroupRow>,
    waiting: u32,
    groups: Groups,
}

/// Sums the judged entries by a key and counts those still waiting, keys in order.
fn group_entries<K: Ord>(
    entries: &[Entry],
    today: NaiveDate,
    key: impl Fn(&Entry) -> Option<K>,
) -> BTreeMap<K, (ImpactSummary, u32)> {
    let mut groups: BTreeMap<K, (ImpactSummary, u32)> = BTreeMap::new();
    for entry in entries {
        if let Some(k) = key(entry) {
            let slot = groups.entry(k).or_default();
            if entry.impact.is_complete(today) {
                slot.0.add(&entry.impact);
            } else {
                slot.1 += 1;
            }
        }
    }
    groups
}

async fn load_impact(
    state: &AppState,
    member: &StaffMember,
    choice: Choice,
    today: NaiveDate,
) -> Result<Impact> {
    let school_id = member.school_id;
    let for_member = member.clone();
    let (entries, n, staff_names, groups) = state
        .db
        .transaction(move |conn| {
            let rules = evaluation::load_rules(conn, school_id)?;
            let n = rules.policy.impact_window_days;
            let entries = insight::entries(
                conn,
                school_id,
                choice.scope,
                (choice.from, choice.to),
                &rules.calendar,
                n,
            )?;
            let mut staff_ids: Vec<i64> = entries.iter().filter_map(|e| e.delivered_by).collect();
            staff_ids.sort_unstable();
            staff_ids.dedup();
            let (_, staff_names) = insight::names(conn, school_id, &[], &staff_ids)?;
            Ok((entries, n, staff_names, choosable(conn, &for_member)?))
        })
        .await?;
    Ok(summarise_impact(
        &entries,
        n,
        &staff_names,
        choice,
        today,
        groups,
    ))
}

fn summarise_impact(
    entries: &[Entry],
    n: u32,
    staff_names: &HashMap<i64, String>,
    choice: Choice,
    today: NaiveDate,
    groups: Groups,
) -> Impact {
    let mut levels = group_entries(entries, today, |e| Some(e.impact.level));
    let by_level = Level::ALL[1..]
        .iter()
        .map(|level| {
            let (summary, waiting) = levels.remove(level).unwrap_or_default();
            GroupRow {
                key: format!("level-{}", level.number()),
                label: level_label(*level),
                summary,
                waiting,
                href: Some(format!(
                    "/insight/impact?{}#by-year",
                    choice.query(Some(*level))
                )),
            }
        })
        .collect();
    let by_year = group_entries(entries, today, |e| {
        (choice.level.is_none() || choice.level == Some(e.impact.level)).then_some(e.year)
    })
    .into_iter()
    .map(|(year, (summary, waiting))| {
        let scoped = Choice {
            scope: Scope::Year(year),
            ..choice
        };
        GroupRow {
            key: format!("year-{year}"),
            label: format!("Year {year}"),
            summary,
            waiting,
            href: groups
                .years
                .contains(&year)
                .then(|| format!("/insight/impact?{}", scoped.query(choice.level))),
        }
    })
    .collect();
    let mut by_staff: Vec<GroupRow> = group_entries(entries, today, |e| Some(e.delivered_by))
        .into_iter()
        .map(|(id, (summary, waiting))| GroupRow {
            key: id.map_or_else(|| "staff-none".into(), |id| format!("staff-{id}")),
            label: id
                .and_then(|id| staff_names.get(&id).cloned())
                .unwrap_or_else(|| "Not recorded".into()),
            summary,
            waiting,
            href: None,
        })
        .collect();
    by_staff.sort_by(|a, b| a.label.cmp(&b.label));
    let waiting = entries
        .iter()
        .filter(|e| !e.impact.is_complete(today))
        .count();
    Impact {
        n,
        by_level,
        by_year,
        by_staff,
        waiting: u32::try_from(waiting).unwrap_or(u32::MAX),
        groups,
    }
}

fn rate_text(rate: Option<f64>) -> String {
    rate.map_or_else(|| "-".into(), |r| format!("{r:.2}"))
}

fn change_text(summary: &ImpactSummary) -> String {
    match summary.change_percent() {
        Some(c) if c.abs() < 0.5 => "no change".into(),
        Some(c) => format!("{c:+.0}%"),
        None if summary.pupils == 0 => "-".into(),
        None if summary.after > 0 => "up from none".into(),
        None => "none before or after".into(),
    }
}

/// The caution shown beside a figure from fewer than five pupils.
fn caution(summary: &ImpactSummary) -> Option<String> {
    (summary.pupils > 0 && summary.is_small())
        .then(|| format!("only {}: read with care", pupils_text(summary.pupils)))
}

fn render_group_table(id: &str, caption: &str, first: &str, rows: &[GroupRow]) -> Markup {
    let pairs: Vec<Pair> = rows
        .iter()
        .filter(|row| row.summary.pupils > 0)
        .map(|row| {
            let s = &row.summary;
            Pair {
                label: row.label.clone(),
                before: s.rate_before().unwrap_or(0.0),
                after: s.rate_after().unwrap_or(0.0),
                before_display: rate_text(s.rate_before()),
                after_display: rate_text(s.rate_after()),
                note: caution(s).unwrap_or_else(|| pupils_text(s.pupils)),
                href: row.href.clone(),
            }
        })
        .collect();
    html! {
        (paired_chart(&format!("{id}-chart"), caption, "Before", "After", &pairs))
        div.scroll tabindex="0" role="region" aria-label=(caption) {
            table.impact id=(id) {
                caption { (caption) }
                thead {
                    tr {
                        th scope="col" { (first) }
                        th scope="col" { "Pupils judged" }
                        th scope="col" { "Before (incidents per pupil per school day)" }
                        th scope="col" { "After (incidents per pupil per school day)" }
                        th scope="col" { "Change" }
                        th scope="col" { "Fewer incidents after" }
                        th scope="col" { "More incidents after" }
                        th scope="col" { "Waiting" }
                        th scope="col" { "Note" }
                    }
                }
                tbody {
                    @for row in rows {
                        @let s = &row.summary;
                        tr id={ (id) "-" (row.key) } {
                            th scope="row" {
                                @match &row.href {
                                    Some(href) => a href=(href) { (row.label) },
                                    None => (row.label),
                                }
                            }
                            td.pupils { (pupils_text(s.pupils)) }
                            td.before { (rate_text(s.rate_before())) }
                            td.after { (rate_text(s.rate_after())) }
                            td.change { (change_text(s)) }
                            td.fewer { (s.helped) }
                            td.more { (s.worsened) }
                            td.waiting { (row.waiting) }
                            td.note {
                                @if s.pupils == 0 {
                                    "No pupils judged yet"
                                } @else if let Some(text) = caution(s) {
                                    strong.caution { (text) }
                                }
                            }
                        }
                    }
                    @if rows.is_empty() {
                        tr { td colspan="9" { "No pupils entered a level in this range." } }
                    }
                }
            }
        }
    }
}

fn render_impact(impact: &Impact, choice: &Choice, can_see_school: bool) -> Markup {
    let n = impact.n;
    let csv = format!("/insight/impact.csv?{}", choice.query(choice.level));
    let year_heading = match choice.level {
        Some(level) => format!("By year group, on {}", level_label(level)),
        None => "By year group, all levels together".into(),
    };
    html! {
        (subnav("/insight/impact"))
        h1 { "Does each step work?" }
        p.hint { "Pupils of " (choice.who(&impact.groups)) " who entered a level from "
            (choice.from.format("%-d %B %Y").to_string()) " to " (choice.to.format("%-d %B %Y").to_string()) "." }
        (chooser(Report::Impact, choice, &impact.groups, can_see_school))
        p #method {
            "Each figure compares a pupil's incidents in the " (n) " school days before they entered a level with the "
            (n) " school days after, leaving out the day of the step itself and skipping holidays; rates are incidents per pupil per school day."
        }
        p #waiting {
            @if impact.waiting == 0 {
                "No steps are waiting: every step in this range has been judged."
            } @else if impact.waiting == 1 {
                "1 step is waiting: its " (n) " school days after have not ended yet, so it is not judged."
            } @else {
                (impact.waiting) " steps are waiting: their " (n) " school days after have not ended yet, so they are not judged."
            }
        }
        p { a.button href=(csv) { "Download these figures (CSV)" } }
        p.hint { "Fewer than 5 pupils is too few to read much into: such figures carry a caution." }

        section #by-level {
            h2 { "By level entered" }
            (render_group_table("impact-by-level", "Incidents before and after entering each level", "Level", &impact.by_level))
        }
        section #by-year {
            h2 { (year_heading) }
            (render_group_table("impact-by-year", &year_heading, "Year group", &impact.by_year))
        }
        section #by-staff {
            h2 { "By member of staff delivering the step" }
            p.hint { "The adult who held the Coaching Conversation, the practitioner of a Coaching Programme's first block, otherwise the person who took the step." }
            (render_group_table("impact-by-staff", "Incidents before and after, by who delivered the step", "Member of staff", &impact.by_staff))
        }
    }
}

/// `GET /insight/impact?scope=school|year&year=&from=&to=&level=`: for each level entered in
/// the range (the last year unless chosen), incidents per pupil per school day in the school
/// days before against the same number after, with the pupils behind each figure; then by
/// year group and by who delivered the step.
pub async fn impact(
    SignedIn(member): SignedIn,
    session: Session,
    request: HttpRequest,
    state: web::Data<AppState>,
) -> std::result::Result<HttpResponse, PageError> {
    let query = Fields::from_query(request.query_string());
    let today = today();
    let choice = read_choice(&member, &query, Report::Impact, today)?;
    let impact = load_impact(&state, &member, choice, today).await?;
    let markup = with_viewer(&member, &session, |viewer| {
        page(
            "Does each step work?",
            viewer,
            render_impact(&impact, &choice, sees_school(&member)),
        )
    });
    Ok(html_response(StatusCode::OK, markup))
}

/// The columns of the impact CSV: one row per group.
const IMPACT_COLUMNS: [&str; 11] = [
    "Grouping",
    "Group",
    "Pupils judged",
    "Incidents before",
    "Incidents after",
    "School days",
    "Rate before (per pupil per school day)",
    "Rate after (per pupil per school day)",
    "Change (%)",
    "Fewer incidents after",
    "More incidents after",
];

fn impact_csv_rows(impact: &Impact, choice: &Choice) -> Vec<Vec<String>> {
    let year_grouping = match choice.level {
        Some(level) => format!("Year group ({})", level_label(level)),
        None => "Year group (all levels)".into(),
    };
    let mut rows = vec![IMPACT_COLUMNS.iter().map(|c| c.to_string()).collect()];
    let groupings = [
        ("Level".to_string(), &impact.by_level),
        (year_grouping, &impact.by_year),
        ("Member of staff".to_string(), &impact.by_staff),
    ];
    for (grouping, groups) in groupings {
        for row in groups {
            let s = &row.summary;
            rows.push(vec![
                grouping.clone(),
                text_cell(&row.label),
                s.pupils.to_string(),
                s.before.to_string(),
                s.after.to_string(),
                s.school_days.to_string(),
                csv_number(s.rate_before(), 3),
                csv_number(s.rate_after(), 3),
                csv_number(s.change_percent(), 1),
                s.helped.to_string(),
                s.worsened.to_string(),
            ]);
        }
    }
    rows
}

/// `GET /insight/impact.csv`: the impact figures for the same choice, one row per grouping
/// and group.
pub async fn impact_csv(
    SignedIn(member): SignedIn,
    request: HttpRequest,
    state: web::Data<AppState>,
) -> std::result::Result<HttpResponse, PageError> {
    let query = Fields::from_query(request.query_string());
    let today = today();
    let choice = read_choice(&member, &query, Report::Impact, today)?;
    let impact = load_impact(&state, &member, choice, today).await?;
    let body = csv_bytes(&impact_csv_rows(&impact, &choice))?;
    Ok(csv_response(
        &format!(
            "impact-{}-{}-{}.csv",
            choice.file_part(),
            choice.from,
            choice.to
        ),
        body,
    ))
}
