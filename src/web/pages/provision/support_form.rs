//! Reading the forms of the support page: numbers, dates and a cost typed in pounds.

use chrono::NaiveDate;

use super::{refuse, COST_FIELD};
use crate::domain::plan::{format_pounds, ProvisionSubmission, MAX_COST_PER_SESSION_PENCE};
use crate::web::pages::form::{Fields, Problem};

/// Reads a sum typed in pounds ("12.50", "£1,250", "0") as exact pence. Refuses anything
/// that is not pounds with at most two figures of pence, and more than a session may cost.
fn pence_of(raw: &str) -> std::result::Result<u32, Problem> {
    let wrong = || refuse(COST_FIELD, "write the cost in pounds, such as 12.50");
    let text = raw.trim();
    let text = text.strip_prefix('£').unwrap_or(text).trim_start();
    if text.is_empty() {
        return Err(refuse(
            COST_FIELD,
            "enter the cost of one session in pounds, such as 12.50 (0 for staff time not costed)",
        ));
    }
    let (whole, fraction) = match text.split_once('.') {
        Some((whole, fraction)) => (whole, Some(fraction)),
        None => (text, None),
    };
    let mut groups = whole.split(',');
    let first = groups.next().unwrap_or_default();
    let rest: Vec<&str> = groups.collect();
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let grouped_well = rest.is_empty() || (first.len() <= 3 && rest.iter().all(|g| g.len() == 3));
    if !(digits(first) || (first.is_empty() && rest.is_empty() && fraction.is_some()))
        || !rest.iter().all(|g| digits(g))
        || !grouped_well
    {
        return Err(wrong());
    }
    let pence_part = match fraction {
        None => 0,
        Some(f) if digits(f) && f.len() <= 2 => {
            let value: u64 = f.parse().map_err(|_| wrong())?;
            if f.len() == 1 {
                value * 10
            } else {
                value
            }
        }
        Some(f) if digits(f) => {
            return Err(refuse(
                COST_FIELD,
                "pounds and pence have at most two figures after the point, such as 12.50",
            ))
        }
        Some(_) => return Err(wrong()),
    };
    let too_much = || {
        refuse(
            COST_FIELD,
            format!(
                "a session costs at most {}",
                format_pounds(u64::from(MAX_COST_PER_SESSION_PENCE))
            ),
        )
    };
    let whole_digits: String = whole.chars().filter(char::is_ascii_digit).collect();
    if whole_digits.len() > 12 {
        return Err(too_much());
    }
    let pounds: u64 = if whole_digits.is_empty() {
        0
    } else {
        whole_digits.parse().map_err(|_| wrong())?
    };
    let pence = pounds
        .checked_mul(100)
        .and_then(|p| p.checked_add(pence_part))
        .ok_or_else(too_much)?;
    u32::try_from(pence)
        .ok()
        .filter(|p| *p <= MAX_COST_PER_SESSION_PENCE)
        .ok_or_else(too_much)
}

/// A whole number typed in a field.
fn number_of(
    fields: &Fields,
    field: &'static str,
    what: &str,
) -> std::result::Result<u32, Problem> {
    fields
        .get(field)
        .unwrap_or_default()
        .parse()
        .map_err(|_| refuse(field, format!("write the number of {what}, such as 3")))
}

/// A date typed in a field; blank is `None` (the domain says whether it is needed).
pub(super) fn date_of(
    fields: &Fields,
    field: &'static str,
) -> std::result::Result<Option<NaiveDate>, Problem> {
    fields
        .get(field)
        .map(|raw| {
            NaiveDate::parse_from_str(raw, "%Y-%m-%d")
                .map_err(|_| refuse(field, "write a date, such as 2026-01-05"))
        })
        .transpose()
}

/// The form that adds provision, read into owned values to hand to the writer.
pub(super) struct NewProvision {
    what: String,
    external: bool,
    provider_name: String,
    frequency_per_week: u32,
    session_minutes: u32,
    starts_on: Option<NaiveDate>,
    review_on: Option<NaiveDate>,
    ends_on: Option<NaiveDate>,
    cost_per_session_pence: u32,
    entry_data: String,
    target: String,
}

impl NewProvision {
    /// Reads the numbers, dates and cost; the domain checks the rest when it is added.
    pub(super) fn read(fields: &Fields) -> std::result::Result<NewProvision, Problem> {
        let external = match fields.get("provider_kind") {
            Some("internal") => false,
            Some("external") => true,
            _ => {
                return Err(refuse(
                    "provider_kind",
                    "choose whether the school's own staff or an outside service provides it",
                ))
            }
        };
        Ok(NewProvision {
            what: fields.raw("what").to_string(),
            external,
            provider_name: fields.raw("provider_name").to_string(),
            frequency_per_week: number_of(fields, "frequency_per_week", "sessions a week")?,
            session_minutes: number_of(fields, "session_minutes", "minutes a session")?,
            starts_on: date_of(fields, "starts_on")?,
            review_on: date_of(fields, "review_on")?,
            ends_on: date_of(fields, "ends_on")?,
            cost_per_session_pence: pence_of(fields.raw(COST_FIELD))?,
            entry_data: fields.raw("entry_data").to_string(),
            target: fields.raw("target").to_string(),
        })
    }

    pub(super) fn submission(&self) -> ProvisionSubmission<'_> {
        ProvisionSubmission {
            what: &self.what,
            external: self.external,
            provider_name: &self.provider_name,
            frequency_per_week: self.frequency_per_week,
            session_minutes: self.session_minutes,
            starts_on: self.starts_on,
            review_on: self.review_on,
            ends_on: self.ends_on,
            cost_per_session_pence: self.cost_per_session_pence,
            entry_data: &self.entry_data,
            target: &self.target,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pounds_are_read_as_exact_pence() {
        for (typed, pence) in [
            ("12.50", 1250),
            ("12.5", 1250),
            ("12", 1200),
            (" £12.05 ", 1205),
            ("0", 0),
            ("0.01", 1),
            (".75", 75),
            ("1,250.00", 125_000),
            ("5000", 500_000),
            ("0.10", 10),
        ] {
            assert_eq!(pence_of(typed), Ok(pence), "{typed}");
        }
    }

    #[test]
    fn bad_amounts_are_refused_at_the_field() {
        for typed in [
            "",
            " ",
            "12.505",
            "-3",
            "abc",
            "12,50",
            "1,2500",
            "12.",
            "1e3",
            "£",
            "5000.01",
            "99999999999999999999",
            "12.5.0",
            "+4",
        ] {
            let problem = pence_of(typed).expect_err(typed);
            assert!(problem.is_about(COST_FIELD), "{typed}: {problem:?}");
        }
    }
}
