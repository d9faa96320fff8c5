//! The whole school's pattern report read from the daily groupings kept with each incident,
//! on both engines: the same figures as counting every incident (the report's old
//! computation) over generated incidents, after incidents are undone, changed, erased on
//! request, erased with a pupil by the retention schedule, imported from history, and after
//! the timetable changes; and the groupings kept equal what rebuilding them counts.

mod common;

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use diesel::prelude::*;

use common::{both_engines, spawn_app, Engine, Role, TestApp};
use steadfast::db::evaluation::{self, SchoolRules};
use steadfast::db::history::{self, ResolvedRecord};
use steadfast::db::incidents::{self, IncidentEdit};
use steadfast::db::insight::{self, Scope};
use steadfast::db::models::School;
use steadfast::db::schema::{pupils, school_day_groups};
use steadfast::db::staff::StaffMember;
use steadfast::db::{retention, timetable, write_transaction, DbConnection};
use steadfast::domain::details::Upn;
use steadfast::domain::history::HistoryRecord;
use steadfast::domain::incident::{IncidentSubmission, NewIncident};
use steadfast::domain::rules::{Response, Severity};
use steadfast::domain::timetable::{Day, PeriodDraft};

struct Setting {
    app: TestApp,
    school: School,
    staff: Vec<StaffMember>,
    pupils: Vec<i64>,
}

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

/// A small deterministic generator (no dependency on a random source).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, below: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % below
    }

    fn pick<'a, T>(&mut self, from: &'a [T]) -> &'a T {
        &from[self.next(from.len() as u64) as usize]
    }
}

const BEHAVIOURS: [&str; 5] = [
    "Off task",
    "Rudeness",
    "Late to lesson",
    "Disruption",
    "Refusal",
];
const PLACES: [Option<&str>; 6] = [
    None,
    Some("Corridor"),
    Some(" Corridor "),
    Some(""),
    Some("Canteen"),
    Some("Playground"),
];
const LESSONS: [Option<&str>; 4] = [None, Some("Maths"), Some("English"), Some("  ")];

impl Setting {
    async fn new(engine: Engine) -> Setting {
        let app = spawn_app(engine).await;
        let school = app.create_school("NORTH", "North Academy");
        let staff = (0..3)
            .map(|i| {
                app.create_staff(
                    &school,
                    &format!("teacher{i}@north.example"),
                    &format!("Teacher {i}"),
                    &[Role::ClassStaff, Role::Slt],
                    None,
                )
            })
            .collect();
        let pupils = (0..8)
            .map(|i| {
                app.create_pupil(
                    &school,
                    &format!("A1000000000{:02}", i + 1),
                    &format!("Pupil{i}"),
                    "Test",
                    7 + (i % 3),
                    &format!("{}A", 7 + (i % 3)),
                )
                .id
            })
            .collect();
        Setting {
            app,
            school,
            staff,
            pupils,
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

    /// Logs `n` incidents from autumn 2025 to spring 2026 at all hours, days and places;
    /// answers their ids, who logged each and when.
    fn generate(&self, random: &mut Lcg, n: usize) -> Vec<(i64, i64, DateTime<Utc>)> {
        let start = date(2025, 9, 1);
        let mut logged = Vec::new();
        for _ in 0..n {
            let day = start + Duration::days(random.next(200) as i64);
            let local = day.and_hms_opt(7 + random.next(12) as u32, random.next(60) as u32, 0);
            let at = steadfast::domain::SCHOOL_TZ
                .from_local_datetime(&local.unwrap())
                .earliest()
                .unwrap()
                .with_timezone(&Utc);
            let mut pupil_ids = vec![*random.pick(&self.pupils)];
            if random.next(4) == 0 {
                let other = *random.pick(&self.pupils);
                if !pupil_ids.contains(&other) {
                    pupil_ids.push(other);
                }
            }
            let reporter = random.pick(&self.staff).id;
            let new = NewIncident::parse(
                &IncidentSubmission {
                    pupil_ids: &pupil_ids,
                    behaviour: BEHAVIOURS[random.next(BEHAVIOURS.len() as u64) as usize],
                    severity: Some("minor"),
                    response: Some("none"),
                    occurred_at: Some(at),
                    location: *random.pick(&PLACES),
                    lesson: *random.pick(&LESSONS),
                    ..Default::default()
                },
                at,
            )
            .unwrap();
            let id = self
                .run(|c, rules| incidents::record(c, self.school.id, reporter, &new, rules, at))
                .incident
                .id;
            logged.push((id, reporter, at));
        }
        logged
    }

    /// The report's figures both ways over several ranges: they must be the same.
    fn assert_grouped_equals_counted(&self, when: &str) {
        let school_id = self.school.id;
        let ranges = [
            (date(2025, 9, 1), date(2026, 3, 31)),
            (date(2025, 9, 8), date(2025, 10, 19)),
            (date(2025, 10, 26), date(2025, 10, 26)),
            (date(2026, 1, 5), date(2026, 2, 13)),
            (date(2024, 1, 1), date(2024, 12, 31)),
        ];
        for range in ranges {
            let (grouped, counted) = self.run(|c, _| {
                let timetable = timetable::load(c, school_id)?;
                Ok((
                    insight::school_patterns(c, school_id, range, &timetable)?,
                    insight::patterns_from_facts(c, school_id, Scope::School, range, &timetable)?,
                ))
            });
            assert_eq!(grouped, counted, "{when}: the figures of {range:?}");
            // The page reads the groupings for the whole school.
            let page = self.run(|c, _| {
                let timetable = timetable::load(c, school_id)?;
                insight::patterns(c, school_id, Scope::School, range, &timetable)
            });
            assert_eq!(page, counted, "{when}: the report of {range:?}");
        }
    }

    /// The groupings as kept (empty groups left out), by day, dimension and group.
    fn kept(&self) -> Vec<(NaiveDate, String, String, i32)> {
        school_day_groups::table
            .filter(school_day_groups::school_id.eq(self.school.id))
            .filter(school_day_groups::incidents.ne(0))
            .order((
                school_day_groups::day,
                school_day_groups::dimension,
                school_day_groups::grouping,
            ))
            .select((
                school_day_groups::day,
                school_day_groups::dimension,
                school_day_groups::grouping,
                school_day_groups::incidents,
            ))
            .load(&mut *self.app.conn())
            .unwrap()
    }

    /// The groupings kept as incidents came and went equal those counted again.
    fn assert_kept_equals_rebuilt(&self, when: &str) {
        let kept = self.kept();
        self.run(|c, _| insight::rebuild_groupings(c, self.school.id));
        assert_eq!(kept, self.kept(), "{when}: kept against rebuilt");
    }
}

async fn grouped_figures_equal_counting_every_incident(engine: Engine) {
    let mut s = Setting::new(engine).await;
    let mut random = Lcg(19);
    let logged = s.generate(&mut random, 240);
    assert!(!s.kept().is_empty());
    s.assert_grouped_equals_counted("logged");
    s.assert_kept_equals_rebuilt("logged");

    // Undone, changed and erased on request, each by its author within the window.
    for (i, (id, reporter, at)) in logged.iter().enumerate().take(60) {
        let moment = *at + Duration::minutes(1);
        match i % 3 {
            0 => s.run(|c, _| incidents::void(c, s.school.id, *reporter, *id, moment)),
            1 => s.run(|c, _| {
                incidents::edit(
                    c,
                    s.school.id,
                    *reporter,
                    *id,
                    &IncidentEdit {
                        behaviour: "Refusal".into(),
                        location: Some("Library".into()),
                        lesson: None,
                        note: None,
                    },
                    moment,
                )
            }),
            _ => s.run(|c, _| {
                incidents::erase(c, s.school.id, *reporter, *id, "logged twice", moment).map(|_| ())
            }),
        }
    }
    s.assert_grouped_equals_counted("undone, changed, erased");
    s.assert_kept_equals_rebuilt("undone, changed, erased");

    // A pupil who left long ago is erased by the retention schedule: their incidents stay
    // counted for the whole school, as erased pupils' incidents.
    let leaver = s.pupils.remove(0);
    diesel::update(pupils::table.find(leaver))
        .set((
            pupils::left_on.eq(Some(date(2000, 7, 18))),
            pupils::date_of_birth.eq(Some(date(1984, 3, 1))),
        ))
        .execute(&mut *s.app.conn())
        .unwrap();
    let erased =
        s.run(|c, _| retention::erase_pupil(c, s.school.id, leaver, date(2026, 12, 7), Utc::now()));
    assert!(!erased.is_empty(), "the leaver's records expired");
    s.assert_grouped_equals_counted("a pupil erased");
    s.assert_kept_equals_rebuilt("a pupil erased");

    // Incidents imported from the school's earlier system.
    let records: Vec<HistoryRecord> = (0..30)
        .map(|i| HistoryRecord {
            line: i + 2,
            occurred_at: Utc
                .with_ymd_and_hms(2025, 11, 3 + (i % 20) as u32, 9 + (i % 7) as u32, 5, 0)
                .unwrap(),
            upn: Upn::parse("A100000000002").unwrap(),
            behaviour: BEHAVIOURS[i % BEHAVIOURS.len()].to_string(),
            staff: "Teacher 1".into(),
            location: PLACES[i % PLACES.len()].map(str::to_string),
            lesson: None,
            note: None,
            severity: Severity::Minor,
            response: Response::Prompt,
            key: format!("history-{i}"),
        })
        .collect();
    let resolved: Vec<ResolvedRecord<'_>> = records
        .iter()
        .map(|record| ResolvedRecord {
            record,
            pupil_id: s.pupils[0],
            reporter_id: s.staff[1].id,
            behaviour: record.behaviour.clone(),
        })
        .collect();
    s.run(|c, _| history::insert_incidents(c, s.school.id, &resolved, Utc::now()));
    s.assert_grouped_equals_counted("history imported");

    // A new timetable (two weeks, an early period on Mondays of week A) groups the lesson
    // periods differently: the groupings are counted again with it.
    let monday = Day::parse_key("mon-a").unwrap();
    s.run(|c, _| {
        let next = timetable::lock(c, s.school.id)?
            .with_weeks(Some(date(2025, 9, 1)))
            .with_day(
                monday,
                &[
                    PeriodDraft {
                        name: "Early".into(),
                        starts: "07:00".into(),
                        ends: "09:00".into(),
                    },
                    PeriodDraft {
                        name: "Late".into(),
                        starts: "09:00".into(),
                        ends: "17:30".into(),
                    },
                ],
            )
            .unwrap();
        timetable::save(c, s.school.id, &next, Utc::now())
    });
    s.assert_grouped_equals_counted("new timetable");
    // Logged after the change (rules read afresh), grouped by the new periods.
    s.generate(&mut random, 40);
    s.assert_grouped_equals_counted("logged under the new timetable");
    s.assert_kept_equals_rebuilt("logged under the new timetable");

    // A database from before the groupings were kept gets them filled at start-up.
    let kept = s.kept();
    diesel::delete(school_day_groups::table)
        .execute(&mut *s.app.conn())
        .unwrap();
    s.run(|c, _| insight::fill_groupings_if_missing(c));
    assert_eq!(kept, s.kept());
}

both_engines!(grouped_figures_equal_counting_every_incident);
