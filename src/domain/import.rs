//! What every import reads files with: the text of a file as a school's systems save it
//! (UTF-8 with or without a byte-order mark, or Windows-1252), a CSV table with comma or
//! semicolon separators and the line each row starts on, header names recognised from the
//! names each system uses (or mapped by hand), and problems named by line and column.
//!
//! Pure: the callers decide what a row means and what to do with it.

use std::collections::HashMap;

use serde::Serialize;

/// One problem with an imported file: where it is (line and column) and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct RowError {
    /// The line of the file, counting from 1 (the header is line 1 of a CSV file).
    pub line: usize,
    /// The column's header as the file spells it (or the field's name where the file has
    /// no header, such as an iCalendar property).
    pub column: String,
    /// What is wrong, in words the person who made the file can act on.
    pub message: String,
}

impl RowError {
    /// A problem at a line and column.
    pub fn new(line: usize, column: impl Into<String>, message: impl Into<String>) -> Self {
        RowError {
            line,
            column: column.into(),
            message: message.into(),
        }
    }
}

impl std::fmt::Display for RowError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.column.is_empty() {
            write!(f, "line {}: {}", self.line, self.message)
        } else {
            write!(
                f,
                "line {}, column {}: {}",
                self.line, self.column, self.message
            )
        }
    }
}

/// The text of a file: UTF-8 (a byte-order mark is dropped), or, when the bytes are not
/// UTF-8, Windows-1252, the encoding older MIS reports are saved in.
pub fn decode_text(bytes: &[u8]) -> String {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    match std::str::from_utf8(bytes) {
        Ok(text) => text.to_string(),
        Err(_) => {
            let (text, _, _) = encoding_rs::WINDOWS_1252.decode(bytes);
            text.into_owned()
        }
    }
}

/// One row of a CSV table, with the line of the file it starts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsvRow {
    /// The line the row starts on, counting the header as line 1.
    pub line: usize,
    /// The cells as written, untrimmed.
    pub cells: Vec<String>,
}

/// A CSV file read whole: its header and its rows (blank lines skipped).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsvTable {
    /// The header cells, trimmed.
    pub headers: Vec<String>,
    /// The rows after the header.
    pub rows: Vec<CsvRow>,
}

impl CsvTable {
    /// Reads a CSV text whose separator is a comma or a semicolon (the one the header line
    /// uses more of). A row that cannot be read is a problem at its line.
    pub fn parse(text: &str) -> Result<CsvTable, RowError> {
        let header_line = text.lines().next().unwrap_or_default();
        let delimiter = if header_line.matches(';').count() > header_line.matches(',').count() {
            b';'
        } else {
            b','
        };
        let mut reader = csv::ReaderBuilder::new()
            .delimiter(delimiter)
            .has_headers(false)
            .flexible(true)
            .from_reader(text.as_bytes());
        let mut records = reader.records();
        let headers: Vec<String> = match records.next() {
            Some(Ok(record)) => record.iter().map(|h| h.trim().to_string()).collect(),
            Some(Err(error)) => return Err(csv_problem(&error, text, &LineIndex::of(text))),
            None => return Err(RowError::new(1, "", "the file is empty")),
        };
        if headers.iter().all(String::is_empty) {
            return Err(RowError::new(1, "", "the first line holds no column names"));
        }
        let mut rows = Vec::new();
        let lines = LineIndex::of(text);
        for record in records {
            let record = record.map_err(|e| csv_problem(&e, text, &lines))?;
            if record.iter().all(|cell| cell.trim().is_empty()) {
                continue;
            }
            let line = record
                .position()
                .map_or(0, |p| lines.line_at(text, p.byte()));
            rows.push(CsvRow {
                line,
                cells: record.iter().map(str::to_string).collect(),
            });
        }
        Ok(CsvTable { headers, rows })
    }
}

/// Where each line of a text starts, to name the line of a byte offset.
struct LineIndex(Vec<usize>);

impl LineIndex {
    fn of(text: &str) -> Self {
        let starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(at, _)| at + 1))
            .collect();
        LineIndex(starts)
    }

    /// The line (from 1) of the record the CSV reader placed at `offset`: the reader can
    /// place a record at the line ending before it, so line endings there are stepped over.
    fn line_at(&self, text: &str, offset: u64) -> usize {
        let mut offset = usize::try_from(offset).unwrap_or(usize::MAX);
        let bytes = text.as_bytes();
        while offset < bytes.len() && matches!(bytes[offset], b'\r' | b'\n') {
            offset += 1;
        }
        self.0.partition_point(|start| *start <= offset).max(1)
    }
}

/// A CSV reading error as a problem at its line.
fn csv_problem(error: &csv::Error, text: &str, lines: &LineIndex) -> RowError {
    let line = error
        .position()
        .map_or(0, |p| lines.line_at(text, p.byte()));
    let message = match error.kind() {
        csv::ErrorKind::Utf8 { .. } => "the line is not valid text".to_string(),
        _ => format!("the line cannot be read as CSV ({error})"),
    };
    RowError::new(line, "", message)
}

/// A column an import understands: its key, what it is called on the page, and the header
/// names the school's systems give it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ColumnSpec {
    /// The key the import reads the column by, such as `upn`.
    pub key: &'static str,
    /// Its name on the page and in messages, such as "UPN".
    pub label: &'static str,
    /// Header names that mean this column, compared ignoring case, spaces and punctuation.
    pub aliases: &'static [&'static str],
    /// Whether a file without it cannot be imported.
    pub required: bool,
}

/// A header name reduced for comparing: lower case letters and digits only.
pub fn header_key(header: &str) -> String {
    header
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// Which CSV column each understood column is read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnMap {
    /// Column key to (position, header as the file spells it).
    found: HashMap<&'static str, (usize, String)>,
    /// The file's headers that no column is read from, in file order.
    pub unrecognised: Vec<String>,
}

impl ColumnMap {
    /// Recognises the headers by the specs' aliases; `mapped` names, for headers the person
    /// chose by hand, the column key each one is read as (it wins over a recognised header).
    /// A required column found nowhere is a problem at line 1, as is a column found twice.
    pub fn recognise(
        specs: &[ColumnSpec],
        headers: &[String],
        mapped: &[(String, String)],
    ) -> Result<ColumnMap, Vec<RowError>> {
        let mut found: HashMap<&'static str, (usize, String)> = HashMap::new();
        let mut problems = Vec::new();
        let mut unrecognised = Vec::new();
        let by_hand = |header: &str| {
            mapped
                .iter()
                .find(|(h, _)| header_key(h) == header_key(header))
                .map(|(_, key)| key.as_str())
        };
        for (position, header) in headers.iter().enumerate() {
            let spec = match by_hand(header) {
                Some("") => None,
                Some(key) => specs.iter().find(|s| s.key == key),
                None => specs.iter().find(|s| {
                    s.aliases
                        .iter()
                        .any(|a| header_key(a) == header_key(header))
                }),
            };
            let Some(spec) = spec else {
                if !header.is_empty() {
                    unrecognised.push(header.clone());
                }
                continue;
            };
            if let Some((_, first)) = found.get(spec.key) {
                problems.push(RowError::new(
                    1,
                    header.as_str(),
                    format!("{} is already read from the column {first}", spec.label),
                ));
                continue;
            }
            found.insert(spec.key, (position, header.clone()));
        }
        for spec in specs.iter().filter(|s| s.required) {
            if !found.contains_key(spec.key) {
                problems.push(RowError::new(
                    1,
                    spec.label,
                    format!(
                        "no column for {}: expected a header such as {}",
                        spec.label,
                        spec.aliases.join(" or ")
                    ),
                ));
            }
        }
        if problems.is_empty() {
            Ok(ColumnMap {
                found,
                unrecognised,
            })
        } else {
            Err(problems)
        }
    }

    /// The trimmed cell of the row in the named column; `None` when the file has no such
    /// column or the cell is blank.
    pub fn cell<'a>(&self, row: &'a CsvRow, key: &str) -> Option<&'a str> {
        let (position, _) = self.found.get(key)?;
        row.cells
            .get(*position)
            .map(|cell| cell.trim())
            .filter(|cell| !cell.is_empty())
    }

    /// Whether the file has the named column.
    pub fn has(&self, key: &str) -> bool {
        self.found.contains_key(key)
    }

    /// The header the named column is read from, for messages; the key when absent.
    pub fn header<'a>(&'a self, key: &'a str) -> &'a str {
        self.found
            .get(key)
            .map_or(key, |(_, header)| header.as_str())
    }

    /// A problem with the row's cell in the named column.
    pub fn problem(&self, row: &CsvRow, key: &str, message: impl Into<String>) -> RowError {
        RowError::new(row.line, self.header(key), message)
    }
}

/// The problems found in one row, gathered while its cells are read.
#[derive(Debug)]
pub struct RowProblems<'a> {
    map: &'a ColumnMap,
    row: &'a CsvRow,
    /// Every problem so far, in the order the cells were read.
    pub found: Vec<RowError>,
}

impl<'a> RowProblems<'a> {
    /// No problems yet with this row.
    pub fn new(map: &'a ColumnMap, row: &'a CsvRow) -> Self {
        RowProblems {
            map,
            row,
            found: Vec::new(),
        }
    }

    /// The value read from the named column, or `None` with its problem noted.
    pub fn check<T>(&mut self, key: &str, read: Result<T, String>) -> Option<T> {
        match read {
            Ok(value) => Some(value),
            Err(message) => {
                self.found.push(self.map.problem(self.row, key, message));
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPECS: &[ColumnSpec] = &[
        ColumnSpec {
            key: "upn",
            label: "UPN",
            aliases: &["UPN"],
            required: true,
        },
        ColumnSpec {
            key: "family_name",
            label: "Surname",
            aliases: &["Legal Surname", "Surname"],
            required: true,
        },
        ColumnSpec {
            key: "house",
            label: "House",
            aliases: &["House"],
            required: false,
        },
    ];

    #[test]
    fn utf8_with_a_byte_order_mark_and_windows_1252_read_the_same() {
        let utf8 = "\u{FEFF}Surname\nO'Brien-Müller\n";
        assert_eq!(decode_text(utf8.as_bytes()), "Surname\nO'Brien-Müller\n");
        let windows = b"Surname\nO'Brien-M\xFCller\n";
        assert_eq!(decode_text(windows), "Surname\nO'Brien-Müller\n");
    }

    #[test]
    fn a_semicolon_file_is_read_with_its_line_numbers() {
        let table =
            CsvTable::parse("UPN;Surname\r\nA1;Smith\r\n\r\n\"B2\";\"Jones;\nJr\"\r\nC3;Lee\r\n")
                .unwrap();
        assert_eq!(table.headers, vec!["UPN", "Surname"]);
        let lines: Vec<usize> = table.rows.iter().map(|r| r.line).collect();
        assert_eq!(lines, vec![2, 4, 6]);
        assert_eq!(table.rows[1].cells[1], "Jones;\nJr");
    }

    #[test]
    fn headers_are_recognised_by_their_aliases_or_by_hand() {
        let headers: Vec<String> = ["upn", "Legal  Surname", "Tutor"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let map = ColumnMap::recognise(SPECS, &headers, &[]).unwrap();
        assert_eq!(map.header("family_name"), "Legal  Surname");
        assert_eq!(map.unrecognised, vec!["Tutor"]);
        let mapped = [("Tutor".to_string(), "house".to_string())];
        let map = ColumnMap::recognise(SPECS, &headers, &mapped).unwrap();
        assert!(map.has("house"));
        assert!(map.unrecognised.is_empty());
    }

    #[test]
    fn a_missing_required_column_is_a_problem_at_line_one() {
        let headers = vec![
            "UPN".to_string(),
            "Surname".to_string(),
            "Surname".to_string(),
        ];
        let problems = ColumnMap::recognise(SPECS, &headers[..1], &[]).unwrap_err();
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].line, 1);
        assert!(problems[0].message.contains("Legal Surname or Surname"));
        let problems = ColumnMap::recognise(SPECS, &headers, &[]).unwrap_err();
        assert!(problems[0].message.contains("already read"));
    }

    #[test]
    fn an_empty_file_is_refused() {
        assert_eq!(
            CsvTable::parse("").unwrap_err().message,
            "the file is empty"
        );
    }
}
