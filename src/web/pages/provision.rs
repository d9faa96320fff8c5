//! Provision pages. A pupil's support on one printable page: their Coaching Plan, programme
//! blocks with fidelity, and each item of their Bespoke Provision Map with its costs and its
//! reviews, with forms (not printed) to add provision and review it. The SENDCO's and SLT's
//! whole-school provision map, filtered by year, level and SEN status, with totals and the
//! reviews due. Both also download as CSV.

use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{NaiveDate, TimeDelta, Utc};
use diesel::prelude::*;
use maud::{html, Markup};

use super::form::{
    csv_bytes, csv_response, html_response, problem_summary, see_other, text_cell, Fields, Problem,
};
use super::layout::{csrf_field, fidelity_summary, level_badge, level_chip, page};
use super::with_viewer;
use crate::db::audit::{self, Read};
use crate::db::plans::{self, PlanVersion};
use crate::db::programmes::{self, BlockView};
use crate::db::provision::{self, ItemView, MapFilter, MapRow, ReviewDue, ReviewKind, SchoolMap};
use crate::db::pupils::{self, PupilView};
use crate::db::schema::year_groups;
use crate::db::staff::StaffMember;
use crate::db::{from_db_time, DbConnection};
use crate::domain::calendar::SchoolCalendar;
use crate::domain::details::{DetailError, SenStatus, YearNumber};
use crate::domain::plan::{
    format_pounds, ProvisionDecision, ProvisionProgress, ProvisionReviewSubmission,
    ProvisionSubmission, DEFAULT_TERM_WEEKS, MAX_COST_PER_SESSION_PENCE, MAX_NAME_CHARS,
    MAX_PROVISION_MINUTES, MAX_PROVISION_PER_WEEK, MAX_PROVISION_TEXT_CHARS,
};
use crate::domain::programme::{Fidelity, ReviewDecision};
use crate::domain::visibility::Record;
use crate::domain::Level;
use crate::error::{Error, Result};
use crate::web::auth::{CsrfForm, SignedIn};
use crate::web::error::PageError;
use crate::web::AppState;

/// How far ahead the list of reviews due looks, in days.
const REVIEWS_AHEAD_DAYS: i64 = 14;

/// The form field for the cost of a session, typed in pounds; the domain checks it in pence
/// under `cost_per_session_pence`.
const COST_FIELD: &str = "cost_per_session";

/// The fields of the form that adds provision, in the order shown.
const ADD_FIELDS: [&str; 11] = [
    "what",
    "provider_kind",
    "provider_name",
    "frequency_per_week",
    "session_minutes",
    "starts_on",
    "review_on",
    "ends_on",
    COST_FIELD,
    "entry_data",
    "target",
];

/// The fields of the form that reviews provision.
const REVIEW_FIELDS: [&str; 5] = [
    "assessment",
    "progress",
    "next_plan",
    "decision",
    "next_review_on",
];

fn today() -> NaiveDate {
    SchoolCalendar::local_date(Utc::now())
}

fn pupil_id_of(path: &str) -> Result<i64> {
    path.parse().map_err(|_| Error::NotFound("pupil"))
}

fn item_id_of(path: &str) -> Result<i64> {
    path.parse().map_err(|_| Error::NotFound("provision"))
}

/// Whether the pupil page links to the pupil's provision page: for pupils at levels 4 to 6,
/// shown to those who may see their support (their Head of Year, the SENDCO and SLT).
pub fn linked_from_pupil(member: &StaffMember, pupil: &PupilView) -> bool {
    (Level::Plan..=Level::Provision).contains(&pupil.level)
        && member.may_read(pupil.place(), Record::Provision)
}

fn date(on: NaiveDate) -> String {
    on.format("%-d %b %Y").to_string()
}

/// Pence as pounds for a spreadsheet: `48750` as `487.50`, no symbol and no commas.
fn pounds_for_csv(pence: u64) -> String {
    format!("{}.{:02}", pence / 100, pence % 100)
}

fn provider_kind(external: bool) -> &'static str {
    if external {
        "External"
    } else {
        "Internal"
    }
}

fn progress_title(raw: &str) -> &str {
    ProvisionProgress::parse(raw).map_or(raw, |v| v.title())
}

fn decision_title(raw: &str) -> &str {
    ProvisionDecision::parse(raw).map_or(raw, |v| v.title())
}

fn sen_title(raw: &str) -> &str {
    SenStatus::parse(raw).map_or(raw, |v| v.title())
}

fn level_of(number: i16) -> Level {
    Level::from_number(i64::from(number)).unwrap_or(Level::None)
}

fn is_active(item: &ItemView) -> bool {
    item.item.status == "active"
}

fn block_status(status: &str) -> &str {
    match status {
        "running" => "running",
        "reviewed" => "reviewed",
        "ended" => "ended without a review",
        other => other,
    }
}

// ---------------------------------------------------------------------------------------------
// A pupil's support, on one page
// ---------------------------------------------------------------------------------------------

/// Everything a pupil's support page shows, read in one transaction.
struct SupportPage {
    pupil: PupilView,
    plan: Option<PlanVersion>,
    blocks: Vec<BlockView>,
    items: Vec<ItemView>,
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
    })
}

/// Which form was sent and came back with a problem.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum SentForm {
    /// None: the page is shown fresh.
    #[default]
    None,
    /// The form that adds provision.
    Add,
    /// The review form of this provision item.
    Review(i64),
}

/// A form sent back with what was typed and what is wrong with it.
#[derive(Debug, Clone, Default)]
struct Sent {
    form: SentForm,
    fields: Fields,
    problem: Option<Problem>,
}

impl Sent {
    fn problem_in(&self, form: SentForm) -> Option<&Problem> {
        self.problem.as_ref().filter(|_| self.form == form)
    }
}

/// The slot next to a field where its problem is shown, with an id unique on the page (the
/// page has one review form per provision).
fn problem_at(problem: Option<&Problem>, prefix: &str, field: &str) -> Markup {
    let message = problem.filter(|p| p.is_about(field)).map(|p| &p.message);
    html! {
        p.field-error id={ "error-" (prefix) (field) } data-error-for=(field) role="alert" hidden[message.is_none()] {
            @if let Some(message) = message { (message) }
        }
    }
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
                div.table-scroll {
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
                div.table-scroll {
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

fn render_review_form(view: &ItemView, sent: &Sent, csrf: &str) -> Markup {
    let id = view.item.id;
    let this = SentForm::Review(id);
    let problem = sent.problem_in(this);
    let blank = Fields::default();
    let values = if sent.form == this {
        &sent.fields
    } else {
        &blank
    };
    let prefix = format!("review-{id}-");
    let input_id = |field: &str| format!("{prefix}{field}");
    html! {
        details.review-form.no-print open[problem.is_some()] {
            summary { "Review this provision" }
            form.stack method="post" action={ "/provision/" (id) "/review" } {
                (csrf_field(csrf))
                label for=(input_id("assessment")) { "Assess: where is the pupil now, against the target?" }
                textarea id=(input_id("assessment")) name="assessment" rows="2" required maxlength=(MAX_PROVISION_TEXT_CHARS) { (values.raw("assessment")) }
                (problem_at(problem, &prefix, "assessment"))
                fieldset {
                    legend { "Progress towards the target" }
                    @for progress in ProvisionProgress::ALL {
                        label.choice {
                            input type="radio" name="progress" value=(progress.as_str()) required checked[values.raw("progress") == progress.as_str()];
                            " " (progress.title())
                        }
                    }
                    (problem_at(problem, &prefix, "progress"))
                }
                fieldset {
                    legend { "Decision" }
                    @for decision in ProvisionDecision::ALL {
                        label.choice {
                            input type="radio" name="decision" value=(decision.as_str()) required checked[values.raw("decision") == decision.as_str()];
                            " " (decision.title())
                        }
                    }
                    (problem_at(problem, &prefix, "decision"))
                }
                label for=(input_id("next_plan")) { "Plan: what changes for the next cycle (needed to continue with changes)" }
                textarea id=(input_id("next_plan")) name="next_plan" rows="2" maxlength=(MAX_PROVISION_TEXT_CHARS) { (values.raw("next_plan")) }
                (problem_at(problem, &prefix, "next_plan"))
                label for=(input_id("next_review_on")) { "Next review" }
                p.hint { "Leave it empty when ending the provision: the assessment becomes its exit data." }
                input id=(input_id("next_review_on")) type="date" name="next_review_on" value=(values.raw("next_review_on"));
                (problem_at(problem, &prefix, "next_review_on"))
                button.primary type="submit" { "Record the review" }
            }
        }
    }
}

fn render_add_form(pupil: &PupilView, sent: &Sent, csrf: &str, today: NaiveDate) -> Markup {
    let problem = sent.problem_in(SentForm::Add);
    let defaults = add_defaults(today);
    let values = if sent.form == SentForm::Add {
        &sent.fields
    } else {
        &defaults
    };
    let prefix = "add-";
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
                    (problem_at(problem, prefix, "what"))
                    fieldset {
                        legend { "Provided by" }
                        @for (value, label) in [("internal", "The school's own staff"), ("external", "An outside service")] {
                            label.choice {
                                input type="radio" name="provider_kind" value=(value) checked[values.raw("provider_kind") == value];
                                " " (label)
                            }
                        }
                        (problem_at(problem, prefix, "provider_kind"))
                    }
                    label for="add-provider_name" { "Who provides it (a member of staff, a team or a service)" }
                    input #add-provider_name type="text" name="provider_name" required maxlength=(MAX_NAME_CHARS) value=(values.raw("provider_name"));
                    (problem_at(problem, prefix, "provider_name"))
                    label for="add-frequency_per_week" { "Sessions a week" }
                    input #add-frequency_per_week type="number" name="frequency_per_week" min="1" max=(MAX_PROVISION_PER_WEEK) required value=(values.raw("frequency_per_week"));
                    (problem_at(problem, prefix, "frequency_per_week"))
                    label for="add-session_minutes" { "Minutes a session" }
                    input #add-session_minutes type="number" name="session_minutes" min="1" max=(MAX_PROVISION_MINUTES) required value=(values.raw("session_minutes"));
                    (problem_at(problem, prefix, "session_minutes"))
                    label for="add-starts_on" { "Starts" }
                    input #add-starts_on type="date" name="starts_on" required value=(values.raw("starts_on"));
                    (problem_at(problem, prefix, "starts_on"))
                    label for="add-review_on" { "Review" }
                    input #add-review_on type="date" name="review_on" required value=(values.raw("review_on"));
                    (problem_at(problem, prefix, "review_on"))
                    label for="add-ends_on" { "Ends" }
                    input #add-ends_on type="date" name="ends_on" required value=(values.raw("ends_on"));
                    (problem_at(problem, prefix, "ends_on"))
                    label for="add-cost_per_session" { "Cost of one session in pounds, such as 12.50 (0 for staff time not costed)" }
                    input #add-cost_per_session type="text" name=(COST_FIELD) inputmode="decimal" required maxlength="20" value=(values.raw(COST_FIELD));
                    (problem_at(problem, prefix, COST_FIELD))
                    label for="add-entry_data" { "Entry data: where the pupil is at the start" }
                    textarea #add-entry_data name="entry_data" rows="2" required maxlength=(MAX_PROVISION_TEXT_CHARS) { (values.raw("entry_data")) }
                    (problem_at(problem, prefix, "entry_data"))
                    label for="add-target" { "Target: where the pupil should be by the review" }
                    textarea #add-target name="target" rows="2" required maxlength=(MAX_PROVISION_TEXT_CHARS) { (values.raw("target")) }
                    (problem_at(problem, prefix, "target"))
                    button.primary type="submit" { "Add the provision" }
                }
            }
        }
    }
}

fn render_support(
    data: &SupportPage,
    sent: &Sent,
    notice: Option<&str>,
    csrf: &str,
    today: NaiveDate,
) -> Markup {
    let pupil = &data.pupil;
    let anchor = match sent.form {
        SentForm::Add => "#add".to_string(),
        SentForm::Review(id) => format!("#item-{id}"),
        SentForm::None => String::new(),
    };
    let fields_on_form: &[&str] = match sent.form {
        SentForm::Add => &ADD_FIELDS,
        SentForm::Review(_) => &REVIEW_FIELDS,
        SentForm::None => &[],
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
        @if sent.problem.is_some() {
            div.no-print {
                (problem_summary(sent.problem.as_ref(), fields_on_form))
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
                @if is_active(view) { (render_review_form(view, sent, csrf)) }
            }
            p.total {
                "Active provision, cost per term (" (DEFAULT_TERM_WEEKS) " weeks): "
                strong #total-cost { (format_pounds(data.active_cost_per_term())) }
            }
        }
        (render_add_form(pupil, sent, csrf, today))
    }
}

/// What a redirect after a change says on the page.
fn notice_for(done: Option<&str>) -> Option<&'static str> {
    match done? {
        "added" => Some("The provision is added."),
        "reviewed" => Some("The review is recorded."),
        "ended" => Some("The review is recorded and the provision has ended: its exit data and outcome are kept."),
        _ => None,
    }
}

fn support_response(
    member: &StaffMember,
    session: &Session,
    status: StatusCode,
    data: &SupportPage,
    sent: &Sent,
    notice: Option<&str>,
    today: NaiveDate,
) -> HttpResponse {
    let markup = with_viewer(member, session, |viewer| {
        page(
            &format!("Provision: {}", data.pupil.full_name()),
            viewer,
            render_support(data, sent, notice, viewer.csrf, today),
        )
    });
    html_response(status, markup)
}

/// `GET /pupils/{id}/provision`: the pupil's plan, programme and provision on one printable
/// page, with the forms to add and review provision.
pub async fn show(
    SignedIn(member): SignedIn,
    session: Session,
    path: web::Path<String>,
    request: HttpRequest,
    state: web::Data<AppState>,
) -> std::result::Result<HttpResponse, PageError> {
    let pupil_id = pupil_id_of(&path)?;
    let today = today();
    let viewer = member.clone();
    let data = state
        .db
        .write(move |conn| {
            let data = load_support(conn, &viewer, pupil_id, today)?;
            audit::record_read(
                conn,
                &viewer,
                Read::Provision,
                Some(pupil_id),
                String::new(),
            )?;
            Ok(data)
        })
        .await?;
    let query = Fields::from_query(request.query_string());
    Ok(support_response(
        &member,
        &session,
        StatusCode::OK,
        &data,
        &Sent::default(),
        notice_for(query.get("done")),
        today,
    ))
}

/// Which pupil's page to show again after a refused form.
#[derive(Debug, Clone, Copy)]
enum PageOf {
    Pupil(i64),
    Item(i64),
}

/// Shows the pupil's provision page again with the problem at the form that was sent (400,
/// 409 or 422), or passes on any other error (403, 404...).
async fn again_with(
    member: StaffMember,
    session: &Session,
    state: &web::Data<AppState>,
    of: PageOf,
    form: SentForm,
    fields: Fields,
    error: Error,
) -> std::result::Result<HttpResponse, PageError> {
    let Some(problem) = Problem::of(&error).filter(|_| [400, 409, 422].contains(&error.status()))
    else {
        return Err(PageError(error));
    };
    let today = today();
    let viewer = member.clone();
    let data = state
        .db
        .transaction(move |conn| {
            let pupil_id = match of {
                PageOf::Pupil(id) => id,
                PageOf::Item(item_id) => provision::item_for(conn, &viewer, item_id)?.item.pupil_id,
            };
            load_support(conn, &viewer, pupil_id, today)
        })
        .await?;
    let problem = Problem {
        field: problem.field.map(|f| {
            if f == "cost_per_session_pence" {
                COST_FIELD.to_string()
            } else {
                f
            }
        }),
        message: problem.message,
    };
    let sent = Sent {
        form,
        fields,
        problem: Some(problem),
    };
    let status = StatusCode::from_u16(error.status()).unwrap_or(StatusCode::BAD_REQUEST);
    Ok(support_response(
        &member, session, status, &data, &sent, None, today,
    ))
}

fn refuse(field: &'static str, message: impl Into<String>) -> Problem {
    Problem::from(DetailError {
        field,
        message: message.into(),
    })
}

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
fn date_of(
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
struct NewProvision {
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
    fn read(fields: &Fields) -> std::result::Result<NewProvision, Problem> {
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

    fn submission(&self) -> ProvisionSubmission<'_> {
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

/// `POST /pupils/{id}/provision`: adds an item to the pupil's Bespoke Provision Map.
pub async fn add(
    SignedIn(member): SignedIn,
    session: Session,
    path: web::Path<String>,
    form: CsrfForm<Fields>,
    state: web::Data<AppState>,
) -> std::result::Result<HttpResponse, PageError> {
    let pupil_id = pupil_id_of(&path)?;
    let fields = form.0;
    let of = PageOf::Pupil(pupil_id);
    let new = match NewProvision::read(&fields) {
        Ok(new) => new,
        Err(problem) => {
            let error = Error::from(&problem);
            return again_with(member, &session, &state, of, SentForm::Add, fields, error).await;
        }
    };
    let by = member.clone();
    let outcome = state
        .db
        .write(move |conn| {
            provision::add_item(conn, &by, pupil_id, &new.submission(), Utc::now()).map(|r| r.id)
        })
        .await;
    match outcome {
        Ok(id) => Ok(see_other(&format!(
            "/pupils/{pupil_id}/provision?done=added#item-{id}"
        ))),
        Err(error) => again_with(member, &session, &state, of, SentForm::Add, fields, error).await,
    }
}

/// `POST /provision/{id}/review`: records one assess-plan-do-review turn of a provision;
/// ending it records its exit data and outcome.
pub async fn review(
    SignedIn(member): SignedIn,
    session: Session,
    path: web::Path<String>,
    form: CsrfForm<Fields>,
    state: web::Data<AppState>,
) -> std::result::Result<HttpResponse, PageError> {
    let item_id = item_id_of(&path)?;
    let fields = form.0;
    let of = PageOf::Item(item_id);
    let sent = SentForm::Review(item_id);
    let next_review_on = match date_of(&fields, "next_review_on") {
        Ok(on) => on,
        Err(problem) => {
            let error = Error::from(&problem);
            return again_with(member, &session, &state, of, sent, fields, error).await;
        }
    };
    let by = member.clone();
    let typed = fields.clone();
    let outcome = state
        .db
        .write(move |conn| {
            let submission = ProvisionReviewSubmission {
                assessment: typed.raw("assessment"),
                progress: typed.raw("progress"),
                next_plan: typed.get("next_plan"),
                decision: typed.raw("decision"),
                next_review_on,
            };
            let view = provision::review_item(conn, &by, item_id, &submission, Utc::now())?;
            Ok((view.item.pupil_id, is_active(&view)))
        })
        .await;
    match outcome {
        Ok((pupil_id, still_active)) => {
            let done = if still_active { "reviewed" } else { "ended" };
            Ok(see_other(&format!(
                "/pupils/{pupil_id}/provision?done={done}#item-{item_id}"
            )))
        }
        Err(error) => again_with(member, &session, &state, of, sent, fields, error).await,
    }
}

// ---------------------------------------------------------------------------------------------
// CSV
// ---------------------------------------------------------------------------------------------

/// The columns of a pupil's provision CSV.
const ITEM_COLUMNS: [&str; 23] = [
    "UPN",
    "Provision",
    "Provider type",
    "Provider",
    "Sessions a week",
    "Minutes a session",
    "Starts",
    "Review",
    "Ends",
    "Cost per session (GBP)",
    "Cost per term (GBP)",
    "Status",
    "Entry data",
    "Target",
    "Exit data",
    "Outcome",
    "Reviews",
    "Last reviewed",
    "Last assessment",
    "Last progress",
    "Last plan for the next cycle",
    "Last decision",
    "Next review",
];

fn item_csv_rows(upn: &str, items: &[ItemView]) -> Vec<Vec<String>> {
    let mut rows = vec![ITEM_COLUMNS.iter().map(|c| c.to_string()).collect()];
    for view in items {
        let item = &view.item;
        let last = view.reviews.last();
        rows.push(vec![
            upn.to_string(),
            text_cell(&item.what),
            provider_kind(item.external).to_string(),
            text_cell(&item.provider_name),
            item.frequency_per_week.to_string(),
            item.session_minutes.to_string(),
            item.starts_on.to_string(),
            item.review_on.to_string(),
            item.ends_on.to_string(),
            pounds_for_csv(u64::try_from(item.cost_per_session_pence).unwrap_or(0)),
            pounds_for_csv(view.cost_per_term_pence()),
            item.status.clone(),
            text_cell(&item.entry_data),
            text_cell(&item.target),
            text_cell(item.exit_data.as_deref().unwrap_or_default()),
            item.outcome
                .as_deref()
                .map(progress_title)
                .unwrap_or_default()
                .to_string(),
            view.reviews.len().to_string(),
            last.map(|r| r.reviewed_on.to_string()).unwrap_or_default(),
            text_cell(last.map(|r| r.assessment.as_str()).unwrap_or_default()),
            last.map(|r| progress_title(&r.progress).to_string())
                .unwrap_or_default(),
            text_cell(
                last.and_then(|r| r.next_plan.as_deref())
                    .unwrap_or_default(),
            ),
            last.map(|r| decision_title(&r.decision).to_string())
                .unwrap_or_default(),
            if is_active(view) {
                item.review_on.to_string()
            } else {
                String::new()
            },
        ]);
    }
    let total: u64 = items
        .iter()
        .filter(|i| is_active(i))
        .map(ItemView::cost_per_term_pence)
        .sum();
    let mut totals = vec![String::new(); ITEM_COLUMNS.len()];
    totals[0] = "Total".to_string();
    totals[1] = "Active provision".to_string();
    totals[10] = pounds_for_csv(total);
    rows.push(totals);
    rows
}

/// `GET /pupils/{id}/provision.csv`: the pupil's provision, one row per item with its
/// latest review, and a row with the cost per term of the active provision. The file is named
/// by the pupil's UPN, never their name.
pub async fn pupil_csv(
    SignedIn(member): SignedIn,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> std::result::Result<HttpResponse, PageError> {
    let pupil_id = pupil_id_of(&path)?;
    let (upn, body) = state
        .db
        .write(move |conn| {
            let (pupil, _) = provision::pupil_for_support(conn, &member, pupil_id)?;
            let items = provision::items_for(conn, member.school_id, pupil_id)?;
            let body = csv_bytes(&item_csv_rows(&pupil.upn, &items))?;
            let detail = format!("{} items", items.len());
            audit::record_read(conn, &member, Read::ProvisionExport, Some(pupil_id), detail)?;
            Ok((pupil.upn, body))
        })
        .await?;
    Ok(csv_response(&format!("provision-{upn}.csv"), body))
}

// ---------------------------------------------------------------------------------------------
// The whole-school provision map
// ---------------------------------------------------------------------------------------------

/// The map's filters as audit detail: only the chosen year, level and SEN status.
fn map_detail(filter: &MapFilter) -> String {
    let mut parts = Vec::new();
    if let Some(year) = filter.year {
        parts.push(format!("year {year}"));
    }
    if let Some(level) = filter.level {
        parts.push(format!("level {level}"));
    }
    if let Some(sen) = &filter.sen_status {
        parts.push(format!("SEN {sen}"));
    }
    if parts.is_empty() {
        "all pupils".into()
    } else {
        parts.join(", ")
    }
}

fn require_map(member: &StaffMember) -> Result<()> {
    if provision::may_see_school_map(member) {
        Ok(())
    } else {
        Err(Error::Forbidden(
            "the whole-school provision map is for the SENDCO and SLT".into(),
        ))
    }
}

/// The map's filters as chosen, with the first problem in them; a filter with a problem is
/// left out.
fn read_map_filter(query: &Fields) -> (MapFilter, Option<Problem>) {
    let mut problem = None;
    let year = query.get("year").and_then(|raw| {
        let year = raw
            .parse::<i64>()
            .ok()
            .and_then(|y| YearNumber::new(y).ok())
            .map(YearNumber::get);
        if year.is_none() {
            problem.get_or_insert(refuse("year", "choose a year group from the list"));
        }
        year
    });
    let level = query.get("level").and_then(|raw| {
        let level = raw
            .parse::<i16>()
            .ok()
            .filter(|l| (Level::Plan.number()..=Level::Provision.number()).contains(l));
        if level.is_none() {
            problem.get_or_insert(refuse("level", "the map shows levels 4, 5 and 6"));
        }
        level
    });
    let sen_status = query
        .get("sen_status")
        .and_then(|raw| match SenStatus::parse(raw) {
            Ok(status) => Some(status.as_str().to_string()),
            Err(error) => {
                problem.get_or_insert(Problem::from(error));
                None
            }
        });
    (
        MapFilter {
            year,
            level,
            sen_status,
        },
        problem,
    )
}

/// The query string that asks for `filter` (for the CSV link).
fn filter_query(filter: &MapFilter) -> String {
    let mut pairs: Vec<(&str, String)> = Vec::new();
    if let Some(year) = filter.year {
        pairs.push(("year", year.to_string()));
    }
    if let Some(level) = filter.level {
        pairs.push(("level", level.to_string()));
    }
    if let Some(sen) = &filter.sen_status {
        pairs.push(("sen_status", sen.clone()));
    }
    serde_urlencoded::to_string(&pairs).unwrap_or_default()
}

/// The year groups of a school, for the filter.
pub(crate) fn years_of(conn: &mut DbConnection, school_id: i64) -> Result<Vec<i16>> {
    Ok(year_groups::table
        .filter(year_groups::school_id.eq(school_id))
        .select(year_groups::year)
        .order(year_groups::year)
        .load(conn)?)
}

/// Everything the map page shows.
struct MapPage {
    map: SchoolMap,
    due: Vec<ReviewDue>,
    years: Vec<i16>,
}

fn pupil_count(n: usize) -> String {
    if n == 1 {
        "1 pupil".to_string()
    } else {
        format!("{n} pupils")
    }
}

fn row_overdue(row: &MapRow, today: NaiveDate) -> bool {
    row.next_review.is_some_and(|on| on < today)
}

fn due_link(due: &ReviewDue) -> String {
    match due.kind {
        ReviewKind::Meeting => format!("/meetings/{}", due.record_id),
        ReviewKind::Plan | ReviewKind::Provision => format!("/pupils/{}/provision", due.record_id),
    }
}

fn render_filters(filter: &MapFilter, problem: Option<&Problem>, years: &[i16]) -> Markup {
    let chosen_sen = filter.sen_status.as_deref().unwrap_or_default();
    let csv_query = filter_query(filter);
    let csv_link = if csv_query.is_empty() {
        "/provision.csv".to_string()
    } else {
        format!("/provision.csv?{csv_query}")
    };
    html! {
        form.filters.map-filters.no-print method="get" action="/provision" {
            div.row {
                label for="year" { "Year group" }
                select #year name="year" {
                    option value="" { "All years" }
                    @for y in years {
                        option value=(y) selected[filter.year == Some(*y)] { "Year " (y) }
                    }
                }
                label for="level" { "Level" }
                select #level name="level" {
                    option value="" { "Levels 4 to 6" }
                    @for level in [Level::Plan, Level::Programme, Level::Provision] {
                        option value=(level.number()) selected[filter.level == Some(level.number())] {
                            (level.number()) " · " (level.title())
                        }
                    }
                }
                label for="sen_status" { "SEN status" }
                select #sen_status name="sen_status" {
                    option value="" { "Any" }
                    @for status in SenStatus::ALL {
                        option value=(status.as_str()) selected[chosen_sen == status.as_str()] { (status.title()) }
                    }
                }
                button type="submit" { "Show" }
                a href="/provision" { "Clear" }
            }
            @for field in ["year", "level", "sen_status"] {
                (problem_at(problem, "", field))
            }
            p {
                a.button href=(csv_link) { "Download this map (CSV)" }
                " "
                button type="button" data-print { "Print" }
            }
        }
    }
}

fn render_map_row(row: &MapRow, today: NaiveDate) -> Markup {
    let pupil = &row.pupil;
    let overdue = row_overdue(row, today);
    html! {
        tr.overdue[overdue] data-pupil=(pupil.id) {
            td { a href={ "/pupils/" (pupil.id) "/provision" } { (pupil.family_name) ", " (pupil.given_name) } }
            td { (row.year) }
            td { (row.form) }
            td { (sen_title(&pupil.sen_status)) }
            td { (level_chip(level_of(pupil.level))) }
            td {
                @match row.plan {
                    Some((version, review_on)) => { "Version " (version) br; span.small { "review " (date(review_on)) } }
                    None => { span.muted { "none" } }
                }
            }
            td {
                @match &row.block {
                    Some(block) => {
                        (block.weeks) "-week block, " (block_status(&block.status)) br;
                        (fidelity_summary(block.fidelity.fidelity))
                    }
                    None => { span.muted { "none" } }
                }
            }
            td {
                @let active: Vec<&ItemView> = row.active_items().collect();
                @if active.is_empty() {
                    span.muted { "none" }
                } @else {
                    ul.plain {
                        @for view in active {
                            li { (view.item.what) span.small.muted { " · " (provider_kind(view.item.external)) ": " (view.item.provider_name) } }
                        }
                    }
                }
            }
            td.num { (format_pounds(row.cost_per_term_pence)) }
            td { (row.outcome()) }
            td.next-review {
                @if let Some(on) = row.next_review {
                    (date(on))
                    @if overdue { " " span.tag.alert { "overdue" } }
                }
            }
        }
    }
}

fn render_map(
    data: &MapPage,
    filter: &MapFilter,
    problem: Option<&Problem>,
    today: NaiveDate,
) -> Markup {
    let map = &data.map;
    let (overdue, coming): (Vec<&ReviewDue>, Vec<&ReviewDue>) =
        data.due.iter().partition(|d| d.is_overdue(today));
    html! {
        h1 { "Provision map" }
        p.muted {
            "Every pupil at levels 4 to 6: their plan, programme, provision, costs and what it has achieved. "
            "Costs are per term of " (DEFAULT_TERM_WEEKS) " weeks. As of " (date(today)) "."
        }
        (render_filters(filter, problem, &data.years))
        @if map.rows.is_empty() {
            p.muted { "No pupil at levels 4 to 6 matches these filters." }
        } @else {
            div.table-scroll {
                table.provision-map {
                    thead { tr {
                        th { "Pupil" } th { "Year" } th { "Form" } th { "SEN status" } th { "Level" }
                        th { "Coaching Plan" } th { "Programme and fidelity" } th { "Active provision" }
                        th.num { "Cost per term" } th { "Outcome" } th { "Next review" }
                    } }
                    tbody {
                        @for row in &map.rows { (render_map_row(row, today)) }
                    }
                    tfoot {
                        tr.totals {
                            td #total-pupils { (pupil_count(map.rows.len())) }
                            td colspan="5" { "Totals" }
                            td #total-fidelity {
                                (fidelity_summary(map.fidelity))
                            }
                            td #total-active { (map.active_items) " active" }
                            td.num #total-cost { (format_pounds(map.cost_per_term_pence)) }
                            td colspan="2" {}
                        }
                    }
                }
            }
        }
        section.card #reviews-due {
            h2 { "Reviews due and overdue" }
            p.muted { "Across the whole school: overdue first, then those due in the next " (REVIEWS_AHEAD_DAYS) " days." }
            @if data.due.is_empty() {
                p.muted { "No reviews due." }
            } @else {
                ul.list.reviews-due {
                    @for due in overdue.iter().chain(coming.iter()) {
                        @let late = due.is_overdue(today);
                        li.overdue[late] {
                            a href=(due_link(due)) { (due.pupil.given_name) " " (due.pupil.family_name) }
                            " · Year " (due.year) " · " (due.what) " · due " (date(due.due_on))
                            @if late { " " span.tag.alert { "overdue" } }
                        }
                    }
                }
            }
        }
    }
}

/// `GET /provision?year=&level=&sen_status=`: the whole-school provision map with its totals,
/// and the reviews due and overdue. For the SENDCO and SLT.
pub async fn map(
    SignedIn(member): SignedIn,
    session: Session,
    request: HttpRequest,
    state: web::Data<AppState>,
) -> std::result::Result<HttpResponse, PageError> {
    require_map(&member)?;
    let query = Fields::from_query(request.query_string());
    let (filter, problem) = read_map_filter(&query);
    let today = today();
    let school_id = member.school_id;
    let wanted = filter.clone();
    let reader = member.clone();
    let data = state
        .db
        .write(move |conn| {
            let data = MapPage {
                map: provision::school_map(conn, school_id, &wanted, today)?,
                due: provision::reviews_due(
                    conn,
                    school_id,
                    today + TimeDelta::days(REVIEWS_AHEAD_DAYS),
                )?,
                years: years_of(conn, school_id)?,
            };
            audit::record_read(conn, &reader, Read::ProvisionMap, None, map_detail(&wanted))?;
            Ok(data)
        })
        .await?;
    let status = if problem.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    let markup = with_viewer(&member, &session, |viewer| {
        page(
            "Provision map",
            viewer,
            render_map(&data, &filter, problem.as_ref(), today),
        )
    });
    Ok(html_response(status, markup))
}

/// The columns of the whole-school map's CSV.
const MAP_COLUMNS: [&str; 17] = [
    "UPN",
    "Pupil",
    "Year",
    "Form",
    "SEN status",
    "Level",
    "Plan version",
    "Plan review",
    "Programme block (weeks)",
    "Block status",
    "Fidelity (%)",
    "Fidelity band",
    "Active provision",
    "Cost per term (GBP)",
    "Outcome",
    "Next review",
    "Overdue",
];

fn fidelity_cells(fidelity: Fidelity) -> [String; 2] {
    [
        fidelity
            .percent()
            .map(|p| p.to_string())
            .unwrap_or_default(),
        fidelity
            .band()
            .map(|b| b.as_str().to_string())
            .unwrap_or_default(),
    ]
}

fn map_csv_rows(map: &SchoolMap, today: NaiveDate) -> Vec<Vec<String>> {
    let mut rows = vec![MAP_COLUMNS.iter().map(|c| c.to_string()).collect()];
    for row in &map.rows {
        let pupil = &row.pupil;
        let [percent, band] = row
            .block
            .as_ref()
            .map(|b| fidelity_cells(b.fidelity.fidelity))
            .unwrap_or_default();
        let active: Vec<String> = row
            .active_items()
            .map(|v| {
                format!(
                    "{} ({}: {})",
                    v.item.what,
                    provider_kind(v.item.external),
                    v.item.provider_name
                )
            })
            .collect();
        rows.push(vec![
            pupil.upn.clone(),
            text_cell(&format!("{} {}", pupil.given_name, pupil.family_name)),
            row.year.to_string(),
            text_cell(&row.form),
            sen_title(&pupil.sen_status).to_string(),
            pupil.level.to_string(),
            row.plan.map(|(v, _)| v.to_string()).unwrap_or_default(),
            row.plan.map(|(_, on)| on.to_string()).unwrap_or_default(),
            row.block
                .as_ref()
                .map(|b| b.weeks.to_string())
                .unwrap_or_default(),
            row.block
                .as_ref()
                .map(|b| block_status(&b.status).to_string())
                .unwrap_or_default(),
            percent,
            band,
            text_cell(&active.join("; ")),
            pounds_for_csv(row.cost_per_term_pence),
            row.outcome(),
            row.next_review.map(|on| on.to_string()).unwrap_or_default(),
            if row_overdue(row, today) { "yes" } else { "" }.to_string(),
        ]);
    }
    let [percent, band] = fidelity_cells(map.fidelity);
    let mut totals = vec![String::new(); MAP_COLUMNS.len()];
    totals[0] = "Total".to_string();
    totals[1] = pupil_count(map.rows.len());
    totals[10] = percent;
    totals[11] = band;
    totals[12] = format!("{} active", map.active_items);
    totals[13] = pounds_for_csv(map.cost_per_term_pence);
    rows.push(totals);
    rows
}

/// `GET /provision.csv?year=&level=&sen_status=`: the filtered whole-school map as CSV, one
/// row per pupil and a totals row. For the SENDCO and SLT.
pub async fn map_csv(
    SignedIn(member): SignedIn,
    request: HttpRequest,
    state: web::Data<AppState>,
) -> std::result::Result<HttpResponse, PageError> {
    require_map(&member)?;
    let query = Fields::from_query(request.query_string());
    let (filter, problem) = read_map_filter(&query);
    if let Some(problem) = problem {
        return Err(PageError(Error::from(&problem)));
    }
    let today = today();
    let school_id = member.school_id;
    let body = state
        .db
        .write(move |conn| {
            let map = provision::school_map(conn, school_id, &filter, today)?;
            let body = csv_bytes(&map_csv_rows(&map, today))?;
            let detail = map_detail(&filter);
            audit::record_read(conn, &member, Read::ProvisionMapExport, None, detail)?;
            Ok(body)
        })
        .await?;
    Ok(csv_response(&format!("provision-map-{today}.csv"), body))
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

    #[test]
    fn csv_text_never_starts_a_formula() {
        assert_eq!(text_cell("=SUM(A1)"), "'=SUM(A1)");
        assert_eq!(text_cell("-1"), "'-1");
        assert_eq!(text_cell("Reading"), "Reading");
    }
}
