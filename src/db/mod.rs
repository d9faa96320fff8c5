//! Storage: one codebase over SQLite (embedded, the default) and PostgreSQL, chosen by the
//! scheme of `DATABASE_URL`. Each submodule holds the queries of one aggregate.

/// Runs `$body` with `$c` bound to the connection of whichever engine `$conn` holds: for the
/// statements that both engines speak but the two-engine connection cannot run (multi-row
/// inserts, upserts).
macro_rules! on_each_engine {
    ($conn:expr, |$c:ident| $body:expr) => {
        match $conn {
            $crate::db::DbConnection::Sqlite($c) => $body,
            $crate::db::DbConnection::Postgres($c) => $body,
        }
    };
}
pub(crate) use on_each_engine;

pub mod account_links;
pub mod audit;
pub mod behaviours;
pub mod calendar;
pub mod consistency;
pub mod contacts;
pub mod conversations;
pub mod decisions;
pub mod evaluation;
pub mod family;
pub mod history;
pub mod houses;
pub mod idempotency;
pub mod inbox;
pub mod incidents;
pub mod insight;
pub mod logging;
pub mod meetings;
pub mod models;
pub mod notices;
pub mod outbox;
pub mod overview;
pub mod pastoral;
pub mod plans;
pub mod policies;
pub mod policy_preview;
pub mod programmes;
pub mod provision;
pub mod pupils;
pub mod reports;
pub mod retention;
pub mod roster;
pub mod schema;
pub mod schools;
pub mod second_factor;
pub mod setup;
pub mod sign_in;
pub mod sso;
pub mod staff;
pub mod staff_roster;
pub mod subject_access;
pub mod teaching_groups;
pub mod timeline;
pub mod timetable;
pub mod tokens;
pub mod writer;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::r2d2::{self, ManageConnection};
use diesel::{Connection, PgConnection, SqliteConnection};
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

use crate::error::{Error, Result};

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// A connection to either engine. Queries written once run on both.
#[derive(diesel::MultiConnection)]
pub enum DbConnection {
    Postgres(PgConnection),
    Sqlite(SqliteConnection),
}

/// Which engine a database URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

impl Engine {
    /// The engine's name as reported by `/health`.
    pub fn as_str(self) -> &'static str {
        match self {
            Engine::Sqlite => "sqlite",
            Engine::Postgres => "postgres",
        }
    }
}

/// A parsed `DATABASE_URL`: a PostgreSQL URL, or the path of a SQLite file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseTarget {
    Postgres(String),
    Sqlite(PathBuf),
}

impl DatabaseTarget {
    /// Reads `postgres://...`/`postgresql://...`, `sqlite://PATH`, `sqlite:PATH` or a plain path.
    pub fn parse(url: &str) -> Result<Self> {
        let url = url.trim();
        if url.is_empty() {
            return Err(Error::bad_request("DATABASE_URL is empty"));
        }
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(DatabaseTarget::Postgres(url.to_string()));
        }
        let path = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
            .unwrap_or(url);
        if path.is_empty() || path.contains("://") {
            return Err(Error::bad_request(format!(
                "DATABASE_URL must be sqlite://PATH, a file path or postgres://..., got {url:?}"
            )));
        }
        Ok(DatabaseTarget::Sqlite(PathBuf::from(path)))
    }

    /// The engine this target runs on.
    pub fn engine(&self) -> Engine {
        match self {
            DatabaseTarget::Postgres(_) => Engine::Postgres,
            DatabaseTarget::Sqlite(_) => Engine::Sqlite,
        }
    }

    /// Opens one connection, outside the pool, set up as the pool's are.
    pub fn connect(&self) -> std::result::Result<DbConnection, diesel::ConnectionError> {
        match self {
            DatabaseTarget::Postgres(url) => {
                Ok(DbConnection::Postgres(PgConnection::establish(url)?))
            }
            DatabaseTarget::Sqlite(path) => {
                let mut conn = SqliteConnection::establish(&path.to_string_lossy())?;
                // The busy timeout makes concurrent writers wait their turn instead of failing;
                // WAL (set once per file, in `Database::open`) lets readers work meanwhile.
                // `synchronous = FULL` waits for the disk at each commit, so a write that was
                // acknowledged survives a power cut; group commit (see `writer`) pays that
                // wait once for many writes.
                conn.batch_execute(
                    "PRAGMA busy_timeout = 10000; PRAGMA synchronous = FULL; \
                     PRAGMA foreign_keys = ON; PRAGMA cache_size = -32768; \
                     PRAGMA mmap_size = 268435456; PRAGMA temp_store = MEMORY;",
                )
                .map_err(diesel::ConnectionError::CouldntSetupConfiguration)?;
                pupils::register_unicode_lower(&mut conn)
                    .map_err(diesel::ConnectionError::CouldntSetupConfiguration)?;
                Ok(DbConnection::Sqlite(conn))
            }
        }
    }
}

/// How many threads write on PostgreSQL, each committing batches on a connection of its own.
/// Two logged 28% more than one at 64 clients on a 2-CPU machine (2026-12-07); three logged
/// less than two, the CPUs being full.
const POSTGRES_WRITERS: usize = 2;

/// How long a request waits for a pooled connection while the database answers.
const CHECKOUT_TIMEOUT: Duration = Duration::from_secs(5);

/// How long a request waits for a connection while the last attempt to connect failed: the
/// database is down, so the request is answered "unavailable" at once rather than left hanging.
const UNREACHABLE_CHECKOUT_TIMEOUT: Duration = Duration::from_millis(500);

/// Opens connections of the configured engine for the pool, noting whether the last
/// attempt reached the database.
pub struct ConnectionManager {
    target: DatabaseTarget,
    reachable: Arc<AtomicBool>,
}

impl ManageConnection for ConnectionManager {
    type Connection = DbConnection;
    type Error = r2d2::Error;

    fn connect(&self) -> std::result::Result<DbConnection, r2d2::Error> {
        let connected = self.target.connect();
        self.reachable.store(connected.is_ok(), Ordering::Relaxed);
        connected.map_err(r2d2::Error::ConnectionError)
    }

    fn is_valid(&self, conn: &mut DbConnection) -> std::result::Result<(), r2d2::Error> {
        conn.batch_execute("SELECT 1")
            .map_err(r2d2::Error::QueryError)
    }

    /// A connection left in a transaction, or marked broken after it lost the database
    /// (see [`mark_broken`]), is closed rather than handed out again.
    fn has_broken(&self, conn: &mut DbConnection) -> bool {
        diesel::r2d2::R2D2Connection::is_broken(conn)
    }
}

/// A connection lent by the pool.
pub type PooledConnection = r2d2::PooledConnection<ConnectionManager>;

/// The connection pool, and what it has learnt about the database being reachable.
#[derive(Clone)]
struct Pool {
    pool: r2d2::Pool<ConnectionManager>,
    /// Whether the pool's last attempt to connect reached the database.
    reachable: Arc<AtomicBool>,
    /// How many times a connection was found to have lost the database. A connection not
    /// checked since the latest loss may be dead too: it is checked before it is lent.
    losses: Arc<AtomicU64>,
}

/// Kept with each pooled connection: the count of losses when it last answered.
struct CheckedAfter(u64);

impl Pool {
    /// A connection: waits up to [`CHECKOUT_TIMEOUT`] for one, or only
    /// [`UNREACHABLE_CHECKOUT_TIMEOUT`] while the database cannot be reached. After the
    /// database was lost, each idle connection is checked once (`SELECT 1`) and closed if
    /// it is dead, so that no request meets one once the database is back.
    fn checkout(&self) -> Result<PooledConnection> {
        let losses = self.losses.load(Ordering::Relaxed);
        let mut tries = self.pool.max_size() + 1;
        loop {
            let wait = if self.reachable.load(Ordering::Relaxed) {
                CHECKOUT_TIMEOUT
            } else {
                UNREACHABLE_CHECKOUT_TIMEOUT
            };
            let mut conn = self.pool.get_timeout(wait)?;
            let checked = r2d2::PooledConnection::extensions(&conn)
                .get::<CheckedAfter>()
                .map_or(0, |c| c.0);
            if checked >= losses {
                return Ok(conn);
            }
            match conn.batch_execute("SELECT 1") {
                Ok(()) => {
                    r2d2::PooledConnection::extensions_mut(&mut conn).insert(CheckedAfter(losses));
                    return Ok(conn);
                }
                Err(error) => {
                    let error = Error::from(error);
                    mark_broken(&mut conn);
                    tries -= 1;
                    if tries == 0 {
                        return Err(error);
                    }
                }
            }
        }
    }

    /// Notes how a piece of work on `conn` ended: a connection that lost the database is
    /// marked broken (the pool then closes it) and the other idle ones are to be checked.
    fn after<T>(&self, conn: &mut PooledConnection, outcome: &Result<T>) {
        if matches!(outcome, Err(Error::Unavailable(_))) {
            mark_broken(conn);
            self.losses.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Marks a connection broken: [`ConnectionManager::has_broken`] then tells the pool to
/// close it rather than lend it again.
fn mark_broken(conn: &mut DbConnection) {
    use diesel::connection::TransactionManager;
    type Manager = <DbConnection as Connection>::TransactionManager;
    Manager::transaction_manager_status_mut(conn).set_in_error();
}

/// The shared handle to the database: a connection pool and the engine behind it.
#[derive(Clone)]
pub struct Database {
    pool: Pool,
    engine: Engine,
    /// The threads that write, committing concurrent writes together (see [`writer`]).
    writer: writer::Writer,
    rules: evaluation::RulesCache,
    histories: evaluation::HistoryCache,
    members: staff::MemberCache,
    /// A small pool of its own for reports, so they never hold the connections logging needs.
    report_pool: Pool,
    /// How many reports of each school run now, and the limits they run under.
    reports: Arc<reports::ReportGate>,
}

impl Database {
    /// Connects to `url`, creating the SQLite file's folder when needed, and runs migrations.
    pub fn open(url: &str, pool_size: u32) -> anyhow::Result<Self> {
        let target = DatabaseTarget::parse(url)?;
        if let DatabaseTarget::Sqlite(path) = &target {
            if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                std::fs::create_dir_all(parent)?;
            }
        }
        let caches = logging::Caches::default();
        let sqlite_writer = match &target {
            DatabaseTarget::Sqlite(_) => {
                // Write-ahead logging is a property of the file: set it before the pool opens
                // its connections, which would otherwise race to set it.
                let mut conn = target.connect()?;
                conn.batch_execute("PRAGMA journal_mode = WAL; PRAGMA wal_autocheckpoint = 0")?;
                Some(writer::Writer::start_sqlite(
                    conn,
                    target.connect()?,
                    caches.clone(),
                )?)
            }
            DatabaseTarget::Postgres(_) => None,
        };
        let engine = target.engine();
        let reachable = Arc::new(AtomicBool::new(true));
        let pool = r2d2::Pool::builder()
            .max_size(pool_size.max(1))
            // Also paces the pool's attempts to reconnect: at most every half of it.
            .connection_timeout(CHECKOUT_TIMEOUT)
            // Broken connections surface on use (and are then closed, see `mark_if_lost`);
            // a ping on every checkout would cost a round trip.
            .test_on_check_out(false)
            .build(ConnectionManager {
                target: target.clone(),
                reachable: reachable.clone(),
            })?;
        let pool = Pool {
            pool,
            reachable,
            losses: Arc::new(AtomicU64::new(0)),
        };
        let writer = match sqlite_writer {
            Some(writer) => writer,
            // Batches of logging run side by side; any other write runs alone (see `writer`).
            None => writer::Writer::start_postgres(pool.clone(), POSTGRES_WRITERS, caches.clone())?,
        };
        let report_reachable = Arc::new(AtomicBool::new(true));
        // Opened on first use: most instances serve reports now and then.
        let report_pool = r2d2::Pool::builder()
            .max_size(reports::REPORT_POOL_SIZE)
            .min_idle(Some(0))
            .connection_timeout(reports::REPORT_CHECKOUT_TIMEOUT)
            .test_on_check_out(false)
            .build_unchecked(ConnectionManager {
                target: target.clone(),
                reachable: report_reachable.clone(),
            });
        let database = Database {
            pool,
            report_pool: Pool {
                pool: report_pool,
                reachable: report_reachable,
                losses: Arc::new(AtomicU64::new(0)),
            },
            reports: Arc::new(reports::ReportGate::default()),
            engine,
            writer,
            rules: caches.rules,
            histories: caches.histories,
            members: staff::MemberCache::default(),
        };
        let mut conn = database.pool.checkout()?;
        run_migrations(&mut conn)?;
        Ok(database)
    }

    /// The schools' escalation rules, kept briefly for the hot paths.
    pub fn rules(&self) -> evaluation::RulesCache {
        self.rules.clone()
    }

    /// Pupils' recent histories, kept for the escalation rules while their stamps stand.
    pub fn histories(&self) -> evaluation::HistoryCache {
        self.histories.clone()
    }

    /// Staff members, kept briefly for authenticating API requests.
    pub fn members(&self) -> staff::MemberCache {
        self.members.clone()
    }

    /// The engine in use.
    pub fn engine(&self) -> Engine {
        self.engine
    }

    /// A connection from the pool, for blocking code (commands, jobs, tests).
    pub fn connection(&self) -> Result<PooledConnection> {
        self.pool.checkout()
    }

    /// Runs `work`, which only reads, in one transaction on a worker thread.
    pub async fn transaction<T, F>(&self, work: F) -> Result<T>
    where
        F: FnOnce(&mut DbConnection) -> Result<T> + Send + 'static,
        T: Send + 'static,
    {
        let pool = self.pool.clone();
        actix_web::rt::task::spawn_blocking(move || {
            let mut conn = pool.checkout()?;
            let outcome = DbConnection::transaction(&mut conn, work);
            pool.after(&mut conn, &outcome);
            outcome
        })
        .await
        .map_err(|e| Error::Internal(format!("database task failed: {e}")))?
    }

    /// The gate reports pass: set its limits with [`reports::ReportGate::configure`].
    pub fn reports(&self) -> &Arc<reports::ReportGate> {
        &self.reports
    }

    /// Runs `work`, a report of school `school_id` that only reads, in one transaction: the
    /// way every report reads (the insight pages and their CSV downloads, the ladder and the
    /// impact report, the whole-school provision map, the insight API). So that reports never
    /// starve logging:
    /// - at most [`reports::ReportGate::per_school`] reports of one school run at once
    ///   (`reports_per_school`, 1 by default); one more is answered [`Error::Busy`] (429 with
    ///   `Retry-After`, a "try again in a moment" page) at once, without waiting;
    /// - reports run on a small pool of their own ([`reports::REPORT_POOL_SIZE`] connections),
    ///   never on the pool that logging and the other pages use; when every report connection
    ///   stays busy (other schools' reports), the report is answered busy too, never 503;
    /// - each runs within a time limit (`report_time_limit_seconds`): on PostgreSQL by
    ///   `SET LOCAL statement_timeout`, on SQLite by [`reports::check_time`] between the
    ///   report's queries (diesel gives no access to SQLite's progress handler). A report
    ///   stopped for its time is answered busy as well, with a word to try a shorter range.
    pub async fn report<T, F>(&self, school_id: i64, work: F) -> Result<T>
    where
        F: FnOnce(&mut DbConnection) -> Result<T> + Send + 'static,
        T: Send + 'static,
    {
        let permit = self.reports.admit(school_id)?;
        let pool = self.report_pool.clone();
        let limit = self.reports.time_limit();
        reports::on_report_thread(move || {
            let _permit = permit;
            let mut conn = pool.checkout().map_err(|error| match error {
                Error::Pool(_) if pool.reachable.load(Ordering::Relaxed) => reports::busy(),
                other => other,
            })?;
            let deadline = std::time::Instant::now() + limit;
            let outcome = reports::with_deadline(deadline, || {
                DbConnection::transaction(&mut conn, |conn| {
                    if let DbConnection::Postgres(pg) = conn {
                        pg.batch_execute(&format!(
                            "SET LOCAL statement_timeout = {}",
                            limit.as_millis()
                        ))?;
                    }
                    work(conn)
                })
            });
            pool.after(&mut conn, &outcome);
            outcome.map_err(|error| {
                if reports::is_statement_timeout(&error) {
                    reports::too_long()
                } else {
                    error
                }
            })
        })
        .await
    }

    /// Runs `work`, which writes, in one transaction: it all happens, or none of it does.
    /// It joins a writer's next group commit (see [`writer`]): its own savepoint in a
    /// transaction shared with the writes queued meanwhile, answered once that is on disk.
    pub async fn write<T, F>(&self, work: F) -> Result<T>
    where
        F: FnOnce(&mut DbConnection) -> Result<T> + Send + 'static,
        T: Send + 'static,
    {
        self.writer.write(work).await
    }

    /// Logs an incident: the request joins the writer's next group commit, logged together
    /// with the other logging requests of the batch (see [`logging`]), and is answered once
    /// that is on disk. The pupils' histories it leaves are kept for the rules.
    pub async fn log(&self, request: logging::LogRequest) -> Result<idempotency::StoredAnswer> {
        let logged = self.writer.log(request).await?;
        self.histories.keep(logged.histories);
        Ok(logged.answer)
    }
}

/// Runs `work` in one transaction that writes. On SQLite it starts with `BEGIN IMMEDIATE`,
/// taking the write lock up front: a deferred transaction that reads and then writes fails
/// with "database is locked" when another connection wrote meanwhile (the busy timeout does
/// not cover that upgrade). On PostgreSQL it is a plain `BEGIN`.
pub fn write_transaction<T>(
    conn: &mut DbConnection,
    work: impl FnOnce(&mut DbConnection) -> Result<T>,
) -> Result<T> {
    use diesel::connection::{AnsiTransactionManager, TransactionManager};
    type Manager = <DbConnection as Connection>::TransactionManager;
    match conn {
        DbConnection::Sqlite(inner) => {
            AnsiTransactionManager::begin_transaction_sql(inner, "BEGIN IMMEDIATE")?
        }
        DbConnection::Postgres(_) => Manager::begin_transaction(conn)?,
    }
    match work(conn) {
        Ok(value) => {
            Manager::commit_transaction(conn)?;
            Ok(value)
        }
        Err(error) => {
            Manager::rollback_transaction(conn)?;
            Err(error)
        }
    }
}

/// Runs an insert in a savepoint, treating a clash with a unique index as "already there":
/// for rows created on first use, which another transaction may create at the same moment.
pub fn insert_unless_present(
    conn: &mut DbConnection,
    insert: impl FnOnce(&mut DbConnection) -> diesel::QueryResult<usize>,
) -> Result<()> {
    match conn.transaction(insert) {
        Ok(_)
        | Err(diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::UniqueViolation,
            _,
        )) => Ok(()),
        Err(other) => Err(other.into()),
    }
}

/// Applies the pending migrations of the connection's engine. On PostgreSQL an advisory lock
/// lets several instances start at once.
pub fn run_migrations(conn: &mut DbConnection) -> anyhow::Result<()> {
    let locked = match conn {
        DbConnection::Sqlite(c) => {
            c.run_pending_migrations(SQLITE_MIGRATIONS)
                .map_err(|e| anyhow::anyhow!("migrations failed: {e}"))?;
            false
        }
        DbConnection::Postgres(c) => {
            c.batch_execute("SELECT pg_advisory_lock(7261001)")?;
            let outcome = c
                .run_pending_migrations(POSTGRES_MIGRATIONS)
                .map(|_| ())
                .map_err(|e| anyhow::anyhow!("migrations failed: {e}"));
            if let Err(error) = outcome {
                c.batch_execute("SELECT pg_advisory_unlock(7261001)")?;
                return Err(error);
            }
            true
        }
    };
    // Data kept alongside the records is filled in once, still under the lock on PostgreSQL.
    let filled = write_transaction(conn, |conn| {
        insight::fill_daily_counts_if_missing(conn)?;
        insight::fill_groupings_if_missing(conn)
    })
    .map_err(|e| anyhow::anyhow!("filling the daily incident counts failed: {e}"));
    if let (true, DbConnection::Postgres(c)) = (locked, &mut *conn) {
        c.batch_execute("SELECT pg_advisory_unlock(7261001)")?;
    }
    filled
}

/// The versions of the migrations built in for the connection's engine.
pub fn embedded_migration_versions(conn: &DbConnection) -> anyhow::Result<Vec<String>> {
    use diesel::migration::MigrationSource;
    let versions = match conn {
        DbConnection::Sqlite(_) => {
            MigrationSource::<diesel::sqlite::Sqlite>::migrations(&SQLITE_MIGRATIONS)
                .map(|all| all.iter().map(|m| m.name().version().to_string()).collect())
        }
        DbConnection::Postgres(_) => {
            MigrationSource::<diesel::pg::Pg>::migrations(&POSTGRES_MIGRATIONS)
                .map(|all| all.iter().map(|m| m.name().version().to_string()).collect())
        }
    };
    versions.map_err(|e| anyhow::anyhow!("reading the built-in migrations: {e}"))
}

/// The current time as stored in the database (UTC, without offset).
pub fn to_db_time(instant: chrono::DateTime<chrono::Utc>) -> chrono::NaiveDateTime {
    instant.naive_utc()
}

/// A stored time read back as UTC.
pub fn from_db_time(stored: chrono::NaiveDateTime) -> chrono::DateTime<chrono::Utc> {
    stored.and_utc()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_urls_choose_the_engine() {
        assert_eq!(
            DatabaseTarget::parse("sqlite://data/steadfast.db").unwrap(),
            DatabaseTarget::Sqlite("data/steadfast.db".into())
        );
        assert_eq!(
            DatabaseTarget::parse("sqlite:///var/lib/s.db").unwrap(),
            DatabaseTarget::Sqlite("/var/lib/s.db".into())
        );
        assert_eq!(
            DatabaseTarget::parse("school.db").unwrap(),
            DatabaseTarget::Sqlite("school.db".into())
        );
        assert_eq!(
            DatabaseTarget::parse("postgres://u@localhost/s")
                .unwrap()
                .engine(),
            Engine::Postgres
        );
        assert!(DatabaseTarget::parse("mysql://x").is_err());
        assert!(DatabaseTarget::parse("").is_err());
    }
}
