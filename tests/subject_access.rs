//! Giving a pupil's record out, end to end on both engines. A pupil is given records of every
//! kind through the app's own routes and db functions: incidents (one naming another pupil,
//! one shared with them), a Coaching Conversation, level changes from accepted suggestions, a
//! Coaching Time meeting booked with a guest and held (its record naming another pupil), the
//! emails that meeting sent, two versions of a Coaching Plan, a programme block with recorded
//! sessions, provision with a review, a teaching group and an audited read. Then:
//! - SLT's subject access export holds each of them in the JSON, in the right CSV file and on
//!   the page, the API's ZIP holds the same, and the fields naming another pupil are withheld
//!   and listed for review by UPN;
//! - class staff, the pupil's Head of Year, the SENDCO and another school's SLT are refused
//!   (403, or 404 where the pupil is not of their school), and refusals write nothing;
//! - every export is audited with who, which pupil and which form;
//! - `steadfast export pupil` writes a ZIP that opens and holds the JSON, and refuses to
//!   overwrite a file, an unknown school and an unknown UPN;
//! - the record for a new school holds the plan in force and the programme's sessions
//!   counted, and not the incidents or the earlier plan.

mod common;

use chrono::{Datelike, NaiveDate, TimeDelta, Utc, Weekday};
use diesel::prelude::*;
use reqwest::{header, StatusCode};
use serde_json::{json, Value};

use common::{
    assert_failure_naming, assert_success, both_engines, page, set_level, signed_in, spawn_app,
    today, unzip, Engine, Role, TestApp, PASSWORD,
};
use steadfast::db::models::School;
use steadfast::db::plans::{self, Agreement};
use steadfast::db::programmes::{self, BlockRequest, SessionInput};
use steadfast::db::schema::{audit_log, programme_sessions};
use steadfast::db::staff::StaffMember;
use steadfast::db::{conversations, evaluation, provision, teaching_groups};
use steadfast::domain::calendar::SchoolCalendar;
use steadfast::domain::conversation::NewConversation;
use steadfast::domain::oneroster::{GroupPlan, TeachingGroup};
use steadfast::domain::plan::{PlanSubmission, ProvisionReviewSubmission, ProvisionSubmission};
use steadfast::domain::subject_access::WITHHELD;

const UPN: &str = "A123456789012";
const BEN_UPN: &str = "B123456789012";
const SLT: &str = "slt@oak.example";
const ADMIN: &str = "admin@oak.example";
const SENDCO: &str = "sendco@oak.example";
const HOY9: &str = "hoy9@oak.example";
const TEACHER: &str = "teacher@oak.example";
const ELM_SLT: &str = "slt@elm.example";

/// The note of an incident that names Ben Ade (in another case): withheld.
const NAMING_NOTE: &str = "Threw a rubber at ben ADE during the starter";
/// An incident's note naming no one: given out in full.
const INCIDENT_NOTE: &str = "Kept tapping the desk";
/// The challenges recorded at the meeting, naming Ben in register order: withheld.
const NAMING_CHALLENGES: &str = "Sits beside Ade, Ben and gets drawn in";

/// Text that must reach the export, one per kind of record, with the CSV file it belongs in.
const EXPECTED: [(&str, &str); 16] = [
    ("incidents.csv", "Room 4"),
    ("incidents.csv", INCIDENT_NOTE),
    ("incidents.csv", "Fighting"),
    ("conversations.csv", "Calmer after lunch"),
    ("level_changes.csv", "Coaching Time"),
    ("suggestions.csv", "accepted"),
    ("meetings.csv", "Agreed a fresh start"),
    ("meeting_participants.csv", "Hal Head"),
    ("meeting_guests.csv", "Pat Okafor"),
    ("coaching_plans.csv", "Arrive on time, second version"),
    ("programme_blocks.csv", "Dr Shah"),
    ("programme_sessions.csv", "Practised the calm-down routine"),
    ("provision_items.csv", "Mentoring with a learning mentor"),
    ("provision_reviews.csv", "Settles faster in the mornings"),
    ("record_reads.csv", "plan.read"),
    ("teaching_groups.csv", "9 Maths set 1"),
];

struct Scene {
    school: School,
    pupil: i64,
    slt_token: String,
    teacher_token: String,
    elm_token: String,
}

fn days(n: i64) -> NaiveDate {
    today() + TimeDelta::days(n)
}

async fn accept(app: &TestApp, token: &str, logged: &Value) -> Value {
    let id = logged["suggestions"][0]["id"]
        .as_i64()
        .unwrap_or_else(|| panic!("a suggestion in {logged}"));
    let (status, body) = app
        .api_post(
            &format!("/api/v1/suggestions/{id}/accept"),
            token,
            &json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

/// The pupil's Coaching Time: three prompts (the first naming Ben, the second shared with
/// him), the conversation accepted, a serious incident, Coaching Time accepted, booked with
/// a parent as a guest and held.
async fn coaching_time(app: &TestApp, pupil: i64, ben: i64, teacher: &str, hoy9: &StaffMember) {
    let hoy9_token = app.create_token(hoy9);
    let prompts = [
        json!({"pupil_ids": [pupil], "behaviour": "Off task", "location": "Room 4", "lesson": "Maths", "note": NAMING_NOTE}),
        json!({"pupil_ids": [pupil, ben], "behaviour": "Off task"}),
        json!({"pupil_ids": [pupil], "behaviour": "Off task", "note": INCIDENT_NOTE}),
    ];
    let mut last = Value::Null;
    for prompt in &prompts {
        let (status, body) = app.api_post("/api/v1/incidents", teacher, prompt).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        last = body;
    }
    accept(app, &hoy9_token, &last).await;
    let serious = json!({"pupil_ids": [pupil], "behaviour": "Fighting", "severity": "serious", "response": "none"});
    let (_, logged) = app.api_post("/api/v1/incidents", teacher, &serious).await;
    let accepted = accept(app, &hoy9_token, &logged).await;
    let meeting = accepted["meeting"]["id"].as_i64().expect("a meeting due");
    let booking = json!({
        "starts_at": (Utc::now() + TimeDelta::days(1)).to_rfc3339(),
        "duration_minutes": 30,
        "location": "Room 12",
        "participant_ids": [hoy9.id],
        "parent_invited": true,
        "guests": [{"name": "Pat Okafor", "email": "parent@home.example", "role": "parent_carer"}]
    });
    let (status, body) = app
        .api_post(
            &format!("/api/v1/meetings/{meeting}/schedule"),
            &hoy9_token,
            &booking,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let held = json!({
        "held_at": (Utc::now() - TimeDelta::hours(1)).to_rfc3339(),
        "summary": "Agreed a fresh start with Amira",
        "goals_met": null,
        "challenges": NAMING_CHALLENGES,
        "focus": "Starting lessons calmly"
    });
    let (status, body) = app
        .api_post(
            &format!("/api/v1/meetings/{meeting}/outcome"),
            &hoy9_token,
            &held,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

/// A school day about a fortnight ago, when the plan was agreed and the programme started.
fn a_fortnight_ago() -> chrono::DateTime<Utc> {
    let mut then = Utc::now() - TimeDelta::days(14);
    while matches!(
        SchoolCalendar::local_date(then).weekday(),
        Weekday::Sat | Weekday::Sun
    ) {
        then -= TimeDelta::days(1);
    }
    then
}

/// The plan (twice), the programme with its sessions, and provision with a review.
fn upper_levels(app: &TestApp, school: &School, sendco: &StaffMember, pupil: i64) {
    set_level(app, pupil, 4);
    let then = a_fortnight_ago();
    for (goal, at) in [
        ("Arrive on time, first version", then - TimeDelta::days(1)),
        ("Arrive on time, second version", then),
    ] {
        let goals = [(goal, "On time 4 days out of 5")];
        let steps = [("Meet at the gate", "Mr Patel", Some(days(-10)))];
        let plan = PlanSubmission {
            goals: &goals,
            pathway_to_independence: "From prompts at the gate to arriving alone",
            action_steps: &steps,
            review_on: Some(days(20)),
        };
        let agreement = Agreement {
            pupil_id: pupil,
            plan: &plan,
            agreed_with: Some("Pat Okafor"),
            meeting_id: None,
        };
        plans::agree(&mut app.conn(), sendco, &agreement, at).expect("agreeing the plan");
    }
    set_level(app, pupil, 5);
    let rules = evaluation::load_rules(&mut app.conn(), school.id).expect("the rules");
    let request = BlockRequest {
        pupil_id: pupil,
        starts_on: Some(SchoolCalendar::local_date(then)),
        sessions_per_week: 2,
        weekdays: &[Weekday::Mon, Weekday::Thu],
        minutes: 30,
        time: None,
        place: "in_school",
        led_by: "external_professional",
        practitioner_id: None,
        practitioner_name: Some("Dr Shah"),
    };
    let block = programmes::plan_block(&mut app.conn(), sendco, &request, &rules, then)
        .expect("planning the block");
    let past: Vec<i64> = programme_sessions::table
        .filter(programme_sessions::block_id.eq(block.block.id))
        .filter(programme_sessions::on_date.lt(today()))
        .order(programme_sessions::on_date)
        .select(programme_sessions::id)
        .load(&mut *app.conn())
        .expect("the sessions so far");
    assert!(past.len() >= 2, "sessions in the last fortnight");
    for (n, session) in past.into_iter().enumerate() {
        let recorded = SessionInput {
            outcome: "delivered",
            minutes: Some(30),
            note: (n == 0).then_some("Practised the calm-down routine"),
            ..SessionInput::default()
        };
        programmes::record_session(&mut app.conn(), sendco, session, &recorded, Utc::now())
            .expect("recording a session");
    }
    set_level(app, pupil, 6);
    let submission = ProvisionSubmission {
        what: "Mentoring with a learning mentor",
        external: false,
        provider_name: "Learning support team",
        frequency_per_week: 2,
        session_minutes: 30,
        starts_on: Some(days(-7)),
        review_on: Some(days(7)),
        ends_on: Some(days(90)),
        cost_per_session_pence: 1500,
        entry_data: "Late to 3 lessons in 5",
        target: "Late to 1 lesson in 5 at most",
    };
    let item = provision::add_item(&mut app.conn(), sendco, pupil, &submission, Utc::now())
        .expect("adding provision");
    let review = ProvisionReviewSubmission {
        assessment: "Settles faster in the mornings",
        progress: "partly_met",
        next_plan: None,
        decision: "continue",
        next_review_on: Some(days(21)),
    };
    provision::review_item(&mut app.conn(), sendco, item.id, &review, Utc::now())
        .expect("reviewing provision");
}

/// Two schools, their staff, and Amira Okafor of Oakfield with records of every kind.
async fn scene(app: &TestApp) -> Scene {
    let school = app.create_school("OAK", "Oakfield Academy");
    let slt = app.create_staff(&school, SLT, "Sal Lead", &[Role::Slt], Some(PASSWORD));
    app.create_staff(&school, ADMIN, "Ada Admin", &[Role::Admin], Some(PASSWORD));
    let sendco = app.create_staff(&school, SENDCO, "Sen Co", &[Role::Sendco], Some(PASSWORD));
    let hoy9 = app.create_staff_leading(
        &school,
        HOY9,
        "Hal Head",
        &[Role::PastoralLead],
        &[9],
        Some(PASSWORD),
    );
    let teacher = app.create_staff(
        &school,
        TEACHER,
        "Tess Teacher",
        &[Role::ClassStaff],
        Some(PASSWORD),
    );
    let elm = app.create_school("ELM", "Elm Park School");
    let elm_slt = app.create_staff(&elm, ELM_SLT, "Eli Lead", &[Role::Slt], Some(PASSWORD));
    let pupil = app
        .create_pupil(&school, UPN, "Amira", "Okafor", 9, "9B")
        .id;
    let ben = app.create_pupil(&school, BEN_UPN, "Ben", "Ade", 9, "9B").id;
    let teacher_token = app.create_token(&teacher);

    coaching_time(app, pupil, ben, &teacher_token, &hoy9).await;
    let conversation = NewConversation {
        pupil_id: pupil,
        held_at: Utc::now() - TimeDelta::minutes(30),
        with_whom: None,
        what_happened: "Calmer after lunch, talked it through".into(),
        what_got_in_the_way: None,
        what_could_help: Some("A break card".into()),
        plan_next_time: "Ask for a break card".into(),
        good_for_everyone: None,
        incident_ids: Vec::new(),
    };
    conversations::record(
        &mut app.conn(),
        school.id,
        teacher.id,
        &conversation,
        Utc::now(),
    )
    .expect("recording a conversation");
    upper_levels(app, &school, &sendco, pupil);
    let groups = GroupPlan {
        added: vec![TeachingGroup {
            line: 2,
            source_id: "cls-9ma1".into(),
            name: "9 Maths set 1".into(),
            subject: Some("Maths".into()),
            periods: "Mon 1, Thu 3".into(),
            teachers: Vec::new(),
            members: vec![UPN.into()],
        }],
        changed: Vec::new(),
        unchanged: 0,
    };
    teaching_groups::apply(&mut app.conn(), school.id, &groups).expect("a teaching group");
    // The SENDCO opens the plan: an audited read.
    let client = signed_in(app, SENDCO).await;
    let (status, _) = page(app, &client, &format!("/pupils/{pupil}/plan")).await;
    assert_eq!(status, StatusCode::OK);
    Scene {
        slt_token: app.create_token(&slt),
        elm_token: app.create_token(&elm_slt),
        teacher_token,
        school,
        pupil,
    }
}

fn file<'a>(files: &'a [(String, String)], name: &str) -> &'a str {
    files
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, text)| text.as_str())
        .unwrap_or_else(|| panic!("no {name} in the ZIP"))
}

/// The export actions audited: (actor, action, entity id, detail).
fn exports(app: &TestApp) -> Vec<(Option<i64>, String, Option<i64>, String)> {
    audit_log::table
        .filter(
            audit_log::action
                .eq("subject_access.export")
                .or(audit_log::action.eq("transfer.export")),
        )
        .order(audit_log::id)
        .select((
            audit_log::actor_id,
            audit_log::action,
            audit_log::entity_id,
            audit_log::detail,
        ))
        .load(&mut *app.conn())
        .expect("the audit log")
}

async fn api_zip(app: &TestApp, path: &str, token: Option<&str>) -> (StatusCode, String, Vec<u8>) {
    let mut request = reqwest::Client::new().get(app.url(path));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.expect("an answer");
    let status = response.status();
    let kind = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    (
        status,
        kind,
        response.bytes().await.expect("a body").to_vec(),
    )
}

async fn the_export_holds_every_kind_of_record(engine: Engine) {
    let app = spawn_app(engine).await;
    let s = scene(&app).await;
    let slt = signed_in(&app, SLT).await;

    // The pupil page links to both records for SLT.
    let (_, pupil_page) = page(&app, &slt, &format!("/pupils/{}", s.pupil)).await;
    for link in ["export", "transfer"] {
        assert!(
            pupil_page.contains(&format!(r#"href="/pupils/{}/{link}""#, s.pupil)),
            "no {link} link"
        );
    }

    // The readable page.
    let (status, html) = page(&app, &slt, &format!("/pupils/{}/export", s.pupil)).await;
    assert_eq!(status, StatusCode::OK);
    for (_, text) in EXPECTED {
        assert!(html.contains(text), "no {text:?} on the page");
    }
    assert!(
        html.contains("Arrive on time, first version"),
        "every plan version"
    );
    assert!(html.contains("Emails sent about the pupil"));
    assert!(html.contains("Coaching Time meeting"), "an email's subject");
    assert!(html.contains("For review before release"));
    assert!(html.contains(BEN_UPN), "the other pupil is listed by UPN");
    assert!(!html.contains("Threw a rubber") && !html.contains("Sits beside"));
    assert!(html.contains(&format!(r#"href="/pupils/{}/export.zip""#, s.pupil)));

    // The ZIP from the page.
    let response = app
        .get_page(&slt, &format!("/pupils/{}/export.zip", s.pupil))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()[header::CONTENT_TYPE],
        "application/zip",
        "the ZIP's type"
    );
    let files = unzip(&response.bytes().await.expect("the ZIP"));
    let everything: String = files.iter().map(|(_, text)| text.as_str()).collect();
    assert!(!everything.contains("Threw a rubber") && !everything.contains("Sits beside"));
    for (name, text) in EXPECTED {
        assert!(file(&files, name).contains(text), "no {text:?} in {name}");
    }
    assert!(file(&files, "emails.csv").contains("Coaching Time meeting"));
    assert!(!file(&files, "emails.csv").contains("Hello"), "no bodies");
    assert!(file(&files, "record.html").contains("Calmer after lunch"));
    assert!(file(&files, "daily_incident_counts.csv").lines().count() > 1);
    let record: Value = serde_json::from_str(file(&files, "record.json")).expect("JSON");
    assert_eq!(record["pupil"]["upn"], UPN);
    assert_eq!(record["school"]["code"], "OAK");
    let records = record["records"].as_object().expect("the records");
    for (name, _) in EXPECTED {
        let key = name.trim_end_matches(".csv");
        let rows = records[key].as_array().expect("a list");
        assert!(!rows.is_empty(), "no {key} in the JSON");
    }
    for key in ["emails", "programme_sessions", "daily_incident_counts"] {
        assert!(!records[key].as_array().expect(key).is_empty(), "{key}");
    }
    assert_eq!(records["coaching_plans"].as_array().map(Vec::len), Some(2));
    let incidents = records["incidents"].as_array().expect("incidents");
    assert_eq!(incidents.len(), 4);
    assert_eq!(incidents[0]["note"], WITHHELD);
    assert_eq!(incidents[0]["location"], "Room 4");
    assert_eq!(incidents[1]["other_pupils_involved"], "1");
    assert_eq!(records["meetings"][0]["challenges"], WITHHELD);
    assert_eq!(records["meetings"][0]["focus"], "Starting lessons calmly");
    // The fields withheld, each listed with where it is and whom it names.
    let review = record["for_review"].as_array().expect("the review list");
    let listed: Vec<(String, String, String)> = review
        .iter()
        .map(|item| {
            (
                item["record_type"].as_str().unwrap_or_default().to_string(),
                item["field"].as_str().unwrap_or_default().to_string(),
                item["names_pupils"][0]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            )
        })
        .collect();
    assert_eq!(
        listed,
        [
            ("incidents".into(), "note".into(), BEN_UPN.into()),
            ("meetings".into(), "challenges".into(), BEN_UPN.into()),
        ]
    );
    assert_eq!(review[0]["record_id"], incidents[0]["id"]);
    assert!(file(&files, "for_review.csv").contains(BEN_UPN));
    assert!(file(&files, "incidents.csv").contains(WITHHELD));

    // The API gives the same records.
    let path = format!("/api/v1/pupils/{}/export", s.pupil);
    let (status, kind, bytes) = api_zip(&app, &path, Some(&s.slt_token)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(kind, "application/zip");
    let from_api: Value = serde_json::from_str(file(&unzip(&bytes), "record.json")).expect("JSON");
    assert_eq!(from_api["pupil"], record["pupil"]);
    assert_eq!(from_api["for_review"], record["for_review"]);
    assert_eq!(
        from_api["records"]["incidents"],
        record["records"]["incidents"]
    );

    // Each export audited: who, which pupil, which form; the later ones list the earlier.
    let slt_id = exports(&app)[0].0;
    assert!(slt_id.is_some());
    assert_eq!(
        exports(&app),
        ["page", "zip", "api"].map(|form| (
            slt_id,
            "subject_access.export".to_string(),
            Some(s.pupil),
            form.to_string()
        ))
    );
    assert!(from_api["records"]["record_reads"]
        .as_array()
        .expect("reads")
        .iter()
        .any(|read| read["action"] == "subject_access.export" && read["reader"] == "Sal Lead"));
}

async fn others_are_refused_and_the_transfer_record_is_narrower(engine: Engine) {
    let app = spawn_app(engine).await;
    let s = scene(&app).await;
    let export = format!("/pupils/{}/export", s.pupil);
    let zip = format!("/pupils/{}/export.zip", s.pupil);
    let transfer = format!("/pupils/{}/transfer", s.pupil);

    // Class staff, the pupil's own Head of Year and the SENDCO may not export; another
    // school's SLT cannot even find the pupil.
    for (who, status) in [
        (TEACHER, StatusCode::FORBIDDEN),
        (HOY9, StatusCode::FORBIDDEN),
        (SENDCO, StatusCode::FORBIDDEN),
        (ELM_SLT, StatusCode::NOT_FOUND),
    ] {
        let client = signed_in(&app, who).await;
        for path in [&export, &zip] {
            let (answer, body) = page(&app, &client, path).await;
            assert_eq!(answer, status, "{who} {path}");
            assert!(!body.contains("Okafor"), "{who} {path}");
        }
        let (_, pupil_page) = page(&app, &client, &format!("/pupils/{}", s.pupil)).await;
        assert!(
            !pupil_page.contains(&format!(r#"href="{export}""#)),
            "{who}"
        );
    }
    for (who, status) in [
        (TEACHER, StatusCode::FORBIDDEN),
        (HOY9, StatusCode::FORBIDDEN),
        (ELM_SLT, StatusCode::NOT_FOUND),
    ] {
        let client = signed_in(&app, who).await;
        let (answer, _) = page(&app, &client, &transfer).await;
        assert_eq!(answer, status, "{who} {transfer}");
    }
    let api = format!("/api/v1/pupils/{}/export", s.pupil);
    for (token, status) in [
        (Some(s.teacher_token.as_str()), StatusCode::FORBIDDEN),
        (Some(s.elm_token.as_str()), StatusCode::NOT_FOUND),
        (None, StatusCode::UNAUTHORIZED),
    ] {
        let (answer, kind, body) = api_zip(&app, &api, token).await;
        assert_eq!(answer, status);
        assert!(kind.starts_with("application/json"), "{kind}");
        let error: Value = serde_json::from_slice(&body).expect("the error shape");
        common::assert_error_shape(&error);
    }
    // The OpenAPI document describes the route, its ZIP and its refusals.
    let (status, doc) = app.api_get("/api/v1/openapi.json", &s.slt_token).await;
    assert_eq!(status, StatusCode::OK);
    let responses = &doc["paths"]["/api/v1/pupils/{id}/export"]["get"]["responses"];
    assert!(
        responses["200"]["content"]["application/zip"].is_object(),
        "{responses}"
    );
    for refusal in ["401", "403", "404"] {
        assert!(
            responses[refusal].is_object(),
            "no {refusal} in {responses}"
        );
    }
    let (answer, _, _) = api_zip(&app, "/api/v1/pupils/999999/export", Some(&s.slt_token)).await;
    assert_eq!(answer, StatusCode::NOT_FOUND);
    assert!(exports(&app).is_empty(), "a refusal audits nothing");

    // The SENDCO sends the record on to the pupil's next school.
    let sendco = signed_in(&app, SENDCO).await;
    let (_, pupil_page) = page(&app, &sendco, &format!("/pupils/{}", s.pupil)).await;
    assert!(pupil_page.contains(&format!(r#"href="{transfer}""#)));
    let (status, html) = page(&app, &sendco, &transfer).await;
    assert_eq!(status, StatusCode::OK);
    for expected in [
        "Record for the receiving school",
        UPN,
        "Bespoke Provision Map",
        "Arrive on time, second version",
        "From prompts at the gate to arriving alone",
        "Dr Shah",
        "Coaching Programme sessions, counted",
        "Mentoring with a learning mentor",
    ] {
        assert!(
            html.contains(expected),
            "no {expected:?} in the transfer record"
        );
    }
    for absent in [
        INCIDENT_NOTE,
        "Arrive on time, first version",
        "Room 4",
        "Fighting",
        "Calmer after lunch",
        "Agreed a fresh start",
        "Practised the calm-down routine",
        "Emails sent about the pupil",
    ] {
        assert!(!html.contains(absent), "{absent:?} in the transfer record");
    }
    let admin = signed_in(&app, ADMIN).await;
    let (status, _) = page(&app, &admin, &transfer).await;
    assert_eq!(status, StatusCode::OK);
    let audited = exports(&app);
    assert_eq!(audited.len(), 2);
    assert!(audited
        .iter()
        .all(|(actor, action, pupil, form)| actor.is_some()
            && action == "transfer.export"
            && *pupil == Some(s.pupil)
            && form == "page"));
}

async fn the_command_writes_a_zip(engine: Engine) {
    let app = spawn_app(engine).await;
    let s = scene(&app).await;
    let folder = tempfile::tempdir().expect("a folder");
    let out = folder.path().join("amira.zip");
    let out_arg = out.to_str().expect("a UTF-8 path");

    let written = app.cli(
        &[
            "export", "pupil", "--upn", UPN, "--school", "oak", "--out", out_arg,
        ],
        "",
    );
    assert_success(&written);
    let files = unzip(&std::fs::read(&out).expect("the ZIP written"));
    let record: Value = serde_json::from_str(file(&files, "record.json")).expect("JSON");
    assert_eq!(record["pupil"]["upn"], UPN);
    assert_eq!(
        record["records"]["incidents"].as_array().map(Vec::len),
        Some(4)
    );
    assert!(file(&files, "record.html").contains("Subject access record"));
    assert_eq!(
        exports(&app),
        [(
            None,
            "subject_access.export".to_string(),
            Some(s.pupil),
            "command line".to_string()
        )]
    );

    // An existing file is never replaced; unknown schools and UPNs are named.
    let before = std::fs::read(&out).expect("the ZIP");
    let again = app.cli(
        &[
            "export", "pupil", "--upn", UPN, "--school", "OAK", "--out", out_arg,
        ],
        "",
    );
    assert_failure_naming(&again, "already exists");
    assert_eq!(std::fs::read(&out).expect("the ZIP"), before);
    let other = folder.path().join("other.zip");
    let other_arg = other.to_str().expect("a UTF-8 path");
    let unknown_school = app.cli(
        &[
            "export", "pupil", "--upn", UPN, "--school", "NOPE", "--out", other_arg,
        ],
        "",
    );
    assert_failure_naming(&unknown_school, "--school: no school has the code NOPE");
    let unknown_upn = app.cli(
        &[
            "export",
            "pupil",
            "--upn",
            "Z999999999999",
            "--school",
            "OAK",
            "--out",
            other_arg,
        ],
        "",
    );
    assert_failure_naming(
        &unknown_upn,
        "--upn: no pupil of OAK has the UPN Z999999999999",
    );
    // Another school's pupil is not found by the wrong school's code.
    let wrong_school = app.cli(
        &[
            "export", "pupil", "--upn", UPN, "--school", "ELM", "--out", other_arg,
        ],
        "",
    );
    assert_failure_naming(&wrong_school, "--upn");
    assert!(!other.exists(), "nothing written for a refused export");
    assert_eq!(exports(&app).len(), 1);
    let _ = &s.school;
}

both_engines!(
    the_export_holds_every_kind_of_record,
    others_are_refused_and_the_transfer_record_is_narrower,
    the_command_writes_a_zip,
);
