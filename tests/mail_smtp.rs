//! Email against a real SMTP server on loopback (scripts/smtp-sink.py), and the file
//! transport on a real folder.

#[path = "common/smtp.rs"]
mod smtp;

use std::time::Duration;

use chrono::{TimeZone, Utc};
use mail_parser::{MessageParser, MimeHeaders};

use steadfast::domain::Level;
use steadfast::mail::content::{self, MeetingKind, MeetingSlot, PupilLabel, ScheduledMeeting};
use steadfast::mail::ics::{self, MeetingEvent, Method, Person};
use steadfast::mail::transport::{list_sent, read_sent, SendError, Transport};
use steadfast::mail::{build_message, OutgoingEmail};

use smtp::{SinkOptions, SmtpSink};

const WAIT: Duration = Duration::from_secs(20);

/// A complete invitation to `to`, calendar included.
fn invitation(to: &str, key: &str) -> OutgoingEmail {
    let slot = MeetingSlot {
        starts_at: Utc.with_ymd_and_hms(2026, 12, 1, 15, 30, 0).unwrap(),
        duration_minutes: 30,
        location: "Room 12".into(),
    };
    let pupil = PupilLabel::new("Sam", "Taylor", 9);
    let kind = MeetingKind::Level(Level::Time);
    let meeting_url = content::meeting_url("http://127.0.0.1:8080", 42);
    let calendar = ics::render(&MeetingEvent {
        meeting_id: 42,
        host: steadfast::mail::identity_host("http://127.0.0.1:8080", "steadfast@oak.example"),
        method: Method::Request,
        sequence: 0,
        stamp: Utc.with_ymd_and_hms(2026, 11, 20, 9, 0, 0).unwrap(),
        starts_at: slot.starts_at,
        duration_minutes: slot.duration_minutes,
        summary: content::event_summary(kind, &pupil, &content::Audience::Runs),
        location: slot.location.clone(),
        description: format!("Meeting page: {meeting_url}"),
        organizer: Person {
            name: "Oakfield Academy (Steadfast)".into(),
            email: "steadfast@localhost".parse().unwrap(),
        },
        attendees: vec![Person {
            name: "Jo Bloggs".into(),
            email: to.parse().unwrap(),
        }],
    });
    content::invitation(&ScheduledMeeting {
        recipient_name: "Jo".into(),
        pupil,
        kind,
        slot,
        meeting_url,
        audience: content::Audience::Runs,
    })
    .into_email(to.into(), key.into(), Some(calendar))
}

fn send(transport: &Transport, email: &OutgoingEmail) -> Result<(), SendError> {
    let message = build_message(
        email,
        "steadfast@localhost",
        &content::SchoolContact {
            name: "Oakfield Academy".into(),
            phone: "01632 960123".into(),
            email: "office@oak.example".into(),
            address: "Oak Lane\nOakfield OK1 2AB".into(),
            logo_url: None,
        },
        "oak.example",
    )
    .unwrap();
    transport.send(&message)
}

fn smtp_transport(sink: &SmtpSink) -> Transport {
    let data = std::env::temp_dir();
    Transport::from_settings(&sink.url(), &data).unwrap()
}

#[test]
fn an_invitation_arrives_over_plain_smtp_with_a_calendar_that_parses() {
    let Some(sink) = SmtpSink::start(SinkOptions::default()) else {
        return;
    };
    let transport = smtp_transport(&sink);
    let email = invitation("jo.bloggs@oakfield.example", "meeting-42-invite-0-staff-7");
    send(&transport, &email).unwrap();

    let received = sink.wait_for(1, WAIT);
    assert_eq!(received.len(), 1);
    let message = &received[0];
    assert_eq!(message.envelope_to, ["jo.bloggs@oakfield.example"]);
    assert_eq!(message.envelope_from, "steadfast@localhost");
    assert!(!message.tls, "the plain sink offers no STARTTLS");

    let parsed = MessageParser::default().parse(&message.raw).unwrap();
    assert_eq!(parsed.subject(), Some(email.subject.as_str()));
    assert_eq!(
        parsed.message_id(),
        Some("meeting-42-invite-0-staff-7@oak.example")
    );
    assert_eq!(
        parsed.from().unwrap().first().unwrap().name(),
        Some("Oakfield Academy via Steadfast")
    );
    assert!(parsed.body_text(0).unwrap().contains("Sam T., Year 9"));
    // Headed with the school's name and signed with its details, in both bodies.
    let text = parsed.body_text(0).unwrap().replace("\r\n", "\n");
    assert!(text.starts_with("Oakfield Academy\n"), "{text}");
    assert!(
        text.contains(
            "Oak Lane, Oakfield OK1 2AB\nTelephone 01632 960123\nEmail office@oak.example"
        ),
        "{text}"
    );
    let html = parsed.body_html(0).unwrap();
    assert!(html.contains("Oak Lane, Oakfield OK1 2AB"), "{html}");
    assert!(!html.contains("steadfast:letterhead"), "{html}");

    let calendar_part = parsed
        .parts
        .iter()
        .find(|part| part.is_content_type("text", "calendar"))
        .expect("a text/calendar part");
    assert_eq!(
        calendar_part.content_type().unwrap().attribute("method"),
        Some("REQUEST")
    );
    let calendar_text = calendar_part.text_contents().unwrap();
    assert_eq!(Some(calendar_text), email.calendar.as_deref());
    let attachment = parsed
        .parts
        .iter()
        .find(|part| part.attachment_name() == Some("invitation.ics"))
        .expect("the invitation.ics attachment");
    assert!(attachment.is_content_type("application", "ics"));
    assert_eq!(attachment.contents(), calendar_text.as_bytes());

    let mut reader = ical::IcalParser::new(calendar_text.as_bytes());
    let calendar = reader.next().unwrap().expect("the calendar parses");
    let method = calendar
        .properties
        .iter()
        .find(|p| p.name == "METHOD")
        .unwrap();
    assert_eq!(method.value.as_deref(), Some("REQUEST"));
    let uid = calendar.events[0]
        .properties
        .iter()
        .find(|p| p.name == "UID")
        .unwrap();
    assert_eq!(uid.value.as_deref(), Some("meeting-42@oak.example"));
}

#[test]
fn a_stopped_server_is_a_transient_failure_and_the_retry_arrives() {
    let Some(mut sink) = SmtpSink::start(SinkOptions::default()) else {
        return;
    };
    let transport = smtp_transport(&sink);
    let email = invitation("jo.bloggs@oakfield.example", "meeting-42-invite-0-staff-7");

    sink.stop();
    let error = send(&transport, &email).unwrap_err();
    assert!(!error.is_permanent(), "{error}");
    assert!(matches!(error, SendError::Unreachable(_)));

    sink.restart();
    send(&transport, &email).unwrap();
    let received = sink.wait_for(1, WAIT);
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].envelope_to, ["jo.bloggs@oakfield.example"]);
}

#[test]
fn a_refused_recipient_is_permanent_and_a_busy_one_transient() {
    let Some(sink) = SmtpSink::start(SinkOptions::default()) else {
        return;
    };
    let transport = smtp_transport(&sink);

    let refused = send(&transport, &invitation("refuse@oakfield.example", "k-1")).unwrap_err();
    assert!(refused.is_permanent(), "{refused}");
    assert!(refused.to_string().contains("550"), "{refused}");

    let busy = send(&transport, &invitation("busy@oakfield.example", "k-2")).unwrap_err();
    assert!(!busy.is_permanent(), "{busy}");
    assert!(busy.to_string().contains("451"), "{busy}");

    assert!(sink.messages().is_empty());
}

/// The password the TLS sink requires: characters that must be percent-encoded in a URL.
const PASSWORD: &str = "p@ss w:rd/%";

fn tls_sink(credentials: bool) -> Option<SmtpSink> {
    SmtpSink::start(SinkOptions {
        starttls: true,
        credentials: credentials.then(|| ("steadfast".to_string(), PASSWORD.to_string())),
        ..SinkOptions::default()
    })
}

#[test]
fn starttls_and_auth_with_the_schools_own_certificate_authority() {
    let Some(sink) = tls_sink(true) else {
        return;
    };
    let url = sink.url();
    assert!(url.contains("ca_file="), "{url}");
    assert!(url.contains("p%40ss%20w%3Ard%2F%25"), "{url}");
    let transport = Transport::from_settings(&url, &std::env::temp_dir()).unwrap();
    let shown = format!("{transport:?} {transport}");
    assert!(
        !shown.contains("p%40ss") && !shown.contains(PASSWORD),
        "{shown}"
    );

    send(
        &transport,
        &invitation("jo.bloggs@oakfield.example", "k-tls"),
    )
    .unwrap();
    let received = sink.wait_for(1, WAIT);
    assert!(received[0].tls, "the message must travel over STARTTLS");
    assert_eq!(received[0].login.as_deref(), Some("steadfast"));
}

#[test]
fn a_wrong_password_is_transient_so_mail_waits_for_the_setting_to_be_fixed() {
    let Some(sink) = tls_sink(true) else {
        return;
    };
    let ca_file = sink.ca_file().unwrap();
    let url = format!(
        "smtp://steadfast:wrong-one@127.0.0.1:{}?ca_file={}",
        sink.port(),
        ca_file.display()
    );
    let transport = Transport::from_settings(&url, &std::env::temp_dir()).unwrap();
    let error = send(
        &transport,
        &invitation("jo.bloggs@oakfield.example", "k-pw"),
    )
    .unwrap_err();
    assert!(!error.is_permanent(), "{error}");
    assert!(error.to_string().contains("535"), "{error}");
    assert!(!error.to_string().contains("wrong-one"), "{error}");
    assert!(sink.messages().is_empty());
}

#[test]
fn an_untrusted_certificate_is_refused() {
    let Some(sink) = tls_sink(false) else {
        return;
    };
    // Without ca_file the self-signed certificate is not trusted: STARTTLS is offered, so it
    // is attempted, and it fails rather than falling back to sending in clear.
    let url = sink.url();
    let url = &url[..url.find('?').unwrap()];
    let transport = Transport::from_settings(url, &std::env::temp_dir()).unwrap();
    let error = send(
        &transport,
        &invitation("jo.bloggs@oakfield.example", "k-ca"),
    )
    .unwrap_err();
    assert!(!error.is_permanent(), "{error}");
    assert!(sink.messages().is_empty());
}

#[test]
fn implicit_tls_with_smtps() {
    let Some(sink) = SmtpSink::start(SinkOptions {
        implicit_tls: true,
        ..SinkOptions::default()
    }) else {
        return;
    };
    assert!(sink.url().starts_with("smtps://"));
    let transport = smtp_transport(&sink);
    send(
        &transport,
        &invitation("jo.bloggs@oakfield.example", "k-smtps"),
    )
    .unwrap();
    assert!(sink.wait_for(1, WAIT)[0].tls);
}

#[test]
fn the_file_transport_writes_one_file_per_key_and_never_two() {
    let data = tempfile::tempdir().unwrap();
    let transport = Transport::from_settings("file", data.path()).unwrap();
    let first = invitation("jo.bloggs@oakfield.example", "meeting-42-invite-0-staff-7");
    let mut again = first.clone();
    again.subject = "A second attempt".into();

    send(&transport, &first).unwrap();
    send(&transport, &again).unwrap();
    send(
        &transport,
        &invitation("p.kaur@oakfield.example", "meeting-42-invite-0-staff-8"),
    )
    .unwrap();

    let folder = data.path().join("outbox");
    let mut names: Vec<String> = std::fs::read_dir(&folder)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "meeting-42-invite-0-staff-7.eml",
            "meeting-42-invite-0-staff-8.eml"
        ]
    );
    let listed = list_sent(data.path());
    assert_eq!(listed.len(), 2);
    let kept = read_sent(data.path(), "meeting-42-invite-0-staff-7.eml").unwrap();
    let parsed = MessageParser::default().parse(kept.as_bytes()).unwrap();
    assert_eq!(parsed.subject(), Some(first.subject.as_str()));
    assert!(read_sent(data.path(), "../outbox/meeting-42-invite-0-staff-7.eml").is_err());
}

#[test]
fn concurrent_sends_of_one_key_leave_one_whole_file() {
    let data = tempfile::tempdir().unwrap();
    let transport = std::sync::Arc::new(Transport::from_settings("file", data.path()).unwrap());
    let email = invitation("jo.bloggs@oakfield.example", "meeting-9-reminder");
    let handles: Vec<_> = (0..8)
        .map(|_| {
            let transport = transport.clone();
            let email = email.clone();
            std::thread::spawn(move || send(&transport, &email))
        })
        .collect();
    for handle in handles {
        handle.join().unwrap().unwrap();
    }
    let names: Vec<String> = std::fs::read_dir(data.path().join("outbox"))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(names, ["meeting-9-reminder.eml"]);
    let kept = read_sent(data.path(), "meeting-9-reminder.eml").unwrap();
    assert!(MessageParser::default().parse(kept.as_bytes()).is_some());
    assert!(kept.trim_end().ends_with("--"), "the file is whole");
}
