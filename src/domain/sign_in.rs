//! The rules of signing in: how long a session lives (idle and at most), and how long a run of
//! failed sign-ins makes the next attempt wait.

use std::ops::RangeInclusive;

use chrono::{NaiveDateTime, TimeDelta};

use crate::error::{Error, Result};

/// How long a school's sessions last: ended after `idle_minutes` without use, and
/// `lifetime_hours` after signing in whatever the use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionLimits {
    pub idle_minutes: i32,
    pub lifetime_hours: i32,
}

impl SessionLimits {
    /// An hour idle, a school day and an evening at most.
    pub const DEFAULT: SessionLimits = SessionLimits {
        idle_minutes: 60,
        lifetime_hours: 12,
    };
    /// The idle timeouts a school may choose, in minutes.
    pub const IDLE_MINUTES: RangeInclusive<i32> = 5..=480;
    /// The absolute lifetimes a school may choose, in hours (a week at most).
    pub const LIFETIME_HOURS: RangeInclusive<i32> = 1..=168;

    /// Checks limits a school chose, naming the field at fault.
    pub fn new(idle_minutes: i32, lifetime_hours: i32) -> Result<Self> {
        if !Self::IDLE_MINUTES.contains(&idle_minutes) {
            return Err(Error::invalid(
                "session_idle_minutes",
                format!(
                    "an idle timeout is between {} and {} minutes",
                    Self::IDLE_MINUTES.start(),
                    Self::IDLE_MINUTES.end()
                ),
            ));
        }
        if !Self::LIFETIME_HOURS.contains(&lifetime_hours) {
            return Err(Error::invalid(
                "session_lifetime_hours",
                format!(
                    "a session's longest life is between {} and {} hours",
                    Self::LIFETIME_HOURS.start(),
                    Self::LIFETIME_HOURS.end()
                ),
            ));
        }
        if i64::from(idle_minutes) > i64::from(lifetime_hours) * 60 {
            return Err(Error::invalid(
                "session_idle_minutes",
                "the idle timeout cannot be longer than a session's longest life",
            ));
        }
        Ok(SessionLimits {
            idle_minutes,
            lifetime_hours,
        })
    }

    /// Whether a session begun at `created` and last used at `last_seen` is still alive at
    /// `now`.
    pub fn is_alive(
        &self,
        created: NaiveDateTime,
        last_seen: NaiveDateTime,
        now: NaiveDateTime,
    ) -> bool {
        now - last_seen < TimeDelta::minutes(i64::from(self.idle_minutes))
            && now - created < TimeDelta::hours(i64::from(self.lifetime_hours))
    }
}

/// How often a session's "last used" time is written: a session in use is touched at most
/// once a minute, so reading pages does not write on every request.
pub const SESSION_TOUCH_EVERY: TimeDelta = TimeDelta::minutes(1);

/// How failed sign-ins slow the next attempt: the first `free_failures` cost nothing; each
/// one after makes the next attempt wait, twice as long each time, up to `longest_wait`.
/// A run of failures is forgotten after `forgotten_after` without another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Throttle {
    pub free_failures: i32,
    pub first_wait: TimeDelta,
    pub longest_wait: TimeDelta,
    pub forgotten_after: TimeDelta,
}

/// The limits on sign-ins, per account (the address typed, known or not) and per client
/// address alike: five failures, then 30 seconds, a minute, two, ... up to 15 minutes.
pub const SIGN_IN_THROTTLE: Throttle = Throttle {
    free_failures: 5,
    first_wait: TimeDelta::seconds(30),
    longest_wait: TimeDelta::minutes(15),
    forgotten_after: TimeDelta::hours(1),
};

/// A run of failed attempts under one key, as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FailureRun {
    pub failures: i32,
    pub last_failed_at: NaiveDateTime,
    pub locked_until: Option<NaiveDateTime>,
}

impl Throttle {
    /// How long an attempt at `now` must still wait, given the stored run (if any): `None`
    /// when it may go ahead.
    pub fn wait(&self, run: Option<&FailureRun>, now: NaiveDateTime) -> Option<TimeDelta> {
        let until = run?.locked_until?;
        (until > now).then(|| until - now)
    }

    /// The run after one more failure at `now`: counted on from the stored run unless that
    /// is forgotten, and locked when past the free failures.
    pub fn after_failure(&self, run: Option<&FailureRun>, now: NaiveDateTime) -> FailureRun {
        let earlier = run
            .filter(|run| now - run.last_failed_at < self.forgotten_after)
            .map_or(0, |run| run.failures);
        let failures = earlier.saturating_add(1);
        let locked_until = (failures >= self.free_failures).then(|| {
            let doublings = (failures - self.free_failures).min(16) as u32;
            let wait = self
                .first_wait
                .checked_mul(1 << doublings)
                .unwrap_or(self.longest_wait)
                .min(self.longest_wait);
            now + wait
        });
        FailureRun {
            failures,
            last_failed_at: now,
            locked_until,
        }
    }
}

/// Whole seconds to wait, rounded up, for a `Retry-After` header and the sign-in page.
pub fn retry_after_seconds(wait: TimeDelta) -> i64 {
    let millis = wait.num_milliseconds().max(0);
    (millis + 999) / 1000
}

/// A wait in plain words: "30 seconds", "2 minutes".
pub fn wait_in_words(seconds: i64) -> String {
    let plural = |n: i64, unit: &str| format!("{n} {unit}{}", if n == 1 { "" } else { "s" });
    if seconds < 90 {
        plural(seconds.max(1), "second")
    } else {
        plural((seconds + 59) / 60, "minute")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn at(minute: u32, second: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(2026, 12, 7)
            .and_then(|d| d.and_hms_opt(9, minute, second))
            .unwrap()
    }

    #[test]
    fn a_session_ends_when_idle_too_long_or_too_old() {
        let limits = SessionLimits::DEFAULT;
        let start = at(0, 0);
        assert!(limits.is_alive(start, start, at(59, 59)));
        assert!(!limits.is_alive(start, start, at(59, 59) + TimeDelta::seconds(1)));
        let later = start + TimeDelta::hours(11);
        assert!(limits.is_alive(start, later, later + TimeDelta::minutes(30)));
        assert!(!limits.is_alive(start, later, start + TimeDelta::hours(12)));
    }

    #[test]
    fn session_limits_stay_within_sensible_bounds() {
        assert_eq!(SessionLimits::new(60, 12).unwrap(), SessionLimits::DEFAULT);
        let field = |idle, life| {
            SessionLimits::new(idle, life)
                .unwrap_err()
                .field()
                .map(str::to_string)
        };
        assert_eq!(field(4, 12).as_deref(), Some("session_idle_minutes"));
        assert_eq!(field(60, 0).as_deref(), Some("session_lifetime_hours"));
        assert_eq!(field(60, 169).as_deref(), Some("session_lifetime_hours"));
        assert_eq!(field(120, 1).as_deref(), Some("session_idle_minutes"));
    }

    #[test]
    fn five_failures_are_free_then_waits_double_up_to_a_limit() {
        let throttle = SIGN_IN_THROTTLE;
        let mut run: Option<FailureRun> = None;
        let now = at(0, 0);
        for _ in 0..4 {
            run = Some(throttle.after_failure(run.as_ref(), now));
            assert_eq!(throttle.wait(run.as_ref(), now), None);
        }
        run = Some(throttle.after_failure(run.as_ref(), now));
        assert_eq!(
            throttle.wait(run.as_ref(), now),
            Some(TimeDelta::seconds(30))
        );
        run = Some(throttle.after_failure(run.as_ref(), now));
        assert_eq!(
            throttle.wait(run.as_ref(), now),
            Some(TimeDelta::seconds(60))
        );
        for _ in 0..40 {
            run = Some(throttle.after_failure(run.as_ref(), now));
        }
        assert_eq!(
            throttle.wait(run.as_ref(), now),
            Some(TimeDelta::minutes(15))
        );
        let later = now + TimeDelta::minutes(15);
        assert_eq!(throttle.wait(run.as_ref(), later), None);
    }

    #[test]
    fn a_run_of_failures_is_forgotten_after_an_hour() {
        let throttle = SIGN_IN_THROTTLE;
        let mut run = None;
        for _ in 0..5 {
            run = Some(throttle.after_failure(run.as_ref(), at(0, 0)));
        }
        let much_later = at(0, 0) + TimeDelta::hours(2);
        let next = throttle.after_failure(run.as_ref(), much_later);
        assert_eq!(next.failures, 1);
        assert_eq!(next.locked_until, None);
    }

    #[test]
    fn retry_after_rounds_up_to_whole_seconds() {
        assert_eq!(retry_after_seconds(TimeDelta::milliseconds(1)), 1);
        assert_eq!(retry_after_seconds(TimeDelta::seconds(30)), 30);
        assert_eq!(retry_after_seconds(TimeDelta::seconds(-3)), 0);
        assert_eq!(wait_in_words(1), "1 second");
        assert_eq!(wait_in_words(30), "30 seconds");
        assert_eq!(wait_in_words(900), "15 minutes");
    }
}
