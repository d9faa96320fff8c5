//! Schools, their year groups, forms and houses, their calendar and their escalation policy.

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use super::models::{ClosureRow, FormRow, School, YearGroupRow};
use super::schema::{forms, houses, policies, school_closures, schools, year_groups};
use super::{insert_unless_present, to_db_time, DbConnection};
use crate::domain::calendar::{Closure, ClosureKind, SchoolCalendar};
use crate::domain::details::{FormName, SchoolCode, YearNumber};
use crate::domain::policy::EscalationPolicy;
use crate::error::{Error, Result};

/// Creates a school with the default escalation policy as its version 1.
pub fn create(
    conn: &mut DbConnection,
    code: &SchoolCode,
    name: &str,
    now: DateTime<Utc>,
) -> Result<School> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(Error::invalid(
            "name",
            "a school name is 1 to 200 characters",
        ));
    }
    if find_by_code(conn, code.as_str())?.is_some() {
        return Err(Error::conflict(
            "code",
            format!("a school with code {} already exists", code.as_str()),
        ));
    }
    let school_id: i64 = diesel::insert_into(schools::table)
        .values((
            schools::code.eq(code.as_str()),
            schools::name.eq(name),
            schools::created_at.eq(to_db_time(now)),
        ))
        .returning(schools::id)
        .get_result(conn)?;
    let school = get(conn, school_id)?;
    super::behaviours::add_defaults(conn, school.id)?;
    diesel::insert_into(policies::table)
        .values((
            policies::school_id.eq(school.id),
            policies::version.eq(1),
            policies::body.eq(EscalationPolicy::default().to_json()),
            policies::created_at.eq(to_db_time(now)),
        ))
        .execute(conn)?;
    Ok(school)
}

/// The school with this code, if any.
pub fn find_by_code(conn: &mut DbConnection, code: &str) -> Result<Option<School>> {
    Ok(schools::table
        .filter(schools::code.eq(code.trim().to_ascii_uppercase()))
        .select(School::as_select())
        .first(conn)
        .optional()?)
}

/// The school with this id.
pub fn get(conn: &mut DbConnection, school_id: i64) -> Result<School> {
    schools::table
        .find(school_id)
        .select(School::as_select())
        .first(conn)
        .optional()?
        .ok_or(Error::NotFound("school"))
}

/// How many schools the deployment holds.
pub fn count(conn: &mut DbConnection) -> Result<i64> {
    Ok(schools::table.count().get_result(conn)?)
}

/// The year group with this number, created if the school has none yet.
pub fn year_group(
    conn: &mut DbConnection,
    school_id: i64,
    year: YearNumber,
) -> Result<YearGroupRow> {
    let find = |conn: &mut DbConnection| {
        year_groups::table
            .filter(year_groups::school_id.eq(school_id))
            .filter(year_groups::year.eq(year.get()))
            .select(YearGroupRow::as_select())
            .first(conn)
            .optional()
    };
    if let Some(found) = find(conn)? {
        return Ok(found);
    }
    insert_unless_present(conn, |conn| {
        diesel::insert_into(year_groups::table)
            .values((
                year_groups::school_id.eq(school_id),
                year_groups::year.eq(year.get()),
                year_groups::name.eq(year.to_string()),
            ))
            .execute(conn)
    })?;
    find(conn)?.ok_or(Error::NotFound("year group"))
}

/// The form with this name in the given year group, created if it does not exist yet.
/// A form name already used in another year group is refused.
pub fn form(
    conn: &mut DbConnection,
    year_group: &YearGroupRow,
    name: &FormName,
) -> Result<FormRow> {
    let find = |conn: &mut DbConnection| {
        forms::table
            .filter(forms::school_id.eq(year_group.school_id))
            .filter(forms::name.eq(name.as_str()))
            .select(FormRow::as_select())
            .first(conn)
            .optional()
    };
    let found = match find(conn)? {
        Some(found) => found,
        None => {
            insert_unless_present(conn, |conn| {
                diesel::insert_into(forms::table)
                    .values((
                        forms::school_id.eq(year_group.school_id),
                        forms::year_group_id.eq(year_group.id),
                        forms::name.eq(name.as_str()),
                    ))
                    .execute(conn)
            })?;
            find(conn)?.ok_or(Error::NotFound("form"))?
        }
    };
    if found.year_group_id != year_group.id {
        return Err(Error::invalid(
            "form",
            format!("form {} belongs to another year group", name.as_str()),
        ));
    }
    Ok(found)
}

/// The house with this name, created if it does not exist yet; returns its id.
pub fn house(conn: &mut DbConnection, school_id: i64, name: &str) -> Result<i64> {
    let find = |conn: &mut DbConnection| {
        houses::table
            .filter(houses::school_id.eq(school_id))
            .filter(houses::name.eq(name))
            .select(houses::id)
            .first(conn)
            .optional()
    };
    if let Some(id) = find(conn)? {
        return Ok(id);
    }
    insert_unless_present(conn, |conn| {
        diesel::insert_into(houses::table)
            .values((houses::school_id.eq(school_id), houses::name.eq(name)))
            .execute(conn)
    })?;
    find(conn)?.ok_or(Error::NotFound("house"))
}

/// The school's forms by name, with the id of each one's tutor.
pub fn form_tutors(conn: &mut DbConnection, school_id: i64) -> Result<Vec<(String, Option<i64>)>> {
    Ok(forms::table
        .filter(forms::school_id.eq(school_id))
        .order(forms::name)
        .select((forms::name, forms::tutor_id))
        .load(conn)?)
}

/// Makes a member of staff the tutor of the school's form with this name.
pub fn set_form_tutor(
    conn: &mut DbConnection,
    school_id: i64,
    form: &FormName,
    staff_id: i64,
) -> Result<()> {
    diesel::update(
        forms::table
            .filter(forms::school_id.eq(school_id))
            .filter(forms::name.eq(form.as_str())),
    )
    .set(forms::tutor_id.eq(Some(staff_id)))
    .execute(conn)?;
    Ok(())
}

/// Adds a holiday or INSET closure to the school's calendar.
pub fn add_closure(conn: &mut DbConnection, school_id: i64, closure: &Closure) -> Result<()> {
    diesel::insert_into(school_closures::table)
        .values((
            school_closures::school_id.eq(school_id),
            school_closures::starts_on.eq(closure.starts_on),
            school_closures::ends_on.eq(closure.ends_on),
            school_closures::kind.eq(closure.kind.as_str()),
            school_closures::name.eq(&closure.name),
        ))
        .execute(conn)?;
    Ok(())
}

/// The school's calendar: weekends plus its holidays and INSET days.
pub fn calendar(conn: &mut DbConnection, school_id: i64) -> Result<SchoolCalendar> {
    let rows: Vec<ClosureRow> = school_closures::table
        .filter(school_closures::school_id.eq(school_id))
        .order(school_closures::starts_on.asc())
        .select(ClosureRow::as_select())
        .load(conn)?;
    let closures = rows
        .into_iter()
        .map(|row| Closure {
            starts_on: row.starts_on,
            ends_on: row.ends_on,
            kind: ClosureKind::parse(&row.kind).unwrap_or(ClosureKind::Holiday),
            name: row.name,
        })
        .collect();
    SchoolCalendar::new(closures)
        .map_err(|e| Error::Internal(format!("stored calendar is invalid: {e}")))
}

/// The school's current escalation policy and its version number.
pub fn current_policy(conn: &mut DbConnection, school_id: i64) -> Result<(i32, EscalationPolicy)> {
    let latest: Option<(i32, String)> = policies::table
        .filter(policies::school_id.eq(school_id))
        .order(policies::version.desc())
        .select((policies::version, policies::body))
        .first(conn)
        .optional()?;
    match latest {
        Some((version, body)) => EscalationPolicy::parse_json(&body)
            .map(|policy| (version, policy))
            .map_err(|e| Error::Internal(format!("stored policy {version} is invalid: {e}"))),
        None => Ok((0, EscalationPolicy::default())),
    }
}

/// Every school of the deployment, by code.
pub fn all(conn: &mut DbConnection) -> Result<Vec<School>> {
    Ok(schools::table
        .order(schools::code.asc())
        .select(School::as_select())
        .load(conn)?)
}
