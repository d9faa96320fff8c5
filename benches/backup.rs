//! `cargo bench --bench backup`: how long `steadfast backup` takes, and how large the backup
//! is, for a school of 1,200 pupils with three years of history on SQLite (made by the demo
//! generator, as `steadfast demo --pupils-per-school 1200 --years 3` makes it), beside a
//! plain copy of the same database file measured in the same run, and an encrypted backup
//! (age, scrypt passphrase).
//!
//! Each round copies the file (then waits for the disk, as a backup does), takes a backup and
//! takes an encrypted backup, so noise from other work on the machine falls on all three
//! alike; `BENCH_RUNS` rounds (default 5) after one warm-up, and the median of each is
//! printed. The backup includes what `steadfast backup` does besides copying: waiting for the
//! disk, the SHA-256 and the checksum file. It prints; it never fails.

mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use age::secrecy::SecretString;
use anyhow::Context;
use chrono::Utc;
use diesel::connection::SimpleConnection;

use steadfast::db::{Database, DatabaseTarget};
use steadfast::demo::scale::{load_scaled, ScaleSpec, DEMO_SEED};

/// The median of some timings.
fn median(times: &[Duration]) -> Duration {
    let mut sorted = times.to_vec();
    sorted.sort();
    sorted.get(sorted.len() / 2).copied().unwrap_or_default()
}

fn megabytes(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1_000_000.0)
}

/// A plain copy of `from` to `to`, waiting for the disk.
fn copy_file(from: &Path, to: &Path) -> anyhow::Result<()> {
    std::fs::copy(from, to)?;
    std::fs::File::open(to)?.sync_all()?;
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let runs = support::env_number("BENCH_RUNS", 5, 1, 50) as usize;
    println!("{}", support::machine());
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("school.db");
    let url = format!("sqlite://{}", path.display());
    let spec = ScaleSpec {
        schools: 1,
        pupils_per_school: 1200,
        years: 3,
        seed: DEMO_SEED,
    };
    let started = Instant::now();
    {
        let db = Database::open(&url, 4).context("opening the database")?;
        let report = load_scaled(&db, &spec, Utc::now(), |_| {})?
            .context("the database already held the demo school")?;
        println!(
            "a school of {} pupils and {} incidents over {} years loaded in {:.1} s",
            report.pupils(),
            report.incidents(),
            spec.years,
            started.elapsed().as_secs_f64()
        );
    }
    // Everything into the database file itself, so a plain copy of it is a whole database.
    let mut conn = DatabaseTarget::parse(&url)?.connect()?;
    conn.batch_execute("PRAGMA wal_checkpoint(TRUNCATE)")?;
    drop(conn);
    let database_bytes = std::fs::metadata(&path)?.len();

    let passphrase = SecretString::from("a passphrase for the benchmark".to_string());
    let copy = dir.path().join("copy.db");
    let plain = dir.path().join("backup.db");
    let encrypted = dir.path().join("backup.db.age");
    let (mut copies, mut backups, mut encrypted_backups) = (Vec::new(), Vec::new(), Vec::new());
    let (mut backup_bytes, mut encrypted_bytes) = (0, 0);
    for round in 0..=runs {
        let started = Instant::now();
        copy_file(&path, &copy)?;
        let copied = started.elapsed();

        let started = Instant::now();
        let written = steadfast::backup::backup(&url, &plain, true, None)?;
        let backed_up = started.elapsed();
        backup_bytes = written.bytes;

        let started = Instant::now();
        let written = steadfast::backup::backup(&url, &encrypted, true, Some(&passphrase))?;
        let encrypted_took = started.elapsed();
        encrypted_bytes = written.bytes;

        if round > 0 {
            copies.push(copied);
            backups.push(backed_up);
            encrypted_backups.push(encrypted_took);
        }
    }
    let copy_median = median(&copies);
    let ratio = |d: Duration| d.as_secs_f64() / copy_median.as_secs_f64().max(1e-9);
    println!(
        "median of {runs} rounds; the database file is {}",
        megabytes(database_bytes)
    );
    println!(
        "  plain file copy (and fsync)      {:>8.0} ms",
        copy_median.as_secs_f64() * 1000.0
    );
    println!(
        "  steadfast backup                 {:>8.0} ms  ({:.1}x the copy), {}",
        median(&backups).as_secs_f64() * 1000.0,
        ratio(median(&backups)),
        megabytes(backup_bytes)
    );
    println!(
        "  steadfast backup, encrypted      {:>8.0} ms  ({:.1}x the copy), {}",
        median(&encrypted_backups).as_secs_f64() * 1000.0,
        ratio(median(&encrypted_backups)),
        megabytes(encrypted_bytes)
    );
    Ok(())
}
