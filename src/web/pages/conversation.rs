//! Recording a Coaching Conversation: when and with whom, the conversation in the shape of
//! the coaching seeds, and the incidents it follows up.

use actix_web::web;
use chrono::Utc;
use maud::{html, Markup};

use super::form::{
    local, local_input_value, parse_local_time, problem_summary, Fields, Form, Problem,
};
use super::form_page::{FormPage, PageResult, Visit};
use super::layout::csrf_field;
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
use crate::web::auth::CsrfForm;

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
        after: None,
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

impl FormPage for FormData {
    type Key = i64;
    const TITLE: &'static str = "Coaching Conversation";

    fn load(conn: &mut DbConnection, member: &StaffMember, pupil_id: i64) -> Result<Self> {
        form_data(conn, member, pupil_id)
    }

    /// Now, and the incidents named by `?incident=ID` ticked.
    fn first_values(&self, _member: &StaffMember, query: &Fields) -> Fields {
        let mut values = vec![("held_at", local_input_value(Utc::now()))];
        values.extend(
            query
                .ids_lenient("incident")
                .into_iter()
                .map(|id| ("incident_ids", id.to_string())),
        );
        Fields::from_pairs(values)
    }

    fn render(&self, form: &Form, _notice: Option<&str>, csrf: &str) -> Markup {
        render(self, form, csrf)
    }
}

fn render(data: &FormData, form: &Form, csrf: &str) -> Markup {
    let (values, problem) = (&form.values, form.problem());
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
            (form.problem_at("held_at"))
            label for="with_whom" { "With whom (optional)" }
            input #with_whom type="text" name="with_whom" maxlength=(MAX_WITH_WHOM_CHARS)
                value=(values.raw("with_whom")) placeholder="The pupil, and any other adult present";
            (form.problem_at("with_whom"))
            @for (field, label, hint, required) in QUESTIONS {
                label for=(field) { (label) @if !required { " (optional)" } }
                p.hint { (hint) }
                textarea id=(field) name=(field) rows="3" maxlength=(MAX_ANSWER_CHARS) required[required] { (values.raw(field)) }
                (form.problem_at(field))
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
                (form.problem_at("incident_ids"))
            }
            button.primary type="submit" { "Save the conversation" }
        }
        p { a href={ "/pupils/" (pupil.id) } { "Back to " (pupil.given_name) "'s timeline" } }
    }
}

/// `GET /pupils/{id}/conversations/new?incident=ID`: the conversation form, with the named
/// incidents ticked.
pub async fn new(visit: Visit, path: web::Path<String>) -> PageResult {
    visit.show::<FormData>(pupil_id(&path)?).await
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
pub async fn create(visit: Visit, path: web::Path<String>, form: CsrfForm<Fields>) -> PageResult {
    let pupil_id = pupil_id(&path)?;
    let new = parse(&form.0, pupil_id);
    visit
        .submit::<FormData, _, _>(pupil_id, form.0, new, move |conn, by, _, new| {
            let id = conversations::record(conn, by.school_id, by.id, &new, Utc::now())?;
            tracing::info!(
                conversation_id = id,
                pupil_id,
                "coaching conversation recorded"
            );
            Ok(format!("/pupils/{pupil_id}?recorded=conversation"))
        })
        .await
}
