//! Getting a school started: the first school and its first administrator on an empty
//! installation, and how far the school has got with bringing itself in (staff, pupils,
//! calendar, timetable, behaviours, policy), step by step.

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use super::audit::{self, AuditEntry};
use super::models::School;
use super::schema::{
    audit_log, policies, pupils, school_closures, school_timetables, schools, staff,
};
use super::staff::{NewStaff, StaffMember};
use super::{to_db_time, DbConnection};
use crate::domain::details::{EmailAddress, PersonName, SchoolCode};
use crate::domain::Role;
use crate::error::{Error, Result};

/// The first school and its first administrator, in the caller's transaction; refused once
/// the installation holds a school (two people racing to set it up: one wins).
pub fn first_school(
    conn: &mut DbConnection,
    code: &SchoolCode,
    school_name: &str,
    email: &EmailAddress,
    name: &PersonName,
    password_hash: String,
    now: DateTime<Utc>,
) -> Result<(School, StaffMember)> {
    if super::schools::count(conn)? > 0 {
        return Err(Error::conflict(
            "code",
            "this Steadfast already has a school: sign in instead",
        ));
    }
    let school = super::schools::create(conn, code, school_name, now)?;
    let admin = super::staff::create(
        conn,
        NewStaff {
            school_id: school.id,
            email,
            name,
            roles: &[Role::Admin],
            year_groups: &[],
            password_hash: Some(password_hash),
        },
        now,
    )?;
    audit::record(
        conn,
        AuditEntry {
            school_id: school.id,
            actor_id: Some(admin.id),
            action: "setup.first_school",
            entity: "school",
            entity_id: Some(school.id),
            detail: "the first school and administrator of this installation".into(),
            at: to_db_time(now),
        },
    )?;
    if super::schools::count(conn)? != 1 {
        return Err(Error::conflict(
            "code",
            "this Steadfast already has a school: sign in instead",
        ));
    }
    Ok((school, admin))
}

/// A step of getting started that an administrator marks as reviewed when the defaults suit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reviewed {
    /// The behaviour list.
    Behaviours,
    /// The escalation policy.
    Policy,
}

impl Reviewed {
    /// The step's name in forms and the audit log.
    pub fn as_str(self) -> &'static str {
        match self {
            Reviewed::Behaviours => "behaviours",
            Reviewed::Policy => "policy",
        }
    }

    /// Reads a step's name.
    pub fn parse(raw: &str) -> Option<Reviewed> {
        [Reviewed::Behaviours, Reviewed::Policy]
            .into_iter()
            .find(|r| r.as_str() == raw.trim())
    }
}

/// The audit action that marks a step as reviewed.
const REVIEWED: &str = "setup.reviewed";

/// Marks a step as reviewed, audited.
pub fn mark_reviewed(
    conn: &mut DbConnection,
    school_id: i64,
    actor_id: i64,
    step: Reviewed,
    now: DateTime<Utc>,
) -> Result<()> {
    audit::record(
        conn,
        AuditEntry {
            school_id,
            actor_id: Some(actor_id),
            action: REVIEWED,
            entity: "school",
            entity_id: Some(school_id),
            detail: step.as_str().into(),
            at: to_db_time(now),
        },
    )
}

/// Which steps of getting started a school has done.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Staff other than the first administrator.
    pub staff: bool,
    /// Pupils on roll.
    pub pupils: bool,
    /// Term dates or closures entered.
    pub calendar: bool,
    /// The school's own lesson periods saved.
    pub timetable: bool,
    /// The behaviour list changed or marked as reviewed.
    pub behaviours: bool,
    /// The policy changed or marked as reviewed.
    pub policy: bool,
}

impl Progress {
    /// Whether every step is done.
    pub fn complete(&self) -> bool {
        self.staff
            && self.pupils
            && self.calendar
            && self.timetable
            && self.behaviours
            && self.policy
    }
}

/// How far the school has got.
pub fn progress(conn: &mut DbConnection, school_id: i64) -> Result<Progress> {
    let exists = |count: i64| count > 0;
    let staff_count: i64 = staff::table
        .filter(staff::school_id.eq(school_id))
        .count()
        .get_result(conn)?;
    let pupils_count: i64 = pupils::table
        .filter(pupils::school_id.eq(school_id))
        .count()
        .get_result(conn)?;
    let closures: i64 = school_closures::table
        .filter(school_closures::school_id.eq(school_id))
        .count()
        .get_result(conn)?;
    let timetable: i64 = school_timetables::table
        .filter(school_timetables::school_id.eq(school_id))
        .count()
        .get_result(conn)?;
    let policy_versions: i64 = policies::table
        .filter(policies::school_id.eq(school_id))
        .count()
        .get_result(conn)?;
    let actions = |conn: &mut DbConnection, like: &str, detail: &str| -> Result<i64> {
        Ok(audit_log::table
            .filter(audit_log::school_id.eq(school_id))
            .filter(
                audit_log::action
                    .like(like.to_string())
                    .or(audit_log::action
                        .eq(REVIEWED)
                        .and(audit_log::detail.eq(detail.to_string()))),
            )
            .count()
            .get_result(conn)?)
    };
    let behaviours = actions(conn, "behaviour.%", Reviewed::Behaviours.as_str())?;
    let policy = actions(conn, "policy.%", Reviewed::Policy.as_str())?;
    Ok(Progress {
        staff: staff_count > 1,
        pupils: exists(pupils_count),
        calendar: exists(closures),
        timetable: exists(timetable),
        behaviours: exists(behaviours),
        policy: policy_versions > 1 || exists(policy),
    })
}

/// The school's name, for the setup pages.
pub fn school_name(conn: &mut DbConnection, school_id: i64) -> Result<String> {
    Ok(schools::table
        .find(school_id)
        .select(schools::name)
        .first(conn)?)
}
