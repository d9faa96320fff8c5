//! Helpers the form pages share: reading submitted fields (repeated names included), London
//! times in and out of `datetime-local` inputs, a problem shown next to its field, and
//! answering in JSON to the page's own script, and CSV downloads safe to open in a spreadsheet.

use actix_web::http::{header, StatusCode};
use actix_web::{HttpRequest, HttpResponse};
use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use maud::{html, Markup};
use serde::Deserialize;

use crate::domain::calendar::SCHOOL_TZ;
use crate::domain::details::DetailError;
use crate::error::Error;
use crate::web::error::ErrorBody;

/// A submitted form or query string as name/value pairs, in order, names repeated for
/// checkboxes and multiple choices.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(transparent)]
pub struct Fields(Vec<(String, String)>);

impl Fields {
    /// Fields read from somewhere other than a URL-encoded body (a multipart upload).
    pub fn new(pairs: Vec<(String, String)>) -> Fields {
        Fields(pairs)
    }

    /// Fields with these values, to fill a form for the first time.
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, String)>) -> Fields {
        Fields(
            pairs
                .into_iter()
                .map(|(name, value)| (name.to_string(), value))
                .collect(),
        )
    }

    /// Reads a query string (`a=1&b=2&b=3`); an unreadable one reads as empty.
    pub fn from_query(query: &str) -> Fields {
        serde_urlencoded::from_str(query).unwrap_or_default()
    }

    /// The first value of `name`, trimmed, when present and not blank.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.trim())
            .filter(|v| !v.is_empty())
    }

    /// The first value of `name` as given (empty when absent), for showing a form again.
    pub fn raw(&self, name: &str) -> &str {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or_default()
    }

    /// Every non-blank value of `name`, in order.
    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0
            .iter()
            .filter(move |(n, _)| n == name)
            .map(|(_, v)| v.trim())
            .filter(|v| !v.is_empty())
    }

    /// Every value of `name` as an id; a value that is not a whole number is refused,
    /// naming `field`.
    pub fn ids(&self, name: &str, field: &'static str) -> Result<Vec<i64>, DetailError> {
        self.all(name)
            .map(|v| {
                v.parse::<i64>().map_err(|_| DetailError {
                    field,
                    message: format!("{v:?} is not a record number"),
                })
            })
            .collect()
    }

    /// Every name and value, in order.
    pub fn pairs(&self) -> impl Iterator<Item = &(String, String)> {
        self.0.iter()
    }

    /// Every value of `name` that is an id, ignoring others (for links, where nothing is written).
    pub fn ids_lenient(&self, name: &str) -> Vec<i64> {
        self.all(name).filter_map(|v| v.parse().ok()).collect()
    }
}

/// The format of a `datetime-local` input's value.
const LOCAL_INPUT_FORMAT: &str = "%Y-%m-%dT%H:%M";

/// A time as a `datetime-local` value in the school's time zone (London).
pub fn local_input_value(at: DateTime<Utc>) -> String {
    at.with_timezone(&SCHOOL_TZ)
        .format(LOCAL_INPUT_FORMAT)
        .to_string()
}

/// Reads a `datetime-local` value given in London time as UTC; blank is `None`.
pub fn parse_local_time(
    field: &'static str,
    raw: Option<&str>,
) -> Result<Option<DateTime<Utc>>, DetailError> {
    let Some(raw) = raw.map(str::trim).filter(|r| !r.is_empty()) else {
        return Ok(None);
    };
    let refuse = |message: &str| DetailError {
        field,
        message: message.to_string(),
    };
    let naive = NaiveDateTime::parse_from_str(raw, LOCAL_INPUT_FORMAT)
        .or_else(|_| NaiveDateTime::parse_from_str(raw, "%Y-%m-%dT%H:%M:%S"))
        .map_err(|_| refuse("must be a date and time, such as 2026-11-23T10:15"))?;
    SCHOOL_TZ
        .from_local_datetime(&naive)
        .earliest()
        .map(|t| Some(t.with_timezone(&Utc)))
        .ok_or_else(|| refuse("does not exist in London time (the clocks went forward)"))
}

/// A time for people to read, in London time.
pub fn local(at: DateTime<Utc>) -> String {
    at.with_timezone(&SCHOOL_TZ)
        .format("%a %-d %b %Y, %H:%M")
        .to_string()
}

/// A time of day for people to read, in London time.
pub fn local_clock(at: DateTime<Utc>) -> String {
    at.with_timezone(&SCHOOL_TZ).format("%H:%M").to_string()
}

/// What is wrong with a submitted form, and the field at fault when there is one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub field: Option<String>,
    pub message: String,
}

impl Problem {
    /// The problem an [`Error`] describes, when it is one the person can fix in the form.
    pub fn of(error: &Error) -> Option<Problem> {
        match error {
            Error::Invalid { message, field, .. } | Error::Conflict { message, field } => {
                Some(Problem {
                    field: field.clone(),
                    message: message.clone(),
                })
            }
            _ => None,
        }
    }

    /// Whether the problem is with `field`.
    pub fn is_about(&self, field: &str) -> bool {
        self.field.as_deref() == Some(field)
    }
}

impl From<DetailError> for Problem {
    fn from(error: DetailError) -> Self {
        Problem {
            field: Some(error.field.to_string()),
            message: error.message,
        }
    }
}

impl From<&Problem> for Error {
    fn from(problem: &Problem) -> Self {
        match &problem.field {
            Some(field) => Error::invalid(field, problem.message.clone()),
            None => Error::bad_request(problem.message.clone()),
        }
    }
}

/// A form on a page: the values shown in its fields (the record's own the first time, what
/// was typed when it comes back refused) and the problems to show, each at its field.
#[derive(Debug, Clone, Default)]
pub struct Form {
    /// The values the fields show.
    pub values: Fields,
    /// What was wrong with the last submission, when it was refused: one problem, or one
    /// for each field at fault on a form read whole (the policy's figures).
    pub problems: Vec<Problem>,
    /// Which of the page's forms was sent, on a page with several (its name on the page).
    pub sent: Option<String>,
}

impl Form {
    /// A form shown for the first time, filled with `values`.
    pub fn first(values: Fields) -> Form {
        Form {
            values,
            problems: Vec::new(),
            sent: None,
        }
    }

    /// A refused form shown again: what was typed, and the problem (or problems).
    pub fn again(typed: Fields, problems: impl Into<Vec<Problem>>) -> Form {
        Form {
            values: typed,
            problems: problems.into(),
            sent: None,
        }
    }

    /// The same form, as the one named `sent` on a page with several.
    pub fn sent_as(self, sent: Option<String>) -> Form {
        Form { sent, ..self }
    }

    /// Whether this is the form named `name` sent back, on a page with several forms.
    pub fn is_sent(&self, name: &str) -> bool {
        self.sent.as_deref() == Some(name)
    }

    /// The problem, when there is one (the first, when there are several).
    pub fn problem(&self) -> Option<&Problem> {
        self.problems.first()
    }

    /// The problem of the form named `name`, on a page with several forms.
    pub fn problem_of(&self, name: &str) -> Option<&Problem> {
        self.problem().filter(|_| self.is_sent(name))
    }

    /// The problem with `field`, when there is one.
    pub fn problem_about(&self, field: &str) -> Option<&Problem> {
        self.problems.iter().find(|p| p.is_about(field))
    }

    /// The slot next to `field` for its problem (see [`field_problem`]).
    pub fn problem_at(&self, field: &str) -> Markup {
        field_problem(self.problem_about(field), field)
    }

    /// The slot next to `field` of the form named `form`, on a page with several forms
    /// (`error-{form}-{field}`): its problem only when that form was sent back.
    pub fn problem_in(&self, form: &str, field: &str) -> Markup {
        let problem = self.problem_about(field).filter(|_| self.is_sent(form));
        problem_slot(problem, &format!("{form}-{field}"), field)
    }

    /// What field `name` shows: what was typed when this is the form named `form` sent
    /// back, otherwise `first` (the record's own value).
    pub fn value_in<'a>(&'a self, form: &str, name: &str, first: &'a str) -> &'a str {
        if self.is_sent(form) {
            self.values.raw(name)
        } else {
            first
        }
    }
}

impl From<Problem> for Vec<Problem> {
    fn from(problem: Problem) -> Self {
        vec![problem]
    }
}

impl Problem {
    /// A problem with `field`.
    pub fn at(field: &str, message: impl Into<String>) -> Problem {
        Problem {
            field: Some(field.to_string()),
            message: message.into(),
        }
    }

    /// The problem as a refusal of what was typed, shown with 422: the form was understood
    /// but cannot be done as it stands.
    pub fn unprocessable(self) -> Error {
        Error::Invalid {
            code: "unprocessable",
            message: self.message,
            field: self.field,
        }
    }

    /// A refused change, for showing its form again: the status (400, 409 or 422) and the
    /// problem, without the field's name at the start of the message (the form shows it at
    /// the field). The error itself when it is not one the person can put right in the form.
    pub fn of_refusal(error: Error) -> Result<(StatusCode, Problem), crate::web::error::PageError> {
        let status = error.status();
        match Problem::of(&error).filter(|_| [400, 409, 422].contains(&status)) {
            Some(mut problem) => {
                if let Some(field) = &problem.field {
                    if let Some(rest) = problem.message.strip_prefix(&format!("{field}: ")) {
                        problem.message = rest.to_string();
                    }
                }
                Ok((
                    StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
                    problem,
                ))
            }
            None => Err(crate::web::error::PageError(error)),
        }
    }
}

/// The slot next to a field where its problem is shown (empty when the field is fine). The
/// page's script fills the same slot when it sends the form itself.
pub fn field_problem(problem: Option<&Problem>, field: &str) -> Markup {
    problem_slot(problem, field, field)
}

/// The slot `error-{slot}` for the problem with `field`.
fn problem_slot(problem: Option<&Problem>, slot: &str, field: &str) -> Markup {
    let message = problem.filter(|p| p.is_about(field)).map(|p| &p.message);
    html! {
        p.field-error id={ "error-" (slot) } data-error-for=(field) role="alert" hidden[message.is_none()] {
            @if let Some(message) = message { (message) }
        }
    }
}

/// A summary of the problem at the top of a form, for problems with no field of their own
/// on the form.
pub fn problem_summary(problem: Option<&Problem>, fields_on_form: &[&str]) -> Markup {
    html! {
        @if let Some(problem) = problem {
            @let shown_by_field = problem.field.as_deref().is_some_and(|f| fields_on_form.contains(&f));
            p.error role="alert" {
                @if shown_by_field { "Check the form: " }
                (problem.message)
            }
        }
    }
}

/// Whether the request asked for JSON (the page's script does; a plain form does not).
pub fn wants_json(request: &HttpRequest) -> bool {
    request
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains("application/json"))
}

/// A page answering a refused step of signing in: the error's status, with `Retry-After` when
/// the refusal is a wait after too many failures.
pub fn refusal_page(why: &Error, markup: Markup) -> HttpResponse {
    let status = StatusCode::from_u16(why.status()).unwrap_or(StatusCode::UNAUTHORIZED);
    let mut response = html_response(status, markup);
    if let Error::TooManyAttempts {
        retry_after_seconds,
    } = why
    {
        response.headers_mut().insert(
            header::RETRY_AFTER,
            header::HeaderValue::from(*retry_after_seconds),
        );
    }
    response
}

/// A message made a sentence: its first letter a capital, a full stop at its end.
pub fn sentence(text: &str) -> String {
    let mut chars = text.chars();
    let mut made: String = chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default();
    if !made.ends_with('.') {
        made.push('.');
    }
    made
}

/// A page with a status.
pub fn html_response(status: StatusCode, markup: Markup) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(markup.into_string())
}

/// A redirect after a form was handled (post, redirect, get).
pub fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location))
        .finish()
}

/// An error in the API's JSON shape, for the page's script.
pub fn json_error(error: &Error) -> HttpResponse {
    let status = StatusCode::from_u16(error.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    crate::web::error::log_if_server_fault(error);
    HttpResponse::build(status).json(ErrorBody::from_error(error))
}

/// A cell of free text made safe to open in a spreadsheet: text that a spreadsheet would
/// read as a formula starts with an apostrophe.
pub fn text_cell(text: &str) -> String {
    if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}")
    } else {
        text.to_string()
    }
}

/// Writes rows as CSV with the `csv` crate.
pub fn csv_bytes(rows: &[Vec<String>]) -> Result<Vec<u8>, Error> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    for row in rows {
        writer
            .write_record(row)
            .map_err(|e| Error::Internal(format!("writing CSV: {e}")))?;
    }
    writer
        .into_inner()
        .map_err(|e| Error::Internal(format!("finishing CSV: {e}")))
}

/// A CSV download named `filename` (letters, digits, dots and dashes only).
pub fn csv_response(filename: &str, body: Vec<u8>) -> HttpResponse {
    let safe: String = filename
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || ['.', '-', '_'].contains(c))
        .collect();
    HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{safe}\""),
        ))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_fields_are_all_read() {
        let fields = Fields::from_query("pupil_ids=3&pupil_ids=5&note=+hi+&empty=");
        assert_eq!(fields.ids("pupil_ids", "pupil_ids").unwrap(), vec![3, 5]);
        assert_eq!(fields.get("note"), Some("hi"));
        assert_eq!(fields.get("empty"), None);
        assert_eq!(fields.raw("note"), " hi ");
        let bad = Fields::from_query("pupil_ids=3&pupil_ids=x");
        assert_eq!(
            bad.ids("pupil_ids", "pupil_ids").unwrap_err().field,
            "pupil_ids"
        );
        assert_eq!(bad.ids_lenient("pupil_ids"), vec![3]);
    }

    #[test]
    fn london_times_round_trip() {
        let summer = parse_local_time("t", Some("2026-06-01T09:30"))
            .unwrap()
            .unwrap();
        assert_eq!(summer.to_rfc3339(), "2026-06-01T08:30:00+00:00");
        assert_eq!(local_input_value(summer), "2026-06-01T09:30");
        let winter = parse_local_time("t", Some("2026-11-23T09:30"))
            .unwrap()
            .unwrap();
        assert_eq!(winter.to_rfc3339(), "2026-11-23T09:30:00+00:00");
        assert_eq!(parse_local_time("t", Some(" ")).unwrap(), None);
        assert_eq!(
            parse_local_time("t", Some("yesterday")).unwrap_err().field,
            "t"
        );
        // 01:30 on the last Sunday of March does not exist in London.
        assert!(parse_local_time("t", Some("2026-03-29T01:30")).is_err());
    }
}
