//! Headless Chromium for browser tests, driven over WebDriver (Debian's `chromium` and
//! `chromium-driver`). Without them the tests are skipped with a note, except under CI.

use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder};
use serde_json::json;

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";

/// A phone-sized viewport (CSS pixels).
pub const PHONE: (u32, u32) = (390, 844);

/// Whether browser tests can run here; under CI (`CI=true`) a missing browser is a failure.
pub fn browser_available() -> bool {
    let present =
        std::path::Path::new(CHROMEDRIVER).exists() && std::path::Path::new(CHROMIUM).exists();
    if !present {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI must run the browser tests: install chromium and chromium-driver"
        );
        eprintln!("skipped: {CHROMEDRIVER} or {CHROMIUM} is not installed");
    }
    present
}

/// A running chromedriver and one headless Chromium session; both end when dropped.
pub struct Browser {
    pub client: Client,
    driver: Child,
    /// Chromium's profile folder: its storage, caches and service workers.
    profile: Option<tempfile::TempDir>,
}

impl Browser {
    /// Starts chromedriver on a free loopback port and opens a phone-sized headless Chromium.
    pub async fn start() -> Browser {
        Browser::start_on(tempfile::tempdir().expect("a profile folder")).await
    }

    /// [`Browser::start`] on a profile an earlier browser left ([`Browser::close_keeping_profile`]):
    /// a cold start of a phone that has been used before.
    pub async fn start_on(profile: tempfile::TempDir) -> Browser {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting chromedriver");
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not start");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let mut capabilities = serde_json::Map::new();
        capabilities.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": CHROMIUM,
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                    "--disable-component-update", "--no-first-run", "--disable-sync", "--disable-quic",
                    format!("--window-size={},{}", PHONE.0, PHONE.1),
                    format!("--user-data-dir={}", profile.path().display()),
                ],
                "mobileEmulation": {
                    "deviceMetrics": { "width": PHONE.0, "height": PHONE.1, "pixelRatio": 3.0, "touch": true }
                }
            }),
        );
        let client = ClientBuilder::native()
            .capabilities(capabilities)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .expect("a Chromium session");
        Browser {
            client,
            driver,
            profile: Some(profile),
        }
    }

    /// Runs `script` in the page (its `return` value comes back as JSON) every 100 ms until
    /// `accept` takes the value, and answers it; panics after `timeout`, naming `what` and the
    /// last value seen.
    pub async fn wait_for_script(
        &self,
        what: &str,
        script: &str,
        timeout: Duration,
        accept: impl Fn(&serde_json::Value) -> bool,
    ) -> serde_json::Value {
        let deadline = Instant::now() + timeout;
        loop {
            let value = self
                .client
                .execute(script, Vec::new())
                .await
                .unwrap_or_else(|e| panic!("running a script for {what}: {e}"));
            if accept(&value) {
                return value;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}; last seen: {value}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Ends the browser session and the driver.
    pub async fn close(mut self) {
        self.quit().await;
    }

    /// Ends the browser session and the driver, keeping the profile for a new browser.
    #[allow(dead_code)]
    pub async fn close_keeping_profile(mut self) -> tempfile::TempDir {
        self.quit().await;
        self.profile.take().expect("the profile")
    }

    async fn quit(&mut self) {
        let _ = self.client.clone().close().await;
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
    }
}
