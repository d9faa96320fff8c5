//! Several `steadfast serve` processes on one PostgreSQL database, as behind a load
//! balancer: logging spread over them lands once, the outbox sends each email once while
//! every instance delivers, and the daily jobs make each suggestion and email once when
//! instances run them at the same moment. PostgreSQL only: SQLite is one instance's store.

mod common;
#[path = "common/smtp.rs"]
mod smtp;

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use chrono::{DateTime, Datelike, TimeDelta, TimeZone, Utc, Weekday};
use diesel::prelude::*;
use reqwest::StatusCode;
use serde_json::{json, Value};

use common::serve::{ServeOptions, ServeProcess};
use common::{postgres_available, spawn_app, Engine, Role, TestApp};
use smtp::{SinkOptions, SmtpSink};
use steadfast::db::outbox;
use steadfast::db::schema::{incidents, outbox as outbox_table, staff, suggestions};

/// The longest any test here waits for something to happen.
const WAIT: Duration = Duration::from_secs(60);

/// `POST /api/v1/incidents` to one instance, with an idempotency key.
async fn post_incident(
    base: String,
    token: String,
    key: String,
    body: Value,
) -> (StatusCode, Value) {
    let response = reqwest::Client::new()
        .post(format!("{base}/api/v1/incidents"))
        .bearer_auth(token)
        .header("Idempotency-Key", key)
        .json(&body)
        .timeout(WAIT)
        .send()
        .await
        .expect("the incident post to be answered");
    common::json_of(response).await
}

/// A Coaching Prompt for one pupil, carrying `marker` as its note.
fn prompt(pupil_id: i64, marker: &str) -> Value {
    json!({"pupil_ids": [pupil_id], "behaviour": "Off task", "note": marker})
}

/// The incidents of the database whose note starts with `prefix`: note to id.
fn incidents_marked(app: &TestApp, prefix: &str) -> Vec<(String, i64)> {
    incidents::table
        .filter(incidents::note.like(format!("{prefix}%")))
        .select((incidents::note.assume_not_null(), incidents::id))
        .order(incidents::id)
        .load(&mut *app.conn())
        .expect("reading incidents")
}

/// Checks that no pupil holds two open suggestions to the same level.
fn assert_no_duplicate_open_suggestions(app: &TestApp) {
    let open: Vec<(i64, i16, String)> = suggestions::table
        .filter(suggestions::status.eq("open"))
        .select((
            suggestions::pupil_id,
            suggestions::to_level,
            suggestions::rule,
        ))
        .load(&mut *app.conn())
        .expect("reading suggestions");
    let mut seen: BTreeMap<(i64, i16, String), usize> = BTreeMap::new();
    for key in open {
        *seen.entry(key).or_default() += 1;
    }
    let doubled: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).collect();
    assert!(doubled.is_empty(), "suggestions made twice: {doubled:?}");
}

/// Two instances started together on the test app's database.
async fn two_instances(app: &TestApp, smtp_url: Option<&str>) -> (ServeProcess, ServeProcess) {
    let mut options = ServeOptions::on(&app.database_url);
    options.smtp_url = smtp_url.map(str::to_string);
    let (a, b) = (ServeProcess::spawn(&options), ServeProcess::spawn(&options));
    a.wait_until_healthy().await;
    b.wait_until_healthy().await;
    (a, b)
}

#[tokio::test]
async fn logging_spread_over_two_instances_lands_once() {
    if !postgres_available() {
        return;
    }
    let app = spawn_app(Engine::Postgres).await;
    let (school, _, _) = app.school_with_admin("NORTH");
    let (token, pupils) = app.teacher_and_pupils(&school, 4);
    let (a, b) = two_instances(&app, None).await;

    // Forty prompts at once, alternating between the instances, four pupils each logged for
    // ten times (so the rules suggest as they go).
    let mut requests = tokio::task::JoinSet::new();
    for n in 0..40 {
        let base = if n % 2 == 0 { &a.address } else { &b.address };
        let marker = format!("spread-{n:02}");
        let body = prompt(pupils[n % pupils.len()], &marker);
        let (base, token, key) = (base.clone(), token.clone(), format!("spread-key-{n:02}"));
        requests.spawn(async move { (marker, post_incident(base, token, key, body).await) });
    }
    let mut answered: HashMap<String, i64> = HashMap::new();
    for (marker, (status, body)) in requests.join_all().await {
        assert_eq!(status, StatusCode::CREATED, "{marker}: {body}");
        answered.insert(marker, body["id"].as_i64().expect("an incident id"));
    }
    let stored = incidents_marked(&app, "spread-");
    assert_eq!(stored.len(), 40, "each prompt once: {stored:?}");
    for (note, id) in &stored {
        assert_eq!(
            answered.get(note),
            Some(id),
            "{note} stored under another id"
        );
    }

    // The same key sent to both instances at the same moment logs one incident, and both
    // answer with it.
    for n in 0..8 {
        let marker = format!("twice-{n}");
        let body = prompt(pupils[n % pupils.len()], &marker);
        let key = format!("twice-key-{n}");
        let (first, second) = tokio::join!(
            post_incident(a.address.clone(), token.clone(), key.clone(), body.clone()),
            post_incident(b.address.clone(), token.clone(), key, body),
        );
        assert_eq!(first.0, StatusCode::CREATED, "{marker}: {}", first.1);
        assert_eq!(second.0, StatusCode::CREATED, "{marker}: {}", second.1);
        assert_eq!(
            first.1["id"], second.1["id"],
            "{marker}: two incidents for one key"
        );
    }
    let stored = incidents_marked(&app, "twice-");
    assert_eq!(stored.len(), 8, "one incident per key: {stored:?}");
    assert_no_duplicate_open_suggestions(&app);
}

#[tokio::test]
async fn the_rules_see_a_pupils_incidents_logged_through_another_instance() {
    if !postgres_available() {
        return;
    }
    let app = spawn_app(Engine::Postgres).await;
    let (school, _, _) = app.school_with_admin("NORTH");
    let (token, pupils) = app.teacher_and_pupils(&school, 1);
    let (a, b) = two_instances(&app, None).await;

    // Each instance keeps the pupil's recent history in memory: the prompt logged through
    // the other one must still count, so the third prompt suggests a Coaching Conversation.
    let mut ids = Vec::new();
    let mut last = Value::Null;
    for (n, base) in [&a.address, &b.address, &a.address].into_iter().enumerate() {
        let marker = format!("across-{n}");
        let (status, body) = post_incident(
            base.clone(),
            token.clone(),
            format!("across-key-{n}"),
            prompt(pupils[0], &marker),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{marker}: {body}");
        ids.push(body["id"].as_i64().expect("an incident id"));
        last = body;
    }
    let suggestions = last["suggestions"].as_array().expect("suggestions");
    assert_eq!(suggestions.len(), 1, "{last}");
    let mut evidence: Vec<i64> = suggestions[0]["evidence"]
        .as_array()
        .expect("evidence")
        .iter()
        .filter_map(Value::as_i64)
        .collect();
    evidence.sort_unstable();
    assert_eq!(evidence, ids);

    // A fourth through the other instance sees the suggestion made through the first, still
    // waiting for a decision, and makes no second one.
    let (status, body) = post_incident(
        b.address.clone(),
        token.clone(),
        "across-key-3".into(),
        prompt(pupils[0], "across-3"),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(
        body["suggestions"],
        json!([]),
        "the open suggestion waits: {body}"
    );
    assert_no_duplicate_open_suggestions(&app);
}

#[tokio::test]
async fn two_instances_deliver_each_email_once() {
    if !postgres_available() {
        return;
    }
    let Some(sink) = SmtpSink::start(SinkOptions::default()) else {
        return;
    };
    let app = spawn_app(Engine::Postgres).await;
    let (school, _, _) = app.school_with_admin("NORTH");
    const EMAILS: usize = 120;
    let now = Utc::now() - TimeDelta::minutes(1);
    let school_id = school.id;
    common::queue_notices(&app, school_id, EMAILS, "instances-notice", now).await;

    // Both instances' workers start on the same pile, and two `jobs run --once` beside them.
    let (a, b) = two_instances(&app, Some(&sink.url())).await;
    let url = sink.url();
    let runs: Vec<_> = (0..2)
        .map(|_| {
            let (database_url, url) = (app.database_url.clone(), url.clone());
            std::thread::spawn(move || {
                run_jobs(&database_url, None, &[("STEADFAST_SMTP_URL", url.as_str())])
            })
        })
        .collect();
    for run in runs {
        run.join().expect("a jobs run");
    }

    let deadline = Instant::now() + WAIT;
    loop {
        let unsent: i64 = outbox_table::table
            .filter(outbox_table::status.ne(outbox::status::SENT))
            .count()
            .get_result(&mut *app.conn())
            .expect("counting the outbox");
        if unsent == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{unsent} emails still unsent after {WAIT:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    sink.wait_for(EMAILS, WAIT);
    // With both instances gone and the jobs runs over, nothing can send any more; the sink
    // saves each message before acknowledging it, so what it holds now is all there is.
    drop((a, b));
    let received = sink.messages();
    let mut per_id: BTreeMap<String, usize> = BTreeMap::new();
    for message in &received {
        let parsed = mail_parser::MessageParser::default()
            .parse(&message.raw)
            .expect("a message that parses");
        let id = parsed.message_id().expect("a Message-ID").to_string();
        *per_id.entry(id).or_default() += 1;
    }
    let doubled: Vec<_> = per_id.iter().filter(|(_, n)| **n > 1).collect();
    assert!(doubled.is_empty(), "sent more than once: {doubled:?}");
    assert_eq!(per_id.len(), EMAILS, "each email arrives");
    assert_eq!(received.len(), EMAILS);
}

/// Runs `steadfast jobs run --once [--at T]` against a database, checked.
fn run_jobs(database_url: &str, at: Option<DateTime<Utc>>, env: &[(&str, &str)]) {
    let data = tempfile::tempdir().expect("a data folder");
    let data_dir = data.path().to_string_lossy().into_owned();
    let at = at.map(|at| at.to_rfc3339());
    let mut args = vec!["jobs", "run", "--once"];
    if let Some(at) = &at {
        args.extend(["--at", at.as_str()]);
    }
    let mut settings = vec![
        ("DATABASE_URL", database_url),
        ("STEADFAST_DATA_DIR", data_dir.as_str()),
        ("STEADFAST_POOL_SIZE", "2"),
    ];
    settings.extend_from_slice(env);
    let output = common::run_steadfast(&args, "", &settings);
    assert!(
        output.status.success(),
        "jobs run failed: {}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// 10:00 in school on the first Wednesday at least `weeks` weeks after today.
fn a_school_morning(weeks: i64) -> DateTime<Utc> {
    let mut day = (Utc::now() + TimeDelta::weeks(weeks)).date_naive();
    while day.weekday() != Weekday::Wed {
        day = day.succ_opt().expect("a next day");
    }
    Utc.from_utc_datetime(&day.and_hms_opt(10, 0, 0).expect("10:00"))
}

#[tokio::test]
async fn the_daily_jobs_run_once_when_instances_run_them_together() {
    if !postgres_available() {
        return;
    }
    let app = spawn_app(Engine::Postgres).await;
    let (school, _, _) = app.school_with_admin("NORTH");
    let teacher = app.create_staff(
        &school,
        "t@north.example",
        "Tess Teacher",
        &[Role::ClassStaff],
        None,
    );
    let teacher = app.create_token(&teacher);
    let hoy = app.create_staff_leading(
        &school,
        "hoy9@north.example",
        "Hal Head",
        &[Role::PastoralLead],
        &[9],
        None,
    );
    let hoy_token = app.create_token(&hoy);
    // The Head of Year takes a daily digest: notices for them are held for it.
    diesel::update(staff::table.find(hoy.id))
        .set(staff::digest_hour.eq(Some(7_i16)))
        .execute(&mut *app.conn())
        .expect("choosing a digest");

    // Pupils at Coaching Prompt, quiet from now on: the step-down check suggests for each.
    for n in 0..12 {
        let pupil = app.create_pupil(
            &school,
            &format!("B1234567890{n:02}"),
            "Pat",
            &format!("Quiet{n}"),
            9,
            "9A",
        );
        let (status, body) = app
            .api_post("/api/v1/incidents", &teacher, &prompt(pupil.id, "once"))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    // A pupil moved to Coaching Time, whose meeting then goes overdue (long overdue on the
    // follow-ups' first run: in the one summary).
    let pupil = app.create_pupil(&school, "C123456789012", "Sam", "Okafor", 9, "9B");
    let mut logged = Value::Null;
    for _ in 0..3 {
        logged = app
            .api_post("/api/v1/incidents", &teacher, &prompt(pupil.id, "again"))
            .await
            .1;
    }
    accept_suggested(&app, &hoy_token, &logged).await;
    let serious = json!({"pupil_ids": [pupil.id], "behaviour": "Fighting", "severity": "serious", "response": "none"});
    let (_, logged) = app.api_post("/api/v1/incidents", &teacher, &serious).await;
    accept_suggested(&app, &hoy_token, &logged).await;
    let outbox_before = outbox_rows(&app);

    // Three runs at once, as three instances' workers would, five weeks on.
    let at = a_school_morning(5);
    let runs: Vec<_> = (0..3)
        .map(|_| {
            let database_url = app.database_url.clone();
            std::thread::spawn(move || run_jobs(&database_url, Some(at), &[]))
        })
        .collect();
    for run in runs {
        run.join().expect("a jobs run");
    }

    assert_no_duplicate_open_suggestions(&app);
    let step_downs: i64 = suggestions::table
        .filter(suggestions::status.eq("open"))
        .filter(suggestions::to_level.lt(suggestions::from_level))
        .count()
        .get_result(&mut *app.conn())
        .expect("counting suggestions");
    assert!(
        step_downs >= 12,
        "the quiet pupils were not checked: {step_downs} step-downs"
    );
    let after = outbox_rows(&app);
    let new: Vec<&(String, String, String)> = after
        .iter()
        .filter(|row| !outbox_before.contains(row))
        .collect();
    assert!(
        new.iter()
            .any(|(key, _, _)| key.contains("-overdue-") || key.starts_with("overdue-summary-")),
        "no overdue notice was queued: {new:?}"
    );
    let digests: Vec<_> = after
        .iter()
        .filter(|(key, _, _)| key.starts_with("digest-"))
        .collect();
    assert_eq!(
        digests.len(),
        1,
        "one digest for the Head of Year: {digests:?}"
    );
    let held: i64 = outbox_table::table
        .filter(outbox_table::status.eq(outbox::status::HELD))
        .count()
        .get_result(&mut *app.conn())
        .expect("counting held emails");
    assert_eq!(held, 0, "every held email went into the digest");

    // A fourth run at the same time finds nothing left to do.
    let suggestions_then: i64 = suggestions::table
        .count()
        .get_result(&mut *app.conn())
        .expect("counting");
    run_jobs(&app.database_url, Some(at), &[]);
    let suggestions_now: i64 = suggestions::table
        .count()
        .get_result(&mut *app.conn())
        .expect("counting");
    assert_eq!(suggestions_now, suggestions_then);
    assert_eq!(outbox_rows(&app), after);
}

/// Accepts the suggestion an incident post answered with.
async fn accept_suggested(app: &TestApp, token: &str, logged: &Value) {
    let id = logged["suggestions"][0]["id"]
        .as_i64()
        .unwrap_or_else(|| panic!("nothing suggested: {logged}"));
    let (status, body) = app
        .api_post(
            &format!("/api/v1/suggestions/{id}/accept"),
            token,
            &json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

/// Every outbox row's message key, recipient and status, in order.
fn outbox_rows(app: &TestApp) -> Vec<(String, String, String)> {
    outbox_table::table
        .order(outbox_table::id)
        .select((
            outbox_table::message_key,
            outbox_table::recipient,
            outbox_table::status,
        ))
        .load(&mut *app.conn())
        .expect("reading the outbox")
}
