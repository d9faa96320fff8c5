//! The support levels of the Coaching Sequence and the blocks of a Coaching Programme.

use serde::{Deserialize, Serialize};

/// A pupil's place on the ladder of support: no level, or one of the six levels.
///
/// The discriminant is the level's number (0 to 6). Ordering follows the ladder,
/// so `Level::Prompt < Level::Provision`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    /// Not receiving support under the sequence.
    None = 0,
    /// Level 1: Coaching Prompt.
    Prompt = 1,
    /// Level 2: Coaching Conversation.
    Conversation = 2,
    /// Level 3: Coaching Time.
    Time = 3,
    /// Level 4: Coaching Plan.
    Plan = 4,
    /// Level 5: Coaching Programme.
    Programme = 5,
    /// Level 6: Bespoke Provision Map.
    Provision = 6,
}

/// Short descriptions of what a level involves, for display next to the level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct LevelFacts {
    /// How long the support takes.
    pub time: &'static str,
    /// When it happens.
    pub when: &'static str,
    /// Which adults take part.
    pub who: &'static str,
    /// What it is for.
    pub purpose: &'static str,
}

/// Why a level (or programme block) could not be read from a number or a name.
#[derive(thiserror::Error, Debug, Clone, PartialEq, Eq)]
pub enum LevelError {
    /// A level number outside 0..=6.
    #[error("level must be a number from 0 to 6, got {0}")]
    OutOfRange(i64),
    /// A level name that is not one of the seven names.
    #[error("unknown level name {0:?}: expected one of none, prompt, conversation, time, plan, programme, provision")]
    UnknownName(String),
    /// A programme block length other than 2, 4 or 6 weeks.
    #[error("a programme block lasts 2, 4 or 6 weeks, got {0}")]
    UnknownBlock(i64),
}

impl Level {
    /// Every level from the bottom of the ladder to the top.
    pub const ALL: [Level; 7] = [
        Level::None,
        Level::Prompt,
        Level::Conversation,
        Level::Time,
        Level::Plan,
        Level::Programme,
        Level::Provision,
    ];

    /// The level's number, 0 for no level up to 6.
    pub fn number(self) -> i16 {
        self as i16
    }

    /// The level with the given number (0 to 6).
    pub fn from_number(n: i64) -> Result<Level, LevelError> {
        Level::ALL
            .iter()
            .copied()
            .find(|level| i64::from(level.number()) == n)
            .ok_or(LevelError::OutOfRange(n))
    }

    /// The stable lower-case name used in storage, URLs and forms.
    pub fn name(self) -> &'static str {
        match self {
            Level::None => "none",
            Level::Prompt => "prompt",
            Level::Conversation => "conversation",
            Level::Time => "time",
            Level::Plan => "plan",
            Level::Programme => "programme",
            Level::Provision => "provision",
        }
    }

    /// The level with the given name; surrounding spaces and letter case are ignored.
    pub fn parse_name(s: &str) -> Result<Level, LevelError> {
        let wanted = s.trim();
        Level::ALL
            .iter()
            .copied()
            .find(|level| level.name().eq_ignore_ascii_case(wanted))
            .ok_or_else(|| LevelError::UnknownName(s.to_string()))
    }

    /// The level's display title, e.g. "Coaching Plan".
    pub fn title(self) -> &'static str {
        match self {
            Level::None => "No support level",
            Level::Prompt => "Coaching Prompt",
            Level::Conversation => "Coaching Conversation",
            Level::Time => "Coaching Time",
            Level::Plan => "Coaching Plan",
            Level::Programme => "Coaching Programme",
            Level::Provision => "Bespoke Provision Map",
        }
    }

    /// What the level involves: time taken, when, who and why.
    pub fn facts(self) -> LevelFacts {
        match self {
            Level::None => LevelFacts {
                time: "No time is set aside.",
                when: "Not applicable.",
                who: "No one is assigned.",
                purpose: "The pupil is not receiving support under the sequence at the moment.",
            },
            Level::Prompt => LevelFacts {
                time: "Less than a minute.",
                when: "On the spot, as it happens.",
                who: "Whichever adult is there at the time.",
                purpose: "A brief, kind reminder that steers the pupil back to what they should be doing, in a way that works for everyone involved.",
            },
            Level::Conversation => LevelFacts {
                time: "Five to ten minutes.",
                when: "Later, once things have settled; straight away only when everyone is calm.",
                who: "The adult who saw what happened.",
                purpose: "Agree with the pupil how they will handle a similar moment better next time.",
            },
            Level::Time => LevelFacts {
                time: "About half an hour (anywhere from 20 to 45 minutes).",
                when: "Booked in advance, at a calm moment away from the incident.",
                who: "The adult involved, together with the Head of Year or Head of Department.",
                purpose: "Look closely at strengths and barriers and help the pupil plan to do better, after a serious incident or when conversations have not helped.",
            },
            Level::Plan => LevelFacts {
                time: "Three quarters of an hour.",
                when: "Booked in advance.",
                who: "The Head of Year or Department, SEND or pastoral staff, and the parent or carer.",
                purpose: "Choose the goals that matter most, sketch a Pathway to Independence and agree the actions that will get there.",
            },
            Level::Programme => LevelFacts {
                time: "Sessions of 30 to 40 minutes, at least twice a week and ideally three times.",
                when: "Booked in advance, once the Coaching Plan meeting has taken place.",
                who: "A specialist practitioner in school; at home, a parent or carer, a coach or an outside professional.",
                purpose: "A stepped programme run in blocks (2 weeks, then 4 and 6 weeks if needed); the parent or carer joins the end of the last session.",
            },
            Level::Provision => LevelFacts {
                time: "A team meeting followed by a planning session.",
                when: "When the programme has not made enough difference.",
                who: "SLT, the SENDCO, the Head of Year or House and outside professionals; at home, parents or carers, a social worker and outside professionals.",
                purpose: "The team works out what is possible, then plans tailored provision in a session with the pupil and their family.",
            },
        }
    }

    /// The level one step up, or `None` at the top.
    pub fn next(self) -> Option<Level> {
        Level::ALL.get(self as usize + 1).copied()
    }

    /// The level one step down, or `None` when already at no level.
    pub fn previous(self) -> Option<Level> {
        (self as usize)
            .checked_sub(1)
            .and_then(|i| Level::ALL.get(i).copied())
    }

    /// Whether reaching this level calls for a pre-arranged meeting (levels 3, 4 and 6).
    pub fn needs_meeting(self) -> bool {
        matches!(self, Level::Time | Level::Plan | Level::Provision)
    }
}

impl std::fmt::Display for Level {
    /// Writes the level's title.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.title())
    }
}

/// The block a pupil is in while on a Coaching Programme: 2 weeks first, then 4, then 6.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProgrammeBlock {
    /// The first block, two weeks long.
    TwoWeek,
    /// The second block, four weeks long.
    FourWeek,
    /// The last block, six weeks long.
    SixWeek,
}

impl ProgrammeBlock {
    /// Every block in the order they are run.
    pub const ALL: [ProgrammeBlock; 3] = [
        ProgrammeBlock::TwoWeek,
        ProgrammeBlock::FourWeek,
        ProgrammeBlock::SixWeek,
    ];

    /// The block's length in weeks.
    pub fn weeks(self) -> u32 {
        match self {
            ProgrammeBlock::TwoWeek => 2,
            ProgrammeBlock::FourWeek => 4,
            ProgrammeBlock::SixWeek => 6,
        }
    }

    /// The block that follows when goals are not met, or `None` after the last block.
    pub fn next(self) -> Option<ProgrammeBlock> {
        match self {
            ProgrammeBlock::TwoWeek => Some(ProgrammeBlock::FourWeek),
            ProgrammeBlock::FourWeek => Some(ProgrammeBlock::SixWeek),
            ProgrammeBlock::SixWeek => None,
        }
    }

    /// Whether this is the final block of a programme.
    pub fn is_last(self) -> bool {
        self.next().is_none()
    }

    /// The block of the given length in weeks (2, 4 or 6).
    pub fn from_weeks(weeks: i64) -> Result<ProgrammeBlock, LevelError> {
        ProgrammeBlock::ALL
            .iter()
            .copied()
            .find(|block| i64::from(block.weeks()) == weeks)
            .ok_or(LevelError::UnknownBlock(weeks))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_round_trip() {
        for (i, level) in Level::ALL.iter().enumerate() {
            assert_eq!(level.number(), i as i16);
            assert_eq!(Level::from_number(i as i64), Ok(*level));
        }
    }

    #[test]
    fn out_of_range_number_is_explained() {
        let err = Level::from_number(9).unwrap_err();
        assert_eq!(err, LevelError::OutOfRange(9));
        assert_eq!(err.to_string(), "level must be a number from 0 to 6, got 9");
        assert!(Level::from_number(-1).is_err());
    }

    #[test]
    fn names_round_trip_and_ignore_case() {
        for level in Level::ALL {
            assert_eq!(Level::parse_name(level.name()), Ok(level));
        }
        assert_eq!(Level::parse_name(" Programme "), Ok(Level::Programme));
        assert_eq!(
            Level::parse_name("coaching"),
            Err(LevelError::UnknownName("coaching".into()))
        );
    }

    #[test]
    fn titles() {
        assert_eq!(Level::None.title(), "No support level");
        assert_eq!(Level::Prompt.title(), "Coaching Prompt");
        assert_eq!(Level::Provision.title(), "Bespoke Provision Map");
        assert_eq!(Level::Plan.to_string(), "Coaching Plan");
    }

    #[test]
    fn facts_are_filled_in() {
        for level in Level::ALL {
            let f = level.facts();
            for text in [f.time, f.when, f.who, f.purpose] {
                assert!(!text.is_empty(), "{level:?}");
            }
        }
    }

    #[test]
    fn next_and_previous() {
        assert_eq!(Level::None.previous(), None);
        assert_eq!(Level::None.next(), Some(Level::Prompt));
        assert_eq!(Level::Plan.next(), Some(Level::Programme));
        assert_eq!(Level::Plan.previous(), Some(Level::Time));
        assert_eq!(Level::Provision.next(), None);
        for level in Level::ALL {
            if let Some(n) = level.next() {
                assert_eq!(n.previous(), Some(level));
            }
        }
    }

    #[test]
    fn meetings() {
        let with: Vec<Level> = Level::ALL
            .into_iter()
            .filter(|l| l.needs_meeting())
            .collect();
        assert_eq!(with, vec![Level::Time, Level::Plan, Level::Provision]);
    }

    #[test]
    fn serde_uses_names() {
        assert_eq!(
            serde_json::to_string(&Level::Conversation).unwrap(),
            "\"conversation\""
        );
        assert_eq!(
            serde_json::from_str::<Level>("\"plan\"").unwrap(),
            Level::Plan
        );
    }

    #[test]
    fn programme_blocks() {
        assert_eq!(ProgrammeBlock::TwoWeek.weeks(), 2);
        assert_eq!(
            ProgrammeBlock::TwoWeek.next(),
            Some(ProgrammeBlock::FourWeek)
        );
        assert_eq!(
            ProgrammeBlock::FourWeek.next(),
            Some(ProgrammeBlock::SixWeek)
        );
        assert_eq!(ProgrammeBlock::SixWeek.next(), None);
        assert!(ProgrammeBlock::SixWeek.is_last());
        assert_eq!(ProgrammeBlock::from_weeks(4), Ok(ProgrammeBlock::FourWeek));
        let err = ProgrammeBlock::from_weeks(3).unwrap_err();
        assert_eq!(
            err.to_string(),
            "a programme block lasts 2, 4 or 6 weeks, got 3"
        );
    }
}
