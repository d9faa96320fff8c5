//! Staff pages, rendered with maud. Every form posts with a CSRF token and works without
//! JavaScript.

pub mod home;
pub mod layout;
pub mod login;
pub mod pupils;

use actix_session::Session;
use actix_web::web;

use self::layout::Viewer;
use crate::db::staff::StaffMember;
use crate::web::auth::csrf_token;

/// Registers the page routes.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(home::home))
        .route("/login", web::get().to(login::show))
        .route("/login", web::post().to(login::submit))
        .route("/logout", web::post().to(login::logout))
        .route("/pupils", web::get().to(pupils::search))
        .route("/pupils/{id}", web::get().to(pupils::show));
}

/// Runs `render` with the viewer's details and CSRF token.
pub fn with_viewer<T>(
    member: &StaffMember,
    session: &Session,
    render: impl FnOnce(&Viewer<'_>) -> T,
) -> T {
    let csrf = csrf_token(session);
    render(&Viewer {
        member,
        csrf: &csrf,
    })
}
