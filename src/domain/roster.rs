//! The school's roll as its MIS exports it: reading pupils from a SIMS, Arbor or Bromcom CSV
//! report, and comparing them with the pupils Steadfast holds to say what an import would
//! add, change (field by field), mark as left, restore and leave alone.
//!
//! Pure: the file's text and the stored pupils come in, a plan goes out; `db::roster`
//! applies the plan in one transaction.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::NaiveDate;
use serde::Serialize;

use super::contact::{check_count, describe, Contact, ContactDraft, ContactFacts};
use super::details::{FormName, PersonName, SenStatus, Upn, YearNumber};
use super::import::{ColumnMap, ColumnSpec, CsvRow, CsvTable, RowError, RowProblems};

/// The columns of a pupil file, with the header names MIS reports give them.
pub const PUPIL_COLUMNS: &[ColumnSpec] = &[
    ColumnSpec {
        key: "upn",
        label: "UPN",
        aliases: &["UPN", "Unique Pupil Number"],
        required: true,
    },
    ColumnSpec {
        key: "family_name",
        label: "Surname",
        aliases: &["Legal Surname", "Surname", "Last Name", "Family Name"],
        required: true,
    },
    ColumnSpec {
        key: "given_name",
        label: "Forename",
        aliases: &["Legal Forename", "Forename", "First Name", "Given Name"],
        required: true,
    },
    ColumnSpec {
        key: "preferred_name",
        label: "Preferred Forename",
        aliases: &["Preferred Forename", "Preferred First Name", "Known As"],
        required: false,
    },
    ColumnSpec {
        key: "year",
        label: "Year",
        aliases: &["Year", "NC Year", "Year Group", "National Curriculum Year"],
        required: true,
    },
    ColumnSpec {
        key: "form",
        label: "Reg Group",
        aliases: &[
            "Reg Group",
            "Registration Group",
            "Reg",
            "Form",
            "Tutor Group",
            "Class",
        ],
        required: true,
    },
    ColumnSpec {
        key: "house",
        label: "House",
        aliases: &["House"],
        required: false,
    },
    ColumnSpec {
        key: "sen",
        label: "SEN Status",
        aliases: &["SEN Status", "SEN Provision", "SEN", "SEN Need"],
        required: false,
    },
    ColumnSpec {
        key: "date_of_birth",
        label: "Date of Birth",
        aliases: &["DOB", "Date of Birth", "Birth Date"],
        required: false,
    },
    // Up to four contacts per pupil, as SIMS, Arbor and Bromcom reports name them.
    ColumnSpec {
        key: "contact1_name",
        label: "Contact 1 Name",
        aliases: &[
            "Contact 1 Name",
            "Contact 1 Full Name",
            "Primary Contact Name",
            "Priority 1 Contact Name",
            "Parent 1 Name",
        ],
        required: false,
    },
    ColumnSpec {
        key: "contact1_relationship",
        label: "Contact 1 Relationship",
        aliases: &[
            "Contact 1 Relationship",
            "Contact 1 Relation",
            "Contact 1 Relationship to Pupil",
            "Primary Contact Relationship",
            "Priority 1 Contact Relationship",
            "Parent 1 Relationship",
        ],
        required: false,
    },
    ColumnSpec {
        key: "contact1_email",
        label: "Contact 1 Email",
        aliases: &[
            "Contact 1 Email",
            "Contact 1 Email Address",
            "Contact 1 Main Email",
            "Primary Contact Email",
            "Primary Contact Email Address",
            "Priority 1 Contact Email",
            "Priority 1 Contact Email Address",
            "Parent 1 Email",
            "Parent 1 Email Address",
        ],
        required: false,
    },
    ColumnSpec {
        key: "contact1_phone",
        label: "Contact 1 Phone",
        aliases: &[
            "Contact 1 Phone",
            "Contact 1 Telephone",
            "Contact 1 Phone Number",
            "Contact 1 Main Telephone",
            "Contact 1 Mobile",
            "Primary Contact Phone",
            "Primary Contact Telephone",
            "Primary Contact Mobile",
            "Priority 1 Contact Phone",
            "Priority 1 Contact Telephone",
            "Priority 1 Contact Mobile",
            "Parent 1 Phone",
            "Parent 1 Telephone",
            "Parent 1 Mobile",
        ],
        required: false,
    },
    ColumnSpec {
        key: "contact2_name",
        label: "Contact 2 Name",
        aliases: &[
            "Contact 2 Name",
            "Contact 2 Full Name",
            "Secondary Contact Name",
            "Priority 2 Contact Name",
            "Parent 2 Name",
        ],
        required: false,
    },
    ColumnSpec {
        key: "contact2_relationship",
        label: "Contact 2 Relationship",
        aliases: &[
            "Contact 2 Relationship",
            "Contact 2 Relation",
            "Contact 2 Relationship to Pupil",
            "Secondary Contact Relationship",
            "Priority 2 Contact Relationship",
            "Parent 2 Relationship",
        ],
        required: false,
    },
    ColumnSpec {
        key: "contact2_email",
        label: "Contact 2 Email",
        aliases: &[
            "Contact 2 Email",
            "Contact 2 Email Address",
            "Contact 2 Main Email",
            "Secondary Contact Email",
            "Secondary Contact Email Address",
            "Priority 2 Contact Email",
            "Priority 2 Contact Email Address",
            "Parent 2 Email",
            "Parent 2 Email Address",
        ],
        required: false,
    },
    ColumnSpec {
        key: "contact2_phone",
        label: "Contact 2 Phone",
        aliases: &[
            "Contact 2 Phone",
            "Contact 2 Telephone",
            "Contact 2 Phone Number",
            "Contact 2 Main Telephone",
            "Contact 2 Mobile",
            "Secondary Contact Phone",
            "Secondary Contact Telephone",
            "Secondary Contact Mobile",
            "Priority 2 Contact Phone",
            "Priority 2 Contact Telephone",
            "Priority 2 Contact Mobile",
            "Parent 2 Phone",
            "Parent 2 Telephone",
            "Parent 2 Mobile",
        ],
        required: false,
    },
    ColumnSpec {
        key: "contact3_name",
        label: "Contact 3 Name",
        aliases: &[
            "Contact 3 Name",
            "Contact 3 Full Name",
            "Third Contact Name",
            "Priority 3 Contact Name",
            "Parent 3 Name",
        ],
        required: false,
    },
    ColumnSpec {
        key: "contact3_relationship",
        label: "Contact 3 Relationship",
        aliases: &[
            "Contact 3 Relationship",
            "Contact 3 Relation",
            "Contact 3 Relationship to Pupil",
            "Third Contact Relationship",
            "Priority 3 Contact Relationship",
            "Parent 3 Relationship",
        ],
        required: false,
    },
    ColumnSpec {
        key: "contact3_email",
        label: "Contact 3 Email",
        aliases: &[
            "Contact 3 Email",
            "Contact 3 Email Address",
            "Contact 3 Main Email",
            "Third Contact Email",
            "Third Contact Email Address",
            "Priority 3 Contact Email",
            "Priority 3 Contact Email Address",
            "Parent 3 Email",
            "Parent 3 Email Address",
        ],
        required: false,
    },
    ColumnSpec {
        key: "contact3_phone",
        label: "Contact 3 Phone",
        aliases: &[
            "Contact 3 Phone",
            "Contact 3 Telephone",
            "Contact 3 Phone Number",
            "Contact 3 Main Telephone",
            "Contact 3 Mobile",
            "Third Contact Phone",
            "Third Contact Telephone",
            "Third Contact Mobile",
            "Priority 3 Contact Phone",
            "Priority 3 Contact Telephone",
            "Priority 3 Contact Mobile",
            "Parent 3 Phone",
            "Parent 3 Telephone",
            "Parent 3 Mobile",
        ],
        required: false,
    },
    ColumnSpec {
        key: "contact4_name",
        label: "Contact 4 Name",
        aliases: &[
            "Contact 4 Name",
            "Contact 4 Full Name",
            "Fourth Contact Name",
            "Priority 4 Contact Name",
            "Parent 4 Name",
        ],
        required: false,
    },
    ColumnSpec {
        key: "contact4_relationship",
        label: "Contact 4 Relationship",
        aliases: &[
            "Contact 4 Relationship",
            "Contact 4 Relation",
            "Contact 4 Relationship to Pupil",
            "Fourth Contact Relationship",
            "Priority 4 Contact Relationship",
            "Parent 4 Relationship",
        ],
        required: false,
    },
    ColumnSpec {
        key: "contact4_email",
        label: "Contact 4 Email",
        aliases: &[
            "Contact 4 Email",
            "Contact 4 Email Address",
            "Contact 4 Main Email",
            "Fourth Contact Email",
            "Fourth Contact Email Address",
            "Priority 4 Contact Email",
            "Priority 4 Contact Email Address",
            "Parent 4 Email",
            "Parent 4 Email Address",
        ],
        required: false,
    },
    ColumnSpec {
        key: "contact4_phone",
        label: "Contact 4 Phone",
        aliases: &[
            "Contact 4 Phone",
            "Contact 4 Telephone",
            "Contact 4 Phone Number",
            "Contact 4 Main Telephone",
            "Contact 4 Mobile",
            "Fourth Contact Phone",
            "Fourth Contact Telephone",
            "Fourth Contact Mobile",
            "Priority 4 Contact Phone",
            "Priority 4 Contact Telephone",
            "Priority 4 Contact Mobile",
            "Parent 4 Phone",
            "Parent 4 Telephone",
            "Parent 4 Mobile",
        ],
        required: false,
    },
];

/// How many contacts a pupil file can give each pupil (`Contact 1 ...` to `Contact 4 ...`).
pub const FILE_CONTACTS: usize = 4;

/// The keys of the `n`th contact's columns (from 1): name, relationship, email, phone.
fn contact_keys(n: usize) -> [String; 4] {
    ["name", "relationship", "email", "phone"].map(|part| format!("contact{n}_{part}"))
}

/// Whether the file has any contact column: then each pupil's contacts are the file's.
pub fn has_contacts(map: &ColumnMap) -> bool {
    (1..=FILE_CONTACTS).any(|n| contact_keys(n).iter().any(|key| map.has(key)))
}

/// The contacts a row gives, in order; a contact whose cells are all blank is none. `None`
/// when the file has no contact columns (the stored contacts are then kept).
fn read_contacts(
    map: &ColumnMap,
    row: &CsvRow,
    problems: &mut RowProblems<'_>,
) -> Option<Option<Vec<Contact>>> {
    if !has_contacts(map) {
        return Some(None);
    }
    let mut contacts = Vec::new();
    let mut sound = true;
    for n in 1..=FILE_CONTACTS {
        let [name, relationship, email, phone] = contact_keys(n);
        let cell = |key: &str| map.cell(row, key);
        if [&name, &relationship, &email, &phone]
            .iter()
            .all(|key| cell(key).is_none())
        {
            continue;
        }
        let draft = ContactDraft {
            name: cell(&name).unwrap_or_default().to_string(),
            relationship: cell(&relationship).unwrap_or_default().to_string(),
            email: cell(&email).map(str::to_string),
            phone: cell(&phone).map(str::to_string),
            invited: false,
        };
        match Contact::read_export(&draft) {
            Ok(mut contact) => {
                contact.invited = contact.relationship.invited_by_default();
                contacts.push(contact);
            }
            Err(error) => {
                let key = match error.field {
                    "relationship" => &relationship,
                    "email" => &email,
                    "phone" => &phone,
                    _ => &name,
                };
                let message = match error.field {
                    "name" => format!("contact {n}'s name {}", error.message),
                    field => format!("contact {n}'s {field} {}", error.message),
                };
                problems.check::<()>(key, Err(message));
                sound = false;
            }
        }
    }
    if let Err(error) = check_count(contacts.len()) {
        problems.check::<()>(&contact_keys(1)[0], Err(error.message));
        sound = false;
    }
    sound.then_some(Some(contacts))
}

/// The longest house name kept.
pub const MAX_HOUSE_CHARS: usize = 40;

/// One pupil as the file gives them, every field checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PupilRecord {
    /// The line of the file the pupil is on.
    pub line: usize,
    pub upn: Upn,
    /// The name the pupil is known by: the preferred forename when the file gives one.
    pub given_name: PersonName,
    pub family_name: PersonName,
    pub year: YearNumber,
    pub form: FormName,
    /// The house, when the file has one.
    pub house: Option<String>,
    /// The SEN register status; `None` when the file has no SEN column (kept as stored).
    pub sen: Option<SenStatus>,
    /// The date of birth, when the file has one.
    pub date_of_birth: Option<NaiveDate>,
    /// The pupil's contacts, in the file's order, when the file has contact columns (`None`
    /// keeps the stored ones).
    pub contacts: Option<Vec<Contact>>,
}

/// Reads every pupil of a MIS export, with `mapped` naming the column chosen by hand for
/// headers it does not recognise. Answers the pupils that read cleanly and a problem for
/// every row (or header) that does not; a UPN given twice is a problem at its second line.
pub fn read_pupils(
    text: &str,
    mapped: &[(String, String)],
) -> Result<(Vec<PupilRecord>, ColumnMap), Vec<RowError>> {
    let table = CsvTable::parse(text).map_err(|e| vec![e])?;
    let map = ColumnMap::recognise(PUPIL_COLUMNS, &table.headers, mapped)?;
    let mut pupils = Vec::new();
    let mut problems = Vec::new();
    let mut first_line: HashMap<String, usize> = HashMap::new();
    let mut form_year: HashMap<String, (YearNumber, usize)> = HashMap::new();
    for row in &table.rows {
        match read_pupil(&map, row) {
            Ok(pupil) => {
                if let Some(first) = first_line.get(pupil.upn.as_str()) {
                    problems.push(map.problem(
                        row,
                        "upn",
                        format!("the UPN {} is also on line {first}", pupil.upn.as_str()),
                    ));
                    continue;
                }
                first_line.insert(pupil.upn.as_str().to_string(), row.line);
                let form = pupil.form.as_str().to_string();
                match form_year.get(&form) {
                    Some((year, line)) if *year != pupil.year => {
                        problems.push(map.problem(
                            row,
                            "form",
                            format!(
                                "the form {form} is in {year} on line {line}: a form belongs to one year group"
                            ),
                        ));
                        continue;
                    }
                    Some(_) => {}
                    None => {
                        form_year.insert(form, (pupil.year, row.line));
                    }
                }
                pupils.push(pupil);
            }
            Err(mut row_problems) => problems.append(&mut row_problems),
        }
    }
    if problems.is_empty() {
        Ok((pupils, map))
    } else {
        Err(problems)
    }
}

/// Reads one row; every problem of the row at once.
fn read_pupil(map: &ColumnMap, row: &CsvRow) -> Result<PupilRecord, Vec<RowError>> {
    let mut problems = RowProblems::new(map, row);
    let cell = |key: &str| map.cell(row, key);
    let upn = problems.check("upn", parse_checked_upn(cell("upn").unwrap_or_default()));
    let given = problems.check(
        "given_name",
        cell("preferred_name")
            .or(cell("given_name"))
            .ok_or_else(|| "the forename is missing".to_string())
            .and_then(|name| name_of("forename", name)),
    );
    let family = problems.check(
        "family_name",
        cell("family_name")
            .ok_or_else(|| "the surname is missing".to_string())
            .and_then(|name| name_of("surname", name)),
    );
    let year = problems.check(
        "year",
        cell("year")
            .ok_or_else(|| "the year is missing".to_string())
            .and_then(parse_year),
    );
    let form = problems.check(
        "form",
        cell("form")
            .ok_or_else(|| "the registration group is missing".to_string())
            .and_then(|name| FormName::parse(name).map_err(|e| e.message)),
    );
    let house = problems.check("house", cell("house").map(parse_house).transpose());
    let sen = match map.has("sen") {
        true => problems.check("sen", parse_sen(cell("sen").unwrap_or_default()).map(Some)),
        false => Some(None),
    };
    let born = problems.check(
        "date_of_birth",
        cell("date_of_birth").map(parse_uk_date).transpose(),
    );
    let contacts = read_contacts(map, row, &mut problems);
    match (upn, given, family, year, form, house, sen, born, contacts) {
        (
            Some(upn),
            Some(given_name),
            Some(family_name),
            Some(year),
            Some(form),
            Some(house),
            Some(sen),
            Some(date_of_birth),
            Some(contacts),
        ) => Ok(PupilRecord {
            line: row.line,
            upn,
            given_name,
            family_name,
            year,
            form,
            house,
            sen,
            date_of_birth,
            contacts,
        }),
        _ => Err(problems.found),
    }
}

/// Reads a house name: at most [`MAX_HOUSE_CHARS`] characters, no control characters.
pub fn parse_house(raw: &str) -> Result<String, String> {
    let name = raw.trim();
    if name.chars().count() > MAX_HOUSE_CHARS || name.chars().any(char::is_control) {
        return Err(format!(
            "a house name is at most {MAX_HOUSE_CHARS} characters"
        ));
    }
    Ok(name.to_string())
}

fn name_of(what: &str, raw: &str) -> Result<PersonName, String> {
    PersonName::parse("name", raw).map_err(|e| format!("the {what} {}", e.message))
}

/// The letters a UPN's check letter is drawn from (I, O and S are not used).
const CHECK_LETTERS: &[u8; 23] = b"ABCDEFGHJKLMNPQRTUVWXYZ";

/// The check letter the DfE's algorithm gives the 12 characters after it: each character's
/// value (a digit, or a letter's place among the check letters for a temporary UPN's last
/// character) weighted 2 to 13, summed, modulo 23.
pub fn upn_check_letter(rest: &str) -> Option<char> {
    if rest.chars().count() != 12 {
        return None;
    }
    let mut sum = 0usize;
    for (i, c) in rest.chars().enumerate() {
        let value = match c {
            '0'..='9' => c as usize - '0' as usize,
            'A'..='Z' if i == 11 => CHECK_LETTERS.iter().position(|l| *l as char == c)?,
            _ => return None,
        };
        sum += value * (i + 2);
    }
    Some(CHECK_LETTERS[sum % 23] as char)
}

/// Reads a UPN and checks its check letter.
pub fn parse_checked_upn(raw: &str) -> Result<Upn, String> {
    if raw.trim().is_empty() {
        return Err("the UPN is missing".to_string());
    }
    let upn = Upn::parse(raw).map_err(|_| {
        format!(
            "{:?} is not a UPN: a UPN is 13 characters, a check letter, 11 digits, then a digit or letter",
            raw.trim()
        )
    })?;
    let (first, rest) = upn.as_str().split_at(1);
    match upn_check_letter(rest) {
        Some(letter) if first.starts_with(letter) => Ok(upn),
        Some(letter) => Err(format!(
            "the UPN {} has the check letter {first}, but its digits give {letter}: it has been mistyped",
            upn.as_str()
        )),
        None => Err(format!(
            "the UPN {} cannot carry a valid check letter",
            upn.as_str()
        )),
    }
}

/// Reads a year as MIS reports write it: `7`, `Year 7`, `Y7`, `Yr 7`, `R` or `Reception`.
pub fn parse_year(raw: &str) -> Result<YearNumber, String> {
    let text = raw.trim().to_ascii_lowercase();
    if text == "r" || text == "reception" || text == "year r" {
        return YearNumber::new(0).map_err(|e| e.message);
    }
    let digits = text
        .strip_prefix("year")
        .or_else(|| text.strip_prefix("yr"))
        .or_else(|| text.strip_prefix('y'))
        .unwrap_or(&text)
        .trim();
    match digits.parse::<i64>() {
        Ok(year) if (0..=14).contains(&year) => YearNumber::new(year).map_err(|e| e.message),
        _ => Err(format!(
            "{:?} is not a year group: write 7, Year 7 or Y7 (Reception to Year 14)",
            raw.trim()
        )),
    }
}

/// Reads an SEN status as the census codes it: `N` (none, or blank), `K` (SEN Support),
/// `E` (EHC plan); the words are read too.
pub fn parse_sen(raw: &str) -> Result<SenStatus, String> {
    match header_words(raw).as_str() {
        "" | "n" | "none" | "nosen" | "no" => Ok(SenStatus::None),
        "k" | "sensupport" | "senk" | "support" => Ok(SenStatus::SenSupport),
        "e" | "ehcp" | "ehcplan" | "s" | "statement" => Ok(SenStatus::Ehcp),
        _ => Err(format!(
            "{:?} is not an SEN status: write N, K or E",
            raw.trim()
        )),
    }
}

fn header_words(raw: &str) -> String {
    super::import::header_key(raw)
}

/// Reads a date written the British way, `dd/mm/yyyy` (also with `-` or `.`), or as
/// `yyyy-mm-dd`.
pub fn parse_uk_date(raw: &str) -> Result<NaiveDate, String> {
    let text = raw.trim();
    ["%d/%m/%Y", "%d-%m-%Y", "%d.%m.%Y", "%Y-%m-%d"]
        .iter()
        .find_map(|format| NaiveDate::parse_from_str(text, format).ok())
        .ok_or_else(|| format!("{text:?} is not a date: write it as dd/mm/yyyy"))
}

// ---------------------------------------------------------------------------------------------
// Comparing with what is stored
// ---------------------------------------------------------------------------------------------

/// A pupil as Steadfast holds them, for comparing with a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredPupil {
    pub id: i64,
    pub upn: String,
    pub given_name: String,
    pub family_name: String,
    pub year: i16,
    pub form: String,
    pub house: Option<String>,
    pub sen: SenStatus,
    pub date_of_birth: Option<NaiveDate>,
    /// Whether they are marked as left.
    pub left: bool,
    /// Their contacts as held, in order.
    pub contacts: Vec<ContactFacts>,
}

impl StoredPupil {
    /// "Given Family", as pages show it.
    pub fn full_name(&self) -> String {
        format!("{} {}", self.given_name, self.family_name)
    }
}

/// One field a file changes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct FieldChange {
    /// The field: `given_name`, `family_name`, `year`, `form`, `house`, `sen_status`,
    /// `date_of_birth`, `contacts` or `on_roll`.
    pub field: &'static str,
    /// As stored (blank when none).
    pub from: String,
    /// As the file gives it (blank when none).
    pub to: String,
}

/// A stored pupil the file changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangedPupil {
    pub id: i64,
    pub record: PupilRecord,
    pub changes: Vec<FieldChange>,
    /// Marked as left, and back on roll with this file.
    pub restored: bool,
}

/// What importing a file would do to the roll.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RosterPlan {
    /// Pupils not yet held.
    pub added: Vec<PupilRecord>,
    /// Pupils held whose details the file changes (or who come back).
    pub changed: Vec<ChangedPupil>,
    /// Pupils on roll who are not in a whole-roll file: they would be marked as left.
    pub left: Vec<StoredPupil>,
    /// How many pupils the file gives exactly as held.
    pub unchanged: usize,
}

impl RosterPlan {
    /// Whether applying the plan would change nothing.
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.changed.is_empty() && self.left.is_empty()
    }
}

/// Compares the file's pupils with the stored ones, matching by UPN only. With `full_roll`
/// (the file is the whole roll), a pupil on roll and not in the file is to be marked as
/// left; otherwise pupils not in the file are left alone. A column the file does not have
/// (house, SEN, date of birth) changes nothing.
pub fn plan_roster(
    stored: &[StoredPupil],
    incoming: Vec<PupilRecord>,
    columns: &ColumnMap,
    full_roll: bool,
) -> RosterPlan {
    let by_upn: HashMap<&str, &StoredPupil> = stored.iter().map(|p| (p.upn.as_str(), p)).collect();
    let mut plan = RosterPlan::default();
    let mut seen: HashSet<&str> = HashSet::new();
    for record in incoming {
        let Some(held) = by_upn.get(record.upn.as_str()) else {
            plan.added.push(record);
            continue;
        };
        seen.insert(held.upn.as_str());
        let changes = field_changes(held, &record, columns);
        if changes.is_empty() && !held.left {
            plan.unchanged += 1;
            continue;
        }
        let mut changes = changes;
        if held.left {
            changes.push(FieldChange {
                field: "on_roll",
                from: "left".to_string(),
                to: "on roll".to_string(),
            });
        }
        plan.changed.push(ChangedPupil {
            id: held.id,
            record,
            changes,
            restored: held.left,
        });
    }
    if full_roll {
        plan.left = stored
            .iter()
            .filter(|p| !p.left && !seen.contains(p.upn.as_str()))
            .cloned()
            .collect();
    }
    plan
}

/// The fields where the file differs from what is held.
fn field_changes(
    held: &StoredPupil,
    record: &PupilRecord,
    columns: &ColumnMap,
) -> Vec<FieldChange> {
    let mut changes = Vec::new();
    let mut compare = |field: &'static str, from: String, to: String| {
        if from != to {
            changes.push(FieldChange { field, from, to });
        }
    };
    compare(
        "given_name",
        held.given_name.clone(),
        record.given_name.as_str().to_string(),
    );
    compare(
        "family_name",
        held.family_name.clone(),
        record.family_name.as_str().to_string(),
    );
    compare("year", held.year.to_string(), record.year.get().to_string());
    compare("form", held.form.clone(), record.form.as_str().to_string());
    if columns.has("house") {
        compare(
            "house",
            held.house.clone().unwrap_or_default(),
            record.house.clone().unwrap_or_default(),
        );
    }
    if let Some(sen) = record.sen {
        compare(
            "sen_status",
            held.sen.as_str().to_string(),
            sen.as_str().to_string(),
        );
    }
    if columns.has("date_of_birth") {
        let show = |d: Option<NaiveDate>| d.map(|d| d.to_string()).unwrap_or_default();
        compare(
            "date_of_birth",
            show(held.date_of_birth),
            show(record.date_of_birth),
        );
    }
    if let Some(contacts) = &record.contacts {
        let facts: Vec<ContactFacts> = contacts.iter().map(Contact::facts).collect();
        if facts != held.contacts {
            changes.push(FieldChange {
                field: "contacts",
                from: describe(&held.contacts),
                to: describe(&facts),
            });
        }
    }
    changes
}

/// The year groups and forms a plan names, for creating those that do not exist yet.
pub fn forms_named(plan: &RosterPlan) -> BTreeMap<String, YearNumber> {
    plan.added
        .iter()
        .chain(plan.changed.iter().map(|c| &c.record))
        .map(|r| (r.form.as_str().to_string(), r.year))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A valid UPN for a serial number, as the DfE would issue it.
    fn upn(serial: u32) -> String {
        let rest = format!("{:012}", 820_200_126_000u64 + u64::from(serial));
        format!("{}{rest}", upn_check_letter(&rest).unwrap())
    }

    fn file(rows: &[String]) -> String {
        let mut text = "UPN,Legal Surname,Legal Forename,Preferred Forename,Year,Reg Group,House,SEN Status,DOB\n".to_string();
        for row in rows {
            text.push_str(row);
            text.push('\n');
        }
        text
    }

    #[test]
    fn check_letters_follow_the_dfe_algorithm() {
        // Worked by hand: digits 8,2,0,2,0,0,1,2,6,0,0,1 weighted 2..13 sum to 131;
        // 131 mod 23 = 16, the seventeenth check letter, T.
        assert_eq!(upn_check_letter("820200126001"), Some('T'));
        assert!(parse_checked_upn("T820200126001").is_ok());
        let wrong = parse_checked_upn("A820200126001").unwrap_err();
        assert!(wrong.contains("check letter A"), "{wrong}");
        assert!(wrong.contains("give T"), "{wrong}");
        assert!(parse_checked_upn("Y8202001260")
            .unwrap_err()
            .contains("13 characters"));
    }

    #[test]
    fn years_are_read_as_mis_reports_write_them() {
        for (raw, year) in [("7", 7), ("Year 7", 7), ("Y7", 7), ("yr 11", 11), ("R", 0)] {
            assert_eq!(parse_year(raw).unwrap().get(), year, "{raw}");
        }
        assert!(parse_year("Year 15").is_err());
        assert!(parse_year("Seven")
            .unwrap_err()
            .contains("not a year group"));
    }

    #[test]
    fn sen_codes_and_dates_are_read() {
        assert_eq!(parse_sen("K").unwrap(), SenStatus::SenSupport);
        assert_eq!(parse_sen("e").unwrap(), SenStatus::Ehcp);
        assert_eq!(parse_sen("").unwrap(), SenStatus::None);
        assert!(parse_sen("X").is_err());
        assert_eq!(
            parse_uk_date("03/09/2013").unwrap(),
            NaiveDate::from_ymd_opt(2013, 9, 3).unwrap()
        );
        assert!(parse_uk_date("2013/31/12").is_err());
    }

    #[test]
    fn pupils_are_read_with_names_kept_exactly() {
        let text = file(&[
            format!("{},O'Connor,Siobhán,,Year 8,8B,Brontë,K,03/09/2013", upn(1)),
            format!("{},Nguyễn,Thị Mai,Mai,Y7,7A,,N,", upn(2)),
        ]);
        let (pupils, _) = read_pupils(&text, &[]).unwrap();
        assert_eq!(pupils.len(), 2);
        assert_eq!(pupils[0].family_name.as_str(), "O'Connor");
        assert_eq!(pupils[0].given_name.as_str(), "Siobhán");
        assert_eq!(pupils[0].house.as_deref(), Some("Brontë"));
        assert_eq!(pupils[0].sen, Some(SenStatus::SenSupport));
        assert_eq!(
            pupils[1].given_name.as_str(),
            "Mai",
            "the preferred forename"
        );
        assert_eq!(pupils[1].year.get(), 7);
        assert_eq!(pupils[1].line, 3);
    }

    #[test]
    fn every_bad_row_is_named_by_line_and_column() {
        let text = file(&[
            format!("{},Smith,Ann,,7,7A,,,", upn(1)),
            "A820200126001,Jones,Bob,,7,7A,,,".to_string(),
            format!("{},,Cat,,Year 15,7A,,Q,31/02/2013", upn(3)),
            format!("{},Smith,Ann,,7,7A,,,", upn(1)),
        ]);
        let problems = read_pupils(&text, &[]).unwrap_err();
        let at: Vec<(usize, &str)> = problems
            .iter()
            .map(|p| (p.line, p.column.as_str()))
            .collect();
        assert_eq!(
            at,
            vec![
                (3, "UPN"),
                (4, "Legal Surname"),
                (4, "Year"),
                (4, "SEN Status"),
                (4, "DOB"),
                (5, "UPN")
            ]
        );
        assert!(problems[0].message.contains("check letter"));
        assert!(problems[5].message.contains("also on line 2"));
    }

    #[test]
    fn names_with_invisible_characters_are_named_by_line_and_column() {
        let text = file(&[
            format!("{},Smith\u{202E},Ann,,7,7A,,,", upn(1)),
            format!("{},Jones,B\u{200B}ob,,7,7A,,,", upn(2)),
        ]);
        let problems = read_pupils(&text, &[]).unwrap_err();
        let at: Vec<(usize, &str)> = problems
            .iter()
            .map(|p| (p.line, p.column.as_str()))
            .collect();
        assert_eq!(at, vec![(2, "Legal Surname"), (3, "Legal Forename")]);
        assert!(problems[0].message.contains("invisible"), "{problems:?}");
    }

    #[test]
    fn an_unrecognised_header_can_be_mapped_by_hand() {
        let text = format!(
            "UPN,Surname,Forename,Yr,Tutor Set\n{},Lee,Kim,9,9C\n",
            upn(4)
        );
        let problems = read_pupils(&text, &[]).unwrap_err();
        assert!(problems.iter().any(|p| p.column == "Year"));
        let mapped = [
            ("Yr".to_string(), "year".to_string()),
            ("Tutor Set".to_string(), "form".to_string()),
        ];
        let (pupils, _) = read_pupils(&text, &mapped).unwrap();
        assert_eq!(pupils[0].form.as_str(), "9C");
    }

    fn stored(id: i64, serial: u32, left: bool) -> StoredPupil {
        StoredPupil {
            id,
            upn: upn(serial),
            given_name: "Ann".into(),
            family_name: "Smith".into(),
            year: 7,
            form: "7A".into(),
            house: None,
            sen: SenStatus::None,
            date_of_birth: None,
            left,
            contacts: Vec::new(),
        }
    }

    #[test]
    fn a_plan_adds_changes_leaves_restores_and_leaves_alone() {
        let held = vec![
            stored(1, 1, false),
            stored(2, 2, false),
            stored(3, 3, false),
            stored(4, 4, true),
        ];
        let text = format!(
            "UPN,Surname,Forename,Year,Form\n{},Smith,Ann,7,7A\n{},Smith,Ann,8,8A\n{},Smith,Ann,7,7A\n{},New,Nia,7,7B\n",
            upn(1),
            upn(2),
            upn(4),
            upn(5)
        );
        let (pupils, columns) = read_pupils(&text, &[]).unwrap();
        let plan = plan_roster(&held, pupils.clone(), &columns, true);
        assert_eq!(plan.unchanged, 1);
        assert_eq!(plan.added.len(), 1);
        assert_eq!(plan.left.iter().map(|p| p.id).collect::<Vec<_>>(), vec![3]);
        assert_eq!(plan.changed.len(), 2);
        let moved = &plan.changed[0];
        assert_eq!(moved.id, 2);
        assert_eq!(
            moved.changes,
            vec![
                FieldChange {
                    field: "year",
                    from: "7".into(),
                    to: "8".into()
                },
                FieldChange {
                    field: "form",
                    from: "7A".into(),
                    to: "8A".into()
                },
            ]
        );
        assert!(plan.changed[1].restored);
        // Not the whole roll: nobody leaves.
        let partial = plan_roster(&held, pupils, &columns, false);
        assert!(partial.left.is_empty());
    }
}
