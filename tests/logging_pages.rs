//! The class-staff logging pages over plain HTTP, as a browser without JavaScript (and the
//! page's script, asking for JSON) uses them: the one-tap prompt, the details form, undo and
//! edit, the Coaching Conversation record, the pupil timeline and the behaviour list. Every
//! test runs on SQLite and on PostgreSQL.

mod common;

use common::{both_engines, csrf_token_in, location, page_client, spawn_app, Engine, Role};
use common::{TestApp, PASSWORD};
use diesel::prelude::*;
use reqwest::StatusCode;
use serde_json::Value;
use steadfast::db::models::School;
use steadfast::db::pupils::PupilView;
use steadfast::db::schema;
use steadfast::db::staff::StaffMember;

const TEACHER: &str = "tess@north.example";
const OTHER: &str = "omar@north.example";
const ADMIN: &str = "ada@north.example";

/// A school with two class staff, an administrator, and two pupils in form 8B, which the
/// first teacher tutors.
struct School8B {
    app: TestApp,
    school: School,
    teacher: StaffMember,
    amira: PupilView,
    ben: PupilView,
}

async fn arrange(engine: Engine) -> School8B {
    let app = spawn_app(engine).await;
    let school = app.create_school("NORTH", "North Academy");
    let teacher = app.create_staff(
        &school,
        TEACHER,
        "Tess Teacher",
        &[Role::ClassStaff],
        Some(PASSWORD),
    );
    app.create_staff(
        &school,
        OTHER,
        "Omar Other",
        &[Role::ClassStaff],
        Some(PASSWORD),
    );
    app.create_staff(&school, ADMIN, "Ada Admin", &[Role::Admin], Some(PASSWORD));
    let amira = app.create_pupil(&school, "A123456789012", "Amira", "Okafor", 8, "8B");
    let ben = app.create_pupil(&school, "B123456789012", "Ben", "Ash", 8, "8B");
    diesel::update(schema::forms::table.filter(schema::forms::name.eq("8B")))
        .set(schema::forms::tutor_id.eq(Some(teacher.id)))
        .execute(&mut *app.conn())
        .expect("making Tess the tutor of 8B");
    School8B {
        app,
        school,
        teacher,
        amira,
        ben,
    }
}

/// A client signed in as `email`, and the CSRF token of its session.
async fn signed_in(app: &TestApp, email: &str) -> (reqwest::Client, String) {
    let client = page_client();
    let response = app.login(&client, email, PASSWORD).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER, "signing in");
    let page = app.get_page(&client, "/log").await;
    assert_eq!(page.status(), StatusCode::OK, "GET /log");
    let csrf = csrf_token_in(&page.text().await.expect("the page"));
    (client, csrf)
}

async fn post_form(
    app: &TestApp,
    client: &reqwest::Client,
    path: &str,
    fields: &[(&str, &str)],
) -> reqwest::Response {
    client
        .post(app.url(path))
        .form(fields)
        .send()
        .await
        .expect("an answer")
}

async fn post_for_json(
    app: &TestApp,
    client: &reqwest::Client,
    path: &str,
    fields: &[(&str, &str)],
) -> (StatusCode, Value) {
    let response = client
        .post(app.url(path))
        .header(reqwest::header::ACCEPT, "application/json")
        .form(fields)
        .send()
        .await
        .expect("an answer");
    common::json_of(response).await
}

fn incident_count(app: &TestApp) -> i64 {
    schema::incidents::table
        .count()
        .get_result(&mut *app.conn())
        .expect("counting incidents")
}

fn conversation_count(app: &TestApp) -> i64 {
    schema::conversations::table
        .count()
        .get_result(&mut *app.conn())
        .expect("counting conversations")
}

/// How many pupils an incident is for.
fn pupils_of_incident(app: &TestApp, id: i64) -> i64 {
    schema::incident_pupils::table
        .filter(schema::incident_pupils::incident_id.eq(id))
        .count()
        .get_result(&mut *app.conn())
        .expect("counting")
}

/// The incident id in a `/log?logged=ID` redirect.
fn logged_id(response: &reqwest::Response) -> i64 {
    let to = location(response);
    to.strip_prefix("/log?logged=")
        .unwrap_or_else(|| panic!("not a confirmation: {to:?}"))
        .parse()
        .expect("an incident id")
}

async fn prompt(
    app: &TestApp,
    client: &reqwest::Client,
    csrf: &str,
    pupil: &PupilView,
    key: &str,
) -> reqwest::Response {
    let pupil_id = pupil.id.to_string();
    post_form(
        app,
        client,
        "/log/prompt",
        &[
            ("csrf_token", csrf),
            ("idempotency_key", key),
            ("pupil_id", &pupil_id),
        ],
    )
    .await
}

async fn body(response: reqwest::Response) -> String {
    response.text().await.expect("a body")
}

async fn the_log_page_lists_the_tutored_form_with_one_tap_prompts(engine: Engine) {
    let s = arrange(engine).await;
    let (client, _) = signed_in(&s.app, TEACHER).await;

    let page = body(s.app.get_page(&client, "/log").await).await;

    assert!(page.contains("Your form 8B"), "{page}");
    for pupil in [&s.amira, &s.ben] {
        assert!(
            page.contains(&format!(r#"data-pupil="{}""#, pupil.id)),
            "{page}"
        );
        assert!(page.contains(&format!(
            r#"<input type="hidden" name="pupil_id" value="{}">"#,
            pupil.id
        )));
    }
    assert!(page.contains(r#"action="/log/prompt""#));
    assert!(page.contains(r#"name="idempotency_key""#));
    // The first link of the navigation is the logging page.
    let nav = &page[page.find("<nav>").expect("a nav")..];
    assert!(
        nav.starts_with(r#"<nav><a class="nav-log" href="/log">"#),
        "{nav}"
    );
    // And it is the first action on the home page.
    let home = body(s.app.get_page(&client, "/").await).await;
    assert!(home.contains(r#"id="log-first" href="/log""#), "{home}");
}

async fn one_tap_logs_once_even_when_posted_twice_with_one_key(engine: Engine) {
    let s = arrange(engine).await;
    let (client, csrf) = signed_in(&s.app, TEACHER).await;
    let key = "a1b2c3d4-e5f6-4789-9abc-def012345678";

    let first = prompt(&s.app, &client, &csrf, &s.amira, key).await;
    let second = prompt(&s.app, &client, &csrf, &s.amira, key).await;

    assert_eq!(first.status(), StatusCode::SEE_OTHER);
    assert_eq!(second.status(), StatusCode::SEE_OTHER);
    let id = logged_id(&first);
    assert_eq!(
        logged_id(&second),
        id,
        "the repeat answers as the first did"
    );
    // The page's script replays with the same key and asks for JSON: still one incident.
    let pupil_id = s.amira.id.to_string();
    let (status, json) = post_for_json(
        &s.app,
        &client,
        "/log/prompt",
        &[
            ("csrf_token", &csrf),
            ("idempotency_key", key),
            ("pupil_id", &pupil_id),
            ("age_seconds", "42"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{json}");
    assert_eq!(json["id"], id);
    assert_eq!(incident_count(&s.app), 1);

    let confirmation = body(s.app.get_page(&client, &format!("/log?logged={id}")).await).await;
    assert!(confirmation.contains("Logged"), "{confirmation}");
    assert!(confirmation.contains("Amira Okafor"), "{confirmation}");
    assert!(confirmation.contains(&format!(r#"action="/log/incidents/{id}/undo""#)));
    assert!(confirmation.contains(&format!(r#"href="/log/incidents/{id}/edit""#)));
    // A fresh key logs a second, deliberate prompt.
    let again = prompt(&s.app, &client, &csrf, &s.amira, "0f0e0d0c0b0a09080706").await;
    assert_ne!(logged_id(&again), id);
    assert_eq!(incident_count(&s.app), 2);
}

async fn the_script_gets_json_with_the_confirmation(engine: Engine) {
    let s = arrange(engine).await;
    let (client, csrf) = signed_in(&s.app, TEACHER).await;
    let pupil_id = s.ben.id.to_string();

    let (status, json) = post_for_json(
        &s.app,
        &client,
        "/log/prompt",
        &[
            ("csrf_token", &csrf),
            ("idempotency_key", "queued-key-0001"),
            ("pupil_id", &pupil_id),
            ("age_seconds", "120"),
        ],
    )
    .await;

    assert_eq!(status, StatusCode::CREATED, "{json}");
    let html = json["confirmation_html"].as_str().expect("the card");
    assert!(html.contains("Ben Ash"), "{html}");
    assert!(html.contains("Undo"), "{html}");
    let (occurred, reporter): (chrono::NaiveDateTime, i64) = schema::incidents::table
        .select((
            schema::incidents::occurred_at,
            schema::incidents::reported_by,
        ))
        .first(&mut *s.app.conn())
        .expect("the incident");
    assert_eq!(reporter, s.teacher.id);
    let age = chrono::Utc::now().naive_utc() - occurred;
    assert!(
        age >= chrono::TimeDelta::seconds(110) && age < chrono::TimeDelta::seconds(300),
        "a queued tap keeps the time it was made: {age}"
    );
}

async fn the_third_prompt_confirms_the_suggestion_it_raised(engine: Engine) {
    let s = arrange(engine).await;
    let (client, csrf) = signed_in(&s.app, TEACHER).await;

    let mut last = 0;
    for key in ["prompt-key-0001", "prompt-key-0002", "prompt-key-0003"] {
        last = logged_id(&prompt(&s.app, &client, &csrf, &s.amira, key).await);
    }

    let page = body(
        s.app
            .get_page(&client, &format!("/log?logged={last}"))
            .await,
    )
    .await;
    assert!(
        page.contains("A Coaching Conversation is now suggested for Amira"),
        "{page}"
    );
    let timeline = body(
        s.app
            .get_page(&client, &format!("/pupils/{}", s.amira.id))
            .await,
    )
    .await;
    assert!(timeline.contains("Waiting for a decision"), "{timeline}");
    assert!(timeline.contains("Evidence:"), "{timeline}");
}

async fn a_logging_form_without_csrf_is_refused(engine: Engine) {
    let s = arrange(engine).await;
    let (client, _) = signed_in(&s.app, TEACHER).await;
    let pupil_id = s.amira.id.to_string();

    let no_token = post_form(
        &s.app,
        &client,
        "/log/prompt",
        &[
            ("idempotency_key", "a-key-without-csrf"),
            ("pupil_id", &pupil_id),
        ],
    )
    .await;
    let wrong_token = post_form(
        &s.app,
        &client,
        "/log/new",
        &[
            ("csrf_token", &"0".repeat(64)),
            ("idempotency_key", "another-key-0001"),
            ("pupil_ids", &pupil_id),
            ("behaviour", "Off task"),
        ],
    )
    .await;

    assert_eq!(no_token.status(), StatusCode::FORBIDDEN);
    assert_eq!(wrong_token.status(), StatusCode::FORBIDDEN);
    assert_eq!(incident_count(&s.app), 0);
}

async fn invalid_details_show_the_form_again_and_write_nothing(engine: Engine) {
    let s = arrange(engine).await;
    let (client, csrf) = signed_in(&s.app, TEACHER).await;
    let pupil_id = s.amira.id.to_string();
    let tomorrow = (chrono::Utc::now() + chrono::TimeDelta::days(1))
        .with_timezone(&chrono_tz::Europe::London)
        .format("%Y-%m-%dT%H:%M")
        .to_string();

    let response = post_form(
        &s.app,
        &client,
        "/log/new",
        &[
            ("csrf_token", &csrf),
            ("idempotency_key", "details-key-0001"),
            ("pupil_ids", &pupil_id),
            ("behaviour", "Off task"),
            ("response", "prompt"),
            ("occurred_at", &tomorrow),
            ("note", "Kept <b>talking</b>"),
        ],
    )
    .await;

    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let page = body(response).await;
    let slot = &page[page
        .find(r#"data-error-for="occurred_at""#)
        .expect("the time's message slot")..];
    assert!(
        slot[..200].contains("is in the future"),
        "the message is next to the field: {slot}"
    );
    assert!(page.contains(r#"action="/log/new""#), "the form again");
    assert!(
        page.contains("Kept &lt;b&gt;talking&lt;/b&gt;"),
        "typed text kept, escaped"
    );
    assert!(page.contains(r#"value="details-key-0001""#), "the same key");
    assert_eq!(incident_count(&s.app), 0);

    // Without a behaviour, and asked for JSON by the script: the field is named.
    let (status, json) = post_for_json(
        &s.app,
        &client,
        "/log/new",
        &[
            ("csrf_token", &csrf),
            ("idempotency_key", "details-key-0002"),
            ("pupil_ids", &pupil_id),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(json["error"]["field"], "behaviour", "{json}");
    assert_eq!(incident_count(&s.app), 0);
}

async fn a_pupil_of_another_school_cannot_be_logged(engine: Engine) {
    let s = arrange(engine).await;
    let south = s.app.create_school("SOUTH", "South School");
    let theirs = s
        .app
        .create_pupil(&south, "C123456789012", "Cara", "Cole", 8, "8A");
    let (client, csrf) = signed_in(&s.app, TEACHER).await;

    let response = prompt(&s.app, &client, &csrf, &theirs, "stranger-key-0001").await;

    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(!body(response).await.contains("Cole"));
    assert_eq!(incident_count(&s.app), 0);
    let (status, json) = common::json_of(s.app.get_page(&client, "/log/pupils?q=cole").await).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        json["pupils"],
        serde_json::json!([]),
        "another school's pupil"
    );
}

async fn details_log_one_incident_for_several_pupils(engine: Engine) {
    let s = arrange(engine).await;
    let (client, csrf) = signed_in(&s.app, TEACHER).await;
    let form = body(
        s.app
            .get_page(
                &client,
                &format!("/log/new?pupil={}&pupil={}", s.amira.id, s.ben.id),
            )
            .await,
    )
    .await;
    assert!(
        form.contains("Amira Okafor") && form.contains("Ben Ash"),
        "{form}"
    );
    assert!(
        form.contains(r#"data-serious"#),
        "serious behaviours are marked"
    );
    let (amira, ben) = (s.amira.id.to_string(), s.ben.id.to_string());

    let response = post_form(
        &s.app,
        &client,
        "/log/new",
        &[
            ("csrf_token", &csrf),
            ("idempotency_key", "details-key-0003"),
            ("pupil_ids", &amira),
            ("pupil_ids", &ben),
            ("behaviour", "Physical aggression"),
            ("response", "none"),
            ("location", "Playground"),
            ("lesson", "Break"),
            ("note", "Pushing at the door."),
        ],
    )
    .await;

    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let id = logged_id(&response);
    let (severity, location): (String, Option<String>) = schema::incidents::table
        .find(id)
        .select((schema::incidents::severity, schema::incidents::location))
        .first(&mut *s.app.conn())
        .expect("the incident");
    assert_eq!(severity, "serious", "a behaviour marked serious is serious");
    assert_eq!(location.as_deref(), Some("Playground"));
    assert_eq!(pupils_of_incident(&s.app, id), 2);
    assert_eq!(incident_count(&s.app), 1);
}

async fn undo_within_the_window_works_and_is_refused_to_another_member(engine: Engine) {
    let s = arrange(engine).await;
    let (client, csrf) = signed_in(&s.app, TEACHER).await;
    let id = logged_id(&prompt(&s.app, &client, &csrf, &s.amira, "undo-key-00001").await);
    let undo = format!("/log/incidents/{id}/undo");

    let (other, other_csrf) = signed_in(&s.app, OTHER).await;
    let refused = post_form(&s.app, &other, &undo, &[("csrf_token", &other_csrf)]).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let edit_refused = s
        .app
        .get_page(&other, &format!("/log/incidents/{id}/edit"))
        .await;
    assert_eq!(edit_refused.status(), StatusCode::FORBIDDEN);
    let voided: Option<chrono::NaiveDateTime> = schema::incidents::table
        .find(id)
        .select(schema::incidents::voided_at)
        .first(&mut *s.app.conn())
        .expect("the incident");
    assert_eq!(voided, None, "another member's undo changed nothing");

    let done = post_form(&s.app, &client, &undo, &[("csrf_token", &csrf)]).await;

    assert_eq!(done.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&done), format!("/log?undone={id}"));
    let page = body(s.app.get_page(&client, &location(&done)).await).await;
    assert!(page.contains("Undone"), "{page}");
    let voided: Option<chrono::NaiveDateTime> = schema::incidents::table
        .find(id)
        .select(schema::incidents::voided_at)
        .first(&mut *s.app.conn())
        .expect("the incident");
    assert!(voided.is_some());
    // The timeline strikes it through and says so.
    let timeline = body(
        s.app
            .get_page(&client, &format!("/pupils/{}", s.amira.id))
            .await,
    )
    .await;
    assert!(timeline.contains("<del>"), "{timeline}");
    assert!(timeline.contains("undone"), "{timeline}");
    // Outside the window, or once undone, the author cannot undo again.
    let again = post_form(&s.app, &client, &undo, &[("csrf_token", &csrf)]).await;
    assert_eq!(again.status(), StatusCode::UNPROCESSABLE_ENTITY);
}

async fn the_author_edits_within_the_window_and_it_is_audited(engine: Engine) {
    let s = arrange(engine).await;
    let (client, csrf) = signed_in(&s.app, TEACHER).await;
    let id = logged_id(&prompt(&s.app, &client, &csrf, &s.amira, "edit-key-00001").await);
    let path = format!("/log/incidents/{id}/edit");
    let form = s.app.get_page(&client, &path).await;
    assert_eq!(form.status(), StatusCode::OK);

    let too_long = "x".repeat(101);
    let invalid = post_form(
        &s.app,
        &client,
        &path,
        &[
            ("csrf_token", &csrf),
            ("behaviour", "Off task"),
            ("location", &too_long),
        ],
    )
    .await;
    assert_eq!(invalid.status(), StatusCode::BAD_REQUEST);
    assert!(body(invalid).await.contains("at most 100 characters"));

    let saved = post_form(
        &s.app,
        &client,
        &path,
        &[
            ("csrf_token", &csrf),
            ("behaviour", "Off task"),
            ("location", "Room 12"),
            ("note", "Private words about the pupil"),
        ],
    )
    .await;

    assert_eq!(saved.status(), StatusCode::SEE_OTHER);
    let (behaviour, edited): (String, Option<chrono::NaiveDateTime>) = schema::incidents::table
        .find(id)
        .select((schema::incidents::behaviour, schema::incidents::edited_at))
        .first(&mut *s.app.conn())
        .expect("the incident");
    assert_eq!(behaviour, "Off task");
    assert!(edited.is_some());
    let details: Vec<String> = schema::audit_log::table
        .filter(schema::audit_log::action.eq("incident.edit"))
        .filter(schema::audit_log::entity_id.eq(id))
        .select(schema::audit_log::detail)
        .load(&mut *s.app.conn())
        .expect("the audit log");
    assert_eq!(details.len(), 1, "{details:?}");
    assert!(
        !details[0].contains("Private"),
        "no note text in the audit log"
    );
}

async fn a_conversation_is_recorded_linked_and_shown_on_the_timeline(engine: Engine) {
    let s = arrange(engine).await;
    let (client, csrf) = signed_in(&s.app, TEACHER).await;
    let incident = logged_id(&prompt(&s.app, &client, &csrf, &s.amira, "conv-key-00001").await);
    let path = format!("/pupils/{}/conversations", s.amira.id);
    let form = body(
        s.app
            .get_page(&client, &format!("{path}/new?incident={incident}"))
            .await,
    )
    .await;
    assert!(
        form.contains(&format!(
            r#"name="incident_ids" value="{incident}" checked"#
        )),
        "the incident is ticked: {form}"
    );
    let incident_field = incident.to_string();

    let missing_plan = post_form(
        &s.app,
        &client,
        &path,
        &[
            ("csrf_token", &csrf),
            ("what_happened", "Called out in maths."),
            ("incident_ids", &incident_field),
        ],
    )
    .await;
    assert_eq!(missing_plan.status(), StatusCode::BAD_REQUEST);
    let page = body(missing_plan).await;
    assert!(
        page.contains(r#"data-error-for="plan_next_time""#),
        "{page}"
    );
    assert!(
        page.contains("write down the plan agreed for next time"),
        "{page}"
    );
    assert_eq!(conversation_count(&s.app), 0);

    let saved = post_form(
        &s.app,
        &client,
        &path,
        &[
            ("csrf_token", &csrf),
            ("with_whom", "Amira, with Ms Khan (TA)"),
            ("what_happened", "Called out in maths."),
            ("what_got_in_the_way", "Waiting felt impossible."),
            ("what_could_help", "A card on the desk."),
            ("plan_next_time", "Hand up, card when it is hard."),
            ("good_for_everyone", "Amira is heard, the class can work."),
            ("incident_ids", &incident_field),
        ],
    )
    .await;

    assert_eq!(saved.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        location(&saved),
        format!("/pupils/{}?recorded=conversation", s.amira.id)
    );
    assert_eq!(conversation_count(&s.app), 1);
    let linked: Vec<i64> = schema::conversation_incidents::table
        .select(schema::conversation_incidents::incident_id)
        .load(&mut *s.app.conn())
        .expect("the links");
    assert_eq!(linked, vec![incident]);
    let audit: Vec<String> = schema::audit_log::table
        .filter(schema::audit_log::action.eq("conversation.record"))
        .select(schema::audit_log::detail)
        .load(&mut *s.app.conn())
        .expect("the audit log");
    assert_eq!(audit.len(), 1);
    assert!(
        !audit[0].contains("maths") && !audit[0].contains("card"),
        "{audit:?}"
    );
    let timeline = body(s.app.get_page(&client, &location(&saved)).await).await;
    assert!(
        timeline.contains("Coaching Conversation recorded"),
        "{timeline}"
    );
    assert!(
        timeline.contains("Hand up, card when it is hard."),
        "{timeline}"
    );
    assert!(timeline.contains("Follows up:"), "{timeline}");

    // An incident of another pupil cannot be linked.
    let ben_incident = logged_id(&prompt(&s.app, &client, &csrf, &s.ben, "conv-key-00002").await);
    let wrong = post_form(
        &s.app,
        &client,
        &path,
        &[
            ("csrf_token", &csrf),
            ("what_happened", "x"),
            ("plan_next_time", "y"),
            ("incident_ids", &ben_incident.to_string()),
        ],
    )
    .await;
    assert_eq!(wrong.status(), StatusCode::BAD_REQUEST);
    assert_eq!(conversation_count(&s.app), 1);
}

async fn the_timeline_filters_by_type_and_date(engine: Engine) {
    let s = arrange(engine).await;
    let (client, csrf) = signed_in(&s.app, TEACHER).await;
    logged_id(&prompt(&s.app, &client, &csrf, &s.amira, "filter-key-0001").await);
    let base = format!("/pupils/{}", s.amira.id);

    let everything = body(s.app.get_page(&client, &base).await).await;
    assert!(
        everything.contains("Coaching Prompt, no details"),
        "{everything}"
    );
    assert!(
        everything.contains("Placed at Coaching Prompt"),
        "{everything}"
    );

    let only_levels = body(
        s.app
            .get_page(&client, &format!("{base}?type=level_change"))
            .await,
    )
    .await;
    assert!(
        only_levels.contains("Placed at Coaching Prompt"),
        "{only_levels}"
    );
    assert!(
        !only_levels.contains("Coaching Prompt, no details"),
        "{only_levels}"
    );

    let long_ago = body(
        s.app
            .get_page(&client, &format!("{base}?from=2020-01-01&to=2020-01-31"))
            .await,
    )
    .await;
    assert!(long_ago.contains("Nothing recorded yet"), "{long_ago}");

    let wrong = s
        .app
        .get_page(&client, &format!("{base}?from=someday"))
        .await;
    assert_eq!(wrong.status(), StatusCode::BAD_REQUEST);
    assert!(body(wrong).await.contains("YYYY-MM-DD"));
}

async fn the_behaviours_page_is_for_admins_and_slt_only(engine: Engine) {
    let s = arrange(engine).await;
    let (teacher, teacher_csrf) = signed_in(&s.app, TEACHER).await;

    let page = s.app.get_page(&teacher, "/admin/behaviours").await;
    assert_eq!(page.status(), StatusCode::FORBIDDEN);
    let post = post_form(
        &s.app,
        &teacher,
        "/admin/behaviours",
        &[("csrf_token", &teacher_csrf), ("name", "Sneaky")],
    )
    .await;
    assert_eq!(post.status(), StatusCode::FORBIDDEN);

    let (admin, csrf) = signed_in(&s.app, ADMIN).await;
    let page = body(s.app.get_page(&admin, "/admin/behaviours").await).await;
    assert!(page.contains("Low-level disruption"), "{page}");
    let added = post_form(
        &s.app,
        &admin,
        "/admin/behaviours",
        &[
            ("csrf_token", &csrf),
            ("name", "Throwing objects"),
            ("serious", "on"),
        ],
    )
    .await;
    assert_eq!(added.status(), StatusCode::SEE_OTHER);
    let (id, serious): (i64, bool) = schema::behaviours::table
        .filter(schema::behaviours::school_id.eq(s.school.id))
        .filter(schema::behaviours::name.eq("Throwing objects"))
        .select((schema::behaviours::id, schema::behaviours::serious))
        .first(&mut *s.app.conn())
        .expect("the new behaviour");
    assert!(serious);
    // Renamed, no longer serious, and taken off the list.
    let renamed = post_form(
        &s.app,
        &admin,
        &format!("/admin/behaviours/{id}"),
        &[("csrf_token", &csrf), ("name", "Throwing things")],
    )
    .await;
    assert_eq!(renamed.status(), StatusCode::SEE_OTHER);
    let (name, serious, active): (String, bool, bool) = schema::behaviours::table
        .find(id)
        .select((
            schema::behaviours::name,
            schema::behaviours::serious,
            schema::behaviours::active,
        ))
        .first(&mut *s.app.conn())
        .expect("the behaviour");
    assert_eq!(
        (name.as_str(), serious, active),
        ("Throwing things", false, false)
    );
    let form = body(s.app.get_page(&teacher, "/log/new").await).await;
    assert!(!form.contains("Throwing things"), "off the list: {form}");
    // A blank name is shown next to its form.
    let blank = post_form(
        &s.app,
        &admin,
        "/admin/behaviours",
        &[("csrf_token", &csrf), ("name", " ")],
    )
    .await;
    assert_eq!(blank.status(), StatusCode::BAD_REQUEST);
    assert!(body(blank)
        .await
        .contains("a behaviour is 1 to 100 characters"));
    let audited: i64 = schema::audit_log::table
        .filter(schema::audit_log::entity.eq("behaviour"))
        .count()
        .get_result(&mut *s.app.conn())
        .expect("the audit log");
    assert_eq!(audited, 2);
}

async fn adding_a_pupil_without_the_script_keeps_everything_typed(engine: Engine) {
    let s = arrange(engine).await;
    let (client, csrf) = signed_in(&s.app, TEACHER).await;
    let (amira, ben) = (s.amira.id.to_string(), s.ben.id.to_string());
    let typed = |extra: &[(&'static str, &'static str)]| {
        let mut fields = vec![
            ("csrf_token", csrf.clone()),
            ("idempotency_key", "details-key-0100".to_string()),
            ("pupil_ids", amira.clone()),
            ("behaviour", "Off task".to_string()),
            ("response", "conversation".to_string()),
            ("location", "Lab 2".to_string()),
            ("note", "Kept <b>talking</b>".to_string()),
        ];
        fields.extend(extra.iter().map(|(n, v)| (*n, v.to_string())));
        fields
    };
    let send = |fields: Vec<(&'static str, String)>| {
        let client = client.clone();
        let url = s.app.url("/log/new");
        async move {
            client
                .post(url)
                .form(&fields)
                .send()
                .await
                .expect("an answer")
        }
    };
    let kept = |page: &str| {
        assert!(page.contains(r#"value="Lab 2""#), "the place kept: {page}");
        assert!(
            page.contains("Kept &lt;b&gt;talking&lt;/b&gt;"),
            "the note kept"
        );
        assert!(
            page.contains(r#"value="conversation" checked"#),
            "the response kept"
        );
        assert!(page.contains(r#"value="details-key-0100""#), "the same key");
    };

    // "Find", a submit button of the same form: the form again, with "Add" beside Ben.
    let found = send(typed(&[("q", "ash"), ("action", "find")])).await;
    assert_eq!(found.status(), StatusCode::OK);
    let page = body(found).await;
    kept(&page);
    assert!(
        page.contains(&format!(r#"name="add_pupil" value="{ben}""#)),
        "Ben offered: {page}"
    );
    assert!(page.contains("Add Ben Ash"), "{page}");

    // "Add": the form again with Ben ticked beside Amira, nothing written yet.
    let mut add = typed(&[("q", "ash")]);
    add.push(("add_pupil", ben.clone()));
    let added = send(add).await;
    assert_eq!(added.status(), StatusCode::OK);
    let page = body(added).await;
    kept(&page);
    for id in [&amira, &ben] {
        assert!(
            page.contains(&format!(r#"name="pupil_ids" value="{id}""#)),
            "pupil {id} ticked: {page}"
        );
    }
    assert!(!page.contains("Add Ben Ash"), "the search is done");
    assert_eq!(incident_count(&s.app), 0);

    // "Log": one incident for both, with what was typed before adding.
    let mut log = typed(&[("action", "log")]);
    log.push(("pupil_ids", ben.clone()));
    let logged = send(log).await;
    assert_eq!(logged.status(), StatusCode::SEE_OTHER);
    let id = logged_id(&logged);
    let (location, note): (Option<String>, Option<String>) = schema::incidents::table
        .find(id)
        .select((schema::incidents::location, schema::incidents::note))
        .first(&mut *s.app.conn())
        .expect("the incident");
    assert_eq!(location.as_deref(), Some("Lab 2"));
    assert_eq!(note.as_deref(), Some("Kept <b>talking</b>"));
    assert_eq!(pupils_of_incident(&s.app, id), 2);
    assert_eq!(incident_count(&s.app), 1);
}

async fn search_puts_the_name_typed_first(engine: Engine) {
    let s = arrange(engine).await;
    // Family names before "Okafor" in the alphabet, each containing what is typed.
    s.app
        .create_pupil(&s.school, "D123456789012", "Amira", "Bokafor", 8, "8A");
    s.app
        .create_pupil(&s.school, "E123456789012", "Amirah", "Okaforo", 8, "8A");
    s.app
        .create_pupil(&s.school, "F123456789012", "Zed", "Okafor", 8, "8A");
    let (client, _) = signed_in(&s.app, TEACHER).await;
    let names = |json: &Value| -> Vec<String> {
        json["pupils"]
            .as_array()
            .expect("pupils")
            .iter()
            .map(|p| p["name"].as_str().expect("a name").to_string())
            .collect()
    };

    let (status, json) = common::json_of(
        s.app
            .get_page(&client, "/log/pupils?q=Amira%20Okafor")
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        names(&json),
        ["Amira Okafor", "Amirah Okaforo", "Amira Bokafor"],
        "the whole name, then starts of names, then the rest"
    );
    let (_, json) = common::json_of(s.app.get_page(&client, "/log/pupils?q=okafor").await).await;
    assert_eq!(
        names(&json),
        [
            "Amira Okafor",
            "Zed Okafor",
            "Amirah Okaforo",
            "Amira Bokafor"
        ]
    );
    // The page's own search ranks alike.
    let page = body(s.app.get_page(&client, "/log?q=amira+okafor").await).await;
    let first = page.find("Amira Okafor").expect("the name typed");
    let later = page.find("Amira Bokafor").expect("a name containing it");
    assert!(first < later, "the name typed comes first");
}

async fn the_app_is_installable_with_a_service_worker(engine: Engine) {
    let s = arrange(engine).await;
    let client = page_client();
    let manifest = s.app.get_page(&client, "/manifest.webmanifest").await;
    assert_eq!(manifest.status(), StatusCode::OK);
    assert_eq!(
        manifest.headers()["content-type"],
        "application/manifest+json"
    );
    let manifest: Value = manifest.json().await.expect("the manifest is JSON");
    assert_eq!(manifest["start_url"], "/log");
    assert_eq!(manifest["display"], "standalone");
    for icon in manifest["icons"].as_array().expect("icons") {
        let src = icon["src"].as_str().expect("an address");
        let answer = s.app.get_page(&client, src).await;
        assert_eq!(answer.status(), StatusCode::OK, "{src}");
        assert_eq!(
            answer.headers()["content-type"],
            icon["type"].as_str().unwrap()
        );
    }
    let worker = s.app.get_page(&client, "/sw.js").await;
    assert_eq!(worker.status(), StatusCode::OK);
    assert_eq!(
        worker.headers()["content-type"],
        "text/javascript; charset=utf-8"
    );
    assert_eq!(worker.headers()["cache-control"], "no-cache");
    let source = body(worker).await;
    assert!(source.contains("'/log'"), "it keeps the logging page");
    assert!(source.contains("/logout"), "and forgets it on signing out");
    // Every page names the manifest.
    let (teacher, _) = signed_in(&s.app, TEACHER).await;
    let page = body(s.app.get_page(&teacher, "/log").await).await;
    assert!(page.contains(r#"<link rel="manifest" href="/manifest.webmanifest">"#));
}

async fn logging_pages_need_a_session(engine: Engine) {
    let s = arrange(engine).await;
    for path in ["/log", "/log/new", "/log/pupils?q=am", "/admin/behaviours"] {
        let response = s.app.get_page(&page_client(), path).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{path}");
        assert_eq!(location(&response), "/login", "{path}");
    }
}

/// Sets the school's timetable to one period, "All day", on every day of the week, and gives
/// Tess two classes: 8 Maths (Amira) meeting in it, and 8 Science (Ben) meeting in a period the
/// school does not have.
fn tess_teaches_two_classes(s: &School8B) {
    use chrono::NaiveTime;
    use steadfast::domain::oneroster::{GroupPlan, TeachingGroup};
    use steadfast::domain::timetable::{Day, Period, Timetable};
    let all_day = Period {
        name: "All day".into(),
        starts: NaiveTime::MIN,
        ends: NaiveTime::from_hms_opt(23, 59, 0).expect("a time"),
    };
    let days = (1..=7).filter_map(|n| Day::from_iso(None, n));
    let timetable = Timetable::from_stored(days.map(|d| (d, all_day.clone())).collect(), None);
    let class = |id: &str, name: &str, periods: &str, pupil: &PupilView| TeachingGroup {
        line: 2,
        source_id: id.into(),
        name: name.into(),
        subject: None,
        periods: periods.into(),
        teachers: vec![TEACHER.into()],
        members: vec![pupil.upn.clone()],
    };
    let plan = GroupPlan {
        added: vec![
            class("sci", "8 Science", "Mon 1", &s.ben),
            class("ma", "8 Maths", "All day", &s.amira),
        ],
        ..GroupPlan::default()
    };
    let mut conn = s.app.conn();
    steadfast::db::timetable::save(&mut conn, s.school.id, &timetable, chrono::Utc::now())
        .expect("saving the timetable");
    steadfast::db::teaching_groups::apply(&mut conn, s.school.id, &plan).expect("the classes");
}

async fn the_class_being_taught_now_comes_first_then_the_others(engine: Engine) {
    let s = arrange(engine).await;
    tess_teaches_two_classes(&s);
    // The one minute of the day outside "All day" (23:59 in London) is waited out.
    while chrono::Utc::now()
        .with_timezone(&chrono_tz::Europe::London)
        .format("%H:%M")
        .to_string()
        == "23:59"
    {
        tokio::time::sleep(std::time::Duration::from_secs(5)).await;
    }
    let (client, _) = signed_in(&s.app, TEACHER).await;

    let page = body(s.app.get_page(&client, "/log").await).await;

    let now = page
        .find("Teaching now: 8 Maths")
        .expect("the class taught now");
    let other = page.find("8 Science").expect("the other class");
    let form = page.find("Your form 8B").expect("the tutor form");
    assert!(now < other && other < form, "{page}");
    assert!(!page.contains("Teaching now: 8 Science"), "{page}");
    assert!(page.contains("Mon 1"), "when the other class meets: {page}");
    // The class taught now is open; the others are folded.
    assert!(page[..now].ends_with("<summary><h2>"), "{page}");
    assert!(page[..now].contains("<details open>"), "{page}");

    // Another teacher of the school sees neither class.
    let (omar, _) = signed_in(&s.app, OTHER).await;
    let theirs = body(s.app.get_page(&omar, "/log").await).await;
    assert!(
        !theirs.contains("8 Maths") && !theirs.contains("8 Science"),
        "{theirs}"
    );
}

both_engines!(
    the_class_being_taught_now_comes_first_then_the_others,
    the_log_page_lists_the_tutored_form_with_one_tap_prompts,
    one_tap_logs_once_even_when_posted_twice_with_one_key,
    the_script_gets_json_with_the_confirmation,
    the_third_prompt_confirms_the_suggestion_it_raised,
    a_logging_form_without_csrf_is_refused,
    invalid_details_show_the_form_again_and_write_nothing,
    a_pupil_of_another_school_cannot_be_logged,
    details_log_one_incident_for_several_pupils,
    undo_within_the_window_works_and_is_refused_to_another_member,
    the_author_edits_within_the_window_and_it_is_audited,
    a_conversation_is_recorded_linked_and_shown_on_the_timeline,
    the_timeline_filters_by_type_and_date,
    the_behaviours_page_is_for_admins_and_slt_only,
    logging_pages_need_a_session,
    adding_a_pupil_without_the_script_keeps_everything_typed,
    search_puts_the_name_typed_first,
    the_app_is_installable_with_a_service_worker,
);
