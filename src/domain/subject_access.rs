//! A pupil's record as Steadfast gives it out: everything held about one pupil for a subject
//! access request, or the part a receiving school needs when the pupil moves on. It is one
//! value, [`PupilRecord`], from which the readable page, the JSON file and the CSV files are
//! all made, so the forms cannot disagree.
//!
//! A record is a list of [`Section`]s, one per [`RecordType`], each a table of rows whose
//! columns the record type fixes. Columns holding free text typed by staff (an incident's
//! note, a conversation, a meeting's record, a plan, a session note...) may name other
//! people. The rule of [`NameIndex`] decides when such a field names another pupil of the
//! school; [`PupilRecord::assemble`] then withholds that field and lists it "for review
//! before release", so the school can redact it by hand before sending anything.
//!
//! ## When a field names another pupil
//!
//! A field names a pupil when its words hold the pupil's given name followed directly by
//! their family name ("Ben Ade"), or the family name followed by the given name as a register
//! writes it ("Ade, Ben"), in any letter case. Words are runs of letters and digits: spaces,
//! line breaks and punctuation (commas, full stops, hyphens, apostrophes) only separate them,
//! so "ben-ade", "BEN ADE's" and "Ade,\nBen" all name Ben Ade, and a double-barrelled name
//! matches however its parts are joined. A given name or a family name alone does not count
//! (far too many notes say "Ben" of someone else, and a family name is shared by a whole
//! family); neither does part of a word ("Benjamin Ade" does not name Ben Ade). Letters are
//! compared after lower-casing only: "Zoë" and "Zoe" are different names.

use std::collections::{BTreeSet, HashMap};

use serde_json::{Map, Value};

/// What a withheld field shows, in every form of the record.
pub const WITHHELD: &str = "[withheld for review]";

/// Which record a [`PupilRecord`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordKind {
    /// Everything held about the pupil (a subject access request).
    SubjectAccess,
    /// What a receiving school needs when the pupil moves on.
    Transfer,
}

impl RecordKind {
    /// The record's heading.
    pub fn title(self) -> &'static str {
        match self {
            RecordKind::SubjectAccess => "Subject access record",
            RecordKind::Transfer => "Record for the receiving school",
        }
    }

    /// The stable name used in the JSON and in the audit log.
    pub fn name(self) -> &'static str {
        match self {
            RecordKind::SubjectAccess => "subject_access",
            RecordKind::Transfer => "transfer",
        }
    }
}

/// One column of a record type: its stable key (JSON and CSV header), its title on the page,
/// and whether it holds free text staff typed (checked for other pupils' names).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Column {
    pub key: &'static str,
    pub title: &'static str,
    pub free_text: bool,
}

const fn fact(key: &'static str, title: &'static str) -> Column {
    Column {
        key,
        title,
        free_text: false,
    }
}

const fn text(key: &'static str, title: &'static str) -> Column {
    Column {
        key,
        title,
        free_text: true,
    }
}

/// A kind of record held about a pupil: a section of the page, a list in the JSON, a CSV file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RecordType {
    /// The pupil's own details, one row.
    Pupil,
    /// The family contacts kept for the pupil.
    Contacts,
    Incidents,
    Conversations,
    LevelChanges,
    Suggestions,
    Meetings,
    MeetingParticipants,
    MeetingGuests,
    Plans,
    ProgrammeBlocks,
    ProgrammeSessions,
    /// Each block's sessions counted: the transfer record's summary of the programme.
    ProgrammeSummary,
    ProvisionItems,
    ProvisionReviews,
    Emails,
    /// Who opened the pupil's sensitive records, and earlier exports.
    Reads,
    TeachingGroups,
    DailyIncidentCounts,
}

impl RecordType {
    /// Every record type, in the order the record shows them.
    pub const ALL: [RecordType; 19] = [
        RecordType::Pupil,
        RecordType::Contacts,
        RecordType::Incidents,
        RecordType::Conversations,
        RecordType::LevelChanges,
        RecordType::Suggestions,
        RecordType::Meetings,
        RecordType::MeetingParticipants,
        RecordType::MeetingGuests,
        RecordType::Plans,
        RecordType::ProgrammeBlocks,
        RecordType::ProgrammeSessions,
        RecordType::ProgrammeSummary,
        RecordType::ProvisionItems,
        RecordType::ProvisionReviews,
        RecordType::Emails,
        RecordType::Reads,
        RecordType::TeachingGroups,
        RecordType::DailyIncidentCounts,
    ];

    /// The stable name: the JSON key and the CSV file's name (`incidents.csv`).
    pub fn key(self) -> &'static str {
        match self {
            RecordType::Pupil => "pupil",
            RecordType::Contacts => "contacts",
            RecordType::Incidents => "incidents",
            RecordType::Conversations => "conversations",
            RecordType::LevelChanges => "level_changes",
            RecordType::Suggestions => "suggestions",
            RecordType::Meetings => "meetings",
            RecordType::MeetingParticipants => "meeting_participants",
            RecordType::MeetingGuests => "meeting_guests",
            RecordType::Plans => "coaching_plans",
            RecordType::ProgrammeBlocks => "programme_blocks",
            RecordType::ProgrammeSessions => "programme_sessions",
            RecordType::ProgrammeSummary => "programme_summary",
            RecordType::ProvisionItems => "provision_items",
            RecordType::ProvisionReviews => "provision_reviews",
            RecordType::Emails => "emails",
            RecordType::Reads => "record_reads",
            RecordType::TeachingGroups => "teaching_groups",
            RecordType::DailyIncidentCounts => "daily_incident_counts",
        }
    }

    /// One record of this type, named in a sentence or a heading ("Incident 48").
    pub fn noun(self) -> &'static str {
        match self {
            RecordType::Pupil => "Pupil",
            RecordType::Contacts => "Contact",
            RecordType::Incidents => "Incident",
            RecordType::Conversations => "Coaching Conversation",
            RecordType::LevelChanges => "Level change",
            RecordType::Suggestions => "Suggestion",
            RecordType::Meetings => "Meeting",
            RecordType::MeetingParticipants => "Meeting",
            RecordType::MeetingGuests => "Guest",
            RecordType::Plans => "Coaching Plan",
            RecordType::ProgrammeBlocks => "Programme block",
            RecordType::ProgrammeSessions => "Programme session",
            RecordType::ProgrammeSummary => "Programme block",
            RecordType::ProvisionItems => "Provision",
            RecordType::ProvisionReviews => "Provision review",
            RecordType::Emails => "Email",
            RecordType::Reads => "Audit entry",
            RecordType::TeachingGroups => "Teaching group",
            RecordType::DailyIncidentCounts => "Day",
        }
    }

    /// The section's heading.
    pub fn title(self) -> &'static str {
        match self {
            RecordType::Pupil => "The pupil",
            RecordType::Contacts => "Family contacts",
            RecordType::Incidents => "Incidents",
            RecordType::Conversations => "Coaching Conversations",
            RecordType::LevelChanges => "Level history",
            RecordType::Suggestions => "Suggestions and decisions",
            RecordType::Meetings => "Meetings and their records",
            RecordType::MeetingParticipants => "Staff taking part in meetings",
            RecordType::MeetingGuests => "Guests at meetings",
            RecordType::Plans => "Coaching Plans",
            RecordType::ProgrammeBlocks => "Coaching Programme blocks",
            RecordType::ProgrammeSessions => "Coaching Programme sessions",
            RecordType::ProgrammeSummary => "Coaching Programme sessions, counted",
            RecordType::ProvisionItems => "Provision",
            RecordType::ProvisionReviews => "Provision reviews",
            RecordType::Emails => "Emails sent about the pupil",
            RecordType::Reads => "Who read the pupil's sensitive records",
            RecordType::TeachingGroups => "Teaching groups",
            RecordType::DailyIncidentCounts => "Incidents counted by day",
        }
    }

    /// The columns every row of this type has, in order. The first is the record's id (for
    /// counts, the day), the second its date (what the review list shows of a record).
    pub fn columns(self) -> &'static [Column] {
        match self {
            RecordType::Pupil => {
                const COLUMNS: &[Column] = &[
                    fact("id", "Id"),
                    fact("added_on", "On roll in Steadfast since"),
                    fact("upn", "UPN"),
                    fact("given_name", "Given name"),
                    fact("family_name", "Family name"),
                    fact("date_of_birth", "Date of birth"),
                    fact("year", "Year group"),
                    fact("form", "Form"),
                    fact("house", "House"),
                    fact("sen_status", "SEN status"),
                    fact("level", "Current level"),
                    fact("level_name", "Current level, named"),
                    fact("level_since", "At this level since"),
                    fact("programme_block", "Programme block (weeks)"),
                    fact("had_plan", "Has had a Coaching Plan"),
                    fact(
                        "programme_without_impact",
                        "Programme without enough impact",
                    ),
                    fact("last_incident_at", "Latest incident"),
                    fact("left_on", "Left on"),
                ];
                COLUMNS
            }
            RecordType::Incidents => {
                const COLUMNS: &[Column] = &[
                    fact("id", "Id"),
                    fact("occurred_at", "When"),
                    fact("behaviour", "Behaviour"),
                    fact("severity", "Severity"),
                    fact("response", "Response"),
                    text("location", "Place"),
                    text("lesson", "Lesson"),
                    text("note", "Note"),
                    fact("logged_by", "Logged by"),
                    fact("logged_at", "Logged at"),
                    fact("edited_at", "Corrected at"),
                    fact("voided_at", "Undone at"),
                    fact("imported", "Imported"),
                    fact("other_pupils_involved", "Other pupils involved"),
                ];
                COLUMNS
            }
            RecordType::Conversations => {
                const COLUMNS: &[Column] = &[
                    fact("id", "Id"),
                    fact("held_at", "Held"),
                    fact("held_by", "Held by"),
                    text("with_whom", "With"),
                    text("what_happened", "What happened"),
                    text("what_got_in_the_way", "What got in the way"),
                    text("what_could_help", "What could help"),
                    text("plan_next_time", "Plan for next time"),
                    text("good_for_everyone", "Good for everyone"),
                    fact("incident_ids", "Incidents followed up"),
                ];
                COLUMNS
            }
            RecordType::LevelChanges => {
                const COLUMNS: &[Column] = &[
                    fact("id", "Id"),
                    fact("occurred_at", "When"),
                    fact("from_level", "From"),
                    fact("to_level", "To"),
                    text("reason", "Reason"),
                    fact("changed_by", "Changed by"),
                    fact("suggestion_id", "Suggestion"),
                    fact("override", "Override"),
                ];
                COLUMNS
            }
            RecordType::Suggestions => {
                const COLUMNS: &[Column] = &[
                    fact("id", "Id"),
                    fact("created_at", "Suggested"),
                    fact("from_level", "From"),
                    fact("to_level", "To"),
                    fact("rule", "Rule"),
                    text("reason", "Reason"),
                    fact("evidence", "Evidence (incidents)"),
                    fact("status", "Status"),
                    fact("decided_by", "Decided by"),
                    fact("decided_at", "Decided at"),
                    text("decision_note", "Decision note"),
                    fact("snoozed_until", "Snoozed until"),
                ];
                COLUMNS
            }
            RecordType::Meetings => {
                const COLUMNS: &[Column] = &[
                    fact("id", "Id"),
                    fact("due_on", "Due"),
                    fact("level", "Level"),
                    fact("purpose", "Purpose"),
                    fact("status", "Status"),
                    fact("starts_at", "Starts"),
                    fact("duration_minutes", "Minutes"),
                    text("location", "Place"),
                    fact("parent_invited", "Parent or carer invited"),
                    fact("held_at", "Held"),
                    text("summary", "Summary"),
                    fact("goals_met", "Goals met"),
                    text("follow_up", "Follow-up on earlier steps"),
                    text("successes", "Successes"),
                    text("challenges", "Challenges"),
                    text("focus", "Focus"),
                    text("action_steps", "Action steps"),
                    text("next_step", "Next step"),
                    text("cancel_reason", "Why cancelled"),
                ];
                COLUMNS
            }
            RecordType::Contacts => {
                const COLUMNS: &[Column] = &[
                    fact("id", "Id"),
                    fact("position", "Order"),
                    fact("name", "Name"),
                    fact("relationship", "Relationship"),
                    fact("email", "Email"),
                    fact("phone", "Phone"),
                    fact("invited", "Invited to meetings"),
                ];
                COLUMNS
            }
            RecordType::MeetingParticipants => {
                const COLUMNS: &[Column] = &[
                    fact("meeting_id", "Meeting"),
                    fact("due_on", "Meeting due"),
                    fact("staff", "Member of staff"),
                ];
                COLUMNS
            }
            RecordType::MeetingGuests => {
                const COLUMNS: &[Column] = &[
                    fact("id", "Id"),
                    fact("due_on", "Meeting due"),
                    fact("meeting_id", "Meeting"),
                    fact("name", "Name"),
                    fact("email", "Email"),
                    fact("role", "Taking part as"),
                    fact("response", "Their answer"),
                    text("response_note", "Their note"),
                    fact("responded_at", "Answered"),
                ];
                COLUMNS
            }
            RecordType::Plans => {
                const COLUMNS: &[Column] = &[
                    fact("id", "Id"),
                    fact("agreed_at", "Agreed"),
                    fact("version", "Version"),
                    text("goals", "Goals and success criteria"),
                    text("pathway_to_independence", "Pathway to Independence"),
                    text("action_steps", "Action steps"),
                    fact("review_on", "Review"),
                    text("agreed_with", "Agreed with"),
                    fact("agreed_by", "Recorded by"),
                    fact("meeting_id", "Meeting"),
                ];
                COLUMNS
            }
            RecordType::ProgrammeBlocks => {
                const COLUMNS: &[Column] = &[
                    fact("id", "Id"),
                    fact("starts_on", "Starts"),
                    fact("ends_on", "Ends"),
                    fact("weeks", "Weeks"),
                    fact("sessions_per_week", "Sessions a week"),
                    fact("weekdays", "Days"),
                    fact("minutes", "Minutes"),
                    fact("session_time", "Time"),
                    fact("place", "Where"),
                    fact("led_by", "Led by"),
                    fact("practitioner", "Practitioner"),
                    fact("status", "Status"),
                    fact("decision", "Review decision"),
                    text("decision_reason", "Review reason"),
                    fact("fidelity_at_review", "Delivered / planned at review"),
                    fact("reviewed_at", "Reviewed"),
                    fact("reviewed_by", "Reviewed by"),
                    fact("plan_id", "Plan"),
                ];
                COLUMNS
            }
            RecordType::ProgrammeSessions => {
                const COLUMNS: &[Column] = &[
                    fact("id", "Id"),
                    fact("on_date", "Date"),
                    fact("block_id", "Block"),
                    fact("session_time", "Time"),
                    fact("final", "Final session"),
                    fact("outcome", "Outcome"),
                    fact("minutes", "Minutes"),
                    text("delivered_by", "Delivered by"),
                    text("note", "Note"),
                    text("reason", "Reason not delivered"),
                    fact("parent_attended", "Parent or carer attended"),
                    fact("recorded_by", "Recorded by"),
                    fact("recorded_at", "Recorded at"),
                ];
                COLUMNS
            }
            RecordType::ProgrammeSummary => {
                const COLUMNS: &[Column] = &[
                    fact("block_id", "Block"),
                    fact("starts_on", "Starts"),
                    fact("ends_on", "Ends"),
                    fact("weeks", "Weeks"),
                    fact("status", "Status"),
                    fact("planned", "Sessions planned"),
                    fact("delivered", "Delivered"),
                    fact("absent", "Pupil absent"),
                    fact("not_delivered", "Not delivered"),
                    fact("to_come", "Still to come"),
                ];
                COLUMNS
            }
            RecordType::ProvisionItems => {
                const COLUMNS: &[Column] = &[
                    fact("id", "Id"),
                    fact("starts_on", "Starts"),
                    text("what", "Provision"),
                    fact("external", "External"),
                    text("provider", "Provider"),
                    fact("frequency_per_week", "Sessions a week"),
                    fact("session_minutes", "Minutes"),
                    fact("review_on", "Review"),
                    fact("ends_on", "Ends"),
                    fact("cost_per_session", "Cost a session"),
                    text("entry_data", "Entry data"),
                    text("target", "Target"),
                    text("exit_data", "Exit data"),
                    fact("outcome", "Outcome"),
                    fact("status", "Status"),
                    fact("added_by", "Added by"),
                ];
                COLUMNS
            }
            RecordType::ProvisionReviews => {
                const COLUMNS: &[Column] = &[
                    fact("id", "Id"),
                    fact("reviewed_on", "Reviewed"),
                    fact("item_id", "Provision"),
                    text("assessment", "Assessment"),
                    fact("progress", "Progress"),
                    text("next_plan", "Plan for the next cycle"),
                    fact("decision", "Decision"),
                    fact("next_review_on", "Next review"),
                    fact("reviewed_by", "Reviewed by"),
                ];
                COLUMNS
            }
            RecordType::Emails => {
                const COLUMNS: &[Column] = &[
                    fact("id", "Id"),
                    fact("queued_at", "Queued"),
                    fact("subject", "Subject"),
                    fact("recipient", "To"),
                    fact("status", "Status"),
                    fact("sent_at", "Sent"),
                    fact("meeting_id", "About meeting"),
                ];
                COLUMNS
            }
            RecordType::Reads => {
                const COLUMNS: &[Column] = &[
                    fact("id", "Id"),
                    fact("at", "When"),
                    fact("reader", "Who"),
                    fact("action", "What"),
                    fact("detail", "Detail"),
                ];
                COLUMNS
            }
            RecordType::TeachingGroups => {
                const COLUMNS: &[Column] = &[
                    fact("id", "Id"),
                    fact("source_id", "Source id"),
                    fact("name", "Group"),
                    fact("subject", "Subject"),
                ];
                COLUMNS
            }
            RecordType::DailyIncidentCounts => {
                const COLUMNS: &[Column] = &[
                    fact("day", "Day"),
                    fact("weekday", "Weekday"),
                    fact("incidents", "Incidents"),
                ];
                COLUMNS
            }
        }
    }
}

/// One row of a section: the values of its record type's columns, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub cells: Vec<String>,
    /// The indexes of the cells withheld for review.
    pub withheld: Vec<usize>,
}

impl Row {
    /// A row of `cells`, nothing withheld yet.
    pub fn new(cells: Vec<String>) -> Self {
        Row {
            cells,
            withheld: Vec::new(),
        }
    }

    /// Whether the cell at `index` is withheld.
    pub fn is_withheld(&self, index: usize) -> bool {
        self.withheld.contains(&index)
    }
}

/// Every row of one record type held about the pupil.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    pub record_type: RecordType,
    pub rows: Vec<Row>,
}

/// Another pupil of the same school, as far as the name rule needs them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OtherPupil {
    pub upn: String,
    pub given_name: String,
    pub family_name: String,
}

/// A field withheld because it names other pupils: where it is and whom it names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForReview {
    pub record_type: RecordType,
    /// The record's id (the first column).
    pub record_id: String,
    /// The record's date (the second column).
    pub date: String,
    /// The field's column key.
    pub field: &'static str,
    /// The UPNs of the pupils it names.
    pub names: Vec<String>,
}

/// Who the record is about and when it was made, shown at its head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Heading {
    pub school_code: String,
    pub school_name: String,
    /// When the record was made (RFC 3339, school time).
    pub generated_at: String,
    /// Who made it: a member of staff's name, or the command line.
    pub generated_by: String,
}

/// Why the parts of a record do not fit together: a fault in the code gathering them.
#[derive(thiserror::Error, Debug, Clone, PartialEq, Eq)]
pub enum RecordError {
    #[error("a {record_type:?} row has {found} cells where its type has {expected} columns")]
    WrongWidth {
        record_type: RecordType,
        expected: usize,
        found: usize,
    },
    #[error("the pupil's details were given as a section of their own")]
    PupilAsSection,
}

/// A pupil's record as given out, with what was withheld listed for review.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PupilRecord {
    pub kind: RecordKind,
    pub heading: Heading,
    /// The pupil's details: a section of one row.
    pub pupil: Section,
    /// The other sections, in [`RecordType::ALL`] order.
    pub sections: Vec<Section>,
    pub for_review: Vec<ForReview>,
}

impl PupilRecord {
    /// Puts a record together: checks every row fits its type, orders the sections, and
    /// withholds each free-text field that names one of `others` (the school's other pupils),
    /// listing it for review.
    pub fn assemble(
        kind: RecordKind,
        heading: Heading,
        pupil: Row,
        mut sections: Vec<Section>,
        others: &[OtherPupil],
    ) -> Result<PupilRecord, RecordError> {
        let pupil = Section {
            record_type: RecordType::Pupil,
            rows: vec![pupil],
        };
        for section in std::iter::once(&pupil).chain(&sections) {
            let expected = section.record_type.columns().len();
            if let Some(row) = section.rows.iter().find(|r| r.cells.len() != expected) {
                return Err(RecordError::WrongWidth {
                    record_type: section.record_type,
                    expected,
                    found: row.cells.len(),
                });
            }
        }
        if sections.iter().any(|s| s.record_type == RecordType::Pupil) {
            return Err(RecordError::PupilAsSection);
        }
        sections.sort_by_key(|s| s.record_type);
        let index = NameIndex::new(others);
        let mut for_review = Vec::new();
        for section in &mut sections {
            let columns = section.record_type.columns();
            for row in &mut section.rows {
                for (i, column) in columns.iter().enumerate() {
                    if !column.free_text {
                        continue;
                    }
                    let names = index.named_in(&row.cells[i]);
                    if names.is_empty() {
                        continue;
                    }
                    for_review.push(ForReview {
                        record_type: section.record_type,
                        record_id: row.cells[0].clone(),
                        date: row.cells[1].clone(),
                        field: column.key,
                        names,
                    });
                    row.cells[i] = WITHHELD.to_string();
                    row.withheld.push(i);
                }
            }
        }
        Ok(PupilRecord {
            kind,
            heading,
            pupil,
            sections,
            for_review,
        })
    }

    /// The section of `record_type`, when the record has one.
    pub fn section(&self, record_type: RecordType) -> Option<&Section> {
        if record_type == RecordType::Pupil {
            return Some(&self.pupil);
        }
        self.sections.iter().find(|s| s.record_type == record_type)
    }

    /// The pupil's detail under `key` (a [`RecordType::Pupil`] column), or "".
    pub fn pupil_detail(&self, key: &str) -> &str {
        RecordType::Pupil
            .columns()
            .iter()
            .position(|c| c.key == key)
            .and_then(|i| self.pupil.rows.first()?.cells.get(i))
            .map_or("", String::as_str)
    }

    /// The whole record as one JSON document: the heading, the pupil, each record type as a
    /// list of objects keyed by column, and the fields listed for review.
    pub fn to_json(&self) -> Value {
        let object = |section: &Section, row: &Row| {
            let mut fields = Map::new();
            for (column, cell) in section.record_type.columns().iter().zip(&row.cells) {
                fields.insert(column.key.to_string(), Value::String(cell.clone()));
            }
            Value::Object(fields)
        };
        let mut records = Map::new();
        for section in &self.sections {
            records.insert(
                section.record_type.key().to_string(),
                Value::Array(section.rows.iter().map(|r| object(section, r)).collect()),
            );
        }
        let review: Vec<Value> = self
            .for_review
            .iter()
            .map(|item| {
                serde_json::json!({
                    "record_type": item.record_type.key(),
                    "record_id": item.record_id,
                    "date": item.date,
                    "field": item.field,
                    "names_pupils": item.names,
                })
            })
            .collect();
        serde_json::json!({
            "kind": self.kind.name(),
            "school": {"code": self.heading.school_code, "name": self.heading.school_name},
            "generated_at": self.heading.generated_at,
            "generated_by": self.heading.generated_by,
            "pupil": self.pupil.rows.first().map(|r| object(&self.pupil, r)),
            "records": records,
            "withheld_marker": WITHHELD,
            "for_review": review,
        })
    }

    /// One table per record type (the pupil first, then each section, then the fields for
    /// review): its file name and its rows, the column keys as the first.
    pub fn csv_tables(&self) -> Vec<(String, Vec<Vec<String>>)> {
        let mut tables: Vec<(String, Vec<Vec<String>>)> = std::iter::once(&self.pupil)
            .chain(&self.sections)
            .map(|section| {
                let header = section
                    .record_type
                    .columns()
                    .iter()
                    .map(|c| c.key.to_string())
                    .collect();
                let rows = std::iter::once(header)
                    .chain(section.rows.iter().map(|r| r.cells.clone()))
                    .collect();
                (format!("{}.csv", section.record_type.key()), rows)
            })
            .collect();
        let header = ["record_type", "record_id", "date", "field", "names_pupils"];
        let rows = std::iter::once(header.iter().map(|h| h.to_string()).collect())
            .chain(self.for_review.iter().map(|item| {
                vec![
                    item.record_type.key().to_string(),
                    item.record_id.clone(),
                    item.date.clone(),
                    item.field.to_string(),
                    item.names.join(" "),
                ]
            }))
            .collect();
        tables.push(("for_review.csv".to_string(), rows));
        tables
    }
}

/// A field's column title, for the review list.
pub fn field_title(record_type: RecordType, key: &str) -> &'static str {
    record_type
        .columns()
        .iter()
        .find(|c| c.key == key)
        .map_or("", |c| c.title)
}

/// The words of a text as the name rule compares them: runs of letters and digits, lower-cased.
fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

/// The school's other pupils' names, ready to look for in free text (see the module's rule).
#[derive(Debug, Clone, Default)]
pub struct NameIndex {
    /// Each name's word sequences (given then family, family then given) with the pupil's
    /// UPN, by their first word.
    by_first_word: HashMap<String, Vec<(Vec<String>, String)>>,
}

impl NameIndex {
    /// The index of `pupils`' names; a pupil missing a given or family name is left out.
    pub fn new(pupils: &[OtherPupil]) -> Self {
        let mut by_first_word: HashMap<String, Vec<(Vec<String>, String)>> = HashMap::new();
        for pupil in pupils {
            let (given, family) = (words(&pupil.given_name), words(&pupil.family_name));
            if given.is_empty() || family.is_empty() {
                continue;
            }
            for sequence in [
                [given.clone(), family.clone()].concat(),
                [family.clone(), given.clone()].concat(),
            ] {
                by_first_word
                    .entry(sequence[0].clone())
                    .or_default()
                    .push((sequence, pupil.upn.clone()));
            }
        }
        NameIndex { by_first_word }
    }

    /// The UPNs of the pupils `text` names, sorted, each once.
    pub fn named_in(&self, text: &str) -> Vec<String> {
        let words = words(text);
        let mut found = BTreeSet::new();
        for (at, word) in words.iter().enumerate() {
            for (sequence, upn) in self.by_first_word.get(word).into_iter().flatten() {
                if words[at..].starts_with(sequence) {
                    found.insert(upn.clone());
                }
            }
        }
        found.into_iter().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pupil(upn: &str, given: &str, family: &str) -> OtherPupil {
        OtherPupil {
            upn: upn.into(),
            given_name: given.into(),
            family_name: family.into(),
        }
    }

    fn school() -> Vec<OtherPupil> {
        vec![
            pupil("B1", "Ben", "Ade"),
            pupil("C1", "Mary Jane", "Smith-Jones"),
            pupil("D1", "Liam", "O'Brien"),
            pupil("E1", "Zoë", "Lee"),
            pupil("F1", "", "Nameless"),
        ]
    }

    fn named(text: &str) -> Vec<String> {
        NameIndex::new(&school()).named_in(text)
    }

    #[test]
    fn a_full_name_in_any_case_names_the_pupil() {
        assert_eq!(named("Pushed Ben Ade in the queue"), ["B1"]);
        assert_eq!(named("pushed BEN ADE"), ["B1"]);
        assert_eq!(named("with bEn\n  aDe at lunch"), ["B1"]);
        assert_eq!(named("Ben Ade's bag"), ["B1"]);
    }

    #[test]
    fn the_register_order_names_the_pupil_too() {
        assert_eq!(named("Ade, Ben was there"), ["B1"]);
        assert_eq!(named("see ADE BEN"), ["B1"]);
    }

    #[test]
    fn a_given_or_family_name_alone_does_not() {
        assert!(named("Ben was upset").is_empty());
        assert!(named("Mrs Ade phoned").is_empty());
        assert!(named("Benjamin Ade").is_empty());
        assert!(named("Ben Adeyemi").is_empty());
        assert!(named("Ben and Ade").is_empty());
    }

    #[test]
    fn punctuation_inside_names_only_separates_words() {
        assert_eq!(named("with mary jane smith jones"), ["C1"]);
        assert_eq!(named("Mary-Jane Smith-Jones"), ["C1"]);
        assert!(named("Mary Smith-Jones").is_empty());
        assert_eq!(named("liam o’brien (curly apostrophe)"), ["D1"]);
        assert_eq!(named("LIAM OBRIEN").len(), 0);
    }

    #[test]
    fn letters_are_lower_cased_but_not_folded() {
        assert_eq!(named("ZOË LEE"), ["E1"]);
        assert!(named("Zoe Lee").is_empty());
    }

    #[test]
    fn several_pupils_are_listed_once_each_in_order() {
        assert_eq!(named("Ben Ade, Ade Ben and Liam O'Brien"), ["B1", "D1"]);
        assert!(named("").is_empty());
        assert!(named("Nameless").is_empty());
    }

    fn heading() -> Heading {
        Heading {
            school_code: "OAK".into(),
            school_name: "Oakfield".into(),
            generated_at: "2026-12-01T09:00:00+00:00".into(),
            generated_by: "Sal Lead".into(),
        }
    }

    fn pupil_row() -> Row {
        Row::new(
            RecordType::Pupil
                .columns()
                .iter()
                .map(|c| format!("p-{}", c.key))
                .collect(),
        )
    }

    fn incident(id: &str, note: &str) -> Row {
        let mut cells: Vec<String> = RecordType::Incidents
            .columns()
            .iter()
            .map(|c| format!("{id}-{}", c.key))
            .collect();
        cells[0] = id.into();
        cells[1] = "2026-11-30T10:00:00+00:00".into();
        cells[7] = note.into();
        Row::new(cells)
    }

    #[test]
    fn a_field_naming_another_pupil_is_withheld_and_listed() {
        let sections = vec![Section {
            record_type: RecordType::Incidents,
            rows: vec![
                incident("7", "Argued with Ben Ade"),
                incident("8", "Calm afterwards"),
            ],
        }];
        let record = PupilRecord::assemble(
            RecordKind::SubjectAccess,
            heading(),
            pupil_row(),
            sections,
            &school(),
        )
        .unwrap();
        let rows = &record.section(RecordType::Incidents).unwrap().rows;
        assert_eq!(rows[0].cells[7], WITHHELD);
        assert!(rows[0].is_withheld(7) && !rows[0].is_withheld(6));
        assert_eq!(rows[1].cells[7], "Calm afterwards");
        assert_eq!(
            record.for_review,
            vec![ForReview {
                record_type: RecordType::Incidents,
                record_id: "7".into(),
                date: "2026-11-30T10:00:00+00:00".into(),
                field: "note",
                names: vec!["B1".into()],
            }]
        );
        let json = record.to_json();
        assert_eq!(json["records"]["incidents"][0]["note"], WITHHELD);
        assert_eq!(json["records"]["incidents"][1]["note"], "Calm afterwards");
        assert_eq!(json["for_review"][0]["names_pupils"][0], "B1");
        assert_eq!(json["pupil"]["upn"], "p-upn");
        assert_eq!(record.pupil_detail("upn"), "p-upn");
        let tables = record.csv_tables();
        let (name, rows) = &tables[1];
        assert_eq!(name, "incidents.csv");
        assert_eq!(rows[0][7], "note");
        assert_eq!(rows[1][7], WITHHELD);
        assert_eq!(tables.last().unwrap().1[1][4], "B1");
    }

    #[test]
    fn only_free_text_is_checked() {
        let mut row = incident("9", "fine");
        row.cells[8] = "Ben Ade".into(); // logged_by: a fact, not free text
        let record = PupilRecord::assemble(
            RecordKind::SubjectAccess,
            heading(),
            pupil_row(),
            vec![Section {
                record_type: RecordType::Incidents,
                rows: vec![row],
            }],
            &school(),
        )
        .unwrap();
        assert!(record.for_review.is_empty());
    }

    #[test]
    fn rows_of_the_wrong_width_are_refused() {
        let error = PupilRecord::assemble(
            RecordKind::Transfer,
            heading(),
            pupil_row(),
            vec![Section {
                record_type: RecordType::Emails,
                rows: vec![Row::new(vec!["1".into()])],
            }],
            &[],
        )
        .unwrap_err();
        assert!(matches!(
            error,
            RecordError::WrongWidth {
                record_type: RecordType::Emails,
                found: 1,
                ..
            }
        ));
    }

    #[test]
    fn sections_come_in_a_fixed_order() {
        let empty = |record_type| Section {
            record_type,
            rows: vec![],
        };
        let record = PupilRecord::assemble(
            RecordKind::SubjectAccess,
            heading(),
            pupil_row(),
            vec![empty(RecordType::Emails), empty(RecordType::Incidents)],
            &[],
        )
        .unwrap();
        let order: Vec<RecordType> = record.sections.iter().map(|s| s.record_type).collect();
        assert_eq!(order, [RecordType::Incidents, RecordType::Emails]);
    }

    #[test]
    fn every_type_starts_with_an_id_and_a_date_and_has_unique_keys() {
        for record_type in RecordType::ALL {
            let columns = record_type.columns();
            assert!(columns.len() >= 3, "{record_type:?}");
            let keys: BTreeSet<&str> = columns.iter().map(|c| c.key).collect();
            assert_eq!(keys.len(), columns.len(), "{record_type:?}");
            assert!(!columns[0].free_text && !columns[1].free_text);
        }
    }
}
