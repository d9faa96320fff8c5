//! Input edges, on both engines: a person's name with invisible characters (text direction or
//! zero-width) is refused on every path that stores one, and an email address the mailer
//! could not send to is refused at the form that takes it, the form shown again with the
//! problem at its field.

mod common;

use chrono::{TimeDelta, Utc};
use diesel::prelude::*;
use reqwest::StatusCode;
use serde_json::{json, Value};

use common::{
    both_engines, page_client, problem_at, signed_in, spawn_app, Engine, Role, TestApp, PASSWORD,
};
use steadfast::db::models::School;
use steadfast::db::schema::meeting_guests;
use steadfast::domain::roster::upn_check_letter;

/// A right-to-left override: "Okafor\u{202E}" shows the text after it backwards.
const OVERRIDE: &str = "\u{202E}";
/// Markup in a quoted local part: a valid-looking address lettre will not send to.
const MARKUP_QUOTED: &str = "\"<b>x</b>\"@example.com";
/// Markup in a bare local part.
const MARKUP_BARE: &str = "a<script>@x.y";

/// A school with an administrator and a Head of Year 9 who sign in with a password, and a
/// class teacher; tokens for all three.
struct Scene {
    app: TestApp,
    school: School,
    admin: String,
    teacher: String,
    hoy: String,
    hoy_id: i64,
}

async fn arrange(engine: Engine) -> Scene {
    let app = spawn_app(engine).await;
    let school = app.create_school("NORTH", "North Academy");
    let admin = app.create_staff(
        &school,
        "admin@north.example",
        "Ada Admin",
        &[Role::Admin],
        Some(PASSWORD),
    );
    let teacher = app.create_staff(
        &school,
        "teacher@north.example",
        "Tess Teacher",
        &[Role::ClassStaff],
        None,
    );
    let hoy = app.create_staff_leading(
        &school,
        "hoy@north.example",
        "Hal Head",
        &[Role::PastoralLead],
        &[9],
        Some(PASSWORD),
    );
    Scene {
        admin: app.create_token(&admin),
        teacher: app.create_token(&teacher),
        hoy: app.create_token(&hoy),
        hoy_id: hoy.id,
        app,
        school,
    }
}

/// A valid UPN with serial number `serial`.
fn upn(serial: u32) -> String {
    let rest = format!("{:012}", 820_200_126_000u64 + u64::from(serial));
    format!("{}{rest}", upn_check_letter(&rest).expect("a check letter"))
}

/// Loads `from`, then posts `fields` to `to` with the page's CSRF token; answers the status
/// and the page.
async fn submit(
    app: &TestApp,
    client: &reqwest::Client,
    from: &str,
    to: &str,
    fields: &[(&str, &str)],
) -> (StatusCode, String) {
    let response = app.submit_form(client, from, to, fields).await;
    let status = response.status();
    (status, response.text().await.expect("a page"))
}

/// Posts a file to an import route; answers the status and the JSON body.
async fn import(app: &TestApp, kind: &str, token: &str, body: &str) -> (StatusCode, Value) {
    let response = reqwest::Client::new()
        .post(app.url(&format!("/api/v1/imports/{kind}")))
        .bearer_auth(token)
        .header("Content-Type", "text/csv")
        .body(body.to_string())
        .send()
        .await
        .expect("the import to be answered");
    common::json_of(response).await
}

/// The (line, column) of each error of an import's answer.
fn errors_at(body: &Value) -> Vec<(i64, String)> {
    body["errors"]
        .as_array()
        .unwrap_or_else(|| panic!("no errors in {body}"))
        .iter()
        .map(|e| {
            (
                e["line"].as_i64().unwrap_or_default(),
                e["column"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

/// `steadfast user add` for NORTH with this email and name; answers whether it succeeded
/// and what it printed on standard error.
fn user_add(app: &TestApp, email: &str, name: &str) -> (bool, String) {
    let output = app.cli(
        &[
            "user", "add", "--email", email, "--name", name, "--role", "slt", "--school", "NORTH",
        ],
        &format!("{PASSWORD}\n"),
    );
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stderr).to_string(),
    )
}

/// Walks a Year 9 pupil to an accepted Coaching Time: answers the meeting made due.
async fn meeting_due(s: &Scene) -> i64 {
    let pupil = s
        .app
        .create_pupil(&s.school, &upn(1), "Sam", "Okafor", 9, "9B")
        .id;
    let mut suggestion = Value::Null;
    for body in [
        json!({"pupil_ids": [pupil], "behaviour": "Off task"}),
        json!({"pupil_ids": [pupil], "behaviour": "Off task"}),
        json!({"pupil_ids": [pupil], "behaviour": "Off task"}),
        json!({"pupil_ids": [pupil], "behaviour": "Fighting", "severity": "serious", "response": "none"}),
    ] {
        let (status, answer) = s.app.api_post("/api/v1/incidents", &s.teacher, &body).await;
        assert_eq!(status, StatusCode::CREATED, "{answer}");
        if let Some(id) = answer["suggestions"][0]["id"].as_i64() {
            let path = format!("/api/v1/suggestions/{id}/accept");
            let (status, accepted) = s.app.api_post(&path, &s.hoy, &json!({})).await;
            assert_eq!(status, StatusCode::OK, "{accepted}");
            suggestion = accepted;
        }
    }
    suggestion["meeting"]["id"]
        .as_i64()
        .unwrap_or_else(|| panic!("no meeting due: {suggestion}"))
}

fn guest_count(app: &TestApp) -> i64 {
    meeting_guests::table
        .count()
        .get_result(&mut *app.conn())
        .expect("counting guests")
}

async fn names_with_invisible_characters_are_refused_everywhere(engine: Engine) {
    let s = arrange(engine).await;
    let app = &s.app;

    // The API's new pupil.
    let (status, body) = app
        .api_post(
            "/api/v1/pupils",
            &s.admin,
            &json!({"upn": upn(2), "given_name": "Sam", "family_name": format!("Okafor{OVERRIDE}"),
                    "year": 9, "form": "9B"}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"]["field"], "family_name", "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("invisible")),
        "{body}"
    );
    assert_eq!(app.pupil_count(), 0);

    // The pupil import: the row's line and column.
    let roll = format!(
        "UPN,Legal Surname,Legal Forename,Year,Reg Group\n{},Lee,Kim,9,9B\n{},Ash,Be\u{200B}n,9,9B\n",
        upn(3),
        upn(4)
    );
    let (status, body) = import(app, "pupils", &s.admin, &roll).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(errors_at(&body), vec![(3, "Legal Forename".to_string())]);
    assert_eq!(app.pupil_count(), 0, "nothing written");

    // The staff import.
    let staff = "Forename,Surname,Work Email,Roles\n\
                 Kim,Lee,kim@north.example,Teacher\n\
                 Bob,Jo\u{2066}nes,bob@north.example,Teacher\n";
    let before = app.staff_count();
    let (status, body) = import(app, "staff", &s.admin, staff).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(errors_at(&body), vec![(3, "Forename".to_string())]);
    assert_eq!(app.staff_count(), before, "nothing written");

    // `steadfast user add`.
    let (ok, said) = user_add(app, "sara@north.example", "Sara\u{FEFF} Senior");
    assert!(!ok, "refused");
    assert!(
        said.contains("--name") && said.contains("invisible"),
        "{said}"
    );
    assert_eq!(app.staff_count(), before);

    // The staff page.
    let admin = signed_in(app, "admin@north.example").await;
    let name = format!("Si\u{200D}ân O'Neill{OVERRIDE}");
    let (status, html) = submit(
        app,
        &admin,
        "/admin/staff",
        "/admin/staff",
        &[
            ("email", "s.oneill@north.example"),
            ("name", &name),
            ("roles", "class_staff"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{html}");
    assert!(problem_at(&html, "name").contains("invisible"), "{html}");
    assert_eq!(app.staff_count(), before);

    // A meeting's guest, through the API and on the meeting's page.
    let meeting = meeting_due(&s).await;
    let booking = json!({"starts_at": (Utc::now() + TimeDelta::days(2)).to_rfc3339(),
        "duration_minutes": 30, "location": "Room 1", "participant_ids": [s.hoy_id],
        "parent_invited": true,
        "guests": [{"name": "Pat\u{200F} Okafor", "email": "pat@home.example", "role": "parent_carer"}]});
    let path = format!("/api/v1/meetings/{meeting}/schedule");
    let (status, body) = app.api_post(&path, &s.hoy, &booking).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"]["field"], "guests[0].name", "{body}");
    let hoy = signed_in(app, "hoy@north.example").await;
    let page = format!("/meetings/{meeting}");
    let starts_at = steadfast::web::pages::form::local_input_value(Utc::now() + TimeDelta::days(2));
    let participant = s.hoy_id.to_string();
    let (status, html) = submit(
        app,
        &hoy,
        &page,
        &format!("{page}/schedule"),
        &[
            ("starts_at", &starts_at),
            ("duration_minutes", "30"),
            ("location", "Room 1"),
            ("participant_ids", &participant),
            ("external_name", "Dr \u{061C}Rao"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{html}");
    assert!(
        problem_at(&html, "external_name").contains("invisible"),
        "{html}"
    );
    assert_eq!(guest_count(app), 0, "nothing written");
}

/// Posts the set-up form with this name and email.
async fn set_up(
    app: &TestApp,
    client: &reqwest::Client,
    name: &str,
    email: &str,
) -> (StatusCode, String) {
    let token = steadfast::accounts::setup_token(&app.data_dir).expect("a set-up token");
    let password = "kettle orbit lantern meadow";
    submit(
        app,
        client,
        &format!("/setup?token={token}"),
        "/setup",
        &[
            ("token", &token),
            ("code", "north"),
            ("school", "North Academy"),
            ("name", name),
            ("email", email),
            ("password", password),
            ("again", password),
        ],
    )
    .await
}

async fn the_first_administrators_name_and_email_are_checked_at_setup(engine: Engine) {
    let app = spawn_app(engine).await;
    let client = page_client();
    let (status, html) = set_up(&app, &client, "Ada\u{2067} O'Neill", "ada@north.example").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{html}");
    assert!(problem_at(&html, "name").contains("invisible"), "{html}");
    let (status, html) = set_up(&app, &client, "Ada O'Neill", MARKUP_QUOTED).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{html}");
    assert!(problem_at(&html, "email").contains("email"), "{html}");
    assert_eq!(app.staff_count(), 0);
}

async fn emails_the_mailer_cannot_send_to_are_refused_at_the_form(engine: Engine) {
    let s = arrange(engine).await;
    let app = &s.app;
    let before = app.staff_count();

    // The staff page, the staff import and `steadfast user add`.
    let admin = signed_in(app, "admin@north.example").await;
    for email in [MARKUP_QUOTED, MARKUP_BARE] {
        let (status, html) = submit(
            app,
            &admin,
            "/admin/staff",
            "/admin/staff",
            &[
                ("email", email),
                ("name", "Kim Lee"),
                ("roles", "class_staff"),
            ],
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{email}: {html}");
        assert!(
            problem_at(&html, "email").contains("email address"),
            "{html}"
        );
        let (ok, said) = user_add(app, email, "Kim Lee");
        assert!(!ok && said.contains("--email"), "{email}: {said}");
    }
    let staff = format!(
        "Forename,Surname,Work Email,Roles\nKim,Lee,{MARKUP_BARE},Teacher\nBob,Jones,\"\"\"<b>x</b>\"\"@example.com\",Teacher\n"
    );
    let (status, body) = import(app, "staff", &s.admin, &staff).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(
        errors_at(&body),
        vec![(2, "Work Email".to_string()), (3, "Work Email".to_string())]
    );
    assert_eq!(app.staff_count(), before, "nothing written");

    // A meeting's guests, on the page (each at its own field) and through the API.
    let meeting = meeting_due(&s).await;
    let hoy = signed_in(app, "hoy@north.example").await;
    let page = format!("/meetings/{meeting}");
    let starts_at = steadfast::web::pages::form::local_input_value(Utc::now() + TimeDelta::days(2));
    let participant = s.hoy_id.to_string();
    let bad_parent = [
        ("parent_name", "Pat Okafor"),
        ("parent_email", MARKUP_QUOTED),
    ];
    let bad_external = [
        ("parent_name", "Pat Okafor"),
        ("parent_email", "pat@home.example"),
        ("external_name", "Dr Rao"),
        ("external_email", MARKUP_BARE),
    ];
    for (at, guests) in [
        ("parent_email", &bad_parent[..]),
        ("external_email", &bad_external[..]),
    ] {
        let mut fields = vec![
            ("starts_at", starts_at.as_str()),
            ("duration_minutes", "30"),
            ("location", "Room 1"),
            ("participant_ids", participant.as_str()),
        ];
        fields.extend_from_slice(guests);
        let (status, html) = submit(app, &hoy, &page, &format!("{page}/schedule"), &fields).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{html}");
        assert!(
            problem_at(&html, at).contains("email address"),
            "{at}: {html}"
        );
        assert!(html.contains("Check the form"), "{html}");
    }
    let booking = json!({"starts_at": (Utc::now() + TimeDelta::days(2)).to_rfc3339(),
        "duration_minutes": 30, "location": "Room 1", "participant_ids": [s.hoy_id],
        "parent_invited": true,
        "guests": [{"name": "Pat Okafor", "email": MARKUP_BARE, "role": "parent_carer"}]});
    let path = format!("/api/v1/meetings/{meeting}/schedule");
    let (status, body) = app.api_post(&path, &s.hoy, &booking).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"]["field"], "guests[0].email", "{body}");
    assert_eq!(guest_count(app), 0, "nothing written");

    // A plain address is booked and its invitation is one the mailer can build.
    let mut fine = booking.clone();
    fine["guests"][0]["email"] = json!("pat@home.example");
    let (status, body) = app.api_post(&path, &s.hoy, &fine).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(guest_count(app), 1);
}

/// Sharing a plan with a family by email: a name with invisible characters and an address the
/// mailer cannot send to are refused at their fields, and no link or email is made.
async fn a_plan_shared_with_a_family_checks_the_name_and_email(engine: Engine) {
    use steadfast::db::plans::{self, Agreement};
    use steadfast::db::schema::{family_links, outbox};
    use steadfast::domain::plan::PlanSubmission;
    let s = arrange(engine).await;
    let app = &s.app;
    let pupil = app
        .create_pupil(&s.school, &upn(7), "Sam", "Okafor", 9, "9B")
        .id;
    common::set_level(app, pupil, 4);
    let hoy = steadfast::db::staff::get_member(&mut app.conn(), s.school.id, s.hoy_id)
        .expect("reading")
        .expect("the Head of Year");
    let review_on = Some(common::today() + TimeDelta::days(28));
    let submission = PlanSubmission {
        goals: &[("Arrive on time", "4 days out of 5")],
        pathway_to_independence: "His own checklist",
        action_steps: &[("Check the bag", "Home", review_on)],
        review_on,
    };
    let agreement = Agreement {
        pupil_id: pupil,
        plan: &submission,
        agreed_with: None,
        meeting_id: None,
    };
    plans::agree(&mut app.conn(), &hoy, &agreement, Utc::now()).expect("a plan");
    let client = signed_in(app, "hoy@north.example").await;
    let path = format!("/pupils/{pupil}/plan");
    for (name, email, field, says) in [
        (
            format!("Ana Silva{OVERRIDE}"),
            "ana@home.example",
            "share-name",
            "invisible",
        ),
        (
            "Ana Silva".to_string(),
            MARKUP_QUOTED,
            "share-email",
            "email",
        ),
        ("Ana Silva".to_string(), MARKUP_BARE, "share-email", "email"),
    ] {
        let response = app
            .submit_form(
                &client,
                &path,
                &format!("{path}/share"),
                &[("name", name.as_str()), ("email", email)],
            )
            .await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{name} {email}");
        let html = response.text().await.expect("the page");
        assert!(problem_at(&html, field).contains(says), "{field}: {html}");
    }
    let links: i64 = family_links::table
        .count()
        .get_result(&mut *app.conn())
        .expect("counting");
    let emails: i64 = outbox::table
        .filter(outbox::topic.eq(steadfast::db::family::FAMILY_LINK_TOPIC))
        .count()
        .get_result(&mut *app.conn())
        .expect("counting");
    assert_eq!((links, emails), (0, 0));
}

both_engines!(
    a_plan_shared_with_a_family_checks_the_name_and_email,
    names_with_invisible_characters_are_refused_everywhere,
    the_first_administrators_name_and_email_are_checked_at_setup,
    emails_the_mailer_cannot_send_to_are_refused_at_the_form,
);
