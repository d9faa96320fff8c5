//! A OneRoster 1.1 or 1.2 CSV bundle (`steadfast import oneroster`, the admin import page
//! and `POST /api/v1/imports/oneroster` run it): for each school of the bundle, created when
//! new, its pupils through the roll import's plan ([`plan_roster`], [`roster::apply`]), its
//! staff accounts and form tutors, its teaching groups and the holidays between its terms.
//! One report over every school; any problem anywhere and nothing is written; all of it in
//! the caller's transaction.
//!
//! From the command line a bundle brings in every school it holds; from the page and the
//! API only the signed-in school (the org whose `identifier` is its code).

use std::collections::{BTreeSet, HashMap};
use std::io::Read;

use chrono::{DateTime, Utc};

use super::{ImportDetail, ImportOptions, ImportReport, MAX_IMPORT_BYTES};
use crate::db::audit::{self, AuditEntry};
use crate::db::models::School;
use crate::db::{roster, schools, staff as staff_db, teaching_groups, to_db_time, DbConnection};
use crate::domain::details::SchoolCode;
use crate::domain::import::{decode_text, RowError};
use crate::domain::oneroster::{
    plan_groups, plan_holidays, read_bundle, BundleFiles, GroupPlan, Holiday, SchoolBundle,
    StaffRecord,
};
use crate::domain::roster::{plan_roster, FieldChange, RosterPlan};
use crate::domain::{Role, SchoolCalendar};
use crate::error::{Error, Result};

/// The most files a bundle's zip may hold.
const MAX_ZIP_ENTRIES: usize = 1_000;

/// Which schools of a bundle an import brings in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Every school of the bundle, creating those not held yet (the command line).
    Every,
    /// Only this school (the page and the API, for its administrators).
    School(i64),
}

/// Brings in the signed-in school from a bundle's `.zip`, the signature every import kind
/// has (see [`import_files`]).
pub fn import(
    conn: &mut DbConnection,
    school_id: i64,
    actor_id: Option<i64>,
    file: &[u8],
    options: &ImportOptions,
    now: DateTime<Utc>,
) -> Result<ImportReport> {
    match bundle_files(file) {
        Ok(files) => import_files(
            conn,
            Scope::School(school_id),
            actor_id,
            &files,
            options,
            now,
        ),
        Err(error) => Ok(ImportReport::refused(vec![error])),
    }
}

/// The CSV files of a bundle's `.zip` (found by the `PK` signature), by file name (folders
/// inside the zip are ignored); other files are left out. A file that is not a zip, or one
/// that unpacks to more than an import reads, is a problem.
pub fn bundle_files(bytes: &[u8]) -> std::result::Result<BundleFiles, RowError> {
    let refused = |message: String| RowError::new(1, "", message);
    if !bytes.starts_with(b"PK") {
        return Err(refused(
            "the file is not a OneRoster bundle: send the .zip holding orgs.csv, users.csv, classes.csv and enrollments.csv".to_string(),
        ));
    }
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes))
        .map_err(|e| refused(format!("the .zip cannot be read ({e})")))?;
    if archive.len() > MAX_ZIP_ENTRIES {
        return Err(refused(format!(
            "the .zip holds {} files; a OneRoster bundle holds at most {MAX_ZIP_ENTRIES}",
            archive.len()
        )));
    }
    let mut files = BundleFiles::new();
    let mut left = MAX_IMPORT_BYTES;
    for index in 0..archive.len() {
        let mut entry = archive
            .by_index(index)
            .map_err(|e| refused(format!("a file of the .zip cannot be read ({e})")))?;
        let path = entry.name().to_string();
        let name = path
            .rsplit(['/', '\\'])
            .next()
            .unwrap_or_default()
            .to_string();
        if entry.is_dir()
            || path.starts_with("__MACOSX")
            || !name.to_ascii_lowercase().ends_with(".csv")
        {
            continue;
        }
        let mut bytes = Vec::new();
        (&mut entry)
            .take(left as u64 + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| refused(format!("{name} cannot be unpacked ({e})")))?;
        if bytes.len() > left {
            return Err(refused(format!(
                "the bundle unpacks to more than {MAX_IMPORT_BYTES} bytes, more than an import reads"
            )));
        }
        left -= bytes.len();
        if files.keys().any(|held| held.eq_ignore_ascii_case(&name)) {
            return Err(refused(format!("the .zip holds {name} twice")));
        }
        files.insert(name, decode_text(&bytes));
    }
    Ok(files)
}

/// One school's part of an import: what it holds now, and what the bundle would change.
struct SchoolWork<'a> {
    bundle: &'a SchoolBundle,
    held: Option<School>,
    roster: RosterPlan,
    groups: GroupPlan,
    holidays: Vec<Holiday>,
}

/// Reads a bundle's files, compares each school brought in (see [`Scope`]) with what is
/// held and, unless it is a dry run or the bundle has problems, applies it in the caller's
/// transaction. `options.grade_offset` turns a OneRoster grade into a UK year (the setting
/// `oneroster_grade_offset`). With `options.full`, each school's pupils not in the bundle
/// are marked as left.
pub fn import_files(
    conn: &mut DbConnection,
    scope: Scope,
    actor_id: Option<i64>,
    files: &BundleFiles,
    options: &ImportOptions,
    now: DateTime<Utc>,
) -> Result<ImportReport> {
    let only = match scope {
        Scope::Every => None,
        Scope::School(id) => {
            let school = schools::get(conn, id)?;
            Some(SchoolCode::parse(&school.code).map_err(|e| Error::Internal(e.message))?)
        }
    };
    let bundle = match read_bundle(files, options.grade_offset, only.as_ref()) {
        Ok(bundle) => bundle,
        Err(errors) => return Ok(ImportReport::refused(errors)),
    };
    let mut errors = Vec::new();
    if options.full {
        for (line, file) in &bundle.delta_files {
            errors.push(RowError::new(
                *line,
                "manifest.csv: value",
                format!("{file} holds changes only (delta), so it cannot be the whole roll: bring it in without the whole-roll option"),
            ));
        }
    }

    let mut report = ImportReport::default();
    let mut work = Vec::new();
    for school in &bundle.schools {
        let held = schools::find_by_code(conn, school.code.as_str())?;
        let held_id = held.as_ref().map(|s| s.id);
        let (pupils, groups, closures) = match held_id {
            Some(id) => (
                roster::stored_pupils(conn, id)?,
                teaching_groups::stored_groups(conn, id)?,
                schools::calendar(conn, id)?.closures().to_vec(),
            ),
            None => (Vec::new(), Vec::new(), Vec::new()),
        };
        let code = school.code.as_str();
        if held.is_none() {
            report.added += 1;
            report
                .details
                .push(detail("added", code, code, &school.name, school.line));
        }

        let roster = plan_roster(
            &pupils,
            school.pupils.clone(),
            &bundle.columns,
            options.full,
        );
        let pupils_report = super::pupils::report_of(&roster);
        report.added += pupils_report.added;
        report.changed += pupils_report.changed;
        report.left += pupils_report.left;
        report.unchanged += pupils_report.unchanged;
        report
            .details
            .extend(pupils_report.details.into_iter().map(|d| ImportDetail {
                key: format!("{code} {}", d.key),
                ..d
            }));

        let staff = staff(conn, held_id, school, false, now)?;
        errors.extend(staff.errors);
        report.added += staff.added;
        report.changed += staff.changed;
        report.unchanged += staff.unchanged;
        report.details.extend(staff.details);

        let groups = plan_groups(&groups, &school.groups);
        for group in &groups.added {
            let key = format!("class {}", group.source_id);
            report
                .details
                .push(detail("added", code, &key, &group.name, group.line));
        }
        for changed in &groups.changed {
            let group = &changed.group;
            let key = format!("class {}", group.source_id);
            report.details.push(ImportDetail {
                changes: changed.changes.clone(),
                ..detail("changed", code, &key, &group.name, group.line)
            });
        }
        report.added += groups.added.len();
        report.changed += groups.changed.len();
        report.unchanged += groups.unchanged;

        let (holidays, known) = plan_holidays(&closures, &school.holidays);
        for holiday in &holidays {
            let closure = &holiday.closure;
            let key = format!("holiday {} to {}", closure.starts_on, closure.ends_on);
            report
                .details
                .push(detail("added", code, &key, &closure.name, holiday.line));
        }
        report.added += holidays.len();
        report.unchanged += known;

        work.push(SchoolWork {
            bundle: school,
            held,
            roster,
            groups,
            holidays,
        });
    }
    if !errors.is_empty() {
        return Ok(ImportReport::refused(errors));
    }
    if !options.dry_run {
        for school in work {
            apply(conn, school, actor_id, now)?;
        }
    }
    report.applied = !options.dry_run;
    Ok(report)
}

/// A report line keyed by the school's code and the record's own key.
fn detail(action: &'static str, code: &str, key: &str, name: &str, line: usize) -> ImportDetail {
    ImportDetail {
        action,
        key: if key == code {
            code.to_string()
        } else {
            format!("{code} {key}")
        },
        name: name.to_string(),
        line: Some(line),
        changes: Vec::new(),
    }
}

/// Writes one school's part: the school when new, its pupils, staff and tutors, teaching
/// groups and holidays; audited by counts.
fn apply(
    conn: &mut DbConnection,
    work: SchoolWork<'_>,
    actor_id: Option<i64>,
    now: DateTime<Utc>,
) -> Result<()> {
    let stamp = to_db_time(now);
    let school_id = match &work.held {
        Some(school) => school.id,
        None => {
            let school = schools::create(conn, &work.bundle.code, &work.bundle.name, now)?;
            audit::record(
                conn,
                AuditEntry {
                    school_id: school.id,
                    actor_id,
                    action: "school.add",
                    entity: "school",
                    entity_id: Some(school.id),
                    detail: "OneRoster import".into(),
                    at: stamp,
                },
            )?;
            school.id
        }
    };
    if !work.roster.is_empty() {
        let today = SchoolCalendar::local_date(now);
        roster::apply(conn, school_id, actor_id, &work.roster, today, now)?;
    }
    let staff = staff(conn, Some(school_id), work.bundle, true, now)?;
    if let Some(problem) = staff.errors.first() {
        return Err(Error::Internal(format!(
            "staff changed during the import: {problem}"
        )));
    }
    teaching_groups::apply(conn, school_id, &work.groups)?;
    for holiday in &work.holidays {
        schools::add_closure(conn, school_id, &holiday.closure)?;
    }
    if staff.added + staff.changed > 0 || !work.groups.is_empty() || !work.holidays.is_empty() {
        audit::record(
            conn,
            AuditEntry {
                school_id,
                actor_id,
                action: "oneroster.import",
                entity: "school",
                entity_id: Some(school_id),
                detail: format!(
                    "staff: {} added, {} changed; teaching groups: {} added, {} changed; holidays: {} added",
                    staff.added,
                    staff.changed,
                    work.groups.added.len(),
                    work.groups.changed.len(),
                    work.holidays.len()
                ),
                at: stamp,
            },
        )?;
    }
    Ok(())
}

/// What the bundle's staff of one school do (or would do) to the accounts held.
#[derive(Debug, Default)]
struct StaffOutcome {
    added: usize,
    changed: usize,
    unchanged: usize,
    details: Vec<ImportDetail>,
    errors: Vec<RowError>,
}

/// The bundle's staff of one school (held as `school_id`, or new), compared with the
/// accounts held and, with `write`, brought in: an account without a password for each new
/// email (they sign in once a password is set, or through the school's single sign-on),
/// roles added to held accounts (none taken away), and each form's tutor. An email held by
/// an account of another school is a problem.
///
/// Kept to this one function so that the full staff import can take its place.
fn staff(
    conn: &mut DbConnection,
    school_id: Option<i64>,
    school: &SchoolBundle,
    write: bool,
    now: DateTime<Utc>,
) -> Result<StaffOutcome> {
    let code = school.code.as_str();
    let mut outcome = StaffOutcome::default();
    // Forms by name with their tutor now, and the tutor the bundle gives each.
    let forms: HashMap<String, Option<i64>> = match school_id {
        Some(id) => schools::form_tutors(conn, id)?.into_iter().collect(),
        None => HashMap::new(),
    };
    let bundle_tutor: HashMap<&str, &str> = school
        .staff
        .iter()
        .flat_map(|s| s.tutor_of.iter().map(|f| (f.as_str(), s.email.as_str())))
        .collect();
    for record in &school.staff {
        let held = staff_db::by_email(conn, &record.email)?;
        let key = format!("{code} {}", record.email.as_str());
        let line = Some(record.line);
        let member = match held {
            Some(member) if Some(member.school_id) != school_id => {
                outcome.errors.push(RowError::new(
                    record.line,
                    "users.csv: email",
                    format!(
                        "{} is the email of an account of another school: an account belongs to one school",
                        record.email.as_str()
                    ),
                ));
                continue;
            }
            Some(member) => member,
            None => {
                outcome.added += 1;
                outcome.details.push(ImportDetail {
                    action: "added",
                    key,
                    name: record.name.as_str().to_string(),
                    line,
                    changes: Vec::new(),
                });
                if let (true, Some(school_id)) = (write, school_id) {
                    let member = staff_db::create(
                        conn,
                        staff_db::NewStaff {
                            school_id,
                            email: &record.email,
                            name: &record.name,
                            roles: &record.roles,
                            year_groups: &[],
                            password_hash: None,
                        },
                        now,
                    )?;
                    set_tutors(conn, school_id, record, member.id, &forms)?;
                }
                continue;
            }
        };
        let mut changes = Vec::new();
        let missing: Vec<Role> = record
            .roles
            .iter()
            .copied()
            .filter(|r| !member.has_role(*r))
            .collect();
        if !missing.is_empty() {
            let names = |roles: &[Role]| {
                roles
                    .iter()
                    .map(|r| r.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            let mut after = member.roles.clone();
            after.extend(&missing);
            after.sort();
            changes.push(FieldChange {
                field: "roles",
                from: names(&member.roles),
                to: names(&after),
            });
        }
        let tutors_now: BTreeSet<&str> = forms
            .iter()
            .filter(|(_, tutor)| **tutor == Some(member.id))
            .map(|(form, _)| form.as_str())
            .collect();
        let tutors_after: BTreeSet<&str> = tutors_now
            .iter()
            .copied()
            .filter(|form| {
                bundle_tutor
                    .get(form)
                    .is_none_or(|email| *email == record.email.as_str())
            })
            .chain(record.tutor_of.iter().map(|f| f.as_str()))
            .collect();
        if tutors_now != tutors_after {
            let list =
                |forms: &BTreeSet<&str>| forms.iter().copied().collect::<Vec<_>>().join(", ");
            changes.push(FieldChange {
                field: "tutor_of",
                from: list(&tutors_now),
                to: list(&tutors_after),
            });
        }
        if changes.is_empty() {
            outcome.unchanged += 1;
            continue;
        }
        outcome.changed += 1;
        outcome.details.push(ImportDetail {
            action: "changed",
            key,
            name: member.name.clone(),
            line,
            changes,
        });
        if let (true, Some(school_id)) = (write, school_id) {
            staff_db::add_roles(conn, &member, &missing)?;
            set_tutors(conn, school_id, record, member.id, &forms)?;
        }
    }
    Ok(outcome)
}

/// Makes a member of staff the tutor of the forms the bundle gives them, where they are not.
fn set_tutors(
    conn: &mut DbConnection,
    school_id: i64,
    record: &StaffRecord,
    staff_id: i64,
    forms: &HashMap<String, Option<i64>>,
) -> Result<()> {
    for form in &record.tutor_of {
        if forms.get(form.as_str()) != Some(&Some(staff_id)) {
            schools::set_form_tutor(conn, school_id, form, staff_id)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn zipped(files: &[(&str, &str)]) -> Vec<u8> {
        let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        for (name, text) in files {
            writer
                .start_file(*name, zip::write::SimpleFileOptions::default())
                .unwrap();
            writer.write_all(text.as_bytes()).unwrap();
        }
        writer.finish().unwrap().into_inner()
    }

    #[test]
    fn a_zip_gives_its_csv_files_by_name() {
        let bytes = zipped(&[
            ("export/orgs.csv", "\u{FEFF}sourcedId\nx\n"),
            ("export/readme.txt", "hello"),
            ("__MACOSX/export/._orgs.csv", "junk"),
        ]);
        let files = bundle_files(&bytes).unwrap();
        assert_eq!(files.len(), 1);
        assert_eq!(files["orgs.csv"], "sourcedId\nx\n");
    }

    #[test]
    fn a_file_that_is_not_a_zip_is_a_problem() {
        let problem = bundle_files(b"sourcedId,name\n").unwrap_err();
        assert!(problem.message.contains("not a OneRoster bundle"));
        let twice = zipped(&[("a/users.csv", "x"), ("b/Users.csv", "y")]);
        assert!(bundle_files(&twice).unwrap_err().message.contains("twice"));
    }
}
