//! The backups page, for administrators: whether nightly backups are on and when, how the
//! last one went (a failure shown plainly, with why), and the backups Steadfast has taken by
//! itself. Backups cover the whole installation, so any school's administrators see them;
//! the page shows file names, sizes and times, never records.

use actix_web::http::StatusCode;
use actix_web::web;
use chrono::Utc;
use maud::html;

use super::form::local;
use super::form_page::{PageResult, Visit};
use crate::backup::automatic::{self, NightlyPlan};
use crate::domain::Role;
use crate::web::auth::require_role;

/// A size in bytes, in the largest unit that keeps it above 1.
fn size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["bytes", "KB", "MB", "GB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} bytes")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// `GET /admin/backups`: the nightly backups' settings, the last one's outcome and the
/// backups in the folder.
pub async fn show(visit: Visit) -> PageResult {
    require_role(&visit.member, &[Role::Admin])?;
    let settings = visit.state.settings.clone();
    let (plan, status, listed) = web::block(move || {
        (
            NightlyPlan::from_settings(&settings).map_err(|e| format!("{e:#}")),
            automatic::last_status(&settings.data_dir),
            automatic::list(&settings.backup_folder()),
        )
    })
    .await
    .map_err(|e| crate::error::Error::Internal(format!("reading the backups folder: {e}")))?;
    let settings = &visit.state.settings;
    let folder = settings.backup_folder();
    Ok(visit.page("Backups", StatusCode::OK, |_| {
            html! {
                h1 { "Backups" }
                p.muted { "Steadfast backs up the whole installation every night and before each upgrade. Copy the backups somewhere away from this server too." }
                section.card {
                    h2 { "Nightly backups" }
                    dl.facts {
                        dt { "Nightly" }
                        dd {
                            @match &plan {
                                Ok(Some(plan)) => { "On: the next at " (local(plan.next_after(Utc::now()))) }
                                Ok(None) => { "Off (the backup_nightly setting)" }
                                Err(problem) => { span.tag.warn { "not running" } " " (problem) }
                            }
                        }
                        dt { "Folder" } dd { code { (folder.display()) } }
                        dt { "Kept" }
                        dd {
                            (settings.backup_keep_daily) " daily, " (settings.backup_keep_weekly) " weekly and "
                            (settings.backup_keep_monthly) " monthly"
                        }
                        dt { "Encrypted" }
                        dd { @if settings.backup_passphrase_file.trim().is_empty() { "No" } @else { "Yes, with a passphrase" } }
                    }
                }
                section.card #last-nightly {
                    h2 { "The last nightly backup" }
                    @match &status {
                        None => p.muted { "None has been taken yet." },
                        Some(status) => {
                            @if let Some(error) = &status.error {
                                p.problem role="alert" {
                                    span.tag.warn { "failed" } " " (local(status.at)) ": " (error)
                                }
                                p { "It is tried again next night. Until then, take one by hand with " code { "steadfast backup --out FILE" } "." }
                            } @else {
                                p {
                                    span.tag { "written" } " " (local(status.at)) ": "
                                    @if let Some(file) = &status.file { code { (file) } }
                                    @if let Some(bytes) = status.bytes { " (" (size(bytes)) ")" }
                                }
                                @if !status.removed.is_empty() {
                                    p.muted { "Older backups removed by rotation: " (status.removed.join(", ")) }
                                }
                            }
                        }
                    }
                }
                section.card {
                    h2 { "In the folder" }
                    @if listed.is_empty() {
                        p.muted { "No backups yet." }
                    } @else {
                        table {
                            thead { tr { th { "File" } th { "Size" } th { "Written" } } }
                            tbody {
                                @for backup in &listed {
                                    tr {
                                        td { code { (backup.name) } }
                                        td { (size(backup.bytes)) }
                                        td { @if let Some(at) = backup.modified { (local(at)) } }
                                    }
                                }
                            }
                        }
                    }
                }
            }
    }))
}

#[cfg(test)]
mod tests {
    use super::size;

    #[test]
    fn sizes_read_in_the_largest_fitting_unit() {
        assert_eq!(size(0), "0 bytes");
        assert_eq!(size(1023), "1023 bytes");
        assert_eq!(size(1536), "1.5 KB");
        assert_eq!(size(5 * 1024 * 1024), "5.0 MB");
    }
}
