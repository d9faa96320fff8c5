//! Term dates from an iCalendar file (the ones local authorities publish):
//! `steadfast import calendar`, the admin import page and `POST /api/v1/imports/calendar`
//! all run [`import`].
//!
//! Whole-day holidays, half terms, bank holidays and INSET days become closures, matched
//! with the school's on first day, last day and kind (the same name is unchanged, another
//! name a change). Nothing is taken away: `full` and `mapped` are not used. The events left
//! out (term starts, timed and repeating events) are listed in [`ImportReport::skipped`]
//! with why, and the due dates the new closures move in [`ImportReport::moved`]; a detail's
//! key is the closure's dates (`2025-10-27/2025-10-31`, or one date).

use chrono::{DateTime, Utc};

use super::{ImportDetail, ImportOptions, ImportReport, SkippedEntry};
use crate::db::calendar::{self, kind_word};
use crate::db::DbConnection;
use crate::domain::calendar::{Closure, SchoolCalendar};
use crate::domain::import::decode_text;
use crate::domain::term_dates::{
    dates_key, name_change, plan_calendar, read_term_dates, CalendarPlan,
};
use crate::error::Result;

/// Reads a term-dates iCalendar file, compares it with the school's closures and, unless it
/// is a dry run or the file has problems, applies it in the caller's transaction, moving the
/// due dates not yet passed that the new closures move. `actor_id` is the member of staff
/// importing (none from the command line).
pub fn import(
    conn: &mut DbConnection,
    school_id: i64,
    actor_id: Option<i64>,
    file: &[u8],
    options: &ImportOptions,
    now: DateTime<Utc>,
) -> Result<ImportReport> {
    let text = decode_text(file);
    let today = SchoolCalendar::local_date(now);
    let read = match read_term_dates(&text, today) {
        Ok(read) => read,
        Err(errors) => return Ok(ImportReport::refused(errors)),
    };
    let stored = calendar::stored(conn, school_id)?;
    let plan = plan_calendar(&stored, read);
    let mut report = report_of(&plan);
    if !plan.is_empty() {
        report.moved = if options.dry_run {
            calendar::due_moves_under(conn, school_id, plan.closures_after(&stored), today)?
        } else {
            calendar::apply_import(conn, school_id, actor_id, &plan, now)?
        };
    }
    report.applied = !options.dry_run;
    Ok(report)
}

/// "October half term (holiday)": a closure's name and kind as a report shows them.
fn shown(closure: &Closure) -> String {
    format!("{} ({})", closure.name, kind_word(closure.kind))
}

/// The report of a plan: its counts, one detail a closure added or renamed, and the events
/// skipped.
fn report_of(plan: &CalendarPlan) -> ImportReport {
    let mut details = Vec::new();
    for found in &plan.added {
        details.push(ImportDetail {
            action: "added",
            key: dates_key(&found.closure),
            name: shown(&found.closure),
            line: Some(found.line),
            changes: Vec::new(),
        });
    }
    for renamed in &plan.changed {
        details.push(ImportDetail {
            action: "changed",
            key: dates_key(&renamed.closure),
            name: shown(&renamed.closure),
            line: Some(renamed.line),
            changes: vec![name_change(renamed)],
        });
    }
    ImportReport {
        added: plan.added.len(),
        changed: plan.changed.len(),
        unchanged: plan.unchanged,
        details,
        skipped: plan
            .skipped
            .iter()
            .map(|s| SkippedEntry {
                line: s.line,
                name: s.summary.clone(),
                reason: s.reason.clone(),
            })
            .collect(),
        ..ImportReport::default()
    }
}
