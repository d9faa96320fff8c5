//! Pastoral responsibility, decided in one place: which pupils a pastoral lead answers for.
//! A Head of Year answers for the pupils of their year groups, a Head of House for the pupils
//! of their houses, and a lead with both for the pupils of either. Everything that asks "is
//! this the pupil's Head of Year?" (deciding suggestions, running meetings, the inbox and
//! meeting lists, the emails a meeting sends, insight, the home page) asks it here: of one
//! member and one pupil ([`StaffMember::leads`]), of the school's pupils in a query
//! ([`Led::pupil_ids`]), or of one pupil's leads ([`leads_of`]).

use diesel::prelude::*;

use super::models::PupilRow;
use super::schema::{
    houses, pupils, staff, staff_houses, staff_roles, staff_year_groups, year_groups,
};
use super::staff::StaffMember;
use super::DbConnection;
use crate::domain::visibility::{self, Record, Viewer};
use crate::domain::Role;
use crate::error::{Error, Result};

/// Where a pupil sits for pastoral care: their year group and their house, if any.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PastoralPlace {
    pub year: i16,
    pub house_id: Option<i64>,
}

impl PastoralPlace {
    /// The place of a stored pupil in year `year`.
    pub fn of(pupil: &PupilRow, year: i16) -> PastoralPlace {
        PastoralPlace {
            year,
            house_id: pupil.house_id,
        }
    }
}

/// The year groups and houses a pastoral lead answers for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Led {
    pub years: Vec<i16>,
    /// House ids.
    pub houses: Vec<i64>,
}

/// The rule itself: a pupil is led by whoever leads their year group or their house.
fn covers(years: &[i16], houses: &[i64], place: PastoralPlace) -> bool {
    years.contains(&place.year) || place.house_id.is_some_and(|h| houses.contains(&h))
}

impl Led {
    /// What `member` leads: their year groups and houses when a pastoral lead, else nothing.
    pub fn of(member: &StaffMember) -> Led {
        if member.has_role(Role::PastoralLead) {
            Led {
                years: member.year_groups.clone(),
                houses: member.houses.clone(),
            }
        } else {
            Led::default()
        }
    }

    /// Whether nothing is led (no year group and no house).
    pub fn is_empty(&self) -> bool {
        self.years.is_empty() && self.houses.is_empty()
    }

    /// Whether a pupil at `place` is among those led.
    pub fn covers(&self, place: PastoralPlace) -> bool {
        covers(&self.years, &self.houses, place)
    }

    /// The ids of the school's pupils led, as a query for `pupil_id IN (...)`.
    pub fn pupil_ids(&self, school_id: i64) -> PupilIds {
        pupil_ids_query(school_id, self.years.clone(), self.houses.clone())
    }

    /// The condition that a pupil is led, for a query that joins `pupils` and `year_groups`
    /// already.
    pub fn joined_condition(&self) -> JoinedCondition {
        joined_condition(self.years.clone(), self.houses.clone())
    }
}

impl StaffMember {
    /// Whether the member is a pastoral lead answering for a pupil at `place`: the Head of
    /// their year group or the Head of their house.
    pub fn leads(&self, place: PastoralPlace) -> bool {
        self.has_role(Role::PastoralLead) && covers(&self.year_groups, &self.houses, place)
    }

    /// Whether the member is a pastoral lead of a house.
    pub fn leads_house(&self, house_id: i64) -> bool {
        self.has_role(Role::PastoralLead) && self.houses.contains(&house_id)
    }

    /// Whether the member is a pastoral lead answering for anyone yet (a year group or a
    /// house).
    pub fn leads_anyone(&self) -> bool {
        !Led::of(self).is_empty()
    }

    /// Whether the member may read `record` about a pupil at `place`, by the one rule of
    /// [`visibility::may_read`].
    pub fn may_read(&self, place: PastoralPlace, record: Record) -> bool {
        self.may_read_of_programme(place, record, None)
    }

    /// [`StaffMember::may_read`] for a record of a programme whose sessions are delivered
    /// by the practitioner `practitioner_id`.
    pub fn may_read_of_programme(
        &self,
        place: PastoralPlace,
        record: Record,
        practitioner_id: Option<i64>,
    ) -> bool {
        visibility::may_read(
            &Viewer {
                roles: &self.roles,
                leads_pupil: self.leads(place),
                delivers_sessions: practitioner_id == Some(self.id),
            },
            record,
        )
    }

    /// Whether the member may read a school-wide record (the provision map, the audit log),
    /// which no pupil's responsibility widens.
    pub fn may_read_school(&self, record: Record) -> bool {
        visibility::may_read(
            &Viewer {
                roles: &self.roles,
                leads_pupil: false,
                delivers_sessions: false,
            },
            record,
        )
    }
}

/// The condition on `pupils` joined to `year_groups` that a pupil is in some year groups or
/// houses.
#[diesel::dsl::auto_type]
fn joined_condition(years: Vec<i16>, houses: Vec<i64>) -> _ {
    year_groups::year
        .eq_any(years)
        .or(pupils::house_id.assume_not_null().eq_any(houses))
}

/// The ids of the school's pupils in some year groups or houses.
#[diesel::dsl::auto_type]
fn pupil_ids_query(school_id: i64, years: Vec<i16>, houses: Vec<i64>) -> _ {
    let condition: joined_condition = joined_condition(years, houses);
    pupils::table
        .inner_join(year_groups::table)
        .select(pupils::id)
        .filter(pupils::school_id.eq(school_id))
        .filter(condition)
}

/// A query for the ids of pupils, to use in `pupil_id IN (...)`.
pub type PupilIds = pupil_ids_query;

/// A condition on a query's `pupils` and `year_groups`: that the pupil is led.
pub type JoinedCondition = joined_condition;

/// The ids of the school's pupils `member` answers for as a pastoral lead (none unless they
/// are one): those of their year groups and of their houses.
pub fn led_pupil_ids(member: &StaffMember) -> PupilIds {
    Led::of(member).pupil_ids(member.school_id)
}

/// The active pastoral leads answering for `pupil`: Heads of the pupil's year and of their
/// house, by id, as (id, name, email).
pub fn leads_of(conn: &mut DbConnection, pupil: &PupilRow) -> Result<Vec<(i64, String, String)>> {
    let of_year = staff_year_groups::table
        .select(staff_year_groups::staff_id)
        .filter(staff_year_groups::year_group_id.eq(pupil.year_group_id));
    let of_house = staff_houses::table
        .select(staff_houses::staff_id)
        .filter(staff_houses::house_id.nullable().eq(pupil.house_id));
    Ok(staff::table
        .inner_join(staff_roles::table)
        .filter(staff::school_id.eq(pupil.school_id))
        .filter(staff::active.eq(true))
        .filter(staff_roles::role.eq(Role::PastoralLead.as_str()))
        .filter(staff::id.eq_any(of_year).or(staff::id.eq_any(of_house)))
        .order(staff::id)
        .select((staff::id, staff::name, staff::email))
        .load(conn)?)
}

/// The house of the school with this name (letter case ignored), for the command line.
pub fn house_named(conn: &mut DbConnection, school_id: i64, name: &str) -> Result<i64> {
    let wanted = name.trim().to_lowercase();
    let all: Vec<(i64, String)> = houses::table
        .filter(houses::school_id.eq(school_id))
        .order(houses::name)
        .select((houses::id, houses::name))
        .load(conn)?;
    all.iter()
        .find(|(_, n)| n.to_lowercase() == wanted)
        .map(|(id, _)| *id)
        .ok_or_else(|| {
            let names: Vec<&str> = all.iter().map(|(_, n)| n.as_str()).collect();
            Error::invalid(
                "house",
                if names.is_empty() {
                    format!("the school has no house called {name:?} (it has no houses yet)")
                } else {
                    format!(
                        "the school has no house called {name:?}: its houses are {}",
                        names.join(", ")
                    )
                },
            )
        })
}

/// Sets the houses a member of staff leads (replacing those they led), in the caller's
/// transaction. Every house must be of the member's school.
pub fn set_houses(
    conn: &mut DbConnection,
    school_id: i64,
    staff_id: i64,
    house_ids: &[i64],
) -> Result<()> {
    let mut wanted = house_ids.to_vec();
    wanted.sort_unstable();
    wanted.dedup();
    let found: i64 = houses::table
        .filter(houses::school_id.eq(school_id))
        .filter(houses::id.eq_any(&wanted))
        .count()
        .get_result(conn)?;
    if usize::try_from(found).unwrap_or(0) != wanted.len() {
        return Err(Error::invalid("house", "choose houses of this school"));
    }
    diesel::delete(staff_houses::table.filter(staff_houses::staff_id.eq(staff_id)))
        .execute(conn)?;
    for house_id in wanted {
        diesel::insert_into(staff_houses::table)
            .values((
                staff_houses::staff_id.eq(staff_id),
                staff_houses::house_id.eq(house_id),
                staff_houses::school_id.eq(school_id),
            ))
            .execute(conn)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(roles: &[Role], years: &[i16], houses: &[i64]) -> StaffMember {
        StaffMember {
            id: 1,
            school_id: 1,
            email: "lead@school.example".into(),
            name: "Lead".into(),
            roles: roles.to_vec(),
            year_groups: years.to_vec(),
            houses: houses.to_vec(),
        }
    }

    fn place(year: i16, house_id: Option<i64>) -> PastoralPlace {
        PastoralPlace { year, house_id }
    }

    #[test]
    fn a_pastoral_lead_leads_their_years_and_their_houses() {
        let head_of_year = member(&[Role::PastoralLead], &[8], &[]);
        assert!(head_of_year.leads(place(8, None)));
        assert!(head_of_year.leads(place(8, Some(3))));
        assert!(!head_of_year.leads(place(9, Some(3))));
        let head_of_house = member(&[Role::PastoralLead], &[], &[3]);
        assert!(head_of_house.leads(place(9, Some(3))));
        assert!(head_of_house.leads(place(11, Some(3))));
        assert!(!head_of_house.leads(place(9, Some(4))));
        assert!(!head_of_house.leads(place(9, None)));
        assert!(head_of_house.leads_anyone());
        assert!(head_of_house.leads_house(3));
        // Houses and years count only for pastoral leads.
        let teacher = member(&[Role::ClassStaff], &[8], &[3]);
        assert!(!teacher.leads(place(8, Some(3))));
        assert!(!teacher.leads_anyone());
        assert!(!member(&[Role::PastoralLead], &[], &[]).leads_anyone());
        let led = Led::of(&member(&[Role::PastoralLead], &[7], &[3]));
        assert!(led.covers(place(7, None)) && led.covers(place(10, Some(3))));
        assert!(!led.covers(place(10, Some(2))));
        assert!(Led::of(&teacher).is_empty());
    }
}
