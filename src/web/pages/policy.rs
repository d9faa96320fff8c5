//! The school's escalation policy, kept by administrators and senior leaders: every figure
//! with its range and help, the versions saved so far, a preview that replays the last weeks
//! of the school's real records under a draft before anything is saved, and saving the draft
//! as a new version.

use actix_web::http::StatusCode;
use chrono::Utc;
use maud::{html, Markup};

use super::form::{local, problem_summary, Fields, Form, Problem};
use super::form_page::{FormPage, PageResult, Visit};
use super::layout::csrf_field;
use crate::db::policies::{self, PolicyVersion};
use crate::db::policy_preview::{self, PolicyPreview};
use crate::db::schools;
use crate::db::staff::StaffMember;
use crate::db::DbConnection;
use crate::domain::policy::{EscalationPolicy, PolicyField, PolicyUnit};
use crate::domain::replay::{DEFAULT_WEEKS, MAX_WEEKS, MIN_WEEKS};
use crate::domain::rules::RuleId;
use crate::domain::{Level, Role};
use crate::error::{Error, Result};
use crate::web::auth::{require_role, CsrfForm};

/// The roles that keep the policy.
const KEEPERS: [Role; 2] = [Role::Admin, Role::Slt];

/// The rules whose suggestions depend on the policy's figures, in the order shown.
const FIGURE_RULES: [RuleId; 5] = [
    RuleId::PromptsToConversation,
    RuleId::SeriousIncident,
    RuleId::IncidentsAfterConversation,
    RuleId::IncidentsAfterTime,
    RuleId::QuietStepDown,
];

/// The name of the form field holding the preview's weeks.
const WEEKS_FIELD: &str = "weeks";

/// The policy page: the policy in force, with its version and history, and the comparison
/// after a preview.
struct PolicyPage {
    version: i32,
    policy: EscalationPolicy,
    history: Vec<PolicyVersion>,
    preview: Option<PolicyPreview>,
}

fn unit_words(unit: PolicyUnit) -> &'static str {
    match unit {
        PolicyUnit::Count => "",
        PolicyUnit::SchoolDays => "school days",
        PolicyUnit::PerWeek => "a week",
        PolicyUnit::Minutes => "minutes",
        PolicyUnit::YesNo => "",
    }
}

fn rule_label(rule: RuleId) -> &'static str {
    match rule {
        RuleId::PromptsToConversation => "Coaching Prompts in the prompt window",
        RuleId::SeriousIncident => "A serious incident",
        RuleId::IncidentsAfterConversation => "Incidents after a Coaching Conversation",
        RuleId::IncidentsAfterTime => "Incidents after Coaching Time",
        RuleId::QuietStepDown => "Quiet school days (stepping down)",
        RuleId::PlanMeetingHeld => "The Coaching Plan meeting held",
        RuleId::ProgrammeBlockNotMet => "A programme block not meeting its goals",
        RuleId::ProgrammeExhausted => "The last programme block not meeting its goals",
        RuleId::GoalsMetStepDown => "Goals met at a review (stepping down)",
    }
}

fn level_label(level: Level) -> String {
    match level {
        Level::None => "0 · Close support".to_string(),
        other => format!("{} · {}", other.number(), other.title()),
    }
}

/// A difference with its sign, e.g. "+2", "−1", "0".
fn signed(current: u32, draft: u32) -> String {
    let difference = i64::from(draft) - i64::from(current);
    match difference {
        0 => "0".to_string(),
        d if d > 0 => format!("+{d}"),
        d => format!("\u{2212}{}", d.unsigned_abs()),
    }
}

/// The form's values for a policy, as first shown.
fn values_of(policy: &EscalationPolicy) -> Fields {
    Fields::from_pairs(
        EscalationPolicy::fields()
            .iter()
            .map(|field| {
                let value = policy.get(field.name).unwrap_or(field.default);
                (field.name, value.to_string())
            })
            .chain([(WEEKS_FIELD, DEFAULT_WEEKS.to_string())]),
    )
}

/// Reads every figure of the submitted form into a draft; each figure that is missing, not a
/// whole number or out of range is a problem on its field.
fn read_draft(form: &Fields) -> (EscalationPolicy, Vec<Problem>) {
    let mut draft = EscalationPolicy::default();
    let mut problems = Vec::new();
    for field in EscalationPolicy::fields() {
        let problem = |message: String| Problem {
            field: Some(field.name.to_string()),
            message,
        };
        let Some(raw) = form.get(field.name) else {
            problems.push(problem(format!("{} is needed", field.label)));
            continue;
        };
        let Ok(value) = raw.parse::<i64>() else {
            problems.push(problem(format!("{} must be a whole number", field.label)));
            continue;
        };
        if let Err(error) = draft.set(field.name, value) {
            if let Some(found) = Problem::of(&policies::policy_error(&error)) {
                problems.push(found);
            }
        }
    }
    (draft, problems)
}

/// The preview's weeks: [`DEFAULT_WEEKS`] when blank, otherwise a whole number in range.
fn read_weeks(form: &Fields) -> std::result::Result<u32, Problem> {
    let Some(raw) = form.get(WEEKS_FIELD) else {
        return Ok(DEFAULT_WEEKS);
    };
    raw.parse::<u32>()
        .ok()
        .filter(|weeks| (MIN_WEEKS..=MAX_WEEKS).contains(weeks))
        .ok_or_else(|| Problem {
            field: Some(WEEKS_FIELD.to_string()),
            message: format!("The preview looks back between {MIN_WEEKS} and {MAX_WEEKS} weeks"),
        })
}

fn render_field(field: &PolicyField, form: &Form) -> Markup {
    let id = format!("policy-{}", field.name);
    let value = form.values.raw(field.name);
    html! {
        div.policy-field {
            label for=(id) { (field.label) }
            @if field.unit == PolicyUnit::YesNo {
                select id=(id) name=(field.name) aria-describedby={ "help-" (field.name) } {
                    option value="1" selected[value.trim() != "0"] { "Yes" }
                    option value="0" selected[value.trim() == "0"] { "No" }
                }
            } @else {
                input id=(id) type="number" name=(field.name) min=(field.min) max=(field.max)
                    step="1" required value=(value) aria-describedby={ "help-" (field.name) };
                @let unit = unit_words(field.unit);
                @if !unit.is_empty() { " " span.unit { (unit) } }
            }
            p.hint id={ "help-" (field.name) } {
                (field.help)
                @if field.unit != PolicyUnit::YesNo {
                    " From " (field.min) " to " (field.max) "; the Coaching Sequence default is " (field.default) "."
                }
            }
            (form.problem_at(field.name))
        }
    }
}

fn render_preview(preview: &PolicyPreview) -> Markup {
    let row = |id: String, label: String, current: u32, draft: u32| {
        html! {
            tr id=(id) {
                th scope="row" { (label) }
                td.num.current { (current) }
                td.num.draft { (draft) }
                td.num.change { (signed(current, draft)) }
            }
        }
    };
    let (current, draft) = (&preview.current, &preview.draft);
    let pupils = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
    html! {
        section.card #preview {
            h2 { "Preview: the last " (preview.weeks) " weeks" }
            p {
                "From " (preview.first_day.format("%-d %B %Y")) " to " (preview.last_day.format("%-d %B %Y"))
                ": " (preview.school_days) " school days, " (preview.incidents) " incidents for "
                (preview.pupils) " pupils, replayed under the current policy (version "
                (preview.current_version) ") and under the draft above."
            }
            p.notice { "Nothing has been saved. Save the draft to use it for suggestions from now on." }
            table.preview {
                thead {
                    tr {
                        th scope="col" { "Suggestions" }
                        th.num scope="col" { "Current (version " (preview.current_version) ")" }
                        th.num scope="col" { "Draft" }
                        th.num scope="col" { "Change" }
                    }
                }
                tbody {
                    (row("preview-total".into(), "All suggestions".into(), current.total(), draft.total()))
                    (row("preview-pupils".into(), "Pupils with a suggestion".into(), pupils(current.pupils()), pupils(draft.pupils())))
                }
                tbody {
                    tr { th colspan="4" { "By level suggested" } }
                    @for level in Level::ALL {
                        (row(format!("preview-level-{}", level.number()), level_label(level), current.at_level(level), draft.at_level(level)))
                    }
                }
                tbody {
                    tr { th colspan="4" { "By rule" } }
                    @for rule in FIGURE_RULES {
                        (row(format!("preview-rule-{}", rule.as_str()), rule_label(rule).to_string(), current.by_rule(rule), draft.by_rule(rule)))
                    }
                }
            }
            p.hint {
                "Each pupil with an incident in the period is replayed school day by school day from the level they were at when it began, "
                "following the moves that really happened. Nothing is accepted or declined in the replay: a suggestion is counted once, "
                "and again only after the pupil's level really changed. Suggestions made at meetings (a Coaching Plan held, programme "
                "reviews, goals met) do not depend on these figures and are not counted."
            }
        }
    }
}

fn render_history(history: &[PolicyVersion]) -> Markup {
    html! {
        section.card #history {
            h2 { "Versions" }
            table {
                thead { tr { th.num scope="col" { "Version" } th scope="col" { "Saved" } th scope="col" { "By" } } }
                tbody {
                    @for saved in history {
                        tr {
                            td.num { (saved.version) }
                            td { (local(saved.created_at)) }
                            td {
                                @match &saved.created_by {
                                    Some(name) => { (name) }
                                    None => { "The Coaching Sequence defaults, set up with the school" }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn render(current: &PolicyPage, form: &Form, notice: Option<&str>, csrf: &str) -> Markup {
    let general = form.problems.iter().find(|p| {
        p.field
            .as_deref()
            .is_none_or(|f| EscalationPolicy::field_info(f).is_none() && f != WEEKS_FIELD)
    });
    let latest = current.history.first();
    html! {
        h1 { "Escalation policy" }
        p.muted {
            "The figures the rules use to suggest moves up and down the Coaching Sequence, and the deadlines for its meetings. "
            "Days are school days: weekends and the school's holidays do not count. "
            "Every suggestion records the version of the policy that made it."
        }
        p #current-version {
            "Version " strong { (current.version) } " is in use"
            @if let Some(saved) = latest {
                ", saved " (local(saved.created_at))
                @if let Some(name) = &saved.created_by { " by " (name) }
            }
            "."
        }
        @if let Some(notice) = notice { p.notice role="status" { (notice) } }
        (problem_summary(general, &[]))
        @if !form.problems.is_empty() && general.is_none() {
            p.error role="alert" { "Check the figures marked below: nothing was saved." }
        }
        form.stack.policy method="post" action="/admin/policy" {
            (csrf_field(csrf))
            input type="hidden" name="version" value=(current.version);
            @for field in EscalationPolicy::fields() {
                (render_field(field, form))
            }
            fieldset {
                legend { "Preview" }
                label for="policy-weeks" { "Replay the last" }
                input #policy-weeks type="number" name=(WEEKS_FIELD) min=(MIN_WEEKS) max=(MAX_WEEKS) step="1"
                    value=(form.values.raw(WEEKS_FIELD));
                " weeks"
                p.hint { "From " (MIN_WEEKS) " to " (MAX_WEEKS) " weeks of the school's real records." }
                (form.problem_at(WEEKS_FIELD))
            }
            div.actions {
                button type="submit" name="action" value="preview" { "Preview" }
                button.primary type="submit" name="action" value="save" { "Save as version " (current.version + 1) }
            }
        }
        @if let Some(preview) = &current.preview { (render_preview(preview)) }
        (render_history(&current.history))
    }
}

impl FormPage for PolicyPage {
    type Key = ();
    const TITLE: &'static str = "Escalation policy";

    fn load(conn: &mut DbConnection, member: &StaffMember, _: ()) -> Result<Self> {
        require_role(member, &KEEPERS)?;
        let (version, policy) = schools::current_policy(conn, member.school_id)?;
        Ok(PolicyPage {
            version,
            policy,
            history: policies::history(conn, member.school_id)?,
            preview: None,
        })
    }

    fn first_values(&self, _member: &StaffMember, _query: &Fields) -> Fields {
        values_of(&self.policy)
    }

    /// `?saved=N` after a new version was saved, `?unchanged=1` when no figure had changed.
    fn notice(query: &Fields) -> Option<String> {
        if let Some(saved) = query.get("saved").and_then(|v| v.parse::<i32>().ok()) {
            return Some(format!(
                "Version {saved} saved: suggestions made from now on use it."
            ));
        }
        query
            .get("unchanged")
            .map(|_| "No figure had changed, so no new version was saved.".to_string())
    }

    fn render(&self, form: &Form, notice: Option<&str>, csrf: &str) -> Markup {
        render(self, form, notice, csrf)
    }
}

/// `GET /admin/policy`: every figure of the policy in force, its version and history.
pub async fn show(visit: Visit) -> PageResult {
    visit.show::<PolicyPage>(()).await
}

/// `POST /admin/policy`: with `action=preview`, replays the last weeks under the draft and
/// shows the comparison, saving nothing; with `action=save`, saves the draft as a new
/// version. Either way every figure out of range shows the form again with the problem next
/// to its field (HTTP 400), and nothing is saved.
pub async fn submit(visit: Visit, form: CsrfForm<Fields>) -> PageResult {
    require_role(&visit.member, &KEEPERS)?;
    let typed = form.0;
    let action = typed.get("action").unwrap_or_default().to_string();
    if action != "preview" && action != "save" {
        return Err(Error::bad_request("choose Preview or Save").into());
    }
    let (draft, mut problems) = read_draft(&typed);
    let weeks = read_weeks(&typed).unwrap_or_else(|problem| {
        problems.push(problem);
        DEFAULT_WEEKS
    });
    if !problems.is_empty() {
        let form = Form::again(typed, problems);
        return visit
            .again::<PolicyPage>((), form, StatusCode::BAD_REQUEST)
            .await;
    }
    if action == "preview" {
        return preview(visit, typed, draft, weeks).await;
    }
    save(visit, typed, draft).await
}

/// The page with the comparison of the draft and the policy in force over the last `weeks`,
/// the draft's figures kept in the form; nothing is saved.
async fn preview(visit: Visit, typed: Fields, draft: EscalationPolicy, weeks: u32) -> PageResult {
    let viewer = visit.member.clone();
    let page = visit
        .state
        .db
        .transaction(move |conn| {
            let mut page = PolicyPage::load(conn, &viewer, ())?;
            let school_id = viewer.school_id;
            let preview = policy_preview::preview(conn, school_id, &draft, weeks, Utc::now())?;
            page.preview = Some(preview);
            Ok(page)
        })
        .await?;
    visit.answer(&page, &Form::first(typed), None, StatusCode::OK)
}

/// Saves the draft as a new version, unless another was saved since the form was shown
/// (the figures are shown again to check against it).
async fn save(visit: Visit, typed: Fields, draft: EscalationPolicy) -> PageResult {
    let seen_version = typed.get("version").and_then(|v| v.parse::<i32>().ok());
    let state = visit.state.clone();
    let school_id = visit.member.school_id;
    let answer = visit
        .submit::<PolicyPage, _, _>((), typed, Ok(draft), move |conn, by, _, draft| {
            let (in_force, _) = schools::current_policy(conn, school_id)?;
            if seen_version.is_some_and(|seen| seen != in_force) {
                return Err(Error::Conflict {
                    message: format!(
                        "Version {in_force} of the policy was saved while you were editing: nothing was saved. \
                         Your figures are shown below; check them against version {in_force} and save again."
                    ),
                    field: None,
                });
            }
            let saved = policies::save(conn, school_id, by.id, &draft, Utc::now())?;
            Ok(if saved == in_force {
                "/admin/policy?unchanged=1".to_string()
            } else {
                format!("/admin/policy?saved={saved}")
            })
        })
        .await;
    // Logging reads the rules through a short-lived cache: new figures apply now.
    state.db.rules().forget(school_id);
    answer
}
