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

/// One place in the menu: where it goes and what it is called.
struct Place {
    href: &'static str,
    name: &'static str,
}

impl Place {
    const fn new(href: &'static str, name: &'static str) -> Place {
        Place { href, name }
    }
}

/// Every place `member` may go, in the order of the full menu.
fn places(member: &StaffMember) -> Vec<Place> {
    let mut places = vec![
        Place::new("/log", "Log"),
        Place::new("/", "Home"),
        Place::new("/pupils", "Pupils"),
    ];
    if member.has_any_role(&crate::db::inbox::INBOX_ROLES) {
        places.push(Place::new("/inbox", "Decisions"));
    }
    if member.has_any_role(&super::meetings::MEETING_ROLES) {
        places.push(Place::new("/meetings", "Meetings"));
    }
    if member.has_any_role(&[Role::Specialist, Role::Sendco]) {
        places.push(Place::new("/practitioner", "Sessions"));
    }
    if crate::db::provision::may_see_school_map(member) {
        places.push(Place::new("/provision", "Provision"));
    }
    if member.has_any_role(&[Role::Slt, Role::Sendco, Role::Hod, Role::PastoralLead]) {
        places.push(Place::new("/insight", "Insight"));
    }
    if member.has_role(Role::Admin) {
        places.extend([
            Place::new("/admin/staff", "Staff"),
            Place::new("/admin/sign-in", "Sign-in"),
            Place::new("/admin/school", "School details"),
            Place::new("/admin/backups", "Backups"),
        ]);
    }
    if member.has_any_role(&[Role::Admin, Role::Slt]) {
        places.extend([
            Place::new("/admin/behaviours", "Behaviours"),
            Place::new("/admin/policy", "Policy"),
            Place::new("/admin/timetable", "Timetable"),
            Place::new("/admin/houses", "Houses"),
            Place::new("/admin/calendar", "Calendar"),
            Place::new("/admin/outbox", "Emails"),
            Place::new("/admin/retention", "Retention"),
        ]);
    }
    if member.may_read_school(crate::domain::visibility::Record::AuditLog) {
        places.push(Place::new("/admin/audit", "Audit"));
    }
    if member.has_any_role(crate::imports::IMPORTERS) {
        places.push(Place::new("/admin/import", "Import"));
    }
    places
}

/// The three places a member's day starts from, by their most specific role: a phone shows
/// them in the compact bar and keeps the rest under "Menu".
pub fn first_places(roles: &[Role]) -> [&'static str; 3] {
    let has = |role| roles.contains(&role);
    if has(Role::Slt) {
        ["/insight", "/inbox", "/pupils"]
    } else if has(Role::Sendco) {
        ["/inbox", "/provision", "/practitioner"]
    } else if has(Role::PastoralLead) {
        ["/inbox", "/meetings", "/pupils"]
    } else if has(Role::Specialist) {
        ["/practitioner", "/log", "/pupils"]
    } else if has(Role::Hod) {
        ["/log", "/insight", "/pupils"]
    } else if has(Role::Admin) {
        ["/", "/admin/staff", "/admin/import"]
    } else {
        ["/log", "/", "/pupils"]
    }
}

/// The menu's places split in two: the member's first three places (the compact bar), then
/// the rest in menu order.
fn bar_and_rest(member: &StaffMember) -> (Vec<Place>, Vec<Place>) {
    let mut rest = places(member);
    let mut bar = Vec::new();
    for href in first_places(&member.roles) {
        if let Some(at) = rest.iter().position(|place| place.href == href) {
            bar.push(rest.remove(at));
        }
    }
    (bar, rest)
}

/// One link of the menu; the logging page and the decisions (with their count) stand out.
fn place_link(place: &Place, viewer: &Viewer<'_>) -> Markup {
    let class = match place.href {
        "/log" => Some("nav-log"),
        "/inbox" => Some("nav-decisions"),
        _ => None,
    };
    html! {
        a class=[class] href=(place.href) {
            (place.name)
            @if place.href == "/inbox" { @if let Some(n) = viewer.decisions { " " span.tag { (n) } } }
        }
    }
}

/// A full page for a signed-in member of staff. The menu is a compact bar of the member's
/// first three places and a "Menu" disclosure for the rest (no script needed); wider screens
/// show every place in one row.
pub fn page(title: &str, viewer: &Viewer<'_>, body: Markup) -> Markup {
    let (bar, rest) = bar_and_rest(viewer.member);
    html! {
        (DOCTYPE)
        html lang="en-GB" {
            (head(title))
            body data-staff=(viewer.member.id) {
                a.skip-link href="#main" { "Skip to the page" }
                header.top {
                    a.brand href="/" { "Steadfast" }
                    form.signout method="post" action="/logout" {
                        (csrf_field(viewer.csrf))
                        a.who href="/account/email" { (viewer.member.name) }
                        button type="submit" { "Sign out" }
                    }
                    nav {
                        @for place in &bar { (place_link(place, viewer)) }
                        @if !rest.is_empty() {
                            details.more {
                                summary { "Menu" }
                                div.more-places { @for place in &rest { (place_link(place, viewer)) } }
                            }
                        }
                    }
                }
                main id="main" { (body) }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_role_starts_from_its_own_three_places() {
        assert_eq!(first_places(&[Role::ClassStaff]), ["/log", "/", "/pupils"]);
        assert_eq!(
            first_places(&[Role::ClassStaff, Role::PastoralLead]),
            ["/inbox", "/meetings", "/pupils"]
        );
        assert_eq!(first_places(&[Role::Slt])[0], "/insight");
        assert_eq!(first_places(&[Role::Sendco])[0], "/inbox");
        assert_eq!(first_places(&[Role::Specialist])[0], "/practitioner");
        assert_eq!(first_places(&[Role::Admin])[1], "/admin/staff");
    }
}
