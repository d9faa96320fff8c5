//! The school's own list of behaviours that staff pick from when logging an incident.

use diesel::prelude::*;

use super::schema::behaviours;
use super::{insert_unless_present, DbConnection};
use crate::domain::incident::{DEFAULT_BEHAVIOURS, MAX_LABEL_CHARS};
use crate::error::{Error, Result};

/// One behaviour of the list.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = behaviours)]
pub struct Behaviour {
    pub id: i64,
    pub name: String,
    /// Logged as serious unless the adult says otherwise.
    pub serious: bool,
    pub position: i32,
    pub active: bool,
}

/// Gives a new school the default list.
pub fn add_defaults(conn: &mut DbConnection, school_id: i64) -> Result<()> {
    for (name, serious) in DEFAULT_BEHAVIOURS {
        add(conn, school_id, name, *serious)?;
    }
    Ok(())
}

/// The school's behaviours in list order; only the active ones unless `all`.
pub fn list(conn: &mut DbConnection, school_id: i64, all: bool) -> Result<Vec<Behaviour>> {
    let mut query = behaviours::table
        .filter(behaviours::school_id.eq(school_id))
        .order((behaviours::position.asc(), behaviours::id.asc()))
        .select(Behaviour::as_select())
        .into_boxed();
    if !all {
        query = query.filter(behaviours::active.eq(true));
    }
    Ok(query.load(conn)?)
}

fn checked_name(raw: &str) -> Result<String> {
    let name = raw.trim();
    if name.is_empty() || name.chars().count() > MAX_LABEL_CHARS {
        return Err(Error::invalid(
            "name",
            format!("a behaviour is 1 to {MAX_LABEL_CHARS} characters"),
        ));
    }
    Ok(name.to_string())
}

/// Adds a behaviour at the end of the list (or makes an existing one of that name active).
pub fn add(conn: &mut DbConnection, school_id: i64, name: &str, serious: bool) -> Result<()> {
    let name = checked_name(name)?;
    let last: Option<i32> = behaviours::table
        .filter(behaviours::school_id.eq(school_id))
        .select(diesel::dsl::max(behaviours::position))
        .first(conn)?;
    insert_unless_present(conn, |conn| {
        diesel::insert_into(behaviours::table)
            .values((
                behaviours::school_id.eq(school_id),
                behaviours::name.eq(&name),
                behaviours::serious.eq(serious),
                behaviours::position.eq(last.unwrap_or(0) + 1),
                behaviours::active.eq(true),
            ))
            .execute(conn)
    })?;
    diesel::update(
        behaviours::table
            .filter(behaviours::school_id.eq(school_id))
            .filter(behaviours::name.eq(&name)),
    )
    .set(behaviours::active.eq(true))
    .execute(conn)?;
    Ok(())
}

/// Renames a behaviour, changes whether it counts as serious, or takes it off the list
/// (incidents already logged keep their text).
pub fn update(
    conn: &mut DbConnection,
    school_id: i64,
    id: i64,
    name: &str,
    serious: bool,
    active: bool,
) -> Result<()> {
    let name = checked_name(name)?;
    let clash: i64 = behaviours::table
        .filter(behaviours::school_id.eq(school_id))
        .filter(behaviours::name.eq(&name))
        .filter(behaviours::id.ne(id))
        .count()
        .get_result(conn)?;
    if clash > 0 {
        return Err(Error::conflict("name", "another behaviour has this name"));
    }
    let changed = diesel::update(
        behaviours::table
            .filter(behaviours::school_id.eq(school_id))
            .filter(behaviours::id.eq(id)),
    )
    .set((
        behaviours::name.eq(&name),
        behaviours::serious.eq(serious),
        behaviours::active.eq(active),
    ))
    .execute(conn)?;
    if changed == 0 {
        return Err(Error::NotFound("behaviour"));
    }
    Ok(())
}
