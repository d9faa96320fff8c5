//! Keeping records only as long as the school's retention schedule says. The schedule holds
//! one period per kind of record, with defaults from the IRMS toolkit for schools: behaviour
//! and pastoral records until the pupil's 25th birthday; SEN, Coaching Plan, programme and
//! provision records until their 31st; the audit log 6 years; emails in the outbox 1 year.
//!
//! Only the records of pupils who have left are ever erased, never those of a pupil on roll.
//! A pupil with no recorded date of birth is taken to be as young as their year group at
//! leaving allows, and a year younger still, so their records are kept longer, never shorter.
//!
//! Pure: the schedule, a leaver's dates and today come in; which kinds are due goes out.

use std::collections::BTreeMap;
use std::ops::RangeInclusive;

use chrono::{Datelike, Months, NaiveDate};

use super::details::DetailError;

/// A kind of record the schedule gives a period to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RecordKind {
    /// Incidents and the responses given.
    Incidents,
    /// Recorded Coaching Conversations.
    Conversations,
    /// The pupil's moves between levels.
    LevelHistory,
    /// Suggested moves, open or decided.
    Suggestions,
    /// Meetings at levels 1-3 (Coaching Time) and their records.
    PastoralMeetings,
    /// Meetings at levels 4-6 (Coaching Plan, programme reviews, the provision team) and their
    /// records.
    SupportMeetings,
    /// Coaching Plans, every version.
    CoachingPlans,
    /// Coaching Programme blocks.
    ProgrammeBlocks,
    /// Coaching Programme sessions and their notes.
    ProgrammeSessions,
    /// Provision map items.
    ProvisionItems,
    /// Reviews of provision items.
    ProvisionReviews,
    /// The audit log of who did and read what (every row, whoever it is about).
    AuditLog,
    /// Emails in the outbox (every row, sent or not).
    Outbox,
}

/// How a kind's period is measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Measure {
    /// Kept until the pupil's birthday of this many years, once they have left.
    UntilBirthday,
    /// Kept this many years after the row was written.
    YearsAfterWritten,
}

impl RecordKind {
    /// Every kind, in the order the schedule lists them.
    pub const ALL: [RecordKind; 13] = [
        RecordKind::Incidents,
        RecordKind::Conversations,
        RecordKind::LevelHistory,
        RecordKind::Suggestions,
        RecordKind::PastoralMeetings,
        RecordKind::SupportMeetings,
        RecordKind::CoachingPlans,
        RecordKind::ProgrammeBlocks,
        RecordKind::ProgrammeSessions,
        RecordKind::ProvisionItems,
        RecordKind::ProvisionReviews,
        RecordKind::AuditLog,
        RecordKind::Outbox,
    ];

    /// The kinds that belong to one pupil, in the order they are erased (a record before the
    /// records it hangs from).
    /// Level history goes first, while the incidents and conversations its impact figures
    /// are counted from are still there.
    pub const PUPIL_KINDS: [RecordKind; 11] = [
        RecordKind::LevelHistory,
        RecordKind::Suggestions,
        RecordKind::Conversations,
        RecordKind::Incidents,
        RecordKind::ProgrammeSessions,
        RecordKind::ProgrammeBlocks,
        RecordKind::CoachingPlans,
        RecordKind::PastoralMeetings,
        RecordKind::SupportMeetings,
        RecordKind::ProvisionReviews,
        RecordKind::ProvisionItems,
    ];

    /// The stable name stored in the database and printed by `steadfast retention`.
    pub fn as_str(self) -> &'static str {
        match self {
            RecordKind::Incidents => "incidents",
            RecordKind::Conversations => "conversations",
            RecordKind::LevelHistory => "level_history",
            RecordKind::Suggestions => "suggestions",
            RecordKind::PastoralMeetings => "pastoral_meetings",
            RecordKind::SupportMeetings => "support_meetings",
            RecordKind::CoachingPlans => "coaching_plans",
            RecordKind::ProgrammeBlocks => "programme_blocks",
            RecordKind::ProgrammeSessions => "programme_sessions",
            RecordKind::ProvisionItems => "provision_items",
            RecordKind::ProvisionReviews => "provision_reviews",
            RecordKind::AuditLog => "audit_log",
            RecordKind::Outbox => "outbox",
        }
    }

    /// The kind with this stored name.
    pub fn parse(raw: &str) -> Option<RecordKind> {
        RecordKind::ALL.into_iter().find(|k| k.as_str() == raw)
    }

    /// What people call it.
    pub fn title(self) -> &'static str {
        match self {
            RecordKind::Incidents => "Incidents",
            RecordKind::Conversations => "Coaching Conversations",
            RecordKind::LevelHistory => "Level history",
            RecordKind::Suggestions => "Suggestions and decisions",
            RecordKind::PastoralMeetings => "Coaching Time meetings (levels 1-3)",
            RecordKind::SupportMeetings => "Plan, programme and provision meetings (levels 4-6)",
            RecordKind::CoachingPlans => "Coaching Plans",
            RecordKind::ProgrammeBlocks => "Programme blocks",
            RecordKind::ProgrammeSessions => "Programme sessions",
            RecordKind::ProvisionItems => "Provision items",
            RecordKind::ProvisionReviews => "Provision reviews",
            RecordKind::AuditLog => "Audit log",
            RecordKind::Outbox => "Emails in the outbox",
        }
    }

    /// How its period is measured.
    pub fn measure(self) -> Measure {
        match self {
            RecordKind::AuditLog | RecordKind::Outbox => Measure::YearsAfterWritten,
            _ => Measure::UntilBirthday,
        }
    }

    /// The IRMS toolkit's period: the birthday a pupil's record is kept until, or the years a
    /// row is kept.
    pub fn default_years(self) -> i32 {
        match self {
            RecordKind::Incidents
            | RecordKind::Conversations
            | RecordKind::LevelHistory
            | RecordKind::Suggestions
            | RecordKind::PastoralMeetings => 25,
            RecordKind::SupportMeetings
            | RecordKind::CoachingPlans
            | RecordKind::ProgrammeBlocks
            | RecordKind::ProgrammeSessions
            | RecordKind::ProvisionItems
            | RecordKind::ProvisionReviews => 31,
            RecordKind::AuditLog => 6,
            RecordKind::Outbox => 1,
        }
    }

    /// The periods a school may choose: a pupil's records are kept at least until they are
    /// adults; the audit log and outbox at least a year.
    pub fn allowed_years(self) -> RangeInclusive<i32> {
        match self.measure() {
            Measure::UntilBirthday => 18..=100,
            Measure::YearsAfterWritten => 1..=50,
        }
    }

    /// The kinds that hang from this one and must go first: it waits until they are due too.
    fn held_by(self) -> &'static [RecordKind] {
        match self {
            RecordKind::ProgrammeBlocks => &[RecordKind::ProgrammeSessions],
            RecordKind::ProvisionItems => &[RecordKind::ProvisionReviews],
            _ => &[],
        }
    }
}

/// Reads a period typed for `kind`, refusing one outside the kind's allowed range.
pub fn parse_years(kind: RecordKind, raw: &str) -> Result<i32, DetailError> {
    let allowed = kind.allowed_years();
    let refuse = || DetailError {
        field: kind.as_str(),
        message: format!(
            "type a whole number of years from {} to {}",
            allowed.start(),
            allowed.end()
        ),
    };
    let years: i32 = raw.trim().parse().map_err(|_| refuse())?;
    if allowed.contains(&years) {
        Ok(years)
    } else {
        Err(refuse())
    }
}

/// A school's retention schedule: a period for every kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    years: BTreeMap<RecordKind, i32>,
}

impl Default for Schedule {
    fn default() -> Self {
        Schedule::defaults()
    }
}

impl Schedule {
    /// The IRMS toolkit's periods for every kind.
    pub fn defaults() -> Schedule {
        Schedule {
            years: RecordKind::ALL
                .into_iter()
                .map(|k| (k, k.default_years()))
                .collect(),
        }
    }

    /// The defaults with the school's stored periods over them; a stored period outside the
    /// allowed range keeps the default.
    pub fn from_stored(stored: impl IntoIterator<Item = (RecordKind, i32)>) -> Schedule {
        let mut schedule = Schedule::defaults();
        for (kind, years) in stored {
            if kind.allowed_years().contains(&years) {
                schedule.years.insert(kind, years);
            }
        }
        schedule
    }

    /// Reads a period for every kind from typed text, by each kind's stored name; a kind not
    /// given keeps `current`'s period. The first problem names its field.
    pub fn parse<'a>(
        current: &Schedule,
        typed: impl Fn(&str) -> Option<&'a str>,
    ) -> Result<Schedule, DetailError> {
        let mut schedule = current.clone();
        for kind in RecordKind::ALL {
            if let Some(raw) = typed(kind.as_str()) {
                schedule.years.insert(kind, parse_years(kind, raw)?);
            }
        }
        Ok(schedule)
    }

    /// The period of `kind`.
    pub fn years(&self, kind: RecordKind) -> i32 {
        self.years
            .get(&kind)
            .copied()
            .unwrap_or_else(|| kind.default_years())
    }

    /// Every kind with its period, in schedule order.
    pub fn entries(&self) -> Vec<(RecordKind, i32)> {
        RecordKind::ALL
            .into_iter()
            .map(|k| (k, self.years(k)))
            .collect()
    }

    /// The date before which a row of `kind` (the audit log, the outbox) has expired: rows
    /// written before it are due for erasure. `None` for a pupil's kinds.
    pub fn written_before(&self, kind: RecordKind, today: NaiveDate) -> Option<NaiveDate> {
        (kind.measure() == Measure::YearsAfterWritten)
            .then(|| years_after(today, -self.years(kind)))
    }
}

/// `date` moved by `years` (29 February becomes 1 March in a year without one).
fn years_after(date: NaiveDate, years: i32) -> NaiveDate {
    let months = years.unsigned_abs().saturating_mul(12);
    let moved = if years >= 0 {
        date.checked_add_months(Months::new(months))
    } else {
        date.checked_sub_months(Months::new(months))
    };
    let moved = moved.unwrap_or(date);
    // chrono clamps 29 February to 28 February; the birthday then falls on 1 March.
    if date.month() == 2 && date.day() == 29 && moved.day() == 28 {
        moved.succ_opt().unwrap_or(moved)
    } else {
        moved
    }
}

/// The dates of a pupil who has left, as far as retention goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Leaver {
    /// Their date of birth, when recorded.
    pub date_of_birth: Option<NaiveDate>,
    /// The year group they were in when they left (0 for Reception, 7 for Year 7, …).
    pub year: i16,
    /// The day they left.
    pub left_on: NaiveDate,
}

/// The birth date a pupil's periods are counted from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BirthDate {
    /// Their recorded date of birth.
    Recorded(NaiveDate),
    /// None recorded: the latest their year group at leaving allows, a year later still.
    Assumed(NaiveDate),
}

impl BirthDate {
    /// The date itself.
    pub fn date(self) -> NaiveDate {
        match self {
            BirthDate::Recorded(d) | BirthDate::Assumed(d) => d,
        }
    }
}

/// The year groups for which a birth date can be worked out: Reception (0) to Year 14.
const KNOWN_YEARS: RangeInclusive<i16> = 0..=14;

/// The birth date a leaver's periods are counted from. With none recorded, the latest birth
/// date the year group at leaving allows in England (a pupil in Year N in the school year
/// starting in September S was born by 31 August of S − N − 4), a year later still so that a
/// pupil taught a year above their age is covered: records are kept longer, never shorter. A
/// year group outside Reception to Year 14 counts from the day they left, later than any
/// birth date could be.
pub fn birth_date(leaver: &Leaver) -> BirthDate {
    if let Some(born) = leaver.date_of_birth {
        return BirthDate::Recorded(born);
    }
    if !KNOWN_YEARS.contains(&leaver.year) {
        return BirthDate::Assumed(leaver.left_on);
    }
    let school_year_start = if leaver.left_on.month() >= 9 {
        leaver.left_on.year()
    } else {
        leaver.left_on.year() - 1
    };
    let born_by = school_year_start - i32::from(leaver.year) - 3;
    let latest = NaiveDate::from_ymd_opt(born_by, 8, 31).unwrap_or(leaver.left_on);
    BirthDate::Assumed(latest.min(leaver.left_on))
}

/// The day a leaver's records of `kind` expire: their birthday of the kind's period. `None`
/// for the kinds measured by the age of a row.
pub fn kept_until(schedule: &Schedule, kind: RecordKind, leaver: &Leaver) -> Option<NaiveDate> {
    (kind.measure() == Measure::UntilBirthday)
        .then(|| years_after(birth_date(leaver).date(), schedule.years(kind)))
}

/// The kinds of a left pupil's records due for erasure on `today`, in the order they are
/// erased. A kind is due from the day it expires; a kind that others hang from (a programme
/// block and its sessions, a provision item and its reviews) waits until they are due too.
/// A pupil still on roll (`left_on` empty) has nothing due, whatever their age.
pub fn due_kinds(
    schedule: &Schedule,
    leaver: Option<&Leaver>,
    today: NaiveDate,
) -> Vec<RecordKind> {
    let Some(leaver) = leaver else {
        return Vec::new();
    };
    if today <= leaver.left_on {
        return Vec::new();
    }
    let expired = |kind: RecordKind| kept_until(schedule, kind, leaver).is_some_and(|d| d <= today);
    RecordKind::PUPIL_KINDS
        .into_iter()
        .filter(|kind| expired(*kind) && kind.held_by().iter().all(|k| expired(*k)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn leaver(born: Option<NaiveDate>, year: i16, left_on: NaiveDate) -> Leaver {
        Leaver {
            date_of_birth: born,
            year,
            left_on,
        }
    }

    #[test]
    fn the_defaults_follow_the_irms_toolkit() {
        let schedule = Schedule::defaults();
        for kind in [
            RecordKind::Incidents,
            RecordKind::Conversations,
            RecordKind::LevelHistory,
            RecordKind::Suggestions,
            RecordKind::PastoralMeetings,
        ] {
            assert_eq!(schedule.years(kind), 25, "{kind:?}");
        }
        for kind in [
            RecordKind::SupportMeetings,
            RecordKind::CoachingPlans,
            RecordKind::ProgrammeBlocks,
            RecordKind::ProgrammeSessions,
            RecordKind::ProvisionItems,
            RecordKind::ProvisionReviews,
        ] {
            assert_eq!(schedule.years(kind), 31, "{kind:?}");
        }
        assert_eq!(schedule.years(RecordKind::AuditLog), 6);
        assert_eq!(schedule.years(RecordKind::Outbox), 1);
        assert_eq!(RecordKind::PUPIL_KINDS.len() + 2, RecordKind::ALL.len());
        for kind in RecordKind::ALL {
            assert_eq!(RecordKind::parse(kind.as_str()), Some(kind));
        }
    }

    #[test]
    fn behaviour_goes_at_25_and_sen_records_stay_until_31() {
        let schedule = Schedule::defaults();
        let left = leaver(Some(day(2000, 5, 10)), 11, day(2016, 7, 20));
        assert!(due_kinds(&schedule, Some(&left), day(2025, 5, 9)).is_empty());
        let at_25 = due_kinds(&schedule, Some(&left), day(2025, 5, 10));
        assert_eq!(
            at_25,
            vec![
                RecordKind::LevelHistory,
                RecordKind::Suggestions,
                RecordKind::Conversations,
                RecordKind::Incidents,
                RecordKind::PastoralMeetings,
            ]
        );
        assert_eq!(
            due_kinds(&schedule, Some(&left), day(2031, 5, 9)),
            at_25,
            "SEN records kept until the 31st birthday"
        );
        assert_eq!(
            due_kinds(&schedule, Some(&left), day(2031, 5, 10)),
            RecordKind::PUPIL_KINDS.to_vec()
        );
    }

    #[test]
    fn a_pupil_on_roll_loses_nothing_whatever_their_age() {
        let schedule = Schedule::defaults();
        assert!(due_kinds(&schedule, None, day(2090, 1, 1)).is_empty());
        // Nothing goes before the day after they left, even past every birthday.
        let late = leaver(Some(day(1950, 1, 1)), 13, day(2026, 7, 20));
        assert!(due_kinds(&schedule, Some(&late), day(2026, 7, 20)).is_empty());
        assert_eq!(
            due_kinds(&schedule, Some(&late), day(2026, 7, 21)).len(),
            11
        );
    }

    #[test]
    fn a_block_waits_for_its_sessions_and_an_item_for_its_reviews() {
        let mut schedule = Schedule::defaults();
        schedule.years.insert(RecordKind::ProgrammeBlocks, 20);
        schedule.years.insert(RecordKind::ProvisionItems, 20);
        let left = leaver(Some(day(2000, 1, 1)), 11, day(2016, 7, 20));
        let due = due_kinds(&schedule, Some(&left), day(2022, 1, 1));
        assert!(!due.contains(&RecordKind::ProgrammeBlocks), "{due:?}");
        assert!(!due.contains(&RecordKind::ProvisionItems), "{due:?}");
        schedule.years.insert(RecordKind::ProgrammeSessions, 20);
        let due = due_kinds(&schedule, Some(&left), day(2022, 1, 1));
        assert!(due.contains(&RecordKind::ProgrammeBlocks), "{due:?}");
        // Sessions come before their blocks in the order of erasure.
        let sessions = due.iter().position(|k| *k == RecordKind::ProgrammeSessions);
        let blocks = due.iter().position(|k| *k == RecordKind::ProgrammeBlocks);
        assert!(sessions < blocks);
    }

    #[test]
    fn without_a_birth_date_the_latest_the_year_group_allows_is_assumed_and_a_year_more() {
        // Year 11 in 2025/26 were born from September 2009 to August 2010; a year more covers
        // a pupil taught above their age.
        let left = leaver(None, 11, day(2026, 7, 20));
        assert_eq!(birth_date(&left), BirthDate::Assumed(day(2011, 8, 31)));
        // Leaving in the autumn counts the school year that has begun.
        let autumn = leaver(None, 7, day(2026, 10, 1));
        assert_eq!(birth_date(&autumn), BirthDate::Assumed(day(2016, 8, 31)));
        // Every real member of the year group is born on or before the assumed date, so
        // nothing is erased sooner than with their real birth date.
        let schedule = Schedule::defaults();
        for real in [day(2009, 9, 1), day(2010, 8, 31)] {
            let known = leaver(Some(real), 11, day(2026, 7, 20));
            for kind in RecordKind::PUPIL_KINDS {
                assert!(kept_until(&schedule, kind, &left) >= kept_until(&schedule, kind, &known));
            }
        }
        // An unknown year group counts from the day they left.
        let odd = leaver(None, 40, day(2026, 7, 20));
        assert_eq!(birth_date(&odd), BirthDate::Assumed(day(2026, 7, 20)));
        let recorded = leaver(Some(day(2010, 1, 2)), 11, day(2026, 7, 20));
        assert_eq!(birth_date(&recorded), BirthDate::Recorded(day(2010, 1, 2)));
    }

    #[test]
    fn a_leap_day_birthday_falls_on_the_first_of_march() {
        let left = leaver(Some(day(2004, 2, 29)), 11, day(2020, 7, 20));
        assert_eq!(
            kept_until(&Schedule::defaults(), RecordKind::Incidents, &left),
            Some(day(2029, 3, 1))
        );
    }

    #[test]
    fn the_audit_log_and_outbox_are_counted_from_each_row() {
        let schedule = Schedule::defaults();
        let today = day(2026, 12, 6);
        assert_eq!(
            schedule.written_before(RecordKind::AuditLog, today),
            Some(day(2020, 12, 6))
        );
        assert_eq!(
            schedule.written_before(RecordKind::Outbox, today),
            Some(day(2025, 12, 6))
        );
        assert_eq!(schedule.written_before(RecordKind::Incidents, today), None);
    }

    #[test]
    fn periods_are_read_with_their_bounds() {
        let current = Schedule::defaults();
        let typed = [("incidents", " 30 "), ("outbox", "2")];
        let read = Schedule::parse(&current, |name| {
            typed.iter().find(|(n, _)| *n == name).map(|(_, v)| *v)
        })
        .unwrap();
        assert_eq!(read.years(RecordKind::Incidents), 30);
        assert_eq!(read.years(RecordKind::Outbox), 2);
        assert_eq!(read.years(RecordKind::CoachingPlans), 31);
        for (name, raw) in [("incidents", "17"), ("audit_log", "0"), ("outbox", "one")] {
            let problem = Schedule::parse(&current, |n| (n == name).then_some(raw)).unwrap_err();
            assert_eq!(problem.field, name);
            assert!(
                problem.message.contains("whole number of years"),
                "{problem:?}"
            );
        }
        // A stored period out of bounds keeps the default.
        let stored = Schedule::from_stored([(RecordKind::Incidents, 3)]);
        assert_eq!(stored.years(RecordKind::Incidents), 25);
    }
}
