//! Meetings: listing them for the people who run them, booking (and moving) them with the
//! people taking part, cancelling, and recording them as held (in the six parts of a coaching
//! conversation) or missed. Each change queues its emails in the same transaction and is
//! audited without any free text.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use diesel::prelude::*;

use super::audit::{self, AuditEntry};
use super::decisions::checked_reason;
use super::evaluation::{self, SchoolRules};
use super::models::{MeetingGuestRow, MeetingRow, PupilRow, SuggestionRow};
use super::notices::{self, NoticeContext};
use super::outbox::Recipient;
use super::pastoral::{Led, PastoralPlace};
use super::schema::{meeting_guests, meeting_participants, meetings, pupils, staff, year_groups};
use super::staff::StaffMember;
use super::{from_db_time, to_db_time, DbConnection};
use crate::domain::details::{optional_text, DetailError, EmailAddress, PersonName};
use crate::domain::paging::{Page, PageRequest};
use crate::domain::visibility::Record;
use crate::domain::{Level, MeetingState, Role, SchoolDayCount};
use crate::error::{Error, Result};

/// Longest meeting that can be booked, in minutes.
pub const MAX_DURATION_MINUTES: i32 = 240;
/// Most people (staff and guests together) invited to one meeting.
pub const MAX_PEOPLE: usize = 30;
/// School days from the level-6 team meeting to the planning session with the pupil.
pub const PLANNING_SESSION_SCHOOL_DAYS: u32 = 5;
/// Longest text of each part of a meeting record.
const MAX_RECORD_CHARS: usize = 4000;

/// Whether `member` runs meetings for a pupil at `place` at `level`: the Head of Year or Head
/// of House, the SENDCO (levels 4 to 6, where a Coaching Plan or more is in place) and SLT.
/// Those who run a meeting are those who may read its record.
pub fn may_run(member: &StaffMember, place: PastoralPlace, level: i16) -> bool {
    member.may_read(
        place,
        Record::MeetingRecord {
            level: level_of(level),
        },
    )
}

/// The level of a stored level number; an unknown number counts as no level, which widens
/// nothing.
pub use crate::domain::words::level_of;

/// A meeting with its pupil and the pupil's year.
#[derive(Debug, Clone)]
pub struct MeetingView {
    pub meeting: MeetingRow,
    pub pupil: PupilRow,
    pub year: i16,
}

impl MeetingView {
    /// Where the meeting's pupil sits for pastoral care.
    pub fn place(&self) -> PastoralPlace {
        PastoralPlace::of(&self.pupil, self.year)
    }

    /// Whether the meeting's due day has passed without it being held, as of `today`.
    pub fn is_overdue(&self, today: NaiveDate) -> bool {
        self.state(today).is_overdue()
    }

    /// Where the meeting stands on `today` (due, booked, overdue, held...).
    pub fn state(&self, today: NaiveDate) -> MeetingState {
        self.meeting.state(today)
    }
}

/// Loads a meeting of the member's school that they may run: another school's meeting is
/// not found; one they do not run is forbidden.
pub fn load_for(
    conn: &mut DbConnection,
    member: &StaffMember,
    meeting_id: i64,
) -> Result<MeetingView> {
    let found: Option<(MeetingRow, PupilRow, i16)> = meetings::table
        .inner_join(pupils::table.inner_join(year_groups::table))
        .filter(meetings::id.eq(meeting_id))
        .filter(meetings::school_id.eq(member.school_id))
        .select((
            MeetingRow::as_select(),
            PupilRow::as_select(),
            year_groups::year,
        ))
        .get_result(conn)
        .optional()?;
    let (meeting, pupil, year) = found.ok_or(Error::NotFound("meeting"))?;
    if !may_run(member, PastoralPlace::of(&pupil, year), meeting.level) {
        return Err(Error::Forbidden(
            "meetings are run by the pupil's Head of Year or Head of House, the SENDCO (from level 4) and SLT"
                .into(),
        ));
    }
    Ok(MeetingView {
        meeting,
        pupil,
        year,
    })
}

/// Refuses a change to a meeting that has been held, missed or cancelled.
fn ensure_open(meeting: &MeetingRow) -> Result<()> {
    if ["due", "scheduled"].contains(&meeting.status.as_str()) {
        return Ok(());
    }
    Err(Error::Conflict {
        message: format!("this meeting is {} already", meeting.status),
        field: None,
    })
}

/// Which meetings a list shows.
#[derive(Debug, Clone, Default)]
pub struct MeetingFilter {
    /// due, scheduled, held, missed, cancelled, or overdue (not booked by its due day, or its
    /// booked day passed with nothing recorded).
    pub status: Option<String>,
    pub pupil_id: Option<i64>,
    /// Only meetings still open: due, or booked and not yet recorded.
    pub open: bool,
}

/// The statuses a filter may name.
pub const FILTER_STATUSES: [&str; 6] =
    ["due", "scheduled", "held", "missed", "cancelled", "overdue"];

/// The meetings of the member's school that they run, soonest due first.
pub fn list_for(
    conn: &mut DbConnection,
    member: &StaffMember,
    filter: &MeetingFilter,
    today: NaiveDate,
) -> Result<Vec<MeetingView>> {
    Ok(read_run_by(conn, member, filter, today, None, None)?.0)
}

/// Where a meeting sorts in a paged list of meetings: due day, then id, soonest first.
pub type MeetingKey = (NaiveDate, i64);

/// One page of the meetings `member` runs, soonest due first, after the meeting whose key the
/// request holds. Which meetings the member runs (and which are overdue) is decided after
/// reading, so rows are read in batches until the page is full or the list ends.
pub fn page_for(
    conn: &mut DbConnection,
    member: &StaffMember,
    filter: &MeetingFilter,
    today: NaiveDate,
    request: &PageRequest<MeetingKey>,
) -> Result<Page<MeetingView>> {
    let batch = request.fetch_i64().max(100);
    let mut after = request.after;
    let mut found = Vec::new();
    loop {
        let (views, read, last) = read_run_by(conn, member, filter, today, after, Some(batch))?;
        found.extend(views);
        if found.len() >= request.fetch() || read < batch || last.is_none() {
            break;
        }
        after = last;
    }
    found.truncate(request.fetch());
    Ok(request.cut(found, |view: &MeetingView| {
        (view.meeting.due_on, view.meeting.id)
    }))
}

/// The meetings of the member's school that they run, soonest due first: those after `after`,
/// from at most `limit` rows read; with how many rows were read and the key of the last.
fn read_run_by(
    conn: &mut DbConnection,
    member: &StaffMember,
    filter: &MeetingFilter,
    today: NaiveDate,
    after: Option<MeetingKey>,
    limit: Option<i64>,
) -> Result<(Vec<MeetingView>, i64, Option<MeetingKey>)> {
    let mut query = meetings::table
        .inner_join(pupils::table.inner_join(year_groups::table))
        .filter(meetings::school_id.eq(member.school_id))
        .select((
            MeetingRow::as_select(),
            PupilRow::as_select(),
            year_groups::year,
        ))
        .order((meetings::due_on, meetings::id))
        .into_boxed();
    if let Some((due_on, id)) = after {
        query = query.filter(
            meetings::due_on
                .gt(due_on)
                .or(meetings::due_on.eq(due_on).and(meetings::id.gt(id))),
        );
    }
    if let Some(limit) = limit {
        query = query.limit(limit);
    }
    match filter.status.as_deref() {
        None => {}
        Some("overdue") => {
            // Open meetings; which of them are overdue is the domain's rule, applied below.
            query = query.filter(meetings::status.eq_any(["due", "scheduled"]));
        }
        Some(status) if FILTER_STATUSES.contains(&status) => {
            query = query.filter(meetings::status.eq(status.to_string()));
        }
        Some(other) => {
            return Err(Error::invalid(
                "status",
                format!(
                    "status must be one of {}, not {other:?}",
                    FILTER_STATUSES.join(", ")
                ),
            ))
        }
    }
    if let Some(pupil_id) = filter.pupil_id {
        query = query.filter(meetings::pupil_id.eq(pupil_id));
    }
    if filter.open {
        query = query.filter(meetings::status.eq_any(["due", "scheduled"]));
    }
    // Narrows the query to the meetings the member might run; `may_run` (the one rule)
    // decides each below.
    if !member.has_role(Role::Slt) {
        let led = Led::of(member).joined_condition();
        query = match (member.has_role(Role::Sendco), member.leads_anyone()) {
            (true, false) => query.filter(meetings::level.ge(Level::Plan.number())),
            (true, true) => query.filter(meetings::level.ge(Level::Plan.number()).or(led)),
            (false, true) => query.filter(led),
            (false, false) => return Ok((Vec::new(), 0, None)),
        };
    }
    let rows: Vec<(MeetingRow, PupilRow, i16)> = query.load(conn)?;
    let read = i64::try_from(rows.len()).unwrap_or(i64::MAX);
    let last = rows.last().map(|(m, _, _)| (m.due_on, m.id));
    let views = rows
        .into_iter()
        .map(|(meeting, pupil, year)| MeetingView {
            meeting,
            pupil,
            year,
        })
        .filter(|view| may_run(member, view.place(), view.meeting.level))
        .filter(|view| filter.status.as_deref() != Some("overdue") || view.is_overdue(today))
        .collect();
    Ok((views, read, last))
}

/// The staff ids invited to a meeting.
pub fn participants(conn: &mut DbConnection, meeting_id: i64) -> Result<Vec<i64>> {
    Ok(meeting_participants::table
        .filter(meeting_participants::meeting_id.eq(meeting_id))
        .order(meeting_participants::staff_id)
        .select(meeting_participants::staff_id)
        .load(conn)?)
}

/// The guests (without a staff account) invited to a meeting.
pub fn guests(conn: &mut DbConnection, meeting_id: i64) -> Result<Vec<MeetingGuestRow>> {
    Ok(meeting_guests::table
        .filter(meeting_guests::meeting_id.eq(meeting_id))
        .order(meeting_guests::id)
        .select(MeetingGuestRow::as_select())
        .load(conn)?)
}

/// Meetings listed at a time in one `IN (...)` query: well under SQLite's limit of bound values.
const ID_CHUNK: usize = 5_000;

/// The staff invited to each of many meetings, by meeting id: two queries for a whole list
/// instead of two per meeting.
pub fn participants_of(
    conn: &mut DbConnection,
    meeting_ids: &[i64],
) -> Result<HashMap<i64, Vec<i64>>> {
    let mut by_meeting: HashMap<i64, Vec<i64>> = HashMap::new();
    for chunk in meeting_ids.chunks(ID_CHUNK) {
        let rows: Vec<(i64, i64)> = meeting_participants::table
            .filter(meeting_participants::meeting_id.eq_any(chunk))
            .order((
                meeting_participants::meeting_id,
                meeting_participants::staff_id,
            ))
            .select((
                meeting_participants::meeting_id,
                meeting_participants::staff_id,
            ))
            .load(conn)?;
        for (meeting_id, staff_id) in rows {
            by_meeting.entry(meeting_id).or_default().push(staff_id);
        }
    }
    Ok(by_meeting)
}

/// The guests invited to each of many meetings, by meeting id.
pub fn guests_of(
    conn: &mut DbConnection,
    meeting_ids: &[i64],
) -> Result<HashMap<i64, Vec<MeetingGuestRow>>> {
    let mut by_meeting: HashMap<i64, Vec<MeetingGuestRow>> = HashMap::new();
    for chunk in meeting_ids.chunks(ID_CHUNK) {
        let rows: Vec<MeetingGuestRow> = meeting_guests::table
            .filter(meeting_guests::meeting_id.eq_any(chunk))
            .order(meeting_guests::id)
            .select(MeetingGuestRow::as_select())
            .load(conn)?;
        for row in rows {
            by_meeting.entry(row.meeting_id).or_default().push(row);
        }
    }
    Ok(by_meeting)
}

/// Who a guest is to the pupil.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GuestRole {
    ParentCarer,
    External,
    /// The pupil's social worker, at a Bespoke Provision Map meeting.
    SocialWorker,
}

impl GuestRole {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            GuestRole::ParentCarer => "parent_carer",
            GuestRole::External => "external",
            GuestRole::SocialWorker => "social_worker",
        }
    }

    /// Reads a stored or submitted name.
    pub fn parse(raw: &str) -> Result<Self> {
        match raw.trim() {
            "parent_carer" => Ok(GuestRole::ParentCarer),
            "external" => Ok(GuestRole::External),
            "social_worker" => Ok(GuestRole::SocialWorker),
            other => Err(Error::invalid(
                "guests",
                format!("a guest is a parent_carer, external or social_worker, not {other:?}"),
            )),
        }
    }

    /// How the pages name it.
    pub fn title(self) -> &'static str {
        match self {
            GuestRole::ParentCarer => "Parent or carer",
            GuestRole::External => "External professional",
            GuestRole::SocialWorker => "Social worker",
        }
    }
}

/// A guest as submitted.
#[derive(Debug, Clone)]
pub struct NewGuest {
    pub name: String,
    pub email: Option<String>,
    pub role: GuestRole,
}

/// A booking as submitted: when, how long, where and who.
#[derive(Debug, Clone)]
pub struct Booking {
    pub starts_at: DateTime<Utc>,
    pub duration_minutes: i32,
    pub location: String,
    pub participant_ids: Vec<i64>,
    pub parent_invited: bool,
    pub guests: Vec<NewGuest>,
}

/// A checked guest.
struct Guest {
    name: PersonName,
    email: Option<EmailAddress>,
    role: GuestRole,
}

fn check_booking(
    conn: &mut DbConnection,
    school_id: i64,
    booking: &Booking,
    now: DateTime<Utc>,
) -> Result<(String, Vec<i64>, Vec<Guest>)> {
    if booking.starts_at < now - TimeDelta::minutes(5) {
        return Err(Error::invalid(
            "starts_at",
            "starts_at is in the past: a meeting is booked ahead (record a held one instead)",
        ));
    }
    if booking.starts_at > now + TimeDelta::days(366) {
        return Err(Error::invalid(
            "starts_at",
            "starts_at is more than a year ahead",
        ));
    }
    if !(5..=MAX_DURATION_MINUTES).contains(&booking.duration_minutes) {
        return Err(Error::invalid(
            "duration_minutes",
            format!("duration_minutes must be 5 to {MAX_DURATION_MINUTES}"),
        ));
    }
    let location = optional_text("location", Some(&booking.location), 200)
        .map_err(|e| Error::invalid(e.field, format!("{}: {}", e.field, e.message)))?
        .ok_or_else(|| Error::invalid("location", "location is required: say where"))?;
    let mut ids = booking.participant_ids.clone();
    ids.sort_unstable();
    ids.dedup();
    if ids.len() + booking.guests.len() > MAX_PEOPLE {
        return Err(Error::invalid(
            "participant_ids",
            format!("at most {MAX_PEOPLE} people can be invited"),
        ));
    }
    let known: Vec<i64> = staff::table
        .filter(staff::school_id.eq(school_id))
        .filter(staff::active.eq(true))
        .filter(staff::id.eq_any(&ids))
        .select(staff::id)
        .load(conn)?;
    if let Some(unknown) = ids.iter().find(|id| !known.contains(id)) {
        return Err(Error::invalid(
            "participant_ids",
            format!("staff member {unknown} is not on this school's staff"),
        ));
    }
    let guests = booking
        .guests
        .iter()
        .enumerate()
        .map(|(i, guest)| {
            let refused = |part: &str, e: DetailError| {
                let who = guest.role.title();
                Error::invalid(
                    &format!("guests[{i}].{part}"),
                    format!("{who}'s {part}: {}", e.message),
                )
            };
            let name = PersonName::parse("name", &guest.name).map_err(|e| refused("name", e))?;
            let email = guest
                .email
                .as_deref()
                .map(str::trim)
                .filter(|e| !e.is_empty())
                .map(EmailAddress::parse)
                .transpose()
                .map_err(|e| refused("email", e))?;
            Ok(Guest {
                name,
                email,
                role: guest.role,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok((location, ids, guests))
}

/// Stores who is invited to a meeting: the staff `participant_ids` and `guests`. A person
/// invited before and still invited keeps their row (a guest's replies and links stay theirs);
/// a guest is the same person by email, or by name when neither has an email.
fn set_people(
    conn: &mut DbConnection,
    school_id: i64,
    meeting_id: i64,
    participant_ids: &[i64],
    guests: &[Guest],
) -> Result<()> {
    diesel::delete(
        meeting_participants::table
            .filter(meeting_participants::meeting_id.eq(meeting_id))
            .filter(meeting_participants::staff_id.ne_all(participant_ids.to_vec())),
    )
    .execute(conn)?;
    let kept: Vec<i64> = meeting_participants::table
        .filter(meeting_participants::meeting_id.eq(meeting_id))
        .select(meeting_participants::staff_id)
        .load(conn)?;
    for staff_id in participant_ids.iter().filter(|id| !kept.contains(id)) {
        diesel::insert_into(meeting_participants::table)
            .values((
                meeting_participants::meeting_id.eq(meeting_id),
                meeting_participants::staff_id.eq(staff_id),
                meeting_participants::school_id.eq(school_id),
            ))
            .execute(conn)?;
    }
    let before: Vec<MeetingGuestRow> = meeting_guests::table
        .filter(meeting_guests::meeting_id.eq(meeting_id))
        .order(meeting_guests::id)
        .select(MeetingGuestRow::as_select())
        .load(conn)?;
    let same_person = |row: &MeetingGuestRow, guest: &Guest| match (&row.email, &guest.email) {
        (Some(was), Some(is)) => was.eq_ignore_ascii_case(is.as_str()),
        (None, None) => row.name.eq_ignore_ascii_case(guest.name.as_str()),
        _ => false,
    };
    let mut matched = Vec::new();
    for guest in guests {
        let email = guest.email.as_ref().map(EmailAddress::as_str);
        match before
            .iter()
            .find(|row| !matched.contains(&row.id) && same_person(row, guest))
        {
            Some(row) => {
                matched.push(row.id);
                diesel::update(meeting_guests::table.find(row.id))
                    .set((
                        meeting_guests::name.eq(guest.name.as_str()),
                        meeting_guests::email.eq(email),
                        meeting_guests::role.eq(guest.role.as_str()),
                    ))
                    .execute(conn)?;
            }
            None => {
                diesel::insert_into(meeting_guests::table)
                    .values((
                        meeting_guests::meeting_id.eq(meeting_id),
                        meeting_guests::school_id.eq(school_id),
                        meeting_guests::name.eq(guest.name.as_str()),
                        meeting_guests::email.eq(email),
                        meeting_guests::role.eq(guest.role.as_str()),
                    ))
                    .execute(conn)?;
            }
        }
    }
    let gone: Vec<i64> = before
        .iter()
        .map(|row| row.id)
        .filter(|id| !matched.contains(id))
        .collect();
    diesel::delete(meeting_guests::table.filter(meeting_guests::id.eq_any(gone))).execute(conn)?;
    Ok(())
}

/// Books a due meeting, or changes a booked one: stores the time, place and people. Booking
/// invites everyone; a change (the next calendar SEQUENCE) tells those still invited exactly
/// what changed, invites those added and tells those taken off they are no longer needed.
/// Nothing changed sends nothing.
pub fn schedule(
    conn: &mut DbConnection,
    member: &StaffMember,
    context: &NoticeContext,
    meeting_id: i64,
    booking: &Booking,
    now: DateTime<Utc>,
) -> Result<MeetingRow> {
    let view = load_for(conn, member, meeting_id)?;
    let before = view.meeting;
    ensure_open(&before)?;
    let (location, participant_ids, guests) = check_booking(conn, member.school_id, booking, now)?;
    let was_booked = before.status == "scheduled";
    let invited_before = notices::taking_part(conn, meeting_id)?;
    set_people(
        conn,
        member.school_id,
        meeting_id,
        &participant_ids,
        &guests,
    )?;
    let invited_now = notices::taking_part(conn, meeting_id)?;
    let same = |a: &Recipient, b: &Recipient| a.email.eq_ignore_ascii_case(&b.email);
    let added: Vec<Recipient> = invited_now
        .iter()
        .filter(|p| !invited_before.iter().any(|b| same(b, p)))
        .cloned()
        .collect();
    let removed: Vec<Recipient> = invited_before
        .iter()
        .filter(|b| !invited_now.iter().any(|p| same(b, p)))
        .cloned()
        .collect();
    let mut booked: MeetingRow = diesel::update(meetings::table.find(meeting_id))
        .set((
            meetings::status.eq("scheduled"),
            meetings::starts_at.eq(Some(to_db_time(booking.starts_at))),
            meetings::duration_minutes.eq(Some(booking.duration_minutes)),
            meetings::location.eq(Some(location)),
            meetings::parent_invited.eq(booking.parent_invited),
        ))
        .returning(meetings::all_columns)
        .get_result(conn)?;
    let changes = notices::Changes {
        was: notices::slot_changed(&before, &booked).filter(|_| was_booked),
        added: added.iter().map(|p| p.name.clone()).collect(),
        removed: removed.iter().map(|p| p.name.clone()).collect(),
    };
    if !was_booked {
        notices::invitations(conn, context, &booked, &invited_now, now)?;
    } else if !changes.is_empty() {
        let time_moved = before.starts_at != booked.starts_at
            || before.duration_minutes != booked.duration_minutes;
        if time_moved {
            super::family::ask_again(conn, meeting_id)?;
        }
        // A change: the next calendar SEQUENCE; those still invited hear exactly what
        // changed, those added are invited, those taken off are told they are no longer
        // needed while the meeting goes on for the rest.
        booked = diesel::update(meetings::table.find(meeting_id))
            .set(meetings::sequence.eq(before.sequence + 1))
            .returning(meetings::all_columns)
            .get_result(conn)?;
        let kept: Vec<Recipient> = invited_now
            .iter()
            .filter(|p| !added.iter().any(|a| same(a, p)))
            .cloned()
            .collect();
        notices::updates(conn, context, &booked, &changes, &kept, now)?;
        notices::invitations(conn, context, &booked, &added, now)?;
        if !removed.is_empty() {
            let mut was = before.clone();
            was.sequence = booked.sequence;
            notices::no_longer_needed(conn, context, &was, &removed, now)?;
        }
    }
    let sequence = booked.sequence;
    audit::record(
        conn,
        AuditEntry {
            school_id: member.school_id,
            actor_id: Some(member.id),
            action: if was_booked {
                "meeting.reschedule"
            } else {
                "meeting.schedule"
            },
            entity: "meeting",
            entity_id: Some(meeting_id),
            detail: format!(
                "{} staff and {} guest(s) invited, sequence {sequence}",
                participant_ids.len(),
                guests.len()
            ),
            at: to_db_time(now),
        },
    )?;
    Ok(booked)
}

/// Cancels a due or booked meeting with a reason; everyone invited gets the cancellation
/// and their calendar drops the entry.
pub fn cancel(
    conn: &mut DbConnection,
    member: &StaffMember,
    context: &NoticeContext,
    meeting_id: i64,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<MeetingRow> {
    let view = load_for(conn, member, meeting_id)?;
    let before = view.meeting;
    ensure_open(&before)?;
    let reason = checked_reason("reason", reason)?;
    let cancelled = cancel_with_notices(conn, context, &before, &reason, now)?;
    audit::record(
        conn,
        AuditEntry {
            school_id: member.school_id,
            actor_id: Some(member.id),
            action: "meeting.cancel",
            entity: "meeting",
            entity_id: Some(meeting_id),
            detail: format!("was {}", before.status),
            at: to_db_time(now),
        },
    )?;
    Ok(cancelled)
}

/// Marks an open meeting cancelled (the next calendar SEQUENCE) and, when it was booked,
/// queues the cancellation with the calendar's CANCEL to everyone invited. The caller has
/// checked who may do it and why.
pub(crate) fn cancel_with_notices(
    conn: &mut DbConnection,
    context: &NoticeContext,
    meeting: &MeetingRow,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<MeetingRow> {
    let cancelled: MeetingRow = diesel::update(meetings::table.find(meeting.id))
        .set((
            meetings::status.eq("cancelled"),
            meetings::cancel_reason.eq(Some(reason)),
            meetings::sequence.eq(meeting.sequence + 1),
        ))
        .returning(meetings::all_columns)
        .get_result(conn)?;
    if meeting.status == "scheduled" {
        let people = notices::taking_part(conn, meeting.id)?;
        notices::cancellations(conn, context, &cancelled, &people, reason, now)?;
    }
    Ok(cancelled)
}

/// Records that a booked or due meeting did not take place. The pupil still needs it, so a
/// new meeting of the same kind is made due (its due date in school days from the policy)
/// and announced like the first.
pub fn record_missed(
    conn: &mut DbConnection,
    member: &StaffMember,
    context: &NoticeContext,
    meeting_id: i64,
    rules: &SchoolRules,
    now: DateTime<Utc>,
) -> Result<(MeetingRow, MeetingRow)> {
    let view = load_for(conn, member, meeting_id)?;
    let before = view.meeting;
    ensure_open(&before)?;
    crate::domain::meeting::may_record_missed(before.starts_at.map(from_db_time), now).map_err(
        |why| Error::Conflict {
            message: format!("missed: {why}"),
            field: Some("missed".into()),
        },
    )?;
    let missed: MeetingRow = diesel::update(meetings::table.find(meeting_id))
        .set(meetings::status.eq("missed"))
        .returning(meetings::all_columns)
        .get_result(conn)?;
    let level =
        Level::from_number(i64::from(before.level)).map_err(|e| Error::Internal(e.to_string()))?;
    let today = crate::domain::calendar::SchoolCalendar::local_date(now);
    let due = rules
        .policy
        .meeting_due(today, level)
        .unwrap_or(SchoolDayCount::new(today, 3));
    let again =
        super::decisions::create_meeting(conn, &view.pupil, level, due, &rules.calendar, now)?;
    notices::meeting_due(conn, context, &again, now)?;
    audit::record(
        conn,
        AuditEntry {
            school_id: member.school_id,
            actor_id: Some(member.id),
            action: "meeting.missed",
            entity: "meeting",
            entity_id: Some(meeting_id),
            detail: format!("meeting {} made due again", again.id),
            at: to_db_time(now),
        },
    )?;
    Ok((missed, again))
}

/// What a held meeting recorded: a short summary, whether the goals under review were met,
/// and the six parts of a coaching conversation.
#[derive(Debug, Clone, Default)]
pub struct Outcome<'a> {
    pub held_at: DateTime<Utc>,
    pub summary: &'a str,
    /// Whether the goals under review were met; `None` where the meeting reviews no goals.
    pub goals_met: Option<bool>,
    /// Follow-up on the steps agreed last time.
    pub follow_up: Option<&'a str>,
    /// Successes, and what they changed.
    pub successes: Option<&'a str>,
    /// Challenges, and the steps already taken.
    pub challenges: Option<&'a str>,
    /// The one focus agreed.
    pub focus: Option<&'a str>,
    /// Action steps, each with who and by when.
    pub action_steps: Option<&'a str>,
    /// The next step, and a reflection.
    pub next_step: Option<&'a str>,
    /// For the review meeting of a running Coaching Programme block: what the review decided
    /// (`goals_met`, `next_block` or `provision_map`). Left out, it follows from `goals_met`:
    /// met steps down, not met starts the next block (a Bespoke Provision Map after the 6-week
    /// block).
    pub decision: Option<&'a str>,
    /// For a block review: why moving on is right despite low fidelity, or why a Bespoke
    /// Provision Map comes early.
    pub reason: Option<&'a str>,
}

fn record_part(field: &'static str, raw: Option<&str>) -> Result<Option<String>> {
    optional_text(field, raw, MAX_RECORD_CHARS)
        .map_err(|e| Error::invalid(e.field, format!("{}: {}", e.field, e.message)))
}

/// Records that a meeting was held, and evaluates the pupil's rules at once (a held Coaching
/// Plan meeting suggests the programme; a review decides the next step). A held Bespoke
/// Provision Map team meeting makes the planning session with the pupil due. Audited without
/// the record's text.
pub fn record_outcome(
    conn: &mut DbConnection,
    member: &StaffMember,
    context: &NoticeContext,
    meeting_id: i64,
    outcome: &Outcome<'_>,
    rules: &SchoolRules,
    now: DateTime<Utc>,
) -> Result<(MeetingRow, Vec<SuggestionRow>)> {
    let view = load_for(conn, member, meeting_id)?;
    let meeting = view.meeting;
    ensure_open(&meeting)?;
    if outcome.held_at > now + TimeDelta::minutes(5) {
        return Err(Error::invalid(
            "held_at",
            "a meeting cannot be held in the future",
        ));
    }
    let summary = checked_reason("summary", outcome.summary)?;
    if meeting.level == Level::Programme.number() {
        let today = crate::domain::calendar::SchoolCalendar::local_date(now);
        if let Some(block) = super::programmes::running_block(conn, meeting.pupil_id, today)? {
            return review_in_meeting(conn, member, context, &meeting, &block, outcome, rules, now);
        }
    }
    let held: MeetingRow = diesel::update(meetings::table.find(meeting.id))
        .set((
            meetings::status.eq("held"),
            meetings::held_at.eq(Some(to_db_time(outcome.held_at.min(now)))),
            meetings::summary.eq(Some(summary)),
            meetings::goals_met.eq(outcome.goals_met),
            meetings::follow_up.eq(record_part("follow_up", outcome.follow_up)?),
            meetings::successes.eq(record_part("successes", outcome.successes)?),
            meetings::challenges.eq(record_part("challenges", outcome.challenges)?),
            meetings::focus.eq(record_part("focus", outcome.focus)?),
            meetings::action_steps.eq(record_part("action_steps", outcome.action_steps)?),
            meetings::next_step.eq(record_part("next_step", outcome.next_step)?),
        ))
        .returning(meetings::all_columns)
        .get_result(conn)?;
    audit::record(
        conn,
        AuditEntry {
            school_id: member.school_id,
            actor_id: Some(member.id),
            action: "meeting.held",
            entity: "meeting",
            entity_id: Some(meeting.id),
            detail: format!(
                "pupil {} level {} goals met: {:?}",
                meeting.pupil_id, meeting.level, outcome.goals_met
            ),
            at: to_db_time(now),
        },
    )?;
    let today = crate::domain::calendar::SchoolCalendar::local_date(now);
    let planning_due = SchoolDayCount::new(today, PLANNING_SESSION_SCHOOL_DAYS);
    if let Some(planning) = super::provision::plan_after_team_meeting(
        conn,
        &held,
        &view.pupil,
        planning_due,
        &rules.calendar,
        now,
    )? {
        notices::meeting_due(conn, context, &planning, now)?;
    }
    let suggested = evaluation::suggest_for_pupil(conn, &view.pupil, rules, now)?;
    Ok((held, suggested))
}

/// Records the review meeting of a running programme block as the block review itself,
/// through [`super::programmes::review_block`] (as the programme page records it): the
/// block's fidelity is fixed, the decision is carried out, and the meeting keeps the record's
/// six parts as well.
#[allow(clippy::too_many_arguments)]
fn review_in_meeting(
    conn: &mut DbConnection,
    member: &StaffMember,
    context: &NoticeContext,
    meeting: &MeetingRow,
    block: &super::programmes::BlockView,
    outcome: &Outcome<'_>,
    rules: &SchoolRules,
    now: DateTime<Utc>,
) -> Result<(MeetingRow, Vec<SuggestionRow>)> {
    use crate::domain::programme::ReviewDecision;
    let decision = match (outcome.decision, outcome.goals_met) {
        (Some(decision), goals_met) => {
            let parsed = ReviewDecision::parse(decision)
                .map_err(|e| Error::invalid(e.field(), e.to_string()))?;
            if goals_met.is_some_and(|met| met != (parsed == ReviewDecision::GoalsMet)) {
                return Err(Error::invalid(
                    "goals_met",
                    "goals_met does not agree with the decision: goals are met only when the decision is goals_met",
                ));
            }
            parsed
        }
        (None, Some(true)) => ReviewDecision::GoalsMet,
        (None, Some(false)) if block.programme_block()?.is_last() => ReviewDecision::ProvisionMap,
        (None, Some(false)) => ReviewDecision::NextBlock,
        (None, None) => {
            return Err(Error::invalid(
                "decision",
                "this meeting reviews the running programme block: say whether its goals were met (goals_met) or what the review decided (decision: goals_met, next_block or provision_map)",
            ))
        }
    };
    // The parts of the record are checked before anything is written.
    let parts = [
        record_part("follow_up", outcome.follow_up)?,
        record_part("successes", outcome.successes)?,
        record_part("challenges", outcome.challenges)?,
        record_part("focus", outcome.focus)?,
        record_part("action_steps", outcome.action_steps)?,
        record_part("next_step", outcome.next_step)?,
    ];
    let input = super::programmes::ReviewInput {
        decision: decision.as_str(),
        reason: outcome.reason,
        summary: outcome.summary,
        held_at: outcome.held_at,
    };
    super::programmes::review_block(conn, member, context, block.block.id, &input, rules, now)?;
    let [follow_up, successes, challenges, focus, action_steps, next_step] = parts;
    let held: MeetingRow = diesel::update(meetings::table.find(meeting.id))
        .set((
            meetings::follow_up.eq(follow_up),
            meetings::successes.eq(successes),
            meetings::challenges.eq(challenges),
            meetings::focus.eq(focus),
            meetings::action_steps.eq(action_steps),
            meetings::next_step.eq(next_step),
        ))
        .returning(meetings::all_columns)
        .get_result(conn)?;
    Ok((held, Vec::new()))
}

/// How close each active member of the pupil's school is to them, for suggesting who takes
/// part in a meeting: whether they lead the pupil's year or house, tutor their form, are the
/// SENDCO, and how many incidents about the pupil they logged (voided ones not counted).
pub fn closeness(
    conn: &mut DbConnection,
    view: &MeetingView,
    staff: &[StaffMember],
) -> Result<Vec<crate::domain::meeting::Closeness>> {
    use super::schema::{forms, incident_pupils, incidents};
    let tutor: Option<i64> = forms::table
        .find(view.pupil.form_id)
        .select(forms::tutor_id)
        .first::<Option<i64>>(conn)
        .optional()?
        .flatten();
    let logged: HashMap<i64, i64> = incident_pupils::table
        .inner_join(incidents::table)
        .filter(incident_pupils::pupil_id.eq(view.pupil.id))
        .filter(incidents::voided_at.is_null())
        .group_by(incidents::reported_by)
        .select((incidents::reported_by, diesel::dsl::count_star()))
        .load::<(i64, i64)>(conn)?
        .into_iter()
        .collect();
    Ok(staff
        .iter()
        .map(|member| crate::domain::meeting::Closeness {
            staff_id: member.id,
            leads_pupil: member.leads(view.place()),
            tutors_pupil: tutor == Some(member.id),
            is_sendco: member.has_role(Role::Sendco),
            logged: logged
                .get(&member.id)
                .map_or(0, |n| u32::try_from(*n).unwrap_or(u32::MAX)),
        })
        .collect())
}
