//! The roll from the MIS: `steadfast import pupils`, the admin import page and
//! `POST /api/v1/imports/pupils` all run [`import`].

use chrono::{DateTime, Utc};

use super::{ImportDetail, ImportOptions, ImportReport};
use crate::db::{roster, DbConnection};
use crate::domain::import::decode_text;
use crate::domain::roster::{plan_roster, read_pupils, RosterPlan};
use crate::domain::SchoolCalendar;
use crate::error::Result;

/// Reads a MIS pupil export, compares it with the school's pupils and, unless it is a dry run
/// or the file has problems, applies it in the caller's transaction. `actor_id` is the
/// member of staff importing (none from the command line).
pub fn import(
    conn: &mut DbConnection,
    school_id: i64,
    actor_id: Option<i64>,
    file: &[u8],
    options: &ImportOptions,
    now: DateTime<Utc>,
) -> Result<ImportReport> {
    let text = decode_text(file);
    let (records, columns) = match read_pupils(&text, &options.mapped) {
        Ok(read) => read,
        Err(errors) => return Ok(ImportReport::refused(errors)),
    };
    let stored = roster::stored_pupils(conn, school_id)?;
    let plan = plan_roster(&stored, records, &columns, options.full);
    let mut report = report_of(&plan);
    report.unrecognised_columns = columns.unrecognised.clone();
    if !options.dry_run && !plan.is_empty() {
        let today = SchoolCalendar::local_date(now);
        roster::apply(conn, school_id, actor_id, &plan, today, now)?;
    }
    report.applied = !options.dry_run;
    Ok(report)
}

/// The report of a plan: its counts and one detail a pupil added, changed or leaving.
pub(crate) fn report_of(plan: &RosterPlan) -> ImportReport {
    let mut details = Vec::new();
    for record in &plan.added {
        details.push(ImportDetail {
            action: "added",
            key: record.upn.as_str().to_string(),
            name: format!(
                "{} {}",
                record.given_name.as_str(),
                record.family_name.as_str()
            ),
            line: Some(record.line),
            changes: Vec::new(),
        });
    }
    for changed in &plan.changed {
        let record = &changed.record;
        details.push(ImportDetail {
            action: if changed.restored {
                "restored"
            } else {
                "changed"
            },
            key: record.upn.as_str().to_string(),
            name: format!(
                "{} {}",
                record.given_name.as_str(),
                record.family_name.as_str()
            ),
            line: Some(record.line),
            changes: changed.changes.clone(),
        });
    }
    for leaving in &plan.left {
        details.push(ImportDetail {
            action: "left",
            key: leaving.upn.clone(),
            name: leaving.full_name(),
            line: None,
            changes: Vec::new(),
        });
    }
    ImportReport {
        added: plan.added.len(),
        changed: plan.changed.len(),
        left: plan.left.len(),
        unchanged: plan.unchanged,
        details,
        ..ImportReport::default()
    }
}
