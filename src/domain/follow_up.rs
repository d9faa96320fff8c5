//! When the daily follow-up emails something expected on a day: a meeting (by its state) or a
//! review date of a Coaching Plan or a provision. A notice that the day is coming, a reminder
//! the school day before, and an overdue notice once the day has passed; an old overdue thing
//! found on the first run (after an upgrade, or a long pause) goes in one summary instead of
//! an email of its own. Pure: the caller gives the calendar, today and whether the follow-up
//! has run before for the school.

use chrono::NaiveDate;

use super::calendar::SchoolCalendar;
use super::words::MeetingState;

/// School days before a review date that its "due" notice goes out.
pub const REVIEW_NOTICE_SCHOOL_DAYS: u32 = 5;

/// School days after an overdue thing's day within which its overdue notice still comes on
/// its own (a pause of a day or two in the follow-ups loses nothing); older ones are only
/// ever summarised, once.
pub const OVERDUE_NOTICE_SCHOOL_DAYS: u32 = 3;

/// What the follow-up sends today about one thing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Notice {
    /// Its day is coming (review dates; a meeting's is sent when it is made due).
    Due,
    /// Its day is the next school day.
    Reminder,
    /// Its day has just passed without it being done.
    Overdue,
    /// It has been overdue a long while and the follow-up runs for the first time: a line
    /// in the one summary each person gets.
    InSummary,
}

/// The notice about a meeting in `state` today, if any. A meeting's due notice is sent when
/// it is made due, so only reminders and overdue notices come from here.
pub fn for_meeting(
    state: MeetingState,
    calendar: &SchoolCalendar,
    today: NaiveDate,
    first_run: bool,
) -> Option<Notice> {
    match state {
        MeetingState::Due { by } => reminder(by, calendar, today),
        MeetingState::Booked { on, .. } => reminder(on, calendar, today),
        MeetingState::Overdue(why) => overdue(why.expected_on(), calendar, today, first_run),
        MeetingState::Held | MeetingState::Missed | MeetingState::Cancelled => None,
    }
}

/// The notice about a review to be done by `due_on`, today, if any.
pub fn for_review(
    due_on: NaiveDate,
    calendar: &SchoolCalendar,
    today: NaiveDate,
    first_run: bool,
) -> Option<Notice> {
    if today > due_on {
        return overdue(due_on, calendar, today, first_run);
    }
    reminder(due_on, calendar, today).or_else(|| {
        let notice_from = calendar.sub_school_days(due_on, REVIEW_NOTICE_SCHOOL_DAYS);
        (today >= notice_from && today < due_on).then_some(Notice::Due)
    })
}

/// A reminder on the school day (or days off) before `day`.
fn reminder(day: NaiveDate, calendar: &SchoolCalendar, today: NaiveDate) -> Option<Notice> {
    let from = calendar.sub_school_days(day, 1);
    (today >= from && today < day).then_some(Notice::Reminder)
}

fn overdue(
    expected_on: NaiveDate,
    calendar: &SchoolCalendar,
    today: NaiveDate,
    first_run: bool,
) -> Option<Notice> {
    if calendar.school_days_between(expected_on, today) <= OVERDUE_NOTICE_SCHOOL_DAYS {
        Some(Notice::Overdue)
    } else if first_run {
        Some(Notice::InSummary)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::words::{MeetingStatus, Overdue};

    /// December 2026: the 7th is a Monday.
    fn day(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 12, d).unwrap()
    }

    #[test]
    fn a_meeting_booked_late_is_reminded_not_reported() {
        let calendar = SchoolCalendar::weekdays_only();
        let state = |today| MeetingState::on(MeetingStatus::Scheduled, day(3), Some(day(9)), today);
        assert_eq!(for_meeting(state(day(7)), &calendar, day(7), false), None);
        assert_eq!(
            for_meeting(state(day(8)), &calendar, day(8), false),
            Some(Notice::Reminder)
        );
        assert_eq!(for_meeting(state(day(9)), &calendar, day(9), false), None);
        assert_eq!(
            for_meeting(state(day(10)), &calendar, day(10), false),
            Some(Notice::Overdue)
        );
    }

    #[test]
    fn a_friday_meeting_is_reminded_on_thursday_and_reported_on_monday() {
        let calendar = SchoolCalendar::weekdays_only();
        let due = |today| MeetingState::on(MeetingStatus::Due, day(11), None, today);
        assert_eq!(
            for_meeting(due(day(10)), &calendar, day(10), false),
            Some(Notice::Reminder)
        );
        assert_eq!(
            due(day(14)),
            MeetingState::Overdue(Overdue::NotBooked { was_due: day(11) })
        );
        assert_eq!(
            for_meeting(due(day(14)), &calendar, day(14), false),
            Some(Notice::Overdue)
        );
    }

    #[test]
    fn old_overdue_things_are_summarised_once_on_the_first_run_only() {
        let calendar = SchoolCalendar::weekdays_only();
        let weeks_ago = MeetingState::on(MeetingStatus::Due, day(1), None, day(21));
        assert_eq!(
            for_meeting(weeks_ago, &calendar, day(21), true),
            Some(Notice::InSummary)
        );
        assert_eq!(for_meeting(weeks_ago, &calendar, day(21), false), None);
        // Three school days late still has its own notice, even on a first run.
        let recent = MeetingState::on(MeetingStatus::Due, day(16), None, day(21));
        assert_eq!(
            for_meeting(recent, &calendar, day(21), true),
            Some(Notice::Overdue)
        );
    }

    #[test]
    fn a_review_date_is_announced_reminded_and_reported() {
        let calendar = SchoolCalendar::weekdays_only();
        let due_on = day(18); // a Friday
        assert_eq!(for_review(due_on, &calendar, day(10), false), None);
        assert_eq!(
            for_review(due_on, &calendar, day(11), false),
            Some(Notice::Due)
        );
        assert_eq!(
            for_review(due_on, &calendar, day(16), false),
            Some(Notice::Due)
        );
        assert_eq!(
            for_review(due_on, &calendar, day(17), false),
            Some(Notice::Reminder)
        );
        assert_eq!(for_review(due_on, &calendar, day(18), false), None);
        assert_eq!(
            for_review(due_on, &calendar, day(21), false),
            Some(Notice::Overdue)
        );
        assert_eq!(
            for_review(day(1), &calendar, day(21), true),
            Some(Notice::InSummary)
        );
    }
}
