//! Who sees what, on both engines: every role walks every kind of record about one pupil
//! through every route that shows it (the pupil page and its timeline API, the plan,
//! programme, session, meeting and provision pages, the meetings API, the whole-school
//! provision map and the audit log; SEN status on the pupil page and in the pupils API) and
//! gets what the one rule of `domain::visibility` says: the record shown or hidden, or the
//! 403 the route answers. Each record carries a marker text, so "shown" means its words reach
//! the answer.

mod common;

use chrono::{Datelike, TimeDelta, Utc, Weekday};
use diesel::prelude::*;
use reqwest::StatusCode;
use serde_json::{json, Value};

use common::{
    both_engines, page, set_level, signed_in, spawn_app, today, Engine, Role, TestApp, PASSWORD,
};
use steadfast::db::plans::{self, Agreement};
use steadfast::db::programmes::{self, BlockRequest, SessionInput};
use steadfast::db::schema::{level_changes, meetings, programme_sessions, pupils};
use steadfast::db::staff::StaffMember;
use steadfast::db::{evaluation, provision, to_db_time};
use steadfast::domain::calendar::SchoolCalendar;
use steadfast::domain::plan::{PlanSubmission, ProvisionSubmission};

const INCIDENT: &str = "INCIDENT-NOTE-MARK";
const LEVEL_CHANGE: &str = "LEVEL-REASON-MARK";
const MEETING_SUMMARY: &str = "MEETING-SUMMARY-MARK";
const PLAN_GOAL: &str = "PLAN-GOAL-MARK";
const SESSION_NOTE: &str = "SESSION-NOTE-MARK";
const PROVISION: &str = "PROVISION-WHAT-MARK";

/// A member of staff, as the test signs them in.
struct Person {
    label: &'static str,
    email: String,
    member: StaffMember,
    token: String,
}

/// Who may read what about the pupil, by the rule: (meeting record, plan/programme/provision,
/// session notes, whole-school map, audit log).
#[derive(Debug, Clone, Copy)]
struct Expected {
    meeting_record: bool,
    support: bool,
    sessions: bool,
    school_map: bool,
    audit: bool,
}

struct Scene {
    app: TestApp,
    people: Vec<(Person, Expected)>,
    pupil: i64,
    meeting: i64,
    session: i64,
}

/// The pupil's SEN status as titled on the pupil page.
const SEN_TITLE: &str = "EHC plan";

async fn scene(engine: Engine) -> Scene {
    let app = spawn_app(engine).await;
    let school = app.create_school("OAK", "Oakfield Academy");
    let person = |label: &'static str, roles: &[Role], years: &[i64]| {
        let email = format!("{label}@oak.example");
        let member = app.create_staff_leading(&school, &email, label, roles, years, Some(PASSWORD));
        let token = app.create_token(&member);
        Person {
            label,
            email,
            member,
            token,
        }
    };
    let none = Expected {
        meeting_record: false,
        support: false,
        sessions: false,
        school_map: false,
        audit: false,
    };
    let runs = Expected {
        meeting_record: true,
        support: true,
        sessions: true,
        ..none
    };
    let practitioner = person("practitioner", &[Role::Specialist], &[]);
    let sendco = person("sendco", &[Role::Sendco], &[]);
    let people = vec![
        (person("teacher", &[Role::ClassStaff], &[]), none),
        (person("hoy9", &[Role::PastoralLead], &[9]), runs),
        (person("hoy10", &[Role::PastoralLead], &[10]), none),
        (person("hod", &[Role::Hod], &[]), none),
        (
            sendco,
            Expected {
                school_map: true,
                ..runs
            },
        ),
        (
            person("slt", &[Role::Slt], &[]),
            Expected {
                school_map: true,
                audit: true,
                ..runs
            },
        ),
        (
            practitioner,
            Expected {
                sessions: true,
                ..none
            },
        ),
        (person("specialist", &[Role::Specialist], &[]), none),
        (
            person("admin", &[Role::Admin], &[]),
            Expected {
                audit: true,
                ..none
            },
        ),
    ];
    let find = |label: &str| {
        people
            .iter()
            .find(|(p, _)| p.label == label)
            .map(|(p, _)| p.member.clone())
            .expect("a person")
    };
    let (sendco, practitioner) = (find("sendco"), find("practitioner"));
    let pupil = app
        .create_pupil(&school, "A123456789012", "Amira", "Okafor", 9, "9B")
        .id;
    diesel::update(pupils::table.find(pupil))
        .set(pupils::sen_status.eq("ehcp"))
        .execute(&mut *app.conn())
        .expect("an EHC plan");

    // An incident, logged by the teacher.
    let (status, _) = app
        .api_post(
            "/api/v1/incidents",
            &people[0].0.token,
            &json!({"pupil_ids": [pupil], "behaviour": "Off task", "note": INCIDENT}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);

    // A level change and a held Coaching Plan meeting with its record.
    let now = Utc::now();
    diesel::insert_into(level_changes::table)
        .values((
            level_changes::school_id.eq(school.id),
            level_changes::pupil_id.eq(pupil),
            level_changes::from_level.eq(4i16),
            level_changes::to_level.eq(5i16),
            level_changes::reason.eq(LEVEL_CHANGE),
            level_changes::changed_by.eq(Some(sendco.id)),
            level_changes::is_override.eq(false),
            level_changes::occurred_at.eq(to_db_time(now - TimeDelta::days(20))),
        ))
        .execute(&mut *app.conn())
        .expect("a level change");
    let meeting: i64 = diesel::insert_into(meetings::table)
        .values((
            meetings::school_id.eq(school.id),
            meetings::pupil_id.eq(pupil),
            meetings::level.eq(4i16),
            meetings::due_on.eq(today() - TimeDelta::days(21)),
            meetings::status.eq("held"),
            meetings::parent_invited.eq(true),
            meetings::held_at.eq(Some(to_db_time(now - TimeDelta::days(21)))),
            meetings::summary.eq(Some(MEETING_SUMMARY)),
            meetings::successes.eq(Some(MEETING_SUMMARY)),
            meetings::goals_met.eq(Some(false)),
            meetings::created_at.eq(to_db_time(now - TimeDelta::days(25))),
            meetings::sequence.eq(0),
            meetings::purpose.eq("level"),
        ))
        .returning(meetings::id)
        .get_result(&mut *app.conn())
        .expect("a meeting");

    // The Coaching Plan, and a programme block a fortnight old run by the practitioner,
    // with its past sessions recorded (the first with a note).
    set_level(&app, pupil, 5);
    let mut then = now - TimeDelta::days(14);
    while matches!(
        SchoolCalendar::local_date(then).weekday(),
        Weekday::Sat | Weekday::Sun
    ) {
        then -= TimeDelta::days(1);
    }
    let goals = [(PLAN_GOAL, "On time to 4 lessons out of 5")];
    let steps = [("Meet at the gate", "Mr Patel", Some(today()))];
    let plan = PlanSubmission {
        goals: &goals,
        pathway_to_independence: "From prompts to arriving alone",
        action_steps: &steps,
        review_on: Some(today() + TimeDelta::days(20)),
    };
    let agreement = Agreement {
        pupil_id: pupil,
        plan: &plan,
        agreed_with: None,
        meeting_id: None,
    };
    plans::agree(&mut app.conn(), &sendco, &agreement, then).expect("agreeing the plan");
    let rules = evaluation::load_rules(&mut app.conn(), school.id).expect("the rules");
    let request = BlockRequest {
        pupil_id: pupil,
        starts_on: Some(SchoolCalendar::local_date(then)),
        sessions_per_week: 2,
        weekdays: &[Weekday::Mon, Weekday::Thu],
        minutes: 30,
        time: None,
        place: "in_school",
        led_by: "specialist_staff",
        practitioner_id: Some(practitioner.id),
        practitioner_name: None,
    };
    let block = programmes::plan_block(&mut app.conn(), &sendco, &request, &rules, then)
        .expect("planning the block");
    let session: i64 = programme_sessions::table
        .filter(programme_sessions::block_id.eq(block.block.id))
        .filter(programme_sessions::on_date.lt(today()))
        .order(programme_sessions::on_date)
        .select(programme_sessions::id)
        .first(&mut *app.conn())
        .expect("a past session");
    let delivered = SessionInput {
        outcome: "delivered",
        minutes: Some(30),
        note: Some(SESSION_NOTE),
        ..SessionInput::default()
    };
    programmes::record_session(&mut app.conn(), &practitioner, session, &delivered, now)
        .expect("recording the session");

    // On to a Bespoke Provision Map, with one provision.
    set_level(&app, pupil, 6);
    let submission = ProvisionSubmission {
        what: PROVISION,
        external: true,
        provider_name: "County service",
        frequency_per_week: 1,
        session_minutes: 45,
        starts_on: Some(today()),
        review_on: Some(today() + TimeDelta::days(30)),
        ends_on: Some(today() + TimeDelta::days(90)),
        cost_per_session_pence: 1000,
        entry_data: "Baseline",
        target: "Target",
    };
    provision::add_item(&mut app.conn(), &sendco, pupil, &submission, now)
        .expect("adding provision");

    Scene {
        app,
        people,
        pupil,
        meeting,
        session,
    }
}

/// A page a role either opens (200, showing `marker`) or is refused (403, not showing it).
async fn gated(
    app: &TestApp,
    client: &reqwest::Client,
    who: &str,
    path: &str,
    allowed: bool,
    marker: &str,
) {
    let (status, body) = page(app, client, path).await;
    let wanted = if allowed {
        StatusCode::OK
    } else {
        StatusCode::FORBIDDEN
    };
    assert_eq!(status, wanted, "{who} GET {path}");
    assert_eq!(body.contains(marker), allowed, "{who} GET {path}: {marker}");
}

fn has(value: &Value, marker: &str) -> bool {
    value.to_string().contains(marker)
}

async fn every_role_sees_what_the_rule_allows(engine: Engine) {
    let s = scene(engine).await;
    let app = &s.app;
    let pupil = s.pupil;
    for (person, expected) in &s.people {
        let who = person.label;
        let client = signed_in(app, &person.email).await;

        // The pupil page: incidents and level changes for everyone; the meeting for
        // everyone, its record and the session notes only for those allowed.
        let (status, body) = page(app, &client, &format!("/pupils/{pupil}")).await;
        assert_eq!(status, StatusCode::OK, "{who} pupil page");
        assert!(body.contains(SEN_TITLE), "{who} pupil page: SEN status");
        assert!(body.contains(INCIDENT), "{who} pupil page: incident");
        assert!(
            body.contains(LEVEL_CHANGE),
            "{who} pupil page: level change"
        );
        assert!(
            body.contains("Coaching Plan meeting"),
            "{who} pupil page: meeting"
        );
        assert_eq!(
            body.contains(MEETING_SUMMARY),
            expected.meeting_record,
            "{who} pupil page: meeting record"
        );
        assert_eq!(
            body.contains(SESSION_NOTE),
            expected.sessions,
            "{who} pupil page: session note"
        );
        assert!(!body.contains(PLAN_GOAL) && !body.contains(PROVISION));

        // The timeline API says the same.
        let (status, timeline) = app
            .api_get(&format!("/api/v1/pupils/{pupil}/timeline"), &person.token)
            .await;
        assert_eq!(status, StatusCode::OK, "{who} timeline API");
        let events = timeline["events"].as_array().expect("events");
        let of_type = |kind: &str| events.iter().filter(|e| e["type"] == kind).count();
        assert!(has(&timeline, INCIDENT), "{who} timeline API: incident");
        assert!(
            has(&timeline, LEVEL_CHANGE),
            "{who} timeline API: level change"
        );
        assert_eq!(of_type("meeting"), 1, "{who} timeline API: meeting");
        assert_eq!(
            has(&timeline, MEETING_SUMMARY),
            expected.meeting_record,
            "{who} timeline API: meeting record"
        );
        assert_eq!(
            of_type("session") > 0,
            expected.sessions,
            "{who} timeline API: sessions"
        );
        assert_eq!(has(&timeline, SESSION_NOTE), expected.sessions);

        // So does the pupil's record in the API.
        let (status, record) = app
            .api_get(&format!("/api/v1/pupils/{pupil}"), &person.token)
            .await;
        assert_eq!(status, StatusCode::OK, "{who} pupil API");
        assert_eq!(record["sen_status"], "ehcp", "{who} pupil API: SEN status");

        // The meetings API lists the meeting with its outcome to those who run it only.
        let (status, listed) = app
            .api_get(&format!("/api/v1/meetings?pupil_id={pupil}"), &person.token)
            .await;
        assert_eq!(status, StatusCode::OK, "{who} meetings API");
        let count = listed["meetings"].as_array().map_or(0, Vec::len);
        assert_eq!(count == 1, expected.meeting_record, "{who} meetings API");
        assert_eq!(has(&listed, MEETING_SUMMARY), expected.meeting_record);

        // The pages of each record.
        let support = expected.support;
        gated(
            app,
            &client,
            who,
            &format!("/pupils/{pupil}/plan"),
            support,
            PLAN_GOAL,
        )
        .await;
        gated(
            app,
            &client,
            who,
            &format!("/pupils/{pupil}/programme"),
            support,
            SESSION_NOTE,
        )
        .await;
        gated(
            app,
            &client,
            who,
            &format!("/sessions/{}", s.session),
            expected.sessions,
            SESSION_NOTE,
        )
        .await;
        gated(
            app,
            &client,
            who,
            &format!("/meetings/{}", s.meeting),
            expected.meeting_record,
            MEETING_SUMMARY,
        )
        .await;
        gated(
            app,
            &client,
            who,
            &format!("/pupils/{pupil}/provision"),
            support,
            PROVISION,
        )
        .await;
        gated(
            app,
            &client,
            who,
            &format!("/pupils/{pupil}/provision.csv"),
            support,
            PROVISION,
        )
        .await;
        gated(
            app,
            &client,
            who,
            "/provision",
            expected.school_map,
            "Okafor",
        )
        .await;
        gated(
            app,
            &client,
            who,
            "/provision.csv",
            expected.school_map,
            "A123456789012",
        )
        .await;
        gated(
            app,
            &client,
            who,
            "/admin/audit",
            expected.audit,
            "Audit log",
        )
        .await;
        gated(
            app,
            &client,
            who,
            "/admin/audit.csv",
            expected.audit,
            "When (UTC)",
        )
        .await;

        // The pupil page links only to the pages the role may open.
        let (_, body) = page(app, &client, &format!("/pupils/{pupil}")).await;
        for link in ["plan", "programme", "provision"] {
            assert_eq!(
                body.contains(&format!("href=\"/pupils/{pupil}/{link}\"")),
                support,
                "{who} link to {link}"
            );
        }
    }
}

both_engines!(every_role_sees_what_the_rule_allows);
