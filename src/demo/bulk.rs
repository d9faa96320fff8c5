//! Writes generated history many rows at a time, inside the caller's transaction: on
//! PostgreSQL with `COPY ... FROM STDIN` (text format), on SQLite with multi-row `INSERT`s of
//! bound values. Rows carry every column of their table, ids included, in the order of
//! `db::schema`; after loading, [`fix_sequences`] moves PostgreSQL's id sequences past the ids
//! used, so rows added later by the service get fresh ids.

use std::fmt::Write as _;

use chrono::{NaiveDate, NaiveDateTime};
use diesel::dsl::max;
use diesel::prelude::*;
use diesel::query_builder::BoxedSqlQuery;
use diesel::sql_types::{BigInt, Bool, Date, Integer, Nullable, SmallInt, Text, Timestamp};
use diesel::PgConnection;

use crate::db::schema::{
    incident_pupils, incidents, level_changes, meeting_participants, meetings, pupil_day_incidents,
    suggestions,
};
use crate::db::{DbConnection, MultiBackend};
use crate::error::{Error, Result};

/// One value of a row.
#[derive(Debug, Clone, Copy)]
pub enum Cell<'a> {
    Int(i64),
    OptInt(Option<i64>),
    Small(i16),
    Int32(i32),
    OptInt32(Option<i32>),
    Text(&'a str),
    OptText(Option<&'a str>),
    Time(NaiveDateTime),
    OptTime(Option<NaiveDateTime>),
    Date(NaiveDate),
    OptDate(Option<NaiveDate>),
    Bool(bool),
    OptBool(Option<bool>),
}

/// A table the demo writes in bulk, with its columns in schema order.
#[derive(Debug, Clone, Copy)]
pub struct BulkTable {
    name: &'static str,
    columns: &'static [&'static str],
}

/// Incidents: id, school_id, reported_by, occurred_at, behaviour, severity, response,
/// location, lesson, note, created_at, voided_at, edited_at, imported, import_key.
pub const INCIDENTS: BulkTable = BulkTable {
    name: "incidents",
    columns: &[
        "id",
        "school_id",
        "reported_by",
        "occurred_at",
        "behaviour",
        "severity",
        "response",
        "location",
        "lesson",
        "note",
        "created_at",
        "voided_at",
        "edited_at",
        "imported",
        "import_key",
    ],
};

/// The pupils of each incident: incident_id, pupil_id, school_id, occurred_at.
pub const INCIDENT_PUPILS: BulkTable = BulkTable {
    name: "incident_pupils",
    columns: &["incident_id", "pupil_id", "school_id", "occurred_at"],
};

/// Incidents per pupil per day: pupil_id, day, school_id, incidents.
pub const PUPIL_DAY_INCIDENTS: BulkTable = BulkTable {
    name: "pupil_day_incidents",
    columns: &["pupil_id", "day", "school_id", "incidents"],
};

/// Suggestions: id, school_id, pupil_id, from_level, to_level, rule, reason, evidence,
/// status, policy_version, created_at, decided_by, decided_at, decision_note, snoozed_until.
pub const SUGGESTIONS: BulkTable = BulkTable {
    name: "suggestions",
    columns: &[
        "id",
        "school_id",
        "pupil_id",
        "from_level",
        "to_level",
        "rule",
        "reason",
        "evidence",
        "status",
        "policy_version",
        "created_at",
        "decided_by",
        "decided_at",
        "decision_note",
        "snoozed_until",
    ],
};

/// Level changes: id, school_id, pupil_id, from_level, to_level, reason, changed_by,
/// suggestion_id, is_override, occurred_at.
pub const LEVEL_CHANGES: BulkTable = BulkTable {
    name: "level_changes",
    columns: &[
        "id",
        "school_id",
        "pupil_id",
        "from_level",
        "to_level",
        "reason",
        "changed_by",
        "suggestion_id",
        "is_override",
        "occurred_at",
    ],
};

/// Meetings: id, school_id, pupil_id, level, due_on, status, starts_at, duration_minutes,
/// location, parent_invited, held_at, summary, goals_met, created_at, sequence, cancel_reason,
/// follow_up, successes, challenges, focus, action_steps, next_step, purpose, due_from,
/// due_school_days.
pub const MEETINGS: BulkTable = BulkTable {
    name: "meetings",
    columns: &[
        "id",
        "school_id",
        "pupil_id",
        "level",
        "due_on",
        "status",
        "starts_at",
        "duration_minutes",
        "location",
        "parent_invited",
        "held_at",
        "summary",
        "goals_met",
        "created_at",
        "sequence",
        "cancel_reason",
        "follow_up",
        "successes",
        "challenges",
        "focus",
        "action_steps",
        "next_step",
        "purpose",
        "due_from",
        "due_school_days",
    ],
};

/// Who takes part in each meeting: meeting_id, staff_id, school_id.
pub const MEETING_PARTICIPANTS: BulkTable = BulkTable {
    name: "meeting_participants",
    columns: &["meeting_id", "staff_id", "school_id"],
};

/// Rows sent to PostgreSQL in one `COPY`.
const COPY_ROWS: usize = 50_000;
/// Bound values in one SQLite `INSERT` (SQLite allows 32,766).
const SQLITE_VALUES: usize = 30_000;

/// The first free id of the tables the demo gives ids to (incidents, suggestions, level
/// changes, meetings): one more than the largest in use. The demo loads into a database no
/// one else is writing to, so the ids after it are free.
pub fn next_ids(conn: &mut DbConnection) -> Result<NextIds> {
    let incident: Option<i64> = incidents::table.select(max(incidents::id)).first(conn)?;
    let suggestion: Option<i64> = suggestions::table
        .select(max(suggestions::id))
        .first(conn)?;
    let level_change: Option<i64> = level_changes::table
        .select(max(level_changes::id))
        .first(conn)?;
    let meeting: Option<i64> = meetings::table.select(max(meetings::id)).first(conn)?;
    Ok(NextIds {
        incident: incident.unwrap_or(0) + 1,
        suggestion: suggestion.unwrap_or(0) + 1,
        level_change: level_change.unwrap_or(0) + 1,
        meeting: meeting.unwrap_or(0) + 1,
    })
}

/// The first free id of each table the demo writes with ids of its own.
#[derive(Debug, Clone, Copy)]
pub struct NextIds {
    pub incident: i64,
    pub suggestion: i64,
    pub level_change: i64,
    pub meeting: i64,
}

/// On PostgreSQL, moves the id sequences of the bulk-written tables past their largest id.
pub fn fix_sequences(conn: &mut DbConnection) -> Result<()> {
    if let DbConnection::Postgres(pg) = conn {
        use diesel::connection::SimpleConnection;
        for table in ["incidents", "suggestions", "level_changes", "meetings"] {
            pg.batch_execute(&format!(
                "SELECT setval(pg_get_serial_sequence('{table}', 'id'), \
                 GREATEST((SELECT MAX(id) FROM {table}), 1))"
            ))?;
        }
    }
    Ok(())
}

/// Writes `rows` (each with every column of `table`, in order) into `table`.
pub fn write<'a>(
    conn: &mut DbConnection,
    table: BulkTable,
    rows: impl IntoIterator<Item = Vec<Cell<'a>>>,
) -> Result<usize> {
    let width = table.columns.len();
    let chunk = match conn {
        DbConnection::Postgres(_) => COPY_ROWS,
        DbConnection::Sqlite(_) => (SQLITE_VALUES / width).max(1),
    };
    let mut written = 0;
    let mut batch: Vec<Vec<Cell<'a>>> = Vec::with_capacity(chunk);
    for row in rows {
        if row.len() != width {
            return Err(Error::Internal(format!(
                "a {} row has {} values, not {width}",
                table.name,
                row.len()
            )));
        }
        batch.push(row);
        if batch.len() == chunk {
            written += write_batch(conn, table, &batch)?;
            batch.clear();
        }
    }
    if !batch.is_empty() {
        written += write_batch(conn, table, &batch)?;
    }
    Ok(written)
}

fn write_batch(conn: &mut DbConnection, table: BulkTable, rows: &[Vec<Cell<'_>>]) -> Result<usize> {
    match conn {
        DbConnection::Postgres(pg) => copy_batch(pg, table, rows),
        DbConnection::Sqlite(_) => insert_batch(conn, table, rows),
    }
}

/// One multi-row `INSERT` with every value bound.
fn insert_batch(
    conn: &mut DbConnection,
    table: BulkTable,
    rows: &[Vec<Cell<'_>>],
) -> Result<usize> {
    let row = format!("({})", vec!["?"; table.columns.len()].join(", "));
    let sql = format!(
        "INSERT INTO {} ({}) VALUES {}",
        table.name,
        table.columns.join(", "),
        vec![row.as_str(); rows.len()].join(", ")
    );
    let mut query: BoxedSqlQuery<'_, MultiBackend, _> = diesel::sql_query(sql).into_boxed();
    for row in rows {
        for cell in row {
            query = bind(query, *cell);
        }
    }
    Ok(query.execute(conn)?)
}

fn bind<'f, Q>(
    query: BoxedSqlQuery<'f, MultiBackend, Q>,
    cell: Cell<'f>,
) -> BoxedSqlQuery<'f, MultiBackend, Q> {
    match cell {
        Cell::Int(v) => query.bind::<BigInt, _>(v),
        Cell::OptInt(v) => query.bind::<Nullable<BigInt>, _>(v),
        Cell::Small(v) => query.bind::<SmallInt, _>(v),
        Cell::Int32(v) => query.bind::<Integer, _>(v),
        Cell::OptInt32(v) => query.bind::<Nullable<Integer>, _>(v),
        Cell::Text(v) => query.bind::<Text, _>(v),
        Cell::OptText(v) => query.bind::<Nullable<Text>, _>(v),
        Cell::Time(v) => query.bind::<Timestamp, _>(v),
        Cell::OptTime(v) => query.bind::<Nullable<Timestamp>, _>(v),
        Cell::Date(v) => query.bind::<Date, _>(v),
        Cell::OptDate(v) => query.bind::<Nullable<Date>, _>(v),
        Cell::Bool(v) => query.bind::<Bool, _>(v),
        Cell::OptBool(v) => query.bind::<Nullable<Bool>, _>(v),
    }
}

/// One `COPY ... FROM STDIN` in PostgreSQL's text format.
fn copy_batch(pg: &mut PgConnection, table: BulkTable, rows: &[Vec<Cell<'_>>]) -> Result<usize> {
    let mut text = String::with_capacity(rows.len() * 64 * table.columns.len() / 4);
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            if i > 0 {
                text.push('\t');
            }
            copy_value(&mut text, *cell);
        }
        text.push('\n');
    }
    let data = text.as_bytes();
    let send = |out: &mut dyn std::io::Write| {
        out.write_all(data)
            .map_err(|e| diesel::result::Error::SerializationError(Box::new(e)))
    };
    let copied = match table.name {
        "incidents" => diesel::copy_from(incidents::table)
            .from_raw_data(incidents::table, send)
            .execute(pg)?,
        "incident_pupils" => diesel::copy_from(incident_pupils::table)
            .from_raw_data(incident_pupils::table, send)
            .execute(pg)?,
        "pupil_day_incidents" => diesel::copy_from(pupil_day_incidents::table)
            .from_raw_data(pupil_day_incidents::table, send)
            .execute(pg)?,
        "suggestions" => diesel::copy_from(suggestions::table)
            .from_raw_data(suggestions::table, send)
            .execute(pg)?,
        "level_changes" => diesel::copy_from(level_changes::table)
            .from_raw_data(level_changes::table, send)
            .execute(pg)?,
        "meetings" => diesel::copy_from(meetings::table)
            .from_raw_data(meetings::table, send)
            .execute(pg)?,
        "meeting_participants" => diesel::copy_from(meeting_participants::table)
            .from_raw_data(meeting_participants::table, send)
            .execute(pg)?,
        other => return Err(Error::Internal(format!("no bulk copy into {other}"))),
    };
    Ok(copied)
}

/// A value in `COPY`'s text format: `\N` for null, with backslash, tab and line breaks escaped.
fn copy_value(out: &mut String, cell: Cell<'_>) {
    const NULL: &str = "\\N";
    match cell {
        Cell::Int(v) => push_display(out, v),
        Cell::OptInt(v) => match v {
            Some(v) => push_display(out, v),
            None => out.push_str(NULL),
        },
        Cell::Small(v) => push_display(out, v),
        Cell::Int32(v) => push_display(out, v),
        Cell::OptInt32(v) => match v {
            Some(v) => push_display(out, v),
            None => out.push_str(NULL),
        },
        Cell::Text(v) => push_text(out, v),
        Cell::OptText(v) => match v {
            Some(v) => push_text(out, v),
            None => out.push_str(NULL),
        },
        Cell::Time(v) => push_time(out, v),
        Cell::OptTime(v) => match v {
            Some(v) => push_time(out, v),
            None => out.push_str(NULL),
        },
        Cell::Date(v) => push_display(out, v.format("%Y-%m-%d")),
        Cell::OptDate(v) => match v {
            Some(v) => push_display(out, v.format("%Y-%m-%d")),
            None => out.push_str(NULL),
        },
        Cell::Bool(v) => out.push(if v { 't' } else { 'f' }),
        Cell::OptBool(v) => match v {
            Some(v) => out.push(if v { 't' } else { 'f' }),
            None => out.push_str(NULL),
        },
    }
}

fn push_display(out: &mut String, value: impl std::fmt::Display) {
    let _ = write!(out, "{value}");
}

fn push_time(out: &mut String, at: NaiveDateTime) {
    push_display(out, at.format("%Y-%m-%d %H:%M:%S%.6f"));
}

fn push_text(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_text_escapes_and_marks_nulls() {
        let mut out = String::new();
        for cell in [
            Cell::Text("a\tb\\c\nd"),
            Cell::OptText(None),
            Cell::Bool(true),
            Cell::OptInt(Some(-4)),
        ] {
            copy_value(&mut out, cell);
            out.push('|');
        }
        assert_eq!(out, "a\\tb\\\\c\\nd|\\N|t|-4|");
    }
}
