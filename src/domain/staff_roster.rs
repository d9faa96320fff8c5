//! The school's staff as a CSV file gives them (an MIS staff report, or a list kept by hand):
//! reading each person's email, name, roles, year groups and houses, and comparing them with
//! the staff Steadfast holds to say what an import would add, change (field by field) and
//! leave alone. People are matched by email, ignoring case; an import never deletes anyone
//! and never closes an account (that is done on the staff page).
//!
//! Pure: the file's text and the stored staff come in, a plan goes out; `db::staff_roster`
//! applies the plan in one transaction.

use std::collections::{HashMap, HashSet};

use super::details::{EmailAddress, PersonName, YearNumber};
use super::import::{header_key, ColumnMap, ColumnSpec, CsvRow, CsvTable, RowError, RowProblems};
use super::roster::{parse_house, parse_year, FieldChange};
use super::Role;

/// The columns of a staff file, with the header names staff reports give them.
pub const STAFF_COLUMNS: &[ColumnSpec] = &[
    ColumnSpec {
        key: "email",
        label: "Email",
        aliases: &[
            "Email",
            "Email Address",
            "Work Email",
            "School Email",
            "Work Email Address",
            "E-mail",
            "Mail",
        ],
        required: true,
    },
    ColumnSpec {
        key: "name",
        label: "Name",
        aliases: &["Name", "Full Name", "Staff Name", "Display Name"],
        required: false,
    },
    ColumnSpec {
        key: "title",
        label: "Title",
        aliases: &["Title", "Salutation"],
        required: false,
    },
    ColumnSpec {
        key: "given_name",
        label: "Forename",
        aliases: &[
            "Forename",
            "First Name",
            "Given Name",
            "Preferred Forename",
            "Legal Forename",
        ],
        required: false,
    },
    ColumnSpec {
        key: "family_name",
        label: "Surname",
        aliases: &["Surname", "Last Name", "Family Name", "Legal Surname"],
        required: false,
    },
    ColumnSpec {
        key: "roles",
        label: "Roles",
        aliases: &["Roles", "Role", "Staff Roles", "Steadfast Roles"],
        required: false,
    },
    ColumnSpec {
        key: "year_groups",
        label: "Year Groups",
        aliases: &[
            "Year Groups",
            "Year Group",
            "Years",
            "Year",
            "Years Led",
            "Year Groups Led",
        ],
        required: false,
    },
    ColumnSpec {
        key: "houses",
        label: "Houses",
        aliases: &["Houses", "House", "Houses Led"],
        required: false,
    },
];

/// One person as the file gives them, every field checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaffRecord {
    /// The line of the file the person is on.
    pub line: usize,
    /// Their email address, lower-cased: what they are matched by.
    pub email: EmailAddress,
    /// Their name as pages show it.
    pub name: PersonName,
    /// Their roles, sorted; `None` when the file gives none (no Roles column, or a blank
    /// cell): a new person is then class staff and a held person keeps their roles.
    pub roles: Option<Vec<Role>>,
    /// The year groups they lead, sorted; `None` when the file has no such column (a blank
    /// cell in the column means none).
    pub year_groups: Option<Vec<YearNumber>>,
    /// The houses they lead, sorted; `None` when the file has no such column.
    pub houses: Option<Vec<String>>,
}

impl StaffRecord {
    /// The roles a new account gets: those the file gives, or class staff.
    pub fn roles_for_new(&self) -> Vec<Role> {
        self.roles.clone().unwrap_or_else(|| vec![Role::ClassStaff])
    }
}

/// Reads every person of a staff file, with `mapped` naming the column chosen by hand for
/// headers it does not recognise. Answers the people that read cleanly and a problem for
/// every row (or header) that does not; an email given twice is a problem at its second line.
pub fn read_staff(
    text: &str,
    mapped: &[(String, String)],
) -> Result<(Vec<StaffRecord>, ColumnMap), Vec<RowError>> {
    let table = CsvTable::parse(text).map_err(|e| vec![e])?;
    let map = ColumnMap::recognise(STAFF_COLUMNS, &table.headers, mapped)?;
    let named = map.has("name") || (map.has("given_name") && map.has("family_name"));
    if !named {
        return Err(vec![RowError::new(
            1,
            "Name",
            "no column for the name: expected a header such as Name, or both Forename and Surname",
        )]);
    }
    let mut people = Vec::new();
    let mut problems = Vec::new();
    let mut first_line: HashMap<String, usize> = HashMap::new();
    for row in &table.rows {
        match read_person(&map, row) {
            Ok(person) => {
                if let Some(first) = first_line.get(person.email.as_str()) {
                    problems.push(map.problem(
                        row,
                        "email",
                        format!(
                            "the email {} is also on line {first}",
                            person.email.as_str()
                        ),
                    ));
                    continue;
                }
                first_line.insert(person.email.as_str().to_string(), row.line);
                people.push(person);
            }
            Err(mut row_problems) => problems.append(&mut row_problems),
        }
    }
    if problems.is_empty() {
        Ok((people, map))
    } else {
        Err(problems)
    }
}

/// Reads one row; every problem of the row at once.
fn read_person(map: &ColumnMap, row: &CsvRow) -> Result<StaffRecord, Vec<RowError>> {
    let mut problems = RowProblems::new(map, row);
    let cell = |key: &str| map.cell(row, key);
    let email = problems.check(
        "email",
        match cell("email") {
            None => Err("the email is missing".to_string()),
            Some(raw) => EmailAddress::parse(raw).map_err(|_| {
                format!("{raw:?} is not an email address: write it as name@school.org")
            }),
        },
    );
    let name_key = if cell("name").is_some() || !map.has("given_name") {
        "name"
    } else {
        "given_name"
    };
    let name = problems.check(name_key, full_name(map, row));
    let roles = problems.check("roles", cell("roles").map(parse_roles).transpose());
    let year_groups = match map.has("year_groups") {
        true => problems.check(
            "year_groups",
            parse_year_groups(cell("year_groups").unwrap_or_default()).map(Some),
        ),
        false => Some(None),
    };
    let houses = match map.has("houses") {
        true => problems.check(
            "houses",
            parse_houses(cell("houses").unwrap_or_default()).map(Some),
        ),
        false => Some(None),
    };
    match (email, name, roles, year_groups, houses) {
        (Some(email), Some(name), Some(roles), Some(year_groups), Some(houses)) => {
            Ok(StaffRecord {
                line: row.line,
                email,
                name,
                roles,
                year_groups,
                houses,
            })
        }
        _ => Err(problems.found),
    }
}

/// The person's name: the Name cell, or Title, Forename and Surname joined.
fn full_name(map: &ColumnMap, row: &CsvRow) -> Result<PersonName, String> {
    let whole = match map.cell(row, "name") {
        Some(name) => name.to_string(),
        None => {
            let given = map.cell(row, "given_name");
            let family = map.cell(row, "family_name");
            if given.is_none() && family.is_none() {
                return Err("the name is missing".to_string());
            }
            [map.cell(row, "title"), given, family]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(" ")
        }
    };
    PersonName::parse("name", &whole).map_err(|e| format!("the name {}", e.message))
}

/// The parts of a cell holding several values: separated by `;`, `|` or `,`, trimmed,
/// blanks dropped.
fn parts(raw: &str) -> impl Iterator<Item = &str> {
    raw.split([';', '|', ','])
        .map(str::trim)
        .filter(|part| !part.is_empty())
}

/// Reads one role: its code (`pastoral_lead`) or a name schools use for it ("Head of Year",
/// "SENCO", "Teacher"), ignoring case, spaces and punctuation.
pub fn parse_role(raw: &str) -> Result<Role, String> {
    if let Ok(role) = Role::parse(raw) {
        return Ok(role);
    }
    let key = header_key(raw);
    let role = match key.as_str() {
        "classstaff" | "teacher" | "teachers" | "classteacher" | "teachingstaff"
        | "teachingassistant" | "ta" | "lsa" | "learningsupportassistant" | "tutor"
        | "formtutor" | "staff" => Role::ClassStaff,
        "pastorallead" | "pastoral" | "headofyear" | "hoy" | "headofhouse" | "hoh"
        | "yearleader" | "yearlead" | "progressleader" | "pastoralleader" => Role::PastoralLead,
        "hod" | "headofdepartment" | "headoffaculty" | "subjectleader" | "subjectlead"
        | "curriculumleader" => Role::Hod,
        "sendco" | "senco" | "sendcoordinator" | "sencoordinator" | "inclusionlead"
        | "inclusionleader" => Role::Sendco,
        "slt" | "seniorleadership" | "seniorleadershipteam" | "seniorleader" | "headteacher"
        | "head" | "deputyhead" | "deputyheadteacher" | "assistanthead"
        | "assistantheadteacher" | "principal" | "viceprincipal" | "assistantprincipal" => {
            Role::Slt
        }
        "specialist" | "specialistpractitioner" | "practitioner" | "learningmentor"
        | "mentor" | "coach" => Role::Specialist,
        "admin" | "administrator" | "systemadministrator" | "systemadmin" | "misadministrator"
        | "datamanager" => Role::Admin,
        _ => {
            return Role::ALL
                .into_iter()
                .find(|role| header_key(role.title()) == key)
                .ok_or_else(|| {
                    format!(
                        "{:?} is not a role: use Class staff (or Teacher), Head of Year, Head of Department, SENDCO, SLT, Specialist or Admin",
                        raw.trim()
                    )
                })
        }
    };
    Ok(role)
}

/// Reads a cell of roles (at least one), sorted and without repeats.
pub fn parse_roles(raw: &str) -> Result<Vec<Role>, String> {
    let mut roles = parts(raw).map(parse_role).collect::<Result<Vec<_>, _>>()?;
    roles.sort();
    roles.dedup();
    if roles.is_empty() {
        return Err("no role is given".to_string());
    }
    Ok(roles)
}

/// Reads a cell of year groups (`9;10`, `Year 9`, `Y7, Y8`, a range such as `7-9`), sorted
/// and without repeats; a blank cell is none.
pub fn parse_year_groups(raw: &str) -> Result<Vec<YearNumber>, String> {
    let mut years = Vec::new();
    for part in parts(raw) {
        match part.split_once('-') {
            Some((from, to)) => {
                let (from, to) = (parse_year(from)?, parse_year(to)?);
                if from > to {
                    return Err(format!(
                        "{part:?} is not a range of year groups: write the lower year first, as 7-9"
                    ));
                }
                for year in from.get()..=to.get() {
                    years.push(YearNumber::new(i64::from(year)).map_err(|e| e.message)?);
                }
            }
            None => years.push(parse_year(part)?),
        }
    }
    years.sort();
    years.dedup();
    Ok(years)
}

/// Reads a cell of houses, sorted and without repeats; a blank cell is none.
pub fn parse_houses(raw: &str) -> Result<Vec<String>, String> {
    let mut houses = parts(raw).map(parse_house).collect::<Result<Vec<_>, _>>()?;
    houses.sort();
    houses.dedup();
    Ok(houses)
}

// ---------------------------------------------------------------------------------------------
// Comparing with what is stored
// ---------------------------------------------------------------------------------------------

/// A member of staff as Steadfast holds them, for comparing with a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredStaff {
    pub id: i64,
    /// Lower-cased, as stored.
    pub email: String,
    pub name: String,
    /// Sorted.
    pub roles: Vec<Role>,
    /// Sorted.
    pub year_groups: Vec<i16>,
    /// Sorted.
    pub houses: Vec<String>,
    /// Whether the account may sign in.
    pub active: bool,
}

/// A held member of staff the file changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangedStaff {
    pub id: i64,
    pub record: StaffRecord,
    /// `name`, `roles`, `year_groups` or `houses`, each from what is held to what the file
    /// gives.
    pub changes: Vec<FieldChange>,
}

/// What importing a staff file would do.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StaffPlan {
    /// People not yet held: each gets an account (without a password until they choose one).
    pub added: Vec<StaffRecord>,
    /// People held whose details the file changes.
    pub changed: Vec<ChangedStaff>,
    /// How many people the file gives exactly as held.
    pub unchanged: usize,
}

impl StaffPlan {
    /// Whether applying the plan would change nothing.
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.changed.is_empty()
    }
}

/// Roles as a comparison shows them: their codes, joined by `; `.
pub fn show_roles(roles: &[Role]) -> String {
    roles
        .iter()
        .map(|r| r.as_str())
        .collect::<Vec<_>>()
        .join("; ")
}

/// Year groups as a comparison shows them: `9; 10`.
pub fn show_years(years: &[i16]) -> String {
    years
        .iter()
        .map(i16::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// Compares the file's people with the school's staff, matching by email only.
/// `elsewhere` holds the emails of accounts of other schools (an address is one account in
/// the whole deployment): a person with one of them is a problem at their line.
pub fn plan_staff(
    stored: &[StoredStaff],
    elsewhere: &HashSet<String>,
    incoming: Vec<StaffRecord>,
    columns: &ColumnMap,
) -> Result<StaffPlan, Vec<RowError>> {
    let by_email: HashMap<&str, &StoredStaff> =
        stored.iter().map(|s| (s.email.as_str(), s)).collect();
    let mut plan = StaffPlan::default();
    let mut problems = Vec::new();
    for record in incoming {
        let Some(held) = by_email.get(record.email.as_str()) else {
            if elsewhere.contains(record.email.as_str()) {
                problems.push(RowError::new(
                    record.line,
                    columns.header("email"),
                    format!(
                        "the email {} belongs to an account of another school",
                        record.email.as_str()
                    ),
                ));
            } else {
                plan.added.push(record);
            }
            continue;
        };
        let changes = field_changes(held, &record);
        if changes.is_empty() {
            plan.unchanged += 1;
        } else {
            plan.changed.push(ChangedStaff {
                id: held.id,
                record,
                changes,
            });
        }
    }
    if problems.is_empty() {
        Ok(plan)
    } else {
        Err(problems)
    }
}

/// The fields where the file differs from what is held; what the file does not give is
/// left as held.
fn field_changes(held: &StoredStaff, record: &StaffRecord) -> Vec<FieldChange> {
    let mut changes = Vec::new();
    let mut compare = |field: &'static str, from: String, to: String| {
        if from != to {
            changes.push(FieldChange { field, from, to });
        }
    };
    compare("name", held.name.clone(), record.name.as_str().to_string());
    if let Some(roles) = &record.roles {
        compare("roles", show_roles(&held.roles), show_roles(roles));
    }
    if let Some(years) = &record.year_groups {
        let years: Vec<i16> = years.iter().map(|y| y.get()).collect();
        compare(
            "year_groups",
            show_years(&held.year_groups),
            show_years(&years),
        );
    }
    if let Some(houses) = &record.houses {
        compare("houses", held.houses.join("; "), houses.join("; "));
    }
    changes
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = "Title,Forename,Surname,Work Email,Roles,Year Groups,Houses\n";

    fn file(rows: &[&str]) -> String {
        let mut text = HEADER.to_string();
        for row in rows {
            text.push_str(row);
            text.push('\n');
        }
        text
    }

    #[test]
    fn roles_are_read_by_code_and_by_the_names_schools_use() {
        for (raw, role) in [
            ("class_staff", Role::ClassStaff),
            ("Teacher", Role::ClassStaff),
            ("Class staff", Role::ClassStaff),
            ("Head of Year", Role::PastoralLead),
            ("PASTORAL_LEAD", Role::PastoralLead),
            ("Head of Department", Role::Hod),
            ("SENDCO", Role::Sendco),
            ("SENCo", Role::Sendco),
            ("SLT", Role::Slt),
            ("Senior leadership (SLT)", Role::Slt),
            ("Specialist practitioner", Role::Specialist),
            ("Admin", Role::Admin),
        ] {
            assert_eq!(parse_role(raw), Ok(role), "{raw}");
        }
        let unknown = parse_role("Caretaker").unwrap_err();
        assert!(unknown.contains("\"Caretaker\" is not a role"), "{unknown}");
        assert_eq!(
            parse_roles("Teacher; Head of Year|teacher, SLT").unwrap(),
            vec![Role::ClassStaff, Role::PastoralLead, Role::Slt]
        );
        assert!(parse_roles(" ; ").is_err());
    }

    #[test]
    fn year_groups_and_houses_are_read_as_lists() {
        let years = |raw| {
            parse_year_groups(raw)
                .unwrap()
                .iter()
                .map(|y| y.get())
                .collect::<Vec<_>>()
        };
        assert_eq!(years("9;10"), vec![9, 10]);
        assert_eq!(years("Year 9"), vec![9]);
        assert_eq!(years("Y11, Y7 | 7"), vec![7, 11]);
        assert_eq!(years("7-9"), vec![7, 8, 9]);
        assert_eq!(years(""), Vec::<i16>::new());
        assert!(parse_year_groups("Year 15")
            .unwrap_err()
            .contains("not a year group"));
        assert!(parse_year_groups("9-7").is_err());
        assert_eq!(
            parse_houses("Brontë; Austen;Austen").unwrap(),
            vec!["Austen", "Brontë"]
        );
    }

    #[test]
    fn people_are_read_with_names_kept_exactly() {
        let text = file(&[
            "Ms,Siân,O'Neill,S.ONeill@School.Example,\"Teacher, Head of Year\",Year 9;10,Brontë",
            "Mr,Tomás,Ó Briain,tob@school.example,,,",
        ]);
        let (people, _) = read_staff(&text, &[]).unwrap();
        assert_eq!(people.len(), 2);
        let sian = &people[0];
        assert_eq!(sian.name.as_str(), "Ms Siân O'Neill");
        assert_eq!(sian.email.as_str(), "s.oneill@school.example");
        assert_eq!(sian.roles, Some(vec![Role::ClassStaff, Role::PastoralLead]));
        assert_eq!(
            sian.year_groups
                .as_ref()
                .map(|ys| ys.iter().map(|y| y.get()).collect::<Vec<_>>()),
            Some(vec![9, 10])
        );
        assert_eq!(sian.houses, Some(vec!["Brontë".to_string()]));
        let tomas = &people[1];
        assert_eq!(tomas.line, 3);
        assert_eq!(tomas.roles, None, "a blank cell gives no roles");
        assert_eq!(tomas.roles_for_new(), vec![Role::ClassStaff]);
        assert_eq!(tomas.year_groups, Some(Vec::new()));
    }

    #[test]
    fn a_name_column_or_forename_and_surname_is_needed() {
        let problems = read_staff("Email,Surname\na@b.example,Lee\n", &[]).unwrap_err();
        assert_eq!(problems[0].line, 1);
        assert!(problems[0].message.contains("Forename and Surname"));
        let (people, columns) =
            read_staff("Email Address;Name\nA@B.example;Kim Lee\n", &[]).unwrap();
        assert_eq!(people[0].name.as_str(), "Kim Lee");
        assert!(!columns.has("roles"));
        assert_eq!(people[0].year_groups, None, "no such column: left as held");
    }

    #[test]
    fn every_bad_row_is_named_by_line_and_column() {
        let text = file(&[
            "Mr,Ann,Smith,ann@school.example,Teacher,,",
            "Mr,Bob,Jones,bob-at-school,Caretaker,Year 15,",
            "Ms,,,cat@school.example,SLT,,",
            "Mrs,Ann,Smith,ANN@school.example,Teacher,,",
        ]);
        let problems = read_staff(&text, &[]).unwrap_err();
        let at: Vec<(usize, &str)> = problems
            .iter()
            .map(|p| (p.line, p.column.as_str()))
            .collect();
        assert_eq!(
            at,
            vec![
                (3, "Work Email"),
                (3, "Roles"),
                (3, "Year Groups"),
                (4, "Forename"),
                (5, "Work Email")
            ]
        );
        assert!(problems[0].message.contains("not an email address"));
        assert!(problems[1].message.contains("Caretaker"));
        assert!(problems[4].message.contains("also on line 2"));
    }

    #[test]
    fn invisible_characters_and_markup_are_named_by_line_and_column() {
        let text = file(&[
            "Mr,Ann,Smith\u{2067},ann@school.example,Teacher,,",
            "Mr,Bob,Jones,a<script>@x.y,Teacher,,",
            "Ms,Cat,Lee,\"\"\"<b>x</b>\"\"@example.com\",Teacher,,",
        ]);
        let problems = read_staff(&text, &[]).unwrap_err();
        let at: Vec<(usize, &str)> = problems
            .iter()
            .map(|p| (p.line, p.column.as_str()))
            .collect();
        assert_eq!(
            at,
            vec![(2, "Forename"), (3, "Work Email"), (4, "Work Email")]
        );
        assert!(problems[0].message.contains("invisible"), "{problems:?}");
    }

    fn held(id: i64, email: &str, roles: &[Role], years: &[i16]) -> StoredStaff {
        StoredStaff {
            id,
            email: email.to_string(),
            name: "Ann Smith".to_string(),
            roles: roles.to_vec(),
            year_groups: years.to_vec(),
            houses: Vec::new(),
            active: true,
        }
    }

    #[test]
    fn a_plan_adds_changes_and_leaves_alone_matching_by_email() {
        let stored = vec![
            held(1, "ann@school.example", &[Role::ClassStaff], &[]),
            held(2, "bea@school.example", &[Role::ClassStaff], &[]),
            held(3, "cal@school.example", &[Role::Slt], &[]),
        ];
        let text = "Name,Email,Roles,Year Groups\n\
                    Ann Smith,ANN@school.example,Teacher,\n\
                    Bea Jones,bea@school.example,Head of Year,8\n\
                    Dee New,dee@school.example,,\n";
        let (people, columns) = read_staff(text, &[]).unwrap();
        let plan = plan_staff(&stored, &HashSet::new(), people, &columns).unwrap();
        assert_eq!(plan.unchanged, 1);
        assert_eq!(plan.added.len(), 1);
        assert_eq!(plan.added[0].email.as_str(), "dee@school.example");
        assert_eq!(plan.changed.len(), 1);
        assert_eq!(plan.changed[0].id, 2);
        assert_eq!(
            plan.changed[0].changes,
            vec![
                FieldChange {
                    field: "name",
                    from: "Ann Smith".into(),
                    to: "Bea Jones".into()
                },
                FieldChange {
                    field: "roles",
                    from: "class_staff".into(),
                    to: "pastoral_lead".into()
                },
                FieldChange {
                    field: "year_groups",
                    from: "".into(),
                    to: "8".into()
                },
            ]
        );
    }

    #[test]
    fn an_address_of_another_school_is_a_problem_at_its_line() {
        let (people, columns) = read_staff("Name,Email\nKim Lee,kim@other.example\n", &[]).unwrap();
        let elsewhere: HashSet<String> = ["kim@other.example".to_string()].into();
        let problems = plan_staff(&[], &elsewhere, people, &columns).unwrap_err();
        assert_eq!(problems[0].line, 2);
        assert_eq!(problems[0].column, "Email");
        assert!(problems[0].message.contains("another school"));
    }
}
