//! The roll brought in from the MIS: real CSV exports (a SIMS report in UTF-8 with a
//! byte-order mark, an Arbor report in Windows-1252 with semicolons), through the command
//! line and the API: counts, names kept exactly, a whole-roll import marking leavers (kept,
//! read-only, out of lists and logging) and bringing them back, idempotence, and a bad file
//! refused line by line with nothing written.

mod common;

use std::path::PathBuf;

use diesel::prelude::*;
use reqwest::StatusCode;
use serde_json::{json, Value};

use common::{both_engines, Engine, TestApp};
use steadfast::db::schema::{audit_log, pupils};
use steadfast::domain::Role;

/// A fixture file's path.
fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// Runs `steadfast import pupils FIXTURE ...`; answers success, standard output and error.
fn import(app: &TestApp, name: &str, flags: &[&str]) -> (bool, String, String) {
    let path = fixture(name);
    let path = path.to_string_lossy();
    let mut args = vec!["import", "pupils", &*path, "--school", "NORTH"];
    args.extend_from_slice(flags);
    let output = app.cli(&args, "");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// Each pupil's UPN, names, and whether they are marked left, by UPN.
fn roll(app: &TestApp) -> Vec<(String, String, String, bool)> {
    pupils::table
        .order(pupils::upn)
        .select((
            pupils::upn,
            pupils::given_name,
            pupils::family_name,
            pupils::left_on.is_not_null(),
        ))
        .load(&mut *app.conn())
        .expect("reading the roll")
}

async fn a_sims_export_comes_in_whole_and_again_changes_nothing(engine: Engine) {
    let app = common::spawn_app(engine).await;
    app.school_with_admin("NORTH");

    // A dry run says what would happen and writes nothing.
    let (ok, out, err) = import(&app, "sims-pupils.csv", &["--dry-run"]);
    assert!(ok, "{out}{err}");
    assert!(
        out.contains("dry run, nothing written: 6 would be added"),
        "{out}"
    );
    assert_eq!(app.pupil_count(), 0);

    let (ok, out, err) = import(&app, "sims-pupils.csv", &[]);
    assert!(ok, "{out}{err}");
    assert!(
        out.contains("6 added, 0 changed, 0 marked left, 0 unchanged"),
        "{out}"
    );
    let roll = roll(&app);
    assert_eq!(roll.len(), 6);
    let names: Vec<(&str, &str)> = roll
        .iter()
        .map(|(_, given, family, _)| (given.as_str(), family.as_str()))
        .collect();
    assert!(names.contains(&("Siobhán", "O'Connor")), "{names:?}");
    assert!(names.contains(&("Mai", "Nguyễn")), "the preferred forename");
    assert!(names.contains(&("Jürgen", "Müller-Lüdenscheidt")));
    assert!(names.contains(&("Seán", "Ó Súilleabháin")));
    assert!(names.contains(&("Chloë", "D'Arcy")));
    let (year, form, house, sen, born): (i16, String, String, String, Option<chrono::NaiveDate>) = {
        use steadfast::db::schema::{forms, houses, year_groups};
        pupils::table
            .inner_join(year_groups::table)
            .inner_join(forms::table)
            .inner_join(houses::table)
            .filter(pupils::upn.eq("W820200126003"))
            .select((
                year_groups::year,
                forms::name,
                houses::name,
                pupils::sen_status,
                pupils::date_of_birth,
            ))
            .first(&mut *app.conn())
            .expect("the imported pupil")
    };
    assert_eq!(
        (year, form.as_str(), house.as_str(), sen.as_str()),
        (8, "8B", "Brontë", "ehcp")
    );
    assert_eq!(born, chrono::NaiveDate::from_ymd_opt(2013, 11, 30));

    // The same file again changes nothing.
    let (ok, out, _) = import(&app, "sims-pupils.csv", &[]);
    assert!(ok);
    assert!(
        out.contains("0 added, 0 changed, 0 marked left, 6 unchanged"),
        "{out}"
    );
    let audited: i64 = audit_log::table
        .filter(audit_log::action.eq("roster.import"))
        .count()
        .get_result(&mut *app.conn())
        .expect("counting audit entries");
    assert_eq!(audited, 1, "an import that changes nothing writes nothing");
    let details: Vec<String> = audit_log::table
        .select(audit_log::detail)
        .load(&mut *app.conn())
        .expect("reading the audit log");
    assert!(
        details.iter().all(|d| !d.contains("O'Connor")),
        "no names in the audit log"
    );
}

both_engines!(a_sims_export_comes_in_whole_and_again_changes_nothing);

async fn a_whole_roll_in_windows_1252_marks_leavers_and_brings_them_back(engine: Engine) {
    let app = common::spawn_app(engine).await;
    let (school, _, admin_token) = app.school_with_admin("NORTH");
    assert!(import(&app, "sims-pupils.csv", &[]).0);

    let (ok, out, err) = import(&app, "arbor-pupils-1252.csv", &["--full"]);
    assert!(ok, "{out}{err}");
    assert!(
        out.contains("1 added, 1 changed, 1 marked left, 4 unchanged"),
        "{out}"
    );
    assert!(
        out.contains("family_name: \"Nguyễn\" -> \"Nguyen\""),
        "{out}"
    );
    assert!(out.contains("form: \"7A\" -> \"7B\""), "{out}");
    let now = roll(&app);
    assert!(now.contains(&(
        "C820200126007".to_string(),
        "Zoë".to_string(),
        "Françoise".to_string(),
        false
    )));
    assert!(
        now.contains(&(
            "K820200126004".to_string(),
            "Chloë".to_string(),
            "D'Arcy".to_string(),
            true
        )),
        "the leaver is kept, marked left: {now:?}"
    );

    // Out of lists and logging; their own record still readable, shown as left.
    let (status, listed) = app.api_get("/api/v1/pupils?q=Arcy", &admin_token).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(listed["pupils"], json!([]));
    let left_id: i64 = pupils::table
        .filter(pupils::upn.eq("K820200126004"))
        .select(pupils::id)
        .first(&mut *app.conn())
        .expect("the leaver");
    let (status, pupil) = app
        .api_get(&format!("/api/v1/pupils/{left_id}"), &admin_token)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(pupil["left_on"].is_string(), "{pupil}");
    let teacher = app.create_staff(
        &school,
        "t@north.example",
        "Tess Teacher",
        &[Role::ClassStaff],
        Some(common::PASSWORD),
    );
    let teacher_token = app.create_token(&teacher);
    let (status, refused) = app
        .api_post(
            "/api/v1/incidents",
            &teacher_token,
            &json!({"pupil_ids": [left_id], "behaviour": "Off task"}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{refused}");
    assert_eq!(refused["error"]["field"], "pupil_ids");
    let client = common::page_client();
    app.login(&client, "t@north.example", common::PASSWORD)
        .await;
    let page = app
        .get_page(&client, &format!("/pupils/{left_id}"))
        .await
        .text()
        .await
        .expect("the pupil page");
    assert!(page.contains("Left the school on"), "{page}");

    // The whole roll again changes nothing; the first roll brings the leaver back.
    let (_, out, _) = import(&app, "arbor-pupils-1252.csv", &["--full"]);
    assert!(
        out.contains("0 added, 0 changed, 0 marked left, 6 unchanged"),
        "{out}"
    );
    let (ok, out, _) = import(&app, "sims-pupils.csv", &["--full"]);
    assert!(ok);
    assert!(out.contains("restored  K820200126004"), "{out}");
    assert!(
        out.contains("1 marked left"),
        "the new pupil is not in it: {out}"
    );
    let back: bool = pupils::table
        .filter(pupils::upn.eq("K820200126004"))
        .select(pupils::left_on.is_not_null())
        .first(&mut *app.conn())
        .expect("the pupil");
    assert!(!back, "back on roll");
}

both_engines!(a_whole_roll_in_windows_1252_marks_leavers_and_brings_them_back);

async fn a_bad_file_names_every_problem_and_writes_nothing(engine: Engine) {
    let app = common::spawn_app(engine).await;
    let (_, _, token) = app.school_with_admin("NORTH");
    let (ok, out, err) = import(&app, "sims-pupils-bad.csv", &[]);
    assert!(!ok, "{out}");
    assert_eq!(app.pupil_count(), 0, "nothing written");
    for expected in [
        "line 4, column UPN: the UPN A820200126099 has the check letter A, but its digits give Y",
        "line 9, column UPN: the UPN T820200126001 is also on line 2",
        "line 10, column Legal Surname: the surname is missing",
        "line 10, column Year: \"Year 17\" is not a year group",
        "line 10, column SEN Status: \"Q\" is not an SEN status",
        "line 10, column DOB: \"31/02/2014\" is not a date",
        "6 problem(s) in the file: nothing was written",
    ] {
        assert!(err.contains(expected), "{expected:?} not in:\n{err}");
    }

    // The same through the API: 422, the error shape, each problem with line and column.
    let bytes = std::fs::read(fixture("sims-pupils-bad.csv")).expect("the fixture");
    let response = reqwest::Client::new()
        .post(app.url("/api/v1/imports/pupils"))
        .bearer_auth(&token)
        .header("Content-Type", "text/csv")
        .body(bytes)
        .send()
        .await
        .expect("an answer");
    let (status, body) = common::json_of(response).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    common::assert_error_shape(&body);
    assert_eq!(body["errors"].as_array().map(Vec::len), Some(6), "{body}");
    assert_eq!(body["errors"][0]["line"], 4);
    assert_eq!(body["errors"][0]["column"], "UPN");
    assert_eq!(app.pupil_count(), 0);
}

both_engines!(a_bad_file_names_every_problem_and_writes_nothing);

async fn the_api_previews_then_imports_for_administrators_only(engine: Engine) {
    let app = common::spawn_app(engine).await;
    let (school, _, token) = app.school_with_admin("NORTH");
    let bytes = std::fs::read(fixture("arbor-pupils-1252.csv")).expect("the fixture");
    let post = |query: &str, token: &str| {
        reqwest::Client::new()
            .post(app.url(&format!("/api/v1/imports/pupils{query}")))
            .bearer_auth(token)
            .body(bytes.clone())
            .send()
    };

    let (status, preview) =
        common::json_of(post("?dry_run=true", &token).await.expect("answer")).await;
    assert_eq!(status, StatusCode::OK, "{preview}");
    assert_eq!(preview["added"], 6);
    assert_eq!(preview["applied"], false);
    assert_eq!(preview["details"][0]["action"], "added");
    assert_eq!(app.pupil_count(), 0);

    let (status, done) = common::json_of(post("", &token).await.expect("answer")).await;
    assert_eq!(status, StatusCode::OK, "{done}");
    assert_eq!(
        (&done["added"], &done["unchanged"], &done["applied"]),
        (&json!(6), &json!(0), &json!(true))
    );
    let zoe: Value = app.api_get("/api/v1/pupils?q=Zo%C3%AB", &token).await.1["pupils"][0].clone();
    assert_eq!(zoe["family_name"], "Françoise", "Windows-1252 read exactly");

    let (status, again) = common::json_of(post("?full=true", &token).await.expect("answer")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (&again["added"], &again["unchanged"]),
        (&json!(0), &json!(6))
    );

    let (status, bad) =
        common::json_of(post("?dry_run=maybe", &token).await.expect("answer")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(bad["error"]["field"], "dry_run");

    let teacher = app.create_staff(
        &school,
        "t@north.example",
        "Tess",
        &[Role::ClassStaff],
        None,
    );
    let teacher_token = app.create_token(&teacher);
    let (status, _) = common::json_of(post("", &teacher_token).await.expect("answer")).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

both_engines!(the_api_previews_then_imports_for_administrators_only);

async fn the_import_page_previews_maps_columns_and_applies(engine: Engine) {
    let app = common::spawn_app(engine).await;
    let school = app.create_school("NORTH", "North Academy");
    app.create_staff(
        &school,
        "admin@north.example",
        "Ada Admin",
        &[Role::Admin],
        Some(common::PASSWORD),
    );
    let client = common::page_client();
    app.login(&client, "admin@north.example", common::PASSWORD)
        .await;

    // The preview writes nothing and lists each pupil; applying writes them all.
    let bytes = std::fs::read(fixture("sims-pupils.csv")).expect("the fixture");
    let (status, preview) = common::upload_import(&app, &client, "pupils", bytes, &[]).await;
    assert_eq!(status, StatusCode::OK, "{preview}");
    assert!(preview.contains("6 would be added"), "{preview}");
    assert!(preview.contains("O&#39;Connor") || preview.contains("O'Connor"));
    assert_eq!(app.pupil_count(), 0);
    let (status, done) = common::submit_import(&app, &client, &preview, "apply", &[]).await;
    assert_eq!(status, StatusCode::OK, "{done}");
    assert!(done.contains("6 added, 0 changed"), "{done}");
    assert_eq!(app.pupil_count(), 6);

    // Headers the page does not know: problems at line 1, then mapped by hand.
    let text = "UPN,Surname,Forename,Yr,Tutor Set\nC820200126007,Françoise,Zoë,7,7B\n";
    let (status, preview) =
        common::upload_import(&app, &client, "pupils", text.as_bytes().to_vec(), &[]).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{preview}");
    assert!(preview.contains("no column for Year"), "{preview}");
    assert!(!preview.contains(r#"value="apply""#), "nothing to apply");
    let (status, preview) = common::submit_import(
        &app,
        &client,
        &preview,
        "preview",
        &[
            ("header0", "Yr"),
            ("column0", "year"),
            ("header1", "Tutor Set"),
            ("column1", "form"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{preview}");
    assert!(preview.contains("1 would be added"), "{preview}");
    let (status, done) = common::submit_import(
        &app,
        &client,
        &preview,
        "apply",
        &[
            ("header0", "Yr"),
            ("column0", "year"),
            ("header1", "Tutor Set"),
            ("column1", "form"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{done}");
    assert_eq!(app.pupil_count(), 7);

    // A form without the session's token is refused, and so is a member of staff.
    let forged = client
        .post(app.url("/admin/import"))
        .form(&[("kind", "pupils"), ("file", "eA=="), ("step", "apply")])
        .send()
        .await
        .expect("an answer");
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    app.create_staff(
        &school,
        "t@north.example",
        "Tess Teacher",
        &[Role::ClassStaff],
        Some(common::PASSWORD),
    );
    let teacher = common::page_client();
    app.login(&teacher, "t@north.example", common::PASSWORD)
        .await;
    let refused = app.get_page(&teacher, "/admin/import").await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
}

both_engines!(the_import_page_previews_maps_columns_and_applies);
