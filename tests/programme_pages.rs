//! The Coaching Plan and Coaching Programme pages over HTTP, on SQLite and PostgreSQL: a
//! SENDCO agrees a plan through the form and revises it, and both versions show; a plan that
//! does not check out comes back with the message at its field and nothing stored; a 2-week
//! block is planned and the practitioner records today's session with one tap; a block
//! review that moves on with low fidelity needs a reason, and with one the 4-week block
//! follows; a class teacher is refused, and another school's pupil is not found.

mod common;

use chrono::{Datelike, NaiveDate, TimeDelta, Weekday};
use diesel::prelude::*;
use reqwest::{Client, Response, StatusCode};

use common::{
    both_engines, csrf_token_in, location, page as get, signed_in, spawn_app, today, Engine, Role,
};
use common::{TestApp, PASSWORD};
use steadfast::db::models::School;
use steadfast::db::schema::{
    coaching_plans, meetings, programme_blocks, programme_sessions, pupils,
};

const SENDCO: &str = "sendco@oak.example";
const SPECIALIST: &str = "pat@oak.example";
const TEACHER: &str = "tess@oak.example";
const HOY8: &str = "hana@oak.example";

/// A school with a SENDCO, a specialist practitioner, a class teacher, the Year 8 Head of
/// Year, and a Year 9 pupil; the SENDCO is signed in.
struct Scene {
    app: TestApp,
    school: School,
    sendco: Client,
    specialist_id: i64,
    pupil: i64,
}

async fn scene(engine: Engine) -> Scene {
    let app = spawn_app(engine).await;
    let school = app.create_school("OAK", "Oakfield Academy");
    app.create_staff(&school, SENDCO, "Sen Co", &[Role::Sendco], Some(PASSWORD));
    let specialist = app.create_staff(
        &school,
        SPECIALIST,
        "Pat Practitioner",
        &[Role::Specialist],
        Some(PASSWORD),
    );
    app.create_staff(
        &school,
        TEACHER,
        "Tess Teacher",
        &[Role::ClassStaff],
        Some(PASSWORD),
    );
    app.create_staff_leading(
        &school,
        HOY8,
        "Hana Head",
        &[Role::PastoralLead],
        &[8],
        Some(PASSWORD),
    );
    let pupil = app
        .create_pupil(&school, "A123456789012", "Sam", "Okafor", 9, "9B")
        .id;
    let sendco = signed_in(&app, SENDCO).await;
    Scene {
        app,
        school,
        sendco,
        specialist_id: specialist.id,
        pupil,
    }
}

/// Posts a form with the session's CSRF token (read from the home page).
async fn post(app: &TestApp, client: &Client, path: &str, fields: &[(&str, String)]) -> Response {
    let (_, home) = get(app, client, "/").await;
    let mut form = vec![("csrf_token", csrf_token_in(&home))];
    form.extend(fields.iter().map(|(n, v)| (*n, v.clone())));
    client
        .post(app.url(path))
        .form(&form)
        .send()
        .await
        .expect("the form to be answered")
}

/// The message shown in the slot next to `field`.
fn field_message(page: &str, field: &str) -> String {
    let marker = format!("id=\"error-{field}\"");
    let start = page
        .find(&marker)
        .unwrap_or_else(|| panic!("no slot for {field} in:\n{page}"));
    let from = start + page[start..].find('>').expect("the slot's tag to end") + 1;
    let to = from + page[from..].find("</p>").expect("the slot to close");
    page[from..to].to_string()
}

/// Today if it is a weekday (test schools have no holidays), else the Monday after.
fn first_school_day() -> NaiveDate {
    let mut day = today();
    while matches!(day.weekday(), Weekday::Sat | Weekday::Sun) {
        day += TimeDelta::days(1);
    }
    day
}

/// A plan's form fields: one goal with its criterion, the pathway, one action step.
fn plan_form(goal: &str, criterion: &str) -> Vec<(&'static str, String)> {
    let review_on = today() + TimeDelta::days(28);
    vec![
        ("goal_1", goal.to_string()),
        ("success_criterion_1", criterion.to_string()),
        (
            "pathway_to_independence",
            "Sam plans his own morning with a checklist, then without one.".to_string(),
        ),
        ("step_what_1", "Morning check-in with the tutor".to_string()),
        ("step_owner_1", "Mr Reid".to_string()),
        (
            "step_by_1",
            (today() + TimeDelta::days(7))
                .format("%Y-%m-%d")
                .to_string(),
        ),
        ("review_on", review_on.format("%Y-%m-%d").to_string()),
        ("agreed_with", "Ms Okafor (mother)".to_string()),
    ]
}

/// Moves the pupil by hand through the pupil page's level form.
async fn move_pupil(s: &Scene, to: i16, override_gates: bool) {
    let mut fields = vec![
        ("to", to.to_string()),
        ("reason", "Agreed at the pastoral meeting".to_string()),
    ];
    if override_gates {
        fields.push(("override", "1".to_string()));
    }
    let path = format!("/pupils/{}/level", s.pupil);
    let response = post(&s.app, &s.sendco, &path, &fields).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER, "moving to {to}");
}

async fn agree_plan(s: &Scene, goal: &str) -> Response {
    let fields = plan_form(goal, "On time to lessons 4 days out of 5");
    post(
        &s.app,
        &s.sendco,
        &format!("/pupils/{}/plan", s.pupil),
        &fields,
    )
    .await
}

/// The pupil at the Coaching Programme (level 5) with a plan, by the pages a SENDCO uses.
async fn on_programme(s: &Scene) {
    move_pupil(s, 4, true).await;
    let agreed = agree_plan(s, "Arrive on time to lessons").await;
    assert_eq!(agreed.status(), StatusCode::SEE_OTHER);
    move_pupil(s, 5, false).await;
}

/// Plans the 2-week block with the specialist practitioner, every weekday at 10:00, and
/// makes sure one session falls today (on a weekend, by moving the first one). Answers the
/// block's id and today's session's id.
async fn plan_two_weeks(s: &Scene) -> (i64, i64) {
    let fields = vec![
        (
            "starts_on",
            first_school_day().format("%Y-%m-%d").to_string(),
        ),
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
    let response = post(&s.app, &s.sendco, &path, &fields).await;
    assert_eq!(
        response.status(),
        StatusCode::SEE_OTHER,
        "planning the block"
    );
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

fn plan_count(app: &TestApp) -> i64 {
    coaching_plans::table
        .count()
        .get_result(&mut *app.conn())
        .expect("counting plans")
}

async fn a_sendco_agrees_a_plan_and_revises_it(engine: Engine) {
    let s = scene(engine).await;
    move_pupil(&s, 4, true).await;
    let (_, pupil_page) = get(&s.app, &s.sendco, &format!("/pupils/{}", s.pupil)).await;
    assert!(
        pupil_page.contains(&format!("href=\"/pupils/{}/plan\"", s.pupil)),
        "the pupil page links to the plan"
    );
    assert!(pupil_page.contains(&format!("href=\"/pupils/{}/programme\"", s.pupil)));
    let path = format!("/pupils/{}/plan", s.pupil);
    let (status, empty) = get(&s.app, &s.sendco, &path).await;
    assert_eq!(status, StatusCode::OK);
    assert!(empty.contains("Agree the plan"), "{empty}");

    let first = agree_plan(&s, "Arrive on time <b>every</b> day").await;
    assert_eq!(first.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&first), format!("{path}?done=agreed"));
    let revised = agree_plan(&s, "Arrive on time and ready to learn").await;
    assert_eq!(revised.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&revised), format!("{path}?done=revised"));

    let (status, page) = get(&s.app, &s.sendco, &format!("{path}?done=revised")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("The plan in force: version 2"), "{page}");
    assert!(page.contains("Arrive on time and ready to learn"));
    assert!(
        page.contains("Version 1, written"),
        "the earlier version is listed"
    );
    assert!(
        page.contains("Arrive on time &lt;b&gt;every&lt;/b&gt; day"),
        "the earlier version is readable, escaped"
    );
    assert!(!page.contains("<b>every</b>"));
    assert!(page.contains("Ms Okafor (mother)"));
    assert!(page.contains("Revise the plan"));
    assert!(
        page.contains("value=\"Arrive on time and ready to learn\""),
        "the form starts from the plan in force"
    );
    assert_eq!(plan_count(&s.app), 2);
}

async fn a_bad_plan_comes_back_with_the_message_at_its_field(engine: Engine) {
    let s = scene(engine).await;
    move_pupil(&s, 4, true).await;
    let mut fields = plan_form("Arrive on time", "On time 4 days out of 5");
    // The first goal row is left blank; the second has a goal but no success criterion.
    fields[0] = ("goal_1", String::new());
    fields[1] = ("success_criterion_1", String::new());
    fields.push(("goal_2", "Bring the right kit".to_string()));
    fields.push(("success_criterion_2", "   ".to_string()));

    let response = post(
        &s.app,
        &s.sendco,
        &format!("/pupils/{}/plan", s.pupil),
        &fields,
    )
    .await;

    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let page = response.text().await.expect("the page");
    let message = field_message(&page, "success_criterion_2");
    assert!(
        message.contains("say how everyone will know the goal is met"),
        "{message}"
    );
    assert!(message.contains("(goal 2)"), "named by its row: {message}");
    assert!(
        page.contains("value=\"Bring the right kit\""),
        "what was typed stays"
    );
    assert_eq!(plan_count(&s.app), 0, "nothing was stored");
}

async fn the_practitioner_records_todays_session_with_one_tap(engine: Engine) {
    let s = scene(engine).await;
    on_programme(&s).await;
    let (status, programme) =
        get(&s.app, &s.sendco, &format!("/pupils/{}/programme", s.pupil)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(programme.contains("Plan the 2-week block"), "{programme}");
    let (_, session) = plan_two_weeks(&s).await;

    let practitioner = signed_in(&s.app, SPECIALIST).await;
    let (status, list) = get(&s.app, &practitioner, "/practitioner").await;
    assert_eq!(status, StatusCode::OK);
    let entry_start = list
        .find(&format!("id=\"session-{session}\""))
        .unwrap_or_else(|| panic!("today's session is listed:\n{list}"));
    let today_heading = list.find("The rest of this week").expect("two parts");
    assert!(entry_start < today_heading, "listed under today");
    assert!(list[entry_start..].contains("Sam Okafor"));
    assert!(list[entry_start..].contains(">Delivered</button>"));

    let tapped = post(
        &s.app,
        &practitioner,
        &format!("/sessions/{session}"),
        &[
            ("outcome", "delivered".to_string()),
            ("minutes", "30".to_string()),
            ("back", "practitioner".to_string()),
        ],
    )
    .await;

    assert_eq!(tapped.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        location(&tapped),
        format!("/practitioner?done=recorded#session-{session}")
    );
    let recorded: (Option<String>, Option<i32>, Option<String>) = programme_sessions::table
        .find(session)
        .select((
            programme_sessions::outcome,
            programme_sessions::minutes,
            programme_sessions::delivered_by,
        ))
        .first(&mut *s.app.conn())
        .expect("the session");
    assert_eq!(
        recorded,
        (
            Some("delivered".to_string()),
            Some(30),
            Some("Pat Practitioner".to_string())
        )
    );
    let (_, after) = get(&s.app, &practitioner, "/practitioner?done=recorded").await;
    let entry = &after[after
        .find(&format!("id=\"session-{session}\""))
        .expect("still listed")..];
    assert!(entry.contains("outcome-delivered"), "{after}");
    let (_, programme) = get(&s.app, &s.sendco, &format!("/pupils/{}/programme", s.pupil)).await;
    assert!(programme.contains("1 of 1 delivered (100%)"), "{programme}");
    assert!(programme.contains("fidelity-high"));
}

async fn moving_on_with_low_fidelity_needs_a_reason(engine: Engine) {
    let s = scene(engine).await;
    on_programme(&s).await;
    let (block, session) = plan_two_weeks(&s).await;
    let absent = post(
        &s.app,
        &s.sendco,
        &format!("/sessions/{session}"),
        &[
            ("outcome", "pupil_absent".to_string()),
            ("minutes", "30".to_string()),
            ("reason", "Ill".to_string()),
        ],
    )
    .await;
    assert_eq!(absent.status(), StatusCode::SEE_OTHER);
    let mut review = vec![
        ("held_at", String::new()),
        ("decision", "next_block".to_string()),
        ("summary", "Reviewed with Sam and his mother".to_string()),
        ("reason", String::new()),
    ];
    let path = format!("/programme/blocks/{block}/review");

    let refused = post(&s.app, &s.sendco, &path, &review).await;

    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    let page = refused.text().await.expect("the page");
    let message = field_message(&page, "reason");
    assert!(
        message.contains("0 of 1 sessions (0%) were delivered"),
        "{message}"
    );
    assert!(message.contains("confirm the support was actually given"));
    assert!(page.contains("fidelity-low"), "the band is shown");
    let status: String = programme_blocks::table
        .find(block)
        .select(programme_blocks::status)
        .first(&mut *s.app.conn())
        .expect("the block");
    assert_eq!(status, "running", "nothing changed");
    let weeks: Option<i16> = pupils::table
        .find(s.pupil)
        .select(pupils::programme_block)
        .first(&mut *s.app.conn())
        .expect("the pupil");
    assert_eq!(weeks, Some(2));
    let held: i64 = meetings::table
        .filter(meetings::pupil_id.eq(s.pupil))
        .filter(meetings::status.eq("held"))
        .count()
        .get_result(&mut *s.app.conn())
        .expect("counting meetings");
    assert_eq!(held, 0, "the review meeting is still waiting");

    review[3] = (
        "reason",
        "Sam was ill for the one session due; the support is in place and ready".to_string(),
    );
    let accepted = post(&s.app, &s.sendco, &path, &review).await;

    assert_eq!(accepted.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        location(&accepted),
        format!("/pupils/{}/programme?done=next_block", s.pupil)
    );
    let (status, decision): (String, Option<String>) = programme_blocks::table
        .find(block)
        .select((programme_blocks::status, programme_blocks::decision))
        .first(&mut *s.app.conn())
        .expect("the block");
    assert_eq!(
        (status.as_str(), decision.as_deref()),
        ("reviewed", Some("next_block"))
    );
    let weeks: Option<i16> = pupils::table
        .find(s.pupil)
        .select(pupils::programme_block)
        .first(&mut *s.app.conn())
        .expect("the pupil");
    assert_eq!(weeks, Some(4));
    let (_, programme) = get(&s.app, &s.sendco, &location(&accepted)).await;
    assert!(programme.contains("Plan the 4-week block"), "{programme}");
    assert!(programme.contains("Continue with the next block"));
    assert!(programme.contains("Sam was ill for the one session due"));
}

async fn a_class_teacher_is_refused(engine: Engine) {
    let s = scene(engine).await;
    on_programme(&s).await;
    let (_, session) = plan_two_weeks(&s).await;
    let teacher = signed_in(&s.app, TEACHER).await;
    let hoy8 = signed_in(&s.app, HOY8).await;
    let plan = format!("/pupils/{}/plan", s.pupil);
    let programme = format!("/pupils/{}/programme", s.pupil);
    let session_page = format!("/sessions/{session}");

    for client in [&teacher, &hoy8] {
        for path in [&plan, &programme, &session_page] {
            let (status, _) = get(&s.app, client, path).await;
            assert_eq!(status, StatusCode::FORBIDDEN, "GET {path}");
        }
        let response = post(&s.app, client, &plan, &plan_form("A goal", "A criterion")).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "POST {plan}");
    }
    let (status, _) = get(&s.app, &teacher, "/practitioner").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (_, pupil_page) = get(&s.app, &teacher, &format!("/pupils/{}", s.pupil)).await;
    assert!(
        !pupil_page.contains(&plan),
        "no link for those who may not see it"
    );
    assert_eq!(plan_count(&s.app), 1, "only the SENDCO's plan");
}

async fn another_schools_pupil_is_not_found(engine: Engine) {
    let s = scene(engine).await;
    let other = s.app.create_school("ELM", "Elmwood School");
    let theirs = s
        .app
        .create_pupil(&other, "B123456789012", "Alex", "Jones", 9, "9A")
        .id;
    assert_ne!(other.id, s.school.id);

    for path in [
        format!("/pupils/{theirs}/plan"),
        format!("/pupils/{theirs}/programme"),
    ] {
        let (status, _) = get(&s.app, &s.sendco, &path).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "GET {path}");
    }
    let response = post(
        &s.app,
        &s.sendco,
        &format!("/pupils/{theirs}/plan"),
        &plan_form("A goal", "A criterion"),
    )
    .await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert_eq!(plan_count(&s.app), 0);
}

both_engines!(
    a_sendco_agrees_a_plan_and_revises_it,
    a_bad_plan_comes_back_with_the_message_at_its_field,
    the_practitioner_records_todays_session_with_one_tap,
    moving_on_with_low_fidelity_needs_a_reason,
    a_class_teacher_is_refused,
    another_schools_pupil_is_not_found,
);
