//! The backups Steadfast takes by itself and encrypted backups, on both engines: a nightly
//! backup is written to the backups folder and the folder rotated (other files left alone),
//! a failed one is recorded and shown to administrators while the service carries on, and
//! `backup`, `check` and `restore` with `--passphrase-file` encrypt, verify and restore, with
//! a wrong passphrase refused plainly.

mod common;

use std::path::Path;
use std::process::Output;

use chrono::{NaiveDate, TimeZone, Utc};
use reqwest::StatusCode;
use sha2::{Digest, Sha256};

use common::{
    assert_failure_naming, assert_success, both_engines, page_client, run_steadfast,
    spare_database, spawn_app, spawn_app_with, stdout, Engine, Role, TestApp, PASSWORD,
};
use steadfast::backup::automatic::{last_status, NightlyPlan};
use steadfast::domain::backup_rotation::nightly_file_name;

/// Runs `steadfast` against the database `url`.
fn steadfast_on(url: &str, args: &[&str]) -> Output {
    run_steadfast(args, "", &[("DATABASE_URL", url)])
}

/// A school with an administrator who signs in with a password, and a class teacher.
fn school_with_people(app: &TestApp) {
    let school = app.create_school("NIGHT", "Night Academy");
    app.create_staff(
        &school,
        "admin@night.example",
        "Ada Admin",
        &[Role::Admin],
        Some(PASSWORD),
    );
    app.create_staff(
        &school,
        "teacher@night.example",
        "Tess Teacher",
        &[Role::ClassStaff],
        Some(PASSWORD),
    );
    app.teacher_and_pupils(&school, 3);
}

/// The backups page as the person with `email` sees it.
async fn backups_page(app: &TestApp, email: &str) -> (StatusCode, String) {
    let client = page_client();
    let signed_in = app.login(&client, email, PASSWORD).await;
    assert_eq!(signed_in.status(), StatusCode::SEE_OTHER);
    let page = app.get_page(&client, "/admin/backups").await;
    let status = page.status();
    (status, page.text().await.expect("the page"))
}

fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("a date")
}

async fn a_nightly_backup_is_written_rotated_and_shown_to_administrators(engine: Engine) {
    let app = spawn_app(engine).await;
    school_with_people(&app);
    let postgres = engine == Engine::Postgres;
    let folder = app.settings.backup_folder();
    std::fs::create_dir_all(&folder).expect("the backups folder");
    // Forty nights of earlier backups (stand-ins: rotation reads names, not contents), a
    // backup from before an upgrade and a copy someone put there by hand.
    let tonight = Utc.with_ymd_and_hms(2026, 3, 18, 2, 0, 0).unwrap();
    let mut earlier = Vec::new();
    let mut d = day(2026, 2, 6);
    while d < day(2026, 3, 18) {
        let name = nightly_file_name(d, postgres, false);
        std::fs::write(folder.join(&name), "an earlier backup").expect("a stand-in");
        std::fs::write(folder.join(format!("{name}.sha256")), "x").expect("its checksum");
        earlier.push((d, name));
        d = d.succ_opt().expect("the next day");
    }
    let others = [
        "steadfast-before-upgrade-2026-01-01T120000Z-from-20261206000016.db",
        "copied-by-hand.db",
    ];
    for other in others {
        std::fs::write(folder.join(other), "kept").expect("another file");
    }

    let plan = NightlyPlan::from_settings(&app.settings)
        .expect("the settings")
        .expect("nightly backups on by default");
    let status = plan.take(tonight);
    assert!(status.succeeded(), "{status:?}");
    let written = folder.join(nightly_file_name(day(2026, 3, 18), postgres, false));
    assert_eq!(
        status.file.as_deref(),
        written.file_name().and_then(|n| n.to_str())
    );
    let check = steadfast_on(&app.database_url, &["check", &written.to_string_lossy()]);
    assert_success(&check);
    assert!(
        stdout(&check).contains("checksum matches"),
        "{}",
        stdout(&check)
    );

    // Kept: the seven newest days (12th to 18th March), the newest of four weeks (the 18th,
    // and Sundays 15th, 8th and 1st) and of twelve months (the 18th, 28th February).
    let kept = |d: NaiveDate| folder.join(nightly_file_name(d, postgres, false)).exists();
    for d in [
        day(2026, 3, 12),
        day(2026, 3, 17),
        day(2026, 3, 8),
        day(2026, 3, 1),
        day(2026, 2, 28),
    ] {
        assert!(kept(d), "{d} was removed");
    }
    for d in [day(2026, 3, 11), day(2026, 2, 22), day(2026, 2, 6)] {
        assert!(!kept(d), "{d} was kept");
        let name = nightly_file_name(d, postgres, false);
        assert!(!folder.join(format!("{name}.sha256")).exists());
        assert!(status.removed.contains(&name), "{:?}", status.removed);
    }
    for other in others {
        assert!(folder.join(other).exists(), "{other} was removed");
    }
    assert_eq!(last_status(&app.settings.data_dir), Some(status.clone()));

    let (code, page) = backups_page(&app, "admin@night.example").await;
    assert_eq!(code, StatusCode::OK);
    assert!(page.contains("written"), "{page}");
    assert!(
        page.contains(status.file.as_deref().unwrap_or("?")),
        "{page}"
    );
    assert!(page.contains(others[0]), "{page}");
    assert!(!page.contains("copied-by-hand.db"), "{page}");
    let (code, _) = backups_page(&app, "teacher@night.example").await;
    assert_eq!(code, StatusCode::FORBIDDEN);
}

async fn a_failed_nightly_backup_is_shown_and_the_service_carries_on(engine: Engine) {
    let blocked = tempfile::tempdir().expect("a folder");
    let file = blocked.path().join("a-file");
    std::fs::write(&file, "not a folder").expect("a file");
    let folder = file.join("backups").to_string_lossy().into_owned();
    let app = spawn_app_with(engine, |settings| settings.backup_dir = folder.clone()).await;
    school_with_people(&app);
    let plan = NightlyPlan::from_settings(&app.settings)
        .expect("the settings")
        .expect("nightly backups on");
    let status = plan.take(Utc::now());
    assert!(!status.succeeded());
    let error = status.error.clone().unwrap_or_default();
    assert!(error.contains("creating the backups folder"), "{error}");

    let (code, page) = backups_page(&app, "admin@night.example").await;
    assert_eq!(code, StatusCode::OK);
    assert!(page.contains("failed"), "{page}");
    assert!(page.contains("creating the backups folder"), "{page}");
    assert!(page.contains("tried again next night"), "{page}");
    let health = reqwest::get(app.url("/health")).await.expect("/health");
    assert_eq!(health.status(), StatusCode::OK);
}

/// The lowercase hex SHA-256 of a file.
fn sha256_of(path: &Path) -> String {
    hex::encode(Sha256::digest(std::fs::read(path).expect("the file")))
}

async fn an_encrypted_backup_needs_its_passphrase_to_be_checked_and_restored(engine: Engine) {
    let app = spawn_app(engine).await;
    school_with_people(&app);
    let folder = tempfile::tempdir().expect("a folder");
    let passphrase = folder.path().join("passphrase");
    std::fs::write(&passphrase, "tulip lantern granite harbour\n").expect("a passphrase");
    let wrong = folder.path().join("wrong");
    std::fs::write(&wrong, "tulip lantern granite harbor\n").expect("a wrong passphrase");
    let file = folder.path().join("steadfast.backup.age");
    let (file_arg, passphrase_arg, wrong_arg) = (
        file.to_string_lossy().into_owned(),
        passphrase.to_string_lossy().into_owned(),
        wrong.to_string_lossy().into_owned(),
    );

    let written = app.cli(
        &[
            "backup",
            "--out",
            &file_arg,
            "--passphrase-file",
            &passphrase_arg,
        ],
        "",
    );
    assert_success(&written);
    assert!(
        stdout(&written).contains("encrypted backup written"),
        "{}",
        stdout(&written)
    );
    let bytes = std::fs::read(&file).expect("the backup");
    assert!(bytes.starts_with(b"age-encryption.org/v1\n"));
    assert!(
        !bytes.windows(9).any(|w| w == b"Night Aca"),
        "the school's name is readable"
    );
    // The checksum is of the file as written.
    let recorded = std::fs::read_to_string(steadfast::backup::checksum_path(&file)).expect("sums");
    assert!(recorded.starts_with(&sha256_of(&file)), "{recorded}");
    let leftovers: Vec<String> = std::fs::read_dir(folder.path())
        .expect("the folder")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("partial"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");

    assert_failure_naming(&app.cli(&["check", &file_arg], ""), "--passphrase-file");
    assert_failure_naming(
        &app.cli(&["check", &file_arg, "--passphrase-file", &wrong_arg], ""),
        "the passphrase does not open",
    );
    let checked = app.cli(
        &["check", &file_arg, "--passphrase-file", &passphrase_arg],
        "",
    );
    assert_success(&checked);
    assert!(
        stdout(&checked).contains("the passphrase opens it"),
        "{}",
        stdout(&checked)
    );

    let spare = spare_database(engine);
    assert_failure_naming(
        &steadfast_on(
            &spare.url,
            &["restore", &file_arg, "--passphrase-file", &wrong_arg],
        ),
        "the passphrase does not open",
    );
    let restored = steadfast_on(
        &spare.url,
        &["restore", &file_arg, "--passphrase-file", &passphrase_arg],
    );
    assert_success(&restored);
    assert!(
        stdout(&restored).contains("checksum matches"),
        "{}",
        stdout(&restored)
    );
    assert!(
        stdout(&restored).contains("pupils 3"),
        "{}",
        stdout(&restored)
    );
    let check = steadfast_on(&spare.url, &["check"]);
    assert!(stdout(&check).contains("schools 1"), "{}", stdout(&check));
}

async fn nightly_backups_are_encrypted_when_a_passphrase_file_is_set(engine: Engine) {
    let folder = tempfile::tempdir().expect("a folder");
    let passphrase = folder.path().join("passphrase");
    std::fs::write(&passphrase, "tulip lantern granite harbour").expect("a passphrase");
    let passphrase_arg = passphrase.to_string_lossy().into_owned();
    let app = spawn_app_with(engine, |settings| {
        settings.backup_passphrase_file = passphrase_arg.clone()
    })
    .await;
    school_with_people(&app);
    let plan = NightlyPlan::from_settings(&app.settings)
        .expect("the settings")
        .expect("nightly backups on");
    let status = plan.take(Utc::now());
    assert!(status.succeeded(), "{status:?}");
    let name = status.file.clone().unwrap_or_default();
    assert!(name.ends_with(".age"), "{name}");
    let written = app.settings.backup_folder().join(&name);
    let checked = app.cli(
        &[
            "check",
            &written.to_string_lossy(),
            "--passphrase-file",
            &passphrase_arg,
        ],
        "",
    );
    assert_success(&checked);

    // An unreadable passphrase file stops the plan at start, not every night.
    let mut settings = (*app.settings).clone();
    settings.backup_passphrase_file = folder.path().join("missing").to_string_lossy().into_owned();
    let refused = NightlyPlan::from_settings(&settings)
        .err()
        .map(|e| format!("{e:#}"));
    assert!(
        refused
            .as_deref()
            .unwrap_or_default()
            .contains("STEADFAST_BACKUP_PASSPHRASE_FILE"),
        "{refused:?}"
    );
    settings.backup_passphrase_file = String::new();
    settings.backup_at = "25:00".into();
    let refused = NightlyPlan::from_settings(&settings)
        .err()
        .map(|e| format!("{e:#}"));
    assert!(
        refused
            .as_deref()
            .unwrap_or_default()
            .contains("STEADFAST_BACKUP_AT"),
        "{refused:?}"
    );
}

both_engines!(
    a_nightly_backup_is_written_rotated_and_shown_to_administrators,
    a_failed_nightly_backup_is_shown_and_the_service_carries_on,
    an_encrypted_backup_needs_its_passphrase_to_be_checked_and_restored,
    nightly_backups_are_encrypted_when_a_passphrase_file_is_set,
);

#[test]
fn serve_refuses_a_nightly_time_it_cannot_read_at_start() {
    let dir = tempfile::tempdir().expect("a folder");
    let url = format!("sqlite://{}", dir.path().join("steadfast.db").display());
    let data = dir.path().join("data").to_string_lossy().into_owned();
    let output = run_steadfast(
        &["serve"],
        "",
        &[
            ("DATABASE_URL", &url),
            ("STEADFAST_DATA_DIR", &data),
            ("STEADFAST_BIND", "127.0.0.1:0"),
            ("STEADFAST_BACKUP_AT", "25:00"),
        ],
    );
    assert_failure_naming(&output, "STEADFAST_BACKUP_AT");
}
