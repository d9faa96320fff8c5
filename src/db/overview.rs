//! Read-only summaries for the home pages: meetings and suggestions waiting, recent incidents.

use chrono::NaiveDate;
use diesel::prelude::*;

use super::models::{IncidentRow, MeetingRow};
use super::pastoral::Led;
use super::schema::{
    incident_pupils, incidents, meetings, programme_blocks, pupils, suggestions, year_groups,
};
use super::DbConnection;
use crate::domain::{Level, MeetingState};
use crate::error::Result;

/// Which pupils a summary covers: those a pastoral lead leads (their year groups and
/// houses), those named (a practitioner's programme pupils), and from a level up.
#[derive(Debug, Clone, Default)]
pub struct Scope {
    pub led: Option<Led>,
    pub min_level: Option<Level>,
    /// Only these pupils, when some are named.
    pub pupils: Option<Vec<i64>>,
}

/// The pupils whose running Coaching Programme block `staff_id` delivers, by id.
pub fn programme_pupils_of(
    conn: &mut DbConnection,
    school_id: i64,
    staff_id: i64,
) -> Result<Vec<i64>> {
    Ok(programme_blocks::table
        .filter(programme_blocks::school_id.eq(school_id))
        .filter(programme_blocks::practitioner_id.eq(staff_id))
        .filter(programme_blocks::status.eq("running"))
        .select(programme_blocks::pupil_id)
        .distinct()
        .order(programme_blocks::pupil_id)
        .load(conn)?)
}

/// Meetings waiting to happen, each counted once by its [`MeetingState`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MeetingCounts {
    /// Due, not booked, and not yet past their due date.
    pub due: i64,
    /// Not held and past their day: the due day when not booked, the booked day when booked.
    pub overdue: i64,
    /// Booked for a day still to come (on time or late).
    pub scheduled: i64,
}

/// Counts the scope's meetings that are due, overdue and scheduled, as of `today`.
pub fn meeting_counts(
    conn: &mut DbConnection,
    school_id: i64,
    scope: &Scope,
    today: NaiveDate,
) -> Result<MeetingCounts> {
    let mut query = meetings::table
        .inner_join(pupils::table.inner_join(year_groups::table))
        .filter(meetings::school_id.eq(school_id))
        .filter(meetings::status.eq_any(["due", "scheduled"]))
        .select(MeetingRow::as_select())
        .into_boxed();
    if let Some(led) = &scope.led {
        query = query.filter(led.joined_condition());
    }
    if let Some(level) = scope.min_level {
        query = query.filter(meetings::level.ge(level.number()));
    }
    if let Some(ids) = &scope.pupils {
        query = query.filter(meetings::pupil_id.eq_any(ids.clone()));
    }
    let mut counts = MeetingCounts::default();
    for meeting in query.load::<MeetingRow>(conn)? {
        match meeting.state(today) {
            MeetingState::Booked { .. } => counts.scheduled += 1,
            MeetingState::Overdue(_) => counts.overdue += 1,
            _ => counts.due += 1,
        }
    }
    Ok(counts)
}

/// The scope's meetings that are due or scheduled, soonest due first.
pub fn open_meetings(
    conn: &mut DbConnection,
    school_id: i64,
    scope: &Scope,
    limit: i64,
) -> Result<Vec<MeetingRow>> {
    let mut query = meetings::table
        .inner_join(pupils::table.inner_join(year_groups::table))
        .filter(meetings::school_id.eq(school_id))
        .filter(meetings::status.eq_any(["due", "scheduled"]))
        .order((meetings::due_on.asc(), meetings::id.asc()))
        .limit(limit)
        .select(MeetingRow::as_select())
        .into_boxed();
    if let Some(led) = &scope.led {
        query = query.filter(led.joined_condition());
    }
    if let Some(level) = scope.min_level {
        query = query.filter(meetings::level.ge(level.number()));
    }
    if let Some(ids) = &scope.pupils {
        query = query.filter(meetings::pupil_id.eq_any(ids.clone()));
    }
    Ok(query.load(conn)?)
}

/// How many suggestions in the scope wait for a decision.
pub fn open_suggestion_count(
    conn: &mut DbConnection,
    school_id: i64,
    scope: &Scope,
) -> Result<i64> {
    let mut query = suggestions::table
        .inner_join(pupils::table.inner_join(year_groups::table))
        .filter(suggestions::school_id.eq(school_id))
        .filter(suggestions::status.eq("open"))
        .select(diesel::dsl::count_star())
        .into_boxed();
    if let Some(led) = &scope.led {
        query = query.filter(led.joined_condition());
    }
    if let Some(level) = scope.min_level {
        query = query.filter(suggestions::to_level.ge(level.number()));
    }
    if let Some(ids) = &scope.pupils {
        query = query.filter(suggestions::pupil_id.eq_any(ids.clone()));
    }
    Ok(query.first(conn)?)
}

/// Incidents a member of staff logged most recently, with the ids of their pupils.
pub fn recent_incidents_by(
    conn: &mut DbConnection,
    school_id: i64,
    staff_id: i64,
    limit: i64,
) -> Result<Vec<(IncidentRow, Vec<i64>)>> {
    let rows: Vec<IncidentRow> = incidents::table
        .filter(incidents::school_id.eq(school_id))
        .filter(incidents::reported_by.eq(staff_id))
        .order((incidents::occurred_at.desc(), incidents::id.desc()))
        .limit(limit)
        .select(IncidentRow::as_select())
        .load(conn)?;
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let links: Vec<(i64, i64)> = incident_pupils::table
        .filter(incident_pupils::incident_id.eq_any(&ids))
        .select((incident_pupils::incident_id, incident_pupils::pupil_id))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|row| {
            let pupils = links
                .iter()
                .filter(|(i, _)| *i == row.id)
                .map(|(_, p)| *p)
                .collect();
            (row, pupils)
        })
        .collect())
}
