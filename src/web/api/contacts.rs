//! `GET /api/v1/pupils/{id}/contacts`: a pupil's family contacts, for those who keep them
//! (the pupil's Head of Year or House, the SENDCO, SLT and administrators).

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Serialize;
use utoipa::ToSchema;

use super::paging::{self, PageQuery};
use crate::db::contacts::{self, ContactKey, ContactRow};
use crate::web::auth::ApiUser;
use crate::web::error::{ApiError, ErrorBody};
use crate::web::AppState;

/// One of a pupil's family contacts.
#[derive(Debug, Serialize, ToSchema)]
pub struct ContactJson {
    pub id: i64,
    pub name: String,
    /// mother, father, parent, step_parent, carer, grandparent, guardian, foster_carer,
    /// sibling, other_relative, social_worker or other.
    pub relationship: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    /// Whether the contact is invited to the pupil's meetings.
    pub invited: bool,
}

impl From<ContactRow> for ContactJson {
    fn from(row: ContactRow) -> Self {
        ContactJson {
            id: row.id,
            name: row.name,
            relationship: row.relationship,
            email: row.email,
            phone: row.phone,
            invited: row.invited,
        }
    }
}

/// The answer of `GET /api/v1/pupils/{id}/contacts`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ContactList {
    /// In the order the school keeps them.
    pub contacts: Vec<ContactJson>,
    /// The path (with query) of the next page, or null on the last page.
    pub next: Option<String>,
}

/// Reads a pupil's family contacts.
#[utoipa::path(
    get,
    path = "/api/v1/pupils/{id}/contacts",
    params(("id" = i64, Path, description = "The pupil's id"), PageQuery),
    responses(
        (status = 200, description = "A page of the pupil's family contacts, with the path of the next page", body = ContactList),
        (status = 400, description = "A malformed `limit` or `cursor`; `field` names it", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "The caller does not keep this pupil's contacts (only their Head of Year or House, the SENDCO, SLT and administrators do)", body = ErrorBody),
        (status = 404, description = "No such pupil in this school", body = ErrorBody)
    )
)]
pub async fn list(
    req: HttpRequest,
    user: ApiUser,
    path: web::Path<i64>,
    query: web::Query<PageQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let request =
        paging::read::<ContactKey>(&req, query.limit.as_deref(), query.cursor.as_deref())?;
    let pupil_id = path.into_inner();
    let member = user.0;
    let (_, listed) = state
        .db
        .transaction(move |conn| contacts::page_for(conn, &member, pupil_id, &request))
        .await?;
    Ok(HttpResponse::Ok().json(ContactList {
        contacts: listed.items.into_iter().map(ContactJson::from).collect(),
        next: paging::next_path(&req, listed.next),
    }))
}
