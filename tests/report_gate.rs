//! Reports never starve logging, on both engines: beyond `reports_per_school` reports of one
//! school at once, a report page (the pattern report, its CSV, the ladder, the provision map)
//! answers 429 with `Retry-After` and a "try again in a moment" page, never 503, while
//! logging goes on; another school's reports are not held up; and once a report finishes
//! the next one runs. Concurrent reports over the limit answer 200 or 429, nothing else.

mod common;

use reqwest::{header, StatusCode};
use serde_json::json;

use common::{both_engines, page, signed_in, spawn_app_with, Engine, Role, PASSWORD};

const SENDCO: &str = "sendco@oak.example";
const OTHER_SENDCO: &str = "sendco@elm.example";

const REPORTS: [&str; 5] = [
    "/insight",
    "/insight.csv",
    "/insight/ladder",
    "/insight/impact",
    "/provision",
];

async fn beyond_the_limit_reports_wait_and_logging_goes_on(engine: Engine) {
    let app = spawn_app_with(engine, |settings| settings.reports_per_school = 2).await;
    let school = app.create_school("OAK", "Oakfield Academy");
    let other = app.create_school("ELM", "Elm Academy");
    app.create_staff(
        &school,
        SENDCO,
        "Sam Sendco",
        &[Role::Sendco],
        Some(PASSWORD),
    );
    app.create_staff(
        &other,
        OTHER_SENDCO,
        "Ola Sendco",
        &[Role::Sendco],
        Some(PASSWORD),
    );
    let (token, pupils) = app.teacher_and_pupils(&school, 2);
    let client = signed_in(&app, SENDCO).await;
    let elsewhere = signed_in(&app, OTHER_SENDCO).await;
    assert_eq!(app.db.reports().per_school(), 2);

    for path in REPORTS {
        let (status, _) = page(&app, &client, path).await;
        assert_eq!(status, StatusCode::OK, "{path} with no report running");
    }

    // Two reports of the school are running (held here as a slow report would hold them).
    let first = app.db.reports().admit(school.id).unwrap();
    let second = app.db.reports().admit(school.id).unwrap();
    for path in REPORTS {
        let response = app.get_page(&client, path).await;
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS, "{path}");
        let wait = response
            .headers()
            .get(header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u32>().ok());
        assert!(wait.is_some_and(|w| w > 0), "{path}: Retry-After");
        let text = response.text().await.unwrap();
        assert!(text.contains("Wait a moment"), "{path}: {text}");
        assert!(text.contains("try"), "{path}: {text}");
        assert!(text.contains("again in a moment"), "{path}: {text}");
    }

    // Logging a Coaching Prompt does not wait for reports.
    let (status, body) = app
        .api_post(
            "/api/v1/incidents",
            &token,
            &json!({
                "pupil_ids": [pupils[0]],
                "behaviour": "Off task",
                "severity": "minor",
                "response": "prompt",
            }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");

    // Another school's reports have places of their own.
    let (status, _) = page(&app, &elsewhere, "/insight").await;
    assert_eq!(status, StatusCode::OK);

    // One finishes: the next report runs.
    drop(first);
    let (status, _) = page(&app, &client, "/insight").await;
    assert_eq!(status, StatusCode::OK);
    drop(second);
    assert_eq!(app.db.reports().running(school.id), 0);

    // Many at once: each answers the report or "busy", never 503; and the places are all
    // given back.
    let asks = (0..8).map(|i| {
        let client = client.clone();
        let url = app.url(if i % 2 == 0 {
            "/insight.csv"
        } else {
            "/provision"
        });
        async move { client.get(url).send().await.unwrap().status() }
    });
    let statuses = futures::future::join_all(asks).await;
    for status in &statuses {
        assert!(
            *status == StatusCode::OK || *status == StatusCode::TOO_MANY_REQUESTS,
            "{statuses:?}"
        );
    }
    assert!(statuses.contains(&StatusCode::OK), "{statuses:?}");
    assert_eq!(app.db.reports().running(school.id), 0);
}

both_engines!(beyond_the_limit_reports_wait_and_logging_goes_on);
