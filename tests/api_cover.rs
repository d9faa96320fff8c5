//! The API routes for plans, programmes, sessions, block reviews, provision and the insight
//! reports, on SQLite and PostgreSQL: each answers a role its page lets in and refuses the
//! others (403, or 404 for another school's pupil); bad input is refused with the field named
//! and nothing written; recording a session moves the block's fidelity; a block review moves
//! the pupil as the programme page does, and so does the review meeting's outcome.

mod common;

use chrono::{Datelike, NaiveDate, TimeDelta, Utc, Weekday};
use diesel::prelude::*;
use reqwest::{Client, Response, StatusCode};
use serde_json::{json, Value};

use common::{
    assert_error_shape, both_engines, csrf_token_in, location, page as get, set_level, signed_in,
    spawn_app, today, Engine, Role, TestApp, PASSWORD,
};
use steadfast::db::models::School;
use steadfast::db::provision;
use steadfast::db::schema::{meetings, programme_blocks, programme_sessions, pupils};
use steadfast::db::staff::StaffMember;
use steadfast::domain::plan::ProvisionSubmission;

const SENDCO: &str = "sendco@oak.example";
const SPECIALIST: &str = "pat@oak.example";

/// A school with a SENDCO (signed in to the pages, to arrange things as a SENDCO would), a
/// specialist practitioner, a class teacher, the Heads of Year 8 and 9 and SLT, each with an
/// API token, and a Year 9 pupil; and another school's SLT with a token.
struct Scene {
    app: TestApp,
    school: School,
    sendco_member: StaffMember,
    sendco_client: Client,
    specialist_id: i64,
    pupil: i64,
    sendco: String,
    specialist: String,
    teacher: String,
    hoy8: String,
    hoy9: String,
    slt: String,
    other_slt: String,
}

async fn scene(engine: Engine) -> Scene {
    let app = spawn_app(engine).await;
    let school = app.create_school("OAK", "Oakfield Academy");
    let sendco_member =
        app.create_staff(&school, SENDCO, "Sen Co", &[Role::Sendco], Some(PASSWORD));
    let specialist = app.create_staff(
        &school,
        SPECIALIST,
        "Pat Practitioner",
        &[Role::Specialist],
        None,
    );
    let teacher = app.create_staff(
        &school,
        "tess@oak.example",
        "Tess Teacher",
        &[Role::ClassStaff],
        None,
    );
    let hoy8 = app.create_staff_leading(
        &school,
        "hana@oak.example",
        "Hana Head",
        &[Role::PastoralLead],
        &[8],
        None,
    );
    let hoy9 = app.create_staff_leading(
        &school,
        "hal@oak.example",
        "Hal Head",
        &[Role::PastoralLead],
        &[9],
        None,
    );
    let slt = app.create_staff(&school, "sam@oak.example", "Sam Senior", &[Role::Slt], None);
    let other = app.create_school("ELM", "Elm Academy");
    let other_slt = app.create_staff(&other, "slt@elm.example", "Eli Senior", &[Role::Slt], None);
    let pupil = app
        .create_pupil(&school, "A123456789012", "Sam", "Okafor", 9, "9B")
        .id;
    let sendco_client = signed_in(&app, SENDCO).await;
    Scene {
        sendco: app.create_token(&sendco_member),
        specialist: app.create_token(&specialist),
        teacher: app.create_token(&teacher),
        hoy8: app.create_token(&hoy8),
        hoy9: app.create_token(&hoy9),
        slt: app.create_token(&slt),
        other_slt: app.create_token(&other_slt),
        specialist_id: specialist.id,
        sendco_member,
        sendco_client,
        school,
        pupil,
        app,
    }
}

/// Posts a page form with the session's CSRF token (read from the home page).
async fn post_form(s: &Scene, path: &str, fields: &[(&str, String)]) -> Response {
    let (_, home) = get(&s.app, &s.sendco_client, "/").await;
    let mut form = vec![("csrf_token", csrf_token_in(&home))];
    form.extend(fields.iter().map(|(n, v)| (*n, v.clone())));
    s.sendco_client
        .post(s.app.url(path))
        .form(&form)
        .send()
        .await
        .expect("the form to be answered")
}

/// Today if it is a weekday (test schools have no holidays), else the Monday after.
fn first_school_day() -> NaiveDate {
    let mut day = today();
    while matches!(day.weekday(), Weekday::Sat | Weekday::Sun) {
        day += TimeDelta::days(1);
    }
    day
}

async fn move_pupil(s: &Scene, to: i16, override_gates: bool) {
    let mut fields = vec![
        ("to", to.to_string()),
        ("reason", "Agreed at the pastoral meeting".to_string()),
    ];
    if override_gates {
        fields.push(("override", "1".to_string()));
    }
    let response = post_form(s, &format!("/pupils/{}/level", s.pupil), &fields).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER, "moving to {to}");
}

async fn agree_plan(s: &Scene, goal: &str) {
    let fields = vec![
        ("goal_1", goal.to_string()),
        (
            "success_criterion_1",
            "On time to lessons 4 days out of 5".to_string(),
        ),
        (
            "pathway_to_independence",
            "Sam plans his own morning with a checklist, then without one.".to_string(),
        ),
        ("step_what_1", "Morning check-in with the tutor".to_string()),
        ("step_owner_1", "Mr Reid".to_string()),
        ("step_by_1", (today() + TimeDelta::days(7)).to_string()),
        ("review_on", (today() + TimeDelta::days(28)).to_string()),
        ("agreed_with", "Ms Okafor (mother)".to_string()),
    ];
    let response = post_form(s, &format!("/pupils/{}/plan", s.pupil), &fields).await;
    assert_eq!(
        response.status(),
        StatusCode::SEE_OTHER,
        "agreeing the plan"
    );
}

/// The pupil on the Coaching Programme with a plan, and the 2-week block planned with the
/// specialist practitioner, one session today. Answers the block's id and today's session's.
async fn on_programme(s: &Scene) -> (i64, i64) {
    move_pupil(s, 4, true).await;
    agree_plan(s, "Arrive on time to lessons").await;
    move_pupil(s, 5, false).await;
    let fields = vec![
        ("starts_on", first_school_day().to_string()),
        ("sessions_per_week", "5".to_string()),
        ("weekdays", "mon".to_string()),
        ("weekdays", "tue".to_string()),
        ("weekdays", "wed".to_string()),
        ("weekdays", "thu".to_string()),
        ("weekdays", "fri".to_string()),
        ("minutes", "30".to_string()),
        ("time", "10:00".to_string()),
        ("place", "in_school".to_string()),
        ("led_by", "specialist_staff".to_string()),
        ("practitioner_id", s.specialist_id.to_string()),
        ("practitioner_name", String::new()),
    ];
    let path = format!("/pupils/{}/programme/blocks", s.pupil);
    let response = post_form(s, &path, &fields).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER, "planning");
    assert_eq!(
        location(&response),
        format!("/pupils/{}/programme?done=planned", s.pupil)
    );
    let mut conn = s.app.conn();
    let block: i64 = programme_blocks::table
        .filter(programme_blocks::pupil_id.eq(s.pupil))
        .select(programme_blocks::id)
        .first(&mut *conn)
        .expect("the block");
    let first: (i64, NaiveDate) = programme_sessions::table
        .filter(programme_sessions::block_id.eq(block))
        .order(programme_sessions::on_date)
        .select((programme_sessions::id, programme_sessions::on_date))
        .first(&mut *conn)
        .expect("a first session");
    if first.1 != today() {
        diesel::update(programme_sessions::table.find(first.0))
            .set(programme_sessions::on_date.eq(today()))
            .execute(&mut *conn)
            .expect("moving the first session to today");
    }
    (block, first.0)
}

/// Asserts a refusal in the error shape, naming `field`.
fn assert_refused(answer: &(StatusCode, Value), status: StatusCode, field: &str) {
    assert_eq!(answer.0, status, "{}", answer.1);
    assert_error_shape(&answer.1);
    assert_eq!(answer.1["error"]["field"], field, "{}", answer.1);
}

fn session_outcome(app: &TestApp, session: i64) -> (Option<String>, Option<i32>) {
    programme_sessions::table
        .find(session)
        .select((programme_sessions::outcome, programme_sessions::minutes))
        .first(&mut *app.conn())
        .expect("the session")
}

fn block_state(app: &TestApp, block: i64) -> (String, Option<String>) {
    programme_blocks::table
        .find(block)
        .select((programme_blocks::status, programme_blocks::decision))
        .first(&mut *app.conn())
        .expect("the block")
}

fn pupil_state(app: &TestApp, pupil: i64) -> (i16, Option<i16>) {
    pupils::table
        .find(pupil)
        .select((pupils::level, pupils::programme_block))
        .first(&mut *app.conn())
        .expect("the pupil")
}

async fn the_plan_and_programme_follow_their_pages_rules(engine: Engine) {
    let s = scene(engine).await;
    let (block, _) = on_programme(&s).await;
    agree_plan(&s, "Arrive on time to every lesson").await;
    let plan = format!("/api/v1/pupils/{}/plan", s.pupil);
    let programme = format!("/api/v1/pupils/{}/programme", s.pupil);

    for token in [&s.sendco, &s.hoy9, &s.slt] {
        let (status, body) = s.app.api_get(&plan, token).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["current"]["version"], 2);
        assert_eq!(
            body["current"]["goals"][0]["text"],
            "Arrive on time to every lesson"
        );
        assert_eq!(body["earlier"].as_array().map(Vec::len), Some(1));
        assert_eq!(body["earlier"][0]["version"], 1);
        assert_eq!(
            body["earlier"][0]["goals"][0]["text"],
            "Arrive on time to lessons"
        );
        assert_eq!(body["review_due"], false);

        let (status, body) = s.app.api_get(&programme, token).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["level"], 5);
        let first = &body["blocks"][0];
        assert_eq!(first["id"], block);
        assert_eq!(first["weeks"], 2);
        assert_eq!(first["status"], "running");
        assert_eq!(first["sessions"].as_array().map(Vec::len), Some(10));
        assert_eq!(first["fidelity"]["delivered"], 0);
    }
    for token in [&s.teacher, &s.hoy8, &s.specialist] {
        for path in [&plan, &programme] {
            let answer = s.app.api_get(path, token).await;
            assert_eq!(answer.0, StatusCode::FORBIDDEN, "{path}: {}", answer.1);
            assert_error_shape(&answer.1);
        }
    }
    for path in [&plan, &programme] {
        let answer = s.app.api_get(path, &s.other_slt).await;
        assert_eq!(answer.0, StatusCode::NOT_FOUND, "{path}: {}", answer.1);
    }
    let missing = s.app.api_get("/api/v1/pupils/x/plan", &s.sendco).await;
    assert_eq!(missing.0, StatusCode::NOT_FOUND);
}

async fn recording_a_session_moves_its_fidelity(engine: Engine) {
    let s = scene(engine).await;
    let (_, session) = on_programme(&s).await;
    let path = format!("/api/v1/sessions/{session}/record");

    for (body, field) in [
        (json!({"outcome": "sideways"}), "outcome"),
        (json!({"outcome": "not_delivered"}), "reason"),
        (json!({"outcome": "delivered", "minutes": 0}), "minutes"),
        (json!({"outcome": "absent", "minutes": 30}), "minutes"),
        (json!({"outcome": "delivered", "colour": "red"}), "colour"),
        (json!({"minutes": 30}), "outcome"),
        (
            json!({"outcome": "delivered", "minutes": "thirty"}),
            "minutes",
        ),
    ] {
        let answer = s.app.api_post(&path, &s.specialist, &body).await;
        assert_refused(&answer, StatusCode::BAD_REQUEST, field);
    }
    assert_eq!(
        session_outcome(&s.app, session),
        (None, None),
        "nothing written"
    );
    for token in [&s.teacher, &s.hoy8] {
        let answer = s
            .app
            .api_post(&path, token, &json!({"outcome": "delivered"}))
            .await;
        assert_eq!(answer.0, StatusCode::FORBIDDEN, "{}", answer.1);
    }
    let answer = s
        .app
        .api_post(&path, &s.other_slt, &json!({"outcome": "delivered"}))
        .await;
    assert_eq!(answer.0, StatusCode::NOT_FOUND, "{}", answer.1);
    assert_eq!(session_outcome(&s.app, session), (None, None));

    // The practitioner records it delivered: the planned 30 minutes, by them.
    let (status, recorded) = s
        .app
        .api_post(
            &path,
            &s.specialist,
            &json!({"outcome": "delivered", "note": "Good start"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{recorded}");
    assert_eq!(recorded["id"], session);
    assert_eq!(recorded["outcome"], "delivered");
    assert_eq!(recorded["minutes"], 30);
    assert_eq!(recorded["delivered_by"], "Pat Practitioner");
    assert_eq!(recorded["note"], "Good start");
    let programme = format!("/api/v1/pupils/{}/programme", s.pupil);
    let (_, body) = s.app.api_get(&programme, &s.sendco).await;
    let fidelity = &body["blocks"][0]["fidelity"];
    assert_eq!(
        (
            &fidelity["delivered"],
            &fidelity["planned"],
            &fidelity["percent"]
        ),
        (&json!(1), &json!(1), &json!(100))
    );
    assert_eq!(fidelity["band"], "high");

    // Corrected by the SENDCO: the pupil was absent after all.
    let (status, corrected) = s
        .app
        .api_post(
            &path,
            &s.sendco,
            &json!({"outcome": "absent", "reason": "Ill"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{corrected}");
    assert_eq!(corrected["outcome"], "absent");
    assert_eq!(corrected["minutes"], Value::Null);
    assert_eq!(
        session_outcome(&s.app, session),
        (Some("pupil_absent".to_string()), None)
    );
    let (_, body) = s.app.api_get(&programme, &s.sendco).await;
    let fidelity = &body["blocks"][0]["fidelity"];
    assert_eq!(
        (&fidelity["delivered"], &fidelity["planned"]),
        (&json!(0), &json!(1))
    );
    assert_eq!(fidelity["band"], "low");
    assert_eq!(fidelity["pupil_absent"], 1);
}

async fn a_block_review_moves_the_pupil_as_the_page_would(engine: Engine) {
    let s = scene(engine).await;
    let (block, session) = on_programme(&s).await;
    let absent = s
        .app
        .api_post(
            &format!("/api/v1/sessions/{session}/record"),
            &s.sendco,
            &json!({"outcome": "absent"}),
        )
        .await;
    assert_eq!(absent.0, StatusCode::OK, "{}", absent.1);
    let path = format!("/api/v1/programme-blocks/{block}/review");

    // Moving on with low fidelity needs a reason; nothing changes without one.
    let refused = s
        .app
        .api_post(&path, &s.sendco, &json!({"decision": "next_block"}))
        .await;
    assert_refused(&refused, StatusCode::BAD_REQUEST, "reason");
    assert!(
        refused.1["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("0 of 1 sessions (0%) were delivered")),
        "{}",
        refused.1
    );
    for (body, field) in [
        (json!({"decision": "sideways"}), "decision"),
        (json!({"reason": "x"}), "decision"),
        (json!({"decision": "goals_met", "summary": " "}), "summary"),
        (
            json!({"decision": "goals_met", "held_at": "2999-01-01T00:00:00Z"}),
            "held_at",
        ),
    ] {
        let answer = s.app.api_post(&path, &s.sendco, &body).await;
        assert_refused(&answer, StatusCode::BAD_REQUEST, field);
    }
    for token in [&s.teacher, &s.hoy8, &s.specialist] {
        let answer = s
            .app
            .api_post(&path, token, &json!({"decision": "goals_met"}))
            .await;
        assert_eq!(answer.0, StatusCode::FORBIDDEN, "{}", answer.1);
    }
    let answer = s
        .app
        .api_post(&path, &s.other_slt, &json!({"decision": "goals_met"}))
        .await;
    assert_eq!(answer.0, StatusCode::NOT_FOUND, "{}", answer.1);
    assert_eq!(block_state(&s.app, block), ("running".to_string(), None));
    assert_eq!(pupil_state(&s.app, s.pupil), (5, Some(2)));

    // With a reason, the 4-week block follows, as the programme page's review would do.
    let (status, reviewed) = s
        .app
        .api_post(
            &path,
            &s.hoy9,
            &json!({
                "decision": "next_block",
                "reason": "Sam was ill for the one session due; the support is in place",
                "summary": "Reviewed with Sam and his mother"
            }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{reviewed}");
    assert_eq!(reviewed["block"]["id"], block);
    assert_eq!(reviewed["block"]["status"], "reviewed");
    assert_eq!(reviewed["block"]["decision"], "next_block");
    assert_eq!(reviewed["pupil"]["id"], s.pupil);
    assert_eq!(reviewed["pupil"]["level"]["current"], 5);
    assert_eq!(
        block_state(&s.app, block),
        ("reviewed".to_string(), Some("next_block".to_string()))
    );
    assert_eq!(pupil_state(&s.app, s.pupil), (5, Some(4)));
    let summary: Option<String> = meetings::table
        .filter(meetings::pupil_id.eq(s.pupil))
        .filter(meetings::level.eq(5))
        .filter(meetings::status.eq("held"))
        .select(meetings::summary)
        .first(&mut *s.app.conn())
        .expect("the review meeting is held");
    assert_eq!(summary.as_deref(), Some("Reviewed with Sam and his mother"));

    let again = s
        .app
        .api_post(&path, &s.sendco, &json!({"decision": "goals_met"}))
        .await;
    assert_eq!(again.0, StatusCode::CONFLICT, "{}", again.1);
}

async fn the_review_meetings_outcome_reviews_the_block(engine: Engine) {
    let s = scene(engine).await;
    let (block, session) = on_programme(&s).await;
    let delivered = s
        .app
        .api_post(
            &format!("/api/v1/sessions/{session}/record"),
            &s.specialist,
            &json!({"outcome": "delivered"}),
        )
        .await;
    assert_eq!(delivered.0, StatusCode::OK, "{}", delivered.1);
    let meeting: i64 = meetings::table
        .filter(meetings::pupil_id.eq(s.pupil))
        .filter(meetings::level.eq(5))
        .filter(meetings::status.eq_any(["due", "scheduled"]))
        .select(meetings::id)
        .first(&mut *s.app.conn())
        .expect("the block's review meeting is due");
    let path = format!("/api/v1/meetings/{meeting}/outcome");
    let held_at = Utc::now().to_rfc3339();

    // Neither whether the goals were met nor a decision: refused, nothing written.
    let refused = s
        .app
        .api_post(
            &path,
            &s.sendco,
            &json!({"held_at": held_at, "summary": "Block reviewed", "goals_met": null}),
        )
        .await;
    assert_refused(&refused, StatusCode::BAD_REQUEST, "decision");
    let refused = s
        .app
        .api_post(
            &path,
            &s.sendco,
            &json!({"held_at": held_at, "summary": "Block reviewed", "goals_met": false, "decision": "goals_met"}),
        )
        .await;
    assert_refused(&refused, StatusCode::BAD_REQUEST, "goals_met");
    assert_eq!(block_state(&s.app, block), ("running".to_string(), None));

    let (status, held) = s
        .app
        .api_post(
            &path,
            &s.sendco,
            &json!({
                "held_at": held_at,
                "summary": "Sam is on time every day",
                "goals_met": true,
                "successes": "On time all week"
            }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{held}");
    assert_eq!(held["status"], "held");
    assert_eq!(held["outcome"]["goals_met"], true);
    assert_eq!(held["outcome"]["successes"], "On time all week");
    // The block is reviewed (fidelity fixed) and the pupil steps down, as the review would.
    assert_eq!(
        block_state(&s.app, block),
        ("reviewed".to_string(), Some("goals_met".to_string()))
    );
    let at_review: (Option<i32>, Option<i32>) = programme_blocks::table
        .find(block)
        .select((
            programme_blocks::delivered_at_review,
            programme_blocks::planned_at_review,
        ))
        .first(&mut *s.app.conn())
        .expect("the block");
    assert_eq!(at_review, (Some(1), Some(1)));
    assert_eq!(pupil_state(&s.app, s.pupil).0, 4);
}

/// Adds provision straight through the storage, as the form would.
fn add_item(s: &Scene, what: &str, pence: u32) -> i64 {
    let submission = ProvisionSubmission {
        what,
        external: true,
        provider_name: "County service",
        frequency_per_week: 2,
        session_minutes: 45,
        starts_on: Some(today()),
        review_on: Some(today() + TimeDelta::days(30)),
        ends_on: Some(today() + TimeDelta::days(90)),
        cost_per_session_pence: pence,
        entry_data: "Baseline",
        target: "Target",
    };
    provision::add_item(
        &mut s.app.conn(),
        &s.sendco_member,
        s.pupil,
        &submission,
        Utc::now(),
    )
    .expect("adding provision")
    .id
}

async fn provision_follows_its_pages_rules(engine: Engine) {
    let s = scene(engine).await;
    set_level(&s.app, s.pupil, 6);
    let item = add_item(&s, "Speech and language therapy", 5000);
    let second = s
        .app
        .create_pupil(&s.school, "B123456789012", "Ada", "Brook", 8, "8A")
        .id;
    set_level(&s.app, second, 4);

    let path = format!("/api/v1/pupils/{}/provision", s.pupil);
    for token in [&s.sendco, &s.hoy9, &s.slt] {
        let (status, body) = s.app.api_get(&path, token).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["level"], 6);
        assert_eq!(body["items"][0]["id"], item);
        assert_eq!(body["items"][0]["what"], "Speech and language therapy");
        // 2 a week at £50 for a 13-week term.
        assert_eq!(body["items"][0]["cost_per_term_pence"], 130_000);
        assert_eq!(body["items"][0]["reviews"], json!([]));
        assert_eq!(body["active_cost_per_term_pence"], 130_000);
    }
    for token in [&s.teacher, &s.hoy8, &s.specialist] {
        let answer = s.app.api_get(&path, token).await;
        assert_eq!(answer.0, StatusCode::FORBIDDEN, "{}", answer.1);
    }
    let answer = s.app.api_get(&path, &s.other_slt).await;
    assert_eq!(answer.0, StatusCode::NOT_FOUND, "{}", answer.1);

    // The whole-school map: the SENDCO and SLT only, in order of pupil id, with totals.
    for token in [&s.sendco, &s.slt] {
        let (status, map) = s.app.api_get("/api/v1/provision", token).await;
        assert_eq!(status, StatusCode::OK, "{map}");
        let ids: Vec<&Value> = map["pupils"]
            .as_array()
            .expect("a list")
            .iter()
            .map(|row| &row["pupil"]["id"])
            .collect();
        assert_eq!(ids, [&json!(s.pupil), &json!(second)]);
        assert_eq!(map["totals"]["pupils"], 2);
        assert_eq!(map["totals"]["active_items"], 1);
        assert_eq!(map["totals"]["cost_per_term_pence"], 130_000);
        assert_eq!(map["pupils"][0]["items"][0]["id"], item);
        assert_eq!(map["next"], Value::Null);
    }
    // A page at a time: each pupil once, the totals on every page.
    let (status, first) = s.app.api_get("/api/v1/provision?limit=1", &s.sendco).await;
    assert_eq!(status, StatusCode::OK, "{first}");
    assert_eq!(first["pupils"][0]["pupil"]["id"], s.pupil);
    assert_eq!(first["totals"]["pupils"], 2);
    let next = first["next"].as_str().expect("a next page");
    let (status, second_page) = s.app.api_get(next, &s.sendco).await;
    assert_eq!(status, StatusCode::OK, "{second_page}");
    assert_eq!(second_page["pupils"][0]["pupil"]["id"], second);
    assert_eq!(second_page["pupils"].as_array().map(Vec::len), Some(1));
    assert_eq!(second_page["next"], Value::Null);
    let answer = s
        .app
        .api_get("/api/v1/provision?cursor=not-a-cursor", &s.sendco)
        .await;
    assert_refused(&answer, StatusCode::BAD_REQUEST, "cursor");
    let (_, year8) = s.app.api_get("/api/v1/provision?year=8", &s.sendco).await;
    assert_eq!(year8["pupils"].as_array().map(Vec::len), Some(1));
    assert_eq!(year8["pupils"][0]["pupil"]["id"], second);
    let (_, level6) = s.app.api_get("/api/v1/provision?level=6", &s.sendco).await;
    assert_eq!(level6["pupils"][0]["pupil"]["id"], s.pupil);
    assert_eq!(level6["totals"]["pupils"], 1);
    let (_, ehcp) = s.app.api_get("/api/v1/provision?sen=ehcp", &s.sendco).await;
    assert_eq!(ehcp["pupils"], json!([]));
    for (query, field) in [
        ("year=twelve", "year"),
        ("level=3", "level"),
        ("sen=maybe", "sen"),
        ("colour=red", "colour"),
    ] {
        let answer = s
            .app
            .api_get(&format!("/api/v1/provision?{query}"), &s.sendco)
            .await;
        assert_refused(&answer, StatusCode::BAD_REQUEST, field);
    }
    for token in [&s.teacher, &s.hoy9, &s.specialist] {
        let answer = s.app.api_get("/api/v1/provision", token).await;
        assert_eq!(answer.0, StatusCode::FORBIDDEN, "{}", answer.1);
    }
}

async fn the_insight_reports_read_scope_and_dates_as_the_pages_do(engine: Engine) {
    let s = scene(engine).await;
    for behaviour in ["Off task", "Off task", "Late to lesson"] {
        let (status, body) = s
            .app
            .api_post(
                "/api/v1/incidents",
                &s.teacher,
                &json!({"pupil_ids": [s.pupil], "behaviour": behaviour, "severity": "minor", "response": "none"}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }

    let (status, patterns) = s.app.api_get("/api/v1/insight/patterns", &s.slt).await;
    assert_eq!(status, StatusCode::OK, "{patterns}");
    assert_eq!(patterns["scope"]["kind"], "school");
    assert_eq!(patterns["incidents"], 3);
    let behaviours = patterns["dimensions"]
        .as_array()
        .expect("dimensions")
        .iter()
        .find(|d| d["dimension"] == "behaviour")
        .expect("by behaviour");
    assert_eq!(behaviours["groups"][0]["key"], "Off task");
    assert_eq!(behaviours["groups"][0]["incidents"], 2);
    let pupil_scope = format!("/api/v1/insight/patterns?scope=pupil&pupil_id={}", s.pupil);
    let (status, one) = s.app.api_get(&pupil_scope, &s.hoy9).await;
    assert_eq!(status, StatusCode::OK, "{one}");
    assert_eq!(one["scope"]["pupil_id"], s.pupil);
    assert_eq!(one["rated"], false);
    let (status, year9) = s
        .app
        .api_get("/api/v1/insight/patterns?scope=year&year=9", &s.hoy9)
        .await;
    assert_eq!(status, StatusCode::OK, "{year9}");
    assert_eq!(year9["incidents"], 3);

    for (path, field) in [
        (
            "/api/v1/insight/patterns?scope=pupil&pupil_id=abc",
            "pupil_id",
        ),
        ("/api/v1/insight/patterns?from=yesterday", "from"),
        (
            "/api/v1/insight/patterns?from=2026-02-10&to=2026-02-01",
            "to",
        ),
        ("/api/v1/insight/patterns?scope=planet", "scope"),
        ("/api/v1/insight/patterns?colour=red", "colour"),
        ("/api/v1/insight/ladder?scope=form&form=1", "scope"),
        ("/api/v1/insight/ladder?from=2020-01-01&to=2026-01-01", "to"),
        ("/api/v1/insight/impact?level=9", "level"),
        ("/api/v1/insight/impact?to=soon", "to"),
    ] {
        let answer = s.app.api_get(path, &s.slt).await;
        assert_refused(&answer, StatusCode::BAD_REQUEST, field);
    }

    for path in [
        "/api/v1/insight/patterns",
        "/api/v1/insight/ladder",
        "/api/v1/insight/impact",
    ] {
        let answer = s.app.api_get(path, &s.teacher).await;
        assert_eq!(answer.0, StatusCode::FORBIDDEN, "{path}: {}", answer.1);
        let answer = s
            .app
            .api_get(&format!("{path}?scope=school"), &s.hoy9)
            .await;
        assert_eq!(answer.0, StatusCode::FORBIDDEN, "{path}: {}", answer.1);
        let answer = s
            .app
            .api_get(&format!("{path}?scope=year&year=8"), &s.hoy9)
            .await;
        assert_eq!(answer.0, StatusCode::FORBIDDEN, "{path}: {}", answer.1);
        let (status, body) = s
            .app
            .api_get(&format!("{path}?scope=year&year=9"), &s.hoy9)
            .await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
        let (status, body) = s.app.api_get(path, &s.sendco).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
    }
    let answer = s.app.api_get(&pupil_scope, &s.other_slt).await;
    assert_eq!(answer.0, StatusCode::NOT_FOUND, "{}", answer.1);

    let (_, ladder) = s.app.api_get("/api/v1/insight/ladder", &s.slt).await;
    assert_eq!(ladder["pupils"], 1);
    assert_eq!(ladder["levels"].as_array().map(Vec::len), Some(7));
    assert_eq!(ladder["tiers"][0]["tier"], "universal");
    assert_eq!(ladder["tiers"][0]["usual_percent"], 80);
    assert!(ladder["weeks"].as_array().is_some_and(|w| w.len() >= 12));
    let (_, impact) = s
        .app
        .api_get("/api/v1/insight/impact?level=3", &s.slt)
        .await;
    assert_eq!(impact["level"], 3);
    assert_eq!(impact["by_level"].as_array().map(Vec::len), Some(6));
}

both_engines!(
    the_plan_and_programme_follow_their_pages_rules,
    recording_a_session_moves_its_fidelity,
    a_block_review_moves_the_pupil_as_the_page_would,
    the_review_meetings_outcome_reviews_the_block,
    provision_follows_its_pages_rules,
    the_insight_reports_read_scope_and_dates_as_the_pages_do,
);
