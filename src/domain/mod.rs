//! The pure domain core of Steadfast: the Coaching Sequence's levels, the moves between
//! them, the school calendar, the escalation policy, the rules that suggest moves, and the
//! Coaching Plan, the Coaching Programme's sessions, fidelity and block reviews, and the
//! items of a Bespoke Provision Map; and the arithmetic of the insight reports.
//!
//! Nothing here does IO or reads the clock: time is always passed in.

pub mod account_link;
pub mod backup;
pub mod backup_rotation;
pub mod calendar;
pub mod consistency;
pub mod contact;
pub mod conversation;
pub mod details;
pub mod family;
pub mod family_words;
pub mod follow_up;
pub mod history;
pub mod import;
pub mod incident;
pub mod insight;
pub mod level;
pub mod meeting;
pub mod oneroster;
pub mod paging;
pub mod plan;
pub mod policy;
pub mod programme;
pub mod pupil_search;
pub mod replay;
pub mod retention;
pub mod role;
pub mod roster;
pub mod rules;
pub mod second_factor;
pub mod sign_in;
pub mod sso;
pub mod staff_roster;
pub mod subject_access;
pub mod term_dates;
pub mod timetable;
pub mod transition;
pub mod visibility;
pub mod words;

pub use calendar::{
    CalendarError, Closure, ClosureKind, CountedDate, MovedDueDate, SchoolCalendar, SchoolDayCount,
    MAX_SPAN_DAYS, SCHOOL_TZ,
};
pub use level::{Level, LevelError, LevelFacts, ProgrammeBlock};
pub use plan::{
    format_pounds, ActionStep, CoachingPlan, Goal, PlanSubmission, Provider, ProvisionItem,
    ProvisionSubmission,
};
pub use policy::{EscalationPolicy, PolicyError, PolicyField, PolicyUnit};
pub use programme::{
    block_fidelity, plan_sessions, review_events, BlockFidelity, BlockReview, BlockSchedule,
    Fidelity, FidelityBand, PlannedSession, ReviewDecision, ReviewError, SessionEntry, SessionLead,
    SessionOutcome, SessionPlace, SessionPlanRequest, SessionRecord, SessionSetting,
};
pub use role::{Role, RoleError};
pub use rules::{
    evaluate, relevant_window_days, DecidedSuggestion, IncidentFact, MeetingFact, PupilHistory,
    Response, RuleId, Severity, Suggestion, UnknownValue,
};
pub use transition::{
    apply, event_for_target, events_for_target, Event, PupilState, TransitionError,
};
pub use words::{MeetingState, MeetingStatus, Move, Overdue};
