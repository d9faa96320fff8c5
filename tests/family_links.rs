//! Family links over HTTP on SQLite and PostgreSQL: a parent invited to a meeting opens their
//! own link (no account), sees what it is for in plain words, when, where and who, and asks for
//! another time; the Head of Year's email about it is in the outbox and the answer shows on
//! the staff meeting page. A link stops working when staff stop it, when the meeting is
//! cancelled or its day is over, and an unknown token answers the same 404; another school
//! cannot reach it; guessing is slowed like sign-ins. A plan shared with a parent is read and
//! acknowledged; a block delivered at home is recorded by the parent and counts in fidelity.
//! Hostile input on the family forms is refused or kept verbatim and shown escaped. In headless
//! Chromium on a phone: a parent follows the invitation's link, asks for another time, the Head
//! of Year sees it, and the parent later records a session at home that counts in fidelity.

#[path = "common/browser.rs"]
#[allow(dead_code)] // this file uses part of the browser harness
mod chromium;
mod common;

use chrono::{Datelike, NaiveDate, TimeDelta, Utc, Weekday};
use diesel::prelude::*;
use reqwest::{Client, Response, StatusCode};
use serde_json::{json, Value};

use common::{
    both_engines, csrf_token_in, location, page as get, page_client, signed_in, spawn_app, today,
    Engine, Role, TestApp, PASSWORD,
};
use steadfast::db::family;
use steadfast::db::meetings::{self, Booking, GuestRole, NewGuest};
use steadfast::db::models::School;
use steadfast::db::notices::NoticeContext;
use steadfast::db::schema::{
    audit_log, family_links, meeting_guests, meetings as meetings_table, outbox, programme_blocks,
    programme_sessions,
};
use steadfast::db::staff::StaffMember;

const HOY: &str = "hal@oak.example";
const SENDCO: &str = "sendco@oak.example";
const PARENT: &str = "ana@home.example";

struct Scene {
    app: TestApp,
    school: School,
    hoy: StaffMember,
    teacher: String,
    hoy_token: String,
    pupil: i64,
}

fn scene_in(app: TestApp) -> Scene {
    let school = app.create_school("OAK", "Oakfield Academy");
    let teacher = app.create_staff(
        &school,
        "tess@oak.example",
        "Tess Teacher",
        &[Role::ClassStaff],
        None,
    );
    let hoy = app.create_staff_leading(
        &school,
        HOY,
        "Hal Head",
        &[Role::PastoralLead],
        &[9],
        Some(PASSWORD),
    );
    app.create_staff(&school, SENDCO, "Sen Co", &[Role::Sendco], Some(PASSWORD));
    let pupil = app
        .create_pupil(&school, "A123456789012", "Sam", "Taylor", 9, "9B")
        .id;
    Scene {
        teacher: app.create_token(&teacher),
        hoy_token: app.create_token(&hoy),
        app,
        school,
        hoy,
        pupil,
    }
}

fn context(app: &TestApp) -> NoticeContext {
    NoticeContext::from_settings(&app.settings)
}

/// Walks the pupil to an accepted Coaching Time through the API: answers the meeting's id.
async fn coaching_time_due(s: &Scene) -> i64 {
    let mut last = Value::Null;
    for _ in 0..3 {
        let body = json!({"pupil_ids": [s.pupil], "behaviour": "Off task"});
        last = s
            .app
            .api_post("/api/v1/incidents", &s.teacher, &body)
            .await
            .1;
    }
    let id = last["suggestions"][0]["id"].as_i64().expect("a suggestion");
    let path = format!("/api/v1/suggestions/{id}/accept");
    let (status, _) = s.app.api_post(&path, &s.hoy_token, &json!({})).await;
    assert_eq!(status, StatusCode::OK);
    let serious = json!({"pupil_ids": [s.pupil], "behaviour": "Fighting", "severity": "serious", "response": "none"});
    let (_, logged) = s
        .app
        .api_post("/api/v1/incidents", &s.teacher, &serious)
        .await;
    let id = logged["suggestions"][0]["id"]
        .as_i64()
        .expect("Coaching Time");
    let path = format!("/api/v1/suggestions/{id}/accept");
    let (status, body) = s.app.api_post(&path, &s.hoy_token, &json!({})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["meeting"]["id"].as_i64().expect("the meeting")
}

/// Books the meeting two days ahead with the Head of Year, a parent and an outside
/// professional; answers the guests' ids (parent, professional).
fn book(s: &Scene, meeting: i64) -> (i64, i64) {
    let booking = Booking {
        starts_at: Utc::now() + TimeDelta::days(2),
        duration_minutes: 30,
        location: "Room 4".into(),
        participant_ids: vec![s.hoy.id],
        parent_invited: true,
        guests: vec![
            NewGuest {
                name: "Ana Silva".into(),
                email: Some(PARENT.into()),
                role: GuestRole::ParentCarer,
            },
            NewGuest {
                name: "Dr Bo Adeyemi".into(),
                email: None,
                role: GuestRole::External,
            },
        ],
    };
    let mut conn = s.app.conn();
    meetings::schedule(
        &mut conn,
        &s.hoy,
        &context(&s.app),
        meeting,
        &booking,
        Utc::now(),
    )
    .expect("booking");
    let ids: Vec<i64> = meeting_guests::table
        .filter(meeting_guests::meeting_id.eq(meeting))
        .order(meeting_guests::id)
        .select(meeting_guests::id)
        .load(&mut *conn)
        .expect("the guests");
    (ids[0], ids[1])
}

fn link_of(s: &Scene, guest: i64) -> String {
    family::meeting_link(&mut s.app.conn(), s.school.id, guest, Utc::now())
        .expect("making a link")
        .expect("a link")
}

async fn family_get(
    app: &TestApp,
    token: &str,
) -> (StatusCode, String, reqwest::header::HeaderMap) {
    let response = page_client()
        .get(app.url(&format!("/family/{token}")))
        .send()
        .await
        .expect("an answer");
    let (status, headers) = (response.status(), response.headers().clone());
    (status, response.text().await.expect("a body"), headers)
}

async fn family_post(app: &TestApp, token: &str, to: &str, fields: &[(&str, &str)]) -> Response {
    let (_, page, _) = family_get(app, token).await;
    let csrf = csrf_token_in(&page);
    let mut form = vec![("csrf_token", csrf.as_str())];
    form.extend_from_slice(fields);
    page_client()
        .post(app.url(&format!("/family/{token}/{to}")))
        .form(&form)
        .send()
        .await
        .expect("an answer")
}

/// The message in the slot next to `field` (`error-{field}`).
fn slot(page: &str, field: &str) -> String {
    let marker = format!("id=\"error-{field}\"");
    let start = page
        .find(&marker)
        .unwrap_or_else(|| panic!("no slot for {field} in:\n{page}"));
    let from = start + page[start..].find('>').expect("the tag to end") + 1;
    let to = from + page[from..].find("</p>").expect("the slot to close");
    page[from..to].to_string()
}

const GONE: &str = "This link no longer works";

async fn a_parent_asks_for_another_time_and_the_head_of_year_hears(engine: Engine) {
    let s = scene_in(spawn_app(engine).await);
    let meeting = coaching_time_due(&s).await;
    let (parent, professional) = book(&s, meeting);
    let token = link_of(&s, parent);
    assert!(token.len() >= 32, "at least 128 bits");
    let stored: String = family_links::table
        .filter(family_links::guest_id.eq(parent))
        .select(family_links::token_hash)
        .first(&mut *s.app.conn())
        .expect("the link");
    assert_ne!(stored, token, "only the hash is stored");

    let (status, page, headers) = family_get(&s.app, &token).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(headers["referrer-policy"], "no-referrer");
    assert_eq!(headers["cache-control"], "no-store");
    assert!(page.contains(r#"<meta name="robots" content="noindex">"#));
    assert!(page.contains("Hello Ana Silva"), "{page}");
    assert!(page.contains("Oakfield Academy"));
    assert!(page.contains("Room 4"));
    assert!(page.contains("Hal Head"), "staff and the contact by name");
    assert!(page.contains("Head of Year"));
    assert!(page.contains("Dr Bo Adeyemi"), "other guests by name");
    assert!(page.contains("(UK time)"));
    for staff_word in ["Coaching", "level", "/meetings", "/log", "Sign out"] {
        assert!(
            !page.contains(staff_word),
            "{staff_word} on the family page"
        );
    }

    // A form from elsewhere is refused; asking for another time needs a note.
    let forged = page_client()
        .post(s.app.url(&format!("/family/{token}/answer")))
        .form(&[("csrf_token", "forged"), ("response", "accepted")])
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    let refused = family_post(&s.app, &token, "answer", &[("response", "another_time")]).await;
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    let page = refused.text().await.unwrap();
    assert!(
        slot(&page, "note").contains("which days or times"),
        "{page}"
    );
    let answered: Option<String> = meeting_guests::table
        .find(parent)
        .select(meeting_guests::response)
        .first(&mut *s.app.conn())
        .unwrap();
    assert_eq!(answered, None, "nothing stored");

    let sent = family_post(
        &s.app,
        &token,
        "answer",
        &[("response", "another_time"), ("note", "after 4pm please")],
    )
    .await;
    assert_eq!(sent.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&sent), format!("/family/{token}?done=answer"));
    let (_, page, _) = family_get(&s.app, &token).await;
    assert!(page.contains("You asked for another time."), "{page}");

    // The Head of Year's email, through the outbox.
    let emails: Vec<(String, String, String)> = outbox::table
        .filter(outbox::recipient.eq(HOY))
        .filter(outbox::topic.eq("Guest's answer"))
        .select((outbox::subject, outbox::body_text, outbox::recipient))
        .load(&mut *s.app.conn())
        .unwrap();
    assert_eq!(emails.len(), 1, "{emails:?}");
    assert!(
        emails[0].0.starts_with("Another time asked"),
        "{}",
        emails[0].0
    );
    assert!(
        emails[0]
            .1
            .contains("Sam T.'s parent or carer, Ana Silva, asked for another time")
            && emails[0].1.contains(": 'after 4pm please'"),
        "{}",
        emails[0].1
    );
    // Audited as done by the guest, with no actor and no note.
    let audited: Vec<(Option<i64>, String)> = audit_log::table
        .filter(audit_log::action.eq("meeting.guest_answered"))
        .select((audit_log::actor_id, audit_log::detail))
        .load(&mut *s.app.conn())
        .unwrap();
    assert_eq!(audited.len(), 1);
    assert_eq!(audited[0].0, None);
    assert!(!audited[0].1.contains("4pm"));

    // The staff meeting page shows each guest's answer.
    let hoy = signed_in(&s.app, HOY).await;
    let (status, staff_page) = get(&s.app, &hoy, &format!("/meetings/{meeting}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        staff_page.contains("asked for another time"),
        "{staff_page}"
    );
    assert!(staff_page.contains("after 4pm please"));
    assert!(
        staff_page.contains("No answer yet"),
        "the professional has not answered"
    );
    assert!(staff_page.contains(&format!("/meetings/{meeting}/guests/{professional}/revoke")));

    // Moved to another time: the same guests, their links still work (the update emails bring
    // one too), and the answer is asked again.
    let (parent_again, _) = book(&s, meeting);
    assert_eq!(parent_again, parent);
    let (status, page, _) = family_get(&s.app, &token).await;
    assert_eq!(status, StatusCode::OK);
    assert!(!page.contains("You asked for another time."), "{page}");
}
both_engines!(a_parent_asks_for_another_time_and_the_head_of_year_hears);

async fn links_stop_working_and_say_nothing_of_why(engine: Engine) {
    let s = scene_in(spawn_app(engine).await);
    let meeting = coaching_time_due(&s).await;
    let (parent, professional) = book(&s, meeting);
    let parent_link = link_of(&s, parent);
    let professional_link = link_of(&s, professional);
    let second_parent_link = link_of(&s, parent);
    assert_ne!(
        parent_link, second_parent_link,
        "each email has its own token"
    );
    for token in [&parent_link, &second_parent_link, &professional_link] {
        assert_eq!(family_get(&s.app, token).await.0, StatusCode::OK);
    }

    let (status, unknown, _) = family_get(&s.app, &"0".repeat(64)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(unknown.contains(GONE));
    assert!(unknown.contains("contact the school"));

    // Staff stop the parent's link: both of their tokens stop, and no new one is made.
    let hoy = signed_in(&s.app, HOY).await;
    let (_, staff_page) = get(&s.app, &hoy, &format!("/meetings/{meeting}")).await;
    let stopped = hoy
        .post(
            s.app
                .url(&format!("/meetings/{meeting}/guests/{parent}/revoke")),
        )
        .form(&[("csrf_token", csrf_token_in(&staff_page))])
        .send()
        .await
        .unwrap();
    assert_eq!(stopped.status(), StatusCode::SEE_OTHER);
    for token in [&parent_link, &second_parent_link] {
        let (status, page, _) = family_get(&s.app, token).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(page, unknown, "the same page whatever the reason");
    }
    assert_eq!(
        family::meeting_link(&mut s.app.conn(), s.school.id, parent, Utc::now()).unwrap(),
        None
    );
    let (_, staff_page) = get(&s.app, &hoy, &format!("/meetings/{meeting}")).await;
    assert!(staff_page.contains("Their link has been stopped."));
    assert_eq!(
        family_get(&s.app, &professional_link).await.0,
        StatusCode::OK
    );

    // Another school: its staff cannot stop the link, nor make one for the guest.
    let south = s.app.create_school("SOU", "Southfield");
    let south_hoy = s.app.create_staff_leading(
        &south,
        "hoy@south.example",
        "Sue Head",
        &[Role::PastoralLead],
        &[9],
        Some(PASSWORD),
    );
    assert_eq!(
        family::meeting_link(&mut s.app.conn(), south.id, professional, Utc::now()).unwrap(),
        None
    );
    let south_client = signed_in(&s.app, &south_hoy.email).await;
    let (_, south_home) = get(&s.app, &south_client, "/").await;
    let refused = south_client
        .post(
            s.app
                .url(&format!("/meetings/{meeting}/guests/{professional}/revoke")),
        )
        .form(&[("csrf_token", csrf_token_in(&south_home))])
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        family_get(&s.app, &professional_link).await.0,
        StatusCode::OK
    );

    // Its day over, the link ends.
    diesel::update(meetings_table::table.find(meeting))
        .set(meetings_table::starts_at.eq(Some((Utc::now() - TimeDelta::days(1)).naive_utc())))
        .execute(&mut *s.app.conn())
        .unwrap();
    assert_eq!(
        family_get(&s.app, &professional_link).await.0,
        StatusCode::NOT_FOUND
    );
    diesel::update(meetings_table::table.find(meeting))
        .set(meetings_table::starts_at.eq(Some((Utc::now() + TimeDelta::days(1)).naive_utc())))
        .execute(&mut *s.app.conn())
        .unwrap();
    assert_eq!(
        family_get(&s.app, &professional_link).await.0,
        StatusCode::OK
    );
    // Cancelled, it ends too.
    meetings::cancel(
        &mut s.app.conn(),
        &s.hoy,
        &context(&s.app),
        meeting,
        "The family moved away",
        Utc::now(),
    )
    .unwrap();
    assert_eq!(
        family_get(&s.app, &professional_link).await.0,
        StatusCode::NOT_FOUND
    );

    // Guessing is slowed like signing in: after a few unknown tokens, a wait.
    let mut statuses = Vec::new();
    for i in 0..7 {
        statuses.push(family_get(&s.app, &format!("{i:064}")).await.0);
    }
    assert!(
        statuses.contains(&StatusCode::TOO_MANY_REQUESTS),
        "{statuses:?}"
    );
}
both_engines!(links_stop_working_and_say_nothing_of_why);

// ---------------------------------------------------------------------------------------------
// Plans and sessions at home
// ---------------------------------------------------------------------------------------------

async fn post_as(
    app: &TestApp,
    client: &Client,
    path: &str,
    fields: &[(&str, String)],
) -> Response {
    let (_, home) = get(app, client, "/").await;
    let mut form = vec![("csrf_token", csrf_token_in(&home))];
    form.extend(fields.iter().map(|(n, v)| (*n, v.clone())));
    client.post(app.url(path)).form(&form).send().await.unwrap()
}

async fn move_pupil(s: &Scene, sendco: &Client, to: i16, override_gates: bool) {
    let mut fields = vec![
        ("to", to.to_string()),
        ("reason", "Agreed at the pastoral meeting".to_string()),
    ];
    if override_gates {
        fields.push(("override", "1".to_string()));
    }
    let response = post_as(
        &s.app,
        sendco,
        &format!("/pupils/{}/level", s.pupil),
        &fields,
    )
    .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER, "moving to {to}");
}

async fn agree_plan(s: &Scene, sendco: &Client, goal: &str) {
    let fields = vec![
        ("goal_1", goal.to_string()),
        ("success_criterion_1", "On time 4 days out of 5".to_string()),
        (
            "pathway_to_independence",
            "Sam plans his own morning.".to_string(),
        ),
        (
            "step_what_1",
            "Check the bag together each evening".to_string(),
        ),
        ("step_owner_1", "Ms Silva (home)".to_string()),
        (
            "step_by_1",
            (today() + TimeDelta::days(7))
                .format("%Y-%m-%d")
                .to_string(),
        ),
        (
            "review_on",
            (today() + TimeDelta::days(28))
                .format("%Y-%m-%d")
                .to_string(),
        ),
        ("agreed_with", "Ms Silva (mother)".to_string()),
    ];
    let response = post_as(
        &s.app,
        sendco,
        &format!("/pupils/{}/plan", s.pupil),
        &fields,
    )
    .await;
    assert_eq!(
        response.status(),
        StatusCode::SEE_OTHER,
        "agreeing the plan"
    );
}

/// The token in the last family-link email to `to`.
fn emailed_token(app: &TestApp, to: &str) -> String {
    let text: String = outbox::table
        .filter(outbox::recipient.eq(to))
        .filter(outbox::topic.eq(family::FAMILY_LINK_TOPIC))
        .order(outbox::id.desc())
        .select(outbox::body_text)
        .first(&mut *app.conn())
        .expect("the family link email");
    let start = text.find("/family/").expect("a family link") + "/family/".len();
    text[start..]
        .chars()
        .take_while(|c| c.is_ascii_hexdigit())
        .collect()
}

async fn a_parent_reads_the_plan_shared_with_them(engine: Engine) {
    let s = scene_in(spawn_app(engine).await);
    let sendco = signed_in(&s.app, SENDCO).await;
    move_pupil(&s, &sendco, 4, true).await;
    agree_plan(&s, &sendco, "Arrive on time to lessons").await;
    let share = format!("/pupils/{}/plan/share", s.pupil);
    let refused = post_as(
        &s.app,
        &sendco,
        &share,
        &[
            ("name", "Ana Silva".into()),
            ("email", "not an address".into()),
        ],
    )
    .await;
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    let page = refused.text().await.unwrap();
    assert!(
        slot(&page, "share-email").contains("email address"),
        "{page}"
    );
    let shared = post_as(
        &s.app,
        &sendco,
        &share,
        &[("name", "Ana Silva".into()), ("email", PARENT.into())],
    )
    .await;
    assert_eq!(shared.status(), StatusCode::SEE_OTHER);
    let token = emailed_token(&s.app, PARENT);

    let (status, page, _) = family_get(&s.app, &token).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("Arrive on time to lessons"));
    assert!(page.contains("Check the bag together each evening"));
    assert!(page.contains("I have read this plan"));
    assert!(!page.contains("Coaching"));
    // A plan link answers no invitation.
    let wrong = family_post(&s.app, &token, "answer", &[("response", "accepted")]).await;
    assert_eq!(wrong.status(), StatusCode::NOT_FOUND);
    let read = family_post(&s.app, &token, "read", &[]).await;
    assert_eq!(read.status(), StatusCode::SEE_OTHER);
    let (_, page, _) = family_get(&s.app, &token).await;
    assert!(page.contains("You said you have read this plan on"));

    let (_, staff_page) = get(&s.app, &sendco, &format!("/pupils/{}/plan", s.pupil)).await;
    assert!(staff_page.contains("Ana Silva"));
    assert!(staff_page.contains("Read</span> on"), "{staff_page}");

    // Below the plan's level the link ends; back at it, it works; revised, it ends.
    common::set_level(&s.app, s.pupil, 3);
    assert_eq!(family_get(&s.app, &token).await.0, StatusCode::NOT_FOUND);
    common::set_level(&s.app, s.pupil, 4);
    assert_eq!(family_get(&s.app, &token).await.0, StatusCode::OK);
    agree_plan(&s, &sendco, "Arrive on time and ready").await;
    assert_eq!(family_get(&s.app, &token).await.0, StatusCode::NOT_FOUND);
}
both_engines!(a_parent_reads_the_plan_shared_with_them);

/// A session's outcome, minutes, staff recorder, family recorder and who delivered it.
type SessionFacts = (
    Option<String>,
    Option<i32>,
    Option<i64>,
    Option<i64>,
    Option<String>,
);

/// Today if it is a weekday, else the Monday after.
fn first_school_day() -> NaiveDate {
    let mut day = today();
    while matches!(day.weekday(), Weekday::Sat | Weekday::Sun) {
        day += TimeDelta::days(1);
    }
    day
}

/// A block of the pupil's Coaching Programme delivered at home by their parent, with one
/// session today and one in three days, shared with the parent by the SENDCO: the block, the
/// two sessions and the token emailed to the parent.
async fn home_block_shared(s: &Scene, sendco: &Client) -> (i64, i64, i64, String) {
    move_pupil(s, sendco, 4, true).await;
    agree_plan(s, sendco, "Arrive on time to lessons").await;
    move_pupil(s, sendco, 5, false).await;
    let fields = vec![
        (
            "starts_on",
            first_school_day().format("%Y-%m-%d").to_string(),
        ),
        ("sessions_per_week", "3".to_string()),
        ("weekdays", "mon".to_string()),
        ("weekdays", "wed".to_string()),
        ("weekdays", "fri".to_string()),
        ("minutes", "30".to_string()),
        ("time", "17:00".to_string()),
        ("place", "at_home".to_string()),
        ("led_by", "parent_carer".to_string()),
        ("practitioner_id", String::new()),
        ("practitioner_name", "Ana Silva".to_string()),
    ];
    let planned = post_as(
        &s.app,
        sendco,
        &format!("/pupils/{}/programme/blocks", s.pupil),
        &fields,
    )
    .await;
    assert_eq!(planned.status(), StatusCode::SEE_OTHER, "planning at home");
    let block: i64 = programme_blocks::table
        .filter(programme_blocks::pupil_id.eq(s.pupil))
        .select(programme_blocks::id)
        .first(&mut *s.app.conn())
        .unwrap();
    let sessions: Vec<i64> = programme_sessions::table
        .filter(programme_sessions::block_id.eq(block))
        .order(programme_sessions::on_date)
        .select(programme_sessions::id)
        .load(&mut *s.app.conn())
        .unwrap();
    let (today_session, later_session) = (sessions[0], sessions[1]);
    diesel::update(programme_sessions::table.find(today_session))
        .set(programme_sessions::on_date.eq(today()))
        .execute(&mut *s.app.conn())
        .unwrap();
    diesel::update(programme_sessions::table.find(later_session))
        .set(programme_sessions::on_date.eq(today() + TimeDelta::days(3)))
        .execute(&mut *s.app.conn())
        .unwrap();

    let shared = post_as(
        &s.app,
        sendco,
        &format!("/pupils/{}/programme/blocks/{block}/share", s.pupil),
        &[("name", "Ana Silva".into()), ("email", PARENT.into())],
    )
    .await;
    assert_eq!(shared.status(), StatusCode::SEE_OTHER);
    (
        block,
        today_session,
        later_session,
        emailed_token(&s.app, PARENT),
    )
}

async fn sessions_at_home_recorded_by_the_parent_count_in_fidelity(engine: Engine) {
    let s = scene_in(spawn_app(engine).await);
    let sendco = signed_in(&s.app, SENDCO).await;
    let (block, today_session, later_session, token) = home_block_shared(&s, &sendco).await;
    let (status, page, _) = family_get(&s.app, &token).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains(&format!("/family/{token}/sessions/{today_session}")));
    assert!(
        !page.contains(&format!("/sessions/{later_session}\"")),
        "only sessions up to today"
    );

    let record = |session: i64| format!("sessions/{session}");
    // Delivered needs its minutes; a later session waits for its day.
    let refused = family_post(
        &s.app,
        &token,
        &record(today_session),
        &[("outcome", "delivered")],
    )
    .await;
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    let page = refused.text().await.unwrap();
    assert!(
        slot(&page, &format!("session-{today_session}-minutes")).contains("minutes"),
        "{page}"
    );
    let early = family_post(
        &s.app,
        &token,
        &record(later_session),
        &[("outcome", "delivered"), ("minutes", "30")],
    )
    .await;
    assert_eq!(early.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let done = family_post(
        &s.app,
        &token,
        &record(today_session),
        &[
            ("outcome", "delivered"),
            ("minutes", "35"),
            ("note", "Packed the bag together"),
        ],
    )
    .await;
    assert_eq!(done.status(), StatusCode::SEE_OTHER);

    let row: SessionFacts = programme_sessions::table
        .find(today_session)
        .select((
            programme_sessions::outcome,
            programme_sessions::minutes,
            programme_sessions::recorded_by,
            programme_sessions::recorded_by_family,
            programme_sessions::delivered_by,
        ))
        .first(&mut *s.app.conn())
        .unwrap();
    assert_eq!(row.0.as_deref(), Some("delivered"));
    assert_eq!(row.1, Some(35));
    assert_eq!(row.2, None, "no staff recorded it");
    assert!(row.3.is_some(), "the family link recorded it");
    assert_eq!(row.4.as_deref(), Some("Ana Silva"));

    // It counts in the block's fidelity like a session in school.
    let view =
        steadfast::db::programmes::blocks_for(&mut s.app.conn(), s.school.id, s.pupil, today())
            .unwrap();
    assert_eq!(view[0].fidelity.fidelity.delivered, 1);
    let (_, programme) = get(&s.app, &sendco, &format!("/pupils/{}/programme", s.pupil)).await;
    assert!(programme.contains("1 of 1 delivered"), "{programme}");
    assert!(programme.contains("recorded at home"));

    // Once the block is reviewed, the link ends.
    diesel::update(programme_blocks::table.find(block))
        .set(programme_blocks::status.eq("reviewed"))
        .execute(&mut *s.app.conn())
        .unwrap();
    assert_eq!(family_get(&s.app, &token).await.0, StatusCode::NOT_FOUND);
}
both_engines!(sessions_at_home_recorded_by_the_parent_count_in_fidelity);

// ---------------------------------------------------------------------------------------------
// Hostile input on the family forms
// ---------------------------------------------------------------------------------------------

const ALL: &str =
    "<script>alert(1)</script> \"><img src=x onerror=alert(1)> '; DROP TABLE pupils; -- \" OR 1=1";

async fn hostile_input_on_the_family_forms(engine: Engine) {
    let s = scene_in(spawn_app(engine).await);
    let meeting = coaching_time_due(&s).await;
    let (parent, _) = book(&s, meeting);
    let token = link_of(&s, parent);

    // Tokens that are not: too long, markup, SQL, path tricks: the same 404.
    for bad in [
        "x".repeat(300),
        "%3Cscript%3E".into(),
        "'%20OR%201=1--".into(),
        "..%2F..%2Fadmin".into(),
    ] {
        let (status, page, _) = family_get(&s.app, &bad).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{bad}");
        assert!(page.contains(GONE));
        assert!(!page.contains("<script>"));
    }
    // Answers that are not one of the three, notes too long or with control characters.
    let long = "a".repeat(301);
    for (fields, field) in [
        (vec![("response", "maybe")], "response"),
        (
            vec![("response", "accepted"), ("note", long.as_str())],
            "note",
        ),
        (vec![("response", "declined"), ("note", "a\u{0}b")], "note"),
    ] {
        let refused = family_post(&s.app, &token, "answer", &fields).await;
        assert_eq!(refused.status(), StatusCode::BAD_REQUEST, "{fields:?}");
        let page = refused.text().await.unwrap();
        assert!(!slot(&page, field).is_empty(), "{fields:?}: {page}");
    }
    // Markup and SQL are kept as typed and shown escaped, to the family and to staff.
    let sent = family_post(
        &s.app,
        &token,
        "answer",
        &[("response", "another_time"), ("note", ALL)],
    )
    .await;
    assert_eq!(sent.status(), StatusCode::SEE_OTHER);
    let kept: Option<String> = meeting_guests::table
        .find(parent)
        .select(meeting_guests::response_note)
        .first(&mut *s.app.conn())
        .unwrap();
    assert_eq!(kept.as_deref(), Some(ALL));
    let (_, page, _) = family_get(&s.app, &token).await;
    assert!(!page.contains("<script>alert(1)</script>"));
    assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    let hoy = signed_in(&s.app, HOY).await;
    let (_, staff_page) = get(&s.app, &hoy, &format!("/meetings/{meeting}")).await;
    assert!(!staff_page.contains("<script>alert(1)</script>"));
    assert!(staff_page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    // A body too large is refused; one that is not a form is refused.
    let huge = "a".repeat(2 * 1024 * 1024);
    let (_, page, _) = family_get(&s.app, &token).await;
    let csrf = csrf_token_in(&page);
    let too_big = page_client()
        .post(s.app.url(&format!("/family/{token}/answer")))
        .form(&[
            ("csrf_token", csrf.as_str()),
            ("response", "accepted"),
            ("note", huge.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(too_big.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let session = page_client()
        .post(s.app.url(&format!("/family/{token}/sessions/not-a-number")))
        .form(&[("csrf_token", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert!(session.status().is_client_error());
}
both_engines!(hostile_input_on_the_family_forms);

async fn the_school_details_families_see_are_kept_by_an_administrator(engine: Engine) {
    let s = scene_in(spawn_app(engine).await);
    s.app.create_staff(
        &s.school,
        "admin@oak.example",
        "Ada Admin",
        &[Role::Admin],
        Some(PASSWORD),
    );
    let admin = signed_in(&s.app, "admin@oak.example").await;
    let hoy = signed_in(&s.app, HOY).await;
    assert_eq!(
        get(&s.app, &hoy, "/admin/school").await.0,
        StatusCode::FORBIDDEN
    );
    let (status, page) = get(&s.app, &admin, "/admin/school").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let fields = |phone: &str, email: &str| {
        vec![
            ("phone", phone.to_string()),
            ("email", email.to_string()),
            ("address", "1 High Street\nOakfield\nOK1 2AB".to_string()),
            ("logo_url", "https://cdn.oak.example/logo.png".to_string()),
        ]
    };
    let refused = post_as(
        &s.app,
        &admin,
        "/admin/school",
        &fields("call 020-7946", "office@oak.example"),
    )
    .await;
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    let page = refused.text().await.unwrap();
    assert!(slot(&page, "phone").contains("digits and spaces"), "{page}");
    assert!(page.contains("call 020-7946"), "what was typed is kept");
    let refused = post_as(
        &s.app,
        &admin,
        "/admin/school",
        &fields("020 7946 0000", "office at oak"),
    )
    .await;
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    let saved = post_as(
        &s.app,
        &admin,
        "/admin/school",
        &fields("020 7946 0000", "Office@Oak.example"),
    )
    .await;
    assert_eq!(saved.status(), StatusCode::SEE_OTHER);

    let meeting = coaching_time_due(&s).await;
    let (parent, _) = book(&s, meeting);
    let (_, page, headers) = family_get(&s.app, &link_of(&s, parent)).await;
    assert!(page.contains("020 7946 0000"), "{page}");
    assert!(page.contains(r#"<img src="https://cdn.oak.example/logo.png""#));
    let policy = headers["content-security-policy"].to_str().unwrap();
    assert!(
        policy.contains("img-src 'self' data: https://cdn.oak.example;"),
        "{policy}"
    );
    assert!(page.contains("tel:02079460000"));
    assert!(page.contains("office@oak.example"));
    assert!(
        page.contains("1 High Street<br>Oakfield<br>OK1 2AB"),
        "{page}"
    );
}
both_engines!(the_school_details_families_see_are_kept_by_an_administrator);

// ---------------------------------------------------------------------------------------------
// A parent on a phone, in a browser
// ---------------------------------------------------------------------------------------------

/// The text of the page's `main`.
async fn main_text(browser: &chromium::Browser) -> String {
    browser
        .client
        .find(fantoccini::Locator::Css("main"))
        .await
        .expect("the page")
        .text()
        .await
        .expect("its text")
}

/// Clicks the element `css` finds.
async fn click(browser: &chromium::Browser, css: &str) {
    browser
        .client
        .find(fantoccini::Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"))
        .click()
        .await
        .unwrap_or_else(|e| panic!("clicking {css}: {e}"));
}

/// Types `text` into the field `css` finds.
async fn type_into(browser: &chromium::Browser, css: &str, text: &str) {
    browser
        .client
        .find(fantoccini::Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"))
        .send_keys(text)
        .await
        .unwrap_or_else(|e| panic!("typing into {css}: {e}"));
}

#[tokio::test]
async fn a_parent_on_a_phone_asks_for_another_time_and_records_a_session_at_home() {
    if !chromium::browser_available() {
        return;
    }
    let s = scene_in(spawn_app(Engine::Sqlite).await);
    let meeting = coaching_time_due(&s).await;
    book(&s, meeting);
    // The invitation the parent received, and the link in it.
    let invitation: String = outbox::table
        .filter(outbox::recipient.eq(PARENT))
        .filter(outbox::message_key.like(format!("meeting-{meeting}-invite-%")))
        .select(outbox::body_text)
        .first(&mut *s.app.conn())
        .expect("the parent's invitation");
    assert!(!invitation.contains("Coaching Time"), "{invitation}");
    let link = invitation
        .split_whitespace()
        .find(|word| word.contains("/family/"))
        .expect("the parent's own link");
    let path = &link[link.find("/family/").unwrap()..];

    // On a phone: what the meeting is for, when and where, and the answer.
    let phone = chromium::Browser::start_on(chromium::Screen::Phone).await;
    phone
        .client
        .goto(&format!("{}{path}", s.app.address))
        .await
        .expect("the parent's page");
    let page = main_text(&phone).await;
    assert!(page.contains("Room 4"), "{page}");
    assert!(!page.contains("Coaching Time"), "{page}");
    let width: i64 = phone
        .client
        .execute("return document.documentElement.scrollWidth", vec![])
        .await
        .expect("the page's width")
        .as_i64()
        .unwrap_or(0);
    assert!(width <= 390, "the page fits the phone: {width}px");
    click(&phone, "input[name=response][value=another_time]").await;
    type_into(
        &phone,
        "textarea[name=note]",
        "After 4pm please, I work mornings",
    )
    .await;
    click(&phone, "form button[type=submit]").await;
    phone
        .client
        .wait()
        .for_element(fantoccini::Locator::Css("p.notice"))
        .await
        .expect("the answer taken");
    let answered = main_text(&phone).await;
    assert!(
        answered.contains("the school has your answer"),
        "{answered}"
    );

    // The Head of Year sees it on the meeting page.
    let desk = chromium::Browser::start_on(chromium::Screen::Window(1280, 800)).await;
    desk.sign_in(&s.app.address, HOY, PASSWORD).await;
    desk.client
        .goto(&format!("{}/meetings/{meeting}", s.app.address))
        .await
        .expect("the meeting page");
    let staff_page = main_text(&desk).await;
    assert!(
        staff_page.contains("asked for another time"),
        "{staff_page}"
    );
    assert!(staff_page.contains("After 4pm please, I work mornings"));
    desk.close().await;

    // Later, the programme is delivered at home: the parent records today's session.
    let sendco = signed_in(&s.app, SENDCO).await;
    let (_, today_session, _, token) = home_block_shared(&s, &sendco).await;
    phone
        .client
        .goto(&format!("{}/family/{token}", s.app.address))
        .await
        .expect("the parent's sessions");
    let form = format!("form[action$='/sessions/{today_session}']");
    click(
        &phone,
        &format!("{form} input[name=outcome][value=delivered]"),
    )
    .await;
    type_into(&phone, &format!("{form} input[name=minutes]"), "30").await;
    type_into(
        &phone,
        &format!("{form} textarea[name=note]"),
        "Packed the bag together",
    )
    .await;
    click(&phone, &format!("{form} button[type=submit]")).await;
    phone
        .client
        .wait()
        .for_element(fantoccini::Locator::Css("p.notice"))
        .await
        .expect("the session saved");
    let saved = main_text(&phone).await;
    assert!(saved.contains("the session is recorded"), "{saved}");
    phone.close().await;
    let (_, programme) = get(&s.app, &sendco, &format!("/pupils/{}/programme", s.pupil)).await;
    assert!(programme.contains("1 of 1 delivered"), "{programme}");
    assert!(programme.contains("recorded at home"), "{programme}");
}
