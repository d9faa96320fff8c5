//! Signing in with a school account, end to end against a real OpenID Connect provider on
//! loopback: `tests/oidc-provider` runs the certified `oidc-provider` on Node, whose
//! development sign-in and consent pages the tests fill in. Also what must be refused
//! (forged, tampered, expired and wrong-audience ID tokens, a wrong `state`, unverified,
//! unknown and deactivated email addresses, passwords where a school turned them off) and
//! `steadfast school sso`, on both engines.
//!
//! Needs Node.js and the provider's packages: `npm ci --prefix tests/oidc-provider`.

mod common;

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use diesel::prelude::*;
use reqwest::{Response, StatusCode, Url};

use common::{both_engines, location, page_client, spawn_app_on, Engine, Role, TestApp, PASSWORD};
use steadfast::db::models::School;
use steadfast::db::schema::{audit_log, staff};

/// The client the provider knows Steadfast as.
const CLIENT_ID: &str = "steadfast";
const CLIENT_SECRET: &str = "steadfast-test-secret";

/// The provider of `tests/oidc-provider/provider.mjs`, stopped when dropped.
struct Provider {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    issuer: String,
}

impl Drop for Provider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts the provider with one client that may return to `redirect_uri`, and waits until
/// it listens.
fn start_provider(redirect_uri: &str) -> Provider {
    let folder = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/oidc-provider");
    assert!(
        folder.join("node_modules/oidc-provider").is_dir(),
        "tests/oidc-provider/node_modules is missing: run `npm ci --prefix tests/oidc-provider` first"
    );
    let mut child = Command::new("node")
        .arg("provider.mjs")
        .arg(redirect_uri)
        .current_dir(&folder)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("starting `node` (these tests need Node.js 20 or later on the PATH)");
    let stdout = child.stdout.take().expect("the provider's output");
    let (sender, receiver) = std::sync::mpsc::channel();
    // Reads the first line, then the rest until the provider ends, so it never writes to a
    // closed pipe.
    std::thread::spawn(move || {
        let mut lines = BufReader::new(stdout).lines();
        let first = lines.next().and_then(Result::ok).unwrap_or_default();
        let _ = sender.send(first);
        lines.for_each(drop);
    });
    let line = receiver
        .recv_timeout(Duration::from_secs(30))
        .unwrap_or_default();
    let Some(issuer) = line.trim().strip_prefix("listening on ") else {
        let _ = child.kill();
        panic!("the OpenID Connect provider did not start (it printed {line:?})");
    };
    Provider {
        issuer: issuer.to_string(),
        child,
    }
}

/// The service, with its public URL at its own address, and a provider for school NORTH,
/// set with `steadfast school sso`. Keep the provider bound: dropping it stops it.
struct Fixture {
    app: TestApp,
    provider: Provider,
    school: School,
}

async fn fixture(engine: Engine) -> Fixture {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a free port");
    let public_url = format!("http://{}", listener.local_addr().expect("a bound port"));
    let app = spawn_app_on(engine, listener, |settings| {
        settings.public_url = public_url.clone()
    })
    .await;
    let provider = start_provider(&format!("{public_url}/auth/oidc/callback"));
    let school = app.create_school("NORTH", "North Academy");
    let set = app.cli(
        &[
            "school",
            "sso",
            "--code",
            "NORTH",
            "--issuer",
            &provider.issuer,
            "--client-id",
            CLIENT_ID,
        ],
        &format!("{CLIENT_SECRET}\n"),
    );
    assert!(set.status.success(), "school sso failed: {set:?}");
    Fixture {
        app,
        provider,
        school,
    }
}

/// A browser's journey: from the app's "Sign in with your school account" link through the
/// provider's sign-in and consent pages (as `login`, see `provider.mjs`) back to the app.
/// `tamper` may change the address the provider sends the browser back to. Answers the
/// app's answer to that return.
async fn sign_in_with(
    app: &TestApp,
    client: &reqwest::Client,
    login: &str,
    tamper: impl Fn(&mut Url),
) -> Response {
    let callback = app.url("/auth/oidc/callback");
    let mut response = app.get_page(client, "/auth/oidc/NORTH").await;
    for _ in 0..20 {
        let url = response.url().clone();
        if url.as_str().starts_with(&callback) {
            return response;
        }
        if response.status().is_redirection() {
            let mut next = url.join(&location(&response)).expect("a redirect address");
            if next.as_str().starts_with(&callback) {
                tamper(&mut next);
            }
            response = client.get(next).send().await.expect("an answer");
            continue;
        }
        let status = response.status();
        let page = response.text().await.expect("a page");
        assert_eq!(status, StatusCode::OK, "at {url}: {page}");
        let (action, fields) = form_in(&page, login);
        let target = url.join(&action).expect("a form address");
        response = client
            .post(target)
            .form(&fields)
            .send()
            .await
            .expect("an answer");
    }
    panic!("the sign-in did not come back to Steadfast");
}

/// The action and the fields of the first form of a provider's page, with `login` and any
/// password typed in.
fn form_in(page: &str, login: &str) -> (String, Vec<(String, String)>) {
    let attribute = |tag: &str, name: &str| {
        let marker = format!("{name}=\"");
        tag.find(&marker).map(|start| {
            let rest = &tag[start + marker.len()..];
            rest[..rest.find('"').unwrap_or(rest.len())].replace("&amp;", "&")
        })
    };
    let form = &page[page
        .find("<form")
        .unwrap_or_else(|| panic!("no form in {page}"))..];
    let action =
        attribute(&form[..form.find('>').expect("a form tag")], "action").expect("a form action");
    let fields = form
        .split("<input")
        .skip(1)
        .filter_map(|input| {
            let tag = &input[..input.find('>').unwrap_or(input.len())];
            let name = attribute(tag, "name")?;
            let value = match name.as_str() {
                "login" => login.to_string(),
                "password" => "any password".to_string(),
                _ => attribute(tag, "value").unwrap_or_default(),
            };
            Some((name, value))
        })
        .collect();
    (action, fields)
}

/// Whether the browser holds a signed-in session.
async fn signed_in(app: &TestApp, client: &reqwest::Client) -> bool {
    app.get_page(client, "/").await.status() == StatusCode::OK
}

/// The school's audit entries of this action: (actor, detail).
fn audited(app: &TestApp, school: &School, action: &str) -> Vec<(Option<i64>, String)> {
    audit_log::table
        .filter(audit_log::school_id.eq(school.id))
        .filter(audit_log::action.eq(action))
        .order(audit_log::id.asc())
        .select((audit_log::actor_id, audit_log::detail))
        .load(&mut *app.conn())
        .expect("reading the audit log")
}

async fn a_member_of_staff_signs_in_with_their_school_account(engine: Engine) {
    // Arrange
    let Fixture {
        app,
        school,
        provider,
    } = fixture(engine).await;
    let head = app.create_staff(
        &school,
        "head@north.example",
        "Hana Head",
        &[Role::Slt],
        None,
    );
    let client = page_client();

    // Act
    let login_page = app.get_page(&client, "/login").await.text().await.unwrap();
    let start = app.get_page(&page_client(), "/auth/oidc/NORTH").await;
    // The provider's address differs in case from the stored one.
    let answer = sign_in_with(&app, &client, "ok:Head@North.Example", |_| {}).await;

    // Assert
    assert!(
        login_page.contains(r#"href="/auth/oidc/NORTH""#)
            && login_page.contains("Sign in with your school account"),
        "{login_page}"
    );
    assert_eq!(start.status(), StatusCode::SEE_OTHER);
    let to_provider = Url::parse(&location(&start)).unwrap();
    assert!(to_provider.as_str().starts_with(&provider.issuer));
    let asked: std::collections::HashMap<_, _> = to_provider.query_pairs().collect();
    assert_eq!(asked["response_type"], "code");
    assert_eq!(asked["client_id"], CLIENT_ID);
    assert_eq!(asked["scope"], "openid email profile");
    assert_eq!(asked["code_challenge_method"], "S256");
    assert_eq!(
        asked["redirect_uri"],
        app.url("/auth/oidc/callback").as_str()
    );
    assert!(["state", "nonce", "code_challenge"]
        .iter()
        .all(|name| asked[*name].len() >= 20));
    assert_eq!(answer.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&answer), "/");
    let home = app.get_page(&client, "/").await;
    assert_eq!(home.status(), StatusCode::OK);
    assert!(home.text().await.unwrap().contains("Hana Head"));
    assert_eq!(
        audited(&app, &school, "sign_in.sso"),
        vec![(Some(head.id), "school account".to_string())]
    );
}

async fn forged_tampered_expired_and_misaddressed_id_tokens_are_refused(engine: Engine) {
    let Fixture {
        app,
        school,
        provider: _provider,
    } = fixture(engine).await;
    app.create_staff(
        &school,
        "head@north.example",
        "Hana Head",
        &[Role::Slt],
        None,
    );
    app.create_staff(
        &school,
        "someone.else@north.example",
        "Sol Else",
        &[Role::Slt],
        None,
    );
    let cases = [
        ("forged", "Signature verification failed"),
        ("tampered", "Signature verification failed"),
        ("expired", "Expired"),
        ("audience", "Invalid audiences"),
    ];
    for (mode, problem) in cases {
        let client = page_client();
        let login = format!("{mode}:head@north.example");

        let answer = sign_in_with(&app, &client, &login, |_| {}).await;

        assert_eq!(answer.status(), StatusCode::UNAUTHORIZED, "{mode}");
        let page = answer.text().await.unwrap();
        assert!(
            page.contains("The ID token from your school's provider was refused")
                && page.contains(problem),
            "{mode}: {page}"
        );
        assert!(!signed_in(&app, &client).await, "{mode}");
    }
    let refused = audited(&app, &school, "sign_in.sso_refused");
    assert_eq!(refused.len(), cases.len());
    assert!(refused
        .iter()
        .all(|(actor, detail)| actor.is_none() && detail == "id_token_invalid"));
    assert!(audited(&app, &school, "sign_in.sso").is_empty());
}

async fn a_wrong_state_is_refused(engine: Engine) {
    let Fixture {
        app,
        school,
        provider: _provider,
    } = fixture(engine).await;
    app.create_staff(
        &school,
        "head@north.example",
        "Hana Head",
        &[Role::Slt],
        None,
    );
    let client = page_client();

    let answer = sign_in_with(&app, &client, "ok:head@north.example", |url| {
        let kept: Vec<(String, String)> = url
            .query_pairs()
            .filter(|(name, _)| name != "state")
            .map(|(name, value)| (name.into_owned(), value.into_owned()))
            .collect();
        url.query_pairs_mut()
            .clear()
            .extend_pairs(kept)
            .append_pair("state", "not-the-state-steadfast-sent");
    })
    .await;
    let stray = app
        .get_page(&page_client(), "/auth/oidc/callback?code=x&state=y")
        .await;

    assert_eq!(answer.status(), StatusCode::BAD_REQUEST);
    let page = answer.text().await.unwrap();
    assert!(page.contains("its state does not match"), "{page}");
    assert!(!signed_in(&app, &client).await);
    assert_eq!(stray.status(), StatusCode::BAD_REQUEST);
    assert!(stray
        .text()
        .await
        .unwrap()
        .contains("No sign-in with a school account"));
    assert_eq!(
        audited(&app, &school, "sign_in.sso_refused"),
        vec![(None, "state_mismatch".to_string())]
    );
}

async fn unverified_and_unknown_email_addresses_are_refused(engine: Engine) {
    let Fixture {
        app,
        school,
        provider: _provider,
    } = fixture(engine).await;
    app.create_staff(
        &school,
        "head@north.example",
        "Hana Head",
        &[Role::Slt],
        None,
    );
    let gone = app.create_staff(
        &school,
        "gone@north.example",
        "Gil Gone",
        &[Role::Slt],
        None,
    );
    diesel::update(staff::table.find(gone.id))
        .set(staff::active.eq(false))
        .execute(&mut *app.conn())
        .unwrap();
    let south = app.create_school("SOUTH", "South School");
    app.create_staff(&south, "sam@south.example", "Sam South", &[Role::Slt], None);
    let unknown = "not that of an active member of staff";
    let cases = [
        ("unverified:head@north.example", "not verified"),
        ("ok:stranger@north.example", unknown),
        ("ok:gone@north.example", unknown),
        // A member of staff of another school is no member of this one.
        ("ok:sam@south.example", unknown),
    ];
    for (login, problem) in cases {
        let client = page_client();

        let answer = sign_in_with(&app, &client, login, |_| {}).await;

        assert_eq!(answer.status(), StatusCode::FORBIDDEN, "{login}");
        let page = answer.text().await.unwrap();
        assert!(page.contains(problem), "{login}: {page}");
        assert!(!signed_in(&app, &client).await, "{login}");
    }
    let details: Vec<String> = audited(&app, &school, "sign_in.sso_refused")
        .into_iter()
        .map(|(_, detail)| detail)
        .collect();
    assert_eq!(
        details,
        ["email_unverified", "no_staff", "no_staff", "no_staff"]
    );
}

async fn password_sign_in_can_be_turned_off(engine: Engine) {
    let Fixture {
        app,
        provider,
        school,
    } = fixture(engine).await;
    app.create_staff(
        &school,
        "head@north.example",
        "Hana Head",
        &[Role::Slt],
        Some(PASSWORD),
    );
    let sso = |issuer: &str, client_id: &str, password_login: &str, secret: &str| {
        app.cli(
            &[
                "school",
                "sso",
                "--code",
                "NORTH",
                "--issuer",
                issuer,
                "--client-id",
                client_id,
                "--password-login",
                password_login,
            ],
            secret,
        )
    };
    let secret = format!("{CLIENT_SECRET}\n");

    // Turned off: the right password is refused, pointing at the school account.
    let off = sso(&provider.issuer, CLIENT_ID, "off", &secret);
    assert!(off.status.success(), "{off:?}");
    let refused = app
        .login(&page_client(), "head@north.example", PASSWORD)
        .await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let page = refused.text().await.unwrap();
    assert!(
        page.contains("North Academy does not use passwords to sign in")
            && page.contains(r#"href="/auth/oidc/NORTH""#),
        "{page}"
    );
    let wrong = app
        .login(
            &page_client(),
            "head@north.example",
            "not the password at all",
        )
        .await;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);

    // Refused settings change nothing.
    let no_issuer = sso("", "", "off", "");
    assert!(!no_issuer.status.success());
    let message = String::from_utf8_lossy(&no_issuer.stderr);
    assert!(
        message.contains("--password-login") && message.contains("set the issuer"),
        "{message}"
    );
    let no_secret = sso(&provider.issuer, CLIENT_ID, "off", "\n");
    assert!(String::from_utf8_lossy(&no_secret.stderr).contains("client secret"));
    let plain_http = sso("http://login.example.com", CLIENT_ID, "off", &secret);
    assert!(String::from_utf8_lossy(&plain_http.stderr).contains("--issuer"));
    assert!(app
        .login(&page_client(), "head@north.example", PASSWORD)
        .await
        .status()
        .is_client_error());

    // A provider that cannot be reached is said so.
    let unreachable = sso("http://127.0.0.1:1", CLIENT_ID, "off", &secret);
    assert!(unreachable.status.success(), "{unreachable:?}");
    let answer = app.get_page(&page_client(), "/auth/oidc/NORTH").await;
    assert_eq!(answer.status(), StatusCode::BAD_GATEWAY);
    assert!(answer
        .text()
        .await
        .unwrap()
        .contains("could not read the discovery document"));

    // Back to passwords alone: no link, no school account sign-in.
    let cleared = sso("", "", "on", "");
    assert!(cleared.status.success(), "{cleared:?}");
    let client = page_client();
    let login_page = app.get_page(&client, "/login").await.text().await.unwrap();
    assert!(!login_page.contains("/auth/oidc/"), "{login_page}");
    let none = app.get_page(&client, "/auth/oidc/NORTH").await;
    assert_eq!(none.status(), StatusCode::NOT_FOUND);
    let signed = app.login(&client, "head@north.example", PASSWORD).await;
    assert_eq!(signed.status(), StatusCode::SEE_OTHER);
    assert_eq!(audited(&app, &school, "school.sso").len(), 4);
}

both_engines!(
    a_member_of_staff_signs_in_with_their_school_account,
    forged_tampered_expired_and_misaddressed_id_tokens_are_refused,
    a_wrong_state_is_refused,
    unverified_and_unknown_email_addresses_are_refused,
    password_sign_in_can_be_turned_off,
);
