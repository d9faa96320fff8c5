//! The emails a meeting causes, queued in the outbox in the caller's transaction: *due* to
//! the pupil's Head of Year and Head of House (and from level 4 the SENDCO), invitations, updates and
//! cancellations with their calendar entries to everyone taking part, and the time-driven
//! reminders and overdue notices. Each has a stable message key, so queueing it again (a
//! job run twice, two instances at once) never makes a second email.

use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;

use super::models::{MeetingGuestRow, MeetingRow, PupilRow};
use super::outbox::{self, Recipient};
use super::pastoral;
use super::schema::{
    meeting_guests, meeting_participants, meetings, pupils, staff, staff_roles, year_groups,
};
use super::{from_db_time, DbConnection};
use crate::config::Settings;
use crate::domain::calendar::SchoolCalendar;
use crate::domain::{Level, MeetingState, ProgrammeBlock, Role};
use crate::error::{Error, Result};
use crate::mail::content::{self, MeetingKind, MeetingSlot, PupilLabel};
use crate::mail::{ics, OutgoingEmail};

/// What emails need from the settings: where links point, and who sends invitations.
#[derive(Debug, Clone)]
pub struct NoticeContext {
    pub public_url: String,
    pub mail_from: String,
}

impl NoticeContext {
    /// The context of a running instance.
    pub fn from_settings(settings: &Settings) -> Self {
        NoticeContext {
            public_url: settings.public_url.clone(),
            mail_from: settings.mail_from.clone(),
        }
    }
}

/// A meeting with what its emails say about the pupil.
struct MeetingStory {
    meeting: MeetingRow,
    pupil: PupilRow,
    label: PupilLabel,
    kind: MeetingKind,
}

fn story(conn: &mut DbConnection, meeting: &MeetingRow) -> Result<MeetingStory> {
    let (pupil, year): (PupilRow, i16) = pupils::table
        .inner_join(year_groups::table)
        .filter(pupils::id.eq(meeting.pupil_id))
        .select((PupilRow::as_select(), year_groups::year))
        .get_result(conn)?;
    let level =
        Level::from_number(i64::from(meeting.level)).map_err(|e| Error::Internal(e.to_string()))?;
    let kind = match level {
        Level::Programme => MeetingKind::BlockReview(
            pupil
                .programme_block
                .and_then(|weeks| ProgrammeBlock::from_weeks(i64::from(weeks)).ok())
                .unwrap_or(ProgrammeBlock::TwoWeek),
        ),
        Level::Provision if meeting.purpose == "planning" => MeetingKind::PlanningSession,
        other => MeetingKind::Level(other),
    };
    Ok(MeetingStory {
        label: PupilLabel::new(&pupil.given_name, &pupil.family_name, year),
        meeting: meeting.clone(),
        pupil,
        kind,
    })
}

/// Active staff of the school holding `role`.
fn with_role(conn: &mut DbConnection, school_id: i64, role: Role) -> Result<Vec<Recipient>> {
    let rows: Vec<(i64, String, String)> = staff::table
        .inner_join(staff_roles::table)
        .filter(staff::school_id.eq(school_id))
        .filter(staff::active.eq(true))
        .filter(staff_roles::role.eq(role.as_str()))
        .order(staff::id)
        .select((staff::id, staff::name, staff::email))
        .load(conn)?;
    Ok(rows.into_iter().map(staff_recipient).collect())
}

fn staff_recipient((id, name, email): (i64, String, String)) -> Recipient {
    Recipient {
        staff_id: Some(id),
        name,
        email,
    }
}

/// The pupil's pastoral leads: the Heads of their year group and of their house
/// ([`pastoral::leads_of`]). A pupil nobody leads falls to SLT, so that no meeting goes
/// unannounced.
fn heads_of_year(conn: &mut DbConnection, pupil: &PupilRow) -> Result<Vec<Recipient>> {
    let rows = pastoral::leads_of(conn, pupil)?;
    if rows.is_empty() {
        return with_role(conn, pupil.school_id, Role::Slt);
    }
    Ok(rows.into_iter().map(staff_recipient).collect())
}

/// The staff a meeting of `level` needs, by role, as its first participants: the pupil's Head
/// of Year; for Coaching Time the adult at the scene (who logged the pupil's latest incident);
/// from level 4 the SENDCO; for a Bespoke Provision Map SLT too. Parents, carers and external
/// professionals are added by name when the meeting is booked.
pub fn participants_needed(
    conn: &mut DbConnection,
    pupil: &PupilRow,
    level: Level,
) -> Result<Vec<i64>> {
    use super::schema::{incident_pupils, incidents};
    let mut people = heads_of_year(conn, pupil)?;
    if level == Level::Time {
        let at_the_scene: Option<(i64, String, String)> = incidents::table
            .inner_join(incident_pupils::table)
            .inner_join(staff::table.on(staff::id.eq(incidents::reported_by)))
            .filter(incident_pupils::pupil_id.eq(pupil.id))
            .filter(incidents::voided_at.is_null())
            .filter(staff::active.eq(true))
            .order(incident_pupils::occurred_at.desc())
            .select((staff::id, staff::name, staff::email))
            .first(conn)
            .optional()?;
        people.extend(at_the_scene.map(staff_recipient));
    }
    if level >= Level::Plan {
        people.extend(with_role(conn, pupil.school_id, Role::Sendco)?);
    }
    if level == Level::Provision {
        people.extend(with_role(conn, pupil.school_id, Role::Slt)?);
    }
    Ok(distinct(people)
        .into_iter()
        .filter_map(|p| p.staff_id)
        .collect())
}

/// Who answers for a meeting: the Head of Year, and from level 4 the SENDCO too.
fn responsible(conn: &mut DbConnection, story: &MeetingStory) -> Result<Vec<Recipient>> {
    let mut people = heads_of_year(conn, &story.pupil)?;
    if story.meeting.level >= Level::Plan.number() {
        people.extend(with_role(conn, story.pupil.school_id, Role::Sendco)?);
    }
    Ok(distinct(people))
}

/// The people one step above those responsible: the SENDCO for levels 1-3, SLT from 4.
fn one_step_up(conn: &mut DbConnection, story: &MeetingStory) -> Result<Vec<Recipient>> {
    let role = if story.meeting.level >= Level::Plan.number() {
        Role::Slt
    } else {
        Role::Sendco
    };
    with_role(conn, story.pupil.school_id, role)
}

/// Everyone taking part who has an email address: invited staff, then guests.
pub fn taking_part(conn: &mut DbConnection, meeting_id: i64) -> Result<Vec<Recipient>> {
    let staff_rows: Vec<(i64, String, String)> = staff::table
        .inner_join(meeting_participants::table)
        .filter(meeting_participants::meeting_id.eq(meeting_id))
        .order(staff::id)
        .select((staff::id, staff::name, staff::email))
        .load(conn)?;
    let guests: Vec<MeetingGuestRow> = meeting_guests::table
        .filter(meeting_guests::meeting_id.eq(meeting_id))
        .order(meeting_guests::id)
        .select(MeetingGuestRow::as_select())
        .load(conn)?;
    let mut people: Vec<Recipient> = staff_rows.into_iter().map(staff_recipient).collect();
    people.extend(guests.into_iter().filter_map(|guest| {
        Some(Recipient {
            staff_id: None,
            name: guest.name,
            email: guest.email?,
        })
    }));
    Ok(distinct(people))
}

/// Drops repeated addresses, keeping the first.
fn distinct(people: Vec<Recipient>) -> Vec<Recipient> {
    let mut seen = std::collections::HashSet::new();
    people
        .into_iter()
        .filter(|p| seen.insert(p.email.to_lowercase()))
        .collect()
}

fn queue(
    conn: &mut DbConnection,
    story: &MeetingStory,
    to: &Recipient,
    email: OutgoingEmail,
    topic: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    outbox::enqueue(conn, story.pupil.school_id, to, &email, topic, now)
}

/// Queues the *meeting due* email for a meeting just created as due.
pub fn meeting_due(
    conn: &mut DbConnection,
    context: &NoticeContext,
    meeting: &MeetingRow,
    now: DateTime<Utc>,
) -> Result<()> {
    let story = story(conn, meeting)?;
    let topic = format!("{} due", story.kind.name());
    for person in responsible(conn, &story)? {
        let email = content::meeting_due(&content::MeetingDue {
            recipient_name: person.name.clone(),
            pupil: story.label.clone(),
            kind: story.kind,
            due_on: meeting.due_on,
            meeting_url: content::meeting_url(&context.public_url, meeting.id),
        })
        .into_email(
            person.email.clone(),
            format!("meeting-{}-due-{}", meeting.id, person.email),
            None,
        );
        queue(conn, &story, &person, email, &topic, now)?;
    }
    Ok(())
}

/// When and where a booked meeting is.
fn slot(meeting: &MeetingRow) -> Option<MeetingSlot> {
    Some(MeetingSlot {
        starts_at: from_db_time(meeting.starts_at?),
        duration_minutes: u32::try_from(meeting.duration_minutes?).ok()?,
        location: meeting.location.clone().unwrap_or_default(),
    })
}

/// The calendar entry for a booked meeting, for everyone taking part.
fn calendar_entry(
    context: &NoticeContext,
    story: &MeetingStory,
    people: &[Recipient],
    method: ics::Method,
    now: DateTime<Utc>,
) -> Result<Option<String>> {
    let Some(slot) = slot(&story.meeting) else {
        return Ok(None);
    };
    let organizer_email = context
        .mail_from
        .parse::<lettre::Address>()
        .map_err(|e| Error::Internal(format!("mail_from is not an address: {e}")))?;
    let attendees = people
        .iter()
        .filter_map(|p| {
            Some(ics::Person {
                name: p.name.clone(),
                email: p.email.parse().ok()?,
            })
        })
        .collect();
    Ok(Some(ics::render(&ics::MeetingEvent {
        meeting_id: story.meeting.id,
        host: ics::uid_host(&context.public_url),
        method,
        sequence: u32::try_from(story.meeting.sequence).unwrap_or(0),
        stamp: now,
        starts_at: slot.starts_at,
        duration_minutes: slot.duration_minutes,
        summary: content::event_summary(story.kind, &story.label),
        location: slot.location,
        description: content::meeting_url(&context.public_url, story.meeting.id),
        organizer: ics::Person {
            name: "Steadfast".into(),
            email: organizer_email,
        },
        attendees,
    })))
}

/// Queues invitations (or, when `previous_start` is given, updates) with the calendar entry
/// for a meeting just booked or moved, to everyone taking part.
pub fn invitations(
    conn: &mut DbConnection,
    context: &NoticeContext,
    meeting: &MeetingRow,
    previous_start: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<()> {
    let story = story(conn, meeting)?;
    let Some(booked) = slot(meeting) else {
        return Ok(());
    };
    let people = taking_part(conn, meeting.id)?;
    let calendar = calendar_entry(context, &story, &people, ics::Method::Request, now)?;
    let topic = format!("{} invitation", story.kind.name());
    for person in &people {
        let scheduled = content::ScheduledMeeting {
            recipient_name: person.name.clone(),
            pupil: story.label.clone(),
            kind: story.kind,
            slot: booked.clone(),
            meeting_url: content::meeting_url(&context.public_url, meeting.id),
        };
        let text = match previous_start {
            None => content::invitation(&scheduled),
            Some(previous_start) => content::update(&content::MeetingMoved {
                meeting: scheduled,
                previous_start,
            }),
        };
        let email = text.into_email(
            person.email.clone(),
            format!(
                "meeting-{}-invite-{}-{}",
                meeting.id, meeting.sequence, person.email
            ),
            calendar.clone(),
        );
        queue(conn, &story, person, email, &topic, now)?;
    }
    Ok(())
}

/// Queues the cancellation, with the calendar's CANCEL, to `people`: everyone invited when a
/// meeting is cancelled, or those no longer invited when it is moved. `meeting` is the booking
/// they had, with the new SEQUENCE.
pub fn cancellations(
    conn: &mut DbConnection,
    context: &NoticeContext,
    meeting: &MeetingRow,
    people: &[Recipient],
    reason: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    let story = story(conn, meeting)?;
    let Some(booked) = slot(meeting) else {
        return Ok(());
    };
    let calendar = calendar_entry(context, &story, people, ics::Method::Cancel, now)?;
    let topic = format!("{} cancelled", story.kind.name());
    for person in people {
        let email = content::cancellation(&content::MeetingCancelled {
            meeting: content::ScheduledMeeting {
                recipient_name: person.name.clone(),
                pupil: story.label.clone(),
                kind: story.kind,
                slot: booked.clone(),
                meeting_url: content::meeting_url(&context.public_url, meeting.id),
            },
            reason: reason.to_string(),
        })
        .into_email(
            person.email.clone(),
            format!(
                "meeting-{}-cancel-{}-{}",
                meeting.id, meeting.sequence, person.email
            ),
            calendar.clone(),
        );
        queue(conn, &story, person, email, &topic, now)?;
    }
    Ok(())
}

/// What the time-driven notices of one run queued.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FollowUps {
    pub reminders: usize,
    pub overdue: usize,
}

/// The day a meeting is aimed at: the day it is booked for, or else its due day.
fn target_day(meeting: &MeetingRow) -> NaiveDate {
    meeting
        .starts_at
        .map(|starts| SchoolCalendar::local_date(from_db_time(starts)))
        .unwrap_or(meeting.due_on)
}

/// Queues, for one school as of `at`, the reminder one school day before each open meeting
/// and the overdue notice once its due day has passed without it being held. Both go out on
/// school days only, so an overdue notice for a Friday comes on the Monday.
pub fn follow_ups(
    conn: &mut DbConnection,
    context: &NoticeContext,
    school_id: i64,
    calendar: &SchoolCalendar,
    at: DateTime<Utc>,
) -> Result<FollowUps> {
    let today = SchoolCalendar::local_date(at);
    let mut done = FollowUps::default();
    if !calendar.is_school_day(today) {
        return Ok(done);
    }
    let open: Vec<MeetingRow> = meetings::table
        .filter(meetings::school_id.eq(school_id))
        .filter(meetings::status.eq_any(["due", "scheduled"]))
        .order(meetings::id)
        .select(MeetingRow::as_select())
        .load(conn)?;
    for meeting in open {
        let target = target_day(&meeting);
        let overdue = MeetingState::of_stored(&meeting.status, meeting.due_on, today).is_overdue();
        let reminder_day = calendar.sub_school_days(target, 1);
        if !overdue && today >= reminder_day && today < target {
            done.reminders += remind(conn, context, &meeting, target, at)?;
        }
        if overdue {
            done.overdue += report_overdue(conn, context, &meeting, at)?;
        }
    }
    Ok(done)
}

fn follow_up_input(
    context: &NoticeContext,
    story: &MeetingStory,
    person: &Recipient,
    responsible_name: Option<String>,
) -> content::MeetingFollowUp {
    content::MeetingFollowUp {
        recipient_name: person.name.clone(),
        pupil: story.label.clone(),
        kind: story.kind,
        due_on: story.meeting.due_on,
        booked: slot(&story.meeting),
        responsible_name,
        meeting_url: content::meeting_url(&context.public_url, story.meeting.id),
    }
}

fn remind(
    conn: &mut DbConnection,
    context: &NoticeContext,
    meeting: &MeetingRow,
    target: NaiveDate,
    at: DateTime<Utc>,
) -> Result<usize> {
    let story = story(conn, meeting)?;
    let mut people = responsible(conn, &story)?;
    people.extend(taking_part(conn, meeting.id)?);
    let people = distinct(people);
    let topic = format!("{} reminder", story.kind.name());
    for person in &people {
        let email = content::reminder(&follow_up_input(context, &story, person, None)).into_email(
            person.email.clone(),
            format!("meeting-{}-reminder-{target}-{}", meeting.id, person.email),
            None,
        );
        queue(conn, &story, person, email, &topic, at)?;
    }
    Ok(people.len())
}

fn report_overdue(
    conn: &mut DbConnection,
    context: &NoticeContext,
    meeting: &MeetingRow,
    at: DateTime<Utc>,
) -> Result<usize> {
    let story = story(conn, meeting)?;
    let responsible = responsible(conn, &story)?;
    let lead_name = responsible.first().map(|p| p.name.clone());
    let above: Vec<Recipient> = one_step_up(conn, &story)?
        .into_iter()
        .filter(|p| !responsible.iter().any(|r| r.email == p.email))
        .collect();
    let topic = format!("{} overdue", story.kind.name());
    let mut count = 0;
    for (person, escalated) in responsible
        .iter()
        .map(|p| (p, false))
        .chain(above.iter().map(|p| (p, true)))
    {
        let input = follow_up_input(
            context,
            &story,
            person,
            escalated.then(|| lead_name.clone()).flatten(),
        );
        let email = content::overdue(&input).into_email(
            person.email.clone(),
            format!("meeting-{}-overdue-{}", meeting.id, person.email),
            None,
        );
        queue(conn, &story, person, email, &topic, at)?;
        count += 1;
    }
    Ok(count)
}

/// Collates the emails held for staff who take a daily digest into one email each, once
/// their chosen hour has come on a school day.
pub fn digests(
    conn: &mut DbConnection,
    context: &NoticeContext,
    school_id: i64,
    calendar: &SchoolCalendar,
    at: DateTime<Utc>,
) -> Result<usize> {
    use chrono::Timelike;
    let local = at.with_timezone(&crate::domain::calendar::SCHOOL_TZ);
    let today = local.date_naive();
    if !calendar.is_school_day(today) {
        return Ok(0);
    }
    let hour = i16::try_from(local.hour()).unwrap_or(0);
    let readers: Vec<(i64, String, String)> = staff::table
        .filter(staff::school_id.eq(school_id))
        .filter(staff::active.eq(true))
        .filter(staff::digest_hour.le(hour))
        .select((staff::id, staff::name, staff::email))
        .load(conn)?;
    let mut sent = 0;
    for reader in readers {
        // Another instance collating the same digest at once waits here, then finds
        // nothing left held.
        lock_staff(conn, reader.0)?;
        let held = outbox::held_for(conn, reader.0)?;
        if held.is_empty() {
            continue;
        }
        let person = staff_recipient(reader);
        let items = held
            .iter()
            .map(|row| content::DigestItem {
                text: row.topic.clone(),
                url: first_link(&row.body_text).unwrap_or_else(|| context.public_url.clone()),
            })
            .collect();
        let email = content::digest(&content::Digest {
            recipient_name: person.name.clone(),
            date: today,
            items,
        })
        .into_email(
            person.email.clone(),
            format!(
                "digest-{}-{today}-{}",
                person.staff_id.unwrap_or(0),
                held.last().map_or(0, |row| row.id)
            ),
            None,
        );
        let ids: Vec<i64> = held.iter().map(|row| row.id).collect();
        // The digest itself is never held: it goes out now.
        let digest_recipient = Recipient {
            staff_id: None,
            ..person
        };
        outbox::enqueue(
            conn,
            school_id,
            &digest_recipient,
            &email,
            "Daily digest",
            at,
        )?;
        outbox::mark_collated(conn, &ids, at)?;
        sent += 1;
    }
    Ok(sent)
}

/// Locks a staff member's row on PostgreSQL (SQLite's one writer already runs writes one by
/// one), so that one digest run at a time collates their held emails.
fn lock_staff(conn: &mut DbConnection, staff_id: i64) -> Result<()> {
    let query = staff::table.find(staff_id).select(staff::id);
    match conn {
        DbConnection::Postgres(pg) => query.for_update().first::<i64>(pg)?,
        DbConnection::Sqlite(_) => query.first::<i64>(conn)?,
    };
    Ok(())
}

/// The first web link in a plain-text body: where a digest line points.
fn first_link(text: &str) -> Option<String> {
    text.split_whitespace()
        .find(|word| word.starts_with("http://") || word.starts_with("https://"))
        .map(|word| word.trim_end_matches(['.', ',', ')']).to_string())
}

/// Queues, to the meeting's organiser and the pupil's Head of Year, the email saying how a
/// guest answered their invitation through their family link.
pub fn guest_answered(
    conn: &mut DbConnection,
    context: &NoticeContext,
    meeting: &MeetingRow,
    guest: &MeetingGuestRow,
    organiser: Option<(i64, String, String)>,
    now: DateTime<Utc>,
) -> Result<()> {
    let story = story(conn, meeting)?;
    let mut people: Vec<Recipient> = organiser.into_iter().map(staff_recipient).collect();
    people.extend(heads_of_year(conn, &story.pupil)?);
    let (Some(response), Some(at)) = (guest.response.as_deref(), guest.responded_at) else {
        return Ok(());
    };
    for person in distinct(people) {
        let email = content::guest_answered(&content::GuestAnswered {
            recipient_name: person.name.clone(),
            pupil: story.label.clone(),
            kind: story.kind,
            guest_name: guest.name.clone(),
            guest_role: guest.role.clone(),
            response: response.to_string(),
            note: guest.response_note.clone(),
            starts_at: meeting.starts_at.map(from_db_time),
            meeting_url: content::meeting_url(&context.public_url, meeting.id),
        })
        .into_email(
            person.email.clone(),
            format!(
                "meeting-{}-guest-{}-answer-{}-{}",
                meeting.id,
                guest.id,
                at.and_utc().timestamp(),
                person.email
            ),
            None,
        );
        queue(conn, &story, &person, email, "Guest's answer", now)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_lines_link_to_the_first_address_in_the_email() {
        assert_eq!(
            first_link("Please book it: http://school.example/meetings/4. Thanks").as_deref(),
            Some("http://school.example/meetings/4")
        );
        assert_eq!(first_link("no link here"), None);
    }

    #[test]
    fn repeated_addresses_are_emailed_once() {
        let person = |id: i64, email: &str| Recipient {
            staff_id: Some(id),
            name: format!("Person {id}"),
            email: email.into(),
        };
        let kept = distinct(vec![
            person(1, "a@school.example"),
            person(2, "A@School.example"),
            person(3, "b@school.example"),
        ]);
        assert_eq!(
            kept.iter().map(|p| p.staff_id).collect::<Vec<_>>(),
            vec![Some(1), Some(3)]
        );
    }
}
