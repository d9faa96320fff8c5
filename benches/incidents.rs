//! Throughput and latency of `POST /api/v1/incidents`, on the embedded SQLite default or on
//! PostgreSQL, next to bare baselines measured in the same run on the same machine:
//!
//! - **A**: actix-web answering a fixed string;
//! - **B**: actix-web doing one plain insert per request on the same engine, committed durably
//!   (SQLite: one connection behind a mutex, WAL and `synchronous = FULL`; PostgreSQL: a pool
//!   of as many connections as Steadfast's, `synchronous_commit = on`): the baseline the
//!   targets are set against;
//! - **B'**: the same without waiting for the disk at commit (SQLite `synchronous = NORMAL`,
//!   PostgreSQL `synchronous_commit = off`), to show what group commit buys back;
//! - **Steadfast**: the real service over the demo school, with a class-staff API token, at
//!   its default durability (SQLite `synchronous = FULL`, PostgreSQL `synchronous_commit = on`).
//!
//! Each target gets a warm-up, then a fixed window at 1, 16 and 64 keep-alive connections from
//! a load generator in this process; the whole set is repeated three times and medians are
//! printed. A closing pass re-runs Steadfast with every SQL statement timed, to show where the
//! time goes. It prints; it never fails the build.
//!
//! How to run (each is one command):
//!
//! - SQLite: `cargo bench --bench incidents`
//! - PostgreSQL: `BENCH_ENGINE=postgres cargo bench --bench incidents`. The bench starts its own
//!   throwaway PostgreSQL cluster (the newest `/usr/lib/postgresql/*/bin`, or `BENCH_PG_BIN`) in
//!   the target folder, durable (`fsync = on`, `synchronous_commit = on`), on a free loopback
//!   port, as the `postgres` user when run as root, and removes it at the end.
//!   `BENCH_PG_OPTIONS="-c commit_delay=100 -c commit_siblings=5"` adds server settings.
//! - History growth: `BENCH_HISTORY=10000,10000000 cargo bench --bench incidents` (and with
//!   `BENCH_ENGINE=postgres`): one database per size, filled with that many incidents in all
//!   (bulk SQL: further schools of 1,200 pupils each, about 167 incidents per pupil over three
//!   years), then Steadfast on each at 64 connections, interleaved, with the ratio of the rates.
//!
//! Other settings: `BENCH_SECS` (measured window per run, default 5), `BENCH_WARMUP_SECS`
//! (default 1), `BENCH_CLIENTS` (default `1,16,64`), `BENCH_PROFILE=0` to skip the SQL profile,
//! `BENCH_ONLY=steadfast` to measure the service alone (for `perf record -p`), `BENCH_POOL_SIZE`
//! (Steadfast's connections, and B's on PostgreSQL; default: Steadfast's configured `pool_size`).
//!
//! The machine may be shared: each run prints the share of CPU time other processes used during
//! its window ("other CPU"); figures taken while it is high are disturbed.

use std::collections::HashMap;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use actix_web::dev::ServerHandle;
use actix_web::{web, App, HttpResponse, HttpServer};
use anyhow::{anyhow, bail, Context};
use bytes::Bytes;
use chrono::Utc;
use diesel::connection::{Instrumentation, InstrumentationEvent, SimpleConnection};
use diesel::prelude::*;
use diesel::r2d2::{ConnectionManager as PlainManager, Pool};
use diesel::sql_types::{Integer, Text};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use steadfast::config::Settings;
use steadfast::db::schema::{forms, incidents, pupils, schools, staff as staff_table, year_groups};
use steadfast::db::{schools as school_records, staff, Database, DbConnection, Engine};
use steadfast::demo::load::{load_demo, DemoOutcome};
use steadfast::web::{self as service, AppState};

/// Concurrent keep-alive connections of the history-growth runs (and the SQL profile).
const CONNECTIONS: usize = 64;
/// Client counts measured by default.
const DEFAULT_CLIENTS: [usize; 3] = [1, 16, 64];
/// Measurements of each target; medians are reported.
const REPEATS: usize = 3;
/// The API path; the baselines listen on the same path and receive the same bytes.
const PATH: &str = "/api/v1/incidents";
/// Upper bounds that keep every loop finite whatever the settings.
const MAX_WINDOW_SECS: u64 = 30;
const MAX_CLIENTS: usize = 512;
const MAX_HISTORY: i64 = 50_000_000;
const MAX_REQUESTS_PER_CONNECTION: u64 = 5_000_000;
const MAX_RECONNECTS_PER_CONNECTION: u32 = 100;
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// The demo school's class-staff login.
const CLASS_STAFF_EMAIL: &str = "teacher@demo.example";
/// Targets of issue 8: share of baseline B's requests per second; most the rate may fall
/// between 10,000 and 10,000,000 incidents of history.
const TARGET_SHARE_OF_B: f64 = 0.40;
/// Target of issue 19: Steadfast, durable, as a share of the baseline that does not wait for
/// the disk (B').
const TARGET_SHARE_OF_B_NO_WAIT: f64 = 0.40;
const TARGET_HISTORY_DROP: f64 = 0.20;

fn main() -> anyhow::Result<()> {
    let plan = Plan::from_env()?;
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cpus)
        .enable_all()
        .build()?;
    runtime.block_on(run(plan, cpus))
}

/// What to measure, read from the environment.
struct Plan {
    engine: Engine,
    window: Duration,
    warmup: Duration,
    profile: bool,
    /// Whether the baselines run (`BENCH_ONLY=steadfast` skips them).
    baselines: bool,
    clients: Vec<usize>,
    /// Incidents in the database for the history-growth runs; empty for the client sweep.
    history: Vec<i64>,
}

impl Plan {
    fn from_env() -> anyhow::Result<Plan> {
        let engine = match env_text("BENCH_ENGINE").as_deref() {
            None | Some("sqlite") => Engine::Sqlite,
            Some("postgres") | Some("postgresql") => Engine::Postgres,
            Some(other) => bail!("BENCH_ENGINE must be sqlite or postgres, not {other:?}"),
        };
        let clients = match env_text("BENCH_CLIENTS") {
            Some(list) => numbers(&list)?
                .into_iter()
                .map(|n| usize::try_from(n.clamp(1, MAX_CLIENTS as i64)).unwrap_or(1))
                .collect(),
            None => DEFAULT_CLIENTS.to_vec(),
        };
        let history = match env_text("BENCH_HISTORY") {
            Some(list) => numbers(&list)?
                .into_iter()
                .map(|n| n.clamp(0, MAX_HISTORY))
                .collect(),
            None => Vec::new(),
        };
        Ok(Plan {
            engine,
            window: Duration::from_secs(env_secs("BENCH_SECS", 5)),
            warmup: Duration::from_secs(env_secs("BENCH_WARMUP_SECS", 1)),
            profile: env_text("BENCH_PROFILE").is_none_or(|v| v != "0"),
            baselines: env_text("BENCH_ONLY").is_none_or(|v| v != "steadfast"),
            clients,
            history,
        })
    }
}

fn env_text(name: &str) -> Option<String> {
    std::env::var(name)
        .ok()
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

/// Reads "10000,10000000" (underscores allowed).
fn numbers(list: &str) -> anyhow::Result<Vec<i64>> {
    list.split(',')
        .map(|n| {
            n.trim()
                .replace('_', "")
                .parse::<i64>()
                .with_context(|| format!("not a number: {n:?}"))
        })
        .collect()
}

/// Steadfast's pool of database connections, and baseline B's on PostgreSQL: the configured
/// default, or `BENCH_POOL_SIZE`.
fn pool_size() -> anyhow::Result<u32> {
    let configured = Settings::defaults()?.pool_size;
    Ok(env_text("BENCH_POOL_SIZE")
        .and_then(|v| v.parse().ok())
        .unwrap_or(configured)
        .clamp(1, 256))
}

fn env_secs(name: &str, default: u64) -> u64 {
    env_text(name)
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
        .clamp(1, MAX_WINDOW_SECS)
}

async fn run(plan: Plan, cpus: usize) -> anyhow::Result<()> {
    let started = Instant::now();
    // Databases go under target/ (a real disk, like a deployment), not a RAM-backed /tmp.
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR"))?;
    let store = Store::open(plan.engine, dir.path())?;
    print_machine(&plan, cpus, dir.path(), &store);
    let outcome = if plan.history.is_empty() {
        sweep(&plan, &store).await
    } else {
        history(&plan, &store).await
    };
    // The PostgreSQL cluster is stopped and its files removed whatever happened.
    drop(store);
    outcome?;
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "\nTotal benchmark time: {:.0} s; load average at the end {}.",
        started.elapsed().as_secs_f64(),
        load.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Where the databases live: a folder of SQLite files, or a throwaway PostgreSQL cluster
// ---------------------------------------------------------------------------------------------

/// The databases of one run.
enum Store {
    Sqlite { dir: PathBuf },
    Postgres(PgCluster),
}

impl Store {
    fn open(engine: Engine, dir: &Path) -> anyhow::Result<Store> {
        Ok(match engine {
            Engine::Sqlite => Store::Sqlite {
                dir: dir.to_path_buf(),
            },
            Engine::Postgres => Store::Postgres(PgCluster::start(dir)?),
        })
    }

    fn engine(&self) -> Engine {
        match self {
            Store::Sqlite { .. } => Engine::Sqlite,
            Store::Postgres(_) => Engine::Postgres,
        }
    }

    /// A new, empty database named `name`, as a `DATABASE_URL`.
    fn fresh_database(&self, name: &str) -> anyhow::Result<String> {
        match self {
            Store::Sqlite { dir } => {
                let folder = dir.join(name);
                std::fs::create_dir_all(&folder)?;
                Ok(format!(
                    "sqlite://{}",
                    folder.join("steadfast.db").display()
                ))
            }
            Store::Postgres(cluster) => cluster.create_database(name),
        }
    }

    /// Baselines B and B': one plain insert per request, with and without waiting for the disk.
    fn insert_baselines(&self, pool_size: u32) -> anyhow::Result<[Running; 2]> {
        match self {
            Store::Sqlite { dir } => Ok([
                start_insert_baseline("B", sqlite_backend(dir, "FULL")?)?,
                start_insert_baseline("B'", sqlite_backend(dir, "NORMAL")?)?,
            ]),
            Store::Postgres(cluster) => {
                let url = cluster.create_database("baseline")?;
                let mut conn = PgConnection::establish(&url)?;
                conn.batch_execute(
                    "CREATE TABLE bench_events (id BIGSERIAL PRIMARY KEY, body TEXT NOT NULL, \
                     created_at TIMESTAMP NOT NULL)",
                )?;
                let no_wait = format!("{url}?options=-c%20synchronous_commit%3Doff");
                Ok([
                    start_insert_baseline("B", postgres_backend(&url, pool_size)?)?,
                    start_insert_baseline("B'", postgres_backend(&no_wait, pool_size)?)?,
                ])
            }
        }
    }
}

/// A PostgreSQL cluster of this run only, durable as a deployment would be.
struct PgCluster {
    bin: PathBuf,
    dir: PathBuf,
    port: u16,
    version: String,
    options: String,
}

/// Whether this process runs as root (then the server runs as `postgres`).
fn running_as_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|ids| ids.split_whitespace().next().map(|id| id == "0"))
        .unwrap_or(false)
}

/// A PostgreSQL server program, run as `postgres` when this process is root.
fn pg_command(bin: &Path, program: &str) -> Command {
    let program = bin.join(program);
    if running_as_root() {
        let mut command = Command::new("runuser");
        command.args(["-u", "postgres", "--"]).arg(program);
        command
    } else {
        Command::new(program)
    }
}

fn run_checked(command: &mut Command, what: &str) -> anyhow::Result<String> {
    let output = command
        .output()
        .with_context(|| format!("running {what}"))?;
    if !output.status.success() {
        bail!(
            "{what} failed: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_string())
}

impl PgCluster {
    /// Creates and starts a cluster in `parent/pg` on a free loopback port.
    fn start(parent: &Path) -> anyhow::Result<PgCluster> {
        let bin = match env_text("BENCH_PG_BIN") {
            Some(bin) => PathBuf::from(bin),
            None => {
                let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
                    .context("no PostgreSQL server under /usr/lib/postgresql")?
                    .filter_map(|entry| entry.ok().map(|e| e.path().join("bin")))
                    .filter(|bin| bin.join("initdb").exists())
                    .collect();
                found.sort_by_key(|bin| {
                    bin.parent()
                        .and_then(|v| v.file_name())
                        .and_then(|v| v.to_str())
                        .and_then(|v| v.parse::<u32>().ok())
                        .unwrap_or(0)
                });
                found
                    .pop()
                    .context("no initdb under /usr/lib/postgresql/*/bin")?
            }
        };
        let dir = parent.join("pg");
        std::fs::create_dir_all(&dir)?;
        if running_as_root() {
            use std::os::unix::fs::PermissionsExt;
            // The server's user must reach its folder through the run's temporary folder.
            std::fs::set_permissions(parent, std::fs::Permissions::from_mode(0o755))?;
            run_checked(
                Command::new("chown").arg("postgres:postgres").arg(&dir),
                "chown",
            )?;
        }
        let port = loopback_listener()?.1.port();
        let version = run_checked(
            Command::new(bin.join("postgres")).arg("--version"),
            "postgres",
        )?;
        let options = env_text("BENCH_PG_OPTIONS").unwrap_or_default();
        let data = dir.join("data");
        run_checked(
            pg_command(&bin, "initdb").arg("-D").arg(&data).args([
                "-U",
                "postgres",
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--no-sync",
            ]),
            "initdb",
        )?;
        let cluster = PgCluster {
            bin,
            dir,
            port,
            version,
            options,
        };
        let server_options = format!(
            "-p {port} -k {} -c listen_addresses=127.0.0.1 -c max_connections=300 \
             -c fsync=on -c synchronous_commit=on -c full_page_writes=on \
             -c shared_buffers=512MB -c max_wal_size=4GB {}",
            cluster.dir.display(),
            cluster.options
        );
        run_checked(
            pg_command(&cluster.bin, "pg_ctl")
                .arg("-D")
                .arg(&data)
                .arg("-l")
                .arg(cluster.dir.join("server.log"))
                .args(["-w", "-t", "60", "-o", &server_options, "start"]),
            "pg_ctl start",
        )?;
        Ok(cluster)
    }

    fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }

    fn create_database(&self, name: &str) -> anyhow::Result<String> {
        let mut conn = PgConnection::establish(&self.url("postgres"))?;
        conn.batch_execute(&format!("CREATE DATABASE {name}"))?;
        Ok(self.url(name))
    }

    /// The server settings that decide durability and group commit.
    fn settings(&self) -> String {
        let Ok(mut conn) = PgConnection::establish(&self.url("postgres")) else {
            return "?".into();
        };
        [
            "fsync",
            "synchronous_commit",
            "full_page_writes",
            "wal_sync_method",
            "commit_delay",
            "commit_siblings",
            "shared_buffers",
            "max_wal_size",
        ]
        .iter()
        .map(|name| format!("{name}={}", pg_setting(&mut conn, name)))
        .collect::<Vec<_>>()
        .join(", ")
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        let _ = pg_command(&self.bin, "pg_ctl")
            .arg("-D")
            .arg(self.dir.join("data"))
            .args(["-m", "fast", "-w", "-t", "60", "stop"])
            .output();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[derive(QueryableByName)]
struct Setting {
    #[diesel(sql_type = Text)]
    v: String,
}

fn pg_setting(conn: &mut PgConnection, name: &str) -> String {
    diesel::sql_query("SELECT current_setting($1) AS v")
        .bind::<Text, _>(name)
        .get_result::<Setting>(conn)
        .map_or_else(|e| e.to_string(), |s| s.v)
}

// ---------------------------------------------------------------------------------------------
// The targets
// ---------------------------------------------------------------------------------------------

/// What the load generator sends to and expects from one server.
struct Target {
    name: &'static str,
    address: SocketAddr,
    /// `Authorization` header value (sent to the baselines too, so every target gets the same bytes).
    authorization: String,
    /// Pupils the request bodies pick from.
    pupil_ids: Arc<Vec<i64>>,
}

/// A running server and the target that reaches it.
struct Running {
    target: Arc<Target>,
    handle: ServerHandle,
    /// Its durability settings, as the database reports them.
    durability: String,
}

/// Binds 127.0.0.1 on a free port.
fn loopback_listener() -> std::io::Result<(TcpListener, SocketAddr)> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let address = listener.local_addr()?;
    Ok((listener, address))
}

/// Pupil ids for the baselines' bodies (they do not look at them): 1,000 plausible ids.
fn placeholder_pupils() -> Arc<Vec<i64>> {
    Arc::new((1..=1000).collect())
}

/// Baseline A: actix-web answering a fixed string (it reads the body, like the others).
fn start_fixed_baseline() -> anyhow::Result<Running> {
    async fn fixed(_body: web::Bytes) -> HttpResponse {
        HttpResponse::Ok().content_type("text/plain").body("logged")
    }
    let (listener, address) = loopback_listener()?;
    let server = HttpServer::new(|| App::new().route(PATH, web::post().to(fixed)))
        .listen(listener)?
        .run();
    let handle = server.handle();
    tokio::spawn(server);
    Ok(Running {
        target: Arc::new(Target {
            name: "A",
            address,
            authorization: "Bearer none".into(),
            pupil_ids: placeholder_pupils(),
        }),
        handle,
        durability: String::new(),
    })
}

diesel::table! {
    bench_events (id) {
        id -> BigInt,
        body -> Text,
        created_at -> Timestamp,
    }
}

#[derive(QueryableByName)]
struct JournalMode {
    #[diesel(sql_type = Text)]
    journal_mode: String,
}

#[derive(QueryableByName)]
struct Synchronous {
    #[diesel(sql_type = Integer)]
    synchronous: i32,
}

/// The journal mode and synchronous setting a SQLite connection is using.
fn sqlite_pragmas(conn: &mut SqliteConnection) -> anyhow::Result<String> {
    let mode = diesel::sql_query("PRAGMA journal_mode")
        .get_result::<JournalMode>(conn)?
        .journal_mode;
    let sync = match diesel::sql_query("PRAGMA synchronous")
        .get_result::<Synchronous>(conn)?
        .synchronous
    {
        0 => "OFF".to_string(),
        1 => "NORMAL".to_string(),
        2 => "FULL".to_string(),
        3 => "EXTRA".to_string(),
        other => other.to_string(),
    };
    Ok(format!("journal_mode={mode}, synchronous={sync}"))
}

/// Where baseline B keeps its rows: one SQLite connection behind a mutex, or a pool of
/// PostgreSQL connections.
#[derive(Clone)]
enum Backend {
    Sqlite(Arc<Mutex<SqliteConnection>>),
    Postgres(Pool<PlainManager<PgConnection>>),
}

impl Backend {
    fn insert(&self, text: String) -> anyhow::Result<()> {
        let values = (
            bench_events::body.eq(text),
            bench_events::created_at.eq(Utc::now().naive_utc()),
        );
        match self {
            Backend::Sqlite(conn) => {
                let mut conn = conn.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
                diesel::insert_into(bench_events::table)
                    .values(values)
                    .execute(&mut *conn)?;
            }
            Backend::Postgres(pool) => {
                let mut conn = pool.get()?;
                diesel::insert_into(bench_events::table)
                    .values(values)
                    .execute(&mut *conn)?;
            }
        }
        Ok(())
    }

    fn durability(&self) -> anyhow::Result<String> {
        match self {
            Backend::Sqlite(conn) => {
                sqlite_pragmas(&mut conn.lock().unwrap_or_else(|poisoned| poisoned.into_inner()))
            }
            Backend::Postgres(pool) => {
                let mut conn = pool.get()?;
                Ok(format!(
                    "synchronous_commit={}, fsync={}, pool of {} connections",
                    pg_setting(&mut conn, "synchronous_commit"),
                    pg_setting(&mut conn, "fsync"),
                    pool.max_size()
                ))
            }
        }
    }
}

/// A SQLite file of its own with WAL and the given `synchronous` setting.
fn sqlite_backend(dir: &Path, synchronous: &str) -> anyhow::Result<Backend> {
    let path = dir.join(format!("baseline-{synchronous}.db"));
    let mut conn = SqliteConnection::establish(&path.to_string_lossy())?;
    conn.batch_execute(&format!(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = {synchronous}; \
         PRAGMA busy_timeout = 10000; CREATE TABLE IF NOT EXISTS bench_events (\
             id INTEGER PRIMARY KEY, body TEXT NOT NULL, created_at TIMESTAMP NOT NULL);"
    ))?;
    Ok(Backend::Sqlite(Arc::new(Mutex::new(conn))))
}

/// A pool of `size` connections to `url`.
fn postgres_backend(url: &str, size: u32) -> anyhow::Result<Backend> {
    let pool = Pool::builder()
        .max_size(size)
        .connection_timeout(Duration::from_secs(10))
        .test_on_check_out(false)
        .build(PlainManager::<PgConnection>::new(url))?;
    Ok(Backend::Postgres(pool))
}

/// Baseline B: one plain insert per request, run on the blocking pool (as Steadfast runs its
/// database work).
fn start_insert_baseline(name: &'static str, backend: Backend) -> anyhow::Result<Running> {
    async fn insert(body: web::Bytes, backend: web::Data<Backend>) -> HttpResponse {
        let backend = backend.get_ref().clone();
        let text = String::from_utf8_lossy(&body).into_owned();
        match web::block(move || backend.insert(text)).await {
            Ok(Ok(())) => HttpResponse::Created()
                .content_type("application/json")
                .body(r#"{"logged":true}"#),
            Ok(Err(e)) => HttpResponse::InternalServerError().body(e.to_string()),
            Err(e) => HttpResponse::InternalServerError().body(e.to_string()),
        }
    }
    let durability = backend.durability()?;
    let shared = web::Data::new(backend);
    let (listener, address) = loopback_listener()?;
    let server = HttpServer::new(move || {
        App::new()
            .app_data(shared.clone())
            .route(PATH, web::post().to(insert))
    })
    .listen(listener)?
    .run();
    let handle = server.handle();
    tokio::spawn(server);
    Ok(Running {
        target: Arc::new(Target {
            name,
            address,
            authorization: "Bearer none".into(),
            pupil_ids: placeholder_pupils(),
        }),
        handle,
        durability,
    })
}

/// The real service over a fresh database holding the demo school (and, for the history
/// runs, further schools' history).
struct SteadfastApp {
    target: Arc<Target>,
    handle: ServerHandle,
    db: Database,
    pupil_count: usize,
    durability: String,
    /// How the history was filled, when it was.
    filled: Option<Filled>,
}

impl SteadfastApp {
    /// Opens a fresh database `name`, loads the demo school, fills history up to `history`
    /// incidents in all when asked, then starts the service.
    async fn start(
        store: &Store,
        name: &str,
        history: Option<i64>,
    ) -> anyhow::Result<SteadfastApp> {
        let mut settings = Settings::defaults()?;
        settings.database_url = store.fresh_database(name)?;
        settings.data_dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("bench-data");
        settings.session_secret = "b".repeat(64) + &steadfast::accounts::random_token();
        settings.pool_size = pool_size()?;
        let db = Database::open(&settings.database_url, settings.pool_size)?;
        let (pupil_ids, token, durability) = {
            let db = db.clone();
            tokio::task::spawn_blocking(move || arrange(&db)).await??
        };
        let filled = match history {
            Some(total) => {
                let url = settings.database_url.clone();
                let engine = store.engine();
                Some(
                    tokio::task::spawn_blocking(move || fill_history(engine, &url, total))
                        .await??,
                )
            }
            None => None,
        };
        let key = service::session_key(&settings)?;
        let (listener, address) = loopback_listener()?;
        let state = AppState {
            db: db.clone(),
            settings: Arc::new(settings),
        };
        let server = service::start(listener, state, key)?;
        let handle = server.handle();
        tokio::spawn(server);
        Ok(SteadfastApp {
            pupil_count: pupil_ids.len(),
            target: Arc::new(Target {
                name: "Steadfast",
                address,
                authorization: format!("Bearer {token}"),
                pupil_ids: Arc::new(pupil_ids),
            }),
            handle,
            db,
            durability,
            filled,
        })
    }

    fn incident_count(&self) -> anyhow::Result<i64> {
        let mut conn = self.db.connection()?;
        Ok(incidents::table.count().get_result(&mut *conn)?)
    }

    async fn stop(self) {
        self.handle.stop(true).await;
    }
}

/// Loads the demo school and gives its class-staff member an API token; answers the pupil
/// ids, the token's secret and the database's durability settings.
fn arrange(db: &Database) -> anyhow::Result<(Vec<i64>, String, String)> {
    match load_demo(db, Utc::now())? {
        DemoOutcome::Loaded(_) => {}
        DemoOutcome::AlreadyLoaded => return Err(anyhow!("the fresh database held a school")),
    }
    let mut conn = db.connection()?;
    let school = school_records::find_by_code(&mut conn, steadfast::demo::DEMO_CODE)?
        .context("the demo school")?;
    let row = staff::find_for_login(&mut conn, CLASS_STAFF_EMAIL)?.context("the class staff")?;
    let member =
        staff::get_member(&mut conn, school.id, row.id)?.context("the class staff member")?;
    let token = steadfast::accounts::new_api_token();
    steadfast::db::tokens::add(
        &mut conn,
        &member,
        &token.hash,
        "benchmark",
        None,
        Utc::now(),
    )?;
    let pupil_ids: Vec<i64> = pupils::table
        .filter(pupils::school_id.eq(school.id))
        .select(pupils::id)
        .order(pupils::id)
        .load(&mut *conn)?;
    let durability = match &mut *conn {
        DbConnection::Sqlite(sqlite) => sqlite_pragmas(sqlite)?,
        DbConnection::Postgres(pg) => format!(
            "synchronous_commit={}, fsync={}, pool of {} connections",
            pg_setting(pg, "synchronous_commit"),
            pg_setting(pg, "fsync"),
            pool_size()?
        ),
    };
    Ok((pupil_ids, token.secret, durability))
}

// ---------------------------------------------------------------------------------------------
// History: bulk SQL that fills a database with many schools' incidents
// ---------------------------------------------------------------------------------------------

/// Pupils of each history school, and incidents per pupil over the three years (a trust of
/// 60,000 pupils holds about 10 million).
const HISTORY_PUPILS_PER_SCHOOL: i64 = 1_200;
const HISTORY_INCIDENTS_PER_PUPIL: i64 = 167;
const HISTORY_DAYS: i64 = 3 * 365;
/// Incidents written per statement (and per transaction) while filling.
const FILL_CHUNK: i64 = 1_000_000;

/// What [`fill_history`] wrote and how long it took.
struct Filled {
    incidents_total: i64,
    added: i64,
    schools: i64,
    pupils: i64,
    seconds: f64,
    /// Bytes on disk of the database afterwards.
    bytes: u64,
}

/// `FROM` rows numbered `k` = `from` .. `to - 1`.
fn series(engine: Engine, from: i64, to: i64) -> String {
    match engine {
        Engine::Sqlite => format!(
            "(WITH RECURSIVE s(k) AS (SELECT {from} UNION ALL SELECT k + 1 FROM s WHERE k < {}) \
             SELECT k FROM s) AS s",
            to - 1
        ),
        Engine::Postgres => {
            format!(
                "generate_series({from}::BIGINT, {}::BIGINT) AS s(k)",
                to - 1
            )
        }
    }
}

/// The timestamp `seconds` after 1970 (UTC), in the engine's SQL.
fn at_seconds(engine: Engine, seconds: &str) -> String {
    match engine {
        Engine::Sqlite => format!("datetime({seconds}, 'unixepoch')"),
        Engine::Postgres => format!("(TIMESTAMP 'epoch' + ({seconds}) * INTERVAL '1 second')"),
    }
}

/// The date of a timestamp column, in the engine's SQL.
fn date_of(engine: Engine, column: &str) -> String {
    match engine {
        Engine::Sqlite => format!("date({column})"),
        Engine::Postgres => format!("CAST({column} AS DATE)"),
    }
}

/// Fills the database at `url` with further schools' incident history until it holds `total`
/// incidents in all: schools of [`HISTORY_PUPILS_PER_SCHOOL`] pupils, one year group, form and
/// member of staff each, and about [`HISTORY_INCIDENTS_PER_PUPIL`] incidents per pupil, spread
/// over the pupils and over three years in school hours ending a month ago, with their pupil
/// links, per-day counts and each pupil's last incident, as logging would have left them. The
/// demo school's pupils, whom the load logs for, get none of it. Bulk SQL on a connection of
/// its own, without foreign-key checks (the rows are consistent by construction) and without
/// waiting for the disk (SQLite: checkpointed at the end; the data is throwaway).
fn fill_history(engine: Engine, url: &str, total: i64) -> anyhow::Result<Filled> {
    let started = Instant::now();
    let mut conn = match engine {
        Engine::Sqlite => {
            let path = url.trim_start_matches("sqlite://");
            let mut conn = SqliteConnection::establish(path)?;
            conn.batch_execute(
                "PRAGMA busy_timeout = 10000; PRAGMA synchronous = OFF; \
                 PRAGMA cache_size = -1048576; PRAGMA temp_store = FILE;",
            )?;
            DbConnection::Sqlite(conn)
        }
        Engine::Postgres => {
            let mut conn = PgConnection::establish(url)?;
            conn.batch_execute(
                "SET synchronous_commit = off; SET work_mem = '512MB'; \
                 SET maintenance_work_mem = '512MB'; SET session_replication_role = replica;",
            )?;
            DbConnection::Postgres(conn)
        }
    };
    let existing: i64 = incidents::table.count().get_result(&mut conn)?;
    let added = total - existing;
    if added <= 0 {
        if engine == Engine::Postgres {
            conn.batch_execute("VACUUM ANALYZE")?;
        }
        return Ok(Filled {
            incidents_total: existing,
            added: 0,
            schools: 0,
            pupils: 0,
            seconds: started.elapsed().as_secs_f64(),
            bytes: database_bytes(engine, url, &mut conn),
        });
    }
    let pupils_total = (added / HISTORY_INCIDENTS_PER_PUPIL).max(60);
    let school_count = (pupils_total + HISTORY_PUPILS_PER_SCHOOL - 1) / HISTORY_PUPILS_PER_SCHOOL;
    let ids = |conn: &mut DbConnection| -> anyhow::Result<[i64; 6]> {
        Ok([
            schools::table
                .select(diesel::dsl::max(schools::id))
                .get_result::<Option<i64>>(conn)?
                .unwrap_or(0),
            year_groups::table
                .select(diesel::dsl::max(year_groups::id))
                .get_result::<Option<i64>>(conn)?
                .unwrap_or(0),
            forms::table
                .select(diesel::dsl::max(forms::id))
                .get_result::<Option<i64>>(conn)?
                .unwrap_or(0),
            staff_table::table
                .select(diesel::dsl::max(staff_table::id))
                .get_result::<Option<i64>>(conn)?
                .unwrap_or(0),
            pupils::table
                .select(diesel::dsl::max(pupils::id))
                .get_result::<Option<i64>>(conn)?
                .unwrap_or(0),
            incidents::table
                .select(diesel::dsl::max(incidents::id))
                .get_result::<Option<i64>>(conn)?
                .unwrap_or(0),
        ])
    };
    let [school0, year0, form0, staff0, pupil0, incident0] = ids(&mut conn)?;
    let now = Utc::now()
        .naive_utc()
        .format("%Y-%m-%d %H:%M:%S")
        .to_string();
    let first_day = Utc::now().date_naive() - chrono::Days::new((HISTORY_DAYS + 30) as u64);
    let first_second = first_day
        .and_hms_opt(0, 0, 0)
        .map_or(0, |t| t.and_utc().timestamp());
    let per_school = series(engine, 0, school_count);
    conn.batch_execute(&format!(
        "BEGIN;
         INSERT INTO schools (id, code, name, created_at)
             SELECT {school0} + 1 + k, 'HIST' || k, 'History school ' || k, '{now}' FROM {per_school};
         INSERT INTO year_groups (id, school_id, year, name)
             SELECT {year0} + 1 + k, {school0} + 1 + k, 7, 'Year 7' FROM {per_school};
         INSERT INTO forms (id, school_id, year_group_id, name)
             SELECT {form0} + 1 + k, {school0} + 1 + k, {year0} + 1 + k, '7A' FROM {per_school};
         INSERT INTO staff (id, school_id, email, name, active, created_at)
             SELECT {staff0} + 1 + k, {school0} + 1 + k, 'history' || k || '@bench.example',
                    'History staff ' || k, TRUE, '{now}' FROM {per_school};
         INSERT INTO pupils (id, school_id, upn, given_name, family_name, year_group_id, form_id,
                             sen_status, level, level_since, had_plan, programme_without_impact,
                             created_at)
             SELECT {pupil0} + 1 + k, {school0} + 1 + k / {HISTORY_PUPILS_PER_SCHOOL}, 'H' || k,
                    'Pupil', 'History', {year0} + 1 + k / {HISTORY_PUPILS_PER_SCHOOL},
                    {form0} + 1 + k / {HISTORY_PUPILS_PER_SCHOOL}, 'none', 0, '{now}', FALSE,
                    FALSE, '{now}'
             FROM {pupils};
         COMMIT;",
        pupils = series(engine, 0, pupils_total),
    ))?;
    // Incident k goes to pupil (k * 7919) mod P (7919 is prime, so every pupil gets their
    // share), on day k * DAYS / N, between 08:30 and 15:30 UTC (the same date in London).
    let pupil_of = format!("(k * 7919) % {pupils_total}");
    let when = at_seconds(
        engine,
        &format!(
            "{first_second} + (k * {HISTORY_DAYS} / {added}) * 86400 + 30600 + (k * 7907) % 25200"
        ),
    );
    let mut written = 0;
    while written < added {
        let upto = (written + FILL_CHUNK).min(added);
        conn.batch_execute(&format!(
            "BEGIN;
             INSERT INTO incidents (id, school_id, reported_by, occurred_at, behaviour, severity,
                                    response, created_at)
                 SELECT {incident0} + 1 + k,
                        {school0} + 1 + {pupil_of} / {HISTORY_PUPILS_PER_SCHOOL},
                        {staff0} + 1 + {pupil_of} / {HISTORY_PUPILS_PER_SCHOOL},
                        {when},
                        CASE k % 5 WHEN 0 THEN 'Off task' WHEN 1 THEN 'Calling out'
                            WHEN 2 THEN 'Late to lesson' WHEN 3 THEN 'Disrupting others'
                            ELSE 'No equipment' END,
                        CASE WHEN k % 20 = 0 THEN 'serious' ELSE 'minor' END,
                        CASE WHEN k % 10 < 7 THEN 'prompt' WHEN k % 10 < 9 THEN 'none'
                            ELSE 'conversation' END,
                        {when}
                 FROM {rows};
             INSERT INTO incident_pupils (incident_id, pupil_id, school_id, occurred_at)
                 SELECT id, {pupil0} + 1 + ((id - {incident0} - 1) * 7919) % {pupils_total},
                        school_id, occurred_at
                 FROM incidents WHERE id > {from_id} AND id <= {to_id};
             COMMIT;",
            rows = series(engine, written, upto),
            from_id = incident0 + written,
            to_id = incident0 + upto,
        ))?;
        written = upto;
        eprintln!(
            "  history: {written} of {added} incidents written ({:.0} s)",
            started.elapsed().as_secs_f64()
        );
    }
    let day = date_of(engine, "occurred_at");
    conn.batch_execute(&format!(
        "BEGIN;
         INSERT INTO pupil_day_incidents (pupil_id, day, school_id, incidents)
             SELECT pupil_id, {day}, school_id, COUNT(*) FROM incident_pupils
             WHERE incident_id > {incident0}
             GROUP BY pupil_id, {day}, school_id;
         UPDATE pupils SET last_incident_at = (
                 SELECT MAX(occurred_at) FROM incident_pupils
                 WHERE incident_pupils.pupil_id = pupils.id)
             WHERE id > {pupil0};
         COMMIT;"
    ))?;
    eprintln!(
        "  history: per-day counts and last incidents written ({:.0} s)",
        started.elapsed().as_secs_f64()
    );
    match engine {
        // Later inserts take ids after the explicit ones; statistics as autovacuum would keep.
        Engine::Postgres => conn.batch_execute(
            "SELECT setval(pg_get_serial_sequence('schools', 'id'), MAX(id)) FROM schools;
             SELECT setval(pg_get_serial_sequence('year_groups', 'id'), MAX(id)) FROM year_groups;
             SELECT setval(pg_get_serial_sequence('forms', 'id'), MAX(id)) FROM forms;
             SELECT setval(pg_get_serial_sequence('staff', 'id'), MAX(id)) FROM staff;
             SELECT setval(pg_get_serial_sequence('pupils', 'id'), MAX(id)) FROM pupils;
             SELECT setval(pg_get_serial_sequence('incidents', 'id'), MAX(id)) FROM incidents;",
        )?,
        // The write-ahead log is copied into the database file before the service starts.
        Engine::Sqlite => conn.batch_execute("PRAGMA wal_checkpoint(TRUNCATE);")?,
    }
    if engine == Engine::Postgres {
        // Statistics and visibility as autovacuum would keep them (on its own: not in a transaction).
        conn.batch_execute("VACUUM ANALYZE")?;
    }
    let incidents_total: i64 = incidents::table.count().get_result(&mut conn)?;
    Ok(Filled {
        incidents_total,
        added,
        schools: school_count,
        pupils: pupils_total,
        seconds: started.elapsed().as_secs_f64(),
        bytes: database_bytes(engine, url, &mut conn),
    })
}

#[derive(QueryableByName)]
struct Size {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    bytes: i64,
}

/// The database's size on disk: the SQLite file and its log, or PostgreSQL's own count.
fn database_bytes(engine: Engine, url: &str, conn: &mut DbConnection) -> u64 {
    match engine {
        Engine::Sqlite => {
            let path = url.trim_start_matches("sqlite://");
            ["", "-wal"]
                .iter()
                .filter_map(|suffix| std::fs::metadata(format!("{path}{suffix}")).ok())
                .map(|m| m.len())
                .sum()
        }
        Engine::Postgres => {
            diesel::sql_query("SELECT pg_database_size(current_database()) AS bytes")
                .get_result::<Size>(conn)
                .map_or(0, |s| u64::try_from(s.bytes).unwrap_or(0))
        }
    }
}
// ---------------------------------------------------------------------------------------------
// The load generator
// ---------------------------------------------------------------------------------------------

/// One target's figures over one measured window.
#[derive(Debug, Clone)]
struct Measurement {
    name: &'static str,
    clients: usize,
    rps: f64,
    p50_ms: f64,
    p99_ms: f64,
    max_ms: f64,
    requests: u64,
    /// Successful answers including the warm-up.
    answered: u64,
    errors: u64,
    first_error: Option<String>,
    /// Share of the machine's CPU time used by other processes during the window: a noise
    /// indicator (the machine may be shared).
    other_cpu: f64,
}

/// CPU time so far: the machine's busy and total ticks, and this process's ticks.
#[derive(Clone, Copy, Default)]
struct CpuTicks {
    busy: u64,
    total: u64,
    own: u64,
}

fn cpu_ticks() -> CpuTicks {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let fields: Vec<u64> = stat
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .skip(1)
        .filter_map(|f| f.parse().ok())
        .collect();
    let total: u64 = fields.iter().take(8).sum();
    let idle = fields.get(3).copied().unwrap_or(0) + fields.get(4).copied().unwrap_or(0);
    let own_stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which ends with ')'): utime and stime are the 12th and 13th.
    let own: u64 = own_stat
        .rsplit_once(')')
        .map(|(_, rest)| {
            rest.split_whitespace()
                .skip(11)
                .take(2)
                .filter_map(|f| f.parse::<u64>().ok())
                .sum()
        })
        .unwrap_or(0);
    CpuTicks {
        busy: total.saturating_sub(idle),
        total,
        own,
    }
}

/// What one connection saw inside the measured window.
#[derive(Default)]
struct ConnectionFigures {
    latencies_us: Vec<u32>,
    errors: u64,
    first_error: Option<String>,
    /// Every successful answer, warm-up and stragglers included (for the SQL profile).
    answered: u64,
}

/// The body of one request: one random pupil, or two in one request out of ten.
fn request_body(rng: &mut StdRng, pupil_ids: &[i64]) -> String {
    let count = pupil_ids.len().max(1);
    let first = pupil_ids
        .get(rng.random_range(0..count))
        .copied()
        .unwrap_or(1);
    let mut ids = vec![first];
    if rng.random_bool(0.1) && count > 1 {
        let mut second = first;
        for _ in 0..8 {
            second = pupil_ids
                .get(rng.random_range(0..count))
                .copied()
                .unwrap_or(1);
            if second != first {
                break;
            }
        }
        if second != first {
            ids.push(second);
        }
    }
    serde_json::json!({
        "pupil_ids": ids,
        "behaviour": "Off task",
        "response": "prompt",
    })
    .to_string()
}

async fn connect(address: SocketAddr) -> anyhow::Result<SendRequest<Full<Bytes>>> {
    let stream = tokio::net::TcpStream::connect(address).await?;
    stream.set_nodelay(true)?;
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(sender)
}

/// Sends one request on a keep-alive connection and reads the whole answer.
async fn send_once(
    sender: &mut SendRequest<Full<Bytes>>,
    target: &Target,
    key: String,
    body: String,
) -> anyhow::Result<()> {
    sender.ready().await?;
    let request = hyper::Request::post(PATH)
        .header(hyper::header::HOST, target.address.to_string())
        .header(hyper::header::CONTENT_TYPE, "application/json")
        .header(hyper::header::AUTHORIZATION, &target.authorization)
        .header("Idempotency-Key", key)
        .body(Full::new(Bytes::from(body)))?;
    let response = sender.send_request(request).await?;
    let status = response.status();
    let answer = response.into_body().collect().await?.to_bytes();
    if status.is_success() {
        Ok(())
    } else {
        let text = String::from_utf8_lossy(&answer);
        Err(anyhow!(
            "HTTP {status}: {}",
            text.chars().take(200).collect::<String>()
        ))
    }
}

/// One connection's closed loop: sends the next request as soon as the last is answered,
/// until `end`, recording requests answered between `measure_from` and `end`.
async fn connection_loop(
    target: Arc<Target>,
    index: usize,
    tag: u64,
    measure_from: Instant,
    end: Instant,
) -> ConnectionFigures {
    let mut figures = ConnectionFigures::default();
    let mut rng = StdRng::seed_from_u64(tag * 1_000 + index as u64);
    let mut sender = None;
    let mut reconnects = 0u32;
    let mut sequence = 0u64;
    while Instant::now() < end && sequence < MAX_REQUESTS_PER_CONNECTION {
        sequence += 1;
        let started = Instant::now();
        let sent = match &mut sender {
            Some(sender) => {
                let key = format!("bench-{}-{tag}-{index}-{sequence}", target.name);
                let body = request_body(&mut rng, &target.pupil_ids);
                tokio::time::timeout(REQUEST_TIMEOUT, send_once(sender, &target, key, body))
                    .await
                    .unwrap_or_else(|_| Err(anyhow!("no answer within {REQUEST_TIMEOUT:?}")))
            }
            None => {
                if reconnects >= MAX_RECONNECTS_PER_CONNECTION {
                    break;
                }
                reconnects += 1;
                match connect(target.address).await {
                    Ok(connected) => {
                        sender = Some(connected);
                        continue;
                    }
                    Err(e) => Err(e),
                }
            }
        };
        let done = Instant::now();
        let in_window = done >= measure_from && done <= end;
        if sent.is_ok() {
            figures.answered += 1;
        }
        match sent {
            Ok(()) if in_window => {
                let micros = done.duration_since(started).as_micros();
                figures
                    .latencies_us
                    .push(u32::try_from(micros).unwrap_or(u32::MAX));
            }
            Ok(()) => {}
            Err(error) => {
                sender = None;
                if in_window {
                    figures.errors += 1;
                    figures.first_error.get_or_insert_with(|| error.to_string());
                }
            }
        }
    }
    figures
}

/// Warm-up, then a measured window, at `connections` connections.
async fn drive_with(
    target: Arc<Target>,
    connections: usize,
    warmup: Duration,
    window: Duration,
    tag: u64,
) -> Measurement {
    let measure_from = Instant::now() + warmup;
    let end = measure_from + window;
    let cpu = tokio::spawn(async move {
        tokio::time::sleep_until(tokio::time::Instant::from_std(measure_from)).await;
        let before = cpu_ticks();
        tokio::time::sleep_until(tokio::time::Instant::from_std(end)).await;
        (before, cpu_ticks())
    });
    let tasks: Vec<_> = (0..connections)
        .map(|index| {
            tokio::spawn(connection_loop(
                target.clone(),
                index,
                tag,
                measure_from,
                end,
            ))
        })
        .collect();
    let mut latencies = Vec::new();
    let mut errors = 0;
    let mut answered = 0;
    let mut first_error = None;
    for task in tasks {
        match task.await {
            Ok(figures) => {
                latencies.extend(figures.latencies_us);
                errors += figures.errors;
                answered += figures.answered;
                if first_error.is_none() {
                    first_error = figures.first_error;
                }
            }
            Err(e) => {
                errors += 1;
                first_error.get_or_insert_with(|| format!("load task failed: {e}"));
            }
        }
    }
    let (before, after) = cpu.await.unwrap_or_default();
    let other_busy = (after.busy - before.busy).saturating_sub(after.own - before.own);
    let other_cpu = other_busy as f64 / (after.total - before.total).max(1) as f64;
    latencies.sort_unstable();
    let percentile = |p: f64| -> f64 {
        if latencies.is_empty() {
            return f64::NAN;
        }
        let rank = ((p * latencies.len() as f64).ceil() as usize).clamp(1, latencies.len());
        f64::from(latencies[rank - 1]) / 1_000.0
    };
    Measurement {
        name: target.name,
        clients: connections,
        rps: latencies.len() as f64 / window.as_secs_f64(),
        p50_ms: percentile(0.50),
        p99_ms: percentile(0.99),
        max_ms: percentile(1.0),
        requests: latencies.len() as u64,
        answered,
        errors,
        first_error,
        other_cpu,
    }
}

// ---------------------------------------------------------------------------------------------
// The two kinds of run
// ---------------------------------------------------------------------------------------------

/// Each target at each client count, repeated, on fresh Steadfast databases.
async fn sweep(plan: &Plan, store: &Store) -> anyhow::Result<()> {
    let pool_size = pool_size()?;
    let mut servers = Vec::new();
    if plan.baselines {
        servers.push(start_fixed_baseline()?);
        servers.extend(store.insert_baselines(pool_size)?);
    }
    for baseline in servers.iter().skip(1) {
        println!(
            "Baseline {} durability: {}.",
            baseline.target.name, baseline.durability
        );
    }
    // results[target][client count][repeat]; the last target is Steadfast.
    let mut results: Vec<Vec<Vec<Measurement>>> =
        vec![vec![Vec::new(); plan.clients.len()]; servers.len() + 1];
    let mut sizes = Vec::new();
    for repeat in 0..REPEATS {
        let app = SteadfastApp::start(store, &format!("steadfast_{repeat}"), None).await?;
        if repeat == 0 {
            println!("Steadfast durability: {} (Database::open).", app.durability);
        }
        let before = app.incident_count()?;
        for (level, &clients) in plan.clients.iter().enumerate() {
            let tag = (repeat * 10 + level) as u64;
            let targets = servers
                .iter()
                .map(|s| s.target.clone())
                .chain([app.target.clone()]);
            for (index, target) in targets.enumerate() {
                let m = drive_with(target, clients, plan.warmup, plan.window, tag).await;
                results[index][level].push(m);
            }
            let this_run: Vec<String> = results
                .iter()
                .filter_map(|runs| runs[level].get(repeat))
                .map(|m| format!("{} {:.0} req/s, p99 {:.2} ms", m.name, m.rps, m.p99_ms))
                .collect();
            println!(
                "run {}/{REPEATS}, {clients} client(s): {}",
                repeat + 1,
                this_run.join(" | ")
            );
            for m in results.iter().filter_map(|runs| runs[level].get(repeat)) {
                if let Some(error) = &m.first_error {
                    println!("  first error ({}): {error}", m.name);
                }
            }
        }
        let after = app.incident_count()?;
        sizes.push((app.pupil_count, before, after));
        app.stop().await;
    }
    print_sweep(plan, store, &results, &sizes);
    if plan.profile {
        profile_steadfast(store, plan.warmup).await?;
    }
    for server in servers {
        server.handle.stop(true).await;
    }
    Ok(())
}

/// Steadfast at 64 connections on databases of different history sizes, interleaved, with
/// baseline B beside it.
async fn history(plan: &Plan, store: &Store) -> anyhow::Result<()> {
    let pool_size = pool_size()?;
    let baseline = if plan.baselines {
        let [b, _] = store.insert_baselines(pool_size)?;
        println!("Baseline B durability: {}.", b.durability);
        Some(b)
    } else {
        None
    };
    let mut apps = Vec::new();
    for (index, &size) in plan.history.iter().enumerate() {
        eprintln!("Preparing the database with {size} incidents...");
        let app = SteadfastApp::start(store, &format!("history_{index}"), Some(size)).await?;
        if let Some(filled) = &app.filled {
            println!(
                "Database {}: {} incidents ({} added in {} history school(s) of {} pupils in all, \
                 in {:.0} s); {:.0} MiB on disk; Steadfast durability: {}.",
                index + 1,
                filled.incidents_total,
                filled.added,
                filled.schools,
                filled.pupils,
                filled.seconds,
                filled.bytes as f64 / 1_048_576.0,
                app.durability
            );
        }
        apps.push(app);
    }
    let mut runs: Vec<Vec<Measurement>> = vec![Vec::new(); apps.len()];
    let mut baseline_runs = Vec::new();
    for repeat in 0..REPEATS {
        let tag = repeat as u64;
        if let Some(b) = &baseline {
            baseline_runs.push(
                drive_with(b.target.clone(), CONNECTIONS, plan.warmup, plan.window, tag).await,
            );
        }
        for (index, app) in apps.iter().enumerate() {
            let m = drive_with(
                app.target.clone(),
                CONNECTIONS,
                plan.warmup,
                plan.window,
                tag,
            )
            .await;
            println!(
                "run {}/{REPEATS}: {} incidents: {:.0} req/s, p50 {:.2} ms, p99 {:.2} ms, errors {}, \
                 other CPU {:.0}%",
                repeat + 1,
                plan.history[index],
                m.rps,
                m.p50_ms,
                m.p99_ms,
                m.errors,
                m.other_cpu * 100.0
            );
            if let Some(error) = &m.first_error {
                println!("  first error: {error}");
            }
            runs[index].push(m);
        }
    }
    println!(
        "\nMedians of {REPEATS} runs at {CONNECTIONS} connections, {} (each figure its own median):",
        engine_name(store.engine())
    );
    println!(
        "{:<40} {:>10} {:>9} {:>9} {:>9} {:>8}",
        "target", "req/s", "p50 ms", "p99 ms", "max ms", "errors"
    );
    if !baseline_runs.is_empty() {
        print_summary_row(
            "B  one plain insert per request",
            &Summary::of(&baseline_runs),
        );
    }
    let mut medians = Vec::new();
    for (app, measured) in apps.iter().zip(&runs) {
        let total = app.filled.as_ref().map_or(0, |f| f.incidents_total);
        let s = Summary::of(measured);
        print_summary_row(&format!("Steadfast, {total} incidents before"), &s);
        medians.push(s.rps);
    }
    for app in &apps {
        println!(
            "  ({} incidents after the runs, the load's included; {} pupils in the demo school \
             the load logs for)",
            app.incident_count()?,
            app.pupil_count
        );
    }
    if let (Some(first), Some(last)) = (medians.first(), medians.last()) {
        if medians.len() > 1 {
            let change = last / first - 1.0;
            println!(
                "\nRate with the largest history / with the smallest: {:.1}% ({:+.1}%)",
                last / first * 100.0,
                change * 100.0
            );
            println!(
                "Target: the rates differ by at most {:.0}% ... {:.1}%  {}",
                TARGET_HISTORY_DROP * 100.0,
                change.abs() * 100.0,
                verdict(change.abs() <= TARGET_HISTORY_DROP)
            );
        }
    }
    for app in apps {
        app.stop().await;
    }
    if let Some(b) = baseline {
        b.handle.stop(true).await;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Reporting
// ---------------------------------------------------------------------------------------------

/// Medians over the repeats, figure by figure.
struct Summary {
    rps: f64,
    p50_ms: f64,
    p99_ms: f64,
    max_ms: f64,
    errors: u64,
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    match values.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => values[n / 2],
        n => (values[n / 2 - 1] + values[n / 2]) / 2.0,
    }
}

impl Summary {
    fn of(runs: &[Measurement]) -> Summary {
        let pick = |f: fn(&Measurement) -> f64| median(runs.iter().map(f).collect());
        Summary {
            rps: pick(|m| m.rps),
            p50_ms: pick(|m| m.p50_ms),
            p99_ms: pick(|m| m.p99_ms),
            max_ms: pick(|m| m.max_ms),
            errors: pick(|m| m.errors as f64) as u64,
        }
    }
}

fn print_summary_row(label: &str, s: &Summary) {
    println!(
        "{:<40} {:>10.0} {:>9.2} {:>9.2} {:>9.2} {:>8}",
        label, s.rps, s.p50_ms, s.p99_ms, s.max_ms, s.errors
    );
}

fn engine_name(engine: Engine) -> &'static str {
    match engine {
        Engine::Sqlite => "SQLite",
        Engine::Postgres => "PostgreSQL",
    }
}

fn print_machine(plan: &Plan, cpus: usize, dir: &Path, store: &Store) {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map(|l| l.trim_start_matches([' ', '\t', ':']).to_string())
        .unwrap_or_else(|| "unknown CPU".into());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let load: Vec<&str> = load.split_whitespace().take(3).collect();
    println!(
        "== Steadfast benchmark: POST {PATH} on {} ==",
        engine_name(plan.engine)
    );
    println!(
        "Machine: {cpus} CPU(s), {model}; Linux {}; load average at start {}.",
        kernel.trim(),
        load.join(" ")
    );
    println!(
        "The load generator runs in this process and shares the {cpus} CPU(s) with the server under \
         test (and, on PostgreSQL, with the database server): figures are for everything on one \
         {cpus}-CPU box."
    );
    let clients = if plan.history.is_empty() {
        plan.clients
            .iter()
            .map(|c| c.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    } else {
        CONNECTIONS.to_string()
    };
    println!(
        "Method: {clients} keep-alive HTTP/1.1 connection(s), closed loop (next request when the \
         last is answered); {}s warm-up then {}s measured per run; {REPEATS} runs interleaved; \
         medians of the runs. actix-web workers: default (one per CPU) for every server.",
        plan.warmup.as_secs(),
        plan.window.as_secs()
    );
    match store {
        Store::Sqlite { .. } => {
            println!(
                "SQLite files in {} (filesystem: {}); SQLite {}.",
                dir.display(),
                filesystem_of(dir),
                sqlite_version()
            );
            println!(
                "Durability: Steadfast and B use WAL + synchronous=FULL, so an acknowledged write \
                 survives power loss (B waits for the disk once per insert, Steadfast once per \
                 group commit); B' uses synchronous=NORMAL, which survives a crash of the process \
                 but can lose the last commits on power loss."
            );
        }
        Store::Postgres(cluster) => {
            println!(
                "PostgreSQL: {} started for this run in {} (filesystem: {}), port {}; {}.",
                cluster.version,
                cluster.dir.display(),
                filesystem_of(&cluster.dir),
                cluster.port,
                cluster.settings()
            );
            println!(
                "Durability: Steadfast and B commit with synchronous_commit=on (each commit waits \
                 for its WAL to reach the disk; PostgreSQL flushes concurrent commits together); B' \
                 sets synchronous_commit=off, which can lose the last commits on power loss."
            );
        }
    }
    println!("Steadfast runs without a tracing subscriber (no request log written).");
}

/// The filesystem type of the mount holding `path`, from /proc/mounts.
fn filesystem_of(path: &Path) -> String {
    let path = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
    let mounts = std::fs::read_to_string("/proc/mounts").unwrap_or_default();
    mounts
        .lines()
        .filter_map(|line| {
            let mut parts = line.split_whitespace();
            let (_, mount, fs) = (parts.next()?, parts.next()?, parts.next()?);
            path.starts_with(mount)
                .then(|| (mount.len(), fs.to_string()))
        })
        .max_by_key(|(len, _)| *len)
        .map_or_else(|| "unknown".into(), |(_, fs)| fs)
}

fn sqlite_version() -> String {
    #[derive(QueryableByName)]
    struct Version {
        #[diesel(sql_type = Text)]
        v: String,
    }
    SqliteConnection::establish(":memory:")
        .ok()
        .and_then(|mut c| {
            diesel::sql_query("SELECT sqlite_version() AS v")
                .get_result::<Version>(&mut c)
                .ok()
        })
        .map_or_else(|| "?".into(), |v| v.v)
}

fn verdict(pass: bool) -> &'static str {
    if pass {
        "PASS"
    } else {
        "MISS"
    }
}

/// Every run, then the medians at each client count, the ratios to the baselines and the targets.
fn print_sweep(
    plan: &Plan,
    store: &Store,
    results: &[Vec<Vec<Measurement>>],
    sizes: &[(usize, i64, i64)],
) {
    let labels: Vec<&str> = match (plan.baselines, store.engine()) {
        (false, _) => vec!["Steadfast POST /api/v1/incidents"],
        (true, Engine::Sqlite) => vec![
            "A  actix-web, fixed string",
            "B  actix + 1 insert, sync FULL",
            "B' actix + 1 insert, sync NORMAL",
            "Steadfast POST /api/v1/incidents",
        ],
        (true, Engine::Postgres) => vec![
            "A  actix-web, fixed string",
            "B  actix + pool, 1 insert, sync on",
            "B' actix + pool, 1 insert, sync off",
            "Steadfast POST /api/v1/incidents",
        ],
    };
    println!("\nEach run:");
    println!(
        "{:<36} {:>7} {:>4} {:>10} {:>9} {:>9} {:>9} {:>8} {:>9}",
        "target", "clients", "run", "req/s", "p50 ms", "p99 ms", "max ms", "errors", "other CPU"
    );
    for (label, levels) in labels.iter().zip(results) {
        for runs in levels {
            for (i, m) in runs.iter().enumerate() {
                println!(
                    "{:<36} {:>7} {:>4} {:>10.0} {:>9.2} {:>9.2} {:>9.2} {:>8} {:>8.0}%",
                    label,
                    m.clients,
                    i + 1,
                    m.rps,
                    m.p50_ms,
                    m.p99_ms,
                    m.max_ms,
                    m.errors,
                    m.other_cpu * 100.0
                );
            }
        }
    }
    println!(
        "(other CPU: share of the machine's CPU time used by other processes during the window; \
         figures taken while it is high are disturbed.)"
    );
    for (pupils, before, after) in sizes {
        println!(
            "Data (Steadfast, one fresh database per run): demo school, {pupils} pupils; \
             incidents {before} before, {after} after the run's windows (warm-ups included)."
        );
    }
    for (level, clients) in plan.clients.iter().enumerate() {
        println!(
            "\nMedians of {REPEATS} runs at {clients} client(s), {}:",
            engine_name(store.engine())
        );
        println!(
            "{:<40} {:>10} {:>9} {:>9} {:>9} {:>8}",
            "target", "req/s", "p50 ms", "p99 ms", "max ms", "errors"
        );
        let medians: Vec<Summary> = results.iter().map(|r| Summary::of(&r[level])).collect();
        for (label, s) in labels.iter().zip(&medians) {
            print_summary_row(label, s);
        }
        let [a, b, b_no_wait, s] = match medians.as_slice() {
            [a, b, b2, s] => [a, b, b2, s],
            _ => continue,
        };
        let share_b = s.rps / b.rps;
        println!(
            "Steadfast / B (commit waits for the disk): {:.1}% of requests/s; p99 {:.2} ms vs {:.2} ms",
            share_b * 100.0,
            s.p99_ms,
            b.p99_ms
        );
        println!(
            "Steadfast / B' (commit does not wait for the disk): {:.1}% of requests/s; p99 {:.2} ms vs {:.2} ms",
            s.rps / b_no_wait.rps * 100.0,
            s.p99_ms,
            b_no_wait.p99_ms
        );
        println!(
            "Steadfast / A (no database): {:.1}% of requests/s",
            s.rps / a.rps * 100.0
        );
        println!(
            "Target: Steadfast >= {:.0}% of B's requests/s ... {:.1}%  {}",
            TARGET_SHARE_OF_B * 100.0,
            share_b * 100.0,
            verdict(share_b >= TARGET_SHARE_OF_B)
        );
        let share_b_no_wait = s.rps / b_no_wait.rps;
        println!(
            "Target: Steadfast, waiting for the disk, >= {:.0}% of B' (which does not wait) ... \
             {:.1}%  {} (design target 100%)",
            TARGET_SHARE_OF_B_NO_WAIT * 100.0,
            share_b_no_wait * 100.0,
            verdict(share_b_no_wait >= TARGET_SHARE_OF_B_NO_WAIT)
        );
    }
    let errors: u64 = results.iter().flatten().flatten().map(|m| m.errors).sum();
    if errors > 0 {
        println!("\nNote: {errors} request(s) failed across all runs; see the first errors above.");
    }
}
// ---------------------------------------------------------------------------------------------
// SQL profile: every statement timed through diesel's default instrumentation
// ---------------------------------------------------------------------------------------------

/// Whether the instrumentation records (connections opened earlier carry none).
static PROFILING: AtomicBool = AtomicBool::new(false);
static STATEMENTS: OnceLock<Mutex<HashMap<String, (u64, Duration)>>> = OnceLock::new();
static WRITE_TXN_NANOS: AtomicU64 = AtomicU64::new(0);
static WRITE_TXNS: AtomicU64 = AtomicU64::new(0);
static READ_TXN_NANOS: AtomicU64 = AtomicU64::new(0);
static READ_TXNS: AtomicU64 = AtomicU64::new(0);
static NEWLY_CACHED: AtomicU64 = AtomicU64::new(0);

fn statements() -> &'static Mutex<HashMap<String, (u64, Duration)>> {
    STATEMENTS.get_or_init(Default::default)
}

fn reset_profile() {
    statements()
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clear();
    for counter in [
        &WRITE_TXN_NANOS,
        &WRITE_TXNS,
        &READ_TXN_NANOS,
        &READ_TXNS,
        &NEWLY_CACHED,
    ] {
        counter.store(0, Ordering::Relaxed);
    }
}

/// Per-connection probe: times each statement and each transaction. Its own bookkeeping
/// inside a transaction is measured and taken off the transaction's time.
#[derive(Default)]
struct Probe {
    query_started: Option<Instant>,
    transaction: Option<(Instant, bool)>,
    overhead: Duration,
}

/// Collects a statement's SQL and stops at its bind values, which are not needed.
#[derive(Default)]
struct SqlOnly(String);

impl std::fmt::Write for SqlOnly {
    fn write_str(&mut self, text: &str) -> std::fmt::Result {
        self.0.push_str(text);
        match self.0.find(" -- binds") {
            Some(at) => {
                self.0.truncate(at);
                Err(std::fmt::Error)
            }
            None => Ok(()),
        }
    }
}

impl Instrumentation for Probe {
    fn on_connection_event(&mut self, event: InstrumentationEvent<'_>) {
        if !PROFILING.load(Ordering::Relaxed) {
            return;
        }
        match event {
            InstrumentationEvent::StartQuery { .. } => self.query_started = Some(Instant::now()),
            InstrumentationEvent::CacheQuery { .. } => {
                NEWLY_CACHED.fetch_add(1, Ordering::Relaxed);
            }
            InstrumentationEvent::FinishQuery { query, .. } => {
                let now = Instant::now();
                let started = self.query_started.take().unwrap_or(now);
                let mut sql = SqlOnly::default();
                let _ = std::fmt::Write::write_fmt(&mut sql, format_args!("{query}"));
                let sql = sql.0.trim().to_string();
                if sql.starts_with("BEGIN") {
                    self.transaction = Some((started, sql.contains("IMMEDIATE")));
                    self.overhead = Duration::ZERO;
                } else if ["INSERT", "UPDATE", "DELETE"]
                    .iter()
                    .any(|verb| sql.starts_with(verb))
                {
                    // A PostgreSQL transaction begins plainly: it writes once it has written.
                    if let Some((_, writes)) = &mut self.transaction {
                        *writes = true;
                    }
                } else if sql.starts_with("COMMIT") || sql.starts_with("ROLLBACK") {
                    if let Some((begun, writes)) = self.transaction.take() {
                        let spent = now.duration_since(begun).saturating_sub(self.overhead);
                        let (total, count) = if writes {
                            (&WRITE_TXN_NANOS, &WRITE_TXNS)
                        } else {
                            (&READ_TXN_NANOS, &READ_TXNS)
                        };
                        total.fetch_add(spent.as_nanos() as u64, Ordering::Relaxed);
                        count.fetch_add(1, Ordering::Relaxed);
                    }
                }
                {
                    let mut map = statements().lock().unwrap_or_else(|p| p.into_inner());
                    let entry = map.entry(sql).or_default();
                    entry.0 += 1;
                    entry.1 += now.duration_since(started);
                }
                if self.transaction.is_some() {
                    self.overhead += now.elapsed();
                }
            }
            _ => {}
        }
    }
}

fn probe() -> Option<Box<dyn Instrumentation>> {
    Some(Box::new(Probe::default()))
}

/// Runs Steadfast once more with every statement timed; prints where the time goes.
async fn profile_steadfast(store: &Store, warmup: Duration) -> anyhow::Result<()> {
    diesel::connection::set_default_instrumentation(probe)?;
    let app = SteadfastApp::start(store, "steadfast_profile", None).await?;
    println!("\n== SQL profile (instrumented run, figures not comparable with the table above) ==");
    let window = Duration::from_secs(3);
    // Unloaded: one connection, one request at a time.
    reset_profile();
    PROFILING.store(true, Ordering::Relaxed);
    let single = drive_with(app.target.clone(), 1, warmup, window, 100).await;
    PROFILING.store(false, Ordering::Relaxed);
    println!(
        "1 connection: {:.0} req/s, p50 {:.2} ms, p99 {:.2} ms (errors {})",
        single.rps, single.p50_ms, single.p99_ms, single.errors
    );
    report_profile(&single, warmup + window);

    reset_profile();
    PROFILING.store(true, Ordering::Relaxed);
    let loaded = drive_with(app.target.clone(), CONNECTIONS, warmup, window, 101).await;
    PROFILING.store(false, Ordering::Relaxed);
    println!(
        "\n{CONNECTIONS} connections: {:.0} req/s, p50 {:.2} ms, p99 {:.2} ms (errors {})",
        loaded.rps, loaded.p50_ms, loaded.p99_ms, loaded.errors
    );
    report_profile(&loaded, warmup + window);
    app.stop().await;
    Ok(())
}

/// Prints the statements per request and the costliest statements. Counts cover the warm-up
/// too, so they are divided by every request answered while recording.
fn report_profile(run: &Measurement, recorded: Duration) {
    let map = statements()
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    let write_txns = WRITE_TXNS.load(Ordering::Relaxed).max(1);
    let read_txns = READ_TXNS.load(Ordering::Relaxed);
    let write_nanos = WRITE_TXN_NANOS.load(Ordering::Relaxed);
    let read_nanos = READ_TXN_NANOS.load(Ordering::Relaxed);
    let total_statements: u64 = map.values().map(|(n, _)| n).sum();
    let total_time: Duration = map.values().map(|(_, t)| *t).sum();
    let requests = run.answered.max(1);
    println!(
        "  requests answered while recording (incl. warm-up): {requests} (measured window: {}); \
         SQL statements per request: {:.1}; time in SQL per request: {:.3} ms",
        run.requests,
        total_statements as f64 / requests as f64,
        total_time.as_secs_f64() * 1_000.0 / requests as f64,
    );
    println!(
        "  write transactions (BEGIN..COMMIT that wrote): {write_txns}, {:.3} ms each, busy {:.0}% \
         of the time (on SQLite, its single writer); read transactions (auth): {read_txns}, {:.3} ms each",
        write_nanos as f64 / 1e6 / write_txns as f64,
        write_nanos as f64 / 1e9 / recorded.as_secs_f64() * 100.0,
        if read_txns == 0 {
            0.0
        } else {
            read_nanos as f64 / 1e6 / read_txns as f64
        },
    );
    println!(
        "  statements newly put in diesel's prepared-statement cache during the run: {}",
        NEWLY_CACHED.load(Ordering::Relaxed)
    );
    let mut rows: Vec<(String, u64, Duration)> =
        map.into_iter().map(|(sql, (n, t))| (sql, n, t)).collect();
    rows.sort_by_key(|row| std::cmp::Reverse(row.2));
    println!(
        "  {:>8} {:>8} {:>9} {:>6}  statement (costliest first)",
        "count", "per req", "us each", "share"
    );
    for (sql, n, t) in rows.iter().take(25) {
        let shown: String = sql.chars().take(110).collect();
        println!(
            "  {:>8} {:>8.2} {:>9.1} {:>5.1}%  {shown}",
            n,
            *n as f64 / requests as f64,
            t.as_secs_f64() * 1e6 / *n as f64,
            t.as_secs_f64() / total_time.as_secs_f64().max(1e-9) * 100.0,
        );
    }
}
