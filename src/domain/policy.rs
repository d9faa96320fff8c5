//! The escalation policy: every figure the rules and meeting deadlines use, editable per school.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::domain::calendar::{SchoolCalendar, SchoolDayCount};
use crate::domain::level::Level;

/// A school's escalation figures. The defaults are the ones in the domain description.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EscalationPolicy {
    /// Coaching Prompts within the prompt window that suggest a Coaching Conversation.
    pub prompts_for_conversation: u32,
    /// School days looked back over when counting prompts.
    pub prompt_window_days: u32,
    /// Incidents after moving to Coaching Conversation that suggest Coaching Time.
    pub incidents_after_conversation: u32,
    /// School days after moving to Coaching Conversation in which those incidents count.
    pub conversation_window_days: u32,
    /// Whether one serious incident below Coaching Time suggests Coaching Time straight away.
    pub serious_incident_suggests_time: bool,
    /// Incidents after Coaching Time that suggest a Coaching Plan.
    pub incidents_after_time: u32,
    /// School days after Coaching Time in which those incidents count.
    pub time_window_days: u32,
    /// School days without an incident after which levels 1 to 3 suggest a step down.
    pub quiet_days_for_step_down: u32,
    /// School days from acceptance by which the Coaching Time meeting is due.
    pub time_meeting_due_days: u32,
    /// School days from acceptance by which the Coaching Plan meeting is due.
    pub plan_meeting_due_days: u32,
    /// School days from acceptance by which the provision team meeting is due.
    pub provision_meeting_due_days: u32,
    /// School days before a meeting's due date that the reminder goes out.
    pub reminder_days_before: u32,
    /// Fewest programme sessions to plan each week.
    pub programme_sessions_per_week: u32,
    /// Length of a Coaching Time meeting in minutes (20 to 45).
    pub coaching_time_minutes: u32,
    /// School days after which an undecided suggestion is flagged as waiting too long.
    pub suggestion_stale_days: u32,
    /// School days before and after a pupil enters a level over which the impact of that step
    /// is measured (incidents per school day before against after).
    pub impact_window_days: u32,
    /// School days ahead a suggestion may be snoozed at most.
    pub longest_snooze_days: u32,
}

impl Default for EscalationPolicy {
    /// The figures from the domain description.
    fn default() -> Self {
        EscalationPolicy {
            prompts_for_conversation: 3,
            prompt_window_days: 5,
            incidents_after_conversation: 2,
            conversation_window_days: 10,
            serious_incident_suggests_time: true,
            incidents_after_time: 2,
            time_window_days: 15,
            quiet_days_for_step_down: 10,
            time_meeting_due_days: 3,
            plan_meeting_due_days: 5,
            provision_meeting_due_days: 10,
            reminder_days_before: 1,
            programme_sessions_per_week: 2,
            coaching_time_minutes: 30,
            suggestion_stale_days: 5,
            impact_window_days: 15,
            longest_snooze_days: 20,
        }
    }
}

/// What kind of figure a policy field holds, for labelling an input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PolicyUnit {
    /// A number of incidents or prompts.
    Count,
    /// A number of school days.
    SchoolDays,
    /// A number of sessions per week.
    PerWeek,
    /// A number of minutes.
    Minutes,
    /// A yes/no switch, held as 1 or 0 by [`EscalationPolicy::get`] and [`EscalationPolicy::set`].
    YesNo,
}

/// Description of one policy figure, enough to render and check an edit form generically.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct PolicyField {
    /// The field's name in JSON and in [`EscalationPolicy::get`]/[`EscalationPolicy::set`].
    pub name: &'static str,
    /// A short label for the form.
    pub label: &'static str,
    /// One sentence explaining the figure.
    pub help: &'static str,
    /// Smallest allowed value.
    pub min: i64,
    /// Largest allowed value.
    pub max: i64,
    /// The default value.
    pub default: i64,
    /// What kind of figure it is.
    pub unit: PolicyUnit,
}

/// Why a policy, or a change to it, was refused.
#[derive(thiserror::Error, Debug, Clone, PartialEq, Eq)]
pub enum PolicyError {
    /// A figure outside its allowed range.
    #[error("{field} must be between {min} and {max}, got {got}")]
    OutOfRange {
        /// The field's name.
        field: &'static str,
        /// Smallest allowed value.
        min: i64,
        /// Largest allowed value.
        max: i64,
        /// The value given.
        got: i64,
    },
    /// A name that is not a policy field.
    #[error("there is no policy setting called {0:?}")]
    UnknownField(String),
    /// Text that is not a JSON object of settings, or a value of the wrong type.
    #[error("the policy could not be read: {0}")]
    Malformed(String),
}

impl PolicyError {
    /// The field the error is about, when there is one.
    pub fn field(&self) -> Option<&str> {
        match self {
            PolicyError::OutOfRange { field, .. } => Some(field),
            PolicyError::UnknownField(name) => Some(name),
            PolicyError::Malformed(_) => None,
        }
    }
}

/// Shorthand for the table below.
const fn spec(
    name: &'static str,
    label: &'static str,
    help: &'static str,
    (min, max, default): (i64, i64, i64),
    unit: PolicyUnit,
) -> PolicyField {
    PolicyField {
        name,
        label,
        help,
        min,
        max,
        default,
        unit,
    }
}

/// Every policy figure, in the order a form shows them.
static FIELDS: [PolicyField; 17] = [
    spec(
        "prompts_for_conversation",
        "Prompts before a Coaching Conversation",
        "How many Coaching Prompts within the prompt window lead to a suggested Coaching Conversation.",
        (1, 20, 3),
        PolicyUnit::Count,
    ),
    spec(
        "prompt_window_days",
        "Prompt window",
        "How many recent school days are looked at when counting Coaching Prompts.",
        (1, 60, 5),
        PolicyUnit::SchoolDays,
    ),
    spec(
        "incidents_after_conversation",
        "Incidents after a Coaching Conversation",
        "How many further incidents after moving to Coaching Conversation lead to suggested Coaching Time.",
        (1, 20, 2),
        PolicyUnit::Count,
    ),
    spec(
        "conversation_window_days",
        "Coaching Conversation window",
        "For how many school days after moving to Coaching Conversation those incidents are counted.",
        (1, 60, 10),
        PolicyUnit::SchoolDays,
    ),
    spec(
        "serious_incident_suggests_time",
        "Serious incident suggests Coaching Time",
        "Whether a single serious incident below Coaching Time suggests going straight to Coaching Time.",
        (0, 1, 1),
        PolicyUnit::YesNo,
    ),
    spec(
        "incidents_after_time",
        "Incidents after Coaching Time",
        "How many further incidents after Coaching Time lead to a suggested Coaching Plan.",
        (1, 20, 2),
        PolicyUnit::Count,
    ),
    spec(
        "time_window_days",
        "Coaching Time window",
        "For how many school days after the Coaching Time meeting those incidents are counted.",
        (1, 60, 15),
        PolicyUnit::SchoolDays,
    ),
    spec(
        "quiet_days_for_step_down",
        "Quiet days before stepping down",
        "How many school days without any incident at levels 1 to 3 lead to a suggested step down.",
        (1, 60, 10),
        PolicyUnit::SchoolDays,
    ),
    spec(
        "time_meeting_due_days",
        "Coaching Time meeting due within",
        "School days after the move is accepted by which the Coaching Time meeting should be held (0 means the same day).",
        (0, 30, 3),
        PolicyUnit::SchoolDays,
    ),
    spec(
        "plan_meeting_due_days",
        "Coaching Plan meeting due within",
        "School days after the move is accepted by which the Coaching Plan meeting should be held (0 means the same day).",
        (0, 30, 5),
        PolicyUnit::SchoolDays,
    ),
    spec(
        "provision_meeting_due_days",
        "Provision team meeting due within",
        "School days after the move is accepted by which the Bespoke Provision Map team meeting should be held (0 means the same day).",
        (0, 60, 10),
        PolicyUnit::SchoolDays,
    ),
    spec(
        "reminder_days_before",
        "Reminder before a meeting is due",
        "How many school days before the due date the reminder is sent (0 means on the day).",
        (0, 10, 1),
        PolicyUnit::SchoolDays,
    ),
    spec(
        "programme_sessions_per_week",
        "Programme sessions a week",
        "The fewest Coaching Programme sessions to plan in each week.",
        (1, 5, 2),
        PolicyUnit::PerWeek,
    ),
    spec(
        "coaching_time_minutes",
        "Coaching Time length",
        "How long a Coaching Time meeting lasts, in minutes.",
        (20, 45, 30),
        PolicyUnit::Minutes,
    ),
    spec(
        "suggestion_stale_days",
        "Suggestion waiting too long after",
        "School days after which a suggestion nobody has accepted or declined is flagged.",
        (1, 30, 5),
        PolicyUnit::SchoolDays,
    ),
    spec(
        "impact_window_days",
        "Impact window",
        "How many school days before and after a pupil enters a level are compared to see whether that step reduced incidents.",
        (5, 60, 15),
        PolicyUnit::SchoolDays,
    ),
    spec(
        "longest_snooze_days",
        "Longest snooze",
        "How many school days ahead a suggestion may be snoozed at most.",
        (1, 60, 20),
        PolicyUnit::SchoolDays,
    ),
];

/// A mutable handle on one figure of a policy.
enum Slot<'a> {
    /// A whole-number figure.
    Number(&'a mut u32),
    /// A yes/no switch.
    Flag(&'a mut bool),
}

impl EscalationPolicy {
    /// Reads a policy from JSON. Missing fields take their defaults, unknown fields are
    /// refused, and the result is validated.
    pub fn parse_json(text: &str) -> Result<Self, PolicyError> {
        let value: Value = serde_json::from_str(text)
            .map_err(|e| PolicyError::Malformed(format!("not valid JSON ({e})")))?;
        let Value::Object(map) = value else {
            return Err(PolicyError::Malformed(
                "expected a JSON object of policy settings".into(),
            ));
        };
        let mut policy = EscalationPolicy::default();
        for (key, raw) in &map {
            let field =
                Self::field_info(key).ok_or_else(|| PolicyError::UnknownField(key.clone()))?;
            let number = match (field.unit, raw) {
                (PolicyUnit::YesNo, Value::Bool(b)) => i64::from(*b),
                (PolicyUnit::YesNo, _) => {
                    return Err(PolicyError::Malformed(format!(
                        "{key} must be true or false"
                    )))
                }
                (_, Value::Number(n)) => match (n.as_i64(), n.as_u64()) {
                    (Some(n), _) => n,
                    (None, Some(_)) => i64::MAX,
                    (None, None) => {
                        return Err(PolicyError::Malformed(format!(
                            "{key} must be a whole number"
                        )))
                    }
                },
                (_, _) => {
                    return Err(PolicyError::Malformed(format!(
                        "{key} must be a whole number"
                    )))
                }
            };
            policy.set(key, number)?;
        }
        policy.validate()?;
        Ok(policy)
    }

    /// Checks every figure against its allowed range; the error names the first field out of range.
    pub fn validate(&self) -> Result<(), PolicyError> {
        for field in &FIELDS {
            let got = self.get(field.name).unwrap_or(i64::MIN);
            if got < field.min || got > field.max {
                return Err(PolicyError::OutOfRange {
                    field: field.name,
                    min: field.min,
                    max: field.max,
                    got,
                });
            }
        }
        Ok(())
    }

    /// The policy as pretty-printed JSON, readable back by [`EscalationPolicy::parse_json`].
    pub fn to_json(&self) -> String {
        let mut map = Map::new();
        for field in &FIELDS {
            let n = self.get(field.name).unwrap_or(field.default);
            let value = match field.unit {
                PolicyUnit::YesNo => Value::Bool(n != 0),
                _ => Value::from(n),
            };
            map.insert(field.name.to_string(), value);
        }
        format!("{:#}", Value::Object(map))
    }

    /// School days from acceptance by which the meeting for `level` is due, for the levels
    /// that have one (Time, Plan, Provision).
    pub fn meeting_due_days(&self, level: Level) -> Option<u32> {
        match level {
            Level::Time => Some(self.time_meeting_due_days),
            Level::Plan => Some(self.plan_meeting_due_days),
            Level::Provision => Some(self.provision_meeting_due_days),
            _ => None,
        }
    }

    /// How the meeting for `level` is counted when the move was accepted on `accepted_on`:
    /// the policy's school days from that day, for the levels that have a meeting.
    pub fn meeting_due(&self, accepted_on: NaiveDate, level: Level) -> Option<SchoolDayCount> {
        self.meeting_due_days(level)
            .map(|days| SchoolDayCount::new(accepted_on, days))
    }

    /// The date the meeting for `level` is due when the move was accepted on `accepted_on`.
    pub fn meeting_due_on(
        &self,
        calendar: &SchoolCalendar,
        accepted_on: NaiveDate,
        level: Level,
    ) -> Option<NaiveDate> {
        self.meeting_due(accepted_on, level)
            .map(|count| count.date(calendar))
    }

    /// The date a reminder goes out for a meeting due on `due_on` (it may fall before the
    /// move was accepted when deadlines are short; callers send it straight away then).
    pub fn reminder_on(&self, calendar: &SchoolCalendar, due_on: NaiveDate) -> NaiveDate {
        calendar.sub_school_days(due_on, self.reminder_days_before)
    }

    /// The latest date a suggestion may be snoozed until on `today`: the policy's longest
    /// snooze, counted in school days.
    pub fn latest_snooze(&self, calendar: &SchoolCalendar, today: NaiveDate) -> NaiveDate {
        calendar.add_school_days(today, self.longest_snooze_days)
    }

    /// Every editable figure, in form order.
    pub fn fields() -> &'static [PolicyField] {
        &FIELDS
    }

    /// The description of the field with this name.
    pub fn field_info(name: &str) -> Option<&'static PolicyField> {
        FIELDS.iter().find(|field| field.name == name)
    }

    /// A figure by field name, yes/no switches as 1 or 0.
    pub fn get(&self, field: &str) -> Option<i64> {
        let n = match field {
            "prompts_for_conversation" => self.prompts_for_conversation,
            "prompt_window_days" => self.prompt_window_days,
            "incidents_after_conversation" => self.incidents_after_conversation,
            "conversation_window_days" => self.conversation_window_days,
            "serious_incident_suggests_time" => u32::from(self.serious_incident_suggests_time),
            "incidents_after_time" => self.incidents_after_time,
            "time_window_days" => self.time_window_days,
            "quiet_days_for_step_down" => self.quiet_days_for_step_down,
            "time_meeting_due_days" => self.time_meeting_due_days,
            "plan_meeting_due_days" => self.plan_meeting_due_days,
            "provision_meeting_due_days" => self.provision_meeting_due_days,
            "reminder_days_before" => self.reminder_days_before,
            "programme_sessions_per_week" => self.programme_sessions_per_week,
            "coaching_time_minutes" => self.coaching_time_minutes,
            "suggestion_stale_days" => self.suggestion_stale_days,
            "impact_window_days" => self.impact_window_days,
            "longest_snooze_days" => self.longest_snooze_days,
            _ => return None,
        };
        Some(i64::from(n))
    }

    /// The storage behind a field name.
    fn slot(&mut self, field: &str) -> Option<Slot<'_>> {
        let slot = match field {
            "prompts_for_conversation" => Slot::Number(&mut self.prompts_for_conversation),
            "prompt_window_days" => Slot::Number(&mut self.prompt_window_days),
            "incidents_after_conversation" => Slot::Number(&mut self.incidents_after_conversation),
            "conversation_window_days" => Slot::Number(&mut self.conversation_window_days),
            "serious_incident_suggests_time" => {
                Slot::Flag(&mut self.serious_incident_suggests_time)
            }
            "incidents_after_time" => Slot::Number(&mut self.incidents_after_time),
            "time_window_days" => Slot::Number(&mut self.time_window_days),
            "quiet_days_for_step_down" => Slot::Number(&mut self.quiet_days_for_step_down),
            "time_meeting_due_days" => Slot::Number(&mut self.time_meeting_due_days),
            "plan_meeting_due_days" => Slot::Number(&mut self.plan_meeting_due_days),
            "provision_meeting_due_days" => Slot::Number(&mut self.provision_meeting_due_days),
            "reminder_days_before" => Slot::Number(&mut self.reminder_days_before),
            "programme_sessions_per_week" => Slot::Number(&mut self.programme_sessions_per_week),
            "coaching_time_minutes" => Slot::Number(&mut self.coaching_time_minutes),
            "suggestion_stale_days" => Slot::Number(&mut self.suggestion_stale_days),
            "impact_window_days" => Slot::Number(&mut self.impact_window_days),
            "longest_snooze_days" => Slot::Number(&mut self.longest_snooze_days),
            _ => return None,
        };
        Some(slot)
    }

    /// Sets a figure by field name after checking its range (yes/no switches take 1 or 0).
    /// On error the policy is unchanged.
    pub fn set(&mut self, field: &str, value: i64) -> Result<(), PolicyError> {
        let info =
            Self::field_info(field).ok_or_else(|| PolicyError::UnknownField(field.to_string()))?;
        let out_of_range = PolicyError::OutOfRange {
            field: info.name,
            min: info.min,
            max: info.max,
            got: value,
        };
        if value < info.min || value > info.max {
            return Err(out_of_range);
        }
        match self.slot(field) {
            Some(Slot::Number(n)) => *n = u32::try_from(value).map_err(|_| out_of_range)?,
            Some(Slot::Flag(b)) => *b = value != 0,
            None => return Err(PolicyError::UnknownField(field.to_string())),
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn defaults_follow_the_domain() {
        let p = EscalationPolicy::default();
        assert_eq!(p.prompts_for_conversation, 3);
        assert_eq!(p.prompt_window_days, 5);
        assert_eq!(p.incidents_after_conversation, 2);
        assert_eq!(p.conversation_window_days, 10);
        assert!(p.serious_incident_suggests_time);
        assert_eq!(p.incidents_after_time, 2);
        assert_eq!(p.time_window_days, 15);
        assert_eq!(p.quiet_days_for_step_down, 10);
        assert_eq!(p.time_meeting_due_days, 3);
        assert_eq!(p.plan_meeting_due_days, 5);
        assert_eq!(p.provision_meeting_due_days, 10);
        assert_eq!(p.reminder_days_before, 1);
        assert_eq!(p.programme_sessions_per_week, 2);
        assert_eq!(p.coaching_time_minutes, 30);
        assert_eq!(p.suggestion_stale_days, 5);
        assert_eq!(p.longest_snooze_days, 20);
        assert_eq!(p.validate(), Ok(()));
    }

    #[test]
    fn field_table_matches_the_struct() {
        let p = EscalationPolicy::default();
        let serialized = serde_json::to_value(&p).unwrap();
        let keys: Vec<&String> = serialized.as_object().unwrap().keys().collect();
        assert_eq!(keys.len(), EscalationPolicy::fields().len());
        for field in EscalationPolicy::fields() {
            assert_eq!(p.get(field.name), Some(field.default), "{}", field.name);
            assert!(field.min <= field.default && field.default <= field.max);
            assert!(!field.label.is_empty() && !field.help.is_empty());
            assert!(serialized.get(field.name).is_some(), "{}", field.name);
        }
        assert_eq!(p.get("nonsense"), None);
    }

    #[test]
    fn parse_json_fills_in_defaults() {
        let p = EscalationPolicy::parse_json(r#"{"prompts_for_conversation": 4}"#).unwrap();
        assert_eq!(p.prompts_for_conversation, 4);
        assert_eq!(p.prompt_window_days, 5);
        assert_eq!(
            EscalationPolicy::parse_json("{}").unwrap(),
            EscalationPolicy::default()
        );
        let p =
            EscalationPolicy::parse_json(r#"{"serious_incident_suggests_time": false}"#).unwrap();
        assert!(!p.serious_incident_suggests_time);
    }

    #[test]
    fn parse_json_refuses_unknown_fields() {
        let err = EscalationPolicy::parse_json(r#"{"prompts": 4}"#).unwrap_err();
        assert_eq!(err, PolicyError::UnknownField("prompts".into()));
        assert_eq!(err.field(), Some("prompts"));
        assert_eq!(
            err.to_string(),
            "there is no policy setting called \"prompts\""
        );
    }

    #[test]
    fn parse_json_refuses_out_of_range_and_wrong_types() {
        let err = EscalationPolicy::parse_json(r#"{"coaching_time_minutes": 60}"#).unwrap_err();
        assert_eq!(
            err,
            PolicyError::OutOfRange {
                field: "coaching_time_minutes",
                min: 20,
                max: 45,
                got: 60
            }
        );
        assert_eq!(
            err.to_string(),
            "coaching_time_minutes must be between 20 and 45, got 60"
        );
        let err = EscalationPolicy::parse_json(r#"{"prompt_window_days": -1}"#).unwrap_err();
        assert_eq!(err.field(), Some("prompt_window_days"));
        let err = EscalationPolicy::parse_json(r#"{"prompt_window_days": 18446744073709551615}"#)
            .unwrap_err();
        assert_eq!(err.field(), Some("prompt_window_days"));
        for text in [
            r#"{"prompt_window_days": "5"}"#,
            r#"{"prompt_window_days": 2.5}"#,
            r#"{"serious_incident_suggests_time": 1}"#,
            "[1, 2]",
            "{",
        ] {
            let err = EscalationPolicy::parse_json(text).unwrap_err();
            assert!(matches!(err, PolicyError::Malformed(_)), "{text}: {err:?}");
            assert_eq!(err.field(), None);
        }
    }

    #[test]
    fn to_json_round_trips() {
        let p = EscalationPolicy {
            quiet_days_for_step_down: 12,
            serious_incident_suggests_time: false,
            ..EscalationPolicy::default()
        };
        let text = p.to_json();
        assert!(text.contains("\"quiet_days_for_step_down\": 12"), "{text}");
        assert_eq!(EscalationPolicy::parse_json(&text), Ok(p));
    }

    #[test]
    fn set_checks_ranges_and_names() {
        let mut p = EscalationPolicy::default();
        assert_eq!(p.set("time_window_days", 20), Ok(()));
        assert_eq!(p.time_window_days, 20);
        assert_eq!(p.set("serious_incident_suggests_time", 0), Ok(()));
        assert!(!p.serious_incident_suggests_time);
        assert_eq!(
            p.set("serious_incident_suggests_time", 2),
            Err(PolicyError::OutOfRange {
                field: "serious_incident_suggests_time",
                min: 0,
                max: 1,
                got: 2
            })
        );
        let before = p.clone();
        assert_eq!(
            p.set("time_window_days", 0).unwrap_err().field(),
            Some("time_window_days")
        );
        assert_eq!(
            p.set("time_window", 3),
            Err(PolicyError::UnknownField("time_window".into()))
        );
        assert_eq!(p, before);
    }

    #[test]
    fn validate_names_the_field() {
        let p = EscalationPolicy {
            coaching_time_minutes: 10,
            ..EscalationPolicy::default()
        };
        assert_eq!(
            p.validate(),
            Err(PolicyError::OutOfRange {
                field: "coaching_time_minutes",
                min: 20,
                max: 45,
                got: 10
            })
        );
    }

    #[test]
    fn meeting_deadlines() {
        let p = EscalationPolicy::default();
        assert_eq!(p.meeting_due_days(Level::Time), Some(3));
        assert_eq!(p.meeting_due_days(Level::Plan), Some(5));
        assert_eq!(p.meeting_due_days(Level::Provision), Some(10));
        assert_eq!(p.meeting_due_days(Level::Programme), None);
        assert_eq!(p.meeting_due_days(Level::Prompt), None);
        let cal = SchoolCalendar::weekdays_only();
        let friday = NaiveDate::from_ymd_opt(2025, 10, 17).unwrap();
        let due = p.meeting_due_on(&cal, friday, Level::Time).unwrap();
        assert_eq!(due, NaiveDate::from_ymd_opt(2025, 10, 22).unwrap());
        assert_eq!(
            p.reminder_on(&cal, due),
            NaiveDate::from_ymd_opt(2025, 10, 21).unwrap()
        );
        assert_eq!(p.meeting_due_on(&cal, friday, Level::Conversation), None);
    }

    #[test]
    fn the_longest_snooze_is_counted_in_school_days() {
        let friday = NaiveDate::from_ymd_opt(2025, 10, 17).unwrap();
        let half_term = SchoolCalendar::new(vec![crate::domain::Closure {
            starts_on: NaiveDate::from_ymd_opt(2025, 10, 20).unwrap(),
            ends_on: NaiveDate::from_ymd_opt(2025, 10, 24).unwrap(),
            kind: crate::domain::ClosureKind::Holiday,
            name: "Half term".into(),
        }])
        .unwrap();
        let p = EscalationPolicy::default();
        // 20 school days: four weeks, and the week of half term on top.
        assert_eq!(
            p.latest_snooze(&SchoolCalendar::weekdays_only(), friday),
            NaiveDate::from_ymd_opt(2025, 11, 14).unwrap()
        );
        assert_eq!(
            p.latest_snooze(&half_term, friday),
            NaiveDate::from_ymd_opt(2025, 11, 21).unwrap()
        );
    }

    fn arb_policy() -> impl Strategy<Value = EscalationPolicy> {
        let ranges: Vec<_> = EscalationPolicy::fields()
            .iter()
            .map(|f| (f.min..=f.max).boxed())
            .collect();
        ranges.prop_map(|values| {
            let mut p = EscalationPolicy::default();
            for (field, v) in EscalationPolicy::fields().iter().zip(values) {
                p.set(field.name, v).unwrap();
            }
            p
        })
    }

    proptest! {
        #[test]
        fn json_round_trips(p in arb_policy()) {
            prop_assert_eq!(p.validate(), Ok(()));
            prop_assert_eq!(EscalationPolicy::parse_json(&p.to_json()), Ok(p));
        }

        #[test]
        fn out_of_range_figures_are_rejected_by_name(
            index in 0usize..17,
            below in any::<bool>(),
            distance in 1i64..1000,
        ) {
            let field = EscalationPolicy::fields()[index];
            let value = if below { field.min - distance } else { field.max + distance };
            let mut p = EscalationPolicy::default();
            let err = p.set(field.name, value).unwrap_err();
            prop_assert_eq!(err.field(), Some(field.name));
            if field.unit != PolicyUnit::YesNo {
                let text = format!("{{\"{}\": {}}}", field.name, value);
                let err = EscalationPolicy::parse_json(&text).unwrap_err();
                prop_assert_eq!(err.field(), Some(field.name));
                if value >= 0 {
                    // Built directly, bypassing set(), validate() still names the field.
                    let mut direct = serde_json::to_value(EscalationPolicy::default()).unwrap();
                    direct[field.name] = Value::from(value);
                    let direct: EscalationPolicy = serde_json::from_value(direct).unwrap();
                    let err = direct.validate().unwrap_err();
                    prop_assert_eq!(err.field(), Some(field.name));
                }
            }
        }
    }
}
