//! Whether each pupil's level agrees with their level history and their records: the rules
//! `steadfast check` applies to every pupil, pure and decided in memory.
//!
//! What "agrees" means in Steadfast:
//! - **The history is a chain the sequence allows.** Level changes, in the order they were
//!   recorded, start from no level; each starts from the level the one before reached, and
//!   replayed through the state machine ([`crate::domain::transition`]) each is a move it
//!   allows: the ordinary event that reaches its level ([`events_for_target`]), a change
//!   from Coaching Programme to Coaching Programme being a block review that moved on, and an
//!   override (by SLT or the SENDCO, who alone may make one) reaching any other level.
//! - **The stored level is where the history ends.** The pupil's level is the level the
//!   last change reached (no level without a change), since the time of the last change that
//!   moved the level (a new programme block is not a new level); the programme block, whether
//!   a Coaching Plan was reached and whether the programme finished without impact are those
//!   the replay ends with.
//! - **Records were made at a level that allows them.** The level in force when a record was
//!   made is that of the last change, in the order recorded, made by then:
//!   - a Coaching Prompt logged in Steadfast leaves the pupil at a level, since logging a
//!     prompt for a pupil with no level places them at Coaching Prompt (prompts brought in
//!     from another system's history are left out: that history is placed on the ladder
//!     once, when it is brought in, and never for a pupil already on it);
//!   - each version of a Coaching Plan is written at Coaching Plan or above;
//!   - a programme block is planned at Coaching Programme; a block still running belongs to a
//!     pupil on the programme now, and is their current block (one at a time);
//!   - a provision is mapped at Bespoke Provision Map;
//!   - a meeting still to come (due or booked) is a meeting of the pupil's current level,
//!     since moving to another level cancels those of the level left.

use std::fmt;

use chrono::{DateTime, Utc};

use crate::domain::level::{Level, ProgrammeBlock};
use crate::domain::role::Role;
use crate::domain::transition::{apply, events_for_target, Event, PupilState};

/// A pupil's level as stored on the pupil.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoredLevel {
    /// The level's number (0 to 6).
    pub level: i16,
    /// When the pupil moved to that level.
    pub level_since: DateTime<Utc>,
    /// The programme block's length in weeks, while on a Coaching Programme.
    pub programme_block: Option<i16>,
    /// Whether the pupil has reached Coaching Plan since support last closed.
    pub had_plan: bool,
    /// Whether the last programme block was reviewed with its goals still not met.
    pub programme_without_impact: bool,
}

/// One recorded change of a pupil's level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordedChange {
    /// The change's id: changes are replayed in the order of their ids.
    pub id: i64,
    /// The level number moved from.
    pub from: i16,
    /// The level number moved to.
    pub to: i16,
    /// When the move took effect.
    pub at: DateTime<Utc>,
    /// Whether SLT or the SENDCO made it as an override.
    pub is_override: bool,
}

/// A record made for a pupil at a moment: a prompt logged, a plan version, a provision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MadeAt {
    /// The record's id.
    pub id: i64,
    /// When it was made (for an incident: when it was logged, not when it happened).
    pub at: DateTime<Utc>,
}

/// A programme block of a pupil.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockRecord {
    /// The block's id.
    pub id: i64,
    /// Its length in weeks.
    pub weeks: i16,
    /// Whether it is still running (neither reviewed nor ended).
    pub running: bool,
    /// When it was planned.
    pub created_at: DateTime<Utc>,
}

/// A meeting still to come (due or booked).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpenMeeting {
    /// The meeting's id.
    pub id: i64,
    /// The number of the level it belongs to.
    pub level: i16,
}

/// Everything the consistency rules look at for one pupil; lists in any order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PupilRecords {
    /// The pupil's id, to report by.
    pub pupil_id: i64,
    /// The level stored on the pupil.
    pub stored: StoredLevel,
    /// Every recorded change of their level.
    pub changes: Vec<RecordedChange>,
    /// Incidents logged in Steadfast (not brought in) with a Coaching Prompt as the response,
    /// at the moment they were logged, or when they happened if that is later (an incident
    /// may be logged a few minutes ahead): the prompt's placement took effect by then.
    pub prompts: Vec<MadeAt>,
    /// Every version of their Coaching Plan.
    pub plans: Vec<MadeAt>,
    /// Their programme blocks.
    pub blocks: Vec<BlockRecord>,
    /// The provisions mapped for them.
    pub provisions: Vec<MadeAt>,
    /// Their meetings still to come.
    pub open_meetings: Vec<OpenMeeting>,
}

/// What disagrees for a pupil.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Disagreement {
    /// The stored level is not the one the last level change reached.
    LevelNotLastChange {
        /// The stored level number.
        stored: i16,
        /// The level number the last change reached (0 without any change).
        history: i16,
    },
    /// The stored "level since" is not the time of the last change that moved the level.
    SinceNotLastChange {
        /// The stored time.
        stored: DateTime<Utc>,
        /// The time of the last change that moved the level.
        history: DateTime<Utc>,
    },
    /// A change starts from another level than the one the history had reached.
    BrokenChain {
        /// The change's id.
        change_id: i64,
        /// The level number it starts from.
        from: i16,
        /// The level number the history had reached.
        reached: i16,
    },
    /// A change the state machine does not allow.
    MoveNotAllowed {
        /// The change's id.
        change_id: i64,
        /// The level number moved from.
        from: i16,
        /// The level number moved to.
        to: i16,
        /// Why the sequence refuses it.
        why: String,
    },
    /// A stored fact that gates the upper levels differs from the replayed history.
    StateNotReplayed {
        /// Which fact: "programme block", "had a Coaching Plan" or "programme without impact".
        what: &'static str,
        /// Its stored value, in words.
        stored: String,
        /// The value the history gives, in words.
        history: String,
    },
    /// A Coaching Prompt logged while the pupil was left at no level.
    PromptAtNoLevel {
        /// The incident's id.
        incident_id: i64,
    },
    /// A Coaching Plan version written below Coaching Plan.
    PlanBelowPlan {
        /// The plan version's id.
        plan_id: i64,
        /// The level number in force when it was written.
        level: i16,
    },
    /// A programme block planned while not on a Coaching Programme.
    BlockOffProgramme {
        /// The block's id.
        block_id: i64,
        /// The level number in force when it was planned.
        level: i16,
    },
    /// A running programme block, while the pupil is not on a Coaching Programme now.
    RunningBlockOffProgramme {
        /// The block's id.
        block_id: i64,
    },
    /// A running programme block of another length than the pupil's current block.
    RunningBlockNotCurrent {
        /// The block's id.
        block_id: i64,
        /// Its length in weeks.
        weeks: i16,
        /// The current block's length in weeks.
        current: u32,
    },
    /// More than one programme block running at once.
    SeveralRunningBlocks {
        /// The running blocks' ids.
        block_ids: Vec<i64>,
    },
    /// A provision mapped while not on a Bespoke Provision Map.
    ProvisionBelowProvision {
        /// The provision's id.
        item_id: i64,
        /// The level number in force when it was mapped.
        level: i16,
    },
    /// A meeting still to come that belongs to another level than the current one.
    OpenMeetingOtherLevel {
        /// The meeting's id.
        meeting_id: i64,
        /// The meeting's level number.
        level: i16,
        /// The stored level number.
        current: i16,
    },
}

/// The title of a stored level number, or the number itself when it names no level.
fn title(number: i16) -> String {
    match Level::from_number(i64::from(number)) {
        Ok(level) => level.title().to_string(),
        Err(_) => format!("level number {number}"),
    }
}

/// "a 4-week block" or "no block".
fn block_words(weeks: Option<i16>) -> String {
    weeks.map_or_else(|| "no block".to_string(), |w| format!("the {w}-week block"))
}

fn yes_no(value: bool) -> String {
    if value { "yes" } else { "no" }.to_string()
}

impl fmt::Display for Disagreement {
    /// What disagrees, in a sentence naming the records by id (never a name or a note).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Disagreement::LevelNotLastChange { stored, history } => write!(
                f,
                "the level is {} but the level history ends at {}",
                title(*stored),
                title(*history)
            ),
            Disagreement::SinceNotLastChange { stored, history } => write!(
                f,
                "the level is recorded as reached at {} but the last level change was at {}",
                stored.format("%Y-%m-%d %H:%M:%S UTC"),
                history.format("%Y-%m-%d %H:%M:%S UTC")
            ),
            Disagreement::BrokenChain {
                change_id,
                from,
                reached,
            } => write!(
                f,
                "level change {change_id} moves from {} but the history had reached {}",
                title(*from),
                title(*reached)
            ),
            Disagreement::MoveNotAllowed {
                change_id,
                from,
                to,
                why,
            } => write!(
                f,
                "level change {change_id} from {} to {} is not a move the sequence allows: {why}",
                title(*from),
                title(*to)
            ),
            Disagreement::StateNotReplayed {
                what,
                stored,
                history,
            } => write!(
                f,
                "{what} is recorded as {stored} but the level history gives {history}"
            ),
            Disagreement::PromptAtNoLevel { incident_id } => write!(
                f,
                "incident {incident_id} is a Coaching Prompt but left the pupil at no support \
                 level (a prompt places a pupil with no level at Coaching Prompt)"
            ),
            Disagreement::PlanBelowPlan { plan_id, level } => write!(
                f,
                "Coaching Plan version {plan_id} was written at {}, below Coaching Plan",
                title(*level)
            ),
            Disagreement::BlockOffProgramme { block_id, level } => write!(
                f,
                "programme block {block_id} was planned at {}, not on a Coaching Programme",
                title(*level)
            ),
            Disagreement::RunningBlockOffProgramme { block_id } => write!(
                f,
                "programme block {block_id} is still running but the pupil is not on a \
                 Coaching Programme"
            ),
            Disagreement::RunningBlockNotCurrent {
                block_id,
                weeks,
                current,
            } => write!(
                f,
                "programme block {block_id} running is a {weeks}-week block but the pupil is in \
                 the {current}-week block"
            ),
            Disagreement::SeveralRunningBlocks { block_ids } => {
                let ids: Vec<String> = block_ids.iter().map(i64::to_string).collect();
                write!(
                    f,
                    "programme blocks {} are all running at once",
                    ids.join(", ")
                )
            }
            Disagreement::ProvisionBelowProvision { item_id, level } => write!(
                f,
                "provision {item_id} was mapped at {}, not on a Bespoke Provision Map",
                title(*level)
            ),
            Disagreement::OpenMeetingOtherLevel {
                meeting_id,
                level,
                current,
            } => write!(
                f,
                "meeting {meeting_id} for {} is still to come but the pupil is at {}",
                title(*level),
                title(*current)
            ),
        }
    }
}

/// A disagreement found for a pupil.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PupilProblem {
    /// The pupil's id.
    pub pupil_id: i64,
    /// What disagrees.
    pub disagreement: Disagreement,
}

/// The event that replays a recorded change from `state`, or why the sequence refuses it.
fn replay_change(
    state: &PupilState,
    change: &RecordedChange,
    to: Level,
) -> Result<PupilState, String> {
    let events = if change.is_override {
        vec![Event::Override {
            to,
            // Only SLT or the SENDCO may override; who it was is checked when it is made.
            by: Role::Slt,
            reason: "recorded override".to_string(),
        }]
    } else if state.level == Level::Programme && to == Level::Programme {
        // A block review that moved on: the next block, or the last one finished without impact.
        vec![Event::ProgrammeBlockReviewed { goals_met: false }]
    } else {
        events_for_target(state, to).map_err(|e| e.to_string())?
    };
    events
        .iter()
        .try_fold(state.clone(), |current, event| apply(&current, event))
        .map_err(|e| e.to_string())
}

/// The level number in force at `at`: that of the last change, in the order recorded,
/// that took effect by then (0 when none had).
fn level_at(changes: &[RecordedChange], at: DateTime<Utc>) -> i16 {
    changes
        .iter()
        .filter(|c| c.at <= at)
        .max_by_key(|c| c.id)
        .map_or(Level::None.number(), |c| c.to)
}

/// Every disagreement between one pupil's level, level history and records.
pub fn check_pupil(records: &PupilRecords) -> Vec<Disagreement> {
    let mut found = Vec::new();
    let mut changes = records.changes.clone();
    changes.sort_by_key(|c| c.id);
    let stored = &records.stored;

    // The stored level is where the history ends.
    let history_level = changes.last().map_or(Level::None.number(), |c| c.to);
    if stored.level != history_level {
        found.push(Disagreement::LevelNotLastChange {
            stored: stored.level,
            history: history_level,
        });
    }
    if let Some(moved) = changes.iter().rev().find(|c| c.from != c.to) {
        if stored.level_since != moved.at {
            found.push(Disagreement::SinceNotLastChange {
                stored: stored.level_since,
                history: moved.at,
            });
        }
    }

    // The history is a chain the sequence allows.
    let mut state = Some(PupilState::initial());
    for change in &changes {
        let Some(current) = &state else { break };
        if change.from != current.level.number() {
            found.push(Disagreement::BrokenChain {
                change_id: change.id,
                from: change.from,
                reached: current.level.number(),
            });
            state = None;
            break;
        }
        let replayed = Level::from_number(i64::from(change.to))
            .map_err(|e| e.to_string())
            .and_then(|to| replay_change(current, change, to));
        match replayed {
            Ok(next) => state = Some(next),
            Err(why) => {
                found.push(Disagreement::MoveNotAllowed {
                    change_id: change.id,
                    from: change.from,
                    to: change.to,
                    why,
                });
                state = None;
            }
        }
    }
    if let Some(replayed) = state.filter(|s| s.level.number() == stored.level) {
        let replayed_block = replayed
            .programme_block
            .and_then(|b| i16::try_from(b.weeks()).ok());
        if stored.programme_block != replayed_block {
            found.push(Disagreement::StateNotReplayed {
                what: "the programme block",
                stored: block_words(stored.programme_block),
                history: block_words(replayed_block),
            });
        }
        if stored.had_plan != replayed.had_plan {
            found.push(Disagreement::StateNotReplayed {
                what: "having reached a Coaching Plan",
                stored: yes_no(stored.had_plan),
                history: yes_no(replayed.had_plan),
            });
        }
        if stored.programme_without_impact != replayed.programme_completed_without_impact {
            found.push(Disagreement::StateNotReplayed {
                what: "the programme finishing without impact",
                stored: yes_no(stored.programme_without_impact),
                history: yes_no(replayed.programme_completed_without_impact),
            });
        }
    }

    // Records were made at a level that allows them.
    let mut prompts = records.prompts.clone();
    prompts.sort_by_key(|p| p.id);
    for prompt in &prompts {
        if level_at(&changes, prompt.at) == Level::None.number() {
            found.push(Disagreement::PromptAtNoLevel {
                incident_id: prompt.id,
            });
        }
    }
    let mut plans = records.plans.clone();
    plans.sort_by_key(|p| p.id);
    for plan in &plans {
        let level = level_at(&changes, plan.at);
        if level < Level::Plan.number() {
            found.push(Disagreement::PlanBelowPlan {
                plan_id: plan.id,
                level,
            });
        }
    }
    let mut blocks = records.blocks.clone();
    blocks.sort_by_key(|b| b.id);
    for block in &blocks {
        let level = level_at(&changes, block.created_at);
        if level != Level::Programme.number() {
            found.push(Disagreement::BlockOffProgramme {
                block_id: block.id,
                level,
            });
        }
    }
    let running: Vec<&BlockRecord> = blocks.iter().filter(|b| b.running).collect();
    if running.len() > 1 {
        found.push(Disagreement::SeveralRunningBlocks {
            block_ids: running.iter().map(|b| b.id).collect(),
        });
    }
    for block in running {
        if stored.level != Level::Programme.number() {
            found.push(Disagreement::RunningBlockOffProgramme { block_id: block.id });
            continue;
        }
        // As the state machine reads it: the first block when none is recorded.
        let current = stored
            .programme_block
            .and_then(|weeks| ProgrammeBlock::from_weeks(i64::from(weeks)).ok())
            .unwrap_or(ProgrammeBlock::TwoWeek)
            .weeks();
        if u32::try_from(block.weeks).ok() != Some(current) {
            found.push(Disagreement::RunningBlockNotCurrent {
                block_id: block.id,
                weeks: block.weeks,
                current,
            });
        }
    }
    let mut provisions = records.provisions.clone();
    provisions.sort_by_key(|p| p.id);
    for item in &provisions {
        let level = level_at(&changes, item.at);
        if level != Level::Provision.number() {
            found.push(Disagreement::ProvisionBelowProvision {
                item_id: item.id,
                level,
            });
        }
    }
    let mut meetings = records.open_meetings.clone();
    meetings.sort_by_key(|m| m.id);
    for meeting in &meetings {
        if meeting.level != stored.level {
            found.push(Disagreement::OpenMeetingOtherLevel {
                meeting_id: meeting.id,
                level: meeting.level,
                current: stored.level,
            });
        }
    }
    found
}

/// Every disagreement for the pupils of a school, pupil by pupil in the order given.
pub fn check_pupils(pupils: &[PupilRecords]) -> Vec<PupilProblem> {
    pupils
        .iter()
        .flat_map(|records| {
            check_pupil(records)
                .into_iter()
                .map(|disagreement| PupilProblem {
                    pupil_id: records.pupil_id,
                    disagreement,
                })
        })
        .collect()
}

/// What the consistency check found in one school.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SchoolConsistency {
    /// The school's code.
    pub code: String,
    /// How many pupils were checked.
    pub pupils: usize,
    /// Every disagreement found.
    pub problems: Vec<PupilProblem>,
}

impl SchoolConsistency {
    /// Each problem as a line naming the school's code and the pupil's id.
    pub fn lines(&self) -> Vec<String> {
        self.problems
            .iter()
            .map(|p| {
                format!(
                    "school {} pupil {}: {}",
                    self.code, p.pupil_id, p.disagreement
                )
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeDelta, TimeZone};

    /// 10:00 UTC on a day of November 2025.
    fn nov(day: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 11, day, 10, 0, 0).unwrap()
    }

    fn change(id: i64, from: Level, to: Level, at: DateTime<Utc>) -> RecordedChange {
        RecordedChange {
            id,
            from: from.number(),
            to: to.number(),
            at,
            is_override: false,
        }
    }

    fn made(id: i64, at: DateTime<Utc>) -> MadeAt {
        MadeAt { id, at }
    }

    /// A pupil with no history, stored at no level.
    fn unsupported() -> PupilRecords {
        PupilRecords {
            pupil_id: 7,
            stored: StoredLevel {
                level: 0,
                level_since: nov(1),
                programme_block: None,
                had_plan: false,
                programme_without_impact: false,
            },
            changes: Vec::new(),
            prompts: Vec::new(),
            plans: Vec::new(),
            blocks: Vec::new(),
            provisions: Vec::new(),
            open_meetings: Vec::new(),
        }
    }

    /// A pupil who climbed to a Coaching Programme (2-week block) one change a day from
    /// 3 November, placed at Coaching Prompt by prompt 100, with a plan written at level 4,
    /// a running 2-week block and its review meeting due.
    fn on_programme() -> PupilRecords {
        let ladder = [
            Level::None,
            Level::Prompt,
            Level::Conversation,
            Level::Time,
            Level::Plan,
            Level::Programme,
        ];
        let changes: Vec<RecordedChange> = ladder
            .windows(2)
            .enumerate()
            .map(|(i, pair)| change(i as i64 + 1, pair[0], pair[1], nov(3 + i as u32)))
            .collect();
        PupilRecords {
            pupil_id: 8,
            stored: StoredLevel {
                level: Level::Programme.number(),
                level_since: nov(7),
                programme_block: Some(2),
                had_plan: true,
                programme_without_impact: false,
            },
            changes,
            prompts: vec![made(100, nov(3)), made(101, nov(3) + TimeDelta::hours(1))],
            plans: vec![made(20, nov(6) + TimeDelta::hours(2))],
            blocks: vec![BlockRecord {
                id: 30,
                weeks: 2,
                running: true,
                created_at: nov(7) + TimeDelta::hours(1),
            }],
            provisions: Vec::new(),
            open_meetings: vec![OpenMeeting {
                id: 40,
                level: Level::Programme.number(),
            }],
        }
    }

    #[test]
    fn a_pupil_without_history_or_records_agrees() {
        assert_eq!(check_pupil(&unsupported()), vec![]);
    }

    #[test]
    fn a_pupil_who_climbed_the_ladder_agrees() {
        assert_eq!(check_pupil(&on_programme()), vec![]);
        // Changes given in any order are replayed by id.
        let mut shuffled = on_programme();
        shuffled.changes.reverse();
        assert_eq!(check_pupil(&shuffled), vec![]);
    }

    #[test]
    fn a_stored_level_changed_behind_the_history_is_found() {
        let mut records = on_programme();
        records.stored.level = Level::Provision.number();
        let found = check_pupil(&records);
        assert_eq!(
            found[0],
            Disagreement::LevelNotLastChange {
                stored: 6,
                history: 5
            }
        );
        assert_eq!(
            found[0].to_string(),
            "the level is Bespoke Provision Map but the level history ends at Coaching Programme"
        );
        // The running block and the review meeting no longer fit the stored level either.
        assert!(found.contains(&Disagreement::RunningBlockOffProgramme { block_id: 30 }));
        assert!(found.contains(&Disagreement::OpenMeetingOtherLevel {
            meeting_id: 40,
            level: 5,
            current: 6
        }));
    }

    #[test]
    fn a_level_without_any_history_is_found() {
        let mut records = unsupported();
        records.stored.level = Level::Time.number();
        assert_eq!(
            check_pupil(&records),
            vec![Disagreement::LevelNotLastChange {
                stored: 3,
                history: 0
            }]
        );
    }

    #[test]
    fn level_since_is_the_last_change_that_moved_the_level() {
        let mut records = on_programme();
        records.stored.level_since = nov(20);
        assert_eq!(
            check_pupil(&records),
            vec![Disagreement::SinceNotLastChange {
                stored: nov(20),
                history: nov(7)
            }]
        );
        // A next block is not a new level: the level is still held since it was reached.
        let mut records = on_programme();
        records
            .changes
            .push(change(9, Level::Programme, Level::Programme, nov(24)));
        records.stored.programme_block = Some(4);
        records.blocks[0].running = false;
        records.blocks.push(BlockRecord {
            id: 31,
            weeks: 4,
            running: true,
            created_at: nov(25),
        });
        assert_eq!(check_pupil(&records), vec![]);
    }

    #[test]
    fn a_broken_chain_is_found_once() {
        let mut records = on_programme();
        records.changes[2].from = Level::Prompt.number();
        let found = check_pupil(&records);
        assert_eq!(
            found,
            vec![Disagreement::BrokenChain {
                change_id: 3,
                from: 1,
                reached: 2
            }]
        );
        assert_eq!(
            found[0].to_string(),
            "level change 3 moves from Coaching Prompt but the history had reached Coaching Conversation"
        );
    }

    #[test]
    fn a_move_the_sequence_refuses_is_found_with_the_reason() {
        // Straight from Coaching Time to Coaching Programme, without a plan.
        let mut records = on_programme();
        records.changes.remove(3);
        records.changes[3] = change(5, Level::Time, Level::Programme, nov(7));
        records.plans.clear();
        let found = check_pupil(&records);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(
            found[0].to_string(),
            "level change 5 from Coaching Time to Coaching Programme is not a move the sequence \
             allows: a Coaching Programme can only follow a Coaching Plan"
        );
        // The same move as an SLT/SENDCO override is allowed (and reaches no plan).
        records.changes[3].is_override = true;
        records.stored.had_plan = false;
        assert_eq!(check_pupil(&records), vec![]);
    }

    #[test]
    fn moves_of_more_than_one_event_replay() {
        // Prompts before any level, then a Coaching Conversation accepted: two steps up.
        let mut records = unsupported();
        records.changes = vec![change(1, Level::None, Level::Conversation, nov(5))];
        records.stored.level = Level::Conversation.number();
        records.stored.level_since = nov(5);
        assert_eq!(check_pupil(&records), vec![]);
        // A serious incident straight to Coaching Time; then closed, which resets everything.
        let mut records = unsupported();
        records.changes = vec![
            change(1, Level::None, Level::Time, nov(5)),
            change(2, Level::Time, Level::None, nov(12)),
        ];
        records.stored.level_since = nov(12);
        assert_eq!(check_pupil(&records), vec![]);
    }

    #[test]
    fn the_last_block_reviewed_without_impact_leads_to_a_provision_map() {
        let mut records = on_programme();
        records.changes.extend([
            change(6, Level::Programme, Level::Programme, nov(17)),
            change(7, Level::Programme, Level::Programme, nov(24)),
            change(8, Level::Programme, Level::Provision, nov(28)),
        ]);
        records.blocks[0].running = false;
        records.open_meetings.clear();
        records.stored = StoredLevel {
            level: Level::Provision.number(),
            level_since: nov(28),
            programme_block: None,
            had_plan: true,
            programme_without_impact: true,
        };
        records.provisions = vec![made(50, nov(29))];
        assert_eq!(check_pupil(&records), vec![]);
        // Straight to a provision map from the 4-week block is not allowed without an override.
        records.changes.remove(1 + 5);
        let found = check_pupil(&records);
        assert!(
            matches!(
                found[..],
                [Disagreement::MoveNotAllowed { change_id: 8, .. }]
            ),
            "{found:?}"
        );
    }

    #[test]
    fn stored_gates_must_be_those_the_history_gives() {
        let mut records = on_programme();
        records.stored.programme_block = Some(6);
        records.stored.had_plan = false;
        records.blocks.clear();
        let found = check_pupil(&records);
        let words: Vec<String> = found.iter().map(|d| d.to_string()).collect();
        assert_eq!(
            words,
            vec![
                "the programme block is recorded as the 6-week block but the level history gives the 2-week block",
                "having reached a Coaching Plan is recorded as no but the level history gives yes",
            ]
        );
    }

    #[test]
    fn a_prompt_that_left_the_pupil_at_no_level_is_found() {
        // The demo's old fault: prompts logged, and no level change placing the pupil.
        let mut records = unsupported();
        records.prompts = vec![made(12, nov(3)), made(11, nov(3) + TimeDelta::hours(2))];
        let found = check_pupil(&records);
        assert_eq!(
            found,
            vec![
                Disagreement::PromptAtNoLevel { incident_id: 11 },
                Disagreement::PromptAtNoLevel { incident_id: 12 },
            ]
        );
        assert!(found[0]
            .to_string()
            .starts_with("incident 11 is a Coaching Prompt"));
    }

    #[test]
    fn prompts_before_a_step_down_to_no_level_agree() {
        // Placed at Coaching Prompt by a prompt, then stepped down after a quiet spell.
        let mut records = unsupported();
        records.prompts = vec![made(12, nov(3))];
        records.changes = vec![
            change(1, Level::None, Level::Prompt, nov(3)),
            change(2, Level::Prompt, Level::None, nov(20)),
        ];
        records.stored.level_since = nov(20);
        assert_eq!(check_pupil(&records), vec![]);
        // A prompt logged after the step down, without placing the pupil again, disagrees.
        records.prompts.push(made(13, nov(21)));
        assert_eq!(
            check_pupil(&records),
            vec![Disagreement::PromptAtNoLevel { incident_id: 13 }]
        );
    }

    #[test]
    fn a_prompt_logged_late_agrees_by_the_order_changes_were_recorded() {
        // Support closed on the 10th; on the 12th a prompt of the 5th is logged, which places
        // the pupil at Coaching Prompt again from the 5th: recorded after the close.
        let mut records = unsupported();
        records.changes = vec![
            change(1, Level::None, Level::Prompt, nov(3)),
            change(2, Level::Prompt, Level::None, nov(10)),
            change(3, Level::None, Level::Prompt, nov(5)),
        ];
        records.prompts = vec![made(21, nov(3)), made(22, nov(12))];
        records.stored.level = Level::Prompt.number();
        records.stored.level_since = nov(5);
        assert_eq!(check_pupil(&records), vec![]);
    }

    #[test]
    fn a_prompt_timed_a_few_minutes_ahead_agrees_at_the_time_it_happened() {
        // Logged at 10:00 for 10:03: the pupil is placed at Coaching Prompt from 10:03, and
        // the loader passes the later of the two times.
        let ahead = nov(3) + TimeDelta::minutes(3);
        let mut records = unsupported();
        records.changes = vec![change(1, Level::None, Level::Prompt, ahead)];
        records.stored.level = Level::Prompt.number();
        records.stored.level_since = ahead;
        records.prompts = vec![made(5, ahead)];
        assert_eq!(check_pupil(&records), vec![]);
    }

    #[test]
    fn plans_blocks_and_provisions_need_their_levels() {
        let mut records = on_programme();
        records.plans.push(made(21, nov(4) + TimeDelta::hours(1)));
        records.blocks.push(BlockRecord {
            id: 29,
            weeks: 2,
            running: false,
            created_at: nov(6) + TimeDelta::hours(3),
        });
        records.provisions.push(made(51, nov(8)));
        let found: Vec<String> = check_pupil(&records)
            .iter()
            .map(|d| d.to_string())
            .collect();
        assert_eq!(
            found,
            vec![
                "Coaching Plan version 21 was written at Coaching Conversation, below Coaching Plan",
                "programme block 29 was planned at Coaching Plan, not on a Coaching Programme",
                "provision 51 was mapped at Coaching Programme, not on a Bespoke Provision Map",
            ]
        );
    }

    #[test]
    fn running_blocks_are_the_current_block_one_at_a_time() {
        let mut records = on_programme();
        records.blocks[0].weeks = 4;
        records.blocks.push(BlockRecord {
            id: 31,
            weeks: 2,
            running: true,
            created_at: nov(8),
        });
        let found = check_pupil(&records);
        assert_eq!(
            found,
            vec![
                Disagreement::SeveralRunningBlocks {
                    block_ids: vec![30, 31]
                },
                Disagreement::RunningBlockNotCurrent {
                    block_id: 30,
                    weeks: 4,
                    current: 2
                },
            ]
        );
    }

    #[test]
    fn problems_are_reported_by_school_code_and_pupil_id() {
        let mut broken = on_programme();
        broken.stored.level = Level::Plan.number();
        let pupils = vec![unsupported(), broken];
        let school = SchoolConsistency {
            code: "NORTH".into(),
            pupils: pupils.len(),
            problems: check_pupils(&pupils),
        };
        let lines = school.lines();
        assert!(!lines.is_empty());
        assert!(
            lines
                .iter()
                .all(|l| l.starts_with("school NORTH pupil 8: ")),
            "{lines:?}"
        );
        assert_eq!(
            lines[0],
            "school NORTH pupil 8: the level is Coaching Plan but the level history ends at Coaching Programme"
        );
    }

    fn arb_event() -> impl proptest::strategy::Strategy<Value = Event> {
        use proptest::prelude::*;
        prop_oneof![
            Just(Event::Escalate),
            Just(Event::SeriousIncidentJump),
            Just(Event::StepDown),
            Just(Event::Close),
            any::<bool>().prop_map(|goals_met| Event::ProgrammeBlockReviewed { goals_met }),
            (
                (0usize..7),
                prop_oneof![Just(Role::Slt), Just(Role::PastoralLead)]
            )
                .prop_map(|(to, by)| Event::Override {
                    to: Level::ALL[to],
                    by,
                    reason: "agreed at panel".into(),
                }),
        ]
    }

    proptest::proptest! {
        /// Whatever moves the state machine allows, recorded as the service records them (one
        /// change per move, none for a review that changed nothing), agree when replayed.
        #[test]
        fn every_history_the_state_machine_allows_agrees(
            events in proptest::collection::vec(arb_event(), 0..40)
        ) {
            let mut records = unsupported();
            let mut state = PupilState::initial();
            for (n, event) in events.iter().enumerate() {
                let Ok(next) = apply(&state, event) else { continue };
                if next == state {
                    continue;
                }
                let at = nov(1) + TimeDelta::hours(n as i64);
                records.changes.push(RecordedChange {
                    id: n as i64 + 1,
                    from: state.level.number(),
                    to: next.level.number(),
                    at,
                    is_override: matches!(event, Event::Override { .. }),
                });
                if next.level != state.level {
                    records.stored.level_since = at;
                }
                state = next;
            }
            records.stored.level = state.level.number();
            records.stored.programme_block = state.programme_block.map(|b| b.weeks() as i16);
            records.stored.had_plan = state.had_plan;
            records.stored.programme_without_impact = state.programme_completed_without_impact;
            let found = check_pupil(&records);
            proptest::prop_assert!(found.is_empty(), "{:?} -> {:?}", records.changes, found);
        }
    }

    #[test]
    fn an_unknown_level_number_is_named() {
        let mut records = unsupported();
        records.changes = vec![change(1, Level::None, Level::Prompt, nov(3))];
        records.changes[0].to = 9;
        records.stored.level = 9;
        records.stored.level_since = nov(3);
        let found = check_pupil(&records);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(
            found[0].to_string(),
            "level change 1 from No support level to level number 9 is not a move the sequence \
             allows: level must be a number from 0 to 6, got 9"
        );
    }
}
