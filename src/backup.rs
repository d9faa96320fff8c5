//! Backups (`steadfast backup`, `restore` and `check`): a consistent copy of the database
//! taken while the service runs, with its SHA-256 beside it; restoring one into an empty
//! database; and checking a database or a backup. The rules without IO (the checksum file,
//! what counts as a problem) are in [`crate::domain::backup`]. A backup may be encrypted
//! with a passphrase ([`encryption`]); the nightly backups of `steadfast serve` and the one
//! taken before an upgrade are in [`automatic`].

pub mod automatic;
pub mod encryption;

use std::ffi::OsString;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use age::secrecy::SecretString;
use anyhow::{bail, Context};
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Nullable, Text};
use diesel::SqliteConnection;
use sha2::{Digest, Sha256};

use crate::db::{self, schema, DatabaseTarget, DbConnection};
use crate::domain::backup::{checksum_line, recorded_checksum, BackupKind, CheckFindings};

/// A backup just written.
#[derive(Debug)]
pub struct Written {
    pub path: PathBuf,
    pub bytes: u64,
    pub sha256: String,
    pub checksum_path: PathBuf,
}

/// Whether a backup's checksum file was there to verify it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Checksum {
    Verified,
    /// No `FILE.sha256` beside the backup.
    Absent,
}

/// What `steadfast check FILE` found in a PostgreSQL archive.
#[derive(Debug)]
pub struct ArchiveListing {
    /// Entries in the archive's table of contents (`pg_restore --list`).
    pub entries: usize,
    /// Of which tables' data.
    pub tables: usize,
}

/// What `check` looked at and found.
#[derive(Debug)]
pub enum Checked {
    Database(CheckFindings),
    SqliteBackup(Checksum, CheckFindings),
    PostgresBackup(Checksum, ArchiveListing),
}

impl Checked {
    /// Whether a backup's checksum was verified; `None` for a database.
    pub fn checksum(&self) -> Option<Checksum> {
        match self {
            Checked::Database(_) => None,
            Checked::SqliteBackup(checksum, _) | Checked::PostgresBackup(checksum, _) => {
                Some(*checksum)
            }
        }
    }
}

/// `FILE.sha256`, the checksum file beside a backup.
pub fn checksum_path(file: &Path) -> PathBuf {
    let mut name = OsString::from(file.as_os_str());
    name.push(".sha256");
    PathBuf::from(name)
}

/// Writes a consistent backup of the database `database_url` names to `out`, encrypted
/// with `passphrase` when one is given, and the checksum of the file as written to
/// `out.sha256`. It is written under a temporary name first, so a failed backup leaves
/// nothing behind under `out`.
pub fn backup(
    database_url: &str,
    out: &Path,
    force: bool,
    passphrase: Option<&SecretString>,
) -> anyhow::Result<Written> {
    if out.exists() && !force {
        bail!(
            "{} already exists: choose another file, or pass --force to replace it",
            out.display()
        );
    }
    let partial = sibling(out, ".partial")?;
    remove_if_present(&partial)?;
    match passphrase {
        None => copy_database(database_url, &partial)?,
        Some(passphrase) => {
            // The copy is encrypted as soon as it is complete, and removed whatever happens.
            let plain = sibling(out, ".unencrypted.partial")?;
            remove_if_present(&plain)?;
            let encrypted = copy_database(database_url, &plain)
                .and_then(|()| encryption::encrypt_file(&plain, &partial, passphrase));
            remove_if_present(&plain)?;
            if let Err(e) = encrypted {
                remove_if_present(&partial)?;
                return Err(e);
            }
        }
    }
    std::fs::rename(&partial, out)
        .with_context(|| format!("moving {} to {}", partial.display(), out.display()))?;
    let sha256 = sha256_of(out)?;
    let bytes = std::fs::metadata(out)?.len();
    let checksum_path = checksum_path(out);
    let file_name = out
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    std::fs::write(&checksum_path, checksum_line(&sha256, &file_name))
        .with_context(|| format!("writing {}", checksum_path.display()))?;
    Ok(Written {
        path: out.to_path_buf(),
        bytes,
        sha256,
        checksum_path,
    })
}

/// Copies the database `database_url` names into the file `partial` (a consistent snapshot),
/// and waits for the disk.
fn copy_database(database_url: &str, partial: &Path) -> anyhow::Result<()> {
    match DatabaseTarget::parse(database_url)? {
        DatabaseTarget::Sqlite(path) => {
            let mut conn = open_sqlite_read_only(&path)?;
            // A read transaction of its own: a snapshot, whatever the service writes meanwhile.
            diesel::sql_query("VACUUM INTO ?")
                .bind::<Text, _>(partial.to_string_lossy())
                .execute(&mut conn)
                .with_context(|| format!("copying {} (VACUUM INTO)", path.display()))?;
        }
        DatabaseTarget::Postgres(url) => {
            let mut dump = postgres_command("pg_dump", &url)?;
            // pg_dump reads every table in one repeatable-read transaction: a snapshot.
            dump.arg("--format=custom").arg("--file").arg(partial);
            run(dump, "pg_dump")?;
        }
    }
    std::fs::File::open(partial)
        .and_then(|file| file.sync_all())
        .with_context(|| format!("writing {}", partial.display()))
}

/// A backup file ready to read: the file itself, or its decrypted copy.
struct Opened {
    kind: BackupKind,
    decrypted: Option<encryption::Decrypted>,
}

impl Opened {
    /// The plain (unencrypted) backup.
    fn path<'a>(&'a self, file: &'a Path) -> &'a Path {
        self.decrypted.as_ref().map_or(file, |d| d.path.as_path())
    }
}

/// Opens a backup: an encrypted one is decrypted with `passphrase` into a temporary file,
/// and refused without one.
fn open_backup(file: &Path, passphrase: Option<&SecretString>) -> anyhow::Result<Opened> {
    match backup_kind(file)? {
        BackupKind::Encrypted => {
            let Some(passphrase) = passphrase else {
                bail!(
                    "{} is encrypted: give its passphrase with --passphrase-file FILE",
                    file.display()
                );
            };
            let decrypted = encryption::Decrypted::new(file, passphrase)?;
            Ok(Opened {
                kind: decrypted.kind,
                decrypted: Some(decrypted),
            })
        }
        kind => Ok(Opened {
            kind,
            decrypted: None,
        }),
    }
}

/// Whether the backup `file` is encrypted.
pub fn is_encrypted(file: &Path) -> anyhow::Result<bool> {
    Ok(backup_kind(file)? == BackupKind::Encrypted)
}

/// Restores the backup `file` (decrypted with `passphrase` when it is encrypted) into the
/// database `database_url` names, which must hold no school, then runs pending migrations
/// and checks the result. On SQLite the service must be stopped: the file is put in place
/// of the database.
pub fn restore(
    database_url: &str,
    file: &Path,
    passphrase: Option<&SecretString>,
) -> anyhow::Result<(Checksum, CheckFindings)> {
    backup_kind(file)?;
    let checksum = verify_checksum(file)?;
    let opened = open_backup(file, passphrase)?;
    let (kind, plain) = (opened.kind, opened.path(file));
    let target = DatabaseTarget::parse(database_url)?;
    match (&target, kind) {
        (DatabaseTarget::Sqlite(path), BackupKind::Sqlite) => {
            if path.exists() {
                refuse_unless_empty(&mut target.connect()?)?;
            }
            if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                std::fs::create_dir_all(parent)?;
            }
            let copy = sibling(path, ".restoring")?;
            std::fs::copy(plain, &copy)
                .with_context(|| format!("copying {} to {}", file.display(), copy.display()))?;
            std::fs::File::open(&copy).and_then(|f| f.sync_all())?;
            // The old database's write-ahead log must not be replayed into the new file.
            for suffix in ["-wal", "-shm"] {
                remove_if_present(&sibling(path, suffix)?)?;
            }
            std::fs::rename(&copy, path)
                .with_context(|| format!("moving {} to {}", copy.display(), path.display()))?;
        }
        (DatabaseTarget::Postgres(url), BackupKind::PostgresArchive) => {
            let mut conn = target.connect()?;
            refuse_unless_empty(&mut conn)?;
            drop_empty_tables(&mut conn)?;
            let mut restore = postgres_command("pg_restore", url)?;
            restore
                .args([
                    "--no-owner",
                    "--no-acl",
                    "--single-transaction",
                    "--exit-on-error",
                ])
                .arg(plain);
            run(restore, "pg_restore")?;
        }
        (DatabaseTarget::Sqlite(_), BackupKind::PostgresArchive) => bail!(
            "{} is a PostgreSQL backup, but DATABASE_URL names a SQLite database",
            file.display()
        ),
        (DatabaseTarget::Postgres(_), BackupKind::Sqlite) => bail!(
            "{} is a SQLite backup, but DATABASE_URL names a PostgreSQL database",
            file.display()
        ),
        (_, BackupKind::Encrypted) => bail!("{} could not be decrypted", file.display()),
    }
    let mut conn = target.connect()?;
    db::run_migrations(&mut conn)?;
    Ok((checksum, findings(&mut conn)?))
}

/// Checks the database `database_url` names, or the backup `file` when one is given
/// (decrypted with `passphrase` when it is encrypted).
pub fn check(
    database_url: &str,
    file: Option<&Path>,
    passphrase: Option<&SecretString>,
) -> anyhow::Result<Checked> {
    let Some(file) = file else {
        let mut conn = match DatabaseTarget::parse(database_url)? {
            DatabaseTarget::Sqlite(path) => open_sqlite_read_only(&path)?,
            postgres => postgres.connect()?,
        };
        return Ok(Checked::Database(findings(&mut conn)?));
    };
    backup_kind(file)?;
    let checksum = verify_checksum(file)?;
    let opened = open_backup(file, passphrase)?;
    let plain = opened.path(file);
    Ok(match opened.kind {
        BackupKind::Sqlite => {
            Checked::SqliteBackup(checksum, findings(&mut open_sqlite_read_only(plain)?)?)
        }
        BackupKind::PostgresArchive => Checked::PostgresBackup(checksum, list_archive(plain)?),
        BackupKind::Encrypted => bail!("{} could not be decrypted", file.display()),
    })
}

/// What `check` finds in an open database: SQLite's own checks, the migrations, the counts.
fn findings(conn: &mut DbConnection) -> anyhow::Result<CheckFindings> {
    #[derive(QueryableByName)]
    struct Integrity {
        #[diesel(sql_type = Text)]
        integrity_check: String,
    }
    #[derive(QueryableByName)]
    struct ForeignKey {
        #[diesel(sql_type = Text, column_name = "table")]
        child: String,
        #[diesel(sql_type = Nullable<BigInt>)]
        rowid: Option<i64>,
        #[diesel(sql_type = Text)]
        parent: String,
    }
    #[derive(QueryableByName)]
    struct Version {
        #[diesel(sql_type = Text)]
        version: String,
    }
    let mut found = CheckFindings::default();
    if let DbConnection::Sqlite(_) = conn {
        found.integrity = diesel::sql_query("PRAGMA integrity_check")
            .load::<Integrity>(conn)
            .context("PRAGMA integrity_check")?
            .into_iter()
            .map(|row| row.integrity_check)
            .collect();
        found.foreign_keys = diesel::sql_query("PRAGMA foreign_key_check")
            .load::<ForeignKey>(conn)
            .context("PRAGMA foreign_key_check")?
            .into_iter()
            .map(|row| {
                let row_id = row.rowid.map(|id| format!(" row {id}")).unwrap_or_default();
                format!("{}{row_id} -> {}", row.child, row.parent)
            })
            .collect();
    }
    found.embedded_migrations = db::embedded_migration_versions(conn)?;
    found.applied_migrations = if has_table(conn, "__diesel_schema_migrations")? {
        diesel::sql_query("SELECT version FROM __diesel_schema_migrations")
            .load::<Version>(conn)?
            .into_iter()
            .map(|row| row.version)
            .collect()
    } else {
        Vec::new()
    };
    if has_table(conn, "schools")? {
        found.counts = vec![
            ("schools", schema::schools::table.count().get_result(conn)?),
            ("staff", schema::staff::table.count().get_result(conn)?),
            ("pupils", schema::pupils::table.count().get_result(conn)?),
            (
                "incidents",
                schema::incidents::table.count().get_result(conn)?,
            ),
            (
                "meetings",
                schema::meetings::table.count().get_result(conn)?,
            ),
        ];
        // The records are read as this Steadfast writes them: only once every migration ran.
        if found
            .embedded_migrations
            .iter()
            .all(|v| found.applied_migrations.contains(v))
        {
            found.consistency = db::consistency::check_all(conn)?;
        }
    }
    Ok(found)
}

/// Whether the database has a table of this name (in PostgreSQL's current schema).
fn has_table(conn: &mut DbConnection, name: &str) -> anyhow::Result<bool> {
    #[derive(QueryableByName)]
    struct Found {
        #[diesel(sql_type = BigInt)]
        found: i64,
    }
    let sql = match conn {
        DbConnection::Sqlite(_) => {
            "SELECT COUNT(*) AS found FROM sqlite_master WHERE type = 'table' AND name = ?"
        }
        DbConnection::Postgres(_) => {
            "SELECT COUNT(*) AS found FROM pg_tables \
             WHERE schemaname = current_schema() AND tablename = $1"
        }
    };
    let found = diesel::sql_query(sql)
        .bind::<Text, _>(name)
        .get_result::<Found>(conn)?;
    Ok(found.found > 0)
}

/// Refuses a database that holds a school: a restore goes into an empty database only.
fn refuse_unless_empty(conn: &mut DbConnection) -> anyhow::Result<()> {
    if !has_table(conn, "schools")? {
        return Ok(());
    }
    let schools: i64 = schema::schools::table.count().get_result(conn)?;
    if schools > 0 {
        bail!(
            "the database DATABASE_URL names already holds {schools} school(s): a backup is \
             restored only into an empty database (a new SQLite file, or a new PostgreSQL \
             database), so nothing was changed"
        );
    }
    Ok(())
}

/// On PostgreSQL, drops the tables and functions (the triggers' own) of a database that holds
/// no school (one a service started on, say), in one transaction, so the archive's can be
/// created.
fn drop_empty_tables(conn: &mut DbConnection) -> anyhow::Result<()> {
    #[derive(QueryableByName)]
    struct Object {
        #[diesel(sql_type = Text)]
        name: String,
    }
    let tables = diesel::sql_query(
        "SELECT quote_ident(tablename) AS name FROM pg_tables \
         WHERE schemaname = current_schema()",
    )
    .load::<Object>(conn)?;
    // Functions of the schema, but not those an extension brings.
    let functions = diesel::sql_query(
        "SELECT p.oid::regprocedure::text AS name FROM pg_proc p \
         JOIN pg_namespace n ON n.oid = p.pronamespace \
         WHERE n.nspname = current_schema() AND NOT EXISTS \
         (SELECT 1 FROM pg_depend d WHERE d.objid = p.oid AND d.deptype = 'e')",
    )
    .load::<Object>(conn)?;
    let names = |objects: &[Object]| {
        objects
            .iter()
            .map(|o| o.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    conn.transaction(|conn| {
        refuse_unless_empty(conn)?;
        if !tables.is_empty() {
            conn.batch_execute(&format!("DROP TABLE {} CASCADE", names(&tables)))?;
        }
        if !functions.is_empty() {
            conn.batch_execute(&format!("DROP FUNCTION {} CASCADE", names(&functions)))?;
        }
        Ok(())
    })
}

/// Opens a SQLite file read-only, refusing a path where there is none.
fn open_sqlite_read_only(path: &Path) -> anyhow::Result<DbConnection> {
    use percent_encoding::{utf8_percent_encode, AsciiSet, CONTROLS};
    const IN_URI: &AsciiSet = &CONTROLS.add(b'%').add(b'?').add(b'#').add(b' ');
    if !path.is_file() {
        bail!("there is no SQLite database at {}", path.display());
    }
    let uri = format!(
        "file:{}?mode=ro",
        utf8_percent_encode(&path.to_string_lossy(), IN_URI)
    );
    let mut conn =
        SqliteConnection::establish(&uri).with_context(|| format!("opening {}", path.display()))?;
    conn.batch_execute("PRAGMA busy_timeout = 10000")?;
    Ok(DbConnection::Sqlite(conn))
}

/// The kind of backup a file holds, from its first bytes.
fn backup_kind(file: &Path) -> anyhow::Result<BackupKind> {
    let mut head = Vec::with_capacity(BackupKind::HEAD_LEN);
    std::fs::File::open(file)
        .and_then(|f| f.take(BackupKind::HEAD_LEN as u64).read_to_end(&mut head))
        .with_context(|| format!("reading {}", file.display()))?;
    BackupKind::sniff(&head).with_context(|| {
        format!(
            "{} is not a Steadfast backup (neither a SQLite database nor a pg_dump archive, \
             encrypted or not)",
            file.display()
        )
    })
}

/// Compares a backup with the checksum recorded beside it, when there is one.
fn verify_checksum(file: &Path) -> anyhow::Result<Checksum> {
    let checksum_file = checksum_path(file);
    let text = match std::fs::read_to_string(&checksum_file) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Checksum::Absent),
        Err(e) => return Err(e).with_context(|| format!("reading {}", checksum_file.display())),
    };
    let recorded = recorded_checksum(&text)
        .map_err(|e| anyhow::anyhow!("{}: {e}", checksum_file.display()))?;
    let actual = sha256_of(file)?;
    if actual != recorded {
        bail!(
            "the checksum of {} does not match {}: the backup is damaged or was changed \
             (SHA-256 {actual}, recorded {recorded})",
            file.display(),
            checksum_file.display()
        );
    }
    Ok(Checksum::Verified)
}

/// The SHA-256 of a file, in lowercase hex.
fn sha256_of(file: &Path) -> anyhow::Result<String> {
    let mut hasher = Sha256::new();
    std::fs::File::open(file)
        .and_then(|mut f| std::io::copy(&mut f, &mut hasher))
        .with_context(|| format!("reading {}", file.display()))?;
    Ok(hex::encode(hasher.finalize()))
}

/// Lists a PostgreSQL archive's table of contents, which reads it through.
fn list_archive(file: &Path) -> anyhow::Result<ArchiveListing> {
    let tool = postgres_tool("pg_restore")?;
    let mut list = Command::new(tool);
    list.arg("--list").arg(file);
    let listing = run(list, "pg_restore --list")?;
    let entries: Vec<&str> = listing
        .lines()
        .filter(|line| !line.starts_with(';') && !line.trim().is_empty())
        .collect();
    Ok(ArchiveListing {
        entries: entries.len(),
        tables: entries
            .iter()
            .filter(|l| l.contains(" TABLE DATA "))
            .count(),
    })
}

/// A PostgreSQL client tool for the database at `url`: the password, if any, goes in
/// `PGPASSWORD` rather than on the command line (where other users could read it).
fn postgres_command(tool: &str, url: &str) -> anyhow::Result<Command> {
    let mut command = Command::new(postgres_tool(tool)?);
    let mut parsed = url::Url::parse(url).context("DATABASE_URL is not a valid URL")?;
    if let Some(password) = parsed.password() {
        let password = percent_encoding::percent_decode_str(password)
            .decode_utf8_lossy()
            .into_owned();
        command.env("PGPASSWORD", password);
        let _ = parsed.set_password(None);
    }
    command.arg("--dbname").arg(parsed.as_str());
    Ok(command)
}

/// Finds a PostgreSQL client tool on `PATH`, or else under `/usr/lib/postgresql/*/bin`
/// (the newest version first).
fn postgres_tool(tool: &str) -> anyhow::Result<PathBuf> {
    let on_path = std::env::var_os("PATH")
        .map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
        .unwrap_or_default();
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version = entry.file_name().to_string_lossy().parse().ok()?;
            Some((version, entry.path().join("bin")))
        })
        .collect();
    versions.sort_by_key(|(version, _)| std::cmp::Reverse(*version));
    on_path
        .into_iter()
        .chain(versions.into_iter().map(|(_, bin)| bin))
        .map(|folder| folder.join(tool))
        .find(|candidate| candidate.is_file())
        .with_context(|| {
            format!(
                "{tool} was not found on PATH nor under /usr/lib/postgresql/*/bin: install \
                 the PostgreSQL client tools (the postgresql-client package)"
            )
        })
}

/// Runs a tool, answering its standard output, or its standard error as the failure.
fn run(mut command: Command, what: &str) -> anyhow::Result<String> {
    let output = command
        .output()
        .with_context(|| format!("starting {what}"))?;
    if !output.status.success() {
        bail!(
            "{what} failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// `path` with `suffix` added to its file name.
fn sibling(path: &Path, suffix: &str) -> anyhow::Result<PathBuf> {
    if path.file_name().is_none() {
        bail!("{} is not a file name", path.display());
    }
    let mut name = OsString::from(path.as_os_str());
    name.push(suffix);
    Ok(PathBuf::from(name))
}

fn remove_if_present(path: &Path) -> anyhow::Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(e).with_context(|| format!("removing {}", path.display()))
        }
        _ => Ok(()),
    }
}
