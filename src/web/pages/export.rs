//! Giving a pupil's record out: the subject access record as a readable, printable page
//! (`/pupils/{id}/export`) and as a ZIP of one JSON file, one CSV file per record type and the
//! page itself (`/pupils/{id}/export.zip`, the API and `steadfast export pupil`), and the
//! record for the pupil's next school (`/pupils/{id}/transfer`). All of them are made from one
//! [`PupilRecord`], so they hold the same things; each is audited when given out.

use std::io::Write;

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpResponse};
use chrono::Utc;
use maud::{html, Markup, PreEscaped, DOCTYPE};

use super::form::{csv_bytes, text_cell};
use super::form_page::{PageResult, Visit};
use crate::db::staff::StaffMember;
use crate::db::subject_access::{self, Form};
use crate::domain::subject_access::{
    field_title, PupilRecord, RecordKind, RecordType, Section, WITHHELD,
};
use crate::error::{Error, Result};
use crate::web::auth::SignedIn;
use crate::web::error::PageError;
use crate::web::AppState;

/// Sections with more columns than this show each record as a block of its own, not a row.
const WIDEST_TABLE: usize = 7;

/// The ZIP's content type.
pub const ZIP_CONTENT_TYPE: &str = "application/zip";

fn pupil_id_of(path: &str) -> Result<i64> {
    path.parse().map_err(|_| Error::NotFound("pupil"))
}

/// Reads the pupil's record of `kind` for `member` and audits it as given out in `form`.
pub async fn record_for(
    state: &AppState,
    member: StaffMember,
    pupil_id: i64,
    kind: RecordKind,
    form: Form,
) -> Result<PupilRecord> {
    let now = Utc::now();
    state
        .db
        .write(move |conn| subject_access::for_staff(conn, &member, pupil_id, kind, form, now))
        .await
}

fn cell(section: &Section, row: usize, column: usize) -> Markup {
    let row = &section.rows[row];
    html! {
        @if row.is_withheld(column) {
            em.withheld { (WITHHELD) }
        } @else {
            (row.cells[column])
        }
    }
}

fn render_section(section: &Section) -> Markup {
    let columns = section.record_type.columns();
    html! {
        section.card.record-section id=(section.record_type.key()) {
            h2 { (section.record_type.title()) " " span.muted { "(" (section.rows.len()) ")" } }
            @if section.rows.is_empty() {
                p.muted { "None held." }
            } @else if columns.len() <= WIDEST_TABLE {
                div.scroll tabindex="0" role="region" aria-label=(section.record_type.title()) {
                    table.record {
                        thead { tr { @for column in columns { th scope="col" { (column.title) } } } }
                        tbody {
                            @for r in 0..section.rows.len() {
                                tr { @for c in 0..columns.len() { td { (cell(section, r, c)) } } }
                            }
                        }
                    }
                }
            } @else {
                @for r in 0..section.rows.len() {
                    article.record-entry {
                        h3 { (section.record_type.noun()) " " (section.rows[r].cells[0]) " · " (section.rows[r].cells[1]) }
                        table.record.fields {
                            tbody {
                                @for c in 2..columns.len() {
                                    @if !section.rows[r].cells[c].is_empty() {
                                        tr { th scope="row" { (columns[c].title) } td { (cell(section, r, c)) } }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The record itself, as every form of the page shows it.
pub fn record_body(record: &PupilRecord) -> Markup {
    let name = format!(
        "{} {}",
        record.pupil_detail("given_name"),
        record.pupil_detail("family_name")
    );
    let columns = RecordType::Pupil.columns();
    html! {
        article.pupil-record {
            h1 { (record.kind.title()) ": " (name) }
            p.muted {
                "UPN " span.mono { (record.pupil_detail("upn")) } " · "
                (record.heading.school_name) " (" (record.heading.school_code) ") · made "
                (record.heading.generated_at) " by " (record.heading.generated_by)
            }
            @match record.kind {
                RecordKind::SubjectAccess => { p {
                    "Everything Steadfast holds about this pupil. Free text that names another pupil of the school is shown as "
                    em { (WITHHELD) } " and listed under “For review before release” at the end: read it, redact the other pupil's details, and add it back by hand before this record is released."
                } }
                RecordKind::Transfer => { p {
                    "What the receiving school needs: the pupil's details, their current level and since when, the Coaching Plan in force, the current Coaching Programme with its sessions counted, and the provision still running."
                } }
            }
            section.card.record-section id="pupil" {
                h2 { (RecordType::Pupil.title()) }
                table.record.fields {
                    tbody {
                        @for (c, column) in columns.iter().enumerate() {
                            tr { th scope="row" { (column.title) } td { (cell(&record.pupil, 0, c)) } }
                        }
                    }
                }
            }
            @for section in &record.sections { (render_section(section)) }
            section.card.record-section id="for-review" {
                h2 { "For review before release " span.muted { "(" (record.for_review.len()) ")" } }
                @if record.for_review.is_empty() {
                    p.muted { "Nothing was withheld." }
                } @else {
                    div.scroll tabindex="0" role="region" aria-label="Withheld for review" {
                        table.record {
                            thead { tr { th { "Record" } th { "Id" } th { "Date" } th { "Field" } th { "Names the pupils (UPN)" } } }
                            tbody {
                                @for item in &record.for_review {
                                    tr {
                                        td { (item.record_type.noun()) }
                                        td { (item.record_id) }
                                        td { (item.date) }
                                        td { (field_title(item.record_type, item.field)) }
                                        td.mono { (item.names.join(", ")) }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The record as a document of its own (`record.html` in the ZIP): the stylesheet inside it,
/// so it reads and prints the same opened from a folder.
pub fn record_document(record: &PupilRecord) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en-GB" {
            head {
                meta charset="utf-8";
                title { (record.kind.title()) " " (record.pupil_detail("upn")) " · Steadfast" }
                // The project's own stylesheet, a constant: no user text.
                style { (PreEscaped(include_str!("../../../static/style.css"))) }
            }
            body { main { (record_body(record)) } }
        }
    }
}

/// The ZIP of a subject access record: `record.json` holding everything, one CSV file per
/// record type (cells a spreadsheet would take for a formula start with an apostrophe), the
/// fields withheld for review as `for_review.csv`, and the readable page as `record.html`.
pub fn zip_bytes(record: &PupilRecord) -> Result<Vec<u8>> {
    let fault = |e: zip::result::ZipError| Error::Internal(format!("writing the ZIP: {e}"));
    let io_fault = |e: std::io::Error| Error::Internal(format!("writing the ZIP: {e}"));
    let mut options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    if let Some(made) = made_at(record) {
        options = options.last_modified_time(made);
    }
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let json = serde_json::to_vec_pretty(&record.to_json())
        .map_err(|e| Error::Internal(format!("writing the JSON: {e}")))?;
    writer.start_file("record.json", options).map_err(fault)?;
    writer.write_all(&json).map_err(io_fault)?;
    for (name, rows) in record.csv_tables() {
        let safe: Vec<Vec<String>> = rows
            .iter()
            .map(|row| row.iter().map(|c| text_cell(c)).collect())
            .collect();
        writer.start_file(name, options).map_err(fault)?;
        writer.write_all(&csv_bytes(&safe)?).map_err(io_fault)?;
    }
    writer.start_file("record.html", options).map_err(fault)?;
    writer
        .write_all(record_document(record).into_string().as_bytes())
        .map_err(io_fault)?;
    Ok(writer.finish().map_err(fault)?.into_inner())
}

/// When the record was made, in school time, as the files in its ZIP are dated.
fn made_at(record: &PupilRecord) -> Option<zip::DateTime> {
    use chrono::{Datelike, Timelike};
    let made = chrono::DateTime::parse_from_rfc3339(&record.heading.generated_at).ok()?;
    zip::DateTime::from_date_and_time(
        u16::try_from(made.year()).ok()?,
        u8::try_from(made.month()).ok()?,
        u8::try_from(made.day()).ok()?,
        u8::try_from(made.hour()).ok()?,
        u8::try_from(made.minute()).ok()?,
        u8::try_from(made.second()).ok()?,
    )
    .ok()
}

/// The ZIP's file name: by UPN, never by name.
pub fn zip_name(record: &PupilRecord) -> String {
    let upn: String = record
        .pupil_detail("upn")
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect();
    format!("subject-access-{upn}.zip")
}

/// A ZIP download of the record.
pub fn zip_response(record: &PupilRecord) -> Result<HttpResponse> {
    let body = zip_bytes(record)?;
    Ok(HttpResponse::Ok()
        .content_type(ZIP_CONTENT_TYPE)
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{}\"", zip_name(record)),
        ))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(body))
}

/// The pupil's record of `kind` as a readable, printable page.
async fn record_page(visit: Visit, path: &str, kind: RecordKind) -> PageResult {
    let pupil_id = pupil_id_of(path)?;
    let member = visit.member.clone();
    let record = record_for(&visit.state, member, pupil_id, kind, Form::Page).await?;
    let title = format!("{} {}", record.kind.title(), record.pupil_detail("upn"));
    Ok(visit.page(&title, StatusCode::OK, |_| {
        html! {
            p.no-print {
                a href={ "/pupils/" (pupil_id) } { "Back to the pupil" }
                @if record.kind == RecordKind::SubjectAccess {
                    " · " a href={ "/pupils/" (pupil_id) "/export.zip" } { "Download as a ZIP (JSON and CSV files)" }
                }
                " · To keep it as a PDF, print this page and choose “Save as PDF”."
            }
            (record_body(&record))
        }
    }))
}

/// `GET /pupils/{id}/export`: everything held about the pupil, readable and printable (SLT
/// and administrators).
pub async fn show(visit: Visit, path: web::Path<String>) -> PageResult {
    record_page(visit, &path, RecordKind::SubjectAccess).await
}

/// `GET /pupils/{id}/export.zip`: the same record as a ZIP.
pub async fn download(
    SignedIn(member): SignedIn,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> std::result::Result<HttpResponse, PageError> {
    let pupil_id = pupil_id_of(&path)?;
    let record = record_for(
        &state,
        member,
        pupil_id,
        RecordKind::SubjectAccess,
        Form::Zip,
    )
    .await?;
    Ok(zip_response(&record)?)
}

/// `GET /pupils/{id}/transfer`: the record to send on to the pupil's next school (SLT, the
/// SENDCO and administrators), readable and printable.
pub async fn transfer(visit: Visit, path: web::Path<String>) -> PageResult {
    record_page(visit, &path, RecordKind::Transfer).await
}
