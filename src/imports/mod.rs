//! Bringing a school in from the files its MIS and its old systems export. Every import is
//! a preview first: the file is read whole, compared with what is stored, and answered as
//! an [`ImportReport`] (added, changed field by field, left, unchanged, and every problem by
//! line and column). Only a file without problems is applied, in the caller's transaction,
//! so a failed import writes nothing; the same file applied twice changes nothing the
//! second time. The command line, the admin page and the API all call these functions.

pub mod calendar;
pub mod history;
pub mod oneroster;
pub mod pupils;
pub mod staff;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::db::DbConnection;
use crate::domain::calendar::MovedDueDate;
use crate::domain::import::{ColumnSpec, RowError};
use crate::domain::roster::FieldChange;
use crate::error::Result;

/// Who brings files in: the school's administrators (and the MIS technician's token).
pub const IMPORTERS: &[crate::domain::Role] = &[crate::domain::Role::Admin];

/// The kinds of file a school can bring in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportKind {
    /// Pupils from a MIS CSV export.
    Pupils,
    /// Staff: email, name, roles, year groups and houses.
    Staff,
    /// Term dates and closures from an iCalendar file.
    Calendar,
    /// Behaviour history from the previous system.
    Incidents,
    /// A OneRoster 1.1 or 1.2 bundle (`.zip`): pupils, staff, forms, teaching groups, terms.
    OneRoster,
}

impl ImportKind {
    /// Every kind, in the order the import page offers them.
    pub const ALL: &'static [ImportKind] = &[
        ImportKind::Pupils,
        ImportKind::OneRoster,
        ImportKind::Staff,
        ImportKind::Calendar,
        ImportKind::Incidents,
    ];

    /// The kind's name in addresses and commands (`pupils`).
    pub fn as_str(self) -> &'static str {
        match self {
            ImportKind::Pupils => "pupils",
            ImportKind::Staff => "staff",
            ImportKind::Calendar => "calendar",
            ImportKind::Incidents => "incidents",
            ImportKind::OneRoster => "oneroster",
        }
    }

    /// Reads a kind's name.
    pub fn parse(raw: &str) -> Option<ImportKind> {
        ImportKind::ALL
            .iter()
            .copied()
            .find(|kind| kind.as_str() == raw.trim())
    }

    /// What the import page calls it.
    pub fn title(self) -> &'static str {
        match self {
            ImportKind::Pupils => "Pupils from the MIS (CSV)",
            ImportKind::Staff => "Staff (CSV)",
            ImportKind::Calendar => "Term dates and closures (iCalendar .ics)",
            ImportKind::Incidents => "Behaviour history from the previous system (CSV)",
            ImportKind::OneRoster => "OneRoster bundle (.zip)",
        }
    }

    /// The columns of a CSV kind, which headers the file does not name can be mapped to.
    pub fn columns(self) -> &'static [ColumnSpec] {
        match self {
            ImportKind::Pupils => crate::domain::roster::PUPIL_COLUMNS,
            ImportKind::Staff => crate::domain::staff_roster::STAFF_COLUMNS,
            ImportKind::Calendar => &[],
            ImportKind::Incidents => crate::domain::history::HISTORY_COLUMNS,
            ImportKind::OneRoster => &[],
        }
    }

    /// Whether the kind can be a whole roll, marking those not in it as left.
    pub fn takes_full(self) -> bool {
        matches!(self, ImportKind::Pupils | ImportKind::OneRoster)
    }

    /// Who may bring this kind of file in: administrators, and for the calendar SLT too.
    pub fn importers(self) -> &'static [crate::domain::Role] {
        use crate::domain::Role;
        match self {
            ImportKind::Calendar => &[Role::Admin, Role::Slt],
            _ => IMPORTERS,
        }
    }

    /// Whether the kind can email new people an invitation.
    pub fn takes_invite(self) -> bool {
        matches!(self, ImportKind::Staff)
    }

    /// Whether the kind can place pupils on the ladder from their history.
    pub fn takes_place(self) -> bool {
        matches!(self, ImportKind::Incidents)
    }
}

/// Runs an import of `kind` in the caller's transaction (see the module documentation).
pub fn run(
    kind: ImportKind,
    conn: &mut DbConnection,
    school_id: i64,
    actor_id: Option<i64>,
    file: &[u8],
    options: &ImportOptions,
    now: DateTime<Utc>,
) -> Result<ImportReport> {
    match kind {
        ImportKind::Pupils => pupils::import(conn, school_id, actor_id, file, options, now),
        ImportKind::Staff => staff::import(conn, school_id, actor_id, file, options, now),
        ImportKind::Calendar => calendar::import(conn, school_id, actor_id, file, options, now),
        ImportKind::Incidents => history::import(conn, school_id, actor_id, file, options, now),
        ImportKind::OneRoster => oneroster::import(conn, school_id, actor_id, file, options, now),
    }
}

/// How an import is run.
#[derive(Debug, Clone, Default)]
pub struct ImportOptions {
    /// Only say what would happen; write nothing.
    pub dry_run: bool,
    /// The file is the whole roll: pupils (or staff) not in it are marked as left.
    pub full: bool,
    /// Headers the person mapped by hand: the file's header and the column key it is read as
    /// (an empty key ignores the column).
    pub mapped: Vec<(String, String)>,
    /// History only: place each pupil with no level yet on the ladder by replaying the
    /// school's policy over their incidents.
    pub place: bool,
    /// History only: behaviours of the file the person mapped to one on the school's list
    /// (the file's name, the list's); a behaviour not mapped and not on the list is added.
    pub behaviours: Vec<(String, String)>,
    /// Staff only: email each new person an invitation to choose a password (a link valid
    /// 7 days), queued in the same transaction.
    pub invite: bool,
    /// Where links in emails point (the `public_url` setting); needed with `invite`.
    pub public_url: String,
    /// OneRoster only: what to add to a US grade for the UK year (the
    /// `oneroster_grade_offset` setting; grade 06 is Year 7 with 1).
    pub grade_offset: i64,
}

impl ImportOptions {
    /// The options every import takes from the settings (links' address, grade offset),
    /// nothing else chosen yet.
    pub fn for_settings(settings: &crate::config::Settings) -> ImportOptions {
        ImportOptions {
            public_url: settings.public_url.clone(),
            grade_offset: settings.oneroster_grade_offset,
            ..ImportOptions::default()
        }
    }
}

/// What an import did, or (on a dry run, or with problems) would do.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ImportReport {
    /// Records not held before.
    pub added: usize,
    /// Records held whose details the file changes.
    pub changed: usize,
    /// Records marked as left (a whole-roll import without them).
    pub left: usize,
    /// Records the file gives exactly as held.
    pub unchanged: usize,
    /// Every problem with the file; when there is one, nothing is written.
    pub errors: Vec<RowError>,
    /// Whether the changes were written (false on a dry run or with problems).
    pub applied: bool,
    /// What is added, changed and left, one entry a record.
    pub details: Vec<ImportDetail>,
    /// Headers of the file that no column is read from.
    pub unrecognised_columns: Vec<String>,
    /// History with placement only: how many pupils land at each level, 0 (none) to 6.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub placed: Option<Vec<usize>>,
    /// Entries of the file read and not imported, each with why (a term-dates file's term
    /// starts, timed and repeating events). Left out when there are none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub skipped: Vec<SkippedEntry>,
    /// Due dates the import moves (or, not applied, would move): new closures move the
    /// meetings due across them. Left out when there are none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub moved: Vec<MovedDueDate>,
}

impl ImportReport {
    /// A report of problems only: nothing can be applied.
    pub fn refused(errors: Vec<RowError>) -> Self {
        ImportReport {
            errors,
            ..ImportReport::default()
        }
    }

    /// The one-paragraph summary the command line prints and the page heads its preview with.
    pub fn summary(&self) -> String {
        let verb = if self.applied { "" } else { "would be " };
        let mut summary = format!(
            "{} {verb}added, {} {verb}changed, {} {verb}marked left, {} unchanged",
            self.added, self.changed, self.left, self.unchanged
        );
        if let Some(placed) = &self.placed {
            let levels: Vec<String> = placed
                .iter()
                .enumerate()
                .filter(|(_, n)| **n > 0)
                .map(|(level, n)| format!("{n} at level {level}"))
                .collect();
            summary.push_str(&format!("; pupils {verb}placed: {}", levels.join(", ")));
        }
        if !self.skipped.is_empty() {
            summary.push_str(&format!(", {} skipped", self.skipped.len()));
        }
        if !self.moved.is_empty() {
            summary.push_str(&format!(", {} due date(s) {verb}moved", self.moved.len()));
        }
        summary
    }
}

/// An entry of a file that an import reads and leaves out, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct SkippedEntry {
    /// The line of the file it starts on.
    pub line: usize,
    /// What the file calls it (an event's SUMMARY); blank when it says nothing.
    pub name: String,
    /// Why it is not imported.
    pub reason: String,
}

/// One record an import adds, changes or marks as left.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ImportDetail {
    /// `added`, `changed`, `restored` or `left`.
    pub action: &'static str,
    /// The record's stable key: a pupil's UPN, a person's email, a closure's dates.
    pub key: String,
    /// Who or what it is, as pages show it.
    pub name: String,
    /// The line of the file it is on (none for a leaver, who is not in the file).
    pub line: Option<usize>,
    /// For a change, each field from what is held to what the file gives.
    pub changes: Vec<FieldChange>,
}

/// The longest file an import reads, in bytes (a history export of several years fits).
pub const MAX_IMPORT_BYTES: usize = 64 * 1024 * 1024;
