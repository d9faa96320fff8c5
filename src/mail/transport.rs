//! How a built message leaves Steadfast: written to a folder (the default, for trying the
//! product out and for tests) or handed to an SMTP server.
//!
//! The setting (`smtp_url`) is one of:
//!
//! - `file`: each message becomes `{data_dir}/outbox/{message key}.eml`;
//! - `smtp://[user:pass@]host[:port]`: plain SMTP (port 25 by default), upgraded with
//!   STARTTLS whenever the server offers it; AUTH when a user is given. A password is never
//!   sent in clear to another machine: with credentials and a host other than loopback,
//!   STARTTLS is required;
//! - `smtps://[user:pass@]host[:port]`: TLS from the first byte (port 465 by default).
//!
//! Query parameters: `tls=required` refuses to send unless STARTTLS succeeds;
//! `ca_file=/path/ca.pem` also trusts the certificate authorities in that PEM file (for
//! schools with their own). User and password may be percent-encoded.

use std::fmt;
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::transport::smtp::SmtpTransport;
use lettre::Message;
use lettre::Transport as _;
use percent_encoding::percent_decode_str;

use super::{sanitise_key, MailError};

/// How long to wait for the SMTP server to accept a connection or answer a command.
pub const SMTP_TIMEOUT: Duration = Duration::from_secs(10);

/// Where messages go, chosen by the `smtp_url` setting.
pub enum Transport {
    /// Each message is written as an `.eml` file in a folder.
    File(FileOutbox),
    /// Each message is sent to an SMTP server.
    Smtp(SmtpRelay),
}

/// The folder transport: `{data_dir}/outbox/{message key}.eml`, one file per key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileOutbox {
    dir: PathBuf,
}

/// The SMTP transport, with the setting it came from (password hidden) for messages.
#[derive(Clone)]
pub struct SmtpRelay {
    transport: SmtpTransport,
    description: String,
}

/// Why a message was not sent, and whether trying again later may help.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// Sending this message will never work (e.g. the server refused the recipient with a
    /// 5xx reply): give up on it.
    #[error("refused for good: {0}")]
    Permanent(String),
    /// It may work later (connection refused, timeout, a 4xx reply, a login refused until the
    /// setting is fixed, a full disk): retry with backoff.
    #[error("not sent this time: {0}")]
    Transient(String),
    /// The mail server could not be talked to at all (connection refused, no answer in
    /// time, or "421 service not available"): retry with backoff, and do not try the
    /// other waiting messages now either.
    #[error("the mail server is unavailable: {0}")]
    Unreachable(String),
}

impl SendError {
    /// Whether the message should be given up on rather than retried.
    pub fn is_permanent(&self) -> bool {
        matches!(self, SendError::Permanent(_))
    }

    /// Whether the server itself failed, rather than this one message.
    pub fn is_server_unavailable(&self) -> bool {
        matches!(self, SendError::Unreachable(_))
    }
}

/// One file the folder transport has written, for the admin page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentFile {
    /// The file name, `{message key}.eml`: what [`read_sent`] takes.
    pub name: String,
    /// Size in bytes.
    pub size: u64,
    /// When it was written.
    pub written_at: DateTime<Utc>,
}

impl Transport {
    /// The transport for the `smtp_url` setting (see the module documentation); `data_dir`
    /// holds the folder the `file` transport writes to.
    pub fn from_settings(smtp_url: &str, data_dir: &Path) -> Result<Transport, MailError> {
        let setting = smtp_url.trim();
        if setting.is_empty() || setting.eq_ignore_ascii_case("file") {
            return Ok(Transport::File(FileOutbox {
                dir: outbox_dir(data_dir),
            }));
        }
        SmtpRelay::from_url(setting).map(Transport::Smtp)
    }

    /// Sends (or writes) one message. Sending a message whose Message-ID was already
    /// written by the folder transport leaves the first file as it is.
    pub fn send(&self, message: &Message) -> Result<(), SendError> {
        match self {
            Transport::File(outbox) => outbox.write(message),
            Transport::Smtp(relay) => relay.transport.send(message).map(|_| ()).map_err(classify),
        }
    }
}

impl fmt::Display for Transport {
    /// Says where messages go, without any password: for logs and the admin page.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Transport::File(outbox) => write!(f, "files in {}", outbox.dir.display()),
            Transport::Smtp(relay) => f.write_str(&relay.description),
        }
    }
}

impl fmt::Debug for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Transport::File(outbox) => f.debug_tuple("Transport::File").field(outbox).finish(),
            Transport::Smtp(relay) => f.debug_tuple("Transport::Smtp").field(relay).finish(),
        }
    }
}

impl fmt::Debug for SmtpRelay {
    /// Shows the setting with its password hidden.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpRelay")
            .field("url", &self.description)
            .finish()
    }
}

impl SmtpRelay {
    fn from_url(setting: &str) -> Result<SmtpRelay, MailError> {
        let description = redact(setting);
        let refuse = |reason: String| MailError::SmtpUrl {
            url: description.clone(),
            reason,
        };
        let url = url::Url::parse(setting).map_err(|e| refuse(e.to_string()))?;
        let implicit_tls = match url.scheme() {
            "smtp" => false,
            "smtps" => true,
            other => {
                return Err(refuse(format!(
                    "unknown scheme {other:?}: use file, smtp:// or smtps://"
                )))
            }
        };
        let host = match url.host() {
            Some(url::Host::Domain(name)) if !name.is_empty() => name.to_string(),
            Some(url::Host::Ipv4(ip)) => ip.to_string(),
            Some(url::Host::Ipv6(ip)) => ip.to_string(),
            _ => return Err(refuse("no host".into())),
        };
        let port = url.port().unwrap_or(if implicit_tls { 465 } else { 25 });

        let mut tls_required = false;
        let mut ca_file = None;
        for (name, value) in url.query_pairs() {
            match (name.as_ref(), value.as_ref()) {
                ("tls", "required") => tls_required = true,
                ("tls", "opportunistic") => tls_required = false,
                ("ca_file", path) => ca_file = Some(PathBuf::from(path)),
                (name, _) => {
                    return Err(refuse(format!(
                        "unknown parameter {name:?}: expected tls=required|opportunistic or ca_file=PATH"
                    )))
                }
            }
        }

        let decode = |s: &str| {
            percent_decode_str(s)
                .decode_utf8()
                .map(|s| s.into_owned())
                .map_err(|_| refuse("user or password is not UTF-8 once decoded".into()))
        };
        let credentials = if url.username().is_empty() {
            None
        } else {
            Some(Credentials::new(
                decode(url.username())?,
                decode(url.password().unwrap_or(""))?,
            ))
        };

        let mut parameters = TlsParameters::builder(host.clone());
        if let Some(path) = &ca_file {
            for certificate in read_certificates(path).map_err(refuse)? {
                parameters = parameters.add_root_certificate(certificate);
            }
        }
        let parameters = parameters
            .build()
            .map_err(|e| refuse(format!("TLS setup: {e}")))?;
        let loopback = match url.host() {
            Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
            Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
            Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
            None => false,
        };
        let tls = if implicit_tls {
            Tls::Wrapper(parameters)
        } else if tls_required || (credentials.is_some() && !loopback) {
            Tls::Required(parameters)
        } else {
            Tls::Opportunistic(parameters)
        };

        let mut builder = SmtpTransport::builder_dangerous(host)
            .port(port)
            .tls(tls)
            .timeout(Some(SMTP_TIMEOUT));
        if let Some(credentials) = credentials {
            builder = builder.credentials(credentials);
        }
        Ok(SmtpRelay {
            transport: builder.build(),
            description,
        })
    }
}

/// Every certificate in a PEM file.
fn read_certificates(path: &Path) -> Result<Vec<Certificate>, String> {
    let text = fs::read_to_string(path).map_err(|e| format!("ca_file {}: {e}", path.display()))?;
    const BEGIN: &str = "-----BEGIN CERTIFICATE-----";
    let certificates = text
        .match_indices(BEGIN)
        .map(|(start, _)| {
            Certificate::from_pem(&text.as_bytes()[start..])
                .map_err(|e| format!("ca_file {}: {e}", path.display()))
        })
        .collect::<Result<Vec<_>, _>>()?;
    if certificates.is_empty() {
        return Err(format!("ca_file {}: no certificate in it", path.display()));
    }
    Ok(certificates)
}

/// The setting with any password replaced by `***` (everything before the last `@` after the
/// scheme is user information; only the user name is kept).
fn redact(setting: &str) -> String {
    let Some((scheme, rest)) = setting.split_once("://") else {
        return setting.to_string();
    };
    match rest.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
            None => format!("{scheme}://{userinfo}@{host}"),
        },
        None => setting.to_string(),
    }
}

/// Sorts an SMTP failure into give-up or retry.
fn classify(error: lettre::transport::smtp::Error) -> SendError {
    let text = error.to_string();
    match error.status().map(|code| code.to_string()) {
        // A refused login is the setting's fault, not the message's: retry once it is fixed.
        Some(code) if matches!(code.as_str(), "530" | "534" | "535" | "538") => {
            SendError::Transient(text)
        }
        _ if error.is_permanent() || error.is_client() => SendError::Permanent(text),
        // No answer at all, or the server saying it is not available.
        None => SendError::Unreachable(text),
        Some(code) if code == "421" => SendError::Unreachable(text),
        _ => SendError::Transient(text),
    }
}

/// The folder the file transport writes to.
pub fn outbox_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("outbox")
}

/// Whether a name is one the file transport writes: a safe message key and `.eml`.
fn is_sent_name(name: &str) -> bool {
    match name.strip_suffix(".eml") {
        Some(key) => !key.is_empty() && sanitise_key(key) == key,
        None => false,
    }
}

/// The message key in a message's Message-ID (`<key@host>`), made safe for a file name.
fn message_key_of(message: &Message) -> Option<String> {
    let id = message.headers().get_raw("Message-ID")?;
    let id = id.trim().trim_start_matches('<').trim_end_matches('>');
    let local = id.rsplit_once('@').map_or(id, |(local, _)| local);
    Some(sanitise_key(local)).filter(|key| !key.is_empty())
}

/// Tells temporary files of concurrent writes apart.
static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

impl FileOutbox {
    /// Writes the message to a hidden temporary file, then links it into place under its
    /// final name, so a reader never sees half a file and an existing file is never replaced.
    fn write(&self, message: &Message) -> Result<(), SendError> {
        let key = message_key_of(message)
            .ok_or_else(|| SendError::Permanent("the message has no usable Message-ID".into()))?;
        let io_error = |what: &str, e: io::Error| {
            SendError::Transient(format!("{what} in {}: {e}", self.dir.display()))
        };
        fs::create_dir_all(&self.dir).map_err(|e| io_error("creating the folder", e))?;
        let target = self.dir.join(format!("{key}.eml"));
        if target.exists() {
            return Ok(());
        }
        let temp = self.dir.join(format!(
            ".{key}.{}.{}.tmp",
            std::process::id(),
            TEMP_COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        let written = fs::File::create_new(&temp).and_then(|mut file| {
            file.write_all(&message.formatted())?;
            file.sync_all()
        });
        if let Err(e) = written {
            let _ = fs::remove_file(&temp);
            return Err(io_error("writing a message", e));
        }
        // `hard_link` fails if the name is taken, unlike `rename`, so two writers of the same
        // key leave exactly one file. Folders that cannot hold hard links fall back to rename.
        let placed = match fs::hard_link(&temp, &target) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
            Err(_) if target.exists() => Ok(()),
            Err(_) => fs::rename(&temp, &target),
        };
        let _ = fs::remove_file(&temp);
        placed.map_err(|e| io_error("placing a message", e))?;
        if let Ok(dir) = fs::File::open(&self.dir) {
            let _ = dir.sync_all();
        }
        Ok(())
    }
}

/// The messages the file transport has written, newest first. A missing or unreadable
/// folder gives an empty list.
pub fn list_sent(data_dir: &Path) -> Vec<SentFile> {
    let Ok(entries) = fs::read_dir(outbox_dir(data_dir)) else {
        return Vec::new();
    };
    let mut files: Vec<SentFile> = entries
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let name = entry.file_name().into_string().ok()?;
            if !is_sent_name(&name) {
                return None;
            }
            let metadata = entry.metadata().ok()?;
            if !metadata.is_file() {
                return None;
            }
            Some(SentFile {
                name,
                size: metadata.len(),
                written_at: metadata.modified().ok()?.into(),
            })
        })
        .collect();
    files.sort_by(|a, b| {
        b.written_at
            .cmp(&a.written_at)
            .then_with(|| b.name.cmp(&a.name))
    });
    files
}

/// The text of one written message, by the name [`list_sent`] gave. Any other name
/// (a path, a hidden file, another extension) is refused.
pub fn read_sent(data_dir: &Path, name: &str) -> Result<String, MailError> {
    if !is_sent_name(name) {
        return Err(MailError::BadFileName);
    }
    let path = outbox_dir(data_dir).join(name);
    let bytes = fs::read(&path).map_err(|source| MailError::Io {
        context: format!("reading {}", path.display()),
        source,
    })?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(key: &str, subject: &str) -> Message {
        Message::builder()
            .from("steadfast@localhost".parse().unwrap())
            .to("jo@school.example".parse().unwrap())
            .subject(subject)
            .message_id(Some(format!("<{key}@steadfast>")))
            .body(String::from("Hello"))
            .unwrap()
    }

    #[test]
    fn file_is_the_default() {
        for setting in ["file", "", " FILE "] {
            let transport = Transport::from_settings(setting, Path::new("data")).unwrap();
            assert!(matches!(&transport, Transport::File(o) if o.dir == Path::new("data/outbox")));
        }
    }

    #[test]
    fn smtp_settings_are_read() {
        let dir = Path::new("data");
        for ok in [
            "smtp://127.0.0.1:2525",
            "smtp://mail.school.example",
            "smtp://user:pa%40ss@mail.school.example:587?tls=required",
            "smtps://user:secret@mail.school.example",
            "smtp://[::1]:25",
        ] {
            let transport = Transport::from_settings(ok, dir).unwrap();
            assert!(matches!(transport, Transport::Smtp(_)), "{ok}");
        }
        for bad in [
            "ftp://host",
            "smtp://",
            "smtp://host?tls=sometimes",
            "smtp://host?colour=blue",
            "smtp://host?ca_file=/no/such/file.pem",
            "not a url",
        ] {
            assert!(Transport::from_settings(bad, dir).is_err(), "{bad}");
        }
    }

    #[test]
    fn passwords_never_show() {
        let dir = Path::new("data");
        let setting = "smtp://head%40school:hunter2secret@mail.school.example:587";
        let transport = Transport::from_settings(setting, dir).unwrap();
        for shown in [format!("{transport:?}"), transport.to_string()] {
            assert!(!shown.contains("hunter2secret"), "{shown}");
            assert!(shown.contains("mail.school.example:587"), "{shown}");
        }
        let err = Transport::from_settings("smtp://u:hunter2secret@host?x=1", dir).unwrap_err();
        assert!(!err.to_string().contains("hunter2secret"), "{err}");
        assert_eq!(redact("smtp://u:p@ss@host:25"), "smtp://u:***@host:25");
        assert_eq!(redact("smtp://host:25"), "smtp://host:25");
        assert_eq!(redact("smtp://user@host"), "smtp://user@host");
    }

    #[test]
    fn file_transport_writes_one_file_per_key() {
        let data = tempfile::tempdir().unwrap();
        let transport = Transport::from_settings("file", data.path()).unwrap();
        transport
            .send(&message("meeting-1-invite", "First"))
            .unwrap();
        transport
            .send(&message("meeting-1-invite", "Second"))
            .unwrap();
        transport
            .send(&message("meeting-2-invite", "Other"))
            .unwrap();
        let names: Vec<String> = fs::read_dir(outbox_dir(data.path()))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(names.len(), 2, "{names:?}");
        let first = read_sent(data.path(), "meeting-1-invite.eml").unwrap();
        assert!(first.contains("Subject: First"));
        let listed = list_sent(data.path());
        assert_eq!(listed.len(), 2);
        assert!(listed
            .iter()
            .any(|f| f.name == "meeting-2-invite.eml" && f.size > 0));
    }

    #[test]
    fn sent_names_cannot_escape_the_folder() {
        let data = tempfile::tempdir().unwrap();
        fs::write(data.path().join("secret.eml"), "not yours").unwrap();
        for bad in [
            "../secret.eml",
            "..",
            ".hidden.eml",
            ".eml",
            "a/b.eml",
            "a\\b.eml",
            "x.txt",
            "/etc/passwd",
        ] {
            assert!(
                matches!(read_sent(data.path(), bad), Err(MailError::BadFileName)),
                "{bad}"
            );
        }
        assert!(matches!(
            read_sent(data.path(), "missing.eml"),
            Err(MailError::Io { .. })
        ));
        assert!(list_sent(data.path()).is_empty());
    }

    #[test]
    fn list_is_newest_first_and_ignores_other_files() {
        let data = tempfile::tempdir().unwrap();
        let outbox = outbox_dir(data.path());
        fs::create_dir_all(&outbox).unwrap();
        fs::write(outbox.join(".a.1.0.tmp"), "partial").unwrap();
        fs::write(outbox.join("notes.txt"), "x").unwrap();
        let old = fs::File::create(outbox.join("old.eml")).unwrap();
        old.set_modified(std::time::SystemTime::now() - Duration::from_secs(3600))
            .unwrap();
        fs::write(outbox.join("new.eml"), "x").unwrap();
        let names: Vec<String> = list_sent(data.path()).into_iter().map(|f| f.name).collect();
        assert_eq!(names, ["new.eml", "old.eml"]);
    }

    #[test]
    fn message_key_comes_from_the_message_id() {
        assert_eq!(
            message_key_of(&message("meeting-9-cancel-2", "x")).as_deref(),
            Some("meeting-9-cancel-2")
        );
    }
}
