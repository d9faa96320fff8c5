//! `steadfast backup`, `restore` and `check`, run as processes on both engines: a backup
//! taken while incidents stream in holds every one acknowledged before it began; restore goes
//! into an empty database only; a damaged backup fails its checksum.

mod common;

use std::path::Path;
use std::process::Output;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use diesel::prelude::*;
use reqwest::StatusCode;
use serde_json::json;

use common::{
    assert_failure_naming, assert_success, both_engines, run_steadfast, spare_database, spawn_app,
    stdout, Engine, TestApp,
};
use steadfast::db::{schema, Database};

/// Runs `steadfast` against the database `url`.
fn steadfast_on(url: &str, args: &[&str]) -> Output {
    run_steadfast(args, "", &[("DATABASE_URL", url)])
}

/// `steadfast backup --out FILE` of the app's database, checked.
fn backup(app: &TestApp, file: &Path) {
    let output = app.cli(&["backup", "--out", &file.to_string_lossy()], "");
    assert_success(&output);
}

/// The ids of the incidents in the database at `url`.
fn incident_ids(url: &str) -> Vec<i64> {
    let db = Database::open(url, 1).expect("opening the restored database");
    let mut conn = db.connection().expect("a connection");
    schema::incidents::table
        .select(schema::incidents::id)
        .load(&mut *conn)
        .expect("listing incidents")
}

async fn a_backup_taken_while_incidents_stream_in_restores_every_acknowledged_one(engine: Engine) {
    let app = spawn_app(engine).await;
    let school = app.create_school("NORTH", "North Academy");
    let (token, pupils) = app.teacher_and_pupils(&school, 4);
    let folder = tempfile::tempdir().expect("a folder");
    let file = folder.path().join("steadfast.backup");
    // A steady stream of incidents, each id noted once the service has answered 201.
    let acknowledged = Arc::new(Mutex::new(Vec::<i64>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let poster = tokio::spawn({
        let (url, acknowledged, stop) = (
            app.url("/api/v1/incidents"),
            acknowledged.clone(),
            stop.clone(),
        );
        async move {
            for n in 0.. {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                let body = json!({"pupil_ids": [pupils[n % pupils.len()]], "behaviour": "Off task",
                                  "severity": "minor", "response": "none"});
                let (status, answer) = common::post_json(url.clone(), token.clone(), body).await;
                assert_eq!(status, StatusCode::CREATED, "{answer}");
                let id = answer["id"].as_i64().expect("an incident id");
                acknowledged.lock().expect("the list").push(id);
            }
        }
    });
    while acknowledged.lock().expect("the list").len() < 10 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    let before: Vec<i64> = acknowledged.lock().expect("the list").clone();
    let (url, out) = (
        app.database_url.clone(),
        file.to_string_lossy().into_owned(),
    );
    let output =
        tokio::task::spawn_blocking(move || steadfast_on(&url, &["backup", "--out", &out]))
            .await
            .expect("the backup to run");
    let during = acknowledged.lock().expect("the list").len();
    while acknowledged.lock().expect("the list").len() < during + 5 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    stop.store(true, Ordering::Relaxed);
    poster.await.expect("every incident to be logged");

    assert_success(&output);
    assert!(stdout(&output).contains("SHA-256"), "{}", stdout(&output));
    assert!(
        during > before.len(),
        "no incident was logged while the backup ran"
    );
    let spare = spare_database(engine);
    let (url, backup_path) = (spare.url.clone(), file.to_string_lossy().into_owned());
    let restored =
        tokio::task::spawn_blocking(move || steadfast_on(&url, &["restore", &backup_path]))
            .await
            .expect("the restore to run");
    assert_success(&restored);
    assert!(
        stdout(&restored).contains("checksum matches"),
        "{}",
        stdout(&restored)
    );
    let held = incident_ids(&spare.url);
    let missing: Vec<&i64> = before.iter().filter(|id| !held.contains(id)).collect();
    assert!(
        missing.is_empty(),
        "acknowledged before the backup, yet missing: {missing:?}"
    );
    let check = steadfast_on(&spare.url, &["check"]);
    assert_success(&check);
    assert!(
        stdout(&check).contains(&format!("incidents {}", held.len())),
        "{}",
        stdout(&check)
    );
    assert!(
        stdout(&check).contains("no problems found"),
        "{}",
        stdout(&check)
    );
    assert_success(&steadfast_on(
        &spare.url,
        &["check", &file.to_string_lossy()],
    ));
}

async fn restore_refuses_a_database_that_holds_a_school(engine: Engine) {
    let app = spawn_app(engine).await;
    let school = app.create_school("NORTH", "North Academy");
    app.teacher_and_pupils(&school, 2);
    let folder = tempfile::tempdir().expect("a folder");
    let file = folder.path().join("steadfast.backup");
    backup(&app, &file);
    app.create_pupil(&school, "B123456789012", "Ola", "Nowak", 8, "8A");

    let output = app.cli(&["restore", &file.to_string_lossy()], "");

    assert_failure_naming(&output, "already holds 1 school");
    assert_eq!(
        app.pupil_count(),
        3,
        "the refused restore changed the database"
    );
}

async fn restore_goes_into_a_migrated_database_that_holds_no_school(engine: Engine) {
    let app = spawn_app(engine).await;
    let school = app.create_school("NORTH", "North Academy");
    app.teacher_and_pupils(&school, 2);
    let folder = tempfile::tempdir().expect("a folder");
    let file = folder.path().join("steadfast.backup");
    backup(&app, &file);
    let spare = spare_database(engine);
    assert_success(&steadfast_on(&spare.url, &["migrate"]));

    let output = steadfast_on(&spare.url, &["restore", &file.to_string_lossy()]);

    assert_success(&output);
    assert!(stdout(&output).contains("pupils 2"), "{}", stdout(&output));
    assert_success(&steadfast_on(&spare.url, &["check"]));
}

async fn a_backup_with_one_byte_changed_fails_its_checksum(engine: Engine) {
    let app = spawn_app(engine).await;
    let school = app.create_school("NORTH", "North Academy");
    app.teacher_and_pupils(&school, 2);
    let folder = tempfile::tempdir().expect("a folder");
    let file = folder.path().join("steadfast.backup");
    backup(&app, &file);
    assert_success(&app.cli(&["check", &file.to_string_lossy()], ""));
    let mut bytes = std::fs::read(&file).expect("the backup");
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x01;
    std::fs::write(&file, bytes).expect("changing the backup");

    let checked = app.cli(&["check", &file.to_string_lossy()], "");
    let spare = spare_database(engine);
    let restored = steadfast_on(&spare.url, &["restore", &file.to_string_lossy()]);

    assert_failure_naming(&checked, "checksum");
    assert_failure_naming(&restored, "checksum");
    // Nothing was restored: the spare database is still no database at all (SQLite: no file;
    // PostgreSQL: no migration applied).
    let spare_check = steadfast_on(&spare.url, &["check"]);
    assert!(!spare_check.status.success(), "{}", stdout(&spare_check));
}

async fn backup_replaces_a_file_only_with_force(engine: Engine) {
    let app = spawn_app(engine).await;
    let folder = tempfile::tempdir().expect("a folder");
    let file = folder.path().join("steadfast.backup");
    std::fs::write(&file, "keep me").expect("a file in the way");
    let out = file.to_string_lossy();

    let refused = app.cli(&["backup", "--out", &out], "");
    assert_failure_naming(&refused, "--force");
    assert_eq!(std::fs::read_to_string(&file).expect("the file"), "keep me");

    assert_success(&app.cli(&["backup", "--out", &out, "--force"], ""));
    assert_success(&app.cli(&["check", &out], ""));
}

both_engines!(
    a_backup_taken_while_incidents_stream_in_restores_every_acknowledged_one,
    restore_refuses_a_database_that_holds_a_school,
    restore_goes_into_a_migrated_database_that_holds_no_school,
    a_backup_with_one_byte_changed_fails_its_checksum,
    backup_replaces_a_file_only_with_force,
);

/// A SQLite backup with a migration unrecorded and a row pointing at nothing: `check FILE`
/// names both. (PostgreSQL enforces its foreign keys, and its archives are not opened.)
#[tokio::test]
async fn check_names_what_is_wrong_with_a_sqlite_backup() {
    use diesel::connection::SimpleConnection;
    let app = spawn_app(Engine::Sqlite).await;
    let school = app.create_school("NORTH", "North Academy");
    app.teacher_and_pupils(&school, 1);
    let folder = tempfile::tempdir().expect("a folder");
    let file = folder.path().join("steadfast.backup");
    backup(&app, &file);
    std::fs::remove_file(folder.path().join("steadfast.backup.sha256")).expect("no checksum");
    let mut conn = diesel::SqliteConnection::establish(&file.to_string_lossy()).expect("opening");
    conn.batch_execute(
        "PRAGMA foreign_keys = OFF;
         DELETE FROM __diesel_schema_migrations
           WHERE version = (SELECT MAX(version) FROM __diesel_schema_migrations);
         INSERT INTO incident_pupils (incident_id, pupil_id, school_id) VALUES (9999, 9999, 1);",
    )
    .expect("damaging the backup");
    drop(conn);

    let output = app.cli(&["check", &file.to_string_lossy()], "");

    assert_failure_naming(&output, "1 migration(s) not applied");
    assert_failure_naming(&output, "refer to rows that do not exist");
    assert!(
        stdout(&output).contains("checksum was not verified"),
        "{}",
        stdout(&output)
    );
}
