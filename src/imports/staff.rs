//! The school's staff from a CSV file: `steadfast import staff`, the admin import page and
//! `POST /api/v1/imports/staff` all run [`import`].

use chrono::{DateTime, Utc};

use super::{ImportDetail, ImportOptions, ImportReport};
use crate::db::{staff_roster, DbConnection};
use crate::domain::import::decode_text;
use crate::domain::staff_roster::{plan_staff, read_staff, StaffPlan};
use crate::error::{Error, Result};

/// Reads a staff file, compares it with the school's staff (matched by email) and, unless
/// it is a dry run or the file has problems, applies it in the caller's transaction; with
/// `options.invite`, each person added is emailed an invitation in that transaction.
/// `actor_id` is the member of staff importing (none from the command line). Nobody is
/// ever deleted or closed: `options.full` is not read.
pub fn import(
    conn: &mut DbConnection,
    school_id: i64,
    actor_id: Option<i64>,
    file: &[u8],
    options: &ImportOptions,
    now: DateTime<Utc>,
) -> Result<ImportReport> {
    if options.invite && options.public_url.trim().is_empty() {
        return Err(Error::Internal(
            "a staff import that invites needs the public address its links point to".into(),
        ));
    }
    let text = decode_text(file);
    let (records, columns) = match read_staff(&text, &options.mapped) {
        Ok(read) => read,
        Err(errors) => return Ok(ImportReport::refused(errors)),
    };
    let stored = staff_roster::stored_staff(conn, school_id)?;
    let emails: Vec<&str> = records.iter().map(|r| r.email.as_str()).collect();
    let elsewhere = staff_roster::emails_elsewhere(conn, school_id, &emails)?;
    let plan = match plan_staff(&stored, &elsewhere, records, &columns) {
        Ok(plan) => plan,
        Err(errors) => {
            let mut report = ImportReport::refused(errors);
            report.unrecognised_columns = columns.unrecognised.clone();
            return Ok(report);
        }
    };
    let mut report = report_of(&plan);
    report.unrecognised_columns = columns.unrecognised.clone();
    if !options.dry_run && !plan.is_empty() {
        let invite_through = options.invite.then_some(options.public_url.as_str());
        staff_roster::apply(conn, school_id, actor_id, &plan, invite_through, now)?;
    }
    report.applied = !options.dry_run;
    Ok(report)
}

/// The report of a plan: its counts and one detail a person added or changed.
fn report_of(plan: &StaffPlan) -> ImportReport {
    let mut details = Vec::new();
    for record in &plan.added {
        details.push(ImportDetail {
            action: "added",
            key: record.email.as_str().to_string(),
            name: record.name.as_str().to_string(),
            line: Some(record.line),
            changes: Vec::new(),
        });
    }
    for changed in &plan.changed {
        details.push(ImportDetail {
            action: "changed",
            key: changed.record.email.as_str().to_string(),
            name: changed.record.name.as_str().to_string(),
            line: Some(changed.record.line),
            changes: changed.changes.clone(),
        });
    }
    ImportReport {
        added: plan.added.len(),
        changed: plan.changed.len(),
        left: 0,
        unchanged: plan.unchanged,
        details,
        ..ImportReport::default()
    }
}
