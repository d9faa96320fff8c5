//! Running the escalation rules for one pupil against what is stored: loads a bounded slice
//! of the pupil's history (never the school's whole history), asks the pure rules, and stores
//! any new suggestion.

use chrono::{DateTime, NaiveDateTime, NaiveTime, TimeZone, Utc};
use diesel::prelude::*;

use super::models::{PupilRow, SuggestionRow};
use super::schema::{incident_pupils, incidents, meetings, suggestions};
use super::{from_db_time, schools, to_db_time, DbConnection};
use crate::domain::calendar::{SchoolCalendar, SCHOOL_TZ};
use crate::domain::policy::EscalationPolicy;
use crate::domain::rules::{
    evaluate, judgement_times, relevant_window_days, DecidedSuggestion, IncidentFact, MeetingFact,
    PupilHistory, Response, Severity, Suggestion,
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
    Ok(StoredHistory::load(conn, pupil, since, 0)?.view(pupil, since))
}

/// What the rules read about one pupil, as stored when the pupil's history stamp (moved by
/// the database whenever their incidents, meetings or suggestions change) was `stamp`: the
/// incidents since `since`, the meetings held since `level_since`, and the suggestions open or
/// decided since the earlier of the two. A view for a later `since` or `level_since` is a
/// filter of it, so it serves every evaluation until the stamp moves.
#[derive(Debug, Clone)]
pub struct StoredHistory {
    pub stamp: i64,
    since: NaiveDateTime,
    level_since: NaiveDateTime,
    incidents: Vec<IncidentFact>,
    meetings: Vec<MeetingFact>,
    /// Target, whether still open, and when decided.
    suggestions: Vec<(Level, bool, Option<DateTime<Utc>>)>,
}

impl StoredHistory {
    /// Reads the pupil's history from the database (three queries).
    pub fn load(
        conn: &mut DbConnection,
        pupil: &PupilRow,
        since: NaiveDateTime,
        stamp: i64,
    ) -> Result<StoredHistory> {
        let incident_rows: Vec<(i64, NaiveDateTime, String, String)> = incident_pupils::table
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
                    severity: Severity::parse(&severity)
                        .map_err(|e| Error::Internal(e.to_string()))?,
                    response: Response::parse(&response)
                        .map_err(|e| Error::Internal(e.to_string()))?,
                })
            })
            .collect::<Result<Vec<_>>>()?;

        let meeting_rows: Vec<(i16, Option<NaiveDateTime>, Option<bool>)> = meetings::table
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

        let suggestion_rows: Vec<(i16, String, Option<NaiveDateTime>)> = suggestions::table
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
        let suggestions = suggestion_rows
            .into_iter()
            .filter_map(|(to_level, status, decided_at)| {
                let to = Level::from_number(i64::from(to_level)).ok()?;
                Some((to, status == "open", decided_at.map(from_db_time)))
            })
            .collect();
        Ok(StoredHistory {
            stamp,
            since,
            level_since: pupil.level_since,
            incidents,
            meetings,
            suggestions,
        })
    }

    /// Whether this serves a pupil now at `stamp` and `level_since`, from `since`.
    pub(super) fn serves(
        &self,
        stamp: i64,
        since: NaiveDateTime,
        level_since: NaiveDateTime,
    ) -> bool {
        self.stamp == stamp && self.since <= since && self.level_since <= level_since
    }

    /// The rules' view for `pupil` (their current state) from `since`.
    pub fn view(&self, pupil: &PupilRow, since: NaiveDateTime) -> PupilHistory {
        let since_utc = from_db_time(since);
        let level_since = from_db_time(pupil.level_since);
        let decided_from = from_db_time(since.min(pupil.level_since));
        let mut open_targets = Vec::new();
        let mut decided = Vec::new();
        for (to, open, decided_at) in &self.suggestions {
            match (open, decided_at) {
                (true, _) => open_targets.push(*to),
                (false, Some(at)) if *at >= decided_from => decided.push(DecidedSuggestion {
                    to: *to,
                    decided_at: *at,
                }),
                _ => {}
            }
        }
        PupilHistory {
            state: pupil_state(pupil),
            level_since,
            incidents: self
                .incidents
                .iter()
                .filter(|i| i.occurred_at >= since_utc)
                .copied()
                .collect(),
            meetings: self
                .meetings
                .iter()
                .filter(|m| m.held_at >= level_since)
                .copied()
                .collect(),
            open_targets,
            decided,
        }
    }

    /// Adds an incident just logged (and drops those before `since`, no longer read).
    pub fn add_incident(&mut self, fact: IncidentFact) {
        let since = from_db_time(self.since);
        self.incidents.retain(|i| i.occurred_at >= since);
        self.incidents.push(fact);
    }

    /// Adds a suggestion just made, open.
    pub fn add_open_suggestion(&mut self, to: Level) {
        self.suggestions.push((to, true, None));
    }
}

/// Each pupil's recent history as last read or written by this process, checked against the
/// pupil's history stamp before use: a change made anywhere (another request, another
/// instance, a meeting held) moves the stamp, and the history is read again. One cache
/// belongs to one [`super::Database`].
#[derive(Clone)]
pub struct HistoryCache {
    entries: moka::sync::Cache<i64, StoredHistory>,
}

impl Default for HistoryCache {
    fn default() -> Self {
        HistoryCache {
            entries: moka::sync::Cache::builder()
                .max_capacity(50_000)
                .time_to_idle(std::time::Duration::from_secs(3600))
                .build(),
        }
    }
}

impl HistoryCache {
    /// The pupil's history from `since`, when what is kept is still current at `stamp`;
    /// otherwise read from the database.
    pub fn history(
        &self,
        conn: &mut DbConnection,
        pupil: &PupilRow,
        stamp: i64,
        since: NaiveDateTime,
    ) -> Result<StoredHistory> {
        match self.entries.get(&pupil.id) {
            Some(kept) if kept.serves(stamp, since, pupil.level_since) => Ok(kept),
            _ => StoredHistory::load(conn, pupil, since, stamp),
        }
    }

    /// Keeps histories written by a committed transaction, unless a newer one is kept.
    pub fn keep(&self, histories: Vec<(i64, StoredHistory)>) {
        for (pupil_id, history) in histories {
            let newer_kept = self
                .entries
                .get(&pupil_id)
                .is_some_and(|kept| kept.stamp > history.stamp);
            if !newer_kept {
                self.entries.insert(pupil_id, history);
            }
        }
    }
}

/// The suggestions the rules make for one pupil after an incident that happened at
/// `happened_at` is recorded at `now`, from `history` (which holds it): as of each moment of
/// [`judgement_times`] (so a late one is judged when it happened), keeping the moves up found
/// at earlier moments and every move found now. A step down is judged now only: later
/// incidents may have broken the quiet it counts.
pub fn decide_after_incident(
    rules: &SchoolRules,
    mut history: PupilHistory,
    happened_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Vec<Suggestion> {
    let mut found = Vec::new();
    for at in judgement_times(&rules.calendar, happened_at, now) {
        for suggestion in evaluate(&rules.policy, &rules.calendar, &history, at) {
            if at == now || suggestion.to > suggestion.from {
                history.open_targets.push(suggestion.to);
                found.push(suggestion);
            }
        }
    }
    found
}

/// Where an evaluation after an incident at `happened_at`, recorded at `now`, reads from.
pub fn history_start(
    rules: &SchoolRules,
    happened_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> NaiveDateTime {
    let moments = judgement_times(&rules.calendar, happened_at, now);
    let first = moments.first().copied().unwrap_or(now);
    to_db_time(look_back_start(rules, first))
}

/// Stores suggestions the rules made for a pupil, each open.
pub fn store_suggestions(
    conn: &mut DbConnection,
    pupil: &PupilRow,
    rules: &SchoolRules,
    found: Vec<Suggestion>,
    now: DateTime<Utc>,
) -> Result<Vec<SuggestionRow>> {
    let mut stored = store_all_suggestions(conn, &[(pupil, rules, &found[..], now)])?;
    Ok(stored.pop().unwrap_or_default())
}

/// Stores the suggestions the rules made for several pupils (each with the rules that made
/// them and when), each open, in one insert; answers each pupil's, in the order given.
pub fn store_all_suggestions(
    conn: &mut DbConnection,
    found: &[(&PupilRow, &SchoolRules, &[Suggestion], DateTime<Utc>)],
) -> Result<Vec<Vec<SuggestionRow>>> {
    let mut rows = Vec::new();
    for (pupil, rules, suggestions, now) in found {
        for suggestion in suggestions.iter() {
            let evidence = serde_json::to_string(&suggestion.evidence)
                .map_err(|e| Error::Internal(format!("evidence could not be written: {e}")))?;
            rows.push((
                suggestions::school_id.eq(pupil.school_id),
                suggestions::pupil_id.eq(pupil.id),
                suggestions::from_level.eq(suggestion.from.number()),
                suggestions::to_level.eq(suggestion.to.number()),
                suggestions::rule.eq(suggestion.rule.as_str()),
                suggestions::reason.eq(suggestion.reason.clone()),
                suggestions::evidence.eq(evidence),
                suggestions::status.eq("open"),
                suggestions::policy_version.eq(rules.policy_version),
                suggestions::created_at.eq(to_db_time(*now)),
            ));
        }
    }
    let mut stored: Vec<SuggestionRow> = if rows.is_empty() {
        Vec::new()
    } else {
        super::on_each_engine!(conn, |c| diesel::insert_into(suggestions::table)
            .values(rows)
            .returning(suggestions::all_columns)
            .get_results(c)?)
    };
    // Both engines answer the rows in the order of the VALUES; that is checked, not assumed.
    let expected = found.iter().flat_map(|(pupil, _, suggestions, _)| {
        suggestions
            .iter()
            .map(move |suggestion| (pupil.id, suggestion.to.number(), suggestion.rule.as_str()))
    });
    let in_order = stored.len() == expected.clone().count()
        && stored
            .iter()
            .zip(expected)
            .all(|(row, (pupil_id, to, rule))| {
                row.pupil_id == pupil_id && row.to_level == to && row.rule == rule
            });
    if !in_order {
        return Err(Error::Internal(
            "the suggestions inserted came back in another order".into(),
        ));
    }
    let mut answered = Vec::with_capacity(found.len());
    for (_, _, suggestions, _) in found {
        let rest = stored.split_off(suggestions.len());
        answered.push(std::mem::replace(&mut stored, rest));
    }
    Ok(answered)
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
/// recorded at `now` (see [`decide_after_incident`]), reading the pupil's history from the
/// database, and stores each new suggestion as open.
pub fn suggest_after_incident(
    conn: &mut DbConnection,
    pupil: &PupilRow,
    rules: &SchoolRules,
    happened_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<Vec<SuggestionRow>> {
    let since = history_start(rules, happened_at, now);
    let history = StoredHistory::load(conn, pupil, since, 0)?.view(pupil, since);
    let found = decide_after_incident(rules, history, happened_at, now);
    store_suggestions(conn, pupil, rules, found, now)
}
