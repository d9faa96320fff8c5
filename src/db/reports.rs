//! The gate every report passes (see [`super::Database::report`]): at most so many reports of
//! one school at once, each on a small pool of its own and within a time limit, so that
//! reports can never take the connections, the writer or the time that logging needs.

use std::cell::Cell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};

/// Reports of one school that may run at once, unless configured otherwise.
///
/// One: on a server of 2 CPUs a second report at once takes the CPU logging needs (the
/// Prompt's p99 under 16 report clients was 2.6-5.1x idle with 2, 1.6x with 1; see
/// docs/performance.md). Whole-school reports take about 50-120 ms, so one at a time keeps up.
pub const DEFAULT_PER_SCHOOL: usize = 1;

/// How long one report may run, unless configured otherwise.
pub const DEFAULT_TIME_LIMIT: Duration = Duration::from_secs(20);

/// Connections kept for reports, apart from those logging and the pages use.
pub const REPORT_POOL_SIZE: u32 = 4;

/// How long a report waits for one of the report connections (all of them busy with other
/// schools' reports) before it is answered "busy".
pub const REPORT_CHECKOUT_TIMEOUT: Duration = Duration::from_secs(3);

/// What a busy answer asks the client to wait, in seconds.
pub const RETRY_AFTER_SECONDS: i64 = 5;

/// The reports running per school, and the limits they run under.
#[derive(Debug)]
pub struct ReportGate {
    per_school: AtomicUsize,
    time_limit_ms: AtomicU64,
    running: Mutex<HashMap<i64, usize>>,
}

impl Default for ReportGate {
    fn default() -> Self {
        ReportGate {
            per_school: AtomicUsize::new(DEFAULT_PER_SCHOOL),
            time_limit_ms: AtomicU64::new(duration_ms(DEFAULT_TIME_LIMIT)),
            running: Mutex::new(HashMap::new()),
        }
    }
}

fn duration_ms(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

impl ReportGate {
    /// Sets how many reports of one school may run at once (at least one) and how long each
    /// may run (at least a second).
    pub fn configure(&self, per_school: usize, time_limit: Duration) {
        self.per_school.store(per_school.max(1), Ordering::Relaxed);
        self.time_limit_ms
            .store(duration_ms(time_limit).max(1000), Ordering::Relaxed);
    }

    /// How many reports of one school may run at once.
    pub fn per_school(&self) -> usize {
        self.per_school.load(Ordering::Relaxed)
    }

    /// How long one report may run.
    pub fn time_limit(&self) -> Duration {
        Duration::from_millis(self.time_limit_ms.load(Ordering::Relaxed))
    }

    /// A place for one more report of the school, or [`busy`] when as many as may run at
    /// once are running. The place is given back when the permit is dropped.
    pub fn admit(self: &Arc<Self>, school_id: i64) -> Result<ReportPermit> {
        let limit = self.per_school();
        let mut running = self
            .running
            .lock()
            .map_err(|_| Error::Internal("the report gate was poisoned".into()))?;
        let count = running.entry(school_id).or_default();
        if *count >= limit {
            return Err(busy());
        }
        *count += 1;
        Ok(ReportPermit {
            gate: self.clone(),
            school_id,
        })
    }

    /// How many reports of the school are running now.
    pub fn running(&self, school_id: i64) -> usize {
        self.running
            .lock()
            .map(|running| running.get(&school_id).copied().unwrap_or(0))
            .unwrap_or(0)
    }
}

/// A running report's place; dropping it lets the next report of the school in.
#[derive(Debug)]
pub struct ReportPermit {
    gate: Arc<ReportGate>,
    school_id: i64,
}

impl Drop for ReportPermit {
    fn drop(&mut self) {
        if let Ok(mut running) = self.gate.running.lock() {
            if let Some(count) = running.get_mut(&self.school_id) {
                *count = count.saturating_sub(1);
                if *count == 0 {
                    running.remove(&self.school_id);
                }
            }
        }
    }
}

/// The answer when the school's reports are all running: 429, try again in a moment.
pub fn busy() -> Error {
    Error::Busy {
        message: "Several reports are being prepared for your school at this moment. So that \
                  logging stays quick for everyone, this one has not been started: please try \
                  again in a moment."
            .into(),
        retry_after_seconds: RETRY_AFTER_SECONDS,
    }
}

/// The answer when a report ran longer than reports may: 429, try a shorter range.
pub fn too_long() -> Error {
    Error::Busy {
        message: "This report took longer than reports may, so it was stopped to keep logging \
                  quick. Try a shorter range of dates, or again in a moment."
            .into(),
        retry_after_seconds: RETRY_AFTER_SECONDS,
    }
}

thread_local! {
    /// When the report running on this thread must have finished.
    static DEADLINE: Cell<Option<Instant>> = const { Cell::new(None) };
}

/// Runs `work` with `deadline` as the report's deadline on this thread.
pub(super) fn with_deadline<T>(deadline: Instant, work: impl FnOnce() -> T) -> T {
    struct Reset;
    impl Drop for Reset {
        fn drop(&mut self) {
            DEADLINE.with(|d| d.set(None));
        }
    }
    DEADLINE.with(|d| d.set(Some(deadline)));
    let _reset = Reset;
    work()
}

/// Runs `work`, a report, on a thread of its own at the lowest CPU priority there is (Linux's
/// `SCHED_IDLE`), and answers what it returns. Such a thread runs only on CPU time nothing
/// else wants, and gives way at once when a request or the writer wakes up: on a server of two
/// CPUs, a report being built no longer delays a Prompt by a scheduler's time slice. A thread
/// is started for each report: the gate keeps them few, and starting one costs microseconds
/// against a report's milliseconds. Where the priority cannot be lowered the report still runs.
pub(super) async fn on_report_thread<T, F>(work: F) -> Result<T>
where
    F: FnOnce() -> Result<T> + Send + 'static,
    T: Send + 'static,
{
    let (reply, answered) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name("report".into())
        .spawn(move || {
            lower_priority();
            // The request may have gone meanwhile; then nobody waits for the answer.
            let _ = reply.send(work());
        })
        .map_err(|e| Error::Internal(format!("starting a report thread: {e}")))?;
    answered
        .await
        .map_err(|_| Error::Internal("the report thread stopped without an answer".into()))?
}

/// Puts the calling thread at the lowest CPU priority (see [`on_report_thread`]).
#[cfg(target_os = "linux")]
fn lower_priority() {
    use thread_priority::unix::{
        set_thread_priority_and_policy, thread_native_id, NormalThreadSchedulePolicy,
        ThreadSchedulePolicy,
    };
    use thread_priority::ThreadPriority;
    let idle = ThreadSchedulePolicy::Normal(NormalThreadSchedulePolicy::Idle);
    if let Err(error) =
        set_thread_priority_and_policy(thread_native_id(), ThreadPriority::Min, idle)
    {
        tracing::debug!("a report runs at the usual CPU priority: {error:?}");
    }
}

/// Other systems keep the usual priority.
#[cfg(not(target_os = "linux"))]
fn lower_priority() {}

/// Stops a report that has run past its time limit (see [`super::Database::report`]). On
/// PostgreSQL the database stops a statement that runs too long by itself; SQLite cannot be
/// told so through diesel (it gives no access to the connection's progress handler), so the
/// reports call this between their queries. Outside a report it does nothing.
pub fn check_time() -> Result<()> {
    let late = DEADLINE.with(|d| d.get().is_some_and(|deadline| Instant::now() > deadline));
    if late {
        Err(too_long())
    } else {
        Ok(())
    }
}

/// Whether an error is PostgreSQL stopping a statement at `statement_timeout`.
pub(super) fn is_statement_timeout(error: &Error) -> bool {
    match error {
        Error::Database(diesel::result::Error::DatabaseError(_, info)) => {
            info.message().contains("statement timeout")
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_school_runs_at_most_its_limit_of_reports_at_once() {
        let gate = Arc::new(ReportGate::default());
        gate.configure(2, Duration::from_secs(5));
        let first = gate.admit(1).unwrap();
        let _second = gate.admit(1).unwrap();
        assert!(matches!(gate.admit(1), Err(Error::Busy { .. })));
        // Another school has places of its own.
        let _other = gate.admit(2).unwrap();
        drop(first);
        assert_eq!(gate.running(1), 1);
        let _third = gate.admit(1).unwrap();
        assert!(gate.admit(1).is_err());
        assert_eq!(busy().status(), 429);
    }

    #[cfg(target_os = "linux")]
    #[actix_web::test]
    async fn a_report_runs_on_a_thread_that_gives_way_to_requests() {
        let policy = on_report_thread(|| {
            thread_priority::unix::thread_schedule_policy()
                .map_err(|e| Error::Internal(format!("{e:?}")))
        })
        .await
        .unwrap();
        assert_eq!(
            policy,
            thread_priority::unix::ThreadSchedulePolicy::Normal(
                thread_priority::unix::NormalThreadSchedulePolicy::Idle
            )
        );
        // The thread the test runs on keeps its priority.
        assert_ne!(
            thread_priority::unix::thread_schedule_policy().ok(),
            Some(policy)
        );
        let failed: Result<()> = on_report_thread(|| Err(busy())).await;
        assert!(matches!(failed, Err(Error::Busy { .. })));
    }

    #[test]
    fn a_report_past_its_deadline_is_stopped() {
        assert!(check_time().is_ok());
        let past = Instant::now() - Duration::from_millis(1);
        assert!(matches!(
            with_deadline(past, check_time),
            Err(Error::Busy { .. })
        ));
        assert!(check_time().is_ok());
    }
}
