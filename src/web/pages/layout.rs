//! The page shell every staff page shares: head, navigation, sign-out form and footer.

use maud::{html, Markup, DOCTYPE};

use crate::db::staff::StaffMember;
use crate::domain::programme::Fidelity;
use crate::domain::{Level, Role};
use crate::web::auth::CSRF_FIELD;

/// Who is looking at a page, and the CSRF token their forms must carry.
pub struct Viewer<'a> {
    pub member: &'a StaffMember,
    pub csrf: &'a str,
    /// Open suggestions waiting for the viewer's decision, when the page counted them.
    pub decisions: Option<i64>,
}

/// The hidden field carrying the CSRF token; goes inside every `<form method="post">`.
pub fn csrf_field(token: &str) -> Markup {
    html! { input type="hidden" name=(CSRF_FIELD) value=(token); }
}

fn head(title: &str) -> Markup {
    html! {
        head {
            meta charset="utf-8";
            meta name="viewport" content="width=device-width, initial-scale=1";
            title { (title) " · Steadfast" }
            link rel="stylesheet" href="/static/style.css";
            link rel="manifest" href="/manifest.webmanifest";
            meta name="theme-color" content="#1f5fa8";
        }
    }
}

/// A full page for a signed-in member of staff.
pub fn page(title: &str, viewer: &Viewer<'_>, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en-GB" {
            (head(title))
            body data-staff=(viewer.member.id) {
                header.top {
                    a.brand href="/" { "Steadfast" }
                    nav {
                        a.nav-log href="/log" { "Log" }
                        a href="/" { "Home" }
                        a href="/pupils" { "Pupils" }
                        @if viewer.member.has_any_role(&crate::db::inbox::INBOX_ROLES) { a.nav-decisions href="/inbox" { "Decisions" @if let Some(n) = viewer.decisions { " " span.tag { (n) } } } }
                        @if viewer.member.has_any_role(&super::meetings::MEETING_ROLES) { a href="/meetings" { "Meetings" } }
                        @if viewer.member.has_any_role(&[Role::Specialist, Role::Sendco]) { a href="/practitioner" { "Sessions" } }
                        @if crate::db::provision::may_see_school_map(viewer.member) { a href="/provision" { "Provision" } }
                        @if viewer.member.has_any_role(&[Role::Slt, Role::Sendco, Role::Hod, Role::PastoralLead]) { a href="/insight" { "Insight" } }
                        @if viewer.member.has_role(Role::Admin) { a href="/admin/staff" { "Staff" } a href="/admin/sign-in" { "Sign-in" } a href="/admin/backups" { "Backups" } }
                        @if viewer.member.has_any_role(&[Role::Admin, Role::Slt]) {
                            a href="/admin/behaviours" { "Behaviours" }
                            a href="/admin/policy" { "Policy" }
                            a href="/admin/timetable" { "Timetable" }
                            a href="/admin/houses" { "Houses" }
                            a href="/admin/calendar" { "Calendar" }
                            a href="/admin/outbox" { "Emails" }
                            a href="/admin/retention" { "Retention" }
                        }
                        @if viewer.member.may_read_school(crate::domain::visibility::Record::AuditLog) { a href="/admin/audit" { "Audit" } }
                        @if viewer.member.has_any_role(crate::imports::IMPORTERS) { a href="/admin/import" { "Import" } }
                    }
                    form.signout method="post" action="/logout" {
                        (csrf_field(viewer.csrf))
                        a.who href="/account/email" { (viewer.member.name) }
                        button type="submit" { "Sign out" }
                    }
                }
                main { (body) }
                // Results as you type, and the queue on the device that sends logged prompts
                // when the connection allows (see static/log.js). Every form works without it.
                script src="/static/log.js" defer {}
            }
        }
    }
}

/// A page for someone not signed in (login, getting started).
pub fn public_page(title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en-GB" {
            (head(title))
            body {
                header.top { a.brand href="/" { "Steadfast" } }
                main.narrow { (body) }
            }
        }
    }
}

/// The page shown when a request fails.
pub fn error_page(title: &str, message: &str) -> Markup {
    public_page(
        title,
        html! {
            h1 { (title) }
            p.error { (message) }
            p { a href="/" { "Back to Steadfast" } }
        },
    )
}

/// A level shown as a coloured badge with its number and title.
pub fn level_badge(level: Level) -> Markup {
    html! {
        span class={ "level level-" (level.number()) } title=(level.facts().purpose) {
            @if level == Level::None { "No support level" } @else { (level.number()) " · " (level.title()) }
        }
    }
}

/// A block's fidelity: "7 of 9 delivered (77%)" with its band as a coloured chip, or that no
/// session has been due yet.
pub fn fidelity_summary(fidelity: Fidelity) -> Markup {
    html! {
        @match (fidelity.percent(), fidelity.band()) {
            (Some(percent), Some(band)) => {
                (fidelity.delivered) " of " (fidelity.planned) " delivered (" (percent) "%) "
                span class={ "fidelity fidelity-" (band.as_str()) } { (band.title()) }
            }
            _ => { span.muted { "no sessions due yet" } }
        }
    }
}

/// A level as a small chip with its number only (its title on hover), for lists on a phone.
pub fn level_chip(level: Level) -> Markup {
    html! {
        @if level != Level::None {
            span class={ "level level-" (level.number()) } title=(level.title()) { "L" (level.number()) }
        }
    }
}
