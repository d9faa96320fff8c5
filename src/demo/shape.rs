//! The shape of a generated school: how its pupils spread over the three tiers of support and
//! how its incidents spread over its pupils. Pure, so the generator's tests and the demo's
//! summary measure a school the same way.
//!
//! The tiers: universal support (no level, or levels 1-2, what every adult gives in the
//! moment), targeted support (levels 3-4, a meeting with the Head of Year and a Coaching Plan)
//! and specialist support (levels 5-6, a programme with a specialist or a bespoke provision
//! map). A real school has about 80% of its pupils in the first, 15% in the second and 5% in
//! the third, and a small share of its pupils hold most of its incidents.

use crate::domain::Level;

/// How a school's pupils and incidents are spread.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SupportShape {
    /// Pupils on roll.
    pub pupils: usize,
    /// Shares of pupils (0 to 1) at no level or levels 1-2, at levels 3-4, at levels 5-6.
    pub tiers: [f64; 3],
    /// Incidents, counting an incident once for each pupil in it.
    pub incidents: usize,
    /// Share of pupils with no incident at all.
    pub without_incident: f64,
    /// Share of the incidents held by the tenth of the pupils with the most.
    pub top_tenth: f64,
    /// Share of the incidents held by the fiftieth (2%) of the pupils with the most.
    pub top_fiftieth: f64,
}

/// The tier of support a level belongs to: 0 universal, 1 targeted, 2 specialist.
pub fn tier(level: Level) -> usize {
    match level {
        Level::None | Level::Prompt | Level::Conversation => 0,
        Level::Time | Level::Plan => 1,
        Level::Programme | Level::Provision => 2,
    }
}

/// The shape of a school whose pupils are at `levels` and hold `incidents` incidents each
/// (the same order).
pub fn shape_of(levels: &[Level], incidents: &[usize]) -> SupportShape {
    let pupils = levels.len();
    let mut tiers = [0usize; 3];
    for &level in levels {
        tiers[tier(level)] += 1;
    }
    let share = |n: usize, of: usize| if of == 0 { 0.0 } else { n as f64 / of as f64 };
    let mut sorted = incidents.to_vec();
    sorted.sort_unstable_by(|a, b| b.cmp(a));
    let total: usize = sorted.iter().sum();
    let top = |parts: usize| {
        let n = sorted.len().div_ceil(parts);
        share(sorted.iter().take(n).sum(), total)
    };
    SupportShape {
        pupils,
        tiers: tiers.map(|n| share(n, pupils)),
        incidents: total,
        without_incident: share(sorted.iter().filter(|&&n| n == 0).count(), sorted.len()),
        top_tenth: top(10),
        top_fiftieth: top(50),
    }
}

impl SupportShape {
    /// The shape in words, for the demo's summary: "tiers 80/15/5%, top 10% of pupils hold
    /// 60% of incidents (top 2%: 25%), 30% have none".
    pub fn describe(&self) -> String {
        let pc = |x: f64| (x * 100.0).round() as i64;
        format!(
            "tiers {}/{}/{}%, top 10% of pupils hold {}% of incidents (top 2%: {}%), {}% have none",
            pc(self.tiers[0]),
            pc(self.tiers[1]),
            pc(self.tiers[2]),
            pc(self.top_tenth),
            pc(self.top_fiftieth),
            pc(self.without_incident),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiers_group_the_six_levels_in_twos() {
        let tiers: Vec<usize> = [
            Level::None,
            Level::Prompt,
            Level::Conversation,
            Level::Time,
            Level::Plan,
            Level::Programme,
            Level::Provision,
        ]
        .into_iter()
        .map(tier)
        .collect();
        assert_eq!(tiers, [0, 0, 0, 1, 1, 2, 2]);
    }

    #[test]
    fn shares_of_pupils_and_of_incidents() {
        let mut levels = vec![Level::None; 16];
        levels.extend([Level::Time, Level::Plan, Level::Conversation]);
        levels.push(Level::Provision);
        // Twenty pupils: two hold 60 of the 100 incidents, ten have none.
        let mut incidents = vec![0; 10];
        incidents.extend([30, 30, 5, 5, 5, 5, 5, 5, 5, 5]);
        let shape = shape_of(&levels, &incidents);
        assert_eq!(shape.pupils, 20);
        assert_eq!(shape.tiers, [0.85, 0.10, 0.05]);
        assert_eq!(shape.incidents, 100);
        assert_eq!(shape.without_incident, 0.5);
        assert_eq!(shape.top_tenth, 0.6);
        assert_eq!(shape.top_fiftieth, 0.3);
        assert_eq!(
            shape.describe(),
            "tiers 85/10/5%, top 10% of pupils hold 60% of incidents (top 2%: 30%), 50% have none"
        );
    }

    #[test]
    fn an_empty_school_has_no_shares() {
        let shape = shape_of(&[], &[]);
        assert_eq!(shape.tiers, [0.0; 3]);
        assert_eq!(shape.top_tenth, 0.0);
    }
}
