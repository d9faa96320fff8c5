//! Resident memory of a real `steadfast serve` process (the release binary, started as a
//! child process over the demo school), idle after start-up and under 64-connection load,
//! next to a baseline measured in the same run: a bare actix-web server (this benchmark's
//! own binary started again in a baseline mode) answering every request with a fixed string,
//! under the same load.
//!
//! For each process: VmRSS 3 s after it answers its first request (idle), VmRSS sampled every
//! 100 ms during `BENCH_SECS` (default 20) of load from 64 keep-alive connections (half
//! `POST /api/v1/incidents`, a quarter the Head of Year's inbox page, a quarter a pupil's
//! timeline from the API), VmRSS 3 s after the load stops (steady), and VmHWM, the peak
//! resident size over the process's life. Target (issue 8): under 100 MiB. It prints; it
//! never fails.
//!
//! `cargo bench --bench memory` measures on a temporary SQLite file; under
//! `scripts/with-postgres` it also measures on a throwaway PostgreSQL database.

#[path = "../tests/common/mod.rs"]
mod common;
mod support;

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context};
use diesel::prelude::*;

use common::Engine;
use steadfast::db::schema::{pupils, schools};

/// Set (to the address to bind) when this binary runs as the baseline server.
const BASELINE_VAR: &str = "STEADFAST_BENCH_BASELINE_BIND";
/// Concurrent keep-alive connections during the load.
const CONNECTIONS: usize = 64;
/// Target of issue 8, in MiB.
const TARGET_MIB: f64 = 100.0;
/// Quiet time before the idle reading and after the load.
const SETTLE: Duration = Duration::from_secs(3);
/// How long a process may take to answer its first request.
const START_TIMEOUT: Duration = Duration::from_secs(60);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

fn main() -> anyhow::Result<()> {
    if let Ok(bind) = std::env::var(BASELINE_VAR) {
        return serve_baseline(&bind);
    }
    let secs = support::env_number("BENCH_SECS", 20, 2, 300);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(run(Duration::from_secs(secs)))
}

/// The baseline: actix-web with its default workers, answering every request with "ok".
fn serve_baseline(bind: &str) -> anyhow::Result<()> {
    use actix_web::{web, App, HttpResponse, HttpServer};
    async fn fixed(_body: web::Bytes) -> HttpResponse {
        HttpResponse::Ok().content_type("text/plain").body("ok")
    }
    let bind = bind.to_string();
    actix_web::rt::System::new().block_on(async move {
        HttpServer::new(|| App::new().default_service(web::to(fixed)))
            .bind(bind)?
            .run()
            .await
    })?;
    Ok(())
}

/// What the load sends, and to which process.
struct Target {
    address: String,
    /// A class-staff API token (the baseline ignores it).
    token: String,
    /// The Head of Year 9, signed in (the baseline ignores the cookie).
    head_of_year: reqwest::Client,
    pupil_ids: Vec<i64>,
}

/// The figures of one process.
struct Figures {
    name: String,
    idle_kib: u64,
    load_median_kib: u64,
    load_max_kib: u64,
    after_kib: u64,
    peak_kib: u64,
    /// The most private memory (RssAnon) sampled, under load or after: VmRSS also counts the
    /// database file's pages that SQLite maps into memory, which are the system's file cache.
    private_max_kib: u64,
    requests: u64,
    errors: u64,
    first_error: Option<String>,
}

async fn run(window: Duration) -> anyhow::Result<()> {
    println!("== Steadfast benchmark: resident memory of `steadfast serve` ==");
    println!("Machine: {}.", support::machine());
    println!(
        "Method: each process started fresh; idle = VmRSS {}s after its first answer; load = \
         {CONNECTIONS} keep-alive connections for {}s (1/2 POST /api/v1/incidents, 1/4 GET /inbox \
         as the Head of Year 9, 1/4 GET /api/v1/pupils/ID/timeline), VmRSS sampled every 100 ms; \
         after = VmRSS {}s after the load; peak = VmHWM.",
        SETTLE.as_secs(),
        window.as_secs(),
        SETTLE.as_secs()
    );
    let mut figures = Vec::new();
    let (mut baseline, address) = start_baseline()?;
    let target = Target {
        address,
        token: String::new(),
        head_of_year: reqwest::Client::new(),
        pupil_ids: (1..=1000).collect(),
    };
    figures.push(measure("baseline: bare actix-web", &mut baseline, target, window).await);
    let _ = baseline.kill();
    let _ = baseline.wait();

    let mut engines = vec![Engine::Sqlite];
    if common::postgres_available() {
        engines.push(Engine::Postgres);
    }
    let mut demo_pupils = 0;
    for engine in engines {
        let app = prepared_app(engine).await?;
        let (mut child, address) = start_serve(&app)?;
        wait_until_answering(&address).await?;
        let head_of_year = common::page_client();
        let signed = common::login_at(
            &head_of_year,
            &address,
            "hoy9@demo.example",
            "steadfast-demo",
        )
        .await;
        if !signed.status().is_redirection() {
            println!(
                "signing in as the Head of Year 9 failed: HTTP {}",
                signed.status()
            );
        }
        demo_pupils = app.pupil_ids.len();
        let target = Target {
            address,
            token: app.token.clone(),
            head_of_year,
            pupil_ids: app.pupil_ids.clone(),
        };
        let name = format!("steadfast serve ({})", engine.as_str());
        figures.push(measure(&name, &mut child, target, window).await);
        let _ = child.kill();
        let _ = child.wait();
    }
    print_table(&figures, demo_pupils);
    Ok(())
}

/// A fresh database of `engine` holding the demo school (loaded by `steadfast demo`), with a
/// class-staff API token.
struct PreparedApp {
    app: common::TestApp,
    token: String,
    pupil_ids: Vec<i64>,
}

impl std::ops::Deref for PreparedApp {
    type Target = common::TestApp;
    fn deref(&self) -> &common::TestApp {
        &self.app
    }
}

async fn prepared_app(engine: Engine) -> anyhow::Result<PreparedApp> {
    let mut app = common::spawn_app(engine).await;
    // Only its database is wanted: the process under test serves it.
    app.stop().await;
    let loaded = app.cli(&["demo"], "");
    if !loaded.status.success() {
        return Err(anyhow!(
            "steadfast demo failed: {}",
            String::from_utf8_lossy(&loaded.stderr)
        ));
    }
    let made = app.cli(&["token", "create", "--email", "teacher@demo.example"], "");
    if !made.status.success() {
        return Err(anyhow!(
            "steadfast token create failed: {}",
            String::from_utf8_lossy(&made.stderr)
        ));
    }
    let token = String::from_utf8_lossy(&made.stdout).trim().to_string();
    let pupil_ids: Vec<i64> = pupils::table
        .inner_join(schools::table)
        .filter(schools::code.eq(steadfast::demo::DEMO_CODE))
        .select(pupils::id)
        .order(pupils::id)
        .load(&mut *app.conn())?;
    Ok(PreparedApp {
        app,
        token,
        pupil_ids,
    })
}

/// A loopback address nothing listens on right now.
fn free_address() -> anyhow::Result<String> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.to_string())
}

/// Starts this binary again as the baseline server; answers it and its `http://` address.
fn start_baseline() -> anyhow::Result<(Child, String)> {
    let bind = free_address()?;
    let child = Command::new(std::env::current_exe()?)
        .env(BASELINE_VAR, &bind)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .context("starting the baseline server")?;
    Ok((child, format!("http://{bind}")))
}

/// Starts the release `steadfast serve` over the app's database, logging to nowhere.
fn start_serve(app: &PreparedApp) -> anyhow::Result<(Child, String)> {
    let bind = free_address()?;
    std::fs::create_dir_all(&app.data_dir)?;
    let mut command = Command::new(env!("CARGO_BIN_EXE_steadfast"));
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("STEADFAST_") {
            command.env_remove(name);
        }
    }
    let child = command
        .arg("serve")
        .current_dir(&app.data_dir)
        .env("DATABASE_URL", &app.database_url)
        .env("STEADFAST_DATA_DIR", &app.data_dir)
        .env("STEADFAST_BIND", &bind)
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("starting steadfast serve")?;
    Ok((child, format!("http://{bind}")))
}

async fn wait_until_answering(address: &str) -> anyhow::Result<()> {
    let deadline = Instant::now() + START_TIMEOUT;
    let client = reqwest::Client::new();
    loop {
        if let Ok(answer) = client.get(format!("{address}/health")).send().await {
            if answer.status().is_success() {
                return Ok(());
            }
        }
        if Instant::now() > deadline {
            return Err(anyhow!("{address} did not answer within {START_TIMEOUT:?}"));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A process's memory, in KiB, from one read of its `/proc/PID/status`.
struct Resident {
    /// VmRSS: everything resident, mapped files included.
    now: u64,
    /// VmHWM: the highest VmRSS so far.
    peak: u64,
    /// RssAnon: the private part, the memory the process itself holds.
    private: u64,
}

fn resident_kib(pid: u32) -> Resident {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|kib| kib.parse().ok())
            .unwrap_or(0)
    };
    Resident {
        now: field("VmRSS:"),
        peak: field("VmHWM:"),
        private: field("RssAnon:"),
    }
}

/// Idle, loaded and settled readings of one running process.
async fn measure(name: &str, child: &mut Child, target: Target, window: Duration) -> Figures {
    let pid = child.id();
    let mut figures = Figures {
        name: name.to_string(),
        idle_kib: 0,
        load_median_kib: 0,
        load_max_kib: 0,
        after_kib: 0,
        peak_kib: 0,
        private_max_kib: 0,
        requests: 0,
        errors: 0,
        first_error: None,
    };
    if let Err(e) = wait_until_answering(&target.address).await {
        figures.first_error = Some(e.to_string());
        return figures;
    }
    tokio::time::sleep(SETTLE).await;
    figures.idle_kib = resident_kib(pid).now;

    let target = Arc::new(target);
    let requests = Arc::new(AtomicU64::new(0));
    let end = Instant::now() + window;
    let tasks: Vec<_> = (0..CONNECTIONS)
        .map(|index| tokio::spawn(load(target.clone(), index, end, requests.clone())))
        .collect();
    let mut samples = Vec::new();
    while Instant::now() < end {
        let resident = resident_kib(pid);
        samples.push(resident.now);
        figures.private_max_kib = figures.private_max_kib.max(resident.private);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for task in tasks {
        if let Ok((errors, first)) = task.await {
            figures.errors += errors;
            if figures.first_error.is_none() {
                figures.first_error = first;
            }
        }
    }
    figures.requests = requests.load(Ordering::Relaxed);
    samples.sort_unstable();
    figures.load_median_kib = samples.get(samples.len() / 2).copied().unwrap_or(0);
    figures.load_max_kib = samples.last().copied().unwrap_or(0);
    tokio::time::sleep(SETTLE).await;
    let settled = resident_kib(pid);
    figures.after_kib = settled.now;
    figures.peak_kib = settled.peak;
    figures.private_max_kib = figures.private_max_kib.max(settled.private);
    figures
}

/// One connection's closed loop until `end`; answers its errors and the first one.
async fn load(
    target: Arc<Target>,
    index: usize,
    end: Instant,
    done: Arc<AtomicU64>,
) -> (u64, Option<String>) {
    // One client per connection, so each loop keeps its own keep-alive connection.
    let api = reqwest::Client::new();
    let mut errors = 0;
    let mut first = None;
    let mut sequence = 0usize;
    while Instant::now() < end {
        sequence += 1;
        let pupil =
            target.pupil_ids[(index * 7919 + sequence * 104_729) % target.pupil_ids.len().max(1)];
        let request = match index % 4 {
            0 | 1 => api
                .post(format!("{}/api/v1/incidents", target.address))
                .bearer_auth(&target.token)
                .header("Idempotency-Key", format!("memory-{index}-{sequence}"))
                .json(&serde_json::json!({
                    "pupil_ids": [pupil],
                    "behaviour": "Off task",
                    "response": "prompt",
                })),
            2 => target.head_of_year.get(format!("{}/inbox", target.address)),
            _ => api
                .get(format!("{}/api/v1/pupils/{pupil}/timeline", target.address))
                .bearer_auth(&target.token),
        };
        let outcome = match tokio::time::timeout(REQUEST_TIMEOUT, request.send()).await {
            Ok(Ok(answer)) => {
                let status = answer.status();
                match answer.bytes().await {
                    Ok(_) if status.is_success() => Ok(()),
                    Ok(body) => Err(format!(
                        "HTTP {status}: {}",
                        String::from_utf8_lossy(&body)
                            .chars()
                            .take(160)
                            .collect::<String>()
                    )),
                    Err(e) => Err(e.to_string()),
                }
            }
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err(format!("no answer within {REQUEST_TIMEOUT:?}")),
        };
        match outcome {
            Ok(()) => {
                done.fetch_add(1, Ordering::Relaxed);
            }
            Err(e) => {
                errors += 1;
                first.get_or_insert(e);
            }
        }
    }
    (errors, first)
}

fn mib(kib: u64) -> String {
    format!("{:.1}", kib as f64 / 1024.0)
}

fn print_table(figures: &[Figures], demo_pupils: usize) {
    println!(
        "\nData: the demo school ({demo_pupils} pupils, one term of incidents), loaded by `steadfast demo`."
    );
    println!(
        "\n{:<34} {:>9} {:>11} {:>9} {:>9} {:>9} {:>9} {:>9} {:>7}  target peak < {TARGET_MIB:.0} MiB (VmRSS; private)",
        "process (MiB)", "idle", "load median", "load max", "after", "peak", "private", "requests", "errors"
    );
    for f in figures {
        let peak_mib = f.peak_kib as f64 / 1024.0;
        let private_mib = f.private_max_kib as f64 / 1024.0;
        let mark = if f.name.starts_with("baseline") {
            "baseline".to_string()
        } else {
            format!(
                "{}; {}",
                support::verdict(peak_mib < TARGET_MIB && f.peak_kib > 0),
                support::verdict(private_mib < TARGET_MIB && f.private_max_kib > 0)
            )
        };
        println!(
            "{:<34} {:>9} {:>11} {:>9} {:>9} {:>9} {:>9} {:>9} {:>7}  {mark}",
            f.name,
            mib(f.idle_kib),
            mib(f.load_median_kib),
            mib(f.load_max_kib),
            mib(f.after_kib),
            mib(f.peak_kib),
            mib(f.private_max_kib),
            f.requests,
            f.errors
        );
        if let Some(error) = &f.first_error {
            println!("    first error: {error}");
        }
    }
    println!(
        "(VmRSS counts the pages of the database file SQLite maps into memory (`mmap_size`): \
         they are the system's file cache, shared and given back under memory pressure. \
         \"private\" is the most RssAnon sampled: the memory the process itself holds.)"
    );
}
