//! The incident form (`/log/new`): the pupils, what happened, how serious, the response,
//! when, where and a note. Pupils are added without losing anything typed: "Find" and each
//! "Add" are submit buttons of the same form, which shows it again with every value kept
//! (the page's script does the same in place). "Log" logs, once per the form's key.

use actix_web::http::StatusCode;
use actix_web::HttpRequest;
use chrono::{DateTime, Utc};
use maud::{html, Markup};

use super::list::template_pupil;
use super::{detail_error, find_pupils, finish_logging, log, place_and_note, pupils_in_order};
use super::{ReadIncident, SEARCH_LIMIT};
use crate::accounts::random_token;
use crate::db::behaviours::{self, Behaviour};
use crate::db::idempotency::IdempotencyKey;
use crate::db::pupils::PupilView;
use crate::db::timetable;
use crate::domain::incident::{IncidentSubmission, NewIncident};
use crate::domain::timetable::{Moment, Timetable};
use crate::error::Result;
use crate::web::auth::CsrfForm;
use crate::web::pages::form::{
    local_input_value, parse_local_time, problem_summary, wants_json, Fields, Form, Problem,
};
use crate::web::pages::form_page::{PageResult, Visit};
use crate::web::pages::layout::csrf_field;

/// What the details form shows besides the values typed.
struct DetailsData {
    chosen: Vec<PupilView>,
    behaviours: Vec<Behaviour>,
    /// Pupils found to add, when searched.
    results: Option<Vec<PupilView>>,
    /// The school's timetable, to say which lesson period the incident falls in.
    timetable: Timetable,
}

/// What a submission of the form asks: to log, or to find or add a pupil and show the form
/// again.
#[derive(Debug, PartialEq, Eq)]
enum Step {
    Log,
    /// "Find": the pupils matching the search field `q`.
    Find,
    /// "Add" beside a pupil found.
    Add(i64),
}

impl Step {
    /// The step the button pressed asks for; a plain submission (the script's) logs. An
    /// "Add" naming no pupil only shows the form again.
    fn of(typed: &Fields) -> Step {
        match typed.get("add_pupil") {
            Some(id) => id.parse().map_or(Step::Find, Step::Add),
            None if typed.get("action") == Some("find") => Step::Find,
            None => Step::Log,
        }
    }
}

/// The lesson period a moment falls in, as the form says it: "Period 3, 11:05 to 12:05", or
/// "Before school" and the like.
fn period_words(timetable: &Timetable, at: DateTime<Utc>) -> String {
    match timetable.moment_at(at) {
        Moment::Period(period) => format!("{}, {}", period.name, period.span()),
        other => other.label().to_string(),
    }
}

/// The fields of the details form, as rendered.
const DETAIL_FIELDS: [&str; 8] = [
    "pupil_ids",
    "behaviour",
    "severity",
    "response",
    "occurred_at",
    "location",
    "lesson",
    "note",
];

fn radio(name: &str, value: &str, label: &str, values: &Fields) -> Markup {
    html! {
        label.choice {
            input type="radio" name=(name) value=(value) checked[values.get(name) == Some(value)];
            " " (label)
        }
    }
}

/// A pupil chosen for the incident: a ticked box (untick to leave them out).
fn chosen_pupil(pupil: &PupilView) -> Markup {
    html! {
        label.choice.chosen-pupil {
            input type="checkbox" name="pupil_ids" value=(pupil.id) data-name=(pupil.full_name()) checked;
            " " span.name { (pupil.full_name()) } " " span.muted.form { (pupil.form) }
        }
    }
}

/// Finding and adding a pupil, inside the form so nothing typed is lost.
fn add_pupil(data: &DetailsData, searched: &str) -> Markup {
    html! {
        div.add-pupil {
            label for="add-q" { "Add a pupil" }
            div.row {
                input #add-q type="search" name="q" value=(searched) placeholder="Name or UPN"
                    autocomplete="off" data-add-search="/log/pupils";
                button type="submit" name="action" value="find" { "Find" }
            }
            div #add-results aria-live="polite" {
                @if let Some(results) = &data.results {
                    @if results.is_empty() {
                        p.muted { "No pupil matches." }
                    } @else {
                        ul.list {
                            @for pupil in results {
                                li {
                                    button.add type="submit" name="add_pupil" value=(pupil.id)
                                        data-name=(pupil.full_name()) data-form=(pupil.form) {
                                        "Add " (pupil.full_name())
                                    }
                                    " " span.muted { (pupil.form) }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn render_details(data: &DetailsData, form: &Form, csrf: &str) -> Markup {
    let values = &form.values;
    let problem = form.problem();
    let chosen_behaviour = values.get("behaviour").unwrap_or_default();
    let listed = data.behaviours.iter().any(|b| b.name == chosen_behaviour);
    // The period of the time in the form (now, when the form is new).
    let period_time = parse_local_time("occurred_at", values.get("occurred_at"))
        .ok()
        .flatten()
        .unwrap_or_else(Utc::now);
    let searched = if data.results.is_some() {
        values.raw("q")
    } else {
        ""
    };
    html! {
        div #logger {
            h1 { "Log an incident" }
            p #queue-status.queue-status role="status" aria-live="polite" hidden {}
            (problem_summary(problem, &DETAIL_FIELDS))
            form #details.stack method="post" action="/log/new" data-queue="details" {
                (csrf_field(csrf))
                input type="hidden" name="idempotency_key" value=(values.raw("idempotency_key"));
                fieldset #pupils {
                    legend { "Pupils" }
                    div #chosen-pupils {
                        @if data.chosen.is_empty() {
                            p.muted #no-pupils { "No pupil chosen yet: add them below." }
                        }
                        @for pupil in &data.chosen { (chosen_pupil(pupil)) }
                    }
                    (form.problem_at("pupil_ids"))
                    (add_pupil(data, searched))
                }
                label for="behaviour" { "What happened" }
                select #behaviour name="behaviour" {
                    option value="" { "Choose a behaviour" }
                    @if !chosen_behaviour.is_empty() && !listed {
                        option value=(chosen_behaviour) selected { (chosen_behaviour) }
                    }
                    @for behaviour in &data.behaviours {
                        option value=(behaviour.name) data-serious[behaviour.serious] selected[behaviour.name == chosen_behaviour] {
                            (behaviour.name) @if behaviour.serious { " (serious)" }
                        }
                    }
                }
                (form.problem_at("behaviour"))
                fieldset #severity {
                    legend { "How serious" }
                    (radio("severity", "minor", "Minor", values))
                    (radio("severity", "serious", "Serious", values))
                    p.hint { "Left blank, it follows the behaviour: those marked serious are logged as serious." }
                    (form.problem_at("severity"))
                }
                fieldset {
                    legend { "Your response" }
                    (radio("response", "prompt", "Coaching Prompt", values))
                    (radio("response", "conversation", "Coaching Conversation", values))
                    (radio("response", "none", "No coaching response", values))
                    (form.problem_at("response"))
                }
                label for="occurred_at" { "When (London time)" }
                input #occurred_at type="datetime-local" name="occurred_at" value=(values.raw("occurred_at")) data-now-unless-changed aria-describedby="current-period";
                p.hint #current-period {
                    "Lesson period: " strong.period { (period_words(&data.timetable, period_time)) }
                }
                (form.problem_at("occurred_at"))
                (place_and_note(form))
                button.primary type="submit" name="action" value="log" { "Log" }
            }
            // The ticked box the script copies when it adds a pupil in place.
            template #chosen-pupil-template { (chosen_pupil(&template_pupil())) }
            p { a href="/log" { "Back to the list" } }
        }
    }
}

/// Shows the form with `form`'s values: its pupils (`pupil_ids`) ticked and, when `find`,
/// the pupils matching its search field to add.
async fn details_page(visit: Visit, form: Form, find: bool, status: StatusCode) -> PageResult {
    let school_id = visit.member.school_id;
    let mut chosen: Vec<i64> = Vec::new();
    for id in form.values.ids_lenient("pupil_ids") {
        if !chosen.contains(&id) {
            chosen.push(id);
        }
    }
    let searched = if find {
        form.values.get("q").map(str::to_string)
    } else {
        None
    };
    let data = visit
        .state
        .db
        .transaction(move |conn| {
            let chosen = pupils_in_order(conn, school_id, &chosen)?;
            let results = match searched {
                Some(text) => Some(
                    find_pupils(conn, school_id, &text, SEARCH_LIMIT)?
                        .into_iter()
                        .filter(|p| !chosen.iter().any(|c| c.id == p.id))
                        .collect(),
                ),
                None => None,
            };
            Ok(DetailsData {
                chosen,
                behaviours: behaviours::list(conn, school_id, false)?,
                results,
                timetable: timetable::load(conn, school_id)?,
            })
        })
        .await?;
    Ok(visit.page("Log an incident", status, |csrf| {
        render_details(&data, &form, csrf)
    }))
}

/// The details form's first values: the pupils chosen, a Coaching Prompt, now, with a fresh
/// key.
fn fresh_details(pupil_ids: &[i64], now: DateTime<Utc>) -> Fields {
    let pupils = pupil_ids.iter().map(|id| ("pupil_ids", id.to_string()));
    Fields::from_pairs(
        [
            ("idempotency_key", random_token()),
            ("response", "prompt".to_string()),
            ("occurred_at", local_input_value(now)),
        ]
        .into_iter()
        .chain(pupils),
    )
}

/// `GET /log/new?pupil=ID&pupil=ID`: the details form for the chosen pupils.
pub async fn details_form(visit: Visit) -> PageResult {
    let chosen = visit.query.ids_lenient("pupil");
    let form = Form::first(fresh_details(&chosen, Utc::now()));
    details_page(visit, form, false, StatusCode::OK).await
}

/// Reads the details form into an incident: the key, the incident, and the time given.
fn parse_details(
    fields: &Fields,
    behaviours: &[Behaviour],
    now: DateTime<Utc>,
) -> Result<ReadIncident> {
    let key = IdempotencyKey::parse("idempotency_key", fields.raw("idempotency_key"))?;
    let pupil_ids = fields.ids("pupil_ids", "pupil_ids").map_err(detail_error)?;
    let behaviour = fields.get("behaviour").unwrap_or_default();
    let severity = fields.get("severity").or_else(|| {
        behaviours.iter().find(|b| b.name == behaviour).map(|b| {
            if b.serious {
                "serious"
            } else {
                "minor"
            }
        })
    });
    let occurred_at =
        parse_local_time("occurred_at", fields.get("occurred_at")).map_err(detail_error)?;
    let new = NewIncident::parse(
        &IncidentSubmission {
            pupil_ids: &pupil_ids,
            behaviour,
            severity,
            response: fields.get("response"),
            occurred_at,
            location: fields.get("location"),
            lesson: fields.get("lesson"),
            note: fields.get("note"),
        },
        now,
    )
    .map_err(detail_error)?;
    Ok((key, new, occurred_at))
}

/// `POST /log/new`: "Find" and "Add" show the form again with everything typed kept (the
/// pupil added); "Log" (or the script) logs the incident. A fault shows the form again with
/// the message at its field and writes nothing; the script is answered in JSON.
pub async fn details_submit(
    visit: Visit,
    request: HttpRequest,
    form: CsrfForm<Fields>,
) -> PageResult {
    let typed = form.0;
    match Step::of(&typed) {
        Step::Find => return details_page(visit, Form::first(typed), true, StatusCode::OK).await,
        Step::Add(id) => {
            let added = Fields::new(
                typed
                    .pairs()
                    .filter(|(name, _)| !["add_pupil", "q", "action"].contains(&name.as_str()))
                    .cloned()
                    .chain([("pupil_ids".to_string(), id.to_string())])
                    .collect(),
            );
            return details_page(visit, Form::first(added), false, StatusCode::OK).await;
        }
        Step::Log => {}
    }
    let school_id = visit.member.school_id;
    let listed = visit
        .state
        .db
        .transaction(move |conn| behaviours::list(conn, school_id, false))
        .await?;
    let outcome = log(&visit, parse_details(&typed, &listed, Utc::now())).await;
    let json = wants_json(&request);
    match outcome {
        Err(error) if !json => {
            let (status, problem) = Problem::of_refusal(error)?;
            details_page(visit, Form::again(typed, problem), false, status).await
        }
        outcome => finish_logging(&visit, json, outcome).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_serious_behaviour_makes_a_serious_incident_unless_told_otherwise() {
        let listed = vec![Behaviour {
            id: 1,
            name: "Bullying".into(),
            serious: true,
            position: 1,
            active: true,
        }];
        let now = Utc::now();
        let fields = |severity: &str| {
            Fields::from_query(&format!(
                "idempotency_key=0123456789abcdef&pupil_ids=4&pupil_ids=5&behaviour=Bullying&response=prompt&severity={severity}"
            ))
        };
        let (_, new, time) = parse_details(&fields(""), &listed, now).unwrap();
        assert_eq!(new.severity.as_str(), "serious");
        assert_eq!(new.pupil_ids, vec![4, 5]);
        assert_eq!(time, None);
        let (_, new, _) = parse_details(&fields("minor"), &listed, now).unwrap();
        assert_eq!(new.severity.as_str(), "minor");
    }

    #[test]
    fn the_button_pressed_says_the_step() {
        let step = |query: &str| Step::of(&Fields::from_query(query));
        assert_eq!(step("action=log&pupil_ids=4"), Step::Log);
        assert_eq!(step("pupil_ids=4"), Step::Log);
        assert_eq!(step("action=find&q=sam"), Step::Find);
        assert_eq!(step("q=sam&add_pupil=9"), Step::Add(9));
        assert_eq!(step("add_pupil=x&action=log"), Step::Find);
    }
}
