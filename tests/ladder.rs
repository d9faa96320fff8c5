//! A scripted term for one pupil, on both engines: the whole ladder from a first Coaching
//! Prompt to a Bespoke Provision Map, through suggestions accepted by the roles allowed to,
//! and back down to no level as reviews meet their goals and the records go quiet. Every step
//! is on the pupil's timeline and in the audit log.

mod common;

use chrono::{DateTime, Datelike, NaiveDate, TimeZone, Utc, Weekday};
use diesel::prelude::*;

use common::{both_engines, spawn_app, Engine, Role, TestApp};
use steadfast::db::decisions;
use steadfast::db::evaluation::{self, SchoolRules};
use steadfast::db::incidents;
use steadfast::db::meetings::{self, Outcome};
use steadfast::db::models::{MeetingRow, School, SuggestionRow};
use steadfast::db::notices::NoticeContext;
use steadfast::db::schema::{audit_log, meetings as meeting_table, pupils, suggestions};
use steadfast::db::staff::StaffMember;
use steadfast::db::timeline::{self, EventKind, TimelineFilter};
use steadfast::db::{write_transaction, DbConnection};
use steadfast::domain::incident::{IncidentSubmission, NewIncident};
use steadfast::jobs;

/// The people of the story.
struct Staff {
    teacher: StaffMember,
    head_of_year: StaffMember,
    sendco: StaffMember,
    slt: StaffMember,
}

fn member(app: &TestApp, school: &School, email: &str, role: Role, years: &[i64]) -> StaffMember {
    app.create_staff_leading(school, email, email, &[role], years, None)
}

/// 09:00 London on the school day `n` school days after Monday 5 January 2026 (no holidays
/// in this school's calendar: weekends only).
fn school_day(n: u32) -> DateTime<Utc> {
    let mut date = NaiveDate::from_ymd_opt(2026, 1, 5).unwrap();
    let mut left = n;
    while left > 0 {
        date = date.succ_opt().unwrap();
        if !matches!(date.weekday(), Weekday::Sat | Weekday::Sun) {
            left -= 1;
        }
    }
    Utc.from_utc_datetime(&date.and_hms_opt(9, 0, 0).unwrap())
}

fn hours(at: DateTime<Utc>, h: i64) -> DateTime<Utc> {
    at + chrono::TimeDelta::hours(h)
}

struct Story<'a> {
    app: &'a TestApp,
    school_id: i64,
    pupil: i64,
}

impl Story<'_> {
    fn in_transaction<T>(
        &self,
        work: impl FnOnce(&mut DbConnection, &SchoolRules) -> steadfast::error::Result<T>,
    ) -> T {
        let mut conn = self.app.conn();
        let school_id = self.school_id;
        write_transaction(&mut conn, |c| {
            let rules = evaluation::load_rules(c, school_id)?;
            work(c, &rules)
        })
        .unwrap()
    }

    fn log(&self, by: &StaffMember, at: DateTime<Utc>, response: &str, severity: &str) {
        let pupil_ids = [self.pupil];
        let new = NewIncident::parse(
            &IncidentSubmission {
                pupil_ids: &pupil_ids,
                behaviour: "Off task",
                severity: Some(severity),
                response: Some(response),
                occurred_at: Some(at),
                ..Default::default()
            },
            at,
        )
        .unwrap();
        self.in_transaction(|c, rules| {
            incidents::record(c, self.school_id, by.id, &new, rules, at)
        });
    }

    fn level(&self) -> i16 {
        pupils::table
            .find(self.pupil)
            .select(pupils::level)
            .first(&mut *self.app.conn())
            .unwrap()
    }

    fn open_suggestion(&self) -> SuggestionRow {
        let open: Vec<SuggestionRow> = suggestions::table
            .filter(suggestions::pupil_id.eq(self.pupil))
            .filter(suggestions::status.eq("open"))
            .select(SuggestionRow::as_select())
            .load(&mut *self.app.conn())
            .unwrap();
        assert_eq!(open.len(), 1, "one open suggestion expected: {open:?}");
        open.into_iter().next().unwrap()
    }

    /// Accepts the one open suggestion, which must be from `from` to `to`, as `by`.
    fn accept(
        &self,
        by: &StaffMember,
        from: i16,
        to: i16,
        at: DateTime<Utc>,
    ) -> Option<MeetingRow> {
        let suggestion = self.open_suggestion();
        assert_eq!(
            (suggestion.from_level, suggestion.to_level),
            (from, to),
            "{suggestion:?}"
        );
        let decision = self.in_transaction(|c, rules| {
            decisions::accept(c, by, suggestion.id, None, rules, &notice_context(), at)
        });
        assert_eq!(self.level(), to);
        decision.meeting
    }

    fn open_meeting(&self) -> MeetingRow {
        meeting_table::table
            .filter(meeting_table::pupil_id.eq(self.pupil))
            .filter(meeting_table::status.eq("due"))
            .select(MeetingRow::as_select())
            .first(&mut *self.app.conn())
            .expect("a meeting due")
    }

    fn hold(
        &self,
        by: &StaffMember,
        meeting: &MeetingRow,
        at: DateTime<Utc>,
        goals_met: Option<bool>,
    ) {
        self.in_transaction(|c, rules| {
            meetings::record_outcome(
                c,
                by,
                &notice_context(),
                meeting.id,
                &Outcome {
                    held_at: at,
                    summary: "Reviewed together with the pupil.",
                    goals_met,
                    ..Default::default()
                },
                rules,
                at,
            )
        });
    }

    async fn run_jobs(&self, at: DateTime<Utc>) {
        let context = jobs::JobContext::from_settings(&self.app.settings).unwrap();
        jobs::run_once(&self.app.db, &context, at).await.unwrap();
    }
}

async fn a_pupil_walks_the_whole_ladder_and_back(engine: Engine) {
    let app = spawn_app(engine).await;
    let school = app.create_school("NORTH", "North Academy");
    let people = Staff {
        teacher: member(
            &app,
            &school,
            "teacher@north.example",
            Role::ClassStaff,
            &[],
        ),
        head_of_year: member(
            &app,
            &school,
            "hoy8@north.example",
            Role::PastoralLead,
            &[8],
        ),
        sendco: member(&app, &school, "sendco@north.example", Role::Sendco, &[]),
        slt: member(&app, &school, "slt@north.example", Role::Slt, &[]),
    };
    let pupil = app.create_pupil(&school, "A123456789012", "Sam", "Okafor", 8, "8B");
    let story = Story {
        app: &app,
        school_id: school.id,
        pupil: pupil.id,
    };
    let (hoy, sendco, slt, teacher) = (
        &people.head_of_year,
        &people.sendco,
        &people.slt,
        &people.teacher,
    );

    // Three Coaching Prompts in a morning: level 1, then a Coaching Conversation is suggested.
    let day = school_day(0);
    for h in 0..3 {
        story.log(teacher, hours(day, h), "prompt", "minor");
    }
    assert!(story.accept(hoy, 1, 2, hours(day, 4)).is_none());

    // Two more incidents after the conversation: Coaching Time, with its meeting due.
    let day = school_day(1);
    story.log(teacher, day, "none", "minor");
    story.log(teacher, hours(day, 1), "none", "minor");
    let time_meeting = story
        .accept(hoy, 2, 3, hours(day, 2))
        .expect("a Coaching Time meeting");
    assert_eq!(time_meeting.level, 3);
    assert!(time_meeting.due_on > day.date_naive());

    // Coaching Time is held; two more incidents: a Coaching Plan, decided by the SENDCO.
    let day = school_day(2);
    story.hold(hoy, &time_meeting, day, None);
    story.log(teacher, hours(day, 1), "none", "minor");
    story.log(teacher, hours(day, 2), "none", "minor");
    let plan_meeting = story
        .accept(sendco, 3, 4, hours(day, 3))
        .expect("a Coaching Plan meeting");

    // The Plan meeting plans the programme: 2-week block, then 4 and 6 weeks, none with impact.
    let day = school_day(3);
    story.hold(sendco, &plan_meeting, day, None);
    let mut review = story
        .accept(sendco, 4, 5, hours(day, 1))
        .expect("a block review");
    let mut day_number = 3;
    for weeks in [2, 4] {
        day_number += weeks * 5;
        let day = school_day(day_number);
        story.hold(sendco, &review, day, Some(false));
        review = story
            .accept(sendco, 5, 5, hours(day, 1))
            .expect("the next block's review");
    }
    day_number += 30;
    let day = school_day(day_number);
    story.hold(sendco, &review, day, Some(false));

    // The programme has not had impact: a Bespoke Provision Map, decided by SLT.
    let provision_meeting = story
        .accept(slt, 5, 6, hours(day, 1))
        .expect("the team meeting");
    assert_eq!(provision_meeting.level, 6);

    // Reviews that meet their goals step the pupil down through 6, 5 and 4.
    day_number += 5;
    story.hold(slt, &provision_meeting, school_day(day_number), Some(true));
    story
        .accept(slt, 6, 5, hours(school_day(day_number), 1))
        .expect("a new block's review");
    day_number += 10;
    story.hold(
        sendco,
        &story.open_meeting(),
        school_day(day_number),
        Some(true),
    );
    story
        .accept(sendco, 5, 4, hours(school_day(day_number), 1))
        .expect("a plan review");
    day_number += 5;
    story.hold(
        sendco,
        &story.open_meeting(),
        school_day(day_number),
        Some(true),
    );
    assert!(story
        .accept(sendco, 4, 3, hours(school_day(day_number), 1))
        .is_none());

    // Then quiet school days step the pupil down to no level, one step at a time.
    for (from, to) in [(3, 2), (2, 1), (1, 0)] {
        day_number += 11;
        let day = school_day(day_number);
        story.run_jobs(day).await;
        story.accept(hoy, from, to, hours(day, 1));
    }
    assert_eq!(story.level(), 0);

    // Every move is on the timeline and in the audit log.
    let moves = 13;
    let changes = story.in_transaction(|c, _| {
        let seen = steadfast::db::pupils::get(c, school.id, pupil.id)?;
        timeline::for_pupil(
            c,
            &people.slt,
            &seen,
            &TimelineFilter {
                kinds: vec![EventKind::LevelChange],
                limit: 100,
                ..Default::default()
            },
        )
    });
    assert_eq!(
        changes.len(),
        moves + 1,
        "the first prompt's move to level 1, then each accepted suggestion"
    );
    let accepted: i64 = audit_log::table
        .filter(audit_log::action.eq("suggestion.accept"))
        .count()
        .get_result(&mut *app.conn())
        .unwrap();
    assert_eq!(accepted, moves as i64);
}

both_engines!(a_pupil_walks_the_whole_ladder_and_back);

/// Where the emails of this story would link to.
fn notice_context() -> NoticeContext {
    NoticeContext {
        public_url: "http://127.0.0.1:8080".into(),
        mail_from: "steadfast@localhost".into(),
    }
}
