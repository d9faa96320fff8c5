//! Browser flows in headless Chromium at a phone-sized viewport: every demo role signs in;
//! a teacher finds a pupil and logs a Coaching Prompt with one tap, then sees it on the
//! pupil's timeline; logs by keyboard alone and adds a pupil to the incident form in place;
//! with the server unreachable, the page queues the tap and delivers it exactly once when
//! the server is back; and the page, opened once, opens again from a cold start with no
//! network, queues a tap and delivers it once.

#[path = "common/browser.rs"]
mod chromium;
mod common;

use std::time::Duration;

use chrono::Utc;
use fantoccini::key::Key;
use fantoccini::Locator;

use chromium::{browser_available, Browser};
use common::{spawn_app, Engine, Role, TestApp, PASSWORD};
use steadfast::demo::load::{load_demo, DemoOutcome};
use steadfast::demo::DEMO_PASSWORD;
use steadfast::web::pages::log::QUICK_PROMPT_BEHAVIOUR;

/// Signs in through the login page as `email` with the demo password, returning the text of
/// the page reached.
async fn sign_in(browser: &Browser, address: &str, email: &str) -> String {
    sign_in_with(browser, address, email, DEMO_PASSWORD).await
}

/// Signs in through the login page, returning the text of the page reached.
async fn sign_in_with(browser: &Browser, address: &str, email: &str, password: &str) -> String {
    browser.sign_in(address, email, password).await;
    browser
        .client
        .find(Locator::Css("main"))
        .await
        .expect("the page")
        .text()
        .await
        .expect("its text")
}

async fn sign_out(browser: &Browser) {
    browser
        .client
        .find(Locator::Css("form.signout button"))
        .await
        .expect("a sign-out button")
        .click()
        .await
        .expect("signing out");
    browser
        .client
        .wait()
        .for_element(Locator::Css("input[name=email]"))
        .await
        .expect("back on the login page");
}

/// The demo school served, and a phone-sized browser signed in as its class teacher; `None`
/// (the test is skipped) where no browser is installed.
async fn demo_teacher_signed_in() -> Option<(TestApp, Browser)> {
    if !browser_available() {
        return None;
    }
    let app = spawn_app(Engine::Sqlite).await;
    load_demo(&app.db, Utc::now()).expect("the demo school");
    let browser = Browser::start().await;
    sign_in(&browser, &app.address, "teacher@demo.example").await;
    Some((app, browser))
}

#[tokio::test]
async fn every_demo_role_signs_in_to_its_home_page() {
    if !browser_available() {
        return;
    }
    let app = spawn_app(Engine::Sqlite).await;
    let loaded = load_demo(&app.db, Utc::now()).expect("the demo school");
    assert!(matches!(loaded, DemoOutcome::Loaded(_)));
    let browser = Browser::start().await;

    for (email, expected) in [
        ("teacher@demo.example", "What you logged lately"),
        ("hoy7@demo.example", "Your year groups: 7"),
        ("hoy11@demo.example", "Your year groups: 11"),
        (
            "sendco@demo.example",
            "Plans, programmes and provision maps",
        ),
        ("slt@demo.example", "The whole school"),
        ("hod@demo.example", "What you logged lately"),
        ("specialist@demo.example", "Your Coaching Programme pupils"),
        ("admin@demo.example", "The whole school"),
    ] {
        let page = sign_in(&browser, &app.address, email).await;
        assert!(page.contains("Steadfast Demo Academy"), "{email}: {page}");
        assert!(
            page.contains(expected),
            "{email} should see {expected:?}: {page}"
        );
        sign_out(&browser).await;
    }
    browser.close().await;
}

#[tokio::test]
async fn a_signed_in_teacher_finds_a_pupil_and_opens_their_page() {
    let Some((_app, browser)) = demo_teacher_signed_in().await else {
        return;
    };

    let client = &browser.client;
    client
        .find(Locator::Css("input[name=q]"))
        .await
        .expect("a search box")
        .send_keys("a")
        .await
        .expect("typing");
    client
        .find(Locator::Css("form.search button"))
        .await
        .expect("a search button")
        .click()
        .await
        .expect("searching");
    let first = client
        .wait()
        .for_element(Locator::Css("table.pupils tbody a"))
        .await
        .expect("a pupil in the results");
    let name = first.text().await.expect("the pupil's name");
    first.click().await.expect("opening the pupil");
    client
        .wait()
        .for_element(Locator::Css("section.current"))
        .await
        .expect("the pupil page");
    let heading = client
        .find(Locator::Css("main h1"))
        .await
        .expect("the pupil's name")
        .text()
        .await
        .expect("its heading");
    let (family, given) = name.split_once(", ").expect("family, given");
    assert_eq!(heading, format!("{given} {family}"));
    let page = client
        .find(Locator::Css("main"))
        .await
        .expect("the page")
        .text()
        .await
        .expect("text");
    assert!(page.contains("Current level"), "{page}");
    browser.close().await;
}

/// Wraps the page's `fetch` so that `window.steadfastTestSends` counts the logging sends.
const COUNT_SENDS_SCRIPT: &str = "window.steadfastTestSends = 0; \
     var original = window.fetch; \
     window.fetch = function (url, options) { \
       if (options && options.method === 'POST') window.steadfastTestSends += 1; \
       return original.apply(this, arguments); \
     };";

/// How many submissions the logging page keeps in its `localStorage` queue.
const QUEUE_SCRIPT: &str =
    "return JSON.parse(localStorage.getItem('steadfast.queue.v1') || '[]').length;";

/// Waits until nothing is left in the page's queue on the device.
async fn queue_empties(browser: &Browser, timeout: Duration) {
    browser
        .wait_for_script("the queue to empty", QUEUE_SCRIPT, timeout, |v| {
            v.as_i64() == Some(0)
        })
        .await;
}

/// How many one-tap prompts (logged without details) a pupil has.
fn quick_prompts(app: &common::TestApp, pupil_id: i64) -> i64 {
    use diesel::prelude::*;
    use steadfast::db::schema::{incident_pupils, incidents};
    incidents::table
        .inner_join(incident_pupils::table)
        .filter(incident_pupils::pupil_id.eq(pupil_id))
        .filter(incidents::behaviour.eq(QUICK_PROMPT_BEHAVIOUR))
        .count()
        .get_result(&mut *app.conn())
        .expect("counting prompts")
}

/// Waits until the confirmation card names `name`, and answers its text.
async fn confirmation_naming(browser: &Browser, name: &str) -> String {
    let script = "var card = document.getElementById('confirmation-card'); \
                  return card ? card.textContent : '';";
    let text = browser
        .wait_for_script("the confirmation", script, Duration::from_secs(20), |v| {
            v.as_str().is_some_and(|t| t.contains(name))
        })
        .await;
    text.as_str().unwrap_or_default().to_string()
}

#[tokio::test]
async fn a_teacher_logs_a_prompt_with_one_tap_and_sees_it_on_the_timeline() {
    let Some((app, browser)) = demo_teacher_signed_in().await else {
        return;
    };
    let client = &browser.client;

    // Logging is the first action on the home page; the page lists the teacher's form.
    client
        .find(Locator::Css("#log-first"))
        .await
        .expect("the logging button on the home page")
        .click()
        .await
        .expect("opening the logging page");
    let row = client
        .wait()
        .for_element(Locator::Css("section.tutor-form li.pupil-row"))
        .await
        .expect("the pupils of the teacher's form");
    let heading = client
        .find(Locator::Css("section.tutor-form h2"))
        .await
        .expect("a heading")
        .text()
        .await
        .expect("its text");
    assert_eq!(heading, "Your form 9C");
    let pupil_id: i64 = row
        .attr("data-pupil")
        .await
        .expect("the row's pupil")
        .expect("a data-pupil attribute")
        .parse()
        .expect("a pupil id");
    let name = row
        .find(Locator::Css(".name"))
        .await
        .expect("the pupil's name")
        .text()
        .await
        .expect("its text");
    let before = quick_prompts(&app, pupil_id);

    // One tap.
    row.find(Locator::Css("button.prompt"))
        .await
        .expect("the Prompt button")
        .click()
        .await
        .expect("tapping Prompt");

    let card = confirmation_naming(&browser, &name).await;
    assert!(card.contains("Logged"), "{card}");
    assert!(card.contains("Coaching Prompt"), "{card}");
    assert!(card.contains("Undo"), "{card}");
    assert_eq!(quick_prompts(&app, pupil_id), before + 1);
    queue_empties(&browser, Duration::from_secs(5)).await;

    // The pupil's timeline shows it first among the incidents.
    client
        .goto(&format!("{}/pupils/{pupil_id}", app.address))
        .await
        .expect("the pupil page");
    let newest = client
        .wait()
        .for_element(Locator::Css("ol.timeline li.incident"))
        .await
        .expect("an incident on the timeline")
        .text()
        .await
        .expect("its text");
    assert!(newest.contains(QUICK_PROMPT_BEHAVIOUR), "{newest}");
    assert!(newest.contains("logged by Sam Taylor"), "{newest}");

    // A pupil of another form: found by typing (results as you type), then one tap.
    let (other_id, other_name, family) = {
        use diesel::prelude::*;
        use steadfast::db::schema::{forms, pupils};
        pupils::table
            .inner_join(forms::table)
            .filter(forms::name.ne("9C"))
            .order(pupils::id)
            .select((pupils::id, pupils::given_name, pupils::family_name))
            .first::<(i64, String, String)>(&mut *app.conn())
            .map(|(id, given, family)| (id, format!("{given} {family}"), family))
            .expect("a pupil of another form")
    };
    client
        .goto(&format!("{}/log", app.address))
        .await
        .expect("the logging page");
    client
        .wait()
        .for_element(Locator::Css("input#q"))
        .await
        .expect("the search box")
        .send_keys(&other_name)
        .await
        .expect("typing a name");
    let found = client
        .wait()
        .for_element(Locator::Css(&format!(
            "#results li.pupil-row[data-pupil=\"{other_id}\"] button.prompt"
        )))
        .await
        .expect("the pupil among the results as you type");
    let before = quick_prompts(&app, other_id);
    found.click().await.expect("tapping Prompt");
    let card = confirmation_naming(&browser, &family).await;
    assert!(card.contains(&other_name), "{card}");
    assert_eq!(quick_prompts(&app, other_id), before + 1);
    browser.close().await;
}

/// A small school: Tess tutors 8B, with Amira Okafor and Ben Ash in it.
struct Form8B {
    app: TestApp,
    amira: steadfast::db::pupils::PupilView,
    ben: steadfast::db::pupils::PupilView,
}

/// The small school served; `None` (the test is skipped) where no browser is installed.
async fn form_8b() -> Option<Form8B> {
    if !browser_available() {
        return None;
    }
    let app = spawn_app(Engine::Sqlite).await;
    let school = app.create_school("NORTH", "North Academy");
    let teacher = app.create_staff(
        &school,
        "tess@north.example",
        "Tess Teacher",
        &[Role::ClassStaff],
        Some(PASSWORD),
    );
    let amira = app.create_pupil(&school, "A123456789012", "Amira", "Okafor", 8, "8B");
    let ben = app.create_pupil(&school, "B123456789012", "Ben", "Ash", 8, "8B");
    {
        use diesel::prelude::*;
        use steadfast::db::schema::forms;
        diesel::update(forms::table.filter(forms::name.eq("8B")))
            .set(forms::tutor_id.eq(Some(teacher.id)))
            .execute(&mut *app.conn())
            .expect("making Tess the tutor of 8B");
    }
    Some(Form8B { app, amira, ben })
}

/// Signs Tess in and opens the logging page; answers the Prompt button of `pupil`.
async fn log_page_of_tess(
    browser: &Browser,
    address: &str,
    pupil_id: i64,
) -> fantoccini::elements::Element {
    sign_in_with(browser, address, "tess@north.example", PASSWORD).await;
    open_log_page(browser, address, pupil_id).await
}

/// Opens the logging page; answers the Prompt button of `pupil_id`.
async fn open_log_page(
    browser: &Browser,
    address: &str,
    pupil_id: i64,
) -> fantoccini::elements::Element {
    browser
        .client
        .goto(&format!("{address}/log"))
        .await
        .expect("the logging page");
    browser
        .client
        .wait()
        .for_element(Locator::Css(&format!(
            "li.pupil-row[data-pupil=\"{pupil_id}\"] button.prompt"
        )))
        .await
        .expect("the pupil's Prompt button")
}

/// The text of the strip naming the submissions waiting on the device ('' when hidden).
const STATUS_SCRIPT: &str = "var s = document.getElementById('queue-status'); \
                             return s && !s.hidden ? s.textContent : '';";

/// What a button says while its submission waits on the device.
const QUEUED: &str = "Saved on this phone, will send";

/// Waits until the strip says one submission waits, naming `pupil`; answers what it says.
async fn strip_names(browser: &Browser, pupil: &str) -> String {
    let waiting = format!("{QUEUED} (1): {pupil}");
    browser
        .wait_for_script(
            "the strip to name the pupil waiting",
            STATUS_SCRIPT,
            Duration::from_secs(10),
            |v| v.as_str().is_some_and(|t| t.contains(&waiting)),
        )
        .await;
    waiting
}

#[tokio::test]
async fn a_tap_while_the_server_is_away_is_queued_and_delivered_exactly_once() {
    let Some(Form8B {
        mut app,
        amira: pupil,
        ..
    }) = form_8b().await
    else {
        return;
    };
    let browser = Browser::start().await;
    let button = log_page_of_tess(&browser, &app.address, pupil.id).await;
    let client = &browser.client;

    // The page's sends are counted, so the test can wait for retries rather than for time.
    client
        .execute(COUNT_SENDS_SCRIPT, Vec::new())
        .await
        .expect("counting the page's sends");

    // The server goes away with the page loaded; the teacher taps Prompt.
    app.stop().await;
    button.click().await.expect("tapping Prompt");

    let button_script = format!(
        "return document.querySelector('li.pupil-row[data-pupil=\"{}\"] button.prompt').textContent;",
        pupil.id
    );
    browser
        .wait_for_script(
            "the button to say it is saved on the phone",
            &button_script,
            Duration::from_secs(2),
            |v| v.as_str() == Some(QUEUED),
        )
        .await;
    let status_script = STATUS_SCRIPT;
    let waiting = strip_names(&browser, "Amira Okafor").await;
    assert_eq!(
        browser
            .client
            .execute(QUEUE_SCRIPT, Vec::new())
            .await
            .expect("the queue"),
        serde_json::json!(1)
    );
    // Retries fail while it is away (the page tries every few seconds); nothing is written.
    // The tap's own send and two retries after it have all failed once three sends are seen.
    browser
        .wait_for_script(
            "two retries",
            "return window.steadfastTestSends;",
            Duration::from_secs(30),
            |v| v.as_i64().is_some_and(|n| n >= 3),
        )
        .await;
    assert_eq!(quick_prompts(&app, pupil.id), 0);
    assert!(
        browser
            .client
            .execute(status_script, Vec::new())
            .await
            .expect("the status")
            .as_str()
            .is_some_and(|t| t.contains(&waiting)),
        "still waiting"
    );

    // The server comes back on the same port and database: the queue empties, once.
    app.restart().await;
    queue_empties(&browser, Duration::from_secs(30)).await;
    browser
        .wait_for_script(
            "the status to clear",
            status_script,
            Duration::from_secs(5),
            |v| v.as_str() == Some(""),
        )
        .await;
    let card = confirmation_naming(&browser, "Amira Okafor").await;
    assert!(card.contains("Logged"), "{card}");
    assert_eq!(
        quick_prompts(&app, pupil.id),
        1,
        "exactly one incident for one tap"
    );

    // A reload sends nothing again.
    client.refresh().await.expect("reloading");
    client
        .wait()
        .for_element(Locator::Css("li.pupil-row"))
        .await
        .expect("the page again");
    // Nothing is left on the device to send, so nothing can be sent again.
    assert_eq!(
        browser
            .client
            .execute(QUEUE_SCRIPT, Vec::new())
            .await
            .expect("the queue"),
        serde_json::json!(0)
    );
    assert_eq!(quick_prompts(&app, pupil.id), 1);
    browser.close().await;
}

/// Whether the focused element matches `css`, as a script for [`Browser::wait_for_script`].
fn focus_is(css: &str) -> String {
    format!("return !!document.activeElement && document.activeElement.matches({css:?});")
}

#[tokio::test]
async fn by_keyboard_a_prompt_is_logged_and_undone_and_a_pupil_is_added_in_place() {
    let Some(Form8B { app, amira, ben }) = form_8b().await else {
        return;
    };
    let browser = Browser::start().await;
    log_page_of_tess(&browser, &app.address, amira.id).await;

    // Tab to the first Prompt button (Ben's, the first of 8B) and press Enter.
    let on_prompt = focus_is("li.pupil-row button.prompt");
    let mut tabs = 0;
    while browser
        .client
        .execute(&on_prompt, Vec::new())
        .await
        .expect("focus")
        != true
    {
        tabs += 1;
        assert!(tabs <= 40, "a Prompt button within 40 tabs");
        browser.press(Key::Tab).await;
    }
    browser.press(Key::Enter).await;
    // Focus moves to the confirmation's Undo once Steadfast has answered.
    browser
        .wait_for_script(
            "focus on Undo",
            &focus_is("#confirmation button.undo"),
            Duration::from_secs(20),
            |v| v == &serde_json::json!(true),
        )
        .await;
    let card = confirmation_naming(&browser, "Ben Ash").await;
    assert!(card.contains("Logged"), "{card}");
    assert_eq!(quick_prompts(&app, ben.id), 1);
    browser.press(Key::Enter).await;
    browser
        .client
        .wait()
        .for_element(Locator::XPath("//h2[text()='Undone']"))
        .await
        .expect("undone");
    let standing: i64 = {
        use diesel::prelude::*;
        use steadfast::db::schema::incidents;
        incidents::table
            .filter(incidents::voided_at.is_null())
            .count()
            .get_result(&mut *app.conn())
            .expect("counting")
    };
    assert_eq!(standing, 0, "undone by keyboard");

    // The incident form: a pupil added in place keeps everything typed.
    browser
        .client
        .goto(&format!("{}/log/new?pupil={}", app.address, amira.id))
        .await
        .expect("the incident form");
    fill(&browser, "#location", "Lab 2").await;
    fill(&browser, "#note", "Talking over the teacher.").await;
    browser
        .client
        .find(Locator::Css("#behaviour option[value='Off task']"))
        .await
        .expect("a behaviour")
        .click()
        .await
        .expect("choosing it");
    fill(&browser, "#add-q", "Ash").await;
    browser
        .client
        .wait()
        .for_element(Locator::Css(&format!(
            "#add-results button.add[value=\"{}\"]",
            ben.id
        )))
        .await
        .expect("Ben offered as you type")
        .click()
        .await
        .expect("adding Ben");
    let ticked = browser
        .client
        .execute(
            "return [...document.querySelectorAll('input[name=pupil_ids]:checked')].map(b => b.dataset.name).join(', ') \
             + ' | ' + document.getElementById('location').value;",
            Vec::new(),
        )
        .await
        .expect("the form");
    assert_eq!(ticked, "Amira Okafor, Ben Ash | Lab 2", "added in place");
    click_and_wait(&browser, "button[value=log]", "#confirmation-card").await;
    let (location, pupils): (Option<String>, i64) = {
        use diesel::prelude::*;
        use steadfast::db::schema::{incident_pupils, incidents};
        let (id, location) = incidents::table
            .filter(incidents::behaviour.eq("Off task"))
            .select((incidents::id, incidents::location))
            .first::<(i64, Option<String>)>(&mut *app.conn())
            .expect("the incident");
        let pupils = incident_pupils::table
            .filter(incident_pupils::incident_id.eq(id))
            .count()
            .get_result(&mut *app.conn())
            .expect("counting");
        (location, pupils)
    };
    assert_eq!((location.as_deref(), pupils), (Some("Lab 2"), 2));
    browser.close().await;
}

/// Whether the service worker keeps the logging page.
const KEPT_SCRIPT: &str = "return caches.match('/log').then(function (page) { return !!page; });";

#[tokio::test]
async fn opened_once_the_log_page_works_from_a_cold_start_with_no_network() {
    let Some(Form8B { mut app, amira, .. }) = form_8b().await else {
        return;
    };
    let address = app.address.clone();

    // Opened once: the service worker takes over and keeps the page.
    let browser = Browser::start().await;
    log_page_of_tess(&browser, &address, amira.id).await;
    browser
        .wait_for_script(
            "the service worker",
            "return navigator.serviceWorker.ready.then(function () { return true; });",
            Duration::from_secs(20),
            |v| v == &serde_json::json!(true),
        )
        .await;
    open_log_page(&browser, &address, amira.id).await;
    browser
        .wait_for_script("the page kept", KEPT_SCRIPT, Duration::from_secs(20), |v| {
            v == &serde_json::json!(true)
        })
        .await;
    let profile = browser.close_keeping_profile().await;

    // No network, and a new browser on the same phone: the page opens as last loaded.
    app.stop().await;
    let browser = Browser::start_again(profile).await;
    let button = open_log_page(&browser, &address, amira.id).await;
    button.click().await.expect("tapping Prompt");
    strip_names(&browser, "Amira Okafor").await;
    assert_eq!(quick_prompts(&app, amira.id), 0);

    // The network returns (same port): the tap is sent, once, when the page is next open
    // signed in (the browser's session ended with it, so Tess signs in again).
    app.restart().await;
    browser
        .client
        .goto(&format!("{address}/log"))
        .await
        .expect("the logging page");
    let signed_out = browser
        .client
        .find(Locator::Css("input[name=email]"))
        .await
        .is_ok();
    if signed_out {
        log_page_of_tess(&browser, &address, amira.id).await;
    }
    queue_empties(&browser, Duration::from_secs(30)).await;
    assert_eq!(quick_prompts(&app, amira.id), 1, "exactly once");
    open_log_page(&browser, &address, amira.id).await;
    assert_eq!(quick_prompts(&app, amira.id), 1, "and not again");

    // Signing out empties the cache: the page is kept for no one.
    sign_out(&browser).await;
    browser
        .wait_for_script(
            "the page forgotten",
            KEPT_SCRIPT,
            Duration::from_secs(10),
            |v| v == &serde_json::json!(false),
        )
        .await;
    browser.close().await;
}

/// Types `text` into the field `css` of the page.
async fn fill(browser: &Browser, css: &str, text: &str) {
    browser
        .client
        .find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("the field {css}: {e}"))
        .send_keys(text)
        .await
        .unwrap_or_else(|e| panic!("typing into {css}: {e}"));
}

/// Clicks the element `css` and waits for the page it leads to.
async fn click_and_wait(browser: &Browser, css: &str, then: &str) -> String {
    browser
        .client
        .find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("the button {css}: {e}"))
        .click()
        .await
        .unwrap_or_else(|e| panic!("clicking {css}: {e}"));
    browser
        .client
        .wait()
        .at_most(Duration::from_secs(30))
        .for_element(Locator::Css(then))
        .await
        .unwrap_or_else(|e| panic!("{then} after clicking {css}: {e}"));
    browser.client.source().await.expect("the page")
}

/// Chooses a file on the import page, previews it and applies it; answers the final page.
async fn import_on_the_page(
    browser: &Browser,
    address: &str,
    kind: &str,
    file: &str,
    tick: &[&str],
) -> String {
    let client = &browser.client;
    client
        .goto(&format!("{address}/admin/import?kind={kind}"))
        .await
        .expect("the import page");
    let path = format!("{}/tests/fixtures/{file}", env!("CARGO_MANIFEST_DIR"));
    fill(browser, "input[type=file][name=file]", &path).await;
    for name in tick {
        client
            .find(Locator::Css(&format!("input[name={name}]")))
            .await
            .expect("a box to tick")
            .click()
            .await
            .expect("ticking it");
    }
    let preview = click_and_wait(
        browser,
        "form[action='/admin/import/preview'] button.primary",
        "button[value=apply]",
    )
    .await;
    assert!(
        preview.contains("Nothing has been written yet"),
        "{preview}"
    );
    click_and_wait(browser, "button[value=apply]", "h1.applied").await
}

#[tokio::test]
async fn a_new_school_moves_in_from_its_files_and_an_invited_teacher_signs_in() {
    if !browser_available() {
        return;
    }
    let app = spawn_app(Engine::Sqlite).await;
    let token = steadfast::accounts::setup_token(&app.data_dir).expect("a set-up token");
    let browser = Browser::start().await;
    let client = &browser.client;

    // The administrator sets the school up from the one-time link.
    client
        .goto(&format!("{}/setup?token={token}", app.address))
        .await
        .expect("the set-up page");
    for (field, text) in [
        ("code", "NORTHPARK"),
        ("school", "Northpark School"),
        ("name", "Ada Okafor"),
        ("email", "ada@northpark.example"),
        ("password", "kettle orbit lantern meadow"),
        ("again", "kettle orbit lantern meadow"),
    ] {
        fill(&browser, &format!("input[name={field}]"), text).await;
    }
    let home = click_and_wait(&browser, "button[type=submit]", "section.getting-started").await;
    assert!(home.contains("Northpark School"), "{home}");

    // Staff, with invitations; then the roll from the MIS.
    let staff = import_on_the_page(&browser, &app.address, "staff", "staff.csv", &["invite"]).await;
    assert!(staff.contains("5 added"), "{staff}");
    let pupils = import_on_the_page(&browser, &app.address, "pupils", "sims-pupils.csv", &[]).await;
    assert!(pupils.contains("6 added"), "{pupils}");
    assert!(pupils.contains("O&#39;Connor") || pupils.contains("O'Connor"));
    assert_eq!(app.pupil_count(), 6);

    // The invited teacher follows the emailed link, chooses a password and is signed in.
    let link_text: String = {
        use diesel::prelude::*;
        use steadfast::db::schema::outbox;
        outbox::table
            .filter(outbox::recipient.eq("k.mensah@northpark.example"))
            .select(outbox::body_text)
            .first(&mut *app.conn())
            .expect("the invitation")
    };
    let start = link_text
        .find("/account/password?token=")
        .expect("a link in the invitation");
    let path: String = link_text[start..]
        .chars()
        .take_while(|c| !c.is_whitespace())
        .collect();
    click_and_wait(&browser, "form.signout button", "input[name=email]").await;
    client
        .goto(&format!("{}{path}", app.address))
        .await
        .expect("the invitation's page");
    fill(
        &browser,
        "input[name=password]",
        "violet harbour pencil drum",
    )
    .await;
    fill(
        &browser,
        "input[name=confirm]",
        "violet harbour pencil drum",
    )
    .await;
    let signed_in = click_and_wait(&browser, "button[type=submit]", "form.signout").await;
    assert!(signed_in.contains("Kwame Mensah"), "{signed_in}");
    browser.close().await;
}

#[tokio::test]
async fn a_meetings_staff_search_filters_the_list_in_place() {
    if !browser_available() {
        return;
    }
    let app = spawn_app(Engine::Sqlite).await;
    load_demo(&app.db, Utc::now()).expect("the demo school");
    let browser = Browser::start().await;
    sign_in(&browser, &app.address, "hoy7@demo.example").await;
    let client = &browser.client;
    client
        .goto(&format!("{}/meetings", app.address))
        .await
        .expect("the meetings");
    let links = client
        .execute(
            r#"return [...document.querySelectorAll('main a[href^="/meetings/"]')].map(a => a.getAttribute('href'));"#,
            Vec::new(),
        )
        .await
        .expect("the meetings' links");
    let first = links[0].as_str().expect("a meeting of Year 7 in the demo");
    client
        .goto(&format!("{}{first}?step=book", app.address))
        .await
        .expect("the meeting's booking step");
    let shown = r#"const list = document.getElementById('staff-others');
        const all = [...list.querySelectorAll('[data-name]')];
        return [list.open, all.filter(c => !c.hidden).length, all.length,
                all.length ? all[all.length - 1].getAttribute('data-name') : ''];"#;
    let before = client.execute(shown, Vec::new()).await.expect("the list");
    assert_eq!(before[0], false, "folded until searched: {before}");
    let everyone = before[2].as_u64().expect("a count");
    assert!(everyone > 1, "{before}");
    assert_eq!(before[1].as_u64(), Some(everyone));
    let name = before[3].as_str().expect("a name").to_string();
    fill(&browser, "#staff_search", &name).await;
    browser
        .wait_for_script("the list filtered", shown, Duration::from_secs(5), |v| {
            v[0] == true && v[1].as_u64().is_some_and(|n| n >= 1 && n < everyone)
        })
        .await;
    browser.close().await;
}
