//! Faults around the real `steadfast` process: `kill -9` in the middle of a burst of
//! incident posts, the database going away while it serves, and a mail server that
//! refuses, answers "not available" or never answers. All on loopback, every wait bounded.

mod common;
#[path = "common/smtp.rs"]
mod smtp;

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use diesel::prelude::*;
use reqwest::{header, StatusCode};
use serde_json::{json, Value};

use common::cluster::PgCluster;
use common::serve::{ServeOptions, ServeProcess};
use common::{both_engines, run_steadfast, spawn_app, Engine, TestApp, PASSWORD};
use smtp::{SinkOptions, SmtpSink};
use steadfast::db::outbox;
use steadfast::db::schema::{
    incident_pupils, incidents, outbox as outbox_table, pupil_day_incidents,
};
use steadfast::domain::calendar::SchoolCalendar;

/// The longest any wait here lasts: a request, a restart, a recovery.
const WAIT: Duration = Duration::from_secs(60);

/// An HTTP client whose every request gives up after [`WAIT`].
fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(WAIT)
        .build()
        .expect("an HTTP client")
}

/// A Coaching Prompt for one pupil, carrying `marker` as its note.
fn prompt(pupil_id: i64, marker: &str) -> Value {
    json!({"pupil_ids": [pupil_id], "behaviour": "Off task", "note": marker})
}

// ---------------------------------------------------------------------------------------------
// kill -9 during a burst
// ---------------------------------------------------------------------------------------------

/// What became of one post of the burst.
#[derive(Debug)]
enum Outcome {
    /// 201, with the incident's id.
    Created(i64),
    /// Answered with another status: nothing may have been written.
    Refused(StatusCode),
    /// No answer (the server died first, or the connection was refused): it may or may
    /// not have been written.
    Lost,
}

/// Posts an incident with a key; `Lost` when no answer came.
async fn post_keyed(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    key: &str,
    body: &Value,
) -> Outcome {
    let sent = client
        .post(format!("{base}/api/v1/incidents"))
        .bearer_auth(token)
        .header("Idempotency-Key", key)
        .json(body)
        .send()
        .await;
    let Ok(response) = sent else {
        return Outcome::Lost;
    };
    let status = response.status();
    let Ok(text) = response.text().await else {
        return Outcome::Lost;
    };
    match (status, serde_json::from_str::<Value>(&text)) {
        (StatusCode::CREATED, Ok(body)) => {
            Outcome::Created(body["id"].as_i64().expect("an incident id in a 201"))
        }
        (StatusCode::CREATED, Err(_)) => Outcome::Lost,
        (other, _) => Outcome::Refused(other),
    }
}

/// The incidents whose note starts with `prefix`: note to ids.
fn incidents_marked(app: &TestApp, prefix: &str) -> BTreeMap<String, Vec<i64>> {
    let rows: Vec<(String, i64)> = incidents::table
        .filter(incidents::note.like(format!("{prefix}%")))
        .select((incidents::note.assume_not_null(), incidents::id))
        .load(&mut *app.conn())
        .expect("reading incidents");
    let mut marked: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    for (note, id) in rows {
        marked.entry(note).or_default().push(id);
    }
    marked
}

/// Checks the rows kept beside the incidents: each incident names its one pupil, and the
/// per-pupil per-day counts are what the incidents add up to.
fn assert_derived_rows_consistent(app: &TestApp) {
    let mut conn = app.conn();
    let orphans: i64 = incidents::table
        .left_join(incident_pupils::table)
        .filter(incident_pupils::pupil_id.is_null())
        .count()
        .get_result(&mut *conn)
        .expect("counting incidents without pupils");
    assert_eq!(orphans, 0, "incidents without their pupil");
    let facts: Vec<(i64, chrono::NaiveDateTime, chrono::NaiveDateTime)> = incident_pupils::table
        .inner_join(incidents::table)
        .filter(incidents::voided_at.is_null())
        .select((
            incident_pupils::pupil_id,
            incident_pupils::occurred_at,
            incidents::occurred_at,
        ))
        .load(&mut *conn)
        .expect("reading incident pupils");
    let mut expected: BTreeMap<(i64, NaiveDate), i32> = BTreeMap::new();
    for (pupil_id, kept_at, occurred_at) in facts {
        assert_eq!(kept_at, occurred_at, "an incident's time copied wrongly");
        let day = SchoolCalendar::local_date(kept_at.and_utc());
        *expected.entry((pupil_id, day)).or_default() += 1;
    }
    let counted: BTreeMap<(i64, NaiveDate), i32> = pupil_day_incidents::table
        .select((
            pupil_day_incidents::pupil_id,
            pupil_day_incidents::day,
            pupil_day_incidents::incidents,
        ))
        .load::<(i64, NaiveDate, i32)>(&mut *conn)
        .expect("reading the daily counts")
        .into_iter()
        .filter(|(_, _, n)| *n != 0)
        .map(|(pupil, day, n)| ((pupil, day), n))
        .collect();
    assert_eq!(
        counted, expected,
        "the daily counts differ from the incidents"
    );
}

async fn a_kill_during_a_burst_keeps_every_acknowledged_incident_and_nothing_else(engine: Engine) {
    let app = spawn_app(engine).await;
    let (school, _, _) = app.school_with_admin("NORTH");
    let (token, pupils) = app.teacher_and_pupils(&school, 6);
    let options = ServeOptions::on(&app.database_url);
    let mut server = ServeProcess::start(&options).await;

    // The burst: clients that each post one keyed prompt after another, with no pause,
    // until one goes unanswered (the server is gone) or they reach their share. The kill
    // comes while every client still has posts to send, so it lands in the middle of the
    // burst however fast the machine answers.
    const CLIENTS: usize = 16;
    const POSTS_PER_CLIENT: usize = 500;
    let created = Arc::new(AtomicUsize::new(0));
    let mut burst = tokio::task::JoinSet::new();
    for c in 0..CLIENTS {
        let (client, base, token) = (client(), server.address.clone(), token.clone());
        let (pupils, created) = (pupils.clone(), created.clone());
        burst.spawn(async move {
            let mut sent = Vec::new();
            for n in 0..POSTS_PER_CLIENT {
                let marker = format!("burst-{c:02}-{n:03}");
                let body = prompt(pupils[(c + n) % pupils.len()], &marker);
                let key = format!("key-{marker}");
                let outcome = post_keyed(&client, &base, &token, &key, &body).await;
                if matches!(outcome, Outcome::Created(_)) {
                    created.fetch_add(1, Ordering::SeqCst);
                }
                let lost = matches!(outcome, Outcome::Lost);
                sent.push((marker, key, body, outcome));
                if lost {
                    break;
                }
            }
            sent
        });
    }
    // Kill it once some have been acknowledged: every client is then mid-post or about
    // to post, and none has reached its share.
    let deadline = Instant::now() + WAIT;
    while created.load(Ordering::SeqCst) < 30 {
        assert!(Instant::now() < deadline, "the burst did not get going");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    server.kill();
    let per_client = burst.join_all().await;
    assert!(
        per_client
            .iter()
            .all(|sent| matches!(sent.last(), Some((_, _, _, Outcome::Lost)))),
        "a client sent its whole share before the kill: the kill did not land in the burst"
    );
    let outcomes: Vec<(String, String, Value, Outcome)> =
        per_client.into_iter().flatten().collect();
    let count = |f: fn(&Outcome) -> bool| outcomes.iter().filter(|o| f(&o.3)).count();
    let (acknowledged, lost) = (
        count(|o| matches!(o, Outcome::Created(_))),
        count(|o| matches!(o, Outcome::Lost)),
    );
    eprintln!(
        "{} posts sent: {acknowledged} acknowledged before the kill, {lost} without an answer, {} refused",
        outcomes.len(),
        outcomes.len() - acknowledged - lost
    );

    // Restart on the same database: every acknowledged post is there under its id, no
    // refused one is, nothing is there twice or unasked for.
    let server = ServeProcess::start(&options).await;
    let stored = incidents_marked(&app, "burst-");
    let sent: HashMap<&str, &Outcome> = outcomes
        .iter()
        .map(|(m, _, _, o)| (m.as_str(), o))
        .collect();
    for (marker, ids) in &stored {
        assert_eq!(ids.len(), 1, "{marker} stored {} times", ids.len());
        assert!(
            sent.contains_key(marker.as_str()),
            "{marker} was never sent"
        );
    }
    for (marker, _, _, outcome) in &outcomes {
        match outcome {
            Outcome::Created(id) => assert_eq!(
                stored.get(marker),
                Some(&vec![*id]),
                "{marker} was acknowledged as {id} but is not stored so"
            ),
            Outcome::Refused(status) => {
                assert!(
                    !stored.contains_key(marker),
                    "{marker} got {status} but was stored"
                )
            }
            Outcome::Lost => {}
        }
    }
    assert_derived_rows_consistent(&app);

    // The posts that got no answer, sent again with their keys (as the logging page does):
    // each is logged once, under the id it got if it had landed.
    for (marker, key, body, outcome) in &outcomes {
        if !matches!(outcome, Outcome::Lost) {
            continue;
        }
        match post_keyed(&client(), &server.address, &token, key, body).await {
            Outcome::Created(id) => {
                if let Some(ids) = stored.get(marker) {
                    assert_eq!(
                        ids,
                        &vec![id],
                        "{marker} answered with another id on repeat"
                    );
                }
            }
            other => panic!("{marker} sent again: {other:?}"),
        }
    }
    let stored = incidents_marked(&app, "burst-");
    assert_eq!(
        stored.len(),
        acknowledged + lost,
        "every answered or repeated post, once"
    );
    assert!(stored.values().all(|ids| ids.len() == 1));
    assert_derived_rows_consistent(&app);
}

both_engines!(a_kill_during_a_burst_keeps_every_acknowledged_incident_and_nothing_else);

// ---------------------------------------------------------------------------------------------
// The database going away
// ---------------------------------------------------------------------------------------------

/// Runs a `steadfast` command against `database_url`, checked; answers its standard output.
fn steadfast(database_url: &str, args: &[&str], stdin: &str) -> String {
    let output = run_steadfast(args, stdin, &[("DATABASE_URL", database_url)]);
    assert!(
        output.status.success(),
        "steadfast {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Checks a JSON answer is `503 {"error":{"code":"database_unavailable",...}}`.
async fn assert_json_unavailable(what: &str, response: reqwest::Response) {
    let status = response.status();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{what}: {body}");
    common::assert_error_shape(&body);
    assert_eq!(
        body["error"]["code"], "database_unavailable",
        "{what}: {body}"
    );
}

#[tokio::test]
async fn the_database_going_away_is_a_clear_503_and_its_return_needs_no_restart() {
    let Some(cluster) = PgCluster::create() else {
        return;
    };
    let url = cluster.url();
    steadfast(
        &url,
        &[
            "school",
            "add",
            "--code",
            "NORTH",
            "--name",
            "North Academy",
        ],
        "",
    );
    let add_user = |email: &str, role: &str| {
        let args = [
            "user",
            "add",
            "--email",
            email,
            "--name",
            "Ada Admin",
            "--role",
            role,
            "--school",
            "NORTH",
        ];
        steadfast(&url, &args, &format!("{PASSWORD}\n"));
    };
    add_user("admin@north.example", "admin");
    add_user("teacher@north.example", "class_staff");
    let admin = steadfast(
        &url,
        &["token", "create", "--email", "admin@north.example"],
        "",
    );
    let admin = admin.trim();
    let teacher = steadfast(
        &url,
        &["token", "create", "--email", "teacher@north.example"],
        "",
    );
    let teacher = teacher.trim();
    let mut server = ServeProcess::start(&ServeOptions::on(&url)).await;
    let api = client();
    let pupil: Value = api
        .post(server.url("/api/v1/pupils"))
        .bearer_auth(admin)
        .json(&json!({"upn": "A123456789012", "given_name": "Sam", "family_name": "Okafor", "year": 9, "form": "9B"}))
        .send()
        .await
        .expect("the pupil post to be answered")
        .json()
        .await
        .expect("a pupil");
    let pupil_id = pupil["id"]
        .as_i64()
        .unwrap_or_else(|| panic!("no pupil id: {pupil}"));
    let browser = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(WAIT)
        .build()
        .expect("a page client");
    let signed_in =
        common::login_at(&browser, &server.address, "teacher@north.example", PASSWORD).await;
    assert_eq!(signed_in.status(), StatusCode::SEE_OTHER);
    let page = browser
        .get(server.url("/log"))
        .send()
        .await
        .expect("the log page");
    assert_eq!(page.status(), StatusCode::OK);

    cluster.stop();

    // Every kind of request is answered, at once and clearly, while the database is away.
    let started = Instant::now();
    let health = api
        .get(server.url("/health"))
        .send()
        .await
        .expect("/health answered");
    assert_eq!(health.status(), StatusCode::SERVICE_UNAVAILABLE);
    let health: Value = health.json().await.expect("a JSON health report");
    assert_eq!(health["status"], "unavailable", "{health}");
    for attempt in 0..3 {
        let posted = api
            .post(server.url("/api/v1/incidents"))
            .bearer_auth(teacher)
            .header("Idempotency-Key", "while-the-database-is-away")
            .json(&prompt(pupil_id, "while away"))
            .send()
            .await
            .expect("the incident post to be answered");
        assert_json_unavailable(&format!("POST /api/v1/incidents ({attempt})"), posted).await;
        let listed = api
            .get(server.url("/api/v1/pupils"))
            .bearer_auth(admin)
            .send()
            .await
            .expect("the pupil list to be answered");
        assert_json_unavailable(&format!("GET /api/v1/pupils ({attempt})"), listed).await;
        let page = browser
            .get(server.url("/log"))
            .send()
            .await
            .expect("the log page");
        assert_eq!(
            page.status(),
            StatusCode::SERVICE_UNAVAILABLE,
            "GET /log ({attempt})"
        );
        let content_type = page
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        assert!(content_type.starts_with("text/html"), "{content_type}");
        let text = page.text().await.expect("an error page");
        assert!(text.contains("cannot reach its database"), "{text}");
    }
    eprintln!(
        "with the database stopped, 10 requests were answered 503 in {:?}",
        started.elapsed()
    );
    assert!(server.is_running(), "the server died:\n{}", server.output());

    // The database comes back: requests succeed again, on the same process.
    cluster.start();
    let returned = Instant::now();
    let deadline = returned + WAIT;
    loop {
        let health = api
            .get(server.url("/health"))
            .send()
            .await
            .expect("/health answered");
        if health.status() == StatusCode::OK {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "not healthy again within {WAIT:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    eprintln!(
        "healthy again {:?} after the database returned",
        returned.elapsed()
    );
    // Once it answers, every request succeeds: none meets a connection from before.
    let posted = api
        .post(server.url("/api/v1/incidents"))
        .bearer_auth(teacher)
        .header("Idempotency-Key", "while-the-database-is-away")
        .json(&prompt(pupil_id, "while away"))
        .send()
        .await
        .expect("the incident post to be answered");
    assert_eq!(
        posted.status(),
        StatusCode::CREATED,
        "{:?}",
        posted.text().await
    );
    for _ in 0..8 {
        let listed = api
            .get(server.url("/api/v1/pupils"))
            .bearer_auth(admin)
            .send()
            .await
            .expect("the pupil list");
        assert_eq!(listed.status(), StatusCode::OK);
        let page = browser
            .get(server.url("/log"))
            .send()
            .await
            .expect("the log page");
        assert_eq!(page.status(), StatusCode::OK);
    }
    // Nothing was written while the database was away: the keyed post logged one incident.
    let logged: Value = api
        .get(server.url(&format!("/api/v1/pupils/{pupil_id}/timeline")))
        .bearer_auth(admin)
        .send()
        .await
        .expect("the timeline")
        .json()
        .await
        .expect("a timeline");
    let incidents = logged["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter(|event| event["type"] == "incident")
        .count();
    assert_eq!(incidents, 1, "{logged}");
    assert!(server.is_running());
    let output = server.output();
    assert!(
        !output.contains("panicked"),
        "the server panicked:\n{output}"
    );
    server.kill();
}

// ---------------------------------------------------------------------------------------------
// The mail server failing
// ---------------------------------------------------------------------------------------------

/// A mail server on loopback that misbehaves: it never answers, or answers that it is not
/// available and hangs up. Counts the connections it is offered.
struct BadMailServer {
    port: u16,
    connections: Arc<AtomicUsize>,
}

impl BadMailServer {
    /// Accepts connections and says nothing, ever (until the test ends).
    fn silent() -> BadMailServer {
        BadMailServer::start(None)
    }

    /// Greets every connection with `421` ("service not available") and closes it.
    fn unavailable() -> BadMailServer {
        BadMailServer::start(Some("421 4.3.2 Service not available, try again later\r\n"))
    }

    fn start(greeting: Option<&'static str>) -> BadMailServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback port");
        let port = listener.local_addr().expect("its address").port();
        let connections = Arc::new(AtomicUsize::new(0));
        let counter = connections.clone();
        std::thread::spawn(move || {
            let mut held = Vec::new();
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                counter.fetch_add(1, Ordering::SeqCst);
                match greeting {
                    Some(line) => {
                        let _ = stream.write_all(line.as_bytes());
                    }
                    None => held.push(stream),
                }
            }
        });
        BadMailServer { port, connections }
    }

    fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}

/// Runs `jobs run --once --at T` with email going to `smtp_url`, checked.
fn deliver_at(app: &TestApp, at: DateTime<Utc>, smtp_url: &str) {
    let at = at.to_rfc3339();
    let output = app.cli_with_env(
        &["jobs", "run", "--once", "--at", at.as_str()],
        "",
        &[("STEADFAST_SMTP_URL", smtp_url)],
    );
    assert!(
        output.status.success(),
        "jobs run failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Each outbox row's status and attempts, in order.
fn outbox_state(app: &TestApp) -> Vec<(String, i32)> {
    outbox_table::table
        .order(outbox_table::id)
        .select((outbox_table::status, outbox_table::attempts))
        .load(&mut *app.conn())
        .expect("reading the outbox")
}

async fn a_failing_mail_server_is_retried_with_backoff_then_each_email_goes_once(engine: Engine) {
    let Some(sink) = SmtpSink::start(SinkOptions::default()) else {
        return;
    };
    let app = spawn_app(engine).await;
    let (school, _, _) = app.school_with_admin("NORTH");
    const EMAILS: usize = 3;
    let start = Utc::now();
    let school_id = school.id;
    common::queue_notices(&app, school_id, EMAILS, "faults-notice", start).await;
    let pending = |attempts: i32| vec![(outbox::status::PENDING.to_string(), attempts); EMAILS];

    // A server that never answers: the run ends after one timeout, not one per email, and
    // every email waits its backoff.
    let silent = BadMailServer::silent();
    deliver_at(&app, start, &silent.url());
    assert_eq!(
        silent.connections(),
        1,
        "the silent server was tried once a run"
    );
    assert_eq!(outbox_state(&app), pending(1));

    // Before the backoff has passed, even a working server gets nothing.
    let mut at = start + TimeDelta::seconds(10);
    deliver_at(&app, at, &sink.url());
    assert_eq!(outbox_state(&app), pending(1));
    assert!(sink.messages().is_empty());

    // A server that is "not available", then no server at all: more attempts, longer waits.
    at = start + outbox::backoff(1) + TimeDelta::seconds(1);
    let unavailable = BadMailServer::unavailable();
    deliver_at(&app, at, &unavailable.url());
    assert_eq!(unavailable.connections(), 1);
    assert_eq!(outbox_state(&app), pending(2));
    deliver_at(
        &app,
        at + outbox::backoff(2) - TimeDelta::seconds(5),
        &sink.url(),
    );
    assert_eq!(outbox_state(&app), pending(2), "retried before its backoff");
    at += outbox::backoff(2) + TimeDelta::seconds(1);
    let nobody = format!("smtp://127.0.0.1:{}", common::serve::free_port());
    deliver_at(&app, at, &nobody);
    assert_eq!(outbox_state(&app), pending(3));
    let errors: Vec<Option<String>> = outbox_table::table
        .select(outbox_table::last_error)
        .load(&mut *app.conn())
        .expect("reading the errors");
    assert!(errors.iter().all(Option::is_some), "{errors:?}");

    // The server behaves again: each email goes, once.
    at += outbox::backoff(3) + TimeDelta::seconds(1);
    deliver_at(&app, at, &sink.url());
    assert_eq!(
        outbox_state(&app),
        vec![(outbox::status::SENT.to_string(), 4); EMAILS]
    );
    deliver_at(&app, at + TimeDelta::hours(2), &sink.url());
    let received = sink.wait_for(EMAILS, WAIT);
    // Every delivery has returned, and the sink saves a message before acknowledging it.
    assert_eq!(sink.messages().len(), EMAILS, "an email was sent twice");
    let mut ids: Vec<String> = received
        .iter()
        .map(|m| {
            mail_parser::MessageParser::default()
                .parse(&m.raw)
                .and_then(|p| p.message_id().map(str::to_string))
                .expect("a Message-ID")
        })
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), EMAILS);
}

both_engines!(a_failing_mail_server_is_retried_with_backoff_then_each_email_goes_once);
