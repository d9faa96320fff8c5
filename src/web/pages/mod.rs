//! Staff pages, rendered with maud. Every form posts with a CSRF token and works without
//! JavaScript.

pub mod account;
pub mod admin;
pub mod audit;
pub mod backups;
pub mod calendar;
pub mod charts;
pub mod conversation;
pub mod erase;
pub mod export;
pub mod family;
pub mod form;
pub mod form_page;
pub mod home;
pub mod houses;
pub mod impact;
pub mod import;
pub mod inbox;
pub mod insight;
pub mod layout;
pub mod log;
pub mod login;
pub mod meetings;
pub mod oidc;
pub mod outbox;
pub mod own_account;
pub mod password;
pub mod policy;
pub mod programme;
pub mod provision;
pub mod pupils;
pub mod report_scope;
pub mod retention;
pub mod school_details;
pub mod second_factor;
pub mod security;
pub mod setup;
pub mod sign_in_settings;
pub mod staff_admin;
pub mod timetable;

use actix_session::Session;
use actix_web::web;

use self::layout::Viewer;
use crate::db::staff::StaffMember;
use crate::web::auth::csrf_token;

/// Registers the page routes.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(home::home))
        .route("/setup", web::get().to(setup::show))
        .route("/setup", web::post().to(setup::submit))
        .route("/setup/reviewed", web::post().to(setup::reviewed))
        .route("/login", web::get().to(login::show))
        .route("/login", web::post().to(login::submit))
        .route("/logout", web::post().to(login::logout))
        .route("/login/code", web::get().to(second_factor::show))
        .route("/login/code", web::post().to(second_factor::submit))
        .route("/account/security", web::get().to(security::show))
        .route("/account/security/start", web::post().to(security::start))
        .route(
            "/account/security/confirm",
            web::post().to(security::confirm),
        )
        .route(
            "/account/security/recovery-codes",
            web::post().to(security::renew),
        )
        .route("/account/security/off", web::post().to(security::turn_off))
        .route("/admin/school", web::get().to(school_details::show))
        .route("/admin/school", web::post().to(school_details::save))
        .route("/admin/sign-in", web::get().to(sign_in_settings::show))
        .route("/admin/sign-in", web::post().to(sign_in_settings::save))
        .route(
            "/admin/sign-in/sessions",
            web::post().to(sign_in_settings::save_sessions),
        )
        .route("/auth/oidc/callback", web::get().to(oidc::callback))
        .route("/auth/oidc/{code}", web::get().to(oidc::start))
        .route("/login/reset", web::get().to(password::reset_show))
        .route("/login/reset", web::post().to(password::reset_submit))
        .route("/account/password", web::get().to(password::show))
        .route("/family/{token}", web::get().to(family::show))
        .route("/family/{token}/answer", web::post().to(family::answer))
        .route("/family/{token}/read", web::post().to(family::read))
        .route(
            "/family/{token}/sessions/{id}",
            web::post().to(family::record),
        )
        .route("/account/password", web::post().to(password::submit))
        .route("/log", web::get().to(log::show))
        .route("/log/pupils", web::get().to(log::pupils_json))
        .route("/log/prompt", web::post().to(log::prompt))
        .route("/log/new", web::get().to(log::details_form))
        .route("/log/new", web::post().to(log::details_submit))
        .route("/log/incidents/{id}/undo", web::post().to(log::undo))
        .route("/log/incidents/{id}/edit", web::get().to(log::edit_form))
        .route("/log/incidents/{id}/edit", web::post().to(log::edit_submit))
        .route("/insight", web::get().to(insight::show))
        .route("/insight.csv", web::get().to(insight::csv))
        .route("/insight/incidents", web::get().to(insight::incidents))
        .route("/inbox", web::get().to(inbox::show))
        .route("/inbox/{id}/accept", web::post().to(inbox::accept))
        .route("/inbox/{id}/decline", web::post().to(inbox::decline))
        .route("/inbox/{id}/snooze", web::post().to(inbox::snooze))
        .route("/account/email", web::get().to(account::show))
        .route("/account/email", web::post().to(account::save))
        .route("/account/sessions", web::get().to(own_account::sessions))
        .route(
            "/account/sessions/end-others",
            web::post().to(own_account::end_other_sessions),
        )
        .route(
            "/account/sessions/{id}/end",
            web::post().to(own_account::end_session),
        )
        .route("/account/tokens", web::get().to(own_account::tokens))
        .route("/account/tokens", web::post().to(own_account::create_token))
        .route(
            "/account/tokens/{id}/revoke",
            web::post().to(own_account::revoke_token),
        )
        .route("/meetings", web::get().to(meetings::list))
        .route("/meetings/{id}", web::get().to(meetings::show))
        .route(
            "/meetings/{id}/schedule",
            web::post().to(meetings::schedule),
        )
        .route("/meetings/{id}/cancel", web::post().to(meetings::cancel))
        .route(
            "/meetings/{id}/guests/{guest_id}/revoke",
            web::post().to(meetings::revoke_guest_link),
        )
        .route("/meetings/{id}/missed", web::post().to(meetings::missed))
        .route("/meetings/{id}/outcome", web::post().to(meetings::outcome))
        .route("/pupils", web::get().to(pupils::search))
        .route("/pupils/{id}", web::get().to(pupils::show))
        .route("/pupils/{id}/level", web::post().to(pupils::change_level))
        .route(
            "/pupils/{id}/contacts",
            web::get().to(pupils::contacts::show),
        )
        .route(
            "/pupils/{id}/contacts",
            web::post().to(pupils::contacts::add),
        )
        .route(
            "/pupils/{id}/contacts/{contact}",
            web::post().to(pupils::contacts::edit),
        )
        .route(
            "/pupils/{id}/contacts/{contact}/remove",
            web::post().to(pupils::contacts::remove),
        )
        .route("/pupils/{id}/export", web::get().to(export::show))
        .route("/pupils/{id}/export.zip", web::get().to(export::download))
        .route("/pupils/{id}/transfer", web::get().to(export::transfer))
        .route("/pupils/{id}/provision", web::get().to(provision::show))
        .route("/pupils/{id}/provision", web::post().to(provision::add))
        .route(
            "/pupils/{id}/provision.csv",
            web::get().to(provision::pupil_csv),
        )
        .route("/provision", web::get().to(provision::map))
        .route("/provision.csv", web::get().to(provision::map_csv))
        .route("/provision/{id}/review", web::post().to(provision::review))
        .route(
            "/pupils/{id}/conversations/new",
            web::get().to(conversation::new),
        )
        .route(
            "/pupils/{id}/conversations",
            web::post().to(conversation::create),
        )
        .route("/pupils/{id}/plan", web::get().to(programme::show_plan))
        .route("/pupils/{id}/plan", web::post().to(programme::save_plan))
        .route(
            "/pupils/{id}/plan/share",
            web::post().to(programme::share_plan),
        )
        .route(
            "/pupils/{id}/programme",
            web::get().to(programme::show_programme),
        )
        .route(
            "/pupils/{id}/programme/blocks",
            web::post().to(programme::plan_block),
        )
        .route(
            "/pupils/{id}/programme/blocks/{block_id}/share",
            web::post().to(programme::share_block),
        )
        .route(
            "/programme/blocks/{id}/review",
            web::post().to(programme::review_block),
        )
        .route("/sessions/{id}", web::get().to(programme::show_session))
        .route("/sessions/{id}", web::post().to(programme::record_session))
        .route("/practitioner", web::get().to(programme::practitioner))
        .route("/admin/behaviours", web::get().to(admin::show))
        .route("/admin/behaviours", web::post().to(admin::add))
        .route("/admin/behaviours/{id}", web::post().to(admin::update))
        .route("/admin/import/preview", web::post().to(import::preview))
        .service(
            web::resource("/admin/import")
                .app_data(web::PayloadConfig::new(import::MAX_PREVIEW_FORM_BYTES))
                .route(web::get().to(import::show))
                .route(web::post().to(import::submit)),
        )
        .route("/admin/staff", web::get().to(staff_admin::list))
        .route("/admin/staff", web::post().to(staff_admin::add))
        .route("/admin/staff/{id}", web::get().to(staff_admin::show))
        .route("/admin/staff/{id}", web::post().to(staff_admin::update))
        .route(
            "/admin/staff/{id}/sign-out",
            web::post().to(staff_admin::sign_out_everywhere),
        )
        .route(
            "/admin/staff/{id}/deactivate",
            web::post().to(staff_admin::deactivate),
        )
        .route(
            "/admin/staff/{id}/reactivate",
            web::post().to(staff_admin::reactivate),
        )
        .route(
            "/admin/staff/{id}/invite",
            web::post().to(staff_admin::invite),
        )
        .route("/admin/timetable", web::get().to(timetable::show))
        .route("/admin/timetable/day", web::post().to(timetable::save_day))
        .route(
            "/admin/timetable/weeks",
            web::post().to(timetable::save_weeks),
        )
        .route("/admin/timetable/reset", web::post().to(timetable::reset))
        .route("/admin/houses", web::get().to(houses::show))
        .route("/admin/houses", web::post().to(houses::add))
        .route("/admin/houses/{id}", web::post().to(houses::rename))
        .route("/admin/houses/{id}/remove", web::post().to(houses::remove))
        .route("/admin/calendar", web::get().to(calendar::show))
        .route("/admin/calendar", web::post().to(calendar::add))
        .route("/admin/calendar/{id}", web::post().to(calendar::update))
        .route(
            "/admin/calendar/{id}/remove",
            web::post().to(calendar::remove),
        )
        .route("/admin/outbox", web::get().to(outbox::list))
        .route("/admin/outbox/{id}", web::get().to(outbox::show))
        .route("/admin/outbox/{id}/resend", web::post().to(outbox::resend))
        .route("/admin/retention", web::get().to(retention::show))
        .route("/admin/retention", web::post().to(retention::save))
        .route(
            "/{kind:incidents|conversations}/{id}/erase",
            web::get().to(erase::form),
        )
        .route(
            "/{kind:incidents|conversations}/{id}/erase",
            web::post().to(erase::erase),
        )
        .route("/admin/audit", web::get().to(audit::show))
        .route("/admin/backups", web::get().to(backups::show))
        .route("/admin/audit.csv", web::get().to(audit::csv))
        .route("/admin/policy", web::get().to(policy::show))
        .route("/admin/policy", web::post().to(policy::submit))
        .route("/insight/ladder", web::get().to(impact::ladder))
        .route("/insight/ladder.csv", web::get().to(impact::ladder_csv))
        .route("/insight/impact", web::get().to(impact::impact))
        .route("/insight/impact.csv", web::get().to(impact::impact_csv));
}

/// Runs `render` with the viewer's details and CSRF token.
pub fn with_viewer<T>(
    member: &StaffMember,
    session: &Session,
    render: impl FnOnce(&Viewer<'_>) -> T,
) -> T {
    with_counted_viewer(member, session, None, render)
}

/// Runs `render` with the viewer's details, CSRF token and the count of decisions waiting
/// (shown next to "Decisions" in the navigation), when the page counted them.
pub fn with_counted_viewer<T>(
    member: &StaffMember,
    session: &Session,
    decisions: Option<i64>,
    render: impl FnOnce(&Viewer<'_>) -> T,
) -> T {
    let csrf = csrf_token(session);
    render(&Viewer {
        member,
        csrf: &csrf,
        decisions,
    })
}
