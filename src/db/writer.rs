//! Group commit, on both engines. Every write joins a batch: a writer thread takes every
//! write queued meanwhile, runs each in its own savepoint inside one transaction, commits
//! them all at once, and answers the callers only once that commit is on disk (SQLite
//! `synchronous = FULL`, PostgreSQL `synchronous_commit = on`). A write that fails is rolled
//! back to its savepoint alone; the others still commit.
//!
//! - SQLite takes one writer at a time: one thread owns the connection that writes
//!   (`BEGIN IMMEDIATE … COMMIT`), and a checkpointer beside it copies the write-ahead log back.
//! - PostgreSQL takes several writer threads, each borrowing a pooled connection for a batch
//!   ([`Writer::start_postgres`]). Batches that only log run side by side: logging takes its
//!   locks in one order (the API tokens, then the pupils, then the counted rows, each sorted),
//!   so two such batches wait for each other but never deadlock. A batch holding any other
//!   write, whose locks follow no order, runs alone ([`BatchGate`]).

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, RwLock};
use std::time::Duration;

use diesel::connection::{AnsiTransactionManager, SimpleConnection, TransactionManager};
use diesel::Connection;

use super::logging::{self, Caches, LogRequest, Logged};
use super::{DbConnection, Pool};
use crate::error::{Error, Result};

type Manager = <DbConnection as Connection>::TransactionManager;

/// Most writes committed together; more wait for the next commit. Logging requests, most of
/// any batch, cost little more together than one alone ([`logging`]).
const MAX_BATCH: usize = 256;

/// How often the write-ahead log is copied back into the database file, away from the
/// writer so that no request waits for it.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(500);

/// One queued write: its work, then its answer once the batch's fate is known.
trait QueuedWrite: Send {
    /// Runs the work on the writer's connection, inside the open batch; answers whether it
    /// succeeded (and so is to be kept).
    fn run(&mut self, conn: &mut DbConnection) -> bool;
    /// Answers the caller: with the work's own result, or with `batch_failure` when the
    /// batch it belonged to could not be committed.
    fn answer(self: Box<Self>, batch_failure: Option<&Error>);
}

/// A write and the channel its caller waits on.
struct Pending<T, F> {
    work: Option<F>,
    outcome: Option<Result<T>>,
    reply: tokio::sync::oneshot::Sender<Result<T>>,
}

/// The error each write of a failed batch is answered with: the database being away stays
/// "unavailable" (worth retrying), anything else is a fault.
fn batch_error(failure: &Error) -> Error {
    match failure {
        Error::Unavailable(message) => Error::Unavailable(message.clone()),
        Error::Pool(error) => Error::Unavailable(error.to_string()),
        other => Error::Internal(format!("the write could not be committed: {other:?}")),
    }
}

impl<T, F> QueuedWrite for Pending<T, F>
where
    T: Send + 'static,
    F: FnOnce(&mut DbConnection) -> Result<T> + Send + 'static,
{
    fn run(&mut self, conn: &mut DbConnection) -> bool {
        let Some(work) = self.work.take() else {
            return false;
        };
        let outcome = catch_unwind(AssertUnwindSafe(|| work(conn)))
            .unwrap_or_else(|_| Err(Error::Internal("a write panicked".into())));
        let succeeded = outcome.is_ok();
        self.outcome = Some(outcome);
        succeeded
    }

    fn answer(self: Box<Self>, batch_failure: Option<&Error>) {
        settle(self.outcome, batch_failure, self.reply);
    }
}

/// Answers a caller: with the write's own failure, or the batch's, or its value.
fn settle<T>(
    outcome: Option<Result<T>>,
    batch_failure: Option<&Error>,
    reply: tokio::sync::oneshot::Sender<Result<T>>,
) {
    let outcome = match (outcome, batch_failure) {
        (Some(Err(own_error)), _) => Err(own_error),
        (Some(Ok(_)), Some(failure)) | (None, Some(failure)) => Err(batch_error(failure)),
        (Some(Ok(value)), None) => Ok(value),
        (None, None) => Err(Error::Internal("the write was not run".into())),
    };
    // A caller that has gone away (its client hung up) needs no answer: the write stands.
    let _ = reply.send(outcome);
}

/// A request to log an incident, and the channel its caller waits on.
struct PendingLog {
    request: LogRequest,
    outcome: Option<Result<Logged>>,
    reply: tokio::sync::oneshot::Sender<Result<Logged>>,
}

/// What a writer thread is sent: a write of its own, or a request to log an incident.
enum Queued {
    Write(Box<dyn QueuedWrite>),
    Log(Box<PendingLog>),
}

impl Queued {
    fn answer(self, batch_failure: Option<&Error>) {
        match self {
            Queued::Write(write) => write.answer(batch_failure),
            Queued::Log(log) => settle(log.outcome, batch_failure, log.reply),
        }
    }
}

type Queue = mpsc::Sender<Queued>;

/// The handle to the writer threads. The threads (and SQLite's checkpointer) stop when the
/// last handle is dropped.
#[derive(Clone)]
pub struct Writer {
    queues: Arc<Vec<Queue>>,
    next: Arc<AtomicUsize>,
}

impl Writer {
    /// Starts SQLite's one writer on `conn`, and a checkpointer on `checkpoint_conn`.
    pub fn start_sqlite(
        conn: DbConnection,
        checkpoint_conn: DbConnection,
        caches: Caches,
    ) -> std::io::Result<Self> {
        let (queue, queued) = mpsc::channel::<Queued>();
        let (stop_checkpoints, checkpoint_signal) = mpsc::channel::<()>();
        let mut conn = conn;
        std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || {
                write_batches(&queued, MAX_BATCH, |batch| {
                    let failure = commit_batch(&mut conn, batch, &caches).err();
                    if failure.is_some() {
                        // Leave the connection clean for the next batch, whatever its state.
                        let _ = Manager::rollback_transaction(&mut conn);
                    }
                    failure
                });
                drop(stop_checkpoints);
            })?;
        std::thread::Builder::new()
            .name("sqlite-checkpoint".into())
            .spawn(move || checkpoint_until_stopped(checkpoint_conn, &checkpoint_signal))?;
        Ok(Writer {
            queues: Arc::new(vec![queue]),
            next: Arc::new(AtomicUsize::new(0)),
        })
    }

    /// Starts `threads` PostgreSQL writers, each borrowing a connection of `pool` per batch.
    pub(super) fn start_postgres(
        pool: Pool,
        threads: usize,
        caches: Caches,
    ) -> std::io::Result<Self> {
        let mut queues = Vec::new();
        let gate = BatchGate::default();
        for number in 0..threads.max(1) {
            let (queue, queued) = mpsc::channel::<Queued>();
            let pool = pool.clone();
            let caches = caches.clone();
            let gate = gate.clone();
            std::thread::Builder::new()
                .name(format!("postgres-writer-{number}"))
                .spawn(move || {
                    write_batches(&queued, MAX_BATCH, |batch| {
                        gate.run(only_logs(batch), || {
                            let mut conn = match pool.checkout() {
                                Ok(conn) => conn,
                                Err(error) => return Some(error),
                            };
                            let outcome = commit_batch(&mut conn, batch, &caches);
                            if outcome.is_err() {
                                let _ = Manager::rollback_transaction(&mut conn);
                            }
                            pool.after(&mut conn, &outcome);
                            outcome.err()
                        })
                    });
                })?;
            queues.push(queue);
        }
        Ok(Writer {
            queues: Arc::new(queues),
            next: Arc::new(AtomicUsize::new(0)),
        })
    }

    /// Queues `work` for the next batch of any writer and waits until it is committed (or
    /// has failed).
    pub async fn write<T, F>(&self, work: F) -> Result<T>
    where
        F: FnOnce(&mut DbConnection) -> Result<T> + Send + 'static,
        T: Send + 'static,
    {
        let turn = self.next.fetch_add(1, Ordering::Relaxed);
        self.queue_on(turn, work).await
    }

    async fn queue_on<T, F>(&self, slot: usize, work: F) -> Result<T>
    where
        F: FnOnce(&mut DbConnection) -> Result<T> + Send + 'static,
        T: Send + 'static,
    {
        let (reply, answered) = tokio::sync::oneshot::channel();
        let pending = Pending {
            work: Some(work),
            outcome: None,
            reply,
        };
        self.send(slot, Queued::Write(Box::new(pending)), answered)
            .await
    }

    /// Queues a request to log an incident, to be logged together with the others of the
    /// next batch, and waits until it is committed (or has failed).
    pub async fn log(&self, request: LogRequest) -> Result<Logged> {
        let (reply, answered) = tokio::sync::oneshot::channel();
        let pending = PendingLog {
            request,
            outcome: None,
            reply,
        };
        let turn = self.next.fetch_add(1, Ordering::Relaxed);
        self.send(turn, Queued::Log(Box::new(pending)), answered)
            .await
    }

    async fn send<T>(
        &self,
        slot: usize,
        queued: Queued,
        answered: tokio::sync::oneshot::Receiver<Result<T>>,
    ) -> Result<T> {
        let queue = &self.queues[slot % self.queues.len()];
        queue
            .send(queued)
            .map_err(|_| Error::Internal("the database writer has stopped".into()))?;
        answered
            .await
            .map_err(|_| Error::Internal("the database writer dropped a write".into()))?
    }
}

/// Lets the PostgreSQL writers' batches run side by side only when they cannot deadlock: a
/// batch that only logs shares the gate with other such batches, a batch holding any other
/// write has it alone. On Linux the standard library's lock lets a batch waiting to go alone
/// in before any batch that comes after it, so logging cannot starve other writes.
#[derive(Clone, Default)]
struct BatchGate {
    lock: Arc<RwLock<()>>,
}

impl BatchGate {
    /// Runs `commit` once its batch may go: alongside other batches when `only_logs`, else
    /// alone. A panic elsewhere while holding the gate leaves it usable.
    fn run<T>(&self, only_logs: bool, commit: impl FnOnce() -> T) -> T {
        if only_logs {
            let _shared = self
                .lock
                .read()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            commit()
        } else {
            let _alone = self
                .lock
                .write()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            commit()
        }
    }
}

/// Whether every write of `batch` logs an incident.
fn only_logs(batch: &[Queued]) -> bool {
    batch.iter().all(|queued| matches!(queued, Queued::Log(_)))
}

/// A writer thread: waits for writes, takes everything queued (up to `most`) as one batch,
/// has `commit` write it, and answers each caller.
fn write_batches(
    queued: &mpsc::Receiver<Queued>,
    most: usize,
    mut commit: impl FnMut(&mut [Queued]) -> Option<Error>,
) {
    while let Ok(first) = queued.recv() {
        let mut batch = vec![first];
        while batch.len() < most {
            match queued.try_recv() {
                Ok(next) => batch.push(next),
                Err(_) => break,
            }
        }
        let failure = commit(&mut batch);
        for write in batch {
            write.answer(failure.as_ref());
        }
    }
}

/// Logs the batch's incidents together, runs each other write in its own savepoint, then
/// commits them all at once.
fn commit_batch(conn: &mut DbConnection, batch: &mut [Queued], caches: &Caches) -> Result<()> {
    match conn {
        DbConnection::Sqlite(inner) => {
            AnsiTransactionManager::begin_transaction_sql(inner, "BEGIN IMMEDIATE")
        }
        DbConnection::Postgres(_) => Manager::begin_transaction(conn),
    }?;
    let mut logs: Vec<&mut Box<PendingLog>> = Vec::new();
    for queued in batch.iter_mut() {
        match queued {
            Queued::Write(write) => {
                Manager::begin_transaction(conn)?;
                if write.run(conn) {
                    Manager::commit_transaction(conn)
                } else {
                    Manager::rollback_transaction(conn)
                }?;
            }
            Queued::Log(log) => logs.push(log),
        }
    }
    if !logs.is_empty() {
        let requests: Vec<&LogRequest> = logs.iter().map(|log| &log.request).collect();
        let outcomes = catch_unwind(AssertUnwindSafe(|| {
            logging::log_all(conn, &requests, caches)
        }))
        .unwrap_or_else(|_| Err(Error::Internal("logging panicked".into())))?;
        for (log, outcome) in logs.into_iter().zip(outcomes) {
            log.outcome = Some(outcome);
        }
    }
    Ok(Manager::commit_transaction(conn)?)
}

/// Copies the write-ahead log back into the database file every [`CHECKPOINT_EVERY`],
/// without waiting for readers or the writer (a passive checkpoint), until told to stop.
fn checkpoint_until_stopped(mut conn: DbConnection, stop: &mpsc::Receiver<()>) {
    while let Err(mpsc::RecvTimeoutError::Timeout) = stop.recv_timeout(CHECKPOINT_EVERY) {
        if let Err(error) = conn.batch_execute("PRAGMA wal_checkpoint(PASSIVE)") {
            tracing::warn!(%error, "the write-ahead log could not be checkpointed");
        }
    }
}

#[cfg(test)]
mod tests {
    use diesel::prelude::*;
    use diesel::sql_types::BigInt;

    use super::*;
    use crate::db::Database;

    diesel::table! {
        notes (id) {
            id -> BigInt,
        }
    }

    async fn database() -> (tempfile::TempDir, Database) {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("writer.db").display());
        let db = Database::open(&url, 2).unwrap();
        db.write(|conn| {
            conn.batch_execute("CREATE TABLE notes (id BIGINT PRIMARY KEY)")?;
            Ok(())
        })
        .await
        .unwrap();
        (dir, db)
    }

    fn add_note(id: i64) -> impl FnOnce(&mut DbConnection) -> Result<i64> + Send + 'static {
        move |conn| {
            diesel::insert_into(notes::table)
                .values(notes::id.eq(id))
                .execute(conn)?;
            Ok(id)
        }
    }

    async fn stored(db: &Database) -> Vec<i64> {
        db.transaction(|conn| Ok(notes::table.select(notes::id).order(notes::id).load(conn)?))
            .await
            .unwrap()
    }

    #[test]
    fn batches_that_only_log_run_together_and_any_other_runs_alone() {
        let gate = BatchGate::default();
        let (arrived, arrivals) = mpsc::channel::<()>();
        let mut releases = Vec::new();
        let mut logging = Vec::new();
        for _ in 0..2 {
            let (release, released) = mpsc::channel::<()>();
            releases.push(release);
            let (gate, arrived) = (gate.clone(), arrived.clone());
            logging.push(std::thread::spawn(move || {
                gate.run(true, || {
                    arrived.send(()).unwrap();
                    released.recv().unwrap();
                })
            }));
        }
        for _ in 0..2 {
            // Both are inside at once: neither leaves before it is released.
            arrivals.recv_timeout(Duration::from_secs(10)).unwrap();
        }
        let entered = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let other = {
            let (gate, entered) = (gate.clone(), entered.clone());
            std::thread::spawn(move || gate.run(false, || entered.store(true, Ordering::SeqCst)))
        };
        std::thread::sleep(Duration::from_millis(200));
        assert!(
            !entered.load(Ordering::SeqCst),
            "another write went in beside logging"
        );
        for release in releases {
            release.send(()).unwrap();
        }
        for thread in logging {
            thread.join().unwrap();
        }
        other.join().unwrap();
        assert!(entered.load(Ordering::SeqCst));
    }

    #[actix_web::test]
    async fn concurrent_writes_all_commit_and_each_gets_its_own_answer() {
        let (_dir, db) = database().await;
        let writes = (1..=200).map(|id| db.write(add_note(id)));
        let answers = futures::future::join_all(writes).await;
        let answered: Vec<i64> = answers.into_iter().map(Result::unwrap).collect();
        assert_eq!(answered, (1..=200).collect::<Vec<_>>());
        assert_eq!(stored(&db).await, (1..=200).collect::<Vec<_>>());
    }

    #[actix_web::test]
    async fn a_failing_write_is_undone_alone() {
        let (_dir, db) = database().await;
        let half_done = |conn: &mut DbConnection| -> Result<i64> {
            add_note(10)(conn)?;
            Err(Error::bad_request("changed its mind"))
        };
        let (first, failed, duplicate, last) = futures::join!(
            db.write(add_note(1)),
            db.write(half_done),
            db.write(add_note(1)),
            db.write(add_note(2)),
        );
        assert_eq!(first.unwrap(), 1);
        assert!(matches!(failed, Err(Error::Invalid { .. })));
        assert!(matches!(duplicate, Err(Error::Database(_))));
        assert_eq!(last.unwrap(), 2);
        assert_eq!(stored(&db).await, vec![1, 2]);
    }

    #[actix_web::test]
    async fn a_panicking_write_answers_an_error_and_the_writer_goes_on() {
        let (_dir, db) = database().await;
        let panics = |conn: &mut DbConnection| -> Result<i64> {
            add_note(5)(conn)?;
            panic!("a bug in one write");
        };
        let (panicked, kept) = futures::join!(db.write(panics), db.write(add_note(6)));
        assert!(matches!(panicked, Err(Error::Internal(_))));
        assert_eq!(kept.unwrap(), 6);
        assert_eq!(db.write(add_note(7)).await.unwrap(), 7);
        assert_eq!(stored(&db).await, vec![6, 7]);
    }

    #[actix_web::test]
    async fn writes_are_durable_by_default() {
        let (_dir, db) = database().await;
        let synchronous: i64 = db
            .transaction(|conn| {
                #[derive(QueryableByName)]
                struct Setting {
                    #[diesel(sql_type = BigInt)]
                    synchronous: i64,
                }
                Ok(diesel::sql_query("PRAGMA synchronous")
                    .get_result::<Setting>(conn)?
                    .synchronous)
            })
            .await
            .unwrap();
        assert_eq!(synchronous, 2, "synchronous = FULL");
    }
}
