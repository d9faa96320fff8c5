//! The policy preview: the school's real records of the last weeks replayed under a draft
//! policy and under the current one (see [`crate::domain::replay`]), read only.
//!
//! The work is bounded: the period's incidents are read once, in one query; the moves and
//! Coaching Time meetings of the pupils involved are read in batches of at most
//! [`PUPILS_PER_QUERY`] pupils; and only pupils with an incident in the period are replayed.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use diesel::prelude::*;

use super::evaluation::load_rules;
use super::schema::{incident_pupils, incidents, level_changes, meetings};
use super::{from_db_time, to_db_time, DbConnection};
use crate::domain::policy::EscalationPolicy;
use crate::domain::replay::{
    replay, Period, PupilRecords, RecordedMove, Tally, MAX_WEEKS, MIN_WEEKS,
};
use crate::domain::rules::{IncidentFact, MeetingFact, Response, Severity};
use crate::domain::Level;
use crate::error::{Error, Result};

/// Most pupil ids put in one query's list.
pub const PUPILS_PER_QUERY: usize = 500;

/// The comparison the policy page shows.
#[derive(Debug, Clone)]
pub struct PolicyPreview {
    /// The weeks looked back over.
    pub weeks: u32,
    /// The first day of the period.
    pub first_day: NaiveDate,
    /// The last day of the period (today).
    pub last_day: NaiveDate,
    /// School days in the period.
    pub school_days: usize,
    /// Incidents recorded in the period.
    pub incidents: usize,
    /// Pupils with at least one incident in the period: the pupils replayed.
    pub pupils: usize,
    /// The version of the current policy.
    pub current_version: i32,
    /// What the current policy would have suggested.
    pub current: Tally,
    /// What the draft would have suggested.
    pub draft: Tally,
}

fn internal(error: impl std::fmt::Display) -> Error {
    Error::Internal(error.to_string())
}

/// Replays the school's last `weeks` weeks up to `now` under `draft` and under the current
/// policy. `weeks` is held between 1 and 26. Reads only.
pub fn preview(
    conn: &mut DbConnection,
    school_id: i64,
    draft: &EscalationPolicy,
    weeks: u32,
    now: DateTime<Utc>,
) -> Result<PolicyPreview> {
    let rules = load_rules(conn, school_id)?;
    let period = Period::last_weeks(weeks, now);
    let load_from = period.load_from(&rules.calendar, &[&rules.policy, draft]);
    let starts_at = period.starts_at();
    let until = to_db_time(now);

    // The period's incidents (and the look-back before it), one query for the whole school.
    let rows: Vec<(i64, i64, NaiveDateTime, String, String)> = incidents::table
        .inner_join(incident_pupils::table)
        .filter(incidents::school_id.eq(school_id))
        .filter(incidents::occurred_at.ge(to_db_time(load_from)))
        .filter(incidents::occurred_at.le(until))
        .filter(incidents::voided_at.is_null())
        .select((
            incident_pupils::pupil_id,
            incidents::id,
            incidents::occurred_at,
            incidents::severity,
            incidents::response,
        ))
        .load(conn)?;
    let mut by_pupil: BTreeMap<i64, PupilRecords> = BTreeMap::new();
    let mut in_period = BTreeSet::new();
    for (pupil_id, id, occurred_at, severity, response) in rows {
        let fact = IncidentFact {
            id,
            occurred_at: from_db_time(occurred_at),
            severity: Severity::parse(&severity).map_err(internal)?,
            response: Response::parse(&response).map_err(internal)?,
        };
        if fact.occurred_at >= starts_at {
            in_period.insert(id);
        }
        by_pupil
            .entry(pupil_id)
            .or_insert_with(|| PupilRecords {
                pupil_id,
                incidents: Vec::new(),
                moves: Vec::new(),
                meetings: Vec::new(),
            })
            .incidents
            .push(fact);
    }
    by_pupil.retain(|_, records| records.incidents.iter().any(|i| i.occurred_at >= starts_at));

    let ids: Vec<i64> = by_pupil.keys().copied().collect();
    for batch in ids.chunks(PUPILS_PER_QUERY) {
        let moves: Vec<(i64, i16, NaiveDateTime)> = level_changes::table
            .filter(level_changes::school_id.eq(school_id))
            .filter(level_changes::pupil_id.eq_any(batch))
            .filter(level_changes::occurred_at.le(until))
            .select((
                level_changes::pupil_id,
                level_changes::to_level,
                level_changes::occurred_at,
            ))
            .load(conn)?;
        for (pupil_id, to, at) in moves {
            let to = Level::from_number(i64::from(to)).map_err(internal)?;
            if let Some(records) = by_pupil.get_mut(&pupil_id) {
                records.moves.push(RecordedMove {
                    at: from_db_time(at),
                    to,
                });
            }
        }
        let held: Vec<(i64, Option<NaiveDateTime>, Option<bool>)> = meetings::table
            .filter(meetings::school_id.eq(school_id))
            .filter(meetings::pupil_id.eq_any(batch))
            .filter(meetings::level.eq(Level::Time.number()))
            .filter(meetings::status.eq("held"))
            .filter(meetings::held_at.le(until))
            .select((meetings::pupil_id, meetings::held_at, meetings::goals_met))
            .load(conn)?;
        for (pupil_id, held_at, goals_met) in held {
            let (Some(held_at), Some(records)) = (held_at, by_pupil.get_mut(&pupil_id)) else {
                continue;
            };
            records.meetings.push(MeetingFact {
                level: Level::Time,
                held_at: from_db_time(held_at),
                goals_met,
            });
        }
    }

    let pupils: Vec<PupilRecords> = by_pupil.into_values().collect();
    Ok(PolicyPreview {
        weeks: weeks.clamp(MIN_WEEKS, MAX_WEEKS),
        first_day: period.first_day(),
        last_day: period.last_day(),
        school_days: period.school_days(&rules.calendar),
        incidents: in_period.len(),
        pupils: pupils.len(),
        current_version: rules.policy_version,
        current: replay(&rules.policy, &rules.calendar, &period, &pupils),
        draft: replay(draft, &rules.calendar, &period, &pupils),
    })
}
