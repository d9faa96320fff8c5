//! Levels 4 to 6 on both engines: a pupil taken from an agreed Coaching Plan through a
//! 2-week programme block with recorded sessions, a review that steps to the 4-week block, a
//! review that moves to a Bespoke Provision Map, and the SENDCO's whole-school map showing
//! them with the right fidelity, cost and outcome. Also the gates on the way (a block needs a
//! plan, a low-fidelity move needs a reason, an early provision map is SLT's or the SENDCO's
//! decision), fidelity at the band edges, and the map's totals over several pupils.

mod common;

use chrono::{DateTime, NaiveDate, TimeZone, Utc, Weekday};
use diesel::prelude::*;

use common::{both_engines, spawn_app, Engine, Role, TestApp};
use steadfast::db::decisions::{self, ManualMove};
use steadfast::db::evaluation::{self, SchoolRules};
use steadfast::db::meetings::{self, Outcome};
use steadfast::db::models::{MeetingRow, ProgrammeSessionRow, School};
use steadfast::db::notices::NoticeContext;
use steadfast::db::plans::{self, Agreement};
use steadfast::db::programmes::{self, BlockRequest, ReviewInput, SessionInput};
use steadfast::db::provision::{self, MapFilter};
use steadfast::db::schema::{meetings as meeting_table, pupils};
use steadfast::db::staff::StaffMember;
use steadfast::db::timeline::{self, EventKind, TimelineFilter};
use steadfast::db::{write_transaction, DbConnection};
use steadfast::domain::plan::{PlanSubmission, ProvisionReviewSubmission, ProvisionSubmission};
use steadfast::domain::programme::FidelityBand;
use steadfast::domain::Level;
use steadfast::error::Error;

/// The people who support the pupils.
struct Team {
    head_of_year: StaffMember,
    sendco: StaffMember,
    practitioner: StaffMember,
}

/// A school with a Year 9 team, where the story runs.
struct Setting {
    app: TestApp,
    school: School,
    team: Team,
}

impl Setting {
    async fn new(engine: Engine) -> Setting {
        let app = spawn_app(engine).await;
        let school = app.create_school("NORTH", "North Academy");
        let team = Team {
            head_of_year: app.create_staff_leading(
                &school,
                "hoy@north.example",
                "Hana Hussain",
                &[Role::PastoralLead],
                &[9],
                None,
            ),
            sendco: app.create_staff(
                &school,
                "sendco@north.example",
                "Sam Okafor",
                &[Role::Sendco],
                None,
            ),
            practitioner: app.create_staff(
                &school,
                "lsa@north.example",
                "Pat Lee",
                &[Role::Specialist],
                None,
            ),
        };
        Setting { app, school, team }
    }

    /// Runs `work` in one transaction, as a request would; the error if it fails (and then
    /// nothing it wrote is kept).
    fn attempt<T>(
        &self,
        work: impl FnOnce(&mut DbConnection, &SchoolRules) -> steadfast::error::Result<T>,
    ) -> steadfast::error::Result<T> {
        let mut conn = self.app.conn();
        let school_id = self.school.id;
        write_transaction(&mut conn, |c| {
            let rules = evaluation::load_rules(c, school_id)?;
            work(c, &rules)
        })
    }

    fn run<T>(
        &self,
        work: impl FnOnce(&mut DbConnection, &SchoolRules) -> steadfast::error::Result<T>,
    ) -> T {
        self.attempt(work).expect("the change succeeds")
    }

    fn pupil(&self, upn: &str, given: &str) -> i64 {
        self.app
            .create_pupil(&self.school, upn, given, "Taylor", 9, "9T")
            .id
    }

    fn level(&self, pupil_id: i64) -> i16 {
        pupils::table
            .find(pupil_id)
            .select(pupils::level)
            .first(&mut *self.app.conn())
            .unwrap()
    }

    fn waiting_meetings(&self, pupil_id: i64) -> Vec<MeetingRow> {
        meeting_table::table
            .filter(meeting_table::pupil_id.eq(pupil_id))
            .filter(meeting_table::status.eq_any(["due", "scheduled"]))
            .order(meeting_table::id)
            .select(MeetingRow::as_select())
            .load(&mut *self.app.conn())
            .unwrap()
    }

    /// Moves a pupil to `to` by an SLT-style override of the SENDCO (for setting up stories).
    fn place_at(&self, pupil_id: i64, to: Level, at: DateTime<Utc>) {
        let sendco = &self.team.sendco;
        self.run(|c, rules| {
            decisions::move_pupil(
                c,
                sendco,
                &ManualMove {
                    pupil_id,
                    to,
                    reason: "Agreed at the inclusion panel.",
                    override_gates: true,
                },
                rules,
                &notice_context(),
                at,
            )
        });
    }

    fn agree_plan(&self, pupil_id: i64, meeting_id: Option<i64>, at: DateTime<Utc>) -> i32 {
        let today = at.date_naive();
        let steps = [(
            "Use the help card instead of leaving the room",
            "Pupil",
            Some(today + chrono::TimeDelta::days(14)),
        )];
        let goals = [(
            "Stay in lessons",
            "No walk-outs in a school week, from the behaviour log",
        )];
        let plan = PlanSubmission {
            goals: &goals,
            pathway_to_independence: "Self-regulation strategies, then check-ins fade out.",
            action_steps: &steps,
            review_on: Some(today + chrono::TimeDelta::days(42)),
        };
        let sendco = &self.team.sendco;
        self.run(|c, _| {
            plans::agree(
                c,
                sendco,
                &Agreement {
                    pupil_id,
                    plan: &plan,
                    agreed_with: Some("Jo Taylor (mother)"),
                    meeting_id,
                },
                at,
            )
        })
        .row
        .version
    }

    /// Plans the pupil's current block from `starts_on`, Monday to Friday or three days a week.
    fn plan_block(
        &self,
        by: &StaffMember,
        pupil_id: i64,
        starts_on: NaiveDate,
        weekdays: &[Weekday],
        at: DateTime<Utc>,
    ) -> steadfast::error::Result<programmes::BlockView> {
        let practitioner = self.team.practitioner.id;
        self.attempt(|c, rules| {
            programmes::plan_block(
                c,
                by,
                &BlockRequest {
                    pupil_id,
                    starts_on: Some(starts_on),
                    sessions_per_week: weekdays.len() as u32,
                    weekdays,
                    minutes: 30,
                    time: chrono::NaiveTime::from_hms_opt(10, 0, 0),
                    place: "in_school",
                    led_by: "specialist_staff",
                    practitioner_id: Some(practitioner),
                    practitioner_name: None,
                },
                rules,
                at,
            )
        })
    }

    /// Records each of `sessions` with the outcome given, as the practitioner, on its day.
    fn record(&self, sessions: &[ProgrammeSessionRow], outcomes: &[&str]) {
        let by = &self.team.practitioner;
        for (session, outcome) in sessions.iter().zip(outcomes) {
            let at = at_local(session.on_date, 16);
            let input = SessionInput {
                outcome,
                minutes: (*outcome == "delivered").then_some(30),
                reason: (*outcome == "not_delivered").then_some("Practitioner on a course"),
                note: Some("Used the help card twice"),
                delivered_by: None,
                parent_attended: session.is_final.then_some(true),
            };
            self.run(|c, _| programmes::record_session(c, by, session.id, &input, at));
        }
    }

    fn review(
        &self,
        by: &StaffMember,
        block_id: i64,
        decision: &str,
        reason: Option<&str>,
        at: DateTime<Utc>,
    ) -> steadfast::error::Result<programmes::ReviewResult> {
        self.attempt(|c, rules| {
            programmes::review_block(
                c,
                by,
                &notice_context(),
                block_id,
                &ReviewInput {
                    decision,
                    reason,
                    summary: "Reviewed with the pupil and their mother.",
                    held_at: at,
                },
                rules,
                at,
            )
        })
    }

    fn blocks(&self, pupil_id: i64, today: NaiveDate) -> Vec<programmes::BlockView> {
        self.run(|c, _| programmes::blocks_for(c, self.school.id, pupil_id, today))
    }
}

fn notice_context() -> NoticeContext {
    NoticeContext {
        public_url: "http://127.0.0.1:8080".into(),
        mail_from: "steadfast@localhost".into(),
    }
}

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

/// `hour`:00 UTC on `day` (London is on GMT in these winter weeks).
fn at_local(day: NaiveDate, hour: u32) -> DateTime<Utc> {
    Utc.from_utc_datetime(&day.and_hms_opt(hour, 0, 0).unwrap())
}

const MON_WED_FRI: [Weekday; 3] = [Weekday::Mon, Weekday::Wed, Weekday::Fri];
const EVERY_DAY: [Weekday; 5] = [
    Weekday::Mon,
    Weekday::Tue,
    Weekday::Wed,
    Weekday::Thu,
    Weekday::Fri,
];

fn field_of(error: &Error) -> Option<&str> {
    match error {
        Error::Invalid { field, .. } => field.as_deref(),
        _ => None,
    }
}

async fn a_pupil_goes_from_a_plan_through_two_blocks_to_a_provision_map(engine: Engine) {
    let setting = Setting::new(engine).await;
    let Team {
        head_of_year,
        sendco,
        practitioner,
    } = &setting.team;
    let pupil = setting.pupil("A100000000001", "Alex");
    let monday = date(2026, 1, 5);

    // The Coaching Plan meeting agrees the plan, and holding it suggests the programme.
    setting.place_at(pupil, Level::Plan, at_local(monday, 9));
    let plan_meeting = setting.waiting_meetings(pupil).remove(0);
    assert_eq!(plan_meeting.level, 4);
    assert_eq!(
        setting.agree_plan(pupil, Some(plan_meeting.id), at_local(monday, 10)),
        1
    );
    setting.run(|c, rules| {
        meetings::record_outcome(
            c,
            head_of_year,
            &notice_context(),
            plan_meeting.id,
            &Outcome {
                held_at: at_local(monday, 10),
                summary: "Plan agreed with the pupil and their mother.",
                ..Default::default()
            },
            rules,
            at_local(monday, 11),
        )
    });
    let suggestion_id: i64 = steadfast::db::schema::suggestions::table
        .filter(steadfast::db::schema::suggestions::pupil_id.eq(pupil))
        .filter(steadfast::db::schema::suggestions::status.eq("open"))
        .select(steadfast::db::schema::suggestions::id)
        .first(&mut *setting.app.conn())
        .expect("the programme is suggested");
    setting.run(|c, rules| {
        decisions::accept(
            c,
            head_of_year,
            suggestion_id,
            None,
            rules,
            &notice_context(),
            at_local(monday, 12),
        )
    });
    assert_eq!(setting.level(pupil), 5);

    // The 2-week block: three sessions a week from Wednesday, the review on the final one.
    let wednesday = date(2026, 1, 7);
    let block = setting
        .plan_block(
            head_of_year,
            pupil,
            wednesday,
            &MON_WED_FRI,
            at_local(monday, 13),
        )
        .unwrap();
    assert_eq!(block.block.weeks, 2);
    assert_eq!(block.sessions.len(), 6);
    assert_eq!(block.block.ends_on, date(2026, 1, 20));
    let final_day = block.final_session().unwrap().on_date;
    assert_eq!(final_day, date(2026, 1, 19));
    let review = setting.waiting_meetings(pupil);
    assert_eq!(review.len(), 1);
    assert_eq!((review[0].level, review[0].due_on), (5, final_day));
    let again = setting.plan_block(
        head_of_year,
        pupil,
        wednesday,
        &MON_WED_FRI,
        at_local(monday, 13),
    );
    assert!(matches!(again, Err(Error::Conflict { .. })), "{again:?}");

    // Five delivered and one absence: 83%, high, so moving on needs no reason.
    setting.record(
        &block.sessions,
        &[
            "delivered",
            "delivered",
            "pupil_absent",
            "delivered",
            "delivered",
            "delivered",
        ],
    );
    let review_day = at_local(final_day, 16);
    let reviewed = setting
        .review(head_of_year, block.block.id, "next_block", None, review_day)
        .unwrap();
    assert_eq!(
        (
            reviewed.fidelity.fidelity.delivered,
            reviewed.fidelity.fidelity.planned
        ),
        (5, 6)
    );
    assert_eq!(reviewed.fidelity.fidelity.band(), Some(FidelityBand::High));
    assert_eq!(setting.level(pupil), 5);
    let next_review = reviewed.next_meeting.expect("the 4-week block's review");
    assert_eq!(next_review.level, 5);
    let reviewed_meetings: i64 = meeting_table::table
        .filter(meeting_table::pupil_id.eq(pupil))
        .filter(meeting_table::level.eq(5))
        .filter(meeting_table::status.eq("held"))
        .count()
        .get_result(&mut *setting.app.conn())
        .unwrap();
    assert_eq!(
        reviewed_meetings, 1,
        "the review meeting is recorded as held"
    );

    // The 4-week block, every school day: 20 sessions.
    let next_monday = date(2026, 1, 26);
    let block = setting
        .plan_block(head_of_year, pupil, next_monday, &EVERY_DAY, review_day)
        .unwrap();
    assert_eq!(block.block.weeks, 4);
    assert_eq!(block.sessions.len(), 20);
    let mut outcomes = vec!["delivered"; 14];
    outcomes.extend([
        "pupil_absent",
        "pupil_absent",
        "not_delivered",
        "not_delivered",
    ]);
    // 14 delivered, 4 not, and the last two left unrecorded: 14 of 20 is 70%, adequate.
    setting.record(&block.sessions[..18], &outcomes);
    let after_block = at_local(date(2026, 2, 23), 9);
    let fidelity = setting.blocks(pupil, after_block.date_naive())[0].fidelity;
    assert_eq!(
        (
            fidelity.fidelity.delivered,
            fidelity.fidelity.planned,
            fidelity.unrecorded
        ),
        (14, 20, 2)
    );
    assert_eq!(fidelity.fidelity.band(), Some(FidelityBand::Adequate));

    // A provision map before the 6-week block is SLT's or the SENDCO's call, with a reason.
    let refused = setting
        .review(
            head_of_year,
            block.block.id,
            "provision_map",
            Some("Too much"),
            after_block,
        )
        .unwrap_err();
    assert_eq!(field_of(&refused), Some("decided_by"), "{refused:?}");
    let refused = setting
        .review(sendco, block.block.id, "provision_map", None, after_block)
        .unwrap_err();
    assert_eq!(field_of(&refused), Some("reason"), "{refused:?}");
    assert_eq!(setting.level(pupil), 5, "a refused review changes nothing");
    assert_eq!(
        setting.blocks(pupil, after_block.date_naive())[0]
            .block
            .status,
        "running"
    );

    let moved = setting
        .review(
            sendco,
            block.block.id,
            "provision_map",
            Some("Sessions were given; needs outside specialists now."),
            after_block,
        )
        .unwrap();
    assert_eq!(setting.level(pupil), 6);
    let team_meeting = moved.next_meeting.expect("the team meeting");
    assert_eq!(
        (team_meeting.level, team_meeting.purpose.as_str()),
        (6, "level")
    );
    let blocks = setting.blocks(pupil, after_block.date_naive());
    assert_eq!(blocks[0].block.decision.as_deref(), Some("provision_map"));
    assert_eq!(
        (
            blocks[0].block.delivered_at_review,
            blocks[0].block.planned_at_review
        ),
        (Some(14), Some(20))
    );
    // Sessions of a reviewed block are closed.
    let late = setting.attempt(|c, _| {
        programmes::record_session(
            c,
            practitioner,
            block.sessions[19].id,
            &SessionInput {
                outcome: "delivered",
                minutes: Some(30),
                ..Default::default()
            },
            after_block,
        )
    });
    assert!(matches!(late, Err(Error::Conflict { .. })), "{late:?}");

    // Every recorded session is on the pupil's timeline: 6 in the first block, 18 in the second.
    let sessions_on_timeline = setting.run(|c, _| {
        let seen = steadfast::db::pupils::get(c, setting.school.id, pupil)?;
        timeline::for_pupil(
            c,
            sendco,
            &seen,
            &TimelineFilter {
                kinds: vec![EventKind::Session],
                limit: 100,
                ..Default::default()
            },
        )
    });
    assert_eq!(sessions_on_timeline.len(), 24);

    // The team meeting, then the planning session with the pupil and their mother.
    setting.run(|c, rules| {
        meetings::record_outcome(
            c,
            sendco,
            &notice_context(),
            team_meeting.id,
            &Outcome {
                held_at: after_block,
                summary: "Options scoped with the educational psychologist.",
                ..Default::default()
            },
            rules,
            after_block,
        )
    });
    let planning = setting.waiting_meetings(pupil);
    assert_eq!(planning.len(), 1);
    assert_eq!(
        (planning[0].level, planning[0].purpose.as_str()),
        (6, "planning")
    );

    // Two provisions on the map: 3 × £12.50 and 1 × £60.00 a week, 13 weeks a term.
    let start = date(2026, 3, 2);
    for (what, external, per_week, pence) in [
        ("Small-group literacy", false, 3, 1250),
        ("Educational psychologist", true, 1, 6000),
    ] {
        setting.run(|c, _| {
            provision::add_item(
                c,
                sendco,
                pupil,
                &ProvisionSubmission {
                    what,
                    external,
                    provider_name: "Reading team",
                    frequency_per_week: per_week,
                    session_minutes: 45,
                    starts_on: Some(start),
                    review_on: Some(date(2026, 3, 30)),
                    ends_on: Some(date(2026, 7, 17)),
                    cost_per_session_pence: pence,
                    entry_data: "Reading age 8y 2m",
                    target: "Reading age 9y",
                },
                after_block,
            )
        });
    }
    let items = setting.run(|c, _| provision::items_for(c, setting.school.id, pupil));
    let literacy = items.iter().find(|i| !i.item.external).unwrap().item.id;
    setting.run(|c, _| {
        provision::review_item(
            c,
            sendco,
            literacy,
            &ProvisionReviewSubmission {
                assessment: "Reading age 9y 1m",
                progress: "met",
                next_plan: None,
                decision: "end",
                next_review_on: None,
            },
            at_local(date(2026, 3, 30), 12),
        )
    });

    // The whole-school map: the pupil with the last block's fidelity, cost and outcome.
    let map = setting.run(|c, _| {
        provision::school_map(
            c,
            setting.school.id,
            &MapFilter::default(),
            date(2026, 3, 31),
        )
    });
    assert_eq!(map.rows.len(), 1);
    let row = &map.rows[0];
    assert_eq!(row.pupil.id, pupil);
    assert_eq!(row.plan.map(|(version, _)| version), Some(1));
    let block = row.block.as_ref().expect("the last block");
    assert_eq!(
        (block.weeks, block.fidelity.fidelity.percent()),
        (4, Some(70))
    );
    // Only the psychologist is still running: 1 × £60 × 13.
    assert_eq!(row.cost_per_term_pence, 78_000);
    assert_eq!(map.cost_per_term_pence, 78_000);
    assert_eq!(map.active_items, 1);
    assert_eq!(row.outcome(), "1 target met, 1 not reviewed yet");
}

async fn a_block_needs_a_plan_a_school_day_and_a_practitioner(engine: Engine) {
    let setting = Setting::new(engine).await;
    let Team {
        head_of_year,
        sendco,
        ..
    } = &setting.team;
    let pupil = setting.pupil("B100000000001", "Bea");
    let monday = date(2026, 1, 5);
    setting.place_at(pupil, Level::Programme, at_local(monday, 9));

    let without_plan = setting
        .plan_block(
            head_of_year,
            pupil,
            monday,
            &MON_WED_FRI,
            at_local(monday, 9),
        )
        .unwrap_err();
    assert!(
        without_plan.to_string().contains("Coaching Plan"),
        "{without_plan}"
    );

    setting.agree_plan(pupil, None, at_local(monday, 9));
    let saturday = date(2026, 1, 10);
    let weekend = setting
        .plan_block(
            head_of_year,
            pupil,
            saturday,
            &MON_WED_FRI,
            at_local(monday, 9),
        )
        .unwrap_err();
    assert_eq!(field_of(&weekend), Some("starts_on"));
    let too_few = setting
        .plan_block(
            head_of_year,
            pupil,
            monday,
            &[Weekday::Mon],
            at_local(monday, 9),
        )
        .unwrap_err();
    assert_eq!(field_of(&too_few), Some("sessions_per_week"));
    // A member of staff who is not a specialist practitioner cannot be chosen.
    let not_specialist = setting.attempt(|c, rules| {
        programmes::plan_block(
            c,
            head_of_year,
            &BlockRequest {
                pupil_id: pupil,
                starts_on: Some(monday),
                sessions_per_week: 3,
                weekdays: &MON_WED_FRI,
                minutes: 30,
                time: None,
                place: "in_school",
                led_by: "specialist_staff",
                practitioner_id: Some(head_of_year.id),
                practitioner_name: None,
            },
            rules,
            at_local(monday, 9),
        )
    });
    assert_eq!(
        field_of(&not_specialist.unwrap_err()),
        Some("practitioner_id")
    );
    assert!(
        setting.blocks(pupil, monday).is_empty(),
        "nothing was written"
    );

    // A class teacher cannot plan it; the SENDCO can.
    let teacher = setting.app.create_staff(
        &setting.school,
        "teacher@north.example",
        "Chris Doe",
        &[Role::ClassStaff],
        None,
    );
    let forbidden = setting
        .plan_block(&teacher, pupil, monday, &MON_WED_FRI, at_local(monday, 9))
        .unwrap_err();
    assert!(matches!(forbidden, Error::Forbidden(_)), "{forbidden:?}");
    let planned = setting
        .plan_block(sendco, pupil, monday, &MON_WED_FRI, at_local(monday, 9))
        .unwrap();
    assert_eq!(planned.sessions.len(), 6);

    // A session is recorded on its day, not before.
    let friday = planned.sessions[2].clone();
    let early = setting.attempt(|c, _| {
        programmes::record_session(
            c,
            sendco,
            friday.id,
            &SessionInput {
                outcome: "delivered",
                minutes: Some(30),
                ..Default::default()
            },
            at_local(monday, 10),
        )
    });
    assert!(early.is_err());
    // Not delivered needs a reason.
    let no_reason = setting.attempt(|c, _| {
        programmes::record_session(
            c,
            sendco,
            planned.sessions[0].id,
            &SessionInput {
                outcome: "not_delivered",
                ..Default::default()
            },
            at_local(monday, 16),
        )
    });
    assert_eq!(field_of(&no_reason.unwrap_err()), Some("reason"));

    // Another school's session is not found.
    let other = setting.app.create_school("SOUTH", "South School");
    let stranger = setting.app.create_staff(
        &other,
        "sendco@south.example",
        "Ola Sand",
        &[Role::Sendco],
        None,
    );
    let hidden = setting.attempt(|c, _| programmes::session_for(c, &stranger, friday.id));
    assert!(matches!(hidden, Err(Error::NotFound(_))), "{hidden:?}");
}

/// Ten sessions (every school day for two weeks) with `delivered` of them delivered and the
/// rest recorded absent: the fidelity, its band, and whether moving on needs a reason.
async fn fidelity_bands_and_the_reason_gate_at_their_edges(engine: Engine) {
    let setting = Setting::new(engine).await;
    let head_of_year = &setting.team.head_of_year;
    let monday = date(2026, 1, 5);
    let cases = [
        (8, FidelityBand::High),
        (7, FidelityBand::Adequate),
        (6, FidelityBand::Adequate),
        (5, FidelityBand::Partial),
        (4, FidelityBand::Partial),
        (3, FidelityBand::Low),
        (0, FidelityBand::Low),
    ];
    for (n, (delivered, band)) in cases.into_iter().enumerate() {
        let pupil = setting.pupil(&format!("C10000000000{n}"), "Cai");
        setting.place_at(pupil, Level::Programme, at_local(monday, 8));
        setting.agree_plan(pupil, None, at_local(monday, 8));
        let block = setting
            .plan_block(head_of_year, pupil, monday, &EVERY_DAY, at_local(monday, 8))
            .unwrap();
        let mut outcomes = vec!["delivered"; delivered];
        outcomes.resize(10, "pupil_absent");
        setting.record(&block.sessions, &outcomes);
        let review_at = at_local(date(2026, 1, 16), 17);
        let fidelity = setting.blocks(pupil, review_at.date_naive())[0]
            .fidelity
            .fidelity;
        assert_eq!(
            (fidelity.delivered, fidelity.planned),
            (delivered as u32, 10)
        );
        assert_eq!(fidelity.percent(), Some(delivered as u32 * 10));
        assert_eq!(fidelity.band(), Some(band), "{delivered} of 10");

        let without_reason =
            setting.review(head_of_year, block.block.id, "next_block", None, review_at);
        if band == FidelityBand::High {
            assert!(without_reason.is_ok(), "{without_reason:?}");
        } else {
            assert_eq!(
                field_of(&without_reason.unwrap_err()),
                Some("reason"),
                "{delivered} of 10 needs a reason"
            );
            let with_reason = setting.review(
                head_of_year,
                block.block.id,
                "next_block",
                Some("Absences were illness; the sessions were ready each time."),
                review_at,
            );
            assert!(with_reason.is_ok(), "{with_reason:?}");
        }
        let blocks = setting.blocks(pupil, review_at.date_naive());
        assert_eq!(blocks[0].block.status, "reviewed");
        assert_eq!(blocks[0].block.delivered_at_review, Some(delivered as i32));
    }
}

/// Goals met at a block review step the pupil down to the Coaching Plan, whose review is
/// then due; the map's filters and totals work over several pupils.
async fn goals_met_steps_down_and_the_map_adds_up(engine: Engine) {
    let setting = Setting::new(engine).await;
    let Team {
        head_of_year,
        sendco,
        ..
    } = &setting.team;
    let monday = date(2026, 1, 5);
    let on_programme = setting.pupil("D100000000001", "Dee");
    setting.place_at(on_programme, Level::Programme, at_local(monday, 8));
    setting.agree_plan(on_programme, None, at_local(monday, 8));
    let block = setting
        .plan_block(
            head_of_year,
            on_programme,
            monday,
            &MON_WED_FRI,
            at_local(monday, 8),
        )
        .unwrap();
    setting.record(&block.sessions, &["delivered"; 6]);
    let review_at = at_local(date(2026, 1, 16), 17);
    let stepped = setting
        .review(head_of_year, block.block.id, "goals_met", None, review_at)
        .unwrap();
    assert_eq!(setting.level(on_programme), 4);
    assert_eq!(stepped.next_meeting.map(|m| m.level), Some(4));

    // Two pupils on provision maps in different years, one item each.
    let year_ten = setting
        .app
        .create_pupil(&setting.school, "D100000000002", "Eli", "Ng", 10, "10N")
        .id;
    let year_nine = setting.pupil("D100000000003", "Fay");
    for (pupil, pence) in [(year_ten, 2000u32), (year_nine, 1000)] {
        setting.place_at(pupil, Level::Provision, at_local(monday, 8));
        setting.run(|c, _| {
            provision::add_item(
                c,
                sendco,
                pupil,
                &ProvisionSubmission {
                    what: "Mentoring",
                    external: false,
                    provider_name: "Pastoral team",
                    frequency_per_week: 2,
                    session_minutes: 30,
                    starts_on: Some(monday),
                    review_on: Some(date(2026, 2, 2)),
                    ends_on: Some(date(2026, 3, 27)),
                    cost_per_session_pence: pence,
                    entry_data: "Attendance 82%",
                    target: "Attendance 92%",
                },
                at_local(monday, 9),
            )
        });
    }
    let map_of = |filter: MapFilter| {
        setting.run(|c, _| provision::school_map(c, setting.school.id, &filter, date(2026, 2, 3)))
    };
    let everyone = map_of(MapFilter::default());
    assert_eq!(everyone.rows.len(), 3);
    // 2 × £20 × 13 + 2 × £10 × 13 = £520 + £260.
    assert_eq!(everyone.cost_per_term_pence, 78_000);
    assert_eq!(everyone.active_items, 2);
    assert_eq!(
        (everyone.fidelity.delivered, everyone.fidelity.planned),
        (6, 6)
    );
    let year_nine_only = map_of(MapFilter {
        year: Some(9),
        ..Default::default()
    });
    assert_eq!(year_nine_only.rows.len(), 2);
    assert_eq!(year_nine_only.cost_per_term_pence, 26_000);
    let level_six = map_of(MapFilter {
        level: Some(6),
        ..Default::default()
    });
    assert_eq!(level_six.rows.len(), 2);
    assert!(level_six.rows.iter().all(|r| r.pupil.level == 6));

    // Reviews due by 3 February: both provisions (overdue since the 2nd) and the plan meeting.
    let due = setting.run(|c, _| provision::reviews_due(c, setting.school.id, date(2026, 2, 3)));
    let overdue = due
        .iter()
        .filter(|d| d.is_overdue(date(2026, 2, 3)))
        .count();
    assert!(overdue >= 2, "{due:?}");
    assert!(due
        .iter()
        .any(|d| d.kind == provision::ReviewKind::Provision && d.pupil.id == year_ten));

    // A provision is for a pupil on a provision map only.
    let refused = setting.attempt(|c, _| {
        provision::add_item(
            c,
            sendco,
            on_programme,
            &ProvisionSubmission {
                what: "Mentoring",
                provider_name: "Pastoral team",
                frequency_per_week: 1,
                session_minutes: 30,
                starts_on: Some(monday),
                review_on: Some(date(2026, 2, 2)),
                ends_on: Some(date(2026, 3, 27)),
                entry_data: "x",
                target: "y",
                ..Default::default()
            },
            at_local(monday, 9),
        )
    });
    assert!(refused.is_err());
}

both_engines!(
    a_pupil_goes_from_a_plan_through_two_blocks_to_a_provision_map,
    a_block_needs_a_plan_a_school_day_and_a_practitioner,
    fidelity_bands_and_the_reason_gate_at_their_edges,
    goals_met_steps_down_and_the_map_adds_up,
);
