//! A pupil's family contacts: the people the family names to the school (a mother, a carer, a
//! social worker), each with a relationship from a fixed list, an email and a phone number,
//! and whether they are invited to the pupil's meetings. Read once at the edge (a page's form,
//! the API, a roster import), trusted after.

use super::details::{refuse, DetailError, EmailAddress, PersonName};

/// Most contacts kept for one pupil.
pub const MAX_CONTACTS: usize = 10;

/// Who a contact is to the pupil.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Relationship {
    Mother,
    Father,
    Parent,
    StepParent,
    Carer,
    Grandparent,
    Guardian,
    FosterCarer,
    Sibling,
    OtherRelative,
    SocialWorker,
    Other,
}

impl Relationship {
    /// Every relationship, in the order a form offers them.
    pub const ALL: [Relationship; 12] = [
        Relationship::Mother,
        Relationship::Father,
        Relationship::Parent,
        Relationship::StepParent,
        Relationship::Carer,
        Relationship::Grandparent,
        Relationship::Guardian,
        Relationship::FosterCarer,
        Relationship::Sibling,
        Relationship::OtherRelative,
        Relationship::SocialWorker,
        Relationship::Other,
    ];

    /// The stored and API name.
    pub fn as_str(self) -> &'static str {
        match self {
            Relationship::Mother => "mother",
            Relationship::Father => "father",
            Relationship::Parent => "parent",
            Relationship::StepParent => "step_parent",
            Relationship::Carer => "carer",
            Relationship::Grandparent => "grandparent",
            Relationship::Guardian => "guardian",
            Relationship::FosterCarer => "foster_carer",
            Relationship::Sibling => "sibling",
            Relationship::OtherRelative => "other_relative",
            Relationship::SocialWorker => "social_worker",
            Relationship::Other => "other",
        }
    }

    /// How the pages name it.
    pub fn title(self) -> &'static str {
        match self {
            Relationship::Mother => "Mother",
            Relationship::Father => "Father",
            Relationship::Parent => "Parent",
            Relationship::StepParent => "Step-parent",
            Relationship::Carer => "Carer",
            Relationship::Grandparent => "Grandparent",
            Relationship::Guardian => "Guardian",
            Relationship::FosterCarer => "Foster carer",
            Relationship::Sibling => "Brother or sister",
            Relationship::OtherRelative => "Other relative",
            Relationship::SocialWorker => "Social worker",
            Relationship::Other => "Other",
        }
    }

    /// Reads a stored, API or form name (`foster_carer`), or its title (`Foster carer`).
    pub fn parse(raw: &str) -> Result<Self, DetailError> {
        let key = normalise(raw);
        Relationship::ALL
            .into_iter()
            .find(|r| r.as_str() == key || normalise(r.title()) == key)
            .ok_or_else(|| {
                refuse(
                    "relationship",
                    format!(
                        "must be one of {}",
                        Relationship::ALL.map(Relationship::as_str).join(", ")
                    ),
                )
            })
    }

    /// Reads the relationship a school's export gives (SIMS, Arbor and Bromcom each spell them
    /// their own way: `Mum`, `Step Father`, `Grandmother`, `Aunt`): the fixed list's names and
    /// the common words for them; any other plain words read as [`Relationship::Other`]. A
    /// blank cell is [`Relationship::Other`] too. Control or invisible characters, markup, or
    /// more than 50 characters are refused.
    pub fn read_export(raw: &str) -> Result<Self, DetailError> {
        let text = raw.trim();
        if text.chars().count() > 50 {
            return Err(refuse("relationship", "must be at most 50 characters"));
        }
        if text.chars().any(|c| c.is_control() || c == '<' || c == '>') {
            return Err(refuse(
                "relationship",
                "must be plain words such as Mother or Carer",
            ));
        }
        if !text.is_empty() {
            // The one check of hidden formatting characters, as in a name.
            PersonName::parse("relationship", text)?;
        }
        if let Ok(known) = Relationship::parse(text) {
            return Ok(known);
        }
        let key = normalise(text);
        Ok(match key.as_str() {
            "mum" | "mom" | "mummy" | "birth_mother" | "natural_mother" | "adoptive_mother" => {
                Relationship::Mother
            }
            "dad" | "daddy" | "birth_father" | "natural_father" | "adoptive_father" => {
                Relationship::Father
            }
            "parents" | "adoptive_parent" | "birth_parent" => Relationship::Parent,
            "step_mother" | "stepmother" | "step_father" | "stepfather" | "stepparent"
            | "step_mum" | "step_dad" => Relationship::StepParent,
            "grandmother" | "grandfather" | "grandma" | "grandad" | "granddad" | "nan" | "nana"
            | "grandparents" => Relationship::Grandparent,
            "legal_guardian" | "special_guardian" => Relationship::Guardian,
            "foster_parent" | "foster_mother" | "foster_father" | "foster_carer_(lea)" => {
                Relationship::FosterCarer
            }
            "brother" | "sister" | "step_brother" | "step_sister" | "half_brother"
            | "half_sister" => Relationship::Sibling,
            "aunt"
            | "uncle"
            | "cousin"
            | "relative"
            | "other_relation"
            | "other_family_member"
            | "family_member" => Relationship::OtherRelative,
            "social_care_worker" | "caseworker" | "case_worker" => Relationship::SocialWorker,
            "carers" | "kinship_carer" | "residential_carer" | "childminder" => Relationship::Carer,
            _ => Relationship::Other,
        })
    }

    /// Whether a contact of this relationship is a parent or carer when invited to a meeting
    /// (a social worker is asked as a social worker).
    pub fn is_family(self) -> bool {
        !matches!(self, Relationship::SocialWorker | Relationship::Other)
    }
}

/// Lower case, spaces and dashes as underscores, for matching a relationship's name.
fn normalise(raw: &str) -> String {
    raw.trim()
        .to_lowercase()
        .split(|c: char| c.is_whitespace() || c == '-' || c == '_')
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join("_")
}

/// A telephone number as written: digits, spaces, a leading `+`, brackets and dashes, with 7
/// to 20 digits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Phone(String);

impl Phone {
    /// Reads a phone number; runs of spaces become one.
    pub fn parse(raw: &str) -> Result<Self, DetailError> {
        let phone = raw.split_whitespace().collect::<Vec<_>>().join(" ");
        let allowed = phone.chars().enumerate().all(|(i, c)| {
            c.is_ascii_digit() || matches!(c, ' ' | '(' | ')' | '-') || (c == '+' && i == 0)
        });
        let digits = phone.chars().filter(char::is_ascii_digit).count();
        if !allowed || !(7..=20).contains(&digits) {
            return Err(refuse(
                "phone",
                "must be a phone number of 7 to 20 digits, such as 01632 960123 or +44 7700 900123",
            ));
        }
        Ok(Phone(phone))
    }

    /// The number as stored and shown.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A contact as checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contact {
    pub name: PersonName,
    pub relationship: Relationship,
    pub email: Option<EmailAddress>,
    pub phone: Option<Phone>,
    /// Whether the contact is invited to the pupil's meetings.
    pub invited: bool,
}

/// A contact as typed (a form, the API) or read from a file, before it is checked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContactDraft {
    pub name: String,
    pub relationship: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub invited: bool,
}

/// A blank or missing optional cell.
fn given(raw: Option<&str>) -> Option<&str> {
    raw.map(str::trim).filter(|text| !text.is_empty())
}

impl Contact {
    /// Checks a contact typed into a form or sent to the API: the relationship is one of
    /// [`Relationship::ALL`]. The first problem found names its field (`name`,
    /// `relationship`, `email`, `phone`).
    pub fn parse(draft: &ContactDraft) -> Result<Self, DetailError> {
        Self::checked(draft, Relationship::parse)
    }

    /// Checks a contact read from a school's export: the relationship as the export spells it
    /// ([`Relationship::read_export`]).
    pub fn read_export(draft: &ContactDraft) -> Result<Self, DetailError> {
        Self::checked(draft, Relationship::read_export)
    }

    fn checked(
        draft: &ContactDraft,
        relationship: fn(&str) -> Result<Relationship, DetailError>,
    ) -> Result<Self, DetailError> {
        let name = PersonName::parse("name", &draft.name)?;
        let relationship = relationship(&draft.relationship)?;
        let email = given(draft.email.as_deref())
            .map(EmailAddress::parse)
            .transpose()?;
        let phone = given(draft.phone.as_deref())
            .map(Phone::parse)
            .transpose()?;
        Ok(Contact {
            name,
            relationship,
            email,
            phone,
            invited: draft.invited,
        })
    }
}

impl Relationship {
    /// Whether a contact of this relationship is invited to the pupil's meetings when a
    /// roster import brings them in: parents, step-parents, carers, guardians and foster
    /// carers (staff can change it on the pupil's contacts page).
    pub fn invited_by_default(self) -> bool {
        matches!(
            self,
            Relationship::Mother
                | Relationship::Father
                | Relationship::Parent
                | Relationship::StepParent
                | Relationship::Carer
                | Relationship::Guardian
                | Relationship::FosterCarer
        )
    }
}

/// What a roster import compares of a contact: everything but whether they are invited
/// (which staff may have changed, and an import keeps).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContactFacts {
    pub name: String,
    /// The stored name of the relationship, such as `mother`.
    pub relationship: String,
    pub email: Option<String>,
    pub phone: Option<String>,
}

impl Contact {
    /// What an import compares of the contact.
    pub fn facts(&self) -> ContactFacts {
        ContactFacts {
            name: self.name.as_str().to_string(),
            relationship: self.relationship.as_str().to_string(),
            email: self.email.as_ref().map(|e| e.as_str().to_string()),
            phone: self.phone.as_ref().map(|p| p.as_str().to_string()),
        }
    }
}

/// A pupil's contacts in a line, for an import's list of changes: each one's name,
/// relationship, email and phone, separated by semicolons (blank when there are none).
pub fn describe(contacts: &[ContactFacts]) -> String {
    contacts
        .iter()
        .map(|c| {
            let mut parts = vec![c.name.clone(), c.relationship.replace('_', " ")];
            parts.extend(c.email.clone());
            parts.extend(c.phone.clone());
            parts.join(", ")
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// Checks the contacts kept for one pupil: at most [`MAX_CONTACTS`].
pub fn check_count(count: usize) -> Result<(), DetailError> {
    if count > MAX_CONTACTS {
        return Err(refuse(
            "contacts",
            format!("a pupil has at most {MAX_CONTACTS} contacts"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn draft(name: &str, relationship: &str, email: &str, phone: &str) -> ContactDraft {
        ContactDraft {
            name: name.into(),
            relationship: relationship.into(),
            email: Some(email.into()),
            phone: Some(phone.into()),
            invited: true,
        }
    }

    #[test]
    fn a_whole_contact_is_read() {
        let contact = Contact::parse(&draft(
            " Ana Silva ",
            "mother",
            "Ana.Silva@Example.org",
            "+44 (0)1632  960-123",
        ))
        .unwrap();
        assert_eq!(contact.name.as_str(), "Ana Silva");
        assert_eq!(contact.relationship, Relationship::Mother);
        assert_eq!(
            contact.email.as_ref().map(EmailAddress::as_str),
            Some("ana.silva@example.org")
        );
        assert_eq!(
            contact.phone.as_ref().map(Phone::as_str),
            Some("+44 (0)1632 960-123")
        );
        assert!(contact.invited);
    }

    #[test]
    fn email_and_phone_may_be_left_out() {
        let contact = Contact::parse(&draft("Sam Lee", "Foster carer", " ", "")).unwrap();
        assert_eq!(contact.relationship, Relationship::FosterCarer);
        assert_eq!(contact.email, None);
        assert_eq!(contact.phone, None);
    }

    #[test]
    fn each_problem_names_its_field() {
        let field = |d: ContactDraft| Contact::parse(&d).unwrap_err().field;
        assert_eq!(field(draft(" ", "mother", "", "")), "name");
        assert_eq!(field(draft("A\u{202E}B", "mother", "", "")), "name");
        assert_eq!(field(draft("Ana", "aunt", "", "")), "relationship");
        assert_eq!(field(draft("Ana", "mother", "not-an-email", "")), "email");
        assert_eq!(field(draft("Ana", "mother", "", "123")), "phone");
        assert_eq!(field(draft("Ana", "mother", "", "0161 abc 1234")), "phone");
        assert_eq!(field(draft("Ana", "mother", "", "01632 9601+23")), "phone");
        assert_eq!(
            field(draft("Ana", "mother", "", "123456789012345678901")),
            "phone"
        );
    }

    #[test]
    fn invisible_characters_in_a_name_are_refused() {
        let err = Contact::parse(&draft("Ana\u{200B}", "mother", "", "")).unwrap_err();
        assert!(err.message.contains("invisible"), "{}", err.message);
    }

    #[test]
    fn exports_spell_relationships_their_own_way() {
        for (raw, expected) in [
            ("Mother", Relationship::Mother),
            ("Mum", Relationship::Mother),
            ("Step Father", Relationship::StepParent),
            ("Grandmother", Relationship::Grandparent),
            ("Aunt", Relationship::OtherRelative),
            ("Foster Carer", Relationship::FosterCarer),
            ("Social Worker", Relationship::SocialWorker),
            ("Family Friend", Relationship::Other),
            ("", Relationship::Other),
            ("guardian", Relationship::Guardian),
        ] {
            assert_eq!(Relationship::read_export(raw), Ok(expected), "{raw}");
        }
        assert!(Relationship::read_export("<b>Mum</b>").is_err());
        assert!(Relationship::read_export("Mum\u{202E}").is_err());
        assert!(Relationship::read_export(&"a".repeat(51)).is_err());
    }

    #[test]
    fn every_relationship_reads_back_from_its_name_and_title() {
        for relationship in Relationship::ALL {
            assert_eq!(Relationship::parse(relationship.as_str()), Ok(relationship));
            assert_eq!(Relationship::parse(relationship.title()), Ok(relationship));
        }
    }

    #[test]
    fn a_pupil_has_at_most_ten_contacts() {
        assert!(check_count(MAX_CONTACTS).is_ok());
        assert_eq!(check_count(MAX_CONTACTS + 1).unwrap_err().field, "contacts");
    }
}
