//! The Coaching Plan and the Coaching Programme, for the people who run them: a pupil's plan
//! in force with its earlier versions and the form to agree or revise it; the pupil's
//! programme blocks with their sessions and fidelity, the form to plan the current block and
//! the block review; one session's record; and the specialist practitioner's day and week.

use std::collections::HashMap;

use chrono::NaiveDate;
use maud::{html, Markup};

use super::form::{Fields, Problem};
use crate::db::models::{ProgrammeBlockRow, ProgrammeSessionRow};
use crate::db::pastoral::PastoralPlace;
use crate::db::pupils::{self, PupilView};
use crate::db::staff::{self, StaffMember};
use crate::db::DbConnection;
use crate::domain::programme::{SessionLead, SessionOutcome, SessionPlace};
use crate::domain::visibility::Record;
use crate::domain::{Level, Role};
use crate::error::{Error, Result};

/// Roles that have a practitioner's page: those who can be chosen to run sessions in school.
pub const PRACTITIONER_ROLES: [Role; 2] = [Role::Specialist, Role::Sendco];

// ---------------------------------------------------------------------------------------------
// Who may see what, and small helpers
// ---------------------------------------------------------------------------------------------

/// Whether `member` may see a pupil's Coaching Plan or Coaching Programme page (`record` says
/// which), and write it while the pupil is at that level, by the one rule of
/// [`crate::domain::visibility`].
pub fn may_see(member: &StaffMember, place: PastoralPlace, record: Record) -> bool {
    member.may_read(place, record)
}

/// Whether the pupil page links to the Coaching Plan or Programme page (`record` says
/// which): for pupils at levels 4 to 6, shown to those who may see it.
pub fn links_shown(member: &StaffMember, pupil: &PupilView, record: Record) -> bool {
    (Level::Plan..=Level::Provision).contains(&pupil.level)
        && may_see(member, pupil.place(), record)
}

/// Loads a pupil of the member's school whose plan or programme (`record`) the member may
/// see (the API's plan and programme routes read through it too).
pub(crate) fn pupil_seen_by(
    conn: &mut DbConnection,
    member: &StaffMember,
    id: i64,
    record: Record,
) -> Result<PupilView> {
    let pupil = pupils::get(conn, member.school_id, id)?;
    if !may_see(member, pupil.place(), record) {
        return Err(Error::Forbidden(
            "a pupil's Coaching Plan and Programme are for their Head of Year or Head of House, the SENDCO and SLT"
                .into(),
        ));
    }
    Ok(pupil)
}

fn pupil_id_of(path: &str) -> Result<i64> {
    path.parse().map_err(|_| Error::NotFound("pupil"))
}

/// The school's staff names by id, to say who ran, recorded or reviewed something.
fn staff_names(conn: &mut DbConnection, school_id: i64) -> Result<HashMap<i64, String>> {
    Ok(staff::list(conn, school_id, None)?
        .into_iter()
        .map(|m| (m.id, m.name))
        .collect())
}

fn name_in(names: &HashMap<i64, String>, id: i64) -> &str {
    names
        .get(&id)
        .map_or("a former member of staff", String::as_str)
}

fn day(on: NaiveDate) -> String {
    on.format("%a %-d %b %Y").to_string()
}

fn short_day(on: NaiveDate) -> String {
    on.format("%a %-d %b").to_string()
}

/// A `date` input's value; blank is `None`.
fn date_in(field: &str, raw: Option<&str>) -> std::result::Result<Option<NaiveDate>, Problem> {
    let Some(raw) = raw.map(str::trim).filter(|r| !r.is_empty()) else {
        return Ok(None);
    };
    NaiveDate::parse_from_str(raw, "%Y-%m-%d")
        .map(Some)
        .map_err(|_| Problem::at(field, "must be a date, such as 2026-11-23"))
}

/// A whole number typed into a field; blank is `None`.
fn number_in(field: &str, raw: Option<&str>) -> std::result::Result<Option<u32>, Problem> {
    raw.map(|r| {
        r.trim()
            .parse::<u32>()
            .map_err(|_| Problem::at(field, "must be a whole number"))
    })
    .transpose()
}

/// The names of fields in a list, for [`problem_summary`].
fn as_strs(names: &[String]) -> Vec<&str> {
    names.iter().map(String::as_str).collect()
}

fn lead_title(raw: &str) -> &str {
    SessionLead::parse(raw).map_or(raw, |v| v.title())
}

fn outcome_title(raw: &str) -> &str {
    SessionOutcome::parse(raw).map_or(raw, |v| v.title())
}

fn place_title(raw: &str) -> &str {
    SessionPlace::parse(raw).map_or(raw, |v| v.title())
}

/// Who runs a block's sessions, by name.
fn runner(block: &ProgrammeBlockRow, names: &HashMap<i64, String>) -> String {
    let who = match (block.practitioner_id, &block.practitioner_name) {
        (Some(id), _) => name_in(names, id).to_string(),
        (None, Some(name)) => name.clone(),
        (None, None) => "not named".to_string(),
    };
    format!("{}: {who}", lead_title(&block.led_by))
}

/// What a session's row says it is: its outcome, or that it is waiting.
fn session_status(session: &ProgrammeSessionRow, today: NaiveDate) -> Markup {
    html! {
        @match session.outcome.as_deref() {
            Some(outcome) => span class={ "tag outcome-" (outcome) } { (outcome_title(outcome)) },
            None if session.on_date < today => span.tag.alert { "Not recorded" },
            None if session.on_date == today => span.tag { "Today" },
            None => span.tag { "Upcoming" },
        }
    }
}

fn radio(name: &str, value: &str, values: &Fields, label: &str) -> Markup {
    html! {
        label.choice {
            input type="radio" name=(name) value=(value) checked[values.raw(name) == value];
            " " (label)
        }
    }
}

mod blocks;
mod plan;
mod review;
mod sessions;

pub use blocks::{plan_block, share_block, show_programme};
pub use plan::{save_plan, share_plan, show_plan};
pub use review::review_block;
pub use sessions::{practitioner, record_session, show_session};
