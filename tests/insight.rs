//! The insight reports' arithmetic on both engines: the per-pupil per-day counts kept with
//! every incident (and undone with it), incidents grouped and rated per 100 pupils per school
//! day with holidays left out of the denominator, and the before/after windows of a step that
//! straddle a half term.

mod common;

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use diesel::prelude::*;

use common::{both_engines, spawn_app, Engine, Role, TestApp};
use steadfast::db::decisions::{self, ManualMove};
use steadfast::db::evaluation::{self, SchoolRules};
use steadfast::db::incidents;
use steadfast::db::insight::{self, Scope};
use steadfast::db::models::School;
use steadfast::db::notices::NoticeContext;
use steadfast::db::schema::pupil_day_incidents;
use steadfast::db::staff::StaffMember;
use steadfast::db::{schools, write_transaction, DbConnection};
use steadfast::domain::incident::{IncidentSubmission, NewIncident};
use steadfast::domain::insight::{
    rate_per_100, school_days_in, summarise_by, tally, Dimension, NOT_RECORDED,
};
use steadfast::domain::timetable::Timetable;
use steadfast::domain::{Closure, ClosureKind, Level};

struct Setting {
    app: TestApp,
    school: School,
    teacher: StaffMember,
    slt: StaffMember,
}

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

/// 10:00 London on `day` (GMT in these weeks, BST in October).
fn ten_am(day: NaiveDate) -> DateTime<Utc> {
    steadfast::domain::SCHOOL_TZ
        .from_local_datetime(&day.and_hms_opt(10, 0, 0).unwrap())
        .unwrap()
        .with_timezone(&Utc)
}

impl Setting {
    /// A school with October half term (27-31 October 2025).
    async fn new(engine: Engine) -> Setting {
        let app = spawn_app(engine).await;
        let school = app.create_school("NORTH", "North Academy");
        schools::add_closure(
            &mut app.conn(),
            school.id,
            &Closure {
                starts_on: date(2025, 10, 27),
                ends_on: date(2025, 10, 31),
                kind: ClosureKind::Holiday,
                name: "October half term".into(),
            },
        )
        .unwrap();
        let teacher = app.create_staff(
            &school,
            "teacher@north.example",
            "Kim Teach",
            &[Role::ClassStaff],
            None,
        );
        let slt = app.create_staff(
            &school,
            "slt@north.example",
            "Sam Okafor",
            &[Role::Slt],
            None,
        );
        Setting {
            app,
            school,
            teacher,
            slt,
        }
    }

    fn run<T>(
        &self,
        work: impl FnOnce(&mut DbConnection, &SchoolRules) -> steadfast::error::Result<T>,
    ) -> T {
        let mut conn = self.app.conn();
        let school_id = self.school.id;
        write_transaction(&mut conn, |c| {
            let rules = evaluation::load_rules(c, school_id)?;
            work(c, &rules)
        })
        .unwrap()
    }

    fn log(
        &self,
        pupil_ids: &[i64],
        at: DateTime<Utc>,
        behaviour: &str,
        location: Option<&str>,
    ) -> i64 {
        let new = NewIncident::parse(
            &IncidentSubmission {
                pupil_ids,
                behaviour,
                severity: Some("minor"),
                response: Some("none"),
                occurred_at: Some(at),
                location,
                ..Default::default()
            },
            at,
        )
        .unwrap();
        self.run(|c, rules| incidents::record(c, self.school.id, self.teacher.id, &new, rules, at))
            .incident
            .id
    }

    fn daily_rows(&self) -> Vec<(i64, NaiveDate, i32)> {
        pupil_day_incidents::table
            .order((pupil_day_incidents::pupil_id, pupil_day_incidents::day))
            .select((
                pupil_day_incidents::pupil_id,
                pupil_day_incidents::day,
                pupil_day_incidents::incidents,
            ))
            .load(&mut *self.app.conn())
            .unwrap()
    }
}

async fn daily_counts_follow_incidents_and_their_undoing(engine: Engine) {
    let s = Setting::new(engine).await;
    let a = s
        .app
        .create_pupil(&s.school, "A100000000001", "Ana", "Bell", 9, "9B")
        .id;
    let b = s
        .app
        .create_pupil(&s.school, "A100000000002", "Ben", "Cole", 9, "9B")
        .id;
    let day = date(2025, 11, 3);
    s.log(&[a, b], ten_am(day), "Off task", None);
    s.log(&[a], ten_am(day), "Off task", None);
    // 23:30 in London on the 4th is still the 4th at school, though it is the 4th in UTC too;
    // in summer time 23:30 on 20 October is 22:30 UTC, the same school date.
    let late = steadfast::domain::SCHOOL_TZ
        .from_local_datetime(&date(2025, 10, 20).and_hms_opt(23, 30, 0).unwrap())
        .unwrap()
        .with_timezone(&Utc);
    let undone = s.log(&[b], late, "Rudeness", None);
    assert_eq!(
        s.daily_rows(),
        vec![(a, day, 2), (b, date(2025, 10, 20), 1), (b, day, 1)]
    );
    s.run(|c, _| incidents::void(c, s.school.id, s.teacher.id, undone, late));
    let kept = s.daily_rows();
    assert_eq!(
        kept,
        vec![(a, day, 2), (b, date(2025, 10, 20), 0), (b, day, 1)]
    );
    // Rebuilding from the incidents gives the same counts (without the emptied day).
    s.run(|c, _| insight::rebuild_daily_counts(c, s.school.id));
    assert_eq!(s.daily_rows(), vec![(a, day, 2), (b, day, 1)]);

    // A database whose incidents predate the counts gets them filled once, at start-up.
    diesel::delete(pupil_day_incidents::table)
        .execute(&mut *s.app.conn())
        .unwrap();
    s.run(|c, _| insight::fill_daily_counts_if_missing(c));
    assert_eq!(s.daily_rows(), vec![(a, day, 2), (b, day, 1)]);
}

async fn patterns_and_rates_leave_holidays_out(engine: Engine) {
    let s = Setting::new(engine).await;
    let mut year_nine = Vec::new();
    for n in 0..4 {
        year_nine.push(
            s.app
                .create_pupil(
                    &s.school,
                    &format!("B10000000000{n}"),
                    "Pat",
                    "Nine",
                    9,
                    "9B",
                )
                .id,
        );
    }
    let year_ten = s
        .app
        .create_pupil(&s.school, "B100000000009", "Ola", "Ten", 10, "10A")
        .id;
    // The two weeks around half term: 20-24 October and 3-7 November are school days.
    s.log(
        &[year_nine[0]],
        ten_am(date(2025, 10, 21)),
        "Off task",
        Some("Room 4"),
    );
    s.log(
        &[year_nine[0], year_nine[1]],
        ten_am(date(2025, 11, 4)),
        "Rudeness",
        Some("Canteen"),
    );
    s.log(&[year_nine[2]], ten_am(date(2025, 11, 5)), "Rudeness", None);
    s.log(
        &[year_ten],
        ten_am(date(2025, 11, 5)),
        "Rudeness",
        Some("Canteen"),
    );
    let (from, to) = (date(2025, 10, 20), date(2025, 11, 7));

    let facts = s.run(|c, _| insight::facts(c, s.school.id, Scope::Year(9), from, to));
    assert_eq!(facts.len(), 4, "one fact per pupil involved, Year 9 only");
    let by_place = tally(&facts, Dimension::Location, &Timetable::standard());
    assert_eq!(by_place[0].key, "Canteen");
    assert_eq!(by_place[0].incidents, 2);
    assert!(by_place
        .iter()
        .any(|g| g.key == NOT_RECORDED && g.incidents == 1));
    let by_behaviour = tally(&facts, Dimension::Behaviour, &Timetable::standard());
    assert_eq!(
        (by_behaviour[0].key.as_str(), by_behaviour[0].incidents),
        ("Rudeness", 3)
    );

    let rules = s.run(|c, _| evaluation::load_rules(c, s.school.id));
    let school_days = school_days_in(&rules.calendar, from, to);
    assert_eq!(school_days, 10, "half term is not in the denominator");
    let pupils = s
        .run(|c, _| insight::pupils_in(c, s.school.id, Scope::Year(9)))
        .len() as u64;
    assert_eq!(pupils, 4);
    // 4 incidents × 100 / (4 pupils × 10 school days) = 10 per 100 pupils per school day.
    assert_eq!(
        rate_per_100(facts.len() as u64, pupils, school_days),
        Some(10.0)
    );

    // The per-day counts give the same totals for the whole school.
    let days = s.run(|c, _| insight::daily_counts(c, s.school.id, Scope::School, from, to));
    let total: u32 = days.iter().map(|(_, n)| n).sum();
    assert_eq!(total, 5);
    let one_pupil =
        s.run(|c, _| insight::daily_counts(c, s.school.id, Scope::Pupil(year_nine[0]), from, to));
    assert_eq!(
        one_pupil,
        vec![(date(2025, 10, 21), 1), (date(2025, 11, 4), 1)]
    );

    // Another school's pupil is not found as a scope.
    let other = s.app.create_school("SOUTH", "South School");
    let stranger = s
        .app
        .create_pupil(&other, "C100000000001", "Zed", "Else", 9, "9Z")
        .id;
    let hidden = {
        let mut conn = s.app.conn();
        insight::reach_of(&mut conn, s.school.id, Scope::Pupil(stranger))
    };
    assert!(hidden.is_err());
}

async fn a_step_is_judged_on_the_school_days_either_side(engine: Engine) {
    let s = Setting::new(engine).await;
    let pupil = s
        .app
        .create_pupil(&s.school, "D100000000001", "Dee", "Step", 9, "9B")
        .id;
    let other = s
        .app
        .create_pupil(&s.school, "D100000000002", "Eve", "Late", 9, "9B")
        .id;
    // Three incidents in the five school days before Monday 3 November (20-24 October, half
    // term between), one on the entry day itself (in neither window), one after.
    for day in [date(2025, 10, 20), date(2025, 10, 22), date(2025, 10, 24)] {
        s.log(&[pupil], ten_am(day), "Off task", None);
    }
    // An incident in half term week would be on no school day: the windows skip that week.
    s.log(&[pupil], ten_am(date(2025, 11, 3)), "Off task", None);
    s.log(&[pupil], ten_am(date(2025, 11, 6)), "Off task", None);
    // Outside the after window (Tue 4 to Mon 10 November): not counted.
    s.log(&[pupil], ten_am(date(2025, 11, 11)), "Off task", None);
    let entered = ten_am(date(2025, 11, 3)) + chrono::TimeDelta::hours(2);
    for id in [pupil, other] {
        let at = if id == pupil {
            entered
        } else {
            ten_am(date(2025, 11, 20))
        };
        s.run(|c, rules| {
            decisions::move_pupil(
                c,
                &s.slt,
                &ManualMove {
                    pupil_id: id,
                    to: Level::Time,
                    reason: "Agreed at the pastoral meeting.",
                    override_gates: true,
                },
                rules,
                &NoticeContext {
                    public_url: "http://127.0.0.1:8080".into(),
                    mail_from: "steadfast@localhost".into(),
                },
                at,
            )
        });
    }
    let rules = s.run(|c, _| evaluation::load_rules(c, s.school.id));
    let entries = s.run(|c, _| {
        insight::entries(
            c,
            s.school.id,
            Scope::School,
            (date(2025, 9, 1), date(2025, 12, 19)),
            &rules.calendar,
            5,
        )
    });
    assert_eq!(entries.len(), 2);
    let judged = entries.iter().find(|e| e.impact.pupil_id == pupil).unwrap();
    assert_eq!(
        judged.impact.windows.before,
        (date(2025, 10, 20), date(2025, 11, 2))
    );
    assert_eq!(
        judged.impact.windows.after,
        (date(2025, 11, 4), date(2025, 11, 10))
    );
    assert_eq!((judged.impact.before, judged.impact.after), (3, 1));
    assert_eq!(judged.delivered_by, Some(s.slt.id));

    // On 21 November the second pupil's after window is still open: one pupil is judged.
    let steps: Vec<_> = entries.iter().map(|e| e.impact.clone()).collect();
    let summary = summarise_by(&steps, date(2025, 11, 21), |e| Some(e.level));
    assert_eq!(summary.len(), 1);
    let (level, figures) = summary[0];
    assert_eq!(level, Level::Time);
    assert_eq!((figures.pupils, figures.before, figures.after), (1, 3, 1));
    assert_eq!(figures.school_days, 5);
    assert!(figures.is_small());

    // The ladder: both pupils at level 3 now; two moves up in the week of 3 and of 17 November.
    let per_level = s.run(|c, _| insight::pupils_per_level(c, s.school.id, Scope::School));
    assert_eq!(per_level[3], 2);
    let moves = s.run(|c, _| {
        insight::level_moves(
            c,
            s.school.id,
            Scope::School,
            date(2025, 11, 3),
            date(2025, 11, 21),
        )
    });
    assert_eq!(moves.len(), 2);
}

both_engines!(
    daily_counts_follow_incidents_and_their_undoing,
    patterns_and_rates_leave_holidays_out,
    a_step_is_judged_on_the_school_days_either_side,
);
