//! Loading what the consistency check looks at (`domain::consistency`): for each school, its
//! pupils' stored levels, level histories and the records made at a level, in one query per
//! kind of record, then decided in memory.

use std::collections::HashMap;

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::{
    coaching_plans, incident_pupils, incidents, level_changes, meetings, programme_blocks,
    provision_items, pupils, schools,
};
use super::{from_db_time, DbConnection};
use crate::domain::consistency::{
    check_pupils, BlockRecord, MadeAt, OpenMeeting, PupilRecords, RecordedChange,
    SchoolConsistency, StoredLevel,
};
use crate::domain::rules::Response;
use crate::error::Result;

/// Checks every pupil of every school, school by school in the order of their codes.
pub fn check_all(conn: &mut DbConnection) -> Result<Vec<SchoolConsistency>> {
    let schools: Vec<(i64, String)> = schools::table
        .order(schools::code)
        .select((schools::id, schools::code))
        .load(conn)?;
    schools
        .into_iter()
        .map(|(id, code)| {
            let pupils = load_school(conn, id)?;
            Ok(SchoolConsistency {
                code,
                pupils: pupils.len(),
                problems: check_pupils(&pupils),
            })
        })
        .collect()
}

/// Every pupil of the school with their level history and records, by pupil id.
pub fn load_school(conn: &mut DbConnection, school_id: i64) -> Result<Vec<PupilRecords>> {
    type StoredRow = (i64, i16, NaiveDateTime, Option<i16>, bool, bool);
    let stored: Vec<StoredRow> = pupils::table
        .filter(pupils::school_id.eq(school_id))
        .order(pupils::id)
        .select((
            pupils::id,
            pupils::level,
            pupils::level_since,
            pupils::programme_block,
            pupils::had_plan,
            pupils::programme_without_impact,
        ))
        .load(conn)?;
    let mut pupils: Vec<PupilRecords> = stored
        .into_iter()
        .map(
            |(pupil_id, level, since, programme_block, had_plan, without_impact)| PupilRecords {
                pupil_id,
                stored: StoredLevel {
                    level,
                    level_since: from_db_time(since),
                    programme_block,
                    had_plan,
                    programme_without_impact: without_impact,
                },
                changes: Vec::new(),
                prompts: Vec::new(),
                plans: Vec::new(),
                blocks: Vec::new(),
                provisions: Vec::new(),
                open_meetings: Vec::new(),
            },
        )
        .collect();
    let index: HashMap<i64, usize> = pupils
        .iter()
        .enumerate()
        .map(|(i, p)| (p.pupil_id, i))
        .collect();
    let of = |pupil_id: i64| index.get(&pupil_id).copied();

    let changes: Vec<(i64, i64, i16, i16, NaiveDateTime, bool)> = level_changes::table
        .filter(level_changes::school_id.eq(school_id))
        .select((
            level_changes::pupil_id,
            level_changes::id,
            level_changes::from_level,
            level_changes::to_level,
            level_changes::occurred_at,
            level_changes::is_override,
        ))
        .load(conn)?;
    for (pupil_id, id, from, to, at, is_override) in changes {
        if let Some(i) = of(pupil_id) {
            pupils[i].changes.push(RecordedChange {
                id,
                from,
                to,
                at: from_db_time(at),
                is_override,
            });
        }
    }

    // Prompts logged here (brought-in history is placed separately), when they were logged,
    // or when they happened if that is later: a time a few minutes ahead is accepted.
    let prompts: Vec<(i64, i64, NaiveDateTime, NaiveDateTime)> = incident_pupils::table
        .inner_join(incidents::table)
        .filter(incidents::school_id.eq(school_id))
        .filter(incidents::response.eq(Response::Prompt.as_str()))
        .filter(incidents::imported.eq(false))
        .select((
            incident_pupils::pupil_id,
            incidents::id,
            incidents::created_at,
            incidents::occurred_at,
        ))
        .load(conn)?;
    for (pupil_id, id, logged, happened) in prompts {
        if let Some(i) = of(pupil_id) {
            pupils[i].prompts.push(MadeAt {
                id,
                at: from_db_time(logged.max(happened)),
            });
        }
    }

    let plans: Vec<(i64, i64, NaiveDateTime)> = coaching_plans::table
        .filter(coaching_plans::school_id.eq(school_id))
        .select((
            coaching_plans::pupil_id,
            coaching_plans::id,
            coaching_plans::created_at,
        ))
        .load(conn)?;
    for (pupil_id, id, at) in plans {
        if let Some(i) = of(pupil_id) {
            pupils[i].plans.push(MadeAt {
                id,
                at: from_db_time(at),
            });
        }
    }

    let blocks: Vec<(i64, i64, i16, String, NaiveDateTime)> = programme_blocks::table
        .filter(programme_blocks::school_id.eq(school_id))
        .select((
            programme_blocks::pupil_id,
            programme_blocks::id,
            programme_blocks::weeks,
            programme_blocks::status,
            programme_blocks::created_at,
        ))
        .load(conn)?;
    for (pupil_id, id, weeks, status, at) in blocks {
        if let Some(i) = of(pupil_id) {
            pupils[i].blocks.push(BlockRecord {
                id,
                weeks,
                running: status == "running",
                created_at: from_db_time(at),
            });
        }
    }

    let provisions: Vec<(i64, i64, NaiveDateTime)> = provision_items::table
        .filter(provision_items::school_id.eq(school_id))
        .select((
            provision_items::pupil_id,
            provision_items::id,
            provision_items::created_at,
        ))
        .load(conn)?;
    for (pupil_id, id, at) in provisions {
        if let Some(i) = of(pupil_id) {
            pupils[i].provisions.push(MadeAt {
                id,
                at: from_db_time(at),
            });
        }
    }

    let open: Vec<(i64, i64, i16)> = meetings::table
        .filter(meetings::school_id.eq(school_id))
        .filter(meetings::status.eq_any(["due", "scheduled"]))
        .select((meetings::pupil_id, meetings::id, meetings::level))
        .load(conn)?;
    for (pupil_id, id, level) in open {
        if let Some(i) = of(pupil_id) {
            pupils[i].open_meetings.push(OpenMeeting { id, level });
        }
    }
    Ok(pupils)
}
