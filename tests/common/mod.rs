//! The integration-test harness, shared by every test binary: `spawn_app` starts the real
//! service on port 0 over a fresh database (SQLite file or PostgreSQL database), and
//! `both_engines!` runs each database test once per engine.
#![allow(dead_code)]

pub mod cluster;
pub mod serve;

use std::collections::HashMap;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex, OnceLock};

use chrono::Utc;
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use reqwest::{header, Response, StatusCode};
use serde_json::Value;
use tempfile::TempDir;

use steadfast::accounts;
use steadfast::config::Settings;
use steadfast::db::models::School;
use steadfast::db::pupils::PupilView;
use steadfast::db::staff::{NewStaff, StaffMember};
pub use steadfast::db::Engine;
use steadfast::db::{pupils, schema, schools, staff, Database};
use steadfast::domain::details::{EmailAddress, NewPupil, PersonName, SchoolCode, YearNumber};
pub use steadfast::domain::Role;
use steadfast::web::{self, AppState};

/// Names the PostgreSQL server the tests create their databases on (a URL ending in
/// `/postgres`); `scripts/with-postgres` sets it.
pub const POSTGRES_URL_VAR: &str = "STEADFAST_TEST_POSTGRES_URL";

/// A password long enough for `accounts::hash_password`.
pub const PASSWORD: &str = "correct horse battery staple";

/// Runs each named `async fn NAME(engine: Engine)` as two tests, `NAME::sqlite` and
/// `NAME::postgres`.
#[allow(unused_macros)] // not every test binary uses it
macro_rules! both_engines {
    ($($test:ident),+ $(,)?) => {$(
        mod $test {
            #[tokio::test]
            async fn sqlite() {
                super::$test($crate::common::Engine::Sqlite).await
            }

            #[tokio::test]
            async fn postgres() {
                if $crate::common::postgres_available() {
                    super::$test($crate::common::Engine::Postgres).await
                }
            }
        }
    )+};
}
#[allow(unused_imports)]
pub(crate) use both_engines;

/// Whether PostgreSQL tests can run. Without a server they are skipped with a note, except
/// under CI (`CI=true`), where both engines must be tested and the test fails.
pub fn postgres_available() -> bool {
    if std::env::var_os(POSTGRES_URL_VAR).is_some() {
        return true;
    }
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!(
            "{POSTGRES_URL_VAR} is not set, but CI=true requires the PostgreSQL tests to run: \
             use scripts/with-postgres (or scripts/test)"
        );
    }
    eprintln!("skipped: {POSTGRES_URL_VAR} is not set (run under scripts/with-postgres)");
    false
}

/// A fresh, empty database of one engine, removed when dropped.
struct TestDatabase {
    url: String,
    /// The server URL and database name of a PostgreSQL test database, to drop it.
    postgres: Option<(String, String)>,
}

impl TestDatabase {
    fn create(engine: Engine, dir: &Path) -> TestDatabase {
        match engine {
            Engine::Sqlite => TestDatabase {
                url: format!("sqlite://{}", dir.join("steadfast.db").display()),
                postgres: None,
            },
            Engine::Postgres => {
                let server = std::env::var(POSTGRES_URL_VAR)
                    .unwrap_or_else(|_| panic!("{POSTGRES_URL_VAR} is not set"));
                let name = format!(
                    "steadfast_test_{}",
                    accounts::random_token()[..16].to_owned()
                );
                let mut conn = PgConnection::establish(&server)
                    .unwrap_or_else(|e| panic!("connecting to {server}: {e}"));
                conn.batch_execute(&format!("CREATE DATABASE {name}"))
                    .expect("creating the test database");
                let mut url = url::Url::parse(&server).expect("a PostgreSQL URL");
                url.set_path(&name);
                TestDatabase {
                    url: url.to_string(),
                    postgres: Some((server, name)),
                }
            }
        }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if let Some((server, name)) = &self.postgres {
            // Best effort: the cluster is thrown away at the end anyway.
            if let Ok(mut conn) = PgConnection::establish(server) {
                let _ = conn.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
            }
        }
    }
}

/// A fresh database no service uses, not even migrated (a SQLite path where no file is yet):
/// somewhere to restore a backup into. Removed when dropped.
pub struct SpareDatabase {
    /// Its `DATABASE_URL`.
    pub url: String,
    // Field order matters: the database is dropped before the folder holding a SQLite file.
    database: TestDatabase,
    dir: TempDir,
}

/// A [`SpareDatabase`] of `engine`.
pub fn spare_database(engine: Engine) -> SpareDatabase {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let database = TestDatabase::create(engine, dir.path());
    SpareDatabase {
        url: database.url.clone(),
        database,
        dir,
    }
}

/// An argon2 hash of `password`, computed once per test binary: hashing is slow in debug
/// builds, and a shared salt does no harm in tests.
fn password_hash(password: &str) -> String {
    static HASHES: OnceLock<Mutex<HashMap<String, String>>> = OnceLock::new();
    let mut hashes = HASHES
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    hashes
        .entry(password.to_string())
        .or_insert_with(|| accounts::hash_password(password).expect("a long enough password"))
        .clone()
}

/// The service running on a free port over its own database, with helpers to arrange data.
pub struct TestApp {
    /// `http://127.0.0.1:PORT`.
    pub address: String,
    pub engine: Engine,
    /// The database the service uses, for arranging data and checking what was written.
    pub db: Database,
    /// The `DATABASE_URL` of that database.
    pub database_url: String,
    /// The service's data folder (temporary).
    pub data_dir: PathBuf,
    /// The running server; `None` while stopped (see [`TestApp::stop`]).
    server: Option<actix_web::dev::ServerHandle>,
    /// The settings it was started with, to start it again the same way.
    pub settings: Arc<Settings>,
    /// The address it listens on, kept across a restart.
    bound: std::net::SocketAddr,
    // Field order matters: the database is dropped before the folder holding a SQLite file.
    database: TestDatabase,
    dir: TempDir,
}

/// Starts the service on 127.0.0.1:0 over a fresh database of `engine`, migrated.
pub async fn spawn_app(engine: Engine) -> TestApp {
    spawn_app_with(engine, |_| {}).await
}

/// Like [`spawn_app`], with settings changed by `adjust` first (an SMTP server, say).
pub async fn spawn_app_with(engine: Engine, adjust: impl FnOnce(&mut Settings)) -> TestApp {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a free port");
    spawn_app_on(engine, listener, adjust).await
}

/// Like [`spawn_app_with`], on a listener the test bound first (to know the service's address
/// before it starts, for its public URL, say).
pub async fn spawn_app_on(
    engine: Engine,
    listener: TcpListener,
    adjust: impl FnOnce(&mut Settings),
) -> TestApp {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let database = TestDatabase::create(engine, dir.path());
    let data_dir = dir.path().join("data");
    let mut settings = Settings::defaults().expect("built-in settings");
    settings.database_url = database.url.clone();
    settings.data_dir = data_dir.clone();
    settings.session_secret = "s".repeat(64) + &accounts::random_token();
    adjust(&mut settings);
    let db = Database::open(&settings.database_url, 4).expect("opening the test database");
    let key = web::session_key(&settings).expect("a session key");
    let bound = listener.local_addr().expect("a bound port");
    let address = format!("http://{bound}");
    let settings = Arc::new(settings);
    let state = AppState {
        db: db.clone(),
        settings: settings.clone(),
    };
    let server = web::start(listener, state, key).expect("starting the service");
    let handle = server.handle();
    tokio::spawn(server);
    TestApp {
        address,
        engine,
        db,
        database_url: database.url.clone(),
        data_dir,
        server: Some(handle),
        settings,
        bound,
        database,
        dir,
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        // Sends the stop command now; the workers wind down on their own threads.
        if let Some(server) = &self.server {
            drop(server.stop(false));
        }
    }
}

/// A page client: keeps cookies, and does not follow redirects so tests can see them.
pub fn page_client() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("an HTTP client")
}

/// The value of the first hidden `csrf_token` field of a page.
pub fn csrf_token_in(html: &str) -> String {
    let marker = r#"name="csrf_token" value=""#;
    let start = html
        .find(marker)
        .unwrap_or_else(|| panic!("no csrf_token field in the page:\n{html}"))
        + marker.len();
    let length = html[start..]
        .find('"')
        .expect("the end of the csrf_token value");
    html[start..start + length].to_string()
}

/// The problem shown next to a field of a page ("" when none).
pub fn problem_at(html: &str, field: &str) -> String {
    let marker = format!("id=\"error-{field}\"");
    let Some(start) = html.find(&marker) else {
        return String::new();
    };
    let rest = &html[start..];
    let open = rest.find('>').expect("the end of the tag") + 1;
    let close = rest.find("</p>").expect("the end of the problem");
    rest[open..close].to_string()
}

/// What a command printed on standard output.
pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// What a command printed on standard error.
pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Checks that a command succeeded, showing what it printed when it did not.
pub fn assert_success(output: &Output) {
    assert!(
        output.status.success(),
        "failed ({}):\nstdout: {}\nstderr: {}",
        output.status,
        stdout(output),
        stderr(output)
    );
}

/// Checks that a command failed with a message on standard error containing `needle`.
pub fn assert_failure_naming(output: &Output, needle: &str) {
    assert!(
        !output.status.success(),
        "succeeded but should have failed:\nstdout: {}",
        stdout(output)
    );
    let message = stderr(output);
    assert!(
        message.contains(needle),
        "the message does not name {needle:?}: {message}"
    );
}

/// The `Location` header of a response, or "" when there is none.
pub fn location(response: &Response) -> String {
    response
        .headers()
        .get(header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string()
}

/// Checks that a body has the JSON error shape `{"error":{"code","message"}}`.
pub fn assert_error_shape(body: &Value) {
    let error = &body["error"];
    assert!(
        error["code"].as_str().is_some_and(|c| !c.is_empty()),
        "no error.code in {body}"
    );
    assert!(
        error["message"].as_str().is_some_and(|m| !m.is_empty()),
        "no error.message in {body}"
    );
}

impl TestApp {
    /// Stops the service as a dropped network would: the port refuses connections and open
    /// ones are cut. The database stays. [`TestApp::restart`] brings it back.
    pub async fn stop(&mut self) {
        if let Some(server) = self.server.take() {
            server.stop(false).await;
        }
    }

    /// Starts the service again on the same port, over the same database, with the same
    /// session secret (so signed-in browsers stay signed in).
    pub async fn restart(&mut self) {
        self.stop().await;
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        let listener = loop {
            match TcpListener::bind(self.bound) {
                Ok(listener) => break listener,
                Err(e) if std::time::Instant::now() < deadline => {
                    eprintln!("waiting to bind {} again: {e}", self.bound);
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                }
                Err(e) => panic!("binding {} again: {e}", self.bound),
            }
        };
        let key = web::session_key(&self.settings).expect("the same session key");
        let state = AppState {
            db: self.db.clone(),
            settings: self.settings.clone(),
        };
        let server = web::start(listener, state, key).expect("restarting the service");
        self.server = Some(server.handle());
        tokio::spawn(server);
    }

    /// The full URL of a path.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// A connection for arranging data and checking what was written.
    pub fn conn(&self) -> impl std::ops::DerefMut<Target = steadfast::db::DbConnection> {
        self.db.connection().expect("a database connection")
    }

    /// Creates a school. Unlike a real one, it requires no role to use a second factor, so
    /// tests sign in with a password alone (tests/second_factor.rs turns it on).
    pub fn create_school(&self, code: &str, name: &str) -> School {
        let code = SchoolCode::parse(code).expect("a valid school code");
        let school =
            schools::create(&mut self.conn(), &code, name, Utc::now()).expect("creating a school");
        diesel::update(schema::schools::table.find(school.id))
            .set(schema::schools::mfa_roles.eq(""))
            .execute(&mut *self.conn())
            .expect("requiring no second factor");
        school
    }

    /// Creates a staff member with `roles`, and a password when one is given.
    pub fn create_staff(
        &self,
        school: &School,
        email: &str,
        name: &str,
        roles: &[Role],
        password: Option<&str>,
    ) -> StaffMember {
        self.create_staff_leading(school, email, name, roles, &[], password)
    }

    /// Creates a staff member with `roles` who leads the year groups `years` (a Head of Year).
    pub fn create_staff_leading(
        &self,
        school: &School,
        email: &str,
        name: &str,
        roles: &[Role],
        years: &[i64],
        password: Option<&str>,
    ) -> StaffMember {
        let email = EmailAddress::parse(email).expect("a valid email");
        let name = PersonName::parse("name", name).expect("a valid name");
        let years: Vec<YearNumber> = years
            .iter()
            .map(|y| YearNumber::new(*y).expect("a valid year"))
            .collect();
        let password_hash = password.map(password_hash);
        let new = NewStaff {
            school_id: school.id,
            email: &email,
            name: &name,
            roles,
            year_groups: &years,
            password_hash,
        };
        staff::create(&mut self.conn(), new, Utc::now()).expect("creating a staff member")
    }

    /// Issues a new API token for `member`, returning the secret.
    pub fn create_token(&self, member: &StaffMember) -> String {
        let token = accounts::new_api_token();
        steadfast::db::tokens::add(
            &mut self.conn(),
            member,
            &token.hash,
            "tests",
            None,
            Utc::now(),
        )
        .expect("storing a token");
        token.secret
    }

    /// A school with an admin holding an API token: the usual start of an API test.
    pub fn school_with_admin(&self, code: &str) -> (School, StaffMember, String) {
        let school = self.create_school(code, &format!("{code} Academy"));
        let email = format!("admin@{}.example", code.to_lowercase());
        let admin = self.create_staff(&school, &email, "Ada Admin", &[Role::Admin], None);
        let token = self.create_token(&admin);
        (school, admin, token)
    }

    /// Adds a pupil (no SEN) to a school.
    /// A class teacher of `school` (`t@CODE.example`) with an API token, and `count` Year 9 pupils of form 9B:
    /// the usual cast of a logging test. Answers the token and the pupils' ids.
    pub fn teacher_and_pupils(&self, school: &School, count: usize) -> (String, Vec<i64>) {
        let teacher = self.create_staff(
            school,
            &format!("t@{}.example", school.code.to_lowercase()),
            "Tess Teacher",
            &[Role::ClassStaff],
            None,
        );
        let pupils = (0..count)
            .map(|n| {
                self.create_pupil(
                    school,
                    &format!("A12345678901{n}"),
                    "Sam",
                    &format!("Okafor{n}"),
                    9,
                    "9B",
                )
                .id
            })
            .collect();
        (self.create_token(&teacher), pupils)
    }

    pub fn create_pupil(
        &self,
        school: &School,
        upn: &str,
        given_name: &str,
        family_name: &str,
        year: i64,
        form: &str,
    ) -> PupilView {
        let new = NewPupil::parse(upn, given_name, family_name, year, form, None)
            .expect("valid pupil details");
        pupils::create(&mut self.conn(), school.id, &new, Utc::now()).expect("adding a pupil")
    }

    /// How many pupils the database holds, over every school.
    pub fn pupil_count(&self) -> i64 {
        schema::pupils::table
            .count()
            .get_result(&mut *self.conn())
            .expect("counting pupils")
    }

    /// How many staff accounts the database holds, over every school.
    pub fn staff_count(&self) -> i64 {
        schema::staff::table
            .count()
            .get_result(&mut *self.conn())
            .expect("counting staff")
    }

    /// `GET` an API path with a bearer token; answers the status and the JSON body.
    pub async fn api_get(&self, path: &str, token: &str) -> (StatusCode, Value) {
        let response = reqwest::Client::new()
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .expect("the request to be answered");
        json_of(response).await
    }

    /// `POST` a JSON body to an API path with a bearer token.
    pub async fn api_post(&self, path: &str, token: &str, body: &Value) -> (StatusCode, Value) {
        post_json(self.url(path), token.to_string(), body.clone()).await
    }

    /// `POST`s each body to an API path at once, answering the (status, body) of each in the
    /// order they finished.
    pub async fn api_post_concurrently(
        &self,
        path: &str,
        token: &str,
        bodies: Vec<Value>,
    ) -> Vec<(StatusCode, Value)> {
        let mut requests = tokio::task::JoinSet::new();
        for body in bodies {
            requests.spawn(post_json(self.url(path), token.to_string(), body));
        }
        requests.join_all().await
    }

    /// `GET` a page with `client`.
    pub async fn get_page(&self, client: &reqwest::Client, path: &str) -> Response {
        client
            .get(self.url(path))
            .send()
            .await
            .expect("the page to be answered")
    }

    /// Posts a form from the page at `from` (taking its CSRF token) to `to`, as a browser
    /// does.
    pub async fn submit_form(
        &self,
        client: &reqwest::Client,
        from: &str,
        to: &str,
        fields: &[(&str, &str)],
    ) -> Response {
        let html = self
            .get_page(client, from)
            .await
            .text()
            .await
            .expect("the form");
        let csrf = csrf_token_in(&html);
        let mut form: Vec<(&str, &str)> = vec![("csrf_token", csrf.as_str())];
        form.extend_from_slice(fields);
        client
            .post(self.url(to))
            .form(&form)
            .send()
            .await
            .expect("the form to be answered")
    }

    /// Signs in through the login form, as a browser does: loads it, then posts it with its
    /// CSRF token. Answers the response to the post.
    pub async fn login(&self, client: &reqwest::Client, email: &str, password: &str) -> Response {
        login_at(client, &self.address, email, password).await
    }

    /// Runs the `steadfast` binary against this app's database, in a fresh working folder,
    /// with `stdin` as its standard input.
    pub fn cli(&self, args: &[&str], stdin: &str) -> Output {
        self.cli_with_env(args, stdin, &[])
    }

    /// Like [`TestApp::cli`], with more environment variables (`STEADFAST_SMTP_URL`, say).
    pub fn cli_with_env(&self, args: &[&str], stdin: &str, env: &[(&str, &str)]) -> Output {
        let data_dir = self.data_dir.to_string_lossy();
        let mut settings = vec![
            ("DATABASE_URL", self.database_url.as_str()),
            ("STEADFAST_DATA_DIR", &*data_dir),
            ("STEADFAST_POOL_SIZE", "2"),
        ];
        settings.extend_from_slice(env);
        run_steadfast(args, stdin, &settings)
    }
}

/// Runs the `steadfast` binary in a fresh working folder with `stdin` as its standard input,
/// set up by `env` alone: the test's own `STEADFAST_*` and `RUST_LOG` variables are removed.
pub fn run_steadfast(args: &[&str], stdin: &str, env: &[(&str, &str)]) -> Output {
    use std::io::Write;
    let workdir = tempfile::tempdir().expect("a working folder");
    let mut command = Command::new(env!("CARGO_BIN_EXE_steadfast"));
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("STEADFAST_") {
            command.env_remove(name);
        }
    }
    let mut child = command
        .args(args)
        .current_dir(workdir.path())
        .env_remove("RUST_LOG")
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting steadfast");
    child
        .stdin
        .take()
        .expect("a stdin pipe")
        .write_all(stdin.as_bytes())
        .expect("writing standard input");
    // A command that hangs is killed (by its process id) and fails the test.
    let pid = child.id().to_string();
    let (finished, done) = std::sync::mpsc::channel::<()>();
    let watchdog = std::thread::spawn(move || {
        let timed_out = done.recv_timeout(COMMAND_TIMEOUT).is_err();
        if timed_out {
            let _ = Command::new("kill").args(["-9", &pid]).status();
        }
        timed_out
    });
    let output = child.wait_with_output().expect("steadfast to finish");
    let _ = finished.send(());
    let timed_out = watchdog.join().unwrap_or(false);
    assert!(
        !timed_out,
        "steadfast {args:?} ran longer than {COMMAND_TIMEOUT:?} and was killed"
    );
    output
}

/// The longest a `steadfast` command may run in a test.
const COMMAND_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(300);

/// Signs in at the service at `base` (`http://HOST:PORT`) through the login form, as a
/// browser does: loads it, then posts it with its CSRF token. Answers the response to the post.
pub async fn login_at(
    client: &reqwest::Client,
    base: &str,
    email: &str,
    password: &str,
) -> Response {
    let form = client
        .get(format!("{base}/login"))
        .send()
        .await
        .expect("the login page to be answered");
    assert_eq!(form.status(), StatusCode::OK, "GET /login");
    let csrf = csrf_token_in(&form.text().await.expect("the login page"));
    client
        .post(format!("{base}/login"))
        .form(&[
            ("csrf_token", csrf.as_str()),
            ("email", email),
            ("password", password),
        ])
        .send()
        .await
        .expect("the login to be answered")
}

/// Queues `count` plain notices to made-up staff of `school_id` in the outbox, due at `at`,
/// each with its own message key `{key_prefix}-{n}`, in one transaction.
pub async fn queue_notices(
    app: &TestApp,
    school_id: i64,
    count: usize,
    key_prefix: &str,
    at: chrono::DateTime<Utc>,
) {
    use steadfast::db::outbox::{self, Recipient};
    use steadfast::mail::OutgoingEmail;
    let key_prefix = key_prefix.to_string();
    app.db
        .write(move |conn| {
            for n in 0..count {
                let email = OutgoingEmail {
                    to: format!("person{n}@north.example"),
                    subject: format!("Notice {n}"),
                    text: "Plain words.".into(),
                    html: "<p>Plain words.</p>".into(),
                    calendar: None,
                    message_key: format!("{key_prefix}-{n}"),
                };
                let to = Recipient {
                    staff_id: None,
                    name: format!("Person {n}"),
                    email: email.to.clone(),
                };
                outbox::enqueue(conn, school_id, &to, &email, "A notice", at)?;
            }
            Ok(())
        })
        .await
        .expect("queueing the notices");
}

/// `POST`s a JSON body with a bearer token; answers the status and the JSON body.
pub async fn post_json(url: String, token: String, body: Value) -> (StatusCode, Value) {
    let response = reqwest::Client::new()
        .post(url)
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .expect("the request to be answered");
    json_of(response).await
}

/// The status and JSON body of a response (`Value::Null` when the body is not JSON).
pub async fn json_of(response: Response) -> (StatusCode, Value) {
    let status = response.status();
    let text = response.text().await.expect("a response body");
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    (status, body)
}

// ---------------------------------------------------------------------------------------------
// The import page
// ---------------------------------------------------------------------------------------------

/// The value of the hidden field `name` of a page.
pub fn hidden_value(html: &str, name: &str) -> String {
    let marker = format!(r#"name="{name}" value=""#);
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no {name} field in the page:\n{html}"))
        + marker.len();
    let length = html[start..].find('"').expect("the end of the value");
    html[start..start + length].to_string()
}

/// Uploads `bytes` as a file of `kind` on the import page as a browser does, with the boxes
/// `ticked`; answers the status and the page (the preview).
pub async fn upload_import(
    app: &TestApp,
    client: &reqwest::Client,
    kind: &str,
    bytes: Vec<u8>,
    ticked: &[&str],
) -> (StatusCode, String) {
    let page = app
        .get_page(client, &format!("/admin/import?kind={kind}"))
        .await
        .text()
        .await
        .expect("the import page");
    let mut form = reqwest::multipart::Form::new()
        .text("csrf_token", csrf_token_in(&page))
        .text("kind", kind.to_string())
        .part(
            "file",
            reqwest::multipart::Part::bytes(bytes).file_name("roll.csv"),
        );
    for name in ticked {
        form = form.text(name.to_string(), "on");
    }
    let response = client
        .post(app.url("/admin/import/preview"))
        .multipart(form)
        .send()
        .await
        .expect("an answer");
    let status = response.status();
    (status, response.text().await.expect("a page"))
}

/// Posts a preview page's form back with `step` (`preview` or `apply`) and extra fields.
pub async fn submit_import(
    app: &TestApp,
    client: &reqwest::Client,
    preview: &str,
    step: &str,
    extra: &[(&str, &str)],
) -> (StatusCode, String) {
    let mut fields = vec![
        ("csrf_token".to_string(), csrf_token_in(preview)),
        ("kind".to_string(), hidden_value(preview, "kind")),
        ("file".to_string(), hidden_value(preview, "file")),
        ("step".to_string(), step.to_string()),
    ];
    for ticked in ["full", "place", "invite"] {
        if preview.contains(&format!(r#"type="hidden" name="{ticked}" value="on""#)) {
            fields.push((ticked.to_string(), "on".to_string()));
        }
    }
    fields.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let response = client
        .post(app.url("/admin/import"))
        .form(&fields)
        .send()
        .await
        .expect("an answer");
    let status = response.status();
    (status, response.text().await.expect("a page"))
}

/// Every file of a ZIP, by name.
pub fn unzip(bytes: &[u8]) -> Vec<(String, String)> {
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).expect("a ZIP");
    (0..archive.len())
        .map(|i| {
            let mut file = archive.by_index(i).expect("a file in the ZIP");
            let mut text = String::new();
            std::io::Read::read_to_string(&mut file, &mut text).expect("UTF-8 text");
            (file.name().to_string(), text)
        })
        .collect()
}

/// A browser-like client signed in as `email` (with the shared test password).
pub async fn signed_in(app: &TestApp, email: &str) -> reqwest::Client {
    let client = page_client();
    let response = app.login(&client, email, PASSWORD).await;
    assert_eq!(
        response.status(),
        reqwest::StatusCode::SEE_OTHER,
        "signing in {email}"
    );
    client
}

/// The status and text of the page at `path`, as `client` sees it.
pub async fn page(
    app: &TestApp,
    client: &reqwest::Client,
    path: &str,
) -> (reqwest::StatusCode, String) {
    let response = app.get_page(client, path).await;
    let status = response.status();
    (status, response.text().await.expect("a page body"))
}

/// Today in the school's time zone.
pub fn today() -> chrono::NaiveDate {
    steadfast::domain::calendar::SchoolCalendar::local_date(chrono::Utc::now())
}

/// Puts a pupil at `level` behind the app's back, to arrange a test.
pub fn set_level(app: &TestApp, pupil: i64, level: i16) {
    use diesel::prelude::*;
    use steadfast::db::schema::pupils;
    diesel::update(pupils::table.find(pupil))
        .set(pupils::level.eq(level))
        .execute(&mut *app.conn())
        .expect("setting the level");
}
