//! Family links: a link of its own, with no account, for a parent, carer, coach or external
//! professional. It is a random token sent in the address `/family/{token}` and stored only as
//! its hash (as the password links of [`super::account_link`] are), but it is not single-use:
//! it works, as often as it is opened, until what it is for is over or staff revoke it.
//!
//! Pure: what a link is for, what it lets its holder do, when it stops working, and the
//! checks on what a family sends through it.

use chrono::{DateTime, NaiveDate, TimeZone, Utc};

use super::calendar::SCHOOL_TZ;
use super::details::{optional_text, refuse, DetailError};
use super::programme::{SessionOutcome, SessionRecord};

/// What a family link is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FamilyPurpose {
    /// One guest of one meeting: to see when and where it is and answer the invitation.
    Meeting,
    /// A pupil's Coaching Plan shared with the family: to read it and say so.
    Plan,
    /// A programme block whose sessions are delivered at home: to record them.
    HomeBlock,
}

impl FamilyPurpose {
    /// The stable name stored with the link.
    pub fn as_str(self) -> &'static str {
        match self {
            FamilyPurpose::Meeting => "meeting",
            FamilyPurpose::Plan => "plan",
            FamilyPurpose::HomeBlock => "home_block",
        }
    }

    /// The purpose with this stored name.
    pub fn parse(raw: &str) -> Option<FamilyPurpose> {
        match raw {
            "meeting" => Some(FamilyPurpose::Meeting),
            "plan" => Some(FamilyPurpose::Plan),
            "home_block" => Some(FamilyPurpose::HomeBlock),
            _ => None,
        }
    }

    /// Whether a link for this purpose lets its holder do `action`.
    pub fn allows(self, action: FamilyAction) -> bool {
        matches!(
            (self, action),
            (FamilyPurpose::Meeting, FamilyAction::AnswerInvitation)
                | (FamilyPurpose::Plan, FamilyAction::AcknowledgePlan)
                | (FamilyPurpose::HomeBlock, FamilyAction::RecordSession)
        )
    }
}

/// What a family may do through a link (reading what it is for aside).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FamilyAction {
    /// Accept, decline or ask for another time.
    AnswerInvitation,
    /// Say "I have read this plan".
    AcknowledgePlan,
    /// Record a session delivered at home.
    RecordSession,
}

/// Where what a link is for stands, as far as deciding whether the link still works.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    /// A meeting: its stored status (`due`, `scheduled`, `held`, `missed`, `cancelled`), when
    /// it starts (once booked) and the day it is due by.
    Meeting {
        open: bool,
        starts_at: Option<DateTime<Utc>>,
        due_on: NaiveDate,
    },
    /// A plan: whether it is still the pupil's current version, the pupil's level and whether
    /// they have left the school.
    Plan {
        current: bool,
        pupil_level: i16,
        pupil_left: bool,
    },
    /// A programme block: whether it still runs (not yet reviewed) and is delivered at home.
    HomeBlock { running: bool, at_home: bool },
}

/// The first level at which a Coaching Plan is in force (Coaching Plan, level 4).
const PLAN_LEVEL: i16 = 4;

/// The end of a London school day: midnight at its close, in UTC.
pub fn end_of_day(on: NaiveDate) -> DateTime<Utc> {
    let next = on.succ_opt().unwrap_or(on);
    let midnight = next.and_hms_opt(0, 0, 0).unwrap_or_default();
    SCHOOL_TZ
        .from_local_datetime(&midnight)
        .earliest()
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(|| Utc.from_utc_datetime(&midnight))
}

/// When a meeting's link stops working: at the end of its booked day (London time), or of
/// the day it is due by while it is not booked.
pub fn meeting_link_ends(starts_at: Option<DateTime<Utc>>, due_on: NaiveDate) -> DateTime<Utc> {
    let day = starts_at
        .map(|at| at.with_timezone(&SCHOOL_TZ).date_naive())
        .unwrap_or(due_on);
    end_of_day(day)
}

impl Standing {
    /// Whether what the link is for is still going on at `now`: a meeting until it is held,
    /// missed or cancelled or its day is over; a plan until a newer version replaces it or the
    /// pupil steps below the plan's level or leaves; a home block until it is reviewed.
    pub fn is_live(self, now: DateTime<Utc>) -> bool {
        match self {
            Standing::Meeting {
                open,
                starts_at,
                due_on,
            } => open && now < meeting_link_ends(starts_at, due_on),
            Standing::Plan {
                current,
                pupil_level,
                pupil_left,
            } => current && pupil_level >= PLAN_LEVEL && !pupil_left,
            Standing::HomeBlock { running, at_home } => running && at_home,
        }
    }
}

/// A stored link, as far as deciding whether it works.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FamilyLinkFacts {
    pub purpose: FamilyPurpose,
    pub revoked: bool,
    pub standing: Standing,
}

impl FamilyLinkFacts {
    /// Whether the link works at `now`: not revoked, and what it is for is still going on
    /// (and is of the link's kind).
    pub fn works(&self, now: DateTime<Utc>) -> bool {
        let kind_matches = matches!(
            (self.purpose, self.standing),
            (FamilyPurpose::Meeting, Standing::Meeting { .. })
                | (FamilyPurpose::Plan, Standing::Plan { .. })
                | (FamilyPurpose::HomeBlock, Standing::HomeBlock { .. })
        );
        kind_matches && !self.revoked && self.standing.is_live(now)
    }
}

/// The longest note a family sends with an answer or a session.
pub const MAX_FAMILY_NOTE_CHARS: usize = 300;

/// A guest's answer to a meeting invitation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GuestResponse {
    Accepted,
    Declined,
    AnotherTime,
}

impl GuestResponse {
    /// Every answer, in the order the page offers them.
    pub const ALL: [GuestResponse; 3] = [
        GuestResponse::Accepted,
        GuestResponse::Declined,
        GuestResponse::AnotherTime,
    ];

    /// The stable name stored on the guest and sent by the form.
    pub fn as_str(self) -> &'static str {
        match self {
            GuestResponse::Accepted => "accepted",
            GuestResponse::Declined => "declined",
            GuestResponse::AnotherTime => "another_time",
        }
    }

    /// Reads a stored or submitted answer for the field `response`.
    pub fn parse(raw: &str) -> Result<Self, DetailError> {
        GuestResponse::ALL
            .into_iter()
            .find(|r| r.as_str() == raw.trim())
            .ok_or_else(|| refuse("response", "choose one of the answers"))
    }

    /// What staff read: "accepted", "declined", "asked for another time".
    pub fn staff_words(self) -> &'static str {
        match self {
            GuestResponse::Accepted => "accepted",
            GuestResponse::Declined => "declined",
            GuestResponse::AnotherTime => "asked for another time",
        }
    }

    /// What the family reads back: "You said you will come."
    pub fn family_words(self) -> &'static str {
        match self {
            GuestResponse::Accepted => "You said you will come.",
            GuestResponse::Declined => "You said you cannot come.",
            GuestResponse::AnotherTime => "You asked for another time.",
        }
    }
}

/// A guest's answer as checked: the answer and its note (required to ask for another time,
/// optional otherwise, at most [`MAX_FAMILY_NOTE_CHARS`]).
pub fn check_response(
    response: &str,
    note: Option<&str>,
) -> Result<(GuestResponse, Option<String>), DetailError> {
    let response = GuestResponse::parse(response)?;
    let note = optional_text("note", note, MAX_FAMILY_NOTE_CHARS)?;
    if response == GuestResponse::AnotherTime && note.is_none() {
        return Err(refuse(
            "note",
            "say which days or times would suit you better",
        ));
    }
    Ok((response, note))
}

/// Whether a family may record a home session on `on` as of `today`: sessions up to today.
pub fn session_recordable(on: NaiveDate, today: NaiveDate) -> bool {
    on <= today
}

/// A home session as a family records it, checked with the same rules as staff recording
/// ([`SessionRecord::parse`]): delivered (minutes, an optional note) or not delivered with
/// why. A family does not record a pupil as absent (the pupil is at home with them).
pub fn check_home_session(
    outcome: &str,
    minutes: Option<u32>,
    note: Option<&str>,
) -> Result<SessionRecord, DetailError> {
    let outcome = SessionOutcome::parse(outcome)?;
    let (reason, note) = match outcome {
        SessionOutcome::Delivered => (None, note),
        SessionOutcome::NotDelivered => (note, None),
        SessionOutcome::PupilAbsent => {
            return Err(refuse(
                "outcome",
                "say whether the session took place or not",
            ))
        }
    };
    let record = SessionRecord::parse(outcome, minutes, reason, note)?;
    // The family's single note box is the reason when a session did not take place.
    if let Some(text) = record.note.as_deref().or(record.reason.as_deref()) {
        if text.chars().count() > MAX_FAMILY_NOTE_CHARS {
            let field = if outcome.is_delivered() {
                "note"
            } else {
                "reason"
            };
            return Err(refuse(
                field,
                format!("must be at most {MAX_FAMILY_NOTE_CHARS} characters"),
            ));
        }
    }
    Ok(record)
}

/// The most characters of a school's postal address, and its most lines.
pub const MAX_ADDRESS_CHARS: usize = 400;
pub const MAX_ADDRESS_LINES: usize = 8;

/// A school's contact details as families see them, checked: phone (digits, spaces and a
/// leading +), contact email, postal address (several lines) and an optional logo address
/// (https). Blank phone, email or address are allowed (nothing is shown for them).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SchoolDetails {
    pub phone: String,
    pub email: String,
    pub address: String,
    pub logo_url: Option<String>,
}

impl SchoolDetails {
    /// Checks the details as typed; the first fault names its field.
    pub fn parse(
        phone: &str,
        email: &str,
        address: &str,
        logo_url: &str,
    ) -> Result<SchoolDetails, DetailError> {
        let phone = phone.split_whitespace().collect::<Vec<_>>().join(" ");
        let digits = phone.chars().filter(char::is_ascii_digit).count();
        let shape_ok = phone
            .char_indices()
            .all(|(i, c)| c.is_ascii_digit() || c == ' ' || (c == '+' && i == 0));
        if !phone.is_empty() && (!shape_ok || !(6..=15).contains(&digits)) {
            return Err(refuse(
                "phone",
                "write the phone number with digits and spaces only (a + at the start for an international number), such as 020 7946 0000",
            ));
        }
        let email = match email.trim() {
            "" => String::new(),
            typed => super::details::EmailAddress::parse(typed)?
                .as_str()
                .to_string(),
        };
        let address = optional_text("address", Some(address), MAX_ADDRESS_CHARS)?
            .map(|a| {
                a.lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty())
                    .collect::<Vec<_>>()
                    .join("\n")
            })
            .unwrap_or_default();
        if address.lines().count() > MAX_ADDRESS_LINES {
            return Err(refuse(
                "address",
                format!("an address has at most {MAX_ADDRESS_LINES} lines"),
            ));
        }
        let logo_url = match logo_url.trim() {
            "" => None,
            typed => {
                let parsed = url::Url::parse(typed).map_err(|_| {
                    refuse("logo_url", "must be a web address starting with https://")
                })?;
                if parsed.scheme() != "https" || parsed.host_str().is_none() || typed.len() > 500 {
                    return Err(refuse(
                        "logo_url",
                        "must be a web address starting with https://",
                    ));
                }
                Some(parsed.to_string())
            }
        };
        Ok(SchoolDetails {
            phone,
            email,
            address,
            logo_url,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// Whatever a family's form carries, an answer is one of the three with a short,
        /// clean note, or a refusal naming the field at fault; nothing panics.
        #[test]
        fn any_answer_is_taken_or_refused_at_a_field(response in ".{0,20}", note in proptest::option::of(".{0,400}")) {
            match check_response(&response, note.as_deref()) {
                Ok((_, note)) => {
                    let short_and_clean = note.is_none_or(|n| {
                        n.chars().count() <= MAX_FAMILY_NOTE_CHARS && !n.contains(char::from(0))
                    });
                    proptest::prop_assert!(short_and_clean);
                }
                Err(refused) => proptest::prop_assert!(["response", "note"].contains(&refused.field)),
            }
        }

        /// The same for a session recorded at home.
        #[test]
        fn any_home_session_is_taken_or_refused_at_a_field(outcome in ".{0,20}", minutes in proptest::option::of(0u32..100_000), note in proptest::option::of(".{0,400}")) {
            if let Err(refused) = check_home_session(&outcome, minutes, note.as_deref()) {
                proptest::prop_assert!(!refused.field.is_empty());
            }
        }
    }

    fn utc(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, h, min, 0).unwrap()
    }

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn a_meeting_link_works_until_the_end_of_its_booked_day_in_london() {
        // 15:30 London on Tue 8 Dec 2026 (GMT).
        let starts = utc(2026, 12, 8, 15, 30);
        let open = Standing::Meeting {
            open: true,
            starts_at: Some(starts),
            due_on: date(2026, 12, 10),
        };
        assert!(open.is_live(utc(2026, 12, 8, 23, 59)));
        assert!(!open.is_live(utc(2026, 12, 9, 0, 0)));
        // In summer time the day ends at 23:00 UTC.
        let summer = Standing::Meeting {
            open: true,
            starts_at: Some(utc(2026, 6, 10, 14, 0)),
            due_on: date(2026, 6, 10),
        };
        assert!(summer.is_live(utc(2026, 6, 10, 22, 59)));
        assert!(!summer.is_live(utc(2026, 6, 10, 23, 0)));
        let held = Standing::Meeting {
            open: false,
            starts_at: Some(starts),
            due_on: date(2026, 12, 10),
        };
        assert!(!held.is_live(utc(2026, 12, 8, 9, 0)));
    }

    #[test]
    fn an_unbooked_meeting_link_ends_with_its_due_day() {
        assert_eq!(
            meeting_link_ends(None, date(2026, 12, 10)),
            utc(2026, 12, 11, 0, 0)
        );
    }

    #[test]
    fn a_plan_link_ends_when_the_plan_is_replaced_or_the_pupil_leaves_the_level() {
        let now = utc(2026, 12, 8, 9, 0);
        let plan = |current, pupil_level, pupil_left| Standing::Plan {
            current,
            pupil_level,
            pupil_left,
        };
        assert!(plan(true, 4, false).is_live(now));
        assert!(plan(true, 5, false).is_live(now));
        assert!(plan(true, 6, false).is_live(now));
        assert!(!plan(false, 4, false).is_live(now));
        assert!(!plan(true, 3, false).is_live(now));
        assert!(!plan(true, 4, true).is_live(now));
    }

    #[test]
    fn a_home_block_link_ends_when_the_block_is_reviewed() {
        let now = utc(2026, 12, 8, 9, 0);
        assert!(Standing::HomeBlock {
            running: true,
            at_home: true
        }
        .is_live(now));
        assert!(!Standing::HomeBlock {
            running: false,
            at_home: true
        }
        .is_live(now));
        assert!(!Standing::HomeBlock {
            running: true,
            at_home: false
        }
        .is_live(now));
    }

    #[test]
    fn a_revoked_link_or_one_of_another_kind_never_works() {
        let now = utc(2026, 12, 8, 9, 0);
        let block = Standing::HomeBlock {
            running: true,
            at_home: true,
        };
        let facts = FamilyLinkFacts {
            purpose: FamilyPurpose::HomeBlock,
            revoked: false,
            standing: block,
        };
        assert!(facts.works(now));
        assert!(!FamilyLinkFacts {
            revoked: true,
            ..facts
        }
        .works(now));
        assert!(!FamilyLinkFacts {
            purpose: FamilyPurpose::Plan,
            ..facts
        }
        .works(now));
    }

    #[test]
    fn each_link_does_only_what_it_is_for() {
        use FamilyAction::*;
        use FamilyPurpose::*;
        for purpose in [Meeting, Plan, HomeBlock] {
            assert_eq!(FamilyPurpose::parse(purpose.as_str()), Some(purpose));
            let allowed: Vec<FamilyAction> = [AnswerInvitation, AcknowledgePlan, RecordSession]
                .into_iter()
                .filter(|a| purpose.allows(*a))
                .collect();
            assert_eq!(allowed.len(), 1);
        }
        assert!(Meeting.allows(AnswerInvitation));
        assert!(!Meeting.allows(RecordSession));
        assert!(Plan.allows(AcknowledgePlan));
        assert!(HomeBlock.allows(RecordSession));
        assert_eq!(FamilyPurpose::parse("staff"), None);
    }

    #[test]
    fn asking_for_another_time_needs_a_note_and_notes_are_short() {
        assert_eq!(
            check_response("accepted", Some("  ")).unwrap(),
            (GuestResponse::Accepted, None)
        );
        assert_eq!(
            check_response("declined", Some("working")).unwrap(),
            (GuestResponse::Declined, Some("working".into()))
        );
        assert_eq!(
            check_response("another_time", None).unwrap_err().field,
            "note"
        );
        assert_eq!(
            check_response("another_time", Some("after 4pm please")).unwrap(),
            (GuestResponse::AnotherTime, Some("after 4pm please".into()))
        );
        let long = "a".repeat(MAX_FAMILY_NOTE_CHARS + 1);
        assert_eq!(
            check_response("accepted", Some(&long)).unwrap_err().field,
            "note"
        );
        assert_eq!(check_response("maybe", None).unwrap_err().field, "response");
        assert_eq!(
            check_response("declined", Some("a\u{0}b"))
                .unwrap_err()
                .field,
            "note"
        );
    }

    #[test]
    fn a_home_session_is_delivered_with_minutes_or_not_with_why() {
        let delivered = check_home_session("delivered", Some(30), Some("reading")).unwrap();
        assert_eq!(delivered.minutes, Some(30));
        assert_eq!(delivered.note.as_deref(), Some("reading"));
        let not = check_home_session("not_delivered", None, Some("poorly")).unwrap();
        assert_eq!(not.reason.as_deref(), Some("poorly"));
        assert_eq!(
            check_home_session("not_delivered", None, None)
                .unwrap_err()
                .field,
            "reason"
        );
        assert_eq!(
            check_home_session("delivered", None, None)
                .unwrap_err()
                .field,
            "minutes"
        );
        assert_eq!(
            check_home_session("delivered", Some(500), None)
                .unwrap_err()
                .field,
            "minutes"
        );
        assert_eq!(
            check_home_session("pupil_absent", None, None)
                .unwrap_err()
                .field,
            "outcome"
        );
        let long = "a".repeat(MAX_FAMILY_NOTE_CHARS + 1);
        assert_eq!(
            check_home_session("delivered", Some(30), Some(&long))
                .unwrap_err()
                .field,
            "note"
        );
    }

    #[test]
    fn school_details_are_checked() {
        let details = SchoolDetails::parse(
            " +44 20  7946 0000 ",
            "Office@School.example",
            "1 High Street\r\n\r\n  Oakfield \nOK1 2AB",
            "https://school.example/logo.png",
        )
        .unwrap();
        assert_eq!(details.phone, "+44 20 7946 0000");
        assert_eq!(details.email, "office@school.example");
        assert_eq!(details.address, "1 High Street\nOakfield\nOK1 2AB");
        assert_eq!(
            details.logo_url.as_deref(),
            Some("https://school.example/logo.png")
        );
        assert_eq!(
            SchoolDetails::parse("", "", "", "").unwrap(),
            SchoolDetails::default()
        );
        for phone in ["020-7946", "call us", "44+20 7946 0000", "123", "<script>"] {
            assert_eq!(
                SchoolDetails::parse(phone, "", "", "").unwrap_err().field,
                "phone"
            );
        }
        assert_eq!(
            SchoolDetails::parse("", "not an email", "", "")
                .unwrap_err()
                .field,
            "email"
        );
        for logo in [
            "http://school.example/l.png",
            "javascript:alert(1)",
            "logo.png",
        ] {
            assert_eq!(
                SchoolDetails::parse("", "", "", logo).unwrap_err().field,
                "logo_url"
            );
        }
        let long = "a\n".repeat(MAX_ADDRESS_LINES + 1);
        assert_eq!(
            SchoolDetails::parse("", "", &long, "").unwrap_err().field,
            "address"
        );
    }

    #[test]
    fn sessions_are_recorded_up_to_today() {
        assert!(session_recordable(date(2026, 12, 8), date(2026, 12, 8)));
        assert!(!session_recordable(date(2026, 12, 9), date(2026, 12, 8)));
    }
}
