//! Behaviour history from the school's previous system: `steadfast import incidents`, the
//! admin import page and `POST /api/v1/imports/incidents` all run [`import`].
//!
//! Each incident is matched to its pupil by UPN and to who recorded it by email or name;
//! behaviours the school's list does not hold are added to it (and shown in the preview).
//! Incidents already brought in (the same key) are left alone. With `place`, each pupil with
//! no level yet is placed on the ladder by replaying the school's policy over their history;
//! the preview says how many would land at each level. No email is sent for history.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, Utc};
use diesel::Connection;

use super::{ImportDetail, ImportOptions, ImportReport};
use crate::db::evaluation::load_rules;
use crate::db::history::{self, ResolvedRecord, StaffIndex};
use crate::db::{behaviours, DbConnection};
use crate::domain::history::{
    landing_counts, place, read_history, unknown_behaviours, HistoryRecord,
};
use crate::domain::import::{decode_text, RowError};
use crate::error::{Error, Result};

/// Reads a history export and, unless it is a dry run or the file has problems, writes it
/// (and the placements) in the caller's transaction. A dry run does the same work inside a
/// savepoint it then undoes, so its preview is exactly what applying would do.
pub fn import(
    conn: &mut DbConnection,
    school_id: i64,
    actor_id: Option<i64>,
    file: &[u8],
    options: &ImportOptions,
    now: DateTime<Utc>,
) -> Result<ImportReport> {
    let text = decode_text(file);
    let (records, columns) = match read_history(&text, &options.mapped, now) {
        Ok(read) => read,
        Err(errors) => return Ok(ImportReport::refused(errors)),
    };
    let mut report = None;
    let outcome = conn.transaction::<(), Error, _>(|conn| {
        let done = write(conn, school_id, actor_id, &records, options, now)?;
        let refused = !done.errors.is_empty();
        report = Some(done);
        if options.dry_run || refused {
            // Undo everything written for the preview.
            Err(Error::Internal(UNDONE.to_string()))
        } else {
            Ok(())
        }
    });
    match outcome {
        Ok(()) => {}
        Err(Error::Internal(message)) if message == UNDONE => {}
        Err(other) => return Err(other),
    }
    let mut report = report.ok_or_else(|| Error::Internal("no report".to_string()))?;
    report.unrecognised_columns = columns.unrecognised.clone();
    report.applied = !options.dry_run && report.errors.is_empty();
    Ok(report)
}

/// The action of a report's detail for a behaviour the import adds to the school's list.
pub const BEHAVIOUR_ADDED: &str = "behaviour added";

/// Marks the savepoint of a preview as undone on purpose.
const UNDONE: &str = "the preview's writes are undone";

/// Finds every incident's pupil and recorder, then writes what is new.
fn write(
    conn: &mut DbConnection,
    school_id: i64,
    actor_id: Option<i64>,
    records: &[HistoryRecord],
    options: &ImportOptions,
    now: DateTime<Utc>,
) -> Result<ImportReport> {
    let pupils = history::pupils_by_upn(conn, school_id)?;
    let staff = StaffIndex::load(conn, school_id)?;
    let known: Vec<String> = behaviours::list(conn, school_id, true)?
        .into_iter()
        .map(|b| b.name)
        .collect();
    let spelled: HashMap<String, String> = known
        .iter()
        .map(|b| (b.to_lowercase(), b.clone()))
        .collect();
    let already = history::imported_keys(conn, school_id)?;

    let mut errors = Vec::new();
    let mut resolved = Vec::new();
    let mut unchanged = 0;
    let mut seen_keys: HashSet<&str> = HashSet::new();
    for record in records {
        let upn_column = "UPN";
        let pupil_id = match pupils.get(record.upn.as_str()) {
            Some((_, true)) => {
                errors.push(RowError::new(
                    record.line,
                    upn_column,
                    format!(
                        "the pupil with UPN {} has left: their records are read-only",
                        record.upn.as_str()
                    ),
                ));
                continue;
            }
            Some((id, false)) => *id,
            None => {
                errors.push(RowError::new(
                    record.line,
                    upn_column,
                    format!(
                        "no pupil here has the UPN {}: bring the roll in first",
                        record.upn.as_str()
                    ),
                ));
                continue;
            }
        };
        let reporter_id = match staff.find(&record.staff) {
            Ok(id) => id,
            Err(message) => {
                errors.push(RowError::new(record.line, "Staff", message));
                continue;
            }
        };
        if already.contains(&record.key) || !seen_keys.insert(record.key.as_str()) {
            unchanged += 1;
            continue;
        }
        let mapped = options
            .behaviours
            .iter()
            .find(|(from, _)| from.to_lowercase() == record.behaviour.to_lowercase())
            .and_then(|(_, to)| spelled.get(&to.to_lowercase()));
        let behaviour = mapped
            .or_else(|| spelled.get(&record.behaviour.to_lowercase()))
            .cloned()
            .unwrap_or_else(|| record.behaviour.clone());
        resolved.push(ResolvedRecord {
            record,
            pupil_id,
            reporter_id,
            behaviour,
        });
    }
    if !errors.is_empty() {
        return Ok(ImportReport::refused(errors));
    }

    let as_stored: Vec<_> = resolved
        .iter()
        .map(|r| HistoryRecord {
            behaviour: r.behaviour.clone(),
            ..r.record.clone()
        })
        .collect();
    let added_behaviours = unknown_behaviours(&as_stored, &known);
    let mut details: Vec<ImportDetail> = added_behaviours
        .iter()
        .map(|(name, line)| ImportDetail {
            action: BEHAVIOUR_ADDED,
            key: name.clone(),
            name: "a behaviour not yet on the school's list".to_string(),
            line: Some(*line),
            changes: Vec::new(),
        })
        .collect();
    for (name, _) in &added_behaviours {
        behaviours::add(conn, school_id, name, false)?;
    }
    history::insert_incidents(conn, school_id, &resolved, now)?;

    let mut placed = None;
    if options.place {
        let in_file: Vec<i64> = {
            let mut ids: Vec<i64> = resolved.iter().map(|r| r.pupil_id).collect();
            ids.sort_unstable();
            ids.dedup();
            ids
        };
        let to_place = history::not_yet_placed(conn, &in_file)?;
        let facts = history::facts_of(conn, &to_place)?;
        let rules = load_rules(conn, school_id)?;
        let mut placements = BTreeMap::new();
        for pupil_id in &to_place {
            let pupil_facts = facts.get(pupil_id).map(Vec::as_slice).unwrap_or_default();
            let placement = place(&rules.policy, &rules.calendar, pupil_facts, now);
            history::store_placement(conn, *pupil_id, &placement, &rules, actor_id, now)?;
            placements.insert(*pupil_id, placement);
        }
        let counts = landing_counts(placements.values());
        details.push(ImportDetail {
            action: "placed",
            key: format!("{} pupil(s)", to_place.len()),
            name: counts
                .iter()
                .enumerate()
                .map(|(level, n)| format!("level {level}: {n}"))
                .collect::<Vec<_>>()
                .join(", "),
            line: None,
            changes: Vec::new(),
        });
        placed = Some(counts.to_vec());
    }
    if !resolved.is_empty() {
        crate::db::audit::record(
            conn,
            crate::db::audit::AuditEntry {
                school_id,
                actor_id,
                action: "history.import",
                entity: "school",
                entity_id: Some(school_id),
                detail: format!(
                    "{} incident(s) added, {} behaviour(s) added, {} already held, placement {}",
                    resolved.len(),
                    added_behaviours.len(),
                    unchanged,
                    if options.place { "on" } else { "off" }
                ),
                at: crate::db::to_db_time(now),
            },
        )?;
    }
    Ok(ImportReport {
        added: resolved.len(),
        unchanged,
        details,
        placed,
        ..ImportReport::default()
    })
}
