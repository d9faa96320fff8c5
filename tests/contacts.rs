//! A pupil's family contacts, end to end on both engines: brought in with the roll (a SIMS
//! export's `Contact 1 ...` columns, a Bromcom export's `Primary Contact ...` ones, a
//! OneRoster 1.2 bundle's guardian and a 1.1 bundle's parent and relative), replaced by a
//! file with contact columns and left alone by one without, a bad cell named by line and
//! column with nothing written, and the same file twice changing nothing; the Family
//! contacts page (add, change, remove, a refusal at its field, class staff refused); the
//! JSON route; and a fresh booking offering the invited contacts as guests.

mod common;

use std::path::{Path, PathBuf};

use chrono::Utc;
use diesel::prelude::*;
use reqwest::StatusCode;

use common::{both_engines, csrf_token_in, problem_at, signed_in, Engine, TestApp, PASSWORD};
use steadfast::db::models::School;
use steadfast::db::schema::{meetings, pupil_contacts, pupils};
use steadfast::db::to_db_time;
use steadfast::domain::Role;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// Runs `steadfast import KIND PATH ...`; answers success, standard output and error.
fn import(app: &TestApp, kind: &str, path: &Path, flags: &[&str]) -> (bool, String, String) {
    let path = path.to_string_lossy();
    let mut args = vec!["import", kind, &*path];
    args.extend_from_slice(flags);
    let output = app.cli(&args, "");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// Each pupil's contacts as (UPN, name, relationship, email, phone, invited), in order.
type Held = (String, String, String, Option<String>, Option<String>, bool);

fn contacts(app: &TestApp) -> Vec<Held> {
    pupil_contacts::table
        .inner_join(pupils::table)
        .order((pupils::upn, pupil_contacts::position, pupil_contacts::id))
        .select((
            pupils::upn,
            pupil_contacts::name,
            pupil_contacts::relationship,
            pupil_contacts::email,
            pupil_contacts::phone,
            pupil_contacts::invited,
        ))
        .load(&mut *app.conn())
        .expect("reading the contacts")
}

fn held(
    upn: &str,
    name: &str,
    relationship: &str,
    email: Option<&str>,
    phone: Option<&str>,
    invited: bool,
) -> Held {
    (
        upn.into(),
        name.into(),
        relationship.into(),
        email.map(String::from),
        phone.map(String::from),
        invited,
    )
}

async fn a_pupil_file_brings_contacts_in_and_replaces_them(engine: Engine) {
    let app = common::spawn_app(engine).await;
    app.school_with_admin("NORTH");
    let school = ["--school", "NORTH"];

    // A dry run writes nothing.
    let (ok, out, err) = import(
        &app,
        "pupils",
        &fixture("sims-pupils-contacts.csv"),
        &["--school", "NORTH", "--dry-run"],
    );
    assert!(ok, "{out}{err}");
    assert!(out.contains("3 would be added"), "{out}");
    assert!(contacts(&app).is_empty());

    let (ok, out, err) = import(
        &app,
        "pupils",
        &fixture("sims-pupils-contacts.csv"),
        &school,
    );
    assert!(ok, "{out}{err}");
    assert!(out.contains("3 added, 0 changed"), "{out}");
    let first = vec![
        held(
            "G820200126002",
            "Lan Nguyễn",
            "mother",
            Some("lan.nguyen@example.net"),
            Some("+44 7700 900456"),
            true,
        ),
        held(
            "T820200126001",
            "Brigid O'Connor",
            "mother",
            Some("brigid.oconnor@example.net"),
            Some("01632 960123"),
            true,
        ),
        held(
            "T820200126001",
            "Declan O'Connor",
            "father",
            None,
            Some("07700 900123"),
            true,
        ),
        held(
            "W820200126003",
            "Ingrid Müller",
            "foster_carer",
            None,
            Some("(01632) 960 789"),
            true,
        ),
        held(
            "W820200126003",
            "Ada Wright",
            "social_worker",
            Some("a.wright@council.example"),
            None,
            false,
        ),
    ];
    assert_eq!(contacts(&app), first);

    // The same file again changes nothing.
    let (ok, out, _) = import(
        &app,
        "pupils",
        &fixture("sims-pupils-contacts.csv"),
        &school,
    );
    assert!(ok);
    assert!(
        out.contains("0 added, 0 changed, 0 marked left, 3 unchanged"),
        "{out}"
    );
    assert_eq!(contacts(&app), first);

    // Staff stop inviting Lan; a Bromcom file with other contacts replaces them, keeping that.
    diesel::update(pupil_contacts::table.filter(pupil_contacts::name.eq("Lan Nguyễn")))
        .set(pupil_contacts::invited.eq(false))
        .execute(&mut *app.conn())
        .expect("uninviting");
    let (ok, out, err) = import(
        &app,
        "pupils",
        &fixture("bromcom-pupils-contacts.csv"),
        &school,
    );
    assert!(ok, "{out}{err}");
    assert!(out.contains("0 added, 3 changed"), "{out}");
    assert!(out.contains("contacts"), "the change is named: {out}");
    let second = vec![
        held(
            "G820200126002",
            "Lan Nguyễn",
            "mother",
            Some("lan.nguyen@example.org"),
            Some("+44 7700 900456"),
            false,
        ),
        held(
            "T820200126001",
            "Brigid O'Connor",
            "mother",
            Some("brigid.oconnor@example.net"),
            Some("01632 960123"),
            true,
        ),
    ];
    assert_eq!(contacts(&app), second);

    // A file without contact columns leaves them alone.
    let (ok, out, err) = import(&app, "pupils", &fixture("sims-pupils.csv"), &school);
    assert!(ok, "{out}{err}");
    assert_eq!(contacts(&app), second);

    // A bad cell: named by line and column, and nothing written.
    let (ok, out, err) = import(
        &app,
        "pupils",
        &fixture("sims-pupils-contacts-bad.csv"),
        &school,
    );
    assert!(!ok, "{out}");
    for expected in [
        "line 2, column Contact 1 Telephone: contact 1's phone must be a phone number",
        "line 3, column Contact 1 Email: contact 1's email must be an email address",
        "line 4, column Contact 1 Name: contact 1's name is required",
        "3 problem(s) in the file: nothing was written",
    ] {
        assert!(err.contains(expected), "{expected:?} not in:\n{err}");
    }
    assert_eq!(contacts(&app), second);
}

both_engines!(a_pupil_file_brings_contacts_in_and_replaces_them);

/// The OneRoster 1.2 fixture's files, each changed by `edit`, in a new folder.
fn oneroster_folder(edit: impl Fn(&str, String) -> String) -> tempfile::TempDir {
    let from = fixture("oneroster-1.2");
    let dir = tempfile::tempdir().expect("a folder");
    for entry in std::fs::read_dir(&from).expect("the fixture folder") {
        let path = entry.expect("a file").path();
        let name = path
            .file_name()
            .expect("a name")
            .to_string_lossy()
            .into_owned();
        let text = std::fs::read_to_string(&path).expect("the file's text");
        std::fs::write(dir.path().join(&name), edit(&name, text)).expect("writing");
    }
    dir
}

async fn oneroster_bundles_bring_guardians_parents_and_relatives(engine: Engine) {
    let app = common::spawn_app(engine).await;

    // 1.2: the guardian in users.csv and roles.csv, linked to Siobhán by agentSourcedIds.
    let (ok, out, err) = import(&app, "oneroster", &fixture("oneroster-1.2"), &[]);
    assert!(ok, "{out}{err}");
    let guardian = held(
        "J938402126001",
        "Brigid O'Connor",
        "guardian",
        Some("brigid.oconnor@example.net"),
        None,
        true,
    );
    assert_eq!(contacts(&app), vec![guardian.clone()]);
    let (ok, out, _) = import(&app, "oneroster", &fixture("oneroster-1.2"), &[]);
    assert!(ok);
    assert!(out.contains("0 added, 0 changed"), "{out}");
    assert_eq!(contacts(&app), vec![guardian.clone()]);

    // Her phone added: Siobhán's contacts change.
    let phoned = oneroster_folder(|name, text| match name {
        "users.csv" => text.replace(
            "brigid.oconnor@example.net,,,stu-1001",
            "brigid.oconnor@example.net,,01632 960555,stu-1001",
        ),
        _ => text,
    });
    let (ok, out, err) = import(&app, "oneroster", phoned.path(), &[]);
    assert!(ok, "{out}{err}");
    assert!(out.contains("1 changed"), "{out}");
    let with_phone = held(
        "J938402126001",
        "Brigid O'Connor",
        "guardian",
        Some("brigid.oconnor@example.net"),
        Some("01632 960555"),
        true,
    );
    assert_eq!(contacts(&app), vec![with_phone.clone()]);

    // A bad email: named by file, line and column; nothing written.
    let bad = oneroster_folder(|name, text| match name {
        "users.csv" => text.replace("brigid.oconnor@example.net", "brigid at home"),
        _ => text,
    });
    let (ok, out, err) = import(&app, "oneroster", bad.path(), &[]);
    assert!(!ok, "{out}");
    assert!(
        err.contains(
            "line 10, column users.csv: email: the contact's email must be an email address"
        ),
        "{err}"
    );
    assert_eq!(contacts(&app), vec![with_phone]);

    // 1.1: roles in users.csv; a parent linked both ways, a relative linked from the pupil, a
    // guardian linked from their side; the phone from `sms` when `phone` is blank.
    let (ok, out, err) = import(&app, "oneroster", &fixture("oneroster-1.1-contacts"), &[]);
    assert!(ok, "{out}{err}");
    let hill: Vec<Held> = contacts(&app)
        .into_iter()
        .filter(|c| c.0 != "J938402126001")
        .collect();
    assert_eq!(
        hill,
        vec![
            held(
                "G820200126002",
                "Grace Hughes",
                "guardian",
                Some("grace.hughes@example.net"),
                Some("0161 496 0000"),
                true
            ),
            held(
                "T820200126001",
                "Samira Khan",
                "parent",
                Some("samira.khan@example.net"),
                Some("07700 900111"),
                true
            ),
            held(
                "T820200126001",
                "Yusuf Khan",
                "other_relative",
                None,
                Some("07700 900222"),
                false
            ),
        ]
    );
}

both_engines!(oneroster_bundles_bring_guardians_parents_and_relatives);

/// A school with a Year 9 pupil, their Head of Year, an administrator, a class teacher and
/// another school's pupil.
struct Scene {
    app: TestApp,
    school: School,
    pupil: i64,
    other_pupil: i64,
}

const HEAD: &str = "hal@north.example";
const ADMIN: &str = "ada@north.example";
const TEACHER: &str = "tess@north.example";

async fn arrange(engine: Engine) -> Scene {
    let app = common::spawn_app(engine).await;
    let school = app.create_school("NORTH", "North Academy");
    app.create_staff_leading(
        &school,
        HEAD,
        "Hal Head",
        &[Role::PastoralLead],
        &[9],
        Some(PASSWORD),
    );
    app.create_staff(&school, ADMIN, "Ada Admin", &[Role::Admin], Some(PASSWORD));
    app.create_staff(
        &school,
        TEACHER,
        "Tess Teacher",
        &[Role::ClassStaff],
        Some(PASSWORD),
    );
    let pupil = app
        .create_pupil(&school, "A123456789012", "Amira", "Okafor", 9, "9B")
        .id;
    let other = app.create_school("SOUTH", "South Academy");
    let other_pupil = app
        .create_pupil(&other, "B123456789012", "Ben", "Bell", 9, "9A")
        .id;
    Scene {
        app,
        school,
        pupil,
        other_pupil,
    }
}

async fn the_contacts_page_adds_changes_and_removes(engine: Engine) {
    let s = arrange(engine).await;
    let app = &s.app;
    let path = format!("/pupils/{}/contacts", s.pupil);

    // Class staff neither see the card nor open the page.
    let teacher = signed_in(app, TEACHER).await;
    let (status, pupil_page) = common::page(app, &teacher, &format!("/pupils/{}", s.pupil)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(!pupil_page.contains("family-contacts"), "{pupil_page}");
    let (status, _) = common::page(app, &teacher, &path).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // The Head of Year sees the card and the page.
    let head = signed_in(app, HEAD).await;
    let (_, pupil_page) = common::page(app, &head, &format!("/pupils/{}", s.pupil)).await;
    assert!(pupil_page.contains("family-contacts"), "{pupil_page}");
    assert!(pupil_page.contains(&path), "{pupil_page}");
    let (status, page) = common::page(app, &head, &path).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("No contacts yet."), "{page}");

    // Added.
    let added = app
        .submit_form(
            &head,
            &path,
            &path,
            &[
                ("name", "Grace Okafor"),
                ("relationship", "mother"),
                ("email", "Grace.Okafor@example.net"),
                ("phone", "07700 900123"),
                ("invited", "on"),
            ],
        )
        .await;
    assert_eq!(added.status(), StatusCode::SEE_OTHER);
    let (_, page) = common::page(app, &head, &common::location(&added)).await;
    assert!(page.contains("Contact added."), "{page}");
    assert!(page.contains("Grace Okafor"), "{page}");
    let id: i64 = pupil_contacts::table
        .filter(pupil_contacts::pupil_id.eq(s.pupil))
        .select(pupil_contacts::id)
        .first(&mut *app.conn())
        .expect("the contact");

    // A refusal at its field, what was typed kept.
    let refused = app
        .submit_form(
            &head,
            &path,
            &format!("{path}/{id}"),
            &[
                ("name", "Grace Okafor"),
                ("relationship", "mother"),
                ("email", "grace.okafor@example.net"),
                ("phone", "ring me"),
            ],
        )
        .await;
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    let page = refused.text().await.expect("the page");
    assert!(
        problem_at(&page, &format!("contact-{id}-phone")).contains("phone number"),
        "{page}"
    );
    assert!(page.contains("value=\"ring me\""), "{page}");

    // An invisible character in a name is refused at the name.
    let refused = app
        .submit_form(
            &head,
            &path,
            &path,
            &[("name", "Grace\u{202E}Okafor"), ("relationship", "mother")],
        )
        .await;
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    let page = refused.text().await.expect("the page");
    assert!(
        problem_at(&page, "new-name").contains("invisible"),
        "{page}"
    );

    // Changed: no longer invited, a new phone.
    let saved = app
        .submit_form(
            &head,
            &path,
            &format!("{path}/{id}"),
            &[
                ("name", "Grace Okafor"),
                ("relationship", "carer"),
                ("email", ""),
                ("phone", "+44 (0)1632 960000"),
            ],
        )
        .await;
    assert_eq!(saved.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        contacts(app),
        vec![held(
            "A123456789012",
            "Grace Okafor",
            "carer",
            None,
            Some("+44 (0)1632 960000"),
            false
        )]
    );

    // The JSON route: the same rule as the page.
    let admin = app.create_token(&staff_named(app, &s.school, ADMIN));
    let (status, body) = app
        .api_get(&format!("/api/v1/pupils/{}/contacts", s.pupil), &admin)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["contacts"][0]["id"], id);
    assert_eq!(body["contacts"][0]["name"], "Grace Okafor");
    assert_eq!(body["contacts"][0]["relationship"], "carer");
    assert_eq!(body["contacts"][0]["email"], serde_json::Value::Null);
    assert_eq!(body["contacts"][0]["phone"], "+44 (0)1632 960000");
    assert_eq!(body["contacts"][0]["invited"], false);
    let teacher_token = app.create_token(&staff_named(app, &s.school, TEACHER));
    let (status, body) = app
        .api_get(
            &format!("/api/v1/pupils/{}/contacts", s.pupil),
            &teacher_token,
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    common::assert_error_shape(&body);
    let (status, _) = app
        .api_get(
            &format!("/api/v1/pupils/{}/contacts", s.other_pupil),
            &admin,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, doc) = app.api_get("/api/v1/openapi.json", &admin).await;
    assert!(doc["paths"].get("/api/v1/pupils/{id}/contacts").is_some());

    // The subject access record holds the contacts.
    let slt = app.create_staff(
        &s.school,
        "sara@north.example",
        "Sara Senior",
        &[Role::Slt],
        None,
    );
    let slt = app.create_token(&slt);
    let zip = reqwest::Client::new()
        .get(app.url(&format!("/api/v1/pupils/{}/export", s.pupil)))
        .bearer_auth(&slt)
        .send()
        .await
        .expect("an answer");
    assert_eq!(zip.status(), StatusCode::OK);
    let files = common::unzip(&zip.bytes().await.expect("the zip"));
    let listed = files
        .iter()
        .find(|(name, _)| name == "contacts.csv")
        .map(|(_, text)| text.clone())
        .unwrap_or_default();
    assert!(listed.contains("Grace Okafor"), "{files:?}");

    // Class staff cannot post either; another school's pupil is not found.
    let forged = app
        .submit_form(
            &teacher,
            "/pupils",
            &path,
            &[("name", "X Y"), ("relationship", "other")],
        )
        .await;
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    let (status, _) =
        common::page(app, &head, &format!("/pupils/{}/contacts", s.other_pupil)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Removed.
    let removed = app
        .submit_form(&head, &path, &format!("{path}/{id}/remove"), &[])
        .await;
    assert_eq!(removed.status(), StatusCode::SEE_OTHER);
    assert!(contacts(app).is_empty());
}

both_engines!(the_contacts_page_adds_changes_and_removes);

fn staff_named(app: &TestApp, _school: &School, email: &str) -> steadfast::db::staff::StaffMember {
    let email = steadfast::domain::details::EmailAddress::parse(email).expect("an email");
    steadfast::db::staff::by_email(&mut app.conn(), &email)
        .expect("reading the member")
        .expect("the member")
}

async fn a_fresh_booking_offers_the_invited_contacts(engine: Engine) {
    let s = arrange(engine).await;
    let app = &s.app;
    for (name, relationship, email, invited) in [
        (
            "Grace Okafor",
            "mother",
            Some("grace.okafor@example.net"),
            true,
        ),
        ("Femi Okafor", "father", None, true),
        ("Uncle Tunde", "other_relative", None, false),
    ] {
        diesel::insert_into(pupil_contacts::table)
            .values((
                pupil_contacts::school_id.eq(s.school.id),
                pupil_contacts::pupil_id.eq(s.pupil),
                pupil_contacts::name.eq(name),
                pupil_contacts::relationship.eq(relationship),
                pupil_contacts::email.eq(email),
                pupil_contacts::invited.eq(invited),
            ))
            .execute(&mut *app.conn())
            .expect("a contact");
    }
    let now = to_db_time(Utc::now());
    diesel::insert_into(meetings::table)
        .values((
            meetings::school_id.eq(s.school.id),
            meetings::pupil_id.eq(s.pupil),
            meetings::level.eq(3i16),
            meetings::due_on.eq(common::today()),
            meetings::status.eq("due"),
            meetings::created_at.eq(now),
        ))
        .execute(&mut *app.conn())
        .expect("a meeting");
    let meeting: i64 = meetings::table
        .select(meetings::id)
        .first(&mut *app.conn())
        .expect("the meeting");
    common::set_level(app, s.pupil, 3);

    let head = signed_in(app, HEAD).await;
    let (status, page) = common::page(app, &head, &format!("/meetings/{meeting}?step=book")).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("name=\"family_name_0\""), "{page}");
    assert!(page.contains("value=\"Grace Okafor\""), "{page}");
    assert!(
        page.contains("value=\"grace.okafor@example.net\""),
        "{page}"
    );
    assert!(page.contains("value=\"Femi Okafor\""), "{page}");
    assert!(!page.contains("Uncle Tunde"), "not invited: {page}");

    // Booked with Femi left out: Grace is the one guest.
    let csrf = csrf_token_in(&page);
    let starts =
        steadfast::web::pages::form::local_input_value(Utc::now() + chrono::TimeDelta::days(2));
    let head_id = staff_named(app, &s.school, HEAD).id.to_string();
    let booked = head
        .post(app.url(&format!("/meetings/{meeting}/schedule")))
        .form(&[
            ("csrf_token", csrf.as_str()),
            ("starts_at", starts.as_str()),
            ("duration_minutes", "30"),
            ("location", "Room 4"),
            ("participant_ids", head_id.as_str()),
            ("parent_invited", "on"),
            ("family_name_0", "Grace Okafor"),
            ("family_email_0", "grace.okafor@example.net"),
            ("family_invited_0", "on"),
            ("family_name_1", "Femi Okafor"),
            ("family_email_1", ""),
        ])
        .send()
        .await
        .expect("an answer");
    assert_eq!(
        booked.status(),
        StatusCode::SEE_OTHER,
        "{}",
        booked.text().await.unwrap_or_default()
    );
    let guests: Vec<(String, Option<String>, String)> =
        steadfast::db::schema::meeting_guests::table
            .select((
                steadfast::db::schema::meeting_guests::name,
                steadfast::db::schema::meeting_guests::email,
                steadfast::db::schema::meeting_guests::role,
            ))
            .load(&mut *app.conn())
            .expect("the guests");
    assert_eq!(
        guests,
        vec![(
            "Grace Okafor".to_string(),
            Some("grace.okafor@example.net".to_string()),
            "parent_carer".to_string()
        )]
    );
}

both_engines!(a_fresh_booking_offers_the_invited_contacts);
