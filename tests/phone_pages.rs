//! Every page of every demo role in headless Chromium, as a phone and a desktop show it: each
//! role signs in and walks its pages breadth first from the home page and the menu. No page
//! may be wider than a 360 px phone, and axe-core's WCAG 2.x A and AA rules may find nothing
//! at phone or desktop size. With `STEADFAST_SCREENSHOTS` naming a folder, the walk also saves
//! each role's main pages (home and the three places of its phone bar) there as phone-size
//! PNGs (`scripts/screenshots`). And a Head of Year decides a suggestion with the keyboard
//! alone.

#[path = "common/browser.rs"]
mod chromium;
mod common;

use std::collections::{HashSet, VecDeque};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use chrono::Utc;
use fantoccini::key::Key;
use fantoccini::Locator;
use serde_json::{json, Value};

use chromium::{browser_available, Browser, Screen};
use common::{spawn_app, Engine, TestApp};
use steadfast::demo::load::load_demo;
use steadfast::demo::DEMO_PASSWORD;

/// The phone every page must fit, and the desktop axe also looks at (CSS pixels).
const PHONE: (u32, u32) = (360, 740);
const DESKTOP: (u32, u32) = (1280, 800);

/// At most this many pages a role (each path pattern once): enough for every page family.
const PAGES_PER_ROLE: usize = 45;

/// The demo logins, one for each role, and the name their screenshots carry.
const ROLES: [(&str, &str); 7] = [
    ("teacher@demo.example", "teacher"),
    ("hoy7@demo.example", "head-of-year"),
    ("sendco@demo.example", "sendco"),
    ("slt@demo.example", "slt"),
    ("hod@demo.example", "head-of-department"),
    ("specialist@demo.example", "specialist"),
    ("admin@demo.example", "admin"),
];

/// The axe-core rule tags that make up WCAG 2.0, 2.1 and 2.2 at levels A and AA.
const WCAG_TAGS: [&str; 5] = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"];

/// Where the screenshots go, when asked for.
const SCREENSHOTS_VAR: &str = "STEADFAST_SCREENSHOTS";

/// axe-core's browser script, installed by `npm ci --prefix tests/axe`; `None` (the test is
/// skipped) where it is missing, except under CI.
fn axe_source() -> Option<String> {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/axe/node_modules/axe-core/axe.min.js");
    match std::fs::read_to_string(&path) {
        Ok(source) => Some(source),
        Err(error) => {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "CI must run axe-core: npm ci --prefix tests/axe ({}: {error})",
                path.display()
            );
            eprintln!(
                "skipped: {} is missing ({error}); run npm ci --prefix tests/axe",
                path.display()
            );
            None
        }
    }
}

/// A path with its digit segments as `{id}`: the pattern each page is visited once for.
fn pattern(path: &str) -> String {
    path.split('/')
        .map(|segment| {
            if !segment.is_empty() && segment.bytes().all(|b| b.is_ascii_digit()) {
                "{id}"
            } else {
                segment
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// Links the walk never follows: signing out and downloads.
fn skipped(path: &str) -> bool {
    path == "/logout"
        || path.starts_with("/static/")
        || path.contains("/export")
        || [".csv", ".zip", ".json", ".pdf"]
            .iter()
            .any(|end| path.ends_with(end))
}

/// The file name a main page's screenshot has: `/` is home, `/admin/staff` is admin-staff.
fn screenshot_name(role: &str, path: &str) -> String {
    let page = path.trim_matches('/').replace('/', "-");
    let page = if page.is_empty() {
        "home".to_string()
    } else {
        page
    };
    format!("{role}-{page}.png")
}

/// The widest thing on a page wider than the viewport (outside any scroll box), described,
/// or `null` when the page fits.
const OVERFLOW_SCRIPT: &str = r#"
const width = window.innerWidth;
const scrollWidth = document.documentElement.scrollWidth;
if (scrollWidth <= width) return null;
const scrolls = (el) => ['auto', 'scroll', 'hidden', 'clip'].includes(getComputedStyle(el).overflowX);
let widest = null, right = width;
for (const el of document.body.querySelectorAll('*')) {
  const box = el.getBoundingClientRect();
  if (box.right <= right + 0.5 || !el.checkVisibility()) continue;
  let inside = false;
  for (let up = el.parentElement; up && up !== document.body; up = up.parentElement) {
    if (scrolls(up)) { inside = true; break; }
  }
  if (!inside) { widest = el; right = box.right; }
}
const described = widest
  ? widest.tagName.toLowerCase() + (widest.id ? '#' + widest.id : '') +
    (widest.classList.length ? '.' + Array.from(widest.classList).join('.') : '') +
    ' reaching ' + Math.round(right) + ' px: ' + widest.outerHTML.slice(0, 160)
  : 'nothing outside a scroll box';
return { scrollWidth, width, widest: described };
"#;

/// Runs axe-core (already injected) with the WCAG rules; answers its violations.
const AXE_SCRIPT: &str = r#"
const [tags, done] = arguments;
axe.run(document, { runOnly: { type: 'tag', values: tags }, resultTypes: ['violations'] })
  .then(result => done(result.violations.map(v => ({
    id: v.id, help: v.help, targets: v.nodes.slice(0, 5).map(n => n.target.join(' ')) }))))
  .catch(error => done({ error: String(error) }));
"#;

/// The content type a GET of the URL answers with ('' when it cannot be fetched).
const CONTENT_TYPE_SCRIPT: &str = r#"
const [url, done] = arguments;
fetch(url, { credentials: 'same-origin' })
  .then(response => done(response.headers.get('content-type') || ''))
  .catch(() => done(''));
"#;

/// Every same-origin link on the page, absolute and without its fragment.
const LINKS_SCRIPT: &str = r#"
return Array.from(document.querySelectorAll('a[href]'))
  .filter(a => a.origin === location.origin)
  .map(a => a.href.split('#')[0]);
"#;

/// The phone bar's places, in order (as paths).
const BAR_SCRIPT: &str = r#"
return Array.from(document.querySelectorAll('header.top nav > a')).map(a => a.pathname);
"#;

/// One role's walk: the browser, what it found wrong, and where screenshots go.
struct Walk<'a> {
    browser: &'a Browser,
    role: &'a str,
    axe: &'a str,
    screenshots: Option<&'a Path>,
    problems: Vec<String>,
}

impl Walk<'_> {
    /// Runs `script` in the page and answers its `return` value.
    async fn script(&self, what: &str, script: &str, args: Vec<Value>) -> Value {
        self.browser
            .client
            .execute(script, args)
            .await
            .unwrap_or_else(|e| panic!("{}: {what}: {e}", self.role))
    }

    /// Runs `script` in the page and answers what it passes to its last argument, a callback.
    async fn script_async(&self, what: &str, script: &str, args: Vec<Value>) -> Value {
        self.browser
            .client
            .execute_async(script, args)
            .await
            .unwrap_or_else(|e| panic!("{}: {what}: {e}", self.role))
    }

    /// Notes the page's widest element when it is wider than the phone.
    async fn check_width(&mut self, page: &str) {
        let overflow = self
            .script("measuring the width", OVERFLOW_SCRIPT, Vec::new())
            .await;
        if !overflow.is_null() {
            self.problems.push(format!(
                "{} {page}: {} px wide at {} px; widest: {}",
                self.role, overflow["scrollWidth"], overflow["width"], overflow["widest"]
            ));
        }
    }

    /// Notes each axe-core violation on the page as it is shown at `size`.
    async fn check_axe(&mut self, page: &str, size: &str) {
        self.script("injecting axe-core", self.axe, Vec::new())
            .await;
        let found = self
            .script_async("running axe-core", AXE_SCRIPT, vec![json!(WCAG_TAGS)])
            .await;
        let Some(violations) = found.as_array() else {
            panic!("{} {page}: axe-core failed: {found}", self.role);
        };
        for violation in violations {
            self.problems.push(format!(
                "{} {page} ({size}): axe {} ({}) at {}",
                self.role, violation["id"], violation["help"], violation["targets"]
            ));
        }
    }

    /// Opens the phone's "Menu" and checks the page with the menu shown, then closes it.
    async fn check_open_menu(&mut self, page: &str) {
        let summary = Locator::Css("details.more summary");
        let Ok(menu) = self.browser.client.find(summary).await else {
            return;
        };
        menu.click().await.expect("opening the menu");
        let page = format!("{page} with the menu open");
        self.check_width(&page).await;
        self.check_axe(&page, "phone").await;
        menu.click().await.expect("closing the menu");
    }

    /// Whether a GET of `url` answers a page (not a download, not an error of the fetch).
    async fn is_page(&self, url: &str) -> bool {
        let kind = self
            .script_async("fetching a link", CONTENT_TYPE_SCRIPT, vec![json!(url)])
            .await;
        kind.as_str().unwrap_or("").starts_with("text/html")
    }

    /// Opens `url`; answers the address reached.
    async fn open(&self, url: &str) -> reqwest::Url {
        let client = &self.browser.client;
        client
            .goto(url)
            .await
            .unwrap_or_else(|e| panic!("{}: opening {url}: {e}", self.role));
        let reached = client.current_url().await.expect("the page's address");
        assert!(
            reached.path() != "/login",
            "{}: {url} sent the role back to sign in",
            self.role
        );
        reached
    }

    /// What `script` (LINKS_SCRIPT or BAR_SCRIPT) answers: links or paths, as text.
    async fn paths(&self, script: &str) -> Vec<String> {
        let found = self.script("reading the links", script, Vec::new()).await;
        found
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(String::from)
            .collect()
    }

    /// Checks the page open at `reached` at phone size (its width, axe, and the open menu on
    /// the home page), saves it when it is a main page and screenshots are wanted, then
    /// checks it again with axe at desktop size.
    async fn check_page(&mut self, reached: &reqwest::Url, home: bool, main: bool) {
        let page = match reached.query() {
            Some(query) => format!("{}?{query}", reached.path()),
            None => reached.path().to_string(),
        };
        self.check_width(&page).await;
        if let (Some(folder), true) = (self.screenshots, main) {
            let png = self
                .browser
                .client
                .screenshot()
                .await
                .expect("a screenshot");
            let file = folder.join(screenshot_name(self.role, reached.path()));
            std::fs::write(&file, png)
                .unwrap_or_else(|e| panic!("writing {}: {e}", file.display()));
        }
        self.check_axe(&page, "phone").await;
        if home {
            self.check_open_menu(&page).await;
        }
        self.browser.resize(DESKTOP).await;
        self.check_axe(&page, "desktop").await;
        self.browser.resize(PHONE).await;
    }

    /// Visits every page the role reaches from its home page, breadth first, each path
    /// pattern once and at most [`PAGES_PER_ROLE`]; answers how many it visited.
    async fn walk(&mut self, address: &str) -> usize {
        let mut queue = VecDeque::from([format!("{address}/")]);
        let mut seen = HashSet::from(["/".to_string()]);
        let mut main_pages = vec!["/".to_string()];
        let mut visited = 0;
        while let Some(url) = queue.pop_front() {
            if visited == PAGES_PER_ROLE {
                eprintln!(
                    "{}: stopped after {PAGES_PER_ROLE} pages; not visited: {url} and {} more",
                    self.role,
                    queue.len()
                );
                break;
            }
            if visited > 0 && !self.is_page(&url).await {
                continue;
            }
            let reached = self.open(&url).await;
            visited += 1;
            if visited == 1 {
                main_pages.extend(self.paths(BAR_SCRIPT).await);
            }
            let main = main_pages.iter().any(|path| path == reached.path());
            self.check_page(&reached, visited == 1, main).await;
            for link in self.paths(LINKS_SCRIPT).await {
                let Ok(parsed) = reqwest::Url::parse(&link) else {
                    continue;
                };
                if !skipped(parsed.path()) && seen.insert(pattern(parsed.path())) {
                    queue.push_back(link);
                }
            }
        }
        visited
    }
}

/// The demo school served; `None` (the test is skipped) without a browser.
async fn demo_school() -> Option<TestApp> {
    if !browser_available() {
        return None;
    }
    let app = spawn_app(Engine::Sqlite).await;
    load_demo(&app.db, Utc::now()).expect("the demo school");
    Some(app)
}

#[tokio::test]
async fn every_page_of_every_role_fits_a_phone_and_passes_axe() {
    let Some(axe) = axe_source() else { return };
    let Some(app) = demo_school().await else {
        return;
    };
    let screenshots = std::env::var_os(SCREENSHOTS_VAR).map(PathBuf::from);
    if let Some(folder) = &screenshots {
        std::fs::create_dir_all(folder).expect("the screenshots folder");
    }
    let started = Instant::now();
    let mut problems = Vec::new();
    for (email, role) in ROLES {
        let browser = Browser::start_on(Screen::Window(PHONE.0, PHONE.1)).await;
        let inner = browser
            .client
            .execute("return window.innerWidth", Vec::new())
            .await
            .expect("the viewport");
        assert_eq!(inner, json!(PHONE.0), "the phone's viewport");
        browser.sign_in(&app.address, email, DEMO_PASSWORD).await;
        let mut walk = Walk {
            browser: &browser,
            role,
            axe: &axe,
            screenshots: screenshots.as_deref(),
            problems: Vec::new(),
        };
        let visited = walk.walk(&app.address).await;
        eprintln!(
            "{role}: {visited} pages, {} problems, {:?} so far",
            walk.problems.len(),
            started.elapsed()
        );
        problems.append(&mut walk.problems);
        browser.close().await;
    }
    assert!(
        problems.is_empty(),
        "{} problems:\n{}",
        problems.len(),
        problems.join("\n")
    );
}

/// Presses Tab until the focused element matches `css`; answers how many presses it took.
async fn tab_to(browser: &Browser, css: &str, at_most: usize) -> usize {
    let matches = format!("return document.activeElement.matches({});", json!(css));
    for presses in 1..=at_most {
        browser.press(Key::Tab).await;
        if browser
            .client
            .execute(&matches, Vec::new())
            .await
            .expect("the focus")
            == json!(true)
        {
            return presses;
        }
    }
    panic!("{css} was not reached in {at_most} presses of Tab");
}

/// Presses Enter on the focused element and waits for the page at `path` to load.
async fn enter_and_wait(browser: &Browser, path: &str) {
    browser.press(Key::Enter).await;
    let script = format!(
        "return location.pathname === {} && document.readyState === 'complete';",
        json!(path)
    );
    browser
        .wait_for_script(
            &format!("the page at {path}"),
            &script,
            Duration::from_secs(10),
            |v| *v == json!(true),
        )
        .await;
}

#[tokio::test]
async fn a_head_of_year_decides_a_suggestion_with_the_keyboard_alone() {
    let Some(app) = demo_school().await else {
        return;
    };
    let browser = Browser::start_on(Screen::Window(PHONE.0, PHONE.1)).await;
    browser
        .sign_in(&app.address, "hoy7@demo.example", DEMO_PASSWORD)
        .await;

    let to_skip = tab_to(&browser, "a.skip-link", 1).await;
    assert_eq!(to_skip, 1, "the skip link comes first");
    tab_to(&browser, "a.nav-decisions", 10).await;
    enter_and_wait(&browser, "/inbox").await;
    let first = browser
        .client
        .find(Locator::Css("article.decision"))
        .await
        .expect("a suggestion waiting for the Head of Year");
    let id = first
        .attr("data-suggestion")
        .await
        .expect("its id")
        .expect("an id");
    let presses = tab_to(&browser, "form.accept button.primary", 40).await;
    enter_and_wait(&browser, "/inbox").await;

    let reached = browser.client.current_url().await.expect("the address");
    assert!(
        reached
            .query()
            .unwrap_or("")
            .starts_with(&format!("decided={id}")),
        "{reached}"
    );
    let cards = browser
        .client
        .find_all(Locator::Css(&format!("article#suggestion-{id}")))
        .await
        .expect("the cards");
    assert!(cards.is_empty(), "the decided suggestion leaves the inbox");
    eprintln!("decided with {presses} presses of Tab on the inbox");
    browser.close().await;
}
