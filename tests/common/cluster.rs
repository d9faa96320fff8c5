//! A PostgreSQL cluster owned by one test, which the test may stop and start again (the
//! shared one of `scripts/with-postgres` must stay up for the other tests). Made like that
//! script's: `initdb` into a temporary folder, then `pg_ctl start` on a free loopback port,
//! as the `postgres` user when the tests run as root. Stopped and removed when dropped.
//!
//! `PgCluster::create` returns `None` (after printing why) when PostgreSQL's server binaries
//! are not installed, so the test can skip; under CI (`CI=true`) it panics instead.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use tempfile::TempDir;

/// Seconds `pg_ctl` may wait for the server to start or stop.
const PG_CTL_WAIT: &str = "60";

/// A running (or stopped) test-owned cluster.
pub struct PgCluster {
    bin: PathBuf,
    port: u16,
    dir: TempDir,
}

impl PgCluster {
    /// Creates and starts a cluster, or returns `None` when PostgreSQL is not installed
    /// here (never under CI, where that panics).
    pub fn create() -> Option<PgCluster> {
        let Some(bin) = server_binaries() else {
            if std::env::var("CI").as_deref() == Ok("true") {
                panic!("PostgreSQL server binaries are missing under /usr/lib/postgresql, but CI=true requires the PostgreSQL tests to run");
            }
            eprintln!("skipped: no PostgreSQL server binaries under /usr/lib/postgresql");
            return None;
        };
        let dir = tempfile::tempdir().expect("a folder for the cluster");
        if running_as_root() {
            run(Command::new("chown")
                .arg("postgres:postgres")
                .arg(dir.path()));
        }
        let cluster = PgCluster {
            bin,
            port: super::serve::free_port(),
            dir,
        };
        cluster.as_postgres(|c| {
            c.arg(cluster.bin.join("initdb"))
                .arg("-D")
                .arg(cluster.data())
                .args(["-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync"])
        });
        cluster.start();
        Some(cluster)
    }

    /// The URL of the cluster's `postgres` database.
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// Starts the server (again) and waits until it accepts connections.
    pub fn start(&self) {
        // fsync=off is safe here: the tests stop the server, never the machine. Commits are
        // still written out before they are acknowledged (synchronous_commit stays on), so
        // an immediate stop loses nothing that was acknowledged.
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            self.port,
            self.dir.path().display()
        );
        self.as_postgres(|c| {
            c.arg(self.bin.join("pg_ctl"))
                .arg("-D")
                .arg(self.data())
                .arg("-l")
                .arg(self.dir.path().join("server.log"))
                .args(["-w", "-t", PG_CTL_WAIT, "-o", &options, "start"])
        });
    }

    /// Stops the server at once (`-m immediate`: connections are cut, as when the database
    /// machine goes away) and waits until it is down.
    pub fn stop(&self) {
        self.as_postgres(|c| {
            c.arg(self.bin.join("pg_ctl"))
                .arg("-D")
                .arg(self.data())
                .args(["-w", "-t", PG_CTL_WAIT, "-m", "immediate", "stop"])
        });
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// Runs a command as the `postgres` user when the tests run as root; panics, showing
    /// its output, when it fails.
    fn as_postgres(&self, build: impl FnOnce(&mut Command) -> &mut Command) -> Output {
        let mut command = if running_as_root() {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--"]);
            command
        } else {
            Command::new("env")
        };
        build(&mut command);
        run(&mut command)
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        // Best effort: the folder goes with the TempDir.
        let mut command = if running_as_root() {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--"]);
            command
        } else {
            Command::new("env")
        };
        let _ = command
            .arg(self.bin.join("pg_ctl"))
            .arg("-D")
            .arg(self.data())
            .args(["-m", "immediate", "stop"])
            .output();
    }
}

/// The newest `/usr/lib/postgresql/*/bin` holding `initdb`.
fn server_binaries() -> Option<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(Result::ok)
        .map(|entry| entry.path().join("bin"))
        .filter(|bin| bin.join("initdb").is_file())
        .collect();
    found.sort_by_key(|bin| version_of(bin));
    found.pop()
}

/// The major version in `/usr/lib/postgresql/VERSION/bin`.
fn version_of(bin: &Path) -> u32 {
    bin.parent()
        .and_then(|p| p.file_name())
        .and_then(|name| name.to_str())
        .and_then(|name| name.parse().ok())
        .unwrap_or(0)
}

fn running_as_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).trim() == "0")
}

fn run(command: &mut Command) -> Output {
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("running {command:?}: {e}"));
    assert!(
        output.status.success(),
        "{command:?} failed ({}):\n{}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}
