//! Email: what each message says (`content`), calendar invitations (`ics`), and how a message
//! leaves the building (`transport`). Nothing here touches the database: the outbox stores
//! [`OutgoingEmail`] rows, and the worker turns each into a [`lettre::Message`] with
//! [`build_message`] and hands it to a [`transport::Transport`].

pub mod content;
pub mod ics;
pub mod transport;

use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart};
use lettre::Message;

/// One email ready to send (what an outbox row holds).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingEmail {
    /// One recipient address.
    pub to: String,
    /// The subject line.
    pub subject: String,
    /// The plain-text body.
    pub text: String,
    /// The HTML body (rendered with maud, so every value in it is escaped).
    pub html: String,
    /// A complete iCalendar object (the .ics text), with its METHOD inside it.
    pub calendar: Option<String>,
    /// A stable key; it becomes the Message-ID's local part, so a resend is recognisable.
    pub message_key: String,
}

/// Why an email could not be built or a transport could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    /// An address (recipient or sender) is not a valid email address.
    #[error("{which} address is not valid: {source}")]
    Address {
        /// Which address: "recipient" or "sender".
        which: &'static str,
        /// What the parser said.
        source: lettre::address::AddressError,
    },
    /// The message key has no character that may appear in a Message-ID.
    #[error("the message key is empty once unsafe characters are removed")]
    EmptyKey,
    /// The calendar text has no `METHOD:REQUEST` or `METHOD:CANCEL` line.
    #[error("the calendar has no METHOD of REQUEST or CANCEL")]
    CalendarMethod,
    /// lettre refused to assemble the message.
    #[error("the message could not be assembled: {0}")]
    Build(#[from] lettre::error::Error),
    /// The SMTP setting could not be understood (the text never includes a password).
    #[error("smtp_url {url}: {reason}")]
    SmtpUrl {
        /// The setting with any password replaced by `***`.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A file could not be read or written.
    #[error("{context}: {source}")]
    Io {
        /// What was being done, with the path.
        context: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A sent-mail file name asked for is not one this module writes.
    #[error("not the name of a sent email")]
    BadFileName,
}

/// Whether a URL's host is this machine only: `localhost`, `127.x`, `::1`, `0.0.0.0`. Links to
/// such a host work for nobody else.
pub fn is_loopback_host(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback() || ip.is_unspecified())
}

/// The host of the public URL, when it has one.
fn url_host(public_url: &str) -> Option<String> {
    url::Url::parse(public_url)
        .ok()
        .and_then(|url| url.host_str().map(str::to_string))
}

/// Whether the public URL points at this machine only (see [`is_loopback_host`]).
pub fn is_loopback_url(public_url: &str) -> bool {
    url_host(public_url).is_none_or(|host| is_loopback_host(&host))
}

/// The domain that names this installation in every Message-ID and calendar UID: the public
/// URL's host, or, while that is still this machine only, the From address's domain. Two
/// installations' messages then never share an identifier in one inbox.
pub fn identity_host(public_url: &str, mail_from: &str) -> String {
    let from_domain = || {
        mail_from
            .parse::<lettre::Address>()
            .ok()
            .map(|address| address.domain().to_string())
    };
    url_host(public_url)
        .filter(|host| !is_loopback_host(host))
        .or_else(from_domain)
        .map(|host| {
            host.chars()
                .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-'))
                .collect::<String>()
        })
        .filter(|host| !host.is_empty())
        .unwrap_or_else(|| "localhost".to_string())
}

/// Keeps the characters of a message key that are safe in a Message-ID and a file name
/// (ASCII letters, digits, `.`, `-`, `_`); any other character becomes `-`. Leading dots are
/// dropped so the key never names a hidden file.
pub fn sanitise_key(key: &str) -> String {
    let cleaned: String = key
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '-'
            }
        })
        .collect();
    cleaned.trim_start_matches('.').to_string()
}

/// Builds the message for one email: text and HTML as alternatives, headed and signed with the
/// school's details, and when there is a calendar, a `text/calendar` alternative (what Outlook
/// and Google read) plus an `invitation.ics` or `cancellation.ics` attachment (what Apple Mail
/// and others offer to open). From shows the school's name with the configured address; the
/// Message-ID is `<{key}@{id_host}>` ([`identity_host`]); `Auto-Submitted` and
/// `X-Auto-Response-Suppress` keep out-of-office replies away.
pub fn build_message(
    email: &OutgoingEmail,
    from: &str,
    school: &content::SchoolContact,
    id_host: &str,
) -> Result<Message, MailError> {
    let mut email = email.clone();
    school.letterhead(&mut email);
    let school_name = school.name.trim();
    let sender: Mailbox = from.parse().map_err(|source| MailError::Address {
        which: "sender",
        source,
    })?;
    let sender = Mailbox::new(Some(format!("{school_name} via Steadfast")), sender.email);
    let recipient = Mailbox::from(crate::domain::details::mail_address(&email.to).map_err(
        |source| MailError::Address {
            which: "recipient",
            source,
        },
    )?);
    let key = sanitise_key(&email.message_key);
    if key.is_empty() {
        return Err(MailError::EmptyKey);
    }

    let mut alternatives = MultiPart::alternative()
        .singlepart(SinglePart::plain(email.text.clone()))
        .singlepart(SinglePart::html(email.html.clone()));
    let builder = Message::builder()
        .from(sender)
        .to(recipient)
        .subject(email.subject.clone())
        .message_id(Some(format!("<{key}@{id_host}>")));

    let mut message = match &email.calendar {
        None => builder.multipart(alternatives)?,
        Some(calendar) => {
            let method = ics::method_of(calendar).ok_or(MailError::CalendarMethod)?;
            let inline = ContentType::parse(&format!(
                "text/calendar; method={}; charset=UTF-8",
                method.as_str()
            ))
            .map_err(|_| MailError::CalendarMethod)?;
            alternatives = alternatives
                .singlepart(SinglePart::builder().header(inline).body(calendar.clone()));
            let attachment_type =
                ContentType::parse("application/ics").map_err(|_| MailError::CalendarMethod)?;
            let file_name = match method {
                ics::Method::Request => "invitation.ics",
                ics::Method::Cancel => "cancellation.ics",
            };
            let attachment =
                Attachment::new(file_name.to_string()).body(calendar.clone(), attachment_type);
            builder.multipart(
                MultiPart::mixed()
                    .multipart(alternatives)
                    .singlepart(attachment),
            )?
        }
    };
    // RFC 3834: tells out-of-office responders not to answer.
    // Sent by a machine: no out-of-office or other automatic reply should come back to it.
    message.headers_mut().insert_raw(HeaderValue::new(
        HeaderName::new_from_ascii_str("Auto-Submitted"),
        "auto-generated".into(),
    ));
    message.headers_mut().insert_raw(HeaderValue::new(
        HeaderName::new_from_ascii_str("X-Auto-Response-Suppress"),
        "All".into(),
    ));
    Ok(message)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn email(calendar: Option<String>) -> OutgoingEmail {
        OutgoingEmail {
            to: "jo.bloggs@school.example".into(),
            subject: "Coaching Time for Sam T., Year 9".into(),
            text: "Hello Jo,\n\nA plain body.\n".into(),
            html: "<p>Hello Jo,</p>".into(),
            calendar,
            message_key: "meeting-42/invite 0".into(),
        }
    }

    fn school(name: &str) -> content::SchoolContact {
        content::SchoolContact {
            name: name.into(),
            ..Default::default()
        }
    }

    fn formatted(message: &Message) -> String {
        String::from_utf8(message.formatted()).unwrap()
    }

    #[test]
    fn each_installation_names_its_messages_by_its_own_domain() {
        let from = "steadfast@oakfield.example";
        assert_eq!(
            identity_host("https://support.oakfield.example/", from),
            "support.oakfield.example"
        );
        for loopback in [
            "http://127.0.0.1:8080",
            "http://localhost:8080",
            "http://[::1]:8080",
        ] {
            assert!(is_loopback_url(loopback), "{loopback}");
            assert_eq!(identity_host(loopback, from), "oakfield.example");
        }
        assert!(!is_loopback_url("https://support.oakfield.example"));
        assert_eq!(
            identity_host("http://127.0.0.1:8080", "steadfast@localhost"),
            "localhost"
        );
    }

    #[test]
    fn keys_keep_only_safe_characters() {
        assert_eq!(sanitise_key("meeting-42.invite_0"), "meeting-42.invite_0");
        assert_eq!(sanitise_key("a/b c<d>@e"), "a-b-c-d--e");
        assert_eq!(sanitise_key("../../etc/passwd"), "-..-etc-passwd");
        assert_eq!(sanitise_key("...x"), "x");
        assert_eq!(sanitise_key("é"), "-");
    }

    /// The parts of a message with this MIME type, as (parameters, decoded body).
    fn parts_of(raw: &[u8], ctype: &str, subtype: &str) -> Vec<(String, Vec<u8>)> {
        use mail_parser::MimeHeaders;
        let parsed = mail_parser::MessageParser::default().parse(raw).unwrap();
        parsed
            .parts
            .iter()
            .filter(|part| part.is_content_type(ctype, subtype))
            .map(|part| {
                let params = format!("{:?}", part.content_type().unwrap().attributes());
                (params, part.contents().to_vec())
            })
            .collect()
    }

    #[test]
    fn without_calendar_it_is_text_and_html_alternatives() {
        let message = build_message(
            &email(None),
            "steadfast@localhost",
            &school("Oakfield Academy"),
            "school.example",
        )
        .unwrap();
        let raw = message.formatted();
        let parsed = mail_parser::MessageParser::default().parse(&raw).unwrap();
        let from = parsed.from().unwrap().first().unwrap();
        assert_eq!(from.name(), Some("Oakfield Academy via Steadfast"));
        assert_eq!(from.address(), Some("steadfast@localhost"));
        assert_eq!(
            parsed.to().unwrap().first().unwrap().address(),
            Some("jo.bloggs@school.example")
        );
        assert_eq!(parsed.subject(), Some("Coaching Time for Sam T., Year 9"));
        assert_eq!(
            parsed.message_id(),
            Some("meeting-42-invite-0@school.example")
        );
        let text = formatted(&message);
        assert!(text.contains("Content-Type: multipart/alternative"));
        assert!(text.contains("Auto-Submitted: auto-generated\r\n"));
        assert!(text.contains("X-Auto-Response-Suppress: All\r\n"));
        // The From name is plain words: quoted, not encoded.
        assert!(
            text.contains("From: \"Oakfield Academy via Steadfast\" <steadfast@localhost>\r\n"),
            "{text}"
        );
        assert!(!text.contains("multipart/mixed"));
        assert_eq!(parts_of(&raw, "text", "plain").len(), 1);
        assert_eq!(parts_of(&raw, "text", "html").len(), 1);
        assert!(parts_of(&raw, "text", "calendar").is_empty());
    }

    #[test]
    fn with_calendar_it_has_an_inline_part_and_an_attachment() {
        let ics = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nMETHOD:CANCEL\r\nEND:VCALENDAR\r\n";
        let message = build_message(
            &email(Some(ics.into())),
            "steadfast@localhost",
            &school("Oakfield Academy"),
            "school.example",
        )
        .unwrap();
        let raw = message.formatted();
        let text = formatted(&message);
        assert!(text.contains("Content-Type: multipart/mixed"));
        assert!(text.contains("Content-Type: multipart/alternative"));
        assert!(text.contains("filename=\"cancellation.ics\""));
        let inline = parts_of(&raw, "text", "calendar");
        assert_eq!(inline.len(), 1);
        assert!(
            inline[0].0.contains("\"method\", value: \"CANCEL\""),
            "{}",
            inline[0].0
        );
        assert!(
            inline[0].0.to_lowercase().contains("utf-8"),
            "{}",
            inline[0].0
        );
        assert_eq!(inline[0].1, ics.as_bytes());
        let attached = parts_of(&raw, "application", "ics");
        assert_eq!(attached.len(), 1);
        assert_eq!(attached[0].1, ics.as_bytes());
    }

    #[test]
    fn calendar_without_method_is_refused() {
        let ics = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nEND:VCALENDAR\r\n";
        let err = build_message(
            &email(Some(ics.into())),
            "steadfast@localhost",
            &school("School"),
            "school.example",
        )
        .unwrap_err();
        assert!(matches!(err, MailError::CalendarMethod));
    }

    #[test]
    fn bad_addresses_and_keys_are_errors() {
        for to in [
            "not an address",
            "\"<b>x</b>\"@example.com",
            "a<script>@x.y",
        ] {
            let mut bad = email(None);
            bad.to = to.into();
            assert!(
                matches!(
                    build_message(
                        &bad,
                        "steadfast@localhost",
                        &school("School"),
                        "school.example"
                    ),
                    Err(MailError::Address {
                        which: "recipient",
                        ..
                    })
                ),
                "{to}"
            );
        }
        assert!(matches!(
            build_message(&email(None), "nobody", &school("School"), "school.example"),
            Err(MailError::Address {
                which: "sender",
                ..
            })
        ));
        let mut keyless = email(None);
        keyless.message_key = "...".into();
        assert!(matches!(
            build_message(
                &keyless,
                "steadfast@localhost",
                &school("School"),
                "school.example"
            ),
            Err(MailError::EmptyKey)
        ));
    }
}
