//! The JSON API over HTTP: health, the OpenAPI document, tokens, pupils and staff, school
//! isolation and the error shape. Every test runs on SQLite and on PostgreSQL.

mod common;

use common::{assert_error_shape, both_engines, spawn_app, Engine, Role};
use reqwest::StatusCode;
use serde_json::{json, Value};

/// A well-formed pupil body for `POST /api/v1/pupils`.
fn new_pupil() -> Value {
    json!({
        "upn": "A123456789012",
        "given_name": "Amira",
        "family_name": "Okafor",
        "year": 8,
        "form": "8B",
        "sen_status": "sen_support",
    })
}

/// The ids in a `{"pupils":[...]}` answer.
fn pupil_ids(body: &Value) -> Vec<i64> {
    body["pupils"]
        .as_array()
        .unwrap_or_else(|| panic!("no pupils list in {body}"))
        .iter()
        .map(|p| p["id"].as_i64().expect("a pupil id"))
        .collect()
}

/// The emails in a `{"staff":[...]}` answer.
fn staff_emails(body: &Value) -> Vec<String> {
    body["staff"]
        .as_array()
        .unwrap_or_else(|| panic!("no staff list in {body}"))
        .iter()
        .map(|s| s["email"].as_str().expect("an email").to_string())
        .collect()
}

async fn health_reports_ok_and_the_engine(engine: Engine) {
    let app = spawn_app(engine).await;

    let response = reqwest::get(app.url("/health")).await.expect("an answer");

    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.expect("a JSON body");
    assert_eq!(body, json!({"status": "ok", "database": engine.as_str()}));
}

async fn openapi_document_lists_the_routes(engine: Engine) {
    let app = spawn_app(engine).await;

    let response = reqwest::get(app.url("/api/v1/openapi.json"))
        .await
        .expect("an answer");

    assert_eq!(response.status(), StatusCode::OK);
    let doc: Value = response.json().await.expect("a JSON body");
    assert!(
        doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.")),
        "not OpenAPI 3: {}",
        doc["openapi"]
    );
    for path in ["/api/v1/staff", "/api/v1/pupils", "/api/v1/pupils/{id}"] {
        assert!(doc["paths"].get(path).is_some(), "{path} missing");
    }
    assert!(doc["paths"]["/api/v1/pupils"].get("post").is_some());
}

/// Every data route of `/api/v1` as (method, path); ids name a pupil that exists.
fn data_routes(pupil_id: i64) -> Vec<(reqwest::Method, String)> {
    vec![
        (reqwest::Method::GET, "/api/v1/staff".into()),
        (reqwest::Method::GET, "/api/v1/pupils".into()),
        (reqwest::Method::POST, "/api/v1/pupils".into()),
        (reqwest::Method::GET, format!("/api/v1/pupils/{pupil_id}")),
        (
            reqwest::Method::GET,
            format!("/api/v1/pupils/{pupil_id}/export"),
        ),
    ]
}

/// Calls every data route with `authorization` (or none) and checks each answers 401 in
/// the error shape, and that no pupil was added.
async fn assert_every_route_refuses(engine: Engine, authorization: Option<&str>) {
    let app = spawn_app(engine).await;
    let (school, _, _) = app.school_with_admin("NORTH");
    let pupil = app.create_pupil(&school, "B123456789012", "Ben", "Ash", 7, "7A");
    let client = reqwest::Client::new();

    for (method, path) in data_routes(pupil.id) {
        let mut request = client.request(method.clone(), app.url(&path));
        if let Some(value) = authorization {
            request = request.header(reqwest::header::AUTHORIZATION, value);
        }
        if method == reqwest::Method::POST {
            request = request.json(&new_pupil());
        }
        let (status, body) = common::json_of(request.send().await.expect("an answer")).await;

        assert_eq!(status, StatusCode::UNAUTHORIZED, "{method} {path}: {body}");
        assert_error_shape(&body);
        assert_eq!(body["error"]["code"], "unauthenticated", "{method} {path}");
    }
    assert_eq!(app.pupil_count(), 1, "a refused request added a pupil");
}

async fn data_routes_refuse_a_missing_token(engine: Engine) {
    assert_every_route_refuses(engine, None).await;
}

async fn data_routes_refuse_a_wrong_token(engine: Engine) {
    let unknown = steadfast::accounts::new_api_token().secret;
    assert_every_route_refuses(engine, Some(&format!("Bearer {unknown}"))).await;
}

async fn data_routes_refuse_a_token_not_sent_as_bearer(engine: Engine) {
    assert_every_route_refuses(engine, Some("Basic YWRtaW46cGFzc3dvcmQ=")).await;
}

async fn admin_adds_a_pupil_at_no_level(engine: Engine) {
    let app = spawn_app(engine).await;
    let (_, _, token) = app.school_with_admin("NORTH");

    let (status, pupil) = app.api_post("/api/v1/pupils", &token, &new_pupil()).await;

    assert_eq!(status, StatusCode::CREATED, "{pupil}");
    assert!(pupil["id"].as_i64().is_some(), "no id in {pupil}");
    assert_eq!(pupil["upn"], "A123456789012");
    assert_eq!(pupil["given_name"], "Amira");
    assert_eq!(pupil["family_name"], "Okafor");
    assert_eq!(pupil["year"], 8);
    assert_eq!(pupil["form"], "8B");
    assert_eq!(pupil["sen_status"], "sen_support");
    assert_eq!(pupil["level"]["current"], 0);
    assert_eq!(pupil["level"]["name"], "none");
    let since = pupil["level"]["since"].as_str().expect("level.since");
    chrono::DateTime::parse_from_rfc3339(since)
        .unwrap_or_else(|e| panic!("level.since {since:?} is not RFC 3339: {e}"));
    assert_eq!(app.pupil_count(), 1);
}

async fn an_added_pupil_reads_back_by_id(engine: Engine) {
    let app = spawn_app(engine).await;
    let (_, _, token) = app.school_with_admin("NORTH");
    let (_, created) = app.api_post("/api/v1/pupils", &token, &new_pupil()).await;
    let id = created["id"].as_i64().expect("an id");

    let (status, read) = app.api_get(&format!("/api/v1/pupils/{id}"), &token).await;

    assert_eq!(status, StatusCode::OK, "{read}");
    assert_eq!(read, created);
}

async fn an_unknown_pupil_id_is_not_found(engine: Engine) {
    let app = spawn_app(engine).await;
    let (_, _, token) = app.school_with_admin("NORTH");

    for path in ["/api/v1/pupils/999999", "/api/v1/pupils/abc"] {
        let (status, body) = app.api_get(path, &token).await;

        assert_eq!(status, StatusCode::NOT_FOUND, "{path}: {body}");
        assert_error_shape(&body);
    }
}

/// A school with four pupils across two years and three forms, for searches.
struct SearchFixture {
    app: common::TestApp,
    token: String,
    okafor: i64,
    mcallister: i64,
    smith_7b: i64,
    smith_8a: i64,
}

async fn search_fixture(engine: Engine) -> SearchFixture {
    let app = spawn_app(engine).await;
    let (school, _, token) = app.school_with_admin("NORTH");
    let okafor = app
        .create_pupil(&school, "A123456789012", "Amira", "Okafor", 7, "7A")
        .id;
    let mcallister = app
        .create_pupil(&school, "C987654321098", "Cal", "McAllister", 7, "7A")
        .id;
    let smith_7b = app
        .create_pupil(&school, "D555555555555", "Dan", "Smith", 7, "7B")
        .id;
    let smith_8a = app
        .create_pupil(&school, "E444444444444", "Eve", "Smith", 8, "8A")
        .id;
    SearchFixture {
        app,
        token,
        okafor,
        mcallister,
        smith_7b,
        smith_8a,
    }
}

impl SearchFixture {
    async fn found(&self, query: &str) -> Vec<i64> {
        let path = format!("/api/v1/pupils{query}");
        let (status, body) = self.app.api_get(&path, &self.token).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
        let mut ids = pupil_ids(&body);
        ids.sort_unstable();
        ids
    }
}

fn sorted(mut ids: Vec<i64>) -> Vec<i64> {
    ids.sort_unstable();
    ids
}

async fn pupils_are_found_by_part_of_a_name_in_any_case(engine: Engine) {
    let f = search_fixture(engine).await;

    assert_eq!(f.found("?q=ALLIS").await, vec![f.mcallister]);
    assert_eq!(f.found("?q=mcall").await, vec![f.mcallister]);
    assert_eq!(f.found("?q=aMiR").await, vec![f.okafor]);
    assert_eq!(
        f.found("?q=smith").await,
        sorted(vec![f.smith_7b, f.smith_8a])
    );
    assert_eq!(f.found("?q=eve%20smith").await, vec![f.smith_8a]);
    assert_eq!(f.found("?q=nobody").await, Vec::<i64>::new());
}

async fn pupils_are_found_by_part_of_a_upn(engine: Engine) {
    let f = search_fixture(engine).await;

    assert_eq!(f.found("?q=987654").await, vec![f.mcallister]);
    assert_eq!(f.found("?q=c9876").await, vec![f.mcallister]);
    assert_eq!(f.found("?q=A123456789012").await, vec![f.okafor]);
}

async fn search_wildcards_match_only_themselves(engine: Engine) {
    let f = search_fixture(engine).await;

    assert_eq!(f.found("?q=%25").await, Vec::<i64>::new());
    assert_eq!(f.found("?q=_").await, Vec::<i64>::new());
}

async fn pupils_with_accented_names_are_found_as_written(engine: Engine) {
    let app = spawn_app(engine).await;
    let (school, _, token) = app.school_with_admin("NORTH");
    let emile = app
        .create_pupil(&school, "A123456789012", "Émile", "Łukasiewicz", 7, "7A")
        .id;

    for q in ["%C3%89mile", "%C3%A9mile", "%C5%81ukas", "%C5%82ukas"] {
        let (status, body) = app.api_get(&format!("/api/v1/pupils?q={q}"), &token).await;

        assert_eq!(status, StatusCode::OK);
        assert_eq!(pupil_ids(&body), vec![emile], "q={q}");
    }
}

async fn pupils_are_filtered_by_year_and_form(engine: Engine) {
    let f = search_fixture(engine).await;

    assert_eq!(
        f.found("?year=7").await,
        sorted(vec![f.okafor, f.mcallister, f.smith_7b])
    );
    assert_eq!(f.found("?year=8").await, vec![f.smith_8a]);
    assert_eq!(f.found("?year=9").await, Vec::<i64>::new());
    assert_eq!(
        f.found("?form=7A").await,
        sorted(vec![f.okafor, f.mcallister])
    );
    assert_eq!(f.found("?form=7B").await, vec![f.smith_7b]);
    assert_eq!(f.found("?q=smith&year=7").await, vec![f.smith_7b]);
    assert_eq!(f.found("?q=smith&form=8A").await, vec![f.smith_8a]);
}

async fn pupils_are_listed_by_family_name(engine: Engine) {
    let f = search_fixture(engine).await;

    let (status, body) = f.app.api_get("/api/v1/pupils", &f.token).await;

    assert_eq!(status, StatusCode::OK);
    let families: Vec<&str> = body["pupils"]
        .as_array()
        .expect("pupils")
        .iter()
        .map(|p| p["family_name"].as_str().expect("family_name"))
        .collect();
    assert_eq!(families, ["McAllister", "Okafor", "Smith", "Smith"]);
}

async fn a_malformed_year_filter_is_refused(engine: Engine) {
    let app = spawn_app(engine).await;
    let (_, _, token) = app.school_with_admin("NORTH");

    let (status, body) = app.api_get("/api/v1/pupils?year=abc", &token).await;

    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_error_shape(&body);
    assert_eq!(body["error"]["field"], "year");
}

/// Posts `body` as an admin and checks it is refused with 400 naming `field` (when given),
/// and that no pupil was written.
async fn assert_pupil_refused(engine: Engine, body: Value, field: Option<&str>) {
    let app = spawn_app(engine).await;
    let (_, _, token) = app.school_with_admin("NORTH");

    let (status, answer) = app.api_post("/api/v1/pupils", &token, &body).await;

    assert_eq!(status, StatusCode::BAD_REQUEST, "{body} -> {answer}");
    assert_error_shape(&answer);
    if let Some(field) = field {
        assert_eq!(answer["error"]["field"], field, "{body} -> {answer}");
    }
    assert_eq!(app.pupil_count(), 0, "a refused pupil was written");
}

fn new_pupil_with(key: &str, value: Value) -> Value {
    let mut body = new_pupil();
    body[key] = value;
    body
}

async fn a_pupil_without_upn_is_refused(engine: Engine) {
    let mut body = new_pupil();
    body.as_object_mut().expect("an object").remove("upn");
    assert_pupil_refused(engine, body, Some("upn")).await;
}

async fn a_pupil_with_a_malformed_upn_is_refused(engine: Engine) {
    let body = new_pupil_with("upn", json!("12345"));
    assert_pupil_refused(engine, body, Some("upn")).await;
}

async fn a_pupil_in_year_20_is_refused(engine: Engine) {
    let body = new_pupil_with("year", json!(20));
    assert_pupil_refused(engine, body, Some("year")).await;
}

async fn a_pupil_with_an_empty_given_name_is_refused(engine: Engine) {
    let body = new_pupil_with("given_name", json!("  "));
    assert_pupil_refused(engine, body, Some("given_name")).await;
}

async fn a_pupil_with_an_unknown_sen_status_is_refused(engine: Engine) {
    let body = new_pupil_with("sen_status", json!("x"));
    assert_pupil_refused(engine, body, Some("sen_status")).await;
}

async fn a_pupil_with_a_year_of_the_wrong_type_is_refused(engine: Engine) {
    let body = new_pupil_with("year", json!("eight"));
    assert_pupil_refused(engine, body, Some("year")).await;
}

async fn a_malformed_json_body_is_refused(engine: Engine) {
    let app = spawn_app(engine).await;
    let (_, _, token) = app.school_with_admin("NORTH");

    let response = reqwest::Client::new()
        .post(app.url("/api/v1/pupils"))
        .bearer_auth(&token)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(r#"{"upn": "A123456789012", "given_name": "#)
        .send()
        .await
        .expect("an answer");
    let (status, body) = common::json_of(response).await;

    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_error_shape(&body);
    assert_eq!(app.pupil_count(), 0);
}

async fn a_duplicate_upn_is_a_conflict(engine: Engine) {
    let app = spawn_app(engine).await;
    let (_, _, token) = app.school_with_admin("NORTH");
    let (first, _) = app.api_post("/api/v1/pupils", &token, &new_pupil()).await;
    assert_eq!(first, StatusCode::CREATED);
    let again = new_pupil_with("upn", json!(" a123456789012 "));

    let (status, body) = app.api_post("/api/v1/pupils", &token, &again).await;

    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_error_shape(&body);
    assert_eq!(body["error"]["field"], "upn");
    assert_eq!(app.pupil_count(), 1);
}

/// The `n`th of a run of distinct, valid pupils, all in form 8B.
fn numbered_pupil(n: usize) -> Value {
    new_pupil_with("upn", json!(format!("A{n:011}1")))
}

async fn concurrent_adds_all_succeed(engine: Engine) {
    let app = spawn_app(engine).await;
    let (_, _, token) = app.school_with_admin("NORTH");
    let bodies = (0..16).map(numbered_pupil).collect();

    let answers = app
        .api_post_concurrently("/api/v1/pupils", &token, bodies)
        .await;

    for (status, body) in &answers {
        assert_eq!(*status, StatusCode::CREATED, "{body}");
    }
    assert_eq!(app.pupil_count(), 16);
}

async fn concurrent_adds_of_one_upn_add_it_once(engine: Engine) {
    let app = spawn_app(engine).await;
    let (_, _, token) = app.school_with_admin("NORTH");
    let bodies = vec![new_pupil(); 16];

    let answers = app
        .api_post_concurrently("/api/v1/pupils", &token, bodies)
        .await;

    for (status, body) in &answers {
        assert!(
            *status == StatusCode::CREATED || *status == StatusCode::CONFLICT,
            "{status}: {body}"
        );
    }
    let created = answers
        .iter()
        .filter(|(status, _)| *status == StatusCode::CREATED)
        .count();
    assert_eq!(created, 1);
    assert_eq!(app.pupil_count(), 1);
}

async fn class_staff_may_not_add_pupils(engine: Engine) {
    let app = spawn_app(engine).await;
    let (school, _, _) = app.school_with_admin("NORTH");
    let teacher = app.create_staff(
        &school,
        "teacher@north.example",
        "Tom Teacher",
        &[Role::ClassStaff],
        None,
    );
    let token = app.create_token(&teacher);

    let (status, body) = app.api_post("/api/v1/pupils", &token, &new_pupil()).await;

    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_error_shape(&body);
    assert_eq!(app.pupil_count(), 0);
}

/// Two schools, each with an admin, a teacher and a pupil.
struct TwoSchools {
    app: common::TestApp,
    token_a: String,
    pupil_a: i64,
    pupil_b: i64,
}

async fn two_schools(engine: Engine) -> TwoSchools {
    let app = spawn_app(engine).await;
    let (a, _, token_a) = app.school_with_admin("NORTH");
    let (b, _, _) = app.school_with_admin("SOUTH");
    app.create_staff(&a, "t@north.example", "Tia", &[Role::ClassStaff], None);
    app.create_staff(&b, "t@south.example", "Sol", &[Role::ClassStaff], None);
    let pupil_a = app
        .create_pupil(&a, "A111111111111", "Ann", "Smith", 7, "7A")
        .id;
    let pupil_b = app
        .create_pupil(&b, "B222222222222", "Bea", "Smith", 7, "7A")
        .id;
    TwoSchools {
        app,
        token_a,
        pupil_a,
        pupil_b,
    }
}

async fn another_schools_pupil_is_not_found(engine: Engine) {
    let s = two_schools(engine).await;

    let (status, body) = s
        .app
        .api_get(&format!("/api/v1/pupils/{}", s.pupil_b), &s.token_a)
        .await;

    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert_error_shape(&body);
    assert!(
        !body.to_string().contains("Bea"),
        "the answer leaks the pupil"
    );
}

async fn pupil_lists_hold_only_the_callers_school(engine: Engine) {
    let s = two_schools(engine).await;

    for query in ["", "?q=smith", "?year=7", "?form=7A", "?q=B222"] {
        let (status, body) = s
            .app
            .api_get(&format!("/api/v1/pupils{query}"), &s.token_a)
            .await;

        assert_eq!(status, StatusCode::OK);
        let expected = if query == "?q=B222" {
            vec![]
        } else {
            vec![s.pupil_a]
        };
        assert_eq!(pupil_ids(&body), expected, "{query}");
    }
}

async fn staff_lists_hold_only_the_callers_school(engine: Engine) {
    let s = two_schools(engine).await;

    let (status, body) = s.app.api_get("/api/v1/staff", &s.token_a).await;

    assert_eq!(status, StatusCode::OK, "{body}");
    let mut emails = staff_emails(&body);
    emails.sort();
    assert_eq!(emails, ["admin@north.example", "t@north.example"]);
}

async fn staff_are_listed_with_their_roles(engine: Engine) {
    let app = spawn_app(engine).await;
    let (school, admin, token) = app.school_with_admin("NORTH");
    let lead = app.create_staff(
        &school,
        "hoy@north.example",
        "Hana Head",
        &[Role::PastoralLead, Role::ClassStaff],
        None,
    );

    let (status, body) = app.api_get("/api/v1/staff", &token).await;

    assert_eq!(status, StatusCode::OK, "{body}");
    let staff = body["staff"].as_array().expect("a staff list");
    assert_eq!(staff.len(), 2);
    let entry = |id: i64| {
        staff
            .iter()
            .find(|s| s["id"] == id)
            .unwrap_or_else(|| panic!("staff {id} missing from {body}"))
    };
    let lead_json = entry(lead.id);
    assert_eq!(lead_json["name"], "Hana Head");
    assert_eq!(lead_json["email"], "hoy@north.example");
    let mut roles: Vec<&str> = lead_json["roles"]
        .as_array()
        .expect("roles")
        .iter()
        .map(|r| r.as_str().expect("a role name"))
        .collect();
    roles.sort_unstable();
    assert_eq!(roles, ["class_staff", "pastoral_lead"]);
    assert_eq!(entry(admin.id)["roles"], json!(["admin"]));
}

async fn staff_are_filtered_by_role(engine: Engine) {
    let app = spawn_app(engine).await;
    let (school, _, token) = app.school_with_admin("NORTH");
    let lead = app.create_staff(
        &school,
        "hoy@north.example",
        "Hana Head",
        &[Role::PastoralLead],
        None,
    );
    app.create_staff(&school, "t@north.example", "Tom", &[Role::ClassStaff], None);

    let (status, body) = app
        .api_get("/api/v1/staff?role=pastoral_lead", &token)
        .await;

    assert_eq!(status, StatusCode::OK, "{body}");
    let ids: Vec<i64> = body["staff"]
        .as_array()
        .expect("a staff list")
        .iter()
        .map(|s| s["id"].as_i64().expect("an id"))
        .collect();
    assert_eq!(ids, [lead.id]);
}

async fn an_unknown_role_filter_is_refused(engine: Engine) {
    let app = spawn_app(engine).await;
    let (_, _, token) = app.school_with_admin("NORTH");

    let (status, body) = app.api_get("/api/v1/staff?role=wizard", &token).await;

    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_error_shape(&body);
    assert_eq!(body["error"]["field"], "role");
}

async fn an_unknown_api_route_is_not_found_as_json(engine: Engine) {
    let app = spawn_app(engine).await;
    let (_, _, token) = app.school_with_admin("NORTH");

    let (status, body) = app.api_get("/api/v1/nothing", &token).await;

    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert_error_shape(&body);
    assert_eq!(body["error"]["code"], "not_found");
}

both_engines!(
    health_reports_ok_and_the_engine,
    openapi_document_lists_the_routes,
    data_routes_refuse_a_missing_token,
    data_routes_refuse_a_wrong_token,
    data_routes_refuse_a_token_not_sent_as_bearer,
    admin_adds_a_pupil_at_no_level,
    an_added_pupil_reads_back_by_id,
    an_unknown_pupil_id_is_not_found,
    pupils_are_found_by_part_of_a_name_in_any_case,
    pupils_are_found_by_part_of_a_upn,
    pupils_with_accented_names_are_found_as_written,
    search_wildcards_match_only_themselves,
    pupils_are_filtered_by_year_and_form,
    pupils_are_listed_by_family_name,
    a_malformed_year_filter_is_refused,
    a_pupil_without_upn_is_refused,
    a_pupil_with_a_malformed_upn_is_refused,
    a_pupil_in_year_20_is_refused,
    a_pupil_with_an_empty_given_name_is_refused,
    a_pupil_with_an_unknown_sen_status_is_refused,
    a_pupil_with_a_year_of_the_wrong_type_is_refused,
    a_malformed_json_body_is_refused,
    a_duplicate_upn_is_a_conflict,
    concurrent_adds_all_succeed,
    concurrent_adds_of_one_upn_add_it_once,
    class_staff_may_not_add_pupils,
    another_schools_pupil_is_not_found,
    pupil_lists_hold_only_the_callers_school,
    staff_lists_hold_only_the_callers_school,
    staff_are_listed_with_their_roles,
    staff_are_filtered_by_role,
    an_unknown_role_filter_is_refused,
    an_unknown_api_route_is_not_found_as_json,
);
