//! The real `steadfast serve` as a child process, for tests of what happens around it:
//! several instances on one database, a `kill -9`, a database that goes away. Each instance
//! listens on a free loopback port and keeps its output in a file, shown when a test fails
//! to start it. Dropping an instance kills it.
#![allow(dead_code)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

/// How long an instance may take to answer `/health` after starting, on a busy machine.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// The session secret every instance of a test shares, as a load balancer needs.
pub const SESSION_SECRET: &str =
    "a-session-secret-shared-by-every-instance-of-one-test-0123456789abcdef";

/// One `steadfast serve` process.
pub struct ServeProcess {
    child: Option<Child>,
    /// `http://127.0.0.1:PORT`.
    pub address: String,
    /// Holds the process's output (`serve.log`) and, unless given, its data folder.
    dir: TempDir,
}

/// How to start an instance.
#[derive(Debug, Clone, Default)]
pub struct ServeOptions {
    /// `DATABASE_URL`.
    pub database_url: String,
    /// `STEADFAST_SMTP_URL`; `file` when `None`.
    pub smtp_url: Option<String>,
    /// `STEADFAST_DATA_DIR`; a folder of the instance's own when `None`.
    pub data_dir: Option<PathBuf>,
    /// More `STEADFAST_*` settings.
    pub env: Vec<(String, String)>,
}

impl ServeOptions {
    /// An instance on `database_url`, with the other settings at their test defaults.
    pub fn on(database_url: &str) -> Self {
        ServeOptions {
            database_url: database_url.to_string(),
            ..ServeOptions::default()
        }
    }

    /// The same, sending email to `smtp_url`.
    pub fn with_smtp(mut self, smtp_url: &str) -> Self {
        self.smtp_url = Some(smtp_url.to_string());
        self
    }
}

impl ServeProcess {
    /// Starts `steadfast serve` on a free port and waits until `/health` answers 200.
    pub async fn start(options: &ServeOptions) -> ServeProcess {
        let process = ServeProcess::spawn(options);
        process.wait_until_healthy().await;
        process
    }

    /// Starts `steadfast serve` without waiting for it.
    pub fn spawn(options: &ServeOptions) -> ServeProcess {
        let dir = tempfile::tempdir().expect("a folder for the instance");
        let port = free_port();
        let data_dir = options
            .data_dir
            .clone()
            .unwrap_or_else(|| dir.path().join("data"));
        let log = std::fs::File::create(dir.path().join("serve.log")).expect("a log file");
        let mut command = Command::new(env!("CARGO_BIN_EXE_steadfast"));
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("STEADFAST_") {
                command.env_remove(name);
            }
        }
        command
            .arg("serve")
            .current_dir(dir.path())
            .env("DATABASE_URL", &options.database_url)
            .env("STEADFAST_BIND", format!("127.0.0.1:{port}"))
            .env("STEADFAST_DATA_DIR", &data_dir)
            .env(
                "STEADFAST_SMTP_URL",
                options.smtp_url.as_deref().unwrap_or("file"),
            )
            .env("STEADFAST_SESSION_SECRET", SESSION_SECRET)
            .env("STEADFAST_PUBLIC_URL", format!("http://127.0.0.1:{port}"))
            .env("STEADFAST_POOL_SIZE", "4")
            .env("STEADFAST_LOG", "warn")
            .env_remove("RUST_LOG")
            .envs(options.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("the log file"))
            .stderr(log);
        let child = command.spawn().expect("starting steadfast serve");
        ServeProcess {
            child: Some(child),
            address: format!("http://127.0.0.1:{port}"),
            dir,
        }
    }

    /// Waits until `/health` answers 200; panics, showing the process's output, when it
    /// exits or does not answer within a minute.
    pub async fn wait_until_healthy(&self) {
        let deadline = Instant::now() + START_TIMEOUT;
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()
            .expect("an HTTP client");
        loop {
            if let Ok(response) = client.get(self.url("/health")).send().await {
                if response.status().is_success() {
                    return;
                }
            }
            if Instant::now() >= deadline {
                panic!(
                    "steadfast serve did not answer /health at {} within {START_TIMEOUT:?}:\n{}",
                    self.address,
                    self.output()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The full URL of a path.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        match &mut self.child {
            Some(child) => matches!(child.try_wait(), Ok(None)),
            None => false,
        }
    }

    /// Kills the process with SIGKILL (`kill -9`): no shutdown, no flushing, and waits for
    /// it to be gone.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// What the process printed so far.
    pub fn output(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("serve.log")
    }

    /// The instance's working folder.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for ServeProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A loopback port nothing listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free loopback port")
        .port()
}
