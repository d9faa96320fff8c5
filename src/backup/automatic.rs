//! The backups Steadfast takes by itself: every night inside `steadfast serve` (then
//! rotated: so many daily, weekly and monthly ones kept), and before any command migrates a
//! database that holds a school. Both go to the backups folder of the settings, encrypted
//! when a passphrase file is set. The rules without IO are in
//! [`crate::domain::backup_rotation`].

use std::path::{Path, PathBuf};
use std::sync::Arc;

use age::secrecy::SecretString;
use anyhow::{bail, Context};
use chrono::{DateTime, NaiveTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::Text;
use serde::{Deserialize, Serialize};

use super::{backup, checksum_path, has_table, open_sqlite_read_only, Written};
use crate::config::Settings;
use crate::db::{self, schema, DatabaseTarget, DbConnection, Engine};
use crate::domain::backup_rotation::{
    backups_to_keep, is_automatic_backup, next_run, nightly_day, nightly_file_name,
    parse_time_of_day, upgrade_file_name,
};
use crate::domain::calendar::SchoolCalendar;

/// The file in the data folder recording how the last nightly backup went.
const STATUS_FILE: &str = "nightly-backup.json";

/// How the last nightly backup went, kept in the data folder for the backups page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NightlyStatus {
    /// When it was tried.
    pub at: DateTime<Utc>,
    /// The backup's file name, when it was written.
    pub file: Option<String>,
    /// Its size in bytes, when it was written.
    pub bytes: Option<u64>,
    /// Older nightly backups deleted by rotation afterwards.
    pub removed: Vec<String>,
    /// Why it failed (no personal data: paths and the tool's message).
    pub error: Option<String>,
}

impl NightlyStatus {
    /// Whether the backup was written (rotation may still have failed: see `error`).
    pub fn succeeded(&self) -> bool {
        self.file.is_some() && self.error.is_none()
    }
}

/// What the nightly backups need from the settings, checked once when the service starts.
#[derive(Clone)]
pub struct NightlyPlan {
    database_url: String,
    folder: PathBuf,
    data_dir: PathBuf,
    at: NaiveTime,
    retention: crate::domain::backup_rotation::Retention,
    passphrase: Option<SecretString>,
}

impl NightlyPlan {
    /// The plan the settings describe, or `None` when nightly backups are off. A time of day
    /// that cannot be read, or a passphrase file that cannot, is an error now rather than a
    /// failure every night.
    pub fn from_settings(settings: &Settings) -> anyhow::Result<Option<NightlyPlan>> {
        if !settings.backup_nightly {
            return Ok(None);
        }
        let at = parse_time_of_day(&settings.backup_at)
            .map_err(|e| anyhow::anyhow!("backup_at (STEADFAST_BACKUP_AT): {e}"))?;
        Ok(Some(NightlyPlan {
            database_url: settings.database_url.clone(),
            folder: settings.backup_folder(),
            data_dir: settings.data_dir.clone(),
            at,
            retention: settings.backup_retention(),
            passphrase: passphrase(settings)?,
        }))
    }

    /// When the next nightly backup is due after `now`.
    pub fn next_after(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        next_run(now, self.at)
    }

    /// Takes the nightly backup of `now`'s day (school time), then rotates the folder, and
    /// records how it went in the data folder. A failure is recorded and answered, never
    /// raised: the next night tries again.
    pub fn take(&self, now: DateTime<Utc>) -> NightlyStatus {
        let day = SchoolCalendar::local_date(now);
        let mut status = NightlyStatus {
            at: now,
            file: None,
            bytes: None,
            removed: Vec::new(),
            error: None,
        };
        let postgres = DatabaseTarget::parse(&self.database_url)
            .map(|t| t.engine() == Engine::Postgres)
            .unwrap_or(false);
        let name = nightly_file_name(day, postgres, self.passphrase.is_some());
        let written = std::fs::create_dir_all(&self.folder)
            .with_context(|| format!("creating the backups folder {}", self.folder.display()))
            .and_then(|()| {
                backup(
                    &self.database_url,
                    &self.folder.join(&name),
                    true,
                    self.passphrase.as_ref(),
                )
            });
        match written {
            Ok(written) => {
                status.file = Some(name);
                status.bytes = Some(written.bytes);
                match rotate(&self.folder, day, self.retention) {
                    Ok(removed) => status.removed = removed,
                    Err(e) => status.error = Some(format!("rotating the backups: {e:#}")),
                }
            }
            Err(e) => status.error = Some(format!("{e:#}")),
        }
        if let Err(e) = write_status(&self.data_dir, &status) {
            tracing::error!(error = %format!("{e:#}"), "the nightly backup's status was not recorded");
        }
        status
    }
}

/// The passphrase of the automatic backups, when `backup_passphrase_file` names one.
pub fn passphrase(settings: &Settings) -> anyhow::Result<Option<SecretString>> {
    let file = settings.backup_passphrase_file.trim();
    if file.is_empty() {
        return Ok(None);
    }
    super::encryption::read_passphrase(Path::new(file))
        .map(Some)
        .context("backup_passphrase_file (STEADFAST_BACKUP_PASSPHRASE_FILE)")
}

/// Takes the nightly backup at each due time until the process ends. The backup itself
/// runs on a blocking thread, so the service goes on answering meanwhile.
pub async fn run_forever(plan: Arc<NightlyPlan>) {
    loop {
        let due = plan.next_after(Utc::now());
        let wait = (due - Utc::now()).to_std().unwrap_or_default();
        actix_web::rt::time::sleep(wait).await;
        let run = plan.clone();
        let status = actix_web::rt::task::spawn_blocking(move || run.take(Utc::now())).await;
        match status {
            Ok(status) => match (&status.file, &status.error) {
                (Some(file), None) => tracing::info!(
                    file,
                    bytes = status.bytes.unwrap_or_default(),
                    removed = status.removed.len(),
                    "nightly backup written"
                ),
                (_, Some(error)) => tracing::error!(
                    error,
                    next = %plan.next_after(Utc::now()).to_rfc3339(),
                    "nightly backup failed; it is tried again next night"
                ),
                (None, None) => {}
            },
            Err(e) => tracing::error!(error = %e, "nightly backup stopped unexpectedly"),
        }
        // Never twice for one due time, even if the clock stepped back.
        let after = due + chrono::TimeDelta::seconds(1);
        let pause = (after - Utc::now()).to_std().unwrap_or_default();
        actix_web::rt::time::sleep(pause).await;
    }
}

/// Deletes the nightly backups of `folder` (with their checksum files) that rotation does
/// not keep on `today`; answers their names. Other files are left alone.
pub fn rotate(
    folder: &Path,
    today: chrono::NaiveDate,
    retention: crate::domain::backup_rotation::Retention,
) -> anyhow::Result<Vec<String>> {
    let mut nightly: Vec<(chrono::NaiveDate, PathBuf, String)> = Vec::new();
    for entry in
        std::fs::read_dir(folder).with_context(|| format!("reading {}", folder.display()))?
    {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if let Some(day) = nightly_day(&name) {
            nightly.push((day, entry.path(), name));
        }
    }
    let days: Vec<chrono::NaiveDate> = nightly.iter().map(|(day, _, _)| *day).collect();
    let keep = backups_to_keep(&days, today, retention);
    let mut removed = Vec::new();
    nightly.sort_by(|a, b| a.2.cmp(&b.2));
    for (day, path, name) in nightly {
        if keep.contains(&day) {
            continue;
        }
        std::fs::remove_file(&path).with_context(|| format!("removing {}", path.display()))?;
        super::remove_if_present(&checksum_path(&path))?;
        removed.push(name);
    }
    Ok(removed)
}

/// How the last nightly backup went, when one was tried.
pub fn last_status(data_dir: &Path) -> Option<NightlyStatus> {
    let text = std::fs::read_to_string(data_dir.join(STATUS_FILE)).ok()?;
    serde_json::from_str(&text).ok()
}

fn write_status(data_dir: &Path, status: &NightlyStatus) -> anyhow::Result<()> {
    std::fs::create_dir_all(data_dir)?;
    let path = data_dir.join(STATUS_FILE);
    let partial = data_dir.join(format!("{STATUS_FILE}.partial"));
    std::fs::write(&partial, serde_json::to_vec_pretty(status)?)
        .with_context(|| format!("writing {}", partial.display()))?;
    std::fs::rename(&partial, &path).with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

/// One backup in the backups folder.
#[derive(Debug, Clone)]
pub struct Listed {
    pub name: String,
    pub bytes: u64,
    pub modified: Option<DateTime<Utc>>,
}

/// The backups Steadfast took by itself that are in `folder`, newest first by name within
/// each kind (nightly, then before an upgrade); none when the folder is not there.
pub fn list(folder: &Path) -> Vec<Listed> {
    let Ok(entries) = std::fs::read_dir(folder) else {
        return Vec::new();
    };
    let mut listed: Vec<Listed> = entries
        .flatten()
        .filter_map(|entry| {
            let name = entry.file_name().to_string_lossy().into_owned();
            if !is_automatic_backup(&name) {
                return None;
            }
            let meta = entry.metadata().ok()?;
            Some(Listed {
                name,
                bytes: meta.len(),
                modified: meta.modified().ok().map(DateTime::<Utc>::from),
            })
        })
        .collect();
    listed.sort_by(|a, b| b.name.cmp(&a.name));
    listed
}

/// Before migrating: when the database `settings` name holds a school and has migrations
/// to run, takes a backup into the backups folder, named as the one from before the
/// upgrade, and answers it; `None` when there is nothing to upgrade or nothing to lose.
/// When the backup fails, the error says so and nothing must be migrated.
pub fn before_upgrade(settings: &Settings, now: DateTime<Utc>) -> anyhow::Result<Option<Written>> {
    let target = DatabaseTarget::parse(&settings.database_url)?;
    let mut conn = match &target {
        DatabaseTarget::Sqlite(path) if !path.exists() => return Ok(None),
        DatabaseTarget::Sqlite(path) => open_sqlite_read_only(path)?,
        // A database that cannot be reached is reported by the migrations themselves.
        DatabaseTarget::Postgres(_) => match target.connect() {
            Ok(conn) => conn,
            Err(_) => return Ok(None),
        },
    };
    let Some(upgrade) = pending_upgrade(&mut conn)? else {
        return Ok(None);
    };
    drop(conn);
    let taken = (|| {
        let passphrase = passphrase(settings)?;
        let folder = settings.backup_folder();
        std::fs::create_dir_all(&folder)
            .with_context(|| format!("creating the backups folder {}", folder.display()))?;
        let name = upgrade_file_name(
            now,
            &upgrade.from_version,
            target.engine() == Engine::Postgres,
            passphrase.is_some(),
        );
        backup(
            &settings.database_url,
            &folder.join(name),
            false,
            passphrase.as_ref(),
        )
    })();
    match taken {
        Ok(written) => Ok(Some(written)),
        Err(e) => bail!(
            "the database needs upgrading ({} migration(s) to run), but the backup taken \
             first failed, so nothing was migrated: {e:#}",
            upgrade.pending
        ),
    }
}

/// A database that holds a school and has migrations to run.
struct PendingUpgrade {
    /// How many migrations are to run.
    pending: usize,
    /// The newest migration it has run.
    from_version: String,
}

fn pending_upgrade(conn: &mut DbConnection) -> anyhow::Result<Option<PendingUpgrade>> {
    #[derive(QueryableByName)]
    struct Version {
        #[diesel(sql_type = Text)]
        version: String,
    }
    if !has_table(conn, "__diesel_schema_migrations")? || !has_table(conn, "schools")? {
        return Ok(None);
    }
    let applied: Vec<String> = diesel::sql_query("SELECT version FROM __diesel_schema_migrations")
        .load::<Version>(conn)?
        .into_iter()
        .map(|row| row.version)
        .collect();
    let pending = db::embedded_migration_versions(conn)?
        .into_iter()
        .filter(|version| !applied.contains(version))
        .count();
    if pending == 0 {
        return Ok(None);
    }
    let schools: i64 = schema::schools::table.count().get_result(conn)?;
    if schools == 0 {
        return Ok(None);
    }
    Ok(Some(PendingUpgrade {
        pending,
        from_version: applied.into_iter().max().unwrap_or_default(),
    }))
}
