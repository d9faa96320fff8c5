//! The worker: scheduled jobs, run by `steadfast jobs run --once [--at T]` and every few
//! minutes by `steadfast serve`. Each job is safe to run again: running twice at the same
//! time changes nothing more than running once.

pub mod delivery;
pub mod retention;

use std::time::Duration;

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use crate::config::Settings;
use crate::db::models::PupilRow;
use crate::db::notices::{self, NoticeContext};
use crate::db::schema::{pupils, schools, suggestions};
use crate::db::{evaluation, to_db_time, Database};
use crate::domain::calendar::SchoolCalendar;
use crate::error::Result;
use delivery::{DeliveryReport, Mailer};

/// What the jobs need beyond the database: where email links point, and how mail is sent.
#[derive(Clone)]
pub struct JobContext {
    pub notices: NoticeContext,
    pub mailer: Mailer,
}

impl JobContext {
    /// The context the settings describe.
    pub fn from_settings(settings: &Settings) -> Result<Self> {
        Ok(JobContext {
            notices: NoticeContext::from_settings(settings),
            mailer: Mailer::from_settings(settings)?,
        })
    }
}

/// How often `serve` runs the jobs.
pub const INTERVAL: Duration = Duration::from_secs(10 * 60);

/// What one run of the jobs did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JobReport {
    /// Pupils at a support level whose rules were checked for time passing.
    pub pupils_checked: usize,
    /// Suggestions made by those checks (quiet step-downs, reviews).
    pub suggestions_made: usize,
    /// Open suggestions left undecided longer than the school's policy allows.
    pub suggestions_overdue: usize,
    /// Reminder emails queued (one school day before a meeting).
    pub reminders: usize,
    /// Overdue emails queued (a meeting's due day passed without it being held).
    pub overdue_notices: usize,
    /// Daily digests queued.
    pub digests: usize,
    /// Sessions cleared out for being idle or too old.
    pub sessions_cleared: usize,
    /// Answers to keyed requests forgotten for being older than they are kept.
    pub answers_cleared: usize,
    /// What the retention schedule erased.
    pub retention: retention::RetentionReport,
    /// What the outbox delivery did.
    pub delivery: DeliveryReport,
}

impl std::fmt::Display for JobReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} pupils checked, {} suggestions made, {} suggestions waiting too long for a decision; \
             {} reminders, {} overdue notices and {} digests queued; \
             {} emails sent, {} to retry, {} failed; {} expired sessions and {} old answers to \
             keyed requests cleared; erased: {}",
            self.pupils_checked,
            self.suggestions_made,
            self.suggestions_overdue,
            self.reminders,
            self.overdue_notices,
            self.digests,
            self.delivery.sent,
            self.delivery.retrying,
            self.delivery.failed,
            self.sessions_cleared,
            self.answers_cleared,
            self.retention
        )
    }
}

/// Runs every job once, as if the time were `at`: the rules that depend on time passing,
/// meeting reminders and overdue notices, digests, the retention schedule, then the outbox.
pub async fn run_once(db: &Database, context: &JobContext, at: DateTime<Utc>) -> Result<JobReport> {
    let mut report = JobReport::default();
    let school_ids: Vec<i64> = db
        .transaction(|conn| {
            Ok(schools::table
                .select(schools::id)
                .order(schools::id)
                .load(conn)?)
        })
        .await?;
    for school_id in school_ids {
        let supported: Vec<i64> = db
            .transaction(move |conn| {
                Ok(pupils::table
                    .filter(pupils::school_id.eq(school_id))
                    .filter(pupils::level.gt(0))
                    .filter(pupils::left_on.is_null())
                    .order(pupils::id)
                    .select(pupils::id)
                    .load(conn)?)
            })
            .await?;
        for pupil_id in supported {
            // One short transaction a pupil, so the job never holds up staff logging.
            let made = db
                .write(move |conn| {
                    let rules = evaluation::load_rules(conn, school_id)?;
                    let pupil = lock_pupil(conn, pupil_id)?;
                    Ok(evaluation::suggest_for_pupil(conn, &pupil, &rules, at)?.len())
                })
                .await?;
            report.pupils_checked += 1;
            report.suggestions_made += made;
        }
        report.suggestions_overdue += db
            .transaction(move |conn| overdue_suggestions(conn, school_id, at))
            .await?;
        let notice_context = context.notices.clone();
        let (follow_ups, digests) = db
            .write(move |conn| {
                let rules = evaluation::load_rules(conn, school_id)?;
                let follow_ups =
                    notices::follow_ups(conn, &notice_context, school_id, &rules.calendar, at)?;
                let digests =
                    notices::digests(conn, &notice_context, school_id, &rules.calendar, at)?;
                Ok((follow_ups, digests))
            })
            .await?;
        report.reminders += follow_ups.reminders;
        report.overdue_notices += follow_ups.overdue;
        report.digests += digests;
    }
    report.sessions_cleared = db
        .write(move |conn| crate::db::sign_in::clear_expired(conn, to_db_time(at)))
        .await?;
    report.answers_cleared = db
        .write(move |conn| crate::db::idempotency::clear_expired(conn, at))
        .await?;
    report.retention = retention::apply(db, SchoolCalendar::local_date(at), at, false).await?;
    report.delivery = delivery::deliver_due(db, &context.mailer, at).await?;
    Ok(report)
}

/// Loads a pupil, locking the row on PostgreSQL: another instance running the same job (or
/// staff logging an incident) for this pupil waits, then sees the suggestions made here
/// rather than making them again. On SQLite the one writer already runs writes one by one.
fn lock_pupil(conn: &mut crate::db::DbConnection, pupil_id: i64) -> Result<PupilRow> {
    let query = pupils::table.find(pupil_id);
    Ok(match conn {
        crate::db::DbConnection::Postgres(pg) => {
            query.select(PupilRow::as_select()).for_update().first(pg)?
        }
        crate::db::DbConnection::Sqlite(_) => query.select(PupilRow::as_select()).first(conn)?,
    })
}

/// How many of a school's open suggestions are older than its policy's limit, counted in
/// school days.
fn overdue_suggestions(
    conn: &mut crate::db::DbConnection,
    school_id: i64,
    at: DateTime<Utc>,
) -> Result<usize> {
    let rules = evaluation::load_rules(conn, school_id)?;
    let today = SchoolCalendar::local_date(at);
    let oldest_allowed = rules
        .calendar
        .sub_school_days(today, rules.policy.suggestion_stale_days);
    let opened: Vec<chrono::NaiveDateTime> = suggestions::table
        .filter(suggestions::school_id.eq(school_id))
        .filter(suggestions::status.eq("open"))
        .filter(suggestions::created_at.le(to_db_time(at)))
        .select(suggestions::created_at)
        .load(conn)?;
    Ok(opened
        .into_iter()
        .filter(|created| SchoolCalendar::local_date(created.and_utc()) < oldest_allowed)
        .count())
}

/// Runs the jobs now and every [`INTERVAL`] until the process ends; a failed run is logged
/// and tried again next time.
pub async fn run_forever(db: Database, context: JobContext) {
    let mut ticks = actix_web::rt::time::interval(INTERVAL);
    loop {
        ticks.tick().await;
        match run_once(&db, &context, Utc::now()).await {
            Ok(report) => tracing::info!(%report, "jobs ran"),
            Err(error) => tracing::error!(%error, "jobs failed"),
        }
    }
}
