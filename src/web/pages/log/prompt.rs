//! The one-tap Coaching Prompt: its form on every list of pupils, and `POST /log/prompt`.

use actix_web::HttpRequest;
use chrono::{DateTime, TimeDelta, Utc};
use maud::{html, Markup};
use serde::Deserialize;

use super::{detail_error, finish_logging, log};
use crate::accounts::random_token;
use crate::db::idempotency::IdempotencyKey;
use crate::db::pupils::PupilView;
use crate::domain::details::MAX_BACKDATE_DAYS;
use crate::domain::incident::{IncidentSubmission, NewIncident};
use crate::error::{Error, Result};
use crate::web::auth::CsrfForm;
use crate::web::pages::form::wants_json;
use crate::web::pages::form_page::{PageResult, Visit};
use crate::web::pages::layout::csrf_field;

/// What a one-tap prompt records as its behaviour; its author may add the details while the
/// author's window is open.
pub const QUICK_PROMPT_BEHAVIOUR: &str = "Coaching Prompt, no details";

/// The form that logs a Coaching Prompt for one pupil with one tap. Its idempotency key is
/// fresh on every page, so a double tap or a resubmitted page logs once.
pub fn prompt_form(pupil: &PupilView, csrf: &str) -> Markup {
    html! {
        form.prompt method="post" action="/log/prompt" data-queue="prompt" data-label=(pupil.full_name()) {
            (csrf_field(csrf))
            input type="hidden" name="idempotency_key" value=(random_token());
            input type="hidden" name="pupil_id" value=(pupil.id);
            button.prompt type="submit" title={ "Log a Coaching Prompt for " (pupil.full_name()) } { "Prompt" }
        }
    }
}

/// The one-tap form's fields.
#[derive(Debug, Deserialize)]
pub struct PromptForm {
    #[serde(default)]
    pub(super) idempotency_key: String,
    #[serde(default)]
    pub(super) pupil_id: String,
    /// Sent by the page's script: how many seconds ago the tap was (a queued tap is sent
    /// later). Measured on the device, so a phone's clock being wrong does not matter.
    #[serde(default)]
    pub(super) age_seconds: String,
}

pub(super) fn parse_prompt(
    form: &PromptForm,
    now: DateTime<Utc>,
) -> Result<(IdempotencyKey, NewIncident)> {
    let key = IdempotencyKey::parse("idempotency_key", &form.idempotency_key)?;
    let pupil_id: i64 = form
        .pupil_id
        .trim()
        .parse()
        .map_err(|_| Error::invalid("pupil_ids", "choose a pupil"))?;
    let age = match form.age_seconds.trim() {
        "" => 0,
        raw => raw
            .parse::<i64>()
            .map_err(|_| Error::invalid("age_seconds", "age_seconds must be a whole number"))?,
    };
    // A negative age (a confused device) counts as now; one past the backdating limit is
    // refused below rather than logged at the wrong time.
    let age = age.clamp(0, (MAX_BACKDATE_DAYS + 1) * 24 * 60 * 60);
    let new = NewIncident::parse(
        &IncidentSubmission {
            pupil_ids: &[pupil_id],
            behaviour: QUICK_PROMPT_BEHAVIOUR,
            severity: Some("minor"),
            response: Some("prompt"),
            occurred_at: Some(now - TimeDelta::seconds(age)),
            ..Default::default()
        },
        now,
    )
    .map_err(detail_error)?;
    Ok((key, new))
}

/// `POST /log/prompt`: logs a Coaching Prompt for one pupil, now.
pub async fn prompt(visit: Visit, request: HttpRequest, form: CsrfForm<PromptForm>) -> PageResult {
    let read = parse_prompt(&form.0, Utc::now()).map(|(key, new)| (key, new, None));
    let outcome = log(&visit, read).await;
    finish_logging(&visit, wants_json(&request), outcome).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_prompt_needs_a_key_and_a_pupil() {
        let now = Utc::now();
        let form = |key: &str, pupil: &str, age: &str| PromptForm {
            idempotency_key: key.into(),
            pupil_id: pupil.into(),
            age_seconds: age.into(),
        };
        let key = "0123456789abcdef";
        let (_, new) = parse_prompt(&form(key, "7", "90"), now).unwrap();
        assert_eq!(new.pupil_ids, vec![7]);
        assert_eq!(new.occurred_at, now - TimeDelta::seconds(90));
        assert_eq!(new.behaviour, QUICK_PROMPT_BEHAVIOUR);
        assert_eq!(
            parse_prompt(&form("", "7", ""), now).unwrap_err().field(),
            Some("idempotency_key")
        );
        assert_eq!(
            parse_prompt(&form(key, "x", ""), now).unwrap_err().field(),
            Some("pupil_ids")
        );
        // A negative age (a confused device) counts as now.
        let (_, new) = parse_prompt(&form(key, "7", "-50"), now).unwrap();
        assert_eq!(new.occurred_at, now);
        // A tap queued for longer than incidents may be backdated is refused, not misdated.
        let ancient = (MAX_BACKDATE_DAYS * 24 * 60 * 60 + 60).to_string();
        assert_eq!(
            parse_prompt(&form(key, "7", &ancient), now)
                .unwrap_err()
                .field(),
            Some("occurred_at")
        );
        assert!(parse_prompt(&form(key, "7", &i64::MAX.to_string()), now).is_err());
    }
}
