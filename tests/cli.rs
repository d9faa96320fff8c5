//! The `steadfast` command line, run as a process against a test database: setting up a
//! school, its staff and tokens, the demo school, and the jobs runner.

mod common;

use std::process::Output;

use common::{
    assert_failure_naming, assert_success, both_engines, spawn_app, stdout, Engine, TestApp,
    PASSWORD,
};
use reqwest::StatusCode;

/// `school add --code NORTH`, checked.
fn add_school(app: &TestApp) {
    let output = app.cli(
        &[
            "school",
            "add",
            "--code",
            "NORTH",
            "--name",
            "North Academy",
        ],
        "",
    );
    assert_success(&output);
}

/// `user add` for an admin of NORTH, with `password` on standard input.
fn add_user(app: &TestApp, role: &str, email: &str, password: &str) -> Output {
    app.cli(
        &[
            "user",
            "add",
            "--email",
            email,
            "--name",
            "Ada Admin",
            "--role",
            role,
            "--school",
            "NORTH",
        ],
        &format!("{password}\n"),
    )
}

async fn a_token_created_on_the_command_line_works(engine: Engine) {
    let app = spawn_app(engine).await;
    add_school(&app);
    assert_success(&add_user(&app, "admin", "ada@north.example", PASSWORD));

    let output = app.cli(&["token", "create", "--email", "ada@north.example"], "");

    assert_success(&output);
    let printed = stdout(&output);
    let token = printed.trim_end_matches('\n');
    assert!(token.starts_with("sf_"), "not a token: {printed:?}");
    assert!(
        !token.contains(char::is_whitespace),
        "more than a token on stdout: {printed:?}"
    );
    assert_eq!(printed.lines().count(), 1, "more than a token: {printed:?}");
    let (status, body) = app.api_get("/api/v1/staff", token).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["staff"][0]["email"], "ada@north.example");
    assert_eq!(body["staff"][0]["roles"], serde_json::json!(["admin"]));
}

async fn a_user_added_on_the_command_line_can_sign_in(engine: Engine) {
    let app = spawn_app(engine).await;
    add_school(&app);

    let output = add_user(&app, "admin", "ada@north.example", PASSWORD);

    assert_success(&output);
    let response = app
        .login(&common::page_client(), "ada@north.example", PASSWORD)
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    // A school made on the command line requires administrators to use an authenticator
    // app: signed in, Ada is sent to set one up.
    assert_eq!(common::location(&response), "/account/security");
}

async fn user_add_refuses_an_unknown_role(engine: Engine) {
    let app = spawn_app(engine).await;
    add_school(&app);

    let output = add_user(&app, "wizard", "ada@north.example", PASSWORD);

    assert_failure_naming(&output, "--role");
    assert_eq!(app.staff_count(), 0);
}

async fn user_add_refuses_a_bad_email(engine: Engine) {
    let app = spawn_app(engine).await;
    add_school(&app);

    let output = add_user(&app, "admin", "not-an-email", PASSWORD);

    assert_failure_naming(&output, "--email");
    assert_eq!(app.staff_count(), 0);
}

async fn user_add_refuses_a_short_password(engine: Engine) {
    let app = spawn_app(engine).await;
    add_school(&app);

    let output = add_user(&app, "admin", "ada@north.example", "short");

    assert_failure_naming(&output, "password");
    assert_eq!(app.staff_count(), 0);
}

async fn user_add_refuses_an_unknown_school(engine: Engine) {
    let app = spawn_app(engine).await;

    let output = add_user(&app, "admin", "ada@north.example", PASSWORD);

    assert_failure_naming(&output, "--school");
    assert_eq!(app.staff_count(), 0);
}

async fn token_create_refuses_an_unknown_email(engine: Engine) {
    let app = spawn_app(engine).await;
    add_school(&app);

    let output = app.cli(&["token", "create", "--email", "nobody@north.example"], "");

    assert_failure_naming(&output, "--email");
    assert_eq!(
        stdout(&output),
        "",
        "a failed token create printed something"
    );
}

async fn jobs_run_once_at_a_given_time(engine: Engine) {
    let app = spawn_app(engine).await;

    let output = app.cli(
        &["jobs", "run", "--once", "--at", "2026-01-05T09:00:00Z"],
        "",
    );

    assert_success(&output);
}

async fn jobs_run_refuses_a_malformed_time(engine: Engine) {
    let app = spawn_app(engine).await;

    let output = app.cli(&["jobs", "run", "--once", "--at", "nonsense"], "");

    assert_failure_naming(&output, "--at");
}

both_engines!(
    a_token_created_on_the_command_line_works,
    a_user_added_on_the_command_line_can_sign_in,
    user_add_refuses_an_unknown_role,
    user_add_refuses_a_bad_email,
    user_add_refuses_a_short_password,
    user_add_refuses_an_unknown_school,
    token_create_refuses_an_unknown_email,
    jobs_run_once_at_a_given_time,
    jobs_run_refuses_a_malformed_time,
);

/// The demo loads into an empty database once; a second run changes nothing. SQLite only:
/// the loader is engine-neutral and takes a while.
#[tokio::test]
async fn demo_loads_once_into_an_empty_database() {
    let app = spawn_app(Engine::Sqlite).await;

    let first = app.cli(&["demo"], "");

    assert_success(&first);
    let pupils = app.pupil_count();
    assert!(
        (900..=1100).contains(&pupils),
        "expected about 1000 pupils, found {pupils}"
    );
    assert!(
        stdout(&first).contains("admin@demo.example"),
        "no logins printed"
    );
    let second = app.cli(&["demo"], "");
    assert_success(&second);
    assert!(
        stdout(&second).contains("already loaded"),
        "{}",
        stdout(&second)
    );
    assert_eq!(app.pupil_count(), pupils, "the second demo changed pupils");
}

#[tokio::test]
async fn demo_refuses_a_database_holding_another_school() {
    let app = spawn_app(Engine::Sqlite).await;
    app.create_school("NORTH", "North Academy");

    let output = app.cli(&["demo"], "");

    assert_failure_naming(&output, "empty database");
    assert_eq!(app.pupil_count(), 0);
}
