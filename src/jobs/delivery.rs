//! Delivering the outbox: claims rows with a lease, sends each through the configured
//! transport outside any open transaction, then marks it sent, or to be retried later, or
//! failed. Run every few seconds inside `steadfast serve` and once by `jobs run --once`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::config::Settings;
use crate::db::models::OutboxRow;
use crate::db::outbox;
use crate::db::Database;
use crate::error::{Error, Result};
use crate::mail::content::SchoolContact;
use crate::mail::transport::{SendError, Transport};
use crate::mail::{build_message, OutgoingEmail};

/// How often `serve` looks for email to send.
pub const INTERVAL: Duration = Duration::from_secs(2);

/// The transport and the From address: what sending needs.
#[derive(Clone)]
pub struct Mailer {
    transport: Arc<Transport>,
    from: String,
    /// The domain of every Message-ID ([`crate::mail::identity_host`]).
    id_host: String,
}

impl Mailer {
    /// The mailer the settings describe (`smtp_url`, `mail_from`, `data_dir`).
    pub fn from_settings(settings: &Settings) -> Result<Self> {
        let transport = Transport::from_settings(&settings.smtp_url, &settings.data_dir)
            .map_err(|e| Error::Internal(format!("the mail transport could not be set up: {e}")))?;
        Ok(Mailer {
            transport: Arc::new(transport),
            from: settings.mail_from.clone(),
            id_host: crate::mail::identity_host(&settings.public_url, &settings.mail_from),
        })
    }

    /// Where messages go, without any password.
    pub fn describe(&self) -> String {
        self.transport.to_string()
    }

    /// The transport, for the admin page's list of written files.
    pub fn transport(&self) -> &Transport {
        &self.transport
    }
}

/// What one delivery run did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeliveryReport {
    pub sent: usize,
    pub retrying: usize,
    pub failed: usize,
}

/// Sends every email due as of `at`, a few at a time, until none is left to claim now.
/// When the mail server cannot be reached, the other claimed emails are not tried against
/// it (each would wait out the same timeout): they share the failed attempt, and all wait
/// their backoff.
pub async fn deliver_due(
    db: &Database,
    mailer: &Mailer,
    at: DateTime<Utc>,
) -> Result<DeliveryReport> {
    let mut report = DeliveryReport::default();
    let mut schools_seen: HashMap<i64, SchoolContact> = HashMap::new();
    let mut server_down: Option<SendError> = None;
    loop {
        let claimed = db.write(move |conn| outbox::claim(conn, at)).await?;
        if claimed.is_empty() {
            return Ok(report);
        }
        for row in claimed {
            let outcome = match &server_down {
                Some(error) => Err(error.clone()),
                None => {
                    let school = school_of(db, &mut schools_seen, row.school_id).await?;
                    send(mailer, &row, &school).await
                }
            };
            let sent_at = at.max(Utc::now());
            match outcome {
                Ok(()) => {
                    let id = row.id;
                    db.write(move |conn| outbox::mark_sent(conn, id, sent_at))
                        .await?;
                    report.sent += 1;
                }
                Err(error) => {
                    // The server's words may quote an address: they go to the row, which the
                    // admin page shows, and not to the log.
                    tracing::warn!(
                        outbox_id = row.id,
                        attempts = row.attempts,
                        permanent = error.is_permanent(),
                        server_unavailable = error.is_server_unavailable(),
                        "an email was not sent"
                    );
                    if error.is_server_unavailable() {
                        server_down = Some(error.clone());
                    }
                    let state = db
                        .write(move |conn| {
                            outbox::mark_attempt_failed(
                                conn,
                                &row,
                                &error.to_string(),
                                error.is_permanent(),
                                at,
                            )
                        })
                        .await?;
                    if state == outbox::status::FAILED {
                        report.failed += 1;
                    } else {
                        report.retrying += 1;
                    }
                }
            }
        }
    }
}

/// A school's name and details, for the sender's name and the letterhead of its emails;
/// looked up once a run.
async fn school_of(
    db: &Database,
    known: &mut HashMap<i64, SchoolContact>,
    school_id: i64,
) -> Result<SchoolContact> {
    if let Some(school) = known.get(&school_id) {
        return Ok(school.clone());
    }
    let school = db
        .transaction(move |conn| crate::db::family::school_contact(conn, school_id))
        .await?;
    known.insert(school_id, school.clone());
    Ok(school)
}

/// Builds and sends one row's message on a blocking thread.
async fn send(mailer: &Mailer, row: &OutboxRow, school: &SchoolContact) -> Result<(), SendError> {
    let email = OutgoingEmail {
        to: row.recipient.clone(),
        subject: row.subject.clone(),
        text: row.body_text.clone(),
        html: row.body_html.clone().unwrap_or_default(),
        calendar: row.calendar_ics.clone(),
        message_key: row.message_key.clone(),
    };
    let message = build_message(&email, &mailer.from, school, &mailer.id_host)
        .map_err(|e| SendError::Permanent(format!("the message could not be built: {e}")))?;
    let transport = mailer.transport.clone();
    actix_web::rt::task::spawn_blocking(move || transport.send(&message))
        .await
        .map_err(|e| SendError::Transient(format!("the send task failed: {e}")))?
}

/// Delivers the outbox every [`INTERVAL`] until the process ends.
pub async fn deliver_forever(db: Database, mailer: Mailer) {
    let mut ticks = actix_web::rt::time::interval(INTERVAL);
    loop {
        ticks.tick().await;
        match deliver_due(&db, &mailer, Utc::now()).await {
            Ok(report) if report == DeliveryReport::default() => {}
            Ok(report) => tracing::info!(
                sent = report.sent,
                retrying = report.retrying,
                failed = report.failed,
                "outbox delivered"
            ),
            Err(error) => tracing::error!(%error, "outbox delivery failed"),
        }
    }
}
