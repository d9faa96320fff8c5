//! The whole-school provision map: every pupil's provision, filtered, with reviews due.

use chrono::{NaiveDate, TimeDelta};
use diesel::prelude::*;
use maud::{html, Markup};

use super::{
    block_status, date, level_of, provider_kind, refuse, sen_title, today, REVIEWS_AHEAD_DAYS,
};
use crate::db::audit::{self, Read};
use crate::db::provision::{self, ItemView, MapFilter, MapRow, ReviewDue, ReviewKind, SchoolMap};
use crate::db::schema::year_groups;
use crate::db::staff::StaffMember;
use crate::db::DbConnection;
use crate::domain::details::{SenStatus, YearNumber};
use crate::domain::plan::{format_pounds, DEFAULT_TERM_WEEKS};
use crate::domain::Level;
use crate::error::{Error, Result};
use crate::web::pages::form::{field_problem, Fields, Problem};
use crate::web::pages::form_page::{PageResult, Visit};
use crate::web::pages::layout::{fidelity_summary, level_chip};

// ---------------------------------------------------------------------------------------------
// The whole-school provision map
// ---------------------------------------------------------------------------------------------

/// The map's filters as audit detail: only the chosen year, level and SEN status.
pub(crate) fn map_detail(filter: &MapFilter) -> String {
    let mut parts = Vec::new();
    if let Some(year) = filter.year {
        parts.push(format!("year {year}"));
    }
    if let Some(level) = filter.level {
        parts.push(format!("level {level}"));
    }
    if let Some(sen) = &filter.sen_status {
        parts.push(format!("SEN {sen}"));
    }
    if parts.is_empty() {
        "all pupils".into()
    } else {
        parts.join(", ")
    }
}

pub(crate) fn require_map(member: &StaffMember) -> Result<()> {
    if provision::may_see_school_map(member) {
        Ok(())
    } else {
        Err(Error::Forbidden(
            "the whole-school provision map is for the SENDCO and SLT".into(),
        ))
    }
}

/// The map's filters as chosen, with the first problem in them; a filter with a problem is
/// left out.
pub(crate) fn read_map_filter(query: &Fields) -> (MapFilter, Option<Problem>) {
    let mut problem = None;
    let year = query.get("year").and_then(|raw| {
        let year = raw
            .parse::<i64>()
            .ok()
            .and_then(|y| YearNumber::new(y).ok())
            .map(YearNumber::get);
        if year.is_none() {
            problem.get_or_insert(refuse("year", "choose a year group from the list"));
        }
        year
    });
    let level = query.get("level").and_then(|raw| {
        let level = raw
            .parse::<i16>()
            .ok()
            .filter(|l| (Level::Plan.number()..=Level::Provision.number()).contains(l));
        if level.is_none() {
            problem.get_or_insert(refuse("level", "the map shows levels 4, 5 and 6"));
        }
        level
    });
    let sen_status = query
        .get("sen_status")
        .and_then(|raw| match SenStatus::parse(raw) {
            Ok(status) => Some(status.as_str().to_string()),
            Err(error) => {
                problem.get_or_insert(Problem::from(error));
                None
            }
        });
    (
        MapFilter {
            year,
            level,
            sen_status,
        },
        problem,
    )
}

/// The query string that asks for `filter` (for the CSV link).
fn filter_query(filter: &MapFilter) -> String {
    let mut pairs: Vec<(&str, String)> = Vec::new();
    if let Some(year) = filter.year {
        pairs.push(("year", year.to_string()));
    }
    if let Some(level) = filter.level {
        pairs.push(("level", level.to_string()));
    }
    if let Some(sen) = &filter.sen_status {
        pairs.push(("sen_status", sen.clone()));
    }
    serde_urlencoded::to_string(&pairs).unwrap_or_default()
}

/// The year groups of a school, for the filter.
pub(crate) fn years_of(conn: &mut DbConnection, school_id: i64) -> Result<Vec<i16>> {
    Ok(year_groups::table
        .filter(year_groups::school_id.eq(school_id))
        .select(year_groups::year)
        .order(year_groups::year)
        .load(conn)?)
}

/// Everything the map page shows.
struct MapPage {
    map: SchoolMap,
    due: Vec<ReviewDue>,
    years: Vec<i16>,
}

pub(super) fn pupil_count(n: usize) -> String {
    if n == 1 {
        "1 pupil".to_string()
    } else {
        format!("{n} pupils")
    }
}

pub(super) fn row_overdue(row: &MapRow, today: NaiveDate) -> bool {
    row.next_review.is_some_and(|on| on < today)
}

fn due_link(due: &ReviewDue) -> String {
    match due.kind {
        ReviewKind::Meeting => format!("/meetings/{}", due.record_id),
        ReviewKind::Plan | ReviewKind::Provision => format!("/pupils/{}/provision", due.record_id),
    }
}

fn render_filters(filter: &MapFilter, problem: Option<&Problem>, years: &[i16]) -> Markup {
    let chosen_sen = filter.sen_status.as_deref().unwrap_or_default();
    let csv_query = filter_query(filter);
    let csv_link = if csv_query.is_empty() {
        "/provision.csv".to_string()
    } else {
        format!("/provision.csv?{csv_query}")
    };
    html! {
        form.filters.map-filters.no-print method="get" action="/provision" {
            div.row {
                label for="year" { "Year group" }
                select #year name="year" {
                    option value="" { "All years" }
                    @for y in years {
                        option value=(y) selected[filter.year == Some(*y)] { "Year " (y) }
                    }
                }
                label for="level" { "Level" }
                select #level name="level" {
                    option value="" { "Levels 4 to 6" }
                    @for level in [Level::Plan, Level::Programme, Level::Provision] {
                        option value=(level.number()) selected[filter.level == Some(level.number())] {
                            (level.number()) " · " (level.title())
                        }
                    }
                }
                label for="sen_status" { "SEN status" }
                select #sen_status name="sen_status" {
                    option value="" { "Any" }
                    @for status in SenStatus::ALL {
                        option value=(status.as_str()) selected[chosen_sen == status.as_str()] { (status.title()) }
                    }
                }
                button type="submit" { "Show" }
                a href="/provision" { "Clear" }
            }
            @for field in ["year", "level", "sen_status"] {
                (field_problem(problem, field))
            }
            p {
                a.button href=(csv_link) { "Download this map (CSV)" }
                " "
                button type="button" data-print { "Print" }
            }
        }
    }
}

fn render_map_row(row: &MapRow, today: NaiveDate) -> Markup {
    let pupil = &row.pupil;
    let overdue = row_overdue(row, today);
    html! {
        tr.overdue[overdue] data-pupil=(pupil.id) {
            td { a href={ "/pupils/" (pupil.id) "/provision" } { (pupil.family_name) ", " (pupil.given_name) } }
            td { (row.year) }
            td { (row.form) }
            td { (sen_title(&pupil.sen_status)) }
            td { (level_chip(level_of(pupil.level))) }
            td {
                @match row.plan {
                    Some((version, review_on)) => { "Version " (version) br; span.small { "review " (date(review_on)) } }
                    None => { span.muted { "none" } }
                }
            }
            td {
                @match &row.block {
                    Some(block) => {
                        (block.weeks) "-week block, " (block_status(&block.status)) br;
                        (fidelity_summary(block.fidelity.fidelity))
                    }
                    None => { span.muted { "none" } }
                }
            }
            td {
                @let active: Vec<&ItemView> = row.active_items().collect();
                @if active.is_empty() {
                    span.muted { "none" }
                } @else {
                    ul.plain {
                        @for view in active {
                            li { (view.item.what) span.small.muted { " · " (provider_kind(view.item.external)) ": " (view.item.provider_name) } }
                        }
                    }
                }
            }
            td.num { (format_pounds(row.cost_per_term_pence)) }
            td { (row.outcome()) }
            td.next-review {
                @if let Some(on) = row.next_review {
                    (date(on))
                    @if overdue { " " span.tag.alert { "overdue" } }
                }
            }
        }
    }
}

fn render_map(
    data: &MapPage,
    filter: &MapFilter,
    problem: Option<&Problem>,
    today: NaiveDate,
) -> Markup {
    let map = &data.map;
    let (overdue, coming): (Vec<&ReviewDue>, Vec<&ReviewDue>) =
        data.due.iter().partition(|d| d.is_overdue(today));
    html! {
        h1 { "Provision map" }
        p.muted {
            "Every pupil at levels 4 to 6: their plan, programme, provision, costs and what it has achieved. "
            "Costs are per term of " (DEFAULT_TERM_WEEKS) " weeks. As of " (date(today)) "."
        }
        (render_filters(filter, problem, &data.years))
        @if map.rows.is_empty() {
            p.muted { "No pupil at levels 4 to 6 matches these filters." }
        } @else {
            div.scroll tabindex="0" role="region" aria-label="Provision map" {
                table.provision-map {
                    thead { tr {
                        th { "Pupil" } th { "Year" } th { "Form" } th { "SEN status" } th { "Level" }
                        th { "Coaching Plan" } th { "Programme and fidelity" } th { "Active provision" }
                        th.num { "Cost per term" } th { "Outcome" } th { "Next review" }
                    } }
                    tbody {
                        @for row in &map.rows { (render_map_row(row, today)) }
                    }
                    tfoot {
                        tr.totals {
                            td #total-pupils { (pupil_count(map.rows.len())) }
                            td colspan="5" { "Totals" }
                            td #total-fidelity {
                                (fidelity_summary(map.fidelity))
                            }
                            td #total-active { (map.active_items) " active" }
                            td.num #total-cost { (format_pounds(map.cost_per_term_pence)) }
                            td colspan="2" {}
                        }
                    }
                }
            }
        }
        section.card #reviews-due {
            h2 { "Reviews due and overdue" }
            p.muted { "Across the whole school: overdue first, then those due in the next " (REVIEWS_AHEAD_DAYS) " days." }
            @if data.due.is_empty() {
                p.muted { "No reviews due." }
            } @else {
                ul.list.reviews-due {
                    @for due in overdue.iter().chain(coming.iter()) {
                        @let late = due.is_overdue(today);
                        li.overdue[late] {
                            a href=(due_link(due)) { (due.pupil.given_name) " " (due.pupil.family_name) }
                            " · Year " (due.year) " · " (due.what) " · due " (date(due.due_on))
                            @if late { " " span.tag.alert { "overdue" } }
                        }
                    }
                }
            }
        }
    }
}

/// `GET /provision?year=&level=&sen_status=`: the whole-school provision map with its totals,
/// and the reviews due and overdue. For the SENDCO and SLT.
pub async fn map(visit: Visit) -> PageResult {
    require_map(&visit.member)?;
    let (filter, problem) = read_map_filter(&visit.query);
    let today = today();
    let wanted = filter.clone();
    let reader = visit.member.clone();
    let school_id = reader.school_id;
    // A report: read on the reports' own connections (never the writer), then the read is
    // recorded in a short write of its own before anything is shown.
    let data = visit
        .state
        .db
        .report(school_id, move |conn| {
            Ok(MapPage {
                map: provision::school_map(conn, school_id, &wanted, today)?,
                due: provision::reviews_due(
                    conn,
                    school_id,
                    today + TimeDelta::days(REVIEWS_AHEAD_DAYS),
                )?,
                years: years_of(conn, school_id)?,
            })
        })
        .await?;
    let detail = map_detail(&filter);
    visit
        .state
        .db
        .write(move |conn| audit::record_read(conn, &reader, Read::ProvisionMap, None, detail))
        .await?;
    Ok(visit.filtered("Provision map", problem.as_ref(), |_| {
        render_map(&data, &filter, problem.as_ref(), today)
    }))
}
