//! Who may read what about a pupil: one rule for every page, API route and the timeline.
//!
//! The answer depends only on the kind of record, the viewer's roles and the viewer's
//! responsibility for the pupil (leading their year group or house, delivering their
//! programme's sessions). Everyone in the school sees what happened day to day (incidents,
//! conversations, level changes, suggestions, that a meeting is due or booked, SEN status);
//! what is said and planned at the upper levels (meeting records, plans, programmes and their
//! session notes, provision) reaches only those who run that support.

use super::{Level, Role};

/// A kind of record about a pupil (or, for the whole-school map and the audit log, about many).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Record {
    /// An incident and the response given.
    Incident,
    /// A recorded Coaching Conversation.
    Conversation,
    /// A move between levels.
    LevelChange,
    /// A suggested move, open or decided.
    Suggestion,
    /// That a meeting at `level` exists: its level, due day, status and time.
    Meeting { level: Level },
    /// What was recorded at a meeting at `level`: summary, outcome and the structured record.
    MeetingRecord { level: Level },
    /// The Coaching Plan with its earlier versions.
    Plan,
    /// The plan's goals, shown beside the session form for the notes made against them.
    PlanGoals,
    /// The Coaching Programme: its blocks, fidelity and reviews.
    Programme,
    /// A programme session as recorded, with its note.
    Session,
    /// The pupil's provision map (level 6) and its CSV.
    Provision,
    /// The pupil's SEN status.
    SenStatus,
    /// The whole-school provision map and its CSV.
    SchoolProvisionMap,
    /// The audit log of who did and read what.
    AuditLog,
    /// Everything held about a pupil, given out for a subject access request.
    SubjectAccess,
    /// The record sent on to a pupil's next school: details, level, plan, programme, provision.
    TransferRecord,
    /// The pupil's family contacts (names, relationships, emails, phones): read and changed
    /// by the pupil's Head of Year or House, the SENDCO, SLT and the school's admin.
    Contacts,
}

/// Who is asking, as far as the rule cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Viewer<'a> {
    /// Every role the member of staff holds.
    pub roles: &'a [Role],
    /// Whether they are a pastoral lead answering for the pupil (Head of their year or house).
    pub leads_pupil: bool,
    /// Whether they are the practitioner who delivers the programme's sessions.
    pub delivers_sessions: bool,
}

impl Viewer<'_> {
    fn has(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }

    /// SLT, the SENDCO, or the pupil's Head of Year or House: those who run support from
    /// the Coaching Plan up.
    fn runs_upper_support(&self) -> bool {
        self.has(Role::Slt) || self.has(Role::Sendco) || self.leads_pupil
    }
}

/// Whether `viewer` may read `record`.
pub fn may_read(viewer: &Viewer<'_>, record: Record) -> bool {
    match record {
        Record::Incident
        | Record::Conversation
        | Record::LevelChange
        | Record::Suggestion
        | Record::Meeting { .. }
        | Record::SenStatus => !viewer.roles.is_empty(),
        Record::MeetingRecord { level } => {
            viewer.has(Role::Slt)
                || (viewer.has(Role::Sendco) && level >= Level::Plan)
                || viewer.leads_pupil
        }
        Record::Plan | Record::Programme | Record::Provision => viewer.runs_upper_support(),
        Record::Session | Record::PlanGoals => {
            viewer.runs_upper_support() || viewer.delivers_sessions
        }
        Record::SchoolProvisionMap => viewer.has(Role::Slt) || viewer.has(Role::Sendco),
        Record::AuditLog | Record::SubjectAccess => {
            viewer.has(Role::Admin) || viewer.has(Role::Slt)
        }
        Record::TransferRecord => {
            viewer.has(Role::Admin) || viewer.has(Role::Slt) || viewer.has(Role::Sendco)
        }
        Record::Contacts => viewer.runs_upper_support() || viewer.has(Role::Admin),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn viewer(roles: &[Role], leads_pupil: bool, delivers_sessions: bool) -> Viewer<'_> {
        Viewer {
            roles,
            leads_pupil,
            delivers_sessions,
        }
    }

    /// The roles (held alone, leading no one) that may read `record`.
    fn readers(record: Record) -> Vec<Role> {
        Role::ALL
            .into_iter()
            .filter(|role| may_read(&viewer(&[*role], false, false), record))
            .collect()
    }

    #[test]
    fn everyone_sees_day_to_day_records() {
        for record in [
            Record::Incident,
            Record::Conversation,
            Record::LevelChange,
            Record::Suggestion,
            Record::Meeting {
                level: Level::Provision,
            },
            Record::SenStatus,
        ] {
            assert_eq!(readers(record), Role::ALL.to_vec(), "{record:?}");
        }
        assert!(!may_read(&viewer(&[], false, false), Record::Incident));
    }

    #[test]
    fn plans_programmes_and_provision_are_for_those_who_run_them() {
        for record in [Record::Plan, Record::Programme, Record::Provision] {
            assert_eq!(readers(record), vec![Role::Sendco, Role::Slt], "{record:?}");
            assert!(may_read(
                &viewer(&[Role::PastoralLead], true, false),
                record
            ));
            assert!(!may_read(&viewer(&[Role::Specialist], false, true), record));
        }
    }

    #[test]
    fn session_notes_also_reach_their_practitioner() {
        for record in [Record::Session, Record::PlanGoals] {
            assert_eq!(readers(record), vec![Role::Sendco, Role::Slt]);
            assert!(may_read(&viewer(&[Role::Specialist], false, true), record));
            assert!(may_read(
                &viewer(&[Role::PastoralLead], true, false),
                record
            ));
            assert!(!may_read(
                &viewer(&[Role::ClassStaff], false, false),
                record
            ));
        }
    }

    #[test]
    fn meeting_records_follow_who_runs_the_meeting() {
        let time = Record::MeetingRecord { level: Level::Time };
        let plan = Record::MeetingRecord { level: Level::Plan };
        assert_eq!(readers(time), vec![Role::Slt]);
        assert_eq!(readers(plan), vec![Role::Sendco, Role::Slt]);
        assert!(may_read(&viewer(&[Role::PastoralLead], true, false), time));
        assert!(!may_read(
            &viewer(&[Role::PastoralLead], false, false),
            time
        ));
        assert!(!may_read(&viewer(&[Role::Specialist], false, true), plan));
    }

    #[test]
    fn school_wide_records() {
        assert_eq!(
            readers(Record::SchoolProvisionMap),
            vec![Role::Sendco, Role::Slt]
        );
        assert_eq!(readers(Record::AuditLog), vec![Role::Slt, Role::Admin]);
        assert!(!may_read(
            &viewer(&[Role::PastoralLead], true, false),
            Record::SchoolProvisionMap
        ));
    }

    #[test]
    fn records_given_out_of_school() {
        assert_eq!(readers(Record::SubjectAccess), vec![Role::Slt, Role::Admin]);
        assert_eq!(
            readers(Record::TransferRecord),
            vec![Role::Sendco, Role::Slt, Role::Admin]
        );
        // Leading the pupil does not widen who may give their record out.
        for record in [Record::SubjectAccess, Record::TransferRecord] {
            assert!(!may_read(
                &viewer(&[Role::PastoralLead], true, false),
                record
            ));
        }
    }

    #[test]
    fn family_contacts_are_for_those_who_lead_the_pupil_and_the_office() {
        assert_eq!(
            readers(Record::Contacts),
            vec![Role::Sendco, Role::Slt, Role::Admin]
        );
        assert!(may_read(
            &viewer(&[Role::PastoralLead], true, false),
            Record::Contacts
        ));
        assert!(!may_read(
            &viewer(&[Role::PastoralLead], false, false),
            Record::Contacts
        ));
        assert!(!may_read(
            &viewer(&[Role::ClassStaff], false, false),
            Record::Contacts
        ));
        assert!(!may_read(
            &viewer(&[Role::Specialist], false, true),
            Record::Contacts
        ));
    }

    #[test]
    fn roles_add_up() {
        let both = [Role::ClassStaff, Role::Sendco];
        assert!(may_read(&viewer(&both, false, false), Record::Plan));
    }
}
