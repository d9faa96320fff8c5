//! What the Coaching Sequence's things are called and how they read in a sentence: the
//! levels, a move between them (made or suggested), and a meeting's state. Every page and
//! email says these through here, so a step up reads the same on the timeline, in the
//! inbox, on the logging page and in an email, and "overdue" means one thing everywhere.

use chrono::NaiveDate;

use super::level::{Level, ProgrammeBlock};
use super::rules::UnknownValue;

/// A level's name as it reads inside a sentence, with its article: "a Coaching
/// Conversation", "Coaching Time", "a Bespoke Provision Map", "no support level".
pub fn with_article(level: Level) -> String {
    match level {
        Level::None => "no support level".to_string(),
        Level::Time => level.title().to_string(),
        other => format!("a {}", other.title()),
    }
}

/// `text` with its first letter capitalised, to open a sentence.
pub fn sentence_case(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => format!("{}{}", first.to_uppercase(), chars.as_str()),
        None => String::new(),
    }
}

/// `text` with its first letter in lower case, to go inside a sentence.
pub fn mid_sentence(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => format!("{}{}", first.to_lowercase(), chars.as_str()),
        None => String::new(),
    }
}

/// A move of a pupil between levels: made (on the timeline) or suggested (in the inbox).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Move {
    /// Up the ladder, by one level or a jump (a serious incident to Coaching Time).
    Up { from: Level, to: Level },
    /// Down the ladder to a level below, still with support.
    Down { from: Level, to: Level },
    /// Off the ladder: support closed.
    Close { from: Level },
    /// Staying at the level: at Coaching Programme, its next block.
    Stay { at: Level },
}

impl Move {
    /// The move from `from` to `to`, as stored on a suggestion or a level change.
    pub fn between(from: Level, to: Level) -> Move {
        if to == from {
            Move::Stay { at: from }
        } else if to == Level::None {
            Move::Close { from }
        } else if to < from {
            Move::Down { from, to }
        } else {
            Move::Up { from, to }
        }
    }

    /// [`Move::between`] for stored level numbers; an unknown number reads as no level.
    pub fn between_numbers(from: i16, to: i16) -> Move {
        Move::between(level_of(from), level_of(to))
    }

    /// The level the move leaves the pupil at.
    pub fn to(self) -> Level {
        match self {
            Move::Up { to, .. } | Move::Down { to, .. } => to,
            Move::Close { .. } => Level::None,
            Move::Stay { at } => at,
        }
    }

    /// Whether the move goes up the ladder.
    pub fn is_up(self) -> bool {
        matches!(self, Move::Up { .. })
    }

    /// The move as made, for a timeline: "Stepped up from Coaching Prompt to Coaching
    /// Conversation", "Support closed (was Coaching Time)", "Moved on to the next Coaching
    /// Programme block".
    pub fn made(self) -> String {
        match self {
            Move::Up {
                from: Level::None,
                to,
            } => format!("Placed at {}", to.title()),
            Move::Up { from, to } => {
                format!("Stepped up from {} to {}", from.title(), to.title())
            }
            Move::Down { from, to } => {
                format!("Stepped down from {} to {}", from.title(), to.title())
            }
            Move::Close { from } => format!("Support closed (was {})", from.title()),
            Move::Stay { at } => format!("Moved on to {}", next_of(at)),
        }
    }

    /// The move as suggested, inside a sentence: "a step up to Coaching Conversation",
    /// "a step down to Coaching Prompt", "closing support", "the next Coaching Programme block".
    pub fn suggested(self) -> String {
        match self {
            Move::Up { to, .. } => format!("a step up to {}", to.title()),
            Move::Down { to, .. } => format!("a step down to {}", to.title()),
            Move::Close { .. } => "closing support".to_string(),
            Move::Stay { at } => next_of(at),
        }
    }

    /// The sentence announcing a suggestion for a pupil: "A Coaching Conversation is now
    /// suggested for Sam", "A step down to Coaching Prompt is now suggested for Sam".
    pub fn suggested_for(self, given_name: &str) -> String {
        let what = match self {
            Move::Up { to, .. } => with_article(to),
            other => other.suggested(),
        };
        format!("{} is now suggested for {given_name}", sentence_case(&what))
    }

    /// The button that makes the move: "Step up to Coaching Time", "Step down to Coaching
    /// Prompt", "Close support", "Start the next Coaching Programme block".
    pub fn action(self) -> String {
        match self {
            Move::Up { to, .. } => format!("Step up to {}", to.title()),
            Move::Down { to, .. } => format!("Step down to {}", to.title()),
            Move::Close { .. } => "Close support".to_string(),
            Move::Stay { at } => format!("Start {}", next_of(at)),
        }
    }

    /// The button accepting the move as suggested: "Accept: step up to Coaching Plan".
    pub fn accept_action(self) -> String {
        format!("Accept: {}", mid_sentence(&self.action()))
    }
}

/// "the next Coaching Programme block" (or, at a level without blocks, "the next step at it").
fn next_of(at: Level) -> String {
    match at {
        Level::Programme => "the next Coaching Programme block".to_string(),
        other => format!("the next step at {}", other.title()),
    }
}

/// The level of a stored level number; an unknown number reads as no level.
pub fn level_of(number: i16) -> Level {
    Level::from_number(i64::from(number)).unwrap_or(Level::None)
}

/// What the current-level card says of a pupil with no support level, given the move
/// waiting for a decision, if any: never "no support" alone while support is suggested.
pub fn without_level(waiting: Option<Move>) -> String {
    let purpose = Level::None.facts().purpose;
    match waiting {
        None => format!("{purpose} Logging a Coaching Prompt places them at Coaching Prompt."),
        Some(waiting) => format!(
            "No support level yet: {} is suggested and waits for a decision.",
            match waiting {
                Move::Up { to, .. } => with_article(to),
                other => other.suggested(),
            }
        ),
    }
}

/// A meeting's status as stored: where it stands, without the calendar.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MeetingStatus {
    /// Needed, not yet booked.
    Due,
    /// Booked for a time.
    Scheduled,
    /// Held, with its record.
    Held,
    /// Did not take place; a new one is due in its place.
    Missed,
    /// Called off.
    Cancelled,
}

impl MeetingStatus {
    /// Every status, in the order a meeting goes through them.
    pub const ALL: [MeetingStatus; 5] = [
        MeetingStatus::Due,
        MeetingStatus::Scheduled,
        MeetingStatus::Held,
        MeetingStatus::Missed,
        MeetingStatus::Cancelled,
    ];

    /// The stored name: "due", "scheduled", "held", "missed" or "cancelled".
    pub fn as_str(self) -> &'static str {
        match self {
            MeetingStatus::Due => "due",
            MeetingStatus::Scheduled => "scheduled",
            MeetingStatus::Held => "held",
            MeetingStatus::Missed => "missed",
            MeetingStatus::Cancelled => "cancelled",
        }
    }

    /// The status with the stored name.
    pub fn parse(s: &str) -> Result<MeetingStatus, UnknownValue> {
        MeetingStatus::ALL
            .into_iter()
            .find(|status| status.as_str() == s.trim())
            .ok_or_else(|| UnknownValue {
                kind: "meeting status",
                got: s.to_string(),
                expected: "due, scheduled, held, missed or cancelled",
            })
    }

    /// Whether the meeting still has to happen (due or booked).
    pub fn is_open(self) -> bool {
        matches!(self, MeetingStatus::Due | MeetingStatus::Scheduled)
    }
}

/// Where a meeting stands on a given day: its status, with "booked late" for a meeting booked
/// for a day after its due day, and "overdue" for one whose day has passed without a record.
/// The one place that says what overdue is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MeetingState {
    /// Needed by `by`, not yet booked.
    Due { by: NaiveDate },
    /// Booked for `on`, a day still to come (or today); `late` when that day is after the
    /// day the meeting was due by.
    Booked { on: NaiveDate, late: bool },
    /// Its day has passed and nothing was recorded.
    Overdue(Overdue),
    /// Held.
    Held,
    /// Recorded as missed.
    Missed,
    /// Cancelled.
    Cancelled,
}

/// Why a meeting is overdue: the two cases an overdue notice tells apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Overdue {
    /// Due by `was_due`, a day that has passed, and never booked.
    NotBooked { was_due: NaiveDate },
    /// Booked for `booked_on`, a day that has passed, and neither held nor missed recorded.
    NotRecorded { booked_on: NaiveDate },
}

impl Overdue {
    /// The last day the meeting was expected on: its due day, or the day it was booked for.
    pub fn expected_on(self) -> NaiveDate {
        match self {
            Overdue::NotBooked { was_due } => was_due,
            Overdue::NotRecorded { booked_on } => booked_on,
        }
    }

    /// The case in words: "not booked, due by Thu 3 Dec 2026" or "booked for Thu 3 Dec
    /// 2026, nothing recorded".
    pub fn phrase(self) -> String {
        match self {
            Overdue::NotBooked { was_due } => {
                format!("not booked, due by {}", long_date(was_due))
            }
            Overdue::NotRecorded { booked_on } => {
                format!("booked for {}, nothing recorded", long_date(booked_on))
            }
        }
    }
}

impl MeetingState {
    /// The state on `today` of a meeting with `status`, due by `due_on` and, when booked,
    /// booked for the day `booked_on` (London time). A booked meeting is overdue only once
    /// the day it is booked for has passed without a record, whether it was booked on time
    /// or late; an unbooked one once its due day has passed.
    pub fn on(
        status: MeetingStatus,
        due_on: NaiveDate,
        booked_on: Option<NaiveDate>,
        today: NaiveDate,
    ) -> MeetingState {
        match status {
            MeetingStatus::Due if today > due_on => {
                MeetingState::Overdue(Overdue::NotBooked { was_due: due_on })
            }
            MeetingStatus::Due => MeetingState::Due { by: due_on },
            MeetingStatus::Scheduled => {
                let on = booked_on.unwrap_or(due_on);
                if today > on {
                    MeetingState::Overdue(Overdue::NotRecorded { booked_on: on })
                } else {
                    MeetingState::Booked {
                        on,
                        late: on > due_on,
                    }
                }
            }
            MeetingStatus::Held => MeetingState::Held,
            MeetingStatus::Missed => MeetingState::Missed,
            MeetingStatus::Cancelled => MeetingState::Cancelled,
        }
    }

    /// [`MeetingState::on`] for a stored status; an unknown status reads as cancelled, which
    /// asks nothing of anyone.
    pub fn of_stored(
        status: &str,
        due_on: NaiveDate,
        booked_on: Option<NaiveDate>,
        today: NaiveDate,
    ) -> MeetingState {
        let status = MeetingStatus::parse(status).unwrap_or(MeetingStatus::Cancelled);
        MeetingState::on(status, due_on, booked_on, today)
    }

    /// Whether the meeting is overdue.
    pub fn is_overdue(self) -> bool {
        matches!(self, MeetingState::Overdue(_))
    }

    /// Why the meeting is overdue, when it is.
    pub fn overdue(self) -> Option<Overdue> {
        match self {
            MeetingState::Overdue(why) => Some(why),
            _ => None,
        }
    }

    /// The state in a word or two: "due", "booked", "booked late", "overdue", "held",
    /// "missed", "cancelled".
    pub fn word(self) -> &'static str {
        match self {
            MeetingState::Due { .. } => "due",
            MeetingState::Booked { late: false, .. } => "booked",
            MeetingState::Booked { late: true, .. } => "booked late",
            MeetingState::Overdue(_) => "overdue",
            MeetingState::Held => "held",
            MeetingState::Missed => "missed",
            MeetingState::Cancelled => "cancelled",
        }
    }

    /// The state with its day where it has one: "due by Thu 3 Dec 2026", "booked late for
    /// Mon 7 Dec 2026", "overdue: not booked, due by Thu 3 Dec 2026", or
    /// [`MeetingState::word`].
    pub fn phrase(self) -> String {
        match self {
            MeetingState::Due { by } => format!("due by {}", long_date(by)),
            MeetingState::Booked { on, .. } => format!("{} for {}", self.word(), long_date(on)),
            MeetingState::Overdue(why) => format!("overdue: {}", why.phrase()),
            other => other.word().to_string(),
        }
    }

    /// The style class of the state's tag beside its word: overdue is a warning, booked late
    /// a caution.
    pub fn tag_class(self) -> &'static str {
        match self {
            MeetingState::Overdue(_) => "tag warn",
            MeetingState::Booked { late: true, .. } => "tag late",
            _ => "tag",
        }
    }
}

/// A date for people to read: "Thu 26 Nov 2026".
pub fn long_date(on: NaiveDate) -> String {
    on.format("%a %-d %b %Y").to_string()
}

/// Which meeting: the one a level calls for, a programme block's review, or the planning
/// session after the Bespoke Provision Map team meeting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MeetingKind {
    /// The meeting a level calls for: Coaching Time (3), Coaching Plan (4) or the Bespoke
    /// Provision Map team meeting (6); at level 5, a block review whose block is not known.
    Level(Level),
    /// The review at the end of a Coaching Programme block (level 5).
    BlockReview(ProgrammeBlock),
    /// The session after the Bespoke Provision Map team meeting where the provision is planned
    /// with the pupil and their parent or carer (level 6).
    PlanningSession,
}

impl MeetingKind {
    /// The kind of a stored meeting at `level` with its stored `purpose`.
    pub fn of_stored(level: Level, purpose: &str) -> MeetingKind {
        if level == Level::Provision && purpose == "planning" {
            MeetingKind::PlanningSession
        } else {
            MeetingKind::Level(level)
        }
    }

    /// The meeting's name in a sentence: "Coaching Time meeting", "Bespoke Provision Map
    /// team meeting", "Coaching Programme block review (4-week block)".
    pub fn name(self) -> String {
        match self {
            MeetingKind::Level(Level::Programme) => "Coaching Programme block review".into(),
            MeetingKind::Level(Level::Provision) => "Bespoke Provision Map team meeting".into(),
            MeetingKind::Level(level) => format!("{} meeting", level.title()),
            MeetingKind::BlockReview(block) => {
                format!(
                    "Coaching Programme block review ({}-week block)",
                    block.weeks()
                )
            }
            MeetingKind::PlanningSession => "Bespoke Provision Map planning session".into(),
        }
    }
}

/// The sentence confirming a meeting a move has made due: "A Coaching Time meeting is now
/// due, by Thu 3 Dec 2026."
pub fn meeting_now_due(level: Level, due_on: NaiveDate) -> String {
    let name = MeetingKind::Level(level).name();
    let what = match level {
        Level::Programme => format!("The {name}"),
        _ => format!("A {name}"),
    };
    format!("{what} is now due, by {}.", long_date(due_on))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 12, d).unwrap()
    }

    #[test]
    fn levels_read_with_their_article() {
        assert_eq!(with_article(Level::Conversation), "a Coaching Conversation");
        assert_eq!(with_article(Level::Time), "Coaching Time");
        assert_eq!(with_article(Level::Provision), "a Bespoke Provision Map");
        assert_eq!(with_article(Level::None), "no support level");
        assert_eq!(sentence_case("a Coaching Plan"), "A Coaching Plan");
        assert_eq!(sentence_case(""), "");
        assert_eq!(mid_sentence("Stepped up"), "stepped up");
    }

    #[test]
    fn a_move_is_named_by_its_real_levels() {
        let up = Move::between(Level::Prompt, Level::Conversation);
        assert_eq!(
            up.made(),
            "Stepped up from Coaching Prompt to Coaching Conversation"
        );
        assert_eq!(
            Move::between(Level::Programme, Level::Plan).made(),
            "Stepped down from Coaching Programme to Coaching Plan"
        );
        assert_eq!(
            Move::between(Level::Time, Level::None).made(),
            "Support closed (was Coaching Time)"
        );
        assert_eq!(
            Move::between(Level::None, Level::Prompt).made(),
            "Placed at Coaching Prompt"
        );
    }

    #[test]
    fn a_programme_kept_for_its_next_block_is_not_a_step_down() {
        let next = Move::between_numbers(5, 5);
        assert_eq!(
            next,
            Move::Stay {
                at: Level::Programme
            }
        );
        assert_eq!(next.made(), "Moved on to the next Coaching Programme block");
        assert!(!next.made().contains("Stepped down"));
        assert_eq!(next.suggested(), "the next Coaching Programme block");
        assert_eq!(next.action(), "Start the next Coaching Programme block");
    }

    #[test]
    fn suggestions_read_the_same_everywhere() {
        let up = Move::between(Level::None, Level::Conversation);
        assert_eq!(up.suggested(), "a step up to Coaching Conversation");
        assert_eq!(
            up.suggested_for("Amira"),
            "A Coaching Conversation is now suggested for Amira"
        );
        assert_eq!(up.action(), "Step up to Coaching Conversation");
        assert_eq!(
            up.accept_action(),
            "Accept: step up to Coaching Conversation"
        );
        let down = Move::between(Level::Conversation, Level::Prompt);
        assert_eq!(
            down.suggested_for("Sam"),
            "A step down to Coaching Prompt is now suggested for Sam"
        );
        assert_eq!(down.accept_action(), "Accept: step down to Coaching Prompt");
        let close = Move::between(Level::Prompt, Level::None);
        assert_eq!(close.suggested(), "closing support");
        assert_eq!(close.accept_action(), "Accept: close support");
        assert_eq!(
            Move::between(Level::Programme, Level::Programme).accept_action(),
            "Accept: start the next Coaching Programme block"
        );
        assert_eq!(up.to(), Level::Conversation);
        assert!(up.is_up() && !down.is_up());
    }

    #[test]
    fn no_level_never_reads_as_no_support_while_support_is_suggested() {
        let alone = without_level(None);
        assert!(alone.contains("not receiving support"), "{alone}");
        let waiting = without_level(Some(Move::between(Level::None, Level::Time)));
        assert_eq!(
            waiting,
            "No support level yet: Coaching Time is suggested and waits for a decision."
        );
        assert!(!waiting.contains("not receiving support"));
    }

    #[test]
    fn statuses_round_trip() {
        for status in MeetingStatus::ALL {
            assert_eq!(MeetingStatus::parse(status.as_str()), Ok(status));
        }
        assert!(MeetingStatus::parse("overdue").is_err());
        let open: Vec<_> = MeetingStatus::ALL
            .into_iter()
            .filter(|s| s.is_open())
            .collect();
        assert_eq!(open, [MeetingStatus::Due, MeetingStatus::Scheduled]);
    }

    #[test]
    fn an_unbooked_meeting_is_overdue_once_its_due_day_has_passed() {
        let due_on = day(3);
        assert_eq!(
            MeetingState::on(MeetingStatus::Due, due_on, None, day(3)),
            MeetingState::Due { by: due_on }
        );
        let late = MeetingState::on(MeetingStatus::Due, due_on, None, day(4));
        assert_eq!(
            late,
            MeetingState::Overdue(Overdue::NotBooked { was_due: due_on })
        );
        assert_eq!(late.phrase(), "overdue: not booked, due by Thu 3 Dec 2026");
        assert_eq!(late.tag_class(), "tag warn");
        assert_eq!(
            MeetingState::on(MeetingStatus::Due, due_on, None, day(1)).phrase(),
            "due by Thu 3 Dec 2026"
        );
    }

    #[test]
    fn a_booked_meeting_is_overdue_only_once_its_booked_day_has_passed_without_a_record() {
        let due_on = day(3);
        // Booked on time: overdue the day after the booked day, not before.
        let on_time =
            |today| MeetingState::on(MeetingStatus::Scheduled, due_on, Some(day(2)), today);
        assert_eq!(on_time(day(2)).word(), "booked");
        assert!(!on_time(day(2)).is_overdue());
        assert_eq!(
            on_time(day(3)),
            MeetingState::Overdue(Overdue::NotRecorded { booked_on: day(2) })
        );
        // Booked for after its due day: booked late, not overdue while its day is to come.
        let late = |today| MeetingState::on(MeetingStatus::Scheduled, due_on, Some(day(8)), today);
        for today in [day(1), day(4), day(8)] {
            assert_eq!(
                late(today),
                MeetingState::Booked {
                    on: day(8),
                    late: true
                }
            );
        }
        assert_eq!(late(day(4)).phrase(), "booked late for Tue 8 Dec 2026");
        assert_eq!(late(day(4)).tag_class(), "tag late");
        let overdue = late(day(9));
        assert_eq!(
            overdue.overdue(),
            Some(Overdue::NotRecorded { booked_on: day(8) })
        );
        assert_eq!(
            overdue.phrase(),
            "overdue: booked for Tue 8 Dec 2026, nothing recorded"
        );
        assert_eq!(overdue.overdue().map(Overdue::expected_on), Some(day(8)));
    }

    #[test]
    fn closed_meetings_are_never_overdue() {
        for status in [
            MeetingStatus::Held,
            MeetingStatus::Missed,
            MeetingStatus::Cancelled,
        ] {
            assert!(!MeetingState::on(status, day(3), Some(day(2)), day(20)).is_overdue());
        }
        assert_eq!(
            MeetingState::of_stored("scheduled", day(3), Some(day(3)), day(2)).word(),
            "booked"
        );
        assert_eq!(
            MeetingState::of_stored("nonsense", day(3), None, day(20)).word(),
            "cancelled"
        );
    }

    #[test]
    fn meetings_are_named_by_their_level() {
        assert_eq!(
            MeetingKind::Level(Level::Time).name(),
            "Coaching Time meeting"
        );
        assert_eq!(
            MeetingKind::of_stored(Level::Provision, "team").name(),
            "Bespoke Provision Map team meeting"
        );
        assert_eq!(
            MeetingKind::of_stored(Level::Provision, "planning").name(),
            "Bespoke Provision Map planning session"
        );
        assert_eq!(
            MeetingKind::BlockReview(ProgrammeBlock::FourWeek).name(),
            "Coaching Programme block review (4-week block)"
        );
        assert_eq!(
            meeting_now_due(Level::Time, day(3)),
            "A Coaching Time meeting is now due, by Thu 3 Dec 2026."
        );
        assert_eq!(
            meeting_now_due(Level::Programme, day(3)),
            "The Coaching Programme block review is now due, by Thu 3 Dec 2026."
        );
    }
}
