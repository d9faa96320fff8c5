//! `/admin/import`: an administrator brings in a file (the roll from the MIS, and the other
//! kinds in `imports::ImportKind`): choose it, see the preview (what would be added, changed
//! field by field, marked left and left alone, and every problem by line and column), map
//! any column the file names differently, then apply it in one transaction.
//!
//! The chosen file travels back with the preview form (as base64 in a hidden field), so the
//! page keeps nothing between the steps and works the same behind several instances.

use actix_web::http::StatusCode;
use base64::Engine as _;
use chrono::Utc;
use maud::{html, Markup};

use super::form::{Fields, Form, Problem};
use super::form_page::{FormPage, PageResult, Visit};
use super::layout::csrf_field;
use crate::db::staff::StaffMember;
use crate::db::DbConnection;
use crate::error::{Error, Result};
use crate::imports::{self, ImportKind, ImportOptions, ImportReport};
use crate::web::auth::{require_role, CsrfForm, CsrfUpload};

/// The largest preview form posted back: the file as base64 and the choices beside it.
pub const MAX_PREVIEW_FORM_BYTES: usize = imports::MAX_IMPORT_BYTES / 3 * 4 + 64 * 1024;

/// What the person chose: the kind, the file, whole roll or not, and columns mapped by hand.
struct Choice {
    kind: ImportKind,
    file: Vec<u8>,
    full: bool,
    place: bool,
    invite: bool,
    mapped: Vec<(String, String)>,
    /// History: behaviours of the file mapped to one on the school's list.
    behaviours: Vec<(String, String)>,
}

impl Choice {
    /// Reads the kind, whole-roll box and mapped columns from a form; the file comes apart.
    fn read(fields: &Fields, file: Vec<u8>) -> Result<Choice> {
        let kind = fields
            .get("kind")
            .and_then(ImportKind::parse)
            .ok_or_else(|| Error::invalid("kind", "choose what the file holds"))?;
        if file.is_empty() {
            return Err(Error::invalid("file", "choose a file to bring in"));
        }
        let mapped = numbered_pairs(fields, "header", "column")
            .into_iter()
            .filter(|(_, column)| {
                column.is_empty() || kind.columns().iter().any(|c| c.key == *column)
            })
            .collect();
        let behaviours = numbered_pairs(fields, "behaviour", "as")
            .into_iter()
            .filter(|(_, to)| !to.is_empty())
            .collect();
        Ok(Choice {
            kind,
            file,
            behaviours,
            full: kind.takes_full() && fields.get("full").is_some(),
            place: kind.takes_place() && fields.get("place").is_some(),
            invite: kind.takes_invite() && fields.get("invite").is_some(),
            mapped,
        })
    }

    /// The options of a run, with those the settings give.
    fn options(&self, dry_run: bool, settings: &crate::config::Settings) -> ImportOptions {
        ImportOptions {
            dry_run,
            full: self.full,
            place: self.place,
            invite: self.invite,
            mapped: self.mapped.clone(),
            behaviours: self.behaviours.clone(),
            ..ImportOptions::for_settings(settings)
        }
    }
}

/// The choices a preview form carries in numbered pairs of fields (`header0` with `column0`,
/// `behaviour0` with `as0`, …): each name the file uses with what the person chose for it
/// (blank when nothing), up to the first number missing.
fn numbered_pairs(fields: &Fields, named: &str, chosen: &str) -> Vec<(String, String)> {
    (0..)
        .map_while(|index| {
            let name = fields.get(&format!("{named}{index}"))?;
            let choice = fields.raw(&format!("{chosen}{index}")).trim();
            Some((name.to_string(), choice.to_string()))
        })
        .collect()
}

/// `GET /admin/import`: choose a file (`?kind=` preselects what it holds).
pub async fn show(visit: Visit) -> PageResult {
    let kind = visit.query.get("kind").and_then(ImportKind::parse);
    visit.show::<ChoosePage>(kind).await
}

/// `POST /admin/import/preview`: the chosen file, previewed; nothing is written.
pub async fn preview(visit: Visit, upload: CsrfUpload) -> PageResult {
    let kind = upload.fields.get("kind").and_then(ImportKind::parse);
    require_role(
        &visit.member,
        kind.unwrap_or(ImportKind::Pupils).importers(),
    )?;
    match Choice::read(&upload.fields, upload.file) {
        Ok(choice) => run_and_show(visit, choice, true).await,
        Err(error) => match Problem::of(&error) {
            Some(problem) => {
                let form = Form::again(upload.fields, problem);
                let status = StatusCode::UNPROCESSABLE_ENTITY;
                visit.again::<ChoosePage>(kind, form, status).await
            }
            None => Err(error.into()),
        },
    }
}

/// `POST /admin/import`: the previewed file again, with `step=preview` (columns mapped
/// anew) or `step=apply`.
pub async fn submit(visit: Visit, form: CsrfForm<Fields>) -> PageResult {
    let fields = form.0;
    let kind = fields.get("kind").and_then(ImportKind::parse);
    require_role(
        &visit.member,
        kind.unwrap_or(ImportKind::Pupils).importers(),
    )?;
    let file = base64::engine::general_purpose::STANDARD
        .decode(fields.raw("file").trim())
        .map_err(|_| Error::bad_request("the previewed file could not be read: choose it again"))?;
    let choice = Choice::read(&fields, file)?;
    let apply = fields.get("step") == Some("apply");
    run_and_show(visit, choice, !apply).await
}

/// Runs the import (a dry run, or for real) and shows its report.
async fn run_and_show(visit: Visit, choice: Choice, dry_run: bool) -> PageResult {
    let state = visit.state.clone();
    let (school_id, actor) = (visit.member.school_id, visit.member.id);
    let options = choice.options(dry_run, &state.settings);
    let (kind, file) = (choice.kind, choice.file.clone());
    let report = state
        .db
        .write(move |conn| {
            imports::run(
                kind,
                conn,
                school_id,
                Some(actor),
                &file,
                &options,
                Utc::now(),
            )
        })
        .await?;
    let listed: Vec<String> = if kind == ImportKind::Incidents {
        state
            .db
            .transaction(move |conn| crate::db::behaviours::list(conn, school_id, false))
            .await?
            .into_iter()
            .map(|b| b.name)
            .collect()
    } else {
        Vec::new()
    };
    let status = if report.errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    Ok(visit.page(ChoosePage::TITLE, status, |csrf| {
        render_report(&choice, &report, &listed, csrf)
    }))
}

/// The page to choose a file: what it holds (the kind asked for chosen first), the file and
/// the choices beside it, with a problem at its field when there is one.
struct ChoosePage {
    kind: Option<ImportKind>,
}

impl FormPage for ChoosePage {
    /// The kind of file asked for (`?kind=`), when one is.
    type Key = Option<ImportKind>;
    const TITLE: &'static str = "Bring in a file";

    fn load(
        _conn: &mut DbConnection,
        member: &StaffMember,
        kind: Option<ImportKind>,
    ) -> Result<Self> {
        require_role(member, kind.unwrap_or(ImportKind::Pupils).importers())?;
        Ok(ChoosePage { kind })
    }

    fn render(&self, form: &Form, _notice: Option<&str>, csrf: &str) -> Markup {
        html! {
            h1 { "Bring in a file" }
            p.muted { "Files as the school's MIS and other systems save them. You will see what would change before anything is written." }
            section.card {
                form.stack method="post" action="/admin/import/preview" enctype="multipart/form-data" {
                    (csrf_field(csrf))
                    label for="kind" { "What the file holds" }
                    select #kind name="kind" {
                        @for option in ImportKind::ALL {
                            option value=(option.as_str()) selected[Some(*option) == self.kind] { (option.title()) }
                        }
                    }
                    (form.problem_at("kind"))
                    label for="file" { "File" }
                    input #file type="file" name="file" required;
                    (form.problem_at("file"))
                    label.choice {
                        input type="checkbox" name="full" value="on";
                        " Pupils: the file is the whole roll, so pupils not in it are marked as left (their records are kept)"
                    }
                    label.choice {
                        input type="checkbox" name="invite" value="on";
                        " Staff: email each new person an invitation to choose a password (a link valid 7 days)"
                    }
                    label.choice {
                        input type="checkbox" name="place" value="on";
                        " Behaviour history: place each pupil with no level yet on the ladder, as the school's policy would have"
                    }
                    button.primary type="submit" { "Preview" }
                }
            }
        }
    }
}

/// A preview (or what was done), with the form to map columns and apply.
fn render_report(choice: &Choice, report: &ImportReport, listed: &[String], csrf: &str) -> Markup {
    // Behaviours already mapped, then those the import would add: each can be mapped.
    let mut behaviours: Vec<(String, String)> = choice.behaviours.clone();
    behaviours.extend(
        report
            .details
            .iter()
            .filter(|d| d.action == imports::history::BEHAVIOUR_ADDED)
            .filter(|d| !choice.behaviours.iter().any(|(b, _)| *b == d.key))
            .map(|d| (d.key.clone(), String::new())),
    );
    let encoded = base64::engine::general_purpose::STANDARD.encode(&choice.file);
    let mut headers: Vec<(String, String)> = choice.mapped.clone();
    headers.extend(
        report
            .unrecognised_columns
            .iter()
            .filter(|h| !choice.mapped.iter().any(|(m, _)| m == *h))
            .map(|h| (h.clone(), String::new())),
    );
    let can_apply = !report.applied && report.errors.is_empty();
    html! {
        h1.applied[report.applied] { @if report.applied { "Brought in" } @else { "Preview" } ": " (choice.kind.title()) }
        p.notice role="status" {
            @if report.applied { (report.summary()) "." }
            @else if report.errors.is_empty() { "Nothing has been written yet: " (report.summary()) "." }
            @else { "Nothing can be brought in until every problem below is put right in the file (or its columns are mapped): " (report.errors.len()) " problem(s)." }
        }
        @if !report.errors.is_empty() {
            section.card.problems {
                h2 { "Problems" }
                table {
                    thead { tr { th { "Line" } th { "Column" } th { "What is wrong" } } }
                    tbody {
                        @for error in &report.errors {
                            tr { td { (error.line) } td { (error.column) } td { (error.message) } }
                        }
                    }
                }
            }
        }
        @if !report.applied {
            form.stack method="post" action="/admin/import" {
                (csrf_field(csrf))
                input type="hidden" name="kind" value=(choice.kind.as_str());
                input type="hidden" name="file" value=(encoded);
                @if choice.full { input type="hidden" name="full" value="on"; }
                @if choice.place { input type="hidden" name="place" value="on"; }
                @if choice.invite { input type="hidden" name="invite" value="on"; }
                @if !headers.is_empty() && !choice.kind.columns().is_empty() {
                    section.card {
                        h2 { "Columns" }
                        p.muted { "Columns of the file that were not recognised. Choose what each holds, then preview again." }
                        @for (index, (header, chosen)) in headers.iter().enumerate() {
                            input type="hidden" name={ "header" (index) } value=(header);
                            label for={ "column" (index) } { "“" (header) "”" }
                            select id={ "column" (index) } name={ "column" (index) } {
                                option value="" selected[chosen.is_empty()] { "Not used" }
                                @for column in choice.kind.columns() {
                                    option value=(column.key) selected[chosen == column.key] { (column.label) }
                                }
                            }
                        }
                        button type="submit" name="step" value="preview" { "Preview again" }
                    }
                }
                @if !behaviours.is_empty() && !report.applied {
                    section.card {
                        h2 { "Behaviours not on the school's list" }
                        p.muted { "Each is added to the list unless you choose one of the list's behaviours for it; then preview again." }
                        @for (index, (named, chosen)) in behaviours.iter().enumerate() {
                            input type="hidden" name={ "behaviour" (index) } value=(named);
                            label for={ "as" (index) } { "“" (named) "”" }
                            select id={ "as" (index) } name={ "as" (index) } {
                                option value="" selected[chosen.is_empty()] { "Add it to the list" }
                                @for name in listed {
                                    option value=(name) selected[chosen == name] { (name) }
                                }
                            }
                        }
                        button type="submit" name="step" value="preview" { "Preview again" }
                    }
                }
                @if can_apply {
                    button.primary type="submit" name="step" value="apply" { "Apply: " (report.summary()) }
                }
            }
        }
        @if !report.details.is_empty() {
            section.card {
                h2 { @if report.applied { "What changed" } @else { "What would change" } }
                table.import-details {
                    thead { tr { th { "" } th { "Key" } th { "Name" } th { "Line" } th { "Changes" } } }
                    tbody {
                        @for detail in &report.details {
                            tr {
                                td { (detail.action) }
                                td.mono { (detail.key) }
                                td { (detail.name) }
                                td { @if let Some(line) = detail.line { (line) } }
                                td {
                                    @for change in &detail.changes {
                                        div { (change.field) ": " (change.from) " → " (change.to) }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        @if !report.moved.is_empty() {
            section.card {
                h2 { @if report.applied { "Due dates moved" } @else { "Due dates that would move" } }
                ul { @for moved in &report.moved { li { (moved.to_string()) } } }
            }
        }
        @if !report.skipped.is_empty() {
            section.card {
                h2 { "Left out" }
                table {
                    thead { tr { th { "Line" } th { "Entry" } th { "Why" } } }
                    tbody {
                        @for skipped in &report.skipped {
                            tr { td { (skipped.line) } td { (skipped.name) } td { (skipped.reason) } }
                        }
                    }
                }
            }
        }
        p { a href={ "/admin/import?kind=" (choice.kind.as_str()) } { "Bring in another file" } }
    }
}
