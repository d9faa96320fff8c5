//! Applying a staff import (`domain::staff_roster`): the school's staff as the comparison
//! needs them, and a plan written in the caller's transaction: accounts added (without a
//! password, each invited by email when asked), names, roles, year groups and houses
//! changed; nobody deleted or closed. Audited by counts, never by name.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use super::account_links;
use super::audit::{self, AuditEntry};
use super::schema::staff;
use super::staff::{self as accounts, StaffAccount};
use super::{to_db_time, DbConnection};
use crate::domain::account_link::LinkPurpose;
use crate::domain::staff_roster::{StaffPlan, StoredStaff};
use crate::error::Result;

/// Every account of the school, open or closed, as a staff import compares them.
pub fn stored_staff(conn: &mut DbConnection, school_id: i64) -> Result<Vec<StoredStaff>> {
    Ok(accounts::accounts(conn, school_id)?
        .into_iter()
        .map(|account: StaffAccount| StoredStaff {
            id: account.id,
            email: account.email,
            name: account.name,
            roles: account.roles,
            year_groups: account.year_groups,
            houses: account.houses,
            active: account.active,
        })
        .collect())
}

/// Which of these addresses belong to accounts of other schools.
pub fn emails_elsewhere(
    conn: &mut DbConnection,
    school_id: i64,
    emails: &[&str],
) -> Result<HashSet<String>> {
    let mut found = HashSet::new();
    for chunk in emails.chunks(500) {
        let rows: Vec<String> = staff::table
            .filter(staff::school_id.ne(school_id))
            .filter(staff::email.eq_any(chunk))
            .select(staff::email)
            .load(conn)?;
        found.extend(rows);
    }
    Ok(found)
}

/// Writes a staff import's plan in the caller's transaction. With `invite_through` (the
/// public address links point to), each new person's invitation is queued in the outbox
/// in the same transaction. Answers the ids of the accounts added.
pub fn apply(
    conn: &mut DbConnection,
    school_id: i64,
    actor_id: Option<i64>,
    plan: &StaffPlan,
    invite_through: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Vec<i64>> {
    let mut added = Vec::new();
    for record in &plan.added {
        let id = accounts::insert_account(conn, school_id, &record.email, &record.name, now)?;
        accounts::set_roles(conn, school_id, id, &record.roles_for_new())?;
        if let Some(years) = &record.year_groups {
            accounts::set_year_groups(conn, school_id, id, years)?;
        }
        if let Some(houses) = &record.houses {
            accounts::set_houses(conn, school_id, id, houses)?;
        }
        if let Some(public_url) = invite_through {
            account_links::send(conn, public_url, id, LinkPurpose::Invitation, actor_id, now)?;
        }
        added.push(id);
    }
    for changed in &plan.changed {
        let record = &changed.record;
        for change in &changed.changes {
            match change.field {
                "name" => accounts::set_name(conn, school_id, changed.id, &record.name)?,
                "roles" => {
                    if let Some(roles) = &record.roles {
                        accounts::set_roles(conn, school_id, changed.id, roles)?;
                    }
                }
                "year_groups" => {
                    if let Some(years) = &record.year_groups {
                        accounts::set_year_groups(conn, school_id, changed.id, years)?;
                    }
                }
                "houses" => {
                    if let Some(houses) = &record.houses {
                        accounts::set_houses(conn, school_id, changed.id, houses)?;
                    }
                }
                _ => {}
            }
        }
    }
    audit::record(
        conn,
        AuditEntry {
            school_id,
            actor_id,
            action: "staff.import",
            entity: "school",
            entity_id: Some(school_id),
            detail: format!(
                "{} added{}, {} changed, {} unchanged",
                plan.added.len(),
                if invite_through.is_some() {
                    " and invited"
                } else {
                    ""
                },
                plan.changed.len(),
                plan.unchanged
            ),
            at: to_db_time(now),
        },
    )?;
    Ok(added)
}
