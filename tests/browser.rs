//! Browser flows in headless Chromium at a phone-sized viewport, against the demo school.

#[path = "common/browser.rs"]
mod chromium;
mod common;

use chrono::Utc;
use fantoccini::Locator;

use chromium::{browser_available, Browser};
use common::{spawn_app, Engine};
use steadfast::demo::load::{load_demo, DemoOutcome};
use steadfast::demo::DEMO_PASSWORD;

/// Signs in through the login page as `email`, returning the text of the page reached.
async fn sign_in(browser: &Browser, address: &str, email: &str) -> String {
    let client = &browser.client;
    client
        .goto(&format!("{address}/login"))
        .await
        .expect("the login page");
    client
        .find(Locator::Css("input[name=email]"))
        .await
        .expect("an email field")
        .send_keys(email)
        .await
        .expect("typing the email");
    client
        .find(Locator::Css("input[name=password]"))
        .await
        .expect("a password field")
        .send_keys(DEMO_PASSWORD)
        .await
        .expect("typing the password");
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
    client
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
        ("specialist@demo.example", "Pupils on a Coaching Programme"),
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
    if !browser_available() {
        return;
    }
    let app = spawn_app(Engine::Sqlite).await;
    load_demo(&app.db, Utc::now()).expect("the demo school");
    let browser = Browser::start().await;
    sign_in(&browser, &app.address, "teacher@demo.example").await;

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
