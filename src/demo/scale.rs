//! Demo data at scale, for trying and measuring Steadfast at the size of a large school or a
//! trust: `steadfast demo --schools S --pupils-per-school N --years Y`.
//!
//! The first school is always the demo school (`DEMO`, the logins of the README); the others
//! are `DEMO02`, `DEMO03`, … with the same logins at their own domain (`sendco@demo02.example`).
//! Each school is simulated by the demo's generator and written in its own transaction while
//! the next one is being simulated, so no more than two schools are held in memory at once.

use std::sync::mpsc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use super::generate::{
    generate_school, DemoSchool, SchoolShape, DEMO_CODE, DEMO_DOMAIN, DEMO_NAME, DEMO_PASSWORD,
};
use super::load::insert;
use crate::accounts::hash_password;
use crate::db::{schools, Database};
use crate::domain::calendar::SchoolCalendar;

/// The seed of the demo school, so every fresh demo looks the same for the same day.
pub const DEMO_SEED: u64 = 2026;

/// The most schools one run loads (codes `DEMO02` to `DEMO99` after `DEMO`).
pub const MAX_SCHOOLS: usize = 99;

/// How much demo data to load.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScaleSpec {
    /// How many schools; the first is `DEMO`.
    pub schools: usize,
    /// Pupils on roll in each school (rounded up to a multiple of 5, one share per year group).
    pub pupils_per_school: usize,
    /// Years of history up to yesterday; 0 is one autumn term, as the plain demo.
    pub years: u32,
    /// The seed of the first school; school `k` (from 0) uses `seed + k`.
    pub seed: u64,
}

impl Default for ScaleSpec {
    /// The plain demo: one school of 1,000 pupils and a term of history.
    fn default() -> Self {
        ScaleSpec {
            schools: 1,
            pupils_per_school: 1000,
            years: 0,
            seed: DEMO_SEED,
        }
    }
}

impl ScaleSpec {
    /// The shape of school `index` (from 0): its code, name, email domain, size and history.
    pub fn shape(&self, index: usize) -> SchoolShape {
        let (code, name, email_domain) = if index == 0 {
            (
                DEMO_CODE.to_string(),
                DEMO_NAME.to_string(),
                DEMO_DOMAIN.to_string(),
            )
        } else {
            let n = index + 1;
            (
                format!("{DEMO_CODE}{n:02}"),
                format!("Steadfast Demo School {n:02}"),
                format!("demo{n:02}.example"),
            )
        };
        SchoolShape {
            code,
            name,
            email_domain,
            pupils: self.pupils_per_school,
            years: self.years,
        }
    }

    /// Whether the figures are ones a run can load.
    pub fn check(&self) -> anyhow::Result<()> {
        if !(1..=MAX_SCHOOLS).contains(&self.schools) {
            anyhow::bail!("--schools must be 1 to {MAX_SCHOOLS}");
        }
        if !(5..=5000).contains(&self.pupils_per_school) {
            anyhow::bail!("--pupils-per-school must be 5 to 5000");
        }
        if self.years > 10 {
            anyhow::bail!("--years must be 0 to 10");
        }
        Ok(())
    }
}

/// One school loaded.
#[derive(Debug, Clone)]
pub struct SchoolLoaded {
    /// The school's code.
    pub code: String,
    /// The domain of its staff logins.
    pub email_domain: String,
    /// Pupils on roll.
    pub pupils: usize,
    /// Incidents recorded.
    pub incidents: usize,
    /// What it holds, in words.
    pub summary: String,
    /// How long simulating and writing it took (simulation overlaps the previous school's
    /// writing, so these add up to more than the whole run).
    pub took: Duration,
}

/// Everything a run loaded.
#[derive(Debug, Clone)]
pub struct ScaleReport {
    /// The schools, in order.
    pub schools: Vec<SchoolLoaded>,
    /// The whole run.
    pub took: Duration,
}

impl ScaleReport {
    /// Pupils in all schools.
    pub fn pupils(&self) -> usize {
        self.schools.iter().map(|s| s.pupils).sum()
    }

    /// Incidents in all schools.
    pub fn incidents(&self) -> usize {
        self.schools.iter().map(|s| s.incidents).sum()
    }
}

/// Loads the schools `spec` describes, with history up to the day before `now`, into a
/// database that holds no school; `progress` hears of each school once it is written.
/// Answers `None`, changing nothing, when the demo school is there already, and refuses a
/// database holding any other school.
///
/// Each school is written in one transaction: its staff, forms and pupils row by row, its
/// history (incidents, their pupils and daily counts, suggestions, level changes, meetings)
/// in bulk, then the plans, programme blocks and provision maps of its pupils at levels 4 to
/// 6 through the same functions the pages use. The same `spec`, seed and day give the same
/// data.
pub fn load_scaled(
    db: &Database,
    spec: &ScaleSpec,
    now: DateTime<Utc>,
    mut progress: impl FnMut(&SchoolLoaded),
) -> anyhow::Result<Option<ScaleReport>> {
    spec.check()?;
    let started = Instant::now();
    let mut conn = db.connection()?;
    if schools::find_by_code(&mut conn, DEMO_CODE)?.is_some() {
        return Ok(None);
    }
    if schools::count(&mut conn)? > 0 {
        anyhow::bail!(
            "the database already holds a school: the demo loads only into an empty database"
        );
    }
    let password_hash = hash_password(DEMO_PASSWORD)?;
    let today = SchoolCalendar::local_date(now);
    let spec = *spec;
    std::thread::scope(|scope| -> anyhow::Result<Option<ScaleReport>> {
        // The next school is simulated while the last one is written.
        let (sender, schools) = mpsc::sync_channel::<(DemoSchool, Instant)>(1);
        scope.spawn(move || {
            for index in 0..spec.schools {
                let began = Instant::now();
                let school = generate_school(&spec.shape(index), spec.seed + index as u64, today);
                if sender.send((school, began)).is_err() {
                    break;
                }
            }
        });
        let mut loaded = Vec::with_capacity(spec.schools);
        for (school, began) in schools {
            let summary = crate::db::write_transaction(&mut conn, |conn| {
                insert(conn, &school, &password_hash, now)
            })?;
            let done = SchoolLoaded {
                code: school.code.clone(),
                email_domain: school.email_domain().to_string(),
                pupils: school.pupils.len(),
                incidents: school.incidents.len(),
                summary,
                took: began.elapsed(),
            };
            progress(&done);
            loaded.push(done);
        }
        Ok(Some(ScaleReport {
            schools: loaded,
            took: started.elapsed(),
        }))
    })
}
