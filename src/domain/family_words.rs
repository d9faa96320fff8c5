//! What families read: each step of support explained in one sentence a parent understands,
//! with no level names or numbers, and the people at a meeting in plain words. Pure.

use super::level::Level;
use super::role::Role;
use super::words::MeetingKind;

/// What a meeting is for, in one or two sentences for the pupil's parent or carer. No level
/// names, no numbers, no staff words.
pub fn meeting_purpose(kind: MeetingKind, given_name: &str) -> String {
    match kind {
        MeetingKind::Level(level) => level_sentence(level, given_name),
        MeetingKind::BlockReview(_) => format!(
            "{given_name} has been having regular short sessions to work on their goals. This meeting looks at how the sessions have gone and agrees what happens next."
        ),
        MeetingKind::PlanningSession => format!(
            "After the school team met about {given_name}, this session plans together, with {given_name} and with you, the support the school and others will give."
        ),
    }
}

/// Each step of support in one sentence a parent understands.
pub fn level_sentence(level: Level, given_name: &str) -> String {
    match level {
        Level::None => format!("{given_name} is not receiving extra support at the moment."),
        Level::Prompt => format!(
            "When {given_name} needs it, an adult gives a quick, kind reminder in the moment to get back on track."
        ),
        Level::Conversation => format!(
            "An adult has a short, calm chat with {given_name} after something has happened, to plan how to manage better next time."
        ),
        Level::Time => format!(
            "A calm, pre-arranged meeting of about half an hour where {given_name} and staff look at what is going well, what is hard, and one thing to work on."
        ),
        Level::Plan => format!(
            "A meeting where you, {given_name} and the school agree a few clear goals and what everyone will do to help {given_name} reach them."
        ),
        Level::Programme => format!(
            "{given_name} has short sessions, at least twice a week for a few weeks, at school or at home, to work on the goals in the plan."
        ),
        Level::Provision => format!(
            "The school brings together the people who can help, and plans with you and {given_name} support designed around {given_name}'s needs."
        ),
    }
}

/// A member of staff's part in the pupil's support, in plain words, from their roles (the most
/// relevant first).
pub fn staff_role_words(roles: &[Role]) -> &'static str {
    let order = [
        (
            Role::PastoralLead,
            "Head of Year (looks after pupils' wellbeing and progress)",
        ),
        (
            Role::Sendco,
            "Special needs co-ordinator (leads support for pupils who need extra help)",
        ),
        (Role::Slt, "Senior leader at the school"),
        (
            Role::Specialist,
            "Support worker who runs sessions with pupils",
        ),
        (Role::Hod, "Head of a subject department"),
        (Role::ClassStaff, "Teacher or teaching assistant"),
    ];
    order
        .iter()
        .find(|(role, _)| roles.contains(role))
        .map(|(_, words)| *words)
        .unwrap_or("Member of staff")
}

/// The words for a guest's role (stored `parent_carer`, `external`, `social_worker`).
pub fn guest_role_words(role: &str) -> &'static str {
    match role {
        "parent_carer" => "Parent or carer",
        "social_worker" => "Social worker",
        _ => "Professional from outside the school",
    }
}

/// Who delivers a home programme's sessions, in plain words, for the page's heading.
pub const HOME_SESSIONS_INTRO: &str = "These are the short sessions planned at home. After each one, please say whether it took place, how long it lasted and anything worth knowing. The school sees what you record.";

/// The plan's parts, headed for a family.
pub const PLAN_INTRO: &str = "This is the plan you agreed with the school: the goals, how we will all know they are reached, and what school and home will each do.";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::level::ProgrammeBlock;

    const LEVEL_WORDS: [&str; 8] = [
        "Coaching",
        "Prompt",
        "Programme",
        "Provision Map",
        "level",
        "Level",
        "SENDCO",
        "HoY",
    ];

    fn plain(text: &str) {
        for word in LEVEL_WORDS {
            assert!(!text.contains(word), "{text:?} says {word:?}");
        }
        assert!(
            !text.chars().any(|c| c.is_ascii_digit()),
            "{text:?} has a number"
        );
    }

    #[test]
    fn each_level_is_one_plain_sentence_about_the_child() {
        for level in [
            Level::None,
            Level::Prompt,
            Level::Conversation,
            Level::Time,
            Level::Plan,
            Level::Programme,
            Level::Provision,
        ] {
            let sentence = level_sentence(level, "Sam");
            plain(&sentence);
            assert!(sentence.contains("Sam"));
            assert!(sentence.ends_with('.'));
            assert_eq!(sentence.matches(". ").count(), 0, "{sentence:?}");
        }
    }

    #[test]
    fn meetings_are_explained_without_staff_words() {
        for kind in [
            MeetingKind::Level(Level::Time),
            MeetingKind::Level(Level::Plan),
            MeetingKind::Level(Level::Provision),
            MeetingKind::BlockReview(ProgrammeBlock::FourWeek),
            MeetingKind::PlanningSession,
        ] {
            let words = meeting_purpose(kind, "Sam");
            plain(&words);
            assert!(words.contains("Sam"));
        }
    }

    #[test]
    fn staff_and_guests_are_named_in_plain_words() {
        assert!(
            staff_role_words(&[Role::ClassStaff, Role::PastoralLead]).starts_with("Head of Year")
        );
        assert!(staff_role_words(&[Role::Sendco]).starts_with("Special needs"));
        assert_eq!(staff_role_words(&[]), "Member of staff");
        plain(staff_role_words(&[Role::Sendco]));
        assert_eq!(guest_role_words("parent_carer"), "Parent or carer");
        assert_eq!(guest_role_words("social_worker"), "Social worker");
        assert_eq!(
            guest_role_words("external"),
            "Professional from outside the school"
        );
        plain(HOME_SESSIONS_INTRO);
        plain(PLAN_INTRO);
    }
}
