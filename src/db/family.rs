//! Family links (see `domain::family`): making one for a meeting's guest, a pupil's plan or a
//! programme block delivered at home; finding one by its token and whether it still works
//! (decided from the record it points at); staff revoking them; and what a family does through
//! one: answering an invitation, acknowledging a plan, recording a session at home. Tokens are
//! stored as their SHA-256 hash only; what a family does is audited with no actor (it is not
//! staff) and never with a name or a note.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;

use super::audit::{self, AuditEntry};
use super::meetings::GuestRole;
use super::models::{
    CoachingPlanRow, MeetingGuestRow, MeetingRow, ProgrammeBlockRow, ProgrammeSessionRow, PupilRow,
};
use super::notices::{self, NoticeContext};
use super::outbox::{self, Recipient};
use super::schema::{
    audit_log, coaching_plans, family_links, meeting_guests, meeting_participants, meetings,
    programme_blocks, programme_sessions, pupils, schools, staff, staff_roles, year_groups,
};
use super::staff::StaffMember;
use super::{from_db_time, to_db_time, DbConnection};
use crate::accounts::{hash_secret, random_token};
use crate::domain::calendar::SchoolCalendar;
use crate::domain::details::{EmailAddress, PersonName};
use crate::domain::family::{
    check_home_session, check_response, session_recordable, FamilyAction, FamilyLinkFacts,
    FamilyPurpose, GuestResponse, Standing,
};
use crate::domain::plan::{ActionStep, Goal};
use crate::domain::programme::SessionPlace;
use crate::domain::visibility::Record;
use crate::domain::{Level, Role};
use crate::error::{Error, Result};
use crate::mail::content::{self, PupilLabel};

/// The outbox topic of the emails that carry a family link. Like password links, they are a
/// way in, so the admin email pages do not show their text.
pub const FAMILY_LINK_TOPIC: &str = "Family link";

/// The address a family link opens: `{public_url}/family/{token}`.
pub fn url(public_url: &str, token: &str) -> String {
    format!("{}/family/{token}", public_url.trim_end_matches('/'))
}

/// What a new link is for, with its record's id.
#[derive(Debug, Clone, Copy)]
enum Target {
    Guest(i64),
    Plan(i64),
    Block(i64),
}

/// Stores a new link and answers its token.
#[allow(clippy::too_many_arguments)]
fn insert(
    conn: &mut DbConnection,
    school_id: i64,
    pupil_id: i64,
    target: Target,
    name: &str,
    email: Option<&str>,
    created_by: Option<i64>,
    now: DateTime<Utc>,
) -> Result<(i64, String)> {
    let token = random_token();
    let (purpose, guest_id, plan_id, block_id) = match target {
        Target::Guest(id) => (FamilyPurpose::Meeting, Some(id), None, None),
        Target::Plan(id) => (FamilyPurpose::Plan, None, Some(id), None),
        Target::Block(id) => (FamilyPurpose::HomeBlock, None, None, Some(id)),
    };
    let id: i64 = diesel::insert_into(family_links::table)
        .values((
            family_links::school_id.eq(school_id),
            family_links::pupil_id.eq(pupil_id),
            family_links::purpose.eq(purpose.as_str()),
            family_links::token_hash.eq(hash_secret(&token)),
            family_links::guest_id.eq(guest_id),
            family_links::plan_id.eq(plan_id),
            family_links::block_id.eq(block_id),
            family_links::name.eq(name),
            family_links::email.eq(email),
            family_links::created_by.eq(created_by),
            family_links::created_at.eq(to_db_time(now)),
        ))
        .returning(family_links::id)
        .get_result(conn)?;
    Ok((id, token))
}

/// A guest's own link to their meeting, made in the caller's transaction, for the invitation
/// (and update, reminder) emails: answers its token (build the address with [`url`]). Each
/// call makes a new token (only hashes are kept, so an earlier one cannot be read back); the
/// guest's earlier links keep working until the meeting is over. `None` when staff revoked this
/// guest's link (no new one is made behind their back) or the guest is not of the school.
pub fn meeting_link(
    conn: &mut DbConnection,
    school_id: i64,
    guest_id: i64,
    now: DateTime<Utc>,
) -> Result<Option<String>> {
    let guest: Option<(MeetingGuestRow, i64)> = meeting_guests::table
        .inner_join(meetings::table)
        .filter(meeting_guests::id.eq(guest_id))
        .filter(meeting_guests::school_id.eq(school_id))
        .select((MeetingGuestRow::as_select(), meetings::pupil_id))
        .get_result(conn)
        .optional()?;
    let Some((guest, pupil_id)) = guest else {
        return Ok(None);
    };
    let revoked: i64 = family_links::table
        .filter(family_links::guest_id.eq(guest_id))
        .filter(family_links::revoked_at.is_not_null())
        .count()
        .get_result(conn)?;
    if revoked > 0 {
        return Ok(None);
    }
    let (_, token) = insert(
        conn,
        school_id,
        pupil_id,
        Target::Guest(guest_id),
        &guest.name,
        guest.email.as_deref(),
        None,
        now,
    )?;
    Ok(Some(token))
}

/// Clears the guests' answers to a meeting whose time has changed: they answered for a time
/// that is no longer the meeting's, and are asked again (their links keep working).
pub fn ask_again(conn: &mut DbConnection, meeting_id: i64) -> Result<()> {
    diesel::update(meeting_guests::table.filter(meeting_guests::meeting_id.eq(meeting_id)))
        .set((
            meeting_guests::response.eq(None::<String>),
            meeting_guests::response_note.eq(None::<String>),
            meeting_guests::responded_at.eq(None::<chrono::NaiveDateTime>),
        ))
        .execute(conn)?;
    Ok(())
}

/// [`meeting_link`] as the full address to put in an email.
pub fn meeting_link_url(
    conn: &mut DbConnection,
    context: &NoticeContext,
    school_id: i64,
    guest_id: i64,
    now: DateTime<Utc>,
) -> Result<Option<String>> {
    Ok(meeting_link(conn, school_id, guest_id, now)?.map(|t| url(&context.public_url, &t)))
}

/// A link to a pupil's plan for one person, made in the caller's transaction: answers its token.
pub fn plan_link(
    conn: &mut DbConnection,
    school_id: i64,
    plan_id: i64,
    name: &str,
    email: Option<&str>,
    created_by: Option<i64>,
    now: DateTime<Utc>,
) -> Result<String> {
    let pupil_id: i64 = coaching_plans::table
        .filter(coaching_plans::id.eq(plan_id))
        .filter(coaching_plans::school_id.eq(school_id))
        .select(coaching_plans::pupil_id)
        .get_result(conn)
        .optional()?
        .ok_or(Error::NotFound("plan"))?;
    let target = Target::Plan(plan_id);
    Ok(insert(
        conn, school_id, pupil_id, target, name, email, created_by, now,
    )?
    .1)
}

/// A link to a programme block delivered at home, for the parent, carer or coach who delivers
/// it, made in the caller's transaction: answers its token.
pub fn home_block_link(
    conn: &mut DbConnection,
    school_id: i64,
    block_id: i64,
    name: &str,
    email: Option<&str>,
    created_by: Option<i64>,
    now: DateTime<Utc>,
) -> Result<String> {
    let pupil_id: i64 = programme_blocks::table
        .filter(programme_blocks::id.eq(block_id))
        .filter(programme_blocks::school_id.eq(school_id))
        .select(programme_blocks::pupil_id)
        .get_result(conn)
        .optional()?
        .ok_or(Error::NotFound("programme block"))?;
    let target = Target::Block(block_id);
    Ok(insert(
        conn, school_id, pupil_id, target, name, email, created_by, now,
    )?
    .1)
}

/// A stored family link.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = family_links)]
pub struct FamilyLinkRow {
    pub id: i64,
    pub school_id: i64,
    pub pupil_id: i64,
    pub purpose: String,
    pub token_hash: String,
    pub guest_id: Option<i64>,
    pub plan_id: Option<i64>,
    pub block_id: Option<i64>,
    pub name: String,
    pub email: Option<String>,
    pub created_by: Option<i64>,
    pub created_at: NaiveDateTime,
    pub revoked_at: Option<NaiveDateTime>,
    pub revoked_by: Option<i64>,
    pub acknowledged_at: Option<NaiveDateTime>,
}

/// A link found by its token.
#[derive(Debug, Clone)]
pub enum Found {
    /// It works: the link and what it is for.
    Works(Box<FamilyLinkRow>, FamilyPurpose),
    /// A link has this token but it no longer works (over, or revoked).
    Ended,
    /// No link has this token.
    Unknown,
}

/// Where what a link is for stands now.
fn standing(
    conn: &mut DbConnection,
    link: &FamilyLinkRow,
    purpose: FamilyPurpose,
) -> Result<Option<Standing>> {
    Ok(match purpose {
        FamilyPurpose::Meeting => {
            let Some(guest_id) = link.guest_id else {
                return Ok(None);
            };
            let meeting: Option<MeetingRow> = meetings::table
                .inner_join(meeting_guests::table)
                .filter(meeting_guests::id.eq(guest_id))
                .select(MeetingRow::as_select())
                .get_result(conn)
                .optional()?;
            meeting.map(|m| Standing::Meeting {
                open: m.status == "due" || m.status == "scheduled",
                starts_at: m.starts_at.map(from_db_time),
                due_on: m.due_on,
            })
        }
        FamilyPurpose::Plan => {
            let Some(plan_id) = link.plan_id else {
                return Ok(None);
            };
            let plan: Option<CoachingPlanRow> = coaching_plans::table
                .find(plan_id)
                .select(CoachingPlanRow::as_select())
                .get_result(conn)
                .optional()?;
            let Some(plan) = plan else { return Ok(None) };
            let newer: i64 = coaching_plans::table
                .filter(coaching_plans::pupil_id.eq(plan.pupil_id))
                .filter(coaching_plans::version.gt(plan.version))
                .count()
                .get_result(conn)?;
            let (level, left_on): (i16, Option<chrono::NaiveDate>) = pupils::table
                .find(plan.pupil_id)
                .select((pupils::level, pupils::left_on))
                .get_result(conn)?;
            Some(Standing::Plan {
                current: newer == 0,
                pupil_level: level,
                pupil_left: left_on.is_some(),
            })
        }
        FamilyPurpose::HomeBlock => {
            let Some(block_id) = link.block_id else {
                return Ok(None);
            };
            let block: Option<(String, String)> = programme_blocks::table
                .find(block_id)
                .select((programme_blocks::status, programme_blocks::place))
                .get_result(conn)
                .optional()?;
            block.map(|(status, place)| Standing::HomeBlock {
                running: status == "running",
                at_home: place == SessionPlace::AtHome.as_str(),
            })
        }
    })
}

/// The link with this token and whether it works at `now`.
pub fn find(conn: &mut DbConnection, token: &str, now: DateTime<Utc>) -> Result<Found> {
    if token.is_empty() || token.len() > 200 {
        return Ok(Found::Unknown);
    }
    let link: Option<FamilyLinkRow> = family_links::table
        .filter(family_links::token_hash.eq(hash_secret(token)))
        .select(FamilyLinkRow::as_select())
        .get_result(conn)
        .optional()?;
    let Some(link) = link else {
        return Ok(Found::Unknown);
    };
    let Some(purpose) = FamilyPurpose::parse(&link.purpose) else {
        return Ok(Found::Ended);
    };
    let Some(standing) = standing(conn, &link, purpose)? else {
        return Ok(Found::Ended);
    };
    let facts = FamilyLinkFacts {
        purpose,
        revoked: link.revoked_at.is_some(),
        standing,
    };
    Ok(if facts.works(now) {
        Found::Works(Box::new(link), purpose)
    } else {
        Found::Ended
    })
}

/// The working link with this token that allows `action`, or a 404 (the same whatever the
/// reason, so a page never tells which).
fn usable(
    conn: &mut DbConnection,
    token: &str,
    action: FamilyAction,
    now: DateTime<Utc>,
) -> Result<FamilyLinkRow> {
    match find(conn, token, now)? {
        Found::Works(link, purpose) if purpose.allows(action) => Ok(*link),
        _ => Err(Error::NotFound("link")),
    }
}

// ---------------------------------------------------------------------------------------------
// The school as a family sees it
// ---------------------------------------------------------------------------------------------

/// What a family's page and every email's letterhead say about the school.
pub use crate::mail::content::SchoolContact;

/// The school's name and contact details.
pub fn school_contact(conn: &mut DbConnection, school_id: i64) -> Result<SchoolContact> {
    let (name, phone, email, address, logo_url) = schools::table
        .find(school_id)
        .select((
            schools::name,
            schools::phone,
            schools::email,
            schools::address,
            schools::logo_url,
        ))
        .get_result(conn)?;
    Ok(SchoolContact {
        name,
        phone,
        email,
        address,
        logo_url,
    })
}

// ---------------------------------------------------------------------------------------------
// Meetings
// ---------------------------------------------------------------------------------------------

/// The member of staff a meeting's guests are pointed to: the person who booked it (while
/// still at the school), or else the pupil's Head of Year (or Head of House).
pub fn organiser(
    conn: &mut DbConnection,
    meeting: &MeetingRow,
) -> Result<Option<(i64, String, String)>> {
    let booker: Option<(i64, String, String)> = audit_log::table
        .inner_join(staff::table.on(staff::id.nullable().eq(audit_log::actor_id)))
        .filter(audit_log::school_id.eq(meeting.school_id))
        .filter(audit_log::entity.eq("meeting"))
        .filter(audit_log::entity_id.eq(meeting.id))
        .filter(audit_log::action.eq_any(["meeting.schedule", "meeting.reschedule"]))
        .filter(staff::active.eq(true))
        .order(audit_log::id.desc())
        .select((staff::id, staff::name, staff::email))
        .first(conn)
        .optional()?;
    if booker.is_some() {
        return Ok(booker);
    }
    let pupil: PupilRow = pupils::table
        .find(meeting.pupil_id)
        .select(PupilRow::as_select())
        .get_result(conn)?;
    Ok(super::pastoral::leads_of(conn, &pupil)?.into_iter().next())
}

/// A member of staff at a meeting: name and roles.
#[derive(Debug, Clone)]
pub struct StaffAttending {
    pub name: String,
    pub roles: Vec<Role>,
}

/// Everything a guest's meeting page shows.
#[derive(Debug, Clone)]
pub struct MeetingPage {
    pub link: FamilyLinkRow,
    pub guest: MeetingGuestRow,
    pub meeting: MeetingRow,
    pub pupil_given_name: String,
    pub staff: Vec<StaffAttending>,
    /// The other guests, by name only.
    pub other_guests: Vec<String>,
    pub organiser: Option<String>,
    pub school: SchoolContact,
}

/// The meeting page of a working link.
pub fn meeting_page(conn: &mut DbConnection, link: FamilyLinkRow) -> Result<MeetingPage> {
    let guest_id = link.guest_id.ok_or(Error::NotFound("link"))?;
    let (guest, meeting): (MeetingGuestRow, MeetingRow) = meeting_guests::table
        .inner_join(meetings::table)
        .filter(meeting_guests::id.eq(guest_id))
        .select((MeetingGuestRow::as_select(), MeetingRow::as_select()))
        .get_result(conn)?;
    let pupil_given_name: String = pupils::table
        .find(meeting.pupil_id)
        .select(pupils::given_name)
        .get_result(conn)?;
    let people: Vec<(i64, String)> = staff::table
        .inner_join(meeting_participants::table)
        .filter(meeting_participants::meeting_id.eq(meeting.id))
        .order(staff::id)
        .select((staff::id, staff::name))
        .load(conn)?;
    let ids: Vec<i64> = people.iter().map(|p| p.0).collect();
    let role_rows: Vec<(i64, String)> = staff_roles::table
        .filter(staff_roles::staff_id.eq_any(&ids))
        .select((staff_roles::staff_id, staff_roles::role))
        .load(conn)?;
    let mut roles: HashMap<i64, Vec<Role>> = HashMap::new();
    for (id, role) in role_rows {
        if let Ok(role) = Role::parse(&role) {
            roles.entry(id).or_default().push(role);
        }
    }
    let staff_attending = people
        .into_iter()
        .map(|(id, name)| StaffAttending {
            name,
            roles: roles.remove(&id).unwrap_or_default(),
        })
        .collect();
    let other_guests = super::meetings::guests(conn, meeting.id)?
        .into_iter()
        .filter(|g| g.id != guest.id)
        .map(|g| g.name)
        .collect();
    let organiser = organiser(conn, &meeting)?.map(|(_, name, _)| name);
    let school = school_contact(conn, meeting.school_id)?;
    Ok(MeetingPage {
        link,
        guest,
        meeting,
        pupil_given_name,
        staff: staff_attending,
        other_guests,
        organiser,
        school,
    })
}

/// A guest's answer to their invitation through their link, in the caller's transaction:
/// stored on the guest, audited as done by the guest, and emailed to the organiser and the
/// pupil's Head of Year. A refused answer names its field (`response` or `note`).
pub fn answer_invitation(
    conn: &mut DbConnection,
    context: &NoticeContext,
    token: &str,
    response: &str,
    note: Option<&str>,
    now: DateTime<Utc>,
) -> Result<GuestResponse> {
    let link = usable(conn, token, FamilyAction::AnswerInvitation, now)?;
    let (response, note) = check_response(response, note)
        .map_err(|e| Error::invalid(e.field, format!("{}: {}", e.field, e.message)))?;
    let guest_id = link.guest_id.ok_or(Error::NotFound("link"))?;
    diesel::update(meeting_guests::table.find(guest_id))
        .set((
            meeting_guests::response.eq(Some(response.as_str())),
            meeting_guests::response_note.eq(note.as_deref()),
            meeting_guests::responded_at.eq(Some(to_db_time(now))),
        ))
        .execute(conn)?;
    let guest: MeetingGuestRow = meeting_guests::table
        .find(guest_id)
        .select(MeetingGuestRow::as_select())
        .get_result(conn)?;
    audit::record(
        conn,
        AuditEntry {
            school_id: link.school_id,
            actor_id: None,
            action: "meeting.guest_answered",
            entity: "meeting",
            entity_id: Some(guest.meeting_id),
            detail: format!(
                "guest {} {} through their family link",
                guest.id,
                response.as_str()
            ),
            at: to_db_time(now),
        },
    )?;
    let meeting: MeetingRow = meetings::table
        .find(guest.meeting_id)
        .select(MeetingRow::as_select())
        .get_result(conn)?;
    let organiser = organiser(conn, &meeting)?;
    notices::guest_answered(conn, context, &meeting, &guest, organiser, now)?;
    Ok(response)
}

/// For each guest of a meeting, whether staff revoked their link.
pub fn revoked_guests(conn: &mut DbConnection, meeting_id: i64) -> Result<Vec<i64>> {
    Ok(family_links::table
        .inner_join(meeting_guests::table)
        .filter(meeting_guests::meeting_id.eq(meeting_id))
        .filter(family_links::revoked_at.is_not_null())
        .select(meeting_guests::id)
        .distinct()
        .load(conn)?)
}

/// Revokes every link of one guest of a meeting the member runs, in the caller's transaction:
/// the guest's link stops working at once and no new one is made for their emails. Audited.
pub fn revoke_guest(
    conn: &mut DbConnection,
    member: &StaffMember,
    meeting_id: i64,
    guest_id: i64,
    now: DateTime<Utc>,
) -> Result<()> {
    super::meetings::load_for(conn, member, meeting_id)?;
    let found: i64 = meeting_guests::table
        .filter(meeting_guests::id.eq(guest_id))
        .filter(meeting_guests::meeting_id.eq(meeting_id))
        .count()
        .get_result(conn)?;
    if found == 0 {
        return Err(Error::NotFound("guest"));
    }
    let at = to_db_time(now);
    let links: i64 = family_links::table
        .filter(family_links::guest_id.eq(guest_id))
        .count()
        .get_result(conn)?;
    if links == 0 {
        // A marker, so no link is made for this guest later; it opens nothing.
        let pupil_id: i64 = meetings::table
            .find(meeting_id)
            .select(meetings::pupil_id)
            .get_result(conn)?;
        let name: String = meeting_guests::table
            .find(guest_id)
            .select(meeting_guests::name)
            .get_result(conn)?;
        insert(
            conn,
            member.school_id,
            pupil_id,
            Target::Guest(guest_id),
            &name,
            None,
            Some(member.id),
            now,
        )?;
    }
    diesel::update(
        family_links::table
            .filter(family_links::guest_id.eq(guest_id))
            .filter(family_links::revoked_at.is_null()),
    )
    .set((
        family_links::revoked_at.eq(Some(at)),
        family_links::revoked_by.eq(Some(member.id)),
    ))
    .execute(conn)?;
    audit::record(
        conn,
        AuditEntry {
            school_id: member.school_id,
            actor_id: Some(member.id),
            action: "family_link.revoked",
            entity: "meeting",
            entity_id: Some(meeting_id),
            detail: format!("guest {guest_id}'s link"),
            at,
        },
    )
}

// ---------------------------------------------------------------------------------------------
// Plans
// ---------------------------------------------------------------------------------------------

/// Shares a pupil's current plan with a parent or carer by email, in the caller's
/// transaction: a link of their own, emailed through the outbox. Only those who write the
/// plan may share it. Audited without the name or address.
pub fn share_plan(
    conn: &mut DbConnection,
    member: &StaffMember,
    context: &NoticeContext,
    pupil_id: i64,
    name: &str,
    email: &str,
    now: DateTime<Utc>,
) -> Result<i64> {
    let (pupil, year) = super::plans::pupil_for_plan(conn, member, pupil_id)?;
    let plan = super::plans::current(conn, member.school_id, pupil_id)?
        .ok_or_else(|| Error::unprocessable("there is no plan to share yet"))?;
    let (name, email) = person(name, email)?;
    let token = plan_link(
        conn,
        member.school_id,
        plan.row.id,
        name.as_str(),
        Some(email.as_str()),
        Some(member.id),
        now,
    )?;
    let school = school_contact(conn, member.school_id)?;
    let message = content::family_plan_link(&content::FamilyLinkEmail {
        recipient_name: name.as_str().to_string(),
        pupil_given_name: pupil.given_name.clone(),
        school_name: school.name,
        url: url(&context.public_url, &token),
        from_name: member.name.clone(),
    })
    .into_email(
        email.as_str().to_string(),
        format!("family-plan-{}-{}", plan.row.id, &hash_secret(&token)[..16]),
        None,
    );
    queue_family_email(conn, member.school_id, &name, &email, &message, now)?;
    audit::record(
        conn,
        AuditEntry {
            school_id: member.school_id,
            actor_id: Some(member.id),
            action: "plan.shared",
            entity: "coaching_plan",
            entity_id: Some(plan.row.id),
            detail: format!(
                "pupil {} (year {year}) plan shared by family link",
                pupil.id
            ),
            at: to_db_time(now),
        },
    )?;
    Ok(plan.row.id)
}

fn person(name: &str, email: &str) -> Result<(PersonName, EmailAddress)> {
    let name = PersonName::parse("name", name)
        .map_err(|e| Error::invalid("name", format!("name: {}", e.message)))?;
    let email = EmailAddress::parse(email)
        .map_err(|e| Error::invalid("email", format!("email: {}", e.message)))?;
    Ok((name, email))
}

fn queue_family_email(
    conn: &mut DbConnection,
    school_id: i64,
    name: &PersonName,
    email: &EmailAddress,
    message: &crate::mail::OutgoingEmail,
    now: DateTime<Utc>,
) -> Result<()> {
    let recipient = Recipient {
        staff_id: None,
        name: name.as_str().to_string(),
        email: email.as_str().to_string(),
    };
    outbox::enqueue(conn, school_id, &recipient, message, FAMILY_LINK_TOPIC, now)
}

/// Who a plan or block was shared with, for the staff pages.
#[derive(Debug, Clone)]
pub struct Share {
    pub id: i64,
    pub name: String,
    pub email: Option<String>,
    pub created_at: NaiveDateTime,
    pub revoked_at: Option<NaiveDateTime>,
    pub acknowledged_at: Option<NaiveDateTime>,
}

fn shares(rows: Vec<FamilyLinkRow>) -> Vec<Share> {
    rows.into_iter()
        .map(|r| Share {
            id: r.id,
            name: r.name,
            email: r.email,
            created_at: r.created_at,
            revoked_at: r.revoked_at,
            acknowledged_at: r.acknowledged_at,
        })
        .collect()
}

/// Who a plan version was shared with, oldest first.
pub fn plan_shares(conn: &mut DbConnection, school_id: i64, plan_id: i64) -> Result<Vec<Share>> {
    Ok(shares(
        family_links::table
            .filter(family_links::school_id.eq(school_id))
            .filter(family_links::plan_id.eq(plan_id))
            .order(family_links::id)
            .select(FamilyLinkRow::as_select())
            .load(conn)?,
    ))
}

/// Everything the plan page of a family link shows.
#[derive(Debug, Clone)]
pub struct PlanPage {
    pub link: FamilyLinkRow,
    pub pupil_given_name: String,
    pub goals: Vec<Goal>,
    pub pathway: String,
    pub steps: Vec<ActionStep>,
    pub review_on: chrono::NaiveDate,
    pub school: SchoolContact,
}

/// The plan page of a working link.
pub fn plan_page(conn: &mut DbConnection, link: FamilyLinkRow) -> Result<PlanPage> {
    let plan_id = link.plan_id.ok_or(Error::NotFound("link"))?;
    let row: CoachingPlanRow = coaching_plans::table
        .find(plan_id)
        .select(CoachingPlanRow::as_select())
        .get_result(conn)?;
    let goals: Vec<Goal> = serde_json::from_str(&row.goals)
        .map_err(|e| Error::Internal(format!("plan {} goals: {e}", row.id)))?;
    let steps: Vec<ActionStep> = serde_json::from_str(&row.action_steps)
        .map_err(|e| Error::Internal(format!("plan {} steps: {e}", row.id)))?;
    let pupil_given_name: String = pupils::table
        .find(row.pupil_id)
        .select(pupils::given_name)
        .get_result(conn)?;
    let school = school_contact(conn, row.school_id)?;
    Ok(PlanPage {
        link,
        pupil_given_name,
        goals,
        pathway: row.pathway_to_independence,
        steps,
        review_on: row.review_on,
        school,
    })
}

/// "I have read this plan", through the link: the first time is kept (with its date) and
/// audited as done by the family.
pub fn acknowledge_plan(conn: &mut DbConnection, token: &str, now: DateTime<Utc>) -> Result<()> {
    let link = usable(conn, token, FamilyAction::AcknowledgePlan, now)?;
    if link.acknowledged_at.is_some() {
        return Ok(());
    }
    let at = to_db_time(now);
    diesel::update(family_links::table.find(link.id))
        .set(family_links::acknowledged_at.eq(Some(at)))
        .execute(conn)?;
    audit::record(
        conn,
        AuditEntry {
            school_id: link.school_id,
            actor_id: None,
            action: "plan.acknowledged",
            entity: "coaching_plan",
            entity_id: link.plan_id,
            detail: format!(
                "pupil {} plan read, said through a family link",
                link.pupil_id
            ),
            at,
        },
    )
}

// ---------------------------------------------------------------------------------------------
// Programme blocks at home
// ---------------------------------------------------------------------------------------------

/// Shares a running block delivered at home with the person who delivers it, in the caller's
/// transaction: a link of their own, emailed through the outbox. Only those who run the
/// pupil's programme may share it.
pub fn share_home_block(
    conn: &mut DbConnection,
    member: &StaffMember,
    context: &NoticeContext,
    block_id: i64,
    name: &str,
    email: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    let found: Option<(ProgrammeBlockRow, PupilRow, i16)> = programme_blocks::table
        .inner_join(pupils::table.inner_join(year_groups::table))
        .filter(programme_blocks::id.eq(block_id))
        .filter(programme_blocks::school_id.eq(member.school_id))
        .select((
            ProgrammeBlockRow::as_select(),
            PupilRow::as_select(),
            year_groups::year,
        ))
        .get_result(conn)
        .optional()?;
    let (block, pupil, year) = found.ok_or(Error::NotFound("programme block"))?;
    let place = super::pastoral::PastoralPlace::of(&pupil, year);
    if !member.may_read(place, Record::Programme) {
        return Err(Error::Forbidden(
            "a programme is shared by those who run it: the Head of Year or Head of House, the SENDCO or SLT".into(),
        ));
    }
    if block.place != SessionPlace::AtHome.as_str() {
        return Err(Error::unprocessable(
            "only a block whose sessions are delivered at home is shared with a family",
        ));
    }
    if block.status != "running" {
        return Err(Error::Conflict {
            message: "this block has been reviewed already".into(),
            field: None,
        });
    }
    let (name, email) = person(name, email)?;
    let token = home_block_link(
        conn,
        member.school_id,
        block_id,
        name.as_str(),
        Some(email.as_str()),
        Some(member.id),
        now,
    )?;
    let school = school_contact(conn, member.school_id)?;
    let message = content::family_home_sessions_link(&content::FamilyLinkEmail {
        recipient_name: name.as_str().to_string(),
        pupil_given_name: pupil.given_name.clone(),
        school_name: school.name,
        url: url(&context.public_url, &token),
        from_name: member.name.clone(),
    })
    .into_email(
        email.as_str().to_string(),
        format!("family-block-{block_id}-{}", &hash_secret(&token)[..16]),
        None,
    );
    queue_family_email(conn, member.school_id, &name, &email, &message, now)?;
    audit::record(
        conn,
        AuditEntry {
            school_id: member.school_id,
            actor_id: Some(member.id),
            action: "programme.block_shared",
            entity: "programme_block",
            entity_id: Some(block_id),
            detail: format!("pupil {} home sessions shared by family link", pupil.id),
            at: to_db_time(now),
        },
    )
}

/// Who a block was shared with, oldest first.
pub fn block_shares(conn: &mut DbConnection, school_id: i64, block_id: i64) -> Result<Vec<Share>> {
    Ok(shares(
        family_links::table
            .filter(family_links::school_id.eq(school_id))
            .filter(family_links::block_id.eq(block_id))
            .order(family_links::id)
            .select(FamilyLinkRow::as_select())
            .load(conn)?,
    ))
}

/// Everything the home sessions page of a family link shows.
#[derive(Debug, Clone)]
pub struct BlockPage {
    pub link: FamilyLinkRow,
    pub pupil_given_name: String,
    pub block: ProgrammeBlockRow,
    /// The block's sessions up to today.
    pub sessions: Vec<ProgrammeSessionRow>,
    pub school: SchoolContact,
}

/// The home sessions page of a working link, as of `now`.
pub fn block_page(
    conn: &mut DbConnection,
    link: FamilyLinkRow,
    now: DateTime<Utc>,
) -> Result<BlockPage> {
    let block_id = link.block_id.ok_or(Error::NotFound("link"))?;
    let block: ProgrammeBlockRow = programme_blocks::table
        .find(block_id)
        .select(ProgrammeBlockRow::as_select())
        .get_result(conn)?;
    let today = SchoolCalendar::local_date(now);
    let sessions: Vec<ProgrammeSessionRow> = programme_sessions::table
        .filter(programme_sessions::block_id.eq(block_id))
        .order((programme_sessions::on_date, programme_sessions::id))
        .select(ProgrammeSessionRow::as_select())
        .load::<ProgrammeSessionRow>(conn)?
        .into_iter()
        .filter(|s| session_recordable(s.on_date, today))
        .collect();
    let pupil_given_name: String = pupils::table
        .find(block.pupil_id)
        .select(pupils::given_name)
        .get_result(conn)?;
    let school = school_contact(conn, block.school_id)?;
    Ok(BlockPage {
        link,
        pupil_given_name,
        block,
        sessions,
        school,
    })
}

/// A session at home recorded through the link, in the caller's transaction, with the same
/// checks as staff recording and into the same columns (so it counts in the block's fidelity),
/// the link noted as who recorded it. A refused record names its field.
pub fn record_home_session(
    conn: &mut DbConnection,
    token: &str,
    session_id: i64,
    outcome: &str,
    minutes: Option<u32>,
    note: Option<&str>,
    now: DateTime<Utc>,
) -> Result<ProgrammeSessionRow> {
    let link = usable(conn, token, FamilyAction::RecordSession, now)?;
    let record = check_home_session(outcome, minutes, note)
        .map_err(|e| Error::invalid(e.field, format!("{}: {}", e.field, e.message)))?;
    let block_id = link.block_id.ok_or(Error::NotFound("link"))?;
    let found: Option<ProgrammeSessionRow> = programme_sessions::table
        .filter(programme_sessions::id.eq(session_id))
        .filter(programme_sessions::block_id.eq(block_id))
        .select(ProgrammeSessionRow::as_select())
        .get_result(conn)
        .optional()?;
    let session = found.ok_or(Error::NotFound("session"))?;
    super::programmes::record_by_family(
        conn,
        &session,
        record,
        super::programmes::FamilyRecorder {
            link_id: link.id,
            name: &link.name,
        },
        now,
    )
}

/// The pupil label staff emails use, for a meeting's pupil.
pub fn pupil_label(conn: &mut DbConnection, pupil_id: i64) -> Result<PupilLabel> {
    let (given, family, year): (String, String, i16) = pupils::table
        .inner_join(year_groups::table)
        .filter(pupils::id.eq(pupil_id))
        .select((pupils::given_name, pupils::family_name, year_groups::year))
        .get_result(conn)?;
    Ok(PupilLabel::new(&given, &family, year))
}

/// Whether a pupil is at a level where a plan is shared (4 and above).
pub fn plan_level(level: i16) -> bool {
    level >= Level::Plan.number()
}

/// Saves the school's contact details families see (an administrator's change), audited
/// without the details themselves.
pub fn save_school_details(
    conn: &mut DbConnection,
    member: &StaffMember,
    details: &crate::domain::family::SchoolDetails,
    now: DateTime<Utc>,
) -> Result<()> {
    if !member.has_role(Role::Admin) {
        return Err(Error::Forbidden(
            "the school's details are kept by its administrators".into(),
        ));
    }
    diesel::update(schools::table.find(member.school_id))
        .set((
            schools::phone.eq(&details.phone),
            schools::email.eq(&details.email),
            schools::address.eq(&details.address),
            schools::logo_url.eq(details.logo_url.as_deref()),
        ))
        .execute(conn)?;
    audit::record(
        conn,
        AuditEntry {
            school_id: member.school_id,
            actor_id: Some(member.id),
            action: "school.details_saved",
            entity: "school",
            entity_id: Some(member.school_id),
            detail: "contact details for families".into(),
            at: to_db_time(now),
        },
    )
}

/// The pupil's parent or carer invited last to one of their meetings with an email address, as
/// (name, email): who a plan is offered to be shared with first.
pub fn parent_contact(
    conn: &mut DbConnection,
    school_id: i64,
    pupil_id: i64,
) -> Result<Option<(String, String)>> {
    let found: Option<(String, Option<String>)> = meeting_guests::table
        .inner_join(meetings::table)
        .filter(meetings::school_id.eq(school_id))
        .filter(meetings::pupil_id.eq(pupil_id))
        .filter(meeting_guests::role.eq(GuestRole::ParentCarer.as_str()))
        .filter(meeting_guests::email.is_not_null())
        .order(meeting_guests::id.desc())
        .select((meeting_guests::name, meeting_guests::email))
        .first(conn)
        .optional()?;
    Ok(found.and_then(|(name, email)| Some((name, email?))))
}
