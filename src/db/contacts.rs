//! A pupil's family contacts: listed for those who may read them (`Record::Contacts`),
//! added, changed and removed by them, and replaced by a roster import. Every write runs in
//! the caller's transaction, checks the pupil is of the member's school, and is audited
//! without any name, email or phone.

use std::collections::HashMap;

use diesel::prelude::*;

use super::audit;
use super::decisions::lock_pupil;
use super::models::PupilRow;
use super::pastoral::PastoralPlace;
use super::pupils::PupilView;
use super::schema::{pupil_contacts, pupils};
use super::staff::StaffMember;
use super::DbConnection;
use crate::domain::contact::{check_count, Contact, ContactFacts, Relationship};
use crate::domain::paging::{Page, PageRequest};
use crate::domain::visibility::Record;
use crate::error::{Error, Result};

/// One contact as stored.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = pupil_contacts)]
pub struct ContactRow {
    pub id: i64,
    pub school_id: i64,
    pub pupil_id: i64,
    pub name: String,
    /// A [`Relationship`]'s stored name.
    pub relationship: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    /// Whether the contact is invited to the pupil's meetings.
    pub invited: bool,
    /// Their order among the pupil's contacts (the order the school's export gave them).
    pub position: i32,
}

impl ContactRow {
    /// The relationship as pages name it.
    pub fn relationship_title(&self) -> &'static str {
        Relationship::parse(&self.relationship).map_or("Other", Relationship::title)
    }

    /// The relationship; an unknown stored name reads as [`Relationship::Other`].
    pub fn relationship(&self) -> Relationship {
        Relationship::parse(&self.relationship).unwrap_or(Relationship::Other)
    }

    fn facts(&self) -> ContactFacts {
        ContactFacts {
            name: self.name.clone(),
            relationship: self.relationship.clone(),
            email: self.email.clone(),
            phone: self.phone.clone(),
        }
    }
}

/// Why someone may not read or change a pupil's contacts.
const NOT_YOURS: &str = "a pupil's family contacts are kept by their Head of Year or Head of House, the SENDCO, SLT and the school office";

/// Whether `member` may read and change the contacts of a pupil at `place`.
pub fn may_keep(member: &StaffMember, place: PastoralPlace) -> bool {
    member.may_read(place, Record::Contacts)
}

/// The pupil (of the member's school: another school's is "not found") whose contacts the
/// member may read; forbidden to anyone else.
pub fn pupil_for(
    conn: &mut DbConnection,
    member: &StaffMember,
    pupil_id: i64,
) -> Result<PupilView> {
    let pupil = super::pupils::get(conn, member.school_id, pupil_id)?;
    if !may_keep(member, pupil.place()) {
        return Err(Error::Forbidden(NOT_YOURS.into()));
    }
    Ok(pupil)
}

/// The pupil's contacts in order, with the pupil, for a member who may read them.
pub fn list_for(
    conn: &mut DbConnection,
    member: &StaffMember,
    pupil_id: i64,
) -> Result<(PupilView, Vec<ContactRow>)> {
    let pupil = pupil_for(conn, member, pupil_id)?;
    let contacts = list(conn, member.school_id, pupil_id)?;
    Ok((pupil, contacts))
}

/// Where a contact sorts in a paged list of a pupil's contacts: position, then id.
pub type ContactKey = (i32, i64);

/// One page of the pupil's contacts in order, after the contact whose key the request holds,
/// with the pupil, for a member who may read them.
pub fn page_for(
    conn: &mut DbConnection,
    member: &StaffMember,
    pupil_id: i64,
    request: &PageRequest<ContactKey>,
) -> Result<(PupilView, Page<ContactRow>)> {
    let pupil = pupil_for(conn, member, pupil_id)?;
    let mut query = pupil_contacts::table
        .filter(pupil_contacts::school_id.eq(member.school_id))
        .filter(pupil_contacts::pupil_id.eq(pupil_id))
        .order((pupil_contacts::position, pupil_contacts::id))
        .limit(request.fetch_i64())
        .select(ContactRow::as_select())
        .into_boxed();
    if let Some((position, id)) = request.after {
        query = query.filter(
            pupil_contacts::position
                .gt(position)
                .or(pupil_contacts::position
                    .eq(position)
                    .and(pupil_contacts::id.gt(id))),
        );
    }
    let rows = query.load(conn)?;
    Ok((
        pupil,
        request.cut(rows, |c: &ContactRow| (c.position, c.id)),
    ))
}

/// A pupil's contacts in order (the caller has checked who is asking).
pub fn list(conn: &mut DbConnection, school_id: i64, pupil_id: i64) -> Result<Vec<ContactRow>> {
    Ok(pupil_contacts::table
        .filter(pupil_contacts::school_id.eq(school_id))
        .filter(pupil_contacts::pupil_id.eq(pupil_id))
        .order((pupil_contacts::position, pupil_contacts::id))
        .select(ContactRow::as_select())
        .load(conn)?)
}

/// The pupil's contacts invited to their meetings, in order, when `member` may read them;
/// none otherwise.
pub fn invited_for(
    conn: &mut DbConnection,
    member: &StaffMember,
    pupil: &PupilRow,
    place: PastoralPlace,
) -> Result<Vec<ContactRow>> {
    if pupil.school_id != member.school_id || !may_keep(member, place) {
        return Ok(Vec::new());
    }
    Ok(list(conn, pupil.school_id, pupil.id)?
        .into_iter()
        .filter(|c| c.invited)
        .collect())
}

/// The contacts of every pupil of the school as a roster import compares them, by pupil.
pub fn facts_of_school(
    conn: &mut DbConnection,
    school_id: i64,
) -> Result<HashMap<i64, Vec<ContactFacts>>> {
    let rows: Vec<ContactRow> = pupil_contacts::table
        .filter(pupil_contacts::school_id.eq(school_id))
        .order((
            pupil_contacts::pupil_id,
            pupil_contacts::position,
            pupil_contacts::id,
        ))
        .select(ContactRow::as_select())
        .load(conn)?;
    let mut by_pupil: HashMap<i64, Vec<ContactFacts>> = HashMap::new();
    for row in rows {
        by_pupil.entry(row.pupil_id).or_default().push(row.facts());
    }
    Ok(by_pupil)
}

/// The pupil locked for a change to their contacts by `member`: of the member's school, on
/// roll, and one whose contacts the member keeps.
fn pupil_to_change(
    conn: &mut DbConnection,
    member: &StaffMember,
    pupil_id: i64,
) -> Result<PupilRow> {
    let (pupil, year) = lock_pupil(conn, member.school_id, pupil_id)?;
    if !may_keep(member, PastoralPlace::of(&pupil, year)) {
        return Err(Error::Forbidden(NOT_YOURS.into()));
    }
    Ok(pupil)
}

/// One of the pupil's contacts, or "not found".
fn contact_of(conn: &mut DbConnection, pupil: &PupilRow, contact_id: i64) -> Result<ContactRow> {
    pupil_contacts::table
        .filter(pupil_contacts::id.eq(contact_id))
        .filter(pupil_contacts::pupil_id.eq(pupil.id))
        .filter(pupil_contacts::school_id.eq(pupil.school_id))
        .select(ContactRow::as_select())
        .first(conn)
        .optional()?
        .ok_or(Error::NotFound("contact"))
}

fn audited(
    conn: &mut DbConnection,
    member: &StaffMember,
    action: &str,
    pupil_id: i64,
    detail: String,
) -> Result<()> {
    audit::record_by(conn, member, action, "pupil", Some(pupil_id), detail)
}

/// Adds a contact to the end of the pupil's list; answers its id.
pub fn add(
    conn: &mut DbConnection,
    member: &StaffMember,
    pupil_id: i64,
    contact: &Contact,
) -> Result<i64> {
    let pupil = pupil_to_change(conn, member, pupil_id)?;
    let held = list(conn, pupil.school_id, pupil.id)?;
    check_count(held.len() + 1).map_err(|e| Error::unprocessable(e.message))?;
    let position = held.iter().map(|c| c.position).max().map_or(0, |p| p + 1);
    let id: i64 = diesel::insert_into(pupil_contacts::table)
        .values((
            pupil_contacts::school_id.eq(pupil.school_id),
            pupil_contacts::pupil_id.eq(pupil.id),
            pupil_contacts::name.eq(contact.name.as_str()),
            pupil_contacts::relationship.eq(contact.relationship.as_str()),
            pupil_contacts::email.eq(contact.email.as_ref().map(|e| e.as_str())),
            pupil_contacts::phone.eq(contact.phone.as_ref().map(|p| p.as_str())),
            pupil_contacts::invited.eq(contact.invited),
            pupil_contacts::position.eq(position),
        ))
        .returning(pupil_contacts::id)
        .get_result(conn)?;
    audited(
        conn,
        member,
        "contact.add",
        pupil.id,
        format!("contact {id} added ({})", contact.relationship.as_str()),
    )?;
    Ok(id)
}

/// The contact's details written over.
fn write(conn: &mut DbConnection, id: i64, contact: &Contact) -> Result<()> {
    diesel::update(pupil_contacts::table.find(id))
        .set((
            pupil_contacts::name.eq(contact.name.as_str()),
            pupil_contacts::relationship.eq(contact.relationship.as_str()),
            pupil_contacts::email.eq(contact.email.as_ref().map(|e| e.as_str())),
            pupil_contacts::phone.eq(contact.phone.as_ref().map(|p| p.as_str())),
            pupil_contacts::invited.eq(contact.invited),
        ))
        .execute(conn)?;
    Ok(())
}

/// Changes one of the pupil's contacts.
pub fn edit(
    conn: &mut DbConnection,
    member: &StaffMember,
    pupil_id: i64,
    contact_id: i64,
    contact: &Contact,
) -> Result<()> {
    let pupil = pupil_to_change(conn, member, pupil_id)?;
    let held = contact_of(conn, &pupil, contact_id)?;
    write(conn, held.id, contact)?;
    audited(
        conn,
        member,
        "contact.edit",
        pupil.id,
        format!("contact {} changed", held.id),
    )
}

/// Removes one of the pupil's contacts.
pub fn remove(
    conn: &mut DbConnection,
    member: &StaffMember,
    pupil_id: i64,
    contact_id: i64,
) -> Result<()> {
    let pupil = pupil_to_change(conn, member, pupil_id)?;
    let held = contact_of(conn, &pupil, contact_id)?;
    diesel::delete(pupil_contacts::table.find(held.id)).execute(conn)?;
    audited(
        conn,
        member,
        "contact.remove",
        pupil.id,
        format!("contact {} removed", held.id),
    )
}

/// Puts a roster import's contacts in place of the pupil's (in the caller's transaction; the
/// import is audited by its counts). A contact already held with the same name and
/// relationship keeps whether staff invited them to meetings.
pub fn replace_from_import(
    conn: &mut DbConnection,
    school_id: i64,
    pupil_id: i64,
    given: &[Contact],
) -> Result<()> {
    let pupil: Option<i64> = pupils::table
        .find(pupil_id)
        .filter(pupils::school_id.eq(school_id))
        .select(pupils::id)
        .first(conn)
        .optional()?;
    pupil.ok_or(Error::NotFound("pupil"))?;
    let held = list(conn, school_id, pupil_id)?;
    let kept_invitation = |contact: &Contact| {
        held.iter()
            .find(|h| {
                h.name.to_lowercase() == contact.name.as_str().to_lowercase()
                    && h.relationship == contact.relationship.as_str()
            })
            .map_or(contact.invited, |h| h.invited)
    };
    let rows: Vec<_> = given
        .iter()
        .enumerate()
        .map(|(position, contact)| {
            (
                pupil_contacts::school_id.eq(school_id),
                pupil_contacts::pupil_id.eq(pupil_id),
                pupil_contacts::name.eq(contact.name.as_str().to_string()),
                pupil_contacts::relationship.eq(contact.relationship.as_str()),
                pupil_contacts::email.eq(contact.email.as_ref().map(|e| e.as_str().to_string())),
                pupil_contacts::phone.eq(contact.phone.as_ref().map(|p| p.as_str().to_string())),
                pupil_contacts::invited.eq(kept_invitation(contact)),
                pupil_contacts::position.eq(i32::try_from(position).unwrap_or(i32::MAX)),
            )
        })
        .collect();
    diesel::delete(
        pupil_contacts::table
            .filter(pupil_contacts::school_id.eq(school_id))
            .filter(pupil_contacts::pupil_id.eq(pupil_id)),
    )
    .execute(conn)?;
    for row in rows {
        diesel::insert_into(pupil_contacts::table)
            .values(row)
            .execute(conn)?;
    }
    Ok(())
}

/// Deletes every contact of the pupil (their record is being erased), in the caller's
/// transaction; answers how many.
pub fn erase(conn: &mut DbConnection, school_id: i64, pupil_id: i64) -> Result<usize> {
    Ok(diesel::delete(
        pupil_contacts::table
            .filter(pupil_contacts::school_id.eq(school_id))
            .filter(pupil_contacts::pupil_id.eq(pupil_id)),
    )
    .execute(conn)?)
}
