//! Recording a Coaching Conversation: when and with whom, the conversation in the shape of
//! the coaching seeds, and the incidents it follows up.

use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::Utc;
use maud::{html, Markup};

use super::form::{
    field_problem, html_response, local, local_input_value, parse_local_time, problem_summary,
    see_other, Fields, Problem,
};
use super::layout::{csrf_field, page};
use super::with_viewer;
use crate::db::conversations;
use crate::db::models::IncidentRow;
use crate::db::pupils::{self, PupilView};
use crate::db::staff::StaffMember;
use crate::db::timeline::{self, EventDetail, EventKind, TimelineFilter};
use crate::db::{from_db_time, DbConnection};
use crate::domain::conversation::{
    ConversationSubmission, NewConversation, MAX_ANSWER_CHARS, MAX_WITH_WHOM_CHARS,
};
use crate::error::{Error, Result};
use crate::web::auth::{CsrfForm, SignedIn};
use crate::web::error::PageError;
use crate::web::AppState;

/// How many of the pupil's latest incidents are offered to link.
const INCIDENTS_OFFERED: i64 = 20;

/// The questions of the conversation, from the coaching seeds: field, label, hint, required.
const QUESTIONS: [(&str, &str, &str, bool); 5] = [
    (
        "what_happened",
        "What happened?",
        "The pupil's account and yours, briefly.",
        true,
    ),
    (
        "what_got_in_the_way",
        "What got in the way?",
        "What made it hard to do the right thing at that moment.",
        false,
    ),
    (
        "what_could_help",
        "What could help?",
        "What the pupil, you or others could do differently.",
        false,
    ),
    (
        "plan_next_time",
        "The plan for next time",
        "Small, clear steps the pupil agreed to.",
        true,
    ),
    (
        "good_for_everyone",
        "Good for me, good for you, good for everyone",
        "How the plan works for the pupil, for the adult, and for the class.",
        false,
    ),
];

/// The pupil and the incidents the form offers to link.
struct FormData {
    pupil: PupilView,
    incidents: Vec<IncidentRow>,
}

fn form_data(conn: &mut DbConnection, member: &StaffMember, pupil_id: i64) -> Result<FormData> {
    let pupil = pupils::get(conn, member.school_id, pupil_id)?;
    let filter = TimelineFilter {
        kinds: vec![EventKind::Incident],
        from: None,
        to: None,
        limit: INCIDENTS_OFFERED,
    };
    let incidents = timeline::for_pupil(conn, member, &pupil, &filter)?
        .into_iter()
        .filter_map(|event| match event.detail {
            EventDetail::Incident(row, _) if row.voided_at.is_none() => Some(row),
            _ => None,
        })
        .collect();
    Ok(FormData { pupil, incidents })
}

fn pupil_id(path: &str) -> Result<i64> {
    path.parse().map_err(|_| Error::NotFound("pupil"))
}

fn render(data: &FormData, values: &Fields, problem: Option<&Problem>, csrf: &str) -> Markup {
    let pupil = &data.pupil;
    let linked = values.ids_lenient("incident_ids");
    let fields_on_form = [
        "held_at",
        "with_whom",
        "what_happened",
        "what_got_in_the_way",
        "what_could_help",
        "plan_next_time",
        "good_for_everyone",
        "incident_ids",
    ];
    html! {
        h1 { "Coaching Conversation" }
        p.muted { "With " (pupil.full_name()) " · form " (pupil.form) }
        (problem_summary(problem, &fields_on_form))
        form.stack method="post" action={ "/pupils/" (pupil.id) "/conversations" } {
            (csrf_field(csrf))
            label for="held_at" { "When (London time)" }
            input #held_at type="datetime-local" name="held_at" value=(values.raw("held_at"));
            (field_problem(problem, "held_at"))
            label for="with_whom" { "With whom (optional)" }
            input #with_whom type="text" name="with_whom" maxlength=(MAX_WITH_WHOM_CHARS)
                value=(values.raw("with_whom")) placeholder="The pupil, and any other adult present";
            (field_problem(problem, "with_whom"))
            @for (field, label, hint, required) in QUESTIONS {
                label for=(field) { (label) @if !required { " (optional)" } }
                p.hint { (hint) }
                textarea id=(field) name=(field) rows="3" maxlength=(MAX_ANSWER_CHARS) required[required] { (values.raw(field)) }
                (field_problem(problem, field))
            }
            fieldset {
                legend { "The incidents it follows up" }
                @if data.incidents.is_empty() {
                    p.muted { "No incidents recorded for " (pupil.given_name) " yet." }
                }
                @for incident in &data.incidents {
                    label.choice {
                        input type="checkbox" name="incident_ids" value=(incident.id) checked[linked.contains(&incident.id)];
                        " " (local(from_db_time(incident.occurred_at))) " · " (incident.behaviour)
                    }
                }
                (field_problem(problem, "incident_ids"))
            }
            button.primary type="submit" { "Save the conversation" }
        }
        p { a href={ "/pupils/" (pupil.id) } { "Back to " (pupil.given_name) "'s timeline" } }
    }
}

/// `GET /pupils/{id}/conversations/new?incident=ID`: the conversation form, with the named
/// incidents ticked.
pub async fn new(
    SignedIn(member): SignedIn,
    session: Session,
    path: web::Path<String>,
    request: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let pupil_id = pupil_id(&path)?;
    let reader = member.clone();
    let data = state
        .db
        .transaction(move |conn| form_data(conn, &reader, pupil_id))
        .await?;
    let query = Fields::from_query(request.query_string());
    let mut values = vec![("held_at", local_input_value(Utc::now()))];
    values.extend(
        query
            .ids_lenient("incident")
            .into_iter()
            .map(|id| ("incident_ids", id.to_string())),
    );
    let values = Fields::from_pairs(values);
    let markup = with_viewer(&member, &session, |viewer| {
        page(
            "Coaching Conversation",
            viewer,
            render(&data, &values, None, viewer.csrf),
        )
    });
    Ok(html_response(StatusCode::OK, markup))
}

/// Reads the form into a conversation.
fn parse(fields: &Fields, pupil_id: i64) -> Result<NewConversation, Problem> {
    let held_at = parse_local_time("held_at", fields.get("held_at"))?;
    let incident_ids = fields.ids("incident_ids", "incident_ids")?;
    Ok(NewConversation::parse(
        &ConversationSubmission {
            pupil_id,
            held_at,
            with_whom: fields.get("with_whom"),
            what_happened: fields.get("what_happened"),
            what_got_in_the_way: fields.get("what_got_in_the_way"),
            what_could_help: fields.get("what_could_help"),
            plan_next_time: fields.get("plan_next_time"),
            good_for_everyone: fields.get("good_for_everyone"),
            incident_ids: &incident_ids,
        },
        Utc::now(),
    )?)
}

/// `POST /pupils/{id}/conversations`: stores the conversation and its links, audited; a
/// fault shows the form again with the message next to the field (400) and writes nothing.
pub async fn create(
    SignedIn(member): SignedIn,
    session: Session,
    path: web::Path<String>,
    form: CsrfForm<Fields>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let pupil_id = pupil_id(&path)?;
    let fields = form.0;
    let (school_id, staff_id) = (member.school_id, member.id);
    let outcome = match parse(&fields, pupil_id) {
        Ok(new) => state
            .db
            .write(move |conn| conversations::record(conn, school_id, staff_id, &new, Utc::now()))
            .await
            .map_err(|error| match Problem::of(&error) {
                Some(problem) if error.status() == 400 => Ok(problem),
                _ => Err(error),
            }),
        Err(problem) => Err(Ok(problem)),
    };
    match outcome {
        Ok(id) => {
            tracing::info!(
                conversation_id = id,
                pupil_id,
                "coaching conversation recorded"
            );
            Ok(see_other(&format!(
                "/pupils/{pupil_id}?recorded=conversation"
            )))
        }
        Err(Err(error)) => Err(PageError(error)),
        Err(Ok(problem)) => {
            let reader = member.clone();
            let data = state
                .db
                .transaction(move |conn| form_data(conn, &reader, pupil_id))
                .await?;
            let markup = with_viewer(&member, &session, |viewer| {
                page(
                    "Coaching Conversation",
                    viewer,
                    render(&data, &fields, Some(&problem), viewer.csrf),
                )
            });
            Ok(html_response(StatusCode::BAD_REQUEST, markup))
        }
    }
}
