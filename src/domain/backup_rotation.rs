//! The pure rules of the nightly backups `steadfast serve` takes: when the next one is due
//! (an hour of the day, school time), what the files are called, and which to keep once a
//! new one is written (so many daily, weekly and monthly backups, grandfather-father-son).

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Datelike, NaiveDate, NaiveTime, TimeZone, Utc};

use super::calendar::SCHOOL_TZ;

/// How many backups rotation keeps of each kind. A backup counted under one kind is kept
/// whatever the others say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// The newest backup of each of this many most recent days that have one.
    pub daily: u32,
    /// The newest backup of each of this many most recent weeks (Monday to Sunday).
    pub weekly: u32,
    /// The newest backup of each of this many most recent calendar months.
    pub monthly: u32,
}

impl Default for Retention {
    /// 7 daily, 4 weekly and 12 monthly backups.
    fn default() -> Self {
        Retention {
            daily: 7,
            weekly: 4,
            monthly: 12,
        }
    }
}

/// Which of the backups `present` (by the day each was taken) rotation keeps on `today`:
///
/// - the newest backup of each of the `daily` most recent days that have one, of each of the
///   `weekly` most recent weeks and of each of the `monthly` most recent months (counting
///   periods that hold a backup, so days without one, such as while the service was stopped,
///   do not use up the allowance);
/// - always the newest backup, whatever the figures;
/// - always a backup dated after `today` (a clock that was set wrong must not delete).
///
/// A backup is deleted only when no rule keeps it: one kept as a month's backup stays after
/// it has grown too old to be a daily one.
pub fn backups_to_keep(
    present: &[NaiveDate],
    today: NaiveDate,
    retention: Retention,
) -> BTreeSet<NaiveDate> {
    let mut keep: BTreeSet<NaiveDate> = present.iter().copied().filter(|d| *d > today).collect();
    let past: BTreeSet<NaiveDate> = present.iter().copied().filter(|d| *d <= today).collect();
    let newest_of_each = |period: fn(NaiveDate) -> (i32, u32, u32), count: u32| {
        let mut newest: BTreeMap<(i32, u32, u32), NaiveDate> = BTreeMap::new();
        for day in &past {
            // `past` is in date order, so the last one seen in a period is its newest.
            newest.insert(period(*day), *day);
        }
        newest
            .into_values()
            .rev()
            .take(count as usize)
            .collect::<Vec<_>>()
    };
    keep.extend(newest_of_each(
        |d| (d.year(), d.month(), d.day()),
        retention.daily,
    ));
    keep.extend(newest_of_each(
        |d| {
            let week = d.iso_week();
            (week.year(), week.week(), 0)
        },
        retention.weekly,
    ));
    keep.extend(newest_of_each(
        |d| (d.year(), d.month(), 0),
        retention.monthly,
    ));
    keep.extend(past.last().copied());
    keep
}

/// Reads a time of day written `HH:MM` (24-hour clock), such as `02:00`.
pub fn parse_time_of_day(text: &str) -> Result<NaiveTime, String> {
    NaiveTime::parse_from_str(text.trim(), "%H:%M")
        .map_err(|_| format!("{text:?} is not a time of day written HH:MM, such as 02:00"))
}

/// The first instant after `now` when the school's clock (Europe/London) shows `at`. On the
/// day the clocks go forward and `at` does not exist, it is the first instant after the gap;
/// on the day they go back and `at` comes twice, it is the first of the two.
pub fn next_run(now: DateTime<Utc>, at: NaiveTime) -> DateTime<Utc> {
    let today = now.with_timezone(&SCHOOL_TZ).date_naive();
    let mut day = today;
    loop {
        let local = day.and_time(at);
        let instant = SCHOOL_TZ
            .from_local_datetime(&local)
            .earliest()
            .or_else(|| {
                // In the hour the clocks skip: the same wall-clock time an hour on is real.
                SCHOOL_TZ
                    .from_local_datetime(&(local + chrono::TimeDelta::hours(1)))
                    .earliest()
            })
            .map(|t| t.with_timezone(&Utc));
        if let Some(instant) = instant.filter(|t| *t > now) {
            return instant;
        }
        day = day.succ_opt().unwrap_or(day);
        if day == today {
            // The end of chrono's calendar: nothing later exists.
            return now;
        }
    }
}

/// How a nightly backup's file name starts.
const NIGHTLY_PREFIX: &str = "steadfast-nightly-";
/// How a backup taken before an upgrade's file name starts.
const UPGRADE_PREFIX: &str = "steadfast-before-upgrade-";
/// The ending of an encrypted backup's file name (the format of `age`).
pub const ENCRYPTED_SUFFIX: &str = ".age";

/// The file name ending of a backup of each engine: a SQLite database, or a PostgreSQL
/// custom-format archive.
pub fn engine_suffix(postgres: bool) -> &'static str {
    if postgres {
        ".pgdump"
    } else {
        ".db"
    }
}

/// The file name of the nightly backup taken on `day` (school time).
pub fn nightly_file_name(day: NaiveDate, postgres: bool, encrypted: bool) -> String {
    format!(
        "{NIGHTLY_PREFIX}{}{}{}",
        day.format("%Y-%m-%d"),
        engine_suffix(postgres),
        if encrypted { ENCRYPTED_SUFFIX } else { "" }
    )
}

/// The day of a nightly backup from its file name, or `None` for any other file (a backup
/// taken before an upgrade, a checksum file, a partly written backup) which rotation leaves
/// alone.
pub fn nightly_day(file_name: &str) -> Option<NaiveDate> {
    let rest = file_name.strip_prefix(NIGHTLY_PREFIX)?;
    let (day, ending) = rest.split_at_checked(10)?;
    let day = NaiveDate::parse_from_str(day, "%Y-%m-%d").ok()?;
    let ending = ending.strip_suffix(ENCRYPTED_SUFFIX).unwrap_or(ending);
    [engine_suffix(false), engine_suffix(true)]
        .contains(&ending)
        .then_some(day)
}

/// The file name of the backup taken at `at` before migrating a database whose newest
/// migration is `from_version`, so it reads as the one from before that upgrade.
pub fn upgrade_file_name(
    at: DateTime<Utc>,
    from_version: &str,
    postgres: bool,
    encrypted: bool,
) -> String {
    let version: String = from_version
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect();
    format!(
        "{UPGRADE_PREFIX}{}-from-{}{}{}",
        at.format("%Y-%m-%dT%H%M%SZ"),
        if version.is_empty() {
            "unknown"
        } else {
            &version
        },
        engine_suffix(postgres),
        if encrypted { ENCRYPTED_SUFFIX } else { "" }
    )
}

/// Whether a file name is that of a backup Steadfast took by itself (nightly, or before an
/// upgrade), for listing the backups folder.
pub fn is_automatic_backup(file_name: &str) -> bool {
    let ending_ok = |name: &str| {
        let name = name.strip_suffix(ENCRYPTED_SUFFIX).unwrap_or(name);
        name.ends_with(engine_suffix(false)) || name.ends_with(engine_suffix(true))
    };
    nightly_day(file_name).is_some()
        || (file_name.starts_with(UPGRADE_PREFIX) && ending_ok(file_name))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap()
    }

    /// Runs the nightly backups from `first` to `last`, one a day, rotating after each.
    fn simulate(first: NaiveDate, last: NaiveDate, retention: Retention) -> Vec<NaiveDate> {
        let mut present = Vec::new();
        let mut today = first;
        while today <= last {
            present.push(today);
            present = backups_to_keep(&present, today, retention)
                .into_iter()
                .collect();
            today = today.succ_opt().unwrap();
        }
        present
    }

    #[test]
    fn a_year_of_nightly_backups_leaves_seven_days_four_sundays_and_twelve_month_ends() {
        let kept = simulate(day(2025, 1, 1), day(2026, 3, 18), Retention::default());
        let expected: BTreeSet<NaiveDate> = [
            // The last seven days (Thursday 12 to Wednesday 18 March 2026).
            day(2026, 3, 12),
            day(2026, 3, 13),
            day(2026, 3, 14),
            day(2026, 3, 15),
            day(2026, 3, 16),
            day(2026, 3, 17),
            day(2026, 3, 18),
            // Four weeks: this one (its newest so far is today), then the three Sundays
            // before: the 15th (a daily too), the 8th and the 1st.
            day(2026, 3, 8),
            day(2026, 3, 1),
            // Twelve months: this one (today), then the last day of the eleven before.
            day(2026, 2, 28),
            day(2026, 1, 31),
            day(2025, 12, 31),
            day(2025, 11, 30),
            day(2025, 10, 31),
            day(2025, 9, 30),
            day(2025, 8, 31),
            day(2025, 7, 31),
            day(2025, 6, 30),
            day(2025, 5, 31),
            day(2025, 4, 30),
        ]
        .into_iter()
        .collect();
        assert_eq!(kept.into_iter().collect::<BTreeSet<_>>(), expected);
    }

    #[test]
    fn a_month_end_kept_as_monthly_is_not_deleted_as_an_old_daily() {
        // 31 January is eight days old: too old to be a daily, kept as January's backup.
        let present = [
            day(2026, 1, 30),
            day(2026, 1, 31),
            day(2026, 2, 1),
            day(2026, 2, 2),
            day(2026, 2, 3),
            day(2026, 2, 4),
            day(2026, 2, 5),
            day(2026, 2, 6),
            day(2026, 2, 7),
        ];
        let kept = backups_to_keep(&present, day(2026, 2, 8), Retention::default());
        assert!(kept.contains(&day(2026, 1, 31)));
        assert!(!kept.contains(&day(2026, 1, 30)));
        // Only dailies wanted: January's last is gone.
        let dailies = Retention {
            daily: 7,
            weekly: 0,
            monthly: 0,
        };
        let kept = backups_to_keep(&present, day(2026, 2, 8), dailies);
        assert_eq!(kept.len(), 7);
        assert!(!kept.contains(&day(2026, 1, 31)));
    }

    #[test]
    fn the_newest_is_kept_even_when_nothing_is_to_be_kept() {
        let none = Retention {
            daily: 0,
            weekly: 0,
            monthly: 0,
        };
        let present = [day(2025, 6, 1), day(2024, 1, 1)];
        let kept = backups_to_keep(&present, day(2026, 1, 1), none);
        assert_eq!(kept, [day(2025, 6, 1)].into_iter().collect());
        assert!(backups_to_keep(&[], day(2026, 1, 1), none).is_empty());
    }

    #[test]
    fn days_without_a_backup_do_not_use_up_the_dailies() {
        // The service was stopped for a fortnight: the seven before the gap are still kept.
        let mut present: Vec<NaiveDate> = (1..=10).map(|d| day(2026, 5, d)).collect();
        present.push(day(2026, 5, 25));
        let only_daily = Retention {
            daily: 7,
            weekly: 0,
            monthly: 0,
        };
        let kept = backups_to_keep(&present, day(2026, 5, 25), only_daily);
        let expected: BTreeSet<NaiveDate> = (5..=10)
            .map(|d| day(2026, 5, d))
            .chain([day(2026, 5, 25)])
            .collect();
        assert_eq!(kept, expected);
    }

    #[test]
    fn a_backup_dated_after_today_is_kept() {
        let present = [day(2026, 5, 1), day(2027, 1, 1)];
        let none = Retention {
            daily: 0,
            weekly: 0,
            monthly: 0,
        };
        let kept = backups_to_keep(&present, day(2026, 5, 2), none);
        assert_eq!(kept, present.into_iter().collect());
    }

    #[test]
    fn the_next_run_is_at_the_hour_school_time() {
        let two = NaiveTime::from_hms_opt(2, 0, 0).unwrap();
        // Winter (GMT): 02:00 London is 02:00 UTC, tonight or tomorrow night.
        assert_eq!(
            next_run(utc(2026, 1, 10, 1, 59), two),
            utc(2026, 1, 10, 2, 0)
        );
        assert_eq!(
            next_run(utc(2026, 1, 10, 2, 0), two),
            utc(2026, 1, 11, 2, 0)
        );
        assert_eq!(
            next_run(utc(2026, 1, 10, 14, 0), two),
            utc(2026, 1, 11, 2, 0)
        );
        // Summer (BST): 02:00 London is 01:00 UTC.
        assert_eq!(next_run(utc(2026, 7, 1, 12, 0), two), utc(2026, 7, 2, 1, 0));
        // 23:30 UTC on 1 July is already 2 July in London: its 02:00 is 90 minutes away.
        assert_eq!(
            next_run(utc(2026, 7, 1, 23, 30), two),
            utc(2026, 7, 2, 1, 0)
        );
    }

    #[test]
    fn the_next_run_survives_the_clock_changes() {
        // 29 March 2026: 01:00 GMT becomes 02:00 BST, so 01:30 does not exist that night.
        let half_one = NaiveTime::from_hms_opt(1, 30, 0).unwrap();
        assert_eq!(
            next_run(utc(2026, 3, 28, 12, 0), half_one),
            utc(2026, 3, 29, 1, 30)
        );
        // 25 October 2026: 02:00 BST becomes 01:00 GMT, so 01:30 comes twice: the first.
        assert_eq!(
            next_run(utc(2026, 10, 24, 12, 0), half_one),
            utc(2026, 10, 25, 0, 30)
        );
        let two = NaiveTime::from_hms_opt(2, 0, 0).unwrap();
        assert_eq!(
            next_run(utc(2026, 3, 28, 12, 0), two),
            utc(2026, 3, 29, 1, 0)
        );
    }

    #[test]
    fn times_of_day_are_read_as_hours_and_minutes() {
        assert_eq!(
            parse_time_of_day("02:00"),
            Ok(NaiveTime::from_hms_opt(2, 0, 0).unwrap())
        );
        assert_eq!(
            parse_time_of_day(" 23:45 "),
            Ok(NaiveTime::from_hms_opt(23, 45, 0).unwrap())
        );
        for bad in ["", "2", "24:00", "02:60", "two", "02:00:00"] {
            assert!(parse_time_of_day(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn file_names_tell_nightly_backups_from_every_other_file() {
        let d = day(2026, 12, 6);
        assert_eq!(
            nightly_file_name(d, false, false),
            "steadfast-nightly-2026-12-06.db"
        );
        assert_eq!(
            nightly_file_name(d, true, true),
            "steadfast-nightly-2026-12-06.pgdump.age"
        );
        for encrypted in [false, true] {
            for postgres in [false, true] {
                assert_eq!(
                    nightly_day(&nightly_file_name(d, postgres, encrypted)),
                    Some(d)
                );
            }
        }
        for other in [
            "steadfast-nightly-2026-12-06.db.sha256",
            "steadfast-nightly-2026-12-06.db.partial",
            "steadfast-nightly-2026-13-06.db",
            "steadfast-nightly-2026-12-06",
            "steadfast-nightly-.db",
            "nightly-status.json",
            "my-own-copy.db",
        ] {
            assert_eq!(nightly_day(other), None, "{other}");
            assert!(!is_automatic_backup(other), "{other}");
        }
        let upgrade = upgrade_file_name(utc(2026, 12, 6, 19, 5), "20261206000016", false, false);
        assert_eq!(
            upgrade,
            "steadfast-before-upgrade-2026-12-06T190500Z-from-20261206000016.db"
        );
        assert_eq!(nightly_day(&upgrade), None);
        assert!(is_automatic_backup(&upgrade));
        assert!(is_automatic_backup(&nightly_file_name(d, false, true)));
        // A version cannot put a path into the name.
        assert!(!upgrade_file_name(utc(2026, 1, 1, 0, 0), "../x", true, true).contains('/'));
    }

    fn arb_days() -> impl Strategy<Value = Vec<NaiveDate>> {
        prop::collection::vec(0i64..800, 0..120).prop_map(|offsets| {
            offsets
                .into_iter()
                .map(|o| day(2024, 1, 1) + chrono::TimeDelta::days(o))
                .collect()
        })
    }

    fn arb_retention() -> impl Strategy<Value = Retention> {
        (0u32..10, 0u32..6, 0u32..14).prop_map(|(daily, weekly, monthly)| Retention {
            daily,
            weekly,
            monthly,
        })
    }

    proptest! {
        #[test]
        fn rotation_keeps_the_newest_and_only_what_is_present(
            present in arb_days(), today_offset in 0i64..800, retention in arb_retention()
        ) {
            let today = day(2024, 1, 1) + chrono::TimeDelta::days(today_offset);
            let kept = backups_to_keep(&present, today, retention);
            let all: BTreeSet<NaiveDate> = present.iter().copied().collect();
            prop_assert!(kept.is_subset(&all));
            if let Some(newest) = all.last() {
                prop_assert!(kept.contains(newest));
            }
            let future = all.iter().filter(|d| **d > today).count();
            prop_assert!(
                kept.len() <= future + 1 + (retention.daily + retention.weekly + retention.monthly) as usize
            );
            // The newest `daily` days up to today are all kept.
            for d in all.iter().filter(|d| **d <= today).rev().take(retention.daily as usize) {
                prop_assert!(kept.contains(d));
            }
        }

        #[test]
        fn rotating_again_deletes_nothing_more(
            present in arb_days(), today_offset in 0i64..800, retention in arb_retention()
        ) {
            let today = day(2024, 1, 1) + chrono::TimeDelta::days(today_offset);
            let kept: Vec<NaiveDate> = backups_to_keep(&present, today, retention).into_iter().collect();
            let again: Vec<NaiveDate> = backups_to_keep(&kept, today, retention).into_iter().collect();
            prop_assert_eq!(kept, again);
        }

        #[test]
        fn nightly_rotation_always_holds_a_backup_of_each_recent_month(
            start in 0i64..365, days in 1i64..500, retention in arb_retention()
        ) {
            let first = day(2024, 1, 1) + chrono::TimeDelta::days(start);
            let last = first + chrono::TimeDelta::days(days);
            let kept = simulate(first, last, retention);
            // Every month among the `monthly` most recent still has its last backup.
            let mut month = (last.year(), last.month());
            for _ in 0..retention.monthly {
                let month_end = day(month.0, month.1, 1)
                    .checked_add_months(chrono::Months::new(1))
                    .and_then(|next| next.pred_opt())
                    .unwrap();
                let newest_of_month = month_end.min(last);
                if newest_of_month >= first {
                    prop_assert!(kept.contains(&newest_of_month), "{} missing from {:?}", newest_of_month, kept);
                }
                month = if month.1 == 1 { (month.0 - 1, 12) } else { (month.0, month.1 - 1) };
            }
        }
    }
}
