//! Paging of every API list (`?limit=`, `?cursor=`, `next`), on both engines: each row that
//! existed when paging began comes exactly once while rows are added between pages, `next` is
//! null on the last page, clients that send neither get the first page, and malformed limits
//! and cursors are refused in the error shape.

mod common;

use std::collections::{HashMap, HashSet};

use chrono::{DurationRound, TimeDelta, Utc};
use diesel::prelude::*;
use reqwest::StatusCode;
use serde_json::{json, Value};

use common::{assert_error_shape, both_engines, spawn_app, Engine, Role, TestApp};
use steadfast::db::models::School;
use steadfast::db::schema::meetings;
use steadfast::db::to_db_time;

/// Reads a list page by page from `first`, calling `between` after each page; answers every
/// entry read (its identity as `identify` gives it) and how many pages there were. Each
/// `next` must keep the path and filters of the first page.
async fn read_all<F, Fut>(
    app: &TestApp,
    token: &str,
    first: &str,
    items: &str,
    identify: impl Fn(&Value) -> String,
    mut between: F,
) -> (Vec<String>, usize)
where
    F: FnMut(usize) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let mut path = first.to_string();
    let mut seen = Vec::new();
    let mut pages = 0;
    loop {
        let (status, body) = app.api_get(&path, token).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
        pages += 1;
        let page = body[items].as_array().expect("a list");
        seen.extend(page.iter().map(&identify));
        match body["next"].as_str() {
            Some(next) => {
                assert!(!page.is_empty(), "an empty page before the end: {body}");
                let base = first.split('?').next().unwrap_or_default();
                assert!(next.starts_with(&format!("{base}?")), "{next}");
                path = next.to_string();
                between(pages).await;
            }
            None => {
                assert!(body["next"].is_null(), "{body}");
                break;
            }
        }
        assert!(pages < 200, "paging does not end");
    }
    (seen, pages)
}

/// Asserts that `seen` holds no entry twice and every one of `before` once.
fn every_one_once(seen: &[String], before: &[String]) {
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for id in seen {
        *counts.entry(id.as_str()).or_default() += 1;
    }
    let twice: Vec<_> = counts.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "read twice: {twice:?}");
    let missing: Vec<_> = before
        .iter()
        .filter(|id| !counts.contains_key(id.as_str()))
        .collect();
    assert!(missing.is_empty(), "never read: {missing:?}");
}

fn id_of(entry: &Value) -> String {
    entry["id"].as_i64().expect("an id").to_string()
}

/// The ids of every entry of a list, read at once with the largest page.
async fn everything(app: &TestApp, token: &str, path: &str, items: &str) -> Vec<String> {
    let separator = if path.contains('?') { '&' } else { '?' };
    let (seen, _) = read_all(
        app,
        token,
        &format!("{path}{separator}limit=500"),
        items,
        id_of,
        |_| async {},
    )
    .await;
    seen
}

async fn pupils_come_once_each_while_pupils_are_added(engine: Engine) {
    let app = spawn_app(engine).await;
    let (school, _, token) = app.school_with_admin("NORTH");
    // Family names shared by several pupils, and given names shared too, so pages end inside
    // a run of equal names.
    for n in 0..23 {
        let family = ["Adeyemi", "Brown", "Smith", "Zhou"][n % 4];
        let given = ["Ava", "Ben"][n % 2];
        app.create_pupil(
            &school,
            &format!("A1234567890{n:02}"),
            given,
            family,
            7,
            "7A",
        );
    }
    let before = everything(&app, &token, "/api/v1/pupils", "pupils").await;
    assert_eq!(before.len(), 23);

    let added = std::cell::Cell::new(0);
    let (seen, pages) = read_all(
        &app,
        &token,
        "/api/v1/pupils?limit=4",
        "pupils",
        id_of,
        |page| {
            // Pupils who sort before, among and after those read so far.
            let family = ["Aaron", "Brown", "Smith", "Zzz"][page % 4];
            let n = added.get();
            added.set(n + 1);
            app.create_pupil(
                &school,
                &format!("B1234567890{n:02}"),
                "Ava",
                family,
                7,
                "7A",
            );
            async {}
        },
    )
    .await;

    every_one_once(&seen, &before);
    assert!(pages >= 6, "{pages} pages");
    let after = everything(&app, &token, "/api/v1/pupils", "pupils").await;
    assert_eq!(after.len(), 23 + added.get());
}

async fn filters_are_kept_in_next_and_pages_follow_them(engine: Engine) {
    let app = spawn_app(engine).await;
    let (school, _, token) = app.school_with_admin("NORTH");
    for n in 0..9 {
        let (year, form) = if n % 3 == 0 { (8, "8A") } else { (7, "7A") };
        app.create_pupil(
            &school,
            &format!("A1234567890{n:02}"),
            "Zoë",
            &format!("Okafor{n}"),
            year,
            form,
        );
    }

    let (status, body) = app
        .api_get("/api/v1/pupils?q=Zo%C3%AB&year=7&limit=2", &token)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let next = body["next"].as_str().expect("a next page");
    assert!(
        next.contains("q=Zo%C3%AB") && next.contains("year=7") && next.contains("limit=2"),
        "{next}"
    );

    let (seen, pages) = read_all(
        &app,
        &token,
        "/api/v1/pupils?q=Zo%C3%AB&year=7&limit=2",
        "pupils",
        |p| format!("{}/{}", p["year"], p["family_name"]),
        |_| async {},
    )
    .await;
    assert_eq!(pages, 3);
    assert_eq!(seen.len(), 6);
    assert!(seen.iter().all(|p| p.starts_with("7/")), "{seen:?}");
    let mut sorted = seen.clone();
    sorted.sort();
    assert_eq!(seen, sorted, "by family name");

    // The cursor belongs to those filters: with others it is refused.
    let cursor = next.split("cursor=").nth(1).expect("a cursor");
    let (status, body) = app
        .api_get(&format!("/api/v1/pupils?year=8&cursor={cursor}"), &token)
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"]["field"], "cursor");
}

async fn clients_sending_no_limit_get_the_first_hundred_and_next(engine: Engine) {
    let app = spawn_app(engine).await;
    let (school, _, token) = app.school_with_admin("NORTH");
    for n in 0..130 {
        app.create_pupil(
            &school,
            &format!("A123456789{n:03}"),
            "Sam",
            &format!("Pupil{n:03}"),
            7,
            "7A",
        );
    }

    let (status, body) = app.api_get("/api/v1/pupils", &token).await;

    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["pupils"].as_array().expect("pupils").len(), 100);
    let next = body["next"].as_str().expect("a next page");
    assert!(next.starts_with("/api/v1/pupils?cursor="), "{next}");
    let (status, rest) = app.api_get(next, &token).await;
    assert_eq!(status, StatusCode::OK, "{rest}");
    assert_eq!(rest["pupils"].as_array().expect("pupils").len(), 30);
    assert_eq!(rest["next"], Value::Null);
    assert_eq!(rest["pupils"][0]["family_name"], "Pupil100");

    // A page exactly as long as what is left ends the list.
    let (_, whole) = app.api_get("/api/v1/pupils?limit=130", &token).await;
    assert_eq!(whole["pupils"].as_array().expect("pupils").len(), 130);
    assert_eq!(whole["next"], Value::Null);
}

/// A school with an SLT member (who reads everything and runs every meeting), a class teacher
/// who logs, and one pupil.
struct Timeline {
    school: School,
    slt: String,
    teacher: String,
    pupil: i64,
}

fn timeline_school(app: &TestApp) -> Timeline {
    let school = app.create_school("NORTH", "North Academy");
    let slt_member = app.create_staff(
        &school,
        "slt@north.example",
        "Sol Leader",
        &[Role::Slt],
        None,
    );
    let teacher = app.create_staff(
        &school,
        "t@north.example",
        "Tess Teacher",
        &[Role::ClassStaff],
        None,
    );
    let pupil = app
        .create_pupil(&school, "A123456789012", "Sam", "Okafor", 8, "8B")
        .id;
    Timeline {
        slt: app.create_token(&slt_member),
        teacher: app.create_token(&teacher),
        school,
        pupil,
    }
}

async fn log_at(app: &TestApp, token: &str, pupil: i64, at: chrono::DateTime<Utc>, response: &str) {
    let (status, body) = app
        .api_post(
            "/api/v1/incidents",
            token,
            &json!({
                "pupil_ids": [pupil],
                "behaviour": "Off task",
                "severity": "minor",
                "response": response,
                "occurred_at": at.to_rfc3339(),
            }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

fn add_meeting(
    app: &TestApp,
    school: &School,
    pupil: i64,
    due_in_days: i64,
    created: chrono::DateTime<Utc>,
) {
    diesel::insert_into(meetings::table)
        .values((
            meetings::school_id.eq(school.id),
            meetings::pupil_id.eq(pupil),
            meetings::level.eq(3i16),
            meetings::due_on.eq(common::today() + TimeDelta::days(due_in_days)),
            meetings::status.eq("due"),
            meetings::created_at.eq(to_db_time(created)),
        ))
        .execute(&mut *app.conn())
        .expect("a meeting");
}

fn event_of(entry: &Value) -> String {
    format!(
        "{}:{}",
        entry["type"].as_str().expect("a type"),
        id_of(entry)
    )
}

async fn a_timeline_comes_once_each_while_entries_are_added(engine: Engine) {
    let app = spawn_app(engine).await;
    let t = timeline_school(&app);
    let now = Utc::now()
        .duration_trunc(TimeDelta::seconds(1))
        .expect("a time");
    // Entries sharing times: five incidents at each of four times, prompts among them (which
    // move the pupil and suggest), and meetings made at the same times as incidents.
    for hour in 1..=4 {
        let at = now - TimeDelta::hours(hour * 5);
        for n in 0..5 {
            let response = if n == 0 { "prompt" } else { "none" };
            log_at(&app, &t.teacher, t.pupil, at, response).await;
        }
        add_meeting(&app, &t.school, t.pupil, hour, at);
    }
    let path = format!("/api/v1/pupils/{}/timeline", t.pupil);
    let (_, whole) = app.api_get(&format!("{path}?limit=500"), &t.slt).await;
    let before: Vec<String> = whole["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(event_of)
        .collect();
    let kinds: HashSet<&str> = before
        .iter()
        .map(|e| e.split(':').next().unwrap_or_default())
        .collect();
    assert!(
        kinds.contains("incident") && kinds.contains("meeting") && kinds.contains("level_change"),
        "{before:?}"
    );
    assert!(before.len() >= 24, "{before:?}");

    let pages_added = std::cell::Cell::new(0);
    let (seen, pages) = read_all(
        &app,
        &t.slt,
        &format!("{path}?limit=3"),
        "events",
        event_of,
        |page| {
            pages_added.set(pages_added.get() + 1);
            let (app, t) = (&app, &t);
            async move {
                // Newer entries, entries at the times being read, older ones.
                let at = match page % 3 {
                    0 => Utc::now(),
                    1 => now - TimeDelta::hours(10),
                    _ => now - TimeDelta::hours(40),
                };
                log_at(app, &t.teacher, t.pupil, at, "none").await;
                add_meeting(app, &t.school, t.pupil, 2, at);
            }
        },
    )
    .await;

    every_one_once(&seen, &before);
    assert!(pages >= 8, "{pages}");
    // Newest first throughout, as one page showed it.
    let (_, whole) = app.api_get(&format!("{path}?limit=500"), &t.slt).await;
    let times: Vec<&str> = whole["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| e["at"].as_str().expect("at"))
        .collect();
    let parsed: Vec<chrono::DateTime<Utc>> =
        times.iter().map(|t| t.parse().expect("a time")).collect();
    assert!(parsed.windows(2).all(|w| w[0] >= w[1]), "{times:?}");
    assert!(pages_added.get() > 0);
}

async fn a_filtered_timeline_pages_too(engine: Engine) {
    let app = spawn_app(engine).await;
    let t = timeline_school(&app);
    let now = Utc::now()
        .duration_trunc(TimeDelta::seconds(1))
        .expect("a time");
    for n in 0..7 {
        log_at(
            &app,
            &t.teacher,
            t.pupil,
            now - TimeDelta::minutes(n % 3),
            "none",
        )
        .await;
    }
    let path = format!("/api/v1/pupils/{}/timeline?type=incident&limit=2", t.pupil);
    let (seen, pages) = read_all(&app, &t.teacher, &path, "events", event_of, |_| async {}).await;
    assert_eq!(seen.len(), 7);
    assert_eq!(pages, 4);
    every_one_once(&seen, &seen);
}

async fn meetings_come_once_each_while_meetings_are_added(engine: Engine) {
    let app = spawn_app(engine).await;
    let t = timeline_school(&app);
    let other = app
        .create_pupil(&t.school, "A123456789013", "Ada", "Brown", 9, "9A")
        .id;
    for n in 0..17 {
        let pupil = if n % 2 == 0 { t.pupil } else { other };
        add_meeting(&app, &t.school, pupil, n % 5, Utc::now());
    }
    let before = everything(&app, &t.slt, "/api/v1/meetings", "meetings").await;
    assert_eq!(before.len(), 17);

    let (seen, pages) = read_all(
        &app,
        &t.slt,
        "/api/v1/meetings?limit=4",
        "meetings",
        id_of,
        |page| {
            add_meeting(&app, &t.school, t.pupil, [-3, 2, 9][page % 3], Utc::now());
            async {}
        },
    )
    .await;
    every_one_once(&seen, &before);
    assert!(pages >= 5);

    // Filtered by pupil and status, the pages keep the filters.
    let (seen, _) = read_all(
        &app,
        &t.slt,
        &format!("/api/v1/meetings?pupil_id={other}&status=due&limit=3"),
        "meetings",
        |m| m["pupil_id"].to_string(),
        |_| async {},
    )
    .await;
    assert_eq!(seen.len(), 8);
    assert!(seen.iter().all(|p| *p == other.to_string()));
}

async fn staff_suggestions_and_contacts_page_and_end_with_null(engine: Engine) {
    let app = spawn_app(engine).await;
    let t = timeline_school(&app);
    for n in 0..5 {
        app.create_staff(
            &t.school,
            &format!("s{n}@north.example"),
            "Sam Same",
            &[Role::ClassStaff],
            None,
        );
    }
    let (staff, pages) = read_all(
        &app,
        &t.slt,
        "/api/v1/staff?limit=2",
        "staff",
        id_of,
        |_| async {},
    )
    .await;
    assert_eq!(staff.len(), 7);
    assert_eq!(pages, 4);
    every_one_once(&staff, &staff);
    let (teachers, _) = read_all(
        &app,
        &t.slt,
        "/api/v1/staff?role=class_staff&limit=2",
        "staff",
        id_of,
        |_| async {},
    )
    .await;
    assert_eq!(teachers.len(), 6);

    for _ in 0..3 {
        log_at(&app, &t.teacher, t.pupil, Utc::now(), "prompt").await;
    }
    let (status, body) = app.api_get("/api/v1/suggestions", &t.slt).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["next"], Value::Null);
    let (suggestions, _) = read_all(
        &app,
        &t.slt,
        "/api/v1/suggestions?limit=1",
        "suggestions",
        id_of,
        |_| async {},
    )
    .await;
    assert_eq!(
        suggestions.len(),
        body["suggestions"].as_array().expect("suggestions").len()
    );

    let (status, body) = app
        .api_get(&format!("/api/v1/pupils/{}/contacts", t.pupil), &t.slt)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["contacts"], json!([]));
    assert_eq!(body["next"], Value::Null);
}

async fn malformed_limits_and_cursors_are_refused_on_every_list(engine: Engine) {
    let app = spawn_app(engine).await;
    let t = timeline_school(&app);
    let lists = [
        "/api/v1/pupils".to_string(),
        "/api/v1/staff".to_string(),
        "/api/v1/suggestions".to_string(),
        "/api/v1/meetings".to_string(),
        format!("/api/v1/pupils/{}/timeline", t.pupil),
        format!("/api/v1/pupils/{}/contacts", t.pupil),
    ];
    for list in &lists {
        for limit in ["0", "501", "-3", "ten", "2.5"] {
            let (status, body) = app.api_get(&format!("{list}?limit={limit}"), &t.slt).await;
            assert_eq!(
                status,
                StatusCode::BAD_REQUEST,
                "{list} limit={limit}: {body}"
            );
            assert_error_shape(&body);
            assert_eq!(body["error"]["field"], "limit", "{list}");
        }
        for cursor in ["nonsense", "AAAA", "%00", "AQ", &"x".repeat(3000)] {
            let (status, body) = app
                .api_get(&format!("{list}?cursor={cursor}"), &t.slt)
                .await;
            assert_eq!(
                status,
                StatusCode::BAD_REQUEST,
                "{list} cursor={cursor}: {body}"
            );
            assert_error_shape(&body);
            assert_eq!(body["error"]["field"], "cursor", "{list}");
        }
        let (status, body) = app.api_get(&format!("{list}?limit=500"), &t.slt).await;
        assert_eq!(status, StatusCode::OK, "{list}: {body}");
        assert_eq!(body["next"], Value::Null, "{list}");
    }
    // A cursor of one list is refused by another, and an altered one by its own.
    for n in 0..3 {
        app.create_pupil(
            &t.school,
            &format!("A12345678902{n}"),
            "Ava",
            "Brown",
            7,
            "7A",
        );
    }
    let (_, body) = app.api_get("/api/v1/pupils?limit=1", &t.slt).await;
    let next = body["next"].as_str().expect("a next page").to_string();
    let cursor = next.split("cursor=").nth(1).expect("a cursor").to_string();
    let (status, body) = app
        .api_get(&format!("/api/v1/staff?cursor={cursor}"), &t.slt)
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"]["field"], "cursor");
    let mut altered: Vec<char> = cursor.chars().collect();
    let middle = altered.len() / 2;
    altered[middle] = if altered[middle] == 'A' { 'B' } else { 'A' };
    let altered: String = altered.into_iter().collect();
    let (status, body) = app
        .api_get(&format!("/api/v1/pupils?limit=1&cursor={altered}"), &t.slt)
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"]["field"], "cursor");
    let (status, _) = app.api_get(&next, &t.slt).await;
    assert_eq!(status, StatusCode::OK);
}

async fn the_openapi_document_describes_paging_on_every_list(engine: Engine) {
    let app = spawn_app(engine).await;
    let (status, doc) = app.api_get("/api/v1/openapi.json", "").await;
    assert_eq!(status, StatusCode::OK);
    for path in [
        "/api/v1/pupils",
        "/api/v1/staff",
        "/api/v1/suggestions",
        "/api/v1/meetings",
        "/api/v1/pupils/{id}/timeline",
        "/api/v1/pupils/{id}/contacts",
        "/api/v1/provision",
    ] {
        let get = &doc["paths"][path]["get"];
        let names: Vec<&str> = get["parameters"]
            .as_array()
            .unwrap_or_else(|| panic!("{path} parameters"))
            .iter()
            .filter_map(|p| p["name"].as_str())
            .collect();
        assert!(
            names.contains(&"limit") && names.contains(&"cursor"),
            "{path}: {names:?}"
        );
        let schema = get["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
            .as_str()
            .unwrap_or_else(|| panic!("{path} schema"));
        let name = schema.rsplit('/').next().expect("a name");
        assert!(
            doc["components"]["schemas"][name]["properties"]
                .get("next")
                .is_some(),
            "{path}: {name}"
        );
    }
}

both_engines!(
    pupils_come_once_each_while_pupils_are_added,
    filters_are_kept_in_next_and_pages_follow_them,
    clients_sending_no_limit_get_the_first_hundred_and_next,
    a_timeline_comes_once_each_while_entries_are_added,
    a_filtered_timeline_pages_too,
    meetings_come_once_each_while_meetings_are_added,
    staff_suggestions_and_contacts_page_and_end_with_null,
    malformed_limits_and_cursors_are_refused_on_every_list,
    the_openapi_document_describes_paging_on_every_list,
);

/// The `href` of the link whose text is `text` on a page, unescaped.
fn link_to(page: &str, text: &str) -> Option<String> {
    let end = page.find(&format!(">{text}</a>"))?;
    let start = page[..end].rfind("href=\"")? + "href=\"".len();
    let href = &page[start..end];
    let href = &href[..href.find('"')?];
    Some(href.replace("&amp;", "&"))
}

async fn the_pupil_page_shows_the_newest_entries_and_links_to_older_ones(engine: Engine) {
    let app = spawn_app(engine).await;
    let t = timeline_school(&app);
    app.create_staff(
        &t.school,
        "head@north.example",
        "Hana Head",
        &[Role::Slt],
        Some(common::PASSWORD),
    );
    let now = Utc::now()
        .duration_trunc(TimeDelta::seconds(1))
        .expect("a time");
    for n in 0..130 {
        log_at(
            &app,
            &t.teacher,
            t.pupil,
            now - TimeDelta::minutes(n / 2),
            "none",
        )
        .await;
    }
    let head = common::signed_in(&app, "head@north.example").await;

    let (status, newest) =
        common::page(&app, &head, &format!("/pupils/{}?type=incident", t.pupil)).await;

    assert_eq!(status, StatusCode::OK);
    assert_eq!(newest.matches("class=\"entry incident").count(), 100);
    let older = link_to(&newest, "Show older entries").expect("a link to older entries");
    assert!(
        older.starts_with(&format!("/pupils/{}?type=incident&cursor=", t.pupil)),
        "{older}"
    );
    assert!(older.ends_with("#timeline"), "{older}");
    // Entries logged meanwhile do not shift the older page.
    log_at(&app, &t.teacher, t.pupil, Utc::now(), "none").await;
    let (status, rest) = common::page(&app, &head, &older).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(rest.matches("class=\"entry incident").count(), 30);
    assert!(link_to(&rest, "Show older entries").is_none());
    let back = link_to(&rest, "Back to the newest").expect("a link back");
    assert_eq!(back, format!("/pupils/{}?type=incident#timeline", t.pupil));
    let ids = |page: &str| -> HashSet<String> {
        page.match_indices("id=\"incident-")
            .map(|(at, _)| page[at..].split('"').nth(1).unwrap_or_default().to_string())
            .collect()
    };
    assert!(ids(&newest).is_disjoint(&ids(&rest)));
    assert_eq!(ids(&newest).len() + ids(&rest).len(), 130);

    // A link whose cursor was altered shows the newest entries, saying so.
    let (status, page) =
        common::page(&app, &head, &format!("/pupils/{}?cursor=AAAA", t.pupil)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(page.contains("no longer works"), "{page}");
    assert!(page.contains("Show older entries"));
}

both_engines!(the_pupil_page_shows_the_newest_entries_and_links_to_older_ones);

async fn the_meetings_page_shows_a_hundred_and_links_to_later_ones(engine: Engine) {
    let app = spawn_app(engine).await;
    let t = timeline_school(&app);
    app.create_staff(
        &t.school,
        "head@north.example",
        "Hana Head",
        &[Role::Slt],
        Some(common::PASSWORD),
    );
    for n in 0..104 {
        add_meeting(&app, &t.school, t.pupil, n % 30, Utc::now());
    }
    let head = common::signed_in(&app, "head@north.example").await;

    let (status, first) = common::page(&app, &head, "/meetings").await;

    assert_eq!(status, StatusCode::OK);
    assert_eq!(first.matches("<li class=\"card\"").count(), 100, "{first}");
    let later = link_to(&first, "Show meetings due later").expect("a link to later meetings");
    add_meeting(&app, &t.school, t.pupil, -5, Utc::now());
    let (status, rest) = common::page(&app, &head, &later).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(rest.matches("<li class=\"card\"").count(), 4, "{rest}");
    assert!(link_to(&rest, "Show meetings due later").is_none());
    assert_eq!(
        link_to(&rest, "Back to the soonest due").as_deref(),
        Some("/meetings")
    );
}

both_engines!(the_meetings_page_shows_a_hundred_and_links_to_later_ones);

async fn the_emails_page_shows_the_newest_and_links_to_older_ones(engine: Engine) {
    use steadfast::db::schema::outbox;
    let app = spawn_app(engine).await;
    let t = timeline_school(&app);
    app.create_staff(
        &t.school,
        "head@north.example",
        "Hana Head",
        &[Role::Slt],
        Some(common::PASSWORD),
    );
    let add_email = |n: usize| {
        let at = to_db_time(Utc::now());
        diesel::insert_into(outbox::table)
            .values((
                outbox::school_id.eq(t.school.id),
                outbox::message_key.eq(format!("paging-{n}")),
                outbox::recipient.eq("someone@north.example"),
                outbox::subject.eq(format!("Email number {n}")),
                outbox::body_text.eq("text"),
                outbox::status.eq("sent"),
                outbox::attempts.eq(1),
                outbox::next_attempt_at.eq(at),
                outbox::created_at.eq(at),
                outbox::topic.eq("test"),
            ))
            .execute(&mut *app.conn())
            .expect("an email");
    };
    for n in 0..203 {
        add_email(n);
    }
    let head = common::signed_in(&app, "head@north.example").await;

    let (status, newest) = common::page(&app, &head, "/admin/outbox?status=sent").await;

    assert_eq!(status, StatusCode::OK);
    assert!(newest.contains("Email number 202<"));
    assert_eq!(newest.matches(">Email number ").count(), 200);
    let older = link_to(&newest, "Show older emails").expect("a link to older emails");
    assert!(
        older.starts_with("/admin/outbox?status=sent&cursor="),
        "{older}"
    );
    add_email(203);
    let (status, rest) = common::page(&app, &head, &older).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(rest.matches(">Email number ").count(), 3, "{rest}");
    assert!(rest.contains("Email number 0<"));
    assert!(link_to(&rest, "Show older emails").is_none());
    assert_eq!(
        link_to(&rest, "Back to the newest").as_deref(),
        Some("/admin/outbox?status=sent")
    );
}

both_engines!(the_emails_page_shows_the_newest_and_links_to_older_ones);
