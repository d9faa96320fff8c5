//! A real SMTP server on loopback for email tests: `scripts/smtp-sink.py` (Debian's
//! python3-aiosmtpd), started on a free port, saving what it receives in a temporary folder,
//! killed when dropped.
//!
//! `SmtpSink::start` returns `None` (after printing why) when python3-aiosmtpd or the
//! `openssl` tool it needs is missing, so the test can skip; under CI (`CI=true`) it panics
//! instead, so a missing server fails the build. Set `STEADFAST_TEST_PYTHON` to choose the
//! interpreter; otherwise the first of `python3` and `/usr/bin/python3` that has aiosmtpd is used.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use tempfile::TempDir;

/// How long the server may take to start on a busy machine.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// What kind of server to start.
#[derive(Debug, Clone, Default)]
pub struct SinkOptions {
    /// Offer STARTTLS with a freshly made self-signed certificate (see `SmtpSink::ca_file`).
    pub starttls: bool,
    /// Speak TLS from the first byte (an `smtps://` server) with that certificate.
    pub implicit_tls: bool,
    /// Require AUTH with exactly this user name and password.
    pub credentials: Option<(String, String)>,
}

/// One message the server accepted.
#[derive(Debug, Clone)]
pub struct ReceivedMessage {
    /// The envelope sender (MAIL FROM).
    pub envelope_from: String,
    /// The envelope recipients (RCPT TO) the server accepted.
    pub envelope_to: Vec<String>,
    /// The message exactly as received.
    pub raw: Vec<u8>,
    /// Whether the session was encrypted (STARTTLS or implicit TLS).
    pub tls: bool,
    /// The user name the client logged in with, if it did.
    pub login: Option<String>,
}

impl ReceivedMessage {
    /// The raw message as text (lossy), for `contains` checks.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.raw).into_owned()
    }
}

/// A running SMTP server; see the module documentation.
pub struct SmtpSink {
    options: SinkOptions,
    python: PathBuf,
    port: u16,
    /// Holds `messages/` and, with TLS, `cert.pem` and `key.pem`.
    dir: TempDir,
    process: Option<(Child, ChildStdin)>,
}

impl SmtpSink {
    /// Starts a server on a free loopback port, or returns `None` when it cannot run here
    /// (never under CI, where that panics).
    pub fn start(options: SinkOptions) -> Option<SmtpSink> {
        let python = match python_with_aiosmtpd() {
            Some(python) => python.clone(),
            None => return unavailable("python3-aiosmtpd is not installed"),
        };
        let dir = tempfile::tempdir().expect("a temporary folder");
        if options.starttls || options.implicit_tls {
            if let Err(why) = make_certificate(dir.path()) {
                return unavailable(&why);
            }
        }
        let port = free_port();
        let mut sink = SmtpSink {
            options,
            python,
            port,
            dir,
            process: None,
        };
        sink.spawn();
        Some(sink)
    }

    /// The `smtp_url` setting that reaches this server: `smtp://` or `smtps://`, with the
    /// credentials and, with TLS, `ca_file` naming the server's certificate.
    pub fn url(&self) -> String {
        let scheme = if self.options.implicit_tls {
            "smtps"
        } else {
            "smtp"
        };
        let userinfo = match &self.options.credentials {
            Some((user, password)) => format!("{}:{}@", encode(user), encode(password)),
            None => String::new(),
        };
        let query = match self.ca_file() {
            Some(path) => format!("?ca_file={}", path.display()),
            None => String::new(),
        };
        format!("{scheme}://{userinfo}127.0.0.1:{}{query}", self.port)
    }

    /// The port the server listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The PEM file of the server's self-signed certificate, when it uses TLS.
    pub fn ca_file(&self) -> Option<PathBuf> {
        (self.options.starttls || self.options.implicit_tls)
            .then(|| self.dir.path().join("cert.pem"))
    }

    /// Every message received so far, oldest first.
    pub fn messages(&self) -> Vec<ReceivedMessage> {
        let folder = self.messages_dir();
        let Ok(entries) = std::fs::read_dir(&folder) else {
            return Vec::new();
        };
        let mut envelopes: Vec<PathBuf> = entries
            .filter_map(Result::ok)
            .map(|entry| entry.path())
            .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
            .collect();
        envelopes.sort();
        envelopes
            .into_iter()
            .map(|path| {
                let record: serde_json::Value =
                    serde_json::from_slice(&std::fs::read(&path).expect("reading an envelope"))
                        .expect("an envelope in JSON");
                let raw = std::fs::read(path.with_extension("eml")).expect("reading a message");
                ReceivedMessage {
                    envelope_from: record["mail_from"].as_str().unwrap_or_default().to_string(),
                    envelope_to: record["rcpt_tos"]
                        .as_array()
                        .map(|list| {
                            list.iter()
                                .filter_map(|v| v.as_str().map(str::to_string))
                                .collect()
                        })
                        .unwrap_or_default(),
                    raw,
                    tls: record["tls"].as_bool().unwrap_or(false),
                    login: record["login"].as_str().map(str::to_string),
                }
            })
            .collect()
    }

    /// Waits until at least `count` messages have arrived and returns them all; panics
    /// after `timeout`.
    pub fn wait_for(&self, count: usize, timeout: Duration) -> Vec<ReceivedMessage> {
        let deadline = Instant::now() + timeout;
        loop {
            let messages = self.messages();
            if messages.len() >= count {
                return messages;
            }
            if Instant::now() >= deadline {
                panic!(
                    "the SMTP sink received {} messages in {timeout:?}, expected {count}",
                    messages.len()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Stops the server (the port then refuses connections); messages stay readable.
    pub fn stop(&mut self) {
        if let Some((mut child, stdin)) = self.process.take() {
            drop(stdin);
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same port, with the same options and folder.
    pub fn restart(&mut self) {
        self.stop();
        self.spawn();
    }

    fn messages_dir(&self) -> PathBuf {
        self.dir.path().join("messages")
    }

    fn spawn(&mut self) {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/smtp-sink.py");
        let mut command = Command::new(&self.python);
        command
            .arg(script)
            .arg("--port")
            .arg(self.port.to_string())
            .arg("--folder")
            .arg(self.messages_dir())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        if self.options.starttls || self.options.implicit_tls {
            command
                .arg("--tls-cert")
                .arg(self.dir.path().join("cert.pem"))
                .arg("--tls-key")
                .arg(self.dir.path().join("key.pem"));
        }
        if self.options.implicit_tls {
            command.arg("--implicit-tls");
        }
        if let Some((user, password)) = &self.options.credentials {
            command
                .arg("--user")
                .arg(user)
                .arg("--password")
                .arg(password);
        }
        let mut child = command.spawn().expect("starting scripts/smtp-sink.py");
        let stdin = child.stdin.take().expect("the sink's standard input");
        let stdout = child.stdout.take().expect("the sink's standard output");

        // Wait for "READY", reading on a thread so a silent server cannot hang the test.
        let (sender, receiver) = mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = sender.send(line);
        });
        match receiver.recv_timeout(START_TIMEOUT) {
            Ok(line) if line.starts_with("READY") => {}
            other => {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "the SMTP sink did not start on port {}: {other:?} (see its errors above)",
                    self.port
                );
            }
        }
        self.process = Some((child, stdin));
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Skips (returns `None`) with a note, or under CI fails.
fn unavailable(why: &str) -> Option<SmtpSink> {
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("{why}, but CI=true requires the SMTP tests to run (apt-get install python3-aiosmtpd openssl)");
    }
    eprintln!("skipped: {why}; the SMTP tests need python3-aiosmtpd (and openssl for TLS)");
    None
}

/// The first Python interpreter that can import aiosmtpd, found once per test binary.
fn python_with_aiosmtpd() -> Option<&'static PathBuf> {
    static PYTHON: OnceLock<Option<PathBuf>> = OnceLock::new();
    PYTHON
        .get_or_init(|| {
            let candidates: Vec<PathBuf> = match std::env::var_os("STEADFAST_TEST_PYTHON") {
                Some(chosen) => vec![chosen.into()],
                None => vec!["python3".into(), "/usr/bin/python3".into()],
            };
            candidates.into_iter().find(|python| {
                Command::new(python)
                    .args(["-c", "import aiosmtpd"])
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status()
                    .is_ok_and(|status| status.success())
            })
        })
        .as_ref()
}

/// A self-signed certificate for 127.0.0.1 and localhost, as `cert.pem` and `key.pem`.
fn make_certificate(dir: &Path) -> Result<(), String> {
    let output = Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
        ])
        .args(["-subj", "/CN=127.0.0.1"])
        .args(["-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"])
        .arg("-keyout")
        .arg(dir.join("key.pem"))
        .arg("-out")
        .arg(dir.join("cert.pem"))
        .output()
        .map_err(|e| format!("the openssl command could not run ({e})"))?;
    if !output.status.success() {
        return Err(format!(
            "openssl could not make a certificate: {}",
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    Ok(())
}

/// Percent-encodes everything but unreserved characters, for the user information of a URL.
fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A loopback port nothing listens on right now.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free loopback port")
        .port()
}
