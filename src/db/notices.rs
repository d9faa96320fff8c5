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
use super::provision::{self, ReviewKind};
use super::schema::{
    meeting_guests, meeting_participants, meetings, pupils, staff, staff_roles, year_groups,
};
use super::{from_db_time, DbConnection};
use crate::config::Settings;
use crate::domain::calendar::SchoolCalendar;

use crate::domain::follow_up::{self, Notice};
use crate::domain::{Level, MeetingState, Overdue, ProgrammeBlock, Role};
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
    year: i16,
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
        year,
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

/// Who answers for a meeting or review of a pupil at `level`: the Head of Year, and from
/// level 4 the SENDCO too.
fn responsible_for(
    conn: &mut DbConnection,
    pupil: &PupilRow,
    level: i16,
) -> Result<Vec<Recipient>> {
    let mut people = heads_of_year(conn, pupil)?;
    if level >= Level::Plan.number() {
        people.extend(with_role(conn, pupil.school_id, Role::Sendco)?);
    }
    Ok(distinct(people))
}

fn responsible(conn: &mut DbConnection, story: &MeetingStory) -> Result<Vec<Recipient>> {
    responsible_for(conn, &story.pupil, story.meeting.level)
}

/// Those responsible for something overdue, each with whether they are the copy one step up
/// (the SENDCO for levels 1-3, SLT from 4), who are told who was responsible.
fn told_of_overdue(
    conn: &mut DbConnection,
    pupil: &PupilRow,
    level: i16,
) -> Result<Vec<(Recipient, Option<String>)>> {
    let responsible = responsible_for(conn, pupil, level)?;
    let lead_name = responsible.first().map(|p| p.name.clone());
    let role = if level >= Level::Plan.number() {
        Role::Slt
    } else {
        Role::Sendco
    };
    let above: Vec<Recipient> = with_role(conn, pupil.school_id, role)?
        .into_iter()
        .filter(|p| !responsible.iter().any(|r| r.email == p.email))
        .collect();
    Ok(responsible
        .into_iter()
        .map(|p| (p, None))
        .chain(above.into_iter().map(|p| (p, lead_name.clone())))
        .collect())
}

/// The line naming a meeting in the outbox and in a daily digest: "Coaching Time meeting for
/// Sam T., Year 9: due by Thursday 3 December 2026".
fn topic(story: &MeetingStory, what: &str) -> String {
    format!("{} for {}: {what}", story.kind.name(), story.label)
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
    let topic = topic(
        &story,
        &format!("due by {}", content::long_date(meeting.due_on)),
    );
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

/// Who one person invited to a meeting is, for the words and the link of their emails: staff
/// who run it, staff who only attend, or a family member or outside professional.
fn audience_of(
    conn: &mut DbConnection,
    context: &NoticeContext,
    story: &MeetingStory,
    person: &Recipient,
    now: DateTime<Utc>,
) -> Result<content::Audience> {
    let Some(staff_id) = person.staff_id else {
        // A guest: their own page for the meeting, through a link of their own.
        let guest: Option<i64> = meeting_guests::table
            .filter(meeting_guests::meeting_id.eq(story.meeting.id))
            .filter(meeting_guests::email.eq(&person.email))
            .select(meeting_guests::id)
            .first(conn)
            .optional()?;
        let page = match guest {
            Some(guest_id) => super::family::meeting_link_url(
                conn,
                context,
                story.pupil.school_id,
                guest_id,
                now,
            )?,
            None => None,
        };
        return Ok(content::Audience::Family { page });
    };
    let place = super::pastoral::PastoralPlace::of(&story.pupil, story.year);
    let runs = super::staff::get_member(conn, story.pupil.school_id, staff_id)?
        .is_some_and(|member| super::meetings::may_run(&member, place, story.meeting.level));
    Ok(if runs {
        content::Audience::Runs
    } else {
        content::Audience::Attends
    })
}

/// The calendar entry for a booked meeting as one reader gets it: organised by the Head of
/// Year who runs it (replies reach a person, not the no-reply address), with everyone invited;
/// its title in plain words and its link the reader's own for a family.
fn calendar_entry(
    context: &NoticeContext,
    story: &MeetingStory,
    organizer: &Recipient,
    people: &[Recipient],
    audience: &content::Audience,
    method: ics::Method,
    now: DateTime<Utc>,
) -> Result<Option<String>> {
    let Some(slot) = slot(&story.meeting) else {
        return Ok(None);
    };
    let organizer_email = organizer
        .email
        .parse::<lettre::Address>()
        .or_else(|_| context.mail_from.parse::<lettre::Address>())
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
    let description = match audience {
        content::Audience::Runs => content::meeting_url(&context.public_url, story.meeting.id),
        content::Audience::Attends => String::new(),
        content::Audience::Family { page } => page.clone().unwrap_or_default(),
    };
    Ok(Some(ics::render(&ics::MeetingEvent {
        meeting_id: story.meeting.id,
        host: crate::mail::identity_host(&context.public_url, &context.mail_from),
        method,
        sequence: u32::try_from(story.meeting.sequence).unwrap_or(0),
        stamp: now,
        starts_at: slot.starts_at,
        duration_minutes: slot.duration_minutes,
        summary: content::event_summary(story.kind, &story.label, audience),
        location: slot.location,
        description,
        organizer: ics::Person {
            name: organizer.name.clone(),
            email: organizer_email,
        },
        attendees,
    })))
}

/// What one email about a booked meeting is: its words, its calendar method, its key's kind
/// and its line in the outbox.
struct Mailing<'a> {
    method: ics::Method,
    key_kind: &'a str,
    topic: String,
    write: &'a dyn Fn(content::ScheduledMeeting) -> content::EmailContent,
}

/// The booked meeting `booked` as one person invited to it reads it.
fn scheduled(
    context: &NoticeContext,
    story: &MeetingStory,
    person: &Recipient,
    booked: &content::MeetingSlot,
    audience: content::Audience,
) -> content::ScheduledMeeting {
    content::ScheduledMeeting {
        recipient_name: person.name.clone(),
        pupil: story.label.clone(),
        kind: story.kind,
        slot: booked.clone(),
        meeting_url: content::meeting_url(&context.public_url, story.meeting.id),
        audience,
    }
}

/// Queues one email of `mailing` to each of `people`, with the calendar entry as they should
/// see it. Everyone invited now is named in the calendar.
fn mail_each(
    conn: &mut DbConnection,
    context: &NoticeContext,
    story: &MeetingStory,
    people: &[Recipient],
    mailing: &Mailing,
    now: DateTime<Utc>,
) -> Result<()> {
    let Some(booked) = slot(&story.meeting) else {
        return Ok(());
    };
    let invited = taking_part(conn, story.meeting.id)?;
    let organizer = match responsible(conn, story)?.into_iter().next() {
        Some(lead) => lead,
        None => Recipient {
            staff_id: None,
            name: "Steadfast".into(),
            email: context.mail_from.clone(),
        },
    };
    for person in people {
        let audience = audience_of(conn, context, story, person, now)?;
        let calendar = calendar_entry(
            context,
            story,
            &organizer,
            &invited,
            &audience,
            mailing.method,
            now,
        )?;
        let email = (mailing.write)(scheduled(context, story, person, &booked, audience))
            .into_email(
                person.email.clone(),
                format!(
                    "meeting-{}-{}-{}-{}",
                    story.meeting.id, mailing.key_kind, story.meeting.sequence, person.email
                ),
                calendar,
            );
        queue(conn, story, person, email, &mailing.topic, now)?;
    }
    Ok(())
}

/// Queues the invitation, with its calendar entry, to each of `people`: everyone when a
/// meeting is booked, those newly added when a booked one changes.
pub fn invitations(
    conn: &mut DbConnection,
    context: &NoticeContext,
    meeting: &MeetingRow,
    people: &[Recipient],
    now: DateTime<Utc>,
) -> Result<()> {
    let story = story(conn, meeting)?;
    let Some(booked) = slot(meeting) else {
        return Ok(());
    };
    let mailing = Mailing {
        method: ics::Method::Request,
        key_kind: "invite",
        topic: topic(
            &story,
            &format!("booked for {}", local_when(booked.starts_at)),
        ),
        write: &|scheduled| content::invitation(&scheduled),
    };
    mail_each(conn, context, &story, people, &mailing, now)
}

/// What changed about a booked meeting, for the update to those still invited.
#[derive(Debug, Clone, Default)]
pub struct Changes {
    /// When and where it was, when its time, length or place changed.
    pub was: Option<content::MeetingSlot>,
    /// Newly invited, by name.
    pub added: Vec<String>,
    /// No longer invited, by name.
    pub removed: Vec<String>,
}

impl Changes {
    /// Whether anything changed at all.
    pub fn is_empty(&self) -> bool {
        self.was.is_none() && self.added.is_empty() && self.removed.is_empty()
    }
}

/// The slot a meeting had, when its time, length or place differs from `now`'s.
pub fn slot_changed(before: &MeetingRow, now: &MeetingRow) -> Option<content::MeetingSlot> {
    let (was, is) = (slot(before)?, slot(now)?);
    let moved = was.starts_at != is.starts_at || was.duration_minutes != is.duration_minutes;
    (moved || was.location.trim() != is.location.trim()).then_some(was)
}

/// Queues the update saying exactly what changed (time, place, people) to `people`, those
/// invited before and still invited. A family hears of a new time or place, not of staff
/// coming and going.
pub fn updates(
    conn: &mut DbConnection,
    context: &NoticeContext,
    meeting: &MeetingRow,
    changes: &Changes,
    people: &[Recipient],
    now: DateTime<Utc>,
) -> Result<()> {
    let story = story(conn, meeting)?;
    let Some(booked) = slot(meeting) else {
        return Ok(());
    };
    let told: Vec<Recipient> = if changes.was.is_some() {
        people.to_vec()
    } else {
        people
            .iter()
            .filter(|p| p.staff_id.is_some())
            .cloned()
            .collect()
    };
    let write = |scheduled: content::ScheduledMeeting| {
        content::update(&content::MeetingChanged {
            meeting: scheduled,
            was: changes.was.clone(),
            added: changes.added.clone(),
            removed: changes.removed.clone(),
        })
    };
    let mailing = Mailing {
        method: ics::Method::Request,
        key_kind: "invite",
        topic: topic(
            &story,
            &format!("changed, now {}", local_when(booked.starts_at)),
        ),
        write: &write,
    };
    mail_each(conn, context, &story, &told, &mailing, now)
}

/// Queues "you are no longer needed", with the calendar's CANCEL, to people taken off a
/// booked meeting that goes ahead for the others. `meeting` carries the new SEQUENCE.
pub fn no_longer_needed(
    conn: &mut DbConnection,
    context: &NoticeContext,
    meeting: &MeetingRow,
    people: &[Recipient],
    now: DateTime<Utc>,
) -> Result<()> {
    let story = story(conn, meeting)?;
    let mailing = Mailing {
        method: ics::Method::Cancel,
        key_kind: "cancel",
        topic: topic(&story, "no longer needed"),
        write: &|scheduled| content::no_longer_needed(&scheduled),
    };
    mail_each(conn, context, &story, people, &mailing, now)
}

/// Queues the cancellation, with the calendar's CANCEL, to `people` (everyone invited to a
/// meeting cancelled). `meeting` is the booking they had, with the new SEQUENCE. The reason
/// reaches staff only.
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
    let write = |scheduled: content::ScheduledMeeting| {
        content::cancellation(&content::MeetingCancelled {
            meeting: scheduled,
            reason: reason.to_string(),
        })
    };
    let mailing = Mailing {
        method: ics::Method::Cancel,
        key_kind: "cancel",
        topic: topic(
            &story,
            &format!("cancelled ({})", local_when(booked.starts_at)),
        ),
        write: &write,
    };
    mail_each(conn, context, &story, people, &mailing, now)
}

/// What the time-driven notices of one run queued.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FollowUps {
    /// Reminders, and notices that a review date is coming.
    pub reminders: usize,
    /// Overdue notices, one summary counting once.
    pub overdue: usize,
}

/// When a meeting starts, in London time, for a line of the outbox.
fn local_when(at: DateTime<Utc>) -> String {
    at.with_timezone(&crate::domain::SCHOOL_TZ)
        .format("%a %-d %b %Y, %H:%M")
        .to_string()
}

/// Notes that the follow-up runs for the school from `today`: whether this is its first run
/// (old overdue things are then summarised, not emailed one by one).
fn begin_follow_ups(conn: &mut DbConnection, school_id: i64, today: NaiveDate) -> Result<bool> {
    use super::schema::schools;
    let since: Option<NaiveDate> = schools::table
        .find(school_id)
        .select(schools::follow_ups_since)
        .first(conn)?;
    if since.is_some() {
        return Ok(false);
    }
    diesel::update(schools::table.find(school_id))
        .set(schools::follow_ups_since.eq(Some(today)))
        .execute(conn)?;
    Ok(true)
}

/// The lines of each person's overdue summary, in the order found.
#[derive(Default)]
struct Summaries(Vec<(Recipient, content::DigestItem)>);

impl Summaries {
    fn add(&mut self, people: Vec<(Recipient, Option<String>)>, item: &content::DigestItem) {
        for (person, _) in people {
            self.0.push((person, item.clone()));
        }
    }

    /// Queues one summary for each person: how many were sent.
    fn send(
        self,
        conn: &mut DbConnection,
        school_id: i64,
        today: NaiveDate,
        at: DateTime<Utc>,
    ) -> Result<usize> {
        let mut people: Vec<(Recipient, Vec<content::DigestItem>)> = Vec::new();
        for (person, item) in self.0 {
            let email = person.email.to_lowercase();
            match people
                .iter_mut()
                .find(|(p, _)| p.email.to_lowercase() == email)
            {
                Some((_, items)) => items.push(item),
                None => people.push((person, vec![item])),
            }
        }
        for (person, items) in &people {
            let email = content::overdue_summary(&content::OverdueSummary {
                recipient_name: person.name.clone(),
                items: items.clone(),
            })
            .into_email(
                person.email.clone(),
                format!("overdue-summary-{school_id}-{today}-{}", person.email),
                None,
            );
            let topic = format!("{} overdue meetings and reviews", items.len());
            outbox::enqueue(conn, school_id, person, &email, &topic, at)?;
        }
        Ok(people.len())
    }
}

/// Queues, for one school as of `at`, on school days: the reminder the school day before each
/// open meeting's day (its due day, or the day it is booked for), the overdue notice once that
/// day has passed without a record, and the same for each Coaching Plan's and provision's
/// review date (with a notice a school week ahead). On the follow-up's first run, things long
/// overdue go in one summary for each person instead (see [`follow_up`]).
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
    let first_run = begin_follow_ups(conn, school_id, today)?;
    let mut summaries = Summaries::default();
    let open: Vec<MeetingRow> = meetings::table
        .filter(meetings::school_id.eq(school_id))
        .filter(meetings::status.eq_any(["due", "scheduled"]))
        .order(meetings::id)
        .select(MeetingRow::as_select())
        .load(conn)?;
    for meeting in open {
        let state = meeting.state(today);
        match (
            follow_up::for_meeting(state, calendar, today, first_run),
            state.overdue(),
        ) {
            (Some(Notice::Reminder), _) => {
                done.reminders += remind(conn, context, &meeting, state, at)?;
            }
            (Some(Notice::Overdue), Some(why)) => {
                done.overdue += report_overdue(conn, context, &meeting, why, at)?;
            }
            (Some(Notice::InSummary), Some(why)) => {
                let story = story(conn, &meeting)?;
                let people = told_of_overdue(conn, &story.pupil, meeting.level)?;
                let item = content::DigestItem {
                    text: topic(&story, &format!("overdue, {}", why.phrase())),
                    url: content::meeting_url(&context.public_url, meeting.id),
                };
                summaries.add(people, &item);
            }
            _ => {}
        }
    }
    let ahead = calendar.add_school_days(today, follow_up::REVIEW_NOTICE_SCHOOL_DAYS);
    for review in provision::reviews_due(conn, school_id, ahead)? {
        if review.kind == ReviewKind::Meeting {
            continue;
        }
        let Some(notice) = follow_up::for_review(review.due_on, calendar, today, first_run) else {
            continue;
        };
        let counted = review_notices(conn, context, &review, notice, &mut summaries, at)?;
        match notice {
            Notice::Due | Notice::Reminder => done.reminders += counted,
            Notice::Overdue | Notice::InSummary => done.overdue += counted,
        }
    }
    done.overdue += summaries.send(conn, school_id, today, at)?;
    Ok(done)
}

fn follow_up_input(
    context: &NoticeContext,
    story: &MeetingStory,
    person: &Recipient,
    responsible_name: Option<String>,
    runs_it: bool,
) -> content::MeetingFollowUp {
    content::MeetingFollowUp {
        recipient_name: person.name.clone(),
        pupil: story.label.clone(),
        kind: story.kind,
        due_on: story.meeting.due_on,
        booked: slot(&story.meeting),
        responsible_name,
        meeting_url: content::meeting_url(&context.public_url, story.meeting.id),
        runs_it,
    }
}

/// The reminder the school day before a meeting's day: for a meeting not yet booked, to those
/// who run it (to book it); for a booked one, to them and to everyone invited.
fn remind(
    conn: &mut DbConnection,
    context: &NoticeContext,
    meeting: &MeetingRow,
    state: MeetingState,
    at: DateTime<Utc>,
) -> Result<usize> {
    let story = story(conn, meeting)?;
    let runners = responsible(conn, &story)?;
    let mut people: Vec<(Recipient, bool)> = runners.iter().cloned().map(|p| (p, true)).collect();
    // Everyone invited, once booked: staff get the staff reminder, families and outside
    // professionals theirs in their own words (below).
    let (invited_staff, guests): (Vec<Recipient>, Vec<Recipient>) =
        if matches!(state, MeetingState::Booked { .. }) {
            taking_part(conn, meeting.id)?
                .into_iter()
                .partition(|person| person.staff_id.is_some())
        } else {
            (Vec::new(), Vec::new())
        };
    for person in invited_staff {
        if people
            .iter()
            .any(|(p, _)| p.email.eq_ignore_ascii_case(&person.email))
        {
            continue;
        }
        let runs_it = audience_of(conn, context, &story, &person, at)? == content::Audience::Runs;
        people.push((person, runs_it));
    }
    let target = match state {
        MeetingState::Booked { on, .. } => on,
        _ => meeting.due_on,
    };
    let topic = topic(&story, &format!("reminder, {}", state.phrase()));
    let key =
        |person: &Recipient| format!("meeting-{}-reminder-{target}-{}", meeting.id, person.email);
    for (person, runs_it) in &people {
        let email = content::reminder(&follow_up_input(context, &story, person, None, *runs_it))
            .into_email(person.email.clone(), key(person), None);
        queue(conn, &story, person, email, &topic, at)?;
    }
    let mut reminded = people.len();
    if let Some(booked) = slot(meeting) {
        // Families and outside professionals: the same reminder in their own words, with
        // their own page to say they can no longer come.
        for guest in guests {
            let audience = audience_of(conn, context, &story, &guest, at)?;
            let email =
                content::family_reminder(&scheduled(context, &story, &guest, &booked, audience))
                    .into_email(guest.email.clone(), key(&guest), None);
            queue(conn, &story, &guest, email, &topic, at)?;
            reminded += 1;
        }
    }
    Ok(reminded)
}

/// The overdue notice, to those responsible and a copy one step up, once for each time the
/// meeting falls overdue (not booked; booked and not recorded).
fn report_overdue(
    conn: &mut DbConnection,
    context: &NoticeContext,
    meeting: &MeetingRow,
    why: Overdue,
    at: DateTime<Utc>,
) -> Result<usize> {
    let story = story(conn, meeting)?;
    let people = told_of_overdue(conn, &story.pupil, meeting.level)?;
    let topic = topic(&story, &format!("overdue, {}", why.phrase()));
    let expected_on = why.expected_on();
    for (person, responsible_name) in &people {
        let input = follow_up_input(context, &story, person, responsible_name.clone(), true);
        let email = content::overdue(&input, why).into_email(
            person.email.clone(),
            format!(
                "meeting-{}-overdue-{expected_on}-{}",
                meeting.id, person.email
            ),
            None,
        );
        queue(conn, &story, person, email, &topic, at)?;
    }
    Ok(people.len())
}

/// The notice about a Coaching Plan's or provision's review date: to those responsible (and,
/// overdue, one step up), or their lines of the overdue summary. How many emails it queued.
fn review_notices(
    conn: &mut DbConnection,
    context: &NoticeContext,
    review: &provision::ReviewDue,
    notice: Notice,
    summaries: &mut Summaries,
    at: DateTime<Utc>,
) -> Result<usize> {
    let label = PupilLabel::new(
        &review.pupil.given_name,
        &review.pupil.family_name,
        review.year,
    );
    let (path, kind) = match review.kind {
        ReviewKind::Plan => ("plan", "plan"),
        _ => ("provision", "provision"),
    };
    let url = format!(
        "{}/pupils/{}/{path}",
        context.public_url.trim_end_matches('/'),
        review.pupil.id
    );
    let due = content::long_date(review.due_on);
    let line = |what: &str| format!("Review of {} for {label}: {what}", review.what);
    let people = match notice {
        Notice::Overdue | Notice::InSummary => {
            told_of_overdue(conn, &review.pupil, review.pupil.level)?
        }
        Notice::Due | Notice::Reminder => responsible_for(conn, &review.pupil, review.pupil.level)?
            .into_iter()
            .map(|p| (p, None))
            .collect(),
    };
    if notice == Notice::InSummary {
        let item = content::DigestItem {
            text: line(&format!("overdue, due by {due}")),
            url,
        };
        summaries.add(people, &item);
        return Ok(0);
    }
    let (stage, topic) = match notice {
        Notice::Due => ("due", line(&format!("due by {due}"))),
        Notice::Reminder => ("reminder", line(&format!("reminder, due by {due}"))),
        _ => ("overdue", line(&format!("overdue, due by {due}"))),
    };
    for (person, responsible_name) in &people {
        let email = content::review_notice(&content::ReviewNotice {
            recipient_name: person.name.clone(),
            pupil: label.clone(),
            what: review.what.clone(),
            due_on: review.due_on,
            notice,
            responsible_name: responsible_name.clone(),
            url: url.clone(),
        })
        .into_email(
            person.email.clone(),
            format!(
                "review-{kind}-{}-{}-{stage}-{}",
                review.source_id, review.due_on, person.email
            ),
            None,
        );
        outbox::enqueue(conn, review.pupil.school_id, person, &email, &topic, at)?;
    }
    Ok(people.len())
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
