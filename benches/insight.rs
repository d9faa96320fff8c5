//! Latency of the insight reports' reads on the demo school (1,000 pupils, a term of
//! incidents), next to a bare baseline measured in the same run: one indexed query listing the
//! school's pupil ids, the least any report does.
//!
//! Each read runs `BENCH_RUNS` times (default 30) after one warm-up; the median and the 95th
//! percentile are printed with the median's ratio to the baseline's. It prints; it never fails.
//!
//! `cargo bench --bench insight` uses a fresh SQLite file; set `BENCH_DATABASE_URL` to a
//! PostgreSQL database that is empty (e.g. one made by `scripts/with-postgres`) to measure it
//! there instead.

use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::{TimeDelta, Utc};

use steadfast::db::evaluation;
use steadfast::db::insight::{self, Scope};
use steadfast::db::{schools, Database, DbConnection};
use steadfast::demo::load::load_demo;
use steadfast::domain::calendar::SchoolCalendar;
use steadfast::domain::insight::{summarise_by, tally, weekly, weekly_flow, Dimension};

/// One measured read: its name and what it does on a connection.
type Read<'a> = (
    &'a str,
    Box<dyn Fn(&mut DbConnection) -> anyhow::Result<usize> + 'a>,
);

fn main() -> anyhow::Result<()> {
    let runs: usize = std::env::var("BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(30)
        .clamp(3, 1000);
    let dir = tempfile::tempdir()?;
    let url = std::env::var("BENCH_DATABASE_URL")
        .unwrap_or_else(|_| format!("sqlite://{}", dir.path().join("insight.db").display()));
    let db = Database::open(&url, 4).context("opening the database")?;
    let now = Utc::now();
    let started = Instant::now();
    load_demo(&db, now).context("loading the demo school")?;
    println!(
        "demo school loaded on {} in {:.1}s",
        db.engine().as_str(),
        started.elapsed().as_secs_f64()
    );
    let mut conn = db.connection()?;
    let school = schools::find_by_code(&mut conn, "DEMO")?.context("the demo school")?;
    let rules = evaluation::load_rules(&mut conn, school.id)?;
    let today = SchoolCalendar::local_date(now);
    let six_weeks = (today - TimeDelta::days(42), today);
    let year_back = (today - TimeDelta::days(365), today);
    let a_pupil = insight::pupils_in(&mut conn, school.id, Scope::Year(9))?
        .first()
        .copied()
        .context("a Year 9 pupil")?;
    let id = school.id;
    let calendar = &rules.calendar;
    let window = rules.policy.impact_window_days;

    let reads: Vec<Read> = vec![
        (
            "baseline: the school's pupil ids",
            Box::new(move |c| Ok(insight::pupils_in(c, id, Scope::School)?.len())),
        ),
        (
            "patterns, whole school, 6 weeks, 7 groupings",
            Box::new(move |c| patterns(c, id, Scope::School, six_weeks)),
        ),
        (
            "patterns, Year 9, 6 weeks, 7 groupings",
            Box::new(move |c| patterns(c, id, Scope::Year(9), six_weeks)),
        ),
        (
            "a pupil's weekly trend, a year",
            Box::new(move |c| {
                let days =
                    insight::daily_counts(c, id, Scope::Pupil(a_pupil), year_back.0, year_back.1)?;
                Ok(weekly(&days, year_back.0, year_back.1).len())
            }),
        ),
        (
            "the ladder: levels now and weekly flow, 12 weeks",
            Box::new(move |c| {
                let from = today - TimeDelta::days(84);
                let levels = insight::pupils_per_level(c, id, Scope::School)?;
                let moves = insight::level_moves(c, id, Scope::School, from, today)?;
                let changes: Vec<_> = moves.iter().map(|m| (m.on, m.from, m.to)).collect();
                let calendar = evaluation::load_rules(c, id)?.calendar;
                Ok(levels.len() + weekly_flow(&changes, from, today, &calendar).len())
            }),
        ),
        (
            "impact of each step, whole school, a year",
            Box::new(move |c| {
                let entries = insight::entries(c, id, Scope::School, year_back, calendar, window)?;
                let steps: Vec<_> = entries.iter().map(|e| e.impact.clone()).collect();
                Ok(summarise_by(&steps, today, |s| Some(s.level)).len())
            }),
        ),
    ];

    let mut baseline = None;
    println!("\n{runs} runs each; median and 95th percentile; ratio = median / baseline median\n");
    println!(
        "{:<48} {:>10} {:>10} {:>8} {:>8}",
        "read", "median", "p95", "ratio", "rows"
    );
    for (name, read) in &reads {
        let rows = read(&mut conn)?;
        let mut times = Vec::with_capacity(runs);
        for _ in 0..runs {
            let start = Instant::now();
            read(&mut conn)?;
            times.push(start.elapsed());
        }
        times.sort();
        let median = times[times.len() / 2];
        let p95 = times[(times.len() * 95 / 100).min(times.len() - 1)];
        let base = *baseline.get_or_insert(median);
        println!(
            "{:<48} {:>10} {:>10} {:>7.1}x {:>8}",
            name,
            millis(median),
            millis(p95),
            median.as_secs_f64() / base.as_secs_f64().max(1e-9),
            rows
        );
    }
    Ok(())
}

/// The reads of one pattern report: the facts, the timetable, every grouping, and the names
/// for two of them.
fn patterns(
    conn: &mut DbConnection,
    school_id: i64,
    scope: Scope,
    (from, to): (chrono::NaiveDate, chrono::NaiveDate),
) -> anyhow::Result<usize> {
    let facts = insight::facts(conn, school_id, scope, from, to)?;
    let pupils = insight::pupils_in(conn, school_id, scope)?;
    let timetable = steadfast::db::timetable::load(conn, school_id)?;
    let groups: usize = Dimension::ALL
        .iter()
        .map(|d| tally(&facts, *d, &timetable).len())
        .sum();
    let pupil_ids: Vec<i64> = facts.iter().map(|f| f.pupil_id).collect();
    let staff_ids: Vec<i64> = facts.iter().map(|f| f.staff_id).collect();
    insight::names(conn, school_id, &pupil_ids, &staff_ids)?;
    Ok(facts.len() + groups + pupils.len())
}

fn millis(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}
