//! What each email says, as plain text and as HTML (maud, so every value is escaped).
//!
//! Every email goes to staff. Each function takes one small input struct holding exactly
//! what that email shows and returns an [`EmailContent`]. A pupil appears only as a
//! [`PupilLabel`] ("Sam T., Year 9"): never notes, SEN status, incidents or outcomes.

use std::fmt;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use maud::{html, Markup, PreEscaped, DOCTYPE};

use crate::domain::account_link::LinkPurpose;
use crate::domain::SCHOOL_TZ;
use crate::mail::OutgoingEmail;

/// The subject and both bodies of one email.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailContent {
    /// The subject line.
    pub subject: String,
    /// The plain-text body.
    pub text: String,
    /// The HTML body.
    pub html: String,
}

impl EmailContent {
    /// The email ready for the outbox, for one recipient.
    pub fn into_email(
        self,
        to: String,
        message_key: String,
        calendar: Option<String>,
    ) -> OutgoingEmail {
        OutgoingEmail {
            to,
            subject: self.subject,
            text: self.text,
            html: self.html,
            calendar,
            message_key,
        }
    }
}

/// How an email names a pupil: given name, family-name initial and year group. Built from
/// the full names, it keeps only what it shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PupilLabel {
    given_name: String,
    family_initial: Option<char>,
    year: i16,
}

impl PupilLabel {
    /// The label for a pupil; `year` 0 is Reception.
    pub fn new(given_name: &str, family_name: &str, year: i16) -> Self {
        PupilLabel {
            given_name: given_name.trim().to_string(),
            family_initial: family_name
                .trim()
                .chars()
                .next()
                .and_then(|c| c.to_uppercase().next()),
            year,
        }
    }

    /// The pupil's given name alone, for a friendlier second mention.
    pub fn given_name(&self) -> &str {
        &self.given_name
    }

    /// The given name and family-name initial without the year: "Sam T.".
    pub fn short(&self) -> String {
        match self.family_initial {
            Some(initial) => format!("{} {initial}.", self.given_name),
            None => self.given_name.clone(),
        }
    }
}

impl fmt::Display for PupilLabel {
    /// Writes e.g. "Sam T., Year 9" (or "Sam T., Reception").
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.given_name)?;
        if let Some(initial) = self.family_initial {
            write!(f, " {initial}.")?;
        }
        match self.year {
            0 => f.write_str(", Reception"),
            year => write!(f, ", Year {year}"),
        }
    }
}

pub use crate::domain::words::MeetingKind;

/// Why the meeting is needed, in one sentence about the pupil.
fn reason(kind: MeetingKind, pupil: &PupilLabel) -> String {
    match kind {
            MeetingKind::Level(level) => format!(
                "{pupil} has stepped up to {} (level {}).",
                level.title(),
                level.number()
            ),
            MeetingKind::BlockReview(block) => format!(
                "{pupil} is reaching the end of the {}-week block of their Coaching Programme (level 5).",
                block.weeks()
            ),
            MeetingKind::PlanningSession => format!(
                "The team has met about the Bespoke Provision Map for {pupil} (level 6); the provision is now planned with the pupil and their parent or carer."
            ),
        }
}

/// When and where a booked meeting takes place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MeetingSlot {
    /// When it starts.
    pub starts_at: DateTime<Utc>,
    /// How long it lasts.
    pub duration_minutes: u32,
    /// Where it is held, e.g. "Room 12".
    pub location: String,
}

/// Input for [`meeting_due`]: a pupil has reached a level (or block end) that needs a meeting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MeetingDue {
    /// The recipient's name, for the greeting.
    pub recipient_name: String,
    /// The pupil.
    pub pupil: PupilLabel,
    /// Which meeting.
    pub kind: MeetingKind,
    /// The day by which it should be held.
    pub due_on: NaiveDate,
    /// The meeting page, from [`meeting_url`].
    pub meeting_url: String,
}

/// Who an email about a booked meeting is for, which decides its words and its link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Audience {
    /// Runs the meeting, and may open its page.
    Runs,
    /// A member of staff invited who does not run it: no link they could not open.
    Attends,
    /// A parent, carer or outside professional: plain words with no level names, and their
    /// own page for the meeting when they have one.
    Family { page: Option<String> },
}

impl Audience {
    /// Whether the email is for someone outside the school's staff.
    pub fn is_family(&self) -> bool {
        matches!(self, Audience::Family { .. })
    }
}

/// Input for [`invitation`], [`update`], [`no_longer_needed`] and [`cancellation`]: a booked
/// meeting and one person invited to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduledMeeting {
    /// The recipient's name, for the greeting.
    pub recipient_name: String,
    /// The pupil.
    pub pupil: PupilLabel,
    /// Which meeting.
    pub kind: MeetingKind,
    /// When and where.
    pub slot: MeetingSlot,
    /// The meeting page, from [`meeting_url`].
    pub meeting_url: String,
    /// Who the email is for.
    pub audience: Audience,
}

impl ScheduledMeeting {
    /// The meeting's name for this reader: "Coaching Time meeting" for staff, "meeting about
    /// Sam's support" for a family.
    fn name(&self) -> String {
        match self.audience {
            Audience::Family { .. } => {
                format!("meeting about {}'s support", self.pupil.given_name())
            }
            _ => self.kind.name(),
        }
    }

    /// How the pupil is named for this reader: "Sam T., Year 9" for staff, "Sam" for a family.
    fn pupil_named(&self) -> String {
        match self.audience {
            Audience::Family { .. } => self.pupil.given_name().to_string(),
            _ => self.pupil.to_string(),
        }
    }

    /// The meeting and pupil as a subject names them: "Coaching Time meeting for Sam T., Year
    /// 9", or "Meeting about Sam's support" for a family.
    fn headline(&self) -> String {
        match self.audience {
            Audience::Family { .. } => sentence_start(&self.name()),
            _ => format!("{} for {}", self.name(), self.pupil),
        }
    }

    /// The link this reader may follow.
    fn link(&self) -> Option<(&'static str, &str)> {
        match &self.audience {
            Audience::Runs => Some(("Open the meeting page", self.meeting_url.as_str())),
            Audience::Attends => None,
            Audience::Family { page } => page.as_deref().map(|page| {
                (
                    "Open your page for this meeting: reply, or ask for another time",
                    page,
                )
            }),
        }
    }
}

/// `text` with its first letter a capital.
fn sentence_start(text: &str) -> String {
    let mut chars = text.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

/// Input for [`update`]: what changed about a booked meeting for someone still invited.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MeetingChanged {
    /// The meeting as it now stands.
    pub meeting: ScheduledMeeting,
    /// When and where it was, when its time, length or place changed.
    pub was: Option<MeetingSlot>,
    /// The people newly invited, by name.
    pub added: Vec<String>,
    /// The people no longer invited, by name.
    pub removed: Vec<String>,
}

/// Input for [`cancellation`]: a meeting will not take place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MeetingCancelled {
    /// The meeting as it was booked.
    pub meeting: ScheduledMeeting,
    /// The reason the person cancelling gave.
    pub reason: String,
}

/// Input for [`reminder`] and [`overdue`]: a meeting that is due, booked or not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MeetingFollowUp {
    /// The recipient's name, for the greeting.
    pub recipient_name: String,
    /// The pupil.
    pub pupil: PupilLabel,
    /// Which meeting.
    pub kind: MeetingKind,
    /// The day by which it should be held.
    pub due_on: NaiveDate,
    /// When and where, if it has been booked.
    pub booked: Option<MeetingSlot>,
    /// For the overdue copy sent one step up: the name of the person responsible, who has
    /// had the same email. `None` for the responsible person's own copy.
    pub responsible_name: Option<String>,
    /// The meeting page, from [`meeting_url`].
    pub meeting_url: String,
    /// Whether the recipient runs the meeting (and may open its page); `false` for staff who
    /// are only invited to it, whose email has no link they could not open.
    pub runs_it: bool,
}

/// Input for [`review_notice`]: a Coaching Plan's or a provision's review date.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReviewNotice {
    /// The recipient's name, for the greeting.
    pub recipient_name: String,
    /// The pupil.
    pub pupil: PupilLabel,
    /// What is reviewed: "Coaching Plan (version 2)", "Provision: Speech and language".
    pub what: String,
    /// The day the review is due by.
    pub due_on: NaiveDate,
    /// Which of the notices this is.
    pub notice: crate::domain::follow_up::Notice,
    /// For an overdue copy sent one step up: the name of the person responsible.
    pub responsible_name: Option<String>,
    /// Where the review is recorded.
    pub url: String,
}

/// Input for [`overdue_summary`]: everything found long overdue on the follow-up's first run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OverdueSummary {
    /// The recipient's name, for the greeting.
    pub recipient_name: String,
    /// One line for each meeting or review, with where to deal with it.
    pub items: Vec<DigestItem>,
}

/// One line of a daily digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DigestItem {
    /// What needs attention, in a few words (the caller keeps to the privacy rule).
    pub text: String,
    /// Where to deal with it.
    pub url: String,
}

/// Input for [`digest`]: everything waiting for one staff member on one day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Digest {
    /// The recipient's name, for the greeting.
    pub recipient_name: String,
    /// The school day the digest is for.
    pub date: NaiveDate,
    /// The items, in the order to show them.
    pub items: Vec<DigestItem>,
}

/// The address of a meeting's page: `{public_url}/meetings/{id}`.
pub fn meeting_url(public_url: &str, meeting_id: i64) -> String {
    format!("{}/meetings/{meeting_id}", public_url.trim_end_matches('/'))
}

/// The calendar entry's title for a meeting, e.g. "Coaching Time meeting: Sam T., Year 9"
/// for staff, "Meeting about Sam's support" for a family.
pub fn event_summary(kind: MeetingKind, pupil: &PupilLabel, audience: &Audience) -> String {
    match audience {
        Audience::Family { .. } => format!("Meeting about {}'s support", pupil.given_name()),
        _ => format!("{}: {pupil}", kind.name()),
    }
}

/// The email to the people who must arrange a meeting that has just become due.
pub fn meeting_due(input: &MeetingDue) -> EmailContent {
    let due = long_date(input.due_on);
    let lines = [
        reason(input.kind, &input.pupil),
        format!("A {} is needed by {due}.", input.kind.name()),
        "Please pick a calm time that suits everyone and book it on the meeting page.".into(),
    ];
    Email {
        subject: format!("Please book: {} for {}", input.kind.name(), input.pupil),
        recipient_name: &input.recipient_name,
        paragraphs: &lines,
        details: &[],
        link: Some(("Book the meeting", &input.meeting_url)),
        closing: "Thank you.",
    }
    .render()
}

/// The invitation sent to each person invited when a meeting is booked, or when they are
/// added to a booked one.
pub fn invitation(input: &ScheduledMeeting) -> EmailContent {
    let mut lines = vec![format!(
        "You are invited to a {} for {}.",
        input.name(),
        input.pupil_named()
    )];
    match &input.audience {
        Audience::Runs => {}
        Audience::Attends => lines.push(
            "The pupil's Head of Year runs the meeting; nothing is needed from you before then."
                .into(),
        ),
        Audience::Family { page } => {
            lines.push(
                "It is a chance to talk together about how things are going at school and what will help next."
                    .into(),
            );
            if page.is_some() {
                lines.push(
                    "Please let us know whether you can come, or ask for another time, on your page for this meeting (the link below)."
                        .into(),
                );
            }
        }
    }
    lines.push(
        "The calendar invitation is attached, so you can add it to your calendar in one step."
            .into(),
    );
    Email {
        subject: format!(
            "Invitation: {}, {}",
            input.headline(),
            short_when(input.slot.starts_at)
        ),
        recipient_name: &input.recipient_name,
        paragraphs: &lines,
        details: &slot_details(&input.slot),
        link: input.link(),
        closing: "Thank you.",
    }
    .render()
}

/// The update sent to each person still invited when a booked meeting changes: exactly what
/// changed (its time, its place, who is invited).
pub fn update(input: &MeetingChanged) -> EmailContent {
    let meeting = &input.meeting;
    let slot = &meeting.slot;
    let mut lines = vec![format!(
        "The {} for {} has changed.",
        meeting.name(),
        meeting.pupil_named()
    )];
    let mut what = Vec::new();
    if let Some(was) = &input.was {
        if was.starts_at != slot.starts_at || was.duration_minutes != slot.duration_minutes {
            what.push("time");
            lines.push(format!(
                "New time: {}. It was {}.",
                when_and_length(slot),
                when_and_length(was)
            ));
        }
        if was.location.trim() != slot.location.trim() {
            what.push("place");
            lines.push(format!(
                "New place: {}. It was {}.",
                slot.location.trim(),
                was.location.trim()
            ));
        }
    }
    if !meeting.audience.is_family() {
        if !input.added.is_empty() {
            what.push("people");
            lines.push(format!("Now also invited: {}.", input.added.join(", ")));
        }
        if !input.removed.is_empty() {
            if !what.contains(&"people") {
                what.push("people");
            }
            lines.push(format!("No longer invited: {}.", input.removed.join(", ")));
        }
    }
    lines.push("The attached calendar update keeps your calendar in step.".into());
    let change = match what.as_slice() {
        ["time", ..] => "New time",
        ["place", ..] => "New place",
        _ => "Change of people",
    };
    Email {
        subject: format!(
            "{change}: {}, {}",
            meeting.headline(),
            short_when(slot.starts_at)
        ),
        recipient_name: &meeting.recipient_name,
        paragraphs: &lines,
        details: &slot_details(slot),
        link: meeting.link(),
        closing: "Thank you.",
    }
    .render()
}

/// The reminder the school day before a booked meeting, to a parent, carer or outside
/// professional invited to it: when and where, and their page to say they cannot come.
pub fn family_reminder(input: &ScheduledMeeting) -> EmailContent {
    let mut lines = vec![format!(
        "A reminder of the {} for {} on {}.",
        input.name(),
        input.pupil_named(),
        short_when(input.slot.starts_at)
    )];
    if input.link().is_some() {
        lines.push(
            "If you can no longer come, please say so on your page for this meeting (the link below), and ask for another time."
                .into(),
        );
    }
    Email {
        subject: format!(
            "Reminder: {}, {}",
            input.headline(),
            short_when(input.slot.starts_at)
        ),
        recipient_name: &input.recipient_name,
        paragraphs: &lines,
        details: &slot_details(&input.slot),
        link: input.link(),
        closing: "Thank you.",
    }
    .render()
}

/// The email to someone taken off a meeting that goes ahead for the others.
pub fn no_longer_needed(input: &ScheduledMeeting) -> EmailContent {
    let lines = [
        format!(
            "You are no longer needed at the {} for {} on {}. It goes ahead for the others.",
            input.name(),
            input.pupil_named(),
            short_when(input.slot.starts_at)
        ),
        "The attached calendar update takes it out of your calendar.".into(),
    ];
    Email {
        subject: format!(
            "No longer needed: {}, {}",
            input.headline(),
            short_when(input.slot.starts_at)
        ),
        recipient_name: &input.recipient_name,
        paragraphs: &lines,
        details: &[],
        link: None,
        closing: "Thank you.",
    }
    .render()
}

/// The notice sent to each person invited when a booked meeting is called off. Staff see the
/// reason given; a family gets a neutral line instead, never the reason typed for staff.
pub fn cancellation(input: &MeetingCancelled) -> EmailContent {
    let meeting = &input.meeting;
    let mut lines = vec![format!(
        "The {} for {} on {} has been cancelled.",
        meeting.name(),
        meeting.pupil_named(),
        short_when(meeting.slot.starts_at)
    )];
    if meeting.audience.is_family() {
        lines.push("The school will be in touch about what happens next.".into());
    }
    lines.push("The attached calendar update takes it out of your calendar.".into());
    let mut details = Vec::new();
    if !meeting.audience.is_family() {
        details.push(("Reason", input.reason.trim().to_string()));
    }
    details.push(("Where", meeting.slot.location.clone()));
    Email {
        subject: format!(
            "Cancelled: {}, {}",
            meeting.headline(),
            short_when(meeting.slot.starts_at)
        ),
        recipient_name: &meeting.recipient_name,
        paragraphs: &lines,
        details: &details,
        link: match meeting.audience {
            Audience::Runs => meeting.link(),
            _ => None,
        },
        closing: "Thank you.",
    }
    .render()
}

/// The reminder sent one school day before a meeting is due: of the booked time, or that it
/// still needs booking.
pub fn reminder(input: &MeetingFollowUp) -> EmailContent {
    let name = input.kind.name();
    let due = long_date(input.due_on);
    let (subject, lines, details) = match &input.booked {
        Some(slot) if input.runs_it => (
            format!(
                "Reminder: {name} for {}, {}",
                input.pupil,
                short_when(slot.starts_at)
            ),
            vec![format!(
                "Just a reminder that the {name} for {} is coming up.",
                input.pupil
            )],
            slot_details(slot).to_vec(),
        ),
        Some(slot) => (
            format!(
                "Reminder: {name} for {}, {}",
                input.pupil,
                short_when(slot.starts_at)
            ),
            vec![format!(
                "Just a reminder that you are invited to the {name} for {}. The pupil's Head of Year runs it; nothing is needed from you before then.",
                input.pupil
            )],
            slot_details(slot).to_vec(),
        ),
        None => (
            format!("Reminder: {name} for {} is due by {due}", input.pupil),
            vec![
                format!(
                    "Just a reminder that the {name} for {} should be held by {due}, and it has not been booked yet.",
                    input.pupil
                ),
                "If you can, please book a time today.".into(),
            ],
            Vec::new(),
        ),
    };
    Email {
        subject,
        recipient_name: &input.recipient_name,
        paragraphs: &lines,
        details: &details,
        link: input
            .runs_it
            .then_some(("Open the meeting page", input.meeting_url.as_str())),
        closing: "Thank you.",
    }
    .render()
}

/// The email sent when a meeting's day has passed without a record: to the people
/// responsible, and a copy one step up (see [`MeetingFollowUp::responsible_name`]). It says
/// which case it is: never booked, or booked and nothing recorded.
pub fn overdue(input: &MeetingFollowUp, why: crate::domain::Overdue) -> EmailContent {
    use crate::domain::Overdue;
    let name = input.kind.name();
    let due = long_date(input.due_on);
    let mut lines = match why {
        Overdue::NotBooked { .. } => vec![
            format!(
                "The {name} for {} was due by {due} and has not been booked.",
                input.pupil
            ),
            "Please book a time, so the support carries on.".to_string(),
        ],
        Overdue::NotRecorded { booked_on } => vec![
            format!(
                "The {name} for {} was booked for {}{}, and nothing has been recorded since.",
                input.pupil,
                long_date(booked_on),
                if booked_on > input.due_on {
                    format!(" (after its due day, {due})")
                } else {
                    String::new()
                }
            ),
            "If it took place, please record it; if it did not, record it as missed or move it to a new time.".to_string(),
        ],
    };
    if let Some(responsible) = &input.responsible_name {
        lines.push(format!(
            "{responsible}, who looks after this meeting, has had the same message. You are receiving a copy as the next person up, in case a hand would help."
        ));
    }
    let case = match why {
        Overdue::NotBooked { .. } => format!("not booked, due {due}"),
        Overdue::NotRecorded { booked_on } => {
            format!("not recorded, booked for {}", long_date(booked_on))
        }
    };
    Email {
        subject: format!("Overdue: {name} for {} ({case})", input.pupil),
        recipient_name: &input.recipient_name,
        paragraphs: &lines,
        details: &[],
        link: Some(("Open the meeting page", &input.meeting_url)),
        closing: "Thank you.",
    }
    .render()
}

/// A review date coming, tomorrow, or passed: to the people responsible (and, when overdue,
/// a copy one step up).
pub fn review_notice(input: &ReviewNotice) -> EmailContent {
    use crate::domain::follow_up::Notice;
    let due = long_date(input.due_on);
    let what = &input.what;
    let (subject, mut lines) = match input.notice {
        Notice::Due => (
            format!("Review due: {what} for {} by {due}", input.pupil),
            vec![format!(
                "The review of the {what} for {} is due by {due}.",
                input.pupil
            )],
        ),
        Notice::Reminder => (
            format!("Reminder: review of {what} for {} by {due}", input.pupil),
            vec![format!(
                "Just a reminder that the review of the {what} for {} is due by {due}.",
                input.pupil
            )],
        ),
        Notice::Overdue | Notice::InSummary => (
            format!("Overdue: review of {what} for {} (due {due})", input.pupil),
            vec![
                format!(
                    "The review of the {what} for {} was due by {due} and has not been recorded.",
                    input.pupil
                ),
                "Please review it, so the support carries on.".to_string(),
            ],
        ),
    };
    if let Some(responsible) = &input.responsible_name {
        lines.push(format!(
            "{responsible}, who looks after this review, has had the same message. You are receiving a copy as the next person up, in case a hand would help."
        ));
    }
    Email {
        subject,
        recipient_name: &input.recipient_name,
        paragraphs: &lines,
        details: &[],
        link: Some(("Open the review", &input.url)),
        closing: "Thank you.",
    }
    .render()
}

/// One email listing the meetings and reviews found long overdue the first time the daily
/// follow-up runs (after an upgrade, or a long pause), instead of an email for each.
pub fn overdue_summary(input: &OverdueSummary) -> EmailContent {
    let count = match input.items.len() {
        1 => "1 meeting or review is".to_string(),
        n => format!("{n} meetings and reviews are"),
    };
    let opening = format!(
        "{count} overdue in Steadfast. Each has been overdue for a while, so they are listed here together rather than emailed one by one."
    );
    let mut text = format!("Hello {},\n\n{opening}\n", input.recipient_name);
    for item in &input.items {
        text.push_str(&format!("\n- {}\n  {}\n", item.text, item.url));
    }
    text.push_str(&format!("\nThank you.\n\n{FOOTER}\n"));
    let body = html! {
        p { "Hello " (input.recipient_name) "," }
        p { (opening) }
        ul {
            @for item in &input.items {
                li { a href=(item.url) { (item.text) } }
            }
        }
        p { "Thank you." }
    };
    let subject = match input.items.len() {
        1 => "Overdue: 1 meeting or review".to_string(),
        n => format!("Overdue: {n} meetings and reviews"),
    };
    EmailContent {
        html: page(&subject, body),
        subject,
        text,
    }
}

/// The day's collected items for one staff member.
pub fn digest(input: &Digest) -> EmailContent {
    let day = long_date(input.date);
    let count = match input.items.len() {
        0 => "Nothing waiting".to_string(),
        1 => "1 thing waiting".to_string(),
        n => format!("{n} things waiting"),
    };
    let opening = if input.items.is_empty() {
        "Nothing needs you in Steadfast today."
    } else {
        "Here is what is waiting for you in Steadfast today."
    };

    let mut text = format!("Hello {},\n\n{opening}\n", input.recipient_name);
    for item in &input.items {
        text.push_str(&format!("\n- {}\n  {}\n", item.text, item.url));
    }
    text.push_str(&format!("\nThank you for all you do.\n\n{FOOTER}\n"));

    let body = html! {
        p { "Hello " (input.recipient_name) "," }
        p { (opening) }
        @if !input.items.is_empty() {
            ul {
                @for item in &input.items {
                    li { a href=(item.url) { (item.text) } }
                }
            }
        }
        p { "Thank you for all you do." }
    };
    let subject = format!("{count}: {day}");
    EmailContent {
        html: page(&subject, body),
        subject,
        text,
    }
}

/// What an invitation or a password-reset email shows: whom it is for, the school, and
/// the single-use link with the time it stops working.
#[derive(Debug, Clone)]
pub struct AccountLinkEmail {
    pub recipient_name: String,
    /// The address they sign in with.
    pub email: String,
    pub school_name: String,
    pub purpose: LinkPurpose,
    /// `{public_url}/account/password?token=...`
    pub url: String,
    pub expires_at: DateTime<Utc>,
}

/// The address of the page a link opens: `{public_url}/account/password?token={token}`.
pub fn account_link_url(public_url: &str, token: &str) -> String {
    format!(
        "{}/account/password?token={token}",
        public_url.trim_end_matches('/')
    )
}

/// The invitation to a new account, or the password-reset email: a link to choose a
/// password, which works once and until it expires.
pub fn account_link(input: &AccountLinkEmail) -> EmailContent {
    let until = short_when(input.expires_at);
    let lasts = input.purpose.lifetime_words();
    let (subject, lines, label, closing) = match input.purpose {
        LinkPurpose::Invitation => (
            format!("Your Steadfast account at {}", input.school_name),
            [
                format!(
                    "{} has made you an account on Steadfast, where staff log and follow pupils' support along the Coaching Sequence.",
                    input.school_name
                ),
                format!(
                    "To start, choose your password with the link below. It works once, for {lasts} (until {until}, UK time)."
                ),
                format!("You will sign in with this email address: {}.", input.email),
            ],
            "Choose your password",
            "If you did not expect this email, you can ignore it.",
        ),
        LinkPurpose::Reset => (
            "Reset your Steadfast password".to_string(),
            [
                format!(
                    "Someone, we hope you, asked to reset the password of your Steadfast account at {} ({}).",
                    input.school_name, input.email
                ),
                format!(
                    "Choose a new password with the link below. It works once, for {lasts} (until {until}, UK time)."
                ),
                "After that, ask for another from the sign-in page (\"Forgotten your password?\").".to_string(),
            ],
            "Choose a new password",
            "If you did not ask for this, ignore this email: your password stays as it is.",
        ),
    };
    Email {
        subject,
        recipient_name: &input.recipient_name,
        paragraphs: &lines,
        details: &[],
        link: Some((label, &input.url)),
        closing,
    }
    .render()
}

/// What the email about a guest's answer says: who answered what, for which meeting.
#[derive(Debug, Clone)]
pub struct GuestAnswered {
    pub recipient_name: String,
    pub pupil: PupilLabel,
    pub kind: MeetingKind,
    pub guest_name: String,
    /// Stored role: parent_carer, external or social_worker.
    pub guest_role: String,
    /// Stored answer: accepted, declined or another_time.
    pub response: String,
    pub note: Option<String>,
    pub starts_at: Option<DateTime<Utc>>,
    pub meeting_url: String,
}

/// The email to the organiser and Head of Year when a guest answers through their family
/// link: "Sam T.'s parent, Ana Silva, asked for another time for the meeting on Tue 8 Dec at
/// 15:30: 'after 4pm please'".
pub fn guest_answered(input: &GuestAnswered) -> EmailContent {
    let who = match input.guest_role.as_str() {
        "parent_carer" => format!(
            "{}'s parent or carer, {},",
            input.pupil.short(),
            input.guest_name
        ),
        "social_worker" => format!(
            "{}'s social worker, {},",
            input.pupil.short(),
            input.guest_name
        ),
        _ => format!("{} (invited for {})", input.guest_name, input.pupil.short()),
    };
    let answered = match input.response.as_str() {
        "accepted" => "accepted the invitation to",
        "declined" => "declined the invitation to",
        _ => "asked for another time for",
    };
    let when = input
        .starts_at
        .map(|at| {
            let local = at.with_timezone(&SCHOOL_TZ);
            format!(
                " on {} at {}",
                local.format("%a %-d %b"),
                local.format("%H:%M")
            )
        })
        .unwrap_or_default();
    let mut sentence = format!("{who} {answered} the {}{when}", input.kind.name());
    match &input.note {
        Some(note) => sentence.push_str(&format!(": '{note}'")),
        None => sentence.push('.'),
    }
    let mut lines = vec![sentence];
    if input.response == "another_time" {
        lines.push(
            "Please agree a new time with them and move the booking on the meeting page.".into(),
        );
    }
    let subject = match input.response.as_str() {
        "accepted" => format!("Accepted: {} for {}", input.kind.name(), input.pupil),
        "declined" => format!("Declined: {} for {}", input.kind.name(), input.pupil),
        _ => format!(
            "Another time asked: {} for {}",
            input.kind.name(),
            input.pupil
        ),
    };
    Email {
        subject,
        recipient_name: &input.recipient_name,
        paragraphs: &lines,
        details: &[],
        link: Some(("Open the meeting page", &input.meeting_url)),
        closing: "Thank you.",
    }
    .render()
}

/// What an email carrying a family link says: for whom, about which child, from whom.
#[derive(Debug, Clone)]
pub struct FamilyLinkEmail {
    pub recipient_name: String,
    pub pupil_given_name: String,
    pub school_name: String,
    /// `{public_url}/family/{token}`
    pub url: String,
    /// The member of staff who shared it.
    pub from_name: String,
}

/// The email sharing a child's plan with their parent or carer.
pub fn family_plan_link(input: &FamilyLinkEmail) -> EmailContent {
    let lines = [
        format!(
            "{} at {} has shared with you the plan agreed for {}: the goals, and what school and home will each do to help.",
            input.from_name, input.school_name, input.pupil_given_name
        ),
        "The link below is for you alone: please do not pass it on. You do not need an account.".into(),
    ];
    Email {
        subject: format!(
            "{}'s plan from {}",
            input.pupil_given_name, input.school_name
        ),
        recipient_name: &input.recipient_name,
        paragraphs: &lines,
        details: &[],
        link: Some(("Read the plan", &input.url)),
        closing: "Thank you for your support.",
    }
    .render()
}

/// The email asking the parent, carer or coach who delivers sessions at home to record them.
pub fn family_home_sessions_link(input: &FamilyLinkEmail) -> EmailContent {
    let lines = [
        format!(
            "{} at {} has shared with you the sessions planned at home for {}.",
            input.from_name, input.school_name, input.pupil_given_name
        ),
        "After each session, please use the link below to say whether it took place and how long it lasted. The link is for you alone: please do not pass it on. You do not need an account.".into(),
    ];
    Email {
        subject: format!("{}'s sessions at home", input.pupil_given_name),
        recipient_name: &input.recipient_name,
        paragraphs: &lines,
        details: &[],
        link: Some(("Record the sessions", &input.url)),
        closing: "Thank you for your support.",
    }
    .render()
}

#[cfg(test)]
mod family_tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn a_guest_asking_for_another_time_is_told_in_one_sentence() {
        let email = guest_answered(&GuestAnswered {
            recipient_name: "Jo Head".into(),
            pupil: PupilLabel::new("Sam", "Taylor", 9),
            kind: MeetingKind::Level(crate::domain::Level::Plan),
            guest_name: "Ana Silva".into(),
            guest_role: "parent_carer".into(),
            response: "another_time".into(),
            note: Some("after 4pm please".into()),
            starts_at: Some(Utc.with_ymd_and_hms(2026, 12, 8, 15, 30, 0).unwrap()),
            meeting_url: "https://s.example/meetings/4".into(),
        });
        assert!(email.text.contains(
            "Sam T.'s parent or carer, Ana Silva, asked for another time for the Coaching Plan meeting on Tue 8 Dec at 15:30: 'after 4pm please'"
        ), "{}", email.text);
        assert!(email.subject.starts_with("Another time asked"));
        assert!(email.html.contains("Ana Silva"));
    }

    #[test]
    fn a_family_link_email_carries_the_link() {
        let input = FamilyLinkEmail {
            recipient_name: "Ana Silva".into(),
            pupil_given_name: "Sam".into(),
            school_name: "North Park".into(),
            url: "https://s.example/family/abc".into(),
            from_name: "Jo Head".into(),
        };
        for email in [family_plan_link(&input), family_home_sessions_link(&input)] {
            assert!(email.text.contains("https://s.example/family/abc"));
            assert!(!email.text.contains("Coaching"));
        }
    }
}

/// The last line of every email.
const FOOTER: &str =
    "Sent by Steadfast, your school's pupil support tracker. Replies to this address are not read.";

/// The common shape of the meeting emails: greeting, paragraphs, a few labelled details,
/// a link, a closing line and the footer.
struct Email<'a> {
    subject: String,
    recipient_name: &'a str,
    paragraphs: &'a [String],
    details: &'a [(&'a str, String)],
    link: Option<(&'a str, &'a str)>,
    closing: &'a str,
}

impl Email<'_> {
    fn render(self) -> EmailContent {
        let mut text = format!("Hello {},\n", self.recipient_name);
        for paragraph in self.paragraphs {
            text.push_str(&format!("\n{paragraph}\n"));
        }
        if !self.details.is_empty() {
            text.push('\n');
            for (label, value) in self.details {
                text.push_str(&format!("{label}: {value}\n"));
            }
        }
        if let Some((label, url)) = self.link {
            text.push_str(&format!("\n{label}: {url}\n"));
        }
        text.push_str(&format!("\n{}\n\n{FOOTER}\n", self.closing));

        let body = html! {
            p { "Hello " (self.recipient_name) "," }
            @for paragraph in self.paragraphs {
                p { (paragraph) }
            }
            @if !self.details.is_empty() {
                table role="presentation" {
                    @for (label, value) in self.details {
                        tr {
                            th style="text-align:left;padding-right:1em;vertical-align:top" { (label) }
                            td { (value) }
                        }
                    }
                }
            }
            @if let Some((label, url)) = self.link {
                p { a href=(url) { (label) } }
            }
            p { (self.closing) }
        };
        EmailContent {
            html: page(&self.subject, body),
            subject: self.subject,
            text,
        }
    }
}

/// A whole HTML document around an email's body, with the footer.
fn page(title: &str, body: Markup) -> String {
    html! {
        (DOCTYPE)
        html lang="en-GB" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) }
            }
            body style="font-family:Arial,Helvetica,sans-serif;font-size:16px;line-height:1.5;color:#1f2933;max-width:40em" {
                (PreEscaped(LETTERHEAD_SLOT))
                (body)
                hr;
                (PreEscaped(SCHOOL_FOOTER_SLOT))
                p style="font-size:13px;color:#52606d" { (FOOTER) }
            }
        }
    }
    .into_string()
}

/// Where an email's HTML takes the school's letterhead, filled when the email is sent (so a
/// change to the school's details reaches every email still to go).
const LETTERHEAD_SLOT: &str = "<!--steadfast:letterhead-->";
/// Where an email's HTML takes the school's contact details.
const SCHOOL_FOOTER_SLOT: &str = "<!--steadfast:school-footer-->";

/// The school as every email heads and signs it, and as a family's page shows it: its name,
/// postal address, phone, contact email and (optionally) the address of its logo.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SchoolContact {
    pub name: String,
    pub phone: String,
    pub email: String,
    pub address: String,
    pub logo_url: Option<String>,
}

impl SchoolContact {
    /// The school's details in one line each, those it has: the address (its lines joined),
    /// "Telephone ...", "Email ...".
    fn contact_lines(&self) -> Vec<String> {
        let address = self
            .address
            .lines()
            .map(str::trim)
            .filter(|line| !line.is_empty())
            .collect::<Vec<_>>()
            .join(", ");
        [
            address,
            format_with("Telephone ", &self.phone),
            format_with("Email ", &self.email),
        ]
        .into_iter()
        .filter(|line| !line.is_empty())
        .collect()
    }

    /// `email` headed with the school's name (and logo) and signed with its details, in both
    /// bodies.
    pub fn letterhead(&self, email: &mut OutgoingEmail) {
        let lines = self.contact_lines();
        let mut footer = format!("\n{}\n", self.name.trim());
        for line in &lines {
            footer.push_str(line);
            footer.push('\n');
        }
        email.text = format!("{}\n\n{}", self.name.trim(), email.text.trim_end());
        match email.text.rfind(&format!("\n\n{FOOTER}")) {
            Some(at) => email.text.insert_str(at + 1, &footer),
            None => email.text.push_str(&footer),
        }
        email.text.push('\n');
        let head = html! {
            div style="margin-bottom:1em" {
                @if let Some(logo) = self.logo_url.as_deref().filter(|url| url.starts_with("https://")) {
                    img src=(logo) alt="" style="max-height:48px;display:block;margin-bottom:.5em";
                }
                strong style="font-size:18px" { (self.name.trim()) }
            }
        };
        let foot = html! {
            p style="font-size:13px;color:#52606d" {
                strong { (self.name.trim()) }
                @for line in &lines { br; (line) }
            }
        };
        email.html = email
            .html
            .replacen(LETTERHEAD_SLOT, &head.into_string(), 1)
            .replacen(SCHOOL_FOOTER_SLOT, &foot.into_string(), 1);
    }
}

/// `label` and `value` together, or nothing when the value is blank.
fn format_with(label: &str, value: &str) -> String {
    let value = value.trim();
    if value.is_empty() {
        String::new()
    } else {
        format!("{label}{value}")
    }
}

/// When, how long and where a booked meeting is, as labelled lines.
fn slot_details(slot: &MeetingSlot) -> [(&'static str, String); 3] {
    let starts = slot.starts_at.with_timezone(&SCHOOL_TZ);
    let ends = (slot.starts_at + Duration::minutes(i64::from(slot.duration_minutes)))
        .with_timezone(&SCHOOL_TZ);
    let end = if ends.date_naive() == starts.date_naive() {
        ends.format("%H:%M").to_string()
    } else {
        format!(
            "{} on {}",
            ends.format("%H:%M"),
            long_date(ends.date_naive())
        )
    };
    [
        (
            "When",
            format!(
                "{}, {} to {end} (UK time)",
                long_date(starts.date_naive()),
                starts.format("%H:%M")
            ),
        ),
        ("Length", length(slot.duration_minutes)),
        ("Where", slot.location.clone()),
    ]
}

/// A date the way people write it: "Tuesday 1 December 2026".
pub fn long_date(date: NaiveDate) -> String {
    date.format("%A %-d %B %Y").to_string()
}

/// A start time in UK time: "Tuesday 1 December 2026 at 15:30".
/// "Tuesday 1 December 2026 at 15:30, 30 minutes".
fn when_and_length(slot: &MeetingSlot) -> String {
    format!(
        "{}, {} minutes",
        short_when(slot.starts_at),
        slot.duration_minutes
    )
}

fn short_when(instant: DateTime<Utc>) -> String {
    let local = instant.with_timezone(&SCHOOL_TZ);
    format!(
        "{} at {}",
        long_date(local.date_naive()),
        local.format("%H:%M")
    )
}

/// A length in words: "30 minutes", "1 hour", "1 hour 15 minutes".
fn length(minutes: u32) -> String {
    let plural = |n: u32, unit: &str| {
        if n == 1 {
            format!("1 {unit}")
        } else {
            format!("{n} {unit}s")
        }
    };
    match (minutes / 60, minutes % 60) {
        (0, m) => plural(m, "minute"),
        (h, 0) => plural(h, "hour"),
        (h, m) => format!("{} {}", plural(h, "hour"), plural(m, "minute")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Overdue;
    use crate::domain::{Level, ProgrammeBlock};
    use chrono::TimeZone;

    fn sam() -> PupilLabel {
        PupilLabel::new("Sam", "Taylor", 9)
    }

    fn url() -> String {
        meeting_url("http://127.0.0.1:8080/", 42)
    }

    fn slot() -> MeetingSlot {
        MeetingSlot {
            // 15:30 GMT.
            starts_at: Utc.with_ymd_and_hms(2026, 12, 1, 15, 30, 0).unwrap(),
            duration_minutes: 30,
            location: "Room 12".into(),
        }
    }

    fn scheduled() -> ScheduledMeeting {
        ScheduledMeeting {
            recipient_name: "Jo".into(),
            pupil: sam(),
            kind: MeetingKind::Level(Level::Time),
            slot: slot(),
            meeting_url: url(),
            audience: Audience::Runs,
        }
    }

    /// The same meeting as a parent invited to it reads it, with their own page.
    fn for_family() -> ScheduledMeeting {
        ScheduledMeeting {
            recipient_name: "Pat Smith".into(),
            audience: Audience::Family {
                page: Some("http://127.0.0.1:8080/family/abc".into()),
            },
            ..scheduled()
        }
    }

    fn follow_up(booked: Option<MeetingSlot>) -> MeetingFollowUp {
        MeetingFollowUp {
            recipient_name: "Jo".into(),
            pupil: sam(),
            kind: MeetingKind::Level(Level::Plan),
            due_on: NaiveDate::from_ymd_opt(2026, 12, 1).unwrap(),
            booked,
            responsible_name: None,
            meeting_url: url(),
            runs_it: true,
        }
    }

    /// Every email: greeting, link in both bodies, footer, and no personal detail beyond the label.
    fn check_common(content: &EmailContent) {
        assert!(content.text.starts_with("Hello "), "{}", content.text);
        assert!(content.text.contains(FOOTER));
        assert!(content.html.starts_with("<!DOCTYPE html>"));
        assert!(content
            .html
            .contains("Replies to this address are not read."));
        assert!(!content.text.contains("Taylor") && !content.html.contains("Taylor"));
        assert!(!content.subject.contains('\n'));
    }

    #[test]
    fn pupils_are_named_by_given_name_initial_and_year() {
        assert_eq!(sam().to_string(), "Sam T., Year 9");
        assert_eq!(
            PupilLabel::new(" Aoife ", "ó Briain", 0).to_string(),
            "Aoife Ó., Reception"
        );
        assert_eq!(PupilLabel::new("Kai", "", 11).to_string(), "Kai, Year 11");
        assert_eq!(sam().given_name(), "Sam");
    }

    #[test]
    fn meeting_names() {
        assert_eq!(
            MeetingKind::Level(Level::Time).name(),
            "Coaching Time meeting"
        );
        assert_eq!(
            MeetingKind::Level(Level::Plan).name(),
            "Coaching Plan meeting"
        );
        assert_eq!(
            MeetingKind::Level(Level::Provision).name(),
            "Bespoke Provision Map team meeting"
        );
        assert_eq!(
            MeetingKind::BlockReview(ProgrammeBlock::FourWeek).name(),
            "Coaching Programme block review (4-week block)"
        );
        assert_eq!(
            event_summary(MeetingKind::Level(Level::Time), &sam(), &Audience::Runs),
            "Coaching Time meeting: Sam T., Year 9"
        );
        assert_eq!(
            event_summary(
                MeetingKind::Level(Level::Time),
                &sam(),
                &for_family().audience
            ),
            "Meeting about Sam's support"
        );
    }

    #[test]
    fn meeting_due_says_which_level_when_and_where_to_book() {
        for (kind, level_text) in [
            (MeetingKind::Level(Level::Time), "Coaching Time (level 3)"),
            (MeetingKind::Level(Level::Plan), "Coaching Plan (level 4)"),
            (
                MeetingKind::Level(Level::Provision),
                "Bespoke Provision Map (level 6)",
            ),
            (
                MeetingKind::BlockReview(ProgrammeBlock::TwoWeek),
                "2-week block of their Coaching Programme (level 5)",
            ),
            (
                MeetingKind::PlanningSession,
                "planned with the pupil and their parent or carer",
            ),
        ] {
            let content = meeting_due(&MeetingDue {
                recipient_name: "Jo".into(),
                pupil: sam(),
                kind,
                due_on: NaiveDate::from_ymd_opt(2026, 12, 1).unwrap(),
                meeting_url: url(),
            });
            check_common(&content);
            assert!(content.subject.contains("Sam T., Year 9"));
            for body in [&content.text, &content.html] {
                assert!(body.contains(level_text), "{body}");
                assert!(body.contains("Tuesday 1 December 2026"), "{body}");
                assert!(body.contains("http://127.0.0.1:8080/meetings/42"), "{body}");
            }
        }
    }

    #[test]
    fn invitation_gives_time_length_and_place_in_london_time() {
        let mut meeting = scheduled();
        // 14:00 UTC in June is 15:00 BST.
        meeting.slot.starts_at = Utc.with_ymd_and_hms(2026, 6, 16, 14, 0, 0).unwrap();
        meeting.slot.duration_minutes = 45;
        let content = invitation(&meeting);
        check_common(&content);
        assert_eq!(
            content.subject,
            "Invitation: Coaching Time meeting for Sam T., Year 9, Tuesday 16 June 2026 at 15:00"
        );
        assert!(content
            .text
            .contains("When: Tuesday 16 June 2026, 15:00 to 15:45 (UK time)"));
        assert!(content.text.contains("Length: 45 minutes"));
        assert!(content.text.contains("Where: Room 12"));
        assert!(content.html.contains("Room 12"));
    }

    #[test]
    fn an_update_says_exactly_what_changed() {
        let earlier = MeetingSlot {
            starts_at: Utc.with_ymd_and_hms(2026, 11, 30, 10, 0, 0).unwrap(),
            ..slot()
        };
        let moved = update(&MeetingChanged {
            meeting: scheduled(),
            was: Some(earlier),
            added: vec![],
            removed: vec![],
        });
        check_common(&moved);
        assert!(moved.subject.starts_with("New time: "));
        assert!(moved
            .text
            .contains("It was Monday 30 November 2026 at 10:00, 30 minutes."));
        assert!(!moved.text.contains("New place"));
        assert!(moved
            .text
            .contains("When: Tuesday 1 December 2026, 15:30 to 16:00"));
        let other_room = MeetingSlot {
            location: "Room 4".into(),
            ..slot()
        };
        let room_only = update(&MeetingChanged {
            meeting: scheduled(),
            was: Some(other_room),
            added: vec![],
            removed: vec![],
        });
        assert!(
            room_only.subject.starts_with("New place: "),
            "{}",
            room_only.subject
        );
        assert!(room_only
            .text
            .contains("New place: Room 12. It was Room 4."));
        assert!(!room_only.text.contains("New time"), "{}", room_only.text);
        let people = update(&MeetingChanged {
            meeting: scheduled(),
            was: None,
            added: vec!["Sen Co".into()],
            removed: vec!["Tess Teacher".into()],
        });
        assert!(people.subject.starts_with("Change of people: "));
        assert!(people.text.contains("Now also invited: Sen Co."));
        assert!(people.text.contains("No longer invited: Tess Teacher."));
        assert!(!people.text.contains("New time") && !people.text.contains("moved"));
    }

    #[test]
    fn staff_see_a_cancellations_reason_and_families_a_neutral_line() {
        let content = cancellation(&MeetingCancelled {
            meeting: scheduled(),
            reason: "Parent unwell; we will rebook".into(),
        });
        check_common(&content);
        assert!(content.subject.starts_with("Cancelled: "));
        assert!(content
            .text
            .contains("Reason: Parent unwell; we will rebook"));
        assert!(content.text.contains("Tuesday 1 December 2026 at 15:30"));
        let family = cancellation(&MeetingCancelled {
            meeting: for_family(),
            reason: "Stepped up to Coaching Plan".into(),
        });
        assert!(!family.text.contains("Stepped up"), "{}", family.text);
        assert!(!family.text.contains("Coaching"), "{}", family.text);
        assert!(family.text.contains("The school will be in touch"));
        assert!(!family.text.contains(&url()));
        assert_eq!(
            family.subject,
            "Cancelled: Meeting about Sam's support, Tuesday 1 December 2026 at 15:30"
        );
    }

    #[test]
    fn families_read_no_level_names_and_only_their_own_link() {
        let invitation = invitation(&for_family());
        for text in [&invitation.subject, &invitation.text, &invitation.html] {
            assert!(!text.contains("Coaching"), "{text}");
            assert!(!text.contains("/meetings/"), "{text}");
        }
        assert!(invitation.text.contains("http://127.0.0.1:8080/family/abc"));
        assert!(invitation.text.contains("ask for another time"));
        let reminder = family_reminder(&for_family());
        check_common(&reminder);
        assert!(!reminder.text.contains("Coaching"), "{}", reminder.text);
        assert!(reminder.text.contains("http://127.0.0.1:8080/family/abc"));
        assert_eq!(
            reminder.subject,
            "Reminder: Meeting about Sam's support, Tuesday 1 December 2026 at 15:30"
        );
        let gone = no_longer_needed(&for_family());
        assert!(gone.text.contains("goes ahead for the others"));
        assert!(!gone.text.contains("Coaching"));
        let attends = invitation_for_staff_who_attend();
        assert!(!attends.text.contains(&url()), "{}", attends.text);
        assert!(attends.text.contains("Head of Year runs the meeting"));
    }

    fn invitation_for_staff_who_attend() -> EmailContent {
        invitation(&ScheduledMeeting {
            audience: Audience::Attends,
            ..scheduled()
        })
    }

    #[test]
    fn reminder_for_booked_and_unbooked_meetings() {
        let booked = reminder(&follow_up(Some(slot())));
        check_common(&booked);
        assert!(booked
            .text
            .contains("When: Tuesday 1 December 2026, 15:30 to 16:00"));
        let unbooked = reminder(&follow_up(None));
        check_common(&unbooked);
        assert!(unbooked.text.contains("has not been booked yet"));
        assert!(unbooked.subject.contains("due by Tuesday 1 December 2026"));
    }

    #[test]
    fn overdue_names_the_responsible_person_only_on_the_copy_up() {
        let due_on = NaiveDate::from_ymd_opt(2026, 12, 1).unwrap();
        let own = overdue(&follow_up(None), Overdue::NotBooked { was_due: due_on });
        check_common(&own);
        assert_eq!(
            own.subject,
            "Overdue: Coaching Plan meeting for Sam T., Year 9 (not booked, due Tuesday 1 December 2026)"
        );
        assert!(own.text.contains("has not been booked"));
        assert!(!own.text.contains("next person up"));
        let mut up = follow_up(Some(slot()));
        up.responsible_name = Some("Jo Bloggs".into());
        up.recipient_name = "Ms Okafor".into();
        let booked_late = NaiveDate::from_ymd_opt(2026, 12, 3).unwrap();
        let up = overdue(
            &up,
            Overdue::NotRecorded {
                booked_on: booked_late,
            },
        );
        check_common(&up);
        assert!(up.text.contains("Jo Bloggs, who looks after this meeting"));
        assert!(up
            .subject
            .ends_with("(not recorded, booked for Thursday 3 December 2026)"));
        assert!(
            up.text.contains("booked for Thursday 3 December 2026 (after its due day, Tuesday 1 December 2026), and nothing has been recorded"),
            "{}",
            up.text
        );
    }

    #[test]
    fn a_reminder_to_someone_only_invited_has_no_link_they_cannot_open() {
        let mut invited = follow_up(Some(slot()));
        invited.runs_it = false;
        let email = reminder(&invited);
        assert!(!email.text.contains(&url()), "{}", email.text);
        assert!(!email.html.contains(&url()));
        assert!(email.text.contains("you are invited"));
        assert!(!email.text.contains("book a time"));
    }

    #[test]
    fn review_notices_and_the_overdue_summary_name_the_pupil_and_the_date() {
        use crate::domain::follow_up::Notice;
        let notice = |notice| {
            review_notice(&ReviewNotice {
                recipient_name: "Jo".into(),
                pupil: sam(),
                what: "Coaching Plan (version 2)".into(),
                due_on: NaiveDate::from_ymd_opt(2026, 12, 18).unwrap(),
                notice,
                responsible_name: None,
                url: url(),
            })
        };
        let due = notice(Notice::Due);
        check_common(&due);
        assert_eq!(
            due.subject,
            "Review due: Coaching Plan (version 2) for Sam T., Year 9 by Friday 18 December 2026"
        );
        assert!(notice(Notice::Overdue)
            .subject
            .starts_with("Overdue: review of"));
        let summary = overdue_summary(&OverdueSummary {
            recipient_name: "Jo".into(),
            items: vec![DigestItem {
                text: "Coaching Time meeting for Sam T., Year 9: overdue, not booked, due by Thu 3 Dec 2026".into(),
                url: url(),
            }],
        });
        check_common(&summary);
        assert_eq!(summary.subject, "Overdue: 1 meeting or review");
        assert!(summary.text.contains("Sam T., Year 9: overdue, not booked"));
    }

    #[test]
    fn digest_lists_each_item_with_its_link() {
        let content = digest(&Digest {
            recipient_name: "Jo".into(),
            date: NaiveDate::from_ymd_opt(2026, 12, 1).unwrap(),
            items: vec![
                DigestItem {
                    text: "Decide on a suggestion for Sam T., Year 9".into(),
                    url: "http://127.0.0.1:8080/suggestions/7".into(),
                },
                DigestItem {
                    text: "Book the Coaching Plan meeting for Ali R., Year 8".into(),
                    url: url(),
                },
            ],
        });
        check_common(&content);
        assert_eq!(content.subject, "2 things waiting: Tuesday 1 December 2026");
        assert!(content.text.contains(
            "- Decide on a suggestion for Sam T., Year 9\n  http://127.0.0.1:8080/suggestions/7"
        ));
        assert!(content.html.contains("<a href=\"http://127.0.0.1:8080/meetings/42\">Book the Coaching Plan meeting for Ali R., Year 8</a>"));
        let empty = digest(&Digest {
            recipient_name: "Jo".into(),
            date: NaiveDate::from_ymd_opt(2026, 12, 1).unwrap(),
            items: vec![],
        });
        assert!(empty.subject.starts_with("Nothing waiting"));
    }

    #[test]
    fn html_escapes_every_value() {
        let mut meeting = scheduled();
        meeting.recipient_name = "<script>alert(1)</script>".into();
        meeting.slot.location = "Room \"12\" & <b>co</b>".into();
        let content = invitation(&meeting);
        assert!(!content.html.contains("<script>"));
        assert!(content.html.contains("&lt;script&gt;"));
        assert!(content
            .html
            .contains("Room &quot;12&quot; &amp; &lt;b&gt;co&lt;/b&gt;"));
    }

    #[test]
    fn lengths_and_dates_read_naturally() {
        assert_eq!(length(1), "1 minute");
        assert_eq!(length(30), "30 minutes");
        assert_eq!(length(60), "1 hour");
        assert_eq!(length(75), "1 hour 15 minutes");
        assert_eq!(length(120), "2 hours");
        assert_eq!(
            long_date(NaiveDate::from_ymd_opt(2026, 12, 1).unwrap()),
            "Tuesday 1 December 2026"
        );
        assert_eq!(
            meeting_url("https://s.example", 3),
            "https://s.example/meetings/3"
        );
    }

    #[test]
    fn into_email_fills_the_outbox_row() {
        let email = invitation(&scheduled()).into_email(
            "jo@school.example".into(),
            "meeting-42-invite-0-staff-3".into(),
            Some("BEGIN:VCALENDAR\r\n".into()),
        );
        assert_eq!(email.to, "jo@school.example");
        assert_eq!(email.message_key, "meeting-42-invite-0-staff-3");
        assert!(email.calendar.is_some());
    }

    #[test]
    fn account_links_say_what_they_are_for_and_how_long_they_last() {
        let expires_at = Utc.with_ymd_and_hms(2026, 12, 14, 9, 0, 0).unwrap();
        let input = AccountLinkEmail {
            recipient_name: "Siân O'Neill".into(),
            email: "s.oneill@school.example".into(),
            school_name: "North Park School".into(),
            purpose: LinkPurpose::Invitation,
            url: account_link_url("https://s.example/", "abc"),
            expires_at,
        };
        let invitation = account_link(&input);
        assert_eq!(
            invitation.subject,
            "Your Steadfast account at North Park School"
        );
        assert!(invitation.text.contains("Hello Siân O'Neill,"));
        assert!(invitation
            .text
            .contains("https://s.example/account/password?token=abc"));
        assert!(invitation
            .text
            .contains("for 7 days (until Monday 14 December 2026 at 09:00"));
        assert!(invitation.html.contains("O&#39;Neill") || invitation.html.contains("O'Neill"));
        let reset = account_link(&AccountLinkEmail {
            purpose: LinkPurpose::Reset,
            ..input
        });
        assert_eq!(reset.subject, "Reset your Steadfast password");
        assert!(reset.text.contains("for 2 hours"));
        assert!(reset.text.contains("your password stays as it is"));
    }
}
