//! The suggestions API on both engines: who sees what, accepting (the level changes and the
//! meeting is due), declining with a reason, gates, and two leads deciding at once.

mod common;

use diesel::prelude::*;
use reqwest::StatusCode;
use serde_json::{json, Value};

use common::{assert_error_shape, both_engines, spawn_app, Engine, Role, TestApp};
use steadfast::db::schema::{level_changes, suggestions};

/// A school with a teacher, a Head of Year 8, a Head of Year 9, a SENDCO and SLT, each with a
/// token, and a pupil in year 8.
struct School {
    teacher: String,
    hoy8: String,
    hoy9: String,
    sendco: String,
    slt: String,
    pupil: i64,
}

fn token_for(
    app: &TestApp,
    school: &steadfast::db::models::School,
    email: &str,
    role: Role,
    years: &[i64],
) -> String {
    let member = app.create_staff_leading(school, email, "Staff Member", &[role], years, None);
    app.create_token(&member)
}

fn school(app: &TestApp, code: &str) -> School {
    let school = app.create_school(code, "A School");
    let domain = code.to_lowercase();
    School {
        teacher: token_for(
            app,
            &school,
            &format!("t@{domain}.example"),
            Role::ClassStaff,
            &[],
        ),
        hoy8: token_for(
            app,
            &school,
            &format!("hoy8@{domain}.example"),
            Role::PastoralLead,
            &[8],
        ),
        hoy9: token_for(
            app,
            &school,
            &format!("hoy9@{domain}.example"),
            Role::PastoralLead,
            &[9],
        ),
        sendco: token_for(
            app,
            &school,
            &format!("sendco@{domain}.example"),
            Role::Sendco,
            &[],
        ),
        slt: token_for(
            app,
            &school,
            &format!("slt@{domain}.example"),
            Role::Slt,
            &[],
        ),
        pupil: app
            .create_pupil(&school, "A123456789012", "Sam", "Okafor", 8, "8B")
            .id,
    }
}

async fn post(app: &TestApp, path: &str, token: &str, body: Value) -> (StatusCode, Value) {
    app.api_post(path, token, &body).await
}

/// Three prompts: an open suggestion of a Coaching Conversation; answers its id.
async fn conversation_suggested(app: &TestApp, s: &School) -> i64 {
    let mut last = Value::Null;
    for _ in 0..3 {
        let body = json!({"pupil_ids": [s.pupil], "behaviour": "Off task"});
        last = post(app, "/api/v1/incidents", &s.teacher, body).await.1;
    }
    last["suggestions"][0]["id"].as_i64().expect("a suggestion")
}

fn level_change_count(app: &TestApp) -> i64 {
    level_changes::table
        .count()
        .get_result(&mut *app.conn())
        .unwrap()
}

async fn each_role_sees_the_suggestions_it_decides(engine: Engine) {
    let app = spawn_app(engine).await;
    let s = school(&app, "NORTH");
    let id = conversation_suggested(&app, &s).await;

    let (status, body) = app
        .api_get("/api/v1/suggestions?status=open", &s.hoy8)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["suggestions"][0]["id"], id);
    assert_eq!(body["suggestions"][0]["to_level"], 2);
    assert_eq!(
        app.api_get("/api/v1/suggestions", &s.hoy9).await.1["suggestions"],
        json!([])
    );
    assert_eq!(
        app.api_get("/api/v1/suggestions", &s.sendco).await.1["suggestions"],
        json!([])
    );
    assert_eq!(
        app.api_get("/api/v1/suggestions", &s.slt).await.1["suggestions"][0]["id"],
        id
    );
    let (status, body) = app.api_get("/api/v1/suggestions", &s.teacher).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_error_shape(&body);
    let (status, body) = app
        .api_get("/api/v1/suggestions?status=maybe", &s.slt)
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"]["field"], "status");
}

async fn accepting_moves_the_pupil_and_books_the_meeting(engine: Engine) {
    let app = spawn_app(engine).await;
    let s = school(&app, "NORTH");
    let id = conversation_suggested(&app, &s).await;

    let (status, body) = post(
        &app,
        &format!("/api/v1/suggestions/{id}/accept"),
        &s.hoy8,
        json!({"note": "Agreed with tutor"}),
    )
    .await;

    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["suggestion"]["status"], "accepted");
    assert_eq!(body["pupil"]["level"]["current"], 2);
    assert_eq!(body["pupil"]["level"]["name"], "conversation");
    assert_eq!(
        body["meeting"],
        Value::Null,
        "a Coaching Conversation needs no meeting"
    );

    // A serious incident now suggests Coaching Time, whose meeting is booked as due.
    let serious =
        json!({"pupil_ids": [s.pupil], "behaviour": "Physical aggression", "severity": "serious"});
    let (_, logged) = post(&app, "/api/v1/incidents", &s.teacher, serious).await;
    let time = logged["suggestions"][0]["id"]
        .as_i64()
        .expect("a Coaching Time suggestion");
    let (status, body) = post(
        &app,
        &format!("/api/v1/suggestions/{time}/accept"),
        &s.hoy8,
        json!({}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["pupil"]["level"]["current"], 3);
    assert_eq!(body["meeting"]["level"], 3);
    assert_eq!(body["meeting"]["status"], "due");
    assert!(body["meeting"]["due_on"].as_str().is_some());
}

async fn declining_needs_a_reason(engine: Engine) {
    let app = spawn_app(engine).await;
    let s = school(&app, "NORTH");
    let id = conversation_suggested(&app, &s).await;
    let path = format!("/api/v1/suggestions/{id}/decline");

    for body in [json!({}), json!({"reason": "  "})] {
        let (status, answer) = post(&app, &path, &s.hoy8, body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
        assert_eq!(answer["error"]["field"], "reason");
    }
    let (status, answer) = post(
        &app,
        &path,
        &s.hoy8,
        json!({"reason": "Settled since; tutor is watching"}),
    )
    .await;

    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["suggestion"]["status"], "declined");
    let (_, pupil) = app
        .api_get(&format!("/api/v1/pupils/{}", s.pupil), &s.hoy8)
        .await;
    assert_eq!(pupil["level"]["current"], 1);
}

async fn only_the_right_roles_decide(engine: Engine) {
    let app = spawn_app(engine).await;
    let s = school(&app, "NORTH");
    let other = school(&app, "SOUTH");
    let id = conversation_suggested(&app, &s).await;
    let path = format!("/api/v1/suggestions/{id}/accept");

    for token in [&s.teacher, &s.hoy9, &s.sendco] {
        let (status, body) = post(&app, &path, token, json!({})).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    }
    let (status, _) = post(&app, &path, &other.slt, json!({})).await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "another school's suggestion does not exist for them"
    );
    assert_eq!(
        level_change_count(&app),
        1,
        "only the first prompt's move to level 1"
    );
}

async fn two_leads_deciding_at_once_make_one_decision(engine: Engine) {
    let app = spawn_app(engine).await;
    let s = school(&app, "NORTH");
    let id = conversation_suggested(&app, &s).await;
    let before = level_change_count(&app);
    let path = format!("/api/v1/suggestions/{id}/accept");

    let answers = futures::future::join_all([
        post(&app, &path, &s.hoy8, json!({})),
        post(&app, &path, &s.slt, json!({})),
        post(&app, &path, &s.hoy8, json!({})),
    ])
    .await;

    let statuses: Vec<StatusCode> = answers.iter().map(|(status, _)| *status).collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == StatusCode::OK).count(),
        1,
        "{answers:?}"
    );
    assert_eq!(
        statuses
            .iter()
            .filter(|s| **s == StatusCode::CONFLICT)
            .count(),
        2,
        "{answers:?}"
    );
    for (status, body) in &answers {
        if *status == StatusCode::CONFLICT {
            assert_error_shape(body);
            assert_eq!(body["error"]["code"], "conflict");
        }
    }
    assert_eq!(level_change_count(&app), before + 1);
    let status: String = suggestions::table
        .find(id)
        .select(suggestions::status)
        .first(&mut *app.conn())
        .unwrap();
    assert_eq!(status, "accepted");
}

both_engines!(
    each_role_sees_the_suggestions_it_decides,
    accepting_moves_the_pupil_and_books_the_meeting,
    declining_needs_a_reason,
    only_the_right_roles_decide,
    two_leads_deciding_at_once_make_one_decision,
);
