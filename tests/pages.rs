//! The staff pages over HTTP: getting started, signing in and out, the session cookie,
//! finding a pupil, the pupil page, school isolation and HTML escaping. Every test runs on
//! SQLite and on PostgreSQL.

mod common;

use common::{both_engines, csrf_token_in, location, page_client, spawn_app, Engine, Role};
use common::{TestApp, PASSWORD};
use reqwest::StatusCode;
use steadfast::db::models::School;
use steadfast::db::staff::StaffMember;

const EMAIL: &str = "hana@north.example";

/// A school with one pastoral lead who can sign in with [`EMAIL`] and [`PASSWORD`].
async fn app_with_member(engine: Engine) -> (TestApp, School, StaffMember) {
    let app = spawn_app(engine).await;
    let school = app.create_school("NORTH", "North Academy");
    let member = app.create_staff(
        &school,
        EMAIL,
        "Hana Hussain",
        &[Role::PastoralLead],
        Some(PASSWORD),
    );
    (app, school, member)
}

/// A client signed in as the member of [`app_with_member`].
async fn signed_in(app: &TestApp) -> reqwest::Client {
    let client = page_client();
    let response = app.login(&client, EMAIL, PASSWORD).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER, "signing in");
    client
}

async fn body_of(response: reqwest::Response) -> String {
    response.text().await.expect("a page body")
}

async fn an_empty_deployment_shows_getting_started(engine: Engine) {
    let app = spawn_app(engine).await;

    let response = app.get_page(&page_client(), "/").await;

    assert_eq!(response.status(), StatusCode::OK);
    let page = body_of(response).await;
    assert!(page.contains("steadfast demo"), "{page}");
}

async fn login_on_an_empty_deployment_goes_to_getting_started(engine: Engine) {
    let app = spawn_app(engine).await;

    let response = app.get_page(&page_client(), "/login").await;

    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/");
}

async fn home_sends_strangers_to_login(engine: Engine) {
    let app = spawn_app(engine).await;
    app.create_school("NORTH", "North Academy");

    let response = app.get_page(&page_client(), "/").await;

    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/login");
}

async fn login_without_csrf_token_is_forbidden(engine: Engine) {
    let (app, _, _) = app_with_member(engine).await;
    let client = page_client();
    // A session (with its CSRF token) exists, but the form does not carry the token.
    app.get_page(&client, "/login").await;

    let response = client
        .post(app.url("/login"))
        .form(&[("email", EMAIL), ("password", PASSWORD)])
        .send()
        .await
        .expect("an answer");

    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let home = app.get_page(&client, "/").await;
    assert_eq!(
        home.status(),
        StatusCode::SEE_OTHER,
        "a session was started"
    );
    assert_eq!(location(&home), "/login");
}

async fn login_with_a_wrong_csrf_token_is_forbidden(engine: Engine) {
    let (app, _, _) = app_with_member(engine).await;
    let client = page_client();
    app.get_page(&client, "/login").await;

    let response = client
        .post(app.url("/login"))
        .form(&[
            ("csrf_token", "0".repeat(64).as_str()),
            ("email", EMAIL),
            ("password", PASSWORD),
        ])
        .send()
        .await
        .expect("an answer");

    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let home = app.get_page(&client, "/").await;
    assert_eq!(location(&home), "/login", "a session was started");
}

async fn login_with_a_wrong_password_shows_the_form_again(engine: Engine) {
    let (app, _, _) = app_with_member(engine).await;
    let client = page_client();

    let response = app.login(&client, EMAIL, "not the right password").await;

    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let page = body_of(response).await;
    assert!(page.contains("do not match"), "no message in {page}");
    assert!(page.contains(r#"action="/login""#), "no form in {page}");
    csrf_token_in(&page);
    let home = app.get_page(&client, "/").await;
    assert_eq!(location(&home), "/login", "a session was started");
}

async fn login_with_an_unknown_email_shows_the_form_again(engine: Engine) {
    let (app, _, _) = app_with_member(engine).await;
    let client = page_client();

    let response = app.login(&client, "nobody@north.example", PASSWORD).await;

    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(body_of(response).await.contains("do not match"));
}

async fn login_with_the_right_password_goes_home(engine: Engine) {
    let (app, _, _) = app_with_member(engine).await;
    let client = page_client();

    let response = app.login(&client, EMAIL, PASSWORD).await;

    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/");
    let home = app.get_page(&client, "/").await;
    assert_eq!(home.status(), StatusCode::OK);
    let page = body_of(home).await;
    assert!(page.contains("Hana Hussain"), "no member name in {page}");
    assert!(page.contains("North Academy"), "no school name in {page}");
}

async fn the_session_cookie_is_http_only_and_same_site(engine: Engine) {
    let (app, _, _) = app_with_member(engine).await;

    let response = app.login(&page_client(), EMAIL, PASSWORD).await;

    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let cookie = response
        .headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("steadfast_session="))
        .expect("the login sets the session cookie")
        .to_ascii_lowercase();
    assert!(cookie.contains("httponly"), "{cookie}");
    assert!(
        cookie.contains("samesite=lax") || cookie.contains("samesite=strict"),
        "{cookie}"
    );
}

async fn the_login_renews_the_session_cookie(engine: Engine) {
    let (app, _, _) = app_with_member(engine).await;
    let client = page_client();
    let before = app.get_page(&client, "/login").await;
    let cookie_of = |response: &reqwest::Response| {
        response
            .headers()
            .get_all(reqwest::header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|c| c.starts_with("steadfast_session="))
            .map(|c| c.split(';').next().unwrap_or_default().to_string())
    };
    let anonymous = cookie_of(&before).expect("the login form starts a session");
    let csrf = csrf_token_in(&body_of(before).await);

    let after = client
        .post(app.url("/login"))
        .form(&[
            ("csrf_token", csrf.as_str()),
            ("email", EMAIL),
            ("password", PASSWORD),
        ])
        .send()
        .await
        .expect("an answer");

    assert_eq!(after.status(), StatusCode::SEE_OTHER);
    let signed_in = cookie_of(&after).expect("the login sets a new session cookie");
    assert_ne!(anonymous, signed_in);
}

async fn pupils_are_found_by_name(engine: Engine) {
    let (app, school, _) = app_with_member(engine).await;
    let pupil = app.create_pupil(&school, "A123456789012", "Amira", "Okafor", 8, "8B");
    app.create_pupil(&school, "B123456789012", "Ben", "Ash", 8, "8B");
    let client = signed_in(&app).await;

    let response = app.get_page(&client, "/pupils?q=okaf").await;

    assert_eq!(response.status(), StatusCode::OK);
    let page = body_of(response).await;
    assert!(page.contains("Okafor, Amira"), "{page}");
    assert!(page.contains(&format!(r#"href="/pupils/{}""#, pupil.id)));
    assert!(!page.contains("Ash, Ben"), "a non-matching pupil is listed");
}

async fn the_pupil_page_shows_the_current_level(engine: Engine) {
    let (app, school, _) = app_with_member(engine).await;
    let pupil = app.create_pupil(&school, "A123456789012", "Amira", "Okafor", 8, "8B");
    let client = signed_in(&app).await;

    let response = app
        .get_page(&client, &format!("/pupils/{}", pupil.id))
        .await;

    assert_eq!(response.status(), StatusCode::OK);
    let page = body_of(response).await;
    assert!(page.contains("Amira Okafor"), "{page}");
    assert!(page.contains("A123456789012"), "{page}");
    assert!(page.contains("Current level"), "{page}");
    assert!(page.contains("No support level"), "{page}");
}

async fn another_schools_pupil_page_is_not_found(engine: Engine) {
    let (app, _, _) = app_with_member(engine).await;
    let south = app.create_school("SOUTH", "South School");
    let theirs = app.create_pupil(&south, "B123456789012", "Bea", "Bright", 8, "8B");
    let client = signed_in(&app).await;

    let response = app
        .get_page(&client, &format!("/pupils/{}", theirs.id))
        .await;

    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let page = body_of(response).await;
    assert!(!page.contains("Bright"), "the page leaks the pupil");
}

async fn another_schools_pupils_are_not_listed(engine: Engine) {
    let (app, _, _) = app_with_member(engine).await;
    let south = app.create_school("SOUTH", "South School");
    app.create_pupil(&south, "B123456789012", "Bea", "Bright", 8, "8B");
    let client = signed_in(&app).await;

    let response = app.get_page(&client, "/pupils?q=bright").await;

    assert_eq!(response.status(), StatusCode::OK);
    let page = body_of(response).await;
    assert!(!page.contains("Bright"), "{page}");
    assert!(page.contains("No pupil matches"), "{page}");
}

async fn pupil_pages_need_a_session(engine: Engine) {
    let (app, school, _) = app_with_member(engine).await;
    let pupil = app.create_pupil(&school, "A123456789012", "Amira", "Okafor", 8, "8B");

    for path in [
        "/pupils?q=okafor".to_string(),
        format!("/pupils/{}", pupil.id),
    ] {
        let response = app.get_page(&page_client(), &path).await;

        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{path}");
        assert_eq!(location(&response), "/login", "{path}");
    }
}

async fn logout_ends_the_session(engine: Engine) {
    let (app, _, _) = app_with_member(engine).await;
    let client = signed_in(&app).await;
    let home = body_of(app.get_page(&client, "/").await).await;
    let csrf = csrf_token_in(&home);

    let response = client
        .post(app.url("/logout"))
        .form(&[("csrf_token", csrf.as_str())])
        .send()
        .await
        .expect("an answer");

    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let after = app.get_page(&client, "/").await;
    assert_eq!(after.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&after), "/login");
}

async fn logout_without_csrf_token_keeps_the_session(engine: Engine) {
    let (app, _, _) = app_with_member(engine).await;
    let client = signed_in(&app).await;

    let response = client
        .post(app.url("/logout"))
        .send()
        .await
        .expect("an answer");

    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let home = app.get_page(&client, "/").await;
    assert_eq!(home.status(), StatusCode::OK, "the session ended");
}

async fn pupil_names_are_escaped(engine: Engine) {
    let (app, school, _) = app_with_member(engine).await;
    let pupil = app.create_pupil(
        &school,
        "A123456789012",
        "<script>alert(1)</script>",
        "Okafor",
        8,
        "8B",
    );
    let client = signed_in(&app).await;

    for path in [format!("/pupils/{}", pupil.id), "/pupils?q=okafor".into()] {
        let response = app.get_page(&client, &path).await;

        assert_eq!(response.status(), StatusCode::OK, "{path}");
        let page = body_of(response).await;
        assert!(page.contains("&lt;script&gt;alert(1)"), "{path}: {page}");
        assert!(!page.contains("<script>"), "{path}: unescaped: {page}");
    }
}

both_engines!(
    an_empty_deployment_shows_getting_started,
    login_on_an_empty_deployment_goes_to_getting_started,
    home_sends_strangers_to_login,
    login_without_csrf_token_is_forbidden,
    login_with_a_wrong_csrf_token_is_forbidden,
    login_with_a_wrong_password_shows_the_form_again,
    login_with_an_unknown_email_shows_the_form_again,
    login_with_the_right_password_goes_home,
    the_session_cookie_is_http_only_and_same_site,
    the_login_renews_the_session_cookie,
    pupils_are_found_by_name,
    the_pupil_page_shows_the_current_level,
    another_schools_pupil_page_is_not_found,
    another_schools_pupils_are_not_listed,
    pupil_pages_need_a_session,
    logout_ends_the_session,
    logout_without_csrf_token_keeps_the_session,
    pupil_names_are_escaped,
);
