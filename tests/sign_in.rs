//! Sign-in and sessions as a school's data protection officer expects them: a session ends
//! for good when its person signs out, is deactivated, changes their password or is signed
//! out everywhere, and when idle or too old; failed sign-ins make the next attempt wait;
//! API tokens have names and expiries and stop working the moment they are revoked.

mod common;

use chrono::{TimeDelta, Utc};
use diesel::prelude::*;
use reqwest::{header, StatusCode};

use common::{both_engines, csrf_token_in, location, Engine, Role, TestApp, PASSWORD};
use steadfast::db::schema::{audit_log, schools, sessions};

/// A client with no cookie store, so a test can replay a copied cookie by hand.
fn bare_client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("an HTTP client")
}

/// A page client that comes, as far as Steadfast can tell, from `address` (a proxy on the
/// same machine forwards it).
fn client_from(address: &str) -> reqwest::Client {
    let mut headers = header::HeaderMap::new();
    headers.insert(
        "X-Forwarded-For",
        header::HeaderValue::from_str(address).expect("an address"),
    );
    reqwest::Client::builder()
        .cookie_store(true)
        .default_headers(headers)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("an HTTP client")
}

/// Signs in with a fresh client; answers the client and the session cookie it was given
/// (`name=value`), as someone copying it from the browser would have it.
async fn signed_in(app: &TestApp, email: &str) -> (reqwest::Client, String) {
    let client = common::page_client();
    let response = app.login(&client, email, PASSWORD).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER, "signing in");
    let cookie = response
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("steadfast_session="))
        .and_then(|v| v.split(';').next())
        .expect("a session cookie")
        .to_string();
    (client, cookie)
}

/// The status of a page fetched with a copied cookie.
async fn with_cookie(app: &TestApp, cookie: &str, path: &str) -> StatusCode {
    bare_client()
        .get(app.url(path))
        .header(header::COOKIE, cookie)
        .send()
        .await
        .expect("an answer")
        .status()
}

fn setup(
    app: &TestApp,
) -> (
    steadfast::db::models::School,
    steadfast::db::staff::StaffMember,
) {
    let school = app.create_school("NORTH", "North Academy");
    app.create_staff(
        &school,
        "admin@north.example",
        "Ada Admin",
        &[Role::Admin],
        Some(PASSWORD),
    );
    let teacher = app.create_staff(
        &school,
        "tess@north.example",
        "Tess Teacher",
        &[Role::ClassStaff],
        Some(PASSWORD),
    );
    (school, teacher)
}

async fn signing_out_ends_the_session_for_a_copied_cookie_too(engine: Engine) {
    let app = common::spawn_app(engine).await;
    setup(&app);
    let (client, cookie) = signed_in(&app, "tess@north.example").await;
    assert_eq!(with_cookie(&app, &cookie, "/pupils").await, StatusCode::OK);

    let out = app.submit_form(&client, "/", "/logout", &[]).await;
    assert_eq!(out.status(), StatusCode::SEE_OTHER);

    assert_eq!(
        with_cookie(&app, &cookie, "/pupils").await,
        StatusCode::SEE_OTHER,
        "the copied cookie still reads pages after signing out"
    );
    let stored: i64 = sessions::table
        .filter(sessions::staff_id.is_not_null())
        .count()
        .get_result(&mut *app.conn())
        .expect("a count");
    assert_eq!(stored, 0, "the signed-in session row is gone");
}

async fn deactivating_or_signing_out_everywhere_ends_every_session(engine: Engine) {
    let app = common::spawn_app(engine).await;
    let (_, teacher) = setup(&app);
    let (admin, _) = signed_in(&app, "admin@north.example").await;
    let (_, phone) = signed_in(&app, "tess@north.example").await;
    let (_, laptop) = signed_in(&app, "tess@north.example").await;
    let staff_page = format!("/admin/staff/{}", teacher.id);

    let everywhere = app
        .submit_form(&admin, &staff_page, &format!("{staff_page}/sign-out"), &[])
        .await;
    assert_eq!(everywhere.status(), StatusCode::SEE_OTHER);
    for cookie in [&phone, &laptop] {
        assert_eq!(
            with_cookie(&app, cookie, "/pupils").await,
            StatusCode::SEE_OTHER
        );
    }

    let (_, again) = signed_in(&app, "tess@north.example").await;
    assert_eq!(with_cookie(&app, &again, "/pupils").await, StatusCode::OK);
    let closed = app
        .submit_form(
            &admin,
            &staff_page,
            &format!("{staff_page}/deactivate"),
            &[],
        )
        .await;
    assert_eq!(closed.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        with_cookie(&app, &again, "/pupils").await,
        StatusCode::SEE_OTHER
    );
    let audited: i64 = audit_log::table
        .filter(audit_log::action.eq("session.end"))
        .filter(audit_log::entity_id.eq(teacher.id))
        .count()
        .get_result(&mut *app.conn())
        .expect("a count");
    assert_eq!(audited, 1);
}

async fn changing_the_password_signs_out_the_other_devices(engine: Engine) {
    let app = common::spawn_app(engine).await;
    setup(&app);
    let (laptop, _) = signed_in(&app, "tess@north.example").await;
    let (_, phone) = signed_in(&app, "tess@north.example").await;
    let new_password = "plum kettle orbit lantern";

    for (padded, field) in [
        ("          ", "password"),
        ("short words", "password"),
        (" plum kettle orbit lantern", "password"),
        ("password1234", "password"),
    ] {
        let refused = app
            .submit_form(
                &laptop,
                "/account/password",
                "/account/password",
                &[
                    ("current", PASSWORD),
                    ("password", padded),
                    ("confirm", padded),
                ],
            )
            .await;
        assert_eq!(refused.status(), StatusCode::BAD_REQUEST, "{padded:?}");
        let page = refused.text().await.expect("the form again");
        assert!(
            page.contains(&format!(r#"data-error-for="{field}" role="alert">"#)),
            "{padded:?}: {page}"
        );
    }
    let wrong = app
        .submit_form(
            &laptop,
            "/account/password",
            "/account/password",
            &[
                ("current", "not my password at all"),
                ("password", new_password),
                ("confirm", new_password),
            ],
        )
        .await;
    assert_eq!(wrong.status(), StatusCode::BAD_REQUEST);

    let changed = app
        .submit_form(
            &laptop,
            "/account/password",
            "/account/password",
            &[
                ("current", PASSWORD),
                ("password", new_password),
                ("confirm", new_password),
            ],
        )
        .await;
    assert_eq!(changed.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        app.get_page(&laptop, "/pupils").await.status(),
        StatusCode::OK,
        "the device that changed it stays signed in"
    );
    assert_eq!(
        with_cookie(&app, &phone, "/pupils").await,
        StatusCode::SEE_OTHER
    );
    let old = app
        .login(&common::page_client(), "tess@north.example", PASSWORD)
        .await;
    assert_eq!(old.status(), StatusCode::UNAUTHORIZED);
    let new = app
        .login(&common::page_client(), "tess@north.example", new_password)
        .await;
    assert_eq!(new.status(), StatusCode::SEE_OTHER);
}

async fn idle_and_old_sessions_end_by_the_school_limits(engine: Engine) {
    let app = common::spawn_app(engine).await;
    let (school, _) = setup(&app);
    let (_, idle) = signed_in(&app, "tess@north.example").await;
    let (_, old) = signed_in(&app, "admin@north.example").await;
    let (_, fresh) = signed_in(&app, "tess@north.example").await;
    diesel::update(schools::table.find(school.id))
        .set((
            schools::session_idle_minutes.eq(15),
            schools::session_lifetime_hours.eq(8),
        ))
        .execute(&mut *app.conn())
        .expect("school limits");
    let now = Utc::now().naive_utc();
    let hash_of = |cookie: &str| {
        // The cookie is signed: its value is the key after the signature.
        let value = cookie.split_once('=').map(|(_, v)| v).unwrap_or_default();
        let decoded = percent_encoding::percent_decode_str(value)
            .decode_utf8_lossy()
            .to_string();
        let key = &decoded[decoded.len() - 64..];
        steadfast::accounts::hash_secret(key)
    };
    diesel::update(sessions::table.filter(sessions::key_hash.eq(hash_of(&idle))))
        .set(sessions::last_seen_at.eq(now - TimeDelta::minutes(16)))
        .execute(&mut *app.conn())
        .expect("an idle session");
    diesel::update(sessions::table.filter(sessions::key_hash.eq(hash_of(&old))))
        .set(sessions::created_at.eq(now - TimeDelta::hours(8) - TimeDelta::minutes(1)))
        .execute(&mut *app.conn())
        .expect("an old session");

    assert_eq!(
        with_cookie(&app, &idle, "/pupils").await,
        StatusCode::SEE_OTHER
    );
    assert_eq!(
        with_cookie(&app, &old, "/pupils").await,
        StatusCode::SEE_OTHER
    );
    assert_eq!(with_cookie(&app, &fresh, "/pupils").await, StatusCode::OK);

    let output = app.cli(&["jobs", "run", "--once"], "");
    assert!(output.status.success(), "{output:?}");
    let signed_in_rows: i64 = sessions::table
        .filter(sessions::staff_id.is_not_null())
        .count()
        .get_result(&mut *app.conn())
        .expect("a count");
    assert_eq!(signed_in_rows, 1, "the jobs clear out the expired sessions");
}

async fn administrators_set_how_long_sessions_last(engine: Engine) {
    let app = common::spawn_app(engine).await;
    let (school, _) = setup(&app);
    let (admin, _) = signed_in(&app, "admin@north.example").await;
    let (teacher, _) = signed_in(&app, "tess@north.example").await;
    let refused = app
        .submit_form(
            &admin,
            "/admin/sign-in",
            "/admin/sign-in/sessions",
            &[
                ("session_idle_minutes", "4"),
                ("session_lifetime_hours", "8"),
            ],
        )
        .await;
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    let page = refused.text().await.expect("the form again");
    assert!(
        page.contains(r#"data-error-for="session_idle_minutes" role="alert">an idle timeout"#),
        "{page}"
    );
    assert!(page.contains(r#"value="4""#), "what was typed is kept");

    let saved = app
        .submit_form(
            &admin,
            "/admin/sign-in",
            "/admin/sign-in/sessions",
            &[
                ("session_idle_minutes", "30"),
                ("session_lifetime_hours", "8"),
            ],
        )
        .await;
    assert_eq!(saved.status(), StatusCode::SEE_OTHER);
    let stored: (i32, i32) = schools::table
        .find(school.id)
        .select((
            schools::session_idle_minutes,
            schools::session_lifetime_hours,
        ))
        .first(&mut *app.conn())
        .expect("the school");
    assert_eq!(stored, (30, 8));
    let forbidden = app
        .submit_form(
            &teacher,
            "/account/sessions",
            "/admin/sign-in/sessions",
            &[
                ("session_idle_minutes", "480"),
                ("session_lifetime_hours", "168"),
            ],
        )
        .await;
    assert_eq!(forbidden.status(), StatusCode::FORBIDDEN);
}

async fn the_sessions_page_lists_devices_and_ends_one(engine: Engine) {
    let app = common::spawn_app(engine).await;
    setup(&app);
    let phone = common::page_client();
    let android = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Mobile Safari/537.36";
    let form = phone
        .get(app.url("/login"))
        .header(header::USER_AGENT, android)
        .send()
        .await
        .expect("login page");
    let csrf = csrf_token_in(&form.text().await.expect("a page"));
    let signed = phone
        .post(app.url("/login"))
        .header(header::USER_AGENT, android)
        .form(&[
            ("csrf_token", csrf.as_str()),
            ("email", "tess@north.example"),
            ("password", PASSWORD),
        ])
        .send()
        .await
        .expect("signing in");
    assert_eq!(signed.status(), StatusCode::SEE_OTHER);
    let (laptop, _) = signed_in(&app, "tess@north.example").await;

    let page = app.get_page(&laptop, "/account/sessions").await;
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.expect("the page");
    assert!(html.contains("Chrome on Android"), "{html}");
    assert!(html.contains("this device"), "{html}");
    let ends: Vec<&str> = html
        .match_indices("/account/sessions/")
        .map(|(i, _)| &html[i..])
        .collect();
    assert_eq!(ends.iter().filter(|s| s.contains("/end\"")).count(), 2);

    let ended = app
        .submit_form(
            &laptop,
            "/account/sessions",
            "/account/sessions/end-others",
            &[],
        )
        .await;
    assert_eq!(ended.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        app.get_page(&phone, "/pupils").await.status(),
        StatusCode::SEE_OTHER
    );
    assert_eq!(
        app.get_page(&laptop, "/pupils").await.status(),
        StatusCode::OK
    );
}

async fn repeated_failures_make_sign_in_wait_whoever_the_address_is(engine: Engine) {
    let app = common::spawn_app(engine).await;
    let (_, teacher) = setup(&app);
    let client = common::page_client();
    let mut statuses = Vec::new();
    for _ in 0..50 {
        let response = app
            .login(&client, "tess@north.example", "wrong password here")
            .await;
        statuses.push(response.status());
    }
    assert!(
        statuses[..5].iter().all(|s| *s == StatusCode::UNAUTHORIZED),
        "{statuses:?}"
    );
    assert!(
        statuses[5..]
            .iter()
            .all(|s| *s == StatusCode::TOO_MANY_REQUESTS),
        "{statuses:?}"
    );

    let right = app.login(&client, "tess@north.example", PASSWORD).await;
    assert_eq!(
        right.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "the right password while waiting"
    );
    let wait: i64 = right.headers()[header::RETRY_AFTER]
        .to_str()
        .expect("a header")
        .parse()
        .expect("seconds");
    assert!((1..=30).contains(&wait), "{wait}");
    let page = right.text().await.expect("a page");
    assert!(
        page.contains("Too many failed attempts to sign in"),
        "{page}"
    );

    let audited: Vec<String> = audit_log::table
        .filter(audit_log::entity_id.eq(teacher.id))
        .select(audit_log::action)
        .load(&mut *app.conn())
        .expect("audit");
    assert_eq!(audited.iter().filter(|a| *a == "sign_in_failed").count(), 5);
    assert_eq!(audited.iter().filter(|a| *a == "sign_in_locked").count(), 1);
}

async fn an_unknown_address_is_answered_like_a_wrong_password(engine: Engine) {
    let app = common::spawn_app(engine).await;
    setup(&app);
    let known = client_from("192.0.2.10");
    let unknown = client_from("192.0.2.20");
    for attempt in 0..7 {
        let a = app
            .login(&known, "tess@north.example", "wrong password here")
            .await;
        let b = app
            .login(&unknown, "nobody@north.example", "wrong password here")
            .await;
        assert_eq!(a.status(), b.status(), "attempt {attempt}");
        let strip = |html: String, email: &str| {
            let html = html.replace(email, "EMAIL");
            let csrf = csrf_token_in(&html);
            html.replace(&csrf, "CSRF")
        };
        let a = strip(a.text().await.expect("a page"), "tess@north.example");
        let b = strip(b.text().await.expect("a page"), "nobody@north.example");
        if attempt < 5 {
            assert_eq!(a, b, "attempt {attempt}");
        }
    }
}

async fn one_address_trying_many_accounts_waits_too(engine: Engine) {
    let app = common::spawn_app(engine).await;
    setup(&app);
    let sprayer = client_from("198.51.100.7");
    for n in 0..5 {
        let email = format!("guess{n}@north.example");
        let response = app.login(&sprayer, &email, "Winter2026!!").await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
    let next = app.login(&sprayer, "tess@north.example", PASSWORD).await;
    assert_eq!(next.status(), StatusCode::TOO_MANY_REQUESTS);
    let elsewhere = app
        .login(&client_from("203.0.113.9"), "tess@north.example", PASSWORD)
        .await;
    assert_eq!(
        elsewhere.status(),
        StatusCode::SEE_OTHER,
        "another address signs in"
    );
}

async fn tokens_have_names_and_expiry_and_revoking_works_at_once(engine: Engine) {
    let app = common::spawn_app(engine).await;
    setup(&app);
    let create = |name: &str| {
        let output = app.cli(
            &[
                "token",
                "create",
                "--email",
                "tess@north.example",
                "--name",
                name,
            ],
            "",
        );
        assert!(output.status.success(), "{output:?}");
        String::from_utf8_lossy(&output.stdout).trim().to_string()
    };
    let mis = create("mis sync");
    let report = create("reports");
    assert_eq!(app.api_get("/api/v1/pupils", &mis).await.0, StatusCode::OK);
    assert_eq!(
        app.api_get("/api/v1/pupils", &report).await.0,
        StatusCode::OK
    );

    let listed = app.cli(&["token", "list", "--email", "tess@north.example"], "");
    let listed = String::from_utf8_lossy(&listed.stdout).to_string();
    assert!(
        listed.contains("mis sync") && listed.contains("reports"),
        "{listed}"
    );
    assert!(!listed.contains(&mis), "a listing never shows a secret");

    let revoked = app.cli(
        &[
            "token",
            "revoke",
            "--email",
            "tess@north.example",
            "--name",
            "mis sync",
        ],
        "",
    );
    assert!(revoked.status.success(), "{revoked:?}");
    assert_eq!(
        app.api_get("/api/v1/pupils", &mis).await.0,
        StatusCode::UNAUTHORIZED,
        "a revoked token works on"
    );
    assert_eq!(
        app.api_get("/api/v1/pupils", &report).await.0,
        StatusCode::OK
    );

    let all = app.cli(&["token", "revoke", "--email", "tess@north.example"], "");
    assert!(all.status.success(), "{all:?}");
    assert_eq!(
        app.api_get("/api/v1/pupils", &report).await.0,
        StatusCode::UNAUTHORIZED
    );
    let none_left = app.cli(&["token", "revoke", "--email", "tess@north.example"], "");
    assert!(!none_left.status.success());

    let expiring = create("short lived");
    assert_eq!(
        app.api_get("/api/v1/pupils", &expiring).await.0,
        StatusCode::OK
    );
    diesel::update(steadfast::db::schema::api_tokens::table)
        .filter(steadfast::db::schema::api_tokens::name.eq("short lived"))
        .set(
            steadfast::db::schema::api_tokens::expires_at
                .eq(Some(Utc::now().naive_utc() - TimeDelta::seconds(1))),
        )
        .execute(&mut *app.conn())
        .expect("expiring it");
    assert_eq!(
        app.api_get("/api/v1/pupils", &expiring).await.0,
        StatusCode::UNAUTHORIZED
    );
}

async fn guessing_tokens_is_answered_with_a_wait(engine: Engine) {
    let app = common::spawn_app(engine).await;
    let (_, _, token) = app.school_with_admin("SOUTH");
    for _ in 0..5 {
        let (status, _) = app.api_get("/api/v1/pupils", "sf_guess").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    let response = reqwest::Client::new()
        .get(app.url("/api/v1/pupils"))
        .bearer_auth("sf_guess")
        .send()
        .await
        .expect("an answer");
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(response.headers().contains_key(header::RETRY_AFTER));
    let body: serde_json::Value = response.json().await.expect("json");
    common::assert_error_shape(&body);
    assert_eq!(body["error"]["code"], "too_many_attempts");
    let (status, _) = app.api_get("/api/v1/pupils", &token).await;
    assert_eq!(status, StatusCode::OK, "a working token is never held up");
}

async fn a_person_makes_and_revokes_their_own_tokens(engine: Engine) {
    let app = common::spawn_app(engine).await;
    setup(&app);
    let (client, _) = signed_in(&app, "tess@north.example").await;
    let empty = app
        .submit_form(
            &client,
            "/account/tokens",
            "/account/tokens",
            &[("name", " "), ("expires_in_days", "30")],
        )
        .await;
    assert_eq!(empty.status(), StatusCode::BAD_REQUEST);
    let made = app
        .submit_form(
            &client,
            "/account/tokens",
            "/account/tokens",
            &[("name", "my script"), ("expires_in_days", "30")],
        )
        .await;
    assert_eq!(made.status(), StatusCode::CREATED);
    let html = made.text().await.expect("a page");
    let start = html.find("sf_").expect("the new token shown once");
    let secret: String = html[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    assert_eq!(
        app.api_get("/api/v1/pupils", &secret).await.0,
        StatusCode::OK
    );

    let listing = app
        .get_page(&client, "/account/tokens")
        .await
        .text()
        .await
        .expect("a page");
    assert!(listing.contains("my script"));
    assert!(!listing.contains(&secret), "shown only once");
    let revoke = listing
        .find("/account/tokens/")
        .map(|i| {
            listing[i..]
                .split('"')
                .next()
                .unwrap_or_default()
                .to_string()
        })
        .expect("a revoke form");
    let revoked = app
        .submit_form(&client, "/account/tokens", &revoke, &[])
        .await;
    assert_eq!(
        revoked.status(),
        StatusCode::SEE_OTHER,
        "{}",
        location(&revoked)
    );
    assert_eq!(
        app.api_get("/api/v1/pupils", &secret).await.0,
        StatusCode::UNAUTHORIZED
    );
}

async fn weak_passwords_are_refused_on_the_command_line(engine: Engine) {
    let app = common::spawn_app(engine).await;
    app.create_school("NORTH", "North Academy");
    for weak in ["          ", "eleven char", "password1234"] {
        let output = app.cli(
            &[
                "user",
                "add",
                "--email",
                "new@north.example",
                "--name",
                "New Person",
                "--role",
                "class_staff",
                "--school",
                "NORTH",
            ],
            &format!("{weak}\n"),
        );
        assert!(!output.status.success(), "{weak:?} accepted");
        assert!(
            String::from_utf8_lossy(&output.stderr).contains("password"),
            "{output:?}"
        );
    }
}

both_engines!(
    signing_out_ends_the_session_for_a_copied_cookie_too,
    deactivating_or_signing_out_everywhere_ends_every_session,
    changing_the_password_signs_out_the_other_devices,
    idle_and_old_sessions_end_by_the_school_limits,
    the_sessions_page_lists_devices_and_ends_one,
    administrators_set_how_long_sessions_last,
    repeated_failures_make_sign_in_wait_whoever_the_address_is,
    an_unknown_address_is_answered_like_a_wrong_password,
    one_address_trying_many_accounts_waits_too,
    tokens_have_names_and_expiry_and_revoking_works_at_once,
    guessing_tokens_is_answered_with_a_wait,
    a_person_makes_and_revokes_their_own_tokens,
    weak_passwords_are_refused_on_the_command_line,
);
