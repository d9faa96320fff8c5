//! Provision pages. A pupil's support on one printable page: their Coaching Plan, programme
//! blocks with fidelity, and each item of their Bespoke Provision Map with its costs and its
//! reviews, with forms (not printed) to add provision and review it. The SENDCO's and SLT's
//! whole-school provision map, filtered by year, level and SEN status, with totals and the
//! reviews due. Both also download as CSV.

use chrono::{NaiveDate, Utc};

use super::form::Problem;
use crate::db::provision::ItemView;
use crate::db::pupils::PupilView;
use crate::db::staff::StaffMember;
use crate::domain::calendar::SchoolCalendar;
use crate::domain::details::{DetailError, SenStatus};
use crate::domain::plan::{ProvisionDecision, ProvisionProgress};
use crate::domain::visibility::Record;
use crate::domain::Level;
use crate::error::{Error, Result};

/// How far ahead the list of reviews due looks, in days.
const REVIEWS_AHEAD_DAYS: i64 = 14;

/// The form field for the cost of a session, typed in pounds; the domain checks it in pence
/// under `cost_per_session_pence`.
const COST_FIELD: &str = "cost_per_session";

/// The fields of the form that adds provision, in the order shown.
const ADD_FIELDS: [&str; 11] = [
    "what",
    "provider_kind",
    "provider_name",
    "frequency_per_week",
    "session_minutes",
    "starts_on",
    "review_on",
    "ends_on",
    COST_FIELD,
    "entry_data",
    "target",
];

/// The fields of the form that reviews provision.
const REVIEW_FIELDS: [&str; 5] = [
    "assessment",
    "progress",
    "next_plan",
    "decision",
    "next_review_on",
];

fn today() -> NaiveDate {
    SchoolCalendar::local_date(Utc::now())
}

fn pupil_id_of(path: &str) -> Result<i64> {
    path.parse().map_err(|_| Error::NotFound("pupil"))
}

fn item_id_of(path: &str) -> Result<i64> {
    path.parse().map_err(|_| Error::NotFound("provision"))
}

/// Whether the pupil page links to the pupil's provision page: for pupils at levels 4 to 6,
/// shown to those who may see their support (their Head of Year, the SENDCO and SLT).
pub fn linked_from_pupil(member: &StaffMember, pupil: &PupilView) -> bool {
    (Level::Plan..=Level::Provision).contains(&pupil.level)
        && member.may_read(pupil.place(), Record::Provision)
}

fn date(on: NaiveDate) -> String {
    on.format("%-d %b %Y").to_string()
}

/// Pence as pounds for a spreadsheet: `48750` as `487.50`, no symbol and no commas.
fn pounds_for_csv(pence: u64) -> String {
    format!("{}.{:02}", pence / 100, pence % 100)
}

fn provider_kind(external: bool) -> &'static str {
    if external {
        "External"
    } else {
        "Internal"
    }
}

fn progress_title(raw: &str) -> &str {
    ProvisionProgress::parse(raw).map_or(raw, |v| v.title())
}

fn decision_title(raw: &str) -> &str {
    ProvisionDecision::parse(raw).map_or(raw, |v| v.title())
}

fn sen_title(raw: &str) -> &str {
    SenStatus::parse(raw).map_or(raw, |v| v.title())
}

fn level_of(number: i16) -> Level {
    Level::from_number(i64::from(number)).unwrap_or(Level::None)
}

fn is_active(item: &ItemView) -> bool {
    item.item.status == "active"
}

fn block_status(status: &str) -> &str {
    match status {
        "running" => "running",
        "reviewed" => "reviewed",
        "ended" => "ended without a review",
        other => other,
    }
}

/// The slot next to a field where its problem is shown, with an id unique on the page (the
/// page has one review form per provision).
fn refuse(field: &'static str, message: impl Into<String>) -> Problem {
    Problem::from(DetailError {
        field,
        message: message.into(),
    })
}

mod csv;
mod map;
mod support;
mod support_form;

pub use csv::{map_csv, pupil_csv};
pub use map::map;
pub(crate) use map::years_of;
/// The map's filters, who may see it and its audit detail, read the same way by the API.
pub(crate) use map::{map_detail, read_map_filter, require_map};
pub use support::{add, review, show};
