//! A new installation: the one-time set-up link creates the school and its first
//! administrator, then the home page walks them through bringing the school in.

mod common;

use reqwest::StatusCode;

use common::{both_engines, csrf_token_in, location, page_client, Engine};

async fn the_first_school_is_set_up_from_the_one_time_link(engine: Engine) {
    let app = common::spawn_app(engine).await;
    let client = page_client();
    let welcome = app
        .get_page(&client, "/")
        .await
        .text()
        .await
        .expect("a page");
    assert!(welcome.contains("Set up your school"), "{welcome}");

    // Without the link's token: refused, saying where the link is.
    let refused = app.get_page(&client, "/setup?token=guess").await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert!(refused
        .text()
        .await
        .expect("a page")
        .contains("setup.token"));

    let token = steadfast::accounts::setup_token(&app.data_dir).expect("a set-up token");
    let page = app
        .get_page(&client, &format!("/setup?token={token}"))
        .await
        .text()
        .await
        .expect("the form");
    let csrf = csrf_token_in(&page);
    let post = |password: &str| {
        let fields = [
            ("csrf_token", csrf.as_str()),
            ("token", token.as_str()),
            ("code", "north"),
            ("school", "North Academy"),
            ("name", "Ada O'Neill"),
            ("email", "ada@north.example"),
            ("password", password),
            ("again", password),
        ];
        client.post(app.url("/setup")).form(&fields).send()
    };
    // A weak password: the form again, the problem at its field, nothing written.
    let weak = post("password1").await.expect("an answer");
    assert_eq!(weak.status(), StatusCode::BAD_REQUEST);
    let weak = weak.text().await.expect("the form");
    assert!(weak.contains(r#"data-error-for="password""#), "{weak}");
    assert!(weak.contains("North Academy"), "typed values kept");
    assert_eq!(app.staff_count(), 0);

    let done = post("kettle orbit lantern meadow")
        .await
        .expect("an answer");
    assert_eq!(done.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&done), "/");
    assert_eq!(app.staff_count(), 1);

    // Signed in: the getting-started steps, in order, with what is done.
    let home = app.get_page(&client, "/").await.text().await.expect("home");
    let order = [
        "Your school",
        "Staff",
        "Pupils",
        "Calendar",
        "Timetable",
        "Behaviours",
        "Escalation policy",
    ];
    let mut at = 0;
    for step in order {
        let found = home[at..]
            .find(step)
            .unwrap_or_else(|| panic!("{step} missing or out of order"));
        at += found;
    }
    assert_eq!(home.matches("To do").count(), 6, "{home}");

    // The defaults suit: behaviours done.
    let csrf = csrf_token_in(&home);
    let kept = client
        .post(app.url("/setup/reviewed"))
        .form(&[("csrf_token", csrf.as_str()), ("step", "behaviours")])
        .send()
        .await
        .expect("an answer");
    assert_eq!(kept.status(), StatusCode::SEE_OTHER);
    let home = app.get_page(&client, "/").await.text().await.expect("home");
    assert_eq!(home.matches("To do").count(), 5);

    // The link works once: with a school, set-up sends people to sign in.
    let again = page_client()
        .get(app.url(&format!("/setup?token={token}")))
        .send()
        .await
        .expect("an answer");
    assert_eq!(location(&again), "/login");
}

both_engines!(the_first_school_is_set_up_from_the_one_time_link);
