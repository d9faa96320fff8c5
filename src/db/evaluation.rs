//! Running the escalation rules for one pupil against what is stored: loads a bounded slice
//! of the pupil's history (never the school's whole history), asks the pure rules, and stores
//! any new suggestion.

use chrono::{DateTime, NaiveTime, TimeZone, Utc};
use diesel::prelude::*;

use super::models::{PupilRow, SuggestionRow};
use super::schema::{incident_pupils, incidents, meetings, suggestions};
use super::{from_db_time, schools, to_db_time, DbConnection};
use crate::domain::calendar::{SchoolCalendar, SCHOOL_TZ};
use crate::domain::policy::EscalationPolicy;
use crate::domain::rules::{
    evaluate, judgement_times, relevant_window_days, DecidedSuggestion, IncidentFact, MeetingFact,
    PupilHistory, Response, Severity,
};
use crate::domain::transition::PupilState;
use crate::domain::{Level, ProgrammeBlock};
use crate::error::{Error, Result};

/// A school's escalation policy (with its version) and calendar: what the rules need.
#[derive(Debug, Clone)]
pub struct SchoolRules {
    pub policy: EscalationPolicy,
    pub policy_version: i32,
    pub calendar: SchoolCalendar,
    /// The school's lesson periods, which the whole school's daily groupings count by.
    pub timetable: crate::domain::timetable::Timetable,
}

/// Loads a school's current policy and calendar.
pub fn load_rules(conn: &mut DbConnection, school_id: i64) -> Result<SchoolRules> {
    let (policy_version, policy) = schools::current_policy(conn, school_id)?;
    let calendar = schools::calendar(conn, school_id)?;
    Ok(SchoolRules {
        policy,
        policy_version,
        calendar,
        timetable: super::timetable::load(conn, school_id)?,
    })
}

/// How long a school's rules are kept before they are read again. A policy saved through
/// this process is seen at once (see [`RulesCache::forget`]); another instance sharing the
/// database sees it within this time.
const RULES_KEPT_FOR: std::time::Duration = std::time::Duration::from_secs(30);

/// Each school's rules, kept briefly: reading them is two queries and a parse, on every
/// incident logged. One cache belongs to one [`super::Database`].
#[derive(Clone)]
pub struct RulesCache {
    entries: moka::sync::Cache<i64, SchoolRules>,
}

impl Default for RulesCache {
    fn default() -> Self {
        RulesCache {
            entries: moka::sync::Cache::builder()
                .max_capacity(10_000)
                .time_to_live(RULES_KEPT_FOR)
                .build(),
        }
    }
}

impl RulesCache {
    /// The school's rules, read again when older than [`RULES_KEPT_FOR`].
    pub fn load(&self, conn: &mut DbConnection, school_id: i64) -> Result<SchoolRules> {
        if let Some(rules) = self.entries.get(&school_id) {
            return Ok(rules);
        }
        let rules = load_rules(conn, school_id)?;
        self.entries.insert(school_id, rules.clone());
        Ok(rules)
    }

    /// Drops what is kept for a school, after its policy or calendar changed.
    pub fn forget(&self, school_id: i64) {
        self.entries.invalidate(&school_id);
    }
}

/// The state machine's view of a stored pupil.
pub fn pupil_state(row: &PupilRow) -> PupilState {
    PupilState {
        level: Level::from_number(i64::from(row.level)).unwrap_or(Level::None),
        programme_block: row
            .programme_block
            .and_then(|weeks| ProgrammeBlock::from_weeks(i64::from(weeks)).ok()),
        had_plan: row.had_plan,
        programme_completed_without_impact: row.programme_without_impact,
    }
}

/// The first instant of the oldest school day any rule looks back to from `now`.
fn look_back_start(rules: &SchoolRules, now: DateTime<Utc>) -> DateTime<Utc> {
    let today = SchoolCalendar::local_date(now);
    let first_day = rules
        .calendar
        .window_start(today, relevant_window_days(&rules.policy));
    SCHOOL_TZ
        .from_local_datetime(&first_day.and_time(NaiveTime::MIN))
        .earliest()
        .map(|local| local.with_timezone(&Utc))
        .unwrap_or_else(|| first_day.and_time(NaiveTime::MIN).and_utc())
}

/// What the rules need to know about one pupil: the window of recent incidents, the meetings
/// held at the current level, and the suggestions open or recently decided.
pub fn pupil_history(
    conn: &mut DbConnection,
    pupil: &PupilRow,
    rules: &SchoolRules,
    now: DateTime<Utc>,
) -> Result<PupilHistory> {
    let since = to_db_time(look_back_start(rules, now));
    let incident_rows: Vec<(i64, chrono::NaiveDateTime, String, String)> = incident_pupils::table
        .inner_join(incidents::table)
        .filter(incident_pupils::pupil_id.eq(pupil.id))
        .filter(incident_pupils::occurred_at.ge(since))
        .filter(incidents::voided_at.is_null())
        .select((
            incidents::id,
            incidents::occurred_at,
            incidents::severity,
            incidents::response,
        ))
        .load(conn)?;
    let incidents = incident_rows
        .into_iter()
        .map(|(id, occurred_at, severity, response)| {
            Ok(IncidentFact {
                id,
                occurred_at: from_db_time(occurred_at),
                severity: Severity::parse(&severity).map_err(|e| Error::Internal(e.to_string()))?,
                response: Response::parse(&response).map_err(|e| Error::Internal(e.to_string()))?,
            })
        })
        .collect::<Result<Vec<_>>>()?;

    let meeting_rows: Vec<(i16, Option<chrono::NaiveDateTime>, Option<bool>)> = meetings::table
        .filter(meetings::pupil_id.eq(pupil.id))
        .filter(meetings::status.eq("held"))
        .filter(meetings::held_at.ge(pupil.level_since))
        .select((meetings::level, meetings::held_at, meetings::goals_met))
        .load(conn)?;
    let meetings = meeting_rows
        .into_iter()
        .filter_map(|(level, held_at, goals_met)| {
            Some(MeetingFact {
                level: Level::from_number(i64::from(level)).ok()?,
                held_at: from_db_time(held_at?),
                goals_met,
            })
        })
        .collect();

    let suggestion_rows: Vec<(i16, String, Option<chrono::NaiveDateTime>)> = suggestions::table
        .filter(suggestions::pupil_id.eq(pupil.id))
        .filter(
            suggestions::status
                .eq("open")
                .or(suggestions::decided_at.ge(since.min(pupil.level_since))),
        )
        .select((
            suggestions::to_level,
            suggestions::status,
            suggestions::decided_at,
        ))
        .load(conn)?;
    let mut open_targets = Vec::new();
    let mut decided = Vec::new();
    for (to_level, status, decided_at) in suggestion_rows {
        let Ok(to) = Level::from_number(i64::from(to_level)) else {
            continue;
        };
        match (status.as_str(), decided_at) {
            ("open", _) => open_targets.push(to),
            (_, Some(at)) => decided.push(DecidedSuggestion {
                to,
                decided_at: from_db_time(at),
            }),
            _ => {}
        }
    }

    Ok(PupilHistory {
        state: pupil_state(pupil),
        level_since: from_db_time(pupil.level_since),
        incidents,
        meetings,
        open_targets,
        decided,
    })
}

/// Evaluates the rules for one pupil as of `now` and stores each new suggestion as open.
pub fn suggest_for_pupil(
    conn: &mut DbConnection,
    pupil: &PupilRow,
    rules: &SchoolRules,
    now: DateTime<Utc>,
) -> Result<Vec<SuggestionRow>> {
    suggest_after_incident(conn, pupil, rules, now, now)
}

/// Evaluates the rules for one pupil after an incident that happened at `happened_at` is
/// recorded at `now`: as of each moment of [`judgement_times`] (so a late one is judged when
/// it happened), keeping the moves up found at earlier moments and every move found now, and
/// stores each new suggestion as open. A step down is judged now only: later incidents
/// may have broken the quiet it counts.
pub fn suggest_after_incident(
    conn: &mut DbConnection,
    pupil: &PupilRow,
    rules: &SchoolRules,
    happened_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<Vec<SuggestionRow>> {
    let moments = judgement_times(&rules.calendar, happened_at, now);
    let mut history = pupil_history(conn, pupil, rules, moments[0])?;
    let mut found = Vec::new();
    for at in moments {
        for suggestion in evaluate(&rules.policy, &rules.calendar, &history, at) {
            if at == now || suggestion.to > suggestion.from {
                history.open_targets.push(suggestion.to);
                found.push(suggestion);
            }
        }
    }
    let mut stored = Vec::new();
    for suggestion in found {
        let evidence = serde_json::to_string(&suggestion.evidence)
            .map_err(|e| Error::Internal(format!("evidence could not be written: {e}")))?;
        let row: SuggestionRow = diesel::insert_into(suggestions::table)
            .values((
                suggestions::school_id.eq(pupil.school_id),
                suggestions::pupil_id.eq(pupil.id),
                suggestions::from_level.eq(suggestion.from.number()),
                suggestions::to_level.eq(suggestion.to.number()),
                suggestions::rule.eq(suggestion.rule.as_str()),
                suggestions::reason.eq(&suggestion.reason),
                suggestions::evidence.eq(evidence),
                suggestions::status.eq("open"),
                suggestions::policy_version.eq(rules.policy_version),
                suggestions::created_at.eq(to_db_time(now)),
            ))
            .returning(suggestions::all_columns)
            .get_result(conn)?;
        stored.push(row);
    }
    Ok(stored)
}
