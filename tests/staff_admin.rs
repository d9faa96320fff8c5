//! Staff from a file, invitations, password resets and the staff page: `steadfast import
//! staff`, `POST /api/v1/imports/staff`, `/account/password`, `/login/reset` and
//! `/admin/staff`, on both engines.

mod common;

use chrono::{TimeDelta, Utc};
use diesel::prelude::*;
use reqwest::StatusCode;
use serde_json::Value;

use common::{
    both_engines, csrf_token_in, location, page_client, problem_at, spawn_app, Engine, Role,
    TestApp, PASSWORD,
};
use steadfast::db::models::School;
use steadfast::db::schema::{account_links, audit_log, outbox, staff, staff_roles};

/// The fixture: five people as a staff report gives them, names with accents and
/// apostrophes.
fn fixture() -> String {
    format!("{}/tests/fixtures/staff.csv", env!("CARGO_MANIFEST_DIR"))
}

/// The topic of invitation and reset emails in the outbox.
const LINK_TOPIC: &str = steadfast::db::account_links::LINK_EMAIL_TOPIC;

/// Each invitation or reset email queued: (recipient, text).
fn link_emails(app: &TestApp) -> Vec<(String, String)> {
    outbox::table
        .filter(outbox::topic.eq(LINK_TOPIC))
        .order(outbox::id)
        .select((outbox::recipient, outbox::body_text))
        .load(&mut *app.conn())
        .expect("reading the outbox")
}

/// The token of the link in an email's text.
fn token_in(text: &str) -> String {
    let start = text
        .find("/account/password?token=")
        .expect("a link in the email")
        + "/account/password?token=".len();
    text[start..]
        .chars()
        .take_while(char::is_ascii_hexdigit)
        .collect()
}

/// The token of the latest link emailed to `email`.
fn latest_token_for(app: &TestApp, email: &str) -> String {
    let (_, text) = link_emails(app)
        .into_iter()
        .rev()
        .find(|(to, _)| to == email)
        .unwrap_or_else(|| panic!("no link emailed to {email}"));
    token_in(&text)
}

fn staff_named(app: &TestApp, email: &str) -> (i64, String, bool, Option<String>) {
    staff::table
        .filter(staff::email.eq(email))
        .select((staff::id, staff::name, staff::active, staff::password_hash))
        .get_result(&mut *app.conn())
        .expect("the account")
}

fn roles_of(app: &TestApp, staff_id: i64) -> Vec<String> {
    staff_roles::table
        .filter(staff_roles::staff_id.eq(staff_id))
        .order(staff_roles::role)
        .select(staff_roles::role)
        .load(&mut *app.conn())
        .expect("roles")
}

async fn post_file(app: &TestApp, path: &str, token: &str, body: &[u8]) -> (StatusCode, Value) {
    let response = reqwest::Client::new()
        .post(app.url(path))
        .bearer_auth(token)
        .header("Content-Type", "text/csv")
        .body(body.to_vec())
        .send()
        .await
        .expect("the import to be answered");
    common::json_of(response).await
}

/// Loads a page with `client` and answers its status and text.
async fn page(app: &TestApp, client: &reqwest::Client, path: &str) -> (StatusCode, String) {
    let response = app.get_page(client, path).await;
    let status = response.status();
    (status, response.text().await.expect("the page"))
}

/// A school with an administrator who signs in with a password.
fn school_with_signed_admin(app: &TestApp) -> (School, i64) {
    let school = app.create_school("NORTH", "North Park School");
    let admin = app.create_staff(
        &school,
        "head@northpark.example",
        "Hana Head",
        &[Role::Admin],
        Some(PASSWORD),
    );
    (school, admin.id)
}

async fn importing_staff_from_the_command_line(engine: Engine) {
    let app = spawn_app(engine).await;
    let (_school, _) = school_with_signed_admin(&app);
    let before = app.staff_count();

    let dry = app.cli(
        &["import", "staff", &fixture(), "--dry-run", "--invite"],
        "",
    );
    let said = String::from_utf8_lossy(&dry.stdout);
    assert!(
        dry.status.success(),
        "{said}{}",
        String::from_utf8_lossy(&dry.stderr)
    );
    assert!(said.contains("5 would be added"), "{said}");
    assert_eq!(app.staff_count(), before, "a dry run writes nothing");
    assert!(link_emails(&app).is_empty(), "a dry run invites nobody");

    let run = app.cli(&["import", "staff", &fixture(), "--invite"], "");
    let said = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success(),
        "{said}{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(
        said.contains("5 added, 0 changed, 0 marked left, 0 unchanged"),
        "{said}"
    );
    assert!(said.contains("5 invitation(s) queued"), "{said}");
    assert_eq!(app.staff_count(), before + 5);

    let (sian, name, active, password) = staff_named(&app, "s.oneill@northpark.example");
    assert_eq!(name, "Ms Siân O'Neill", "names are kept exactly");
    assert!(active);
    assert!(
        password.is_none(),
        "a password is chosen through the invitation"
    );
    assert_eq!(roles_of(&app, sian), vec!["class_staff", "pastoral_lead"]);
    assert_eq!(
        staff_named(&app, "z.darcy@northpark.example").1,
        "Mrs Zoë D'Arcy-Brontë"
    );
    let zoe = staff_named(&app, "z.darcy@northpark.example").0;
    assert_eq!(roles_of(&app, zoe), vec!["admin", "slt"]);
    let accounts = steadfast::db::staff::accounts(&mut app.conn(), _school.id).expect("accounts");
    let sian_account = accounts.iter().find(|a| a.id == sian).expect("Siân");
    assert_eq!(sian_account.year_groups, vec![9, 10]);
    assert_eq!(sian_account.houses, vec!["Brontë".to_string()]);
    let kwame = accounts
        .iter()
        .find(|a| a.email == "k.mensah@northpark.example")
        .expect("Kwame");
    assert_eq!(
        kwame.houses,
        vec!["Austen".to_string(), "Brontë".to_string()]
    );

    let emails = link_emails(&app);
    assert_eq!(emails.len(), 5, "one invitation each");
    let (to, text) = &emails[0];
    assert_eq!(to, "s.oneill@northpark.example");
    assert!(text.contains("Hello Ms Siân O'Neill,"), "{text}");
    assert!(text.contains("North Park School"), "{text}");
    assert!(
        text.contains("http://127.0.0.1:8080/account/password?token="),
        "{text}"
    );
    assert_eq!(token_in(text).len(), 64);
    let stored: Vec<String> = account_links::table
        .select(account_links::token_hash)
        .load(&mut *app.conn())
        .expect("links");
    assert!(
        !stored.contains(&token_in(text)),
        "only the token's hash is stored"
    );

    let again = app.cli(&["import", "staff", &fixture(), "--invite"], "");
    let said = String::from_utf8_lossy(&again.stdout);
    assert!(again.status.success());
    assert!(
        said.contains("0 added, 0 changed, 0 marked left, 5 unchanged"),
        "{said}"
    );
    assert_eq!(app.staff_count(), before + 5, "twice changes nothing");
    assert_eq!(link_emails(&app).len(), 5, "and invites nobody again");

    let bad = app.data_dir.join("bad-staff.csv");
    std::fs::create_dir_all(&app.data_dir).expect("the data folder");
    std::fs::write(
        &bad,
        "Name,Email Address,Roles\n\
         Nia Newcomer,nia@northpark.example,Teacher\n\
         Bob Jones,bob-at-northpark,Caretaker\n\
         Nia Again,NIA@northpark.example,SLT\n",
    )
    .expect("writing the file");
    let refused = app.cli(&["import", "staff", &bad.to_string_lossy()], "");
    let errors = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success(), "a bad row fails the import");
    assert!(errors.contains("line 3, column Email Address"), "{errors}");
    assert!(
        errors.contains("line 3, column Roles: \"Caretaker\" is not a role"),
        "{errors}"
    );
    assert!(
        errors.contains(
            "line 4, column Email Address: the email nia@northpark.example is also on line 2"
        ),
        "{errors}"
    );
    assert!(errors.contains("nothing was written"), "{errors}");
    assert_eq!(app.staff_count(), before + 5, "a bad row writes nothing");
}

async fn importing_staff_through_the_api(engine: Engine) {
    let app = spawn_app(engine).await;
    let (school, _admin, token) = app.school_with_admin("NORTH");
    let file = std::fs::read(fixture()).expect("the fixture");
    let before = app.staff_count();

    let (status, body) = post_file(&app, "/api/v1/imports/staff?dry_run=true", &token, &file).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["added"], 5);
    assert_eq!(body["applied"], false);
    assert_eq!(app.staff_count(), before);

    let (status, body) = post_file(&app, "/api/v1/imports/staff?full=true", &token, &file).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"]["field"], "full", "no whole-roll staff import");

    let (status, body) = post_file(&app, "/api/v1/imports/staff?invite=true", &token, &file).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        (body["added"].as_u64(), body["applied"].as_bool()),
        (Some(5), Some(true))
    );
    assert_eq!(body["details"][0]["name"], "Ms Siân O'Neill");
    assert_eq!(link_emails(&app).len(), 5);

    let changed = "Email,Name,Roles,Year Groups\n\
                   s.oneill@northpark.example,Ms Siân O'Neill,Head of Year,Year 11\n";
    let (status, body) = post_file(&app, "/api/v1/imports/staff", &token, changed.as_bytes()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["changed"], 1);
    let changes = body["details"][0]["changes"].as_array().expect("changes");
    let fields: Vec<&str> = changes.iter().filter_map(|c| c["field"].as_str()).collect();
    assert_eq!(
        fields,
        vec!["roles", "year_groups"],
        "houses are not in the file: kept"
    );

    let bad = "Email,Name\nnot-an-email,Kim Lee\n";
    let (status, body) = post_file(&app, "/api/v1/imports/staff", &token, bad.as_bytes()).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["errors"][0]["line"], 2);
    assert_eq!(body["errors"][0]["column"], "Email");
    assert_eq!(app.staff_count(), before + 5);

    let teacher = app.create_staff(&school, "t@northpark.example", "Tess", &[Role::Slt], None);
    let teacher_token = app.create_token(&teacher);
    let (status, _) = post_file(&app, "/api/v1/imports/staff", &teacher_token, &file).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "only administrators import");
}

async fn an_invitation_link_sets_a_password_once(engine: Engine) {
    let app = spawn_app(engine).await;
    let (_school, _admin, token) = app.school_with_admin("NORTH");
    let file = std::fs::read(fixture()).expect("the fixture");
    let (status, _) = post_file(&app, "/api/v1/imports/staff?invite=true", &token, &file).await;
    assert_eq!(status, StatusCode::OK);
    let link = format!(
        "/account/password?token={}",
        latest_token_for(&app, "s.oneill@northpark.example")
    );

    let client = page_client();
    let (status, html) = page(&app, &client, &link).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(
        html.contains("Welcome to Steadfast, Ms Siân O&#39;Neill")
            || html.contains("Welcome to Steadfast, Ms Siân O'Neill"),
        "{html}"
    );

    let weak = app
        .submit_form(
            &client,
            &link,
            "/account/password",
            &[
                ("token", &link[24..]),
                ("password", "password1234"),
                ("confirm", "password1234"),
            ],
        )
        .await;
    assert_eq!(weak.status(), StatusCode::BAD_REQUEST);
    let html = weak.text().await.expect("the page");
    assert!(
        problem_at(&html, "password").contains("easy to guess"),
        "{html}"
    );

    let mismatch = app
        .submit_form(
            &client,
            &link,
            "/account/password",
            &[
                ("token", &link[24..]),
                ("password", "plum kettle orbit"),
                ("confirm", "plum kettle orbits"),
            ],
        )
        .await;
    assert_eq!(mismatch.status(), StatusCode::BAD_REQUEST);
    assert!(problem_at(&mismatch.text().await.expect("page"), "confirm").contains("not the same"));

    let chosen = app
        .submit_form(
            &client,
            &link,
            "/account/password",
            &[
                ("token", &link[24..]),
                ("password", "plum kettle orbit"),
                ("confirm", "plum kettle orbit"),
            ],
        )
        .await;
    assert_eq!(chosen.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&chosen), "/");
    let (status, _) = page(&app, &client, "/").await;
    assert_eq!(status, StatusCode::OK, "signed in straight away");

    let fresh = page_client();
    let signed = app
        .login(&fresh, "s.oneill@northpark.example", "plum kettle orbit")
        .await;
    assert_eq!(
        signed.status(),
        StatusCode::SEE_OTHER,
        "the new password signs in"
    );

    let (status, html) = page(&app, &page_client(), &link).await;
    assert_eq!(status, StatusCode::GONE);
    assert!(html.contains("used already"), "{html}");
    assert!(html.contains("/login/reset"), "says how to get a new one");
    let reused = app
        .submit_form(
            &fresh,
            "/login/reset",
            "/account/password",
            &[
                ("token", &link[24..]),
                ("password", "another fine phrase"),
                ("confirm", "another fine phrase"),
            ],
        )
        .await;
    assert_eq!(reused.status(), StatusCode::GONE, "a used link is refused");

    let tomas = latest_token_for(&app, "t.obriain@northpark.example");
    diesel::update(
        account_links::table
            .filter(account_links::token_hash.eq(steadfast::accounts::hash_secret(&tomas))),
    )
    .set(account_links::expires_at.eq((Utc::now() - TimeDelta::minutes(1)).naive_utc()))
    .execute(&mut *app.conn())
    .expect("ageing the link");
    let (status, html) = page(
        &app,
        &page_client(),
        &format!("/account/password?token={tomas}"),
    )
    .await;
    assert_eq!(status, StatusCode::GONE);
    assert!(html.contains("expired"), "{html}");

    let (status, html) = page(&app, &page_client(), "/account/password?token=0123abcd").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(html.contains("not one Steadfast knows"), "{html}");

    let used: i64 = audit_log::table
        .filter(audit_log::action.eq("account.password_set"))
        .count()
        .get_result(&mut *app.conn())
        .expect("audit");
    assert_eq!(used, 1, "setting a password is audited");
}

async fn reset_answers_the_same_for_known_and_unknown_addresses(engine: Engine) {
    let app = spawn_app(engine).await;
    let (school, _) = school_with_signed_admin(&app);
    app.create_staff(
        &school,
        "kim@northpark.example",
        "Kim Lee",
        &[Role::ClassStaff],
        Some(PASSWORD),
    );
    let client = page_client();
    let (status, login) = page(&app, &client, "/login").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        login.contains("href=\"/login/reset\""),
        "the sign-in page links to the reset"
    );

    let known = app
        .submit_form(
            &client,
            "/login/reset",
            "/login/reset",
            &[("email", "Kim@NorthPark.example")],
        )
        .await;
    assert_eq!(known.status(), StatusCode::OK);
    let known = known.text().await.expect("page");
    let unknown = app
        .submit_form(
            &client,
            "/login/reset",
            "/login/reset",
            &[("email", "nobody@northpark.example")],
        )
        .await;
    assert_eq!(unknown.status(), StatusCode::OK);
    let unknown = unknown.text().await.expect("page");
    assert_eq!(known, unknown, "the same answer either way");
    assert!(known.contains("If an account uses this address"));

    let emails = link_emails(&app);
    assert_eq!(emails.len(), 1, "an email only for the known address");
    assert_eq!(emails[0].0, "kim@northpark.example");
    assert!(emails[0].1.contains("Reset") || emails[0].1.contains("reset"));

    let audits: Vec<(String, String)> = audit_log::table
        .filter(audit_log::action.like("account.%"))
        .order(audit_log::id)
        .select((audit_log::action, audit_log::detail))
        .load(&mut *app.conn())
        .expect("audit");
    assert_eq!(audits.len(), 2, "{audits:?}");
    assert_eq!(audits[0].0, "account.reset_link");
    assert_eq!(audits[1].0, "account.reset_asked");
    assert!(
        !audits[1].1.contains("nobody"),
        "the typed address is not kept"
    );

    let again = app
        .submit_form(
            &client,
            "/login/reset",
            "/login/reset",
            &[("email", "kim@northpark.example")],
        )
        .await;
    assert_eq!(again.status(), StatusCode::OK);
    assert_eq!(
        link_emails(&app).len(),
        1,
        "asked again within minutes: no second email"
    );

    let token = latest_token_for(&app, "kim@northpark.example");
    let link = format!("/account/password?token={token}");
    let chosen = app
        .submit_form(
            &client,
            &link,
            "/account/password",
            &[
                ("token", token.as_str()),
                ("password", "quiet lantern harbour"),
                ("confirm", "quiet lantern harbour"),
            ],
        )
        .await;
    assert_eq!(chosen.status(), StatusCode::SEE_OTHER);
    let old = app
        .login(&page_client(), "kim@northpark.example", PASSWORD)
        .await;
    assert_eq!(
        old.status(),
        StatusCode::UNAUTHORIZED,
        "the old password stops working"
    );
    let new = app
        .login(
            &page_client(),
            "kim@northpark.example",
            "quiet lantern harbour",
        )
        .await;
    assert_eq!(new.status(), StatusCode::SEE_OTHER);
}

async fn a_deactivated_person_cannot_sign_in_or_use_tokens(engine: Engine) {
    let app = spawn_app(engine).await;
    let (school, _) = school_with_signed_admin(&app);
    let kim = app.create_staff(
        &school,
        "kim@northpark.example",
        "Kim Lee",
        &[Role::ClassStaff],
        Some(PASSWORD),
    );
    let kim_token = app.create_token(&kim);
    let (status, _) = app.api_get("/api/v1/staff", &kim_token).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "the token works (and its owner is now cached)"
    );
    let kim_pages = page_client();
    assert_eq!(
        app.login(&kim_pages, "kim@northpark.example", PASSWORD)
            .await
            .status(),
        StatusCode::SEE_OTHER
    );

    let admin = page_client();
    assert_eq!(
        app.login(&admin, "head@northpark.example", PASSWORD)
            .await
            .status(),
        StatusCode::SEE_OTHER
    );
    let path = format!("/admin/staff/{}", kim.id);
    let done = app
        .submit_form(&admin, &path, &format!("{path}/deactivate"), &[])
        .await;
    assert_eq!(done.status(), StatusCode::SEE_OTHER);

    let (status, body) = app.api_get("/api/v1/staff", &kim_token).await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "the token stops at once: {body}"
    );
    let refused = app
        .login(&page_client(), "kim@northpark.example", PASSWORD)
        .await;
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED, "cannot sign in");
    let (status, _) = page(&app, &kim_pages, "/").await;
    assert_eq!(status, StatusCode::SEE_OTHER, "an open session ends too");
    let (_, _, active, password) = staff_named(&app, "kim@northpark.example");
    assert!(!active);
    assert!(password.is_some(), "the account and its history are kept");

    let (_, html) = page(&app, &admin, "/admin/staff").await;
    assert!(html.contains("deactivated"), "the list says so");
    let done = app
        .submit_form(&admin, &path, &format!("{path}/reactivate"), &[])
        .await;
    assert_eq!(done.status(), StatusCode::SEE_OTHER);
    let (status, _) = app.api_get("/api/v1/staff", &kim_token).await;
    assert_eq!(status, StatusCode::OK, "reactivated: the token works again");
    let actions: Vec<String> = audit_log::table
        .filter(audit_log::entity_id.eq(kim.id))
        .order(audit_log::id)
        .select(audit_log::action)
        .load(&mut *app.conn())
        .expect("audit");
    assert_eq!(actions, vec!["staff.deactivate", "staff.reactivate"]);
}

async fn the_staff_page_adds_edits_and_deactivates(engine: Engine) {
    let app = spawn_app(engine).await;
    let (school, admin_id) = school_with_signed_admin(&app);
    let admin = page_client();
    assert_eq!(
        app.login(&admin, "head@northpark.example", PASSWORD)
            .await
            .status(),
        StatusCode::SEE_OTHER
    );
    let (status, html) = page(&app, &admin, "/admin/staff").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains("href=\"/admin/import?kind=staff\""),
        "links to the file import"
    );
    assert!(html.contains("Hana Head"));

    let bad = app
        .submit_form(
            &admin,
            "/admin/staff",
            "/admin/staff",
            &[
                ("email", "siân at school"),
                ("name", "Siân O'Neill"),
                ("roles", "class_staff"),
            ],
        )
        .await;
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    let html = bad.text().await.expect("page");
    assert!(
        problem_at(&html, "email").contains("email address"),
        "{html}"
    );
    assert!(
        html.contains("value=\"Siân O&#39;Neill\"") || html.contains("value=\"Siân O'Neill\""),
        "typed values kept"
    );

    let taken = app
        .submit_form(
            &admin,
            "/admin/staff",
            "/admin/staff",
            &[
                ("email", "HEAD@northpark.example"),
                ("name", "Another Head"),
                ("roles", "slt"),
            ],
        )
        .await;
    assert_eq!(taken.status(), StatusCode::CONFLICT);
    assert!(problem_at(&taken.text().await.expect("page"), "email").contains("already exists"));

    let no_role = app
        .submit_form(
            &admin,
            "/admin/staff",
            "/admin/staff",
            &[
                ("email", "s.oneill@northpark.example"),
                ("name", "Siân O'Neill"),
                ("year_groups", "Year 15"),
            ],
        )
        .await;
    assert_eq!(no_role.status(), StatusCode::BAD_REQUEST);
    assert!(problem_at(&no_role.text().await.expect("page"), "roles").contains("at least one role"));
    let before = app.staff_count();

    let added = app
        .submit_form(
            &admin,
            "/admin/staff",
            "/admin/staff",
            &[
                ("email", "S.ONeill@northpark.example"),
                ("name", "Siân O'Neill"),
                ("roles", "class_staff"),
                ("roles", "pastoral_lead"),
                ("year_groups", "9, 10"),
                ("houses", "Brontë"),
                ("invite", "on"),
            ],
        )
        .await;
    assert_eq!(added.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.staff_count(), before + 1);
    let (sian, name, _, _) = staff_named(&app, "s.oneill@northpark.example");
    assert_eq!(name, "Siân O'Neill");
    assert_eq!(roles_of(&app, sian), vec!["class_staff", "pastoral_lead"]);
    assert_eq!(link_emails(&app).len(), 1, "invited");

    let path = format!("/admin/staff/{sian}");
    let bad_year = app
        .submit_form(
            &admin,
            &path,
            &path,
            &[
                ("name", "Siân O'Neill"),
                ("roles", "pastoral_lead"),
                ("year_groups", "Year 15"),
            ],
        )
        .await;
    assert_eq!(bad_year.status(), StatusCode::BAD_REQUEST);
    assert!(
        problem_at(&bad_year.text().await.expect("page"), "year_groups")
            .contains("not a year group")
    );

    let saved = app
        .submit_form(
            &admin,
            &path,
            &path,
            &[
                ("name", "Siân O'Neill-Price"),
                ("roles", "pastoral_lead"),
                ("roles", "sendco"),
                ("year_groups", "11"),
                ("houses", ""),
            ],
        )
        .await;
    assert_eq!(saved.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        staff_named(&app, "s.oneill@northpark.example").1,
        "Siân O'Neill-Price"
    );
    assert_eq!(roles_of(&app, sian), vec!["pastoral_lead", "sendco"]);
    let account = steadfast::db::staff::account(&mut app.conn(), school.id, sian).expect("account");
    assert_eq!(
        (account.year_groups, account.houses),
        (vec![11], Vec::<String>::new())
    );

    let resent = app
        .submit_form(&admin, &path, &format!("{path}/invite"), &[])
        .await;
    assert_eq!(resent.status(), StatusCode::SEE_OTHER);
    assert_eq!(link_emails(&app).len(), 2, "the invitation sent again");
    let live: i64 = account_links::table
        .filter(account_links::staff_id.eq(sian))
        .filter(account_links::revoked_at.is_null())
        .count()
        .get_result(&mut *app.conn())
        .expect("links");
    assert_eq!(live, 1, "the newer invitation replaces the older one");

    let me = format!("/admin/staff/{admin_id}");
    let demote = app
        .submit_form(&admin, &me, &me, &[("name", "Hana Head"), ("roles", "slt")])
        .await;
    assert_eq!(demote.status(), StatusCode::BAD_REQUEST);
    assert!(problem_at(&demote.text().await.expect("page"), "roles").contains("from yourself"));
    let myself = app
        .submit_form(&admin, &me, &format!("{me}/deactivate"), &[])
        .await;
    assert_eq!(myself.status(), StatusCode::BAD_REQUEST);
    assert!(
        staff_named(&app, "head@northpark.example").2,
        "still active"
    );

    let gone = app
        .submit_form(&admin, &path, &format!("{path}/deactivate"), &[])
        .await;
    assert_eq!(gone.status(), StatusCode::SEE_OTHER);
    assert!(!staff_named(&app, "s.oneill@northpark.example").2);

    let slt = page_client();
    app.create_staff(
        &school,
        "slt@northpark.example",
        "Sam Senior",
        &[Role::Slt],
        Some(PASSWORD),
    );
    assert_eq!(
        app.login(&slt, "slt@northpark.example", PASSWORD)
            .await
            .status(),
        StatusCode::SEE_OTHER
    );
    let (status, _) = page(&app, &slt, "/admin/staff").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "administrators only");
    let (_, home) = page(&app, &slt, "/").await;
    let forbidden = client_post(
        &slt,
        &app,
        "/admin/staff",
        &csrf_token_in(&home),
        &[
            ("email", "x@northpark.example"),
            ("name", "X"),
            ("roles", "admin"),
        ],
    )
    .await;
    assert_eq!(forbidden, StatusCode::FORBIDDEN);
    let forbidden = client_post(
        &slt,
        &app,
        &format!("{path}/reactivate"),
        &csrf_token_in(&home),
        &[],
    )
    .await;
    assert_eq!(forbidden, StatusCode::FORBIDDEN);
}

async fn client_post(
    client: &reqwest::Client,
    app: &TestApp,
    path: &str,
    csrf: &str,
    fields: &[(&str, &str)],
) -> StatusCode {
    let mut form: Vec<(&str, &str)> = vec![("csrf_token", csrf)];
    form.extend_from_slice(fields);
    client
        .post(app.url(path))
        .form(&form)
        .send()
        .await
        .expect("an answer")
        .status()
}

both_engines!(
    importing_staff_from_the_command_line,
    importing_staff_through_the_api,
    an_invitation_link_sets_a_password_once,
    reset_answers_the_same_for_known_and_unknown_addresses,
    a_deactivated_person_cannot_sign_in_or_use_tokens,
    the_staff_page_adds_edits_and_deactivates,
);
