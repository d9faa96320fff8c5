//! The second factor of password sign-in, through the pages: setting up an authenticator app
//! on `/account/security` (QR code, key read from the page, first code), signing in with codes,
//! recovery codes, turning it off, and the school setting that keeps members of some roles on
//! the security page until they set one up. Codes come from `oathtool` (an independent TOTP
//! implementation), never from Steadfast's own code.

mod common;

use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use diesel::prelude::*;
use reqwest::StatusCode;

use common::{
    both_engines, csrf_token_in, location, page_client, spawn_app, Engine, Role, TestApp, PASSWORD,
};
use steadfast::db::schema::{schools, second_factors};

both_engines!(
    codes_guard_password_sign_in,
    required_roles_keep_members_on_the_security_page,
);

/// Seconds since 1970.
fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("a clock after 1970")
        .as_secs()
}

/// The code `oathtool` gives for `secret` (base32) at `offset` seconds from now. Close to the
/// end of a 30-second step it first waits for the next one, so the server checks the code in
/// the same step it was made for.
async fn oathtool(secret: &str, offset: i64) -> String {
    if unix_now() % 30 >= 27 {
        tokio::time::sleep(Duration::from_secs(4)).await;
    }
    let at = unix_now() as i64 + offset;
    let output = Command::new("oathtool")
        .args(["--totp", "-b", "--now", &format!("@{at}"), secret])
        .output()
        .expect("oathtool to run (apt-get install oathtool)");
    assert!(output.status.success(), "oathtool: {output:?}");
    String::from_utf8(output.stdout)
        .expect("oathtool's code")
        .trim()
        .to_string()
}

/// A 6-digit code that none of the accepted steps of `secret` gives.
async fn wrong_code(secret: &str) -> String {
    let mut near = Vec::new();
    for offset in [-30, 0, 30] {
        near.push(oathtool(secret, offset).await);
    }
    ["000000", "000001", "000002", "000003"]
        .into_iter()
        .find(|code| !near.iter().any(|n| n == code))
        .expect("a wrong code")
        .to_string()
}

/// The text between `start` and the next `end` in a page.
fn between<'a>(html: &'a str, start: &str, end: &str) -> &'a str {
    let from = html
        .find(start)
        .unwrap_or_else(|| panic!("no {start:?} in the page:\n{html}"))
        + start.len();
    let length = html[from..].find(end).expect("the end of the text");
    &html[from..from + length]
}

/// The recovery codes listed on a page.
fn recovery_codes_in(html: &str) -> Vec<String> {
    let list = between(
        html,
        r#"<ol class="recovery-codes" id="recovery-codes">"#,
        "</ol>",
    );
    list.split("<li><code>")
        .skip(1)
        .map(|item| item.split("</code>").next().unwrap_or_default().to_string())
        .collect()
}

async fn page(app: &TestApp, client: &reqwest::Client, path: &str) -> (StatusCode, String, String) {
    let response = app.get_page(client, path).await;
    let (status, to) = (response.status(), location(&response));
    (status, to, response.text().await.expect("a page"))
}

/// Posts a form with the CSRF token of `from` (a page of the same session).
async fn post(
    app: &TestApp,
    client: &reqwest::Client,
    from: &str,
    path: &str,
    fields: &[(&str, &str)],
) -> (StatusCode, String, String) {
    let csrf = csrf_token_in(from);
    let mut form = vec![("csrf_token", csrf.as_str())];
    form.extend_from_slice(fields);
    let response = client
        .post(app.url(path))
        .form(&form)
        .send()
        .await
        .expect("an answer");
    let (status, to) = (response.status(), location(&response));
    (status, to, response.text().await.expect("a page"))
}

/// Forgets every run of failed sign-ins, as the wait after them running out would.
fn forget_failures(app: &TestApp) {
    use diesel::prelude::*;
    diesel::delete(steadfast::db::schema::login_failures::table)
        .execute(&mut *app.conn())
        .expect("forgetting failures");
}

/// Signs in with the password, then types `code` on `/login/code`; answers the answer to the
/// code.
async fn sign_in_with_code(
    app: &TestApp,
    email: &str,
    code: &str,
) -> (reqwest::Client, StatusCode, String, String) {
    let client = page_client();
    let answer = app.login(&client, email, PASSWORD).await;
    assert_eq!(answer.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&answer), "/login/code", "the code is asked for");
    let (status, _, form) = page(app, &client, "/login/code").await;
    assert_eq!(status, StatusCode::OK);
    let (status, to, body) = post(app, &client, &form, "/login/code", &[("code", code)]).await;
    (client, status, to, body)
}

/// Sets up an authenticator for the signed-in `client`: answers its key, read from the page,
/// and the recovery codes shown.
async fn enrol(app: &TestApp, client: &reqwest::Client) -> (String, Vec<String>) {
    let (status, _, start) = page(app, client, "/account/security").await;
    assert_eq!(status, StatusCode::OK);
    assert!(start.contains("Set up an authenticator app"), "{start}");
    let (status, to, _) = post(app, client, &start, "/account/security/start", &[]).await;
    assert_eq!(
        (status, to.as_str()),
        (StatusCode::SEE_OTHER, "/account/security")
    );

    let (_, _, enrolling) = page(app, client, "/account/security").await;
    let qr = between(&enrolling, r#"<figure class="qr">"#, "</figure>");
    assert!(
        qr.starts_with("<svg ") && qr.ends_with("</svg>"),
        "an SVG QR code: {qr}"
    );
    assert!(qr.contains("<path"), "drawn on the server");
    let secret: String = between(&enrolling, r#"<code id="secret">"#, "</code>")
        .split_whitespace()
        .collect();
    assert_eq!(secret.len(), 32, "a 160-bit key in base32: {secret}");

    // A wrong first code leaves it off.
    let wrong = wrong_code(&secret).await;
    let (status, _, refused) = post(
        app,
        client,
        &enrolling,
        "/account/security/confirm",
        &[("code", &wrong)],
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(refused.contains(r#"data-error-for="code""#), "{refused}");

    // The code of the step before now: later sign-ins use later steps.
    let code = oathtool(&secret, -30).await;
    let (status, _, done) = post(
        app,
        client,
        &refused,
        "/account/security/confirm",
        &[("code", &code)],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{done}");
    let codes = recovery_codes_in(&done);
    assert_eq!(codes.len(), 10, "{done}");
    assert!(
        codes
            .iter()
            .all(|c| c.len() == 14 && c.matches('-').count() == 2),
        "{codes:?}"
    );
    (secret, codes)
}

async fn codes_guard_password_sign_in(engine: Engine) {
    let app = spawn_app(engine).await;
    let school = app.create_school("NORTH", "North Academy");
    let email = "tess@north.example";
    let teacher = app.create_staff(
        &school,
        email,
        "Tess Teacher",
        &[Role::ClassStaff],
        Some(PASSWORD),
    );

    // Without a second factor, the password alone signs in.
    let client = page_client();
    let answer = app.login(&client, email, PASSWORD).await;
    assert_eq!(location(&answer), "/");
    let (secret, recovery) = enrol(&app, &client).await;
    let stored: String = second_factors::table
        .filter(second_factors::staff_id.eq(teacher.id))
        .select(second_factors::secret)
        .first(&mut *app.conn())
        .expect("a stored factor");
    assert_eq!(stored, secret);
    let (_, _, on) = page(&app, &client, "/account/security").await;
    assert!(on.contains("10 of 10 recovery codes left"), "{on}");

    // Now the password alone is not enough: nothing opens before the code.
    let pending = page_client();
    let answer = app.login(&pending, email, PASSWORD).await;
    assert_eq!(location(&answer), "/login/code");
    let (status, to, _) = page(&app, &pending, "/pupils").await;
    assert_eq!((status, to.as_str()), (StatusCode::SEE_OTHER, "/login"));

    // A wrong code is refused.
    let wrong = wrong_code(&secret).await;
    let (_, status, _, body) = sign_in_with_code(&app, email, &wrong).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(body.contains("That code did not work"), "{body}");

    // Five wrong codes for one password: the password is asked for again, and wrong codes
    // count like wrong passwords, so the account then waits.
    forget_failures(&app);
    let guesser = page_client();
    app.login(&guesser, email, PASSWORD).await;
    let (_, _, mut form) = page(&app, &guesser, "/login/code").await;
    for attempt in 1..=5 {
        let (status, _, body) =
            post(&app, &guesser, &form, "/login/code", &[("code", &wrong)]).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(
            body.contains("Too many wrong codes"),
            attempt == 5,
            "attempt {attempt}"
        );
        form = body;
    }
    let (status, to, _) = page(&app, &guesser, "/login/code").await;
    assert_eq!((status, to.as_str()), (StatusCode::SEE_OTHER, "/login"));
    let waiting = app.login(&page_client(), email, PASSWORD).await;
    assert_eq!(waiting.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(waiting.headers().contains_key(reqwest::header::RETRY_AFTER));
    forget_failures(&app);

    // The current code signs in.
    let code = oathtool(&secret, 0).await;
    let (signed_in, status, to, _) = sign_in_with_code(&app, email, &code).await;
    assert_eq!((status, to.as_str()), (StatusCode::SEE_OTHER, "/"));
    let (status, _, _) = page(&app, &signed_in, "/pupils").await;
    assert_eq!(status, StatusCode::OK);

    // The same code again is refused, even within its 30 seconds.
    let (_, status, _, _) = sign_in_with_code(&app, email, &code).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "a code works once");

    // A recovery code works once, in either case and without its dashes.
    let typed = recovery[0].replace('-', "").to_uppercase();
    let (rescued, status, to, _) = sign_in_with_code(&app, email, &typed).await;
    assert_eq!(
        (status, to.as_str()),
        (StatusCode::SEE_OTHER, "/account/security?recovery=used")
    );
    let (_, _, security) = page(&app, &rescued, &to).await;
    assert!(
        security.contains("9 of 10 recovery codes left"),
        "{security}"
    );
    let (_, status, _, _) = sign_in_with_code(&app, email, &recovery[0]).await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "a recovery code works once"
    );

    // New recovery codes replace the old ones.
    let (status, _, renewed) = post(
        &app,
        &rescued,
        &security,
        "/account/security/recovery-codes",
        &[("renew_code", &recovery[1])],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{renewed}");
    let fresh = recovery_codes_in(&renewed);
    assert_eq!(fresh.len(), 10);
    assert!(fresh.iter().all(|c| !recovery.contains(c)));
    let (_, status, _, _) = sign_in_with_code(&app, email, &recovery[2]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "old codes no longer work");

    // Turning it off needs a code.
    let (_, _, security) = page(&app, &rescued, "/account/security").await;
    let (status, _, refused) = post(
        &app,
        &rescued,
        &security,
        "/account/security/off",
        &[("off_code", &wrong)],
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        refused.contains(r#"data-error-for="off_code""#),
        "{refused}"
    );
    let still_on = second_factors::table
        .filter(second_factors::staff_id.eq(teacher.id))
        .count()
        .get_result::<i64>(&mut *app.conn())
        .expect("counting");
    assert_eq!(still_on, 1);
    let next = oathtool(&secret, 30).await;
    let (status, to, _) = post(
        &app,
        &rescued,
        &refused,
        "/account/security/off",
        &[("off_code", &next)],
    )
    .await;
    assert_eq!(
        (status, to.as_str()),
        (StatusCode::SEE_OTHER, "/account/security?off=1")
    );
    let answer = app.login(&page_client(), email, PASSWORD).await;
    assert_eq!(
        location(&answer),
        "/",
        "off: the password alone signs in again"
    );
}

async fn required_roles_keep_members_on_the_security_page(engine: Engine) {
    let app = spawn_app(engine).await;
    let school = app.create_school("NORTH", "North Academy");
    app.create_staff(
        &school,
        "head@north.example",
        "Ada Head",
        &[Role::Admin],
        Some(PASSWORD),
    );
    let sendco = "sen@north.example";
    app.create_staff(
        &school,
        sendco,
        "Sam Sendco",
        &[Role::Sendco],
        Some(PASSWORD),
    );

    // The administrator requires it of the SENDCO.
    let admin = page_client();
    assert_eq!(
        location(&app.login(&admin, "head@north.example", PASSWORD).await),
        "/"
    );
    let (status, _, settings) = page(&app, &admin, "/admin/sign-in").await;
    assert_eq!(status, StatusCode::OK);
    assert!(settings.contains(r#"value="sendco""#), "{settings}");
    let (status, to, _) = post(
        &app,
        &admin,
        &settings,
        "/admin/sign-in",
        &[("mfa_roles", "sendco"), ("mfa_roles", "slt")],
    )
    .await;
    assert_eq!(
        (status, to.as_str()),
        (StatusCode::SEE_OTHER, "/admin/sign-in?saved=1")
    );
    let stored: String = schools::table
        .find(school.id)
        .select(schools::mfa_roles)
        .first(&mut *app.conn())
        .expect("the setting");
    assert_eq!(stored, "sendco,slt");
    let (_, _, settings) = page(&app, &admin, "/admin/sign-in").await;
    assert!(settings.contains(r#"value="sendco" checked"#), "{settings}");
    let (status, _, _) = post(
        &app,
        &admin,
        &settings,
        "/admin/sign-in",
        &[("mfa_roles", "wizard")],
    )
    .await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "an unknown role is refused"
    );

    // Signed in, the SENDCO can reach nothing but the security page (and signing out).
    let client = page_client();
    let answer = app.login(&client, sendco, PASSWORD).await;
    assert_eq!(location(&answer), "/account/security");
    for path in ["/", "/pupils", "/account/email", "/admin/sign-in"] {
        let (status, to, _) = page(&app, &client, path).await;
        assert_eq!(
            (status, to.as_str()),
            (StatusCode::SEE_OTHER, "/account/security"),
            "{path}"
        );
    }
    let (status, _, security) = page(&app, &client, "/account/security").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        security.contains("Your school asks everyone with your role"),
        "{security}"
    );
    let (status, to, _) = post(
        &app,
        &client,
        &security,
        "/account/email",
        &[("digest_hour", "")],
    )
    .await;
    assert_eq!(
        (status, to.as_str()),
        (StatusCode::SEE_OTHER, "/account/security"),
        "no form either"
    );
    let (status, to, _) = post(&app, &client, &security, "/logout", &[]).await;
    assert_eq!(
        (status, to.as_str()),
        (StatusCode::SEE_OTHER, "/login"),
        "signing out works"
    );

    // Once set up, everything opens.
    let client = page_client();
    app.login(&client, sendco, PASSWORD).await;
    let (secret, _) = enrol(&app, &client).await;
    let (status, _, _) = page(&app, &client, "/pupils").await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, _) = page(&app, &client, "/admin/sign-in").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "administrators only");

    // From then on, signing in asks for the code.
    let code = oathtool(&secret, 0).await;
    let (client, status, to, _) = sign_in_with_code(&app, sendco, &code).await;
    assert_eq!((status, to.as_str()), (StatusCode::SEE_OTHER, "/"));
    let (status, _, _) = page(&app, &client, "/").await;
    assert_eq!(status, StatusCode::OK);
}
