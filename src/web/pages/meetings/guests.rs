//! The guests of a booked meeting on its page: each with the answer they gave through their
//! family link (and its note), and a button to stop their link working.

use actix_web::web;
use chrono::Utc;
use maud::{html, Markup};

use super::MeetingPage;
use crate::db::family;
use crate::db::from_db_time;
use crate::db::meetings::GuestRole;
use crate::domain::family::GuestResponse;
use crate::web::auth::CsrfForm;
use crate::web::pages::form::{local, Fields};
use crate::web::pages::form_page::{PageResult, Visit};
use crate::web::pages::layout::csrf_field;

/// The guests, each with their answer and a button to revoke their link.
pub fn guest_list(data: &MeetingPage, csrf: &str) -> Markup {
    let meeting_id = data.view.meeting.id;
    let open = ["due", "scheduled"].contains(&data.view.meeting.status.as_str());
    html! {
        dt { "Guests" }
        dd {
            ul.list #guests {
                @for guest in &data.guests {
                    li id={ "guest-" (guest.id) } {
                        strong { (guest.name) } " (" (GuestRole::parse(&guest.role).map_or("Guest", GuestRole::title)) ")"
                        @match (guest.response.as_deref().and_then(|r| GuestResponse::parse(r).ok()), guest.responded_at) {
                            (Some(answer), Some(at)) => {
                                br;
                                span.tag.answer { (answer.staff_words()) } " " span.muted { (local(from_db_time(at))) }
                                @if let Some(note) = &guest.response_note { br; q { (note) } }
                            }
                            _ => { br; span.muted { "No answer yet" } }
                        }
                        @if data.revoked_guests.contains(&guest.id) {
                            br; span.muted { "Their link has been stopped." }
                        } @else if open {
                            form.inline method="post" action={ "/meetings/" (meeting_id) "/guests/" (guest.id) "/revoke" } {
                                (csrf_field(csrf))
                                button type="submit" { "Stop their link" }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// `POST /meetings/{id}/guests/{guest_id}/revoke`: the guest's family link stops working.
pub async fn revoke(
    visit: Visit,
    path: web::Path<(i64, i64)>,
    form: CsrfForm<Fields>,
) -> PageResult {
    let (meeting_id, guest_id) = path.into_inner();
    visit
        .submit::<MeetingPage, _, _>(meeting_id, form.0, Ok(()), move |conn, by, _, ()| {
            family::revoke_guest(conn, by, meeting_id, guest_id, Utc::now())?;
            Ok(format!("/meetings/{meeting_id}?done=revoked"))
        })
        .await
}
