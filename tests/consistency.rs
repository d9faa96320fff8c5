//! `steadfast check`'s consistency check on both engines, over records the running service
//! wrote: prompts that place a pupil at Coaching Prompt, an accepted Coaching Conversation and
//! a serious incident's Coaching Time all agree; a level or a "level since" changed behind the
//! service's back is named by school code, pupil id and what disagrees, and the check fails.

mod common;

use diesel::prelude::*;
use reqwest::StatusCode;
use serde_json::json;

use common::{
    assert_failure_naming, assert_success, both_engines, spawn_app, stdout, Engine, TestApp,
};
use steadfast::domain::Role;

/// Logs an incident for `pupil` through the API, answering the ids of the suggestions it made.
async fn log(app: &TestApp, token: &str, pupil: i64, severity: &str, response: &str) -> Vec<i64> {
    let (status, body) = app
        .api_post(
            "/api/v1/incidents",
            token,
            &json!({"pupil_ids": [pupil], "behaviour": "Off task",
                    "severity": severity, "response": response}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["suggestions"]
        .as_array()
        .map(|all| all.iter().filter_map(|s| s["id"].as_i64()).collect())
        .unwrap_or_default()
}

/// Runs a statement behind the service's back.
fn behind_the_back(app: &TestApp, sql: &str) {
    diesel::sql_query(sql)
        .execute(&mut *app.conn())
        .expect("a direct update");
}

async fn levels_the_service_wrote_agree_and_a_changed_one_is_named(engine: Engine) {
    let app = spawn_app(engine).await;
    let school = app.create_school("NORTH", "North Academy");
    let (teacher, pupils) = app.teacher_and_pupils(&school, 3);
    let hoy = app.create_staff_leading(
        &school,
        "hoy9@north.example",
        "Hana Head",
        &[Role::PastoralLead],
        &[9],
        None,
    );
    let hoy = app.create_token(&hoy);

    // Three prompts: the first places the pupil at Coaching Prompt, the third suggests a
    // Coaching Conversation, which the Head of Year accepts.
    let (prompted, serious, quiet) = (pupils[0], pupils[1], pupils[2]);
    log(&app, &teacher, prompted, "minor", "prompt").await;
    log(&app, &teacher, prompted, "minor", "prompt").await;
    let suggested = log(&app, &teacher, prompted, "minor", "prompt").await;
    assert_eq!(suggested.len(), 1, "a Coaching Conversation suggested");
    let (status, body) = app
        .api_post(
            &format!("/api/v1/suggestions/{}/accept", suggested[0]),
            &hoy,
            &json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // A serious incident with a conversation: Coaching Time suggested and accepted.
    let suggested = log(&app, &teacher, serious, "serious", "conversation").await;
    assert_eq!(suggested.len(), 1, "Coaching Time suggested");
    let (status, body) = app
        .api_post(
            &format!("/api/v1/suggestions/{}/accept", suggested[0]),
            &hoy,
            &json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let check = app.cli(&["check"], "");
    assert_success(&check);
    assert!(
        stdout(&check).contains("levels of 3 pupil(s) in 1 school(s) checked"),
        "{}",
        stdout(&check)
    );

    // Behind the service's back: one pupil moved up a level, and another's incident turned
    // into a prompt that left them at no level.
    behind_the_back(
        &app,
        &format!("UPDATE pupils SET level = 4 WHERE id = {serious}"),
    );
    log(&app, &teacher, quiet, "minor", "none").await;
    behind_the_back(
        &app,
        &format!(
            "UPDATE incidents SET response = 'prompt' WHERE id IN \
             (SELECT incident_id FROM incident_pupils WHERE pupil_id = {quiet})"
        ),
    );

    let check = app.cli(&["check"], "");
    assert_failure_naming(
        &check,
        &format!(
            "problem: school NORTH pupil {serious}: the level is Coaching Plan but the level \
             history ends at Coaching Time"
        ),
    );
    assert_failure_naming(
        &check,
        &format!("problem: school NORTH pupil {quiet}: incident "),
    );
    assert_failure_naming(
        &check,
        "is a Coaching Prompt but left the pupil at no support level",
    );
    assert_failure_naming(&check, "problem(s) found");
    let stderr = common::stderr(&check);
    assert!(
        !stderr.contains(&format!("pupil {prompted}:")),
        "the pupil whose records agree is not named: {stderr}"
    );
    // Names are never printed, only ids.
    assert!(!stderr.contains("Okafor"), "{stderr}");
}

both_engines!(levels_the_service_wrote_agree_and_a_changed_one_is_named);
