//! Inserts the generated demo school into an empty database, in one transaction.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;

use super::bulk::{self, Cell};
use super::generate::{DemoSchool, DEMO_PASSWORD};
use super::names::ADULT_GIVEN;
use super::scale::{load_scaled, ScaleSpec};
use crate::db::schema::{forms, pupils};
use crate::db::staff::{self, NewStaff};
use crate::db::{schools, to_db_time, Database, DbConnection};
use crate::domain::calendar::SchoolCalendar;
use crate::domain::contact::{Contact, ContactDraft, Relationship};
use crate::domain::details::{EmailAddress, FormName, PersonName, SchoolCode, YearNumber};
use crate::domain::oneroster::{GroupPlan, TeachingGroup};
use crate::domain::{ProgrammeBlock, Role};
use crate::error::{Error, Result};

/// What `steadfast demo` did.
#[derive(Debug)]
pub enum DemoOutcome {
    /// The demo school was loaded; the text counts what it holds.
    Loaded(String),
    /// The demo school was there already; nothing was changed.
    AlreadyLoaded,
}

/// Loads the demo school as of `now`, unless the database already holds it. A database that
/// holds other schools is refused: the demo is for empty databases only.
pub fn load_demo(db: &Database, now: DateTime<Utc>) -> anyhow::Result<DemoOutcome> {
    let report = load_scaled(db, &ScaleSpec::default(), now, |_| {})?;
    Ok(match report.and_then(|r| r.schools.into_iter().next()) {
        Some(school) => DemoOutcome::Loaded(school.summary),
        None => DemoOutcome::AlreadyLoaded,
    })
}

/// The demo logins, as printed by `steadfast demo` and listed in the README.
pub fn logins_text() -> String {
    let mut text = String::from("Demo logins (password for all: ");
    text.push_str(DEMO_PASSWORD);
    text.push_str(")\n");
    for (email, what) in [
        ("teacher@demo.example", "class staff"),
        (
            "hoy7@demo.example … hoy11@demo.example",
            "Head of Year 7 … 11 (pastoral lead)",
        ),
        ("sendco@demo.example", "SENDCO"),
        ("slt@demo.example", "senior leadership"),
        ("hod@demo.example", "Head of Department"),
        ("specialist@demo.example", "specialist practitioner"),
        ("admin@demo.example", "administrator"),
    ] {
        text.push_str(&format!("  {email:<42} {what}\n"));
    }
    text
}

fn checked<T>(result: std::result::Result<T, crate::domain::details::DetailError>) -> Result<T> {
    result.map_err(|e| Error::Internal(format!("demo data is invalid: {e}")))
}

fn weeks(block: Option<ProgrammeBlock>) -> Option<i16> {
    block.and_then(|b| i16::try_from(b.weeks()).ok())
}

/// Inserts a generated school: the school, its calendar, houses, staff, forms and pupils row
/// by row, its history in bulk, then the records of levels 4 to 6. Returns a summary of what
/// it holds.
pub(crate) fn insert(
    conn: &mut DbConnection,
    demo: &DemoSchool,
    password_hash: &str,
    now: DateTime<Utc>,
) -> Result<String> {
    let code = checked(SchoolCode::parse(&demo.code))?;
    let school = schools::create(conn, &code, &demo.name, now)?;
    // The demo logins sign in with their password alone, for trying each role at once; an
    // administrator can require an authenticator app of roles on /admin/sign-in.
    crate::db::second_factor::set_required_roles(conn, school.id, &[], None, now)?;
    for closure in &demo.closures {
        schools::add_closure(conn, school.id, closure)?;
    }
    let mut house_ids = HashMap::new();
    for house in &demo.houses {
        house_ids.insert(house.as_str(), schools::house(conn, school.id, house)?);
    }

    let mut staff_ids = Vec::with_capacity(demo.staff.len());
    for member in &demo.staff {
        let email = checked(EmailAddress::parse(&member.email))?;
        let name = checked(PersonName::parse("name", &member.name))?;
        let roles = member
            .roles
            .iter()
            .map(|r| Role::parse(r).map_err(|e| Error::Internal(e.to_string())))
            .collect::<Result<Vec<_>>>()?;
        let years = member
            .year_groups
            .iter()
            .map(|y| checked(YearNumber::new(i64::from(*y))))
            .collect::<Result<Vec<_>>>()?;
        let created = staff::create(
            conn,
            NewStaff {
                school_id: school.id,
                email: &email,
                name: &name,
                roles: &roles,
                year_groups: &years,
                password_hash: Some(password_hash.to_string()),
            },
            now,
        )?;
        staff_ids.push(created.id);
    }

    let mut form_ids: HashMap<&str, (i64, i64)> = HashMap::new();
    for form in &demo.forms {
        let year = schools::year_group(
            conn,
            school.id,
            checked(YearNumber::new(i64::from(form.year)))?,
        )?;
        let row = schools::form(conn, &year, &checked(FormName::parse(&form.name))?)?;
        if let Some(tutor) = form.tutor.and_then(|t| staff_ids.get(t)) {
            diesel::update(forms::table.find(row.id))
                .set(forms::tutor_id.eq(tutor))
                .execute(conn)?;
        }
        form_ids.insert(form.name.as_str(), (year.id, row.id));
    }

    // When each pupil was last involved in an incident, kept on the pupil for the lists.
    let mut last_incident: HashMap<usize, DateTime<Utc>> = HashMap::new();
    for incident in &demo.incidents {
        for pupil in &incident.pupils {
            let latest = last_incident.entry(*pupil).or_insert(incident.occurred_at);
            *latest = (*latest).max(incident.occurred_at);
        }
    }
    let mut pupil_ids = Vec::with_capacity(demo.pupils.len());
    for (index, pupil) in demo.pupils.iter().enumerate() {
        let (year_group_id, form_id) = *form_ids
            .get(pupil.form.as_str())
            .ok_or_else(|| Error::Internal(format!("demo pupil {index} has an unknown form")))?;
        let id: i64 = diesel::insert_into(pupils::table)
            .values((
                pupils::school_id.eq(school.id),
                pupils::upn.eq(&pupil.upn),
                pupils::given_name.eq(&pupil.given_name),
                pupils::family_name.eq(&pupil.family_name),
                pupils::year_group_id.eq(year_group_id),
                pupils::form_id.eq(form_id),
                pupils::house_id.eq(house_ids.get(pupil.house.as_str()).copied()),
                pupils::sen_status.eq(pupil.sen_status),
                pupils::level.eq(pupil.level.number()),
                pupils::level_since.eq(to_db_time(pupil.level_since)),
                pupils::programme_block.eq(weeks(pupil.programme_block)),
                pupils::had_plan.eq(pupil.had_plan),
                pupils::programme_without_impact.eq(pupil.programme_without_impact),
                pupils::created_at.eq(to_db_time(now)),
                pupils::last_incident_at.eq(last_incident.get(&index).copied().map(to_db_time)),
            ))
            .returning(pupils::id)
            .get_result(conn)?;
        pupil_ids.push(id);
        let contacts = demo_contacts(index, &pupil.family_name)?;
        crate::db::contacts::replace_from_import(conn, school.id, id, &contacts)?;
    }
    insert_history(conn, school.id, demo, &pupil_ids, &staff_ids)?;
    let classes = GroupPlan {
        added: teacher_classes(demo),
        ..GroupPlan::default()
    };
    crate::db::teaching_groups::apply(conn, school.id, &classes)?;

    let support = super::support::add_support(conn, school.id, demo.email_domain(), now)?;
    Ok(format!(
        "{} pupils, {} staff, {} incidents, {} suggestions, {} level changes, {} meetings, \
         {} Coaching Plans, {} programme blocks ({} sessions recorded), {} provisions mapped; {}",
        demo.pupils.len(),
        demo.staff.len(),
        demo.incidents.len(),
        demo.suggestions.len(),
        demo.level_changes.len(),
        demo.meetings.len(),
        support.plans,
        support.blocks,
        support.sessions_recorded,
        support.provisions,
        demo.support_shape().describe(),
    ))
}

/// The relationships the demo's second family contacts take in turn (the first is a parent).
const DEMO_RELATIONSHIPS: [Relationship; 4] = [
    Relationship::Carer,
    Relationship::Grandparent,
    Relationship::StepParent,
    Relationship::Guardian,
];

/// One or two made-up family contacts for the demo's `index`th pupil, with `example.org`
/// emails and numbers from the range kept for drama (07700 900xxx); chosen from the pupil's
/// place in the list rather than the generator's random numbers, so that the rest of the demo
/// is as it was.
fn demo_contacts(index: usize, family_name: &str) -> Result<Vec<Contact>> {
    let how_many = 1 + index % 2;
    (0..how_many)
        .map(|n| {
            let given = ADULT_GIVEN[(index * 7 + n * 13) % ADULT_GIVEN.len()];
            let relationship = match n {
                0 => Relationship::Parent,
                _ => DEMO_RELATIONSHIPS[index % DEMO_RELATIONSHIPS.len()],
            };
            let plain = |text: &str| -> String {
                text.chars()
                    .filter(char::is_ascii_alphanumeric)
                    .map(|c| c.to_ascii_lowercase())
                    .collect()
            };
            let draft = ContactDraft {
                name: format!("{given} {family_name}"),
                relationship: relationship.as_str().to_string(),
                email: Some(format!(
                    "{}.{}{}@example.org",
                    plain(given),
                    plain(family_name),
                    index
                )),
                phone: Some(format!("07700 900{:03}", (index * 2 + n) % 1000)),
                invited: n == 0 || relationship.invited_by_default(),
            };
            checked(Contact::parse(&draft))
        })
        .collect()
}

/// Writes a school's history in bulk: incidents with their pupils and daily counts,
/// suggestions, level changes, and meetings with their participants.
///
/// History is written the way records brought over from a school's earlier system would be:
/// without idempotency keys (they exist only for requests sent with a key, to answer their
/// retries) and without audit rows (the audit log records what staff did in Steadfast itself;
/// the demo has never written any). Ids are given here, following the largest in use.
fn insert_history(
    conn: &mut DbConnection,
    school_id: i64,
    demo: &DemoSchool,
    pupil_ids: &[i64],
    staff_ids: &[i64],
) -> Result<()> {
    let pupil_id = |index: usize| -> Result<i64> {
        pupil_ids.get(index).copied().ok_or_else(|| {
            Error::Internal(format!(
                "demo refers to pupil {index}, which does not exist"
            ))
        })
    };
    let staff_id = |index: usize| -> Result<i64> {
        staff_ids.get(index).copied().ok_or_else(|| {
            Error::Internal(format!("demo refers to staff {index}, who does not exist"))
        })
    };
    let ids = bulk::next_ids(conn)?;
    let incident_id = |index: usize| ids.incident + index as i64;
    let suggestion_id = |index: usize| ids.suggestion + index as i64;

    let mut rows = Vec::with_capacity(demo.incidents.len());
    for (index, incident) in demo.incidents.iter().enumerate() {
        let at = to_db_time(incident.occurred_at);
        rows.push(vec![
            Cell::Int(incident_id(index)),
            Cell::Int(school_id),
            Cell::Int(staff_id(incident.reporter)?),
            Cell::Time(at),
            Cell::Text(&incident.behaviour),
            Cell::Text(incident.severity.as_str()),
            Cell::Text(incident.response.as_str()),
            Cell::OptText(incident.location.as_deref()),
            Cell::OptText(incident.lesson.as_deref()),
            Cell::OptText(incident.note.as_deref()),
            Cell::Time(at),
            Cell::OptTime(None),
            Cell::OptTime(None),
            // Logged here, not imported from another system.
            Cell::Bool(false),
            Cell::OptText(None),
        ]);
    }
    bulk::write(conn, bulk::INCIDENTS, rows)?;

    // The pupils of each incident, and how many incidents each pupil had each day.
    let mut rows = Vec::with_capacity(demo.incidents.len() * 5 / 4);
    let mut per_day: HashMap<(i64, NaiveDate), i32> = HashMap::new();
    for (index, incident) in demo.incidents.iter().enumerate() {
        let day = SchoolCalendar::local_date(incident.occurred_at);
        for pupil in &incident.pupils {
            let pupil = pupil_id(*pupil)?;
            rows.push(vec![
                Cell::Int(incident_id(index)),
                Cell::Int(pupil),
                Cell::Int(school_id),
                Cell::Time(to_db_time(incident.occurred_at)),
            ]);
            *per_day.entry((pupil, day)).or_default() += 1;
        }
    }
    bulk::write(conn, bulk::INCIDENT_PUPILS, rows)?;
    let mut days: Vec<((i64, NaiveDate), i32)> = per_day.into_iter().collect();
    days.sort_unstable();
    bulk::write(
        conn,
        bulk::PUPIL_DAY_INCIDENTS,
        days.into_iter().map(|((pupil, day), n)| {
            vec![
                Cell::Int(pupil),
                Cell::Date(day),
                Cell::Int(school_id),
                Cell::Int32(n),
            ]
        }),
    )?;
    // The whole school's daily groupings, counted from what was just written.
    crate::db::insight::rebuild_groupings(conn, school_id)?;

    let mut rows = Vec::with_capacity(demo.suggestions.len());
    let evidence: Vec<String> = demo
        .suggestions
        .iter()
        .map(|s| {
            let ids: Vec<i64> = s.evidence.iter().map(|i| incident_id(*i)).collect();
            serde_json::to_string(&ids).unwrap_or_else(|_| "[]".into())
        })
        .collect();
    for (index, suggestion) in demo.suggestions.iter().enumerate() {
        rows.push(vec![
            Cell::Int(suggestion_id(index)),
            Cell::Int(school_id),
            Cell::Int(pupil_id(suggestion.pupil)?),
            Cell::Small(suggestion.from.number()),
            Cell::Small(suggestion.to.number()),
            Cell::Text(suggestion.rule.as_str()),
            Cell::Text(&suggestion.reason),
            Cell::Text(&evidence[index]),
            Cell::Text(suggestion.status.as_str()),
            Cell::Int32(1),
            Cell::Time(to_db_time(suggestion.created_at)),
            Cell::OptInt(suggestion.decided_by.map(staff_id).transpose()?),
            Cell::OptTime(suggestion.decided_at.map(to_db_time)),
            Cell::OptText(suggestion.decision_note.as_deref()),
            Cell::OptDate(None),
        ]);
    }
    bulk::write(conn, bulk::SUGGESTIONS, rows)?;

    let mut rows = Vec::with_capacity(demo.level_changes.len());
    for (index, change) in demo.level_changes.iter().enumerate() {
        rows.push(vec![
            Cell::Int(ids.level_change + index as i64),
            Cell::Int(school_id),
            Cell::Int(pupil_id(change.pupil)?),
            Cell::Small(change.from.number()),
            Cell::Small(change.to.number()),
            Cell::Text(&change.reason),
            Cell::OptInt(change.by.map(staff_id).transpose()?),
            Cell::OptInt(change.suggestion.map(suggestion_id)),
            Cell::Bool(false),
            Cell::Time(to_db_time(change.at)),
        ]);
    }
    bulk::write(conn, bulk::LEVEL_CHANGES, rows)?;

    let mut rows = Vec::with_capacity(demo.meetings.len());
    let mut participants = Vec::with_capacity(demo.meetings.len() * 3);
    for (index, meeting) in demo.meetings.iter().enumerate() {
        let id = ids.meeting + index as i64;
        rows.push(vec![
            Cell::Int(id),
            Cell::Int(school_id),
            Cell::Int(pupil_id(meeting.pupil)?),
            Cell::Small(meeting.level.number()),
            Cell::Date(meeting.due_on),
            Cell::Text(meeting.status.as_str()),
            Cell::OptTime(meeting.starts_at.map(to_db_time)),
            Cell::OptInt32(meeting.duration_minutes),
            Cell::OptText(meeting.location.as_deref()),
            Cell::Bool(meeting.parent_invited),
            Cell::OptTime(meeting.held_at.map(to_db_time)),
            Cell::OptText(meeting.summary.as_deref()),
            Cell::OptBool(meeting.goals_met),
            Cell::Time(to_db_time(meeting.created_at)),
            Cell::Int32(0),
            Cell::OptText(None),
            Cell::OptText(None),
            Cell::OptText(None),
            Cell::OptText(None),
            Cell::OptText(None),
            Cell::OptText(None),
            Cell::OptText(None),
            Cell::Text("level"),
            Cell::OptDate(meeting.due_count.map(|c| c.from)),
            Cell::OptInt32(
                meeting
                    .due_count
                    .and_then(|c| i32::try_from(c.school_days).ok()),
            ),
        ]);
        let mut people = meeting.participants.clone();
        people.sort_unstable();
        people.dedup();
        for person in people {
            participants.push(vec![
                Cell::Int(id),
                Cell::Int(staff_id(person)?),
                Cell::Int(school_id),
            ]);
        }
    }
    bulk::write(conn, bulk::MEETINGS, rows)?;
    bulk::write(conn, bulk::MEETING_PARTICIPANTS, participants)?;
    bulk::fix_sequences(conn)
}

/// The subject classes of the demo teacher (`teacher@...`), as a OneRoster bundle would bring
/// them: an English set in each year, of up to 28 pupils, meeting through the week on the
/// standard timetable with one free period a day, so the logging page opens on the class
/// being taught during school hours.
fn teacher_classes(demo: &DemoSchool) -> Vec<TeachingGroup> {
    const DAYS: [&str; 5] = ["Mon", "Tue", "Wed", "Thu", "Fri"];
    const SET_SIZE: usize = 28;
    let Some(teacher) = demo.staff.iter().find(|s| s.email.starts_with("teacher@")) else {
        return Vec::new();
    };
    const YEARS: [i16; 5] = [7, 8, 9, 10, 11];
    YEARS
        .iter()
        .enumerate()
        .map(|(index, year)| {
            let mut members: Vec<String> = demo
                .pupils
                .iter()
                .filter(|p| p.year == *year)
                .take(SET_SIZE)
                .map(|p| p.upn.clone())
                .collect();
            members.sort();
            let slots: Vec<String> = DAYS
                .iter()
                .enumerate()
                .flat_map(|(day, name)| {
                    (1..=6usize)
                        .filter(move |period| (day + period) % 6 != 0)
                        .filter(move |period| (day + period) % YEARS.len() == index)
                        .map(move |period| format!("{name} {period}"))
                })
                .collect();
            TeachingGroup {
                line: index + 2,
                source_id: format!("demo-english-{year}"),
                name: format!("{year} English Set {}", index % 3 + 1),
                subject: Some("English".into()),
                periods: slots.join(", "),
                teachers: vec![teacher.email.to_lowercase()],
                members,
            }
        })
        .collect()
}
