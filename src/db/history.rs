//! Storing behaviour history brought in from another system (`domain::history`): who is who
//! in the file, the incidents themselves written in bulk and marked as imported, the daily
//! counts kept beside them, and each pupil's placement on the ladder with its evidence.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use super::decisions::create_meeting;
use super::evaluation::SchoolRules;
use super::models::PupilRow;
use super::schema::{incident_pupils, incidents, level_changes, pupils, staff, suggestions};
use super::{from_db_time, to_db_time, DbConnection};
use crate::domain::history::{HistoryRecord, Placement};
use crate::domain::rules::{IncidentFact, Response, Severity};
use crate::domain::{Level, SchoolCalendar};
use crate::error::{Error, Result};

/// How many rows one multi-row insert writes.
const CHUNK: usize = 500;

/// The school's staff, to find who recorded each incident: by email, and by name.
pub struct StaffIndex {
    by_email: HashMap<String, i64>,
    by_name: HashMap<String, Vec<i64>>,
}

impl StaffIndex {
    /// Every member of the school's staff, active or not (history recorded by someone who
    /// has left is still theirs).
    pub fn load(conn: &mut DbConnection, school_id: i64) -> Result<StaffIndex> {
        let rows: Vec<(i64, String, String)> = staff::table
            .filter(staff::school_id.eq(school_id))
            .select((staff::id, staff::email, staff::name))
            .load(conn)?;
        let mut index = StaffIndex {
            by_email: HashMap::new(),
            by_name: HashMap::new(),
        };
        for (id, email, name) in rows {
            index.by_email.insert(email.to_lowercase(), id);
            index
                .by_name
                .entry(name.trim().to_lowercase())
                .or_default()
                .push(id);
        }
        Ok(index)
    }

    /// The member the file names by email or full name; otherwise why not.
    pub fn find(&self, named: &str) -> std::result::Result<i64, String> {
        let key = named.trim().to_lowercase();
        if let Some(id) = self.by_email.get(&key) {
            return Ok(*id);
        }
        match self.by_name.get(&key).map(Vec::as_slice) {
            Some([id]) => Ok(*id),
            Some(_) => Err(format!(
                "more than one member of staff is called {named}: give their email instead"
            )),
            None => Err(format!(
                "no member of staff here has the email or name {named}: bring the staff in first (people who have left can be added and deactivated)"
            )),
        }
    }
}

/// The school's pupils by UPN: their id, and whether they are marked as left.
pub fn pupils_by_upn(
    conn: &mut DbConnection,
    school_id: i64,
) -> Result<HashMap<String, (i64, bool)>> {
    let rows: Vec<(String, i64, Option<chrono::NaiveDate>)> = pupils::table
        .filter(pupils::school_id.eq(school_id))
        .select((pupils::upn, pupils::id, pupils::left_on))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(upn, id, left)| (upn, (id, left.is_some())))
        .collect())
}

/// The keys of the incidents already brought in for the school.
pub fn imported_keys(conn: &mut DbConnection, school_id: i64) -> Result<HashSet<String>> {
    let keys: Vec<Option<String>> = incidents::table
        .filter(incidents::school_id.eq(school_id))
        .filter(incidents::import_key.is_not_null())
        .select(incidents::import_key)
        .load(conn)?;
    Ok(keys.into_iter().flatten().collect())
}

/// One incident of the file, with its pupil and recorder found.
pub struct ResolvedRecord<'a> {
    pub record: &'a HistoryRecord,
    pub pupil_id: i64,
    pub reporter_id: i64,
    /// The behaviour as the school's list spells it.
    pub behaviour: String,
}

/// Writes the incidents, marked as imported, with their pupils, the pupils' latest incident
/// and the daily counts; in bulk, in the caller's transaction.
pub fn insert_incidents(
    conn: &mut DbConnection,
    school_id: i64,
    records: &[ResolvedRecord<'_>],
    now: DateTime<Utc>,
) -> Result<()> {
    let created = to_db_time(now);
    let mut latest: HashMap<i64, chrono::NaiveDateTime> = HashMap::new();
    for chunk in records.chunks(CHUNK) {
        let rows = || -> Vec<_> {
            chunk
                .iter()
                .map(|r| {
                    (
                        incidents::school_id.eq(school_id),
                        incidents::reported_by.eq(r.reporter_id),
                        incidents::occurred_at.eq(to_db_time(r.record.occurred_at)),
                        incidents::behaviour.eq(r.behaviour.as_str()),
                        incidents::severity.eq(r.record.severity.as_str()),
                        incidents::response.eq(r.record.response.as_str()),
                        incidents::location.eq(r.record.location.as_deref()),
                        incidents::lesson.eq(r.record.lesson.as_deref()),
                        incidents::note.eq(r.record.note.as_deref()),
                        incidents::created_at.eq(created),
                        incidents::imported.eq(true),
                        incidents::import_key.eq(Some(r.record.key.as_str())),
                    )
                })
                .collect()
        };
        // Multi-row inserts are written for each engine: diesel builds them per backend.
        let returned = (incidents::id, incidents::import_key);
        let ids: Vec<(i64, Option<String>)> =
            super::on_each_engine!(conn, |c| diesel::insert_into(incidents::table)
                .values(rows())
                .returning(returned)
                .get_results(c)?);
        let by_key: HashMap<String, i64> = ids
            .into_iter()
            .filter_map(|(id, key)| key.map(|k| (k, id)))
            .collect();
        let links: Vec<_> = chunk
            .iter()
            .map(|r| {
                let id = by_key.get(&r.record.key).copied().ok_or_else(|| {
                    Error::Internal("an imported incident was not written".to_string())
                })?;
                let at = to_db_time(r.record.occurred_at);
                let last = latest.entry(r.pupil_id).or_insert(at);
                *last = (*last).max(at);
                Ok((
                    incident_pupils::incident_id.eq(id),
                    incident_pupils::pupil_id.eq(r.pupil_id),
                    incident_pupils::school_id.eq(school_id),
                    incident_pupils::occurred_at.eq(at),
                ))
            })
            .collect::<Result<_>>()?;
        super::on_each_engine!(conn, |c| diesel::insert_into(incident_pupils::table)
            .values(links)
            .execute(c)?);
    }
    for (pupil_id, at) in latest {
        let held: Option<chrono::NaiveDateTime> = pupils::table
            .find(pupil_id)
            .select(pupils::last_incident_at)
            .first(conn)?;
        if held.is_none_or(|held| held < at) {
            diesel::update(pupils::table.find(pupil_id))
                .set(pupils::last_incident_at.eq(Some(at)))
                .execute(conn)?;
        }
    }
    super::insight::rebuild_daily_counts(conn, school_id)?;
    super::insight::rebuild_groupings(conn, school_id)?;
    Ok(())
}

/// Every incident of these pupils that counts (not undone), as the rules see them.
pub fn facts_of(
    conn: &mut DbConnection,
    pupil_ids: &[i64],
) -> Result<HashMap<i64, Vec<IncidentFact>>> {
    let mut facts: HashMap<i64, Vec<IncidentFact>> = HashMap::new();
    for chunk in pupil_ids.chunks(CHUNK) {
        let rows: Vec<(i64, i64, chrono::NaiveDateTime, String, String)> = incident_pupils::table
            .inner_join(incidents::table)
            .filter(incident_pupils::pupil_id.eq_any(chunk))
            .filter(incidents::voided_at.is_null())
            .select((
                incident_pupils::pupil_id,
                incidents::id,
                incidents::occurred_at,
                incidents::severity,
                incidents::response,
            ))
            .load(conn)?;
        for (pupil_id, id, at, severity, response) in rows {
            facts.entry(pupil_id).or_default().push(IncidentFact {
                id,
                occurred_at: from_db_time(at),
                severity: Severity::parse(&severity).map_err(|e| Error::Internal(e.to_string()))?,
                response: Response::parse(&response).map_err(|e| Error::Internal(e.to_string()))?,
            });
        }
    }
    Ok(facts)
}

/// The pupils among these with no level and no move recorded yet: only they are placed by
/// history (a pupil already supported here keeps their level).
pub fn not_yet_placed(conn: &mut DbConnection, pupil_ids: &[i64]) -> Result<Vec<i64>> {
    let mut found = Vec::new();
    for chunk in pupil_ids.chunks(CHUNK) {
        let moved: HashSet<i64> = level_changes::table
            .filter(level_changes::pupil_id.eq_any(chunk))
            .select(level_changes::pupil_id)
            .distinct()
            .load::<i64>(conn)?
            .into_iter()
            .collect();
        let at_none: Vec<i64> = pupils::table
            .filter(pupils::id.eq_any(chunk))
            .filter(pupils::level.eq(Level::None.number()))
            .select(pupils::id)
            .load(conn)?;
        found.extend(at_none.into_iter().filter(|id| !moved.contains(id)));
    }
    found.sort_unstable();
    Ok(found)
}

/// Stores where history places a pupil: each move as an accepted suggestion with its reason
/// and evidence and the level change it made, the pupil's level, and the meeting their
/// level calls for, due from today. No email is sent.
pub fn store_placement(
    conn: &mut DbConnection,
    pupil_id: i64,
    placement: &Placement,
    rules: &SchoolRules,
    actor_id: Option<i64>,
    now: DateTime<Utc>,
) -> Result<()> {
    let Some(since) = placement.since else {
        return Ok(());
    };
    let pupil: PupilRow = pupils::table
        .find(pupil_id)
        .select(PupilRow::as_select())
        .first(conn)?;
    for step in &placement.moves {
        let at = to_db_time(step.at);
        let suggestion_id = match step.rule {
            Some(rule) => {
                let evidence = serde_json::to_string(&step.evidence)
                    .map_err(|e| Error::Internal(format!("evidence could not be written: {e}")))?;
                let id: i64 = diesel::insert_into(suggestions::table)
                    .values((
                        suggestions::school_id.eq(pupil.school_id),
                        suggestions::pupil_id.eq(pupil_id),
                        suggestions::from_level.eq(step.from.number()),
                        suggestions::to_level.eq(step.to.number()),
                        suggestions::rule.eq(rule.as_str()),
                        suggestions::reason.eq(&step.reason),
                        suggestions::evidence.eq(evidence),
                        suggestions::status.eq("accepted"),
                        suggestions::policy_version.eq(rules.policy_version),
                        suggestions::created_at.eq(at),
                        suggestions::decided_by.eq(actor_id),
                        suggestions::decided_at.eq(Some(at)),
                        suggestions::decision_note.eq(Some(PLACED_NOTE)),
                    ))
                    .returning(suggestions::id)
                    .get_result(conn)?;
                Some(id)
            }
            None => None,
        };
        diesel::insert_into(level_changes::table)
            .values((
                level_changes::school_id.eq(pupil.school_id),
                level_changes::pupil_id.eq(pupil_id),
                level_changes::from_level.eq(step.from.number()),
                level_changes::to_level.eq(step.to.number()),
                level_changes::reason.eq(format!("{} ({})", step.reason, PLACED_NOTE)),
                level_changes::changed_by.eq(actor_id),
                level_changes::suggestion_id.eq(suggestion_id),
                level_changes::is_override.eq(false),
                level_changes::occurred_at.eq(at),
            ))
            .execute(conn)?;
    }
    let state = &placement.state;
    diesel::update(pupils::table.find(pupil_id))
        .set((
            pupils::level.eq(state.level.number()),
            pupils::level_since.eq(to_db_time(since)),
            pupils::programme_block.eq(state.programme_block.map(|b| b.weeks() as i16)),
            pupils::had_plan.eq(state.had_plan),
            pupils::programme_without_impact.eq(state.programme_completed_without_impact),
        ))
        .execute(conn)?;
    let today = SchoolCalendar::local_date(now);
    if let Some(due) = rules.policy.meeting_due(today, state.level) {
        let placed: PupilRow = pupils::table
            .find(pupil_id)
            .select(PupilRow::as_select())
            .first(conn)?;
        create_meeting(conn, &placed, state.level, due, &rules.calendar, now)?;
    }
    Ok(())
}

/// Said of every move placement makes.
const PLACED_NOTE: &str = "placed by the history brought in from the previous system";
