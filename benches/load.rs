//! Logging under report load (issue 19): a teacher's one-tap Coaching Prompt
//! (`POST /api/v1/incidents`) and `GET /health`, timed one after another on an idle server,
//! then again while 16 clients ask for the whole-school pattern report over and over, in the
//! same run on the same server. Reports pass one gate (`Database::report`): at most
//! `reports_per_school` at once (1 by default), on connections of their own; the others are
//! answered 429 "busy". The run counts the reports answered 200, 429, 503 and otherwise.
//! Target: the Prompt's p99 under load within 2x of its p99 idle, and no 503.
//!
//! Before the HTTP runs it times the whole-school report's figures for the last year read both
//! ways on one connection: from the daily groupings (what the page reads) and by counting
//! every incident (the page's former computation).
//!
//! `cargo bench --bench load` loads the ordinary demo into a temporary SQLite file. Set
//! `BENCH_DATABASE_URL` to a generated database (SQLite or PostgreSQL, e.g. one made by
//! `steadfast demo --schools 1 --pupils-per-school 1200 --years 3`) to measure it there; the
//! benchmark adds an API token and the Prompts it logs. `BENCH_PROMPTS` (default 200) Prompts
//! per phase, `BENCH_REPORT_CLIENTS` (default 16) report clients, `BENCH_REPORTS_PER_SCHOOL`
//! (default the setting's, 1) reports of the school at once. It prints; it never fails.

#[path = "../tests/common/mod.rs"]
mod common;
mod support;

use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context};
use chrono::{TimeDelta, Utc};
use diesel::dsl::count_star;
use diesel::prelude::*;

use steadfast::config::Settings;
use steadfast::db::insight::{self, Scope};
use steadfast::db::schema::{incidents, pupils, year_groups};
use steadfast::db::{staff, timetable, Database, DbConnection};
use steadfast::demo::load::{load_demo, DemoOutcome};
use steadfast::demo::DEMO_CODE;
use steadfast::domain::calendar::SchoolCalendar;
use steadfast::web::{self as service, AppState};

use support::{ms, verdict, Spread};

const HEAD_OF_YEAR: &str = "hoy9@demo.example";
const SENDCO: &str = "sendco@demo.example";
const PASSWORD: &str = "steadfast-demo";
const YEAR: i16 = 9;

/// What the benchmark found in the database.
struct Arranged {
    school_id: i64,
    summary: String,
    pupils: Vec<i64>,
    token: String,
}

/// The answers the report clients got.
#[derive(Default)]
struct Tally {
    ok: AtomicU64,
    busy: AtomicU64,
    unavailable: AtomicU64,
    other: AtomicU64,
    ok_nanos: AtomicU64,
}

fn main() -> anyhow::Result<()> {
    let prompts = support::env_number("BENCH_PROMPTS", 200, 10, 100_000) as usize;
    let clients = support::env_number("BENCH_REPORT_CLIENTS", 16, 1, 256) as usize;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(run(prompts, clients))
}

async fn run(prompts: usize, report_clients: usize) -> anyhow::Result<()> {
    println!("== Steadfast benchmark: the Prompt under whole-school report load ==");
    println!("Machine: {}.", support::machine());
    let dir = tempfile::tempdir()?;
    let given = std::env::var("BENCH_DATABASE_URL").ok();
    let url = given
        .clone()
        .unwrap_or_else(|| format!("sqlite://{}", dir.path().join("load.db").display()));
    let mut settings = Settings::defaults()?;
    settings.database_url = url.clone();
    settings.data_dir = dir.path().join("data");
    settings.session_secret = "l".repeat(64) + &steadfast::accounts::random_token();
    settings.reports_per_school = support::env_number(
        "BENCH_REPORTS_PER_SCHOOL",
        settings.reports_per_school as u64,
        1,
        64,
    ) as usize;
    let db = Database::open(&settings.database_url, settings.pool_size)
        .context("opening the database")?;
    let arranged = {
        let db = db.clone();
        let load = given.is_none();
        tokio::task::spawn_blocking(move || arrange(&db, load)).await??
    };
    println!("Data: {}", arranged.summary);
    println!(
        "Settings: pool_size {}, reports_per_school {}, report_time_limit_seconds {}.",
        settings.pool_size, settings.reports_per_school, settings.report_time_limit_seconds
    );

    let today = SchoolCalendar::local_date(Utc::now());
    let from = today - TimeDelta::days(364);
    {
        let db = db.clone();
        let school_id = arranged.school_id;
        tokio::task::spawn_blocking(move || compare_readings(&db, school_id, (from, today)))
            .await??;
    }

    let key = service::session_key(&settings)?;
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let address = format!("http://{}", listener.local_addr()?);
    let server = service::start(
        listener,
        AppState {
            db: db.clone(),
            settings: Arc::new(settings),
        },
        key,
    )?;
    let handle = server.handle();
    tokio::spawn(server);

    let anyone = reqwest::Client::new();
    let sendco = signed_in(&address, SENDCO).await?;
    let report = format!("{address}/insight?scope=school&from={from}&to={today}");
    let started = Instant::now();
    let answer = sendco.get(&report).send().await?;
    let status = answer.status();
    answer.bytes().await?;
    println!(
        "One whole-school pattern report ({from} to {today}) alone: HTTP {status} in {} ms.",
        ms(started.elapsed())
    );

    // Warm up, then the idle phase.
    let mut next = 0usize;
    timed_prompts(&anyone, &address, &arranged, &mut next, 20).await;
    let idle = timed_prompts(&anyone, &address, &arranged, &mut next, prompts).await;

    // The loaded phase: the report clients start, the Prompts are timed again meanwhile.
    let stop = Arc::new(AtomicBool::new(false));
    let tally = Arc::new(Tally::default());
    // The report clients stand for other people's browsers: they run on a runtime of their
    // own, so the Prompt's client never waits behind their tasks (they still share the CPUs).
    let report_runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let mut clients = Vec::new();
    for _ in 0..report_clients {
        let (client, url, stop, tally) =
            (sendco.clone(), report.clone(), stop.clone(), tally.clone());
        clients.push(report_runtime.spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let started = Instant::now();
                let status = match client.get(&url).send().await {
                    Ok(answer) => {
                        let status = answer.status().as_u16();
                        let _ = answer.bytes().await;
                        status
                    }
                    Err(_) => 0,
                };
                match status {
                    200 => {
                        tally.ok.fetch_add(1, Ordering::Relaxed);
                        tally.ok_nanos.fetch_add(
                            u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX),
                            Ordering::Relaxed,
                        );
                    }
                    429 => {
                        tally.busy.fetch_add(1, Ordering::Relaxed);
                        // A client that honours Retry-After would wait seconds; these ask
                        // again soon, to keep the gate under pressure.
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                    503 => {
                        tally.unavailable.fetch_add(1, Ordering::Relaxed);
                    }
                    _ => {
                        tally.other.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let loaded_started = Instant::now();
    let loaded = timed_prompts(&anyone, &address, &arranged, &mut next, prompts).await;
    let loaded_for = loaded_started.elapsed();
    stop.store(true, Ordering::Relaxed);
    for client in clients {
        let _ = client.await;
    }
    report_runtime.shutdown_background();
    handle.stop(true).await;

    println!(
        "\nMethod: {prompts} Prompts one after another (each followed by GET /health), on an idle \
         server, then while {report_clients} clients ask for the whole-school pattern report \
         ({from} to {today}) without pause (50 ms after a 429). Service in this process, {} \
         worker(s); the report clients on a runtime of their own.",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    println!(
        "\n{:<34} {:>8} {:>8} {:>8} {:>8} {:>7}",
        "request", "p50 ms", "p95 ms", "p99 ms", "max ms", "errors"
    );
    let row = |name: &str, times: &[Duration], errors: u64| {
        let s = Spread::of(times);
        println!(
            "{:<34} {:>8} {:>8} {:>8} {:>8} {:>7}",
            name,
            ms(s.p50),
            ms(s.p95),
            ms(s.p99),
            ms(s.max),
            errors
        );
    };
    row("Prompt, idle", &idle.prompt, idle.errors);
    row("Prompt, under report load", &loaded.prompt, loaded.errors);
    row("GET /health, idle", &idle.health, 0);
    row("GET /health, under report load", &loaded.health, 0);
    let p99 = |times: &[Duration]| Spread::of(times).p99.as_secs_f64();
    let ratio = p99(&loaded.prompt) / p99(&idle.prompt).max(1e-9);
    let (ok, busy, unavailable, other) = (
        tally.ok.load(Ordering::Relaxed),
        tally.busy.load(Ordering::Relaxed),
        tally.unavailable.load(Ordering::Relaxed),
        tally.other.load(Ordering::Relaxed),
    );
    let mean_ok = Duration::from_nanos(tally.ok_nanos.load(Ordering::Relaxed) / ok.max(1));
    println!(
        "\nWhole-school reports during the {:.1} s under load: {ok} answered 200 (mean {} ms), \
         {busy} answered 429 busy, {unavailable} answered 503, {other} other.",
        loaded_for.as_secs_f64(),
        ms(mean_ok)
    );
    println!(
        "Prompt p99 under load / idle: {ratio:.2}x (target within 2x): {}; no 503: {}.",
        verdict(ratio <= 2.0),
        verdict(unavailable == 0 && loaded.errors == 0)
    );
    println!("Load average at the end {}.", support::load_average());
    Ok(())
}

/// Timings of one phase.
struct Phase {
    prompt: Vec<Duration>,
    health: Vec<Duration>,
    errors: u64,
}

/// Sends `count` Prompts, each followed by `GET /health`, one after another.
async fn timed_prompts(
    client: &reqwest::Client,
    address: &str,
    arranged: &Arranged,
    next: &mut usize,
    count: usize,
) -> Phase {
    let mut phase = Phase {
        prompt: Vec::with_capacity(count),
        health: Vec::with_capacity(count),
        errors: 0,
    };
    for _ in 0..count {
        let pupil = arranged.pupils[*next % arranged.pupils.len()];
        *next += 1;
        let body = serde_json::json!({
            "pupil_ids": [pupil],
            "behaviour": "Off task",
            "severity": "minor",
            "response": "prompt",
        });
        let started = Instant::now();
        let answer = client
            .post(format!("{address}/api/v1/incidents"))
            .bearer_auth(&arranged.token)
            .json(&body)
            .send()
            .await;
        let ok = match answer {
            Ok(answer) => {
                let status = answer.status();
                let _ = answer.bytes().await;
                status.is_success()
            }
            Err(_) => false,
        };
        if ok {
            phase.prompt.push(started.elapsed());
        } else {
            phase.errors += 1;
        }
        let started = Instant::now();
        if let Ok(answer) = client.get(format!("{address}/health")).send().await {
            let _ = answer.bytes().await;
            phase.health.push(started.elapsed());
        }
    }
    phase
}

/// Times the whole school's figures for `range` from the daily groupings against counting
/// every incident, and checks they agree.
fn compare_readings(
    db: &Database,
    school_id: i64,
    range: (chrono::NaiveDate, chrono::NaiveDate),
) -> anyhow::Result<()> {
    let mut conn = db.connection()?;
    let conn: &mut DbConnection = &mut conn;
    let timetable = timetable::load(conn, school_id)?;
    let mut best = |work: &mut dyn FnMut(
        &mut DbConnection,
    ) -> steadfast::error::Result<insight::Patterns>|
     -> anyhow::Result<(Duration, insight::Patterns)> {
        let mut fastest = Duration::MAX;
        let mut answer = None;
        for _ in 0..5 {
            let started = Instant::now();
            let got = work(conn)?;
            fastest = fastest.min(started.elapsed());
            answer = Some(got);
        }
        Ok((fastest, answer.ok_or_else(|| anyhow!("no answer"))?))
    };
    let (grouped_took, grouped) =
        best(&mut |c| insight::school_patterns(c, school_id, range, &timetable))?;
    let (counted_took, counted) = best(&mut |c| {
        insight::patterns_from_facts(c, school_id, Scope::School, range, &timetable)
    })?;
    println!(
        "Whole-school figures for {} to {} ({} incidents counted): from the daily groupings {} ms, \
         counting every incident {} ms (best of 5); the same figures: {}.",
        range.0,
        range.1,
        counted.total,
        ms(grouped_took),
        ms(counted_took),
        if grouped == counted { "yes" } else { "NO" }
    );
    Ok(())
}

/// A page client signed in through the login form.
async fn signed_in(address: &str, email: &str) -> anyhow::Result<reqwest::Client> {
    let client = common::page_client();
    let answer = common::login_at(&client, address, email, PASSWORD).await;
    let home = common::location(&answer);
    if !answer.status().is_redirection() || home.contains("/login") {
        return Err(anyhow!(
            "signing in as {email} failed: HTTP {}",
            answer.status()
        ));
    }
    Ok(client)
}

/// Loads the demo when asked, then finds the demo school, Year 9's pupils on roll and gives
/// the Head of Year 9 an API token to log Prompts with.
fn arrange(db: &Database, load: bool) -> anyhow::Result<Arranged> {
    if load {
        let started = Instant::now();
        match load_demo(db, Utc::now())? {
            DemoOutcome::Loaded(_) => {}
            DemoOutcome::AlreadyLoaded => return Err(anyhow!("the fresh database held a school")),
        }
        println!(
            "The ordinary demo loaded into a temporary SQLite file in {:.1} s (set \
             BENCH_DATABASE_URL for a generated school).",
            started.elapsed().as_secs_f64()
        );
    }
    let mut conn = db.connection()?;
    let conn: &mut DbConnection = &mut conn;
    let school = steadfast::db::schools::find_by_code(conn, DEMO_CODE)?
        .context("the demo school (DEMO) is not in this database")?;
    let school_pupils: i64 = pupils::table
        .filter(pupils::school_id.eq(school.id))
        .select(count_star())
        .first(conn)?;
    let school_incidents: i64 = incidents::table
        .filter(incidents::school_id.eq(school.id))
        .select(count_star())
        .first(conn)?;
    let year_pupils: Vec<i64> = pupils::table
        .inner_join(year_groups::table)
        .filter(pupils::school_id.eq(school.id))
        .filter(year_groups::year.eq(YEAR))
        .filter(pupils::left_on.is_null())
        .order(pupils::id)
        .select(pupils::id)
        .load(conn)?;
    if year_pupils.is_empty() {
        return Err(anyhow!("no Year {YEAR} pupils on roll"));
    }
    let row = staff::find_for_login(conn, HEAD_OF_YEAR)?.context("the Head of Year 9")?;
    let member = staff::get_member(conn, school.id, row.id)?.context("the Head of Year 9")?;
    let token = steadfast::accounts::new_api_token();
    steadfast::db::tokens::add(conn, &member, &token.hash, "benchmark", None, Utc::now())?;
    let engine = db.engine();
    Ok(Arranged {
        school_id: school.id,
        summary: format!(
            "{} database; the demo school {school_pupils} pupils, {school_incidents} incidents.",
            engine.as_str()
        ),
        pupils: year_pupils,
        token: token.secret,
    })
}
