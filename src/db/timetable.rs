//! The school's timetable as stored: its lesson periods and whether it runs over two weeks.
//! A school that has saved none keeps the standard periods ([`Timetable::standard`]).

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use super::schema::{lesson_periods, school_timetables, schools};
use super::{to_db_time, DbConnection};
use crate::domain::timetable::{minutes_of, time_of_minutes, Day, Period, Timetable, Week};
use crate::error::Result;

/// A stored period: its week, ISO weekday, name, start and end in minutes.
type PeriodRow = (Option<String>, i16, String, i16, i16);

/// The school's timetable: its own when it has saved one, else the standard periods.
pub fn load(conn: &mut DbConnection, school_id: i64) -> Result<Timetable> {
    let setting: Option<Option<chrono::NaiveDate>> = school_timetables::table
        .find(school_id)
        .select(school_timetables::week_a_starts)
        .first(conn)
        .optional()?;
    let Some(week_a) = setting else {
        return Ok(Timetable::standard());
    };
    let rows: Vec<PeriodRow> = lesson_periods::table
        .filter(lesson_periods::school_id.eq(school_id))
        .order(lesson_periods::id)
        .select((
            lesson_periods::week,
            lesson_periods::weekday,
            lesson_periods::name,
            lesson_periods::starts_minute,
            lesson_periods::ends_minute,
        ))
        .load(conn)?;
    let periods = rows
        .into_iter()
        .filter_map(|(week, weekday, name, starts, ends)| {
            let week = match week {
                Some(raw) => Some(Week::parse(&raw)?),
                None => None,
            };
            Some((
                Day::from_iso(week, weekday)?,
                Period {
                    name,
                    starts: time_of_minutes(starts)?,
                    ends: time_of_minutes(ends)?,
                },
            ))
        })
        .collect();
    Ok(Timetable::from_stored(periods, week_a))
}

/// Whether the school has saved a timetable of its own.
pub fn is_own(conn: &mut DbConnection, school_id: i64) -> Result<bool> {
    Ok(school_timetables::table
        .find(school_id)
        .count()
        .get_result::<i64>(conn)?
        > 0)
}

/// Takes the school's timetable for a change, in the caller's transaction: one change at a
/// time per school (the school's row is locked on PostgreSQL, as the timetable's own may not
/// exist yet; SQLite's one writer takes turns), and answers the timetable as it is now.
pub fn lock(conn: &mut DbConnection, school_id: i64) -> Result<Timetable> {
    if let DbConnection::Postgres(pg) = conn {
        schools::table
            .find(school_id)
            .select(schools::id)
            .for_update()
            .first::<i64>(pg)
            .optional()?;
    }
    load(conn, school_id)
}

/// Stores `timetable` as the school's own, replacing what was stored, in the caller's
/// transaction (after [`lock`]).
pub fn save(
    conn: &mut DbConnection,
    school_id: i64,
    timetable: &Timetable,
    now: DateTime<Utc>,
) -> Result<()> {
    let now = to_db_time(now);
    let changed = diesel::update(school_timetables::table.find(school_id))
        .set((
            school_timetables::week_a_starts.eq(timetable.week_a()),
            school_timetables::updated_at.eq(now),
        ))
        .execute(conn)?;
    if changed == 0 {
        diesel::insert_into(school_timetables::table)
            .values((
                school_timetables::school_id.eq(school_id),
                school_timetables::week_a_starts.eq(timetable.week_a()),
                school_timetables::updated_at.eq(now),
            ))
            .execute(conn)?;
    }
    diesel::delete(lesson_periods::table.filter(lesson_periods::school_id.eq(school_id)))
        .execute(conn)?;
    let rows: Vec<_> = timetable
        .all_periods()
        .map(|(day, period)| {
            (
                lesson_periods::school_id.eq(school_id),
                lesson_periods::week.eq(day.week.map(|w| w.as_str().to_string())),
                lesson_periods::weekday.eq(day.iso_number()),
                lesson_periods::name.eq(period.name.clone()),
                lesson_periods::starts_minute.eq(minutes_of(period.starts)),
                lesson_periods::ends_minute.eq(minutes_of(period.ends)),
            )
        })
        .collect();
    for row in rows {
        diesel::insert_into(lesson_periods::table)
            .values(row)
            .execute(conn)?;
    }
    // The whole school's incidents group by the new periods (a rare change, counted again).
    super::insight::rebuild_groupings(conn, school_id)?;
    Ok(())
}

/// Forgets the school's own timetable: the standard periods apply again.
pub fn reset(conn: &mut DbConnection, school_id: i64) -> Result<()> {
    diesel::delete(lesson_periods::table.filter(lesson_periods::school_id.eq(school_id)))
        .execute(conn)?;
    diesel::delete(school_timetables::table.find(school_id)).execute(conn)?;
    super::insight::rebuild_groupings(conn, school_id)?;
    Ok(())
}
