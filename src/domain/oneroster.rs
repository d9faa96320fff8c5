//! OneRoster 1.1 and 1.2 CSV bundles, the files UK MIS publish for Microsoft School Data
//! Sync, Apple School Manager and others, read into what Steadfast holds for each school:
//! its pupils (as a roll import's [`PupilRecord`]s), its staff, its forms (homeroom classes)
//! and their tutors, its teaching groups (scheduled classes) and the holidays between its
//! terms.
//!
//! The bundle comes in as the text of each CSV file by file name: `orgs.csv`, `users.csv`
//! (with `roles.csv` in 1.2, where a user's roles moved), `classes.csv`, `enrollments.csv`,
//! and optionally `academicSessions.csv` and `manifest.csv`. Only rows whose `status` is
//! `active` (or blank) are read. Every problem names its file in the column, such as
//! `users.csv: grades`, with the line in that file.
//!
//! OneRoster grades are US grade codes: a pupil's UK year is the grade plus an offset (1 by
//! default, so grade `06` is Year 7), passed in by the caller from the settings.
//!
//! Pure: texts in, records and plans out; `imports::oneroster` compares and applies.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use chrono::{Datelike, NaiveDate, TimeDelta, Weekday};

use super::calendar::{Closure, ClosureKind};
use super::contact::{check_count, Contact, ContactDraft, Relationship};
use super::details::{EmailAddress, FormName, PersonName, SchoolCode, YearNumber};
use super::import::{ColumnMap, ColumnSpec, CsvRow, CsvTable, RowError};
use super::roster::{parse_checked_upn, FieldChange, PupilRecord, PUPIL_COLUMNS};
use super::timetable::LessonSlot;
use super::Role;

/// The UK year of OneRoster grade 0 (kindergarten) by default: grade `06` is Year 7.
pub const DEFAULT_GRADE_OFFSET: i64 = 1;

/// The schools of a bundle: `orgs.csv`.
pub const ORGS: &str = "orgs.csv";
/// Pupils and staff: `users.csv`.
pub const USERS: &str = "users.csv";
/// Who is what where, in OneRoster 1.2: `roles.csv`.
pub const ROLES: &str = "roles.csv";
/// Homeroom and scheduled classes: `classes.csv`.
pub const CLASSES: &str = "classes.csv";
/// Who is in which class: `enrollments.csv`.
pub const ENROLLMENTS: &str = "enrollments.csv";
/// School years, terms and semesters: `academicSessions.csv`.
pub const SESSIONS: &str = "academicSessions.csv";
/// The bundle's version and whether each file is whole (bulk) or changes only (delta).
pub const MANIFEST: &str = "manifest.csv";

/// The longest teaching group name or subject kept.
pub const MAX_GROUP_TEXT_CHARS: usize = 100;

/// The CSV texts of a bundle by file name (`users.csv`); names are matched ignoring case.
pub type BundleFiles = BTreeMap<String, String>;

/// A column of a OneRoster file: its name in the specification is its key, label and header.
macro_rules! column {
    ($key:literal, required) => {
        ColumnSpec {
            key: $key,
            label: $key,
            aliases: &[$key],
            required: true,
        }
    };
    ($key:literal) => {
        ColumnSpec {
            key: $key,
            label: $key,
            aliases: &[$key],
            required: false,
        }
    };
}

const ORG_COLUMNS: &[ColumnSpec] = &[
    column!("sourcedId", required),
    column!("status"),
    column!("name", required),
    column!("type", required),
    column!("identifier"),
];

const USER_COLUMNS: &[ColumnSpec] = &[
    column!("sourcedId", required),
    column!("status"),
    column!("orgSourcedIds"),
    column!("primaryOrgSourcedId"),
    column!("role"),
    column!("username"),
    column!("userIds"),
    column!("givenName", required),
    column!("familyName", required),
    column!("preferredGivenName"),
    column!("identifier"),
    column!("email"),
    column!("grades"),
    column!("agentSourcedIds"),
    column!("phone"),
    column!("sms"),
];

const ROLE_COLUMNS: &[ColumnSpec] = &[
    column!("sourcedId"),
    column!("status"),
    column!("userSourcedId", required),
    column!("roleType"),
    column!("role", required),
    column!("orgSourcedId", required),
];

const CLASS_COLUMNS: &[ColumnSpec] = &[
    column!("sourcedId", required),
    column!("status"),
    column!("title", required),
    column!("classType", required),
    column!("schoolSourcedId", required),
    column!("subjects"),
    column!("periods"),
];

const ENROLLMENT_COLUMNS: &[ColumnSpec] = &[
    column!("sourcedId"),
    column!("status"),
    column!("classSourcedId", required),
    column!("userSourcedId", required),
    column!("role", required),
    column!("primary"),
];

const SESSION_COLUMNS: &[ColumnSpec] = &[
    column!("sourcedId", required),
    column!("status"),
    column!("title", required),
    column!("type", required),
    column!("startDate", required),
    column!("endDate", required),
    column!("schoolYear"),
];

const MANIFEST_COLUMNS: &[ColumnSpec] = &[
    column!("propertyName", required),
    column!("value", required),
];

/// What a bundle gives, school by school.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bundle {
    /// Each school of `orgs.csv` brought in, in file order.
    pub schools: Vec<SchoolBundle>,
    /// The pupil columns a OneRoster bundle fills (UPN, names, year, form: no house, SEN
    /// or date of birth, which are then kept as held), for `roster::plan_roster`.
    pub columns: ColumnMap,
    /// Files the manifest names as `delta` (changes only), with the manifest's line: such a
    /// bundle cannot be a whole roll.
    pub delta_files: Vec<(usize, String)>,
}

/// One school of a bundle and everything the bundle gives about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchoolBundle {
    /// The line of `orgs.csv` the school is on.
    pub line: usize,
    /// The school's code: the org's `identifier`.
    pub code: SchoolCode,
    /// The school's name, for a school created by the import.
    pub name: String,
    /// Its pupils, in `users.csv` order (their line is the line of `users.csv`).
    pub pupils: Vec<PupilRecord>,
    /// Its teachers, teaching assistants and administrators.
    pub staff: Vec<StaffRecord>,
    /// Its scheduled classes.
    pub groups: Vec<TeachingGroup>,
    /// The holidays between its terms.
    pub holidays: Vec<Holiday>,
}

/// A member of staff as a bundle gives them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaffRecord {
    /// The line of `users.csv`.
    pub line: usize,
    pub email: EmailAddress,
    pub name: PersonName,
    /// Class staff for a teacher or aide, administrator for an administrator; sorted.
    pub roles: Vec<Role>,
    /// The forms whose homeroom class they teach (the form tutor), sorted by name.
    pub tutor_of: Vec<FormName>,
}

/// A scheduled class, kept as a teaching group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TeachingGroup {
    /// The line of `classes.csv`.
    pub line: usize,
    /// The class's `sourcedId`, the key a group is matched by.
    pub source_id: String,
    /// The class's title.
    pub name: String,
    /// Its subjects, when the bundle gives them.
    pub subject: Option<String>,
    /// When it meets: its lesson slots as [`LessonSlot::label`] writes them, comma-separated
    /// (empty when the bundle does not say).
    pub periods: String,
    /// The email addresses of the staff who teach it, sorted.
    pub teachers: Vec<String>,
    /// The UPNs of its pupils, sorted.
    pub members: Vec<String>,
}

/// A holiday between two terms of a school year.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holiday {
    /// The line of `academicSessions.csv` of the term after it.
    pub line: usize,
    /// The closed dates, as a holiday.
    pub closure: Closure,
}

/// What a OneRoster role makes of a user in a school.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Pupil,
    Staff(Role),
}

/// A role name as OneRoster 1.1 (`users.csv: role`) or 1.2 (`roles.csv: role`) writes it;
/// roles Steadfast has no use for (parents, guardians, district staff) are `None`.
fn kind_of(role: &str) -> Option<Kind> {
    match role.trim().to_ascii_lowercase().as_str() {
        "student" => Some(Kind::Pupil),
        "teacher" | "aide" => Some(Kind::Staff(Role::ClassStaff)),
        "administrator" | "siteadministrator" => Some(Kind::Staff(Role::Admin)),
        _ => None,
    }
}

/// The UK year of a OneRoster grade: `01` to `13`, `KG` (kindergarten, grade 0) or `PK`/`TK`
/// (pre-kindergarten, grade -1), plus `offset`.
pub fn year_of_grade(raw: &str, offset: i64) -> Result<YearNumber, String> {
    let grade = raw.trim();
    let number = match grade.to_ascii_uppercase().as_str() {
        "KG" => 0,
        "PK" | "TK" => -1,
        digits if !digits.is_empty() && digits.chars().all(|c| c.is_ascii_digit()) => {
            match digits.parse::<i64>() {
                Ok(n) if (1..=13).contains(&n) => n,
                _ => return Err(unknown_grade(grade)),
            }
        }
        _ => return Err(unknown_grade(grade)),
    };
    let year = number + offset;
    YearNumber::new(year).map_err(|_| {
        format!(
            "grade {grade} is year {year} with the grade offset {offset}, outside Reception to Year 14"
        )
    })
}

fn unknown_grade(grade: &str) -> String {
    format!("{grade:?} is not a OneRoster grade: expected 01 to 13, KG or PK")
}

/// The entries of a `userIds` cell, `{MIS:123},{UPN:A123...}`, as (type, identifier).
pub fn user_ids(raw: &str) -> Vec<(String, String)> {
    let entries: Vec<&str> = if raw.contains('{') {
        raw.split('{')
            .filter_map(|part| part.split('}').next())
            .collect()
    } else {
        raw.split(',').collect()
    };
    entries
        .into_iter()
        .filter_map(|entry| entry.split_once(':'))
        .map(|(kind, id)| (kind.trim().to_string(), id.trim().to_string()))
        .filter(|(kind, id)| !kind.is_empty() && !id.is_empty())
        .collect()
}

/// A list cell (`orgSourcedIds`, `grades`, `subjects`): comma-separated, blanks dropped.
fn list(raw: Option<&str>) -> Vec<String> {
    raw.unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// A date as OneRoster writes it, `YYYY-MM-DD` (a time after it is ignored).
fn parse_date(raw: &str) -> Result<NaiveDate, String> {
    let text = raw.trim();
    let day = text.get(..10).unwrap_or(text);
    NaiveDate::parse_from_str(day, "%Y-%m-%d")
        .map_err(|_| format!("{text:?} is not a date: OneRoster writes dates as YYYY-MM-DD"))
}

/// `true`, `false` or blank, as OneRoster writes its booleans.
fn is_true(raw: Option<&str>) -> bool {
    raw.is_some_and(|v| v.eq_ignore_ascii_case("true"))
}

// ---------------------------------------------------------------------------------------------
// The files' rows
// ---------------------------------------------------------------------------------------------

struct Org {
    line: usize,
    id: String,
    name: String,
    kind: String,
    identifier: Option<String>,
}

struct User {
    line: usize,
    id: String,
    given: Option<String>,
    preferred: Option<String>,
    family: Option<String>,
    identifier: Option<String>,
    user_ids: Vec<(String, String)>,
    email: Option<String>,
    username: Option<String>,
    grades: Vec<String>,
    /// OneRoster 1.1's `role` column.
    role: Option<String>,
    /// The users linked to this one (a student's parents, a parent's children).
    agents: Vec<String>,
    phone: Option<String>,
    sms: Option<String>,
}

struct Assignment {
    user: String,
    role: String,
    org: String,
    primary: bool,
}

struct Class {
    line: usize,
    id: String,
    title: String,
    kind: String,
    school: String,
    subjects: Vec<String>,
    periods: String,
}

struct Enrollment {
    line: usize,
    class: String,
    user: String,
    role: String,
    primary: bool,
}

struct Session {
    line: usize,
    title: String,
    kind: String,
    start: NaiveDate,
    end: NaiveDate,
    year: String,
}

/// The problems found so far, each named by file, line and column.
struct Problems {
    /// Each file's columns, to name a column as the file spells it.
    maps: HashMap<&'static str, ColumnMap>,
    found: Vec<RowError>,
}

impl Problems {
    /// A problem with the named column of a file's line.
    fn at(&mut self, file: &'static str, line: usize, key: &str, message: impl Into<String>) {
        let header = self
            .maps
            .get(file)
            .map_or(key.to_string(), |map| map.header(key).to_string());
        self.found
            .push(RowError::new(line, format!("{file}: {header}"), message));
    }

    /// A problem a file's reader found, its column prefixed with the file's name.
    fn of_file(&mut self, file: &'static str, error: RowError) {
        let column = if error.column.is_empty() {
            file.to_string()
        } else {
            format!("{file}: {}", error.column)
        };
        self.found
            .push(RowError::new(error.line, column, error.message));
    }
}

/// The text of a bundle's file, its name matched ignoring case.
fn text_of<'a>(files: &'a BundleFiles, name: &str) -> Option<&'a str> {
    files
        .iter()
        .find(|(file, _)| file.eq_ignore_ascii_case(name))
        .map(|(_, text)| text.as_str())
}

/// Reads one file's table and columns; `None` when the bundle lacks it (a problem if
/// `required`) or it cannot be read. Rows whose `status` is neither `active` nor blank are
/// left out.
fn table(
    files: &BundleFiles,
    file: &'static str,
    specs: &[ColumnSpec],
    required: bool,
    problems: &mut Problems,
) -> Option<Vec<CsvRow>> {
    let Some(text) = text_of(files, file) else {
        if required {
            problems.of_file(
                file,
                RowError::new(1, "", format!("the bundle has no {file}")),
            );
        }
        return None;
    };
    let table = match CsvTable::parse(text) {
        Ok(table) => table,
        Err(error) => {
            problems.of_file(file, error);
            return None;
        }
    };
    let map = match ColumnMap::recognise(specs, &table.headers, &[]) {
        Ok(map) => map,
        Err(errors) => {
            for error in errors {
                problems.of_file(file, error);
            }
            return None;
        }
    };
    let rows = table
        .rows
        .into_iter()
        .filter(|row| {
            map.cell(row, "status")
                .is_none_or(|status| status.eq_ignore_ascii_case("active"))
        })
        .collect();
    problems.maps.insert(file, map);
    Some(rows)
}

/// The trimmed cell of a row in a file's column.
fn cell<'a>(
    problems: &Problems,
    file: &'static str,
    row: &'a CsvRow,
    key: &str,
) -> Option<&'a str> {
    problems.maps.get(file).and_then(|map| map.cell(row, key))
}

/// A row's `sourcedId`, or a problem when it is missing or already on an earlier line.
fn source_id(
    problems: &mut Problems,
    file: &'static str,
    row: &CsvRow,
    key: &str,
    seen: &mut HashMap<String, usize>,
) -> Option<String> {
    let Some(id) = cell(problems, file, row, key).map(str::to_string) else {
        problems.at(file, row.line, key, format!("the {key} is missing"));
        return None;
    };
    if let Some(first) = seen.get(&id) {
        let message = format!("the {key} {id} is also on line {first}");
        problems.at(file, row.line, key, message);
        return None;
    }
    seen.insert(id.clone(), row.line);
    Some(id)
}

/// Every file of the bundle read into rows, before any school is built.
struct Rows {
    orgs: Vec<Org>,
    users: Vec<User>,
    assignments: Vec<Assignment>,
    classes: Vec<Class>,
    enrollments: Vec<Enrollment>,
    sessions: Vec<Session>,
    delta_files: Vec<(usize, String)>,
}

fn read_rows(files: &BundleFiles, problems: &mut Problems) -> Rows {
    let mut rows = Rows {
        orgs: Vec::new(),
        users: Vec::new(),
        assignments: Vec::new(),
        classes: Vec::new(),
        enrollments: Vec::new(),
        sessions: Vec::new(),
        delta_files: Vec::new(),
    };
    if let Some(manifest) = table(files, MANIFEST, MANIFEST_COLUMNS, false, problems) {
        for row in &manifest {
            let property = cell(problems, MANIFEST, row, "propertyName").unwrap_or_default();
            let value = cell(problems, MANIFEST, row, "value").unwrap_or_default();
            if let Some(file) = property.strip_prefix("file.") {
                if value.eq_ignore_ascii_case("delta") {
                    rows.delta_files.push((row.line, format!("{file}.csv")));
                }
            }
        }
    }
    if let Some(orgs) = table(files, ORGS, ORG_COLUMNS, true, problems) {
        let mut seen = HashMap::new();
        for row in &orgs {
            let Some(id) = source_id(problems, ORGS, row, "sourcedId", &mut seen) else {
                continue;
            };
            rows.orgs.push(Org {
                line: row.line,
                id,
                name: cell(problems, ORGS, row, "name")
                    .unwrap_or_default()
                    .to_string(),
                kind: cell(problems, ORGS, row, "type")
                    .unwrap_or_default()
                    .to_ascii_lowercase(),
                identifier: cell(problems, ORGS, row, "identifier").map(str::to_string),
            });
        }
    }
    let users = table(files, USERS, USER_COLUMNS, true, problems);
    let roles = table(files, ROLES, ROLE_COLUMNS, false, problems);
    if let Some(users) = &users {
        let mut seen = HashMap::new();
        let one_one = roles.is_none();
        if one_one && !problems.maps.get(USERS).is_some_and(|m| m.has("role")) {
            problems.of_file(
                USERS,
                RowError::new(
                    1,
                    "role",
                    "the bundle gives no roles: OneRoster 1.2 names them in roles.csv, 1.1 in the role column of users.csv",
                ),
            );
        }
        for row in users {
            let Some(id) = source_id(problems, USERS, row, "sourcedId", &mut seen) else {
                continue;
            };
            let text = |key: &str| cell(problems, USERS, row, key).map(str::to_string);
            if one_one {
                // OneRoster 1.1: the user's role in each of their orgs.
                let orgs = list(cell(problems, USERS, row, "orgSourcedIds"));
                let primary = cell(problems, USERS, row, "primaryOrgSourcedId");
                if let Some(role) = text("role") {
                    for (index, org) in orgs.iter().enumerate() {
                        rows.assignments.push(Assignment {
                            user: id.clone(),
                            role: role.clone(),
                            org: org.clone(),
                            primary: primary.map_or(index == 0, |p| p == org),
                        });
                    }
                }
            }
            rows.users.push(User {
                line: row.line,
                given: text("givenName"),
                preferred: text("preferredGivenName"),
                family: text("familyName"),
                identifier: text("identifier"),
                user_ids: user_ids(cell(problems, USERS, row, "userIds").unwrap_or_default()),
                email: text("email"),
                username: text("username"),
                grades: list(cell(problems, USERS, row, "grades")),
                role: text("role"),
                agents: list(cell(problems, USERS, row, "agentSourcedIds")),
                phone: text("phone"),
                sms: text("sms"),
                id,
            });
        }
    }
    if let Some(roles) = &roles {
        for row in roles {
            let text = |key: &str| {
                cell(problems, ROLES, row, key)
                    .unwrap_or_default()
                    .to_string()
            };
            rows.assignments.push(Assignment {
                user: text("userSourcedId"),
                role: text("role"),
                org: text("orgSourcedId"),
                primary: text("roleType").eq_ignore_ascii_case("primary"),
            });
        }
    }
    if let Some(classes) = table(files, CLASSES, CLASS_COLUMNS, true, problems) {
        let mut seen = HashMap::new();
        for row in &classes {
            let Some(id) = source_id(problems, CLASSES, row, "sourcedId", &mut seen) else {
                continue;
            };
            let text = |key: &str| {
                cell(problems, CLASSES, row, key)
                    .unwrap_or_default()
                    .to_string()
            };
            rows.classes.push(Class {
                line: row.line,
                title: text("title"),
                kind: text("classType").to_ascii_lowercase(),
                school: text("schoolSourcedId"),
                subjects: list(cell(problems, CLASSES, row, "subjects")),
                periods: text("periods"),
                id,
            });
        }
    }
    if let Some(enrollments) = table(files, ENROLLMENTS, ENROLLMENT_COLUMNS, true, problems) {
        for row in &enrollments {
            let text = |key: &str| {
                cell(problems, ENROLLMENTS, row, key)
                    .unwrap_or_default()
                    .to_string()
            };
            rows.enrollments.push(Enrollment {
                line: row.line,
                class: text("classSourcedId"),
                user: text("userSourcedId"),
                role: text("role").to_ascii_lowercase(),
                primary: is_true(cell(problems, ENROLLMENTS, row, "primary")),
            });
        }
    }
    if let Some(sessions) = table(files, SESSIONS, SESSION_COLUMNS, false, problems) {
        for row in &sessions {
            let kind = cell(problems, SESSIONS, row, "type")
                .unwrap_or_default()
                .to_ascii_lowercase();
            if kind != "term" && kind != "semester" {
                continue;
            }
            let mut date = |key: &str| {
                let read = cell(problems, SESSIONS, row, key)
                    .ok_or_else(|| format!("the {key} is missing"))
                    .and_then(parse_date);
                read.map_err(|message| problems.at(SESSIONS, row.line, key, message))
                    .ok()
            };
            let (Some(start), Some(end)) = (date("startDate"), date("endDate")) else {
                continue;
            };
            if end < start {
                problems.at(
                    SESSIONS,
                    row.line,
                    "endDate",
                    format!("the term ends on {end}, before it starts on {start}"),
                );
                continue;
            }
            rows.sessions.push(Session {
                line: row.line,
                title: cell(problems, SESSIONS, row, "title")
                    .unwrap_or_default()
                    .to_string(),
                kind,
                start,
                end,
                year: cell(problems, SESSIONS, row, "schoolYear")
                    .unwrap_or_default()
                    .to_string(),
            });
        }
    }
    rows
}

// ---------------------------------------------------------------------------------------------
// Schools
// ---------------------------------------------------------------------------------------------

/// The pupil columns a OneRoster bundle fills, as a roll import's column map.
fn roster_columns() -> Result<ColumnMap, Vec<RowError>> {
    let headers: Vec<String> = PUPIL_COLUMNS
        .iter()
        .filter(|spec| spec.required)
        .map(|spec| spec.label.to_string())
        .collect();
    ColumnMap::recognise(PUPIL_COLUMNS, &headers, &[])
}

/// Reads a bundle. With `only`, only the school org whose `identifier` is that code is
/// brought in (a problem when there is none); otherwise every school org. Answers every
/// problem of the bundle's rows for the schools brought in, or the schools.
pub fn read_bundle(
    files: &BundleFiles,
    grade_offset: i64,
    only: Option<&SchoolCode>,
) -> Result<Bundle, Vec<RowError>> {
    let mut problems = Problems {
        maps: HashMap::new(),
        found: Vec::new(),
    };
    let rows = read_rows(files, &mut problems);
    if !problems.found.is_empty() {
        return Err(problems.found);
    }
    let mut schools: Vec<(&Org, SchoolCode)> = Vec::new();
    let mut codes: HashMap<String, usize> = HashMap::new();
    for org in rows.orgs.iter().filter(|o| o.kind == "school") {
        let identifier = org.identifier.as_deref().unwrap_or_default();
        if let Some(only) = only {
            if SchoolCode::parse(identifier).is_ok_and(|code| code == *only) {
                schools.push((org, only.clone()));
            }
            continue;
        }
        let code = match SchoolCode::parse(identifier) {
            Ok(code) => code,
            Err(error) if identifier.is_empty() => {
                problems.at(
                    ORGS,
                    org.line,
                    "identifier",
                    format!(
                        "the school's identifier, its code in Steadfast, is missing ({})",
                        error.message
                    ),
                );
                continue;
            }
            Err(error) => {
                problems.at(ORGS, org.line, "identifier", error.message);
                continue;
            }
        };
        if let Some(first) = codes.get(code.as_str()) {
            let message = format!("the identifier {} is also on line {first}", code.as_str());
            problems.at(ORGS, org.line, "identifier", message);
            continue;
        }
        codes.insert(code.as_str().to_string(), org.line);
        schools.push((org, code));
    }
    if let (Some(only), true) = (only, schools.is_empty()) {
        problems.at(
            ORGS,
            1,
            "identifier",
            format!(
                "no school in orgs.csv has the identifier {}, this school's code",
                only.as_str()
            ),
        );
    }
    let index = Index::of(&rows);
    let contacts = read_contacts(&rows, &mut problems);
    let holidays = holidays(&rows.sessions);
    let mut built = Vec::new();
    let mut emails: HashMap<String, usize> = HashMap::new();
    for (org, code) in schools {
        let name = org.name.trim();
        if name.is_empty() || name.chars().count() > 200 {
            problems.at(
                ORGS,
                org.line,
                "name",
                "a school name is 1 to 200 characters",
            );
        }
        let school = build_school(
            &index,
            org,
            code,
            grade_offset,
            contacts.as_ref(),
            &mut problems,
        );
        for member in &school.staff {
            let email = member.email.as_str().to_string();
            match emails.get(&email) {
                Some(first) => {
                    let message = format!("the email {email} is also on line {first}");
                    problems.at(USERS, member.line, "email", message);
                }
                None => {
                    emails.insert(email, member.line);
                }
            }
        }
        built.push(SchoolBundle {
            holidays: holidays.clone(),
            name: name.to_string(),
            ..school
        });
    }
    let columns = roster_columns()?;
    if problems.found.is_empty() {
        Ok(Bundle {
            schools: built,
            columns,
            delta_files: rows.delta_files,
        })
    } else {
        Err(problems.found)
    }
}

/// The bundle's rows found by their keys.
struct Index<'a> {
    users: HashMap<&'a str, &'a User>,
    classes: Vec<&'a Class>,
    class_by_id: HashMap<&'a str, &'a Class>,
    assignments: &'a [Assignment],
    enrollments: &'a [Enrollment],
    /// The school each member of staff's account belongs to: the org of their primary staff
    /// role among the schools of the bundle, else of their first.
    staff_school: HashMap<&'a str, &'a str>,
}

impl<'a> Index<'a> {
    fn of(rows: &'a Rows) -> Self {
        let schools: HashSet<&str> = rows
            .orgs
            .iter()
            .filter(|o| o.kind == "school")
            .map(|o| o.id.as_str())
            .collect();
        let mut staff_school: HashMap<&str, (&str, bool)> = HashMap::new();
        for a in &rows.assignments {
            if !matches!(kind_of(&a.role), Some(Kind::Staff(_)))
                || !schools.contains(a.org.as_str())
            {
                continue;
            }
            match staff_school.get(a.user.as_str()) {
                Some((_, true)) => {}
                Some((_, false)) if !a.primary => {}
                _ => {
                    staff_school.insert(a.user.as_str(), (a.org.as_str(), a.primary));
                }
            }
        }
        Index {
            users: rows.users.iter().map(|u| (u.id.as_str(), u)).collect(),
            classes: rows.classes.iter().collect(),
            class_by_id: rows.classes.iter().map(|c| (c.id.as_str(), c)).collect(),
            assignments: &rows.assignments,
            enrollments: &rows.enrollments,
            staff_school: staff_school
                .into_iter()
                .map(|(user, (org, _))| (user, org))
                .collect(),
        }
    }

    /// The users holding a role of `kind` at the org, in `users.csv` order, with their roles.
    fn holders(&self, org: &str, pupils: bool) -> Vec<(&'a User, BTreeSet<Role>)> {
        let mut found: BTreeMap<usize, (&User, BTreeSet<Role>)> = BTreeMap::new();
        for a in self.assignments.iter().filter(|a| a.org == org) {
            let Some(user) = self.users.get(a.user.as_str()) else {
                continue;
            };
            match (kind_of(&a.role), pupils) {
                (Some(Kind::Pupil), true) => {
                    found.entry(user.line).or_insert((user, BTreeSet::new()));
                }
                (Some(Kind::Staff(role)), false) => {
                    found
                        .entry(user.line)
                        .or_insert((user, BTreeSet::new()))
                        .1
                        .insert(role);
                }
                _ => {}
            }
        }
        found.into_values().collect()
    }

    /// The active enrollments in a class with a role, in file order.
    fn in_class(&self, class: &str, role: &str) -> Vec<&'a Enrollment> {
        self.enrollments
            .iter()
            .filter(|e| e.class == class && e.role == role)
            .collect()
    }
}

/// Everything the bundle gives about one school (its holidays are added by the caller).
fn build_school(
    index: &Index<'_>,
    org: &Org,
    code: SchoolCode,
    grade_offset: i64,
    contacts: Option<&HashMap<String, Vec<Contact>>>,
    problems: &mut Problems,
) -> SchoolBundle {
    // The school's homeroom classes are its forms, told apart by title.
    let mut forms: HashMap<&str, FormName> = HashMap::new();
    let mut titles: HashMap<String, usize> = HashMap::new();
    for class in index
        .classes
        .iter()
        .filter(|c| c.school == org.id && c.kind == "homeroom")
    {
        match FormName::parse(&class.title) {
            Ok(form) => {
                if let Some(first) = titles.get(form.as_str()) {
                    let message = format!(
                        "the homeroom class on line {first} is also called {}: forms are told apart by name",
                        form.as_str()
                    );
                    problems.at(CLASSES, class.line, "title", message);
                    continue;
                }
                titles.insert(form.as_str().to_string(), class.line);
                forms.insert(class.id.as_str(), form);
            }
            Err(error) => problems.at(CLASSES, class.line, "title", error.message),
        }
    }

    let mut pupils = Vec::new();
    let mut upn_of: HashMap<&str, String> = HashMap::new();
    let mut upn_line: HashMap<String, usize> = HashMap::new();
    let mut form_year: HashMap<String, (YearNumber, usize)> = HashMap::new();
    let mut forms_with_pupils: HashSet<&str> = HashSet::new();
    for (user, _) in index.holders(&org.id, true) {
        let Some((mut record, homeroom)) =
            read_pupil(index, org, user, &forms, grade_offset, problems)
        else {
            continue;
        };
        if let Some(contacts) = contacts {
            let given = contacts.get(&user.id).cloned().unwrap_or_default();
            if let Err(error) = check_count(given.len()) {
                problems.at(USERS, user.line, "agentSourcedIds", error.message);
                continue;
            }
            record.contacts = Some(given);
        }
        let upn = record.upn.as_str().to_string();
        if let Some(first) = upn_line.get(&upn) {
            let message = format!("the UPN {upn} is also on line {first}");
            problems.at(USERS, user.line, upn_column(user), message);
            continue;
        }
        upn_line.insert(upn.clone(), user.line);
        let form = record.form.as_str().to_string();
        match form_year.get(&form) {
            Some((year, line)) if *year != record.year => {
                let message = format!(
                    "the form {form} is in {year} on line {line}, and this pupil's grade gives {}: a form belongs to one year group",
                    record.year
                );
                problems.at(USERS, user.line, "grades", message);
                continue;
            }
            Some(_) => {}
            None => {
                form_year.insert(form, (record.year, user.line));
            }
        }
        forms_with_pupils.insert(homeroom);
        upn_of.insert(user.id.as_str(), upn);
        pupils.push(record);
    }

    // Each form's tutor: the primary teacher of its homeroom class, else the first.
    let mut tutor_of: HashMap<&str, Vec<FormName>> = HashMap::new();
    for (class, form) in &forms {
        if !forms_with_pupils.contains(class) {
            continue;
        }
        let mut teachers = index.in_class(class, "teacher");
        teachers.sort_by_key(|e| (!e.primary, e.line));
        if let Some(first) = teachers.first() {
            tutor_of
                .entry(first.user.as_str())
                .or_default()
                .push(form.clone());
        }
    }

    let mut staff = Vec::new();
    let mut email_of: HashMap<&str, String> = HashMap::new();
    for (user, roles) in index.holders(&org.id, false) {
        if index.staff_school.get(user.id.as_str()) != Some(&org.id.as_str()) {
            continue;
        }
        let email = user
            .email
            .as_deref()
            .or(user.username.as_deref().filter(|name| name.contains('@')))
            .ok_or_else(|| "a member of staff needs an email address to sign in with".to_string())
            .and_then(|raw| EmailAddress::parse(raw).map_err(|e| e.message));
        let email = match email {
            Ok(email) => Some(email),
            Err(message) => {
                problems.at(USERS, user.line, "email", message);
                None
            }
        };
        let name = person_name(user, problems);
        let (Some(email), Some(name)) = (email, name) else {
            continue;
        };
        email_of.insert(user.id.as_str(), email.as_str().to_lowercase());
        let mut tutor = tutor_of.remove(user.id.as_str()).unwrap_or_default();
        tutor.sort_by(|a, b| a.as_str().cmp(b.as_str()));
        staff.push(StaffRecord {
            line: user.line,
            email,
            name,
            roles: roles.into_iter().collect(),
            tutor_of: tutor,
        });
    }

    let people = GroupPeople {
        upn_of: &upn_of,
        email_of: &email_of,
    };
    let groups = index
        .classes
        .iter()
        .filter(|c| c.school == org.id && c.kind == "scheduled")
        .filter_map(|class| read_group(index, class, &people, problems))
        .collect();

    SchoolBundle {
        line: org.line,
        code,
        name: String::new(),
        pupils,
        staff,
        groups,
        holidays: Vec::new(),
    }
}

/// The relationship a OneRoster role makes of a user to the pupils they are linked to:
/// `parent`, `guardian` or `relative` (1.1 and 1.2 alike); any other role is none.
fn contact_relationship(role: &str) -> Option<Relationship> {
    match role.trim().to_ascii_lowercase().as_str() {
        "parent" => Some(Relationship::Parent),
        "guardian" => Some(Relationship::Guardian),
        "relative" => Some(Relationship::OtherRelative),
        _ => None,
    }
}

/// Each pupil's contacts (by the pupil's `sourcedId`), in `users.csv` order: the users with
/// a parent, guardian or relative role linked to the pupil through `agentSourcedIds` (on
/// either side). `None` when the bundle has no such users: the stored contacts are then kept.
/// A contact's name, email and phone (`phone`, else `sms`) are checked as a page checks
/// them; a problem is named by its line and column.
fn read_contacts(rows: &Rows, problems: &mut Problems) -> Option<HashMap<String, Vec<Contact>>> {
    let mut relationship_of: HashMap<&str, Relationship> = HashMap::new();
    for assignment in &rows.assignments {
        if let Some(relationship) = contact_relationship(&assignment.role) {
            relationship_of
                .entry(assignment.user.as_str())
                .or_insert(relationship);
        }
    }
    for user in &rows.users {
        if let Some(relationship) = user.role.as_deref().and_then(contact_relationship) {
            relationship_of
                .entry(user.id.as_str())
                .or_insert(relationship);
        }
    }
    if relationship_of.is_empty() {
        return None;
    }
    let students: HashSet<&str> = rows
        .assignments
        .iter()
        .filter(|a| kind_of(&a.role) == Some(Kind::Pupil))
        .map(|a| a.user.as_str())
        .collect();
    // Each contact's pupils: those they name, and those who name them.
    let mut pupils_of: HashMap<&str, BTreeSet<&str>> = HashMap::new();
    for user in &rows.users {
        if relationship_of.contains_key(user.id.as_str()) {
            for agent in user.agents.iter().filter(|a| students.contains(a.as_str())) {
                pupils_of
                    .entry(user.id.as_str())
                    .or_default()
                    .insert(agent.as_str());
            }
        } else if students.contains(user.id.as_str()) {
            for agent in user
                .agents
                .iter()
                .filter(|a| relationship_of.contains_key(a.as_str()))
            {
                pupils_of
                    .entry(agent.as_str())
                    .or_default()
                    .insert(user.id.as_str());
            }
        }
    }
    let mut contacts: HashMap<String, Vec<Contact>> = HashMap::new();
    for user in &rows.users {
        let (Some(relationship), Some(pupils)) = (
            relationship_of.get(user.id.as_str()),
            pupils_of.get(user.id.as_str()),
        ) else {
            continue;
        };
        let Some(name) = person_name(user, problems) else {
            continue;
        };
        let (phone_column, phone) = match (&user.phone, &user.sms) {
            (Some(phone), _) => ("phone", Some(phone.clone())),
            (None, sms) => ("sms", sms.clone()),
        };
        let draft = ContactDraft {
            name: name.as_str().to_string(),
            relationship: relationship.as_str().to_string(),
            email: user.email.clone(),
            phone,
            invited: relationship.invited_by_default(),
        };
        match Contact::parse(&draft) {
            Ok(contact) => {
                for pupil in pupils {
                    contacts
                        .entry((*pupil).to_string())
                        .or_default()
                        .push(contact.clone());
                }
            }
            Err(error) => {
                let column = match error.field {
                    "email" => "email",
                    "phone" => phone_column,
                    _ => "familyName",
                };
                let message = format!("the contact's {} {}", error.field, error.message);
                problems.at(USERS, user.line, column, message);
            }
        }
    }
    Some(contacts)
}

/// The column a pupil's UPN is read from: a `{UPN:...}` entry of `userIds`, else `identifier`.
fn upn_column(user: &User) -> &'static str {
    if upn_entry(user).is_some() {
        "userIds"
    } else {
        "identifier"
    }
}

fn upn_entry(user: &User) -> Option<&str> {
    user.user_ids
        .iter()
        .find(|(kind, _)| kind.eq_ignore_ascii_case("UPN"))
        .map(|(_, id)| id.as_str())
}

/// A user's given (preferred, when given) and family names, or problems.
fn names(user: &User, problems: &mut Problems) -> Option<(PersonName, PersonName)> {
    let (given_column, given) = match &user.preferred {
        Some(preferred) => ("preferredGivenName", Some(preferred)),
        None => ("givenName", user.given.as_ref()),
    };
    let given = match given.map(|name| PersonName::parse("name", name)) {
        Some(Ok(name)) => Some(name),
        Some(Err(error)) => {
            problems.at(
                USERS,
                user.line,
                given_column,
                format!("the given name {}", error.message),
            );
            None
        }
        None => {
            problems.at(USERS, user.line, given_column, "the given name is missing");
            None
        }
    };
    let family = match user
        .family
        .as_deref()
        .map(|name| PersonName::parse("name", name))
    {
        Some(Ok(name)) => Some(name),
        Some(Err(error)) => {
            problems.at(
                USERS,
                user.line,
                "familyName",
                format!("the family name {}", error.message),
            );
            None
        }
        None => {
            problems.at(USERS, user.line, "familyName", "the family name is missing");
            None
        }
    };
    Some((given?, family?))
}

/// A member of staff's name as pages show it: given and family name.
fn person_name(user: &User, problems: &mut Problems) -> Option<PersonName> {
    let (given, family) = names(user, problems)?;
    match PersonName::parse("name", &format!("{} {}", given.as_str(), family.as_str())) {
        Ok(name) => Some(name),
        Err(error) => {
            problems.at(
                USERS,
                user.line,
                "familyName",
                format!("the name {}", error.message),
            );
            None
        }
    }
}

/// One pupil of the school, with the homeroom class they are in; every problem of theirs.
fn read_pupil<'a>(
    index: &Index<'a>,
    org: &Org,
    user: &User,
    forms: &HashMap<&'a str, FormName>,
    grade_offset: i64,
    problems: &mut Problems,
) -> Option<(PupilRecord, &'a str)> {
    let upn = match (upn_entry(user), user.identifier.as_deref()) {
        (Some(raw), _) | (None, Some(raw)) => parse_checked_upn(raw)
            .map_err(|message| problems.at(USERS, user.line, upn_column(user), message))
            .ok(),
        (None, None) => {
            problems.at(
                USERS,
                user.line,
                "identifier",
                "the UPN is missing: give it as the identifier, or as {UPN:...} in userIds",
            );
            None
        }
    };
    let names = names(user, problems);
    let mut grades = user.grades.clone();
    grades.dedup();
    let year = match grades.as_slice() {
        [] => Err("the grade is missing".to_string()),
        [grade] => year_of_grade(grade, grade_offset),
        several => Err(format!(
            "a pupil is in one grade, not {}",
            several.join(", ")
        )),
    };
    let year = year
        .map_err(|message| problems.at(USERS, user.line, "grades", message))
        .ok();
    let homerooms: Vec<&Enrollment> = index
        .enrollments
        .iter()
        .filter(|e| e.user == user.id && e.role == "student")
        .filter(|e| {
            index
                .class_by_id
                .get(e.class.as_str())
                .is_some_and(|c| c.school == org.id && c.kind == "homeroom")
        })
        .collect();
    let homeroom = match homerooms.as_slice() {
        [] => {
            problems.at(
                USERS,
                user.line,
                "sourcedId",
                format!(
                    "the pupil {} is in no homeroom class of the school in enrollments.csv: each pupil needs a form",
                    user.id
                ),
            );
            None
        }
        [one] => index.class_by_id.get(one.class.as_str()).copied(),
        [first, second, ..] => {
            let title = index
                .class_by_id
                .get(first.class.as_str())
                .map_or("", |c| c.title.as_str());
            problems.at(
                ENROLLMENTS,
                second.line,
                "classSourcedId",
                format!(
                    "the pupil {} is also in the homeroom class {title} (line {}): a pupil is in one form",
                    user.id, first.line
                ),
            );
            None
        }
    };
    // A homeroom whose title is not a form name has its own problem already.
    let form = homeroom.and_then(|class| forms.get(class.id.as_str()).map(|f| (class, f)));
    let (upn, (given_name, family_name), year, (class, form)) = (upn?, names?, year?, form?);
    Some((
        PupilRecord {
            line: user.line,
            upn,
            given_name,
            family_name,
            year,
            form: form.clone(),
            house: None,
            sen: None,
            date_of_birth: None,
            contacts: None,
        },
        class.id.as_str(),
    ))
}

/// A text of a teaching group: trimmed, at most [`MAX_GROUP_TEXT_CHARS`] characters, no
/// control characters.
fn group_text(what: &str, raw: &str) -> Result<String, String> {
    let text = raw.trim();
    if text.chars().count() > MAX_GROUP_TEXT_CHARS || text.chars().any(char::is_control) {
        return Err(format!(
            "a class's {what} is at most {MAX_GROUP_TEXT_CHARS} characters"
        ));
    }
    Ok(text.to_string())
}

/// The school's pupils (their UPN) and staff (their email) by `sourcedId`, for reading who
/// is in a class.
struct GroupPeople<'a> {
    upn_of: &'a HashMap<&'a str, String>,
    email_of: &'a HashMap<&'a str, String>,
}

/// A scheduled class as a teaching group: its members the school's pupils enrolled in it,
/// its teachers the school's staff enrolled as teachers, and when it meets.
fn read_group(
    index: &Index<'_>,
    class: &Class,
    people: &GroupPeople<'_>,
    problems: &mut Problems,
) -> Option<TeachingGroup> {
    let name = group_text("title", &class.title)
        .and_then(|name| match name.is_empty() {
            true => Err("the class's title is missing".to_string()),
            false => Ok(name),
        })
        .map_err(|message| problems.at(CLASSES, class.line, "title", message))
        .ok();
    let subject = group_text("subjects", &class.subjects.join(", "))
        .map_err(|message| problems.at(CLASSES, class.line, "subjects", message));
    let mut members: Vec<String> = index
        .in_class(&class.id, "student")
        .into_iter()
        .filter_map(|e| people.upn_of.get(e.user.as_str()).cloned())
        .collect();
    members.sort();
    members.dedup();
    let mut teachers: Vec<String> = index
        .in_class(&class.id, "teacher")
        .into_iter()
        .filter_map(|e| people.email_of.get(e.user.as_str()).cloned())
        .collect();
    teachers.sort();
    teachers.dedup();
    let periods = LessonSlot::parse_list(&class.periods)
        .map(|slots| {
            slots
                .iter()
                .map(LessonSlot::label)
                .collect::<Vec<_>>()
                .join(", ")
        })
        .map_err(|message| problems.at(CLASSES, class.line, "periods", message));
    let subject = subject.ok()?;
    Some(TeachingGroup {
        line: class.line,
        source_id: class.id.clone(),
        name: name?,
        subject: Some(subject).filter(|s| !s.is_empty()),
        periods: periods.ok()?,
        teachers,
        members,
    })
}

/// The holidays between consecutive terms of each school year: the dates between one term's
/// end and the next term's start, when they hold a weekday. A school year's terms are its
/// sessions of type `term`, or of type `semester` when it has no terms; overlapping sessions
/// count as one.
fn holidays(sessions: &[Session]) -> Vec<Holiday> {
    let mut years: BTreeMap<&str, Vec<&Session>> = BTreeMap::new();
    for session in sessions {
        years
            .entry(session.year.as_str())
            .or_default()
            .push(session);
    }
    let mut found: Vec<Holiday> = Vec::new();
    for mut terms in years.into_values() {
        if terms.iter().any(|s| s.kind == "term") {
            terms.retain(|s| s.kind == "term");
        }
        terms.sort_by_key(|s| (s.start, s.end, s.line));
        let Some((first, rest)) = terms.split_first() else {
            continue;
        };
        let (mut end, mut title) = (first.end, first.title.as_str());
        for term in rest {
            let after = end + TimeDelta::days(1);
            if term.start > after {
                let before = term.start - TimeDelta::days(1);
                let has_weekday = after
                    .iter_days()
                    .take_while(|d| *d <= before)
                    .any(|d| !matches!(d.weekday(), Weekday::Sat | Weekday::Sun));
                let known = found
                    .iter()
                    .any(|h| h.closure.starts_on == after && h.closure.ends_on == before);
                if has_weekday && !known {
                    found.push(Holiday {
                        line: term.line,
                        closure: Closure {
                            starts_on: after,
                            ends_on: before,
                            kind: ClosureKind::Holiday,
                            name: format!("Holiday between {title} and {}", term.title),
                        },
                    });
                }
            }
            if term.end >= end {
                end = term.end;
                title = term.title.as_str();
            }
        }
    }
    found.sort_by_key(|h| h.closure.starts_on);
    found
}

// ---------------------------------------------------------------------------------------------
// Comparing with what is stored
// ---------------------------------------------------------------------------------------------

/// A teaching group as Steadfast holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredGroup {
    pub id: i64,
    pub source_id: String,
    pub name: String,
    pub subject: Option<String>,
    /// When it meets, as [`TeachingGroup::periods`].
    pub periods: String,
    /// The email addresses of its teachers, sorted.
    pub teachers: Vec<String>,
    /// The UPNs of its pupils.
    pub members: Vec<String>,
}

/// A stored teaching group the bundle changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangedGroup {
    pub id: i64,
    pub group: TeachingGroup,
    pub changes: Vec<FieldChange>,
    /// Whether its members are to be replaced by the bundle's.
    pub members_changed: bool,
    /// Whether its teachers are to be replaced by the bundle's.
    pub teachers_changed: bool,
}

/// What a bundle would do to a school's teaching groups (those it does not name stay).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GroupPlan {
    pub added: Vec<TeachingGroup>,
    pub changed: Vec<ChangedGroup>,
    pub unchanged: usize,
}

impl GroupPlan {
    /// Whether applying the plan would change nothing.
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.changed.is_empty()
    }
}

/// Compares the bundle's teaching groups with the stored ones, matched by `sourcedId`.
pub fn plan_groups(stored: &[StoredGroup], incoming: &[TeachingGroup]) -> GroupPlan {
    let by_source: HashMap<&str, &StoredGroup> =
        stored.iter().map(|g| (g.source_id.as_str(), g)).collect();
    let mut plan = GroupPlan::default();
    for group in incoming {
        let Some(held) = by_source.get(group.source_id.as_str()) else {
            plan.added.push(group.clone());
            continue;
        };
        let mut changes = Vec::new();
        if held.name != group.name {
            changes.push(FieldChange {
                field: "name",
                from: held.name.clone(),
                to: group.name.clone(),
            });
        }
        if held.subject != group.subject {
            changes.push(FieldChange {
                field: "subject",
                from: held.subject.clone().unwrap_or_default(),
                to: group.subject.clone().unwrap_or_default(),
            });
        }
        if held.periods != group.periods {
            changes.push(FieldChange {
                field: "periods",
                from: held.periods.clone(),
                to: group.periods.clone(),
            });
        }
        let teachers_changed = held.teachers != group.teachers;
        if teachers_changed {
            changes.push(FieldChange {
                field: "teachers",
                from: held.teachers.join(", "),
                to: group.teachers.join(", "),
            });
        }
        let mut held_members = held.members.clone();
        held_members.sort();
        let members_changed = held_members != group.members;
        if members_changed {
            let joining = group
                .members
                .iter()
                .filter(|upn| held_members.binary_search(upn).is_err())
                .count();
            let leaving = held_members
                .iter()
                .filter(|upn| group.members.binary_search(upn).is_err())
                .count();
            changes.push(FieldChange {
                field: "members",
                from: format!("{} pupils", held_members.len()),
                to: format!(
                    "{} pupils ({joining} joining, {leaving} leaving)",
                    group.members.len()
                ),
            });
        }
        if changes.is_empty() {
            plan.unchanged += 1;
        } else {
            plan.changed.push(ChangedGroup {
                id: held.id,
                group: group.clone(),
                changes,
                members_changed,
                teachers_changed,
            });
        }
    }
    plan
}

/// The bundle's holidays not yet among the school's closures (matched by their dates), and
/// how many are. Closures are never removed by an import.
pub fn plan_holidays(stored: &[Closure], incoming: &[Holiday]) -> (Vec<Holiday>, usize) {
    let held: HashSet<(NaiveDate, NaiveDate)> =
        stored.iter().map(|c| (c.starts_on, c.ends_on)).collect();
    let (known, new): (Vec<&Holiday>, Vec<&Holiday>) = incoming
        .iter()
        .partition(|h| held.contains(&(h.closure.starts_on, h.closure.ends_on)));
    (new.into_iter().cloned().collect(), known.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::roster::upn_check_letter;

    /// A valid UPN for a serial number.
    fn upn(serial: u32) -> String {
        let rest = format!("{:012}", 820_200_126_000u64 + u64::from(serial));
        format!("{}{rest}", upn_check_letter(&rest).unwrap())
    }

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    /// A small OneRoster 1.2 bundle: one school, a homeroom each for Years 7 and 8, a maths
    /// set, two teachers, three terms.
    fn bundle() -> BundleFiles {
        let mut files = BundleFiles::new();
        files.insert(
            "manifest.csv".into(),
            "propertyName,value\nmanifest.version,1.0\noneroster.version,1.2\nfile.users,bulk\n"
                .into(),
        );
        files.insert(
            "orgs.csv".into(),
            "sourcedId,status,dateLastModified,name,type,identifier,parentSourcedId\n\
             trust,active,,Oak Trust,district,,\n\
             org1,active,,Meadowbank School,school,MEADOWBANK,trust\n"
                .into(),
        );
        files.insert(
            "users.csv".into(),
            format!(
                "sourcedId,status,dateLastModified,enabledUser,username,userIds,givenName,familyName,middleName,identifier,email,grades,preferredGivenName\n\
                 s1,active,,true,s1,\"{{MIS:101}},{{UPN:{}}}\",Siobhán,O'Connor,,101,,06,\n\
                 s2,active,,true,s2,,Thị Mai,Nguyễn,,{},,\"07\",Mai\n\
                 s3,tobedeleted,,true,s3,,Gone,Away,,{},,06,\n\
                 t1,active,,true,t1,,Tess,Teacher,,,T.Teacher@Meadowbank.example,,\n\
                 t2,active,,true,t.two@meadowbank.example,,Tom,Two,,,,,\n",
                upn(1),
                upn(2),
                upn(3)
            ),
        );
        files.insert(
            "roles.csv".into(),
            "sourcedId,status,dateLastModified,userSourcedId,roleType,role,beginDate,endDate,orgSourcedId,userProfileSourcedId\n\
             r1,active,,s1,primary,student,,,org1,\n\
             r2,active,,s2,primary,student,,,org1,\n\
             r3,active,,s3,primary,student,,,org1,\n\
             r4,active,,t1,primary,teacher,,,org1,\n\
             r5,active,,t2,primary,teacher,,,org1,\n\
             r6,active,,t2,secondary,administrator,,,org1,\n"
                .into(),
        );
        files.insert(
            "classes.csv".into(),
            "sourcedId,status,dateLastModified,title,grades,courseSourcedId,classCode,classType,location,schoolSourcedId,termSourcedIds,subjects,subjectCodes,periods\n\
             h7,active,,7A,06,,7A,homeroom,,org1,,,,\n\
             h8,active,,8B,07,,8B,homeroom,,org1,,,,\n\
             m1,active,,7 Maths Set 1,06,,,scheduled,,org1,,Mathematics,,\"1, mon 4,Wed-A:Period 2\"\n"
                .into(),
        );
        files.insert(
            "enrollments.csv".into(),
            "sourcedId,status,dateLastModified,classSourcedId,schoolSourcedId,userSourcedId,role,primary,beginDate,endDate\n\
             e1,active,,h7,org1,s1,student,false,,\n\
             e2,active,,h8,org1,s2,student,false,,\n\
             e3,active,,h7,org1,t1,teacher,true,,\n\
             e4,active,,h8,org1,t2,teacher,true,,\n\
             e5,active,,m1,org1,s1,student,false,,\n\
             e6,active,,m1,org1,t1,teacher,true,,\n"
                .into(),
        );
        files.insert(
            "academicSessions.csv".into(),
            "sourcedId,status,dateLastModified,title,type,startDate,endDate,parentSourcedId,schoolYear\n\
             y,active,,2026/27,schoolYear,2026-09-01,2027-07-21,,2027\n\
             a,active,,Autumn,term,2026-09-02,2026-12-18,y,2027\n\
             sp,active,,Spring,term,2027-01-05,2027-03-26,y,2027\n\
             su,active,,Summer,term,2027-04-12,2027-07-21,y,2027\n"
                .into(),
        );
        files
    }

    fn set(files: &mut BundleFiles, name: &str, from: &str, to: &str) {
        let text = files.get_mut(name).unwrap();
        assert!(text.contains(from), "{from} not in {name}");
        *text = text.replace(from, to);
    }

    #[test]
    fn grades_are_us_codes_a_year_below_the_uk_year_by_default() {
        assert_eq!(year_of_grade("06", 1).unwrap().get(), 7);
        assert_eq!(year_of_grade("13", 1).unwrap().get(), 14);
        assert_eq!(year_of_grade("KG", 1).unwrap().get(), 1);
        assert_eq!(year_of_grade("PK", 1).unwrap().get(), 0);
        assert_eq!(year_of_grade("07", 0).unwrap().get(), 7);
        assert!(year_of_grade("13", 2).unwrap_err().contains("outside"));
        assert!(year_of_grade("Y7", 1)
            .unwrap_err()
            .contains("not a OneRoster grade"));
        assert!(year_of_grade("14", 1).is_err());
    }

    #[test]
    fn user_ids_are_read_in_braces_or_plain() {
        assert_eq!(
            user_ids("{MIS:123},{UPN:A123}"),
            vec![
                ("MIS".to_string(), "123".to_string()),
                ("UPN".to_string(), "A123".to_string())
            ]
        );
        assert_eq!(user_ids("UPN:B9"), vec![("UPN".into(), "B9".into())]);
        assert!(user_ids("").is_empty());
    }

    #[test]
    fn a_one_two_bundle_gives_the_school_its_pupils_staff_forms_groups_and_holidays() {
        let bundle = read_bundle(&bundle(), DEFAULT_GRADE_OFFSET, None).unwrap();
        assert_eq!(bundle.schools.len(), 1, "the trust is not a school");
        let school = &bundle.schools[0];
        assert_eq!(school.code.as_str(), "MEADOWBANK");
        assert_eq!(school.name, "Meadowbank School");
        assert_eq!(school.line, 3);

        let pupils: Vec<(&str, &str, &str, i16, &str)> = school
            .pupils
            .iter()
            .map(|p| {
                (
                    p.upn.as_str(),
                    p.given_name.as_str(),
                    p.family_name.as_str(),
                    p.year.get(),
                    p.form.as_str(),
                )
            })
            .collect();
        let (one, two) = (upn(1), upn(2));
        assert_eq!(
            pupils,
            vec![
                (one.as_str(), "Siobhán", "O'Connor", 7, "7A"),
                (two.as_str(), "Mai", "Nguyễn", 8, "8B"),
            ],
            "the UPN from userIds or identifier, the preferred name, grade + 1; the row to be deleted left out"
        );
        assert_eq!(school.pupils[0].line, 2);

        assert_eq!(school.staff.len(), 2);
        let tess = &school.staff[0];
        assert_eq!(tess.email.as_str(), "t.teacher@meadowbank.example");
        assert_eq!(tess.name.as_str(), "Tess Teacher");
        assert_eq!(tess.roles, vec![Role::ClassStaff]);
        assert_eq!(tess.tutor_of, vec![FormName::parse("7A").unwrap()]);
        let tom = &school.staff[1];
        assert_eq!(
            tom.email.as_str(),
            "t.two@meadowbank.example",
            "from the username"
        );
        assert_eq!(tom.roles, vec![Role::ClassStaff, Role::Admin]);

        assert_eq!(
            school.groups,
            vec![TeachingGroup {
                line: 4,
                source_id: "m1".into(),
                name: "7 Maths Set 1".into(),
                subject: Some("Mathematics".into()),
                periods: "1, Mon 4, Wed-A Period 2".into(),
                teachers: vec!["t.teacher@meadowbank.example".into()],
                members: vec![one.clone()],
            }]
        );

        let holidays: Vec<(NaiveDate, NaiveDate, &str)> = school
            .holidays
            .iter()
            .map(|h| {
                (
                    h.closure.starts_on,
                    h.closure.ends_on,
                    h.closure.name.as_str(),
                )
            })
            .collect();
        assert_eq!(
            holidays,
            vec![
                (
                    date(2026, 12, 19),
                    date(2027, 1, 4),
                    "Holiday between Autumn and Spring"
                ),
                (
                    date(2027, 3, 27),
                    date(2027, 4, 11),
                    "Holiday between Spring and Summer"
                ),
            ]
        );
        assert!(bundle.delta_files.is_empty());
    }

    #[test]
    fn a_one_one_bundle_gives_roles_in_users_csv() {
        let mut files = bundle();
        files.remove("roles.csv");
        set(
            &mut files,
            "users.csv",
            "sourcedId,status,dateLastModified,enabledUser,",
            "sourcedId,status,dateLastModified,enabledUser,orgSourcedIds,role,",
        );
        for (user, role) in [
            ("s1", "student"),
            ("s2", "student"),
            ("t1", "teacher"),
            ("t2", "administrator"),
        ] {
            set(
                &mut files,
                "users.csv",
                &format!("\n{user},active,,true,"),
                &format!("\n{user},active,,true,org1,{role},"),
            );
        }
        set(
            &mut files,
            "users.csv",
            "s3,tobedeleted,,true,",
            "s3,tobedeleted,,true,org1,student,",
        );
        let bundle = read_bundle(&files, DEFAULT_GRADE_OFFSET, None).unwrap();
        let school = &bundle.schools[0];
        assert_eq!(school.pupils.len(), 2);
        assert_eq!(school.staff[1].roles, vec![Role::Admin]);
    }

    #[test]
    fn the_grade_offset_is_a_parameter() {
        let bundle = read_bundle(&bundle(), 0, None).unwrap();
        assert_eq!(bundle.schools[0].pupils[0].year.get(), 6);
    }

    #[test]
    fn only_the_named_school_is_read_and_its_absence_is_a_problem() {
        let code = SchoolCode::parse("meadowbank").unwrap();
        let bundle = read_bundle(&bundle(), 1, Some(&code)).unwrap();
        assert_eq!(bundle.schools.len(), 1);
        let other = SchoolCode::parse("ELSEWHERE").unwrap();
        let problems = read_bundle(&self::bundle(), 1, Some(&other)).unwrap_err();
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].column, "orgs.csv: identifier");
        assert!(problems[0].message.contains("ELSEWHERE"));
    }

    #[test]
    fn every_bad_row_is_named_by_file_line_and_column() {
        let mut files = bundle();
        set(
            &mut files,
            "users.csv",
            &format!("{{UPN:{}}}", upn(1)),
            "{UPN:A820200126001}",
        );
        set(&mut files, "users.csv", ",,\"07\",Mai", ",,\"Y8\",Mai");
        set(
            &mut files,
            "users.csv",
            "T.Teacher@Meadowbank.example",
            "tess",
        );
        let problems = read_bundle(&files, 1, None).unwrap_err();
        let at: Vec<(usize, &str)> = problems
            .iter()
            .map(|p| (p.line, p.column.as_str()))
            .collect();
        assert_eq!(
            at,
            vec![
                (2, "users.csv: userIds"),
                (3, "users.csv: grades"),
                (5, "users.csv: email")
            ],
            "{problems:?}"
        );
        assert!(problems[0].message.contains("check letter"));
        assert!(problems[1].message.contains("not a OneRoster grade"));
    }

    #[test]
    fn invisible_characters_in_names_are_named_by_file_line_and_column() {
        let mut files = bundle();
        set(&mut files, "users.csv", "O'Connor", "O'Con\u{202E}nor");
        set(
            &mut files,
            "users.csv",
            "Tess,Teacher",
            "Te\u{FEFF}ss,Teacher",
        );
        let problems = read_bundle(&files, 1, None).unwrap_err();
        let at: Vec<(usize, &str)> = problems
            .iter()
            .map(|p| (p.line, p.column.as_str()))
            .collect();
        assert_eq!(
            at,
            vec![(2, "users.csv: familyName"), (5, "users.csv: givenName")],
            "{problems:?}"
        );
        assert!(problems[0].message.contains("invisible"));
    }

    #[test]
    fn a_pupil_needs_exactly_one_homeroom() {
        let mut files = bundle();
        set(
            &mut files,
            "enrollments.csv",
            "e2,active,,h8,org1,s2",
            "e2,active,,m1,org1,s2",
        );
        set(
            &mut files,
            "enrollments.csv",
            "e5,active,,m1,org1,s1",
            "e5,active,,h8,org1,s1",
        );
        let problems = read_bundle(&files, 1, None).unwrap_err();
        let at: Vec<(usize, &str)> = problems
            .iter()
            .map(|p| (p.line, p.column.as_str()))
            .collect();
        assert_eq!(
            at,
            vec![
                (6, "enrollments.csv: classSourcedId"),
                (3, "users.csv: sourcedId")
            ],
            "{problems:?}"
        );
        assert!(problems[0]
            .message
            .contains("also in the homeroom class 7A (line 2)"));
        assert!(problems[1].message.contains("no homeroom"));
    }

    #[test]
    fn missing_files_and_columns_are_problems_at_line_one() {
        let mut files = bundle();
        files.remove("classes.csv");
        set(&mut files, "users.csv", "givenName,", "firstName,");
        let problems = read_bundle(&files, 1, None).unwrap_err();
        let at: Vec<(usize, &str)> = problems
            .iter()
            .map(|p| (p.line, p.column.as_str()))
            .collect();
        assert_eq!(
            at,
            vec![(1, "users.csv: givenName"), (1, "classes.csv")],
            "{problems:?}"
        );
    }

    #[test]
    fn holidays_need_a_weekday_and_semesters_count_without_terms() {
        let session = |line, kind: &str, start, end| Session {
            line,
            title: format!("S{line}"),
            kind: kind.to_string(),
            start,
            end,
            year: "2027".into(),
        };
        // Friday to Monday: only a weekend between them.
        let weekend = holidays(&[
            session(2, "term", date(2026, 9, 1), date(2026, 10, 23)),
            session(3, "term", date(2026, 10, 26), date(2026, 12, 18)),
        ]);
        assert!(weekend.is_empty());
        let semesters = holidays(&[
            session(2, "semester", date(2026, 9, 1), date(2027, 1, 29)),
            session(3, "semester", date(2027, 2, 8), date(2027, 7, 16)),
        ]);
        assert_eq!(semesters.len(), 1);
        assert_eq!(semesters[0].closure.starts_on, date(2027, 1, 30));
        let overlapping = holidays(&[
            session(2, "term", date(2026, 9, 1), date(2026, 12, 18)),
            session(3, "semester", date(2026, 9, 1), date(2027, 1, 29)),
            session(4, "term", date(2027, 1, 5), date(2027, 3, 26)),
        ]);
        assert_eq!(overlapping.len(), 1, "terms win over semesters");
        assert_eq!(overlapping[0].closure.ends_on, date(2027, 1, 4));
    }

    #[test]
    fn a_class_meeting_at_a_slot_that_cannot_be_read_is_refused_at_its_line() {
        let mut files = bundle();
        set(
            &mut files,
            "classes.csv",
            "Mathematics,,\"1, mon 4,Wed-A:Period 2\"",
            "Mathematics,,\"1,Mon:\"",
        );
        let problems = read_bundle(&files, 1, None).unwrap_err();
        assert_eq!(problems.len(), 1);
        assert_eq!(
            (problems[0].line, problems[0].column.as_str()),
            (4, "classes.csv: periods")
        );
        assert!(problems[0].message.contains("no period"));
    }

    #[test]
    fn a_delta_manifest_is_noted() {
        let mut files = bundle();
        set(
            &mut files,
            "manifest.csv",
            "file.users,bulk",
            "file.users,delta",
        );
        let bundle = read_bundle(&files, 1, None).unwrap();
        assert_eq!(bundle.delta_files, vec![(4, "users.csv".to_string())]);
    }

    #[test]
    fn groups_are_matched_by_source_id_and_their_members_compared() {
        let incoming = read_bundle(&bundle(), 1, None).unwrap().schools[0]
            .groups
            .clone();
        let held = StoredGroup {
            id: 9,
            source_id: "m1".into(),
            name: "7 Maths Set 1".into(),
            subject: Some("Mathematics".into()),
            periods: "1, Mon 4, Wed-A Period 2".into(),
            teachers: vec!["t.teacher@meadowbank.example".into()],
            members: vec![upn(1)],
        };
        let plan = plan_groups(std::slice::from_ref(&held), &incoming);
        assert_eq!((plan.unchanged, plan.is_empty()), (1, true));
        let moved = StoredGroup {
            name: "Maths".into(),
            members: vec![upn(2)],
            ..held
        };
        let plan = plan_groups(&[moved], &incoming);
        let changed = &plan.changed[0];
        assert_eq!(changed.id, 9);
        assert!(changed.members_changed);
        let fields: Vec<&str> = changed.changes.iter().map(|c| c.field).collect();
        assert_eq!(fields, vec!["name", "members"]);
        assert_eq!(changed.changes[1].to, "1 pupils (1 joining, 1 leaving)");
        assert_eq!(plan_groups(&[], &incoming).added.len(), 1);
    }

    #[test]
    fn holidays_are_matched_by_their_dates() {
        let incoming = read_bundle(&bundle(), 1, None).unwrap().schools[0]
            .holidays
            .clone();
        let held = Closure {
            name: "Christmas".into(),
            ..incoming[0].closure.clone()
        };
        let (new, known) = plan_holidays(&[held], &incoming);
        assert_eq!(known, 1);
        assert_eq!(new, vec![incoming[1].clone()]);
    }
}
