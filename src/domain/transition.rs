//! The pupil's support level as a state machine: the legal moves, written as data.
//!
//! Every change of level is an [`Event`]; [`apply`] either returns the new
//! [`PupilState`] or a [`TransitionError`] that says why the move is not allowed.

use serde::{Deserialize, Serialize};

use crate::domain::level::{Level, ProgrammeBlock};
use crate::domain::role::Role;

/// Where a pupil stands in the sequence, with the facts that gate the upper levels.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PupilState {
    /// The current level.
    pub level: Level,
    /// The programme block being run; `Some` only while at [`Level::Programme`].
    pub programme_block: Option<ProgrammeBlock>,
    /// Whether the pupil has been at [`Level::Plan`] since support last closed.
    pub had_plan: bool,
    /// Whether the last (6-week) programme block was reviewed with its goals still not met.
    pub programme_completed_without_impact: bool,
}

impl PupilState {
    /// The state of a pupil with no support: no level, no plan, no programme.
    pub fn initial() -> Self {
        PupilState {
            level: Level::None,
            programme_block: None,
            had_plan: false,
            programme_completed_without_impact: false,
        }
    }

    /// The programme block in force at [`Level::Programme`] (the first block if none is recorded).
    pub fn current_block(&self) -> Option<ProgrammeBlock> {
        (self.level == Level::Programme)
            .then(|| self.programme_block.unwrap_or(ProgrammeBlock::TwoWeek))
    }
}

impl Default for PupilState {
    /// Same as [`PupilState::initial`].
    fn default() -> Self {
        PupilState::initial()
    }
}

/// A request to change a pupil's level.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Event {
    /// Move one level up. Plan to Programme always works; Programme to Provision only once
    /// the programme finished without impact.
    Escalate,
    /// A serious incident: go straight to Coaching Time from no level, Prompt or Conversation.
    SeriousIncidentJump,
    /// Move one level down because support has had impact.
    StepDown,
    /// End support entirely, from any level.
    Close,
    /// The review at the end of a programme block. Goals not met moves to the next block
    /// (or, after the last block, marks the programme as finished without impact);
    /// goals met changes nothing here, since stepping down is a separate event.
    ProgrammeBlockReviewed {
        /// Whether the review found the plan's goals met.
        goals_met: bool,
    },
    /// An explicit decision by SLT or the SENDCO to move the pupil to any level.
    Override {
        /// The level to move to.
        to: Level,
        /// The role of the person deciding.
        by: Role,
        /// Why, in the decider's words; must not be blank.
        reason: String,
    },
}

/// Why a move is not allowed.
#[derive(thiserror::Error, Debug, Clone, PartialEq, Eq)]
pub enum TransitionError {
    /// Coaching Programme was asked for from a level other than Coaching Plan.
    #[error("a Coaching Programme can only follow a Coaching Plan")]
    ProgrammeNeedsPlan,
    /// Bespoke Provision Map was asked for before the programme finished without impact.
    #[error("a Bespoke Provision Map follows a Coaching Programme that has not had impact, or an SLT/SENDCO override with a reason")]
    ProvisionNeedsProgramme,
    /// Escalation asked for at the top level.
    #[error("the pupil is already at the top of the sequence (Bespoke Provision Map)")]
    AlreadyAtTop,
    /// Step down or close asked for with no level to leave.
    #[error("the pupil has no support level to step down from or close")]
    AlreadyAtNone,
    /// The serious-incident jump asked for at Coaching Time or above.
    #[error("a serious incident moves a pupil straight to Coaching Time only from a lower level")]
    JumpOnlyBelowTime,
    /// A programme block review recorded while not at Coaching Programme.
    #[error("a programme block review needs the pupil to be on a Coaching Programme")]
    NotInProgramme,
    /// An override by a role that may not override.
    #[error("only SLT or the SENDCO can override the sequence, not {}", role.title())]
    OverrideNotAllowed {
        /// The role that tried.
        role: Role,
    },
    /// An override without a reason.
    #[error("an override needs a reason")]
    OverrideNeedsReason,
    /// The move would leave the pupil where they are.
    #[error("the pupil is already at that level")]
    NoChange,
    /// A target that is more than one step away and no single event reaches.
    #[error("the sequence moves one level at a time, so {} to {} needs an SLT/SENDCO override", from.title(), to.title())]
    NotOneStep {
        /// The current level.
        from: Level,
        /// The level asked for.
        to: Level,
    },
}

/// The state after entering `to` from `state`: the one place that keeps the flags consistent.
fn enter(state: &PupilState, to: Level) -> PupilState {
    match to {
        Level::None => PupilState::initial(),
        Level::Programme => PupilState {
            level: Level::Programme,
            programme_block: Some(ProgrammeBlock::TwoWeek),
            had_plan: state.had_plan,
            programme_completed_without_impact: false,
        },
        Level::Provision => PupilState {
            level: Level::Provision,
            programme_block: None,
            had_plan: state.had_plan,
            programme_completed_without_impact: state.programme_completed_without_impact,
        },
        other => PupilState {
            level: other,
            programme_block: None,
            had_plan: state.had_plan || other == Level::Plan,
            programme_completed_without_impact: false,
        },
    }
}

/// Applies one event to a pupil's state, returning the new state or why the move is refused.
///
/// Entering Plan sets `had_plan`; entering Programme starts the 2-week block; reaching
/// no level (step down from Prompt, or close) resets everything.
pub fn apply(state: &PupilState, event: &Event) -> Result<PupilState, TransitionError> {
    use TransitionError as E;
    match event {
        Event::Escalate => match state.level {
            Level::Provision => Err(E::AlreadyAtTop),
            Level::Programme if !state.programme_completed_without_impact => {
                Err(E::ProvisionNeedsProgramme)
            }
            level => level
                .next()
                .map(|to| enter(state, to))
                .ok_or(E::AlreadyAtTop),
        },
        Event::SeriousIncidentJump => {
            if state.level < Level::Time {
                Ok(enter(state, Level::Time))
            } else {
                Err(E::JumpOnlyBelowTime)
            }
        }
        Event::StepDown => state
            .level
            .previous()
            .map(|to| enter(state, to))
            .ok_or(E::AlreadyAtNone),
        Event::Close => {
            if state.level == Level::None {
                Err(E::AlreadyAtNone)
            } else {
                Ok(PupilState::initial())
            }
        }
        Event::ProgrammeBlockReviewed { goals_met } => {
            let block = state.current_block().ok_or(E::NotInProgramme)?;
            let mut next = state.clone();
            if !goals_met {
                match block.next() {
                    Some(following) => next.programme_block = Some(following),
                    None => {
                        next.programme_block = Some(block);
                        next.programme_completed_without_impact = true;
                    }
                }
            }
            Ok(next)
        }
        Event::Override { to, by, reason } => {
            if !by.can_override_gates() {
                Err(E::OverrideNotAllowed { role: *by })
            } else if reason.trim().is_empty() {
                Err(E::OverrideNeedsReason)
            } else if *to == state.level {
                Err(E::NoChange)
            } else {
                Ok(enter(state, *to))
            }
        }
    }
}

/// The single ordinary event that moves a pupil from `state` to the suggested level `to`.
///
/// One level up is [`Event::Escalate`], a jump to Coaching Time from below it is
/// [`Event::SeriousIncidentJump`], one level down is [`Event::StepDown`] and any move to no
/// level is [`Event::Close`]. A target equal to Coaching Programme while on a programme means
/// "start the next block" and gives `ProgrammeBlockReviewed { goals_met: false }`.
/// Targets that need two events (see [`events_for_target`]) or an override are refused
/// with the reason.
pub fn event_for_target(state: &PupilState, to: Level) -> Result<Event, TransitionError> {
    use TransitionError as E;
    let from = state.level;
    if to == from {
        let has_next_block = state
            .current_block()
            .is_some_and(|block| block.next().is_some());
        return if has_next_block && !state.programme_completed_without_impact {
            Ok(Event::ProgrammeBlockReviewed { goals_met: false })
        } else {
            Err(E::NoChange)
        };
    }
    if to == Level::None {
        return Ok(Event::Close);
    }
    if to < from {
        return if from.previous() == Some(to) {
            Ok(Event::StepDown)
        } else {
            Err(E::NotOneStep { from, to })
        };
    }
    if from.next() == Some(to) {
        return match to {
            Level::Provision if !state.programme_completed_without_impact => {
                Err(E::ProvisionNeedsProgramme)
            }
            _ => Ok(Event::Escalate),
        };
    }
    match to {
        Level::Time if from < Level::Time => Ok(Event::SeriousIncidentJump),
        Level::Programme => Err(E::ProgrammeNeedsPlan),
        Level::Provision => Err(E::ProvisionNeedsProgramme),
        _ => Err(E::NotOneStep { from, to }),
    }
}

/// The ordinary events, in order, that accept a suggestion to move from `state` to `to`.
///
/// Usually one event, as [`event_for_target`]. Two cases need two, and both arise from
/// [`crate::domain::rules::evaluate`]:
/// - no level to Coaching Conversation (prompts were logged before any level was set):
///   `[Escalate, Escalate]`;
/// - Coaching Programme in its last block, whose review has been held but not yet
///   applied, to Bespoke Provision Map: `[ProgrammeBlockReviewed { goals_met: false }, Escalate]`.
pub fn events_for_target(state: &PupilState, to: Level) -> Result<Vec<Event>, TransitionError> {
    if state.level == Level::None && to == Level::Conversation {
        return Ok(vec![Event::Escalate, Event::Escalate]);
    }
    let last_block_unreviewed = state.current_block().is_some_and(ProgrammeBlock::is_last)
        && !state.programme_completed_without_impact;
    if to == Level::Provision && last_block_unreviewed {
        return Ok(vec![
            Event::ProgrammeBlockReviewed { goals_met: false },
            Event::Escalate,
        ]);
    }
    event_for_target(state, to).map(|event| vec![event])
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use TransitionError as E;

    fn at(level: Level) -> PupilState {
        let mut s = PupilState::initial();
        while s.level < level {
            s = match s.level {
                Level::Programme => {
                    let mut t = s.clone();
                    t.programme_completed_without_impact = true;
                    apply(&t, &Event::Escalate).unwrap()
                }
                _ => apply(&s, &Event::Escalate).unwrap(),
            };
        }
        s
    }

    fn programme(block: ProgrammeBlock, done: bool) -> PupilState {
        PupilState {
            level: Level::Programme,
            programme_block: Some(block),
            had_plan: true,
            programme_completed_without_impact: done,
        }
    }

    fn override_to(to: Level, by: Role, reason: &str) -> Event {
        Event::Override {
            to,
            by,
            reason: reason.into(),
        }
    }

    #[test]
    fn initial_state() {
        let s = PupilState::initial();
        assert_eq!(s.level, Level::None);
        assert_eq!(s.programme_block, None);
        assert!(!s.had_plan);
        assert!(!s.programme_completed_without_impact);
        assert_eq!(PupilState::default(), s);
    }

    #[test]
    fn escalate_climbs_one_level_at_a_time() {
        let mut s = PupilState::initial();
        for expected in [Level::Prompt, Level::Conversation, Level::Time, Level::Plan] {
            s = apply(&s, &Event::Escalate).unwrap();
            assert_eq!(s.level, expected);
        }
        assert!(s.had_plan, "entering Plan records the plan");
        s = apply(&s, &Event::Escalate).unwrap();
        assert_eq!(s.level, Level::Programme);
        assert_eq!(s.programme_block, Some(ProgrammeBlock::TwoWeek));
        assert!(s.had_plan);
    }

    #[test]
    fn escalate_from_programme_needs_no_impact() {
        let s = programme(ProgrammeBlock::TwoWeek, false);
        assert_eq!(apply(&s, &Event::Escalate), Err(E::ProvisionNeedsProgramme));
        let s = programme(ProgrammeBlock::SixWeek, false);
        assert_eq!(apply(&s, &Event::Escalate), Err(E::ProvisionNeedsProgramme));
        let s = programme(ProgrammeBlock::SixWeek, true);
        let next = apply(&s, &Event::Escalate).unwrap();
        assert_eq!(next.level, Level::Provision);
        assert_eq!(next.programme_block, None);
        assert!(next.had_plan);
    }

    #[test]
    fn escalate_at_top_is_refused() {
        assert_eq!(
            apply(&at(Level::Provision), &Event::Escalate),
            Err(E::AlreadyAtTop)
        );
    }

    #[test]
    fn serious_incident_jump_only_below_time() {
        for level in [Level::None, Level::Prompt, Level::Conversation] {
            let s = apply(&at(level), &Event::SeriousIncidentJump).unwrap();
            assert_eq!(s.level, Level::Time);
            assert!(!s.had_plan);
        }
        for level in [Level::Time, Level::Plan, Level::Programme, Level::Provision] {
            assert_eq!(
                apply(&at(level), &Event::SeriousIncidentJump),
                Err(E::JumpOnlyBelowTime),
                "{level:?}"
            );
        }
    }

    #[test]
    fn step_down_moves_one_level() {
        for level in Level::ALL.into_iter().skip(1) {
            let s = apply(&at(level), &Event::StepDown).unwrap();
            assert_eq!(Some(s.level), level.previous());
        }
        assert_eq!(
            apply(&PupilState::initial(), &Event::StepDown),
            Err(E::AlreadyAtNone)
        );
    }

    #[test]
    fn step_down_from_prompt_clears_everything() {
        let mut s = at(Level::Prompt);
        s.had_plan = true;
        assert_eq!(apply(&s, &Event::StepDown), Ok(PupilState::initial()));
    }

    #[test]
    fn step_down_from_programme_clears_block() {
        let s = apply(
            &programme(ProgrammeBlock::FourWeek, false),
            &Event::StepDown,
        )
        .unwrap();
        assert_eq!(s.level, Level::Plan);
        assert_eq!(s.programme_block, None);
        assert!(s.had_plan);
    }

    #[test]
    fn step_down_from_provision_restarts_programme() {
        let s = apply(&at(Level::Provision), &Event::StepDown).unwrap();
        assert_eq!(s.level, Level::Programme);
        assert_eq!(s.programme_block, Some(ProgrammeBlock::TwoWeek));
        assert!(!s.programme_completed_without_impact);
    }

    #[test]
    fn close_from_any_level() {
        for level in Level::ALL.into_iter().skip(1) {
            assert_eq!(apply(&at(level), &Event::Close), Ok(PupilState::initial()));
        }
        assert_eq!(
            apply(&PupilState::initial(), &Event::Close),
            Err(E::AlreadyAtNone)
        );
    }

    #[test]
    fn block_reviews_step_through_blocks() {
        let not_met = Event::ProgrammeBlockReviewed { goals_met: false };
        let s = apply(&programme(ProgrammeBlock::TwoWeek, false), &not_met).unwrap();
        assert_eq!(s.programme_block, Some(ProgrammeBlock::FourWeek));
        let s = apply(&s, &not_met).unwrap();
        assert_eq!(s.programme_block, Some(ProgrammeBlock::SixWeek));
        assert!(!s.programme_completed_without_impact);
        let s = apply(&s, &not_met).unwrap();
        assert_eq!(s.level, Level::Programme);
        assert_eq!(s.programme_block, Some(ProgrammeBlock::SixWeek));
        assert!(s.programme_completed_without_impact);
        let s = apply(&s, &Event::Escalate).unwrap();
        assert_eq!(s.level, Level::Provision);
    }

    #[test]
    fn block_review_met_changes_nothing() {
        let s = programme(ProgrammeBlock::FourWeek, false);
        assert_eq!(
            apply(&s, &Event::ProgrammeBlockReviewed { goals_met: true }),
            Ok(s)
        );
    }

    #[test]
    fn block_review_outside_programme_is_refused() {
        for level in Level::ALL {
            if level == Level::Programme {
                continue;
            }
            assert_eq!(
                apply(
                    &at(level),
                    &Event::ProgrammeBlockReviewed { goals_met: false }
                ),
                Err(E::NotInProgramme)
            );
        }
    }

    #[test]
    fn override_by_slt_or_sendco_reaches_any_level() {
        let s = at(Level::Prompt);
        let to_provision = apply(
            &s,
            &override_to(Level::Provision, Role::Slt, "Agreed at panel"),
        )
        .unwrap();
        assert_eq!(to_provision.level, Level::Provision);
        let to_programme = apply(
            &s,
            &override_to(Level::Programme, Role::Sendco, "EHCP review"),
        )
        .unwrap();
        assert_eq!(to_programme.level, Level::Programme);
        assert_eq!(to_programme.programme_block, Some(ProgrammeBlock::TwoWeek));
        let to_plan = apply(&s, &override_to(Level::Plan, Role::Sendco, "EHCP review")).unwrap();
        assert!(to_plan.had_plan);
        let down = apply(
            &at(Level::Provision),
            &override_to(Level::None, Role::Slt, "Moved school"),
        )
        .unwrap();
        assert_eq!(down, PupilState::initial());
    }

    #[test]
    fn override_by_other_roles_is_refused() {
        for role in [
            Role::ClassStaff,
            Role::PastoralLead,
            Role::Hod,
            Role::Specialist,
            Role::Admin,
        ] {
            let err = apply(
                &at(Level::Plan),
                &override_to(Level::Provision, role, "because"),
            )
            .unwrap_err();
            assert_eq!(err, E::OverrideNotAllowed { role });
            assert!(err.to_string().contains(role.title()));
        }
    }

    #[test]
    fn override_needs_reason_and_a_change() {
        assert_eq!(
            apply(
                &at(Level::Plan),
                &override_to(Level::Provision, Role::Slt, "   ")
            ),
            Err(E::OverrideNeedsReason)
        );
        assert_eq!(
            apply(
                &at(Level::Plan),
                &override_to(Level::Plan, Role::Slt, "same")
            ),
            Err(E::NoChange)
        );
    }

    #[test]
    fn error_messages_say_why() {
        assert_eq!(
            E::ProgrammeNeedsPlan.to_string(),
            "a Coaching Programme can only follow a Coaching Plan"
        );
        assert_eq!(
            E::ProvisionNeedsProgramme.to_string(),
            "a Bespoke Provision Map follows a Coaching Programme that has not had impact, or an SLT/SENDCO override with a reason"
        );
        assert_eq!(
            E::NotOneStep { from: Level::None, to: Level::Plan }.to_string(),
            "the sequence moves one level at a time, so No support level to Coaching Plan needs an SLT/SENDCO override"
        );
    }

    #[test]
    fn event_for_target_picks_the_ordinary_move() {
        assert_eq!(
            event_for_target(&at(Level::None), Level::Prompt),
            Ok(Event::Escalate)
        );
        assert_eq!(
            event_for_target(&at(Level::Prompt), Level::Conversation),
            Ok(Event::Escalate)
        );
        assert_eq!(
            event_for_target(&at(Level::Plan), Level::Programme),
            Ok(Event::Escalate)
        );
        assert_eq!(
            event_for_target(&programme(ProgrammeBlock::SixWeek, true), Level::Provision),
            Ok(Event::Escalate)
        );
        for level in [Level::None, Level::Prompt] {
            assert_eq!(
                event_for_target(&at(level), Level::Time),
                Ok(Event::SeriousIncidentJump)
            );
        }
        assert_eq!(
            event_for_target(&at(Level::Conversation), Level::Time),
            Ok(Event::Escalate)
        );
        assert_eq!(
            event_for_target(&at(Level::Time), Level::Conversation),
            Ok(Event::StepDown)
        );
        assert_eq!(
            event_for_target(&at(Level::Prompt), Level::None),
            Ok(Event::Close)
        );
        assert_eq!(
            event_for_target(&at(Level::Plan), Level::None),
            Ok(Event::Close)
        );
        assert_eq!(
            event_for_target(&programme(ProgrammeBlock::TwoWeek, false), Level::Programme),
            Ok(Event::ProgrammeBlockReviewed { goals_met: false })
        );
    }

    #[test]
    fn event_for_target_refuses_with_reasons() {
        assert_eq!(
            event_for_target(&at(Level::Time), Level::Programme),
            Err(E::ProgrammeNeedsPlan)
        );
        assert_eq!(
            event_for_target(&at(Level::Plan), Level::Provision),
            Err(E::ProvisionNeedsProgramme)
        );
        assert_eq!(
            event_for_target(&programme(ProgrammeBlock::SixWeek, false), Level::Provision),
            Err(E::ProvisionNeedsProgramme)
        );
        assert_eq!(
            event_for_target(&at(Level::Time), Level::Time),
            Err(E::NoChange)
        );
        assert_eq!(
            event_for_target(&programme(ProgrammeBlock::SixWeek, false), Level::Programme),
            Err(E::NoChange)
        );
        assert_eq!(
            event_for_target(&at(Level::Prompt), Level::Plan),
            Err(E::NotOneStep {
                from: Level::Prompt,
                to: Level::Plan
            })
        );
        assert_eq!(
            event_for_target(&at(Level::Plan), Level::Prompt),
            Err(E::NotOneStep {
                from: Level::Plan,
                to: Level::Prompt
            })
        );
    }

    #[test]
    fn events_for_target_covers_two_step_suggestions() {
        let events = events_for_target(&PupilState::initial(), Level::Conversation).unwrap();
        assert_eq!(events, vec![Event::Escalate, Event::Escalate]);
        let s = programme(ProgrammeBlock::SixWeek, false);
        let events = events_for_target(&s, Level::Provision).unwrap();
        let mut state = s;
        for e in &events {
            state = apply(&state, e).unwrap();
        }
        assert_eq!(state.level, Level::Provision);
        assert_eq!(
            events_for_target(&at(Level::Time), Level::Conversation),
            Ok(vec![Event::StepDown])
        );
        assert_eq!(
            events_for_target(
                &programme(ProgrammeBlock::FourWeek, false),
                Level::Provision
            ),
            Err(E::ProvisionNeedsProgramme)
        );
    }

    fn arb_level() -> impl Strategy<Value = Level> {
        (0usize..7).prop_map(|i| Level::ALL[i])
    }

    fn arb_role() -> impl Strategy<Value = Role> {
        (0usize..7).prop_map(|i| Role::ALL[i])
    }

    fn arb_state() -> impl Strategy<Value = PupilState> {
        (
            arb_level(),
            proptest::option::of((0usize..3).prop_map(|i| ProgrammeBlock::ALL[i])),
            any::<bool>(),
            any::<bool>(),
        )
            .prop_map(|(level, programme_block, had_plan, done)| PupilState {
                level,
                programme_block,
                had_plan,
                programme_completed_without_impact: done,
            })
    }

    fn arb_event() -> impl Strategy<Value = Event> {
        prop_oneof![
            Just(Event::Escalate),
            Just(Event::SeriousIncidentJump),
            Just(Event::StepDown),
            Just(Event::Close),
            any::<bool>().prop_map(|goals_met| Event::ProgrammeBlockReviewed { goals_met }),
            (
                arb_level(),
                arb_role(),
                prop_oneof![Just(String::new()), Just("reason".to_string())]
            )
                .prop_map(|(to, by, reason)| Event::Override { to, by, reason }),
        ]
    }

    proptest! {
        #[test]
        fn apply_never_skips_a_level(state in arb_state(), event in arb_event()) {
            if let Ok(next) = apply(&state, &event) {
                let jump = (i32::from(next.level.number()) - i32::from(state.level.number())).abs();
                let allowed = matches!(event, Event::Override { .. })
                    || (event == Event::SeriousIncidentJump && next.level == Level::Time)
                    || (event == Event::Close && next.level == Level::None);
                prop_assert!(jump <= 1 || allowed, "{:?} --{:?}--> {:?}", state, event, next);
            }
        }

        #[test]
        fn programme_entered_from_below_only_from_plan(state in arb_state(), event in arb_event()) {
            if let Ok(next) = apply(&state, &event) {
                if next.level == Level::Programme && state.level < Level::Programme {
                    prop_assert!(
                        state.level == Level::Plan || matches!(event, Event::Override { .. }),
                        "{:?} --{:?}--> {:?}", state, event, next
                    );
                }
            }
        }

        #[test]
        fn provision_only_after_programme_without_impact(state in arb_state(), event in arb_event()) {
            if let Ok(next) = apply(&state, &event) {
                if next.level == Level::Provision && state.level != Level::Provision {
                    prop_assert!(
                        (state.level == Level::Programme && state.programme_completed_without_impact)
                            || matches!(event, Event::Override { .. }),
                        "{:?} --{:?}--> {:?}", state, event, next
                    );
                }
            }
        }

        #[test]
        fn states_reached_from_initial_stay_consistent(events in proptest::collection::vec(arb_event(), 0..40)) {
            let mut state = PupilState::initial();
            for event in &events {
                if let Ok(next) = apply(&state, event) {
                    state = next;
                }
                prop_assert_eq!(state.programme_block.is_some(), state.level == Level::Programme);
                if state.level == Level::Plan {
                    prop_assert!(state.had_plan);
                }
                if state.level == Level::None {
                    prop_assert_eq!(&state, &PupilState::initial());
                }
            }
        }

        #[test]
        fn event_for_target_events_reach_the_target(state in arb_state(), to in arb_level()) {
            if let Ok(events) = events_for_target(&state, to) {
                let mut s = state.clone();
                for e in &events {
                    s = apply(&s, e).map_err(|err| TestCaseError::fail(format!("{state:?} {e:?}: {err}")))?;
                }
                prop_assert_eq!(s.level, to);
            }
        }
    }
}
