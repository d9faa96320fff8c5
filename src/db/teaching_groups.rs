//! Teaching groups (the scheduled classes of a OneRoster bundle) and their pupils: the
//! school's groups as a bundle is compared with them, and a plan (`domain::oneroster`)
//! written in the caller's transaction: groups added, renamed, and their members replaced
//! by the bundle's. Groups a bundle no longer names are kept.

use std::collections::HashMap;

use diesel::prelude::*;

use super::pupils::PupilView;
use super::schema::{
    pupils, staff, teaching_group_members, teaching_group_teachers, teaching_groups,
};
use super::DbConnection;
use crate::domain::oneroster::{GroupPlan, StoredGroup, TeachingGroup};
use crate::domain::timetable::LessonSlot;
use crate::error::Result;

/// Every teaching group of the school, with the UPNs of its pupils.
pub fn stored_groups(conn: &mut DbConnection, school_id: i64) -> Result<Vec<StoredGroup>> {
    let groups: Vec<(i64, String, String, Option<String>, String)> = teaching_groups::table
        .filter(teaching_groups::school_id.eq(school_id))
        .order(teaching_groups::id)
        .select((
            teaching_groups::id,
            teaching_groups::source_id,
            teaching_groups::name,
            teaching_groups::subject,
            teaching_groups::periods,
        ))
        .load(conn)?;
    let mut teachers: HashMap<i64, Vec<String>> = HashMap::new();
    for (group_id, email) in teaching_group_teachers::table
        .inner_join(staff::table)
        .filter(teaching_group_teachers::school_id.eq(school_id))
        .select((teaching_group_teachers::group_id, staff::email))
        .load::<(i64, String)>(conn)?
    {
        teachers.entry(group_id).or_default().push(email);
    }
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
        .map(|(id, source_id, name, subject, periods)| {
            let mut members = members.remove(&id).unwrap_or_default();
            members.sort();
            let mut teachers = teachers.remove(&id).unwrap_or_default();
            teachers.sort();
            StoredGroup {
                id,
                source_id,
                name,
                subject,
                periods,
                teachers,
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
                teaching_groups::periods.eq(&group.periods),
            ))
            .returning(teaching_groups::id)
            .get_result(conn)?;
        add_members(conn, school_id, id, group)?;
        add_teachers(conn, school_id, id, group)?;
    }
    for changed in &plan.changed {
        let group = &changed.group;
        diesel::update(teaching_groups::table.find(changed.id))
            .set((
                teaching_groups::name.eq(&group.name),
                teaching_groups::subject.eq(&group.subject),
                teaching_groups::periods.eq(&group.periods),
            ))
            .execute(conn)?;
        if changed.teachers_changed {
            diesel::delete(
                teaching_group_teachers::table
                    .filter(teaching_group_teachers::group_id.eq(changed.id)),
            )
            .execute(conn)?;
            add_teachers(conn, school_id, changed.id, group)?;
        }
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

/// Adds the group's teachers, found by email among the school's staff.
fn add_teachers(
    conn: &mut DbConnection,
    school_id: i64,
    group_id: i64,
    group: &TeachingGroup,
) -> Result<()> {
    let ids: Vec<i64> = staff::table
        .filter(staff::school_id.eq(school_id))
        .filter(staff::email.eq_any(&group.teachers))
        .select(staff::id)
        .load(conn)?;
    for staff_id in ids {
        diesel::insert_into(teaching_group_teachers::table)
            .values((
                teaching_group_teachers::group_id.eq(group_id),
                teaching_group_teachers::staff_id.eq(staff_id),
                teaching_group_teachers::school_id.eq(school_id),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// A teaching group a member of staff teaches, with when it meets and its pupils on roll.
#[derive(Debug, Clone)]
pub struct TaughtGroup {
    pub id: i64,
    pub name: String,
    pub subject: Option<String>,
    /// When it meets, read from what was stored (slots that no longer read are left out).
    pub slots: Vec<LessonSlot>,
    /// Its pupils on roll, by family then given name.
    pub pupils: Vec<PupilView>,
}

/// The teaching groups `staff_id` teaches, by name (a year number in front read as a number),
/// each with its pupils on roll.
pub fn taught_by(
    conn: &mut DbConnection,
    school_id: i64,
    staff_id: i64,
) -> Result<Vec<TaughtGroup>> {
    let mut groups: Vec<(i64, String, Option<String>, String)> = teaching_groups::table
        .inner_join(teaching_group_teachers::table)
        .filter(teaching_groups::school_id.eq(school_id))
        .filter(teaching_group_teachers::staff_id.eq(staff_id))
        .order((teaching_groups::name, teaching_groups::id))
        .select((
            teaching_groups::id,
            teaching_groups::name,
            teaching_groups::subject,
            teaching_groups::periods,
        ))
        .load(conn)?;
    let ids: Vec<i64> = groups.iter().map(|g| g.0).collect();
    let members: Vec<(i64, i64)> = teaching_group_members::table
        .filter(teaching_group_members::school_id.eq(school_id))
        .filter(teaching_group_members::group_id.eq_any(&ids))
        .select((
            teaching_group_members::group_id,
            teaching_group_members::pupil_id,
        ))
        .load(conn)?;
    let pupil_ids: Vec<i64> = members.iter().map(|m| m.1).collect();
    let pupils = super::pupils::by_ids(conn, school_id, &pupil_ids)?;
    // By name as people read it: "7 English" before "10 English".
    groups.sort_by_cached_key(|(_, name, _, _)| {
        let digits: String = name.chars().take_while(char::is_ascii_digit).collect();
        (digits.parse::<u64>().ok(), name.clone())
    });
    Ok(groups
        .into_iter()
        .map(|(id, name, subject, periods)| {
            let mut pupils: Vec<PupilView> = members
                .iter()
                .filter(|(group, _)| *group == id)
                .filter_map(|(_, pupil)| pupils.get(pupil).cloned())
                .filter(|pupil| pupil.left_on.is_none())
                .collect();
            pupils.sort_by(|a, b| {
                (&a.family_name, &a.given_name, a.id).cmp(&(&b.family_name, &b.given_name, b.id))
            });
            TaughtGroup {
                id,
                name,
                subject,
                slots: periods
                    .split(',')
                    .filter_map(|raw| LessonSlot::parse(raw).ok())
                    .collect(),
                pupils,
            }
        })
        .collect())
}
