//! Bringing a school in from the files its MIS and its old systems export. Every import is
//! a preview first: the file is read whole, compared with what is stored, and answered as
//! an [`ImportReport`] (added, changed field by field, left, unchanged, and every problem by
//! line and column). Only a file without problems is applied, in the caller's transaction,
//! so a failed import writes nothing; the same file applied twice changes nothing the
//! second time. The command line, the admin page and the API all call these functions.

pub mod oneroster;
pub mod pupils;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::config::Settings;
use crate::db::DbConnection;
use crate::domain::import::{ColumnSpec, RowError};
use crate::domain::roster::FieldChange;
use crate::error::Result;

/// The kinds of file a school can bring in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportKind {
    /// Pupils from a MIS CSV export.
    Pupils,
    /// A OneRoster 1.1 or 1.2 bundle (`.zip`): pupils, staff, forms, teaching groups, terms.
    OneRoster,
}

impl ImportKind {
    /// Every kind, in the order the import page offers them.
    pub const ALL: &'static [ImportKind] = &[ImportKind::Pupils, ImportKind::OneRoster];

    /// The kind's name in addresses and commands (`pupils`).
    pub fn as_str(self) -> &'static str {
        match self {
            ImportKind::Pupils => "pupils",
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
            ImportKind::OneRoster => "OneRoster bundle (.zip)",
        }
    }

    /// The columns of a CSV kind, which headers the file does not name can be mapped to.
    pub fn columns(self) -> &'static [ColumnSpec] {
        match self {
            ImportKind::Pupils => crate::domain::roster::PUPIL_COLUMNS,
            ImportKind::OneRoster => &[],
        }
    }

    /// Whether the kind can be a whole roll, marking those not in it as left.
    pub fn takes_full(self) -> bool {
        matches!(self, ImportKind::Pupils | ImportKind::OneRoster)
    }
}

/// Runs an import of `kind` in the caller's transaction (see the module documentation);
/// `settings` carries what a kind reads them for (the OneRoster grade offset).
#[allow(clippy::too_many_arguments)]
pub fn run(
    kind: ImportKind,
    conn: &mut DbConnection,
    school_id: i64,
    actor_id: Option<i64>,
    file: &[u8],
    options: &ImportOptions,
    settings: &Settings,
    now: DateTime<Utc>,
) -> Result<ImportReport> {
    match kind {
        ImportKind::Pupils => pupils::import(conn, school_id, actor_id, file, options, now),
        ImportKind::OneRoster => oneroster::import(
            conn,
            school_id,
            actor_id,
            file,
            options,
            settings.oneroster_grade_offset,
            now,
        ),
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
        format!(
            "{} {verb}added, {} {verb}changed, {} {verb}marked left, {} unchanged",
            self.added, self.changed, self.left, self.unchanged
        )
    }
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
