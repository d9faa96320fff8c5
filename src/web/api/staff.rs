//! `GET /api/v1/staff`: the school's staff and their roles.

use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::paging;
use crate::db::staff::{self, StaffKey, StaffMember};
use crate::domain::Role;
use crate::error::Error;
use crate::web::auth::ApiUser;
use crate::web::error::{ApiError, ErrorBody};
use crate::web::AppState;

/// A member of staff.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct StaffJson {
    pub id: i64,
    pub name: String,
    pub email: String,
    /// class_staff, pastoral_lead, hod, sendco, slt, specialist or admin.
    pub roles: Vec<String>,
    /// The year groups a pastoral lead leads.
    pub year_groups: Vec<i16>,
}

impl From<StaffMember> for StaffJson {
    fn from(member: StaffMember) -> Self {
        StaffJson {
            id: member.id,
            name: member.name,
            email: member.email,
            roles: member
                .roles
                .iter()
                .map(|r| r.as_str().to_string())
                .collect(),
            year_groups: member.year_groups,
        }
    }
}

/// The answer of `GET /api/v1/staff`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct StaffList {
    /// By name, then id.
    pub staff: Vec<StaffJson>,
    /// The path (with query) of the next page, or null on the last page.
    pub next: Option<String>,
}

/// Filters of `GET /api/v1/staff`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct StaffQuery {
    /// Only staff holding this role.
    pub role: Option<String>,
    /// Most entries in the page: 1 to 500, 100 unless given.
    pub limit: Option<String>,
    /// Where the page starts: the `cursor` in the `next` path of the page before. Absent for
    /// the first page.
    pub cursor: Option<String>,
}

/// Lists the school's active staff, by name, a page at a time.
#[utoipa::path(
    get,
    path = "/api/v1/staff",
    params(StaffQuery),
    responses(
        (status = 200, description = "A page of the school's staff, with the path of the next page", body = StaffList),
        (status = 400, description = "Unknown role, or a malformed `limit` or `cursor`; `field` names it", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody)
    )
)]
pub async fn list(
    req: HttpRequest,
    user: ApiUser,
    query: web::Query<StaffQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let role = match query
        .role
        .as_deref()
        .map(str::trim)
        .filter(|r| !r.is_empty())
    {
        Some(raw) => Some(Role::parse(raw).map_err(|e| Error::invalid("role", e.to_string()))?),
        None => None,
    };
    let request = paging::read::<StaffKey>(&req, query.limit.as_deref(), query.cursor.as_deref())?;
    let school_id = user.0.school_id;
    let members = state
        .db
        .transaction(move |conn| staff::page(conn, school_id, role, &request))
        .await?;
    Ok(HttpResponse::Ok().json(StaffList {
        staff: members.items.into_iter().map(StaffJson::from).collect(),
        next: paging::next_path(&req, members.next),
    }))
}
