//! Layered settings: the built-in `config/default.toml`, then an optional local file, then the
//! environment. `DATABASE_URL` and `STEADFAST_*` variables always win.

use std::path::PathBuf;

use serde::Deserialize;

/// The built-in defaults, compiled into the binary so it runs from any folder.
const DEFAULTS: &str = include_str!("../config/default.toml");

/// Everything Steadfast can be configured with. See `config/default.toml` for each setting.
#[derive(Debug, Clone, Deserialize)]
pub struct Settings {
    pub database_url: String,
    pub bind: String,
    pub smtp_url: String,
    pub mail_from: String,
    pub data_dir: PathBuf,
    pub public_url: String,
    pub session_secret: String,
    pub pool_size: u32,
    pub secure_cookies: bool,
    pub log: String,
    /// The UK year of OneRoster grade 0: a pupil's year is their OneRoster grade plus this
    /// (by default 1, so grade `06` is Year 7). `STEADFAST_ONEROSTER_GRADE_OFFSET`.
    #[serde(default = "default_grade_offset")]
    pub oneroster_grade_offset: i64,
    /// The folder of the backups Steadfast takes by itself (nightly, and before an upgrade);
    /// empty: `backups` in `data_dir`. `STEADFAST_BACKUP_DIR`.
    #[serde(default)]
    pub backup_dir: String,
    /// Whether `steadfast serve` takes a backup every night. `STEADFAST_BACKUP_NIGHTLY`.
    #[serde(default = "default_true")]
    pub backup_nightly: bool,
    /// When the nightly backup is taken, `HH:MM` school time (Europe/London).
    /// `STEADFAST_BACKUP_AT`.
    #[serde(default = "default_backup_at")]
    pub backup_at: String,
    /// Nightly backups kept: the newest of each of this many days, weeks and months.
    /// `STEADFAST_BACKUP_KEEP_DAILY`, `_WEEKLY`, `_MONTHLY`.
    #[serde(default = "default_keep_daily")]
    pub backup_keep_daily: u32,
    /// Weekly nightly backups kept (see `backup_keep_daily`).
    #[serde(default = "default_keep_weekly")]
    pub backup_keep_weekly: u32,
    /// Monthly nightly backups kept (see `backup_keep_daily`).
    #[serde(default = "default_keep_monthly")]
    pub backup_keep_monthly: u32,
    /// A file holding the passphrase that encrypts the backups Steadfast takes by itself;
    /// empty: they are not encrypted. `STEADFAST_BACKUP_PASSPHRASE_FILE`.
    #[serde(default)]
    pub backup_passphrase_file: String,
    /// Reports of one school (insight pages and CSV, ladder, impact, the whole-school
    /// provision map, the insight API) that may run at once; one more is answered 429 "try
    /// again in a moment". `STEADFAST_REPORTS_PER_SCHOOL`.
    #[serde(default = "default_reports_per_school")]
    pub reports_per_school: usize,
    /// How long one report may run before it is stopped (429).
    /// `STEADFAST_REPORT_TIME_LIMIT_SECONDS`.
    #[serde(default = "default_report_time_limit")]
    pub report_time_limit_seconds: u64,
}

fn default_reports_per_school() -> usize {
    crate::db::reports::DEFAULT_PER_SCHOOL
}

fn default_report_time_limit() -> u64 {
    crate::db::reports::DEFAULT_TIME_LIMIT.as_secs()
}

fn default_true() -> bool {
    true
}

fn default_backup_at() -> String {
    "02:00".into()
}

fn default_keep_daily() -> u32 {
    crate::domain::backup_rotation::Retention::default().daily
}

fn default_keep_weekly() -> u32 {
    crate::domain::backup_rotation::Retention::default().weekly
}

fn default_keep_monthly() -> u32 {
    crate::domain::backup_rotation::Retention::default().monthly
}

fn default_grade_offset() -> i64 {
    crate::domain::oneroster::DEFAULT_GRADE_OFFSET
}

/// Why the settings could not be loaded.
#[derive(Debug, thiserror::Error)]
#[error("configuration: {0}")]
pub struct ConfigError(#[from] config::ConfigError);

impl Settings {
    /// Loads the settings: built-in defaults, then `config/local.toml` (or the file named by
    /// `STEADFAST_CONFIG`), then environment variables.
    pub fn load() -> Result<Self, ConfigError> {
        let local_file =
            std::env::var("STEADFAST_CONFIG").unwrap_or_else(|_| "config/local".into());
        let settings = config::Config::builder()
            .add_source(config::File::from_str(DEFAULTS, config::FileFormat::Toml))
            .add_source(config::File::with_name(&local_file).required(false))
            .add_source(config::Environment::with_prefix("STEADFAST").try_parsing(true))
            .set_override_option("database_url", std::env::var("DATABASE_URL").ok())?
            .build()?;
        Ok(settings.try_deserialize()?)
    }

    /// The folder of automatic backups: `backup_dir`, or `backups` in `data_dir`.
    pub fn backup_folder(&self) -> PathBuf {
        if self.backup_dir.trim().is_empty() {
            self.data_dir.join("backups")
        } else {
            PathBuf::from(self.backup_dir.trim())
        }
    }

    /// How many nightly backups rotation keeps.
    pub fn backup_retention(&self) -> crate::domain::backup_rotation::Retention {
        crate::domain::backup_rotation::Retention {
            daily: self.backup_keep_daily,
            weekly: self.backup_keep_weekly,
            monthly: self.backup_keep_monthly,
        }
    }

    /// The built-in defaults alone, for tests and tools that must not read the environment.
    pub fn defaults() -> Result<Self, ConfigError> {
        let settings = config::Config::builder()
            .add_source(config::File::from_str(DEFAULTS, config::FileFormat::Toml))
            .build()?;
        Ok(settings.try_deserialize()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_defaults_match_the_public_surface() {
        let settings = Settings::defaults().unwrap();
        assert_eq!(settings.database_url, "sqlite://data/steadfast.db");
        assert_eq!(settings.bind, "127.0.0.1:8080");
        assert_eq!(settings.smtp_url, "file");
        assert_eq!(settings.mail_from, "steadfast@localhost");
        assert_eq!(settings.oneroster_grade_offset, 1);
        assert_eq!(settings.backup_folder(), PathBuf::from("data/backups"));
        assert!(settings.backup_nightly);
        assert_eq!(settings.backup_at, "02:00");
        assert_eq!(
            settings.backup_retention(),
            crate::domain::backup_rotation::Retention::default()
        );
        assert_eq!(settings.backup_passphrase_file, "");
        assert_eq!(settings.reports_per_school, 1);
        assert_eq!(settings.report_time_limit_seconds, 20);
    }

    /// The settings file the Debian package and the container install as
    /// `/etc/steadfast/config.toml`.
    const PACKAGED: &str = include_str!("../packaging/debian/config.toml");

    fn parse(text: &str) -> config::Config {
        config::Config::builder()
            .add_source(config::File::from_str(text, config::FileFormat::Toml))
            .build()
            .unwrap()
    }

    #[test]
    fn packaged_settings_name_every_setting_and_keep_everything_in_var_lib() {
        let names = |text: &str| -> std::collections::BTreeSet<String> {
            parse(text)
                .try_deserialize::<std::collections::BTreeMap<String, config::Value>>()
                .unwrap()
                .into_keys()
                .collect()
        };
        assert_eq!(
            names(PACKAGED),
            names(DEFAULTS),
            "packaging/debian/config.toml must name the settings of config/default.toml"
        );

        let packaged: Settings = parse(PACKAGED).try_deserialize().unwrap();
        let data_dir = PathBuf::from("/var/lib/steadfast");
        assert_eq!(packaged.data_dir, data_dir);
        match crate::db::DatabaseTarget::parse(&packaged.database_url).unwrap() {
            crate::db::DatabaseTarget::Sqlite(path) => assert!(
                path.starts_with(&data_dir),
                "the packaged database {} is outside {}",
                path.display(),
                data_dir.display()
            ),
            other => panic!("the packaged database is not SQLite: {other:?}"),
        }
        assert!(
            packaged.secure_cookies,
            "the package runs behind an HTTPS proxy: cookies must be Secure"
        );
        assert!(
            packaged.session_secret.is_empty(),
            "the session secret belongs in /etc/default/steadfast, not in a file every user can read"
        );
    }
}
