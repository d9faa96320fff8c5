//! The school's houses: listing them with their pupils and Heads of House, adding, renaming,
//! and removing one that has no pupils.

use std::collections::HashMap;

use diesel::prelude::*;

use super::schema::{houses, pupils, staff, staff_houses};
use super::DbConnection;
use crate::error::{Error, Result};

/// Longest name of a house.
pub const MAX_NAME_CHARS: usize = 60;

/// A house with how many pupils (on roll) are in it and who leads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct House {
    pub id: i64,
    pub name: String,
    /// Pupils on roll in the house.
    pub pupils: i64,
    /// Pupils marked as left who were in the house: they keep it, so it cannot be removed.
    pub left_pupils: i64,
    /// The names of its Heads of House (active pastoral leads responsible for it).
    pub leads: Vec<String>,
}

/// The school's houses by name, with their pupils and leads.
pub fn list(conn: &mut DbConnection, school_id: i64) -> Result<Vec<House>> {
    let rows: Vec<(i64, String)> = houses::table
        .filter(houses::school_id.eq(school_id))
        .order((houses::name, houses::id))
        .select((houses::id, houses::name))
        .load(conn)?;
    let mut on_roll: HashMap<i64, i64> = HashMap::new();
    let mut left: HashMap<i64, i64> = HashMap::new();
    let in_houses: Vec<(Option<i64>, Option<chrono::NaiveDate>)> = pupils::table
        .filter(pupils::school_id.eq(school_id))
        .filter(pupils::house_id.is_not_null())
        .select((pupils::house_id, pupils::left_on))
        .load(conn)?;
    for (house_id, left_on) in in_houses {
        if let Some(id) = house_id {
            let counts = if left_on.is_none() {
                &mut on_roll
            } else {
                &mut left
            };
            *counts.entry(id).or_default() += 1;
        }
    }
    let mut leads: HashMap<i64, Vec<String>> = HashMap::new();
    for (house_id, name) in staff_houses::table
        .inner_join(staff::table)
        .filter(staff_houses::school_id.eq(school_id))
        .filter(staff::active.eq(true))
        .order(staff::name)
        .select((staff_houses::house_id, staff::name))
        .load::<(i64, String)>(conn)?
    {
        leads.entry(house_id).or_default().push(name);
    }
    Ok(rows
        .into_iter()
        .map(|(id, name)| House {
            pupils: on_roll.get(&id).copied().unwrap_or(0),
            left_pupils: left.get(&id).copied().unwrap_or(0),
            leads: leads.remove(&id).unwrap_or_default(),
            id,
            name,
        })
        .collect())
}

/// The names of the school's houses by id.
pub fn names(conn: &mut DbConnection, school_id: i64) -> Result<HashMap<i64, String>> {
    Ok(houses::table
        .filter(houses::school_id.eq(school_id))
        .select((houses::id, houses::name))
        .load::<(i64, String)>(conn)?
        .into_iter()
        .collect())
}

/// A house name as typed, checked: not blank, at most [`MAX_NAME_CHARS`], and no other house
/// of the school called the same (letter case ignored).
fn checked_name(
    conn: &mut DbConnection,
    school_id: i64,
    raw: &str,
    except: Option<i64>,
) -> Result<String> {
    let name = raw.trim();
    if name.is_empty() {
        return Err(Error::invalid("name", "give the house a name"));
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(Error::invalid(
            "name",
            format!("a house's name is at most {MAX_NAME_CHARS} characters"),
        ));
    }
    let others: Vec<(i64, String)> = houses::table
        .filter(houses::school_id.eq(school_id))
        .select((houses::id, houses::name))
        .load(conn)?;
    if others
        .iter()
        .any(|(id, other)| Some(*id) != except && other.to_lowercase() == name.to_lowercase())
    {
        return Err(Error::conflict(
            "name",
            format!("there is a house called {name} already"),
        ));
    }
    Ok(name.to_string())
}

/// Adds a house; answers its id.
pub fn add(conn: &mut DbConnection, school_id: i64, name: &str) -> Result<i64> {
    let name = checked_name(conn, school_id, name, None)?;
    Ok(diesel::insert_into(houses::table)
        .values((houses::school_id.eq(school_id), houses::name.eq(name)))
        .returning(houses::id)
        .get_result(conn)?)
}

/// Checks the house is the school's: another school's is not found.
fn ensure_of_school(conn: &mut DbConnection, school_id: i64, id: i64) -> Result<()> {
    let found: i64 = houses::table
        .filter(houses::id.eq(id))
        .filter(houses::school_id.eq(school_id))
        .count()
        .get_result(conn)?;
    if found == 0 {
        return Err(Error::NotFound("house"));
    }
    Ok(())
}

/// Renames a house.
pub fn rename(conn: &mut DbConnection, school_id: i64, id: i64, name: &str) -> Result<()> {
    ensure_of_school(conn, school_id, id)?;
    let name = checked_name(conn, school_id, name, Some(id))?;
    diesel::update(houses::table.find(id))
        .set(houses::name.eq(name))
        .execute(conn)?;
    Ok(())
}

/// Removes a house that has no pupils (on roll or left), and with it the responsibility of
/// its Heads of House; answers how many staff led it.
pub fn remove(conn: &mut DbConnection, school_id: i64, id: i64) -> Result<usize> {
    ensure_of_school(conn, school_id, id)?;
    let pupils_in: i64 = pupils::table
        .filter(pupils::school_id.eq(school_id))
        .filter(pupils::house_id.eq(id))
        .count()
        .get_result(conn)?;
    if pupils_in > 0 {
        return Err(Error::conflict(
            "house",
            format!(
                "{pupils_in} {} in this house (pupils who have left keep theirs): only a house with no pupils can be removed",
                if pupils_in == 1 { "pupil is" } else { "pupils are" }
            ),
        ));
    }
    let leads =
        diesel::delete(staff_houses::table.filter(staff_houses::house_id.eq(id))).execute(conn)?;
    diesel::delete(houses::table.find(id)).execute(conn)?;
    Ok(leads)
}
