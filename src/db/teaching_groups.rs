//! Teaching groups (the scheduled classes of a OneRoster bundle) and their pupils: the
//! school's groups as a bundle is compared with them, and a plan (`domain::oneroster`)
//! written in the caller's transaction: groups added, renamed, and their members replaced
//! by the bundle's. Groups a bundle no longer names are kept.

use std::collections::HashMap;

use diesel::prelude::*;

use super::schema::{pupils, teaching_group_members, teaching_groups};
use super::DbConnection;
use crate::domain::oneroster::{GroupPlan, StoredGroup, TeachingGroup};
use crate::error::Result;

/// Every teaching group of the school, with the UPNs of its pupils.
pub fn stored_groups(conn: &mut DbConnection, school_id: i64) -> Result<Vec<StoredGroup>> {
    let groups: Vec<(i64, String, String, Option<String>)> = teaching_groups::table
        .filter(teaching_groups::school_id.eq(school_id))
        .order(teaching_groups::id)
        .select((
            teaching_groups::id,
            teaching_groups::source_id,
            teaching_groups::name,
            teaching_groups::subject,
        ))
        .load(conn)?;
    let mut members: HashMap<i64, Vec<String>> = HashMap::new();
    for (group_id, upn) in teaching_group_members::table
        .inner_join(pupils::table)
        .filter(teaching_group_members::school_id.eq(school_id))
        .select((teaching_group_members::group_id, pupils::upn))
        .load::<(i64, String)>(conn)?
    {
        members.entry(group_id).or_default().push(upn);
    }
    Ok(groups
        .into_iter()
        .map(|(id, source_id, name, subject)| {
            let mut members = members.remove(&id).unwrap_or_default();
            members.sort();
            StoredGroup {
                id,
                source_id,
                name,
                subject,
                members,
            }
        })
        .collect())
}

/// Writes a teaching group plan in the caller's transaction. Members are the school's
/// pupils with the group's UPNs.
pub fn apply(conn: &mut DbConnection, school_id: i64, plan: &GroupPlan) -> Result<()> {
    for group in &plan.added {
        let id: i64 = diesel::insert_into(teaching_groups::table)
            .values((
                teaching_groups::school_id.eq(school_id),
                teaching_groups::source_id.eq(&group.source_id),
                teaching_groups::name.eq(&group.name),
                teaching_groups::subject.eq(&group.subject),
            ))
            .returning(teaching_groups::id)
            .get_result(conn)?;
        add_members(conn, school_id, id, group)?;
    }
    for changed in &plan.changed {
        let group = &changed.group;
        diesel::update(teaching_groups::table.find(changed.id))
            .set((
                teaching_groups::name.eq(&group.name),
                teaching_groups::subject.eq(&group.subject),
            ))
            .execute(conn)?;
        if changed.members_changed {
            diesel::delete(
                teaching_group_members::table
                    .filter(teaching_group_members::group_id.eq(changed.id)),
            )
            .execute(conn)?;
            add_members(conn, school_id, changed.id, group)?;
        }
    }
    Ok(())
}

/// Adds the group's pupils, found by UPN in the school.
fn add_members(
    conn: &mut DbConnection,
    school_id: i64,
    group_id: i64,
    group: &TeachingGroup,
) -> Result<()> {
    for chunk in group.members.chunks(500) {
        let ids: Vec<i64> = pupils::table
            .filter(pupils::school_id.eq(school_id))
            .filter(pupils::upn.eq_any(chunk))
            .select(pupils::id)
            .load(conn)?;
        for pupil_id in ids {
            diesel::insert_into(teaching_group_members::table)
                .values((
                    teaching_group_members::group_id.eq(group_id),
                    teaching_group_members::pupil_id.eq(pupil_id),
                    teaching_group_members::school_id.eq(school_id),
                ))
                .execute(conn)?;
        }
    }
    Ok(())
}
