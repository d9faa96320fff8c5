//! The pure rules of backups: the checksum file beside a backup (in the format of
//! `sha256sum`), telling a backup's kind from its first bytes, and what `steadfast check`
//! counts as a problem.

use std::collections::BTreeSet;
use std::fmt;

use crate::domain::consistency::SchoolConsistency;

/// What kind of backup a file is, from its first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackupKind {
    /// A SQLite database file (`VACUUM INTO`).
    Sqlite,
    /// A PostgreSQL custom-format archive (`pg_dump -Fc`).
    PostgresArchive,
    /// Either of those, encrypted with a passphrase (the `age` format).
    Encrypted,
}

impl BackupKind {
    /// The kind of a file starting with `head`, or `None` when it is neither.
    pub fn sniff(head: &[u8]) -> Option<BackupKind> {
        if head.starts_with(b"SQLite format 3\0") {
            Some(BackupKind::Sqlite)
        } else if head.starts_with(b"PGDMP") {
            Some(BackupKind::PostgresArchive)
        } else if head.starts_with(AGE_HEADER) {
            Some(BackupKind::Encrypted)
        } else {
            None
        }
    }

    /// How many bytes [`BackupKind::sniff`] needs.
    pub const HEAD_LEN: usize = AGE_HEADER.len();
}

/// The first line of a file in the `age` format.
const AGE_HEADER: &[u8] = b"age-encryption.org/v1\n";

/// The checksum file's line for a file named `file_name` whose SHA-256 is `hex`, as
/// `sha256sum` writes it (two spaces: text mode), so `sha256sum -c` verifies it from the
/// backup's folder.
pub fn checksum_line(hex: &str, file_name: &str) -> String {
    format!("{hex}  {file_name}\n")
}

/// The SHA-256 (lowercase hex) recorded in a checksum file's text: the first line's first
/// word, which must be 64 hex digits.
pub fn recorded_checksum(text: &str) -> Result<String, String> {
    let first = text
        .lines()
        .next()
        .and_then(|line| line.split_whitespace().next())
        .unwrap_or_default();
    // `sha256sum` marks a name holding a backslash or a line break with a leading `\`.
    let hex = first.strip_prefix('\\').unwrap_or(first);
    if hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(hex.to_ascii_lowercase())
    } else {
        Err("it does not start with a SHA-256 checksum (64 hex digits)".into())
    }
}

/// What `steadfast check` found in a database or a backup.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CheckFindings {
    /// The lines of SQLite's `PRAGMA integrity_check` (`["ok"]` when sound).
    pub integrity: Vec<String>,
    /// One line per row `PRAGMA foreign_key_check` reports.
    pub foreign_keys: Vec<String>,
    /// The versions of the migrations built into this Steadfast.
    pub embedded_migrations: Vec<String>,
    /// The versions of the migrations the database records as run.
    pub applied_migrations: Vec<String>,
    /// Rows of the main tables, in the order to print them.
    pub counts: Vec<(&'static str, i64)>,
    /// Whether each school's pupils' levels agree with their level history and records
    /// (empty when the tables are not there to check).
    pub consistency: Vec<SchoolConsistency>,
}

impl CheckFindings {
    /// Every problem found, each a sentence; none when the database is sound.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        let integrity: Vec<&String> = self.integrity.iter().filter(|l| *l != "ok").collect();
        if !integrity.is_empty() {
            problems.push(format!(
                "the integrity check failed: {}",
                join(integrity.iter().map(|s| s.as_str()))
            ));
        }
        if !self.foreign_keys.is_empty() {
            problems.push(format!(
                "{} row(s) refer to rows that do not exist: {}",
                self.foreign_keys.len(),
                join(self.foreign_keys.iter().map(|s| s.as_str()))
            ));
        }
        let embedded: BTreeSet<&str> = self
            .embedded_migrations
            .iter()
            .map(|s| s.as_str())
            .collect();
        let applied: BTreeSet<&str> = self.applied_migrations.iter().map(|s| s.as_str()).collect();
        let pending: Vec<&str> = embedded.difference(&applied).copied().collect();
        if !pending.is_empty() {
            problems.push(format!(
                "{} migration(s) not applied: {} (`steadfast migrate` or a restore applies them)",
                pending.len(),
                join(pending.into_iter())
            ));
        }
        let unknown: Vec<&str> = applied.difference(&embedded).copied().collect();
        if !unknown.is_empty() {
            problems.push(format!(
                "migration(s) applied that this Steadfast does not know (a newer version wrote \
                 the database): {}",
                join(unknown.into_iter())
            ));
        }
        for school in &self.consistency {
            problems.extend(school.lines());
        }
        problems
    }

    /// How many pupils' levels were checked, in how many schools.
    pub fn levels_checked(&self) -> (usize, usize) {
        let pupils = self.consistency.iter().map(|s| s.pupils).sum();
        (pupils, self.consistency.len())
    }
}

impl fmt::Display for CheckFindings {
    /// The counts, as `schools 1, staff 3, ...`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let counts: Vec<String> = self
            .counts
            .iter()
            .map(|(table, count)| format!("{table} {count}"))
            .collect();
        f.write_str(&counts.join(", "))
    }
}

/// At most the first ten items, comma separated, with how many more there are.
fn join<'a>(items: impl Iterator<Item = &'a str>) -> String {
    let items: Vec<&str> = items.collect();
    let mut text = items
        .iter()
        .take(10)
        .copied()
        .collect::<Vec<_>>()
        .join(", ");
    if items.len() > 10 {
        text.push_str(&format!(" and {} more", items.len() - 10));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEX: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

    #[test]
    fn the_checksum_line_is_what_sha256sum_writes_and_reads_back() {
        let line = checksum_line(HEX, "nightly.db");
        assert_eq!(line, format!("{HEX}  nightly.db\n"));
        assert_eq!(recorded_checksum(&line).unwrap(), HEX);
        assert_eq!(
            recorded_checksum(&format!("{}  x\n", HEX.to_uppercase())).unwrap(),
            HEX
        );
        assert_eq!(
            recorded_checksum(&format!("\\{HEX}  a\\\\b\n")).unwrap(),
            HEX
        );
    }

    #[test]
    fn a_checksum_file_without_a_checksum_is_refused() {
        assert!(recorded_checksum("").is_err());
        assert!(recorded_checksum("not a checksum  nightly.db\n").is_err());
        assert!(recorded_checksum(&format!("{}  nightly.db", &HEX[1..])).is_err());
    }

    #[test]
    fn backups_are_told_apart_by_their_first_bytes() {
        assert_eq!(
            BackupKind::sniff(b"SQLite format 3\0\x10\x00"),
            Some(BackupKind::Sqlite)
        );
        assert_eq!(
            BackupKind::sniff(b"PGDMP\x01\x0e\x00"),
            Some(BackupKind::PostgresArchive)
        );
        assert_eq!(
            BackupKind::sniff(b"age-encryption.org/v1\n-> scrypt"),
            Some(BackupKind::Encrypted)
        );
        assert_eq!(BackupKind::sniff(b"age-encryption.org/v2\n"), None);
        assert_eq!(BackupKind::sniff(b"PK\x03\x04"), None);
        assert_eq!(BackupKind::sniff(b""), None);
    }

    fn sound() -> CheckFindings {
        CheckFindings {
            integrity: vec!["ok".into()],
            foreign_keys: vec![],
            embedded_migrations: vec!["1".into(), "2".into()],
            applied_migrations: vec!["2".into(), "1".into()],
            counts: vec![("schools", 1), ("pupils", 20)],
            consistency: vec![SchoolConsistency {
                code: "NORTH".into(),
                pupils: 20,
                problems: vec![],
            }],
        }
    }

    #[test]
    fn a_sound_database_has_no_problems() {
        assert_eq!(sound().problems(), Vec::<String>::new());
        assert_eq!(sound().to_string(), "schools 1, pupils 20");
        // PostgreSQL has no integrity check to report.
        let postgres = CheckFindings {
            integrity: vec![],
            ..sound()
        };
        assert!(postgres.problems().is_empty());
    }

    #[test]
    fn each_kind_of_problem_is_reported() {
        let broken = CheckFindings {
            integrity: vec!["row 3 missing from index x".into()],
            foreign_keys: vec!["incidents row 7 -> schools".into()],
            applied_migrations: vec!["1".into(), "3".into()],
            ..sound()
        };
        let problems = broken.problems();
        assert_eq!(problems.len(), 4, "{problems:?}");
        assert!(problems[0].contains("row 3 missing"));
        assert!(problems[1].contains("incidents row 7"));
        assert!(problems[2].contains("not applied: 2"));
        assert!(problems[3].contains("does not know") && problems[3].contains('3'));
    }

    #[test]
    fn each_pupil_whose_level_disagrees_is_a_problem() {
        use crate::domain::consistency::{Disagreement, PupilProblem};
        let mut found = sound();
        assert_eq!(found.levels_checked(), (20, 1));
        found.consistency[0].problems = vec![
            PupilProblem {
                pupil_id: 4,
                disagreement: Disagreement::PromptAtNoLevel { incident_id: 9 },
            },
            PupilProblem {
                pupil_id: 5,
                disagreement: Disagreement::LevelNotLastChange {
                    stored: 4,
                    history: 3,
                },
            },
        ];
        let problems = found.problems();
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems[0].starts_with("school NORTH pupil 4: incident 9"));
        assert!(problems[1].starts_with("school NORTH pupil 5: the level is Coaching Plan"));
    }

    #[test]
    fn long_lists_are_cut_short() {
        let many: Vec<String> = (0..12).map(|n| format!("fk {n}")).collect();
        let findings = CheckFindings {
            foreign_keys: many,
            ..sound()
        };
        assert!(findings.problems()[0].ends_with("fk 9 and 2 more"));
    }
}
