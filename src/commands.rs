//! The command line of `steadfast` (see `API.md`): serve, migrate, demo, school add,
//! school sso, user add, token create, jobs run, the imports, retention, and backup, restore
//! and check.

use std::io::Read;
use std::sync::Arc;

use anyhow::{bail, Context};
use chrono::{DateTime, Utc};
use clap::{Args, Parser, Subcommand};

use crate::accounts;
use crate::config::Settings;
use crate::db::audit::{self, AuditEntry};
use crate::db::models::School;
use crate::db::{pastoral, schools, sso, staff, to_db_time, tokens, Database, DbConnection};
use crate::demo::scale::{load_scaled, ScaleSpec};
use crate::domain::details::{EmailAddress, PersonName, SchoolCode, YearNumber};
use crate::domain::import::decode_text;
use crate::domain::oneroster::BundleFiles;
use crate::domain::sso::{OidcClient, SignInSettings};
use crate::domain::Role;
use crate::error::Error;
use crate::imports::{oneroster, ImportKind, ImportOptions, ImportReport};
use crate::web;

/// Steadfast: pupil support along the Coaching Sequence.
#[derive(Debug, Parser)]
#[command(name = "steadfast", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// What to do.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the web service and its background worker (migrations run first).
    Serve,
    /// Run pending database migrations and exit.
    Migrate,
    /// Load the demo school (code DEMO) into an empty database and print its logins; with
    /// the options, load more schools, pupils and years of history for trying it at scale.
    Demo(DemoArgs),
    /// Manage schools.
    #[command(subcommand)]
    School(SchoolCommand),
    /// Manage staff accounts.
    #[command(subcommand)]
    User(UserCommand),
    /// Manage API tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Run scheduled jobs.
    #[command(subcommand)]
    Jobs(JobsCommand),
    /// Bring a school in from the files its MIS and its old systems export: each prints
    /// what it added, changed, marked left and left unchanged, and every problem with its
    /// line and column (then writes nothing and exits non-zero).
    #[command(subcommand)]
    Import(ImportCommand),
    /// Write a consistent backup of the database while the service runs, and its SHA-256
    /// beside it (FILE.sha256, which `sha256sum -c` reads). SQLite: a copy of the database
    /// file; PostgreSQL: a pg_dump archive (custom format). With --passphrase-file, the
    /// backup is encrypted (age format, scrypt).
    Backup {
        /// The file to write.
        #[arg(long)]
        out: std::path::PathBuf,
        /// Replace the file when it exists.
        #[arg(long)]
        force: bool,
        /// Encrypt the backup with the passphrase in this file (a final line break is
        /// ignored).
        #[arg(long, value_name = "FILE")]
        passphrase_file: Option<std::path::PathBuf>,
    },
    /// Restore a backup into an empty database (one holding no school), checking it against
    /// FILE.sha256 first when that is there, then run pending migrations. SQLite: stop the
    /// service first, as the file is put in place of the database; PostgreSQL: restored with
    /// pg_restore into the database DATABASE_URL names.
    Restore {
        /// The backup file.
        file: std::path::PathBuf,
        /// The file holding the passphrase of an encrypted backup.
        #[arg(long, value_name = "FILE")]
        passphrase_file: Option<std::path::PathBuf>,
    },
    /// Give records out.
    #[command(subcommand)]
    Export(ExportCommand),
    /// Erase what each school's retention schedule says has expired: the records of pupils
    /// who have left, past the birthday the schedule keeps each kind until, and audit entries
    /// and outbox emails past their age. Prints a line per school, pupil (UPN) and kind of
    /// record with its count. Pupils on roll lose nothing.
    Retention {
        /// List what would be erased, and erase nothing.
        #[arg(long)]
        dry_run: bool,
        /// Act as if the time were this (RFC 3339).
        #[arg(long)]
        at: Option<String>,
    },
    /// Check the database (or a backup FILE): SQLite's integrity and foreign key checks,
    /// every migration applied, counts of the main records, and that each pupil's level
    /// agrees with their level history and records. A PostgreSQL backup is
    /// checked against its FILE.sha256 and read through with `pg_restore --list`.
    Check {
        /// A backup file to check instead of the database.
        file: Option<std::path::PathBuf>,
        /// The file holding the passphrase of an encrypted backup.
        #[arg(long, value_name = "FILE")]
        passphrase_file: Option<std::path::PathBuf>,
    },
}

/// `steadfast export ...`
#[derive(Debug, Subcommand)]
pub enum ExportCommand {
    /// Everything held about one pupil, for a subject access request: a ZIP of one JSON file,
    /// one CSV file per record type and the readable page (`record.html`). Free text naming
    /// another pupil is withheld and listed in `for_review.csv`. Audited.
    Pupil {
        /// The pupil's UPN.
        #[arg(long)]
        upn: String,
        /// The code of the pupil's school.
        #[arg(long)]
        school: String,
        /// The ZIP file to write; an existing file is never replaced.
        #[arg(long)]
        out: std::path::PathBuf,
    },
}

/// `steadfast import ...`
#[derive(Debug, Subcommand)]
pub enum ImportCommand {
    /// Pupils from a MIS CSV export (SIMS, Arbor or Bromcom headers; UTF-8 or Windows-1252).
    Pupils {
        /// The CSV file.
        file: std::path::PathBuf,
        /// The school's code; may be left out when the database holds one school.
        #[arg(long)]
        school: Option<String>,
        /// Say what would change, and write nothing.
        #[arg(long)]
        dry_run: bool,
        /// The file is the whole roll: pupils not in it are marked as left.
        #[arg(long)]
        full: bool,
    },
    /// Staff from a CSV file: email, name (or title, forename and surname), roles, year
    /// groups and houses; matched by email, never deleted.
    Staff {
        /// The CSV file.
        file: std::path::PathBuf,
        /// The school's code; may be left out when the database holds one school.
        #[arg(long)]
        school: Option<String>,
        /// Say what would change, and write nothing.
        #[arg(long)]
        dry_run: bool,
        /// Email each new person an invitation to choose a password (a link valid 7 days).
        #[arg(long)]
        invite: bool,
    },
    /// Behaviour history exported from the previous system, stored as imported incidents.
    Incidents {
        /// The CSV file.
        file: std::path::PathBuf,
        /// The school's code; may be left out when the database holds one school.
        #[arg(long)]
        school: Option<String>,
        /// Say what would change (and where pupils would be placed), and write nothing.
        #[arg(long)]
        dry_run: bool,
        /// Place each pupil with no level yet on the ladder by replaying the school's policy
        /// over their history.
        #[arg(long)]
        place: bool,
    },
    /// Term dates from an iCalendar (.ics) file, such as a local authority publishes:
    /// whole-day holidays, half terms, bank holidays and INSET days become closures, other
    /// events are listed as skipped; due dates the new closures move are moved and listed.
    Calendar {
        /// The .ics file.
        file: std::path::PathBuf,
        /// The school's code.
        #[arg(long)]
        school: String,
        /// Say what would change, and write nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// A OneRoster 1.1 or 1.2 CSV bundle, as a .zip or a folder of its CSV files: every
    /// school of orgs.csv (matched by identifier, created when new) with its pupils, staff,
    /// forms and tutors, teaching groups and the holidays between its terms.
    Oneroster {
        /// The bundle's .zip, or the folder holding orgs.csv, users.csv and the rest.
        path: std::path::PathBuf,
        /// Say what would change, and write nothing.
        #[arg(long)]
        dry_run: bool,
        /// The bundle is each school's whole roll: pupils not in it are marked as left.
        #[arg(long)]
        full: bool,
    },
}

/// The options of `steadfast demo`; without any, the demo school as the README describes it.
#[derive(Debug, Args, Default)]
pub struct DemoArgs {
    /// Schools to load: DEMO, then DEMO02, DEMO03, … with the same logins at their own
    /// domain (demo02.example, …).
    #[arg(long)]
    pub schools: Option<usize>,
    /// Pupils on roll in each school (default 1000).
    #[arg(long)]
    pub pupils_per_school: Option<usize>,
    /// Years of history up to yesterday (default 0: one autumn term).
    #[arg(long)]
    pub years: Option<u32>,
    /// The random seed of the first school (default 2026).
    #[arg(long)]
    pub seed: Option<u64>,
}

impl DemoArgs {
    /// What to load: the plain demo, changed by the options given.
    pub fn spec(&self) -> ScaleSpec {
        let plain = ScaleSpec::default();
        ScaleSpec {
            schools: self.schools.unwrap_or(plain.schools),
            pupils_per_school: self.pupils_per_school.unwrap_or(plain.pupils_per_school),
            years: self.years.unwrap_or(plain.years),
            seed: self.seed.unwrap_or(plain.seed),
        }
    }
}

/// `steadfast school ...`
#[derive(Debug, Subcommand)]
pub enum SchoolCommand {
    /// Create a school.
    Add {
        /// Short code, such as NORTH.
        #[arg(long)]
        code: String,
        /// The school's name.
        #[arg(long)]
        name: String,
    },
    /// Set how the school's staff sign in: with their school account through the school's
    /// OpenID Connect provider; the client secret is read from standard input.
    Sso(SchoolSso),
}

/// The details of `steadfast school sso`.
#[derive(Debug, Args)]
pub struct SchoolSso {
    /// The school's code.
    #[arg(long)]
    pub code: String,
    /// The provider's issuer URL, such as https://login.microsoftonline.com/TENANT/v2.0 or
    /// https://accounts.google.com; empty to stop signing in with school accounts.
    #[arg(long)]
    pub issuer: String,
    /// The client id the school registered Steadfast with at its provider.
    #[arg(long)]
    pub client_id: String,
    /// Whether staff may also sign in with a password; unchanged when left out. It can be
    /// turned off only while the school has an issuer.
    #[arg(long, value_enum)]
    pub password_login: Option<Switch>,
}

/// A setting turned on or off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Switch {
    On,
    Off,
}

/// `steadfast user ...`
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a staff account; the password is read from standard input.
    Add(UserAdd),
}

/// The details of `steadfast user add`.
#[derive(Debug, Args)]
pub struct UserAdd {
    #[arg(long)]
    pub email: String,
    #[arg(long)]
    pub name: String,
    /// class_staff, pastoral_lead, hod, sendco, slt, specialist or admin; repeat for several.
    #[arg(long = "role", required = true)]
    pub roles: Vec<String>,
    /// The school's code; may be left out when the database holds one school.
    #[arg(long)]
    pub school: Option<String>,
    /// A year group the member leads (for pastoral leads); repeat for several.
    #[arg(long = "year-group")]
    pub year_groups: Vec<i64>,
    /// The name of a house the member leads (a Head of House); repeat for several.
    #[arg(long = "house")]
    pub houses: Vec<String>,
}

/// `steadfast token ...`
#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Print a new API token for a user, and nothing else.
    Create {
        #[arg(long)]
        email: String,
        /// A name for the token, to tell it apart when listing or revoking.
        #[arg(long, default_value = "")]
        name: String,
        /// Days until the token stops working (without it, it works until revoked).
        #[arg(long, value_parser = clap::value_parser!(u16).range(1..=3650))]
        expires_in_days: Option<u16>,
    },
    /// List a user's API tokens: name, created, last used, expiry and whether each works.
    List {
        #[arg(long)]
        email: String,
    },
    /// Revoke a user's API tokens: those with `--name`, or all of them without it. Takes
    /// effect at once, in every instance.
    Revoke {
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: Option<String>,
    },
}

/// `steadfast jobs ...`
#[derive(Debug, Subcommand)]
pub enum JobsCommand {
    /// Run every scheduled job once and exit.
    Run {
        /// Run once and exit (`steadfast serve` runs the jobs every few minutes).
        #[arg(long)]
        once: bool,
        /// Act as if the time were this (RFC 3339).
        #[arg(long)]
        at: Option<String>,
    },
}

/// Runs a parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    let settings = Settings::load()?;
    web::telemetry::init_logging(&settings.log);
    match cli.command {
        Command::Serve => serve(settings),
        Command::Migrate => {
            open(&settings)?;
            println!("migrations are up to date");
            Ok(())
        }
        Command::Demo(args) => demo(&settings, &args.spec()),
        Command::School(SchoolCommand::Add { code, name }) => {
            let db = open(&settings)?;
            let code =
                SchoolCode::parse(&code).map_err(|e| anyhow::anyhow!("--code: {}", e.message))?;
            let school = in_transaction(&db, |conn| {
                let school = schools::create(conn, &code, &name, Utc::now())?;
                audit::record(conn, entry(school.id, "school.add", "school", school.id))?;
                Ok(school)
            })?;
            println!("school {} added (id {})", school.code, school.id);
            Ok(())
        }
        Command::School(SchoolCommand::Sso(sso)) => school_sso(&settings, sso),
        Command::User(UserCommand::Add(add)) => {
            let db = open(&settings)?;
            let password = read_secret("the password")?;
            let member = add_user(&db, &add, &password)?;
            println!("user {} added (id {})", member.email, member.id);
            Ok(())
        }
        Command::Token(TokenCommand::Create {
            email,
            name,
            expires_in_days,
        }) => {
            let db = open(&settings)?;
            let token = accounts::new_api_token();
            let now = Utc::now();
            let expires_at =
                expires_in_days.map(|days| now + chrono::TimeDelta::days(i64::from(days)));
            in_transaction(&db, |conn| {
                let account = staff::find_for_login(conn, &email)?.ok_or_else(|| {
                    Error::invalid("email", format!("no active account has the email {email}"))
                })?;
                let member = staff::get_member(conn, account.school_id, account.id)?
                    .ok_or(Error::NotFound("user"))?;
                tokens::add(conn, &member, &token.hash, &name, expires_at, now)?;
                audit::record(
                    conn,
                    entry(member.school_id, "token.create", "staff", member.id),
                )
            })?;
            println!("{}", token.secret);
            Ok(())
        }
        Command::Token(TokenCommand::List { email }) => {
            let db = open(&settings)?;
            let now = Utc::now();
            let listed = in_transaction(&db, |conn| {
                let (school_id, staff_id) = account_by_email(conn, &email)?;
                tokens::list_for(conn, school_id, staff_id)
            })?;
            if listed.is_empty() {
                println!("{email} has no API tokens");
            }
            for token in listed {
                let shown = |at: Option<chrono::NaiveDateTime>, none: &str| {
                    at.map_or(none.to_string(), |at| at.and_utc().to_rfc3339())
                };
                let state = if token.revoked_at.is_some() {
                    "revoked"
                } else if token.works(now) {
                    "works"
                } else {
                    "expired"
                };
                println!(
                    "{}\tcreated {}\tlast used {}\texpires {}\t{state}",
                    if token.name.is_empty() {
                        "(no name)"
                    } else {
                        &token.name
                    },
                    token.created_at.and_utc().to_rfc3339(),
                    shown(token.last_used_at, "never"),
                    shown(token.expires_at, "never"),
                );
            }
            Ok(())
        }
        Command::Token(TokenCommand::Revoke { email, name }) => {
            let db = open(&settings)?;
            let revoked = in_transaction(&db, |conn| {
                let (school_id, staff_id) = account_by_email(conn, &email)?;
                let which = match &name {
                    Some(name) => tokens::Revoke::Named(name),
                    None => tokens::Revoke::All,
                };
                let revoked = tokens::revoke(conn, school_id, staff_id, which, Utc::now())?;
                if revoked > 0 {
                    audit::record(conn, entry(school_id, "token.revoke", "staff", staff_id))?;
                }
                Ok(revoked)
            })?;
            if revoked == 0 {
                bail!(
                    "{email} has no working API token{}",
                    name.map(|n| format!(" named {n}")).unwrap_or_default()
                );
            }
            println!("{revoked} token(s) of {email} revoked");
            Ok(())
        }
        Command::Backup {
            out,
            force,
            passphrase_file,
        } => {
            let passphrase = read_passphrase(passphrase_file.as_deref())?;
            let written =
                crate::backup::backup(&settings.database_url, &out, force, passphrase.as_ref())?;
            println!(
                "{} written to {} ({} bytes), SHA-256 {} (in {})",
                if passphrase.is_some() {
                    "encrypted backup"
                } else {
                    "backup"
                },
                written.path.display(),
                written.bytes,
                written.sha256,
                written.checksum_path.display()
            );
            Ok(())
        }
        Command::Restore {
            file,
            passphrase_file,
        } => {
            let passphrase = read_passphrase(passphrase_file.as_deref())?;
            let (checksum, found) =
                crate::backup::restore(&settings.database_url, &file, passphrase.as_ref())?;
            print_checksum(&file, checksum);
            println!(
                "restored {} into {}: {found}",
                file.display(),
                redact(&settings.database_url)
            );
            report_problems(&found)
        }
        Command::Check {
            file,
            passphrase_file,
        } => {
            let passphrase = read_passphrase(passphrase_file.as_deref())?;
            check(&settings, file.as_deref(), passphrase.as_ref())
        }
        Command::Export(ExportCommand::Pupil { upn, school, out }) => {
            export_pupil(&settings, &upn, &school, &out)
        }
        Command::Retention { dry_run, at } => retention(&settings, dry_run, at),
        Command::Import(command) => {
            let (kind, file, school, options) = match command {
                ImportCommand::Oneroster {
                    path,
                    dry_run,
                    full,
                } => return import_oneroster(&settings, path, dry_run, full),
                ImportCommand::Pupils {
                    file,
                    school,
                    dry_run,
                    full,
                } => (
                    ImportKind::Pupils,
                    file,
                    school,
                    ImportOptions {
                        dry_run,
                        full,
                        ..ImportOptions::default()
                    },
                ),
                ImportCommand::Staff {
                    file,
                    school,
                    dry_run,
                    invite,
                } => (
                    ImportKind::Staff,
                    file,
                    school,
                    ImportOptions {
                        dry_run,
                        invite,
                        ..ImportOptions::for_settings(&settings)
                    },
                ),
                ImportCommand::Calendar {
                    file,
                    school,
                    dry_run,
                } => (
                    ImportKind::Calendar,
                    file,
                    Some(school),
                    ImportOptions {
                        dry_run,
                        ..ImportOptions::default()
                    },
                ),
                ImportCommand::Incidents {
                    file,
                    school,
                    dry_run,
                    place,
                } => (
                    ImportKind::Incidents,
                    file,
                    school,
                    ImportOptions {
                        dry_run,
                        place,
                        ..ImportOptions::default()
                    },
                ),
            };
            let db = open(&settings)?;
            let bytes = read_import_file(&file)?;
            let invited = options.invite;
            let report = in_transaction(&db, move |conn| {
                let school = school_named(conn, school)?;
                crate::imports::run(kind, conn, school.id, None, &bytes, &options, Utc::now())
            })?;
            print_import(&report)?;
            if invited && report.applied && report.added > 0 {
                println!(
                    "{} invitation(s) queued: `steadfast serve` (or `steadfast jobs run --once`) sends them",
                    report.added
                );
            }
            Ok(())
        }
        Command::Jobs(JobsCommand::Run { once, at }) => {
            if !once {
                bail!(
                    "only `jobs run --once` is available; `steadfast serve` runs jobs continuously"
                );
            }
            let at = time_given(at)?;
            let db = open(&settings)?;
            let context = crate::jobs::JobContext::from_settings(&settings)?;
            let report =
                actix_web::rt::System::new().block_on(crate::jobs::run_once(&db, &context, at))?;
            println!("jobs ran as at {}: {report}", at.to_rfc3339());
            Ok(())
        }
    }
}

/// `steadfast export pupil`: writes the pupil's subject access ZIP to `out`, never over an
/// existing file. The audit entry is written in the transaction that writes the file, so a
/// file that could not be written leaves no entry.
fn export_pupil(
    settings: &Settings,
    upn: &str,
    school: &str,
    out: &std::path::Path,
) -> anyhow::Result<()> {
    if out.exists() {
        bail!(
            "--out: {} already exists: choose another file name",
            out.display()
        );
    }
    let db = open(settings)?;
    let record = in_transaction(&db, |conn| {
        let record = crate::db::subject_access::for_command(conn, school, upn, Utc::now())?;
        let bytes = web::pages::export::zip_bytes(&record)?;
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(out)
            .map_err(|e| Error::invalid("out", format!("writing {}: {e}", out.display())))?;
        if let Err(e) = std::io::Write::write_all(&mut file, &bytes).and_then(|()| file.sync_all())
        {
            drop(file);
            // Best effort: a half-written file is no export.
            let _ = std::fs::remove_file(out);
            return Err(Error::invalid(
                "out",
                format!("writing {}: {e}", out.display()),
            ));
        }
        Ok(record)
    })?;
    println!(
        "subject access record of {} written to {} ({} records, {} fields withheld for review)",
        record.pupil_detail("upn"),
        out.display(),
        record.sections.iter().map(|s| s.rows.len()).sum::<usize>(),
        record.for_review.len()
    );
    Ok(())
}

/// Reads `--at`, or the time now.
fn time_given(at: Option<String>) -> anyhow::Result<DateTime<Utc>> {
    Ok(match at {
        Some(raw) => DateTime::parse_from_rfc3339(&raw)
            .with_context(|| format!("--at must be an RFC 3339 time, got {raw:?}"))?
            .with_timezone(&Utc),
        None => Utc::now(),
    })
}

/// `steadfast retention [--dry-run]`: a line per school, pupil and kind of record, then the
/// totals.
fn retention(settings: &Settings, dry_run: bool, at: Option<String>) -> anyhow::Result<()> {
    let at = time_given(at)?;
    let db = open(settings)?;
    let today = crate::domain::calendar::SchoolCalendar::local_date(at);
    let report = actix_web::rt::System::new()
        .block_on(crate::jobs::retention::apply(&db, today, at, dry_run))?;
    let verb = if dry_run { "would erase" } else { "erased" };
    for line in &report.lines {
        println!(
            "{}\t{}\t{}\t{}",
            line.school_code,
            line.upn.as_deref().unwrap_or("-"),
            line.kind.as_str(),
            line.count
        );
    }
    if dry_run {
        println!("dry run, nothing erased: {verb} {report} as at {today}");
    } else {
        println!("{verb} {report} as at {today}");
    }
    Ok(())
}

/// Opens the database, running pending migrations; when they would upgrade a database that
/// holds a school, a backup is taken first (and nothing is migrated if it fails).
fn open(settings: &Settings) -> anyhow::Result<Database> {
    if let Some(written) = crate::backup::automatic::before_upgrade(settings, Utc::now())? {
        println!(
            "the database is being upgraded: a backup was taken first, {} ({} bytes)",
            written.path.display(),
            written.bytes
        );
    }
    Database::open(&settings.database_url, settings.pool_size)
        .with_context(|| format!("opening the database ({})", redact(&settings.database_url)))
}

/// The database URL without its password, for messages.
fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        _ => url.to_string(),
    }
}

/// An audit entry for an action taken from the command line.
/// The school and id of the account (open or closed) with this email.
fn account_by_email(conn: &mut DbConnection, email: &str) -> crate::error::Result<(i64, i64)> {
    use crate::db::schema::staff as columns;
    use diesel::prelude::*;
    columns::table
        .filter(columns::email.eq(email.trim().to_lowercase()))
        .select((columns::school_id, columns::id))
        .first(conn)
        .optional()?
        .ok_or_else(|| Error::invalid("email", format!("no account has the email {email}")))
}

fn entry(
    school_id: i64,
    action: &'static str,
    entity: &'static str,
    entity_id: i64,
) -> AuditEntry<'static> {
    AuditEntry {
        school_id,
        actor_id: None,
        action,
        entity,
        entity_id: Some(entity_id),
        detail: "command line".into(),
        at: to_db_time(Utc::now()),
    }
}

/// Runs `work` in one transaction, turning an application error into a readable message.
fn in_transaction<T>(
    db: &Database,
    work: impl FnOnce(&mut DbConnection) -> Result<T, Error>,
) -> anyhow::Result<T> {
    let mut conn = db.connection()?;
    crate::db::write_transaction(&mut conn, work).map_err(|e| match e.field() {
        Some(field) => anyhow::anyhow!("--{}: {e}", field.replace('_', "-")),
        None => anyhow::anyhow!("{e}"),
    })
}

/// Reads a secret (a password, a client secret) from standard input, without its final
/// line break.
fn read_secret(what: &str) -> anyhow::Result<String> {
    let mut secret = String::new();
    std::io::stdin()
        .read_to_string(&mut secret)
        .with_context(|| format!("reading {what} from standard input"))?;
    Ok(secret.trim_end_matches(['\r', '\n']).to_string())
}

/// The passphrase in `--passphrase-file`, when one is given.
fn read_passphrase(
    file: Option<&std::path::Path>,
) -> anyhow::Result<Option<age::secrecy::SecretString>> {
    file.map(|file| crate::backup::encryption::read_passphrase(file).context("--passphrase-file"))
        .transpose()
}

/// `steadfast check`: prints what was checked and found; fails on any problem.
fn check(
    settings: &Settings,
    file: Option<&std::path::Path>,
    passphrase: Option<&age::secrecy::SecretString>,
) -> anyhow::Result<()> {
    use crate::backup::Checked;
    let checked = crate::backup::check(&settings.database_url, file, passphrase)?;
    let name = match file {
        Some(file) => {
            if let Some(checksum) = checked.checksum() {
                print_checksum(file, checksum);
            }
            if passphrase.is_some() && crate::backup::is_encrypted(file)? {
                println!("encrypted: the passphrase opens it");
            }
            format!("backup {}", file.display())
        }
        None => format!("database {}", redact(&settings.database_url)),
    };
    let found = match checked {
        Checked::Database(found) | Checked::SqliteBackup(_, found) => found,
        Checked::PostgresBackup(_, listing) => {
            println!(
                "{name}: a readable pg_dump archive of {} entries ({} tables' data); restore \
                 it into a spare database to check its contents",
                listing.entries, listing.tables
            );
            return Ok(());
        }
    };
    println!("{name}: {found}");
    let (pupils, schools) = found.levels_checked();
    if schools > 0 {
        println!(
            "levels of {pupils} pupil(s) in {schools} school(s) checked against their level \
             history and records"
        );
    }
    report_problems(&found)?;
    println!("no problems found");
    Ok(())
}

/// Says whether a backup's checksum was verified.
fn print_checksum(file: &std::path::Path, checksum: crate::backup::Checksum) {
    let sums = crate::backup::checksum_path(file);
    match checksum {
        crate::backup::Checksum::Verified => println!("checksum matches {}", sums.display()),
        crate::backup::Checksum::Absent => {
            println!("no {}: the checksum was not verified", sums.display())
        }
    }
}

/// Fails with every problem `check` found, one a line.
fn report_problems(found: &crate::domain::backup::CheckFindings) -> anyhow::Result<()> {
    let problems = found.problems();
    if problems.is_empty() {
        return Ok(());
    }
    for problem in &problems {
        eprintln!("problem: {problem}");
    }
    bail!("{} problem(s) found", problems.len());
}

/// `steadfast school sso`: sets (or, with an empty issuer, clears) a school's OpenID Connect
/// client and whether its staff may sign in with a password.
fn school_sso(settings: &Settings, args: SchoolSso) -> anyhow::Result<()> {
    let db = open(settings)?;
    let oidc = if args.issuer.trim().is_empty() {
        None
    } else {
        let secret = read_secret("the client secret")?;
        let client =
            OidcClient::parse(&args.issuer, &args.client_id, &secret).map_err(|e| {
                match e.field {
                    "client_secret" => {
                        anyhow::anyhow!("the client secret (standard input) {}", e.message)
                    }
                    field => anyhow::anyhow!("--{}: {}", field.replace('_', "-"), e.message),
                }
            })?;
        Some(client)
    };
    let code = args.code;
    let (code, chosen) = in_transaction(&db, move |conn| {
        let school = school_named(conn, Some(code))?;
        let stored = sso::get(conn, school.id)?;
        let password_login = args
            .password_login
            .map_or(stored.password_login, |switch| switch == Switch::On);
        let chosen = SignInSettings::new(oidc, password_login)?;
        sso::set(conn, school.id, &chosen)?;
        audit::record(conn, entry(school.id, "school.sso", "school", school.id))?;
        Ok((school.code, chosen))
    })?;
    match chosen.oidc() {
        Some(oidc) => println!(
            "school {code} signs in with school accounts from {} (client id {})",
            oidc.issuer(),
            oidc.client_id()
        ),
        None => println!("school {code} does not sign in with school accounts"),
    }
    let password = if chosen.password_login() { "on" } else { "off" };
    println!("password sign-in: {password}");
    Ok(())
}

/// Creates a staff account from `steadfast user add`.
pub fn add_user(
    db: &Database,
    add: &UserAdd,
    password: &str,
) -> anyhow::Result<staff::StaffMember> {
    let email =
        EmailAddress::parse(&add.email).map_err(|e| anyhow::anyhow!("--email: {}", e.message))?;
    let name = PersonName::parse("name", &add.name)
        .map_err(|e| anyhow::anyhow!("--name: {}", e.message))?;
    let roles = add
        .roles
        .iter()
        .map(|r| Role::parse(r))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| anyhow::anyhow!("--role: {e}"))?;
    let years = add
        .year_groups
        .iter()
        .map(|y| YearNumber::new(*y))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| anyhow::anyhow!("--year-group: {}", e.message))?;
    accounts::check_new_password(password, &[add.name.as_str(), add.email.as_str()])
        .map_err(|e| anyhow::anyhow!("password: {e}"))?;
    let password_hash =
        accounts::hash_password(password).map_err(|e| anyhow::anyhow!("password: {e}"))?;
    let school_code = add.school.clone();
    let house_names = add.houses.clone();
    in_transaction(db, move |conn| {
        let school = school_named(conn, school_code)?;
        let mut member = staff::create(
            conn,
            staff::NewStaff {
                school_id: school.id,
                email: &email,
                name: &name,
                roles: &roles,
                year_groups: &years,
                password_hash: Some(password_hash),
            },
            Utc::now(),
        )?;
        if !house_names.is_empty() {
            let houses = house_names
                .iter()
                .map(|name| pastoral::house_named(conn, school.id, name))
                .collect::<Result<Vec<_>, _>>()?;
            pastoral::set_houses(conn, school.id, member.id, &houses)?;
            member.houses = houses;
            member.houses.sort_unstable();
            member.houses.dedup();
        }
        audit::record(conn, entry(school.id, "staff.add", "staff", member.id))?;
        Ok(member)
    })
}

/// `steadfast import oneroster`: every school of a bundle, from its `.zip` or its folder.
fn import_oneroster(
    settings: &Settings,
    path: std::path::PathBuf,
    dry_run: bool,
    full: bool,
) -> anyhow::Result<()> {
    let db = open(settings)?;
    let files = if path.is_dir() {
        read_bundle_folder(&path)?
    } else {
        match oneroster::bundle_files(&read_import_file(&path)?) {
            Ok(files) => files,
            Err(problem) => return print_import(&ImportReport::refused(vec![problem])),
        }
    };
    let options = ImportOptions {
        dry_run,
        full,
        ..ImportOptions::for_settings(settings)
    };
    let report = in_transaction(&db, move |conn| {
        oneroster::import_files(
            conn,
            oneroster::Scope::Every,
            None,
            &files,
            &options,
            Utc::now(),
        )
    })?;
    print_import(&report)
}

/// The school a command names with `--school`, or the only one when it names none.
fn school_named(conn: &mut DbConnection, code: Option<String>) -> Result<School, Error> {
    match code {
        Some(code) => schools::find_by_code(conn, &code)?
            .ok_or_else(|| Error::invalid("school", format!("no school has the code {code}"))),
        None => match <[_; 1]>::try_from(schools::all(conn)?) {
            Ok([only]) => Ok(only),
            Err(all) if all.is_empty() => Err(Error::invalid(
                "school",
                "there is no school yet: run `steadfast school add` first",
            )),
            Err(_) => Err(Error::invalid(
                "school",
                "there are several schools: name one with --school",
            )),
        },
    }
}

/// Reads the file an import names, refusing one too large to be an export.
fn read_import_file(path: &std::path::Path) -> anyhow::Result<Vec<u8>> {
    let size = std::fs::metadata(path)
        .with_context(|| format!("reading {}", path.display()))?
        .len();
    if size > crate::imports::MAX_IMPORT_BYTES as u64 {
        bail!(
            "{} is {size} bytes; an import reads at most {} bytes",
            path.display(),
            crate::imports::MAX_IMPORT_BYTES
        );
    }
    std::fs::read(path).with_context(|| format!("reading {}", path.display()))
}

/// The CSV files of a OneRoster bundle's folder (`*.csv`, not its subfolders) by file name,
/// as a bundle's .zip gives them.
fn read_bundle_folder(folder: &std::path::Path) -> anyhow::Result<BundleFiles> {
    let mut files = BundleFiles::new();
    let mut total = 0u64;
    let entries =
        std::fs::read_dir(folder).with_context(|| format!("reading {}", folder.display()))?;
    for entry in entries {
        let path = entry
            .with_context(|| format!("reading {}", folder.display()))?
            .path();
        let is_csv = path
            .extension()
            .is_some_and(|ext| ext.eq_ignore_ascii_case("csv"));
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        if !is_csv || !path.is_file() {
            continue;
        }
        total += std::fs::metadata(&path)
            .with_context(|| format!("reading {}", path.display()))?
            .len();
        if total > crate::imports::MAX_IMPORT_BYTES as u64 {
            bail!(
                "the CSV files of {} add up to more than {} bytes, more than an import reads",
                folder.display(),
                crate::imports::MAX_IMPORT_BYTES
            );
        }
        let bytes = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
        files.insert(name.to_string(), decode_text(&bytes));
    }
    Ok(files)
}

/// Prints what an import did (or would do), and fails when the file had problems.
fn print_import(report: &ImportReport) -> anyhow::Result<()> {
    for detail in &report.details {
        let line = detail
            .line
            .map(|l| format!(" (line {l})"))
            .unwrap_or_default();
        println!("{:<9} {} {}{line}", detail.action, detail.key, detail.name);
        for change in &detail.changes {
            println!(
                "          {}: {:?} -> {:?}",
                change.field, change.from, change.to
            );
        }
    }
    for column in &report.unrecognised_columns {
        println!("column not read: {column}");
    }
    for skipped in &report.skipped {
        println!(
            "skipped   line {}: {:?}: {}",
            skipped.line, skipped.name, skipped.reason
        );
    }
    for moved in &report.moved {
        println!("moved     {moved}");
    }
    if !report.errors.is_empty() {
        for error in &report.errors {
            eprintln!("{error}");
        }
        bail!(
            "{} problem(s) in the file: nothing was written",
            report.errors.len()
        );
    }
    if report.applied {
        println!("{}", report.summary());
    } else {
        println!("dry run, nothing written: {}", report.summary());
    }
    Ok(())
}

fn demo(settings: &Settings, spec: &ScaleSpec) -> anyhow::Result<()> {
    let db = open(settings)?;
    let plain = *spec == ScaleSpec::default();
    let report = load_scaled(&db, spec, Utc::now(), |school| {
        if !plain {
            eprintln!(
                "{} loaded in {:.1}s: {}",
                school.code,
                school.took.as_secs_f64(),
                school.summary
            );
        }
    })?;
    match report {
        Some(report) if plain => {
            let summary = report.schools.first().map_or("", |s| s.summary.as_str());
            println!(
                "Demo school loaded in {:.1}s: {summary}",
                report.took.as_secs_f64()
            );
        }
        Some(report) => {
            println!(
                "Demo data loaded in {:.1}s: {} schools, {} pupils, {} incidents",
                report.took.as_secs_f64(),
                report.schools.len(),
                report.pupils(),
                report.incidents(),
            );
        }
        None => println!("The demo school is already loaded."),
    }
    println!("{}", crate::demo::load::logins_text());
    if spec.schools > 1 {
        let last = spec.shape(spec.schools - 1);
        println!(
            "Schools DEMO02 to {} have the same logins at their own domain, from \
             demo02.example to {} (such as sendco@demo02.example).",
            last.code, last.email_domain
        );
    }
    Ok(())
}

/// The warning `serve` gives when email goes out over SMTP while the public URL is still this
/// machine only: every link in those emails would lead nowhere for the people who get them.
fn public_url_warning(settings: &Settings) -> Option<String> {
    let over_smtp = !settings.smtp_url.trim().eq_ignore_ascii_case("file")
        && !settings.smtp_url.trim().is_empty();
    (over_smtp && crate::mail::is_loopback_url(&settings.public_url)).then(|| {
        format!(
            "public_url is {}, an address of this machine only, while email goes out over SMTP: \
             the links in emails will not work for staff or families. Set STEADFAST_PUBLIC_URL \
             to the address they reach Steadfast at.",
            settings.public_url
        )
    })
}

fn serve(settings: Settings) -> anyhow::Result<()> {
    let db = open(&settings)?;
    let key = web::session_key(&settings)?;
    let listener = std::net::TcpListener::bind(&settings.bind)
        .with_context(|| format!("listening on {}", settings.bind))?;
    let address = listener.local_addr()?;
    let empty = {
        let mut conn = db.connection()?;
        schools::count(&mut conn)? == 0
    };
    let setup_link = if empty {
        let token = accounts::setup_token(&settings.data_dir).with_context(|| {
            format!(
                "writing the set-up token in {}",
                settings.data_dir.display()
            )
        })?;
        Some(format!(
            "{}/setup?token={token}",
            settings.public_url.trim_end_matches('/')
        ))
    } else {
        None
    };
    let jobs = crate::jobs::JobContext::from_settings(&settings)?;
    println!("Email goes to {}.", jobs.mailer.describe());
    if let Some(warning) = public_url_warning(&settings) {
        eprintln!("Warning: {warning}");
        tracing::warn!("{warning}");
    }
    let nightly = crate::backup::automatic::NightlyPlan::from_settings(&settings)?.map(Arc::new);
    match &nightly {
        Some(plan) => println!(
            "Nightly backups go to {}; the next at {}.",
            settings.backup_folder().display(),
            plan.next_after(Utc::now()).to_rfc3339()
        ),
        None => println!("Nightly backups are off (backup_nightly)."),
    }
    let state = web::AppState {
        db: db.clone(),
        settings: Arc::new(settings),
    };
    actix_web::rt::System::new().block_on(async move {
        let server = web::start(listener, state, key)?;
        actix_web::rt::spawn(crate::jobs::delivery::deliver_forever(
            db.clone(),
            jobs.mailer.clone(),
        ));
        actix_web::rt::spawn(crate::jobs::run_forever(db, jobs));
        if let Some(plan) = nightly {
            actix_web::rt::spawn(crate::backup::automatic::run_forever(plan));
        }
        println!("Steadfast is serving on http://{address}");
        if let Some(link) = setup_link {
            println!("The database holds no school yet. Set up your school at {link}");
            println!("(or run `steadfast demo` to try the demo school).");
        }
        server.await?;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serve_warns_when_emailed_links_would_point_at_this_machine() {
        let mut settings = Settings::defaults().expect("built-in settings");
        settings.public_url = "http://127.0.0.1:8080".into();
        settings.smtp_url = "file".into();
        assert_eq!(public_url_warning(&settings), None, "files are read here");
        settings.smtp_url = "smtp://mail.oakfield.example:587".into();
        let warning = public_url_warning(&settings).expect("a warning");
        assert!(warning.contains("STEADFAST_PUBLIC_URL"), "{warning}");
        settings.public_url = "https://support.oakfield.example".into();
        assert_eq!(public_url_warning(&settings), None);
    }
}
