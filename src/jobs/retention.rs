//! The retention job: erases what each school's retention schedule says has expired (left
//! pupils' records, old audit entries and outbox emails), one transaction per pupil so that
//! staff logging never waits long; or, in a dry run, lists what would go and writes nothing.
//! Both follow [`crate::db::retention`]'s one decision, so they always agree.

use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;

use crate::db::retention::{self, Expired};
use crate::db::schema::schools;
use crate::db::Database;
use crate::domain::retention::RecordKind;
use crate::error::Result;

/// What one pass did, or would do in a dry run: a line per school, pupil and kind of record.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RetentionReport {
    pub lines: Vec<Expired>,
}

impl RetentionReport {
    /// Pupils whose records went (or would go).
    pub fn pupils(&self) -> usize {
        let mut ids: Vec<i64> = self.lines.iter().filter_map(|l| l.pupil_id).collect();
        ids.sort_unstable();
        ids.dedup();
        ids.len()
    }

    /// Records of pupils that went (or would go).
    pub fn pupil_records(&self) -> i64 {
        self.lines
            .iter()
            .filter(|l| l.pupil_id.is_some())
            .map(|l| l.count)
            .sum()
    }

    /// Rows of `kind` that went (or would go): the audit log's entries, the outbox's emails.
    pub fn rows_of(&self, kind: RecordKind) -> i64 {
        self.lines
            .iter()
            .filter(|l| l.kind == kind)
            .map(|l| l.count)
            .sum()
    }
}

impl std::fmt::Display for RetentionReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} records of {} left pupils, {} audit entries and {} emails past the retention schedule",
            self.pupil_records(),
            self.pupils(),
            self.rows_of(RecordKind::AuditLog),
            self.rows_of(RecordKind::Outbox)
        )
    }
}

/// Erases (or with `dry_run` only lists) what has expired on `today` in every school.
pub async fn apply(
    db: &Database,
    today: NaiveDate,
    now: DateTime<Utc>,
    dry_run: bool,
) -> Result<RetentionReport> {
    let school_ids: Vec<i64> = db
        .transaction(|conn| {
            Ok(schools::table
                .select(schools::id)
                .order(schools::id)
                .load(conn)?)
        })
        .await?;
    let mut report = RetentionReport::default();
    for school_id in school_ids {
        if dry_run {
            let lines = db
                .transaction(move |conn| retention::expired_in_school(conn, school_id, today))
                .await?;
            report.lines.extend(lines);
            continue;
        }
        let pupils = db
            .transaction(move |conn| retention::pupils_with_expired(conn, school_id, today))
            .await?;
        for pupil_id in pupils {
            let erased = db
                .write(move |conn| retention::erase_pupil(conn, school_id, pupil_id, today, now))
                .await?;
            report.lines.extend(erased);
        }
        let aged = db
            .write(move |conn| retention::erase_aged(conn, school_id, today, now))
            .await?;
        report.lines.extend(aged);
    }
    Ok(report)
}
