//! Email delivery rate: `BENCH_MESSAGES` emails (default 2,000) queued in the outbox, then
//! timed while the delivery worker (`steadfast::jobs::delivery::deliver_due`, what
//! `steadfast serve` runs every two seconds) sends them to a real SMTP server on loopback
//! (`scripts/smtp-sink.py`, Debian's python3-aiosmtpd), next to two baselines measured in the
//! same run against the same kind of server:
//!
//! - **lettre, one connection**: the same messages built the same way and sent with lettre
//!   directly over one SMTP connection, one after another;
//! - **lettre, a connection each**: the same with lettre's `SmtpTransport`, which opens a
//!   connection per message (as Steadfast's transport does).
//!
//! Each sink is fresh, and the count it received is checked against what was sent. It
//! prints; it never fails. `cargo bench --bench outbox` measures on a temporary SQLite file;
//! under `scripts/with-postgres` it also measures on a throwaway PostgreSQL database.

#[path = "../tests/common/mod.rs"]
mod common;
#[path = "../tests/common/smtp.rs"]
mod smtp;
mod support;

use std::time::{Duration, Instant};

use anyhow::{anyhow, Context};
use chrono::Utc;
use lettre::transport::smtp::client::SmtpConnection;
use lettre::transport::smtp::extension::ClientId;
use lettre::{SmtpTransport, Transport};

use common::Engine;
use smtp::{SinkOptions, SmtpSink};
use steadfast::db::outbox::{self, Recipient};
use steadfast::jobs::delivery::{deliver_due, Mailer};
use steadfast::mail::{build_message, OutgoingEmail};

const FROM: &str = "steadfast@localhost";
const SCHOOL_NAME: &str = "Bench Academy";

/// The school as its emails are headed and signed.
fn school() -> steadfast::mail::content::SchoolContact {
    steadfast::mail::content::SchoolContact {
        name: SCHOOL_NAME.into(),
        phone: "01632 960000".into(),
        email: "office@bench.example".into(),
        address: "1 Bench Road\nBenchtown".into(),
        logo_url: None,
    }
}
/// How long the sink may take to write what it acknowledged.
const SETTLE: Duration = Duration::from_secs(30);

/// One measured delivery.
struct Rate {
    name: String,
    sent: usize,
    received: usize,
    took: Duration,
    note: Option<String>,
}

impl Rate {
    fn per_second(&self) -> f64 {
        self.sent as f64 / self.took.as_secs_f64().max(1e-9)
    }
}

fn main() -> anyhow::Result<()> {
    let count = support::env_number("BENCH_MESSAGES", 2000, 10, 100_000) as usize;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(run(count))
}

async fn run(count: usize) -> anyhow::Result<()> {
    println!("== Steadfast benchmark: outbox delivery to an SMTP server on loopback ==");
    println!("Machine: {}.", support::machine());
    let Some(sample) = SmtpSink::start(SinkOptions::default()) else {
        println!("No SMTP server could be started here (see above): nothing measured.");
        return Ok(());
    };
    drop(sample);
    let size = build_message(&email(0), FROM, &school(), "oak.example")?
        .formatted()
        .len();
    println!(
        "Data: {count} emails of {size} bytes each (a text and an HTML part), to 20 recipients; \
         the server is scripts/smtp-sink.py (python3-aiosmtpd) on 127.0.0.1, plain SMTP, a fresh \
         one per measurement."
    );

    let mut rates = vec![
        timed_blocking("baseline: lettre, one connection", count, one_connection).await?,
        timed_blocking(
            "baseline: lettre, a connection each",
            count,
            connection_each,
        )
        .await?,
    ];
    let mut engines = vec![Engine::Sqlite];
    if common::postgres_available() {
        engines.push(Engine::Postgres);
    }
    for engine in engines {
        rates.push(steadfast_delivery(engine, count).await?);
    }

    let base = rates[0].per_second();
    println!(
        "\n{:<44} {:>8} {:>9} {:>9} {:>12} {:>9}",
        "sender", "sent", "received", "seconds", "messages/s", "x base"
    );
    for rate in &rates {
        println!(
            "{:<44} {:>8} {:>9} {:>9.2} {:>12.1} {:>8.2}x",
            rate.name,
            rate.sent,
            rate.received,
            rate.took.as_secs_f64(),
            rate.per_second(),
            rate.per_second() / base.max(1e-9)
        );
        if let Some(note) = &rate.note {
            println!("    {note}");
        }
    }
    println!(
        "(x base: messages/s over the lettre-one-connection baseline's; load average at the end {}.)",
        support::load_average()
    );
    Ok(())
}

/// The `index`th email: a meeting notice of the usual size, to one of 20 addresses.
fn email(index: usize) -> OutgoingEmail {
    let text = "Coaching Time is due for Sam R. (Year 9) by Friday 27 November.\n\n\
        Three Coaching Prompts in five school days led to a Coaching Conversation; the \
        conversation's plan did not hold, so the pupil moved to Coaching Time. Book the \
        meeting from the pupil's page: choose when, where and who takes part.\n\n\
        Open the record: http://127.0.0.1:8080/meetings/42\n\n\
        You get this email because you lead Year 9. Choose a daily digest instead from \
        your name at the top of any page.\n"
        .repeat(2);
    let html = format!(
        "<!doctype html><html><body><h1>Coaching Time is due</h1>{}</body></html>",
        text.split("\n\n")
            .map(|p| format!("<p>{p}</p>"))
            .collect::<String>()
    );
    OutgoingEmail {
        to: format!("staff{}@bench.example", index % 20),
        subject: "Coaching Time due: Sam R., Year 9".to_string(),
        text,
        html,
        calendar: None,
        message_key: format!("bench-{index}"),
    }
}

/// Runs a blocking sender against a fresh sink and times it.
async fn timed_blocking(
    name: &str,
    count: usize,
    send: fn(&SmtpSink, usize) -> anyhow::Result<()>,
) -> anyhow::Result<Rate> {
    let sink = SmtpSink::start(SinkOptions::default()).context("an SMTP sink")?;
    let (sink, took) = tokio::task::spawn_blocking(move || {
        let started = Instant::now();
        send(&sink, count).map(|()| (sink, started.elapsed()))
    })
    .await??;
    let received = received(&sink, count);
    Ok(Rate {
        name: name.to_string(),
        sent: count,
        received,
        took,
        note: None,
    })
}

/// Baseline: every message over one SMTP connection, built as Steadfast builds it.
fn one_connection(sink: &SmtpSink, count: usize) -> anyhow::Result<()> {
    let mut connection = SmtpConnection::connect(
        ("127.0.0.1", sink.port()),
        Some(Duration::from_secs(10)),
        &ClientId::default(),
        None,
        None,
    )?;
    for index in 0..count {
        let message = build_message(&email(index), FROM, &school(), "oak.example")?;
        connection.send(message.envelope(), &message.formatted())?;
    }
    connection.quit()?;
    Ok(())
}

/// Baseline: lettre's blocking transport, a connection per message.
fn connection_each(sink: &SmtpSink, count: usize) -> anyhow::Result<()> {
    let transport = SmtpTransport::builder_dangerous("127.0.0.1")
        .port(sink.port())
        .timeout(Some(Duration::from_secs(10)))
        .build();
    for index in 0..count {
        let message = build_message(&email(index), FROM, &school(), "oak.example")?;
        transport.send(&message)?;
    }
    Ok(())
}

/// Steadfast: queue `count` emails in one transaction, then time the delivery worker.
async fn steadfast_delivery(engine: Engine, count: usize) -> anyhow::Result<Rate> {
    let sink = SmtpSink::start(SinkOptions::default()).context("an SMTP sink")?;
    let url = sink.url();
    let mut app = common::spawn_app_with(engine, |settings| settings.smtp_url = url).await;
    app.stop().await;
    let school = app.create_school("BENCH", SCHOOL_NAME);
    let school_id = school.id;
    let queued_at = Utc::now();
    app.db
        .write(move |conn| {
            for index in 0..count {
                let message = email(index);
                let recipient = Recipient {
                    staff_id: None,
                    name: "Staff".to_string(),
                    email: message.to.clone(),
                };
                outbox::enqueue(conn, school_id, &recipient, &message, "bench", queued_at)?;
            }
            Ok(())
        })
        .await?;
    let mailer = Mailer::from_settings(&app.settings)?;
    let started = Instant::now();
    let report = deliver_due(&app.db, &mailer, Utc::now()).await?;
    let took = started.elapsed();
    let received = received(&sink, count);
    let note = (report.sent != count).then(|| {
        format!(
            "the worker reported {} sent, {} to retry, {} failed",
            report.sent, report.retrying, report.failed
        )
    });
    if report.sent == 0 {
        return Err(anyhow!("nothing was delivered on {}", engine.as_str()));
    }
    Ok(Rate {
        name: format!("Steadfast delivery worker ({})", engine.as_str()),
        sent: report.sent,
        received,
        took,
        note,
    })
}

/// How many messages the sink holds once it has `expected` (or after [`SETTLE`]).
fn received(sink: &SmtpSink, expected: usize) -> usize {
    let deadline = Instant::now() + SETTLE;
    loop {
        let got = sink.messages().len();
        if got >= expected || Instant::now() > deadline {
            return got;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}
