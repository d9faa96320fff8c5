//! The school calendar end to end on both engines: a county council's term-dates file
//! imported from the command line (a dry run writes nothing, names with accents and
//! apostrophes are kept, term starts and timed events are skipped, a second import changes
//! nothing, school days then skip the imported half term); a bad event named by line and
//! property with nothing written; the import API (200 with the due dates moved, a dry run,
//! 403, 400 and 422); the calendar page adding, editing and removing closures with a problem
//! shown at its field; and a closure added on a meeting's due day moving it.

mod common;

use chrono::NaiveDate;
use diesel::prelude::*;
use reqwest::StatusCode;
use serde_json::{json, Value};

use common::{
    assert_error_shape, both_engines, csrf_token_in, json_of, location, page_client, spawn_app,
    Engine, Role, TestApp, PASSWORD,
};
use steadfast::db::models::School;
use steadfast::db::schema::{audit_log, meetings, school_closures};
use steadfast::db::schools;
use steadfast::domain::calendar::SchoolCalendar;

/// The term dates Northshire County Council publishes for 2026 to 2027 (CRLF, folded lines).
const TERM_DATES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/term-dates.ics");

const ADMIN: &str = "admin@north.example";

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("a date")
}

fn closure_count(app: &TestApp) -> i64 {
    school_closures::table
        .count()
        .get_result(&mut *app.conn())
        .expect("counting closures")
}

fn audit_count(app: &TestApp) -> i64 {
    audit_log::table
        .count()
        .get_result(&mut *app.conn())
        .expect("counting audit entries")
}

fn closure_names(app: &TestApp) -> Vec<String> {
    school_closures::table
        .order(school_closures::starts_on)
        .select(school_closures::name)
        .load(&mut *app.conn())
        .expect("reading closures")
}

fn due_on(app: &TestApp, meeting: i64) -> NaiveDate {
    meetings::table
        .find(meeting)
        .select(meetings::due_on)
        .first(&mut *app.conn())
        .expect("a meeting")
}

/// The school NORTH with an administrator who can sign in, a Head of Year 9 and a class
/// teacher with tokens, and one Year 9 pupil.
struct Scene {
    app: TestApp,
    school: School,
    admin_token: String,
    hoy: String,
    teacher: String,
    pupil: i64,
}

impl Scene {
    async fn new(engine: Engine) -> Scene {
        let app = spawn_app(engine).await;
        let school = app.create_school("NORTH", "North Park School");
        let admin = app.create_staff(&school, ADMIN, "Ada Admin", &[Role::Admin], Some(PASSWORD));
        let admin_token = app.create_token(&admin);
        let hoy = app.create_staff_leading(
            &school,
            "hoy9@north.example",
            "Hal Head",
            &[Role::PastoralLead],
            &[9],
            None,
        );
        let hoy = app.create_token(&hoy);
        let (teacher, pupils) = app.teacher_and_pupils(&school, 1);
        Scene {
            app,
            school,
            admin_token,
            hoy,
            teacher,
            pupil: pupils[0],
        }
    }

    /// Three prompts and a serious incident, each step accepted by the Head of Year: the
    /// pupil's Coaching Time meeting is due. Answers its id and due date.
    async fn meeting_due(&self) -> (i64, NaiveDate) {
        let app = &self.app;
        let mut last = Value::Null;
        for _ in 0..3 {
            let prompt = json!({"pupil_ids": [self.pupil], "behaviour": "Off task"});
            last = app
                .api_post("/api/v1/incidents", &self.teacher, &prompt)
                .await
                .1;
        }
        let id = last["suggestions"][0]["id"].as_i64().expect("a suggestion");
        let accept = format!("/api/v1/suggestions/{id}/accept");
        let (status, body) = app.api_post(&accept, &self.hoy, &json!({})).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let serious = json!({"pupil_ids": [self.pupil], "behaviour": "Physical aggression", "severity": "serious"});
        let (_, logged) = app
            .api_post("/api/v1/incidents", &self.teacher, &serious)
            .await;
        let id = logged["suggestions"][0]["id"]
            .as_i64()
            .expect("a Coaching Time suggestion");
        let accept = format!("/api/v1/suggestions/{id}/accept");
        let (status, body) = app.api_post(&accept, &self.hoy, &json!({})).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let meeting = &body["meeting"];
        let due = meeting["due_on"].as_str().expect("a due date");
        (
            meeting["id"].as_i64().expect("a meeting id"),
            due.parse().expect("a date"),
        )
    }

    /// Posts a term-dates file to the import API.
    async fn post_ics(&self, query: &str, token: &str, ics: String) -> (StatusCode, Value) {
        let response = reqwest::Client::new()
            .post(self.app.url(&format!("/api/v1/imports/calendar{query}")))
            .bearer_auth(token)
            .header("content-type", "text/calendar")
            .body(ics)
            .send()
            .await
            .expect("the import to be answered");
        json_of(response).await
    }
}

/// A calendar of one whole-day event on `day`.
fn one_day_ics(day: NaiveDate, summary: &str) -> String {
    format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//North Park School//EN\r\nBEGIN:VEVENT\r\n\
         UID:{day}@north.example\r\nDTSTART;VALUE=DATE:{}\r\nSUMMARY:{summary}\r\nEND:VEVENT\r\n\
         END:VCALENDAR\r\n",
        day.format("%Y%m%d")
    )
}

fn text_of(output: &std::process::Output) -> (String, String) {
    (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

async fn a_county_file_is_imported_once_and_school_days_skip_its_half_term(engine: Engine) {
    let scene = Scene::new(engine).await;
    let app = &scene.app;
    let import = |extra: &[&str]| {
        let mut args = vec!["import", "calendar", TERM_DATES, "--school", "NORTH"];
        args.extend_from_slice(extra);
        app.cli(&args, "")
    };

    let dry = import(&["--dry-run"]);
    let (out, err) = text_of(&dry);
    assert!(dry.status.success(), "{out}\n{err}");
    assert!(
        out.contains("dry run, nothing written: 10 would be added, 0 would be changed"),
        "{out}"
    );
    assert_eq!(closure_count(app), 0, "a dry run writes nothing");

    let first = import(&[]);
    let (out, err) = text_of(&first);
    assert!(first.status.success(), "{out}\n{err}");
    assert!(
        out.contains("10 added, 0 changed, 0 marked left, 0 unchanged, 4 skipped"),
        "{out}"
    );
    assert!(
        out.contains("2026-10-26/2026-10-30 October half term (schools closed to pupils, staff and families) (holiday) (line 43)"),
        "{out}"
    );
    for skipped in [
        "line 35: \"Autumn term starts\"",
        "line 55: \"Year 11 parents' evening\": it is a timed event",
        "line 78: \"Staff briefing\": it repeats (RRULE)",
        "line 125: \"Last day of summer term\"",
    ] {
        assert!(out.contains(skipped), "{skipped} in {out}");
    }
    assert_eq!(closure_count(app), 10);
    let names = closure_names(app);
    assert!(
        names.contains(&"INSET day – St Thérèse's staff training".to_string()),
        "{names:?}"
    );

    // The same file again changes nothing.
    let audited = audit_count(app);
    let again = import(&[]);
    let (out, err) = text_of(&again);
    assert!(again.status.success(), "{out}\n{err}");
    assert!(
        out.contains("0 added, 0 changed, 0 marked left, 10 unchanged, 4 skipped"),
        "{out}"
    );
    assert_eq!(closure_count(app), 10);
    assert_eq!(closure_names(app), names);
    assert_eq!(
        audit_count(app),
        audited,
        "nothing is written the second time"
    );

    // School days now skip the February half term (15 to 19 February 2027).
    let calendar = schools::calendar(&mut app.conn(), scene.school.id).expect("the calendar");
    assert_eq!(
        calendar.add_school_days(date(2027, 2, 12), 1),
        date(2027, 2, 22)
    );
    assert_eq!(
        calendar.school_days_between(date(2027, 2, 12), date(2027, 2, 22)),
        1
    );
    assert!(!calendar.is_school_day(date(2027, 3, 26)), "Good Friday");
    assert!(!calendar.is_school_day(date(2026, 9, 2)), "the INSET day");
    assert!(calendar.is_school_day(date(2026, 9, 3)), "term starts");
}

/// Two half terms, the second ending before it starts (line 11, DTEND).
const BAD_FILE: &str = "BEGIN:VCALENDAR\r\n\
VERSION:2.0\r\n\
PRODID:-//Northshire County Council//EN\r\n\
BEGIN:VEVENT\r\n\
DTSTART;VALUE=DATE:20270215\r\n\
DTEND;VALUE=DATE:20270220\r\n\
SUMMARY:February half term\r\n\
END:VEVENT\r\n\
BEGIN:VEVENT\r\n\
DTSTART;VALUE=DATE:20270531\r\n\
DTEND;VALUE=DATE:20270528\r\n\
SUMMARY:May half term\r\n\
END:VEVENT\r\n\
END:VCALENDAR\r\n";

async fn a_bad_event_is_named_by_line_and_property_and_nothing_is_written(engine: Engine) {
    let scene = Scene::new(engine).await;
    let app = &scene.app;
    let dir = tempfile::tempdir().expect("a folder");
    let path = dir.path().join("term-dates.ics");
    std::fs::write(&path, BAD_FILE).expect("writing the file");
    let audited = audit_count(app);

    let output = app.cli(
        &[
            "import",
            "calendar",
            &path.to_string_lossy(),
            "--school",
            "NORTH",
        ],
        "",
    );
    let (out, err) = text_of(&output);
    assert!(!output.status.success(), "{out}");
    assert!(
        err.contains("line 11, column DTEND: DTEND (20270528) is before DTSTART (20270531)"),
        "{err}"
    );
    assert!(err.contains("nothing was written"), "{err}");
    assert_eq!(closure_count(app), 0, "not even the good event");
    assert_eq!(audit_count(app), audited);

    // The same file through the API: 422 with the problem beside the error shape.
    let (status, body) = scene
        .post_ics("", &scene.admin_token, BAD_FILE.into())
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_error_shape(&body);
    assert_eq!(body["errors"][0]["line"], 11);
    assert_eq!(body["errors"][0]["column"], "DTEND");
    assert_eq!(body["applied"], false);
    assert_eq!(closure_count(app), 0);

    // A school the command does not know.
    let output = app.cli(&["import", "calendar", TERM_DATES, "--school", "SOUTH"], "");
    assert!(!output.status.success());
    assert_eq!(closure_count(app), 0);
}

async fn the_api_imports_term_dates_and_moves_a_due_date(engine: Engine) {
    let scene = Scene::new(engine).await;
    let app = &scene.app;
    let (meeting, due) = scene.meeting_due().await;
    let ics = one_day_ics(due, "Extra bank holiday");
    let next_day = SchoolCalendar::weekdays_only().add_school_days(due, 1);

    let (status, body) = scene
        .post_ics("?dry_run=true", &scene.admin_token, ics.clone())
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["added"], 1);
    assert_eq!(body["applied"], false);
    assert_eq!(body["details"][0]["key"], due.to_string());
    assert_eq!(body["moved"][0]["meeting_id"], meeting);
    assert_eq!(body["moved"][0]["pupil_id"], scene.pupil);
    assert_eq!(body["moved"][0]["from"], due.to_string());
    assert_eq!(body["moved"][0]["to"], next_day.to_string());
    assert_eq!(closure_count(app), 0, "a dry run writes nothing");
    assert_eq!(due_on(app, meeting), due);

    let (status, body) = scene.post_ics("", &scene.admin_token, ics.clone()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["applied"], true);
    assert_eq!(body["moved"][0]["to"], next_day.to_string());
    assert_eq!(closure_count(app), 1);
    assert_eq!(due_on(app, meeting), next_day, "the due date moved");

    let (status, body) = scene.post_ics("", &scene.admin_token, ics.clone()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        (body["added"].clone(), body["unchanged"].clone()),
        (json!(0), json!(1))
    );
    assert!(body.get("moved").is_none(), "{body}");
    assert_eq!(due_on(app, meeting), next_day);

    // A class teacher may not; a pupil import's option is not a calendar's.
    let (status, body) = scene.post_ics("", &scene.teacher, ics.clone()).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_error_shape(&body);
    let (status, body) = scene
        .post_ics("?full=true", &scene.admin_token, ics.clone())
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_error_shape(&body);
    let (status, body) = scene
        .post_ics("?dry_run=maybe", &scene.admin_token, ics)
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"]["field"], "dry_run");

    // The OpenAPI document lists the route.
    let (_, doc) = app
        .api_get("/api/v1/openapi.json", &scene.admin_token)
        .await;
    assert!(doc["paths"]["/api/v1/imports/calendar"]["post"].is_object());
}

/// Signs the administrator in and answers the page client and a CSRF token.
async fn signed_in(app: &TestApp) -> (reqwest::Client, String) {
    let client = page_client();
    let response = app.login(&client, ADMIN, PASSWORD).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let page = app.get_page(&client, "/admin/calendar").await;
    assert_eq!(page.status(), StatusCode::OK);
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
        .expect("the form to be answered")
}

/// The text of the problem shown at `field` (the slot that is not hidden).
fn problem_at(page: &str, field: &str) -> Option<String> {
    let marker = format!(r#"data-error-for="{field}" role="alert">"#);
    let start = page.find(&marker)? + marker.len();
    let end = page[start..].find("</p>")?;
    Some(page[start..start + end].to_string())
}

async fn the_calendar_page_adds_edits_and_removes_closures(engine: Engine) {
    let scene = Scene::new(engine).await;
    let app = &scene.app;
    let (client, csrf) = signed_in(app).await;

    // An end before the start is shown at its field, with what was typed.
    let response = post_form(
        app,
        &client,
        "/admin/calendar",
        &[
            ("csrf_token", &csrf),
            ("name", "Spring half term"),
            ("starts_on", "2027-02-19"),
            ("ends_on", "2027-02-15"),
            ("kind", "holiday"),
        ],
    )
    .await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let page = response.text().await.expect("the page");
    let problem = problem_at(&page, "ends_on").expect("a problem at ends_on");
    assert!(problem.contains("before it starts"), "{problem}");
    assert!(page.contains(r#"value="Spring half term""#));
    assert!(page.contains(r#"value="2027-02-15""#));
    assert_eq!(closure_count(app), 0);

    // Added.
    let response = post_form(
        app,
        &client,
        "/admin/calendar",
        &[
            ("csrf_token", &csrf),
            ("name", "Spring half term"),
            ("starts_on", "2027-02-15"),
            ("ends_on", "2027-02-19"),
            ("kind", "holiday"),
        ],
    )
    .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let after = location(&response);
    assert!(after.starts_with("/admin/calendar?done=added"), "{after}");
    let page = app
        .get_page(&client, &after)
        .await
        .text()
        .await
        .expect("page");
    assert!(page.contains("Closure added. No due date moved."), "{page}");
    assert!(
        page.contains("Mon 15 Feb 2027 to Fri 19 Feb 2027"),
        "{page}"
    );
    let id: i64 = school_closures::table
        .select(school_closures::id)
        .first(&mut *app.conn())
        .expect("the closure");

    // The same dates and kind again: refused at the first day.
    let response = post_form(
        app,
        &client,
        "/admin/calendar",
        &[
            ("csrf_token", &csrf),
            ("name", "Half term"),
            ("starts_on", "2027-02-15"),
            ("ends_on", "2027-02-19"),
            ("kind", "holiday"),
        ],
    )
    .await;
    assert_eq!(response.status(), StatusCode::CONFLICT);
    let page = response.text().await.expect("the page");
    assert!(problem_at(&page, "starts_on").is_some_and(|p| p.contains("already")));
    assert_eq!(closure_count(app), 1);

    // Edited: a name with an apostrophe and an accent, one day longer, an INSET day.
    let edit = format!("/admin/calendar/{id}");
    let response = post_form(
        app,
        &client,
        &edit,
        &[
            ("csrf_token", &csrf),
            ("name", "Staff training – St Thérèse's"),
            ("starts_on", "2027-02-15"),
            ("ends_on", "2027-02-22"),
            ("kind", "inset"),
        ],
    )
    .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert!(location(&response).starts_with("/admin/calendar?done=saved"));
    assert_eq!(closure_names(app), vec!["Staff training – St Thérèse's"]);
    let calendar = schools::calendar(&mut app.conn(), scene.school.id).expect("calendar");
    assert!(!calendar.is_school_day(date(2027, 2, 22)));

    // A blank name on edit: the problem at the name, the stored closure unchanged.
    let response = post_form(
        app,
        &client,
        &edit,
        &[
            ("csrf_token", &csrf),
            ("name", "  "),
            ("starts_on", "2027-02-15"),
            ("ends_on", "2027-02-22"),
            ("kind", "inset"),
        ],
    )
    .await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let page = response.text().await.expect("the page");
    assert!(problem_at(&page, "name").is_some());
    assert_eq!(closure_names(app), vec!["Staff training – St Thérèse's"]);

    // Removed.
    let response = post_form(
        app,
        &client,
        &format!("/admin/calendar/{id}/remove"),
        &[("csrf_token", &csrf)],
    )
    .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert!(location(&response).starts_with("/admin/calendar?done=removed"));
    assert_eq!(closure_count(app), 0);

    // Without the CSRF token nothing happens; a class teacher may not see the page.
    let response = post_form(
        app,
        &client,
        "/admin/calendar",
        &[
            ("name", "Snow day"),
            ("starts_on", "2027-01-12"),
            ("kind", "holiday"),
        ],
    )
    .await;
    assert!(response.status().is_client_error());
    assert_eq!(closure_count(app), 0);
    let teacher = page_client();
    app.create_staff(
        &scene.school,
        "ct@north.example",
        "Cal Teacher",
        &[Role::ClassStaff],
        Some(PASSWORD),
    );
    app.login(&teacher, "ct@north.example", PASSWORD).await;
    let page = app.get_page(&teacher, "/admin/calendar").await;
    assert_eq!(page.status(), StatusCode::FORBIDDEN);
}

async fn a_closure_on_a_due_day_moves_the_meeting_and_says_so(engine: Engine) {
    let scene = Scene::new(engine).await;
    let app = &scene.app;
    let (meeting, due) = scene.meeting_due().await;
    let (client, csrf) = signed_in(app).await;
    let next_day = SchoolCalendar::weekdays_only().add_school_days(due, 1);
    let audited_before = audit_count(app);

    let response = post_form(
        app,
        &client,
        "/admin/calendar",
        &[
            ("csrf_token", &csrf),
            ("name", "Snow day"),
            ("starts_on", &due.to_string()),
            ("ends_on", ""),
            ("kind", "holiday"),
        ],
    )
    .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        due_on(app, meeting),
        next_day,
        "moved to the next school day"
    );
    let page = app
        .get_page(&client, &location(&response))
        .await
        .text()
        .await
        .expect("the page");
    let said = format!(
        "Coaching Time meeting for Sam Okafor0</a>: due {} → {}",
        due.format("%a %-d %b %Y"),
        next_day.format("%a %-d %b %Y")
    );
    assert!(page.contains("1 due date moved:"), "{page}");
    assert!(page.contains(&said), "{said} in {page}");

    // The audit entry names the meeting and the pupil by id, never by name.
    assert_eq!(audit_count(app), audited_before + 1);
    let detail: String = audit_log::table
        .filter(audit_log::action.eq("calendar.add"))
        .select(audit_log::detail)
        .first(&mut *app.conn())
        .expect("the audit entry");
    assert!(
        detail.contains(&format!("meeting {meeting} (pupil {})", scene.pupil)),
        "{detail}"
    );
    assert!(
        !detail.contains("Okafor") && !detail.contains("Snow"),
        "{detail}"
    );

    // Taking the closure away moves it back.
    let id: i64 = school_closures::table
        .select(school_closures::id)
        .first(&mut *app.conn())
        .expect("the closure");
    let response = post_form(
        app,
        &client,
        &format!("/admin/calendar/{id}/remove"),
        &[("csrf_token", &csrf)],
    )
    .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(due_on(app, meeting), due);
}

both_engines!(
    a_county_file_is_imported_once_and_school_days_skip_its_half_term,
    a_bad_event_is_named_by_line_and_property_and_nothing_is_written,
    the_api_imports_term_dates_and_moves_a_due_date,
    the_calendar_page_adds_edits_and_removes_closures,
    a_closure_on_a_due_day_moves_the_meeting_and_says_so,
);
