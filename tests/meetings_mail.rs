//! Meetings and their email, end to end on both engines, against a real SMTP server on
//! loopback (scripts/smtp-sink.py): a Coaching Time accepted for a Year 9 pupil emails the
//! Year 9 Head of Year once; booking sends invitations a calendar accepts; an unheld meeting
//! brings the overdue notice the next school day, never on a Saturday; the server down for a
//! while loses nothing; a worker that dies holding its lease doubles nothing. With email
//! going to files (the default), the same messages are files and on the admin page.

mod common;

#[path = "common/smtp.rs"]
mod smtp;

use std::time::Duration;

use chrono::{DateTime, Datelike, NaiveDate, TimeDelta, TimeZone, Utc, Weekday};
use diesel::prelude::*;
use reqwest::StatusCode;
use serde_json::{json, Value};

use common::{both_engines, page_client, spawn_app, spawn_app_with, Engine, Role, TestApp};
use smtp::{ReceivedMessage, SinkOptions, SmtpSink};
use steadfast::db::models::School;
use steadfast::db::outbox::{self, Recipient};
use steadfast::db::schema::{meetings, outbox as outbox_table};
use steadfast::db::staff::{self, StaffMember};
use steadfast::domain::calendar::SCHOOL_TZ;
use steadfast::jobs::{self, JobContext};
use steadfast::mail::OutgoingEmail;

const WAIT: Duration = Duration::from_secs(20);

/// A school with a class teacher, the Year 9 Head of Year, the SENDCO and SLT, and a Year 9
/// pupil.
struct Scene {
    school: School,
    teacher: String,
    hoy9: StaffMember,
    hoy9_token: String,
    sendco: StaffMember,
    slt: StaffMember,
    pupil: i64,
}

fn member(
    app: &TestApp,
    school: &School,
    email: &str,
    name: &str,
    role: Role,
    years: &[i64],
) -> StaffMember {
    app.create_staff_leading(school, email, name, &[role], years, None)
}

fn scene(app: &TestApp) -> Scene {
    let school = app.create_school("OAK", "Oakfield Academy");
    let teacher = member(
        app,
        &school,
        "teacher@oak.example",
        "Tess Teacher",
        Role::ClassStaff,
        &[],
    );
    let hoy9 = member(
        app,
        &school,
        "hoy9@oak.example",
        "Hal Head",
        Role::PastoralLead,
        &[9],
    );
    member(
        app,
        &school,
        "hoy8@oak.example",
        "Hana Head",
        Role::PastoralLead,
        &[8],
    );
    let sendco = member(
        app,
        &school,
        "sendco@oak.example",
        "Sen Co",
        Role::Sendco,
        &[],
    );
    let slt = member(app, &school, "slt@oak.example", "Sal Lead", Role::Slt, &[]);
    let pupil = app
        .create_pupil(&school, "A123456789012", "Sam", "Okafor", 9, "9B")
        .id;
    Scene {
        teacher: app.create_token(&teacher),
        hoy9_token: app.create_token(&hoy9),
        school,
        hoy9,
        sendco,
        slt,
        pupil,
    }
}

/// Walks the pupil to an accepted Coaching Time: three prompts, the conversation accepted,
/// a serious incident, Coaching Time accepted by the Head of Year. Answers the meeting.
async fn coaching_time_accepted(app: &TestApp, s: &Scene) -> Value {
    let mut last = Value::Null;
    for _ in 0..3 {
        let body = json!({"pupil_ids": [s.pupil], "behaviour": "Off task"});
        last = app.api_post("/api/v1/incidents", &s.teacher, &body).await.1;
    }
    let id = last["suggestions"][0]["id"]
        .as_i64()
        .expect("a conversation suggested");
    let (status, body) = app
        .api_post(
            &format!("/api/v1/suggestions/{id}/accept"),
            &s.hoy9_token,
            &json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let serious = json!({"pupil_ids": [s.pupil], "behaviour": "Fighting", "severity": "serious", "response": "none"});
    let (_, logged) = app
        .api_post("/api/v1/incidents", &s.teacher, &serious)
        .await;
    let id = logged["suggestions"][0]["id"]
        .as_i64()
        .expect("Coaching Time suggested");
    assert_eq!(logged["suggestions"][0]["to_level"], 3);
    let (status, body) = app
        .api_post(
            &format!("/api/v1/suggestions/{id}/accept"),
            &s.hoy9_token,
            &json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["meeting"]["status"], "due");
    body["meeting"].clone()
}

async fn run_jobs(app: &TestApp, at: DateTime<Utc>) -> jobs::JobReport {
    let context = JobContext::from_settings(&app.settings).unwrap();
    jobs::run_once(&app.db, &context, at).await.unwrap()
}

/// The first `weekday` strictly after `from`.
fn next(weekday: Weekday, from: NaiveDate) -> NaiveDate {
    let mut day = from + TimeDelta::days(1);
    while day.weekday() != weekday {
        day += TimeDelta::days(1);
    }
    day
}

/// 09:00 London time on `day`.
fn morning(day: NaiveDate) -> DateTime<Utc> {
    SCHOOL_TZ
        .from_local_datetime(&day.and_hms_opt(9, 0, 0).unwrap())
        .unwrap()
        .with_timezone(&Utc)
}

fn to_of(messages: &[ReceivedMessage]) -> Vec<String> {
    let mut to: Vec<String> = messages
        .iter()
        .flat_map(|m| m.envelope_to.clone())
        .collect();
    to.sort();
    to
}

/// The calendar part of a message, parsed: its METHOD, and its event's SEQUENCE and DTSTART.
fn calendar_of(message: &ReceivedMessage) -> (String, String, String) {
    use mail_parser::MessageParser;
    let parsed = MessageParser::default()
        .parse(&message.raw)
        .expect("a message");
    let ics = parsed
        .parts
        .iter()
        .find(|part| {
            part.content_type()
                .is_some_and(|ct| ct.ctype() == "text" && ct.subtype() == Some("calendar"))
        })
        .and_then(|part| part.text_contents().map(str::to_string))
        .expect("a text/calendar part");
    let calendar = ical::IcalParser::new(ics.as_bytes())
        .next()
        .expect("one calendar")
        .expect("a calendar that parses");
    let property = |props: &[ical::property::Property], name: &str| {
        props
            .iter()
            .find(|p| p.name == name)
            .and_then(|p| p.value.clone())
            .unwrap_or_default()
    };
    let event = calendar.events.first().expect("one event");
    let start = event
        .properties
        .iter()
        .find(|p| p.name == "DTSTART")
        .expect("a start");
    let tzid = start
        .params
        .as_ref()
        .and_then(|params| params.iter().find(|(k, _)| k == "TZID"))
        .map(|(_, v)| v.join(","))
        .unwrap_or_default();
    (
        property(&calendar.properties, "METHOD"),
        property(&event.properties, "SEQUENCE"),
        format!("{tzid}:{}", start.value.clone().unwrap_or_default()),
    )
}

use mail_parser::MimeHeaders;

async fn meeting_emails_reach_the_right_people_once(engine: Engine) {
    let Some(sink) = SmtpSink::start(SinkOptions::default()) else {
        return;
    };
    let app = spawn_app_with(engine, |settings| settings.smtp_url = sink.url()).await;
    let s = scene(&app);
    let meeting = coaching_time_accepted(&app, &s).await;
    let meeting_id = meeting["id"].as_i64().unwrap();

    // Due: one email, to the Year 9 Head of Year only (Coaching Time is level 3).
    let report = run_jobs(&app, Utc::now()).await;
    assert_eq!(report.delivery.sent, 1, "{report}");
    let received = sink.wait_for(1, WAIT);
    assert_eq!(to_of(&received), vec!["hoy9@oak.example".to_string()]);
    let text = received[0].text();
    assert!(text.contains("Coaching Time"), "{text}");
    assert!(text.contains(&format!("/meetings/{meeting_id}")), "{text}");
    assert!(text.contains("Sam O."), "{text}");
    assert!(
        !text.contains("Okafor"),
        "no more of the name than needed: {text}"
    );
    let parsed = mail_parser::MessageParser::default()
        .parse(&received[0].raw)
        .expect("a message");
    let sender = parsed
        .from()
        .and_then(|from| from.first())
        .expect("a sender");
    assert_eq!(sender.name(), Some("Oakfield Academy via Steadfast"));
    // Named by this installation's own domain (the From address's, while the public URL is
    // this machine), and no automatic reply asked for.
    let from_domain = app
        .settings
        .mail_from
        .rsplit('@')
        .next()
        .unwrap()
        .to_string();
    assert!(
        parsed
            .message_id()
            .is_some_and(|id| id.ends_with(&format!("@{from_domain}"))),
        "{:?}",
        parsed.message_id()
    );
    let raw = String::from_utf8_lossy(&received[0].raw);
    assert!(raw.contains("X-Auto-Response-Suppress: All"), "{raw}");
    assert!(raw.contains("Auto-Submitted: auto-generated"), "{raw}");
    // Running the jobs again sends nothing more.
    assert_eq!(run_jobs(&app, Utc::now()).await.delivery.sent, 0);
    // Every delivery has returned, and the sink saves a message before acknowledging it.
    assert_eq!(sink.messages().len(), 1);

    // Not held by its due day: nothing on the Saturday after a Friday due day, the overdue
    // notice on the Monday, to the Head of Year and one step up (the SENDCO); once.
    let friday = next(Weekday::Fri, Utc::now().date_naive() + TimeDelta::days(7));
    diesel::update(meetings::table.find(meeting_id))
        .set(meetings::due_on.eq(friday))
        .execute(&mut *app.conn())
        .unwrap();
    let saturday = friday + TimeDelta::days(1);
    let report = run_jobs(&app, morning(saturday)).await;
    assert_eq!(report.overdue_notices, 0, "{report}");
    let monday = friday + TimeDelta::days(3);
    let report = run_jobs(&app, morning(monday)).await;
    assert_eq!(report.overdue_notices, 2, "{report}");
    let received = sink.wait_for(3, WAIT);
    assert_eq!(
        to_of(&received[1..]),
        vec![
            "hoy9@oak.example".to_string(),
            "sendco@oak.example".to_string()
        ]
    );
    assert!(received[1].text().to_lowercase().contains("overdue"));
    assert_eq!(
        run_jobs(&app, morning(monday) + TimeDelta::hours(2))
            .await
            .overdue_notices,
        2
    );
    // Every delivery has returned, and the sink saves a message before acknowledging it.
    assert_eq!(sink.messages().len(), 3, "the overdue notice is sent once");

    // Booking it: an invitation to each person taking part, with a calendar entry that
    // parses, METHOD:REQUEST in London time; moving it: SEQUENCE 1.
    let starts = morning(next(
        Weekday::Wed,
        Utc::now().date_naive() + TimeDelta::days(1),
    ));
    let booking = json!({
        "starts_at": starts.to_rfc3339(),
        "duration_minutes": 30,
        "location": "Room 12",
        "participant_ids": [s.hoy9.id, s.sendco.id],
        "parent_invited": true,
        "guests": [{"name": "Pat Okafor", "email": "parent@home.example", "role": "parent_carer"}]
    });
    let (status, body) = app
        .api_post(
            &format!("/api/v1/meetings/{meeting_id}/schedule"),
            &s.hoy9_token,
            &booking,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "scheduled");
    assert_eq!(body["guests"][0]["role"], "parent_carer");
    // The list reads participants and guests for all its meetings at once: the same as the
    // booking's own answer.
    let (_, listed) = app
        .api_get("/api/v1/meetings?status=scheduled", &s.hoy9_token)
        .await;
    assert_eq!(listed["meetings"][0]["id"], meeting_id);
    assert_eq!(
        listed["meetings"][0]["participants"],
        json!([s.hoy9.id.min(s.sendco.id), s.hoy9.id.max(s.sendco.id)])
    );
    assert_eq!(listed["meetings"][0]["guests"], body["guests"]);
    assert_eq!(listed["meetings"][0]["guests"][0]["name"], "Pat Okafor");
    run_jobs(&app, Utc::now()).await;
    let received = sink.wait_for(6, WAIT);
    let invitations = &received[3..];
    assert_eq!(
        to_of(invitations),
        vec![
            "hoy9@oak.example".to_string(),
            "parent@home.example".to_string(),
            "sendco@oak.example".to_string()
        ]
    );
    for invitation in invitations {
        let (method, sequence, start) = calendar_of(invitation);
        assert_eq!(method, "REQUEST");
        assert_eq!(sequence, "0");
        assert!(start.starts_with("Europe/London:"), "{start}");
        assert!(start.ends_with("T090000"), "{start}");
    }
    let moved = json!({
        "starts_at": (starts + TimeDelta::hours(2)).to_rfc3339(),
        "duration_minutes": 45,
        "location": "Library",
        "participant_ids": [s.hoy9.id, s.sendco.id],
        "parent_invited": false
    });
    let (status, body) = app
        .api_post(
            &format!("/api/v1/meetings/{meeting_id}/schedule"),
            &s.hoy9_token,
            &moved,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["sequence"], 1);
    run_jobs(&app, Utc::now()).await;
    // The two still invited get the update; the parent, no longer invited, the cancellation.
    let received = sink.wait_for(9, WAIT);
    let mut seen: Vec<(String, String, String)> = received[6..]
        .iter()
        .map(|message| {
            let (method, sequence, start) = calendar_of(message);
            assert_eq!(sequence, "1");
            if method == "REQUEST" {
                assert!(start.ends_with("T110000"), "{start}");
            }
            (message.envelope_to.join(","), method, sequence)
        })
        .collect();
    seen.sort();
    assert_eq!(
        seen.iter()
            .map(|(to, method, _)| format!("{to} {method}"))
            .collect::<Vec<_>>(),
        vec![
            "hoy9@oak.example REQUEST",
            "parent@home.example CANCEL",
            "sendco@oak.example REQUEST"
        ]
    );

    // Held: the record in six parts, and no more email.
    let held = json!({
        "held_at": Utc::now().to_rfc3339(),
        "summary": "Met with Sam and agreed a focus.",
        "goals_met": null,
        "focus": "Arrive at lessons ready to start",
        "action_steps": "Tutor checks in each morning (Hal, daily)"
    });
    let (status, body) = app
        .api_post(
            &format!("/api/v1/meetings/{meeting_id}/outcome"),
            &s.hoy9_token,
            &held,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["outcome"]["focus"], "Arrive at lessons ready to start");
    let (_, listed) = app
        .api_get("/api/v1/meetings?status=held", &s.hoy9_token)
        .await;
    assert_eq!(listed["meetings"][0]["id"], meeting_id);
    let _ = (&s.slt, &s.school);
}

async fn the_server_down_for_a_while_loses_nothing_and_doubles_nothing(engine: Engine) {
    let Some(mut sink) = SmtpSink::start(SinkOptions::default()) else {
        return;
    };
    let app = spawn_app_with(engine, |settings| settings.smtp_url = sink.url()).await;
    let s = scene(&app);
    let now = Utc::now();
    for n in 0..3 {
        let email = OutgoingEmail {
            to: format!("person{n}@oak.example"),
            subject: format!("Notice {n}"),
            text: "Plain words.".into(),
            html: "<p>Plain words.</p>".into(),
            calendar: None,
            message_key: format!("test-notice-{n}"),
        };
        let to = Recipient {
            staff_id: None,
            name: format!("Person {n}"),
            email: email.to.clone(),
        };
        let school_id = s.school.id;
        app.db
            .write(move |conn| outbox::enqueue(conn, school_id, &to, &email, "A notice", now))
            .await
            .unwrap();
    }
    sink.stop();
    let context = JobContext::from_settings(&app.settings).unwrap();
    let report = jobs::delivery::deliver_due(&app.db, &context.mailer, now)
        .await
        .unwrap();
    assert_eq!((report.sent, report.retrying), (0, 3), "{report:?}");
    sink.restart();
    // Not yet time to retry: nothing is sent.
    let report = jobs::delivery::deliver_due(&app.db, &context.mailer, now)
        .await
        .unwrap();
    assert_eq!(report.sent, 0);
    let later = now + TimeDelta::seconds(31);
    let report = jobs::delivery::deliver_due(&app.db, &context.mailer, later)
        .await
        .unwrap();
    assert_eq!(report.sent, 3, "{report:?}");
    let received = sink.wait_for(3, WAIT);
    let report = jobs::delivery::deliver_due(&app.db, &context.mailer, later + TimeDelta::hours(2))
        .await
        .unwrap();
    assert_eq!(report, jobs::delivery::DeliveryReport::default());
    // Every delivery has returned, and the sink saves a message before acknowledging it.
    assert_eq!(sink.messages().len(), 3);
    assert_eq!(
        to_of(&received),
        vec![
            "person0@oak.example".to_string(),
            "person1@oak.example".to_string(),
            "person2@oak.example".to_string()
        ]
    );
    let attempts: Vec<i32> = outbox_table::table
        .order(outbox_table::id)
        .select(outbox_table::attempts)
        .load(&mut *app.conn())
        .unwrap();
    assert_eq!(attempts, vec![2, 2, 2]);
}

async fn a_worker_that_dies_holding_its_lease_doubles_nothing(engine: Engine) {
    let Some(sink) = SmtpSink::start(SinkOptions::default()) else {
        return;
    };
    let app = spawn_app_with(engine, |settings| settings.smtp_url = sink.url()).await;
    let s = scene(&app);
    coaching_time_accepted(&app, &s).await;
    let now = Utc::now();
    // A worker claims the email, then dies before sending it.
    let claimed = app
        .db
        .write(move |conn| outbox::claim(conn, now))
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);
    let context = JobContext::from_settings(&app.settings).unwrap();
    // While its lease runs, no other worker (or instance) takes the email.
    let report = jobs::delivery::deliver_due(&app.db, &context.mailer, now + TimeDelta::minutes(1))
        .await
        .unwrap();
    assert_eq!(report.sent, 0);
    // Once the lease has run out, the email goes, once. (The lease runs from the clock at
    // the claim, a moment after `now`.)
    let after_lease = now + outbox::LEASE + TimeDelta::minutes(1);
    let report = jobs::delivery::deliver_due(&app.db, &context.mailer, after_lease)
        .await
        .unwrap();
    assert_eq!(report.sent, 1);
    let report =
        jobs::delivery::deliver_due(&app.db, &context.mailer, after_lease + TimeDelta::hours(1))
            .await
            .unwrap();
    assert_eq!(report.sent, 0);
    sink.wait_for(1, WAIT);
    // Every delivery has returned, and the sink saves a message before acknowledging it.
    assert_eq!(sink.messages().len(), 1);
}

async fn without_smtp_the_emails_are_files_and_on_the_admin_page(engine: Engine) {
    let app = spawn_app(engine).await;
    let s = scene(&app);
    let admin = app.create_staff(
        &s.school,
        "admin@oak.example",
        "Ada Admin",
        &[Role::Admin],
        Some("a-long-password"),
    );
    let meeting = coaching_time_accepted(&app, &s).await;
    let report = run_jobs(&app, Utc::now()).await;
    assert_eq!(report.delivery.sent, 1, "{report}");
    let files: Vec<_> = std::fs::read_dir(app.data_dir.join("outbox"))
        .expect("the outbox folder")
        .filter_map(Result::ok)
        .filter(|entry| entry.path().extension().is_some_and(|e| e == "eml"))
        .collect();
    assert_eq!(files.len(), 1);
    let written = std::fs::read_to_string(files[0].path()).unwrap();
    assert!(written.contains("hoy9@oak.example"), "{written}");
    assert!(written.contains(&format!("/meetings/{}", meeting["id"])));
    // Sending again (a resend) never makes a second file.
    run_jobs(&app, Utc::now() + TimeDelta::hours(1)).await;
    assert_eq!(
        std::fs::read_dir(app.data_dir.join("outbox"))
            .unwrap()
            .count(),
        1
    );

    let client = page_client();
    let response = app.login(&client, &admin.email, "a-long-password").await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let page = app.get_page(&client, "/admin/outbox").await;
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(html.contains("hoy9@oak.example"), "{html}");
    let id: i64 = outbox_table::table
        .select(outbox_table::id)
        .first(&mut *app.conn())
        .unwrap();
    let page = app.get_page(&client, &format!("/admin/outbox/{id}")).await;
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(html.contains("The file written"), "{html}");
    // The Head of Year is not an administrator.
    let _ = &s.hoy9;
}

async fn meetings_are_run_by_the_right_people(engine: Engine) {
    let app = spawn_app(engine).await;
    let s = scene(&app);
    let meeting = coaching_time_accepted(&app, &s).await;
    let id = meeting["id"].as_i64().unwrap();
    let hoy8 = {
        let found = staff::list(&mut app.conn(), s.school.id, Some(Role::PastoralLead)).unwrap();
        found
            .into_iter()
            .find(|m| m.year_groups == vec![8])
            .unwrap()
    };
    let hoy8_token = app.create_token(&hoy8);
    let (status, listed) = app
        .api_get("/api/v1/meetings?status=due", &hoy8_token)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(listed["meetings"], json!([]), "not Year 8's meeting");
    let booking = json!({
        "starts_at": (Utc::now() + TimeDelta::days(2)).to_rfc3339(),
        "duration_minutes": 30, "location": "Room 1", "participant_ids": [], "parent_invited": false
    });
    let (status, body) = app
        .api_post(
            &format!("/api/v1/meetings/{id}/schedule"),
            &hoy8_token,
            &booking,
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (status, body) = app
        .api_post(
            &format!("/api/v1/meetings/{id}/schedule"),
            &s.teacher,
            &booking,
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    // Bad input names the field, and changes nothing.
    let mut late = booking.clone();
    late["starts_at"] = json!((Utc::now() - TimeDelta::days(1)).to_rfc3339());
    let (status, body) = app
        .api_post(
            &format!("/api/v1/meetings/{id}/schedule"),
            &s.hoy9_token,
            &late,
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"]["field"], "starts_at");
    let mut stranger = booking.clone();
    stranger["participant_ids"] = json!([999_999]);
    let (status, body) = app
        .api_post(
            &format!("/api/v1/meetings/{id}/schedule"),
            &s.hoy9_token,
            &stranger,
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"]["field"], "participant_ids");
    let (_, listed) = app.api_get("/api/v1/meetings", &s.hoy9_token).await;
    assert_eq!(listed["meetings"][0]["status"], "due");
    // Cancelling needs a reason; once cancelled, it cannot be booked.
    let (status, body) = app
        .api_post(
            &format!("/api/v1/meetings/{id}/cancel"),
            &s.hoy9_token,
            &json!({"reason": " "}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"]["field"], "reason");
    let (status, _) = app
        .api_post(
            &format!("/api/v1/meetings/{id}/cancel"),
            &s.hoy9_token,
            &json!({"reason": "Moved school"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = app
        .api_post(
            &format!("/api/v1/meetings/{id}/schedule"),
            &s.hoy9_token,
            &booking,
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
}

both_engines!(
    meeting_emails_reach_the_right_people_once,
    the_server_down_for_a_while_loses_nothing_and_doubles_nothing,
    a_worker_that_dies_holding_its_lease_doubles_nothing,
    without_smtp_the_emails_are_files_and_on_the_admin_page,
    meetings_are_run_by_the_right_people
);

async fn a_digest_collects_the_notices_at_the_chosen_hour(engine: Engine) {
    let app = spawn_app(engine).await;
    let s = scene(&app);
    diesel::update(steadfast::db::schema::staff::table.find(s.hoy9.id))
        .set(steadfast::db::schema::staff::digest_hour.eq(Some(16_i16)))
        .execute(&mut *app.conn())
        .unwrap();
    coaching_time_accepted(&app, &s).await;
    let school_day = next(Weekday::Tue, Utc::now().date_naive());
    // Other people's reminders may go in the morning, depending on the weekday the move was
    // accepted on; what counts is what reaches the Head of Year, who chose 16:00.
    let to_head_of_year = |app: &TestApp| -> Vec<String> {
        std::fs::read_dir(app.data_dir.join("outbox"))
            .map(|entries| {
                entries
                    .filter_map(Result::ok)
                    .map(|entry| std::fs::read_to_string(entry.path()).unwrap())
                    .filter(|text| {
                        text.contains("To: hoy9@oak.example") || text.contains("<hoy9@oak.example>")
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    let morning_report = run_jobs(&app, morning(school_day)).await;
    assert_eq!(
        morning_report.digests, 0,
        "held until the chosen hour: {morning_report}"
    );
    assert!(
        to_head_of_year(&app).is_empty(),
        "nothing for the Head of Year before 16:00"
    );
    let report = run_jobs(&app, morning(school_day) + TimeDelta::hours(7)).await;
    assert_eq!(report.digests, 1, "{report}");
    let again = run_jobs(&app, morning(school_day) + TimeDelta::hours(8)).await;
    assert_eq!((again.digests, again.delivery.sent), (0, 0), "{again}");
    let files = to_head_of_year(&app);
    assert_eq!(files.len(), 1);
    // Each line names the meeting, the pupil and its date.
    assert!(
        files[0].contains("Coaching Time meeting for Sam O., Year 9: due by"),
        "{}",
        files[0]
    );
}

both_engines!(a_digest_collects_the_notices_at_the_chosen_hour);

async fn reminders_come_the_school_day_before_through_the_command_line(engine: Engine) {
    let app = spawn_app(engine).await;
    let s = scene(&app);
    let meeting = coaching_time_accepted(&app, &s).await;
    // The people a Coaching Time needs: the Head of Year and the adult at the scene.
    let teacher_id: i64 = steadfast::db::schema::staff::table
        .filter(steadfast::db::schema::staff::email.eq("teacher@oak.example"))
        .select(steadfast::db::schema::staff::id)
        .first(&mut *app.conn())
        .unwrap();
    let mut expected = vec![s.hoy9.id, teacher_id];
    expected.sort_unstable();
    assert_eq!(meeting["participants"], json!(expected));
    let due_on: NaiveDate = meeting["due_on"].as_str().unwrap().parse().unwrap();
    let mut reminder_day = due_on - TimeDelta::days(1);
    while matches!(reminder_day.weekday(), Weekday::Sat | Weekday::Sun) {
        reminder_day -= TimeDelta::days(1);
    }
    let at = morning(reminder_day).max(Utc::now());
    let output = app.cli(&["jobs", "run", "--once", "--at", &at.to_rfc3339()], "");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    // The meeting is not booked yet: the reminder (to book it) goes to the Head of Year, who
    // runs it, and not to the teacher, who is invited but cannot book it.
    assert!(stdout.contains("1 reminders"), "{stdout}");
    // The due notice and the reminder, as files (email goes to files by default).
    let written: Vec<String> = std::fs::read_dir(app.data_dir.join("outbox"))
        .unwrap()
        .map(|entry| std::fs::read_to_string(entry.unwrap().path()).unwrap())
        .collect();
    assert_eq!(written.len(), 2);
    assert!(written
        .iter()
        .all(|email| !email.contains("teacher@oak.example")));
    let again = app.cli(&["jobs", "run", "--once", "--at", &at.to_rfc3339()], "");
    assert!(String::from_utf8_lossy(&again.stdout).contains("0 emails sent"));
    assert_eq!(
        std::fs::read_dir(app.data_dir.join("outbox"))
            .unwrap()
            .count(),
        2
    );
}

both_engines!(reminders_come_the_school_day_before_through_the_command_line);

/// A Coaching Time meeting due for Sam, and a second Year 9 Head of Year signed in to the
/// pages: the meeting's id, the Head of Year and their browser.
async fn a_meeting_and_its_page_reader(
    app: &TestApp,
    s: &Scene,
) -> (i64, StaffMember, reqwest::Client) {
    let meeting = coaching_time_accepted(app, s).await;
    let hoy = app.create_staff_leading(
        &s.school,
        "hoy9b@oak.example",
        "Holly Head",
        &[Role::PastoralLead],
        &[9],
        Some("a-long-password"),
    );
    let client = page_client();
    app.login(&client, &hoy.email, "a-long-password").await;
    (meeting["id"].as_i64().unwrap(), hoy, client)
}

async fn the_head_of_year_books_a_meeting_from_its_page(engine: Engine) {
    let app = spawn_app(engine).await;
    let s = scene(&app);
    let (id, hoy, client) = a_meeting_and_its_page_reader(&app, &s).await;
    let list = app
        .get_page(&client, "/meetings")
        .await
        .text()
        .await
        .unwrap();
    assert!(list.contains("Sam Okafor"), "{list}");
    assert!(list.contains(&format!("/meetings/{id}")), "{list}");
    let page = app
        .get_page(&client, &format!("/meetings/{id}"))
        .await
        .text()
        .await
        .unwrap();
    let csrf = common::csrf_token_in(&page);
    let starts = steadfast::web::pages::form::local_input_value(Utc::now() + TimeDelta::days(2));
    // Without a place: the form again, with the message, and nothing booked.
    let refused = client
        .post(app.url(&format!("/meetings/{id}/schedule")))
        .form(&[
            ("csrf_token", csrf.as_str()),
            ("starts_at", starts.as_str()),
            ("duration_minutes", "30"),
            ("location", ""),
            ("participant_ids", &hoy.id.to_string()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    assert!(refused
        .text()
        .await
        .unwrap()
        .contains("location is required"));
    let booked = client
        .post(app.url(&format!("/meetings/{id}/schedule")))
        .form(&[
            ("csrf_token", csrf.as_str()),
            ("starts_at", starts.as_str()),
            ("duration_minutes", "30"),
            ("location", "Room 12"),
            ("participant_ids", &hoy.id.to_string()),
            ("parent_name", "Pat Okafor"),
            ("parent_email", "parent@home.example"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(booked.status(), StatusCode::SEE_OTHER);
    let page = app
        .get_page(&client, &common::location(&booked))
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("Booked."), "{page}");
    assert!(page.contains("Room 12"), "{page}");
    assert!(page.contains("Pat Okafor"), "{page}");
    // Recorded as held from the page, in the six parts.
    let held_at = steadfast::web::pages::form::local_input_value(Utc::now());
    let held = client
        .post(app.url(&format!("/meetings/{id}/outcome")))
        .form(&[
            ("csrf_token", csrf.as_str()),
            ("held_at", held_at.as_str()),
            ("summary", "Met with Sam and his carer."),
            ("goals_met", ""),
            ("focus", "Arrive ready to learn"),
            (
                "action_steps",
                "Tutor checks in daily (Holly, every morning)",
            ),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(held.status(), StatusCode::SEE_OTHER);
    let page = app
        .get_page(&client, &common::location(&held))
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("record is saved"), "{page}");
    assert!(page.contains("Arrive ready to learn"), "{page}");
    // Without the CSRF token nothing happens.
    let forged = client
        .post(app.url(&format!("/meetings/{id}/cancel")))
        .form(&[("reason", "forged")])
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
}

both_engines!(the_head_of_year_books_a_meeting_from_its_page);

async fn a_level_change_cancels_a_booked_meeting_in_the_calendars(engine: Engine) {
    use steadfast::db::decisions::{self, ManualMove};
    use steadfast::db::notices::NoticeContext;
    use steadfast::domain::Level;
    let app = spawn_app(engine).await;
    let s = scene(&app);
    let meeting = coaching_time_accepted(&app, &s).await;
    let id = meeting["id"].as_i64().unwrap();
    let booking = json!({
        "starts_at": (Utc::now() + TimeDelta::days(2)).to_rfc3339(),
        "duration_minutes": 30, "location": "Room 3",
        "participant_ids": [s.hoy9.id, s.sendco.id], "parent_invited": false
    });
    let (status, body) = app
        .api_post(
            &format!("/api/v1/meetings/{id}/schedule"),
            &s.hoy9_token,
            &booking,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // SLT steps the pupil down: the booked Coaching Time meeting is no longer needed.
    let slt = s.slt.clone();
    let pupil_id = s.pupil;
    let context = NoticeContext::from_settings(&app.settings);
    app.db
        .write(move |conn| {
            let rules = steadfast::db::evaluation::load_rules(conn, slt.school_id)?;
            let request = ManualMove {
                pupil_id,
                to: Level::Conversation,
                reason: "Settled well after the family meeting",
                override_gates: false,
            };
            decisions::move_pupil(conn, &slt, &request, &rules, &context, Utc::now())
        })
        .await
        .unwrap();
    let (_, listed) = app
        .api_get("/api/v1/meetings?status=cancelled", &s.hoy9_token)
        .await;
    assert_eq!(listed["meetings"][0]["id"], id);
    assert_eq!(listed["meetings"][0]["sequence"], 1);
    let cancellations: Vec<(String, String)> = outbox_table::table
        .filter(outbox_table::message_key.like(format!("meeting-{id}-cancel-%")))
        .order(outbox_table::recipient)
        .select((
            outbox_table::recipient,
            outbox_table::calendar_ics.assume_not_null(),
        ))
        .load(&mut *app.conn())
        .unwrap();
    assert_eq!(
        cancellations
            .iter()
            .map(|(to, _)| to.as_str())
            .collect::<Vec<_>>(),
        vec!["hoy9@oak.example", "sendco@oak.example"]
    );
    assert!(cancellations[0].1.contains("METHOD:CANCEL"));
    assert!(cancellations[0].1.contains("SEQUENCE:1"));
}

both_engines!(a_level_change_cancels_a_booked_meeting_in_the_calendars);

/// The part of `page` from the element with `id` to the end of its `tag`.
fn element<'a>(page: &'a str, tag: &str, id: &str) -> &'a str {
    let start = page
        .find(&format!(r#"id="{id}""#))
        .unwrap_or_else(|| panic!("no #{id} in the page:\n{page}"));
    let end = start + page[start..].find(&format!("</{tag}>")).expect("its end");
    &page[start..end]
}

async fn the_meeting_page_goes_in_steps_and_missed_is_confirmed_after_its_time(engine: Engine) {
    let app = spawn_app(engine).await;
    let s = scene(&app);
    let (id, hoy, client) = a_meeting_and_its_page_reader(&app, &s).await;
    let path = format!("/meetings/{id}");
    let get = |path: String| {
        let client = client.clone();
        let app = &app;
        async move {
            let response = app.get_page(&client, &path).await;
            (response.status(), response.text().await.unwrap())
        }
    };

    // Due: only the booking step, staff suggested by role and by what they logged.
    let (_, page) = get(path.clone()).await;
    assert!(page.contains("Book the meeting"), "{page}");
    assert!(!page.contains("Record the meeting"), "{page}");
    assert!(!page.contains("Record as missed"), "{page}");
    let staff = element(&page, "fieldset", "staff");
    let suggested = &staff[..staff.find("Find someone else").unwrap()];
    for (name, why) in [
        ("Hal Head", "Head of Year or House"),
        ("Sen Co", "SENDCO"),
        ("Tess Teacher", "logged 4 incidents about the pupil"),
    ] {
        let at = suggested
            .find(name)
            .unwrap_or_else(|| panic!("{name} suggested"));
        let label = &suggested[at..at + suggested[at..].find("</label>").unwrap()];
        assert!(label.contains(why), "{name}: {why} in {label}");
    }
    assert!(
        !suggested.contains("Hana Head"),
        "the Year 8 head is not suggested"
    );
    let others = element(&page, "details", "staff-others");
    assert!(others.contains("Hana Head"), "{others}");
    // Guests: one fieldset each, with its legend.
    for (id, legend) in [
        ("guest-parent_carer", "Parent or carer"),
        ("guest-external", "External professional"),
    ] {
        assert!(
            element(&page, "fieldset", id).contains(&format!("<legend>{legend}")),
            "{page}"
        );
    }

    // The search without JavaScript: the list again, what was typed kept, the token dropped
    // from the address first.
    let csrf = common::csrf_token_in(&page);
    let searched = client
        .get(app.url(&format!(
            "{path}?csrf_token={csrf}&location=Room+9&participant_ids={}&staff_search=han&step=book",
            hoy.id
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(searched.status(), StatusCode::SEE_OTHER);
    let again = common::location(&searched);
    assert!(!again.contains("csrf_token"), "{again}");
    let (status, page) = get(again).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains(r#"value="Room 9""#), "what was typed is kept");
    let others = element(&page, "details", "staff-others");
    assert!(others.contains("Hana Head"), "{others}");
    assert!(
        !others.contains("Sal Lead"),
        "only the staff searched for: {others}"
    );
    let staff = element(&page, "fieldset", "staff");
    assert!(
        staff.contains(&format!(r#"value="{}" checked"#, hoy.id)),
        "the ticked member stays ticked: {staff}"
    );

    // Booked for tomorrow: the booking summarised, the record step shown.
    let starts = steadfast::web::pages::form::local_input_value(Utc::now() + TimeDelta::days(1));
    let booked = client
        .post(app.url(&format!("{path}/schedule")))
        .form(&[
            ("csrf_token", csrf.as_str()),
            ("starts_at", starts.as_str()),
            ("duration_minutes", "30"),
            ("location", "Room 9"),
            ("participant_ids", &hoy.id.to_string()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(booked.status(), StatusCode::SEE_OTHER);
    let (_, page) = get(path.clone()).await;
    assert!(page.contains("Record the meeting"), "{page}");
    assert!(!page.contains("Book it and send invitations"), "{page}");
    assert!(element(&page, "dl", "summary").contains("Room 9"));
    let (_, moving) = get(format!("{path}?step=book")).await;
    assert!(moving.contains("Move it and send updates"), "{moving}");

    // Missed: confirmed, and not before the meeting's time.
    let missed = |fields: Vec<(&'static str, String)>| {
        let client = client.clone();
        let url = app.url(&format!("{path}/missed"));
        async move {
            let response = client.post(url).form(&fields).send().await.unwrap();
            (response.status(), response.text().await.unwrap())
        }
    };
    let (status, page) = missed(vec![("csrf_token", csrf.clone())]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        common::problem_at(&page, "missed").contains("confirm"),
        "{page}"
    );
    let (status, page) = missed(vec![
        ("csrf_token", csrf.clone()),
        ("missed", "confirmed".into()),
    ])
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(
        common::problem_at(&page, "missed").contains("not started yet"),
        "{page}"
    );
    let status: String = meetings::table
        .find(id)
        .select(meetings::status)
        .first(&mut *app.conn())
        .unwrap();
    assert_eq!(status, "scheduled", "nothing recorded");
}

both_engines!(the_meeting_page_goes_in_steps_and_missed_is_confirmed_after_its_time);

/// The emails queued so far, oldest first: (recipient, subject, text).
fn queued(app: &TestApp) -> Vec<(String, String, String)> {
    outbox_table::table
        .order(outbox_table::id)
        .select((
            outbox_table::recipient,
            outbox_table::subject,
            outbox_table::body_text,
        ))
        .load(&mut *app.conn())
        .unwrap()
}

/// The emails queued after the first `before`.
fn queued_since(app: &TestApp, before: usize) -> Vec<(String, String, String)> {
    queued(app).into_iter().skip(before).collect()
}

async fn a_meeting_booked_late_is_reminded_and_overdue_only_after_its_day(engine: Engine) {
    let app = spawn_app(engine).await;
    let s = scene(&app);
    let meeting = coaching_time_accepted(&app, &s).await;
    let id = meeting["id"].as_i64().unwrap();
    let teacher_id = meeting["participants"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_i64)
        .find(|p| *p != s.hoy9.id)
        .expect("the adult at the scene");
    // Due by a Friday, booked for the Wednesday after: booked late.
    let friday = next(Weekday::Fri, Utc::now().date_naive() + TimeDelta::days(7));
    diesel::update(meetings::table.find(id))
        .set(meetings::due_on.eq(friday))
        .execute(&mut *app.conn())
        .unwrap();
    let wednesday = friday + TimeDelta::days(5);
    let booking = json!({
        "starts_at": morning(wednesday).to_rfc3339(),
        "duration_minutes": 30,
        "location": "Room 12",
        "participant_ids": [s.hoy9.id, teacher_id],
        "parent_invited": true,
        "guests": [{"name": "Pat Okafor", "email": "parent@home.example", "role": "parent_carer"}]
    });
    let (status, body) = app
        .api_post(
            &format!("/api/v1/meetings/{id}/schedule"),
            &s.hoy9_token,
            &booking,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    run_jobs(&app, morning(friday) - TimeDelta::days(4)).await;
    let before = queued(&app).len();

    // The Monday after its due day: not overdue, since its booked day is still to come.
    let report = run_jobs(&app, morning(friday + TimeDelta::days(3))).await;
    assert_eq!(report.overdue_notices, 0, "{report}");
    // The Tuesday: the reminder, to the Head of Year (with the meeting's page), to the teacher
    // invited (who cannot open it, so no link) and to the parent (in plain words, with their
    // own page).
    let report = run_jobs(&app, morning(friday + TimeDelta::days(4))).await;
    assert_eq!(
        (report.reminders, report.overdue_notices),
        (3, 0),
        "{report}"
    );
    let reminders = queued_since(&app, before);
    let to_teacher = reminders
        .iter()
        .find(|(to, _, _)| to.contains("teacher@oak.example"))
        .expect("the teacher's reminder");
    assert!(to_teacher.2.contains("you are invited"), "{}", to_teacher.2);
    assert!(!to_teacher.2.contains("/meetings/"), "{}", to_teacher.2);
    assert!(!to_teacher.2.contains("book a time"), "{}", to_teacher.2);
    let to_head = reminders
        .iter()
        .find(|(to, _, _)| to.contains("hoy9@oak.example"))
        .expect("the Head of Year's reminder");
    assert!(
        to_head.2.contains(&format!("/meetings/{id}")),
        "{}",
        to_head.2
    );
    let to_parent = reminders
        .iter()
        .find(|(to, _, _)| to.contains("parent@home.example"))
        .expect("the parent's reminder");
    assert!(
        to_parent
            .1
            .starts_with("Reminder: Meeting about Sam's support"),
        "{}",
        to_parent.1
    );
    assert!(!to_parent.2.contains("Coaching"), "{}", to_parent.2);
    assert!(to_parent.2.contains("/family/"), "{}", to_parent.2);
    // Its day: nothing. The day after, with nothing recorded: overdue, saying which case.
    let report = run_jobs(&app, morning(wednesday)).await;
    assert_eq!(report.overdue_notices, 0, "{report}");
    let before = queued(&app).len();
    let report = run_jobs(&app, morning(wednesday + TimeDelta::days(1))).await;
    assert_eq!(report.overdue_notices, 2, "{report}");
    let overdue = queued_since(&app, before);
    let recipients: Vec<&str> = overdue.iter().map(|(to, _, _)| to.as_str()).collect();
    assert!(recipients.iter().any(|to| to.contains("hoy9@oak.example")));
    assert!(recipients
        .iter()
        .any(|to| to.contains("sendco@oak.example")));
    for (_, subject, text) in &overdue {
        assert!(subject.contains("not recorded, booked for"), "{subject}");
        assert!(text.contains("after its due day"), "{text}");
    }
}

both_engines!(a_meeting_booked_late_is_reminded_and_overdue_only_after_its_day);

/// Gives a second Year 9 pupil a Coaching Plan (level 4) to be reviewed by `review_on`.
fn pupil_with_plan(app: &TestApp, s: &Scene, review_on: NaiveDate) -> i64 {
    use steadfast::db::schema::coaching_plans;
    let pupil = app
        .create_pupil(&s.school, "B123456789012", "Ada", "Nwosu", 9, "9B")
        .id;
    common::set_level(app, pupil, 4);
    diesel::insert_into(coaching_plans::table)
        .values((
            coaching_plans::school_id.eq(s.school.id),
            coaching_plans::pupil_id.eq(pupil),
            coaching_plans::version.eq(1),
            coaching_plans::goals.eq("[]"),
            coaching_plans::pathway_to_independence.eq("Small steps."),
            coaching_plans::action_steps.eq("[]"),
            coaching_plans::review_on.eq(review_on),
            coaching_plans::created_by.eq(s.hoy9.id),
            coaching_plans::created_at.eq(Utc::now().naive_utc()),
        ))
        .execute(&mut *app.conn())
        .expect("a Coaching Plan");
    pupil
}

async fn old_overdue_things_come_in_one_summary_on_the_first_run(engine: Engine) {
    let app = spawn_app(engine).await;
    let s = scene(&app);
    let meeting = coaching_time_accepted(&app, &s).await;
    let tuesday = next(Weekday::Tue, Utc::now().date_naive());
    diesel::update(meetings::table.find(meeting["id"].as_i64().unwrap()))
        .set(meetings::due_on.eq(tuesday - TimeDelta::days(28)))
        .execute(&mut *app.conn())
        .unwrap();
    pupil_with_plan(&app, &s, tuesday - TimeDelta::days(21));
    let before = queued(&app).len();

    let report = run_jobs(&app, morning(tuesday)).await;
    let summaries = queued_since(&app, before);
    // The Head of Year and the SENDCO (responsible for one, a step up for the other) and SLT
    // (a step up for the plan): one summary each, no email for each overdue thing.
    assert_eq!(summaries.len(), 3, "{summaries:?}");
    assert_eq!(report.overdue_notices, 3, "{report}");
    let to = |who: &str| {
        summaries
            .iter()
            .find(|(to, _, _)| to.contains(who))
            .unwrap_or_else(|| panic!("a summary to {who}: {summaries:?}"))
    };
    let head = to("hoy9@oak.example");
    assert_eq!(head.1, "Overdue: 2 meetings and reviews");
    assert!(
        head.2
            .contains("Coaching Time meeting for Sam O., Year 9: overdue, not booked, due by"),
        "{}",
        head.2
    );
    assert!(
        head.2
            .contains("Review of Coaching Plan (version 1) for Ada N., Year 9: overdue"),
        "{}",
        head.2
    );
    assert_eq!(to("slt@oak.example").1, "Overdue: 1 meeting or review");
    to("sendco@oak.example");
    // The next day: nothing more about them.
    let before = queued(&app).len();
    let report = run_jobs(&app, morning(tuesday + TimeDelta::days(1))).await;
    assert_eq!(report.overdue_notices, 0, "{report}");
    assert_eq!(queued_since(&app, before), vec![]);
}

both_engines!(old_overdue_things_come_in_one_summary_on_the_first_run);

async fn a_plan_review_date_is_announced_reminded_and_reported(engine: Engine) {
    let app = spawn_app(engine).await;
    let s = scene(&app);
    let friday = next(Weekday::Fri, Utc::now().date_naive() + TimeDelta::days(7));
    pupil_with_plan(&app, &s, friday);
    let subjects_since = |before: usize| -> Vec<(String, String)> {
        queued_since(&app, before)
            .into_iter()
            .map(|(to, subject, _)| (to, subject))
            .collect()
    };
    // A school week ahead: the review is due, to the Head of Year and the SENDCO.
    let before = queued(&app).len();
    run_jobs(&app, morning(friday - TimeDelta::days(4))).await;
    let due = subjects_since(before);
    assert_eq!(due.len(), 2, "{due:?}");
    assert!(due.iter().all(|(_, subject)| subject
        .starts_with("Review due: Coaching Plan (version 1) for Ada N., Year 9 by Friday")));
    // The day before: the reminder.
    let before = queued(&app).len();
    run_jobs(&app, morning(friday - TimeDelta::days(1))).await;
    let reminded = subjects_since(before);
    assert_eq!(reminded.len(), 2, "{reminded:?}");
    assert!(reminded
        .iter()
        .all(|(_, s)| s.starts_with("Reminder: review of")));
    // Not reviewed by the Friday: overdue on the Monday, to them and one step up (SLT).
    let before = queued(&app).len();
    let report = run_jobs(&app, morning(friday + TimeDelta::days(3))).await;
    assert_eq!(report.overdue_notices, 3, "{report}");
    let overdue = subjects_since(before);
    assert!(overdue.iter().any(|(to, _)| to.contains("slt@oak.example")));
    assert!(overdue.iter().all(|(_, subject)| subject
        .starts_with("Overdue: review of Coaching Plan (version 1) for Ada N., Year 9")));
    // Once only.
    let report = run_jobs(&app, morning(friday + TimeDelta::days(4))).await;
    let again = queued(&app).len();
    assert_eq!(again, before + 3, "{report}");
}

both_engines!(a_plan_review_date_is_announced_reminded_and_reported);

async fn home_and_the_meetings_list_count_a_meeting_booked_late_as_booked(engine: Engine) {
    let app = spawn_app(engine).await;
    let s = scene(&app);
    let (id, _, client) = a_meeting_and_its_page_reader(&app, &s).await;
    // Booked for a day to come, after a due day that has passed.
    let starts = Utc::now() + TimeDelta::days(3);
    diesel::update(meetings::table.find(id))
        .set((
            meetings::due_on.eq(common::today() - TimeDelta::days(2)),
            meetings::status.eq("scheduled"),
            meetings::starts_at.eq(Some(starts.naive_utc())),
            meetings::duration_minutes.eq(Some(30)),
            meetings::location.eq(Some("Room 12")),
        ))
        .execute(&mut *app.conn())
        .unwrap();
    let read = |path: &'static str| {
        let (app, client) = (&app, &client);
        async move { app.get_page(client, path).await.text().await.unwrap() }
    };
    let home = read("/").await;
    let stat = |page: &str, label: &str| -> String {
        let end = page
            .find(&format!("<span>{label}</span>"))
            .unwrap_or_else(|| panic!("{label} in {page}"));
        let strong = page[..end].rfind("<strong>").unwrap() + "<strong>".len();
        page[strong..end].trim_end_matches("</strong>").to_string()
    };
    assert_eq!(stat(&home, "meetings overdue"), "0", "{home}");
    assert_eq!(stat(&home, "meetings booked"), "1", "{home}");
    assert!(home.contains("booked late for"), "{home}");
    let list = read("/meetings").await;
    assert!(list.contains("booked late for"), "{list}");
    let overdue_section = &list[list.find("Overdue").unwrap()..];
    assert!(overdue_section.contains("Nothing overdue."), "{list}");
    // Its booked day passed with nothing recorded: overdue everywhere, saying so.
    diesel::update(meetings::table.find(id))
        .set(meetings::starts_at.eq(Some((Utc::now() - TimeDelta::days(2)).naive_utc())))
        .execute(&mut *app.conn())
        .unwrap();
    let home = read("/").await;
    assert_eq!(stat(&home, "meetings overdue"), "1", "{home}");
    assert!(home.contains("overdue: booked for"), "{home}");
    let list = read("/meetings").await;
    assert!(list.contains("nothing recorded"), "{list}");
}

both_engines!(home_and_the_meetings_list_count_a_meeting_booked_late_as_booked);

async fn each_person_hears_what_changed_for_them(engine: Engine) {
    use steadfast::db::schema::meeting_guests;
    let app = spawn_app(engine).await;
    let s = scene(&app);
    let meeting = coaching_time_accepted(&app, &s).await;
    let id = meeting["id"].as_i64().unwrap();
    let teacher_id = meeting["participants"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_i64)
        .find(|p| *p != s.hoy9.id)
        .expect("the adult at the scene");
    let starts = morning(next(
        Weekday::Wed,
        Utc::now().date_naive() + TimeDelta::days(1),
    ));
    let book = |location: &str, people: Vec<i64>| {
        json!({
            "starts_at": starts.to_rfc3339(),
            "duration_minutes": 30,
            "location": location,
            "participant_ids": people,
            "parent_invited": true,
            "guests": [{"name": "Pat Okafor", "email": "parent@home.example", "role": "parent_carer"}]
        })
    };
    let schedule = |body: Value| {
        let (app, token) = (&app, s.hoy9_token.clone());
        async move {
            let (status, answer) = app
                .api_post(&format!("/api/v1/meetings/{id}/schedule"), &token, &body)
                .await;
            assert_eq!(status, StatusCode::OK, "{answer}");
        }
    };
    let guest_id = || -> i64 {
        meeting_guests::table
            .filter(meeting_guests::meeting_id.eq(id))
            .select(meeting_guests::id)
            .first(&mut *app.conn())
            .unwrap()
    };
    let to = |emails: &[(String, String, String)], who: &str| -> Vec<(String, String)> {
        emails
            .iter()
            .filter(|(to, _, _)| to.contains(who))
            .map(|(_, subject, text)| (subject.clone(), text.clone()))
            .collect()
    };

    // Booked: the Head of Year runs it (its page linked), the teacher attends (no link they
    // cannot open), the parent reads plain words with no level names.
    let before = queued(&app).len();
    schedule(book("Room 12", vec![s.hoy9.id, teacher_id])).await;
    let invited = queued_since(&app, before);
    let meeting_page = format!("/meetings/{id}");
    assert!(to(&invited, "hoy9@")[0].1.contains(&meeting_page));
    let teacher = &to(&invited, "teacher@")[0];
    assert!(!teacher.1.contains(&meeting_page), "{}", teacher.1);
    assert!(teacher.1.contains("Head of Year runs the meeting"));
    let parent = &to(&invited, "parent@")[0];
    assert!(
        !parent.0.contains("Coaching") && !parent.1.contains("Coaching"),
        "{parent:?}"
    );
    assert!(!parent.1.contains(&meeting_page), "{}", parent.1);
    // The parent's own page, through the link in their invitation, needs no account.
    let link = parent
        .1
        .split_whitespace()
        .find(|word| word.contains("/family/"))
        .expect("the parent's link")
        .to_string();
    let path = &link[link.find("/family/").unwrap()..];
    let family_page = app.get_page(&page_client(), path).await;
    assert_eq!(family_page.status(), StatusCode::OK);
    let family_page = family_page.text().await.unwrap();
    assert!(family_page.contains("Room 12"), "{family_page}");
    assert!(!family_page.contains("Coaching Time"), "{family_page}");
    let guest = guest_id();

    // The same booking again: nothing changed, nothing sent.
    let before = queued(&app).len();
    schedule(book("Room 12", vec![s.hoy9.id, teacher_id])).await;
    assert_eq!(queued_since(&app, before), vec![]);

    // Only the room: "New place", not a new time, to everyone.
    schedule(book("Library", vec![s.hoy9.id, teacher_id])).await;
    let moved = queued_since(&app, before);
    assert_eq!(moved.len(), 3, "{moved:?}");
    for (_, subject, text) in &moved {
        assert!(subject.starts_with("New place: "), "{subject}");
        assert!(
            text.contains("New place: Library. It was Room 12."),
            "{text}"
        );
        assert!(!text.contains("New time"), "{text}");
    }

    // The SENDCO added and the teacher taken off: the SENDCO is invited, the teacher is no
    // longer needed (the meeting goes on), the Head of Year hears who changed, the parent
    // nothing; the parent's row is kept.
    let before = queued(&app).len();
    schedule(book("Library", vec![s.hoy9.id, s.sendco.id])).await;
    let changed = queued_since(&app, before);
    assert!(to(&changed, "sendco@")[0].0.starts_with("Invitation: "));
    let gone = &to(&changed, "teacher@")[0];
    assert!(gone.0.starts_with("No longer needed: "), "{gone:?}");
    assert!(gone.1.contains("goes ahead for the others"));
    assert!(!gone.1.contains("cancelled"));
    let head = &to(&changed, "hoy9@")[0];
    assert!(head.0.starts_with("Change of people: "), "{head:?}");
    assert!(head.1.contains("Now also invited: Sen Co."), "{}", head.1);
    assert!(
        head.1.contains("No longer invited: Tess Teacher."),
        "{}",
        head.1
    );
    assert!(to(&changed, "parent@").is_empty());
    assert_eq!(guest_id(), guest);

    // Cancelled with a reason: staff read it, the parent a neutral line.
    let before = queued(&app).len();
    let (status, body) = app
        .api_post(
            &format!("/api/v1/meetings/{id}/cancel"),
            &s.hoy9_token,
            &json!({"reason": "Sam is stepping up to a Coaching Plan"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let cancelled = queued_since(&app, before);
    assert!(to(&cancelled, "hoy9@")[0]
        .1
        .contains("Reason: Sam is stepping up"));
    let parent = &to(&cancelled, "parent@")[0];
    assert!(!parent.1.contains("stepping up"), "{}", parent.1);
    assert!(!parent.1.contains("Coaching"), "{}", parent.1);
    assert!(parent.1.contains("The school will be in touch"));
}

both_engines!(each_person_hears_what_changed_for_them);

/// The value of property `name` of the first event in a message's calendar part, parsed by
/// the `ical` crate, with its parameters.
fn event_property(message: &ReceivedMessage, name: &str) -> (String, Vec<(String, Vec<String>)>) {
    let parsed = mail_parser::MessageParser::default()
        .parse(&message.raw)
        .expect("a message");
    let ics = parsed
        .parts
        .iter()
        .find(|part| part.is_content_type("text", "calendar"))
        .and_then(|part| part.text_contents().map(str::to_string))
        .expect("a text/calendar part");
    let calendar = ical::IcalParser::new(ics.as_bytes())
        .next()
        .expect("one calendar")
        .expect("a calendar that parses");
    let event = calendar.events.first().expect("one event");
    let property = event
        .properties
        .iter()
        .find(|p| p.name == name)
        .unwrap_or_else(|| panic!("no {name} in {ics}"));
    (
        property.value.clone().unwrap_or_default(),
        property.params.clone().unwrap_or_default(),
    )
}

/// The plain-text body of a message, decoded as its reader sees it.
fn body_of(message: &ReceivedMessage) -> String {
    mail_parser::MessageParser::default()
        .parse(&message.raw)
        .and_then(|parsed| parsed.body_text(0).map(|text| text.into_owned()))
        .expect("a text body")
}

async fn an_invitation_reads_as_each_recipient_can_act_on_it(engine: Engine) {
    let Some(sink) = SmtpSink::start(SinkOptions::default()) else {
        return;
    };
    let app = spawn_app_with(engine, |settings| settings.smtp_url = sink.url()).await;
    let s = scene(&app);
    let meeting = coaching_time_accepted(&app, &s).await;
    let id = meeting["id"].as_i64().unwrap();
    let teacher_id = meeting["participants"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_i64)
        .find(|p| *p != s.hoy9.id)
        .expect("the adult at the scene");
    run_jobs(&app, Utc::now()).await;
    sink.wait_for(1, WAIT);
    let starts = morning(next(
        Weekday::Wed,
        Utc::now().date_naive() + TimeDelta::days(1),
    ));
    let booking = json!({
        "starts_at": starts.to_rfc3339(),
        "duration_minutes": 30,
        "location": "Room 12",
        "participant_ids": [s.hoy9.id, teacher_id],
        "parent_invited": true,
        "guests": [{"name": "Pat Okafor", "email": "parent@home.example", "role": "parent_carer"}]
    });
    let (status, body) = app
        .api_post(
            &format!("/api/v1/meetings/{id}/schedule"),
            &s.hoy9_token,
            &booking,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    run_jobs(&app, Utc::now()).await;
    let received = sink.wait_for(4, WAIT);
    let to = |who: &str| {
        received
            .iter()
            .find(|m| m.envelope_to.iter().any(|t| t.contains(who)))
            .unwrap_or_else(|| panic!("a message to {who}"))
    };
    let meeting_page = format!("/meetings/{id}");

    // The parent: plain words, their own link, a calendar entry organised by the Head of Year
    // that asks no reply by email.
    let parent = to("parent@home.example");
    let text = body_of(parent);
    assert!(!text.contains("Coaching"), "{text}");
    assert!(!text.contains(&meeting_page), "{text}");
    let (summary, _) = event_property(parent, "SUMMARY");
    assert_eq!(summary, "Meeting about Sam's support");
    let (organizer, _) = event_property(parent, "ORGANIZER");
    assert_eq!(organizer.to_lowercase(), "mailto:hoy9@oak.example");
    let (_, attendee) = event_property(parent, "ATTENDEE");
    assert!(
        attendee
            .iter()
            .any(|(k, v)| k == "RSVP" && v == &vec!["FALSE".to_string()]),
        "{attendee:?}"
    );
    let parsed = mail_parser::MessageParser::default()
        .parse(&parent.raw)
        .unwrap();
    assert!(parsed
        .parts
        .iter()
        .any(|part| part.attachment_name() == Some("invitation.ics")));
    let link = text
        .split_whitespace()
        .find(|word| word.contains("/family/"))
        .expect("the parent's link");
    let path = &link[link.find("/family/").unwrap()..];
    let followed = app.get_page(&page_client(), path).await;
    assert_eq!(followed.status(), StatusCode::OK);
    // Someone else's guess at a link, and the staff page without an account, are closed.
    let guessed = app
        .get_page(&page_client(), "/family/0123456789abcdef0123456789abcdef")
        .await;
    assert_eq!(guessed.status(), StatusCode::NOT_FOUND);
    let staff_only = page_client()
        .get(app.url(&meeting_page))
        .send()
        .await
        .unwrap();
    assert_ne!(staff_only.status(), StatusCode::OK);

    // The Head of Year runs it: the meeting's page. The teacher attends: no link to it.
    assert!(body_of(to("hoy9@oak.example")).contains(&meeting_page));
    let teacher = body_of(to("teacher@oak.example"));
    assert!(!teacher.contains(&meeting_page), "{teacher}");
    assert!(
        teacher.contains("Head of Year runs the meeting"),
        "{teacher}"
    );
    let (teacher_summary, _) = event_property(to("teacher@oak.example"), "SUMMARY");
    // The ical crate leaves text escapes as they are written (RFC 5545: a comma is `\\,`).
    assert_eq!(teacher_summary, "Coaching Time meeting: Sam O.\\, Year 9");
}

both_engines!(an_invitation_reads_as_each_recipient_can_act_on_it);
