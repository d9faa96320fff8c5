//! The audit log: who did what to which record, and when. Details never hold names or notes.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::audit_log;
use super::DbConnection;
use crate::error::Result;

/// One audited action, written in the same transaction as the change it describes.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = audit_log)]
pub struct AuditEntry<'a> {
    pub school_id: i64,
    pub actor_id: Option<i64>,
    pub action: &'a str,
    pub entity: &'a str,
    pub entity_id: Option<i64>,
    pub detail: String,
    pub at: NaiveDateTime,
}

/// Records one audited action inside the caller's transaction.
pub fn record(conn: &mut DbConnection, entry: AuditEntry<'_>) -> Result<()> {
    diesel::insert_into(audit_log::table)
        .values(&entry)
        .execute(conn)?;
    Ok(())
}
