//! The Coaching Plan and the Coaching Programme, for the people who run them: a pupil's plan
//! in force with its earlier versions and the form to agree or revise it; the pupil's
//! programme blocks with their sessions and fidelity, the form to plan the current block and
//! the block review; one session's record; and the specialist practitioner's day and week.

use std::collections::HashMap;

use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{Datelike, NaiveDate, NaiveTime, TimeDelta, Utc, Weekday};
use maud::{html, Markup};

use super::form::{
    field_problem, html_response, local, local_input_value, parse_local_time, problem_summary,
    see_other, Fields, Problem,
};
use super::layout::{csrf_field, fidelity_summary, level_chip, page};
use super::with_viewer;
use crate::db::audit::{self, Read};
use crate::db::models::{ProgrammeBlockRow, ProgrammeSessionRow};
use crate::db::notices::NoticeContext;
use crate::db::pastoral::PastoralPlace;
use crate::db::plans::{self, Agreement, PlanVersion};
use crate::db::programmes::{
    self, BlockRequest, BlockView, PractitionerSession, ReviewInput, SessionInput, SessionView,
};
use crate::db::pupils::{self, PupilView};
use crate::db::staff::{self, StaffMember};
use crate::db::{evaluation, from_db_time, DbConnection};
use crate::domain::calendar::SchoolCalendar;
use crate::domain::level::ProgrammeBlock;
use crate::domain::plan::{
    PlanSubmission, MAX_ACTION_STEPS, MAX_CRITERION_CHARS, MAX_GOALS, MAX_GOAL_CHARS,
    MAX_NAME_CHARS, MAX_PATHWAY_CHARS, MAX_STEP_CHARS,
};
use crate::domain::programme::{
    Fidelity, ReviewDecision, SessionLead, SessionOutcome, SessionPlace, MAX_NOTE_CHARS,
    MAX_RECORDED_MINUTES, MAX_SESSIONS_PER_WEEK, MAX_SESSION_MINUTES, MIN_RECORDED_MINUTES,
    MIN_SESSION_MINUTES,
};
use crate::domain::visibility::Record;
use crate::domain::{Level, Role};
use crate::error::{Error, Result};
use crate::web::auth::{require_role, CsrfForm, SignedIn};
use crate::web::error::PageError;
use crate::web::AppState;

type PageResult = std::result::Result<HttpResponse, PageError>;

/// Roles that have a practitioner's page: those who can be chosen to run sessions in school.
pub const PRACTITIONER_ROLES: [Role; 2] = [Role::Specialist, Role::Sendco];

/// Goal rows on the plan form (as many as a plan may have).
const GOAL_ROWS: usize = MAX_GOALS;
/// Action-step rows on the plan form (as many as a plan may have).
const STEP_ROWS: usize = MAX_ACTION_STEPS;
/// Goal and step rows shown open on the form; the rest wait under "More".
const ROWS_OPEN: usize = 3;

// ---------------------------------------------------------------------------------------------
// Who may see what, and small helpers
// ---------------------------------------------------------------------------------------------

/// Whether `member` may see a pupil's Coaching Plan or Coaching Programme page (`record` says
/// which), and write it while the pupil is at that level, by the one rule of
/// [`crate::domain::visibility`].
pub fn may_see(member: &StaffMember, place: PastoralPlace, record: Record) -> bool {
    member.may_read(place, record)
}

/// Whether the pupil page links to the Coaching Plan or Programme page (`record` says
/// which): for pupils at levels 4 to 6, shown to those who may see it.
pub fn links_shown(member: &StaffMember, pupil: &PupilView, record: Record) -> bool {
    (Level::Plan..=Level::Provision).contains(&pupil.level)
        && may_see(member, pupil.place(), record)
}

/// Loads a pupil of the member's school whose plan or programme (`record`) the member may
/// see.
fn pupil_seen_by(
    conn: &mut DbConnection,
    member: &StaffMember,
    id: i64,
    record: Record,
) -> Result<PupilView> {
    let pupil = pupils::get(conn, member.school_id, id)?;
    if !may_see(member, pupil.place(), record) {
        return Err(Error::Forbidden(
            "a pupil's Coaching Plan and Programme are for their Head of Year or Head of House, the SENDCO and SLT"
                .into(),
        ));
    }
    Ok(pupil)
}

fn pupil_id_of(path: &str) -> Result<i64> {
    path.parse().map_err(|_| Error::NotFound("pupil"))
}

/// The school's staff names by id, to say who ran, recorded or reviewed something.
fn staff_names(conn: &mut DbConnection, school_id: i64) -> Result<HashMap<i64, String>> {
    Ok(staff::list(conn, school_id, None)?
        .into_iter()
        .map(|m| (m.id, m.name))
        .collect())
}

fn name_in(names: &HashMap<i64, String>, id: i64) -> &str {
    names
        .get(&id)
        .map_or("a former member of staff", String::as_str)
}

fn day(on: NaiveDate) -> String {
    on.format("%a %-d %b %Y").to_string()
}

fn short_day(on: NaiveDate) -> String {
    on.format("%a %-d %b").to_string()
}

/// The problem a refused change describes, for the form: some messages start with their
/// field ("reason: ..."), which the form already says by showing it at the field.
fn problem_of(error: &Error) -> Option<Problem> {
    let mut problem = Problem::of(error)?;
    if let Some(field) = &problem.field {
        if let Some(rest) = problem.message.strip_prefix(&format!("{field}: ")) {
            problem.message = rest.to_string();
        }
    }
    Some(problem)
}

/// The status a refused change is shown with (400, 409 or 422), or `None` when the error is
/// not one the person can put right in the form.
fn refused_status(error: &Error) -> Option<StatusCode> {
    [400, 409, 422]
        .contains(&error.status())
        .then(|| StatusCode::from_u16(error.status()).unwrap_or(StatusCode::BAD_REQUEST))
}

fn problem(field: &str, message: impl Into<String>) -> Problem {
    Problem {
        field: Some(field.to_string()),
        message: message.into(),
    }
}

/// A `date` input's value; blank is `None`.
fn date_in(field: &str, raw: Option<&str>) -> std::result::Result<Option<NaiveDate>, Problem> {
    let Some(raw) = raw.map(str::trim).filter(|r| !r.is_empty()) else {
        return Ok(None);
    };
    NaiveDate::parse_from_str(raw, "%Y-%m-%d")
        .map(Some)
        .map_err(|_| problem(field, "must be a date, such as 2026-11-23"))
}

/// A whole number typed into a field; blank is `None`.
fn number_in(field: &str, raw: Option<&str>) -> std::result::Result<Option<u32>, Problem> {
    raw.map(|r| {
        r.trim()
            .parse::<u32>()
            .map_err(|_| problem(field, "must be a whole number"))
    })
    .transpose()
}

/// The names of fields in a list, for [`problem_summary`].
fn as_strs(names: &[String]) -> Vec<&str> {
    names.iter().map(String::as_str).collect()
}

// ---------------------------------------------------------------------------------------------
// The Coaching Plan
// ---------------------------------------------------------------------------------------------

fn goal_field(row: usize) -> String {
    format!("goal_{row}")
}

fn criterion_field(row: usize) -> String {
    format!("success_criterion_{row}")
}

fn step_what_field(row: usize) -> String {
    format!("step_what_{row}")
}

fn step_owner_field(row: usize) -> String {
    format!("step_owner_{row}")
}

fn step_by_field(row: usize) -> String {
    format!("step_by_{row}")
}

/// Every field of the plan form, for [`problem_summary`].
fn plan_fields() -> Vec<String> {
    let mut names: Vec<String> = [
        "goals",
        "action_steps",
        "pathway_to_independence",
        "review_on",
        "agreed_with",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    for row in 1..=GOAL_ROWS {
        names.extend([goal_field(row), criterion_field(row)]);
    }
    for row in 1..=STEP_ROWS {
        names.extend([
            step_what_field(row),
            step_owner_field(row),
            step_by_field(row),
        ]);
    }
    names
}

/// What the plan page shows.
struct PlanPage {
    pupil: PupilView,
    /// Newest first: the first is the plan in force.
    versions: Vec<PlanVersion>,
    names: HashMap<i64, String>,
}

fn load_plan_page(conn: &mut DbConnection, member: &StaffMember, id: i64) -> Result<PlanPage> {
    let pupil = pupil_seen_by(conn, member, id, Record::Plan)?;
    Ok(PlanPage {
        versions: plans::versions(conn, member.school_id, pupil.id)?,
        names: staff_names(conn, member.school_id)?,
        pupil,
    })
}

/// The plan form filled from the plan in force (or empty), with the meeting it is agreed in.
fn plan_values(current: Option<&PlanVersion>, meeting: Option<i64>) -> Fields {
    let mut pairs: Vec<(String, String)> = Vec::new();
    if let Some(version) = current {
        for (i, goal) in version.goals.iter().enumerate() {
            pairs.push((goal_field(i + 1), goal.text.clone()));
            pairs.push((criterion_field(i + 1), goal.success_criterion.clone()));
        }
        for (i, step) in version.action_steps.iter().enumerate() {
            pairs.push((step_what_field(i + 1), step.what.clone()));
            pairs.push((step_owner_field(i + 1), step.owner.clone()));
            pairs.push((step_by_field(i + 1), step.by_when.to_string()));
        }
        pairs.push((
            "pathway_to_independence".into(),
            version.row.pathway_to_independence.clone(),
        ));
        pairs.push(("review_on".into(), version.row.review_on.to_string()));
        pairs.push((
            "agreed_with".into(),
            version.row.agreed_with.clone().unwrap_or_default(),
        ));
    }
    if let Some(meeting) = meeting {
        pairs.push(("meeting_id".into(), meeting.to_string()));
    }
    Fields::from_pairs(pairs.iter().map(|(n, v)| (n.as_str(), v.clone())))
}

/// A plan as submitted through the form: blank rows left out, with the form row each kept
/// goal and step came from, so a problem can be shown at its row.
struct PlanForm {
    goals: Vec<(String, String)>,
    goal_rows: Vec<usize>,
    pathway: String,
    steps: Vec<(String, String, Option<NaiveDate>)>,
    step_rows: Vec<usize>,
    review_on: Option<NaiveDate>,
    agreed_with: Option<String>,
    meeting_id: Option<i64>,
}

fn read_plan(fields: &Fields) -> std::result::Result<PlanForm, Problem> {
    let mut plan = PlanForm {
        goals: Vec::new(),
        goal_rows: Vec::new(),
        pathway: fields.raw("pathway_to_independence").to_string(),
        steps: Vec::new(),
        step_rows: Vec::new(),
        review_on: date_in("review_on", fields.get("review_on"))?,
        agreed_with: fields.get("agreed_with").map(str::to_string),
        meeting_id: None,
    };
    for row in 1..=GOAL_ROWS {
        let goal = fields.raw(&goal_field(row));
        let criterion = fields.raw(&criterion_field(row));
        if goal.trim().is_empty() && criterion.trim().is_empty() {
            continue;
        }
        plan.goals.push((goal.to_string(), criterion.to_string()));
        plan.goal_rows.push(row);
    }
    for row in 1..=STEP_ROWS {
        let what = fields.raw(&step_what_field(row));
        let owner = fields.raw(&step_owner_field(row));
        let by = fields.raw(&step_by_field(row));
        if [what, owner, by].iter().all(|v| v.trim().is_empty()) {
            continue;
        }
        let by_when = date_in(&step_by_field(row), Some(by))?;
        plan.steps
            .push((what.to_string(), owner.to_string(), by_when));
        plan.step_rows.push(row);
    }
    if let Some(raw) = fields.get("meeting_id") {
        let id = raw
            .parse()
            .map_err(|_| problem("meeting_id", "is not a meeting's number"))?;
        plan.meeting_id = Some(id);
    }
    Ok(plan)
}

/// Moves a problem with a goal or an action step to the row of the form it came from: the
/// plan's check counts only the rows kept ("... (goal 2)"), and blank rows were left out.
fn at_row(problem: Problem, goal_rows: &[usize], step_rows: &[usize]) -> Problem {
    type FieldName = fn(usize) -> String;
    let (item, rows, name): (&str, &[usize], FieldName) = match problem.field.as_deref() {
        Some("goal") => ("goal", goal_rows, goal_field),
        Some("success_criterion") => ("goal", goal_rows, criterion_field),
        Some("what") => ("action step", step_rows, step_what_field),
        Some("owner") => ("action step", step_rows, step_owner_field),
        Some("by_when") => ("action step", step_rows, step_by_field),
        _ => return problem,
    };
    let marker = format!(" ({item} ");
    let Some(at) = problem.message.rfind(&marker) else {
        return problem;
    };
    let row = problem.message[at + marker.len()..]
        .trim_end_matches(')')
        .parse::<usize>()
        .ok()
        .and_then(|n| n.checked_sub(1))
        .and_then(|i| rows.get(i).copied());
    match row {
        Some(row) => Problem {
            field: Some(name(row)),
            message: format!("{} ({item} {row})", &problem.message[..at]),
        },
        None => problem,
    }
}

/// How many rows of a repeated group the form shows open: those filled, one more, and at
/// least [`ROWS_OPEN`]; also any row a problem is about.
fn rows_open(
    values: &Fields,
    rows: usize,
    names: &[fn(usize) -> String],
    problem: Option<&Problem>,
) -> usize {
    let used = |row: usize| {
        names.iter().any(|name| {
            let field = name(row);
            !values.raw(&field).trim().is_empty() || problem.is_some_and(|p| p.is_about(&field))
        })
    };
    let last = (1..=rows).filter(|row| used(*row)).max().unwrap_or(0);
    (last + 1).max(ROWS_OPEN).min(rows)
}

fn goal_row(row: usize, values: &Fields, problem: Option<&Problem>) -> Markup {
    let (goal, criterion) = (goal_field(row), criterion_field(row));
    html! {
        fieldset.plan-row {
            legend { "Goal " (row) }
            label for=(goal) { "The goal, in words the pupil understands" }
            input id=(goal) type="text" name=(goal) maxlength=(MAX_GOAL_CHARS) value=(values.raw(&goal));
            (field_problem(problem, &goal))
            label for=(criterion) { "How everyone will know it is met" }
            input id=(criterion) type="text" name=(criterion) maxlength=(MAX_CRITERION_CHARS) value=(values.raw(&criterion));
            (field_problem(problem, &criterion))
        }
    }
}

fn step_row(row: usize, values: &Fields, problem: Option<&Problem>) -> Markup {
    let (what, owner, by) = (
        step_what_field(row),
        step_owner_field(row),
        step_by_field(row),
    );
    html! {
        fieldset.plan-row {
            legend { "Step " (row) }
            label for=(what) { "What will be done" }
            input id=(what) type="text" name=(what) maxlength=(MAX_STEP_CHARS) value=(values.raw(&what));
            (field_problem(problem, &what))
            label for=(owner) { "Who does it" }
            input id=(owner) type="text" name=(owner) maxlength=(MAX_NAME_CHARS) value=(values.raw(&owner));
            (field_problem(problem, &owner))
            label for=(by) { "Done by" }
            input id=(by) type="date" name=(by) value=(values.raw(&by));
            (field_problem(problem, &by))
        }
    }
}

/// One version of a plan, as agreed.
fn plan_version(
    version: &PlanVersion,
    names: &HashMap<i64, String>,
    in_force: bool,
    today: NaiveDate,
) -> Markup {
    let row = &version.row;
    html! {
        h3 { "Goals" }
        ol.goals {
            @for goal in &version.goals {
                li {
                    strong { (goal.text) }
                    br;
                    span.muted { "Success criterion: " } (goal.success_criterion)
                }
            }
        }
        h3 { "Pathway to Independence" }
        p.note { (row.pathway_to_independence) }
        h3 { "Action steps" }
        div.table-scroll {
            table.steps {
                thead { tr { th { "What" } th { "Who" } th { "Done by" } } }
                tbody {
                    @for step in &version.action_steps {
                        tr { td { (step.what) } td { (step.owner) } td { (day(step.by_when)) } }
                    }
                }
            }
        }
        dl.facts {
            dt { "Review date" }
            dd {
                (day(row.review_on))
                @if in_force && version.review_due(today) { " " span.tag.alert { "review due" } }
            }
            dt { "Agreed with" }
            dd { (row.agreed_with.as_deref().unwrap_or("not recorded")) }
            dt { "Written by" }
            dd { (name_in(names, row.created_by)) " on " (local(from_db_time(row.created_at))) }
            @if let Some(meeting) = row.meeting_id {
                dt { "Agreed at" }
                dd { a href={ "/meetings/" (meeting) } { "the Coaching Plan meeting" } }
            }
        }
    }
}

fn plan_form(data: &PlanPage, values: &Fields, problem: Option<&Problem>, csrf: &str) -> Markup {
    let pupil = &data.pupil;
    let revising = !data.versions.is_empty();
    let goals_open = rows_open(values, GOAL_ROWS, &[goal_field, criterion_field], problem);
    let steps_open = rows_open(
        values,
        STEP_ROWS,
        &[step_what_field, step_owner_field, step_by_field],
        problem,
    );
    html! {
        section.card #plan-form {
            h2 { @if revising { "Revise the plan" } @else { "Agree the plan" } }
            p.hint {
                @if revising {
                    "The form starts from the plan in force. Saving keeps it as a new version; the earlier ones stay as they were."
                } @else {
                    "Agree the plan with the pupil and their parent or carer: a few small, clear goals, how everyone will know each is met, the Pathway to Independence and the steps to get there."
                }
            }
            form.stack method="post" action={ "/pupils/" (pupil.id) "/plan" } {
                (csrf_field(csrf))
                @if let Some(meeting) = values.get("meeting_id") {
                    input type="hidden" name="meeting_id" value=(meeting);
                }
                fieldset {
                    legend { "Goals (1 to " (GOAL_ROWS) ", most important first)" }
                    (field_problem(problem, "goals"))
                    @for row in 1..=goals_open { (goal_row(row, values, problem)) }
                    @if goals_open < GOAL_ROWS {
                        details {
                            summary { "More goals" }
                            @for row in (goals_open + 1)..=GOAL_ROWS { (goal_row(row, values, problem)) }
                        }
                    }
                }
                label for="pathway_to_independence" { "Pathway to Independence" }
                p.hint { "How the pupil will come to manage without this support." }
                textarea #pathway_to_independence name="pathway_to_independence" rows="4" maxlength=(MAX_PATHWAY_CHARS) {
                    (values.raw("pathway_to_independence"))
                }
                (field_problem(problem, "pathway_to_independence"))
                fieldset {
                    legend { "Action steps (1 to " (STEP_ROWS) ")" }
                    p.hint { "Small, clear steps, each with who does it and the date it is done by (on or before the review)." }
                    (field_problem(problem, "action_steps"))
                    @for row in 1..=steps_open { (step_row(row, values, problem)) }
                    @if steps_open < STEP_ROWS {
                        details {
                            summary { "More action steps" }
                            @for row in (steps_open + 1)..=STEP_ROWS { (step_row(row, values, problem)) }
                        }
                    }
                }
                label for="review_on" { "Review date" }
                input #review_on type="date" name="review_on" value=(values.raw("review_on"));
                (field_problem(problem, "review_on"))
                label for="agreed_with" { "Agreed with (optional)" }
                p.hint { "The parent or carer, and anyone else, by name." }
                input #agreed_with type="text" name="agreed_with" maxlength=(MAX_NAME_CHARS * 3) value=(values.raw("agreed_with"));
                (field_problem(problem, "agreed_with"))
                p.hint { "Rows left blank are left out." }
                button.primary type="submit" { @if revising { "Save the new version" } @else { "Save the plan" } }
            }
        }
    }
}

fn render_plan(
    data: &PlanPage,
    values: &Fields,
    problem: Option<&Problem>,
    notice: Option<&str>,
    csrf: &str,
) -> Markup {
    let pupil = &data.pupil;
    let today = SchoolCalendar::local_date(Utc::now());
    let fields = plan_fields();
    html! {
        h1 { "Coaching Plan" }
        p {
            a href={ "/pupils/" (pupil.id) } { (pupil.full_name()) }
            " · Year " (pupil.year) " · " (level_chip(pupil.level))
            " · " a href={ "/pupils/" (pupil.id) "/programme" } { "Programme" }
        }
        @if let Some(notice) = notice { p.notice role="status" { (notice) } }
        (problem_summary(problem, &as_strs(&fields)))
        @match data.versions.split_first() {
            Some((current, earlier)) => {
                section.card.plan #plan {
                    h2 { "The plan in force: version " (current.row.version) }
                    (plan_version(current, &data.names, true, today))
                }
                @if !earlier.is_empty() {
                    section.card.plan-history {
                        h2 { "Earlier versions" }
                        @for version in earlier {
                            details.plan-version {
                                summary {
                                    "Version " (version.row.version) ", written "
                                    (local(from_db_time(version.row.created_at)))
                                }
                                (plan_version(version, &data.names, false, today))
                            }
                        }
                    }
                }
            }
            None => { p.muted { "No Coaching Plan has been agreed yet." } }
        }
        @if pupil.level >= Level::Plan {
            (plan_form(data, values, problem, csrf))
        } @else {
            p.muted {
                "A Coaching Plan is agreed at level 4 (Coaching Plan); "
                (pupil.full_name()) " is at " (pupil.level.title()) "."
            }
        }
    }
}

fn plan_notice(done: Option<&str>) -> Option<&'static str> {
    match done? {
        "agreed" => Some("The Coaching Plan is saved."),
        "revised" => Some("The new version is saved; the earlier one is kept below."),
        _ => None,
    }
}

/// `GET /pupils/{id}/plan?meeting=ID`: the pupil's Coaching Plan in force, every earlier
/// version, and the form to agree or revise it (within the Coaching Plan meeting `ID`).
pub async fn show_plan(
    SignedIn(member): SignedIn,
    session: Session,
    path: web::Path<String>,
    request: HttpRequest,
    state: web::Data<AppState>,
) -> PageResult {
    let pupil_id = pupil_id_of(&path)?;
    let query = Fields::from_query(request.query_string());
    let meeting = query.get("meeting").and_then(|m| m.parse::<i64>().ok());
    let viewer = member.clone();
    let data = state
        .db
        .write(move |conn| {
            let data = load_plan_page(conn, &viewer, pupil_id)?;
            audit::record_read(conn, &viewer, Read::Plan, Some(pupil_id), String::new())?;
            Ok(data)
        })
        .await?;
    let values = plan_values(data.versions.first(), meeting);
    let markup = with_viewer(&member, &session, |viewer| {
        page(
            "Coaching Plan",
            viewer,
            render_plan(
                &data,
                &values,
                None,
                plan_notice(query.get("done")),
                viewer.csrf,
            ),
        )
    });
    Ok(html_response(StatusCode::OK, markup))
}

/// Shows the plan page again with what was typed and the problem.
async fn plan_again(
    member: StaffMember,
    session: &Session,
    state: &web::Data<AppState>,
    pupil_id: i64,
    fields: &Fields,
    problem: Problem,
    status: StatusCode,
) -> PageResult {
    let viewer = member.clone();
    let data = state
        .db
        .transaction(move |conn| load_plan_page(conn, &viewer, pupil_id))
        .await?;
    let markup = with_viewer(&member, session, |viewer| {
        page(
            "Coaching Plan",
            viewer,
            render_plan(&data, fields, Some(&problem), None, viewer.csrf),
        )
    });
    Ok(html_response(status, markup))
}

/// `POST /pupils/{id}/plan`: stores the plan as the pupil's next version (blank rows left
/// out), then shows the page again; a plan that does not check out is shown again with the
/// problem at its field, and nothing is stored.
pub async fn save_plan(
    SignedIn(member): SignedIn,
    session: Session,
    path: web::Path<String>,
    form: CsrfForm<Fields>,
    state: web::Data<AppState>,
) -> PageResult {
    let pupil_id = pupil_id_of(&path)?;
    let fields = form.0;
    let plan = match read_plan(&fields) {
        Ok(plan) => plan,
        Err(problem) => {
            return plan_again(
                member,
                &session,
                &state,
                pupil_id,
                &fields,
                problem,
                StatusCode::BAD_REQUEST,
            )
            .await
        }
    };
    let (goal_rows, step_rows) = (plan.goal_rows.clone(), plan.step_rows.clone());
    let by = member.clone();
    let saved = state
        .db
        .write(move |conn| {
            let goals: Vec<(&str, &str)> = plan
                .goals
                .iter()
                .map(|(goal, criterion)| (goal.as_str(), criterion.as_str()))
                .collect();
            let steps: Vec<(&str, &str, Option<NaiveDate>)> = plan
                .steps
                .iter()
                .map(|(what, owner, by_when)| (what.as_str(), owner.as_str(), *by_when))
                .collect();
            let submission = PlanSubmission {
                goals: &goals,
                pathway_to_independence: &plan.pathway,
                action_steps: &steps,
                review_on: plan.review_on,
            };
            let agreement = Agreement {
                pupil_id,
                plan: &submission,
                agreed_with: plan.agreed_with.as_deref(),
                meeting_id: plan.meeting_id,
            };
            plans::agree(conn, &by, &agreement, Utc::now())
        })
        .await;
    match saved {
        Ok(version) => {
            let done = if version.row.version == 1 {
                "agreed"
            } else {
                "revised"
            };
            Ok(see_other(&format!("/pupils/{pupil_id}/plan?done={done}")))
        }
        Err(error) => match (problem_of(&error), refused_status(&error)) {
            (Some(problem), Some(status)) => {
                let problem = at_row(problem, &goal_rows, &step_rows);
                plan_again(member, &session, &state, pupil_id, &fields, problem, status).await
            }
            _ => Err(PageError(error)),
        },
    }
}

// ---------------------------------------------------------------------------------------------
// The Coaching Programme
// ---------------------------------------------------------------------------------------------

/// Fields of the form that plans a block.
const BLOCK_FIELDS: [&str; 9] = [
    "starts_on",
    "sessions_per_week",
    "weekdays",
    "minutes",
    "time",
    "place",
    "led_by",
    "practitioner_id",
    "practitioner_name",
];

/// Fields of the block review form.
const REVIEW_FIELDS: [&str; 4] = ["held_at", "decision", "summary", "reason"];

/// The weekdays sessions may fall on, with their stored names.
const WEEKDAYS: [(Weekday, &str, &str); 5] = [
    (Weekday::Mon, "mon", "Monday"),
    (Weekday::Tue, "tue", "Tuesday"),
    (Weekday::Wed, "wed", "Wednesday"),
    (Weekday::Thu, "thu", "Thursday"),
    (Weekday::Fri, "fri", "Friday"),
];

/// The days offered first when nothing was planned before: spread over the week.
const SPREAD_DAYS: [&str; 5] = ["mon", "wed", "fri", "tue", "thu"];

/// What the programme page shows.
struct ProgrammePage {
    pupil: PupilView,
    /// Newest first.
    blocks: Vec<BlockView>,
    plan: Option<PlanVersion>,
    practitioners: Vec<StaffMember>,
    names: HashMap<i64, String>,
    /// The block to plan now: the pupil is on the programme with no block running.
    to_plan: Option<ProgrammeBlock>,
    /// The fewest sessions a week the school's policy asks for.
    min_per_week: u32,
    /// The first school day after today, where a new block starts unless changed.
    next_school_day: NaiveDate,
    today: NaiveDate,
}

impl ProgrammePage {
    fn running(&self) -> Option<&BlockView> {
        self.blocks.iter().find(|b| b.block.status == "running")
    }
}

fn load_programme_page(
    conn: &mut DbConnection,
    member: &StaffMember,
    id: i64,
) -> Result<ProgrammePage> {
    let pupil = pupil_seen_by(conn, member, id, Record::Programme)?;
    let today = SchoolCalendar::local_date(Utc::now());
    let blocks = programmes::blocks_for(conn, member.school_id, pupil.id, today)?;
    let running = blocks.iter().any(|b| b.block.status == "running");
    let to_plan = if pupil.level == Level::Programme && !running {
        programmes::block_due(conn, member.school_id, pupil.id)?
    } else {
        None
    };
    let rules = evaluation::load_rules(conn, member.school_id)?;
    let next_school_day = today
        .iter_days()
        .skip(1)
        .take(60)
        .find(|d| rules.calendar.is_school_day(*d))
        .unwrap_or(today);
    Ok(ProgrammePage {
        plan: plans::current(conn, member.school_id, pupil.id)?,
        practitioners: programmes::practitioners(conn, member.school_id)?,
        names: staff_names(conn, member.school_id)?,
        min_per_week: rules
            .policy
            .programme_sessions_per_week
            .clamp(1, MAX_SESSIONS_PER_WEEK),
        blocks,
        to_plan,
        next_school_day,
        today,
        pupil,
    })
}

/// The forms filled for a first visit: the block planned like the one before (or three
/// sessions a week in school), and the review held now.
fn programme_values(data: &ProgrammePage) -> Fields {
    let previous = data.blocks.first().map(|b| &b.block);
    let per_week = previous.map_or(3_u32.max(data.min_per_week), |b| {
        u32::try_from(b.sessions_per_week).unwrap_or(3)
    });
    let mut pairs: Vec<(&str, String)> = vec![
        ("starts_on", data.next_school_day.to_string()),
        ("sessions_per_week", per_week.to_string()),
        (
            "minutes",
            previous.map_or(MIN_SESSION_MINUTES.to_string(), |b| b.minutes.to_string()),
        ),
        (
            "time",
            previous
                .and_then(|b| b.session_time.clone())
                .unwrap_or_default(),
        ),
        (
            "place",
            previous.map_or(SessionPlace::InSchool.as_str().to_string(), |b| {
                b.place.clone()
            }),
        ),
        (
            "led_by",
            previous.map_or(SessionLead::SpecialistStaff.as_str().to_string(), |b| {
                b.led_by.clone()
            }),
        ),
        (
            "practitioner_id",
            previous
                .and_then(|b| b.practitioner_id)
                .map(|id| id.to_string())
                .unwrap_or_default(),
        ),
        (
            "practitioner_name",
            previous
                .and_then(|b| b.practitioner_name.clone())
                .unwrap_or_default(),
        ),
        ("held_at", local_input_value(Utc::now())),
    ];
    match previous {
        Some(block) => pairs.extend(
            block
                .weekdays
                .split(',')
                .filter(|d| !d.is_empty())
                .map(|d| ("weekdays", d.to_string())),
        ),
        None => pairs.extend(
            SPREAD_DAYS
                .iter()
                .take(per_week as usize)
                .map(|d| ("weekdays", (*d).to_string())),
        ),
    }
    Fields::from_pairs(pairs)
}

fn place_title(raw: &str) -> &str {
    SessionPlace::parse(raw).map_or(raw, |v| v.title())
}

fn lead_title(raw: &str) -> &str {
    SessionLead::parse(raw).map_or(raw, |v| v.title())
}

fn outcome_title(raw: &str) -> &str {
    SessionOutcome::parse(raw).map_or(raw, |v| v.title())
}

fn decision_title(raw: &str) -> &str {
    ReviewDecision::parse(raw).map_or(raw, |v| v.title())
}

/// Who runs a block's sessions, by name.
fn runner(block: &ProgrammeBlockRow, names: &HashMap<i64, String>) -> String {
    let who = match (block.practitioner_id, &block.practitioner_name) {
        (Some(id), _) => name_in(names, id).to_string(),
        (None, Some(name)) => name.clone(),
        (None, None) => "not named".to_string(),
    };
    format!("{}: {who}", lead_title(&block.led_by))
}

fn weekday_titles(stored: &str) -> String {
    stored
        .split(',')
        .filter_map(|d| WEEKDAYS.iter().find(|(_, short, _)| *short == d.trim()))
        .map(|(_, _, long)| *long)
        .collect::<Vec<_>>()
        .join(", ")
}

fn lost_days(stored: &str) -> Vec<NaiveDate> {
    stored
        .split(',')
        .filter_map(|d| NaiveDate::parse_from_str(d.trim(), "%Y-%m-%d").ok())
        .collect()
}

/// What a session's row says it is: its outcome, or that it is waiting.
fn session_status(session: &ProgrammeSessionRow, today: NaiveDate) -> Markup {
    html! {
        @match session.outcome.as_deref() {
            Some(outcome) => span class={ "tag outcome-" (outcome) } { (outcome_title(outcome)) },
            None if session.on_date < today => span.tag.alert { "Not recorded" },
            None if session.on_date == today => span.tag { "Today" },
            None => span.tag { "Upcoming" },
        }
    }
}

fn sessions_table(view: &BlockView, names: &HashMap<i64, String>, today: NaiveDate) -> Markup {
    let running = view.block.status == "running";
    html! {
        div.table-scroll {
            table.sessions {
                thead {
                    tr { th { "Date" } th { "Time" } th { "What happened" } th.num { "Minutes" } th { "Who" } th { "Note or reason" } }
                }
                tbody {
                    @for session in &view.sessions {
                        @let overdue = session.outcome.is_none() && session.on_date < today;
                        tr class=[overdue.then_some("overdue")] id={ "session-" (session.id) } {
                            td {
                                @if running {
                                    a href={ "/sessions/" (session.id) } { (short_day(session.on_date)) }
                                } @else {
                                    (short_day(session.on_date))
                                }
                                @if session.is_final { " " span.tag { "final" } }
                            }
                            td { (session.session_time.as_deref().unwrap_or("")) }
                            td {
                                (session_status(session, today))
                                @if session.is_final {
                                    @match session.parent_attended {
                                        Some(true) => { br; span.small { "Parent or carer attended the end" } },
                                        Some(false) => { br; span.small { "Parent or carer did not attend" } },
                                        None => {},
                                    }
                                }
                            }
                            td.num { @if let Some(minutes) = session.minutes { (minutes) } }
                            td {
                                @if let Some(by) = &session.delivered_by { (by) }
                                @else if let Some(id) = session.recorded_by { span.muted { "recorded by " (name_in(names, id)) } }
                            }
                            td.note {
                                @if let Some(note) = &session.note { (note) }
                                @if let Some(reason) = &session.reason {
                                    @if session.note.is_some() { br; }
                                    span.muted { "Reason: " } (reason)
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn block_card(view: &BlockView, data: &ProgrammePage) -> Markup {
    let block = &view.block;
    let counts = view.fidelity;
    let lost = lost_days(&block.lost_to_closures);
    let at_review = match (block.delivered_at_review, block.planned_at_review) {
        (Some(delivered), Some(planned)) => Some(Fidelity::new(
            u32::try_from(delivered).unwrap_or(0),
            u32::try_from(planned).unwrap_or(0),
        )),
        _ => None,
    };
    html! {
        section.card.block id={ "block-" (block.id) } {
            h2 {
                (block.weeks) "-week block "
                @match block.status.as_str() {
                    "running" => span.tag { "running" },
                    "reviewed" => span.tag { "reviewed" },
                    _ => span.tag { "ended without a review" },
                }
            }
            dl.facts {
                dt { "Dates" } dd { (day(block.starts_on)) " to " (day(block.ends_on)) }
                dt { "Sessions" }
                dd {
                    (block.sessions_per_week) " a week (" (weekday_titles(&block.weekdays)) "), "
                    (block.minutes) " minutes"
                    @if let Some(time) = &block.session_time { ", at " (time) }
                }
                dt { "Where" } dd { (place_title(&block.place)) }
                dt { "Run by" } dd { (runner(block, &data.names)) }
                dt { "Fidelity" }
                dd {
                    @match at_review {
                        Some(fidelity) => { (fidelity_summary(fidelity)) " at the review" },
                        None => { (fidelity_summary(counts.fidelity)) },
                    }
                    br;
                    span.small.counts {
                        "Pupil absent " (counts.pupil_absent)
                        " · not delivered " (counts.not_delivered)
                        " · not recorded " (counts.unrecorded)
                        " · upcoming " (counts.upcoming)
                    }
                }
                @if !lost.is_empty() {
                    dt { "Lost to closures" }
                    dd { @for (i, on) in lost.iter().enumerate() { @if i > 0 { ", " } (short_day(*on)) } }
                }
                @if let Some(decision) = &block.decision {
                    dt { "Review decision" }
                    dd {
                        strong { (decision_title(decision)) }
                        @if let Some(at) = block.reviewed_at { " on " (local(from_db_time(at))) }
                        @if let Some(by) = block.reviewed_by { " by " (name_in(&data.names, by)) }
                    }
                    @if let Some(reason) = &block.decision_reason {
                        dt { "Reason" } dd.note { (reason) }
                    }
                }
            }
            (sessions_table(view, &data.names, data.today))
        }
    }
}

fn radio(name: &str, value: &str, values: &Fields, label: &str) -> Markup {
    html! {
        label.choice {
            input type="radio" name=(name) value=(value) checked[values.raw(name) == value];
            " " (label)
        }
    }
}

fn plan_block_form(
    data: &ProgrammePage,
    block: ProgrammeBlock,
    values: &Fields,
    problem: Option<&Problem>,
    csrf: &str,
) -> Markup {
    let chosen_days: Vec<&str> = values.all("weekdays").collect();
    let chosen_practitioner = values.get("practitioner_id");
    html! {
        section.card #plan-block {
            h2 { "Plan the " (block.weeks()) "-week block" }
            @if data.plan.is_none() {
                p.error {
                    "Agree the Coaching Plan first: the programme works on its goals. "
                    a href={ "/pupils/" (data.pupil.id) "/plan" } { "Go to the Coaching Plan" }
                }
            } @else {
                p.hint {
                    "Sessions last " (MIN_SESSION_MINUTES) " to " (MAX_SESSION_MINUTES) " minutes, at least "
                    (data.min_per_week) " times a week (ideally three). A session on a day the school is closed is not moved: it is shown as lost."
                }
                form.stack method="post" action={ "/pupils/" (data.pupil.id) "/programme/blocks" } {
                    (csrf_field(csrf))
                    label for="starts_on" { "First day (a school day)" }
                    input #starts_on type="date" name="starts_on" required min=(data.today.to_string()) value=(values.raw("starts_on"));
                    (field_problem(problem, "starts_on"))
                    label for="sessions_per_week" { "Sessions a week" }
                    input #sessions_per_week type="number" name="sessions_per_week" required min=(data.min_per_week) max=(MAX_SESSIONS_PER_WEEK) value=(values.raw("sessions_per_week"));
                    (field_problem(problem, "sessions_per_week"))
                    fieldset {
                        legend { "On these days (one for each session)" }
                        @for (_, short, long) in WEEKDAYS {
                            label.choice {
                                input type="checkbox" name="weekdays" value=(short) checked[chosen_days.contains(&short)];
                                " " (long)
                            }
                        }
                        (field_problem(problem, "weekdays"))
                    }
                    label for="minutes" { "Minutes each session" }
                    input #minutes type="number" name="minutes" required min=(MIN_SESSION_MINUTES) max=(MAX_SESSION_MINUTES) value=(values.raw("minutes"));
                    (field_problem(problem, "minutes"))
                    label for="time" { "Start time (optional)" }
                    input #time type="time" name="time" value=(values.raw("time"));
                    (field_problem(problem, "time"))
                    fieldset {
                        legend { "Where" }
                        @for place in SessionPlace::ALL { (radio("place", place.as_str(), values, place.title())) }
                        (field_problem(problem, "place"))
                    }
                    fieldset {
                        legend { "Who runs the sessions" }
                        p.hint { "In school: a specialist practitioner on the staff or an outside professional. At home: a parent or carer, a coach or an outside professional." }
                        @for lead in SessionLead::ALL { (radio("led_by", lead.as_str(), values, lead.title())) }
                        (field_problem(problem, "led_by"))
                    }
                    label for="practitioner_id" { "The specialist practitioner (when one on the staff runs them)" }
                    select #practitioner_id name="practitioner_id" {
                        option value="" { "Choose" }
                        @for member in &data.practitioners {
                            @let id = member.id.to_string();
                            option value=(id) selected[chosen_practitioner == Some(id.as_str())] { (member.name) }
                        }
                    }
                    (field_problem(problem, "practitioner_id"))
                    label for="practitioner_name" { "Their name (when someone else runs them)" }
                    input #practitioner_name type="text" name="practitioner_name" maxlength=(MAX_NAME_CHARS) value=(values.raw("practitioner_name"));
                    (field_problem(problem, "practitioner_name"))
                    button.primary type="submit" { "Plan the block" }
                }
            }
        }
    }
}

fn review_form(view: &BlockView, values: &Fields, problem: Option<&Problem>, csrf: &str) -> Markup {
    let block = &view.block;
    let last = view.programme_block().is_ok_and(ProgrammeBlock::is_last);
    let review_day = view.final_session().map(|s| s.on_date);
    html! {
        section.card #review {
            h2 { "Review the " (block.weeks) "-week block" }
            p {
                "Fidelity so far: " (fidelity_summary(view.fidelity.fidelity))
                @if let Some(on) = review_day { br; span.muted { "The review falls on the final session's day, " (day(on)) "." } }
            }
            ul.hint {
                li { "Moving on (to the next block or to a Bespoke Provision Map) when fewer than 80% of the planned sessions were delivered needs a reason: was the support actually given?" }
                li { "A Bespoke Provision Map before the 6-week block has been reviewed is an SLT or SENDCO decision, and needs a reason." }
                @if last { li { "The 6-week block is the last: after it, the goals are met or a Bespoke Provision Map follows." } }
            }
            form.stack method="post" action={ "/programme/blocks/" (block.id) "/review" } {
                (csrf_field(csrf))
                label for="held_at" { "When the review was held (London time)" }
                input #held_at type="datetime-local" name="held_at" value=(values.raw("held_at"));
                p.hint { "Left blank, it is now." }
                (field_problem(problem, "held_at"))
                fieldset {
                    legend { "What the review decided" }
                    @for decision in ReviewDecision::ALL {
                        @let unavailable = last && decision == ReviewDecision::NextBlock;
                        label.choice {
                            input type="radio" name="decision" value=(decision.as_str())
                                checked[values.raw("decision") == decision.as_str()] disabled[unavailable];
                            " " (decision.title())
                            @if unavailable { span.muted { " (not after the 6-week block)" } }
                        }
                    }
                    (field_problem(problem, "decision"))
                }
                label for="summary" { "Summary of the review" }
                textarea #summary name="summary" rows="3" maxlength="500" required { (values.raw("summary")) }
                (field_problem(problem, "summary"))
                label for="reason" { "Reason (needed to move on with fidelity under 80%, or for an early provision map)" }
                textarea #reason name="reason" rows="3" maxlength=(MAX_NOTE_CHARS) { (values.raw("reason")) }
                (field_problem(problem, "reason"))
                button.primary type="submit" { "Record the review" }
            }
        }
    }
}

fn render_programme(
    data: &ProgrammePage,
    values: &Fields,
    problem: Option<&Problem>,
    notice: Option<&str>,
    csrf: &str,
) -> Markup {
    let pupil = &data.pupil;
    let on_programme = pupil.level == Level::Programme;
    let on_form: &[&str] = match data.running() {
        Some(_) if on_programme => &REVIEW_FIELDS,
        None if on_programme && data.to_plan.is_some() => &BLOCK_FIELDS,
        _ => &[],
    };
    html! {
        h1 { "Coaching Programme" }
        p {
            a href={ "/pupils/" (pupil.id) } { (pupil.full_name()) }
            " · Year " (pupil.year) " · " (level_chip(pupil.level))
            " · " a href={ "/pupils/" (pupil.id) "/plan" } { "Coaching Plan" }
        }
        @if let Some(notice) = notice { p.notice role="status" { (notice) } }
        (problem_summary(problem, on_form))
        @if let Some(plan) = &data.plan {
            details.plan-goals {
                summary { "The plan's goals (version " (plan.row.version) ")" }
                ol { @for goal in &plan.goals { li { (goal.text) span.muted { " · " (goal.success_criterion) } } } }
            }
        }
        @if on_programme {
            @if let Some(running) = data.running() {
                (review_form(running, values, problem, csrf))
            } @else if let Some(block) = data.to_plan {
                (plan_block_form(data, block, values, problem, csrf))
            }
        } @else if data.blocks.is_empty() {
            p.muted {
                "A Coaching Programme follows the Coaching Plan meeting (level 5); "
                (pupil.full_name()) " is at " (pupil.level.title()) "."
            }
        }
        @if data.blocks.is_empty() {
            p.muted { "No block has been planned yet." }
        }
        @for view in &data.blocks { (block_card(view, data)) }
    }
}

fn programme_notice(done: Option<&str>) -> Option<&'static str> {
    match done? {
        "planned" => Some("The block is planned; its sessions are listed below."),
        "goals_met" => {
            Some("The review is recorded: the goals are met, and the pupil steps down to the Coaching Plan.")
        }
        "next_block" => Some("The review is recorded: plan the next block below."),
        "provision_map" => Some(
            "The review is recorded: a Bespoke Provision Map follows, and its team meeting is due.",
        ),
        _ => None,
    }
}

/// `GET /pupils/{id}/programme`: the pupil's programme blocks, newest first, with their
/// sessions and fidelity; the form to plan the current block, or to review the running one.
pub async fn show_programme(
    SignedIn(member): SignedIn,
    session: Session,
    path: web::Path<String>,
    request: HttpRequest,
    state: web::Data<AppState>,
) -> PageResult {
    let pupil_id = pupil_id_of(&path)?;
    let query = Fields::from_query(request.query_string());
    let viewer = member.clone();
    let data = state
        .db
        .write(move |conn| {
            let data = load_programme_page(conn, &viewer, pupil_id)?;
            audit::record_read(
                conn,
                &viewer,
                Read::Programme,
                Some(pupil_id),
                String::new(),
            )?;
            Ok(data)
        })
        .await?;
    let values = programme_values(&data);
    let markup = with_viewer(&member, &session, |viewer| {
        page(
            "Coaching Programme",
            viewer,
            render_programme(
                &data,
                &values,
                None,
                programme_notice(query.get("done")),
                viewer.csrf,
            ),
        )
    });
    Ok(html_response(StatusCode::OK, markup))
}

/// Shows the programme page again with what was typed and the problem.
async fn programme_again(
    member: StaffMember,
    session: &Session,
    state: &web::Data<AppState>,
    pupil_id: i64,
    fields: &Fields,
    problem: Problem,
    status: StatusCode,
) -> PageResult {
    let viewer = member.clone();
    let data = state
        .db
        .transaction(move |conn| load_programme_page(conn, &viewer, pupil_id))
        .await?;
    let markup = with_viewer(&member, session, |viewer| {
        page(
            "Coaching Programme",
            viewer,
            render_programme(&data, fields, Some(&problem), None, viewer.csrf),
        )
    });
    Ok(html_response(status, markup))
}

/// Runs a change to a pupil's programme in one transaction, then sends the browser where
/// `change` says, or shows the programme page again with the problem.
async fn programme_change<F>(
    member: StaffMember,
    session: &Session,
    state: &web::Data<AppState>,
    pupil_id: i64,
    fields: &Fields,
    change: F,
) -> PageResult
where
    F: FnOnce(&mut DbConnection, &StaffMember, &NoticeContext) -> Result<String> + Send + 'static,
{
    let context = NoticeContext::from_settings(&state.settings);
    let by = member.clone();
    let outcome = state
        .db
        .write(move |conn| change(conn, &by, &context))
        .await;
    match outcome {
        Ok(location) => Ok(see_other(&location)),
        Err(error) => match (problem_of(&error), refused_status(&error)) {
            (Some(problem), Some(status)) => {
                programme_again(member, session, state, pupil_id, fields, problem, status).await
            }
            _ => Err(PageError(error)),
        },
    }
}

/// A block as asked for on the form, read but not yet checked.
struct BlockForm {
    starts_on: Option<NaiveDate>,
    sessions_per_week: u32,
    weekdays: Vec<Weekday>,
    minutes: u32,
    time: Option<NaiveTime>,
    place: String,
    led_by: String,
    practitioner_id: Option<i64>,
    practitioner_name: Option<String>,
}

fn read_block(fields: &Fields) -> std::result::Result<BlockForm, Problem> {
    let sessions_per_week = number_in("sessions_per_week", fields.get("sessions_per_week"))?
        .ok_or_else(|| problem("sessions_per_week", "say how many sessions a week"))?;
    let weekdays = fields
        .all("weekdays")
        .map(|d| {
            programmes::parse_weekday(d)
                .map_err(|_| problem("weekdays", "choose days from Monday to Friday"))
        })
        .collect::<std::result::Result<Vec<_>, _>>()?;
    let minutes = number_in("minutes", fields.get("minutes"))?
        .ok_or_else(|| problem("minutes", "say how long each session lasts"))?;
    let time = fields
        .get("time")
        .map(|raw| {
            NaiveTime::parse_from_str(raw, "%H:%M")
                .or_else(|_| NaiveTime::parse_from_str(raw, "%H:%M:%S"))
                .map_err(|_| problem("time", "must be a time of day, such as 10:30"))
        })
        .transpose()?;
    let practitioner_id = fields
        .get("practitioner_id")
        .map(|raw| {
            raw.parse::<i64>()
                .map_err(|_| problem("practitioner_id", "choose a practitioner from the list"))
        })
        .transpose()?;
    Ok(BlockForm {
        starts_on: date_in("starts_on", fields.get("starts_on"))?,
        sessions_per_week,
        weekdays,
        minutes,
        time,
        place: fields.raw("place").to_string(),
        led_by: fields.raw("led_by").to_string(),
        practitioner_id,
        practitioner_name: fields.get("practitioner_name").map(str::to_string),
    })
}

/// `POST /pupils/{id}/programme/blocks`: plans the pupil's current block; its sessions are
/// laid out on school days and its review is due on the final session's day.
pub async fn plan_block(
    SignedIn(member): SignedIn,
    session: Session,
    path: web::Path<String>,
    form: CsrfForm<Fields>,
    state: web::Data<AppState>,
) -> PageResult {
    let pupil_id = pupil_id_of(&path)?;
    let fields = form.0;
    let asked = match read_block(&fields) {
        Ok(asked) => asked,
        Err(problem) => {
            let status = StatusCode::BAD_REQUEST;
            return programme_again(member, &session, &state, pupil_id, &fields, problem, status)
                .await;
        }
    };
    programme_change(
        member,
        &session,
        &state,
        pupil_id,
        &fields,
        move |conn, by, _| {
            let rules = evaluation::load_rules(conn, by.school_id)?;
            let request = BlockRequest {
                pupil_id,
                starts_on: asked.starts_on,
                sessions_per_week: asked.sessions_per_week,
                weekdays: &asked.weekdays,
                minutes: asked.minutes,
                time: asked.time,
                place: &asked.place,
                led_by: &asked.led_by,
                practitioner_id: asked.practitioner_id,
                practitioner_name: asked.practitioner_name.as_deref(),
            };
            programmes::plan_block(conn, by, &request, &rules, Utc::now())?;
            Ok(format!("/pupils/{pupil_id}/programme?done=planned"))
        },
    )
    .await
}

/// `POST /programme/blocks/{id}/review`: records the block review and carries out its
/// decision: step down when the goals are met, the next block, or a Bespoke Provision Map.
pub async fn review_block(
    SignedIn(member): SignedIn,
    session: Session,
    path: web::Path<String>,
    form: CsrfForm<Fields>,
    state: web::Data<AppState>,
) -> PageResult {
    let block_id: i64 = path
        .parse()
        .map_err(|_| Error::NotFound("programme block"))?;
    let school_id = member.school_id;
    let pupil_id = state
        .db
        .transaction(move |conn| programmes::pupil_of_block(conn, school_id, block_id))
        .await?;
    let fields = form.0;
    let refused = |problem: Problem| (problem, StatusCode::BAD_REQUEST);
    let checked = match parse_local_time("held_at", fields.get("held_at")) {
        Err(detail) => Err(refused(Problem::from(detail))),
        Ok(_) if fields.get("decision").is_none() => Err(refused(problem(
            "decision",
            "choose what the review decided",
        ))),
        Ok(_) if fields.get("summary").is_none() => Err(refused(problem(
            "summary",
            "write a short summary of the review",
        ))),
        Ok(held_at) => Ok(held_at.unwrap_or_else(Utc::now)),
    };
    let held_at = match checked {
        Ok(held_at) => held_at,
        Err((problem, status)) => {
            return programme_again(member, &session, &state, pupil_id, &fields, problem, status)
                .await
        }
    };
    let submitted = fields.clone();
    programme_change(
        member,
        &session,
        &state,
        pupil_id,
        &fields,
        move |conn, by, context| {
            let rules = evaluation::load_rules(conn, by.school_id)?;
            let input = ReviewInput {
                decision: submitted.raw("decision"),
                reason: submitted.get("reason"),
                summary: submitted.raw("summary"),
                held_at,
            };
            let result =
                programmes::review_block(conn, by, context, block_id, &input, &rules, Utc::now())?;
            Ok(format!(
                "/pupils/{}/programme?done={}",
                result.block.pupil_id,
                result.decision.as_str()
            ))
        },
    )
    .await
}

// ---------------------------------------------------------------------------------------------
// One session
// ---------------------------------------------------------------------------------------------

/// Fields of the session form.
const SESSION_FIELDS: [&str; 6] = [
    "outcome",
    "minutes",
    "delivered_by",
    "note",
    "reason",
    "parent_attended",
];

/// What the session page shows.
struct SessionPage {
    view: SessionView,
    pupil: PupilView,
    plan: Option<PlanVersion>,
    /// Whether the viewer may open the pupil's programme page.
    sees_programme: bool,
    names: HashMap<i64, String>,
}

fn load_session_page(
    conn: &mut DbConnection,
    member: &StaffMember,
    id: i64,
) -> Result<SessionPage> {
    let view = programmes::session_for(conn, member, id)?;
    let pupil = pupils::get(conn, member.school_id, view.pupil.id)?;
    Ok(SessionPage {
        plan: plans::current(conn, member.school_id, pupil.id)?,
        sees_programme: may_see(member, pupil.place(), Record::Programme),
        names: staff_names(conn, member.school_id)?,
        view,
        pupil,
    })
}

fn session_id_of(path: &str) -> Result<i64> {
    path.parse().map_err(|_| Error::NotFound("session"))
}

/// The session form filled with what was recorded, or the planned minutes.
fn session_values(data: &SessionPage, back: Option<&str>) -> Fields {
    let session = &data.view.session;
    let minutes = session.minutes.unwrap_or(data.view.block.minutes);
    let mut pairs: Vec<(&str, String)> = vec![
        ("outcome", session.outcome.clone().unwrap_or_default()),
        ("minutes", minutes.to_string()),
        (
            "delivered_by",
            session.delivered_by.clone().unwrap_or_default(),
        ),
        ("note", session.note.clone().unwrap_or_default()),
        ("reason", session.reason.clone().unwrap_or_default()),
    ];
    if session.parent_attended == Some(true) {
        pairs.push(("parent_attended", "on".into()));
    }
    if let Some(back) = back {
        pairs.push(("back", back.to_string()));
    }
    Fields::from_pairs(pairs)
}

/// Where the browser goes after a session is recorded: back to the practitioner's list when
/// it came from there, otherwise the session page.
fn after_recording(back: Option<&str>, id: i64) -> String {
    match back {
        Some("practitioner") => format!("/practitioner?done=recorded#session-{id}"),
        _ => format!("/sessions/{id}?done=recorded"),
    }
}

fn session_form(
    data: &SessionPage,
    values: &Fields,
    problem: Option<&Problem>,
    csrf: &str,
) -> Markup {
    let session = &data.view.session;
    html! {
        form.stack method="post" action={ "/sessions/" (session.id) } {
            (csrf_field(csrf))
            @if values.get("back") == Some("practitioner") {
                input type="hidden" name="back" value="practitioner";
            }
            fieldset {
                legend { "What happened" }
                @for outcome in SessionOutcome::ALL { (radio("outcome", outcome.as_str(), values, outcome.title())) }
                (field_problem(problem, "outcome"))
            }
            label for="minutes" { "How many minutes it lasted (when delivered)" }
            input #minutes type="number" name="minutes" min=(MIN_RECORDED_MINUTES) max=(MAX_RECORDED_MINUTES) value=(values.raw("minutes"));
            (field_problem(problem, "minutes"))
            label for="delivered_by" { "Delivered by (leave blank if it was you)" }
            input #delivered_by type="text" name="delivered_by" maxlength=(MAX_NAME_CHARS) value=(values.raw("delivered_by"));
            (field_problem(problem, "delivered_by"))
            label for="note" { "Note against the plan's goals (optional)" }
            @if let Some(plan) = &data.plan {
                ul.hint { @for goal in &plan.goals { li { (goal.text) } } }
            }
            textarea #note name="note" rows="3" maxlength=(MAX_NOTE_CHARS) { (values.raw("note")) }
            (field_problem(problem, "note"))
            label for="reason" { "Reason (needed when it was not delivered; optional for an absence)" }
            textarea #reason name="reason" rows="2" maxlength=(MAX_NOTE_CHARS) { (values.raw("reason")) }
            (field_problem(problem, "reason"))
            @if session.is_final {
                label.choice {
                    input type="checkbox" name="parent_attended" checked[values.get("parent_attended").is_some()];
                    " A parent or carer attended the end (this is the block's final session)"
                }
                (field_problem(problem, "parent_attended"))
            }
            button.primary type="submit" { "Save" }
        }
    }
}

fn render_session(
    data: &SessionPage,
    values: &Fields,
    problem: Option<&Problem>,
    notice: Option<&str>,
    csrf: &str,
) -> Markup {
    let (session, block) = (&data.view.session, &data.view.block);
    let pupil = &data.pupil;
    let today = SchoolCalendar::local_date(Utc::now());
    let back_to_list = values.get("back") == Some("practitioner");
    html! {
        h1 { "Programme session" }
        p {
            @if data.sees_programme {
                a href={ "/pupils/" (pupil.id) "/programme" } { (pupil.full_name()) }
            } @else {
                (pupil.full_name())
            }
            " · Year " (pupil.year) " · " (block.weeks) "-week block"
        }
        @if let Some(notice) = notice { p.notice role="status" { (notice) } }
        dl.facts {
            dt { "Day" } dd { (day(session.on_date)) @if session.is_final { " " span.tag { "final session" } } }
            dt { "Time" } dd { (session.session_time.as_deref().unwrap_or("no set time")) }
            dt { "Planned" } dd { (block.minutes) " minutes, " (place_title(&block.place).to_lowercase()) }
            dt { "Run by" } dd { (runner(block, &data.names)) }
            dt { "Status" }
            dd {
                (session_status(session, today))
                @if let Some(minutes) = session.minutes { " · " (minutes) " minutes" }
                @if let Some(by) = &session.delivered_by { " · by " (by) }
                @if let (Some(id), Some(at)) = (session.recorded_by, session.recorded_at) {
                    br; span.small.muted { "by " (name_in(&data.names, id)) ", " (local(from_db_time(at))) }
                }
            }
        }
        (problem_summary(problem, &SESSION_FIELDS))
        @if block.status != "running" {
            p.muted { "This block has been reviewed; its sessions can no longer change." }
        } @else if session.on_date > today {
            p.muted { "This session is on " (day(session.on_date)) ": record it on the day." }
        } @else {
            h2 { @if session.outcome.is_some() { "Change the record" } @else { "Record the session" } }
            (session_form(data, values, problem, csrf))
        }
        p {
            @if back_to_list { a href="/practitioner" { "Back to your sessions" } }
            @else if data.sees_programme { a href={ "/pupils/" (pupil.id) "/programme" } { "Back to the programme" } }
        }
    }
}

/// `GET /sessions/{id}?back=practitioner`: one programme session and the form to record
/// what happened, for the practitioner who runs it and those who run the programme.
pub async fn show_session(
    SignedIn(member): SignedIn,
    session: Session,
    path: web::Path<String>,
    request: HttpRequest,
    state: web::Data<AppState>,
) -> PageResult {
    let id = session_id_of(&path)?;
    let query = Fields::from_query(request.query_string());
    let viewer = member.clone();
    let data = state
        .db
        .write(move |conn| {
            let data = load_session_page(conn, &viewer, id)?;
            let detail = format!("session {id}");
            audit::record_read(conn, &viewer, Read::Session, Some(data.pupil.id), detail)?;
            Ok(data)
        })
        .await?;
    let values = session_values(&data, query.get("back"));
    let notice = (query.get("done") == Some("recorded")).then_some("The session is recorded.");
    let markup = with_viewer(&member, &session, |viewer| {
        page(
            "Programme session",
            viewer,
            render_session(&data, &values, None, notice, viewer.csrf),
        )
    });
    Ok(html_response(StatusCode::OK, markup))
}

/// Shows the session page again with what was typed and the problem.
async fn session_again(
    member: StaffMember,
    session: &Session,
    state: &web::Data<AppState>,
    id: i64,
    fields: &Fields,
    problem: Problem,
    status: StatusCode,
) -> PageResult {
    let viewer = member.clone();
    let data = state
        .db
        .transaction(move |conn| load_session_page(conn, &viewer, id))
        .await?;
    let markup = with_viewer(&member, session, |viewer| {
        page(
            "Programme session",
            viewer,
            render_session(&data, fields, Some(&problem), None, viewer.csrf),
        )
    });
    Ok(html_response(status, markup))
}

/// `POST /sessions/{id}`: records what happened at a session (or corrects it while its
/// block runs). The minutes count only for a delivered session.
pub async fn record_session(
    SignedIn(member): SignedIn,
    session: Session,
    path: web::Path<String>,
    form: CsrfForm<Fields>,
    state: web::Data<AppState>,
) -> PageResult {
    let id = session_id_of(&path)?;
    let fields = form.0;
    let outcome = fields.raw("outcome").trim().to_string();
    let minutes = if outcome == SessionOutcome::Delivered.as_str() {
        number_in("minutes", fields.get("minutes"))
    } else {
        Ok(None)
    };
    let checked = match minutes {
        _ if outcome.is_empty() => Err(problem("outcome", "choose what happened at the session")),
        Err(problem) => Err(problem),
        Ok(minutes) => Ok(minutes),
    };
    let minutes = match checked {
        Ok(minutes) => minutes,
        Err(problem) => {
            let status = StatusCode::BAD_REQUEST;
            return session_again(member, &session, &state, id, &fields, problem, status).await;
        }
    };
    let submitted = fields.clone();
    let by = member.clone();
    let recorded = state
        .db
        .write(move |conn| {
            let input = SessionInput {
                outcome: &outcome,
                minutes,
                reason: submitted.get("reason"),
                note: submitted.get("note"),
                delivered_by: submitted.get("delivered_by"),
                parent_attended: Some(submitted.get("parent_attended").is_some()),
            };
            programmes::record_session(conn, &by, id, &input, Utc::now())
        })
        .await;
    match recorded {
        Ok(_) => Ok(see_other(&after_recording(fields.get("back"), id))),
        Err(error) => match (problem_of(&error), refused_status(&error)) {
            (Some(problem), Some(status)) => {
                session_again(member, &session, &state, id, &fields, problem, status).await
            }
            _ => Err(PageError(error)),
        },
    }
}

// ---------------------------------------------------------------------------------------------
// The practitioner's day and week
// ---------------------------------------------------------------------------------------------

fn practitioner_entry(item: &PractitionerSession, today: NaiveDate, csrf: &str) -> Markup {
    let (session, block, pupil) = (&item.session, &item.block, &item.pupil);
    let unrecorded = session.outcome.is_none();
    let overdue = unrecorded && session.on_date < today;
    html! {
        li.session-entry.overdue[overdue] id={ "session-" (session.id) } {
            div.who {
                strong { (pupil.given_name) " " (pupil.family_name) }
                br;
                span.meta {
                    @if session.on_date != today { (short_day(session.on_date)) " · " }
                    (session.session_time.as_deref().unwrap_or("no set time"))
                    " · " (block.weeks) "-week block"
                    @if session.is_final { " · final session" }
                }
            }
            div.status { (session_status(session, today)) }
            @if unrecorded && session.on_date <= today {
                div.actions {
                    form.inline.tap method="post" action={ "/sessions/" (session.id) } {
                        (csrf_field(csrf))
                        input type="hidden" name="outcome" value=(SessionOutcome::Delivered.as_str());
                        input type="hidden" name="minutes" value=(block.minutes);
                        input type="hidden" name="back" value="practitioner";
                        @if session.is_final {
                            label.choice {
                                input type="checkbox" name="parent_attended";
                                " Parent or carer attended the end"
                            }
                        }
                        button.primary.tap type="submit" { "Delivered" }
                    }
                    a.button href={ "/sessions/" (session.id) "?back=practitioner" } { "Absent or not delivered" }
                }
            } @else if !unrecorded {
                a href={ "/sessions/" (session.id) "?back=practitioner" } { "Change" }
            }
        }
    }
}

/// `GET /practitioner`: the specialist practitioner's sessions, for a phone: today's first,
/// then the rest of this week (Monday to Sunday), each recorded as delivered with one tap.
pub async fn practitioner(
    SignedIn(member): SignedIn,
    session: Session,
    request: HttpRequest,
    state: web::Data<AppState>,
) -> PageResult {
    require_role(&member, &PRACTITIONER_ROLES)?;
    let today = SchoolCalendar::local_date(Utc::now());
    let monday = today - TimeDelta::days(i64::from(today.weekday().num_days_from_monday()));
    let sunday = monday + TimeDelta::days(6);
    let viewer = member.clone();
    let sessions = state
        .db
        .transaction(move |conn| programmes::sessions_run_by(conn, &viewer, monday, sunday))
        .await?;
    let (todays, rest): (Vec<_>, Vec<_>) = sessions
        .into_iter()
        .partition(|s| s.session.on_date == today);
    let overdue = rest
        .iter()
        .filter(|s| s.session.outcome.is_none() && s.session.on_date < today)
        .count();
    let query = Fields::from_query(request.query_string());
    let notice = (query.get("done") == Some("recorded")).then_some("Recorded.");
    let markup = with_viewer(&member, &session, |viewer| {
        page(
            "Your sessions",
            viewer,
            html! {
                h1 { "Your sessions" }
                @if let Some(notice) = notice { p.notice role="status" { (notice) } }
                h2 { "Today, " (day(today)) }
                @if todays.is_empty() { p.muted { "No sessions today." } }
                ul.sessions { @for item in &todays { (practitioner_entry(item, today, viewer.csrf)) } }
                h2 { "The rest of this week" }
                @if overdue > 0 {
                    p.error { (overdue) " earlier session" @if overdue > 1 { "s" } " this week "
                        @if overdue > 1 { "are" } @else { "is" } " not recorded yet." }
                }
                @if rest.is_empty() { p.muted { "No other sessions this week." } }
                ul.sessions { @for item in &rest { (practitioner_entry(item, today, viewer.csrf)) } }
            },
        )
    });
    Ok(html_response(StatusCode::OK, markup))
}
