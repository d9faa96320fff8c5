//! The Coaching Plan (level 4) and the items of a Bespoke Provision Map (level 6), as checked
//! values: parsed once at the edge, trusted after.
//!
//! A Coaching Plan is a learning agreement with the pupil and their parent or carer: a few
//! small, clear goals, each with a measurable success criterion; the Pathway to Independence;
//! action steps with an owner and a date; and a review date. A provision item is one line of
//! a provision map: what is provided, by whom, how often and for how long, its dates, its cost,
//! and the entry data and target it will be reviewed against.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::domain::details::{optional_text, refuse, DetailError};

/// Fewest goals in a Coaching Plan.
pub const MIN_GOALS: usize = 1;
/// Most goals in a Coaching Plan: a plan works on a few priorities at a time.
pub const MAX_GOALS: usize = 5;
/// Longest goal, in characters: goals are small and clear.
pub const MAX_GOAL_CHARS: usize = 200;
/// Longest success criterion, in characters.
pub const MAX_CRITERION_CHARS: usize = 300;
/// Longest Pathway to Independence, in characters.
pub const MAX_PATHWAY_CHARS: usize = 2000;
/// Most action steps in a Coaching Plan.
pub const MAX_ACTION_STEPS: usize = 10;
/// Longest action step, in characters.
pub const MAX_STEP_CHARS: usize = 300;
/// Longest name of a person or service, in characters.
pub const MAX_NAME_CHARS: usize = 100;
/// Longest description of a provision, or of its entry data or target, in characters.
pub const MAX_PROVISION_TEXT_CHARS: usize = 500;
/// Most sessions a week a provision item may have.
pub const MAX_PROVISION_PER_WEEK: u32 = 10;
/// Longest provision session, in minutes (a whole school day).
pub const MAX_PROVISION_MINUTES: u32 = 390;
/// Highest cost per session, in pence (£5,000).
pub const MAX_COST_PER_SESSION_PENCE: u32 = 500_000;
/// A school term's usual length in weeks (39 teaching weeks over three terms).
pub const DEFAULT_TERM_WEEKS: u32 = 13;
/// Longest term length accepted for costing, in weeks.
pub const MAX_TERM_WEEKS: u32 = 20;

/// Required free text: trimmed, not blank, at most `max` characters, no control characters
/// other than line breaks and tabs.
fn required_text(
    field: &'static str,
    raw: &str,
    max: usize,
    missing: &str,
) -> Result<String, DetailError> {
    optional_text(field, Some(raw), max)?.ok_or_else(|| refuse(field, missing))
}

/// Adds to a refusal's message which item of a list it is about ("... (goal 2)").
fn in_item(what: &str, index: usize, error: DetailError) -> DetailError {
    DetailError {
        field: error.field,
        message: format!("{} ({what} {})", error.message, index + 1),
    }
}

// ---------------------------------------------------------------------------------------------
// Coaching Plan
// ---------------------------------------------------------------------------------------------

/// One goal of a Coaching Plan, checked: small and clear, with how everyone will know it is met.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Goal {
    /// The goal, in words the pupil understands.
    pub text: String,
    /// The measurable success criterion, e.g. "in lessons on time 4 days out of 5".
    pub success_criterion: String,
}

impl Goal {
    /// Checks a goal: the goal text (field `goal`, at most [`MAX_GOAL_CHARS`]) and its
    /// success criterion (field `success_criterion`, at most [`MAX_CRITERION_CHARS`]) are
    /// both required.
    pub fn parse(text: &str, success_criterion: &str) -> Result<Self, DetailError> {
        Ok(Goal {
            text: required_text(
                "goal",
                text,
                MAX_GOAL_CHARS,
                "write the goal in a short, clear sentence",
            )?,
            success_criterion: required_text(
                "success_criterion",
                success_criterion,
                MAX_CRITERION_CHARS,
                "say how everyone will know the goal is met (something you can count or see)",
            )?,
        })
    }
}

/// One action step of a Coaching Plan, checked: what, who, and by when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionStep {
    /// What will be done.
    pub what: String,
    /// Who will do it (the pupil, a named adult, the parent or carer...).
    pub owner: String,
    /// The date it is done by.
    pub by_when: NaiveDate,
}

/// A Coaching Plan as submitted, before checking.
#[derive(Debug, Clone, Default)]
pub struct PlanSubmission<'a> {
    /// Each goal's text and success criterion.
    pub goals: &'a [(&'a str, &'a str)],
    /// The Pathway to Independence.
    pub pathway_to_independence: &'a str,
    /// Each action step: what, owner and by when.
    pub action_steps: &'a [(&'a str, &'a str, Option<NaiveDate>)],
    /// When the plan is reviewed.
    pub review_on: Option<NaiveDate>,
}

/// A checked Coaching Plan (learning agreement), ready to be stored as a new version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CoachingPlan {
    /// One to five goals, in priority order.
    pub goals: Vec<Goal>,
    /// The Pathway to Independence: how the pupil will come to manage without this support.
    pub pathway_to_independence: String,
    /// One to ten action steps, in the order given.
    pub action_steps: Vec<ActionStep>,
    /// The review date, after the day the plan was agreed.
    pub review_on: NaiveDate,
}

impl CoachingPlan {
    /// Checks a plan agreed on `today`; the first fault found is returned with its field
    /// (`goals`, `goal`, `success_criterion`, `pathway_to_independence`, `review_on`,
    /// `action_steps`, `what`, `owner`, `by_when`), the message ending with which goal or step.
    ///
    /// The review date is after `today`; each action step is due from `today` up to the
    /// review date, so the review can ask whether it was done.
    pub fn parse(submission: &PlanSubmission<'_>, today: NaiveDate) -> Result<Self, DetailError> {
        if !(MIN_GOALS..=MAX_GOALS).contains(&submission.goals.len()) {
            return Err(refuse(
                "goals",
                format!(
                    "a plan has {MIN_GOALS} to {MAX_GOALS} goals, got {}",
                    submission.goals.len()
                ),
            ));
        }
        let goals = submission
            .goals
            .iter()
            .enumerate()
            .map(|(i, (text, criterion))| {
                Goal::parse(text, criterion).map_err(|e| in_item("goal", i, e))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let pathway_to_independence = required_text(
            "pathway_to_independence",
            submission.pathway_to_independence,
            MAX_PATHWAY_CHARS,
            "describe the Pathway to Independence",
        )?;
        let review_on = submission
            .review_on
            .ok_or_else(|| refuse("review_on", "choose a review date"))?;
        if review_on <= today {
            return Err(refuse("review_on", "the review date must be after today"));
        }
        if submission.action_steps.is_empty() || submission.action_steps.len() > MAX_ACTION_STEPS {
            return Err(refuse(
                "action_steps",
                format!(
                    "a plan has 1 to {MAX_ACTION_STEPS} action steps, got {}",
                    submission.action_steps.len()
                ),
            ));
        }
        let action_steps = submission
            .action_steps
            .iter()
            .enumerate()
            .map(|(i, (what, owner, by_when))| {
                parse_step(what, owner, *by_when, today, review_on)
                    .map_err(|e| in_item("action step", i, e))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(CoachingPlan {
            goals,
            pathway_to_independence,
            action_steps,
            review_on,
        })
    }
}

/// Checks one action step against the plan's dates.
fn parse_step(
    what: &str,
    owner: &str,
    by_when: Option<NaiveDate>,
    today: NaiveDate,
    review_on: NaiveDate,
) -> Result<ActionStep, DetailError> {
    let what = required_text("what", what, MAX_STEP_CHARS, "say what will be done")?;
    let owner = required_text("owner", owner, MAX_NAME_CHARS, "say who will do it")?;
    let by_when = by_when.ok_or_else(|| refuse("by_when", "say when it will be done by"))?;
    if by_when < today {
        return Err(refuse("by_when", "is in the past"));
    }
    if by_when > review_on {
        return Err(refuse("by_when", "is after the plan's review date"));
    }
    Ok(ActionStep {
        what,
        owner,
        by_when,
    })
}

// ---------------------------------------------------------------------------------------------
// Provision items
// ---------------------------------------------------------------------------------------------

/// Who provides an item of provision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Provider {
    /// The school's own staff; the name of the person or team.
    Internal(String),
    /// An outside service; the service's name.
    External(String),
}

impl Provider {
    /// Checks a provider: `external` says whether it is an outside service; the name (field
    /// `provider_name`) is required.
    pub fn parse(external: bool, name: &str) -> Result<Self, DetailError> {
        let name = required_text(
            "provider_name",
            name,
            MAX_NAME_CHARS,
            "name who provides it (a member of staff, a team or an outside service)",
        )?;
        Ok(if external {
            Provider::External(name)
        } else {
            Provider::Internal(name)
        })
    }

    /// The provider's name.
    pub fn name(&self) -> &str {
        match self {
            Provider::Internal(name) | Provider::External(name) => name,
        }
    }

    /// Whether it is an outside service.
    pub fn is_external(&self) -> bool {
        matches!(self, Provider::External(_))
    }
}

/// One item of provision as submitted, before checking.
#[derive(Debug, Clone, Default)]
pub struct ProvisionSubmission<'a> {
    /// What is provided.
    pub what: &'a str,
    /// Whether an outside service provides it.
    pub external: bool,
    /// Who provides it.
    pub provider_name: &'a str,
    /// Sessions each week.
    pub frequency_per_week: u32,
    /// Each session's length in minutes.
    pub session_minutes: u32,
    /// The first day.
    pub starts_on: Option<NaiveDate>,
    /// When it is reviewed.
    pub review_on: Option<NaiveDate>,
    /// The last day.
    pub ends_on: Option<NaiveDate>,
    /// What one session costs, in pence (0 for staff time not costed).
    pub cost_per_session_pence: u32,
    /// Where the pupil is at the start (the baseline it is measured from).
    pub entry_data: &'a str,
    /// Where the pupil should be by the review.
    pub target: &'a str,
}

/// A checked item of a Bespoke Provision Map.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProvisionItem {
    /// What is provided.
    pub what: String,
    /// Who provides it.
    pub provider: Provider,
    /// Sessions each week, 1 to [`MAX_PROVISION_PER_WEEK`].
    pub frequency_per_week: u32,
    /// Each session's length, 1 to [`MAX_PROVISION_MINUTES`] minutes.
    pub session_minutes: u32,
    /// The first day.
    pub starts_on: NaiveDate,
    /// The review date: after the start.
    pub review_on: NaiveDate,
    /// The last day: on or after the review date.
    pub ends_on: NaiveDate,
    /// What one session costs, in pence.
    pub cost_per_session_pence: u32,
    /// The baseline at the start.
    pub entry_data: String,
    /// The target for the review.
    pub target: String,
}

impl ProvisionItem {
    /// Checks an item; the first fault found is returned with its field (`what`,
    /// `provider_name`, `frequency_per_week`, `session_minutes`, `starts_on`, `review_on`,
    /// `ends_on`, `cost_per_session_pence`, `entry_data`, `target`).
    ///
    /// Dates are in order: start, then review after it, then the end on or after the review.
    pub fn parse(submission: &ProvisionSubmission<'_>) -> Result<Self, DetailError> {
        let what = required_text(
            "what",
            submission.what,
            MAX_PROVISION_TEXT_CHARS,
            "say what is provided",
        )?;
        let provider = Provider::parse(submission.external, submission.provider_name)?;
        if !(1..=MAX_PROVISION_PER_WEEK).contains(&submission.frequency_per_week) {
            return Err(refuse(
                "frequency_per_week",
                format!(
                    "1 to {MAX_PROVISION_PER_WEEK} sessions a week, got {}",
                    submission.frequency_per_week
                ),
            ));
        }
        if !(1..=MAX_PROVISION_MINUTES).contains(&submission.session_minutes) {
            return Err(refuse(
                "session_minutes",
                format!(
                    "a session lasts 1 to {MAX_PROVISION_MINUTES} minutes, got {}",
                    submission.session_minutes
                ),
            ));
        }
        let starts_on = submission
            .starts_on
            .ok_or_else(|| refuse("starts_on", "choose a start date"))?;
        let review_on = submission
            .review_on
            .ok_or_else(|| refuse("review_on", "choose a review date"))?;
        if review_on <= starts_on {
            return Err(refuse(
                "review_on",
                "the review date must be after the start",
            ));
        }
        let ends_on = submission
            .ends_on
            .ok_or_else(|| refuse("ends_on", "choose an end date"))?;
        if ends_on < review_on {
            return Err(refuse(
                "ends_on",
                "the end date must be on or after the review date",
            ));
        }
        if submission.cost_per_session_pence > MAX_COST_PER_SESSION_PENCE {
            return Err(refuse(
                "cost_per_session_pence",
                format!(
                    "a session costs at most {}",
                    format_pounds(u64::from(MAX_COST_PER_SESSION_PENCE))
                ),
            ));
        }
        let entry_data = required_text(
            "entry_data",
            submission.entry_data,
            MAX_PROVISION_TEXT_CHARS,
            "record where the pupil is at the start",
        )?;
        let target = required_text(
            "target",
            submission.target,
            MAX_PROVISION_TEXT_CHARS,
            "say where the pupil should be by the review",
        )?;
        Ok(ProvisionItem {
            what,
            provider,
            frequency_per_week: submission.frequency_per_week,
            session_minutes: submission.session_minutes,
            starts_on,
            review_on,
            ends_on,
            cost_per_session_pence: submission.cost_per_session_pence,
            entry_data,
            target,
        })
    }

    /// The cost of a week of this provision, in pence.
    pub fn cost_per_week_pence(&self) -> u64 {
        u64::from(self.frequency_per_week) * u64::from(self.cost_per_session_pence)
    }

    /// The cost of a term of `term_weeks` weeks (see [`DEFAULT_TERM_WEEKS`]), in pence:
    /// sessions a week × weeks × cost per session, exact. `None` for a term of 0 weeks or
    /// more than [`MAX_TERM_WEEKS`].
    pub fn cost_per_term_pence(&self, term_weeks: u32) -> Option<u64> {
        term_cost_pence(
            self.frequency_per_week,
            self.cost_per_session_pence,
            term_weeks,
        )
    }

    /// Minutes of provision a week.
    pub fn minutes_per_week(&self) -> u32 {
        self.frequency_per_week * self.session_minutes
    }
}

// ---------------------------------------------------------------------------------------------
// Reviewing a provision item (assess, plan, do, review)
// ---------------------------------------------------------------------------------------------

/// How far a provision item has taken the pupil towards its target, at a review.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProvisionProgress {
    /// The target is reached.
    Met,
    /// Progress towards the target, not reached yet.
    PartlyMet,
    /// No real progress towards the target.
    NotMet,
}

impl ProvisionProgress {
    /// Every value, best first.
    pub const ALL: [ProvisionProgress; 3] = [
        ProvisionProgress::Met,
        ProvisionProgress::PartlyMet,
        ProvisionProgress::NotMet,
    ];

    /// The stable name used in storage, forms and CSV.
    pub fn as_str(self) -> &'static str {
        match self {
            ProvisionProgress::Met => "met",
            ProvisionProgress::PartlyMet => "partly_met",
            ProvisionProgress::NotMet => "not_met",
        }
    }

    /// The display title.
    pub fn title(self) -> &'static str {
        match self {
            ProvisionProgress::Met => "Target met",
            ProvisionProgress::PartlyMet => "Partly met",
            ProvisionProgress::NotMet => "Not met",
        }
    }

    /// Reads a stored or submitted name for the field `progress`.
    pub fn parse(raw: &str) -> Result<Self, DetailError> {
        ProvisionProgress::ALL
            .into_iter()
            .find(|p| p.as_str() == raw.trim())
            .ok_or_else(|| refuse("progress", "must be one of met, partly_met, not_met"))
    }
}

/// What a review decides for the next cycle of a provision item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProvisionDecision {
    /// Carry on as planned until the next review.
    Continue,
    /// Carry on with the changes recorded in the plan for the next cycle.
    Adjust,
    /// Stop the provision: the review's assessment becomes its exit data.
    End,
}

impl ProvisionDecision {
    /// Every decision, in the order offered.
    pub const ALL: [ProvisionDecision; 3] = [
        ProvisionDecision::Continue,
        ProvisionDecision::Adjust,
        ProvisionDecision::End,
    ];

    /// The stable name used in storage and forms.
    pub fn as_str(self) -> &'static str {
        match self {
            ProvisionDecision::Continue => "continue",
            ProvisionDecision::Adjust => "adjust",
            ProvisionDecision::End => "end",
        }
    }

    /// The display title.
    pub fn title(self) -> &'static str {
        match self {
            ProvisionDecision::Continue => "Continue as planned",
            ProvisionDecision::Adjust => "Continue with changes",
            ProvisionDecision::End => "End this provision",
        }
    }

    /// Reads a stored or submitted name for the field `decision`.
    pub fn parse(raw: &str) -> Result<Self, DetailError> {
        ProvisionDecision::ALL
            .into_iter()
            .find(|d| d.as_str() == raw.trim())
            .ok_or_else(|| refuse("decision", "must be one of continue, adjust, end"))
    }
}

/// A provision review as submitted, before checking.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProvisionReviewSubmission<'a> {
    /// Assess: where the pupil is now, against the item's entry data and target.
    pub assessment: &'a str,
    /// How far the target is met (`met`, `partly_met`, `not_met`).
    pub progress: &'a str,
    /// Plan: what changes for the next cycle (required to adjust).
    pub next_plan: Option<&'a str>,
    /// `continue`, `adjust` or `end`.
    pub decision: &'a str,
    /// Review: when the next review is (required unless the provision ends).
    pub next_review_on: Option<NaiveDate>,
}

/// A checked provision review: one turn of the assess, plan, do, review cycle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProvisionReview {
    /// Where the pupil is now.
    pub assessment: String,
    /// How far the target is met.
    pub progress: ProvisionProgress,
    /// What changes for the next cycle, if anything.
    pub next_plan: Option<String>,
    /// Continue, adjust or end.
    pub decision: ProvisionDecision,
    /// The next review, unless the provision ends.
    pub next_review_on: Option<NaiveDate>,
}

impl ProvisionReview {
    /// Checks a review held on `today` of an item ending on `ends_on`; the first fault is
    /// returned with its field. Continuing needs a next review after today (and an item that
    /// ends on or after it); adjusting also needs the plan for the next cycle; ending takes no
    /// next review.
    pub fn parse(
        submission: &ProvisionReviewSubmission<'_>,
        today: NaiveDate,
        ends_on: NaiveDate,
    ) -> Result<Self, DetailError> {
        let assessment = required_text(
            "assessment",
            submission.assessment,
            MAX_PROVISION_TEXT_CHARS,
            "record where the pupil is now, against the target",
        )?;
        let progress = ProvisionProgress::parse(submission.progress)?;
        let next_plan = optional_text("next_plan", submission.next_plan, MAX_PROVISION_TEXT_CHARS)?;
        let decision = ProvisionDecision::parse(submission.decision)?;
        let next_review_on = match decision {
            ProvisionDecision::End => {
                if submission.next_review_on.is_some() {
                    return Err(refuse(
                        "next_review_on",
                        "an ended provision has no next review",
                    ));
                }
                None
            }
            ProvisionDecision::Continue | ProvisionDecision::Adjust => {
                if decision == ProvisionDecision::Adjust && next_plan.is_none() {
                    return Err(refuse("next_plan", "say what changes for the next cycle"));
                }
                let next = submission
                    .next_review_on
                    .ok_or_else(|| refuse("next_review_on", "choose the next review date"))?;
                if next <= today {
                    return Err(refuse(
                        "next_review_on",
                        "the next review must be after today",
                    ));
                }
                if next > ends_on {
                    return Err(refuse(
                        "next_review_on",
                        "is after the provision ends; end it at this review or review it before it ends",
                    ));
                }
                Some(next)
            }
        };
        Ok(ProvisionReview {
            assessment,
            progress,
            next_plan,
            decision,
            next_review_on,
        })
    }
}

/// The cost of a term of `term_weeks` weeks of a provision given `frequency_per_week` times a
/// week at `cost_per_session_pence` a session, exact; `None` for a term of 0 weeks or more
/// than [`MAX_TERM_WEEKS`].
pub fn term_cost_pence(
    frequency_per_week: u32,
    cost_per_session_pence: u32,
    term_weeks: u32,
) -> Option<u64> {
    (1..=MAX_TERM_WEEKS).contains(&term_weeks).then(|| {
        u64::from(frequency_per_week) * u64::from(cost_per_session_pence) * u64::from(term_weeks)
    })
}

/// A sum in pence written in pounds, e.g. `123456` as "£1,234.56".
pub fn format_pounds(pence: u64) -> String {
    let pounds = (pence / 100).to_string();
    let mut grouped = String::with_capacity(pounds.len() + pounds.len() / 3);
    for (i, digit) in pounds.chars().enumerate() {
        if i > 0 && (pounds.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    format!("£{grouped}.{:02}", pence % 100)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    fn today() -> NaiveDate {
        d(2025, 11, 10)
    }

    const GOALS: [(&str, &str); 2] = [
        (
            "Arrive at lessons on time",
            "On time to 4 lessons out of 5 each week, from the register",
        ),
        (
            "Ask for help instead of leaving the room",
            "Uses the help card at least once a day; no walk-outs in a week",
        ),
    ];

    fn steps() -> Vec<(&'static str, &'static str, Option<NaiveDate>)> {
        vec![
            (
                "Meet at the gate each morning",
                "Mr Patel",
                Some(d(2025, 11, 14)),
            ),
            (
                "Make the help card",
                "Amira and Ms Khan",
                Some(d(2025, 11, 12)),
            ),
        ]
    }

    fn submission<'a>(steps: &'a [(&'a str, &'a str, Option<NaiveDate>)]) -> PlanSubmission<'a> {
        PlanSubmission {
            goals: &GOALS,
            pathway_to_independence:
                "From adult prompts at the gate to arriving with a friend, then alone",
            action_steps: steps,
            review_on: Some(d(2025, 12, 1)),
        }
    }

    #[test]
    fn a_good_plan_is_accepted_and_trimmed() {
        let steps = steps();
        let plan = CoachingPlan::parse(&submission(&steps), today()).unwrap();
        assert_eq!(plan.goals.len(), 2);
        assert_eq!(plan.goals[0].text, "Arrive at lessons on time");
        assert_eq!(plan.action_steps[1].owner, "Amira and Ms Khan");
        assert_eq!(plan.review_on, d(2025, 12, 1));
    }

    #[test]
    fn goals_number_one_to_five() {
        let steps = steps();
        let mut s = submission(&steps);
        s.goals = &[];
        assert_eq!(
            CoachingPlan::parse(&s, today()).unwrap_err().to_string(),
            "goals: a plan has 1 to 5 goals, got 0"
        );
        let six = [GOALS[0]; 6];
        s.goals = &six;
        assert_eq!(CoachingPlan::parse(&s, today()).unwrap_err().field, "goals");
        let five = [GOALS[0]; 5];
        s.goals = &five;
        assert!(CoachingPlan::parse(&s, today()).is_ok());
    }

    #[test]
    fn each_goal_needs_a_measurable_success_criterion() {
        let steps = steps();
        let mut s = submission(&steps);
        let goals = [GOALS[0], ("Stay in class", "  ")];
        s.goals = &goals;
        let err = CoachingPlan::parse(&s, today()).unwrap_err();
        assert_eq!(err.field, "success_criterion");
        assert!(err.message.ends_with(" (goal 2)"), "{err}");
        let long = "x".repeat(MAX_GOAL_CHARS + 1);
        let goals = [(long.as_str(), "Counted daily")];
        s.goals = &goals;
        let err = CoachingPlan::parse(&s, today()).unwrap_err();
        assert_eq!(err.field, "goal");
        assert_eq!(
            err.to_string(),
            "goal: must be at most 200 characters (goal 1)"
        );
    }

    #[test]
    fn the_pathway_is_required() {
        let steps = steps();
        let mut s = submission(&steps);
        s.pathway_to_independence = " ";
        assert_eq!(
            CoachingPlan::parse(&s, today()).unwrap_err().field,
            "pathway_to_independence"
        );
    }

    #[test]
    fn the_review_is_after_today() {
        let steps = steps();
        let mut s = submission(&steps);
        for bad in [None, Some(today()), Some(d(2025, 11, 1))] {
            s.review_on = bad;
            assert_eq!(
                CoachingPlan::parse(&s, today()).unwrap_err().field,
                "review_on"
            );
        }
        s.review_on = Some(d(2025, 11, 14));
        assert!(CoachingPlan::parse(&s, today()).is_ok());
    }

    #[test]
    fn action_steps_have_what_who_and_a_date_before_the_review() {
        let check = |steps: &[(&str, &str, Option<NaiveDate>)]| {
            CoachingPlan::parse(&submission(steps), today()).map(|_| ())
        };
        assert_eq!(check(&[]).unwrap_err().field, "action_steps");
        let many = vec![("Step", "Ms Khan", Some(today())); MAX_ACTION_STEPS + 1];
        assert_eq!(check(&many).unwrap_err().field, "action_steps");
        let err = check(&[("Step", "Ms Khan", None), ("", "Ms Khan", Some(today()))]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "by_when: say when it will be done by (action step 1)"
        );
        let err = check(&[
            ("Step", "Ms Khan", Some(today())),
            ("", "Ms Khan", Some(today())),
        ])
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "what: say what will be done (action step 2)"
        );
        assert_eq!(
            check(&[("Step", " ", Some(today()))]).unwrap_err().field,
            "owner"
        );
        let past = check(&[("Step", "Ms Khan", Some(d(2025, 11, 9)))]).unwrap_err();
        assert_eq!(past.to_string(), "by_when: is in the past (action step 1)");
        let late = check(&[("Step", "Ms Khan", Some(d(2025, 12, 2)))]).unwrap_err();
        assert_eq!(late.field, "by_when");
        assert!(check(&[("Step", "Ms Khan", Some(d(2025, 12, 1)))]).is_ok());
    }

    fn item() -> ProvisionSubmission<'static> {
        ProvisionSubmission {
            what: "Speech and language therapy: social communication group",
            external: true,
            provider_name: "County SALT service",
            frequency_per_week: 2,
            session_minutes: 45,
            starts_on: Some(d(2026, 1, 5)),
            review_on: Some(d(2026, 2, 9)),
            ends_on: Some(d(2026, 3, 27)),
            cost_per_session_pence: 4_750,
            entry_data: "Takes part in 1 of 5 group turns (observation, 3 January)",
            target: "Takes part in 4 of 5 group turns",
        }
    }

    #[test]
    fn a_provision_item_and_its_costs() {
        let it = ProvisionItem::parse(&item()).unwrap();
        assert!(it.provider.is_external());
        assert_eq!(it.provider.name(), "County SALT service");
        assert_eq!(it.cost_per_week_pence(), 9_500);
        assert_eq!(it.cost_per_term_pence(DEFAULT_TERM_WEEKS), Some(123_500));
        assert_eq!(format_pounds(123_500), "£1,235.00");
        assert_eq!(it.cost_per_term_pence(12), Some(114_000));
        assert_eq!(it.cost_per_term_pence(0), None);
        assert_eq!(it.cost_per_term_pence(MAX_TERM_WEEKS + 1), None);
        assert_eq!(it.minutes_per_week(), 90);
        let mut internal = item();
        internal.external = false;
        internal.provider_name = "Learning mentor team";
        internal.cost_per_session_pence = 0;
        let it = ProvisionItem::parse(&internal).unwrap();
        assert_eq!(
            it.provider,
            Provider::Internal("Learning mentor team".into())
        );
        assert_eq!(it.cost_per_term_pence(13), Some(0));
    }

    #[test]
    fn the_largest_costs_are_exact() {
        let mut big = item();
        big.frequency_per_week = MAX_PROVISION_PER_WEEK;
        big.cost_per_session_pence = MAX_COST_PER_SESSION_PENCE;
        let it = ProvisionItem::parse(&big).unwrap();
        assert_eq!(it.cost_per_term_pence(MAX_TERM_WEEKS), Some(100_000_000));
        assert_eq!(format_pounds(100_000_000), "£1,000,000.00");
        big.cost_per_session_pence = MAX_COST_PER_SESSION_PENCE + 1;
        assert_eq!(
            ProvisionItem::parse(&big).unwrap_err().to_string(),
            "cost_per_session_pence: a session costs at most £5,000.00"
        );
    }

    #[test]
    fn provision_refusals_name_the_field() {
        type Change = fn(&mut ProvisionSubmission<'static>);
        let cases: Vec<(&str, Change)> = vec![
            ("what", |s| s.what = " "),
            ("provider_name", |s| s.provider_name = ""),
            ("frequency_per_week", |s| s.frequency_per_week = 0),
            ("frequency_per_week", |s| s.frequency_per_week = 11),
            ("session_minutes", |s| s.session_minutes = 0),
            ("session_minutes", |s| s.session_minutes = 391),
            ("starts_on", |s| s.starts_on = None),
            ("review_on", |s| s.review_on = None),
            ("review_on", |s| s.review_on = s.starts_on),
            ("review_on", |s| s.review_on = Some(d(2026, 1, 1))),
            ("ends_on", |s| s.ends_on = None),
            ("ends_on", |s| s.ends_on = Some(d(2026, 2, 8))),
            ("entry_data", |s| s.entry_data = ""),
            ("target", |s| s.target = "\u{0}"),
        ];
        for (field, change) in cases {
            let mut s = item();
            change(&mut s);
            assert_eq!(ProvisionItem::parse(&s).unwrap_err().field, field);
        }
        let mut same_day_end = item();
        same_day_end.ends_on = same_day_end.review_on;
        assert!(ProvisionItem::parse(&same_day_end).is_ok());
    }

    #[test]
    fn pounds_are_grouped() {
        assert_eq!(format_pounds(0), "£0.00");
        assert_eq!(format_pounds(5), "£0.05");
        assert_eq!(format_pounds(99_999), "£999.99");
        assert_eq!(format_pounds(100_000), "£1,000.00");
        assert_eq!(format_pounds(12_345_678_901), "£123,456,789.01");
    }

    proptest! {
        #[test]
        fn term_cost_is_frequency_times_weeks_times_cost(
            per_week in 1u32..=MAX_PROVISION_PER_WEEK,
            pence in 0u32..=MAX_COST_PER_SESSION_PENCE,
            weeks in 1u32..=MAX_TERM_WEEKS,
        ) {
            let mut s = item();
            s.frequency_per_week = per_week;
            s.cost_per_session_pence = pence;
            let it = ProvisionItem::parse(&s).unwrap();
            let term = it.cost_per_term_pence(weeks).unwrap();
            prop_assert_eq!(term, u64::from(per_week) * u64::from(weeks) * u64::from(pence));
            prop_assert_eq!(term, (0..weeks).map(|_| it.cost_per_week_pence()).sum::<u64>());
        }

        #[test]
        fn pounds_read_back(pence in 0u64..1_000_000_000_000) {
            let text = format_pounds(pence);
            let digits: String = text.chars().filter(char::is_ascii_digit).collect();
            prop_assert_eq!(digits.parse::<u64>().unwrap(), pence);
        }
    }

    fn review(
        decision: &'static str,
        next: Option<NaiveDate>,
    ) -> ProvisionReviewSubmission<'static> {
        ProvisionReviewSubmission {
            assessment: "Reads 40 words a minute",
            progress: "partly_met",
            next_plan: None,
            decision,
            next_review_on: next,
        }
    }

    #[test]
    fn a_review_that_continues_needs_a_next_review_inside_the_provision() {
        let ends = d(2026, 3, 31);
        let ok = ProvisionReview::parse(&review("continue", Some(d(2025, 12, 1))), today(), ends)
            .unwrap();
        assert_eq!(ok.progress, ProvisionProgress::PartlyMet);
        assert_eq!(ok.next_review_on, Some(d(2025, 12, 1)));
        let missing = ProvisionReview::parse(&review("continue", None), today(), ends);
        assert_eq!(missing.unwrap_err().field, "next_review_on");
        let past = ProvisionReview::parse(&review("continue", Some(today())), today(), ends);
        assert_eq!(past.unwrap_err().field, "next_review_on");
        let late = ProvisionReview::parse(&review("continue", Some(d(2026, 4, 1))), today(), ends);
        assert_eq!(late.unwrap_err().field, "next_review_on");
    }

    #[test]
    fn adjusting_needs_the_plan_and_ending_takes_no_next_review() {
        let ends = d(2026, 3, 31);
        let adjust = ProvisionReview::parse(&review("adjust", Some(d(2025, 12, 1))), today(), ends);
        assert_eq!(adjust.unwrap_err().field, "next_plan");
        let ended = ProvisionReview::parse(&review("end", None), today(), ends).unwrap();
        assert_eq!(ended.decision, ProvisionDecision::End);
        assert_eq!(ended.next_review_on, None);
        let ended_with_date =
            ProvisionReview::parse(&review("end", Some(d(2025, 12, 1))), today(), ends);
        assert_eq!(ended_with_date.unwrap_err().field, "next_review_on");
        let mut unknown = review("continue", Some(d(2025, 12, 1)));
        unknown.progress = "great";
        assert_eq!(
            ProvisionReview::parse(&unknown, today(), ends)
                .unwrap_err()
                .field,
            "progress"
        );
        let mut blank = review("end", None);
        blank.assessment = "  ";
        assert_eq!(
            ProvisionReview::parse(&blank, today(), ends)
                .unwrap_err()
                .field,
            "assessment"
        );
    }
}
