//! Inserts the generated demo school into an empty database, in one transaction.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use super::generate::{generate, DemoSchool, DEMO_CODE, DEMO_PASSWORD};
use crate::accounts::hash_password;
use crate::db::schema::{
    forms, incident_pupils, incidents, level_changes, meeting_participants, meetings, pupils,
    suggestions,
};
use crate::db::staff::{self, NewStaff};
use crate::db::{schools, to_db_time, Database, DbConnection};
use crate::domain::calendar::SchoolCalendar;
use crate::domain::details::{EmailAddress, FormName, PersonName, SchoolCode, YearNumber};
use crate::domain::{ProgrammeBlock, Role};
use crate::error::{Error, Result};

/// The seed of the demo school, so every fresh demo looks the same for the same day.
const DEMO_SEED: u64 = 2026;

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
    let mut conn = db.connection()?;
    if schools::find_by_code(&mut conn, DEMO_CODE)?.is_some() {
        return Ok(DemoOutcome::AlreadyLoaded);
    }
    if schools::count(&mut conn)? > 0 {
        anyhow::bail!(
            "the database already holds a school: the demo loads only into an empty database"
        );
    }
    let school = generate(DEMO_SEED, SchoolCalendar::local_date(now));
    let password_hash = hash_password(DEMO_PASSWORD)?;
    let summary =
        crate::db::write_transaction(&mut conn, |conn| insert(conn, &school, &password_hash, now))?;
    Ok(DemoOutcome::Loaded(summary))
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

fn insert(
    conn: &mut DbConnection,
    demo: &DemoSchool,
    password_hash: &str,
    now: DateTime<Utc>,
) -> Result<String> {
    let code = checked(SchoolCode::parse(&demo.code))?;
    let school = schools::create(conn, &code, &demo.name, now)?;
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
            ))
            .returning(pupils::id)
            .get_result(conn)?;
        pupil_ids.push(id);
    }

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

    let mut incident_ids = Vec::with_capacity(demo.incidents.len());
    for incident in &demo.incidents {
        let id: i64 = diesel::insert_into(incidents::table)
            .values((
                incidents::school_id.eq(school.id),
                incidents::reported_by.eq(staff_id(incident.reporter)?),
                incidents::occurred_at.eq(to_db_time(incident.occurred_at)),
                incidents::behaviour.eq(&incident.behaviour),
                incidents::severity.eq(incident.severity.as_str()),
                incidents::response.eq(incident.response.as_str()),
                incidents::location.eq(&incident.location),
                incidents::lesson.eq(&incident.lesson),
                incidents::note.eq(&incident.note),
                incidents::created_at.eq(to_db_time(incident.occurred_at)),
            ))
            .returning(incidents::id)
            .get_result(conn)?;
        for pupil in &incident.pupils {
            diesel::insert_into(incident_pupils::table)
                .values((
                    incident_pupils::incident_id.eq(id),
                    incident_pupils::pupil_id.eq(pupil_id(*pupil)?),
                    incident_pupils::school_id.eq(school.id),
                    incident_pupils::occurred_at.eq(to_db_time(incident.occurred_at)),
                ))
                .execute(conn)?;
        }
        incident_ids.push(id);
    }

    let mut last_incident: HashMap<usize, DateTime<Utc>> = HashMap::new();
    for incident in &demo.incidents {
        for pupil in &incident.pupils {
            let latest = last_incident.entry(*pupil).or_insert(incident.occurred_at);
            *latest = (*latest).max(incident.occurred_at);
        }
    }
    for (pupil, at) in last_incident {
        diesel::update(pupils::table.find(pupil_id(pupil)?))
            .set(pupils::last_incident_at.eq(to_db_time(at)))
            .execute(conn)?;
    }

    let mut suggestion_ids = Vec::with_capacity(demo.suggestions.len());
    for suggestion in &demo.suggestions {
        let evidence: Vec<i64> = suggestion
            .evidence
            .iter()
            .filter_map(|i| incident_ids.get(*i).copied())
            .collect();
        let id: i64 = diesel::insert_into(suggestions::table)
            .values((
                suggestions::school_id.eq(school.id),
                suggestions::pupil_id.eq(pupil_id(suggestion.pupil)?),
                suggestions::from_level.eq(suggestion.from.number()),
                suggestions::to_level.eq(suggestion.to.number()),
                suggestions::rule.eq(suggestion.rule.as_str()),
                suggestions::reason.eq(&suggestion.reason),
                suggestions::evidence
                    .eq(serde_json::to_string(&evidence).unwrap_or_else(|_| "[]".into())),
                suggestions::status.eq(suggestion.status.as_str()),
                suggestions::policy_version.eq(1),
                suggestions::created_at.eq(to_db_time(suggestion.created_at)),
                suggestions::decided_by.eq(suggestion.decided_by.map(staff_id).transpose()?),
                suggestions::decided_at.eq(suggestion.decided_at.map(to_db_time)),
                suggestions::decision_note.eq(&suggestion.decision_note),
            ))
            .returning(suggestions::id)
            .get_result(conn)?;
        suggestion_ids.push(id);
    }

    for change in &demo.level_changes {
        diesel::insert_into(level_changes::table)
            .values((
                level_changes::school_id.eq(school.id),
                level_changes::pupil_id.eq(pupil_id(change.pupil)?),
                level_changes::from_level.eq(change.from.number()),
                level_changes::to_level.eq(change.to.number()),
                level_changes::reason.eq(&change.reason),
                level_changes::changed_by.eq(change.by.map(staff_id).transpose()?),
                level_changes::suggestion_id.eq(change
                    .suggestion
                    .and_then(|s| suggestion_ids.get(s).copied())),
                level_changes::is_override.eq(false),
                level_changes::occurred_at.eq(to_db_time(change.at)),
            ))
            .execute(conn)?;
    }

    for meeting in &demo.meetings {
        let id: i64 = diesel::insert_into(meetings::table)
            .values((
                meetings::school_id.eq(school.id),
                meetings::pupil_id.eq(pupil_id(meeting.pupil)?),
                meetings::level.eq(meeting.level.number()),
                meetings::due_on.eq(meeting.due_on),
                meetings::status.eq(meeting.status.as_str()),
                meetings::starts_at.eq(meeting.starts_at.map(to_db_time)),
                meetings::duration_minutes.eq(meeting.duration_minutes),
                meetings::location.eq(&meeting.location),
                meetings::parent_invited.eq(meeting.parent_invited),
                meetings::held_at.eq(meeting.held_at.map(to_db_time)),
                meetings::summary.eq(&meeting.summary),
                meetings::goals_met.eq(meeting.goals_met),
                meetings::created_at.eq(to_db_time(meeting.created_at)),
            ))
            .returning(meetings::id)
            .get_result(conn)?;
        let mut participants = meeting.participants.clone();
        participants.sort_unstable();
        participants.dedup();
        for participant in participants {
            diesel::insert_into(meeting_participants::table)
                .values((
                    meeting_participants::meeting_id.eq(id),
                    meeting_participants::staff_id.eq(staff_id(participant)?),
                    meeting_participants::school_id.eq(school.id),
                ))
                .execute(conn)?;
        }
    }

    crate::db::insight::rebuild_daily_counts(conn, school.id)?;
    let support = super::support::add_support(conn, school.id, now)?;
    Ok(format!(
        "{} pupils, {} staff, {} incidents, {} suggestions, {} level changes, {} meetings, \
         {} Coaching Plans, {} programme blocks ({} sessions recorded), {} provisions mapped",
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
    ))
}
