//! Headless Chromium for browser tests, driven over WebDriver (Debian's `chromium` and
//! `chromium-driver`). Without them the tests are skipped with a note, except under CI.

use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";

/// A phone-sized viewport (CSS pixels).
pub const PHONE: (u32, u32) = (390, 844);

/// The screen a browser opens with.
#[derive(Debug, Clone, Copy)]
#[allow(dead_code)] // each test binary uses its own kind of screen
pub enum Screen {
    /// An emulated phone: [`PHONE`] at three device pixels a CSS pixel, with touch.
    Phone,
    /// A viewport of this many CSS pixels, one device pixel each, without touch;
    /// [`Browser::resize`] changes it.
    Window(u32, u32),
}

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
    #[allow(dead_code)] // each test binary uses its own kind of screen
    pub async fn start() -> Browser {
        Browser::start_on(Screen::Phone).await
    }

    /// Starts chromedriver on a free loopback port and opens a headless Chromium on `screen`.
    #[allow(dead_code)] // each test binary uses its own kind of screen
    pub async fn start_on(screen: Screen) -> Browser {
        Browser::start_with(screen, tempfile::tempdir().expect("a profile folder")).await
    }

    /// A phone on a profile an earlier browser left ([`Browser::close_keeping_profile`]): a
    /// cold start of a phone that has been used before.
    #[allow(dead_code)]
    pub async fn start_again(profile: tempfile::TempDir) -> Browser {
        Browser::start_with(Screen::Phone, profile).await
    }

    /// Starts chromedriver on a free loopback port and opens a headless Chromium on `screen`
    /// with `profile` as its profile folder.
    async fn start_with(screen: Screen, profile: tempfile::TempDir) -> Browser {
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
        let (width, height) = match screen {
            Screen::Phone => PHONE,
            Screen::Window(width, height) => (width, height),
        };
        let mut options = json!({
            "binary": CHROMIUM,
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--no-first-run", "--disable-sync", "--disable-quic",
                "--hide-scrollbars", format!("--window-size={width},{height}"),
                format!("--user-data-dir={}", profile.path().display()),
            ],
        });
        if let Screen::Phone = screen {
            options["mobileEmulation"] = json!({
                "deviceMetrics": { "width": width, "height": height, "pixelRatio": 3.0, "touch": true }
            });
        }
        let mut capabilities = serde_json::Map::new();
        capabilities.insert("goog:chromeOptions".into(), options);
        let client = ClientBuilder::native()
            .capabilities(capabilities)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .expect("a Chromium session");
        let browser = Browser {
            client,
            driver,
            profile: Some(profile),
        };
        if let Screen::Window(width, height) = screen {
            browser.resize((width, height)).await;
        }
        browser
    }

    /// Signs in through the login page as `email`, waiting for a signed-in page.
    pub async fn sign_in(&self, address: &str, email: &str, password: &str) {
        let client = &self.client;
        client
            .goto(&format!("{address}/login"))
            .await
            .expect("the login page");
        for (field, text) in [("email", email), ("password", password)] {
            client
                .find(Locator::Css(&format!("input[name={field}]")))
                .await
                .unwrap_or_else(|e| panic!("a {field} field: {e}"))
                .send_keys(text)
                .await
                .unwrap_or_else(|e| panic!("typing the {field}: {e}"));
        }
        client
            .find(Locator::Css("button[type=submit]"))
            .await
            .expect("a sign-in button")
            .click()
            .await
            .expect("signing in");
        client
            .wait()
            .for_element(Locator::Css("form.signout"))
            .await
            .expect("a signed-in page");
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

    /// Makes the viewport `width` × `height` CSS pixels at one device pixel each, through
    /// Chrome's device emulation (a headless window is never narrower than 500 px).
    pub async fn resize(&self, (width, height): (u32, u32)) {
        let params =
            json!({ "width": width, "height": height, "deviceScaleFactor": 1, "mobile": false });
        self.client
            .issue_cmd(DevTools {
                command: "Emulation.setDeviceMetricsOverride",
                params,
            })
            .await
            .expect("resizing the viewport");
    }

    /// Presses `key` on the focused element, as a keyboard user does.
    #[allow(dead_code)]
    pub async fn press(&self, key: fantoccini::key::Key) {
        self.client
            .active_element()
            .await
            .expect("the focused element")
            .send_keys(&key)
            .await
            .unwrap_or_else(|e| panic!("pressing {key:?}: {e}"));
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

/// A Chrome DevTools Protocol command, sent through chromedriver's own endpoint for them.
#[derive(Debug)]
struct DevTools {
    command: &'static str,
    params: serde_json::Value,
}

impl fantoccini::wd::WebDriverCompatibleCommand for DevTools {
    fn endpoint(
        &self,
        base: &url::Url,
        session: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base.join(&format!(
            "session/{}/goog/cdp/execute",
            session.unwrap_or_default()
        ))
    }

    fn method_and_body(&self, _: &url::Url) -> (reqwest::Method, Option<String>) {
        let body = json!({ "cmd": self.command, "params": self.params });
        (reqwest::Method::POST, Some(body.to_string()))
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
    }
}
