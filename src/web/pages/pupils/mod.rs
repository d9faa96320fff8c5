//! Finding a pupil, and the pupil page: the current level with what it means on top, then
//! the timeline (incidents, conversations, level changes, suggestions and meetings, newest
//! first), filtered by kind and date. Members who may decide the pupil's moves change the
//! level by hand there: step up (to the suggested level when a suggestion waits), step down
//! or close with a reason, and for SLT and the SENDCO an override to any level.
//!
//! `mod.rs` holds the search; `page.rs` the pupil page; `timeline.rs` its entries and
//! filters; `level.rs` changing the level by hand.

pub mod contacts;
mod level;
mod page;
mod timeline;

use actix_web::http::StatusCode;
use maud::html;

use super::form_page::{PageResult, Visit};
use super::layout::level_badge;
use crate::db::pupils::{self, PupilSearch};

pub use level::change_level;
pub use page::show;

/// Most pupils a search page lists.
const SEARCH_LIMIT: i64 = 100;

/// `GET /pupils?q=&year=`: search by name or UPN, optionally within a year group.
pub async fn search(visit: Visit) -> PageResult {
    let text = visit.query.get("q").unwrap_or_default().to_string();
    let year = crate::web::api::optional_number::<i16>("year", visit.query.get("year"))?;
    let school_id = visit.member.school_id;
    let searched = !text.trim().is_empty() || year.is_some();
    let search = PupilSearch {
        text: Some(text.clone()),
        year,
        form: None,
        limit: SEARCH_LIMIT,
        include_left: false,
    };
    let found = if searched {
        visit
            .state
            .db
            .transaction(move |conn| pupils::search(conn, school_id, &search))
            .await?
    } else {
        Vec::new()
    };
    let body = html! {
        h1 { "Pupils" }
        form.search method="get" action="/pupils" role="search" {
            label for="q" { "Name or UPN" }
            div.row {
                input #q type="search" name="q" value=(text) autocomplete="off" autofocus;
                select name="year" aria-label="Year group" {
                    option value="" { "All years" }
                    @for y in 7..=13i16 {
                        option value=(y) selected[year == Some(y)] { "Year " (y) }
                    }
                }
                button type="submit" { "Search" }
            }
        }
        @if searched {
            @if found.is_empty() {
                p.muted { "No pupil matches." }
            } @else {
                p.muted { (found.len()) @if found.len() as i64 == SEARCH_LIMIT { "+" } " found" }
                table.pupils {
                    thead { tr { th { "Name" } th { "Form" } th { "UPN" } th { "Level" } } }
                    tbody {
                        @for pupil in &found {
                            tr {
                                td { a href={ "/pupils/" (pupil.id) } { (pupil.family_name) ", " (pupil.given_name) } }
                                td { (pupil.form) }
                                td.mono { (pupil.upn) }
                                td { (level_badge(pupil.level)) }
                            }
                        }
                    }
                }
            }
        }
    };
    Ok(visit.page("Pupils", StatusCode::OK, |_| body))
}
