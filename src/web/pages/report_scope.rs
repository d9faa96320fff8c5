//! The one reader of a report's scope and dates, for every insight report: whose incidents or
//! pupils (the school, a year group, a form, a house or one pupil) and from when to when. A
//! report says which scopes it offers, its default range and its longest; what is wrong is
//! a [`Problem`] at its field, with that part read as its default, so the report's form can be
//! shown again. Who may see the scope is checked by the report (by the one rule of
//! [`crate::db::insight::may_see`]).

use chrono::{NaiveDate, TimeDelta};

use super::form::{Fields, Problem};
use crate::db::insight::{self, Reach, Scope};
use crate::db::staff::StaffMember;
use crate::domain::Role;

/// The kinds of scope a report may be asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScopeKind {
    School,
    Year,
    Form,
    House,
    Pupil,
}

impl ScopeKind {
    fn words(self) -> &'static str {
        match self {
            ScopeKind::School => "the whole school",
            ScopeKind::Year => "a year group",
            ScopeKind::Form => "a form",
            ScopeKind::House => "a house",
            ScopeKind::Pupil => "a pupil",
        }
    }
}

/// What a report accepts: its scopes, its range when none is chosen, and its longest range.
pub struct ReportRules {
    /// The scopes offered, in the order they are named.
    pub scopes: &'static [ScopeKind],
    /// Where the range starts when no start is chosen, from its end.
    pub default_from: fn(NaiveDate) -> NaiveDate,
    /// The most days a range covers, its first and last days included.
    pub max_days: i64,
}

/// A report's scope and dates, as read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReportAsk {
    pub scope: Scope,
    pub from: NaiveDate,
    pub to: NaiveDate,
}

impl ReportAsk {
    /// The query pairs that ask for this scope and range again.
    pub fn query_pairs(&self) -> Vec<(&'static str, String)> {
        let mut pairs: Vec<(&str, String)> = Vec::new();
        match self.scope {
            Scope::School => pairs.push(("scope", "school".into())),
            Scope::Year(year) => {
                pairs.extend([("scope", "year".into()), ("year", year.to_string())])
            }
            Scope::Form(id) => pairs.extend([("scope", "form".into()), ("form", id.to_string())]),
            Scope::House(id) => {
                pairs.extend([("scope", "house".into()), ("house", id.to_string())])
            }
            Scope::Pupil(id) => {
                pairs.extend([("scope", "pupil".into()), ("pupil", id.to_string())])
            }
        }
        pairs.push(("from", self.from.to_string()));
        pairs.push(("to", self.to.to_string()));
        pairs
    }

    /// The query string that asks for this scope and range again.
    pub fn query(&self) -> String {
        serde_urlencoded::to_string(self.query_pairs()).unwrap_or_default()
    }
}

/// The scope a member sees first: the whole school for those who may see it; a Head of Year
/// their first year group, a Head of House their first house; otherwise the school.
pub fn default_scope(member: &StaffMember) -> Scope {
    if insight::may_see(member, Reach::School) {
        return Scope::School;
    }
    match (own_year(member), own_house(member)) {
        (Some(year), _) => Scope::Year(year),
        (None, Some(house)) => Scope::House(house),
        (None, None) => Scope::School,
    }
}

fn own_year(member: &StaffMember) -> Option<i16> {
    member
        .has_role(Role::PastoralLead)
        .then(|| member.year_groups.iter().min().copied())
        .flatten()
}

fn own_house(member: &StaffMember) -> Option<i64> {
    member
        .has_role(Role::PastoralLead)
        .then(|| member.houses.iter().min().copied())
        .flatten()
}

/// Reads the scope and range from a report's query, with the first problem in them; a part
/// with a problem reads as its default. A year group or house scope with none chosen is the
/// member's own when they lead one; a year group or house chosen with no scope is that scope.
pub fn read_report_ask(
    member: &StaffMember,
    query: &Fields,
    rules: &ReportRules,
    today: NaiveDate,
) -> (ReportAsk, Option<Problem>) {
    let mut problem: Option<Problem> = None;
    let offered = |kind: ScopeKind| rules.scopes.contains(&kind);
    let mut refuse = |field: &str, message: &str| {
        problem.get_or_insert(Problem::at(field, message));
        default_scope(member)
    };
    let year = query.get("year").and_then(|raw| raw.parse::<i16>().ok());
    let id_of = |name: &str| query.get(name).and_then(|raw| raw.parse::<i64>().ok());
    let scope = match query.get("scope") {
        None => match (year, id_of("house")) {
            (Some(year), _) if offered(ScopeKind::Year) => Scope::Year(year),
            (None, Some(house)) if offered(ScopeKind::House) => Scope::House(house),
            _ => default_scope(member),
        },
        Some("school") if offered(ScopeKind::School) => Scope::School,
        Some("year") if offered(ScopeKind::Year) => match year.or_else(|| own_year(member)) {
            Some(year) => Scope::Year(year),
            None => refuse("year", "choose a year group from the list"),
        },
        Some("form") if offered(ScopeKind::Form) => match id_of("form") {
            Some(id) => Scope::Form(id),
            None => refuse("form", "choose a form from the list"),
        },
        Some("house") if offered(ScopeKind::House) => {
            match id_of("house").or_else(|| own_house(member)) {
                Some(id) => Scope::House(id),
                None => refuse("house", "choose a house from the list"),
            }
        }
        Some("pupil") if offered(ScopeKind::Pupil) => match id_of("pupil") {
            Some(id) => Scope::Pupil(id),
            None => refuse("pupil", "choose a pupil"),
        },
        Some(_) => {
            let words: Vec<&str> = rules.scopes.iter().map(|kind| kind.words()).collect();
            let message = match words.split_last() {
                Some((last, [])) => format!("choose {last}"),
                Some((last, rest)) => format!("choose {} or {last}", rest.join(", ")),
                None => "choose whose report to see".to_string(),
            };
            refuse("scope", &message)
        }
    };
    let mut date_of = |name: &str| match query.get(name) {
        None => None,
        Some(raw) => NaiveDate::parse_from_str(raw, "%Y-%m-%d")
            .map_err(|_| {
                problem.get_or_insert(Problem::at(name, "must be a date, such as 2026-03-02"));
            })
            .ok(),
    };
    let to = date_of("to").unwrap_or(today);
    let from = date_of("from").unwrap_or_else(|| (rules.default_from)(to));
    let mut ask = ReportAsk { scope, from, to };
    if to < from {
        problem.get_or_insert(Problem::at("to", "must be on or after the start date"));
        ask.from = (rules.default_from)(to);
    } else if (to - from).num_days() >= rules.max_days {
        let message = format!("a report covers at most {} days", rules.max_days);
        problem.get_or_insert(Problem::at("to", message));
        ask.from = (rules.default_from)(to);
    }
    (ask, problem)
}

/// The range of `days` days ending on `to`, for [`ReportRules::default_from`].
/// What field `name` of a report's chooser shows: what was typed when the choice was
/// refused (so the person sees what to put right), otherwise `read` (the value reported on).
pub fn shown_value(query: &Fields, problem: Option<&Problem>, name: &str, read: String) -> String {
    if problem.is_some() && !query.raw(name).is_empty() {
        query.raw(name).to_string()
    } else {
        read
    }
}

pub fn days_before(to: NaiveDate, days: i64) -> NaiveDate {
    to - TimeDelta::days(days - 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PATTERNS: ReportRules = ReportRules {
        scopes: &[ScopeKind::School, ScopeKind::Year, ScopeKind::House],
        default_from: |to| days_before(to, 42),
        max_days: 400,
    };

    fn day(text: &str) -> NaiveDate {
        NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn a_range_is_read_checked_and_given_back() {
        let member = StaffMember {
            id: 1,
            school_id: 1,
            email: "slt@example.org".into(),
            name: "Senior leader".into(),
            roles: vec![Role::Slt],
            year_groups: Vec::new(),
            houses: Vec::new(),
        };
        let query = Fields::from_query("scope=year&year=9&from=2025-11-01&to=2025-11-10");
        let (ask, problem) = read_report_ask(&member, &query, &PATTERNS, day("2025-12-01"));
        assert_eq!(problem, None);
        assert_eq!(ask.scope, Scope::Year(9));
        assert_eq!(
            ask.query(),
            "scope=year&year=9&from=2025-11-01&to=2025-11-10"
        );

        let query = Fields::from_query("from=2025-11-21&to=2025-11-10");
        let (ask, problem) = read_report_ask(&member, &query, &PATTERNS, day("2025-12-01"));
        assert_eq!(problem.map(|p| p.field), Some(Some("to".to_string())));
        assert_eq!((ask.scope, ask.from), (Scope::School, day("2025-09-30")));

        let query = Fields::from_query("scope=pupil&pupil=3&from=yesterday");
        let (_, problem) = read_report_ask(&member, &query, &PATTERNS, day("2025-12-01"));
        let problem = problem.unwrap();
        assert_eq!(problem.field.as_deref(), Some("scope"));
        assert_eq!(
            problem.message,
            "choose the whole school, a year group or a house"
        );
    }
}
