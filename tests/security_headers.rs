//! Every answer carries the security headers a school's data protection officer expects:
//! a content security policy that forbids framing and outside scripts, no content sniffing,
//! no referrer beyond Steadfast, and nothing kept in caches but the static files.

mod common;

use reqwest::header::{self, HeaderMap};
use reqwest::StatusCode;

use common::{both_engines, Engine, Role, PASSWORD};

/// Checks the headers every page and API answer carries.
fn assert_protected(what: &str, headers: &HeaderMap) {
    let value = |name: header::HeaderName| {
        headers
            .get(&name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    let policy = value(header::CONTENT_SECURITY_POLICY);
    for part in [
        "default-src 'self'",
        "script-src 'self'",
        "frame-ancestors 'none'",
        "object-src 'none'",
    ] {
        assert!(policy.contains(part), "{what}: no {part:?} in {policy:?}");
    }
    assert!(!policy.contains("unsafe-inline"), "{what}: {policy}");
    assert_eq!(value(header::X_FRAME_OPTIONS), "DENY", "{what}");
    assert_eq!(value(header::X_CONTENT_TYPE_OPTIONS), "nosniff", "{what}");
    assert_eq!(value(header::REFERRER_POLICY), "same-origin", "{what}");
    assert_eq!(value(header::CACHE_CONTROL), "no-store", "{what}");
}

async fn every_answer_carries_the_security_headers(engine: Engine) {
    let app = common::spawn_app(engine).await;
    let school = app.create_school("NORTH", "North Academy");
    let teacher = app.create_staff(
        &school,
        "t@north.example",
        "Tess Teacher",
        &[Role::ClassStaff],
        Some(PASSWORD),
    );
    let token = app.create_token(&teacher);
    let client = common::page_client();
    app.login(&client, "t@north.example", PASSWORD).await;
    for path in ["/", "/pupils?q=Okafor", "/log", "/login"] {
        let page = app.get_page(&client, path).await;
        assert_protected(path, page.headers());
    }
    for path in ["/api/v1/pupils", "/api/v1/pupils/999999"] {
        let answer = reqwest::Client::new()
            .get(app.url(path))
            .bearer_auth(&token)
            .send()
            .await
            .expect("an answer");
        assert_protected(path, answer.headers());
    }
    let refused = reqwest::get(app.url("/api/v1/pupils"))
        .await
        .expect("an answer");
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    assert_protected("a refused API call", refused.headers());
    // The static files may be cached, and still may not be sniffed.
    let style = reqwest::get(app.url("/static/style.css"))
        .await
        .expect("the stylesheet");
    let cache = style.headers()[header::CACHE_CONTROL]
        .to_str()
        .unwrap_or_default()
        .to_string();
    assert!(cache.starts_with("public"), "{cache}");
    assert_eq!(style.headers()[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    // The service worker and the manifest come from Steadfast itself, which the policy
    // allows for workers (`worker-src` falls back to `script-src 'self'`) and manifests
    // (`default-src 'self'`); neither may be sniffed as anything else.
    for (path, content_type) in [
        ("/sw.js", "text/javascript; charset=utf-8"),
        ("/manifest.webmanifest", "application/manifest+json"),
    ] {
        let answer = reqwest::get(app.url(path)).await.expect("an answer");
        assert_eq!(answer.status(), StatusCode::OK, "{path}");
        assert_eq!(
            answer.headers()[header::CONTENT_TYPE],
            content_type,
            "{path}"
        );
        assert_eq!(answer.headers()[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
        let policy = answer.headers()[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap_or_default()
            .to_string();
        assert!(!policy.contains("worker-src") && policy.contains("script-src 'self'"));
    }
}

both_engines!(every_answer_carries_the_security_headers);

#[test]
fn no_page_carries_inline_script() {
    // The policy allows no inline script: no handler attribute or inline <script> in the pages.
    let mut folders = vec![std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/web/pages")];
    let mut sources = Vec::new();
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(folder).expect("the pages") {
            let path = entry.expect("a page").path();
            if path.is_dir() {
                folders.push(path);
            } else {
                sources.push(path);
            }
        }
    }
    assert!(sources.len() > 30, "the page sources: {sources:?}");
    for path in sources {
        let source = std::fs::read_to_string(&path).expect("its source");
        for attribute in ["onclick=", "onsubmit=", "onchange=", "onload="] {
            assert!(
                !source.contains(attribute),
                "{} uses {attribute}, which the content security policy blocks",
                path.display()
            );
        }
    }
}
