//! Bringing a school in (issue 14): how long the imports take for a secondary school of
//! 1,500 pupils, 150 staff and two school years of behaviour history (100,000 incidents),
//! beside plain multi-row inserts of the same rows measured in the same run on the same engine.
//!
//! The three files are generated in memory by a seeded generator (the same bytes every run):
//!
//! - pupils, a MIS export like `tests/fixtures/sims-pupils.csv`: Years 7-11, 300 a year in 12
//!   forms (60 forms), 5 houses, valid DfE check letters, SEN codes and dates of birth;
//! - staff like `tests/fixtures/staff.csv`: SLT, admins, a SENDCO, Heads of Year (with their
//!   year group) and of House (with their house), Heads of Department, specialists, teachers;
//! - history like `tests/fixtures/previous-system-history.csv`: incidents on school days
//!   (weekdays outside the holidays) from September 2024 to July 2026, in school hours,
//!   recorded by the staff (by email); spread unevenly over the pupils (a log-normal weight
//!   each, so a few pupils have many), Year 7 only in their own year; two behaviours the
//!   school's list does not hold, so the import adds them.
//!
//! Each run measures, every step in one transaction as the import page runs it:
//!
//! 1. roster: the pupils import (`full`), then the staff import, on an empty school;
//! 2. the same pupils file again, which must change nothing;
//! 3. history: the incidents import with `place` (pupils placed on the ladder), after the
//!    roster; and, on a second fresh database with the same roster, without placement;
//! 4. baselines on a fresh database: plain multi-row inserts (500 rows a statement, one
//!    transaction each) of the same rows: pupils (year groups, forms and houses made first,
//!    untimed), staff with their roles, year groups and houses, incidents with their pupils.
//!
//! Medians over `BENCH_RUNS` runs (default 3) are printed with the ratio to the baseline and
//! the targets of issue 14 (roster under 30 s; history with placement under 60 s). It prints;
//! it never fails the build.
//!
//! - SQLite: `cargo bench --bench imports` (files under the target folder, as deployed:
//!   WAL, `synchronous = FULL`).
//! - PostgreSQL: `BENCH_ENGINE=postgres cargo bench --bench imports`: the bench starts its own
//!   throwaway cluster (the newest `/usr/lib/postgresql/*/bin`, or `BENCH_PG_BIN`), durable
//!   (`fsync`, `synchronous_commit`, `full_page_writes` on), on a free loopback port, as the
//!   `postgres` user when run as root, and removes it at the end.
//!
//! Other settings: `BENCH_RUNS`, `BENCH_INCIDENTS` (history size, default 100,000),
//! `BENCH_SQL_PROFILE=1` (one more run with every statement timed, then the costliest
//! statements of each step; its times are not comparable with the table).

mod support;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use chrono::{DateTime, Datelike, NaiveDate, TimeZone, Utc, Weekday};
use diesel::connection::{Instrumentation, InstrumentationEvent, SimpleConnection};
use diesel::prelude::*;
use diesel::sql_types::Text;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use steadfast::config::Settings;
use steadfast::db::schema::{
    incident_pupils, incidents, pupils, staff, staff_houses, staff_roles, staff_year_groups,
};
use steadfast::db::{schools, to_db_time, write_transaction, Database, DbConnection, Engine};
use steadfast::domain::details::{FormName, SchoolCode, YearNumber};
use steadfast::domain::roster::upn_check_letter;
use steadfast::imports::{self, ImportKind, ImportOptions, ImportReport};

const PUPILS: usize = 1_500;
const YEARS: [i16; 5] = [7, 8, 9, 10, 11];
const FORMS_PER_YEAR: usize = 12;
const HOUSES: [&str; 5] = ["Austen", "Brontë", "Eliot", "Shelley", "Woolf"];
const STAFF: usize = 150;
const DEFAULT_INCIDENTS: usize = 100_000;
const SEED: u64 = 14;
/// Rows a baseline statement writes (as the history import does).
const CHUNK: usize = 500;
/// Targets of issue 14.
const ROSTER_TARGET_SECS: f64 = 30.0;
const HISTORY_TARGET_SECS: f64 = 60.0;

/// The clock every import is given: after the last incident, end of the summer term 2026.
fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 7, 31, 16, 0, 0)
        .single()
        .expect("a valid instant")
}

fn main() -> anyhow::Result<()> {
    diesel::connection::set_default_instrumentation(probe)?;
    let plan = Plan::from_env()?;
    let started = Instant::now();
    // Databases go under target/ (a real disk, like a deployment), not a RAM-backed /tmp.
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR"))?;
    let store = Store::open(plan.engine, dir.path())?;
    let outcome = run(&plan, &store, dir.path());
    // The PostgreSQL cluster is stopped and its files removed whatever happened.
    drop(store);
    outcome?;
    println!(
        "\nTotal benchmark time: {:.0} s; load average at the end {}.",
        started.elapsed().as_secs_f64(),
        support::load_average()
    );
    Ok(())
}

/// What to measure, read from the environment.
struct Plan {
    engine: Engine,
    runs: usize,
    incidents: usize,
    profile: bool,
}

impl Plan {
    fn from_env() -> anyhow::Result<Plan> {
        let engine = match env_text("BENCH_ENGINE").as_deref() {
            None | Some("sqlite") => Engine::Sqlite,
            Some("postgres") | Some("postgresql") => Engine::Postgres,
            Some(other) => bail!("BENCH_ENGINE must be sqlite or postgres, not {other:?}"),
        };
        Ok(Plan {
            engine,
            runs: support::env_number("BENCH_RUNS", 3, 1, 20) as usize,
            incidents: support::env_number(
                "BENCH_INCIDENTS",
                DEFAULT_INCIDENTS as u64,
                1,
                2_000_000,
            ) as usize,
            profile: env_text("BENCH_SQL_PROFILE").is_some_and(|v| v != "0"),
        })
    }
}

fn env_text(name: &str) -> Option<String> {
    std::env::var(name)
        .ok()
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

fn engine_name(engine: Engine) -> &'static str {
    match engine {
        Engine::Sqlite => "SQLite",
        Engine::Postgres => "PostgreSQL",
    }
}

fn run(plan: &Plan, store: &Store, dir: &Path) -> anyhow::Result<()> {
    println!(
        "== Steadfast benchmark: bringing a school in, on {} ==",
        engine_name(plan.engine)
    );
    println!("Machine: {}.", support::machine());
    match store {
        Store::Sqlite { .. } => println!(
            "SQLite files in {} (WAL, synchronous=FULL, as Steadfast opens them).",
            dir.display()
        ),
        Store::Postgres(cluster) => println!(
            "PostgreSQL: {} started for this run in {}, port {}; {}.",
            cluster.version,
            cluster.dir.display(),
            cluster.port,
            cluster.settings()
        ),
    }
    let generating = Instant::now();
    let files = Files::generate(plan.incidents);
    println!(
        "Data (generated, seed {SEED}, {:.1} s): {}",
        generating.elapsed().as_secs_f64(),
        files.describe()
    );
    println!(
        "Method: {} run(s), medians; each step one transaction (BEGIN IMMEDIATE on SQLite) \
         including its commit; a fresh database for the imports with placement, one for the \
         history without placement, one for the baselines. Clock given to the imports: {}.",
        plan.runs,
        now().format("%Y-%m-%d %H:%M UTC")
    );

    let mut rounds = Vec::new();
    for index in 0..plan.runs {
        let round = measure(store, &files, index)?;
        eprintln!(
            "  run {}: pupils {:.2} s, staff {:.2} s, again {:.2} s, history+place {:.2} s, \
             history {:.2} s; baselines {:.2} / {:.2} / {:.2} s (load {})",
            index + 1,
            round.pupils.secs,
            round.staff.secs,
            round.again.secs,
            round.history_placed.secs,
            round.history_plain.secs,
            round.base_pupils.secs,
            round.base_staff.secs,
            round.base_incidents.secs,
            support::load_average()
        );
        rounds.push(round);
    }
    print_table(plan, &files, &rounds);
    if plan.profile {
        profile(store, &files)?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// The files, generated in memory
// ---------------------------------------------------------------------------------------------

struct Files {
    pupils: Vec<u8>,
    staff: Vec<u8>,
    history: Vec<u8>,
    /// Generated pupils and staff, for the baselines.
    pupil_rows: Vec<PupilRow>,
    staff_rows: Vec<StaffRow>,
    /// Each incident: pupil index, staff index, when (UTC), behaviour, severity, and the
    /// import key the history import gives it (so the baseline writes the same rows).
    incident_rows: Vec<IncidentRow>,
    /// Incidents per pupil, sorted descending (for the description).
    per_pupil: Vec<usize>,
    school_days: usize,
}

struct PupilRow {
    upn: String,
    given: String,
    family: String,
    year: i16,
    form: String,
    house: &'static str,
    sen: &'static str,
    born: NaiveDate,
}

struct StaffRow {
    email: String,
    name: String,
    roles: Vec<&'static str>,
    years: Vec<i16>,
    houses: Vec<&'static str>,
}

struct IncidentRow {
    pupil: usize,
    staff: usize,
    at: DateTime<Utc>,
    behaviour: &'static str,
    serious: bool,
    location: &'static str,
    lesson: &'static str,
    note: &'static str,
}

const GIVEN: [&str; 30] = [
    "Oliver", "Amelia", "Noah", "Isla", "Muhammad", "Ava", "George", "Olivia", "Leo", "Freya",
    "Arthur", "Lily", "Oscar", "Mia", "Harry", "Sofia", "Zainab", "Chloë", "Siobhán", "Jürgen",
    "Aarav", "Maya", "Kwame", "Anaïs", "Tomás", "Grace", "Ethan", "Ruby", "Yusuf", "Evie",
];
const FAMILY: [&str; 30] = [
    "Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Johnson", "Davies", "Patel",
    "Khan", "Robinson", "Wright", "Thompson", "Evans", "Walker", "O'Connor", "Nguyễn", "Müller",
    "D'Arcy", "Okafor", "Begum", "Hussain", "Kowalski", "Murphy", "Lewis", "Clarke", "Hughes",
    "Edwards", "Green", "Hall",
];
/// Behaviours as the old system names them, with a weight and whether serious; the last two
/// are not on the school's default list.
const BEHAVIOURS: [(&str, u32, bool); 16] = [
    ("Low-level disruption", 200, false),
    ("Off task", 200, false),
    ("Calling out", 140, false),
    ("Late to lesson", 120, false),
    ("Equipment missing", 100, false),
    ("Phone out", 80, false),
    ("Unkind words", 50, false),
    ("Refusal to follow instruction", 50, false),
    ("Leaving lesson without permission", 20, false),
    ("Rough play", 20, false),
    ("Swearing at an adult", 10, true),
    ("Physical aggression", 5, true),
    ("Bullying", 3, true),
    ("Damage to property", 2, true),
    ("Défiance", 5, false),
    ("Truancy", 5, true),
];
const LOCATIONS: [&str; 8] = [
    "Room 12",
    "Room 3",
    "Science lab 2",
    "Corridor",
    "Playground",
    "Canteen",
    "Sports hall",
    "Library",
];
const LESSONS: [&str; 10] = [
    "Maths",
    "English",
    "Science",
    "History",
    "Geography",
    "French",
    "PE",
    "Art",
    "Music",
    "Computing",
];
const NOTES: [&str; 6] = [
    "Turned away from the board",
    "Refused to move on, then apologised",
    "Talking over the teacher, twice",
    "Left the room without asking; came back after 5 minutes",
    "Phone confiscated, returned at the end of the day",
    "Pushed in the queue",
];
/// A day as (year, month, day).
type Ymd = (i32, u32, u32);
/// Holidays (inclusive) between 2 September 2024 and 22 July 2026, roughly an English LA's.
const HOLIDAYS: [(Ymd, Ymd); 11] = [
    ((2024, 10, 28), (2024, 11, 1)),
    ((2024, 12, 23), (2025, 1, 3)),
    ((2025, 2, 17), (2025, 2, 21)),
    ((2025, 4, 7), (2025, 4, 21)),
    ((2025, 5, 26), (2025, 5, 30)),
    ((2025, 7, 23), (2025, 9, 2)),
    ((2025, 10, 27), (2025, 10, 31)),
    ((2025, 12, 22), (2026, 1, 2)),
    ((2026, 2, 16), (2026, 2, 20)),
    ((2026, 3, 30), (2026, 4, 10)),
    ((2026, 5, 25), (2026, 5, 29)),
];

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("a valid date")
}

fn ascii_lower(text: &str) -> String {
    text.chars()
        .filter(char::is_ascii_alphabetic)
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

fn csv_bytes(header: &[&str], rows: impl Iterator<Item = Vec<String>>) -> Vec<u8> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record(header).expect("in memory");
    for row in rows {
        writer.write_record(&row).expect("in memory");
    }
    writer.into_inner().expect("in memory")
}

impl Files {
    fn generate(incident_count: usize) -> Files {
        let mut rng = StdRng::seed_from_u64(SEED);
        let pupil_rows: Vec<PupilRow> = (0..PUPILS)
            .map(|i| {
                let rest = format!("8202001{:05}", i + 1);
                let check = upn_check_letter(&rest).expect("12 digits");
                let year = YEARS[i * YEARS.len() / PUPILS];
                let form = format!(
                    "{year}{}",
                    (b'A' + rng.random_range(0..FORMS_PER_YEAR) as u8) as char
                );
                // Year 7 of 2025-26 was born between September 2013 and August 2014.
                let born = date(2013 - i32::from(year - 7), 9, 1)
                    + chrono::Days::new(rng.random_range(0..365));
                let sen = match rng.random_range(0..100) {
                    0..85 => "N",
                    85..97 => "K",
                    _ => "E",
                };
                PupilRow {
                    upn: format!("{check}{rest}"),
                    given: GIVEN[rng.random_range(0..GIVEN.len())].to_string(),
                    family: FAMILY[rng.random_range(0..FAMILY.len())].to_string(),
                    year,
                    form,
                    house: HOUSES[rng.random_range(0..HOUSES.len())],
                    sen,
                    born,
                }
            })
            .collect();
        let pupils = csv_bytes(
            &[
                "UPN",
                "Legal Surname",
                "Legal Forename",
                "Preferred Forename",
                "Year",
                "Reg Group",
                "House",
                "SEN Status",
                "DOB",
            ],
            pupil_rows.iter().enumerate().map(|(i, p)| {
                vec![
                    p.upn.clone(),
                    p.family.clone(),
                    p.given.clone(),
                    if i % 10 == 3 {
                        GIVEN[(i * 7) % GIVEN.len()].to_string()
                    } else {
                        String::new()
                    },
                    format!("Year {}", p.year),
                    p.form.clone(),
                    p.house.to_string(),
                    p.sen.to_string(),
                    p.born.format("%d/%m/%Y").to_string(),
                ]
            }),
        );

        let staff_rows: Vec<StaffRow> = (0..STAFF)
            .map(|i| {
                let given = GIVEN[rng.random_range(0..GIVEN.len())];
                let family = FAMILY[rng.random_range(0..FAMILY.len())];
                let (roles, years, houses): (Vec<&'static str>, Vec<i16>, Vec<&'static str>) =
                    match i {
                        0..6 => (vec!["SLT"], vec![], vec![]),
                        6 => (vec!["SLT", "Admin"], vec![], vec![]),
                        7 => (vec!["Admin"], vec![], vec![]),
                        8 => (vec!["SENDCO"], vec![], vec![]),
                        9..14 => (vec!["Teacher", "Head of Year"], vec![YEARS[i - 9]], vec![]),
                        14..19 => (
                            vec!["Teacher", "Head of House"],
                            vec![],
                            vec![HOUSES[i - 14]],
                        ),
                        19..31 => (vec!["Teacher", "Head of Department"], vec![], vec![]),
                        31..37 => (vec!["Specialist"], vec![], vec![]),
                        37..52 => (vec!["Teaching Assistant"], vec![], vec![]),
                        _ => (vec!["Teacher"], vec![], vec![]),
                    };
                StaffRow {
                    email: format!(
                        "{}.{}{}@parkside.example",
                        ascii_lower(given).chars().next().unwrap_or('x'),
                        ascii_lower(family),
                        i + 1
                    ),
                    name: format!("{given} {family}"),
                    roles,
                    years,
                    houses,
                }
            })
            .collect();
        let staff = csv_bytes(
            &[
                "Title",
                "Forename",
                "Surname",
                "Work Email",
                "Roles",
                "Year Groups",
                "Houses",
            ],
            staff_rows.iter().enumerate().map(|(i, s)| {
                let (given, family) = s.name.split_once(' ').unwrap_or((&s.name, ""));
                vec![
                    ["Mr", "Ms", "Mrs", "Dr", "Mx"][i % 5].to_string(),
                    given.to_string(),
                    family.to_string(),
                    s.email.clone(),
                    s.roles.join(", "),
                    s.years
                        .iter()
                        .map(|y| format!("Year {y}"))
                        .collect::<Vec<_>>()
                        .join(";"),
                    s.houses.join(";"),
                ]
            }),
        );

        // School days: weekdays outside the holidays, 2 September 2024 to 22 July 2026.
        let holidays: Vec<(NaiveDate, NaiveDate)> = HOLIDAYS
            .iter()
            .map(|&((a, b, c), (d, e, f))| (date(a, b, c), date(d, e, f)))
            .collect();
        let days: Vec<NaiveDate> = date(2024, 9, 2)
            .iter_days()
            .take_while(|d| *d <= date(2026, 7, 22))
            .filter(|d| !matches!(d.weekday(), Weekday::Sat | Weekday::Sun))
            .filter(|d| !holidays.iter().any(|(from, to)| from <= d && d <= to))
            .collect();
        let second_year = days.partition_point(|d| *d < date(2025, 9, 1));
        // A log-normal weight each pupil (Box-Muller): a few pupils have many incidents.
        let mut cumulative = Vec::with_capacity(PUPILS);
        let mut total = 0.0;
        for _ in 0..PUPILS {
            let (u1, u2): (f64, f64) = (rng.random::<f64>().max(1e-12), rng.random());
            let z = (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos();
            total += (1.2 * z).exp();
            cumulative.push(total);
        }
        // Recorders: teachers and teaching assistants three times as often as the others;
        // administrators never.
        let recorder_weights: Vec<u32> = staff_rows
            .iter()
            .map(|s| {
                if s.roles == ["Admin"] || s.roles.contains(&"Admin") {
                    0
                } else if s.roles.contains(&"Teacher") || s.roles.contains(&"Teaching Assistant") {
                    3
                } else {
                    1
                }
            })
            .collect();
        let recorder_total: u32 = recorder_weights.iter().sum();
        let behaviour_total: u32 = BEHAVIOURS.iter().map(|b| b.1).sum();
        let london = chrono_tz::Europe::London;
        let mut incident_rows: Vec<IncidentRow> = (0..incident_count)
            .map(|_| {
                let pick = rng.random::<f64>() * total;
                let pupil = cumulative.partition_point(|c| *c < pick).min(PUPILS - 1);
                let first = if pupil_rows[pupil].year == 7 {
                    second_year
                } else {
                    0
                };
                let day = days[rng.random_range(first..days.len())];
                let minute = rng.random_range(8 * 60 + 45..15 * 60 + 15);
                let local = day
                    .and_hms_opt(minute / 60, minute % 60, 0)
                    .expect("a valid time");
                let at = london
                    .from_local_datetime(&local)
                    .earliest()
                    .expect("school hours exist in London")
                    .with_timezone(&Utc);
                let mut r = rng.random_range(0..recorder_total);
                let staff = recorder_weights
                    .iter()
                    .position(|w| {
                        if r < *w {
                            true
                        } else {
                            r -= w;
                            false
                        }
                    })
                    .unwrap_or(STAFF - 1);
                let mut b = rng.random_range(0..behaviour_total);
                let (behaviour, _, serious) = *BEHAVIOURS
                    .iter()
                    .find(|(_, w, _)| {
                        if b < *w {
                            true
                        } else {
                            b -= w;
                            false
                        }
                    })
                    .unwrap_or(&BEHAVIOURS[0]);
                let in_lesson = rng.random_bool(0.8);
                IncidentRow {
                    pupil,
                    staff,
                    at,
                    behaviour,
                    serious,
                    location: LOCATIONS[rng.random_range(0..LOCATIONS.len())],
                    lesson: if in_lesson {
                        LESSONS[rng.random_range(0..LESSONS.len())]
                    } else {
                        ""
                    },
                    note: if rng.random_bool(0.15) {
                        NOTES[rng.random_range(0..NOTES.len())]
                    } else {
                        ""
                    },
                }
            })
            .collect();
        incident_rows.sort_by_key(|r| r.at);
        let history = csv_bytes(
            &[
                "Date",
                "Time",
                "UPN",
                "Type",
                "Recorded By",
                "Location",
                "Subject",
                "Comment",
                "Severity",
            ],
            incident_rows.iter().map(|r| {
                let local = r.at.with_timezone(&london);
                vec![
                    local.format("%d/%m/%Y").to_string(),
                    local.format("%H:%M").to_string(),
                    pupil_rows[r.pupil].upn.clone(),
                    r.behaviour.to_string(),
                    staff_rows[r.staff].email.clone(),
                    r.location.to_string(),
                    r.lesson.to_string(),
                    r.note.to_string(),
                    if r.serious { "Serious" } else { "" }.to_string(),
                ]
            }),
        );
        let mut per_pupil = vec![0usize; PUPILS];
        for r in &incident_rows {
            per_pupil[r.pupil] += 1;
        }
        per_pupil.sort_unstable_by(|a, b| b.cmp(a));
        Files {
            pupils,
            staff,
            history,
            pupil_rows,
            staff_rows,
            incident_rows,
            per_pupil,
            school_days: days.len(),
        }
    }

    fn describe(&self) -> String {
        let with_any = self.per_pupil.iter().filter(|n| **n > 0).count();
        let forms: std::collections::HashSet<&str> =
            self.pupil_rows.iter().map(|p| p.form.as_str()).collect();
        let top_ten: usize = self.per_pupil.iter().take(PUPILS / 100).sum();
        format!(
            "{} pupils in Years 7-11 ({} forms, {} houses; file {} KB); {} staff (file {} KB); \
             {} incidents on {} school days, Sept 2024 - July 2026 (file {} KB): per pupil most \
             {}, 99th percentile {}, median {}, least {}; {} pupils with any; the top 1% of \
             pupils hold {:.1}% of the incidents",
            self.pupil_rows.len(),
            forms.len(),
            HOUSES.len(),
            self.pupils.len() / 1024,
            self.staff_rows.len(),
            self.staff.len() / 1024,
            self.incident_rows.len(),
            self.school_days,
            self.history.len() / 1024,
            self.per_pupil.first().copied().unwrap_or(0),
            self.per_pupil.get(PUPILS / 100).copied().unwrap_or(0),
            self.per_pupil.get(PUPILS / 2).copied().unwrap_or(0),
            self.per_pupil.last().copied().unwrap_or(0),
            with_any,
            top_ten as f64 * 100.0 / self.incident_rows.len().max(1) as f64,
        )
    }
}

// ---------------------------------------------------------------------------------------------
// One run
// ---------------------------------------------------------------------------------------------

/// One step's time and how many SQL statements it sent (BEGIN and COMMIT included).
#[derive(Debug, Clone, Copy, Default)]
struct Step {
    secs: f64,
    statements: u64,
}

#[derive(Debug, Clone, Default)]
struct Round {
    pupils: Step,
    staff: Step,
    again: Step,
    history_placed: Step,
    history_plain: Step,
    base_pupils: Step,
    base_staff: Step,
    base_incidents: Step,
    /// Reports of the first run's imports, printed under the table.
    reports: Vec<(&'static str, ImportReport)>,
    /// Incidents stored after each history import, and pupils after the second roll.
    stored_incidents: (i64, i64),
    stored_pupils: i64,
}

/// Times `work` in one write transaction on `conn`, counting its statements.
fn timed<T>(
    conn: &mut DbConnection,
    work: impl FnOnce(&mut DbConnection) -> steadfast::error::Result<T>,
) -> anyhow::Result<(Step, T)> {
    let before = STATEMENT_COUNT.load(Ordering::Relaxed);
    let started = Instant::now();
    let value = write_transaction(conn, work)?;
    let secs = started.elapsed().as_secs_f64();
    let statements = STATEMENT_COUNT.load(Ordering::Relaxed) - before;
    Ok((Step { secs, statements }, value))
}

fn import(
    conn: &mut DbConnection,
    kind: ImportKind,
    school_id: i64,
    file: &[u8],
    options: &ImportOptions,
) -> anyhow::Result<(Step, ImportReport)> {
    let (step, report) = timed(conn, |conn| {
        imports::run(kind, conn, school_id, None, file, options, now())
    })?;
    if !report.errors.is_empty() || !report.applied {
        bail!(
            "the {} import was refused: {:?}",
            kind.as_str(),
            report.errors.iter().take(5).collect::<Vec<_>>()
        );
    }
    Ok((step, report))
}

/// A fresh database with an empty school; answers the database and the school's id.
fn fresh_school(store: &Store, name: &str) -> anyhow::Result<(Database, i64)> {
    let db = Database::open(&store.fresh_database(name)?, 2)?;
    let mut conn = db.connection()?;
    let code = SchoolCode::parse("PARKSIDE").map_err(|e| anyhow::anyhow!(e.message))?;
    let school = write_transaction(&mut conn, |conn| {
        schools::create(conn, &code, "Parkside Academy", now())
    })?;
    Ok((db, school.id))
}

fn options(settings: &Settings) -> (ImportOptions, ImportOptions, ImportOptions, ImportOptions) {
    let base = ImportOptions::for_settings(settings);
    (
        // The MIS export is the whole roll.
        ImportOptions {
            full: true,
            ..base.clone()
        },
        base.clone(),
        ImportOptions {
            place: true,
            ..base.clone()
        },
        base,
    )
}

fn count(conn: &mut DbConnection, what: &str) -> anyhow::Result<i64> {
    Ok(match what {
        "incidents" => incidents::table.count().get_result(conn)?,
        _ => pupils::table.count().get_result(conn)?,
    })
}

fn measure(store: &Store, files: &Files, index: usize) -> anyhow::Result<Round> {
    let settings = Settings::defaults()?;
    let (roll, staff_options, placed, plain) = options(&settings);
    let mut round = Round::default();

    // 1-3: roster, the same roll again, history with placement.
    let name = format!("import_placed_{index}");
    let (db, school_id) = fresh_school(store, &name)?;
    {
        let mut conn = db.connection()?;
        let (step, report) = import(
            &mut conn,
            ImportKind::Pupils,
            school_id,
            &files.pupils,
            &roll,
        )?;
        round.pupils = step;
        round.reports.push(("pupils", report));
        let (step, report) = import(
            &mut conn,
            ImportKind::Staff,
            school_id,
            &files.staff,
            &staff_options,
        )?;
        round.staff = step;
        round.reports.push(("staff", report));
        let (step, report) = import(
            &mut conn,
            ImportKind::Pupils,
            school_id,
            &files.pupils,
            &roll,
        )?;
        round.again = step;
        round.reports.push(("pupils again", report));
        round.stored_pupils = count(&mut conn, "pupils")?;
        let (step, report) = import(
            &mut conn,
            ImportKind::Incidents,
            school_id,
            &files.history,
            &placed,
        )?;
        round.history_placed = step;
        round.reports.push(("history with placement", report));
        round.stored_incidents.0 = count(&mut conn, "incidents")?;
    }
    drop(db);
    store.remove(&name)?;

    // History without placement, after the same roster (untimed).
    let name = format!("import_plain_{index}");
    let (db, school_id) = fresh_school(store, &name)?;
    {
        let mut conn = db.connection()?;
        import(
            &mut conn,
            ImportKind::Pupils,
            school_id,
            &files.pupils,
            &roll,
        )?;
        import(
            &mut conn,
            ImportKind::Staff,
            school_id,
            &files.staff,
            &staff_options,
        )?;
        let (step, report) = import(
            &mut conn,
            ImportKind::Incidents,
            school_id,
            &files.history,
            &plain,
        )?;
        round.history_plain = step;
        round.reports.push(("history without placement", report));
        round.stored_incidents.1 = count(&mut conn, "incidents")?;
    }
    drop(db);
    store.remove(&name)?;

    // 4: baselines.
    let name = format!("baseline_{index}");
    let (db, school_id) = fresh_school(store, &name)?;
    {
        let mut conn = db.connection()?;
        baselines(&mut conn, school_id, files, &mut round)?;
    }
    drop(db);
    store.remove(&name)?;
    Ok(round)
}

// ---------------------------------------------------------------------------------------------
// Baselines: plain multi-row inserts of the same rows
// ---------------------------------------------------------------------------------------------

/// Runs one multi-row insert on either engine (diesel builds them per backend).
macro_rules! insert_rows {
    ($conn:expr, $table:expr, $rows:expr) => {
        match $conn {
            DbConnection::Sqlite(c) => diesel::insert_into($table).values($rows).execute(c),
            DbConnection::Postgres(c) => diesel::insert_into($table).values($rows).execute(c),
        }
    };
}

fn next_id(conn: &mut DbConnection, table: &str) -> anyhow::Result<i64> {
    #[derive(QueryableByName)]
    struct Max {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        id: i64,
    }
    Ok(diesel::sql_query(format!(
        "SELECT COALESCE(MAX(id), 0) + 1 AS id FROM {table}"
    ))
    .get_result::<Max>(conn)?
    .id)
}

fn baselines(
    conn: &mut DbConnection,
    school_id: i64,
    files: &Files,
    round: &mut Round,
) -> anyhow::Result<()> {
    let stamp = to_db_time(now());
    // Year groups, forms and houses first, untimed (the import makes them as it goes).
    let (years, forms, houses) = write_transaction(conn, |conn| {
        let mut years = HashMap::new();
        let mut forms = HashMap::new();
        let mut houses = HashMap::new();
        for p in &files.pupil_rows {
            if let std::collections::hash_map::Entry::Vacant(entry) = years.entry(p.year) {
                let number = YearNumber::new(i64::from(p.year)).map_err(|e| {
                    steadfast::error::Error::Internal(format!("year: {}", e.message))
                })?;
                entry.insert(schools::year_group(conn, school_id, number)?);
            }
            if !forms.contains_key(&p.form) {
                let name = FormName::parse(&p.form).map_err(|e| {
                    steadfast::error::Error::Internal(format!("form: {}", e.message))
                })?;
                let form = schools::form(conn, &years[&p.year], &name)?;
                forms.insert(p.form.clone(), form.id);
            }
            if !houses.contains_key(p.house) {
                houses.insert(p.house, schools::house(conn, school_id, p.house)?);
            }
        }
        Ok((years, forms, houses))
    })?;

    let first_pupil = next_id(conn, "pupils")?;
    let (step, ()) = timed(conn, |conn| {
        for (n, chunk) in files.pupil_rows.chunks(CHUNK).enumerate() {
            let rows: Vec<_> = chunk
                .iter()
                .enumerate()
                .map(|(i, p)| {
                    (
                        pupils::id.eq(first_pupil + (n * CHUNK + i) as i64),
                        pupils::school_id.eq(school_id),
                        pupils::upn.eq(p.upn.as_str()),
                        pupils::given_name.eq(p.given.as_str()),
                        pupils::family_name.eq(p.family.as_str()),
                        pupils::year_group_id.eq(years[&p.year].id),
                        pupils::form_id.eq(forms[&p.form]),
                        pupils::house_id.eq(Some(houses[p.house])),
                        pupils::sen_status.eq(match p.sen {
                            "K" => "sen_support",
                            "E" => "ehcp",
                            _ => "none",
                        }),
                        pupils::date_of_birth.eq(Some(p.born)),
                        pupils::level.eq(0i16),
                        pupils::level_since.eq(stamp),
                        pupils::created_at.eq(stamp),
                    )
                })
                .collect();
            insert_rows!(conn, pupils::table, rows)?;
        }
        Ok(())
    })?;
    round.base_pupils = step;

    let first_staff = next_id(conn, "staff")?;
    let role_code = |role: &str| match role {
        "SLT" => "slt",
        "Admin" => "admin",
        "SENDCO" => "sendco",
        "Head of Year" | "Head of House" => "pastoral_lead",
        "Head of Department" => "hod",
        "Specialist" => "specialist",
        _ => "class_staff",
    };
    let (step, ()) = timed(conn, |conn| {
        for (n, chunk) in files.staff_rows.chunks(CHUNK).enumerate() {
            let id = |i: usize| first_staff + (n * CHUNK + i) as i64;
            let rows: Vec<_> = chunk
                .iter()
                .enumerate()
                .map(|(i, s)| {
                    (
                        staff::id.eq(id(i)),
                        staff::school_id.eq(school_id),
                        staff::email.eq(s.email.as_str()),
                        staff::name.eq(s.name.as_str()),
                        staff::password_hash.eq(None::<String>),
                        staff::active.eq(true),
                        staff::created_at.eq(stamp),
                    )
                })
                .collect();
            insert_rows!(conn, staff::table, rows)?;
            let mut roles = Vec::new();
            let mut year_links = Vec::new();
            let mut house_links = Vec::new();
            for (i, s) in chunk.iter().enumerate() {
                let mut codes: Vec<&str> = s.roles.iter().map(|r| role_code(r)).collect();
                codes.sort_unstable();
                codes.dedup();
                for code in codes {
                    roles.push((
                        staff_roles::staff_id.eq(id(i)),
                        staff_roles::role.eq(code),
                        staff_roles::school_id.eq(school_id),
                    ));
                }
                for year in &s.years {
                    year_links.push((
                        staff_year_groups::staff_id.eq(id(i)),
                        staff_year_groups::year_group_id.eq(years[year].id),
                        staff_year_groups::school_id.eq(school_id),
                    ));
                }
                for house in &s.houses {
                    house_links.push((
                        staff_houses::staff_id.eq(id(i)),
                        staff_houses::house_id.eq(houses[house]),
                        staff_houses::school_id.eq(school_id),
                    ));
                }
            }
            insert_rows!(conn, staff_roles::table, roles)?;
            if !year_links.is_empty() {
                insert_rows!(conn, staff_year_groups::table, year_links)?;
            }
            if !house_links.is_empty() {
                insert_rows!(conn, staff_houses::table, house_links)?;
            }
        }
        Ok(())
    })?;
    round.base_staff = step;

    let first_incident = next_id(conn, "incidents")?;
    // The same import keys the history import computes, read from the same file.
    let (records, _) = steadfast::domain::history::read_history(
        &String::from_utf8_lossy(&files.history),
        &[],
        now(),
    )
    .map_err(|e| anyhow::anyhow!("the history file: {:?}", e.first()))?;
    let (step, ()) = timed(conn, |conn| {
        for (n, chunk) in files.incident_rows.chunks(CHUNK).enumerate() {
            let id = |i: usize| first_incident + (n * CHUNK + i) as i64;
            let rows: Vec<_> = chunk
                .iter()
                .enumerate()
                .map(|(i, r)| {
                    (
                        incidents::id.eq(id(i)),
                        incidents::school_id.eq(school_id),
                        incidents::reported_by.eq(first_staff + r.staff as i64),
                        incidents::occurred_at.eq(to_db_time(r.at)),
                        incidents::behaviour.eq(r.behaviour),
                        incidents::severity.eq(if r.serious { "serious" } else { "minor" }),
                        incidents::response.eq("prompt"),
                        incidents::location.eq(Some(r.location)),
                        incidents::lesson.eq((!r.lesson.is_empty()).then_some(r.lesson)),
                        incidents::note.eq((!r.note.is_empty()).then_some(r.note)),
                        incidents::created_at.eq(stamp),
                        incidents::imported.eq(true),
                        incidents::import_key.eq(Some(records[n * CHUNK + i].key.as_str())),
                    )
                })
                .collect();
            insert_rows!(conn, incidents::table, rows)?;
            let links: Vec<_> = chunk
                .iter()
                .enumerate()
                .map(|(i, r)| {
                    (
                        incident_pupils::incident_id.eq(id(i)),
                        incident_pupils::pupil_id.eq(first_pupil + r.pupil as i64),
                        incident_pupils::school_id.eq(school_id),
                        incident_pupils::occurred_at.eq(to_db_time(r.at)),
                    )
                })
                .collect();
            insert_rows!(conn, incident_pupils::table, links)?;
        }
        Ok(())
    })?;
    round.base_incidents = step;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// The table
// ---------------------------------------------------------------------------------------------

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    match values.len() {
        0 => 0.0,
        n if n % 2 == 1 => values[n / 2],
        n => (values[n / 2 - 1] + values[n / 2]) / 2.0,
    }
}

fn print_table(plan: &Plan, files: &Files, rounds: &[Round]) {
    let m = |f: &dyn Fn(&Round) -> f64| median(rounds.iter().map(f).collect());
    let last = rounds.last().cloned().unwrap_or_default();
    let pupils = m(&|r| r.pupils.secs);
    let staff_secs = m(&|r| r.staff.secs);
    let roster = m(&|r| r.pupils.secs + r.staff.secs);
    let again = m(&|r| r.again.secs);
    let placed = m(&|r| r.history_placed.secs);
    let plain = m(&|r| r.history_plain.secs);
    let base_pupils = m(&|r| r.base_pupils.secs);
    let base_staff = m(&|r| r.base_staff.secs);
    let base_roster = m(&|r| r.base_pupils.secs + r.base_staff.secs);
    let base_incidents = m(&|r| r.base_incidents.secs);
    let incidents = files.incident_rows.len();
    let again_report = last.reports.iter().find(|(w, _)| *w == "pupils again");
    let unchanged = again_report.is_some_and(|(_, r)| {
        r.added == 0 && r.changed == 0 && r.left == 0 && r.unchanged == PUPILS
    }) && last.stored_pupils == PUPILS as i64;
    let verdict = |secs: f64, target: f64| {
        if secs < target {
            format!("< {target:.0} s: met")
        } else {
            format!("< {target:.0} s: MISSED by {:.1} s", secs - target)
        }
    };
    println!(
        "\nMedians of {} run(s) on {} (statements: SQL statements sent, BEGIN and COMMIT included):",
        rounds.len(),
        engine_name(plan.engine)
    );
    println!(
        "{:<44} {:>8} {:>9} {:>10} {:>9} {:>11}  target",
        "what", "rows", "time s", "rows/s", "/ base", "statements"
    );
    let row =
        |what: &str, rows: usize, secs: f64, base: Option<f64>, statements: u64, target: String| {
            println!(
                "{:<44} {:>8} {:>9.3} {:>10.0} {:>9} {:>11}  {}",
                what,
                rows,
                secs,
                rows as f64 / secs.max(1e-9),
                base.map_or_else(String::new, |b| format!("{:.1}x", secs / b.max(1e-9))),
                statements,
                target
            );
        };
    row(
        "pupils import, empty school",
        PUPILS,
        pupils,
        Some(base_pupils),
        last.pupils.statements,
        String::new(),
    );
    row(
        "staff import",
        STAFF,
        staff_secs,
        Some(base_staff),
        last.staff.statements,
        String::new(),
    );
    row(
        "roster: pupils + staff",
        PUPILS + STAFF,
        roster,
        Some(base_roster),
        last.pupils.statements + last.staff.statements,
        verdict(roster, ROSTER_TARGET_SECS),
    );
    row(
        "pupils import again (same file)",
        PUPILS,
        again,
        Some(base_pupils),
        last.again.statements,
        format!("changes nothing: {}", if unchanged { "yes" } else { "NO" }),
    );
    row(
        "history import with placement",
        incidents,
        placed,
        Some(base_incidents),
        last.history_placed.statements,
        verdict(placed, HISTORY_TARGET_SECS),
    );
    row(
        "history import without placement",
        incidents,
        plain,
        Some(base_incidents),
        last.history_plain.statements,
        String::new(),
    );
    row(
        "baseline: pupils, multi-row inserts",
        PUPILS,
        base_pupils,
        None,
        last.base_pupils.statements,
        String::new(),
    );
    row(
        "baseline: staff + roles, multi-row inserts",
        STAFF,
        base_staff,
        None,
        last.base_staff.statements,
        String::new(),
    );
    row(
        "baseline: incidents + links, multi-row",
        incidents,
        base_incidents,
        None,
        last.base_incidents.statements,
        String::new(),
    );
    println!("\nEvery run (seconds):");
    println!(
        "{:>4} {:>8} {:>8} {:>8} {:>10} {:>10} {:>9} {:>9} {:>9}",
        "run",
        "pupils",
        "staff",
        "again",
        "hist+place",
        "history",
        "b:pupils",
        "b:staff",
        "b:incid"
    );
    for (i, r) in rounds.iter().enumerate() {
        println!(
            "{:>4} {:>8.2} {:>8.2} {:>8.2} {:>10.2} {:>10.2} {:>9.3} {:>9.3} {:>9.3}",
            i + 1,
            r.pupils.secs,
            r.staff.secs,
            r.again.secs,
            r.history_placed.secs,
            r.history_plain.secs,
            r.base_pupils.secs,
            r.base_staff.secs,
            r.base_incidents.secs
        );
    }
    println!("\nWhat the imports of the last run reported:");
    for (what, report) in &last.reports {
        println!("  {what}: {}", report.summary());
    }
    println!(
        "  incidents stored: {} with placement, {} without; pupils after the second roll: {}",
        last.stored_incidents.0, last.stored_incidents.1, last.stored_pupils
    );
}

// ---------------------------------------------------------------------------------------------
// SQL: a count of statements always; with BENCH_SQL_PROFILE, each statement timed
// ---------------------------------------------------------------------------------------------

static STATEMENT_COUNT: AtomicU64 = AtomicU64::new(0);
static PROFILING: AtomicBool = AtomicBool::new(false);
static STATEMENTS: OnceLock<Mutex<HashMap<String, (u64, Duration)>>> = OnceLock::new();

fn statements() -> &'static Mutex<HashMap<String, (u64, Duration)>> {
    STATEMENTS.get_or_init(Default::default)
}

#[derive(Default)]
struct Probe {
    started: Option<Instant>,
}

/// Collects a statement's SQL and stops at its bind values.
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
        match event {
            InstrumentationEvent::StartQuery { .. } if PROFILING.load(Ordering::Relaxed) => {
                self.started = Some(Instant::now());
            }
            InstrumentationEvent::FinishQuery { query, .. } => {
                STATEMENT_COUNT.fetch_add(1, Ordering::Relaxed);
                if !PROFILING.load(Ordering::Relaxed) {
                    return;
                }
                let spent = self.started.take().map_or(Duration::ZERO, |s| s.elapsed());
                let mut sql = SqlOnly::default();
                let _ = std::fmt::Write::write_fmt(&mut sql, format_args!("{query}"));
                // Multi-row inserts differ only in their number of rows: one line for all.
                let mut text = sql.0.trim().to_string();
                if let Some(at) = text.find(") VALUES (") {
                    text.truncate(at + 9);
                    text.push_str("...");
                }
                let mut map = statements().lock().unwrap_or_else(|p| p.into_inner());
                let entry = map.entry(text).or_default();
                entry.0 += 1;
                entry.1 += spent;
            }
            _ => {}
        }
    }
}

fn probe() -> Option<Box<dyn Instrumentation>> {
    Some(Box::new(Probe::default()))
}

/// Prints the costliest statements of the step just run, and clears the record.
fn report_statements(what: &str, step: &Step) {
    let map = std::mem::take(&mut *statements().lock().unwrap_or_else(|p| p.into_inner()));
    let in_sql: Duration = map.values().map(|(_, t)| *t).sum();
    println!(
        "\n{what}: {:.2} s, {} statements, {:.2} s of it waiting for SQL ({:.0}%); the rest is \
         in Rust (reading the file, comparing, placing):",
        step.secs,
        step.statements,
        in_sql.as_secs_f64(),
        in_sql.as_secs_f64() / step.secs.max(1e-9) * 100.0
    );
    let mut rows: Vec<(String, u64, Duration)> =
        map.into_iter().map(|(sql, (n, t))| (sql, n, t)).collect();
    rows.sort_by_key(|row| std::cmp::Reverse(row.2));
    println!(
        "  {:>8} {:>9} {:>9}  statement (costliest first)",
        "count", "total s", "us each"
    );
    for (sql, n, t) in rows.iter().take(8) {
        let shown: String = sql.chars().take(120).collect();
        println!(
            "  {:>8} {:>9.2} {:>9.1}  {shown}",
            n,
            t.as_secs_f64(),
            t.as_secs_f64() * 1e6 / *n as f64
        );
    }
}

/// One more run of the imports with every statement timed.
fn profile(store: &Store, files: &Files) -> anyhow::Result<()> {
    println!("\n== SQL profile (instrumented run; its times are not comparable with the table) ==");
    let settings = Settings::defaults()?;
    let (roll, staff_options, placed, plain) = options(&settings);
    for (name, history) in [("profile_placed", &placed), ("profile_plain", &plain)] {
        let (db, school_id) = fresh_school(store, name)?;
        {
            let mut conn = db.connection()?;
            statements()
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clear();
            PROFILING.store(true, Ordering::Relaxed);
            let steps: [(&str, ImportKind, &[u8], &ImportOptions); 4] = [
                ("pupils import", ImportKind::Pupils, &files.pupils, &roll),
                (
                    "staff import",
                    ImportKind::Staff,
                    &files.staff,
                    &staff_options,
                ),
                (
                    "pupils import again",
                    ImportKind::Pupils,
                    &files.pupils,
                    &roll,
                ),
                (
                    if history.place {
                        "history import with placement"
                    } else {
                        "history import without placement"
                    },
                    ImportKind::Incidents,
                    &files.history,
                    history,
                ),
            ];
            for (what, kind, file, options) in steps {
                let step = import(&mut conn, kind, school_id, file, options)?.0;
                if history.place || kind == ImportKind::Incidents {
                    report_statements(what, &step);
                } else {
                    statements()
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .clear();
                }
            }
            PROFILING.store(false, Ordering::Relaxed);
        }
        drop(db);
        store.remove(name)?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Where the databases live: a folder of SQLite files, or a throwaway PostgreSQL cluster
// (as in `benches/incidents.rs`)
// ---------------------------------------------------------------------------------------------

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

    /// Removes a database made by [`Store::fresh_database`] (its connections closed).
    fn remove(&self, name: &str) -> anyhow::Result<()> {
        match self {
            Store::Sqlite { dir } => Ok(std::fs::remove_dir_all(dir.join(name))?),
            Store::Postgres(cluster) => {
                let mut conn = PgConnection::establish(&cluster.url("postgres"))?;
                conn.batch_execute(&format!("DROP DATABASE IF EXISTS {name}"))?;
                Ok(())
            }
        }
    }
}

struct PgCluster {
    bin: PathBuf,
    dir: PathBuf,
    port: u16,
    version: String,
}

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
    /// Creates and starts a durable cluster in `parent/pg` on a free loopback port.
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
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let version = run_checked(
            Command::new(bin.join("postgres")).arg("--version"),
            "postgres",
        )?;
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
        };
        let server_options = format!(
            "-p {port} -k {} -c listen_addresses=127.0.0.1 -c max_connections=100 \
             -c fsync=on -c synchronous_commit=on -c full_page_writes=on \
             -c shared_buffers=256MB -c max_wal_size=2GB",
            cluster.dir.display(),
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

    fn settings(&self) -> String {
        #[derive(QueryableByName)]
        struct Setting {
            #[diesel(sql_type = Text)]
            v: String,
        }
        let Ok(mut conn) = PgConnection::establish(&self.url("postgres")) else {
            return "?".into();
        };
        [
            "fsync",
            "synchronous_commit",
            "full_page_writes",
            "shared_buffers",
        ]
        .iter()
        .map(|name| {
            let value = diesel::sql_query("SELECT current_setting($1) AS v")
                .bind::<Text, _>(*name)
                .get_result::<Setting>(&mut conn)
                .map_or_else(|e| e.to_string(), |s| s.v);
            format!("{name}={value}")
        })
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
