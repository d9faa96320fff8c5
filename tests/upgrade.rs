//! Upgrading a database made by the previous release, on both engines: it is built from the
//! migrations that release had (those up to `000016_second_factor`, run from a copy of their
//! folders), filled with a row or more in every table (`tests/fixtures/previous-release.sql`),
//! then upgraded by the real `steadfast migrate`. A backup is taken first, and every row of
//! every table of the previous release is still there afterwards, value for value.
//!
//! The backup before an upgrade is also tested on its own, on a database one migration older
//! still (so there is something to upgrade whatever migrations this build adds): taken, named
//! as the one from before the upgrade, and, when it cannot be taken, nothing is migrated.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Output;

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};
use diesel_migrations::{FileBasedMigrations, MigrationHarness};
use tempfile::TempDir;

use common::{
    assert_failure_naming, assert_success, both_engines, run_steadfast, spare_database, stdout,
    Engine,
};
use steadfast::db::{schema, Database, DatabaseTarget, DbConnection};

/// The last migration of the previous release.
const PREVIOUS_RELEASE_LAST: &str = "2026-12-06-000016_second_factor";

/// The migration before the previous release's last one: a database this old always has a
/// migration to run.
const OLDER_LAST: &str = "2026-12-06-000014_audit_reads";

/// The fixture: a school with rows in every table of the previous release.
const FIXTURE: &str = include_str!("fixtures/previous-release.sql");

/// A copy of the migration folders for `engine` up to and including `last`, chosen by name.
fn migrations_up_to(engine: Engine, last: &str) -> TempDir {
    let source = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("migrations")
        .join(engine.as_str());
    let copy = tempfile::tempdir().expect("a folder for the migrations");
    let mut copied = Vec::new();
    for entry in std::fs::read_dir(&source).expect("the migrations folder") {
        let entry = entry.expect("a migration folder");
        let name = entry.file_name().to_string_lossy().into_owned();
        if !entry.path().is_dir() || name.as_str() > last {
            continue;
        }
        let target = copy.path().join(&name);
        std::fs::create_dir(&target).expect("copying a migration");
        for file in std::fs::read_dir(entry.path()).expect("a migration's files") {
            let file = file.expect("a migration file");
            std::fs::copy(file.path(), target.join(file.file_name())).expect("copying a file");
        }
        copied.push(name);
    }
    assert!(
        copied.iter().any(|name| name == last),
        "{last} is not among the migrations: {copied:?}"
    );
    copy
}

/// Opens one connection to the database at `url`.
fn connect(url: &str) -> DbConnection {
    DatabaseTarget::parse(url)
        .expect("a database URL")
        .connect()
        .expect("connecting")
}

/// Builds a database at `url` from the migrations up to `last`, and runs `fixture` in it.
fn build_database(engine: Engine, url: &str, last: &str, fixture: &str) {
    let migrations = migrations_up_to(engine, last);
    let source = FileBasedMigrations::from_path(migrations.path()).expect("the migrations");
    let mut conn = connect(url);
    match &mut conn {
        DbConnection::Sqlite(c) => {
            c.run_pending_migrations(source)
                .expect("the previous release's migrations");
        }
        DbConnection::Postgres(c) => {
            c.run_pending_migrations(source)
                .expect("the previous release's migrations");
        }
    }
    if !fixture.trim().is_empty() {
        conn.batch_execute(fixture).expect("loading the fixture");
    }
    if engine == Engine::Postgres {
        // The fixture gives its ids: the sequences carry on after them.
        conn.batch_execute(
            "DO $$ DECLARE t text; BEGIN
               FOR t IN SELECT table_name FROM information_schema.columns
                        WHERE table_schema = current_schema() AND column_name = 'id'
                          AND column_default LIKE 'nextval%'
               LOOP
                 EXECUTE format('SELECT setval(pg_get_serial_sequence(%L, ''id''), (SELECT MAX(id) FROM %I))', t, t);
               END LOOP;
             END $$;",
        )
        .expect("moving the sequences on");
    }
}

#[derive(QueryableByName)]
struct Name {
    #[diesel(sql_type = Text)]
    name: String,
}

#[derive(QueryableByName)]
struct Row {
    #[diesel(sql_type = Text)]
    row: String,
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    count: i64,
}

/// The tables of the database and their columns, by name (diesel's own table left out).
fn tables(conn: &mut DbConnection) -> BTreeMap<String, Vec<String>> {
    let names: Vec<String> = match conn {
        DbConnection::Sqlite(_) => diesel::sql_query(
            "SELECT name FROM sqlite_master WHERE type = 'table' \
             AND name NOT LIKE 'sqlite_%' AND name <> '__diesel_schema_migrations'",
        ),
        DbConnection::Postgres(_) => diesel::sql_query(
            "SELECT tablename AS name FROM pg_tables WHERE schemaname = current_schema() \
             AND tablename <> '__diesel_schema_migrations'",
        ),
    }
    .load::<Name>(conn)
    .expect("listing the tables")
    .into_iter()
    .map(|n| n.name)
    .collect();
    names
        .into_iter()
        .map(|table| {
            let columns = match conn {
                DbConnection::Sqlite(_) => {
                    diesel::sql_query(format!("SELECT name FROM pragma_table_info('{table}')"))
                }
                DbConnection::Postgres(_) => diesel::sql_query(format!(
                    "SELECT column_name AS name FROM information_schema.columns \
                     WHERE table_schema = current_schema() AND table_name = '{table}' \
                     ORDER BY ordinal_position"
                )),
            }
            .load::<Name>(conn)
            .expect("listing a table's columns")
            .into_iter()
            .map(|n| n.name)
            .collect();
            (table, columns)
        })
        .collect()
}

/// Every row of `table`, each as the text of the given columns, sorted.
fn rows(conn: &mut DbConnection, table: &str, columns: &[String]) -> Vec<String> {
    let fields: Vec<String> = columns
        .iter()
        .map(|c| format!("COALESCE(CAST(\"{c}\" AS TEXT), '<null>')"))
        .collect();
    let sql = format!(
        "SELECT {} AS row FROM \"{table}\"",
        fields.join(" || ' | ' || ")
    );
    let mut rows: Vec<String> = diesel::sql_query(sql)
        .load::<Row>(conn)
        .unwrap_or_else(|e| panic!("reading {table}: {e}"))
        .into_iter()
        .map(|r| r.row)
        .collect();
    rows.sort();
    rows
}

/// Every row of every table of `shape`, by table.
fn contents(
    conn: &mut DbConnection,
    shape: &BTreeMap<String, Vec<String>>,
) -> BTreeMap<String, Vec<String>> {
    shape
        .iter()
        .map(|(table, columns)| (table.clone(), rows(conn, table, columns)))
        .collect()
}

/// How many migrations the database records as run.
fn applied_migrations(conn: &mut DbConnection) -> i64 {
    diesel::sql_query("SELECT COUNT(*) AS count FROM __diesel_schema_migrations")
        .get_result::<Count>(conn)
        .expect("counting the migrations run")
        .count
}

/// Runs `steadfast` on the database with a data folder of its own (the backups go inside).
fn steadfast(database_url: &str, data_dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let data_dir = data_dir.to_string_lossy().into_owned();
    let mut all = vec![
        ("DATABASE_URL", database_url),
        ("STEADFAST_DATA_DIR", data_dir.as_str()),
        ("STEADFAST_POOL_SIZE", "2"),
    ];
    all.extend_from_slice(env);
    run_steadfast(args, "", &all)
}

/// The backups taken before an upgrade in `folder`.
fn upgrade_backups(folder: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(folder) else {
        return Vec::new();
    };
    let mut found: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            let name = p.file_name().unwrap_or_default().to_string_lossy();
            name.starts_with("steadfast-before-upgrade-") && !name.ends_with(".sha256")
        })
        .collect();
    found.sort();
    found
}

/// Whether this build has migrations the previous release did not.
fn newer_migrations_than_the_previous_release(conn: &DbConnection) -> bool {
    let version: String = PREVIOUS_RELEASE_LAST
        .split('_')
        .next()
        .unwrap_or_default()
        .replace('-', "");
    steadfast::db::embedded_migration_versions(conn)
        .expect("the migrations")
        .iter()
        .any(|v| v.as_str() > version.as_str())
}

async fn a_previous_release_database_upgrades_with_a_backup_first_and_keeps_every_row(
    engine: Engine,
) {
    let database = spare_database(engine);
    build_database(engine, &database.url, PREVIOUS_RELEASE_LAST, FIXTURE);
    let mut conn = connect(&database.url);
    let shape = tables(&mut conn);
    let before = contents(&mut conn, &shape);
    let empty: Vec<&String> = before
        .iter()
        .filter(|(_, rows)| rows.is_empty())
        .map(|(table, _)| table)
        .collect();
    assert!(
        empty.is_empty(),
        "the fixture leaves tables of the previous release empty: {empty:?}"
    );
    let migrations_before = applied_migrations(&mut conn);
    let upgrading = newer_migrations_than_the_previous_release(&conn);
    drop(conn);

    let data = tempfile::tempdir().expect("a data folder");
    let upgraded = tokio::task::spawn_blocking({
        let (database_url, data_dir) = (database.url.clone(), data.path().to_path_buf());
        move || steadfast(&database_url, &data_dir, &["migrate"], &[])
    })
    .await
    .expect("migrate to run");
    assert_success(&upgraded);
    let backups = upgrade_backups(&data.path().join("backups"));
    if !upgrading {
        // This build adds no migration yet: nothing to upgrade, so no backup either.
        assert!(
            !stdout(&upgraded).contains("backup") && backups.is_empty(),
            "{}",
            stdout(&upgraded)
        );
    } else {
        assert!(
            stdout(&upgraded).contains("a backup was taken first"),
            "{}",
            stdout(&upgraded)
        );
        assert_eq!(backups.len(), 1, "{backups:?}");
        the_backup_holds_the_rows(
            engine,
            &database.url,
            data.path(),
            &backups[0],
            &shape,
            &before,
            migrations_before,
        );
    }

    // Every row of every table of the previous release survives, value for value.
    let mut conn = connect(&database.url);
    let after = contents(&mut conn, &shape);
    for (table, rows) in &before {
        assert_eq!(
            after.get(table).map(Vec::len),
            Some(rows.len()),
            "rows of {table}"
        );
        assert_eq!(after.get(table), Some(rows), "the rows of {table} changed");
    }
    let embedded = steadfast::db::embedded_migration_versions(&conn).expect("the migrations");
    assert_eq!(applied_migrations(&mut conn), embedded.len() as i64);
    assert!(embedded.len() as i64 >= migrations_before);
    drop(conn);

    // The upgraded database reads as the new release's: a few key values through its schema.
    let db = Database::open(&database.url, 1).expect("opening the upgraded database");
    let mut conn = db.connection().expect("a connection");
    let zoe: (String, String, i16) = schema::pupils::table
        .filter(schema::pupils::upn.eq("A123456789012"))
        .select((
            schema::pupils::given_name,
            schema::pupils::family_name,
            schema::pupils::level,
        ))
        .first(&mut *conn)
        .expect("Zoë");
    assert_eq!(zoe, ("Zoë".to_string(), "Ng".to_string(), 2));
    let tutor: String = schema::staff::table
        .find(2)
        .select(schema::staff::name)
        .first(&mut *conn)
        .expect("the tutor");
    assert_eq!(tutor, "Ben O'Tutor");
    let imported: Option<String> = schema::incidents::table
        .find(3)
        .select(schema::incidents::import_key)
        .first(&mut *conn)
        .expect("the imported incident");
    assert_eq!(imported.as_deref(), Some("old-system:981"));
    drop(conn);

    // Nothing is left to upgrade: running it again takes no second backup.
    let again = steadfast(&database.url, data.path(), &["migrate"], &[]);
    assert_success(&again);
    assert!(!stdout(&again).contains("backup"), "{}", stdout(&again));
    assert_eq!(
        upgrade_backups(&data.path().join("backups")).len(),
        backups.len()
    );
}

/// The backup taken before the upgrade has its checksum and holds the previous release's rows.
fn the_backup_holds_the_rows(
    engine: Engine,
    database_url: &str,
    data_dir: &Path,
    backup: &Path,
    shape: &BTreeMap<String, Vec<String>>,
    before: &BTreeMap<String, Vec<String>>,
    migrations_before: i64,
) {
    let name = backup.file_name().unwrap_or_default().to_string_lossy();
    assert!(name.contains("-from-20261206000016"), "{name}");
    assert!(steadfast::backup::checksum_path(backup).is_file());
    match engine {
        Engine::Sqlite => {
            let mut saved = connect(&format!("sqlite://{}", backup.display()));
            assert_eq!(&contents(&mut saved, shape), before);
            assert_eq!(applied_migrations(&mut saved), migrations_before);
        }
        Engine::Postgres => {
            let listed = steadfast(
                database_url,
                data_dir,
                &["check", &backup.to_string_lossy()],
                &[],
            );
            assert_success(&listed);
            assert!(
                stdout(&listed).contains("checksum matches"),
                "{}",
                stdout(&listed)
            );
        }
    }
}

/// A school as an older release's `schools` table holds it (its other columns have defaults).
const OLDER_SCHOOL: &str = "INSERT INTO schools (id, code, name, created_at) \
                            VALUES (1, 'OLD', 'Older Academy', '2026-09-01 08:00:00');";

async fn an_upgrade_takes_a_backup_first_named_for_the_release_it_upgrades_from(engine: Engine) {
    let database = spare_database(engine);
    build_database(engine, &database.url, OLDER_LAST, OLDER_SCHOOL);
    let data = tempfile::tempdir().expect("a data folder");
    let upgraded = steadfast(&database.url, data.path(), &["migrate"], &[]);
    assert_success(&upgraded);
    assert!(
        stdout(&upgraded).contains("a backup was taken first"),
        "{}",
        stdout(&upgraded)
    );
    let backups = upgrade_backups(&data.path().join("backups"));
    assert_eq!(backups.len(), 1, "{backups:?}");
    let name = backups[0]
        .file_name()
        .unwrap_or_default()
        .to_string_lossy()
        .into_owned();
    assert!(name.contains("-from-20261206000014"), "{name}");
    assert!(steadfast::backup::checksum_path(&backups[0]).is_file());
    // The backup is of the database as it was: restored, it upgrades and holds the school.
    let spare = spare_database(engine);
    let restored = steadfast(
        &spare.url,
        data.path(),
        &["restore", &backups[0].to_string_lossy()],
        &[],
    );
    assert_success(&restored);
    assert!(
        stdout(&restored).contains("schools 1"),
        "{}",
        stdout(&restored)
    );
    let mut conn = connect(&database.url);
    let embedded = steadfast::db::embedded_migration_versions(&conn).expect("the migrations");
    assert_eq!(applied_migrations(&mut conn), embedded.len() as i64);
    // An empty database (a new installation) has nothing to lose: no backup is taken.
    let empty = spare_database(engine);
    let fresh = tempfile::tempdir().expect("a data folder");
    build_database(engine, &empty.url, OLDER_LAST, "");
    let migrated = steadfast(&empty.url, fresh.path(), &["migrate"], &[]);
    assert_success(&migrated);
    assert!(upgrade_backups(&fresh.path().join("backups")).is_empty());
}

async fn when_the_backup_fails_nothing_is_migrated(engine: Engine) {
    let database = spare_database(engine);
    build_database(engine, &database.url, OLDER_LAST, OLDER_SCHOOL);
    let mut conn = connect(&database.url);
    let migrations_before = applied_migrations(&mut conn);
    drop(conn);
    let data = tempfile::tempdir().expect("a data folder");
    // A backups folder inside a file cannot be made, not even by root.
    let blocker = data.path().join("not-a-folder");
    std::fs::write(&blocker, "a file").expect("a file");
    let folder = blocker.join("backups");
    let output = tokio::task::spawn_blocking({
        let (database_url, data_dir, folder) = (
            database.url.clone(),
            data.path().to_path_buf(),
            folder.to_string_lossy().into_owned(),
        );
        move || {
            steadfast(
                &database_url,
                &data_dir,
                &["migrate"],
                &[("STEADFAST_BACKUP_DIR", &folder)],
            )
        }
    })
    .await
    .expect("migrate to run");
    assert_failure_naming(&output, "nothing was migrated");
    assert_failure_naming(&output, "backups folder");
    let mut conn = connect(&database.url);
    assert_eq!(applied_migrations(&mut conn), migrations_before);
}

both_engines!(
    a_previous_release_database_upgrades_with_a_backup_first_and_keeps_every_row,
    an_upgrade_takes_a_backup_first_named_for_the_release_it_upgrades_from,
    when_the_backup_fails_nothing_is_migrated,
);
