//! Staff roles, as far as the domain rules care about them.

use serde::{Deserialize, Serialize};

/// The job a member of staff does in school, which decides what they may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Teachers and teaching assistants.
    ClassStaff,
    /// Head of Year or Head of House, responsible for year groups or houses.
    PastoralLead,
    /// Head of Department.
    Hod,
    /// Special Educational Needs and Disabilities Co-ordinator.
    Sendco,
    /// Member of the Senior Leadership Team.
    Slt,
    /// Specialist practitioner who delivers programme sessions.
    Specialist,
    /// Administrator of the system.
    Admin,
}

/// Why a role could not be read from text.
#[derive(thiserror::Error, Debug, Clone, PartialEq, Eq)]
pub enum RoleError {
    /// The text is not one of the role names.
    #[error("unknown role {0:?}: expected one of class_staff, pastoral_lead, hod, sendco, slt, specialist, admin")]
    Unknown(String),
}

impl Role {
    /// Every role, in a fixed order for menus.
    pub const ALL: [Role; 7] = [
        Role::ClassStaff,
        Role::PastoralLead,
        Role::Hod,
        Role::Sendco,
        Role::Slt,
        Role::Specialist,
        Role::Admin,
    ];

    /// The stable snake_case name used in storage and forms.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::ClassStaff => "class_staff",
            Role::PastoralLead => "pastoral_lead",
            Role::Hod => "hod",
            Role::Sendco => "sendco",
            Role::Slt => "slt",
            Role::Specialist => "specialist",
            Role::Admin => "admin",
        }
    }

    /// The role with the given name; surrounding spaces and letter case are ignored.
    pub fn parse(s: &str) -> Result<Role, RoleError> {
        let wanted = s.trim();
        Role::ALL
            .iter()
            .copied()
            .find(|role| role.as_str().eq_ignore_ascii_case(wanted))
            .ok_or_else(|| RoleError::Unknown(s.to_string()))
    }

    /// The role's display title.
    pub fn title(self) -> &'static str {
        match self {
            Role::ClassStaff => "Class staff",
            Role::PastoralLead => "Pastoral lead (Head of Year)",
            Role::Hod => "Head of Department",
            Role::Sendco => "SENDCO",
            Role::Slt => "Senior leadership (SLT)",
            Role::Specialist => "Specialist practitioner",
            Role::Admin => "Administrator",
        }
    }

    /// Whether this role may move a pupil to any level by an explicit override (SENDCO and SLT).
    pub fn can_override_gates(self) -> bool {
        matches!(self, Role::Sendco | Role::Slt)
    }
}

impl std::fmt::Display for Role {
    /// Writes the role's title.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.title())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for role in Role::ALL {
            assert_eq!(Role::parse(role.as_str()), Ok(role));
            assert!(!role.title().is_empty());
        }
        assert_eq!(Role::parse(" SLT "), Ok(Role::Slt));
        assert_eq!(
            Role::parse("head").unwrap_err().to_string(),
            "unknown role \"head\": expected one of class_staff, pastoral_lead, hod, sendco, slt, specialist, admin"
        );
    }

    #[test]
    fn only_sendco_and_slt_override() {
        let allowed: Vec<Role> = Role::ALL
            .into_iter()
            .filter(|r| r.can_override_gates())
            .collect();
        assert_eq!(allowed, vec![Role::Sendco, Role::Slt]);
    }

    #[test]
    fn titles() {
        assert_eq!(Role::ClassStaff.title(), "Class staff");
        assert_eq!(Role::PastoralLead.title(), "Pastoral lead (Head of Year)");
    }

    #[test]
    fn serde_uses_names() {
        assert_eq!(
            serde_json::to_string(&Role::PastoralLead).unwrap(),
            "\"pastoral_lead\""
        );
    }
}
