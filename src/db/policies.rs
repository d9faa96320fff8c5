//! A school's escalation policy over time: saving a new version and listing the versions.
//!
//! Versions are numbered from 1 (the defaults, stored when the school is created) and never
//! change once saved. Every suggestion records the version that made it, and
//! [`super::evaluation::load_rules`] always reads the latest, so a saved version applies to
//! every suggestion made from then on.

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use super::audit::{self, AuditEntry};
use super::schema::{policies, staff};
use super::{from_db_time, schools, to_db_time, DbConnection};
use crate::domain::policy::{EscalationPolicy, PolicyError, PolicyField, PolicyUnit};
use crate::error::{Error, Result};

/// One saved version of a school's policy, for the history shown with the form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyVersion {
    /// The version number, from 1.
    pub version: i32,
    /// When it was saved.
    pub created_at: DateTime<Utc>,
    /// Who saved it; `None` for the defaults stored when the school was set up.
    pub created_by: Option<String>,
}

/// One figure that differs between two policies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChangedFigure {
    /// The figure's description.
    pub field: &'static PolicyField,
    /// Its value before (yes/no switches as 1 or 0).
    pub before: i64,
    /// Its value after.
    pub after: i64,
}

impl ChangedFigure {
    /// The change as the audit log records it, e.g. `prompts_for_conversation 3 -> 2`.
    pub fn describe(&self) -> String {
        let value = |n: i64| match self.field.unit {
            PolicyUnit::YesNo => (if n != 0 { "true" } else { "false" }).to_string(),
            _ => n.to_string(),
        };
        format!(
            "{} {} -> {}",
            self.field.name,
            value(self.before),
            value(self.after)
        )
    }
}

/// The figures that differ between `before` and `after`, in form order.
pub fn changed_figures(before: &EscalationPolicy, after: &EscalationPolicy) -> Vec<ChangedFigure> {
    EscalationPolicy::fields()
        .iter()
        .filter_map(|field| {
            let (old, new) = (before.get(field.name)?, after.get(field.name)?);
            (old != new).then_some(ChangedFigure {
                field,
                before: old,
                after: new,
            })
        })
        .collect()
}

/// The error a refused policy is shown with: on the field at fault when there is one.
pub fn policy_error(error: &PolicyError) -> Error {
    match (error, error.field()) {
        (
            PolicyError::OutOfRange {
                field, min, max, ..
            },
            _,
        ) => {
            let label = EscalationPolicy::field_info(field).map_or(*field, |info| info.label);
            Error::invalid(field, format!("{label} must be between {min} and {max}"))
        }
        (_, Some(field)) => Error::invalid(field, error.to_string()),
        (_, None) => Error::bad_request(error.to_string()),
    }
}

/// Saves `policy` as the school's next version, audited with the figures that changed (their
/// names and values only), and answers its version number. A policy out of range is refused,
/// naming the field; a policy equal to the current one saves nothing and answers the current
/// version. Runs in the caller's transaction.
pub fn save(
    conn: &mut DbConnection,
    school_id: i64,
    staff_id: i64,
    policy: &EscalationPolicy,
    now: DateTime<Utc>,
) -> Result<i32> {
    policy.validate().map_err(|e| policy_error(&e))?;
    let (current_version, current) = schools::current_policy(conn, school_id)?;
    let changed = changed_figures(&current, policy);
    if changed.is_empty() && current_version > 0 {
        return Ok(current_version);
    }
    let version = current_version + 1;
    let inserted = diesel::insert_into(policies::table)
        .values((
            policies::school_id.eq(school_id),
            policies::version.eq(version),
            policies::body.eq(policy.to_json()),
            policies::created_at.eq(to_db_time(now)),
            policies::created_by.eq(Some(staff_id)),
        ))
        .returning(policies::id)
        .get_result::<i64>(conn);
    let policy_id = match inserted {
        Ok(id) => id,
        Err(diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::UniqueViolation,
            _,
        )) => {
            return Err(Error::Conflict {
                message: format!(
                    "version {version} of the policy was saved by someone else at the same moment: nothing was changed"
                ),
                field: None,
            })
        }
        Err(other) => return Err(other.into()),
    };
    let figures: Vec<String> = changed.iter().map(ChangedFigure::describe).collect();
    audit::record(
        conn,
        AuditEntry {
            school_id,
            actor_id: Some(staff_id),
            action: "policy.save",
            entity: "policy",
            entity_id: Some(policy_id),
            detail: format!("version {version}: {}", figures.join(", ")),
            at: to_db_time(now),
        },
    )?;
    Ok(version)
}

/// Every saved version of the school's policy, newest first, with who saved it.
pub fn history(conn: &mut DbConnection, school_id: i64) -> Result<Vec<PolicyVersion>> {
    let rows: Vec<(i32, chrono::NaiveDateTime, Option<String>)> = policies::table
        .left_join(staff::table)
        .filter(policies::school_id.eq(school_id))
        .order(policies::version.desc())
        .select((
            policies::version,
            policies::created_at,
            staff::name.nullable(),
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(version, created_at, created_by)| PolicyVersion {
            version,
            created_at: from_db_time(created_at),
            created_by,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_changed_figures_are_listed_in_form_order() {
        let before = EscalationPolicy::default();
        let after = EscalationPolicy {
            prompts_for_conversation: 2,
            serious_incident_suggests_time: false,
            coaching_time_minutes: 40,
            ..EscalationPolicy::default()
        };
        let described: Vec<String> = changed_figures(&before, &after)
            .iter()
            .map(ChangedFigure::describe)
            .collect();
        assert_eq!(
            described,
            vec![
                "prompts_for_conversation 3 -> 2",
                "serious_incident_suggests_time true -> false",
                "coaching_time_minutes 30 -> 40",
            ]
        );
        assert!(changed_figures(&before, &before).is_empty());
    }

    #[test]
    fn a_figure_out_of_range_is_refused_on_its_field() {
        let error = policy_error(&PolicyError::OutOfRange {
            field: "prompts_for_conversation",
            min: 1,
            max: 20,
            got: 0,
        });
        assert_eq!(error.field(), Some("prompts_for_conversation"));
        assert_eq!(
            error.to_string(),
            "Prompts before a Coaching Conversation must be between 1 and 20"
        );
        assert_eq!(error.status(), 400);
        let malformed = policy_error(&PolicyError::Malformed("nonsense".into()));
        assert_eq!(malformed.field(), None);
    }
}
