//! Hostile input on both engines, against every `/api/v1` route and the main forms: bodies
//! too large, JSON that is malformed or of the wrong types, dates and times that are not
//! dates and times, unknown fields, SQL and HTML in every text field, and the ids of another
//! school. Each is refused with a clear 4xx in the JSON error shape (a page for the forms)
//! and writes nothing, or is kept exactly as typed and shown escaped on every page.

mod common;

use std::collections::BTreeMap;

use chrono::{TimeDelta, Utc};
use diesel::prelude::*;
use diesel::sql_types::BigInt;
use reqwest::{header, Client, Method, StatusCode};
use serde_json::{json, Value};

use common::{
    assert_error_shape, both_engines, csrf_token_in, location, set_level, signed_in, spawn_app,
    today, Engine, Role, TestApp, PASSWORD,
};
use steadfast::db::models::School;
use steadfast::db::schema::{programme_blocks, programme_sessions, provision_items};

/// Script a browser would run if it were not escaped.
const SCRIPT: &str = "<script>alert(1)</script>";
/// Markup that breaks out of an attribute.
const IMG: &str = "\"><img src=x onerror=alert(1)>";
/// SQL that would drop a table if it were ever pasted into a statement.
const DROP: &str = "'; DROP TABLE pupils; --";
/// SQL that would widen a filter.
const OR: &str = "\" OR 1=1";
/// The four together, for text fields long enough to hold them.
const ALL: &str =
    "<script>alert(1)</script> \"><img src=x onerror=alert(1)> '; DROP TABLE pupils; -- \" OR 1=1";
/// `SCRIPT` as an escaped page shows it.
const SCRIPT_ESCAPED: &str = "&lt;script&gt;alert(1)&lt;/script&gt;";

/// The statuses an error of the API may have.
const ERROR_STATUSES: [u16; 7] = [400, 401, 403, 404, 409, 413, 422];

/// One school as the tests arrange it through the API: a teacher, the Year 9 Head of Year
/// and SLT, each with a token (SLT and a SENDCO can also sign in to the pages); Sam with a
/// Coaching Time meeting due, Ben with an open suggestion of a Coaching Conversation.
struct Side {
    school: School,
    slt_email: String,
    slt: String,
    teacher: String,
    hoy9: String,
    hoy9_id: i64,
    specialist_id: i64,
    sam: i64,
    meeting: i64,
    ben: i64,
    suggestion: i64,
}

struct Scene {
    app: TestApp,
    north: Side,
    south: Side,
}

async fn arrange(engine: Engine) -> Scene {
    let app = spawn_app(engine).await;
    let north = side(&app, "NORTH", 'A').await;
    let south = side(&app, "SOUTH", 'C').await;
    Scene { app, north, south }
}

async fn side(app: &TestApp, code: &str, upn_letter: char) -> Side {
    let school = app.create_school(code, &format!("{code} Academy"));
    let domain = code.to_lowercase();
    let slt_email = format!("slt@{domain}.example");
    let slt = app.create_staff(
        &school,
        &slt_email,
        "Sal Lead",
        &[Role::Slt, Role::Sendco],
        Some(PASSWORD),
    );
    let teacher = app.create_staff(
        &school,
        &format!("teacher@{domain}.example"),
        "Tess Teacher",
        &[Role::ClassStaff],
        None,
    );
    let hoy9 = app.create_staff_leading(
        &school,
        &format!("hoy9@{domain}.example"),
        "Hal Head",
        &[Role::PastoralLead],
        &[9],
        None,
    );
    let specialist = app.create_staff(
        &school,
        &format!("specialist@{domain}.example"),
        "Pat Practitioner",
        &[Role::Specialist],
        None,
    );
    let sam = app
        .create_pupil(
            &school,
            &format!("{upn_letter}123456789012"),
            "Sam",
            "Okafor",
            9,
            "9B",
        )
        .id;
    let ben = app
        .create_pupil(
            &school,
            &format!("{upn_letter}123456789013"),
            "Ben",
            "Ash",
            9,
            "9B",
        )
        .id;
    let (teacher, hoy9_token) = (app.create_token(&teacher), app.create_token(&hoy9));
    let meeting = coaching_time_due(app, &teacher, &hoy9_token, sam).await;
    let suggestion = conversation_suggested(app, &teacher, ben).await;
    Side {
        school,
        slt_email,
        slt: app.create_token(&slt),
        teacher,
        hoy9: hoy9_token,
        hoy9_id: hoy9.id,
        specialist_id: specialist.id,
        sam,
        meeting,
        ben,
        suggestion,
    }
}

/// Three prompts for `pupil`: answers the open suggestion they raise.
async fn conversation_suggested(app: &TestApp, teacher: &str, pupil: i64) -> i64 {
    let mut last = Value::Null;
    for _ in 0..3 {
        let body = json!({"pupil_ids": [pupil], "behaviour": "Off task"});
        let (status, answer) = app.api_post("/api/v1/incidents", teacher, &body).await;
        assert_eq!(status, StatusCode::CREATED, "{answer}");
        last = answer;
    }
    last["suggestions"][0]["id"]
        .as_i64()
        .unwrap_or_else(|| panic!("no suggestion in {last}"))
}

/// Walks `pupil` to an accepted Coaching Time: answers the meeting made due.
async fn coaching_time_due(app: &TestApp, teacher: &str, hoy: &str, pupil: i64) -> i64 {
    let first = conversation_suggested(app, teacher, pupil).await;
    let (status, body) = app
        .api_post(
            &format!("/api/v1/suggestions/{first}/accept"),
            hoy,
            &json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let serious = json!({"pupil_ids": [pupil], "behaviour": "Fighting", "severity": "serious", "response": "none"});
    let (_, logged) = app.api_post("/api/v1/incidents", teacher, &serious).await;
    let time = logged["suggestions"][0]["id"]
        .as_i64()
        .unwrap_or_else(|| panic!("no Coaching Time suggested: {logged}"));
    let (status, body) = app
        .api_post(
            &format!("/api/v1/suggestions/{time}/accept"),
            hoy,
            &json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["meeting"]["id"]
        .as_i64()
        .unwrap_or_else(|| panic!("no meeting due: {body}"))
}

/// What a refused request must leave as it was: the rows of every main table, and the state
/// of suggestions, meetings, sessions and levels.
fn snapshot(app: &TestApp) -> BTreeMap<String, i64> {
    #[derive(QueryableByName)]
    struct Number {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }
    let tables = [
        "pupils",
        "forms",
        "staff",
        "incidents",
        "incident_pupils",
        "pupil_day_incidents",
        "suggestions",
        "level_changes",
        "meetings",
        "meeting_participants",
        "meeting_guests",
        "outbox",
        "audit_log",
        "idempotency_keys",
        "conversations",
        "conversation_incidents",
        "coaching_plans",
        "programme_blocks",
        "programme_sessions",
        "provision_items",
        "provision_reviews",
        "family_links",
    ];
    let mut queries: Vec<(String, String)> = tables
        .iter()
        .map(|t| (t.to_string(), format!("SELECT COUNT(*) AS n FROM {t}")))
        .collect();
    for (name, sql) in [
        (
            "open suggestions",
            "SELECT COUNT(*) AS n FROM suggestions WHERE status = 'open'",
        ),
        (
            "due meetings",
            "SELECT COUNT(*) AS n FROM meetings WHERE status = 'due'",
        ),
        (
            "meeting changes",
            "SELECT CAST(COALESCE(SUM(sequence), 0) AS BIGINT) AS n FROM meetings",
        ),
        (
            "recorded sessions",
            "SELECT COUNT(*) AS n FROM programme_sessions WHERE outcome IS NOT NULL",
        ),
        (
            "guests' answers",
            "SELECT COUNT(*) AS n FROM meeting_guests WHERE response IS NOT NULL",
        ),
        (
            "levels",
            "SELECT CAST(COALESCE(SUM(level), 0) AS BIGINT) AS n FROM pupils",
        ),
    ] {
        queries.push((name.to_string(), sql.to_string()));
    }
    let mut conn = app.conn();
    queries
        .into_iter()
        .map(|(name, sql)| {
            let counted = diesel::sql_query(&sql)
                .get_result::<Number>(&mut *conn)
                .unwrap_or_else(|e| panic!("{sql}: {e}"));
            (name, counted.n)
        })
        .collect()
}

/// The answer to a request: status, content type and body (JSON when it is JSON).
struct Answer {
    status: StatusCode,
    content_type: String,
    text: String,
    json: Value,
}

async fn answer_of(response: reqwest::Response) -> Answer {
    let status = response.status();
    let content_type = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let text = response.text().await.expect("a response body");
    let json = serde_json::from_str(&text).unwrap_or(Value::Null);
    Answer {
        status,
        content_type,
        text,
        json,
    }
}

/// Sends `body` as it is to an API path with a bearer token.
async fn send_raw(app: &TestApp, method: Method, path: &str, token: &str, body: Vec<u8>) -> Answer {
    let response = Client::new()
        .request(method, app.url(path))
        .bearer_auth(token)
        .header(header::CONTENT_TYPE, "application/json")
        .body(body)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{path}: no answer: {e}"));
    answer_of(response).await
}

async fn post_json(app: &TestApp, path: &str, token: &str, body: &Value) -> Answer {
    let bytes = serde_json::to_vec(body).expect("a JSON body");
    send_raw(app, Method::POST, path, token, bytes).await
}

async fn get_api(app: &TestApp, path: &str, token: &str) -> Answer {
    send_raw(app, Method::GET, path, token, Vec::new()).await
}

/// Checks an answer is the refusal expected: that status, the JSON error shape (with that
/// field, when one is given), and never a fault of the server.
fn assert_refused(what: &str, answer: &Answer, status: StatusCode, field: Option<&str>) {
    assert!(
        ERROR_STATUSES.contains(&answer.status.as_u16()),
        "{what}: {} is not an error status of the API: {}",
        answer.status,
        answer.text
    );
    assert_eq!(answer.status, status, "{what}: {}", answer.text);
    assert!(
        answer.content_type.starts_with("application/json"),
        "{what}: answered as {:?}: {}",
        answer.content_type,
        answer.text
    );
    assert_error_shape(&answer.json);
    if let Some(field) = field {
        assert_eq!(
            answer.json["error"]["field"], field,
            "{what}: the field at fault: {}",
            answer.text
        );
    }
}

/// Posts `body` in 64 KiB chunks without a Content-Length, as a plain HTTP/1.1 client
/// would; answers the status and the response as text.
async fn post_chunked(app: &TestApp, path: &str, token: &str, body: String) -> (u16, String) {
    use std::io::{Read, Write};
    let address = app.address.trim_start_matches("http://").to_string();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    );
    tokio::task::spawn_blocking(move || {
        let mut stream = std::net::TcpStream::connect(&address).expect("a connection");
        stream
            .set_read_timeout(Some(std::time::Duration::from_secs(30)))
            .expect("a read timeout");
        let mut sent = stream.write_all(head.as_bytes());
        for chunk in body.as_bytes().chunks(64 * 1024) {
            // The server may answer and close before the whole body is sent.
            sent = sent
                .and_then(|_| stream.write_all(format!("{:x}\r\n", chunk.len()).as_bytes()))
                .and_then(|_| stream.write_all(chunk))
                .and_then(|_| stream.write_all(b"\r\n"));
        }
        let _ = sent.and_then(|_| stream.write_all(b"0\r\n\r\n"));
        let mut answer = Vec::new();
        let _ = stream.read_to_end(&mut answer);
        let answer = String::from_utf8_lossy(&answer).to_string();
        let status = answer
            .split_whitespace()
            .nth(1)
            .and_then(|code| code.parse().ok())
            .unwrap_or(0);
        (status, answer)
    })
    .await
    .expect("the chunked request")
}

/// An RFC 3339 time `days` from now.
fn days_from_now(days: i64) -> String {
    (Utc::now() + TimeDelta::days(days)).to_rfc3339()
}

/// Every API route that reads a body, each with a body it would accept for `side` (as its
/// SLT), so that a change to one field is what a refusal is about.
fn body_routes(side: &Side) -> Vec<(String, Value)> {
    vec![
        (
            "/api/v1/pupils".to_string(),
            json!({"upn": "D123456789012", "given_name": "Dee", "family_name": "Ray",
                   "year": 9, "form": "9B", "sen_status": "none"}),
        ),
        (
            "/api/v1/incidents".to_string(),
            json!({"pupil_ids": [side.sam], "behaviour": "Off task", "severity": "minor",
                   "response": "prompt", "occurred_at": days_from_now(0), "location": "Room 1",
                   "lesson": "P1", "note": "A quiet word"}),
        ),
        (
            format!("/api/v1/suggestions/{}/accept", side.suggestion),
            json!({"note": "Agreed with the tutor"}),
        ),
        (
            format!("/api/v1/suggestions/{}/decline", side.suggestion),
            json!({"reason": "Settled since"}),
        ),
        (
            format!("/api/v1/meetings/{}/schedule", side.meeting),
            json!({"starts_at": days_from_now(2), "duration_minutes": 30, "location": "Room 1",
                   "participant_ids": [side.hoy9_id], "parent_invited": true,
                   "guests": [{"name": "Pat Okafor", "email": "pat@home.example", "role": "parent_carer"}]}),
        ),
        (
            format!("/api/v1/meetings/{}/cancel", side.meeting),
            json!({"reason": "Moved school"}),
        ),
        (
            format!("/api/v1/meetings/{}/outcome", side.meeting),
            json!({"held_at": days_from_now(0), "summary": "Met with Sam", "goals_met": null,
                   "follow_up": "Done", "successes": "On time", "challenges": "Mornings",
                   "focus": "Arrive ready", "action_steps": "Tutor checks in",
                   "next_step": "Review in a week"}),
        ),
    ]
}

/// Every API route that only reads, for `side`.
fn read_routes(side: &Side) -> Vec<String> {
    vec![
        "/api/v1/staff".to_string(),
        "/api/v1/pupils".to_string(),
        format!("/api/v1/pupils/{}", side.sam),
        format!("/api/v1/pupils/{}/timeline", side.sam),
        "/api/v1/suggestions".to_string(),
        "/api/v1/meetings".to_string(),
    ]
}

/// `body` with `field` (a top-level name) set to `value`.
fn with(body: &Value, field: &str, value: Value) -> Value {
    let mut changed = body.clone();
    changed[field] = value;
    changed
}

async fn oversized_bodies_are_refused_with_413(engine: Engine) {
    let s = arrange(engine).await;
    let before = snapshot(&s.app);
    let huge = "x".repeat(2 * 1024 * 1024);

    for (path, body) in body_routes(&s.north) {
        let mut big = body.clone();
        for value in big.as_object_mut().expect("an object").values_mut() {
            if value.is_string() {
                *value = Value::String(huge.clone());
            }
        }
        let answer = post_json(&s.app, &path, &s.north.slt, &big).await;
        assert_refused(&path, &answer, StatusCode::PAYLOAD_TOO_LARGE, None);
        assert_eq!(answer.json["error"]["code"], "too_large", "{path}");
        // Without a Content-Length the body is cut off at the limit all the same.
        let (status, text) = post_chunked(&s.app, &path, &s.north.slt, huge.clone()).await;
        assert_eq!(status, 413, "{path} in chunks: {text}");
        assert!(
            text.contains(r#""code":"too_large""#),
            "{path} in chunks: {text}"
        );
    }
    assert_eq!(
        snapshot(&s.app),
        before,
        "an oversized body wrote something"
    );
}

async fn malformed_json_is_refused(engine: Engine) {
    let s = arrange(engine).await;
    let before = snapshot(&s.app);
    let malformed: [&[u8]; 9] = [
        b"{",
        b"not json",
        b"[]",
        b"null",
        b"\"a string\"",
        b"{\"note\": \"unterminated",
        b"{\"reason\": \"x\"} trailing",
        b"\xff\xfe{\"reason\": 1}",
        b"{\"reason\": \"\\ud800\"}",
    ];

    for (path, _) in body_routes(&s.north) {
        for body in malformed {
            let what = format!("{path} with {}", String::from_utf8_lossy(body));
            let answer = send_raw(&s.app, Method::POST, &path, &s.north.slt, body.to_vec()).await;
            assert_refused(&what, &answer, StatusCode::BAD_REQUEST, None);
        }
        if !path.ends_with("/accept") {
            let answer = send_raw(&s.app, Method::POST, &path, &s.north.slt, Vec::new()).await;
            assert_refused(
                &format!("{path} without a body"),
                &answer,
                StatusCode::BAD_REQUEST,
                None,
            );
        }
    }
    assert_eq!(snapshot(&s.app), before, "malformed JSON wrote something");
}

async fn wrong_types_are_refused_naming_the_field(engine: Engine) {
    let s = arrange(engine).await;
    let routes = body_routes(&s.north);
    let body_of = |suffix: &str| {
        routes
            .iter()
            .find(|(path, _)| path.ends_with(suffix))
            .map(|(path, body)| (path.clone(), body.clone()))
            .expect("a route")
    };
    let (pupils, pupil) = body_of("/pupils");
    let (incidents, incident) = body_of("/incidents");
    let (accept, accepting) = body_of("/accept");
    let (decline, declining) = body_of("/decline");
    let (schedule, booking) = body_of("/schedule");
    let (cancel, cancelling) = body_of("/cancel");
    let (outcome, held) = body_of("/outcome");
    let mut guest_typo = booking.clone();
    guest_typo["guests"][0]["name"] = json!(7);
    let cases: Vec<(&String, Value, &str)> = vec![
        (&pupils, with(&pupil, "year", json!("eight")), "year"),
        (&pupils, with(&pupil, "year", json!(8.5)), "year"),
        (&pupils, with(&pupil, "year", json!(1e40)), "year"),
        (&pupils, with(&pupil, "upn", json!(123)), "upn"),
        (
            &pupils,
            with(&pupil, "given_name", json!(["Dee"])),
            "given_name",
        ),
        (
            &incidents,
            with(&incident, "pupil_ids", json!(s.north.sam)),
            "pupil_ids",
        ),
        (
            &incidents,
            with(&incident, "pupil_ids", json!([s.north.sam, "x"])),
            "pupil_ids[1]",
        ),
        (
            &incidents,
            with(&incident, "pupil_ids", json!([1e30])),
            "pupil_ids[0]",
        ),
        (
            &incidents,
            with(&incident, "pupil_ids", json!(null)),
            "pupil_ids",
        ),
        (
            &incidents,
            with(&incident, "behaviour", json!({"text": "Off task"})),
            "behaviour",
        ),
        (
            &incidents,
            with(&incident, "severity", json!(2)),
            "severity",
        ),
        (&incidents, with(&incident, "note", json!(false)), "note"),
        (&accept, with(&accepting, "note", json!(5)), "note"),
        (&decline, with(&declining, "reason", json!(null)), "reason"),
        (
            &decline,
            with(&declining, "reason", json!(["Settled"])),
            "reason",
        ),
        (
            &schedule,
            with(&booking, "duration_minutes", json!("30")),
            "duration_minutes",
        ),
        (
            &schedule,
            with(&booking, "duration_minutes", json!(4_294_967_296_i64)),
            "duration_minutes",
        ),
        (
            &schedule,
            with(&booking, "parent_invited", json!("yes")),
            "parent_invited",
        ),
        (
            &schedule,
            with(&booking, "participant_ids", json!({"id": 1})),
            "participant_ids",
        ),
        (&schedule, with(&booking, "location", json!(12)), "location"),
        (&schedule, guest_typo, "guests[0].name"),
        (&cancel, with(&cancelling, "reason", json!(1)), "reason"),
        (
            &outcome,
            with(&held, "goals_met", json!("yes")),
            "goals_met",
        ),
        (&outcome, with(&held, "summary", json!(null)), "summary"),
        (&outcome, with(&held, "focus", json!(3)), "focus"),
    ];
    let before = snapshot(&s.app);

    for (path, body, field) in cases {
        let answer = post_json(&s.app, path, &s.north.slt, &body).await;
        assert_refused(
            &format!("{path}: {field}"),
            &answer,
            StatusCode::BAD_REQUEST,
            Some(field),
        );
    }
    assert_eq!(
        snapshot(&s.app),
        before,
        "a body of the wrong types wrote something"
    );
}

async fn dates_and_times_that_are_not_are_refused(engine: Engine) {
    let s = arrange(engine).await;
    let routes = body_routes(&s.north);
    let before = snapshot(&s.app);
    let not_times = [
        json!("2026-13-45T10:00:00Z"),
        json!("yesterday"),
        json!("2026-03-02T10:00:00"),
        json!("2026-03-02"),
        json!("10:00"),
        json!(""),
        json!(1_767_225_600),
    ];

    for (path, body) in &routes {
        for field in ["occurred_at", "starts_at", "held_at"] {
            if body.get(field).is_none() {
                continue;
            }
            for value in &not_times {
                let answer = post_json(
                    &s.app,
                    path,
                    &s.north.slt,
                    &with(body, field, value.clone()),
                )
                .await;
                assert_refused(
                    &format!("{path}: {field} = {value}"),
                    &answer,
                    StatusCode::BAD_REQUEST,
                    Some(field),
                );
            }
        }
    }
    let timeline = format!("/api/v1/pupils/{}/timeline", s.north.sam);
    for (name, value) in [
        ("from", "2026-13-45"),
        ("from", "yesterday"),
        ("to", "2026-03-02T10:00:00Z"),
        ("to", "02/03/2026"),
    ] {
        let answer = get_api(&s.app, &format!("{timeline}?{name}={value}"), &s.north.slt).await;
        assert_refused(
            &format!("{timeline}?{name}={value}"),
            &answer,
            StatusCode::BAD_REQUEST,
            Some(name),
        );
    }
    assert_eq!(snapshot(&s.app), before, "a malformed time wrote something");
}

async fn unknown_fields_are_refused_naming_the_field(engine: Engine) {
    let s = arrange(engine).await;
    let before = snapshot(&s.app);

    for (path, body) in body_routes(&s.north) {
        let answer = post_json(
            &s.app,
            &path,
            &s.north.slt,
            &with(&body, "colour", json!("red")),
        )
        .await;
        assert_refused(&path, &answer, StatusCode::BAD_REQUEST, Some("colour"));
        assert!(
            answer.json["error"]["message"]
                .as_str()
                .is_some_and(|m| m.contains("unknown field")),
            "{path}: {}",
            answer.text
        );
    }
    let (schedule, mut booking) = body_routes(&s.north).swap_remove(4);
    booking["guests"][0]["colour"] = json!("red");
    let answer = post_json(&s.app, &schedule, &s.north.slt, &booking).await;
    assert_refused(
        &schedule,
        &answer,
        StatusCode::BAD_REQUEST,
        Some("guests[0].colour"),
    );
    for path in read_routes(&s.north) {
        if path.matches('/').count() == 4
            && !path.ends_with("timeline")
            && path.contains("/pupils/")
        {
            continue; // reads one pupil: it takes no query at all
        }
        let answer = get_api(&s.app, &format!("{path}?colour=red"), &s.north.slt).await;
        assert_refused(&path, &answer, StatusCode::BAD_REQUEST, Some("colour"));
    }
    assert_eq!(
        snapshot(&s.app),
        before,
        "a body with an unknown field wrote something"
    );
}

/// Checks that a page shows nothing hostile unescaped: its only scripts are Steadfast's own
/// files, and no injected element is there.
fn assert_escaped(path: &str, html: &str) {
    for (at, _) in html.match_indices("<script") {
        assert!(
            html[at..].starts_with("<script src=\"/static/"),
            "{path}: a script that is not Steadfast's: {}",
            &html[at..(at + 80).min(html.len())]
        );
    }
    assert!(
        !html.contains("<img src=x"),
        "{path}: an injected element: {html}"
    );
    assert!(
        !html.contains("alert(1)>"),
        "{path}: an injected attribute: {html}"
    );
}

/// Opens a page; answers its status and HTML, checked for anything unescaped.
async fn page(app: &TestApp, client: &Client, path: &str) -> (StatusCode, String) {
    let response = app.get_page(client, path).await;
    let status = response.status();
    let html = response.text().await.expect("a page");
    assert_escaped(path, &html);
    (status, html)
}

/// The `/insight/incidents` links of a page (its drill-downs), as paths.
fn drill_downs(html: &str) -> Vec<String> {
    html.match_indices("href=\"/insight/incidents?")
        .map(|(at, _)| {
            let start = at + "href=\"".len();
            let end = start + html[start..].find('"').expect("the end of the link");
            html[start..end].replace("&amp;", "&")
        })
        .collect()
}

async fn sql_and_markup_in_the_api_are_kept_verbatim_and_shown_escaped(engine: Engine) {
    let s = arrange(engine).await;
    let n = &s.north;
    let app = &s.app;
    let tables_before = snapshot(app);

    // A pupil named with each, or refused at the field that cannot hold it.
    let mut hostile_pupils = Vec::new();
    for (i, text) in [SCRIPT, IMG, DROP, OR].into_iter().enumerate() {
        let body = json!({"upn": format!("E12345678901{i}"), "given_name": text,
                          "family_name": ALL, "year": 9, "form": OR});
        let answer = post_json(app, "/api/v1/pupils", &n.slt, &body).await;
        assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.text);
        assert_eq!(answer.json["given_name"], text, "kept as typed");
        assert_eq!(answer.json["family_name"], ALL, "kept as typed");
        assert_eq!(answer.json["form"], OR, "kept as typed");
        hostile_pupils.push(answer.json["id"].as_i64().expect("an id"));
    }
    for (field, value) in [
        ("upn", SCRIPT),
        ("upn", DROP),
        ("form", SCRIPT),
        ("form", DROP),
        ("sen_status", OR),
    ] {
        let valid = json!({"upn": "E123456789019", "given_name": "Eve", "family_name": "Ng",
                           "year": 9, "form": "9B"});
        let body = with(&valid, field, json!(value));
        let answer = post_json(app, "/api/v1/pupils", &n.slt, &body).await;
        assert_refused(
            &format!("pupil {field}"),
            &answer,
            StatusCode::BAD_REQUEST,
            Some(field),
        );
    }
    let pupil = hostile_pupils[0];

    // Incidents: every text field at once; the closed lists refuse it at their field.
    let incident = json!({"pupil_ids": [pupil], "behaviour": ALL, "location": ALL,
                          "lesson": ALL, "note": ALL});
    for _ in 0..3 {
        let answer = post_json(app, "/api/v1/incidents", &n.teacher, &incident).await;
        assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.text);
        for field in ["behaviour", "location", "lesson", "note"] {
            assert_eq!(answer.json[field], ALL, "{field} kept as typed");
        }
    }
    for field in ["severity", "response"] {
        for text in [SCRIPT, DROP, OR] {
            let answer = post_json(
                app,
                "/api/v1/incidents",
                &n.teacher,
                &with(&incident, field, json!(text)),
            )
            .await;
            assert_refused(
                &format!("incident {field}"),
                &answer,
                StatusCode::BAD_REQUEST,
                Some(field),
            );
        }
    }
    let open = app
        .api_get(&format!("/api/v1/suggestions?pupil_id={pupil}"), &n.slt)
        .await
        .1;
    let suggestion = open["suggestions"][0]["id"].as_i64().expect("a suggestion");
    let answer = post_json(
        app,
        &format!("/api/v1/suggestions/{suggestion}/decline"),
        &n.slt,
        &json!({"reason": ALL}),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    let answer = post_json(
        app,
        &format!("/api/v1/suggestions/{}/accept", n.suggestion),
        &n.slt,
        &json!({"note": ALL}),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);

    // The meeting: booked with a hostile place and guest, then held with a hostile record.
    let (schedule, booking) = body_routes(n).swap_remove(4);
    for (field, text) in [("email", SCRIPT), ("email", DROP), ("role", OR)] {
        let mut refused = booking.clone();
        refused["guests"][0][field] = json!(text);
        let answer = post_json(app, &schedule, &n.slt, &refused).await;
        assert_refused(
            &format!("guest {field}"),
            &answer,
            StatusCode::BAD_REQUEST,
            None,
        );
        assert!(
            answer.json["error"]["field"]
                .as_str()
                .is_some_and(|f| f.starts_with("guests")),
            "guest {field}: {}",
            answer.text
        );
    }
    let mut hostile_booking = with(&booking, "location", json!(ALL));
    hostile_booking["guests"][0]["name"] = json!(ALL);
    let answer = post_json(app, &schedule, &n.slt, &hostile_booking).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    assert_eq!(answer.json["location"], ALL);
    assert_eq!(answer.json["guests"][0]["name"], ALL);
    let mut record = body_routes(n).swap_remove(6).1;
    for field in [
        "summary",
        "follow_up",
        "successes",
        "challenges",
        "focus",
        "action_steps",
        "next_step",
    ] {
        record[field] = json!(ALL);
    }
    let answer = post_json(
        app,
        &format!("/api/v1/meetings/{}/outcome", n.meeting),
        &n.slt,
        &record,
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    assert_eq!(answer.json["outcome"]["summary"], ALL);

    // Searching with them finds what it should and drops nothing.
    for text in [SCRIPT, IMG, DROP, OR] {
        let query: String = url::form_urlencoded::byte_serialize(text.as_bytes()).collect();
        let answer = get_api(
            app,
            &format!("/api/v1/pupils?q={query}&form={query}"),
            &n.slt,
        )
        .await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    }
    let found = get_api(app, "/api/v1/pupils?q=%22%20OR%201%3D1", &n.slt).await;
    assert_eq!(
        found.json["pupils"].as_array().map(Vec::len),
        Some(4),
        "only the pupils whose names hold it: {}",
        found.text
    );
    let south = get_api(app, "/api/v1/pupils", &s.south.slt).await;
    assert_eq!(
        south.json["pupils"].as_array().map(Vec::len),
        Some(2),
        "the other school is untouched"
    );
    let after = snapshot(app);
    assert_eq!(
        after["pupils"],
        tables_before["pupils"] + 4,
        "every table is still there"
    );

    // Every page that shows them shows them escaped.
    set_level(app, hostile_pupils[1], 6);
    let client = signed_in(app, &n.slt_email).await;
    let paths = vec![
        format!("/pupils/{pupil}"),
        format!("/pupils/{pupil}?type=incident"),
        format!("/pupils/{}", n.ben),
        format!("/pupils/{}", n.sam),
        format!("/meetings/{}", n.meeting),
        "/meetings".to_string(),
        "/inbox".to_string(),
        "/pupils?q=okafor".to_string(),
        "/pupils?q=%3Cscript%3E".to_string(),
        "/provision".to_string(),
        format!("/pupils/{}/provision", hostile_pupils[1]),
        "/insight".to_string(),
        "/log".to_string(),
        "/".to_string(),
    ];
    let shown = pages_showing_it(app, &client, paths.clone()).await;
    let must = [
        paths[0].as_str(),
        paths[1].as_str(),
        paths[3].as_str(),
        paths[4].as_str(),
        "/pupils?q=%3Cscript%3E",
        "/provision",
        paths[10].as_str(),
        "/insight/incidents",
    ];
    for path in must {
        assert!(
            shown.iter().any(|p| p.starts_with(path)),
            "{path} shows the text escaped; shown on {shown:?}"
        );
    }
}

/// Opens each page (and the drill-downs of the insight page), checks each is whole and
/// escapes everything; answers the paths of those showing `SCRIPT` escaped.
async fn pages_showing_it(app: &TestApp, client: &Client, mut paths: Vec<String>) -> Vec<String> {
    let mut shown = Vec::new();
    let mut at = 0;
    while at < paths.len() {
        let path = paths[at].clone();
        at += 1;
        let (status, html) = page(app, client, &path).await;
        assert_eq!(status, StatusCode::OK, "{path}: {html}");
        if html.contains(SCRIPT_ESCAPED) {
            shown.push(path.clone());
        }
        if path == "/insight" {
            let drills = drill_downs(&html);
            assert!(
                !drills.is_empty(),
                "the insight page leads to the incidents behind it"
            );
            paths.extend(drills);
        }
    }
    shown
}

async fn another_schools_ids_are_not_found_and_nothing_is_written(engine: Engine) {
    let s = arrange(engine).await;
    let (n, south) = (&s.north, &s.south);
    let before = snapshot(&s.app);

    // Records named in the path: not found.
    for path in [
        format!("/api/v1/pupils/{}", south.sam),
        format!("/api/v1/pupils/{}/timeline", south.sam),
    ] {
        let answer = get_api(&s.app, &path, &n.slt).await;
        assert_refused(&path, &answer, StatusCode::NOT_FOUND, None);
    }
    let routes = body_routes(n);
    let theirs: Vec<(String, Value)> = routes
        .iter()
        .filter(|(path, _)| path.contains("/suggestions/") || path.contains("/meetings/"))
        .map(|(path, body)| {
            let path = path
                .replace(
                    &format!("/suggestions/{}/", n.suggestion),
                    &format!("/suggestions/{}/", south.suggestion),
                )
                .replace(
                    &format!("/meetings/{}/", n.meeting),
                    &format!("/meetings/{}/", south.meeting),
                );
            (path, body.clone())
        })
        .collect();
    assert_eq!(
        theirs.len(),
        5,
        "every route naming a suggestion or meeting"
    );
    for token in [&n.slt, &n.hoy9] {
        for (path, body) in &theirs {
            let answer = post_json(&s.app, path, token, body).await;
            assert_refused(path, &answer, StatusCode::NOT_FOUND, None);
        }
        let missed = format!("/api/v1/meetings/{}/missed", south.meeting);
        let answer = post_json(&s.app, &missed, token, &json!({})).await;
        assert_refused(&missed, &answer, StatusCode::NOT_FOUND, None);
    }

    // Records named in the body: the field at fault.
    let (incidents, incident) = &routes[1];
    for ids in [
        json!([south.sam]),
        json!([n.sam, south.sam]),
        json!([south.ben, n.ben]),
    ] {
        for token in [&n.teacher, &n.slt] {
            let answer = post_json(
                &s.app,
                incidents,
                token,
                &with(incident, "pupil_ids", ids.clone()),
            )
            .await;
            assert_refused(
                incidents,
                &answer,
                StatusCode::BAD_REQUEST,
                Some("pupil_ids"),
            );
        }
    }
    let (schedule, booking) = &routes[4];
    let south_staff = south_staff_ids(&s.app, &south.school);
    for id in south_staff {
        let answer = post_json(
            &s.app,
            schedule,
            &n.slt,
            &with(booking, "participant_ids", json!([n.hoy9_id, id])),
        )
        .await;
        assert_refused(
            schedule,
            &answer,
            StatusCode::BAD_REQUEST,
            Some("participant_ids"),
        );
    }

    // Filters naming them find nothing of theirs.
    for path in [
        format!("/api/v1/suggestions?pupil_id={}", south.ben),
        format!("/api/v1/meetings?pupil_id={}", south.sam),
    ] {
        let answer = get_api(&s.app, &path, &n.slt).await;
        assert_eq!(answer.status, StatusCode::OK, "{path}: {}", answer.text);
        let listed = answer
            .json
            .as_object()
            .and_then(|o| o.iter().find(|(name, _)| *name != "next"))
            .map(|(_, list)| list.clone());
        assert_eq!(listed, Some(json!([])), "{path}: {}", answer.text);
    }
    assert_eq!(
        snapshot(&s.app),
        before,
        "a request naming another school's records wrote something"
    );
    // The same requests with North's own ids do write: the refusals above are about the ids.
    let answer = post_json(&s.app, incidents, &n.teacher, incident).await;
    assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.text);
}

fn south_staff_ids(app: &TestApp, school: &School) -> Vec<i64> {
    use steadfast::db::schema::staff;
    staff::table
        .filter(staff::school_id.eq(school.id))
        .select(staff::id)
        .load(&mut *app.conn())
        .expect("the other school's staff")
}

/// Posts a form as a signed-in browser does, with the session's CSRF token.
async fn post_form(
    app: &TestApp,
    client: &Client,
    path: &str,
    fields: &[(&str, String)],
) -> reqwest::Response {
    let home = app
        .get_page(client, "/")
        .await
        .text()
        .await
        .expect("the home page");
    let mut form = vec![("csrf_token", csrf_token_in(&home))];
    form.extend(fields.iter().map(|(name, value)| (*name, value.clone())));
    client
        .post(app.url(path))
        .form(&form)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{path}: no answer: {e}"))
}

/// Checks a form was taken: a redirect to the page showing what it saved.
async fn assert_saved(what: &str, response: reqwest::Response) {
    let status = response.status();
    let body = response.text().await.unwrap_or_default();
    assert_eq!(status, StatusCode::SEE_OTHER, "{what}: {body}");
}

fn date_in(days: i64) -> String {
    (today() + TimeDelta::days(days))
        .format("%Y-%m-%d")
        .to_string()
}

fn local_time_in(days: i64) -> String {
    steadfast::web::pages::form::local_input_value(Utc::now() + TimeDelta::days(days))
}

/// Every main form of the pages, for `side`, with each free-text field set to `text`: the
/// path and the fields. `ben` at a Coaching Programme has a plan and a block, `fay` a
/// Bespoke Provision Map with one provision (see [`ladder_for_forms`]).
fn main_forms(
    side: &Side,
    text: &str,
    forms: &FormTargets,
) -> Vec<(String, Vec<(&'static str, String)>)> {
    let t = || text.to_string();
    vec![
        (
            "/log/new".to_string(),
            vec![
                ("idempotency_key", format!("hostile-{}", forms.key)),
                ("pupil_ids", side.sam.to_string()),
                ("behaviour", t()),
                ("response", "none".into()),
                ("location", t()),
                ("lesson", t()),
                ("note", t()),
            ],
        ),
        (
            format!("/pupils/{}/conversations", side.sam),
            vec![
                ("with_whom", t()),
                ("what_happened", t()),
                ("what_got_in_the_way", t()),
                ("what_could_help", t()),
                ("plan_next_time", t()),
                ("good_for_everyone", t()),
            ],
        ),
        (
            format!("/meetings/{}/schedule", side.meeting),
            vec![
                ("starts_at", local_time_in(2)),
                ("duration_minutes", "30".into()),
                ("location", t()),
                ("participant_ids", side.hoy9_id.to_string()),
                ("parent_name", t()),
                ("parent_email", "pat@home.example".into()),
            ],
        ),
        (
            format!("/meetings/{}/outcome", side.meeting),
            vec![
                ("held_at", local_time_in(0)),
                ("summary", t()),
                ("goals_met", String::new()),
                ("follow_up", t()),
                ("successes", t()),
                ("challenges", t()),
                ("focus", t()),
                ("action_steps", t()),
                ("next_step", t()),
            ],
        ),
        (
            format!("/pupils/{}/plan", side.ben),
            vec![
                ("goal_1", t()),
                ("success_criterion_1", t()),
                ("pathway_to_independence", t()),
                ("step_what_1", t()),
                ("step_owner_1", t()),
                ("step_by_1", date_in(7)),
                ("review_on", date_in(28)),
                ("agreed_with", t()),
            ],
        ),
        (
            format!("/sessions/{}", forms.session),
            vec![
                ("outcome", "delivered".into()),
                ("minutes", "30".into()),
                ("delivered_by", t()),
                ("note", t()),
            ],
        ),
        (
            format!("/pupils/{}/provision", forms.fay),
            vec![
                ("what", t()),
                ("provider_kind", "internal".into()),
                ("provider_name", t()),
                ("frequency_per_week", "3".into()),
                ("session_minutes", "30".into()),
                ("starts_on", date_in(0)),
                ("review_on", date_in(14)),
                ("ends_on", date_in(90)),
                ("cost_per_session", "12.50".into()),
                ("entry_data", t()),
                ("target", t()),
            ],
        ),
        (
            format!("/provision/{}/review", forms.item),
            vec![
                ("assessment", t()),
                ("progress", "partly_met".into()),
                ("decision", "continue".into()),
                ("next_plan", t()),
                ("next_review_on", date_in(30)),
            ],
        ),
        (
            format!("/inbox/{}/decline", forms.suggestion),
            vec![("reason", t())],
        ),
    ]
}

/// What the forms of [`main_forms`] act on besides the scene's own records.
struct FormTargets {
    /// Makes each logging form's idempotency key its own.
    key: &'static str,
    session: i64,
    fay: i64,
    item: i64,
    /// An open suggestion, to decline.
    suggestion: i64,
}

/// Moves Ben up to a Coaching Programme through the level and plan forms and plans a block
/// with one session today; puts Fay, a new pupil, on a Bespoke Provision Map with one
/// provision. `text` goes in every free-text field on the way.
async fn ladder_for_forms(app: &TestApp, client: &Client, side: &Side, text: &str) -> FormTargets {
    let level = format!("/pupils/{}/level", side.ben);
    for to in ["4", "5"] {
        let fields = [
            ("to", to.to_string()),
            ("reason", text.to_string()),
            ("override", "1".into()),
        ];
        assert_saved(
            &format!("moving to {to}"),
            post_form(app, client, &level, &fields).await,
        )
        .await;
        if to == "4" {
            let plan = main_forms(
                side,
                text,
                &FormTargets {
                    key: "",
                    session: 0,
                    fay: 0,
                    item: 0,
                    suggestion: 0,
                },
            )
            .swap_remove(4);
            assert_saved("the plan", post_form(app, client, &plan.0, &plan.1).await).await;
        }
    }
    let mut starts = today();
    while starts.format("%a").to_string().starts_with('S') {
        starts += TimeDelta::days(1);
    }
    let block = [
        ("starts_on", starts.format("%Y-%m-%d").to_string()),
        ("sessions_per_week", "2".to_string()),
        ("weekdays", "mon".to_string()),
        ("weekdays", "thu".to_string()),
        ("minutes", "30".to_string()),
        ("time", "10:00".to_string()),
        ("place", "in_school".to_string()),
        ("led_by", "specialist_staff".to_string()),
        ("practitioner_id", side.specialist_id.to_string()),
    ];
    let path = format!("/pupils/{}/programme/blocks", side.ben);
    assert_saved("the block", post_form(app, client, &path, &block).await).await;
    let mut conn = app.conn();
    let block: i64 = programme_blocks::table
        .filter(programme_blocks::pupil_id.eq(side.ben))
        .select(programme_blocks::id)
        .first(&mut *conn)
        .expect("the block");
    let session: i64 = programme_sessions::table
        .filter(programme_sessions::block_id.eq(block))
        .order(programme_sessions::on_date)
        .select(programme_sessions::id)
        .first(&mut *conn)
        .expect("a session");
    diesel::update(programme_sessions::table.find(session))
        .set(programme_sessions::on_date.eq(today()))
        .execute(&mut *conn)
        .expect("the first session today");
    drop(conn);
    let fay = app
        .create_pupil(&side.school, "F123456789012", "Fay", "Lin", 9, "9B")
        .id;
    set_level(app, fay, 6);
    let targets = FormTargets {
        key: "ladder",
        session,
        fay,
        item: 0,
        suggestion: 0,
    };
    let provision = main_forms(side, text, &targets).swap_remove(6);
    assert_saved(
        "the provision",
        post_form(app, client, &provision.0, &provision.1).await,
    )
    .await;
    let item = provision_items::table
        .filter(provision_items::pupil_id.eq(fay))
        .select(provision_items::id)
        .first(&mut *app.conn())
        .expect("the provision");
    let gus = app
        .create_pupil(&side.school, "G123456789012", "Gus", "Hale", 9, "9B")
        .id;
    let suggestion = conversation_suggested(app, &side.teacher, gus).await;
    FormTargets {
        key: "forms",
        session,
        fay,
        item,
        suggestion,
    }
}

async fn sql_and_markup_in_the_forms_are_kept_verbatim_and_shown_escaped(engine: Engine) {
    let s = arrange(engine).await;
    let (app, n) = (&s.app, &s.north);
    let client = signed_in(app, &n.slt_email).await;
    let targets = ladder_for_forms(app, &client, n, ALL).await;

    for (path, fields) in main_forms(n, ALL, &targets) {
        if path.ends_with("/provision") {
            continue; // added on the way up
        }
        assert_saved(&path, post_form(app, &client, &path, &fields).await).await;
    }
    // Closed lists refuse them at their field, and write nothing.
    let before = snapshot(app);
    let again = FormTargets {
        key: "closed-lists",
        ..targets
    };
    for (path, field) in [
        ("/log/new".to_string(), "response"),
        (format!("/pupils/{}/level", n.sam), "to"),
        (format!("/provision/{}/review", targets.item), "decision"),
    ] {
        for text in [SCRIPT, DROP, OR] {
            let mut fields = match path.as_str() {
                "/log/new" => main_forms(n, "Off task", &again).swap_remove(0).1,
                p if p.ends_with("/level") => vec![("reason", "Agreed".to_string())],
                _ => main_forms(n, "Reads better", &again).swap_remove(7).1,
            };
            fields.retain(|(name, _)| *name != field);
            fields.push((field, text.to_string()));
            let response = post_form(app, &client, &path, &fields).await;
            let status = response.status();
            let html = response.text().await.expect("a page");
            assert_escaped(&path, &html);
            assert_eq!(
                status,
                StatusCode::BAD_REQUEST,
                "{path} {field}={text}: {html}"
            );
        }
    }
    assert_eq!(snapshot(app), before, "a refused form wrote something");

    let paths = vec![
        format!("/pupils/{}", n.sam),
        format!("/pupils/{}", n.ben),
        format!("/pupils/{}/plan", n.ben),
        format!("/pupils/{}/programme", n.ben),
        format!("/sessions/{}", targets.session),
        format!("/pupils/{}/provision", targets.fay),
        format!("/meetings/{}", n.meeting),
        "/meetings".to_string(),
        "/provision".to_string(),
        "/inbox".to_string(),
        "/log".to_string(),
        "/insight".to_string(),
        "/".to_string(),
    ];
    let shown = pages_showing_it(app, &client, paths.clone()).await;
    for path in paths[..7]
        .iter()
        .map(String::as_str)
        .chain(["/insight/incidents"])
    {
        assert!(
            shown.iter().any(|p| p.starts_with(path)),
            "{path} shows the text escaped; shown on {shown:?}"
        );
    }
    let csv = app
        .get_page(&client, &format!("/pupils/{}/provision.csv", targets.fay))
        .await;
    assert!(
        csv.headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|t| t.starts_with("text/csv")),
        "the CSV is not a page"
    );
}

async fn oversized_forms_are_refused_with_413(engine: Engine) {
    let s = arrange(engine).await;
    let (app, n) = (&s.app, &s.north);
    let client = signed_in(app, &n.slt_email).await;
    let targets = FormTargets {
        key: "big",
        session: 1,
        fay: n.sam,
        item: 1,
        suggestion: n.suggestion,
    };
    let huge = "x".repeat(2 * 1024 * 1024);
    let before = snapshot(app);

    for (path, fields) in main_forms(n, &huge, &targets) {
        let response = post_form(app, &client, &path, &fields).await;
        let status = response.status();
        let html = response.text().await.expect("a page");
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{path}: {html}");
        assert!(html.contains("64 KiB"), "{path}: the page says why: {html}");
    }
    assert_eq!(snapshot(app), before, "an oversized form wrote something");
}

async fn another_schools_records_are_not_found_in_the_pages(engine: Engine) {
    let s = arrange(engine).await;
    let (app, n, south) = (&s.app, &s.north, &s.south);
    let client = signed_in(app, &n.slt_email).await;
    let south_targets = FormTargets {
        key: "south",
        session: 0,
        fay: south.sam,
        item: 0,
        suggestion: south.suggestion,
    };
    let before = snapshot(app);

    for path in [
        format!("/pupils/{}", south.sam),
        format!("/pupils/{}/plan", south.ben),
        format!("/pupils/{}/programme", south.ben),
        format!("/pupils/{}/provision", south.sam),
        format!("/pupils/{}/conversations/new", south.sam),
        format!("/meetings/{}", south.meeting),
    ] {
        let (status, html) = page(app, &client, &path).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}: {html}");
    }
    // The logging form takes pupils from the address, and leaves out those of another school.
    for (pupil, shown) in [(n.sam, true), (south.sam, false)] {
        let (status, html) = page(app, &client, &format!("/log/new?pupil={pupil}")).await;
        assert_eq!(status, StatusCode::OK);
        let chosen = format!("name=\"pupil_ids\" value=\"{pupil}\"");
        assert_eq!(html.contains(&chosen), shown, "pupil {pupil}: {html}");
    }
    let mut forms = main_forms(south, "Agreed at the meeting", &south_targets);
    forms.retain(|(path, _)| !path.starts_with("/sessions/") && !path.starts_with("/provision/"));
    for (path, fields) in forms.iter_mut() {
        if path.ends_with("/schedule") {
            fields.retain(|(name, _)| *name != "participant_ids");
            fields.push(("participant_ids", n.hoy9_id.to_string()));
        }
    }
    forms.push((
        format!("/pupils/{}/level", south.ben),
        vec![("to", "2".into()), ("reason", "Agreed".into())],
    ));
    forms.push((
        format!("/inbox/{}/accept", south.suggestion),
        vec![("note", "Agreed".into())],
    ));
    forms.push((
        format!("/meetings/{}/cancel", south.meeting),
        vec![("reason", "Moved".into())],
    ));
    forms.push((format!("/meetings/{}/missed", south.meeting), vec![]));
    for (path, fields) in forms {
        let response = post_form(app, &client, &path, &fields).await;
        let status = response.status();
        let html = response.text().await.expect("a page");
        let expected = if path == "/log/new" {
            StatusCode::BAD_REQUEST // the pupil is a field of the form
        } else {
            StatusCode::NOT_FOUND
        };
        assert_eq!(status, expected, "{path}: {html}");
    }
    // North's participants may not include South's staff.
    let mut booking = main_forms(n, "Room 4", &south_targets).swap_remove(2);
    booking
        .1
        .push(("participant_ids", south.hoy9_id.to_string()));
    let response = post_form(app, &client, &booking.0, &booking.1).await;
    assert_eq!(
        response.status(),
        StatusCode::BAD_REQUEST,
        "{}",
        location(&response)
    );
    assert_eq!(
        snapshot(app),
        before,
        "a form naming another school's records wrote something"
    );
}

async fn methods_a_route_does_not_answer_get_405(engine: Engine) {
    let s = arrange(engine).await;
    let before = snapshot(&s.app);
    let meeting = format!("/api/v1/meetings/{}/cancel", s.north.meeting);
    for (method, path, allow) in [
        (Method::DELETE, "/api/v1/pupils", "GET, POST"),
        (Method::PUT, "/api/v1/incidents", "POST"),
        (Method::GET, "/api/v1/incidents", "POST"),
        (Method::PATCH, "/api/v1/staff", "GET"),
        (Method::DELETE, meeting.as_str(), "POST"),
        (
            Method::from_bytes(b"TRACE").expect("a method"),
            "/api/v1/suggestions",
            "GET",
        ),
    ] {
        let answer = send_raw(&s.app, method.clone(), path, &s.north.slt, b"{}".to_vec()).await;
        assert_eq!(
            answer.status,
            StatusCode::METHOD_NOT_ALLOWED,
            "{method} {path}: {}",
            answer.text
        );
        assert_error_shape(&answer.json);
        assert_eq!(answer.json["error"]["code"], "method_not_allowed");
        let response = Client::new()
            .request(method.clone(), s.app.url(path))
            .send()
            .await
            .expect("an answer");
        let allowed = response
            .headers()
            .get(header::ALLOW)
            .and_then(|v| v.to_str().ok());
        assert_eq!(allowed, Some(allow), "{method} {path}");
    }
    let answer = get_api(&s.app, "/api/v1/nothing-here", &s.north.slt).await;
    assert_refused("an unknown address", &answer, StatusCode::NOT_FOUND, None);
    assert_eq!(snapshot(&s.app), before, "a refused method wrote something");
}

/// The family pages (`/family/{token}`), which take no sign-in: forms too large get 413, forms
/// from elsewhere 403, tokens that are not one the same 404, another school's staff cannot stop
/// a guest's link, and markup and SQL in a family's note are kept as typed and shown escaped.
async fn family_forms_refuse_hostile_input(engine: Engine) {
    use steadfast::db::meetings::{self, Booking, GuestRole, NewGuest};
    use steadfast::db::schema::meeting_guests;
    let s = arrange(engine).await;
    let (app, n, south) = (&s.app, &s.north, &s.south);
    let hoy = steadfast::db::staff::get_member(&mut app.conn(), n.school.id, n.hoy9_id)
        .expect("reading")
        .expect("the Head of Year");
    let booking = Booking {
        starts_at: Utc::now() + TimeDelta::days(2),
        duration_minutes: 30,
        location: "Room 4".into(),
        participant_ids: vec![hoy.id],
        parent_invited: true,
        guests: vec![NewGuest {
            name: "Ana Silva".into(),
            email: Some("ana@home.example".into()),
            role: GuestRole::ParentCarer,
        }],
    };
    let context = steadfast::db::notices::NoticeContext::from_settings(&app.settings);
    meetings::schedule(
        &mut app.conn(),
        &hoy,
        &context,
        n.meeting,
        &booking,
        Utc::now(),
    )
    .expect("booking");
    let guest: i64 = meeting_guests::table
        .filter(meeting_guests::meeting_id.eq(n.meeting))
        .select(meeting_guests::id)
        .first(&mut *app.conn())
        .expect("the guest");
    let token =
        steadfast::db::family::meeting_link(&mut app.conn(), n.school.id, guest, Utc::now())
            .expect("a link")
            .expect("a link");
    let family = Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("a client");
    let page_of = |path: String| {
        let family = family.clone();
        async move {
            let response = family.get(app.url(&path)).send().await.expect("an answer");
            (response.status(), response.text().await.expect("a page"))
        }
    };
    let (status, html) = page_of(format!("/family/{token}")).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    let csrf = csrf_token_in(&html);
    let before = snapshot(app);

    let huge = "x".repeat(2 * 1024 * 1024);
    for (path, fields) in [
        (
            format!("/family/{token}/answer"),
            vec![
                ("csrf_token", csrf.clone()),
                ("response", "accepted".to_string()),
                ("note", huge.clone()),
            ],
        ),
        (
            format!("/family/{token}/answer"),
            vec![
                ("csrf_token", "forged".to_string()),
                ("response", "accepted".to_string()),
            ],
        ),
        (
            format!("/family/{token}/answer"),
            vec![("response", "accepted".to_string())],
        ),
        (
            format!("/family/{}/answer", "0".repeat(64)),
            vec![
                ("csrf_token", csrf.clone()),
                ("response", "accepted".to_string()),
            ],
        ),
        (
            format!("/family/{token}/answer"),
            vec![("csrf_token", csrf.clone()), ("response", DROP.to_string())],
        ),
        (
            format!("/family/{token}/answer"),
            vec![
                ("csrf_token", csrf.clone()),
                ("response", "another_time".to_string()),
            ],
        ),
        (
            format!("/family/{token}/read"),
            vec![("csrf_token", csrf.clone())],
        ),
        (
            format!("/family/{token}/sessions/1"),
            vec![
                ("csrf_token", csrf.clone()),
                ("outcome", "delivered".to_string()),
            ],
        ),
    ] {
        let response = family
            .post(app.url(&path))
            .form(&fields)
            .send()
            .await
            .expect("an answer");
        let status = response.status();
        let html = response.text().await.expect("a page");
        assert!(
            [400, 403, 404, 413].contains(&status.as_u16()),
            "{path} {:?}: {status} {html}",
            fields.iter().map(|f| f.0).collect::<Vec<_>>()
        );
        if status == StatusCode::PAYLOAD_TOO_LARGE {
            assert!(html.contains("64 KiB"), "{html}");
        }
        assert!(
            !html.contains(DROP),
            "the refused answer is not shown back raw"
        );
    }
    assert_eq!(
        snapshot(app),
        before,
        "a refused family form wrote something"
    );

    // Another school's staff cannot stop the guest's link.
    let south_client = signed_in(app, &south.slt_email).await;
    let path = format!("/meetings/{}/guests/{guest}/revoke", n.meeting);
    let response = post_form(app, &south_client, &path, &[]).await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert_eq!(page_of(format!("/family/{token}")).await.0, StatusCode::OK);

    // Markup and SQL in the note: kept as typed, shown escaped to the family and to staff.
    let response = family
        .post(app.url(&format!("/family/{token}/answer")))
        .form(&[
            ("csrf_token", csrf.as_str()),
            ("response", "declined"),
            ("note", ALL),
        ])
        .send()
        .await
        .expect("an answer");
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let kept: Option<String> = meeting_guests::table
        .find(guest)
        .select(meeting_guests::response_note)
        .first(&mut *app.conn())
        .expect("the guest");
    assert_eq!(kept.as_deref(), Some(ALL));
    let (_, html) = page_of(format!("/family/{token}")).await;
    assert_escaped("/family/{token}", &html);
    let north_client = signed_in(app, &n.slt_email).await;
    let (_, html) = page(app, &north_client, &format!("/meetings/{}", n.meeting)).await;
    assert!(html.contains(SCRIPT_ESCAPED), "{html}");
    assert_escaped("/meetings/{id}", &html);
}

both_engines!(
    family_forms_refuse_hostile_input,
    oversized_bodies_are_refused_with_413,
    malformed_json_is_refused,
    wrong_types_are_refused_naming_the_field,
    dates_and_times_that_are_not_are_refused,
    unknown_fields_are_refused_naming_the_field,
    sql_and_markup_in_the_api_are_kept_verbatim_and_shown_escaped,
    another_schools_ids_are_not_found_and_nothing_is_written,
    sql_and_markup_in_the_forms_are_kept_verbatim_and_shown_escaped,
    oversized_forms_are_refused_with_413,
    another_schools_records_are_not_found_in_the_pages,
    methods_a_route_does_not_answer_get_405,
);
