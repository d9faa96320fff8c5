//! A pupil's support on one printable page: their Coaching Plan, programme blocks and
//! Bespoke Provision Map, with the forms to add provision and to review it.

use actix_web::web;
use chrono::{NaiveDate, TimeDelta, Utc};
use maud::{html, Markup};

use crate::db::audit::Read;
use crate::db::plans::{self, PlanVersion};
use crate::db::programmes::{self, BlockView};
use crate::db::provision::{self, ItemView};
use crate::db::pupils::{self, PupilView};
use crate::db::staff::StaffMember;
use crate::db::{from_db_time, DbConnection};
use crate::domain::calendar::SchoolCalendar;
use crate::domain::plan::{
    format_pounds, ProvisionDecision, ProvisionProgress, ProvisionReviewSubmission,
    DEFAULT_TERM_WEEKS, MAX_NAME_CHARS, MAX_PROVISION_MINUTES, MAX_PROVISION_PER_WEEK,
    MAX_PROVISION_TEXT_CHARS,
};
use crate::domain::programme::ReviewDecision;
use crate::domain::Level;
use crate::error::{Error, Result};
use crate::web::auth::CsrfForm;
use crate::web::pages::form::{problem_summary, Fields, Form};
use crate::web::pages::form_page::{FormPage, PageResult, Visit};
use crate::web::pages::layout::{csrf_field, fidelity_summary, level_badge};

use super::support_form::{date_of, NewProvision};
use super::{
    block_status, date, decision_title, is_active, item_id_of, progress_title, provider_kind,
    pupil_id_of, today, ADD_FIELDS, COST_FIELD, REVIEW_FIELDS,
};

// ---------------------------------------------------------------------------------------------
// A pupil's support, on one page
// ---------------------------------------------------------------------------------------------

/// Everything a pupil's support page shows, read in one transaction.
struct SupportPage {
    pupil: PupilView,
    plan: Option<PlanVersion>,
    blocks: Vec<BlockView>,
    items: Vec<ItemView>,
    /// The day the page is read for.
    today: NaiveDate,
}

impl SupportPage {
    /// The cost of a term of the provision still running, in pence.
    fn active_cost_per_term(&self) -> u64 {
        self.items
            .iter()
            .filter(|i| is_active(i))
            .map(ItemView::cost_per_term_pence)
            .sum()
    }
}

fn load_support(
    conn: &mut DbConnection,
    member: &StaffMember,
    pupil_id: i64,
    today: NaiveDate,
) -> Result<SupportPage> {
    provision::pupil_for_support(conn, member, pupil_id)?;
    let school_id = member.school_id;
    Ok(SupportPage {
        pupil: pupils::get(conn, school_id, pupil_id)?,
        plan: plans::current(conn, school_id, pupil_id)?,
        blocks: programmes::blocks_for(conn, school_id, pupil_id, today)?,
        items: provision::items_for(conn, school_id, pupil_id)?,
        today,
    })
}

/// The name on the page of the form that adds provision.
const ADD_FORM: &str = "add";

/// The name on the page of the review form of provision item `id`.
fn review_form_name(id: i64) -> String {
    format!("review-{id}")
}

/// The values the form that adds provision starts with.
fn add_defaults(today: NaiveDate) -> Fields {
    Fields::from_pairs([
        ("provider_kind", "internal".to_string()),
        ("frequency_per_week", "1".to_string()),
        ("session_minutes", "30".to_string()),
        ("starts_on", today.to_string()),
        ("review_on", (today + TimeDelta::weeks(6)).to_string()),
        ("ends_on", (today + TimeDelta::weeks(13)).to_string()),
        (COST_FIELD, "0.00".to_string()),
    ])
}

fn render_plan(plan: Option<&PlanVersion>, today: NaiveDate) -> Markup {
    html! {
        section.card #plan {
            h2 { "Coaching Plan" }
            @match plan {
                None => { p.muted { "No Coaching Plan recorded." } }
                Some(plan) => {
                    p.muted {
                        "Version " (plan.row.version) ", agreed " (date(SchoolCalendar::local_date(from_db_time(plan.row.created_at))))
                        @if let Some(with) = &plan.row.agreed_with { " with " (with) }
                    }
                    table.goals {
                        thead { tr { th { "Goal" } th { "Success criterion" } } }
                        tbody {
                            @for goal in &plan.goals {
                                tr { td { (goal.text) } td { (goal.success_criterion) } }
                            }
                        }
                    }
                    h3 { "Pathway to Independence" }
                    p.note { (plan.row.pathway_to_independence) }
                    @if !plan.action_steps.is_empty() {
                        h3 { "Action steps" }
                        ul {
                            @for step in &plan.action_steps {
                                li { (step.what) " · " (step.owner) " · by " (date(step.by_when)) }
                            }
                        }
                    }
                    p {
                        strong { "Review date: " } (date(plan.row.review_on))
                        @if plan.review_due(today) { " " span.tag.alert { "due" } }
                    }
                }
            }
        }
    }
}

fn render_blocks(blocks: &[BlockView]) -> Markup {
    html! {
        section.card #programme {
            h2 { "Coaching Programme" }
            @if blocks.is_empty() {
                p.muted { "No programme blocks recorded." }
            } @else {
                div.scroll tabindex="0" role="region" aria-label="Programme blocks" {
                    table.blocks {
                        thead { tr {
                            th { "Block" } th { "Dates" } th { "Sessions" } th { "Status" }
                            th { "Fidelity" } th { "Decision at review" }
                        } }
                        tbody {
                            @for view in blocks {
                                @let block = &view.block;
                                tr {
                                    td { (block.weeks) " weeks" }
                                    td { (date(block.starts_on)) " to " (date(block.ends_on)) }
                                    td { (block.sessions_per_week) " a week, " (block.minutes) " minutes" }
                                    td { (block_status(&block.status)) }
                                    td {
                                        (fidelity_summary(view.fidelity.fidelity))
                                    }
                                    td {
                                        @if let Some(decision) = block.decision.as_deref().and_then(|d| ReviewDecision::parse(d).ok()) {
                                            (decision.title())
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn render_item(view: &ItemView, today: NaiveDate) -> Markup {
    let item = &view.item;
    let cost_per_session = u64::try_from(item.cost_per_session_pence).unwrap_or(0);
    html! {
        article.item id={ "item-" (item.id) } {
            h3 {
                (item.what) " "
                @if is_active(view) { span.tag { "active" } } @else { span.tag { "ended" } }
            }
            dl.facts {
                dt { "Provider" } dd { (provider_kind(item.external)) ": " (item.provider_name) }
                dt { "How often" } dd { (item.frequency_per_week) " a week, " (item.session_minutes) " minutes a session" }
                dt { "Dates" } dd {
                    "Starts " (date(item.starts_on)) " · review " (date(item.review_on))
                    @if view.review_due_by(today) { " " span.tag.alert { "review due" } }
                    " · ends " (date(item.ends_on))
                }
                dt { "Cost" } dd {
                    (format_pounds(cost_per_session)) " a session · "
                    span.term-cost { (format_pounds(view.cost_per_term_pence())) } " a term (" (DEFAULT_TERM_WEEKS) " weeks)"
                }
                dt { "Entry data" } dd.note { (item.entry_data) }
                dt { "Target" } dd.note { (item.target) }
                @if let Some(exit) = &item.exit_data { dt { "Exit data" } dd.note { (exit) } }
                @if let Some(outcome) = &item.outcome { dt { "Outcome" } dd { (progress_title(outcome)) } }
            }
            @if view.reviews.is_empty() {
                p.muted { "Not reviewed yet." }
            } @else {
                div.scroll tabindex="0" role="region" aria-label="Reviews" {
                    table.reviews {
                        caption { "Reviews (assess, plan, do, review), oldest first" }
                        thead { tr {
                            th { "Reviewed" } th { "Assessment" } th { "Progress" }
                            th { "Plan for the next cycle" } th { "Decision" } th { "Next review" }
                        } }
                        tbody {
                            @for review in &view.reviews {
                                tr {
                                    td { (date(review.reviewed_on)) }
                                    td.note { (review.assessment) }
                                    td { (progress_title(&review.progress)) }
                                    td.note { @if let Some(plan) = &review.next_plan { (plan) } }
                                    td { (decision_title(&review.decision)) }
                                    td { @if let Some(next) = review.next_review_on { (date(next)) } }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn render_review_form(view: &ItemView, form: &Form, csrf: &str) -> Markup {
    let id = view.item.id;
    let name = review_form_name(id);
    let this = form.is_sent(&name);
    let problem = form.problem().filter(|_| this);
    let blank = Fields::default();
    let values = if this { &form.values } else { &blank };
    let input_id = |field: &str| format!("{name}-{field}");
    html! {
        details.review-form.no-print open[problem.is_some()] {
            summary { "Review this provision" }
            form.stack method="post" action={ "/provision/" (id) "/review" } {
                (csrf_field(csrf))
                label for=(input_id("assessment")) { "Assess: where is the pupil now, against the target?" }
                textarea id=(input_id("assessment")) name="assessment" rows="2" required maxlength=(MAX_PROVISION_TEXT_CHARS) { (values.raw("assessment")) }
                (form.problem_in(&name, "assessment"))
                fieldset {
                    legend { "Progress towards the target" }
                    @for progress in ProvisionProgress::ALL {
                        label.choice {
                            input type="radio" name="progress" value=(progress.as_str()) required checked[values.raw("progress") == progress.as_str()];
                            " " (progress.title())
                        }
                    }
                    (form.problem_in(&name, "progress"))
                }
                fieldset {
                    legend { "Decision" }
                    @for decision in ProvisionDecision::ALL {
                        label.choice {
                            input type="radio" name="decision" value=(decision.as_str()) required checked[values.raw("decision") == decision.as_str()];
                            " " (decision.title())
                        }
                    }
                    (form.problem_in(&name, "decision"))
                }
                label for=(input_id("next_plan")) { "Plan: what changes for the next cycle (needed to continue with changes)" }
                textarea id=(input_id("next_plan")) name="next_plan" rows="2" maxlength=(MAX_PROVISION_TEXT_CHARS) { (values.raw("next_plan")) }
                (form.problem_in(&name, "next_plan"))
                label for=(input_id("next_review_on")) { "Next review" }
                p.hint { "Leave it empty when ending the provision: the assessment becomes its exit data." }
                input id=(input_id("next_review_on")) type="date" name="next_review_on" value=(values.raw("next_review_on"));
                (form.problem_in(&name, "next_review_on"))
                button.primary type="submit" { "Record the review" }
            }
        }
    }
}

fn render_add_form(pupil: &PupilView, form: &Form, csrf: &str, today: NaiveDate) -> Markup {
    let this = form.is_sent(ADD_FORM);
    let defaults = add_defaults(today);
    let values = if this { &form.values } else { &defaults };
    html! {
        section.card.no-print #add {
            h2 { "Add provision" }
            @if pupil.level != Level::Provision {
                p.muted { "Provision is added while the pupil is on a Bespoke Provision Map (level 6)." }
            } @else {
                form.stack method="post" action={ "/pupils/" (pupil.id) "/provision" } {
                    (csrf_field(csrf))
                    label for="add-what" { "What is provided" }
                    input #add-what type="text" name="what" required maxlength=(MAX_PROVISION_TEXT_CHARS) value=(values.raw("what"));
                    (form.problem_in(ADD_FORM, "what"))
                    fieldset {
                        legend { "Provided by" }
                        @for (value, label) in [("internal", "The school's own staff"), ("external", "An outside service")] {
                            label.choice {
                                input type="radio" name="provider_kind" value=(value) checked[values.raw("provider_kind") == value];
                                " " (label)
                            }
                        }
                        (form.problem_in(ADD_FORM, "provider_kind"))
                    }
                    label for="add-provider_name" { "Who provides it (a member of staff, a team or a service)" }
                    input #add-provider_name type="text" name="provider_name" required maxlength=(MAX_NAME_CHARS) value=(values.raw("provider_name"));
                    (form.problem_in(ADD_FORM, "provider_name"))
                    label for="add-frequency_per_week" { "Sessions a week" }
                    input #add-frequency_per_week type="number" name="frequency_per_week" min="1" max=(MAX_PROVISION_PER_WEEK) required value=(values.raw("frequency_per_week"));
                    (form.problem_in(ADD_FORM, "frequency_per_week"))
                    label for="add-session_minutes" { "Minutes a session" }
                    input #add-session_minutes type="number" name="session_minutes" min="1" max=(MAX_PROVISION_MINUTES) required value=(values.raw("session_minutes"));
                    (form.problem_in(ADD_FORM, "session_minutes"))
                    label for="add-starts_on" { "Starts" }
                    input #add-starts_on type="date" name="starts_on" required value=(values.raw("starts_on"));
                    (form.problem_in(ADD_FORM, "starts_on"))
                    label for="add-review_on" { "Review" }
                    input #add-review_on type="date" name="review_on" required value=(values.raw("review_on"));
                    (form.problem_in(ADD_FORM, "review_on"))
                    label for="add-ends_on" { "Ends" }
                    input #add-ends_on type="date" name="ends_on" required value=(values.raw("ends_on"));
                    (form.problem_in(ADD_FORM, "ends_on"))
                    label for="add-cost_per_session" { "Cost of one session in pounds, such as 12.50 (0 for staff time not costed)" }
                    input #add-cost_per_session type="text" name=(COST_FIELD) inputmode="decimal" required maxlength="20" value=(values.raw(COST_FIELD));
                    (form.problem_in(ADD_FORM, COST_FIELD))
                    label for="add-entry_data" { "Entry data: where the pupil is at the start" }
                    textarea #add-entry_data name="entry_data" rows="2" required maxlength=(MAX_PROVISION_TEXT_CHARS) { (values.raw("entry_data")) }
                    (form.problem_in(ADD_FORM, "entry_data"))
                    label for="add-target" { "Target: where the pupil should be by the review" }
                    textarea #add-target name="target" rows="2" required maxlength=(MAX_PROVISION_TEXT_CHARS) { (values.raw("target")) }
                    (form.problem_in(ADD_FORM, "target"))
                    button.primary type="submit" { "Add the provision" }
                }
            }
        }
    }
}

fn render_support(data: &SupportPage, form: &Form, notice: Option<&str>, csrf: &str) -> Markup {
    let (pupil, today) = (&data.pupil, data.today);
    let reviewed = form
        .sent
        .as_deref()
        .and_then(|name| name.strip_prefix("review-"));
    let (anchor, fields_on_form): (String, &[&str]) = match reviewed {
        Some(id) => (format!("#item-{id}"), &REVIEW_FIELDS),
        None if form.is_sent(ADD_FORM) => ("#add".to_string(), &ADD_FIELDS),
        None => (String::new(), &[]),
    };
    html! {
        div.print-bar.no-print {
            button type="button" data-print { "Print" }
            noscript { span.hint { "To print, use your browser's Print command." } }
            a.button href={ "/pupils/" (pupil.id) "/provision.csv" } { "Download provision (CSV)" }
            a href={ "/pupils/" (pupil.id) } { "Back to the pupil page" }
        }
        h1 { "Support and provision: " (pupil.full_name()) }
        dl.facts.pupil-facts {
            dt { "Year" } dd { (pupil.year) }
            dt { "Form" } dd { (pupil.form) }
            dt { "UPN" } dd.mono { (pupil.upn) }
            dt { "SEN status" } dd { (pupil.sen_status.title()) }
            dt { "Level" } dd { (level_badge(pupil.level)) }
            dt { "As of" } dd { (date(today)) }
        }
        @if let Some(notice) = notice { p.notice.no-print role="status" { (notice) } }
        @if form.problem().is_some() {
            div.no-print {
                (problem_summary(form.problem(), fields_on_form))
                @if !anchor.is_empty() { p { a href=(anchor) { "Go to the form" } } }
            }
        }
        (render_plan(data.plan.as_ref(), today))
        (render_blocks(&data.blocks))
        section.card #provision {
            h2 { "Bespoke Provision Map" }
            @if data.items.is_empty() {
                p.muted { "No provision recorded." }
            }
            @for view in &data.items {
                (render_item(view, today))
                @if is_active(view) { (render_review_form(view, form, csrf)) }
            }
            p.total {
                "Active provision, cost per term (" (DEFAULT_TERM_WEEKS) " weeks): "
                strong #total-cost { (format_pounds(data.active_cost_per_term())) }
            }
        }
        (render_add_form(pupil, form, csrf, today))
    }
}

/// What a redirect after a change says on the page.
fn notice_for(done: &str) -> Option<&'static str> {
    match done {
        "added" => Some("The provision is added."),
        "reviewed" => Some("The review is recorded."),
        "ended" => Some("The review is recorded and the provision has ended: its exit data and outcome are kept."),
        _ => None,
    }
}

/// Which pupil's support page to show: the pupil's, or that of the pupil a provision item is
/// for.
#[derive(Debug, Clone, Copy)]
enum PageOf {
    Pupil(i64),
    Item(i64),
}

impl FormPage for SupportPage {
    type Key = PageOf;
    const TITLE: &'static str = "Provision";
    const READ: Option<Read> = Some(Read::Provision);

    fn load(conn: &mut DbConnection, member: &StaffMember, of: PageOf) -> Result<Self> {
        let pupil_id = match of {
            PageOf::Pupil(id) => id,
            PageOf::Item(item_id) => provision::item_for(conn, member, item_id)?.item.pupil_id,
        };
        load_support(conn, member, pupil_id, today())
    }

    fn read_about(&self, _of: PageOf) -> (Option<i64>, String) {
        (Some(self.pupil.id), String::new())
    }

    fn title(&self) -> String {
        format!("Provision: {}", self.pupil.full_name())
    }

    fn first_values(&self, _member: &StaffMember, _query: &Fields) -> Fields {
        Fields::default()
    }

    fn notice(query: &Fields) -> Option<String> {
        query.get("done").and_then(notice_for).map(String::from)
    }

    fn render(&self, form: &Form, notice: Option<&str>, csrf: &str) -> Markup {
        render_support(self, form, notice, csrf)
    }
}

/// `GET /pupils/{id}/provision`: the pupil's plan, programme and provision on one printable
/// page, with the forms to add and review provision.
pub async fn show(visit: Visit, path: web::Path<String>) -> PageResult {
    visit
        .show::<SupportPage>(PageOf::Pupil(pupil_id_of(&path)?))
        .await
}

/// A refusal of the cost in pence moved to the form's field, where it is typed in pounds.
fn at_cost_field(error: Error) -> Error {
    match error {
        Error::Invalid {
            code,
            message,
            field: Some(field),
        } if field == "cost_per_session_pence" => Error::Invalid {
            code,
            message,
            field: Some(COST_FIELD.to_string()),
        },
        Error::Conflict {
            message,
            field: Some(field),
        } if field == "cost_per_session_pence" => Error::Conflict {
            message,
            field: Some(COST_FIELD.to_string()),
        },
        other => other,
    }
}

/// `POST /pupils/{id}/provision`: adds an item to the pupil's Bespoke Provision Map.
pub async fn add(visit: Visit, path: web::Path<String>, form: CsrfForm<Fields>) -> PageResult {
    let pupil_id = pupil_id_of(&path)?;
    let new = NewProvision::read(&form.0);
    let sent = Some(ADD_FORM.to_string());
    visit
        .submit_to::<SupportPage, _, _>(
            PageOf::Pupil(pupil_id),
            sent,
            form.0,
            new,
            move |conn, by, _, new| {
                let id = provision::add_item(conn, by, pupil_id, &new.submission(), Utc::now())
                    .map_err(at_cost_field)?
                    .id;
                Ok(format!("/pupils/{pupil_id}/provision?done=added#item-{id}"))
            },
        )
        .await
}

/// A review as typed: the next review's date, read here; the rest is checked by the domain.
struct ReviewForm {
    next_review_on: Option<NaiveDate>,
    typed: Fields,
}

/// `POST /provision/{id}/review`: records one assess-plan-do-review turn of a provision;
/// ending it records its exit data and outcome.
pub async fn review(visit: Visit, path: web::Path<String>, form: CsrfForm<Fields>) -> PageResult {
    let item_id = item_id_of(&path)?;
    let read = date_of(&form.0, "next_review_on").map(|next_review_on| ReviewForm {
        next_review_on,
        typed: form.0.clone(),
    });
    let sent = Some(review_form_name(item_id));
    visit
        .submit_to::<SupportPage, _, _>(
            PageOf::Item(item_id),
            sent,
            form.0,
            read,
            move |conn, by, _, asked| {
                let typed = &asked.typed;
                let submission = ProvisionReviewSubmission {
                    assessment: typed.raw("assessment"),
                    progress: typed.raw("progress"),
                    next_plan: typed.get("next_plan"),
                    decision: typed.raw("decision"),
                    next_review_on: asked.next_review_on,
                };
                let view = provision::review_item(conn, by, item_id, &submission, Utc::now())?;
                let done = if is_active(&view) {
                    "reviewed"
                } else {
                    "ended"
                };
                Ok(format!(
                    "/pupils/{}/provision?done={done}#item-{item_id}",
                    view.item.pupil_id
                ))
            },
        )
        .await
}
