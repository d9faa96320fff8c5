//! `GET /api/v1/pupils/{id}/contacts`: a pupil's family contacts, for those who keep them
//! (the pupil's Head of Year or House, the SENDCO, SLT and administrators).

use actix_web::{web, HttpResponse};
use serde::Serialize;
use utoipa::ToSchema;

use crate::db::contacts::{self, ContactRow};
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
}

/// Reads a pupil's family contacts.
#[utoipa::path(
    get,
    path = "/api/v1/pupils/{id}/contacts",
    params(("id" = i64, Path, description = "The pupil's id")),
    responses(
        (status = 200, description = "The pupil's family contacts", body = ContactList),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "The caller does not keep this pupil's contacts (only their Head of Year or House, the SENDCO, SLT and administrators do)", body = ErrorBody),
        (status = 404, description = "No such pupil in this school", body = ErrorBody)
    )
)]
pub async fn list(
    user: ApiUser,
    path: web::Path<i64>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let pupil_id = path.into_inner();
    let member = user.0;
    let (_, listed) = state
        .db
        .transaction(move |conn| contacts::list_for(conn, &member, pupil_id))
        .await?;
    Ok(HttpResponse::Ok().json(ContactList {
        contacts: listed.into_iter().map(ContactJson::from).collect(),
    }))
}
