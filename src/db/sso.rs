//! Each school's sign-in settings (its OpenID Connect client, whether passwords may be used)
//! and the staff member a verified email address belongs to.

use diesel::prelude::*;

use super::schema::{schools, staff};
use super::DbConnection;
use crate::domain::details::EmailAddress;
use crate::domain::sso::{OidcClient, SignInSettings};
use crate::error::{Error, Result};

/// A school's sign-in settings as stored.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = schools)]
pub struct SchoolSignIn {
    pub id: i64,
    pub code: String,
    pub name: String,
    pub password_login: bool,
    oidc_issuer: Option<String>,
    oidc_client_id: Option<String>,
    oidc_client_secret: Option<String>,
}

impl SchoolSignIn {
    /// The school's OpenID Connect client, when all three of its settings are stored.
    pub fn oidc(&self) -> Option<OidcClient> {
        match (
            &self.oidc_issuer,
            &self.oidc_client_id,
            &self.oidc_client_secret,
        ) {
            (Some(issuer), Some(id), Some(secret)) => OidcClient::parse(issuer, id, secret).ok(),
            _ => None,
        }
    }
}

/// The sign-in settings of the school with this code, if there is one.
pub fn find_by_code(conn: &mut DbConnection, code: &str) -> Result<Option<SchoolSignIn>> {
    Ok(schools::table
        .filter(schools::code.eq(code.trim().to_ascii_uppercase()))
        .select(SchoolSignIn::as_select())
        .first(conn)
        .optional()?)
}

/// The sign-in settings of the school with this id.
pub fn get(conn: &mut DbConnection, school_id: i64) -> Result<SchoolSignIn> {
    schools::table
        .find(school_id)
        .select(SchoolSignIn::as_select())
        .first(conn)
        .optional()?
        .ok_or(Error::NotFound("school"))
}

/// The code and name of every school whose staff can sign in with their school account, by
/// code: the sign-in page links to each.
pub fn with_provider(conn: &mut DbConnection) -> Result<Vec<(String, String)>> {
    Ok(schools::table
        .filter(schools::oidc_issuer.is_not_null())
        .order(schools::code.asc())
        .select((schools::code, schools::name))
        .load(conn)?)
}

/// Stores how a school's staff sign in.
pub fn set(conn: &mut DbConnection, school_id: i64, settings: &SignInSettings) -> Result<()> {
    let oidc = settings.oidc();
    diesel::update(schools::table.find(school_id))
        .set((
            schools::password_login.eq(settings.password_login()),
            schools::oidc_issuer.eq(oidc.map(|c| c.issuer())),
            schools::oidc_client_id.eq(oidc.map(|c| c.client_id())),
            schools::oidc_client_secret.eq(oidc.map(|c| c.client_secret())),
        ))
        .execute(conn)?;
    Ok(())
}

/// The id of the school's active staff member with this email address, if any.
pub fn active_staff_with_email(
    conn: &mut DbConnection,
    school_id: i64,
    email: &EmailAddress,
) -> Result<Option<i64>> {
    Ok(staff::table
        .filter(staff::school_id.eq(school_id))
        .filter(staff::email.eq(email.as_str()))
        .filter(staff::active.eq(true))
        .select(staff::id)
        .first(conn)
        .optional()?)
}
