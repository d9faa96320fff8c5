//! The Coaching Plan page: the plan in force with its earlier versions, and the form to agree
//! or revise it.

use std::collections::HashMap;

use actix_web::web;
use chrono::{NaiveDate, Utc};
use maud::{html, Markup};

use super::{as_strs, date_in, day, name_in, pupil_id_of, pupil_seen_by, staff_names};
use crate::db::audit::Read;
use crate::db::family;
use crate::db::plans::{self, Agreement, PlanVersion};
use crate::db::pupils::PupilView;
use crate::db::staff::StaffMember;
use crate::db::{from_db_time, DbConnection};
use crate::domain::calendar::SchoolCalendar;
use crate::domain::plan::{
    PlanSubmission, MAX_ACTION_STEPS, MAX_CRITERION_CHARS, MAX_GOALS, MAX_GOAL_CHARS,
    MAX_NAME_CHARS, MAX_PATHWAY_CHARS, MAX_STEP_CHARS,
};
use crate::domain::visibility::Record;
use crate::domain::Level;
use crate::error::{Error, Result};
use crate::web::auth::CsrfForm;
use crate::web::pages::form::{field_problem, local, problem_summary, Fields, Form, Problem};
use crate::web::pages::form_page::{FormPage, PageResult, Visit};
use crate::web::pages::layout::{csrf_field, level_chip};

/// Goal rows on the plan form (as many as a plan may have).
const GOAL_ROWS: usize = MAX_GOALS;
/// Action-step rows on the plan form (as many as a plan may have).
const STEP_ROWS: usize = MAX_ACTION_STEPS;
/// Goal and step rows shown open on the form; the rest wait under "More".
const ROWS_OPEN: usize = 3;

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
    /// Who the plan in force was shared with through a family link, and when they read it.
    shares: Vec<family::Share>,
    /// The parent or carer last invited to one of the pupil's meetings: offered first.
    parent: Option<(String, String)>,
}

fn load_plan_page(conn: &mut DbConnection, member: &StaffMember, id: i64) -> Result<PlanPage> {
    let pupil = pupil_seen_by(conn, member, id, Record::Plan)?;
    let versions = plans::versions(conn, member.school_id, pupil.id)?;
    let shares = match versions.first() {
        Some(current) => family::plan_shares(conn, member.school_id, current.row.id)?,
        None => Vec::new(),
    };
    Ok(PlanPage {
        versions,
        names: staff_names(conn, member.school_id)?,
        shares,
        parent: family::parent_contact(conn, member.school_id, pupil.id)?,
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
            .map_err(|_| Problem::at("meeting_id", "is not a meeting's number"))?;
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

/// A refused plan's problem moved to the row of the form it came from (see [`at_row`]).
fn at_row_of(error: Error, goal_rows: &[usize], step_rows: &[usize]) -> Error {
    match error {
        Error::Invalid {
            code,
            message,
            field: Some(field),
        } => {
            let message = match message.strip_prefix(&format!("{field}: ")) {
                Some(rest) => rest.to_string(),
                None => message,
            };
            let moved = at_row(Problem::at(&field, message), goal_rows, step_rows);
            Error::Invalid {
                code,
                message: moved.message,
                field: moved.field,
            }
        }
        other => other,
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
        div.scroll tabindex="0" role="region" aria-label="Action steps" {
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

/// Sharing the plan in force with a parent or carer: who it was shared with (and whether
/// they said they read it), and the form to share it with someone by email.
fn share_part(data: &PlanPage, form: &Form, csrf: &str) -> Markup {
    const NAME: &str = "share";
    let (parent_name, parent_email) = data
        .parent
        .as_ref()
        .map_or(("", ""), |(name, email)| (name.as_str(), email.as_str()));
    html! {
        section.card #share {
            h2 { "Shared with the family" }
            @if data.shares.is_empty() {
                p.muted { "Not shared yet." }
            } @else {
                ul.list {
                    @for share in &data.shares {
                        li {
                            strong { (share.name) }
                            @if let Some(email) = &share.email { " · " (email) }
                            " · shared " (local(from_db_time(share.created_at)))
                            br;
                            @match share.acknowledged_at {
                                Some(at) => { span.tag { "Read" } " on " (local(from_db_time(at))) }
                                None => { span.muted { "Not marked as read yet" } }
                            }
                        }
                    }
                }
            }
            @if let Some(problem) = form.problem_of(NAME).filter(|p| p.field.is_none()) {
                p.error role="alert" { (problem.message) }
            }
            form.stack method="post" action={ "/pupils/" (data.pupil.id) "/plan/share" } {
                (csrf_field(csrf))
                p.hint { "They get an email with a link of their own to read the plan (no account needed). It stops working when the plan is revised." }
                label for="share-name" { "Parent or carer's name" }
                input #share-name type="text" name="name" maxlength="100" required value=(form.value_in(NAME, "name", parent_name));
                (form.problem_in(NAME, "name"))
                label for="share-email" { "Their email" }
                input #share-email type="email" name="email" maxlength="254" required value=(form.value_in(NAME, "email", parent_email));
                (form.problem_in(NAME, "email"))
                button type="submit" { "Share the plan" }
            }
        }
    }
}

fn render_plan(data: &PlanPage, form: &Form, notice: Option<&str>, csrf: &str) -> Markup {
    let sharing = form.is_sent("share");
    let plan_form_values = if sharing {
        Form::default()
    } else {
        form.clone()
    };
    let form_for_plan = &plan_form_values;
    let (values, problem) = (&form_for_plan.values, form_for_plan.problem());
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
                @if pupil.level >= Level::Plan { (share_part(data, form, csrf)) }
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

fn plan_notice(done: &str) -> Option<&'static str> {
    match done {
        "agreed" => Some("The Coaching Plan is saved."),
        "revised" => Some("The new version is saved; the earlier one is kept below."),
        "shared" => Some("The plan is shared: an email with their link is on its way."),
        _ => None,
    }
}

impl FormPage for PlanPage {
    type Key = i64;
    const TITLE: &'static str = "Coaching Plan";
    const READ: Option<Read> = Some(Read::Plan);

    fn load(conn: &mut DbConnection, member: &StaffMember, pupil_id: i64) -> Result<PlanPage> {
        load_plan_page(conn, member, pupil_id)
    }

    fn read_about(&self, pupil_id: i64) -> (Option<i64>, String) {
        (Some(pupil_id), String::new())
    }

    fn first_values(&self, _member: &StaffMember, query: &Fields) -> Fields {
        let meeting = query.get("meeting").and_then(|m| m.parse::<i64>().ok());
        plan_values(self.versions.first(), meeting)
    }

    fn notice(query: &Fields) -> Option<String> {
        query.get("done").and_then(plan_notice).map(String::from)
    }

    fn render(&self, form: &Form, notice: Option<&str>, csrf: &str) -> Markup {
        render_plan(self, form, notice, csrf)
    }
}

/// `GET /pupils/{id}/plan?meeting=ID`: the pupil's Coaching Plan in force, every earlier
/// version, and the form to agree or revise it (within the Coaching Plan meeting `ID`).
pub async fn show_plan(visit: Visit, path: web::Path<String>) -> PageResult {
    visit.show::<PlanPage>(pupil_id_of(&path)?).await
}

/// `POST /pupils/{id}/plan`: stores the plan as the pupil's next version (blank rows left
/// out), then shows the page again; a plan that does not check out is shown again with the
/// problem at its field, and nothing is stored.
pub async fn save_plan(
    visit: Visit,
    path: web::Path<String>,
    form: CsrfForm<Fields>,
) -> PageResult {
    let pupil_id = pupil_id_of(&path)?;
    let plan = read_plan(&form.0);
    visit
        .submit::<PlanPage, _, _>(pupil_id, form.0, plan, move |conn, by, _, plan| {
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
            let version = plans::agree(conn, by, &agreement, Utc::now())
                .map_err(|error| at_row_of(error, &plan.goal_rows, &plan.step_rows))?;
            let done = if version.row.version == 1 {
                "agreed"
            } else {
                "revised"
            };
            Ok(format!("/pupils/{pupil_id}/plan?done={done}"))
        })
        .await
}

/// `POST /pupils/{id}/plan/share`: shares the plan in force with a parent or carer by email,
/// through a family link of their own.
pub async fn share_plan(
    visit: Visit,
    path: web::Path<String>,
    form: CsrfForm<Fields>,
) -> PageResult {
    let pupil_id = pupil_id_of(&path)?;
    let typed = form.0.clone();
    visit
        .submit_to::<PlanPage, _, _>(
            pupil_id,
            Some("share".into()),
            form.0,
            Ok(typed),
            move |conn, by, context, typed| {
                family::share_plan(
                    conn,
                    by,
                    context,
                    pupil_id,
                    typed.raw("name"),
                    typed.raw("email"),
                    Utc::now(),
                )?;
                Ok(format!("/pupils/{pupil_id}/plan?done=shared"))
            },
        )
        .await
}
