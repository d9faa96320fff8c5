//! The audit log, for administrators and senior leaders: who did or read what, and when,
//! filtered by member of staff, pupil, action and dates, newest first, a page at a time, and
//! the filtered log as CSV.

use std::collections::HashMap;

use chrono::{NaiveDate, SecondsFormat};
use diesel::prelude::*;
use maud::{html, Markup};

use super::form::{csv_bytes, csv_response, field_problem, local, text_cell, Fields, Problem};
use super::form_page::{PageResult, Visit};
use crate::db::audit::{self, AuditFilter, AuditPage, AuditRow, Cursor};
use crate::db::schema::pupils as pupils_table;
use crate::db::staff::{self, StaffMember};
use crate::db::{from_db_time, pupils, DbConnection};
use crate::domain::details::DetailError;
use crate::domain::visibility::Record;
use crate::error::{Error, Result};

/// Entries on a page unless `limit` says otherwise.
const DEFAULT_LIMIT: i64 = 100;
/// Most entries on a page.
const MAX_LIMIT: i64 = 500;
/// Most entries in one CSV download.
const CSV_MOST: i64 = 100_000;

/// Refuses anyone the one rule does not let read the audit log.
fn require_reader(member: &StaffMember) -> Result<()> {
    if member.may_read_school(Record::AuditLog) {
        Ok(())
    } else {
        Err(Error::Forbidden(
            "the audit log is for administrators and SLT".into(),
        ))
    }
}

fn refuse(field: &'static str, message: impl Into<String>) -> Problem {
    Problem::from(DetailError {
        field,
        message: message.into(),
    })
}

/// The filters as typed, checked: the pupil is still a UPN, looked up in the transaction.
#[derive(Debug, Clone, Default)]
struct Wanted {
    actor_id: Option<i64>,
    upn: Option<String>,
    action: Option<String>,
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
    limit: i64,
    cursor: Option<Cursor>,
}

/// Reads the filters and paging from the query, with the first problem in them; a filter with
/// a problem is left out.
fn read_query(query: &Fields) -> (Wanted, Option<Problem>) {
    let mut problem = None;
    let mut note = |p: Problem| {
        problem.get_or_insert(p);
    };
    let actor_id = query.get("staff").and_then(|raw| {
        let id = raw.parse::<i64>().ok();
        if id.is_none() {
            note(refuse("staff", "choose a member of staff from the list"));
        }
        id
    });
    let mut date = |field: &'static str| {
        query.get(field).and_then(|raw| {
            let day = NaiveDate::parse_from_str(raw, "%Y-%m-%d").ok();
            if day.is_none() {
                note(refuse(field, "give a date as YYYY-MM-DD"));
            }
            day
        })
    };
    let (from, to) = (date("from"), date("to"));
    let (from, to) = match (from, to) {
        (Some(f), Some(t)) if f > t => {
            note(refuse("to", "the end date is before the start date"));
            (Some(f), None)
        }
        other => other,
    };
    let limit = match query.get("limit") {
        None => DEFAULT_LIMIT,
        Some(raw) => match raw.parse::<i64>() {
            Ok(n) if (1..=MAX_LIMIT).contains(&n) => n,
            _ => {
                note(refuse(
                    "limit",
                    format!("limit is a number from 1 to {MAX_LIMIT}"),
                ));
                DEFAULT_LIMIT
            }
        },
    };
    let cursor = query.get("cursor").and_then(|raw| {
        let cursor = Cursor::decode(raw);
        if cursor.is_none() {
            note(refuse("cursor", "this page link is not valid: start again"));
        }
        cursor
    });
    let wanted = Wanted {
        actor_id,
        upn: query.get("pupil").map(str::to_uppercase),
        action: query.get("action").map(str::to_string),
        from,
        to,
        limit,
        cursor,
    };
    (wanted, problem)
}

/// The query string asking for `wanted` (without paging), for links.
fn filter_query(wanted: &Wanted) -> Vec<(&'static str, String)> {
    let mut pairs = Vec::new();
    if let Some(id) = wanted.actor_id {
        pairs.push(("staff", id.to_string()));
    }
    if let Some(upn) = &wanted.upn {
        pairs.push(("pupil", upn.clone()));
    }
    if let Some(action) = &wanted.action {
        pairs.push(("action", action.clone()));
    }
    if let Some(from) = wanted.from {
        pairs.push(("from", from.to_string()));
    }
    if let Some(to) = wanted.to {
        pairs.push(("to", to.to_string()));
    }
    pairs
}

fn link(path: &str, pairs: &[(&str, String)]) -> String {
    let query = serde_urlencoded::to_string(pairs).unwrap_or_default();
    if query.is_empty() {
        path.to_string()
    } else {
        format!("{path}?{query}")
    }
}

/// The filter as stored, once the UPN is found; `None` when no pupil has that UPN.
fn resolve(
    conn: &mut DbConnection,
    school_id: i64,
    wanted: &Wanted,
) -> Result<Option<AuditFilter>> {
    let pupil_id = match &wanted.upn {
        None => None,
        Some(upn) => {
            let found: Option<i64> = pupils_table::table
                .filter(pupils_table::school_id.eq(school_id))
                .filter(pupils_table::upn.eq(upn.clone()))
                .select(pupils_table::id)
                .first(conn)
                .optional()?;
            match found {
                Some(id) => Some(id),
                None => return Ok(None),
            }
        }
    };
    Ok(Some(AuditFilter {
        actor_id: wanted.actor_id,
        pupil_id,
        action: wanted.action.clone(),
        from: wanted.from,
        to: wanted.to,
    }))
}

/// Entries with the names and UPNs they refer to.
struct Listing {
    page: AuditPage,
    /// Staff names by id, for the actor column and the person filter.
    staff: Vec<(i64, String)>,
    /// UPNs of the pupils the entries are about, by id.
    upns: HashMap<i64, String>,
    actions: Vec<String>,
    /// No pupil has the UPN asked for.
    unknown_pupil: bool,
}

impl Listing {
    fn staff_name(&self, id: Option<i64>) -> &str {
        match id {
            None => "the system",
            Some(id) => self
                .staff
                .iter()
                .find(|(s, _)| *s == id)
                .map_or("a former member of staff", |(_, name)| name.as_str()),
        }
    }

    fn upn(&self, row: &AuditRow) -> Option<&str> {
        (row.entity == "pupil")
            .then(|| row.entity_id.and_then(|id| self.upns.get(&id)))
            .flatten()
            .map(String::as_str)
    }
}

fn load(conn: &mut DbConnection, school_id: i64, wanted: &Wanted, limit: i64) -> Result<Listing> {
    let filter = resolve(conn, school_id, wanted)?;
    let page = match &filter {
        Some(filter) => audit::list(conn, school_id, filter, wanted.cursor, limit)?,
        None => AuditPage {
            rows: Vec::new(),
            next: None,
        },
    };
    let mut pupil_ids: Vec<i64> = page
        .rows
        .iter()
        .filter(|row| row.entity == "pupil")
        .filter_map(|row| row.entity_id)
        .collect();
    pupil_ids.sort_unstable();
    pupil_ids.dedup();
    let upns = pupils::by_ids(conn, school_id, &pupil_ids)?
        .into_iter()
        .map(|(id, pupil)| (id, pupil.upn))
        .collect();
    Ok(Listing {
        page,
        staff: staff::list(conn, school_id, None)?
            .into_iter()
            .map(|m| (m.id, m.name))
            .collect(),
        upns,
        actions: audit::actions(conn, school_id)?,
        unknown_pupil: filter.is_none(),
    })
}

fn render(listing: &Listing, wanted: &Wanted, problem: Option<&Problem>) -> Markup {
    let filters = filter_query(wanted);
    let next = listing.page.next.map(|cursor| {
        let mut pairs = filters.clone();
        pairs.push(("limit", wanted.limit.to_string()));
        pairs.push(("cursor", cursor.encode()));
        link("/admin/audit", &pairs)
    });
    html! {
        h1 { "Audit log" }
        p.muted { "Who changed or opened what, and when, newest first. Entries name records by number and pupils by UPN, never by name. A pupil filter finds their own record and every record of theirs." }
        form.filters method="get" action="/admin/audit" {
            label for="staff" { "Member of staff" }
            select #staff name="staff" {
                option value="" { "Anyone" }
                @for (id, name) in &listing.staff {
                    option value=(id) selected[wanted.actor_id == Some(*id)] { (name) }
                }
            }
            (field_problem(problem, "staff"))
            label for="pupil" { "Pupil (UPN)" }
            input #pupil type="text" name="pupil" maxlength="13" value=(wanted.upn.as_deref().unwrap_or(""));
            (field_problem(problem, "pupil"))
            label for="action" { "Action" }
            select #action name="action" {
                option value="" { "Any" }
                @for action in &listing.actions {
                    option value=(action) selected[wanted.action.as_deref() == Some(action.as_str())] { (action) }
                }
            }
            label for="from" { "From" }
            input #from type="date" name="from" value=(wanted.from.map(|d| d.to_string()).unwrap_or_default());
            (field_problem(problem, "from"))
            label for="to" { "To" }
            input #to type="date" name="to" value=(wanted.to.map(|d| d.to_string()).unwrap_or_default());
            (field_problem(problem, "to"))
            (field_problem(problem, "limit"))
            (field_problem(problem, "cursor"))
            button type="submit" { "Show" }
        }
        p { a.button href=(link("/admin/audit.csv", &filters)) { "Download as CSV" } }
        @if listing.page.rows.is_empty() { p.muted { "No entries match." } }
        @else {
            div.scroll tabindex="0" role="region" aria-label="Audit log entries" {
                table.audit {
                    thead { tr { th { "When" } th { "Who" } th { "Action" } th { "Record" } th { "Detail" } } }
                    tbody {
                        @for row in &listing.page.rows {
                            tr {
                                td { (local(from_db_time(row.at))) }
                                td { (listing.staff_name(row.actor_id)) }
                                td.mono { (row.action) }
                                td {
                                    @if let (Some(upn), Some(id)) = (listing.upn(row), row.entity_id) {
                                        "pupil " a.mono href={ "/pupils/" (id) } { (upn) }
                                    } @else {
                                        (row.entity) @if let Some(id) = row.entity_id { " " (id) }
                                    }
                                }
                                td { (row.detail) }
                            }
                        }
                    }
                }
            }
        }
        @if let Some(next) = next { p { a.button href=(next) { "Older entries" } } }
    }
}

/// `GET /admin/audit?staff=&pupil=&action=&from=&to=&limit=&cursor=`: the school's audit log,
/// filtered, newest first, `limit` entries a page with a link to the next.
pub async fn show(visit: Visit) -> PageResult {
    require_reader(&visit.member)?;
    let (wanted, mut problem) = read_query(&visit.query);
    let school_id = visit.member.school_id;
    let asked = wanted.clone();
    let listing = visit
        .state
        .db
        .transaction(move |conn| load(conn, school_id, &asked, asked.limit))
        .await?;
    if listing.unknown_pupil {
        problem.get_or_insert(refuse("pupil", "no pupil of this school has that UPN"));
    }
    Ok(visit.filtered("Audit log", problem.as_ref(), |_| {
        render(&listing, &wanted, problem.as_ref())
    }))
}

/// The CSV's columns.
const COLUMNS: [&str; 8] = [
    "When (UTC)",
    "Staff id",
    "Staff",
    "Action",
    "Record",
    "Record id",
    "UPN",
    "Detail",
];

fn csv_rows(listing: &Listing) -> Vec<Vec<String>> {
    let mut rows = vec![COLUMNS.iter().map(|c| c.to_string()).collect()];
    for row in &listing.page.rows {
        rows.push(vec![
            from_db_time(row.at).to_rfc3339_opts(SecondsFormat::Secs, true),
            row.actor_id.map(|id| id.to_string()).unwrap_or_default(),
            text_cell(listing.staff_name(row.actor_id)),
            text_cell(&row.action),
            text_cell(&row.entity),
            row.entity_id.map(|id| id.to_string()).unwrap_or_default(),
            text_cell(listing.upn(row).unwrap_or("")),
            text_cell(&row.detail),
        ]);
    }
    rows
}

/// `GET /admin/audit.csv?staff=&pupil=&action=&from=&to=`: the filtered audit log as CSV,
/// newest first (at most 100,000 entries).
pub async fn csv(visit: Visit) -> PageResult {
    require_reader(&visit.member)?;
    let (mut wanted, problem) = read_query(&visit.query);
    if let Some(problem) = problem {
        return Err(Error::from(&problem).into());
    }
    wanted.cursor = None;
    let school_id = visit.member.school_id;
    let body = visit
        .state
        .db
        .transaction(move |conn| {
            let listing = load(conn, school_id, &wanted, CSV_MOST)?;
            if listing.unknown_pupil {
                return Err(Error::invalid(
                    "pupil",
                    "no pupil of this school has that UPN",
                ));
            }
            csv_bytes(&csv_rows(&listing))
        })
        .await?;
    Ok(csv_response("audit-log.csv", body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_are_read_and_checked() {
        let (wanted, problem) = read_query(&Fields::from_query(
            "staff=4&pupil=a123&action=plan.read&from=2026-01-02&to=2026-01-05&limit=20",
        ));
        assert!(problem.is_none());
        assert_eq!(wanted.actor_id, Some(4));
        assert_eq!(wanted.upn.as_deref(), Some("A123"));
        assert_eq!(wanted.limit, 20);
        let (_, problem) = read_query(&Fields::from_query("from=2026-02-01&to=2026-01-01"));
        assert!(problem.is_some_and(|p| p.is_about("to")));
        let (wanted, problem) = read_query(&Fields::from_query("limit=9999"));
        assert!(problem.is_some_and(|p| p.is_about("limit")));
        assert_eq!(wanted.limit, DEFAULT_LIMIT);
    }

    #[test]
    fn cursors_round_trip() {
        let at = chrono::DateTime::from_timestamp(1_700_000_000, 123_456_789)
            .map(|t| t.naive_utc())
            .unwrap();
        let cursor = Cursor { at, id: 42 };
        assert_eq!(Cursor::decode(&cursor.encode()), Some(cursor));
        assert_eq!(Cursor::decode("nonsense"), None);
    }
}
