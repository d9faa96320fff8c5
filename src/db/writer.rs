//! Group commit for SQLite. SQLite takes one writer at a time, and with `synchronous = FULL`
//! every commit waits for the disk. So one thread owns the connection that writes: it takes
//! every write queued meanwhile, runs each in its own savepoint inside one
//! `BEGIN IMMEDIATE … COMMIT`, and answers the callers only once that commit is on disk.
//! A write that fails is rolled back to its savepoint alone; the others still commit.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc;
use std::time::Duration;

use diesel::connection::{AnsiTransactionManager, SimpleConnection, TransactionManager};
use diesel::Connection;

use super::DbConnection;
use crate::error::{Error, Result};

type Manager = <DbConnection as Connection>::TransactionManager;

/// Most writes committed together; more wait for the next commit.
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
    fn answer(self: Box<Self>, batch_failure: Option<&str>);
}

/// A write and the channel its caller waits on.
struct Pending<T, F> {
    work: Option<F>,
    outcome: Option<Result<T>>,
    reply: tokio::sync::oneshot::Sender<Result<T>>,
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

    fn answer(self: Box<Self>, batch_failure: Option<&str>) {
        let outcome = match (self.outcome, batch_failure) {
            (Some(Err(own_error)), _) => Err(own_error),
            (Some(Ok(_)), Some(failure)) | (None, Some(failure)) => Err(Error::Internal(format!(
                "the write could not be committed: {failure}"
            ))),
            (Some(Ok(value)), None) => Ok(value),
            (None, None) => Err(Error::Internal("the write was not run".into())),
        };
        // A caller that has gone away (its client hung up) needs no answer: the write stands.
        let _ = self.reply.send(outcome);
    }
}

/// The handle to the writer thread. The thread, and the checkpointer beside it, stop when
/// the last handle is dropped.
#[derive(Clone)]
pub struct SqliteWriter {
    queue: mpsc::Sender<Box<dyn QueuedWrite>>,
}

impl SqliteWriter {
    /// Starts the writer on `conn`, and a checkpointer on `checkpoint_conn`.
    pub fn start(conn: DbConnection, checkpoint_conn: DbConnection) -> std::io::Result<Self> {
        let (queue, queued) = mpsc::channel::<Box<dyn QueuedWrite>>();
        let (stop_checkpoints, checkpoint_signal) = mpsc::channel::<()>();
        std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || {
                write_batches(conn, &queued);
                drop(stop_checkpoints);
            })?;
        std::thread::Builder::new()
            .name("sqlite-checkpoint".into())
            .spawn(move || checkpoint_until_stopped(checkpoint_conn, &checkpoint_signal))?;
        Ok(SqliteWriter { queue })
    }

    /// Queues `work` for the next batch and waits until it is committed (or has failed).
    pub async fn write<T, F>(&self, work: F) -> Result<T>
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
        self.queue
            .send(Box::new(pending))
            .map_err(|_| Error::Internal("the database writer has stopped".into()))?;
        answered
            .await
            .map_err(|_| Error::Internal("the database writer dropped a write".into()))?
    }
}

/// The writer thread: waits for writes, then commits everything queued as one batch.
fn write_batches(mut conn: DbConnection, queued: &mpsc::Receiver<Box<dyn QueuedWrite>>) {
    while let Ok(first) = queued.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match queued.try_recv() {
                Ok(next) => batch.push(next),
                Err(_) => break,
            }
        }
        let failure = commit_batch(&mut conn, &mut batch).err();
        if failure.is_some() {
            // Leave the connection clean for the next batch, whatever state it was left in.
            let _ = Manager::rollback_transaction(&mut conn);
        }
        for write in batch {
            write.answer(failure.as_deref());
        }
    }
}

/// Runs each write of the batch in its own savepoint, then commits them all at once.
fn commit_batch(
    conn: &mut DbConnection,
    batch: &mut [Box<dyn QueuedWrite>],
) -> std::result::Result<(), String> {
    match conn {
        DbConnection::Sqlite(inner) => {
            AnsiTransactionManager::begin_transaction_sql(inner, "BEGIN IMMEDIATE")
        }
        DbConnection::Postgres(_) => Manager::begin_transaction(conn),
    }
    .map_err(|e| e.to_string())?;
    for write in batch.iter_mut() {
        Manager::begin_transaction(conn).map_err(|e| e.to_string())?;
        if write.run(conn) {
            Manager::commit_transaction(conn)
        } else {
            Manager::rollback_transaction(conn)
        }
        .map_err(|e| e.to_string())?;
    }
    Manager::commit_transaction(conn).map_err(|e| e.to_string())
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
