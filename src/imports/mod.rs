//! Bringing a school in from the files its MIS and its old systems export. Every import is
//! a preview first: the file is read whole, compared with what is stored, and answered as
//! an [`ImportReport`] (added, changed field by field, left, unchanged, and every problem by
//! line and column). Only a file without problems is applied, in the caller's transaction,
//! so a failed import writes nothing; the same file applied twice changes nothing the
//! second time. The command line, the admin page and the API all call these functions.

pub mod calendar;
pub mod pupils;

use serde::Serialize;

use crate::domain::calendar::MovedDueDate;
use crate::domain::import::RowError;
use crate::domain::roster::FieldChange;

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
