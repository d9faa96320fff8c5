//! Throughput and latency of `POST /api/v1/incidents` on the embedded SQLite default, next to
//! two bare baselines measured in the same run on the same machine:
//!
//! - **A**: actix-web answering a fixed string;
//! - **B**: actix-web doing one plain SQLite insert per request (diesel's `SqliteConnection`
//!   behind a mutex) with Steadfast's default durability, WAL and `synchronous = FULL` (a
//!   commit survives power loss): the baseline the targets are set against;
//! - **B'**: the same with `synchronous = NORMAL` (survives a crash of the process, not power
//!   loss), to show what group commit buys back;
//! - **Steadfast**: the real service over the demo school, with a class-staff API token.
//!
//! Each target gets a warm-up, then a fixed window at 64 keep-alive connections from a load
//! generator in this process; the whole set is repeated three times and medians are printed.
//! A closing pass re-runs Steadfast with every SQL statement timed, to show where the time goes.
//! It prints; it never fails the build.
//!
//! `cargo bench --bench incidents`. Environment: `BENCH_SECS` (measured window per run,
//! default 5), `BENCH_WARMUP_SECS` (default 1), `BENCH_PROFILE=0` to skip the SQL profile,
//! `BENCH_ONLY=steadfast` to measure the service alone (for `perf record -p`).
//!
//! The machine may be shared: each run prints the share of CPU time other processes used during
//! its window ("other CPU"); figures taken while it is high are disturbed.

use std::collections::HashMap;
use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use actix_web::dev::ServerHandle;
use actix_web::{web, App, HttpResponse, HttpServer};
use anyhow::{anyhow, Context};
use bytes::Bytes;
use chrono::Utc;
use diesel::connection::{Instrumentation, InstrumentationEvent, SimpleConnection};
use diesel::prelude::*;
use diesel::sql_types::{Integer, Text};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use steadfast::config::Settings;
use steadfast::db::schema::{incidents, pupils};
use steadfast::db::{schools, staff, Database, DbConnection};
use steadfast::demo::load::{load_demo, DemoOutcome};
use steadfast::web::{self as service, AppState};

/// Concurrent keep-alive connections held open by the load generator.
const CONNECTIONS: usize = 64;
/// Measurements of each target; medians are reported.
const REPEATS: usize = 3;
/// The API path; the baselines listen on the same path and receive the same bytes.
const PATH: &str = "/api/v1/incidents";
/// Upper bounds that keep every loop finite whatever the settings.
const MAX_WINDOW_SECS: u64 = 30;
const MAX_REQUESTS_PER_CONNECTION: u64 = 5_000_000;
const MAX_RECONNECTS_PER_CONNECTION: u32 = 100;
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// The demo school's class-staff login.
const CLASS_STAFF_EMAIL: &str = "teacher@demo.example";
/// Targets of issue 3: share of baseline B's requests per second, and p99 at 64 connections.
const TARGET_SHARE_OF_B: f64 = 0.40;
const TARGET_P99_MS: f64 = 20.0;

fn main() -> anyhow::Result<()> {
    let window = Duration::from_secs(env_secs("BENCH_SECS", 5));
    let warmup = Duration::from_secs(env_secs("BENCH_WARMUP_SECS", 1));
    let profile = std::env::var("BENCH_PROFILE").map_or(true, |v| v != "0");
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cpus)
        .enable_all()
        .build()?;
    runtime.block_on(run(window, warmup, profile, cpus))
}

fn env_secs(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(default)
        .clamp(1, MAX_WINDOW_SECS)
}

async fn run(window: Duration, warmup: Duration, profile: bool, cpus: usize) -> anyhow::Result<()> {
    let started = Instant::now();
    // `BENCH_ONLY=steadfast` skips the baselines (for profiling the service alone).
    let baselines = std::env::var("BENCH_ONLY").map_or(true, |v| v.trim() != "steadfast");
    // Databases go under target/ (a real disk, like a deployment), not a RAM-backed /tmp.
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR"))?;
    print_machine(cpus, dir.path(), window, warmup);

    let fixed = start_fixed_baseline()?;
    let insert = start_insert_baseline(dir.path(), "B", "FULL")?;
    let insert_normal = start_insert_baseline(dir.path(), "B'", "NORMAL")?;
    for baseline in [&insert, &insert_normal] {
        println!(
            "Baseline {} durability: journal_mode={}, synchronous={}.",
            baseline.target.name, baseline.pragmas.0, baseline.pragmas.1
        );
    }

    let mut results: [Vec<Measurement>; 4] = Default::default();
    let mut sizes = Vec::new();
    for repeat in 0..REPEATS {
        let tag = repeat as u64;
        if baselines {
            results[0].push(drive(fixed.target.clone(), warmup, window, tag).await);
            results[1].push(drive(insert.target.clone(), warmup, window, tag).await);
            results[2].push(drive(insert_normal.target.clone(), warmup, window, tag).await);
        }
        let app = SteadfastApp::start(dir.path(), repeat).await?;
        if repeat == 0 {
            println!(
                "Steadfast durability: journal_mode={}, synchronous={} (Database::open).",
                app.pragmas.0, app.pragmas.1
            );
        }
        let before = app.incident_count()?;
        let s = drive(app.target.clone(), warmup, window, tag).await;
        let after = app.incident_count()?;
        sizes.push((app.pupil_count, before, after));
        results[3].push(s);
        let this_run: Vec<String> = results
            .iter()
            .filter_map(|runs| runs.get(repeat))
            .map(|m| format!("{} {:.0} req/s, p99 {:.2} ms", m.name, m.rps, m.p99_ms))
            .collect();
        println!("run {}/{REPEATS}: {}", repeat + 1, this_run.join(" | "));
        for m in results.iter().filter_map(|runs| runs.get(repeat)) {
            if let Some(error) = &m.first_error {
                println!("  first error ({}): {error}", m.name);
            }
        }
        app.stop().await;
    }

    let medians: Vec<Summary> = results.iter().map(|runs| Summary::of(runs)).collect();
    print_table(&results, &medians, &sizes);

    if profile {
        profile_steadfast(dir.path(), warmup).await?;
    }
    fixed.handle.stop(true).await;
    insert.handle.stop(true).await;
    insert_normal.handle.stop(true).await;
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
// The three targets
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
    /// `journal_mode` and `synchronous` as reported by the connection (baseline B only).
    pragmas: (String, String),
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
        pragmas: (String::new(), String::new()),
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
fn sqlite_pragmas(conn: &mut SqliteConnection) -> anyhow::Result<(String, String)> {
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
    Ok((mode, sync))
}

type SharedConnection = Arc<Mutex<SqliteConnection>>;

/// Baseline B: one plain insert per request, on one shared connection behind a mutex, run on
/// the blocking pool (as Steadfast runs its database work).
fn start_insert_baseline(
    dir: &Path,
    name: &'static str,
    synchronous: &str,
) -> anyhow::Result<Running> {
    async fn insert(body: web::Bytes, conn: web::Data<SharedConnection>) -> HttpResponse {
        let conn = conn.get_ref().clone();
        let text = String::from_utf8_lossy(&body).into_owned();
        let outcome = web::block(move || {
            let mut conn = conn.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            diesel::insert_into(bench_events::table)
                .values((
                    bench_events::body.eq(text),
                    bench_events::created_at.eq(Utc::now().naive_utc()),
                ))
                .execute(&mut *conn)
        })
        .await;
        match outcome {
            Ok(Ok(_)) => HttpResponse::Created()
                .content_type("application/json")
                .body(r#"{"logged":true}"#),
            Ok(Err(e)) => HttpResponse::InternalServerError().body(e.to_string()),
            Err(e) => HttpResponse::InternalServerError().body(e.to_string()),
        }
    }
    let path = dir.join(format!("baseline-{synchronous}.db"));
    let mut conn = SqliteConnection::establish(&path.to_string_lossy())?;
    conn.batch_execute(&format!(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = {synchronous}; \
         PRAGMA busy_timeout = 10000; CREATE TABLE IF NOT EXISTS bench_events (\
             id INTEGER PRIMARY KEY, body TEXT NOT NULL, created_at TIMESTAMP NOT NULL);"
    ))?;
    let pragmas = sqlite_pragmas(&mut conn)?;
    let shared = web::Data::new(Arc::new(Mutex::new(conn)));
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
        pragmas,
    })
}

/// The real service over a fresh SQLite file holding the demo school.
struct SteadfastApp {
    target: Arc<Target>,
    handle: ServerHandle,
    db: Database,
    pupil_count: usize,
    pragmas: (String, String),
    _dir: tempfile::TempDir,
}

impl SteadfastApp {
    async fn start(parent: &Path, repeat: usize) -> anyhow::Result<SteadfastApp> {
        let dir = tempfile::Builder::new()
            .prefix(&format!("steadfast-{repeat}-"))
            .tempdir_in(parent)?;
        let mut settings = Settings::defaults()?;
        settings.database_url = format!("sqlite://{}", dir.path().join("steadfast.db").display());
        settings.data_dir = dir.path().join("data");
        settings.session_secret = "b".repeat(64) + &steadfast::accounts::random_token();
        let db = Database::open(&settings.database_url, settings.pool_size)?;
        let (pupil_ids, token, pragmas) = {
            let db = db.clone();
            tokio::task::spawn_blocking(move || arrange(&db)).await??
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
            pragmas,
            _dir: dir,
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
/// ids, the token's secret and the connection's durability settings.
fn arrange(db: &Database) -> anyhow::Result<(Vec<i64>, String, (String, String))> {
    match load_demo(db, Utc::now())? {
        DemoOutcome::Loaded(_) => {}
        DemoOutcome::AlreadyLoaded => return Err(anyhow!("the fresh database held a school")),
    }
    let mut conn = db.connection()?;
    let school =
        schools::find_by_code(&mut conn, steadfast::demo::DEMO_CODE)?.context("the demo school")?;
    let row = staff::find_for_login(&mut conn, CLASS_STAFF_EMAIL)?.context("the class staff")?;
    let member =
        staff::get_member(&mut conn, school.id, row.id)?.context("the class staff member")?;
    let token = steadfast::accounts::new_api_token();
    staff::add_token(&mut conn, &member, &token.hash, Utc::now())?;
    let pupil_ids: Vec<i64> = pupils::table
        .filter(pupils::school_id.eq(school.id))
        .select(pupils::id)
        .order(pupils::id)
        .load(&mut *conn)?;
    let pragmas = match &mut *conn {
        DbConnection::Sqlite(sqlite) => sqlite_pragmas(sqlite)?,
        DbConnection::Postgres(_) => return Err(anyhow!("expected SQLite")),
    };
    Ok((pupil_ids, token.secret, pragmas))
}

// ---------------------------------------------------------------------------------------------
// The load generator
// ---------------------------------------------------------------------------------------------

/// One target's figures over one measured window.
#[derive(Debug, Clone)]
struct Measurement {
    name: &'static str,
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

/// Warm-up, then a measured window, at `CONNECTIONS` connections.
async fn drive(target: Arc<Target>, warmup: Duration, window: Duration, tag: u64) -> Measurement {
    drive_with(target, CONNECTIONS, warmup, window, tag).await
}

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

fn print_machine(cpus: usize, dir: &Path, window: Duration, warmup: Duration) {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map(|l| l.trim_start_matches([' ', '\t', ':']).to_string())
        .unwrap_or_else(|| "unknown CPU".into());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let load: Vec<&str> = load.split_whitespace().take(3).collect();
    println!("== Steadfast benchmark: POST {PATH} ==");
    println!(
        "Machine: {cpus} CPU(s), {model}; Linux {}; load average at start {}.",
        kernel.trim(),
        load.join(" ")
    );
    println!(
        "The load generator runs in this process and shares the {cpus} CPU(s) with the server under \
         test: figures are for client + server on one {cpus}-CPU box, not for a server alone."
    );
    println!(
        "Method: {CONNECTIONS} keep-alive HTTP/1.1 connections, closed loop (next request when the \
         last is answered); {}s warm-up then {}s measured per run; {REPEATS} runs interleaved \
         A, B, B', Steadfast; medians of the runs. actix-web workers: default (one per CPU) for all four.",
        warmup.as_secs(),
        window.as_secs()
    );
    println!(
        "SQLite files in {} (filesystem: {}); SQLite {}. Steadfast runs without a tracing \
         subscriber (no request log written).",
        dir.display(),
        filesystem_of(dir),
        sqlite_version()
    );
    println!(
        "Durability: Steadfast and B use WAL + synchronous=FULL, so an acknowledged write survives \
         power loss (B waits for the disk once per insert, Steadfast once per group commit); B' uses \
         synchronous=NORMAL, which survives a crash of the process but can lose the last commits \
         on power loss."
    );
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

fn print_table(results: &[Vec<Measurement>; 4], medians: &[Summary], sizes: &[(usize, i64, i64)]) {
    let labels = [
        "A  actix-web, fixed string",
        "B  actix + 1 insert, sync FULL",
        "B' actix + 1 insert, sync NORMAL",
        "Steadfast POST /api/v1/incidents",
    ];
    println!("\nEach run:");
    println!(
        "{:<34} {:>4} {:>10} {:>9} {:>9} {:>9} {:>8} {:>9}",
        "target", "run", "req/s", "p50 ms", "p99 ms", "max ms", "errors", "other CPU"
    );
    for (label, runs) in labels.iter().zip(results) {
        if runs.is_empty() {
            println!("{label:<34} skipped (BENCH_ONLY)");
        }
        for (i, m) in runs.iter().enumerate() {
            println!(
                "{:<34} {:>4} {:>10.0} {:>9.2} {:>9.2} {:>9.2} {:>8} {:>8.0}%",
                label,
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
    println!(
        "(other CPU: share of the machine's CPU time used by other processes during the window; \
         figures taken while it is high are disturbed.)"
    );
    println!(
        "\nMedians of {REPEATS} runs at {CONNECTIONS} connections (each figure its own median):"
    );
    println!(
        "{:<34} {:>10} {:>9} {:>9} {:>9} {:>8}",
        "target", "req/s", "p50 ms", "p99 ms", "max ms", "errors"
    );
    for (label, s) in labels.iter().zip(medians).filter(|(_, s)| !s.rps.is_nan()) {
        println!(
            "{:<34} {:>10.0} {:>9.2} {:>9.2} {:>9.2} {:>8}",
            label, s.rps, s.p50_ms, s.p99_ms, s.max_ms, s.errors
        );
    }
    let (a, b, b_normal, s) = (&medians[0], &medians[1], &medians[2], &medians[3]);
    for (pupils, before, after) in sizes {
        println!(
            "Data (Steadfast run): demo school, {pupils} pupils; incidents {before} before, {after} after \
             (warm-up included)."
        );
    }
    let share_b = s.rps / b.rps;
    if share_b.is_nan() {
        println!("\nBaselines skipped: no ratios or targets.");
        return;
    }
    println!(
        "\nSteadfast / Baseline B: {:.1}% of requests/s (B p99 {:.2} ms, Steadfast p99 {:.2} ms)",
        share_b * 100.0,
        b.p99_ms,
        s.p99_ms
    );
    println!(
        "Steadfast / Baseline B' (no fsync): {:.1}% of requests/s (B' p99 {:.2} ms)",
        s.rps / b_normal.rps * 100.0,
        b_normal.p99_ms
    );
    println!(
        "Steadfast / Baseline A: {:.1}% of requests/s",
        s.rps / a.rps * 100.0
    );
    println!(
        "Target: Steadfast >= {:.0}% of Baseline B's requests/s ... {:.1}%  {}",
        TARGET_SHARE_OF_B * 100.0,
        share_b * 100.0,
        verdict(share_b >= TARGET_SHARE_OF_B)
    );
    println!(
        "Target: Steadfast p99 < {TARGET_P99_MS:.0} ms at {CONNECTIONS} connections ... {:.2} ms  {}",
        s.p99_ms,
        verdict(s.p99_ms < TARGET_P99_MS)
    );
    let errors: u64 = results.iter().flatten().map(|m| m.errors).sum();
    if errors > 0 {
        println!("Note: {errors} request(s) failed across all runs; see the first errors above.");
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
async fn profile_steadfast(parent: &Path, warmup: Duration) -> anyhow::Result<()> {
    diesel::connection::set_default_instrumentation(probe)?;
    let app = SteadfastApp::start(parent, REPEATS).await?;
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
        "  write transactions (BEGIN IMMEDIATE..COMMIT): {write_txns}, {:.3} ms each, busy {:.0}% \
         of the time (SQLite's single writer); read transactions (auth): {read_txns}, {:.3} ms each",
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
