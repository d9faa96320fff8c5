//! `POST /api/v1/incidents` and `GET /api/v1/pupils/{id}/timeline`, on both engines: logging,
//! rule evaluation at once, idempotency, validation that writes nothing, school isolation.

mod common;

use diesel::prelude::*;
use reqwest::StatusCode;
use serde_json::{json, Value};

use common::{assert_error_shape, both_engines, spawn_app, Engine, Role, TestApp};
use steadfast::db::models::School;
use steadfast::db::schema;

/// A school with a class teacher holding a token, and one pupil.
struct Classroom {
    school: School,
    token: String,
    pupil: i64,
}

fn classroom(app: &TestApp, code: &str) -> Classroom {
    let school = app.create_school(code, &format!("{code} School"));
    let teacher = app.create_staff(
        &school,
        &format!("teacher@{}.example", code.to_lowercase()),
        "Tess Teacher",
        &[Role::ClassStaff],
        None,
    );
    let token = app.create_token(&teacher);
    let pupil = app
        .create_pupil(&school, "A123456789012", "Sam", "Okafor", 8, "8B")
        .id;
    Classroom {
        school,
        token,
        pupil,
    }
}

fn incident_count(app: &TestApp) -> i64 {
    schema::incidents::table
        .count()
        .get_result(&mut *app.conn())
        .expect("counting incidents")
}

fn suggestion_count(app: &TestApp) -> i64 {
    schema::suggestions::table
        .count()
        .get_result(&mut *app.conn())
        .expect("counting suggestions")
}

/// Posts an incident with an optional idempotency key; answers status and body.
async fn post_incident(
    app: &TestApp,
    token: &str,
    key: Option<&str>,
    body: &Value,
) -> (StatusCode, Value) {
    let mut request = reqwest::Client::new()
        .post(app.url("/api/v1/incidents"))
        .bearer_auth(token)
        .json(body);
    if let Some(key) = key {
        request = request.header("Idempotency-Key", key);
    }
    let response = request.send().await.expect("an answer");
    let status = response.status();
    (status, response.json().await.expect("a JSON body"))
}

fn prompt_for(pupil: i64) -> Value {
    json!({"pupil_ids": [pupil], "behaviour": "Off task", "severity": "minor", "response": "prompt"})
}

async fn a_first_prompt_places_the_pupil_at_coaching_prompt(engine: Engine) {
    let app = spawn_app(engine).await;
    let class = classroom(&app, "NORTH");

    let (status, body) = post_incident(&app, &class.token, None, &prompt_for(class.pupil)).await;

    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["pupil_ids"], json!([class.pupil]));
    assert_eq!(body["response"], "prompt");
    assert_eq!(body["level_changes"][0]["to_level"], 1);
    assert_eq!(body["suggestions"], json!([]));
    let (_, pupil) = app
        .api_get(&format!("/api/v1/pupils/{}", class.pupil), &class.token)
        .await;
    assert_eq!(pupil["level"]["current"], 1);
    assert_eq!(pupil["level"]["name"], "prompt");
}

async fn three_prompts_suggest_a_coaching_conversation_with_them_as_evidence(engine: Engine) {
    let app = spawn_app(engine).await;
    let class = classroom(&app, "NORTH");

    let mut ids = Vec::new();
    let mut last = Value::Null;
    for _ in 0..3 {
        let (status, body) =
            post_incident(&app, &class.token, None, &prompt_for(class.pupil)).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        ids.push(body["id"].as_i64().expect("an id"));
        last = body;
    }

    let suggestions = last["suggestions"].as_array().expect("suggestions");
    assert_eq!(suggestions.len(), 1, "{last}");
    let suggestion = &suggestions[0];
    assert_eq!(suggestion["to_level"], 2);
    assert_eq!(suggestion["status"], "open");
    let mut evidence: Vec<i64> = suggestion["evidence"]
        .as_array()
        .expect("evidence")
        .iter()
        .filter_map(Value::as_i64)
        .collect();
    evidence.sort_unstable();
    assert_eq!(evidence, ids);
    assert_eq!(suggestion_count(&app), 1);

    let (status, timeline) = app
        .api_get(
            &format!("/api/v1/pupils/{}/timeline", class.pupil),
            &class.token,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let events = timeline["events"].as_array().expect("events");
    let suggested: Vec<&Value> = events
        .iter()
        .filter(|e| e["type"] == "suggestion")
        .collect();
    assert_eq!(suggested.len(), 1);
    assert_eq!(suggested[0]["id"], suggestion["id"]);
    assert_eq!(events.iter().filter(|e| e["type"] == "incident").count(), 3);

    // A fourth prompt does not suggest the same move again while it waits for a decision.
    let (_, fourth) = post_incident(&app, &class.token, None, &prompt_for(class.pupil)).await;
    assert_eq!(fourth["suggestions"], json!([]));
    assert_eq!(suggestion_count(&app), 1);
}

async fn a_serious_incident_suggests_coaching_time(engine: Engine) {
    let app = spawn_app(engine).await;
    let class = classroom(&app, "NORTH");
    let body = json!({"pupil_ids": [class.pupil], "behaviour": "Physical aggression", "severity": "serious", "response": "none"});

    let (status, answer) = post_incident(&app, &class.token, None, &body).await;

    assert_eq!(status, StatusCode::CREATED, "{answer}");
    assert_eq!(answer["suggestions"][0]["to_level"], 3, "{answer}");
}

async fn a_repeated_key_returns_the_first_answer_and_writes_nothing(engine: Engine) {
    let app = spawn_app(engine).await;
    let class = classroom(&app, "NORTH");
    let key = "0b8f9d2e-3c1a-4c7e-9b55-1f2e3d4c5b6a";

    let (first_status, first) =
        post_incident(&app, &class.token, Some(key), &prompt_for(class.pupil)).await;
    let (again_status, again) =
        post_incident(&app, &class.token, Some(key), &prompt_for(class.pupil)).await;

    assert_eq!(first_status, StatusCode::CREATED);
    assert_eq!(again_status, StatusCode::CREATED);
    assert_eq!(first, again);
    assert_eq!(incident_count(&app), 1);
}

async fn a_kept_answer_is_forgotten_after_its_days(engine: Engine) {
    use steadfast::db::idempotency::ANSWERS_KEPT_DAYS;
    use steadfast::jobs::{self, JobContext};
    let app = spawn_app(engine).await;
    let class = classroom(&app, "NORTH");
    let key = "queued-on-a-phone-0001";
    let (status, first) =
        post_incident(&app, &class.token, Some(key), &prompt_for(class.pupil)).await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    let context = JobContext::from_settings(&app.settings).expect("a job context");
    let kept = || {
        schema::idempotency_keys::table
            .count()
            .get_result::<i64>(&mut *app.conn())
            .expect("counting kept answers")
    };

    let within = chrono::Utc::now() + chrono::TimeDelta::days(ANSWERS_KEPT_DAYS - 1);
    let report = jobs::run_once(&app.db, &context, within)
        .await
        .expect("the jobs");
    assert_eq!(report.answers_cleared, 0, "{report}");
    let (_, again) = post_incident(&app, &class.token, Some(key), &prompt_for(class.pupil)).await;
    assert_eq!(again, first, "still answered from what was kept");
    assert_eq!(incident_count(&app), 1);

    let after = chrono::Utc::now() + chrono::TimeDelta::days(ANSWERS_KEPT_DAYS + 1);
    let report = jobs::run_once(&app.db, &context, after)
        .await
        .expect("the jobs");
    assert_eq!(report.answers_cleared, 1, "{report}");
    assert_eq!(kept(), 0);
}

async fn a_key_reused_for_another_request_is_refused(engine: Engine) {
    let app = spawn_app(engine).await;
    let class = classroom(&app, "NORTH");
    let key = "reused-key-0001";
    post_incident(&app, &class.token, Some(key), &prompt_for(class.pupil)).await;
    let other = json!({"pupil_ids": [class.pupil], "behaviour": "Late to lesson"});

    let (status, body) = post_incident(&app, &class.token, Some(key), &other).await;

    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_error_shape(&body);
    assert_eq!(incident_count(&app), 1);
}

async fn the_same_key_sent_at_once_logs_one_incident(engine: Engine) {
    let app = spawn_app(engine).await;
    let class = classroom(&app, "NORTH");
    let key = "dropped-connection-retry-1";
    let body = prompt_for(class.pupil);
    let sends = (0..6).map(|_| post_incident(&app, &class.token, Some(key), &body));

    let answers = futures::future::join_all(sends).await;

    let ids: Vec<&Value> = answers.iter().map(|(_, body)| &body["id"]).collect();
    for (status, body) in &answers {
        assert_eq!(*status, StatusCode::CREATED, "{body}");
    }
    assert!(ids.windows(2).all(|w| w[0] == w[1]), "{ids:?}");
    assert_eq!(incident_count(&app), 1);
}

async fn one_wrong_pupil_among_several_writes_nothing(engine: Engine) {
    let app = spawn_app(engine).await;
    let class = classroom(&app, "NORTH");
    let other = classroom(&app, "SOUTH");
    let levels_before: Vec<i16> = schema::pupils::table
        .select(schema::pupils::level)
        .load(&mut *app.conn())
        .expect("levels");

    for pupil_ids in [
        json!([class.pupil, 999_999]),
        json!([class.pupil, other.pupil]),
    ] {
        let body = json!({"pupil_ids": pupil_ids, "behaviour": "Off task"});
        let (status, answer) = post_incident(&app, &class.token, None, &body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
        assert_error_shape(&answer);
        assert_eq!(answer["error"]["field"], "pupil_ids");
    }

    assert_eq!(incident_count(&app), 0);
    let levels_after: Vec<i16> = schema::pupils::table
        .select(schema::pupils::level)
        .load(&mut *app.conn())
        .expect("levels");
    assert_eq!(levels_before, levels_after);
    assert_eq!(other.school.code, "SOUTH");
}

async fn malformed_incidents_name_the_field_at_fault(engine: Engine) {
    let app = spawn_app(engine).await;
    let class = classroom(&app, "NORTH");
    let p = class.pupil;
    let cases = [
        (json!({"behaviour": "Off task"}), "pupil_ids"),
        (
            json!({"pupil_ids": [], "behaviour": "Off task"}),
            "pupil_ids",
        ),
        (
            json!({"pupil_ids": [p, p], "behaviour": "Off task"}),
            "pupil_ids",
        ),
        (
            json!({"pupil_ids": [p, "x"], "behaviour": "Off task"}),
            "pupil_ids[1]",
        ),
        (json!({"pupil_ids": [p]}), "behaviour"),
        (json!({"pupil_ids": [p], "behaviour": " "}), "behaviour"),
        (
            json!({"pupil_ids": [p], "behaviour": "Off task", "severity": "awful"}),
            "severity",
        ),
        (
            json!({"pupil_ids": [p], "behaviour": "Off task", "response": "detention"}),
            "response",
        ),
        (
            json!({"pupil_ids": [p], "behaviour": "Off task", "occurred_at": "yesterday"}),
            "occurred_at",
        ),
        (
            json!({"pupil_ids": [p], "behaviour": "Off task", "occurred_at": "2999-01-01T09:00:00Z"}),
            "occurred_at",
        ),
        (
            json!({"pupil_ids": [p], "behaviour": "Off task", "colour": "red"}),
            "colour",
        ),
    ];
    for (body, field) in cases {
        let (status, answer) = post_incident(&app, &class.token, None, &body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {answer}");
        assert_error_shape(&answer);
        assert_eq!(answer["error"]["field"], field, "{body}: {answer}");
    }
    let (status, answer) = post_incident(&app, &class.token, Some("bad key"), &prompt_for(p)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(answer["error"]["field"], "Idempotency-Key");
    assert_eq!(incident_count(&app), 0);
}

async fn logging_needs_a_token(engine: Engine) {
    let app = spawn_app(engine).await;
    let class = classroom(&app, "NORTH");

    let (status, body) =
        post_incident(&app, "sf_not_a_token", None, &prompt_for(class.pupil)).await;

    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_error_shape(&body);
    assert_eq!(incident_count(&app), 0);
}

async fn the_timeline_filters_by_type_and_date_and_stays_in_school(engine: Engine) {
    let app = spawn_app(engine).await;
    let class = classroom(&app, "NORTH");
    let other = classroom(&app, "SOUTH");
    post_incident(&app, &class.token, None, &prompt_for(class.pupil)).await;
    let path = format!("/api/v1/pupils/{}/timeline", class.pupil);

    let (_, incidents_only) = app
        .api_get(&format!("{path}?type=incident"), &class.token)
        .await;
    let events = incidents_only["events"].as_array().expect("events");
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["type"], "incident");
    assert_eq!(events[0]["logged_by"], "Tess Teacher");

    let (_, long_ago) = app
        .api_get(&format!("{path}?to=2020-01-31"), &class.token)
        .await;
    assert_eq!(long_ago["events"], json!([]));

    for (query, field) in [
        ("?from=31-01-2026", "from"),
        ("?type=gossip", "type"),
        ("?from=2026-02-01&to=2026-01-01", "to"),
    ] {
        let (status, body) = app.api_get(&format!("{path}{query}"), &class.token).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}");
        assert_eq!(body["error"]["field"], field, "{query}");
    }

    let (status, body) = app.api_get(&path, &other.token).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_error_shape(&body);
}

both_engines!(
    a_first_prompt_places_the_pupil_at_coaching_prompt,
    three_prompts_suggest_a_coaching_conversation_with_them_as_evidence,
    a_serious_incident_suggests_coaching_time,
    a_repeated_key_returns_the_first_answer_and_writes_nothing,
    a_key_reused_for_another_request_is_refused,
    a_kept_answer_is_forgotten_after_its_days,
    the_same_key_sent_at_once_logs_one_incident,
    one_wrong_pupil_among_several_writes_nothing,
    malformed_incidents_name_the_field_at_fault,
    logging_needs_a_token,
    the_timeline_filters_by_type_and_date_and_stays_in_school,
);
