//! The web service: pages for staff (maud, forms that work without JavaScript) and the JSON API
//! under `/api/v1`, side by side over one shared state.

pub mod api;
pub mod auth;
pub mod error;
pub mod pages;
pub mod session_store;
pub mod telemetry;
pub mod throttle;

use std::sync::Arc;

use actix_session::config::{BrowserSession, CookieContentSecurity};
use actix_session::SessionMiddleware;
use actix_web::cookie::{time::Duration as CookieDuration, Key, SameSite};
use actix_web::middleware::DefaultHeaders;
use actix_web::{dev::Server, web, App, HttpResponse, HttpServer};
use serde::Serialize;
use tracing_actix_web::TracingLogger;

use crate::config::Settings;
use crate::db::Database;

/// What every handler can reach: the database and the settings.
#[derive(Clone)]
pub struct AppState {
    pub db: Database,
    pub settings: Arc<Settings>,
}

/// The name of the session cookie.
pub const SESSION_COOKIE: &str = "steadfast_session";

/// How long a session row is kept at most; each school's own limits (idle and absolute) end
/// signed-in sessions sooner. The cookie itself lasts until the browser closes.
const SESSION_ROW_HOURS: i64 = *crate::domain::sign_in::SessionLimits::LIFETIME_HOURS.end() as i64;

/// Registers every route of the service.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/health", web::get().to(health));
    for &(path, content_type, body) in STATIC_FILES {
        cfg.route(
            path,
            web::get().to(move || async move { static_file(path, content_type, body) }),
        );
    }
    cfg.service(web::scope("/api/v1").configure(api::routes))
        .configure(pages::routes);
}

/// Starts the HTTP server on an already bound listener (port 0 in tests).
pub fn start(
    listener: std::net::TcpListener,
    state: AppState,
    session_key: Key,
) -> std::io::Result<Server> {
    let secure = state.settings.secure_cookies;
    state.db.reports().configure(
        state.settings.reports_per_school,
        std::time::Duration::from_secs(state.settings.report_time_limit_seconds),
    );
    let store = session_store::DatabaseSessionStore::new(state.db.clone());
    let data = web::Data::new(state);
    let server = HttpServer::new(move || {
        let sessions = SessionMiddleware::builder(store.clone(), session_key.clone())
            .cookie_name(SESSION_COOKIE.to_string())
            .cookie_http_only(true)
            .cookie_same_site(SameSite::Lax)
            .cookie_secure(secure)
            .cookie_content_security(CookieContentSecurity::Signed)
            .session_lifecycle(
                BrowserSession::default().state_ttl(CookieDuration::hours(SESSION_ROW_HOURS)),
            )
            .build();
        App::new()
            .app_data(data.clone())
            .app_data(api::query_config())
            .app_data(api::path_config())
            .app_data(web::PayloadConfig::new(error::MAX_BODY_BYTES))
            .wrap(sessions)
            .wrap(security_headers(secure))
            .wrap(TracingLogger::<telemetry::RequestSpan>::new())
            .configure(routes)
    })
    .listen(listener)?
    .run();
    Ok(server)
}

/// What pages may load and do: their own scripts, styles and forms only, never framed.
pub(crate) const CONTENT_SECURITY_POLICY: &str =
    "default-src 'self'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; \
     frame-ancestors 'none'";

/// The security headers every answer carries: the content security policy, no framing, no
/// content sniffing, no referrer beyond Steadfast itself, nothing kept in caches (pupils' data
/// stays off shared machines; the static files set their own caching), and, behind HTTPS,
/// HSTS.
fn security_headers(secure: bool) -> DefaultHeaders {
    use actix_web::http::header;
    let headers = DefaultHeaders::new()
        .add((header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY))
        .add((header::X_FRAME_OPTIONS, "DENY"))
        .add((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .add((header::REFERRER_POLICY, "same-origin"))
        .add((header::CACHE_CONTROL, "no-store"));
    if secure {
        headers.add((
            header::STRICT_TRANSPORT_SECURITY,
            "max-age=31536000; includeSubDomains",
        ))
    } else {
        headers
    }
}

/// The key that signs session cookies (which carry only a session's random key): from the settings, or kept in the data folder.
pub fn session_key(settings: &Settings) -> anyhow::Result<Key> {
    let secret = settings.session_secret.trim();
    if !secret.is_empty() {
        anyhow::ensure!(
            secret.len() >= 64,
            "session_secret must be at least 64 characters long"
        );
        return Ok(Key::derive_from(secret.as_bytes()));
    }
    let path = settings.data_dir.join("session.key");
    if let Ok(stored) = std::fs::read(&path) {
        if let Ok(key) = Key::try_from(stored.as_slice()) {
            return Ok(key);
        }
    }
    let key = Key::generate();
    std::fs::create_dir_all(&settings.data_dir)?;
    write_private_file(&path, key.master())?;
    Ok(key)
}

/// Writes a file readable by its owner only.
pub fn write_private_file(path: &std::path::Path, contents: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)?.write_all(contents)
}

/// The answer of `GET /health`.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Health {
    /// `ok` when the database answers.
    pub status: &'static str,
    /// `sqlite` or `postgres`.
    pub database: &'static str,
}

/// `GET /health`: whether the service and its database answer.
async fn health(state: web::Data<AppState>) -> HttpResponse {
    let engine = state.db.engine().as_str();
    let answered = state
        .db
        .transaction(|conn| {
            use diesel::connection::SimpleConnection;
            conn.batch_execute("SELECT 1")?;
            Ok(())
        })
        .await;
    match answered {
        Ok(()) => HttpResponse::Ok().json(Health {
            status: "ok",
            database: engine,
        }),
        Err(_) => HttpResponse::ServiceUnavailable().json(Health {
            status: "unavailable",
            database: engine,
        }),
    }
}

/// The files served as they are, compiled into the binary: path, content type, contents.
/// The stylesheet; the staff pages' script (results as you type, the queue on the device);
/// the service worker, served from the top so that it may keep `/log` for opening with no
/// network; and the web app manifest with its icons, so that `/log` is installable.
const STATIC_FILES: &[(&str, &str, &[u8])] = &[
    (
        "/static/style.css",
        "text/css; charset=utf-8",
        include_bytes!("../../static/style.css"),
    ),
    (
        "/static/log.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../static/log.js"),
    ),
    (
        "/sw.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../static/sw.js"),
    ),
    (
        "/manifest.webmanifest",
        "application/manifest+json",
        include_bytes!("../../static/manifest.webmanifest"),
    ),
    (
        "/static/icons/icon.svg",
        "image/svg+xml",
        include_bytes!("../../static/icons/icon.svg"),
    ),
    (
        "/static/icons/icon-192.png",
        "image/png",
        include_bytes!("../../static/icons/icon-192.png"),
    ),
    (
        "/static/icons/icon-512.png",
        "image/png",
        include_bytes!("../../static/icons/icon-512.png"),
    ),
];

/// A static file, kept by browsers for an hour; the service worker is checked on every
/// visit, so a new one takes over at once.
fn static_file(path: &str, content_type: &str, body: &'static [u8]) -> HttpResponse {
    let cache = if path == "/sw.js" {
        "no-cache"
    } else {
        "public, max-age=3600"
    };
    HttpResponse::Ok()
        .content_type(content_type)
        .insert_header(("Cache-Control", cache))
        .body(body)
}
