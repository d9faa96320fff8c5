//! History from the school's previous system: a real export brought in as imported
//! incidents, behaviours not on the list added, pupils placed on the ladder by replaying the
//! policy (with the preview saying where first), nothing twice, nothing on a bad row, no
//! email; and an incident logged days late judged at the time it happened.

mod common;

use std::path::PathBuf;

use chrono::{Datelike, NaiveDate, TimeDelta, TimeZone, Utc};
use diesel::prelude::*;
use reqwest::StatusCode;
use serde_json::json;

use common::{both_engines, Engine, TestApp};
use steadfast::db::schema::{behaviours, incidents, level_changes, meetings, outbox, pupils};
use steadfast::domain::calendar::SCHOOL_TZ;
use steadfast::domain::Role;

fn fixture(name: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
        .to_string_lossy()
        .into_owned()
}

/// Runs `steadfast import KIND FIXTURE --school NORTH ...`: success, output and errors.
fn import(app: &TestApp, kind: &str, name: &str, flags: &[&str]) -> (bool, String, String) {
    let path = fixture(name);
    let mut args = vec!["import", kind, path.as_str(), "--school", "NORTH"];
    args.extend_from_slice(flags);
    let output = app.cli(&args, "");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// A school with its roll and the two people who recorded the old system's incidents.
fn school_with_roll(app: &TestApp) -> steadfast::db::models::School {
    let (school, _, _) = app.school_with_admin("NORTH");
    app.create_staff(
        &school,
        "t.brown@north.example",
        "Tom Brown",
        &[Role::ClassStaff],
        None,
    );
    app.create_staff(
        &school,
        "s.oneill@north.example",
        "Siân O'Neill",
        &[Role::ClassStaff],
        None,
    );
    let (ok, out, err) = import(app, "pupils", "sims-pupils.csv", &[]);
    assert!(ok, "{out}{err}");
    school
}

fn level_of(app: &TestApp, upn: &str) -> i16 {
    pupils::table
        .filter(pupils::upn.eq(upn))
        .select(pupils::level)
        .first(&mut *app.conn())
        .expect("the pupil")
}

async fn an_old_systems_history_comes_in_and_places_pupils(engine: Engine) {
    let app = common::spawn_app(engine).await;
    school_with_roll(&app);

    // The preview says where pupils would land, and writes nothing.
    let (ok, out, err) = import(
        &app,
        "incidents",
        "previous-system-history.csv",
        &["--dry-run", "--place"],
    );
    assert!(ok, "{out}{err}");
    assert!(out.contains("11 would be added"), "{out}");
    assert!(out.contains("behaviour added Défiance"), "{out}");
    assert!(
        out.contains("pupils would be placed: 2 at level 0, 1 at level 4"),
        "{out}"
    );
    let count = |app: &TestApp| -> i64 {
        incidents::table
            .count()
            .get_result(&mut *app.conn())
            .expect("counting incidents")
    };
    assert_eq!(count(&app), 0, "a dry run writes nothing");
    assert_eq!(level_of(&app, "T820200126001"), 0);

    let (ok, out, err) = import(
        &app,
        "incidents",
        "previous-system-history.csv",
        &["--place"],
    );
    assert!(ok, "{out}{err}");
    assert!(out.contains("11 added"), "{out}");
    assert_eq!(count(&app), 11);
    let imported: i64 = incidents::table
        .filter(incidents::imported.eq(true))
        .count()
        .get_result(&mut *app.conn())
        .expect("counting");
    assert_eq!(imported, 11, "marked as imported");
    let note: Option<String> = incidents::table
        .filter(incidents::behaviour.eq("Défiance"))
        .filter(incidents::note.is_not_null())
        .select(incidents::note)
        .first(&mut *app.conn())
        .expect("the note");
    assert_eq!(note.as_deref(), Some("Refused to move on, then apologised"));
    let added: i64 = behaviours::table
        .filter(behaviours::name.eq("Défiance"))
        .count()
        .get_result(&mut *app.conn())
        .expect("the behaviour list");
    assert_eq!(added, 1, "the new behaviour is on the list");

    // Seven incidents in a fortnight climb to Coaching Plan, one step at a time with its
    // evidence; a Coaching Plan meeting is due. The others have been quiet long enough to
    // step back down.
    assert_eq!(level_of(&app, "T820200126001"), 4);
    let climbed: Vec<(i16, i16)> = level_changes::table
        .inner_join(pupils::table)
        .filter(pupils::upn.eq("T820200126001"))
        .order(level_changes::occurred_at)
        .select((level_changes::from_level, level_changes::to_level))
        .load(&mut *app.conn())
        .expect("the moves");
    assert_eq!(climbed, vec![(0, 1), (1, 2), (2, 3), (3, 4)]);
    let due: i64 = meetings::table
        .filter(meetings::level.eq(4))
        .filter(meetings::status.eq("due"))
        .count()
        .get_result(&mut *app.conn())
        .expect("meetings");
    assert_eq!(due, 1);
    assert_eq!(level_of(&app, "G820200126002"), 0);
    assert_eq!(level_of(&app, "W820200126003"), 0);
    let emails: i64 = outbox::table
        .count()
        .get_result(&mut *app.conn())
        .expect("the outbox");
    assert_eq!(emails, 0, "no email is sent for history");

    // Again: nothing new.
    let (ok, out, _) = import(
        &app,
        "incidents",
        "previous-system-history.csv",
        &["--place"],
    );
    assert!(ok);
    assert!(
        out.contains("0 added, 0 changed, 0 marked left, 11 unchanged"),
        "{out}"
    );
    assert_eq!(count(&app), 11);
}

both_engines!(an_old_systems_history_comes_in_and_places_pupils);

async fn a_bad_history_row_writes_nothing(engine: Engine) {
    let app = common::spawn_app(engine).await;
    school_with_roll(&app);
    let (ok, out, err) = import(
        &app,
        "incidents",
        "previous-system-history-bad.csv",
        &["--place"],
    );
    assert!(!ok, "{out}");
    assert!(
        err.contains("line 3, column UPN: no pupil here has the UPN Y820200126099"),
        "{err}"
    );
    assert!(
        err.contains(
            "line 4, column Staff: no member of staff here has the email or name Mr Nobody"
        ),
        "{err}"
    );
    let written: i64 = incidents::table
        .count()
        .get_result(&mut *app.conn())
        .expect("counting");
    assert_eq!(written, 0);
}

both_engines!(a_bad_history_row_writes_nothing);

async fn the_api_brings_history_in_for_administrators(engine: Engine) {
    let app = common::spawn_app(engine).await;
    school_with_roll(&app);
    let admin: steadfast::db::staff::StaffMember = {
        use steadfast::db::schema::staff;
        let id: i64 = staff::table
            .filter(staff::email.eq("admin@north.example"))
            .select(staff::id)
            .first(&mut *app.conn())
            .expect("the admin");
        let school_id: i64 = staff::table
            .find(id)
            .select(staff::school_id)
            .first(&mut *app.conn())
            .expect("the school");
        steadfast::db::staff::get_member(&mut app.conn(), school_id, id)
            .expect("reading")
            .expect("the admin")
    };
    let token = app.create_token(&admin);
    let bytes = std::fs::read(fixture("previous-system-history.csv")).expect("the fixture");
    let response = reqwest::Client::new()
        .post(app.url("/api/v1/imports/incidents?dry_run=true&place=true"))
        .bearer_auth(&token)
        .body(bytes.clone())
        .send()
        .await
        .expect("an answer");
    let (status, body) = common::json_of(response).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["added"], 11);
    assert_eq!(body["placed"], json!([2, 0, 0, 0, 1, 0, 0]));
    let response = reqwest::Client::new()
        .post(app.url("/api/v1/imports/incidents?full=true"))
        .bearer_auth(&token)
        .body(bytes)
        .send()
        .await
        .expect("an answer");
    let (status, body) = common::json_of(response).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"]["field"], "full");
}

both_engines!(the_api_brings_history_in_for_administrators);

async fn prompts_logged_late_are_judged_when_they_happened(engine: Engine) {
    let app = common::spawn_app(engine).await;
    let (school, _, _) = app.school_with_admin("NORTH");
    let slt = app.create_staff(&school, "slt@north.example", "Sal Lead", &[Role::Slt], None);
    let slt_token = app.create_token(&slt);
    let (token, pupils) = app.teacher_and_pupils(&school, 1);
    // Monday to Wednesday of last week, 10:00 in school; logged today.
    let today = Utc::now().with_timezone(&SCHOOL_TZ).date_naive();
    let this_monday = today - TimeDelta::days(i64::from(today.weekday().num_days_from_monday()));
    let last_monday = this_monday - TimeDelta::days(7);
    let at = |day: NaiveDate| {
        SCHOOL_TZ
            .from_local_datetime(&day.and_hms_opt(10, 0, 0).expect("a time"))
            .earliest()
            .expect("a London time")
            .with_timezone(&Utc)
            .to_rfc3339()
    };
    for offset in 0..3 {
        let (status, body) = app
            .api_post(
                "/api/v1/incidents",
                &token,
                &json!({
                    "pupil_ids": [pupils[0]],
                    "behaviour": "Off task",
                    "response": "prompt",
                    "occurred_at": at(last_monday + TimeDelta::days(offset)),
                }),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let (_, suggestions) = app
        .api_get(
            &format!("/api/v1/suggestions?pupil_id={}", pupils[0]),
            &slt_token,
        )
        .await;
    let open: Vec<i64> = suggestions["suggestions"]
        .as_array()
        .map(|list| {
            list.iter()
                .filter(|s| s["status"] == "open")
                .filter_map(|s| s["to_level"].as_i64())
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(
        open,
        vec![2],
        "three prompts in five school days last week suggest a Coaching Conversation: {suggestions}"
    );
}

both_engines!(prompts_logged_late_are_judged_when_they_happened);

async fn the_import_page_maps_a_new_behaviour_to_one_on_the_list(engine: Engine) {
    let app = common::spawn_app(engine).await;
    let school = school_with_roll(&app);
    app.create_staff(
        &school,
        "head@north.example",
        "Hana Head",
        &[Role::Admin],
        Some(common::PASSWORD),
    );
    let client = common::page_client();
    app.login(&client, "head@north.example", common::PASSWORD)
        .await;
    let bytes = std::fs::read(fixture("previous-system-history.csv")).expect("the fixture");
    let (status, preview) =
        common::upload_import(&app, &client, "incidents", bytes, &["place"]).await;
    assert_eq!(status, StatusCode::OK, "{preview}");
    assert!(
        preview.contains("Behaviours not on the school"),
        "{preview}"
    );
    assert!(preview.contains("pupils would be placed"), "{preview}");
    let mapping = [
        ("behaviour0", "Défiance"),
        ("as0", "Refusal to follow instruction"),
    ];
    let (status, again) = common::submit_import(&app, &client, &preview, "preview", &mapping).await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert!(
        !again.contains("behaviour added"),
        "mapped, not added: {again}"
    );
    let (status, done) = common::submit_import(&app, &client, &again, "apply", &mapping).await;
    assert_eq!(status, StatusCode::OK, "{done}");
    let stored: Vec<String> = incidents::table
        .select(incidents::behaviour)
        .distinct()
        .order(incidents::behaviour)
        .load(&mut *app.conn())
        .expect("the behaviours");
    assert_eq!(
        stored,
        vec![
            "Off task".to_string(),
            "Physical aggression".to_string(),
            "Refusal to follow instruction".to_string()
        ]
    );
    let added: i64 = behaviours::table
        .filter(behaviours::name.eq("Défiance"))
        .count()
        .get_result(&mut *app.conn())
        .expect("the list");
    assert_eq!(added, 0, "a mapped behaviour is not added to the list");
    assert_eq!(
        level_of(&app, "T820200126001"),
        4,
        "placed from the page too"
    );
}

both_engines!(the_import_page_maps_a_new_behaviour_to_one_on_the_list);
