//! School, pupil and staff details as checked values: parsed once at the edge, trusted after.

use std::fmt;

/// Why a pupil's or staff member's detail was refused; names the field at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct DetailError {
    pub field: &'static str,
    pub message: String,
}

/// A refusal of the named field.
pub(crate) fn refuse(field: &'static str, message: impl Into<String>) -> DetailError {
    DetailError {
        field,
        message: message.into(),
    }
}

/// How far in the past an incident or conversation may be recorded (staff catch up after a
/// busy week).
pub const MAX_BACKDATE_DAYS: i64 = 30;
/// Clock drift tolerated for a time "in the future" (phones' clocks differ a little).
const FUTURE_TOLERANCE_MINUTES: i64 = 5;

/// Trims an optional free text; blank becomes `None`; longer than `max` characters, or with
/// control characters other than line breaks and tabs, is refused.
pub fn optional_text(
    field: &'static str,
    raw: Option<&str>,
    max: usize,
) -> Result<Option<String>, DetailError> {
    let Some(text) = raw.map(str::trim).filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    if text.chars().count() > max {
        return Err(refuse(field, format!("must be at most {max} characters")));
    }
    if text
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t')
    {
        return Err(refuse(field, "must not contain control characters"));
    }
    Ok(Some(text.to_string()))
}

/// When something happened: `now` when not given; not in the future, nor more than
/// [`MAX_BACKDATE_DAYS`] ago.
pub fn recorded_time(
    field: &'static str,
    given: Option<chrono::DateTime<chrono::Utc>>,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<chrono::DateTime<chrono::Utc>, DetailError> {
    let at = given.unwrap_or(now);
    if at > now + chrono::TimeDelta::minutes(FUTURE_TOLERANCE_MINUTES) {
        return Err(refuse(field, "is in the future"));
    }
    if at < now - chrono::TimeDelta::days(MAX_BACKDATE_DAYS) {
        return Err(refuse(
            field,
            format!("is more than {MAX_BACKDATE_DAYS} days ago"),
        ));
    }
    Ok(at)
}

/// Checks a list of ids: at most `max`, none named twice.
pub fn distinct_ids(
    field: &'static str,
    ids: &[i64],
    max: usize,
    what: &str,
) -> Result<Vec<i64>, DetailError> {
    if ids.len() > max {
        return Err(refuse(field, format!("at most {max} {what}s")));
    }
    let mut seen = ids.to_vec();
    seen.sort_unstable();
    if seen.windows(2).any(|w| w[0] == w[1]) {
        return Err(refuse(field, format!("a {what} is named twice")));
    }
    Ok(ids.to_vec())
}

/// A Unique Pupil Number: a letter, eleven digits, and a final digit or letter (13 characters).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Upn(String);

impl Upn {
    /// Reads a UPN, ignoring surrounding spaces and letter case.
    pub fn parse(raw: &str) -> Result<Self, DetailError> {
        let upn = raw.trim().to_ascii_uppercase();
        let chars: Vec<char> = upn.chars().collect();
        let well_formed = chars.len() == 13
            && chars[0].is_ascii_uppercase()
            && chars[1..12].iter().all(|c| c.is_ascii_digit())
            && chars[12].is_ascii_alphanumeric();
        if !well_formed {
            return Err(refuse(
                "upn",
                "a UPN is 13 characters: a letter, 11 digits, then a digit or letter",
            ));
        }
        Ok(Upn(upn))
    }

    /// The UPN as stored and shown.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Whether a character changes how the text around it is shown without being seen itself:
/// the bidirectional embeddings, overrides, isolates and marks (U+202A-U+202E,
/// U+2066-U+2069, U+200E, U+200F, U+061C) and the zero-width characters (U+200B-U+200D,
/// U+2060, U+FEFF). In a name they can make it read as someone else's.
fn is_hidden_formatting(c: char) -> bool {
    matches!(
        c,
        '\u{202A}'..='\u{202E}'
            | '\u{2066}'..='\u{2069}'
            | '\u{200B}'..='\u{200F}'
            | '\u{061C}'
            | '\u{2060}'
            | '\u{FEFF}'
    )
}

/// A person's name (a pupil's given or family name, a member of staff's, a meeting guest's):
/// trimmed, 1 to 100 characters, no control characters and no hidden formatting characters
/// (see [`is_hidden_formatting`]).
///
/// The zero-width joiner and non-joiner (U+200D, U+200C) are refused too, although some
/// Persian and Indic names use them to choose a letter's form: a name still reads correctly
/// without them, and with them two names that look the same can differ.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonName(String);

impl PersonName {
    /// Reads a name for the named field: the one check of every person's name stored.
    pub fn parse(field: &'static str, raw: &str) -> Result<Self, DetailError> {
        let name = raw.trim();
        if name.is_empty() {
            return Err(refuse(field, "is required"));
        }
        if name.chars().count() > 100 {
            return Err(refuse(field, "must be at most 100 characters"));
        }
        if name.chars().any(char::is_control) {
            return Err(refuse(field, "must not contain control characters"));
        }
        if name.chars().any(is_hidden_formatting) {
            return Err(refuse(
                field,
                "must not contain invisible characters (text direction or zero-width)",
            ));
        }
        Ok(PersonName(name.to_string()))
    }

    /// The name as stored and shown.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A national curriculum year: 0 (Reception) to 14.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct YearNumber(i16);

impl YearNumber {
    /// Checks a year number.
    pub fn new(year: i64) -> Result<Self, DetailError> {
        match i16::try_from(year) {
            Ok(y) if (0..=14).contains(&y) => Ok(YearNumber(y)),
            _ => Err(refuse(
                "year",
                format!("must be a year from 0 to 14, got {year}"),
            )),
        }
    }

    /// The year as a number.
    pub fn get(self) -> i16 {
        self.0
    }
}

impl fmt::Display for YearNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Year {}", self.0)
    }
}

/// A tutor group's name, such as `7A`: 1 to 20 characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormName(String);

impl FormName {
    /// Reads a form name.
    pub fn parse(raw: &str) -> Result<Self, DetailError> {
        let name = raw.trim();
        if name.is_empty() || name.chars().count() > 20 || name.chars().any(char::is_control) {
            return Err(refuse(
                "form",
                "a form name is 1 to 20 characters, such as 7A",
            ));
        }
        Ok(FormName(name.to_string()))
    }

    /// The form name as stored and shown.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A pupil's special educational needs status, as on the school's SEN register.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SenStatus {
    /// Not on the SEN register.
    None,
    /// SEN Support: needs met by the school's own provision.
    SenSupport,
    /// An Education, Health and Care Plan.
    Ehcp,
}

impl SenStatus {
    /// Every status, in register order.
    pub const ALL: [SenStatus; 3] = [SenStatus::None, SenStatus::SenSupport, SenStatus::Ehcp];

    /// The stored and API name.
    pub fn as_str(self) -> &'static str {
        match self {
            SenStatus::None => "none",
            SenStatus::SenSupport => "sen_support",
            SenStatus::Ehcp => "ehcp",
        }
    }

    /// Reads a stored or API name.
    pub fn parse(raw: &str) -> Result<Self, DetailError> {
        SenStatus::ALL
            .into_iter()
            .find(|s| s.as_str() == raw.trim())
            .ok_or_else(|| refuse("sen_status", "must be one of none, sen_support, ehcp"))
    }

    /// The name shown to staff.
    pub fn title(self) -> &'static str {
        match self {
            SenStatus::None => "No SEN",
            SenStatus::SenSupport => "SEN Support",
            SenStatus::Ehcp => "EHC plan",
        }
    }
}

/// An address as the mailer reads a recipient: lettre's parse of a bare address (no display
/// name), kept only when it reads back as exactly the text given. Every address Steadfast
/// stores passes this, so what is accepted at a form is what can be sent to.
pub fn mail_address(address: &str) -> Result<lettre::Address, lettre::address::AddressError> {
    let mailbox: lettre::message::Mailbox = address.parse()?;
    if mailbox.name.is_some() || mailbox.email.to_string() != address {
        return Err(lettre::address::AddressError::InvalidInput);
    }
    Ok(mailbox.email)
}

/// A staff member's or guest's email address, lower-cased: one `@` with text on both sides,
/// no spaces, and one the mailer can send to ([`mail_address`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EmailAddress(String);

impl EmailAddress {
    /// Reads an email address.
    pub fn parse(raw: &str) -> Result<Self, DetailError> {
        let email = raw.trim().to_lowercase();
        let valid = match email.split_once('@') {
            Some((local, domain)) => {
                !local.is_empty()
                    && domain.contains('.')
                    && !domain.starts_with('.')
                    && !domain.ends_with('.')
                    && !domain.contains('@')
                    && email.len() <= 254
                    && !email.chars().any(|c| c.is_whitespace() || c.is_control())
                    && mail_address(&email).is_ok()
            }
            None => false,
        };
        if !valid {
            return Err(refuse(
                "email",
                "must be an email address such as name@school.org",
            ));
        }
        Ok(EmailAddress(email))
    }

    /// The address as stored.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A school's short code, such as `DEMO`: 2 to 20 letters, digits or dashes, upper-cased.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SchoolCode(String);

impl SchoolCode {
    /// Reads a school code.
    pub fn parse(raw: &str) -> Result<Self, DetailError> {
        let code = raw.trim().to_ascii_uppercase();
        let valid = (2..=20).contains(&code.len())
            && code.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
        if !valid {
            return Err(refuse(
                "code",
                "a school code is 2 to 20 letters, digits or dashes, such as DEMO",
            ));
        }
        Ok(SchoolCode(code))
    }

    /// The code as stored.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A new pupil's details, all checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPupil {
    pub upn: Upn,
    pub given_name: PersonName,
    pub family_name: PersonName,
    pub year: YearNumber,
    pub form: FormName,
    pub sen_status: SenStatus,
}

impl NewPupil {
    /// Checks each detail in turn; the first fault found is returned with its field.
    pub fn parse(
        upn: &str,
        given_name: &str,
        family_name: &str,
        year: i64,
        form: &str,
        sen_status: Option<&str>,
    ) -> Result<Self, DetailError> {
        Ok(NewPupil {
            upn: Upn::parse(upn)?,
            given_name: PersonName::parse("given_name", given_name)?,
            family_name: PersonName::parse("family_name", family_name)?,
            year: YearNumber::new(year)?,
            form: FormName::parse(form)?,
            sen_status: sen_status.map_or(Ok(SenStatus::None), SenStatus::parse)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upns_are_normalised_and_checked() {
        assert_eq!(
            Upn::parse(" a123456789012 ").unwrap().as_str(),
            "A123456789012"
        );
        assert_eq!(
            Upn::parse("A12345678901B").unwrap().as_str(),
            "A12345678901B"
        );
        for bad in [
            "",
            "A12345",
            "1234567890123",
            "A1234567890123",
            "AB23456789012",
        ] {
            assert_eq!(Upn::parse(bad).unwrap_err().field, "upn", "{bad}");
        }
    }

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(
            PersonName::parse("given_name", "  Amira ")
                .unwrap()
                .as_str(),
            "Amira"
        );
        assert_eq!(
            PersonName::parse("family_name", " ").unwrap_err().field,
            "family_name"
        );
        assert!(PersonName::parse("given_name", &"x".repeat(101)).is_err());
        assert!(PersonName::parse("given_name", "a\u{7}b").is_err());
    }

    #[test]
    fn years_forms_and_sen_statuses() {
        assert_eq!(YearNumber::new(7).unwrap().get(), 7);
        assert!(YearNumber::new(15).is_err());
        assert!(YearNumber::new(-1).is_err());
        assert_eq!(FormName::parse("7A").unwrap().as_str(), "7A");
        assert!(FormName::parse("").is_err());
        for status in SenStatus::ALL {
            assert_eq!(SenStatus::parse(status.as_str()).unwrap(), status);
        }
        assert_eq!(SenStatus::parse("k").unwrap_err().field, "sen_status");
    }

    #[test]
    fn emails_are_lower_cased_and_checked() {
        assert_eq!(
            EmailAddress::parse("Ms.Khan@School.ORG").unwrap().as_str(),
            "ms.khan@school.org"
        );
        for bad in [
            "",
            "nobody",
            "@school.org",
            "a@b",
            "a b@school.org",
            "a@@school.org",
            "\"<b>x</b>\"@example.com",
            "a<script>@x.y",
            "Jo <jo@school.org>",
            "jo@school.org>",
        ] {
            assert!(EmailAddress::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn an_accepted_email_is_one_the_mailer_sends_to() {
        for raw in ["jo@school.org", "o'neill@school.org", "jo+pta@school.org"] {
            let email = EmailAddress::parse(raw).unwrap();
            let sent = mail_address(email.as_str()).unwrap();
            assert_eq!(sent.to_string(), email.as_str());
        }
    }

    #[test]
    fn names_with_hidden_formatting_are_refused() {
        for c in [
            '\u{202A}', '\u{202B}', '\u{202C}', '\u{202D}', '\u{202E}', '\u{2066}', '\u{2067}',
            '\u{2068}', '\u{2069}', '\u{200E}', '\u{200F}', '\u{061C}', '\u{200B}', '\u{200C}',
            '\u{200D}', '\u{2060}', '\u{FEFF}',
        ] {
            let err = PersonName::parse("family_name", &format!("Ok{c}afor")).unwrap_err();
            assert_eq!(err.field, "family_name", "U+{:04X}", u32::from(c));
            assert!(err.message.contains("invisible"), "{}", err.message);
        }
        // Letters of every script are names.
        for name in ["Zoë", "O'Neill", "Nguyễn", "محمد", "Łukasz", "佐藤"] {
            assert_eq!(PersonName::parse("name", name).unwrap().as_str(), name);
        }
    }

    #[test]
    fn school_codes_are_upper_cased_and_checked() {
        assert_eq!(SchoolCode::parse(" demo ").unwrap().as_str(), "DEMO");
        assert_eq!(SchoolCode::parse("north-1").unwrap().as_str(), "NORTH-1");
        for bad in ["", "x", "has space", "semi;colon", &"A".repeat(21)] {
            assert_eq!(SchoolCode::parse(bad).unwrap_err().field, "code", "{bad}");
        }
    }

    #[test]
    fn a_new_pupil_reports_the_first_faulty_field() {
        let ok = NewPupil::parse("A123456789012", "Sam", "Okafor", 8, "8B", None).unwrap();
        assert_eq!(ok.sen_status, SenStatus::None);
        let err = NewPupil::parse("A123456789012", "Sam", "Okafor", 20, "8B", None).unwrap_err();
        assert_eq!(err.field, "year");
    }
}
