//! A OneRoster 1.2 bundle as a MIS publishes it for School Data Sync (fixture files under
//! `tests/fixtures/oneroster-1.2/`), brought in as a `.zip` (built here from those files)
//! and as a folder: the school created from orgs.csv, its pupils (grade 06 is Year 7, names
//! kept exactly), staff accounts and tutors, the maths set as a teaching group and the
//! holidays between its terms; a dry run writing nothing, a second import changing nothing,
//! a whole-roll import marking a leaver, a bad row named by file, line and column with
//! nothing written, and the API's 200 and 422.

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};

use diesel::prelude::*;
use reqwest::StatusCode;
use serde_json::json;

use common::{both_engines, Engine, TestApp};
use steadfast::db::schema::{
    audit_log, forms, pupils, school_closures, schools, staff, staff_roles, teaching_group_members,
    teaching_group_teachers, teaching_groups, year_groups,
};
use steadfast::domain::Role;

/// The fixture bundle's folder.
fn bundle_folder() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/oneroster-1.2")
}

/// The bundle's files as (name, text), each changed by `edit` (which may drop a file).
fn bundle_files(edit: impl Fn(&str, String) -> Option<String>) -> Vec<(String, String)> {
    let mut files: Vec<(String, String)> = std::fs::read_dir(bundle_folder())
        .expect("the fixture folder")
        .map(|entry| {
            let path = entry.expect("a fixture file").path();
            let name = path
                .file_name()
                .expect("a name")
                .to_string_lossy()
                .into_owned();
            let text = std::fs::read_to_string(&path).expect("a fixture file's text");
            (name, text)
        })
        .filter_map(|(name, text)| edit(&name, text).map(|text| (name, text)))
        .collect();
    files.sort();
    files
}

/// The bundle as its .zip, in a folder as some MIS exports place it.
fn zipped(files: &[(String, String)]) -> Vec<u8> {
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, text) in files {
        writer
            .start_file(
                format!("OneRoster/{name}"),
                zip::write::SimpleFileOptions::default(),
            )
            .expect("a zip entry");
        writer
            .write_all(text.as_bytes())
            .expect("writing the entry");
    }
    writer.finish().expect("the zip").into_inner()
}

/// Writes the files into a new folder (kept while the answer lives).
fn in_folder(files: &[(String, String)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("a folder");
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).expect("writing a file");
    }
    dir
}

/// Writes the bundle's .zip into `dir`; answers its path.
fn zip_file(dir: &Path, files: &[(String, String)]) -> PathBuf {
    let path = dir.join("oneroster.zip");
    std::fs::write(&path, zipped(files)).expect("writing the zip");
    path
}

/// Runs `steadfast import oneroster PATH ...`; answers success, standard output and error.
fn import(app: &TestApp, path: &Path, flags: &[&str]) -> (bool, String, String) {
    import_with(app, path, flags, &[])
}

fn import_with(
    app: &TestApp,
    path: &Path,
    flags: &[&str],
    env: &[(&str, &str)],
) -> (bool, String, String) {
    let path = path.to_string_lossy();
    let mut args = vec!["import", "oneroster", &*path];
    args.extend_from_slice(flags);
    let output = app.cli_with_env(&args, "", env);
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// Everything the import writes, counted: schools, pupils, staff, groups, members, closures.
fn counts(app: &TestApp) -> [i64; 6] {
    let mut conn = app.conn();
    let conn = &mut *conn;
    let counted = [
        schools::table.count().get_result(conn),
        pupils::table.count().get_result(conn),
        staff::table.count().get_result(conn),
        teaching_groups::table.count().get_result(conn),
        teaching_group_members::table.count().get_result(conn),
        school_closures::table.count().get_result(conn),
    ];
    counted.map(|n| n.expect("counting rows"))
}

async fn a_bundle_brings_in_its_school_as_a_zip_and_again_as_a_folder(engine: Engine) {
    let app = common::spawn_app(engine).await;
    let dir = tempfile::tempdir().expect("a folder");
    let zip = zip_file(dir.path(), &bundle_files(|_, text| Some(text)));

    // A dry run says what would happen and writes nothing.
    let (ok, out, err) = import(&app, &zip, &["--dry-run"]);
    assert!(ok, "{out}{err}");
    assert!(
        out.contains("dry run, nothing written: 12 would be added, 0 would be changed, 0 would be marked left, 0 unchanged"),
        "{out}"
    );
    assert_eq!(counts(&app), [0; 6]);

    let (ok, out, err) = import(&app, &zip, &[]);
    assert!(ok, "{out}{err}");
    assert!(
        out.contains("12 added, 0 changed, 0 marked left, 0 unchanged"),
        "{out}"
    );
    assert!(
        out.contains("added     MEADOWBANK Meadowbank Academy (line 3)"),
        "{out}"
    );
    assert!(
        out.contains("added     MEADOWBANK J938402126001 Siobhán O'Connor (line 2)"),
        "{out}"
    );
    assert_eq!(counts(&app), [1, 6, 2, 1, 3, 2]);

    // The school, from orgs.csv.
    let name: String = schools::table
        .filter(schools::code.eq("MEADOWBANK"))
        .select(schools::name)
        .first(&mut *app.conn())
        .expect("the school");
    assert_eq!(name, "Meadowbank Academy");

    // Pupils: names exactly, grade 06 is Year 7, the form their homeroom class.
    let roll: Vec<(String, String, String, i16, String)> = pupils::table
        .inner_join(year_groups::table)
        .inner_join(forms::table)
        .order(pupils::upn)
        .select((
            pupils::upn,
            pupils::given_name,
            pupils::family_name,
            year_groups::year,
            forms::name,
        ))
        .load(&mut *app.conn())
        .expect("the roll");
    let row = |upn: &str, given: &str, family: &str, year: i16, form: &str| {
        (
            upn.to_string(),
            given.to_string(),
            family.to_string(),
            year,
            form.to_string(),
        )
    };
    assert_eq!(
        roll,
        vec![
            row("B938402126004", "Seán", "Ó Súilleabháin", 8, "8B"),
            row("E938402126006", "Zoë", "Françoise", 8, "8B"),
            row("J938402126001", "Siobhán", "O'Connor", 7, "7M"),
            row("M938402126003", "Jürgen", "Müller-Lüdenscheidt", 7, "7M"),
            row("Q938402126005", "Chloë", "D'Arcy", 8, "8B"),
            row("Y938402126002", "Mai", "Nguyễn", 7, "7M"),
        ],
        "UPNs from userIds or identifier; the preferred given name"
    );

    // Staff: accounts without a password, their roles, tutors of their homerooms; the
    // guardian in users.csv is not staff.
    let people: Vec<(String, String, bool)> = staff::table
        .order(staff::email)
        .select((staff::email, staff::name, staff::password_hash.is_null()))
        .load(&mut *app.conn())
        .expect("the staff");
    assert_eq!(
        people,
        vec![
            (
                "e.nibhriain@meadowbank.example".to_string(),
                "Eleanor Ní Bhriain".to_string(),
                true
            ),
            (
                "t.wisniewski@meadowbank.example".to_string(),
                "Tom Wiśniewski".to_string(),
                true
            ),
        ]
    );
    let roles: Vec<(String, String)> = staff_roles::table
        .inner_join(staff::table)
        .order((staff::email, staff_roles::role))
        .select((staff::email, staff_roles::role))
        .load(&mut *app.conn())
        .expect("the roles");
    assert_eq!(
        roles,
        vec![
            (
                "e.nibhriain@meadowbank.example".into(),
                "class_staff".into()
            ),
            ("t.wisniewski@meadowbank.example".into(), "admin".into()),
            (
                "t.wisniewski@meadowbank.example".into(),
                "class_staff".into()
            ),
        ]
    );
    let tutors: Vec<(String, String)> = forms::table
        .inner_join(staff::table)
        .order(forms::name)
        .select((forms::name, staff::email))
        .load(&mut *app.conn())
        .expect("the tutors");
    assert_eq!(
        tutors,
        vec![
            ("7M".into(), "e.nibhriain@meadowbank.example".into()),
            ("8B".into(), "t.wisniewski@meadowbank.example".into()),
        ]
    );

    // The scheduled class, and the holidays between the three terms.
    let group: (String, String, Option<String>, String) = teaching_groups::table
        .select((
            teaching_groups::source_id,
            teaching_groups::name,
            teaching_groups::subject,
            teaching_groups::periods,
        ))
        .first(&mut *app.conn())
        .expect("the teaching group");
    assert_eq!(
        group,
        (
            "cls-7ma1".into(),
            "7 Mathematics Set 1".into(),
            Some("Mathematics".into()),
            "1, 4".into()
        )
    );
    // Its teacher, from enrollments.csv, for the logging page's "teaching now".
    let teachers: Vec<String> = teaching_group_teachers::table
        .inner_join(staff::table)
        .select(staff::email)
        .load(&mut *app.conn())
        .expect("the group's teachers");
    assert_eq!(teachers, vec!["e.nibhriain@meadowbank.example".to_string()]);
    let holidays: Vec<(chrono::NaiveDate, chrono::NaiveDate, String)> = school_closures::table
        .order(school_closures::starts_on)
        .select((
            school_closures::starts_on,
            school_closures::ends_on,
            school_closures::kind,
        ))
        .load(&mut *app.conn())
        .expect("the closures");
    let day = |y, m, d| chrono::NaiveDate::from_ymd_opt(y, m, d).expect("a date");
    assert_eq!(
        holidays,
        vec![
            (day(2026, 12, 19), day(2027, 1, 4), "holiday".to_string()),
            (day(2027, 3, 27), day(2027, 4, 11), "holiday".to_string()),
        ]
    );

    // The same bundle as a folder of CSV files changes nothing.
    let (ok, out, err) = import(&app, &bundle_folder(), &[]);
    assert!(ok, "{out}{err}");
    assert!(
        out.contains("0 added, 0 changed, 0 marked left, 11 unchanged"),
        "{out}"
    );
    assert_eq!(counts(&app), [1, 6, 2, 1, 3, 2]);
    let audited: Vec<String> = audit_log::table
        .select(audit_log::action)
        .load(&mut *app.conn())
        .expect("the audit log");
    assert_eq!(
        audited.len(),
        3,
        "the school, its roll and the rest, once: {audited:?}"
    );
    let details: Vec<String> = audit_log::table
        .select(audit_log::detail)
        .load(&mut *app.conn())
        .expect("the audit log");
    assert!(
        details
            .iter()
            .all(|d| !d.contains("O'Connor") && !d.contains("nibhriain")),
        "no names in the audit log: {details:?}"
    );

    // The grade offset is a setting: with 0, grade 06 is Year 6.
    let (ok, out, err) = import_with(
        &app,
        &bundle_folder(),
        &["--dry-run"],
        &[("STEADFAST_ONEROSTER_GRADE_OFFSET", "0")],
    );
    assert!(ok, "{out}{err}");
    assert!(out.contains("year: \"7\" -> \"6\""), "{out}");
    assert!(out.contains("6 would be changed"), "{out}");
}

both_engines!(a_bundle_brings_in_its_school_as_a_zip_and_again_as_a_folder);

async fn a_whole_roll_bundle_marks_a_removed_pupil_left(engine: Engine) {
    let app = common::spawn_app(engine).await;
    let (ok, out, err) = import(&app, &bundle_folder(), &["--full"]);
    assert!(ok, "{out}{err}");
    assert!(out.contains("12 added"), "{out}");

    // Zoë is no longer in the bundle: users.csv, roles.csv and enrollments.csv.
    let without = bundle_files(|_, text| {
        Some(
            text.lines()
                .filter(|line| !line.contains("stu-1006"))
                .map(|line| format!("{line}\n"))
                .collect(),
        )
    });
    let folder = in_folder(&without);
    let (ok, out, err) = import(&app, folder.path(), &["--full"]);
    assert!(ok, "{out}{err}");
    assert!(
        out.contains("0 added, 0 changed, 1 marked left, 10 unchanged"),
        "{out}"
    );
    assert!(
        out.contains("left      MEADOWBANK E938402126006 Zoë Françoise"),
        "{out}"
    );
    let left: bool = pupils::table
        .filter(pupils::upn.eq("E938402126006"))
        .select(pupils::left_on.is_not_null())
        .first(&mut *app.conn())
        .expect("the leaver");
    assert!(left, "kept, marked left");
    assert_eq!(app.pupil_count(), 6, "never deleted");

    // Again: nothing more; without --full nobody leaves.
    let (_, out, _) = import(&app, folder.path(), &["--full"]);
    assert!(
        out.contains("0 added, 0 changed, 0 marked left, 10 unchanged"),
        "{out}"
    );
    let (_, out, _) = import(&app, &bundle_folder(), &[]);
    assert!(out.contains("restored  MEADOWBANK E938402126006"), "{out}");
}

both_engines!(a_whole_roll_bundle_marks_a_removed_pupil_left);

/// The bundle with a mistyped UPN (line 3) and a grade that is not a OneRoster grade (line 6).
fn bad_bundle() -> Vec<(String, String)> {
    bundle_files(|name, text| {
        Some(match name {
            "users.csv" => text
                .replace("{UPN:Y938402126002}", "{UPN:A938402126002}")
                .replace(",07,,,,,,,org-mb,\nstu-1006", ",Y8,,,,,,,org-mb,\nstu-1006"),
            _ => text,
        })
    })
}

async fn a_bad_row_is_named_by_file_line_and_column_and_nothing_is_written(engine: Engine) {
    let app = common::spawn_app(engine).await;
    let folder = in_folder(&bad_bundle());
    let (ok, out, err) = import(&app, folder.path(), &[]);
    assert!(!ok, "{out}");
    for expected in [
        "line 3, column users.csv: userIds: the UPN A938402126002 has the check letter A, but its digits give Y",
        "line 6, column users.csv: grades: \"Y8\" is not a OneRoster grade",
        "2 problem(s) in the file: nothing was written",
    ] {
        assert!(err.contains(expected), "{expected:?} not in:\n{err}");
    }
    assert_eq!(counts(&app), [0; 6], "not even the school");

    // Over a school already brought in: still nothing written.
    assert!(import(&app, &bundle_folder(), &[]).0);
    let before = counts(&app);
    let zip = zip_file(folder.path(), &bad_bundle());
    let (ok, _, err) = import(&app, &zip, &["--full"]);
    assert!(!ok);
    assert!(err.contains("line 6, column users.csv: grades"), "{err}");
    assert_eq!(counts(&app), before);

    // A file that is not a bundle.
    let not_zip = folder.path().join("users.csv");
    let (ok, _, err) = import(&app, &not_zip, &[]);
    assert!(!ok);
    assert!(err.contains("not a OneRoster bundle"), "{err}");
}

both_engines!(a_bad_row_is_named_by_file_line_and_column_and_nothing_is_written);

async fn the_api_brings_in_the_signed_in_school_and_refuses_a_bad_bundle(engine: Engine) {
    let app = common::spawn_app(engine).await;
    let (_, _, token) = app.school_with_admin("MEADOWBANK");
    let post = |query: &str, token: &str, body: Vec<u8>| {
        reqwest::Client::new()
            .post(app.url(&format!("/api/v1/imports/oneroster{query}")))
            .bearer_auth(token)
            .header("Content-Type", "application/zip")
            .body(body)
            .send()
    };
    let good = zipped(&bundle_files(|_, text| Some(text)));

    // The route is in the OpenAPI document, its body the zip's bytes.
    let doc: serde_json::Value = reqwest::get(app.url("/api/v1/openapi.json"))
        .await
        .expect("an answer")
        .json()
        .await
        .expect("the document");
    let body = &doc["paths"]["/api/v1/imports/oneroster"]["post"]["requestBody"]["content"];
    assert_eq!(
        body["application/octet-stream"]["schema"]["$ref"], "#/components/schemas/BinaryFile",
        "{body}"
    );
    let binary = &doc["components"]["schemas"]["BinaryFile"];
    assert_eq!(
        (&binary["type"], &binary["format"]),
        (&json!("string"), &json!("binary")),
        "{binary}"
    );

    let (status, preview) = common::json_of(
        post("?dry_run=true", &token, good.clone())
            .await
            .expect("answer"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{preview}");
    assert_eq!(
        (&preview["added"], &preview["applied"]),
        (&json!(11), &json!(false)),
        "the school is held already: {preview}"
    );
    assert_eq!(preview["details"][0]["key"], "MEADOWBANK J938402126001");
    assert_eq!(app.pupil_count(), 0);

    let (status, done) = common::json_of(
        post("?full=true", &token, good.clone())
            .await
            .expect("answer"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{done}");
    assert_eq!(
        (&done["added"], &done["left"], &done["applied"]),
        (&json!(11), &json!(0), &json!(true))
    );
    assert_eq!(app.pupil_count(), 6);
    assert_eq!(
        app.staff_count(),
        3,
        "the administrator and the two teachers"
    );

    let (status, again) =
        common::json_of(post("", &token, good.clone()).await.expect("answer")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (&again["added"], &again["changed"], &again["unchanged"]),
        (&json!(0), &json!(0), &json!(11))
    );

    // A bad bundle: 422 in the error shape, each problem by file, line and column.
    let (status, refused) = common::json_of(
        post("", &token, zipped(&bad_bundle()))
            .await
            .expect("answer"),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
    common::assert_error_shape(&refused);
    assert_eq!(
        refused["errors"].as_array().map(Vec::len),
        Some(2),
        "{refused}"
    );
    assert_eq!(refused["errors"][0]["line"], 3);
    assert_eq!(refused["errors"][0]["column"], "users.csv: userIds");
    assert_eq!(refused["errors"][1]["column"], "users.csv: grades");

    // A CSV instead of the zip; another school's administrator; a teacher.
    let (status, refused) = common::json_of(
        post("", &token, b"sourcedId\n".to_vec())
            .await
            .expect("answer"),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused["error"]["message"]
        .as_str()
        .is_some_and(|m| m.contains("not a OneRoster bundle")));
    let (_, _, other) = app.school_with_admin("ELSEWHERE");
    let (status, refused) =
        common::json_of(post("", &other, good.clone()).await.expect("answer")).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(refused["errors"][0]["column"], "orgs.csv: identifier");
    assert_eq!(app.pupil_count(), 6);
    let school = app.create_school("THIRD", "Third School");
    let teacher = app.create_staff(
        &school,
        "t@third.example",
        "Tess",
        &[Role::ClassStaff],
        None,
    );
    let teacher_token = app.create_token(&teacher);
    let (status, _) = common::json_of(post("", &teacher_token, good).await.expect("answer")).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

both_engines!(the_api_brings_in_the_signed_in_school_and_refuses_a_bad_bundle);

async fn the_import_page_offers_and_previews_a_bundle(engine: Engine) {
    let app = common::spawn_app(engine).await;
    let school = app.create_school("MEADOWBANK", "Meadowbank Academy");
    app.create_staff(
        &school,
        "admin@meadowbank.example",
        "Ada Admin",
        &[Role::Admin],
        Some(common::PASSWORD),
    );
    let client = common::page_client();
    app.login(&client, "admin@meadowbank.example", common::PASSWORD)
        .await;
    let page = app
        .get_page(&client, "/admin/import?kind=oneroster")
        .await
        .text()
        .await
        .expect("the import page");
    assert!(page.contains("OneRoster bundle (.zip)"), "{page}");
    let form = reqwest::multipart::Form::new()
        .text("csrf_token", common::csrf_token_in(&page))
        .text("kind", "oneroster")
        .part(
            "file",
            reqwest::multipart::Part::bytes(zipped(&bundle_files(|_, text| Some(text))))
                .file_name("oneroster.zip"),
        );
    let response = client
        .post(app.url("/admin/import/preview"))
        .multipart(form)
        .send()
        .await
        .expect("an answer");
    assert_eq!(response.status(), StatusCode::OK);
    let preview = response.text().await.expect("the preview");
    assert!(preview.contains("11 would be added"), "{preview}");
    assert!(
        preview.contains("MEADOWBANK cls-7ma1") || preview.contains("MEADOWBANK class cls-7ma1")
    );
    assert_eq!(app.pupil_count(), 0);
}

both_engines!(the_import_page_offers_and_previews_a_bundle);

async fn an_email_held_by_another_school_is_a_problem(engine: Engine) {
    let app = common::spawn_app(engine).await;
    let other = app.create_school("OTHER", "Other School");
    app.create_staff(
        &other,
        "e.nibhriain@meadowbank.example",
        "Eleanor Ní Bhriain",
        &[Role::ClassStaff],
        None,
    );
    let (ok, out, err) = import(&app, &bundle_folder(), &[]);
    assert!(!ok, "{out}");
    assert!(
        err.contains("line 8, column users.csv: email: e.nibhriain@meadowbank.example is the email of an account of another school"),
        "{err}"
    );
    assert_eq!(counts(&app), [1, 0, 1, 0, 0, 0], "nothing written");
}

both_engines!(an_email_held_by_another_school_is_a_problem);
