//! Coaching Plans: each agreement or revision of a pupil's plan is stored as a new version,
//! so the plan in force is the latest and every earlier one stays readable.

use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;

use super::audit::{self, AuditEntry};
use super::decisions::lock_pupil;
use super::models::{CoachingPlanRow, PupilRow};
use super::pastoral::PastoralPlace;
use super::schema::{coaching_plans, meetings, pupils, year_groups};
use super::staff::StaffMember;
use super::{to_db_time, DbConnection};
use crate::domain::calendar::SchoolCalendar;
use crate::domain::details::optional_text;
use crate::domain::plan::{ActionStep, CoachingPlan, Goal, PlanSubmission, MAX_NAME_CHARS};
use crate::domain::visibility::Record;
use crate::domain::Level;
use crate::error::{Error, Result};

/// A stored version of a Coaching Plan, read back into checked values.
#[derive(Debug, Clone)]
pub struct PlanVersion {
    pub row: CoachingPlanRow,
    pub goals: Vec<Goal>,
    pub action_steps: Vec<ActionStep>,
}

impl PlanVersion {
    fn from_row(row: CoachingPlanRow) -> Result<Self> {
        let goals = serde_json::from_str(&row.goals)
            .map_err(|e| Error::Internal(format!("plan {} goals: {e}", row.id)))?;
        let action_steps = serde_json::from_str(&row.action_steps)
            .map_err(|e| Error::Internal(format!("plan {} steps: {e}", row.id)))?;
        Ok(PlanVersion {
            row,
            goals,
            action_steps,
        })
    }

    /// Whether the plan's review date has come, as of `today`.
    pub fn review_due(&self, today: NaiveDate) -> bool {
        self.row.review_on <= today
    }
}

/// A plan as agreed: the learning agreement itself, who it was agreed with, and the Coaching
/// Plan meeting it was agreed in (when recorded there).
#[derive(Debug, Clone, Copy)]
pub struct Agreement<'a> {
    pub pupil_id: i64,
    pub plan: &'a PlanSubmission<'a>,
    /// The pupil's parent or carer (and anyone else) who agreed it, by name.
    pub agreed_with: Option<&'a str>,
    pub meeting_id: Option<i64>,
}

/// Loads a pupil of the member's school whose Coaching Plan the member may write: a pupil at
/// levels 4 to 6, for their Head of Year, the SENDCO or SLT.
pub fn pupil_for_plan(
    conn: &mut DbConnection,
    member: &StaffMember,
    pupil_id: i64,
) -> Result<(PupilRow, i16)> {
    let (pupil, year) = lock_pupil(conn, member.school_id, pupil_id)?;
    if !member.may_read(PastoralPlace::of(&pupil, year), Record::Plan) {
        return Err(Error::Forbidden(
            "Coaching Plans are written by the pupil's Head of Year or Head of House, the SENDCO or SLT".into(),
        ));
    }
    if pupil.level < Level::Plan.number() {
        return Err(Error::unprocessable(format!(
            "a Coaching Plan is agreed at level 4; this pupil is at level {}",
            pupil.level
        )));
    }
    Ok((pupil, year))
}

/// Stores a plan as the pupil's next version. The first version is usually agreed in the
/// Coaching Plan meeting; later versions revise it, and the earlier ones stay as they were.
pub fn agree(
    conn: &mut DbConnection,
    member: &StaffMember,
    agreement: &Agreement<'_>,
    now: DateTime<Utc>,
) -> Result<PlanVersion> {
    let (pupil, _) = pupil_for_plan(conn, member, agreement.pupil_id)?;
    let today = SchoolCalendar::local_date(now);
    let plan = CoachingPlan::parse(agreement.plan, today)?;
    let agreed_with = optional_text("agreed_with", agreement.agreed_with, MAX_NAME_CHARS * 3)?;
    if let Some(meeting_id) = agreement.meeting_id {
        let belongs: Option<i16> = meetings::table
            .filter(meetings::id.eq(meeting_id))
            .filter(meetings::pupil_id.eq(pupil.id))
            .select(meetings::level)
            .first(conn)
            .optional()?;
        if belongs != Some(Level::Plan.number()) {
            return Err(Error::invalid(
                "meeting_id",
                "is not this pupil's Coaching Plan meeting",
            ));
        }
    }
    let latest: Option<i32> = coaching_plans::table
        .filter(coaching_plans::pupil_id.eq(pupil.id))
        .select(diesel::dsl::max(coaching_plans::version))
        .first(conn)?;
    let version = latest.unwrap_or(0) + 1;
    let goals = serde_json::to_string(&plan.goals).map_err(|e| Error::Internal(e.to_string()))?;
    let steps =
        serde_json::to_string(&plan.action_steps).map_err(|e| Error::Internal(e.to_string()))?;
    let row: CoachingPlanRow = diesel::insert_into(coaching_plans::table)
        .values((
            coaching_plans::school_id.eq(pupil.school_id),
            coaching_plans::pupil_id.eq(pupil.id),
            coaching_plans::version.eq(version),
            coaching_plans::meeting_id.eq(agreement.meeting_id),
            coaching_plans::goals.eq(goals),
            coaching_plans::pathway_to_independence.eq(&plan.pathway_to_independence),
            coaching_plans::action_steps.eq(steps),
            coaching_plans::review_on.eq(plan.review_on),
            coaching_plans::agreed_with.eq(agreed_with),
            coaching_plans::created_by.eq(member.id),
            coaching_plans::created_at.eq(to_db_time(now)),
        ))
        .returning(coaching_plans::all_columns)
        .get_result(conn)?;
    audit::record(
        conn,
        AuditEntry {
            school_id: pupil.school_id,
            actor_id: Some(member.id),
            action: if version == 1 {
                "plan.agreed"
            } else {
                "plan.revised"
            },
            entity: "coaching_plan",
            entity_id: Some(row.id),
            detail: format!("pupil {} version {version}", pupil.id),
            at: to_db_time(now),
        },
    )?;
    PlanVersion::from_row(row)
}

/// Every version of a pupil's plan, newest first.
pub fn versions(
    conn: &mut DbConnection,
    school_id: i64,
    pupil_id: i64,
) -> Result<Vec<PlanVersion>> {
    coaching_plans::table
        .filter(coaching_plans::school_id.eq(school_id))
        .filter(coaching_plans::pupil_id.eq(pupil_id))
        .order(coaching_plans::version.desc())
        .select(CoachingPlanRow::as_select())
        .load(conn)?
        .into_iter()
        .map(PlanVersion::from_row)
        .collect()
}

/// The plan in force for a pupil: the latest version, if any.
pub fn current(
    conn: &mut DbConnection,
    school_id: i64,
    pupil_id: i64,
) -> Result<Option<PlanVersion>> {
    coaching_plans::table
        .filter(coaching_plans::school_id.eq(school_id))
        .filter(coaching_plans::pupil_id.eq(pupil_id))
        .order(coaching_plans::version.desc())
        .select(CoachingPlanRow::as_select())
        .first(conn)
        .optional()?
        .map(PlanVersion::from_row)
        .transpose()
}

/// Plans in force at levels 4 to 6 whose review date is on or before `until`, with the pupil
/// and their year: the SENDCO's list of plan reviews due and overdue.
pub fn reviews_due(
    conn: &mut DbConnection,
    school_id: i64,
    until: NaiveDate,
) -> Result<Vec<(PlanVersion, PupilRow, i16)>> {
    let rows: Vec<(CoachingPlanRow, PupilRow, i16)> = coaching_plans::table
        .inner_join(pupils::table.inner_join(year_groups::table))
        .filter(coaching_plans::school_id.eq(school_id))
        .filter(pupils::level.ge(Level::Plan.number()))
        .order((coaching_plans::pupil_id, coaching_plans::version.desc()))
        .select((
            CoachingPlanRow::as_select(),
            PupilRow::as_select(),
            year_groups::year,
        ))
        .load(conn)?;
    let mut due = Vec::new();
    let mut last_pupil = None;
    for (plan, pupil, year) in rows {
        if last_pupil == Some(pupil.id) {
            continue;
        }
        last_pupil = Some(pupil.id);
        if plan.review_on <= until {
            due.push((PlanVersion::from_row(plan)?, pupil, year));
        }
    }
    due.sort_by_key(|(plan, _, _)| plan.row.review_on);
    Ok(due)
}
