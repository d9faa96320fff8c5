//! Who takes part in a meeting, on its booking form: staff suggested for the pupil first, the
//! rest found by name (a search that re-renders the list without JavaScript and filters it in
//! place with it), and each kind of guest in a fieldset of their own.

use maud::{html, Markup};

use super::MeetingPage;
use crate::db::meetings::GuestRole;
use crate::db::staff::StaffMember;
use crate::domain::meeting::name_matches;
use crate::domain::Level;
use crate::web::pages::form::Form;

/// The guests a meeting form names, one of each kind: role, name field and email field (the
/// social worker is asked for at Bespoke Provision Map meetings only).
pub const GUEST_FIELDS: [(GuestRole, &str, &str); 3] = [
    (GuestRole::ParentCarer, "parent_name", "parent_email"),
    (GuestRole::External, "external_name", "external_email"),
    (
        GuestRole::SocialWorker,
        "social_worker_name",
        "social_worker_email",
    ),
];

/// Most of the pupil's family contacts offered as guests on one booking form.
pub const MAX_FAMILY_GUESTS: usize = 10;

/// The field `part` (`name`, `email`, `invited`) of the booking form's `i`th family guest: a
/// parent or carer from the pupil's contacts.
pub fn family_field(i: usize, part: &str) -> String {
    format!("family_{part}_{i}")
}

/// The family guests the form holds (the pupil's invited contacts on a fresh booking): each
/// ticked to invite, with name and email to change; untick to leave them out.
fn family_fieldsets(form: &Form) -> Markup {
    let values = &form.values;
    let shown: Vec<usize> = (0..MAX_FAMILY_GUESTS)
        .take_while(|i| {
            let name = family_field(*i, "name");
            values.pairs().any(|(field, _)| *field == name)
        })
        .collect();
    html! {
        @for i in shown {
            @let (name, email, invited) = (family_field(i, "name"), family_field(i, "email"), family_field(i, "invited"));
            fieldset.guest.family id={ "guest-family-" (i) } {
                legend { "Parent or carer, from the pupil's contacts" }
                label.choice {
                    input type="checkbox" name=(invited) checked[values.get(&invited).is_some()];
                    " Invite " (values.raw(&name))
                }
                label for=(name) { "Name" }
                input id=(name) type="text" name=(name) maxlength="100" value=(values.raw(&name));
                (form.problem_at(&name))
                label for=(email) { "Email, for the invitation" }
                input id=(email) type="email" name=(email) maxlength="254" value=(values.raw(&email));
                (form.problem_at(&email))
            }
        }
    }
}

/// The field of the booking form that finds staff by name.
pub const STAFF_SEARCH: &str = "staff_search";

/// One member of staff to tick, with why they are listed.
fn staff_choice(member: &StaffMember, ticked: bool, why: &str) -> Markup {
    html! {
        label.choice data-name=(member.name) {
            input type="checkbox" name="participant_ids" value=(member.id) checked[ticked];
            " " (member.name)
            @if !why.is_empty() { span.muted { " · " (why) } }
        }
    }
}

/// The roles a member holds, as they read beside their name.
fn roles_text(member: &StaffMember) -> String {
    member
        .roles
        .iter()
        .map(|role| role.title())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The staff part of the booking form: suggested staff, anyone else already ticked, and a
/// search for the rest.
pub fn staff_picker(data: &MeetingPage, form: &Form) -> Markup {
    let values = &form.values;
    let invited = values.ids_lenient("participant_ids");
    let search = values.raw(STAFF_SEARCH).trim();
    let member_of = |id: i64| data.staff.iter().find(|s| s.id == id);
    let suggested: Vec<(&StaffMember, String)> = data
        .suggested
        .iter()
        .filter_map(|s| {
            let why: Vec<String> = s.reasons.iter().map(|r| r.text()).collect();
            Some((member_of(s.staff_id)?, why.join(", ")))
        })
        .collect();
    let is_suggested = |id: i64| suggested.iter().any(|(m, _)| m.id == id);
    let also_ticked: Vec<&StaffMember> = data
        .staff
        .iter()
        .filter(|m| invited.contains(&m.id) && !is_suggested(m.id))
        .collect();
    let others: Vec<&StaffMember> = data
        .staff
        .iter()
        .filter(|m| !invited.contains(&m.id) && !is_suggested(m.id))
        .filter(|m| name_matches(&m.name, search))
        .collect();
    let meeting_id = data.view.meeting.id;
    html! {
        fieldset #staff {
            legend { "Staff taking part" }
            @if !suggested.is_empty() {
                p.hint { "Suggested for this pupil:" }
                @for (member, why) in &suggested {
                    (staff_choice(member, invited.contains(&member.id), why))
                }
            }
            @for member in &also_ticked { (staff_choice(member, true, &roles_text(member))) }
            label for=(STAFF_SEARCH) { "Find someone else by name" }
            div.search-row {
                input #staff_search type="search" name=(STAFF_SEARCH) value=(search)
                    autocomplete="off" data-filters="staff-others";
                button type="submit" formmethod="get" formaction={ "/meetings/" (meeting_id) }
                    formnovalidate name="step" value="book" { "Find" }
            }
            details #staff-others open[!search.is_empty()] {
                summary {
                    @if search.is_empty() { "Everyone else (" (others.len()) ")" }
                    @else { "Staff called \u{201c}" (search) "\u{201d} (" (others.len()) ")" }
                }
                @if others.is_empty() { p.muted { "Nobody else by that name." } }
                @for member in &others { (staff_choice(member, false, &roles_text(member))) }
            }
            (form.problem_at("participant_ids"))
        }
    }
}

/// One fieldset for each kind of guest the meeting may have.
pub fn guest_fieldsets(data: &MeetingPage, form: &Form) -> Markup {
    let values = &form.values;
    let provision = data.view.meeting.level == Level::Provision.number();
    html! {
        (family_fieldsets(form))
        @for (role, name, email) in GUEST_FIELDS {
            @if provision || role != GuestRole::SocialWorker {
                fieldset.guest id={ "guest-" (role.as_str()) } {
                    legend { (role.title()) " (optional)" }
                    @if role == GuestRole::ParentCarer {
                        label.choice {
                            input type="checkbox" name="parent_invited" checked[values.get("parent_invited").is_some()];
                            " A parent or carer is invited"
                        }
                    }
                    label for=(name) { "Name" }
                    input id=(name) type="text" name=(name) maxlength="100" value=(values.raw(name));
                    (form.problem_at(name))
                    label for=(email) { "Email, for the invitation" }
                    input id=(email) type="email" name=(email) maxlength="254" value=(values.raw(email));
                    (form.problem_at(email))
                }
            }
        }
        (form.problem_at("guests"))
    }
}
