//! `GET /api/v1/staff`: the school's staff and their roles.

use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::db::staff::{self, StaffMember};
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
    pub staff: Vec<StaffJson>,
}

/// Filters of `GET /api/v1/staff`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct StaffQuery {
    /// Only staff holding this role.
    pub role: Option<String>,
}

/// Lists the school's active staff, by name.
#[utoipa::path(
    get,
    path = "/api/v1/staff",
    params(StaffQuery),
    responses(
        (status = 200, description = "The school's staff", body = StaffList),
        (status = 400, description = "Unknown role", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody)
    )
)]
pub async fn list(
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
    let school_id = user.0.school_id;
    let members = state
        .db
        .transaction(move |conn| staff::list(conn, school_id, role))
        .await?;
    Ok(HttpResponse::Ok().json(StaffList {
        staff: members.into_iter().map(StaffJson::from).collect(),
    }))
}
